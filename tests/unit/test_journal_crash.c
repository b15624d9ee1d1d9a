/* The crash test of harness/core/journal.c: a child runs the engine's journal
 * protocol over three test-ledger steps and is SIGKILLed at every record
 * boundary in turn (and, separately, dies having written half of a record);
 * after each death journal_recover() must leave nothing applied, revert
 * nothing that was never applied, remove the journal, and find nothing the
 * second time. The `chaoslab recover` command is run for the paths that do
 * not need the test injector (unknown injector type, nothing to recover). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/journal.h"
#include "support/ledger_injector.h"

#define NSTEPS 3

static const char *const step_ids[NSTEPS] = { "s1", "s2", "s3" };

/* ---- scratch directories ------------------------------------------------- */

static void make_scratch(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, size, "%s/chaoslab-crash-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d))) {
		char sub[1024];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		remove_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The whole file as a NUL-terminated string ("" if missing); caller frees. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	FILE *m = open_memstream(&buf, &len);
	int c;
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

/* ---- the child: the engine's journal protocol, killed at point N ---------- */

struct crash_plan {
	int kill_at;   /* 1-based index of the point to die at; 0 = never */
	bool torn;     /* count record points only, and die mid-record */
};

static struct crash_plan plan;
static int points_seen, records_seen;
static char child_journal[1024];

static void crash_point(const char *where)
{
	if (++points_seen == plan.kill_at && !plan.torn)
		raise(SIGKILL);
}

/* Write the first half of the record the protocol was about to write, as a
 * crash inside write() would leave it, and die. */
static void die_torn(const cJSON *rec)
{
	char *text = cJSON_PrintUnformatted(rec);
	int fd = open(child_journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (text && fd >= 0 && write(fd, text, strlen(text) / 2) < 0)
		_exit(3);
	if (fd >= 0)
		fsync(fd);
	raise(SIGKILL);
}

static void record_point(const char *rec, const char *step, const cJSON *undo)
{
	crash_point(rec);
	if (++records_seen == plan.kill_at && plan.torn) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "seq", 99);
		cJSON_AddStringToObject(r, "rec", rec);
		if (step)
			cJSON_AddStringToObject(r, "step", step);
		cJSON_AddStringToObject(r, "type", LEDGER_INJECTOR_NAME);
		if (undo)
			cJSON_AddItemToObject(r, "undo", cJSON_Duplicate(undo, 1));
		die_torn(r);
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(2);
}

static void child_append(struct journal *j, const char *rec, const char *step,
			 const cJSON *undo)
{
	struct cl_error err;

	record_point(rec, step, undo);
	if (journal_append(j, rec, step, LEDGER_INJECTOR_NAME, undo, &err))
		child_fail("journal_append %s: %s", rec, err.msg);
	crash_point(rec);
}

/* What the engine does for a drill whose fix needs no revert help: take the
 * lock, journal and apply each step, then revert them in reverse, finish. */
static void __attribute__((noreturn)) child_run(const char *state, const char *work)
{
	const char *run_id = "run-crash";
	cJSON *undo[NSTEPS] = { 0 };
	struct run_lock lk;
	struct journal *j;
	struct cl_error err;

	journal_path(state, child_journal, sizeof(child_journal));
	ledger_hook = crash_point;
	if (run_lock_acquire(state, &lk, NULL, &err))
		child_fail("run_lock_acquire: %s", err.msg);
	run_lock_describe(&lk, run_id, "crash-drill");

	record_point("begin", NULL, NULL);
	j = journal_begin(state, run_id, "crash-drill", &err);
	if (!j)
		child_fail("journal_begin: %s", err.msg);
	crash_point("begun");

	for (int i = 0; i < NSTEPS; i++) {
		struct inject_ctx ctx = { .run_id = run_id, .step_id = step_ids[i],
					  .state_dir = state, .journal = j };
		undo[i] = ledger_undo_new(run_id, step_ids[i], work);
		ctx.undo = undo[i];
		child_append(j, "intent", step_ids[i], undo[i]);
		if (ledger_injector.apply(&ctx, &err))
			child_fail("apply %s: %s", step_ids[i], err.msg);
		crash_point("applied");
		child_append(j, "applied", step_ids[i], NULL);
	}
	for (int i = NSTEPS; i-- > 0;) {
		struct revert_ctx rctx = { .run_id = run_id, .step_id = step_ids[i],
					   .state_dir = state, .undo = undo[i] };
		child_append(j, "revert-begin", step_ids[i], NULL);
		if (ledger_injector.revert(&rctx, &err))
			child_fail("revert %s: %s", step_ids[i], err.msg);
		crash_point("reverted");
		child_append(j, "reverted", step_ids[i], NULL);
	}
	if (journal_finish(j, &err))
		child_fail("journal_finish: %s", err.msg);
	crash_point("finished");
	run_lock_release(&lk);
	crash_point("released");
	_exit(0);
}

/* ---- the parent: checks after each death ---------------------------------- */

struct scratch {
	char root[512];
	char state[600];
	char work[600];
};

static void scratch_new(struct scratch *s)
{
	make_scratch(s->root, sizeof(s->root));
	snprintf(s->state, sizeof(s->state), "%s/state", s->root);
	snprintf(s->work, sizeof(s->work), "%s/work", s->root);
	assert_int_equal(mkdir(s->state, 0700), 0);
	assert_int_equal(mkdir(s->work, 0755), 0);
}

/* Bit i set when step i's marker exists. */
static unsigned markers_present(const char *work)
{
	unsigned set = 0;

	for (int i = 0; i < NSTEPS; i++) {
		char p[1024];
		ledger_marker_path(work, step_ids[i], p, sizeof(p));
		if (file_exists(p))
			set |= 1u << i;
	}
	return set;
}

static int step_index(const char *name)
{
	for (int i = 0; i < NSTEPS; i++)
		if (!strcmp(step_ids[i], name))
			return i;
	return -1;
}

/* The ledger must be a well-formed history: every "revert X" follows an
 * "apply X" not yet reverted. */
static void assert_ledger_sane(const char *ledger, const char *what)
{
	bool live[NSTEPS] = { false };
	char *copy = strdup(ledger), *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char verb[16], step[16];
		int i = -1;
		if (sscanf(line, "%15s %15s", verb, step) != 2 || (i = step_index(step)) < 0)
			fail_msg("%s: bad ledger line '%s'", what, line);
		if (!strcmp(verb, "apply")) {
			live[i] = true;
		} else if (!strcmp(verb, "revert")) {
			if (!live[i])
				fail_msg("%s: '%s' without an apply before it:\n%s", what, line,
					 ledger);
			live[i] = false;
		} else {
			fail_msg("%s: bad ledger line '%s'", what, line);
		}
	}
	free(copy);
}

