/* demo-api: the lab's small HTTP/1.1 service, the "user-facing api" drills
 * keep alive and measure.
 *
 *   GET /health    200 "ok\n" (503 "draining\n" while drain = on)
 *   GET /version   200 {"service":"demo-api","version":"<chaoslab version>"}
 *   GET /bytes/N   200 with N bytes of text (N <= 64 MiB): a download, for
 *                  slow-link drills
 *   anything else  404 (405 for a method other than GET or HEAD)
 *
 * One request per connection (Connection: close). A single thread serves many
 * connections at once from a poll() loop over non-blocking sockets, so one
 * slow client never stalls the others: requests are limited in size and time,
 * stalled clients give way to new ones when all slots are taken, and after
 * the response the socket is shut down for writing and drained briefly, so
 * the client reads the whole response rather than a reset.
 *
 * Configuration, like a real daemon's: a file of `key = value` lines
 *
 *   listen = 127.0.0.1:18080     ADDRESS:PORT, IPv6 in brackets ([::1]:18080),
 *                                * for every IPv4 address
 *   drain = off                  on: /health answers 503, so load balancers
 *                                take this backend out of rotation
 *
 * at STATE/lab/demo-api.conf (STATE: chaoslab's state directory) unless the
 * arguments name another ("config"). The lab provisions it at every start
 * from the arguments ("address", default 127.0.0.1, and "port"), then the
 * service reads it back, and reads it again on SIGHUP (`kill -HUP PID`): a
 * changed listen address opens the new socket before closing the old one
 * (on the same port, where the kernel refuses two, the other way round); a
 * config that does not parse, or an address that cannot be bound, is logged
 * and the running configuration kept, as nginx does. Inside the lab network
 * namespace the addresses are that namespace's. What it does is logged, with
 * UTC times, to demo-api.log next to the config, and its pid is written to
 * demo-api.pid there, like a daemon's pidfile: `kill -HUP $(cat .../demo-api.pid)`.
 *
 * It locks itself down (no capabilities, seccomp) once its first socket is
 * bound. The allow-list has what a reload needs (openat, socket, bind,
 * setsockopt), and a second filter narrows those: files only opened read-only
 * and never created, sockets only of the IPv4 and IPv6 families. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/journal.h"
#include "lab/service.h"
#include "sys/worker.h"

#define DEMO_API_DEFAULT_PORT 18080
#define DEMO_MAX_CONNS 64            /* served at once; more wait in the backlog */
#define DEMO_BACKLOG 128
#define DEMO_REQ_MAX 8192            /* request line and headers */
#define DEMO_RESP_MAX 1024
#define DEMO_IO_TIMEOUT_MS 5000      /* to receive a request, or send a response */
#define DEMO_LINGER_MS 1000          /* draining after the response */
#define DEMO_ACCEPT_BACKOFF_MS 100   /* out of descriptors: let some close first */
#define DEMO_EVICT_AFTER_MS 1000     /* a request still incomplete this long may
				      * give its slot to a new connection */
#define DEMO_CONF_MAX 8192           /* config file size */
#define DEMO_BYTES_MAX (64LL << 20)  /* largest /bytes/N */
#define DEMO_PATTERN_SIZE 16384      /* the text /bytes/N repeats */

/* What the serving loop needs beyond worker_lockdown()'s base set; listed in
 * full, whether or not the base set has them too. */
static const char *const demo_api_syscalls[] = {
	"listen",
	"accept4",
#ifdef __NR_poll
	"poll",
#endif
	"ppoll",
	"recvfrom",
	"sendto",
	"shutdown",
	"close",
	"read",
	"write",
	"clock_gettime",
	"rt_sigreturn",
	"rt_sigaction",
	"rt_sigprocmask",
	"restart_syscall",
	"exit",
	"exit_group",
	/* reloading the configuration (narrowed by reload_filter()) */
	"openat",
	"socket",
	"setsockopt",
	"bind",
	NULL,
};

enum conn_state { CONN_FREE, CONN_READ, CONN_WRITE, CONN_DRAIN };

