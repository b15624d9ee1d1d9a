#include "core/param.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t param_spec_count(const struct param_spec *spec)
{
	size_t n = 0;

	while (spec && spec[n].name)
		n++;
	return n;
}

const char *param_type_describe(const struct param_spec *s, char *buf, size_t size)
{
	size_t off;

	switch (s->type) {
	case PARAM_INT:
		snprintf(buf, size, "integer");
		break;
	case PARAM_NUMBER:
		snprintf(buf, size, "number");
		break;
	case PARAM_BOOL:
		snprintf(buf, size, "boolean");
		break;
	case PARAM_STRING:
		snprintf(buf, size, "string");
		break;
	case PARAM_ENUM:
		off = (size_t)snprintf(buf, size, "one of ");
		for (size_t i = 0; s->choices && s->choices[i] && off < size; i++)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "|" : "",
						s->choices[i]);
		break;
	}
	return buf;
}

static bool has_bounds(const struct param_spec *s)
{
	return s->min != 0 || s->max != 0;
}

static void fmt_num(char *buf, size_t size, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%g", v);
}

/* Parse text as the spec's type into v. quoted says the source was a quoted
 * string (never a number or boolean then). Returns -1 with the message. */
static int value_parse(struct param_value *v, const struct param_spec *s, const char *text,
		       bool quoted, const char *file, const struct cl_mark *mk, const char *path,
		       struct cl_error *err)
{
	char tb[256], lo[32], hi[32];
	char *end;

	switch (s->type) {
	case PARAM_INT:
		errno = 0;
		v->i = quoted ? 0 : strtoll(text, &end, 10);
		if (quoted || !*text || *end || (errno && errno != ERANGE))
			return cl_error_at(err, file, mk, path, "expected an integer, got %s'%s'",
					   quoted ? "string " : "", text);
		if (errno == ERANGE && !has_bounds(s))
			return cl_error_at(err, file, mk, path, "integer out of range, got %s",
					   text);
		if (has_bounds(s) && (errno == ERANGE || v->i < s->min || v->i > s->max)) {
			fmt_num(lo, sizeof(lo), s->min);
			fmt_num(hi, sizeof(hi), s->max);
			return cl_error_at(err, file, mk, path, "must be %s..%s, got %s", lo, hi,
					   text);
		}
		v->d = (double)v->i;
		break;
	case PARAM_NUMBER:
		errno = 0;
		v->d = quoted ? 0 : strtod(text, &end);
		/* strtod also takes "nan", "inf" and hex: none is a number here */
		if (quoted || !*text || *end || isnan(v->d) || strpbrk(text, "xXnN"))
			return cl_error_at(err, file, mk, path, "expected a number, got %s'%s'",
					   quoted ? "string " : "", text);
		if (errno == ERANGE && fabs(v->d) > 1 && !has_bounds(s))
			return cl_error_at(err, file, mk, path, "number out of range, got %s",
					   text);
		if (has_bounds(s) &&
		    ((errno == ERANGE && fabs(v->d) > 1) || v->d < s->min || v->d > s->max)) {
			fmt_num(lo, sizeof(lo), s->min);
			fmt_num(hi, sizeof(hi), s->max);
			return cl_error_at(err, file, mk, path, "must be %s..%s, got %s", lo, hi,
					   text);
		}
		v->i = (long long)v->d;
		break;
	case PARAM_BOOL:
		if (!quoted && (!strcmp(text, "true") || !strcmp(text, "True") ||
				!strcmp(text, "TRUE") || !strcmp(text, "yes")))
			v->b = true;
		else if (!quoted && (!strcmp(text, "false") || !strcmp(text, "False") ||
				     !strcmp(text, "FALSE") || !strcmp(text, "no")))
			v->b = false;
		else
			return cl_error_at(err, file, mk, path, "expected true or false, got %s'%s'",
					   quoted ? "string " : "", text);
		break;
	case PARAM_STRING:
		if (!*text && s->min >= 0)
			return cl_error_at(err, file, mk, path, "must not be empty");
		if (s->max > 0 && strlen(text) > (size_t)s->max)
			return cl_error_at(err, file, mk, path,
					   "must be at most %.0f characters, got %zu ('%s')",
					   s->max, strlen(text), text);
		break;
	case PARAM_ENUM: {
		bool ok = false;
		for (size_t i = 0; s->choices[i]; i++)
			ok = ok || !strcmp(s->choices[i], text);
		if (!ok) {
			const char *dym = cl_did_you_mean(text, s->choices, (size_t)-1);
			param_type_describe(s, tb, sizeof(tb));
			if (dym)
				return cl_error_at(err, file, mk, path,
						   "expected %s, got '%s' (did you mean '%s'?)", tb,
						   text, dym);
			return cl_error_at(err, file, mk, path, "expected %s, got '%s'", tb, text);
		}
		break;
	}
	}
	if (s->type == PARAM_STRING || s->type == PARAM_ENUM) {
		free(v->s);
		v->s = strdup(text);
		if (!v->s)
			return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	}
	v->set = true;
	return 0;
}

