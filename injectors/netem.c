/* netem: delay, lose, duplicate, corrupt, reorder or rate-limit packets on
 * the lab link with a netem root qdisc, through rtnetlink (libnl-route; no
 * `tc` binary).
 *
 * By default it acts on the lab veth's host end (clab-NAME, where `tc qdisc
 * show` on the host sees it) or, with end: lab, on the lab end inside the
 * lab namespace. Any other interface needs `interface` (and `netns`), and a
 * host interface also allow_host_interface: true.
 *
 * The qdisc carries chaoslab's reserved handle c1ab:. apply() refuses to
 * replace a root qdisc that is not the interface's default one; revert
 * deletes the root qdisc only while it carries that handle and kind netem.
 *
 * The queue limit is sized to the delay unless given, so the queue does not
 * drop packets by itself: limit = max(1000, pps × (delay + jitter) × 1.5),
 * where pps is the rate in minimum-size (64-byte) packets when `rate` is set,
 * else NETEM_ASSUMED_PPS.
 *
 * Undo data: {"netns", "interface", "handle", "kind"} (see sys/netlink.h),
 * journaled before the qdisc is added, and "limit", the queue limit used. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "lab/network.h"
#include "lab/qdisc_step.h"
#include "sys/features.h"
#include "sys/netlink.h"

/* Packets per second assumed when no rate bounds the link: about 1.2 Gbit/s
 * of full-size packets, far more than a drill sends. */
#define NETEM_ASSUMED_PPS 100000.0
#define NETEM_MIN_PACKET 64.0
#define NETEM_LIMIT_MIN 1000
#define NETEM_LIMIT_MAX 4000000
#define MODPROBE_TIMEOUT_MS 5000

static const char *const netem_dists[] = { "uniform", "normal", "pareto", "paretonormal", NULL };

static const struct param_spec netem_params[] = {
	{ "delay_ms", PARAM_NUMBER, false, "0", 0, 60000, NULL,
	  "delay added to every packet leaving the interface, milliseconds" },
	{ "jitter_ms", PARAM_NUMBER, false, "0", 0, 60000, NULL,
	  "random variation around delay_ms, milliseconds (needs delay_ms)" },
	{ "delay_correlation", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "how much each delay depends on the previous one, percent (needs jitter_ms)" },
	{ "distribution", PARAM_ENUM, false, "uniform", 0, 0, netem_dists,
	  "shape of the jitter; all but uniform are tables iproute2 ships (needs jitter_ms)" },
	{ "loss_percent", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "packets dropped at random, percent" },
	{ "loss_correlation", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "how much each loss depends on the previous one, percent (bursts; needs loss_percent)" },
	{ "duplicate_percent", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "packets sent twice, percent" },
	{ "duplicate_correlation", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "correlation of duplication, percent (needs duplicate_percent)" },
	{ "corrupt_percent", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "packets with a flipped bit, percent" },
	{ "corrupt_correlation", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "correlation of corruption, percent (needs corrupt_percent)" },
	{ "reorder_percent", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "packets sent at once, ahead of the delayed others, percent (needs delay_ms)" },
	{ "reorder_correlation", PARAM_NUMBER, false, "0", 0, 100, NULL,
	  "correlation of reordering, percent (needs reorder_percent)" },
	{ "gap", PARAM_INT, false, "0", 0, 1000000, NULL,
	  "with reorder_percent: reorder only every gap-th packet (0 = any)" },
	{ "rate", PARAM_STRING, false, NULL, 0, 32, NULL,
	  "also limit the link to this rate, tc notation: 1mbit, 512kbit, 10mbps (bytes)" },
	{ "limit", PARAM_INT, false, "0", 0, NETEM_LIMIT_MAX, NULL,
	  "queue length in packets; 0 = sized to the delay so the queue drops nothing itself" },
	QDISC_STEP_PARAMS("delays"),
	{ NULL },
};

/* ---- parameters ------------------------------------------------------------------ */

