/* Tests of harness/drill/gaps.c and harness/drill/history.c: the fixed
 * history of tests/data/history/results (measured against the fixture
 * catalog in tests/data/history/catalog) gives an exact ranking — skills
 * never practised, a self-assessment, over-confidence, recency weights,
 * staleness — corrupt files are reported and skipped, and daily's and
 * mock's picks follow the gaps. The expected numbers are worked out by hand
 * in docs/growth.md. Data is found through $CHAOSLAB_SRC. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "drill/gaps.h"

static char results[1024], scenarios[1024];

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

static time_t at(const char *iso)
{
	time_t t;

	assert_int_equal(history_parse_time(iso, &t), 0);
	return t;
}

struct bad_seen {
	int count;
	char names[8][64];
	char whys[8][256];
};

static void collect_bad(const char *path, const char *why, void *opaque)
{
	struct bad_seen *b = opaque;
	const char *slash = strrchr(path, '/');

	if (b->count < 8) {
		snprintf(b->names[b->count], sizeof(b->names[0]), "%s", slash ? slash + 1 : path);
		snprintf(b->whys[b->count], sizeof(b->whys[0]), "%s", why);
	}
	b->count++;
}

static const char *bad_why(const struct bad_seen *b, const char *name)
{
	for (int i = 0; i < b->count && i < 8; i++)
		if (!strcmp(b->names[i], name))
			return b->whys[i];
	fail_msg("'%s' was not reported as bad", name);
	return NULL;
}

/* The fixture catalog, with what runs "here" fixed by the test: every drill
 * but k8s-probe, whatever this machine is. */
static void catalog_fixture(struct catalog *c)
{
	struct cl_error err;

	assert_int_equal(catalog_load(c, false, NULL, NULL, &err), 0);
	assert_int_equal(c->count, 6);
	for (size_t i = 0; i < c->count; i++) {
		struct catalog_drill *d = &c->items[i];
		d->supported = strcmp(d->id, "k8s-probe") != 0;
		snprintf(d->why, sizeof(d->why), "%s", d->supported ? "" : "no Kubernetes cluster");
	}
}

struct fixture {
	struct history h;
	struct catalog c;
	struct gaps g;
};

static void fixture_load(struct fixture *f, const char *dir, const char *now)
{
	struct cl_error err;

	assert_int_equal(history_load(dir, &f->h, NULL, NULL, &err), 0);
	catalog_fixture(&f->c);
	assert_int_equal(gaps_compute(&f->h, &f->c, at(now), &f->g, &err), 0);
}

static void fixture_release(struct fixture *f)
{
	gaps_release(&f->g);
	catalog_release(&f->c);
	history_release(&f->h);
}

static const struct gap *gap_of(const struct gaps *g, const char *skill)
{
	for (size_t i = 0; i < g->count; i++)
		if (!strcmp(g->items[i].skill, skill))
			return &g->items[i];
	fail_msg("no gap for '%s'", skill);
	return NULL;
}

/* ---- history --------------------------------------------------------------------------- */

