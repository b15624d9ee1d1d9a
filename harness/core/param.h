/* Parameter specs and values.
 *
 * Every injector and verifier declares its parameters once, in a table of
 * struct param_spec ending with an entry whose name is NULL. The loader,
 * `chaoslab show`, `--set` and the docs all read that table. */
#ifndef CHAOSLAB_PARAM_H
#define CHAOSLAB_PARAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/doc.h"
#include "core/error.h"

enum param_type {
	PARAM_INT,    /* signed integer within [min, max] */
	PARAM_NUMBER, /* double within [min, max] */
	PARAM_BOOL,
	PARAM_STRING, /* non-empty unless min == 0; max = max length if > 0 */
	PARAM_ENUM,   /* one of choices[] */
};

struct param_spec {
	const char *name;
	enum param_type type;
	bool required;
	const char *def;             /* default as text; NULL = unset */
	double min, max;             /* bounds for INT/NUMBER (both 0 = none) */
	const char *const *choices;  /* ENUM: NULL-terminated */
	const char *help;            /* one line, shown by `chaoslab show` */
};

struct param_value {
	const struct param_spec *spec;
	bool set;                    /* given or defaulted */
	bool given;                  /* written in the scenario or --set */
	struct cl_mark mark;
	long long i;
	double d;
	bool b;
	char *s;                     /* STRING and ENUM; owned */
};

/* The validated parameters of one step; values[i] matches spec[i]. */
struct params {
	const struct param_spec *spec;
	size_t count;
	struct param_value *values;
};

/* Validate a `with:` mapping (may be NULL for "no parameters") against spec and
 * fill p (caller releases with params_release). Unknown keys get a
 * did-you-mean; wrong types and bounds name the key path, e.g.
 * "inject[0].with.load_percent: must be 1..100, got 150". owner_mark points at
 * the step when `with` is absent (for "missing required parameter"). */
int params_from_doc(struct params *p, const struct param_spec *spec, const struct doc_node *with,
		    const char *file, const struct cl_mark *owner_mark, const char *path,
		    struct cl_error *err);

/* Set one parameter from text (a --set override); validated like the file. */
int params_set_text(struct params *p, const char *name, const char *text, const char *path,
		    struct cl_error *err);

void params_release(struct params *p);

/* Look up a value by name; NULL if the name is not in the spec. */
const struct param_value *params_get(const struct params *p, const char *name);

/* Typed accessors; the name must be in the spec (a programming error
 * otherwise: they abort). An unset optional value yields the fallback. */
long long params_int(const struct params *p, const char *name, long long fallback);
double params_number(const struct params *p, const char *name, double fallback);
bool params_bool(const struct params *p, const char *name, bool fallback);
const char *params_str(const struct params *p, const char *name, const char *fallback);
bool params_isset(const struct params *p, const char *name);

/* "integer", "number", "boolean", "string", "one of a|b|c" into buf. */
const char *param_type_describe(const struct param_spec *s, char *buf, size_t size);

/* Number of entries in a NULL-terminated spec table. */
size_t param_spec_count(const struct param_spec *spec);

#endif
