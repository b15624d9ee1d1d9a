#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/doc.h"
#include "drill/engine.h"
#include "drill/gaps.h"
#include "drill/postmortem.h"
#include "drill/report.h"

#define MOCK_BUDGET_MINUTES 90 /* the day-29 plan: 3 x 30 min of scenarios */
#define MOCK_MIN_SLOT 30       /* seconds: less than this left, a drill is skipped */

static const char mock_usage[] = "chaoslab mock [--budget MINUTES] [--dry-run] "
				 "[--autopilot[=SECONDS]] [--no-ask] [--plain] [--results DIR]";

static void mock_help(void)
{
	printf("usage: %s\n\n"
	       "The day-29 mock interview: one timed drill per domain, Linux, then network,\n"
	       "then Kubernetes (where a Kubernetes drill runs here), each the next drill of\n"
	       "your weakest skill in that domain (a drill's domain is its first skill's),\n"
	       "all within one total budget. Each drill's\n"
	       "time limit is capped by what is left of the budget; a drill with less than\n"
	       "%d s left is skipped. The drills are recorded as usual, and the mock as one\n"
	       "combined result (its score: the mean over the domains that could run here,\n"
	       "a domain skipped for lack of time counting 0), reported at the end.\n\n"
	       "  --budget MIN     the total budget in minutes (default %d)\n"
	       "  --dry-run        show the plan; run nothing, record nothing\n"
	       "  --autopilot[=S]  run each drill's reference solution after S seconds\n"
	       "  --no-ask         skip the confidence / root-cause questions\n"
	       "  --plain          plain lines instead of the live block\n"
	       "  --results DIR    the history and where results go ($CHAOSLAB_RESULTS,\n"
	       "                   ./results)\n\n"
	       "Ctrl-C ends the drill running (reverted, outcome aborted) and the mock.\n"
	       "Exit: 0 every drill fixed, 1 not all fixed or one skipped for time, 3 none\n"
	       "could run here, 5 a revert failed (run chaoslab recover).\n",
	       mock_usage, MOCK_MIN_SLOT, MOCK_BUDGET_MINUTES);
}

static const char *const domains[] = { "linux", "net", "k8s" };
#define NDOMAINS (sizeof(domains) / sizeof(domains[0]))

struct slot {
	const char *domain;
	struct gaps_pick pick;
	bool planned;
	bool scores_zero;     /* skipped for the budget or a stop: counts 0 */
	char reason[512];     /* why not planned, or skipped */
	/* once run */
	bool ran;
	char run_id[160];
	const char *outcome;
	int score;
	int limit;            /* the time limit given */
	double elapsed;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Why no drill of a domain can run: the first catalog drill of it says. */
static void why_none(const struct catalog *c, const char *domain, char *buf, size_t size)
{
	for (size_t i = 0; i < c->count; i++) {
		const struct catalog_drill *d = &c->items[i];
		char dom[64];
		if (!d->skills.n)
			continue;
		gaps_skill_domain(d->skills.v[0], dom, sizeof(dom));
		if (strcmp(dom, domain))
			continue;
		snprintf(buf, size, "no %s drill runs here (%s: %s)", domain, d->id,
			 d->supported ? "already in this mock" : d->why);
		return;
	}
	snprintf(buf, size, "no %s drill in the catalog", domain);
}

static void plan(struct slot *slots, const struct practice *p)
{
	const char *chosen[NDOMAINS];
	size_t nchosen = 0;

	for (size_t i = 0; i < NDOMAINS; i++) {
		struct slot *sl = &slots[i];
		sl->domain = domains[i];
		if (gaps_pick(&p->gaps, &p->catalog, domains[i], chosen, nchosen, &sl->pick)) {
			why_none(&p->catalog, domains[i], sl->reason, sizeof(sl->reason));
			continue;
		}
		sl->planned = true;
		chosen[nchosen++] = sl->pick.drill->id;
	}
}

static cJSON *mock_doc(const struct slot *slots, const char *id, const char *started,
		       double budget, double used, bool autopilot)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	time_t now = time(NULL);
	struct tm tm;
	char ended[32];
	double sum = 0;
	int n = 0;

