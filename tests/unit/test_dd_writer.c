/* Tests of injectors/dd-writer.c through its descriptor, with real workers
 * (the chaoslab binary re-executed, found through CHAOSLAB_BIN) on real lab
 * volumes (root): parameter checks and the fill-target guardrail; the
 * throughput writer holds its rate (as /proc/PID/io write_bytes counts it),
 * keeps its file bounded and runs under seccomp; a throttled volume is as
 * slow as asked; fill reaches the percent the real df reports; deleted_open
 * holds an unlinked file; a step can write on an earlier step's volume;
 * revert stops everything and tears the volume down, also from the
 * journaled undo text alone, twice, or when apply never ran. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
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
#include "lab/volume.h"
#include "sys/proc.h"
#include "sys/worker.h"

static const struct injector *dd;
static char state_root[256];

struct step {
	char run_id[64];
	char id[32];
	struct params params;
	cJSON *undo;
	struct inject_ctx ctx;
};

/* Steps applied and not released yet: a failed test's are reverted by
 * revert_leftovers(), so a failure leaves no volume mounted. */
#define MAX_LIVE 8
static struct step *live[MAX_LIVE];

static void live_add(struct step *s)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = s;
			return;
		}
}

static void live_drop(struct step *s)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == s)
			live[i] = NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int parse(struct params *p, const char *with, char *msg, size_t size)
{
	struct cl_error err;
	struct doc_node *doc;
	int rc;

	cl_error_clear(&err);
	doc = doc_parse_json("test.json", with, strlen(with), &err);
	assert_non_null(doc);
	rc = params_from_doc(p, dd->params, doc, "test.json", NULL, "inject[0].with", &err);
	doc_free(doc);
	if (rc) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	if (dd->validate(p, msg, size)) {
		params_release(p);
		return -1;
	}
	return 0;
}

/* Apply with `with` as the step's parameters; returns apply's result, the
 * error in msg. */
static int step_apply(struct step *s, const char *id, const char *with, char *msg, size_t size)
{
	static int seq;
	struct cl_error err;

	memset(s, 0, sizeof(*s));
	snprintf(s->run_id, sizeof(s->run_id), "test-dd-%d-%d", (int)getpid(), seq++);
	snprintf(s->id, sizeof(s->id), "%s", id);
	if (parse(&s->params, with, msg, size))
		fail_msg("params %s: %s", with, msg);
	s->undo = cJSON_CreateObject();
	cJSON_AddStringToObject(s->undo, "run", s->run_id);
	cJSON_AddStringToObject(s->undo, "step", s->id);
	live_add(s);
	s->ctx = (struct inject_ctx){ .run_id = s->run_id,
				      .step_id = s->id,
				      .state_dir = state_root,
				      .params = &s->params,
				      .undo = s->undo };
	cl_error_clear(&err);
	if (dd->apply(&s->ctx, &err)) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	return 0;
}

static void revert_undo(const char *run_id, const char *step, const cJSON *undo, char *buf,
			size_t size)
{
	struct revert_ctx rc = {
		.run_id = run_id, .step_id = step, .state_dir = state_root, .undo = undo
	};
	struct cl_error err;

	cl_error_clear(&err);
	if (dd->revert(&rc, &err))
		fail_msg("revert: %s", err.msg);
	snprintf(buf, size, "%s", rc.report);
}

static void step_revert(struct step *s, char *buf, size_t size)
{
	revert_undo(s->run_id, s->id, s->undo, buf, size);
	worker_reap_children();
}

static void step_release(struct step *s)
{
	live_drop(s);
	params_release(&s->params);
	cJSON_Delete(s->undo);
	s->undo = NULL;
}

static pid_t worker_pid(const struct step *s)
{
	struct proc_ident id;
	const cJSON *w = cJSON_GetObjectItem(s->undo, "workers");

	assert_int_equal(proc_ident_from_json(cJSON_GetArrayItem(w, 0), &id), 0);
	return id.pid;
}

static const char *undo_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(o, a);

	if (b)
		v = cJSON_GetObjectItem(v, b);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static long long write_bytes(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* A field of /proc/PID/status, e.g. "Seccomp". */
static int status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	int v = -1;
	size_t n = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	/* Cap* fields are hexadecimal masks. */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = (int)strtoll(line + n + 1, NULL, strncmp(key, "Cap", 3) ? 10 : 16);
	fclose(f);
	return v;
}

