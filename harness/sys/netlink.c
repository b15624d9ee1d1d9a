/* Queueing disciplines over rtnetlink: see netlink.h. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>
#include <netlink/socket.h>
#include <netlink/utils.h>

#include "sys/netlink.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct nlconn {
	struct nl_sock *sk;
	char netns[64];
};

/* ---- errors ----------------------------------------------------------------- */

/* What the kernel answered to one request. */
struct nl_answer {
	int error;	  /* 0, or the kernel's errno (positive) */
	bool acked;	  /* an ACK or an error arrived */
	char extack[160]; /* the kernel's extended ack message, "" if none */
};

/* Fill err from a kernel answer: "<what>: <extack or strerror>". */
static int answer_error(struct cl_error *err, const struct nl_answer *a, const char *what)
{
	int code = a->error == EPERM || a->error == EACCES ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE;
	int rc;

	if (a->extack[0])
		rc = cl_error_set(err, code, "%s: %s (%s)", what, a->extack, strerror(a->error));
	else
		rc = cl_error_set(err, code, "%s: %s", what, strerror(a->error));
	if (err)
		err->errnum = a->error;
	return rc;
}

/* A libnl failure that is not a kernel answer (nlerr negative). */
static int libnl_error(struct cl_error *err, int nlerr, const char *what)
{
	return cl_error_set(err, CL_EXIT_USAGE, "%s: %s", what, nl_geterror(nlerr));
}

/* ---- connections ------------------------------------------------------------- */

bool netns_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 1 && n <= 63 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

struct opener {
	int nsfd; /* namespace to join, -1 = stay */
	struct nl_sock *sk;
	int setns_errno;
	int nlerr;
};

/* Create and connect the socket; in its own thread when a namespace is to
 * be joined, so only that thread ever changes namespace. */
static void *opener_run(void *arg)
{
	struct opener *o = arg;
	int one = 1;

	if (o->nsfd >= 0 && setns(o->nsfd, CLONE_NEWNET) < 0) {
		o->setns_errno = errno;
		return NULL;
	}
	o->sk = nl_socket_alloc();
	if (!o->sk) {
		o->nlerr = -NLE_NOMEM;
		return NULL;
	}
	o->nlerr = nl_connect(o->sk, NETLINK_ROUTE);
	if (o->nlerr < 0) {
		nl_socket_free(o->sk);
		o->sk = NULL;
		return NULL;
	}
	/* The kernel's reason with each error, and errors that echo only the
	 * request's header (a netem distribution table is 8 KiB). Both are
	 * optional: older kernels ignore them. */
	setsockopt(nl_socket_get_fd(o->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(o->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return NULL;
}

int nlconn_open(struct nlconn **out, const char *netns, struct cl_error *err)
{
	struct opener o = { .nsfd = -1 };
	struct nlconn *c = NULL;
	char path[128];
	pthread_t t;
	int rc;

	*out = NULL;
	if (netns && netns[0]) {
		if (!netns_name_ok(netns))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "'%s' is not a network namespace name", netns);
		snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, netns);
		o.nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (o.nsfd < 0) {
			if (errno == ENOENT)
				return cl_error_set(err, CL_EXIT_USAGE,
						    "no network namespace '%s' (%s does not exist)",
						    netns, path);
			return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open '%s'",
					      path);
		}
		rc = pthread_create(&t, NULL, opener_run, &o);
		if (rc) {
			close(o.nsfd);
			return cl_error_errno(err, CL_EXIT_USAGE, rc,
					      "unable to start a thread to join '%s'", netns);
		}
		pthread_join(t, NULL);
		close(o.nsfd);
	} else {
		opener_run(&o);
	}
	if (o.setns_errno)
		return cl_error_errno(err,
				      o.setns_errno == EPERM ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
				      o.setns_errno, "unable to join network namespace '%s'",
				      netns);
	if (!o.sk)
		return libnl_error(err, o.nlerr, "unable to open a netlink socket");
	c = calloc(1, sizeof(*c));
	if (!c) {
		nl_socket_free(o.sk);
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "netlink");
	}
	c->sk = o.sk;
	snprintf(c->netns, sizeof(c->netns), "%s", netns ? netns : "");
	*out = c;
	return 0;
}

void nlconn_close(struct nlconn *c)
{
	if (!c)
		return;
	nl_socket_free(c->sk);
	free(c);
}

const char *nlconn_netns(const struct nlconn *c)
{
	return c->netns;
}

/* Where an interface lives, for messages: "clab-x" or "eth0 in netns x"
 * (its index when its name cannot be had). */
static void where(const struct nlconn *c, int ifindex, char *buf, size_t size)
{
	struct rtnl_link *link = NULL;
	char name[32];

	if (rtnl_link_get_kernel(c->sk, ifindex, NULL, &link) == 0 && rtnl_link_get_name(link))
		snprintf(name, sizeof(name), "%s", rtnl_link_get_name(link));
	else
		snprintf(name, sizeof(name), "interface %d", ifindex);
	if (link)
		rtnl_link_put(link);
	if (c->netns[0])
		snprintf(buf, size, "%s in netns %s", name, c->netns);
	else
		snprintf(buf, size, "%s", name);
}

int nlconn_link(struct nlconn *c, const char *ifname, int *ifindex, unsigned int *mtu, char *kind,
		size_t kind_size, struct cl_error *err)
{
	struct rtnl_link *link = NULL;
	const char *type;
	int rc;

	if (!ifname || !ifname[0] || strlen(ifname) >= 16)
		return cl_error_set(err, CL_EXIT_USAGE, "'%s' is not an interface name",
				    ifname ? ifname : "");
	rc = rtnl_link_get_kernel(c->sk, 0, ifname, &link);
	if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV)
		return 1;
	if (rc < 0)
		return libnl_error(err, rc, "unable to look up interface");
	*ifindex = rtnl_link_get_ifindex(link);
	if (mtu)
		*mtu = rtnl_link_get_mtu(link);
	if (kind && kind_size) {
		type = rtnl_link_get_type(link);
		snprintf(kind, kind_size, "%s", type ? type : "");
	}
	rtnl_link_put(link);
	return 0;
}

