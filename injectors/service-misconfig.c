/* service-misconfig: a bad edit to a lab service's config file, then a reload.
 *
 * What a colleague's "small config change" does: the service's config file
 * (demo-api.conf, see harness/lab/demo-api.c) is rewritten with one line
 * changed, and the service is sent SIGHUP, so it reloads and
 *
 *   mode port     listens on the wrong port (the configured one + 1, or `port`);
 *   mode address  listens on the wrong address: loopback only (127.0.0.1)
 *                 when it served every address or a lab address, IPv6
 *                 loopback ([::1], else 127.0.0.2) when it served 127.0.0.1;
 *   mode drain    keeps listening but reports itself draining: GET /health
 *                 answers 503, so a load balancer's health check takes the
 *                 backend out of rotation.
 *
 * The service is the lab service this run started (found by its owner tag);
 * its config file is the one it reads (from its own arguments and
 * environment, as it computed it), and the file must say what the service
 * is doing now, else nothing is touched. Everything but the one line is kept
 * byte for byte. apply() waits until the service listens where the bad
 * config says.
 *
 * Undo data: "config" (path), "tmp" (the temp file a write goes through),
 * "original" and "written" (the file's bytes before and after, base64),
 * "file_mode", "uid", "gid", "service", "service_ident" (the service's pid,
 * start time and boot id), "listen_before", "listen_after". The original is
 * written back only if the file still holds exactly what was written, and
 * the service then sent SIGHUP again (if it is still the same process). An
 * engineer's own fix is left alone. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/probe.h"
#include "sys/proc.h"
#include "sys/worker.h"

static const char *const misconfig_services[] = { "demo-api", NULL };
static const char *const misconfig_modes[] = { "port", "address", "drain", NULL };

static const struct param_spec service_misconfig_params[] = {
	{ "service", PARAM_ENUM, false, "demo-api", 0, 0, misconfig_services,
	  "the lab service (of this scenario's lab: list) whose config is edited" },
	{ "mode", PARAM_ENUM, false, "port", 0, 0, misconfig_modes,
	  "what the bad edit does: wrong port, wrong address, or drain (health check answers 503)" },
	{ "port", PARAM_INT, false, NULL, 1, 65535, NULL,
	  "mode port: the wrong port (default: the configured port + 1, or the next free one)" },
	{ "address", PARAM_STRING, false, NULL, 0, 45, NULL,
	  "mode address: the wrong IPv4 or IPv6 address (default: a loopback address the clients do not use)" },
	{ NULL },
};

#define CONF_MAX 65536
#define RELOAD_WAIT_MS 3000
#define RELOAD_POLL_MS 25
#define MAX_LISTENERS 4096
/* How far past the configured port a free wrong port is looked for. */
#define PORT_TRIES 20

static int service_misconfig_validate(const struct params *p, char *msg, size_t size)
{
	const char *mode = params_str(p, "mode", "port");
	const char *addr = params_str(p, "address", NULL);
	unsigned char buf[16];

	if (params_isset(p, "port") && strcmp(mode, "port")) {
		snprintf(msg, size, "port goes with mode port");
		return -1;
	}
	if (addr && strcmp(mode, "address")) {
		snprintf(msg, size, "address goes with mode address");
		return -1;
	}
	if (addr && inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1) {
		snprintf(msg, size, "address must be an IPv4 or IPv6 address, got '%s'", addr);
		return -1;
	}
	return 0;
}

static int service_misconfig_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

/* ---- files ------------------------------------------------------------------ */

/* Read path whole (at most CONF_MAX bytes) into a malloc'd buffer. 0 with
 * *data, *len and st; -1 with errno (EFBIG when too large). */
static int file_read(const char *path, char **data, size_t *len, struct stat *st)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), e;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		e = errno ? errno : EINVAL;
		goto fail;
	}
	buf = malloc(CONF_MAX + 1);
	if (!buf) {
		e = ENOMEM;
		goto fail;
	}
	while ((r = read(fd, buf + n, CONF_MAX + 1 - n)) > 0)
		n += (size_t)r;
	if (r < 0) {
		e = errno;
		goto fail;
	}
	if (n > CONF_MAX) {
		e = EFBIG;
		goto fail;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	close(fd);
	errno = e;
	return -1;
}

/* Replace path by data atomically (tmp, fsync, rename, fsync the directory),
 * with the given mode and owner. 0, or -1 with err (tmp removed). */
