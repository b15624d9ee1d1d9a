/* k8s-apply: create the objects of a broken manifest.
 *
 * A drill that needs something new in the cluster (a Deployment whose memory
 * limit is below what it uses, a PersistentVolumeClaim for a StorageClass that
 * does not exist) ships it as a manifest under manifests/broken/. kubectl
 * parses it (`kubectl create --dry-run=client -o json`); each object must be a
 * namespaced kind chaoslab knows how to remove, in the step's namespace, and
 * must not exist yet: an object that is already there is not ours to delete
 * afterwards, so the step refuses before creating anything.
 *
 * Each object is labelled chaoslab.io/run=<run> (annotations carry the run id
 * and step), journaled, then created (`kubectl create --save-config`, so the
 * engineer may `kubectl apply` over it), and its uid journaled.
 *
 * Revert deletes exactly what it created, newest first: the object at the
 * same path whose uid is the one created, with a server-side uid
 * precondition. An object with another uid is deleted only when it carries
 * this run's label and run id (the engineer recreated ours from its own
 * YAML, e.g. `kubectl replace --force`, or the harness died before the uid
 * reached the journal); anything else is left alone and reported.
 *
 * Undo data: {"kube": target, "manifest", "label", "objects": [{"apiVersion",
 * "kind", "name", "path", "uid"}], "started_at"}. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/registry.h"
#include "core/scenario.h"
#include "sys/kube.h"

static const struct param_spec k8s_apply_params[] = {
	{ "manifest", PARAM_STRING, true, NULL, 1, 1024, NULL,
	  "YAML or JSON manifest, relative to the catalog root (e.g. manifests/broken/x.yaml)" },
	KUBE_TARGET_PARAMS,
	{ NULL },
};

static int k8s_apply_supported(const struct params *params, char *why, size_t size)
{
	return kube_supported(params, why, size);
}

/* An absolute manifest path: as given, or under the catalog root (the
 * parent of the scenario directory), or under the source tree. -1 when it
 * is in none of them. */
static int resolve_manifest(const char *m, char *buf, size_t size)
{
	char cat[PATH_MAX], *root;

	if (m[0] == '/') {
		snprintf(buf, size, "%s", m);
		return access(buf, R_OK);
	}
	snprintf(cat, sizeof(cat), "%s", scenario_catalog_dir());
	root = dirname(cat);
	snprintf(buf, size, "%s/%s", root, m);
	if (access(buf, R_OK) == 0)
		return 0;
	snprintf(buf, size, "%s/%s", CHAOSLAB_SOURCE_DIR, m);
	if (access(buf, R_OK) == 0)
		return 0;
	snprintf(buf, size, "%s/%s", root, m);
	return -1;
}

static int k8s_apply_validate(const struct params *p, char *msg, size_t size)
{
	char path[PATH_MAX];
	const char *m = params_str(p, "manifest", "");

	if (resolve_manifest(m, path, sizeof(path))) {
		snprintf(msg, size, "manifest '%s' not found (looked for %s)", m, path);
		return -1;
	}
	return 0;
}

/* The objects the manifest holds, as kubectl reads it: a JSON array the
 * caller owns, or NULL with err. */
static cJSON *manifest_objects(const struct kube_target *t, const char *path, struct cl_error *err)
{
	const char *args[] = { "create", "--dry-run=client", "-o", "json", "-f", path, NULL };
	struct kube_result r;
	cJSON *doc = NULL, *items = NULL;

	if (kube_run(t, args, NULL, 0, &r, err))
		return NULL;
	if (r.status) {
		kube_fail(t, "kubectl create --dry-run=client", &r, err);
		goto out;
	}
	/* One JSON document per object, one after the other (a List when
	 * kubectl decides to print one). */
	items = cJSON_CreateArray();
	if (!items) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	for (const char *p = r.out;;) {
		const char *end = NULL;

		while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			break;
		doc = cJSON_ParseWithOpts(p, &end, 0);
		if (!doc || !end) {
			cl_error_set(err, CL_EXIT_USAGE, "%s: kubectl did not print JSON", path);
			cJSON_Delete(items);
			items = NULL;
			goto out;
		}
		if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "items"))) {
			cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(doc, "items"), *it;

			while ((it = cJSON_DetachItemFromArray(list, 0)))
				cJSON_AddItemToArray(items, it);
			cJSON_Delete(list);
			cJSON_Delete(doc);
		} else {
			cJSON_AddItemToArray(items, doc);
		}
		doc = NULL;
		p = end;
	}
	if (items && !cJSON_GetArraySize(items)) {
		cl_error_set(err, CL_EXIT_USAGE, "%s holds no objects", path);
		cJSON_Delete(items);
		items = NULL;
	}
