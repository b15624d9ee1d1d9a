/* Tests of the service-misconfig injector (injectors/service-misconfig.c) and
 * of the config-driven bind and reload of demo-api (harness/lab/demo-api.c)
 * it relies on, with the real service: demo-api started by the lab-service
 * injector as in a drill (this test's chaoslab binary as its worker), its
 * config under a temporary state directory. The effects are checked with
 * `ss -Hlntp` and curl where this machine has them: the service on the wrong
 * port, the wrong address or draining during the fault, back afterwards, and
 * the config file restored byte for byte. Crash leftovers (a bare intent, a
 * write that never happened, a temp file) and an engineer's own fix are
 * reverted correctly. With root, once more inside a lab network namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "lab/network.h"
#include "sys/proc.h"
#include "sys/worker.h"
#include "support/step.h"

static char run_id[64];
static char state_path[256];

/* ---- small helpers ------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(1 << 17);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 17) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Output of a shell command (first 4 KiB). */
static void run(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void run(char *out, size_t size, const char *fmt, ...)
{
	char cmd[512];
	size_t n = 0, r;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n < size - 1 && (r = fread(out + n, 1, size - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	pclose(p);
}

static bool have(const char *tool)
{
	char out[16];

	run(out, sizeof(out), "command -v %s >/dev/null 2>&1 && echo yes", tool);
	return !strncmp(out, "yes", 3);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* A free port whose successor is free too (the default wrong port). */
static int free_port_pair(void)
{
	for (int i = 0; i < 50; i++) {
		int p = free_port(), fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET };
		bool ok;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)(p + 1));
		ok = p < 65535 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return p;
	}
	fail_msg("no two free ports in a row");
	return -1;
}

/* The status line of GET path, via curl when present, else a raw socket. */
static int http_status(const char *host, int port, const char *path)
{
	char out[256], url[128];

	snprintf(url, sizeof(url), strchr(host, ':') ? "http://[%s]:%d%s" : "http://%s:%d%s", host,
		 port, path);
	if (have("curl")) {
		run(out, sizeof(out), "curl -s -o /dev/null --max-time 3 -w '%%{http_code}' '%s'",
		    url);
		return atoi(out);
	}
	{
		struct sockaddr_in sa = { .sin_family = AF_INET };
		char req[128];
		int fd = socket(AF_INET, SOCK_STREAM, 0), n;

		sa.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &sa.sin_addr);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			return 0;
		}
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
		assert_int_equal(write(fd, req, (size_t)n), n);
		n = (int)read(fd, out, sizeof(out) - 1);
		close(fd);
		out[n > 0 ? n : 0] = '\0';
		return n > 12 ? atoi(out + 9) : 0;
	}
}

/* ---- the lab service and the injector ------------------------------------------------ */

/* Parse, validate and apply `with` as the engine would (support/step.h),
 * in this test's run and state directory. */
static int step_apply(struct test_step *s, const char *type, const char *id, const char *with,
		      struct cl_error *err)
{
	return test_step_apply(s, type, run_id, id, state_path, with, err);
}

static pid_t step_pid(const struct test_step *s)
{
	const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(s->undo, "workers"), 0);
	struct proc_ident id;

	assert_int_equal(proc_ident_from_json(w, &id), 0);
	return id.pid;
}

static void api_start(struct test_step *api, int port)
{
	struct cl_error err;
	char with[128];

	snprintf(with, sizeof(with), "{\"service\": \"demo-api\", \"port\": %d}", port);
	if (step_apply(api, "lab-service", "lab-demo-api", with, &err))
		fail_msg("demo-api: %s", err.msg);
}

static void api_stop(struct test_step *api)
{
	char report[256];
	struct cl_error err;
	pid_t pid = step_pid(api);

	assert_int_equal(test_step_revert(api, report, sizeof(report), &err), 0);
	waitpid(pid, NULL, 0);
	test_step_free(api);
}

static void conf_path(char *buf, size_t size)
{
	snprintf(buf, size, "%s/lab/demo-api.conf", state_path);
}

/* Which `ss -Hlntp` lines name pid, joined. */
static void ss_of(pid_t pid, char *out, size_t size, const char *netns)
{
	char all[8192], want[64], *line, *save = NULL;
	size_t n = 0;

	if (netns)
		run(all, sizeof(all), "ip netns exec %s ss -Hlntp 2>&1", netns);
	else
		run(all, sizeof(all), "ss -Hlntp 2>&1");
	snprintf(want, sizeof(want), "pid=%d,", (int)pid);
	out[0] = '\0';
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, want) && n < size)
			n += (size_t)snprintf(out + n, size - n, "%s\n", line);
}

