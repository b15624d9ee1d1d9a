/* Tests of the process verifiers (verifiers/cpu-busy.c, process-absent.c,
 * process-alive.c, zombie-count.c, load-average.c) against real processes
 * this test starts: busy loops, sleepers carrying an owner tag, and a parent
 * that leaves its children unreaped. The drill's lookups (injection undo
 * data, service pids) come from a small table standing in for the engine. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "sys/proc.h"

/* ---- child processes: this binary re-executed ---------------------------- */

static int child_main(int argc, char **argv)
{
	if (argc < 3)
		return 127;
	prctl(PR_SET_NAME, argv[2], 0, 0, 0);
	if (!strcmp(argv[1], "--child-busy")) {
		volatile unsigned long spin = 0;

		for (;;)
			spin++;
	}
	if (!strcmp(argv[1], "--child-zombies") && argc >= 4) {
		/* Fork N children that exit at once, and never wait for them. */
		for (int i = 0; i < atoi(argv[3]); i++)
			if (fork() == 0)
				_exit(0);
	}
	for (;;)
		pause();
}

/* Start "--child-MODE COMM [ARG]" with CHAOSLAB_OWNER=owner when owner is
 * non-NULL; returns once it carries its name. */
static pid_t spawn_child(const char *mode, const char *comm, const char *owner, const char *arg)
{
	char flag[32];
	struct proc_stat st;
	pid_t pid;

	snprintf(flag, sizeof(flag), "--child-%s", mode);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "test_verifiers", flag, (char *)comm, (char *)arg, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (owner)
			setenv("CHAOSLAB_OWNER", owner, 1);
		else
			unsetenv("CHAOSLAB_OWNER");
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (!proc_stat_read(pid, &st) && !strcmp(st.comm, comm))
			return pid;
		usleep(10000);
	}
	fail_msg("child %d never took the name '%s'", (int)pid, comm);
	return -1;
}

static void kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Reap whatever exited, orphans included (this test is a subreaper). */
static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void unique_name(char *buf, size_t size, const char *prefix)
{
	static int seq;

	snprintf(buf, size, "%s%d-%d", prefix, (int)getpid() % 10000, seq++);
}

/* ---- the drill's lookups -------------------------------------------------- */

struct test_drill {
	const char *step;
	const cJSON *undo;
	const char *service;
	pid_t service_pid;
};

static const cJSON *drill_injection(void *opaque, const char *step)
{
	struct test_drill *d = opaque;

	return d->step && !strcmp(d->step, step) ? d->undo : NULL;
}

static pid_t drill_service_pid(void *opaque, const char *name)
{
	struct test_drill *d = opaque;

	return d->service && !strcmp(d->service, name) ? d->service_pid : -1;
}

static cJSON *undo_of(const char *owner, const pid_t *pids, size_t n)
{
	cJSON *undo = cJSON_CreateObject();
	cJSON *workers = cJSON_AddArrayToObject(undo, "workers");
	struct proc_ident id;

	if (owner)
		cJSON_AddStringToObject(undo, "owner", owner);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(proc_ident_of(pids[i], &id), 0);
		cJSON_AddItemToArray(workers, proc_ident_to_json(&id));
	}
	return undo;
}

/* ---- running checks -------------------------------------------------------- */

struct vcheck {
	const struct verifier *v;
	struct params params;
	struct check_env env;
	struct check_ctx ctx;
	struct cl_error err;
	char obs[256];
};

/* Validate with_json against the verifier's table (and its validate
 * callback); 0 or -1 with msg filled. */
static int params_load(const struct verifier *v, const char *with_json, struct params *p,
		       char *msg, size_t size)
{
	struct cl_error err;
	struct doc_node *d;
	int rc;

	cl_error_clear(&err);
	d = doc_parse_json("test", with_json, strlen(with_json), &err);
	if (!d)
		fail_msg("bad test JSON %s: %s", with_json, err.msg);
	rc = params_from_doc(p, v->params, d, "test", NULL, "with", &err);
	doc_free(d);
	if (rc) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	msg[0] = '\0';
	if (v->validate && v->validate(p, msg, size)) {
		params_release(p);
		return -1;
	}
	return 0;
}

static void vcheck_init(struct vcheck *c, const char *name, const char *with_json,
			struct test_drill *drill)
{
	char msg[256];