/* ---- talking to the kernel ------------------------------------------------------- */

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nl_answer *a = arg;
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off;

	a->acked = true;
	a->error = -e->error;
	/* Extended ack attributes follow the echoed request: its header only
	 * when capped, else all of it. */
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (NLMSG_HDRLEN + off < h->nlmsg_len) {
		struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

		if (!nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
			       (int)(h->nlmsg_len - NLMSG_HDRLEN - off), NULL) &&
		    tb[NLMSGERR_ATTR_MSG]) {
			snprintf(a->extack, sizeof(a->extack), "%.*s",
				 (int)nla_len(tb[NLMSGERR_ATTR_MSG]),
				 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
			/* Trim the NUL and any newline the kernel left in. */
			a->extack[strcspn(a->extack, "\n")] = '\0';
		}
	}
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct nl_answer *a = arg;

	a->acked = true;
	return NL_STOP;
}

/* A copy of the socket's callbacks to customise (the caller puts it).
 * nl_socket_get_cb() takes a reference of its own, given back here. */
static struct nl_cb *socket_cb_clone(struct nlconn *c)
{
	struct nl_cb *sock_cb = nl_socket_get_cb(c->sk);
	struct nl_cb *cb = sock_cb ? nl_cb_clone(sock_cb) : NULL;

	if (sock_cb)
		nl_cb_put(sock_cb);
	return cb;
}

/* Send msg (the caller keeps ownership) and wait for the kernel's ACK or
 * error. -1 with err "unable to <verb> <interface>: <reason>" (errnum = the
 * kernel's errno) on failure. */
static int request(struct nlconn *c, struct nl_msg *msg, const char *verb, int ifindex,
		   struct cl_error *err)
{
	struct nl_answer a = { 0 };
	struct nl_cb *cb;
	char what[192], w[96];
	int rc;

	rc = nl_send_auto(c->sk, msg);
	if (rc >= 0) {
		cb = socket_cb_clone(c);
		if (!cb)
			return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "unable to %s", verb);
		nl_cb_err(cb, NL_CB_CUSTOM, on_error, &a);
		nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &a);
		while (!a.acked && rc >= 0)
			rc = nl_recvmsgs(c->sk, cb);
		nl_cb_put(cb);
	}
	if (!a.error && (rc >= 0 || a.acked))
		return 0;
	where(c, ifindex, w, sizeof(w));
	snprintf(what, sizeof(what), "unable to %s %s", verb, w);
	if (a.error)
		return answer_error(err, &a, what);
	return libnl_error(err, rc, what);
}

/* ---- reading qdiscs back --------------------------------------------------------- */

static double from_prob(uint32_t v)
{
	return (double)v * 100.0 / (double)UINT32_MAX;
}

static uint32_t to_prob(double percent)
{
	if (percent <= 0)
		return 0;
	if (percent >= 100)
		return UINT32_MAX;
	return (uint32_t)rint(percent / 100.0 * (double)UINT32_MAX);
}

static void parse_netem(struct nlattr *opt, struct netem_opts *n)
{
	struct nlattr *tb[TCA_NETEM_MAX + 1];
	struct tc_netem_qopt q;
	int len = nla_len(opt);
	const int qlen = NLA_ALIGN(sizeof(q));

	memset(n, 0, sizeof(*n));
	if (len < (int)sizeof(q))
		return;
	memcpy(&q, nla_data(opt), sizeof(q));
	n->delay_us = nl_ticks2us(q.latency);
	n->jitter_us = nl_ticks2us(q.jitter);
	n->limit = q.limit;
	n->loss = from_prob(q.loss);
	n->gap = q.gap;
	n->duplicate = from_prob(q.duplicate);
	if (len <= qlen ||
	    nla_parse(tb, TCA_NETEM_MAX, (struct nlattr *)((char *)nla_data(opt) + qlen),
		      len - qlen, NULL))
		return;
	if (tb[TCA_NETEM_LATENCY64] && nla_len(tb[TCA_NETEM_LATENCY64]) >= 8) {
		int64_t ns;

		memcpy(&ns, nla_data(tb[TCA_NETEM_LATENCY64]), sizeof(ns));
		n->delay_us = ns > 0 ? (uint64_t)ns / 1000 : 0;
	}
	if (tb[TCA_NETEM_JITTER64] && nla_len(tb[TCA_NETEM_JITTER64]) >= 8) {
		int64_t ns;

		memcpy(&ns, nla_data(tb[TCA_NETEM_JITTER64]), sizeof(ns));
		n->jitter_us = ns > 0 ? (uint64_t)ns / 1000 : 0;
	}
	if (tb[TCA_NETEM_CORR] &&
	    nla_len(tb[TCA_NETEM_CORR]) >= (int)sizeof(struct tc_netem_corr)) {
		struct tc_netem_corr cr;

		memcpy(&cr, nla_data(tb[TCA_NETEM_CORR]), sizeof(cr));
		n->delay_corr = from_prob(cr.delay_corr);
		n->loss_corr = from_prob(cr.loss_corr);
		n->duplicate_corr = from_prob(cr.dup_corr);
	}
	if (tb[TCA_NETEM_REORDER] &&
	    nla_len(tb[TCA_NETEM_REORDER]) >= (int)sizeof(struct tc_netem_reorder)) {
		struct tc_netem_reorder r;

		memcpy(&r, nla_data(tb[TCA_NETEM_REORDER]), sizeof(r));
		n->reorder = from_prob(r.probability);
		n->reorder_corr = from_prob(r.correlation);
	}
	if (tb[TCA_NETEM_CORRUPT] &&
	    nla_len(tb[TCA_NETEM_CORRUPT]) >= (int)sizeof(struct tc_netem_corrupt)) {
		struct tc_netem_corrupt cp;

		memcpy(&cp, nla_data(tb[TCA_NETEM_CORRUPT]), sizeof(cp));
		n->corrupt = from_prob(cp.probability);
		n->corrupt_corr = from_prob(cp.correlation);
	}
	if (tb[TCA_NETEM_RATE] &&
	    nla_len(tb[TCA_NETEM_RATE]) >= (int)sizeof(struct tc_netem_rate)) {
		struct tc_netem_rate r;

		memcpy(&r, nla_data(tb[TCA_NETEM_RATE]), sizeof(r));
		n->rate = r.rate;
	}
	if (tb[TCA_NETEM_RATE64] && nla_len(tb[TCA_NETEM_RATE64]) >= 8)
		memcpy(&n->rate, nla_data(tb[TCA_NETEM_RATE64]), sizeof(n->rate));
}

