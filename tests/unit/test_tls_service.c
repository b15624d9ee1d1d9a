/* Tests of the lab TLS service (harness/lab/tls-service.c), run the way a
 * drill runs it: through the lab-service injector, which spawns the chaoslab
 * binary as the `tls` worker, in a state directory of the test's own. It
 * makes the lab CA and its certificate; real HTTPS requests get /health;
 * curl and `openssl s_client` (where installed) accept it against the lab
 * CA. SIGHUP reloads a new pair and refuses a key that does not match,
 * keeping the old one. The expired-cert injector's every mode makes those
 * same clients fail with their own words, the tls-cert verifier says the
 * same, and revert puts the original files back byte for byte, but leaves a
 * rotated certificate alone. A service started over an unusable certificate
 * issues a fresh one. The worker is locked down; a stalled client does not
 * hold up others. The http probe (sys/probe.h) speaks https through the
 * OpenSSL client installed with probe_set_tls(&x509_probe_tls). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "sys/probe.h"
#include "sys/proc.h"
#include "sys/worker.h"
#include "sys/x509.h"
#include "support/step.h"

static char run_id[64], state[256], tls_dir[320];
static int port;

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

/* ---- steps ------------------------------------------------------------------ */

/* Parse, validate and apply `with` as the engine would (support/step.h),
 * in this test's run and state directory. */
static int step_apply(struct test_step *s, const char *type, const char *id, const char *with,
		      struct cl_error *err)
{
	return test_step_apply(s, type, run_id, id, state, with, err);
}

static struct test_step lab;

static void lab_start(void)
{
	struct cl_error err;
	char with[64];

	snprintf(with, sizeof(with), "{\"service\": \"tls\", \"port\": %d}", port);
	if (step_apply(&lab, "lab-service", "lab-tls", with, &err))
		fail_msg("lab-service tls: %s", err.msg);
}

static void lab_stop(void)
{
	struct cl_error err;

	assert_int_equal(test_step_revert(&lab, NULL, 0, &err), 0);
	test_step_free(&lab);
}

static pid_t tls_pid(void)
{
	struct proc_ident id;

	assert_int_equal(proc_ident_from_json(
				 cJSON_GetArrayItem(cJSON_GetObjectItem(lab.undo, "workers"), 0),
				 &id),
			 0);
	return id.pid;
}

/* ---- clients ------------------------------------------------------------------ */

static char *file_of(const char *name, size_t *len)
{
	char path[400];
	struct cl_error err;

	snprintf(path, sizeof(path), "%s/%s", tls_dir, name);
	return x509_file_read(path, len, &err);
}

static int tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* An HTTPS request over our TLS client; the response in resp. Returns the
 * verify code (-2 when no handshake). */
static long https(const char *req, const char *sni, char *resp, size_t size, struct x509_peer *peer)
{
	char ca[400];
	struct cl_error err;
	int fd = tcp_connect();
	size_t len = 0;
	SSL *ssl;
	int n;

	snprintf(ca, sizeof(ca), "%s/%s", tls_dir, LAB_TLS_CA_CERT);
	ssl = x509_tls_client(fd, sni, ca, mono_now() + 5, peer, &err);
	resp[0] = '\0';
	if (!ssl) {
		close(fd);
		snprintf(resp, size, "%s", err.msg);
		return -2;
	}
	/* The socket is non-blocking now: back to blocking for simple I/O. */
	{
		int fl = fcntl(fd, F_GETFL);

		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	while (len < size - 1 && (n = SSL_read(ssl, resp + len, (int)(size - 1 - len))) > 0)
		len += (size_t)n;
	resp[len] = '\0';
	SSL_free(ssl);
	close(fd);
	return peer->verify_code;
}

static bool have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* Output (stdout and stderr) of a command line; its exit status. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	return WEXITSTATUS(pclose(f));
}

static int curl(char *out, size_t size)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd),
		 "curl -sS --max-time 5 --cacert %s/ca.crt --resolve api.lab.test:%d:127.0.0.1 "
		 "https://api.lab.test:%d/health 2>&1",
		 tls_dir, port, port);
	return run(cmd, out, size);
}

