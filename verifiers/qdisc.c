/* qdisc: a queueing discipline is present on (or absent from) an interface,
 * as the kernel reports it over rtnetlink: the same table `tc qdisc show`
 * reads.
 *
 * Which interface: an inject step's (`injection`: the netem or bandwidth
 * step's journaled interface, namespace, handle and kind), an explicit
 * `interface` (in `netns`), or else the lab veth's `end`. Which qdisc: by
 * `handle` (chaoslab's c1ab: unless told otherwise) and `kind`.
 *
 * Typically a symptom ("netem c1ab: delay 100ms on clab-chaoslab") and a fix
 * criterion ("no qdisc of ours on clab-chaoslab (noqueue 0:)"). A namespace
 * or interface that is gone has no qdiscs: absent. */
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "core/registry.h"
#include "lab/network.h"
#include "sys/features.h"
#include "sys/netlink.h"

#define QDISC_LIST_MAX 32

static const char *const qdisc_states[] = { "present", "absent", NULL };
static const char *const qdisc_ends[] = { "host", "lab", NULL };

static const struct param_spec qdisc_params[] = {
	{ "state", PARAM_ENUM, false, "present", 0, 0, qdisc_states,
	  "present: a matching qdisc is there; absent: none is" },
	{ "kind", PARAM_STRING, false, NULL, 0, 31, NULL,
	  "only qdiscs of this kind (netem, tbf, fq_codel...); default: the injection's, else any" },
	{ "handle", PARAM_STRING, false, "ours", 0, 15, NULL,
	  "ours (chaoslab's c1ab:), any, or a handle as tc writes it (1:)" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "the inject step (netem, bandwidth) whose interface, handle and kind to look at" },
	{ "end", PARAM_ENUM, false, "host", 0, 0, qdisc_ends,
	  "without injection or interface: which end of the lab veth (host or lab)" },
	{ "interface", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "look at this interface instead of the lab veth" },
	{ "netns", PARAM_STRING, false, NULL, 0, 63, NULL,
	  "with interface: the network namespace it is in (default: the host's)" },
	{ NULL },
};

static int qdisc_validate(const struct params *p, char *msg, size_t size)
{
	const char *handle = params_str(p, "handle", "ours"), *netns = params_str(p, "netns", NULL);
	uint32_t h;

	if (strcmp(handle, "ours") && strcmp(handle, "any") &&
	    (qdisc_handle_parse(handle, &h) || h == QDISC_PARENT_ROOT)) {
		snprintf(msg, size,
			 "handle must be ours, any or a handle like 1: or c1ab:, got '%s'", handle);
		return -1;
	}
	if (params_isset(p, "injection") &&
	    (params_isset(p, "interface") || params_get(p, "end")->given)) {
		snprintf(msg, size, "injection names the interface: leave out interface and end");
		return -1;
	}
	if (params_isset(p, "interface") && params_get(p, "end")->given) {
		snprintf(msg, size, "end and interface exclude each other: end picks the lab veth");
		return -1;
	}
	if (netns && !params_isset(p, "interface")) {
		snprintf(msg, size, "netns needs interface");
		return -1;
	}
	if (netns && !netns_name_ok(netns)) {
		snprintf(msg, size, "netns '%s' is not a network namespace name", netns);
		return -1;
	}
	return 0;
}

static int qdisc_supported(const struct params *p, char *why, size_t size)
{
	/* Reading qdiscs needs no privilege; joining a namespace does. */
	const bool other_ns = p && (params_isset(p, "netns") || params_isset(p, "injection") ||
				    !strcmp(params_str(p, "end", "host"), "lab"));

	if (other_ns && !feature_cap_effective(CAP_SYS_ADMIN)) {
		snprintf(why, size,
			 "needs CAP_SYS_ADMIN to look into a network namespace (run as "
			 "root)");
		return -1;
	}
	return 0;
}

