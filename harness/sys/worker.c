/* Workers: spawn (fork + re-exec), the worker entry point, lockdown (libcap,
 * no_new_privs, libseccomp) and finding or killing a run's processes. */
#include "sys/worker.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "lab/service.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define WORKER_DEFAULT_EXE "/proc/self/exe"
#define WORKER_NAME_MAX 15	     /* TASK_COMM_LEN - 1 */
#define WORKER_START_TIMEOUT_MS 5000 /* exec + setup, also under sanitizers */
#define WORKER_KILL_TIMEOUT_MS 3000  /* after SIGKILL */
#define WORKER_KILL_ROUNDS 5	     /* passes catching processes forked meanwhile */

/* Named network namespaces, where iproute2 (and the lab) keep them. */
#define WORKER_NETNS_DIR "/run/netns"

extern char **environ;

static const char *worker_exe_override;

static const char *worker_exe(void)
{
	return worker_exe_override ? worker_exe_override : WORKER_DEFAULT_EXE;
}

void worker_set_exe(const char *path)
{
	worker_exe_override = path;
}

int worker_supported(char *why, size_t size)
{
	if (access(worker_exe(), X_OK) < 0) {
		snprintf(why, size, "cannot re-execute '%s' for workers: %s", worker_exe(),
			 strerror(errno));
		return -1;
	}
	return 0;
}

void worker_owner_tag(char *buf, size_t size, const char *run_id, const char *step)
{
	snprintf(buf, size, "%s:%s", run_id ? run_id : "", step ? step : "");
}

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- spawning ---------------------------------------------------------- */

/* What a child that could not exec reports through the CLOEXEC pipe; a
 * successful exec closes the pipe and the parent reads nothing. */
enum spawn_stage {
	SPAWN_PDEATHSIG = 1,
	SPAWN_PARENT_GONE,
	SPAWN_NICE,
	SPAWN_FDS,
	SPAWN_NETNS,
	SPAWN_EXEC,
};

struct spawn_failure {
	int stage;
	int errnum;
};

static const char *spawn_stage_name(int stage)
{
	switch (stage) {
	case SPAWN_PDEATHSIG:
		return "cannot ask to die with the harness (PR_SET_PDEATHSIG)";
	case SPAWN_PARENT_GONE:
		return "the harness exited while the worker started";
	case SPAWN_NICE:
		return "cannot set the nice value";
	case SPAWN_FDS:
		return "cannot close inherited file descriptors";
	case SPAWN_NETNS:
		return "cannot join its network namespace";
	case SPAWN_EXEC:
		return "cannot execute the chaoslab binary";
	}
	return "cannot start";
}

/* Mark every fd from 3 up close-on-exec (the error pipe already is). Only
 * async-signal-safe calls: this runs between fork and exec. */
static int spawn_cloexec_fds(void)
{
	struct rlimit rl;

	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	/* Kernels before 5.11: walk the fd table's possible range. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 20)
		rl.rlim_cur = 1 << 20;
	for (int fd = 3; fd < (int)rl.rlim_cur; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	return 0;
}

/* The child between fork and exec: default signal handling, die with the
 * parent (and make sure it has not already died), nice, no inherited fds. */
static void __attribute__((noreturn))
spawn_child(int errfd, pid_t parent, int nice_value, int netns_fd, const char *exe,
	    char *const argv[], char *const envp[])
{
	struct spawn_failure f = { 0, 0 };
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL); /* libc-reserved ones fail: fine */
	/* Its own process group before any signal can reach it: the terminal's
	 * ^C goes to the harness (which reverts), not to a worker starting up. */
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		f.stage = SPAWN_PDEATHSIG;
		goto fail;
	}
	/* The death signal only covers a parent that dies from now on. */
	if (getppid() != parent) {
		errno = ESRCH;
		f.stage = SPAWN_PARENT_GONE;
		goto fail;
	}
	if (setpriority(PRIO_PROCESS, 0, nice_value) < 0) {
		f.stage = SPAWN_NICE;
		goto fail;
	}
	if (spawn_cloexec_fds() < 0) {
		f.stage = SPAWN_FDS;
		goto fail;
	}
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		f.stage = SPAWN_NETNS;
		goto fail;
	}
	execve(exe, argv, envp);
	f.stage = SPAWN_EXEC;