static void parse_tbf(struct nlattr *opt, struct tbf_opts *t)
{
	struct nlattr *tb[TCA_TBF_MAX + 1];
	struct tc_tbf_qopt q;

	memset(t, 0, sizeof(*t));
	if (nla_parse_nested(tb, TCA_TBF_MAX, opt, NULL) || !tb[TCA_TBF_PARMS] ||
	    nla_len(tb[TCA_TBF_PARMS]) < (int)sizeof(q))
		return;
	memcpy(&q, nla_data(tb[TCA_TBF_PARMS]), sizeof(q));
	t->rate = q.rate.rate;
	if (tb[TCA_TBF_RATE64] && nla_len(tb[TCA_TBF_RATE64]) >= 8)
		memcpy(&t->rate, nla_data(tb[TCA_TBF_RATE64]), sizeof(t->rate));
	t->limit = q.limit;
	/* The bucket travels as the time it takes to send it at rate. */
	t->burst = (uint32_t)((double)t->rate * nl_ticks2us(q.buffer) / 1e6 + 0.5);
}

struct dump {
	int ifindex;
	struct qdisc_info *out;
	size_t cap;
	long n;
};

static int on_qdisc(struct nl_msg *msg, void *arg)
{
	struct dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[TCA_MAX + 1];
	struct tcmsg *tcm;
	struct qdisc_info q;

	if (h->nlmsg_type != RTM_NEWQDISC || nlmsg_datalen(h) < (int)sizeof(*tcm))
		return NL_SKIP;
	tcm = nlmsg_data(h);
	if (tcm->tcm_ifindex != d->ifindex)
		return NL_SKIP;
	if (nlmsg_parse(h, sizeof(*tcm), tb, TCA_MAX, NULL) < 0)
		return NL_SKIP;
	memset(&q, 0, sizeof(q));
	q.ifindex = tcm->tcm_ifindex;
	q.handle = tcm->tcm_handle;
	q.parent = tcm->tcm_parent;
	if (tb[TCA_KIND])
		snprintf(q.kind, sizeof(q.kind), "%.*s", nla_len(tb[TCA_KIND]),
			 (const char *)nla_data(tb[TCA_KIND]));
	q.kind[strcspn(q.kind, "\n")] = '\0';
	if (tb[TCA_OPTIONS] && !strcmp(q.kind, "netem")) {
		parse_netem(tb[TCA_OPTIONS], &q.netem);
		q.has_netem = true;
	} else if (tb[TCA_OPTIONS] && !strcmp(q.kind, "tbf")) {
		parse_tbf(tb[TCA_OPTIONS], &q.tbf);
		q.has_tbf = true;
	}
	/* The root qdisc first: the kernel dumps it first, but do not rely
	 * on it. */
	if ((size_t)d->n < d->cap) {
		if (q.parent == QDISC_PARENT_ROOT && d->n > 0) {
			d->out[d->n] = d->out[0];
			d->out[0] = q;
		} else {
			d->out[d->n] = q;
		}
	} else if (q.parent == QDISC_PARENT_ROOT && d->cap > 0) {
		d->out[0] = q;
	}
	d->n++;
	return NL_OK;
}

long qdisc_list(struct nlconn *c, int ifindex, struct qdisc_info *out, size_t cap,
		struct cl_error *err)
{
	struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex };
	struct dump d = { .ifindex = ifindex, .out = out, .cap = cap };
	char w[96];
	struct nl_cb *cb;
	int rc;

	rc = nl_send_simple(c->sk, RTM_GETQDISC, NLM_F_DUMP, &tcm, sizeof(tcm));
	if (rc < 0)
		return libnl_error(err, rc, "unable to list qdiscs");
	cb = socket_cb_clone(c);
	if (!cb)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "unable to list qdiscs");
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_qdisc, &d);
	rc = nl_recvmsgs(c->sk, cb);
	nl_cb_put(cb);
	if (rc < 0) {
		where(c, ifindex, w, sizeof(w));
		return cl_error_set(err, CL_EXIT_USAGE, "unable to list the qdiscs of %s: %s", w,
				    nl_geterror(rc));
	}
	return d.n;
}

int qdisc_root(struct nlconn *c, int ifindex, struct qdisc_info *out, struct cl_error *err)
{
	struct qdisc_info all[8];
	long n = qdisc_list(c, ifindex, all, 8, err);

	memset(out, 0, sizeof(*out));
	if (n < 0)
		return -1;
	if (n == 0 || all[0].parent != QDISC_PARENT_ROOT)
		return 0;
	*out = all[0];
	return 1;
}

