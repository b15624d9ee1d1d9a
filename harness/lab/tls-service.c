/* tls: the lab's HTTPS service, its certificate reloaded on SIGHUP as nginx
 * does.
 *
 *   GET /health   200 "ok\n"
 *   anything else 404 (405 for a method other than GET or HEAD)
 *
 * Its certificate and key are files in STATE/lab/tls/ (server.crt, which
 * may carry the chain after the leaf, and server.key), issued by the lab CA
 * in the same directory (ca.crt, ca.key). At start it makes what is missing:
 * the CA (ECDSA P-256, ten years) when there is none, and a certificate for
 * api.lab.test from it (90 days) when there is none or the one there is not
 * usable (does not load, is not from the lab CA, is not for api.lab.test,
 * or has less than 30 days left): a drill starts from a healthy service.
 *
 * SIGHUP reads both files again; a pair that does not load (a key that does
 * not match the certificate, a file cut short) is refused and the previous
 * certificate is kept, exactly like a failed `nginx -s reload`. Connections
 * in flight finish with the certificate they started with. What it does is
 * logged in STATE/lab/tls/server.log: every reload with the certificate's
 * subject, issuer and notAfter, and failed handshakes with the reason (a
 * client refusing the certificate says why: "alert certificate expired").
 *
 * Arguments: {"port": N, "address": "IPv4" (default 127.0.0.1), "state_dir":
 * DIR}. Given 0.0.0.0 it runs inside the lab network and listens on 443 as
 * well. One thread serves many connections from a poll() loop over
 * non-blocking sockets (handshake, request and response each limited in
 * time; a stalled client gives way when all slots are taken). It binds
 * first and locks itself down (no capabilities, seccomp) before listening. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
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
#include "sys/x509.h"

#define TLS_DEFAULT_PORT 18443
#define TLS_LAB_PORT 443
#define TLS_MAX_CONNS 32
#define TLS_REQ_MAX 4096
#define TLS_IO_TIMEOUT_MS 5000
#define TLS_EVICT_AFTER_MS 1000
#define TLS_LOG_MAX (1L << 20)
#define TLS_CA_DAYS 3650
#define TLS_CERT_DAYS 90
#define TLS_RENEW_DAYS 30 /* at start, a certificate with fewer days is replaced */
#define TLS_FILE_MAX 65536

static const char *const tls_service_syscalls[] = {
	"accept4",
	"listen",
	"shutdown",
	"recvfrom",
	"sendto",
	"recvmsg",
	"sendmsg",
#ifdef __NR_poll
	"poll",
#endif
	"ppoll",
	"openat",
	"lseek",
	"ftruncate",
	"fcntl",
	"newfstatat",
	"fstat",
#ifdef __NR_statx
	"statx",
#endif
	"getrandom",
	"close",
	"read",
	"write",
	"clock_gettime",
	"rt_sigreturn",
	"rt_sigprocmask",
	"restart_syscall",
	"exit",
	"exit_group",
	NULL,
};

enum conn_state { C_FREE, C_HANDSHAKE, C_READ, C_WRITE, C_CLOSE };

struct conn {
	int fd;
	SSL *ssl;
	enum conn_state state;
	bool want_write; /* the TLS layer waits to write (else to read) */
	long long since, deadline;
	struct sockaddr_in peer;
	size_t rlen, wlen;
	char req[TLS_REQ_MAX];
	char resp[512];
};

static struct {
	int labfd; /* STATE/lab/tls, O_PATH */
	int logfd;
	SSL_CTX *ctx;
	struct conn conns[TLS_MAX_CONNS];
} S;

static volatile sig_atomic_t got_hup;

static void on_hup(int sig)
{
	got_hup = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lab_service_vlog(S.logfd, TLS_LOG_MAX, fmt, ap);
	va_end(ap);
}

/* ---- the certificate -------------------------------------------------------- */

/* Read dir/name (at most TLS_FILE_MAX) into a malloc'd string; NULL with
 * errno. Works under the seccomp filter (openat on the directory fd). */
