/* Tests of injectors/memory-hog.c through its descriptor, with real hog
 * processes (the chaoslab binary re-executed, found through CHAOSLAB_BIN):
 * RSS really grows, as the real `ps` and `free` see it, at once or at the
 * leak's rate; the guardrail refuses too much memory with a clear error and
 * nothing applied, and stops a growing hog before it crosses the floor; the
 * workers run under seccomp; with a cgroup limit the kernel OOM-kills the hog
 * in its own cgroup (the supervisor outside it restarts it, raising the
 * limit ends the loop), and revert, also from the journaled undo data alone,
 * stops everything and removes the cgroup, only when it is provably ours.
 * The cgroup tests need root and a memory controller, and skip saying why
 * when they are missing. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/registry.h"
#include "sys/cgroup.h"
#include "sys/proc.h"
#include "sys/worker.h"

#define MIB (1024LL * 1024LL)

static const struct injector *hog;
static char state_root[512];

struct step {
	char run_id[64];
	char name[16];
	char sup[16];
	struct params params;
	cJSON *undo;
	struct inject_ctx ctx;
};

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long long mem_available_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long long kb = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

/* Parse `with` (JSON: the first "%s" is the hog's name, a second one the
 * supervisor's) into s->params. 0, or -1 with the loader's message in msg. */
static int step_params(struct step *s, const char *with_fmt, char *msg, size_t size)
{
	static int seq;
	struct cl_error err;
	struct doc_node *doc;
	char with[512];
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->run_id, sizeof(s->run_id), "test-memory-hog-%d-%d", (int)getpid(), seq);
	snprintf(s->name, sizeof(s->name), "mh%d-%d", (int)getpid() % 100000, seq);
	snprintf(s->sup, sizeof(s->sup), "ms%d-%d", (int)getpid() % 100000, seq++);
	snprintf(with, sizeof(with), with_fmt, s->name, s->sup);
	cl_error_clear(&err);
	doc = doc_parse_json("test.json", with, strlen(with), &err);
	assert_non_null(doc);
	rc = params_from_doc(&s->params, hog->params, doc, "test.json", NULL, "inject[0].with",
			     &err);
	doc_free(doc);
	if (rc) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	s->undo = cJSON_CreateObject();
	cJSON_AddStringToObject(s->undo, "run", s->run_id);
	cJSON_AddStringToObject(s->undo, "step", "hog");
	s->ctx = (struct inject_ctx){ .run_id = s->run_id,
				      .step_id = "hog",
				      .state_dir = state_root,
				      .params = &s->params,
				      .undo = s->undo };
	return 0;
}

/* The step a failing test leaves applied: its teardown reverts it. */
static struct step *applied;

static void step_apply(struct step *s, const char *with_fmt)
{
	struct cl_error err;
	char msg[512];

	if (step_params(s, with_fmt, msg, sizeof(msg)))
		fail_msg("params: %s", msg);
	applied = s;
	if (hog->validate && hog->validate(&s->params, msg, sizeof(msg)))
		fail_msg("validate: %s", msg);
	cl_error_clear(&err);
	if (hog->apply(&s->ctx, &err))
		fail_msg("apply: %s", err.msg);
}

static void step_release(struct step *s)
{
	if (applied == s)
		applied = NULL;
	params_release(&s->params);
	cJSON_Delete(s->undo);
	s->undo = NULL;
}

static void revert_from(const char *run_id, const cJSON *undo, char *buf, size_t size)
{
	struct revert_ctx rc = { .run_id = run_id,
				 .step_id = run_id ? "hog" : NULL,
				 .state_dir = state_root,
				 .undo = undo };
	struct cl_error err;

	cl_error_clear(&err);
	if (hog->revert(&rc, &err))
		fail_msg("revert: %s", err.msg);
	snprintf(buf, size, "%s", rc.report);
}

/* Live (not zombie) processes named name: pids into out. */
static int procs_named(const char *name, pid_t *out, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || proc_stat_read((pid_t)pid, &st))
			continue;
		if (st.state == 'Z' || st.state == 'X' || strcmp(st.comm, name))
			continue;
		if (out && (size_t)n < cap)
			out[n] = st.pid;
		n++;
	}
	closedir(d);
	return n;
}