static int file_replace(const char *path, const char *tmp, const char *data, size_t len,
			mode_t mode, uid_t uid, gid_t gid, struct cl_error *err)
{
	char dir[600];
	size_t off = 0;
	int fd, dfd;

	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fchown(fd, uid, gid) < 0 && errno != EPERM)
		goto fail;
	if (fchmod(fd, mode & 07777) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to write '%s'", path);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static cJSON *b64_json(const char *data, size_t len)
{
	unsigned char *out = malloc(4 * ((len + 2) / 3) + 1);
	cJSON *s;

	if (!out)
		return NULL;
	EVP_EncodeBlock(out, (const unsigned char *)data, (int)len);
	s = cJSON_CreateString((char *)out);
	free(out);
	return s;
}

/* Decode a base64 string of the undo data into a malloc'd buffer. */
static char *b64_decode(const cJSON *j, size_t *len)
{
	size_t in, pad = 0;
	unsigned char *out;
	int n;

	if (!cJSON_IsString(j))
		return NULL;
	in = strlen(j->valuestring);
	if (in % 4)
		return NULL;
	out = malloc(in / 4 * 3 + 1);
	if (!out)
		return NULL;
	n = in ? EVP_DecodeBlock(out, (const unsigned char *)j->valuestring, (int)in) : 0;
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (pad < 2 && in > pad && j->valuestring[in - 1 - pad] == '=')
		pad++;
	*len = (size_t)n - pad;
	out[*len] = '\0';
	return (char *)out;
}

/* Set undo[key] = item, replacing an earlier one; item may be NULL (an
 * allocation that failed). 0, or -1 (item freed). */
static int undo_put(cJSON *undo, const char *key, cJSON *item)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	if (!item || !cJSON_AddItemToObject(undo, key, item)) {
		cJSON_Delete(item);
		return -1;
	}
	return 0;
}

/* ---- the config's lines ----------------------------------------------------- */

/* The value of the first `key = value` line (comments and blanks skipped):
 * *vstart and *vend delimit it in text; *lstart and *lend the whole line
 * (without its newline). 0, or -1 when there is no such line. */
static int conf_find(const char *text, size_t len, const char *key, size_t *lstart, size_t *lend,
		     size_t *vstart, size_t *vend)
{
	size_t kl = strlen(key), i = 0;

	while (i < len) {
		size_t s = i, e = i, p;

		while (e < len && text[e] != '\n')
			e++;
		p = s;
		while (p < e && (text[p] == ' ' || text[p] == '\t'))
			p++;
		if (e - p > kl && !strncmp(text + p, key, kl)) {
			size_t q = p + kl, ve;

			while (q < e && (text[q] == ' ' || text[q] == '\t'))
				q++;
			if (q < e && text[q] == '=') {
				q++;
				while (q < e && (text[q] == ' ' || text[q] == '\t'))
					q++;
				ve = q;
				while (ve < e && text[ve] != '#')
					ve++;
				while (ve > q && isspace((unsigned char)text[ve - 1]))
					ve--;
				*lstart = s;
				*lend = e;
				*vstart = q;
				*vend = ve;
				return 0;
			}
		}
		i = e + 1;
	}
	return -1;
}

/* text with [from, to) replaced by repl, malloc'd. */
static char *text_splice(const char *text, size_t len, size_t from, size_t to, const char *repl,
			 size_t *out_len)
{
	size_t rl = strlen(repl);
	char *out = malloc(len - (to - from) + rl + 1);

	if (!out)
		return NULL;
	memcpy(out, text, from);
	memcpy(out + from, repl, rl);
	memcpy(out + from + rl, text + to, len - to);
	*out_len = len - (to - from) + rl;
	out[*out_len] = '\0';
	return out;
}

/* A listen value ("127.0.0.1:18080", "[::1]:80", "*:80") split and
 * normalised: 0 with family, addr (text, no brackets), port; -1 if not one. */
static int listen_split(const char *v, int *family, char *addr, size_t size, int *port)
{
	char host[64];
	unsigned char buf[16];
	const char *colon;
	size_t hl;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - v - 1);
		v++;
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - v);
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (!strcmp(host, "*"))
		snprintf(host, sizeof(host), "0.0.0.0");
	*port = atoi(colon + 1);
	if (*port < 1 || *port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, buf) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, host, buf) == 1)
		*family = AF_INET6;
	else
		return -1;
	inet_ntop(*family, buf, addr, (socklen_t)size);
	return 0;
}