/* df's Use% of path, by the real df. */
static int df_use(const char *path)
{
	char cmd[PATH_MAX + 64], line[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "df --output=pcent '%s' | tail -1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	return atoi(line);
}

/* After revert: no worker, no mount, no image, nothing under STATE/lab. */
static void assert_nothing_left(const struct step *s)
{
	struct stat st;
	char lab[300];

	assert_int_equal(worker_find_owned(undo_str(s->undo, "owner", NULL), NULL, 0), 0);
	snprintf(lab, sizeof(lab), "%s/lab", state_root);
	assert_int_equal(stat(lab, &st), -1);
}

/* Per-test teardown: revert, newest first, what a failed test left. */
static int revert_leftovers(void **state)
{
	char buf[256];

	for (int i = MAX_LIVE; i-- > 0;) {
		struct step *s = live[i];
		struct revert_ctx rc;
		struct cl_error err;

		if (!s)
			continue;
		rc = (struct revert_ctx){ .run_id = s->run_id,
					  .step_id = s->id,
					  .state_dir = state_root,
					  .undo = s->undo };
		dd->revert(&rc, &err);
		worker_reap_children();
		snprintf(buf, sizeof(buf), "%s", rc.report);
		params_release(&s->params);
		cJSON_Delete(s->undo);
		live[i] = NULL;
	}
	return 0;
}

/* A worker locks down once its file is open, just after it took its name. */
static void wait_locked_down(pid_t pid)
{
	for (int i = 0; i < 200 && status_field(pid, "Seccomp") != 2; i++)
		pause_ms(10);
}

static bool have_root(void)
{
	char why[256];

	if (geteuid() != 0)
		return false;
	if (dd->supported(NULL, why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		return false;
	}
	return true;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_validate(void **state)
{
	static const struct {
		const char *with, *msg;
	} bad[] = {
		{ "{\"path\": \"../../etc/x\"}",
		  "fill target '../../etc/x' outside the lab volume" },
		{ "{\"path\": \"a/../../x\"}", "outside the lab volume" },
		{ "{\"mode\": \"fill\", \"mib_per_second\": 5}",
		  "only applies to mode throughput" },
		{ "{\"percent\": 50}", "percent only applies" },
		{ "{\"mode\": \"deleted_open\", \"mib\": 5}", "mib only applies to mode fill" },
		{ "{\"mode\": \"fill\", \"mib\": 5, \"percent\": 5}", "exclude each other" },
		{ "{\"volume\": \"a\", \"volume_mib\": 64}", "not with volume" },
		{ "{\"file_mib\": 200, \"volume_mib\": 256}", "file_mib must fit" },
		{ "{\"name\": \"a b\"}", "whitespace" },
		{ "{\"disk_mib_per_second\": 4, \"backend\": \"tmpfs\"}", "needs a block device" },
	};
	char msg[512];
	struct params p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		if (!parse(&p, bad[i].with, msg, sizeof(msg))) {
			params_release(&p);
			fail_msg("%s accepted", bad[i].with);
		}
		if (!strstr(msg, bad[i].msg))
			fail_msg("%s: '%s' does not say '%s'", bad[i].with, msg, bad[i].msg);
	}
	assert_int_equal(parse(&p, "{\"mode\": \"fill\", \"percent\": 80, \"path\": \"/x/y\"}", msg,
			       sizeof(msg)),
			 0);
	params_release(&p);
}

/* An absolute fill target outside the volume is refused before anything is
 * made. */
static void test_apply_refuses_outside_target(void **state)
{
	char msg[512], buf[256], victim[300];
	struct step s;
	struct stat st;

	if (!have_root())
		skip();
	snprintf(victim, sizeof(victim), "%s/victim.dat", state_root);
	snprintf(buf, sizeof(buf), "{\"mode\": \"fill\", \"path\": \"%s\"}", victim);
	assert_int_equal(step_apply(&s, "refused", buf, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "outside the lab volume"));
	assert_int_equal(stat(victim, &st), -1);
	step_revert(&s, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_nothing_left(&s);
	step_release(&s);
}

static void test_throughput_rate_bounded_locked_down(void **state)
{
	char msg[512], buf[256], file[PATH_MAX];
	struct step s;
	struct stat st;
	long long b0, b1;
	double t0, t1, rate;
	pid_t pid;

	if (!have_root())
		skip();
	if (step_apply(&s, "tput",
		       "{\"mib_per_second\": 10, \"file_mib\": 8, \"volume_mib\": 64, "
		       "\"name\": \"ddtest-tput\", \"path\": \"out/f.dat\"}",
		       msg, sizeof(msg)))
		fail_msg("apply: %s", msg);
	pid = worker_pid(&s);
	snprintf(file, sizeof(file), "%s", undo_str(s.undo, "file", NULL));
	assert_non_null(strstr(file, "/lab/tput/out/f.dat"));
	/* Locked down: seccomp filter mode, no capabilities. */
	wait_locked_down(pid);
	assert_int_equal(status_field(pid, "Seccomp"), 2);
	assert_int_equal(status_field(pid, "NoNewPrivs"), 1);
	assert_int_equal(status_field(pid, "CapEff"), 0);

	pause_ms(500);
	t0 = mono_now();
	b0 = write_bytes(pid);
	pause_ms(3000);
	t1 = mono_now();
	b1 = write_bytes(pid);
	rate = (double)(b1 - b0) / 1048576.0 / (t1 - t0);
	if (rate < 8.5 || rate > 11.5)
		fail_msg("wrote %.2f MiB/s, wanted 10 +- 15%%", rate);
	/* 30 MiB written, the file stays within file_mib. */
	assert_int_equal(stat(file, &st), 0);
	assert_true(st.st_size <= 8 * 1048576);
	assert_true(b1 > 16 * 1048576);

	step_revert(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "stopped 1 worker"));
	assert_non_null(strstr(buf, "removed the written file"));
	assert_non_null(strstr(buf, "unmounted"));
	assert_nothing_left(&s);
	step_revert(&s, buf, sizeof(buf));
	assert_string_equal(buf, "");
	step_release(&s);
}

/* The slow disk: a writer wanting 16 MiB/s on a volume throttled to 4. */
static void test_throttled_disk(void **state)
{
	char msg[512], buf[256], procs[PATH_MAX], line[32];
	const char *cg;
	struct step s;
	struct stat st;
	long long b0, b1;
	double t0, t1, rate;
	pid_t pid;
	FILE *f;
	bool inside = false;

	if (!have_root())
		skip();
	if (step_apply(&s, "slow",
		       "{\"mib_per_second\": 16, \"disk_mib_per_second\": 4, \"volume_mib\": 64, "
		       "\"file_mib\": 32, \"name\": \"ddtest-slow\", \"backend\": \"loop\"}",
		       msg, sizeof(msg))) {
		if (strstr(msg, "controller")) {
			printf("SKIP: %s\n", msg);
			step_revert(&s, buf, sizeof(buf));
			step_release(&s);
			skip();
		}
		fail_msg("apply: %s", msg);
	}
	pid = worker_pid(&s);
	cg = undo_str(s.undo, "throttle", "cgroup");
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	f = fopen(procs, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (atoi(line) == pid)
			inside = true;
	fclose(f);
	assert_true(inside);

	pause_ms(1500);
	t0 = mono_now();
	b0 = write_bytes(pid);
	pause_ms(4000);
	t1 = mono_now();
	b1 = write_bytes(pid);
	rate = (double)(b1 - b0) / 1048576.0 / (t1 - t0);
	if (rate < 2.5 || rate > 5.5)
		fail_msg("wrote %.2f MiB/s on a 4 MiB/s disk (wanted 16)", rate);

	step_revert(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "removed the throttling cgroup"));
	assert_int_equal(stat(cg, &st), -1);
	assert_nothing_left(&s);
	step_release(&s);
}

static void test_fill_percent_as_df_sees_it(void **state)
{
	char msg[512], buf[256];
	struct step s;
	const char *mnt;
	int use = 0;

	if (!have_root())
		skip();
	if (step_apply(&s, "half",
		       "{\"mode\": \"fill\", \"percent\": 50, \"volume_mib\": 64, "
		       "\"name\": \"ddtest-fill\"}",
		       msg, sizeof(msg)))
		fail_msg("apply: %s", msg);
	mnt = undo_str(s.undo, "volume", "mountpoint");
	for (int i = 0; i < 100 && use < 50; i++) {
		pause_ms(100);
		use = df_use(mnt);
	}
	pause_ms(500);
	use = df_use(mnt);
	if (use < 50 || use > 55)
		fail_msg("df shows %d%%, wanted 50..55", use);
	/* The writer closed its file and idles: it is not what holds the space. */
	assert_int_equal(kill(worker_pid(&s), 0), 0);
	step_revert(&s, buf, sizeof(buf));
	assert_nothing_left(&s);
	step_release(&s);
}

static void test_deleted_open_and_shared_volume(void **state)
{
	char msg[512], buf[256], fdpath[64], target[PATH_MAX], with[512];
	struct step owner, other;
	struct stat st;
	const char *mnt, *file;
	ssize_t n;
	bool held = false;

	if (!have_root())
		skip();
	/* The owner step: 8 MiB written before apply returns. */
	if (step_apply(
		    &owner, "base",
		    "{\"mode\": \"fill\", \"mib\": 8, \"volume_mib\": 64, \"name\": \"ddtest-base\","
		    " \"path\": \"data/keep.db\"}",
		    msg, sizeof(msg)))
		fail_msg("apply: %s", msg);
	file = undo_str(owner.undo, "file", NULL);
	assert_int_equal(stat(file, &st), 0);
	assert_true(st.st_size >= 8 * 1048576);
	mnt = undo_str(owner.undo, "volume", "mountpoint");

	/* A second step on the same volume: deleted but held open. */
	snprintf(with, sizeof(with),
		 "{\"mode\": \"deleted_open\", \"volume\": \"base\", \"percent\": 60, "
		 "\"name\": \"ddtest-held\", \"path\": \"logs/app.log\"}");
	if (step_apply(&other, "held", with, msg, sizeof(msg)))
		fail_msg("apply: %s", msg);
	assert_null(cJSON_GetObjectItem(other.undo, "volume"));
	assert_string_equal(undo_str(other.undo, "on_volume", "mountpoint"), mnt);
	for (int i = 0; i < 100 && !held; i++) {
		pause_ms(100);
		snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/3", (int)worker_pid(&other));
		n = readlink(fdpath, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			held = strstr(target, "app.log (deleted)") != NULL;
		}
	}
	assert_true(held);
	assert_int_equal(stat(fdpath, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_true(df_use(mnt) >= 60);

	/* Reverse order, as the engine reverts: the writer on the shared
	 * volume leaves the volume alone. */
	step_revert(&other, buf, sizeof(buf));
	assert_string_equal(buf, "stopped 1 worker");
	assert_int_equal(stat(file, &st), 0);
	step_revert(&owner, buf, sizeof(buf));
	assert_non_null(strstr(buf, "unmounted"));
	assert_nothing_left(&owner);
	step_release(&other);
	step_release(&owner);
}

/* The harness died: only the journaled undo text is left, without run or
 * step ids. */
static void test_revert_from_journaled_undo_alone(void **state)
{
	char msg[512], buf[256];
	struct step s;
	char *text;
	cJSON *undo;

	if (!have_root())
		skip();
	if (step_apply(&s, "lone",
		       "{\"mode\": \"deleted_open\", \"percent\": 30, \"volume_mib\": 32, "
		       "\"name\": \"ddtest-lone\"}",
		       msg, sizeof(msg)))
		fail_msg("apply: %s", msg);
	text = cJSON_PrintUnformatted(s.undo);
	undo = cJSON_Parse(text);
	free(text);
	revert_undo(NULL, NULL, undo, buf, sizeof(buf));
	worker_reap_children();
	assert_non_null(strstr(buf, "stopped 1 worker"));
	assert_non_null(strstr(buf, "unmounted"));
	assert_nothing_left(&s);
	revert_undo(NULL, NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cJSON_Delete(undo);
	step_release(&s);
}

static void test_revert_when_apply_never_ran(void **state)
{
	cJSON *undo = cJSON_Parse("{\"run\": \"never-ran\", \"step\": \"w\"}");
	char buf[256];

	revert_undo("never-ran", "w", undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	revert_undo(NULL, NULL, undo, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cJSON_Delete(undo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_validate, revert_leftovers),
		cmocka_unit_test_teardown(test_apply_refuses_outside_target, revert_leftovers),
		cmocka_unit_test_teardown(test_throughput_rate_bounded_locked_down,
					  revert_leftovers),
		cmocka_unit_test_teardown(test_throttled_disk, revert_leftovers),
		cmocka_unit_test_teardown(test_fill_percent_as_df_sees_it, revert_leftovers),
		cmocka_unit_test_teardown(test_deleted_open_and_shared_volume, revert_leftovers),
		cmocka_unit_test_teardown(test_revert_from_journaled_undo_alone, revert_leftovers),
		cmocka_unit_test_teardown(test_revert_when_apply_never_ran, revert_leftovers),
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
	dd = injector_find("dd-writer");
	if (!dd) {
		printf("FAIL: no dd-writer injector in the table\n");
		return 1;
	}
	if (geteuid() != 0)
		printf("SKIP (most tests): lab volumes need root\n");
	snprintf(state_root, sizeof(state_root), "%s/chaoslab-dd-writer-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(state_root)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(state_root);
	return rc;
}