fail:
	f.errnum = errno;
	/* If this write fails there is nothing left to tell it with. */
	(void)!write(errfd, &f, sizeof(f));
	_exit(127);
}

static bool env_is_ours(const char *kv)
{
	static const char *const ours[] = { "CHAOSLAB_WORKER=", "CHAOSLAB_WORKER_ARGS=",
					    "CHAOSLAB_OWNER=", "CHAOSLAB_PARENT=", NULL };

	for (const char *const *o = ours; *o; o++)
		if (!strncmp(kv, *o, strlen(*o)))
			return true;
	return false;
}

/* The worker's environment: ours minus stale worker variables, plus the
 * worker's. Returns a malloc'd array; the entries it added are malloc'd too
 * and listed in added[0..3]. */
static char **spawn_envp(const struct worker_spec *spec, const char *args_text, pid_t parent,
			 char *added[4])
{
	size_t n = 0, k = 0;
	char **envp;

	for (char **e = environ; e && *e; e++)
		n++;
	envp = calloc(n + 5, sizeof(*envp));
	if (!envp)
		return NULL;
	for (char **e = environ; e && *e; e++)
		if (!env_is_ours(*e))
			envp[k++] = *e;
	if (asprintf(&added[0], "CHAOSLAB_WORKER=%s", spec->kind) < 0)
		added[0] = NULL;
	if (asprintf(&added[1], "CHAOSLAB_WORKER_ARGS=%s", args_text) < 0)
		added[1] = NULL;
	if (asprintf(&added[2], "CHAOSLAB_OWNER=%s", spec->owner ? spec->owner : "") < 0)
		added[2] = NULL;
	if (asprintf(&added[3], "CHAOSLAB_PARENT=%d", (int)parent) < 0)
		added[3] = NULL;
	for (int i = 0; i < 4; i++) {
		if (!added[i]) {
			free(envp);
			return NULL;
		}
		envp[k++] = added[i];
	}
	envp[k] = NULL;
	return envp;
}

/* Wait until pid carries name (worker_main() finished its setup). 0 when it
 * does, 1 when it exited first (*status filled, reaped), -1 on timeout. */
static int spawn_wait_ready(pid_t pid, const char *name, int *status)
{
	double deadline = mono_now() + WORKER_START_TIMEOUT_MS / 1000.0;
	long pause_ms = 1;

	for (;;) {
		struct proc_stat st;

		if (proc_stat_read(pid, &st) < 0 || st.state == 'Z' || st.state == 'X') {
			if (waitpid(pid, status, 0) == pid)
				return 1;
			*status = -1;
			return 1;
		}
		/* worker_main() leaves its parent's group, then takes the name. */
		if (!strncmp(st.comm, name, WORKER_NAME_MAX) && getpgid(pid) == pid)
			return 0;
		if (mono_now() > deadline)
			return -1;
		sleep_ms(pause_ms);
		if (pause_ms < 20)
			pause_ms *= 2;
	}
}

static void describe_status(char *buf, size_t size, int status)
{
	if (status == -1)
		snprintf(buf, size, "status unknown");
	else if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "status 0x%x", status);
}

int worker_spawn(const struct worker_spec *spec, struct proc_ident *id, int *pidfd,
		 struct cl_error *err)
{
	char *argv_store[64];
	char *added[4] = { NULL, NULL, NULL, NULL };
	char **envp = NULL;
	char *args_text = NULL;
	int pipefd[2] = { -1, -1 };
	int fd = -1, nsfd = -1;
	pid_t pid = -1, parent = getpid();
	sigset_t all, old;
	struct spawn_failure f;
	size_t argc = 0;
	ssize_t n;
	int rc = -1, status;

