/* Kubernetes through kubectl.
 *
 * The Kubernetes injectors and verifiers talk to the cluster the way an
 * engineer does: they run kubectl (fork/exec, stdin/stdout/stderr through
 * pipes, a timeout that kills its whole process group) and read its
 * `-o json` output with cJSON. kubectl brings the kubeconfig handling,
 * authentication plugins and version skew rules for free.
 *
 * Which cluster: a struct kube_target names the kubeconfig file (what
 * $KUBECONFIG said when the drill started, "" for kubectl's default), the
 * context ("" for the current one) and the namespace. An injector pins the
 * context name when it applies and journals the target, so a revert run by
 * `chaoslab recover` from another shell still talks to the same cluster.
 *
 * Errors name the problem for people: "no Kubernetes cluster: kubectl cannot
 * reach the API server (...)" when there is no cluster to talk to, and
 * "missing permission: `kubectl auth can-i patch services -n prod-sim` says
 * no" when RBAC refuses. Library code: nothing here prints.
 *
 * $CHAOSLAB_KUBECTL, when set, is the kubectl binary to run (tests); else
 * kubectl is looked up on $PATH. $CHAOSLAB_KUBE_CONTEXT, when set, is the
 * context used when a step does not name one. */
#ifndef CHAOSLAB_KUBE_H
#define CHAOSLAB_KUBE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/param.h"

/* The drills' namespace (manifests/demo). */
#define KUBE_DEFAULT_NAMESPACE "prod-sim"

/* How long one kubectl command may take, and what kubectl is told. */
#define KUBE_TIMEOUT_MS 30000
#define KUBE_REQUEST_TIMEOUT "15s"

/* The label (a label-safe form of the run id) and annotations (the run id and
 * step as they are) carried by every object chaoslab creates. */
#define KUBE_RUN_LABEL "chaoslab.io/run"
#define KUBE_RUN_ANNOTATION "chaoslab.io/run-id"
#define KUBE_STEP_ANNOTATION "chaoslab.io/step"

/* The parameters every Kubernetes injector and verifier takes: put
 * KUBE_TARGET_PARAMS in its param_spec table. */
/* clang-format off */
#define KUBE_TARGET_PARAMS                                                                   \
	{ "namespace", PARAM_STRING, false, KUBE_DEFAULT_NAMESPACE, 1, 63, NULL,             \
	  "namespace of the objects (default prod-sim, the drills' namespace)" },            \
	{ "context", PARAM_STRING, false, NULL, 1, 253, NULL,                                \
	  "kubeconfig context (default: $CHAOSLAB_KUBE_CONTEXT, else kubectl's current context)" }
/* clang-format on */

struct kube_target {
	char kubeconfig[1024]; /* "" = kubectl's default */
	char context[256];     /* "" = the current context */
	char ns[64];	       /* "" = no namespace flag */
};

/* Fill t from a step's parameters (namespace, context; either may be absent
 * from the table) and the environment ($KUBECONFIG, $CHAOSLAB_KUBE_CONTEXT).
 * p may be NULL: the defaults. */
void kube_target_init(struct kube_target *t, const struct params *p);

/* Resolve an empty context to kubectl's current context, so that the journal
 * names the cluster that was changed. 0, or -1 with err ("no Kubernetes
 * cluster: ..." when there is no current context). */
int kube_target_pin(struct kube_target *t, struct cl_error *err);

/* The target as JSON {"kubeconfig","context","namespace"} (caller owns), and
 * back. from_json returns -1 when j is not such an object. */
cJSON *kube_target_to_json(const struct kube_target *t);
int kube_target_from_json(struct kube_target *t, const cJSON *j);

/* One kubectl run. */
struct kube_result {
	int status; /* exit status; 128 + signal when killed by one */
	char *out;  /* stdout, NUL-terminated, owned */
	char *err;  /* stderr, NUL-terminated, owned */
};

/* Run `kubectl [--kubeconfig=K] [--context=C] [--namespace=N]
 * --request-timeout=15s ARGS...` with input (may be NULL) on its stdin, for
 * at most timeout_ms (0 = KUBE_TIMEOUT_MS). Returns 0 when kubectl ran to an
 * exit status, whatever it was (r filled; release with kube_result_release);
 * -1 with err when it could not be run or timed out (r left empty). args is
 * NULL-terminated. When t->ns is "" no namespace flag is given. */
int kube_run(const struct kube_target *t, const char *const *args, const char *input,
	     int timeout_ms, struct kube_result *r, struct cl_error *err);

void kube_result_release(struct kube_result *r);

/* What a failed kubectl run says, from its stderr. */
enum kube_failure {
	KUBE_FAIL_OTHER,
	KUBE_FAIL_NO_CLUSTER,	/* cannot reach an API server, no context */
	KUBE_FAIL_UNAUTHORIZED, /* the server refused the credentials */
	KUBE_FAIL_FORBIDDEN,	/* RBAC said no */
	KUBE_FAIL_NOT_FOUND,
	KUBE_FAIL_CONFLICT, /* resourceVersion or precondition mismatch */
	KUBE_FAIL_INVALID,  /* validation, a failed JSON patch test */
	KUBE_FAIL_EXISTS,
};

enum kube_failure kube_classify(const char *stderr_text);

/* Describe a failed run in err: "no Kubernetes cluster: kubectl cannot reach
 * the API server (LINE)", "missing permission: `kubectl auth can-i VERB
 * RESOURCE -n NS` says no (LINE)", or "WHAT: LINE". Returns the failure kind
 * (err->code is CL_EXIT_PRIVILEGE for the first three kinds). */
enum kube_failure kube_fail(const struct kube_target *t, const char *what,
			    const struct kube_result *r, struct cl_error *err);

