/* process-absent: no process of an injection, name or lab service is alive.
 *
 * Typically a fix criterion ("the runaway burner is gone"). A zombie counts
 * as absent: it is dead, only not yet reaped. */
#include "core/registry.h"
#include "sys/procsel.h"

static int process_absent_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	long n = procsel_observe(ctx, "process-absent", obs, size, err);

	if (n < 0)
		return CHECK_ERROR;
	return n == 0 ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier process_absent_verifier = {
	.name = "process-absent",
	.summary = "no process of an injection, name or lab service is alive",
	.params = procsel_params,
	.supported = procsel_supported,
	.validate = procsel_validate,
	.check = process_absent_check,
};