static char *read_at(int dirfd, const char *name, size_t *lenp)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(TLS_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len < TLS_FILE_MAX && (n = read(fd, buf + len, TLS_FILE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			free(buf);
			errno = e;
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* A server context for the certificate (and chain) and key files now in the
 * lab directory; NULL with why. */
static SSL_CTX *ctx_load(char *why, size_t size, char *what, size_t wsize)
{
	char *cert_pem = NULL, *key_pem = NULL, reason[256];
	size_t clen = 0, klen = 0;
	SSL_CTX *ctx = NULL;
	X509 *leaf = NULL, *extra;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	struct x509_facts f;
	struct cl_error err;

	cert_pem = read_at(S.labfd, LAB_TLS_CERT, &clen);
	key_pem = read_at(S.labfd, LAB_TLS_KEY, &klen);
	if (!cert_pem || !key_pem) {
		snprintf(why, size, "unable to read %s: %s", !cert_pem ? LAB_TLS_CERT : LAB_TLS_KEY,
			 strerror(errno));
		goto fail;
	}
	bio = BIO_new_mem_buf(cert_pem, (int)clen);
	leaf = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (!leaf) {
		snprintf(why, size, "%s holds no PEM certificate", LAB_TLS_CERT);
		goto fail;
	}
	key = x509_key_from_pem(key_pem, klen, &err);
	if (!key) {
		snprintf(why, size, "%s: %s", LAB_TLS_KEY, err.msg);
		goto fail;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		snprintf(why, size, "%s does not match the certificate in %s", LAB_TLS_KEY,
			 LAB_TLS_CERT);
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, size, "unable to use the certificate: %s",
			 x509_ssl_error(reason, sizeof(reason)));
		goto fail;
	}
	/* Whatever follows the leaf is its chain. */
	while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1)
			X509_free(extra);
	ERR_clear_error();
	if (!x509_facts_of(leaf, &f, &err)) {
		char na[32];
		struct tm tm;

		gmtime_r(&f.not_after, &tm);
		strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(what, wsize, "%s, issuer %s, SAN %s, notAfter %s", f.subject, f.issuer,
			 f.sans[0] ? f.sans : "none", na);
	}
	goto out;
fail:
	SSL_CTX_free(ctx);
	ctx = NULL;
out:
	BIO_free(bio);
	X509_free(leaf);
	EVP_PKEY_free(key);
	free(cert_pem);
	free(key_pem);
	return ctx;
}

static void reload(void)
{
	char why[512], what[600] = "";
	SSL_CTX *ctx = ctx_load(why, sizeof(why), what, sizeof(what));

	if (!ctx) {
		logf_line("reload failed: %s; still serving the previous certificate", why);
		return;
	}
	/* Connections in flight hold their own reference. */
	SSL_CTX_free(S.ctx);
	S.ctx = ctx;
	logf_line("reload: serving %s", what);
}

/* ---- the lab CA and a first certificate (before the lockdown) ------------------ */

static bool file_exists(const char *dir, const char *name)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int write_pair(const char *dir, const char *cert_name, const char *key_name, X509 *cert,
		      EVP_PKEY *key, struct cl_error *err)
{
	char path[700], *cpem = x509_cert_pem(cert, err),
			*kpem = cpem ? x509_key_pem(key, err) : NULL;
	int rc = -1;

	if (!kpem)
		goto out;
	/* The key first: a certificate never names a key that is not there. */
	snprintf(path, sizeof(path), "%s/%s", dir, key_name);
	if (x509_file_write(path, kpem, strlen(kpem), 0600, err))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, cert_name);
	rc = x509_file_write(path, cpem, strlen(cpem), 0644, err);
out:
	free(cpem);
	free(kpem);
	return rc;
}

/* The lab CA: loaded, or made when neither of its files exists. */
static int ca_ensure(const char *dir, X509 **ca, EVP_PKEY **ca_key, bool *made,
		     struct cl_error *err)
{
	char path[700], *pem;
	size_t len;

	*made = false;
	if (!file_exists(dir, LAB_TLS_CA_CERT) && !file_exists(dir, LAB_TLS_CA_KEY)) {
		time_t now = time(NULL);
		struct x509_spec spec = { .cn = LAB_TLS_CA_CN,
					  .ca = true,
					  .not_before = now - 3600,
					  .not_after = now + (time_t)TLS_CA_DAYS * 86400 };

		*ca_key = x509_key_new(err);
		*ca = *ca_key ? x509_make(&spec, *ca_key, NULL, NULL, err) : NULL;
		if (!*ca || write_pair(dir, LAB_TLS_CA_CERT, LAB_TLS_CA_KEY, *ca, *ca_key, err))
			return -1;
		*made = true;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, LAB_TLS_CA_CERT);
	pem = x509_file_read(path, &len, err);
	*ca = pem ? x509_cert_from_pem(pem, len, err) : NULL;
	free(pem);
	if (!*ca) {
		cl_error_prefix(err, "the lab CA '%s' (remove %s and %s to make a new one)", path,
				LAB_TLS_CA_CERT, LAB_TLS_CA_KEY);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, LAB_TLS_CA_KEY);
	pem = x509_file_read(path, &len, err);
	*ca_key = pem ? x509_key_from_pem(pem, len, err) : NULL;
	free(pem);
	if (!*ca_key) {
		cl_error_prefix(err, "the lab CA key '%s' (remove %s and %s to make a new one)",
				path, LAB_TLS_CA_CERT, LAB_TLS_CA_KEY);
		return -1;
	}
	return 0;
}