/* Wait until `ss` shows pid listening on local (e.g. "127.0.0.1:18080"). */
static void wait_ss(pid_t pid, const char *local, bool present, const char *netns)
{
	char lines[4096], want[96];

	snprintf(want, sizeof(want), " %s ", local);
	for (int i = 0; i < 100; i++) {
		ss_of(pid, lines, sizeof(lines), netns);
		if (!!strstr(lines, want) == present)
			return;
		usleep(30000);
	}
	fail_msg("ss: %s is %sthere: %s", local, present ? "not " : "still ", lines);
}

/* The lines that differ between two texts, as "-old\n+new\n". */
static void line_diff(const char *a, const char *b, char *out, size_t size)
{
	char *ca = strdup(a), *cb = strdup(b), *sa = NULL, *sb = NULL;
	char *la = strtok_r(ca, "\n", &sa), *lb;
	size_t n = 0;

	/* Only line-for-line edits are expected here. */
	lb = strtok_r(cb, "\n", &sb);
	out[0] = '\0';
	while (la || lb) {
		if (!la || !lb || strcmp(la, lb))
			n += (size_t)snprintf(out + n, size - n, "-%s\n+%s\n", la ? la : "",
					      lb ? lb : "");
		la = la ? strtok_r(NULL, "\n", &sa) : NULL;
		lb = lb ? strtok_r(NULL, "\n", &sb) : NULL;
	}
	free(ca);
	free(cb);
}

/* Wait until the log at path holds want. */
static void wait_log(const char *path, const char *want)
{
	char *log = NULL;

	for (int i = 0; i < 100; i++) {
		free(log);
		log = read_file(path, NULL);
		if (log && strstr(log, want)) {
			free(log);
			return;
		}
		usleep(20000);
	}
	fail_msg("the log never said '%s': %s", want, log ? log : "(no log)");
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_wrong_port(void **state)
{
	struct test_step api, mis;
	struct cl_error err;
	char path[300], *before, *during, *after, report[256], diff[512], want[256], local[64];
	char log_path[320], *log;
	struct stat st;
	size_t blen, alen;
	int port = free_port_pair();
	pid_t pid;

	api_start(&api, port);
	pid = step_pid(&api);
	conf_path(path, sizeof(path));
	/* Somebody tightened its mode: it must survive the round trip. */
	assert_int_equal(chmod(path, 0640), 0);
	before = read_file(path, &blen);
	assert_non_null(before);
	snprintf(want, sizeof(want), "\nlisten = 127.0.0.1:%d\n", port);
	assert_non_null(strstr(before, want));
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	wait_ss(pid, local, true, NULL);

	if (step_apply(&mis, "service-misconfig", "misconfig", "{\"mode\": \"port\"}", &err))
		fail_msg("apply: %s", err.msg);
	assert_string_equal(cJSON_GetObjectItem(mis.undo, "config")->valuestring, path);
	assert_string_equal(cJSON_GetObjectItem(mis.undo, "listen_before")->valuestring, local);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port + 1);
	assert_string_equal(cJSON_GetObjectItem(mis.undo, "listen_after")->valuestring, want);

	/* ss sees demo-api on the wrong port, and not on the right one. */
	wait_ss(pid, want, true, NULL);
	wait_ss(pid, local, false, NULL);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 0);
	assert_int_equal(http_status("127.0.0.1", port + 1, "/health"), 200);
	{
		char lines[2048];
		ss_of(pid, lines, sizeof(lines), NULL);
		print_message("during the fault, ss -lntp: %s", lines);
		assert_non_null(strstr(lines, "\"demo-api\""));
	}
	/* Exactly one line changed. */
	during = read_file(path, NULL);
	line_diff(before, during, diff, sizeof(diff));
	snprintf(want, sizeof(want), "-listen = 127.0.0.1:%d\n+listen = 127.0.0.1:%d\n", port,
		 port + 1);
	assert_string_equal(diff, want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	snprintf(log_path, sizeof(log_path), "%s/lab/demo-api.log", state_path);
	log = read_file(log_path, NULL);
	snprintf(want, sizeof(want), "now listening on 127.0.0.1:%d (was 127.0.0.1:%d)", port + 1,
		 port);
	assert_non_null(strstr(log, want));
	free(log);

	/* Revert: the file byte for byte, the service back where it was. */
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	snprintf(want, sizeof(want), "restored %s and reloaded demo-api", path);
	assert_string_equal(report, want);
	after = read_file(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	wait_ss(pid, local, true, NULL);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 200);
	/* Idempotent. */
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	free(after);
	free(during);
	free(before);
	test_step_free(&mis);
	api_stop(&api);
}

