/* http: status and latency of HTTP GETs to a URL or a lab service.
 *
 * Each check makes `count` requests one after another (HTTP/1.1, one request
 * per connection) and times their phases the way `curl -w` does:
 *
 *   dns         name lookup                      time_namelookup
 *   connect     TCP handshake                    time_connect - time_namelookup
 *   tls         TLS handshake (https)            time_appconnect - time_connect
 *   first_byte  request sent -> first byte back  time_starttransfer - time_pretransfer
 *   total       everything, body included        time_total
 *
 * A request succeeds when a whole response arrives with the expected status
 * (and body_contains, if given). Percentiles are over the responses that
 * arrived, whatever their status; a request that timed out counts in `total`
 * as slower than any limit (shown as ">timeout_ms"). A check takes at most
 * count x timeout_ms.
 *
 * Conditions, all of which must hold: max_p95_ms / min_p95_ms on the chosen
 * phase's 95th percentile, min_success_percent / max_success_percent. When
 * status or body_contains is given, or no other condition is, every request
 * must succeed unless a success percentage says otherwise.
 *
 * https: the certificate is checked as curl checks it without -k (the
 * system's store and the lab CA, and the name asked for), unless verify is
 * false; a request that fails the check fails, with the reason. A lab
 * service is reached as scheme://NAME:PORT/path while connecting to its
 * address, the way `curl --resolve NAME:PORT:ADDRESS` does: NAME is the SNI,
 * the name the certificate must carry and the Host header. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "sys/probe.h"

static const char *const http_schemes[] = { "http", "https", NULL };

static const char *const http_phases[] = { "total", "first_byte", "connect", "dns", "tls", NULL };

enum phase { PH_TOTAL, PH_FIRST_BYTE, PH_CONNECT, PH_DNS, PH_TLS, PH_COUNT };

static const struct param_spec http_params[] = {
	{ "url", PARAM_STRING, false, NULL, 0, 2000, NULL,
	  "http:// or https:// URL to GET (give url, or service with path)" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a lab service of this scenario: GET http://ITS-ADDRESS:PORT/path" },
	{ "path", PARAM_STRING, false, NULL, 0, 1000, NULL,
	  "with service: the path and query to GET (default /)" },
	{ "scheme", PARAM_ENUM, false, "http", 0, 0, http_schemes,
	  "with service: http, or https (the tls lab service)" },
	{ "name", PARAM_STRING, false, NULL, 1, 253, NULL,
	  "with service: the host name to reach it as (TLS SNI, certificate name, Host header), "
	  "connecting to its address like curl --resolve" },
	{ "verify", PARAM_BOOL, false, "true", 0, 0, NULL,
	  "https: check the certificate (system store and lab CA) and its name, as curl does "
	  "without -k" },
	{ "count", PARAM_INT, false, "5", 1, 50, NULL, "requests per check" },
	{ "timeout_ms", PARAM_INT, false, "5000", 50, 60000, NULL,
	  "give one request up after this long (it counts in total as slower than any limit)" },
	{ "status", PARAM_INT, false, "200", 100, 599, NULL,
	  "the status a successful request returns" },
	{ "body_contains", PARAM_STRING, false, NULL, 0, 200, NULL,
	  "a successful response's body contains this text (within its first 511 bytes)" },
	{ "phase", PARAM_ENUM, false, "total", 0, 0, http_phases,
	  "the phase max_p95_ms and min_p95_ms apply to" },
	{ "max_p95_ms", PARAM_NUMBER, false, NULL, 0, 600000, NULL,
	  "met when the phase's 95th percentile is at most this" },
	{ "min_p95_ms", PARAM_NUMBER, false, NULL, 0, 600000, NULL,
	  "met when the phase's 95th percentile is at least this (a slow-path symptom)" },
	{ "min_success_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at least this share of the requests succeed" },
	{ "max_success_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at most this share succeed (0: the service does not answer as it should)" },
	{ NULL },
};

#define MAX_COUNT 50
#define MAX_STATUSES 4
/* Above this body size the observation gives the download rate. */
#define SHOW_RATE_BYTES 16384

