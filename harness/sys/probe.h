/* Request probes: the measurements the network verifiers share.
 *
 *   - a timed TCP connect (the handshake, as curl's time_connect sees it);
 *   - an HTTP/1.1 GET with its phases timed the way `curl -w` reports them
 *     (time_namelookup, time_connect, time_appconnect, time_pretransfer,
 *     time_starttransfer, time_total: seconds from the start, cumulative);
 *   - the listening TCP sockets of a network namespace, from
 *     /proc/PID/net/tcp and tcp6 (what `ss -lnt` lists), and which process
 *     holds one;
 *   - percentiles over samples.
 *
 * TLS is a hook: an https:// URL needs a TLS client installed with
 * probe_set_tls(); without one it fails with a message saying so. Nothing
 * here prints; errors come back in a struct cl_error. All times are
 * monotonic. */
#ifndef CHAOSLAB_PROBE_H
#define CHAOSLAB_PROBE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/error.h"

/* ---- addresses ----------------------------------------------------------- */

struct probe_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Resolve host (an IPv4 or IPv6 literal, brackets allowed, or a name) and a
 * port into out, the first address getaddrinfo() gives. seconds (may be NULL)
 * gets the time the lookup took. 0, or -1 with err naming the host. */
int probe_resolve(const char *host, int port, struct probe_addr *out, double *seconds,
		  struct cl_error *err);

/* "127.0.0.1:18080" or "[::1]:18080" into buf; returns buf. */
const char *probe_addr_format(const struct probe_addr *a, char *buf, size_t size);

/* ---- TCP connect ----------------------------------------------------------- */

/* Connect to a within timeout_ms and close again. 0 with *seconds the time
 * from connect() to the handshake's end; -1 with err (err->errnum is
 * ETIMEDOUT for a timeout, ECONNREFUSED, EHOSTUNREACH...) and *seconds the
 * time spent. */
int probe_tcp_connect(const struct probe_addr *a, int timeout_ms, double *seconds,
		      struct cl_error *err);

/* ---- HTTP ---------------------------------------------------------------------- */

struct probe_url {
	char scheme[8];	 /* "http" or "https" */
	char host[256];	 /* without brackets */
	int port;	 /* explicit, or 80 / 443 */
	char path[1024]; /* from the first '/', query included; "/" if none */
	bool tls;
};

/* Parse "http[s]://host[:port][/path]" (IPv6 hosts in brackets). 0, or -1
 * with err saying what is wrong. */
int probe_url_parse(const char *url, struct probe_url *out, struct cl_error *err);

/* A TLS client an https:// probe runs over its connected socket. The socket
 * is non-blocking; every call must give up at deadline (mono_now() seconds)
 * with an error whose errnum is ETIMEDOUT. */
struct probe_tls_ops {
	/* Client handshake presenting sni (may be NULL), verifying the peer's
	 * certificate chain and name when verify is true. Returns a session,
	 * or NULL with err set. */
	void *(*handshake)(int fd, const char *sni, bool verify, double deadline,
			   struct cl_error *err);
	/* Bytes read (> 0), 0 at a clean end of the stream, -1 with err. */
	ssize_t (*read)(void *session, void *buf, size_t len, double deadline,
			struct cl_error *err);
	/* Bytes written (> 0), -1 with err. */
	ssize_t (*write)(void *session, const void *buf, size_t len, double deadline,
			 struct cl_error *err);
	/* Free the session (the caller closes the socket). */
	void (*close)(void *session);
};

/* Install the TLS client for https:// probes, process-wide; NULL removes it.
 * ops must outlive its use. */
void probe_set_tls(const struct probe_tls_ops *ops);

/* True once a TLS client is installed (https:// probes can run). */
bool probe_tls_available(void);

struct probe_http_opts {
	int timeout_ms;		  /* whole request; <= 0 = 5000 */
	const char *method;	  /* NULL = "GET" */
	const char *host_header;  /* NULL = the URL's host[:port] */
	const char *connect_host; /* connect here instead of the URL's host (like
				      * curl --connect-to); NULL = the URL's */
	bool tls_verify;	  /* check the server certificate (https) */
};

#define PROBE_BODY_KEEP 512

