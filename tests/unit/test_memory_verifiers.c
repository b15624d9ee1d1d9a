/* Tests of verifiers/memory-available.c, process-rss.c and oom-kills.c:
 * their parameter checks, their readings against what the real `free` and
 * `ps` print, process-rss against children of this test that touch a known
 * amount of memory, and oom-kills against the file formats of both cgroup
 * versions (a directory standing in for the cgroup, the clock driven by the
 * test) and, with root, a real memory cgroup in which the kernel OOM-kills
 * children of this test (its own count, and dmesg where it can be read). */
#include <errno.h>
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

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "sys/cgroup.h"
#include "sys/proc.h"

#define MIB (1024LL * 1024LL)

static char tmp_root[512];

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- children: this binary re-executed ------------------------------------ */

/* "--child-eat COMM MIB": take the name, touch MIB MiB, wait to be killed. */
static int child_main(int argc, char **argv)
{
	size_t len;
	char *p;

	if (argc < 4 || strcmp(argv[1], "--child-eat"))
		return 127;
	len = (size_t)atol(argv[3]) * MIB;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t off = 0; off < len; off += 4096)
		p[off] = 1;
	/* The name last: a caller that sees it knows the memory is in. */
	prctl(PR_SET_NAME, argv[2], 0, 0, 0);
	for (;;)
		pause();
}

static pid_t spawn_eater(const char *comm, long mib, const char *owner)
{
	char arg[32];
	struct proc_stat st;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%ld", mib);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "test_memory_verifiers", "--child-eat", (char *)comm, arg, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (owner)
			setenv("CHAOSLAB_OWNER", owner, 1);
		else
			unsetenv("CHAOSLAB_OWNER");
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		if (!proc_stat_read(pid, &st) && !strcmp(st.comm, comm))
			return pid;
		pause_ms(10);
	}
	fail_msg("child %d never took the name '%s'", (int)pid, comm);
	return -1;
}

static void kill_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ---- the drill's lookups --------------------------------------------------- */

struct test_drill {
	const char *step;
	const cJSON *undo;
};

static const cJSON *drill_injection(void *opaque, const char *step)
{
	struct test_drill *d = opaque;

	return d->step && !strcmp(d->step, step) ? d->undo : NULL;
}

static pid_t drill_service_pid(void *opaque, const char *name)
{
	return -1;
}

/* ---- running a verifier ----------------------------------------------------- */

struct vcheck {
	const struct verifier *v;
	struct params params;
	struct check_env env;
	struct test_drill drill;
	struct check_ctx ctx;
	char obs[256];
};

/* Load `with` (JSON) for verifier name. 0, or -1 with the validator's or
 * loader's message in msg. */
static int vcheck_init(struct vcheck *c, const char *name, const char *with, char *msg, size_t size)
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
	rc = params_from_doc(&c->params, c->v->params, doc, "test.json", NULL, "fixed_when[0].with",
			     &err);
	doc_free(doc);
	if (rc) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	if (c->v->validate && c->v->validate(&c->params, msg, size))
		return -1;
	c->env = (struct check_env){ .injection = drill_injection,
				     .service_pid = drill_service_pid,
				     .opaque = &c->drill };
	c->ctx.params = &c->params;
	c->ctx.env = &c->env;
	return 0;
}

static void vcheck_load(struct vcheck *c, const char *name, const char *with)
{
	char msg[256];

	if (vcheck_init(c, name, with, msg, sizeof(msg)))
		fail_msg("%s %s: %s", name, with, msg);
}

static int vcheck_run(struct vcheck *c, double now)
{
	struct cl_error err;
	int r;

	cl_error_clear(&err);
	c->ctx.now = now;
	c->obs[0] = '\0';
	r = c->v->check(&c->ctx, c->obs, sizeof(c->obs), &err);
	if (r == CHECK_ERROR)
		snprintf(c->obs, sizeof(c->obs), "error: %s", err.msg);
	return r;
}

static void vcheck_release(struct vcheck *c)
{
	if (c->v->release)
		c->v->release(&c->ctx);
	params_release(&c->params);
}

/* ---- parameters ---------------------------------------------------------------- */

