/* zombie-forker: a parent that forks children which exit and are never reaped. */
#include "core/registry.h"

static const struct param_spec zombie_forker_params[] = {
	{ "count", PARAM_INT, false, NULL, 1, 10000, NULL, "zombies to leave at once (default 5 unless rate_per_second is set)" },
	{ "rate_per_second", PARAM_NUMBER, false, NULL, 0.1, 1000, NULL, "leave zombies at this rate instead, up to max" },
	{ "max", PARAM_INT, false, "100", 1, 10000, NULL, "with rate_per_second: stop at this many zombies" },
	{ "name", PARAM_STRING, false, "zombied", 0, 15, NULL, "process name of the parent and its children" },
	{ NULL },
};

static int zombie_forker_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "zombie-forker: not built yet");
}

static int zombie_forker_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	return 0;
}

const struct injector zombie_forker_injector = {
	.name = "zombie-forker",
	.summary = "a parent that forks children which exit and are never reaped",
	.params = zombie_forker_params,
	.apply = zombie_forker_apply,
	.revert = zombie_forker_revert,
};
