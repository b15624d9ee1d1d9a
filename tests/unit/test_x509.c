/* Tests of the X.509 helpers (harness/sys/x509.c): a CA and leaves made
 * with chosen dates, names and issuers, checked by OpenSSL's own verifier
 * and by the `openssl` command line (`openssl verify`, `openssl x509`),
 * nobody's code but OpenSSL's; PEM round trips; the facts read back;
 * hostname matching; the crash-safe file write (mode, no temporary left). */
#include <errno.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/x509.h"

#define DAY 86400

static char dir[256];

struct pki {
	EVP_PKEY *ca_key, *key;
	X509 *ca, *leaf;
};

static X509 *make(const char *cn, const char *dns, const char *ip, long from_days, long to_days,
		  bool ca, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	time_t now = time(NULL);
	struct x509_spec spec = { .cn = cn,
				  .ca = ca,
				  .not_before = now + from_days * DAY,
				  .not_after = now + to_days * DAY };
	struct cl_error err;
	X509 *x;

	spec.dns[0] = dns;
	spec.ips[0] = ip;
	x = x509_make(&spec, key, issuer, issuer_key, &err);
	if (!x)
		fail_msg("x509_make: %s", err.msg);
	return x;
}

static void pki_make(struct pki *p, long from_days, long to_days, const char *dns)
{
	struct cl_error err;

	p->ca_key = x509_key_new(&err);
	p->key = x509_key_new(&err);
	assert_non_null(p->ca_key);
	assert_non_null(p->key);
	p->ca = make("test CA", NULL, NULL, -1, 3650, true, p->ca_key, NULL, NULL);
	p->leaf = make(dns, dns, "127.0.0.1", from_days, to_days, false, p->key, p->ca, p->ca_key);
}

static void pki_free(struct pki *p)
{
	X509_free(p->ca);
	X509_free(p->leaf);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->key);
}

/* OpenSSL's verdict on leaf under ca for host at time now. */
static int verify(X509 *ca, X509 *leaf, const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	X509_STORE_add_cert(store, ca);
	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	if (host)
		X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
	X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx), X509_PURPOSE_SSL_SERVER);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static void test_ca_and_leaf_verify(void **state)
{
	struct pki p;
	struct x509_facts f;
	struct cl_error err;

	pki_make(&p, -1, 90, "api.lab.test");
	assert_int_equal(verify(p.ca, p.leaf, "api.lab.test"), X509_V_OK);
	assert_int_equal(verify(p.ca, p.leaf, "www.lab.test"), X509_V_ERR_HOSTNAME_MISMATCH);

	assert_int_equal(x509_facts_of(p.ca, &f, &err), 0);
	assert_string_equal(f.subject, "CN=test CA");
	assert_true(f.ca);
	assert_true(f.self_signed);

	assert_int_equal(x509_facts_of(p.leaf, &f, &err), 0);
	assert_string_equal(f.subject, "CN=api.lab.test");
	assert_string_equal(f.issuer, "CN=test CA");
	assert_string_equal(f.sans, "DNS:api.lab.test, IP:127.0.0.1");
	assert_false(f.ca);
	assert_false(f.self_signed);
	assert_int_equal(strlen(f.serial), 32);
	assert_in_range(x509_days_left(&f, time(NULL)), 89, 90);
	assert_true(x509_matches_host(p.leaf, "api.lab.test"));
	assert_true(x509_matches_host(p.leaf, "API.lab.test"));
	assert_true(x509_matches_host(p.leaf, "127.0.0.1"));
	assert_false(x509_matches_host(p.leaf, "127.0.0.2"));
	assert_false(x509_matches_host(p.leaf, "lab.test"));
	pki_free(&p);
}

static void test_dates(void **state)
{
	struct pki p;
	struct x509_facts f;
	struct cl_error err;
	time_t now = time(NULL);

	/* Expired three days ago. */
	pki_make(&p, -93, -3, "api.lab.test");
	assert_int_equal(verify(p.ca, p.leaf, "api.lab.test"), X509_V_ERR_CERT_HAS_EXPIRED);
	assert_int_equal(x509_facts_of(p.leaf, &f, &err), 0);
	assert_int_equal(x509_days_left(&f, now), -3);
	assert_true(f.not_after < now && f.not_after > now - 4 * DAY);
	pki_free(&p);

	/* Valid from five days ahead. */
	pki_make(&p, 5, 95, "api.lab.test");
	assert_int_equal(verify(p.ca, p.leaf, "api.lab.test"), X509_V_ERR_CERT_NOT_YET_VALID);
	pki_free(&p);

	/* Beyond 2049: GeneralizedTime, read back right. */
	pki_make(&p, -1, 365 * 40, "api.lab.test");
	assert_int_equal(x509_facts_of(p.leaf, &f, &err), 0);
	assert_true(x509_days_left(&f, now) >= 365 * 40 - 1);
	pki_free(&p);
}

