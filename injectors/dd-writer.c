/* dd-writer: write to the lab volume: a busy disk, a full disk, or a deleted
 * file still held open.
 *
 * Each step makes its own lab volume (harness/lab/volume.h): a loop-mounted
 * ext4 image of volume_mib MiB in STATE/lab/STEP.img mounted at STATE/lab/STEP,
 * or a tmpfs of that size where loop devices are unavailable. Nothing is
 * written anywhere else: `path` must resolve inside the volume, or the step
 * is refused ("fill target ... outside the lab volume").
 *
 * One worker named `name` does the writing, in one of three modes:
 *   throughput    sustained writes of mib_per_second, paced against the
 *                 clock, each chunk followed by fsync (sync: fsync), or
 *                 written with O_DIRECT (sync: direct), or left to the page
 *                 cache (sync: none). The file is rewritten from its start
 *                 once it reaches file_mib, so it stays bounded. Shows as
 *                 iowait, a busy loop device (iostat), and the worker's
 *                 write_bytes in /proc/PID/io (pidstat -d, iotop).
 *   fill          writes one file until df shows `percent` use (100: until
 *                 the volume is full), closes it and idles: the file is the
 *                 culprit, removing it is the fix.
 *   deleted_open  the same, then unlinks the file and keeps it open, writing
 *                 a line to it every second: df says full while du does not.
 *                 lsof +L1 finds the holder; stopping it frees the space, and
 *                 so does SIGHUP, on which it reopens a fresh log at the same
 *                 path like a daemon asked to reopen its logs.
 * Workers lock down (no capabilities, no_new_privs, a seccomp allow-list)
 * once their file is open.
 *
 * Undo data: {"owner": tag, "workers": [identity], "volume": {...see
 * volume.h...}, "file": the absolute path written}. Revert stops the workers
 * (owner tag, or pid + start time), removes the file and tears the volume
 * down (unmount, detach the loop device, remove the image). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "lab/volume.h"
#include "sys/features.h"
#include "sys/worker.h"

#define MIB (1024LL * 1024LL)
#define DD_ALIGN 4096		 /* O_DIRECT buffers, offsets and sizes */
#define DD_CHUNK_MIN (64 * 1024) /* throughput chunk bounds */
#define DD_CHUNK_MAX (1024 * 1024)
#define DD_CHUNKS_PER_SECOND 20 /* throughput: chunk = rate / this */
#define DD_FILL_CHUNK (1024 * 1024)
#define DD_MAX_DEBT_S 1.0 /* a writer that fell behind catches up at most this much */
#define DD_REVERT_GRACE_MS 1000
#define DD_DEFAULT_RATE 20.0
#define DD_DEFAULT_FILE_MIB 64
#define DD_DEFAULT_PERCENT 100
#define DD_DEFAULT_VOLUME_MIB 256
#define DD_FILL_STALL_S 2.0 /* mib: no growth this long = the volume is full */
#define DD_FILL_TIMEOUT_S 120

static const char *const dd_modes[] = { "throughput", "fill", "deleted_open", NULL };
static const char *const dd_syncs[] = { "fsync", "direct", "none", NULL };
static const char *const dd_backends[] = { "auto", "loop", "tmpfs", NULL };

