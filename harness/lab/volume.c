/* The lab volume: a loop-mounted ext4 image or a size-capped tmpfs, made and
 * undone from journaled undo data. See volume.h for the ownership rules. */
#include "lab/volume.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/features.h"
#include "sys/proc.h"

#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
struct loop_config {
	__u32 fd;
	__u32 block_size;
	struct loop_info64 info;
	__u64 __reserved[8];
};
#endif
#ifndef LO_FLAGS_DIRECT_IO
#define LO_FLAGS_DIRECT_IO 16
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define MIB (1024ULL * 1024ULL)
#define VOLUME_NAME_MAX 32
#define VOLUME_LABEL_MAX 16	    /* ext4 volume label */
#define VOLUME_HOST_KEEP_MIB 512ULL /* host file system: keep at least this free */
#define VOLUME_HOST_KEEP_DIVISOR 10 /* ... and at least a tenth of it */
#define VOLUME_TMPFS_MEM_DIVISOR 4  /* tmpfs: at most a quarter of MemAvailable */
#define VOLUME_LOOP_TRIES 8	    /* a free loop device taken by someone else meanwhile */
#define VOLUME_MKFS_TIMEOUT_MS 60000
#define VOLUME_DETACH_WAIT_MS 2000 /* autoclear after umount, or a busy device */
#define VOLUME_MOUNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* ---- small helpers ------------------------------------------------------- */

int lab_volume_backend_parse(const char *text)
{
	if (!text || !strcmp(text, "auto"))
		return LAB_VOLUME_AUTO;
	if (!strcmp(text, "loop"))
		return LAB_VOLUME_LOOP;
	if (!strcmp(text, "tmpfs"))
		return LAB_VOLUME_TMPFS;
	return -1;
}

const char *lab_volume_backend_name(enum lab_volume_backend b)
{
	switch (b) {
	case LAB_VOLUME_LOOP:
		return "loop";
	case LAB_VOLUME_TMPFS:
		return "tmpfs";
	default:
		return "auto";
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > VOLUME_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

/* True when /proc/filesystems lists fstype. */
static bool fs_listed(const char *fstype)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, '\t');

		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		found = !strcmp(name, fstype);
	}
	fclose(f);
	return found;
}

static int loop_backend_ok(char *why, size_t size)
{
	char mkfs[PATH_MAX];

	if (access("/dev/loop-control", R_OK | W_OK) < 0) {
		snprintf(why, size, "no usable loop devices: /dev/loop-control: %s",
			 strerror(errno));
		return -1;
	}
	if (!fs_listed("ext4")) {
		snprintf(why, size, "the kernel has no ext4 (not in /proc/filesystems)");
		return -1;
	}
	if (feature_which("mkfs.ext4", mkfs, sizeof(mkfs)) < 0) {
		snprintf(why, size, "mkfs.ext4 not found (apt-get install e2fsprogs)");
		return -1;
	}
	return 0;
}

int lab_volume_supported(enum lab_volume_backend b, enum lab_volume_backend *chosen, char *why,
			 size_t size)
{
	char loop_why[256] = "";

	if (!feature_cap_effective(CAP_SYS_ADMIN)) {
		snprintf(why, size,
			 "making the lab volume (mount, loop devices) needs CAP_SYS_ADMIN: "
			 "run as root");
		return -1;
	}
	if (b != LAB_VOLUME_TMPFS && loop_backend_ok(loop_why, sizeof(loop_why)) == 0) {
		if (chosen)
			*chosen = LAB_VOLUME_LOOP;
		return 0;
	}
	if (b == LAB_VOLUME_LOOP) {
		snprintf(why, size, "%s", loop_why);
		return -1;
	}
	if (!fs_listed("tmpfs")) {
		snprintf(why, size, "%s%sthe kernel has no tmpfs", loop_why,
			 loop_why[0] ? "; " : "");
		return -1;
	}
	if (chosen)
		*chosen = LAB_VOLUME_TMPFS;
	return 0;
}

/* ---- undo object helpers ------------------------------------------------- */

static int set_str(cJSON *o, const char *key, const char *val, struct cl_error *err)
{
	cJSON *v = cJSON_CreateString(val);

	if (!v)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "lab volume: undo data");
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, v);
	return 0;
}

static int set_num(cJSON *o, const char *key, double val, struct cl_error *err)
{
	cJSON *v = cJSON_CreateNumber(val);

	if (!v)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "lab volume: undo data");
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, v);
	return 0;
}