struct conn {
	int fd;
	enum conn_state state;
	long long since;             /* monotonic ms: accepted */
	long long deadline;          /* monotonic ms */
	size_t rlen;
	size_t wlen, woff;
	long long body_left;         /* streamed after resp (/bytes/N) */
	long long body_off;
	char req[DEMO_REQ_MAX];
	char resp[DEMO_RESP_MAX];
};

/* What the configuration file says. */
struct demo_conf {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char listen[80];             /* as ss prints it: 127.0.0.1:18080, [::1]:18080 */
	bool drain;
};

/* Static: nothing is allocated once the seccomp filter is in place. */
static struct conn conns[DEMO_MAX_CONNS];
static struct demo_conf conf;        /* the running configuration */
static char conf_path[512];
static char conf_text[DEMO_CONF_MAX + 1];
static char pattern[DEMO_PATTERN_SIZE];
static int listen_fd = -1;
static int log_fd = -1;
static volatile sig_atomic_t reload_requested;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = CONN_FREE;
}

static void respond(struct conn *c, int code, const char *reason, const char *ctype,
		    const char *body, bool head_only, const char *extra)
{
	int n = snprintf(c->resp, sizeof(c->resp),
			 "HTTP/1.1 %d %s\r\n"
			 "Server: demo-api\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "%s"
			 "Connection: close\r\n"
			 "\r\n"
			 "%s",
			 code, reason, ctype, strlen(body), extra ? extra : "",
			 head_only ? "" : body);

	c->wlen = n < 0 ? 0 : (size_t)n >= sizeof(c->resp) ? sizeof(c->resp) - 1 : (size_t)n;
	c->woff = 0;
	c->state = CONN_WRITE;
	c->deadline = now_ms() + DEMO_IO_TIMEOUT_MS;
}

/* Log one line, prefixed with the UTC time and the service's pid, to the log
 * file (when it could be opened). No allocation: safe under the filter. */
static void demo_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void demo_log(const char *fmt, ...)
{
	static char line[768];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;

	if (log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " demo-api[%d]: ", (int)getpid());
	va_start(ap, fmt);
	if (n < sizeof(line))
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* nowhere else to say it */
	}
}

/* GET /bytes/N: headers now, then N bytes of the pattern streamed. */
static void respond_bytes(struct conn *c, long long n, bool head_only)
{
	int len = snprintf(c->resp, sizeof(c->resp),
			   "HTTP/1.1 200 OK\r\n"
			   "Server: demo-api\r\n"
			   "Content-Type: text/plain\r\n"
			   "Content-Length: %lld\r\n"
			   "Connection: close\r\n"
			   "\r\n",
			   n);

	c->wlen = len < 0 ? 0 : (size_t)len;
	c->woff = 0;
	c->body_left = head_only ? 0 : n;
	c->body_off = 0;
	c->state = CONN_WRITE;
	c->deadline = now_ms() + DEMO_IO_TIMEOUT_MS;
}

/* N from "/bytes/N", or -1 when target is not that or N is out of range. */
static long long bytes_target(const char *target)
{
	const char *p = target + 7;
	long long n = 0;

	if (strncmp(target, "/bytes/", 7) || !*p)
		return -1;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		n = n * 10 + (*p - '0');
		if (n > DEMO_BYTES_MAX)
			return -1;
	}
	return n;
}

/* Answer the request line in c->req (the headers are complete). */
static void route(struct conn *c)
{
	char method[16], target[512], version[16], *q;
	bool head;

	c->req[c->rlen < sizeof(c->req) ? c->rlen : sizeof(c->req) - 1] = '\0';
	if (sscanf(c->req, "%15[A-Z] %511[^ \r\n] %15[^ \r\n]", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) || target[0] != '/') {
		respond(c, 400, "Bad Request", "text/plain", "bad request\n", false, NULL);
		return;
	}
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		respond(c, 405, "Method Not Allowed", "text/plain", "method not allowed\n", false,
			"Allow: GET, HEAD\r\n");
		return;
	}
	if (!strcmp(target, "/health") && conf.drain)
		respond(c, 503, "Service Unavailable", "text/plain", "draining\n", head,
			"Retry-After: 30\r\n");
	else if (!strcmp(target, "/health"))
		respond(c, 200, "OK", "text/plain", "ok\n", head, NULL);
	else if (!strcmp(target, "/version"))
		respond(c, 200, "OK", "application/json",
			"{\"service\":\"demo-api\",\"version\":\"" CHAOSLAB_VERSION "\"}\n", head,
			NULL);
	else if (bytes_target(target) >= 0)
		respond_bytes(c, bytes_target(target), head);
	else if (!strncmp(target, "/bytes/", 7))
		respond(c, 400, "Bad Request", "text/plain", "size must be 0..67108864\n", head,
			NULL);
	else
		respond(c, 404, "Not Found", "text/plain", "not found\n", head, NULL);
}