	gmtime_r(&now, &tm);
	strftime(ended, sizeof(ended), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddNumberToObject(o, "schema", RESULTS_SCHEMA);
	cJSON_AddStringToObject(o, "kind", RESULTS_KIND_MOCK);
	cJSON_AddStringToObject(o, "run_id", id);
	cJSON_AddStringToObject(o, "chaoslab_version", CHAOSLAB_VERSION);
	cJSON_AddStringToObject(o, "started_at", started);
	cJSON_AddStringToObject(o, "ended_at", ended);
	cJSON_AddNumberToObject(o, "budget_seconds", budget);
	cJSON_AddNumberToObject(o, "used_seconds", round(used * 10) / 10);
	cJSON_AddBoolToObject(o, "autopilot", autopilot);
	arr = cJSON_AddArrayToObject(o, "drills");
	for (size_t i = 0; i < NDOMAINS; i++) {
		const struct slot *sl = &slots[i];
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "domain", sl->domain);
		cJSON_AddStringToObject(d, "status", sl->ran ? "run" : "skipped");
		if (sl->planned) {
			cJSON_AddStringToObject(d, "scenario", sl->pick.drill->id);
			cJSON_AddStringToObject(d, "title", sl->pick.drill->title);
			cJSON_AddStringToObject(d, "skill", sl->pick.gap->skill);
			cJSON_AddNumberToObject(d, "par_seconds", sl->pick.drill->par_seconds);
		}
		if (sl->ran) {
			if (sl->run_id[0])
				cJSON_AddStringToObject(d, "run_id", sl->run_id);
			cJSON_AddStringToObject(d, "outcome", sl->outcome);
			if (sl->score >= 0) {
				cJSON_AddNumberToObject(d, "score", sl->score);
				sum += sl->score;
				n++;
			} else {
				cJSON_AddNullToObject(d, "score");
			}
			cJSON_AddNumberToObject(d, "time_limit_seconds", sl->limit);
			if (sl->elapsed >= 0)
				cJSON_AddNumberToObject(d, "elapsed_seconds",
							round(sl->elapsed * 10) / 10);
		} else {
			cJSON_AddStringToObject(d, "reason", sl->reason);
			/* Out of time (or stopping) is the engineer's to own: it
			 * scores 0. A domain this machine cannot run is not. */
			if (sl->scores_zero) {
				cJSON_AddNumberToObject(d, "score", 0);
				n++;
			}
		}
		cJSON_AddItemToArray(arr, d);
	}
	if (n)
		cJSON_AddNumberToObject(o, "score", round(sum / n));
	else
		cJSON_AddNullToObject(o, "score");
	return o;
}

/* The elapsed seconds a drill result recorded, or -1. */
static double result_elapsed(const char *path)
{
	struct cl_error e;
	size_t len;
	char *text;
	cJSON *doc, *v;
	double out = -1;

	if (!path[0] || !(text = doc_read_file(path, &len, &e)))
		return -1;
	doc = cJSON_ParseWithLength(text, len);
	free(text);
	v = cJSON_GetObjectItemCaseSensitive(doc, "time_to_fix_seconds");
	if (!cJSON_IsNumber(v))
		v = cJSON_GetObjectItemCaseSensitive(doc, "elapsed_seconds");
	if (cJSON_IsNumber(v))
		out = v->valuedouble;
	cJSON_Delete(doc);
	return out;
}

static void print_plan(const struct slot *slots, double budget)
{
	printf("mock interview: budget %.0f min, one drill per domain\n", budget / 60);
	for (size_t i = 0; i < NDOMAINS; i++) {
		const struct slot *sl = &slots[i];
		if (sl->planned)
			printf("  %-5s %s — %s (par %d s, limit %d s)\n        why: %s\n", sl->domain,
			       sl->pick.drill->id, sl->pick.drill->title, sl->pick.drill->par_seconds,
			       sl->pick.drill->time_limit_seconds, sl->pick.reason);
		else
			printf("  %-5s skipped: %s\n", sl->domain, sl->reason);
	}
}

