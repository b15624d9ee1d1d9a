/* dns-resolve: N lookups of a name, their success rate, latency and answer.
 *
 * Through a given server (server: ADDR[:PORT], or the lab service named by
 * service), or, by default, the way a program in the lab resolves: the
 * lab's resolver configuration, /etc/netns/LAB/resolv.conf (else
 * /etc/resolv.conf, as `ip netns exec` shows it), with queries sent from
 * inside the lab namespace; outside a lab network, the host's
 * /etc/resolv.conf from the host. The resolv.conf is followed as glibc's
 * stub resolver does: its nameservers in order (at most 3), `options
 * timeout:N attempts:N rotate`, a SERVFAIL, REFUSED or an unreachable
 * server moving on to the next one, a truncated answer asked again over TCP.
 *
 * A lookup succeeds when an answer of the type arrives (after any CNAME)
 * within timeout_ms, and, with expect or expect_service, it is that address.
 * The lookups of one check run at once, so a check takes about timeout_ms
 * at most. Conditions, all of which must hold: min_success_percent /
 * max_success_percent, max_p95_ms / min_p95_ms (over every lookup, a
 * failed one at the time it took). With none given, every lookup must
 * succeed. The observation counts the outcomes: "SERVFAIL 37/100, 63 ok;
 * p95 2 ms via 127.0.0.1:18053". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/registry.h"
#include "lab/network.h"
#include "sys/dns.h"
#include "sys/proc.h"

#define MAX_NS 3
#define MAX_COUNT 200

static const char *const types[] = { "A", "AAAA", NULL };

static const struct param_spec dns_resolve_params[] = {
	{ "name", PARAM_STRING, false, "api.lab.test", 0, 253, NULL, "the name to look up" },
	{ "type", PARAM_ENUM, false, "A", 0, 0, types, "the record type asked for" },
	{ "server", PARAM_STRING, false, NULL, 0, 64, NULL,
	  "ask this server only: ADDR, ADDR:PORT or [IPv6]:PORT (default: the resolver "
	  "configuration of the lab, else the host's)" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "ask this lab service only (the lab DNS server: dns)" },
	{ "count", PARAM_INT, false, "20", 1, MAX_COUNT, NULL, "lookups per check, made at once" },
	{ "timeout_ms", PARAM_INT, false, "2000", 50, 30000, NULL,
	  "a lookup not answered within this has failed (timeout)" },
	{ "expect", PARAM_STRING, false, NULL, 0, 45, NULL,
	  "the address the answer must hold (else it counts as a wrong answer)" },
	{ "expect_service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "the answer must be the address this lab service is reached at" },
	{ "min_success_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at least this share of the lookups succeed" },
	{ "max_success_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at most this share succeed (0: name resolution is broken)" },
	{ "max_p95_ms", PARAM_NUMBER, false, NULL, 0, 600000, NULL,
	  "met when the 95th percentile lookup time is at most this" },
	{ "min_p95_ms", PARAM_NUMBER, false, NULL, 0, 600000, NULL,
	  "met when the 95th percentile lookup time is at least this (lookups stall)" },
	{ NULL },
};

enum outcome {
	O_PENDING,
	O_OK,
	O_SERVFAIL,
	O_NXDOMAIN,
	O_REFUSED,
	O_NODATA,
	O_WRONG,
	O_TIMEOUT,
	O_UNREACHABLE,
	O_BAD,
	O_COUNT,
};

static const char *const outcome_names[] = {
	"pending",    "ok",	      "SERVFAIL", "NXDOMAIN",	 "REFUSED",
	"no records", "wrong answer", "timeout",  "unreachable", "bad reply",
};

struct nameserver {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
};

struct resolver {
	struct nameserver ns[MAX_NS];
	int n;
	int timeout_ms; /* per try */
	int attempts;
	bool rotate;
	char netns[LAB_NET_NAME_MAX + 1]; /* "" = the caller's namespace */
	char via[160];
};

struct lookup {
	int fd;
	int start, tries; /* first server; tries made */
	double began, try_end, ended;
	uint16_t id;
	enum outcome out, last_fail;
	char wrong[INET6_ADDRSTRLEN];
};