static void test_self_signed_leaf(void **state)
{
	struct pki p;
	struct x509_facts f;
	struct cl_error err;
	X509 *self;

	pki_make(&p, -1, 90, "api.lab.test");
	self = make("api.lab.test", "api.lab.test", NULL, -1, 90, false, p.key, NULL, NULL);
	assert_int_equal(verify(p.ca, self, "api.lab.test"),
			 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	assert_int_equal(x509_facts_of(self, &f, &err), 0);
	assert_true(f.self_signed);
	assert_false(f.ca);
	assert_string_equal(f.issuer, "CN=api.lab.test");
	X509_free(self);
	pki_free(&p);
}

static void test_pem_roundtrip(void **state)
{
	struct pki p;
	struct cl_error err;
	char *cpem, *kpem;
	X509 *back;
	EVP_PKEY *kback;

	pki_make(&p, -1, 90, "api.lab.test");
	cpem = x509_cert_pem(p.leaf, &err);
	kpem = x509_key_pem(p.key, &err);
	assert_non_null(cpem);
	assert_non_null(kpem);
	assert_non_null(strstr(cpem, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(kpem, "-----BEGIN PRIVATE KEY-----"));
	back = x509_cert_from_pem(cpem, strlen(cpem), &err);
	kback = x509_key_from_pem(kpem, strlen(kpem), &err);
	assert_non_null(back);
	assert_non_null(kback);
	assert_int_equal(X509_cmp(back, p.leaf), 0);
	assert_int_equal(X509_check_private_key(back, kback), 1);
	assert_null(x509_cert_from_pem("garbage", 7, &err));
	assert_non_null(strstr(err.msg, "no PEM certificate"));
	assert_null(x509_key_from_pem(cpem, strlen(cpem), &err));
	X509_free(back);
	EVP_PKEY_free(kback);
	free(cpem);
	free(kpem);
	pki_free(&p);
}

static void test_make_refuses(void **state)
{
	struct x509_spec spec = { .cn = "", .not_before = 0, .not_after = 1 };
	struct cl_error err;
	EVP_PKEY *key = x509_key_new(&err);

	assert_null(x509_make(&spec, key, NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "common name"));
	spec.cn = "x";
	spec.dns[0] = "bad name with spaces,and,commas";
	assert_null(x509_make(&spec, key, NULL, NULL, &err));
	EVP_PKEY_free(key);
}

/* Run a command, its output into out; returns the exit status. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	return WEXITSTATUS(pclose(f));
}

static void test_files_and_openssl_cli(void **state)
{
	struct pki p;
	struct cl_error err;
	char path[512], cmd[1200], out[2048], *pem;
	struct stat st;

	if (system("command -v openssl >/dev/null 2>&1")) {
		skip();
		return;
	}
	pki_make(&p, -1, 90, "api.lab.test");
	pem = x509_cert_pem(p.ca, &err);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	assert_int_equal(x509_file_write(path, pem, strlen(pem), 0644, &err), 0);
	free(pem);
	pem = x509_cert_pem(p.leaf, &err);
	snprintf(path, sizeof(path), "%s/server.crt", dir);
	assert_int_equal(x509_file_write(path, pem, strlen(pem), 0644, &err), 0);
	free(pem);
	pem = x509_key_pem(p.key, &err);
	snprintf(path, sizeof(path), "%s/server.key", dir);
	umask(0);
	assert_int_equal(x509_file_write(path, pem, strlen(pem), 0600, &err), 0);
	umask(022);
	free(pem);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	snprintf(
		cmd, sizeof(cmd),
		"openssl verify -CAfile %s/ca.crt -verify_hostname api.lab.test %s/server.crt 2>&1",
		dir, dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "server.crt: OK"));
	snprintf(
		cmd, sizeof(cmd),
		"openssl verify -CAfile %s/ca.crt -verify_hostname www.lab.test %s/server.crt 2>&1",
		dir, dir);
	assert_int_not_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "hostname mismatch"));
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/server.crt -noout -text 2>&1", dir);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "DNS:api.lab.test, IP Address:127.0.0.1"));
	assert_non_null(strstr(out, "TLS Web Server Authentication"));
	assert_non_null(strstr(out, "CA:FALSE"));
	assert_non_null(strstr(out, "Issuer: CN = test CA"));
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/server.crt -noout -checkend %d 2>&1", dir,
		 80 * DAY);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/server.crt -noout -checkend %d 2>&1", dir,
		 95 * DAY);
	assert_int_equal(run(cmd, out, sizeof(out)), 1);
	snprintf(cmd, sizeof(cmd),
		 "openssl pkey -in %s/server.key -pubout | cmp -s - <(openssl x509 -in "
		 "%s/server.crt -noout -pubkey) && echo same",
		 dir, dir);
	{
		char bash[1400];

		snprintf(bash, sizeof(bash), "bash -c '%s'", cmd);
		assert_int_equal(run(bash, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "same"));
	}
	/* The file read back; no temporary left behind. */
	{
		size_t len;
		char *back = x509_file_read(path, &len, &err);

		assert_non_null(back);
		assert_int_equal(strlen(back), len);
		free(back);
		snprintf(cmd, sizeof(cmd), "ls %s | grep -c tmp", dir);
		run(cmd, out, sizeof(out));
		assert_string_equal(out, "0\n");
	}
	snprintf(path, sizeof(path), "%s/nonexistent/x", dir);
	assert_int_equal(x509_file_write(path, "x", 1, 0644, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_null(x509_file_read(path, NULL, &err));
	pki_free(&p);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_x509.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_and_leaf_verify),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_self_signed_leaf),
		cmocka_unit_test(test_pem_roundtrip),
		cmocka_unit_test(test_make_refuses),
		cmocka_unit_test(test_files_and_openssl_cli),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
