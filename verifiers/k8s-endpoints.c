/* k8s-endpoints: how many ready addresses a Service has behind it.
 *
 * What `kubectl get endpointslices -l kubernetes.io/service-name=NAME` (or the
 * older `kubectl get endpoints NAME`) shows: the pods the Service's selector
 * matches that are Ready, by address. Zero means every connection to the
 * Service fails, however healthy the pods look. An endpoint whose "ready"
 * condition is unset counts as ready (the API's rule); terminating endpoints
 * count as neither.
 *
 * source: endpointslices (the default, what kube-proxy reads) or endpoints
 * (the legacy object, deprecated from Kubernetes 1.33). A Service that does
 * not exist has no addresses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const k8s_endpoints_sources[] = { "endpointslices", "endpoints", NULL };

static const struct param_spec k8s_endpoints_params[] = {
	{ "name", PARAM_STRING, true, NULL, 1, 253, NULL,
	  "the Service (its name; not a lab service)" },
	{ "min", PARAM_INT, false, NULL, 0, 100000, NULL,
	  "met when at least this many addresses are ready (give min, max or both)" },
	{ "max", PARAM_INT, false, NULL, 0, 100000, NULL,
	  "met when at most this many addresses are ready" },
	{ "source", PARAM_ENUM, false, "endpointslices", 0, 0, k8s_endpoints_sources,
	  "read EndpointSlices (default) or the legacy Endpoints object" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int k8s_endpoints_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

static int k8s_endpoints_validate(const struct params *p, char *msg, size_t size)
{
	if (!params_isset(p, "min") && !params_isset(p, "max")) {
		snprintf(msg, size, "give min, max or both");
		return -1;
	}
	if (params_isset(p, "min") && params_isset(p, "max") &&
	    params_int(p, "min", 0) > params_int(p, "max", 0)) {
		snprintf(msg, size, "min is above max: nothing could meet it");
		return -1;
	}
	return 0;
}

/* Distinct addresses seen, so that one pod in two slices counts once. */
struct addrs {
	char ip[256][64];
	int n;
};

static bool addrs_add(struct addrs *a, const char *ip)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->ip[i], ip))
			return false;
	if (a->n < 256)
		snprintf(a->ip[a->n++], sizeof(a->ip[0]), "%s", ip);
	return true;
}

static bool cond_false(const cJSON *conds, const char *name)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(conds, name);

	return cJSON_IsBool(c) && cJSON_IsFalse(c);
}

static bool cond_true(const cJSON *conds, const char *name)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(conds, name);

	return cJSON_IsBool(c) && cJSON_IsTrue(c);
}

static int count_slices(const struct kube_target *t, const char *svc, struct addrs *ready,
			struct addrs *notready, struct cl_error *err)
{
	char sel[320];
	cJSON *list = NULL;
	const cJSON *slice;

	snprintf(sel, sizeof(sel), "kubernetes.io/service-name=%s", svc);
	if (kube_list(t, "endpointslices.discovery.k8s.io", sel, NULL, &list, err))
		return -1;
	cJSON_ArrayForEach (slice, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		const cJSON *ep;

		cJSON_ArrayForEach (ep, cJSON_GetObjectItemCaseSensitive(slice, "endpoints")) {
			const cJSON *conds = cJSON_GetObjectItemCaseSensitive(ep, "conditions");
			const cJSON *ip;

			if (cond_true(conds, "terminating"))
				continue;
			cJSON_ArrayForEach (ip, cJSON_GetObjectItemCaseSensitive(ep, "addresses"))
				if (cJSON_IsString(ip))
					addrs_add(cond_false(conds, "ready") ? notready : ready,
						  ip->valuestring);
		}
	}
	cJSON_Delete(list);
	return 0;
}

static int count_endpoints(const struct kube_target *t, const char *svc, struct addrs *ready,
			   struct addrs *notready, struct cl_error *err)
{
	cJSON *ep = NULL;
	const cJSON *sub;
	int got = kube_get(t, "endpoints", svc, &ep, err);

	if (got)
		return got < 0 ? -1 : 0;
	cJSON_ArrayForEach (sub, cJSON_GetObjectItemCaseSensitive(ep, "subsets")) {
		const cJSON *a;

		cJSON_ArrayForEach (a, cJSON_GetObjectItemCaseSensitive(sub, "addresses")) {
			const cJSON *ip = cJSON_GetObjectItemCaseSensitive(a, "ip");

			if (cJSON_IsString(ip))
				addrs_add(ready, ip->valuestring);
		}
		cJSON_ArrayForEach (a, cJSON_GetObjectItemCaseSensitive(sub, "notReadyAddresses")) {
			const cJSON *ip = cJSON_GetObjectItemCaseSensitive(a, "ip");

			if (cJSON_IsString(ip))
				addrs_add(notready, ip->valuestring);
		}
	}
	cJSON_Delete(ep);
	return 0;
}

static int k8s_endpoints_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *svc = params_str(ctx->params, "name", NULL);
	const char *source = params_str(ctx->params, "source", "endpointslices");
	bool slices = !strcmp(source, "endpointslices");
	struct addrs *ready = NULL, *notready = NULL;
	struct kube_target t;
	cJSON *obj = NULL;
	int rc = CHECK_ERROR, got;

	if (kube_memo_recall(ctx, &rc, obs, size, err))
		return rc;
	kube_target_init(&t, ctx->params);
	ready = calloc(1, sizeof(*ready));
	notready = calloc(1, sizeof(*notready));
	if (!ready || !notready) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto fail;
	}
	got = kube_get(&t, "service", svc, &obj, err);
	cJSON_Delete(obj);
	if (got < 0)
		goto fail;
	if (got == 1) {
		snprintf(obs, size, "no service %s/%s: 0 ready addresses", t.ns, svc);
	} else {
		if ((slices ? count_slices : count_endpoints)(&t, svc, ready, notready, err))
			goto fail;
		snprintf(obs, size, "%d ready, %d not ready behind service %s/%s (%s)", ready->n,
			 notready->n, t.ns, svc, slices ? "EndpointSlices" : "Endpoints");
	}
	rc = CHECK_MET;
	if (params_isset(ctx->params, "min") && ready->n < params_int(ctx->params, "min", 0))
		rc = CHECK_NOT_MET;
	if (params_isset(ctx->params, "max") && ready->n > params_int(ctx->params, "max", 0))
		rc = CHECK_NOT_MET;
	rc = kube_memo_store(ctx, rc, obs, NULL);
	goto out;
fail:
	cl_error_prefix(err, "k8s-endpoints");
	rc = kube_memo_store(ctx, CHECK_ERROR, "", err);
out:
	free(ready);
	free(notready);
	return rc;
}

const struct verifier k8s_endpoints_verifier = {
	.name = "k8s-endpoints",
	.summary = "ready addresses behind a Kubernetes Service (EndpointSlices or Endpoints)",
	.params = k8s_endpoints_params,
	.supported = k8s_endpoints_supported,
	.validate = k8s_endpoints_validate,
	.check = k8s_endpoints_check,
	.release = kube_memo_release,
};
