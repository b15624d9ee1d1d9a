/* cpu-busy: CPU use over a window, system-wide or of a process set. */
#include "core/registry.h"

static const struct param_spec cpu_busy_params[] = {
	{ "min_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL, "met when use is at least this (exclusive with max_percent)" },
	{ "max_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL, "met when use is at most this" },
	{ "window_seconds", PARAM_NUMBER, false, "3", 0.5, 600, NULL, "averaging window" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL, "only the processes of this inject step (percent of one core)" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL, "only processes with this name (percent of one core)" },
	{ NULL },
};

static int cpu_busy_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "cpu-busy: not built yet");
}

const struct verifier cpu_busy_verifier = {
	.name = "cpu-busy",
	.summary = "CPU use over a window, system-wide or of a process set",
	.params = cpu_busy_params,
	.check = cpu_busy_check,
};