static int set_bool(cJSON *o, const char *key, bool val, struct cl_error *err)
{
	cJSON *v = cJSON_CreateBool(val);

	if (!v)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "lab volume: undo data");
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, v);
	return 0;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static bool get_num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static int save(lab_volume_save_fn fn, void *arg, struct cl_error *err)
{
	return fn ? fn(arg, err) : 0;
}

const cJSON *lab_volume_undo_of(const cJSON *step_undo)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(step_undo, "volume");

	return v ? v : cJSON_GetObjectItemCaseSensitive(step_undo, "on_volume");
}

int lab_volume_from_undo(const cJSON *vundo, struct lab_volume *v)
{
	const char *s;
	double d;

	memset(v, 0, sizeof(*v));
	if (!cJSON_IsObject(vundo) || !(s = get_str(vundo, "mountpoint")) || !*s)
		return -1;
	snprintf(v->mountpoint, sizeof(v->mountpoint), "%s", s);
	v->backend = (s = get_str(vundo, "backend")) && !strcmp(s, "tmpfs") ? LAB_VOLUME_TMPFS :
									      LAB_VOLUME_LOOP;
	if ((s = get_str(vundo, "image")))
		snprintf(v->image, sizeof(v->image), "%s", s);
	if ((s = get_str(vundo, "loop")))
		snprintf(v->loop, sizeof(v->loop), "%s", s);
	if ((s = get_str(vundo, "source")))
		snprintf(v->source, sizeof(v->source), "%s", s);
	if ((s = get_str(vundo, "dev"))) {
		unsigned maj, min;

		if (sscanf(s, "%u:%u", &maj, &min) == 2)
			v->dev = makedev(maj, min);
	}
	if (get_num(vundo, "size_mib", &d) && d > 0)
		v->size_mib = (unsigned long long)d;
	return 0;
}

/* ---- mounts and loop devices as the kernel reports them ------------------ */

struct mount_entry {
	unsigned maj, min;
	char fstype[32];
	char source[PATH_MAX];
};

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

/* The topmost mount at path (the last in /proc/self/mountinfo). 1 when found,
 * 0 when nothing is mounted there, -1 when mountinfo cannot be read. */
static int mount_top(const char *path, struct mount_entry *out)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *mnt = NULL, *sep;
		unsigned maj = 0, min = 0;
		int i = 0;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
			if (i == 2)
				sscanf(tok, "%u:%u", &maj, &min);
			else if (i == 4)
				mnt = tok;
		}
		if (!mnt)
			continue;
		unescape(mnt);
		if (strcmp(mnt, path))
			continue;
		save = NULL;
		tok = strtok_r(sep + 3, " \n", &save);
		snprintf(out->fstype, sizeof(out->fstype), "%s", tok ? tok : "");
		tok = strtok_r(NULL, " \n", &save);
		snprintf(out->source, sizeof(out->source), "%s", tok ? tok : "");
		unescape(out->source);
		out->maj = maj;
		out->min = min;
		found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

/* The loop device's number: "/dev/loop12" -> 12, else -1. */
static int loop_number(const char *dev)
{
	char *end;
	long n;

	if (!dev || strncmp(dev, "/dev/loop", 9) || !isdigit((unsigned char)dev[9]))
		return -1;
	n = strtol(dev + 9, &end, 10);
	return *end || n < 0 || n > 1 << 20 ? -1 : (int)n;
}

/* The backing file of /dev/loopN into buf, " (deleted)" stripped (*deleted
 * says whether it was there). 0, or -1 when the device is not bound. */