static void test_history_load(void **state)
{
	struct history h;
	struct bad_seen bad = { 0 };
	struct cl_error err;
	int counted = 0;

	assert_int_equal(history_load(results, &h, collect_bad, &bad, &err), 0);
	assert_int_equal(h.nattempts, 10);
	assert_int_equal(h.nassessments, 2);
	assert_int_equal(h.ndailies, 1);
	assert_int_equal(h.nmocks, 0);
	/* The corrupt files are reported with the reason and skipped. */
	assert_int_equal(h.unreadable, 2);
	assert_int_equal(bad.count, 2);
	assert_non_null(strstr(bad_why(&bad, "broken.json"), "not valid JSON"));
	assert_non_null(strstr(bad_why(&bad, "future.json"), "schema version 2"));
	for (size_t i = 0; i < h.nattempts; i++)
		counted += h.attempts[i].counted;
	/* Not counted: two runs whose fault never landed / that errored, and
	 * one autopilot run. */
	assert_int_equal(counted, 7);

	const struct attempt *a = history_find_attempt(&h, "20240528T080000Z-dns-resolver-a109");
	assert_non_null(a);
	assert_string_equal(a->scenario, "dns-resolver");
	assert_near(a->score, 65);
	assert_int_equal(a->hints, 2);
	assert_int_equal(a->hint_penalty, 15);
	assert_int_equal(a->confidence, 5);
	assert_near(a->time_to_fix_seconds, 720);
	assert_near(a->par_seconds, 360);
	assert_true(attempt_has_skill(a, "net.dns"));
	assert_false(attempt_has_skill(a, "net.tls"));
	assert_ptr_equal(history_find_attempt(&h, "20240528T080000Z-dns"), a);
	assert_null(history_find_attempt(&h, "2024052")); /* ambiguous */
	a = history_find_attempt(&h, "20240505T100000Z-oom-crashloop-a103");
	assert_false(a->counted);
	assert_true(a->score < 0);
	a = history_find_attempt(&h, "20240530T120000Z-tls-expired-a110");
	assert_true(a->autopilot);
	assert_false(a->counted);

	assert_string_equal(h.dailies[0].date, "2024-05-31");
	assert_string_equal(h.dailies[0].scenario, "dns-resolver");
	assert_null(h.dailies[0].drill_run);
	assert_near(assessment_grade(&h.assessments[1], "linux.memory", NULL), 1.5);
	assert_near(assessment_grade(&h.assessments[0], "linux.signals", NULL), 5);
	assert_true(assessment_grade(&h.assessments[0], "net.dns", NULL) < 0);
	history_release(&h);
}

