/* Tests of the feature probes in harness/sys/features.c.
 *
 * Two kinds: probes of this machine, checked for consistency with what the
 * test reads itself (cgroup mounts, /lib/modules, the kernel config,
 * /proc/pressure), so they hold on a CI box and on a user's box alike; and
 * probes of fake trees (env->root) for the states this machine is not in:
 * a loadable sch_netem, a module not installed, a v2-only cgroup layout, PSI
 * off. kubectl is faked by a script on PATH, including one that hangs. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "sys/features.h"

#define RELEASE "6.1.0-test-amd64"

/* ---- fake trees and files ------------------------------------------------ */

static char *fake_root(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL;

	assert_true(asprintf(&dir, "%s/test_features.XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* mkdir -p of root/rel's parent, then write text (NULL = a directory). */
static void put(const char *root, const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	if (!text) {
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		return;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- results and privileges ---------------------------------------------- */

static void test_status_and_explain(void **state)
{
	struct feature f = { .status = FEATURE_MISSING };
	char why[128];

	(void)state;
	assert_string_equal(feature_status_name(FEATURE_OK), "ok");
	assert_string_equal(feature_status_name(FEATURE_WARN), "warn");
	assert_string_equal(feature_status_name(FEATURE_MISSING), "missing");
	snprintf(f.detail, sizeof(f.detail), "no netem");
	snprintf(f.remedy, sizeof(f.remedy), "modprobe sch_netem");
	assert_int_equal(feature_explain(&f, why, sizeof(why)), -1);
	assert_string_equal(why, "no netem (modprobe sch_netem)");
	f.status = FEATURE_OK;
	f.remedy[0] = '\0';
	assert_int_equal(feature_explain(&f, why, sizeof(why)), 0);
	assert_string_equal(why, "no netem");
}

static void test_caps_consistent(void **state)
{
	size_t n = 0, required = 0;

	(void)state;
	for (const struct feature_cap *c = feature_caps; c->name; c++, n++) {
		struct feature f;
		enum feature_status st = feature_probe_cap(c, &f);

		assert_int_equal(st, f.status);
		assert_true(strlen(f.detail) > 0);
		assert_int_equal(strncmp(c->name, "CAP_", 4), 0);
		if (feature_cap_effective(c->cap)) {
			assert_int_equal(st, FEATURE_OK);
		} else {
			assert_int_equal(st, c->required ? FEATURE_MISSING : FEATURE_WARN);
			assert_true(strlen(f.remedy) > 0);
		}
		required += c->required;
	}
	assert_int_equal(n, 6);
	assert_int_equal(required, 3);
	assert_int_equal(feature_caps[0].cap, CAP_SYS_ADMIN);
	if (geteuid() == 0 && feature_cap_effective(CAP_SYS_ADMIN)) {
		struct feature f;
		assert_int_equal(feature_probe_cap(&feature_caps[0], &f), FEATURE_OK);
	}
}

static void test_user(void **state)
{
	struct feature f;

	(void)state;
	assert_int_equal(feature_probe_user(&f), geteuid() == 0 ? FEATURE_OK : FEATURE_WARN);
}

/* ---- kernel config and modules (fake trees) ------------------------------ */

static const char config_text[] = "#\n# Linux/x86 6.1.0 Kernel Configuration\n#\n"
				  "CONFIG_MODULES=y\n"
				  "CONFIG_NET_SCH_TBF=y\n"
				  "CONFIG_NET_SCH_NETEM=m\n"
				  "CONFIG_NET_SCH_NETEM_EXTRA=y\n"
				  "# CONFIG_NET_SCH_CAKE is not set\n"
				  "CONFIG_LOCALVERSION=\"-test\"\n";

static void test_kconfig(void **state)
{
	struct feature_env env;
	char *root = fake_root();
	char val[64];

	(void)state;
	put(root, "boot/config-" RELEASE, config_text);
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_kconfig(&env, "CONFIG_NET_SCH_TBF", val, sizeof(val)), 1);
	assert_string_equal(val, "y");
	assert_int_equal(feature_kconfig(&env, "CONFIG_NET_SCH_NETEM", val, sizeof(val)), 1);
	assert_string_equal(val, "m"); /* not CONFIG_NET_SCH_NETEM_EXTRA */
	assert_int_equal(feature_kconfig(&env, "CONFIG_NET_SCH_CAKE", val, sizeof(val)), 0);
	assert_string_equal(val, "n");
	assert_int_equal(feature_kconfig(&env, "CONFIG_NOWHERE", val, sizeof(val)), 0);
	assert_int_equal(feature_kconfig(&env, "CONFIG_LOCALVERSION", val, sizeof(val)), 1);
	assert_string_equal(val, "\"-test\"");
	assert_string_equal(env.kconfig_src, "/boot/config-" RELEASE);
	feature_env_release(&env);

	/* No config anywhere. */
	feature_env_init(&env, root, "9.9.9-none");
	assert_int_equal(feature_kconfig(&env, "CONFIG_NET_SCH_TBF", val, sizeof(val)), -1);
	assert_string_equal(val, "");
	feature_env_release(&env);
	rm_tree(root);
}

static void test_kmod_loaded_and_builtin(void **state)
{
	struct feature_env env;
	struct kmod_info k;
	struct feature f;
	char *root = fake_root();

	(void)state;
	put(root, "sys/module/sch_netem/initstate", "live\n");
	put(root, "sys/module/sch_htb/parameters", NULL);
	put(root, "lib/modules/" RELEASE "/modules.builtin",
	    "kernel/net/sched/sch_tbf.ko\nkernel/drivers/net/veth.ko\n");
	put(root, "lib/modules/" RELEASE "/modules.dep", "");
	feature_env_init(&env, root, RELEASE);

	assert_int_equal(feature_kmod(&env, "sch_netem", NULL, &k), KMOD_LOADED);
	assert_int_equal(k.modprobe_rc, -1); /* a fake root never runs modprobe */
	assert_int_equal(feature_kmod(&env, "sch_htb", NULL, &k), KMOD_BUILTIN);
	assert_int_equal(feature_kmod(&env, "sch_tbf", NULL, &k), KMOD_BUILTIN);
	assert_int_equal(feature_probe_veth(&env, &f), FEATURE_OK);
	assert_non_null(strstr(f.detail, "built into kernel " RELEASE));
	assert_int_equal(feature_probe_netem(&env, &f), FEATURE_OK);
	assert_non_null(strstr(f.detail, "loaded"));
	/* Neither loaded nor listed, with a modules directory: absent. */
	assert_int_equal(feature_kmod(&env, "sch_cake", NULL, &k), KMOD_ABSENT);
	assert_string_equal(kmod_state_name(KMOD_ABSENT), "absent");
	feature_env_release(&env);
	rm_tree(root);
}

static void test_kmod_loadable(void **state)
{
	struct feature_env env;
	struct kmod_info k;
	struct feature f;
	char *root = fake_root();

	(void)state;
	put(root, "lib/modules/" RELEASE "/modules.dep",
	    "kernel/net/sched/sch_netem2.ko: \n"
	    "kernel/net/sched/sch_netem.ko.xz: \n"
	    "kernel/sound/snd-hda-intel.ko.zst: kernel/sound/snd.ko.zst\n");
	put(root, "lib/modules/" RELEASE "/modules.builtin", "kernel/net/sched/sch_tbf.ko\n");
	put(root, "boot/config-" RELEASE, config_text);
	feature_env_init(&env, root, RELEASE);

	assert_int_equal(feature_kmod(&env, "sch_netem", "CONFIG_NET_SCH_NETEM", &k),
			 KMOD_LOADABLE);
	assert_string_equal(k.file, "kernel/net/sched/sch_netem.ko.xz");
	assert_string_equal(k.kconfig, "m");
	assert_false(k.no_module_support);
	assert_int_equal(feature_probe_netem(&env, &f), FEATURE_WARN);
	assert_non_null(strstr(f.remedy, "modprobe sch_netem"));
	assert_non_null(strstr(f.remedy, "CONFIG_NET_SCH_NETEM"));
	/* '-' and '_' are the same in module names. */
	assert_int_equal(feature_kmod(&env, "snd_hda_intel", NULL, &k), KMOD_LOADABLE);
	feature_env_release(&env);
	rm_tree(root);
}

static void test_kmod_not_installed_absent_unknown(void **state)
{
	struct feature_env env;
	struct kmod_info k;
	struct feature f;
	char *root = fake_root();
	char *bare = fake_root();

	(void)state;
	/* Configured as a module, but no /lib/modules for the kernel. */
	put(root, "boot/config-" RELEASE, config_text);
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_kmod(&env, "sch_netem", "CONFIG_NET_SCH_NETEM", &k),
			 KMOD_NOT_INSTALLED);
	assert_string_equal(k.modules_dir, "");
	assert_int_equal(feature_probe_netem(&env, &f), FEATURE_MISSING);
	assert_non_null(strstr(f.remedy, "linux-image-" RELEASE));
	assert_int_equal(feature_probe_tbf(&env, &f), FEATURE_OK);
	feature_env_release(&env);

	/* Built without it, and without module support (this CI box's shape). */
	put(root, "boot/config-" RELEASE,
	    "# CONFIG_MODULES is not set\nCONFIG_NET_SCH_TBF=y\n"
	    "# CONFIG_NET_SCH_NETEM is not set\nCONFIG_VETH=y\n");
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_kmod(&env, "sch_netem", "CONFIG_NET_SCH_NETEM", &k), KMOD_ABSENT);
	assert_true(k.no_module_support);
	assert_int_equal(feature_probe_netem(&env, &f), FEATURE_MISSING);
	assert_non_null(strstr(f.detail, "CONFIG_NET_SCH_NETEM is not set"));
	assert_non_null(strstr(f.detail, "no module support"));
	assert_non_null(strstr(f.remedy, "CONFIG_NET_SCH_NETEM"));
	assert_int_equal(feature_probe_veth(&env, &f), FEATURE_OK);
	feature_env_release(&env);

	/* Nothing to go by. */
	feature_env_init(&env, bare, RELEASE);
	assert_int_equal(feature_kmod(&env, "sch_netem", "CONFIG_NET_SCH_NETEM", &k), KMOD_UNKNOWN);
	assert_int_equal(feature_probe_netem(&env, &f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "cannot tell"));
	feature_env_release(&env);
	rm_tree(root);
	rm_tree(bare);
}

/* ---- kernel modules (this machine) --------------------------------------- */

/* What the probe says about sch_netem must follow from /sys/module,
 * /lib/modules/$(uname -r) and the kernel config as read here. */
static void test_netem_live_consistent(void **state)
{
	struct utsname u;
	struct kmod_info k;
	struct feature f;
	struct feature_env env;
	char moddir[512], dep[600], builtin[600], val[16];
	enum kmod_state s;
	int kc;

	(void)state;
	assert_int_equal(uname(&u), 0);
	snprintf(moddir, sizeof(moddir), "/lib/modules/%s", u.release);
	snprintf(dep, sizeof(dep), "%s/modules.dep", moddir);
	snprintf(builtin, sizeof(builtin), "%s/modules.builtin", moddir);
	s = feature_kmod(NULL, "sch_netem", "CONFIG_NET_SCH_NETEM", &k);
	feature_probe_netem(NULL, &f);

	if (access("/sys/module/sch_netem/initstate", F_OK) == 0) {
		assert_int_equal(s, KMOD_LOADED);
	} else if (is_dir("/sys/module/sch_netem") || file_has(builtin, "/sch_netem.ko")) {
		assert_int_equal(s, KMOD_BUILTIN);
	} else if (file_has(dep, "/sch_netem.ko")) {
		assert_int_equal(s, KMOD_LOADABLE);
		assert_int_equal(f.status, FEATURE_WARN);
		assert_non_null(strstr(f.remedy, "modprobe sch_netem"));
	} else {
		/* Not loaded, not built in by sysfs, no module file. */
		assert_true(s != KMOD_LOADED && s != KMOD_LOADABLE);
		feature_env_init(&env, NULL, NULL);
		kc = feature_kconfig(&env, "CONFIG_NET_SCH_NETEM", val, sizeof(val));
		feature_env_release(&env);
		if (kc == 0)
			assert_int_equal(s, KMOD_ABSENT);
		else if (kc == 1 && !strcmp(val, "m"))
			assert_int_equal(s, KMOD_NOT_INSTALLED);
		else if (kc == 1 && !strcmp(val, "y"))
			assert_int_equal(s, KMOD_BUILTIN);
		if (s == KMOD_ABSENT || s == KMOD_NOT_INSTALLED)
			assert_int_equal(f.status, FEATURE_MISSING);
	}
	assert_true(strlen(f.detail) > 0);
	if (f.status != FEATURE_OK)
		assert_true(strlen(f.remedy) > 0);
	/* The others just must not crash and must say something. */
	assert_true(feature_probe_tbf(NULL, &f) <= FEATURE_MISSING && f.detail[0]);
	assert_true(feature_probe_veth(NULL, &f) <= FEATURE_MISSING && f.detail[0]);
}

/* ---- namespaces, seccomp, PSI -------------------------------------------- */

static void test_netns(void **state)
{
	struct feature_env env;
	struct feature f;
	char *root = fake_root();

	(void)state;
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_probe_netns(&env, &f), FEATURE_MISSING);
	assert_non_null(strstr(f.remedy, "CONFIG_NET_NS"));
	put(root, "proc/self/ns/net", "");
	assert_int_equal(feature_probe_netns(&env, &f), FEATURE_OK);
	feature_env_release(&env);
	rm_tree(root);

	feature_probe_netns(NULL, &f);
	if (access("/proc/self/ns/net", F_OK) == 0 && geteuid() == 0 &&
	    feature_cap_effective(CAP_SYS_ADMIN))
		assert_int_equal(f.status, FEATURE_OK);
	else
		assert_true(f.detail[0]);
}

static void test_seccomp(void **state)
{
	struct feature f;

	(void)state;
	feature_probe_seccomp(&f);
	assert_non_null(strstr(f.detail, "libseccomp "));
	if (access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0)
		assert_int_equal(f.status, FEATURE_OK);
}

static void test_psi(void **state)
{
	struct feature_env env;
	struct feature f;
	char *root = fake_root();
	FILE *live;

	(void)state;
	put(root, "boot/config-" RELEASE, "CONFIG_PSI=y\nCONFIG_PSI_DEFAULT_DISABLED=y\n");
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_probe_psi(&env, &f), FEATURE_WARN);
	assert_non_null(strstr(f.remedy, "psi=1"));
	assert_non_null(strstr(f.detail, "CONFIG_PSI_DEFAULT_DISABLED"));
	feature_env_release(&env);

	put(root, "boot/config-" RELEASE, "# CONFIG_PSI is not set\n");
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_probe_psi(&env, &f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "without CONFIG_PSI"));
	feature_env_release(&env);

	put(root, "proc/pressure/cpu", "some avg10=1.00 avg60=0.50 avg300=0.10 total=1234\n");
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_probe_psi(&env, &f), FEATURE_OK);
	assert_non_null(strstr(f.detail, "avg10=1.00"));
	feature_env_release(&env);
	rm_tree(root);

	/* This machine: ok exactly when the file can be read. */
	live = fopen("/proc/pressure/cpu", "r");
	char line[256] = "";
	bool readable = live && fgets(line, sizeof(line), live);
	if (live)
		fclose(live);
	assert_int_equal(feature_probe_psi(NULL, &f), readable ? FEATURE_OK : FEATURE_WARN);
}