static int dns_resolve_validate(const struct params *p, char *msg, size_t size)
{
	unsigned char bin[16];
	const char *e = params_str(p, "expect", NULL);
	struct dns_name n;

	if (params_isset(p, "server") && params_isset(p, "service")) {
		snprintf(msg, size, "server and service exclude each other: give one");
		return -1;
	}
	if (e && params_isset(p, "expect_service")) {
		snprintf(msg, size, "expect and expect_service exclude each other: give one");
		return -1;
	}
	if (e && inet_pton(AF_INET, e, bin) != 1 && inet_pton(AF_INET6, e, bin) != 1) {
		snprintf(msg, size, "expect must be an IPv4 or IPv6 address");
		return -1;
	}
	if (dns_name_from_text(params_str(p, "name", ""), &n)) {
		snprintf(msg, size, "name is not a valid domain name");
		return -1;
	}
	if (params_isset(p, "min_p95_ms") && params_isset(p, "max_p95_ms") &&
	    params_number(p, "min_p95_ms", 0) > params_number(p, "max_p95_ms", 0)) {
		snprintf(msg, size, "min_p95_ms is above max_p95_ms: never met");
		return -1;
	}
	if (params_isset(p, "min_success_percent") && params_isset(p, "max_success_percent") &&
	    params_number(p, "min_success_percent", 0) >
		    params_number(p, "max_success_percent", 0)) {
		snprintf(msg, size, "min_success_percent is above max_success_percent: never met");
		return -1;
	}
	return 0;
}

static int dns_resolve_supported(const struct params *p, char *why, size_t size)
{
	return 0;
}

/* ---- where to ask ----------------------------------------------------------- */

/* "ADDR", "ADDR:PORT", "[V6]:PORT" or a bare IPv6 address into ns. */
static int ns_parse(const char *text, int def_port, struct nameserver *ns)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	int port = def_port;

	memset(ns, 0, sizeof(*ns));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || (size_t)(close - text - 1) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		if (close[1] == ':')
			port = atoi(close + 2);
		else if (close[1])
			return -1;
	} else if (colon && strchr(text, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
		port = atoi(colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", text);
	}
	if (port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ns->ss)->sin_addr) == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ns->ss;

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		ns->len = sizeof(*s);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ns->ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ns->ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		ns->len = sizeof(*s);
	} else {
		return -1;
	}
	if (port == 53)
		snprintf(ns->text, sizeof(ns->text), "%s", host);
	else
		snprintf(ns->text, sizeof(ns->text), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
			 port);
	return 0;
}

/* Parse resolv.conf text as glibc does (the parts that matter here). */
static void resolv_parse(const char *text, struct resolver *r)
{
	const char *p = text;

	r->n = 0;
	r->timeout_ms = 5000;
	r->attempts = 2;
	r->rotate = false;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		char line[256], word[32], rest[200];

		snprintf(line, sizeof(line), "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : NULL;
		if (sscanf(line, "%31s %199[^\n]", word, rest) < 1)
			continue;
		if (!strcmp(word, "nameserver") && r->n < MAX_NS) {
			char addr[64];

			if (sscanf(rest, "%63s", addr) == 1 && !ns_parse(addr, 53, &r->ns[r->n]))
				r->n++;
		} else if (!strcmp(word, "options")) {
			char *save = NULL, *opt;

			for (opt = strtok_r(rest, " \t", &save); opt;
			     opt = strtok_r(NULL, " \t", &save)) {
				if (!strncmp(opt, "timeout:", 8))
					r->timeout_ms = 1000 * (atoi(opt + 8) < 1  ? 1 :
								atoi(opt + 8) > 30 ? 30 :
										     atoi(opt + 8));
				else if (!strncmp(opt, "attempts:", 9))
					r->attempts = atoi(opt + 9) < 1 ? 1 :
						      atoi(opt + 9) > 5 ? 5 :
									  atoi(opt + 9);
				else if (!strcmp(opt, "rotate"))
					r->rotate = true;
			}
		}
	}
	/* No nameserver line: glibc asks the local host. */
	if (!r->n && !ns_parse("127.0.0.1", 53, &r->ns[0]))
		r->n = 1;
}

static int resolver_from_file(const char *path, struct resolver *r, struct cl_error *err)
{
	char text[8192];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "dns-resolve: unable to read '%s'",
				      path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	resolv_parse(text, r);
	return 0;
}