static void test_engineer_fix_left_alone(void **state)
{
	struct test_step api, mis;
	struct cl_error err;
	char path[300], fixed[1024], *now, report[256], want[400], local[64];
	int port = free_port_pair();
	pid_t pid;

	api_start(&api, port);
	pid = step_pid(&api);
	conf_path(path, sizeof(path));
	if (step_apply(&mis, "service-misconfig", "misconfig", "{}", &err))
		fail_msg("apply: %s", err.msg);
	/* The engineer's fix: a file of their own, and a reload. */
	snprintf(fixed, sizeof(fixed),
		 "# fixed by hand after the incident\nlisten = 127.0.0.1:%d\n", port);
	write_file(path, fixed);
	kill(pid, SIGHUP);
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	wait_ss(pid, local, true, NULL);
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	snprintf(want, sizeof(want), "left %s as it is: it changed since chaoslab wrote it", path);
	assert_string_equal(report, want);
	now = read_file(path, NULL);
	assert_string_equal(now, fixed);
	free(now);
	test_step_free(&mis);
	api_stop(&api);
}

static void test_wrong_address(void **state)
{
	struct test_step api, mis;
	struct cl_error err;
	char path[300], *before, *after, report[256], local[64], wrong[64];
	size_t blen, alen;
	int port = free_port();
	pid_t pid;

	api_start(&api, port);
	pid = step_pid(&api);
	conf_path(path, sizeof(path));
	before = read_file(path, &blen);
	if (step_apply(&mis, "service-misconfig", "misconfig", "{\"mode\": \"address\"}", &err))
		fail_msg("apply: %s", err.msg);
	snprintf(wrong, sizeof(wrong), "%s",
		 cJSON_GetObjectItem(mis.undo, "listen_after")->valuestring);
	print_message("wrong address: %s\n", wrong);
	/* IPv4 clients, an IPv6 loopback socket (or another 127/8 address). */
	{
		char want1[64], want2[64];
		snprintf(want1, sizeof(want1), "[::1]:%d", port);
		snprintf(want2, sizeof(want2), "127.0.0.2:%d", port);
		assert_true(!strcmp(wrong, want1) || !strcmp(wrong, want2));
	}
	wait_ss(pid, wrong, true, NULL);
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	wait_ss(pid, local, false, NULL);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 0);
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	wait_ss(pid, local, true, NULL);
	after = read_file(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
	test_step_free(&mis);

	/* An address given by the scenario. */
	if (step_apply(&mis, "service-misconfig", "misconfig",
		       "{\"mode\": \"address\", \"address\": \"127.0.0.3\"}", &err))
		fail_msg("apply: %s", err.msg);
	snprintf(wrong, sizeof(wrong), "127.0.0.3:%d", port);
	wait_ss(pid, wrong, true, NULL);
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	wait_ss(pid, local, true, NULL);
	test_step_free(&mis);
	api_stop(&api);
}

static void test_drain(void **state)
{
	struct test_step api, mis;
	struct cl_error err;
	char path[300], *before, *after, *during, report[256], diff[256];
	size_t blen, alen;
	int port = free_port();

	api_start(&api, port);
	conf_path(path, sizeof(path));
	before = read_file(path, &blen);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 200);
	if (step_apply(&mis, "service-misconfig", "drained", "{\"mode\": \"drain\"}", &err))
		fail_msg("apply: %s", err.msg);
	/* The reload is asynchronous: the health check flips shortly. */
	for (int i = 0; i < 50 && http_status("127.0.0.1", port, "/health") != 503; i++)
		usleep(20000);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 503);
	assert_int_equal(http_status("127.0.0.1", port, "/version"), 200);
	during = read_file(path, NULL);
	line_diff(before, during, diff, sizeof(diff));
	assert_string_equal(diff, "-drain = off\n+drain = on\n");
	/* Draining twice is refused: there is nothing to break. */
	{
		struct test_step again;
		assert_int_equal(step_apply(&again, "service-misconfig", "again",
					    "{\"mode\": \"drain\"}", &err),
				 -1);
		assert_non_null(strstr(err.msg, "draining already"));
		test_step_free(&again);
	}
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	for (int i = 0; i < 50 && http_status("127.0.0.1", port, "/health") != 200; i++)
		usleep(20000);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 200);
	after = read_file(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(during);
	free(after);
	test_step_free(&mis);
	api_stop(&api);
}