/* ---- cgroups ------------------------------------------------------------- */

static const char proc_cgroups[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
				   "cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\n"
				   "blkio\t7\t1\t1\nmemory\t4\t29\t1\ndevices\t5\t1\t1\n"
				   "freezer\t6\t1\t1\nnet_cls\t0\t1\t1\nperf_event\t0\t1\t1\n"
				   "net_prio\t0\t1\t1\nhugetlb\t0\t1\t1\npids\t8\t1\t1\n";

/* This CI box's layout: v1 controllers, an empty cgroup2 at .../unified. */
static const char hybrid_mountinfo[] =
	"22 1 0:20 / /proc rw,nosuid - proc proc rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
	"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
	"38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	"90 32 0:29 / /mnt/again\\040cpu rw,relatime - cgroup cgroup rw,cpu\n";

static void test_cgroups_hybrid_no_v2_controllers(void **state)
{
	struct feature_env env;
	struct cgroup_info ci;
	struct feature f;
	const char *path = NULL;
	char *root = fake_root();

	(void)state;
	put(root, "proc/self/mountinfo", hybrid_mountinfo);
	put(root, "proc/cgroups", proc_cgroups);
	put(root, "sys/fs/cgroup/unified/cgroup.controllers", "\n");
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_cgroups(&env, &ci), 0);
	feature_env_release(&env);

	assert_int_equal(ci.nv1, 9); /* eight controllers + name=systemd; the bind is one */
	assert_int_equal(ci.nsubsys, 12);
	assert_true(ci.v2);
	assert_true(ci.v2_readable);
	assert_string_equal(ci.v2_path, "/sys/fs/cgroup/unified");
	assert_string_equal(ci.v2_controllers, "");
	assert_int_equal(cgroup_controller_where(&ci, "memory", &path), CGROUP_V1);
	assert_string_equal(path, "/sys/fs/cgroup/memory");
	assert_int_equal(cgroup_controller_where(&ci, "io", &path), CGROUP_V1);
	assert_string_equal(path, "/sys/fs/cgroup/blkio");
	assert_int_equal(cgroup_controller_where(&ci, "rdma", NULL), CGROUP_NOWHERE);

	assert_int_equal(feature_probe_cgroup_v1(&ci, &f), FEATURE_OK);
	assert_non_null(strstr(f.detail, "memory"));
	assert_non_null(strstr(f.detail, "name=systemd"));
	assert_non_null(strstr(f.detail, "under /sys/fs/cgroup"));
	assert_int_equal(feature_probe_cgroup_v2(&ci, &f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "no controllers"));
	assert_non_null(strstr(f.detail, "hybrid"));
	assert_int_equal(feature_probe_cgroup_controllers(&ci, &f), FEATURE_OK);
	assert_string_equal(f.detail, "cpu v1, memory v1, io v1, pids v1");
	rm_tree(root);
}

