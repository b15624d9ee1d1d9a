#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drill/engine.h"
#include "drill/gaps.h"

static const char daily_usage[] =
	"chaoslab daily [--dry-run] [--autopilot[=SECONDS]] [--no-ask] [--plain] [--results DIR]";

static void daily_help(void)
{
	printf("usage: %s\n\n"
	       "Today's timed drill, picked from your gaps list: the weakest skill's next\n"
	       "drill that runs on this machine, never the drill of yesterday's daily (each\n"
	       "daily is recorded in the results directory, before it runs; days are local).\n"
	       "Then it runs like chaoslab drill.\n\n"
	       "  --dry-run        say which drill and why; run nothing, record nothing\n"
	       "  --autopilot[=S]  run the drill's reference solution after S seconds\n"
	       "  --no-ask         skip the confidence / root-cause questions\n"
	       "  --plain          plain lines instead of the live block\n"
	       "  --results DIR    the history and where results go ($CHAOSLAB_RESULTS,\n"
	       "                   ./results)\n\n"
	       "A reminder every morning: see docs/growth.md (a systemd user timer).\n"
	       "Exit: as chaoslab drill; 3 when no drill can run here.\n",
	       daily_usage);
}

/* The latest daily of the day before (two days running is what a daily
 * never repeats), or NULL. */
static const struct daily *previous_daily(const struct history *h, const char *yesterday)
{
	for (size_t i = h->ndailies; i-- > 0;)
		if (h->dailies[i].date && !strcmp(h->dailies[i].date, yesterday))
			return &h->dailies[i];
	return NULL;
}

static cJSON *daily_doc(const char *id, const char *started, const char *today,
			const struct gaps_pick *pick)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "schema", RESULTS_SCHEMA);
	cJSON_AddStringToObject(o, "kind", RESULTS_KIND_DAILY);
	cJSON_AddStringToObject(o, "run_id", id);
	cJSON_AddStringToObject(o, "chaoslab_version", CHAOSLAB_VERSION);
	cJSON_AddStringToObject(o, "started_at", started);
	cJSON_AddStringToObject(o, "date", today);
	cJSON_AddStringToObject(o, "scenario", pick->drill->id);
	cJSON_AddStringToObject(o, "skill", pick->gap->skill);
	cJSON_AddNumberToObject(o, "weakness", pick->gap->weakness);
	cJSON_AddStringToObject(o, "reason", pick->reason);
	cJSON_AddNullToObject(o, "drill_run_id");
	cJSON_AddStringToObject(o, "outcome", "started");
	return o;
}

/* Why nothing can be picked: nothing runs here at all, or only the drill of
 * the previous daily does. */
static int nothing_to_pick(const struct catalog *c, const struct daily *prev)
{
	size_t supported = 0;

	for (size_t i = 0; i < c->count; i++)
		supported += c->items[i].supported;
	if (supported && prev) {
		fprintf(stderr, "chaoslab: the only drill that runs here is '%s', the daily of %s; "
				"a daily never repeats the day before (run it with chaoslab drill %s)\n",
			prev->scenario, prev->date, prev->scenario);
		return CL_EXIT_PRIVILEGE;
	}
	fprintf(stderr, "chaoslab: no drill of the catalog runs on this machine");
	if (c->count)
		fprintf(stderr, " (%s: %s)", c->items[0].id, c->items[0].why);
	fprintf(stderr, "; chaoslab list and chaoslab doctor say why\n");
	return CL_EXIT_PRIVILEGE;
}

int cmd_daily(int argc, char **argv)
{
	struct drill_opts o = { .autopilot_delay = -1, .out = stdout };
	bool dry = false, plain = false;
	struct practice p;
	struct gaps_pick pick;
	struct cl_error err;
	struct drill_outcome res;
	struct scenario *s = NULL;
	const struct daily *prev;
	const char *excl[1] = { NULL };
	char today[16], yesterday[16], id[160], started[32], path[1024];
	time_t now = time(NULL);
	struct tm tm;
	cJSON *doc = NULL;
	const char *dir;
	int rc = 0, taken;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			daily_help();
			return 0;
		} else if ((taken = cli_drill_option(argc, argv, &i, &o, &plain, "daily",
						     daily_usage))) {
			if (taken < 0)
				return CL_EXIT_USAGE;
		} else if (!strcmp(a, "--dry-run")) {
			dry = true;
		} else {
			return cli_usage(daily_usage, "daily: unknown argument '%s'", a);
		}
	}
	cl_error_clear(&err);
	dir = results_dir(o.results_dir);
	o.results_dir = dir;
	/* A day is the engineer's calendar day, in local time. */
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	tm.tm_mday--;
	tm.tm_isdst = -1;
	mktime(&tm); /* normalises the day before the 1st, and DST days */
	strftime(yesterday, sizeof(yesterday), "%Y-%m-%d", &tm);
	if (practice_load(&p, dir, true, now, stderr, &err))
		return cli_fail(&err);
	prev = previous_daily(&p.history, yesterday);
	excl[0] = prev ? prev->scenario : NULL;
	if (gaps_pick(&p.gaps, &p.catalog, NULL, excl, 1, &pick)) {
		rc = nothing_to_pick(&p.catalog, prev);
		goto out;
	}
	printf("today's drill (%s): %s — %s\n", today, pick.drill->id, pick.drill->title);
	printf("why: %s\n", pick.reason);
	if (prev)
		printf("not %s: it was the daily of %s\n", prev->scenario, prev->date);
	for (size_t i = 0; i < p.history.ndailies; i++) {
		const struct daily *d = &p.history.dailies[i];
		if (d->date && !strcmp(d->date, today))
			printf("note: today already had a daily: %s (%s)\n", d->scenario,
			       d->drill_run ? d->drill_run : "not finished");
	}
	if (dry) {
		printf("(--dry-run: nothing run, nothing recorded; run it with chaoslab daily)\n");
		goto out;
	}
	if (!(s = scenario_load(pick.drill->file, &err))) {
		rc = cli_fail(&err);
		goto out;
	}
	/* Recorded before it runs, so that a daily cut short still counts as
	 * the day's drill. */
	results_new_id("daily", now, id, sizeof(id), started, sizeof(started));
	doc = daily_doc(id, started, today, &pick);
	if (!doc || results_write(dir, id, doc, NULL, 0, &err)) {
		if (!doc)
			cl_error_set(&err, CL_EXIT_USAGE, "out of memory");
		rc = cli_fail(&err);
		goto out;
	}
	printf("\n");
	fflush(stdout);
	o.live = !plain && isatty(STDOUT_FILENO);
	o.color = cli_color();
	cl_error_clear(&err);
	if (drill_run(s, &o, &res, &err) && err.msg[0])
		cli_fail(&err);
	rc = res.exit_code;
	if (res.result_path[0]) {
		const char *base = strrchr(res.result_path, '/');
		snprintf(path, sizeof(path), "%s", base ? base + 1 : res.result_path);
		path[strlen(path) > 5 ? strlen(path) - 5 : 0] = '\0'; /* ".json" */
		cJSON_ReplaceItemInObject(doc, "drill_run_id", cJSON_CreateString(path));
	}
	cJSON_ReplaceItemInObject(doc, "outcome", cJSON_CreateString(res.outcome));
	if (res.score >= 0)
		cJSON_AddNumberToObject(doc, "score", res.score);
	else
		cJSON_AddNullToObject(doc, "score");
	if (results_write(dir, id, doc, NULL, 0, &err))
		cli_fail(&err);
out:
	cJSON_Delete(doc);
	scenario_free(s);
	practice_release(&p);
	return rc;
}
