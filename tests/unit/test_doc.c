/* Tests of harness/core/doc.c: YAML and JSON into one marked tree, marks on
 * nodes and keys, scalar kinds, duplicate keys, the depth limit, and where
 * and how syntax errors are reported. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"

static struct doc_node *yaml(const char *text, struct cl_error *err)
{
	return doc_parse_yaml("t.yaml", text, strlen(text), err);
}

static struct doc_node *json(const char *text, struct cl_error *err)
{
	return doc_parse_json("t.json", text, strlen(text), err);
}

static const char *fmt(const struct cl_error *err)
{
	static char buf[2048];

	return cl_error_format(err, buf, sizeof(buf));
}

#define assert_mark(mk, l, c)                       \
	do {                                        \
		assert_int_equal((mk).line, (l));   \
		assert_int_equal((mk).column, (c)); \
	} while (0)

static void test_yaml_tree_and_marks(void **state)
{
	struct cl_error err;
	struct doc_node *root = yaml("# c\n"
				     "id: x\n"
				     "inject:\n"
				     "  - id: burner\n"
				     "    with: {workers: 2, name: \"re\"}\n",
				     &err);
	struct doc_node *inj, *step, *with;
	size_t idx = 99;

	assert_non_null(root);
	assert_int_equal(root->kind, DOC_MAP);
	assert_int_equal(root->len, 2);
	assert_string_equal(root->keys[0], "id");
	assert_mark(root->key_marks[0], 2, 1);
	assert_mark(root->items[0]->mark, 2, 5);
	assert_string_equal(root->items[0]->text, "x");

	inj = doc_map_get(root, "inject", &idx);
	assert_int_equal(idx, 1);
	assert_mark(root->key_marks[1], 3, 1);
	assert_int_equal(inj->kind, DOC_SEQ);
	assert_int_equal(inj->len, 1);
	step = inj->items[0];
	assert_int_equal(step->kind, DOC_MAP);
	assert_mark(step->mark, 4, 5);
	with = doc_map_get(step, "with", NULL);
	assert_mark(with->mark, 5, 11);
	assert_mark(with->key_marks[1], 5, 24);
	assert_mark(doc_map_get(with, "workers", NULL)->mark, 5, 21);
	assert_int_equal(doc_map_get(with, "workers", NULL)->style, DOC_PLAIN);
	assert_int_equal(doc_map_get(with, "name", NULL)->style, DOC_QUOTED);
	assert_null(doc_map_get(with, "nope", NULL));
	assert_null(doc_map_get(inj, "id", NULL)); /* not a map */
	doc_free(root);
}

static void test_yaml_scalar_kinds(void **state)
{
	struct cl_error err;
	struct doc_node *root = yaml("a: 12\nb: -3.5\nc: true\nd: ~\ne:\nf: \"12\"\ng: text\n"
				     "h: [1]\ni: {}\nj: 'null'\nk: 1e3\nl: False\n",
				     &err);
	static const char *const want[][2] = {
		{ "a", "integer" }, { "b", "number" }, { "c", "boolean" }, { "d", "null" },
		{ "e", "null" },    { "f", "string" }, { "g", "string" },  { "h", "sequence" },
		{ "i", "mapping" }, { "j", "string" }, { "k", "number" },  { "l", "boolean" },
	};

	assert_non_null(root);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct doc_node *n = doc_map_get(root, want[i][0], NULL);
		assert_non_null(n);
		assert_string_equal(doc_kind_name(n), want[i][1]);
	}
	assert_true(doc_is_null(doc_map_get(root, "d", NULL)));
	assert_true(doc_is_null(doc_map_get(root, "e", NULL)));
	assert_false(doc_is_null(doc_map_get(root, "j", NULL)));
	assert_false(doc_is_null(doc_map_get(root, "h", NULL)));
	assert_false(doc_is_null(NULL));
	assert_string_equal(doc_kind_name(NULL), "nothing");
	doc_free(root);
}

