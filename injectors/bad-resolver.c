/* bad-resolver: make name resolution fail, at the lab DNS server or in the
 * resolver configuration.
 *
 * Server modes (the lab service `dns` must run): servfail, nxdomain,
 * refused, timeout (no answer), slow (delay_ms), wrong_answer (address),
 * truncate (TC over UDP), each for a `probability` of the queries. The step
 * writes one rule file, STATE/lab/dns/rules.d/STEP.rule, which the server
 * reads within 100 ms (see harness/lab/dns-server.c); it is the lab's
 * stand-in for a bad change to a DNS server's configuration, and the
 * server's query.log names it beside every query it spoils.
 *
 * Client modes, in a resolv.conf: dead_resolver (the only nameserver is one
 * that never answers) and broken_first (a dead nameserver first, then the
 * good ones, with `options timeout:N attempts:1` and optionally `rotate`:
 * lookups stall and then succeed, the classic intermittent failure). The
 * file is the lab's, /etc/netns/LAB/resolv.conf, which every process of the
 * lab namespace sees as /etc/resolv.conf (`ip netns exec`); the host's own
 * /etc/resolv.conf only with allow_host_resolver: true. The dead nameserver
 * defaults to the lab subnet's network address (on a /30 nothing answers
 * there: queries time out), or 192.0.2.53 (TEST-NET-1) for the host.
 *
 * Undo data: server modes {"rule_file", "rule"} (the text written);
 * client modes {"path", "existed", "original" (hex), "mode", "uid", "gid",
 * "symlink" (its target, when the path was a symbolic link), "made_dirs",
 * "wrote" (sha256 of what was written)}, journaled before the change.
 * Revert removes or restores only what still holds exactly what was
 * written, byte for byte (a symbolic link as a symbolic link); anything
 * changed since (the engineer's fix) is left alone and said so. The
 * temporary file of a write a crash cut short (PATH.tmp.PID of a dead
 * process) is removed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/registry.h"
#include "core/undo_bytes.h"
#include "lab/network.h"
#include "sys/proc.h"
#include "sys/tmpfile.h"
#include "sys/worker.h"
#include "sys/x509.h"

#define RESOLV_MAX 65536
#define HOST_RESOLV "/etc/resolv.conf"
#define HOST_DEAD_NAMESERVER "192.0.2.53"

static const char *const modes[] = {
	"servfail",	"nxdomain", "refused",	     "timeout",	     "slow",
	"wrong_answer", "truncate", "dead_resolver", "broken_first", NULL,
};

static const struct param_spec bad_resolver_params[] = {
	{ "mode", PARAM_ENUM, true, NULL, 0, 0, modes,
	  "server faults at the lab DNS: servfail, nxdomain, refused, timeout, slow, "
	  "wrong_answer, truncate; resolver configuration: dead_resolver, broken_first" },
	{ "probability", PARAM_NUMBER, false, "1", 0, 1, NULL,
	  "server modes: the share of queries spoilt, 0..1 (0.3 = 30%, the rest answered right)" },
	{ "delay_ms", PARAM_INT, false, NULL, 1, 60000, NULL,
	  "slow: how long each answer waits (default 2000)" },
	{ "address", PARAM_STRING, false, NULL, 0, 45, NULL,
	  "wrong_answer: the IPv4 address A queries get instead of the right one (default "
	  "192.0.2.66, TEST-NET-1)" },
	{ "nameserver", PARAM_STRING, false, NULL, 0, 45, NULL,
	  "dead_resolver, broken_first: the nameserver that does not answer (default: the lab "
	  "subnet's network address; 192.0.2.53 for the host)" },
	{ "timeout_seconds", PARAM_INT, false, NULL, 1, 30, NULL,
	  "broken_first: resolv.conf `options timeout:N`, seconds a lookup waits per nameserver "
	  "(default 2)" },
	{ "rotate", PARAM_BOOL, false, NULL, 0, 0, NULL,
	  "broken_first: resolv.conf `options rotate`: only the lookups that start at the dead "
	  "nameserver stall (default false)" },
	{ "allow_host_resolver", PARAM_BOOL, false, "false", 0, 0, NULL,
	  "client modes: change the host's own /etc/resolv.conf instead of the lab's (journaled, "
	  "restored byte for byte)" },
	{ NULL },
};

static bool client_mode(const char *mode)
{
	return !strcmp(mode, "dead_resolver") || !strcmp(mode, "broken_first");
}

static int bad_resolver_validate(const struct params *p, char *msg, size_t size)
{
	const char *mode = params_str(p, "mode", "");
	const char *ns = params_str(p, "nameserver", NULL);
	unsigned char bin[16];
	static const struct {
		const char *param, *mode;
	} only[] = {
		{ "delay_ms", "slow" },
		{ "address", "wrong_answer" },
		{ "timeout_seconds", "broken_first" },
		{ "rotate", "broken_first" },
	};

	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		const struct param_value *v = params_get(p, only[i].param);

		if (v && v->given && strcmp(mode, only[i].mode)) {
			snprintf(msg, size, "%s applies to mode %s only", only[i].param,
				 only[i].mode);
			return -1;
		}
	}
	if (client_mode(mode) && params_get(p, "probability")->given) {
		snprintf(msg, size,
			 "probability applies to the server modes; %s holds for every lookup",
			 mode);
		return -1;
	}
	if (!client_mode(mode) && (ns || params_bool(p, "allow_host_resolver", false))) {
		snprintf(msg, size, "%s applies to dead_resolver and broken_first only",
			 ns ? "nameserver" : "allow_host_resolver");
		return -1;
	}
	if (!strcmp(mode, "wrong_answer") &&
	    inet_pton(AF_INET, params_str(p, "address", "192.0.2.66"), bin) != 1) {
		snprintf(msg, size, "address must be an IPv4 address");
		return -1;
	}
	if (ns && inet_pton(AF_INET, ns, bin) != 1 && inet_pton(AF_INET6, ns, bin) != 1) {
		snprintf(msg, size, "nameserver must be an IPv4 or IPv6 address");
		return -1;
	}
	return 0;
}

static int bad_resolver_supported(const struct params *p, char *why, size_t size)
{
	const char *mode = p ? params_str(p, "mode", "") : "";

	if (client_mode(mode) && geteuid() != 0) {
		snprintf(why, size, "%s writes %s: needs root", mode,
			 params_bool(p, "allow_host_resolver", false) ?
				 HOST_RESOLV :
				 "/etc/netns/LAB/resolv.conf");
		return -1;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------------------- */

