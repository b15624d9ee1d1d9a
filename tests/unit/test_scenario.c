/* Tests of harness/core/scenario.c: the good files of tests/data/good into
 * the model (YAML and JSON alike), defaults, located errors, --set
 * overrides, and the registry machinery through the test-only descriptors of
 * support/test_descriptors.c. Data is found through $CHAOSLAB_SRC. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/registry.h"
#include "core/scenario.h"
#include "lab/service.h"
#include "support/test_descriptors.h"

static const char *src;

static const char *data(const char *rel)
{
	static char bufs[4][1024];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/tests/data/%s", src, rel);
	return b;
}

static const char *fmt(const struct cl_error *err)
{
	static char buf[2048];

	return cl_error_format(err, buf, sizeof(buf));
}

static struct scenario *load_ok(const char *path)
{
	struct cl_error err;
	struct scenario *s = scenario_load(path, &err);

	if (!s)
		fail_msg("%s", fmt(&err));
	return s;
}

#define assert_num(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

static void assert_strv(const struct strv *sv, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	assert_int_equal(sv->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(sv->v[i], want[i]);
}

static void test_full_yaml_model(void **state)
{
	struct scenario *s = load_ok(data("good/cpu-runaway.yaml"));
	char want[1100];

	assert_string_equal(s->file, data("good/cpu-runaway.yaml"));
	assert_string_equal(s->id, "cpu-runaway");
	assert_string_equal(s->title, "Runaway process pegs the CPU");
	assert_string_equal(s->briefing, "The box got slow a minute ago. Make it healthy again "
					 "without taking the api down.\n");
	assert_int_equal(s->day, 3);
	assert_int_equal(s->difficulty, 2);
	assert_int_equal(s->par_seconds, 300);
	assert_int_equal(s->time_limit_seconds, 1200);
	assert_int_equal(s->symptom_timeout_seconds, 20);
	assert_int_equal(s->stable_seconds, 5);
	assert_strv(&s->skills, (const char *const[]){ "linux.cpu", "linux.process", NULL });
	assert_strv(&s->lab, (const char *const[]){ "demo-api", NULL });
	assert_strv(&s->solution, (const char *const[]){ "pkill -TERM -x reportd", NULL });
	assert_strv(&s->quiz,
		    (const char *const[]){ "When can load average be high but CPU low?", NULL });
	assert_string_equal(s->runbook, "runbooks/cpu-runaway.md");
	snprintf(want, sizeof(want), "%s/tests/data/runbooks/cpu-runaway.md", src);
	assert_string_equal(s->runbook_path, want);

	assert_int_equal(s->ninject, 1);
	const struct step *in = &s->inject[0];
	assert_int_equal(in->kind, STEP_INJECT);
	assert_string_equal(in->id, "burner");
	assert_string_equal(in->type, "cpu-burner");
	assert_string_equal(in->path, "inject[0]");
	assert_int_equal(in->mark.line, 16);
	assert_int_equal(in->id_mark.line, 16);
	assert_int_equal(in->id_mark.column, 9);
	assert_ptr_equal(in->injector, injector_find("cpu-burner"));
	assert_null(in->verifier);
	assert_int_equal(params_int(&in->params, "workers", 0), 2);
	assert_int_equal(params_int(&in->params, "load_percent", 0), 95);
	assert_string_equal(params_str(&in->params, "name", NULL), "reportd");
	assert_int_equal(params_int(&in->params, "nice", 99), 0); /* default */
	assert_false(params_bool(&in->params, "respawn", true));  /* default */
	assert_false(params_get(&in->params, "nice")->given);
	assert_ptr_equal(scenario_injection(s, "burner"), in);
	assert_null(scenario_injection(s, "burnr"));

	assert_int_equal(s->nsymptoms, 1);
	assert_int_equal(s->symptoms[0].kind, STEP_SYMPTOM);
	assert_null(s->symptoms[0].id);
	assert_ptr_equal(s->symptoms[0].verifier, verifier_find("cpu-busy"));
	assert_num(params_number(&s->symptoms[0].params, "min_percent", 0), 80);
	assert_num(params_number(&s->symptoms[0].params, "window_seconds", 0), 3);

	assert_int_equal(s->nfixed_when, 2);
	assert_string_equal(s->fixed_when[0].type, "process-absent");
	assert_string_equal(params_str(&s->fixed_when[0].params, "injection", NULL), "burner");
	assert_num(s->fixed_when[0].weight, 2);
	assert_num(s->fixed_when[1].weight, 1); /* default */
	assert_string_equal(s->fixed_when[1].path, "fixed_when[1]");
	assert_num(params_number(&s->fixed_when[1].params, "max_percent", 0), 40);

	assert_int_equal(s->nguards, 1);
	assert_int_equal(s->guards[0].kind, STEP_GUARD);
	assert_int_equal(s->guards[0].penalty, 40);
	assert_string_equal(s->guards[0].message, "the api service was killed");
	assert_string_equal(params_str(&s->guards[0].params, "service", NULL), "demo-api");

	assert_int_equal(s->nhints, 2);
	assert_int_equal(s->hints[0].after_seconds, 120);
	assert_int_equal(s->hints[0].penalty, 10);
	assert_string_equal(s->hints[0].text, "Which process has the highest %CPU?");
	assert_int_equal(s->hints[1].after_seconds, 300);
	assert_int_equal(s->hints[1].penalty, 10); /* default */

	assert_int_equal(s->scoring.max_time_penalty, 30);
	assert_num(s->scoring.time_penalty_at, 2.5);
	assert_int_equal(s->scoring.partial_max, 25);
	scenario_free(s);
}

