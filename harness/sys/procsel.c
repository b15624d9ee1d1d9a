#include "sys/procsel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sys/proc.h"

const struct param_spec procsel_params[] = {
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "processes started by this inject step: its owner tag or journaled pids (give one of injection, name, service)" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "processes with this name (comm, as pgrep -x matches it)" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a lab service of this scenario, by its lab: name" },
	{ NULL },
};

/* At most this many pids are listed in the observation. */
#define LIST_PIDS 8

int procsel_validate(const struct params *p, char *msg, size_t size)
{
	int n = params_isset(p, "injection") + params_isset(p, "name") + params_isset(p, "service");

	if (n == 1)
		return 0;
	snprintf(msg, size, n ? "injection, name and service exclude each other: give one"
			      : "give exactly one of injection, name or service");
	return -1;
}

int procsel_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

/* Fill pids with the live processes the parameters name; returns the count,
 * or -1 with err set. */
static long selected_pids(struct check_ctx *ctx, const char *verifier, struct proc_stat *out,
			  size_t cap, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *svc = params_str(ctx->params, "service", NULL);
	struct proc_set set = { 0 };
	long n;

	if (svc) {
		pid_t pid;

		if (!ctx->env || !ctx->env->service_pid)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "%s: service '%s' can only be looked up during a drill",
					    verifier, svc);
		pid = ctx->env->service_pid(ctx->env->opaque, svc);
		if (pid <= 0)
			return 0;
		set.pid = pid;
	} else if (name) {
		snprintf(set.comm, sizeof(set.comm), "%s", name);
	} else {
		const cJSON *undo;

		undo = check_injection(ctx, verifier, inj, err);
		if (!undo)
			return -1;
		if (proc_set_from_undo(&set, undo))
			return cl_error_set(err, CL_EXIT_USAGE, "%s: out of memory", verifier);
	}
	n = proc_set_find(&set, out, cap);
	proc_set_release(&set);
	if (n < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "%s: unable to list /proc",
				      verifier);
	return n;
}

long procsel_observe(struct check_ctx *ctx, const char *verifier, char *obs, size_t size,
		     struct cl_error *err)
{
	struct proc_stat found[LIST_PIDS];
	long n = selected_pids(ctx, verifier, found, LIST_PIDS, err);
	size_t len;

	if (n < 0)
		return -1;
	if (!n) {
		snprintf(obs, size, "none alive");
		return 0;
	}
	len = (size_t)snprintf(obs, size, "%ld alive:", n);
	for (long i = 0; i < n && i < LIST_PIDS && len < size; i++)
		len += (size_t)snprintf(obs + len, size - len, " %d", (int)found[i].pid);
	if (n > LIST_PIDS && len < size)
		snprintf(obs + len, size - len, " ...");
	return n;
}
