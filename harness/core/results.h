/* Drill results: one JSON document per run, written crash-safely, and a
 * reader over the history that reports and skips corrupt files.
 *
 * The results directory also holds the growth tools' own documents, each
 * saying what it is in "kind": "assessment" (chaoslab assess), "daily" (the
 * drill chaoslab daily picked for a day) and "mock" (a mock interview's
 * combined result). A drill result has no "kind" (or "kind": "drill"). Every
 * kind carries schema, run_id and started_at, so one reader and one order
 * serve them all. */
#ifndef CHAOSLAB_RESULTS_H
#define CHAOSLAB_RESULTS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"

#define RESULTS_SCHEMA 1

#define RESULTS_KIND_DRILL "drill"
#define RESULTS_KIND_ASSESSMENT "assessment"
#define RESULTS_KIND_DAILY "daily"
#define RESULTS_KIND_MOCK "mock"

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

/* Write len bytes of text as the file path, crash-safely: a temp file
 * ".NAME.tmp.PID" beside it, write, fsync, rename over path, fsync the
 * directory; on failure the temp file is removed and err says which step
 * failed. path's directory must exist. A successful write also removes
 * the ".NAME.tmp.PID" files of writers that died half-way (tmpfile.h).
 * results_write is this for a document. */
int results_write_text(const char *path, const char *text, size_t len, struct cl_error *err);

/* A new run id "YYYYMMDDTHHMMSSZ-LABEL-XXXX" (XXXX random hex) for a
 * document made at now, into id; iso (may be NULL) gets now as
 * "YYYY-MM-DDTHH:MM:SSZ" for its started_at. */
void results_new_id(const char *label, time_t now, char *id, size_t idsize, char *iso,
		    size_t isosize);

/* The kind of a checked document: "drill" when it has none. */
const char *results_kind(const cJSON *doc);

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

/* Validate one parsed document of any kind: 0, or -1 with why filled. A
 * drill result needs run_id, scenario.id, outcome and started_at; other
 * kinds need run_id and started_at and their own fields (assessment: skills
 * and grades 1..5; daily: date and scenario; mock: drills). An unknown kind
 * is refused. */
int results_check(const cJSON *doc, char *why, size_t size);

#endif