/* Read a regular file (following symbolic links) into a malloc'd buffer.
 * NULL with errno (ENOENT when missing). */
static char *slurp(const char *path, size_t *len)
{
	struct cl_error e;
	char *buf = x509_file_read(path, len, &e);

	if (!buf)
		errno = e.errnum ? e.errnum : EINVAL;
	return buf;
}

/* Replace path's contents: a temporary file renamed over it (crash-safe);
 * where the path is a mount point (a bind-mounted resolv.conf, as container
 * runtimes do) rename is refused with EBUSY and the file is rewritten in
 * place instead. */
static int replace_file(const char *path, const char *data, size_t len, mode_t mode,
			struct cl_error *err)
{
	int fd;
	size_t off = 0;

	if (!x509_file_write(path, data, len, mode, err))
		return 0;
	if (err->errnum != EBUSY)
		return -1;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open '%s'", path);
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			close(fd);
			return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to write '%s'", path);
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		int e = errno;

		close(fd);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to write '%s'", path);
	}
	close(fd);
	return 0;
}

static int undo_str(cJSON *undo, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	return cJSON_AddStringToObject(undo, key, val) ? 0 : -1;
}

static int undo_num(cJSON *undo, const char *key, double val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	return cJSON_AddNumberToObject(undo, key, val) ? 0 : -1;
}

