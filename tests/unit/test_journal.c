/* Tests of harness/core/journal.c: the state directory, writing and reading
 * the journal, torn records, and journal_recover() over the test-ledger
 * injector (ownership, failed reverts, unknown types, live owners). The
 * SIGKILL-at-every-record test lives in test_journal_crash.c, the run lock in
 * test_lock.c. */
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

struct scratch {
	char root[512];
	char state[600];
	char work[600];
	char journal[700];
	char ledger[700];
};

static void scratch_new(struct scratch *s)
{
	const char *base = getenv("TMPDIR");

	snprintf(s->root, sizeof(s->root), "%s/chaoslab-journal-XXXXXX",
		 base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(s->root));
	snprintf(s->state, sizeof(s->state), "%s/state", s->root);
	snprintf(s->work, sizeof(s->work), "%s/work", s->root);
	assert_int_equal(mkdir(s->state, 0700), 0);
	assert_int_equal(mkdir(s->work, 0755), 0);
	journal_path(s->state, s->journal, sizeof(s->journal));
	ledger_file_path(s->work, s->ledger, sizeof(s->ledger));
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
	int c;

	if (!f)
		return strdup("");
	FILE *m = open_memstream(&buf, &len);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void write_text(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int count_lines(const char *text, const char *line)
{
	int n = 0;
	size_t l = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += l)
		if ((p == text || p[-1] == '\n') && p[l] == '\n')
			n++;
	return n;
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

/* A run that dies: in a child, begin a journal and for each of the first
 * nsteps of s1, s2, s3 journal an intent, apply with test-ledger (unless
 * intent_only) and journal "applied"; then exit without finishing. */
static void dead_run(const struct scratch *s, int nsteps, bool intent_only)
{
	static const char *const ids[] = { "s1", "s2", "s3" };
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		struct journal *j = journal_begin(s->state, "run-dead", "dead-drill", &err);
		if (!j)
			child_fail("journal_begin: %s", err.msg);
		for (int i = 0; i < nsteps; i++) {
			cJSON *undo = ledger_undo_new("run-dead", ids[i], s->work);
			struct inject_ctx ctx = { .run_id = "run-dead", .step_id = ids[i],
						  .state_dir = s->state, .undo = undo,
						  .journal = j };
			if (journal_append(j, "intent", ids[i], LEDGER_INJECTOR_NAME, undo, &err))
				child_fail("intent: %s", err.msg);
			if (intent_only)
				continue;
			if (ledger_injector.apply(&ctx, &err))
				child_fail("apply: %s", err.msg);
			if (journal_append(j, "applied", ids[i], LEDGER_INJECTOR_NAME, NULL, &err))
				child_fail("applied: %s", err.msg);
		}
		journal_close(j);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void marker(const struct scratch *s, const char *step, char *buf, size_t size)
{
	ledger_marker_path(s->work, step, buf, size);
}

/* ---- state directory ------------------------------------------------------ */

static void test_state_dir_from_env(void **state)
{
	struct scratch s;
	char want[700], got[700];
	struct cl_error err;
	struct stat st;

	scratch_new(&s);
	snprintf(want, sizeof(want), "%s/deep/state", s.root);
	setenv("CHAOSLAB_STATE", want, 1);
	assert_int_equal(state_dir(got, sizeof(got), false, &err), 0);
	assert_string_equal(got, want);
	assert_false(file_exists(want));
	assert_int_equal(state_dir(got, sizeof(got), true, &err), 0);
	assert_int_equal(stat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	unsetenv("CHAOSLAB_STATE");
	remove_tree(s.root);
}

/* ---- writing and reading -------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct scratch s;
	struct journal_view v;
	struct cl_error err;
	struct journal *j;
	cJSON *u1 = cJSON_Parse("{\"a\":1}"), *u2 = cJSON_Parse("{\"a\":2}");
	char *text, *save = NULL;
	int seq = -1;

	scratch_new(&s);
	j = journal_begin(s.state, "run-1", "cpu-runaway", &err);
	assert_non_null(j);
	assert_int_equal(journal_append(j, "intent", "s1", "cpu-burner", u1, &err), 0);
	assert_int_equal(journal_append(j, "update", "s1", NULL, u2, &err), 0);
	assert_int_equal(journal_append(j, "applied", "s1", "cpu-burner", NULL, &err), 0);
	assert_int_equal(journal_append(j, "intent", "s2", "zombie-forker", u1, &err), 0);
	assert_int_equal(journal_append(j, "revert-begin", "s2", "zombie-forker", NULL, &err), 0);
	assert_int_equal(journal_append(j, "reverted", "s2", "zombie-forker", NULL, &err), 0);
	journal_close(j);

	/* One JSON object per line, seq rising. */
	text = slurp(s.journal);
	assert_true(text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *r = cJSON_Parse(line);
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "seq");
		assert_non_null(r);
		assert_true(cJSON_IsNumber(q));
		assert_true(q->valueint > seq);
		seq = q->valueint;
		cJSON_Delete(r);
	}
	free(text);

	assert_int_equal(journal_read(s.journal, &v, &err), 0);
	assert_string_equal(v.run_id, "run-1");
	assert_string_equal(v.scenario, "cpu-runaway");
	assert_int_equal(v.owner.pid, getpid());
	assert_int_equal(v.torn, 0);
	assert_int_equal(v.nsteps, 2);
	assert_string_equal(v.steps[0].step, "s1");
	assert_string_equal(v.steps[0].type, "cpu-burner");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(v.steps[0].undo, "a")->valueint, 2);
	assert_true(v.steps[0].applied);
	assert_false(v.steps[0].reverted);
	assert_string_equal(v.steps[1].step, "s2");
	assert_false(v.steps[1].applied);
	assert_true(v.steps[1].reverted);
	journal_view_release(&v);
	assert_int_equal(v.nsteps, 0);

	cJSON_Delete(u1);
	cJSON_Delete(u2);
	remove_tree(s.root);
}

static void test_begin_refuses_existing_journal(void **state)
{
	struct scratch s;
	struct cl_error err;
	struct journal *j, *j2;
	char *before, *after;

	scratch_new(&s);
	j = journal_begin(s.state, "run-1", "x", &err);
	assert_non_null(j);
	before = slurp(s.journal);
	j2 = journal_begin(s.state, "run-2", "y", &err);
	assert_null(j2);
	assert_int_equal(err.code, CL_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "chaoslab recover"));
	after = slurp(s.journal);
	assert_string_equal(before, after);
	free(before);
	free(after);

	assert_int_equal(journal_finish(j, &err), 0);
	assert_false(file_exists(s.journal));
	j = journal_begin(s.state, "run-2", "y", &err);
	assert_non_null(j);
	assert_int_equal(journal_finish(j, &err), 0);
	remove_tree(s.root);
}

