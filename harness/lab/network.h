/* The lab network: a named network namespace joined to the host by a veth
 * pair, made the way `ip netns add` makes one, with addresses from a small
 * subnet that clashes with nothing on the host.
 *
 *   host namespace                      lab namespace (/run/netns/NAME)
 *   clab-NAME  10.203.N.1/30  <-veth->  eth0  10.203.N.2/30,  lo up
 *
 * The namespace is a fresh network namespace whose /proc/PID/ns/net is
 * bind-mounted on /run/netns/NAME (/run/netns made a shared mount point first,
 * as iproute2 does), so `ip netns list`, `ip -n NAME ...` and
 * `ip netns exec NAME ...` all see it. The veth pair is made through libnl
 * (rtnl_link_veth_alloc + rtnl_link_add), its lab end created directly inside
 * the namespace. The subnet is the first free /30 of 10.203.0.0/16, then
 * 172.31.0.0/16, that overlaps no address and no route of the host (a start
 * that depends on NAME spreads concurrent labs); choosing it and adding the
 * addresses happen under an flock on /run/netns, so two labs coming up at
 * once never take the same one.
 *
 * Confinement: no default route, no forwarding, no NAT. The lab reaches the
 * host's end of the veth and nothing else; lab_net_up() checks afterwards that
 * /proc/sys/net/ipv4/ip_forward is what it was.
 *
 * Ownership: every object carries an owner tag, "chaoslab:<run>:<step>"
 * (lab_net_tag()), as its interface alias (IFLA_IFALIAS): the namespace's `lo`
 * (set before the namespace gets its name, so a named lab namespace without
 * the tag is never ours), the host end and the lab end of the veth. The kernel
 * ignores an alias given at creation, so the host end gets its tag just after;
 * in that window the pair is recognised as ours by its peer, which lives in
 * our (tagged) namespace. lab_net_down() removes only what it proves ours.
 *
 * Undo data of the lab-network injector (the drill's check_env->injection
 * ("lab-network") and other injectors read these keys; all strings):
 *   "netns"      namespace name, e.g. "chaoslab"   (journaled before any change)
 *   "host_if"    veth end in the host namespace, e.g. "clab-chaoslab"   (ditto)
 *   "lab_if"     veth end inside the namespace, "eth0"                  (ditto)
 *   "tag"        the owner tag of every object                          (ditto)
 *   "host_addr"  IPv4 address of host_if, e.g. "10.203.7.1"  (once the lab is up)
 *   "lab_addr"   IPv4 address of lab_if, e.g. "10.203.7.2"   (once the lab is up)
 *   "prefix"     their prefix length, a number (30)          (once the lab is up)
 * Lab services (lab-service with netns: true) listen inside the namespace and
 * record "address" (= lab_addr) and "port" in their own undo data.
 *
 * The namespace name: $CHAOSLAB_NETNS when set (tests use their own), else
 * "chaoslab" (lab_net_default_name()). */
#ifndef CHAOSLAB_LAB_NETWORK_H
#define CHAOSLAB_LAB_NETWORK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct nl_sock;

#define LAB_NET_DEFAULT_NAME "chaoslab"
#define LAB_NET_RUN_DIR "/run/netns"
#define LAB_NET_ETC_DIR "/etc/netns"
#define LAB_NET_NAME_MAX 32   /* namespace name: [A-Za-z0-9_.-], not "." or ".." */
#define LAB_NET_LAB_IF "eth0" /* the veth end inside the namespace */
#define LAB_NET_HOST_PREFIX "clab-"
#define LAB_NET_TAG_PREFIX "chaoslab:"
#define LAB_NET_MANUAL_RUN "lab-" /* run ids of `chaoslab lab up` start so */
#define LAB_NET_TAG_MAX 256	  /* IFALIASZ */
#define LAB_NET_PREFIX_LEN 30

struct lab_net_info {
	char netns[LAB_NET_NAME_MAX + 1];
	char host_if[IFNAMSIZ];		 /* veth end in the host namespace */
	char lab_if[IFNAMSIZ];		 /* veth end inside the lab namespace */
	char host_addr[INET_ADDRSTRLEN]; /* "" until known */
	char lab_addr[INET_ADDRSTRLEN];	 /* "" until known */
	int prefix;			 /* 0 until known */
	char tag[LAB_NET_TAG_MAX];	 /* owner tag (lab_net_status: as read back) */
};