/* No marker and no apply temp file may be left in work. */
static void assert_nothing_applied(const char *work, const char *what)
{
	DIR *d = opendir(work);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "ledger"))
			continue;
		closedir(d);
		fail_msg("%s: '%s' left behind in the work directory", what, de->d_name);
	}
	closedir(d);
}

static void recover_and_check(const struct scratch *s, bool torn_expected, const char *what)
{
	char jpath[1024], lpath[1024];
	unsigned before = markers_present(s->work);
	bool had_journal;
	char *ledger0, *ledger1, *ledger2, expect[256] = "";
	struct recover_report rep;
	struct run_lock lk;
	struct cl_error err;
	bool stale;
	int rc;

	journal_path(s->state, jpath, sizeof(jpath));
	ledger_file_path(s->work, lpath, sizeof(lpath));
	had_journal = file_exists(jpath);
	ledger0 = slurp(lpath);
	assert_ledger_sane(ledger0, what);

	cl_error_clear(&err);
	assert_int_equal(run_lock_acquire(s->state, &lk, &stale, &err), 0);
	if (had_journal && !stale)
		fail_msg("%s: a dead run left its journal but the lock was not stale", what);
	rc = journal_recover(s->state, &rep, &err);
	if (rc)
		fail_msg("%s: journal_recover: %s", what, err.msg);
	assert_int_equal(rep.found, had_journal);
	assert_int_equal(rep.failed, 0);
	assert_int_equal(rep.torn, torn_expected ? 1 : 0);
	if (had_journal)
		assert_string_equal(rep.run_id, torn_expected && !rep.run_id[0] ? "" : "run-crash");
	assert_false(file_exists(jpath));
	assert_nothing_applied(s->work, what);

	/* Recovery appended exactly one revert per marker that was there, last
	 * step first. */
	ledger1 = slurp(lpath);
	assert_ledger_sane(ledger1, what);
	assert_int_equal(strncmp(ledger1, ledger0, strlen(ledger0)), 0);
	for (int i = NSTEPS; i-- > 0;)
		if (before & (1u << i))
			snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect),
				 "revert %s\n", step_ids[i]);
	if (strcmp(ledger1 + strlen(ledger0), expect))
		fail_msg("%s: recovery ledger lines\n%s\nexpected\n%s", what,
			 ledger1 + strlen(ledger0), expect);

	/* A second recovery finds nothing and does nothing. */
	rc = journal_recover(s->state, &rep, &err);
	if (rc)
		fail_msg("%s: second journal_recover: %s", what, err.msg);
	assert_false(rep.found);
	assert_int_equal(rep.reverted, 0);
	ledger2 = slurp(lpath);
	assert_string_equal(ledger2, ledger1);
	assert_nothing_applied(s->work, what);
	run_lock_release(&lk);

	free(ledger0);
	free(ledger1);
	free(ledger2);
}