static int loop_backing(const char *dev, char *buf, size_t size, bool *deleted)
{
	char path[96];
	int n = loop_number(dev);
	FILE *f;
	size_t len;

	if (n < 0)
		return -1;
	snprintf(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", n);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, (int)size, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	len = strlen(buf);
	if (deleted)
		*deleted = false;
	if (len > 10 && !strcmp(buf + len - 10, " (deleted)")) {
		buf[len - 10] = '\0';
		if (deleted)
			*deleted = true;
	}
	return 0;
}

/* True while /dev/loopN is bound to image. */
static bool loop_is_ours(const char *dev, const char *image)
{
	char back[PATH_MAX];

	return image && *image && loop_backing(dev, back, sizeof(back), NULL) == 0 &&
	       !strcmp(back, image);
}

/* True when the mount entry is v's volume. */
static bool mount_is_ours(const struct lab_volume *v, const struct mount_entry *m)
{
	if (v->backend == LAB_VOLUME_TMPFS)
		return v->source[0] && !strcmp(m->fstype, "tmpfs") && !strcmp(m->source, v->source);
	return v->loop[0] && !strcmp(m->source, v->loop) && loop_is_ours(v->loop, v->image);
}

bool lab_volume_mounted(const struct lab_volume *v)
{
	struct mount_entry m;
	struct stat st;

	if (mount_top(v->mountpoint, &m) != 1 || !mount_is_ours(v, &m))
		return false;
	if (v->dev && (stat(v->mountpoint, &st) < 0 || st.st_dev != v->dev))
		return false;
	return true;
}

int lab_volume_disk_name(const struct lab_volume *v, char *buf, size_t size)
{
	int n = v->backend == LAB_VOLUME_LOOP ? loop_number(v->loop) : -1;

	if (n < 0)
		return -1;
	snprintf(buf, size, "loop%d", n);
	return 0;
}

/* ---- guardrails ---------------------------------------------------------- */

static int host_space_check(const char *dir, unsigned long long size_mib, struct cl_error *err)
{
	struct statvfs sv;
	unsigned long long avail, total, keep;

	if (statvfs(dir, &sv) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: statvfs '%s'", dir);
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize / MIB;
	total = (unsigned long long)sv.f_blocks * sv.f_frsize / MIB;
	keep = total / VOLUME_HOST_KEEP_DIVISOR;
	if (keep < VOLUME_HOST_KEEP_MIB)
		keep = VOLUME_HOST_KEEP_MIB;
	if (avail < keep || size_mib > avail - keep)
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"lab volume of %llu MiB refused: the host file system holding '%s' "
			"has %llu MiB free and must keep %llu MiB",
			size_mib, dir, avail, keep);
	return 0;
}

static int memory_check(unsigned long long size_mib, struct cl_error *err)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	if (size_mib > kb / 1024 / VOLUME_TMPFS_MEM_DIVISOR)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "tmpfs lab volume of %llu MiB refused: more than a quarter of "
				    "MemAvailable (%llu MiB)",
				    size_mib, kb / 1024);
	return 0;
}

/* ---- running mkfs.ext4 ------------------------------------------------------ */

/* Run argv (argv[0] an absolute path) with stdout and stderr into out (the
 * last of it, NUL-terminated), a minimal environment and a timeout. Returns
 * the exit status, or -1 with err. */