static const struct param_spec dd_writer_params[] = {
	{ "mode", PARAM_ENUM, false, "throughput", 0, 0, dd_modes,
	  "throughput: sustained paced writes; fill: fill the lab volume to percent; "
	  "deleted_open: fill it with a file, delete the file and keep it open" },
	{ "mib_per_second", PARAM_NUMBER, false, "20", 0.1, 500, NULL,
	  "throughput: write rate in MiB/s, paced against the clock" },
	{ "sync", PARAM_ENUM, false, "fsync", 0, 0, dd_syncs,
	  "throughput: fsync after every chunk, O_DIRECT writes (direct), or page cache only (none)" },
	{ "file_mib", PARAM_INT, false, "64", 1, 12288, NULL,
	  "throughput: the file is rewritten from its start once it is this big" },
	{ "disk_mib_per_second", PARAM_NUMBER, false, "0", 0, 10000, NULL,
	  "throughput: make the lab volume a slow disk of this many MiB/s (the kernel's block "
	  "throttling of the writer's cgroup: blkio on cgroup v1, io.max on v2); 0 = as fast "
	  "as the host's disk. Below mib_per_second the writer waits on the disk: iowait" },
	{ "percent", PARAM_INT, false, "100", 1, 100, NULL,
	  "fill, deleted_open: write until df shows this use of the volume (100: until full)" },
	{ "mib", PARAM_INT, false, NULL, 1, LAB_VOLUME_MAX_MIB, NULL,
	  "fill: write this many MiB (or until full) instead of filling to percent; the step "
	  "waits until they are written, so a later step fills what is left" },
	{ "path", PARAM_STRING, false, NULL, 1, 1024, NULL,
	  "the file written, relative to the lab volume's root or absolute inside it "
	  "(default NAME.dat); anything outside the volume is refused" },
	{ "name", PARAM_STRING, false, "ddwriter", 0, 15, NULL,
	  "process name ps, top and pkill -x see (at most 15 characters)" },
	{ "volume_mib", PARAM_INT, false, "256", LAB_VOLUME_MIN_MIB, LAB_VOLUME_MAX_MIB, NULL,
	  "size of the step's lab volume, STATE/lab/STEP" },
	{ "volume", PARAM_STRING, false, NULL, 1, 32, NULL,
	  "write on the lab volume an earlier dd-writer step (this id) made, instead of making "
	  "one; that step alone tears it down" },
	{ "backend", PARAM_ENUM, false, "auto", 0, 0, dd_backends,
	  "lab volume kind: a loop-mounted ext4 image, a tmpfs, or auto (loop when loop "
	  "devices work, else tmpfs)" },
	{ NULL },
};

enum dd_mode { DD_THROUGHPUT, DD_FILL, DD_DELETED_OPEN };

static enum dd_mode mode_of(const char *s)
{
	if (s && !strcmp(s, "fill"))
		return DD_FILL;
	if (s && !strcmp(s, "deleted_open"))
		return DD_DELETED_OPEN;
	return DD_THROUGHPUT;
}

/* ---- the worker body --------------------------------------------------------- */

static volatile sig_atomic_t got_hup;

