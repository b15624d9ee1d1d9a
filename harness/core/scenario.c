#include "core/scenario.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/service.h"

const char *const scenario_lab_services[] = { "network", LAB_SERVICE_NAMES, NULL };

/* Per section; a drill has a handful. Bounds the cross-reference checks. */
#define SCENARIO_MAX_STEPS 1000

/* Loader state: the file name for messages and the error to fill. */
struct loader {
	const char *file;
	bool yaml; /* YAML (else JSON): some hints only apply there */
	struct cl_error *err;
};

static const char *const top_keys[] = {
	"id", "title", "day", "skills", "difficulty", "par_seconds", "time_limit_seconds",
	"symptom_timeout_seconds", "stable_seconds", "briefing", "lab", "inject", "symptoms",
	"fixed_when", "guards", "hints", "solution", "runbook", "quiz", "scoring", NULL,
};
static const char *const required_top[] = {
	"id", "title", "day", "skills", "difficulty", "par_seconds", "time_limit_seconds",
	"briefing", "inject", "symptoms", "fixed_when", "solution", "runbook", NULL,
};
static const char *const inject_keys[] = { "id", "type", "with", NULL };
static const char *const symptom_keys[] = { "id", "type", "with", NULL };
static const char *const fixed_keys[] = { "id", "type", "with", "weight", NULL };
static const char *const guard_keys[] = { "id", "type", "with", "penalty", "message", NULL };
static const char *const hint_keys[] = { "after_seconds", "penalty", "text", NULL };
static const char *const scoring_keys[] = { "max_time_penalty", "time_penalty_at",
					    "partial_max", NULL };

static void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static void step_free(struct step *st)
{
	free(st->id);
	free(st->type);
	free(st->message);
	params_release(&st->params);
}

static void steps_free(struct step *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		step_free(&v[i]);
	free(v);
}

void scenario_free(struct scenario *s)
{
	if (!s)
		return;
	free(s->file);
	free(s->root);
	free(s->id);
	free(s->title);
	free(s->briefing);
	free(s->runbook);
	free(s->runbook_path);
	strv_free(&s->skills);
	strv_free(&s->lab);
	strv_free(&s->solution);
	strv_free(&s->quiz);
	steps_free(s->inject, s->ninject);
	steps_free(s->symptoms, s->nsymptoms);
	steps_free(s->fixed_when, s->nfixed_when);
	steps_free(s->guards, s->nguards);
	for (size_t i = 0; i < s->nhints; i++)
		free(s->hints[i].text);
	free(s->hints);
	free(s);
}

static int oom(struct loader *L)
{
	return cl_error_set(L->err, CL_EXIT_USAGE, "out of memory");
}

/* Every key of map must be in allowed; an unknown one gets a did-you-mean. */
static int check_keys(struct loader *L, const struct doc_node *map, const char *const *allowed,
		      const char *path)
{
	char kp[256];

	for (size_t i = 0; i < map->len; i++) {
		bool ok = false;
		for (size_t k = 0; allowed[k]; k++)
			ok = ok || !strcmp(allowed[k], map->keys[i]);
		if (ok)
			continue;
		if (path && *path)
			snprintf(kp, sizeof(kp), "%s.%s", path, map->keys[i]);
		else
			snprintf(kp, sizeof(kp), "%s", map->keys[i]);
		const char *dym = cl_did_you_mean(map->keys[i], allowed, (size_t)-1);
		if (dym)
			return cl_error_at(L->err, L->file, &map->key_marks[i], kp,
					   "unknown key '%s' (did you mean '%s'?)", map->keys[i], dym);
		return cl_error_at(L->err, L->file, &map->key_marks[i], kp, "unknown key '%s'",
				   map->keys[i]);
	}
	return 0;
}

/* What a node is, for "expected X, got Y" messages. */
static const char *kind_phrase(const struct doc_node *n)
{
	const char *k = doc_kind_name(n);

	if (!strcmp(k, "mapping"))
		return "a mapping";
	if (!strcmp(k, "sequence"))
		return "a sequence";
	if (!strcmp(k, "string"))
		return "a string";
	if (!strcmp(k, "integer"))
		return "an integer";
	if (!strcmp(k, "number"))
		return "a number";
	if (!strcmp(k, "boolean"))
		return "a boolean";
	return k;
}

/* n must be a mapping or a sequence, as kind says. */
static int need_kind(struct loader *L, const struct doc_node *n, enum doc_kind kind,
		     const char *path)
{
	if (n->kind == kind)
		return 0;
	return cl_error_at(L->err, L->file, &n->mark, path, "expected %s, got %s",
			   kind == DOC_MAP ? "a mapping" : "a sequence", kind_phrase(n));
}

