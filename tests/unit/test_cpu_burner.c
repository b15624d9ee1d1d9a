/* Tests of injectors/cpu-burner.c through its descriptor, with real burner
 * processes (the chaoslab binary re-executed, found through CHAOSLAB_BIN):
 * they exist under the scenario's name (as /proc and the real `ps` see it),
 * burn about load_percent, carry the nice value, and revert stops them all;
 * reverting again, or from the journaled undo data alone, or when apply never
 * ran, is safe; in respawn mode a killed burner comes back and stopping the
 * parent stops everything. */
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
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/registry.h"
#include "sys/proc.h"
#include "sys/worker.h"

#define MAX_PROCS 16

static const struct injector *burner;
static char state_root[512];

struct step {
	char run_id[64];
	char name[16];
	struct params params;
	cJSON *undo;
	struct inject_ctx ctx;
};

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Parse `with` (JSON, "%s" stands for the unique process name) and apply. */
static void step_apply(struct step *s, const char *with_fmt)
{
	static int seq;
	struct cl_error err;
	struct doc_node *doc;
	char with[512];

	memset(s, 0, sizeof(*s));
	snprintf(s->run_id, sizeof(s->run_id), "test-cpu-burner-%d-%d", (int)getpid(), seq);
	/* A '/' as in a disguise such as kworker/0:1. */
	snprintf(s->name, sizeof(s->name), "cb/%d-%d", (int)getpid() % 100000, seq++);
	snprintf(with, sizeof(with), with_fmt, s->name);
	cl_error_clear(&err);
	doc = doc_parse_json("test.json", with, strlen(with), &err);
	assert_non_null(doc);
	if (params_from_doc(&s->params, burner->params, doc, "test.json", NULL, "inject[0].with",
			    &err))
		fail_msg("params: %s", err.msg);
	doc_free(doc);
	s->undo = cJSON_CreateObject();
	cJSON_AddStringToObject(s->undo, "run", s->run_id);
	cJSON_AddStringToObject(s->undo, "step", "burner");
	s->ctx = (struct inject_ctx){ .run_id = s->run_id,
				      .step_id = "burner",
				      .state_dir = state_root,
				      .params = &s->params,
				      .undo = s->undo };
	if (burner->apply(&s->ctx, &err))
		fail_msg("apply: %s", err.msg);
}

static void step_release(struct step *s)
{
	params_release(&s->params);
	cJSON_Delete(s->undo);
	s->undo = NULL;
}

/* Revert from undo; returns the report in buf. */
static void revert_from(const char *run_id, const cJSON *undo, char *buf, size_t size)
{
	struct revert_ctx rc = { .run_id = run_id,
				 .step_id = run_id ? "burner" : NULL,
				 .state_dir = state_root,
				 .undo = undo };
	struct cl_error err;

	cl_error_clear(&err);
	if (burner->revert(&rc, &err))
		fail_msg("revert: %s", err.msg);
	snprintf(buf, size, "%s", rc.report);
}

/* Reap what died: we are the subreaper of everything the burners leave. */
static void reap(void)
{
	pause_ms(50);
	worker_reap_children();
}

/* Live (not zombie) processes whose comm is name; pids into out. */
static int procs_named(const char *name, pid_t *out, size_t cap, pid_t *ppids)
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
		if (out && (size_t)n < cap) {
			out[n] = st.pid;
			if (ppids)
				ppids[n] = st.ppid;
		}
		n++;
	}
	closedir(d);
	return n;
}

/* Wait up to ms for exactly want live processes named name. */
static int wait_named(const char *name, int want, long ms)
{
	int n = -1;

	for (long waited = 0; waited <= ms; waited += 20) {
		reap();
		n = procs_named(name, NULL, 0, NULL);
		if (n == want)
			break;
		pause_ms(20);
	}
	return n;
}

static unsigned long long cpu_ticks(pid_t pid)
{
	struct proc_stat st;

	assert_int_equal(proc_stat_read(pid, &st), 0);
	return st.utime + st.stime;
}

