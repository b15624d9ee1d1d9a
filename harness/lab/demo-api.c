/* demo-api: the lab's small HTTP/1.1 service, the "user-facing api" drills
 * keep alive and measure.
 *
 *   GET /health   200 "ok\n"
 *   GET /version  200 {"service":"demo-api","version":"<chaoslab version>"}
 *   anything else 404 (405 for a method other than GET or HEAD)
 *
 * One request per connection (Connection: close). A single thread serves many
 * connections at once from a poll() loop over non-blocking sockets, so one
 * slow client never stalls the others: requests are limited in size and time,
 * stalled clients give way to new ones when all slots are taken, and after
 * the response the socket is shut down for writing and drained briefly, so
 * the client reads the whole response rather than a reset. It
 * listens on 127.0.0.1 only and locks itself down (no capabilities, seccomp)
 * once bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
	"restart_syscall",
	"exit",
	"exit_group",
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
	char req[DEMO_REQ_MAX];
	char resp[DEMO_RESP_MAX];
};

/* Static: nothing is allocated once the seccomp filter is in place. */
static struct conn conns[DEMO_MAX_CONNS];

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
	if (!strcmp(target, "/health"))
		respond(c, 200, "OK", "text/plain", "ok\n", head, NULL);
	else if (!strcmp(target, "/version"))
		respond(c, 200, "OK", "application/json",
			"{\"service\":\"demo-api\",\"version\":\"" CHAOSLAB_VERSION "\"}\n", head,
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

	while (c->woff < c->wlen) {
		n = send(c->fd, c->resp + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->woff += (size_t)n;
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
		c->since = now_ms();
		c->deadline = c->since + DEMO_IO_TIMEOUT_MS;
		/* The request is usually there already: spare a poll round. */
		conn_read(c);
	}
}

/* Serve until killed; returns only on an unexpected poll failure. */
static int serve(int lfd)
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
		nfds_t n = 0;
		int timeout, rc;

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
		if (slot_at >= 0 && slot_at <= now) {
			pfd[n] = (struct pollfd){ lfd, POLLIN, 0 };
			slot[n++] = NULL;
		} else if (slot_at >= 0 && (next < 0 || slot_at < next)) {
			next = slot_at;
		}
		timeout = next < 0 ? -1 : next - now > 60000 ? 60000 : (int)(next - now);
		if (timeout == 0)
			timeout = 1;
		rc = poll(pfd, n, timeout);
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
				accept_all(lfd, &accept_pause_until);
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

static int demo_api_main(const cJSON *args)
{
	const cJSON *jp = args ? cJSON_GetObjectItemCaseSensitive(args, "port") : NULL;
	int port = DEMO_API_DEFAULT_PORT, one = 1, lfd;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct cl_error err;

	if (jp) {
		if (!cJSON_IsNumber(jp) || jp->valuedouble < 1 || jp->valuedouble > 65535 ||
		    jp->valuedouble != (int)jp->valuedouble) {
			fprintf(stderr, "demo-api: port must be an integer 1..65535\n");
			return 2;
		}
		port = (int)jp->valuedouble;
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		fprintf(stderr, "demo-api: unable to create a socket: %s\n", strerror(errno));
		return 1;
	}
	/* A previous instance's connections in TIME_WAIT must not keep the
	 * restarted service (the engineer's fix) from binding. */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "demo-api: unable to bind 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(lfd);
		return 1;
	}
	/* Locked down before listening: whoever sees the port accept
	 * connections (the injector waits for that) sees a locked-down service. */
	cl_error_clear(&err);
	if (worker_lockdown(demo_api_syscalls, &err)) {
		fprintf(stderr, "demo-api: %s\n", err.msg);
		close(lfd);
		return 1;
	}
	if (listen(lfd, DEMO_BACKLOG) < 0) {
		fprintf(stderr, "demo-api: unable to listen on 127.0.0.1:%d: %s\n", port,
			strerror(errno));
		close(lfd);
		return 1;
	}
	return serve(lfd);
}

const struct lab_service demo_api_service = {
	.name = "demo-api",
	.summary = "HTTP/1.1 on 127.0.0.1: GET /health, GET /version",
	.default_port = DEMO_API_DEFAULT_PORT,
	.main = demo_api_main,
};