bool qdisc_is_default(const struct qdisc_info *q)
{
	return q->parent == QDISC_PARENT_ROOT && TC_H_MAJ(q->handle) == 0;
}

/* ---- changing qdiscs -------------------------------------------------------------- */

/* A root qdisc object of kind on ifindex with handle; NULL on failure. */
static struct rtnl_qdisc *root_qdisc_new(int ifindex, uint32_t handle, const char *kind,
					 struct cl_error *err)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int rc;

	if (!q) {
		cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "%s qdisc", kind);
		return NULL;
	}
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	rc = rtnl_tc_set_kind(TC_CAST(q), kind);
	if (rc < 0) {
		libnl_error(err, rc, "libnl-route");
		cl_error_prefix(err, "%s qdisc", kind);
		rtnl_qdisc_put(q);
		return NULL;
	}
	return q;
}

/* libnl (3.7, and its master as of this writing) stretches netem's
 * TCA_OPTIONS over the attributes after it and then adds the stretch to
 * nlmsg_len a second time, although the attributes were counted when they
 * were put: the request claims as many bytes again past its end, and
 * sending it reads beyond libnl's buffer (a distribution table makes that
 * 8 KiB). TCA_OPTIONS is the last attribute and ends where the message
 * does: set nlmsg_len from it. Correct also once libnl is fixed. */
static int netem_fix_length(struct nl_msg *msg, struct cl_error *err)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const int hdrlen = NLMSG_LENGTH(sizeof(struct tcmsg));
	struct nlattr *a = (struct nlattr *)((char *)h + NLMSG_ALIGN(hdrlen)), *opts = NULL;
	size_t end = NLMSG_ALIGN(hdrlen);

	/* Walk by length, within what libnl really wrote: each attribute's
	 * own length, TCA_OPTIONS being the last one. */
	while (end + sizeof(*a) <= h->nlmsg_len && a->nla_len >= sizeof(*a)) {
		if ((a->nla_type & NLA_TYPE_MASK) == TCA_OPTIONS) {
			opts = a;
			break;
		}
		end += NLA_ALIGN(a->nla_len);
		a = (struct nlattr *)((char *)h + end);
	}
	if (!opts || end + opts->nla_len > h->nlmsg_len)
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"netem qdisc: unexpected request layout from libnl (no options)");
	h->nlmsg_len = (uint32_t)(end + NLA_ALIGN(opts->nla_len));
	return 0;
}

/* Add TCA_NETEM_RATE to a netem request libnl built. netem's TCA_OPTIONS
 * is a struct tc_netem_qopt followed by attributes, and must span the rest
 * of the message (the kernel parses the attributes inside it): libnl puts
 * it last and stretches it, and so must we after appending. */
static int netem_put_rate(struct nl_msg *msg, uint64_t rate, struct cl_error *err)
{
	struct tc_netem_rate r = { .rate = (uint32_t)rate };
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *opts = nlmsg_find_attr(h, sizeof(struct tcmsg), TCA_OPTIONS);

	if (rate >= (1ULL << 32))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "netem rate must be below 32 Gbit/s (2^32 bytes per second)");
	if (!opts || (char *)opts + NLA_ALIGN(opts->nla_len) != (char *)nlmsg_tail(h))
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"netem qdisc: unexpected request layout from libnl (options not last)");
	if (nla_put(msg, TCA_NETEM_RATE, sizeof(r), &r) < 0)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "netem qdisc: request too large for the rate");
	h = nlmsg_hdr(msg);
	opts = nlmsg_find_attr(h, sizeof(struct tcmsg), TCA_OPTIONS);
	opts->nla_len = (uint16_t)((char *)nlmsg_tail(h) - (char *)opts);
	return 0;
}

/* NLM_F_EXCL without NLM_F_REPLACE: the kernel grafts over a default root
 * qdisc only, and refuses ("Exclusivity flag on") when another is there. */
#define ADD_FLAGS (NLM_F_CREATE | NLM_F_EXCL)

int qdisc_netem_add(struct nlconn *c, int ifindex, uint32_t handle, const struct netem_opts *o,
		    struct cl_error *err)
{
	struct rtnl_qdisc *q;
	struct nl_msg *msg = NULL;
	int rc = -1, nr;

	if (o->delay_us > 60000000ULL || o->jitter_us > 60000000ULL)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "netem delay and jitter must be at most 60 s");
	q = root_qdisc_new(ifindex, handle, "netem", err);
	if (!q)
		return -1;
	/* libnl takes probabilities as the kernel's 32-bit fractions, in an int. */
	if (o->limit)
		rtnl_netem_set_limit(q, (int)o->limit);
	if (o->delay_us)
		rtnl_netem_set_delay(q, (int)o->delay_us);
	if (o->jitter_us)
		rtnl_netem_set_jitter(q, (int)o->jitter_us);
	if (o->delay_corr > 0)
		rtnl_netem_set_delay_correlation(q, (int)to_prob(o->delay_corr));
	if (o->loss > 0)
		rtnl_netem_set_loss(q, (int)to_prob(o->loss));
	if (o->loss_corr > 0)
		rtnl_netem_set_loss_correlation(q, (int)to_prob(o->loss_corr));
	if (o->duplicate > 0)
		rtnl_netem_set_duplicate(q, (int)to_prob(o->duplicate));
	if (o->duplicate_corr > 0)
		rtnl_netem_set_duplicate_correlation(q, (int)to_prob(o->duplicate_corr));
	if (o->corrupt > 0)
		rtnl_netem_set_corruption_probability(q, (int)to_prob(o->corrupt));
	if (o->corrupt_corr > 0)
		rtnl_netem_set_corruption_correlation(q, (int)to_prob(o->corrupt_corr));
	if (o->reorder > 0)
		rtnl_netem_set_reorder_probability(q, (int)to_prob(o->reorder));
	if (o->reorder_corr > 0)
		rtnl_netem_set_reorder_correlation(q, (int)to_prob(o->reorder_corr));
	if (o->gap)
		rtnl_netem_set_gap(q, (int)o->gap);
	if (o->dist && o->dist_len) {
		nr = rtnl_netem_set_delay_distribution_data(q, o->dist, o->dist_len);
		if (nr < 0) {
			libnl_error(err, nr, "netem qdisc: delay distribution");
			goto out;
		}
	}
	nr = rtnl_qdisc_build_add_request(q, ADD_FLAGS, &msg);
	if (nr < 0) {
		/* libnl checks the combinations: correlation without its
		 * probability, reorder or a distribution without delay. */
		libnl_error(err, nr, "netem qdisc: libnl refused the parameters");
		goto out;
	}
	if (netem_fix_length(msg, err) || (o->rate && netem_put_rate(msg, o->rate, err)))
		goto out;
	rc = request(c, msg, "add a netem qdisc to", ifindex, err);
