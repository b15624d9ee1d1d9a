/* k8s-patch: change any object with a JSON, merge or strategic merge patch.
 *
 * The generic Kubernetes fault: a Deployment whose pods cannot be scheduled
 * (a nodeSelector no node has), cannot start (a command the image lacks),
 * never turn ready (a probe on the wrong path), or lose their CPU requests
 * (an HPA that cannot compute utilization); a ConfigMap with a broken value.
 * It is `kubectl patch KIND NAME --type=TYPE -p PATCH`.
 *
 * The inverse is computed from the saved object, not from the patch: apply
 * reads the object first and journals it ("before", without status and the
 * fields the API server maintains), patches it, and journals the fields that
 * changed ("changes": JSON pointer, value before, value after), limited to
 * the parts of the object the patch names ("scope"), so that what controllers
 * change elsewhere meanwhile is not mistaken for ours.
 *
 * Revert looks at each changed field now: still what the patch set ->
 * restored, with one JSON patch whose "test" operations make the API server
 * refuse it if the object (uid) or the field changed in between; already back
 * to the old value (the engineer fixed it, e.g. `kubectl rollout undo`) ->
 * nothing to do; anything else -> left alone and reported. When the harness
 * died between the patch and journaling "changes", the fields that differ
 * from "before" within the scope are restored.
 *
 * Undo data: {"kube": target, "resource", "name", "uid", "type", "scope":
 * [pointer...], "before": object, "changes": [{"path", "before"?, "after"?}],
 * "started_at"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/kube.h"

static const char *const k8s_patch_types[] = { "strategic", "merge", "json", NULL };

static const struct param_spec k8s_patch_params[] = {
	{ "kind", PARAM_STRING, true, NULL, 1, 253, NULL,
	  "the resource as kubectl names it: deployment, service, configmap, deployments.apps..." },
	{ "name", PARAM_STRING, true, NULL, 1, 253, NULL, "the object's name" },
	{ "type", PARAM_ENUM, false, "strategic", 0, 0, k8s_patch_types,
	  "patch type, as kubectl patch --type: strategic (default), merge or json" },
	{ "patch", PARAM_STRING, true, NULL, 2, 65536, NULL,
	  "the patch, JSON text (an object; for type json an array of operations)" },
	{ "allow_system_namespace", PARAM_BOOL, false, "false", 0, 0, NULL,
	  "allow a kube-* namespace (the cluster's own objects, e.g. CoreDNS)" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

#define PTR_MAX 1024

static int k8s_patch_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

static int k8s_patch_validate(const struct params *p, char *msg, size_t size)
{
	const char *type = params_str(p, "type", "strategic");
	cJSON *j = cJSON_Parse(params_str(p, "patch", ""));
	const cJSON *op;
	int rc = -1;

	if (!j) {
		snprintf(msg, size, "patch: not valid JSON");
		return -1;
	}
	if (!strcmp(type, "json")) {
		if (!cJSON_IsArray(j) || !j->child) {
			snprintf(msg, size, "patch: a json patch is an array of operations");
			goto out;
		}
		cJSON_ArrayForEach (op, j) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "op");
			const cJSON *path = cJSON_GetObjectItemCaseSensitive(op, "path");

			if (!cJSON_IsString(o) || !cJSON_IsString(path) ||
			    path->valuestring[0] != '/') {
				snprintf(
					msg, size,
					"patch: each operation needs \"op\" and a \"path\" starting "
					"with /");
				goto out;
			}
		}
	} else if (!cJSON_IsObject(j) || !j->child) {
		snprintf(msg, size, "patch: a %s patch is a JSON object", type);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

/* ---- JSON pointers and the diff -------------------------------------------------- */

