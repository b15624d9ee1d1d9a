/* X.509 with OpenSSL 3: see x509.h for the contract. */
#include "sys/x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/journal.h"
#include "sys/probe.h"
#include "sys/proc.h"

#define X509_FILE_MAX (1 << 20)

const char *x509_ssl_error(char *buf, size_t size)
{
	unsigned long e = ERR_get_error(), next;

	/* The last error queued is the innermost reason; keep the first,
	 * which says what failed at the level the caller asked for. */
	while ((next = ERR_get_error()))
		(void)next;
	if (!e) {
		snprintf(buf, size, "%s", "");
		return buf;
	}
	ERR_error_string_n(e, buf, size);
	return buf;
}

static int ssl_fail(struct cl_error *err, const char *what)
{
	char reason[256];

	x509_ssl_error(reason, sizeof(reason));
	return cl_error_set(err, CL_EXIT_USAGE, "%s%s%s", what, reason[0] ? ": " : "", reason);
}

EVP_PKEY *x509_key_new(struct cl_error *err)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (!key)
		ssl_fail(err, "unable to make an EC P-256 key");
	return key;
}

/* Add extension nid with value text (openssl.cnf syntax) to cert, the
 * context naming issuer for key identifiers. */
static int add_ext(X509 *cert, X509 *issuer, int nid, const char *text, struct cl_error *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, text);
	if (!ext) {
		char what[160];

		snprintf(what, sizeof(what), "unable to make extension %s = %s", OBJ_nid2sn(nid),
			 text);
		return ssl_fail(err, what);
	}
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : ssl_fail(err, "unable to add an extension");
}

static int set_serial(X509 *cert, struct cl_error *err)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ssl_fail(err, "unable to draw a serial number");
	raw[0] &= 0x7f; /* positive */
	raw[0] |= 0x40; /* and a full 16 octets */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		rc = 0;
	else
		ssl_fail(err, "unable to set the serial number");
	BN_free(bn);
	return rc;
}

/* "DNS:a, DNS:b, IP:1.2.3.4" for spec's names, "" when there are none. */
static void san_text(const struct x509_spec *spec, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < X509_SAN_MAX && spec->dns[i]; i++)
		off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%sDNS:%s",
					off ? "," : "", spec->dns[i]);
	for (int i = 0; i < X509_SAN_MAX && spec->ips[i]; i++)
		off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%sIP:%s",
					off ? "," : "", spec->ips[i]);
}

X509 *x509_make(const struct x509_spec *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
		struct cl_error *err)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	char sans[1024];

	if (!cert || !name) {
		ssl_fail(err, "out of memory");
		goto fail;
	}
	if (!issuer_key) {
		issuer = NULL;
		issuer_key = key;
	}
	if (!spec->cn || !*spec->cn || strlen(spec->cn) > 64) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "a certificate needs a common name of 1..64 characters");
		goto fail;
	}
	if (!X509_set_version(cert, 2) || set_serial(cert, err) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)spec->cn,
					-1, -1, 0) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) ||
	    !ASN1_TIME_set(X509_getm_notBefore(cert), spec->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(cert), spec->not_after) ||
	    !X509_set_pubkey(cert, key)) {
		if (!err || !err->msg[0])
			ssl_fail(err, "unable to fill in the certificate");
		goto fail;
	}
	/* Key identifiers first: the authority key identifier of a
	 * self-signed certificate is read from its own subject key id. */
	if (add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier, "hash", err) ||
	    add_ext(cert, issuer ? issuer : cert, NID_authority_key_identifier, "keyid:always",
		    err))
		goto fail;
	if (spec->ca) {
		if (add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE", err) ||
		    add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign", err))
			goto fail;
	} else {
		if (add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE", err) ||
		    add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature", err) ||
		    add_ext(cert, issuer, NID_ext_key_usage, "serverAuth", err))
			goto fail;
	}
	san_text(spec, sans, sizeof(sans));
	if (sans[0] && add_ext(cert, issuer, NID_subject_alt_name, sans, err))
		goto fail;
	if (!X509_sign(cert, issuer_key, EVP_sha256())) {
		ssl_fail(err, "unable to sign the certificate");
		goto fail;
	}
	X509_NAME_free(name);
	return cert;
fail:
	X509_NAME_free(name);
	X509_free(cert);
	return NULL;
}