static void on_hup(int sig)
{
	got_hup = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t,
			       .tv_nsec = (long)((t - (double)(time_t)t) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		if (got_hup)
			break;
}

static const char *args_str(const cJSON *args, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double args_num(const cJSON *args, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* df's use in percent, rounded up as df rounds it. */
static int used_percent(int fd)
{
	struct statfs sf;
	unsigned long long used, total;

	if (fstatfs(fd, &sf) < 0)
		return -1;
	used = (unsigned long long)(sf.f_blocks - sf.f_bfree);
	total = used + (unsigned long long)sf.f_bavail;
	if (!total)
		return 100;
	return (int)((used * 100 + total - 1) / total);
}

/* Sustained writes at rate bytes/s until killed. */
static void __attribute__((noreturn))
write_paced(int fd, char *buf, size_t chunk, double rate, bool do_fsync, long long file_bytes)
{
	double t0 = now_s(), next, t;
	long long done = 0;
	off_t off = 0;

	for (;;) {
		ssize_t n;

		next = t0 + (double)done / rate;
		if (now_s() < next)
			sleep_until(next);
		n = pwrite(fd, buf, chunk, off);
		if (n < 0) {
			/* Full (someone else filled the volume), or an I/O
			 * error: keep trying, like a real writer would. */
			if (errno != EINTR)
				sleep_until(now_s() + 1.0);
			continue;
		}
		if (do_fsync)
			fsync(fd);
		done += n;
		off += n;
		if (off + (off_t)chunk > file_bytes)
			off = 0;
		/* Fell behind (a saturated disk): do not burst to catch up
		 * more than DD_MAX_DEBT_S of it. */
		t = now_s();
		if (rate * (t - t0) - (double)done > rate * DD_MAX_DEBT_S)
			t0 = t - (double)done / rate - DD_MAX_DEBT_S;
	}
}

/* Write chunks until df shows percent use (100: until ENOSPC), or, when
 * limit > 0, until limit bytes are written. */
static void fill_to(int fd, const char *buf, size_t chunk, int percent, long long limit)
{
	long long done = 0;

	for (;;) {
		ssize_t n;

		if (limit > 0 && done >= limit)
			break;
		if (limit <= 0 && percent < 100) {
			int used = used_percent(fd);

			if (used < 0 || used >= percent)
				break;
		}
		n = write(fd, buf, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* ENOSPC: full */
		}
		done += n;
	}
	fsync(fd);
}

static void __attribute__((noreturn)) idle_forever(void)
{
	for (;;)
		sleep_until(now_s() + 3600.0);
}

/* Hold the unlinked file open; log a line a second; reopen on SIGHUP. */
static void __attribute__((noreturn)) hold_deleted(int fd, const char *path)
{
	static const char line[] = "still logging to a file nobody can see\n";

	for (;;) {
		sleep_until(now_s() + 1.0);
		if (got_hup) {
			int nfd;

			got_hup = 0;
			nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
				   0644);
			if (nfd >= 0) {
				close(fd);
				fd = nfd;
			}
		}
		/* Errors (the volume is full) are what a real logger ignores too. */
		if (write(fd, line, sizeof(line) - 1) < 0)
			continue;
	}
}

/* Worker body. args: {"mode": M, "path": P, "rate": bytes/s, "chunk": bytes,
 * "sync": S, "file_bytes": N, "percent": N, "fill_bytes": N (fill: a size
 * rather than a percent)}. */
static int dd_writer_worker(const cJSON *args)
{
	static const char *const throughput_calls[] = { "pwrite64", "fsync", "fdatasync", NULL };
	static const char *const fill_calls[] = { "fstatfs", "fsync", NULL };
	static const char *const deleted_calls[] = { "fstatfs", "fsync", "unlink", "unlinkat",
						     "openat",	"open",	 NULL };
	enum dd_mode mode = mode_of(args_str(args, "mode"));
	const char *path = args_str(args, "path");
	const char *sync = args_str(args, "sync");
	double rate = args_num(args, "rate", DD_DEFAULT_RATE * MIB);
	size_t chunk = (size_t)args_num(args, "chunk", DD_FILL_CHUNK);
	long long file_bytes = (long long)args_num(args, "file_bytes", DD_DEFAULT_FILE_MIB * MIB);
	int percent = (int)args_num(args, "percent", DD_DEFAULT_PERCENT);
	long long fill_bytes = (long long)args_num(args, "fill_bytes", 0);
	bool direct = mode == DD_THROUGHPUT && sync && !strcmp(sync, "direct");
	int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
	const char *const *calls;
	struct cl_error err;
	char *buf = NULL;
	int fd;

	cl_error_clear(&err);
	if (!path || path[0] != '/' || chunk < DD_ALIGN || chunk > DD_CHUNK_MAX || rate <= 0 ||
	    percent < 1 || percent > 100 || file_bytes < (long long)chunk) {
		cl_error_set(&err, CL_EXIT_USAGE, "dd-writer worker: bad arguments");
		return worker_exit_error(&err);
	}
	chunk -= chunk % DD_ALIGN;
	if (posix_memalign((void **)&buf, DD_ALIGN, chunk)) {
		cl_error_set(&err, CL_EXIT_USAGE, "dd-writer worker: out of memory");
		return worker_exit_error(&err);
	}
	/* Not zeros: nothing on the way may treat the data as a hole. */
	for (size_t i = 0; i < chunk; i++)
		buf[i] = (char)('a' + i % 26);
	if (direct)
		flags |= O_DIRECT;
	fd = open(path, flags, 0644);
	if (fd < 0) {
		cl_error_errno(&err, CL_EXIT_USAGE, errno, "dd-writer worker: open '%s'", path);
		return worker_exit_error(&err);
	}
	if (mode == DD_DELETED_OPEN) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_hup;
		sigaction(SIGHUP, &sa, NULL);
	}
	calls = mode == DD_THROUGHPUT ? throughput_calls :
		mode == DD_FILL	      ? fill_calls :
					deleted_calls;
	if (worker_lockdown(calls, &err))
		return worker_exit_error(&err);

	switch (mode) {
	case DD_THROUGHPUT:
		write_paced(fd, buf, chunk, rate, sync && !strcmp(sync, "fsync"), file_bytes);
	case DD_FILL:
		fill_to(fd, buf, chunk, percent, fill_bytes);
		close(fd);
		idle_forever();
	case DD_DELETED_OPEN:
		fill_to(fd, buf, chunk, percent, 0);
		unlink(path);
		hold_deleted(fd, path);
	}
	return 0;
}

/* ---- the slow disk: block throttling of the writer's cgroup ------------------------ */

#define DD_CG_PREFIX "chaoslab-"
#define DD_CG_MAGIC_V1 0x27e0eb	  /* CGROUP_SUPER_MAGIC */
#define DD_CG_MAGIC_V2 0x63677270 /* CGROUP2_SUPER_MAGIC */
#define DD_CG_RMDIR_TRIES 100	  /* x 20 ms: members being torn down */

/* "chaoslab-RUN-STEP", characters outside [A-Za-z0-9._-] as '_'. */
static void throttle_name(char *buf, size_t size, const char *run_id, const char *step)
{
	snprintf(buf, size, DD_CG_PREFIX "%s-%s", run_id ? run_id : "", step ? step : "");
	for (char *c = buf; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			*c = '_';
}

static int write_text(const char *path, const char *text, struct cl_error *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "dd-writer: open '%s'", path);
	n = write(fd, text, strlen(text));
	if (n < 0) {
		int e = errno;

		close(fd);
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, e, "dd-writer: writing '%s' to '%s'",
				      text, path);
	}
	close(fd);
	return 0;
}