static void test_refusals(void **state)
{
	struct test_step api, mis;
	struct cl_error err;
	char path[300], *before, *after, text[512];
	size_t blen, alen;
	int port = free_port_pair(), other = free_port(), fd;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	/* No service running in this run. */
	assert_int_equal(step_apply(&mis, "service-misconfig", "misconfig", "{}", &err), -1);
	assert_non_null(strstr(err.msg, "demo-api is not running"));
	test_step_free(&mis);

	api_start(&api, port);
	conf_path(path, sizeof(path));

	/* A config that does not describe the running service is not its. */
	before = read_file(path, &blen);
	snprintf(text, sizeof(text), "listen = 127.0.0.1:%d\n", other);
	write_file(path, text);
	assert_int_equal(step_apply(&mis, "service-misconfig", "misconfig", "{}", &err), -1);
	assert_non_null(strstr(err.msg, "does not listen there; not touching it"));
	assert_null(cJSON_GetObjectItem(mis.undo, "written"));
	after = read_file(path, &alen);
	assert_string_equal(after, text);
	free(after);
	test_step_free(&mis);
	write_file(path, before);

	/* The wrong port given is taken: refused; the default moves past one. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)(port + 1));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0) {
		char with[64], want[64], report[256];

		snprintf(with, sizeof(with), "{\"port\": %d}", port + 1);
		assert_int_equal(step_apply(&mis, "service-misconfig", "misconfig", with, &err),
				 -1);
		assert_non_null(strstr(err.msg, "is taken"));
		test_step_free(&mis);
		if (step_apply(&mis, "service-misconfig", "misconfig", "{}", &err))
			fail_msg("apply: %s", err.msg);
		snprintf(want, sizeof(want), "127.0.0.1:%d", port + 1);
		assert_string_not_equal(cJSON_GetObjectItem(mis.undo, "listen_after")->valuestring,
					want);
		assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
		test_step_free(&mis);
	}
	close(fd);
	free(before);
	api_stop(&api);
}

/* What a revert does from the journal alone, whatever state the harness died in. */
static void test_revert_from_journal(void **state)
{
	const struct injector *in = injector_find("service-misconfig");
	struct test_step api, mis;
	struct cl_error err;
	char path[300], tmp[320], *before, *after, report[256], want[400];
	size_t blen, alen;
	int port = free_port_pair();
	cJSON *bare = cJSON_CreateObject();

	/* The bare intent: nothing to do. */
	{
		struct revert_ctx rc = { .run_id = run_id, .step_id = "never", .undo = bare };

		cJSON_AddStringToObject(bare, "run", run_id);
		cl_error_clear(&err);
		assert_int_equal(in->revert(&rc, &err), 0);
		assert_string_equal(rc.report, "");
		rc.undo = NULL;
		assert_int_equal(in->revert(&rc, &err), 0);
		cJSON_Delete(bare);
	}

	api_start(&api, port);
	conf_path(path, sizeof(path));
	before = read_file(path, &blen);
	if (step_apply(&mis, "service-misconfig", "misconfig", "{}", &err))
		fail_msg("apply: %s", err.msg);

	/* A temp file of an unfinished write is removed. */
	snprintf(tmp, sizeof(tmp), "%s.chaoslab-tmp", path);
	assert_string_equal(cJSON_GetObjectItem(mis.undo, "tmp")->valuestring, tmp);
	write_file(tmp, "half");

	/* The service is not the process the journal names any more (a restart):
	 * the file is restored, but nobody else is sent SIGHUP. */
	{
		cJSON *id = cJSON_GetObjectItem(mis.undo, "service_ident");
		cJSON_ReplaceItemInObject(id, "start_time", cJSON_CreateNumber(1));
	}
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	snprintf(want, sizeof(want), "restored %s", path);
	assert_string_equal(report, want);
	assert_int_equal(access(tmp, F_OK), -1);
	after = read_file(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(after);
	/* (the service itself still listens on the wrong port: nobody told it) */
	kill(step_pid(&api), SIGHUP);
	test_step_free(&mis);

	/* Journaled, then the harness died before writing: the file is the
	 * original, nothing to do. */
	{
		char local[64];
		snprintf(local, sizeof(local), "127.0.0.1:%d", port);
		wait_ss(step_pid(&api), local, true, NULL);
	}
	if (step_apply(&mis, "service-misconfig", "misconfig", "{}", &err))
		fail_msg("apply: %s", err.msg);
	write_file(path, before);
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	kill(step_pid(&api), SIGHUP);
	{
		char local[64];
		snprintf(local, sizeof(local), "127.0.0.1:%d", port);
		wait_ss(step_pid(&api), local, true, NULL);
	}
	test_step_free(&mis);

	/* The file is gone: left alone, said so. */
	if (step_apply(&mis, "service-misconfig", "misconfig", "{\"mode\": \"drain\"}", &err))
		fail_msg("apply: %s", err.msg);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "it was removed"));
	assert_int_equal(access(path, F_OK), -1);
	write_file(path, before);
	test_step_free(&mis);
	free(before);
	api_stop(&api);
}

