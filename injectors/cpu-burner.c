/* cpu-burner: burn CPU in workers at a target load, optionally respawned by a parent. */
#include "core/registry.h"

static const struct param_spec cpu_burner_params[] = {
	{ "workers", PARAM_INT, false, "1", 1, 64, NULL, "number of burner processes" },
	{ "load_percent", PARAM_INT, false, "100", 1, 100, NULL, "target load of each worker, percent of one core" },
	{ "name", PARAM_STRING, false, "cpuburn", 0, 15, NULL, "process name ps and top show (at most 15 characters)" },
	{ "nice", PARAM_INT, false, "0", -20, 19, NULL, "nice value of the workers" },
	{ "respawn", PARAM_BOOL, false, "false", 0, 0, NULL, "a parent restarts a killed burner: the fix is to stop the parent" },
	{ NULL },
};

static int cpu_burner_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "cpu-burner: not built yet");
}

static int cpu_burner_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	return 0;
}

const struct injector cpu_burner_injector = {
	.name = "cpu-burner",
	.summary = "burn CPU in workers at a target load, optionally respawned by a parent",
	.params = cpu_burner_params,
	.apply = cpu_burner_apply,
	.revert = cpu_burner_revert,
};