static void assert_params_equal(const struct params *a, const struct params *b)
{
	assert_ptr_equal(a->spec, b->spec);
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->count; i++) {
		const struct param_value *x = &a->values[i], *y = &b->values[i];
		assert_int_equal(x->set, y->set);
		assert_int_equal(x->given, y->given);
		assert_int_equal(x->i, y->i);
		assert_num(x->d, y->d);
		assert_int_equal(x->b, y->b);
		if (x->s || y->s)
			assert_string_equal(x->s, y->s);
	}
}

static void assert_steps_equal(const struct step *a, const struct step *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].kind, b[i].kind);
		assert_true((!a[i].id && !b[i].id) || !strcmp(a[i].id, b[i].id));
		assert_string_equal(a[i].type, b[i].type);
		assert_string_equal(a[i].path, b[i].path);
		assert_ptr_equal(a[i].injector, b[i].injector);
		assert_ptr_equal(a[i].verifier, b[i].verifier);
		assert_num(a[i].weight, b[i].weight);
		assert_int_equal(a[i].penalty, b[i].penalty);
		assert_true((!a[i].message && !b[i].message) ||
			    !strcmp(a[i].message, b[i].message));
		assert_params_equal(&a[i].params, &b[i].params);
	}
}

static void assert_strv_equal(const struct strv *a, const struct strv *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

/* Everything but where things are written. */
static void assert_scenarios_equal(const struct scenario *a, const struct scenario *b)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->title, b->title);
	assert_string_equal(a->briefing, b->briefing);
	assert_string_equal(a->root, b->root);
	assert_string_equal(a->runbook, b->runbook);
	assert_string_equal(a->runbook_path, b->runbook_path);
	assert_int_equal(a->day, b->day);
	assert_int_equal(a->difficulty, b->difficulty);
	assert_int_equal(a->par_seconds, b->par_seconds);
	assert_int_equal(a->time_limit_seconds, b->time_limit_seconds);
	assert_int_equal(a->symptom_timeout_seconds, b->symptom_timeout_seconds);
	assert_int_equal(a->stable_seconds, b->stable_seconds);
	assert_strv_equal(&a->skills, &b->skills);
	assert_strv_equal(&a->lab, &b->lab);
	assert_strv_equal(&a->solution, &b->solution);
	assert_strv_equal(&a->quiz, &b->quiz);
	assert_int_equal(a->ninject, b->ninject);
	assert_int_equal(a->nsymptoms, b->nsymptoms);
	assert_int_equal(a->nfixed_when, b->nfixed_when);
	assert_int_equal(a->nguards, b->nguards);
	assert_steps_equal(a->inject, b->inject, a->ninject);
	assert_steps_equal(a->symptoms, b->symptoms, a->nsymptoms);
	assert_steps_equal(a->fixed_when, b->fixed_when, a->nfixed_when);
	assert_steps_equal(a->guards, b->guards, a->nguards);
	assert_int_equal(a->nhints, b->nhints);
	for (size_t i = 0; i < a->nhints; i++) {
		assert_int_equal(a->hints[i].after_seconds, b->hints[i].after_seconds);
		assert_int_equal(a->hints[i].penalty, b->hints[i].penalty);
		assert_string_equal(a->hints[i].text, b->hints[i].text);
	}
	assert_int_equal(a->scoring.max_time_penalty, b->scoring.max_time_penalty);
	assert_num(a->scoring.time_penalty_at, b->scoring.time_penalty_at);
	assert_int_equal(a->scoring.partial_max, b->scoring.partial_max);
}