static int http_validate(const struct params *p, char *msg, size_t size)
{
	bool url = params_isset(p, "url"), svc = params_isset(p, "service");
	struct probe_url u;
	struct cl_error e;

	if (url == svc) {
		snprintf(msg, size,
			 url ? "url and service exclude each other: give one" :
			       "give url, or service (with path)");
		return -1;
	}
	if (url && params_isset(p, "path")) {
		snprintf(msg, size, "path goes with service; put it in the url");
		return -1;
	}
	if (url && (params_get(p, "scheme")->given || params_isset(p, "name"))) {
		snprintf(msg, size, "%s goes with service; put it in the url",
			 params_get(p, "scheme")->given ? "scheme" : "name");
		return -1;
	}
	if (params_isset(p, "name")) {
		const char *n = params_str(p, "name", "");

		for (const char *c = n; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.') {
				snprintf(
					msg, size,
					"name '%s' is not a host name (letters, digits, '-' and '.')",
					n);
				return -1;
			}
	}
	if (url && probe_url_parse(params_str(p, "url", ""), &u, &e)) {
		snprintf(msg, size, "%s", e.msg);
		return -1;
	}
	if (params_isset(p, "path") && params_str(p, "path", "/")[0] != '/') {
		snprintf(msg, size, "path must start with '/'");
		return -1;
	}
	if (params_isset(p, "min_success_percent") && params_isset(p, "max_success_percent") &&
	    params_number(p, "min_success_percent", 0) >
		    params_number(p, "max_success_percent", 100)) {
		snprintf(msg, size, "min_success_percent is above max_success_percent: never met");
		return -1;
	}
	if (params_isset(p, "min_p95_ms") && params_isset(p, "max_p95_ms") &&
	    params_number(p, "min_p95_ms", 0) > params_number(p, "max_p95_ms", 0)) {
		snprintf(msg, size, "min_p95_ms is above max_p95_ms: never met");
		return -1;
	}
	return 0;
}

static int http_supported(const struct params *p, char *why, size_t size)
{
	struct probe_url u;
	struct cl_error e;

	bool https = p && (params_isset(p, "url") ?
				   !probe_url_parse(params_str(p, "url", ""), &u, &e) && u.tls :
				   !strcmp(params_str(p, "scheme", "http"), "https"));

	if (https && !probe_tls_available()) {
		snprintf(
			why, size,
			"https:// needs a TLS client in the http probe, and this build has none yet");
		return -1;
	}
	return 0;
}

/* The URL to GET: 0, 1 when the service is not running (obs says so), -1 with
 * err. A service reached by name gets its address in connect (else ""). */
static int target(struct check_ctx *ctx, struct probe_url *u, char *connect, size_t csize,
		  char *obs, size_t size, struct cl_error *err)
{
	const char *svc = params_str(ctx->params, "service", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *scheme = params_str(ctx->params, "scheme", "http");
	char host[256], url[1400];
	int port;

	connect[0] = '\0';
	if (!svc)
		return probe_url_parse(params_str(ctx->params, "url", ""), u, err);
	if (!ctx->env || !ctx->env->service_addr)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "service '%s' can only be looked up during a drill", svc);
	if (ctx->env->service_addr(ctx->env->opaque, svc, host, sizeof(host), &port)) {
		snprintf(obs, size, "%s is not running", svc);
		return 1;
	}
	if (name) {
		snprintf(connect, csize, "%s", host);
		snprintf(url, sizeof(url), "%s://%s:%d%s", scheme, name, port,
			 params_str(ctx->params, "path", "/"));
	} else {
		snprintf(url, sizeof(url), strchr(host, ':') ? "%s://[%s]:%d%s" : "%s://%s:%d%s",
			 scheme, host, port, params_str(ctx->params, "path", "/"));
	}
	return probe_url_parse(url, u, err);
}

