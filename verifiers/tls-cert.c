/* tls-cert: a TLS handshake with a lab service or host:port, and what its
 * certificate says.
 *
 * The client verifies the chain against ca_file (default: the lab CA,
 * STATE/lab/tls/ca.crt), the validity dates, and that the certificate
 * carries servername (sent as SNI too): what `openssl s_client
 * -verify_return_error -verify_hostname` and `curl --cacert` check. The
 * verify error is the observation, in OpenSSL's words ("certificate has
 * expired", "Hostname mismatch", "self-signed certificate"), with the
 * certificate's subject, issuer and dates.
 *
 * expect: ok (default) is met when the certificate verifies, with at least
 * min_days and at most max_days left when those are given. A certificate
 * with fewer than alert_days left (14, the day-26 cert_check threshold) is
 * an ALERT in the observation ("ALERT: api.lab.test expires in 9 days (< 14)"):
 * max_days 13 makes that alert the symptom, min_days 14 its fix. expect:
 * fail is met when the handshake completes but the certificate does not
 * verify, and, with `error`, when the verify error contains that text. A
 * service that does not answer TLS meets neither. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/journal.h"
#include "core/registry.h"
#include "sys/proc.h"
#include "sys/x509.h"

static const char *const expects[] = { "ok", "fail", NULL };

static const struct param_spec tls_cert_params[] = {
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a lab service of this scenario to connect to (give service, or host and port)" },
	{ "host", PARAM_STRING, false, NULL, 0, 253, NULL, "an address (or name) to connect to" },
	{ "port", PARAM_INT, false, NULL, 1, 65535, NULL, "with host: the port (default 443)" },
	{ "servername", PARAM_STRING, false, LAB_TLS_NAME, 0, 253, NULL,
	  "the name sent as SNI and checked against the certificate's names" },
	{ "ca_file", PARAM_STRING, false, NULL, 0, 4000, NULL,
	  "PEM file of trusted CAs (default: the lab CA, STATE/lab/tls/ca.crt)" },
	{ "expect", PARAM_ENUM, false, "ok", 0, 0, expects,
	  "ok: the certificate verifies (and has min_days left); fail: it does not" },
	{ "error", PARAM_STRING, false, NULL, 0, 200, NULL,
	  "with expect fail: the verify error contains this, e.g. \"certificate has expired\"" },
	{ "min_days", PARAM_INT, false, NULL, 0, 3650, NULL,
	  "with expect ok: met only with at least this many days before notAfter" },
	{ "max_days", PARAM_INT, false, NULL, 0, 3650, NULL,
	  "with expect ok: met only with at most this many days left (the expiry alert firing)" },
	{ "alert_days", PARAM_INT, false, "14", 0, 3650, NULL,
	  "the observation raises an ALERT when fewer days than this are left" },
	{ "timeout_ms", PARAM_INT, false, "3000", 100, 60000, NULL,
	  "give the connection and handshake up after this long" },
	{ NULL },
};

static int tls_cert_validate(const struct params *p, char *msg, size_t size)
{
	bool svc = params_isset(p, "service"), host = params_isset(p, "host");
	bool fail = !strcmp(params_str(p, "expect", "ok"), "fail");

	if (svc == host) {
		snprintf(msg, size,
			 svc ? "service and host exclude each other: give one" :
			       "give service, or host and port");
		return -1;
	}
	if (svc && params_isset(p, "port")) {
		snprintf(msg, size, "port goes with host; a service's port is known");
		return -1;
	}
	if (params_isset(p, "error") && !fail) {
		snprintf(msg, size, "error goes with expect: fail");
		return -1;
	}
	if (fail && (params_isset(p, "min_days") || params_isset(p, "max_days"))) {
		snprintf(msg, size, "min_days and max_days go with expect: ok");
		return -1;
	}
	if (params_isset(p, "min_days") && params_isset(p, "max_days") &&
	    params_int(p, "min_days", 0) > params_int(p, "max_days", 0)) {
		snprintf(msg, size, "min_days is above max_days: never met");
		return -1;
	}
	return 0;
}

static int tls_cert_supported(const struct params *p, char *why, size_t size)
{
	return 0;
}

/* A TCP connection to host:port, made within deadline. -1 with err. */
static int connect_until(const char *host, int port, double deadline, struct cl_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char service[16];
	int fd = -1, rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc)
		return cl_error_set(err, CL_EXIT_USAGE, "unable to resolve '%s': %s", host,
				    gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create a socket");
		goto out;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "connect to %s:%d", host, port);
		goto fail;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int left = (int)((deadline - mono_now()) * 1000), soerr = 0;
		socklen_t len = sizeof(soerr);

		if (left <= 0 || poll(&p, 1, left) == 0) {
			cl_error_errno(err, CL_EXIT_USAGE, ETIMEDOUT, "connect to %s:%d", host,
				       port);
			goto fail;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			cl_error_errno(err, CL_EXIT_USAGE, soerr, "connect to %s:%d", host, port);
			goto fail;
		}
		break;
	}
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	freeaddrinfo(res);
	return fd;
}