out:
	nlmsg_free(msg);
	rtnl_qdisc_put(q);
	return rc;
}

int qdisc_tbf_add(struct nlconn *c, int ifindex, uint32_t handle, const struct tbf_opts *o,
		  struct cl_error *err)
{
	struct rtnl_qdisc *q;
	struct nl_msg *msg = NULL;
	int rc = -1, nr;

	if (!o->rate || o->rate >= (1ULL << 31))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "tbf rate must be 1 byte/s .. 17 Gbit/s, got %" PRIu64
				    " bytes/s",
				    o->rate);
	if (!o->burst || o->burst >= (1U << 31))
		return cl_error_set(err, CL_EXIT_USAGE, "tbf burst must be 1 byte .. 2 GiB");
	if (!o->limit == !o->latency_us)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "tbf needs exactly one of limit and latency");
	q = root_qdisc_new(ifindex, handle, "tbf", err);
	if (!q)
		return -1;
	rtnl_qdisc_tbf_set_rate(q, (int)o->rate, (int)o->burst, 0);
	if (o->limit) {
		rtnl_qdisc_tbf_set_limit(q, (int)o->limit);
	} else {
		nr = rtnl_qdisc_tbf_set_limit_by_latency(q, (int)o->latency_us);
		if (nr < 0) {
			libnl_error(err, nr, "tbf qdisc: limit from latency");
			goto out;
		}
	}
	nr = rtnl_qdisc_build_add_request(q, ADD_FLAGS, &msg);
	if (nr < 0) {
		libnl_error(err, nr, "tbf qdisc: libnl refused the parameters");
		goto out;
	}
	rc = request(c, msg, "add a tbf qdisc to", ifindex, err);
out:
	nlmsg_free(msg);
	rtnl_qdisc_put(q);
	return rc;
}

int qdisc_delete_root(struct nlconn *c, int ifindex, uint32_t handle, const char *kind,
		      struct cl_error *err)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct nl_msg *msg = NULL;
	char verb[96], h[16];
	int rc = -1, nr;

	if (!q)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "qdisc");
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	if (kind && (nr = rtnl_tc_set_kind(TC_CAST(q), kind)) < 0) {
		libnl_error(err, nr, "qdisc");
		goto out;
	}
	nr = rtnl_qdisc_build_delete_request(q, &msg);
	if (nr < 0) {
		libnl_error(err, nr, "qdisc delete request");
		goto out;
	}
	snprintf(verb, sizeof(verb), "delete the %s qdisc %s of", kind ? kind : "root",
		 qdisc_handle_format(handle, h, sizeof(h)));
	rc = request(c, msg, verb, ifindex, err);
out:
	nlmsg_free(msg);
	rtnl_qdisc_put(q);
	return rc;
}

/* ---- tc's notation ---------------------------------------------------------------- */

const char *qdisc_handle_format(uint32_t handle, char *buf, size_t size)
{
	if (handle == QDISC_PARENT_ROOT)
		snprintf(buf, size, "root");
	else if (handle == 0)
		snprintf(buf, size, "none");
	else if (TC_H_MIN(handle))
		snprintf(buf, size, "%x:%x", TC_H_MAJ(handle) >> 16, TC_H_MIN(handle));
	else
		snprintf(buf, size, "%x:", TC_H_MAJ(handle) >> 16);
	return buf;
}

int qdisc_handle_parse(const char *text, uint32_t *handle)
{
	unsigned long maj, min = 0;
	char *end;

	if (!text)
		return -1;
	if (!strcmp(text, "root")) {
		*handle = QDISC_PARENT_ROOT;
		return 0;
	}
	errno = 0;
	maj = strtoul(text, &end, 16);
	if (end == text || *end != ':' || errno || maj > 0xffff)
		return -1;
	text = end + 1;
	if (*text) {
		min = strtoul(text, &end, 16);
		if (end == text || *end || errno || min > 0xffff)
			return -1;
	}
	*handle = (uint32_t)(maj << 16 | min);
	return 0;
}

static const struct {
	const char *name;
	double bits; /* bits per unit */
} rate_units[] = {
	{ "bit", 1. },
	{ "kibit", 1024. },
	{ "kbit", 1e3 },
	{ "mibit", 1048576. },
	{ "mbit", 1e6 },
	{ "gibit", 1073741824. },
	{ "gbit", 1e9 },
	{ "tibit", 1099511627776. },
	{ "tbit", 1e12 },
	{ "bps", 8. },
	{ "kibps", 8. * 1024 },
	{ "kbps", 8e3 },
	{ "mibps", 8. * 1048576 },
	{ "mbps", 8e6 },
	{ "gibps", 8. * 1073741824 },
	{ "gbps", 8e9 },
};

