/* port-listening: something listens on host:port, as `ss -lnt` sees it.
 *
 * Read from /proc/PID/net/tcp and tcp6, the listening sockets of one network
 * namespace: the harness's own, or, for a lab service, the namespace the
 * service runs in (the lab network's when it runs there; what
 * `ip netns exec chaoslab ss -lnt` shows). A listener on a wildcard address
 * (0.0.0.0, [::]) serves every address of its family, as the kernel sees it.
 * The process holding the socket is found through /proc/PID/fd, as
 * `ss -p` does.
 *
 * expect: listening is met when a listener serves host:port (held by the
 * given process or service, when one is named); not-listening when none
 * does. With a service and no port or host, the address and port it was
 * started on are meant: "demo-api listens where it should". */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/probe.h"
#include "sys/proc.h"

static const char *const expect_choices[] = { "listening", "not-listening", NULL };

static const struct param_spec port_listening_params[] = {
	{ "port", PARAM_INT, false, NULL, 1, 65535, NULL,
	  "TCP port (required unless service is given, whose port is the default)" },
	{ "host", PARAM_STRING, false, NULL, 0, 64, NULL,
	  "local IPv4 or IPv6 address the connection would go to; any when absent (with service: its address)" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a lab service of this scenario: look in its network namespace, and the listener must be its" },
	{ "process", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "the listener must be held by a process with this name (comm)" },
	{ "expect", PARAM_ENUM, false, "listening", 0, 0, expect_choices,
	  "listening: a matching listener exists; not-listening: none does" },
	{ NULL },
};

#define MAX_LISTENERS 4096
/* Other sockets of the named process listed when it does not listen there. */
#define LIST_ELSEWHERE 3

/* Between checks: the last listener's holder, so a steady state costs one
 * /proc/PID/fd scan rather than a walk of every process. */
struct port_state {
	unsigned long inode;
	pid_t pid;
};

static int port_listening_validate(const struct params *p, char *msg, size_t size)
{
	unsigned char buf[16];
	const char *host = params_str(p, "host", NULL);

	if (!params_isset(p, "port") && !params_isset(p, "service")) {
		snprintf(msg, size, "give port (or service, whose port is the default)");
		return -1;
	}
	if (params_isset(p, "process") && params_isset(p, "service")) {
		snprintf(msg, size, "process and service exclude each other: give at most one");
		return -1;
	}
	if (host && host[0]) {
		char name[80];
		size_t n = strlen(host);

		snprintf(name, sizeof(name), "%.*s",
			 (int)(host[0] == '[' && host[n - 1] == ']' ? n - 2 : n),
			 host[0] == '[' ? host + 1 : host);
		if (inet_pton(AF_INET, name, buf) != 1 && inet_pton(AF_INET6, name, buf) != 1) {
			snprintf(msg, size, "host must be an IPv4 or IPv6 address, got '%s'", host);
			return -1;
		}
	}
	return 0;
}

static int port_listening_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

/* The holder of l's socket: the cached one if it still holds it, else found
 * afresh (the service's pid first). */
static pid_t holder(struct check_ctx *ctx, const struct probe_listener *l, pid_t hint)
{
	struct port_state *ps = ctx->state;
	pid_t pid = 0;

	if (ps && ps->inode == l->inode && ps->pid > 0)
		pid = probe_socket_owner(l->inode, ps->pid, true);
	if (!pid)
		pid = probe_socket_owner(l->inode, hint, false);
	if (!ps)
		ps = ctx->state = calloc(1, sizeof(*ps));
	if (ps) {
		ps->inode = l->inode;
		ps->pid = pid;
	}
	return pid;
}

static int port_listening_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const struct params *p = ctx->params;
	const char *svc = params_str(p, "service", NULL);
	const char *want_comm = params_str(p, "process", NULL);
	bool expect = !strcmp(params_str(p, "expect", "listening"), "listening");
	struct probe_listener *ls = NULL;
	char host[256] = "", where[300], addr[80];
	pid_t svc_pid = 0, found_pid = 0;
	int port = (int)params_int(p, "port", 0), rc = CHECK_ERROR;
	long n, match = -1, mismatch = -1;
	size_t len;

	if (svc) {
		int svc_port;

		if (!ctx->env || !ctx->env->service_pid || !ctx->env->service_addr) {
			cl_error_set(
				err, CL_EXIT_USAGE,
				"port-listening: service '%s' can only be looked up during a drill",
				svc);
			return CHECK_ERROR;
		}
		svc_pid = ctx->env->service_pid(ctx->env->opaque, svc);
		if (svc_pid <= 0 ||
		    ctx->env->service_addr(ctx->env->opaque, svc, host, sizeof(host), &svc_port)) {
			snprintf(obs, size, "%s is not running", svc);
			return expect ? CHECK_NOT_MET : CHECK_MET;
		}
		if (!params_isset(p, "port"))
			port = svc_port;
		if (params_isset(p, "host"))
			snprintf(host, sizeof(host), "%s", params_str(p, "host", ""));
	} else {
		snprintf(host, sizeof(host), "%s", params_str(p, "host", ""));
	}
	if (host[0])
		snprintf(where, sizeof(where),
			 strchr(host, ':') && host[0] != '[' ? "[%s]:%d" : "%s:%d", host, port);
	else
		snprintf(where, sizeof(where), "port %d", port);

	ls = calloc(MAX_LISTENERS, sizeof(*ls));
	if (!ls) {
		cl_error_set(err, CL_EXIT_USAGE, "port-listening: out of memory");
		goto out;
	}
	n = probe_listeners(svc_pid, ls, MAX_LISTENERS, err);
	if (n < 0) {
		if (svc_pid && err->errnum == ESRCH) {
			snprintf(obs, size, "%s is not running", svc);
			rc = expect ? CHECK_NOT_MET : CHECK_MET;
			goto out;
		}
		cl_error_prefix(err, "port-listening");
		goto out;
	}
	if (n > MAX_LISTENERS)
		n = MAX_LISTENERS;
	for (long i = 0; i < n && match < 0; i++) {
		struct proc_stat st;
		pid_t pid;

		if (ls[i].port != port || !probe_listener_serves(&ls[i], host))
			continue;
		if (!svc && !want_comm) {
			match = i;
			break;
		}
		pid = holder(ctx, &ls[i], svc_pid);
		if (svc ? pid == svc_pid :
			  pid > 0 && !proc_stat_read(pid, &st) && !strcmp(st.comm, want_comm)) {
			match = i;
			found_pid = pid;
		} else if (mismatch < 0) {
			mismatch = i;
			found_pid = pid;
		}
	}

	if (match >= 0) {
		struct proc_stat st;
		pid_t pid = found_pid ? found_pid : holder(ctx, &ls[match], svc_pid);

		probe_listener_format(&ls[match], addr, sizeof(addr));
		if (pid > 0 && !proc_stat_read(pid, &st))
			snprintf(obs, size, "%s LISTEN by %s (pid %d)", addr, st.comm, (int)pid);
		else
			snprintf(obs, size, "%s LISTEN (holder not found)", addr);
		rc = expect ? CHECK_MET : CHECK_NOT_MET;
		goto out;
	}

	/* Nothing (of the named process) serves host:port: say what is there. */
	if (mismatch >= 0) {
		struct proc_stat st;

		probe_listener_format(&ls[mismatch], addr, sizeof(addr));
		len = (size_t)snprintf(obs, size, "%s is held by %s (pid %d), not %s", addr,
				       found_pid > 0 && !proc_stat_read(found_pid, &st) ? st.comm :
											  "?",
				       (int)found_pid, svc ? svc : want_comm);
	} else {
		len = (size_t)snprintf(obs, size, "nothing listens on %s", where);
	}
	if (svc_pid > 0 && len < size) {
		/* Where the service listens instead: the usual "wrong port". */
		int shown = 0;

		for (long i = 0; i < n && shown < LIST_ELSEWHERE && len < size; i++) {
			if (probe_socket_owner(ls[i].inode, svc_pid, true) != svc_pid)
				continue;
			probe_listener_format(&ls[i], addr, sizeof(addr));
			if (!shown)
				len += (size_t)snprintf(obs + len, size - len,
							"; %s (pid %d) listens on ", svc,
							(int)svc_pid);
			if (len < size)
				len += (size_t)snprintf(obs + len, size - len, "%s%s",
							shown ? ", " : "", addr);
			shown++;
		}
		if (!shown && len < size)
			snprintf(obs + len, size - len, "; %s (pid %d) listens on no TCP port", svc,
				 (int)svc_pid);
	}
	rc = expect ? CHECK_NOT_MET : CHECK_MET;
out:
	free(ls);
	return rc;
}

static void port_listening_release(struct check_ctx *ctx)
{
	free(ctx->state);
	ctx->state = NULL;
}

const struct verifier port_listening_verifier = {
	.name = "port-listening",
	.summary =
		"something listens on host:port (as ss -lnt sees it), optionally a given process or lab service",
	.params = port_listening_params,
	.supported = port_listening_supported,
	.validate = port_listening_validate,
	.check = port_listening_check,
	.release = port_listening_release,
};
