/* k8s-pod: how many pods with a label selector are in a given state.
 *
 * The pods `kubectl get pods -l SELECTOR` lists (pods being deleted left
 * out), counted when they match every filter given:
 *
 *   phase         status.phase: Pending, Running, Succeeded, Failed, Unknown
 *   reason        a reason anywhere kubectl and describe show one: a
 *                 container waiting (CrashLoopBackOff, ImagePullBackOff,
 *                 ErrImagePull, ContainerCreating, CreateContainerConfigError),
 *                 terminated now or last time (OOMKilled, Error, StartError,
 *                 Completed), the pod's own (Evicted) or its scheduling
 *                 (Unschedulable)
 *   ready         the pod's Ready condition is (not) True
 *   min_restarts  containers restarted at least this often in all
 *
 * and met when the count is at least min and at most max (min 1 when neither
 * is given). OOMKilled shows in the last state while the container waits in
 * CrashLoopBackOff, which is why last states count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const k8s_pod_phases[] = { "Pending", "Running", "Succeeded",
					      "Failed",	 "Unknown", NULL };

static const struct param_spec k8s_pod_params[] = {
	{ "selector", PARAM_STRING, true, NULL, 1, 1024, NULL,
	  "label selector of the pods, as kubectl -l takes it (app=api)" },
	{ "phase", PARAM_ENUM, false, NULL, 0, 0, k8s_pod_phases, "count pods in this phase" },
	{ "reason", PARAM_STRING, false, NULL, 1, 64, NULL,
	  "count pods showing this reason (CrashLoopBackOff, OOMKilled, ImagePullBackOff, "
	  "Unschedulable...)" },
	{ "ready", PARAM_BOOL, false, NULL, 0, 0, NULL,
	  "count pods that are (true) or are not (false) Ready" },
	{ "min_restarts", PARAM_INT, false, NULL, 1, 1000000, NULL,
	  "count pods whose containers restarted at least this often" },
	{ "min", PARAM_INT, false, NULL, 0, 100000, NULL,
	  "met when at least this many pods match (default 1 when max is not given)" },
	{ "max", PARAM_INT, false, NULL, 0, 100000, NULL, "met when at most this many pods match" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

/* Pods named in the observation. */
#define LIST_PODS 2

static int k8s_pod_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

static int k8s_pod_validate(const struct params *p, char *msg, size_t size)
{
	if (params_isset(p, "min") && params_isset(p, "max") &&
	    params_int(p, "min", 0) > params_int(p, "max", 0)) {
		snprintf(msg, size, "min is above max: nothing could meet it");
		return -1;
	}
	return 0;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static bool reason_in_state(const cJSON *state, const char *reason)
{
	const char *w = str_at(state, "waiting", "reason");
	const char *t = str_at(state, "terminated", "reason");

	return (w && !strcmp(w, reason)) || (t && !strcmp(t, reason));
}

static bool pod_has_reason(const cJSON *pod, const char *reason)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses", NULL };
	const cJSON *c;
	const char *r = str_at(st, "reason", NULL);

	if (r && !strcmp(r, reason))
		return true;
	cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(st, "conditions")) {
		const char *cr = str_at(c, "reason", NULL), *cs = str_at(c, "status", NULL);

		if (cr && cs && strcmp(cs, "True") && !strcmp(cr, reason))
			return true;
	}
	for (size_t i = 0; lists[i]; i++)
		cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(st, lists[i]))
			if (reason_in_state(cJSON_GetObjectItemCaseSensitive(c, "state"), reason) ||
			    reason_in_state(cJSON_GetObjectItemCaseSensitive(c, "lastState"),
					    reason))
				return true;
	return false;
}

static bool pod_ready(const cJSON *pod)
{
	const cJSON *c;

	cJSON_ArrayForEach (
		c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "status"),
						    "conditions")) {
		const char *t = str_at(c, "type", NULL), *s = str_at(c, "status", NULL);

		if (t && s && !strcmp(t, "Ready"))
			return !strcmp(s, "True");
	}
	return false;
}

static int pod_restarts(const cJSON *pod)
{
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach (
		c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "status"),
						    "containerStatuses")) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "restartCount");

		if (cJSON_IsNumber(r))
			n += r->valueint;
	}
	return n;
}

/* The STATUS word kubectl get pods prints, roughly: the last container's
 * waiting or terminated reason, else the phase. */