/* What the real ps prints as the command name of pid. */
static void ps_comm(pid_t pid, char *buf, size_t size)
{
	char cmd[64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ps -o comm= -p %d", (int)pid);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(buf, (int)size, p))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pclose(p);
}

static void test_supported(void **state)
{
	char why[256] = "";

	assert_non_null(burner->supported);
	assert_int_equal(burner->supported(NULL, why, sizeof(why)), 0);
	assert_non_null(burner->worker);
}

static void test_apply_burns_and_revert_stops(void **state)
{
	struct step s;
	pid_t pids[MAX_PROCS];
	unsigned long long t0[MAX_PROCS], t1[MAX_PROCS];
	const cJSON *w, *it;
	char buf[256];
	double m0, m1;
	int n;

	step_apply(&s, "{\"workers\": 2, \"load_percent\": 40, \"name\": \"%s\"}");

	/* Journaled: the owner tag and every worker's identity. */
	assert_true(cJSON_IsString(cJSON_GetObjectItem(s.undo, "owner")));
	worker_owner_tag(buf, sizeof(buf), s.run_id, "burner");
	assert_string_equal(cJSON_GetObjectItem(s.undo, "owner")->valuestring, buf);
	w = cJSON_GetObjectItem(s.undo, "workers");
	assert_int_equal(cJSON_GetArraySize(w), 2);
	cJSON_ArrayForEach (it, w) {
		struct proc_ident id;

		assert_int_equal(proc_ident_from_json(it, &id), 0);
		assert_true(proc_ident_alive(&id));
	}

	n = procs_named(s.name, pids, MAX_PROCS, NULL);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++) {
		ps_comm(pids[i], buf, sizeof(buf));
		assert_string_equal(buf, s.name);
		errno = 0;
		assert_int_equal(getpriority(PRIO_PROCESS, (id_t)pids[i]), 0);
	}

	/* About 40 % of a core each (loose: the machine may be busy). */
	pause_ms(300);
	m0 = mono_now();
	for (int i = 0; i < n; i++)
		t0[i] = cpu_ticks(pids[i]);
	pause_ms(3000);
	m1 = mono_now();
	for (int i = 0; i < n; i++)
		t1[i] = cpu_ticks(pids[i]);
	for (int i = 0; i < n; i++) {
		double pct = 100.0 * (double)(t1[i] - t0[i]) / (double)proc_clk_tck() / (m1 - m0);

		if (pct < 30.0 || pct > 50.0)
			fail_msg("burner %d burned %.1f %% over 3 s, wanted 40 +- 10", (int)pids[i],
				 pct);
	}

	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 2 workers");
	assert_int_equal(wait_named(s.name, 0, 2000), 0);
	/* Idempotent. */
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	step_release(&s);
}

static void test_nice_and_load_100(void **state)
{
	struct step s;
	pid_t pid;
	char buf[256];
	unsigned long long t0;
	double m0;

	step_apply(&s, "{\"load_percent\": 100, \"nice\": 5, \"name\": \"%s\"}");
	assert_int_equal(procs_named(s.name, &pid, 1, NULL), 1);
	errno = 0;
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)pid), 5);
	m0 = mono_now();
	t0 = cpu_ticks(pid);
	pause_ms(1000);
	double pct =
		100.0 * (double)(cpu_ticks(pid) - t0) / (double)proc_clk_tck() / (mono_now() - m0);
	if (pct < 60.0)
		fail_msg("a 100 %% burner burned %.1f %%", pct);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 1 worker");
	step_release(&s);
}

/* The harness died: only the journaled undo text is left. */
static void test_revert_from_journaled_undo_alone(void **state)
{
	struct step s;
	char *text, buf[256];
	cJSON *undo;

	step_apply(&s, "{\"workers\": 2, \"load_percent\": 10, \"name\": \"%s\"}");
	text = cJSON_PrintUnformatted(s.undo);
	assert_non_null(text);
	char name[16];
	snprintf(name, sizeof(name), "%s", s.name);
	step_release(&s);

	undo = cJSON_Parse(text);
	free(text);
	assert_non_null(undo);
	/* No run or step id either: the undo data must be enough. */
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 2 workers");
	assert_int_equal(wait_named(name, 0, 2000), 0);
	cJSON_Delete(undo);
}

/* Either half of the undo data suffices: the tag, or the identities. */
static void test_revert_by_tag_or_by_identity(void **state)
{
	struct step s;
	cJSON *undo;
	char buf[256];

	step_apply(&s, "{\"workers\": 2, \"load_percent\": 10, \"name\": \"%s\"}");
	undo = cJSON_Duplicate(s.undo, 1);
	cJSON_DeleteItemFromObject(undo, "workers");
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 2 workers");
	assert_int_equal(wait_named(s.name, 0, 2000), 0);
	cJSON_Delete(undo);
	step_release(&s);

	step_apply(&s, "{\"workers\": 2, \"load_percent\": 10, \"name\": \"%s\"}");
	undo = cJSON_Duplicate(s.undo, 1);
	cJSON_DeleteItemFromObject(undo, "owner");
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 2 workers");
	assert_int_equal(wait_named(s.name, 0, 2000), 0);
	cJSON_Delete(undo);
	step_release(&s);
}