/* Why the served certificate is not fit to start a drill with, or NULL. */
static const char *leaf_unusable(const char *dir, X509 *ca, char *why, size_t size)
{
	char path[700], *pem;
	size_t len;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL, *ca_pub = X509_get0_pubkey(ca);
	struct x509_facts f;
	struct cl_error err;
	const char *rc = why;

	snprintf(path, sizeof(path), "%s/%s", dir, LAB_TLS_CERT);
	pem = x509_file_read(path, &len, &err);
	leaf = pem ? x509_cert_from_pem(pem, len, &err) : NULL;
	free(pem);
	snprintf(path, sizeof(path), "%s/%s", dir, LAB_TLS_KEY);
	pem = leaf ? x509_file_read(path, &len, &err) : NULL;
	key = pem ? x509_key_from_pem(pem, len, &err) : NULL;
	free(pem);
	if (!leaf || !key)
		snprintf(why, size, "%s", err.msg);
	else if (X509_check_private_key(leaf, key) != 1)
		snprintf(why, size, "the key does not match the certificate");
	else if (!ca_pub || X509_verify(leaf, ca_pub) != 1)
		snprintf(why, size, "not issued by the lab CA");
	else if (!x509_matches_host(leaf, LAB_TLS_NAME))
		snprintf(why, size, "not for %s", LAB_TLS_NAME);
	else if (x509_facts_of(leaf, &f, &err) || f.not_before > time(NULL) ||
		 x509_days_left(&f, time(NULL)) < TLS_RENEW_DAYS)
		snprintf(why, size, "outside its validity or under %d days from expiry",
			 TLS_RENEW_DAYS);
	else
		rc = NULL;
	ERR_clear_error();
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}

static int lab_tls_ensure(const char *dir, struct cl_error *err)
{
	X509 *ca = NULL, *leaf = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	char why[512];
	bool made;
	int rc = -1;

	if (ca_ensure(dir, &ca, &ca_key, &made, err))
		goto out;
	if (made)
		logf_line("made the lab CA: %s/%s", dir, LAB_TLS_CA_CERT);
	if (!file_exists(dir, LAB_TLS_CERT) && !file_exists(dir, LAB_TLS_KEY))
		snprintf(why, sizeof(why), "there was none");
	else if (!leaf_unusable(dir, ca, why, sizeof(why)))
		goto done;
	{
		time_t now = time(NULL);
		struct x509_spec spec = { .cn = LAB_TLS_NAME,
					  .dns = { LAB_TLS_NAME },
					  .not_before = now - 3600,
					  .not_after = now + (time_t)TLS_CERT_DAYS * 86400 };

		key = x509_key_new(err);
		leaf = key ? x509_make(&spec, key, ca, ca_key, err) : NULL;
		if (!leaf || write_pair(dir, LAB_TLS_CERT, LAB_TLS_KEY, leaf, key, err))
			goto out;
		logf_line("issued a new certificate for %s from the lab CA (%s)", LAB_TLS_NAME,
			  why);
	}
done:
	rc = 0;
out:
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- serving ------------------------------------------------------------------ */

static void conn_close(struct conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
}

static void respond(struct conn *c, int code, const char *reason, const char *body, bool head)
{
	int n = snprintf(c->resp, sizeof(c->resp),
			 "HTTP/1.1 %d %s\r\nServer: tls\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 code, reason, strlen(body), head ? "" : body);

	c->wlen = n < 0 ? 0 : (size_t)n >= sizeof(c->resp) ? sizeof(c->resp) - 1 : (size_t)n;
	c->state = C_WRITE;
	c->deadline = now_ms() + TLS_IO_TIMEOUT_MS;
}

static void route(struct conn *c)
{
	char method[16], target[512], version[16], *q;
	bool head;

	c->req[c->rlen] = '\0';
	if (sscanf(c->req, "%15[A-Z] %511[^ \r\n] %15[^ \r\n]", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) || target[0] != '/') {
		respond(c, 400, "Bad Request", "bad request\n", false);
		return;
	}
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head)
		respond(c, 405, "Method Not Allowed", "method not allowed\n", false);
	else if (!strcmp(target, "/health"))
		respond(c, 200, "OK", "ok\n", head);
	else
		respond(c, 404, "Not Found", "not found\n", head);
}

/* What the last TLS call asks for: 1 to wait, 0 to close. */
static int tls_wait(struct conn *c, int ret, const char *during)
{
	int e = SSL_get_error(c->ssl, ret);
	char why[256], who[INET_ADDRSTRLEN];

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->want_write = e == SSL_ERROR_WANT_WRITE;
		return 1;
	}
	if (during) {
		x509_ssl_error(why, sizeof(why));
		inet_ntop(AF_INET, &c->peer.sin_addr, who, sizeof(who));
		logf_line("%s from %s failed: %s", during, who,
			  why[0]		 ? why :
			  e == SSL_ERROR_SYSCALL ? "connection closed" :
						   "error");
	}
	ERR_clear_error();
	return 0;
}