static int netem_validate(const struct params *p, char *msg, size_t size)
{
	const double delay = params_number(p, "delay_ms", 0),
		     jitter = params_number(p, "jitter_ms", 0);
	const char *rate = params_str(p, "rate", NULL);
	static const char *const pairs[][2] = {
		{ "loss_correlation", "loss_percent" },
		{ "duplicate_correlation", "duplicate_percent" },
		{ "corrupt_correlation", "corrupt_percent" },
		{ "reorder_correlation", "reorder_percent" },
		{ "delay_correlation", "jitter_ms" },
	};
	uint64_t bps;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (params_number(p, pairs[i][0], 0) > 0 &&
		    !(params_number(p, pairs[i][1], 0) > 0)) {
			snprintf(msg, size, "%s needs %s", pairs[i][0], pairs[i][1]);
			return -1;
		}
	if (jitter > 0 && !(delay > 0)) {
		snprintf(msg, size, "jitter_ms needs delay_ms");
		return -1;
	}
	if (strcmp(params_str(p, "distribution", "uniform"), "uniform") && !(jitter > 0)) {
		snprintf(msg, size, "distribution %s needs jitter_ms",
			 params_str(p, "distribution", ""));
		return -1;
	}
	if (params_number(p, "reorder_percent", 0) > 0 && !(delay > 0)) {
		snprintf(msg, size,
			 "reorder_percent needs delay_ms (packets are reordered "
			 "by sending some without the delay)");
		return -1;
	}
	if (params_int(p, "gap", 0) > 0 && !(params_number(p, "reorder_percent", 0) > 0)) {
		snprintf(msg, size, "gap needs reorder_percent");
		return -1;
	}
	if (rate && (tc_rate_parse(rate, &bps) || bps >= (1ULL << 32))) {
		snprintf(msg, size,
			 "rate must be a rate in tc notation below 34gbit, like 1mbit, "
			 "512kbit or 10mbps; got '%s'",
			 rate);
		return -1;
	}
	if (!(delay > 0) && !(params_number(p, "loss_percent", 0) > 0) &&
	    !(params_number(p, "duplicate_percent", 0) > 0) &&
	    !(params_number(p, "corrupt_percent", 0) > 0) && !rate) {
		snprintf(msg, size,
			 "netem would change nothing: give delay_ms, loss_percent, "
			 "duplicate_percent, corrupt_percent or rate");
		return -1;
	}
	return qdisc_step_validate(p, msg, size);
}

/* The queue limit for o: see the comment at the top. */
static uint32_t netem_limit(const struct netem_opts *o)
{
	double pps = o->rate ? (double)o->rate / NETEM_MIN_PACKET : NETEM_ASSUMED_PPS;
	double need = ceil(pps * (double)(o->delay_us + o->jitter_us) / 1e6 * 1.5);

	if (need < NETEM_LIMIT_MIN)
		return NETEM_LIMIT_MIN;
	return need > NETEM_LIMIT_MAX ? NETEM_LIMIT_MAX : (uint32_t)need;
}

/* The netem options the parameters ask for. A distribution table is loaded
 * into *dist (the caller frees it). */
static int netem_opts_from(const struct params *p, struct netem_opts *o, int16_t **dist,
			   struct cl_error *err)
{
	const char *rate = params_str(p, "rate", NULL);
	const char *dname = params_str(p, "distribution", "uniform");

	memset(o, 0, sizeof(*o));
	*dist = NULL;
	o->delay_us = (uint64_t)llround(params_number(p, "delay_ms", 0) * 1000);
	o->jitter_us = (uint64_t)llround(params_number(p, "jitter_ms", 0) * 1000);
	o->delay_corr = params_number(p, "delay_correlation", 0);
	o->loss = params_number(p, "loss_percent", 0);
	o->loss_corr = params_number(p, "loss_correlation", 0);
	o->duplicate = params_number(p, "duplicate_percent", 0);
	o->duplicate_corr = params_number(p, "duplicate_correlation", 0);
	o->corrupt = params_number(p, "corrupt_percent", 0);
	o->corrupt_corr = params_number(p, "corrupt_correlation", 0);
	o->reorder = params_number(p, "reorder_percent", 0);
	o->reorder_corr = params_number(p, "reorder_correlation", 0);
	o->gap = (uint32_t)params_int(p, "gap", 0);
	if (rate && tc_rate_parse(rate, &o->rate))
		return cl_error_set(err, CL_EXIT_USAGE, "netem: rate '%s' is not a rate", rate);
	if (strcmp(dname, "uniform")) {
		if (netem_dist_load(dname, dist, &o->dist_len, NULL, 0, err)) {
			cl_error_prefix(err, "netem");
			return -1;
		}
		o->dist = *dist;
	}
	o->limit = (uint32_t)params_int(p, "limit", 0);
	if (!o->limit)
		o->limit = netem_limit(o);
	return 0;
}

/* ---- the kernel's netem ------------------------------------------------------------- */

/* Run `modprobe sch_netem`, output discarded, bounded in time. 0 when it
 * exited 0. */
