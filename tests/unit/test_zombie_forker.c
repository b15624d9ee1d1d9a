/* Tests of injectors/zombie-forker.c through its descriptor, with a real
 * forker (the chaoslab binary re-executed, found through CHAOSLAB_BIN): the
 * parameter checks, `count` zombies named like the parent, a zombie that
 * survives SIGKILL, the rate mode stopping at max, and revert (or killing the
 * parent, the engineer's fix) releasing every zombie to be reaped.
 *
 * Run as `test_zombie_forker --drive NAME COUNT` it is the small driver
 * tests/integration/test_ps_zombie.sh checks with the real ps: it applies,
 * prints the parent's pid, and on the line "revert" (or end of input)
 * reverts, reaps what it inherited, prints the revert report and exits. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/registry.h"
#include "sys/proc.h"
#include "sys/worker.h"

static const struct injector *forker;

struct step {
	char run_id[64];
	char name[16];
	struct params params;
	cJSON *undo;
	struct inject_ctx ctx;
	pid_t parent;
};

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int params_parse(struct params *p, const char *with, struct cl_error *err)
{
	struct doc_node *doc = doc_parse_json("test.json", with, strlen(with), err);
	int rc;

	if (!doc)
		return -1;
	rc = params_from_doc(p, forker->params, doc, "test.json", NULL, "inject[0].with", err);
	doc_free(doc);
	return rc;
}

/* Apply with `with` (JSON); name is the process name (generated if NULL).
 * 0, or -1 with err set. */
static int step_apply_named(struct step *s, const char *with_fmt, const char *name,
			    struct cl_error *err)
{
	static int seq;
	char with[512];
	struct proc_ident id;

	memset(s, 0, sizeof(*s));
	snprintf(s->run_id, sizeof(s->run_id), "test-zombie-forker-%d-%d", (int)getpid(), seq);
	if (name)
		snprintf(s->name, sizeof(s->name), "%s", name);
	else
		snprintf(s->name, sizeof(s->name), "zf%d-%d", (int)getpid() % 100000, seq);
	seq++;
	snprintf(with, sizeof(with), with_fmt, s->name);
	if (params_parse(&s->params, with, err))
		return -1;
	s->undo = cJSON_CreateObject();
	cJSON_AddStringToObject(s->undo, "run", s->run_id);
	cJSON_AddStringToObject(s->undo, "step", "zombies");
	s->ctx = (struct inject_ctx){ .run_id = s->run_id,
				      .step_id = "zombies",
				      .state_dir = "/nonexistent",
				      .params = &s->params,
				      .undo = s->undo };
	if (forker->apply(&s->ctx, err))
		return -1;
	if (proc_ident_from_json(cJSON_GetArrayItem(cJSON_GetObjectItem(s->undo, "workers"), 0),
				 &id))
		return cl_error_set(err, CL_EXIT_USAGE, "no parent identity in the undo data");
	s->parent = id.pid;
	return 0;
}

static void step_apply(struct step *s, const char *with_fmt)
{
	struct cl_error err;

	cl_error_clear(&err);
	if (step_apply_named(s, with_fmt, NULL, &err))
		fail_msg("apply: %s", err.msg);
}

static int step_revert(struct step *s, char *buf, size_t size, struct cl_error *err)
{
	struct revert_ctx rc = { .run_id = s->run_id,
				 .step_id = "zombies",
				 .state_dir = "/nonexistent",
				 .undo = s->undo };

	if (forker->revert(&rc, err))
		return -1;
	snprintf(buf, size, "%s", rc.report);
	return 0;
}

static void step_release(struct step *s)
{
	params_release(&s->params);
	cJSON_Delete(s->undo);
	s->undo = NULL;
}

/* Children of parent in state Z named name; pids into out. */
static int zombies_of(pid_t parent, const char *name, pid_t *out, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || proc_stat_read((pid_t)pid, &st))
			continue;
		if (st.ppid != parent || st.state != 'Z' || strcmp(st.comm, name))
			continue;
		if (out && (size_t)n < cap)
			out[n] = st.pid;
		n++;
	}
	closedir(d);
	return n;
}

