/* Queueing disciplines over rtnetlink (libnl-route): add, read back and
 * delete the root qdisc of an interface, in this network namespace or in
 * another one named like `ip netns` names them (/run/netns/NAME).
 *
 * A connection (struct nlconn) is a NETLINK_ROUTE socket created inside the
 * target namespace: a short-lived thread joins the namespace with setns(),
 * creates and connects the socket, and exits, so the calling thread never
 * changes namespace. Every request on it then acts in that namespace.
 *
 * chaoslab's qdiscs carry a reserved handle, QDISC_CHAOSLAB_HANDLE ("c1ab:"):
 * that handle, together with the kind, is what proves a qdisc is ours.
 * qdisc_delete_root() hands both to the kernel, which refuses the delete when the
 * root qdisc carries another handle or kind, so there is no window between
 * checking and deleting. Adds never replace: they use NLM_F_CREATE |
 * NLM_F_EXCL, which the kernel lets replace only a default root qdisc (one
 * with handle 0: pfifo_fast, noqueue, fq_codel, mq...).
 *
 * Errors name the kernel's reason when it gives one (netlink extended ack,
 * "Specified qdisc kind is unknown"), and carry the kernel's errno in
 * err->errnum, so callers can turn ENOENT for a missing kind into advice.
 *
 * The functions are not thread-safe on one connection; separate connections
 * are independent. The netem and bandwidth injectors, the qdisc verifier and
 * tests/vm/qdisc_driver.c use this; nothing here prints. */
#ifndef CHAOSLAB_NETLINK_H
#define CHAOSLAB_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/error.h"

/* The root handle chaoslab's qdiscs carry, "c1ab:" as tc prints it. */
#define QDISC_CHAOSLAB_HANDLE 0xc1ab0000U

/* tc's TC_H_ROOT: the parent of a root qdisc. */
#define QDISC_PARENT_ROOT 0xffffffffU

/* Where named network namespaces are bound (the `ip netns` convention). */
#define NETNS_RUN_DIR "/run/netns"

struct nlconn;

/* netem parameters, as written (qdisc_netem_add) and as read back
 * (struct qdisc_info). Percentages are 0..100. */
struct netem_opts {
	uint64_t delay_us;  /* added delay */
	uint64_t jitter_us; /* +- around delay */
	double delay_corr;  /* correlation of successive delays */
	double loss, loss_corr;
	double duplicate, duplicate_corr;
	double corrupt, corrupt_corr;
	double reorder, reorder_corr; /* needs delay; gap 0 = 1 */
	uint32_t gap;		      /* reorder every gap-th packet */
	uint32_t limit;		      /* queue length in packets; 0 = the kernel's 1000 */
	uint64_t rate;		      /* bytes per second, 0 = unlimited (TCA_NETEM_RATE) */
	const int16_t *dist;	      /* add only: delay distribution table, or NULL */
	size_t dist_len;
};

/* tbf parameters. On add, exactly one of limit and latency_us is non-zero. */
struct tbf_opts {
	uint64_t rate;	     /* bytes per second */
	uint32_t burst;	     /* bucket size, bytes */
	uint32_t limit;	     /* bytes that may queue */
	uint32_t latency_us; /* add only: limit from the latency a packet may wait */
};

/* One qdisc as the kernel reports it. */
struct qdisc_info {
	int ifindex;
	uint32_t handle;
	uint32_t parent;
	char kind[32];
	bool has_netem;		 /* kind netem with options: netem is valid */
	struct netem_opts netem; /* dist is always NULL here */
	bool has_tbf;		 /* kind tbf with options: tbf is valid */
	struct tbf_opts tbf;	 /* latency_us is 0 here */
};

/* ---- connections ------------------------------------------------------------ */

/* True when name can be a named network namespace: 1..63 characters, none of
 * them '/', and not "." or "..". */
bool netns_name_ok(const char *name);

/* Open a NETLINK_ROUTE connection in network namespace netns (NULL or "" =
 * the caller's). *out is the caller's, released with nlconn_close(). -1 with
 * err when the namespace does not exist or cannot be joined (needs
 * CAP_SYS_ADMIN), or the socket cannot be opened. */
int nlconn_open(struct nlconn **out, const char *netns, struct cl_error *err);

/* Close a connection; NULL is fine. */
void nlconn_close(struct nlconn *c);