static void test_json_equals_yaml(void **state)
{
	static const char *const pairs[][2] = {
		{ "good/cpu-runaway.yaml", "good/cpu-runaway.json" },
		{ "good/zombie-minimal.yaml", "good/zombie-minimal.json" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct scenario *y = load_ok(data(pairs[i][0]));
		struct scenario *j = load_ok(data(pairs[i][1]));
		assert_scenarios_equal(y, j);
		/* marks differ, but each points into its own file */
		assert_true(j->inject[0].mark.line > 0 && y->inject[0].mark.line > 0);
		scenario_free(y);
		scenario_free(j);
	}
}

static void test_defaults(void **state)
{
	struct scenario *s = load_ok(data("good/zombie-minimal.yaml"));

	assert_int_equal(s->symptom_timeout_seconds, 30);
	assert_int_equal(s->stable_seconds, 3);
	assert_int_equal(s->scoring.max_time_penalty, 40);
	assert_num(s->scoring.time_penalty_at, 3);
	assert_int_equal(s->scoring.partial_max, 30);
	assert_int_equal(s->lab.n, 0);
	assert_int_equal(s->quiz.n, 0);
	assert_int_equal(s->nhints, 0);
	assert_int_equal(s->nguards, 0);
	assert_num(s->fixed_when[0].weight, 1);
	assert_false(params_isset(&s->inject[0].params, "count")); /* no default */
	assert_int_equal(params_int(&s->inject[0].params, "max", 0), 100);
	assert_string_equal(params_str(&s->inject[0].params, "name", NULL), "zombied");
	assert_int_equal(params_int(&s->symptoms[0].params, "min", 0), 5);
	scenario_free(s);
}

static void test_catalog_root_follows_the_path(void **state)
{
	char cwd[1024];
	struct scenario *s;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(data("good")), 0);
	s = load_ok("cpu-runaway.yaml");
	assert_string_equal(s->root, "..");
	assert_string_equal(s->runbook_path, "../runbooks/cpu-runaway.md");
	scenario_free(s);
	s = load_ok("./cpu-runaway.json");
	assert_string_equal(s->runbook_path, "../runbooks/cpu-runaway.md");
	scenario_free(s);
	s = load_ok("../good/zombie-minimal.yaml");
	assert_string_equal(s->root, "..");
	scenario_free(s);
	assert_int_equal(chdir(".."), 0);
	s = load_ok("good/zombie-minimal.json");
	assert_string_equal(s->root, ".");
	assert_string_equal(s->runbook_path, "./runbooks/zombie-minimal.md");
	scenario_free(s);
	assert_int_equal(chdir(cwd), 0);
}