static int wait_named(const char *name, int want, long ms)
{
	int n = -1;

	for (long waited = 0; waited <= ms; waited += 20) {
		worker_reap_children();
		n = procs_named(name, NULL, 0);
		if (n == want)
			break;
		pause_ms(20);
	}
	return n;
}

/* The comm of pid ("" when gone), in a static buffer. */
static const char *comm_of(pid_t pid)
{
	static struct proc_stat st;

	if (proc_stat_read(pid, &st) < 0)
		st.comm[0] = '\0';
	return st.comm;
}

/* The newest live process named name, or -1. */
static pid_t newest_named(const char *name)
{
	pid_t pids[64], best = -1;
	unsigned long long best_start = 0;
	int n = procs_named(name, pids, 64);

	for (int i = 0; i < n && i < 64; i++) {
		struct proc_stat st;

		if (proc_stat_read(pids[i], &st) == 0 && st.start_time >= best_start) {
			best_start = st.start_time;
			best = pids[i];
		}
	}
	return best;
}

/* The real ps's RSS of pid, in KiB; -1 when ps does not list it. */
static long ps_rss_kib(pid_t pid)
{
	char cmd[64], buf[64] = "";
	long kib = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ps -o rss= -p %d", (int)pid);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(buf, sizeof(buf), p))
		kib = atol(buf);
	pclose(p);
	return buf[0] ? kib : -1;
}

/* The "available" column of the real `free -m`. */
static long free_available_mib(void)
{
	FILE *p = popen("free -m", "r");
	char line[256];
	long avail = -1;

	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		long total, used, fr, shared, cache;

		if (sscanf(line, "Mem: %ld %ld %ld %ld %ld %ld", &total, &used, &fr, &shared,
			   &cache, &avail) == 6)
			break;
	}
	pclose(p);
	return avail;
}

/* Wait until ps shows pid at or above kib KiB; the last reading. */
static long wait_rss(pid_t pid, long kib, long ms)
{
	long got = -1;

	for (long waited = 0; waited <= ms; waited += 50) {
		got = ps_rss_kib(pid);
		if (got >= kib)
			break;
		pause_ms(50);
	}
	return got;
}