/* "10.203.7.0, 10.203.7.2 (/etc/netns/chaoslab/resolv.conf)" into r->via. */
static void via_nameservers(struct resolver *r, const char *path)
{
	size_t off = 0;

	for (int i = 0; i < r->n; i++)
		off += (size_t)snprintf(r->via + off,
					off < sizeof(r->via) ? sizeof(r->via) - off : 0, "%s%s",
					i ? ", " : "", r->ns[i].text);
	snprintf(r->via + off, off < sizeof(r->via) ? sizeof(r->via) - off : 0, " (%s)", path);
}

/* The resolver this check asks. 1 when a lab service it needs is not
 * running (obs says so). */
static int resolver_pick(struct check_ctx *ctx, struct resolver *r, char *obs, size_t size,
			 struct cl_error *err)
{
	const char *server = params_str(ctx->params, "server", NULL);
	const char *svc = params_str(ctx->params, "service", NULL);
	int timeout = (int)params_int(ctx->params, "timeout_ms", 2000);
	const cJSON *net = NULL;

	memset(r, 0, sizeof(*r));
	r->attempts = 1;
	r->timeout_ms = timeout;
	if (server) {
		if (ns_parse(server, 53, &r->ns[0]))
			return cl_error_set(err, CL_EXIT_USAGE, "dns-resolve: bad server '%s'",
					    server);
		r->n = 1;
		snprintf(r->via, sizeof(r->via), "%s", r->ns[0].text);
		return 0;
	}
	if (svc) {
		char host[64], text[80];
		int port;

		if (!ctx->env || !ctx->env->service_addr)
			return cl_error_set(
				err, CL_EXIT_USAGE,
				"dns-resolve: service '%s' can only be looked up during a "
				"drill",
				svc);
		if (ctx->env->service_addr(ctx->env->opaque, svc, host, sizeof(host), &port)) {
			snprintf(obs, size, "the %s service is not running", svc);
			return 1;
		}
		snprintf(text, sizeof(text), "%s:%d", host, port);
		if (ns_parse(text, 53, &r->ns[0]))
			return cl_error_set(err, CL_EXIT_USAGE, "dns-resolve: bad address '%s'",
					    text);
		r->n = 1;
		snprintf(r->via, sizeof(r->via), "%s (%s)", r->ns[0].text, svc);
		return 0;
	}
	if (ctx->env && ctx->env->injection)
		net = ctx->env->injection(ctx->env->opaque, "lab-network");
	if (net) {
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(net, "netns");
		char path[300];

		if (!cJSON_IsString(ns) || lab_net_name_check(ns->valuestring, err))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "dns-resolve: the lab network has no name");
		snprintf(r->netns, sizeof(r->netns), "%s", ns->valuestring);
		snprintf(path, sizeof(path), "%s/%s/resolv.conf", LAB_NET_ETC_DIR, r->netns);
		if (access(path, F_OK))
			snprintf(path, sizeof(path), "/etc/resolv.conf");
		if (resolver_from_file(path, r, err))
			return -1;
		via_nameservers(r, path);
	} else {
		if (resolver_from_file("/etc/resolv.conf", r, err))
			return -1;
		via_nameservers(r, "/etc/resolv.conf");
	}
	return 0;
}

/* A socket in the namespace netns ("" = ours): the thread joins it just to
 * create the socket, which stays in it. -1 with errno. */
static int socket_in(const char *netns, int family, int type)
{
	char path[300];
	int self, lab, fd, e;

	if (!netns[0])
		return socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	snprintf(path, sizeof(path), "%s/%s", LAB_NET_RUN_DIR, netns);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	lab = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || lab < 0 || setns(lab, CLONE_NEWNET) < 0) {
		e = errno;
		if (self >= 0)
			close(self);
		if (lab >= 0)
			close(lab);
		errno = e;
		return -1;
	}
	fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	e = errno;
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Stuck in the lab's namespace would be far worse than a
		 * failed check: stop here. */
		abort();
	}
	close(self);
	close(lab);
	errno = e;
	return fd;
}

/* ---- lookups --------------------------------------------------------------------- */

struct job {
	const struct resolver *r;
	struct dns_name name;
	uint16_t qtype;
	bool has_expect;
	int expect_family;
	unsigned char expect[16];
	double deadline_ms; /* per lookup */
};

static uint16_t next_id(void)
{
	uint16_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)rand();
	return id;
}

