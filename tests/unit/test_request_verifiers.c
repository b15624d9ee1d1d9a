/* Tests of the request verifiers (verifiers/tcp-connect.c, http.c,
 * port-listening.c) against real servers: demo-api started the way a drill
 * starts it (the lab-service injector, this test's chaoslab binary as its
 * worker), a slow HTTP server thread that waits before it answers, a listener
 * whose accept queue is full, a closed port, and a listener inside a network
 * namespace of its own. Timings are compared with curl -w's, listeners with
 * what `ss -Hlnt` / `ss -Hlntp` (and `nsenter ... ss` for the namespace)
 * report. The drill's service lookups come from a small table standing in
 * for the engine. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "sys/probe.h"
#include "sys/proc.h"
#include "sys/worker.h"
#include "sys/x509.h"

static char run_id[64];
static char state_dir_path[256];

/* ---- the drill's lookups --------------------------------------------------- */

struct test_service {
	const char *name;
	pid_t pid;
	char host[64];
	int port;
};

static pid_t drill_service_pid(void *opaque, const char *name)
{
	struct test_service *s = opaque;

	return s && s->name && !strcmp(s->name, name) ? s->pid : -1;
}

static int drill_service_addr(void *opaque, const char *name, char *host, size_t size, int *port)
{
	struct test_service *s = opaque;

	if (!s || !s->name || strcmp(s->name, name) || s->pid <= 0)
		return -1;
	snprintf(host, size, "%s", s->host);
	*port = s->port;
	return 0;
}

/* ---- running checks ---------------------------------------------------------- */

struct vcheck {
	const struct verifier *v;
	struct params params;
	struct check_env env;
	struct check_ctx ctx;
	struct cl_error err;
	char obs[256];
};

static int params_load(const struct verifier *v, const char *with_json, struct params *p, char *msg,
		       size_t size)
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