/* The contents of a memory BIO as a malloc'd string. */
static char *bio_string(BIO *bio, struct cl_error *err)
{
	char *data, *out;
	long len = BIO_get_mem_data(bio, &data);

	if (len < 0 || !(out = malloc((size_t)len + 1))) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	return out;
}

char *x509_cert_pem(X509 *cert, struct cl_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (bio && PEM_write_bio_X509(bio, cert))
		out = bio_string(bio, err);
	else
		ssl_fail(err, "unable to write the certificate as PEM");
	BIO_free(bio);
	return out;
}

char *x509_key_pem(EVP_PKEY *key, struct cl_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		out = bio_string(bio, err);
	else
		ssl_fail(err, "unable to write the key as PEM");
	BIO_free(bio);
	return out;
}

X509 *x509_cert_from_pem(const char *pem, size_t len, struct cl_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	if (!cert)
		ssl_fail(err, "no PEM certificate");
	BIO_free(bio);
	return cert;
}

EVP_PKEY *x509_key_from_pem(const char *pem, size_t len, struct cl_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	/* An empty passphrase callback result: an encrypted key fails rather
	 * than prompting on the terminal. */
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;

	if (!key)
		ssl_fail(err, "no PEM private key");
	BIO_free(bio);
	return key;
}

char *x509_file_read(const char *path, size_t *len, struct cl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0;
	struct stat st;

	if (fd < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > X509_FILE_MAX) {
		cl_error_set(err, CL_EXIT_USAGE, "'%s' is not a regular file of at most 1 MiB",
			     path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			cl_error_errno(err, CL_EXIT_USAGE, r < 0 ? errno : EIO,
				       "unable to read '%s'", path);
			free(buf);
			buf = NULL;
			goto out;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
out:
	close(fd);
	return buf;
}

int x509_file_write(const char *path, const char *data, size_t len, mode_t mode,
		    struct cl_error *err)
{
	char tmp[4096], dir[4096];
	size_t off = 0;
	int fd, dfd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
	/* The umask must not loosen or tighten what the caller asked for. */
	if (fchmod(fd, mode) < 0)
		goto fail_errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail_errno;
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail_errno;
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail_errno;
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail_errno:
	cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to write '%s'", path);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static void name_line(X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	buf[0] = '\0';
	if (!bio)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		snprintf(buf, size, "%.*s", (int)(len < 0 ? 0 : len), data);
	}
	BIO_free(bio);
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

int x509_facts_of(X509 *cert, struct x509_facts *f, struct cl_error *err)
{
	GENERAL_NAMES *gens;
	ASN1_INTEGER *serial = X509_get_serialNumber(cert);
	BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	size_t off = 0;

	memset(f, 0, sizeof(*f));
	name_line(X509_get_subject_name(cert), f->subject, sizeof(f->subject));
	name_line(X509_get_issuer_name(cert), f->issuer, sizeof(f->issuer));
	snprintf(f->serial, sizeof(f->serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	f->not_before = asn1_time(X509_get0_notBefore(cert));
	f->not_after = asn1_time(X509_get0_notAfter(cert));
	if (!f->not_before || !f->not_after)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "the certificate's validity cannot be read");
	f->self_signed = X509_self_signed(cert, 1) == 1;
	f->ca = X509_check_ca(cert) > 0 && (X509_get_extension_flags(cert) & EXFLAG_CA);
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN] = "";

		if (g->type == GEN_DNS) {
			const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
			int l = ASN1_STRING_length(g->d.dNSName);

			off += (size_t)snprintf(f->sans + off,
						off < sizeof(f->sans) ? sizeof(f->sans) - off : 0,
						"%sDNS:%.*s", off ? ", " : "", l, (const char *)s);
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);

			if (l == 4 || l == 16)
				inet_ntop(l == 4 ? AF_INET : AF_INET6, s, ip, sizeof(ip));
			off += (size_t)snprintf(f->sans + off,
						off < sizeof(f->sans) ? sizeof(f->sans) - off : 0,
						"%sIP:%s", off ? ", " : "", ip[0] ? ip : "?");
		}
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return 0;
}

long x509_days_left(const struct x509_facts *f, time_t now)
{
	double secs = difftime(f->not_after, now);

	return secs >= 0 ? (long)(secs / 86400) : -(long)((-secs + 86399) / 86400);
}

bool x509_matches_host(X509 *cert, const char *hostname)
{
	unsigned char bin[16];
	bool ok;

	if (inet_pton(AF_INET, hostname, bin) == 1 || inet_pton(AF_INET6, hostname, bin) == 1)
		ok = X509_check_ip_asc(cert, hostname, 0) == 1;
	else
		ok = X509_check_host(cert, hostname, 0, 0, NULL) == 1;
	ERR_clear_error();
	return ok;
}

static bool ip_literal(const char *s)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1;
}