static void test_load_buffer(void **state)
{
	struct cl_error err;
	size_t len;
	char *text = doc_read_file(data("good/cpu-runaway.json"), &len, &err);
	char *exact = malloc(len);
	struct scenario *a, *b;

	assert_non_null(text);
	/* the text need not be NUL-terminated */
	memcpy(exact, text, len);
	a = scenario_load_buffer(data("good/cpu-runaway.json"), exact, len, &err);
	assert_non_null(a);
	b = load_ok(data("good/cpu-runaway.json"));
	assert_scenarios_equal(a, b);
	scenario_free(a);
	scenario_free(b);

	/* the file name picks the syntax: this JSON is YAML too */
	a = scenario_load_buffer(data("good/cpu-runaway.yaml"), exact, len, &err);
	assert_non_null(a);
	scenario_free(a);
	/* and must match the id */
	assert_null(scenario_load_buffer(data("good/other.json"), exact, len, &err));
	assert_string_equal(err.path, "id");
	assert_string_equal(err.msg, "must match the file name 'other', got 'cpu-runaway'");
	free(exact);
	free(text);
}

static void test_errors_are_located(void **state)
{
	struct cl_error err;
	const char *path = data("bad/param-out-of-range.yaml");

	assert_null(scenario_load(path, &err));
	assert_int_equal(err.code, CL_EXIT_USAGE);
	assert_string_equal(err.file, path);
	assert_int_equal(err.mark.line, 14);
	assert_int_equal(err.mark.column, 38);
	assert_string_equal(err.path, "inject[0].with.load_percent");
	assert_string_equal(err.msg, "must be 1..100, got 150");

	assert_null(scenario_load(data("bad/no-such-file.yaml"), &err));
	assert_int_equal(err.errnum, ENOENT);
}

/* A section holds at most 1000 steps. */
static void test_step_limit(void **state)
{
	static const char step[] = "  - type: zombie-count\n    with: {max: 0}\n";
	struct cl_error err;
	size_t len, at;
	char *text = doc_read_file(data("good/zombie-minimal.yaml"), &len, &err);
	char *big, *p;
	struct scenario *s;

	assert_non_null(text);
	at = (size_t)(strstr(text, "fixed_when:\n") - text) + strlen("fixed_when:\n");
	big = malloc(len + 1000 * sizeof(step) + 1);
	for (int extra = 999; extra <= 1000; extra++) {
		p = big + sprintf(big, "%.*s", (int)at, text);
		for (int i = 0; i < extra; i++)
			p += sprintf(p, "%s", step);
		sprintf(p, "%s", text + at);
		s = scenario_load_buffer(data("good/zombie-minimal.yaml"), big, strlen(big), &err);
		if (extra == 999) {
			assert_non_null(s);
			assert_int_equal(s->nfixed_when, 1000);
			scenario_free(s);
		} else {
			assert_null(s);
			assert_string_equal(err.path, "fixed_when");
			assert_string_equal(err.msg, "more than 1000 steps");
			assert_int_equal(err.mark.line, 17 + 2 * 1000);
		}
	}
	free(big);
	free(text);
}

struct set_case {
	const char *assignment;
	const char *want; /* NULL: accepted */
};

