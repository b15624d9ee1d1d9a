/* Tests of harness/core/param.c: a `with:` mapping checked against a
 * parameter table (types, bounds, defaults, required, enums, unknown names)
 * and --set overrides through params_set_text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/param.h"

static const char *const colours[] = { "red", "green", "blue", NULL };

static const struct param_spec spec[] = {
	{ "workers", PARAM_INT, false, "1", 1, 64, NULL, "an integer with bounds" },
	{ "offset", PARAM_INT, false, NULL, 0, 0, NULL, "an integer without bounds" },
	{ "ratio", PARAM_NUMBER, false, NULL, 0.5, 2.5, NULL, "a number with bounds" },
	{ "scale", PARAM_NUMBER, false, "1.5", 0, 0, NULL, "a number without bounds" },
	{ "respawn", PARAM_BOOL, false, "false", 0, 0, NULL, "a boolean" },
	{ "name", PARAM_STRING, false, "cpuburn", 0, 15, NULL, "a string of at most 15" },
	{ "colour", PARAM_ENUM, false, "red", 0, 0, colours, "an enum" },
	{ "target", PARAM_STRING, true, NULL, 0, 0, NULL, "a required string" },
	{ .name = NULL },
};

static const struct param_spec empty_spec[] = { { .name = NULL } };

struct fixture {
	struct doc_node *doc;
	struct params p;
	struct cl_error err;
	char buf[2048];
};

/* Parse "with" YAML text into f->doc and check it against sp. */
static int check(struct fixture *f, const struct param_spec *sp, const char *text)
{
	static const struct cl_mark owner = { 7, 3 };

	doc_free(f->doc);
	f->doc = NULL;
	params_release(&f->p);
	if (text) {
		f->doc = doc_parse_yaml("t.yaml", text, strlen(text), &f->err);
		assert_non_null(f->doc);
	}
	return params_from_doc(&f->p, sp, f->doc, "t.yaml", &owner, "inject[0].with", &f->err);
}

static const char *msg(struct fixture *f)
{
	return cl_error_format(&f->err, f->buf, sizeof(f->buf));
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	doc_free(f->doc);
	params_release(&f->p);
	free(f);
	return 0;
}

static void test_spec_count_and_describe(void **state)
{
	char buf[64];

	assert_int_equal(param_spec_count(spec), 8);
	assert_int_equal(param_spec_count(empty_spec), 0);
	assert_int_equal(param_spec_count(NULL), 0);
	assert_string_equal(param_type_describe(&spec[0], buf, sizeof(buf)), "integer");
	assert_string_equal(param_type_describe(&spec[2], buf, sizeof(buf)), "number");
	assert_string_equal(param_type_describe(&spec[4], buf, sizeof(buf)), "boolean");
	assert_string_equal(param_type_describe(&spec[5], buf, sizeof(buf)), "string");
	assert_string_equal(param_type_describe(&spec[6], buf, sizeof(buf)),
			    "one of red|green|blue");
	/* a short buffer is cut, not overrun */
	assert_string_equal(param_type_describe(&spec[6], buf, 12), "one of red|");
}

static void test_values_and_types(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
		check(f, spec,
		      "{workers: 4, offset: -12, ratio: 0.75, scale: -3e2, respawn: true,\n"
		      " name: \"re\", colour: blue, target: api}"),
		0);
	assert_int_equal(params_int(&f->p, "workers", 0), 4);
	assert_int_equal(params_int(&f->p, "offset", 0), -12);
	assert_true(fabs(params_number(&f->p, "ratio", 0) - 0.75) < 1e-12);
	assert_true(fabs(params_number(&f->p, "scale", 0) + 300) < 1e-12);
	assert_true(params_bool(&f->p, "respawn", false));
	assert_string_equal(params_str(&f->p, "name", NULL), "re");
	assert_string_equal(params_str(&f->p, "colour", NULL), "blue");
	assert_string_equal(params_str(&f->p, "target", NULL), "api");
	/* an integer reads as a number too */
	assert_true(params_number(&f->p, "workers", 0) == 4.0);

	const struct param_value *v = params_get(&f->p, "ratio");
	assert_non_null(v);
	assert_true(v->given && v->set);
	assert_int_equal(v->mark.line, 1);
	assert_int_equal(v->mark.column, 34);
	assert_ptr_equal(v->spec, &spec[2]);
	assert_null(params_get(&f->p, "nope"));

	/* yes/no, True/False spellings of booleans */
	assert_int_equal(check(f, spec, "{respawn: yes, target: x}"), 0);
	assert_true(params_bool(&f->p, "respawn", false));
	assert_int_equal(check(f, spec, "{respawn: False, target: x}"), 0);
	assert_false(params_bool(&f->p, "respawn", true));
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	const struct param_value *v;

	assert_int_equal(check(f, spec, "target: x\n"), 0);
	assert_int_equal(params_int(&f->p, "workers", 99), 1);
	assert_true(fabs(params_number(&f->p, "scale", 0) - 1.5) < 1e-12);
	assert_false(params_bool(&f->p, "respawn", true));
	assert_string_equal(params_str(&f->p, "name", NULL), "cpuburn");
	assert_string_equal(params_str(&f->p, "colour", NULL), "red");
	v = params_get(&f->p, "workers");
	assert_true(v->set);
	assert_false(v->given);
	assert_true(params_isset(&f->p, "workers"));

	/* no default: unset, and the accessors give the fallback */
	assert_false(params_isset(&f->p, "offset"));
	assert_false(params_isset(&f->p, "ratio"));
	assert_false(params_isset(&f->p, "nope"));
	assert_int_equal(params_int(&f->p, "offset", -7), -7);
	assert_true(params_number(&f->p, "ratio", 9.5) == 9.5);

	/* no `with:` at all, or `with: ~`, mean "no parameters" */
	assert_int_equal(check(f, empty_spec, NULL), 0);
	assert_int_equal(f->p.count, 0);
	assert_int_equal(check(f, empty_spec, "~"), 0);
}

