/* Tests of the /proc readers in harness/sys/proc.c: the stat parser (a comm
 * holding spaces and parentheses), /proc/stat CPU totals, /proc/loadavg, the
 * process walk and process sets (by name, pid, owner tag and identity), on
 * real processes this test starts. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/proc.h"

/* Child processes are this binary re-executed: "--child-sleep COMM" names
 * itself and sleeps until killed. Exec (not just fork) is what puts an
 * environment variable into /proc/PID/environ. */
static int child_main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--child-sleep")) {
		prctl(PR_SET_NAME, argv[2], 0, 0, 0);
		for (;;)
			pause();
	}
	return 127;
}

/* Start a sleeping child named comm, carrying CHAOSLAB_OWNER=owner if owner
 * is non-NULL; returns once its name shows in /proc. */
static pid_t spawn_sleeper(const char *comm, const char *owner)
{
	struct proc_stat st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "test_proc", "--child-sleep", (char *)comm, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (owner)
			setenv("CHAOSLAB_OWNER", owner, 1);
		else
			unsetenv("CHAOSLAB_OWNER");
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (!proc_stat_read(pid, &st) && !strcmp(st.comm, comm))
			return pid;
		usleep(10000);
	}
	fail_msg("child %d never took the name '%s'", (int)pid, comm);
	return -1;
}

static void kill_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_stat_parse_odd_comm(void **state)
{
	const char *line = "4121 (a) b (c)) S 1 4121 4121 0 -1 4194560 100 0 0 0 12 34 0 0 20 0 1 "
			   "0 5678 1000000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 "
			   "0 0 0\n";
	struct proc_stat st;

	assert_int_equal(proc_stat_parse(line, &st), 0);
	assert_int_equal(st.pid, 4121);
	assert_string_equal(st.comm, "a) b (c)");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.utime, 12);
	assert_int_equal(st.stime, 34);
	assert_int_equal(st.start_time, 5678);
	assert_int_equal(st.rss_pages, 50);
}

static void test_stat_parse_rejects(void **state)
{
	struct proc_stat st;

	errno = 0;
	assert_int_equal(proc_stat_parse("no parentheses here", &st), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proc_stat_parse("12 (x) S 1 2 3", &st), -1);
	assert_int_equal(proc_stat_parse("12 )x( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
					 &st), -1);
	assert_int_equal(proc_stat_parse("12 (x)", &st), -1);
}

static void test_stat_read_real_odd_comm(void **state)
{
	const char *name = "a) (b c";
	struct proc_stat st;
	pid_t pid = spawn_sleeper(name, NULL);

	assert_int_equal(proc_stat_read(pid, &st), 0);
	assert_int_equal(st.pid, pid);
	assert_string_equal(st.comm, name);
	assert_int_equal(st.ppid, getpid());
	assert_true(st.state == 'S' || st.state == 'R');
	assert_true(st.start_time > 0);
	assert_true(st.start_time <= proc_boot_ticks());
	kill_reap(pid);
}

static void test_stat_read_gone_and_zombie(void **state)
{
	struct proc_stat st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	/* Not reaped yet: a zombie, which still has a stat file. */
	for (int i = 0; i < 500 && !proc_is_zombie(pid); i++)
		usleep(10000);
	assert_true(proc_is_zombie(pid));
	assert_int_equal(proc_stat_read(pid, &st), 0);
	assert_int_equal(st.state, 'Z');
	waitpid(pid, NULL, 0);
	errno = 0;
	assert_int_equal(proc_stat_read(pid, &st), -1);
	assert_int_equal(errno, ESRCH);
	assert_false(proc_is_zombie(pid));
}

static void test_cpu_times_parse(void **state)
{
	const char *text = "cpu  100 5 50 1000 20 3 2 1 7 0\n"
			   "cpu0 50 2 25 500 10 1 1 0 3 0\n"
			   "cpu1 50 3 25 500 10 2 1 1 4 0\n"
			   "intr 12345 0 0\n"
			   "ctxt 999\n";
	struct proc_cpu_times ct;

	assert_int_equal(proc_cpu_times_parse(text, &ct), 0);
	assert_int_equal(ct.user, 100);
	assert_int_equal(ct.idle, 1000);
	assert_int_equal(ct.iowait, 20);
	assert_int_equal(ct.steal, 1);
	/* guest (7) is already inside user: not counted twice. */
	assert_int_equal(ct.total, 100 + 5 + 50 + 1000 + 20 + 3 + 2 + 1);
	assert_int_equal(ct.busy, ct.total - 1000 - 20);
	assert_int_equal(ct.ncpus, 2);
	assert_int_equal(proc_cpu_times_parse("intr 1 2 3\n", &ct), -1);
	assert_int_equal(proc_cpu_times_parse("cpu  1 2\n", &ct), -1);
}

static void test_cpu_times_read(void **state)
{
	struct proc_cpu_times a, b;

	assert_int_equal(proc_cpu_times_read(&a), 0);
	usleep(50000);
	assert_int_equal(proc_cpu_times_read(&b), 0);
	assert_int_equal(a.ncpus, (int)sysconf(_SC_NPROCESSORS_ONLN));
	assert_true(a.total > 0 && a.busy <= a.total);
	assert_true(b.total >= a.total);
	assert_true(b.busy >= a.busy);
}

