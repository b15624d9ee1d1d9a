/* Tests of the disk verifiers (verifiers/disk-free.c, io-busy.c,
 * open-deleted-files.c) against real file systems and processes: a lab
 * volume made here (root), children of this test that write with fsync or
 * hold a deleted file open, and the figures of statvfs, /proc/diskstats and
 * /proc/PID/io compared with what the verifiers report. The drill's lookups
 * (an injection's undo data) come from a small stand-in for the engine. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/registry.h"
#include "lab/volume.h"
#include "sys/proc.h"

static char tmp_root[256];

/* ---- the drill's lookups and verifier plumbing ------------------------------ */

struct test_drill {
	const char *step;
	const cJSON *undo;
};

static const cJSON *drill_injection(void *opaque, const char *step)
{
	struct test_drill *d = opaque;

	return d->step && !strcmp(d->step, step) ? d->undo : NULL;
}

static struct test_drill drill;
static const struct check_env env = { .injection = drill_injection, .opaque = &drill };

struct check {
	const struct verifier *v;
	struct params p;
	struct check_ctx ctx;
};

/* Parse `with` for verifier name; -1 with msg when refused (parse or
 * validate). */
static int check_init(struct check *c, const char *name, const char *with, char *msg, size_t size)
{
	struct cl_error err;
	struct doc_node *doc;
	int rc;

	memset(c, 0, sizeof(*c));
	c->v = verifier_find(name);
	assert_non_null(c->v);
	cl_error_clear(&err);
	doc = doc_parse_json("test.json", with, strlen(with), &err);
	assert_non_null(doc);
	rc = params_from_doc(&c->p, c->v->params, doc, "test.json", NULL, "fixed_when[0].with",
			     &err);
	doc_free(doc);
	if (rc) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	if (c->v->validate && c->v->validate(&c->p, msg, size)) {
		params_release(&c->p);
		return -1;
	}
	c->ctx.params = &c->p;
	c->ctx.env = &env;
	return 0;
}

static int check_run(struct check *c, char *obs, size_t size)
{
	struct cl_error err;
	int r;

	cl_error_clear(&err);
	c->ctx.now = mono_now();
	obs[0] = '\0';
	r = c->v->check(&c->ctx, obs, size, &err);
	if (r == CHECK_ERROR)
		snprintf(obs, size, "error: %s", err.msg);
	return r;
}

static void check_release(struct check *c)
{
	if (c->v->release)
		c->v->release(&c->ctx);
	params_release(&c->p);
}

/* Run a windowed check every 200 ms until it is met or ms pass; returns the
 * last result. */
static int check_until_met(struct check *c, long ms, char *obs, size_t size)
{
	int r = CHECK_NOT_MET;

	for (long t = 0; t <= ms; t += 200) {
		r = check_run(c, obs, size);
		if (r == CHECK_MET)
			break;
		struct timespec ts = { 0, 200000000L };
		nanosleep(&ts, NULL);
	}
	return r;
}

/* ---- children ------------------------------------------------------------------ */

/* A child named comm: "write" writes 256 KiB chunks to path with fsync at
 * about 8 MiB/s; "hold" writes mib MiB to path, unlinks it and sleeps, and
 * is only returned once it has unlinked the file. */