static const char *undo_str(const cJSON *undo, const char *key)
{
	const cJSON *v = undo ? cJSON_GetObjectItemCaseSensitive(undo, key) : NULL;

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* What to look at, from the parameters and the running drill: t->netns and
 * t->ifname; *handle (0 with *any_handle for any) and kind ("" = any). */
static int qdisc_what(struct check_ctx *ctx, struct qdisc_target *t, uint32_t *handle,
		      bool *any_handle, char *kind, size_t kind_size, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *hp = params_str(ctx->params, "handle", "ours");
	const char *ifname = params_str(ctx->params, "interface", NULL);
	const bool lab_end = !strcmp(params_str(ctx->params, "end", "host"), "lab");

	memset(t, 0, sizeof(*t));
	snprintf(kind, kind_size, "%s", params_str(ctx->params, "kind", ""));
	*any_handle = !strcmp(hp, "any");
	*handle = QDISC_CHAOSLAB_HANDLE;
	if (strcmp(hp, "ours") && !*any_handle && qdisc_handle_parse(hp, handle))
		return cl_error_set(err, CL_EXIT_USAGE, "handle '%s' is not a handle", hp);
	if (inj) {
		const cJSON *undo;
		char ukind[32];
		uint32_t uhandle;

		if (!ctx->env || !ctx->env->injection)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "injection '%s' can only be looked up during a drill",
					    inj);
		undo = ctx->env->injection(ctx->env->opaque, inj);
		if (!undo || qdisc_undo_get(undo, t->netns, sizeof(t->netns), t->ifname,
					    sizeof(t->ifname), &uhandle, ukind, sizeof(ukind)))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "inject step '%s' has not added a qdisc", inj);
		if (!strcmp(hp, "ours"))
			*handle = uhandle;
		if (!kind[0])
			snprintf(kind, kind_size, "%s", ukind);
		return 0;
	}
	if (ifname) {
		snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
		snprintf(t->netns, sizeof(t->netns), "%s", params_str(ctx->params, "netns", ""));
		return 0;
	}
	/* The lab veth: as the drill's lab-network step made it, else as a lab
	 * of the default name would be made. */
	{
		const cJSON *lab = ctx->env && ctx->env->injection ?
					   ctx->env->injection(ctx->env->opaque, "lab-network") :
					   NULL;
		const char *ns = undo_str(lab, "netns"), *host_if = undo_str(lab, "host_if");
		const char *lab_if = undo_str(lab, "lab_if");
		struct lab_net_info info;

		if (!ns || !host_if || !lab_if) {
			if (lab_net_name_check(lab_net_default_name(), err))
				return -1;
			lab_net_plan(lab_net_default_name(), &info);
			ns = info.netns;
			host_if = info.host_if;
			lab_if = info.lab_if;
		}
		snprintf(t->ifname, sizeof(t->ifname), "%s", lab_end ? lab_if : host_if);
		snprintf(t->netns, sizeof(t->netns), "%s", lab_end ? ns : "");
	}
	return 0;
}

static bool matches(const struct qdisc_info *q, uint32_t handle, bool any_handle, const char *kind)
{
	return (any_handle || q->handle == handle) && (!kind[0] || !strcmp(q->kind, kind));
}

static int qdisc_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const bool want = !strcmp(params_str(ctx->params, "state", "present"), "present");
	struct qdisc_info all[QDISC_LIST_MAX];
	struct qdisc_target t;
	struct nlconn *c = NULL;
	char kind[32], name[96], desc[256], h[16], which[96];
	uint32_t handle;
	bool any_handle, found = false;
	long n = 0;
	int r, rc = CHECK_ERROR;

	if (qdisc_what(ctx, &t, &handle, &any_handle, kind, sizeof(kind), err))
		goto out;
	qdisc_target_name(&t, name, sizeof(name));
	if (any_handle)
		snprintf(which, sizeof(which), "%s%sqdisc", kind, kind[0] ? " " : "");
	else if (handle == QDISC_CHAOSLAB_HANDLE)
		snprintf(which, sizeof(which), "%s%sqdisc of ours", kind, kind[0] ? " " : "");
	else
		snprintf(which, sizeof(which), "%s%sqdisc %s", kind, kind[0] ? " " : "",
			 qdisc_handle_format(handle, h, sizeof(h)));

	if (t.netns[0] && lab_net_ns_exists(t.netns) < 0) {
		snprintf(obs, size, "no %s: network namespace %s is gone", which, t.netns);
		rc = want ? CHECK_NOT_MET : CHECK_MET;
		goto out;
	}
	if (nlconn_open(&c, t.netns, err))
		goto out;
	r = nlconn_link(c, t.ifname, &t.ifindex, NULL, NULL, 0, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		snprintf(obs, size, "no %s: no interface %s", which, name);
		rc = want ? CHECK_NOT_MET : CHECK_MET;
		goto out;
	}
	n = qdisc_list(c, t.ifindex, all, QDISC_LIST_MAX, err);
	if (n < 0)
		goto out;
	for (long i = 0; i < n && i < QDISC_LIST_MAX && !found; i++) {
		if (matches(&all[i], handle, any_handle, kind)) {
			found = true;
			snprintf(obs, size, "%s on %s", qdisc_describe(&all[i], desc, sizeof(desc)),
				 name);
		}
	}
	if (!found) {
		if (n > 0 && all[0].parent == QDISC_PARENT_ROOT)
			snprintf(obs, size, "no %s on %s (%s)", which, name,
				 qdisc_describe(&all[0], desc, sizeof(desc)));
		else
			snprintf(obs, size, "no %s on %s", which, name);
	}
	rc = found == want ? CHECK_MET : CHECK_NOT_MET;
out:
	if (rc == CHECK_ERROR)
		cl_error_prefix(err, "qdisc");
	nlconn_close(c);
	return rc;
}

const struct verifier qdisc_verifier = {
	.name = "qdisc",
	.summary = "a qdisc (netem, tbf...) is present on, or absent from, an interface",
	.params = qdisc_params,
	.supported = qdisc_supported,
	.validate = qdisc_validate,
	.check = qdisc_check,
};