static void test_json_tree_and_marks(void **state)
{
	struct cl_error err;
	/* columns count characters, not bytes: "é" is one column */
	struct doc_node *root = json("{\n"
				     "  \"title\": \"caf\xc3\xa9\", \"day\": 3,\n"
				     "  \"skills\": [\"a.b\",\n"
				     "    true, null, -1.5e2]\n"
				     "}\n",
				     &err);
	const struct doc_node *skills;

	assert_non_null(root);
	assert_int_equal(root->kind, DOC_MAP);
	assert_mark(root->mark, 1, 1);
	assert_int_equal(root->len, 3);
	assert_mark(root->key_marks[0], 2, 3);
	assert_mark(root->items[0]->mark, 2, 12);
	assert_string_equal(root->items[0]->text, "caf\xc3\xa9");
	assert_int_equal(root->items[0]->style, DOC_QUOTED);
	assert_mark(root->key_marks[1], 2, 20);
	assert_mark(root->items[1]->mark, 2, 27);
	assert_string_equal(root->items[1]->text, "3");
	assert_int_equal(root->items[1]->style, DOC_PLAIN);
	assert_string_equal(doc_kind_name(root->items[1]), "integer");

	skills = doc_map_get(root, "skills", NULL);
	assert_int_equal(skills->kind, DOC_SEQ);
	assert_mark(skills->mark, 3, 13);
	assert_int_equal(skills->len, 4);
	assert_mark(skills->items[1]->mark, 4, 5);
	assert_string_equal(doc_kind_name(skills->items[1]), "boolean");
	assert_mark(skills->items[2]->mark, 4, 11);
	assert_true(doc_is_null(skills->items[2]));
	assert_mark(skills->items[3]->mark, 4, 17);
	assert_string_equal(skills->items[3]->text, "-1.5e2");
	assert_string_equal(doc_kind_name(skills->items[3]), "number");
	doc_free(root);
}

static void test_json_escapes_bom_and_length(void **state)
{
	struct cl_error err;
	struct doc_node *root;
	const char text[] = "{\"a\": \"x\\ty\\u00e9\\ud83d\\ude00\", \"b\": [{}, []]}garbage";

	/* the length bounds the text: "garbage" is past it */
	root = doc_parse_json("t.json", text, strlen(text) - 7, &err);
	assert_non_null(root);
	assert_string_equal(doc_map_get(root, "a", NULL)->text, "x\ty\xc3\xa9\xf0\x9f\x98\x80");
	assert_mark(root->key_marks[1], 1, 33);
	doc_free(root);

	/* a UTF-8 byte order mark is skipped and does not count as a column */
	root = json("\xef\xbb\xbf{\"a\": 1}", &err);
	assert_non_null(root);
	assert_mark(root->mark, 1, 1);
	assert_mark(root->key_marks[0], 1, 2);
	doc_free(root);

	/* a top-level scalar is a document too (the scenario layer refuses it) */
	root = json("  42 \n", &err);
	assert_non_null(root);
	assert_int_equal(root->kind, DOC_SCALAR);
	assert_mark(root->mark, 1, 3);
	doc_free(root);
}

static void test_duplicate_keys(void **state)
{
	struct cl_error err;

	assert_null(yaml("a: 1\nb:\n  c: [1, {d: 2,\n     d: 3}]\n", &err));
	assert_string_equal(fmt(&err), "t.yaml:4:6: b.c[1].d: duplicate key 'd' (first at line 3)");
	assert_null(yaml("a: 1\na: 2\n", &err));
	assert_string_equal(fmt(&err), "t.yaml:2:1: a: duplicate key 'a' (first at line 1)");
	assert_null(json("{\"x\": [0, {\"k\": 1,\n \"k\": 2}]}", &err));
	assert_string_equal(fmt(&err), "t.json:2:2: x[1].k: duplicate key 'k' (first at line 1)");
	/* the same key in different mappings is fine */
	struct doc_node *ok = yaml("a: {k: 1}\nb: {k: 2}\n", &err);
	assert_non_null(ok);
	doc_free(ok);
}

/* depth 0 is the root; nodes deeper than 64 are refused */
static char *nested(const char *open, const char *close, int levels)
{
	char *s = malloc((size_t)levels * 2 + 1), *p = s;

	for (int i = 0; i < levels; i++)
		*p++ = *open;
	for (int i = 0; i < levels; i++)
		*p++ = *close;
	*p = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	struct cl_error err;
	struct doc_node *n;
	char *s;

	s = nested("[", "]", 65);
	n = yaml(s, &err);
	assert_non_null(n);
	doc_free(n);
	n = json(s, &err);
	assert_non_null(n);
	doc_free(n);
	free(s);

	s = nested("[", "]", 66);
	assert_null(yaml(s, &err));
	assert_string_equal(fmt(&err), "t.yaml:1:66: nesting deeper than 64 levels");
	assert_null(json(s, &err));
	assert_string_equal(fmt(&err),
			    "t.json:1:66: JSON syntax error: nesting deeper than 64 levels");
	free(s);

	/* far deeper than any parser stack should go: refused, not crashed */
	s = nested("{", "}", 100000);
	assert_null(json(s, &err));
	free(s);
	s = nested("[", "]", 100000);
	assert_null(yaml(s, &err));
	free(s);
}

