/* Injector and verifier descriptors, and the tables that list them.
 *
 * One injector = one file in injectors/ exporting one `const struct injector`,
 * listed once in injectors/injectors.def; verifiers likewise. To add one:
 * write the file (everything static but the descriptor), add an
 * INJECTOR(symbol) / VERIFIER(symbol) line to the .def file, document its
 * parameters in its param_spec table. tests/unit/test_registry.c checks the
 * tables: unique names, callbacks present, every parameter documented. */
#ifndef CHAOSLAB_REGISTRY_H
#define CHAOSLAB_REGISTRY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/param.h"

struct journal;
struct workers;

/* What an injector gets while applying one step. */
struct inject_ctx {
	const char *run_id;          /* unique per drill run */
	const char *step_id;         /* the scenario's inject[].id */
	const char *state_dir;       /* chaoslab's state directory */
	const struct params *params; /* validated parameters */
	cJSON *undo;                 /* object owned by the engine: everything revert
				      * needs. The engine journals it (fsync'd) before
				      * apply() runs, holding at least run and step. */
	struct journal *journal;     /* NULL in tests that do not journal */
	struct workers *workers;     /* the engine's worker table, may be NULL */
};

/* Journal the current ctx->undo as an "update" record, fsync'd. An injector
 * calls this before each further change whose undo data it has just added
 * (e.g. before spawning worker N it records the tag it will carry). */
int inject_ctx_save(struct inject_ctx *ctx, struct cl_error *err);

/* What a revert gets: the last undo data that reached the journal. It may be
 * the bare intent (the harness died before or during apply). */
struct revert_ctx {
	const char *run_id;
	const char *step_id;
	const char *state_dir;
	const cJSON *undo;
	char report[256];            /* filled by revert: what it undid, "" = nothing */
};

struct injector {
	const char *name;            /* the scenario's `type:` */
	const char *summary;         /* one line */
	const struct param_spec *params; /* NULL-name terminated; may be empty */
	/* 0 when this machine can run it; else -1 and why ("needs CAP_NET_ADMIN",
	 * "kernel has no sch_netem"). params is NULL when asked for the type in
	 * general (chaoslab list), else the step's parameters. */
	int (*supported)(const struct params *params, char *why, size_t size);
	/* Optional cross-parameter checks at load; -1 with msg filled. */
	int (*validate)(const struct params *params, char *msg, size_t size);
	/* Optional: the lab service this step cannot work without (its name in
	 * a scenario's lab: list), or NULL; the loader refuses a scenario that
	 * does not list it, before anything runs. */
	const char *(*lab_needs)(const struct params *params);
	/* Make the change. On failure, everything it did must still be undoable
	 * from ctx->undo (the engine reverts the step). */
	int (*apply)(struct inject_ctx *ctx, struct cl_error *err);
	/* Undo from journal data alone; idempotent; safe when apply never ran;
	 * touches only what it can prove is ours (pid + start time + boot id, a
	 * reserved handle, file contents). */
	int (*revert)(struct revert_ctx *ctx, struct cl_error *err);
	/* Optional worker body: when chaoslab is re-executed as this injector's
	 * worker, main() calls it with the worker's JSON arguments. Returns the
	 * process exit status. */
	int (*worker)(const cJSON *args);
};

/* Lookups a verifier may make into the running drill. */
struct check_env {
	/* The journaled undo data of an injection step, or NULL. */
	const cJSON *(*injection)(void *opaque, const char *step_id);
	/* pid of a running lab service by name; -1 if not running. */
	pid_t (*service_pid)(void *opaque, const char *name);
	/* Where a running lab service listens: 0 with host (an IPv4 literal:
	 * 127.0.0.1, or the service's address inside the lab network) and port,
	 * -1 if not running. From the lab step's undo "address" and "port". */
	int (*service_addr)(void *opaque, const char *name, char *host, size_t size, int *port);
	void *opaque;
};

enum check_result { CHECK_ERROR = -1, CHECK_NOT_MET = 0, CHECK_MET = 1 };

struct check_ctx {
	const struct params *params;
	const struct check_env *env; /* may be NULL (no drill running) */
	void *state;                 /* verifier-owned between calls; freed by release */
	double now;                  /* monotonic seconds at this check */
};

/* The journaled undo data of inject step `step`, for verifier `who`: NULL
 * with err set ("WHO: inject step 'STEP' can only be looked up during a
 * drill", or "... has not been applied") when no drill is running or the
 * step has no undo data yet. */
const cJSON *check_injection(const struct check_ctx *ctx, const char *who, const char *step,
			     struct cl_error *err);

struct verifier {
	const char *name;
	const char *summary;
	const struct param_spec *params;
	int (*supported)(const struct params *params, char *why, size_t size);
	int (*validate)(const struct params *params, char *msg, size_t size);
	/* Evaluate once: CHECK_MET / CHECK_NOT_MET with a one-line observation
	 * ("3 zombies under pid 4121"), or CHECK_ERROR with err set. Called every
	 * poll tick; windowed verifiers keep samples in ctx->state. */
	int (*check)(struct check_ctx *ctx, char *obs, size_t obs_size, struct cl_error *err);
	/* Optional: free ctx->state. */
	void (*release)(struct check_ctx *ctx);
};

/* Lookups by name across the built-in tables and any test-only additions. */
const struct injector *injector_find(const char *name);
const struct verifier *verifier_find(const char *name);

/* Iterate: returns the i-th descriptor or NULL past the end. */
const struct injector *injector_at(size_t i);
const struct verifier *verifier_at(size_t i);

/* All names into out (NULL-terminated, at most cap-1 names) for did-you-mean. */
size_t injector_names(const char **out, size_t cap);
size_t verifier_names(const char **out, size_t cap);

/* Tests only: extra descriptors visible to lookups (NULL-terminated arrays,
 * caller-owned, must outlive their use). Pass NULL to clear. */
void registry_set_test_injectors(const struct injector *const *extra);
void registry_set_test_verifiers(const struct verifier *const *extra);

#endif
