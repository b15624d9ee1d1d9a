#include "sys/probe.h"
#include "sys/x509.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <math.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/proc.h"

#define HTTP_DEFAULT_TIMEOUT_MS 5000
#define HTTP_HEAD_MAX 16384 /* status line and headers */
#define HTTP_REQ_MAX 2048

/* OpenSSL (sys/x509.c) by default; tests may swap it or set NULL. */
static const struct probe_tls_ops *tls_ops = &x509_probe_tls;

void probe_set_tls(const struct probe_tls_ops *ops)
{
	tls_ops = ops;
}

bool probe_tls_available(void)
{
	return tls_ops != NULL;
}

/* ---- addresses ----------------------------------------------------------- */

/* host without surrounding brackets into buf. */
static const char *unbracket(const char *host, char *buf, size_t size)
{
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		snprintf(buf, size, "%.*s", (int)(n - 2), host + 1);
		return buf;
	}
	snprintf(buf, size, "%s", host);
	return buf;
}

int probe_resolve(const char *host, int port, struct probe_addr *out, double *seconds,
		  struct cl_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char name[256];
	double t0 = mono_now();
	int rc;

	memset(out, 0, sizeof(*out));
	if (seconds)
		*seconds = 0;
	if (!host || !host[0])
		return cl_error_set(err, CL_EXIT_USAGE, "no host to connect to");
	if (port < 1 || port > 65535)
		return cl_error_set(err, CL_EXIT_USAGE, "port %d is not 1..65535", port);
	unbracket(host, name, sizeof(name));
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (seconds)
		*seconds = mono_now() - t0;
	if (rc) {
		int e = rc == EAI_SYSTEM ? errno : 0;
		cl_error_set(err, CL_EXIT_USAGE, "unable to resolve '%s': %s", name,
			     rc == EAI_SYSTEM ? strerror(e) : gai_strerror(rc));
		err->errnum = e ? e : EHOSTUNREACH;
		return -1;
	}
	if (res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return cl_error_set(err, CL_EXIT_USAGE, "'%s': unexpected address size", name);
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	if (out->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)port);
	else if (out->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

const char *probe_addr_format(const struct probe_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%d", ip, ntohs(s->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%d", ip, ntohs(s->sin6_port));
	} else {
		snprintf(buf, size, "(no address)");
	}
	return buf;
}

/* ---- TCP connect ----------------------------------------------------------- */

/* Milliseconds left until deadline, at least 0. */
static int ms_left(double deadline)
{
	double left = deadline - mono_now();

	return left <= 0 ? 0 : (int)ceil(left * 1000);
}

/* Start a non-blocking connect to a and wait for the handshake until
 * deadline. Returns the connected socket, or -1 with err. */
static int connect_until(const struct probe_addr *a, double deadline, struct cl_error *err)
{
	char where[80];
	int fd, e = 0;
	socklen_t elen = sizeof(e);

	probe_addr_format(a, where, sizeof(where));
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create a socket");
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		e = errno;
		goto fail;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int left = ms_left(deadline);
		int r = poll(&p, 1, left);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			goto fail;
		}
		if (r == 0) {
			e = ETIMEDOUT;
			goto fail;
		}
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		e = errno;
	if (!e)
		return fd;
fail:
	close(fd);
	if (e == ETIMEDOUT)
		cl_error_set(err, CL_EXIT_USAGE, "connect to %s timed out", where);
	else
		cl_error_errno(err, CL_EXIT_USAGE, e, "connect to %s", where);
	err->errnum = e;
	return -1;
}

int probe_tcp_connect(const struct probe_addr *a, int timeout_ms, double *seconds,
		      struct cl_error *err)
{
	double t0 = mono_now();
	int fd = connect_until(a, t0 + (timeout_ms > 0 ? timeout_ms : 1) / 1000.0, err);

