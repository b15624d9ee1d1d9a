#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "drill/prom.h"
#include "drill/report.h"

static const char report_usage[] =
	"chaoslab report [--md FILE] [--html FILE] [--prom FILE] [--results DIR]";

static void report_help(void)
{
	printf("usage: %s\n\n"
	       "Reports over your results history.\n\n"
	       "  --md FILE      the Markdown portfolio: what was built, which failures were\n"
	       "                 simulated, how each was debugged, three interview stories\n"
	       "                 (DNS, OOM/CrashLoop, cert rotation) drafted from your best\n"
	       "                 drills of each kind, the gaps list, self-assessments, mock\n"
	       "                 interviews ('-': standard output; the default when no other\n"
	       "                 output is asked for)\n"
	       "  --html FILE    one self-contained HTML page with inline SVG charts (score\n"
	       "                 over time per skill, time against par, hints used): no\n"
	       "                 script, nothing fetched, opens offline\n"
	       "  --prom FILE    the latest scores in Prometheus textfile format\n"
	       "                 (chaoslab_drill_score{scenario,skill}, chaoslab_skill_weakness,\n"
	       "                 ...), for node_exporter's textfile collector\n"
	       "  --results DIR  the history ($CHAOSLAB_RESULTS, ./results)\n\n"
	       "Files are written crash-safely (temp file, fsync, rename). Autopilot runs\n"
	       "and runs whose fault never landed are listed but not counted.\n",
	       report_usage);
}

static int render_md(FILE *out, const void *arg)
{
	return report_markdown(out, arg);
}

static int render_html(FILE *out, const void *arg)
{
	return report_html(out, arg);
}

static int render_prom(FILE *out, const void *arg)
{
	const struct report_input *in = arg;
	return prom_write(out, in->h, in->g, in->now);
}

/* Write one output: "-" is standard output, else a file. */
static int emit(const char *path, report_render_fn fn, const struct report_input *in,
		struct cl_error *err)
{
	if (!strcmp(path, "-")) {
		if (fn(stdout, in) || fflush(stdout))
			return cl_error_set(err, CL_EXIT_USAGE, "unable to write to standard output");
		return 0;
	}
	if (report_save(path, fn, in, err))
		return -1;
	fprintf(stderr, "wrote %s\n", path);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	const char *md = NULL, *html = NULL, *prom = NULL, *dir = NULL;
	struct practice p;
	struct report_input in;
	struct cl_error err;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = !strcmp(a, "--md")	     ? &md
				    : !strcmp(a, "--html")   ? &html
				    : !strcmp(a, "--prom")   ? &prom
				    : !strcmp(a, "--results") ? &dir
							      : NULL;
		if (cli_is_help(a)) {
			report_help();
			return 0;
		} else if (slot) {
			if (i + 1 >= argc || !argv[i + 1][0])
				return cli_usage(report_usage, "report: %s needs a value", a);
			*slot = argv[++i];
		} else if (!strncmp(a, "--results=", 10)) {
			dir = a + 10;
		} else {
			return cli_usage(report_usage, "report: unknown argument '%s'", a);
		}
	}
	if (!md && !html && !prom)
		md = "-";
	cl_error_clear(&err);
	dir = results_dir(dir);
	if (practice_load(&p, dir, true, time(NULL), stderr, &err))
		return cli_fail(&err);
	in = (struct report_input){ &p.history, &p.catalog, &p.gaps, dir, p.gaps.now };
	if ((md && emit(md, render_md, &in, &err)) || (html && emit(html, render_html, &in, &err)) ||
	    (prom && emit(prom, render_prom, &in, &err)))
		rc = cli_fail(&err);
	practice_release(&p);
	return rc;
}