/* Run the child with plan p; true if it died at the planned point, false if
 * it ran to completion (the plan's point lies beyond the last one). */
static bool run_child(const struct scratch *s, struct crash_plan p)
{
	int status;
	pid_t pid;

	plan = p;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_run(s->state, s->work);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return true;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed at kill point %d (status 0x%x)", p.kill_at, status);
	return false;
}

static void test_kill_at_every_point(void **state)
{
	int n;

	ledger_injector_register();
	for (n = 1;; n++) {
		struct scratch s;
		char what[64];
		bool died;

		snprintf(what, sizeof(what), "kill point %d", n);
		scratch_new(&s);
		died = run_child(&s, (struct crash_plan){ .kill_at = n });
		recover_and_check(&s, false, what);
		remove_tree(s.root);
		if (!died)
			break;
		assert_true(n < 1000);
	}
	/* Points: around begin (2); per step, around intent and applied (4)
	 * plus apply's saved, logged and done (3); per step reverting, around
	 * revert-begin and reverted (4) plus the revert done (1); after finish
	 * and after release (2). The child completes at the one after the last. */
	assert_int_equal(n, 2 + NSTEPS * 7 + NSTEPS * 5 + 2 + 1);
}

static void test_torn_record_at_every_point(void **state)
{
	int n;

	ledger_injector_register();
	for (n = 1;; n++) {
		struct scratch s;
		char what[64];
		bool died;

		snprintf(what, sizeof(what), "torn record %d", n);
		scratch_new(&s);
		died = run_child(&s, (struct crash_plan){ .kill_at = n, .torn = true });
		recover_and_check(&s, died, what);
		remove_tree(s.root);
		if (!died)
			break;
		assert_true(n < 1000);
	}
	/* Records: begin; per step intent and applied; per step revert-begin
	 * and reverted. The child completes at the one after the last. */
	assert_int_equal(n, 1 + NSTEPS * 2 + NSTEPS * 2 + 1);
}

/* ---- the chaoslab recover command ----------------------------------------- */

/* Run `chaoslab ARGS...` with CHAOSLAB_STATE=state; its stdout and stderr go
 * to out and errf. Returns the exit status (-1 if it did not exit). */