/* "addr:port" as ss and probe_listener_format() print it. */
static void listen_join(char *buf, size_t size, const char *addr, int port)
{
	snprintf(buf, size, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
}

/* ---- the service ---------------------------------------------------------------- */

/* True if pid's network namespace has a listener printed exactly as want. */
static int listens_on(pid_t pid, const char *want, struct cl_error *err)
{
	struct probe_listener *ls = calloc(MAX_LISTENERS, sizeof(*ls));
	char buf[80];
	long n;
	int found = 0;

	if (!ls)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	n = probe_listeners(pid, ls, MAX_LISTENERS, err);
	if (n < 0) {
		free(ls);
		return -1;
	}
	for (long i = 0; i < n && i < MAX_LISTENERS && !found; i++)
		if (!strcmp(probe_listener_format(&ls[i], buf, sizeof(buf)), want) &&
		    probe_socket_owner(ls[i].inode, pid, true) == pid)
			found = 1;
	free(ls);
	return found;
}

/* True if any socket of pid's namespace listens on port (any address). */
static bool port_taken(pid_t pid, int port)
{
	struct probe_listener *ls = calloc(MAX_LISTENERS, sizeof(*ls));
	struct cl_error e;
	bool taken = true;
	long n;

	if (!ls)
		return true;
	n = probe_listeners(pid, ls, MAX_LISTENERS, &e);
	if (n >= 0) {
		taken = false;
		for (long i = 0; i < n && i < MAX_LISTENERS; i++)
			taken = taken || ls[i].port == port;
	}
	free(ls);
	return taken;
}

/* Whether pid's namespace has ::1 on lo (IPv6 loopback usable). */
static bool has_ipv6_loopback(pid_t pid)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/if_inet6", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "00000000000000000000000000000001 ", 33);
	fclose(f);
	return found;
}

/* The config file the service reads: its arguments' "config", else
 * STATE/lab/NAME.conf with STATE as the service computed it (its
 * CHAOSLAB_STATE, else ours). */
static int service_config_path(pid_t pid, const char *service, const char *state, char *buf,
			       size_t size, struct cl_error *err)
{
	char args[4096], env_state[512];
	cJSON *j = NULL, *c;

	if (!proc_environ_get(pid, "CHAOSLAB_WORKER_ARGS", args, sizeof(args)))
		j = cJSON_Parse(args);
	c = j ? cJSON_GetObjectItemCaseSensitive(j, "config") : NULL;
	if (cJSON_IsString(c)) {
		snprintf(buf, size, "%s", c->valuestring);
	} else if (!proc_environ_get(pid, "CHAOSLAB_STATE", env_state, sizeof(env_state)) &&
		   env_state[0]) {
		snprintf(buf, size, "%s/lab/%s.conf", env_state, service);
	} else if (state && state[0]) {
		snprintf(buf, size, "%s/lab/%s.conf", state, service);
	} else {
		cJSON_Delete(j);
		return cl_error_set(err, CL_EXIT_USAGE, "no state directory to find %s's config in",
				    service);
	}
	cJSON_Delete(j);
	return 0;
}

/* Send sig to the process id names, if it is still that process. 1 when
 * sent, 0 when it is gone, -1 with err. */
static int signal_ident(const struct proc_ident *id, int sig, struct cl_error *err)
{
	int fd = (int)syscall(SYS_pidfd_open, id->pid, 0), rc = 0;

	if (fd < 0)
		return errno == ESRCH ? 0 : cl_error_errno(err, CL_EXIT_USAGE, errno, "pidfd_open");
	/* Checked after the pidfd pins the process: a recycled pid never matches. */
	if (proc_ident_alive(id) && !proc_is_zombie(id->pid)) {
		if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
			rc = errno == ESRCH ? 0 :
					      cl_error_errno(err, CL_EXIT_USAGE, errno,
							     "signalling pid %d", (int)id->pid);
		else
			rc = 1;
	}
	close(fd);
	return rc;
}

/* Wait until pid listens on want and no longer on old (NULL: not checked). */
static int wait_listen(pid_t pid, const char *want, const char *old, int ms, struct cl_error *err)
{
	double deadline = mono_now() + ms / 1000.0;
	struct timespec ts = { 0, RELOAD_POLL_MS * 1000000L };

	for (;;) {
		int now = listens_on(pid, want, err);
		int before = old ? listens_on(pid, old, err) : 0;

		if (now < 0 || before < 0)
			return -1;
		if (now && !before)
			return 0;
		if (mono_now() >= deadline)
			return 1;
		nanosleep(&ts, NULL);
	}
}