/* Judge a parsed reply to the lookup's question. */
static enum outcome judge(const struct job *job, const struct dns_msg *m, struct lookup *l)
{
	struct dns_name want = job->name;
	bool any = false;

	if (m->h.rcode == DNS_R_SERVFAIL)
		return O_SERVFAIL;
	if (m->h.rcode == DNS_R_REFUSED || m->h.rcode == DNS_R_NOTIMP)
		return O_REFUSED;
	if (m->h.rcode == DNS_R_NXDOMAIN)
		return O_NXDOMAIN;
	if (m->h.rcode != DNS_R_NOERROR)
		return O_BAD;
	/* Follow the CNAME chain through the answer section. */
	for (int hop = 0; hop < 8; hop++) {
		bool moved = false;

		for (size_t i = 0; i < m->nrr; i++) {
			const struct dns_rr *rr = &m->rr[i];

			if (rr->section != DNS_S_ANSWER || !dns_name_equal(&rr->name, &want))
				continue;
			if (rr->type == DNS_T_CNAME && job->qtype != DNS_T_CNAME) {
				want = rr->rd.target;
				moved = true;
				break;
			}
		}
		if (!moved)
			break;
	}
	for (size_t i = 0; i < m->nrr; i++) {
		const struct dns_rr *rr = &m->rr[i];
		const unsigned char *a = rr->type == DNS_T_A ? rr->rd.a : rr->rd.aaaa;

		if (rr->section != DNS_S_ANSWER || rr->type != job->qtype ||
		    !dns_name_equal(&rr->name, &want))
			continue;
		any = true;
		if (!job->has_expect || !memcmp(a, job->expect, job->qtype == DNS_T_A ? 4 : 16))
			return O_OK;
		inet_ntop(job->qtype == DNS_T_A ? AF_INET : AF_INET6, a, l->wrong,
			  sizeof(l->wrong));
	}
	return any ? O_WRONG : O_NODATA;
}

/* Ask over TCP after a truncated answer, blocking until the lookup's end. */
static enum outcome ask_tcp(const struct job *job, const struct nameserver *ns, struct lookup *l)
{
	uint8_t q[512], buf[2 + DNS_MAX_MSG];
	static struct dns_msg m;
	size_t have = 0, want = 0;
	int fd, len;

	len = dns_build_query(q + 2, sizeof(q) - 2, l->id, &job->name, job->qtype, 1232);
	if (len < 0)
		return O_BAD;
	q[0] = (uint8_t)(len >> 8);
	q[1] = (uint8_t)len;
	fd = socket_in(job->r->netns, ns->ss.ss_family, SOCK_STREAM);
	if (fd < 0)
		return O_UNREACHABLE;
	if (connect(fd, (struct sockaddr *)&ns->ss, ns->len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return O_UNREACHABLE;
	}
	for (;;) {
		double left = l->began + job->deadline_ms / 1000.0 - mono_now();
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0) {
			close(fd);
			return O_TIMEOUT;
		}
		if (send(fd, q, (size_t)len + 2, MSG_NOSIGNAL) == len + 2)
			break;
		if (errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN) {
			close(fd);
			return O_UNREACHABLE;
		}
	}
	for (;;) {
		double left = l->began + job->deadline_ms / 1000.0 - mono_now();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0) {
			close(fd);
			return O_TIMEOUT;
		}
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			close(fd);
			return n < 0 ? O_UNREACHABLE : O_BAD;
		}
		have += (size_t)n;
		if (have >= 2)
			want = (size_t)((buf[0] << 8) | buf[1]) + 2;
		if (want && have >= want)
			break;
	}
	close(fd);
	if (dns_parse(buf + 2, want - 2, &m) || m.h.id != l->id)
		return O_BAD;
	return judge(job, &m, l);
}

/* Start the lookup's next try; false when it has none left. */
static bool try_next(const struct job *job, struct lookup *l, double now)
{
	const struct resolver *r = job->r;
	double end = l->began + job->deadline_ms / 1000.0;
	uint8_t q[512];
	int len;

	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
	while (l->tries < r->n * r->attempts && now < end) {
		const struct nameserver *ns = &r->ns[(l->start + l->tries) % r->n];

		l->tries++;
		l->id = next_id();
		len = dns_build_query(q, sizeof(q), l->id, &job->name, job->qtype, 1232);
		l->fd = socket_in(r->netns, ns->ss.ss_family, SOCK_DGRAM);
		if (len < 0 || l->fd < 0 ||
		    connect(l->fd, (struct sockaddr *)&ns->ss, ns->len) < 0 ||
		    send(l->fd, q, (size_t)len, 0) != len) {
			l->last_fail = O_UNREACHABLE;
			if (l->fd >= 0)
				close(l->fd);
			l->fd = -1;
			continue;
		}
		l->try_end = now + r->timeout_ms / 1000.0;
		if (l->try_end > end)
			l->try_end = end;
		return true;
	}
	return false;
}