static int run_tool(char *const argv[], char *out, size_t size, int timeout_ms,
		    struct cl_error *err)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	int pfd[2];
	size_t len = 0;
	pid_t pid;
	int status = 0;
	double deadline = mono_now() + timeout_ms / 1000.0;
	bool timed_out = false;

	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int left = (int)((deadline - mono_now()) * 1000.0);
		char buf[512];
		ssize_t n;

		if (left <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (len + 1 >= size) { /* keep the tail: errors come last */
				memmove(out, out + size / 2, len - size / 2);
				len -= size / 2;
			}
			out[len++] = buf[i];
		}
	}
	out[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return cl_error_set(err, CL_EXIT_USAGE, "'%s' did not finish within %d s", argv[0],
				    timeout_ms / 1000);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int make_ext4(const char *image, const char *label, struct cl_error *err)
{
	char mkfs[PATH_MAX], out[1024];
	char lab[VOLUME_LABEL_MAX + 1];
	char *argv[16];
	int n = 0, rc;

	if (feature_which("mkfs.ext4", mkfs, sizeof(mkfs)) < 0)
		return cl_error_set(err, CL_EXIT_PRIVILEGE,
				    "mkfs.ext4 not found (apt-get install e2fsprogs)");
	snprintf(lab, sizeof(lab), "%s", label);
	argv[n++] = mkfs;
	argv[n++] = "-q";
	argv[n++] = "-F";
	/* No blocks reserved for root: df's Avail is what is left for
	 * anyone, and 100% means full for every process. */
	argv[n++] = "-m";
	argv[n++] = "0";
	argv[n++] = "-b";
	argv[n++] = "4096";
	argv[n++] = "-T";
	argv[n++] = "default";
	argv[n++] = "-L";
	argv[n++] = lab;
	/* Initialise inode tables and journal now: no ext4lazyinit writes
	 * later, which would show up as I/O the drill did not ask for. */
	argv[n++] = "-E";
	argv[n++] = "lazy_itable_init=0,lazy_journal_init=0,nodiscard";
	argv[n++] = (char *)image;
	argv[n] = NULL;
	rc = run_tool(argv, out, sizeof(out), VOLUME_MKFS_TIMEOUT_MS, err);
	if (rc < 0)
		return -1;
	if (rc) {
		out[strcspn(out, "\n")] = '\0';
		return cl_error_set(err, CL_EXIT_USAGE, "mkfs.ext4 '%s' failed (status %d): %s",
				    image, rc, out[0] ? out : "no output");
	}
	return 0;
}

/* ---- attaching the image to a loop device ------------------------------------ */

static int loop_configure(int lfd, int imgfd, const char *image, bool direct)
{
	struct loop_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (__u32)imgfd;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (direct ? LO_FLAGS_DIRECT_IO : 0);
	snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", image);
	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return -1;
	if (direct)
		return -2; /* maybe the direct I/O flag: the caller retries without */
	/* Before 5.8: bind, then set the flags. */
	if (ioctl(lfd, LOOP_SET_FD, imgfd) < 0)
		return -1;
	if (ioctl(lfd, LOOP_SET_STATUS64, &cfg.info) < 0) {
		int e = errno;

		ioctl(lfd, LOOP_CLR_FD, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* Bind imgfd to a free loop device, journaling its name first. Returns the
 * open loop device fd (the caller keeps it until the mount holds the device:
 * autoclear detaches it at the last close), or -1 with err. */
static int loop_attach(cJSON *vundo, int imgfd, const char *image, lab_volume_save_fn fn, void *arg,
		       char *dev, size_t devsize, struct cl_error *err)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int lfd = -1;

	if (ctl < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "lab volume: /dev/loop-control");
	for (int tries = 0; tries < VOLUME_LOOP_TRIES; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		int r;

		if (n < 0) {
			cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				       "lab volume: no free loop device (LOOP_CTL_GET_FREE)");
			goto fail;
		}
		snprintf(dev, devsize, "/dev/loop%d", n);
		if (set_str(vundo, "loop", dev, err) || save(fn, arg, err))
			goto fail;
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "lab volume: open '%s'", dev);
			goto fail;
		}
		r = loop_configure(lfd, imgfd, image, true);
		if (r == -2)
			r = loop_configure(lfd, imgfd, image, false);
		if (r == 0) {
			close(ctl);
			return lfd;
		}
		if (errno != EBUSY) {
			cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				       "lab volume: binding '%s' to '%s'", image, dev);
			goto fail;
		}
		/* Taken between GET_FREE and now: ask again. */
		close(lfd);
		lfd = -1;
	}
	cl_error_set(err, CL_EXIT_PRIVILEGE,
		     "lab volume: every free loop device was taken "
		     "before it could be bound");
fail:
	if (lfd >= 0)
		close(lfd);
	close(ctl);
	return -1;
}

/* mkdir, accepting an existing empty directory that nothing is mounted on. */
static int make_mountpoint(const char *path, struct cl_error *err)
{
	struct mount_entry m;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: mkdir '%s'", path);
	if (mount_top(path, &m) == 1)
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"lab volume: something is already mounted on '%s' (%s from %s): "
			"run chaoslab recover, or unmount it",
			path, m.fstype, m.source);
	/* rmdir + mkdir proves it is an empty directory, and leaves a fresh one. */
	if (rmdir(path) < 0 || mkdir(path, 0755) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno,
				      "lab volume: '%s' exists and is not an empty directory",
				      path);
	return 0;
}

static int record_dev(cJSON *vundo, const char *mountpoint, dev_t *dev, struct cl_error *err)
{
	struct stat st;
	char buf[32];

	if (stat(mountpoint, &st) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: stat '%s'",
				      mountpoint);
	*dev = st.st_dev;
	snprintf(buf, sizeof(buf), "%u:%u", major(st.st_dev), minor(st.st_dev));
	return set_str(vundo, "dev", buf, err);
}

/* ---- create ---------------------------------------------------------------------- */

