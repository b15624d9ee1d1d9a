#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "drill/postmortem.h"
#include "drill/report.h"

static const char postmortem_usage[] = "chaoslab postmortem RUN_ID [--out FILE] [--results DIR]";

static void postmortem_help(void)
{
	printf("usage: %s\n\n"
	       "A postmortem draft (Markdown) for one drill run: summary, impact (what was\n"
	       "reported, how long it was broken, collateral damage), the timeline from the\n"
	       "result's events, the root cause you noted next to the runbook's, the fix,\n"
	       "prevention (the runbook's Prevention section) and what to practise.\n\n"
	       "  RUN_ID         a run id from the results, or a unique prefix of one\n"
	       "  --out FILE     write it to FILE (crash-safely) instead of standard output\n"
	       "  --results DIR  the history ($CHAOSLAB_RESULTS, ./results)\n",
	       postmortem_usage);
}

struct pm_arg {
	const struct attempt *a;
	const struct catalog_drill *d;
};

static int render(FILE *out, const void *arg)
{
	const struct pm_arg *p = arg;
	return postmortem_write(out, p->a, p->d);
}

/* Why run_id names no drill run: another kind, ambiguous, or unknown. */
static int not_found(const struct history *h, const char *run_id)
{
	const struct result_entry *e = results_find(&h->list, run_id);
	int n = 0;

	if (e) {
		fprintf(stderr, "chaoslab: '%s' is not a drill run: its kind is %s\n", run_id,
			results_kind(e->doc));
		return CL_EXIT_USAGE;
	}
	for (size_t i = 0; i < h->nattempts; i++)
		if (!strncmp(h->attempts[i].run_id, run_id, strlen(run_id)))
			n++;
	if (n > 1) {
		fprintf(stderr, "chaoslab: '%s' matches %d runs; give more of the id:\n", run_id, n);
		for (size_t i = 0; i < h->nattempts; i++)
			if (!strncmp(h->attempts[i].run_id, run_id, strlen(run_id)))
				fprintf(stderr, "  %s\n", h->attempts[i].run_id);
		return CL_EXIT_USAGE;
	}
	fprintf(stderr, "chaoslab: no drill run '%s' in the results", run_id);
	if (h->nattempts)
		fprintf(stderr, " (the latest is %s)", h->attempts[h->nattempts - 1].run_id);
	fprintf(stderr, "\n");
	return CL_EXIT_USAGE;
}

int cmd_postmortem(int argc, char **argv)
{
	const char *run_id = NULL, *outfile = NULL, *dir = NULL;
	struct history h;
	struct catalog c = { 0 };
	struct cl_error err;
	struct pm_arg arg;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			postmortem_help();
			return 0;
		} else if (!strcmp(a, "--out") || !strcmp(a, "--results")) {
			if (i + 1 >= argc || !argv[i + 1][0])
				return cli_usage(postmortem_usage, "postmortem: %s needs a value", a);
			if (a[2] == 'o')
				outfile = argv[++i];
			else
				dir = argv[++i];
		} else if (!strncmp(a, "--out=", 6)) {
			outfile = a + 6;
		} else if (!strncmp(a, "--results=", 10)) {
			dir = a + 10;
		} else if (a[0] == '-') {
			return cli_usage(postmortem_usage, "postmortem: unknown option '%s'", a);
		} else if (run_id) {
			return cli_usage(postmortem_usage, "postmortem: one run at a time ('%s' and '%s')",
					 run_id, a);
		} else {
			run_id = a;
		}
	}
	if (!run_id)
		return cli_usage(postmortem_usage, "postmortem: which run? (the ids are the result "
						   "file names; chaoslab report lists them)");
	cl_error_clear(&err);
	if (history_load(results_dir(dir), &h, history_warn_skipped, stderr, &err))
		return cli_fail(&err);
	arg.a = history_find_attempt(&h, run_id);
	if (!arg.a) {
		rc = not_found(&h, run_id);
		goto out;
	}
	/* The catalog gives the briefing, hints and runbook; a run of a drill no
	 * longer in it still gets its draft. */
	if (catalog_load(&c, false, NULL, NULL, &err))
		memset(&c, 0, sizeof(c));
	arg.d = catalog_find(&c, arg.a->scenario);
	if (outfile && strcmp(outfile, "-")) {
		if (report_save(outfile, render, &arg, &err))
			rc = cli_fail(&err);
		else
			fprintf(stderr, "wrote %s\n", outfile);
	} else if (render(stdout, &arg) || fflush(stdout)) {
		fprintf(stderr, "chaoslab: unable to write to standard output\n");
		rc = CL_EXIT_USAGE;
	}
out:
	catalog_release(&c);
	history_release(&h);
	return rc;
}