static void vcheck_init(struct vcheck *c, const char *name, struct test_service *svc,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void vcheck_init(struct vcheck *c, const char *name, struct test_service *svc,
			const char *fmt, ...)
{
	char with[512], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(with, sizeof(with), fmt, ap);
	va_end(ap);
	memset(c, 0, sizeof(*c));
	c->v = verifier_find(name);
	assert_non_null(c->v);
	if (params_load(c->v, with, &c->params, msg, sizeof(msg)))
		fail_msg("%s %s: %s", name, with, msg);
	c->ctx.params = &c->params;
	/* No table: no drill running, as for `chaoslab` outside one. */
	if (svc) {
		c->env = (struct check_env){ .service_pid = drill_service_pid,
					     .service_addr = drill_service_addr,
					     .opaque = svc };
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
	print_message("  %s: %s -> %s\n", c->v->name,
		      rc == CHECK_MET	  ? "met" :
		      rc == CHECK_NOT_MET ? "not met" :
					    "error",
		      rc == CHECK_ERROR ? c->err.msg : c->obs);
	return rc;
}

static void vcheck_done(struct vcheck *c)
{
	if (c->v->release)
		c->v->release(&c->ctx);
	assert_null(c->ctx.state);
	params_release(&c->params);
}

/* Run one check of a fresh verifier and return its result (obs in obs). */
static int check_once(const char *name, struct test_service *svc, char *obs, size_t size,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int check_once(const char *name, struct test_service *svc, char *obs, size_t size,
		      const char *fmt, ...)
{
	struct vcheck c;
	char with[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(with, sizeof(with), fmt, ap);
	va_end(ap);
	vcheck_init(&c, name, svc, "%s", with);
	rc = vcheck_run(&c);
	if (obs)
		snprintf(obs, size, "%s", rc == CHECK_ERROR ? c.err.msg : c.obs);
	vcheck_done(&c);
	return rc;
}

/* The validation message for a parameter set, "" when valid. */
static void validate_msg(const char *name, const char *with, char *msg, size_t size)
{
	struct params p;

	if (!params_load(verifier_find(name), with, &p, msg, size))
		params_release(&p);
}

/* The number before " ms" after `key` in obs ("first byte 201 ms"). */
static double obs_ms(const char *obs, const char *key)
{
	const char *p = strstr(obs, key);

	if (!p)
		fail_msg("no '%s' in '%s'", key, obs);
	return strtod(p + strlen(key), NULL);
}

/* ---- servers ----------------------------------------------------------------------- */

static int listen_on(const char *addr, int backlog, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static int closed_port(void)
{
	int port, fd = listen_on("127.0.0.1", 1, &port);

	close(fd);
	return port;
}

/* Answers every request after delay_ms with 200 "slow\n". */
struct slow_server {
	int lfd, port, delay_ms;
	volatile int stop;
	pthread_t thread;
};

static void *slow_main(void *arg)
{
	struct slow_server *s = arg;

	while (!s->stop) {
		char req[1024], resp[256];
		size_t len = 0;
		ssize_t n;
		int m, c = accept(s->lfd, NULL, NULL);

		if (c < 0)
			continue;
		while (len < sizeof(req) - 1 &&
		       (n = read(c, req + len, sizeof(req) - 1 - len)) > 0) {
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (!s->stop && len) {
			usleep((useconds_t)s->delay_ms * 1000);
			m = snprintf(
				resp, sizeof(resp),
				"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n");
			(void)!write(c, resp, (size_t)m);
		}
		close(c);
	}
	return NULL;
}

static void slow_start(struct slow_server *s, int delay_ms)
{
	memset(s, 0, sizeof(*s));
	s->delay_ms = delay_ms;
	s->lfd = listen_on("127.0.0.1", 16, &s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, slow_main, s), 0);
}

static void slow_stop(struct slow_server *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	s->stop = 1;
	sa.sin_port = htons((uint16_t)s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* ---- demo-api, as a drill runs it ----------------------------------------------------- */

struct lab {
	struct params params;
	struct inject_ctx ctx;
	cJSON *undo;
	struct test_service svc;
};

static void lab_start(struct lab *lab, int port)
{
	const struct injector *in = injector_find("lab-service");
	struct cl_error err;
	char with[128];
	struct doc_node *d;
	const cJSON *w;
	struct proc_ident id;

	assert_non_null(in);
	memset(lab, 0, sizeof(*lab));
	snprintf(with, sizeof(with), "{\"service\": \"demo-api\", \"port\": %d}", port);
	cl_error_clear(&err);
	d = doc_parse_json("test", with, strlen(with), &err);
	assert_non_null(d);
	assert_int_equal(params_from_doc(&lab->params, in->params, d, "test", NULL, "with", &err),
			 0);
	doc_free(d);
	lab->undo = cJSON_CreateObject();
	lab->ctx = (struct inject_ctx){ .run_id = run_id,
					.step_id = "lab-demo-api",
					.state_dir = state_dir_path,
					.params = &lab->params,
					.undo = lab->undo };
	if (in->apply(&lab->ctx, &err))
		fail_msg("demo-api: %s", err.msg);
	w = cJSON_GetArrayItem(cJSON_GetObjectItem(lab->undo, "workers"), 0);
	assert_int_equal(proc_ident_from_json(w, &id), 0);
	lab->svc = (struct test_service){ .name = "demo-api", .pid = id.pid, .port = port };
	snprintf(lab->svc.host, sizeof(lab->svc.host), "127.0.0.1");
}

static void lab_stop(struct lab *lab)
{
	const struct injector *in = injector_find("lab-service");
	struct revert_ctx rc = { .run_id = run_id, .step_id = "lab-demo-api", .undo = lab->undo };
	struct cl_error err;

	cl_error_clear(&err);
	assert_int_equal(in->revert(&rc, &err), 0);
	waitpid(lab->svc.pid, NULL, 0);
	params_release(&lab->params);
	cJSON_Delete(lab->undo);
}

/* A free port to start demo-api on. */
static int free_port(void)
{
	return closed_port();
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_validate(void **state)
{
	char msg[256];

	validate_msg("tcp-connect", "{}", msg, sizeof(msg));
	assert_string_equal(msg, "give host (with port) or service");
	validate_msg("tcp-connect", "{\"host\": \"127.0.0.1\"}", msg, sizeof(msg));
	assert_string_equal(msg, "host needs a port");
	validate_msg("tcp-connect", "{\"host\": \"h\", \"port\": 1, \"service\": \"demo-api\"}",
		     msg, sizeof(msg));
	assert_non_null(strstr(msg, "exclude each other"));
	validate_msg("tcp-connect",
		     "{\"service\": \"demo-api\", \"min_p95_ms\": 50, \"max_p95_ms\": 10}", msg,
		     sizeof(msg));
	assert_non_null(strstr(msg, "never met"));
	validate_msg("tcp-connect", "{\"service\": \"demo-api\", \"count\": 0}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "1..100"));
	validate_msg("tcp-connect", "{\"service\": \"demo-api\", \"max_p95_ms\": 5}", msg,
		     sizeof(msg));
	assert_string_equal(msg, "");

	validate_msg("http", "{}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "give url"));
	validate_msg("http", "{\"url\": \"gopher://x/\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "http:// or https://"));
	validate_msg("http", "{\"url\": \"http://x/\", \"path\": \"/a\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "path goes with service"));
	validate_msg("http", "{\"service\": \"demo-api\", \"path\": \"health\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "start with '/'"));
	validate_msg("http", "{\"service\": \"demo-api\", \"phase\": \"ttfb\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "ttfb"));
	validate_msg("http", "{\"url\": \"http://127.0.0.1:1/\", \"status\": 503}", msg,
		     sizeof(msg));
	assert_string_equal(msg, "");
	validate_msg("http", "{\"url\": \"https://x/\", \"scheme\": \"https\"}", msg, sizeof(msg));
	assert_string_equal(msg, "scheme goes with service; put it in the url");
	validate_msg("http", "{\"url\": \"https://x/\", \"name\": \"api.lab.test\"}", msg,
		     sizeof(msg));
	assert_string_equal(msg, "name goes with service; put it in the url");
	validate_msg("http", "{\"service\": \"tls\", \"name\": \"api lab\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "is not a host name"));
	validate_msg("http", "{\"service\": \"tls\", \"scheme\": \"ftp\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "ftp"));
	validate_msg("http",
		     "{\"service\": \"tls\", \"scheme\": \"https\", \"name\": \"api.lab.test\", "
		     "\"verify\": false}",
		     msg, sizeof(msg));
	assert_string_equal(msg, "");

	validate_msg("port-listening", "{}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "give port"));
	validate_msg("port-listening", "{\"port\": 80, \"host\": \"localhost\"}", msg, sizeof(msg));
	assert_non_null(strstr(msg, "IPv4 or IPv6 address"));
	validate_msg("port-listening", "{\"port\": 80, \"host\": \"[::1]\"}", msg, sizeof(msg));
	assert_string_equal(msg, "");
	validate_msg("port-listening", "{\"service\": \"demo-api\", \"process\": \"x\"}", msg,
		     sizeof(msg));
	assert_non_null(strstr(msg, "exclude each other"));

	/* https: supported with the OpenSSL client installed by default; with
	 * no TLS client, supported() says so. */
	{
		const struct verifier *v = verifier_find("http");
		struct params p;
		char why[256];

		assert_int_equal(params_load(v, "{\"url\": \"https://127.0.0.1/\"}", &p, msg,
					     sizeof(msg)),
				 0);
		assert_int_equal(v->supported(&p, why, sizeof(why)), 0);
		probe_set_tls(NULL);
		assert_int_equal(v->supported(&p, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "TLS"));
		probe_set_tls(&x509_probe_tls);
		params_release(&p);
		/* The same for a service spoken to over https. */
		assert_int_equal(params_load(v, "{\"service\": \"tls\", \"scheme\": \"https\"}", &p,
					     msg, sizeof(msg)),
				 0);
		assert_int_equal(v->supported(&p, why, sizeof(why)), 0);
		probe_set_tls(NULL);
		assert_int_equal(v->supported(&p, why, sizeof(why)), -1);
		probe_set_tls(&x509_probe_tls);
		params_release(&p);
	}
}

static void test_tcp_connect(void **state)
{
	struct lab lab;
	char obs[256], want[64];
	int port = free_port();

	lab_start(&lab, port);

	/* No condition: every connect succeeds. */
	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d}", port),
			 CHECK_MET);
	snprintf(want, sizeof(want), "127.0.0.1:%d: p95 ", port);
	assert_int_equal(strncmp(obs, want, strlen(want)), 0);
	assert_non_null(strstr(obs, ", 10/10 ok"));
	assert_true(obs_ms(obs, "p95 ") < 50);

	/* curl times the same handshake alike. */
	if (!access("/usr/bin/curl", X_OK)) {
		char cmd[200], out[64] = "";
		FILE *p;

		snprintf(cmd, sizeof(cmd),
			 "curl -s -o /dev/null -w '%%{time_connect}' http://127.0.0.1:%d/health",
			 port);
		p = popen(cmd, "r");
		assert_non_null(fgets(out, sizeof(out), p));
		pclose(p);
		print_message("  curl time_connect %s s, ours p95 %.3f ms\n", out,
			      obs_ms(obs, "p95 "));
		assert_true(fabs(strtod(out, NULL) * 1000 - obs_ms(obs, "p95 ")) < 20);
	}

	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"localhost\", \"port\": %d, \"count\": 3, "
				    "\"max_p95_ms\": 100}",
				    port),
			 CHECK_MET);
	assert_non_null(strstr(obs, "3/3 ok"));
	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d, \"count\": 3, "
				    "\"min_p95_ms\": 100}",
				    port),
			 CHECK_NOT_MET);

	/* Through the drill's lookup. */
	assert_int_equal(check_once("tcp-connect", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"count\": 5}"),
			 CHECK_MET);
	assert_non_null(strstr(obs, want));
	assert_non_null(strstr(obs, "5/5 ok"));
	{
		struct test_service gone = lab.svc;

		gone.pid = -1;
		assert_int_equal(check_once("tcp-connect", &gone, obs, sizeof(obs),
					    "{\"service\": \"demo-api\"}"),
				 CHECK_NOT_MET);
		assert_string_equal(obs, "demo-api is not running");
		assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
					    "{\"service\": \"demo-api\"}"),
				 CHECK_ERROR);
	}
	lab_stop(&lab);

	/* Refused: nothing listens. */
	port = closed_port();
	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d, \"count\": 4}", port),
			 CHECK_NOT_MET);
	snprintf(want, sizeof(want), "127.0.0.1:%d: 0/4 ok, connection refused", port);
	assert_string_equal(obs, want);
	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d, \"count\": 4, "
				    "\"max_success_percent\": 0}",
				    port),
			 CHECK_MET);
}

static void test_tcp_connect_timeout(void **state)
{
	int port, fd = listen_on("127.0.0.1", 0, &port), held[4];
	char obs[256];
	double t0, took;

	/* Fill the accept queue: further SYNs are dropped, connects hang. */
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		held[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		connect(held[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	usleep(50000);
	t0 = mono_now();
	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d, \"count\": 3, "
				    "\"timeout_ms\": 200, \"min_p95_ms\": 150}",
				    port),
			 CHECK_MET);
	took = mono_now() - t0;
	/* A timeout is the slowest answer: it counts at its length. */
	assert_non_null(strstr(obs, "p95 >"));
	assert_non_null(strstr(obs, "0/3 ok, 3 timed out"));
	assert_true(took >= 0.59 && took < 1.5);
	assert_int_equal(check_once("tcp-connect", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d, \"count\": 2, "
				    "\"timeout_ms\": 100, \"max_p95_ms\": 1000}",
				    port),
			 CHECK_NOT_MET);
	for (int i = 0; i < 4; i++)
		close(held[i]);
	close(fd);
}

static void test_http_demo_api(void **state)
{
	struct lab lab;
	char obs[256];
	int port = free_port();

	lab_start(&lab, port);
	assert_int_equal(check_once("http", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"path\": \"/health\"}"),
			 CHECK_MET);
	assert_int_equal(strncmp(obs, "200 in p95 ", 11), 0);
	assert_non_null(strstr(obs, "(connect "));
	assert_non_null(strstr(obs, ", first byte "));
	assert_non_null(strstr(obs, "), 5/5 ok"));
	assert_null(strstr(obs, "dns")); /* an address: no lookup worth showing */

	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/nope\", \"status\": 404, "
				    "\"count\": 2}",
				    port),
			 CHECK_MET);
	assert_int_equal(strncmp(obs, "404 in p95 ", 11), 0);
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/health\", \"status\": 201, "
				    "\"count\": 2}",
				    port),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "0/2 ok (want 201)"));
	assert_int_equal(check_once("http", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"path\": \"/health\", "
				    "\"body_contains\": \"ok\", \"count\": 2}"),
			 CHECK_MET);
	assert_int_equal(check_once("http", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"path\": \"/health\", "
				    "\"body_contains\": \"nope\", \"count\": 2}"),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "body with 'nope'"));
	/* Latency alone: the status does not count unless given. */
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/nope\", \"max_p95_ms\": 500, "
				    "\"phase\": \"connect\"}",
				    port),
			 CHECK_MET);
	/* A download shows its rate. */
	assert_int_equal(check_once("http", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"path\": \"/bytes/131072\", "
				    "\"count\": 2}"),
			 CHECK_MET);
	assert_non_null(strstr(obs, "128 KiB at "));
	/* A host name takes a lookup. */
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://localhost:%d/health\", \"count\": 2, "
				    "\"phase\": \"dns\", \"max_p95_ms\": 2000}",
				    port),
			 CHECK_MET);
	lab_stop(&lab);

	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/health\", \"count\": 2}",
				    port),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "0/2 ok"));
	assert_non_null(strstr(obs, "refused"));
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/health\", \"count\": 2, "
				    "\"max_success_percent\": 0}",
				    port),
			 CHECK_MET);
}