	*seconds = mono_now() - t0;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* ---- HTTP ---------------------------------------------------------------------- */

int probe_url_parse(const char *url, struct probe_url *out, struct cl_error *err)
{
	const char *p, *host, *host_end, *port_s = NULL;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (!strncasecmp(url, "http://", 7)) {
		snprintf(out->scheme, sizeof(out->scheme), "http");
		out->port = 80;
		p = url + 7;
	} else if (!strncasecmp(url, "https://", 8)) {
		snprintf(out->scheme, sizeof(out->scheme), "https");
		out->port = 443;
		out->tls = true;
		p = url + 8;
	} else {
		return cl_error_set(err, CL_EXIT_USAGE,
				    "url '%s': must start with http:// or https://", url);
	}
	host = p;
	if (*host == '[') {
		host_end = strchr(host, ']');
		if (!host_end)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "url '%s': unclosed '[' in the host", url);
		host++;
		p = host_end + 1;
	} else {
		host_end = host + strcspn(host, ":/?#");
		p = host_end;
	}
	hl = (size_t)(host_end - host);
	if (!hl)
		return cl_error_set(err, CL_EXIT_USAGE, "url '%s': no host", url);
	if (hl >= sizeof(out->host))
		return cl_error_set(err, CL_EXIT_USAGE, "url '%s': host too long", url);
	memcpy(out->host, host, hl);
	if (memchr(out->host, '@', hl))
		return cl_error_set(err, CL_EXIT_USAGE, "url '%s': user info is not supported",
				    url);
	if (*p == ':') {
		char *end;
		long v;

		port_s = ++p;
		v = strtol(port_s, &end, 10);
		if (end == port_s || v < 1 || v > 65535 || (*end && !strchr("/?#", *end)))
			return cl_error_set(err, CL_EXIT_USAGE, "url '%s': port must be 1..65535",
					    url);
		out->port = (int)v;
		p = end;
	}
	if (*p && *p != '/' && *p != '?' && *p != '#')
		return cl_error_set(err, CL_EXIT_USAGE, "url '%s': unexpected '%c' after the host",
				    url, *p);
	/* The fragment is the client's business, never sent. */
	hl = strcspn(p, "#");
	if (hl + 2 > sizeof(out->path))
		return cl_error_set(err, CL_EXIT_USAGE, "url '%s': path too long", url);
	if (*p == '/')
		snprintf(out->path, sizeof(out->path), "%.*s", (int)hl, p);
	else
		snprintf(out->path, sizeof(out->path), "/%.*s", (int)hl, p);
	for (const char *c = out->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "url '%s': spaces and control characters must be "
					    "percent-encoded",
					    url);
	return 0;
}

/* A connection, plain or through the TLS hook. */
struct conn {
	int fd;
	void *tls;
	double deadline;
};

static ssize_t conn_write(struct conn *c, const char *buf, size_t len, struct cl_error *err)
{
	size_t off = 0;

	if (c->tls) {
		while (off < len) {
			ssize_t n = tls_ops->write(c->tls, buf + off, len - off, c->deadline, err);
			if (n < 0)
				return -1;
			off += (size_t)n;
		}
		return (ssize_t)off;
	}
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			int r = poll(&p, 1, ms_left(c->deadline));
			if (r == 0) {
				cl_error_set(err, CL_EXIT_USAGE, "timed out sending the request");
				err->errnum = ETIMEDOUT;
				return -1;
			}
			if (r < 0 && errno != EINTR) {
				cl_error_errno(err, CL_EXIT_USAGE, errno, "waiting to send");
				return -1;
			}
			continue;
		}
		cl_error_errno(err, CL_EXIT_USAGE, errno, "sending the request");
		return -1;
	}
	return (ssize_t)off;
}

/* Bytes read (> 0), 0 at the end of the stream, -1 with err. */
static ssize_t conn_read(struct conn *c, char *buf, size_t len, struct cl_error *err)
{
	if (c->tls)
		return tls_ops->read(c->tls, buf, len, c->deadline, err);
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd p = { .fd = c->fd, .events = POLLIN };
			int r = poll(&p, 1, ms_left(c->deadline));
			if (r == 0) {
				cl_error_set(err, CL_EXIT_USAGE,
					     "timed out waiting for the response");
				err->errnum = ETIMEDOUT;
				return -1;
			}
			if (r < 0 && errno != EINTR) {
				cl_error_errno(err, CL_EXIT_USAGE, errno,
					       "waiting for the response");
				return -1;
			}
			continue;
		}
		cl_error_errno(err, CL_EXIT_USAGE, errno, "reading the response");
		return -1;
	}
}

/* The end of the header block in buf (the first byte of the body), or NULL. */
static const char *head_end(const char *buf, size_t len)
{
	const char *crlf = memmem(buf, len, "\r\n\r\n", 4);
	const char *lf = memmem(buf, len, "\n\n", 2);

	if (crlf && (!lf || crlf < lf))
		return crlf + 4;
	return lf ? lf + 2 : NULL;
}

