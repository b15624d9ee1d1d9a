/* expired-cert: serve a bad certificate from the lab TLS service.
 *
 * Replaces STATE/lab/tls/server.crt and server.key (see
 * harness/lab/tls-service.c) with a fresh key and a certificate made with
 * OpenSSL's X509 API, then sends the service SIGHUP, which reloads them as
 * nginx would. Modes:
 *   expired           from the lab CA, notAfter `days` ago
 *   not_yet_valid     from the lab CA, notBefore `days` ahead
 *   hostname_mismatch from the lab CA, but for `name` only (CN and SAN), not
 *                     api.lab.test: a certificate of another site deployed
 *   unknown_ca        self-signed for api.lab.test: no CA vouches for it
 *   expiring_soon     from the lab CA and valid, with `days` left: the
 *                     alerting drill (renew before it expires)
 *
 * Undo data: {"dir", "cert" and "key" (the original files, hex), "wrote_cert"
 * and "wrote_key" (sha256 of what was written), "service" (the lab tls
 * service's owner tag, to signal it)}, journaled before the files change.
 * Revert puts the originals back (and signals the service) only when both
 * files still hold exactly what was written; a certificate rotated since
 * (the engineer's fix) is left as it is. A half left by a crash between
 * the two writes (of apply or of an earlier revert) gets its original back,
 * and the temporary file of a write cut short is removed. */
#include <errno.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "core/undo_bytes.h"
#include "sys/proc.h"
#include "sys/tmpfile.h"
#include "sys/worker.h"
#include "sys/x509.h"

#define DAY 86400
#define RELOAD_WAIT_MS 300

static const char *const modes[] = {
	"expired", "not_yet_valid", "hostname_mismatch", "unknown_ca", "expiring_soon", NULL,
};

static const struct param_spec expired_cert_params[] = {
	{ "mode", PARAM_ENUM, true, NULL, 0, 0, modes,
	  "what is wrong with the certificate served: expired, not_yet_valid, hostname_mismatch, "
	  "unknown_ca (self-signed), expiring_soon" },
	{ "days", PARAM_INT, false, NULL, 1, 3650, NULL,
	  "expired: expired this many days ago; not_yet_valid: valid from this many days ahead; "
	  "expiring_soon: days left (default 7)" },
	{ "name", PARAM_STRING, false, NULL, 0, 253, NULL,
	  "hostname_mismatch: the only name the certificate carries (default www.lab.test)" },
	{ NULL },
};

static int expired_cert_validate(const struct params *p, char *msg, size_t size)
{
	const char *mode = params_str(p, "mode", "");
	const struct param_value *days = params_get(p, "days"), *name = params_get(p, "name");

	if (name->given && strcmp(mode, "hostname_mismatch")) {
		snprintf(msg, size, "name applies to mode hostname_mismatch only");
		return -1;
	}
	if (days->given && (!strcmp(mode, "hostname_mismatch") || !strcmp(mode, "unknown_ca"))) {
		snprintf(msg, size, "days applies to expired, not_yet_valid and expiring_soon");
		return -1;
	}
	if (!strcasecmp(params_str(p, "name", "www.lab.test"), LAB_TLS_NAME)) {
		snprintf(msg, size, "name must differ from %s, the name the service is reached by",
			 LAB_TLS_NAME);
		return -1;
	}
	return 0;
}

static int expired_cert_supported(const struct params *p, char *why, size_t size)
{
	return 0; /* files in the state directory and a signal to our own worker */
}

static const char *undo_get_str(const cJSON *undo, const char *key)
{
	const cJSON *v = undo ? cJSON_GetObjectItemCaseSensitive(undo, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int undo_str(cJSON *undo, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	return cJSON_AddStringToObject(undo, key, val) ? 0 : -1;
}

/* SIGHUP every process carrying the owner tag (the lab tls service): through
 * a pidfd opened before the tag is checked again, so a recycled pid is never
 * hit. Returns how many were signalled. */
static int signal_service(const char *owner)
{
	pid_t pids[8];
	size_t n = worker_find_owned(owner, pids, 8);
	int sent = 0;

	for (size_t i = 0; i < n && i < 8; i++) {
		char tag[200];
		int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);

		if (fd < 0)
			continue;
		if (!proc_environ_get(pids[i], "CHAOSLAB_OWNER", tag, sizeof(tag)) &&
		    !strcmp(tag, owner) && syscall(SYS_pidfd_send_signal, fd, SIGHUP, NULL, 0) == 0)
			sent++;
		close(fd);
	}
	return sent;
}

/* Load the lab CA from dir. */
static int ca_load(const char *dir, X509 **ca, EVP_PKEY **key, struct cl_error *err)
{
	char path[700], *pem;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, LAB_TLS_CA_CERT);
	pem = x509_file_read(path, &len, err);
	*ca = pem ? x509_cert_from_pem(pem, len, err) : NULL;
	free(pem);
	if (!*ca)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, LAB_TLS_CA_KEY);
	pem = x509_file_read(path, &len, err);
	*key = pem ? x509_key_from_pem(pem, len, err) : NULL;
	free(pem);
	return *key ? 0 : -1;
}