static void test_apply_set(void **state)
{
	static const struct set_case cases[] = {
		{ "burner.workers=1", NULL },
		{ "burner.name=sleepy.d", NULL },
		{ "burner.respawn=true", NULL },
		{ "burner.nice=-5", NULL },
		{ "burner.workers",
		  "--set 'burner.workers': expected ID.PARAM=VALUE, e.g. burner.workers=1" },
		{ "workers=1",
		  "--set 'workers=1': expected ID.PARAM=VALUE, e.g. burner.workers=1" },
		{ ".workers=1",
		  "--set '.workers=1': expected ID.PARAM=VALUE, e.g. burner.workers=1" },
		{ "burner.=1",
		  "--set 'burner.=1': expected ID.PARAM=VALUE, e.g. burner.workers=1" },
		{ "burner=x.y",
		  "--set 'burner=x.y': expected ID.PARAM=VALUE, e.g. burner.workers=1" },
		{ "", "--set '': expected ID.PARAM=VALUE, e.g. burner.workers=1" },
		{ "burnr.workers=1",
		  "--set burnr.workers=1: no inject step 'burnr' in 'cpu-runaway' (did you mean 'burner'?)" },
		{ "stress.workers=1",
		  "--set stress.workers=1: no inject step 'stress' in 'cpu-runaway'" },
		{ "burner.wrkers=1",
		  "--set burner.wrkers: unknown parameter 'wrkers' (did you mean 'workers'?)" },
		{ "burner.workers=100", "--set burner.workers: must be 1..64, got 100" },
		{ "burner.workers=", "--set burner.workers: expected an integer, got ''" },
		{ "burner.workers=two", "--set burner.workers: expected an integer, got 'two'" },
		{ "burner.respawn=maybe",
		  "--set burner.respawn: expected true or false, got 'maybe'" },
		{ "burner.name=report-generator-daemon",
		  "--set burner.name: must be at most 15 characters, got 23 ('report-generator-daemon')" },
	};
	struct scenario *s = load_ok(data("good/cpu-runaway.yaml"));
	const struct params *p = &s->inject[0].params;
	struct cl_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = scenario_apply_set(s, cases[i].assignment, &err);
		if (!cases[i].want && rc)
			fail_msg("'%s' refused: %s", cases[i].assignment, fmt(&err));
		if (cases[i].want && !rc)
			fail_msg("'%s' accepted", cases[i].assignment);
		if (cases[i].want && strcmp(fmt(&err), cases[i].want))
			fail_msg("'%s':\n  want %s\n  got  %s", cases[i].assignment, cases[i].want,
				 fmt(&err));
	}
	/* the accepted ones took, the refused ones changed nothing */
	assert_int_equal(params_int(p, "workers", 0), 1);
	assert_true(params_get(p, "workers")->given);
	assert_string_equal(params_str(p, "name", NULL), "sleepy.d");
	assert_true(params_bool(p, "respawn", false));
	assert_int_equal(params_int(p, "nice", 0), -5);
	assert_int_equal(params_int(p, "load_percent", 0), 95);

	/* an over-long assignment is refused, not cut */
	char big[700];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "burner.name=", 12);
	assert_int_equal(scenario_apply_set(s, big, &err), -1);
	assert_string_equal(fmt(&err), "--set: longer than 511 characters");
	scenario_free(s);
}

static const char knobs_scenario[] = "id: knobs\n"
				     "title: Test descriptors\n"
				     "day: 1\n"
				     "skills: [test.registry]\n"
				     "difficulty: 1\n"
				     "par_seconds: 60\n"
				     "time_limit_seconds: 120\n"
				     "briefing: Nothing breaks.\n"
				     "inject:\n"
				     "  - id: k\n"
				     "    type: test-knobs\n"
				     "    with: {target: lamp, ratio: 0.5}\n"
				     "symptoms:\n"
				     "  - type: test-probe\n"
				     "    with: {injection: k}\n"
				     "fixed_when:\n"
				     "  - id: done\n"
				     "    type: test-probe\n"
				     "    with: {result: not-met}\n"
				     "guards:\n"
				     "  - type: test-probe\n"
				     "solution: [true]\n"
				     "runbook: runbooks/drill.md\n";

/* The scenario above, with one line replaced. */
static struct scenario *load_knobs(const char *from, const char *to, struct cl_error *err)
{
	char text[2048];
	const char *at = from ? strstr(knobs_scenario, from) : NULL;
	struct scenario *s;

	if (from && !at)
		fail_msg("'%s' not in the test scenario", from);
	if (at)
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - knobs_scenario), knobs_scenario,
			 to, at + strlen(from));
	else
		snprintf(text, sizeof(text), "%s", knobs_scenario);
	s = scenario_load_buffer(data("good/knobs.yaml"), text, strlen(text), err);
	return s;
}