/* n must be a non-null scalar; what is "a string", "an integer"... */
static int need_scalar(struct loader *L, const struct doc_node *n, const char *path,
		       const char *what)
{
	if (n->kind == DOC_SCALAR && !doc_is_null(n))
		return 0;
	/* In YAML an unquoted "key: value" inside a value makes a mapping. */
	if (n->kind == DOC_MAP && n->len == 1 && L->yaml && !strcmp(what, "a string"))
		return cl_error_at(L->err, L->file, &n->mark, path,
				   "expected a string, got a mapping (quote text that holds ': ')");
	return cl_error_at(L->err, L->file, &n->mark, path, "expected %s, got %s", what,
			   kind_phrase(n));
}

static int get_string(struct loader *L, const struct doc_node *n, const char *path, char **out)
{
	if (need_scalar(L, n, path, "a string"))
		return -1;
	if (!n->text[0])
		return cl_error_at(L->err, L->file, &n->mark, path, "must not be empty");
	*out = strdup(n->text);
	return *out ? 0 : oom(L);
}

static int get_int(struct loader *L, const struct doc_node *n, const char *path, long lo,
		   long hi, int *out)
{
	char *end;
	long v;

	if (need_scalar(L, n, path, "an integer"))
		return -1;
	errno = 0;
	v = strtol(n->text, &end, 10);
	if (n->style == DOC_QUOTED || !n->text[0] || *end || (errno && errno != ERANGE))
		return cl_error_at(L->err, L->file, &n->mark, path, "expected an integer, got %s'%s'",
				   n->style == DOC_QUOTED ? "string " : "", n->text);
	if (errno == ERANGE || v < lo || v > hi)
		return cl_error_at(L->err, L->file, &n->mark, path, "must be %ld..%ld, got %s", lo,
				   hi, n->text);
	*out = (int)v;
	return 0;
}

static int get_number(struct loader *L, const struct doc_node *n, const char *path, double lo,
		      double hi, double *out)
{
	char *end;
	double v;

	if (need_scalar(L, n, path, "a number"))
		return -1;
	errno = 0;
	v = strtod(n->text, &end);
	/* strtod also takes "nan", "inf" and hex: none is a number here */
	if (n->style == DOC_QUOTED || !n->text[0] || *end || isnan(v) || strpbrk(n->text, "xXnN"))
		return cl_error_at(L->err, L->file, &n->mark, path, "expected a number, got %s'%s'",
				   n->style == DOC_QUOTED ? "string " : "", n->text);
	if (errno == ERANGE || isinf(v) || v < lo || v > hi)
		return cl_error_at(L->err, L->file, &n->mark, path, "must be %g..%g, got %s", lo, hi,
				   n->text);
	*out = v;
	return 0;
}

/* A sequence of non-empty strings. allow_empty: an empty sequence is fine. */
static int get_strv(struct loader *L, const struct doc_node *n, const char *path,
		    bool allow_empty, struct strv *out)
{
	char kp[256];

	if (need_kind(L, n, DOC_SEQ, path))
		return -1;
	if (!n->len && !allow_empty)
		return cl_error_at(L->err, L->file, &n->mark, path, "must not be empty");
	out->v = calloc(n->len ? n->len : 1, sizeof(char *));
	if (!out->v)
		return oom(L);
	for (size_t i = 0; i < n->len; i++) {
		snprintf(kp, sizeof(kp), "%s[%zu]", path, i);
		if (get_string(L, n->items[i], kp, &out->v[i]))
			return -1;
		out->n++;
	}
	return 0;
}

/* A skill is "domain.topic": lower-case letters, digits, '-' and one or more
 * dots, e.g. linux.cpu or k8s.networking. */
static bool skill_ok(const char *s)
{
	bool dot = false;

	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (p[1] == '\0' || p[1] == '.')
				return false;
			dot = true;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			     *p == '_')) {
			return false;
		}
	}
	return dot;
}