static void test_required(void **state)
{
	struct fixture *f = *state;

	/* located at the with: mapping when there is one, else at the step */
	assert_int_equal(check(f, spec, "\n  {workers: 2}"), -1);
	assert_string_equal(msg(f), "t.yaml:2:3: inject[0].with: missing required parameter "
				    "'target' (string)");
	assert_int_equal(check(f, spec, NULL), -1);
	assert_string_equal(msg(f), "t.yaml:7:3: inject[0].with: missing required parameter "
				    "'target' (string)");
	/* a failed check leaves nothing to release */
	assert_null(f->p.values);
	assert_int_equal(f->p.count, 0);
}

struct bad_case {
	const char *with;
	const char *want;
};

static void test_bad_values(void **state)
{
	static const struct bad_case cases[] = {
		{ "{target: x, workers: 150}",
		  "t.yaml:1:22: inject[0].with.workers: must be 1..64, got 150" },
		{ "{target: x, workers: 0}",
		  "t.yaml:1:22: inject[0].with.workers: must be 1..64, got 0" },
		{ "{target: x, workers: 99999999999999999999}",
		  "t.yaml:1:22: inject[0].with.workers: must be 1..64, got 99999999999999999999" },
		{ "{target: x, offset: 99999999999999999999}",
		  "t.yaml:1:21: inject[0].with.offset: integer out of range, got 99999999999999999999" },
		{ "{target: x, workers: two}",
		  "t.yaml:1:22: inject[0].with.workers: expected an integer, got 'two'" },
		{ "{target: x, workers: \"2\"}",
		  "t.yaml:1:22: inject[0].with.workers: expected an integer, got string '2'" },
		{ "{target: x, workers: 2.5}",
		  "t.yaml:1:22: inject[0].with.workers: expected an integer, got '2.5'" },
		{ "{target: x, workers: ~}",
		  "t.yaml:1:22: inject[0].with.workers: expected an integer, got null" },
		{ "{target: x, workers: [1]}",
		  "t.yaml:1:22: inject[0].with.workers: expected an integer, got a sequence" },
		{ "{target: x, ratio: 3}",
		  "t.yaml:1:20: inject[0].with.ratio: must be 0.5..2.5, got 3" },
		{ "{target: x, ratio: 0.25}",
		  "t.yaml:1:20: inject[0].with.ratio: must be 0.5..2.5, got 0.25" },
		{ "{target: x, ratio: nan}",
		  "t.yaml:1:20: inject[0].with.ratio: expected a number, got 'nan'" },
		{ "{target: x, scale: inf}",
		  "t.yaml:1:20: inject[0].with.scale: expected a number, got 'inf'" },
		{ "{target: x, scale: 0x10}",
		  "t.yaml:1:20: inject[0].with.scale: expected a number, got '0x10'" },
		{ "{target: x, scale: 1e999}",
		  "t.yaml:1:20: inject[0].with.scale: number out of range, got 1e999" },
		{ "{target: x, ratio: \"1\"}",
		  "t.yaml:1:20: inject[0].with.ratio: expected a number, got string '1'" },
		{ "{target: x, respawn: maybe}",
		  "t.yaml:1:22: inject[0].with.respawn: expected true or false, got 'maybe'" },
		{ "{target: x, respawn: \"true\"}",
		  "t.yaml:1:22: inject[0].with.respawn: expected true or false, got string 'true'" },
		{ "{target: x, respawn: {a: b}}",
		  "t.yaml:1:22: inject[0].with.respawn: expected true or false, got a mapping" },
		{ "{target: x, name: \"\"}",
		  "t.yaml:1:19: inject[0].with.name: must not be empty" },
		{ "{target: x, name: report-generator-daemon}",
		  "t.yaml:1:19: inject[0].with.name: must be at most 15 characters, got 23 ('report-generator-daemon')" },
		{ "{target: x, name: [a]}",
		  "t.yaml:1:19: inject[0].with.name: expected a string, got a sequence" },
		{ "{target: x, colour: gren}",
		  "t.yaml:1:21: inject[0].with.colour: expected one of red|green|blue, got 'gren' (did you mean 'green'?)" },
		{ "{target: x, colour: purple}",
		  "t.yaml:1:21: inject[0].with.colour: expected one of red|green|blue, got 'purple'" },
		{ "{target: x, colour: 7}",
		  "t.yaml:1:21: inject[0].with.colour: expected one of red|green|blue, got '7'" },
		{ "{target: x, workrs: 2}",
		  "t.yaml:1:13: inject[0].with.workrs: unknown parameter 'workrs' (did you mean 'workers'?)" },
		{ "{target: x, threads: 2}",
		  "t.yaml:1:13: inject[0].with.threads: unknown parameter 'threads' (known: workers, offset, ratio, scale, respawn, name, colour, target)" },
		{ "[workers, 2]",
		  "t.yaml:1:1: inject[0].with: expected a mapping, got a sequence" },
		{ "workers", "t.yaml:1:1: inject[0].with: expected a mapping, got a string" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (check(f, spec, cases[i].with) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].with);
		if (strcmp(msg(f), cases[i].want))
			fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i].want, msg(f));
	}
}