static void test_registry_test_descriptors(void **state)
{
	const char *names[64];
	size_t n_injectors = 0, n_verifiers = 0, n;

	test_descriptors_unregister();
	assert_null(injector_find(TEST_KNOBS_INJECTOR));
	assert_null(verifier_find(TEST_PROBE_VERIFIER));
	while (injector_at(n_injectors))
		n_injectors++;
	while (verifier_at(n_verifiers))
		n_verifiers++;
	assert_true(n_injectors > 0 && n_verifiers > 0);

	test_descriptors_register();
	assert_ptr_equal(injector_find(TEST_KNOBS_INJECTOR), &test_knobs_injector);
	assert_ptr_equal(verifier_find(TEST_PROBE_VERIFIER), &test_probe_verifier);
	/* after the built-in ones, which stay */
	assert_ptr_equal(injector_at(n_injectors), &test_knobs_injector);
	assert_null(injector_at(n_injectors + 1));
	assert_ptr_equal(verifier_at(n_verifiers), &test_probe_verifier);
	assert_null(verifier_at(n_verifiers + 1));
	assert_non_null(injector_find("cpu-burner"));
	assert_null(injector_find(TEST_PROBE_VERIFIER));
	n = injector_names(names, 64);
	assert_int_equal(n, n_injectors + 1);
	assert_string_equal(names[n - 1], TEST_KNOBS_INJECTOR);
	assert_null(names[n]);
	n = verifier_names(names, 64);
	assert_string_equal(names[n - 1], TEST_PROBE_VERIFIER);
	/* a short buffer is cut and still NULL-terminated */
	assert_int_equal(injector_names(names, 2), 1);
	assert_null(names[1]);

	test_descriptors_unregister();
	assert_null(injector_find(TEST_KNOBS_INJECTOR));
	assert_null(injector_at(n_injectors));
}

static void test_scenario_with_test_descriptors(void **state)
{
	struct cl_error err;
	struct scenario *s;

	test_descriptors_register();
	s = load_knobs(NULL, NULL, &err);
	if (!s)
		fail_msg("%s", fmt(&err));
	assert_ptr_equal(s->inject[0].injector, &test_knobs_injector);
	assert_true(test_descriptor_calls.validate >= 1);
	const struct params *p = &s->inject[0].params;
	assert_string_equal(params_str(p, "target", NULL), "lamp");
	assert_int_equal(params_int(p, "count", 0), 1);
	assert_num(params_number(p, "ratio", 0), 0.5);
	assert_false(params_bool(p, "enabled", true));
	assert_string_equal(params_str(p, "label", NULL), "knob");
	assert_string_equal(params_str(p, "mode", NULL), "fast");
	assert_string_equal(params_str(&s->symptoms[0].params, "injection", NULL), "k");
	assert_string_equal(params_str(&s->fixed_when[0].params, "result", NULL), "not-met");
	assert_string_equal(s->fixed_when[0].id, "done");
	/* a guard without penalty or message gets 20 points and its type */
	assert_int_equal(s->guards[0].penalty, 20);
	assert_string_equal(s->guards[0].message, TEST_PROBE_VERIFIER);
	assert_null(s->guards[0].id);

	/* --set goes through the injector's validate(), and a refusal changes
	 * nothing */
	assert_int_equal(scenario_apply_set(s, "k.count=5", &err), 0);
	assert_int_equal(scenario_apply_set(s, "k.count=8", &err), -1);
	assert_string_equal(fmt(&err), "--set k.count=8: count above 5 needs mode slow");
	assert_int_equal(params_int(p, "count", 0), 5);
	assert_int_equal(scenario_apply_set(s, "k.label=too-long-label", &err), -1);
	assert_string_equal(params_str(p, "label", NULL), "knob");
	assert_int_equal(scenario_apply_set(s, "k.mode=slow", &err), 0);
	assert_int_equal(scenario_apply_set(s, "k.count=8", &err), 0);
	assert_int_equal(params_int(p, "count", 0), 8);
	assert_int_equal(scenario_apply_set(s, "k.mode=fast", &err), -1);
	assert_string_equal(params_str(p, "mode", NULL), "slow");
	assert_int_equal(scenario_apply_set(s, "k.threads=1", &err), -1);
	assert_string_equal(fmt(&err),
			    "--set k.threads: unknown parameter 'threads' (known: target, "
			    "count, ratio, enabled, label, mode)");
	scenario_free(s);
	test_descriptors_unregister();
}

