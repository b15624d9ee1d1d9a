/* Tests of harness/sys/cgroup.c: names, the parsers, the undo JSON, the file
 * formats of both versions against a plain directory standing in for a
 * cgroup, the ownership checks, and, with root, real memory cgroups: made,
 * limited, joined, OOM-killed in (the kernel's own count and the child's
 * SIGKILL), and removed again, their foreign members moved out alive and
 * their own killed. The real tests run on v1 and v2 each where this machine
 * has that version's memory controller, and skip saying why where not. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/cgroup.h"
#include "sys/proc.h"

#define MIB (1ULL << 20)

static char tmp_root[512];

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void read_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* ---- pure functions ------------------------------------------------------- */

static void test_name(void **state)
{
	char buf[300], big[300];

	assert_int_equal(memcg_name(buf, sizeof(buf), "20250101T000000Z-oom-loop-ab12", "thumbd"),
			 0);
	assert_string_equal(buf, "chaoslab-20250101T000000Z-oom-loop-ab12-thumbd");
	/* Nothing that could climb out of the directory or split a path. */
	assert_int_equal(memcg_name(buf, sizeof(buf), "run/../x", "a b"), 0);
	assert_string_equal(buf, "chaoslab-run_.._x-a_b");
	/* Too long for a file name: refused, not cut. */
	memset(big, 'r', 260);
	big[260] = '\0';
	assert_int_equal(memcg_name(buf, sizeof(buf), big, "s"), -1);
	assert_string_equal(buf, "");
	assert_int_equal(memcg_name(buf, 16, "run", "step"), -1);
}

static void test_parse_oom_kill(void **state)
{
	unsigned long long v = 99;

	/* v1 memory.oom_control: oom_kill_disable must not be mistaken for it. */
	assert_int_equal(memcg_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", &v),
			 0);
	assert_int_equal(v, 7);
	/* v2 memory.events. */
	assert_int_equal(memcg_parse_oom_kill("low 0\nhigh 0\nmax 41\noom 3\noom_kill 2\n"
					      "oom_group_kill 0\n",
					      &v),
			 0);
	assert_int_equal(v, 2);
	/* Before 4.13 there was no count. */
	assert_int_equal(memcg_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n", &v), -1);
	assert_int_equal(memcg_parse_oom_kill("", &v), -1);
}

static void test_parse_limit(void **state)
{
	unsigned long long v = 0;

	assert_int_equal(memcg_parse_limit("max\n", &v), 0);
	assert_true(v == MEMCG_UNLIMITED);
	/* v1's "unlimited": LONG_MAX rounded down to a 4 KiB page. */
	assert_int_equal(memcg_parse_limit("9223372036854771712\n", &v), 0);
	assert_true(v == MEMCG_UNLIMITED);
	assert_int_equal(memcg_parse_limit("201326592\n", &v), 0);
	assert_true(v == 201326592ULL);
	assert_int_equal(memcg_parse_limit("maximum\n", &v), -1);
	assert_int_equal(memcg_parse_limit("12 MiB\n", &v), -1);
	assert_int_equal(memcg_parse_limit("", &v), -1);
}

static void test_json(void **state)
{
	struct memcg cg = { .version = CGROUP_V2 }, back;
	cJSON *j, *bad;

	snprintf(cg.path, sizeof(cg.path), "/sys/fs/cgroup/chaoslab-r-s");
	j = memcg_to_json(&cg);
	assert_non_null(j);
	assert_int_equal(memcg_from_json(j, &back), 0);
	assert_string_equal(back.path, cg.path);
	assert_int_equal(back.version, CGROUP_V2);
	cJSON_Delete(j);

	bad = cJSON_Parse("{\"path\": \"relative/x\", \"version\": 1}");
	assert_int_equal(memcg_from_json(bad, &back), -1);
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"path\": \"/x\", \"version\": 3}");
	assert_int_equal(memcg_from_json(bad, &back), -1);
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"version\": 1}");
	assert_int_equal(memcg_from_json(bad, &back), -1);
	cJSON_Delete(bad);
	assert_int_equal(memcg_from_json(NULL, &back), -1);
}