/* Parse the status line and the headers the probe needs. */
static int parse_head(char *head, struct probe_http_result *r, bool *chunked, struct cl_error *err)
{
	char *line, *save = NULL;
	int minor, code, n = 0;

	line = strtok_r(head, "\r\n", &save);
	if (!line || sscanf(line, "HTTP/1.%d %3d%n", &minor, &code, &n) != 2 || code < 100 ||
	    code > 999)
		return cl_error_set(err, CL_EXIT_USAGE, "not an HTTP/1.x response: '%.60s'",
				    line ? line : "");
	r->status = code;
	snprintf(r->reason, sizeof(r->reason), "%s", line[n] == ' ' ? line + n + 1 : line + n);
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		char *colon = strchr(line, ':'), *v;

		if (!colon)
			continue;
		*colon = '\0';
		v = colon + 1 + strspn(colon + 1, " \t");
		if (!strcasecmp(line, "Content-Length")) {
			char *end;
			long long cl = strtoll(v, &end, 10);
			if (end == v || cl < 0)
				return cl_error_set(err, CL_EXIT_USAGE,
						    "bad Content-Length '%.40s'", v);
			r->content_length = cl;
		} else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(v, "chunked")) {
			*chunked = true;
		}
	}
	if (*chunked)
		r->content_length = -1;
	return 0;
}

static void keep_body(struct probe_http_result *r, const char *p, size_t n)
{
	size_t room = sizeof(r->body) - 1 - r->body_len;

	if (n > room)
		n = room;
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

int probe_http_get(const struct probe_url *url, const struct probe_http_opts *opts,
		   struct probe_http_result *r, struct cl_error *err)
{
	static const struct probe_http_opts defaults = { 0 };
	const struct probe_http_opts *o = opts ? opts : &defaults;
	int timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	const char *method = o->method ? o->method : "GET";
	struct conn c = { .fd = -1 };
	char req[HTTP_REQ_MAX], host_hdr[300], *head = NULL;
	size_t hlen = 0;
	bool chunked = false, no_body;
	double t0 = mono_now();
	int n, rc = -1;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	c.deadline = t0 + timeout_ms / 1000.0;
	if (url->tls && !tls_ops) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "https needs a TLS client, and none is built into this probe yet");
		err->errnum = EPROTONOSUPPORT;
		return -1;
	}
	if (probe_resolve(o->connect_host ? o->connect_host : url->host, url->port, &r->remote,
			  NULL, err))
		goto out;
	r->namelookup = mono_now() - t0;
	c.fd = connect_until(&r->remote, c.deadline, err);
	if (c.fd < 0)
		goto out;
	r->connect = mono_now() - t0;
	if (url->tls) {
		c.tls = tls_ops->handshake(c.fd, url->host, o->tls_verify, c.deadline, err);
		if (!c.tls)
			goto out;
		r->appconnect = mono_now() - t0;
	}

	if (o->host_header)
		snprintf(host_hdr, sizeof(host_hdr), "%s", o->host_header);
	else if (strchr(url->host, ':'))
		snprintf(host_hdr, sizeof(host_hdr), "[%s]:%d", url->host, url->port);
	else
		snprintf(host_hdr, sizeof(host_hdr), "%s:%d", url->host, url->port);
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "User-Agent: chaoslab-probe/" CHAOSLAB_VERSION "\r\n"
		     "Accept: */*\r\n"
		     "Connection: close\r\n"
		     "\r\n",
		     method, url->path, host_hdr);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		cl_error_set(err, CL_EXIT_USAGE, "request too long");
		goto out;
	}
	r->pretransfer = mono_now() - t0;
	if (conn_write(&c, req, (size_t)n, err) < 0)
		goto out;

	head = malloc(HTTP_HEAD_MAX + 1);
	if (!head) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	/* The status line and headers. */
	for (;;) {
		const char *end;
		ssize_t got = conn_read(&c, head + hlen, HTTP_HEAD_MAX - hlen, err);

		if (got < 0)
			goto out;
		if (got == 0) {
			cl_error_set(err, CL_EXIT_USAGE,
				     hlen ? "connection closed in the middle of "
					    "the response headers" :
					    "connection closed without a response");
			err->errnum = ECONNRESET;
			goto out;
		}
		if (!hlen)
			r->starttransfer = mono_now() - t0;
		hlen += (size_t)got;
		head[hlen] = '\0';
		end = head_end(head, hlen);
		if (end) {
			size_t body_now = hlen - (size_t)(end - head);

			r->size_header = (long long)(end - head);
			keep_body(r, end, body_now);
			r->size_download = (long long)body_now;
			head[r->size_header] = '\0';
			if (parse_head(head, r, &chunked, err))
				goto out;
			break;
		}
		if (hlen >= HTTP_HEAD_MAX) {
			cl_error_set(err, CL_EXIT_USAGE, "response headers larger than %d bytes",
				     HTTP_HEAD_MAX);
			goto out;
		}
	}
	/* The body: Content-Length bytes, or up to the end of the stream (we
	 * asked for Connection: close). */
	no_body = !strcmp(method, "HEAD") || r->status == 204 || r->status == 304 ||
		  (r->status >= 100 && r->status < 200);
	if (no_body) {
		/* Whatever came after the headers is not a body. */
		r->size_download = 0;
		r->body_len = 0;
		r->body[0] = '\0';
	}
	while (!no_body && (r->content_length < 0 || r->size_download < r->content_length)) {
		char buf[16384];
		ssize_t got = conn_read(&c, buf, sizeof(buf), err);

		if (got < 0)
			goto out;
		if (got == 0) {
			if (r->content_length >= 0) {
				cl_error_set(err, CL_EXIT_USAGE,
					     "response body cut short: %lld of %lld bytes",
					     r->size_download, r->content_length);
				err->errnum = ECONNRESET;
				goto out;
			}
			break;
		}
		keep_body(r, buf, (size_t)got);
		r->size_download += got;
	}
	if (r->content_length >= 0 && r->size_download > r->content_length)
		r->size_download = r->content_length;
	r->total = mono_now() - t0;
	rc = 0;
