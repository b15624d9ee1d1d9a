/* broken-selector: a Service whose selector matches no pod.
 *
 * Only spec.selector changes: the Service keeps its name, cluster IP and
 * ports, DNS still resolves it and clients still connect to its IP, but the
 * endpoints controllers find no pod behind it, so the EndpointSlices and
 * Endpoints go empty and every connection is refused or times out. Two ways:
 *
 *   mode typo     one selector value gets a near-miss typo ("api" -> "aip"):
 *                 the hand edit or copy-paste mistake (`key` picks which
 *                 label, `value` gives the wrong value outright)
 *   mode nothing  one more label requirement no pod carries ("version=v2"):
 *                 a selector tightened ahead of a rollout that never came
 *
 * Before changing anything it checks that the broken selector matches no pod
 * at all (else the drill would not break). The change is one JSON patch whose
 * "test" operations make the API server apply it only to the same Service
 * (uid) still holding the selector that was read.
 *
 * Undo data: {"kube": target, "service", "uid", "original": selector,
 * "broken": selector, "started_at"}. Revert restores "original" the same way,
 * and only while the Service still holds "broken": a selector the engineer
 * already fixed, or changed to something else, is left as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const broken_selector_modes[] = { "typo", "nothing", NULL };

static const struct param_spec broken_selector_params[] = {
	{ "service", PARAM_STRING, true, NULL, 1, 253, NULL, "the Service to break" },
	{ "mode", PARAM_ENUM, false, "typo", 0, 0, broken_selector_modes,
	  "typo: a near-miss of one selector value; nothing: an extra label no pod has" },
	{ "key", PARAM_STRING, false, NULL, 1, 317, NULL,
	  "typo: the selector label to misspell (default: the first); nothing: the extra label "
	  "(default version)" },
	{ "value", PARAM_STRING, false, NULL, 1, 63, NULL,
	  "the wrong value (default: typo swaps the last two letters; nothing uses v2)" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int broken_selector_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

/* "api" -> "aip": swap the last two characters; when they are the same, or
 * there is only one, double the last. */
static void near_miss(const char *v, char *buf, size_t size)
{
	size_t n = strlen(v);

	if (n >= 2 && v[n - 1] != v[n - 2]) {
		snprintf(buf, size, "%.*s%c%c", (int)(n - 2), v, v[n - 1], v[n - 2]);
		return;
	}
	snprintf(buf, size, "%s%c", v, n ? v[n - 1] : 'x');
}

/* "k1=v1,k2=v2" for kubectl -l. */
static void selector_text(const cJSON *sel, char *buf, size_t size)
{
	const cJSON *it;
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach (it, sel) {
		if (!cJSON_IsString(it) || off + 1 >= size)
			continue;
		off += (size_t)snprintf(buf + off, size - off, "%s%s=%s", off ? "," : "",
					it->string, it->valuestring);
	}
}

/* The first key in byte order: what `key` defaults to. */
static const char *first_key(const cJSON *sel)
{
	const cJSON *it;
	const char *best = NULL;

	cJSON_ArrayForEach (it, sel)
		if (!best || strcmp(it->string, best) < 0)
			best = it->string;
	return best;
}

/* The broken selector (caller owns), or NULL with err. */
static cJSON *make_broken(const struct params *p, const cJSON *orig, const char *svc,
			  struct cl_error *err)
{
	const char *mode = params_str(p, "mode", "typo");
	const char *key = params_str(p, "key", NULL);
	const char *value = params_str(p, "value", NULL);
	cJSON *broken = cJSON_Duplicate(orig, 1);
	char wrong[128];

