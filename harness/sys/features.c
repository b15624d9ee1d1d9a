#include "sys/features.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

/* Kernel configs are about 250 KiB; anything far larger is not one. */
#define KCONFIG_MAX (8u << 20)
#define RUN_TIMEOUT (-2)
#define RUN_NOEXEC (-1)

const char *feature_status_name(enum feature_status s)
{
	switch (s) {
	case FEATURE_OK:
		return "ok";
	case FEATURE_WARN:
		return "warn";
	case FEATURE_MISSING:
		return "missing";
	}
	return "?";
}

int feature_explain(const struct feature *f, char *why, size_t size)
{
	if (size) {
		if (f->remedy[0])
			snprintf(why, size, "%s (%s)", f->detail, f->remedy);
		else
			snprintf(why, size, "%s", f->detail);
	}
	return f->status == FEATURE_OK ? 0 : -1;
}

static enum feature_status feature_fill(struct feature *out, enum feature_status st,
					const char *remedy, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fill a result: status, remedy (may be NULL) and a printf-style detail. */
static enum feature_status feature_fill(struct feature *out, enum feature_status st,
					const char *remedy, const char *fmt, ...)
{
	va_list ap;

	out->status = st;
	snprintf(out->remedy, sizeof(out->remedy), "%s", remedy ? remedy : "");
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
	return st;
}

/* ---- environment, files and commands ------------------------------------- */

void feature_env_init(struct feature_env *env, const char *root, const char *release)
{
	struct utsname u;

	memset(env, 0, sizeof(*env));
	snprintf(env->root, sizeof(env->root), "%s", root ? root : "");
	if (release)
		snprintf(env->release, sizeof(env->release), "%s", release);
	else if (uname(&u) == 0)
		snprintf(env->release, sizeof(env->release), "%s", u.release);
}

void feature_env_release(struct feature_env *env)
{
	free(env->kconfig);
	env->kconfig = NULL;
	env->kconfig_read = false;
}

static bool env_live(const struct feature_env *env)
{
	return !env->root[0];
}

/* ROOT + formatted path into buf. */
static const char *rpath(const struct feature_env *env, char *buf, size_t size, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));

static const char *rpath(const struct feature_env *env, char *buf, size_t size, const char *fmt,
			 ...)
{
	va_list ap;
	int n = snprintf(buf, size, "%s", env->root);

	if (n < 0 || (size_t)n >= size)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* The first line of a small file, without its newline. -1 with errno. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int rc = -1;

	if (!f)
		return -1;
	buf[0] = '\0';
	if (fgets(buf, (int)size, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = 0;
	} else if (ferror(f)) {
		if (!errno)
			errno = EIO;
	} else {
		rc = 0; /* empty file */
	}
	fclose(f);
	return rc;
}

/* A whole file, at most max bytes, NUL-terminated and malloc'd; NULL with
 * errno on failure. */
static char *read_all(const char *path, size_t max)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= len + 1)
				break; /* at the cap: the rest is dropped */
			nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run argv (argv[0] a path) with stdin from /dev/null and stdout plus stderr
 * captured into *out (malloc'd, NUL-terminated, at most max bytes kept; the
 * caller frees it; NULL when nothing could be allocated). The child runs in
 * its own process group, killed whole at the timeout, with LC_ALL=C so its
 * messages can be matched. Returns the exit status, 128 + signal when killed
 * by one, RUN_TIMEOUT, or RUN_NOEXEC when it could not be started. */
