/* process-alive: a process of an injection, name or lab service is alive. */
#include "core/registry.h"

static const struct param_spec process_alive_params[] = {
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL, "processes started by this inject step" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL, "processes with this name (comm)" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL, "a lab service of this scenario" },
	{ NULL },
};

static int process_alive_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "process-alive: not built yet");
}

const struct verifier process_alive_verifier = {
	.name = "process-alive",
	.summary = "a process of an injection, name or lab service is alive",
	.params = process_alive_params,
	.check = process_alive_check,
};
