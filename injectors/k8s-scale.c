/* k8s-scale: scale a Deployment (or StatefulSet, ReplicaSet) to a replica count.
 *
 * Scaling to 0 takes a service away without deleting anything: CoreDNS at 0
 * replicas leaves kube-dns with no endpoints and every name lookup in the
 * cluster timing out, while the Deployment, its Service and its ConfigMap all
 * look fine at a glance. It is `kubectl scale --replicas=N
 * --current-replicas=OLD` (the precondition refuses if someone scaled it in
 * between), after the original count and the object's uid are journaled.
 *
 * Revert sets the original count back with a JSON patch whose "test"
 * operations make the API server refuse it unless the object (uid) still has
 * the count chaoslab set; a count the engineer already restored or changed is
 * left as it is.
 *
 * Undo data: {"kube": target, "resource", "name", "uid", "original",
 * "replicas", "started_at"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const k8s_scale_kinds[] = { "deployment", "statefulset", "replicaset", NULL };

static const struct param_spec k8s_scale_params[] = {
	{ "kind", PARAM_ENUM, false, "deployment", 0, 0, k8s_scale_kinds,
	  "what to scale: deployment (default), statefulset or replicaset" },
	{ "name", PARAM_STRING, true, NULL, 1, 253, NULL, "its name" },
	{ "replicas", PARAM_INT, true, NULL, 0, 1000, NULL, "the replica count to set (0..1000)" },
	{ "allow_system_namespace", PARAM_BOOL, false, "false", 0, 0, NULL,
	  "allow a kube-* namespace (the cluster's own workloads, e.g. CoreDNS)" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int k8s_scale_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

/* The RBAC resource of a kind, with the group: "deployments.apps". */
static const char *rbac_resource(const char *kind, char *buf, size_t size)
{
	snprintf(buf, size, "%ss.apps", kind);
	return buf;
}

static int spec_replicas(const cJSON *obj)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "spec"), "replicas");

	return cJSON_IsNumber(r) ? r->valueint : 1; /* unset means 1 */
}

static const char *uid_of(const cJSON *obj)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid");

	return cJSON_IsString(u) ? u->valuestring : NULL;
}

static int k8s_scale_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *kind = params_str(ctx->params, "kind", "deployment");
	const char *name = params_str(ctx->params, "name", NULL);
	int want = (int)params_int(ctx->params, "replicas", 0), orig;
	char res[64], scale_res[80], target[320], replicas[32], current[48];
	const char *args[] = { "scale", target, replicas, current, NULL };
	struct kube_target t;
	struct kube_result r = { 0 };
	cJSON *obj = NULL;
	const char *uid;
	int rc = -1, got;

	rbac_resource(kind, res, sizeof(res));
	snprintf(scale_res, sizeof(scale_res), "%s/scale", res);
	if (kube_inject_begin(ctx, &t, err) || kube_can_i(&t, "get", res, err) ||
	    kube_can_i(&t, "patch", scale_res, err) || kube_can_i(&t, "patch", res, err))
		goto out;
	got = kube_get(&t, kind, name, &obj, err);
	if (got < 0)
		goto out;
	if (got == 1) {
		cl_error_set(err, CL_EXIT_USAGE, "%s %s/%s not found", kind, t.ns, name);
		goto out;
	}
	uid = uid_of(obj);
	orig = spec_replicas(obj);
	if (!uid) {
		cl_error_set(err, CL_EXIT_USAGE, "%s %s/%s has no uid", kind, t.ns, name);
		goto out;
	}
	if (orig == want) {
		cl_error_set(err, CL_EXIT_NO_SYMPTOM,
			     "%s %s/%s already runs %d replica%s: scaling would change nothing",
			     kind, t.ns, name, want, want == 1 ? "" : "s");
		goto out;
	}
	cJSON_AddStringToObject(ctx->undo, "resource", kind);
	cJSON_AddStringToObject(ctx->undo, "name", name);
	cJSON_AddStringToObject(ctx->undo, "uid", uid);
	cJSON_AddNumberToObject(ctx->undo, "original", orig);
	cJSON_AddNumberToObject(ctx->undo, "replicas", want);
	if (inject_ctx_save(ctx, err))
		goto out;
	snprintf(target, sizeof(target), "%s/%s", kind, name);
	snprintf(replicas, sizeof(replicas), "--replicas=%d", want);
	snprintf(current, sizeof(current), "--current-replicas=%d", orig);
	if (kube_run(&t, args, NULL, 0, &r, err))
		goto out;
	if (r.status) {
		kube_fail(&t, "kubectl scale", &r, err);
		cl_error_prefix(err, "k8s-scale");
		goto out;
	}
	rc = 0;
