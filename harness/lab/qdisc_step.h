/* What the qdisc faults (netem, bandwidth) share: where they act.
 *
 * By default a qdisc goes on the lab veth, its host end (clab-NAME) or, with
 * end: lab, its end inside the lab namespace; `interface` (with `netns`)
 * names another one, which outside the lab needs allow_host_interface. The
 * parameters, their cross-checks, the privilege check and the resolution to
 * a struct qdisc_where are the same for both injectors: they live here. */
#ifndef CHAOSLAB_QDISC_STEP_H
#define CHAOSLAB_QDISC_STEP_H

#include <stddef.h>

#include "core/param.h"
#include "lab/network.h"
#include "sys/netlink.h"

extern const char *const qdisc_step_ends[];

/* The four "where" entries of a qdisc injector's parameter table; hurt is
 * what the fault would do to a host interface's traffic ("delays",
 * "slows"), for allow_host_interface's help. */
#define QDISC_STEP_PARAMS(hurt)                                                                   \
	{ "end", PARAM_ENUM, false, "host", 0, 0, qdisc_step_ends,                                \
	  "which end of the lab veth: host (clab-NAME, in the host namespace) or lab (inside it)" }, \
	{ "interface", PARAM_STRING, false, NULL, 0, 15, NULL,                                     \
	  "another interface instead of the lab veth (a host one needs allow_host_interface)" },   \
	{ "netns", PARAM_STRING, false, NULL, 0, 63, NULL,                                         \
	  "with interface: the network namespace it is in (default: the host's)" },                \
	{ "allow_host_interface", PARAM_BOOL, false, "false", 0, 0, NULL,                          \
	  "allow an interface outside the lab: this " hurt " the host's own traffic" }

/* Cross-checks of those parameters: netns needs interface and must be a
 * namespace name; end and interface exclude each other. 0, or -1 with msg. */
int qdisc_step_validate(const struct params *p, char *msg, size_t size);

/* CAP_NET_ADMIN, and CAP_SYS_ADMIN when the step acts in another namespace
 * (p NULL: the general question of `chaoslab list`). 0, or -1 with why. */
int qdisc_step_supported(const struct params *p, char *why, size_t size);

/* Where p points; lab receives the lab network's names, which w points
 * into (keep lab alive while w is used). who prefixes errors. */
int qdisc_step_where(const struct params *p, const char *who, struct lab_net_info *lab,
		     struct qdisc_where *w, struct cl_error *err);

#endif