struct syntax_case {
	const char *text;
	const char *want;
};

static void test_json_syntax_errors(void **state)
{
	static const struct syntax_case cases[] = {
		{ "{\"a\": 1",
		  "t.json:1:8: JSON syntax error: unexpected end of file: the '{' at line 1, column 1 is not closed" },
		{ "{\"a\": 1\n \"b\": 2}",
		  "t.json:2:2: JSON syntax error: expected ',' or '}', got '\"b\"' (a comma missing?)" },
		{ "{\"a\": 1,\n}", "t.json:1:8: JSON syntax error: trailing comma before '}'" },
		{ "[1, 2, ]", "t.json:1:6: JSON syntax error: trailing comma before ']'" },
		{ "{\"a\": \"xy",
		  "t.json:1:7: JSON syntax error: string not closed before the end of the file" },
		{ "{\"a\": \"x\ny\"}",
		  "t.json:1:9: JSON syntax error: line break inside a string (write it as \\n, or is a closing '\"' missing?)" },
		{ "{\"a\": \"x\ty\"}",
		  "t.json:1:9: JSON syntax error: tab inside a string (write it as \\t)" },
		{ "{'a': 1}",
		  "t.json:1:2: JSON syntax error: keys take double quotes (\"), not single quotes" },
		{ "{\"a\": 'x'}",
		  "t.json:1:7: JSON syntax error: strings take double quotes (\"), not single quotes" },
		{ "{a: 1}",
		  "t.json:1:2: JSON syntax error: expected a key in double quotes, got 'a'" },
		{ "{\"a\" 1}",
		  "t.json:1:6: JSON syntax error: expected ':' after the key, got '1'" },
		{ "{\"a\": tru}",
		  "t.json:1:7: JSON syntax error: expected a value, got 'tru' (did you mean 'true'?)" },
		{ "{\"a\": True}",
		  "t.json:1:7: JSON syntax error: expected a value, got 'True' (did you mean 'true'?)" },
		{ "{\"a\": hello}",
		  "t.json:1:7: JSON syntax error: expected a value, got 'hello' (strings take double quotes)" },
		{ "{\"a\": 01}", "t.json:1:7: JSON syntax error: invalid number '01'" },
		{ "{\"a\": 1.}", "t.json:1:7: JSON syntax error: invalid number '1.'" },
		{ "{\"a\": -}", "t.json:1:7: JSON syntax error: invalid number '-'" },
		{ "{\"a\": 1e}", "t.json:1:7: JSON syntax error: invalid number '1e'" },
		{ "{\"a\": .5}", "t.json:1:7: JSON syntax error: expected a value, got '.5'" },
		{ "{\"a\": +1}", "t.json:1:7: JSON syntax error: expected a value, got '+1'" },
		{ "{\"a\": \"\\q\"}",
		  "t.json:1:8: JSON syntax error: invalid escape '\\q' in a string" },
		{ "{\"a\": \"\\\xc3\xa9\"}",
		  "t.json:1:8: JSON syntax error: invalid escape: '\\' followed by byte 0xc3" },
		{ "{\"a\": \"\\u12g4\"}",
		  "t.json:1:8: JSON syntax error: invalid escape: \\u takes four hex digits" },
		{ "{\"a\": \"\\ud800x\"}",
		  "t.json:1:8: JSON syntax error: invalid escape: unpaired UTF-16 surrogate \\ud800" },
		{ "{\"a\": \"\\udc00\"}",
		  "t.json:1:8: JSON syntax error: invalid escape: unpaired UTF-16 surrogate \\udc00" },
		{ "{\"a\": 1} x",
		  "t.json:1:10: JSON syntax error: unexpected 'x' after the end of the top-level value" },
		{ "{\"a\": 1}}",
		  "t.json:1:9: JSON syntax error: unexpected '}' after the end of the top-level value" },
		{ "{\"a\": [1, 2}",
		  "t.json:1:12: JSON syntax error: expected ',' or ']', got '}' (the '[' at line 1, column 7 is not closed)" },
		{ "{\"a\": [}",
		  "t.json:1:8: JSON syntax error: expected a value, got '}' (the '[' at line 1, column 7 is not closed)" },
		{ "// c\n{}", "t.json:1:1: JSON syntax error: comments are not allowed in JSON" },
		{ "{\"a\": 1 /* c */}",
		  "t.json:1:9: JSON syntax error: comments are not allowed in JSON" },
		{ "{\"a\":\x0c"
		  "1}",
		  "t.json:1:6: JSON syntax error: control character 0x0c is not allowed here" },
		{ "{\"a\": \"\xff\"}", "t.json:1:8: JSON syntax error: invalid UTF-8 (byte 0xff)" },
		{ "{\"a\": \"\xc0\xaf\"}",
		  "t.json:1:8: JSON syntax error: invalid UTF-8 (byte 0xc0)" },
		{ "{\"a\": \"\xed\xa0\x80\"}",
		  "t.json:1:8: JSON syntax error: invalid UTF-8 (byte 0xed)" },
		{ "{\n  \"a\": [\n    1,\n",
		  "t.json:3:7: JSON syntax error: unexpected end of file: the '[' at line 2, column 8 is not closed" },
		{ "", "t.json:1:1: file is empty" },
		{ " \n\t ", "t.json:1:1: file is empty" },
		{ "{\"a\": 1234567890123456789012345678901234567890123456789012345678901234}",
		  "t.json:1:7: JSON syntax error: number longer than 63 characters" },
	};
	struct cl_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct doc_node *n = json(cases[i].text, &err);
		if (n)
			fail_msg("case %zu parsed: %s", i, cases[i].text);
		if (strcmp(fmt(&err), cases[i].want))
			fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i].want, fmt(&err));
	}
}