static int s_client(char *out, size_t size)
{
	char cmd[700];

	snprintf(
		cmd, sizeof(cmd),
		"openssl s_client -connect 127.0.0.1:%d -servername api.lab.test -CAfile %s/ca.crt "
		"-verify_return_error -verify_hostname api.lab.test </dev/null 2>&1",
		port, tls_dir);
	return run(cmd, out, size);
}

/* tls-cert verifier against the service. */
static int env_addr(void *opaque, const char *name, char *host, size_t size, int *p)
{
	if (strcmp(name, "tls"))
		return -1;
	snprintf(host, size, "127.0.0.1");
	*p = port;
	return 0;
}

static int check_with(const char *verifier, const char *with, char *obs, size_t size)
{
	const struct verifier *v = verifier_find(verifier);
	struct check_env env = { .service_addr = env_addr };
	struct params p;
	struct check_ctx ctx = { .params = &p, .env = &env };
	struct cl_error err;
	struct doc_node *d;
	char msg[256];
	int r;

	assert_non_null(v);
	d = doc_parse_json("test", with, strlen(with), &err);
	assert_non_null(d);
	assert_int_equal(params_from_doc(&p, v->params, d, "test", NULL, "with", &err), 0);
	doc_free(d);
	assert_int_equal(v->validate(&p, msg, sizeof(msg)), 0);
	r = v->check(&ctx, obs, size, &err);
	if (r == CHECK_ERROR)
		snprintf(obs, size, "error: %s", err.msg);
	print_message("%s %s: %s\n", verifier, with, obs);
	params_release(&p);
	return r;
}

static int check(const char *with, char *obs, size_t size)
{
	return check_with("tls-cert", with, obs, size);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_serves_https(void **state_)
{
	char resp[2048], out[8192];
	struct x509_peer peer;
	struct stat st;
	char path[400];

	/* The lab CA and the certificate were made, the keys private. */
	snprintf(path, sizeof(path), "%s/ca.key", tls_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/server.key", tls_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(https("GET /health HTTP/1.1\r\nHost: api.lab.test\r\n\r\n", "api.lab.test",
			       resp, sizeof(resp), &peer),
			 0);
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(resp, "\r\n\r\nok\n"));
	assert_string_equal(peer.leaf.subject, "CN=api.lab.test");
	assert_string_equal(peer.leaf.issuer, "CN=" LAB_TLS_CA_CN);
	assert_string_equal(peer.leaf.sans, "DNS:api.lab.test");
	assert_in_range(x509_days_left(&peer.leaf, time(NULL)), 89, 90);
	assert_string_equal(peer.protocol, "TLSv1.3");

	https("GET /nope HTTP/1.1\r\n\r\n", "api.lab.test", resp, sizeof(resp), &peer);
	assert_int_equal(strncmp(resp, "HTTP/1.1 404 ", 13), 0);
	https("HEAD /health HTTP/1.1\r\n\r\n", "api.lab.test", resp, sizeof(resp), &peer);
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(resp, "\r\n\r\n"));
	assert_string_equal(strstr(resp, "\r\n\r\n"), "\r\n\r\n");
	https("POST /health HTTP/1.1\r\n\r\n", "api.lab.test", resp, sizeof(resp), &peer);
	assert_int_equal(strncmp(resp, "HTTP/1.1 405 ", 13), 0);

	if (have("curl")) {
		assert_int_equal(curl(out, sizeof(out)), 0);
		assert_string_equal(out, "ok\n");
	}
	if (have("openssl")) {
		assert_int_equal(s_client(out, sizeof(out)), 0);
		assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
	}
}

