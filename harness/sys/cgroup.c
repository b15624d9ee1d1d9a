/* Memory cgroups of ours: find where they can be made, make, limit, join,
 * count OOM kills, and remove them again (v1 and v2). */
#include "sys/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys/proc.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* v1 reports "no limit" as LONG_MAX rounded down to a page; anything this
 * large is no limit in practice. */
#define MEMCG_V1_UNLIMITED_FROM (1ULL << 62)
/* memcg_remove(): how long the members may take to die and the kernel to
 * let go of the directory. */
#define MEMCG_REMOVE_TRIES 50
#define MEMCG_REMOVE_PAUSE_MS 100

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *version_name(enum cgroup_where v)
{
	return v == CGROUP_V2 ? "v2" : v == CGROUP_V1 ? "v1" : "none";
}

/* dir/file into buf; -1 when it does not fit. */
static int join_path(char *buf, size_t size, const char *dir, const char *file)
{
	int n = snprintf(buf, size, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Read a small file into buf (NUL-terminated). 0, or -1 with errno. */
static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return -1;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return 0;
}

/* Write text to a control file in one write(), as the kernel wants it. 0, or
 * -1 with errno (the kernel's refusal comes back from write or close). */
static int write_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int cg_file(const struct memcg *cg, const char *file, char *buf, size_t size,
		   struct cl_error *err)
{
	if (join_path(buf, size, cg->path, file))
		return cl_error_set(err, CL_EXIT_USAGE, "cgroup path '%s' is too long", cg->path);
	return 0;
}

/* Is word one of the space-separated words of list? */
static bool has_word(const char *list, const char *word, const char *seps)
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

int memcg_root_find(enum cgroup_where prefer, enum cgroup_where *version, char *root, size_t size,
		    char *why, size_t why_size)
{
	struct cgroup_info ci;
	char path[600], text[256];
	const char *found = NULL;
	enum cgroup_where v = CGROUP_NOWHERE;
	char v2_note[300] = "";

	if (feature_cgroups(NULL, &ci) < 0) {
		snprintf(why, why_size,
			 "cannot read /proc/self/mountinfo to find the cgroup mounts");
		return -1;
	}
	if (prefer != CGROUP_V1 && ci.v2) {
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", ci.v2_path);
		if (read_text(path, text, sizeof(text)) == 0 && has_word(text, "memory", " \t\n")) {
			found = ci.v2_path;
			v = CGROUP_V2;
		} else if (ci.v2_readable && has_word(ci.v2_controllers, "memory", " \t\n")) {
			snprintf(v2_note, sizeof(v2_note),
				 "memory is available in %s but not enabled in its "
				 "cgroup.subtree_control",
				 ci.v2_path);
		} else {
			snprintf(v2_note, sizeof(v2_note),
				 "the cgroup2 mount %s does not offer the memory controller%s",
				 ci.v2_path,
				 ci.v2_readable && !ci.v2_controllers[0] ?
					 " (it has no controllers)" :
					 "");
		}
	} else if (prefer == CGROUP_V2) {
		snprintf(v2_note, sizeof(v2_note), "no cgroup2 file system is mounted");
	}
	if (!found && prefer != CGROUP_V2) {
		for (size_t i = 0; i < ci.nv1; i++) {
			if (has_word(ci.v1[i].controllers, "memory", ",")) {
				found = ci.v1[i].path;
				v = CGROUP_V1;
				break;
			}
		}
	}
	if (!found) {
		if (prefer == CGROUP_V2)
			snprintf(why, why_size, "no cgroup v2 memory controller: %s", v2_note);
		else if (prefer == CGROUP_V1)
			snprintf(why, why_size,
				 "no cgroup v1 hierarchy carries the memory controller");
		else
			snprintf(why, why_size,
				 "the memory controller is in no cgroup hierarchy%s%s (boot with "
				 "cgroup_enable=memory, or enable it in the cgroup2 root)",
				 v2_note[0] ? ": " : "", v2_note);
		return -1;
	}
	if (access(found, W_OK) < 0) {
		snprintf(why, why_size, "cannot create cgroups in %s: %s (run as root)", found,
			 strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(root, size, "%s", found) >= size) {
		snprintf(why, why_size, "cgroup mount path '%s' is too long", found);
		return -1;
	}
	*version = v;
	return 0;
}

int memcg_name(char *buf, size_t size, const char *run_id, const char *step)
{
	int n = snprintf(buf, size, "%s%s-%s", MEMCG_PREFIX, run_id ? run_id : "",
			 step ? step : "");

	if (n < 0 || (size_t)n >= size || n > NAME_MAX) {
		if (size)
			buf[0] = '\0';
		return -1;
	}
	for (char *p = buf + strlen(MEMCG_PREFIX); *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';

		if (!ok)
			*p = '_';
	}
	return 0;
}

int memcg_create(const struct memcg *cg, struct cl_error *err)
{
	const char *noswap = cg->version == CGROUP_V2 ? "memory.swap.max" : "memory.swappiness";
	char path[600];

	if (cg->version != CGROUP_V1 && cg->version != CGROUP_V2)
		return cl_error_set(err, CL_EXIT_USAGE, "cgroup '%s': unknown cgroup version",
				    cg->path);
	if (cg_file(cg, noswap, path, sizeof(path), err))
		return -1;
	if (mkdir(cg->path, 0755) < 0)
		return cl_error_errno(
			err, errno == EACCES || errno == EPERM ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
			errno, "unable to create cgroup '%s'", cg->path);
	if (write_text(path, "0") < 0 && errno != ENOENT) {
		int e = errno;

		rmdir(cg->path);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to write 0 to '%s'", path);
	}
	return 0;
}

int memcg_limit_set(const struct memcg *cg, unsigned long long bytes, struct cl_error *err)
{
	const char *file = cg->version == CGROUP_V2 ? "memory.max" : "memory.limit_in_bytes";
	char path[600], text[32];

	if (cg_file(cg, file, path, sizeof(path), err))
		return -1;
	if (bytes == MEMCG_UNLIMITED)
		snprintf(text, sizeof(text), "%s", cg->version == CGROUP_V2 ? "max" : "-1");
	else
		snprintf(text, sizeof(text), "%llu", bytes);
	if (write_text(path, text) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to write %s to '%s'", text,
				      path);
	return 0;
}

int memcg_parse_limit(const char *text, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	while (*text == ' ' || *text == '\t')
		text++;
	if (!strncmp(text, "max", 3) && (!text[3] || text[3] == '\n')) {
		*out = MEMCG_UNLIMITED;
		return 0;
	}
	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || (*end && *end != '\n'))
		return -1;
	*out = v >= MEMCG_V1_UNLIMITED_FROM ? MEMCG_UNLIMITED : v;
	return 0;
}

/* Read one number file (limit or usage) of cg. */
static int read_number(const struct memcg *cg, const char *file, unsigned long long *out,
		       struct cl_error *err)
{
	char path[600], text[64];

	if (cg_file(cg, file, path, sizeof(path), err))
		return -1;
	if (read_text(path, text, sizeof(text)) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read '%s'", path);
	if (memcg_parse_limit(text, out) < 0)
		return cl_error_set(err, CL_EXIT_USAGE, "'%s' holds '%.20s', not a byte count",
				    path, text);
	return 0;
}

int memcg_limit_get(const struct memcg *cg, unsigned long long *bytes, struct cl_error *err)
{
	return read_number(cg, cg->version == CGROUP_V2 ? "memory.max" : "memory.limit_in_bytes",
			   bytes, err);
}

int memcg_usage(const struct memcg *cg, unsigned long long *bytes, struct cl_error *err)
{
	return read_number(cg,
			   cg->version == CGROUP_V2 ? "memory.current" : "memory.usage_in_bytes",
			   bytes, err);
}

int memcg_parse_oom_kill(const char *text, unsigned long long *out)
{
	for (const char *line = text; line && *line;) {
		unsigned long long v;

		if (!strncmp(line, "oom_kill ", 9) && sscanf(line + 9, "%llu", &v) == 1) {
			*out = v;
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

int memcg_oom_kills(const struct memcg *cg, unsigned long long *kills, struct cl_error *err)
{
	const char *file = cg->version == CGROUP_V2 ? "memory.events" : "memory.oom_control";
	char path[600], text[1024];

	if (cg_file(cg, file, path, sizeof(path), err))
		return -1;
	if (read_text(path, text, sizeof(text)) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read '%s'", path);
	if (memcg_parse_oom_kill(text, kills) < 0)
		return cl_error_set(err, CL_EXIT_PRIVILEGE,
				    "'%s' has no oom_kill count (it needs Linux 4.13 or later)",
				    path);
	return 0;
}

int memcg_move(const struct memcg *cg, pid_t pid, struct cl_error *err)
{
	char path[600], text[32];

	if (cg_file(cg, "cgroup.procs", path, sizeof(path), err))
		return -1;
	snprintf(text, sizeof(text), "%d", (int)pid);
	if (write_text(path, text) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to move pid %d into '%s'",
				      (int)pid, cg->path);
	return 0;
}

long memcg_procs(const struct memcg *cg, pid_t *pids, size_t cap, struct cl_error *err)
{
	char path[600];
	FILE *f;
	long n = 0;
	int pid;

	if (cg_file(cg, "cgroup.procs", path, sizeof(path), err))
		return -1;
	f = fopen(path, "re");
	if (!f) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read '%s'", path);
		return -1;
	}
	while (fscanf(f, "%d", &pid) == 1) {
		if (pids && (size_t)n < cap)
			pids[n] = (pid_t)pid;
		n++;
	}
	fclose(f);
	return n;
}

enum cgroup_where memcg_fs_version(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return CGROUP_NOWHERE;
	if ((unsigned long)sf.f_type == (unsigned long)CGROUP2_SUPER_MAGIC)
		return CGROUP_V2;
	if ((unsigned long)sf.f_type == (unsigned long)CGROUP_SUPER_MAGIC)
		return CGROUP_V1;
	return CGROUP_NOWHERE;
}

/* The parent directory of path into buf ("" when path has no '/'). */
static void parent_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= size)
		n = size - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
}

int memcg_check_ours(const struct memcg *cg, const char *expected_name, char *why, size_t size)
{
	const char *base = strrchr(cg->path, '/');
	char parent[512], grand[512];
	struct stat st, pst, gst;

	base = base ? base + 1 : cg->path;
	if (!expected_name || strncmp(expected_name, MEMCG_PREFIX, strlen(MEMCG_PREFIX)) ||
	    !expected_name[strlen(MEMCG_PREFIX)] || strchr(expected_name, '/')) {
		snprintf(why, size, "'%s' is not a name chaoslab gives its cgroups",
			 expected_name ? expected_name : "");
		return -1;
	}
	if (strcmp(base, expected_name)) {
		snprintf(why, size, "'%s' is not the cgroup this step made (%s)", cg->path,
			 expected_name);
		return -1;
	}
	if (lstat(cg->path, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, size, "cannot examine '%s': %s", cg->path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "'%s' is not a directory", cg->path);
		return -1;
	}
	if (memcg_fs_version(cg->path) != cg->version || cg->version == CGROUP_NOWHERE) {
		snprintf(why, size, "'%s' is not in a cgroup %s file system", cg->path,
			 version_name(cg->version));
		return -1;
	}
	/* The parent is the hierarchy's root: the grandparent is another file
	 * system (every cgroup of one hierarchy shares the device). */
	parent_of(cg->path, parent, sizeof(parent));
	parent_of(parent, grand, sizeof(grand));
	if (!parent[0] || stat(parent, &pst) < 0 || stat(grand[0] ? grand : "/", &gst) < 0 ||
	    pst.st_dev != st.st_dev || gst.st_dev == st.st_dev) {
		snprintf(why, size, "'%s' is not directly under the root of its cgroup hierarchy",
			 cg->path);
		return -1;
	}
	return 0;
}

/* Is pid ours: does it carry CHAOSLAB_OWNER=owner? */
static bool carries_owner(pid_t pid, const char *owner)
{
	char tag[512];

	return owner && owner[0] &&
	       proc_environ_get(pid, "CHAOSLAB_OWNER", tag, sizeof(tag)) == 0 &&
	       !strcmp(tag, owner);
}

/* SIGKILL pid through a pidfd opened before the owner check, so a recycled
 * pid is never hit. 1 when signalled, 0 when not ours or gone. */
static int kill_if_owner(pid_t pid, const char *owner)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	int hit = 0;

	if (fd < 0)
		return 0;
	if (carries_owner(pid, owner) && syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0)
		hit = 1;
	close(fd);
	return hit;
}

int memcg_remove(const struct memcg *cg, const char *expected_name, const char *owner, int *killed,
		 int *migrated, bool *removed, struct cl_error *err)
{
	struct memcg parent = { .version = cg->version };
	pid_t pids[256], seen_kill[256];
	size_t nseen = 0;
	char why[512];
	int k = 0, m = 0, r, last_errno = 0;
	long n = 0;

	if (killed)
		*killed = 0;
	if (migrated)
		*migrated = 0;
	if (removed)
		*removed = false;
	r = memcg_check_ours(cg, expected_name, why, sizeof(why));
	if (r == 1)
		return 0;
	if (r < 0)
		return cl_error_set(err, CL_EXIT_REVERT, "left cgroup alone: %s", why);
	parent_of(cg->path, parent.path, sizeof(parent.path));

	for (int tries = 0; tries < MEMCG_REMOVE_TRIES; tries++) {
		struct cl_error e;

		cl_error_clear(&e);
		n = memcg_procs(cg, pids, sizeof(pids) / sizeof(pids[0]), &e);
		if (n < 0 && e.errnum == ENOENT)
			goto gone;
		if (n < 0) {
			*err = e;
			err->code = CL_EXIT_REVERT;
			goto out;
		}
		if (n == 0) {
			if (rmdir(cg->path) == 0) {
				if (removed)
					*removed = true;
				goto gone;
			}
			if (errno == ENOENT)
				goto gone;
			last_errno = errno;
			if (errno != EBUSY && errno != EAGAIN) {
				cl_error_errno(err, CL_EXIT_REVERT, errno,
					       "unable to remove cgroup '%s'", cg->path);
				goto out;
			}
		}
		for (long i = 0; i < n && (size_t)i < sizeof(pids) / sizeof(pids[0]); i++) {
			bool again = false;

			for (size_t s = 0; s < nseen; s++)
				again = again || seen_kill[s] == pids[i];
			if (again)
				continue; /* killed already, on its way out */
			if (kill_if_owner(pids[i], owner)) {
				k++;
				if (nseen < sizeof(seen_kill) / sizeof(seen_kill[0]))
					seen_kill[nseen++] = pids[i];
				continue;
			}
			/* Not ours: it goes back to the parent, alive. A zombie or
			 * a process that exited meanwhile cannot move: fine. */
			if (memcg_move(&parent, pids[i], &e) == 0)
				m++;
		}
		sleep_ms(MEMCG_REMOVE_PAUSE_MS);
	}
	if (n > 0)
		cl_error_set(err, CL_EXIT_REVERT,
			     "cgroup '%s' still holds %ld process%s after %d ms", cg->path, n,
			     n == 1 ? "" : "es", MEMCG_REMOVE_TRIES * MEMCG_REMOVE_PAUSE_MS);
	else
		cl_error_errno(err, CL_EXIT_REVERT, last_errno ? last_errno : EBUSY,
			       "unable to remove cgroup '%s'", cg->path);
out:
	if (killed)
		*killed = k;
	if (migrated)
		*migrated = m;
	return -1;
gone:
	if (killed)
		*killed = k;
	if (migrated)
		*migrated = m;
	return 0;
}

cJSON *memcg_to_json(const struct memcg *cg)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "path", cg->path) ||
	    !cJSON_AddNumberToObject(o, "version", cg->version == CGROUP_V2 ? 2 : 1)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int memcg_from_json(const cJSON *j, struct memcg *out)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "path");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsString(p) || !p->valuestring[0] || p->valuestring[0] != '/' ||
	    strlen(p->valuestring) >= sizeof(out->path) || !cJSON_IsNumber(v) ||
	    (v->valueint != 1 && v->valueint != 2))
		return -1;
	snprintf(out->path, sizeof(out->path), "%s", p->valuestring);
	out->version = v->valueint == 2 ? CGROUP_V2 : CGROUP_V1;
	return 0;
}

const char *memcg_bytes_text(unsigned long long bytes, char *buf, size_t size)
{
	const unsigned long long mib = 1ULL << 20, gib = 1ULL << 30;

	if (bytes == MEMCG_UNLIMITED)
		snprintf(buf, size, "unlimited");
	else if (bytes >= gib)
		snprintf(buf, size, "%.1f GiB", (double)bytes / (double)gib);
	else if (bytes >= mib)
		snprintf(buf, size, "%llu MiB", (bytes + mib / 2) / mib);
	else
		snprintf(buf, size, "%llu KiB", (bytes + 512) / 1024);
	return buf;
}