struct tally {
	int code[MAX_STATUSES];
	int n[MAX_STATUSES];
	int other;
};

static void tally_add(struct tally *t, int code)
{
	for (int i = 0; i < MAX_STATUSES; i++) {
		if (t->n[i] && t->code[i] == code) {
			t->n[i]++;
			return;
		}
		if (!t->n[i]) {
			t->code[i] = code;
			t->n[i] = 1;
			return;
		}
	}
	t->other++;
}

static size_t obs_add(char *obs, size_t size, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Append to the observation; returns the new length (at most size). */
static size_t obs_add(char *obs, size_t size, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= size)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(obs + len, size - len, fmt, ap);
	va_end(ap);
	return n < 0 ? len : len + (size_t)n > size ? size : len + (size_t)n;
}

static int http_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const struct params *p = ctx->params;
	int count = (int)params_int(p, "count", 5);
	int want = (int)params_int(p, "status", 200);
	const char *needle = params_str(p, "body_contains", NULL);
	int ph = 0;
	struct probe_http_opts opts = { .timeout_ms = (int)params_int(p, "timeout_ms", 5000),
					.tls_verify = params_bool(p, "verify", true) };
	char connect[256];
	double v[PH_COUNT][MAX_COUNT];
	size_t nv[PH_COUNT] = { 0 }, len = 0;
	struct probe_stats st[PH_COUNT];
	struct tally tally = { 0 };
	struct probe_url u;
	char why[200] = "", a[32];
	long long bytes = 0;
	double secs = 0, success;
	int ok = 0, r;
	bool met = true, latency_cond, tls = false;

	for (const char *const *c = http_phases; *c; c++, ph++)
		if (!strcmp(*c, params_str(p, "phase", "total")))
			break;
	r = target(ctx, &u, connect, sizeof(connect), obs, size, err);
	if (r < 0) {
		cl_error_prefix(err, "http");
		return CHECK_ERROR;
	}
	if (r > 0)
		return CHECK_NOT_MET;
	tls = u.tls;
	if (connect[0])
		opts.connect_host = connect;
	for (int i = 0; i < count; i++) {
		struct probe_http_result res;
		struct cl_error e;

		cl_error_clear(&e);
		if (probe_http_get(&u, &opts, &res, &e)) {
			if (e.errnum == EPROTONOSUPPORT) {
				*err = e;
				cl_error_prefix(err, "http");
				return CHECK_ERROR;
			}
			if (e.errnum == ETIMEDOUT)
				v[PH_TOTAL][nv[PH_TOTAL]++] = INFINITY;
			if (!why[0]) {
				snprintf(why, sizeof(why), "%s", e.msg);
				/* "Connection refused" -> "connection refused"; "TLS ..." stays. */
				if (!isupper((unsigned char)why[1]))
					why[0] = (char)tolower((unsigned char)why[0]);
			}
			continue;
		}
		tally_add(&tally, res.status);
		v[PH_TOTAL][nv[PH_TOTAL]++] = res.total;
		v[PH_DNS][nv[PH_DNS]++] = res.namelookup;
		v[PH_CONNECT][nv[PH_CONNECT]++] = res.connect - res.namelookup;
		v[PH_TLS][nv[PH_TLS]++] = res.appconnect ? res.appconnect - res.connect : 0;
		v[PH_FIRST_BYTE][nv[PH_FIRST_BYTE]++] = res.starttransfer - res.pretransfer;
		bytes += res.size_download;
		secs += res.total;
		if (res.status == want && (!needle || strstr(res.body, needle)))
			ok++;
	}
	for (int i = 0; i < PH_COUNT; i++)
		probe_stats_compute(v[i], nv[i], &st[i]);
	success = 100.0 * ok / count;

	latency_cond = params_isset(p, "max_p95_ms") || params_isset(p, "min_p95_ms");
	if (params_isset(p, "max_p95_ms"))
		met = met && nv[ph] && st[ph].p95 * 1000 <= params_number(p, "max_p95_ms", 0);
	if (params_isset(p, "min_p95_ms"))
		met = met && nv[ph] && st[ph].p95 * 1000 >= params_number(p, "min_p95_ms", 0);
	if (params_isset(p, "min_success_percent") || params_isset(p, "max_success_percent")) {
		if (params_isset(p, "min_success_percent"))
			met = met && success >= params_number(p, "min_success_percent", 0);
		if (params_isset(p, "max_success_percent"))
			met = met && success <= params_number(p, "max_success_percent", 100);
	} else if (!latency_cond || params_get(p, "status")->given || needle) {
		met = met && ok == count;
	}

	/* "200 in p95 12 ms (connect 1 ms, first byte 11 ms), 5/5 ok" */
	for (int i = 0; i < MAX_STATUSES && tally.n[i]; i++) {
		len = obs_add(obs, size, len, "%s%d", i ? ", " : "", tally.code[i]);
		if (tally.n[i] != count)
			len = obs_add(obs, size, len, " x%d", tally.n[i]);
	}
	if (tally.other)
		len = obs_add(obs, size, len, ", ...");
	if (nv[PH_TOTAL] && isinf(st[PH_TOTAL].p95))
		len = obs_add(obs, size, len, "%sp95 >%d ms", len ? " in " : "", opts.timeout_ms);
	else if (nv[PH_TOTAL])
		len = obs_add(obs, size, len, "%sp95 %s", len ? " in " : "",
			      probe_format_ms(st[PH_TOTAL].p95, a, sizeof(a)));
	if (nv[PH_CONNECT]) {
		bool dns = st[PH_DNS].p95 >= 0.0005;

		len = obs_add(obs, size, len, " (");
		if (dns)
			len = obs_add(obs, size, len, "dns %s, ",
				      probe_format_ms(st[PH_DNS].p95, a, sizeof(a)));
		len = obs_add(obs, size, len, "connect %s",
			      probe_format_ms(st[PH_CONNECT].p95, a, sizeof(a)));
		if (tls)
			len = obs_add(obs, size, len, ", tls %s",
				      probe_format_ms(st[PH_TLS].p95, a, sizeof(a)));
		len = obs_add(obs, size, len, ", first byte %s)",
			      probe_format_ms(st[PH_FIRST_BYTE].p95, a, sizeof(a)));
	}
	len = obs_add(obs, size, len, "%s%d/%d ok", len ? ", " : "", ok, count);
	if (ok < count && nv[PH_CONNECT])
		len = obs_add(obs, size, len, " (want %d%s%s%s)", want,
			      needle ? ", body with '" : "", needle ? needle : "",
			      needle ? "'" : "");
	if (nv[PH_CONNECT] && bytes / (long long)nv[PH_CONNECT] >= SHOW_RATE_BYTES && secs > 0) {
		double kbit = (double)bytes * 8 / secs / 1000;

		len = obs_add(obs, size, len, ", %lld KiB at ",
			      bytes / (long long)nv[PH_CONNECT] / 1024);
		if (kbit < 1000)
			len = obs_add(obs, size, len, "%.0f kbit/s", kbit);
		else if (kbit < 1e6)
			len = obs_add(obs, size, len, "%.1f Mbit/s", kbit / 1e3);
		else
			len = obs_add(obs, size, len, "%.1f Gbit/s", kbit / 1e6);
	}
	if (why[0])
		obs_add(obs, size, len, ", %s", why);
	return met ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier http_verifier = {
	.name = "http",
	.summary =
		"HTTP status and latency percentiles per phase (dns, connect, tls, first byte), like curl -w",
	.params = http_params,
	.supported = http_supported,
	.validate = http_validate,
	.check = http_check,
};
