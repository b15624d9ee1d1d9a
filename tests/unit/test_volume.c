/* Tests of harness/lab/volume.c with real volumes (root): a loop-mounted ext4
 * image and a tmpfs are made, seen by the kernel (/proc/self/mountinfo,
 * /sys/block/loopN/loop/backing_file) and by the real losetup and findmnt,
 * and torn down without a trace; a crash after any journal point is undone
 * from that point's undo data alone; teardown leaves a mount or an image that
 * is not ours alone; paths outside the volume are refused; a volume the host
 * file system cannot afford is refused. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/volume.h"

static char tmp_root[256];

/* A fresh directory under the test's temporary root. */
static void fresh_dir(char *buf, size_t size, const char *tag)
{
	static int seq;

	snprintf(buf, size, "%s/%s-%d", tmp_root, tag, seq++);
	assert_int_equal(mkdir(buf, 0755), 0);
}

/* The first line of a command's output, "" when none. */
static void run_line(const char *cmd, char *buf, size_t size)
{
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	if (!fgets(buf, (int)size, p))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pclose(p);
}

/* True when `losetup -a` lists a device backed by image. */
static bool losetup_lists(const char *image)
{
	char cmd[PATH_MAX + 64], line[512];

	snprintf(cmd, sizeof(cmd), "losetup -a 2>/dev/null | grep -F '(%s)'", image);
	run_line(cmd, line, sizeof(line));
	return line[0] != '\0';
}

static bool mounted_at(const char *path)
{
	char cmd[PATH_MAX + 64], line[512];

	snprintf(cmd, sizeof(cmd), "findmnt -rn -o TARGET --mountpoint '%s'", path);
	run_line(cmd, line, sizeof(line));
	return line[0] != '\0';
}