static void test_lockdown_and_stalled_client(void **state_)
{
	char field[64], path[64], line[256], resp[2048];
	struct x509_peer peer;
	pid_t pid = tls_pid();
	int stalled;
	double t0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	field[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			snprintf(field, sizeof(field), "%s", line + 8 + strspn(line + 8, " \t"));
	fclose(f);
	assert_string_equal(field, "2\n");

	/* A client that connects and never says hello. */
	stalled = tcp_connect();
	t0 = mono_now();
	assert_int_equal(https("GET /health HTTP/1.1\r\n\r\n", "api.lab.test", resp, sizeof(resp),
			       &peer),
			 0);
	assert_true(mono_now() - t0 < 1.0);
	close(stalled);
}

static void test_reload(void **state_)
{
	char resp[2048], path[400], *good_key, *good_cert, log[16384];
	struct x509_peer peer;
	struct cl_error err;
	size_t klen, clen;
	char serial[80];

	https("GET /health HTTP/1.1\r\n\r\n", "api.lab.test", resp, sizeof(resp), &peer);
	snprintf(serial, sizeof(serial), "%s", peer.leaf.serial);
	good_key = file_of(LAB_TLS_KEY, &klen);
	good_cert = file_of(LAB_TLS_CERT, &clen);
	assert_non_null(good_key);

	/* A key that does not go with the certificate: refused, old pair kept. */
	{
		EVP_PKEY *k = x509_key_new(&err);
		char *pem = x509_key_pem(k, &err);

		snprintf(path, sizeof(path), "%s/%s", tls_dir, LAB_TLS_KEY);
		assert_int_equal(x509_file_write(path, pem, strlen(pem), 0600, &err), 0);
		free(pem);
		EVP_PKEY_free(k);
	}
	assert_int_equal(kill(tls_pid(), SIGHUP), 0);
	usleep(200000);
	assert_int_equal(https("GET /health HTTP/1.1\r\n\r\n", "api.lab.test", resp, sizeof(resp),
			       &peer),
			 0);
	assert_string_equal(peer.leaf.serial, serial);
	{
		size_t n;
		char *text = file_of("server.log", &n);

		assert_non_null(text);
		snprintf(log, sizeof(log), "%s", text);
		free(text);
		assert_non_null(
			strstr(log, "reload failed: server.key does not match the certificate"));
	}
	/* The good pair back: reloaded fine. */
	assert_int_equal(x509_file_write(path, good_key, klen, 0600, &err), 0);
	assert_int_equal(kill(tls_pid(), SIGHUP), 0);
	usleep(200000);
	{
		size_t n;
		char *text = file_of("server.log", &n);

		assert_non_null(strstr(text, "reload: serving CN=api.lab.test"));
		free(text);
	}
	free(good_key);
	free(good_cert);
}

struct mode_case {
	const char *with;
	const char *verify_error; /* tls-cert's and our client's words */
	const char *curl_says;
	const char *s_client_says;
};

static void test_expired_cert_modes(void **state_)
{
	static const struct mode_case cases[] = {
		{ "{\"mode\": \"expired\", \"days\": 3}", "certificate has expired",
		  "certificate has expired", "Verify return code: 10 (certificate has expired)" },
		{ "{\"mode\": \"not_yet_valid\", \"days\": 2}", "certificate is not yet valid",
		  "certificate is not yet valid",
		  "Verify return code: 9 (certificate is not yet valid)" },
		{ "{\"mode\": \"hostname_mismatch\", \"name\": \"www.lab.test\"}",
		  "hostname mismatch",
		  "no alternative certificate subject name matches target host name 'api.lab.test'",
		  "Verify return code: 62 (hostname mismatch)" },
		{ "{\"mode\": \"unknown_ca\"}", "self-signed certificate",
		  "self-signed certificate", "Verify return code: 18 (self-signed certificate)" },
	};
	char *orig_cert, *orig_key, *now_cert, *now_key, obs[256], out[16384], report[256];
	size_t oc, ok, nc, nk;
	struct cl_error err;

	orig_cert = file_of(LAB_TLS_CERT, &oc);
	orig_key = file_of(LAB_TLS_KEY, &ok);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mode_case *c = &cases[i];
		struct test_step s;
		char with[200];

		if (step_apply(&s, "expired-cert", "cert", c->with, &err))
			fail_msg("apply %s: %s", c->with, err.msg);
		snprintf(with, sizeof(with),
			 "{\"service\": \"tls\", \"expect\": \"fail\", \"error\": \"%s\"}",
			 c->verify_error);
		assert_int_equal(check(with, obs, sizeof(obs)), CHECK_MET);
		assert_int_equal(strncmp(obs, c->verify_error, strlen(c->verify_error)), 0);
		assert_int_equal(check("{\"service\": \"tls\"}", obs, sizeof(obs)), CHECK_NOT_MET);
		if (have("curl")) {
			assert_int_equal(curl(out, sizeof(out)), 60);
			if (!strstr(out, c->curl_says))
				fail_msg("curl said: %s", out);
		}
		if (have("openssl")) {
			assert_int_not_equal(s_client(out, sizeof(out)), 0);
			if (!strstr(out, c->s_client_says))
				fail_msg("openssl s_client said: %s", out);
		}
		/* Reverted: byte for byte, and served again. */
		assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
		assert_string_equal(report,
				    "restored the original certificate and reloaded the tls "
				    "service");
		now_cert = file_of(LAB_TLS_CERT, &nc);
		now_key = file_of(LAB_TLS_KEY, &nk);
		assert_int_equal(nc, oc);
		assert_memory_equal(now_cert, orig_cert, oc);
		assert_int_equal(nk, ok);
		assert_memory_equal(now_key, orig_key, ok);
		free(now_cert);
		free(now_key);
		usleep(200000);
		assert_int_equal(check("{\"service\": \"tls\", \"min_days\": 30}", obs,
				       sizeof(obs)),
				 CHECK_MET);
		/* Idempotent. */
		assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
		test_step_free(&s);
	}
	free(orig_cert);
	free(orig_key);
}