/* ---- apply and revert ------------------------------------------------------------------- */

struct edit {
	char value[96];	       /* the new value of the edited line */
	char listen_after[96]; /* where the service will listen */
	bool listen_changes;
};

/* Decide the bad edit for mode, given the service's current listen value. */
static int plan_edit(const struct params *p, pid_t pid, int family, const char *addr, int port,
		     const char *drain_now, struct edit *ed, struct cl_error *err)
{
	const char *mode = params_str(p, "mode", "port");

	memset(ed, 0, sizeof(*ed));
	listen_join(ed->listen_after, sizeof(ed->listen_after), addr, port);
	if (!strcmp(mode, "drain")) {
		if (drain_now && (!strcmp(drain_now, "on") || !strcmp(drain_now, "true") ||
				  !strcmp(drain_now, "yes")))
			return cl_error_set(err, CL_EXIT_USAGE, "the service is draining already");
		snprintf(ed->value, sizeof(ed->value), "on");
		return 0;
	}
	ed->listen_changes = true;
	if (!strcmp(mode, "port")) {
		int wrong = (int)params_int(p, "port", 0);

		if (wrong == port)
			return cl_error_set(err, CL_EXIT_USAGE, "port %d is the configured port",
					    port);
		if (wrong && port_taken(pid, wrong))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "port %d is taken in the service's network namespace",
					    wrong);
		for (int i = 1; !wrong && i <= PORT_TRIES; i++) {
			int cand = port + i <= 65535 ? port + i : port - i;
			if (!port_taken(pid, cand))
				wrong = cand;
		}
		if (!wrong)
			return cl_error_set(err, CL_EXIT_USAGE, "no free port near %d", port);
		listen_join(ed->listen_after, sizeof(ed->listen_after), addr, wrong);
	} else {
		const char *given = params_str(p, "address", NULL);
		char wrong[64];
		unsigned char buf[16];

		if (given) {
			int fam = strchr(given, ':') ? AF_INET6 : AF_INET;
			inet_pton(fam, given, buf);
			inet_ntop(fam, buf, wrong, sizeof(wrong));
		} else if (family == AF_INET && !strncmp(addr, "127.", 4)) {
			/* Clients use IPv4 loopback: the IPv6 one looks right and is not. */
			snprintf(wrong, sizeof(wrong),
				 has_ipv6_loopback(pid) ? "::1" : "127.0.0.2");
		} else {
			/* Served every address, or a lab one: now only loopback. */
			snprintf(wrong, sizeof(wrong), "127.0.0.1");
		}
		if (!strcmp(wrong, addr))
			return cl_error_set(err, CL_EXIT_USAGE, "address %s is the configured one",
					    wrong);
		listen_join(ed->listen_after, sizeof(ed->listen_after), wrong, port);
	}
	snprintf(ed->value, sizeof(ed->value), "%s", ed->listen_after);
	return 0;
}

