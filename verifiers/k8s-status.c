/* k8s-status: an object's status phase or condition.
 *
 * The STATUS column and the Conditions table of `kubectl describe`: a
 * PersistentVolumeClaim Pending or Bound, a HorizontalPodAutoscaler whose
 * ScalingActive condition is False because it cannot compute utilization, a
 * Deployment Available, a Node Ready. Give phase, or condition with the
 * status it must have (True by default) and optionally its reason. An object
 * that does not exist meets neither. */
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const k8s_status_values[] = { "True", "False", "Unknown", NULL };

static const struct param_spec k8s_status_params[] = {
	{ "kind", PARAM_STRING, true, NULL, 1, 253, NULL,
	  "the resource as kubectl names it: pvc, hpa, deployment, node..." },
	{ "name", PARAM_STRING, true, NULL, 1, 253, NULL, "the object's name" },
	{ "phase", PARAM_STRING, false, NULL, 1, 64, NULL,
	  "met when status.phase is this (Pending, Bound, Running...)" },
	{ "condition", PARAM_STRING, false, NULL, 1, 128, NULL,
	  "met when this status condition (ScalingActive, Available, Ready...) has `status`" },
	{ "status", PARAM_ENUM, false, "True", 0, 0, k8s_status_values,
	  "with condition: True (default), False or Unknown" },
	{ "reason", PARAM_STRING, false, NULL, 1, 128, NULL, "with condition: its reason too" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int k8s_status_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

static int k8s_status_validate(const struct params *p, char *msg, size_t size)
{
	bool phase = params_isset(p, "phase"), cond = params_isset(p, "condition");

	if (phase == cond) {
		snprintf(msg, size,
			 phase ? "phase and condition exclude each other: give one" :
				 "give phase or condition");
		return -1;
	}
	if (phase && (params_get(p, "status")->given || params_isset(p, "reason"))) {
		snprintf(msg, size, "status and reason go with condition, not phase");
		return -1;
	}
	return 0;
}

static const char *str_at(const cJSON *o, const char *a)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int k8s_status_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *kind = params_str(ctx->params, "kind", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *phase = params_str(ctx->params, "phase", NULL);
	const char *cond = params_str(ctx->params, "condition", NULL);
	const char *want = params_str(ctx->params, "status", "True");
	const char *reason = params_str(ctx->params, "reason", NULL);
	struct kube_target t;
	cJSON *obj = NULL;
	const cJSON *st, *c;
	int rc, got;

	if (kube_memo_recall(ctx, &rc, obs, size, err))
		return rc;
	kube_target_init(&t, ctx->params);
	got = kube_get(&t, kind, name, &obj, err);
	if (got < 0) {
		cl_error_prefix(err, "k8s-status");
		return kube_memo_store(ctx, CHECK_ERROR, "", err);
	}
	if (got == 1) {
		snprintf(obs, size, "%s %s/%s not found", kind, t.ns, name);
		return kube_memo_store(ctx, CHECK_NOT_MET, obs, NULL);
	}
	st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	rc = CHECK_NOT_MET;
	if (phase) {
		const char *have = str_at(st, "phase");

		snprintf(obs, size, "%s %s/%s: phase %s", kind, t.ns, name, have ? have : "(none)");
		if (have && !strcmp(have, phase))
			rc = CHECK_MET;
		goto out;
	}
	snprintf(obs, size, "%s %s/%s: no %s condition", kind, t.ns, name, cond);
	cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(st, "conditions")) {
		const char *type = str_at(c, "type"), *status = str_at(c, "status");
		const char *why = str_at(c, "reason");

		if (!type || strcmp(type, cond))
			continue;
		snprintf(obs, size, "%s %s/%s: %s=%s%s%s%s", kind, t.ns, name, cond,
			 status ? status : "?", why ? " (" : "", why ? why : "", why ? ")" : "");
		if (status && !strcmp(status, want) && (!reason || (why && !strcmp(why, reason))))
			rc = CHECK_MET;
		break;
	}
out:
	cJSON_Delete(obj);
	return kube_memo_store(ctx, rc, obs, NULL);
}

const struct verifier k8s_status_verifier = {
	.name = "k8s-status",
	.summary =
		"a Kubernetes object's status phase or condition (PVC Bound, HPA ScalingActive...)",
	.params = k8s_status_params,
	.supported = k8s_status_supported,
	.validate = k8s_status_validate,
	.check = k8s_status_check,
	.release = kube_memo_release,
};
