/* k8s-event: an event with a given reason appeared since the drill started.
 *
 * What `kubectl get events --field-selector reason=REASON` and the Events
 * section of `kubectl describe` show: FailedScheduling from the scheduler,
 * BackOff and Unhealthy from the kubelet, ProvisioningFailed from the volume
 * controller, FailedGetResourceMetric from the autoscaler. Only events last
 * seen at or after the start count, so an old event from yesterday's drill
 * does not confirm today's: the start is the apply time of the inject step
 * named by `injection`, else the first time this criterion was checked.
 * Event times have whole seconds; the start is rounded down to match.
 *
 * Filters: kind and name (a prefix: "web-" matches the web pods) of the
 * involved object, type (Normal or Warning), a substring of the message. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const k8s_event_types[] = { "Normal", "Warning", NULL };

static const struct param_spec k8s_event_params[] = {
	{ "reason", PARAM_STRING, true, NULL, 1, 128, NULL,
	  "the event reason (FailedScheduling, BackOff, Unhealthy, ProvisioningFailed...)" },
	{ "kind", PARAM_STRING, false, NULL, 1, 64, NULL,
	  "kind of the involved object (Pod, PersistentVolumeClaim, HorizontalPodAutoscaler...)" },
	{ "name", PARAM_STRING, false, NULL, 1, 253, NULL,
	  "name prefix of the involved object (web- matches the pods of web)" },
	{ "type", PARAM_ENUM, false, NULL, 0, 0, k8s_event_types, "Normal or Warning" },
	{ "message", PARAM_STRING, false, NULL, 1, 256, NULL,
	  "a substring the message must contain" },
	{ "injection", PARAM_STRING, false, NULL, 1, 80, NULL,
	  "count events since this inject step was applied (default: since the first check)" },
	{ "min", PARAM_INT, false, "1", 1, 100000, NULL,
	  "met when at least this many events match" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int k8s_event_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* When the event was last seen: core/v1 events have lastTimestamp, events
 * written through events.k8s.io have a series or an eventTime instead. */
static double event_time(const cJSON *ev)
{
	const char *c[] = { str_at(ev, "lastTimestamp", NULL),
			    str_at(ev, "series", "lastObservedTime"), str_at(ev, "eventTime", NULL),
			    str_at(ev, "firstTimestamp", NULL),
			    str_at(ev, "metadata", "creationTimestamp") };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double t = kube_time(c[i]);

		if (t >= 0)
			return t;
	}
	return -1;
}

/* The start, epoch seconds; -1 with err when the injection is unknown. */
static double since_of(struct check_ctx *ctx, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const cJSON *undo, *at;

	if (!inj)
		return kube_memo_first_check(ctx);
	if (!ctx->env || !ctx->env->injection) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "injection '%s' can only be looked up during a drill", inj);
		return -1;
	}
	undo = ctx->env->injection(ctx->env->opaque, inj);
	at = cJSON_GetObjectItemCaseSensitive(undo, "started_at");
	if (!cJSON_IsNumber(at)) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "inject step '%s' has no start time (not applied, or "
			     "not a Kubernetes step)",
			     inj);
		return -1;
	}
	return at->valuedouble;
}

static int k8s_event_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *reason = params_str(ctx->params, "reason", NULL);
	const char *kind = params_str(ctx->params, "kind", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *type = params_str(ctx->params, "type", NULL);
	const char *msg = params_str(ctx->params, "message", NULL);
	struct kube_target t;
	cJSON *list = NULL;
	const cJSON *ev, *latest = NULL;
	double since, latest_t = -1;
	char fields[512], stamp[16];
	long long count = 0;
	int rc;
	size_t off;

	if (kube_memo_recall(ctx, &rc, obs, size, err))
		return rc;
	since = since_of(ctx, err);
	if (since < 0)
		goto fail;
	since = floor(since);
	kube_target_init(&t, ctx->params);
	off = (size_t)snprintf(fields, sizeof(fields), "reason=%s", reason);
	if (kind)
		off += (size_t)snprintf(fields + off, sizeof(fields) - off,
					",involvedObject.kind=%s", kind);
	if (type)
		snprintf(fields + off, sizeof(fields) - off, ",type=%s", type);
	if (kube_list(&t, "events", NULL, fields, &list, err))
		goto fail;
	cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		const char *iname = str_at(ev, "involvedObject", "name");
		const char *m = str_at(ev, "message", NULL);
		double at = event_time(ev);

		if (at < since)
			continue;
		if (name && (!iname || strncmp(iname, name, strlen(name))))
			continue;
		if (msg && (!m || !strstr(m, msg)))
			continue;
		count++;
		if (at >= latest_t) {
			latest_t = at;
			latest = ev;
		}
	}
	{
		time_t s = (time_t)since;
		struct tm tm;

		localtime_r(&s, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	}
	off = (size_t)snprintf(obs, size, "%lld %s event%s since %s", count, reason,
			       count == 1 ? "" : "s", stamp);
	if (latest && off < size) {
		const char *k = str_at(latest, "involvedObject", "kind");
		const char *iname = str_at(latest, "involvedObject", "name");
		const char *m = str_at(latest, "message", NULL);
		char lower[64];
		size_t i;

		for (i = 0; k && k[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
		lower[i] = '\0';
		snprintf(obs + off, size - off, " (latest %s/%s: %s)", lower, iname ? iname : "?",
			 m ? m : "");
	}
	rc = count >= params_int(ctx->params, "min", 1) ? CHECK_MET : CHECK_NOT_MET;
	cJSON_Delete(list);
	return kube_memo_store(ctx, rc, obs, NULL);
fail:
	cJSON_Delete(list);
	cl_error_prefix(err, "k8s-event");
	return kube_memo_store(ctx, CHECK_ERROR, "", err);
}

const struct verifier k8s_event_verifier = {
	.name = "k8s-event",
	.summary = "a Kubernetes event with a given reason appeared since the drill started",
	.params = k8s_event_params,
	.supported = k8s_event_supported,
	.check = k8s_event_check,
	.release = kube_memo_release,
};