static bool id_ok(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

/* An unknown step type: a did-you-mean, or the other table's name when the
 * type is an injector used as a verifier or the other way round. */
static int unknown_type(struct loader *L, const struct doc_node *v, const char *kp,
			const char *type, const char *what, const char *a_what, const char *other,
			const char *const *names)
{
	const char *dym;

	if (other)
		return cl_error_at(L->err, L->file, &v->mark, kp, "'%s' is %s, not %s", type, other,
				   a_what);
	dym = cl_did_you_mean(type, names, (size_t)-1);
	if (dym)
		return cl_error_at(L->err, L->file, &v->mark, kp,
				   "unknown %s '%s' (did you mean '%s'?)", what, type, dym);
	return cl_error_at(L->err, L->file, &v->mark, kp,
			   "unknown %s '%s' ('chaoslab show types' lists them)", what, type);
}

/* Keys that are right in one kind of step and wrong in the others get a
 * message that says where they belong, not just "unknown key". */
static int check_misplaced_keys(struct loader *L, const struct doc_node *n, enum step_kind kind,
				const char *path)
{
	static const struct {
		const char *key;
		enum step_kind owner;
		const char *why;
	} owned[] = {
		{ "weight", STEP_FIXED_WHEN, "only fixed_when steps have a weight" },
		{ "penalty", STEP_GUARD, "only guards and hints have a penalty" },
		{ "message", STEP_GUARD, "only guards have a message" },
	};
	char kp[256];

	for (size_t i = 0; i < n->len; i++) {
		for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++) {
			if (kind == owned[k].owner || strcmp(n->keys[i], owned[k].key))
				continue;
			snprintf(kp, sizeof(kp), "%s.%s", path, n->keys[i]);
			return cl_error_at(L->err, L->file, &n->key_marks[i], kp,
					   "unknown key '%s' (%s)", n->keys[i], owned[k].why);
		}
	}
	return 0;
}

static int load_step(struct loader *L, const struct doc_node *n, enum step_kind kind,
		     const char *section, size_t index, struct step *st)
{
	const char *const *keys = kind == STEP_INJECT	 ? inject_keys
				  : kind == STEP_SYMPTOM	 ? symptom_keys
				  : kind == STEP_FIXED_WHEN ? fixed_keys
							    : guard_keys;
	char kp[256], msg[256];
	const struct doc_node *v;
	const struct param_spec *spec;
	const char *names[128];

	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->weight = 1;
	st->penalty = 20;
	snprintf(st->path, sizeof(st->path), "%s[%zu]", section, index);
	st->mark = n->mark;
	if (need_kind(L, n, DOC_MAP, st->path) || check_misplaced_keys(L, n, kind, st->path) ||
	    check_keys(L, n, keys, st->path))
		return -1;

	v = doc_map_get(n, "type", NULL);
	if (!v)
		return cl_error_at(L->err, L->file, &n->mark, st->path, "missing required key 'type'");
	snprintf(kp, sizeof(kp), "%s.type", st->path);
	if (get_string(L, v, kp, &st->type))
		return -1;
	st->type_mark = v->mark;
	if (kind == STEP_INJECT) {
		st->injector = injector_find(st->type);
		if (!st->injector) {
			injector_names(names, 128);
			return unknown_type(L, v, kp, st->type, "injector", "an injector",
					    verifier_find(st->type) ? "a verifier" : NULL, names);
		}
		spec = st->injector->params;
	} else {
		st->verifier = verifier_find(st->type);
		if (!st->verifier) {
			verifier_names(names, 128);
			return unknown_type(L, v, kp, st->type, "verifier", "a verifier",
					    injector_find(st->type) ? "an injector" : NULL, names);
		}
		spec = st->verifier->params;
	}

	v = doc_map_get(n, "id", NULL);
	if (v) {
		snprintf(kp, sizeof(kp), "%s.id", st->path);
		if (get_string(L, v, kp, &st->id))
			return -1;
		st->id_mark = v->mark;
		if (!id_ok(st->id))
			return cl_error_at(L->err, L->file, &v->mark, kp,
					   "must be lower-case letters, digits, '-' or '_', got '%s'",
					   st->id);
	} else if (kind == STEP_INJECT) {
		return cl_error_at(L->err, L->file, &n->mark, st->path, "missing required key 'id'");
	}

	v = doc_map_get(n, "weight", NULL);
	if (v) {
		snprintf(kp, sizeof(kp), "%s.weight", st->path);
		if (get_number(L, v, kp, 0, 100, &st->weight))
			return -1;
	}
	v = doc_map_get(n, "penalty", NULL);
	if (v) {
		snprintf(kp, sizeof(kp), "%s.penalty", st->path);
		if (get_int(L, v, kp, 0, 100, &st->penalty))
			return -1;
	}
	v = doc_map_get(n, "message", NULL);
	if (v) {
		snprintf(kp, sizeof(kp), "%s.message", st->path);
		if (get_string(L, v, kp, &st->message))
			return -1;
	}

	snprintf(kp, sizeof(kp), "%s.with", st->path);
	if (params_from_doc(&st->params, spec, doc_map_get(n, "with", NULL), L->file, &n->mark, kp,
			    L->err))
		return -1;
	msg[0] = '\0';
	int (*validate)(const struct params *, char *, size_t) =
		st->injector ? st->injector->validate : st->verifier->validate;
	if (validate && validate(&st->params, msg, sizeof(msg))) {
		const struct doc_node *w = doc_map_get(n, "with", NULL);
		return cl_error_at(L->err, L->file, w ? &w->mark : &n->mark, kp, "%s",
				   msg[0] ? msg : "invalid parameters");
	}
	return 0;
}

