/* The scenario model: one drill, loaded from YAML or JSON into the same
 * structure and fully validated (every step's `with:` against its injector's
 * or verifier's own parameter table) before anything runs. */
#ifndef CHAOSLAB_SCENARIO_H
#define CHAOSLAB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/param.h"
#include "core/registry.h"

struct strv {
	char **v;
	size_t n;
};

enum step_kind { STEP_INJECT, STEP_SYMPTOM, STEP_FIXED_WHEN, STEP_GUARD };

struct step {
	enum step_kind kind;
	char *id;                 /* inject: required; criteria: optional */
	struct cl_mark id_mark;   /* where the id is written */
	char *type;
	struct cl_mark type_mark; /* where the type is written */
	char path[48];            /* "inject[0]", "fixed_when[1]" */
	struct cl_mark mark;
	const struct injector *injector; /* STEP_INJECT */
	const struct verifier *verifier; /* criteria */
	struct params params;
	double weight;            /* fixed_when: share of partial credit (default 1) */
	int penalty;              /* guards: points lost when violated (default 20) */
	char *message;            /* guards: what the violation means */
};

struct hint {
	int after_seconds;
	int penalty;
	char *text;
};

/* Score tuning; defaults from DESIGN.md. */
struct scoring {
	int max_time_penalty;     /* 40: reached at time_penalty_at × par */
	double time_penalty_at;   /* 3 */
	int partial_max;          /* 30: not fixed, all weight met */
};

struct scenario {
	char *file;               /* the path it was loaded from */
	char *root;               /* catalog root: the scenario directory's parent */
	char *id, *title, *briefing;
	int day, difficulty;
	int par_seconds, time_limit_seconds;
	int symptom_timeout_seconds; /* default 30 */
	int stable_seconds;          /* default 3 */
	struct strv skills, lab, solution, quiz;
	char *runbook;            /* as written */
	char *runbook_path;       /* resolved against root */
	struct step *inject, *symptoms, *fixed_when, *guards;
	size_t ninject, nsymptoms, nfixed_when, nguards;
	struct hint *hints;
	size_t nhints;
	struct scoring scoring;
};

/* Load and validate a scenario file (.yaml/.yml through libyaml, .json through
 * cJSON). Returns a scenario owned by the caller (scenario_free) or NULL with
 * err located at file:line:column and key path. */
struct scenario *scenario_load(const char *path, struct cl_error *err);

/* Validate scenario text already in memory as if it had been read from file:
 * file picks the syntax (".json" -> JSON, else YAML), must match the id, and
 * locates the catalog root for the runbook. text need not be NUL-terminated;
 * it is only read, len bytes of it. scenario_load is this after reading the
 * file. Returns a scenario owned by the caller or NULL with err set. */
struct scenario *scenario_load_buffer(const char *file, const char *text, size_t len,
				      struct cl_error *err);

/* Apply one "--set ID.PARAM=VALUE" override to the inject step ID, validated
 * like the file. */
int scenario_apply_set(struct scenario *s, const char *assignment, struct cl_error *err);

void scenario_free(struct scenario *s);

/* Find an inject step by id, or NULL. */
const struct step *scenario_injection(const struct scenario *s, const char *id);

/* Lab services a scenario may ask for. */
extern const char *const scenario_lab_services[];

/* The scenario catalog directory: $CHAOSLAB_SCENARIOS, ./scenarios, the source
 * tree's scenarios/, or the installed share directory; the first that exists.
 * Returns a static string. */
const char *scenario_catalog_dir(void);

/* Resolve a drill name (an id in the catalog, or a path to a file) to a file
 * path in buf. -1 with a did-you-mean when the id is unknown. */
int scenario_resolve(const char *name, char *buf, size_t size, struct cl_error *err);

/* List catalog files (sorted), NULL-terminated array of malloc'd paths; free
 * with strv_free semantics via scenario_catalog_free. */
char **scenario_catalog_list(size_t *count, struct cl_error *err);
void scenario_catalog_free(char **list);

#endif