/* The object without status and the fields the API server maintains. */
static cJSON *prune(const cJSON *obj)
{
	static const char *const volatile_meta[] = {
		"resourceVersion",
		"generation",
		"managedFields",
		"creationTimestamp",
		"uid",
		"selfLink",
		"deletionTimestamp",
		"deletionGracePeriodSeconds",
		NULL,
	};
	static const char *const volatile_ann[] = {
		"deployment.kubernetes.io/revision",
		"kubectl.kubernetes.io/last-applied-configuration",
		NULL,
	};
	cJSON *o = cJSON_Duplicate(obj, 1), *m, *ann;

	if (!o)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
	m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	for (size_t i = 0; volatile_meta[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(m, volatile_meta[i]);
	ann = cJSON_GetObjectItemCaseSensitive(m, "annotations");
	for (size_t i = 0; volatile_ann[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(ann, volatile_ann[i]);
	if (ann && !ann->child)
		cJSON_DeleteItemFromObjectCaseSensitive(m, "annotations");
	return o;
}

/* Is a the pointer b, or a pointer to something inside b? */
static bool ptr_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/');
}

static bool in_scope(const char *path, const cJSON *scope)
{
	const cJSON *s;

	cJSON_ArrayForEach (s, scope)
		if (cJSON_IsString(s) &&
		    (ptr_within(path, s->valuestring) || ptr_within(s->valuestring, path)))
			return true;
	return false;
}

static void scope_add(cJSON *scope, const char *path)
{
	const cJSON *s;

	cJSON_ArrayForEach (s, scope)
		if (!strcmp(s->valuestring, path))
			return;
	cJSON_AddItemToArray(scope, cJSON_CreateString(path));
}

/* The parts of the object a merge or strategic merge patch names: each
 * member down to the first value that is not a plain object. */
static void scope_of_merge(const cJSON *patch, char *path, cJSON *scope)
{
	const cJSON *it;
	size_t len = strlen(path);

	cJSON_ArrayForEach (it, patch) {
		const char *k = it->string;

		if (k[0] == '$') {
			const char *slash = strchr(k, '/');

			if (slash) {
				kube_pointer_append(path, PTR_MAX, slash + 1);
				scope_add(scope, path);
				path[len] = '\0';
			} else {
				scope_add(scope, path);
			}
			continue;
		}
		kube_pointer_append(path, PTR_MAX, k);
		if (cJSON_IsObject(it) && it->child &&
		    !cJSON_GetObjectItemCaseSensitive(it, "$patch"))
			scope_of_merge(it, path, scope);
		else
			scope_add(scope, path);
		path[len] = '\0';
	}
}

/* A JSON patch operation's path, or its parent when it ends in an array
 * index or "-" (the array is what changes). */
static void scope_of_pointer(const char *p, cJSON *scope)
{
	char buf[PTR_MAX];
	char *last;

	snprintf(buf, sizeof(buf), "%s", p);
	last = strrchr(buf, '/');
	if (last && last != buf &&
	    (strspn(last + 1, "0123456789") == strlen(last + 1) || !strcmp(last + 1, "-")))
		*last = '\0';
	scope_add(scope, buf);
}

static cJSON *scope_of(const char *type, const cJSON *patch)
{
	cJSON *scope = cJSON_CreateArray();
	char path[PTR_MAX] = "";
	const cJSON *op;

	if (!scope)
		return NULL;
	if (strcmp(type, "json")) {
		scope_of_merge(patch, path, scope);
		return scope;
	}
	cJSON_ArrayForEach (op, patch) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(op, "path");
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(op, "from");

		if (cJSON_IsString(p))
			scope_of_pointer(p->valuestring, scope);
		if (cJSON_IsString(from))
			scope_of_pointer(from->valuestring, scope);
	}
	return scope;
}

static void change_add(cJSON *changes, const char *path, const cJSON *a, const cJSON *b)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "path", path);
	if (a)
		cJSON_AddItemToObject(c, "before", cJSON_Duplicate(a, 1));
	if (b)
		cJSON_AddItemToObject(c, "after", cJSON_Duplicate(b, 1));
	cJSON_AddItemToArray(changes, c);
}

/* Leaf differences between a and b (either may be NULL: absent) under path,
 * within scope, into changes. Objects are compared member by member, arrays
 * of the same length element by element; anything else is one change. */
