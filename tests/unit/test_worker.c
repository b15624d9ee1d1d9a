/* Tests of harness/sys/worker.c: spawning real workers (the chaoslab binary
 * re-executed, found through CHAOSLAB_BIN), their name, environment, process
 * group, nice value and fds, dying with their parent, finding and killing
 * them by owner tag or identity (never a pid whose start time or boot id
 * differ), reaping, and the lockdown: empty capability sets, no_new_privs,
 * and a seccomp allow-list that kills on any other system call (SIGSYS).
 * Lockdown tests run in forked children: it cannot be undone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/proc.h"
#include "sys/worker.h"

static const char *chaoslab_bin;

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void unique_name(char *buf, size_t size, const char *prefix)
{
	static int seq;

	snprintf(buf, size, "%s%d-%d", prefix, (int)getpid() % 100000, seq++);
}

static void unique_owner(char *buf, size_t size, const char *what)
{
	char run[64];

	snprintf(run, sizeof(run), "test-worker-%d", (int)getpid());
	worker_owner_tag(buf, size, run, what);
}

/* A real worker: a cpu-burner at a light load. */
static pid_t spawn_burner(const char *name, const char *owner, int nice_value,
			  const char *const *extra, struct proc_ident *id, int *pidfd)
{
	cJSON *args = cJSON_Parse("{\"load_percent\": 5}");
	struct worker_spec spec = { .kind = "cpu-burner",
				    .name = name,
				    .extra = extra,
				    .args = args,
				    .owner = owner,
				    .nice = nice_value };
	struct cl_error err;
	int rc;

	cl_error_clear(&err);
	rc = worker_spawn(&spec, id, pidfd, &err);
	if (rc)
		fprintf(stderr, "worker_spawn: %s\n", err.msg);
	assert_int_equal(rc, 0);
	cJSON_Delete(args);
	return id->pid;
}

/* Wait up to ms for our child pid to exit; its wait status, or -1. */
static int wait_child(pid_t pid, long ms)
{
	int status;

	for (long waited = 0; waited <= ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		pause_ms(10);
	}
	return -1;
}

/* A field of /proc/PID/status ("CapEff") into buf; 0 when found. */
static int status_field(pid_t pid, const char *key, char *buf, size_t size)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			char *v = line + kl + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, size, "%s", v);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void test_owner_tag(void **state)
{
	char buf[64];

	worker_owner_tag(buf, sizeof(buf), "20240101-abc", "burner");
	assert_string_equal(buf, "20240101-abc:burner");
	worker_owner_tag(buf, 8, "20240101-abc", "burner");
	assert_string_equal(buf, "2024010");
}

static void test_subreaper(void **state)
{
	int on = 0;

	assert_int_equal(worker_become_subreaper(), 0);
	assert_int_equal(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0), 0);
	assert_int_equal(on, 1);
}