/* demo-api's own handling of its config: what a reload keeps and refuses. */
static void test_demo_api_reload(void **state)
{
	struct test_step api;
	char path[300], text[256], log_path[320], pidfile[320], *log, *pidtext, status[4096];
	char local[64];
	int port = free_port(), other;
	pid_t pid;

	api_start(&api, port);
	pid = step_pid(&api);
	conf_path(path, sizeof(path));
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	snprintf(log_path, sizeof(log_path), "%s/lab/demo-api.log", state_path);
	snprintf(pidfile, sizeof(pidfile), "%s/lab/demo-api.pid", state_path);
	pidtext = read_file(pidfile, NULL);
	assert_non_null(pidtext);
	assert_int_equal(atoi(pidtext), pid);
	free(pidtext);

	/* Both filters in place: the allow-list and the one that narrows it. */
	{
		char p[64];
		FILE *f;
		snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
		f = fopen(p, "r");
		assert_non_null(f);
		status[fread(status, 1, sizeof(status) - 1, f)] = '\0';
		fclose(f);
		assert_non_null(strstr(status, "Seccomp:\t2"));
		assert_non_null(strstr(status, "Seccomp_filters:\t2"));
	}

	/* Nonsense: logged, still serving. */
	write_file(path, "listen = localhost:80\n");
	kill(pid, SIGHUP);
	wait_log(log_path,
		 "reload failed: line 1: listen: 'localhost' is not an IPv4 or IPv6 address");
	write_file(path, "lsten = 127.0.0.1:1\n");
	kill(pid, SIGHUP);
	wait_log(log_path, "reload failed: line 1: unknown key 'lsten'");
	/* An address somebody else holds: logged, still serving. */
	{
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(fd, 1), 0);
		getsockname(fd, (struct sockaddr *)&sa, &len);
		other = ntohs(sa.sin_port);
		snprintf(text, sizeof(text), "listen = 127.0.0.1:%d\n", other);
		write_file(path, text);
		kill(pid, SIGHUP);
		snprintf(
			text, sizeof(text),
			"reload failed: unable to bind 127.0.0.1:%d: Address already in use; still "
			"listening on %s",
			other, local);
		wait_log(log_path, text);
		close(fd);
	}
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 200);
	log = read_file(log_path, NULL);
	print_message("%s", log);
	free(log);
	assert_true(proc_ident_of(pid, &(struct proc_ident){ 0 }) == 0);

	/* A good one, with a wildcard: taken. */
	snprintf(text, sizeof(text),
		 "# hand-written\n  listen=*:%d  # every address\ndrain = yes\n", port);
	write_file(path, text);
	kill(pid, SIGHUP);
	snprintf(local, sizeof(local), "0.0.0.0:%d", port);
	wait_ss(pid, local, true, NULL);
	for (int i = 0; i < 50 && http_status("127.0.0.1", port, "/health") != 503; i++)
		usleep(20000);
	assert_int_equal(http_status("127.0.0.1", port, "/health"), 503);
	api_stop(&api);
}

/* Inside a lab network: demo-api binds inside the namespace; the wrong
 * address is the namespace's loopback, which the host cannot reach. */