static const char *undo_get_str(const cJSON *undo, const char *key)
{
	const cJSON *v = undo ? cJSON_GetObjectItemCaseSensitive(undo, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- server modes -------------------------------------------------------------- */

static int server_apply(struct inject_ctx *ctx, const char *mode, struct cl_error *err)
{
	char owner[200], dir[700], path[800], rule[512], arg[64] = "";
	pid_t pid;

	/* The rule only does something if the lab DNS server runs. */
	worker_owner_tag(owner, sizeof(owner), ctx->run_id, "lab-dns");
	if (!worker_find_owned(owner, &pid, 1))
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"bad-resolver: mode %s needs the lab DNS server: list dns under "
			"the scenario's lab:",
			mode);
	if (!strcmp(mode, "slow"))
		snprintf(arg, sizeof(arg), " %lld", params_int(ctx->params, "delay_ms", 2000));
	else if (!strcmp(mode, "wrong_answer"))
		snprintf(arg, sizeof(arg), " %s", params_str(ctx->params, "address", "192.0.2.66"));
	snprintf(rule, sizeof(rule), "%s %.4f%s\n", mode,
		 params_number(ctx->params, "probability", 1), arg);
	snprintf(dir, sizeof(dir), "%s/lab/dns/rules.d", ctx->state_dir);
	snprintf(path, sizeof(path), "%s/%s.rule", dir, ctx->step_id);
	if (undo_str(ctx->undo, "rule_file", path) || undo_str(ctx->undo, "rule", rule))
		return cl_error_set(err, CL_EXIT_USAGE, "bad-resolver: out of memory");
	if (inject_ctx_save(ctx, err))
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return cl_error_errno(err, CL_EXIT_USAGE, errno,
				      "bad-resolver: unable to create '%s'", dir);
	if (x509_file_write(path, rule, strlen(rule), 0644, err)) {
		cl_error_prefix(err, "bad-resolver");
		return -1;
	}
	/* The server looks every 100 ms: the symptom check follows at once. */
	usleep(250000);
	return 0;
}

static int server_revert(struct revert_ctx *ctx, const char *path, struct cl_error *err)
{
	const char *rule = undo_get_str(ctx->undo, "rule");
	size_t len;
	char *now;

	tmpfile_sweep_path(path);
	now = slurp(path, &len);

	if (!now) {
		if (errno == ENOENT)
			return 0; /* never written, or removed already: the fix */
		return cl_error_errno(err, CL_EXIT_REVERT, errno,
				      "bad-resolver: unable to read '%s'", path);
	}
	if (!rule || len != strlen(rule) || memcmp(now, rule, len)) {
		snprintf(ctx->report, sizeof(ctx->report),
			 "left %s alone: changed since chaoslab wrote it", path);
		free(now);
		return 0;
	}
	free(now);
	if (unlink(path) < 0 && errno != ENOENT)
		return cl_error_errno(err, CL_EXIT_REVERT, errno,
				      "bad-resolver: unable to remove '%s'", path);
	snprintf(ctx->report, sizeof(ctx->report), "removed the DNS server rule %s", path);
	return 0;
}

/* ---- client modes -------------------------------------------------------------- */

/* The nameserver lines of resolv.conf text, and everything else but options,
 * into the two buffers. */
static void resolv_split(const char *text, char *ns, size_t nsize, char *rest, size_t rsize)
{
	const char *p = text;
	size_t no = 0, ro = 0;

	ns[0] = rest[0] = '\0';
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		bool is_ns = !strncmp(p, "nameserver", 10) && (p[10] == ' ' || p[10] == '\t');
		bool is_opt = !strncmp(p, "options", 7) && (p[7] == ' ' || p[7] == '\t');

		if (is_ns && no + l + 2 < nsize)
			no += (size_t)snprintf(ns + no, nsize - no, "%.*s\n", (int)l, p);
		else if (!is_ns && !is_opt && l && p[0] != '#' && p[0] != ';' && ro + l + 2 < rsize)
			ro += (size_t)snprintf(rest + ro, rsize - ro, "%.*s\n", (int)l, p);
		p = nl ? nl + 1 : NULL;
	}
}

