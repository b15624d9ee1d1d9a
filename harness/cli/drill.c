#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/scenario.h"
#include "drill/engine.h"

static const char drill_usage[] =
	"chaoslab drill [--autopilot[=SECONDS]] [--no-ask] [--plain] [--set ID.PARAM=VALUE]...\n"
	"                      [--results DIR] ID|FILE";

static void drill_help(void)
{
	printf("usage: %s\n\n"
	       "Run one timed break/fix drill: check this machine can run it, inject the\n"
	       "fault (journaled), confirm the symptom, start the clock and show the\n"
	       "briefing, watch for the fix (and for collateral damage), revert\n"
	       "everything, score, ask for your confidence and root cause, record.\n\n"
	       "  --autopilot[=S]  run the scenario's reference solution S seconds (default 5)\n"
	       "                   after the clock starts: the demo and the end-to-end tests\n"
	       "  --no-ask         skip the confidence / root-cause questions\n"
	       "  --plain          plain lines instead of the live block (default off a TTY)\n"
	       "  --set ID.P=V     override parameter P of inject step ID (validated)\n"
	       "  --results DIR    where the result JSON goes ($CHAOSLAB_RESULTS, ./results)\n\n"
	       "From another terminal: chaoslab status | chaoslab hint | chaoslab giveup.\n"
	       "Ctrl-C reverts and ends the drill (outcome aborted).\n"
	       "Exit: 0 fixed, 1 not fixed (gave up, timed out, aborted), 2 usage or scenario\n"
	       "error, 3 missing privilege or kernel feature, 4 the injection did not produce\n"
	       "the symptom, 5 revert failed (run chaoslab recover).\n",
	       drill_usage);
}

int cli_drill_option(int argc, char **argv, int *i, struct drill_opts *o, bool *plain,
		     const char *cmd, const char *usage)
{
	const char *a = argv[*i];

	if (!strcmp(a, "--autopilot")) {
		o->autopilot_delay = 5;
	} else if (!strncmp(a, "--autopilot=", 12)) {
		char *end;
		o->autopilot_delay = strtod(a + 12, &end);
		if (*end || end == a + 12 || o->autopilot_delay < 0 || o->autopilot_delay > 3600) {
			cli_usage(usage, "%s: --autopilot takes seconds 0..3600, got '%s'", cmd, a + 12);
			return -1;
		}
	} else if (!strcmp(a, "--no-ask")) {
		o->no_ask = true;
	} else if (!strcmp(a, "--plain")) {
		*plain = true;
	} else if (!strcmp(a, "--results")) {
		if (*i + 1 >= argc) {
			cli_usage(usage, "%s: %s needs a value", cmd, a);
			return -1;
		}
		o->results_dir = argv[++*i];
	} else if (!strncmp(a, "--results=", 10)) {
		o->results_dir = a + 10;
	} else {
		return 0;
	}
	return 1;
}

int cmd_drill(int argc, char **argv)
{
	struct drill_opts o = { .autopilot_delay = -1, .out = stdout };
	const char *name = NULL;
	const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	size_t nsets = 0;
	bool plain = false;
	char path[1024];
	struct cl_error err;
	struct drill_outcome res;
	struct scenario *s = NULL;
	int rc, taken;

	if (!sets)
		return CL_EXIT_USAGE;
	cl_error_clear(&err);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			drill_help();
			free(sets);
			return 0;
		} else if ((taken = cli_drill_option(argc, argv, &i, &o, &plain, "drill",
						     drill_usage))) {
			if (taken < 0) {
				free(sets);
				return CL_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--set")) {
			if (i + 1 >= argc) {
				free(sets);
				return cli_usage(drill_usage, "drill: %s needs a value", a);
			}
			sets[nsets++] = argv[++i];
		} else if (!strncmp(a, "--set=", 6)) {
			sets[nsets++] = a + 6;
		} else if (a[0] == '-') {
			free(sets);
			return cli_usage(drill_usage, "drill: unknown option '%s'", a);
		} else if (name) {
			free(sets);
			return cli_usage(drill_usage, "drill: one drill at a time ('%s' and '%s')", name, a);
		} else {
			name = a;
		}
	}
	if (!name) {
		free(sets);
		return cli_usage(drill_usage, "drill: which drill? ('chaoslab list' shows them)");
	}
	if (scenario_resolve(name, path, sizeof(path), &err) ||
	    !(s = scenario_load(path, &err))) {
		free(sets);
		return cli_fail(&err);
	}
	for (size_t i = 0; i < nsets; i++) {
		if (scenario_apply_set(s, sets[i], &err)) {
			scenario_free(s);
			free(sets);
			return cli_fail(&err);
		}
	}
	o.sets = sets;
	o.nsets = nsets;
	o.live = !plain && isatty(STDOUT_FILENO);
	o.color = cli_color();
	rc = drill_run(s, &o, &res, &err);
	if (rc && err.msg[0])
		cli_fail(&err);
	scenario_free(s);
	free(sets);
	return res.exit_code;
}