static int modprobe_netem(void)
{
	char path[256];
	int status, fd;
	pid_t pid;
	struct timespec pause = { 0, 20000000L };

	if (feature_which("modprobe", path, sizeof(path)) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(path, "modprobe", "sch_netem", (char *)NULL);
		_exit(127);
	}
	for (int waited = 0; waited < MODPROBE_TIMEOUT_MS; waited += 20) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		if (r < 0)
			return -1;
		nanosleep(&pause, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Why netem cannot run, remedy first (callers keep only a line): "kernel
 * R has no sch_netem (CONFIG_NET_SCH_NETEM is not set): boot a kernel built
 * with ..., then modprobe sch_netem". */
static void netem_explain(const struct kmod_info *k, bool tried_modprobe, char *why, size_t size)
{
	struct utsname u;
	const char *rel = uname(&u) == 0 ? u.release : "?";

	switch (k->state) {
	case KMOD_NOT_INSTALLED:
		snprintf(why, size,
			 "kernel %s has no sch_netem module installed (CONFIG_NET_SCH_NETEM=m): "
			 "install its modules (Debian: apt-get install linux-image-%s), then "
			 "modprobe sch_netem",
			 rel, rel);
		break;
	case KMOD_LOADABLE:
		snprintf(why, size,
			 "kernel %s has sch_netem as a module, but %s: load it as root with "
			 "modprobe sch_netem (CONFIG_NET_SCH_NETEM=m)",
			 rel, tried_modprobe ? "modprobe sch_netem failed" : "it is not loaded");
		break;
	default:
		snprintf(
			why, size,
			"kernel %s has no sch_netem (CONFIG_NET_SCH_NETEM %s): boot a kernel built "
			"with CONFIG_NET_SCH_NETEM=m, e.g. Debian's linux-image-amd64, then "
			"modprobe sch_netem",
			rel,
			!strcmp(k->kconfig, "n") ? "is not set" :
			k->kconfig[0]		 ? "is set, yet the kernel refused the netem kind" :
						   "not found: no module, not built in");
		break;
	}
}

/* 0 when the kernel has netem or may have it; with load, a loadable module
 * is loaded first (modprobe). -1 with why when it is missing, or could not
 * be loaded. A kernel that cannot be read (no config, no module files) gets
 * the benefit of the doubt: apply() then says what the kernel answered. */
static int netem_kernel_ready(bool load, char *why, size_t size)
{
	struct kmod_info k;
	bool tried = false;

	switch (feature_kmod(NULL, "sch_netem", "CONFIG_NET_SCH_NETEM", &k)) {
	case KMOD_LOADED:
	case KMOD_BUILTIN:
	case KMOD_UNKNOWN:
		return 0;
	case KMOD_LOADABLE:
		if (!load)
			return 0;
		tried = true;
		if (modprobe_netem() == 0 &&
		    feature_kmod(NULL, "sch_netem", NULL, &k) == KMOD_LOADED)
			return 0;
		k.state = KMOD_LOADABLE;
		break;
	default:
		break;
	}
	netem_explain(&k, tried, why, size);
	return -1;
}

static int netem_supported(const struct params *p, char *why, size_t size)
{
	if (qdisc_step_supported(p, why, size))
		return -1;
	/* Loading a module changes the machine: only for a drill about to run,
	 * not when `chaoslab list` asks in general. */
	return netem_kernel_ready(p != NULL, why, size);
}

/* ---- apply and revert -------------------------------------------------------------- */

static int netem_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	struct lab_net_info lab;
	struct qdisc_where w;
	struct qdisc_target t;
	struct netem_opts o;
	struct nlconn *c = NULL;
	int16_t *dist = NULL;
	char why[768], name[96];
	int rc = -1;

	if (qdisc_step_where(ctx->params, "netem", &lab, &w, err))
		return -1;
	if (netem_opts_from(ctx->params, &o, &dist, err))
		goto out;
	if (qdisc_target_open(&w, &t, &c, err)) {
		cl_error_prefix(err, "netem");
		goto out;
	}
	if (qdisc_claim_root(c, &t, "netem", err)) {
		cl_error_prefix(err, "netem");
		goto out;
	}
	/* What revert needs reaches the journal before the qdisc exists. */
	if (qdisc_undo_set(ctx->undo, &t, "netem", err))
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "limit");
	if (!cJSON_AddNumberToObject(ctx->undo, "limit", o.limit)) {
		cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "netem");
		goto out;
	}
	if (inject_ctx_save(ctx, err))
		goto out;
	if (qdisc_netem_add(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, &o, err)) {
		/* ENOENT for the kind: the kernel has no netem; never leave the
		 * engineer with "Object not found". */
		if (err && err->errnum == ENOENT) {
			struct kmod_info k;

			feature_kmod(NULL, "sch_netem", "CONFIG_NET_SCH_NETEM", &k);
			if (k.state != KMOD_NOT_INSTALLED && k.state != KMOD_LOADABLE)
				k.state = KMOD_ABSENT;
			netem_explain(&k, false, why, sizeof(why));
			cl_error_set(err, CL_EXIT_PRIVILEGE,
				     "netem on %s: %s (the kernel does not know the netem qdisc)",
				     qdisc_target_name(&t, name, sizeof(name)), why);
			err->errnum = ENOENT;
		}
		goto out;
	}
	rc = 0;
out:
	nlconn_close(c);
	free(dist);
	return rc;
}

static int netem_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	if (qdisc_undo_revert(ctx->undo, ctx->report, sizeof(ctx->report), err)) {
		cl_error_prefix(err, "netem");
		return -1;
	}
	return 0;
}

const struct injector netem_injector = {
	.name = "netem",
	.summary = "delay, lose, duplicate, corrupt, reorder or rate-limit packets on the lab link "
		   "(tc netem)",
	.params = netem_params,
	.supported = netem_supported,
	.validate = netem_validate,
	.apply = netem_apply,
	.revert = netem_revert,
};