out:
	if (rc)
		r->total = mono_now() - t0;
	if (c.tls)
		tls_ops->close(c.tls);
	if (c.fd >= 0)
		close(c.fd);
	free(head);
	return rc;
}

/* ---- listening sockets ---------------------------------------------------------------- */

#define TCP_LISTEN 0x0A

static bool v6_only(void);

long probe_listeners_parse(const char *text, int family, struct probe_listener *out, size_t cap)
{
	const char *line = text;
	long n = 0;
	size_t hexlen = family == AF_INET ? 8 : 32;

	/* "  sl  local_address rem_address   st tx_queue ..." */
	if (!text || !strstr(text, "local_address") || (family != AF_INET && family != AF_INET6))
		return -1;
	line = strchr(text, '\n');
	while (line && *++line) {
		char local[40];
		unsigned int port, st, uid;
		unsigned long inode;
		struct probe_listener l = { .family = family };

		if (sscanf(line, " %*[0-9]: %39[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %u %*s %lu", local,
			   &port, &st, &uid, &inode) == 5 &&
		    strlen(local) == hexlen && st == TCP_LISTEN) {
			/* The kernel prints each 32-bit word of the address as a
			 * number in host order: read it back the same way. */
			for (size_t w = 0; w < hexlen / 8; w++) {
				char word[9];
				uint32_t v;

				memcpy(word, local + w * 8, 8);
				word[8] = '\0';
				v = (uint32_t)strtoul(word, NULL, 16);
				memcpy(l.addr + w * 4, &v, 4);
			}
			l.port = (int)port;
			l.uid = uid;
			l.inode = inode;
			l.v6only = family == AF_INET6 && v6_only();
			if (out && (size_t)n < cap)
				out[n] = l;
			n++;
		}
		line = strchr(line, '\n');
	}
	return n;
}

/* A whole small /proc file, malloc'd and NUL-terminated; NULL with errno. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		int e = fd < 0 ? errno : ENOMEM;
		if (fd >= 0)
			close(fd);
		free(buf);
		errno = e;
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The /proc tables of pid's namespace (0: ours). */
static long proc_listeners(pid_t pid, struct probe_listener *out, size_t cap,
			   struct cl_error *err)
{
	static const struct {
		const char *name;
		int family;
	} tables[] = {
		{ "tcp", AF_INET },
		{ "tcp6", AF_INET6 },
	};
	long total = 0;