static void test_validate(void **state)
{
	static const struct {
		const char *verifier, *with, *says;
	} bad[] = {
		{ "memory-available", "{}", "give exactly one" },
		{ "memory-available", "{\"min_mib\": 1, \"max_percent\": 50}", "exclude" },
		{ "process-rss", "{\"name\": \"x\"}", "give exactly one of min_mib or max_mib" },
		{ "process-rss", "{\"min_mib\": 1}", "give exactly one of injection, name" },
		{ "process-rss", "{\"min_mib\": 1, \"name\": \"x\", \"injection\": \"y\"}",
		  "exclude" },
		{ "oom-kills", "{\"injection\": \"x\"}",
		  "give exactly one of min or window_seconds" },
		{ "oom-kills", "{\"min\": 1, \"window_seconds\": 5, \"injection\": \"x\"}",
		  "exclude" },
		{ "oom-kills", "{\"min\": 1}", "give exactly one of injection or cgroup" },
		{ "oom-kills", "{\"min\": 1, \"stable\": false, \"injection\": \"x\"}",
		  "stable only applies" },
		{ "oom-kills", "{\"min\": 1, \"cgroup\": \"memory/x\"}", "absolute" },
	};
	struct vcheck c;
	char msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		assert_int_equal(vcheck_init(&c, bad[i].verifier, bad[i].with, msg, sizeof(msg)),
				 -1);
		if (!strstr(msg, bad[i].says))
			fail_msg("%s %s: '%s' does not say '%s'", bad[i].verifier, bad[i].with, msg,
				 bad[i].says);
		params_release(&c.params);
	}
}

/* ---- memory-available ----------------------------------------------------------- */

/* The "available" column of the real `free -m`. */
static long free_available_mib(void)
{
	FILE *p = popen("free -m", "r");
	char line[256];
	long total, used, fr, shared, cache, avail = -1;

	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "Mem: %ld %ld %ld %ld %ld %ld", &total, &used, &fr, &shared,
			   &cache, &avail) == 6)
			break;
	pclose(p);
	return avail;
}