/* The lab's namespace name and, if found, its lab address and prefix. */
static int lab_find(char *netns, size_t size, struct lab_net_info *info, struct cl_error *err)
{
	const char *name = lab_net_default_name();
	int st;

	snprintf(netns, size, "%s", name);
	if (lab_net_name_check(name, err))
		return -1;
	if (lab_net_ns_exists(name))
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"bad-resolver: no lab network '%s': list network under the "
			"scenario's lab: (or set allow_host_resolver to change the host's "
			"resolver)",
			name);
	st = lab_net_status(name, info, err);
	if (st != LAB_NET_UP)
		return st < 0 ? -1 :
				cl_error_set(err, CL_EXIT_USAGE,
					     "bad-resolver: the lab network '%s' is not up", name);
	return 0;
}

/* The resolv.conf to write. */
static int client_text(struct inject_ctx *ctx, const char *mode, const char *original,
		       const struct lab_net_info *lab, char *out, size_t size, struct cl_error *err)
{
	const char *dead = params_str(ctx->params, "nameserver", NULL);
	char dead_buf[INET_ADDRSTRLEN], ns[2048], rest[2048];
	size_t o;

	if (!dead && lab) {
		struct in_addr a;
		uint32_t mask = lab->prefix ? 0xffffffffu << (32 - lab->prefix) : 0;

		if (inet_pton(AF_INET, lab->lab_addr, &a) != 1)
			return cl_error_set(err, CL_EXIT_USAGE, "bad-resolver: no lab address");
		a.s_addr = htonl(ntohl(a.s_addr) & mask);
		inet_ntop(AF_INET, &a, dead_buf, sizeof(dead_buf));
		dead = dead_buf;
	} else if (!dead) {
		dead = HOST_DEAD_NAMESERVER;
	}
	resolv_split(original ? original : "", ns, sizeof(ns), rest, sizeof(rest));
	o = (size_t)snprintf(out, size, "%snameserver %s\n", rest, dead);
	if (!strcmp(mode, "broken_first")) {
		/* Then the good ones: what was there, else the lab DNS server. */
		if (ns[0])
			o += (size_t)snprintf(out + o, size - o, "%s", ns);
		else if (lab)
			o += (size_t)snprintf(out + o, size - o, "nameserver %s\n", lab->lab_addr);
		else
			return cl_error_set(err, CL_EXIT_USAGE,
					    "bad-resolver: broken_first needs a working nameserver "
					    "to put second, and %s has none",
					    HOST_RESOLV);
		o += (size_t)snprintf(out + o, size - o, "options timeout:%lld attempts:1%s\n",
				      params_int(ctx->params, "timeout_seconds", 2),
				      params_bool(ctx->params, "rotate", false) ? " rotate" : "");
	}
	if (o >= size)
		return cl_error_set(err, CL_EXIT_USAGE, "bad-resolver: resolv.conf too long");
	return 0;
}