/* The root of the hierarchy carrying the io controller (v1 blkio), into
 * root; *version 1 or 2. -1 with err when there is none usable. */
static int throttle_root(char *root, size_t size, int *version, struct cl_error *err)
{
	struct cgroup_info ci;
	const char *path = NULL;
	enum cgroup_where w;

	if (feature_cgroups(NULL, &ci))
		return cl_error_set(err, CL_EXIT_PRIVILEGE,
				    "dd-writer: cannot read the cgroup mounts");
	w = cgroup_controller_where(&ci, "io", &path);
	if (w == CGROUP_V2) {
		char sc[512], file[600];
		FILE *f;

		snprintf(file, sizeof(file), "%s/cgroup.subtree_control", ci.v2_path);
		f = fopen(file, "re");
		sc[0] = '\0';
		if (f) {
			if (!fgets(sc, sizeof(sc), f))
				sc[0] = '\0';
			fclose(f);
		}
		/* Enabling a controller at the root is the host's business. */
		if (!strstr(sc, "io"))
			return cl_error_set(
				err, CL_EXIT_PRIVILEGE,
				"dd-writer: disk_mib_per_second needs the io controller "
				"enabled in %s (echo +io > it)",
				file);
		snprintf(root, size, "%s", ci.v2_path);
		*version = 2;
		return 0;
	}
	if (w == CGROUP_V1 && path) {
		snprintf(root, size, "%s", path);
		*version = 1;
		return 0;
	}
	return cl_error_set(err, CL_EXIT_PRIVILEGE,
			    "dd-writer: disk_mib_per_second needs the io (v2) or blkio (v1) cgroup "
			    "controller, found in no hierarchy");
}

/* Make the step's cgroup with a write limit of bps on the volume's device and
 * move pid into it. The cgroup's path is journaled before it is made. */