static bool headers_complete(const struct conn *c)
{
	return memmem(c->req, c->rlen, "\r\n\r\n", 4) || memmem(c->req, c->rlen, "\n\n", 2);
}

static void conn_read(struct conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->rlen >= sizeof(c->req) - 1) {
			respond(c, 431, "Request Header Fields Too Large", "text/plain",
				"request too large\n", false, NULL);
			return;
		}
		n = recv(c->fd, c->req + c->rlen, sizeof(c->req) - 1 - c->rlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* Gone before a whole request: nobody to answer. */
			conn_close(c);
			return;
		}
		c->rlen += (size_t)n;
		if (headers_complete(c)) {
			route(c);
			return;
		}
	}
}

static void conn_write(struct conn *c)
{
	ssize_t n;

	while (c->woff < c->wlen || c->body_left > 0) {
		const char *p;
		size_t len;

		if (c->woff < c->wlen) {
			p = c->resp + c->woff;
			len = c->wlen - c->woff;
		} else {
			size_t at = (size_t)(c->body_off % DEMO_PATTERN_SIZE);
			p = pattern + at;
			len = DEMO_PATTERN_SIZE - at;
			if ((long long)len > c->body_left)
				len = (size_t)c->body_left;
		}
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		/* The limit is on a stalled client, not on a long download. */
		c->deadline = now_ms() + DEMO_IO_TIMEOUT_MS;
		if (c->woff < c->wlen) {
			c->woff += (size_t)n;
		} else {
			c->body_off += n;
			c->body_left -= n;
		}
	}
	/* Closing with unread request bytes would send a reset that can destroy
	 * the response in flight: half-close and read until the client is done. */
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	c->deadline = now_ms() + DEMO_LINGER_MS;
}

static void conn_drain(struct conn *c)
{
	char scratch[1024];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, scratch, sizeof(scratch), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
}

/* Whether c may give its slot to a new connection, from when on (ms). */
static long long conn_evictable_at(const struct conn *c)
{
	if (c->state == CONN_FREE || c->state == CONN_DRAIN)
		return 0;
	if (c->state == CONN_READ)
		return c->since + DEMO_EVICT_AFTER_MS;
	return -1;
}

/* A slot for a new connection: a free one, else one whose response is out
 * (draining), else the one that has waited longest for its request, once it
 * waited long enough. So stalled clients, however many, hold up a new one by
 * a second at most, and a client being answered is never cut off. NULL when
 * no slot can be had now. */
static struct conn *conn_slot(long long now)
{
	struct conn *best = NULL;

	for (size_t i = 0; i < DEMO_MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		long long at = conn_evictable_at(c);

		if (c->state == CONN_FREE)
			return c;
		if (at < 0 || at > now)
			continue;
		if (!best || (best->state == CONN_READ &&
			      (c->state == CONN_DRAIN || c->since < best->since)))
			best = c;
	}
	if (best)
		conn_close(best);
	return best;
}

static void accept_all(int lfd, long long *accept_pause_until)
{
	for (;;) {
		struct conn *c = conn_slot(now_ms());
		int fd;

		if (!c)
			return;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				*accept_pause_until = now_ms() + DEMO_ACCEPT_BACKOFF_MS;
			else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			return;
		}
		c->fd = fd;
		c->state = CONN_READ;
		c->rlen = 0;
		c->body_left = c->body_off = 0;
		c->since = now_ms();
		c->deadline = c->since + DEMO_IO_TIMEOUT_MS;
		/* The request is usually there already: spare a poll round. */
		conn_read(c);
	}
}

/* ---- configuration ------------------------------------------------------- */