/* The bad certificate for the step's mode, with a new key, as PEM. */
static int make_bad(const struct params *p, const char *dir, char **cert_pem, char **key_pem,
		    struct cl_error *err)
{
	const char *mode = params_str(p, "mode", "");
	const long days = (long)params_int(p, "days", 7);
	time_t now = time(NULL);
	struct x509_spec spec = { .cn = LAB_TLS_NAME,
				  .dns = { LAB_TLS_NAME },
				  .not_before = now - 3600,
				  .not_after = now + 90L * DAY };
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	bool self = !strcmp(mode, "unknown_ca");
	int rc = -1;

	if (!strcmp(mode, "expired")) {
		spec.not_before = now - (days + 90) * DAY;
		spec.not_after = now - days * DAY;
	} else if (!strcmp(mode, "not_yet_valid")) {
		spec.not_before = now + days * DAY;
		spec.not_after = now + (days + 90) * DAY;
	} else if (!strcmp(mode, "expiring_soon")) {
		/* Issued long ago, as a certificate near its end would be. */
		spec.not_before = now - (90 - (days < 90 ? days : 89)) * DAY;
		spec.not_after = now + days * DAY + 3600;
	} else if (!strcmp(mode, "hostname_mismatch")) {
		spec.cn = params_str(p, "name", "www.lab.test");
		spec.dns[0] = spec.cn;
	}
	if (!self && ca_load(dir, &ca, &ca_key, err)) {
		cl_error_prefix(err, "the lab CA");
		goto out;
	}
	key = x509_key_new(err);
	cert = key ? x509_make(&spec, key, ca, ca_key, err) : NULL;
	if (!cert)
		goto out;
	*cert_pem = x509_cert_pem(cert, err);
	*key_pem = *cert_pem ? x509_key_pem(key, err) : NULL;
	if (!*key_pem) {
		free(*cert_pem);
		*cert_pem = NULL;
		goto out;
	}
	rc = 0;
out:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return rc;
}

static int expired_cert_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	char dir[600], cpath[700], kpath[700], owner[200], sum[65];
	char *orig_cert = NULL, *orig_key = NULL, *hc = NULL, *hk = NULL;
	char *bad_cert = NULL, *bad_key = NULL;
	size_t clen = 0, klen = 0;
	pid_t pid;
	int rc = -1;

	worker_owner_tag(owner, sizeof(owner), ctx->run_id, "lab-tls");
	if (!worker_find_owned(owner, &pid, 1))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "expired-cert: needs the lab TLS service: list tls under the "
				    "scenario's lab:");
	snprintf(dir, sizeof(dir), "%s/" LAB_TLS_DIR, ctx->state_dir);
	snprintf(cpath, sizeof(cpath), "%s/%s", dir, LAB_TLS_CERT);
	snprintf(kpath, sizeof(kpath), "%s/%s", dir, LAB_TLS_KEY);
	orig_cert = x509_file_read(cpath, &clen, err);
	orig_key = orig_cert ? x509_file_read(kpath, &klen, err) : NULL;
	if (!orig_key)
		goto fail;
	if (make_bad(ctx->params, dir, &bad_cert, &bad_key, err))
		goto fail;
	hc = undo_bytes_encode(orig_cert, clen);
	hk = undo_bytes_encode(orig_key, klen);
	if (!hc || !hk || undo_str(ctx->undo, "dir", dir) || undo_str(ctx->undo, "cert", hc) ||
	    undo_str(ctx->undo, "key", hk) || undo_str(ctx->undo, "service", owner)) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto fail;
	}
	undo_bytes_sha256(bad_cert, strlen(bad_cert), sum);
	undo_str(ctx->undo, "wrote_cert", sum);
	undo_bytes_sha256(bad_key, strlen(bad_key), sum);
	undo_str(ctx->undo, "wrote_key", sum);
	/* The originals are on disk in the journal before either file changes. */
	if (inject_ctx_save(ctx, err))
		goto out;
	/* The key first: then the certificate that goes with it. The service
	 * only reads them on SIGHUP, after both are in place. */
	if (x509_file_write(kpath, bad_key, strlen(bad_key), 0600, err) ||
	    x509_file_write(cpath, bad_cert, strlen(bad_cert), 0644, err))
		goto fail;
	if (!signal_service(owner)) {
		cl_error_set(err, CL_EXIT_USAGE, "expired-cert: the lab tls service is gone");
		goto out;
	}
	/* The reload is one poll round away; let it land before the symptom
	 * is checked. */
	usleep(RELOAD_WAIT_MS * 1000);
	rc = 0;
	goto out;
