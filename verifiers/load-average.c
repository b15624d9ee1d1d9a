/* load-average: the 1-, 5- or 15-minute load average above or below a value. */
#include "core/registry.h"

static const char *const load_minutes[] = { "1", "5", "15", NULL };

static const struct param_spec load_average_params[] = {
	{ "above", PARAM_NUMBER, false, NULL, 0, 10000, NULL, "met when the load average is above this (exclusive with below)" },
	{ "below", PARAM_NUMBER, false, NULL, 0, 10000, NULL, "met when it is below this" },
	{ "minutes", PARAM_ENUM, false, "1", 0, 0, load_minutes, "which average: 1, 5 or 15" },
	{ NULL },
};

static int load_average_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "load-average: not built yet");
}

const struct verifier load_average_verifier = {
	.name = "load-average",
	.summary = "the 1-, 5- or 15-minute load average above or below a value",
	.params = load_average_params,
	.check = load_average_check,
};