static void test_expiring_soon_alert(void **state_)
{
	struct cl_error err;
	struct test_step s;
	char obs[256], out[4096], cmd[600];

	assert_int_equal(step_apply(&s, "expired-cert", "soon",
				    "{\"mode\": \"expiring_soon\", "
				    "\"days\": 9}",
				    &err),
			 0);
	/* Clients still accept it... */
	assert_int_equal(check("{\"service\": \"tls\"}", obs, sizeof(obs)), CHECK_MET);
	/* ...and the alert fires. */
	assert_int_equal(check("{\"service\": \"tls\", \"max_days\": 13}", obs, sizeof(obs)),
			 CHECK_MET);
	assert_string_equal(strstr(obs, "ALERT: api.lab.test expires in 9 days (< 14)") ? "" : obs,
			    "");
	assert_int_equal(check("{\"service\": \"tls\", \"min_days\": 14}", obs, sizeof(obs)),
			 CHECK_NOT_MET);
	if (have("openssl")) {
		snprintf(cmd, sizeof(cmd),
			 "echo | openssl s_client -connect 127.0.0.1:%d -servername api.lab.test "
			 "2>/dev/null | openssl x509 -noout -checkend %d",
			 port, 14 * 86400);
		assert_int_equal(run(cmd, out, sizeof(out)), 1);
		assert_non_null(strstr(out, "Certificate will expire"));
	}
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);
}

/* The engineer's rotation: a new pair from the lab CA. */
static void rotate(void)
{
	char ca_path[400], path[400], *pem, *kpem, *cpem;
	struct cl_error err;
	size_t len;
	X509 *ca, *leaf;
	EVP_PKEY *ca_key, *key;
	time_t now = time(NULL);
	struct x509_spec spec = { .cn = "api.lab.test",
				  .dns = { "api.lab.test" },
				  .not_before = now - 60,
				  .not_after = now + 90L * 86400 };

	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", tls_dir);
	pem = x509_file_read(ca_path, &len, &err);
	ca = x509_cert_from_pem(pem, len, &err);
	free(pem);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.key", tls_dir);
	pem = x509_file_read(ca_path, &len, &err);
	ca_key = x509_key_from_pem(pem, len, &err);
	free(pem);
	key = x509_key_new(&err);
	leaf = x509_make(&spec, key, ca, ca_key, &err);
	assert_non_null(leaf);
	kpem = x509_key_pem(key, &err);
	cpem = x509_cert_pem(leaf, &err);
	snprintf(path, sizeof(path), "%s/server.key", tls_dir);
	assert_int_equal(x509_file_write(path, kpem, strlen(kpem), 0600, &err), 0);
	snprintf(path, sizeof(path), "%s/server.crt", tls_dir);
	assert_int_equal(x509_file_write(path, cpem, strlen(cpem), 0644, &err), 0);
	assert_int_equal(kill(tls_pid(), SIGHUP), 0);
	usleep(200000);
	free(kpem);
	free(cpem);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

static void test_rotated_is_left_alone(void **state_)
{
	struct cl_error err;
	struct test_step s;
	char obs[256], report[256], *rotated, *after;
	size_t rl, al;

	assert_int_equal(step_apply(&s, "expired-cert", "cert", "{\"mode\": \"expired\"}", &err),
			 0);
	assert_int_equal(check("{\"service\": \"tls\", \"expect\": \"fail\"}", obs, sizeof(obs)),
			 CHECK_MET);
	rotate();
	assert_int_equal(check("{\"service\": \"tls\", \"min_days\": 30}", obs, sizeof(obs)),
			 CHECK_MET);
	rotated = file_of(LAB_TLS_CERT, &rl);
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "alone: replaced since chaoslab wrote it"));
	after = file_of(LAB_TLS_CERT, &al);
	assert_int_equal(al, rl);
	assert_memory_equal(after, rotated, rl);
	free(rotated);
	free(after);
	test_step_free(&s);

	/* A bare intent changes nothing. */
	memset(&s, 0, sizeof(s));
	s.in = injector_find("expired-cert");
	snprintf(s.id, sizeof(s.id), "never");
	s.undo = cJSON_CreateObject();
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	test_step_free(&s);
}