static int params_init(struct params *p, const struct param_spec *spec, struct cl_error *err)
{
	memset(p, 0, sizeof(*p));
	p->spec = spec;
	p->count = param_spec_count(spec);
	if (!p->count)
		return 0;
	p->values = calloc(p->count, sizeof(*p->values));
	if (!p->values)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	for (size_t i = 0; i < p->count; i++)
		p->values[i].spec = &spec[i];
	return 0;
}

void params_release(struct params *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++)
		free(p->values[i].s);
	free(p->values);
	memset(p, 0, sizeof(*p));
}

static struct param_value *find_value(const struct params *p, const char *name)
{
	for (size_t i = 0; i < p->count; i++)
		if (!strcmp(p->spec[i].name, name))
			return &p->values[i];
	return NULL;
}

static int unknown_param(const struct params *p, const char *name, const char *file,
			 const struct cl_mark *mk, const char *path, struct cl_error *err)
{
	const char *names[64] = { NULL };
	char list[256] = "";
	size_t n = 0, off = 0;

	for (size_t i = 0; i < p->count && n < 64; i++) {
		names[n++] = p->spec[i].name;
		if (off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						i ? ", " : "", p->spec[i].name);
	}
	const char *dym = cl_did_you_mean(name, names, n);
	if (dym)
		return cl_error_at(err, file, mk, path,
				   "unknown parameter '%s' (did you mean '%s'?)", name, dym);
	if (!n)
		return cl_error_at(err, file, mk, path,
				   "unknown parameter '%s' (this type takes no parameters)", name);
	return cl_error_at(err, file, mk, path, "unknown parameter '%s' (known: %s)", name, list);
}

/* "an integer", "a number", "true or false", "a string", "one of a|b" */
static const char *type_phrase(const struct param_spec *s, char *buf, size_t size)
{
	switch (s->type) {
	case PARAM_INT:
		return "an integer";
	case PARAM_NUMBER:
		return "a number";
	case PARAM_BOOL:
		return "true or false";
	case PARAM_STRING:
		return "a string";
	case PARAM_ENUM:
		break;
	}
	return param_type_describe(s, buf, size);
}

/* What a node is, for "expected X, got Y". */
static const char *node_phrase(const struct doc_node *n)
{
	static const char *const phrases[][2] = {
		{ "mapping", "a mapping" }, { "sequence", "a sequence" },
		{ "string", "a string" },   { "integer", "an integer" },
		{ "number", "a number" },   { "boolean", "a boolean" },
	};
	const char *k = doc_kind_name(n);

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (!strcmp(k, phrases[i][0]))
			return phrases[i][1];
	return k;
}

