/* Tests of harness/drill/postmortem.c and the runbook readers of
 * harness/drill/history.c: the drafts written for the runs of
 * tests/data/history/results (fixed, given up, never landed, autopilot),
 * with the timeline rebuilt from the events, the engineer's root cause next
 * to the runbook's, and the runbook's Prevention section. Data is found
 * through $CHAOSLAB_SRC. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "drill/postmortem.h"

static char results[1024], runbooks[1024];
static struct history hist;
static struct catalog cat;

static int setup(void **state)
{
	struct cl_error err;

	if (history_load(results, &hist, NULL, NULL, &err) ||
	    catalog_load(&cat, false, NULL, NULL, &err))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	history_release(&hist);
	catalog_release(&cat);
	return 0;
}

/* The draft of run as a malloc'd string (with or without its catalog
 * drill). */
static char *draft(const char *run, bool with_drill)
{
	const struct attempt *a = history_find_attempt(&hist, run);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(a);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(postmortem_write(f, a, with_drill ? catalog_find(&cat, a->scenario) : NULL),
			 0);
	fclose(f);
	return buf;
}

static void has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("missing: <<%s>>\n---- in ----\n%s", want, text);
}

static void lacks(const char *text, const char *unwanted)
{
	if (strstr(text, unwanted))
		fail_msg("unexpected: <<%s>>\n---- in ----\n%s", unwanted, text);
}