out:
	cJSON_Delete(doc);
	kube_result_release(&r);
	return items;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static cJSON *object_map(cJSON *obj, const char *a, const char *b)
{
	cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, a);

	if (!cJSON_IsObject(x)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, a);
		x = cJSON_AddObjectToObject(obj, a);
	}
	if (b) {
		cJSON *y = cJSON_GetObjectItemCaseSensitive(x, b);

		if (!cJSON_IsObject(y)) {
			cJSON_DeleteItemFromObjectCaseSensitive(x, b);
			y = cJSON_AddObjectToObject(x, b);
		}
		x = y;
	}
	return x;
}

static void set_string(cJSON *map, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(map, k);
	cJSON_AddStringToObject(map, k, v);
}

/* Check every object before anything is created; fills the undo entries. */
static int check_objects(const struct kube_target *t, cJSON *items, cJSON *entries,
			 const char *manifest, struct cl_error *err)
{
	cJSON *obj;

	cJSON_ArrayForEach (obj, items) {
		const char *av = str_at(obj, "apiVersion", NULL), *kind = str_at(obj, "kind", NULL);
		const char *name = str_at(obj, "metadata", "name");
		const char *ns = str_at(obj, "metadata", "namespace");
		char path[512], res[160];
		cJSON *e, *found = NULL;
		int got;

		if (!kube_kind_resource(av, kind, res, sizeof(res)))
			return cl_error_set(
				err, CL_EXIT_USAGE,
				"%s: %s (%s) is not a kind chaoslab creates and removes "
				"(namespaced workloads, services, claims, config)",
				manifest, kind ? kind : "?", av ? av : "?");
		if (!name)
			return cl_error_set(err, CL_EXIT_USAGE, "%s: a %s without metadata.name",
					    manifest, kind);
		if (ns && strcmp(ns, t->ns))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "%s: %s %s is for namespace %s, the step's is %s",
					    manifest, kind, name, ns, t->ns);
		if (!kube_api_path(obj, t->ns, path, sizeof(path)))
			return cl_error_set(err, CL_EXIT_USAGE, "%s: %s %s has no API path",
					    manifest, kind, name);
		if (kube_can_i(t, "create", res, err) || kube_can_i(t, "delete", res, err))
			return -1;
		got = kube_get_raw(t, path, &found, err);
		cJSON_Delete(found);
		if (got < 0)
			return -1;
		if (got == 0)
			return cl_error_set(
				err, CL_EXIT_USAGE,
				"%s %s already exists in namespace %s: it is not chaoslab's "
				"to create and delete (left over from an earlier drill? "
				"kubectl -n %s delete %s %s)",
				kind, name, t->ns, t->ns, res, name);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "apiVersion", av);
		cJSON_AddStringToObject(e, "kind", kind);
		cJSON_AddStringToObject(e, "name", name);
		cJSON_AddStringToObject(e, "path", path);
		cJSON_AddNullToObject(e, "uid");
		cJSON_AddItemToArray(entries, e);
	}
	return 0;
}

static int k8s_apply_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *manifest = params_str(ctx->params, "manifest", NULL);
	struct kube_target t;
	char path[PATH_MAX], label[64];
	cJSON *items = NULL, *entries = NULL, *obj;
	int rc = -1, i = 0;

	if (resolve_manifest(manifest, path, sizeof(path))) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "k8s-apply: manifest '%s' not found (looked for %s)", manifest, path);
		return -1;
	}
	if (kube_inject_begin(ctx, &t, err))
		goto out;
	items = manifest_objects(&t, path, err);
	entries = cJSON_CreateArray();
	if (!items || !entries || check_objects(&t, items, entries, manifest, err))
		goto out;
	kube_label_value(ctx->run_id, label, sizeof(label));
	cJSON_AddStringToObject(ctx->undo, "manifest", path);
	cJSON_AddStringToObject(ctx->undo, "label", label);
	cJSON_AddItemToObject(ctx->undo, "objects", entries);
	entries = NULL;
	if (inject_ctx_save(ctx, err))
		goto out;
	cJSON_ArrayForEach (obj, items) {
		cJSON *e = cJSON_GetArrayItem(
			cJSON_GetObjectItemCaseSensitive(ctx->undo, "objects"), i++);
		cJSON *created = NULL;
		const char *uid;

		set_string(object_map(obj, "metadata", NULL), "namespace", t.ns);
		set_string(object_map(obj, "metadata", "labels"), KUBE_RUN_LABEL, label);
		set_string(object_map(obj, "metadata", "annotations"), KUBE_RUN_ANNOTATION,
			   ctx->run_id);
		set_string(object_map(obj, "metadata", "annotations"), KUBE_STEP_ANNOTATION,
			   ctx->step_id);
		if (kube_create(&t, obj, &created, err)) {
			cl_error_prefix(err, "k8s-apply: %s %s", str_at(obj, "kind", NULL),
					str_at(obj, "metadata", "name"));
			goto out;
		}
		uid = str_at(created, "metadata", "uid");
		if (uid)
			cJSON_ReplaceItemInObjectCaseSensitive(e, "uid", cJSON_CreateString(uid));
		cJSON_Delete(created);
		if (inject_ctx_save(ctx, err))
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(items);
	cJSON_Delete(entries);
	return rc;
}

