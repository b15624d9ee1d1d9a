/* The write-ahead journal, the run lock and the state directory.
 *
 * Before every change the engine appends an "intent" record holding the undo
 * data, fsync'd; then the change; then "applied". Reverting appends
 * "reverted" (or "revert-failed"). A run that ends cleanly removes its
 * journal. A journal found with no live owner belongs to a dead run:
 * journal_recover() replays it through each injector's revert() in reverse
 * order. Records are JSON lines; a torn last line (no newline, or not JSON) is
 * ignored and counted. */
#ifndef CHAOSLAB_JOURNAL_H
#define CHAOSLAB_JOURNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "sys/proc.h"

/* The state directory: $CHAOSLAB_STATE, else /var/lib/chaoslab for root, else
 * $XDG_STATE_HOME/chaoslab (~/.local/state/chaoslab). Created 0700 when
 * create is true. Returns 0 and the path in buf. */
int state_dir(char *buf, size_t size, bool create, struct cl_error *err);

/* One drill at a time: an flock on STATE/lock (released by the kernel if the
 * holder dies) holding the owner's identity (pid, start time, boot id). */
struct run_lock {
	int fd;
};

/* Take the lock or fail with "a drill is already running (pid N, scenario)".
 * stale_owner, if non-NULL, is set true when the lock file named an owner that
 * is gone (a dead run). */
int run_lock_acquire(const char *dir, struct run_lock *lk, bool *stale_owner,
		     struct cl_error *err);
/* Record what the lock holder runs (shown to a second `chaoslab`). */
int run_lock_describe(struct run_lock *lk, const char *run_id, const char *scenario);
void run_lock_release(struct run_lock *lk);
/* Read the current holder's run id and identity; -1 if no live holder. */
int run_lock_holder(const char *dir, struct proc_ident *who, char *run_id, size_t size);

struct journal;

/* Start a new journal for run_id in dir (fails if one exists: recover first).
 * Writes and fsyncs the "begin" record. */
struct journal *journal_begin(const char *dir, const char *run_id, const char *scenario,
			      struct cl_error *err);

/* Append one record, fsync'd before returning. rec: "intent", "update",
 * "applied", "revert-begin", "reverted", "revert-failed". undo may be NULL. */
int journal_append(struct journal *j, const char *rec, const char *step, const char *type,
		   const cJSON *undo, struct cl_error *err);

/* The run ended with everything reverted: remove the journal file (fsync'd
 * directory) and free j. */
int journal_finish(struct journal *j, struct cl_error *err);

/* Close without removing (the run could not revert: recover will). */
void journal_close(struct journal *j);

/* Path of the journal file in dir. */
void journal_path(const char *dir, char *buf, size_t size);

/* A journal as read back. */
struct journal_step {
	char step[64];
	char type[64];
	cJSON *undo;          /* latest undo data (intent or update), owned */
	bool applied, reverted, revert_failed;
};

struct journal_view {
	char run_id[128];
	char scenario[128];
	struct proc_ident owner;
	struct journal_step *steps;  /* in intent order */
	size_t nsteps;
	int torn;                    /* lines ignored as torn */
};

/* Read a journal file. -1 with err if unreadable; a missing file is -1 with
 * errnum ENOENT. */
int journal_read(const char *path, struct journal_view *v, struct cl_error *err);
void journal_view_release(struct journal_view *v);

/* What recover did, one line per step. */
struct recover_report {
	bool found;          /* a dead run's journal existed */
	char run_id[128];
	char scenario[128];
	size_t reverted, failed, torn;
	char text[4096];
};

/* Recover a dead run in dir: revert every journaled step not yet reverted, in
 * reverse order, appending records as it goes, then remove the journal. The
 * caller holds the run lock. Idempotent: with no journal it reports nothing
 * found. -1 (code CL_EXIT_REVERT) if any revert failed; the journal is kept. */
int journal_recover(const char *dir, struct recover_report *rep, struct cl_error *err);

/* Append a JSON line to fd and fsync it: the one write path of the journal,
 * exposed for the crash test's torn-record case. */
int journal_write_line(int fd, const cJSON *rec, struct cl_error *err);

#endif