int tc_rate_parse(const char *text, uint64_t *bytes_per_s)
{
	double v;
	char *end;
	size_t i;

	if (!text || !*text)
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (end == text || errno || !(v > 0) || !isfinite(v))
		return -1;
	if (*end) {
		for (i = 0; i < sizeof(rate_units) / sizeof(rate_units[0]); i++)
			if (!strcasecmp(end, rate_units[i].name))
				break;
		if (i == sizeof(rate_units) / sizeof(rate_units[0]))
			return -1;
		v *= rate_units[i].bits;
	}
	v /= 8;
	if (v < 1 || v >= 1.8e19)
		return -1;
	*bytes_per_s = (uint64_t)v;
	return 0;
}

int tc_size_parse(const char *text, uint32_t *bytes)
{
	double v;
	char *end;

	if (!text || !*text)
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (end == text || errno || v < 0 || !isfinite(v))
		return -1;
	if (!*end || !strcasecmp(end, "b"))
		;
	else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
		v *= 1024;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
		v *= 1024 * 1024;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb"))
		v *= 1024. * 1024 * 1024;
	else if (!strcasecmp(end, "kbit"))
		v *= 1024 / 8;
	else if (!strcasecmp(end, "mbit"))
		v *= 1024 * 1024 / 8;
	else if (!strcasecmp(end, "gbit"))
		v *= 1024. * 1024 * 1024 / 8;
	else
		return -1;
	if (v > (double)UINT32_MAX || v != floor(v))
		return -1;
	*bytes = (uint32_t)v;
	return 0;
}

const char *tc_rate_format(uint64_t bytes_per_s, char *buf, size_t size)
{
	double bits = (double)bytes_per_s * 8;

	if (bits >= 1e9)
		snprintf(buf, size, "%gGbit", bits / 1e9);
	else if (bits >= 1e6)
		snprintf(buf, size, "%gMbit", bits / 1e6);
	else if (bits >= 1e3)
		snprintf(buf, size, "%gKbit", bits / 1e3);
	else
		snprintf(buf, size, "%gbit", bits);
	return buf;
}

const char *tc_time_format(uint64_t us, char *buf, size_t size)
{
	if (us >= 1000000)
		snprintf(buf, size, "%gs", (double)us / 1e6);
	else if (us >= 1000)
		snprintf(buf, size, "%gms", (double)us / 1e3);
	else
		snprintf(buf, size, "%" PRIu64 "us", us);
	return buf;
}

static const char *size_format(uint32_t bytes, char *buf, size_t size)
{
	if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
		snprintf(buf, size, "%uMb", bytes / (1024 * 1024));
	else if (bytes >= 1024 && bytes % 1024 == 0)
		snprintf(buf, size, "%uKb", bytes / 1024);
	else if (bytes >= 1024)
		snprintf(buf, size, "%.3gKb", bytes / 1024.0);
	else
		snprintf(buf, size, "%ub", bytes);
	return buf;
}

/* " loss 5%" with an optional correlation: " 25%". */
static size_t put_prob(char *buf, size_t size, size_t len, const char *name, double p, double corr)
{
	if (p <= 0 || len >= size)
		return len;
	len += (size_t)snprintf(buf + len, size - len, " %s %.3g%%", name, p);
	if (corr > 0 && len < size)
		len += (size_t)snprintf(buf + len, size - len, " %.3g%%", corr);
	return len;
}

const char *qdisc_describe(const struct qdisc_info *q, char *buf, size_t size)
{
	char h[16], a[32], b[32];
	size_t len;

	len = (size_t)snprintf(buf, size, "%s %s", q->kind[0] ? q->kind : "?",
			       qdisc_handle_format(q->handle, h, sizeof(h)));
	if (!strcmp(h, "none"))
		len = (size_t)snprintf(buf, size, "%s 0:", q->kind[0] ? q->kind : "?");
	if (q->has_netem) {
		const struct netem_opts *n = &q->netem;

		if (n->delay_us && len < size) {
			len += (size_t)snprintf(buf + len, size - len, " delay %s",
						tc_time_format(n->delay_us, a, sizeof(a)));
			if (n->jitter_us && len < size)
				len += (size_t)snprintf(buf + len, size - len, " %s",
							tc_time_format(n->jitter_us, b, sizeof(b)));
			if (n->jitter_us && n->delay_corr > 0 && len < size)
				len += (size_t)snprintf(buf + len, size - len, " %.3g%%",
							n->delay_corr);
		}
		len = put_prob(buf, size, len, "loss", n->loss, n->loss_corr);
		len = put_prob(buf, size, len, "duplicate", n->duplicate, n->duplicate_corr);
		len = put_prob(buf, size, len, "corrupt", n->corrupt, n->corrupt_corr);
		len = put_prob(buf, size, len, "reorder", n->reorder, n->reorder_corr);
		if (n->reorder > 0 && n->gap > 1 && len < size)
			len += (size_t)snprintf(buf + len, size - len, " gap %u", n->gap);
		if (n->rate && len < size)
			len += (size_t)snprintf(buf + len, size - len, " rate %s",
						tc_rate_format(n->rate, a, sizeof(a)));
		if (len < size)
			snprintf(buf + len, size - len, " limit %u", n->limit);
	} else if (q->has_tbf && len < size) {
		snprintf(buf + len, size - len, " rate %s burst %s limit %s",
			 tc_rate_format(q->tbf.rate, a, sizeof(a)),
			 size_format(q->tbf.burst, b, sizeof(b)),
			 size_format(q->tbf.limit, h, sizeof(h)));
	}
	return buf;
}

/* ---- netem delay distributions ---------------------------------------------------- */

/* Candidate files for NAME.dist, in search order, into paths (each
 * malloc'd); returns how many. */