static void test_revert_when_apply_never_ran(void **state)
{
	cJSON *undo = cJSON_Parse("{\"run\": \"never-ran\", \"step\": \"burner\"}");
	char buf[256];

	revert_from("never-ran", undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cJSON_Delete(undo);
	undo = cJSON_CreateObject();
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cJSON_Delete(undo);
}

/* A pid from the journal that now belongs to someone else is not killed. */
static void test_revert_spares_recycled_pid(void **state)
{
	pid_t other = fork();
	struct proc_ident id;
	char buf[256];
	cJSON *undo;
	int status;

	assert_true(other >= 0);
	if (other == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(proc_ident_of(other, &id), 0);
	id.start_time -= 1; /* "the burner that had this pid" */
	undo = cJSON_CreateObject();
	cJSON_AddStringToObject(undo, "owner", "test-cpu-burner-gone:burner");
	cJSON_AddItemToObject(undo, "workers", cJSON_CreateArray());
	cJSON_AddItemToArray(cJSON_GetObjectItem(undo, "workers"), proc_ident_to_json(&id));
	revert_from(NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(kill(other, 0), 0);
	kill(other, SIGKILL);
	assert_int_equal(waitpid(other, &status, 0), other);
	cJSON_Delete(undo);
}

static void test_respawn(void **state)
{
	struct step s;
	pid_t pids[MAX_PROCS], ppids[MAX_PROCS], parent = -1, victim = -1;
	struct proc_ident pid_parent;
	char buf[256];
	int n, burners = 0, status;

	step_apply(&s,
		   "{\"workers\": 2, \"load_percent\": 20, \"respawn\": true, \"name\": \"%s\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s.undo, "workers")), 1);
	assert_int_equal(
		proc_ident_from_json(cJSON_GetArrayItem(cJSON_GetObjectItem(s.undo, "workers"), 0),
				     &pid_parent),
		0);
	parent = pid_parent.pid;
	assert_int_equal(wait_named(s.name, 3, 3000), 3);
	n = procs_named(s.name, pids, MAX_PROCS, ppids);
	for (int i = 0; i < n; i++) {
		if (ppids[i] == parent) {
			burners++;
			victim = pids[i];
		}
	}
	assert_int_equal(burners, 2);

	/* Killing a burner does not help: it comes back under a new pid. */
	assert_int_equal(kill(victim, SIGKILL), 0);
	bool back = false;
	for (int tries = 0; tries < 150 && !back; tries++) {
		pause_ms(20);
		n = procs_named(s.name, pids, MAX_PROCS, ppids);
		burners = 0;
		bool victim_alive = false;
		for (int i = 0; i < n; i++) {
			if (pids[i] == victim)
				victim_alive = true;
			else if (ppids[i] == parent)
				burners++;
		}
		back = !victim_alive && burners == 2;
	}
	assert_true(back);

	/* Stopping the parent is the fix: everything goes. */
	assert_int_equal(kill(parent, SIGTERM), 0);
	assert_int_equal(waitpid(parent, &status, 0), parent);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(wait_named(s.name, 0, 3000), 0);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	step_release(&s);

	/* Not fixed: revert stops the parent and its burners. */
	step_apply(&s,
		   "{\"workers\": 2, \"load_percent\": 20, \"respawn\": true, \"name\": \"%s\"}");
	assert_int_equal(wait_named(s.name, 3, 3000), 3);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	int killed = 0;
	assert_int_equal(sscanf(buf, "stopped %d workers", &killed), 1);
	assert_true(killed >= 3);
	assert_int_equal(wait_named(s.name, 0, 3000), 0);
	revert_from(s.run_id, s.undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	step_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supported),
		cmocka_unit_test(test_apply_burns_and_revert_stops),
		cmocka_unit_test(test_nice_and_load_100),
		cmocka_unit_test(test_revert_from_journaled_undo_alone),
		cmocka_unit_test(test_revert_by_tag_or_by_identity),
		cmocka_unit_test(test_revert_when_apply_never_ran),
		cmocka_unit_test(test_revert_spares_recycled_pid),
		cmocka_unit_test(test_respawn),
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
	burner = injector_find("cpu-burner");
	if (!burner) {
		printf("FAIL: no cpu-burner injector in the table\n");
		return 1;
	}
	snprintf(state_root, sizeof(state_root), "%s/chaoslab-cpu-burner-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(state_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(state_root);
	return rc;
}