/* Is obj the one this run created: its uid, or this run's label and id? */
static bool ours(const cJSON *obj, const cJSON *entry, const char *label, const char *run_id,
		 bool *recreated)
{
	const char *uid = str_at(obj, "metadata", "uid");
	const char *want = str_at(entry, "uid", NULL);
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels");
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "annotations");
	const char *l = str_at(labels, KUBE_RUN_LABEL, NULL);
	const char *a = str_at(ann, KUBE_RUN_ANNOTATION, NULL);

	*recreated = false;
	if (uid && want && !strcmp(uid, want))
		return true;
	if (l && a && label && run_id && !strcmp(l, label) && !strcmp(a, run_id)) {
		*recreated = want != NULL;
		return true;
	}
	return false;
}

static int k8s_apply_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *objects = cJSON_GetObjectItemCaseSensitive(ctx->undo, "objects");
	const cJSON *labelj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "label");
	const cJSON *runj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "run");
	const char *run_id = cJSON_IsString(runj) ? runj->valuestring : ctx->run_id;
	struct kube_target t;
	char deleted[200] = "", left[200] = "";
	int ndel = 0, nleft = 0, n;

	ctx->report[0] = '\0';
	if (kube_revert_target(ctx, &t) || !cJSON_IsArray(objects))
		return 0;
	n = cJSON_GetArraySize(objects);
	for (int i = n - 1; i >= 0; i--) {
		const cJSON *e = cJSON_GetArrayItem(objects, i);
		const char *path = str_at(e, "path", NULL), *kind = str_at(e, "kind", NULL);
		const char *name = str_at(e, "name", NULL);
		cJSON *obj = NULL;
		bool recreated;
		int got;

		if (!path || !kind || !name)
			continue;
		got = kube_get_raw(&t, path, &obj, err);
		if (got < 0)
			goto fail;
		if (got == 1)
			continue;
		if (!ours(obj, e, cJSON_IsString(labelj) ? labelj->valuestring : NULL, run_id,
			  &recreated)) {
			size_t off = strlen(left);

			snprintf(left + off, sizeof(left) - off, "%s%s %s", nleft++ ? ", " : "",
				 kind, name);
			cJSON_Delete(obj);
			continue;
		}
		got = kube_delete_uid(&t, path, str_at(obj, "metadata", "uid"), err);
		cJSON_Delete(obj);
		if (got < 0)
			goto fail;
		if (got == 0) {
			size_t off = strlen(deleted);

			snprintf(deleted + off, sizeof(deleted) - off, "%s%s %s%s",
				 ndel++ ? ", " : "", kind, name,
				 recreated ? " (recreated from ours)" : "");
		}
	}
	if (ndel)
		snprintf(ctx->report, sizeof(ctx->report), "deleted %s in %s%s%s%s", deleted, t.ns,
			 nleft ? "; left " : "", left, nleft ? " (not created by this run)" : "");
	else if (nleft)
		snprintf(ctx->report, sizeof(ctx->report), "left %s (not created by this run)",
			 left);
	return 0;
fail:
	cl_error_prefix(err, "k8s-apply");
	return -1;
}

const struct injector k8s_apply_injector = {
	.name = "k8s-apply",
	.summary = "create the objects of a broken manifest; revert deletes exactly those",
	.params = k8s_apply_params,
	.supported = k8s_apply_supported,
	.validate = k8s_apply_validate,
	.apply = k8s_apply_apply,
	.revert = k8s_apply_revert,
};
