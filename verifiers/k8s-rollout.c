/* k8s-rollout: whether a Deployment's rollout is complete, as `kubectl rollout
 * status` decides it.
 *
 * Complete means: the controller has seen the latest spec (observedGeneration
 * >= generation), every desired replica runs the current template (updated =
 * spec.replicas), no old replica is left (status.replicas = updated) and all
 * updated replicas are available. A rollout whose Progressing condition says
 * ProgressDeadlineExceeded is stuck, not complete. The observation is
 * kubectl's own wording ("1 out of 2 new replicas have been updated").
 *
 * complete: true (default) is met by a complete rollout, false by one that is
 * not; min_available also asks for that many available replicas (a rollout
 * of a Deployment scaled to 0 is complete, with nothing available). */
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const struct param_spec k8s_rollout_params[] = {
	{ "deployment", PARAM_STRING, true, NULL, 1, 253, NULL, "the Deployment" },
	{ "complete", PARAM_BOOL, false, "true", 0, 0, NULL,
	  "met when the rollout is complete (true, default) or when it is not (false)" },
	{ "min_available", PARAM_INT, false, NULL, 0, 100000, NULL,
	  "also require at least this many available replicas" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int k8s_rollout_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

static long num_at(const cJSON *o, const char *key, long fallback)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(x) ? (long)x->valuedouble : fallback;
}

static bool deadline_exceeded(const cJSON *status)
{
	const cJSON *c;

	cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(status, "conditions")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "reason");

		if (cJSON_IsString(t) && !strcmp(t->valuestring, "Progressing") &&
		    cJSON_IsString(r) && !strcmp(r->valuestring, "ProgressDeadlineExceeded"))
			return true;
	}
	return false;
}

static int k8s_rollout_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *name = params_str(ctx->params, "deployment", NULL);
	bool want = params_bool(ctx->params, "complete", true), complete = false;
	struct kube_target t;
	cJSON *d = NULL;
	const cJSON *spec, *st, *meta;
	long gen, seen, want_n, updated, replicas, available;
	int rc, got;

	if (kube_memo_recall(ctx, &rc, obs, size, err))
		return rc;
	kube_target_init(&t, ctx->params);
	got = kube_get(&t, "deployment", name, &d, err);
	if (got < 0) {
		cl_error_prefix(err, "k8s-rollout");
		return kube_memo_store(ctx, CHECK_ERROR, "", err);
	}
	if (got == 1) {
		snprintf(obs, size, "deployment %s/%s not found", t.ns, name);
		return kube_memo_store(ctx, want ? CHECK_NOT_MET : CHECK_MET, obs, NULL);
	}
	meta = cJSON_GetObjectItemCaseSensitive(d, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(d, "spec");
	st = cJSON_GetObjectItemCaseSensitive(d, "status");
	gen = num_at(meta, "generation", 0);
	seen = num_at(st, "observedGeneration", 0);
	want_n = num_at(spec, "replicas", 1);
	updated = num_at(st, "updatedReplicas", 0);
	replicas = num_at(st, "replicas", 0);
	available = num_at(st, "availableReplicas", 0);
	if (gen > seen)
		snprintf(obs, size, "%s: waiting for the deployment spec update to be observed",
			 name);
	else if (deadline_exceeded(st))
		snprintf(obs, size,
			 "%s: exceeded its progress deadline (%ld of %ld updated, %ld "
			 "available)",
			 name, updated, want_n, available);
	else if (updated < want_n)
		snprintf(obs, size, "%s: %ld out of %ld new replicas have been updated", name,
			 updated, want_n);
	else if (replicas > updated)
		snprintf(obs, size, "%s: %ld old replica%s pending termination", name,
			 replicas - updated, replicas - updated == 1 ? " is" : "s are");
	else if (available < updated)
		snprintf(obs, size, "%s: %ld of %ld updated replicas are available", name,
			 available, updated);
	else {
		complete = true;
		snprintf(obs, size, "%s: successfully rolled out, %ld/%ld available", name,
			 available, want_n);
	}
	rc = complete == want ? CHECK_MET : CHECK_NOT_MET;
	if (params_isset(ctx->params, "min_available") &&
	    available < params_int(ctx->params, "min_available", 0)) {
		size_t off = strlen(obs);

		rc = CHECK_NOT_MET;
		snprintf(obs + off, off < size ? size - off : 0, " (want %lld available)",
			 params_int(ctx->params, "min_available", 0));
	}
	cJSON_Delete(d);
	return kube_memo_store(ctx, rc, obs, NULL);
}

const struct verifier k8s_rollout_verifier = {
	.name = "k8s-rollout",
	.summary = "a Deployment's rollout is complete (or not), as kubectl rollout status sees it",
	.params = k8s_rollout_params,
	.supported = k8s_rollout_supported,
	.check = k8s_rollout_check,
	.release = kube_memo_release,
};
