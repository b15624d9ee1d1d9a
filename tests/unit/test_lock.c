/* Tests of the run lock in harness/core/journal.c: one drill at a time, the
 * holder named to a second chaoslab, stale owners detected and taken over,
 * and a lock kept alive by a leftover process reported as such. */
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

static void scratch_new(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, size, "%s/chaoslab-lock-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void scratch_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[1024];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		unlink(sub);
	}
	closedir(d);
	rmdir(dir);
}

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

static void write_lock_file(const char *dir, const char *text)
{
	char path[700];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A process holding the lock: it takes it, describes itself, says so on a
 * pipe, then waits. Writing 'r' to ctl makes it release and exit; SIGKILL
 * makes it die holding it. With leftover, it forks a grandchild that shares
 * the lock's open file and exits without releasing; pid is then the
 * grandchild's and owner the dead child's. */
struct holder {
	pid_t pid;
	pid_t owner;
	int ctl;
};

static void __attribute__((noreturn)) holder_body(const char *dir, bool leftover, int ready,
						  int ctl)
{
	struct run_lock lk;
	struct cl_error err;
	pid_t ids[2] = { getpid(), getpid() };
	char c = 0;

	if (run_lock_acquire(dir, &lk, NULL, &err)) {
		fprintf(stderr, "holder: %s\n", err.msg);
		_exit(2);
	}
	if (run_lock_describe(&lk, "run-held", "cpu-runaway"))
		_exit(2);
	if (leftover) {
		pid_t g = fork();
		if (g < 0)
			_exit(2);
		if (g > 0) {
			ids[0] = g;
			if (write(ready, ids, sizeof(ids)) != (ssize_t)sizeof(ids))
				_exit(2);
			_exit(0); /* the owner dies; its child keeps the flock */
		}
		if (read(ctl, &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	if (write(ready, ids, sizeof(ids)) != (ssize_t)sizeof(ids))
		_exit(2);
	if (read(ctl, &c, 1) == 1 && c == 'r')
		run_lock_release(&lk);
	_exit(0);
}

static void holder_start(const char *dir, bool leftover, struct holder *h)
{
	int ready[2], ctl[2];
	pid_t ids[2];

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(ctl), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(ctl[1]);
		holder_body(dir, leftover, ready[1], ctl[0]);
	}
	close(ready[1]);
	close(ctl[0]);
	assert_int_equal(read(ready[0], ids, sizeof(ids)), (ssize_t)sizeof(ids));
	close(ready[0]);
	h->pid = ids[0];
	h->owner = ids[1];
	h->ctl = ctl[1];
	if (leftover) {
		int status;
		/* The owner has exited: reap it so its pid is gone for good. */
		assert_int_equal(waitpid(pid, &status, 0), pid);
	}
}

/* Wait for a direct child holder to end. */
static void holder_wait(struct holder *h)
{
	int status;

	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	close(h->ctl);
}

static void test_acquire_release(void **state)
{
	char dir[512], path[700], run[64];
	struct run_lock lk;
	struct proc_ident who;
	struct cl_error err;
	bool stale = true;
	char *text;

	scratch_new(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/lock", dir);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), -1);
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_false(stale);
	assert_true(lk.fd >= 0);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), 0);
	assert_int_equal(who.pid, getpid());
	assert_string_equal(run, "");

	assert_int_equal(run_lock_describe(&lk, "run-7", "dns-broken"), 0);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), 0);
	assert_int_equal(who.pid, getpid());
	assert_string_equal(run, "run-7");
	text = slurp(path);
	assert_non_null(strstr(text, "\"scenario\":\"dns-broken\""));
	free(text);

	run_lock_release(&lk);
	assert_int_equal(lk.fd, -1);
	text = slurp(path);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), -1);
	assert_int_equal(run_lock_describe(&lk, "run-8", "x"), -1);
	run_lock_release(&lk); /* twice is harmless */

	/* A clean release leaves nothing that looks like a dead run. */
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_false(stale);
	run_lock_release(&lk);
	scratch_remove(dir);
}

static void test_missing_directory(void **state)
{
	char dir[512], missing[700];
	struct run_lock lk;
	struct cl_error err;

	scratch_new(dir, sizeof(dir));
	snprintf(missing, sizeof(missing), "%s/no/such", dir);
	cl_error_clear(&err);
	assert_int_equal(run_lock_acquire(missing, &lk, NULL, &err), -1);
	assert_int_equal(lk.fd, -1);
	assert_int_equal(err.errnum, ENOENT);
	scratch_remove(dir);
}