static void test_memory_available(void **state)
{
	struct vcheck c;
	long mib, total, free_mib;
	double pct;

	vcheck_load(&c, "memory-available", "{\"min_mib\": 1}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_MET);
	free_mib = free_available_mib();
	printf("memory-available: %s; free -m: %ld MiB available\n", c.obs, free_mib);
	assert_int_equal(sscanf(c.obs, "%ld MiB available, %lf%% of %ld MiB", &mib, &pct, &total),
			 3);
	/* The same number free prints, up to what changed in between. */
	assert_true(labs(mib - free_mib) <= 64 + free_mib / 50);
	assert_true(pct > 0 && pct <= 100);
	vcheck_release(&c);

	vcheck_load(&c, "memory-available", "{\"max_mib\": 1}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_NOT_MET);
	vcheck_release(&c);
	vcheck_load(&c, "memory-available", "{\"min_percent\": 1}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_MET);
	vcheck_release(&c);
	vcheck_load(&c, "memory-available", "{\"max_percent\": 0.5}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_NOT_MET);
	vcheck_release(&c);
	vcheck_load(&c, "memory-available", "{\"max_percent\": 100}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_MET);
	vcheck_release(&c);
}

/* ---- process-rss ------------------------------------------------------------------ */

static long ps_rss_kib(pid_t pid)
{
	char cmd[64], buf[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ps -o rss= -p %d", (int)pid);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = '\0';
	pclose(p);
	return buf[0] ? atol(buf) : -1;
}

static void test_process_rss(void **state)
{
	char name[16], owner[64], with[256], want[64];
	struct vcheck c;
	pid_t a, b;
	double sum;
	long ps_a, ps_b;
	cJSON *undo;

	snprintf(name, sizeof(name), "rss%d", (int)getpid() % 100000);
	snprintf(owner, sizeof(owner), "test-rss-%d:eat", (int)getpid());
	a = spawn_eater(name, 96, owner);

	/* By name, against ps. */
	snprintf(with, sizeof(with), "{\"name\": \"%s\", \"min_mib\": 90}", name);
	vcheck_load(&c, "process-rss", with);
	assert_int_equal(vcheck_run(&c, 1), CHECK_MET);
	ps_a = ps_rss_kib(a);
	printf("process-rss: %s; ps: %ld KiB\n", c.obs, ps_a);
	snprintf(want, sizeof(want), "%s[%d]", name, (int)a);
	assert_non_null(strstr(c.obs, want));
	assert_int_equal(sscanf(c.obs, "%lf MiB resident in 1 process", &sum), 1);
	assert_true(sum * 1024 >= ps_a * 0.97 - 1024 && sum * 1024 <= ps_a * 1.03 + 1024);
	vcheck_release(&c);
	snprintf(with, sizeof(with), "{\"name\": \"%s\", \"max_mib\": 48}", name);
	vcheck_load(&c, "process-rss", with);
	assert_int_equal(vcheck_run(&c, 1), CHECK_NOT_MET);
	vcheck_release(&c);

	/* By injection: the owner tag; a second process of the step adds up. */
	b = spawn_eater(name, 32, owner);
	undo = cJSON_CreateObject();
	cJSON_AddStringToObject(undo, "owner", owner);
	vcheck_load(&c, "process-rss", "{\"injection\": \"eat\", \"min_mib\": 120}");
	c.drill.step = "eat";
	c.drill.undo = undo;
	assert_int_equal(vcheck_run(&c, 1), CHECK_MET);
	ps_a = ps_rss_kib(a);
	ps_b = ps_rss_kib(b);
	printf("process-rss: %s; ps: %ld + %ld KiB\n", c.obs, ps_a, ps_b);
	assert_int_equal(sscanf(c.obs, "%lf MiB resident in 2 processes", &sum), 1);
	assert_true(sum * 1024 >= (ps_a + ps_b) * 0.97 - 2048 &&
		    sum * 1024 <= (ps_a + ps_b) * 1.03 + 2048);
	/* Largest first. */
	assert_true(strstr(c.obs, want) < strstr(c.obs, ","));
	vcheck_release(&c);

	/* Gone: 0 resident. */
	kill_reap(a);
	kill_reap(b);
	vcheck_load(&c, "process-rss", "{\"injection\": \"eat\", \"max_mib\": 0}");
	c.drill.step = "eat";
	c.drill.undo = undo;
	assert_int_equal(vcheck_run(&c, 1), CHECK_MET);
	assert_string_equal(c.obs, "no process alive (0 MiB resident)");
	vcheck_release(&c);
	vcheck_load(&c, "process-rss", "{\"service\": \"demo-api\", \"min_mib\": 1}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_NOT_MET);
	vcheck_release(&c);
	/* An injection that is not applied is an error, not "0 MiB". */
	vcheck_load(&c, "process-rss", "{\"injection\": \"other\", \"max_mib\": 0}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_ERROR);
	assert_non_null(strstr(c.obs, "has not been applied"));
	vcheck_release(&c);
	cJSON_Delete(undo);
}

/* ---- oom-kills on the file formats ---------------------------------------------- */

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

/* A directory standing in for a cgroup of version v. */
static cJSON *fake_cgroup(const char *tag, int v, char *dir, size_t size)
{
	cJSON *undo = cJSON_CreateObject(), *cg = cJSON_CreateObject();

	snprintf(dir, size, "%s/%s", tmp_root, tag);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (v == 2) {
		write_file(dir, "memory.max", "201326592\n");
		write_file(dir, "memory.current", "1048576\n");
		write_file(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
	} else {
		write_file(dir, "memory.limit_in_bytes", "201326592\n");
		write_file(dir, "memory.usage_in_bytes", "1048576\n");
		write_file(dir, "memory.oom_control",
			   "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
	}
	write_file(dir, "cgroup.procs", "");
	cJSON_AddStringToObject(cg, "path", dir);
	cJSON_AddNumberToObject(cg, "version", v);
	cJSON_AddItemToObject(undo, "cgroup", cg);
	return undo;
}

static void set_kills(const char *dir, int v, int n)
{
	char text[128];

	if (v == 2) {
		snprintf(text, sizeof(text), "low 0\nhigh 0\nmax %d\noom %d\noom_kill %d\n", n * 3,
			 n, n);
		write_file(dir, "memory.events", text);
	} else {
		snprintf(text, sizeof(text), "oom_kill_disable 0\nunder_oom 0\noom_kill %d\n", n);
		write_file(dir, "memory.oom_control", text);
	}
}

static void exercise_formats(int v)
{
	char dir[600], tag[16], text[32], cmd[700];
	struct vcheck c;
	cJSON *undo;

	snprintf(tag, sizeof(tag), "v%d", v);
	undo = fake_cgroup(tag, v, dir, sizeof(dir));

	/* The symptom: at least 2. */
	vcheck_load(&c, "oom-kills", "{\"injection\": \"hog\", \"min\": 2}");
	c.drill.step = "hog";
	c.drill.undo = undo;
	set_kills(dir, v, 1);
	assert_int_equal(vcheck_run(&c, 1), CHECK_NOT_MET);
	set_kills(dir, v, 3);
	assert_int_equal(vcheck_run(&c, 2), CHECK_MET);
	printf("v%d min: %s\n", v, c.obs);
	assert_string_equal(c.obs, v == 2 ? "3 OOM kills in v2 (limit 192 MiB, 1 MiB in use, "
					    "0 processes)" :
					    "3 OOM kills in v1 (limit 192 MiB, 1 MiB in use, "
					    "0 processes)");
	vcheck_release(&c);

	/* The fix: no new kill and no change of members for 10 s. */
	vcheck_load(&c, "oom-kills", "{\"injection\": \"hog\", \"window_seconds\": 10}");
	c.drill.step = "hog";
	c.drill.undo = undo;
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	write_file(dir, "cgroup.procs", text);
	assert_int_equal(vcheck_run(&c, 100), CHECK_NOT_MET); /* the window starts */
	assert_int_equal(vcheck_run(&c, 105), CHECK_NOT_MET);
	set_kills(dir, v, 4);
	assert_int_equal(vcheck_run(&c, 106), CHECK_NOT_MET);
	assert_non_null(strstr(c.obs, "last OOM kill 0.0 s ago (4 OOM kills in all)"));
	assert_int_equal(vcheck_run(&c, 115), CHECK_NOT_MET);
	assert_int_equal(vcheck_run(&c, 116), CHECK_MET);
	printf("v%d window: %s\n", v, c.obs);
	assert_non_null(strstr(c.obs, "no new OOM kill or restart for 10 s (4 in all), 1 process"));
	/* A restart (another process in the cgroup) without a kill counted:
	 * not stable. */
	snprintf(text, sizeof(text), "%d\n", (int)getppid());
	write_file(dir, "cgroup.procs", text);
	assert_int_equal(vcheck_run(&c, 117), CHECK_NOT_MET);
	assert_int_equal(vcheck_run(&c, 127), CHECK_MET);
	/* Removed (after its processes stopped): no more kills can come. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vcheck_run(&c, 128), CHECK_NOT_MET); /* the members changed */
	assert_int_equal(vcheck_run(&c, 138), CHECK_MET);
	vcheck_release(&c);

	/* stable: false counts kills only. */
	cJSON_Delete(undo);
	undo = fake_cgroup(tag, v, dir, sizeof(dir));
	vcheck_load(&c, "oom-kills",
		    "{\"injection\": \"hog\", \"window_seconds\": 5, \"stable\": false}");
	c.drill.step = "hog";
	c.drill.undo = undo;
	assert_int_equal(vcheck_run(&c, 10), CHECK_NOT_MET);
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	write_file(dir, "cgroup.procs", text);
	assert_int_equal(vcheck_run(&c, 15), CHECK_MET);
	vcheck_release(&c);

	/* min with the cgroup gone: an error, not a count. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	vcheck_load(&c, "oom-kills", "{\"injection\": \"hog\", \"min\": 1}");
	c.drill.step = "hog";
	c.drill.undo = undo;
	assert_int_equal(vcheck_run(&c, 1), CHECK_ERROR);
	vcheck_release(&c);
	cJSON_Delete(undo);
}

static void test_oom_kills_formats_v1(void **state)
{
	exercise_formats(1);
}

static void test_oom_kills_formats_v2(void **state)
{
	exercise_formats(2);
}

static void test_oom_kills_lookup_errors(void **state)
{
	struct vcheck c;
	cJSON *undo = cJSON_Parse("{\"owner\": \"r:s\", \"workers\": []}");

	vcheck_load(&c, "oom-kills", "{\"injection\": \"hog\", \"min\": 1}");
	c.drill.step = "hog";
	c.drill.undo = undo;
	assert_int_equal(vcheck_run(&c, 1), CHECK_ERROR);
	assert_non_null(strstr(c.obs, "made no memory cgroup"));
	vcheck_release(&c);
	vcheck_load(&c, "oom-kills", "{\"cgroup\": \"/tmp\", \"min\": 1}");
	assert_int_equal(vcheck_run(&c, 1), CHECK_ERROR);
	assert_non_null(strstr(c.obs, "is not a cgroup directory"));
	vcheck_release(&c);
	cJSON_Delete(undo);
}

/* ---- oom-kills in a real cgroup ------------------------------------------------------ */

/* A child that joins cg and touches mib MiB; returns its exit status. */
static int run_eater_in(const struct memcg *cg, size_t mib, pid_t *pid_out)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cl_error err;
		size_t len = mib * (size_t)MIB;
		char *p;

		if (memcg_move(cg, 0, &err))
			_exit(3);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(4);
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
		_exit(0);
	}
	*pid_out = pid;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_oom_kills_real(void **state)
{
	char root[512], why[512], name[300], with[700], cmd[700], line[512];
	enum cgroup_where v;
	struct memcg cg;
	struct cl_error err;
	struct vcheck c;
	pid_t last = 0;
	bool seen = false;
	FILE *p;

	if (geteuid() != 0) {
		printf("SKIP: needs root to create a memory cgroup\n");
		skip();
		return;
	}
	if (memcg_root_find(CGROUP_NOWHERE, &v, root, sizeof(root), why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		skip();
		return;
	}
	snprintf(line, sizeof(line), "test-oom-kills-%d", (int)getpid());
	assert_int_equal(memcg_name(name, sizeof(name), line, "v"), 0);
	cg.version = v;
	snprintf(cg.path, sizeof(cg.path), "%s/%s", root, name);
	cl_error_clear(&err);
	if (memcg_create(&cg, &err) || memcg_limit_set(&cg, 16 * MIB, &err))
		fail_msg("cgroup: %s", err.msg);

	snprintf(with, sizeof(with), "{\"cgroup\": \"%s\", \"min\": 2}", cg.path);
	vcheck_load(&c, "oom-kills", with);
	assert_int_equal(vcheck_run(&c, 1), CHECK_NOT_MET);
	for (int i = 0; i < 2; i++) {
		int status = run_eater_in(&cg, 64, &last);

		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	assert_int_equal(vcheck_run(&c, 2), CHECK_MET);
	printf("oom-kills (cgroup %s): %s\n", v == CGROUP_V2 ? "v2" : "v1", c.obs);
	vcheck_release(&c);

	/* The kernel's own file, through cat. */
	snprintf(cmd, sizeof(cmd), "cat '%s/%s'", cg.path,
		 v == CGROUP_V2 ? "memory.events" : "memory.oom_control");
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (!strcmp(line, "oom_kill 2\n"))
			seen = true;
	pclose(p);
	assert_true(seen);
	/* And the kernel log, where this user may read it. */
	snprintf(cmd, sizeof(cmd), "dmesg 2>/dev/null | grep -c 'Killed process %d '", (int)last);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p) && atoi(line) > 0)
		printf("dmesg shows the kill of pid %d\n", (int)last);
	else
		printf("note: dmesg not readable here or without the kill of %d\n", (int)last);
	pclose(p);

	assert_int_equal(memcg_remove(&cg, name, NULL, NULL, NULL, NULL, &err), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_memory_available),
		cmocka_unit_test(test_process_rss),
		cmocka_unit_test(test_oom_kills_formats_v1),
		cmocka_unit_test(test_oom_kills_formats_v2),
		cmocka_unit_test(test_oom_kills_lookup_errors),
		cmocka_unit_test(test_oom_kills_real),
	};
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (argc > 1 && !strncmp(argv[1], "--child-", 8))
		return child_main(argc, argv);
	snprintf(tmp_root, sizeof(tmp_root), "%s/chaoslab-memv-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmp_root);
	return rc;
}