static void need_root(void)
{
	char why[256];

	if (geteuid() != 0)
		skip();
	if (lab_volume_supported(LAB_VOLUME_AUTO, NULL, why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		skip();
	}
}

static void need_loop(void)
{
	char why[256];

	need_root();
	if (lab_volume_supported(LAB_VOLUME_LOOP, NULL, why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		skip();
	}
}

/* Teardown from undo must leave nothing of v behind. */
static void assert_gone(const struct lab_volume *v, const char *image)
{
	struct stat st;

	assert_false(mounted_at(v->mountpoint));
	if (image && *image) {
		assert_false(losetup_lists(image));
		assert_int_equal(lstat(image, &st), -1);
	}
	assert_int_equal(lstat(v->mountpoint, &st), -1);
}

static void teardown_ok(const cJSON *vundo, char *report, size_t size)
{
	struct cl_error err;

	cl_error_clear(&err);
	if (lab_volume_teardown(vundo, report, size, &err))
		fail_msg("teardown: %s", err.msg);
}

static void test_path_check(void **state)
{
	struct cl_error err;
	static const char *const good[] = { "a.dat",	   "dir/b.dat",	   "./x/./y",
					    "/v/mnt/file", "/v/mnt/d/e/f", NULL };
	static const char *const bad[] = { "../x",   "a/../../x", "..",		 "/etc/passwd",
					   "/v/mnt", "/v/mntx/a", "/v/mnt/../x", "/v/mnt/a/",
					   "",	     NULL };

	for (const char *const *p = good; *p; p++)
		if (lab_volume_path_check("/v/mnt", *p, &err))
			fail_msg("'%s' refused: %s", *p, err.msg);
	for (const char *const *p = bad; *p; p++) {
		cl_error_clear(&err);
		if (!lab_volume_path_check("/v/mnt", *p, &err))
			fail_msg("'%s' accepted", *p);
	}
	cl_error_clear(&err);
	assert_int_equal(lab_volume_path_check("/v/mnt", "/etc/passwd", &err), -1);
	assert_string_equal(err.msg, "fill target '/etc/passwd' outside the lab volume '/v/mnt'");
}

static void test_loop_create_and_teardown(void **state)
{
	char dir[PATH_MAX], report[512], cmd[PATH_MAX + 64], line[512], disk[32];
	struct lab_volume_opts o = { .name = "vol", .size_mib = 64, .backend = LAB_VOLUME_LOOP };
	struct lab_volume v, again;
	struct statvfs sv;
	struct stat st;
	struct cl_error err;
	cJSON *undo = cJSON_CreateObject();
	char *image;

	need_loop();
	fresh_dir(dir, sizeof(dir), "loop");
	o.dir = dir;
	cl_error_clear(&err);
	if (lab_volume_create(&o, undo, NULL, NULL, &v, &err))
		fail_msg("create: %s", err.msg);
	image = strdup(v.image);

	/* The kernel and the real tools see it. */
	assert_true(lab_volume_mounted(&v));
	assert_true(mounted_at(v.mountpoint));
	assert_true(losetup_lists(v.image));
	snprintf(cmd, sizeof(cmd), "findmnt -rn -o FSTYPE,SOURCE --mountpoint '%s'", v.mountpoint);
	run_line(cmd, line, sizeof(line));
	assert_true(!strncmp(line, "ext4 /dev/loop", 14));
	assert_int_equal(lab_volume_disk_name(&v, disk, sizeof(disk)), 0);
	assert_true(!strncmp(disk, "loop", 4));
	assert_int_equal(statvfs(v.mountpoint, &sv), 0);
	assert_true((double)sv.f_blocks * sv.f_frsize > 48.0 * 1048576);
	assert_true((double)sv.f_blocks * sv.f_frsize <= 64.0 * 1048576);
	/* Sparse: the image takes far less than its size. */
	assert_int_equal(stat(v.image, &st), 0);
	assert_int_equal(st.st_size, 64 * 1048576);
	assert_true(st.st_blocks * 512 < 32 * 1048576);
	/* The undo data describes it. */
	assert_int_equal(lab_volume_from_undo(cJSON_GetObjectItem(undo, "volume"), &again), 0);
	assert_string_equal(again.mountpoint, v.mountpoint);
	assert_string_equal(again.loop, v.loop);
	assert_true(again.dev == v.dev);
	/* Another step finds it. */
	assert_int_equal(lab_volume_find(dir, "vol", &again, &err), 0);
	assert_true(again.dev == v.dev);

	teardown_ok(cJSON_GetObjectItem(undo, "volume"), report, sizeof(report));
	assert_non_null(strstr(report, "unmounted"));
	assert_non_null(strstr(report, "removed"));
	assert_gone(&v, image);
	assert_int_equal(lab_volume_find(dir, "vol", &again, &err), -1);
	/* Idempotent. */
	teardown_ok(cJSON_GetObjectItem(undo, "volume"), report, sizeof(report));
	assert_string_equal(report, "");
	free(image);
	cJSON_Delete(undo);
	rmdir(dir);
}

static void test_tmpfs_create_and_teardown(void **state)
{
	char dir[PATH_MAX], report[512], cmd[PATH_MAX + 64], line[512], disk[32];
	struct lab_volume_opts o = { .name = "tvol", .size_mib = 32, .backend = LAB_VOLUME_TMPFS };
	struct lab_volume v;
	struct statvfs sv;
	struct cl_error err;
	cJSON *undo = cJSON_CreateObject();

	need_root();
	fresh_dir(dir, sizeof(dir), "tmpfs");
	o.dir = dir;
	if (lab_volume_create(&o, undo, NULL, NULL, &v, &err))
		fail_msg("create: %s", err.msg);
	snprintf(cmd, sizeof(cmd), "findmnt -rn -o FSTYPE,SOURCE --mountpoint '%s'", v.mountpoint);
	run_line(cmd, line, sizeof(line));
	assert_string_equal(line, "tmpfs chaoslab-tvol");
	assert_int_equal(statvfs(v.mountpoint, &sv), 0);
	assert_true((double)sv.f_blocks * sv.f_frsize == 32.0 * 1048576);
	assert_int_equal(lab_volume_disk_name(&v, disk, sizeof(disk)), -1);
	teardown_ok(cJSON_GetObjectItem(undo, "volume"), report, sizeof(report));
	assert_non_null(strstr(report, "unmounted"));
	assert_gone(&v, NULL);
	cJSON_Delete(undo);
	rmdir(dir);
}

/* The save callback of a crash test: counts saves, keeps the undo text of
 * the last one, and "dies" (fails) at save number die_at. */
struct crash {
	cJSON *undo;
	int saves, die_at;
	char *journal;
};

static int crash_save(void *arg, struct cl_error *err)
{
	struct crash *c = arg;

	c->saves++;
	free(c->journal);
	c->journal = cJSON_PrintUnformatted(c->undo);
	if (c->die_at && c->saves >= c->die_at)
		return cl_error_set(err, CL_EXIT_USAGE, "simulated crash after save %d", c->saves);
	return 0;
}

static void crash_run(enum lab_volume_backend b, const char *tag)
{
	char dir[PATH_MAX], report[512];
	struct lab_volume_opts o = { .name = "crash", .size_mib = 32, .backend = b };
	struct crash c = { 0 };
	struct lab_volume v;
	struct cl_error err;
	int total;

	/* How many journal points a whole create has. */
	fresh_dir(dir, sizeof(dir), tag);
	o.dir = dir;
	c.undo = cJSON_CreateObject();
	if (lab_volume_create(&o, c.undo, crash_save, &c, &v, &err))
		fail_msg("create: %s", err.msg);
	total = c.saves;
	assert_true(total >= 3);
	teardown_ok(cJSON_GetObjectItem(c.undo, "volume"), report, sizeof(report));
	cJSON_Delete(c.undo);
	free(c.journal);
	rmdir(dir);

	for (int k = 1; k <= total; k++) {
		cJSON *journaled;
		struct lab_volume jv;
		char image[PATH_MAX];

		memset(&c, 0, sizeof(c));
		c.die_at = k;
		c.undo = cJSON_CreateObject();
		fresh_dir(dir, sizeof(dir), tag);
		o.dir = dir;
		cl_error_clear(&err);
		/* The last journal point may be the final save: then create
		 * "succeeds" as far as the kernel is concerned. */
		lab_volume_create(&o, c.undo, crash_save, &c, &v, &err);
		assert_int_equal(c.saves, k);
		journaled = cJSON_Parse(c.journal);
		assert_non_null(journaled);
		if (lab_volume_from_undo(cJSON_GetObjectItem(journaled, "volume"), &jv))
			snprintf(jv.mountpoint, sizeof(jv.mountpoint), "%s/crash", dir);
		snprintf(image, sizeof(image), "%s/crash.img", dir);
		teardown_ok(cJSON_GetObjectItem(journaled, "volume"), report, sizeof(report));
		/* Nothing is left: not the mount, the loop device, the image or
		 * the mount point; and the directory is empty again. */
		assert_gone(&jv, b == LAB_VOLUME_LOOP ? image : NULL);
		if (rmdir(dir) < 0)
			fail_msg("crash after save %d of %d left something in %s: %s", k, total,
				 dir, strerror(errno));
		cJSON_Delete(journaled);
		cJSON_Delete(c.undo);
		free(c.journal);
	}
}

static void test_crash_at_every_journal_point_loop(void **state)
{
	need_loop();
	crash_run(LAB_VOLUME_LOOP, "crash-loop");
}

static void test_crash_at_every_journal_point_tmpfs(void **state)
{
	need_root();
	crash_run(LAB_VOLUME_TMPFS, "crash-tmpfs");
}

/* The state directory's lab/ is made when missing, and removed again. */
static void test_made_dir_removed(void **state)
{
	char dir[PATH_MAX], lab[PATH_MAX + 8], report[512];
	struct lab_volume_opts o = { .name = "m", .size_mib = 16, .backend = LAB_VOLUME_TMPFS };
	struct lab_volume v;
	struct cl_error err;
	struct stat st;
	cJSON *undo = cJSON_CreateObject();

	need_root();
	fresh_dir(dir, sizeof(dir), "made");
	snprintf(lab, sizeof(lab), "%s/lab", dir);
	o.dir = lab;
	if (lab_volume_create(&o, undo, NULL, NULL, &v, &err))
		fail_msg("create: %s", err.msg);
	assert_int_equal(stat(lab, &st), 0);
	teardown_ok(cJSON_GetObjectItem(undo, "volume"), report, sizeof(report));
	assert_int_equal(stat(lab, &st), -1);
	assert_int_equal(rmdir(dir), 0);
	cJSON_Delete(undo);
}

/* Teardown never unmounts a file system that is not ours, nor removes an
 * image file that is not the one it made. */
static void test_foreign_mount_and_image_left_alone(void **state)
{
	char dir[PATH_MAX], mnt[PATH_MAX + 8], img[PATH_MAX + 8], report[512], text[2048];
	struct cl_error err;
	struct stat st;
	cJSON *vundo;
	int fd;

	need_root();
	fresh_dir(dir, sizeof(dir), "foreign");
	snprintf(mnt, sizeof(mnt), "%s/vol", dir);
	snprintf(img, sizeof(img), "%s/vol.img", dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	assert_int_equal(mount("someone-else", mnt, "tmpfs", 0, "size=1m"), 0);
	fd = open(img, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * 1048576), 0);
	close(fd);

	/* A tmpfs volume journaled at that mount point. */
	snprintf(text, sizeof(text),
		 "{\"backend\":\"tmpfs\",\"mountpoint\":\"%s\",\"source\":\"chaoslab-vol\","
		 "\"size_mib\":16}",
		 mnt);
	vundo = cJSON_Parse(text);
	cl_error_clear(&err);
	assert_int_equal(lab_volume_teardown(vundo, report, sizeof(report), &err), -1);
	assert_non_null(strstr(err.msg, "not ours"));
	assert_true(mounted_at(mnt));
	cJSON_Delete(vundo);

	/* A loop volume whose image is another file (other inode). */
	snprintf(text, sizeof(text),
		 "{\"backend\":\"loop\",\"mountpoint\":\"%s/none\",\"image\":\"%s\","
		 "\"image_dev\":1,\"image_ino\":1,\"loop\":\"/dev/loop9999\",\"size_mib\":16}",
		 dir, img);
	vundo = cJSON_Parse(text);
	teardown_ok(vundo, report, sizeof(report));
	assert_non_null(strstr(report, "not the image we made"));
	assert_int_equal(stat(img, &st), 0);
	cJSON_Delete(vundo);

	assert_int_equal(umount(mnt), 0);
	rmdir(mnt);
	unlink(img);
	rmdir(dir);
}

static void test_resolve(void **state)
{
	char dir[PATH_MAX], out[PATH_MAX], link[PATH_MAX + 16], file[PATH_MAX + 16], report[512],
		abs[PATH_MAX + 16];
	struct lab_volume_opts o = { .name = "res", .size_mib = 16, .backend = LAB_VOLUME_TMPFS };
	struct lab_volume v;
	struct cl_error err;
	struct stat st;
	cJSON *undo = cJSON_CreateObject();
	int fd;

	need_root();
	fresh_dir(dir, sizeof(dir), "resolve");
	o.dir = dir;
	if (lab_volume_create(&o, undo, NULL, NULL, &v, &err))
		fail_msg("create: %s", err.msg);

	assert_int_equal(lab_volume_resolve(&v, "a/b/c.dat", true, out, sizeof(out), &err), 0);
	snprintf(abs, sizeof(abs), "%s/a/b/c.dat", v.mountpoint);
	assert_string_equal(out, abs);
	snprintf(abs, sizeof(abs), "%s/a/b", v.mountpoint);
	assert_int_equal(stat(abs, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(abs, sizeof(abs), "%s/x.dat", v.mountpoint);
	assert_int_equal(lab_volume_resolve(&v, abs, true, out, sizeof(out), &err), 0);

	/* A symlink inside the volume pointing out of it. */
	snprintf(link, sizeof(link), "%s/out", v.mountpoint);
	assert_int_equal(symlink(tmp_root, link), 0);
	cl_error_clear(&err);
	assert_int_equal(lab_volume_resolve(&v, "out/escape.dat", true, out, sizeof(out), &err),
			 -1);
	assert_non_null(strstr(err.msg, "outside the lab volume"));
	/* A file where a directory should be. */
	snprintf(file, sizeof(file), "%s/plain", v.mountpoint);
	fd = open(file, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(lab_volume_resolve(&v, "plain/x.dat", true, out, sizeof(out), &err), -1);
	assert_int_equal(lab_volume_resolve(&v, "../x.dat", true, out, sizeof(out), &err), -1);
	assert_int_equal(lab_volume_resolve(&v, "/etc/x.dat", true, out, sizeof(out), &err), -1);
	snprintf(file, sizeof(file), "%s/escape.dat", tmp_root);
	assert_int_equal(stat(file, &st), -1);

	teardown_ok(cJSON_GetObjectItem(undo, "volume"), report, sizeof(report));
	/* Not mounted any more: nothing resolves. */
	assert_int_equal(lab_volume_resolve(&v, "a.dat", true, out, sizeof(out), &err), -1);
	cJSON_Delete(undo);
	rmdir(dir);
}

/* An image the host file system cannot afford is refused before anything
 * is made: here the "host" is a 64 MiB tmpfs. */
static void test_host_space_refused(void **state)
{
	char dir[PATH_MAX];
	struct lab_volume_opts o = { .name = "big", .size_mib = 256, .backend = LAB_VOLUME_LOOP };
	struct lab_volume v;
	struct cl_error err;
	cJSON *undo = cJSON_CreateObject();

	need_loop();
	fresh_dir(dir, sizeof(dir), "small-host");
	assert_int_equal(mount("chaoslab-test-host", dir, "tmpfs", 0, "size=64m"), 0);
	o.dir = dir;
	cl_error_clear(&err);
	assert_int_equal(lab_volume_create(&o, undo, NULL, NULL, &v, &err), -1);
	assert_non_null(strstr(err.msg, "refused"));
	assert_false(losetup_lists(dir));
	assert_int_equal(umount(dir), 0);
	assert_int_equal(rmdir(dir), 0);
	cJSON_Delete(undo);
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
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_loop_create_and_teardown),
		cmocka_unit_test(test_tmpfs_create_and_teardown),
		cmocka_unit_test(test_crash_at_every_journal_point_loop),
		cmocka_unit_test(test_crash_at_every_journal_point_tmpfs),
		cmocka_unit_test(test_made_dir_removed),
		cmocka_unit_test(test_foreign_mount_and_image_left_alone),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_host_space_refused),
	};
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (geteuid() != 0)
		printf("SKIP (most tests): volumes need root\n");
	snprintf(tmp_root, sizeof(tmp_root), "%s/chaoslab-volume-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cleanup_tree();
	return rc;
}