static int create_loop(const struct lab_volume_opts *o, cJSON *vundo, lab_volume_save_fn fn,
		       void *arg, struct lab_volume *v, struct cl_error *err)
{
	unsigned long long bytes = o->size_mib * MIB;
	int imgfd = -1, lfd = -1, rc = -1;
	struct stat st;

	if (host_space_check(o->dir, o->size_mib, err))
		return -1;
	snprintf(v->image, sizeof(v->image), "%s/%s.img", o->dir, o->name);
	if (set_str(vundo, "image", v->image, err) || save(fn, arg, err))
		return -1;
	imgfd = open(v->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (imgfd < 0) {
		int e = errno;

		/* Not ours: teardown must not remove it. */
		cJSON_DeleteItemFromObjectCaseSensitive(vundo, "image");
		save(fn, arg, NULL);
		if (e == EEXIST)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "lab volume: image '%s' already exists (left by an "
					    "earlier run? chaoslab recover, or remove it)",
					    v->image);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "lab volume: creating '%s'", v->image);
	}
	if (fstat(imgfd, &st) < 0 || set_num(vundo, "image_dev", (double)st.st_dev, err) ||
	    set_num(vundo, "image_ino", (double)st.st_ino, err) || save(fn, arg, err)) {
		if (!err->msg[0])
			cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: fstat '%s'",
				       v->image);
		goto out;
	}
	/* Sparse: the host gives blocks only as the volume's are written. */
	if (ftruncate(imgfd, (off_t)bytes) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: sizing '%s'", v->image);
		goto out;
	}
	if (make_ext4(v->image, o->name, err))
		goto out;
	lfd = loop_attach(vundo, imgfd, v->image, fn, arg, v->loop, sizeof(v->loop), err);
	if (lfd < 0)
		goto out;
	if (make_mountpoint(v->mountpoint, err))
		goto out;
	if (mount(v->loop, v->mountpoint, "ext4", VOLUME_MOUNT_FLAGS, "discard") < 0) {
		cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "lab volume: mount '%s' on '%s'",
			       v->loop, v->mountpoint);
		goto out;
	}
	if (record_dev(vundo, v->mountpoint, &v->dev, err) || save(fn, arg, err))
		goto out;
	rc = 0;
out:
	/* The mount holds the loop device now; if it does not, autoclear
	 * detaches it as this last fd closes. */
	if (lfd >= 0)
		close(lfd);
	if (imgfd >= 0)
		close(imgfd);
	return rc;
}

static int create_tmpfs(const struct lab_volume_opts *o, cJSON *vundo, lab_volume_save_fn fn,
			void *arg, struct lab_volume *v, struct cl_error *err)
{
	char opts[64];

	if (memory_check(o->size_mib, err))
		return -1;
	snprintf(v->source, sizeof(v->source), "chaoslab-%s", o->name);
	if (set_str(vundo, "source", v->source, err) || save(fn, arg, err))
		return -1;
	if (make_mountpoint(v->mountpoint, err))
		return -1;
	snprintf(opts, sizeof(opts), "size=%llum,mode=0755", o->size_mib);
	if (mount(v->source, v->mountpoint, "tmpfs", VOLUME_MOUNT_FLAGS, opts) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "lab volume: mount tmpfs on '%s'", v->mountpoint);
	if (record_dev(vundo, v->mountpoint, &v->dev, err) || save(fn, arg, err))
		return -1;
	return 0;
}

int lab_volume_create(const struct lab_volume_opts *o, cJSON *undo, lab_volume_save_fn fn,
		      void *arg, struct lab_volume *out, struct cl_error *err)
{
	enum lab_volume_backend b = o->backend;
	char dir[PATH_MAX], why[256];
	struct lab_volume v;
	cJSON *vundo;
	struct stat st;
	bool made_dir = false;

	memset(&v, 0, sizeof(v));
	if (!name_ok(o->name))
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"lab volume name '%s': use letters, digits, '_' and '-' (at most %d)",
			o->name ? o->name : "", VOLUME_NAME_MAX);
	if (o->size_mib < LAB_VOLUME_MIN_MIB || o->size_mib > LAB_VOLUME_MAX_MIB)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "lab volume size must be %d..%d MiB, got %llu",
				    LAB_VOLUME_MIN_MIB, LAB_VOLUME_MAX_MIB, o->size_mib);
	if (lab_volume_supported(b, &b, why, sizeof(why)))
		return cl_error_set(err, CL_EXIT_PRIVILEGE, "lab volume (%s): %s",
				    lab_volume_backend_name(o->backend), why);
	if (stat(o->dir, &st) < 0) {
		if (errno != ENOENT)
			return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: '%s'",
					      o->dir);
		made_dir = true;
	} else if (!S_ISDIR(st.st_mode)) {
		return cl_error_set(err, CL_EXIT_USAGE, "lab volume: '%s' is not a directory",
				    o->dir);
	}

	vundo = cJSON_CreateObject();
	if (!vundo)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "lab volume: undo data");
	cJSON_DeleteItemFromObjectCaseSensitive(undo, "volume");
	cJSON_AddItemToObject(undo, "volume", vundo);
	if (set_str(vundo, "backend", lab_volume_backend_name(b), err) ||
	    set_num(vundo, "size_mib", (double)o->size_mib, err))
		return -1;
	if (made_dir) {
		/* Journaled first: a crash right after the mkdir leaves
		 * nothing that teardown does not know about. */
		if (set_str(vundo, "dir", o->dir, err) || set_bool(vundo, "made_dir", true, err) ||
		    save(fn, arg, err))
			return -1;
		if (mkdir(o->dir, 0755) < 0 && errno != EEXIST)
			return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: mkdir '%s'",
					      o->dir);
	}
	/* Canonical, as /proc/self/mountinfo will show the mount point. */
	if (!realpath(o->dir, dir))
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: '%s'", o->dir);
	if (strlen(dir) + strlen(o->name) + 8 >= sizeof(v.mountpoint))
		return cl_error_set(err, CL_EXIT_USAGE, "lab volume: '%s' is too long a path", dir);
	struct lab_volume_opts co = *o;
	co.dir = dir;
	snprintf(v.mountpoint, sizeof(v.mountpoint), "%s/%s", dir, o->name);
	v.backend = b;
	v.size_mib = o->size_mib;
	if (set_str(vundo, "dir", dir, err) || set_str(vundo, "mountpoint", v.mountpoint, err) ||
	    save(fn, arg, err))
		return -1;
	if ((b == LAB_VOLUME_LOOP ? create_loop : create_tmpfs)(&co, vundo, fn, arg, &v, err))
		return -1;
	if (out)
		*out = v;
	return 0;
}