static pid_t child(const char *what, const char *comm, const char *path, int mib)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char buf[256 * 1024];
		int fd;

		close(ready[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, comm, 0, 0, 0);
		memset(buf, 'x', sizeof(buf));
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(1);
		if (!strcmp(what, "write")) {
			for (off_t off = 0;; off = (off + (off_t)sizeof(buf)) % (8 << 20)) {
				struct timespec ts = { 0, 31250000L }; /* 32 chunks/s */

				if (pwrite(fd, buf, sizeof(buf), off) < 0)
					_exit(1);
				fsync(fd);
				nanosleep(&ts, NULL);
			}
		}
		for (int i = 0; i < mib * 4; i++)
			if (write(fd, buf, sizeof(buf)) < 0)
				_exit(1);
		fsync(fd);
		unlink(path);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (!strcmp(what, "hold"))
		assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void kill_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A lab volume for a test, registered as inject step "vol". */
struct vol {
	char dir[PATH_MAX];
	cJSON *undo;
	struct lab_volume v;
};

static bool vol_make(struct vol *x, enum lab_volume_backend b)
{
	static int seq;
	struct lab_volume_opts o = { .name = "vol", .size_mib = 64, .backend = b };
	struct cl_error err;
	char why[256];

	if (geteuid() != 0 || lab_volume_supported(b, NULL, why, sizeof(why)))
		return false;
	snprintf(x->dir, sizeof(x->dir), "%s/v%d", tmp_root, seq++);
	assert_int_equal(mkdir(x->dir, 0755), 0);
	o.dir = x->dir;
	x->undo = cJSON_CreateObject();
	if (lab_volume_create(&o, x->undo, NULL, NULL, &x->v, &err))
		fail_msg("volume: %s", err.msg);
	drill.step = "vol";
	drill.undo = x->undo;
	return true;
}

static void vol_drop(struct vol *x)
{
	struct cl_error err;
	char report[256];

	if (lab_volume_teardown(cJSON_GetObjectItem(x->undo, "volume"), report, sizeof(report),
				&err))
		fail_msg("teardown: %s", err.msg);
	cJSON_Delete(x->undo);
	rmdir(x->dir);
	drill.step = NULL;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_validation(void **state)
{
	static const struct {
		const char *verifier, *with;
	} bad[] = {
		{ "disk-free", "{\"path\": \"/\"}" },
		{ "disk-free", "{\"min_free_percent\": 5}" },
		{ "disk-free", "{\"path\": \"/\", \"injection\": \"x\", \"min_free_mib\": 1}" },
		{ "disk-free", "{\"path\": \"/\", \"min_free_mib\": 1, \"max_free_mib\": 5}" },
		{ "io-busy", "{\"min_mib_per_second\": 1}" },
		{ "io-busy", "{\"name\": \"a\", \"device\": \"vda\", \"min_mib_per_second\": 1}" },
		{ "io-busy", "{\"name\": \"a\", \"min_util_percent\": 50}" },
		{ "io-busy",
		  "{\"name\": \"a\", \"measure\": \"volume\", \"min_mib_per_second\": 1}" },
		{ "io-busy", "{\"device\": \"vda\"}" },
		{ "open-deleted-files", "{}" },
		{ "open-deleted-files", "{\"min_mib\": 1, \"max_mib\": 2}" },
		{ "open-deleted-files", "{\"name\": \"a\", \"injection\": \"b\", \"min_mib\": 1}" },
	};
	struct check c;
	char msg[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!check_init(&c, bad[i].verifier, bad[i].with, msg, sizeof(msg))) {
			check_release(&c);
			fail_msg("%s %s accepted", bad[i].verifier, bad[i].with);
		}
	assert_int_equal(check_init(&c, "io-busy",
				    "{\"injection\": \"w\", \"measure\": \"volume\", "
				    "\"max_util_percent\": 5}",
				    msg, sizeof(msg)),
			 0);
	check_release(&c);
}

/* disk-free on a path agrees with statvfs; both bounds directions. */
static void test_disk_free_path(void **state)
{
	struct check lo, hi;
	struct statvfs sv;
	char msg[512], obs[256], with[PATH_MAX + 64];
	double avail, used, pct;

	assert_int_equal(statvfs(tmp_root, &sv), 0);
	avail = (double)sv.f_bavail * sv.f_frsize / 1048576.0;
	used = (double)(sv.f_blocks - sv.f_bfree) * sv.f_frsize / 1048576.0;
	pct = 100.0 * avail / (avail + used);
	snprintf(with, sizeof(with), "{\"path\": \"%s\", \"min_free_percent\": %.0f}", tmp_root,
		 pct > 2 ? pct - 2 : 0);
	assert_int_equal(check_init(&lo, "disk-free", with, msg, sizeof(msg)), 0);
	assert_int_equal(check_run(&lo, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, "% free"));
	snprintf(with, sizeof(with), "{\"path\": \"%s\", \"max_free_mib\": %.0f}", tmp_root,
		 avail / 2);
	assert_int_equal(check_init(&hi, "disk-free", with, msg, sizeof(msg)), 0);
	assert_int_equal(check_run(&hi, obs, sizeof(obs)), CHECK_NOT_MET);
	check_release(&lo);
	check_release(&hi);
}

/* disk-free on an injection's volume: full, freed, and unmounted (which
 * must not count as free: statvfs there would measure the host). */
static void test_disk_free_volume(void **state)
{
	struct check full, freed;
	struct vol x;
	char msg[512], obs[256], path[PATH_MAX + 16];
	pid_t pid;

	if (!vol_make(&x, LAB_VOLUME_TMPFS))
		skip();
	assert_int_equal(check_init(&full, "disk-free",
				    "{\"injection\": \"vol\", \"max_free_percent\": 60}", msg,
				    sizeof(msg)),
			 0);
	assert_int_equal(check_init(&freed, "disk-free",
				    "{\"injection\": \"vol\", \"min_free_percent\": 90}", msg,
				    sizeof(msg)),
			 0);
	assert_int_equal(check_run(&full, obs, sizeof(obs)), CHECK_NOT_MET);
	assert_int_equal(check_run(&freed, obs, sizeof(obs)), CHECK_MET);
	/* 48 of 64 MiB held (deleted, held open: df counts it). */
	snprintf(path, sizeof(path), "%s/big", x.v.mountpoint);
	pid = child("hold", "dfhold", path, 48);
	/* Written and unlinked: only the open descriptor holds it now. */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(check_until_met(&full, 5000, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, x.v.mountpoint));
	assert_int_equal(check_run(&freed, obs, sizeof(obs)), CHECK_NOT_MET);
	kill_reap(pid);
	assert_int_equal(check_until_met(&freed, 5000, obs, sizeof(obs)), CHECK_MET);
	check_release(&full);
	check_release(&freed);
	vol_drop(&x);
}

static void test_disk_free_unmounted_is_not_free(void **state)
{
	struct check freed;
	struct vol x;
	char msg[512], obs[256];
	struct cl_error err;
	char report[256];
	cJSON *copy;

	if (!vol_make(&x, LAB_VOLUME_TMPFS))
		skip();
	copy = cJSON_Duplicate(x.undo, 1);
	assert_int_equal(lab_volume_teardown(cJSON_GetObjectItem(x.undo, "volume"), report,
					     sizeof(report), &err),
			 0);
	drill.undo = copy;
	assert_int_equal(check_init(&freed, "disk-free",
				    "{\"injection\": \"vol\", \"min_free_percent\": 1}", msg,
				    sizeof(msg)),
			 0);
	assert_int_equal(check_run(&freed, obs, sizeof(obs)), CHECK_NOT_MET);
	assert_non_null(strstr(obs, "not mounted"));
	check_release(&freed);
	cJSON_Delete(copy);
	cJSON_Delete(x.undo);
	rmdir(x.dir);
	drill.step = NULL;
}

/* io-busy by process name and by the volume's loop device, against a child
 * writing about 8 MiB/s with fsync; then quiet once it is gone. */
static void test_io_busy(void **state)
{
	struct check byname, bydev, quiet;
	struct vol x;
	char msg[512], obs[256], path[PATH_MAX + 16], with[256], disk[32];
	pid_t pid;

	if (!vol_make(&x, LAB_VOLUME_LOOP))
		skip();
	assert_int_equal(lab_volume_disk_name(&x.v, disk, sizeof(disk)), 0);
	snprintf(path, sizeof(path), "%s/w.dat", x.v.mountpoint);
	pid = child("write", "iowriter", path, 0);
	assert_int_equal(check_init(&byname, "io-busy",
				    "{\"name\": \"iowriter\", \"min_mib_per_second\": 5, "
				    "\"window_seconds\": 2}",
				    msg, sizeof(msg)),
			 0);
	snprintf(with, sizeof(with),
		 "{\"device\": \"%s\", \"min_mib_per_second\": 5, "
		 "\"window_seconds\": 2}",
		 disk);
	assert_int_equal(check_init(&bydev, "io-busy", with, msg, sizeof(msg)), 0);
	assert_int_equal(check_until_met(&byname, 5000, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, "iowriter 1 proc"));
	assert_int_equal(check_until_met(&bydev, 5000, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, disk));
	/* Not above 12: about 8 are written. */
	check_release(&byname);
	assert_int_equal(check_init(&byname, "io-busy",
				    "{\"name\": \"iowriter\", \"max_mib_per_second\": 12, "
				    "\"window_seconds\": 2}",
				    msg, sizeof(msg)),
			 0);
	assert_int_equal(check_until_met(&byname, 4000, obs, sizeof(obs)), CHECK_MET);
	kill_reap(pid);

	assert_int_equal(check_init(&quiet, "io-busy",
				    "{\"injection\": \"vol\", \"measure\": \"volume\", "
				    "\"max_mib_per_second\": 1, \"window_seconds\": 2}",
				    msg, sizeof(msg)),
			 0);
	assert_int_equal(check_until_met(&quiet, 6000, obs, sizeof(obs)), CHECK_MET);
	check_release(&byname);
	check_release(&bydev);
	check_release(&quiet);
	vol_drop(&x);
}

/* open-deleted-files against a child holding a deleted 24 MiB file on the
 * volume, as lsof +L1 would list it. */
static void test_open_deleted_files(void **state)
{
	struct check some, none, onvol;
	struct vol x;
	char msg[512], obs[256], path[PATH_MAX + 16];
	pid_t pid;

	if (!vol_make(&x, LAB_VOLUME_LOOP))
		skip();
	snprintf(path, sizeof(path), "%s/gone.log", x.v.mountpoint);
	pid = child("hold", "odfhold", path, 24);
	assert_int_equal(check_init(&some, "open-deleted-files",
				    "{\"name\": \"odfhold\", \"min_mib\": 20}", msg, sizeof(msg)),
			 0);
	assert_int_equal(check_until_met(&some, 5000, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, "odfhold"));
	assert_non_null(strstr(obs, "gone.log (deleted)"));
	assert_int_equal(check_init(&onvol, "open-deleted-files",
				    "{\"volume\": \"vol\", \"max_mib\": 1}", msg, sizeof(msg)),
			 0);
	assert_int_equal(check_run(&onvol, obs, sizeof(obs)), CHECK_NOT_MET);
	/* Processes other than the holder hold none of it. */
	assert_int_equal(check_init(&none, "open-deleted-files",
				    "{\"name\": \"nobody-here\", \"max_mib\": 0}", msg,
				    sizeof(msg)),
			 0);
	assert_int_equal(check_run(&none, obs, sizeof(obs)), CHECK_MET);
	assert_string_equal(obs, "no deleted file held open");
	kill_reap(pid);
	assert_int_equal(check_run(&onvol, obs, sizeof(obs)), CHECK_MET);
	check_release(&some);
	check_release(&none);
	check_release(&onvol);
	vol_drop(&x);
}

/* After a failed test: unmount whatever is left under the temporary root
 * (loop devices go with their mounts: autoclear) and remove it. */
static void cleanup_tree(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "findmnt -rn -o TARGET | grep '^%s/' | sort -r | xargs -r umount -l; rm -rf '%s'",
		 tmp_root, tmp_root);
	if (system(cmd) != 0)
		printf("cleanup of %s failed\n", tmp_root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_disk_free_path),
		cmocka_unit_test(test_disk_free_volume),
		cmocka_unit_test(test_disk_free_unmounted_is_not_free),
		cmocka_unit_test(test_io_busy),
		cmocka_unit_test(test_open_deleted_files),
	};
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (geteuid() != 0)
		printf("SKIP (the volume tests): lab volumes need root\n");
	snprintf(tmp_root, sizeof(tmp_root), "%s/chaoslab-diskver-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cleanup_tree();
	return rc;
}