	for (size_t i = 0; i < 2; i++) {
		char path[64], *text;
		long n;

		if (pid > 0)
			snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, tables[i].name);
		else
			snprintf(path, sizeof(path), "/proc/self/net/%s", tables[i].name);
		text = slurp(path);
		if (!text) {
			/* tcp was there a moment ago: no IPv6 in this kernel. */
			if (errno == ENOENT && tables[i].family == AF_INET6)
				continue;
			if (errno == ENOENT && pid > 0)
				errno = ESRCH;
			cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read %s", path);
			return -1;
		}
		n = probe_listeners_parse(text, tables[i].family, out ? out + total : NULL,
					  out && (size_t)total < cap ? cap - (size_t)total : 0);
		free(text);
		if (n < 0)
			return cl_error_set(err, CL_EXIT_USAGE, "%s is not a TCP socket table",
					    path);
		total += n;
	}
	return total;
}

/* One sock_diag dump of family's listening TCP sockets on nl. Returns the
 * count (all, written up to cap), or -1 with errno. EAFNOSUPPORT-like
 * answers for a family the kernel lacks count as none. */
static long diag_dump(int nl, int family, struct probe_listener *out, size_t cap)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.r = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1U << TCP_LISTEN },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	long n = 0;

	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -1;
	for (;;) {
		ssize_t len = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			if (!len)
				errno = EPROTO;
			return -1;
		}
		for (; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			struct probe_listener l = { 0 };
			struct rtattr *a;
			int alen;

			if (h->nlmsg_type == NLMSG_DONE)
				return n;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				/* No such family here (no IPv6): none. */
				if (e->error == -ENOENT || e->error == -EAFNOSUPPORT ||
				    e->error == -EINVAL)
					return family == AF_INET6 ? n : (errno = -e->error, -1);
				errno = -e->error;
				return -1;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			l.family = m->idiag_family;
			memcpy(l.addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
			l.port = ntohs(m->id.idiag_sport);
			l.inode = m->idiag_inode;
			l.uid = m->idiag_uid;
			a = (struct rtattr *)(m + 1);
			alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == INET_DIAG_SKV6ONLY &&
				    RTA_PAYLOAD(a) >= 1)
					l.v6only = *(const uint8_t *)RTA_DATA(a) != 0;
			if (out && (size_t)n < cap)
				out[n] = l;
			n++;
		}
	}
}

struct diag_open {
	int nsfd;       /* the namespace to open the socket in */
	int fd;         /* out: the socket, or -1 */
	int err;        /* out: errno */
};

/* Thread body: join the namespace (only this thread) and open the socket
 * there; it stays in that namespace. The thread then ends. */
static void *diag_open_in(void *arg)
{
	struct diag_open *d = arg;

	if (setns(d->nsfd, CLONE_NEWNET) < 0) {
		d->err = errno;
		return NULL;
	}
	d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	d->err = d->fd < 0 ? errno : 0;
	return NULL;
}

/* A NETLINK_SOCK_DIAG socket in pid's network namespace (ours for 0 or a
 * process in ours). -1 with errno: ESRCH when pid is gone. */
static int diag_socket(pid_t pid)
{
	struct stat self, other;
	struct diag_open d = { .fd = -1 };
	char path[64];
	pthread_t t;

	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (stat(path, &other) < 0) {
			if (errno == ENOENT)
				errno = ESRCH;
			return -1;
		}
		if (stat("/proc/self/ns/net", &self) < 0)
			return -1;
		if (self.st_dev != other.st_dev || self.st_ino != other.st_ino) {
			d.nsfd = open(path, O_RDONLY | O_CLOEXEC);
			if (d.nsfd < 0)
				return -1;
			if ((errno = pthread_create(&t, NULL, diag_open_in, &d))) {
				close(d.nsfd);
				return -1;
			}
			pthread_join(t, NULL);
			close(d.nsfd);
			errno = d.err;
			return d.fd;
		}
	}
	return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

static long diag_listeners(pid_t pid, struct probe_listener *out, size_t cap,
			   struct cl_error *err)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int nl = diag_socket(pid);
	long total = 0;

	if (nl < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "sock_diag socket");
	for (size_t i = 0; i < 2; i++) {
		long n = diag_dump(nl, families[i], out ? out + total : NULL,
				   out && (size_t)total < cap ? cap - (size_t)total : 0);
		if (n < 0) {
			cl_error_errno(err, CL_EXIT_USAGE, errno, "sock_diag dump");
			close(nl);
			return -1;
		}
		total += n;
	}
	close(nl);
	return total;
}

