/* lab-service: run a lab service (demo-api) for the drill; scenarios list it under lab:. */
#include "core/registry.h"

static const char *const lab_service_names[] = { "demo-api", NULL };

static const struct param_spec lab_service_params[] = {
	{ "service", PARAM_ENUM, true, NULL, 0, 0, lab_service_names, "which lab service" },
	{ "port", PARAM_INT, false, "18080", 1, 65535, NULL, "TCP port on 127.0.0.1" },
	{ NULL },
};

static int lab_service_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	return cl_error_set(err, CL_EXIT_PRIVILEGE, "lab-service: not built yet");
}

static int lab_service_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	return 0;
}

const struct injector lab_service_injector = {
	.name = "lab-service",
	.summary = "run a lab service (demo-api) for the drill; scenarios list it under lab:",
	.params = lab_service_params,
	.apply = lab_service_apply,
	.revert = lab_service_revert,
};