/* Any process at all (zombies too) named name. */
static int any_named(const char *name)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || proc_stat_read((pid_t)pid, &st))
			continue;
		if (!strcmp(st.comm, name))
			n++;
	}
	closedir(d);
	return n;
}

static int wait_zombies(pid_t parent, const char *name, int want, long ms)
{
	int n = -1;

	for (long waited = 0; waited <= ms; waited += 20) {
		n = zombies_of(parent, name, NULL, 0);
		if (n == want)
			break;
		pause_ms(20);
	}
	return n;
}

/* Reap what we inherited until nothing named name is left (or ms passed). */
static int reap_until_gone(const char *name, long ms)
{
	int n = -1;

	for (long waited = 0; waited <= ms; waited += 20) {
		worker_reap_children();
		n = any_named(name);
		if (n == 0)
			break;
		pause_ms(20);
	}
	return n;
}

/* ---- the driver for the ps integration test ---------------------------- */

static int drive(const char *name, const char *count)
{
	struct step s;
	struct cl_error err;
	char with[128], line[64], report[256] = "";
	int rc = 1;

	cl_error_clear(&err);
	snprintf(with, sizeof(with), "{\"count\": %d, \"name\": \"%%s\"}", atoi(count));
	if (step_apply_named(&s, with, name, &err)) {
		fprintf(stderr, "apply: %s\n", err.msg);
		goto out;
	}
	if (wait_zombies(s.parent, s.name, atoi(count), 5000) != atoi(count))
		fprintf(stderr, "driver: the zombies did not all appear\n");
	printf("%d\n", (int)s.parent);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) && strncmp(line, "revert", 6))
		;
	if (step_revert(&s, report, sizeof(report), &err)) {
		fprintf(stderr, "revert: %s\n", err.msg);
		goto out;
	}
	if (reap_until_gone(s.name, 5000) != 0)
		fprintf(stderr, "driver: processes named %s are left\n", s.name);
	printf("%s\n", report[0] ? report : "nothing of ours was left");
	fflush(stdout);
	rc = 0;
out:
	step_release(&s);
	return rc;
}

/* ---- the tests ---------------------------------------------------------- */

static int validate(const char *with, char *msg, size_t size)
{
	struct params p;
	struct cl_error err;
	int rc;

	cl_error_clear(&err);
	msg[0] = '\0';
	if (params_parse(&p, with, &err))
		fail_msg("params: %s", err.msg);
	rc = forker->validate(&p, msg, size);
	params_release(&p);
	return rc;
}

static void test_descriptor(void **state)
{
	char why[256];

	assert_non_null(forker->supported);
	assert_non_null(forker->validate);
	assert_non_null(forker->worker);
	assert_int_equal(forker->supported(NULL, why, sizeof(why)), 0);
}

static void test_validate(void **state)
{
	char msg[256];

	assert_int_equal(validate("{}", msg, sizeof(msg)), 0);
	assert_int_equal(validate("{\"count\": 3}", msg, sizeof(msg)), 0);
	assert_int_equal(validate("{\"rate_per_second\": 2}", msg, sizeof(msg)), 0);
	assert_int_equal(validate("{\"rate_per_second\": 2, \"max\": 10}", msg, sizeof(msg)), 0);
	assert_int_equal(validate("{\"count\": 3, \"rate_per_second\": 2}", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "exclusive"));
	assert_int_equal(validate("{\"count\": 3, \"max\": 10}", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "rate_per_second"));
}

