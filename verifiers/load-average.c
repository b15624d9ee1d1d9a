/* load-average: the 1-, 5- or 15-minute load average above or below a value.
 *
 * Read from /proc/loadavg: the exponentially damped number of tasks running,
 * runnable or in uninterruptible sleep (D state), so disk or NFS waits raise
 * it as much as CPU use does. It moves slowly: the 1-minute figure needs about
 * a minute to follow a change, which a scenario's time limits must allow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/proc.h"

static const char *const load_minutes[] = { "1", "5", "15", NULL };

static const struct param_spec load_average_params[] = {
	{ "above", PARAM_NUMBER, false, NULL, 0, 10000, NULL,
	  "met when the load average is above this (give this or below)" },
	{ "below", PARAM_NUMBER, false, NULL, 0, 10000, NULL,
	  "met when the load average is below this (give this or above)" },
	{ "minutes", PARAM_ENUM, false, "1", 0, 0, load_minutes,
	  "which average /proc/loadavg gives: over 1, 5 or 15 minutes" },
	{ NULL },
};

static int load_average_validate(const struct params *p, char *msg, size_t size)
{
	bool above = params_isset(p, "above"), below = params_isset(p, "below");

	if (above == below) {
		snprintf(msg, size, above ? "above and below exclude each other: give one"
					  : "give exactly one of above or below");
		return -1;
	}
	return 0;
}

static int load_average_supported(const struct params *p, char *why, size_t size)
{
	if (access("/proc/loadavg", R_OK)) {
		snprintf(why, size, "needs /proc/loadavg (procfs is not mounted)");
		return -1;
	}
	return 0;
}

static int load_average_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *minutes = params_str(ctx->params, "minutes", "1");
	int which = minutes[0] == '5' ? 1 : minutes[0] == '1' && minutes[1] == '5' ? 2 : 0;
	bool want_above = params_isset(ctx->params, "above");
	double limit = want_above ? params_number(ctx->params, "above", 0)
				  : params_number(ctx->params, "below", 0);
	struct proc_loadavg la;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	double v;

	if (proc_loadavg_read(&la))
		return cl_error_errno(err, CL_EXIT_USAGE, errno,
				      "load-average: unable to read '/proc/loadavg'");
	v = la.avg[which];
	snprintf(obs, size, "load %.2f over %s min (%ld cpu%s)", v, minutes, ncpus,
		 ncpus == 1 ? "" : "s");
	if (want_above)
		return v > limit ? CHECK_MET : CHECK_NOT_MET;
	return v < limit ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier load_average_verifier = {
	.name = "load-average",
	.summary = "the 1-, 5- or 15-minute load average above or below a value",
	.params = load_average_params,
	.supported = load_average_supported,
	.validate = load_average_validate,
	.check = load_average_check,
};