	if (!broken) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	if (!strcmp(mode, "typo")) {
		const cJSON *cur;

		if (!key)
			key = first_key(orig);
		cur = key ? cJSON_GetObjectItemCaseSensitive(orig, key) : NULL;
		if (!cJSON_IsString(cur)) {
			cl_error_set(err, CL_EXIT_USAGE, "service %s has no selector label '%s'",
				     svc, key ? key : "?");
			goto fail;
		}
		if (value)
			snprintf(wrong, sizeof(wrong), "%s", value);
		else
			near_miss(cur->valuestring, wrong, sizeof(wrong));
		if (!strcmp(wrong, cur->valuestring)) {
			cl_error_set(err, CL_EXIT_USAGE, "value '%s' is the selector's own value",
				     wrong);
			goto fail;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(broken, key, cJSON_CreateString(wrong));
	} else {
		if (!key)
			key = "version";
		if (cJSON_GetObjectItemCaseSensitive(orig, key)) {
			cl_error_set(err, CL_EXIT_USAGE,
				     "service %s already selects on '%s': pick another key", svc,
				     key);
			goto fail;
		}
		cJSON_AddStringToObject(broken, key, value ? value : "v2");
	}
	return broken;
fail:
	cJSON_Delete(broken);
	return NULL;
}

/* A JSON patch: test uid, test /spec/selector == from, replace with to. */
static char *selector_patch(const char *uid, const cJSON *from, const cJSON *to)
{
	cJSON *ops = cJSON_CreateArray(), *op;
	char *text;

	op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", "test");
	cJSON_AddStringToObject(op, "path", "/metadata/uid");
	cJSON_AddStringToObject(op, "value", uid);
	cJSON_AddItemToArray(ops, op);
	op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", "test");
	cJSON_AddStringToObject(op, "path", "/spec/selector");
	cJSON_AddItemToObject(op, "value", cJSON_Duplicate(from, 1));
	cJSON_AddItemToArray(ops, op);
	op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", "replace");
	cJSON_AddStringToObject(op, "path", "/spec/selector");
	cJSON_AddItemToObject(op, "value", cJSON_Duplicate(to, 1));
	cJSON_AddItemToArray(ops, op);
	text = cJSON_PrintUnformatted(ops);
	cJSON_Delete(ops);
	return text;
}

static int broken_selector_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *svc = params_str(ctx->params, "service", NULL);
	struct kube_target t;
	cJSON *obj = NULL, *broken = NULL, *pods = NULL;
	const cJSON *sel, *uid;
	char seltext[1024], *patch = NULL;
	int rc = -1, got;

	if (kube_inject_begin(ctx, &t, err) || kube_can_i(&t, "get", "services", err) ||
	    kube_can_i(&t, "patch", "services", err) || kube_can_i(&t, "list", "pods", err))
		goto out;
	got = kube_get(&t, "service", svc, &obj, err);
	if (got < 0)
		goto out;
	if (got == 1) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "service %s/%s not found: deploy the demo app first (kubectl apply -f "
			     "manifests/demo/)",
			     t.ns, svc);
		goto out;
	}
	sel = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "spec"),
					       "selector");
	uid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
					       "uid");
	if (!cJSON_IsObject(sel) || !sel->child) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "service %s/%s has no selector: its endpoints are managed by hand",
			     t.ns, svc);
		goto out;
	}
	if (!cJSON_IsString(uid)) {
		cl_error_set(err, CL_EXIT_USAGE, "service %s/%s has no uid", t.ns, svc);
		goto out;
	}
	broken = make_broken(ctx->params, sel, svc, err);
	if (!broken)
		goto out;
	/* The break must land: nothing may match the broken selector. */
	selector_text(broken, seltext, sizeof(seltext));
	if (kube_list(&t, "pods", seltext, NULL, &pods, err))
		goto out;
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pods, "items")) > 0) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "pods in %s match the broken selector %s: the service would keep its "
			     "endpoints; choose another value",
			     t.ns, seltext);
		goto out;
	}
	cJSON_AddStringToObject(ctx->undo, "service", svc);
	cJSON_AddStringToObject(ctx->undo, "uid", uid->valuestring);
	cJSON_AddItemToObject(ctx->undo, "original", cJSON_Duplicate(sel, 1));
	cJSON_AddItemToObject(ctx->undo, "broken", cJSON_Duplicate(broken, 1));
	if (inject_ctx_save(ctx, err))
		goto out;
	patch = selector_patch(uid->valuestring, sel, broken);
	if (!patch) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	got = kube_patch(&t, "service", svc, "json", patch, NULL, NULL, err);
	if (got) {
		if (got == 1)
			cl_error_set(err, CL_EXIT_USAGE, "service %s/%s vanished", t.ns, svc);
		cl_error_prefix(err, "broken-selector");
		goto out;
	}
	rc = 0;