static void test_cgroups_v2_only(void **state)
{
	struct feature_env env;
	struct cgroup_info ci;
	struct feature f;
	const char *path = NULL;
	char *root = fake_root();

	(void)state;
	put(root, "proc/self/mountinfo",
	    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
	    "cgroup2 rw,nsdelegate,memory_recursiveprot\n");
	put(root, "sys/fs/cgroup/cgroup.controllers",
	    "cpuset cpu io memory hugetlb pids rdma misc\n");
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_cgroups(&env, &ci), 0);
	feature_env_release(&env);

	assert_int_equal(ci.nv1, 0);
	assert_int_equal(cgroup_controller_where(&ci, "cpu", &path), CGROUP_V2);
	assert_string_equal(path, "/sys/fs/cgroup");
	assert_int_equal(cgroup_controller_where(&ci, "io", NULL), CGROUP_V2);
	assert_int_equal(feature_probe_cgroup_v1(&ci, &f), FEATURE_OK);
	assert_non_null(strstr(f.detail, "v2 only"));
	assert_int_equal(feature_probe_cgroup_v2(&ci, &f), FEATURE_OK);
	assert_non_null(strstr(f.detail, "cpuset cpu io memory"));
	assert_null(strstr(f.detail, "hybrid"));
	assert_int_equal(feature_probe_cgroup_controllers(&ci, &f), FEATURE_OK);
	assert_string_equal(f.detail, "cpu v2, memory v2, io v2, pids v2");
	rm_tree(root);
}

