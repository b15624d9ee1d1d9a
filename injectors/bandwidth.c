/* bandwidth: squeeze the lab link to a slow one with a tbf (token bucket
 * filter) root qdisc, through rtnetlink (libnl-route; no `tc` binary).
 *
 * tbf is in every kernel that has qdiscs at all, so this is the network
 * fault that works where netem is absent. Traffic above `rate` queues (up to
 * `limit` bytes, or what waits at most `latency_ms`) and is then dropped;
 * `burst` bytes may pass at line rate after a quiet spell.
 *
 * Where it acts, the reserved handle c1ab:, the refusal to replace a root
 * qdisc that is not the default one and the undo data are netem's (see
 * injectors/netem.c and sys/netlink.h); kind "tbf". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "lab/network.h"
#include "lab/qdisc_step.h"
#include "sys/features.h"
#include "sys/netlink.h"

/* Without limit or latency_ms: what tc's examples use. */
#define TBF_DEFAULT_LATENCY_MS 400
/* Without burst: 10 ms worth of rate, and at least a few full packets. */
#define TBF_AUTO_BURST_S 0.01
#define TBF_AUTO_BURST_PACKETS 3
#define ETH_HEADER 14

static const struct param_spec bandwidth_params[] = {
	{ "rate", PARAM_STRING, true, NULL, 1, 32, NULL,
	  "the link's new speed, tc notation: 1mbit, 512kbit, 2mbps (bytes)" },
	{ "burst", PARAM_STRING, false, NULL, 0, 32, NULL,
	  "bucket size, tc notation (32kb, 64kbit); at least one full packet; "
	  "default 10 ms of rate, at least 3 packets" },
	{ "latency_ms", PARAM_NUMBER, false, NULL, 1, 60000, NULL,
	  "longest a packet may wait in the queue, milliseconds (default 400; or give limit)" },
	{ "limit", PARAM_STRING, false, NULL, 0, 32, NULL,
	  "bytes that may queue, tc notation (64kb); instead of latency_ms" },
	QDISC_STEP_PARAMS("slows"),
	{ NULL },
};

static int bandwidth_validate(const struct params *p, char *msg, size_t size)
{
	const char *rate = params_str(p, "rate", ""), *burst = params_str(p, "burst", NULL);
	const char *limit = params_str(p, "limit", NULL);
	uint64_t bps;
	uint32_t bytes;

	if (tc_rate_parse(rate, &bps) || bps >= (1ULL << 31)) {
		snprintf(msg, size,
			 "rate must be a rate in tc notation below 17gbit, like 1mbit, "
			 "512kbit or 2mbps; got '%s'",
			 rate);
		return -1;
	}
	if (burst && (tc_size_parse(burst, &bytes) || !bytes || bytes >= (1U << 31))) {
		snprintf(msg, size,
			 "burst must be a size in tc notation, like 32kb or 64kbit; "
			 "got '%s'",
			 burst);
		return -1;
	}
	if (limit && (tc_size_parse(limit, &bytes) || !bytes)) {
		snprintf(msg, size, "limit must be a size in tc notation, like 64kb; got '%s'",
			 limit);
		return -1;
	}
	if (limit && params_isset(p, "latency_ms")) {
		snprintf(msg, size, "limit and latency_ms exclude each other: give one");
		return -1;
	}
	return qdisc_step_validate(p, msg, size);
}

static int bandwidth_supported(const struct params *p, char *why, size_t size)
{
	struct feature f;

	if (qdisc_step_supported(p, why, size))
		return -1;
	/* A loadable sch_tbf is fine: the kernel loads it on first use. */
	if (feature_probe_tbf(NULL, &f) == FEATURE_MISSING)
		return feature_explain(&f, why, size);
	return 0;
}

/* The tbf options for t (whose MTU sizes the default burst). */
static int bandwidth_opts(const struct params *p, const struct qdisc_target *t, struct tbf_opts *o,
			  struct cl_error *err)
{
	const char *burst = params_str(p, "burst", NULL), *limit = params_str(p, "limit", NULL);
	const uint32_t packet = (t->mtu ? t->mtu : 1500) + ETH_HEADER;
	char name[96];

	memset(o, 0, sizeof(*o));
	if (tc_rate_parse(params_str(p, "rate", ""), &o->rate))
		return cl_error_set(err, CL_EXIT_USAGE, "bandwidth: rate is not a rate");
	if (burst) {
		if (tc_size_parse(burst, &o->burst))
			return cl_error_set(err, CL_EXIT_USAGE, "bandwidth: burst is not a size");
		/* A full packet larger than the bucket can never be sent. */
		if (o->burst < packet)
			return cl_error_set(
				err, CL_EXIT_USAGE,
				"bandwidth: burst %s (%u bytes) is below one full packet "
				"on %s (MTU %u + %d): every full-size packet would be "
				"dropped; give at least %u",
				burst, o->burst, qdisc_target_name(t, name, sizeof(name)), t->mtu,
				ETH_HEADER, packet);
	} else {
		double b = ceil((double)o->rate * TBF_AUTO_BURST_S);

		o->burst = b < TBF_AUTO_BURST_PACKETS * packet ?
				   TBF_AUTO_BURST_PACKETS * packet :
				   (b > 1e9 ? 1000000000U : (uint32_t)b);
	}
	if (limit) {
		if (tc_size_parse(limit, &o->limit))
			return cl_error_set(err, CL_EXIT_USAGE, "bandwidth: limit is not a size");
	} else {
		o->latency_us = (uint32_t)llround(
			params_number(p, "latency_ms", TBF_DEFAULT_LATENCY_MS) * 1000);
	}
	return 0;
}

static int bandwidth_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	struct lab_net_info lab;
	struct qdisc_target t;
	struct qdisc_where w;
	struct tbf_opts o;
	struct nlconn *c = NULL;
	int rc = -1;

	if (qdisc_step_where(ctx->params, "bandwidth", &lab, &w, err))
		return -1;
	if (qdisc_target_open(&w, &t, &c, err) || bandwidth_opts(ctx->params, &t, &o, err) ||
	    qdisc_claim_root(c, &t, "tbf", err)) {
		if (err && strncmp(err->msg, "bandwidth", 9))
			cl_error_prefix(err, "bandwidth");
		goto out;
	}
	/* What revert needs reaches the journal before the qdisc exists. */
	if (qdisc_undo_set(ctx->undo, &t, "tbf", err) || inject_ctx_save(ctx, err))
		goto out;
	if (qdisc_tbf_add(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, &o, err)) {
		cl_error_prefix(err, "bandwidth");
		goto out;
	}
	rc = 0;
out:
	nlconn_close(c);
	return rc;
}

static int bandwidth_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	if (qdisc_undo_revert(ctx->undo, ctx->report, sizeof(ctx->report), err)) {
		cl_error_prefix(err, "bandwidth");
		return -1;
	}
	return 0;
}

const struct injector bandwidth_injector = {
	.name = "bandwidth",
	.summary = "slow the lab link down to a rate with a token bucket (tc tbf)",
	.params = bandwidth_params,
	.supported = bandwidth_supported,
	.validate = bandwidth_validate,
	.apply = bandwidth_apply,
	.revert = bandwidth_revert,
};