static int run_cli(const char *state, const char *out, const char *errf, const char *arg)
{
	const char *bin = getenv("CHAOSLAB_BIN");
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		setenv("CHAOSLAB_STATE", state, 1);
		execl(bin, bin, arg, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Leave a dead run's journal in state: begin, then for each type an intent
 * (and applied), no finish. */
static void leave_dead_journal(const char *state, const char *work, const char *type)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		struct journal *j = journal_begin(state, "run-cli", "cli-drill", &err);
		if (!j)
			child_fail("journal_begin: %s", err.msg);
		if (type) {
			cJSON *undo = ledger_undo_new("run-cli", "s1", work);
			if (journal_append(j, "intent", "s1", type, undo, &err) ||
			    journal_append(j, "applied", "s1", type, NULL, &err))
				child_fail("journal_append: %s", err.msg);
			cJSON_Delete(undo);
		}
		journal_close(j);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool have_cli(void)
{
	const char *bin = getenv("CHAOSLAB_BIN");

	if (!bin || !*bin) {
		fprintf(stderr, "skipped: CHAOSLAB_BIN is not set (run under ctest)\n");
		return false;
	}
	if (access(bin, X_OK) != 0)
		fail_msg("CHAOSLAB_BIN '%s' is not an executable", bin);
	return true;
}

static void test_cli_unknown_injector(void **state)
{
	struct scratch s;
	char out[700], errf[700], jpath[1024];
	char *o, *e;

	if (!have_cli())
		skip();
	scratch_new(&s);
	snprintf(out, sizeof(out), "%s/out", s.root);
	snprintf(errf, sizeof(errf), "%s/err", s.root);
	journal_path(s.state, jpath, sizeof(jpath));
	leave_dead_journal(s.state, s.work, "no-such-injector");

	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(run_cli(s.state, out, errf, "recover"), CL_EXIT_REVERT);
		o = slurp(out);
		e = slurp(errf);
		if (!strstr(o, "recovering run run-cli (cli-drill)") ||
		    !strstr(o, "s1 (no-such-injector): no such injector in this build") ||
		    !strstr(e, "could not be reverted") || !strstr(e, "journal is kept"))
			fail_msg("unexpected output, stdout:\n%s\nstderr:\n%s", o, e);
		assert_true(file_exists(jpath));
		free(o);
		free(e);
	}
	remove_tree(s.root);
}

static void test_cli_nothing_to_recover(void **state)
{
	struct scratch s;
	char out[700], errf[700], fresh[700];
	char *o;

	if (!have_cli())
		skip();
	scratch_new(&s);
	snprintf(out, sizeof(out), "%s/out", s.root);
	snprintf(errf, sizeof(errf), "%s/err", s.root);
	assert_int_equal(run_cli(s.state, out, errf, "recover"), 0);
	o = slurp(out);
	assert_string_equal(o, "nothing to recover\n");
	free(o);

	/* A state directory that does not exist yet is created, and empty. */
	snprintf(fresh, sizeof(fresh), "%s/not/yet", s.root);
	assert_int_equal(run_cli(fresh, out, errf, "recover"), 0);
	o = slurp(out);
	assert_string_equal(o, "nothing to recover\n");
	free(o);
	remove_tree(s.root);
}

static void test_cli_run_without_steps(void **state)
{
	struct scratch s;
	char out[700], errf[700], jpath[1024];
	char *o;

	if (!have_cli())
		skip();
	scratch_new(&s);
	snprintf(out, sizeof(out), "%s/out", s.root);
	snprintf(errf, sizeof(errf), "%s/err", s.root);
	journal_path(s.state, jpath, sizeof(jpath));
	leave_dead_journal(s.state, s.work, NULL);
	assert_int_equal(run_cli(s.state, out, errf, "recover"), 0);
	o = slurp(out);
	if (!strstr(o, "no step had been started") || !strstr(o, "journal removed"))
		fail_msg("unexpected stdout:\n%s", o);
	free(o);
	assert_false(file_exists(jpath));
	assert_int_equal(run_cli(s.state, out, errf, "recover"), 0);
	o = slurp(out);
	assert_string_equal(o, "nothing to recover\n");
	free(o);
	remove_tree(s.root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_at_every_point),
		cmocka_unit_test(test_torn_record_at_every_point),
		cmocka_unit_test(test_cli_unknown_injector),
		cmocka_unit_test(test_cli_nothing_to_recover),
		cmocka_unit_test(test_cli_run_without_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