static int throttle_apply(struct inject_ctx *ctx, const struct lab_volume *vol, double bps,
			  pid_t pid, struct cl_error *err)
{
	char root[512], name[300], dir[900], file[1000], text[96], pidtext[24];
	struct stat st;
	cJSON *t;
	int version;

	if (vol->backend != LAB_VOLUME_LOOP || stat(vol->loop, &st) < 0 || !S_ISBLK(st.st_mode))
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"dd-writer: disk_mib_per_second needs a loop-device lab volume");
	if (throttle_root(root, sizeof(root), &version, err))
		return -1;
	throttle_name(name, sizeof(name), ctx->run_id, ctx->step_id);
	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	t = cJSON_CreateObject();
	if (!t || !cJSON_AddStringToObject(t, "cgroup", dir) ||
	    !cJSON_AddNumberToObject(t, "version", version)) {
		cJSON_Delete(t);
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "dd-writer");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "throttle");
	cJSON_AddItemToObject(ctx->undo, "throttle", t);
	if (inject_ctx_save(ctx, err))
		return -1;
	if (mkdir(dir, 0755) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "dd-writer: mkdir '%s'", dir);
	if (version == 1) {
		snprintf(file, sizeof(file), "%s/blkio.throttle.write_bps_device", dir);
		snprintf(text, sizeof(text), "%u:%u %.0f", major(st.st_rdev), minor(st.st_rdev),
			 bps);
	} else {
		snprintf(file, sizeof(file), "%s/io.max", dir);
		snprintf(text, sizeof(text), "%u:%u wbps=%.0f", major(st.st_rdev),
			 minor(st.st_rdev), bps);
	}
	if (write_text(file, text, err))
		return -1;
	snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
	snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
	return write_text(file, pidtext, err);
}

/* Remove the step's cgroup when it is ours: named as this step's, directly
 * in the root of a cgroup file system. Members still in it (not ours: ours
 * were killed) go back to the parent. *removed says whether it was there. */
static int throttle_revert(const cJSON *undo, const char *run_id, const char *step, bool *removed,
			   struct cl_error *err)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(undo, "throttle");
	const cJSON *cg = cJSON_GetObjectItemCaseSensitive(t, "cgroup");
	char path[900], parent[900], expect[300], file[1000];
	struct statfs sf;
	const char *base;
	char *slash;

	*removed = false;
	if (!cJSON_IsString(cg) || strlen(cg->valuestring) >= sizeof(path))
		return 0;
	snprintf(path, sizeof(path), "%s", cg->valuestring);
	base = strrchr(path, '/');
	if (!base || strncmp(base + 1, DD_CG_PREFIX, strlen(DD_CG_PREFIX)))
		return cl_error_set(err, CL_EXIT_REVERT, "dd-writer: '%s' is not a cgroup of ours",
				    path);
	/* Without the run and step (a bare undo), the prefix must do. */
	if (run_id && step) {
		throttle_name(expect, sizeof(expect), run_id, step);
		if (strcmp(base + 1, expect))
			return cl_error_set(err, CL_EXIT_REVERT,
					    "dd-writer: cgroup '%s' is not this step's (%s)", path,
					    expect);
	}
	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (statfs(path, &sf) < 0) {
		if (errno == ENOENT)
			return 0;
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "dd-writer: statfs '%s'", path);
	}
	if ((unsigned long)sf.f_type != DD_CG_MAGIC_V1 &&
	    (unsigned long)sf.f_type != DD_CG_MAGIC_V2)
		return cl_error_set(err, CL_EXIT_REVERT, "dd-writer: '%s' is not a cgroup", path);
	for (int tries = 0; tries < DD_CG_RMDIR_TRIES; tries++) {
		FILE *f;
		char line[32];

		if (rmdir(path) == 0) {
			*removed = true;
			return 0;
		}
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return cl_error_errno(err, CL_EXIT_REVERT, errno, "dd-writer: rmdir '%s'",
					      path);
		/* Someone else's process: hand it back to the parent. */
		snprintf(file, sizeof(file), "%s/cgroup.procs", path);
		f = fopen(file, "re");
		while (f && fgets(line, sizeof(line), f)) {
			char pfile[1000];

			line[strcspn(line, "\n")] = '\0';
			snprintf(pfile, sizeof(pfile), "%s/cgroup.procs", parent);
			write_text(pfile, line, NULL);
		}
		if (f)
			fclose(f);
		struct timespec ts = { 0, 20000000L };
		nanosleep(&ts, NULL);
	}
	return cl_error_set(err, CL_EXIT_REVERT, "dd-writer: cgroup '%s' stayed busy", path);
}