static void test_parse_time(void **state)
{
	time_t t;

	assert_int_equal(history_parse_time("1970-01-02T00:00:00Z", &t), 0);
	assert_int_equal(t, 86400);
	assert_int_equal(history_parse_time("2024-06-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 1717200000);
	assert_int_equal(history_parse_time("2024-06-01", &t), -1);
	assert_int_equal(history_parse_time("2024-13-01T00:00:00Z", &t), -1);
	assert_int_equal(history_parse_time("2024-06-01T00:00:00Zjunk", &t), -1);
	assert_int_equal(history_parse_time(NULL, &t), -1);
}

/* ---- the ranking ----------------------------------------------------------------------- */

static void test_ranking_exact(void **state)
{
	static const struct {
		const char *skill;
		double weakness;
		bool practised;
	} want[] = {
		{ "k8s.crashloop", 66.0, false },  /* never, self-assessed 1.5/5 */
		{ "linux.memory", 66.0, false },   /* same; ties go by day, then name */
		{ "net.dns", 63.9, true },         /* over-confident: lifted above 60 */
		{ "k8s.debugging", 60.0, false },  /* never practised */
		{ "k8s.probes", 60.0, false },
		{ "linux.signals", 28.3, true },   /* self-assessed 5/5: -8 */
		{ "linux.process", 20.3, true },   /* recency weights the 90s over the 0 */
		{ "linux.cpu", 4.7, true },
		{ "net.tls", 1.0, true },          /* 16 days since: staleness 1 */
		{ "ops.cert-rotation", 1.0, true },
	};
	struct fixture f;

	fixture_load(&f, results, "2024-06-01T00:00:00Z");
	assert_int_equal(f.g.count, sizeof(want) / sizeof(want[0]));
	assert_int_equal(f.g.counted, 7);
	for (size_t i = 0; i < f.g.count; i++) {
		const struct gap *g = &f.g.items[i];
		if (strcmp(g->skill, want[i].skill) || fabs(g->weakness - want[i].weakness) > 1e-9)
			fail_msg("rank %zu: got %s %.1f, want %s %.1f", i + 1, g->skill, g->weakness,
				 want[i].skill, want[i].weakness);
		assert_int_equal(g->practised, want[i].practised);
	}
	fixture_release(&f);
}

static void test_terms(void **state)
{
	struct fixture f;
	const struct gap *g;

	fixture_load(&f, results, "2024-06-01T00:00:00Z");

	/* net.dns: 65 (fixed at 2x par, 2 hints, confidence 5) then, older, 0
	 * (timed out, 3 hints, confidence 5). Weights 1 and 0.6. */
	g = gap_of(&f.g, "net.dns");
	assert_int_equal(g->attempts, 2);
	assert_int_equal(g->nrecent, 2);
	assert_string_equal(g->recent[0]->run_id, "20240528T080000Z-dns-resolver-a109");
	assert_near(g->score, 65 / 1.6);                 /* 40.625 */
	assert_near(g->time_ratio, (2 + 0.6 * 3) / 1.6); /* 2.375 */
	assert_near(g->hints, (2 + 0.6 * 3) / 1.6);      /* 2.375 */
	assert_near(g->over, (35 + 0.6 * 100) / 1.6);    /* 59.375 */
	assert_int_equal(g->days_since, 3);
	assert_near(g->terms.score, 0.6 * (100 - 40.625));
	assert_near(g->terms.time, 5 * 1.375);
	assert_near(g->terms.hints, 9.5);
	assert_near(g->terms.over, 0.2 * 59.375);
	assert_near(g->terms.assess, 0);
	assert_near(g->terms.stale, 0);
	assert_ptr_equal(g->over_worst, g->recent[1]);
	assert_true(g->grade < 0);

	/* linux.process: four attempts across two drills, newest first
	 * 90, 90, 0, 100 with weights 1, .6, .36, .216. */
	g = gap_of(&f.g, "linux.process");
	assert_int_equal(g->nrecent, 4);
	assert_near(g->score, (90 + 0.6 * 90 + 0.36 * 0 + 0.216 * 100) / 2.176);
	assert_near(g->time_ratio, (1.25 + 0.6 * 1.5 + 0.36 * 3 + 0.216 * (120.0 / 180)) / 2.176);
	/* The give-up (0) was rated 2/5: owning up to a guess is not
	 * over-confidence, and the others scored above 20 x confidence. */
	assert_near(g->over, 0);
	assert_near(g->terms.over, 0);

	/* linux.signals: the self-assessment (5/5) takes 8 off. */
	g = gap_of(&f.g, "linux.signals");
	assert_near(g->grade, 5);
	assert_near(g->terms.assess, -8);
	assert_string_equal(g->assessment->run_id, "20240526T180000Z-assess-b201");

	/* Never practised: the two oom-crashloop runs that never landed do not
	 * count; the day-27 self-assessment (2 and 1) does. */
	g = gap_of(&f.g, "linux.memory");
	assert_false(g->practised);
	assert_int_equal(g->attempts, 0);
	assert_int_equal(g->failed_runs, 2);
	assert_near(g->grade, 1.5);
	assert_near(g->terms.score, 60);
	assert_near(g->terms.assess, 6);
	assert_int_equal(g->days_since, -1);

	/* The autopilot run of tls-expired is not the engineer's. */
	g = gap_of(&f.g, "net.tls");
	assert_int_equal(g->attempts, 1);
	assert_int_equal(g->autopilot_runs, 1);
	assert_int_equal(g->days_since, 16);
	assert_near(g->terms.stale, 1);
	assert_near(g->time_ratio, 400.0 / 420);
	assert_near(g->terms.time, 0);
	fixture_release(&f);
}

static void test_evidence(void **state)
{
	struct fixture f;
	char buf[4096];

	fixture_load(&f, results, "2024-06-01T00:00:00Z");
	gap_describe(gap_of(&f.g, "net.dns"), buf, sizeof(buf));
	assert_non_null(strstr(buf, "last attempts: 2024-05-28 dns-resolver 65 (fixed, 2 hints, "
				    "confidence 5/5); 2024-05-10 dns-resolver 0 (timed_out, 3 hints, "
				    "confidence 5/5)\n"));
	assert_non_null(strstr(buf, "recency-weighted score 40.6 over 2 of 2 attempts; time 2.37x "
				    "par; 2.4 hints an attempt; last practised 3 days ago\n"));
	assert_non_null(strstr(buf, "over-confident: said 5/5 and scored 0 on 2024-05-10 "
				    "dns-resolver\n"));
	assert_null(strstr(buf, "self-assessment"));

	gap_describe(gap_of(&f.g, "linux.memory"), buf, sizeof(buf));
	assert_string_equal(buf, "never practised; 2 runs never got going (injection_failed or "
				 "error)\n"
				 "self-assessment: 1.5/5 on 2024-05-29\n");
	gap_describe(gap_of(&f.g, "linux.process"), buf, sizeof(buf));
	assert_null(strstr(buf, "over-confident"));
	gap_describe(gap_of(&f.g, "k8s.probes"), buf, sizeof(buf));
	assert_string_equal(buf, "never practised\n");
	fixture_release(&f);
}

/* ---- the next drill, daily and mock picks ---------------------------------------------- */

static void test_next_drill(void **state)
{
	struct fixture f;
	struct gaps_pick pick;
	const struct gap *g;
	const char *excl[2];

	fixture_load(&f, results, "2024-06-01T00:00:00Z");
	g = gap_of(&f.g, "net.dns");
	assert_string_equal(g->next->id, "dns-resolver");
	assert_string_equal(g->next_reason,
			    "your weakest drill for net.dns (latest score 65 on 2024-05-28)");
	g = gap_of(&f.g, "linux.memory");
	assert_string_equal(g->next->id, "oom-crashloop");
	assert_string_equal(g->next_reason, "untried, difficulty 3 (day 27)");
	/* linux.process: proc-zombies (latest 90) and proc-runaway (latest 90)
	 * tie on priority; the easier one comes first. */
	g = gap_of(&f.g, "linux.process");
	assert_int_equal(g->ncands, 2);
	assert_string_equal(f.c.items[g->cands[0]].id, "proc-runaway");
	assert_string_equal(f.c.items[g->cands[1]].id, "proc-zombies");
	/* A drill that does not run here is still named, after those that do. */
	g = gap_of(&f.g, "k8s.probes");
	assert_string_equal(g->next->id, "k8s-probe");
	assert_false(g->next->supported);

	/* daily: the top gap's drill... */
	assert_int_equal(gaps_pick(&f.g, &f.c, NULL, NULL, 0, &pick), 0);
	assert_string_equal(pick.gap->skill, "k8s.crashloop");
	assert_string_equal(pick.drill->id, "oom-crashloop");
	assert_string_equal(pick.reason, "gap #1 k8s.crashloop (weakness 66.0, never practised); "
					 "oom-crashloop: untried, difficulty 3 (day 27)");
	/* ...never the one of the day before: gaps #1 and #2 only have
	 * oom-crashloop, so gap #3 decides. */
	excl[0] = "oom-crashloop";
	assert_int_equal(gaps_pick(&f.g, &f.c, NULL, excl, 1, &pick), 0);
	assert_string_equal(pick.gap->skill, "net.dns");
	assert_string_equal(pick.drill->id, "dns-resolver");
	/* Gap #4 and #5 (k8s) only have a drill that does not run here. */
	excl[1] = "dns-resolver";
	assert_int_equal(gaps_pick(&f.g, &f.c, NULL, excl, 2, &pick), 0);
	assert_string_equal(pick.gap->skill, "linux.signals");
	assert_string_equal(pick.drill->id, "proc-zombies");

	/* mock: one drill per domain, never the same twice. */
	assert_int_equal(gaps_pick(&f.g, &f.c, "linux", NULL, 0, &pick), 0);
	assert_string_equal(pick.gap->skill, "linux.memory");
	assert_string_equal(pick.drill->id, "oom-crashloop");
	excl[0] = "oom-crashloop";
	assert_int_equal(gaps_pick(&f.g, &f.c, "net", excl, 1, &pick), 0);
	assert_string_equal(pick.drill->id, "dns-resolver");
	/* oom-crashloop practises k8s.crashloop but is a Linux drill (its
	 * first skill); the one Kubernetes drill does not run here. */
	assert_int_equal(gaps_pick(&f.g, &f.c, "k8s", excl, 1, &pick), -1);
	assert_int_equal(gaps_pick(&f.g, &f.c, "k8s", NULL, 0, &pick), -1);
	f.c.items[1].supported = true; /* k8s-probe, sorted by id */
	assert_string_equal(f.c.items[1].id, "k8s-probe");
	assert_int_equal(gaps_pick(&f.g, &f.c, "k8s", NULL, 0, &pick), 0);
	assert_string_equal(pick.drill->id, "k8s-probe");
	assert_string_equal(pick.gap->skill, "k8s.debugging");
	fixture_release(&f);
}

/* ---- time and new attempts move the ranking -------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void copy_fixture(char *dir, size_t size)
{
	DIR *d = opendir(results);
	struct dirent *de;
	const char *base = getenv("TMPDIR");

	snprintf(dir, size, "%s/chaoslab-gaps-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_non_null(d);
	while ((de = readdir(d))) {
		char from[2048], to[2048];
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", results, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
		copy_file(from, to);
	}
	closedir(d);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char p[2048];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void test_new_attempt_and_staleness(void **state)
{
	char dir[1024];
	struct fixture f;
	struct cl_error err;
	const struct gap *g;
	cJSON *doc;

	/* A month later, every practised skill has gone stale (+10 at most). */
	fixture_load(&f, results, "2024-07-01T00:00:00Z");
	g = gap_of(&f.g, "net.dns");
	assert_int_equal(g->days_since, 33);
	assert_near(g->terms.stale, 9.5);
	assert_near(g->weakness, 73.4);
	assert_string_equal(f.g.items[0].skill, "net.dns");
	assert_near(gap_of(&f.g, "linux.cpu")->terms.stale, 10);
	fixture_release(&f);

	/* A clean, quick, well-calibrated DNS fix the day before: net.dns
	 * drops below every skill never practised. */
	copy_fixture(dir, sizeof(dir));
	doc = cJSON_Parse("{\"schema\":1,\"run_id\":\"20240531T080000Z-dns-resolver-a111\","
			  "\"started_at\":\"2024-05-31T08:00:00Z\",\"outcome\":\"fixed\","
			  "\"autopilot\":false,\"score\":100,\"time_to_fix_seconds\":200,"
			  "\"hints_used\":[],\"confidence\":5,\"scenario\":{\"id\":\"dns-resolver\","
			  "\"skills\":[\"net.dns\"],\"par_seconds\":360,\"day\":7}}");
	assert_non_null(doc);
	assert_int_equal(results_write(dir, "20240531T080000Z-dns-resolver-a111", doc, NULL, 0,
				       &err),
			 0);
	cJSON_Delete(doc);
	fixture_load(&f, dir, "2024-06-01T00:00:00Z");
	g = gap_of(&f.g, "net.dns");
	assert_int_equal(g->attempts, 3);
	/* 100, 65, 0 weighted 1, .6, .36 */
	assert_near(g->score, (100 + 0.6 * 65 + 0.36 * 0) / 1.96);
	assert_true(g->weakness < 60);
	assert_string_equal(f.g.items[2].skill, "k8s.debugging");
	fixture_release(&f);
	remove_dir(dir);
}

/* ---- corrupt files and empty histories ------------------------------------------------- */

static void test_corrupt_only_history(void **state)
{
	char dir[1024], p[1200];
	const char *base = getenv("TMPDIR");
	struct history h;
	struct catalog c;
	struct gaps g;
	struct bad_seen bad = { 0 };
	struct cl_error err;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/chaoslab-gaps-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/garbage.json", dir);
	fp = fopen(p, "w");
	fputs("\x01\x02 not json", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/kind.json", dir);
	fp = fopen(p, "w");
	fputs("{\"schema\":1,\"kind\":\"horoscope\",\"run_id\":\"x\",\"started_at\":\"t\"}", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/grade.json", dir);
	fp = fopen(p, "w");
	fputs("{\"schema\":1,\"kind\":\"assessment\",\"run_id\":\"x\",\"started_at\":\"t\","
	      "\"skills\":[\"a\"],\"grades\":[{\"prompt\":\"p\",\"skills\":[\"a\"],\"grade\":9}]}",
	      fp);
	fclose(fp);

	assert_int_equal(history_load(dir, &h, collect_bad, &bad, &err), 0);
	assert_int_equal(bad.count, 3);
	assert_non_null(strstr(bad_why(&bad, "garbage.json"), "not valid JSON"));
	assert_non_null(strstr(bad_why(&bad, "kind.json"), "unknown document kind 'horoscope'"));
	assert_non_null(strstr(bad_why(&bad, "grade.json"), "grade 1..5"));
	assert_int_equal(h.nattempts + h.nassessments, 0);
	catalog_fixture(&c);
	assert_int_equal(gaps_compute(&h, &c, at("2024-06-01T00:00:00Z"), &g, &err), 0);
	/* Nothing practised: every catalog skill at 60, by curriculum day. */
	assert_int_equal(g.count, 10);
	for (size_t i = 0; i < g.count; i++)
		assert_near(g.items[i].weakness, 60);
	assert_string_equal(g.items[0].skill, "linux.process"); /* day 1 */
	assert_string_equal(g.items[1].skill, "linux.signals");
	assert_string_equal(g.items[2].skill, "linux.cpu");     /* day 3 */
	gaps_release(&g);
	catalog_release(&c);
	history_release(&h);
	remove_dir(dir);

	/* A missing results directory is an empty history, not an error. */
	assert_int_equal(history_load("/nonexistent/chaoslab-results", &h, NULL, NULL, &err), 0);
	assert_int_equal(h.nattempts, 0);
	history_release(&h);
}

static void test_json(void **state)
{
	struct fixture f;
	cJSON *doc, *gaps, *first, *next;

	fixture_load(&f, results, "2024-06-01T00:00:00Z");
	doc = gaps_json(&f.g, GAPS_LIST);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(doc, "as_of")->valuestring, "2024-06-01T00:00:00Z");
	assert_int_equal(cJSON_GetObjectItem(doc, "counted_attempts")->valueint, 7);
	gaps = cJSON_GetObjectItem(doc, "gaps");
	assert_int_equal(cJSON_GetArraySize(gaps), 5);
	first = cJSON_GetArrayItem(gaps, 2);
	assert_string_equal(cJSON_GetObjectItem(first, "skill")->valuestring, "net.dns");
	assert_near(cJSON_GetObjectItem(first, "weakness")->valuedouble, 63.9);
	assert_near(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "terms"), "overconfidence")
			    ->valuedouble,
		    11.9);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(first, "recent")), 2);
	next = cJSON_GetObjectItem(first, "next");
	assert_string_equal(cJSON_GetObjectItem(next, "scenario")->valuestring, "dns-resolver");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(next, "supported")));
	next = cJSON_GetObjectItem(cJSON_GetArrayItem(gaps, 4), "next");
	assert_string_equal(cJSON_GetObjectItem(next, "why_not")->valuestring,
			    "no Kubernetes cluster");
	cJSON_Delete(doc);
	fixture_release(&f);
}

static void test_skill_domain(void **state)
{
	char b[16];

	gaps_skill_domain("net.dns", b, sizeof(b));
	assert_string_equal(b, "net");
	gaps_skill_domain("k8s.crashloop", b, sizeof(b));
	assert_string_equal(b, "k8s");
	gaps_skill_domain("plain", b, sizeof(b));
	assert_string_equal(b, "plain");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history_load),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_ranking_exact),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_next_drill),
		cmocka_unit_test(test_new_attempt_and_staleness),
		cmocka_unit_test(test_corrupt_only_history),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_skill_domain),
	};
	const char *src = getenv("CHAOSLAB_SRC");

	if (!src || !*src) {
		fprintf(stderr, "test_gaps: skipped: CHAOSLAB_SRC is not set (ctest sets it)\n");
		return 77;
	}
	snprintf(results, sizeof(results), "%s/tests/data/history/results", src);
	snprintf(scenarios, sizeof(scenarios), "%s/tests/data/history/catalog/scenarios", src);
	setenv("CHAOSLAB_SCENARIOS", scenarios, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