/* ---- teardown ------------------------------------------------------------------ */

static void report_add(char *report, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_add(char *report, size_t size, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	if (!report || !size)
		return;
	len = strlen(report);
	if (len && len + 2 < size) {
		memcpy(report + len, ", ", 3);
		len += 2;
	}
	if (len >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(report + len, size - len, fmt, ap);
	va_end(ap);
}

static int unmount_ours(const struct lab_volume *v, char *report, size_t size, struct cl_error *err)
{
	/* Mounted twice on the same point is possible (a retry after a lost
	 * journal record): repeat while the top mount is ours. */
	for (int round = 0; round < 4; round++) {
		struct mount_entry m;
		int r = mount_top(v->mountpoint, &m);

		if (r < 0)
			return cl_error_errno(err, CL_EXIT_REVERT, errno,
					      "lab volume: reading /proc/self/mountinfo");
		if (r == 0)
			return 0;
		if (!mount_is_ours(v, &m))
			return cl_error_set(
				err, CL_EXIT_REVERT,
				"lab volume: '%s' has %s from '%s' mounted on it, which "
				"is not ours: left alone",
				v->mountpoint, m.fstype, m.source);
		if (umount2(v->mountpoint, UMOUNT_NOFOLLOW) == 0) {
			report_add(report, size, "unmounted %s", v->mountpoint);
			continue;
		}
		if (errno != EBUSY)
			return cl_error_errno(err, CL_EXIT_REVERT, errno, "lab volume: umount '%s'",
					      v->mountpoint);
		/* Busy: a shell sitting in it, a process we did not start.
		 * Detach it from the tree; it goes when they let go. */
		if (umount2(v->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return cl_error_errno(err, CL_EXIT_REVERT, errno,
					      "lab volume: lazy umount '%s'", v->mountpoint);
		report_add(report, size, "lazily unmounted %s (busy)", v->mountpoint);
	}
	return 0;
}

static int detach_ours(const struct lab_volume *v, char *report, size_t size, struct cl_error *err)
{
	double deadline = mono_now() + VOLUME_DETACH_WAIT_MS / 1000.0;
	bool asked = false;

	if (!v->loop[0] || !v->image[0])
		return 0;
	while (loop_is_ours(v->loop, v->image)) {
		if (!asked) {
			int fd = open(v->loop, O_RDWR | O_CLOEXEC);

			/* In use (a lazy unmount): the kernel sets autoclear and
			 * detaches it at its last close. */
			if (fd >= 0) {
				if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO &&
				    errno != EBUSY) {
					int e = errno;

					close(fd);
					return cl_error_errno(err, CL_EXIT_REVERT, e,
							      "lab volume: detaching '%s'",
							      v->loop);
				}
				close(fd);
			}
			asked = true;
		}
		if (mono_now() > deadline) {
			report_add(report, size, "%s still in use: it detaches when released",
				   v->loop);
			return 0;
		}
		sleep_ms(20);
	}
	if (asked)
		report_add(report, size, "detached %s", v->loop);
	return 0;
}

static int remove_image(const cJSON *vundo, const struct lab_volume *v, char *report, size_t size,
			struct cl_error *err)
{
	struct stat st;
	double dev, ino;
	bool ours;

	if (!v->image[0])
		return 0;
	if (lstat(v->image, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "lab volume: lstat '%s'",
				      v->image);
	}
	if (get_num(vundo, "image_ino", &ino) && get_num(vundo, "image_dev", &dev))
		ours = S_ISREG(st.st_mode) && (double)st.st_ino == ino && (double)st.st_dev == dev;
	else /* crashed between creating it and journaling its inode */
		ours = S_ISREG(st.st_mode) && v->size_mib &&
		       ((unsigned long long)st.st_size == v->size_mib * MIB || st.st_size == 0);
	if (!ours) {
		report_add(report, size, "left %s: not the image we made", v->image);
		return 0;
	}
	if (unlink(v->image) < 0 && errno != ENOENT)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "lab volume: removing '%s'",
				      v->image);
	report_add(report, size, "removed %s", v->image);
	return 0;
}

int lab_volume_teardown(const cJSON *vundo, char *report, size_t size, struct cl_error *err)
{
	struct lab_volume v;
	struct mount_entry m;
	const cJSON *made = cJSON_GetObjectItemCaseSensitive(vundo, "made_dir");
	const char *dir = get_str(vundo, "dir");

	if (report && size)
		report[0] = '\0';
	if (lab_volume_from_undo(vundo, &v) == 0) {
		bool bound = v.loop[0] && loop_is_ours(v.loop, v.image);

		if (unmount_ours(&v, report, size, err))
			return -1;
		if (detach_ours(&v, report, size, err))
			return -1;
		/* Autoclear detached it with the unmount: say so all the same. */
		if (bound && !loop_is_ours(v.loop, v.image) && report &&
		    !strstr(report, "detached"))
			report_add(report, size, "detached %s", v.loop);
		if (remove_image(vundo, &v, report, size, err))
			return -1;
		/* The empty directory the volume was mounted on; never a
		 * directory something is still mounted on or that holds files. */
		if (mount_top(v.mountpoint, &m) == 0 && rmdir(v.mountpoint) < 0 &&
		    errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
			return cl_error_errno(err, CL_EXIT_REVERT, errno, "lab volume: rmdir '%s'",
					      v.mountpoint);
	}
	if (cJSON_IsTrue(made) && dir)
		rmdir(dir); /* only when empty: other lab parts may use it */
	return 0;
}

/* ---- volumes of other steps ------------------------------------------------------ */

int lab_volume_find(const char *dir, const char *name, struct lab_volume *out, struct cl_error *err)
{
	char real[PATH_MAX];
	struct mount_entry m;
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (!name_ok(name))
		return cl_error_set(err, CL_EXIT_USAGE, "lab volume name '%s' is not valid",
				    name ? name : "");
	if (!realpath(dir, real) || strlen(real) + strlen(name) + 8 >= sizeof(out->mountpoint))
		return cl_error_set(err, CL_EXIT_USAGE, "no lab volume '%s': '%s' does not exist",
				    name, dir);
	snprintf(out->mountpoint, sizeof(out->mountpoint), "%s/%s", real, name);
	if (mount_top(out->mountpoint, &m) != 1)
		return cl_error_set(err, CL_EXIT_USAGE, "no lab volume '%s' is mounted at '%s'",
				    name, out->mountpoint);
	if (!strcmp(m.fstype, "tmpfs")) {
		out->backend = LAB_VOLUME_TMPFS;
		snprintf(out->source, sizeof(out->source), "chaoslab-%s", name);
	} else {
		out->backend = LAB_VOLUME_LOOP;
		snprintf(out->loop, sizeof(out->loop), "%s", m.source);
		snprintf(out->image, sizeof(out->image), "%s/%s.img", real, name);
	}
	if (!mount_is_ours(out, &m) || stat(out->mountpoint, &st) < 0)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "the mount at '%s' (%s from %s) is not a lab volume of ours",
				    out->mountpoint, m.fstype, m.source);
	out->dev = st.st_dev;
	return 0;
}

cJSON *lab_volume_to_json(const struct lab_volume *v)
{
	cJSON *o = cJSON_CreateObject();
	char dev[32];
	bool ok;

	if (!o)
		return NULL;
	snprintf(dev, sizeof(dev), "%u:%u", major(v->dev), minor(v->dev));
	ok = cJSON_AddStringToObject(o, "backend", lab_volume_backend_name(v->backend)) &&
	     cJSON_AddStringToObject(o, "mountpoint", v->mountpoint) &&
	     cJSON_AddStringToObject(o, "dev", dev) &&
	     (v->backend == LAB_VOLUME_TMPFS ?
		      cJSON_AddStringToObject(o, "source", v->source) != NULL :
		      (cJSON_AddStringToObject(o, "image", v->image) &&
		       cJSON_AddStringToObject(o, "loop", v->loop)));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ---- paths inside the volume --------------------------------------------------- */

static int outside(const char *mountpoint, const char *path, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_USAGE, "fill target '%s' outside the lab volume '%s'",
			    path, mountpoint);
}

/* The part of path below the volume's root, or NULL when it is not under
 * mountpoint. */
static const char *relative_part(const char *mountpoint, const char *path)
{
	size_t n = strlen(mountpoint);

	if (path[0] != '/')
		return path;
	if (strncmp(path, mountpoint, n) || path[n] != '/')
		return NULL;
	return path + n + 1;
}

int lab_volume_path_check(const char *mountpoint, const char *path, struct cl_error *err)
{
	const char *rel;
	const char *p;
	bool any = false;

	if (!path || !*path)
		return cl_error_set(err, CL_EXIT_USAGE, "fill target: empty path");
	rel = relative_part(mountpoint, path);
	if (!rel)
		return outside(mountpoint, path, err);
	for (p = rel; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2))
			return outside(mountpoint, path, err);
		if (n && !(n == 1 && p[0] == '.'))
			any = true;
		p += n;
		while (*p == '/')
			p++;
	}
	if (!any || rel[strlen(rel) - 1] == '/')
		return cl_error_set(err, CL_EXIT_USAGE, "fill target '%s' names no file", path);
	return 0;
}