static void test_json_nul_byte(void **state)
{
	struct cl_error err;
	const char text[] = "{\"a\":\n \"b\0c\"}";

	assert_null(doc_parse_json("t.json", text, sizeof(text) - 1, &err));
	assert_string_equal(fmt(&err), "t.json:2:4: JSON syntax error: NUL byte in file");
	assert_null(doc_parse_yaml("t.yaml", text, sizeof(text) - 1, &err));
	assert_string_equal(fmt(&err), "t.yaml:2:4: YAML syntax error: NUL byte in file");
}

static void test_yaml_syntax_errors(void **state)
{
	static const struct syntax_case cases[] = {
		{ "a: [1, 2\nb: 3\n",
		  "t.yaml:2:2: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence started at line 1, column 4" },
		{ "a: \"abc\nb: 3\n",
		  "t.yaml:3:1: YAML syntax error: found unexpected end of stream while scanning a quoted scalar started at line 1, column 4" },
		{ "a:\n\tb: 1\n",
		  "t.yaml:2:1: YAML syntax error: tab character; indent with spaces" },
		{ "a: The box: slow\n",
		  "t.yaml:1:11: YAML syntax error: unexpected ':' (quote a value that holds ': ', or check the indentation)" },
		{ "a: @x\n",
		  "t.yaml:1:4: YAML syntax error: '@' cannot start a plain value; put the value in quotes" },
		{ "a:\n  - 1\n - 2\n",
		  "t.yaml:3:2: YAML syntax error: did not find expected key (check the indentation) while parsing a block mapping started at line 1, column 1" },
		{ "a: \xff\n", "t.yaml:1:4: YAML syntax error: invalid UTF-8 (byte 0xff)" },
		{ "a: b\x1b\n",
		  "t.yaml:1:5: YAML syntax error: control character 0x1b is not allowed" },
		{ "a: 1\n---\nb: 2\n",
		  "t.yaml:2:1: more than one YAML document; a scenario file holds one" },
		{ "", "t.yaml:1:1: file is empty" },
		{ "\n  \n", "t.yaml:1:1: file is empty" },
		{ "# just a comment\n", "t.yaml:1:1: file holds only comments, no scenario" },
		{ "a: &x 1\n",
		  "t.yaml:1:4: YAML anchors (&x) are not supported; write the value out" },
		{ "a: 1\nb: *x\n",
		  "t.yaml:2:4: YAML aliases (*x) are not supported; write the value out" },
		{ "&k a: 1\n",
		  "t.yaml:1:1: YAML anchors (&k) are not supported; write the value out" },
		{ "a: !!str 3\n", "t.yaml:1:4: YAML tags (!!str) are not supported" },
		{ "a: !local x\n", "t.yaml:1:4: YAML tags (!local) are not supported" },
		{ "a:\n  ? [b]\n  : c\n",
		  "t.yaml:2:5: a: mapping keys must be strings, got a sequence" },
	};
	struct cl_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct doc_node *n = yaml(cases[i].text, &err);
		if (n)
			fail_msg("case %zu parsed: %s", i, cases[i].text);
		if (strcmp(fmt(&err), cases[i].want))
			fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i].want, fmt(&err));
	}
}