static void test_bytes_text(void **state)
{
	char buf[32];

	assert_string_equal(memcg_bytes_text(192 * MIB, buf, sizeof(buf)), "192 MiB");
	assert_string_equal(memcg_bytes_text(1536 * MIB, buf, sizeof(buf)), "1.5 GiB");
	assert_string_equal(memcg_bytes_text(132 * 1024, buf, sizeof(buf)), "132 KiB");
	assert_string_equal(memcg_bytes_text(MEMCG_UNLIMITED, buf, sizeof(buf)), "unlimited");
}

/* ---- the file formats, on a plain directory ---------------------------------- */

/* A directory with empty control files, standing in for a cgroup: the
 * formats each version reads and writes, nothing the kernel does. */
static void fake_cgroup(struct memcg *cg, enum cgroup_where v, const char *tag)
{
	static const char *const v1_files[] = { "memory.limit_in_bytes", "memory.usage_in_bytes",
						"memory.oom_control", "cgroup.procs", NULL };
	static const char *const v2_files[] = { "memory.max", "memory.current", "memory.events",
						"cgroup.procs", NULL };

	memset(cg, 0, sizeof(*cg));
	cg->version = v;
	snprintf(cg->path, sizeof(cg->path), "%s/%s", tmp_root, tag);
	assert_int_equal(mkdir(cg->path, 0700), 0);
	for (const char *const *f = v == CGROUP_V2 ? v2_files : v1_files; *f; f++)
		write_file(cg->path, *f, "");
}

static void fake_cleanup(const struct memcg *cg)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cg->path);
	assert_int_equal(system(cmd), 0);
}

static void test_formats_v2(void **state)
{
	struct memcg cg;
	struct cl_error err;
	unsigned long long v;
	pid_t pids[4];
	char text[128];

	fake_cgroup(&cg, CGROUP_V2, "v2");
	cl_error_clear(&err);
	assert_int_equal(memcg_limit_set(&cg, 192 * MIB, &err), 0);
	read_file(cg.path, "memory.max", text, sizeof(text));
	assert_string_equal(text, "201326592");
	write_file(cg.path, "memory.max", "");
	assert_int_equal(memcg_limit_set(&cg, MEMCG_UNLIMITED, &err), 0);
	read_file(cg.path, "memory.max", text, sizeof(text));
	assert_string_equal(text, "max");
	assert_int_equal(memcg_limit_get(&cg, &v, &err), 0);
	assert_true(v == MEMCG_UNLIMITED);

	write_file(cg.path, "memory.current", "1052672\n");
	assert_int_equal(memcg_usage(&cg, &v, &err), 0);
	assert_true(v == 1052672ULL);
	write_file(cg.path, "memory.events", "low 0\nhigh 0\nmax 9\noom 4\noom_kill 4\n");
	assert_int_equal(memcg_oom_kills(&cg, &v, &err), 0);
	assert_true(v == 4);
	write_file(cg.path, "cgroup.procs", "12\n345\n6789\n");
	assert_int_equal(memcg_procs(&cg, pids, 2, &err), 3);
	assert_int_equal(pids[0], 12);
	assert_int_equal(pids[1], 345);
	write_file(cg.path, "cgroup.procs", "");
	assert_int_equal(memcg_move(&cg, 4242, &err), 0);
	read_file(cg.path, "cgroup.procs", text, sizeof(text));
	assert_string_equal(text, "4242");
	fake_cleanup(&cg);
}