static void diff(const cJSON *a, const cJSON *b, char *path, const cJSON *scope, cJSON *changes)
{
	size_t len = strlen(path);
	const cJSON *it;

	if (!a && !b)
		return;
	if (a && b && cJSON_Compare(a, b, 1))
		return;
	if (a && b && cJSON_IsObject(a) && cJSON_IsObject(b)) {
		cJSON_ArrayForEach (it, a) {
			kube_pointer_append(path, PTR_MAX, it->string);
			diff(it, cJSON_GetObjectItemCaseSensitive(b, it->string), path, scope,
			     changes);
			path[len] = '\0';
		}
		cJSON_ArrayForEach (it, b) {
			if (cJSON_GetObjectItemCaseSensitive(a, it->string))
				continue;
			kube_pointer_append(path, PTR_MAX, it->string);
			diff(NULL, it, path, scope, changes);
			path[len] = '\0';
		}
		return;
	}
	if (a && b && cJSON_IsArray(a) && cJSON_IsArray(b) &&
	    cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
		int n = cJSON_GetArraySize(a);

		for (int i = 0; i < n; i++) {
			char idx[16];

			snprintf(idx, sizeof(idx), "%d", i);
			kube_pointer_append(path, PTR_MAX, idx);
			diff(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), path, scope,
			     changes);
			path[len] = '\0';
		}
		return;
	}
	if (in_scope(path, scope))
		change_add(changes, path, a, b);
}

/* The value at a JSON pointer, or NULL when absent. */
static const cJSON *ptr_get(const cJSON *doc, const char *path)
{
	const char *p = path;
	char tok[512];

	while (doc && *p == '/') {
		size_t n = strcspn(p + 1, "/"), o = 0;

		for (size_t i = 0; i < n && o + 1 < sizeof(tok); i++) {
			char c = p[1 + i];

			if (c == '~' && i + 1 < n && (p[2 + i] == '0' || p[2 + i] == '1')) {
				tok[o++] = p[2 + i] == '0' ? '~' : '/';
				i++;
			} else {
				tok[o++] = c;
			}
		}
		tok[o] = '\0';
		if (cJSON_IsArray(doc)) {
			char *end;
			long idx = strtol(tok, &end, 10);

			doc = *tok && !*end && idx >= 0 ? cJSON_GetArrayItem(doc, (int)idx) : NULL;
		} else if (cJSON_IsObject(doc)) {
			doc = cJSON_GetObjectItemCaseSensitive(doc, tok);
		} else {
			doc = NULL;
		}
		p += 1 + n;
	}
	return *p ? NULL : doc;
}

/* "/spec/template/spec/containers/0/command" -> "spec.template.spec.containers[0].command". */
static void ptr_display(const char *path, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const char *p = path; *p == '/' && off + 1 < size;) {
		size_t n = strcspn(p + 1, "/");

		if (n && strspn(p + 1, "0123456789") >= n)
			off += (size_t)snprintf(buf + off, size - off, "[%.*s]", (int)n, p + 1);
		else
			off += (size_t)snprintf(buf + off, size - off, "%s%.*s", off ? "." : "",
						(int)n, p + 1);
		p += 1 + n;
	}
}

/* ---- apply and revert -------------------------------------------------------------- */