static int client_apply(struct inject_ctx *ctx, const char *mode, struct cl_error *err)
{
	bool host = params_bool(ctx->params, "allow_host_resolver", false);
	char netns[LAB_NET_NAME_MAX + 1], dir[300], path[400], text[8192], sum[65];
	char link[PATH_MAX], *orig = NULL, *hex = NULL;
	struct lab_net_info lab;
	struct stat st;
	size_t olen = 0;
	cJSON *made = NULL;
	bool existed, is_link = false;
	int rc = -1;

	if (host) {
		snprintf(path, sizeof(path), "%s", HOST_RESOLV);
	} else {
		if (lab_find(netns, sizeof(netns), &lab, err))
			return -1;
		snprintf(dir, sizeof(dir), "%s/%s", LAB_NET_ETC_DIR, netns);
		snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	}
	existed = lstat(path, &st) == 0;
	if (!existed && errno != ENOENT)
		return cl_error_errno(err, CL_EXIT_USAGE, errno,
				      "bad-resolver: unable to stat '%s'", path);
	if (existed && S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		if (n < 0)
			return cl_error_errno(err, CL_EXIT_USAGE, errno,
					      "bad-resolver: unable to read the link '%s'", path);
		link[n] = '\0';
		is_link = true;
	} else if (existed && !S_ISREG(st.st_mode)) {
		return cl_error_set(err, CL_EXIT_USAGE, "bad-resolver: '%s' is not a regular file",
				    path);
	}
	if (existed) {
		struct stat tst;

		orig = slurp(path, &olen);
		/* A dangling link reads as nothing: restore the link itself. */
		if (!orig && !(is_link && errno == ENOENT))
			return cl_error_errno(err, CL_EXIT_USAGE, errno,
					      "bad-resolver: unable to read '%s'", path);
		if (olen > RESOLV_MAX) {
			free(orig);
			return cl_error_set(err, CL_EXIT_USAGE, "bad-resolver: '%s' is too large",
					    path);
		}
		if (is_link && !stat(path, &tst))
			st = tst;
	}
	if (client_text(ctx, mode, orig, host ? NULL : &lab, text, sizeof(text), err))
		goto out;
	undo_bytes_sha256(text, strlen(text), sum);
	hex = undo_bytes_encode(orig ? orig : "", orig ? olen : 0);
	made = cJSON_CreateArray();
	if (!hex || !made || undo_str(ctx->undo, "path", path) ||
	    undo_str(ctx->undo, "original", hex) ||
	    undo_num(ctx->undo, "mode", existed ? (double)(st.st_mode & 07777) : 0644) ||
	    undo_num(ctx->undo, "uid", existed ? (double)st.st_uid : 0) ||
	    undo_num(ctx->undo, "gid", existed ? (double)st.st_gid : 0) ||
	    (is_link && undo_str(ctx->undo, "symlink", link)) ||
	    undo_str(ctx->undo, "wrote", sum)) {
		cl_error_set(err, CL_EXIT_USAGE, "bad-resolver: out of memory");
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "made_dirs");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "existed");
	cJSON_AddBoolToObject(ctx->undo, "existed", existed);
	cJSON_AddItemToObject(ctx->undo, "made_dirs", made);
	made = NULL;
	/* Everything revert needs is on disk before the first change. */
	if (inject_ctx_save(ctx, err))
		goto out;
	if (!host) {
		const char *dirs[] = { LAB_NET_ETC_DIR, dir };
		cJSON *list = cJSON_GetObjectItemCaseSensitive(ctx->undo, "made_dirs");

		for (size_t i = 0; i < 2; i++) {
			if (!access(dirs[i], F_OK))
				continue;
			/* Journaled before it exists: revert removes it if empty. */
			cJSON_AddItemToArray(list, cJSON_CreateString(dirs[i]));
			if (inject_ctx_save(ctx, err))
				goto out;
			if (mkdir(dirs[i], 0755) < 0 && errno != EEXIST) {
				cl_error_errno(err, CL_EXIT_USAGE, errno,
					       "bad-resolver: unable to create '%s'", dirs[i]);
				goto out;
			}
		}
	}
	if (replace_file(path, text, strlen(text), existed && !is_link ? st.st_mode & 07777 : 0644,
			 err)) {
		cl_error_prefix(err, "bad-resolver");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(made);
	free(orig);
	free(hex);
	return rc;
}

/* Put back what the undo data says was at path. */
static int client_restore(const cJSON *undo, const char *path, struct cl_error *err)
{
	const char *link = undo_get_str(undo, "symlink");
	const char *hex = undo_get_str(undo, "original");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(undo, "mode");
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(undo, "uid");
	const cJSON *gid = cJSON_GetObjectItemCaseSensitive(undo, "gid");
	char tmp[500], *data;
	size_t len = 0;
	int rc;

	if (link) {
		snprintf(tmp, sizeof(tmp), "%s.chaoslab-link.%d", path, (int)getpid());
		unlink(tmp);
		if (symlink(link, tmp) < 0 || rename(tmp, path) < 0) {
			int e = errno;

			unlink(tmp);
			return cl_error_errno(
				err, CL_EXIT_REVERT, e,
				"bad-resolver: unable to restore the link '%s' -> '%s'", path,
				link);
		}
		return 0;
	}
	data = hex ? undo_bytes_decode(hex, &len) : NULL;
	if (!data)
		return cl_error_set(err, CL_EXIT_REVERT,
				    "bad-resolver: the journal holds no readable original of '%s'",
				    path);
	rc = replace_file(path, data, len, cJSON_IsNumber(mode) ? (mode_t)mode->valueint : 0644,
			  err);
	free(data);
	if (rc) {
		err->code = CL_EXIT_REVERT;
		cl_error_prefix(err, "bad-resolver");
		return -1;
	}
	if (cJSON_IsNumber(uid) && cJSON_IsNumber(gid) &&
	    chown(path, (uid_t)uid->valueint, (gid_t)gid->valueint) < 0) {
		/* the contents are back; ownership is best effort */
	}
	return 0;
}