static void day_text(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

static int tls_cert_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *svc = params_str(ctx->params, "service", NULL);
	const char *sni = params_str(ctx->params, "servername", LAB_TLS_NAME);
	const char *ca = params_str(ctx->params, "ca_file", NULL);
	const char *want_err = params_str(ctx->params, "error", NULL);
	bool expect_ok = !strcmp(params_str(ctx->params, "expect", "ok"), "ok");
	long min_days = (long)params_int(ctx->params, "min_days", -100000);
	long max_days = (long)params_int(ctx->params, "max_days", 100000);
	long alert = (long)params_int(ctx->params, "alert_days", 14);
	double deadline = mono_now() + params_int(ctx->params, "timeout_ms", 3000) / 1000.0;
	char host[256], ca_buf[700], na[40], nb[40];
	struct x509_peer peer;
	struct cl_error e;
	SSL *ssl;
	long left;
	int port, fd;

	if (svc) {
		if (!ctx->env || !ctx->env->service_addr) {
			cl_error_set(err, CL_EXIT_USAGE,
				     "tls-cert: service '%s' can only be looked up during a drill",
				     svc);
			return CHECK_ERROR;
		}
		if (ctx->env->service_addr(ctx->env->opaque, svc, host, sizeof(host), &port)) {
			snprintf(obs, size, "the %s service is not running", svc);
			return CHECK_NOT_MET;
		}
	} else {
		snprintf(host, sizeof(host), "%s", params_str(ctx->params, "host", ""));
		port = (int)params_int(ctx->params, "port", 443);
	}
	if (!ca) {
		char state[512];

		if (state_dir(state, sizeof(state), false, err)) {
			cl_error_prefix(err, "tls-cert");
			return CHECK_ERROR;
		}
		snprintf(ca_buf, sizeof(ca_buf), "%s/" LAB_TLS_DIR "/" LAB_TLS_CA_CERT, state);
		ca = ca_buf;
	}
	if (access(ca, R_OK)) {
		cl_error_errno(err, CL_EXIT_USAGE, errno,
			       "tls-cert: unable to read the CA file '%s'", ca);
		return CHECK_ERROR;
	}
	cl_error_clear(&e);
	fd = connect_until(host, port, deadline, &e);
	if (fd < 0) {
		snprintf(obs, size, "no TLS: %s", e.msg);
		return CHECK_NOT_MET;
	}
	ssl = x509_tls_client(fd, sni, ca, deadline, &peer, &e);
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	if (!ssl) {
		snprintf(obs, size, "%s:%d: %s", host, port, e.msg);
		return CHECK_NOT_MET;
	}
	if (!peer.have_leaf) {
		snprintf(obs, size, "%s:%d sent no certificate", host, port);
		return CHECK_NOT_MET;
	}
	day_text(peer.leaf.not_after, na, sizeof(na));
	day_text(peer.leaf.not_before, nb, sizeof(nb));
	left = x509_days_left(&peer.leaf, time(NULL));
	if (peer.verify_code != 0) {
		/* The error first, as curl and openssl print it. */
		snprintf(obs, size, "%s: %s, issuer %s, SAN %s, valid %s .. %s", peer.verify_error,
			 peer.leaf.subject, peer.leaf.issuer,
			 peer.leaf.sans[0] ? peer.leaf.sans : "none", nb, na);
		if (expect_ok)
			return CHECK_NOT_MET;
		return !want_err || strcasestr(peer.verify_error, want_err) ? CHECK_MET :
									      CHECK_NOT_MET;
	}
	if (left < alert)
		snprintf(obs, size,
			 "ALERT: %s expires in %ld day%s (< %ld), notAfter %s, issuer %s", sni,
			 left, left == 1 ? "" : "s", alert, na, peer.leaf.issuer);
	else
		snprintf(obs, size, "ok: %s, %ld days left (notAfter %s), chain %s, %s",
			 peer.leaf.subject, left, na, peer.chain, peer.protocol);
	return expect_ok && left >= min_days && left <= max_days ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier tls_cert_verifier = {
	.name = "tls-cert",
	.summary = "a TLS handshake: the certificate verifies against a CA, carries the name, "
		   "and has N days left",
	.params = tls_cert_params,
	.supported = tls_cert_supported,
	.validate = tls_cert_validate,
	.check = tls_cert_check,
};