int lab_volume_resolve(const struct lab_volume *v, const char *path, bool make_dirs, char *out,
		       size_t size, struct cl_error *err)
{
	char rel[PATH_MAX], built[PATH_MAX];
	char *save = NULL, *comp, *next;
	struct stat st;
	int dfd = -1, rc = -1;
	size_t len;

	if (lab_volume_path_check(v->mountpoint, path, err))
		return -1;
	snprintf(rel, sizeof(rel), "%s", relative_part(v->mountpoint, path));
	dfd = open(v->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume '%s'", v->mountpoint);
		goto out;
	}
	if (!v->dev || !lab_volume_mounted(v) || st.st_dev != v->dev) {
		cl_error_set(err, CL_EXIT_USAGE, "the lab volume is not mounted at '%s'",
			     v->mountpoint);
		goto out;
	}
	len = (size_t)snprintf(built, sizeof(built), "%s", v->mountpoint);
	comp = strtok_r(rel, "/", &save);
	while (comp) {
		next = strtok_r(NULL, "/", &save);
		if (!strcmp(comp, ".")) {
			comp = next;
			continue;
		}
		len += (size_t)snprintf(built + len, sizeof(built) - len, "/%s", comp);
		if (len >= sizeof(built)) {
			cl_error_set(err, CL_EXIT_USAGE, "fill target '%s': path too long", path);
			goto out;
		}
		if (!next)
			break; /* the file itself: opened later with O_NOFOLLOW */
		int nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (nfd < 0 && errno == ENOENT && make_dirs) {
			if (mkdirat(dfd, comp, 0755) < 0 && errno != EEXIST) {
				cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: mkdir '%s'",
					       built);
				goto out;
			}
			nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			/* A symlink (ELOOP) or a file (ENOTDIR) where a
			 * directory should be: it could lead anywhere. */
			if (errno == ELOOP || errno == ENOTDIR)
				outside(v->mountpoint, path, err);
			else
				cl_error_errno(err, CL_EXIT_USAGE, errno, "lab volume: '%s'",
					       built);
			goto out;
		}
		close(dfd);
		dfd = nfd;
		if (fstat(dfd, &st) < 0 || st.st_dev != v->dev) {
			/* Something else mounted inside the volume. */
			outside(v->mountpoint, path, err);
			goto out;
		}
		comp = next;
	}
	if (strlen(built) >= size) {
		cl_error_set(err, CL_EXIT_USAGE, "fill target '%s': path too long", path);
		goto out;
	}
	snprintf(out, size, "%s", built);
	rc = 0;
out:
	if (dfd >= 0)
		close(dfd);
	return rc;
}