static size_t dist_candidates(const char *name, char **paths, size_t cap)
{
	static const char *const fixed[] = { "/usr/lib/tc", "/usr/lib64/tc", "/usr/local/lib/tc" };
	const char *env = getenv("TC_LIB_DIR");
	size_t n = 0;
	char pat[256];
	glob_t g;

	if (env && *env && n < cap && asprintf(&paths[n], "%s/%s.dist", env, name) >= 0)
		n++;
	/* Debian's iproute2 installs them under its multiarch directory. */
	snprintf(pat, sizeof(pat), "/usr/lib/*/tc/%s.dist", name);
	if (!glob(pat, 0, NULL, &g)) {
		for (size_t i = 0; i < g.gl_pathc && n < cap; i++)
			if ((paths[n] = strdup(g.gl_pathv[i])))
				n++;
		globfree(&g);
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && n < cap; i++)
		if (asprintf(&paths[n], "%s/%s.dist", fixed[i], name) >= 0)
			n++;
	return n;
}

int netem_dist_load(const char *name, int16_t **data, size_t *len, char *path, size_t path_size,
		    struct cl_error *err)
{
	char *paths[12], *line = NULL, tried[512] = "";
	size_t np, cap = 0, n = 0, tl = 0;
	int16_t *v = NULL;
	FILE *f = NULL;
	int rc = -1;

	*data = NULL;
	*len = 0;
	if (!name || !*name || strchr(name, '/'))
		return cl_error_set(err, CL_EXIT_USAGE, "'%s' is not a distribution name",
				    name ? name : "");
	np = dist_candidates(name, paths, sizeof(paths) / sizeof(paths[0]));
	for (size_t i = 0; i < np && !f; i++) {
		f = fopen(paths[i], "re");
		if (f && path)
			snprintf(path, path_size, "%s", paths[i]);
		if (!f && tl < sizeof(tried))
			tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, "%s%s",
					       i ? ", " : "", paths[i]);
	}
	if (!f) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "no netem distribution table '%s' (looked in %s); install iproute2, "
			     "which ships them, or set TC_LIB_DIR",
			     name, tried);
		goto out;
	}
	v = calloc(NETEM_DIST_MAX, sizeof(*v));
	if (!v) {
		cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "distribution '%s'", name);
		goto out;
	}
	while (getline(&line, &cap, f) != -1) {
		char *p = line, *end;

		if (*line == '#' || *line == '\n')
			continue;
		for (;;) {
			long x = strtol(p, &end, 0);

			if (end == p)
				break;
			if (n >= NETEM_DIST_MAX || x < INT16_MIN || x > INT16_MAX) {
				cl_error_set(
					err, CL_EXIT_USAGE,
					"distribution '%s': more than %d values, or one out of "
					"range",
					name, NETEM_DIST_MAX);
				goto out;
			}
			v[n++] = (int16_t)x;
			p = end;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != '\n') {
			cl_error_set(err, CL_EXIT_USAGE, "distribution '%s': not a number: '%.20s'",
				     name, p);
			goto out;
		}
	}
	if (!n) {
		cl_error_set(err, CL_EXIT_USAGE, "distribution '%s' has no values", name);
		goto out;
	}
	*data = v;
	*len = n;
	v = NULL;
	rc = 0;
out:
	free(line);
	free(v);
	if (f)
		fclose(f);
	for (size_t i = 0; i < np; i++)
		free(paths[i]);
	return rc;
}

/* ---- chaoslab's root qdisc on a drill's interface ------------------------------- */

const char *qdisc_target_name(const struct qdisc_target *t, char *buf, size_t size)
{
	if (t->netns[0])
		snprintf(buf, size, "%s in netns %s", t->ifname, t->netns);
	else
		snprintf(buf, size, "%s", t->ifname);
	return buf;
}

int qdisc_target_open(const struct qdisc_where *w, struct qdisc_target *t, struct nlconn **c,
		      struct cl_error *err)
{
	const bool explicit_if = w->interface && w->interface[0];
	const char *netns = explicit_if ? (w->netns ? w->netns : "") : "";
	char kind[32] = "", name[96];
	int r;