	memset(c, 0, sizeof(*c));
	c->v = verifier_find(name);
	assert_non_null(c->v);
	if (params_load(c->v, with_json, &c->params, msg, sizeof(msg)))
		fail_msg("%s %s: %s", name, with_json, msg);
	c->ctx.params = &c->params;
	if (drill) {
		c->env = (struct check_env){ .injection = drill_injection, .service_pid = drill_service_pid, .opaque = drill };
		c->ctx.env = &c->env;
	}
}

static int vcheck_run(struct vcheck *c)
{
	int rc;

	cl_error_clear(&c->err);
	c->obs[0] = '\0';
	c->ctx.now = mono_now();
	rc = c->v->check(&c->ctx, c->obs, sizeof(c->obs), &c->err);
	assert_true(rc == CHECK_MET || rc == CHECK_NOT_MET || rc == CHECK_ERROR);
	if (rc == CHECK_ERROR)
		assert_true(c->err.msg[0]);
	else
		assert_true(c->obs[0]);
	return rc;
}

/* Check every 0.2 s until the result is want or seconds pass. */
static int vcheck_until(struct vcheck *c, int want, double seconds)
{
	double end = mono_now() + seconds;
	int rc;

	for (;;) {
		rc = vcheck_run(c);
		if (rc == want || rc == CHECK_ERROR || mono_now() >= end)
			return rc;
		usleep(200000);
	}
}

static void vcheck_done(struct vcheck *c)
{
	if (c->v->release)
		c->v->release(&c->ctx);
	assert_null(c->ctx.state);
	params_release(&c->params);
}

/* The number after the first '%'-ending word, e.g. 97 in "cpu 97% over 3.0 s". */
static double obs_percent(const char *obs)
{
	const char *pct = strchr(obs, '%');

	assert_non_null(pct);
	while (pct > obs && pct[-1] != ' ')
		pct--;
	return atof(pct);
}

/* ---- cpu-busy ---------------------------------------------------------------- */

static void test_cpu_busy_system(void **state)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t busy[8] = { 0 };
	char name[16];
	struct vcheck c;
	double t0;
	int n = ncpus < 1 ? 1 : ncpus > 8 ? 8 : (int)ncpus;

	for (int i = 0; i < n; i++) {
		unique_name(name, sizeof(name), "clv-sys");
		busy[i] = spawn_child("busy", name, NULL, NULL);
	}

	/* min_percent confirms after one second even with a long window. */
	vcheck_init(&c, "cpu-busy", "{\"min_percent\": 70, \"window_seconds\": 10}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	assert_non_null(strstr(c.obs, "first sample"));
	t0 = mono_now();
	assert_int_equal(vcheck_until(&c, CHECK_MET, 8), CHECK_MET);
	assert_true(mono_now() - t0 < 6);
	assert_non_null(strstr(c.obs, "(window 10.0 s)"));
	assert_true(obs_percent(c.obs) >= 70);
	print_message("busy, partial window: %s\n", c.obs);
	vcheck_done(&c);

	/* max_percent is never met while every CPU spins, window covered or not. */
	vcheck_init(&c, "cpu-busy", "{\"max_percent\": 50, \"window_seconds\": 1}", NULL);
	t0 = mono_now();
	while (mono_now() - t0 < 2.5) {
		assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
		usleep(200000);
	}
	assert_null(strstr(c.obs, "window"));
	assert_true(obs_percent(c.obs) > 50);
	assert_int_equal(strncmp(c.obs, "cpu ", 4), 0);
	print_message("busy, full window: %s\n", c.obs);
	vcheck_done(&c);

	for (int i = 0; i < n; i++)
		kill_reap(busy[i]);

	/* Without the spinners the figure depends on whatever else this machine
	 * runs, so judge the verifier against /proc/stat read independently
	 * right after each of its samples, a second apart: the same window. */
	vcheck_init(&c, "cpu-busy", "{\"max_percent\": 60, \"window_seconds\": 1}", NULL);
	{
		struct proc_cpu_times prev, cur;
		bool seen_met = false;
		double pct, mine;
		int rc;

		assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
		assert_int_equal(proc_cpu_times_read(&prev), 0);
		for (int i = 0; i < 4; i++) {
			usleep(1000000);
			rc = vcheck_run(&c);
			assert_int_equal(proc_cpu_times_read(&cur), 0);
			pct = (double)(cur.busy - prev.busy) / (double)(cur.total - prev.total) * 100;
			mine = obs_percent(c.obs);
			print_message("after: %s (independently %.0f%%)\n", c.obs, pct);
			assert_null(strstr(c.obs, "window"));
			assert_true(mine > pct - 6 && mine < pct + 6);
			assert_int_equal(rc, mine <= 60 ? CHECK_MET : CHECK_NOT_MET);
			seen_met = seen_met || rc == CHECK_MET;
			prev = cur;
		}
		if (!seen_met)
			print_message("note: this machine stayed busy without the spinners; "
				      "max_percent was only seen not met\n");
	}
	vcheck_done(&c);
}