static int k8s_patch_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *kind = params_str(ctx->params, "kind", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *type = params_str(ctx->params, "type", "strategic");
	const char *text = params_str(ctx->params, "patch", NULL);
	struct kube_target t;
	cJSON *patch = NULL, *obj = NULL, *after = NULL, *before = NULL, *now = NULL;
	cJSON *scope = NULL, *changes = NULL;
	const cJSON *uid;
	char path[PTR_MAX] = "";
	int rc = -1, got;

	patch = cJSON_Parse(text);
	if (!patch) {
		cl_error_set(err, CL_EXIT_USAGE, "k8s-patch: the patch is not valid JSON");
		goto out;
	}
	if (kube_inject_begin(ctx, &t, err) || kube_can_i(&t, "get", kind, err) ||
	    kube_can_i(&t, "patch", kind, err))
		goto out;
	got = kube_get(&t, kind, name, &obj, err);
	if (got < 0)
		goto out;
	if (got == 1) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "%s %s/%s not found: deploy the demo app first (kubectl apply -f "
			     "manifests/demo/)",
			     kind, t.ns, name);
		goto out;
	}
	uid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
					       "uid");
	before = prune(obj);
	scope = scope_of(type, patch);
	if (!cJSON_IsString(uid) || !before || !scope) {
		cl_error_set(err, CL_EXIT_USAGE, "%s %s/%s: no uid in kubectl's answer", kind, t.ns,
			     name);
		goto out;
	}
	cJSON_AddStringToObject(ctx->undo, "resource", kind);
	cJSON_AddStringToObject(ctx->undo, "name", name);
	cJSON_AddStringToObject(ctx->undo, "uid", uid->valuestring);
	cJSON_AddStringToObject(ctx->undo, "type", type);
	cJSON_AddItemToObject(ctx->undo, "scope", cJSON_Duplicate(scope, 1));
	cJSON_AddItemToObject(ctx->undo, "before", cJSON_Duplicate(before, 1));
	if (inject_ctx_save(ctx, err))
		goto out;
	got = kube_patch(&t, kind, name, type, text, &after, NULL, err);
	if (got) {
		if (got == 1)
			cl_error_set(err, CL_EXIT_USAGE, "%s %s/%s vanished", kind, t.ns, name);
		cl_error_prefix(err, "k8s-patch");
		goto out;
	}
	now = prune(after);
	changes = cJSON_CreateArray();
	if (!now || !changes) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	diff(before, now, path, scope, changes);
	cJSON_AddItemToObject(ctx->undo, "changes", changes);
	changes = NULL;
	if (inject_ctx_save(ctx, err))
		goto out;
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ctx->undo, "changes"))) {
		cl_error_set(
			err, CL_EXIT_NO_SYMPTOM,
			"k8s-patch: the patch changed nothing in %s %s/%s (it already has those "
			"values)",
			kind, t.ns, name);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(patch);
	cJSON_Delete(obj);
	cJSON_Delete(after);
	cJSON_Delete(before);
	cJSON_Delete(now);
	cJSON_Delete(scope);
	cJSON_Delete(changes);
	return rc;
}

static void json_op(cJSON *ops, const char *op, const char *path, const cJSON *value)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", op);
	cJSON_AddStringToObject(o, "path", path);
	if (value)
		cJSON_AddItemToObject(o, "value", cJSON_Duplicate(value, 1));
	cJSON_AddItemToArray(ops, o);
}

struct plan {
	cJSON *ops;    /* the JSON patch restoring what is still ours */
	int restore;   /* fields in it */
	int already;   /* fields back to their old value */
	int conflicts; /* fields changed to something else: left alone */
	char first_restored[160];
	char first_conflict[160];
};

/* Decide, field by field, against the object as it is now. */
static void plan_revert(const cJSON *changes, const cJSON *current, const char *uid,
			struct plan *pl)
{
	const cJSON *c;
	cJSON *uidv = cJSON_CreateString(uid);

	memset(pl, 0, sizeof(*pl));
	pl->ops = cJSON_CreateArray();
	json_op(pl->ops, "test", "/metadata/uid", uidv);
	cJSON_Delete(uidv);
	cJSON_ArrayForEach (c, changes) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "path");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, "before");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(c, "after");
		const cJSON *cur;

		if (!cJSON_IsString(p))
			continue;
		cur = ptr_get(current, p->valuestring);
		if (b ? cur && cJSON_Compare(cur, b, 1) : !cur) {
			if (b)
				json_op(pl->ops, "test", p->valuestring, b);
			if (!a)
				json_op(pl->ops, "remove", p->valuestring, NULL);
			else
				json_op(pl->ops, b ? "replace" : "add", p->valuestring, a);
			if (!pl->restore++)
				ptr_display(p->valuestring, pl->first_restored,
					    sizeof(pl->first_restored));
		} else if (a ? cur && cJSON_Compare(cur, a, 1) : !cur) {
			pl->already++;
		} else {
			if (!pl->conflicts++)
				ptr_display(p->valuestring, pl->first_conflict,
					    sizeof(pl->first_conflict));
		}
	}
}