	if (pidfd)
		*pidfd = -1;
	if (!spec || !spec->kind || !spec->kind[0] || !spec->name || !spec->name[0])
		return cl_error_set(err, CL_EXIT_USAGE, "worker: kind and name are required");
	if (strlen(spec->name) > WORKER_NAME_MAX)
		return cl_error_set(err, CL_EXIT_USAGE, "worker name '%s': at most %d characters",
				    spec->name, WORKER_NAME_MAX);
	argv_store[argc++] = (char *)spec->name;
	for (const char *const *x = spec->extra; x && *x; x++) {
		if (argc + 1 >= sizeof(argv_store) / sizeof(argv_store[0]))
			return cl_error_set(err, CL_EXIT_USAGE, "worker '%s': too many arguments",
					    spec->name);
		argv_store[argc++] = (char *)*x;
	}
	argv_store[argc] = NULL;
	if (spec->netns) {
		char path[300];

		/* A name, never a path: it is looked up in /run/netns. */
		if (!spec->netns[0] || strchr(spec->netns, '/') || !strcmp(spec->netns, ".") ||
		    !strcmp(spec->netns, "..") || strlen(spec->netns) > 64)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "worker '%s': invalid network namespace name '%s'",
					    spec->name, spec->netns);
		snprintf(path, sizeof(path), "%s/%s", WORKER_NETNS_DIR, spec->netns);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0) {
			int code = errno == ENOENT ? CL_EXIT_USAGE : CL_EXIT_PRIVILEGE;

			return cl_error_errno(err, code, errno,
					      "worker '%s': unable to open network namespace %s",
					      spec->name, path);
		}
	}

	args_text = spec->args ? cJSON_PrintUnformatted(spec->args) : strdup("{}");
	envp = args_text ? spawn_envp(spec, args_text, parent, added) : NULL;
	if (!envp) {
		rc = cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "worker '%s'", spec->name);
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = cl_error_errno(err, CL_EXIT_USAGE, errno, "worker '%s': pipe", spec->name);
		goto out;
	}

	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		spawn_child(pipefd[1], parent, spec->nice, nsfd, worker_exe(), argv_store, envp);
	}
	/* The same from this side, so no window is left whichever runs first
	 * (EACCES once the child has exec'd is fine: it did it itself). */
	if (pid > 0)
		setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		rc = cl_error_errno(err, CL_EXIT_USAGE, errno, "worker '%s': fork", spec->name);
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;

	do
		n = read(pipefd[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(f)) {
		bool priv = f.stage == SPAWN_NICE || f.stage == SPAWN_NETNS;

		waitpid(pid, NULL, 0);
		pid = -1;
		rc = cl_error_errno(err, priv ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE, f.errnum,
				    "worker '%s': %s", spec->name, spawn_stage_name(f.stage));
		goto out;
	}

	/* We are its parent and have not reaped it: the pid cannot be reused. */
	fd = sys_pidfd_open(pid);
	if (fd < 0) {
		rc = cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "worker '%s': pidfd_open",
				    spec->name);
		goto out;
	}
	if (proc_ident_of(pid, id) < 0) {
		rc = cl_error_errno(err, CL_EXIT_USAGE, errno, "worker '%s': reading /proc/%d/stat",
				    spec->name, (int)pid);
		goto out;
	}
	switch (spawn_wait_ready(pid, spec->name, &status)) {
	case 0:
		break;
	case 1: {
		char how[128];

		pid = -1;
		describe_status(how, sizeof(how), status);
		rc = cl_error_set(err, CL_EXIT_USAGE, "worker '%s' (%s) exited while starting: %s",
				  spec->name, spec->kind, how);
		goto out;
	}
	default:
		rc = cl_error_set(err, CL_EXIT_USAGE, "worker '%s' (%s) did not start within %d ms",
				  spec->name, spec->kind, WORKER_START_TIMEOUT_MS);
		goto out;
	}
	if (pidfd) {
		*pidfd = fd;
		fd = -1;
	}
	pid = -1;
	rc = 0;