static void test_yaml_accepts(void **state)
{
	struct cl_error err;
	struct doc_node *n;

	/* a directive and explicit document markers, a BOM, a flow trailing comma */
	n = yaml("\xef\xbb\xbf%YAML 1.1\n---\na: [1,]\nb: |\n  two\n  lines\n...\n", &err);
	assert_non_null(n);
	assert_int_equal(doc_map_get(n, "a", NULL)->len, 1);
	assert_string_equal(doc_map_get(n, "b", NULL)->text, "two\nlines\n");
	assert_int_equal(doc_map_get(n, "b", NULL)->style, DOC_QUOTED);
	doc_free(n);
}

/* One collection holds at most 10000 entries (the duplicate-key check is
 * linear per key). */
static void test_item_limit(void **state)
{
	struct cl_error err;
	size_t cap = 10002 * 12 + 16;
	char *y = malloc(cap), *j = malloc(cap), *py = y, *pj = j;
	struct doc_node *n;

	pj += sprintf(pj, "{\"s\": [");
	for (int i = 0; i < 10001; i++) {
		py += sprintf(py, "k%d: 1\n", i);
		pj += sprintf(pj, "%s%d", i ? "," : "", i);
	}
	sprintf(pj, "]}");
	assert_null(yaml(y, &err));
	assert_string_equal(fmt(&err), "t.yaml:10001:1: more than 10000 entries in one mapping");
	assert_null(json(j, &err));
	assert_string_equal(fmt(&err),
			    "t.json:1:48898: s: more than 10000 entries in one sequence");
	/* 10000 is fine */
	*strrchr(y, 'k') = '\0';
	n = yaml(y, &err);
	assert_non_null(n);
	assert_int_equal(n->len, 10000);
	doc_free(n);
	free(y);
	free(j);
}

static void test_read_and_load_file(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct cl_error err;
	char dir[512], path[600], want[1024];
	struct doc_node *n;
	size_t len = 0;
	char *text;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/chaoslab-doc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.json", dir);
	f = fopen(path, "w");
	fputs("{\"a\": 1}", f);
	fclose(f);

	text = doc_read_file(path, &len, &err);
	assert_non_null(text);
	assert_int_equal(len, 8);
	assert_int_equal(text[8], '\0');
	free(text);

	/* .json picks JSON, anything else YAML: "{a: 1}" is YAML flow only */
	n = doc_load_file(path, &err);
	assert_non_null(n);
	doc_free(n);
	f = fopen(path, "w");
	fputs("{a: 1}", f);
	fclose(f);
	assert_null(doc_load_file(path, &err));
	snprintf(want, sizeof(want),
		 "%s:1:2: JSON syntax error: expected a key in double quotes, got 'a'", path);
	assert_string_equal(fmt(&err), want);
	unlink(path);

	assert_null(doc_read_file(path, &len, &err));
	assert_int_equal(err.errnum, ENOENT);
	snprintf(want, sizeof(want), "unable to open '%s': %s", path, strerror(ENOENT));
	assert_string_equal(fmt(&err), want);

	assert_null(doc_load_file(dir, &err));
	snprintf(want, sizeof(want), "'%s' is not a regular file", dir);
	assert_string_equal(fmt(&err), want);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_tree_and_marks),
		cmocka_unit_test(test_yaml_scalar_kinds),
		cmocka_unit_test(test_json_tree_and_marks),
		cmocka_unit_test(test_json_escapes_bom_and_length),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_json_syntax_errors),
		cmocka_unit_test(test_json_nul_byte),
		cmocka_unit_test(test_yaml_syntax_errors),
		cmocka_unit_test(test_yaml_accepts),
		cmocka_unit_test(test_item_limit),
		cmocka_unit_test(test_read_and_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