/* Fill peer from a finished handshake. */
static void peer_facts(SSL *ssl, struct x509_peer *peer)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get1_peer_certificate(ssl);
	struct cl_error e;
	size_t off = 0;

	peer->verify_code = SSL_get_verify_result(ssl);
	snprintf(peer->verify_error, sizeof(peer->verify_error), "%s",
		 peer->verify_code == X509_V_OK ? "ok" :
						  X509_verify_cert_error_string(peer->verify_code));
	snprintf(peer->protocol, sizeof(peer->protocol), "%s", SSL_get_version(ssl));
	peer->have_leaf = leaf && !x509_facts_of(leaf, &peer->leaf, &e);
	if (!leaf)
		snprintf(peer->verify_error, sizeof(peer->verify_error), "no certificate sent");
	X509_free(leaf);
	peer->chain_len = chain ? sk_X509_num(chain) : 0;
	for (int i = 0; i < peer->chain_len; i++) {
		char subject[256];

		name_line(X509_get_subject_name(sk_X509_value(chain, i)), subject, sizeof(subject));
		off += (size_t)snprintf(peer->chain + off,
					off < sizeof(peer->chain) ? sizeof(peer->chain) - off : 0,
					"%s%s", i ? " <- " : "", subject);
	}
}

/* x509_tls_client(), trusting ca_file (may be NULL) and, with system, the
 * system's default store as well. */
static SSL *tls_client(int fd, const char *servername, const char *ca_file, bool system,
		       double deadline, struct x509_peer *peer, struct cl_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	int flags = fcntl(fd, F_GETFL);

	memset(peer, 0, sizeof(*peer));
	peer->verify_code = -1;
	if (!ctx) {
		ssl_fail(err, "unable to make a TLS client");
		return NULL;
	}
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if ((ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) ||
	    (system && SSL_CTX_set_default_verify_paths(ctx) != 1)) {
		char what[600];

		snprintf(what, sizeof(what), "unable to load the trusted CAs from '%s'",
			 ca_file ? ca_file : "the default store");
		ssl_fail(err, what);
		goto fail;
	}
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		ssl_fail(err, "unable to make a TLS session");
		goto fail;
	}
	if (servername && *servername) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		if (ip_literal(servername)) {
			X509_VERIFY_PARAM_set1_ip_asc(vp, servername);
		} else {
			SSL_set_tlsext_host_name(ssl, servername);
			X509_VERIFY_PARAM_set1_host(vp, servername, 0);
		}
	}
	for (;;) {
		int r = SSL_connect(ssl), e, left;
		struct pollfd p = { .fd = fd };

		if (r == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			char reason[256];

			x509_ssl_error(reason, sizeof(reason));
			if (reason[0])
				cl_error_set(err, CL_EXIT_USAGE, "TLS handshake failed: %s",
					     reason);
			else
				cl_error_errno(err, CL_EXIT_USAGE, errno ? errno : ECONNRESET,
					       "TLS handshake failed");
			goto fail;
		}
		left = (int)((deadline - mono_now()) * 1000);
		p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (left <= 0 || poll(&p, 1, left) == 0) {
			cl_error_errno(err, CL_EXIT_USAGE, ETIMEDOUT, "TLS handshake timed out");
			goto fail;
		}
	}
	peer_facts(ssl, peer);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ssl;