static void finish(struct lookup *l, enum outcome o, double now)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->out = o;
	l->ended = now;
}

/* A datagram arrived for l: judge it, or move on. */
static void on_reply(const struct job *job, struct lookup *l, double now)
{
	static struct dns_msg m;
	uint8_t buf[DNS_MAX_MSG];
	ssize_t n = recv(l->fd, buf, sizeof(buf), 0);
	enum outcome o;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* ECONNREFUSED, EHOSTUNREACH: this server is out; the next. */
		l->last_fail = O_UNREACHABLE;
		if (!try_next(job, l, now))
			finish(l, l->last_fail, now);
		return;
	}
	/* Not the answer to our question: a stray or spoofed datagram. */
	if (dns_parse(buf, (size_t)n, &m) || m.h.id != l->id || !m.h.qr || !m.has_question ||
	    !dns_name_equal(&m.q.name, &job->name) || m.q.type != job->qtype)
		return;
	if (m.h.tc) {
		const struct resolver *r = job->r;

		finish(l, ask_tcp(job, &r->ns[(l->start + l->tries - 1) % r->n], l), mono_now());
		return;
	}
	o = judge(job, &m, l);
	/* glibc gives up on a server that fails or refuses, not on one that
	 * says the name does not exist. */
	if (o == O_SERVFAIL || o == O_REFUSED || o == O_BAD) {
		l->last_fail = o;
		if (try_next(job, l, now))
			return;
	}
	finish(l, o, now);
}

