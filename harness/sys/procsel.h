/* Selecting processes the way the process-alive and process-absent
 * verifiers do: by inject step (its owner tag or journaled pids), by name
 * (comm) or by lab service. Both verifiers share this parameter table,
 * validation and lookup; each only decides what a count means. */
#ifndef CHAOSLAB_PROCSEL_H
#define CHAOSLAB_PROCSEL_H

#include <stddef.h>

#include "core/registry.h"

/* injection | name | service, exactly one (procsel_validate). */
extern const struct param_spec procsel_params[];

int procsel_validate(const struct params *p, char *msg, size_t size);
int procsel_supported(const struct params *p, char *why, size_t size);

/* Count the live (non-zombie) processes the parameters select and describe
 * them in obs ("none alive", "2 alive: 4121 4122"). Returns the count, or -1
 * with err set (prefixed with the verifier's name). */
long procsel_observe(struct check_ctx *ctx, const char *verifier, char *obs, size_t size,
		     struct cl_error *err);

#endif