static void test_second_acquire_names_holder(void **state)
{
	char dir[512], want[128], run[64];
	struct holder h;
	struct run_lock lk;
	struct proc_ident who;
	struct cl_error err;
	bool stale = true;

	scratch_new(dir, sizeof(dir));
	holder_start(dir, false, &h);

	cl_error_clear(&err);
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), -1);
	assert_int_equal(lk.fd, -1);
	assert_int_equal(err.code, CL_EXIT_USAGE);
	snprintf(want, sizeof(want), "a drill is already running (pid %d, cpu-runaway)",
		 (int)h.pid);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), 0);
	assert_int_equal(who.pid, h.pid);
	assert_string_equal(run, "run-held");

	/* The holder releases and exits: the lock is free and not stale. */
	assert_int_equal(write(h.ctl, "r", 1), 1);
	holder_wait(&h);
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_false(stale);
	run_lock_release(&lk);
	scratch_remove(dir);
}

static void test_killed_holder_is_stale(void **state)
{
	char dir[512], run[64];
	struct holder h;
	struct run_lock lk;
	struct proc_ident who;
	struct cl_error err;
	bool stale = false;

	scratch_new(dir, sizeof(dir));
	holder_start(dir, false, &h);
	kill(h.pid, SIGKILL);
	holder_wait(&h);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), -1);
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_true(stale);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), 0);
	assert_int_equal(who.pid, getpid());
	run_lock_release(&lk);
	scratch_remove(dir);
}

/* Lock files left by hand: an owner whose identity does not match a live
 * process (wrong start time, other boot, recycled pid) is a dead run. */
static void test_lock_file_naming_dead_owner(void **state)
{
	char dir[512], text[512], run[64];
	struct proc_ident me, who;
	struct run_lock lk;
	struct cl_error err;
	bool stale;
	pid_t gone;
	int status;

	scratch_new(dir, sizeof(dir));
	assert_int_equal(proc_ident_of(getpid(), &me), 0);

	/* Our own pid, a start time that is not ours. */
	snprintf(text, sizeof(text),
		 "{\"owner\":{\"pid\":%d,\"start_time\":%llu,\"boot_id\":\"%s\"},"
		 "\"run_id\":\"run-old\",\"scenario\":\"x\"}",
		 (int)me.pid, me.start_time + 12345, me.boot_id);
	write_lock_file(dir, text);
	assert_int_equal(run_lock_holder(dir, &who, run, sizeof(run)), -1);
	stale = false;
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_true(stale);
	run_lock_release(&lk);

	/* Our own pid and start time, on another boot. */
	snprintf(text, sizeof(text),
		 "{\"owner\":{\"pid\":%d,\"start_time\":%llu,"
		 "\"boot_id\":\"00000000-0000-0000-0000-000000000000\"}}",
		 (int)me.pid, me.start_time);
	write_lock_file(dir, text);
	stale = false;
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_true(stale);
	run_lock_release(&lk);

	/* A pid that has exited and been reaped. */
	gone = fork();
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, &status, 0), gone);
	snprintf(text, sizeof(text),
		 "{\"owner\":{\"pid\":%d,\"start_time\":%llu,\"boot_id\":\"%s\"}}", (int)gone,
		 me.start_time, me.boot_id);
	write_lock_file(dir, text);
	stale = false;
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_true(stale);
	run_lock_release(&lk);

	/* Not an owner record at all: nothing to say about a dead run. */
	write_lock_file(dir, "garbage {");
	stale = true;
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), 0);
	assert_false(stale);
	run_lock_release(&lk);
	scratch_remove(dir);
}

/* The owner died but a process it forked still holds the lock's open file:
 * the message says the owner is gone and how to find the holder. */
static void test_leftover_process_holds_lock(void **state)
{
	char dir[512], want[128];
	struct holder h;
	struct run_lock lk;
	struct cl_error err;
	bool stale = false;

	scratch_new(dir, sizeof(dir));
	holder_start(dir, true, &h);
	cl_error_clear(&err);
	assert_int_equal(run_lock_acquire(dir, &lk, &stale, &err), -1);
	snprintf(want, sizeof(want), "its owner (pid %d) is gone", (int)h.owner);
	if (!strstr(err.msg, want) || !strstr(err.msg, "fuser"))
		fail_msg("message '%s' lacks '%s'", err.msg, want);

	/* The grandchild is not ours to wait for; poll until the lock frees. */
	kill(h.pid, SIGKILL);
	close(h.ctl);
	for (int i = 0; i < 500; i++) {
		if (run_lock_acquire(dir, &lk, &stale, &err) == 0)
			break;
		usleep(10000);
	}
	assert_true(lk.fd >= 0);
	assert_true(stale);
	run_lock_release(&lk);
	scratch_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acquire_release),
		cmocka_unit_test(test_missing_directory),
		cmocka_unit_test(test_second_acquire_names_holder),
		cmocka_unit_test(test_killed_holder_is_stale),
		cmocka_unit_test(test_lock_file_naming_dead_owner),
		cmocka_unit_test(test_leftover_process_holds_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