static int run_capture(const char *const *argv, int timeout_ms, size_t max, char **out)
{
	int pfd[2], status = 0, rc;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	bool timed_out = false;
	double deadline = now_seconds() + timeout_ms / 1000.0;
	pid_t pid;

	*out = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return RUN_NOEXEC;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return RUN_NOEXEC;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		sigset_t none;

		/* A caller may block signals for a signalfd; the tool must not
		 * inherit that. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		setenv("LC_ALL", "C", 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid); /* also from here: no window where a kill misses it */
	close(pfd[1]);
	for (;;) {
		int left = (int)((deadline - now_seconds()) * 1000);
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char chunk[4096];
		ssize_t n;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		rc = poll(&p, 1, left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			break;
		if (rc == 0) {
			timed_out = true;
			break;
		}
		n = read(pfd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < max) {
			size_t take = (size_t)n < max - len ? (size_t)n : max - len;
			if (len + take + 1 > cap) {
				size_t ncap = cap ? cap * 2 : 8192;
				while (ncap < len + take + 1)
					ncap *= 2;
				char *nb = realloc(buf, ncap);
				if (nb) {
					buf = nb;
					cap = ncap;
				} else {
					take = 0;
				}
			}
			if (take) {
				memcpy(buf + len, chunk, take);
				len += take;
			}
		}
	}
	close(pfd[0]);
	/* Output closed; give the child the rest of its time to exit. */
	while (!timed_out) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			goto reaped;
		if (w < 0 && errno == ECHILD) {
			/* Reaped by someone else (SIGCHLD ignored): the pid may
			 * already be reused, so never signal it. */
			status = -1;
			goto reaped;
		}
		if (now_seconds() >= deadline) {
			timed_out = true;
			break;
		}
		usleep(10000);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
reaped:
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = '\0';
	*out = buf;
	if (timed_out)
		return RUN_TIMEOUT;
	if (status == -1)
		return RUN_NOEXEC;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return RUN_NOEXEC;
}

/* The first non-empty line of text into buf. */
static const char *first_line(const char *text, char *buf, size_t size)
{
	const char *p = text ? text : "";

	while (*p == '\n' || *p == ' ')
		p++;
	snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/* ---- privileges ---------------------------------------------------------- */

const struct feature_cap feature_caps[] = {
	{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "the lab's network namespace and mounts", true },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN", "the lab's veth pair, addresses and qdiscs", true },
	{ CAP_KILL, "CAP_KILL", "stopping workers and lab services whatever their user", true },
	{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "reading other users' /proc/PID fd and environ",
	  false },
	{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE", "raising limits in memory and disk drills", false },
	{ CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE", "editing root-owned files in DNS and cert drills",
	  false },
	{ 0, NULL, NULL, false },
};

bool feature_cap_effective(int cap)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (!caps)
		return false;
	if (cap_get_flag(caps, (cap_value_t)cap, CAP_EFFECTIVE, &v))
		v = CAP_CLEAR;
	cap_free(caps);
	return v == CAP_SET;
}

enum feature_status feature_probe_cap(const struct feature_cap *c, struct feature *out)
{
	enum feature_status miss = c->required ? FEATURE_MISSING : FEATURE_WARN;
	char remedy[sizeof(out->remedy)];

	if (feature_cap_effective(c->cap))
		return feature_fill(out, FEATURE_OK, NULL, "effective (%s)", c->used_for);
	if (cap_get_bound((cap_value_t)c->cap) == 0) {
		/* Gone from the bounding set: even root cannot get it back. */
		snprintf(remedy, sizeof(remedy),
			 "run on the host or grant it to the container (--cap-add %s)",
			 c->name + 4);
		return feature_fill(
			out, miss, remedy,
			"not effective: not in the bounding set (dropped by what started "
			"this process); needed for %s",
			c->used_for);
	}
	if (geteuid() != 0)
		return feature_fill(out, miss, "run as root: sudo chaoslab ...",
				    "not effective (not root); needed for %s", c->used_for);
	return feature_fill(out, miss, "run as root with full capabilities (see capsh --print)",
			    "not effective although root; needed for %s", c->used_for);
}

enum feature_status feature_probe_user(struct feature *out)
{
	uid_t uid = geteuid();
	struct passwd *pw;

	if (uid == 0)
		return feature_fill(out, FEATURE_OK, NULL, "uid 0 (root)");
	pw = getpwuid(uid);
	return feature_fill(out, FEATURE_WARN, "run as root: sudo chaoslab ...",
			    "uid %u (%s), not root: drills that change the system will not run",
			    (unsigned)uid, pw ? pw->pw_name : "?");
}

/* ---- kernel config and modules ------------------------------------------- */

static void kconfig_load(struct feature_env *env)
{
	char path[512], gzip[512];

	if (env->kconfig_read)
		return;
	env->kconfig_read = true;
	rpath(env, path, sizeof(path), "/boot/config-%s", env->release);
	env->kconfig = read_all(path, KCONFIG_MAX);
	if (env->kconfig) {
		snprintf(env->kconfig_src, sizeof(env->kconfig_src), "/boot/config-%s",
			 env->release);
		return;
	}
	rpath(env, path, sizeof(path), "/proc/config.gz");
	if (!exists(path) || feature_which("gzip", gzip, sizeof(gzip)) < 0)
		return;
	const char *argv[] = { gzip, "-dc", path, NULL };
	char *text = NULL;
	if (run_capture(argv, 5000, KCONFIG_MAX, &text) == 0 && text && strstr(text, "CONFIG_")) {
		env->kconfig = text;
		snprintf(env->kconfig_src, sizeof(env->kconfig_src), "/proc/config.gz");
		return;
	}
	free(text);
}

int feature_kconfig(struct feature_env *env, const char *sym, char *val, size_t size)
{
	size_t sl = strlen(sym);

	kconfig_load(env);
	if (!env->kconfig) {
		snprintf(val, size, "%s", "");
		return -1;
	}
	for (const char *p = env->kconfig; *p;) {
		size_t ll = strcspn(p, "\n");

		if (ll > sl && !strncmp(p, sym, sl) && p[sl] == '=') {
			snprintf(val, size, "%.*s", (int)(ll - sl - 1), p + sl + 1);
			return 1;
		}
		p += ll;
		if (*p)
			p++;
	}
	snprintf(val, size, "n");
	return 0;
}

const char *kmod_state_name(enum kmod_state s)
{
	static const char *const names[] = {
		"unknown", "loaded", "built in", "loadable", "not installed", "absent",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* Module names treat '-' and '_' alike (snd-hda-intel.ko is snd_hda_intel). */
static bool modname_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen && b[i]; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return i == alen && !b[i];
}

/* Does a modules.dep/modules.builtin path name module? "kernel/net/sched/
 * sch_netem.ko.xz" does for "sch_netem". */
static bool modpath_is(const char *p, size_t len, const char *module)
{
	const char *base = p, *ko;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '/')
			base = p + i + 1;
	len -= (size_t)(base - p);
	ko = NULL;
	for (size_t i = 0; i + 3 <= len; i++)
		if (!strncmp(base + i, ".ko", 3) && (i + 3 == len || base[i + 3] == '.'))
			ko = base + i;
	return ko && modname_eq(base, (size_t)(ko - base), module);
}

/* Scan a modules.dep-style file ("path: deps" or "path" per line) for module;
 * the path into file. */
static bool modlist_find(const char *listpath, const char *module, char *file, size_t size)
{
	FILE *f = fopen(listpath, "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		size_t len = strcspn(line, ":\n");
		if (modpath_is(line, len, module)) {
			snprintf(file, size, "%.*s", (int)len, line);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}

enum kmod_state feature_kmod(struct feature_env *env, const char *module, const char *config_sym,
			     struct kmod_info *out)
{
	struct feature_env local;
	char path[600], listfile[700], val[64];
	int kc = -1;

	if (!env) {
		feature_env_init(&local, NULL, NULL);
		env = &local;
	}
	memset(out, 0, sizeof(*out));
	out->modprobe_rc = -1;
	out->state = KMOD_UNKNOWN;

	if (config_sym) {
		kc = feature_kconfig(env, config_sym, val, sizeof(val));
		if (kc >= 0)
			snprintf(out->kconfig, sizeof(out->kconfig), "%s", val);
		if (kc >= 0 && feature_kconfig(env, "CONFIG_MODULES", val, sizeof(val)) == 0)
			out->no_module_support = true;
	}
	rpath(env, path, sizeof(path), "/lib/modules/%s", env->release);
	if (!is_dir(path))
		rpath(env, path, sizeof(path), "/usr/lib/modules/%s", env->release);
	if (is_dir(path))
		snprintf(out->modules_dir, sizeof(out->modules_dir), "%s", path);

	rpath(env, path, sizeof(path), "/sys/module/%s", module);
	if (is_dir(path)) {
		rpath(env, listfile, sizeof(listfile), "/sys/module/%s/initstate", module);
		if (exists(listfile)) {
			out->state = KMOD_LOADED;
			snprintf(out->how, sizeof(out->how), "/sys/module/%s/initstate", module);
		} else {
			/* Built-in modules with parameters appear without initstate. */
			out->state = KMOD_BUILTIN;
			snprintf(out->how, sizeof(out->how), "/sys/module/%s without initstate",
				 module);
		}
	}
	if (out->state == KMOD_UNKNOWN && out->modules_dir[0]) {
		snprintf(listfile, sizeof(listfile), "%s/modules.builtin", out->modules_dir);
		if (modlist_find(listfile, module, out->file, sizeof(out->file))) {
			out->state = KMOD_BUILTIN;
			snprintf(out->how, sizeof(out->how), "listed in modules.builtin");
			out->file[0] = '\0';
		}
	}
	if (out->state == KMOD_UNKNOWN && out->modules_dir[0]) {
		snprintf(listfile, sizeof(listfile), "%s/modules.dep", out->modules_dir);
		if (modlist_find(listfile, module, out->file, sizeof(out->file))) {
			out->state = KMOD_LOADABLE;
			snprintf(out->how, sizeof(out->how), "%s in modules.dep", out->file);
		}
	}
	if (out->state == KMOD_UNKNOWN && kc >= 0) {
		if (!strcmp(out->kconfig, "y"))
			out->state = KMOD_BUILTIN;
		else if (!strcmp(out->kconfig, "m"))
			out->state = KMOD_NOT_INSTALLED;
		else
			out->state = KMOD_ABSENT;
		if (kc == 1)
			snprintf(out->how, sizeof(out->how), "%s=%s in %s", config_sym,
				 out->kconfig, env->kconfig_src);
		else
			snprintf(out->how, sizeof(out->how), "%s is not set in %s", config_sym,
				 env->kconfig_src);
	}
	if (out->state == KMOD_UNKNOWN && out->modules_dir[0]) {
		/* modules.builtin lists every built-in module: not there, not here. */
		out->state = KMOD_ABSENT;
		snprintf(out->how, sizeof(out->how), "not in modules.dep or modules.builtin");
	}

	/* Ask modprobe itself, dry run, on the live system. */
	if (env_live(env) && out->state != KMOD_LOADED && out->state != KMOD_BUILTIN &&
	    feature_which("modprobe", path, sizeof(path)) >= 0) {
		const char *argv[] = { path, "-n", module, NULL };
		char *text = NULL;

		out->modprobe_rc = run_capture(argv, 3000, 4096, &text);
		/* "modprobe: FATAL: Module x not found ..." without the name. */
		first_line(text && !strncmp(text, "modprobe: ", 10) ? text + 10 : text,
			   out->modprobe_msg, sizeof(out->modprobe_msg));
		free(text);
		if (out->state == KMOD_UNKNOWN && out->modprobe_rc == 0) {
			out->state = KMOD_LOADABLE;
			snprintf(out->how, sizeof(out->how), "modprobe -n %s succeeds", module);
		}
	}
	if (env == &local)
		feature_env_release(&local);
	return out->state;
}

enum feature_status feature_probe_kmod(struct feature_env *env, const char *module,
				       const char *config_sym, const char *what,
				       struct feature *out)
{
	struct feature_env local;
	struct kmod_info k;
	char remedy[sizeof(out->remedy)], mp[256] = "", modprobe[512];
	enum feature_status st;
	const char *sym = config_sym ? config_sym : "its CONFIG_ option";

	if (!env) {
		feature_env_init(&local, NULL, NULL);
		env = &local;
	}
	feature_kmod(env, module, config_sym, &k);
	if (k.modprobe_rc == 0)
		snprintf(mp, sizeof(mp), "; modprobe -n: ok");
	else if (k.modprobe_rc == RUN_TIMEOUT)
		snprintf(mp, sizeof(mp), "; modprobe -n: timed out");
	else if (k.modprobe_rc > 0)
		snprintf(mp, sizeof(mp), "; modprobe -n: %s",
			 k.modprobe_msg[0] ? k.modprobe_msg : "failed");

	switch (k.state) {
	case KMOD_LOADED:
		st = feature_fill(out, FEATURE_OK, NULL, "%s loaded (%s)", what, k.how);
		break;
	case KMOD_BUILTIN:
		st = feature_fill(out, FEATURE_OK, NULL, "%s built into kernel %s (%s)", what,
				  env->release, k.how);
		break;
	case KMOD_LOADABLE:
		if (env_live(env) && feature_which("modprobe", modprobe, sizeof(modprobe)) < 0)
			snprintf(remedy, sizeof(remedy), "apt-get install kmod, then modprobe %s",
				 module);
		else
			snprintf(remedy, sizeof(remedy), "modprobe %s (%s)", module, sym);
		st = feature_fill(out, FEATURE_WARN, remedy,
				  "%s is a module, not loaded yet (%s%s)", what, k.how, mp);
		break;
	case KMOD_NOT_INSTALLED:
		snprintf(remedy, sizeof(remedy),
			 "install this kernel's modules (Debian: apt-get install linux-image-%s)",
			 env->release);
		st = feature_fill(
			out, FEATURE_MISSING, remedy,
			"%s is built as a module (%s) but kernel %s has no module files%s%s", what,
			k.how, env->release, k.modules_dir[0] ? "" : " (no /lib/modules)", mp);
		break;
	case KMOD_ABSENT:
		snprintf(remedy, sizeof(remedy),
			 "boot a kernel built with %s (=m or =y), e.g. Debian's linux-image-amd64",
			 sym);
		st = feature_fill(out, FEATURE_MISSING, remedy, "%s not in kernel %s (%s%s%s)%s",
				  what, env->release, k.how,
				  k.no_module_support ? "; no module support" : "",
				  k.modules_dir[0] ? "" : "; no /lib/modules", mp);
		break;
	default:
		snprintf(remedy, sizeof(remedy),
			 "install kmod and this kernel's modules, or expose its config "
			 "(/boot/config-%s)",
			 env->release);
		st = feature_fill(out, FEATURE_WARN, remedy,
				  "cannot tell whether kernel %s has %s: not in /sys/module, no "
				  "/lib/modules, no kernel config%s",
				  env->release, what, mp);
		break;
	}
	if (env == &local)
		feature_env_release(&local);
	return st;
}

enum feature_status feature_probe_netem(struct feature_env *env, struct feature *out)
{
	return feature_probe_kmod(env, "sch_netem", "CONFIG_NET_SCH_NETEM", "netem qdisc", out);
}

enum feature_status feature_probe_tbf(struct feature_env *env, struct feature *out)
{
	return feature_probe_kmod(env, "sch_tbf", "CONFIG_NET_SCH_TBF", "tbf qdisc", out);
}

enum feature_status feature_probe_veth(struct feature_env *env, struct feature *out)
{
	return feature_probe_kmod(env, "veth", "CONFIG_VETH", "veth", out);
}

/* ---- namespaces, seccomp, PSI -------------------------------------------- */

/* In a child, so this process's namespace never changes. Returns 0 or the
 * errno unshare failed with. */
static int try_unshare_net(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 ? 0 : (errno & 0xff));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return ECHILD;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return ECHILD;
}

enum feature_status feature_probe_netns(struct feature_env *env, struct feature *out)
{
	char path[512];
	struct feature_env local;
	int e;

	if (!env) {
		feature_env_init(&local, NULL, NULL);
		env = &local;
	}
	rpath(env, path, sizeof(path), "/proc/self/ns/net");
	if (!exists(path))
		return feature_fill(out, FEATURE_MISSING, "boot a kernel built with CONFIG_NET_NS",
				    "no /proc/self/ns/net: kernel without network namespaces");
	if (!env_live(env))
		return feature_fill(out, FEATURE_OK, NULL, "/proc/self/ns/net exists");
	e = try_unshare_net();
	if (!e)
		return feature_fill(out, FEATURE_OK, NULL, "unshare(CLONE_NEWNET) works");
	if (e == EPERM)
		return feature_fill(out, FEATURE_MISSING, "run as root (needs CAP_SYS_ADMIN)",
				    "kernel has them, but unshare(CLONE_NEWNET): %s", strerror(e));
	if (e == ENOSPC)
		return feature_fill(out, FEATURE_MISSING, "raise /proc/sys/user/max_net_namespaces",
				    "unshare(CLONE_NEWNET): %s (namespace limit reached)",
				    strerror(e));
	return feature_fill(out, FEATURE_MISSING,
			    "check the kernel log (dmesg) and security modules",
			    "unshare(CLONE_NEWNET): %s", strerror(e));
}

/* "Key:\tvalue" from /proc/self/status; -1 when absent. */
static long status_field(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return strtol(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

enum feature_status feature_probe_seccomp(struct feature *out)
{
	const struct scmp_version *v = seccomp_version();
	char actions[256] = "", lib[64], self[160];
	char *status = read_all("/proc/self/status", 1u << 20);
	long mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	int prctl_errno = mode < 0 ? errno : 0;
	long filters = status ? status_field(status, "Seccomp_filters") : -1;
	long nnp = status ? status_field(status, "NoNewPrivs") : -1;
	unsigned api = seccomp_api_get();
	bool have_actions =
		read_line("/proc/sys/kernel/seccomp/actions_avail", actions, sizeof(actions)) == 0;

	if (mode < 0 && status)
		mode = status_field(status, "Seccomp");
	free(status);
	snprintf(lib, sizeof(lib), "libseccomp %u.%u.%u", v ? v->major : 0, v ? v->minor : 0,
		 v ? v->micro : 0);
	if (mode == 2)
		snprintf(self, sizeof(self),
			 "this process already runs under %ld filter(s), a container? workers "
			 "stack theirs on top",
			 filters);
	else if (mode == 1)
		snprintf(self, sizeof(self), "this process is in strict mode");
	else
		snprintf(self, sizeof(self), "this process unconfined%s",
			 nnp == 1 ? ", no_new_privs set" : "");
	if (prctl_errno == EINVAL && !have_actions)
		return feature_fill(out, FEATURE_MISSING,
				    "boot a kernel built with CONFIG_SECCOMP_FILTER",
				    "kernel without seccomp (prctl PR_GET_SECCOMP: EINVAL); %s",
				    lib);
	if (!have_actions && api < 1)
		return feature_fill(
			out, FEATURE_MISSING, "boot a kernel built with CONFIG_SECCOMP_FILTER",
			"kernel without seccomp filters (no actions_avail, API level %u); %s", api,
			lib);
	return feature_fill(out, FEATURE_OK, NULL, "filters supported, %s (API level %u); %s", lib,
			    api, self);
}

enum feature_status feature_probe_psi(struct feature_env *env, struct feature *out)
{
	struct feature_env local;
	char path[512], line[256], psi[16], dis[16];
	enum feature_status st;
	int e;

	if (!env) {
		feature_env_init(&local, NULL, NULL);
		env = &local;
	}
	rpath(env, path, sizeof(path), "/proc/pressure/cpu");
	if (read_line(path, line, sizeof(line)) == 0 && line[0]) {
		st = feature_fill(out, FEATURE_OK, NULL, "on; cpu %s", line);
		goto out;
	}
	e = errno;
	if (feature_kconfig(env, "CONFIG_PSI", psi, sizeof(psi)) == 0)
		st = feature_fill(out, FEATURE_WARN,
				  "verifiers fall back to /proc/stat and load average",
				  "kernel built without CONFIG_PSI");
	else if (!strcmp(psi, "y") &&
		 feature_kconfig(env, "CONFIG_PSI_DEFAULT_DISABLED", dis, sizeof(dis)) == 1 &&
		 !strcmp(dis, "y"))
		st = feature_fill(
			out, FEATURE_WARN, "boot with psi=1 on the kernel command line",
			"off: built in but disabled by default (CONFIG_PSI_DEFAULT_DISABLED=y)");
	else
		st = feature_fill(out, FEATURE_WARN, "boot with psi=1 on the kernel command line",
				  "off: /proc/pressure/cpu unreadable (%s)", strerror(e ? e : EIO));
out:
	if (env == &local)
		feature_env_release(&local);
	return st;
}

/* ---- cgroups ------------------------------------------------------------- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* v1 controller names, for telling them from mount options when /proc/cgroups
 * is not there to ask. */
/* clang-format off */
static const char *const v1_known[] = {
	"cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls",
	"perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc", "debug", NULL,
};
/* clang-format on */

static bool is_controller(const struct cgroup_info *ci, const char *opt)
{
	for (size_t i = 0; i < ci->nsubsys; i++)
		if (!strcmp(ci->subsys[i].name, opt))
			return true;
	for (size_t i = 0; v1_known[i]; i++)
		if (!strcmp(v1_known[i], opt))
			return true;
	return false;
}

static void read_proc_cgroups(struct feature_env *env, struct cgroup_info *ci)
{
	char path[512], line[256];
	FILE *f = fopen(rpath(env, path, sizeof(path), "/proc/cgroups"), "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && ci->nsubsys < CGROUP_MAX_SUBSYS) {
		struct cgroup_subsys *s = &ci->subsys[ci->nsubsys];
		int hier, num, en;
		char name[32];

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%31s %d %d %d", name, &hier, &num, &en) != 4)
			continue;
		snprintf(s->name, sizeof(s->name), "%s", name);
		s->hierarchy = hier;
		s->enabled = en != 0;
		ci->nsubsys++;
	}
	fclose(f);
}

/* One mountinfo line: "36 25 0:31 / /sys/fs/cgroup/cpu rw,... shared:1 - cgroup
 * cgroup rw,cpu". */
static void mountinfo_line(struct cgroup_info *ci, char *line)
{
	char *sep = strstr(line, " - "), *save = NULL, *f[6] = { 0 };
	char *fstype, *superopts, *tok;
	size_t n = 0;

	if (!sep)
		return;
	*sep = '\0';
	for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
		f[n++] = tok;
	if (n < 5)
		return;
	save = NULL;
	fstype = strtok_r(sep + 3, " ", &save);
	strtok_r(NULL, " ", &save); /* source */
	superopts = strtok_r(NULL, " \n", &save);
	if (!fstype)
		return;
	unescape(f[4]);
	if (!strcmp(fstype, "cgroup2")) {
		/* Prefer the conventional mount if there are several. */
		if (!ci->v2 || !strcmp(f[4], "/sys/fs/cgroup")) {
			ci->v2 = true;
			snprintf(ci->v2_path, sizeof(ci->v2_path), "%s", f[4]);
		}
		return;
	}
	if (strcmp(fstype, "cgroup") || !superopts || ci->nv1 >= CGROUP_MAX_HIER)
		return;

	char ctl[128] = "";
	save = NULL;
	for (tok = strtok_r(superopts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "name=", 5) && !is_controller(ci, tok))
			continue;
		size_t off = strlen(ctl);
		snprintf(ctl + off, sizeof(ctl) - off, "%s%s", off ? "," : "", tok);
	}
	if (!ctl[0])
		return;
	/* The same hierarchy bind-mounted twice is one hierarchy. */
	for (size_t i = 0; i < ci->nv1; i++)
		if (!strcmp(ci->v1[i].controllers, ctl))
			return;
	snprintf(ci->v1[ci->nv1].controllers, sizeof(ci->v1[0].controllers), "%s", ctl);
	snprintf(ci->v1[ci->nv1].path, sizeof(ci->v1[0].path), "%s", f[4]);
	ci->nv1++;
}

int feature_cgroups(struct feature_env *env, struct cgroup_info *out)
{
	struct feature_env local;
	char path[600], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int rc = 0;

	if (!env) {
		feature_env_init(&local, NULL, NULL);
		env = &local;
	}
	memset(out, 0, sizeof(*out));
	read_proc_cgroups(env, out);
	f = fopen(rpath(env, path, sizeof(path), "/proc/self/mountinfo"), "re");
	if (!f) {
		memset(out, 0, sizeof(*out));
		rc = -1;
		goto out;
	}
	while (getline(&line, &cap, f) > 0)
		mountinfo_line(out, line);
	free(line);
	fclose(f);
	if (out->v2) {
		rpath(env, path, sizeof(path), "%s/cgroup.controllers", out->v2_path);
		if (read_line(path, out->v2_controllers, sizeof(out->v2_controllers)) == 0)
			out->v2_readable = true;
	}
out:
	if (env == &local)
		feature_env_release(&local);
	return rc;
}

/* Is word in a list separated by any of seps? */
static bool in_list(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, seps);
		if (n == wl && !strncmp(p, word, wl))
			return true;
		p += n;
		p += strspn(p, seps);
	}
	return false;
}

enum cgroup_where cgroup_controller_where(const struct cgroup_info *ci, const char *name,
					  const char **path)
{
	const char *v1name = !strcmp(name, "io") ? "blkio" : name;

	if (ci->v2 && ci->v2_readable && in_list(ci->v2_controllers, name, " \t")) {
		if (path)
			*path = ci->v2_path;
		return CGROUP_V2;
	}
	for (size_t i = 0; i < ci->nv1; i++) {
		if (in_list(ci->v1[i].controllers, v1name, ",")) {
			if (path)
				*path = ci->v1[i].path;
			return CGROUP_V1;
		}
	}
	return CGROUP_NOWHERE;
}

/* Append s to buf (at *off), separated by sep. */
static void append(char *buf, size_t size, const char *sep, const char *s)
{
	size_t off = strlen(buf);

	if (off + 1 < size)
		snprintf(buf + off, size - off, "%s%s", off ? sep : "", s);
}

static bool v1_has_controllers(const struct cgroup_info *ci)
{
	for (size_t i = 0; i < ci->nv1; i++)
		if (strncmp(ci->v1[i].controllers, "name=", 5))
			return true;
	return false;
}

enum feature_status feature_probe_cgroup_v1(const struct cgroup_info *ci, struct feature *out)
{
	char names[256] = "", where[256] = "", unmounted[192] = "", v2[192] = "", parent[256] = "";
	bool same_parent = true;

	if (!ci->nv1) {
		if (ci->v2 && ci->v2_controllers[0])
			return feature_fill(out, FEATURE_OK, NULL, "not mounted (cgroup v2 only)");
		return feature_fill(out, FEATURE_WARN, NULL, "not mounted");
	}
	for (size_t i = 0; i < ci->nv1; i++) {
		const char *slash = strrchr(ci->v1[i].path, '/');
		char dir[256];

		snprintf(dir, sizeof(dir), "%.*s",
			 (int)(slash && slash != ci->v1[i].path ? slash - ci->v1[i].path : 1),
			 ci->v1[i].path);
		if (i == 0)
			snprintf(parent, sizeof(parent), "%s", dir);
		else if (strcmp(parent, dir))
			same_parent = false;
		append(names, sizeof(names), " ", ci->v1[i].controllers);
		char one[300];
		snprintf(one, sizeof(one), "%s at %s", ci->v1[i].controllers, ci->v1[i].path);
		append(where, sizeof(where), "; ", one);
	}
	/* Enabled controllers on no v1 hierarchy: v2's, or nobody's. */
	for (size_t i = 0; i < ci->nsubsys; i++) {
		const struct cgroup_subsys *s = &ci->subsys[i];

		if (!s->enabled || s->hierarchy != 0)
			continue;
		if (ci->v2_readable && in_list(ci->v2_controllers, s->name, " \t"))
			append(v2, sizeof(v2), " ", s->name);
		else
			append(unmounted, sizeof(unmounted), " ", s->name);
	}
	return feature_fill(out, FEATURE_OK, NULL, "%s%s%s%s%s%s%s", same_parent ? names : where,
			    same_parent ? " under " : "", same_parent ? parent : "",
			    v2[0] ? "; on v2: " : "", v2, unmounted[0] ? "; unused: " : "",
			    unmounted);
}

enum feature_status feature_probe_cgroup_v2(const struct cgroup_info *ci, struct feature *out)
{
	const char *layout = v1_has_controllers(ci) ? "hybrid, " : "";
	static const char *const key[] = { "cpu", "memory", "io", "pids", NULL };
	char v1side[96] = "";

	if (!ci->v2) {
		if (v1_has_controllers(ci))
			return feature_fill(out, FEATURE_WARN,
					    "nothing to do (v1 works); for v2, boot with "
					    "systemd.unified_cgroup_hierarchy=1",
					    "not mounted (cgroup v1 only)");
		return feature_fill(out, FEATURE_MISSING, "mount -t cgroup2 none /sys/fs/cgroup",
				    "no cgroup file system mounted");
	}
	if (!ci->v2_readable)
		return feature_fill(out, FEATURE_WARN, NULL,
				    "at %s (%scgroup.controllers unreadable)", ci->v2_path, layout);
	for (size_t i = 0; key[i]; i++)
		if (cgroup_controller_where(ci, key[i], NULL) == CGROUP_V1)
			append(v1side, sizeof(v1side), ", ", key[i]);
	if (!ci->v2_controllers[0] && !v1side[0])
		return feature_fill(
			out, FEATURE_MISSING,
			"check /proc/cgroups and cgroup_disable= on the kernel command line",
			"at %s (%sno controllers, none on v1 either)", ci->v2_path, layout);
	if (!ci->v2_controllers[0])
		return feature_fill(out, FEATURE_WARN,
				    "nothing to do: drills use the v1 controllers",
				    "at %s (%sno controllers; on v1: %s)", ci->v2_path, layout,
				    v1side);
	if (v1side[0])
		return feature_fill(out, FEATURE_WARN,
				    "nothing to do: drills use the v1 controllers",
				    "at %s (%scontrollers: %s; on v1: %s)", ci->v2_path, layout,
				    ci->v2_controllers, v1side);
	return feature_fill(out, FEATURE_OK, NULL, "at %s (%scontrollers: %s)", ci->v2_path, layout,
			    ci->v2_controllers);
}

enum feature_status feature_probe_cgroup_controllers(const struct cgroup_info *ci,
						     struct feature *out)
{
	static const char *const key[] = { "cpu", "memory", "io", "pids", NULL };
	static const char *const where_name[] = { "none", "v1", "v2" };
	char detail[256] = "", none[64] = "";
	bool cpu_mem = true;

	for (size_t i = 0; key[i]; i++) {
		char one[64];
		enum cgroup_where w = cgroup_controller_where(ci, key[i], NULL);

		snprintf(one, sizeof(one), "%s %s", key[i], where_name[w]);
		append(detail, sizeof(detail), ", ", one);
		if (w == CGROUP_NOWHERE) {
			append(none, sizeof(none), " ", key[i]);
			if (i < 2)
				cpu_mem = false;
		}
	}
	if (!none[0])
		return feature_fill(out, FEATURE_OK, NULL, "%s", detail);
	return feature_fill(
		out, cpu_mem ? FEATURE_OK : FEATURE_WARN,
		cpu_mem ? NULL : "enable the cpu and memory controllers (cgroup_enable=memory)",
		"%s (not available: %s)", detail, none);
}

/* ---- tools --------------------------------------------------------------- */

const struct feature_tool feature_tools[] = {
	{ "ps", "procps", "process drills" },
	{ "ip", "iproute2", "the lab's namespace and veth pair" },
	{ "tc", "iproute2", "network drills: qdiscs" },
	{ "ss", "iproute2", "socket drills" },
	{ "dig", "bind9-dnsutils", "DNS drills" },
	{ "openssl", "openssl", "certificate drills" },
	{ "curl", "curl", "checks against lab services" },
	{ "lsof", "lsof", "file and socket drills" },
	{ "stress-ng", "stress-ng", "load in tests and benchmarks" },
	{ "modprobe", "kmod", "loading sch_netem" },
	{ NULL, NULL, NULL },
};

static bool executable(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int feature_which(const char *name, char *buf, size_t size)
{
	static const char *const sbin[] = { "/usr/local/sbin", "/usr/sbin", "/sbin", NULL };
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		snprintf(buf, size, "%s", name);
		return executable(name) ? 0 : -1;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n) {
			snprintf(buf, size, "%.*s/%s", (int)n, p, name);
			if (executable(buf))
				return 0;
		}
		p += n;
		if (*p)
			p++;
	}
	for (size_t i = 0; sbin[i]; i++) {
		snprintf(buf, size, "%s/%s", sbin[i], name);
		if (executable(buf))
			return 1;
	}
	buf[0] = '\0';
	return -1;
}

enum feature_status feature_probe_tool(const struct feature_tool *t, struct feature *out)
{
	char path[512], remedy[sizeof(out->remedy)];
	int rc = feature_which(t->name, path, sizeof(path));

	if (rc == 0)
		return feature_fill(out, FEATURE_OK, NULL, "%s", path);
	if (rc == 1) {
		snprintf(remedy, sizeof(remedy), "add %.*s to PATH",
			 (int)(strrchr(path, '/') - path), path);
		return feature_fill(out, FEATURE_WARN, remedy, "%s, not on PATH; needed for %s",
				    path, t->used_for);
	}
	snprintf(remedy, sizeof(remedy), "apt-get install %s", t->package);
	return feature_fill(out, FEATURE_MISSING, remedy, "not found; needed for %s", t->used_for);
}

/* ---- kubernetes ---------------------------------------------------------- */

/* "Client Version: v1.32.4" (kubectl >= 1.28) or the older
 * "Client Version: version.Info{...GitVersion:\"v1.24.0\"...}". */
static void kubectl_version(const char *text, char *buf, size_t size)
{
	const char *p = strstr(text, "Client Version:");
	const char *g;

	buf[0] = '\0';
	if (!p)
		return;
	p += strlen("Client Version:");
	while (*p == ' ')
		p++;
	g = strstr(p, "GitVersion:\"");
	if (!strncmp(p, "version.Info{", 13) && g) {
		g += strlen("GitVersion:\"");
		snprintf(buf, size, "%.*s", (int)strcspn(g, "\""), g);
		return;
	}
	snprintf(buf, size, "%.*s", (int)strcspn(p, " \n"), p);
}

enum feature_status feature_probe_kubectl(struct feature *out)
{
	char path[512], ver[64], line[160];
	char *text = NULL;
	int rc;

	if (feature_which("kubectl", path, sizeof(path)) < 0)
		return feature_fill(
			out, FEATURE_MISSING,
			"install kubectl for the Kubernetes drills (k3s ships it; kind and "
			"minikube need it)",
			"not found on PATH");
	const char *argv[] = { path, "version", "--client", NULL };
	rc = run_capture(argv, 5000, 16384, &text);
	kubectl_version(text ? text : "", ver, sizeof(ver));
	first_line(text, line, sizeof(line));
	free(text);
	if (rc == RUN_TIMEOUT)
		return feature_fill(out, FEATURE_WARN,
				    "check that kubectl runs: kubectl version --client",
				    "%s: 'version --client' timed out after 5 s", path);
	if (rc != 0 || !ver[0])
		return feature_fill(out, FEATURE_WARN,
				    "check that kubectl runs: kubectl version --client",
				    "%s: 'version --client' failed (%s)", path,
				    line[0] ? line : "no output");
	return feature_fill(out, FEATURE_OK, NULL, "%s (%s)", ver, path);
}

enum feature_status feature_probe_kube_context(struct feature *out)
{
	char path[512], line[160];
	char *text = NULL;
	int rc;

	if (feature_which("kubectl", path, sizeof(path)) < 0)
		return feature_fill(out, FEATURE_WARN, NULL, "not checked: no kubectl");
	const char *argv[] = { path, "config", "current-context", NULL };
	rc = run_capture(argv, 3000, 4096, &text);
	first_line(text, line, sizeof(line));
	free(text);
	if (rc == RUN_TIMEOUT)
		return feature_fill(out, FEATURE_WARN, "check ~/.kube/config and $KUBECONFIG",
				    "'kubectl config current-context' timed out after 3 s");
	if (rc == 0 && line[0])
		return feature_fill(out, FEATURE_OK, NULL, "%s", line);
	return feature_fill(
		out, FEATURE_WARN,
		"start a cluster (kind create cluster, k3s, minikube start) or kubectl config "
		"use-context NAME",
		"no current context (%s)", line[0] ? line : "kubectl printed nothing");
}
