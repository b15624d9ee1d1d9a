#include "support/test_descriptors.h"

#include <stdio.h>
#include <string.h>

struct test_descriptor_calls test_descriptor_calls;

static const char *const knob_modes[] = { "fast", "slow", "off", NULL };

static const struct param_spec test_knobs_params[] = {
	{ "target", PARAM_STRING, true, NULL, 0, 0, NULL, "what the knobs act on" },
	{ "count", PARAM_INT, false, "1", 1, 10, NULL, "how many times" },
	{ "ratio", PARAM_NUMBER, false, NULL, 0, 1, NULL, "a fraction, unset by default" },
	{ "enabled", PARAM_BOOL, false, "false", 0, 0, NULL, "a switch" },
	{ "label", PARAM_STRING, false, "knob", 0, 8, NULL, "a short name" },
	{ "mode", PARAM_ENUM, false, "fast", 0, 0, knob_modes, "how" },
	{ .name = NULL },
};

static int test_knobs_supported(const struct params *params, char *why, size_t size)
{
	test_descriptor_calls.supported++;
	if (params && !strcmp(params_str(params, "mode", "fast"), "off")) {
		snprintf(why, size, "mode off is not supported here");
		return -1;
	}
	return 0;
}

static int test_knobs_validate(const struct params *params, char *msg, size_t size)
{
	test_descriptor_calls.validate++;
	if (params_int(params, "count", 1) > 5 && !strcmp(params_str(params, "mode", ""), "fast")) {
		snprintf(msg, size, "count above 5 needs mode slow");
		return -1;
	}
	return 0;
}

static int test_knobs_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	test_descriptor_calls.apply++;
	if (ctx->undo &&
	    !cJSON_AddStringToObject(ctx->undo, "target", params_str(ctx->params, "target", "")))
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	return 0;
}

static int test_knobs_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *t = ctx->undo ? cJSON_GetObjectItemCaseSensitive(ctx->undo, "target") : NULL;

	test_descriptor_calls.revert++;
	if (cJSON_IsString(t))
		snprintf(ctx->report, sizeof(ctx->report), "knobs on %s reset", t->valuestring);
	return 0;
}

const struct injector test_knobs_injector = {
	.name = TEST_KNOBS_INJECTOR,
	.summary = "test only: a parameter of every type, changes nothing",
	.params = test_knobs_params,
	.supported = test_knobs_supported,
	.validate = test_knobs_validate,
	.apply = test_knobs_apply,
	.revert = test_knobs_revert,
};

static const char *const probe_results[] = { "met", "not-met", "error", NULL };

static const struct param_spec test_probe_params[] = {
	{ "result", PARAM_ENUM, false, "met", 0, 0, probe_results, "what check() answers" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL, "an inject step id" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL, "a lab service" },
	{ "note", PARAM_STRING, false, NULL, 0, 0, NULL, "free text" },
	{ .name = NULL },
};

static int test_probe_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *result = params_str(ctx->params, "result", "met");

	test_descriptor_calls.check++;
	snprintf(obs, size, "probe: %s", result);
	if (!strcmp(result, "error")) {
		cl_error_set(err, CL_EXIT_USAGE, "probe asked to fail");
		return CHECK_ERROR;
	}
	return !strcmp(result, "met") ? CHECK_MET : CHECK_NOT_MET;
}

static void test_probe_release(struct check_ctx *ctx)
{
	test_descriptor_calls.release++;
	ctx->state = NULL;
}

const struct verifier test_probe_verifier = {
	.name = TEST_PROBE_VERIFIER,
	.summary = "test only: answers what its result parameter says",
	.params = test_probe_params,
	.check = test_probe_check,
	.release = test_probe_release,
};

static const struct injector *const test_injectors[] = { &test_knobs_injector, NULL };
static const struct verifier *const test_verifiers[] = { &test_probe_verifier, NULL };

void test_descriptors_register(void)
{
	memset(&test_descriptor_calls, 0, sizeof(test_descriptor_calls));
	registry_set_test_injectors(test_injectors);
	registry_set_test_verifiers(test_verifiers);
}

void test_descriptors_unregister(void)
{
	registry_set_test_injectors(NULL);
	registry_set_test_verifiers(NULL);
}
