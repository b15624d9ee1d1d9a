/* X.509 with OpenSSL 3: the lab CA, leaf certificates with chosen validity,
 * names and issuer, PEM files written crash-safe, and the facts of a
 * certificate (subject, issuer, validity, SANs) read back.
 *
 * Keys are ECDSA P-256 (quick to make, accepted by every client). A CA made
 * here is a self-signed certificate with basicConstraints CA:TRUE
 * (critical), keyUsage keyCertSign + cRLSign and a subject key identifier;
 * a leaf has CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
 * serverAuth, its subjectAltName entries (DNS names and IP addresses) and
 * the authority key identifier of its issuer: what `openssl verify` and
 * curl expect of a server certificate.
 *
 * Ownership: functions returning EVP_PKEY * or X509 * give the caller a
 * reference to free with EVP_PKEY_free() / X509_free(). Errors fill a
 * struct cl_error with OpenSSL's own reason appended. */
#ifndef CHAOSLAB_X509_H
#define CHAOSLAB_X509_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"

#define X509_SAN_MAX 8

/* The lab's TLS files, under the state directory: the lab CA the harness
 * creates (once, kept across drills so a client can trust it), and the
 * certificate and key the lab TLS service serves (and reloads on SIGHUP). */
#define LAB_TLS_DIR "lab/tls"
#define LAB_TLS_CA_CERT "ca.crt"
#define LAB_TLS_CA_KEY "ca.key"
#define LAB_TLS_CERT "server.crt"
#define LAB_TLS_KEY "server.key"
#define LAB_TLS_NAME "api.lab.test" /* the name the service is reached by */
#define LAB_TLS_CA_CN "chaoslab lab CA"

/* A new ECDSA P-256 key, or NULL with err. */
EVP_PKEY *x509_key_new(struct cl_error *err);

/* What a certificate to make says. */
struct x509_spec {
	const char *cn;			   /* subject commonName */
	const char *dns[X509_SAN_MAX + 1]; /* SAN DNS names, NULL-terminated */
	const char *ips[X509_SAN_MAX + 1]; /* SAN IP addresses (v4 or v6), ditto */
	time_t not_before, not_after;
	bool ca; /* a CA certificate (else a server leaf) */
};

/* Make a certificate for spec with public key key, signed by issuer_key
 * under issuer's name (both NULL: self-signed with key). A random 128-bit
 * serial. Returns the certificate or NULL with err. */
X509 *x509_make(const struct x509_spec *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
		struct cl_error *err);

/* PEM text of a certificate / an unencrypted PKCS#8 private key into a
 * malloc'd NUL-terminated string the caller frees; NULL with err. */
char *x509_cert_pem(X509 *cert, struct cl_error *err);
char *x509_key_pem(EVP_PKEY *key, struct cl_error *err);

/* The first certificate / the private key in PEM text; NULL with err. */
X509 *x509_cert_from_pem(const char *pem, size_t len, struct cl_error *err);
EVP_PKEY *x509_key_from_pem(const char *pem, size_t len, struct cl_error *err);

/* Read a whole (small, at most 1 MiB) file into a malloc'd NUL-terminated
 * buffer; *len (may be NULL) gets its length. NULL with err (errnum ENOENT
 * when missing). */
char *x509_file_read(const char *path, size_t *len, struct cl_error *err);

/* Write data to path crash-safe: a temporary file in the same directory,
 * fsync'd, renamed over path, the directory fsync'd. mode applies to the new
 * file (0600 for keys). On failure the temporary file is removed and path is
 * untouched. */
int x509_file_write(const char *path, const char *data, size_t len, mode_t mode,
		    struct cl_error *err);

/* The facts of a certificate a human checks. */
struct x509_facts {
	char subject[256]; /* one line, RFC 2253 ("CN=api.lab.test") */
	char issuer[256];
	char sans[512];	 /* "DNS:api.lab.test, IP:127.0.0.1" or "" */
	char serial[80]; /* hex */
	time_t not_before, not_after;
	bool self_signed; /* issuer name = subject name and its own key verifies it */
	bool ca;	  /* basicConstraints CA:TRUE */
};

/* Fill f from cert. 0, or -1 with err. */
int x509_facts_of(X509 *cert, struct x509_facts *f, struct cl_error *err);

/* Whole days from now until the certificate's notAfter, rounded down
 * (negative once expired). */
long x509_days_left(const struct x509_facts *f, time_t now);

/* True if cert carries hostname (a SAN DNS name, wildcard rules of RFC 6125,
 * or a SAN IP address when hostname is an IP literal). */
bool x509_matches_host(X509 *cert, const char *hostname);

/* ---- a TLS client ------------------------------------------------------------ */

struct ssl_st;

/* What a TLS client saw of a server, as `openssl s_client` reports it. */
struct x509_peer {
	long verify_code;	/* X509_V_OK (0) when the chain, validity and name check out */
	char verify_error[128]; /* X509_verify_cert_error_string(): "certificate has expired" */
	bool have_leaf;
	struct x509_facts leaf;
	int chain_len;	   /* certificates the server sent */
	char chain[512];   /* their subjects, leaf first: "CN=a <- CN=b" */
	char protocol[16]; /* "TLSv1.3" */
};

/* Handshake as a TLS client over fd, a connected socket (made non-blocking
 * here), giving up at deadline (mono_now() seconds, errnum ETIMEDOUT).
 * servername is sent as SNI (unless an IP literal) and is the name the
 * certificate must carry (NULL: no name check). The chain is verified
 * against ca_file (PEM; NULL: the system's default trust store), and the
 * outcome recorded in peer; a certificate that does not verify does not
 * fail the handshake, so its facts can be read. Returns the session (free
 * with SSL_free(); the caller closes fd), or NULL with err when no
 * handshake completed (refused, reset, the server's alert, timeout). */
struct ssl_st *x509_tls_client(int fd, const char *servername, const char *ca_file, double deadline,
			       struct x509_peer *peer, struct cl_error *err);

/* The OpenSSL client for the http probe's https:// URLs (sys/probe.h):
 * install it with probe_set_tls(&x509_probe_tls). It trusts the system's
 * store and the lab CA (STATE/lab/tls/ca.crt, when there is one); with
 * verification on, a certificate that does not verify fails the handshake
 * with its verify error ("TLS certificate verify failed: certificate has
 * expired", errnum EPROTO). */
struct probe_tls_ops;
extern const struct probe_tls_ops x509_probe_tls;

/* The most recent OpenSSL error as text ("" if none), clearing the queue. */
const char *x509_ssl_error(char *buf, size_t size);

#endif