out:
	if (pid > 0) {
		/* Started but unusable: leave nothing behind. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (fd >= 0)
		close(fd);
	if (nsfd >= 0)
		close(nsfd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	for (int i = 0; i < 4; i++)
		free(added[i]);
	free(envp);
	free(args_text);
	return rc;
}

/* ---- the worker side --------------------------------------------------- */

/* The argv area of this worker, for worker_set_title(). */
static char *title_area;
static size_t title_size;

void worker_set_title(const char *name)
{
	char comm[WORKER_NAME_MAX + 1];

	snprintf(comm, sizeof(comm), "%s", name);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (title_area && title_size > 1) {
		memset(title_area, 0, title_size);
		snprintf(title_area, title_size, "%s", name);
	}
}

int worker_main(int argc, char **argv)
{
	const char *kind = getenv("CHAOSLAB_WORKER");
	const char *args = getenv("CHAOSLAB_WORKER_ARGS");
	const char *parent = getenv("CHAOSLAB_PARENT");
	const char *name = argc > 0 && argv[0] && argv[0][0] ? argv[0] : kind;
	const struct injector *in = kind ? injector_find(kind) : NULL;
	int (*body)(const cJSON *args) = NULL;
	char comm[WORKER_NAME_MAX + 1];
	cJSON *j = NULL;
	int rc = 127;

	/* argv strings are contiguous: their span is what ps shows. */
	if (argc > 0 && argv[0]) {
		title_area = argv[0];
		title_size = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
	}
	if (in && in->worker) {
		body = in->worker;
	} else if (kind) {
		const struct lab_service *svc = lab_service_find(kind);

		if (svc)
			body = svc->main;
	}
	if (!body) {
		fprintf(stderr, "chaoslab worker: unknown worker kind '%s'\n", kind ? kind : "");
		goto out;
	}
	j = cJSON_Parse(args ? args : "{}");
	if (!cJSON_IsObject(j)) {
		fprintf(stderr, "chaoslab worker: CHAOSLAB_WORKER_ARGS is not a JSON object\n");
		goto out;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		fprintf(stderr, "chaoslab worker: PR_SET_PDEATHSIG: %s\n", strerror(errno));
		goto out;
	}
	/* Started by worker_spawn(): if that parent is gone already, the death
	 * signal will never come. Go quietly. */
	if (parent && *parent && getppid() != (pid_t)atoi(parent))
		goto out;
	/* Its own group: the terminal's ^C goes to the harness, which reverts. */
	setpgid(0, 0);
	snprintf(comm, sizeof(comm), "%s", name);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	rc = body(j);
out:
	cJSON_Delete(j);
	return rc;
}

int worker_exit_error(const struct cl_error *err)
{
	char comm[WORKER_NAME_MAX + 1] = "";
	char msg[1200];

	prctl(PR_GET_NAME, comm, 0, 0, 0);
	fprintf(stderr, "chaoslab worker %s[%d]: %s\n", comm, (int)getpid(),
		cl_error_format(err, msg, sizeof(msg)));
	return 1;
}

/* ---- lockdown ----------------------------------------------------------- */

/* clang-format off: grouped by purpose */
const char *const worker_base_syscalls[] = {
	/* leave */
	"exit",
	"exit_group",
	/* fds already open (stdio, pipes) */
	"read",
	"write",
	"readv",
	"writev",
	"close",
	"fstat",
	"newfstatat",
	/* memory (malloc, free) */
	"brk",
	"mmap",
	"munmap",
	"mremap",
	"madvise",
	/* time and sleep */
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"nanosleep",
	"clock_nanosleep",
	/* signals */
	"rt_sigreturn",
	"rt_sigaction",
	"rt_sigprocmask",
	"sigaltstack",
	"restart_syscall",
	/* identity, locks, scheduling */
	"getpid",
	"gettid",
	"getppid",
	"futex",
	"sched_yield",
	NULL,
};
/* clang-format on */

/* Drop every capability: bounding (needs CAP_SETPCAP, so first), ambient,
 * then effective, permitted and inheritable. */
static int drop_capabilities(struct cl_error *err)
{
	cap_flag_value_t setpcap = CAP_CLEAR;
	cap_t caps = cap_get_proc();
	cap_t none = NULL;
	int rc = -1;

	if (!caps)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "lockdown: cap_get_proc");
	if (cap_get_flag(caps, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap) < 0)
		setpcap = CAP_CLEAR;
	if (setpcap == CAP_SET) {
		for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
			if (cap_drop_bound(c) < 0 && errno != EINVAL) {
				cl_error_errno(
					err, CL_EXIT_PRIVILEGE, errno,
					"lockdown: dropping capability %d from the bounding set",
					(int)c);
				goto out;
			}
		}
	}
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0) {
		cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
			       "lockdown: clearing ambient capabilities");
		goto out;
	}
	none = cap_init();
	if (!none || cap_set_proc(none) < 0) {
		cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "lockdown: clearing capabilities");
		goto out;
	}
	rc = 0;