/* The namespace a connection was opened in ("" = the opener's). */
const char *nlconn_netns(const struct nlconn *c);

/* Look an interface up by name. 0 with *ifindex (and *mtu, *kind: "veth",
 * "" for a physical device; both may be NULL), 1 when there is no such
 * interface, -1 with err on a netlink failure. */
int nlconn_link(struct nlconn *c, const char *ifname, int *ifindex, unsigned int *mtu, char *kind,
		size_t kind_size, struct cl_error *err);

/* ---- qdiscs ------------------------------------------------------------------- */

/* Every qdisc of interface ifindex (root first when there is one), up to cap
 * into out. Returns the number found (possibly more than cap), or -1 with
 * err. */
long qdisc_list(struct nlconn *c, int ifindex, struct qdisc_info *out, size_t cap,
		struct cl_error *err);

/* The root qdisc of ifindex into *out: 1 when found, 0 when the interface
 * has none (out zeroed), -1 with err. */
int qdisc_root(struct nlconn *c, int ifindex, struct qdisc_info *out, struct cl_error *err);

/* True for a root qdisc the kernel attached by itself (handle 0). */
bool qdisc_is_default(const struct qdisc_info *q);

/* Add a netem root qdisc with handle on ifindex (NLM_F_CREATE | NLM_F_EXCL:
 * it replaces only a default root qdisc). Built with libnl-route's netem
 * object; the rate, which libnl does not know, is added to the message as a
 * TCA_NETEM_RATE attribute. o->rate must be below 2^32 bytes per second.
 * -1 with err (errnum = the kernel's errno) on failure. */
int qdisc_netem_add(struct nlconn *c, int ifindex, uint32_t handle, const struct netem_opts *o,
		    struct cl_error *err);

/* Add a tbf root qdisc with handle on ifindex, likewise. o->rate must be
 * below 2^31 bytes per second (libnl's limit). */
int qdisc_tbf_add(struct nlconn *c, int ifindex, uint32_t handle, const struct tbf_opts *o,
		  struct cl_error *err);

/* Delete the root qdisc of ifindex if it carries handle and kind (kind may
 * be NULL: any). The kernel checks both atomically: -1 with errnum EINVAL
 * when the root qdisc is another one (the default one included), ENOENT when
 * the interface has none. */
int qdisc_delete_root(struct nlconn *c, int ifindex, uint32_t handle, const char *kind,
		      struct cl_error *err);

/* ---- chaoslab's root qdisc on a drill's interface --------------------------------- */

/* Where a qdisc step acts, as its parameters say, and the lab it may touch
 * without asking. */
struct qdisc_where {
	const char *interface;	 /* explicit interface, or NULL/"": the lab veth */
	const char *netns;	 /* with interface: its namespace; NULL/"" = the host's */
	bool lab_end;		 /* without interface: the veth end inside the lab */
	bool allow_host;	 /* allow_host_interface: any interface anywhere */
	const char *lab_netns;	 /* the lab's namespace name */
	const char *lab_host_if; /* the lab veth's end in the host namespace */
	const char *lab_if;	 /* the lab veth's end inside lab_netns */
};

/* The interface a step acts on, once resolved. */
struct qdisc_target {
	char netns[64]; /* "" = the host's namespace */
	char ifname[16];
	int ifindex;
	unsigned int mtu;
	bool lab; /* the lab's veth, or inside the lab's namespace */
};

/* Resolve w into t and open a connection in t->netns (*c, the caller
 * closes it). The safety rule: without allow_host, only the lab veth's host
 * end (which must be a veth) or an interface inside the lab's namespace;
 * anything else is refused ("refusing to touch host interface eth0: set
 * allow_host_interface: true"). -1 with err when refused, when the lab or the
 * interface is not there, or on a netlink failure. */
int qdisc_target_open(const struct qdisc_where *w, struct qdisc_target *t, struct nlconn **c,
		      struct cl_error *err);

/* "clab-chaoslab" or "eth0 in netns chaoslab", for messages. Returns buf. */
const char *qdisc_target_name(const struct qdisc_target *t, char *buf, size_t size);

/* Before adding a chaoslab qdisc of kind on t: 0 when the root qdisc is the
 * kernel's default (ours to replace); -1 with err naming the qdisc when it
 * is somebody else's (never replaced) or already chaoslab's (another drill,
 * or one that was not reverted). */
