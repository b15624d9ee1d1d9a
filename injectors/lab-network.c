/* lab-network: the drill's lab network: a network namespace joined to the
 * host by a veth pair (see lab/network.h). Scenarios ask for it by listing
 * `network` under lab:; the engine then applies this step (id "lab-network")
 * before the lab services, which it starts inside the namespace.
 *
 * The namespace is called $CHAOSLAB_NETNS, else "chaoslab": one name for the
 * drill, its lab services, `chaoslab lab` and the runbooks' commands
 * (`ip netns exec chaoslab ...`).
 *
 * Undo data (keys documented in lab/network.h): "netns", "host_if", "lab_if"
 * and "tag" are journaled before anything is made; "host_addr", "lab_addr"
 * and "prefix" once the lab is up. Revert removes the veth and the namespace
 * when they carry the step's tag, and nothing else. */
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "core/registry.h"
#include "lab/network.h"
#include "sys/features.h"

static const struct param_spec lab_network_params[] = {
	{ NULL },
};

static int lab_network_supported(const struct params *p, char *why, size_t size)
{
	static const int caps[] = { CAP_NET_ADMIN, CAP_SYS_ADMIN };
	static const char *const cap_names[] = { "CAP_NET_ADMIN", "CAP_SYS_ADMIN" };
	struct feature f;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (!feature_cap_effective(caps[i])) {
			snprintf(why, size,
				 "needs %s for the lab's network namespace and veth pair "
				 "(run as root)",
				 cap_names[i]);
			return -1;
		}
	/* A loadable veth module is fine: creating the first veth loads it. */
	if (feature_probe_netns(NULL, &f) == FEATURE_MISSING ||
	    feature_probe_veth(NULL, &f) == FEATURE_MISSING)
		return feature_explain(&f, why, size);
	return 0;
}

static int undo_set_str(cJSON *undo, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	return cJSON_AddStringToObject(undo, key, val) ? 0 : -1;
}

static int lab_network_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *name = lab_net_default_name();
	char tag[LAB_NET_TAG_MAX];
	struct lab_net_info info;

	if (lab_net_name_check(name, err)) {
		cl_error_prefix(err, "lab-network (CHAOSLAB_NETNS)");
		return -1;
	}
	lab_net_tag(tag, sizeof(tag), ctx->run_id, ctx->step_id);
	lab_net_plan(name, &info);
	/* Every name reaches the journal before the object it names exists. */
	if (undo_set_str(ctx->undo, "netns", info.netns) ||
	    undo_set_str(ctx->undo, "host_if", info.host_if) ||
	    undo_set_str(ctx->undo, "lab_if", info.lab_if) || undo_set_str(ctx->undo, "tag", tag))
		return cl_error_set(err, CL_EXIT_USAGE, "lab-network: out of memory");
	if (inject_ctx_save(ctx, err))
		return -1;
	if (lab_net_up(name, tag, &info, err)) {
		cl_error_prefix(err, "lab-network");
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "prefix");
	if (undo_set_str(ctx->undo, "host_addr", info.host_addr) ||
	    undo_set_str(ctx->undo, "lab_addr", info.lab_addr) ||
	    !cJSON_AddNumberToObject(ctx->undo, "prefix", info.prefix))
		return cl_error_set(err, CL_EXIT_USAGE, "lab-network: out of memory");
	return inject_ctx_save(ctx, err);
}

static const char *undo_str(const cJSON *undo, const char *key)
{
	const cJSON *v = undo ? cJSON_GetObjectItemCaseSensitive(undo, key) : NULL;

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int lab_network_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const char *netns = undo_str(ctx->undo, "netns");
	const char *host_if = undo_str(ctx->undo, "host_if");
	const char *tag = undo_str(ctx->undo, "tag");
	char own_tag[LAB_NET_TAG_MAX];

	ctx->report[0] = '\0';
	/* A bare intent: nothing was made (the names are journaled first). */
	if (!netns && !host_if)
		return 0;
	if (!tag) {
		lab_net_tag(own_tag, sizeof(own_tag), ctx->run_id, ctx->step_id);
		tag = own_tag;
	}
	/* Only ever an interface of chaoslab's naming, whatever the journal says. */
	if (host_if && strncmp(host_if, LAB_NET_HOST_PREFIX, strlen(LAB_NET_HOST_PREFIX)))
		return cl_error_set(err, CL_EXIT_REVERT,
				    "lab-network: journaled interface '%s' is not a lab interface "
				    "(%s*): not touching it",
				    host_if, LAB_NET_HOST_PREFIX);
	if (lab_net_down(netns, host_if, tag, ctx->report, sizeof(ctx->report), err)) {
		cl_error_prefix(err, "lab-network");
		return -1;
	}
	return 0;
}

const struct injector lab_network_injector = {
	.name = "lab-network",
	.summary = "the lab network: a namespace joined to the host by a veth pair; scenarios "
		   "list it as `network` under lab:",
	.params = lab_network_params,
	.supported = lab_network_supported,
	.apply = lab_network_apply,
	.revert = lab_network_revert,
};