enum lab_net_state {
	LAB_NET_ABSENT = 0,  /* no namespace of that name, no host veth */
	LAB_NET_PARTIAL = 1, /* some of it: namespace, veth or addresses missing */
	LAB_NET_UP = 2,	     /* namespace, veth pair and both addresses present */
};

/* "absent", "partial" or "up". */
const char *lab_net_state_name(enum lab_net_state s);

/* $CHAOSLAB_NETNS if set and non-empty, else "chaoslab". Static or environ
 * string. */
const char *lab_net_default_name(void);

/* 0 if name can name a lab namespace (1..LAB_NET_NAME_MAX characters of
 * [A-Za-z0-9_.-], not "." or ".."), else -1 with err. */
int lab_net_name_check(const char *name, struct cl_error *err);

/* The owner tag of a step: "chaoslab:<run_id>:<step>", truncated to fit. */
void lab_net_tag(char *buf, size_t size, const char *run_id, const char *step);

/* Fill info with the names a lab called name uses (no system call): netns,
 * host_if ("clab-NAME", or "clab-" + 8 hex digits of a hash of NAME when that
 * would exceed 15 characters), lab_if; clears addresses and tag. name must
 * have passed lab_net_name_check(). */
void lab_net_plan(const char *name, struct lab_net_info *info);

/* Bring a lab up: the namespace, lo up, the veth pair, a free /30, both ends
 * up, every object tagged with tag. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
 * Fails without changing anything when the namespace or the host interface
 * exists already (naming the chaoslab run holding it, when it is a lab). On
 * any later failure it removes what it made (lab_net_down()) before
 * returning -1. On success info holds every name and address. */
int lab_net_up(const char *name, const char *tag, struct lab_net_info *info, struct cl_error *err);

/* Take a lab down: delete the host veth host_if if it is ours (tag as its
 * alias, or its peer inside our namespace), then unmount and remove
 * /run/netns/NETNS if it is ours (tag on its lo; or an empty file no
 * namespace was ever mounted on: a crash between creating the file and
 * mounting it). Either name may be NULL (not journaled: nothing was made).
 * Objects that are not ours are left alone and said so in report. Idempotent.
 * report (may be NULL) gets what was done: "removed veth clab-x, namespace x"
 * or "". -1 with err only when something of ours could not be removed. */
int lab_net_down(const char *netns, const char *host_if, const char *tag, char *report, size_t size,
		 struct cl_error *err);

/* Read the lab called name back from the kernel into info: names, the IPv4
 * addresses of both veth ends, the owner tag on the namespace's lo. Returns
 * the state, or -1 with err when it cannot be read (no permission). */
int lab_net_status(const char *name, struct lab_net_info *info, struct cl_error *err);

/* 0 if /run/netns/NAME is a mounted network namespace (what `ip netns list`
 * shows), else -1 with errno (ENOENT when absent, EINVAL when a file no
 * namespace is mounted on). */
int lab_net_ns_exists(const char *netns);

/* A NETLINK_ROUTE libnl socket (connected, auto-ack) inside the namespace
 * netns, or in the caller's namespace when netns is NULL. The calling thread
 * joins the namespace just long enough to create the socket; a socket stays in
 * the namespace it was created in. The caller frees *out with
 * nl_socket_free(). */
int lab_net_nl_open(const char *netns, struct nl_sock **out, struct cl_error *err);

/* The `ip netns exec` convention, for `chaoslab lab shell`: the calling
 * process joins the namespace, gets a private mount namespace (mounts
 * propagate in but not out), a /sys of the lab's namespace, and each
 * /etc/netns/NAME/FILE bind-mounted over /etc/FILE. Irreversible for the
 * caller: call it in the process that then execs the shell. */
int lab_net_enter(const char *netns, struct cl_error *err);

/* ---- exposed for tests ---------------------------------------------------- */

/* An IPv4 prefix, host byte order. */
struct lab_net_cidr {
	uint32_t addr;
	int len; /* 0..32 */
};

/* True if the two prefixes share an address. */
bool lab_net_cidr_overlap(struct lab_net_cidr a, struct lab_net_cidr b);

/* The first /30 candidate for name (see above) overlapping none of taken[]:
 * 0 with *net set (host order), -1 when every candidate is taken. Length-0
 * entries (default routes) in taken are ignored. */
int lab_net_choose_subnet(const char *name, const struct lab_net_cidr *taken, size_t ntaken,
			  uint32_t *net);

#endif