static int service_misconfig_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *service = params_str(ctx->params, "service", "demo-api");
	const char *mode = params_str(ctx->params, "mode", "port");
	char step[64], tag[200], path[600], tmp[700], addr[64], before[96], drain_now[16] = "";
	char *text = NULL, *edited = NULL;
	size_t len = 0, elen = 0, ls, le, vs, ve;
	struct proc_ident id;
	struct stat st;
	struct edit ed;
	pid_t pids[4];
	int family, port, rc = -1, r;
	size_t n;

	/* The lab service of this very run. */
	snprintf(step, sizeof(step), "lab-%s", service);
	worker_owner_tag(tag, sizeof(tag), ctx->run_id, step);
	n = worker_find_owned(tag, pids, 4);
	if (n == 0)
		return cl_error_set(
			err, CL_EXIT_USAGE,
			"service-misconfig: lab service %s is not running in this drill "
			"(list it under lab:)",
			service);
	if (n > 1 || proc_ident_of(pids[0], &id))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "service-misconfig: expected one %s process, found %zu",
				    service, n);
	if (service_config_path(id.pid, service, ctx->state_dir, path, sizeof(path), err))
		goto out;
	if (file_read(path, &text, &len, &st)) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "service-misconfig: unable to read '%s'",
			       path);
		goto out;
	}
	if (conf_find(text, len, "listen", &ls, &le, &vs, &ve) ||
	    listen_split(strndupa(text + vs, ve - vs), &family, addr, sizeof(addr), &port)) {
		cl_error_set(err, CL_EXIT_USAGE, "service-misconfig: '%s' has no valid listen line",
			     path);
		goto out;
	}
	listen_join(before, sizeof(before), addr, port);
	/* The file must describe the running service, or it is not its config. */
	r = listens_on(id.pid, before, err);
	if (r <= 0) {
		if (!r)
			cl_error_set(
				err, CL_EXIT_USAGE,
				"'%s' says listen = %s, but %s (pid %d) does not listen there; "
				"not touching it",
				path, before, service, (int)id.pid);
		cl_error_prefix(err, "service-misconfig");
		goto out;
	}
	if (!strcmp(mode, "drain")) {
		size_t a, b, c, d;
		if (!conf_find(text, len, "drain", &a, &b, &c, &d))
			snprintf(drain_now, sizeof(drain_now), "%.*s", (int)(d - c), text + c);
	}
	if (plan_edit(ctx->params, id.pid, family, addr, port, drain_now, &ed, err)) {
		cl_error_prefix(err, "service-misconfig");
		goto out;
	}
	if (ed.listen_changes) {
		edited = text_splice(text, len, vs, ve, ed.value, &elen);
	} else {
		size_t a, b, c, d;
		if (!conf_find(text, len, "drain", &a, &b, &c, &d)) {
			edited = text_splice(text, len, c, d, "on", &elen);
		} else {
			/* No drain line: add one after the listen line. */
			edited = text_splice(text, len, le, le, "\ndrain = on", &elen);
		}
	}
	if (!edited) {
		cl_error_set(err, CL_EXIT_USAGE, "service-misconfig: out of memory");
		goto out;
	}

	snprintf(tmp, sizeof(tmp), "%s.chaoslab-tmp", path);
	if (undo_put(ctx->undo, "config", cJSON_CreateString(path)) ||
	    undo_put(ctx->undo, "tmp", cJSON_CreateString(tmp)) ||
	    undo_put(ctx->undo, "original", b64_json(text, len)) ||
	    undo_put(ctx->undo, "written", b64_json(edited, elen)) ||
	    undo_put(ctx->undo, "file_mode", cJSON_CreateNumber(st.st_mode & 07777)) ||
	    undo_put(ctx->undo, "uid", cJSON_CreateNumber(st.st_uid)) ||
	    undo_put(ctx->undo, "gid", cJSON_CreateNumber(st.st_gid)) ||
	    undo_put(ctx->undo, "service", cJSON_CreateString(service)) ||
	    undo_put(ctx->undo, "service_ident", proc_ident_to_json(&id)) ||
	    undo_put(ctx->undo, "mode", cJSON_CreateString(mode)) ||
	    undo_put(ctx->undo, "listen_before", cJSON_CreateString(before)) ||
	    undo_put(ctx->undo, "listen_after", cJSON_CreateString(ed.listen_after))) {
		cl_error_set(err, CL_EXIT_USAGE, "service-misconfig: out of memory");
		goto out;
	}
	/* The original reaches the journal before the file changes. */
	if (inject_ctx_save(ctx, err))
		goto out;
	if (file_replace(path, tmp, edited, elen, st.st_mode, st.st_uid, st.st_gid, err)) {
		cl_error_prefix(err, "service-misconfig");
		goto out;
	}
	r = signal_ident(&id, SIGHUP, err);
	if (r <= 0) {
		if (!r)
			cl_error_set(err, CL_EXIT_USAGE, "%s (pid %d) exited", service,
				     (int)id.pid);
		cl_error_prefix(err, "service-misconfig: unable to make %s reload", service);
		goto out;
	}
	if (ed.listen_changes) {
		r = wait_listen(id.pid, ed.listen_after, before, RELOAD_WAIT_MS, err);
		if (r) {
			if (r > 0)
				cl_error_set(
					err, CL_EXIT_USAGE,
					"%s did not move from %s to %s within %d ms after SIGHUP "
					"(see its log next to '%s')",
					service, before, ed.listen_after, RELOAD_WAIT_MS, path);
			cl_error_prefix(err, "service-misconfig");
			goto out;
		}
	}
	rc = 0;