/* Parse "ADDRESS:PORT" into c (addr, addr_len, listen). 0, or -1 with why. */
static int parse_listen(const char *v, struct demo_conf *c, char *why, size_t size)
{
	char host[64];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':') {
			snprintf(why, size, "listen: expected [IPV6]:PORT, got '%s'", v);
			return -1;
		}
		hl = (size_t)(rb - v - 1);
		colon = rb + 1;
		v++;
	} else {
		colon = strrchr(v, ':');
		if (!colon) {
			snprintf(why, size, "listen: expected ADDRESS:PORT, got '%s'", v);
			return -1;
		}
		hl = (size_t)(colon - v);
	}
	if (hl >= sizeof(host)) {
		snprintf(why, size, "listen: address too long");
		return -1;
	}
	memcpy(host, v, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535) {
		snprintf(why, size, "listen: port must be a number 1..65535, got '%s'", colon + 1);
		return -1;
	}
	memset(&c->addr, 0, sizeof(c->addr));
	if (!strcmp(host, "*"))
		snprintf(host, sizeof(host), "0.0.0.0");
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&c->addr)->sin_addr) == 1) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&c->addr;
		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)port);
		c->addr_len = sizeof(*sa);
		snprintf(c->listen, sizeof(c->listen), "%s:%ld", host, port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&c->addr)->sin6_addr) == 1) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&c->addr;
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons((uint16_t)port);
		c->addr_len = sizeof(*sa);
		snprintf(c->listen, sizeof(c->listen), "[%s]:%ld", host, port);
	} else {
		snprintf(why, size,
			 "listen: '%s' is not an IPv4 or IPv6 address (names are not resolved)",
			 host);
		return -1;
	}
	return 0;
}

/* Parse the configuration text into c. 0, or -1 with why ("line 3: ..."). */
static int conf_parse(char *text, struct demo_conf *c, char *why, size_t size)
{
	bool have_listen = false;
	char *line = text, *next;
	int lineno = 0;

	memset(c, 0, sizeof(*c));
	for (; line; line = next) {
		char *eq, *key, *val, *e;
		char msg[200];

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, "#")] = '\0';
		while (isspace((unsigned char)*line))
			line++;
		for (e = line + strlen(line); e > line && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(why, size, "line %d: expected 'key = value', got '%.60s'", lineno,
				 line);
			return -1;
		}
		key = line;
		for (e = eq; e > key && isspace((unsigned char)e[-1]);)
			e--;
		*e = '\0';
		val = eq + 1;
		while (isspace((unsigned char)*val))
			val++;
		if (!strcmp(key, "listen")) {
			if (parse_listen(val, c, msg, sizeof(msg))) {
				snprintf(why, size, "line %d: %s", lineno, msg);
				return -1;
			}
			have_listen = true;
		} else if (!strcmp(key, "drain")) {
			if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes")) {
				c->drain = true;
			} else if (!strcmp(val, "off") || !strcmp(val, "false") ||
				   !strcmp(val, "no")) {
				c->drain = false;
			} else {
				snprintf(why, size,
					 "line %d: drain: expected on or off, got '%.40s'", lineno,
					 val);
				return -1;
			}
		} else {
			snprintf(why, size, "line %d: unknown key '%.40s' (known: listen, drain)",
				 lineno, key);
			return -1;
		}
	}
	if (!have_listen) {
		snprintf(why, size, "no 'listen = ADDRESS:PORT' line");
		return -1;
	}
	return 0;
}

