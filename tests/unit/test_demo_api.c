/* Tests of the demo-api lab service (harness/lab/demo-api.c) run the way a
 * drill runs it: through the lab-service injector (injectors/lab-service.c),
 * which spawns the chaoslab binary as a worker. Then real HTTP over TCP:
 * /health, /version, 404, 405, HEAD, oversized and stalled requests, many
 * connections in a row and at once; the worker's lockdown; a taken port
 * refused; revert stopping it, twice. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "lab/service.h"
#include "sys/proc.h"
#include "sys/worker.h"

static char run_id[64];

/* A port nobody listens on right now. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read until the server closes; the response in buf (NUL-terminated). */
static void read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* Send raw request text, return the whole response. */
static void http_raw(int port, const char *req, size_t reqlen, char *resp, size_t size)
{
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, req, reqlen), (ssize_t)reqlen);
	read_all(fd, resp, size);
	close(fd);
}

static void http_get(int port, const char *method, const char *path, char *resp, size_t size)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: test\r\n\r\n", method,
			 path, port);

	http_raw(port, req, (size_t)n, resp, size);
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

/* ---- the injector ------------------------------------------------------- */

struct lab {
	struct params params;
	struct inject_ctx ctx;
	cJSON *undo;
	char step[32];
	int port;
};

static int lab_apply(struct lab *lab, const char *step, int port, struct cl_error *err)
{
	const struct injector *in = injector_find("lab-service");
	char with[128];
	struct doc_node *d;

	assert_non_null(in);
	memset(lab, 0, sizeof(*lab));
	lab->port = port;
	snprintf(lab->step, sizeof(lab->step), "%s", step);
	snprintf(with, sizeof(with), "{\"service\": \"demo-api\", \"port\": %d}", port);
	cl_error_clear(err);
	d = doc_parse_json("test", with, strlen(with), err);
	assert_non_null(d);
	assert_int_equal(params_from_doc(&lab->params, in->params, d, "test", NULL, "with", err), 0);
	doc_free(d);
	lab->undo = cJSON_CreateObject();
	lab->ctx = (struct inject_ctx){
		.run_id = run_id,
		.step_id = lab->step,
		.state_dir = "/nonexistent",
		.params = &lab->params,
		.undo = lab->undo,
	};
	return in->apply(&lab->ctx, err);
}

static int lab_revert(struct lab *lab, char *report, size_t size, struct cl_error *err)
{
	const struct injector *in = injector_find("lab-service");
	struct revert_ctx rc = { .run_id = run_id, .step_id = lab->step, .undo = lab->undo };
	int r;

	cl_error_clear(err);
	r = in->revert(&rc, err);
	snprintf(report, size, "%s", rc.report);
	return r;
}

static void lab_free(struct lab *lab)
{
	params_release(&lab->params);
	cJSON_Delete(lab->undo);
}

static pid_t lab_pid(const struct lab *lab)
{
	const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(lab->undo, "workers"), 0);
	struct proc_ident id;

	assert_non_null(w);
	assert_int_equal(proc_ident_from_json(w, &id), 0);
	return id.pid;
}

/* The value of a "Key:" line of /proc/PID/status. */
static void status_field(pid_t pid, const char *key, char *buf, size_t size)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			char *v = line + strlen(key) + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, size, "%s", v);
		}
	}
	fclose(f);
}