static void test_loadavg(void **state)
{
	struct proc_loadavg la;

	assert_int_equal(proc_loadavg_parse("0.52 1.58 10.59 2/467 12345\n", &la), 0);
	assert_float_equal(la.avg[0], 0.52, 1e-9);
	assert_float_equal(la.avg[1], 1.58, 1e-9);
	assert_float_equal(la.avg[2], 10.59, 1e-9);
	assert_int_equal(la.running, 2);
	assert_int_equal(la.total, 467);
	assert_int_equal(la.last_pid, 12345);
	assert_int_equal(proc_loadavg_parse("busy\n", &la), -1);
	assert_int_equal(proc_loadavg_parse("0.1 0.2\n", &la), -1);

	assert_int_equal(proc_loadavg_read(&la), 0);
	for (int i = 0; i < 3; i++)
		assert_true(la.avg[i] >= 0);
	assert_true(la.total >= 1 && la.running >= 1);
}

struct walk_probe {
	pid_t want;
	bool seen;
	int visits;
};

static int walk_probe(const struct proc_stat *st, void *arg)
{
	struct walk_probe *w = arg;

	w->visits++;
	if (st->pid == w->want)
		w->seen = true;
	return 0;
}

static int walk_stop(const struct proc_stat *st, void *arg)
{
	(*(int *)arg)++;
	return 42;
}

static void test_walk(void **state)
{
	struct walk_probe w = { .want = getpid() };
	int visits = 0;

	assert_int_equal(proc_walk(walk_probe, &w), 0);
	assert_true(w.seen);
	assert_true(w.visits > 1);
	assert_int_equal(proc_walk(walk_stop, &visits), 42);
	assert_int_equal(visits, 1);
}

static void test_set_by_name_pid_owner_ident(void **state)
{
	char owner[64], name[16], other[16];
	struct proc_set set = { 0 };
	struct proc_stat found[4];
	struct proc_ident id;
	pid_t tagged, named, plain;
	cJSON *undo, *workers;

	snprintf(owner, sizeof(owner), "test-%d:burner", (int)getpid());
	snprintf(name, sizeof(name), "clp-n%d", (int)getpid() % 100000);
	snprintf(other, sizeof(other), "clp-o%d", (int)getpid() % 100000);
	tagged = spawn_sleeper(other, owner);
	named = spawn_sleeper(name, NULL);
	plain = spawn_sleeper(other, NULL);

	/* By name: only the one with that comm. */
	snprintf(set.comm, sizeof(set.comm), "%s", name);
	assert_int_equal(proc_set_find(&set, found, 4), 1);
	assert_int_equal(found[0].pid, named);

	/* By pid. */
	memset(&set, 0, sizeof(set));
	set.pid = plain;
	assert_int_equal(proc_set_find(&set, found, 4), 1);
	assert_int_equal(found[0].pid, plain);

	/* From undo data: the owner tag finds the tagged child, the identity
	 * finds the named one; a stale identity (wrong start time) nothing. */
	undo = cJSON_CreateObject();
	cJSON_AddStringToObject(undo, "owner", owner);
	workers = cJSON_AddArrayToObject(undo, "workers");
	assert_int_equal(proc_ident_of(named, &id), 0);
	cJSON_AddItemToArray(workers, proc_ident_to_json(&id));
	assert_int_equal(proc_ident_of(plain, &id), 0);
	id.start_time += 1;
	cJSON_AddItemToArray(workers, proc_ident_to_json(&id));
	cJSON_AddItemToArray(workers, cJSON_CreateString("not an identity"));
	assert_int_equal(proc_set_from_undo(&set, undo), 0);
	assert_string_equal(set.owner, owner);
	assert_int_equal(set.nidents, 2);
	assert_int_equal(proc_set_find(&set, found, 4), 2);
	assert_int_equal(found[0].pid, tagged < named ? tagged : named);
	assert_int_equal(found[1].pid, tagged < named ? named : tagged);
	/* Counting without room for the processes. */
	assert_int_equal(proc_set_find(&set, NULL, 0), 2);
	proc_set_release(&set);
	assert_null(set.idents);

	/* A zombie is not in the live set. */
	kill(tagged, SIGKILL);
	for (int i = 0; i < 500 && !proc_is_zombie(tagged); i++)
		usleep(10000);
	assert_int_equal(proc_set_from_undo(&set, undo), 0);
	assert_int_equal(proc_set_find(&set, found, 4), 1);
	assert_int_equal(found[0].pid, named);
	proc_set_release(&set);

	assert_int_equal(proc_set_from_undo(&set, NULL), 0);
	assert_int_equal(proc_set_find(&set, NULL, 0), 0);
	proc_set_release(&set);

	cJSON_Delete(undo);
	waitpid(tagged, NULL, 0);
	kill_reap(named);
	kill_reap(plain);
}

static void test_boot_ticks_and_available(void **state)
{
	struct proc_stat self;
	unsigned long long a, b;

	assert_true(proc_available());
	assert_int_equal(proc_stat_read(getpid(), &self), 0);
	a = proc_boot_ticks();
	assert_true(a >= self.start_time);
	usleep(30000);
	b = proc_boot_ticks();
	assert_true(b > a);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_parse_odd_comm),
		cmocka_unit_test(test_stat_parse_rejects),
		cmocka_unit_test(test_stat_read_real_odd_comm),
		cmocka_unit_test(test_stat_read_gone_and_zombie),
		cmocka_unit_test(test_cpu_times_parse),
		cmocka_unit_test(test_cpu_times_read),
		cmocka_unit_test(test_loadavg),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_set_by_name_pid_owner_ident),
		cmocka_unit_test(test_boot_ticks_and_available),
	};

	if (argc >= 2 && !strncmp(argv[1], "--child-", 8))
		return child_main(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