static void remove_made_dirs(const cJSON *undo)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(undo, "made_dirs");
	int n = cJSON_GetArraySize(list);

	/* Innermost first; a directory someone put files in stays. */
	for (int i = n - 1; i >= 0; i--) {
		const cJSON *d = cJSON_GetArrayItem(list, i);

		if (cJSON_IsString(d))
			rmdir(d->valuestring);
	}
}

static int client_revert(struct revert_ctx *ctx, const char *path, struct cl_error *err)
{
	const char *wrote = undo_get_str(ctx->undo, "wrote");
	const char *orig_hex = undo_get_str(ctx->undo, "original");
	const cJSON *existed = cJSON_GetObjectItemCaseSensitive(ctx->undo, "existed");
	char sum[65], orig_sum[65] = "";
	struct stat st;
	size_t len;
	char *now, *orig;

	tmpfile_sweep_path(path);
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return cl_error_errno(err, CL_EXIT_REVERT, errno,
					      "bad-resolver: unable to stat '%s'", path);
		/* Never written (the harness died first), or removed already. */
		if (cJSON_IsFalse(existed))
			remove_made_dirs(ctx->undo);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return 0; /* a link restored already, or something not ours */
	now = slurp(path, &len);
	if (!now)
		return cl_error_errno(err, CL_EXIT_REVERT, errno,
				      "bad-resolver: unable to read '%s'", path);
	undo_bytes_sha256(now, len, sum);
	free(now);
	orig = orig_hex && cJSON_IsTrue(existed) ? undo_bytes_decode(orig_hex, &len) : NULL;
	if (orig)
		undo_bytes_sha256(orig, len, orig_sum);
	free(orig);
	if (!strcmp(sum, orig_sum))
		return 0; /* still (or again) the original: nothing to undo */
	if (!wrote || strcmp(sum, wrote)) {
		snprintf(ctx->report, sizeof(ctx->report),
			 "left %s alone: changed since chaoslab wrote it", path);
		return 0;
	}
	if (cJSON_IsTrue(existed)) {
		if (client_restore(ctx->undo, path, err))
			return -1;
		snprintf(ctx->report, sizeof(ctx->report), "restored %s", path);
		return 0;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return cl_error_errno(err, CL_EXIT_REVERT, errno,
				      "bad-resolver: unable to remove '%s'", path);
	remove_made_dirs(ctx->undo);
	snprintf(ctx->report, sizeof(ctx->report), "removed %s (it did not exist before)", path);
	return 0;
}

/* ---- the injector -------------------------------------------------------------- */

static int bad_resolver_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *mode = params_str(ctx->params, "mode", "");

	return client_mode(mode) ? client_apply(ctx, mode, err) : server_apply(ctx, mode, err);
}

static int bad_resolver_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const char *rule_file = undo_get_str(ctx->undo, "rule_file");
	const char *path = undo_get_str(ctx->undo, "path");

	ctx->report[0] = '\0';
	if (rule_file)
		return server_revert(ctx, rule_file, err);
	if (path)
		return client_revert(ctx, path, err);
	return 0; /* the bare intent: nothing was changed */
}

/* Server modes act through the lab DNS server. */
static const char *bad_resolver_lab_needs(const struct params *p)
{
	return client_mode(params_str(p, "mode", "")) ? NULL : "dns";
}

const struct injector bad_resolver_injector = {
	.name = "bad-resolver",
	.summary = "make name resolution fail: the lab DNS server misbehaves, or a resolv.conf "
		   "points at a dead nameserver",
	.params = bad_resolver_params,
	.supported = bad_resolver_supported,
	.validate = bad_resolver_validate,
	.lab_needs = bad_resolver_lab_needs,
	.apply = bad_resolver_apply,
	.revert = bad_resolver_revert,
};