static void test_serve_and_revert(void **state)
{
	char resp[4096], report[256], field[64], owner[128];
	struct cl_error err;
	struct proc_stat st;
	struct lab lab;
	cJSON *version;
	pid_t pid;
	int port = free_port();

	if (lab_apply(&lab, "api", port, &err))
		fail_msg("apply: %s", err.msg);

	/* The undo data names the worker, its tag and port. */
	snprintf(owner, sizeof(owner), "%s:api", run_id);
	assert_string_equal(cJSON_GetObjectItem(lab.undo, "owner")->valuestring, owner);
	assert_int_equal(cJSON_GetObjectItem(lab.undo, "port")->valueint, port);
	pid = lab_pid(&lab);
	assert_int_equal(proc_stat_read(pid, &st), 0);
	assert_string_equal(st.comm, "demo-api");
	assert_int_equal(worker_find_owned(owner, NULL, 0), 1);

	/* Locked down once bound. */
	status_field(pid, "Seccomp", field, sizeof(field));
	assert_string_equal(field, "2");
	status_field(pid, "NoNewPrivs", field, sizeof(field));
	assert_string_equal(field, "1");
	status_field(pid, "CapEff", field, sizeof(field));
	assert_string_equal(field, "0000000000000000");

	http_get(port, "GET", "/health", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(resp, "\r\nContent-Length: 3\r\n"));
	assert_string_equal(body_of(resp), "ok\n");

	http_get(port, "GET", "/version?verbose=1", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(resp, "\r\nContent-Type: application/json\r\n"));
	version = cJSON_Parse(body_of(resp));
	assert_non_null(version);
	assert_string_equal(cJSON_GetObjectItem(version, "service")->valuestring, "demo-api");
	assert_string_equal(cJSON_GetObjectItem(version, "version")->valuestring, CHAOSLAB_VERSION);
	cJSON_Delete(version);

	http_get(port, "GET", "/nope", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 404 Not Found\r\n", 24), 0);

	http_get(port, "HEAD", "/health", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_string_equal(body_of(resp), "");

	http_get(port, "DELETE", "/health", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 405 ", 13), 0);
	assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));

	http_raw(port, "hello\r\n\r\n", 9, resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 400 ", 13), 0);

	/* HTTP/1.0 and bare newlines are fine. */
	http_raw(port, "GET /health HTTP/1.0\n\n", 22, resp, sizeof(resp));
	assert_string_equal(body_of(resp), "ok\n");

	/* An oversized request is refused, and the response still arrives. */
	{
		size_t n = 20000;
		char *big = malloc(n);

		assert_non_null(big);
		memcpy(big, "GET /health HTTP/1.1\r\nX-Pad: ", 29);
		memset(big + 29, 'a', n - 29);
		int fd = tcp_connect(port);
		assert_true(fd >= 0);
		/* The server may stop reading partway: ignore a short write. */
		signal(SIGPIPE, SIG_IGN);
		(void)!write(fd, big, n);
		read_all(fd, resp, sizeof(resp));
		close(fd);
		free(big);
		assert_int_equal(strncmp(resp, "HTTP/1.1 431 ", 13), 0);
	}

	/* A stalled client does not hold up others. */
	{
		int stalled = tcp_connect(port);
		double t0 = mono_now();

		assert_true(stalled >= 0);
		assert_int_equal(write(stalled, "GET /hea", 8), 8);
		http_get(port, "GET", "/health", resp, sizeof(resp));
		assert_string_equal(body_of(resp), "ok\n");
		assert_true(mono_now() - t0 < 1.0);
		close(stalled);
	}

	/* More stalled clients than the service has slots: a new client still
	 * gets through, after a second at most. */
	{
		int stalled[80];
		double t0;

		for (int i = 0; i < 80; i++) {
			stalled[i] = tcp_connect(port);
			assert_true(stalled[i] >= 0);
			assert_int_equal(write(stalled[i], "GET /", 5), 5);
		}
		t0 = mono_now();
		http_get(port, "GET", "/health", resp, sizeof(resp));
		assert_string_equal(body_of(resp), "ok\n");
		print_message("past 80 stalled clients in %.2f s\n", mono_now() - t0);
		assert_true(mono_now() - t0 < 2.5);
		for (int i = 0; i < 80; i++)
			close(stalled[i]);
	}

	/* Many connections in a row. */
	for (int i = 0; i < 300; i++) {
		http_get(port, "GET", "/health", resp, sizeof(resp));
		if (strcmp(body_of(resp), "ok\n"))
			fail_msg("request %d: %s", i, resp);
	}

	/* Many at once: open them all, then send, then read. */
	{
		int fds[100];
		const char *req = "GET /health HTTP/1.1\r\n\r\n";

		for (int i = 0; i < 100; i++) {
			fds[i] = tcp_connect(port);
			assert_true(fds[i] >= 0);
		}
		for (int i = 0; i < 100; i++)
			assert_int_equal(write(fds[i], req, strlen(req)), (ssize_t)strlen(req));
		for (int i = 0; i < 100; i++) {
			read_all(fds[i], resp, sizeof(resp));
			close(fds[i]);
			if (strncmp(resp, "HTTP/1.1 200 OK\r\n", 17))
				fail_msg("concurrent request %d: '%s'", i, resp);
		}
	}

	/* With curl too, when this machine has it. */
	if (!access("/usr/bin/curl", X_OK)) {
		char cmd[128];
		FILE *p;

		snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 http://127.0.0.1:%d/health", port);
		p = popen(cmd, "r");
		assert_non_null(p);
		read_all(fileno(p), resp, sizeof(resp));
		assert_int_equal(pclose(p), 0);
		assert_string_equal(resp, "ok\n");
	} else {
		print_message("curl not installed: checked with sockets only\n");
	}

	assert_int_equal(lab_revert(&lab, report, sizeof(report), &err), 0);
	assert_string_equal(report, "stopped demo-api (1 process)");
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(tcp_connect(port), -1);
	assert_int_equal(errno, ECONNREFUSED);

	/* Again: nothing left to do, and no error. */
	if (lab_revert(&lab, report, sizeof(report), &err))
		fail_msg("second revert: %s", err.msg);
	assert_string_equal(report, "");
	lab_free(&lab);
}

static void test_port_taken(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char want[128], report[256];
	struct cl_error err;
	struct lab first, second;
	int port = free_port(), fd;

	/* By a stranger (this test). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(lab_apply(&first, "api-stranger", port, &err), -1);
	snprintf(want, sizeof(want), "port %d on 127.0.0.1 is already in use by pid %d", port,
		 (int)getpid());
	if (!strstr(err.msg, want))
		fail_msg("unexpected error: %s", err.msg);
	print_message("taken: %s\n", err.msg);
	/* Nothing was started, and revert is happy with what apply left. */
	assert_null(cJSON_GetObjectItem(first.undo, "workers"));
	assert_int_equal(lab_revert(&first, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	lab_free(&first);
	close(fd);

	/* By a demo-api already running. */
	if (lab_apply(&first, "api-first", port, &err))
		fail_msg("apply: %s", err.msg);
	assert_int_equal(lab_apply(&second, "api-second", port, &err), -1);
	snprintf(want, sizeof(want), "already in use by pid %d (demo-api)", (int)lab_pid(&first));
	if (!strstr(err.msg, want))
		fail_msg("unexpected error: %s", err.msg);
	lab_free(&second);
	assert_int_equal(lab_revert(&first, report, sizeof(report), &err), 0);
	waitpid(lab_pid(&first), NULL, 0);
	lab_free(&first);
}

static void test_revert_bare_intent(void **state)
{
	const struct injector *in = injector_find("lab-service");
	struct revert_ctx rc = { .run_id = run_id, .step_id = "never" };
	struct cl_error err;
	cJSON *undo = cJSON_CreateObject();

	/* The harness died before apply saved anything but the intent. */
	cJSON_AddStringToObject(undo, "run", run_id);
	rc.undo = undo;
	cl_error_clear(&err);
	assert_int_equal(in->revert(&rc, &err), 0);
	assert_string_equal(rc.report, "");
	rc.undo = NULL;
	assert_int_equal(in->revert(&rc, &err), 0);
	cJSON_Delete(undo);
}

static void test_service_table(void **state)
{
	const struct lab_service *s = lab_service_find("demo-api");

	assert_non_null(s);
	assert_int_equal(s->default_port, 18080);
	assert_non_null(s->main);
	assert_null(lab_service_find("demo-apx"));
	assert_null(lab_service_find(NULL));
}

/* Stop whatever a failed test left running, so one failure does not cascade
 * and no service outlives the test. */
static int stop_leftovers(void **state)
{
	static const char *const steps[] = { "api", "api-stranger", "api-first", "api-second" };
	struct cl_error err;
	char owner[128];
	int killed;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		worker_owner_tag(owner, sizeof(owner), run_id, steps[i]);
		worker_kill_owned(owner, NULL, 0, 1000, &killed, &err);
	}
	worker_reap_children();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_table),
		cmocka_unit_test(test_revert_bare_intent),
		cmocka_unit_test_teardown(test_serve_and_revert, stop_leftovers),
		cmocka_unit_test_teardown(test_port_taken, stop_leftovers),
	};
	const char *bin = getenv("CHAOSLAB_BIN");

	if (getenv("CHAOSLAB_WORKER"))
		return worker_main(argc, argv);
	if (!bin || access(bin, X_OK)) {
		printf("skipped: CHAOSLAB_BIN does not name the chaoslab binary (%s); the service "
		       "runs as its worker\n", bin ? bin : "unset");
		return 77;
	}
	worker_set_exe(bin);
	snprintf(run_id, sizeof(run_id), "test-demo-api-%d", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