static int load_steps(struct loader *L, const struct doc_node *root, const char *section,
		      enum step_kind kind, bool required_nonempty, struct step **out, size_t *count)
{
	const struct doc_node *n = doc_map_get(root, section, NULL);

	*out = NULL;
	*count = 0;
	if (!n)
		return 0;
	if (n->kind == DOC_MAP && L->yaml)
		return cl_error_at(
			L->err, L->file, &n->mark, section,
			"expected a sequence, got a mapping (start each step with '- ')");
	if (need_kind(L, n, DOC_SEQ, section))
		return -1;
	if (n->len > SCENARIO_MAX_STEPS)
		return cl_error_at(L->err, L->file, &n->items[SCENARIO_MAX_STEPS]->mark, section,
				   "more than %d steps", SCENARIO_MAX_STEPS);
	if (!n->len && required_nonempty)
		return cl_error_at(L->err, L->file, &n->mark, section, "must not be empty");
	*out = calloc(n->len ? n->len : 1, sizeof(struct step));
	if (!*out)
		return oom(L);
	for (size_t i = 0; i < n->len; i++) {
		if (load_step(L, n->items[i], kind, section, i, &(*out)[i])) {
			step_free(&(*out)[i]);
			return -1;
		}
		(*count)++;
	}
	return 0;
}

static int load_hints(struct loader *L, const struct doc_node *root, struct scenario *s)
{
	const struct doc_node *n = doc_map_get(root, "hints", NULL);
	char path[64], kp[128];

	if (!n)
		return 0;
	if (need_kind(L, n, DOC_SEQ, "hints"))
		return -1;
	s->hints = calloc(n->len ? n->len : 1, sizeof(*s->hints));
	if (!s->hints)
		return oom(L);
	for (size_t i = 0; i < n->len; i++) {
		const struct doc_node *h = n->items[i], *v, *after;
		struct hint *hint = &s->hints[i];

		snprintf(path, sizeof(path), "hints[%zu]", i);
		if (need_kind(L, h, DOC_MAP, path) || check_keys(L, h, hint_keys, path))
			return -1;
		s->nhints++;
		if (!(v = doc_map_get(h, "text", NULL)))
			return cl_error_at(L->err, L->file, &h->mark, path, "missing required key 'text'");
		snprintf(kp, sizeof(kp), "%s.text", path);
		if (get_string(L, v, kp, &hint->text))
			return -1;
		snprintf(kp, sizeof(kp), "%s.after_seconds", path);
		if ((after = doc_map_get(h, "after_seconds", NULL)) &&
		    get_int(L, after, kp, 0, 86400, &hint->after_seconds))
			return -1;
		hint->penalty = 10;
		if ((v = doc_map_get(h, "penalty", NULL))) {
			snprintf(kp, sizeof(kp), "%s.penalty", path);
			if (get_int(L, v, kp, 0, 100, &hint->penalty))
				return -1;
		}
		if (i > 0 && hint->after_seconds < s->hints[i - 1].after_seconds)
			return cl_error_at(
				L->err, L->file, after ? &after->mark : &h->mark, kp,
				"hints must be in order of after_seconds, got %d%s after %d",
				hint->after_seconds, after ? "" : " (the default)",
				s->hints[i - 1].after_seconds);
	}
	return 0;
}

static int load_scoring(struct loader *L, const struct doc_node *root, struct scenario *s)
{
	const struct doc_node *n = doc_map_get(root, "scoring", NULL), *v;

	s->scoring.max_time_penalty = 40;
	s->scoring.time_penalty_at = 3;
	s->scoring.partial_max = 30;
	if (!n)
		return 0;
	if (need_kind(L, n, DOC_MAP, "scoring") || check_keys(L, n, scoring_keys, "scoring"))
		return -1;
	if ((v = doc_map_get(n, "max_time_penalty", NULL)) &&
	    get_int(L, v, "scoring.max_time_penalty", 0, 100, &s->scoring.max_time_penalty))
		return -1;
	if ((v = doc_map_get(n, "time_penalty_at", NULL)) &&
	    get_number(L, v, "scoring.time_penalty_at", 1.01, 100, &s->scoring.time_penalty_at))
		return -1;
	if ((v = doc_map_get(n, "partial_max", NULL)) &&
	    get_int(L, v, "scoring.partial_max", 0, 100, &s->scoring.partial_max))
		return -1;
	return 0;
}

/* Cross references: step ids unique across all sections, every verifier
 * parameter named `injection` names an inject step, every `service` one is
 * in `lab:`, and so is the lab service an injector needs (lab_needs). */
