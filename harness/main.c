/* chaoslab: break your own machine on purpose, time the fix, score it.
 *
 * The command table below is the whole CLI: { name, function, summary }.
 * Setup common to all commands is done once here. When the binary is
 * re-executed as an injector's worker (CHAOSLAB_WORKER set), it never reaches
 * the table: see sys/worker.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sys/worker.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "drill", cmd_drill, "run one timed break/fix drill" },
	{ "status", cmd_status, "the running drill: clock, criteria, hints left" },
	{ "hint", cmd_hint, "take the running drill's next hint (costs points)" },
	{ "giveup", cmd_giveup, "give up the running drill: revert and score" },
	{ "list", cmd_list, "list the drill catalog and whether each runs here" },
	{ "show", cmd_show, "show one drill, or an injector's or verifier's parameters" },
	{ "validate", cmd_validate, "check scenario files; exit 0 when all are valid, 2 if not" },
	{ "doctor", cmd_doctor, "check privileges, kernel features and tools" },
	{ "recover", cmd_recover, "undo whatever a dead run left behind (from its journal)" },
	{ "lab", cmd_lab, "the lab network by hand: up, down, status, shell" },
	{ "daily", cmd_daily, "today's drill, picked from your gaps list" },
	{ "mock", cmd_mock, "the day-29 mock interview: linux, network, k8s in one budget" },
	{ "gaps", cmd_gaps, "your five weakest skills, with evidence and the drill to do next" },
	{ "report", cmd_report, "portfolio (Markdown), charts (HTML), scores (Prometheus textfile)" },
	{ "postmortem", cmd_postmortem, "a postmortem draft for one drill run" },
	{ "assess", cmd_assess, "grade yourself on a skill's or a day's quiz prompts" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: chaoslab [--version] [--help] <command> [<args>]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "\n'chaoslab <command> --help' describes a command; man chaoslab has the rest.\n"
		     "exit codes: 0 fixed/ok, 1 not fixed, 2 usage or scenario error, 3 missing "
		     "privilege or kernel feature,\n            4 injection did not produce the "
		     "symptom, 5 revert failed (run chaoslab recover)\n");
}

int main(int argc, char **argv)
{
	if (getenv("CHAOSLAB_WORKER"))
		return worker_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("chaoslab %s\n", CHAOSLAB_VERSION);
		return 0;
	}
	if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->fn(argc - 1, argv + 1);

	const char *names[64];
	size_t n = 0;
	for (const struct command *c = commands; c->name && n < 63; c++)
		names[n++] = c->name;
	names[n] = NULL;
	const char *dym = cl_did_you_mean(argv[1], names, n);
	if (dym)
		fprintf(stderr, "chaoslab: '%s' is not a command (did you mean '%s'?)\n", argv[1], dym);
	else
		fprintf(stderr, "chaoslab: '%s' is not a command; see 'chaoslab --help'\n", argv[1]);
	return 2;
}