out:
	free(text);
	free(edited);
	return rc;
}

static int service_misconfig_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *u = ctx->undo;
	const cJSON *jpath = u ? cJSON_GetObjectItemCaseSensitive(u, "config") : NULL;
	const cJSON *jid = u ? cJSON_GetObjectItemCaseSensitive(u, "service_ident") : NULL;
	const cJSON *jsvc = u ? cJSON_GetObjectItemCaseSensitive(u, "service") : NULL;
	const cJSON *jbefore = u ? cJSON_GetObjectItemCaseSensitive(u, "listen_before") : NULL;
	const char *service = cJSON_IsString(jsvc) ? jsvc->valuestring : "the service";
	char *orig = NULL, *wrote = NULL, *now = NULL, tmp_copy[700];
	size_t olen = 0, wlen = 0, nlen = 0;
	struct proc_ident id;
	struct stat st;
	int rc = -1, r;

	ctx->report[0] = '\0';
	if (!cJSON_IsString(jpath))
		return 0; /* the bare intent: nothing was written */
	/* Nothing is written before "written" is in the undo data. */
	if (!cJSON_GetObjectItemCaseSensitive(u, "written"))
		return 0;
	/* A temp file left by a write the harness did not live to finish; by
	 * its name only, whatever the undo data says. */
	snprintf(tmp_copy, sizeof(tmp_copy), "%s.chaoslab-tmp", jpath->valuestring);
	unlink(tmp_copy);
	orig = b64_decode(cJSON_GetObjectItemCaseSensitive(u, "original"), &olen);
	wrote = b64_decode(cJSON_GetObjectItemCaseSensitive(u, "written"), &wlen);
	if (!orig || !wrote) {
		cl_error_set(err, CL_EXIT_REVERT,
			     "service-misconfig: the undo data of '%s' is damaged",
			     jpath->valuestring);
		goto out;
	}
	if (file_read(jpath->valuestring, &now, &nlen, &st)) {
		if (errno != ENOENT) {
			cl_error_errno(err, CL_EXIT_REVERT, errno,
				       "service-misconfig: reading '%s'", jpath->valuestring);
			goto out;
		}
		snprintf(ctx->report, sizeof(ctx->report), "left %s alone: it was removed",
			 jpath->valuestring);
		rc = 0;
		goto out;
	}
	if (nlen == olen && !memcmp(now, orig, olen)) {
		rc = 0; /* never written, or already put back */
		goto out;
	}
	if (nlen != wlen || memcmp(now, wrote, wlen)) {
		snprintf(ctx->report, sizeof(ctx->report),
			 "left %s as it is: it changed since chaoslab wrote it",
			 jpath->valuestring);
		rc = 0;
		goto out;
	}
	if (file_replace(
		    jpath->valuestring, tmp_copy, orig, olen,
		    (mode_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "file_mode")),
		    (uid_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "uid")),
		    (gid_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "gid")), err)) {
		cl_error_prefix(err, "service-misconfig");
		err->code = CL_EXIT_REVERT;
		goto out;
	}
	snprintf(ctx->report, sizeof(ctx->report), "restored %s", jpath->valuestring);
	/* Make the service read it again, if it is still the one we edited it for. */
	if (jid && !proc_ident_from_json(jid, &id)) {
		struct cl_error e;

		cl_error_clear(&e);
		r = signal_ident(&id, SIGHUP, &e);
		if (r > 0) {
			size_t l = strlen(ctx->report);
			snprintf(ctx->report + l, sizeof(ctx->report) - l, " and reloaded %s",
				 service);
			if (cJSON_IsString(jbefore))
				wait_listen(id.pid, jbefore->valuestring, NULL, RELOAD_WAIT_MS, &e);
		}
	}
	rc = 0;
out:
	free(orig);
	free(wrote);
	free(now);
	return rc;
}

/* It edits the configuration of a lab service this drill runs. */
static const char *service_misconfig_lab_needs(const struct params *p)
{
	return params_str(p, "service", "demo-api");
}

const struct injector service_misconfig_injector = {
	.name = "service-misconfig",
	.summary =
		"edit a lab service's config (wrong port, wrong address, drain) and make it reload",
	.params = service_misconfig_params,
	.supported = service_misconfig_supported,
	.validate = service_misconfig_validate,
	.lab_needs = service_misconfig_lab_needs,
	.apply = service_misconfig_apply,
	.revert = service_misconfig_revert,
};