out:
	if (none)
		cap_free(none);
	cap_free(caps);
	return rc;
}

static int allow_syscall(scmp_filter_ctx sc, const char *name, bool must_exist,
			 struct cl_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	if (nr == __NR_SCMP_ERROR) {
		if (!must_exist)
			return 0;
		return cl_error_set(err, CL_EXIT_USAGE, "lockdown: unknown system call '%s'", name);
	}
	r = seccomp_rule_add(sc, SCMP_ACT_ALLOW, nr, 0);
	/* -EDOM: a pseudo-syscall this architecture does not have. */
	if (r < 0 && r != -EDOM && r != -EEXIST)
		return cl_error_errno(err, CL_EXIT_USAGE, -r, "lockdown: allowing '%s'", name);
	return 0;
}

int worker_lockdown(const char *const *extra_syscalls, struct cl_error *err)
{
	scmp_filter_ctx sc;
	int rc = -1, r;

	/* Build the whole filter first: a bad name changes nothing. */
	sc = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!sc)
		return cl_error_set(err, CL_EXIT_PRIVILEGE, "lockdown: seccomp_init failed");
	for (const char *const *s = worker_base_syscalls; *s; s++)
		if (allow_syscall(sc, *s, false, err))
			goto out;
	for (const char *const *s = extra_syscalls; s && *s; s++)
		if (allow_syscall(sc, *s, true, err))
			goto out;

	if (drop_capabilities(err))
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "lockdown: PR_SET_NO_NEW_PRIVS");
		goto out;
	}
	r = seccomp_load(sc);
	if (r < 0) {
		cl_error_errno(err, CL_EXIT_PRIVILEGE, -r, "lockdown: loading the seccomp filter");
		goto out;
	}
	rc = 0;
out:
	seccomp_release(sc);
	return rc;
}

/* ---- finding and killing a run's processes ----------------------------- */

static bool owner_matches(pid_t pid, const char *owner)
{
	char tag[512];

	if (!owner || !owner[0] || strlen(owner) >= sizeof(tag) - 1)
		return false;
	return proc_environ_get(pid, "CHAOSLAB_OWNER", tag, sizeof(tag)) == 0 &&
	       !strcmp(tag, owner);
}

static bool ident_matches(const struct proc_stat *st, const struct proc_ident *known, size_t nknown)
{
	for (size_t i = 0; i < nknown; i++)
		if (known[i].pid == st->pid && known[i].start_time == st->start_time &&
		    !strcmp(known[i].boot_id, proc_boot_id()))
			return true;
	return false;
}