static void test_in_lab_network(void **state)
{
	struct test_step net, api, mis;
	struct lab_net_info info;
	struct cl_error err;
	char name[32], report[256], local[64], lines[4096], text[64];
	int port = 18080;
	pid_t pid;

	if (geteuid() != 0) {
		print_message("skipped: the lab network needs root\n");
		skip();
	}
	snprintf(name, sizeof(name), "clmis%d", (int)getpid() % 100000);
	setenv("CHAOSLAB_NETNS", name, 1);
	if (step_apply(&net, "lab-network", "lab-network", "{}", &err)) {
		print_message("skipped: no lab network here: %s\n", err.msg);
		test_step_revert(&net, report, sizeof(report), &err);
		test_step_free(&net);
		unsetenv("CHAOSLAB_NETNS");
		skip();
	}
	assert_int_equal(lab_net_status(name, &info, &err), LAB_NET_UP);
	if (step_apply(&api, "lab-service", "lab-demo-api",
		       "{\"service\": \"demo-api\", \"port\": 18080, \"netns\": true}", &err))
		fail_msg("demo-api in the lab: %s", err.msg);
	pid = step_pid(&api);
	snprintf(local, sizeof(local), "0.0.0.0:%d", port);
	wait_ss(pid, local, true, name);
	assert_int_equal(http_status(info.lab_addr, port, "/health"), 200);

	if (step_apply(&mis, "service-misconfig", "misconfig", "{\"mode\": \"address\"}", &err))
		fail_msg("apply: %s", err.msg);
	snprintf(local, sizeof(local), "127.0.0.1:%d", port);
	assert_string_equal(cJSON_GetObjectItem(mis.undo, "listen_after")->valuestring, local);
	wait_ss(pid, local, true, name);
	ss_of(pid, lines, sizeof(lines), name);
	print_message("inside %s during the fault: %s", name, lines);
	/* From the host the lab address refuses now. */
	assert_int_equal(http_status(info.lab_addr, port, "/health"), 0);
	run(text, sizeof(text),
	    "ip netns exec %s curl -s -o /dev/null -w '%%{http_code}' "
	    "http://127.0.0.1:%d/health",
	    name, port);
	if (have("curl"))
		assert_string_equal(text, "200");

	assert_int_equal(test_step_revert(&mis, report, sizeof(report), &err), 0);
	snprintf(local, sizeof(local), "0.0.0.0:%d", port);
	wait_ss(pid, local, true, name);
	assert_int_equal(http_status(info.lab_addr, port, "/health"), 200);
	test_step_free(&mis);
	api_stop(&api);
	assert_int_equal(test_step_revert(&net, report, sizeof(report), &err), 0);
	test_step_free(&net);
	unsetenv("CHAOSLAB_NETNS");
	assert_int_equal(lab_net_status(name, &info, &err), LAB_NET_ABSENT);
}

static int stop_leftovers(void **state)
{
	struct cl_error err;
	char owner[128];
	int killed;

	worker_owner_tag(owner, sizeof(owner), run_id, "lab-demo-api");
	worker_kill_owned(owner, NULL, 0, 1000, &killed, &err);
	worker_reap_children();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_wrong_port, stop_leftovers),
		cmocka_unit_test_teardown(test_engineer_fix_left_alone, stop_leftovers),
		cmocka_unit_test_teardown(test_wrong_address, stop_leftovers),
		cmocka_unit_test_teardown(test_drain, stop_leftovers),
		cmocka_unit_test_teardown(test_refusals, stop_leftovers),
		cmocka_unit_test_teardown(test_revert_from_journal, stop_leftovers),
		cmocka_unit_test_teardown(test_demo_api_reload, stop_leftovers),
		cmocka_unit_test_teardown(test_in_lab_network, stop_leftovers),
	};
	const char *bin = getenv("CHAOSLAB_BIN");
	char cmd[320];
	int rc;

	if (getenv("CHAOSLAB_WORKER"))
		return worker_main(argc, argv);
	if (!bin || access(bin, X_OK)) {
		printf("skipped: CHAOSLAB_BIN does not name the chaoslab binary (%s); demo-api "
		       "runs as its worker\n",
		       bin ? bin : "unset");
		return 77;
	}
	worker_set_exe(bin);
	signal(SIGPIPE, SIG_IGN);
	snprintf(run_id, sizeof(run_id), "test-misconfig-%d", (int)getpid());
	snprintf(state_path, sizeof(state_path), "%s/chaoslab-test-misconfig.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(state_path)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("CHAOSLAB_STATE", state_path, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_path);
	if (system(cmd))
		fprintf(stderr, "unable to remove %s\n", state_path);
	return rc;
}