static int check_references(struct loader *L, struct scenario *s)
{
	struct step *sections[] = { s->inject, s->symptoms, s->fixed_when, s->guards };
	size_t counts[] = { s->ninject, s->nsymptoms, s->nfixed_when, s->nguards };
	const char *ids[128];
	size_t nids = 0;
	char kp[96], list[256];

	for (size_t sec = 0; sec < 4; sec++) {
		for (size_t i = 0; i < counts[sec]; i++) {
			const struct step *st = &sections[sec][i];
			const struct step *first = NULL;

			for (size_t ps = 0; st->id && ps <= sec && !first; ps++)
				for (size_t k = 0; k < (ps == sec ? i : counts[ps]) && !first; k++)
					if (sections[ps][k].id &&
					    !strcmp(sections[ps][k].id, st->id))
						first = &sections[ps][k];
			if (first) {
				snprintf(kp, sizeof(kp), "%s.id", st->path);
				return cl_error_at(L->err, L->file, &st->id_mark, kp,
						   "duplicate step id '%s' (first used by %s)",
						   st->id, first->path);
			}
		}
	}

	list[0] = '\0';
	for (size_t i = 0; i < s->ninject && nids < 127; i++) {
		size_t off = strlen(list);
		ids[nids++] = s->inject[i].id;
		snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", s->inject[i].id);
	}
	ids[nids] = NULL;
	for (size_t sec = 1; sec < 4; sec++) {
		for (size_t i = 0; i < counts[sec]; i++) {
			struct step *st = &sections[sec][i];
			const struct param_value *pv = params_get(&st->params, "injection");
			if (!pv || !pv->set || scenario_injection(s, pv->s))
				continue;
			snprintf(kp, sizeof(kp), "%s.with.injection", st->path);
			const char *dym = cl_did_you_mean(pv->s, ids, nids);
			if (dym)
				return cl_error_at(L->err, L->file, &pv->mark, kp,
						   "unknown injection '%s' (did you mean '%s'?)",
						   pv->s, dym);
			return cl_error_at(L->err, L->file, &pv->mark, kp,
					   "unknown injection '%s' (the inject step ids are: %s)",
					   pv->s, list);
		}
	}
	for (size_t i = 0; i < s->ninject; i++) {
		const struct step *st = &s->inject[i];
		const char *need = st->injector && st->injector->lab_needs ?
					   st->injector->lab_needs(&st->params) :
					   NULL;
		bool found = !need;

		for (size_t k = 0; need && k < s->lab.n; k++)
			found = found || !strcmp(s->lab.v[k], need);
		if (!found) {
			snprintf(kp, sizeof(kp), "%s.type", st->path);
			return cl_error_at(L->err, L->file, &st->type_mark, kp,
					   "%s needs the lab service '%s': add it to this scenario's "
					   "lab: list",
					   st->type, need);
		}
	}
	for (size_t sec = 1; sec < 4; sec++) {
		for (size_t i = 0; i < counts[sec]; i++) {
			struct step *st = &sections[sec][i];
			const struct param_value *pv = params_get(&st->params, "service");
			bool found = false;
			if (!pv || !pv->set)
				continue;
			for (size_t k = 0; k < s->lab.n; k++)
				found = found || !strcmp(s->lab.v[k], pv->s);
			if (!found) {
				snprintf(kp, sizeof(kp), "%s.with.service", st->path);
				return cl_error_at(L->err, L->file, &pv->mark, kp,
						   "service '%s' is not in this scenario's lab: list",
						   pv->s);
			}
		}
	}
	return 0;
}

/* The catalog root is the parent of the scenario file's directory, worked
 * out on the text of the path so messages show paths the way the user wrote
 * them: "x.yaml" -> "..", "a/b/x.yaml" -> "a", "../x.yaml" -> "../..". */
static char *catalog_root_of(const char *file)
{
	char *a = strdup(file), *root = NULL;
	const char *dir, *last;

	if (!a)
		return NULL;
	dir = dirname(a); /* the scenario's directory (may point into a) */
	last = strrchr(dir, '/');
	last = last ? last + 1 : dir;
	if (!strcmp(last, ".") || !strcmp(last, "..")) {
		if (!strcmp(dir, "."))
			root = strdup("..");
		else if (asprintf(&root, "%s/..", dir) < 0)
			root = NULL;
	} else {
		char *b = strdup(dir);
		if (b)
			root = strdup(dirname(b));
		free(b);
	}
	free(a);
	return root;
}

/* A runbook path stays inside the catalog: relative, and no ".." component. */
static bool runbook_inside(const char *p)
{
	if (p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return false;
		c += n;
		while (*c == '/')
			c++;
	}
	return true;
}