static void test_no_parameters(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(check(f, empty_spec, "{x: 1}"), -1);
	assert_string_equal(msg(f),
			    "t.yaml:1:2: inject[0].with.x: unknown parameter 'x' (this type "
			    "takes no parameters)");
}

static void test_set_text(void **state)
{
	struct fixture *f = *state;
	const struct param_value *v;

	assert_int_equal(check(f, spec, "{target: x, workers: 4, name: re}"), 0);
	v = params_get(&f->p, "workers");
	struct cl_mark was = v->mark;

	assert_int_equal(params_set_text(&f->p, "workers", "8", "--set burner", &f->err), 0);
	assert_int_equal(params_int(&f->p, "workers", 0), 8);
	assert_true(v->given && v->set);
	assert_int_equal(v->mark.line, was.line); /* still points at the file */
	assert_int_equal(params_set_text(&f->p, "ratio", "2", "--set burner", &f->err), 0);
	assert_true(params_isset(&f->p, "ratio"));
	assert_int_equal(params_set_text(&f->p, "respawn", "true", "--set burner", &f->err), 0);
	assert_true(params_bool(&f->p, "respawn", false));
	/* --set text has no quoting: a string takes it as written */
	assert_int_equal(params_set_text(&f->p, "name", "\"q\"", "--set burner", &f->err), 0);
	assert_string_equal(params_str(&f->p, "name", NULL), "\"q\"");
	assert_int_equal(params_set_text(&f->p, "colour", "green", "--set burner", &f->err), 0);
	assert_string_equal(params_str(&f->p, "colour", NULL), "green");

	/* errors name the --set and leave the value as it was */
	assert_int_equal(params_set_text(&f->p, "workers", "100", "--set burner", &f->err), -1);
	assert_string_equal(msg(f), "--set burner.workers: must be 1..64, got 100");
	assert_int_equal(params_int(&f->p, "workers", 0), 8);
	assert_int_equal(params_set_text(&f->p, "workers", "", "--set burner", &f->err), -1);
	assert_string_equal(msg(f), "--set burner.workers: expected an integer, got ''");
	assert_int_equal(params_set_text(&f->p, "colour", "bleu", "--set burner", &f->err), -1);
	assert_string_equal(msg(f),
			    "--set burner.colour: expected one of red|green|blue, got 'bleu' "
			    "(did you mean 'blue'?)");
	assert_string_equal(params_str(&f->p, "colour", NULL), "green");
	assert_int_equal(params_set_text(&f->p, "name", "", "--set burner", &f->err), -1);
	assert_string_equal(params_str(&f->p, "name", NULL), "\"q\"");
	assert_int_equal(params_set_text(&f->p, "wrokers", "1", "--set burner", &f->err), -1);
	assert_string_equal(msg(f),
			    "--set burner.wrokers: unknown parameter 'wrokers' (did you mean "
			    "'workers'?)");
}

static void test_release_twice(void **state)
{
	struct params p;

	memset(&p, 0, sizeof(p));
	params_release(&p);
	params_release(&p);
	params_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_count_and_describe),
		cmocka_unit_test_setup_teardown(test_values_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_text, setup, teardown),
		cmocka_unit_test(test_release_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
