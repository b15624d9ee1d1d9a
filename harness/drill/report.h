/* Reports over the practice history:
 *
 *  - the Markdown portfolio of the day-30 plan: what was built, which
 *    failures were simulated, how each was debugged (from the results'
 *    events and root-cause notes), three interview stories (DNS,
 *    OOM/CrashLoop, certificate rotation) drafted from the best attempt of
 *    each kind — or saying plainly there is none yet — the gaps list,
 *    self-assessments and mock interviews;
 *  - one self-contained HTML page with inline SVG charts (score over time
 *    per skill, time against par, hints used) and the same tables: no
 *    script, no external resource, a Content-Security-Policy that forbids
 *    fetching any, so it renders the same offline;
 *  - the Markdown of one mock interview (chaoslab mock prints it).
 *
 * Generators write to a FILE * the caller owns; report_save() turns one into
 * a crash-safe file. Only counted attempts (history.h) are charted or make
 * stories; autopilot runs are listed as such. */
#ifndef CHAOSLAB_REPORT_H
#define CHAOSLAB_REPORT_H

#include <stdio.h>
#include <time.h>

#include "drill/gaps.h"

struct report_input {
	const struct history *h;
	const struct catalog *c;
	const struct gaps *g;
	const char *results_dir;  /* named in the text */
	time_t now;
};

/* The Markdown portfolio. Returns 0, or -1 when out fails. */
int report_markdown(FILE *out, const struct report_input *in);

/* The HTML page. Returns 0, or -1 when out fails. */
int report_html(FILE *out, const struct report_input *in);

/* The Markdown of one mock interview document (kind "mock"). */
int report_mock_markdown(FILE *out, const cJSON *mock);

/* A generator: writes to out, 0 or -1. */
typedef int (*report_render_fn)(FILE *out, const void *arg);

/* Run fn into memory, then write it to path crash-safely
 * (results_write_text). -1 with err set when rendering or writing fails. */
int report_save(const char *path, report_render_fn fn, const void *arg, struct cl_error *err);

#endif