static void test_restart_replaces_unusable(void **state_)
{
	struct cl_error err;
	struct test_step s;
	char obs[256], *log;
	size_t n;

	/* Leave an expired certificate behind (as a crash with no recover
	 * would), then start the service anew. */
	assert_int_equal(step_apply(&s, "expired-cert", "cert", "{\"mode\": \"expired\"}", &err),
			 0);
	test_step_free(&s);
	lab_stop();
	lab_start();
	assert_int_equal(check("{\"service\": \"tls\", \"min_days\": 30}", obs, sizeof(obs)),
			 CHECK_MET);
	log = file_of("server.log", &n);
	assert_non_null(strstr(log, "issued a new certificate for api.lab.test from the lab CA "
				    "(outside its validity"));
	free(log);

	/* The lab CA is kept across starts. */
	lab_stop();
	{
		char *ca1 = file_of("ca.crt", &n), *ca2;

		lab_start();
		ca2 = file_of("ca.crt", &n);
		assert_string_equal(ca1, ca2);
		free(ca1);
		free(ca2);
	}
}

static void test_http_probe_over_tls(void **state_)
{
	struct probe_http_opts opts = { .timeout_ms = 3000,
					.connect_host = "127.0.0.1",
					.tls_verify = true };
	struct probe_http_result r;
	struct probe_url u;
	struct cl_error err;
	struct test_step s;
	char url[128];

	snprintf(url, sizeof(url), "https://api.lab.test:%d/health", port);
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	probe_set_tls(&x509_probe_tls);
	assert_true(probe_tls_available());
	if (probe_http_get(&u, &opts, &r, &err))
		fail_msg("https probe: %s", err.msg);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	assert_true(r.appconnect > r.connect && r.total >= r.appconnect);

	/* A certificate that does not verify fails the probe with the reason,
	 * unless verification is off (curl -k). */
	assert_int_equal(step_apply(&s, "expired-cert", "cert", "{\"mode\": \"expired\"}", &err),
			 0);
	assert_int_equal(probe_http_get(&u, &opts, &r, &err), -1);
	assert_non_null(strstr(err.msg, "certificate has expired"));
	opts.tls_verify = false;
	assert_int_equal(probe_http_get(&u, &opts, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);
	probe_set_tls(NULL);
}

/* The http verifier speaks https to the service by name, as
 * `curl --cacert ca.crt --resolve api.lab.test:PORT:127.0.0.1` does. */
static void test_http_verifier_over_tls(void **state_)
{
	static const char by_name[] = "{\"service\": \"tls\", \"scheme\": \"https\", \"name\": "
				      "\"api.lab.test\", \"path\": \"/health\", \"count\": 2, "
				      "\"body_contains\": \"ok\"}";
	struct cl_error err;
	struct test_step s;
	char obs[256];

	probe_set_tls(&x509_probe_tls);
	assert_int_equal(check_with("http", by_name, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, "2/2"));
	/* By address the name does not match the certificate (curl says the
	 * same), unless verification is off (curl -k). */
	assert_int_equal(check_with("http",
				    "{\"service\": \"tls\", \"scheme\": \"https\", \"path\": "
				    "\"/health\", \"count\": 1}",
				    obs, sizeof(obs)),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "TLS certificate verify failed"));
	assert_int_equal(check_with("http",
				    "{\"service\": \"tls\", \"scheme\": \"https\", \"path\": "
				    "\"/health\", \"count\": 1, \"verify\": false}",
				    obs, sizeof(obs)),
			 CHECK_MET);
	/* Plain http to a TLS port gets no HTTP answer. */
	assert_int_equal(check_with("http", "{\"service\": \"tls\", \"count\": 1}", obs,
				    sizeof(obs)),
			 CHECK_NOT_MET);

	/* An expired certificate fails every request, with the reason. */
	assert_int_equal(step_apply(&s, "expired-cert", "cert", "{\"mode\": \"expired\"}", &err),
			 0);
	assert_int_equal(check_with("http", by_name, obs, sizeof(obs)), CHECK_NOT_MET);
	assert_non_null(strstr(obs, "certificate has expired"));
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);
	usleep(200000);
	assert_int_equal(check_with("http", by_name, obs, sizeof(obs)), CHECK_MET);
	probe_set_tls(NULL);
}