static void test_cgroups_none(void **state)
{
	struct feature_env env;
	struct cgroup_info ci;
	struct feature f;
	char *root = fake_root();

	(void)state;
	feature_env_init(&env, root, RELEASE);
	assert_int_equal(feature_cgroups(&env, &ci), -1); /* no mountinfo */
	put(root, "proc/self/mountinfo", "22 1 0:20 / /proc rw - proc proc rw\n");
	assert_int_equal(feature_cgroups(&env, &ci), 0);
	feature_env_release(&env);
	assert_int_equal(feature_probe_cgroup_v2(&ci, &f), FEATURE_MISSING);
	assert_int_equal(feature_probe_cgroup_v1(&ci, &f), FEATURE_WARN);
	assert_int_equal(feature_probe_cgroup_controllers(&ci, &f), FEATURE_WARN);
	assert_true(strlen(f.remedy) > 0);
	rm_tree(root);
}

/* This machine: what the probe found must match a plain read of mountinfo
 * and of the v2 mount's cgroup.controllers. */
static void test_cgroups_live(void **state)
{
	struct cgroup_info ci;
	struct feature f;
	FILE *mi;
	char line[2048], ctl[256] = "";
	bool v1 = false, v2 = false;

	(void)state;
	mi = fopen("/proc/self/mountinfo", "r");
	assert_non_null(mi);
	while (fgets(line, sizeof(line), mi)) {
		char *sep = strstr(line, " - ");
		if (sep && !strncmp(sep, " - cgroup2 ", 11))
			v2 = true;
		else if (sep && !strncmp(sep, " - cgroup ", 10))
			v1 = true;
	}
	fclose(mi);

	assert_int_equal(feature_cgroups(NULL, &ci), 0);
	assert_int_equal(ci.nv1 > 0, v1);
	assert_int_equal(ci.v2, v2);
	if (v1) {
		assert_int_equal(feature_probe_cgroup_v1(&ci, &f), FEATURE_OK);
		assert_non_null(strstr(f.detail, strtok(ci.v1[0].controllers, ",")));
	}
	if (v2) {
		char path[512];
		FILE *c;

		snprintf(path, sizeof(path), "%s/cgroup.controllers", ci.v2_path);
		c = fopen(path, "r");
		assert_non_null(c);
		if (!fgets(ctl, sizeof(ctl), c))
			ctl[0] = '\0';
		fclose(c);
		ctl[strcspn(ctl, "\n")] = '\0';
		assert_string_equal(ci.v2_controllers, ctl);
		feature_probe_cgroup_v2(&ci, &f);
		if (!ctl[0])
			assert_non_null(strstr(f.detail, "no controllers"));
		else
			assert_non_null(strstr(f.detail, ctl));
		print_message("cgroup v2 at %s: %s\n", ci.v2_path, f.detail);
	}
}

