/* The practice history and the catalog it is measured against: the results
 * directory read into typed records (drill attempts, self-assessments,
 * dailies, mock interviews), the drill catalog summarised per drill with
 * whether it runs here, and the runbook sections the reports quote.
 *
 * Records point into the documents the history owns: they live until
 * history_release(). Nothing here prints; unusable files are handed to the
 * caller's callback and skipped. */
#ifndef CHAOSLAB_HISTORY_H
#define CHAOSLAB_HISTORY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"
#include "core/results.h"
#include "core/scenario.h"

/* One drill run. An attempt is *counted* (it measures the engineer) when it
 * was scored, was not run by --autopilot, and its outcome is neither
 * injection_failed nor error: a break that never landed, or a harness
 * failure, says nothing about the engineer. */
struct attempt {
	const cJSON *doc;
	const char *path;
	const char *run_id, *scenario, *title, *started_at, *outcome;
	const char *root_cause;  /* NULL when none was written */
	const char *runbook;     /* as recorded, relative to the catalog root */
	const cJSON *skills;     /* array of strings */
	time_t when;             /* started_at */
	int day, difficulty;
	double score;            /* < 0: not scored */
	double par_seconds, time_limit_seconds; /* 0: unknown */
	double elapsed_seconds, time_to_fix_seconds; /* < 0: unknown / not fixed */
	int hints;               /* hints taken */
	int hint_penalty;
	int confidence;          /* 1..5, 0 when not given */
	bool autopilot;
	bool counted;
};

/* One self-assessment (chaoslab assess). */
struct assessment {
	const cJSON *doc;
	const char *run_id, *started_at;
	time_t when;
	const cJSON *grades;     /* [{prompt, scenarios, skills, grade}] */
};

/* The drill chaoslab daily picked for one day. */
struct daily {
	const cJSON *doc;
	const char *run_id, *started_at;
	const char *date;        /* local calendar day, YYYY-MM-DD */
	const char *scenario;
	const char *drill_run;   /* the drill's run id once it ran, else NULL */
	time_t when;
};

struct history {
	struct result_list list;  /* owns every document */
	struct attempt *attempts; /* oldest first, like everything below */
	size_t nattempts;
	struct assessment *assessments;
	size_t nassessments;
	struct daily *dailies;
	size_t ndailies;
	const cJSON **mocks;      /* mock interview documents */
	size_t nmocks;
	size_t unreadable;        /* files reported to the callback and skipped */
};

/* Read every document in dir into h (a missing directory is an empty
 * history). A file that cannot be used is passed to bad (may be NULL) and
 * skipped, never fatal. -1 only when dir cannot be read or memory runs out.
 * h is the caller's, released with history_release. */
int history_load(const char *dir, struct history *h, results_bad_fn bad, void *opaque,
		 struct cl_error *err);

void history_release(struct history *h);

/* A results_bad_fn (and catalog_bad_fn) for commands: prints "chaoslab:
 * skipping 'PATH': WHY" to the FILE * opaque. */
void history_warn_skipped(const char *path, const char *why, void *opaque);

/* Whether an attempt's scenario lists skill. */
bool attempt_has_skill(const struct attempt *a, const char *skill);

/* An attempt by run id (exact, else a unique prefix), or NULL. */
const struct attempt *history_find_attempt(const struct history *h, const char *run_id);

/* The mean grade an assessment gave the prompts covering skill, or -1 when
 * none does; *n (may be NULL) gets how many prompts it averaged. */
double assessment_grade(const struct assessment *a, const char *skill, int *n);

/* Parse "YYYY-MM-DDTHH:MM:SSZ" (UTC) into *out: 0, or -1 if malformed. */
int history_parse_time(const char *iso, time_t *out);

/* ---- the catalog ----------------------------------------------------------------------- */

/* One catalog drill, summarised. Strings are owned by the catalog. */
struct catalog_drill {
	char *id, *title, *file, *runbook_path, *briefing;
	int day, difficulty, par_seconds, time_limit_seconds;
	struct strv skills, quiz, lab, solution;
	struct strv hints;       /* each hint's text, in order */
	bool supported;
	char why[512];           /* why not, when !supported */
};

struct catalog {
	struct catalog_drill *items; /* sorted by id */
	size_t count;
	size_t invalid;          /* files reported to the callback and skipped */
};

/* Called for each catalog file that does not load. */
typedef void (*catalog_bad_fn)(const char *file, const char *why, void *opaque);

/* Load the catalog (scenario_catalog_dir()). With check_support each drill
 * says whether this machine can run it (scenario_supported); without, every
 * drill is marked supported and why says "not checked". A scenario that
 * does not load is reported to bad (may be NULL) and skipped. -1 only when
 * the catalog directory cannot be read or memory runs out. */
int catalog_load(struct catalog *c, bool check_support, catalog_bad_fn bad, void *opaque,
		 struct cl_error *err);

void catalog_release(struct catalog *c);

const struct catalog_drill *catalog_find(const struct catalog *c, const char *id);

bool catalog_drill_has_skill(const struct catalog_drill *d, const char *skill);

/* ---- runbooks -------------------------------------------------------------------------- */

/* The body of the level-2 section "## heading" of the Markdown file path
 * (heading matched case-insensitively, the body up to the next level-1 or
 * level-2 heading, trimmed), malloc'd; NULL when the file or the section is
 * missing. */
char *runbook_section(const char *path, const char *heading);

/* The answer the runbook's "## Quiz prompts" section gives to prompt (its
 * paragraph after a "**prompt**" line; punctuation, case and quotes ignored
 * in the match), malloc'd; NULL when there is none. */
char *runbook_quiz_answer(const char *path, const char *prompt);

/* Whether two quiz prompts are the same question (letters and digits
 * compared, case ignored). */
bool runbook_prompt_same(const char *a, const char *b);

/* The runbook's quiz prompts (the "**...**" lines of its "## Quiz prompts"
 * section), appended to out (strings malloc'd). */
int runbook_quiz_prompts(const char *path, struct strv *out);

/* Free a strv filled by these functions (not one owned by a scenario). */
void history_strv_release(struct strv *sv);

#endif