static const char *pod_word(const cJSON *pod)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	const char *word = str_at(st, "reason", NULL);
	const cJSON *c;

	if (!word)
		word = str_at(st, "phase", NULL);
	cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(st, "containerStatuses")) {
		const cJSON *state = cJSON_GetObjectItemCaseSensitive(c, "state");
		const char *w = str_at(state, "waiting", "reason");
		const char *t = str_at(state, "terminated", "reason");

		if (w)
			word = w;
		else if (t)
			word = t;
	}
	return word ? word : "Unknown";
}

static bool pod_matches(const struct params *p, const cJSON *pod)
{
	const char *phase = params_str(p, "phase", NULL);
	const char *reason = params_str(p, "reason", NULL);
	const char *have = str_at(cJSON_GetObjectItemCaseSensitive(pod, "status"), "phase", NULL);

	if (phase && (!have || strcmp(have, phase)))
		return false;
	if (reason && !pod_has_reason(pod, reason))
		return false;
	if (params_isset(p, "ready") && pod_ready(pod) != params_bool(p, "ready", false))
		return false;
	if (params_isset(p, "min_restarts") && pod_restarts(pod) < params_int(p, "min_restarts", 0))
		return false;
	return true;
}

/* "reason CrashLoopBackOff, not ready" */
static void describe_filter(const struct params *p, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	if (params_isset(p, "phase"))
		off += (size_t)snprintf(buf + off, size - off, "phase %s",
					params_str(p, "phase", ""));
	if (params_isset(p, "reason") && off < size)
		off += (size_t)snprintf(buf + off, size - off, "%sreason %s", off ? ", " : "",
					params_str(p, "reason", ""));
	if (params_isset(p, "ready") && off < size)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
					params_bool(p, "ready", false) ? "ready" : "not ready");
	if (params_isset(p, "min_restarts") && off < size)
		snprintf(buf + off, size - off, "%s>= %lld restarts", off ? ", " : "",
			 params_int(p, "min_restarts", 0));
	if (!buf[0])
		snprintf(buf, size, "any state");
}

static int k8s_pod_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *sel = params_str(ctx->params, "selector", NULL);
	struct kube_target t;
	cJSON *list = NULL;
	const cJSON *pod;
	char filter[160], names[160] = "";
	int rc, total = 0, match = 0, listed = 0;
	size_t off;

	if (kube_memo_recall(ctx, &rc, obs, size, err))
		return rc;
	kube_target_init(&t, ctx->params);
	if (kube_list(&t, "pods", sel, NULL, &list, err)) {
		cl_error_prefix(err, "k8s-pod");
		return kube_memo_store(ctx, CHECK_ERROR, "", err);
	}
	cJSON_ArrayForEach (pod, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		if (str_at(pod, "metadata", "deletionTimestamp"))
			continue;
		total++;
		if (!pod_matches(ctx->params, pod))
			continue;
		if (listed < LIST_PODS) {
			off = strlen(names);
			snprintf(names + off, sizeof(names) - off, "%s%s (%s, %d restart%s)",
				 listed ? ", " : "", str_at(pod, "metadata", "name"), pod_word(pod),
				 pod_restarts(pod), pod_restarts(pod) == 1 ? "" : "s");
		}
		listed++;
		match++;
	}
	describe_filter(ctx->params, filter, sizeof(filter));
	off = (size_t)snprintf(obs, size, "%d of %d pod%s with %s: %s", match, total,
			       total == 1 ? "" : "s", sel, filter);
	if (names[0] && off < size)
		snprintf(obs + off, size - off, " - %s%s", names, match > LIST_PODS ? ", ..." : "");
	rc = CHECK_MET;
	if (params_isset(ctx->params, "min") || !params_isset(ctx->params, "max")) {
		if (match < params_int(ctx->params, "min", 1))
			rc = CHECK_NOT_MET;
	}
	if (params_isset(ctx->params, "max") && match > params_int(ctx->params, "max", 0))
		rc = CHECK_NOT_MET;
	cJSON_Delete(list);
	return kube_memo_store(ctx, rc, obs, NULL);
}

const struct verifier k8s_pod_verifier = {
	.name = "k8s-pod",
	.summary = "pods with a label selector in a phase, with a reason, ready or restarting",
	.params = k8s_pod_params,
	.supported = k8s_pod_supported,
	.validate = k8s_pod_validate,
	.check = k8s_pod_check,
	.release = kube_memo_release,
};