	memset(t, 0, sizeof(*t));
	*c = NULL;
	if (explicit_if) {
		snprintf(t->ifname, sizeof(t->ifname), "%s", w->interface);
		t->lab = (netns[0] && w->lab_netns && !strcmp(netns, w->lab_netns)) ||
			 (!netns[0] && w->lab_host_if && !strcmp(w->interface, w->lab_host_if));
		if (!t->lab && !w->allow_host) {
			if (netns[0])
				return cl_error_set(
					err, CL_EXIT_USAGE,
					"refusing to touch interface %s in network namespace "
					"%s: it is not the lab's (%s); set "
					"allow_host_interface: true",
					w->interface, netns, w->lab_netns ? w->lab_netns : "none");
			return cl_error_set(err, CL_EXIT_USAGE,
					    "refusing to touch host interface %s: set "
					    "allow_host_interface: true",
					    w->interface);
		}
	} else {
		if (!w->lab_netns || !w->lab_host_if || !w->lab_if)
			return cl_error_set(err, CL_EXIT_USAGE, "no lab network to act on");
		if (w->lab_end) {
			netns = w->lab_netns;
			snprintf(t->ifname, sizeof(t->ifname), "%s", w->lab_if);
		} else {
			snprintf(t->ifname, sizeof(t->ifname), "%s", w->lab_host_if);
		}
		t->lab = true;
	}
	snprintf(t->netns, sizeof(t->netns), "%s", netns);
	if (explicit_if && strlen(w->interface) >= sizeof(t->ifname))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "'%s' is not an interface name (at most 15 characters)",
				    w->interface);
	if (nlconn_open(c, t->netns, err)) {
		if (!explicit_if)
			cl_error_prefix(err,
					"the lab network '%s' is not up (list network under the "
					"scenario's lab:, or run chaoslab lab up)",
					w->lab_netns);
		return -1;
	}
	r = nlconn_link(*c, t->ifname, &t->ifindex, &t->mtu, kind, sizeof(kind), err);
	if (r == 1) {
		if (!explicit_if)
			cl_error_set(
				err, CL_EXIT_USAGE,
				"the lab network '%s' is not up: no interface %s (list network "
				"under the scenario's lab:, or run chaoslab lab up)",
				w->lab_netns, qdisc_target_name(t, name, sizeof(name)));
		else
			cl_error_set(err, CL_EXIT_USAGE, "no interface %s",
				     qdisc_target_name(t, name, sizeof(name)));
	}
	/* The lab's host end is recognised by its name: make sure it is the
	 * veth the lab made, not a host device that happens to be called so. */
	if (r == 0 && t->lab && !t->netns[0] && strcmp(kind, "veth") && !w->allow_host) {
		cl_error_set(
			err, CL_EXIT_USAGE,
			"refusing to touch host interface %s: it is not a veth (kind '%s'), so "
			"not the lab's; set allow_host_interface: true",
			t->ifname, kind[0] ? kind : "none");
		r = -1;
	}
	if (r) {
		nlconn_close(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

int qdisc_claim_root(struct nlconn *c, const struct qdisc_target *t, const char *kind,
		     struct cl_error *err)
{
	struct qdisc_info q;
	char name[96], desc[256];
	int r = qdisc_root(c, t->ifindex, &q, err);

	if (r < 0)
		return -1;
	if (r == 0 || qdisc_is_default(&q))
		return 0;
	qdisc_target_name(t, name, sizeof(name));
	qdisc_describe(&q, desc, sizeof(desc));
	if (q.handle == QDISC_CHAOSLAB_HANDLE)
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"%s already has chaoslab's root qdisc (%s): another drill is using "
			"it, or an earlier one was not reverted (chaoslab recover)",
			name, desc);
	return cl_error_set(err, CL_EXIT_USAGE,
			    "refusing to replace the root qdisc of %s (%s): it is not chaoslab's; "
			    "%s needs the interface's default qdisc",
			    name, desc, kind);
}

int qdisc_undo_set(cJSON *undo, const struct qdisc_target *t, const char *kind,
		   struct cl_error *err)
{
	static const char *const keys[] = { "netns", "interface", "handle", "kind" };
	char h[16];
	const char *vals[] = { t->netns, t->ifname,
			       qdisc_handle_format(QDISC_CHAOSLAB_HANDLE, h, sizeof(h)), kind };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(undo, keys[i]);
		if (!cJSON_AddStringToObject(undo, keys[i], vals[i]))
			return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "qdisc undo data");
	}
	return 0;
}

static const char *undo_str(const cJSON *undo, const char *key)
{
	const cJSON *v = undo ? cJSON_GetObjectItemCaseSensitive(undo, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int qdisc_undo_get(const cJSON *undo, char *netns, size_t netns_size, char *ifname,
		   size_t ifname_size, uint32_t *handle, char *kind, size_t kind_size)
{
	const char *ns = undo_str(undo, "netns"), *ifn = undo_str(undo, "interface");
	const char *h = undo_str(undo, "handle"), *k = undo_str(undo, "kind");

	if (!ns || !ifn || !ifn[0] || !h || !k || !k[0] || qdisc_handle_parse(h, handle))
		return -1;
	snprintf(netns, netns_size, "%s", ns);
	snprintf(ifname, ifname_size, "%s", ifn);
	snprintf(kind, kind_size, "%s", k);
	return 0;
}

int qdisc_undo_revert(const cJSON *undo, char *report, size_t size, struct cl_error *err)
{
	struct qdisc_target t = { 0 };
	struct nlconn *c = NULL;
	struct qdisc_info q;
	struct cl_error e;
	char kind[32], name[96], desc[256], h[16];
	uint32_t handle;
	int r, rc = -1;

	report[0] = '\0';
	if (qdisc_undo_get(undo, t.netns, sizeof(t.netns), t.ifname, sizeof(t.ifname), &handle,
			   kind, sizeof(kind)))
		return 0;
	qdisc_target_name(&t, name, sizeof(name));
	/* A namespace or interface that is gone took its qdiscs with it. */
	if (t.netns[0]) {
		char path[128];

		snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, t.netns);
		if (!netns_name_ok(t.netns) || (access(path, F_OK) < 0 && errno == ENOENT))
			return 0;
	}
	if (nlconn_open(&c, t.netns, err))
		goto out;
	r = nlconn_link(c, t.ifname, &t.ifindex, NULL, NULL, 0, err);
	if (r) {
		rc = r == 1 ? 0 : -1;
		goto out;
	}
	r = qdisc_root(c, t.ifindex, &q, err);
	if (r < 0)
		goto out;
	if (r == 0 || q.handle != handle || strcmp(q.kind, kind)) {
		/* Deleted already (the engineer's fix), or replaced by a qdisc
		 * that is not ours: either way there is nothing of ours. */
		if (r == 1 && !qdisc_is_default(&q))
			snprintf(report, size, "left %s on %s alone: not chaoslab's",
				 qdisc_describe(&q, desc, sizeof(desc)), name);
		rc = 0;
		goto out;
	}
	cl_error_clear(&e);
	if (qdisc_delete_root(c, t.ifindex, handle, kind, &e)) {
		/* Changed between the read and the delete: not ours any more. */
		if (e.errnum == EINVAL || e.errnum == ENOENT)
			rc = 0;
		else if (err)
			*err = e;
		goto out;
	}
	snprintf(report, size, "deleted %s %s from %s", kind,
		 qdisc_handle_format(handle, h, sizeof(h)), name);
	rc = 0;
out:
	nlconn_close(c);
	return rc;
}