static void test_http_slow_server(void **state)
{
	struct slow_server s;
	char obs[256];
	double ours;

	slow_start(&s, 200);
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/\", \"count\": 3, "
				    "\"phase\": \"first_byte\", \"min_p95_ms\": 150}",
				    s.port),
			 CHECK_MET);
	ours = obs_ms(obs, "first byte ");
	assert_true(ours >= 190 && ours < 400);
	assert_true(obs_ms(obs, "connect ") < 50);
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/\", \"count\": 2, "
				    "\"max_p95_ms\": 100}",
				    s.port),
			 CHECK_NOT_MET);
	/* Server time, as curl sees it: starttransfer - pretransfer. */
	if (!access("/usr/bin/curl", X_OK)) {
		char cmd[200], out[64] = "";
		double pre, start;
		FILE *p;

		snprintf(cmd, sizeof(cmd),
			 "curl -s -o /dev/null -w '%%{time_pretransfer} %%{time_starttransfer}' "
			 "http://127.0.0.1:%d/",
			 s.port);
		p = popen(cmd, "r");
		assert_non_null(fgets(out, sizeof(out), p));
		pclose(p);
		assert_int_equal(sscanf(out, "%lf %lf", &pre, &start), 2);
		print_message("  curl first byte %.1f ms, ours p95 %.1f ms\n", (start - pre) * 1000,
			      ours);
		assert_true(fabs((start - pre) * 1000 - ours) < 60);
	}
	/* Timeouts count in total, at their length. */
	assert_int_equal(check_once("http", NULL, obs, sizeof(obs),
				    "{\"url\": \"http://127.0.0.1:%d/\", \"count\": 2, "
				    "\"timeout_ms\": 80, \"min_p95_ms\": 70}",
				    s.port),
			 CHECK_MET);
	assert_non_null(strstr(obs, "p95 >"));
	assert_non_null(strstr(obs, "timed out"));
	slow_stop(&s);
}