/* Read and parse the configuration file. No allocation. */
static int conf_load(struct demo_conf *c, char *why, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(conf_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, size, "unable to open %s: %s", conf_path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, conf_text + len, sizeof(conf_text) - 1 - len)) > 0) {
		len += (size_t)n;
		if (len == sizeof(conf_text) - 1)
			break;
	}
	if (n < 0) {
		snprintf(why, size, "unable to read %s: %s", conf_path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (len == sizeof(conf_text) - 1) {
		snprintf(why, size, "%s is larger than %d bytes", conf_path, DEMO_CONF_MAX);
		return -1;
	}
	conf_text[len] = '\0';
	if (memchr(conf_text, '\0', len)) {
		snprintf(why, size, "%s holds a NUL byte", conf_path);
		return -1;
	}
	return conf_parse(conf_text, c, why, size);
}

/* Provision the configuration file from the arguments, atomically: a temp
 * file, fsync, rename. Before the lockdown. */
static int conf_write(const char *listen, struct cl_error *err)
{
	char tmp[600], text[1024];
	int fd, n;

	n = snprintf(text, sizeof(text),
		     "# demo-api configuration, written by the chaoslab lab each time the\n"
		     "# service starts. The service reads it at start, and again on SIGHUP:\n"
		     "#   kill -HUP <pid of demo-api>\n"
		     "# It logs what it did to demo-api.log in this directory.\n"
		     "\n"
		     "# listen = ADDRESS:PORT to accept connections on; IPv6 in brackets\n"
		     "# ([::1]:18080); * for every IPv4 address.\n"
		     "listen = %s\n"
		     "\n"
		     "# drain = on makes GET /health answer 503, so load balancers take this\n"
		     "# backend out of rotation; everything else is still served.\n"
		     "drain = off\n",
		     listen);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", conf_path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to write '%s'", tmp);
	}
	close(fd);
	if (rename(tmp, conf_path) < 0) {
		int e = errno;
		unlink(tmp);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to rename '%s' to '%s'", tmp,
				      conf_path);
	}
	return 0;
}

/* A bound, non-blocking socket for c; -1 with why and errno. */
static int bind_socket(const struct demo_conf *c, char *why, size_t size)
{
	int one = 1, fd, e;

	fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(why, size, "unable to create a socket: %s", strerror(e));
		errno = e;
		return -1;
	}
	/* A previous instance's connections in TIME_WAIT must not keep the
	 * restarted service (the engineer's fix) from binding. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&c->addr, c->addr_len) < 0) {
		e = errno;
		snprintf(why, size, "unable to bind %s: %s", c->listen, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* bind_socket() and listen(); -1 with why and errno. */
static int open_listener(const struct demo_conf *c, char *why, size_t size)
{
	int fd = bind_socket(c, why, size), e;

	if (fd >= 0 && listen(fd, DEMO_BACKLOG) < 0) {
		e = errno;
		snprintf(why, size, "unable to listen on %s: %s", c->listen, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* SIGHUP: read the file again and apply it; on any failure keep running as
 * before. A new address opens its socket before the old one closes, except
 * on the same port, where the kernel refuses the overlap (0.0.0.0:80 and
 * 127.0.0.1:80 cannot both listen): then the old one closes first, and comes
 * back if the new one cannot be had. */
static void reload(void)
{
	struct demo_conf next;
	char why[300], why_old[300];
	bool handover = true;
	int fd;

	if (conf_load(&next, why, sizeof(why))) {
		demo_log("reload failed: %s; still listening on %s", why, conf.listen);
		return;
	}
	if (!strcmp(next.listen, conf.listen)) {
		demo_log("reloaded %s: listening on %s, drain %s", conf_path, next.listen,
			 next.drain ? "on" : "off");
		conf = next;
		return;
	}
	fd = open_listener(&next, why, sizeof(why));
	if (fd < 0 && errno == EADDRINUSE &&
	    sockaddr_port(&next.addr) == sockaddr_port(&conf.addr)) {
		handover = false;
		close(listen_fd);
		listen_fd = -1;
		fd = open_listener(&next, why, sizeof(why));
		if (fd < 0) {
			listen_fd = open_listener(&conf, why_old, sizeof(why_old));
			if (listen_fd < 0) {
				demo_log("reload failed: %s; and %s: not listening anywhere now",
					 why, why_old);
				return;
			}
		}
	}
	if (fd < 0) {
		demo_log("reload failed: %s; still listening on %s", why, conf.listen);
		return;
	}
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = fd;
	demo_log("reloaded %s: now listening on %s (was %s%s), drain %s", conf_path, next.listen,
		 conf.listen, handover ? "" : ", closed first: same port",
		 next.drain ? "on" : "off");
	conf = next;
}

static void on_sighup(int sig)
{
	reload_requested = 1;
}

/* Narrow the reload syscalls the allow-list admits: a filter of its own,
 * which the kernel evaluates together with worker_lockdown()'s (the stricter
 * answer wins). Installed first: once the allow-list is in, seccomp() itself
 * is no longer allowed. */
static int reload_filter(struct cl_error *err)
{
	static const int bad_open[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND };
	scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!sc)
		return cl_error_set(err, CL_EXIT_PRIVILEGE, "seccomp_init failed");
	for (size_t i = 0; i < sizeof(bad_open) / sizeof(bad_open[0]) && !r; i++)
		r = seccomp_rule_add(sc, SCMP_ACT_KILL_PROCESS, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)bad_open[i],
					     (scmp_datum_t)bad_open[i]));
	if (!r)
		r = seccomp_rule_add(sc, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_LT, AF_INET));
	if (!r)
		r = seccomp_rule_add(sc, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_GT, AF_INET6));
	for (int fam = AF_INET + 1; fam < AF_INET6 && !r; fam++)
		r = seccomp_rule_add(sc, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam));
	if (!r)
		r = seccomp_load(sc);
	seccomp_release(sc);
	if (r)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, -r, "loading the reload filter");
	return 0;
}