static void conn_step(struct conn *c)
{
	for (;;) {
		int r;

		switch (c->state) {
		case C_HANDSHAKE:
			r = SSL_accept(c->ssl);
			if (r == 1) {
				c->state = C_READ;
				continue;
			}
			if (!tls_wait(c, r, "handshake"))
				conn_close(c);
			return;
		case C_READ:
			if (c->rlen >= sizeof(c->req) - 1) {
				respond(c, 431, "Request Header Fields Too Large", "too large\n",
					false);
				continue;
			}
			r = SSL_read(c->ssl, c->req + c->rlen, (int)(sizeof(c->req) - 1 - c->rlen));
			if (r <= 0) {
				if (!tls_wait(c, r, NULL))
					conn_close(c);
				return;
			}
			c->rlen += (size_t)r;
			if (memmem(c->req, c->rlen, "\r\n\r\n", 4) ||
			    memmem(c->req, c->rlen, "\n\n", 2))
				route(c);
			continue;
		case C_WRITE:
			r = SSL_write(c->ssl, c->resp, (int)c->wlen);
			if (r <= 0) {
				if (!tls_wait(c, r, NULL))
					conn_close(c);
				return;
			}
			c->state = C_CLOSE;
			continue;
		case C_CLOSE:
			/* Send close_notify; the peer's is not waited for. */
			r = SSL_shutdown(c->ssl);
			if (r < 0 && tls_wait(c, r, NULL))
				return;
			ERR_clear_error();
			conn_close(c);
			return;
		case C_FREE:
			return;
		}
	}
}

/* A slot for a new connection: a free one, else the oldest still in its
 * handshake or request for over a second. NULL when none. */
static struct conn *conn_slot(long long now)
{
	struct conn *best = NULL;

	for (size_t i = 0; i < TLS_MAX_CONNS; i++) {
		struct conn *c = &S.conns[i];

		if (c->state == C_FREE)
			return c;
		if ((c->state == C_HANDSHAKE || c->state == C_READ) &&
		    c->since + TLS_EVICT_AFTER_MS <= now && (!best || c->since < best->since))
			best = c;
	}
	if (best)
		conn_close(best);
	return best;
}

static void accept_all(int lfd)
{
	for (;;) {
		struct conn *c = conn_slot(now_ms());
		socklen_t plen = sizeof(c->peer);
		int fd;

		if (!c)
			return;
		fd = accept4(lfd, (struct sockaddr *)&c->peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c->ssl = SSL_new(S.ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
			SSL_free(c->ssl);
			c->ssl = NULL;
			close(fd);
			ERR_clear_error();
			return;
		}
		c->fd = fd;
		c->state = C_HANDSHAKE;
		c->rlen = 0;
		c->since = now_ms();
		c->deadline = c->since + TLS_IO_TIMEOUT_MS;
		conn_step(c);
	}
}

static int serve(const int *lfd, int nsock)
{
	struct pollfd pfd[2 + TLS_MAX_CONNS];
	struct conn *slot[2 + TLS_MAX_CONNS];
	sigset_t during;

	sigprocmask(SIG_BLOCK, NULL, &during);
	sigdelset(&during, SIGHUP);
	for (;;) {
		long long now = now_ms(), next = now + 60000;
		struct timespec ts;
		nfds_t n = 0;
		int rc;

		if (got_hup) {
			got_hup = 0;
			reload();
		}
		for (int k = 0; k < nsock; k++) {
			pfd[n] = (struct pollfd){ lfd[k], POLLIN, 0 };
			slot[n++] = NULL;
		}
		for (size_t i = 0; i < TLS_MAX_CONNS; i++) {
			struct conn *c = &S.conns[i];

			if (c->state == C_FREE)
				continue;
			if (c->deadline <= now) {
				conn_close(c);
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			pfd[n] = (struct pollfd){ c->fd, c->want_write ? POLLOUT : POLLIN, 0 };
			slot[n++] = c;
		}
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = ((next - now) % 1000) * 1000000;
		rc = ppoll(pfd, n, &ts, &during);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (nfds_t i = 0; i < n && rc > 0; i++) {
			if (!pfd[i].revents)
				continue;
			rc--;
			if (!slot[i])
				accept_all(pfd[i].fd);
			else if (slot[i]->state != C_FREE)
				conn_step(slot[i]);
		}
	}
}

/* ---- start ------------------------------------------------------------------------ */

static int bind_listener(const struct in_addr *addr, int port, struct cl_error *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = *addr };
	char a[INET_ADDRSTRLEN];
	int one = 1, fd;

	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		inet_ntop(AF_INET, addr, a, sizeof(a));
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to bind %s:%d", a, port);
	}
	return fd;
}

