/* Drill results: one JSON document per run, written crash-safely, and a
 * reader over the history that reports and skips corrupt files. */
#ifndef CHAOSLAB_RESULTS_H
#define CHAOSLAB_RESULTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/error.h"

#define RESULTS_SCHEMA 1

/* The results directory: opt (--results) if given, else $CHAOSLAB_RESULTS,
 * else ./results. Static or caller's string. */
const char *results_dir(const char *opt);

/* Write doc as DIR/<run_id>.json: temp file in DIR, write, fsync, rename,
 * fsync the directory; on failure the temp file is removed and the error says
 * which step failed. The final name never holds a partial file. out (may be
 * NULL) gets the final path. run_id must be a plain file name: not empty, no
 * '/', not starting with '.' (hidden names are temp files). */
int results_write(const char *dir, const char *run_id, const cJSON *doc, char *out, size_t size,
		  struct cl_error *err);

struct result_entry {
	char *path;
	cJSON *doc;          /* owned */
};

struct result_list {
	struct result_entry *items; /* sorted by started_at, oldest first */
	size_t count;
};

/* Called for each file that cannot be used (not JSON, wrong schema). */
typedef void (*results_bad_fn)(const char *path, const char *why, void *opaque);

/* Read every *.json in dir. A missing directory is an empty history. */
int results_read_all(const char *dir, struct result_list *out, results_bad_fn bad, void *opaque,
		     struct cl_error *err);

/* Find one result by run id, else by a unique prefix of one. An exact id wins
 * over longer ids it prefixes. NULL if none, ambiguous, or run_id is empty. */
const struct result_entry *results_find(const struct result_list *list, const char *run_id);

void results_list_release(struct result_list *list);

/* Validate one parsed document: 0, or -1 with why filled. */
int results_check(const cJSON *doc, char *why, size_t size);

#endif