static int load_root(struct loader *L, const struct doc_node *root, struct scenario *s)
{
	const struct doc_node *v;
	char base[256];
	struct stat st;

	if (root->kind != DOC_MAP)
		return cl_error_at(L->err, L->file, &root->mark, NULL,
				   "a scenario must be a mapping, got %s", kind_phrase(root));
	if (check_keys(L, root, top_keys, NULL))
		return -1;
	for (size_t i = 0; required_top[i]; i++) {
		if (!doc_map_get(root, required_top[i], NULL)) {
			struct cl_mark mk = root->mark;
			return cl_error_at(L->err, L->file, &mk, NULL, "missing required key '%s'",
					   required_top[i]);
		}
	}

	v = doc_map_get(root, "id", NULL);
	if (get_string(L, v, "id", &s->id))
		return -1;
	if (!id_ok(s->id))
		return cl_error_at(L->err, L->file, &v->mark, "id",
				   "must be lower-case letters, digits, '-' or '_', got '%s'", s->id);
	{
		const char *slash = strrchr(L->file, '/');
		snprintf(base, sizeof(base), "%s", slash ? slash + 1 : L->file);
		char *dot = strrchr(base, '.');
		if (dot)
			*dot = '\0';
		if (strcmp(base, s->id))
			return cl_error_at(L->err, L->file, &v->mark, "id",
					   "must match the file name '%s', got '%s'", base, s->id);
	}
	if (get_string(L, doc_map_get(root, "title", NULL), "title", &s->title) ||
	    get_string(L, doc_map_get(root, "briefing", NULL), "briefing", &s->briefing) ||
	    get_int(L, doc_map_get(root, "day", NULL), "day", 1, 120, &s->day) ||
	    get_int(L, doc_map_get(root, "difficulty", NULL), "difficulty", 1, 5, &s->difficulty) ||
	    get_int(L, doc_map_get(root, "par_seconds", NULL), "par_seconds", 10, 86400,
		    &s->par_seconds) ||
	    get_int(L, doc_map_get(root, "time_limit_seconds", NULL), "time_limit_seconds", 10,
		    86400, &s->time_limit_seconds))
		return -1;
	if (s->time_limit_seconds < s->par_seconds) {
		v = doc_map_get(root, "time_limit_seconds", NULL);
		return cl_error_at(L->err, L->file, &v->mark, "time_limit_seconds",
				   "must be at least par_seconds (%d), got %d", s->par_seconds,
				   s->time_limit_seconds);
	}
	s->symptom_timeout_seconds = 30;
	s->stable_seconds = 3;
	if ((v = doc_map_get(root, "symptom_timeout_seconds", NULL)) &&
	    get_int(L, v, "symptom_timeout_seconds", 1, 600, &s->symptom_timeout_seconds))
		return -1;
	if ((v = doc_map_get(root, "stable_seconds", NULL)) &&
	    get_int(L, v, "stable_seconds", 0, 600, &s->stable_seconds))
		return -1;

	v = doc_map_get(root, "skills", NULL);
	if (get_strv(L, v, "skills", false, &s->skills))
		return -1;
	for (size_t i = 0; i < s->skills.n; i++) {
		if (!skill_ok(s->skills.v[i])) {
			char kp[64];
			snprintf(kp, sizeof(kp), "skills[%zu]", i);
			return cl_error_at(L->err, L->file, &v->items[i]->mark, kp,
					   "expected a skill like 'linux.cpu' (domain.topic), got '%s'",
					   s->skills.v[i]);
		}
	}
	if ((v = doc_map_get(root, "lab", NULL))) {
		if (get_strv(L, v, "lab", true, &s->lab))
			return -1;
		for (size_t i = 0; i < s->lab.n; i++) {
			bool ok = false;
			for (size_t k = 0; scenario_lab_services[k]; k++)
				ok = ok || !strcmp(scenario_lab_services[k], s->lab.v[i]);
			if (!ok) {
				char kp[64];
				snprintf(kp, sizeof(kp), "lab[%zu]", i);
				const char *dym = cl_did_you_mean(s->lab.v[i], scenario_lab_services,
								  (size_t)-1);
				char known[256] = "";
				size_t off = 0;
				for (size_t k = 0; scenario_lab_services[k] && off < sizeof(known);
				     k++)
					off += (size_t)snprintf(known + off, sizeof(known) - off,
								"%s%s", k ? ", " : "",
								scenario_lab_services[k]);
				if (dym)
					return cl_error_at(
						L->err, L->file, &v->items[i]->mark, kp,
						"unknown lab service '%s' (did you mean '%s'?)",
						s->lab.v[i], dym);
				return cl_error_at(L->err, L->file, &v->items[i]->mark, kp,
						   "unknown lab service '%s' (known: %s)",
						   s->lab.v[i], known);
			}
		}
	}
	if (get_strv(L, doc_map_get(root, "solution", NULL), "solution", false, &s->solution))
		return -1;
	if ((v = doc_map_get(root, "quiz", NULL)) && get_strv(L, v, "quiz", true, &s->quiz))
		return -1;

	if (load_steps(L, root, "inject", STEP_INJECT, true, &s->inject, &s->ninject) ||
	    load_steps(L, root, "symptoms", STEP_SYMPTOM, true, &s->symptoms, &s->nsymptoms) ||
	    load_steps(L, root, "fixed_when", STEP_FIXED_WHEN, true, &s->fixed_when,
		       &s->nfixed_when) ||
	    load_steps(L, root, "guards", STEP_GUARD, false, &s->guards, &s->nguards) ||
	    load_hints(L, root, s) || load_scoring(L, root, s) || check_references(L, s))
		return -1;
	/* Partial credit is met weight / total weight. */
	double total = 0;
	for (size_t i = 0; i < s->nfixed_when; i++)
		total += s->fixed_when[i].weight;
	if (total <= 0) {
		v = doc_map_get(root, "fixed_when", NULL);
		return cl_error_at(
			L->err, L->file, &v->mark, "fixed_when",
			"the weights add up to 0; give at least one step a weight above 0");
	}
	for (size_t i = 0; i < s->nguards; i++) {
		if (!s->guards[i].message) {
			s->guards[i].message = strdup(s->guards[i].type);
			if (!s->guards[i].message)
				return oom(L);
		}
	}

	v = doc_map_get(root, "runbook", NULL);
	if (get_string(L, v, "runbook", &s->runbook))
		return -1;
	if (!runbook_inside(s->runbook))
		return cl_error_at(L->err, L->file, &v->mark, "runbook",
				   "must be a path inside the catalog (like runbooks/%s.md), got '%s'",
				   s->id, s->runbook);
	if (asprintf(&s->runbook_path, "%s/%s", s->root, s->runbook) < 0) {
		s->runbook_path = NULL;
		return oom(L);
	}
	/* the resolved path tells the user where it was looked for */
	if (stat(s->runbook_path, &st) != 0)
		return cl_error_at(L->err, L->file, &v->mark, "runbook", "file not found: '%s'",
				   s->runbook_path);
	if (!S_ISREG(st.st_mode))
		return cl_error_at(L->err, L->file, &v->mark, "runbook",
				   "'%s' is not a regular file", s->runbook_path);
	return 0;
}