/* ---- serving ----------------------------------------------------------- */

/* Serve until killed; returns only on an unexpected poll failure. */
static int serve(sigset_t *waitmask)
{
	struct pollfd pfd[DEMO_MAX_CONNS + 1];
	struct conn *slot[DEMO_MAX_CONNS + 1];
	long long accept_pause_until = 0;

	for (size_t i = 0; i < DEMO_MAX_CONNS; i++) {
		conns[i].fd = -1;
		conns[i].state = CONN_FREE;
	}
	for (;;) {
		long long now = now_ms(), next = -1, slot_at = -1;
		struct timespec ts, *tsp = NULL;
		nfds_t n = 0;
		int timeout, rc;

		if (reload_requested) {
			reload_requested = 0;
			reload();
		}
		for (size_t i = 0; i < DEMO_MAX_CONNS; i++) {
			struct conn *c = &conns[i];
			long long at;

			if (c->state != CONN_FREE && c->deadline <= now)
				conn_close(c);
			/* When the soonest slot for a new connection opens. */
			at = conn_evictable_at(c);
			if (at >= 0 && (slot_at < 0 || at < slot_at))
				slot_at = at;
			if (c->state == CONN_FREE)
				continue;
			if (next < 0 || c->deadline < next)
				next = c->deadline;
			pfd[n] = (struct pollfd){ c->fd, c->state == CONN_WRITE ? POLLOUT : POLLIN, 0 };
			slot[n++] = c;
		}
		if (slot_at >= 0 && slot_at < accept_pause_until)
			slot_at = accept_pause_until;
		if (slot_at >= 0 && slot_at <= now && listen_fd >= 0) {
			pfd[n] = (struct pollfd){ listen_fd, POLLIN, 0 };
			slot[n++] = NULL;
		} else if (slot_at >= 0 && listen_fd >= 0 && (next < 0 || slot_at < next)) {
			next = slot_at;
		}
		timeout = next < 0 ? -1 : next - now > 60000 ? 60000 : (int)(next - now);
		if (timeout == 0)
			timeout = 1;
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (long)(timeout % 1000) * 1000000;
			tsp = &ts;
		}
		/* SIGHUP is blocked but here: a reload is never missed. */
		rc = ppoll(pfd, n, tsp, waitmask);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (nfds_t i = 0; i < n && rc > 0; i++) {
			struct conn *c = slot[i];

			if (!pfd[i].revents)
				continue;
			rc--;
			if (!c) {
				accept_all(listen_fd, &accept_pause_until);
				continue;
			}
			if (c->state == CONN_READ)
				conn_read(c);
			else if (c->state == CONN_WRITE)
				conn_write(c);
			else if (c->state == CONN_DRAIN)
				conn_drain(c);
		}
	}
}

/* Where the configuration lives: args "config", else STATE/lab/demo-api.conf
 * (its directory created). */