static int dd_writer_supported(const struct params *params, char *why, size_t size)
{
	int b = params ? lab_volume_backend_parse(params_str(params, "backend", "auto")) :
			 LAB_VOLUME_AUTO;

	if (worker_supported(why, size))
		return -1;
	if (params && params_number(params, "disk_mib_per_second", 0) > 0) {
		char root[512];
		int version;
		struct cl_error e;

		cl_error_clear(&e);
		if (throttle_root(root, sizeof(root), &version, &e)) {
			snprintf(why, size, "%s", e.msg);
			return -1;
		}
	}
	return lab_volume_supported(b < 0 ? LAB_VOLUME_AUTO : (enum lab_volume_backend)b, NULL, why,
				    size);
}

/* ---- the injector ---------------------------------------------------------------- */

static bool name_ok(const char *name)
{
	return name && !strpbrk(name, "/ \t\n");
}

static bool given(const struct params *p, const char *name)
{
	const struct param_value *v = params_get(p, name);

	return v && v->given;
}

static int dd_writer_validate(const struct params *p, char *msg, size_t size)
{
	static const char *const throughput_only[] = { "mib_per_second", "sync", "file_mib",
						       "disk_mib_per_second", NULL };
	enum dd_mode mode = mode_of(params_str(p, "mode", "throughput"));
	const char *path = params_str(p, "path", NULL);
	long long vol = params_int(p, "volume_mib", DD_DEFAULT_VOLUME_MIB);
	struct cl_error err;

	if (!name_ok(params_str(p, "name", "ddwriter"))) {
		snprintf(msg, size, "name must not contain '/' or whitespace");
		return -1;
	}
	for (const char *const *k = throughput_only; *k; k++) {
		if (mode != DD_THROUGHPUT && given(p, *k)) {
			snprintf(msg, size, "%s only applies to mode throughput", *k);
			return -1;
		}
	}
	if (given(p, "mib") && mode != DD_FILL) {
		snprintf(msg, size, "mib only applies to mode fill");
		return -1;
	}
	if (given(p, "mib") && given(p, "percent")) {
		snprintf(msg, size, "mib and percent exclude each other: give one");
		return -1;
	}
	if (given(p, "volume") && (given(p, "volume_mib") || given(p, "backend"))) {
		snprintf(
			msg, size,
			"volume_mib and backend describe a volume this step makes: not with volume");
		return -1;
	}
	if (mode == DD_THROUGHPUT && given(p, "percent")) {
		snprintf(msg, size, "percent only applies to modes fill and deleted_open");
		return -1;
	}
	if (mode == DD_THROUGHPUT && params_int(p, "file_mib", DD_DEFAULT_FILE_MIB) * 4 > vol * 3) {
		snprintf(msg, size,
			 "file_mib must fit the lab volume: at most 3/4 of volume_mib "
			 "(%lld MiB)",
			 vol * 3 / 4);
		return -1;
	}
	if (params_number(p, "disk_mib_per_second", 0) > 0 &&
	    !strcmp(params_str(p, "backend", "auto"), "tmpfs")) {
		snprintf(msg, size,
			 "disk_mib_per_second needs a block device: backend loop or auto");
		return -1;
	}
	/* A relative path can be judged now; an absolute one once the state
	 * directory is known (apply). */
	cl_error_clear(&err);
	if (path && path[0] != '/' && lab_volume_path_check("", path, &err)) {
		if (strstr(err.msg, "outside"))
			snprintf(msg, size, "fill target '%s' outside the lab volume", path);
		else
			snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* Wait until the fill worker has written bytes to file, or stopped growing it
 * (the volume is full), so that a later step finds the space it left. */
static int fill_wait(const char *file, long long bytes, const struct proc_ident *id,
		     struct cl_error *err)
{
	double start = now_s(), last_growth = start;
	long long last = -1;

	for (;;) {
		struct stat st;
		struct timespec ts = { 0, 50000000L };

		if (stat(file, &st) == 0) {
			if (st.st_size >= bytes)
				return 0;
			if (st.st_size != last) {
				last = st.st_size;
				last_growth = now_s();
			}
		}
		if (!proc_ident_alive(id))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "dd-writer: the fill worker exited");
		if (last >= 0 && now_s() - last_growth > DD_FILL_STALL_S)
			return 0;
		if (now_s() - start > DD_FILL_TIMEOUT_S)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "dd-writer: %lld MiB not written within %d s",
					    bytes / MIB, DD_FILL_TIMEOUT_S);
		nanosleep(&ts, NULL);
	}
}