/* The local addresses `ss -Hlnt` lists, "ADDR PORT" per line. */
static int ss_list(char out[][80], int cap, const char *cmd)
{
	char line[512];
	int n = 0;
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	while (n < cap && fgets(line, sizeof(line), p)) {
		char st[32], rq[32], sq[32], local[128], *colon, *pct;

		if (sscanf(line, "%31s %31s %31s %127s", st, rq, sq, local) != 4)
			continue;
		colon = strrchr(local, ':');
		if (!colon)
			continue;
		*colon = '\0';
		pct = strchr(local, '%');
		if (pct)
			*pct = '\0';
		snprintf(out[n++], 80, "%s %s", !strcmp(local, "*") ? "::" : local, colon + 1);
	}
	pclose(p);
	return n;
}

static void test_port_listening(void **state)
{
	static char ss[512][80];
	struct lab lab;
	char obs[256], want[128], comm[32] = "";
	int n, port = free_port(), mine_port, mine = listen_on("127.0.0.1", 4, &mine_port);

	lab_start(&lab, port);

	/* Whatever ss lists, port-listening finds; the addresses as given. */
	n = ss_list(ss, 512, "ss -Hlnt 2>/dev/null");
	assert_true(n >= 2);
	for (int i = 0; i < n; i++) {
		char host[80];
		int p;

		assert_int_equal(sscanf(ss[i], "%79s %d", host, &p), 2);
		if (check_once("port-listening", NULL, obs, sizeof(obs),
			       "{\"host\": \"%s\", \"port\": %d}", host, p) != CHECK_MET) {
			/* A listener of somebody else may have closed since. */
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "ss -Hlnt 'sport = :%d' | grep -q .", p);
			if (!system(cmd))
				fail_msg("ss lists %s but port-listening says: %s", ss[i], obs);
		}
	}

	/* Ours, by host, port and process. */
	prctl(PR_GET_NAME, comm, 0, 0, 0);
	assert_int_equal(check_once("port-listening", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.1\", \"port\": %d, \"process\": \"%s\"}",
				    mine_port, comm),
			 CHECK_MET);
	snprintf(want, sizeof(want), "127.0.0.1:%d LISTEN by %s (pid %d)", mine_port, comm,
		 (int)getpid());
	assert_string_equal(obs, want);
	assert_int_equal(check_once("port-listening", NULL, obs, sizeof(obs),
				    "{\"port\": %d, \"process\": \"nginx\"}", mine_port),
			 CHECK_NOT_MET);
	snprintf(want, sizeof(want), "127.0.0.1:%d is held by %s (pid %d), not nginx", mine_port,
		 comm, (int)getpid());
	assert_string_equal(obs, want);
	/* Another address of the same port is not served by a 127.0.0.1 socket. */
	assert_int_equal(check_once("port-listening", NULL, obs, sizeof(obs),
				    "{\"host\": \"127.0.0.2\", \"port\": %d}", mine_port),
			 CHECK_NOT_MET);
	snprintf(want, sizeof(want), "nothing listens on 127.0.0.2:%d", mine_port);
	assert_string_equal(obs, want);
	close(mine);
	assert_int_equal(check_once("port-listening", NULL, obs, sizeof(obs),
				    "{\"port\": %d, \"expect\": \"not-listening\"}", mine_port),
			 CHECK_MET);

	/* demo-api, through the drill's lookup, as ss -lntp names it. */
	{
		char cmd[128], line[512] = "";
		FILE *p;

		snprintf(cmd, sizeof(cmd), "ss -Hlntp 'sport = :%d'", port);
		p = popen(cmd, "r");
		assert_non_null(fgets(line, sizeof(line), p));
		pclose(p);
		snprintf(want, sizeof(want), "\"demo-api\",pid=%d,", (int)lab.svc.pid);
		if (!strstr(line, want))
			fail_msg("ss -lntp: %s", line);
	}
	assert_int_equal(check_once("port-listening", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\"}"),
			 CHECK_MET);
	snprintf(want, sizeof(want), "127.0.0.1:%d LISTEN by demo-api (pid %d)", port,
		 (int)lab.svc.pid);
	assert_string_equal(obs, want);
	/* Where it does not listen, the observation says where it does. */
	assert_int_equal(check_once("port-listening", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"port\": %d}", mine_port),
			 CHECK_NOT_MET);
	snprintf(want, sizeof(want),
		 "nothing listens on 127.0.0.1:%d; demo-api (pid %d) listens on 127.0.0.1:%d",
		 mine_port, (int)lab.svc.pid, port);
	assert_string_equal(obs, want);

	/* A steady state is checked again and again from the cached holder. */
	{
		struct vcheck c;

		vcheck_init(&c, "port-listening", &lab.svc, "{\"service\": \"demo-api\"}");
		for (int i = 0; i < 5; i++)
			assert_int_equal(vcheck_run(&c), CHECK_MET);
		assert_non_null(c.ctx.state);
		vcheck_done(&c);
	}
	lab_stop(&lab);
	assert_int_equal(check_once("port-listening", &lab.svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\", \"expect\": \"not-listening\"}"),
			 CHECK_MET);
}