static int conf_locate(const cJSON *args, struct cl_error *err)
{
	const cJSON *jc = args ? cJSON_GetObjectItemCaseSensitive(args, "config") : NULL;
	char dir[400];

	if (jc) {
		if (!cJSON_IsString(jc) || jc->valuestring[0] != '/')
			return cl_error_set(err, CL_EXIT_USAGE, "config must be an absolute path");
		snprintf(conf_path, sizeof(conf_path), "%s", jc->valuestring);
		return 0;
	}
	if (state_dir(dir, sizeof(dir), true, err))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/lab", dir);
	if (mkdir(conf_path, 0700) < 0 && errno != EEXIST)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'",
				      conf_path);
	snprintf(conf_path, sizeof(conf_path), "%s/lab/demo-api.conf", dir);
	return 0;
}

/* DIR/demo-api.pid next to the config: "PID\n", replaced atomically. */
static int pidfile_write(struct cl_error *err)
{
	char path[600], tmp[640], text[32];
	bool ok;
	int fd, n;

	snprintf(path, sizeof(path), "%.*s/demo-api.pid",
		 (int)(strrchr(conf_path, '/') - conf_path), conf_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
	ok = write(fd, text, (size_t)n) == n;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to write '%s'", path);
	}
	return 0;
}

static int demo_api_main(const cJSON *args)
{
	const cJSON *jp = args ? cJSON_GetObjectItemCaseSensitive(args, "port") : NULL;
	const cJSON *ja = args ? cJSON_GetObjectItemCaseSensitive(args, "address") : NULL;
	int port = DEMO_API_DEFAULT_PORT;
	char listen_word[96], log_path[600], why[300];
	const char *address = "127.0.0.1";
	struct sigaction sa;
	struct cl_error err;
	sigset_t block, waitmask;

	cl_error_clear(&err);
	if (jp) {
		if (!cJSON_IsNumber(jp) || jp->valuedouble < 1 || jp->valuedouble > 65535 ||
		    jp->valuedouble != (int)jp->valuedouble) {
			fprintf(stderr, "demo-api: port must be an integer 1..65535\n");
			return 2;
		}
		port = (int)jp->valuedouble;
	}
	if (ja) {
		if (!cJSON_IsString(ja)) {
			fprintf(stderr, "demo-api: address must be a string\n");
			return 2;
		}
		address = ja->valuestring;
	}
	snprintf(listen_word, sizeof(listen_word), strchr(address, ':') ? "[%s]:%d" : "%s:%d",
		 address, port);
	if (conf_locate(args, &err) || conf_write(listen_word, &err)) {
		fprintf(stderr, "demo-api: %s\n", err.msg);
		return 1;
	}
	snprintf(log_path, sizeof(log_path), "%.*s/demo-api.log",
		 (int)(strrchr(conf_path, '/') - conf_path), conf_path);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (pidfile_write(&err)) {
		fprintf(stderr, "demo-api: %s\n", err.msg);
		return 1;
	}
	if (conf_load(&conf, why, sizeof(why))) {
		fprintf(stderr, "demo-api: %s\n", why);
		demo_log("not starting: %s", why);
		return 1;
	}
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);

	/* SIGHUP only ever arrives inside ppoll(), where it is unblocked. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGHUP);

	listen_fd = bind_socket(&conf, why, sizeof(why));
	if (listen_fd < 0) {
		fprintf(stderr, "demo-api: %s\n", why);
		demo_log("not starting: %s", why);
		return 1;
	}
	/* The time zone is read once, now, not under the filter. */
	tzset();
	/* Locked down before listening: whoever sees the port accept
	 * connections (the injector waits for that) sees a locked-down service. */
	if (reload_filter(&err) || worker_lockdown(demo_api_syscalls, &err)) {
		fprintf(stderr, "demo-api: %s\n", err.msg);
		close(listen_fd);
		return 1;
	}
	if (listen(listen_fd, DEMO_BACKLOG) < 0) {
		fprintf(stderr, "demo-api: unable to listen on %s: %s\n", conf.listen,
			strerror(errno));
		close(listen_fd);
		return 1;
	}
	demo_log("listening on %s (config %s), drain %s", conf.listen, conf_path,
		 conf.drain ? "on" : "off");
	return serve(&waitmask);
}

const struct lab_service demo_api_service = {
	.name = "demo-api",
	.summary = "HTTP/1.1: GET /health, /version, /bytes/N; config file, reload on SIGHUP",
	.default_port = DEMO_API_DEFAULT_PORT,
	.main = demo_api_main,
};