long probe_listeners_from(pid_t pid, enum probe_source src, struct probe_listener *out,
			  size_t cap, struct cl_error *err)
{
	struct cl_error e;
	long n;

	if (src == PROBE_SRC_PROC)
		return proc_listeners(pid, out, cap, err);
	cl_error_clear(&e);
	n = diag_listeners(pid, out, cap, &e);
	if (n >= 0)
		return n;
	if (src == PROBE_SRC_DIAG || e.errnum == ESRCH) {
		if (err)
			*err = e;
		return -1;
	}
	/* No privilege to enter the namespace, no sock_diag: the tables. */
	return proc_listeners(pid, out, cap, err);
}

long probe_listeners(pid_t pid, struct probe_listener *out, size_t cap, struct cl_error *err)
{
	return probe_listeners_from(pid, PROBE_SRC_AUTO, out, cap, err);
}

static bool v6_only(void)
{
	char buf[8] = "";
	int fd = open("/proc/sys/net/ipv6/bindv6only", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return buf[0] == '1';
}

bool probe_listener_serves(const struct probe_listener *l, const char *host)
{
	static const unsigned char any[16], mapped[12] = { [10] = 0xff, [11] = 0xff };
	unsigned char a[16];
	char name[INET6_ADDRSTRLEN + 2];

	if (!host || !host[0])
		return true;
	unbracket(host, name, sizeof(name));
	if (inet_pton(AF_INET, name, a) == 1) {
		if (l->family == AF_INET)
			return !memcmp(l->addr, a, 4) || !memcmp(l->addr, any, 4);
		/* An IPv6 socket takes IPv4 as mapped addresses, unless v6only. */
		if (!memcmp(l->addr, any, 16))
			return !l->v6only;
		return !memcmp(l->addr, mapped, 12) && !memcmp(l->addr + 12, a, 4);
	}
	if (inet_pton(AF_INET6, name, a) == 1 && l->family == AF_INET6)
		return !memcmp(l->addr, a, 16) || !memcmp(l->addr, any, 16);
	return false;
}

const char *probe_listener_format(const struct probe_listener *l, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(l->family, l->addr, ip, sizeof(ip));
	if (l->family == AF_INET6)
		snprintf(buf, size, "[%s]:%d", ip, l->port);
	else
		snprintf(buf, size, "%s:%d", ip, l->port);
	return buf;
}

/* True if pid has "socket:[inode]" among its open files. */
static bool holds_socket(const char *pid, const char *want)
{
	char path[300], link[64];
	struct dirent *fe;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (fe = readdir(d))) {
		ssize_t n;

		if (fe->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, fe->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, want);
	}
	closedir(d);
	return found;
}

pid_t probe_socket_owner(unsigned long inode, pid_t hint, bool only_hint)
{
	char want[64], pid[24];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if (hint > 0) {
		snprintf(pid, sizeof(pid), "%d", (int)hint);
		if (holds_socket(pid, want))
			return hint;
	}
	if (only_hint)
		return 0;
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (holds_socket(de->d_name, want))
			found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/* ---- percentiles ------------------------------------------------------------------------ */

double probe_percentile(const double *sorted, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	if (p <= 0)
		return sorted[0];
	rank = (size_t)ceil(p / 100.0 * (double)n - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void probe_stats_compute(double *v, size_t n, struct probe_stats *out)
{
	double sum = 0;

	memset(out, 0, sizeof(*out));
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	out->n = n;
	out->min = v[0];
	out->max = v[n - 1];
	out->mean = sum / (double)n;
	out->p50 = probe_percentile(v, n, 50);
	out->p95 = probe_percentile(v, n, 95);
	out->p99 = probe_percentile(v, n, 99);
}

const char *probe_format_ms(double seconds, char *buf, size_t size)
{
	double ms = seconds * 1000;

	if (ms < 1)
		snprintf(buf, size, "%.2f ms", ms);
	else if (ms < 10)
		snprintf(buf, size, "%.1f ms", ms);
	else
		snprintf(buf, size, "%.0f ms", ms);
	return buf;
}
