/* The drill engine: the state machine of DESIGN.md.
 *
 *   preflight -> lab -> inject -> confirm -> watch -> revert -> score ->
 *   assess -> record
 *
 * Each state is one function in engine.c returning the next state; the
 * transitions are in drill_run(). Revert always happens once anything was
 * applied: on fix, give-up, time limit, a signal, an internal error. */
#ifndef CHAOSLAB_ENGINE_H
#define CHAOSLAB_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "core/scenario.h"

struct drill_opts {
	double autopilot_delay;  /* < 0: off; else run the solution this many
				  * seconds after the clock starts */
	bool no_ask;             /* skip the self-assessment */
	bool live;               /* redraw a live block (a TTY) */
	bool color;
	const char *results_dir; /* NULL: results_dir(NULL) */
	const char *const *sets; /* the --set overrides applied, for the record */
	size_t nsets;
	FILE *out;               /* where the drill talks (stdout) */
};

/* What a finished drill reports back. */
struct drill_outcome {
	const char *outcome;     /* fixed, gave_up, timed_out, aborted,
				  * injection_failed, error */
	int score;               /* -1 when not scored */
	char result_path[1024];  /* "" when not written */
	int exit_code;           /* enum cl_exit */
};

/* Run one drill of s (already loaded, overrides applied). Never returns with
 * a fault applied unless its revert failed (then exit_code is 5 and the
 * journal is kept for `chaoslab recover`). err describes a failure that ended
 * the drill early (exit codes 2-5). */
int drill_run(const struct scenario *s, const struct drill_opts *opts, struct drill_outcome *out,
	      struct cl_error *err);

#endif
