#include "core/registry.h"

#include <string.h>

#define INJECTOR(sym) extern const struct injector sym;
#include "injectors/injectors.def"
#undef INJECTOR
#define VERIFIER(sym) extern const struct verifier sym;
#include "verifiers/verifiers.def"
#undef VERIFIER

static const struct injector *const builtin_injectors[] = {
#define INJECTOR(sym) &sym,
#include "injectors/injectors.def"
#undef INJECTOR
	NULL,
};

static const struct verifier *const builtin_verifiers[] = {
#define VERIFIER(sym) &sym,
#include "verifiers/verifiers.def"
#undef VERIFIER
	NULL,
};

static const struct injector *const *test_injectors;
static const struct verifier *const *test_verifiers;

void registry_set_test_injectors(const struct injector *const *extra)
{
	test_injectors = extra;
}

void registry_set_test_verifiers(const struct verifier *const *extra)
{
	test_verifiers = extra;
}

static const size_t n_builtin_injectors =
	sizeof(builtin_injectors) / sizeof(builtin_injectors[0]) - 1;
static const size_t n_builtin_verifiers =
	sizeof(builtin_verifiers) / sizeof(builtin_verifiers[0]) - 1;

const struct injector *injector_at(size_t i)
{
	if (i < n_builtin_injectors)
		return builtin_injectors[i];
	i -= n_builtin_injectors;
	for (size_t k = 0; test_injectors && test_injectors[k]; k++)
		if (k == i)
			return test_injectors[k];
	return NULL;
}

const struct verifier *verifier_at(size_t i)
{
	if (i < n_builtin_verifiers)
		return builtin_verifiers[i];
	i -= n_builtin_verifiers;
	for (size_t k = 0; test_verifiers && test_verifiers[k]; k++)
		if (k == i)
			return test_verifiers[k];
	return NULL;
}

const struct injector *injector_find(const char *name)
{
	const struct injector *in;

	for (size_t i = 0; (in = injector_at(i)); i++)
		if (!strcmp(in->name, name))
			return in;
	return NULL;
}

const struct verifier *verifier_find(const char *name)
{
	const struct verifier *v;

	for (size_t i = 0; (v = verifier_at(i)); i++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

size_t injector_names(const char **out, size_t cap)
{
	size_t n = 0;
	const struct injector *in;

	for (size_t i = 0; n + 1 < cap && (in = injector_at(i)); i++)
		out[n++] = in->name;
	if (cap)
		out[n] = NULL;
	return n;
}

size_t verifier_names(const char **out, size_t cap)
{
	size_t n = 0;
	const struct verifier *v;

	for (size_t i = 0; n + 1 < cap && (v = verifier_at(i)); i++)
		out[n++] = v->name;
	if (cap)
		out[n] = NULL;
	return n;
}

const cJSON *check_injection(const struct check_ctx *ctx, const char *who, const char *step,
			     struct cl_error *err)
{
	const cJSON *undo;

	if (!ctx->env || !ctx->env->injection) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "%s: inject step '%s' can only be looked up during a drill", who, step);
		return NULL;
	}
	undo = ctx->env->injection(ctx->env->opaque, step);
	if (!undo)
		cl_error_set(err, CL_EXIT_USAGE, "%s: inject step '%s' has not been applied", who,
			     step);
	return undo;
}