/* Call fn for every live (not zombie) process other than ourselves. */
static int walk_live(int (*fn)(const struct proc_stat *st, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int rc = 0;

	if (!d)
		return -1;
	while (!rc && (de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		if (proc_stat_read((pid_t)pid, &st) < 0 || st.state == 'Z' || st.state == 'X')
			continue;
		rc = fn(&st, arg);
	}
	closedir(d);
	return rc < 0 ? -1 : 0;
}

struct find_owned {
	const char *owner;
	pid_t *pids;
	size_t cap, n;
};

static int find_owned_one(const struct proc_stat *st, void *arg)
{
	struct find_owned *fo = arg;

	if (owner_matches(st->pid, fo->owner)) {
		if (fo->pids && fo->n < fo->cap)
			fo->pids[fo->n] = st->pid;
		fo->n++;
	}
	return 0;
}

size_t worker_find_owned(const char *owner, pid_t *pids, size_t cap)
{
	struct find_owned fo = { .owner = owner, .pids = pids, .cap = cap };

	if (!owner || !owner[0])
		return 0;
	walk_live(find_owned_one, &fo);
	return fo.n;
}

/* One pass's victims, each held by a pidfd so a recycled pid is never hit. */
struct kill_pass {
	const char *owner;
	const struct proc_ident *known;
	size_t nknown;
	struct pollfd *fds; /* fd = pidfd; -1 once exited */
	pid_t *pids;
	size_t n, cap;
	int err;
};

static int kill_pass_add(const struct proc_stat *st, void *arg)
{
	struct kill_pass *kp = arg;
	struct proc_stat again;
	int fd;

	if (!ident_matches(st, kp->known, kp->nknown) && !owner_matches(st->pid, kp->owner))
		return 0;
	fd = sys_pidfd_open(st->pid);
	if (fd < 0)
		return 0; /* gone meanwhile */
	/* The pidfd names the process we checked only if it has the same start
	 * time now and is still alive (a dead one cannot come back). */
	if (proc_stat_read(st->pid, &again) < 0 || again.start_time != st->start_time ||
	    sys_pidfd_signal(fd, 0) < 0) {
		close(fd);
		return 0;
	}
	if (kp->n == kp->cap) {
		size_t cap = kp->cap ? kp->cap * 2 : 16;
		struct pollfd *nf = realloc(kp->fds, cap * sizeof(*nf));
		pid_t *np;

		if (nf)
			kp->fds = nf;
		np = nf ? realloc(kp->pids, cap * sizeof(*np)) : NULL;
		if (!nf || !np) {
			close(fd);
			kp->err = ENOMEM;
			return -1;
		}
		kp->pids = np;
		kp->cap = cap;
	}
	kp->fds[kp->n].fd = fd;
	kp->fds[kp->n].events = POLLIN;
	kp->fds[kp->n].revents = 0;
	kp->pids[kp->n] = st->pid;
	kp->n++;
	return 0;
}

/* Wait up to ms for the processes still listed to exit; returns how many
 * have not. */
static size_t kill_pass_wait(struct kill_pass *kp, int ms)
{
	double deadline = mono_now() + ms / 1000.0;
	size_t left;

	for (;;) {
		int timeout = (int)((deadline - mono_now()) * 1000.0);

		left = 0;
		for (size_t i = 0; i < kp->n; i++)
			if (kp->fds[i].fd >= 0)
				left++;
		if (!left || timeout <= 0)
			return left;
		if (poll(kp->fds, kp->n, timeout) < 0 && errno != EINTR)
			return left;
		for (size_t i = 0; i < kp->n; i++) {
			if (kp->fds[i].fd >= 0 && kp->fds[i].revents) {
				close(kp->fds[i].fd);
				kp->fds[i].fd = -1;
			}
			kp->fds[i].revents = 0;
		}
	}
}

static void kill_pass_release(struct kill_pass *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		if (kp->fds[i].fd >= 0)
			close(kp->fds[i].fd);
	free(kp->fds);
	free(kp->pids);
	kp->fds = NULL;
	kp->pids = NULL;
	kp->n = kp->cap = 0;
}

int worker_kill_owned(const char *owner, const struct proc_ident *known, size_t nknown,
		      int grace_ms, int *killed, struct cl_error *err)
{
	struct kill_pass kp = { .owner = owner, .known = known, .nknown = known ? nknown : 0 };
	int total = 0, rc = -1;

	if (killed)
		*killed = 0;
	if (grace_ms < 0)
		grace_ms = 0;
	/* A dying parent may fork once more (a respawner): repeat until a pass
	 * finds nothing. */
	for (int round = 0; round < WORKER_KILL_ROUNDS; round++) {
		size_t left;

		kill_pass_release(&kp);
		if (walk_live(kill_pass_add, &kp) < 0) {
			if (kp.err)
				cl_error_errno(err, CL_EXIT_REVERT, kp.err, "scanning processes");
			else
				cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to list /proc");
			goto out;
		}
		if (!kp.n) {
			rc = 0;
			goto out;
		}
		for (size_t i = 0; i < kp.n; i++) {
			if (sys_pidfd_signal(kp.fds[i].fd, SIGTERM) == 0)
				total++;
			/* A stopped process acts on SIGTERM only once continued. */
			sys_pidfd_signal(kp.fds[i].fd, SIGCONT);
		}
		if (!kill_pass_wait(&kp, grace_ms))
			continue;
		for (size_t i = 0; i < kp.n; i++)
			if (kp.fds[i].fd >= 0)
				sys_pidfd_signal(kp.fds[i].fd, SIGKILL);
		left = kill_pass_wait(&kp, WORKER_KILL_TIMEOUT_MS);
		if (left) {
			for (size_t i = 0; i < kp.n; i++)
				if (kp.fds[i].fd >= 0) {
					cl_error_set(err, CL_EXIT_REVERT,
						     "pid %d survived SIGKILL for %d ms (%zu left)",
						     (int)kp.pids[i], WORKER_KILL_TIMEOUT_MS, left);
					break;
				}
			goto out;
		}
	}
	cl_error_set(err, CL_EXIT_REVERT, "processes of '%s' kept appearing after %d passes",
		     owner ? owner : "", WORKER_KILL_ROUNDS);
out:
	kill_pass_release(&kp);
	if (killed)
		*killed = total;
	return rc;
}

/* ---- undo data of steps that run workers -------------------------------- */

int worker_undo_init(cJSON *undo, const char *owner, struct cl_error *err)
{
	cJSON *o = cJSON_CreateString(owner);
	cJSON *w = cJSON_CreateArray();

	if (!o || !w) {
		cJSON_Delete(o);
		cJSON_Delete(w);
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "undo data");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(undo, "owner");
	cJSON_DeleteItemFromObjectCaseSensitive(undo, "workers");
	cJSON_AddItemToObject(undo, "owner", o);
	cJSON_AddItemToObject(undo, "workers", w);
	return 0;
}

int worker_undo_add(cJSON *undo, const struct proc_ident *id, struct cl_error *err)
{
	cJSON *w = cJSON_GetObjectItemCaseSensitive(undo, "workers");
	cJSON *j;

	if (!cJSON_IsArray(w))
		return cl_error_set(err, CL_EXIT_USAGE, "undo data has no workers array");
	j = proc_ident_to_json(id);
	if (!j)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "undo data");
	cJSON_AddItemToArray(w, j);
	return 0;
}

int worker_undo_kill(const cJSON *undo, const char *fallback_owner, int grace_ms, int *killed,
		     struct cl_error *err)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(undo, "owner");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(undo, "workers");
	const char *owner = cJSON_IsString(o) ? o->valuestring : fallback_owner;
	struct proc_ident *known = NULL;
	size_t nknown = 0;
	const cJSON *it;
	int rc;

	if (cJSON_IsArray(w) && cJSON_GetArraySize(w) > 0) {
		known = calloc((size_t)cJSON_GetArraySize(w), sizeof(*known));
		if (!known)
			return cl_error_errno(err, CL_EXIT_REVERT, ENOMEM, "undo data");
		cJSON_ArrayForEach (it, w)
			if (proc_ident_from_json(it, &known[nknown]) == 0)
				nknown++;
	}
	if ((!owner || !owner[0]) && !nknown) {
		if (killed)
			*killed = 0;
		rc = 0;
		goto out;
	}
	rc = worker_kill_owned(owner, known, nknown, grace_ms, killed, err);
out:
	free(known);
	return rc;
}

/* ---- reaping ------------------------------------------------------------ */

int worker_reap_children(void)
{
	int n = 0;

	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p > 0) {
			n++;
			continue;
		}
		if (p < 0 && errno == EINTR)
			continue;
		break;
	}
	return n;
}

int worker_become_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}
