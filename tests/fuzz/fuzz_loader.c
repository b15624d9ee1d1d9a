/* libFuzzer target for the scenario loader: every input goes through the
 * YAML parser, the JSON parser, and the whole scenario validation in both
 * syntaxes, and a scenario that loads gets --set overrides applied.
 *
 * The scenario is named after the id the input declares ("scenarios/ID.yaml")
 * so inputs that pass the id check reach the deeper checks; the runbook then
 * resolves against the working directory, which the ctest fills with the
 * runbooks the seed corpus names.
 *
 * Beyond crashes and sanitizer reports it checks what every error promises:
 * a message, a location inside the input, and one line of output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lines as libyaml counts them: "\n", "\r\n", a lone "\r", and the Unicode
 * breaks NEL, LS and PS all end one. */
static int count_lines(const char *text, size_t len)
{
	int lines = 1;

	for (size_t i = 0; i < len; i++) {
		const unsigned char *u = (const unsigned char *)text + i;
		if (u[0] == '\n' || (u[0] == '\r' && (i + 1 == len || u[1] != '\n')))
			lines++;
		else if (i + 1 < len && u[0] == 0xC2 && u[1] == 0x85)
			lines++;
		else if (i + 2 < len && u[0] == 0xE2 && u[1] == 0x80 &&
			 (u[2] == 0xA8 || u[2] == 0xA9))
			lines++;
	}
	return lines;
}

static void check_error(const struct cl_error *err, const char *text, size_t len)
{
	char buf[2048];
	int lines = count_lines(text, len);

	if (!err->msg[0]) {
		fprintf(stderr, "fuzz_loader: an error without a message\n");
		abort();
	}
	if (err->mark.line < 0 || err->mark.line > lines || err->mark.column < 0 ||
	    (size_t)err->mark.column > len + 1) {
		fprintf(stderr, "fuzz_loader: mark %d:%d outside the input (%d lines, %zu bytes)\n",
			err->mark.line, err->mark.column, lines, len);
		abort();
	}
	cl_error_format(err, buf, sizeof(buf));
	if (strchr(buf, '\n')) {
		fprintf(stderr, "fuzz_loader: a message spanning lines: %s\n", buf);
		abort();
	}
}

static void check_mark(struct cl_mark mk, int lines, size_t len, const char *what)
{
	if (mk.line < 1 || mk.line > lines || mk.column < 1 || (size_t)mk.column > len + 1) {
		fprintf(stderr, "fuzz_loader: %s mark %d:%d outside the input (%d lines)\n", what,
			mk.line, mk.column, lines);
		abort();
	}
}

/* Every node and key of a parsed tree points into the input. */
static void check_tree(const struct doc_node *n, int lines, size_t len)
{
	check_mark(n->mark, lines, len, "node");
	if (n->kind == DOC_SCALAR && !n->text)
		abort();
	for (size_t i = 0; i < n->len; i++) {
		if (n->kind == DOC_MAP)
			check_mark(n->key_marks[i], lines, len, "key");
		check_tree(n->items[i], lines, len);
	}
}

/* The id the document declares, if it could be a file name; else "fuzz". */
static void name_from_id(const struct doc_node *root, char *id, size_t size)
{
	const struct doc_node *n = doc_map_get(root, "id", NULL);

	snprintf(id, size, "fuzz");
	if (!n || n->kind != DOC_SCALAR || !n->text[0] || strlen(n->text) >= size)
		return;
	for (const char *p = n->text; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return;
	snprintf(id, size, "%s", n->text);
}

static void exercise_set(struct scenario *s)
{
	char set[256];
	struct cl_error err;

	for (size_t i = 0; i < s->ninject; i++) {
		const struct params *p = &s->inject[i].params;
		for (size_t k = 0; k < p->count; k++) {
			static const char *const values[] = { "1",     "",
							      "-1",    "true",
							      "x.y=z", "99999999999999999999" };
			for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
				snprintf(set, sizeof(set), "%s.%s=%s", s->inject[i].id,
					 p->spec[k].name, values[v]);
				if (scenario_apply_set(s, set, &err))
					check_error(&err, "", 0);
			}
		}
	}
	if (!scenario_injection(s, "nope") && scenario_apply_set(s, "nope.x=1", &err) == 0) {
		fprintf(stderr, "fuzz_loader: --set accepted an unknown step\n");
		abort();
	}
}

static void load(const char *file, const char *text, size_t len)
{
	struct cl_error err;
	struct scenario *s = scenario_load_buffer(file, text, len, &err);

	if (!s) {
		check_error(&err, text, len);
		return;
	}
	exercise_set(s);
	scenario_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct cl_error err;
	struct doc_node *y, *j;
	char id[65] = "fuzz", file[96];

	y = doc_parse_yaml("fuzz.yaml", text, size, &err);
	if (y)
		check_tree(y, count_lines(text, size), size);
	else
		check_error(&err, text, size);
	j = doc_parse_json("fuzz.json", text, size, &err);
	if (j)
		check_tree(j, count_lines(text, size), size);
	else
		check_error(&err, text, size);

	name_from_id(y ? y : j, id, sizeof(id));
	snprintf(file, sizeof(file), "scenarios/%s.yaml", id);
	if (y)
		load(file, text, size);
	snprintf(file, sizeof(file), "scenarios/%s.json", id);
	if (j)
		load(file, text, size);
	doc_free(y);
	doc_free(j);
	return 0;
}
