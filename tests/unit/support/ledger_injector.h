/* test-ledger: a test-only injector whose change is real, visible and
 * ownership-checkable, for the journal and recovery tests.
 *
 * The undo data the engine journals with the "intent" record must hold
 * {"run": RUN, "step": STEP, "dir": DIR}. apply() then
 *   1. adds "marker" to the undo data and journals it (inject_ctx_save),
 *   2. appends "apply STEP" to DIR/ledger (fsync'd),
 *   3. creates DIR/STEP.applied holding RUN (written to a temp name that
 *      carries the run id, fsync'd, then linked into place: never clobbers).
 * revert() removes DIR/STEP.applied only when it holds RUN, and appends
 * "revert STEP" to the ledger only when it removed it. It never touches a
 * marker of another run, is idempotent and is safe when apply never ran.
 *
 * Knobs for tests: a file DIR/STEP.fail-revert makes revert() fail (the
 * marker stays); ledger_hook, when set, is called at the points inside
 * apply() where a crash test may kill the process. */
#ifndef CHAOSLAB_TEST_LEDGER_INJECTOR_H
#define CHAOSLAB_TEST_LEDGER_INJECTOR_H

#include <stddef.h>

#include "core/registry.h"

#define LEDGER_INJECTOR_NAME "test-ledger"

extern const struct injector ledger_injector;

/* Called inside apply() with "apply:saved" (after the update record) and
 * "apply:logged" (after the ledger line, before the marker exists). */
extern void (*ledger_hook)(const char *where);

/* Make test-ledger visible to injector_find() (registry_set_test_injectors). */
void ledger_injector_register(void);

/* Build the undo object the engine journals with the intent record. Caller
 * owns the result. */
cJSON *ledger_undo_new(const char *run_id, const char *step, const char *dir);

/* DIR/STEP.applied into buf. */
void ledger_marker_path(const char *dir, const char *step, char *buf, size_t size);

/* DIR/ledger into buf. */
void ledger_file_path(const char *dir, char *buf, size_t size);

#endif