static int save_undo(void *arg, struct cl_error *err)
{
	return inject_ctx_save(arg, err);
}

static int dd_writer_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const struct params *p = ctx->params;
	enum dd_mode mode = mode_of(params_str(p, "mode", "throughput"));
	const char *name = params_str(p, "name", "ddwriter");
	const char *path = params_str(p, "path", NULL);
	const char *other = params_str(p, "volume", NULL);
	double rate = params_number(p, "mib_per_second", DD_DEFAULT_RATE) * (double)MIB;
	long long chunk = DD_FILL_CHUNK;
	char owner[256], dir[PATH_MAX], mnt[PATH_MAX], defpath[32], file[PATH_MAX];
	struct lab_volume_opts vo = {
		.name = ctx->step_id,
		.size_mib = (unsigned long long)params_int(p, "volume_mib", DD_DEFAULT_VOLUME_MIB),
		.backend = (enum lab_volume_backend)lab_volume_backend_parse(
			params_str(p, "backend", "auto")),
	};
	struct worker_spec spec = { .kind = "dd-writer", .name = name, .owner = owner };
	struct lab_volume vol;
	struct proc_ident id;
	cJSON *args = NULL;
	int rc = -1;

	worker_owner_tag(owner, sizeof(owner), ctx->run_id, ctx->step_id);
	if (worker_undo_init(ctx->undo, owner, err) || inject_ctx_save(ctx, err))
		return -1;
	if (!path) {
		snprintf(defpath, sizeof(defpath), "%s.dat", name);
		path = defpath;
	}
	/* Refuse a target outside the volume before making anything. */
	if (!realpath(ctx->state_dir, dir))
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "dd-writer: state directory '%s'",
				      ctx->state_dir);
	snprintf(mnt, sizeof(mnt), "%s/lab/%s", dir, other ? other : ctx->step_id);
	if (lab_volume_path_check(mnt, path, err)) {
		cl_error_prefix(err, "dd-writer");
		return -1;
	}
	strncat(dir, "/lab", sizeof(dir) - strlen(dir) - 1);
	vo.dir = dir;
	if (other) {
		cJSON *j;

		if (lab_volume_find(dir, other, &vol, err)) {
			cl_error_prefix(err, "dd-writer: volume '%s'", other);
			return -1;
		}
		j = lab_volume_to_json(&vol);
		if (!j)
			return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "dd-writer");
		cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "on_volume");
		cJSON_AddItemToObject(ctx->undo, "on_volume", j);
		if (inject_ctx_save(ctx, err))
			return -1;
	} else if (lab_volume_create(&vo, ctx->undo, save_undo, ctx, &vol, err)) {
		cl_error_prefix(err, "dd-writer");
		return -1;
	}
	if (lab_volume_resolve(&vol, path, true, file, sizeof(file), err)) {
		cl_error_prefix(err, "dd-writer");
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "file");
	if (!cJSON_AddStringToObject(ctx->undo, "file", file) || inject_ctx_save(ctx, err))
		return err->msg[0] ? -1 : cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "dd-writer");

	args = cJSON_CreateObject();
	if (!args)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "dd-writer");
	if (mode == DD_THROUGHPUT) {
		chunk = (long long)(rate / DD_CHUNKS_PER_SECOND);
		chunk -= chunk % DD_ALIGN;
		if (chunk < DD_CHUNK_MIN)
			chunk = DD_CHUNK_MIN;
		if (chunk > DD_CHUNK_MAX)
			chunk = DD_CHUNK_MAX;
	}
	cJSON_AddStringToObject(args, "mode", params_str(p, "mode", "throughput"));
	cJSON_AddStringToObject(args, "path", file);
	cJSON_AddStringToObject(args, "sync", params_str(p, "sync", "fsync"));
	cJSON_AddNumberToObject(args, "rate", rate);
	cJSON_AddNumberToObject(args, "chunk", (double)chunk);
	cJSON_AddNumberToObject(args, "file_bytes",
				(double)(params_int(p, "file_mib", DD_DEFAULT_FILE_MIB) * MIB));
	cJSON_AddNumberToObject(args, "percent",
				(double)params_int(p, "percent", DD_DEFAULT_PERCENT));
	if (params_isset(p, "mib"))
		cJSON_AddNumberToObject(args, "fill_bytes",
					(double)(params_int(p, "mib", 0) * MIB));
	spec.args = args;
	if (worker_spawn(&spec, &id, NULL, err)) {
		cl_error_prefix(err, "dd-writer");
		goto out;
	}
	if (worker_undo_add(ctx->undo, &id, err) || inject_ctx_save(ctx, err))
		goto out;
	if (mode == DD_FILL && params_isset(p, "mib") &&
	    fill_wait(file, params_int(p, "mib", 0) * MIB, &id, err))
		goto out;
	if (mode == DD_THROUGHPUT && params_number(p, "disk_mib_per_second", 0) > 0 &&
	    throttle_apply(ctx, &vol, params_number(p, "disk_mib_per_second", 0) * (double)MIB,
			   id.pid, err))
		goto out;
	rc = 0;