static void test_test_descriptor_errors(void **state)
{
	/* with: mapping, expected error (set_case is the same shape) */
	static const struct set_case cases[] = {
		{ "{target: lamp, count: 6, ratio: 0.5}",
		  "knobs.yaml:12:11: inject[0].with: count above 5 needs mode slow" },
		{ "{ratio: 0.5}",
		  "knobs.yaml:12:11: inject[0].with: missing required parameter 'target' (string)" },
		{ "{target: lamp, mode: slw}",
		  "knobs.yaml:12:32: inject[0].with.mode: expected one of fast|slow|off, got 'slw' (did you mean 'slow'?)" },
	};
	struct cl_error err;
	char with[128];

	test_descriptors_register();
	/* the validate() hook at load, located at the with: mapping */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(with, sizeof(with), "    with: %s\n", cases[i].assignment);
		assert_null(load_knobs("    with: {target: lamp, ratio: 0.5}\n", with, &err));
		const char *got = strstr(fmt(&err), "knobs.yaml");
		if (!got || strcmp(got, cases[i].want))
			fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i].want, fmt(&err));
	}
	assert_null(load_knobs("    type: test-knobs\n", "    type: test-knob\n", &err));
	assert_string_equal(err.msg, "unknown injector 'test-knob' (did you mean 'test-knobs'?)");
	assert_null(load_knobs("    with: {injection: k}\n", "    with: {injection: kk}\n", &err));
	assert_string_equal(err.path, "symptoms[0].with.injection");
	assert_string_equal(err.msg, "unknown injection 'kk' (did you mean 'k'?)");
	assert_null(load_knobs("  - type: test-probe\nsolution",
			       "  - type: test-probe\n"
			       "    with: {service: demo-api}\nsolution",
			       &err));
	assert_string_equal(err.msg, "service 'demo-api' is not in this scenario's lab: list");
	assert_null(load_knobs("  - id: done\n", "  - id: k\n", &err));
	assert_string_equal(err.path, "fixed_when[0].id");
	assert_string_equal(err.msg, "duplicate step id 'k' (first used by inject[0])");

	/* gone again once unregistered */
	test_descriptors_unregister();
	assert_null(load_knobs(NULL, NULL, &err));
	assert_string_equal(err.path, "inject[0].type");
	assert_string_equal(err.msg,
			    "unknown injector 'test-knobs' ('chaoslab show types' lists them)");
}

/* The lab service names a scenario may list, the lab-service injector's
 * choices and the service table agree: every name has a service, and the
 * injector offers exactly those. */
static void test_lab_service_names_agree(void **state)
{
	const struct injector *ls = injector_find("lab-service");
	size_t n = 0;

	(void)state;
	assert_string_equal(scenario_lab_services[0], "network");
	for (; lab_service_names[n]; n++) {
		const struct lab_service *svc = lab_service_find(lab_service_names[n]);

		assert_non_null(svc);
		assert_string_equal(svc->name, lab_service_names[n]);
		assert_non_null(svc->main);
		assert_string_equal(scenario_lab_services[n + 1], lab_service_names[n]);
	}
	assert_true(n >= 3);
	assert_null(scenario_lab_services[n + 1]);
	assert_non_null(ls);
	assert_string_equal(ls->params[0].name, "service");
	assert_ptr_equal(ls->params[0].choices, lab_service_names);
	assert_null(lab_service_find("network"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab_service_names_agree),
		cmocka_unit_test(test_full_yaml_model),
		cmocka_unit_test(test_json_equals_yaml),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_catalog_root_follows_the_path),
		cmocka_unit_test(test_load_buffer),
		cmocka_unit_test(test_errors_are_located),
		cmocka_unit_test(test_step_limit),
		cmocka_unit_test(test_apply_set),
		cmocka_unit_test(test_registry_test_descriptors),
		cmocka_unit_test(test_scenario_with_test_descriptors),
		cmocka_unit_test(test_test_descriptor_errors),
	};

	src = getenv("CHAOSLAB_SRC");
	if (!src || !*src) {
		fprintf(stderr,
			"test_scenario: skipped: CHAOSLAB_SRC is not set (ctest sets it)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
