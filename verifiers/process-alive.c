/* process-alive: a process of an injection, name or lab service is alive.
 *
 * Typically a guard ("the api is still up") or a fix criterion ("the service
 * was restarted"). A zombie is dead, whatever its pid says. */
#include "core/registry.h"
#include "sys/procsel.h"

static int process_alive_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	long n = procsel_observe(ctx, "process-alive", obs, size, err);

	if (n < 0)
		return CHECK_ERROR;
	return n > 0 ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier process_alive_verifier = {
	.name = "process-alive",
	.summary = "a process of an injection, name or lab service is alive",
	.params = procsel_params,
	.supported = procsel_supported,
	.validate = procsel_validate,
	.check = process_alive_check,
};