fail:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

struct ssl_st *x509_tls_client(int fd, const char *servername, const char *ca_file, double deadline,
			       struct x509_peer *peer, struct cl_error *err)
{
	return tls_client(fd, servername, ca_file, !ca_file, deadline, peer, err);
}

/* ---- the http probe's TLS client ------------------------------------------------- */

struct probe_session {
	SSL *ssl;
	int fd;
};

static void *probe_handshake(int fd, const char *sni, bool verify, double deadline,
			     struct cl_error *err)
{
	char state[512], lab_ca[700];
	struct probe_session *s;
	struct x509_peer peer;
	struct cl_error e;
	SSL *ssl;

	lab_ca[0] = '\0';
	if (!state_dir(state, sizeof(state), false, &e)) {
		snprintf(lab_ca, sizeof(lab_ca), "%s/" LAB_TLS_DIR "/" LAB_TLS_CA_CERT, state);
		if (access(lab_ca, R_OK))
			lab_ca[0] = '\0';
	}
	ssl = tls_client(fd, sni, lab_ca[0] ? lab_ca : NULL, true, deadline, &peer, err);
	if (!ssl)
		return NULL;
	if (verify && peer.verify_code != X509_V_OK) {
		cl_error_set(err, CL_EXIT_USAGE, "TLS certificate verify failed: %s",
			     peer.verify_error);
		err->errnum = EPROTO;
		SSL_free(ssl);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		SSL_free(ssl);
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	s->ssl = ssl;
	s->fd = fd;
	return s;
}

/* Wait until the TLS layer can go on (ret from SSL_read/SSL_write): 0, or -1
 * with err at the deadline or on an error. */
static int probe_wait(struct probe_session *s, int ret, double deadline, const char *what,
		      struct cl_error *err)
{
	int e = SSL_get_error(s->ssl, ret), left;
	struct pollfd p = { .fd = s->fd };
	char reason[256];

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		x509_ssl_error(reason, sizeof(reason));
		if (reason[0])
			return cl_error_set(err, CL_EXIT_USAGE, "TLS %s failed: %s", what, reason);
		return cl_error_errno(err, CL_EXIT_USAGE, errno ? errno : ECONNRESET,
				      "TLS %s failed", what);
	}
	p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	left = (int)((deadline - mono_now()) * 1000);
	if (left <= 0 || poll(&p, 1, left) == 0)
		return cl_error_errno(err, CL_EXIT_USAGE, ETIMEDOUT, "TLS %s timed out", what);
	return 0;
}

static ssize_t probe_read(void *session, void *buf, size_t len, double deadline,
			  struct cl_error *err)
{
	struct probe_session *s = session;

	for (;;) {
		int r = SSL_read(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);

		if (r > 0)
			return r;
		if (SSL_get_error(s->ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0;
		/* A peer that closes without close_notify ends the stream too. */
		if (SSL_get_error(s->ssl, r) == SSL_ERROR_SYSCALL && errno == 0) {
			ERR_clear_error();
			return 0;
		}
		if (probe_wait(s, r, deadline, "read", err))
			return -1;
	}
}

static ssize_t probe_write(void *session, const void *buf, size_t len, double deadline,
			   struct cl_error *err)
{
	struct probe_session *s = session;

	for (;;) {
		int r = SSL_write(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);

		if (r > 0)
			return r;
		if (probe_wait(s, r, deadline, "write", err))
			return -1;
	}
}

static void probe_close(void *session)
{
	struct probe_session *s = session;

	if (!s)
		return;
	SSL_shutdown(s->ssl);
	SSL_free(s->ssl);
	ERR_clear_error();
	free(s);
}

const struct probe_tls_ops x509_probe_tls = {
	.handshake = probe_handshake,
	.read = probe_read,
	.write = probe_write,
	.close = probe_close,
};