out:
	free(patch);
	cJSON_Delete(obj);
	cJSON_Delete(broken);
	cJSON_Delete(pods);
	return rc;
}

static int broken_selector_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *svcj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "service");
	const cJSON *uidj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "uid");
	const cJSON *orig = cJSON_GetObjectItemCaseSensitive(ctx->undo, "original");
	const cJSON *broken = cJSON_GetObjectItemCaseSensitive(ctx->undo, "broken");
	struct kube_target t;
	cJSON *obj = NULL;
	const cJSON *sel, *uid;
	char text[512], *patch = NULL;
	int rc = -1, got;

	ctx->report[0] = '\0';
	/* Nothing was changed before "broken" reached the journal. */
	if (kube_revert_target(ctx, &t) || !cJSON_IsString(svcj) || !cJSON_IsString(uidj) ||
	    !cJSON_IsObject(orig) || !cJSON_IsObject(broken))
		return 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		enum kube_failure why;

		cJSON_Delete(obj);
		obj = NULL;
		got = kube_get(&t, "service", svcj->valuestring, &obj, err);
		if (got < 0)
			goto out;
		if (got == 1) {
			snprintf(ctx->report, sizeof(ctx->report),
				 "service %s/%s is gone; nothing to restore", t.ns,
				 svcj->valuestring);
			rc = 0;
			goto out;
		}
		uid = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid");
		sel = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(obj, "spec"), "selector");
		if (!cJSON_IsString(uid) || strcmp(uid->valuestring, uidj->valuestring)) {
			snprintf(ctx->report, sizeof(ctx->report),
				 "service %s/%s was recreated since; left as it is", t.ns,
				 svcj->valuestring);
			rc = 0;
			goto out;
		}
		if (sel && cJSON_Compare(sel, orig, 1)) {
			rc = 0; /* the engineer restored it */
			goto out;
		}
		if (!sel || !cJSON_Compare(sel, broken, 1)) {
			selector_text(sel, text, sizeof(text));
			snprintf(
				ctx->report, sizeof(ctx->report),
				"selector of service %s/%s was changed since the drill (now %s); left "
				"as it is",
				t.ns, svcj->valuestring, text[0] ? text : "none");
			rc = 0;
			goto out;
		}
		free(patch);
		patch = selector_patch(uidj->valuestring, broken, orig);
		if (!patch) {
			cl_error_set(err, CL_EXIT_USAGE, "out of memory");
			goto out;
		}
		got = kube_patch(&t, "service", svcj->valuestring, "json", patch, NULL, &why, err);
		if (got == 0) {
			selector_text(orig, text, sizeof(text));
			snprintf(ctx->report, sizeof(ctx->report),
				 "restored the selector %s of service %s/%s", text, t.ns,
				 svcj->valuestring);
			rc = 0;
			goto out;
		}
		/* Changed between our read and the patch: look again. */
		if (got < 0 && why != KUBE_FAIL_INVALID && why != KUBE_FAIL_CONFLICT)
			goto out;
	}
	cl_error_set(err, CL_EXIT_REVERT, "service %s/%s keeps changing; selector not restored",
		     t.ns, svcj->valuestring);
out:
	if (rc)
		cl_error_prefix(err, "broken-selector");
	free(patch);
	cJSON_Delete(obj);
	return rc;
}

const struct injector broken_selector_injector = {
	.name = "broken-selector",
	.summary = "a Service selector that matches no pod (a near-miss typo or an extra label)",
	.params = broken_selector_params,
	.supported = broken_selector_supported,
	.apply = broken_selector_apply,
	.revert = broken_selector_revert,
};