static int tls_service_main(const cJSON *args)
{
	const cJSON *jp = cJSON_GetObjectItemCaseSensitive(args, "port");
	const cJSON *ja = cJSON_GetObjectItemCaseSensitive(args, "address");
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(args, "state_dir");
	char state[512], lab[600], dir[600], path[700], why[512], what[600] = "";
	struct in_addr addr = { htonl(INADDR_LOOPBACK) };
	int port = TLS_DEFAULT_PORT, lfd[2] = { -1, -1 }, nsock = 0;
	struct sigaction sa;
	struct cl_error err;
	sigset_t hup;

	cl_error_clear(&err);
	S.labfd = S.logfd = -1;
	if (jp && (!cJSON_IsNumber(jp) || jp->valuedouble < 1 || jp->valuedouble > 65535 ||
		   jp->valuedouble != (int)jp->valuedouble)) {
		cl_error_set(&err, CL_EXIT_USAGE, "port must be an integer 1..65535");
		goto fail;
	}
	if (jp)
		port = (int)jp->valuedouble;
	if (ja && (!cJSON_IsString(ja) || inet_pton(AF_INET, ja->valuestring, &addr) != 1)) {
		cl_error_set(&err, CL_EXIT_USAGE, "address must be an IPv4 address");
		goto fail;
	}
	if (cJSON_IsString(js) && js->valuestring[0])
		snprintf(state, sizeof(state), "%s", js->valuestring);
	else if (state_dir(state, sizeof(state), true, &err))
		goto fail;
	snprintf(lab, sizeof(lab), "%s/lab", state);
	snprintf(dir, sizeof(dir), "%s/" LAB_TLS_DIR, state);
	if ((mkdir(lab, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0755) < 0 && errno != EEXIST)) {
		cl_error_errno(&err, CL_EXIT_USAGE, errno, "unable to create '%s'", dir);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/server.log", dir);
	S.logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (lab_tls_ensure(dir, &err))
		goto fail;
	S.labfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (S.labfd < 0) {
		cl_error_errno(&err, CL_EXIT_USAGE, errno, "unable to open '%s'", dir);
		goto fail;
	}
	S.ctx = ctx_load(why, sizeof(why), what, sizeof(what));
	if (!S.ctx) {
		cl_error_set(&err, CL_EXIT_USAGE, "%s", why);
		goto fail;
	}
	for (int k = 0; k < 2; k++) {
		if (k && (addr.s_addr != htonl(INADDR_ANY) || port == TLS_LAB_PORT))
			break;
		lfd[k] = bind_listener(&addr, k ? TLS_LAB_PORT : port, &err);
		if (lfd[k] < 0)
			goto fail;
		nsock++;
	}
	for (size_t i = 0; i < TLS_MAX_CONNS; i++) {
		S.conns[i].fd = -1;
		S.conns[i].state = C_FREE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (worker_lockdown(tls_service_syscalls, &err))
		goto fail;
	for (int k = 0; k < nsock; k++) {
		if (listen(lfd[k], 128) < 0) {
			cl_error_errno(&err, CL_EXIT_USAGE, errno, "unable to listen");
			goto fail;
		}
	}
	logf_line("listening on port %d%s: serving %s", port, nsock > 1 ? " and 443" : "", what);
	return serve(lfd, nsock);
fail:
	for (int k = 0; k < 2; k++)
		if (lfd[k] >= 0)
			close(lfd[k]);
	cl_error_prefix(&err, "tls");
	return worker_exit_error(&err);
}

const struct lab_service tls_service = {
	.name = "tls",
	.summary =
		"HTTPS (GET /health) with a lab-CA certificate from STATE/lab/tls, reloaded on SIGHUP",
	.default_port = TLS_DEFAULT_PORT,
	.main = tls_service_main,
};