static void run_lookups(const struct job *job, struct lookup *ls, int count)
{
	struct pollfd *p = calloc((size_t)count, sizeof(*p));
	int *which = calloc((size_t)count, sizeof(*which));
	double now = mono_now();

	for (int i = 0; i < count; i++) {
		ls[i] = (struct lookup){
			.fd = -1, .began = now, .out = O_PENDING, .last_fail = O_TIMEOUT
		};
		ls[i].start = job->r->rotate ? i % job->r->n : 0;
		if (!try_next(job, &ls[i], now))
			finish(&ls[i], ls[i].last_fail, now);
	}
	for (;;) {
		double next = 0;
		int n = 0;

		now = mono_now();
		for (int i = 0; i < count; i++) {
			struct lookup *l = &ls[i];

			if (l->out != O_PENDING)
				continue;
			if (now >= l->try_end && !try_next(job, l, now)) {
				finish(l, l->last_fail, now);
				continue;
			}
			if (!next || l->try_end < next)
				next = l->try_end;
			p[n] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
			which[n++] = i;
		}
		if (!n || !p || !which)
			break;
		if (poll(p, (nfds_t)n, (int)((next - now) * 1000) + 1) < 0 && errno != EINTR)
			break;
		now = mono_now();
		for (int k = 0; k < n; k++)
			if (p[k].revents)
				on_reply(job, &ls[which[k]], now);
	}
	now = mono_now();
	for (int i = 0; i < count; i++)
		if (ls[i].out == O_PENDING)
			finish(&ls[i], O_TIMEOUT, now);
	free(p);
	free(which);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void ms_text(double ms, char *buf, size_t size)
{
	if (ms < 10)
		snprintf(buf, size, "%.1f ms", ms);
	else
		snprintf(buf, size, "%.0f ms", ms);
}

static int dns_resolve_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const int count = (int)params_int(ctx->params, "count", 20);
	const char *expect = params_str(ctx->params, "expect", NULL);
	const char *expect_svc = params_str(ctx->params, "expect_service", NULL);
	struct lookup ls[MAX_COUNT];
	double ms[MAX_COUNT], p95, pct;
	int tally[O_COUNT] = { 0 }, rc;
	bool shown[O_COUNT] = { false };
	struct resolver r;
	struct job job = { 0 };
	char p95s[32], exp_buf[64] = "", wrong[INET6_ADDRSTRLEN] = "";
	size_t off;
	bool met = true, any_cond = false;

	rc = resolver_pick(ctx, &r, obs, size, err);
	if (rc < 0)
		return CHECK_ERROR;
	if (rc > 0)
		return CHECK_NOT_MET;
	job.r = &r;
	dns_name_from_text(params_str(ctx->params, "name", "api.lab.test"), &job.name);
	job.qtype = !strcmp(params_str(ctx->params, "type", "A"), "AAAA") ? DNS_T_AAAA : DNS_T_A;
	job.deadline_ms = (double)params_int(ctx->params, "timeout_ms", 2000);
	if (expect_svc) {
		int port;

		if (!ctx->env || !ctx->env->service_addr ||
		    ctx->env->service_addr(ctx->env->opaque, expect_svc, exp_buf, sizeof(exp_buf),
					   &port)) {
			snprintf(obs, size, "the %s service is not running", expect_svc);
			return CHECK_NOT_MET;
		}
		expect = exp_buf;
	}
	if (expect) {
		job.has_expect = true;
		if (inet_pton(job.qtype == DNS_T_A ? AF_INET : AF_INET6, expect, job.expect) != 1) {
			cl_error_set(err, CL_EXIT_USAGE,
				     "dns-resolve: expect '%s' is not an %s address", expect,
				     job.qtype == DNS_T_A ? "IPv4" : "IPv6");
			return CHECK_ERROR;
		}
	}
	run_lookups(&job, ls, count);
	for (int i = 0; i < count; i++) {
		tally[ls[i].out]++;
		ms[i] = (ls[i].ended - ls[i].began) * 1000;
		if (ls[i].out == O_WRONG && !wrong[0])
			snprintf(wrong, sizeof(wrong), "%s", ls[i].wrong);
	}
	qsort(ms, (size_t)count, sizeof(ms[0]), cmp_double);
	/* Nearest rank: the smallest lookup time with 95% at or below it. */
	p95 = ms[(int)ceil(0.95 * count) - 1];
	pct = 100.0 * tally[O_OK] / count;
	ms_text(p95, p95s, sizeof(p95s));

	/* "SERVFAIL 37/100, 63 ok; p95 2 ms via ..." — failures, most first. */
	off = 0;
	obs[0] = '\0';
	for (;;) {
		int best = -1;

		for (int o = O_SERVFAIL; o < O_COUNT; o++)
			if (tally[o] && !shown[o] && (best < 0 || tally[o] > tally[best]))
				best = o;
		if (best < 0)
			break;
		off += (size_t)snprintf(obs + off, off < size ? size - off : 0, "%s%s %d/%d",
					off ? ", " : "", outcome_names[best], tally[best], count);
		if (best == O_WRONG && wrong[0])
			off += (size_t)snprintf(obs + off, off < size ? size - off : 0, " (%s)",
						wrong);
		shown[best] = true;
	}
	off += (size_t)snprintf(obs + off, off < size ? size - off : 0,
				"%s%d/%d ok%s%s; p95 %s via %s", off ? ", " : "", tally[O_OK],
				count, expect ? " = " : "", expect ? expect : "", p95s, r.via);

	if (params_isset(ctx->params, "min_success_percent")) {
		any_cond = true;
		met = met && pct >= params_number(ctx->params, "min_success_percent", 0);
	}
	if (params_isset(ctx->params, "max_success_percent")) {
		any_cond = true;
		met = met && pct <= params_number(ctx->params, "max_success_percent", 100);
	}
	if (params_isset(ctx->params, "max_p95_ms")) {
		any_cond = true;
		met = met && p95 <= params_number(ctx->params, "max_p95_ms", 0);
	}
	if (params_isset(ctx->params, "min_p95_ms")) {
		any_cond = true;
		met = met && p95 >= params_number(ctx->params, "min_p95_ms", 0);
	}
	if (!any_cond)
		met = tally[O_OK] == count;
	return met ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier dns_resolve_verifier = {
	.name = "dns-resolve",
	.summary = "N lookups through the lab's resolver configuration or a given server: "
		   "success rate, p95 latency, expected answer",
	.params = dns_resolve_params,
	.supported = dns_resolve_supported,
	.validate = dns_resolve_validate,
	.check = dns_resolve_check,
};
