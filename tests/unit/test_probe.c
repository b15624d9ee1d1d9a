/* Tests of the request probes (harness/sys/probe.c) against real sockets this
 * test opens: a listener, a closed port, a listener whose accept queue is
 * full (SYNs dropped: a timeout), a slow HTTP server thread that waits before
 * answering, servers that close early or send chunked bodies. Phase timings
 * are compared with curl -w's for the same URL, the listening sockets with
 * what `ss -Hlnt` lists at the same moment. The TLS hook is exercised with a
 * stand-in that passes bytes through. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/probe.h"
#include "sys/proc.h"

/* ---- local servers ----------------------------------------------------------- */

/* A listener on 127.0.0.1 (port 0: any free one); returns the fd, *port set. */
static int listen_local(int backlog, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port nothing listens on right now. */
static int closed_port(void)
{
	int port, fd = listen_local(1, &port);

	close(fd);
	return port;
}

enum srv_mode {
	SRV_SLOW,    /* read the request, wait delay_ms, answer 200 with a body */
	SRV_CHUNKED, /* answer chunked, end of body at close */
	SRV_CLOSE,   /* read the request, close without answering */
	SRV_SILENT,  /* read the request, never answer (until stopped) */
	SRV_SHORT,   /* Content-Length larger than what is sent, then close */
};

struct server {
	int lfd, port;
	enum srv_mode mode;
	int delay_ms;
	int requests; /* served so far */
	char last_request[1024];
	volatile int stop;
	pthread_t thread;
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	static const char body[] = "hello from the slow server\n";

	while (!s->stop) {
		char req[1024];
		size_t len = 0;
		ssize_t n;
		int c = accept(s->lfd, NULL, NULL);

		if (c < 0)
			continue;
		while (len < sizeof(req) - 1 &&
		       (n = read(c, req + len, sizeof(req) - 1 - len)) > 0) {
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[len] = '\0';
		snprintf(s->last_request, sizeof(s->last_request), "%s", req);
		s->requests++;
		switch (s->mode) {
		case SRV_SLOW: {
			char resp[256];
			int m;

			usleep((useconds_t)s->delay_ms * 1000);
			m = snprintf(resp, sizeof(resp),
				     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				     strlen(body), body);
			(void)!write(c, resp, (size_t)m);
			break;
		}
		case SRV_CHUNKED: {
			static const char resp[] =
				"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
				"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
			(void)!write(c, resp, sizeof(resp) - 1);
			break;
		}
		case SRV_SHORT: {
			static const char resp[] =
				"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
			(void)!write(c, resp, sizeof(resp) - 1);
			break;
		}
		case SRV_SILENT:
			while (!s->stop)
				usleep(20000);
			break;
		case SRV_CLOSE:
			break;
		}
		close(c);
	}
	return NULL;
}

static void server_start(struct server *s, enum srv_mode mode, int delay_ms)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->delay_ms = delay_ms;
	s->lfd = listen_local(16, &s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	int fd;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	s->stop = 1;
	/* Wake a blocking accept() with one last connection. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons((uint16_t)s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static void url_of(char *buf, size_t size, int port, const char *path)
{
	snprintf(buf, size, "http://127.0.0.1:%d%s", port, path);
}

/* ---- curl ---------------------------------------------------------------------------- */

struct curl_times {
	int code;
	double namelookup, connect, pretransfer, starttransfer, total;
};

/* curl -w for url; false when curl is not installed. */
static bool curl_w(const char *url, struct curl_times *t)
{
	char cmd[512], out[256] = "";
	FILE *p;

	if (access("/usr/bin/curl", X_OK))
		return false;
	snprintf(
		cmd, sizeof(cmd),
		"curl -s -o /dev/null --max-time 10 -w '%%{http_code} %%{time_namelookup} "
		"%%{time_connect} %%{time_pretransfer} %%{time_starttransfer} %%{time_total}' '%s'",
		url);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	pclose(p);
	assert_int_equal(sscanf(out, "%d %lf %lf %lf %lf %lf", &t->code, &t->namelookup,
				&t->connect, &t->pretransfer, &t->starttransfer, &t->total),
			 6);
	return true;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_url_parse(void **state)
{
	struct probe_url u;
	struct cl_error err;

	assert_int_equal(probe_url_parse("http://127.0.0.1:18080/health", &u, &err), 0);
	assert_string_equal(u.scheme, "http");
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 18080);
	assert_string_equal(u.path, "/health");
	assert_false(u.tls);

	assert_int_equal(probe_url_parse("HTTPS://example.org", &u, &err), 0);
	assert_true(u.tls);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/");

	assert_int_equal(probe_url_parse("http://[::1]:8080/a?b=c#frag", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/a?b=c");

	assert_int_equal(probe_url_parse("http://h?q=1", &u, &err), 0);
	assert_string_equal(u.path, "/?q=1");

	assert_int_equal(probe_url_parse("ftp://h/", &u, &err), -1);
	assert_non_null(strstr(err.msg, "http:// or https://"));
	assert_int_equal(probe_url_parse("http://:80/", &u, &err), -1);
	assert_int_equal(probe_url_parse("http://h:0/", &u, &err), -1);
	assert_int_equal(probe_url_parse("http://h:70000/", &u, &err), -1);
	assert_int_equal(probe_url_parse("http://h:80x/", &u, &err), -1);
	assert_int_equal(probe_url_parse("http://[::1/", &u, &err), -1);
	assert_int_equal(probe_url_parse("http://user@h/", &u, &err), -1);
	assert_int_equal(probe_url_parse("http://h/a b", &u, &err), -1);
	assert_non_null(strstr(err.msg, "percent-encoded"));
}

static void test_percentiles(void **state)
{
	double ten[10], hundred[100], one = 7, two[2] = { 3, 1 };
	struct probe_stats st;

	/* Shuffled on purpose: stats sort. */
	for (int i = 0; i < 10; i++)
		ten[i] = (double)((i * 7) % 10 + 1);
	probe_stats_compute(ten, 10, &st);
	assert_int_equal(st.n, 10);
	assert_true(st.min == 1 && st.max == 10);
	assert_true(st.p50 == 5);  /* rank ceil(5.0) = 5 */
	assert_true(st.p95 == 10); /* rank ceil(9.5) = 10 */
	assert_true(st.p99 == 10);
	assert_true(st.mean == 5.5);

	for (int i = 0; i < 100; i++)
		hundred[i] = 100 - i;
	probe_stats_compute(hundred, 100, &st);
	assert_true(st.p50 == 50 && st.p95 == 95 && st.p99 == 99 && st.max == 100);

	probe_stats_compute(&one, 1, &st);
	assert_true(st.p50 == 7 && st.p95 == 7);
	probe_stats_compute(two, 2, &st);
	assert_true(st.p50 == 1 && st.p95 == 3);
	probe_stats_compute(NULL, 0, &st);
	assert_int_equal(st.n, 0);
	assert_true(probe_percentile(NULL, 0, 50) == 0);
}

static void test_format_ms(void **state)
{
	char buf[32];

	assert_string_equal(probe_format_ms(0.000213, buf, sizeof(buf)), "0.21 ms");
	assert_string_equal(probe_format_ms(0.0047, buf, sizeof(buf)), "4.7 ms");
	assert_string_equal(probe_format_ms(0.2134, buf, sizeof(buf)), "213 ms");
	assert_string_equal(probe_format_ms(2.5, buf, sizeof(buf)), "2500 ms");
}

static void test_listeners_parse(void **state)
{
	/* Lines as the kernel writes them: 127.0.0.1:18080 LISTEN, an
	 * ESTABLISHED one, 0.0.0.0:22 LISTEN; [::1]:631 and [::]:22 LISTEN. */
	static const char v4[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0100007F:46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4121 1 0000000000000000 100 0 0 10 0\n"
		"   1: 0100007F:46A0 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4122 1 0000000000000000 20 4 30 10 -1\n"
		"   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0\n";
	static const char v6[] =
		"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 99 1 0000000000000000 100 0 0 10 0\n"
		"   1: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18 1 0000000000000000 100 0 0 10 0\n";
	struct probe_listener l[8];
	char buf[80];

	assert_int_equal(probe_listeners_parse(v4, AF_INET, l, 8), 2);
	assert_string_equal(probe_listener_format(&l[0], buf, sizeof(buf)), "127.0.0.1:18080");
	assert_int_equal(l[0].inode, 4121);
	assert_string_equal(probe_listener_format(&l[1], buf, sizeof(buf)), "0.0.0.0:22");
	assert_int_equal(probe_listeners_parse(v6, AF_INET6, l, 8), 2);
	assert_string_equal(probe_listener_format(&l[0], buf, sizeof(buf)), "[::1]:631");
	assert_int_equal(l[0].uid, 1000);
	assert_string_equal(probe_listener_format(&l[1], buf, sizeof(buf)), "[::]:22");
	/* Counted past cap, none written. */
	assert_int_equal(probe_listeners_parse(v4, AF_INET, NULL, 0), 2);
	assert_int_equal(probe_listeners_parse("garbage", AF_INET, l, 8), -1);

	/* Who serves what. */
	assert_int_equal(probe_listeners_parse(v4, AF_INET, l, 8), 2);
	assert_true(probe_listener_serves(&l[0], "127.0.0.1"));
	assert_false(probe_listener_serves(&l[0], "127.0.0.2"));
	assert_false(probe_listener_serves(&l[0], "::1"));
	assert_true(probe_listener_serves(&l[1], "10.1.2.3"));
	assert_true(probe_listener_serves(&l[1], NULL));
	assert_int_equal(probe_listeners_parse(v6, AF_INET6, l, 8), 2);
	assert_true(probe_listener_serves(&l[0], "::1"));
	assert_true(probe_listener_serves(&l[0], "[::1]"));
	assert_false(probe_listener_serves(&l[0], "127.0.0.1"));
	assert_true(probe_listener_serves(&l[1], "::1"));
}

/* "ADDR:PORT" lines of `ss -Hlnt`, the interface suffix (%lo) dropped,
 * sorted; returns the count. */
static int ss_listeners(char out[][80], int cap)
{
	char line[512];
	int n = 0;
	FILE *p = popen("ss -Hlnt 2>/dev/null", "r");

	assert_non_null(p);
	while (n < cap && fgets(line, sizeof(line), p)) {
		char st[32], rq[32], sq[32], local[128], *pct, *colon;

		if (sscanf(line, "%31s %31s %31s %127s", st, rq, sq, local) != 4)
			continue;
		pct = strchr(local, '%');
		if (pct) {
			colon = strrchr(local, ':');
			memmove(pct, colon, strlen(colon) + 1);
		}
		/* Older ss print the IPv6 wildcard as *:PORT. */
		if (local[0] == '*' && local[1] == ':')
			snprintf(out[n++], 80, "[::]%s", local + 1);
		else
			snprintf(out[n++], 80, "%s", local);
	}
	pclose(p);
	qsort(out, (size_t)n, 80, (int (*)(const void *, const void *))strcmp);
	return n;
}

static int our_listeners(char out[][80], int cap, enum probe_source src)
{
	static struct probe_listener l[4096];
	struct cl_error err;
	long n = probe_listeners_from(0, src, l, 4096, &err);

	if (n < 0)
		fail_msg("probe_listeners: %s", err.msg);
	assert_true(n <= cap);
	for (long i = 0; i < n; i++)
		probe_listener_format(&l[i], out[i], 80);
	qsort(out, (size_t)n, 80, (int (*)(const void *, const void *))strcmp);
	return (int)n;
}

static void test_listeners_match_ss(void **state)
{
	static char ss[4096][80], ours[4096][80];
	int port, fd = listen_local(4, &port), ns = 0, no = 0, v6[2];
	char mine[80];
	bool same = false;

	if (system("ss -V >/dev/null 2>&1")) {
		close(fd);
		skip();
	}
	snprintf(mine, sizeof(mine), "127.0.0.1:%d", port);
	/* IPv6 ones too, loopback and wildcard, when this box has IPv6. */
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
		v6[i] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (i == 0)
			sa6.sin6_addr = in6addr_loopback;
		/* The wildcard one IPv6 only: it must not count for IPv4. */
		if (i == 1 && v6[i] >= 0)
			setsockopt(v6[i], IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 1 }, sizeof(int));
		if (v6[i] >= 0 && (bind(v6[i], (struct sockaddr *)&sa6, sizeof(sa6)) < 0 ||
				   listen(v6[i], 1) < 0)) {
			close(v6[i]);
			v6[i] = -1;
		}
	}
	/* Other programs open and close listeners meanwhile: a few tries. Both
	 * sources: sock_diag and the /proc tables. */
	for (int src = PROBE_SRC_DIAG; src <= PROBE_SRC_PROC; src++) {
		same = false;
		for (int attempt = 0; attempt < 5 && !same; attempt++) {
			ns = ss_listeners(ss, 4096);
			no = our_listeners(ours, 4096, (enum probe_source)src);
			same = ns == no;
			for (int i = 0; same && i < ns; i++)
				same = !strcmp(ss[i], ours[i]);
			if (!same)
				usleep(100000);
		}
		if (!same) {
			for (int i = 0; i < ns; i++)
				print_message("ss:   %s\n", ss[i]);
			for (int i = 0; i < no; i++)
				print_message("ours: %s\n", ours[i]);
			fail_msg("the listeners from %s differ from ss -Hlnt's",
				 src == PROBE_SRC_DIAG ? "sock_diag" : "/proc");
		}
	}
	print_message("%d listeners, as ss -Hlnt lists them:", no);
	for (int i = 0; i < no; i++)
		print_message(" %s", ours[i]);
	print_message("\n");
	{
		bool found = false;
		for (int i = 0; i < no; i++)
			found = found || !strcmp(ours[i], mine);
		assert_true(found);
	}

	/* And the socket is ours. */
	{
		struct probe_listener l[4096];
		struct cl_error err;
		long n = probe_listeners(getpid(), l, 4096, &err);
		pid_t owner = 0;

		assert_true(n > 0);
		for (long i = 0; i < n; i++)
			if (l[i].port == port)
				owner = probe_socket_owner(l[i].inode, 0, false);
		assert_int_equal(owner, getpid());
	}
	/* sock_diag reports IPV6_V6ONLY per socket. */
	if (v6[1] >= 0) {
		struct sockaddr_in6 sa6;
		socklen_t len = sizeof(sa6);
		struct probe_listener l[4096];
		struct cl_error err;
		long n = probe_listeners_from(0, PROBE_SRC_DIAG, l, 4096, &err);
		bool seen = false;

		assert_int_equal(getsockname(v6[1], (struct sockaddr *)&sa6, &len), 0);
		for (long i = 0; i < n; i++) {
			if (l[i].family != AF_INET6 || l[i].port != ntohs(sa6.sin6_port))
				continue;
			seen = true;
			assert_true(l[i].v6only);
			assert_false(probe_listener_serves(&l[i], "127.0.0.1"));
			assert_true(probe_listener_serves(&l[i], "::1"));
			l[i].v6only = false;
			assert_true(probe_listener_serves(&l[i], "127.0.0.1"));
		}
		assert_true(seen);
	}
	close(fd);
	for (int i = 0; i < 2; i++)
		if (v6[i] >= 0)
			close(v6[i]);

	/* A process that is gone has no namespace to read. */
	{
		struct cl_error err;
		pid_t child = fork();

		if (child == 0)
			_exit(0);
		waitpid(child, NULL, 0);
		assert_int_equal(probe_listeners(child, NULL, 0, &err), -1);
		assert_int_equal(err.errnum, ESRCH);
	}
}

/* Listeners of another network namespace: through a thread that joins it
 * (sock_diag), and through the holder's /proc/PID/net tables; the same. */
static void test_listeners_other_netns(void **state)
{
	struct probe_listener a[64], b[64], self[4096];
	struct cl_error err;
	int ready[2], port = 0;
	long na, nb, ns;
	pid_t child;

	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		int lfd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0) {
			port = -errno;
			(void)!write(ready[1], &port, sizeof(port));
			_exit(1);
		}
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
		listen(lfd, 1);
		getsockname(lfd, (struct sockaddr *)&sa, &len);
		port = ntohs(sa.sin_port);
		(void)!write(ready[1], &port, sizeof(port));
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &port, sizeof(port)), sizeof(port));
	close(ready[0]);
	if (port < 0) {
		waitpid(child, NULL, 0);
		print_message("skipped: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(-port));
		skip();
	}
	na = probe_listeners_from(child, PROBE_SRC_DIAG, a, 64, &err);
	if (na < 0)
		fail_msg("sock_diag in the child's namespace: %s", err.msg);
	nb = probe_listeners_from(child, PROBE_SRC_PROC, b, 64, &err);
	assert_int_equal(na, 1);
	assert_int_equal(nb, 1);
	assert_int_equal(a[0].port, port);
	assert_int_equal(a[0].inode, b[0].inode);
	assert_int_equal(probe_socket_owner(a[0].inode, child, true), child);
	/* Not in ours, and our own namespace is untouched by the thread. */
	ns = probe_listeners_from(0, PROBE_SRC_DIAG, self, 4096, &err);
	assert_true(ns >= 0);
	for (long i = 0; i < ns; i++)
		assert_true(self[i].inode != a[0].inode);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(probe_listeners_from(child, PROBE_SRC_AUTO, a, 64, &err), -1);
	assert_int_equal(err.errnum, ESRCH);
}

static void test_tcp_connect(void **state)
{
	struct probe_addr a;
	struct cl_error err;
	double secs;
	char buf[80];
	int port, fd = listen_local(8, &port), held[4];

	assert_int_equal(probe_resolve("127.0.0.1", port, &a, NULL, &err), 0);
	{
		char want[32];
		snprintf(want, sizeof(want), "127.0.0.1:%d", port);
		assert_string_equal(probe_addr_format(&a, buf, sizeof(buf)), want);
	}
	assert_int_equal(probe_tcp_connect(&a, 1000, &secs, &err), 0);
	assert_true(secs >= 0 && secs < 0.5);
	close(fd);

	/* Refused: nothing listens. */
	assert_int_equal(probe_resolve("127.0.0.1", closed_port(), &a, NULL, &err), 0);
	assert_int_equal(probe_tcp_connect(&a, 1000, &secs, &err), -1);
	assert_int_equal(err.errnum, ECONNREFUSED);
	assert_true(secs < 0.5);

	/* A full accept queue drops SYNs: the connect times out, at the timeout. */
	fd = listen_local(0, &port);
	assert_int_equal(probe_resolve("localhost", port, &a, NULL, &err), 0);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		held[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		connect(held[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	usleep(50000);
	if (a.ss.ss_family == AF_INET) {
		int r = probe_tcp_connect(&a, 300, &secs, &err);
		print_message("connect into a full queue: %s after %.3f s\n", r ? err.msg : "ok",
			      secs);
		assert_int_equal(r, -1);
		assert_int_equal(err.errnum, ETIMEDOUT);
		assert_true(secs >= 0.29 && secs < 0.6);
	}
	for (int i = 0; i < 4; i++)
		close(held[i]);
	close(fd);

	assert_int_equal(probe_resolve("no-such-host.invalid", 80, &a, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "no-such-host.invalid"));
	assert_int_equal(probe_resolve("[::1]", 80, &a, NULL, &err), 0);
	assert_string_equal(probe_addr_format(&a, buf, sizeof(buf)), "[::1]:80");
}

static void test_http_slow_server(void **state)
{
	struct probe_http_result r;
	struct probe_url u;
	struct cl_error err;
	struct curl_times ct;
	struct server s;
	char url[128];

	server_start(&s, SRV_SLOW, 200);
	url_of(url, sizeof(url), s.port, "/slow?x=1");
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	if (probe_http_get(&u, NULL, &r, &err))
		fail_msg("GET: %s", err.msg);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.reason, "OK");
	assert_int_equal(r.content_length, 27);
	assert_int_equal(r.size_download, 27);
	assert_string_equal(r.body, "hello from the slow server\n");
	assert_true(r.size_header > 0);
	/* The phases are cumulative and ordered, as curl's. */
	assert_true(r.namelookup <= r.connect && r.connect <= r.pretransfer &&
		    r.pretransfer <= r.starttransfer && r.starttransfer <= r.total);
	assert_true(r.appconnect == 0);
	assert_true(r.starttransfer >= 0.19 && r.starttransfer < 0.5);
	assert_true(r.connect < 0.05);
	assert_non_null(strstr(s.last_request, "GET /slow?x=1 HTTP/1.1\r\n"));
	char host[64];
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", s.port);
	assert_non_null(strstr(s.last_request, host));
	assert_non_null(strstr(s.last_request, "\r\nConnection: close\r\n"));
	print_message("probe: connect %.4f first byte %.4f total %.4f\n", r.connect,
		      r.starttransfer, r.total);

	/* curl -w on the same server agrees, within 60 ms. */
	if (curl_w(url, &ct)) {
		print_message("curl:  connect %.4f first byte %.4f total %.4f\n", ct.connect,
			      ct.starttransfer, ct.total);
		assert_int_equal(ct.code, 200);
		assert_true(fabs(ct.starttransfer - r.starttransfer) < 0.06);
		assert_true(fabs(ct.total - r.total) < 0.06);
		assert_true(fabs(ct.connect - r.connect) < 0.02);
	} else {
		print_message("curl not installed: not compared\n");
	}

	/* A timeout shorter than the server's wait: ETIMEDOUT at about then. */
	{
		struct probe_http_opts o = { .timeout_ms = 100 };
		double t0 = mono_now();

		assert_int_equal(probe_http_get(&u, &o, &r, &err), -1);
		assert_int_equal(err.errnum, ETIMEDOUT);
		assert_true(mono_now() - t0 < 0.3);
		assert_true(r.total >= 0.09);
		assert_true(r.connect > 0 && r.starttransfer == 0);
	}
	/* Another Host header and method. */
	{
		struct probe_http_opts o = { .host_header = "api.lab", .method = "HEAD" };

		assert_int_equal(probe_http_get(&u, &o, &r, &err), 0);
		assert_non_null(
			strstr(s.last_request, "HEAD /slow?x=1 HTTP/1.1\r\nHost: api.lab\r\n"));
		assert_int_equal(r.size_download, 0);
	}
	server_stop(&s);
}

static void test_http_edge_cases(void **state)
{
	struct probe_http_result r;
	struct probe_url u;
	struct cl_error err;
	struct server s;
	char url[128];

	server_start(&s, SRV_CHUNKED, 0);
	url_of(url, sizeof(url), s.port, "/");
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	assert_int_equal(probe_http_get(&u, NULL, &r, &err), 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.content_length, -1);
	assert_non_null(strstr(r.body, "hello"));
	server_stop(&s);

	server_start(&s, SRV_CLOSE, 0);
	url_of(url, sizeof(url), s.port, "/");
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	assert_int_equal(probe_http_get(&u, NULL, &r, &err), -1);
	assert_non_null(strstr(err.msg, "without a response"));
	server_stop(&s);

	server_start(&s, SRV_SHORT, 0);
	url_of(url, sizeof(url), s.port, "/");
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	assert_int_equal(probe_http_get(&u, NULL, &r, &err), -1);
	assert_non_null(strstr(err.msg, "cut short: 9 of 100"));
	assert_int_equal(r.status, 200);
	server_stop(&s);

	url_of(url, sizeof(url), closed_port(), "/");
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	assert_int_equal(probe_http_get(&u, NULL, &r, &err), -1);
	assert_int_equal(err.errnum, ECONNREFUSED);
	assert_int_equal(r.status, 0);
}

/* A stand-in TLS client: passes bytes through and counts its calls, to show
 * https probes go through the hook and time the handshake. */
static int fake_handshakes, fake_closes;

static void *fake_handshake(int fd, const char *sni, bool verify, double deadline,
			    struct cl_error *err)
{
	static int session_fd;

	fake_handshakes++;
	assert_string_equal(sni, "127.0.0.1");
	usleep(20000); /* a handshake takes time */
	session_fd = fd;
	return &session_fd;
}

static ssize_t fake_read(void *s, void *buf, size_t len, double deadline, struct cl_error *err)
{
	ssize_t n = read(*(int *)s, buf, len);

	if (n < 0 && errno == EAGAIN) {
		struct pollfd p = { .fd = *(int *)s, .events = POLLIN };
		poll(&p, 1, 2000);
		n = read(*(int *)s, buf, len);
	}
	if (n < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "fake read");
	return n;
}

static ssize_t fake_write(void *s, const void *buf, size_t len, double deadline,
			  struct cl_error *err)
{
	return write(*(int *)s, buf, len);
}

static void fake_close(void *s)
{
	fake_closes++;
}

static const struct probe_tls_ops fake_tls = { fake_handshake, fake_read, fake_write, fake_close };

static void test_tls_hook(void **state)
{
	struct probe_http_result r;
	struct probe_url u;
	struct cl_error err;
	struct server s;
	char url[128];

	server_start(&s, SRV_SLOW, 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", s.port);
	assert_int_equal(probe_url_parse(url, &u, &err), 0);
	probe_set_tls(NULL); /* the OpenSSL client is installed by default */
	assert_false(probe_tls_available());
	assert_int_equal(probe_http_get(&u, NULL, &r, &err), -1);
	assert_int_equal(err.errnum, EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "TLS client"));

	probe_set_tls(&fake_tls);
	assert_true(probe_tls_available());
	if (probe_http_get(&u, NULL, &r, &err))
		fail_msg("GET over the hook: %s", err.msg);
	assert_int_equal(r.status, 200);
	assert_int_equal(fake_handshakes, 1);
	assert_int_equal(fake_closes, 1);
	assert_true(r.appconnect - r.connect >= 0.019);
	assert_true(r.pretransfer >= r.appconnect);
	probe_set_tls(NULL);
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),	   cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_format_ms),	   cmocka_unit_test(test_listeners_parse),
		cmocka_unit_test(test_listeners_match_ss),
		cmocka_unit_test(test_listeners_other_netns), cmocka_unit_test(test_tcp_connect),
		cmocka_unit_test(test_http_slow_server),   cmocka_unit_test(test_http_edge_cases),
		cmocka_unit_test(test_tls_hook),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