static void test_count_leaves_zombies_revert_releases_them(void **state)
{
	struct step s;
	struct proc_stat st;
	struct cl_error err;
	pid_t z[8];
	char buf[256];

	step_apply(&s, "{\"count\": 4, \"name\": \"%s\"}");
	assert_int_equal(proc_stat_read(s.parent, &st), 0);
	assert_string_equal(st.comm, s.name);
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(wait_zombies(s.parent, s.name, 4, 3000), 4);
	assert_int_equal(zombies_of(s.parent, s.name, z, 8), 4);

	/* A zombie is already dead: SIGKILL changes nothing. */
	assert_int_equal(kill(z[0], SIGKILL), 0);
	pause_ms(200);
	assert_true(proc_is_zombie(z[0]));
	assert_int_equal(zombies_of(s.parent, s.name, NULL, 0), 4);

	cl_error_clear(&err);
	assert_int_equal(step_revert(&s, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "stopped 1 forker process, releasing 4 zombies to their reaper");
	/* We are the subreaper: the zombies and the parent come to us. */
	assert_int_equal(reap_until_gone(s.name, 3000), 0);
	assert_int_equal(step_revert(&s, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "");
	step_release(&s);
}

static void test_default_count(void **state)
{
	struct step s;
	struct cl_error err;
	char buf[256];

	step_apply(&s, "{\"name\": \"%s\"}");
	assert_int_equal(wait_zombies(s.parent, s.name, 5, 3000), 5);
	cl_error_clear(&err);
	assert_int_equal(step_revert(&s, buf, sizeof(buf), &err), 0);
	assert_int_equal(reap_until_gone(s.name, 3000), 0);
	step_release(&s);
}

static void test_rate_stops_at_max(void **state)
{
	struct step s;
	struct cl_error err;
	char buf[256];
	int early;

	step_apply(&s, "{\"rate_per_second\": 10, \"max\": 6, \"name\": \"%s\"}");
	pause_ms(150);
	early = zombies_of(s.parent, s.name, NULL, 0);
	assert_true(early >= 1 && early < 6);
	assert_int_equal(wait_zombies(s.parent, s.name, 6, 3000), 6);
	pause_ms(400);
	assert_int_equal(zombies_of(s.parent, s.name, NULL, 0), 6);
	cl_error_clear(&err);
	assert_int_equal(step_revert(&s, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "stopped 1 forker process, releasing 6 zombies to their reaper");
	assert_int_equal(reap_until_gone(s.name, 3000), 0);
	step_release(&s);
}

/* The engineer's fix: kill the parent. Then revert has nothing to do. */
static void test_killing_the_parent_is_the_fix(void **state)
{
	struct step s;
	struct cl_error err;
	char buf[256];
	int status;

	step_apply(&s, "{\"count\": 3, \"name\": \"%s\"}");
	assert_int_equal(wait_zombies(s.parent, s.name, 3, 3000), 3);
	assert_int_equal(kill(s.parent, SIGTERM), 0);
	assert_int_equal(waitpid(s.parent, &status, 0), s.parent);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(reap_until_gone(s.name, 3000), 0);
	cl_error_clear(&err);
	assert_int_equal(step_revert(&s, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "");
	step_release(&s);
}

static void test_revert_when_apply_never_ran(void **state)
{
	struct revert_ctx rc = { .run_id = "never-ran", .step_id = "zombies" };
	struct cl_error err;
	cJSON *undo = cJSON_Parse("{\"run\": \"never-ran\", \"step\": \"zombies\"}");

	rc.undo = undo;
	cl_error_clear(&err);
	assert_int_equal(forker->revert(&rc, &err), 0);
	assert_string_equal(rc.report, "");
	cJSON_Delete(undo);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_count_leaves_zombies_revert_releases_them),
		cmocka_unit_test(test_default_count),
		cmocka_unit_test(test_rate_stops_at_max),
		cmocka_unit_test(test_killing_the_parent_is_the_fix),
		cmocka_unit_test(test_revert_when_apply_never_ran),
	};
	const char *bin = getenv("CHAOSLAB_BIN");

	forker = injector_find("zombie-forker");
	if (!forker) {
		printf("FAIL: no zombie-forker injector in the table\n");
		return 1;
	}
	if (!bin || access(bin, X_OK)) {
		printf("SKIP: CHAOSLAB_BIN does not name the chaoslab binary (run through ctest)\n");
		return 77;
	}
	worker_set_exe(bin);
	if (worker_become_subreaper()) {
		printf("SKIP: cannot become a child subreaper: %s\n", strerror(errno));
		return 77;
	}
	if (argc == 4 && !strcmp(argv[1], "--drive"))
		return drive(argv[2], argv[3]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
