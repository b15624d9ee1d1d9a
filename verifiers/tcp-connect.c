/* tcp-connect: connect latency and success rate to host:port or a lab service.
 *
 * Each check makes `count` TCP connects one after another (each closed at
 * once) and times the handshake, as curl's time_connect or `nc -z` would. The
 * percentiles are over the connects that completed and those that timed out
 * (a timeout is the slowest kind of answer: slower than any limit, shown as
 * ">timeout_ms"); refused or unreachable attempts only count against the
 * success rate. A check takes at most count x timeout_ms.
 *
 * Conditions, all of which must hold: max_p95_ms / min_p95_ms on the 95th
 * percentile, min_success_percent / max_success_percent on the share that
 * connected. With no condition at all, every connect must succeed. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "sys/probe.h"

static const struct param_spec tcp_connect_params[] = {
	{ "host", PARAM_STRING, false, NULL, 0, 255, NULL,
	  "address or name to connect to, with port (give host and port, or service)" },
	{ "port", PARAM_INT, false, NULL, 1, 65535, NULL,
	  "TCP port; with service, overrides the port the service was started on" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a lab service of this scenario: its address and port (inside the lab network when it runs there)" },
	{ "count", PARAM_INT, false, "10", 1, 100, NULL, "connects per check" },
	{ "timeout_ms", PARAM_INT, false, "2000", 10, 30000, NULL,
	  "give one connect up after this long (it counts as slower than any limit)" },
	{ "max_p95_ms", PARAM_NUMBER, false, NULL, 0, 600000, NULL,
	  "met when the 95th percentile connect time is at most this" },
	{ "min_p95_ms", PARAM_NUMBER, false, NULL, 0, 600000, NULL,
	  "met when the 95th percentile connect time is at least this (a slow-path symptom)" },
	{ "min_success_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at least this share of the connects succeed" },
	{ "max_success_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at most this share succeed (0: the port refuses or drops every connect)" },
	{ NULL },
};

#define MAX_COUNT 100

static int tcp_connect_validate(const struct params *p, char *msg, size_t size)
{
	bool host = params_isset(p, "host"), svc = params_isset(p, "service");

	if (host == svc) {
		snprintf(msg, size,
			 host ? "host and service exclude each other: give one" :
				"give host (with port) or service");
		return -1;
	}
	if (host && !params_isset(p, "port")) {
		snprintf(msg, size, "host needs a port");
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

static int tcp_connect_supported(const struct params *p, char *why, size_t size)
{
	return 0;
}

/* A sample for the observation: "213 ms", or ">2000 ms" for a timeout. */
static void ms_or_timeout(double secs, int timeout_ms, char *buf, size_t size)
{
	if (isinf(secs))
		snprintf(buf, size, ">%d ms", timeout_ms);
	else
		probe_format_ms(secs, buf, size);
}

/* Where to connect: 0 with host and port; 1 when the service is not running
 * (obs says so); -1 with err. */
static int target(struct check_ctx *ctx, char *host, size_t hsize, int *port, char *obs,
		  size_t osize, struct cl_error *err)
{
	const char *svc = params_str(ctx->params, "service", NULL);

	if (!svc) {
		snprintf(host, hsize, "%s", params_str(ctx->params, "host", ""));
		*port = (int)params_int(ctx->params, "port", 0);
		return 0;
	}
	if (!ctx->env || !ctx->env->service_addr)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "service '%s' can only be looked up during a drill", svc);
	if (ctx->env->service_addr(ctx->env->opaque, svc, host, hsize, port)) {
		snprintf(obs, osize, "%s is not running", svc);
		return 1;
	}
	if (params_isset(ctx->params, "port"))
		*port = (int)params_int(ctx->params, "port", *port);
	return 0;
}

static int tcp_connect_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	int count = (int)params_int(ctx->params, "count", 10);
	int timeout_ms = (int)params_int(ctx->params, "timeout_ms", 2000);
	const struct params *p = ctx->params;
	double samples[MAX_COUNT];
	char host[256], where[300], p95[32], p50[32], why[160] = "";
	struct probe_stats st;
	struct probe_addr a;
	int port, ok = 0, timeouts = 0, r;
	size_t n = 0, len;
	bool met = true, latency_cond;
	double success;

	r = target(ctx, host, sizeof(host), &port, obs, size, err);
	if (r < 0) {
		cl_error_prefix(err, "tcp-connect");
		return CHECK_ERROR;
	}
	if (r > 0)
		return CHECK_NOT_MET;
	if (probe_resolve(host, port, &a, NULL, err)) {
		cl_error_prefix(err, "tcp-connect");
		return CHECK_ERROR;
	}
	probe_addr_format(&a, where, sizeof(where));
	for (int i = 0; i < count; i++) {
		struct cl_error e;
		double secs;

		cl_error_clear(&e);
		if (!probe_tcp_connect(&a, timeout_ms, &secs, &e)) {
			ok++;
			samples[n++] = secs;
		} else if (e.errnum == ETIMEDOUT) {
			timeouts++;
			samples[n++] = INFINITY;
		} else if (!why[0]) {
			snprintf(why, sizeof(why), "%s", e.errnum ? strerror(e.errnum) : e.msg);
			/* "Connection refused" -> "connection refused"; "TLS ..." stays. */
			if (!isupper((unsigned char)why[1]))
				why[0] = (char)tolower((unsigned char)why[0]);
		}
	}
	probe_stats_compute(samples, n, &st);
	success = 100.0 * ok / count;

	latency_cond = params_isset(p, "max_p95_ms") || params_isset(p, "min_p95_ms");
	if (params_isset(p, "max_p95_ms"))
		met = met && n && st.p95 * 1000 <= params_number(p, "max_p95_ms", 0);
	if (params_isset(p, "min_p95_ms"))
		met = met && n && st.p95 * 1000 >= params_number(p, "min_p95_ms", 0);
	if (params_isset(p, "min_success_percent"))
		met = met && success >= params_number(p, "min_success_percent", 0);
	if (params_isset(p, "max_success_percent"))
		met = met && success <= params_number(p, "max_success_percent", 100);
	if (!latency_cond && !params_isset(p, "min_success_percent") &&
	    !params_isset(p, "max_success_percent"))
		met = ok == count;

	if (n) {
		ms_or_timeout(st.p95, timeout_ms, p95, sizeof(p95));
		ms_or_timeout(st.p50, timeout_ms, p50, sizeof(p50));
		len = (size_t)snprintf(obs, size, "%s: p95 %s (p50 %s), %d/%d ok", where, p95, p50,
				       ok, count);
	} else {
		len = (size_t)snprintf(obs, size, "%s: 0/%d ok", where, count);
	}
	if (timeouts && len < size)
		len += (size_t)snprintf(obs + len, size - len, ", %d timed out", timeouts);
	if (why[0] && len < size)
		snprintf(obs + len, size - len, ", %s", why);
	return met ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier tcp_connect_verifier = {
	.name = "tcp-connect",
	.summary = "TCP connect latency percentiles and success rate to host:port or a lab service",
	.params = tcp_connect_params,
	.supported = tcp_connect_supported,
	.validate = tcp_connect_validate,
	.check = tcp_connect_check,
};