static void test_cpu_busy_max_needs_whole_window(void **state)
{
	struct vcheck c;
	double t0 = mono_now();
	int rc;

	/* Any use is at most 100%: only the window decides. */
	vcheck_init(&c, "cpu-busy", "{\"max_percent\": 100, \"window_seconds\": 2}", NULL);
	for (;;) {
		rc = vcheck_run(&c);
		if (rc == CHECK_MET)
			break;
		assert_true(mono_now() - t0 < 1.9 || strstr(c.obs, "window"));
		assert_true(mono_now() - t0 < 4);
		usleep(100000);
	}
	assert_true(mono_now() - t0 >= 1.9);
	assert_null(strstr(c.obs, "window"));
	vcheck_done(&c);
}

static void test_cpu_busy_injection(void **state)
{
	char owner[64], name[16], idle_name[16];
	struct test_drill drill = { .step = "burner" };
	pid_t burner, respawned, sleeper;
	struct vcheck c;
	cJSON *undo;

	snprintf(owner, sizeof(owner), "test-%d:burner", (int)getpid());
	unique_name(name, sizeof(name), "clv-burn");
	burner = spawn_child("busy", name, owner, NULL);
	undo = undo_of(owner, NULL, 0);
	drill.undo = undo;

	vcheck_init(&c, "cpu-busy", "{\"min_percent\": 20, \"window_seconds\": 1, "
				    "\"injection\": \"burner\"}", &drill);
	assert_int_equal(vcheck_until(&c, CHECK_MET, 6), CHECK_MET);
	assert_int_equal(strncmp(c.obs, name, strlen(name)), 0);
	assert_non_null(strstr(c.obs, " 1 proc "));
	print_message("injection: %s\n", c.obs);

	/* A burner killed and replaced by a new one (a respawning parent's
	 * doing) keeps the set busy: the newcomer's time counts. */
	kill_reap(burner);
	respawned = spawn_child("busy", name, owner, NULL);
	for (int i = 0; i < 8; i++) {
		vcheck_run(&c);
		usleep(200000);
	}
	assert_int_equal(vcheck_until(&c, CHECK_MET, 4), CHECK_MET);
	assert_true(obs_percent(c.obs) >= 20);
	kill_reap(respawned);
	/* Nobody left: no use, whatever the window. */
	assert_int_equal(vcheck_until(&c, CHECK_NOT_MET, 4), CHECK_NOT_MET);
	assert_non_null(strstr(c.obs, " 0 procs "));
	vcheck_done(&c);
	cJSON_Delete(undo);

	/* A sleeper known by its journaled identity only (no tag). */
	unique_name(idle_name, sizeof(idle_name), "clv-idle");
	sleeper = spawn_child("sleep", idle_name, NULL, NULL);
	undo = undo_of("test-elsewhere:other", &sleeper, 1);
	drill.undo = undo;
	vcheck_init(&c, "cpu-busy", "{\"max_percent\": 5, \"window_seconds\": 1, "
				    "\"injection\": \"burner\"}", &drill);
	assert_int_equal(vcheck_until(&c, CHECK_MET, 5), CHECK_MET);
	assert_int_equal(strncmp(c.obs, idle_name, strlen(idle_name)), 0);
	assert_non_null(strstr(c.obs, " 1 proc 0% over "));
	print_message("idle injection: %s\n", c.obs);
	vcheck_done(&c);
	kill_reap(sleeper);
	cJSON_Delete(undo);
}