/* ---- tools and kubectl --------------------------------------------------- */

static void test_tools(void **state)
{
	const struct feature_tool fake = { "no-such-tool-xyz", "pkg-xyz", "nothing" };
	struct feature f;
	char path[512], *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	size_t n = 0;

	(void)state;
	assert_true(feature_which("sh", path, sizeof(path)) >= 0);
	assert_non_null(strstr(path, "/sh"));
	assert_int_equal(feature_which("no-such-tool-xyz", path, sizeof(path)), -1);
	assert_int_equal(feature_probe_tool(&fake, &f), FEATURE_MISSING);
	assert_string_equal(f.remedy, "apt-get install pkg-xyz");
	for (const struct feature_tool *t = feature_tools; t->name; t++, n++) {
		assert_non_null(t->package);
		feature_probe_tool(t, &f);
		assert_true(f.detail[0]);
	}
	assert_true(n >= 8);
	/* A root-only tool off a user's PATH is found, with a warning. */
	if (access("/usr/sbin/tc", X_OK) == 0 && access("/usr/bin/tc", X_OK) != 0) {
		const struct feature_tool tc = { "tc", "iproute2", "qdiscs" };
		setenv("PATH", "/usr/bin:/bin", 1);
		assert_int_equal(feature_which("tc", path, sizeof(path)), 1);
		assert_int_equal(feature_probe_tool(&tc, &f), FEATURE_WARN);
		assert_non_null(strstr(f.remedy, "PATH"));
		setenv("PATH", old, 1);
	}
	free(old);
}