out:
	kube_result_release(&r);
	cJSON_Delete(obj);
	return rc;
}

static int k8s_scale_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(ctx->undo, "resource");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(ctx->undo, "name");
	const cJSON *uidj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "uid");
	const cJSON *orig = cJSON_GetObjectItemCaseSensitive(ctx->undo, "original");
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(ctx->undo, "replicas");
	struct kube_target t;
	cJSON *obj = NULL;
	char patch[512];
	int rc = -1, got;

	ctx->report[0] = '\0';
	if (kube_revert_target(ctx, &t) || !cJSON_IsString(res) || !cJSON_IsString(name) ||
	    !cJSON_IsString(uidj) || !cJSON_IsNumber(orig) || !cJSON_IsNumber(want))
		return 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		enum kube_failure why;
		const char *uid;
		int now;

		cJSON_Delete(obj);
		obj = NULL;
		got = kube_get(&t, res->valuestring, name->valuestring, &obj, err);
		if (got < 0)
			goto out;
		if (got == 1) {
			snprintf(ctx->report, sizeof(ctx->report),
				 "%s %s/%s is gone; nothing to restore", res->valuestring, t.ns,
				 name->valuestring);
			rc = 0;
			goto out;
		}
		uid = uid_of(obj);
		if (!uid || strcmp(uid, uidj->valuestring)) {
			snprintf(ctx->report, sizeof(ctx->report),
				 "%s %s/%s was recreated since; left as it is", res->valuestring,
				 t.ns, name->valuestring);
			rc = 0;
			goto out;
		}
		now = spec_replicas(obj);
		if (now == orig->valueint) {
			rc = 0; /* the engineer scaled it back */
			goto out;
		}
		if (now != want->valueint) {
			snprintf(ctx->report, sizeof(ctx->report),
				 "%s %s/%s was scaled to %d since the drill; left as it is",
				 res->valuestring, t.ns, name->valuestring, now);
			rc = 0;
			goto out;
		}
		snprintf(patch, sizeof(patch),
			 "[{\"op\":\"test\",\"path\":\"/metadata/uid\",\"value\":\"%s\"},"
			 "{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":%d},"
			 "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":%d}]",
			 uidj->valuestring, want->valueint, orig->valueint);
		got = kube_patch(&t, res->valuestring, name->valuestring, "json", patch, NULL, &why,
				 err);
		if (got == 0) {
			snprintf(ctx->report, sizeof(ctx->report), "scaled %s %s/%s back to %d",
				 res->valuestring, t.ns, name->valuestring, orig->valueint);
			rc = 0;
			goto out;
		}
		if (got < 0 && why != KUBE_FAIL_INVALID && why != KUBE_FAIL_CONFLICT)
			goto out;
	}
	cl_error_set(err, CL_EXIT_REVERT, "%s %s/%s keeps changing; replicas not restored",
		     res->valuestring, t.ns, name->valuestring);
out:
	if (rc)
		cl_error_prefix(err, "k8s-scale");
	cJSON_Delete(obj);
	return rc;
}

const struct injector k8s_scale_injector = {
	.name = "k8s-scale",
	.summary = "scale a Deployment, StatefulSet or ReplicaSet (e.g. CoreDNS to 0)",
	.params = k8s_scale_params,
	.supported = k8s_scale_supported,
	.apply = k8s_scale_apply,
	.revert = k8s_scale_revert,
};