/* The section of a Markdown text from "## name" to the next "## ". */
static char *section(const char *text, const char *name)
{
	char head[128];
	const char *s, *e;

	snprintf(head, sizeof(head), "\n## %s\n", name);
	s = strstr(text, head);
	if (!s)
		fail_msg("no section '%s' in:\n%s", name, text);
	s += strlen(head);
	e = strstr(s, "\n## ");
	return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

static void test_fixed_run(void **state)
{
	char *t = draft("20240528T080000Z-dns-resolver-a109", true), *s;

	has(t, "# Postmortem (draft): Names stop resolving because of the wrong resolver\n");
	has(t, "| Drill | `dns-resolver` (curriculum day 7), run "
	       "`20240528T080000Z-dns-resolver-a109` |\n");
	has(t, "| Outcome | fixed after 12:00 (par 06:00) |\n");
	has(t, "| Score | 65/100 |\n| Hints | 2 (-15) |\n| Confidence | 5/5 |\n");

	s = section(t, "Impact");
	has(s, "> The api is up but clients say the name does not resolve.\n");
	has(s, "Broken from 08:00:01 UTC, when the symptom was confirmed, to 08:12:01 UTC (12:00, "
	       "fixed).");
	free(s);

	/* One row per event, wall clock from started_at + t, the clock from
	 * the confirmed symptom (t = 1.2). */
	s = section(t, "Timeline");
	assert_int_equal(count_lines_starting(s, "| 08:"), 9);
	has(s, "| 08:00:00 | -00:01 | preflight_ok | run 20240528T080000Z-dns-resolver-a109 |\n");
	has(s, "| 08:00:01 | 00:00 | symptom_confirmed | clock started |\n");
	has(s, "| 08:01:16 | 01:15 | hint | hint 1 (penalty 5) |\n");
	has(s, "| 08:12:01 | 12:00 | criterion_met | fixed_when[0] process-absent: none alive |\n");
	has(s, "| 08:12:04 | 12:03 | fixed | all fixed_when criteria held for 3 s |\n");
	free(s);

	s = section(t, "Root cause");
	has(s, "As noted at the end of the drill:\n\n> resolv.conf pointed at a resolver that refuses "
	       "lab.test\n");
	has(s, "The runbook's account, to compare with:\n\n> resolv.conf points at a resolver that "
	       "refuses the lab zone.\n");
	free(s);

	s = section(t, "Fix");
	has(s, "- [x] fixed_when[0] process-absent: none alive\n");
	has(s, "Point the lab's resolv.conf back at the lab resolver and check with dig.");
	lacks(s, "autopilot");
	free(s);

	s = section(t, "Prevention");
	has(s, "* Manage resolv.conf from one place.\n* Probe resolution from inside the lab every "
	       "minute (blackbox DNS check).\n");
	free(s);

	s = section(t, "What to practise");
	has(s, "- Time: 2.0x par.\n- The clock cost 20 points.\n");
	has(s, "  1. at 75 s: First hint of dns-resolver.\n  2. at 135 s: Second hint of "
	       "dns-resolver.\n");
	has(s, "Confidence 5/5 against a score of 65: over-confident by 35 points.");
	free(s);
	free(t);
}

static void test_without_catalog_drill(void **state)
{
	/* No catalog entry: the runbook recorded in the result is found beside
	 * the catalog; no briefing, no hint texts. */
	char *t = draft("20240528T080000Z-dns-resolver-a109", false), *s;

	lacks(t, "What was reported");
	has(t, "  1. at 75 s\n");
	s = section(t, "Prevention");
	has(s, "* Manage resolv.conf from one place.");
	free(s);
	free(t);
}

static void test_gave_up_run(void **state)
{
	char *t = draft("20240502T100000Z-proc-zombies-a102", true), *s;

	has(t, "| Outcome | gave_up after 10:00 (par 04:00) |\n");
	s = section(t, "Impact");
	has(s, "(10:00, given up).");
	free(s);
	s = section(t, "Root cause");
	has(s, "_Not written during the drill");
	has(s, "The parent never calls wait() on its children.");
	free(s);
	s = section(t, "Fix");
	has(s, "Not fixed. Where the checks stood at the end:\n\n- [ ] fixed_when[0] "
	       "process-absent: 1 alive: 4242\n");
	free(s);
	/* Confidence 2 on a give-up: owning up, not over-confidence. */
	has(t, "Confidence 2/5 against a score of 0: well calibrated.");
	free(t);
}

static void test_never_landed_and_autopilot(void **state)
{
	char *t = draft("20240505T100000Z-oom-crashloop-a103", true), *s;

	has(t, "The fault never produced its symptom (injection_failed); there was nothing to "
	       "debug.");
	s = section(t, "Timeline");
	has(s, "| symptom_timeout |");
	lacks(s, "| 00:00 |"); /* no clock: it never started */
	free(s);
	free(t);

	t = draft("20240530T120000Z-tls-expired-a110", true);
	has(t, ", on autopilot |");
	has(t, "On autopilot: the reference solution did the work:\n\n```sh\npkill -TERM -x "
	       "fixtured\n```\n");
	lacks(t, "Confidence was not rated");
	free(t);
}

static void test_clock(void **state)
{
	char b[16];

	assert_string_equal(postmortem_clock(0, b, sizeof(b)), "00:00");
	assert_string_equal(postmortem_clock(59.6, b, sizeof(b)), "01:00");
	assert_string_equal(postmortem_clock(720, b, sizeof(b)), "12:00");
	assert_string_equal(postmortem_clock(-1.2, b, sizeof(b)), "-00:01");
	assert_string_equal(postmortem_clock(3725, b, sizeof(b)), "1:02:05");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_runbook_sections(void **state)
{
	char dir[512], path[1024], *s;
	struct strv prompts = { NULL, 0 };
	const char *base = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/chaoslab-runbook-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rb.md", dir);
	write_file(path, "# Runbook\n\n## Fix\n\n```sh\n# not a heading: a shell comment\n"
			 "## nor this\nkill -TERM 1\n```\nThen check.\n\n"
			 "### A sub-heading stays inside\nmore\n\n"
			 "## PREVENTION  \n\n* one\n* two\n\n"
			 "## Quiz prompts\n\n**What is \"load\"?**\nRunnable plus D.\n\n"
			 "Second paragraph.\n\n**Why?**\nBecause.\n");
	s = runbook_section(path, "Fix");
	assert_string_equal(s, "```sh\n# not a heading: a shell comment\n## nor this\nkill -TERM "
			       "1\n```\nThen check.\n\n### A sub-heading stays inside\nmore");
	free(s);
	s = runbook_section(path, "prevention");
	assert_string_equal(s, "* one\n* two");
	free(s);
	assert_null(runbook_section(path, "Root cause"));
	assert_null(runbook_section("/nonexistent/rb.md", "Fix"));

	s = runbook_quiz_answer(path, "what is load");
	assert_string_equal(s, "Runnable plus D.\n\nSecond paragraph.");
	free(s);
	s = runbook_quiz_answer(path, "Why?");
	assert_string_equal(s, "Because.");
	free(s);
	assert_null(runbook_quiz_answer(path, "Who?"));
	assert_int_equal(runbook_quiz_prompts(path, &prompts), 0);
	assert_int_equal(prompts.n, 2);
	assert_string_equal(prompts.v[0], "What is \"load\"?");
	assert_string_equal(prompts.v[1], "Why?");
	history_strv_release(&prompts);
	assert_true(runbook_prompt_same("What's a recursive resolver?", "whats a recursive "
									"resolver"));
	assert_false(runbook_prompt_same("Why?", "Who?"));
	unlink(path);
	rmdir(dir);

	/* The real fixture runbook. */
	snprintf(path, sizeof(path), "%s/oom-crashloop.md", runbooks);
	s = runbook_quiz_answer(path, "Difference between RSS and cache?");
	assert_non_null(s);
	has(s, "reclaimable file pages");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_run),
		cmocka_unit_test(test_without_catalog_drill),
		cmocka_unit_test(test_gave_up_run),
		cmocka_unit_test(test_never_landed_and_autopilot),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_runbook_sections),
	};
	const char *src = getenv("CHAOSLAB_SRC");
	char scen[1024];

	if (!src || !*src) {
		fprintf(stderr, "test_postmortem: skipped: CHAOSLAB_SRC is not set (ctest sets it)\n");
		return 77;
	}
	snprintf(results, sizeof(results), "%s/tests/data/history/results", src);
	snprintf(runbooks, sizeof(runbooks), "%s/tests/data/history/catalog/runbooks", src);
	snprintf(scen, sizeof(scen), "%s/tests/data/history/catalog/scenarios", src);
	setenv("CHAOSLAB_SCENARIOS", scen, 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