fail:
	cl_error_prefix(err, "expired-cert");
out:
	free(orig_cert);
	free(orig_key);
	free(hc);
	free(hk);
	free(bad_cert);
	free(bad_key);
	return rc;
}

/* True if path holds data whose sha256 is want. */
static bool holds(const char *path, const char *want)
{
	struct cl_error e;
	size_t len;
	char *now = x509_file_read(path, &len, &e), sum[65];

	if (!now)
		return false;
	undo_bytes_sha256(now, len, sum);
	free(now);
	return want && !strcmp(sum, want);
}

static int expired_cert_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const char *dir = undo_get_str(ctx->undo, "dir");
	const char *hc = undo_get_str(ctx->undo, "cert"), *hk = undo_get_str(ctx->undo, "key");
	const char *owner = undo_get_str(ctx->undo, "service");
	char cpath[700], kpath[700], *cert = NULL, *key = NULL, orig_c[65], orig_k[65];
	bool c_ours, k_ours, c_orig, k_orig;
	size_t clen, klen;
	int rc = -1;

	ctx->report[0] = '\0';
	if (!dir || !hc || !hk)
		return 0; /* the bare intent: nothing was changed */
	snprintf(cpath, sizeof(cpath), "%s/%s", dir, LAB_TLS_CERT);
	snprintf(kpath, sizeof(kpath), "%s/%s", dir, LAB_TLS_KEY);
	tmpfile_sweep_path(cpath);
	tmpfile_sweep_path(kpath);
	cert = undo_bytes_decode(hc, &clen);
	key = undo_bytes_decode(hk, &klen);
	if (!cert || !key) {
		cl_error_set(err, CL_EXIT_REVERT,
			     "expired-cert: the journal holds no readable original certificate");
		goto out;
	}
	/* Each file is ours (holds what was written), the original, or
	 * somebody else's. Anything else's (a rotated pair, a certificate
	 * issued for our key): both are left alone, a half is never made.
	 * Otherwise every file of ours gets its original back: both, or the
	 * one a crash between two writes left (apply writes the key, then
	 * the certificate; revert the same). */
	undo_bytes_sha256(cert, clen, orig_c);
	undo_bytes_sha256(key, klen, orig_k);
	c_ours = holds(cpath, undo_get_str(ctx->undo, "wrote_cert"));
	k_ours = holds(kpath, undo_get_str(ctx->undo, "wrote_key"));
	c_orig = holds(cpath, orig_c);
	k_orig = holds(kpath, orig_k);
	if ((!c_ours && !c_orig) || (!k_ours && !k_orig)) {
		snprintf(ctx->report, sizeof(ctx->report),
			 "left %s/%s alone: replaced since chaoslab wrote it (rotated)", dir,
			 !c_ours && !c_orig ? LAB_TLS_CERT : LAB_TLS_KEY);
		rc = 0;
		goto out;
	}
	if (!c_ours && !k_ours) {
		rc = 0; /* the original pair: never written, or put back already */
		goto out;
	}
	if ((k_ours && x509_file_write(kpath, key, klen, 0600, err)) ||
	    (c_ours && x509_file_write(cpath, cert, clen, 0644, err))) {
		err->code = CL_EXIT_REVERT;
		cl_error_prefix(err, "expired-cert: restoring the original certificate");
		goto out;
	}
	if (!c_ours)
		snprintf(ctx->report, sizeof(ctx->report),
			 "restored the original key (the certificate was not replaced yet)");
	else if (!k_ours)
		snprintf(ctx->report, sizeof(ctx->report),
			 "restored the original certificate (its key was back already)");
	else if (owner && signal_service(owner))
		snprintf(ctx->report, sizeof(ctx->report),
			 "restored the original certificate and reloaded the tls service");
	else
		snprintf(ctx->report, sizeof(ctx->report), "restored the original certificate");
	if ((!c_ours || !k_ours) && owner)
		signal_service(owner);
	rc = 0;
out:
	free(cert);
	free(key);
	return rc;
}

/* The certificate is the lab TLS service's. */
static const char *expired_cert_lab_needs(const struct params *p)
{
	(void)p;
	return "tls";
}

const struct injector expired_cert_injector = {
	.name = "expired-cert",
	.summary = "serve a bad certificate from the lab TLS service: expired, not yet valid, "
		   "for another name, self-signed, or expiring soon",
	.params = expired_cert_params,
	.supported = expired_cert_supported,
	.validate = expired_cert_validate,
	.lab_needs = expired_cert_lab_needs,
	.apply = expired_cert_apply,
	.revert = expired_cert_revert,
};