static int k8s_patch_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(ctx->undo, "resource");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(ctx->undo, "name");
	const cJSON *uidj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "uid");
	const cJSON *before = cJSON_GetObjectItemCaseSensitive(ctx->undo, "before");
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(ctx->undo, "scope");
	const cJSON *changes = cJSON_GetObjectItemCaseSensitive(ctx->undo, "changes");
	struct kube_target t;
	struct plan pl = { 0 };
	cJSON *obj = NULL, *now = NULL, *derived = NULL;
	char path[PTR_MAX], *text = NULL;
	size_t off;
	int rc = -1, got;

	ctx->report[0] = '\0';
	if (kube_revert_target(ctx, &t) || !cJSON_IsString(res) || !cJSON_IsString(name) ||
	    !cJSON_IsString(uidj) || !cJSON_IsObject(before))
		return 0; /* stopped before the patch could have been sent */
	for (int attempt = 0; attempt < 3; attempt++) {
		const cJSON *uid, *todo = changes;
		enum kube_failure why;

		cJSON_Delete(obj);
		cJSON_Delete(now);
		cJSON_Delete(pl.ops);
		obj = now = NULL;
		pl.ops = NULL;
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
		uid = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid");
		if (!cJSON_IsString(uid) || strcmp(uid->valuestring, uidj->valuestring)) {
			snprintf(ctx->report, sizeof(ctx->report),
				 "%s %s/%s was recreated since; left as it is", res->valuestring,
				 t.ns, name->valuestring);
			rc = 0;
			goto out;
		}
		now = prune(obj);
		if (!now) {
			cl_error_set(err, CL_EXIT_REVERT, "out of memory");
			goto out;
		}
		if (!cJSON_IsArray(changes)) {
			/* The harness died right after patching: whatever differs from
			 * "before" within the patch's scope is the patch's doing. */
			cJSON_Delete(derived);
			derived = cJSON_CreateArray();
			path[0] = '\0';
			diff(before, now, path, scope, derived);
			todo = derived;
		}
		plan_revert(todo, now, uidj->valuestring, &pl);
		if (!pl.restore)
			break;
		free(text);
		text = cJSON_PrintUnformatted(pl.ops);
		if (!text) {
			cl_error_set(err, CL_EXIT_REVERT, "out of memory");
			goto out;
		}
		got = kube_patch(&t, res->valuestring, name->valuestring, "json", text, NULL, &why,
				 err);
		if (got == 0)
			break;
		if (got < 0 && why != KUBE_FAIL_INVALID && why != KUBE_FAIL_CONFLICT)
			goto out;
		/* Changed between our read and the patch: look again. */
		if (attempt == 2) {
			cl_error_set(err, CL_EXIT_REVERT, "%s %s/%s keeps changing; not restored",
				     res->valuestring, t.ns, name->valuestring);
			goto out;
		}
	}
	off = 0;
	if (pl.restore)
		off += (size_t)snprintf(ctx->report, sizeof(ctx->report),
					"restored %d field%s of %s %s/%s (%s%s)", pl.restore,
					pl.restore == 1 ? "" : "s", res->valuestring, t.ns,
					name->valuestring, pl.first_restored,
					pl.restore > 1 ? ", ..." : "");
	if (pl.conflicts && off < sizeof(ctx->report))
		snprintf(ctx->report + off, sizeof(ctx->report) - off,
			 "%sleft %d field%s changed since the drill as %s (%s%s)", off ? "; " : "",
			 pl.conflicts, pl.conflicts == 1 ? "" : "s",
			 pl.conflicts == 1 ? "it is" : "they are", pl.first_conflict,
			 pl.conflicts > 1 ? ", ..." : "");
	rc = 0;
out:
	if (rc)
		cl_error_prefix(err, "k8s-patch");
	free(text);
	cJSON_Delete(pl.ops);
	cJSON_Delete(obj);
	cJSON_Delete(now);
	cJSON_Delete(derived);
	return rc;
}

const struct injector k8s_patch_injector = {
	.name = "k8s-patch",
	.summary = "change a Kubernetes object with a JSON, merge or strategic merge patch",
	.params = k8s_patch_params,
	.supported = k8s_patch_supported,
	.validate = k8s_patch_validate,
	.apply = k8s_patch_apply,
	.revert = k8s_patch_revert,
};