int qdisc_claim_root(struct nlconn *c, const struct qdisc_target *t, const char *kind,
		     struct cl_error *err);

/* Undo data of a step that adds a chaoslab root qdisc (netem, bandwidth),
 * also read by the qdisc verifier: {"netns": "" or a name, "interface":
 * name, "handle": "c1ab:", "kind": "netem"}. qdisc_undo_set() writes them
 * into undo (replacing earlier ones); -1 with err on allocation failure. */
int qdisc_undo_set(cJSON *undo, const struct qdisc_target *t, const char *kind,
		   struct cl_error *err);

/* Read those keys back: 0, or -1 when undo lacks them (a bare intent: apply
 * never got as far as journaling its target). netns, ifname and kind are
 * copied into the caller's buffers; handle gets the handle. */
int qdisc_undo_get(const cJSON *undo, char *netns, size_t netns_size, char *ifname,
		   size_t ifname_size, uint32_t *handle, char *kind, size_t kind_size);

/* Revert such a step: delete the root qdisc named in undo if it still
 * carries its handle and kind (the kernel checks both). Nothing to do (bare
 * intent, namespace or interface gone, qdisc gone or replaced by somebody
 * else's) is success with report "" or saying what was left alone;
 * idempotent. report gets "deleted netem c1ab: from clab-chaoslab". -1 with
 * err when a qdisc of ours could not be deleted or read. */
int qdisc_undo_revert(const cJSON *undo, char *report, size_t size, struct cl_error *err);

/* ---- tc's notation ------------------------------------------------------------ */

/* "c1ab:" for a root handle, "1:10" otherwise; "root" for the parent
 * QDISC_PARENT_ROOT, "none" for 0. Returns buf. */
const char *qdisc_handle_format(uint32_t handle, char *buf, size_t size);

/* Parse "c1ab:", "c1ab:0", "1:10" or "root" (hex, as tc writes them). */
int qdisc_handle_parse(const char *text, uint32_t *handle);

/* A rate in tc's notation into bytes per second: a number with one of bit,
 * kbit, mbit, gbit, tbit (SI), kibit, mibit, gibit (IEC), bps, kbps, mbps,
 * gbps (bytes, SI), kibps, mibps, gibps; a bare number is bits per second,
 * as in tc. -1 on a malformed text or 0. */
int tc_rate_parse(const char *text, uint64_t *bytes_per_s);

/* A size in tc's notation into bytes: a number with b, k/kb, m/mb, g/gb
 * (1024-based, as tc counts them) or kbit, mbit, gbit (bits). A bare number
 * is bytes. -1 on a malformed text or one beyond 4 GiB. */
int tc_size_parse(const char *text, uint32_t *bytes);

/* "1Mbit", "512Kbit", "80bit" as tc prints rates (bits per second, SI).
 * Returns buf. */
const char *tc_rate_format(uint64_t bytes_per_s, char *buf, size_t size);

/* "100ms", "1.5s", "250us" as tc prints times. Returns buf. */
const char *tc_time_format(uint64_t us, char *buf, size_t size);

/* One line describing a qdisc, as an observation would: "netem c1ab: delay
 * 100ms jitter 10ms loss 5% rate 1Mbit limit 1000", "tbf c1ab: rate 1Mbit
 * burst 16Kb limit 52Kb", "pfifo_fast 0:". Returns buf. */
const char *qdisc_describe(const struct qdisc_info *q, char *buf, size_t size);

/* ---- netem delay distributions ------------------------------------------------ */

/* Load the delay distribution table NAME.dist ("normal", "pareto",
 * "paretonormal") the way iproute2's tc does: '#' lines are comments, the
 * rest whitespace-separated integers. Searched in $TC_LIB_DIR, then
 * /usr/lib/<multiarch>/tc (Debian), /usr/lib/tc, /usr/lib64/tc,
 * /usr/local/lib/tc. *data (malloc'd, the caller frees it) gets the values,
 * *len their count, path (may be NULL) the file read. -1 with err naming the
 * places looked in when none has it, or on a malformed file. */
int netem_dist_load(const char *name, int16_t **data, size_t *len, char *path, size_t path_size,
		    struct cl_error *err);

#endif