static void test_cpu_busy_by_name(void **state)
{
	char name[16], with[128];
	pid_t a, b;
	struct vcheck c;

	unique_name(name, sizeof(name), "clv-nm");
	a = spawn_child("busy", name, NULL, NULL);
	b = spawn_child("busy", name, NULL, NULL);
	snprintf(with, sizeof(with), "{\"min_percent\": 20, \"window_seconds\": 1, \"name\": \"%s\"}",
		 name);
	vcheck_init(&c, "cpu-busy", with, NULL);
	assert_int_equal(vcheck_until(&c, CHECK_MET, 6), CHECK_MET);
	assert_int_equal(strncmp(c.obs, name, strlen(name)), 0);
	assert_non_null(strstr(c.obs, " 2 procs "));
	print_message("by name: %s\n", c.obs);
	vcheck_done(&c);
	kill_reap(a);
	kill_reap(b);
}

static void test_cpu_busy_lookup_errors(void **state)
{
	struct test_drill drill = { .step = "other" };
	struct vcheck c;

	vcheck_init(&c, "cpu-busy", "{\"min_percent\": 1, \"injection\": \"burner\"}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_ERROR);
	assert_non_null(strstr(c.err.msg, "during a drill"));
	vcheck_done(&c);

	vcheck_init(&c, "cpu-busy", "{\"min_percent\": 1, \"injection\": \"burner\"}", &drill);
	assert_int_equal(vcheck_run(&c), CHECK_ERROR);
	assert_non_null(strstr(c.err.msg, "'burner' has not been applied"));
	vcheck_done(&c);
}

/* ---- process-alive / process-absent -------------------------------------------- */

static void test_process_alive_absent_by_name(void **state)
{
	char name[16], with[96];
	struct vcheck alive, absent;
	pid_t pid;
	char want[64];

	unique_name(name, sizeof(name), "clv-pa");
	snprintf(with, sizeof(with), "{\"name\": \"%s\"}", name);
	vcheck_init(&alive, "process-alive", with, NULL);
	vcheck_init(&absent, "process-absent", with, NULL);

	assert_int_equal(vcheck_run(&alive), CHECK_NOT_MET);
	assert_string_equal(alive.obs, "none alive");
	assert_int_equal(vcheck_run(&absent), CHECK_MET);
	assert_string_equal(absent.obs, "none alive");

	pid = spawn_child("sleep", name, NULL, NULL);
	snprintf(want, sizeof(want), "1 alive: %d", (int)pid);
	assert_int_equal(vcheck_run(&alive), CHECK_MET);
	assert_string_equal(alive.obs, want);
	assert_int_equal(vcheck_run(&absent), CHECK_NOT_MET);
	assert_string_equal(absent.obs, want);

	/* Killed but not reaped: a zombie is not alive. */
	kill(pid, SIGKILL);
	for (int i = 0; i < 500 && !proc_is_zombie(pid); i++)
		usleep(10000);
	assert_true(proc_is_zombie(pid));
	assert_int_equal(vcheck_run(&alive), CHECK_NOT_MET);
	assert_int_equal(vcheck_run(&absent), CHECK_MET);
	assert_string_equal(absent.obs, "none alive");
	waitpid(pid, NULL, 0);

	vcheck_done(&alive);
	vcheck_done(&absent);
}

static void test_process_alive_absent_injection_and_service(void **state)
{
	char owner[64], n1[16], n2[16], want[64];
	struct test_drill drill = { .step = "burner", .service = "demo-api" };
	struct vcheck c;
	pid_t tagged, known;
	cJSON *undo;

	snprintf(owner, sizeof(owner), "test-%d:burner", (int)getpid());
	unique_name(n1, sizeof(n1), "clv-tag");
	unique_name(n2, sizeof(n2), "clv-id");
	tagged = spawn_child("sleep", n1, owner, NULL);
	known = spawn_child("sleep", n2, NULL, NULL);
	undo = undo_of(owner, &known, 1);
	drill.undo = undo;

	snprintf(want, sizeof(want), "2 alive: %d %d", (int)(tagged < known ? tagged : known),
		 (int)(tagged < known ? known : tagged));
	vcheck_init(&c, "process-alive", "{\"injection\": \"burner\"}", &drill);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_string_equal(c.obs, want);
	vcheck_done(&c);
	vcheck_init(&c, "process-absent", "{\"injection\": \"burner\"}", &drill);
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	assert_string_equal(c.obs, want);
	kill_reap(tagged);
	kill_reap(known);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_string_equal(c.obs, "none alive");
	vcheck_done(&c);
	cJSON_Delete(undo);

	/* A service: by the pid the drill reports. */
	drill.service_pid = spawn_child("sleep", n1, NULL, NULL);
	snprintf(want, sizeof(want), "1 alive: %d", (int)drill.service_pid);
	vcheck_init(&c, "process-alive", "{\"service\": \"demo-api\"}", &drill);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_string_equal(c.obs, want);
	kill_reap(drill.service_pid);
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	drill.service_pid = -1;
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	assert_string_equal(c.obs, "none alive");
	vcheck_done(&c);

	/* Without a drill there is nothing to look a service up in. */
	vcheck_init(&c, "process-alive", "{\"service\": \"demo-api\"}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_ERROR);
	assert_non_null(strstr(c.err.msg, "process-alive: service 'demo-api'"));
	vcheck_done(&c);
}

/* ---- zombie-count ------------------------------------------------------------------ */

static void test_zombie_count(void **state)
{
	char owner[64], name[16], with[128], want[64];
	struct test_drill drill = { .step = "forker" };
	struct vcheck c;
	pid_t parent;
	cJSON *undo;

	snprintf(owner, sizeof(owner), "test-%d:forker", (int)getpid());
	unique_name(name, sizeof(name), "clv-zp");
	parent = spawn_child("zombies", name, owner, "5");
	undo = undo_of(owner, NULL, 0);
	drill.undo = undo;
	snprintf(want, sizeof(want), "5 zombies under pid %d", (int)parent);

	/* Under the parent, by name, once all five have exited. */
	snprintf(with, sizeof(with), "{\"min\": 5, \"parent_name\": \"%s\"}", name);
	vcheck_init(&c, "zombie-count", with, NULL);
	assert_int_equal(vcheck_until(&c, CHECK_MET, 5), CHECK_MET);
	assert_string_equal(c.obs, want);
	print_message("zombies: %s\n", c.obs);
	vcheck_done(&c);

	snprintf(with, sizeof(with), "{\"max\": 4, \"parent_name\": \"%s\"}", name);
	vcheck_init(&c, "zombie-count", with, NULL);
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	assert_string_equal(c.obs, want);
	vcheck_done(&c);

	/* Under the injection's processes (the parent carries the tag). */
	vcheck_init(&c, "zombie-count", "{\"min\": 5, \"injection\": \"forker\"}", &drill);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_string_equal(c.obs, want);
	vcheck_done(&c);

	/* System-wide: at least ours. */
	vcheck_init(&c, "zombie-count", "{\"min\": 5}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_non_null(strstr(c.obs, "zombies under pid"));
	vcheck_done(&c);

	/* The fix: the parent goes, its zombies are reaped (here, by this test
	 * as their subreaper). */
	kill_reap(parent);
	for (int i = 0; i < 100; i++) {
		reap_all();
		usleep(10000);
	}
	vcheck_init(&c, "zombie-count", "{\"max\": 0, \"injection\": \"forker\"}", &drill);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_string_equal(c.obs, "0 zombies (no process of injection forker alive)");
	vcheck_done(&c);
	snprintf(with, sizeof(with), "{\"max\": 0, \"parent_name\": \"%s\"}", name);
	vcheck_init(&c, "zombie-count", with, NULL);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	snprintf(want, sizeof(want), "0 zombies (no process named %s)", name);
	assert_string_equal(c.obs, want);
	vcheck_done(&c);

	/* A parent with no zombies says so. */
	parent = spawn_child("zombies", name, NULL, "0");
	vcheck_init(&c, "zombie-count", with, NULL);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	snprintf(want, sizeof(want), "0 zombies under pid %d", (int)parent);
	assert_string_equal(c.obs, want);
	vcheck_done(&c);
	kill_reap(parent);

	cJSON_Delete(undo);
}

/* ---- load-average -------------------------------------------------------------------- */

static void test_load_average(void **state)
{
	struct vcheck c;
	struct proc_loadavg la;

	vcheck_init(&c, "load-average", "{\"below\": 10000}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_MET);
	assert_int_equal(strncmp(c.obs, "load ", 5), 0);
	assert_non_null(strstr(c.obs, " over 1 min ("));
	assert_int_equal(proc_loadavg_read(&la), 0);
	/* The observation shows the figure it judged. */
	assert_true(atof(c.obs + 5) >= 0 && atof(c.obs + 5) <= la.avg[0] + 1.0);
	print_message("load: %s\n", c.obs);
	vcheck_done(&c);

	vcheck_init(&c, "load-average", "{\"above\": 10000, \"minutes\": \"15\"}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	assert_non_null(strstr(c.obs, " over 15 min ("));
	vcheck_done(&c);

	vcheck_init(&c, "load-average", "{\"below\": 0, \"minutes\": \"5\"}", NULL);
	assert_int_equal(vcheck_run(&c), CHECK_NOT_MET);
	assert_non_null(strstr(c.obs, " over 5 min ("));
	vcheck_done(&c);
}

/* ---- parameters ------------------------------------------------------------------------- */

static void test_validate_exactly_one(void **state)
{
	static const struct {
		const char *verifier, *with, *error; /* error NULL = valid */
	} cases[] = {
		{ "cpu-busy", "{}", "give exactly one of min_percent or max_percent" },
		{ "cpu-busy", "{\"min_percent\": 1, \"max_percent\": 2}",
		  "min_percent and max_percent exclude each other: give one" },
		{ "cpu-busy", "{\"min_percent\": 1, \"injection\": \"a\", \"name\": \"b\"}",
		  "injection and name exclude each other: give at most one" },
		{ "cpu-busy", "{\"max_percent\": 1, \"name\": \"b\"}", NULL },
		{ "process-absent", "{}", "give exactly one of injection, name or service" },
		{ "process-absent", "{\"name\": \"a\", \"service\": \"b\"}",
		  "injection, name and service exclude each other: give one" },
		{ "process-absent", "{\"injection\": \"a\"}", NULL },
		{ "process-alive", "{}", "give exactly one of injection, name or service" },
		{ "process-alive", "{\"name\": \"a\", \"service\": \"b\", \"injection\": \"c\"}",
		  "injection, name and service exclude each other: give one" },
		{ "process-alive", "{\"service\": \"demo-api\"}", NULL },
		{ "zombie-count", "{}", "give exactly one of min or max" },
		{ "zombie-count", "{\"min\": 1, \"max\": 2}", "min and max exclude each other: give one" },
		{ "zombie-count", "{\"min\": 1, \"injection\": \"a\", \"parent_name\": \"b\"}",
		  "injection and parent_name exclude each other: give at most one" },
		{ "zombie-count", "{\"max\": 0, \"parent_name\": \"b\"}", NULL },
		{ "load-average", "{}", "give exactly one of above or below" },
		{ "load-average", "{\"above\": 1, \"below\": 2}",
		  "above and below exclude each other: give one" },
		{ "load-average", "{\"above\": 1, \"minutes\": \"5\"}", NULL },
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct verifier *v = verifier_find(cases[i].verifier);
		struct params p;
		int rc;

		assert_non_null(v);
		assert_non_null(v->validate);
		rc = params_load(v, cases[i].with, &p, msg, sizeof(msg));
		if (!cases[i].error) {
			if (rc)
				fail_msg("%s %s: unexpected error: %s", cases[i].verifier, cases[i].with,
					 msg);
			params_release(&p);
			continue;
		}
		if (!rc)
			fail_msg("%s %s: no error", cases[i].verifier, cases[i].with);
		assert_string_equal(msg, cases[i].error);
	}
}

static void test_supported_and_help(void **state)
{
	static const char *const names[] = { "cpu-busy", "process-absent", "process-alive",
					     "zombie-count", "load-average" };
	char why[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct verifier *v = verifier_find(names[i]);

		assert_non_null(v);
		assert_non_null(v->supported);
		why[0] = '\0';
		assert_int_equal(v->supported(NULL, why, sizeof(why)), 0);
		for (const struct param_spec *s = v->params; s->name; s++)
			assert_true(s->help && strlen(s->help) > 10);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_exactly_one),
		cmocka_unit_test(test_supported_and_help),
		cmocka_unit_test(test_process_alive_absent_by_name),
		cmocka_unit_test(test_process_alive_absent_injection_and_service),
		cmocka_unit_test(test_zombie_count),
		cmocka_unit_test(test_load_average),
		cmocka_unit_test(test_cpu_busy_lookup_errors),
		cmocka_unit_test(test_cpu_busy_max_needs_whole_window),
		cmocka_unit_test(test_cpu_busy_injection),
		cmocka_unit_test(test_cpu_busy_by_name),
		cmocka_unit_test(test_cpu_busy_system),
	};
	int rc;

	if (argc >= 2 && !strncmp(argv[1], "--child-", 8))
		return child_main(argc, argv);
	/* Orphaned zombies of a killed parent come here to be reaped, instead of
	 * depending on whatever runs as pid 1. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	reap_all();
	return rc;
}