static int seccomp_mode(pid_t pid)
{
	char path[64], line[128];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/* The seccomp mode of pid once it has left mode 0 (its body's setup is done
 * a little after worker_spawn() returns), or after 2 s. */
static int wait_seccomp(pid_t pid)
{
	int mode = -1;

	for (int i = 0; i < 200; i++) {
		mode = seccomp_mode(pid);
		if (mode != 0)
			break;
		pause_ms(10);
	}
	return mode;
}

static const char *undo_cgroup_path(const cJSON *undo)
{
	const cJSON *c = cJSON_GetObjectItem(undo, "cgroup");
	const cJSON *p = c ? cJSON_GetObjectItem(c, "path") : NULL;

	return cJSON_IsString(p) ? p->valuestring : NULL;
}

/* ---- without a cgroup ---------------------------------------------------- */

static void test_supported(void **state)
{
	char why[256] = "";

	assert_non_null(hog->supported);
	assert_int_equal(hog->supported(NULL, why, sizeof(why)), 0);
	assert_non_null(hog->worker);
	assert_non_null(hog->validate);
}

static void test_validate_refusals(void **state)
{
	static const struct {
		const char *with, *says;
	} cases[] = {
		{ "{\"name\": \"%s\"}", "give exactly one of mib or percent_of_available" },
		{ "{\"mib\": 8, \"percent_of_available\": 5, \"name\": \"%s\"}", "exclude" },
		{ "{\"percent_of_available\": 90, \"name\": \"%s\"}", "keep_free_percent 20" },
		{ "{\"percent_of_available\": 60, \"keep_free_percent\": 50, \"name\": \"%s\"}",
		  "at most 50 may be taken" },
		{ "{\"mib\": 64, \"restart\": true, \"name\": \"%s\"}",
		  "restart needs cgroup_limit_mib" },
		{ "{\"mib\": 64, \"supervisor_name\": \"%2$s\", \"name\": \"%1$s\"}",
		  "supervisor_name needs restart" },
		{ "{\"mib\": 64, \"cgroup_limit_mib\": 64, \"restart\": true, \"name\": \"%s\"}",
		  "must exceed cgroup_limit_mib" },
		{ "{\"mib\": 64, \"name\": \"a b\"}", "whitespace" },
	};
	static struct step s; /* static: the teardown reverts it after a failure */
	char msg[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(step_params(&s, cases[i].with, msg, sizeof(msg)), 0);
		msg[0] = '\0';
		assert_int_equal(hog->validate(&s.params, msg, sizeof(msg)), -1);
		if (!strstr(msg, cases[i].says))
			fail_msg("case %zu: '%s' does not say '%s'", i, msg, cases[i].says);
		step_release(&s);
	}
}

/* Too much memory: a clear error at validate and at apply, nothing applied. */
static void test_guardrail_refuses(void **state)
{
	long long avail = mem_available_mib();
	static struct step s; /* static: the teardown reverts it after a failure */
	struct cl_error err;
	char with[256], msg[512], cg_name[300], root[512], why[256], cg_path[900];
	enum cgroup_where v;

	/* 90% of MemAvailable leaves 10%, under the default 20. */
	snprintf(with, sizeof(with), "{\"mib\": %lld, \"name\": \"%%s\", \"cgroup_limit_mib\": 64}",
		 avail * 9 / 10);
	assert_int_equal(step_params(&s, with, msg, sizeof(msg)), 0);
	msg[0] = '\0';
	assert_int_equal(hog->validate(&s.params, msg, sizeof(msg)), -1);
	printf("validate says: %s\n", msg);
	assert_non_null(strstr(msg, "refusing"));
	assert_non_null(strstr(msg, "keep_free_percent 20"));
	assert_non_null(strstr(msg, "MiB may be taken"));

	/* apply() checks again, before it changes anything. */
	cl_error_clear(&err);
	assert_int_equal(hog->apply(&s.ctx, &err), -1);
	printf("apply says: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "memory-hog: refusing"));
	assert_null(cJSON_GetObjectItem(s.undo, "workers"));
	assert_null(cJSON_GetObjectItem(s.undo, "cgroup"));
	assert_int_equal(procs_named(s.name, NULL, 0), 0);
	if (memcg_root_find(CGROUP_NOWHERE, &v, root, sizeof(root), why, sizeof(why)) == 0) {
		memcg_name(cg_name, sizeof(cg_name), s.run_id, "hog");
		snprintf(cg_path, sizeof(cg_path), "%s/%s", root, cg_name);
		assert_int_equal(access(cg_path, F_OK), -1);
	}
	step_release(&s);

	/* A stricter keep_free_percent refuses what the default allows. */
	snprintf(with, sizeof(with),
		 "{\"mib\": %lld, \"keep_free_percent\": 95, \"name\": \"%%s\"}", avail / 10);
	assert_int_equal(step_params(&s, with, msg, sizeof(msg)), 0);
	assert_int_equal(hog->validate(&s.params, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "keep_free_percent 95"));
	cl_error_clear(&err);
	assert_int_equal(hog->apply(&s.ctx, &err), -1);
	assert_int_equal(procs_named(s.name, NULL, 0), 0);
	step_release(&s);
}

static void test_at_once_resident(void **state)
{
	static struct step s; /* static: the teardown reverts it after a failure */
	pid_t pid;
	long rss, before, after;
	char buf[256];

	before = free_available_mib();
	step_apply(&s, "{\"mib\": 256, \"name\": \"%s\"}");
	assert_int_equal(procs_named(s.name, &pid, 1), 1);
	/* Resident as ps sees it, not only mapped. */
	rss = wait_rss(pid, 250 * 1024, 10000);
	printf("ps: %s holds %ld KiB resident\n", s.name, rss);
	assert_true(rss >= 250 * 1024);
	after = free_available_mib();
	printf("free -m: available %ld -> %ld MiB\n", before, after);
	/* Loose: other work on the box moves "available" too. */
	assert_true(before - after >= 128);
	assert_int_equal(wait_seccomp(pid), 2);
	assert_true(cJSON_GetObjectItem(s.undo, "target_bytes")->valuedouble == 256.0 * MIB);

	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 1 worker");
	assert_int_equal(wait_named(s.name, 0, 3000), 0);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	step_release(&s);
}

/* A leak: RSS grows gradually at about the rate. */
static void test_leak_rate(void **state)
{
	static struct step s; /* static: the teardown reverts it after a failure */
	pid_t pid;
	long r1, r2, r3;
	char buf[256];

	step_apply(&s, "{\"mib\": 96, \"rate_mib_per_second\": 24, \"name\": \"%s\"}");
	assert_int_equal(procs_named(s.name, &pid, 1), 1);
	pause_ms(1000);
	r1 = ps_rss_kib(pid);
	pause_ms(1000);
	r2 = ps_rss_kib(pid);
	r3 = wait_rss(pid, 96 * 1024, 8000);
	printf("ps rss after 1 s %ld KiB, 2 s %ld KiB, then %ld KiB\n", r1, r2, r3);
	/* 24 MiB/s: about 24 MiB after 1 s, 48 after 2 (loose bounds; the
	 * runtime itself holds a few MiB, more under sanitizers). */
	assert_true(r1 >= 8 * 1024 && r1 <= 56 * 1024);
	assert_true(r2 - r1 >= 12 * 1024 && r2 - r1 <= 40 * 1024);
	assert_true(r3 >= 96 * 1024);
	/* Then it holds: 96 MiB and the runtime, no more growth. */
	pause_ms(1500);
	r1 = ps_rss_kib(pid);
	pause_ms(1000);
	r2 = ps_rss_kib(pid);
	printf("then %ld KiB, %ld KiB a second later\n", r1, r2);
	assert_true(r2 - r1 <= 1024);
	assert_true(r2 <= (96 + 32) * 1024);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 1 worker");
	assert_int_equal(wait_named(s.name, 0, 3000), 0);
	step_release(&s);
}

/* Spawn a bare hog worker with a target of 1 GiB and the floor floor_mib
 * MiB; after 1.5 s return its RSS (ps, KiB) and stop it. */
static long hog_with_floor(long long floor_mib)
{
	char name[16], owner[64];
	struct worker_spec spec = { .kind = "memory-hog", .name = name, .owner = owner };
	struct proc_ident id;
	struct cl_error err;
	cJSON *args = cJSON_CreateObject();
	long rss;
	int killed;

	snprintf(name, sizeof(name), "mf%d", (int)getpid() % 100000);
	snprintf(owner, sizeof(owner), "test-memory-hog-floor-%d:hog", (int)getpid());
	cJSON_AddStringToObject(args, "role", "hog");
	cJSON_AddNumberToObject(args, "target_bytes", 1024.0 * MIB);
	cJSON_AddNumberToObject(args, "floor_bytes", (double)floor_mib * MIB);
	spec.args = args;
	cl_error_clear(&err);
	if (worker_spawn(&spec, &id, NULL, &err))
		fail_msg("spawn: %s", err.msg);
	pause_ms(1500);
	rss = ps_rss_kib(id.pid);
	assert_true(rss > 0); /* alive: it stops growing, it does not die */
	assert_int_equal(worker_kill_owned(owner, &id, 1, 1000, &killed, &err), 0);
	assert_int_equal(killed, 1);
	cJSON_Delete(args);
	worker_reap_children();
	return rss;
}

/* The hog reads MemAvailable before each step and does not take one that
 * would leave less than its floor: as if something else had taken the
 * memory since the step was applied. MemAvailable moves with everything
 * else on the box, so the bounds are loose. */
static void test_floor_stops_growth(void **state)
{
	long long avail;
	long rss;

	/* Memory freed by the tests before comes back asynchronously. */
	pause_ms(1000);
	avail = mem_available_mib();
	/* A floor above MemAvailable: not one step. */
	rss = hog_with_floor(avail + 1024);
	printf("floor above MemAvailable: the hog holds %ld KiB of its 1 GiB\n", rss);
	assert_true(rss <= 48 * 1024);
	/* A floor 48 MiB under it: a few steps, then no more. */
	avail = mem_available_mib();
	rss = hog_with_floor(avail - 48);
	printf("floor 48 MiB under MemAvailable: the hog holds %ld KiB of its 1 GiB\n", rss);
	assert_true(rss <= 256 * 1024);
}

static void test_revert_when_apply_never_ran(void **state)
{
	cJSON *undo = cJSON_Parse("{\"run\": \"never-ran\", \"step\": \"hog\"}");
	char buf[256];

	revert_from("never-ran", undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cJSON_Delete(undo);
}

/* ---- in a memory cgroup ---------------------------------------------------- */

static bool have_memcg(void)
{
	char why[512];

	if (geteuid() != 0) {
		printf("SKIP: needs root to create memory cgroups\n");
		return false;
	}
	if (hog->supported(NULL, why, sizeof(why)) == 0) {
		static struct step s; /* static: the teardown reverts it after a failure */
		char msg[512];

		assert_int_equal(step_params(&s,
					     "{\"mib\": 64, \"cgroup_limit_mib\": 32, "
					     "\"name\": \"%s\"}",
					     msg, sizeof(msg)),
				 0);
		int rc = hog->supported(&s.params, why, sizeof(why));
		step_release(&s);
		if (rc == 0)
			return true;
	}
	printf("SKIP: no memory cgroup here: %s\n", why);
	return false;
}

static unsigned long long oom_kills_of(const cJSON *undo)
{
	struct memcg cg;
	struct cl_error err;
	unsigned long long n = 0;

	assert_int_equal(memcg_from_json(cJSON_GetObjectItem(undo, "cgroup"), &cg), 0);
	cl_error_clear(&err);
	if (memcg_oom_kills(&cg, &n, &err))
		fail_msg("oom kills: %s", err.msg);
	return n;
}

/* The cgroup path pid is in (from /proc/PID/cgroup, any hierarchy line
 * naming one of ours), or "". */
static void proc_cgroup(pid_t pid, char *buf, size_t size)
{
	char path[64], line[512];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, ":/" MEMCG_PREFIX);

		if (p) {
			snprintf(buf, size, "%s", p + 1);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

static void test_cgroup_oom_once(void **state)
{
	static struct step s; /* static: the teardown reverts it after a failure */
	const char *path;
	char buf[256];
	int status;

	if (!have_memcg()) {
		skip();
		return;
	}
	step_apply(&s, "{\"mib\": 128, \"cgroup_limit_mib\": 32, \"name\": \"%s\"}");
	path = undo_cgroup_path(s.undo);
	assert_non_null(path);
	assert_non_null(strstr(path, "/" MEMCG_PREFIX "test-memory-hog-"));
	/* Killed by the kernel, once: we are its parent (subreaper). */
	pid_t pid = (pid_t)cJSON_GetObjectItem(
			    cJSON_GetArrayItem(cJSON_GetObjectItem(s.undo, "workers"), 0), "pid")
			    ->valueint;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(oom_kills_of(s.undo) == 1);
	assert_int_equal(procs_named(s.name, NULL, 0), 0);

	char p[512];
	snprintf(p, sizeof(p), "%s", path);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	printf("revert: %s\n", buf);
	assert_non_null(strstr(buf, "removed cgroup"));
	assert_non_null(strstr(buf, "after 1 OOM kill"));
	assert_int_equal(access(p, F_OK), -1);
	step_release(&s);
}

/* The loop: killed in its cgroup, restarted by the supervisor outside it;
 * raising the limit ends it; revert stops the rest and removes the cgroup. */
static void test_cgroup_oom_loop(void **state)
{
	static struct step s; /* static: the teardown reverts it after a failure */
	char path[512], cg[512], buf[256];
	pid_t sup, first, later = -1, stable;
	unsigned long long k1, k2, k3;
	struct memcg m;
	struct cl_error err;
	bool caught = false;

	if (!have_memcg()) {
		skip();
		return;
	}
	step_apply(&s, "{\"mib\": 96, \"rate_mib_per_second\": 256, \"cgroup_limit_mib\": 32, "
		       "\"restart\": true, \"name\": \"%s\", \"supervisor_name\": \"%s\", "
		       "\"backoff_seconds\": 0.2, \"backoff_max_seconds\": 0.4}");
	snprintf(path, sizeof(path), "%s", undo_cgroup_path(s.undo));
	/* The journaled worker: a hog it has just forked carries its name too
	 * until it takes its own. */
	sup = (pid_t)cJSON_GetObjectItem(
		      cJSON_GetArrayItem(cJSON_GetObjectItem(s.undo, "workers"), 0), "pid")
		      ->valueint;
	assert_string_equal(comm_of(sup), s.sup);
	/* Locked down once its setup is done. */
	assert_int_equal(wait_seccomp(sup), 2);
	/* The supervisor is outside the cgroup. */
	proc_cgroup(sup, cg, sizeof(cg));
	assert_string_equal(cg, "");

	/* A hog caught alive inside the cgroup and locked down: each lives a
	 * fraction of a second, so look until one is seen whole. */
	for (int i = 0; i < 1000 && !caught; i++) {
		first = newest_named(s.name);
		if (first > 0) {
			proc_cgroup(first, cg, sizeof(cg));
			caught = cg[0] && seccomp_mode(first) == 2 &&
				 !strcmp(comm_of(first), s.name);
		}
		if (!caught)
			pause_ms(5);
	}
	assert_true(caught);
	assert_non_null(strstr(path, cg));

	/* Kills accumulate, and new hogs keep appearing. */
	pause_ms(2500);
	k1 = oom_kills_of(s.undo);
	for (int i = 0; i < 100; i++) {
		later = newest_named(s.name);
		if (later > 0 && later != first)
			break;
		pause_ms(20);
	}
	printf("after 2.5 s: %llu OOM kills, hog %d replaced by %d, supervisor %d\n", k1,
	       (int)first, (int)later, (int)sup);
	assert_true(k1 >= 2);
	assert_true(later > 0 && later != first);
	assert_string_equal(comm_of(sup), s.sup);

	/* The fix: a limit above what the hog needs. */
	assert_int_equal(memcg_from_json(cJSON_GetObjectItem(s.undo, "cgroup"), &m), 0);
	cl_error_clear(&err);
	assert_int_equal(memcg_limit_set(&m, 256 * MIB, &err), 0);
	pause_ms(1500);
	k2 = oom_kills_of(s.undo);
	stable = newest_named(s.name);
	pause_ms(1500);
	k3 = oom_kills_of(s.undo);
	printf("limit raised: kills %llu -> %llu, hog %d -> %d\n", k2, k3, (int)stable,
	       (int)newest_named(s.name));
	assert_true(k3 == k2);
	assert_true(stable > 0);
	assert_int_equal(newest_named(s.name), stable);
	assert_true(wait_rss(stable, 90 * 1024, 3000) >= 90 * 1024);

	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	printf("revert: %s\n", buf);
	assert_non_null(strstr(buf, "stopped"));
	assert_non_null(strstr(buf, "removed cgroup"));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(wait_named(s.name, 0, 3000), 0);
	assert_int_equal(wait_named(s.sup, 0, 3000), 0);
	step_release(&s);
}

/* The harness died: the journaled undo text alone stops the loop and
 * removes the cgroup. */
static void test_revert_from_journaled_undo_alone(void **state)
{
	static struct step s; /* static: the teardown reverts it after a failure */
	char *text, buf[256], path[512], name[16], sup[16];
	cJSON *undo;

	if (!have_memcg()) {
		skip();
		return;
	}
	step_apply(&s, "{\"mib\": 64, \"rate_mib_per_second\": 256, \"cgroup_limit_mib\": 16, "
		       "\"restart\": true, \"name\": \"%s\", \"supervisor_name\": \"%s\", "
		       "\"backoff_seconds\": 0.2, \"backoff_max_seconds\": 0.2}");
	pause_ms(1000);
	text = cJSON_PrintUnformatted(s.undo);
	snprintf(path, sizeof(path), "%s", undo_cgroup_path(s.undo));
	snprintf(name, sizeof(name), "%s", s.name);
	snprintf(sup, sizeof(sup), "%s", s.sup);
	step_release(&s);
	undo = cJSON_Parse(text);
	free(text);
	revert_from(NULL, undo, buf, sizeof(buf));
	printf("revert: %s\n", buf);
	assert_non_null(strstr(buf, "removed cgroup"));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(wait_named(name, 0, 3000), 0);
	assert_int_equal(wait_named(sup, 0, 3000), 0);
	/* Again: nothing left. */
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cJSON_Delete(undo);
}

/* Journaled cgroups that are not this step's are never removed. */
static void test_revert_leaves_foreign_cgroups(void **state)
{
	char root[512], why[512], name[300], buf[256];
	enum cgroup_where v;
	struct memcg other;
	struct cl_error err;
	struct revert_ctx rc = { .state_dir = state_root };
	cJSON *undo;

	if (!have_memcg()) {
		skip();
		return;
	}
	assert_int_equal(memcg_root_find(CGROUP_NOWHERE, &v, root, sizeof(root), why, sizeof(why)),
			 0);
	/* One with our prefix, made by another run. */
	snprintf(buf, sizeof(buf), "test-memory-hog-other-%d", (int)getpid());
	assert_int_equal(memcg_name(name, sizeof(name), buf, "hog"), 0);
	other.version = v;
	snprintf(other.path, sizeof(other.path), "%s/%s", root, name);
	cl_error_clear(&err);
	assert_int_equal(memcg_create(&other, &err), 0);

	undo = cJSON_CreateObject();
	cJSON_AddStringToObject(undo, "run", "test-memory-hog-this-run");
	cJSON_AddStringToObject(undo, "step", "hog");
	cJSON_AddItemToObject(undo, "cgroup", memcg_to_json(&other));
	rc.undo = undo;
	assert_int_equal(hog->revert(&rc, &err), -1);
	printf("revert refuses: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "left cgroup alone"));
	assert_int_equal(access(other.path, F_OK), 0);

	/* The hierarchy's root itself, or a cgroup without our prefix. */
	cJSON_DeleteItemFromObject(undo, "cgroup");
	snprintf(other.path, sizeof(other.path), "%s", root);
	cJSON_AddItemToObject(undo, "cgroup", memcg_to_json(&other));
	cl_error_clear(&err);
	assert_int_equal(hog->revert(&rc, &err), -1);
	assert_int_equal(access(root, F_OK), 0);
	cJSON_Delete(undo);

	snprintf(other.path, sizeof(other.path), "%s/%s", root, name);
	assert_int_equal(memcg_remove(&other, name, NULL, NULL, NULL, NULL, &err), 0);
	assert_int_equal(access(other.path, F_OK), -1);
}

/* After a failed test: revert what it applied, so that nothing of it
 * outlives the test binary (cgroups would). */
static int teardown_step(void **state)
{
	if (applied && applied->undo) {
		struct revert_ctx rc = { .run_id = applied->run_id,
					 .step_id = "hog",
					 .state_dir = state_root,
					 .undo = applied->undo };
		struct cl_error err;

		cl_error_clear(&err);
		if (hog->revert(&rc, &err))
			printf("teardown: revert failed: %s\n", err.msg);
		step_release(applied);
	}
	worker_reap_children();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_supported, teardown_step),
		cmocka_unit_test_teardown(test_validate_refusals, teardown_step),
		cmocka_unit_test_teardown(test_guardrail_refuses, teardown_step),
		cmocka_unit_test_teardown(test_at_once_resident, teardown_step),
		cmocka_unit_test_teardown(test_leak_rate, teardown_step),
		cmocka_unit_test_teardown(test_floor_stops_growth, teardown_step),
		cmocka_unit_test_teardown(test_revert_when_apply_never_ran, teardown_step),
		cmocka_unit_test_teardown(test_cgroup_oom_once, teardown_step),
		cmocka_unit_test_teardown(test_cgroup_oom_loop, teardown_step),
		cmocka_unit_test_teardown(test_revert_from_journaled_undo_alone, teardown_step),
		cmocka_unit_test_teardown(test_revert_leaves_foreign_cgroups, teardown_step),
	};
	const char *bin = getenv("CHAOSLAB_BIN");
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (!bin || access(bin, X_OK)) {
		printf("SKIP: CHAOSLAB_BIN does not name the chaoslab binary (run through ctest)\n");
		return 77;
	}
	worker_set_exe(bin);
	if (worker_become_subreaper()) {
		printf("SKIP: cannot become a child subreaper: %s\n", strerror(errno));
		return 77;
	}
	hog = injector_find("memory-hog");
	if (!hog) {
		printf("FAIL: no memory-hog injector in the table\n");
		return 1;
	}
	snprintf(state_root, sizeof(state_root), "%s/chaoslab-memory-hog-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(state_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(state_root);
	return rc;
}