static void test_validation(void **state_)
{
	struct cl_error err;
	struct test_step s;

	assert_int_equal(step_apply(&s, "expired-cert", "x",
				    "{\"mode\": \"expired\", \"name\": \"a.lab.test\"}", &err),
			 -1);
	assert_non_null(strstr(err.msg, "name applies to mode hostname_mismatch only"));
	test_step_free(&s);
	assert_int_equal(step_apply(&s, "expired-cert", "x",
				    "{\"mode\": \"hostname_mismatch\", \"name\": \"api.lab.test\"}",
				    &err),
			 -1);
	test_step_free(&s);
	/* Without the service: refused up front. */
	{
		char saved[64];

		snprintf(saved, sizeof(saved), "%s", run_id);
		snprintf(run_id, sizeof(run_id), "%s-other", saved);
		assert_int_equal(
			step_apply(&s, "expired-cert", "x", "{\"mode\": \"expired\"}", &err), -1);
		assert_non_null(strstr(err.msg, "list tls under the scenario's lab:"));
		snprintf(run_id, sizeof(run_id), "%s", saved);
		test_step_free(&s);
	}
}

static int group_setup(void **state_)
{
	snprintf(state, sizeof(state), "/tmp/test_tls_service.XXXXXX");
	if (!mkdtemp(state))
		return -1;
	snprintf(tls_dir, sizeof(tls_dir), "%s/" LAB_TLS_DIR, state);
	setenv("CHAOSLAB_STATE", state, 1);
	signal(SIGPIPE, SIG_IGN);
	port = free_port();
	lab_start();
	return 0;
}

static int group_teardown(void **state_)
{
	char cmd[300];

	lab_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	return system(cmd) ? -1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serves_https),
		cmocka_unit_test(test_lockdown_and_stalled_client),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_expired_cert_modes),
		cmocka_unit_test(test_expiring_soon_alert),
		cmocka_unit_test(test_rotated_is_left_alone),
		cmocka_unit_test(test_restart_replaces_unusable),
		cmocka_unit_test(test_http_probe_over_tls),
		cmocka_unit_test(test_http_verifier_over_tls),
		cmocka_unit_test(test_validation),
	};
	const char *bin = getenv("CHAOSLAB_BIN");

	if (getenv("CHAOSLAB_WORKER"))
		return worker_main(argc, argv);
	if (!bin || access(bin, X_OK)) {
		printf("skipped: CHAOSLAB_BIN does not name the chaoslab binary (%s); the service "
		       "runs as its worker\n",
		       bin ? bin : "unset");
		return 77;
	}
	worker_set_exe(bin);
	snprintf(run_id, sizeof(run_id), "test-tls-service-%d", (int)getpid());
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
