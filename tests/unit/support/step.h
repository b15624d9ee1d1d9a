/* Running one injector step the way the engine does, for unit tests.
 *
 * test_step_apply() parses `with` (JSON) against the injector's parameter
 * table, validates it, and applies it with a fresh undo object holding
 * "run" and "step" (as the engine's intent record does); test_step_revert()
 * reverts from that undo data alone. After test_step_apply() returns,
 * whatever it returned, the step may be reverted and must be freed.
 *
 * test_sh() and test_capture() run a shell command line built with printf
 * formatting: the exit status (-1 when it could not run), or its standard
 * output (at most size - 1 bytes, "" when it could not run). */
#ifndef CHAOSLAB_TEST_STEP_H
#define CHAOSLAB_TEST_STEP_H

#include <stddef.h>

#include "core/param.h"
#include "core/registry.h"

struct test_step {
	const struct injector *in;
	struct params params;
	struct inject_ctx ctx;
	cJSON *undo;
	char run[64], id[32], state[512];
};

/* Parse `with` (JSON) against spec into p: 0, or -1 with the loader's err. */
int test_params_parse(struct params *p, const struct param_spec *spec, const char *with,
		      struct cl_error *err);

/* 0, or -1 with err: a parse or validate failure (code CL_EXIT_USAGE, the
 * message as the loader or validate() gives it) or apply's error. An unknown
 * type fails the test. state_dir may be NULL ("/nonexistent"). */
int test_step_apply(struct test_step *s, const char *type, const char *run, const char *id,
		    const char *state_dir, const char *with, struct cl_error *err);

/* Revert from the undo data; revert's report into report (may be NULL). */
int test_step_revert(struct test_step *s, char *report, size_t size, struct cl_error *err);

void test_step_free(struct test_step *s);

int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *test_capture(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
