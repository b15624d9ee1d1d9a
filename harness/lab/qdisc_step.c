#include "lab/qdisc_step.h"

#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "sys/features.h"

const char *const qdisc_step_ends[] = { "host", "lab", NULL };

int qdisc_step_validate(const struct params *p, char *msg, size_t size)
{
	const char *netns = params_str(p, "netns", NULL);

	if (netns && !params_isset(p, "interface")) {
		snprintf(msg, size, "netns needs interface (for the lab's own end, use end: lab)");
		return -1;
	}
	if (netns && !netns_name_ok(netns)) {
		snprintf(msg, size, "netns '%s' is not a network namespace name", netns);
		return -1;
	}
	if (params_isset(p, "interface") && params_get(p, "end")->given) {
		snprintf(msg, size, "end and interface exclude each other: end picks the lab veth");
		return -1;
	}
	return 0;
}

int qdisc_step_supported(const struct params *p, char *why, size_t size)
{
	const bool other_ns =
		p && (params_isset(p, "netns") || !strcmp(params_str(p, "end", "host"), "lab"));

	if (!feature_cap_effective(CAP_NET_ADMIN)) {
		snprintf(why, size, "needs CAP_NET_ADMIN to change qdiscs (run as root)");
		return -1;
	}
	if (other_ns && !feature_cap_effective(CAP_SYS_ADMIN)) {
		snprintf(why, size,
			 "needs CAP_SYS_ADMIN to join the lab's network namespace "
			 "(run as root)");
		return -1;
	}
	return 0;
}

int qdisc_step_where(const struct params *p, const char *who, struct lab_net_info *lab,
		     struct qdisc_where *w, struct cl_error *err)
{
	const char *name = lab_net_default_name();

	if (lab_net_name_check(name, err)) {
		cl_error_prefix(err, "%s: the lab network's name", who);
		return -1;
	}
	lab_net_plan(name, lab);
	*w = (struct qdisc_where){
		.interface = params_str(p, "interface", NULL),
		.netns = params_str(p, "netns", NULL),
		.lab_end = !strcmp(params_str(p, "end", "host"), "lab"),
		.allow_host = params_bool(p, "allow_host_interface", false),
		.lab_netns = lab->netns,
		.lab_host_if = lab->host_if,
		.lab_if = lab->lab_if,
	};
	return 0;
}