static void test_formats_v1(void **state)
{
	struct memcg cg;
	struct cl_error err;
	unsigned long long v;
	char text[128];

	fake_cgroup(&cg, CGROUP_V1, "v1");
	cl_error_clear(&err);
	assert_int_equal(memcg_limit_set(&cg, 64 * MIB, &err), 0);
	read_file(cg.path, "memory.limit_in_bytes", text, sizeof(text));
	assert_string_equal(text, "67108864");
	write_file(cg.path, "memory.limit_in_bytes", "");
	assert_int_equal(memcg_limit_set(&cg, MEMCG_UNLIMITED, &err), 0);
	read_file(cg.path, "memory.limit_in_bytes", text, sizeof(text));
	assert_string_equal(text, "-1");
	write_file(cg.path, "memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(memcg_limit_get(&cg, &v, &err), 0);
	assert_true(v == MEMCG_UNLIMITED);
	write_file(cg.path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 11\n");
	assert_int_equal(memcg_oom_kills(&cg, &v, &err), 0);
	assert_true(v == 11);
	/* A kernel without the count says so rather than reading 0. */
	write_file(cg.path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
	assert_int_equal(memcg_oom_kills(&cg, &v, &err), -1);
	assert_non_null(strstr(err.msg, "no oom_kill count"));
	fake_cleanup(&cg);
	/* Gone: ENOENT, which callers tell from other failures. */
	cl_error_clear(&err);
	assert_int_equal(memcg_oom_kills(&cg, &v, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
}

/* A plain directory is never taken for a cgroup of ours, whatever its name. */
static void test_check_ours_refuses(void **state)
{
	struct memcg cg;
	char why[512];
	struct cl_error err;
	bool removed = true;

	fake_cgroup(&cg, CGROUP_V1, "chaoslab-run-step");
	assert_int_equal(memcg_check_ours(&cg, "chaoslab-run-step", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not in a cgroup v1 file system"));
	/* The name must be the one the journal gives, with our prefix. */
	assert_int_equal(memcg_check_ours(&cg, "chaoslab-run-other", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not the cgroup this step made"));
	assert_int_equal(memcg_check_ours(&cg, "run-step", why, sizeof(why)), -1);
	assert_int_equal(memcg_check_ours(&cg, "chaoslab-", why, sizeof(why)), -1);
	assert_int_equal(memcg_check_ours(&cg, NULL, why, sizeof(why)), -1);
	cl_error_clear(&err);
	assert_int_equal(
		memcg_remove(&cg, "chaoslab-run-step", "run:step", NULL, NULL, &removed, &err), -1);
	assert_false(removed);
	assert_int_equal(access(cg.path, F_OK), 0); /* untouched */
	fake_cleanup(&cg);
	/* Gone already: nothing to do, not an error. */
	assert_int_equal(memcg_check_ours(&cg, "chaoslab-run-step", why, sizeof(why)), 1);
	assert_int_equal(
		memcg_remove(&cg, "chaoslab-run-step", "run:step", NULL, NULL, &removed, &err), 0);
	assert_false(removed);
}

/* ---- real cgroups ------------------------------------------------------------ */

/* The hierarchy of version v, or skip saying why not. */
static bool real_root(enum cgroup_where v, char *root, size_t size)
{
	enum cgroup_where got;
	char why[512];

	if (geteuid() != 0) {
		printf("SKIP: cgroup %s: needs root to create cgroups\n",
		       v == CGROUP_V2 ? "v2" : "v1");
		return false;
	}
	if (memcg_root_find(v, &got, root, size, why, sizeof(why))) {
		printf("SKIP: cgroup %s: %s\n", v == CGROUP_V2 ? "v2" : "v1", why);
		return false;
	}
	assert_int_equal(got, v);
	return true;
}

static void real_cgroup(struct memcg *cg, enum cgroup_where v, const char *root, char *name,
			size_t size, const char *step)
{
	char run[64];
	struct cl_error err;

	snprintf(run, sizeof(run), "test-cgroup-%d", (int)getpid());
	assert_int_equal(memcg_name(name, size, run, step), 0);
	cg->version = v;
	snprintf(cg->path, sizeof(cg->path), "%s/%s", root, name);
	cl_error_clear(&err);
	if (memcg_create(cg, &err))
		fail_msg("memcg_create: %s", err.msg);
}

/* The line of /proc/PID/cgroup for the hierarchy of version v. */
static void cgroup_of(pid_t pid, enum cgroup_where v, char *buf, size_t size)
{
	char path[64], line[512];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		line[strcspn(line, "\n")] = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if ((v == CGROUP_V2 && !strcmp(line, "0")) ||
		    (v == CGROUP_V1 && (strstr(c1 + 1, "memory") != NULL))) {
			snprintf(buf, size, "%s", c2 + 1);
			break;
		}
	}
	fclose(f);
}

/* A child that joins cg, then touches mib MiB: past the limit the kernel's
 * OOM killer kills it. */
static pid_t spawn_eater(const struct memcg *cg, size_t mib)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		size_t len = mib * MIB;
		char *p;

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (memcg_move(cg, 0, &err))
			_exit(3);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(4);
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
		_exit(0);
	}
	return pid;
}

/* A sleeper, with the owner tag in its environment when owner is set. */
static pid_t spawn_sleeper(const char *owner)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "sleep", "300", NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (owner)
			setenv("CHAOSLAB_OWNER", owner, 1);
		else
			unsetenv("CHAOSLAB_OWNER");
		execvp("sleep", argv);
		_exit(127);
	}
	/* Wait for the exec, so the environment read is the sleeper's. */
	for (int i = 0; i < 200; i++) {
		struct proc_stat st;

		if (proc_stat_read(pid, &st) == 0 && !strcmp(st.comm, "sleep"))
			break;
		pause_ms(10);
	}
	return pid;
}

static void exercise_real(enum cgroup_where v)
{
	char root[512], name[300], other_name[300], line[512], why[512];
	struct memcg cg, other;
	struct cl_error err;
	unsigned long long kills = 99, limit, usage;
	pid_t eater, mine, foreign, pids[8];
	int status, killed = 0, migrated = 0;
	bool removed = false;
	char owner[128];

	if (!real_root(v, root, sizeof(root))) {
		skip();
		return;
	}
	real_cgroup(&cg, v, root, name, sizeof(name), "eat");
	cl_error_clear(&err);
	assert_int_equal(memcg_check_ours(&cg, name, why, sizeof(why)), 0);
	assert_int_equal(memcg_fs_version(cg.path), v);
	/* Made with swapping off for it, so the limit means a kill. */
	read_file(cg.path, v == CGROUP_V2 ? "memory.swap.max" : "memory.swappiness", line,
		  sizeof(line));
	assert_int_equal(atoi(line), 0);

	assert_int_equal(memcg_limit_set(&cg, 32 * MIB, &err), 0);
	assert_int_equal(memcg_limit_get(&cg, &limit, &err), 0);
	assert_true(limit == 32 * MIB);
	assert_int_equal(memcg_oom_kills(&cg, &kills, &err), 0);
	assert_true(kills == 0);

	/* The kernel kills the eater in the cgroup: SIGKILL, counted. */
	eater = spawn_eater(&cg, 128);
	assert_int_equal(waitpid(eater, &status, 0), eater);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(memcg_oom_kills(&cg, &kills, &err), 0);
	assert_true(kills == 1);
	/* Within the limit nothing is killed. */
	eater = spawn_eater(&cg, 8);
	assert_int_equal(waitpid(eater, &status, 0), eater);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(memcg_oom_kills(&cg, &kills, &err), 0);
	assert_true(kills == 1);
	/* Raising the limit is the fix: the same eater now fits. */
	assert_int_equal(memcg_limit_set(&cg, 256 * MIB, &err), 0);
	eater = spawn_eater(&cg, 128);
	assert_int_equal(waitpid(eater, &status, 0), eater);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(memcg_oom_kills(&cg, &kills, &err), 0);
	assert_true(kills == 1);

	/* Members: one of ours, one not. */
	snprintf(owner, sizeof(owner), "test-cgroup-%d:eat", (int)getpid());
	mine = spawn_sleeper(owner);
	foreign = spawn_sleeper(NULL);
	assert_int_equal(memcg_move(&cg, mine, &err), 0);
	assert_int_equal(memcg_move(&cg, foreign, &err), 0);
	cgroup_of(foreign, v, line, sizeof(line));
	assert_non_null(strstr(line, name));
	assert_int_equal(memcg_procs(&cg, pids, 8, &err), 2);
	assert_int_equal(memcg_usage(&cg, &usage, &err), 0);

	/* Someone else's cgroup with our prefix is left alone. */
	real_cgroup(&other, v, root, other_name, sizeof(other_name), "other");
	assert_int_equal(memcg_remove(&other, name, owner, NULL, NULL, &removed, &err), -1);
	assert_false(removed);
	assert_int_equal(access(other.path, F_OK), 0);
	assert_int_equal(memcg_remove(&other, other_name, NULL, NULL, NULL, &removed, &err), 0);
	assert_true(removed);

	/* Remove: ours killed, the other moved out alive, directory gone. */
	cl_error_clear(&err);
	if (memcg_remove(&cg, name, owner, &killed, &migrated, &removed, &err))
		fail_msg("memcg_remove: %s", err.msg);
	assert_true(removed);
	assert_int_equal(killed, 1);
	assert_int_equal(migrated, 1);
	assert_int_equal(access(cg.path, F_OK), -1);
	assert_int_equal(waitpid(mine, &status, 0), mine);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(kill(foreign, 0), 0);
	cgroup_of(foreign, v, line, sizeof(line));
	assert_null(strstr(line, name));
	kill(foreign, SIGKILL);
	waitpid(foreign, NULL, 0);
	/* Idempotent. */
	assert_int_equal(memcg_remove(&cg, name, owner, &killed, &migrated, &removed, &err), 0);
	assert_false(removed);
}

static void test_real_v1(void **state)
{
	exercise_real(CGROUP_V1);
}

static void test_real_v2(void **state)
{
	exercise_real(CGROUP_V2);
}

/* A cgroup of ours nested one level down is not where we make them: left. */
static void test_real_nested_refused(void **state)
{
	char root[512], name[300], why[512];
	enum cgroup_where v;
	struct memcg top, nested;
	struct cl_error err;
	bool removed = true;

	if (geteuid() != 0 ||
	    memcg_root_find(CGROUP_NOWHERE, &v, root, sizeof(root), why, sizeof(why))) {
		printf("SKIP: no memory cgroup hierarchy to write to: %s\n",
		       geteuid() ? "needs root" : why);
		skip();
		return;
	}
	real_cgroup(&top, v, root, name, sizeof(name), "top");
	nested.version = v;
	snprintf(nested.path, sizeof(nested.path), "%s/%s", top.path, name);
	assert_int_equal(mkdir(nested.path, 0755), 0);
	assert_int_equal(memcg_check_ours(&nested, name, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not directly under the root"));
	cl_error_clear(&err);
	assert_int_equal(memcg_remove(&nested, name, NULL, NULL, NULL, &removed, &err), -1);
	assert_false(removed);
	assert_int_equal(rmdir(nested.path), 0);
	assert_int_equal(memcg_remove(&top, name, NULL, NULL, NULL, &removed, &err), 0);
	assert_true(removed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_parse_oom_kill),
		cmocka_unit_test(test_parse_limit),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_bytes_text),
		cmocka_unit_test(test_formats_v2),
		cmocka_unit_test(test_formats_v1),
		cmocka_unit_test(test_check_ours_refuses),
		cmocka_unit_test(test_real_v1),
		cmocka_unit_test(test_real_v2),
		cmocka_unit_test(test_real_nested_refused),
	};
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(tmp_root, sizeof(tmp_root), "%s/chaoslab-cgroup-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmp_root);
	return rc;
}