struct scenario *scenario_load_buffer(const char *file, const char *text, size_t len,
				      struct cl_error *err)
{
	size_t fl = strlen(file);
	struct loader L = { .file = file, .err = err };
	struct scenario *s = NULL;
	struct doc_node *root;

	L.yaml = !(fl > 5 && !strcmp(file + fl - 5, ".json"));
	if (L.yaml)
		root = doc_parse_yaml(file, text, len, err);
	else
		root = doc_parse_json(file, text, len, err);
	if (!root)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		oom(&L);
		goto fail;
	}
	s->file = strdup(file);
	s->root = catalog_root_of(file);
	if (!s->file || !s->root) {
		oom(&L);
		goto fail;
	}
	if (load_root(&L, root, s))
		goto fail;
	doc_free(root);
	return s;
fail:
	doc_free(root);
	scenario_free(s);
	return NULL;
}

struct scenario *scenario_load(const char *path, struct cl_error *err)
{
	size_t len = 0;
	char *text = doc_read_file(path, &len, err);
	struct scenario *s;

	if (!text)
		return NULL;
	s = scenario_load_buffer(path, text, len, err);
	free(text);
	return s;
}

const struct step *scenario_injection(const struct scenario *s, const char *id)
{
	for (size_t i = 0; i < s->ninject; i++)
		if (s->inject[i].id && !strcmp(s->inject[i].id, id))
			return &s->inject[i];
	return NULL;
}

/* The value of parameter name in p, or NULL. */
static struct param_value *param_slot(struct params *p, const char *name)
{
	for (size_t i = 0; i < p->count; i++)
		if (!strcmp(p->spec[i].name, name))
			return &p->values[i];
	return NULL;
}