static void test_read_missing(void **state)
{
	struct scratch s;
	struct journal_view v;
	struct cl_error err;

	scratch_new(&s);
	cl_error_clear(&err);
	assert_int_equal(journal_read(s.journal, &v, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	remove_tree(s.root);
}

static void test_read_skips_torn_records(void **state)
{
	struct scratch s;
	struct journal_view v;
	struct cl_error err;

	scratch_new(&s);
	write_text(s.journal,
		   "{\"seq\":0,\"rec\":\"begin\",\"run\":\"r\",\"scenario\":\"sc\"}\n"
		   "{\"seq\":1,\"rec\":\"intent\",\"step\":\"s1\",\"type\":\"t\",\"undo\":{}}\n"
		   "not json at all\n"
		   "{\"seq\":2,\"no_rec\":true}\n"
		   "{\"seq\":3,\"rec\":\"applied\",\"step\":\"s1\",\"type\":\"t\"}\n"
		   /* Whole, but never reached its newline: not trusted. */
		   "{\"seq\":4,\"rec\":\"intent\",\"step\":\"s2\",\"type\":\"t\"}",
		   O_TRUNC);
	assert_int_equal(journal_read(s.journal, &v, &err), 0);
	assert_int_equal(v.torn, 3);
	assert_int_equal(v.nsteps, 1);
	assert_true(v.steps[0].applied);
	journal_view_release(&v);

	write_text(s.journal, "{\"seq\":0,\"rec\":\"beg", O_TRUNC);
	assert_int_equal(journal_read(s.journal, &v, &err), 0);
	assert_int_equal(v.torn, 1);
	assert_int_equal(v.nsteps, 0);
	assert_string_equal(v.run_id, "");
	journal_view_release(&v);
	remove_tree(s.root);
}

static void test_read_reintent_starts_over(void **state)
{
	struct scratch s;
	struct journal_view v;
	struct cl_error err;
	struct journal *j;

	scratch_new(&s);
	j = journal_begin(s.state, "run-1", "x", &err);
	assert_non_null(j);
	assert_int_equal(journal_append(j, "intent", "s1", "t", NULL, &err), 0);
	assert_int_equal(journal_append(j, "applied", "s1", "t", NULL, &err), 0);
	assert_int_equal(journal_append(j, "revert-failed", "s1", "t", NULL, &err), 0);
	assert_int_equal(journal_append(j, "reverted", "s1", "t", NULL, &err), 0);
	assert_int_equal(journal_append(j, "intent", "s1", "t", NULL, &err), 0);
	journal_close(j);
	assert_int_equal(journal_read(s.journal, &v, &err), 0);
	assert_int_equal(v.nsteps, 1);
	assert_false(v.steps[0].applied);
	assert_false(v.steps[0].reverted);
	assert_false(v.steps[0].revert_failed);
	assert_null(v.steps[0].undo);
	journal_view_release(&v);
	remove_tree(s.root);
}

static void test_inject_ctx_save_without_journal(void **state)
{
	struct inject_ctx ctx = { .run_id = "r", .step_id = "s" };
	struct cl_error err;

	assert_int_equal(inject_ctx_save(&ctx, &err), 0);
}

/* ---- recovery ------------------------------------------------------------- */

static void test_recover_nothing(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct cl_error err;

	scratch_new(&s);
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_false(rep.found);
	assert_int_equal(rep.reverted + rep.failed + rep.torn, 0);
	remove_tree(s.root);
}

static void test_recover_reverts_in_reverse(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct cl_error err;
	char m[1024], *ledger;

	ledger_injector_register();
	scratch_new(&s);
	dead_run(&s, 3, false);
	for (int i = 1; i <= 3; i++) {
		char id[8];
		snprintf(id, sizeof(id), "s%d", i);
		marker(&s, id, m, sizeof(m));
		assert_true(file_exists(m));
	}
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_true(rep.found);
	assert_string_equal(rep.run_id, "run-dead");
	assert_string_equal(rep.scenario, "dead-drill");
	assert_int_equal(rep.reverted, 3);
	assert_int_equal(rep.failed, 0);
	assert_non_null(strstr(rep.text, "s3 (test-ledger): removed"));
	assert_true(strstr(rep.text, "s3 (") < strstr(rep.text, "s1 ("));
	ledger = slurp(s.ledger);
	assert_string_equal(ledger, "apply s1\napply s2\napply s3\n"
				    "revert s3\nrevert s2\nrevert s1\n");
	free(ledger);
	assert_false(file_exists(s.journal));
	remove_tree(s.root);
}

static void test_recover_step_never_applied(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct cl_error err;
	char *ledger;

	ledger_injector_register();
	scratch_new(&s);
	dead_run(&s, 2, true);
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_true(rep.found);
	assert_int_equal(rep.failed, 0);
	assert_non_null(strstr(rep.text, "s1 (test-ledger): nothing of ours was left"));
	ledger = slurp(s.ledger);
	assert_string_equal(ledger, "");
	free(ledger);
	assert_false(file_exists(s.journal));
	remove_tree(s.root);
}

/* A marker that now holds another run's id is not ours: it stays. */
static void test_recover_respects_ownership(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct cl_error err;
	char m[1024], *ledger, *content;

	ledger_injector_register();
	scratch_new(&s);
	dead_run(&s, 1, false);
	marker(&s, "s1", m, sizeof(m));
	write_text(m, "run-other", O_TRUNC);
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_int_equal(rep.failed, 0);
	content = slurp(m);
	assert_string_equal(content, "run-other");
	ledger = slurp(s.ledger);
	assert_string_equal(ledger, "apply s1\n");
	assert_false(file_exists(s.journal));
	free(content);
	free(ledger);
	remove_tree(s.root);
}

static void test_recover_failed_revert_keeps_journal(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct journal_view v;
	struct cl_error err;
	char m1[1024], m2[1024], knob[1024], *ledger;

	ledger_injector_register();
	scratch_new(&s);
	dead_run(&s, 2, false);
	snprintf(knob, sizeof(knob), "%s/s2.fail-revert", s.work);
	write_text(knob, "", O_TRUNC);
	marker(&s, "s1", m1, sizeof(m1));
	marker(&s, "s2", m2, sizeof(m2));

	cl_error_clear(&err);
	assert_int_equal(journal_recover(s.state, &rep, &err), -1);
	assert_int_equal(err.code, CL_EXIT_REVERT);
	assert_non_null(strstr(err.msg, "could not be reverted"));
	assert_true(rep.found);
	assert_int_equal(rep.failed, 1);
	assert_int_equal(rep.reverted, 1);
	assert_non_null(strstr(rep.text, "s2 (test-ledger): revert failed"));
	assert_true(file_exists(s.journal));
	assert_true(file_exists(m2));
	assert_false(file_exists(m1));

	assert_int_equal(journal_read(s.journal, &v, &err), 0);
	assert_int_equal(v.nsteps, 2);
	assert_true(v.steps[0].reverted);
	assert_false(v.steps[1].reverted);
	assert_true(v.steps[1].revert_failed);
	journal_view_release(&v);

	/* Once the cause is gone, recovery finishes the job and only that. */
	unlink(knob);
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_int_equal(rep.reverted, 1);
	assert_false(file_exists(m2));
	assert_false(file_exists(s.journal));
	ledger = slurp(s.ledger);
	assert_string_equal(ledger, "apply s1\napply s2\nrevert s1\nrevert s2\n");
	free(ledger);
	remove_tree(s.root);
}

/* A torn last record must not swallow the records recovery appends after it:
 * a journal kept after a failed recovery reads back whole. */
static void test_recover_after_torn_tail_keeps_journal_whole(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct journal_view v;
	struct cl_error err;
	char knob[1024], *text, *save = NULL;
	int lines = 0;

	ledger_injector_register();
	scratch_new(&s);
	dead_run(&s, 1, false);
	write_text(s.journal, "{\"seq\":9,\"rec\":\"intent\",\"step\":\"s2\",\"ty", O_APPEND);
	snprintf(knob, sizeof(knob), "%s/s1.fail-revert", s.work);
	write_text(knob, "", O_TRUNC);

	assert_int_equal(journal_recover(s.state, &rep, &err), -1);
	assert_int_equal(rep.torn, 1);
	text = slurp(s.journal);
	assert_true(text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *r = cJSON_Parse(line);
		if (!r)
			fail_msg("journal line %d is not JSON: '%s'", lines + 1, line);
		cJSON_Delete(r);
		lines++;
	}
	free(text);
	/* begin, intent, update, applied, revert-begin, revert-failed */
	assert_int_equal(lines, 6);
	assert_int_equal(journal_read(s.journal, &v, &err), 0);
	assert_int_equal(v.torn, 0);
	assert_int_equal(v.nsteps, 1);
	assert_true(v.steps[0].revert_failed);
	journal_view_release(&v);

	unlink(knob);
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_int_equal(rep.torn, 0);
	assert_false(file_exists(s.journal));
	text = slurp(s.ledger);
	assert_int_equal(count_lines(text, "revert s1"), 1);
	free(text);
	remove_tree(s.root);
}

static void test_recover_unknown_injector(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct cl_error err;
	struct journal *j;
	int status;
	pid_t pid;

	scratch_new(&s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		j = journal_begin(s.state, "run-x", "x", &err);
		if (!j || journal_append(j, "intent", "s1", "gone-injector", NULL, &err))
			_exit(2);
		journal_close(j);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(journal_recover(s.state, &rep, &err), -1);
	assert_int_equal(err.code, CL_EXIT_REVERT);
	assert_int_equal(rep.failed, 1);
	assert_non_null(strstr(rep.text, "s1 (gone-injector): no such injector in this build"));
	assert_true(file_exists(s.journal));
	remove_tree(s.root);
}

/* A journal whose owner still runs is not a dead run's: hands off. */
static void test_recover_refuses_live_owner(void **state)
{
	struct scratch s;
	struct recover_report rep;
	struct cl_error err;
	int ready[2], hold[2], status;
	char c, pidtext[32];
	pid_t pid;

	ledger_injector_register();
	scratch_new(&s);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		struct journal *j = journal_begin(s.state, "run-live", "x", &err);
		if (!j || journal_append(j, "intent", "s1", LEDGER_INJECTOR_NAME, NULL, &err))
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (read(hold[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);

	cl_error_clear(&err);
	assert_int_equal(journal_recover(s.state, &rep, &err), -1);
	assert_non_null(strstr(err.msg, "still alive"));
	snprintf(pidtext, sizeof(pidtext), "(pid %d)", (int)pid);
	assert_non_null(strstr(err.msg, pidtext));
	assert_false(rep.found);
	assert_true(file_exists(s.journal));

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(ready[0]);
	close(hold[1]);
	assert_int_equal(journal_recover(s.state, &rep, &err), 0);
	assert_true(rep.found);
	assert_false(file_exists(s.journal));
	remove_tree(s.root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_dir_from_env),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_begin_refuses_existing_journal),
		cmocka_unit_test(test_read_missing),
		cmocka_unit_test(test_read_skips_torn_records),
		cmocka_unit_test(test_read_reintent_starts_over),
		cmocka_unit_test(test_inject_ctx_save_without_journal),
		cmocka_unit_test(test_recover_nothing),
		cmocka_unit_test(test_recover_reverts_in_reverse),
		cmocka_unit_test(test_recover_step_never_applied),
		cmocka_unit_test(test_recover_respects_ownership),
		cmocka_unit_test(test_recover_failed_revert_keeps_journal),
		cmocka_unit_test(test_recover_after_torn_tail_keeps_journal_whole),
		cmocka_unit_test(test_recover_unknown_injector),
		cmocka_unit_test(test_recover_refuses_live_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
