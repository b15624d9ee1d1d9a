/* Scoring, as DESIGN.md sets it out (a scenario's `scoring:` tunes the
 * numbers):
 *   fixed:     100 - time_penalty - sum(hint penalties) - sum(guard penalties)
 *              time_penalty = 0 within par, rising linearly to
 *              max_time_penalty at time_penalty_at x par
 *   not fixed: partial_max x (met weight / total weight) - sum(guard penalties)
 * clamped to 0..100. */
#ifndef CHAOSLAB_SCORE_H
#define CHAOSLAB_SCORE_H

#include <stdbool.h>

#include "core/scenario.h"

struct score_input {
	bool fixed;
	double seconds;          /* clock start to fix (or to the end) */
	int hint_penalty;        /* sum over hints taken */
	int guard_penalty;       /* sum over guards violated */
	double met_weight;       /* fixed_when weight met at the end */
	double total_weight;
};

struct score {
	int total;               /* 0..100 */
	double base;             /* 100, or the partial credit */
	double time_penalty;
	int hint_penalty;
	int guard_penalty;
};

/* Compute a score; pure function of its inputs and the scenario's numbers. */
struct score score_compute(const struct scoring *tuning, int par_seconds,
			   const struct score_input *in);

#endif
