/* zombie-count: number of zombie (state Z) processes, optionally under a parent. */
#include "core/registry.h"

static const struct param_spec zombie_count_params[] = {
	{ "min", PARAM_INT, false, NULL, 0, 1000000, NULL, "met when at least this many (exclusive with max)" },
	{ "max", PARAM_INT, false, NULL, 0, 1000000, NULL, "met when at most this many" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL, "count only children of this inject step's processes" },
	{ "parent_name", PARAM_STRING, false, NULL, 0, 15, NULL, "count only children of processes with this name" },
	{ NULL },
};

static int zombie_count_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "zombie-count: not built yet");
}

const struct verifier zombie_count_verifier = {
	.name = "zombie-count",
	.summary = "number of zombie (state Z) processes, optionally under a parent",
	.params = zombie_count_params,
	.check = zombie_count_check,
};