/* Install a fake kubectl whose body is script, first on PATH. */
static void fake_kubectl(const char *dir, const char *script)
{
	char path[600];

	put(dir, "kubectl", script);
	snprintf(path, sizeof(path), "%s/kubectl", dir);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_kubectl(void **state)
{
	char *dir = fake_root();
	char *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char path[700];
	struct feature f;
	double t0;

	(void)state;
	/* No kubectl at all. */
	setenv("PATH", dir, 1);
	assert_int_equal(feature_probe_kubectl(&f), FEATURE_MISSING);
	assert_true(strlen(f.remedy) > 0);
	assert_int_equal(feature_probe_kube_context(&f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "no kubectl"));

	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", dir);
	setenv("PATH", path, 1);
	fake_kubectl(dir, "#!/bin/sh\n"
			  "case \"$1 $2\" in\n"
			  "'version --client') echo 'Client Version: v9.9.9'; "
			  "echo 'Kustomize Version: v5.0.0';;\n"
			  "'config current-context') echo 'error: current-context is not set' >&2; "
			  "exit 1;;\n"
			  "esac\n");
	assert_int_equal(feature_probe_kubectl(&f), FEATURE_OK);
	assert_int_equal(strncmp(f.detail, "v9.9.9 (", 8), 0);
	assert_int_equal(feature_probe_kube_context(&f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "no current context"));
	assert_non_null(strstr(f.detail, "current-context is not set"));

	/* Older kubectl output, and a context. */
	fake_kubectl(dir, "#!/bin/sh\n"
			  "case \"$1 $2\" in\n"
			  "'version --client') echo 'Client Version: version.Info{Major:\"1\", "
			  "Minor:\"24\", GitVersion:\"v1.24.17\", GitCommit:\"abc\"}';;\n"
			  "'config current-context') echo kind-lab;;\n"
			  "esac\n");
	assert_int_equal(feature_probe_kubectl(&f), FEATURE_OK);
	assert_int_equal(strncmp(f.detail, "v1.24.17 (", 10), 0);
	assert_int_equal(feature_probe_kube_context(&f), FEATURE_OK);
	assert_string_equal(f.detail, "kind-lab");

	/* A kubectl that hangs: the probe gives up after its timeout. */
	fake_kubectl(dir, "#!/bin/sh\nsleep 60\n");
	t0 = now();
	assert_int_equal(feature_probe_kube_context(&f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "timed out"));
	assert_true(now() - t0 < 10);

	/* A kubectl that fails. */
	fake_kubectl(dir, "#!/bin/sh\necho 'exec format error' >&2\nexit 126\n");
	assert_int_equal(feature_probe_kubectl(&f), FEATURE_WARN);
	assert_non_null(strstr(f.detail, "exec format error"));

	setenv("PATH", old, 1);
	free(old);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_and_explain),
		cmocka_unit_test(test_caps_consistent),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_kconfig),
		cmocka_unit_test(test_kmod_loaded_and_builtin),
		cmocka_unit_test(test_kmod_loadable),
		cmocka_unit_test(test_kmod_not_installed_absent_unknown),
		cmocka_unit_test(test_netem_live_consistent),
		cmocka_unit_test(test_netns),
		cmocka_unit_test(test_seccomp),
		cmocka_unit_test(test_psi),
		cmocka_unit_test(test_cgroups_hybrid_no_v2_controllers),
		cmocka_unit_test(test_cgroups_v2_only),
		cmocka_unit_test(test_cgroups_none),
		cmocka_unit_test(test_cgroups_live),
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_kubectl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