int cmd_mock(int argc, char **argv)
{
	struct drill_opts o = { .autopilot_delay = -1, .out = stdout };
	bool dry = false, plain = false, stop = false, revert_failed = false, all_fixed = true;
	double budget = MOCK_BUDGET_MINUTES * 60, t0, used;
	struct slot slots[NDOMAINS];
	struct practice p;
	struct cl_error err;
	char id[160], started[32], path[1024];
	const char *dir;
	size_t planned = 0;
	cJSON *doc;
	int rc = 0, taken;

	memset(slots, 0, sizeof(slots));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			mock_help();
			return 0;
		} else if ((taken = cli_drill_option(argc, argv, &i, &o, &plain, "mock",
						     mock_usage))) {
			if (taken < 0)
				return CL_EXIT_USAGE;
		} else if (!strcmp(a, "--dry-run")) {
			dry = true;
		} else if (!strcmp(a, "--budget") || !strncmp(a, "--budget=", 9)) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			double m = v ? strtod(v, &end) : 0;
			if (!v || end == v || *end || !(m >= 1 && m <= 600))
				return cli_usage(mock_usage, "mock: --budget takes minutes 1..600, got "
							     "'%s'",
						 v ? v : "");
			budget = m * 60;
		} else {
			return cli_usage(mock_usage, "mock: unknown argument '%s'", a);
		}
	}
	cl_error_clear(&err);
	dir = results_dir(o.results_dir);
	o.results_dir = dir;
	if (practice_load(&p, dir, true, time(NULL), stderr, &err))
		return cli_fail(&err);
	plan(slots, &p);
	print_plan(slots, budget);
	for (size_t i = 0; i < NDOMAINS; i++)
		planned += slots[i].planned;
	if (!planned) {
		fprintf(stderr, "chaoslab: no drill of any domain runs on this machine\n");
		rc = CL_EXIT_PRIVILEGE;
		goto out;
	}
	if (dry) {
		printf("(--dry-run: nothing run, nothing recorded)\n");
		goto out;
	}
	o.live = !plain && isatty(STDOUT_FILENO);
	o.color = cli_color();
	results_new_id("mock", time(NULL), id, sizeof(id), started, sizeof(started));
	t0 = mono();
	for (size_t i = 0; i < NDOMAINS; i++) {
		struct slot *sl = &slots[i];
		double left = budget - (mono() - t0);
		struct drill_outcome res;
		struct scenario *s;
		char c1[16], c2[16];

		if (!sl->planned)
			continue;
		if (stop) {
			snprintf(sl->reason, sizeof(sl->reason), "the mock was stopped");
			sl->scores_zero = true;
			all_fixed = false;
			continue;
		}
		if (left < MOCK_MIN_SLOT) {
			snprintf(sl->reason, sizeof(sl->reason),
				 "budget spent (%.0f s left, a drill needs %d)", fmax(0, left),
				 MOCK_MIN_SLOT);
			sl->scores_zero = true;
			all_fixed = false;
			continue;
		}
		if (!(s = scenario_load(sl->pick.drill->file, &err))) {
			char m[1536];
			snprintf(sl->reason, sizeof(sl->reason), "%s",
				 cl_error_format(&err, m, sizeof(m)));
			all_fixed = false;
			continue;
		}
		if (s->time_limit_seconds > (int)left)
			s->time_limit_seconds = (int)left;
		sl->limit = s->time_limit_seconds;
		printf("\n== mock %zu/%zu, %s: %s (time limit %s, budget left %s) ==\n", i + 1,
		       NDOMAINS, sl->domain, s->id,
		       postmortem_clock(sl->limit, c1, sizeof(c1)),
		       postmortem_clock(left, c2, sizeof(c2)));
		fflush(stdout);
		cl_error_clear(&err);
		if (drill_run(s, &o, &res, &err) && err.msg[0])
			cli_fail(&err);
		scenario_free(s);
		sl->ran = true;
		sl->outcome = res.outcome;
		sl->score = res.score;
		if (res.result_path[0]) {
			const char *base = strrchr(res.result_path, '/');
			snprintf(sl->run_id, sizeof(sl->run_id), "%s", base ? base + 1 : res.result_path);
			sl->run_id[strlen(sl->run_id) > 5 ? strlen(sl->run_id) - 5 : 0] = '\0';
		}
		sl->elapsed = result_elapsed(res.result_path);
		all_fixed = all_fixed && !strcmp(res.outcome, "fixed");
		if (res.exit_code == CL_EXIT_REVERT)
			revert_failed = true;
		/* Ctrl-C, or a machine that needs recovering: no further drill. */
		stop = revert_failed || !strcmp(res.outcome, "aborted");
	}
	used = mono() - t0;
	doc = mock_doc(slots, id, started, budget, used, o.autopilot_delay >= 0);
	printf("\n");
	if (!doc || results_write(dir, id, doc, path, sizeof(path), &err)) {
		if (!doc)
			cl_error_set(&err, CL_EXIT_USAGE, "out of memory");
		rc = cli_fail(&err);
	} else {
		report_mock_markdown(stdout, doc);
		printf("result: %s\n", path);
		rc = revert_failed ? CL_EXIT_REVERT : all_fixed ? CL_EXIT_OK : CL_EXIT_NOT_FIXED;
	}
	cJSON_Delete(doc);
out:
	practice_release(&p);
	return rc;
}