struct probe_http_result {
	int status; /* 0 when no status line arrived */
	char reason[64];
	/* Seconds from the start, cumulative, as curl -w's time_* variables:
	 * appconnect is 0 without TLS; a phase not reached is 0. */
	double namelookup, connect, appconnect, pretransfer, starttransfer, total;
	long long size_download;    /* body bytes (chunk framing included) */
	long long size_header;	    /* status line and headers */
	long long content_length;   /* -1 when the response has none */
	char body[PROBE_BODY_KEEP]; /* the body's first bytes, NUL-terminated */
	size_t body_len;
	struct probe_addr remote; /* the address connected to */
};

/* GET url (one request, Connection: close) and time its phases. 0 when a
 * complete response arrived (whatever its status); -1 with err otherwise
 * (refused, timed out, reset, malformed), r then holds the phases reached.
 * An https URL without a TLS client installed fails with errnum
 * EPROTONOSUPPORT. */
int probe_http_get(const struct probe_url *url, const struct probe_http_opts *opts,
		   struct probe_http_result *r, struct cl_error *err);

/* ---- listening sockets ---------------------------------------------------------------- */

struct probe_listener {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network order; IPv4 in the first 4 bytes */
	int port;
	unsigned long inode;
	unsigned int uid;
	bool v6only;		/* IPv6 only (IPV6_V6ONLY, or net.ipv6.bindv6only) */
};

/* Parse the text of a /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6)
 * table: the sockets in state LISTEN, up to cap into out (may be NULL).
 * Returns how many there are in all, or -1 when the text is not such a
 * table. v6only comes from this namespace's net.ipv6.bindv6only: the table
 * does not show the socket option. */
long probe_listeners_parse(const char *text, int family, struct probe_listener *out, size_t cap);

enum probe_source {
	PROBE_SRC_AUTO, /* sock_diag, else the /proc tables */
	PROBE_SRC_DIAG, /* NETLINK_SOCK_DIAG only, as ss asks */
	PROBE_SRC_PROC, /* /proc/PID/net/tcp and tcp6 only, as netstat reads */
};

/* The TCP listeners of the network namespace pid is in (0 = the caller's),
 * IPv4 first, then IPv6, up to cap into out; returns how many in all, or -1
 * with err (the process is gone: errnum ESRCH; nothing to read them from).
 *
 * sock_diag (what ss uses) asks the kernel for listening sockets only, where
 * /proc/net/tcp walks every socket of the host: on a box with thousands of
 * TIME_WAIT sockets that is milliseconds against microseconds. For another
 * namespace a short-lived thread joins it (setns, CAP_SYS_ADMIN) just to
 * open the netlink socket there; without the privilege, or without
 * sock_diag in the kernel, AUTO falls back to /proc/PID/net/tcp{,6}, which
 * are per namespace too. A kernel without IPv6 simply has no IPv6
 * listeners. */
long probe_listeners_from(pid_t pid, enum probe_source src, struct probe_listener *out,
			  size_t cap, struct cl_error *err);

/* probe_listeners_from(pid, PROBE_SRC_AUTO, ...). */
long probe_listeners(pid_t pid, struct probe_listener *out, size_t cap, struct cl_error *err);

/* Whether connections to host reach l: its address is host's, or a wildcard
 * of host's family (0.0.0.0; :: also takes IPv4 unless l->v6only). host is
 * an address literal; NULL or "" matches every listener. */
bool probe_listener_serves(const struct probe_listener *l, const char *host);

/* The local address as ss prints it: "127.0.0.1:18080", "0.0.0.0:22",
 * "[::1]:631", "[::]:22". Returns buf. */
const char *probe_listener_format(const struct probe_listener *l, char *buf, size_t size);

/* The process holding socket inode open: hint is tried first (0 = none),
 * then, unless only_hint, every process. Returns the pid, or 0 when none
 * is found. */
pid_t probe_socket_owner(unsigned long inode, pid_t hint, bool only_hint);

/* ---- percentiles ------------------------------------------------------------------------ */

struct probe_stats {
	size_t n;
	double min, p50, p95, p99, max, mean;
};

/* The p-th percentile (0 < p <= 100) of n sorted samples by nearest rank:
 * the smallest sample with at least p% of the samples at or below it. 0 when
 * n is 0. */
double probe_percentile(const double *sorted, size_t n, double p);

/* Sort v (n samples) ascending and fill out; all zero when n is 0. */
void probe_stats_compute(double *v, size_t n, struct probe_stats *out);

/* seconds as milliseconds for an observation: "0.21 ms" below 1 ms, "4.7 ms"
 * below 10 ms, else whole ("213 ms"). Returns buf. */
const char *probe_format_ms(double seconds, char *buf, size_t size);

#endif