int params_from_doc(struct params *p, const struct param_spec *spec, const struct doc_node *with,
		    const char *file, const struct cl_mark *owner_mark, const char *path,
		    struct cl_error *err)
{
	char kp[256], tb[128];

	if (params_init(p, spec, err))
		return -1;
	if (with && !doc_is_null(with)) {
		if (with->kind != DOC_MAP) {
			cl_error_at(err, file, &with->mark, path, "expected a mapping, got %s",
				    node_phrase(with));
			goto fail;
		}
		for (size_t i = 0; i < with->len; i++) {
			const struct doc_node *val = with->items[i];
			struct param_value *v = find_value(p, with->keys[i]);

			snprintf(kp, sizeof(kp), "%s.%s", path, with->keys[i]);
			if (!v) {
				unknown_param(p, with->keys[i], file, &with->key_marks[i], kp, err);
				goto fail;
			}
			if (val->kind != DOC_SCALAR || doc_is_null(val)) {
				cl_error_at(err, file, &val->mark, kp, "expected %s, got %s",
					    type_phrase(v->spec, tb, sizeof(tb)), node_phrase(val));
				goto fail;
			}
			if (value_parse(v, v->spec, val->text, val->style == DOC_QUOTED, file,
					&val->mark, kp, err))
				goto fail;
			v->given = true;
			v->mark = val->mark;
		}
	}
	for (size_t i = 0; i < p->count; i++) {
		struct param_value *v = &p->values[i];

		if (v->set)
			continue;
		if (v->spec->def) {
			snprintf(kp, sizeof(kp), "%s.%s", path, v->spec->name);
			if (value_parse(v, v->spec, v->spec->def, v->spec->type == PARAM_STRING,
					file, owner_mark, kp, err))
				goto fail;
		} else if (v->spec->required) {
			cl_error_at(err, file, with && with->kind == DOC_MAP ? &with->mark : owner_mark,
				    path, "missing required parameter '%s' (%s)", v->spec->name,
				    param_type_describe(v->spec, tb, sizeof(tb)));
			goto fail;
		}
	}
	return 0;
fail:
	params_release(p);
	return -1;
}

int params_set_text(struct params *p, const char *name, const char *text, const char *path,
		    struct cl_error *err)
{
	struct param_value *v = find_value(p, name);
	struct param_value tmp = { 0 };
	char kp[256];

	snprintf(kp, sizeof(kp), "%s.%s", path, name);
	if (!v)
		return unknown_param(p, name, NULL, NULL, kp, err);
	tmp.spec = v->spec;
	/* --set text has no quoting: a string parameter takes it as written. */
	if (value_parse(&tmp, v->spec, text, false, NULL, NULL, kp, err)) {
		free(tmp.s);
		return -1;
	}
	free(v->s);
	tmp.given = true;
	tmp.mark = v->mark;
	*v = tmp;
	return 0;
}

const struct param_value *params_get(const struct params *p, const char *name)
{
	return find_value(p, name);
}

static const struct param_value *must(const struct params *p, const char *name)
{
	const struct param_value *v = find_value(p, name);

	if (!v) {
		fprintf(stderr, "chaoslab: BUG: parameter '%s' not in spec\n", name);
		abort();
	}
	return v;
}

long long params_int(const struct params *p, const char *name, long long fallback)
{
	const struct param_value *v = must(p, name);
	return v->set ? v->i : fallback;
}

double params_number(const struct params *p, const char *name, double fallback)
{
	const struct param_value *v = must(p, name);
	return v->set ? v->d : fallback;
}

bool params_bool(const struct params *p, const char *name, bool fallback)
{
	const struct param_value *v = must(p, name);
	return v->set ? v->b : fallback;
}

const char *params_str(const struct params *p, const char *name, const char *fallback)
{
	const struct param_value *v = must(p, name);
	return v->set && v->s ? v->s : fallback;
}

bool params_isset(const struct params *p, const char *name)
{
	const struct param_value *v = find_value(p, name);
	return v && v->set;
}