out:
	cJSON_Delete(args);
	return rc;
}

/* Remove the written file when it is on our volume, still mounted. */
static bool remove_file(const cJSON *undo)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(undo, "file");
	struct lab_volume v;
	struct cl_error e;

	if (!cJSON_IsString(f) || lab_volume_from_undo(lab_volume_undo_of(undo), &v) ||
	    !lab_volume_mounted(&v) || lab_volume_path_check(v.mountpoint, f->valuestring, &e))
		return false;
	return unlink(f->valuestring) == 0;
}

static int dd_writer_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	char fallback[256], vrep[200] = "";
	int killed = 0;
	bool removed, cg_removed = false;
	size_t len = 0;

	ctx->report[0] = '\0';
	worker_owner_tag(fallback, sizeof(fallback), ctx->run_id, ctx->step_id);
	/* The writers first: they hold files on the volume. */
	if (worker_undo_kill(ctx->undo, ctx->run_id && ctx->step_id ? fallback : NULL,
			     DD_REVERT_GRACE_MS, &killed, err)) {
		cl_error_prefix(err, "dd-writer");
		return -1;
	}
	if (throttle_revert(ctx->undo, ctx->run_id, ctx->step_id, &cg_removed, err))
		return -1;
	removed = remove_file(ctx->undo);
	if (lab_volume_teardown(cJSON_GetObjectItemCaseSensitive(ctx->undo, "volume"), vrep,
				sizeof(vrep), err)) {
		cl_error_prefix(err, "dd-writer");
		return -1;
	}
	if (killed)
		len += (size_t)snprintf(ctx->report + len, sizeof(ctx->report) - len,
					"stopped %d worker%s", killed, killed == 1 ? "" : "s");
	if (cg_removed && len < sizeof(ctx->report))
		len += (size_t)snprintf(ctx->report + len, sizeof(ctx->report) - len,
					"%sremoved the throttling cgroup", len ? ", " : "");
	if (removed && len < sizeof(ctx->report))
		len += (size_t)snprintf(ctx->report + len, sizeof(ctx->report) - len,
					"%sremoved the written file", len ? ", " : "");
	if (vrep[0] && len < sizeof(ctx->report))
		snprintf(ctx->report + len, sizeof(ctx->report) - len, "%s%s", len ? ", " : "",
			 vrep);
	return 0;
}

const struct injector dd_writer_injector = {
	.name = "dd-writer",
	.summary = "write to a lab volume: a busy (or slow) disk, a full disk, or a deleted "
		   "file still held open",
	.params = dd_writer_params,
	.supported = dd_writer_supported,
	.validate = dd_writer_validate,
	.apply = dd_writer_apply,
	.revert = dd_writer_revert,
	.worker = dd_writer_worker,
};
