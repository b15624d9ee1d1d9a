/* The gaps list: every skill ranked by how weak the history says it is,
 * each with its evidence and the drill to do next. The five weakest are
 * "the gaps list" of DESIGN.md; daily and mock pick their drills from it.
 *
 * Weakness W of a skill, 0 (strong) .. 100 (weak), from its counted attempts
 * (history.h: scored, not autopilot, not injection_failed/error), newest
 * first, the newest GAPS_WINDOW of them, attempt i weighing w_i = 0.6^i:
 *
 *   S  = sum(w_i * score_i) / sum(w_i)                 recency-weighted score
 *   R  = sum(w_i * r_i) / sum(w_i),   r_i = min(3, time_to_fix / par) when
 *        fixed, else 3                                 time against par
 *   H  = sum(w_i * hints_i) / sum(w_i)                 hints per attempt
 *   O  = sum(w_i * o_i) / sum(w_i) over the attempts that rated their
 *        confidence c_i (1..5), o_i = max(0, 20 * c_i - score_i) when
 *        c_i >= 3, else 0                              over-confidence
 *   G  = mean grade (1..5) of the newest self-assessment that graded prompts
 *        of the skill
 *   D  = whole days from the newest counted attempt to now
 *
 *   W = 0.6 * (100 - S)                  score term,           0..60
 *     + 5 * max(0, R - 1)                time term,            0..10
 *     + min(10, 4 * H)                   hints term,           0..10
 *     + 0.2 * O                          over-confidence term, 0..20
 *     + 4 * (3 - G)       if assessed    self-assessment term, -8..+8
 *     + min(10, 0.5 * max(0, D - 14))    staleness term,       0..10
 *
 * A skill never practised (no counted attempt) has W = 60 + the
 * self-assessment term. W is clamped to 0..100 and rounded to one decimal;
 * ties go to the skill of the earliest curriculum day, then by name.
 *
 * The next drill for a skill is the first of the catalog drills practising
 * it, ordered: runs here first; then by priority, the latest counted score
 * on that drill, an untried drill counting 55 (redo a failed drill, else try
 * a new one, else repeat the weakest); then difficulty, day and id. */
#ifndef CHAOSLAB_GAPS_H
#define CHAOSLAB_GAPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "core/error.h"
#include "drill/history.h"

#define GAPS_LIST 5            /* the gaps list: the five weakest */
#define GAPS_WINDOW 5          /* newest counted attempts that weigh */
#define GAPS_DECAY 0.6         /* w_i = GAPS_DECAY^i */
#define GAPS_NEVER 60.0        /* weakness of a skill never practised */
#define GAPS_UNTRIED 55.0      /* next-drill priority of an untried drill */
#define GAPS_CONFIDENT 3       /* the lowest confidence that can be over-confident */

struct gap_terms {
	double score, time, hints, over, assess, stale;
};

struct gap {
	char skill[64];
	double weakness;               /* W, one decimal */
	bool practised;                /* at least one counted attempt */
	int attempts;                  /* counted attempts, all time */
	int autopilot_runs;            /* runs of the skill's drills on autopilot */
	int failed_runs;               /* injection_failed / error runs */
	const struct attempt *recent[GAPS_WINDOW]; /* newest first */
	size_t nrecent;
	double score, time_ratio, hints; /* S, R, H; meaningful when practised */
	double over;                   /* O, < 0 when no confidence was given */
	const struct attempt *over_worst; /* the most over-confident attempt */
	double grade;                  /* G, < 0 when never self-assessed */
	const struct assessment *assessment;
	int days_since;                /* D, < 0 when never practised */
	struct gap_terms terms;
	int first_day;                 /* earliest curriculum day of the skill */
	size_t *cands;                 /* catalog indices, best first */
	size_t ncands;
	const struct catalog_drill *next; /* cands[0] or NULL */
	char next_reason[160];
};

struct gaps {
	struct gap *items;             /* every known skill, weakest first */
	size_t count;
	time_t now;
	int counted;                   /* counted attempts in the history */
	const struct history *history;
};

/* Rank every skill of the catalog and the history as of now. out is the
 * caller's, released with gaps_release; it points into h and c, which must
 * outlive it. -1 only when memory runs out. */
int gaps_compute(const struct history *h, const struct catalog *c, time_t now, struct gaps *out,
		 struct cl_error *err);

void gaps_release(struct gaps *g);

/* The evidence of one gap as lines of text ("last attempts: ...",
 * "over-confident: ...", "self-assessment: ..."), each ending in '\n',
 * into buf (always terminated). */
void gap_describe(const struct gap *g, char *buf, size_t size);

/* Why c->items[idx] is a good next drill for g, one of all's gaps
 * ("untried, difficulty 1 (day 3)", "you scored 30 on it on 2024-05-02: do
 * it again"), into buf. */
void gap_cand_reason(const struct gaps *all, const struct gap *g, const struct catalog *c,
		     size_t idx, char *buf, size_t size);

/* The gaps as JSON: {"as_of", "counted_attempts", "gaps": [the first limit
 * gaps, each with rank, skill, weakness, terms, evidence, recent attempts
 * and next drill]}. Caller owns the result; NULL when out of memory. */
cJSON *gaps_json(const struct gaps *g, size_t limit);

/* The domain of a skill: its part before the first '.' ("net" of
 * "net.dns"), into buf. */
void gaps_skill_domain(const char *skill, char *buf, size_t size);

struct gaps_pick {
	const struct gap *gap;
	const struct catalog_drill *drill;
	size_t drill_index;
	char reason[512];
};

/* Pick a drill the way daily and mock do: walk the gaps weakest first and
 * each gap's candidates best first; take the first drill that runs here and
 * is not in exclude. With domain (may be NULL) only skills of that domain
 * count, and only drills of it (a drill's domain is its first skill's).
 * 0 with out filled, or -1 when no drill qualifies. */
int gaps_pick(const struct gaps *g, const struct catalog *c, const char *domain,
	      const char *const *exclude, size_t nexclude, struct gaps_pick *out);

/* What the growth commands work from: the history, the catalog and the
 * gaps computed from both. */
struct practice {
	struct history history;
	struct catalog catalog;
	struct gaps gaps;
};

/* Load the history of results_dir and the catalog (checking what runs here
 * when check_support) and rank the gaps as of now. Unusable files are
 * reported to warn (may be NULL: silent) and skipped. -1 with err set when
 * a directory cannot be read or memory runs out. p is the caller's,
 * released with practice_release. */
int practice_load(struct practice *p, const char *results_dir, bool check_support, time_t now,
		  FILE *warn, struct cl_error *err);

void practice_release(struct practice *p);

#endif
