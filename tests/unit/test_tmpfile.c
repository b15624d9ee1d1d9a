/* Tests of harness/sys/tmpfile.c: which names are temp files of an atomic
 * write, which writers are dead, and that a sweep removes exactly the temp
 * files of dead writers (a live writer's file, a zombie's, other files and
 * other names' temp files as asked). */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/tmpfile.h"

static void scratch_new(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, size, "%s/chaoslab-tmpfile-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void touch(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
}

static int exists(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void scratch_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
}

/* A pid that was alive a moment ago and is reaped now. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(tmpfile_writer("zone.tmp.123"), 123);
	assert_int_equal(tmpfile_writer(".kill-1.json.tmp.4567"), 4567);
	assert_int_equal(tmpfile_writer("a.tmp.b.tmp.9"), 9);
	assert_int_equal(tmpfile_writer("zone"), 0);
	assert_int_equal(tmpfile_writer("zone.tmp."), 0);
	assert_int_equal(tmpfile_writer("zone.tmp.12x"), 0);
	assert_int_equal(tmpfile_writer("zone.tmp.-5"), 0);
	assert_int_equal(tmpfile_writer("zone.tmp. 5"), 0);
	assert_int_equal(tmpfile_writer("zone.tmp.0"), 0);
	assert_int_equal(tmpfile_writer(".tmp.5"), 0);
	assert_int_equal(tmpfile_writer("zone.tmp.99999999999999999999"), 0);
}

static void test_dead(void **state)
{
	pid_t zombie;

	(void)state;
	assert_false(tmpfile_writer_dead(getpid()));
	assert_false(tmpfile_writer_dead(0));
	assert_true(tmpfile_writer_dead(dead_pid()));
	zombie = fork();
	assert_true(zombie >= 0);
	if (zombie == 0)
		_exit(0);
	/* Not reaped yet: a zombie writes nothing more. */
	for (int i = 0; i < 200 && !tmpfile_writer_dead(zombie); i++)
		usleep(5000);
	assert_true(tmpfile_writer_dead(zombie));
	assert_int_equal(waitpid(zombie, NULL, 0), zombie);
}

static void test_sweep(void **state)
{
	char dir[512], live[64], dead[64], other[64], path[1024];
	pid_t gone = dead_pid();

	(void)state;
	scratch_new(dir, sizeof(dir));
	snprintf(live, sizeof(live), "zone.tmp.%d", (int)getpid());
	snprintf(dead, sizeof(dead), "zone.tmp.%d", (int)gone);
	snprintf(other, sizeof(other), "cert.pem.tmp.%d", (int)gone);
	touch(dir, "zone");
	touch(dir, live);
	touch(dir, dead);
	touch(dir, other);
	touch(dir, "zone.tmp.notapid");

	/* One name's temp files only. */
	snprintf(path, sizeof(path), "%s/zone", dir);
	assert_int_equal(tmpfile_sweep_path(path), 1);
	assert_false(exists(dir, dead));
	assert_true(exists(dir, live));
	assert_true(exists(dir, other));
	assert_true(exists(dir, "zone"));
	assert_true(exists(dir, "zone.tmp.notapid"));
	assert_int_equal(tmpfile_sweep_path(path), 0);

	/* A whole directory. */
	touch(dir, dead);
	assert_int_equal(tmpfile_sweep_dir(dir, ""), 2);
	assert_false(exists(dir, other));
	assert_true(exists(dir, live));
	assert_true(exists(dir, "zone"));

	/* A missing directory is nothing to sweep. */
	snprintf(path, sizeof(path), "%s/none/zone", dir);
	assert_int_equal(tmpfile_sweep_path(path), 0);
	scratch_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