/* A listener inside a network namespace of its own: visible through the
 * holder's /proc/PID/net/tcp, not through ours. */
static void test_port_listening_netns(void **state)
{
	struct test_service svc = { .name = "demo-api" };
	int ready[2], port = 0;
	char obs[256], want[128], cmd[160], line[256] = "";
	pid_t child;
	FILE *p;

	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		if (unshare(CLONE_NEWNET) < 0) {
			int e = -errno;
			(void)!write(ready[1], &e, sizeof(e));
			_exit(1);
		}
		fd = socket(AF_INET, SOCK_STREAM, 0);
		bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		listen(fd, 1);
		getsockname(fd, (struct sockaddr *)&sa, &len);
		port = ntohs(sa.sin_port);
		(void)!write(ready[1], &port, sizeof(port));
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &port, sizeof(port)), sizeof(port));
	close(ready[0]);
	if (port < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		print_message("skipped: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(-port));
		skip();
	}
	svc.pid = child;
	svc.port = port;
	snprintf(svc.host, sizeof(svc.host), "10.0.0.2");

	/* The namespace's own view, with the real ss run inside it. */
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -n ss -Hlnt 2>/dev/null", (int)child);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	snprintf(want, sizeof(want), "0.0.0.0:%d", port);
	if (line[0] && !strstr(line, want))
		fail_msg("nsenter ss: %s", line);

	assert_int_equal(check_once("port-listening", &svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\"}"),
			 CHECK_MET);
	snprintf(want, sizeof(want), "0.0.0.0:%d LISTEN by ", port);
	assert_int_equal(strncmp(obs, want, strlen(want)), 0);
	/* From the host's namespace it is not there (unless by chance another
	 * program holds the same port here: then say so and move on). */
	if (check_once("port-listening", NULL, obs, sizeof(obs), "{\"port\": %d}", port) ==
	    CHECK_MET)
		print_message("port %d is also used in this namespace: %s\n", port, obs);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(check_once("port-listening", &svc, obs, sizeof(obs),
				    "{\"service\": \"demo-api\"}"),
			 CHECK_NOT_MET);
	assert_string_equal(obs, "demo-api is not running");
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
		cmocka_unit_test(test_validate),
		cmocka_unit_test_teardown(test_tcp_connect, stop_leftovers),
		cmocka_unit_test(test_tcp_connect_timeout),
		cmocka_unit_test_teardown(test_http_demo_api, stop_leftovers),
		cmocka_unit_test(test_http_slow_server),
		cmocka_unit_test_teardown(test_port_listening, stop_leftovers),
		cmocka_unit_test(test_port_listening_netns),
	};
	const char *bin = getenv("CHAOSLAB_BIN");
	char cmd[200];
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
	snprintf(run_id, sizeof(run_id), "test-req-verifiers-%d", (int)getpid());
	/* demo-api writes its config, log and pidfile under the state directory. */
	snprintf(state_dir_path, sizeof(state_dir_path), "%s/chaoslab-test-req.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(state_dir_path)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("CHAOSLAB_STATE", state_dir_path, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir_path);
	if (system(cmd))
		fprintf(stderr, "unable to remove %s\n", state_dir_path);
	return rc;
}