static void test_spawn_sets_name_env_group_nice_fds(void **state)
{
	static const char *const extra[] = { "--drill", "cpu runaway", NULL };
	char name[16], owner[128], buf[512], path[64];
	struct proc_ident id;
	struct proc_stat st;
	struct pollfd pfd;
	struct cl_error err;
	pid_t found[4];
	int pidfd = -1, killed = -1, status, leak;
	ssize_t n;
	DIR *d;
	struct dirent *de;

	unique_name(name, sizeof(name), "tw");
	unique_owner(owner, sizeof(owner), "spawn");
	/* An fd the harness holds without O_CLOEXEC must not reach the worker. */
	leak = open("/dev/null", O_RDONLY);
	assert_true(leak > 2);
	spawn_burner(name, owner, 7, extra, &id, &pidfd);
	close(leak);

	assert_true(id.pid > 0);
	assert_true(pidfd >= 0);
	assert_true(proc_ident_alive(&id));
	assert_string_equal(id.boot_id, proc_boot_id());
	assert_int_equal(proc_stat_read(id.pid, &st), 0);
	assert_string_equal(st.comm, name);
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(getpgid(id.pid), id.pid);
	errno = 0;
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)id.pid), 7);

	/* argv as ps shows it: the name, then the extra words. */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)id.pid);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	size_t want_len = strlen(name) + 1 + strlen("--drill") + 1 + strlen("cpu runaway") + 1;
	assert_int_equal(n, (ssize_t)want_len);
	assert_string_equal(buf, name);
	assert_string_equal(buf + strlen(name) + 1, "--drill");
	assert_string_equal(buf + strlen(name) + 1 + 8, "cpu runaway");

	assert_int_equal(proc_environ_get(id.pid, "CHAOSLAB_OWNER", buf, sizeof(buf)), 0);
	assert_string_equal(buf, owner);
	assert_int_equal(proc_environ_get(id.pid, "CHAOSLAB_WORKER", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cpu-burner");

	/* Only 0-2 crossed the exec. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)id.pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		assert_true(atoi(de->d_name) <= 2);
	}
	closedir(d);

	/* The burner locks itself down right after its setup. */
	for (int waited = 0; waited < 3000; waited += 10) {
		assert_int_equal(status_field(id.pid, "Seccomp", buf, sizeof(buf)), 0);
		if (!strcmp(buf, "2"))
			break;
		pause_ms(10);
	}
	assert_int_equal(status_field(id.pid, "NoNewPrivs", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1");
	assert_int_equal(status_field(id.pid, "Seccomp", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2");
	assert_int_equal(status_field(id.pid, "CapEff", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0000000000000000");

	assert_int_equal(worker_find_owned(owner, found, 4), 1);
	assert_int_equal(found[0], id.pid);

	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);

	cl_error_clear(&err);
	assert_int_equal(worker_kill_owned(owner, NULL, 0, 1000, &killed, &err), 0);
	assert_int_equal(killed, 1);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	status = wait_child(id.pid, 2000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	close(pidfd);

	assert_int_equal(worker_find_owned(owner, NULL, 0), 0);
	assert_int_equal(worker_kill_owned(owner, NULL, 0, 1000, &killed, &err), 0);
	assert_int_equal(killed, 0);
}

static void test_spawn_refuses_bad_specs(void **state)
{
	struct worker_spec spec = { .kind = "cpu-burner", .name = "a-name-longer-than-15" };
	struct proc_ident id;
	struct cl_error err;

	cl_error_clear(&err);
	assert_int_equal(worker_spawn(&spec, &id, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "at most 15"));
	spec.name = "";
	assert_int_equal(worker_spawn(&spec, &id, NULL, &err), -1);
	spec.name = "ok";
	spec.kind = NULL;
	assert_int_equal(worker_spawn(&spec, &id, NULL, &err), -1);
}

static void test_spawn_unknown_kind_is_an_error(void **state)
{
	char owner[128];
	struct worker_spec spec = { .kind = "no-such-kind", .name = "twbad" };
	struct proc_ident id;
	struct cl_error err;

	unique_owner(owner, sizeof(owner), "bad");
	spec.owner = owner;
	cl_error_clear(&err);
	assert_int_equal(worker_spawn(&spec, &id, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "exited while starting"));
	assert_non_null(strstr(err.msg, "exit status 127"));
	/* It was reaped: nothing is left over. */
	assert_int_equal(worker_reap_children(), 0);
	assert_int_equal(worker_find_owned(owner, NULL, 0), 0);
}

static void test_spawn_exec_failure_is_an_error(void **state)
{
	struct worker_spec spec = { .kind = "cpu-burner", .name = "twexec" };
	struct proc_ident id;
	struct cl_error err;
	char why[256];

	worker_set_exe("/nonexistent/chaoslab");
	assert_int_equal(worker_supported(why, sizeof(why)), -1);
	assert_non_null(strstr(why, "/nonexistent/chaoslab"));
	cl_error_clear(&err);
	assert_int_equal(worker_spawn(&spec, &id, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "cannot execute"));
	assert_int_equal(err.errnum, ENOENT);
	worker_set_exe(chaoslab_bin);
	assert_int_equal(worker_supported(why, sizeof(why)), 0);
	assert_int_equal(worker_reap_children(), 0);
}

static void test_kill_checks_identity(void **state)
{
	char name[16], owner[128];
	struct proc_ident id, wrong;
	struct cl_error err;
	int killed = -1, status;

	unique_name(name, sizeof(name), "tk");
	unique_owner(owner, sizeof(owner), "ident");
	spawn_burner(name, owner, 0, NULL, &id, NULL);
	cl_error_clear(&err);

	/* Same pid, another start time: a recycled pid. Never killed. */
	wrong = id;
	wrong.start_time++;
	assert_int_equal(worker_kill_owned("someone-else:x", &wrong, 1, 100, &killed, &err), 0);
	assert_int_equal(killed, 0);
	assert_true(proc_ident_alive(&id));

	/* Same pid and start time, another boot. Never killed. */
	wrong = id;
	snprintf(wrong.boot_id, sizeof(wrong.boot_id), "00000000-0000-0000-0000-000000000000");
	assert_int_equal(worker_kill_owned(NULL, &wrong, 1, 100, &killed, &err), 0);
	assert_int_equal(killed, 0);
	assert_true(proc_ident_alive(&id));

	/* The exact identity, no tag: killed. */
	assert_int_equal(worker_kill_owned(NULL, &id, 1, 1000, &killed, &err), 0);
	assert_int_equal(killed, 1);
	status = wait_child(id.pid, 2000);
	assert_true(WIFSIGNALED(status));
	assert_false(proc_ident_alive(&id));
}

static void test_kill_escalates_to_sigkill(void **state)
{
	char name[16], owner[128];
	struct proc_ident id;
	struct cl_error err;
	int killed = -1, status;

	unique_name(name, sizeof(name), "ts");
	unique_owner(owner, sizeof(owner), "stopped");
	spawn_burner(name, owner, 0, NULL, &id, NULL);
	/* Stopped and then continued, it dies of SIGTERM. */
	assert_int_equal(kill(id.pid, SIGSTOP), 0);
	cl_error_clear(&err);
	assert_int_equal(worker_kill_owned(owner, NULL, 0, 1000, &killed, &err), 0);
	assert_int_equal(killed, 1);
	status = wait_child(id.pid, 2000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

/* A worker whose parent dies is killed (PR_SET_PDEATHSIG); as subreaper we
 * inherit and reap it. */
static void test_worker_dies_with_its_parent(void **state)
{
	char name[16], owner[128];
	int pfd[2], status;
	pid_t mid, wpid = -1;

	unique_name(name, sizeof(name), "tp");
	unique_owner(owner, sizeof(owner), "orphan");
	assert_int_equal(worker_become_subreaper(), 0);
	assert_int_equal(pipe(pfd), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		cJSON *args = cJSON_Parse("{\"load_percent\": 5}");
		struct worker_spec spec = {
			.kind = "cpu-burner", .name = name, .args = args, .owner = owner
		};
		struct proc_ident id;
		struct cl_error err;

		close(pfd[0]);
		if (worker_spawn(&spec, &id, NULL, &err))
			_exit(1);
		if (write(pfd[1], &id.pid, sizeof(id.pid)) != sizeof(id.pid))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &wpid, sizeof(wpid)), sizeof(wpid));
	close(pfd[0]);
	status = wait_child(mid, 5000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = wait_child(wpid, 3000);
	assert_true(status != -1);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(worker_find_owned(owner, NULL, 0), 0);
}

/* worker_main() refuses to run a body when the parent it was spawned by is
 * gone already (the death signal would never come). */
static void test_worker_main_checks_parent(void **state)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "twparent", NULL };
		char *envp[] = { "CHAOSLAB_WORKER=cpu-burner",
				 "CHAOSLAB_WORKER_ARGS={\"load_percent\": 5}",
				 "CHAOSLAB_OWNER=test:parent", "CHAOSLAB_PARENT=1", NULL };

		execve(chaoslab_bin, argv, envp);
		_exit(99);
	}
	status = wait_child(pid, 5000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 127);
}

static void test_reap_children(void **state)
{
	for (int i = 0; i < 3; i++) {
		pid_t p = fork();

		assert_true(p >= 0);
		if (p == 0)
			_exit(0);
	}
	pause_ms(200);
	assert_int_equal(worker_reap_children(), 3);
	assert_int_equal(worker_reap_children(), 0);
}

/* ---- lockdown ------------------------------------------------------------ */

enum forbidden { DO_SOCKET, DO_UNAME, DO_OPENAT, DO_PTRACE, DO_EXECVE, DO_KILL, DO_NONE };

static const char *forbidden_name(enum forbidden f)
{
	static const char *const names[] = { "socket", "uname", "openat", "ptrace",
					     "execve", "kill",	"none" };
	return names[f];
}

static void do_forbidden(enum forbidden f)
{
	struct utsname u;
	char *argv[] = { "true", NULL };

	switch (f) {
	case DO_SOCKET:
		socket(AF_INET, SOCK_STREAM, 0);
		break;
	case DO_UNAME:
		uname(&u);
		break;
	case DO_OPENAT:
		open("/etc/hostname", O_RDONLY);
		break;
	case DO_PTRACE:
		syscall(SYS_ptrace, 0, 0, 0, 0);
		break;
	case DO_EXECVE:
		execve("/bin/true", argv, argv + 1);
		break;
	case DO_KILL:
		syscall(SYS_kill, getppid(), 0);
		break;
	case DO_NONE:
		break;
	}
}

/* In a child: lock down with extra, then make system call f. Returns the
 * child's wait status. */
static int locked_child(const char *const *extra, enum forbidden f)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;

		if (worker_lockdown(extra, &err))
			_exit(3);
		do_forbidden(f);
		_exit(0);
	}
	return wait_child(pid, 5000);
}

static void test_lockdown_kills_forbidden_syscalls(void **state)
{
	for (enum forbidden f = DO_SOCKET; f < DO_NONE; f++) {
		int status = locked_child(NULL, f);

		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
			fail_msg("%s after lockdown: status 0x%x, wanted SIGSYS", forbidden_name(f),
				 status);
	}
}

static void test_lockdown_allows_extra_syscalls(void **state)
{
	static const char *const extra[] = { "uname", "socket", NULL };
	int status;

	status = locked_child(extra, DO_UNAME);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	status = locked_child(extra, DO_SOCKET);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The others stay forbidden. */
	status = locked_child(extra, DO_PTRACE);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* What a worker body does once locked down works: memory, time, sleep,
 * writing to an fd it already has. */
static void test_lockdown_base_set_runs_a_body(void **state)
{
	int pfd[2], status;
	char buf[64] = "";
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		struct timespec ts = { 0, 1000000 };
		char *big, *small, out[64];
		int len;

		close(pfd[0]);
		if (worker_lockdown(NULL, &err))
			_exit(3);
		big = malloc(8 << 20); /* mmap */
		small = malloc(100);   /* brk */
		if (!big || !small)
			_exit(4);
		memset(big, 1, 8 << 20);
		free(big);
		free(small);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		ts = (struct timespec){ 0, 1000000 };
		nanosleep(&ts, NULL);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		len = snprintf(out, sizeof(out), "alive %d", (int)getpid());
		if (write(pfd[1], out, (size_t)len) != len)
			_exit(5);
		_exit(0);
	}
	close(pfd[1]);
	status = wait_child(pid, 5000);
	assert_int_not_equal(read(pfd[0], buf, sizeof(buf) - 1), -1);
	close(pfd[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(strncmp(buf, "alive ", 6), 0);
}

/* After lockdown: every capability set empty, no_new_privs, seccomp in
 * filter mode. The child reads its own status (openat and prctl allowed for
 * the purpose), reports it through a pipe, then dies on socket(). */
static void test_lockdown_drops_capabilities(void **state)
{
	static const char *const extra[] = { "openat", "prctl", NULL };
	static const char *const keys[] = { "CapInh", "CapPrm",	    "CapEff",  "CapBnd",
					    "CapAmb", "NoNewPrivs", "Seccomp", NULL };
	char report[1024] = "", *line, *save = NULL;
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		char out[1024], v[128];
		size_t len = 0;

		close(pfd[0]);
		if (worker_lockdown(extra, &err))
			_exit(3);
		for (const char *const *k = keys; *k; k++) {
			if (status_field(getpid(), *k, v, sizeof(v)))
				snprintf(v, sizeof(v), "?");
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s=%s\n", *k, v);
		}
		len += (size_t)snprintf(out + len, sizeof(out) - len, "prctl=%d\n",
					prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		if (write(pfd[1], out, len) != (ssize_t)len)
			_exit(4);
		do_forbidden(DO_SOCKET);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], report + got, sizeof(report) - 1 - (size_t)got)) > 0)
		got += n;
	close(pfd[0]);
	status = wait_child(pid, 5000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);

	for (const char *const *k = keys; *k; k++)
		if (!strstr(report, *k))
			fail_msg("%s missing from the child's report: %s", *k, report);
	assert_non_null(strstr(report, "prctl=1"));
	for (line = strtok_r(report, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "Cap", 3)) {
			/* The bounding set can only be emptied with CAP_SETPCAP. */
			if (!strncmp(line, "CapBnd=", 7) && geteuid() != 0)
				continue;
			assert_string_equal(strchr(line, '=') + 1, "0000000000000000");
		} else if (!strncmp(line, "NoNewPrivs=", 11)) {
			assert_string_equal(line + 11, "1");
		} else if (!strncmp(line, "Seccomp=", 8)) {
			assert_string_equal(line + 8, "2");
		} else if (!strncmp(line, "prctl=", 6)) {
			assert_string_equal(line + 6, "1");
		}
	}
}

/* An unknown name fails before anything changed. */
static void test_lockdown_unknown_name_changes_nothing(void **state)
{
	static const char *const extra[] = { "no_such_syscall", NULL };
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		char v[64];

		cl_error_clear(&err);
		if (worker_lockdown(extra, &err) != -1)
			_exit(10);
		if (!strstr(err.msg, "no_such_syscall"))
			_exit(11);
		if (status_field(getpid(), "Seccomp", v, sizeof(v)) || strcmp(v, "0"))
			_exit(12);
		if (status_field(getpid(), "NoNewPrivs", v, sizeof(v)) || strcmp(v, "0"))
			_exit(13);
		if (geteuid() == 0 && (status_field(getpid(), "CapEff", v, sizeof(v)) ||
				       !strcmp(v, "0000000000000000")))
			_exit(14);
		_exit(0);
	}
	status = wait_child(pid, 5000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_tag),
		cmocka_unit_test(test_subreaper),
		cmocka_unit_test(test_spawn_sets_name_env_group_nice_fds),
		cmocka_unit_test(test_spawn_refuses_bad_specs),
		cmocka_unit_test(test_spawn_unknown_kind_is_an_error),
		cmocka_unit_test(test_spawn_exec_failure_is_an_error),
		cmocka_unit_test(test_kill_checks_identity),
		cmocka_unit_test(test_kill_escalates_to_sigkill),
		cmocka_unit_test(test_worker_dies_with_its_parent),
		cmocka_unit_test(test_worker_main_checks_parent),
		cmocka_unit_test(test_reap_children),
		cmocka_unit_test(test_lockdown_kills_forbidden_syscalls),
		cmocka_unit_test(test_lockdown_allows_extra_syscalls),
		cmocka_unit_test(test_lockdown_base_set_runs_a_body),
		cmocka_unit_test(test_lockdown_drops_capabilities),
		cmocka_unit_test(test_lockdown_unknown_name_changes_nothing),
	};

	chaoslab_bin = getenv("CHAOSLAB_BIN");
	if (!chaoslab_bin || access(chaoslab_bin, X_OK)) {
		printf("SKIP: CHAOSLAB_BIN does not name the chaoslab binary (run through ctest)\n");
		return 77;
	}
	worker_set_exe(chaoslab_bin);
	/* Workers whose parent dies come to us to be reaped. */
	if (worker_become_subreaper()) {
		printf("SKIP: cannot become a child subreaper: %s\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