/* `kubectl get RESOURCE NAME -o json`. 0 with *obj (caller frees), 1 when it
 * does not exist (*obj NULL), -1 with err. */
int kube_get(const struct kube_target *t, const char *resource, const char *name, cJSON **obj,
	     struct cl_error *err);

/* `kubectl get RESOURCE [-l SELECTOR] [--field-selector FIELDS] -o json`: the
 * List in *list (caller frees; its "items" array holds the objects).
 * selector and fields may be NULL. 0 or -1 with err. */
int kube_list(const struct kube_target *t, const char *resource, const char *selector,
	      const char *fields, cJSON **list, struct cl_error *err);

/* `kubectl patch RESOURCE NAME --type=TYPE -p PATCH -o json` (TYPE json,
 * merge or strategic). 0 with the patched object in *result (may be NULL if
 * not wanted), 1 when the object does not exist, -1 with err (a failed JSON
 * patch "test" is KUBE_FAIL_INVALID in *why, if non-NULL). */
int kube_patch(const struct kube_target *t, const char *resource, const char *name,
	       const char *type, const char *patch, cJSON **result, enum kube_failure *why,
	       struct cl_error *err);

/* `kubectl create --save-config -f - -o json` with obj on stdin. 0 with the
 * created object in *created (caller frees), -1 with err. */
int kube_create(const struct kube_target *t, const cJSON *obj, cJSON **created,
		struct cl_error *err);

/* DELETE the object at REST path api_path (kube_api_path) only if its uid is
 * still uid (a server-side precondition), propagation Background. 0 deleted,
 * 1 gone already or now a different object (uid changed), -1 with err. */
int kube_delete_uid(const struct kube_target *t, const char *api_path, const char *uid,
		    struct cl_error *err);

/* GET a REST path (`kubectl get --raw PATH`). 0 with *obj, 1 not found, -1. */
int kube_get_raw(const struct kube_target *t, const char *api_path, cJSON **obj,
		 struct cl_error *err);

/* `kubectl auth can-i VERB RESOURCE [--subresource=SUB] -n NS`. resource may
 * carry a group ("deployments.apps") and a subresource after a slash
 * ("deployments.apps/scale"). 0 when allowed; -1 with err: "missing
 * permission: `kubectl auth can-i ...` says no". */
int kube_can_i(const struct kube_target *t, const char *verb, const char *resource,
	       struct cl_error *err);

/* Is there a cluster to talk to? kubectl is found and `kubectl version`
 * reaches a server within a short timeout. 0, or -1 with why ("kubectl not
 * found on PATH ...", "no Kubernetes cluster: kubectl cannot reach the API
 * server (...)"). The answer is cached for the process, per kubeconfig and
 * context. */
int kube_reachable(const struct kube_target *t, char *why, size_t size);

/* supported() for Kubernetes injectors and verifiers: kube_reachable for the
 * step's target (params may be NULL). */
int kube_supported(const struct params *params, char *why, size_t size);

/* Forget the cached reachability answers (tests). */
void kube_reachable_reset(void);

/* The REST path of an object (/api/v1/namespaces/NS/services/NAME) from its
 * apiVersion, kind, namespace and name, for the kinds chaoslab creates;
 * NULL when the kind is not one of them. ns is used when the object has no
 * metadata.namespace. */
const char *kube_api_path(const cJSON *obj, const char *ns, char *buf, size_t size);

/* The resource name kubectl and RBAC use for a kind ("deployments.apps",
 * "services") into buf; NULL when the kind is not one kube_api_path knows. */
const char *kube_kind_resource(const char *api_version, const char *kind, char *buf, size_t size);

/* A label-safe form of s (at most 63 characters of [A-Za-z0-9._-], starting
 * and ending with an alphanumeric; long values end in a hash). */
const char *kube_label_value(const char *s, char *buf, size_t size);

/* "kube-system" and the other kube-* namespaces belong to the cluster. */
bool kube_system_namespace(const char *ns);

/* JSON pointer (RFC 6901) of one more reference token: appends "/" + the
 * escaped token to buf. */
void kube_pointer_append(char *buf, size_t size, const char *token);

/* Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:00:00Z",
 * fractions allowed); -1 when it does not parse. */
double kube_time(const char *rfc3339);

/* Injector support. kube_inject_begin fills t from the step's parameters,
 * refuses a kube-* namespace unless the step sets allow_system_namespace,
 * pins the context, and adds {"kube": target, "started_at": epoch seconds}
 * to ctx->undo (journaled by the caller's next inject_ctx_save). 0 or -1.
 * kube_revert_target reads the target back: 0, or 1 when the undo data has
 * none (apply stopped before it touched the cluster). */
struct inject_ctx;
struct revert_ctx;
int kube_inject_begin(struct inject_ctx *ctx, struct kube_target *t, struct cl_error *err);
int kube_revert_target(const struct revert_ctx *ctx, struct kube_target *t);

/* Verifier support: remember a check's answer for a second, so that the
 * engine's 200 ms ticks do not run kubectl five times a second per
 * criterion. recall returns true with *rc, obs and err filled when a fresh
 * answer is remembered; store remembers rc (with obs and err) and returns
 * it. The memo lives in ctx->state; release it with kube_memo_release. */
struct check_ctx;
bool kube_memo_recall(struct check_ctx *ctx, int *rc, char *obs, size_t size, struct cl_error *err);
int kube_memo_store(struct check_ctx *ctx, int rc, const char *obs, const struct cl_error *err);
void kube_memo_release(struct check_ctx *ctx);

/* The first time this criterion was checked (epoch seconds), kept in the
 * memo; 0 before the first check. */
double kube_memo_first_check(struct check_ctx *ctx);

#endif