int scenario_apply_set(struct scenario *s, const char *assignment, struct cl_error *err)
{
	char buf[512], path[128];
	char *dot, *eq;
	const char *ids[128];
	size_t n = 0;

	if (strlen(assignment) >= sizeof(buf))
		return cl_error_set(err, CL_EXIT_USAGE, "--set: longer than %zu characters",
				    sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", assignment);
	eq = strchr(buf, '=');
	dot = strchr(buf, '.');
	if (!eq || !dot || dot > eq || dot == buf || dot + 1 == eq)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "--set '%s': expected ID.PARAM=VALUE, e.g. burner.workers=1",
				    assignment);
	*dot = '\0';
	*eq = '\0';
	for (size_t i = 0; i < s->ninject; i++) {
		struct step *st = &s->inject[i];
		struct param_value *slot = param_slot(&st->params, dot + 1);
		struct param_value old = { 0 };
		char msg[256] = "";

		if (strcmp(st->id, buf))
			continue;
		/* keep the old value: a --set the injector refuses changes nothing */
		if (slot) {
			old = *slot;
			old.s = slot->s ? strdup(slot->s) : NULL;
			if (slot->s && !old.s)
				return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		}
		snprintf(path, sizeof(path), "--set %s", buf);
		if (params_set_text(&st->params, dot + 1, eq + 1, path, err)) {
			free(old.s);
			return -1;
		}
		if (st->injector->validate &&
		    st->injector->validate(&st->params, msg, sizeof(msg))) {
			free(slot->s);
			*slot = old;
			return cl_error_set(err, CL_EXIT_USAGE, "--set %s: %s", assignment,
					    msg[0] ? msg : "invalid parameters");
		}
		free(old.s);
		return 0;
	}
	for (size_t i = 0; i < s->ninject && n < 127; i++)
		ids[n++] = s->inject[i].id;
	ids[n] = NULL;
	const char *dym = cl_did_you_mean(buf, ids, n);
	if (dym)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "--set %s: no inject step '%s' in '%s' (did you mean '%s'?)",
				    assignment, buf, s->id, dym);
	return cl_error_set(err, CL_EXIT_USAGE, "--set %s: no inject step '%s' in '%s'",
			    assignment, buf, s->id);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *scenario_catalog_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("CHAOSLAB_SCENARIOS");

	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	if (is_dir("scenarios")) {
		if (!realpath("scenarios", dir))
			snprintf(dir, sizeof(dir), "scenarios");
		return dir;
	}
	if (is_dir(CHAOSLAB_SOURCE_DIR "/scenarios"))
		return CHAOSLAB_SOURCE_DIR "/scenarios";
	return "/usr/local/share/chaoslab/scenarios";
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool scenario_ext(const char *name)
{
	size_t l = strlen(name);
	return (l > 5 && !strcmp(name + l - 5, ".yaml")) || (l > 4 && !strcmp(name + l - 4, ".yml")) ||
	       (l > 5 && !strcmp(name + l - 5, ".json"));
}

char **scenario_catalog_list(size_t *count, struct cl_error *err)
{
	const char *dir = scenario_catalog_dir();
	DIR *d = opendir(dir);
	char **list = NULL;
	size_t n = 0;
	struct dirent *de;

	*count = 0;
	if (!d) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open scenario catalog '%s'", dir);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !scenario_ext(de->d_name))
			continue;
		char **nl = realloc(list, (n + 2) * sizeof(*nl));
		if (!nl)
			goto oom;
		list = nl;
		if (asprintf(&list[n], "%s/%s", dir, de->d_name) < 0)
			goto oom;
		list[++n] = NULL;
	}
	closedir(d);
	if (!list) {
		list = calloc(1, sizeof(*list));
		if (!list) {
			cl_error_set(err, CL_EXIT_USAGE, "out of memory");
			return NULL;
		}
	}
	qsort(list, n, sizeof(*list), name_cmp);
	*count = n;
	return list;
oom:
	closedir(d);
	if (list)
		list[n] = NULL;
	scenario_catalog_free(list);
	cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	return NULL;
}

void scenario_catalog_free(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

int scenario_resolve(const char *name, char *buf, size_t size, struct cl_error *err)
{
	const char *dir = scenario_catalog_dir();
	static const char *const exts[] = { ".yaml", ".yml", ".json" };
	char **list;
	size_t n;

	if (strchr(name, '/') || scenario_ext(name)) {
		if (access(name, R_OK) != 0)
			return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open '%s'", name);
		snprintf(buf, size, "%s", name);
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(buf, size, "%s/%s%s", dir, name, exts[i]);
		if (access(buf, R_OK) == 0)
			return 0;
	}
	list = scenario_catalog_list(&n, err);
	if (!list)
		return -1;
	const char *ids[256];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 255; i++) {
		char *slash = strrchr(list[i], '/');
		char *base = slash ? slash + 1 : list[i];
		char *dot = strrchr(base, '.');
		if (dot)
			*dot = '\0';
		ids[k++] = base;
	}
	ids[k] = NULL;
	const char *dym = cl_did_you_mean(name, ids, k);
	if (dym)
		cl_error_set(err, CL_EXIT_USAGE, "no drill '%s' in %s (did you mean '%s'?)", name, dir,
			     dym);
	else
		cl_error_set(err, CL_EXIT_USAGE, "no drill '%s' in %s (chaoslab list shows them)",
			     name, dir);
	scenario_catalog_free(list);
	return -1;
}
