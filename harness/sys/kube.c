#include "sys/kube.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/features.h"
#include "sys/proc.h"

/* kubectl output kept at most (a List of a few hundred pods fits). */
#define KUBE_OUT_MAX (32u << 20)
/* `kubectl version` when asking whether there is a cluster: kubectl's own
 * request timeout, and ours around the whole command (a kubectl dispatcher
 * may ask the server once more before running the real kubectl). */
#define KUBE_PROBE_REQUEST_TIMEOUT "4s"
#define KUBE_PROBE_TIMEOUT_MS 10000
#define KUBE_MEMO_SECONDS 1.0
#define KUBE_MAX_ARGS 48

/* ---- targets ------------------------------------------------------------------ */

void kube_target_init(struct kube_target *t, const struct params *p)
{
	const char *env = getenv("KUBECONFIG");
	const char *ctx = p && params_get(p, "context") ? params_str(p, "context", NULL) : NULL;
	const char *ns = p && params_get(p, "namespace") ? params_str(p, "namespace", NULL) : NULL;

	memset(t, 0, sizeof(*t));
	snprintf(t->kubeconfig, sizeof(t->kubeconfig), "%s", env ? env : "");
	if (!ctx)
		ctx = getenv("CHAOSLAB_KUBE_CONTEXT");
	snprintf(t->context, sizeof(t->context), "%s", ctx ? ctx : "");
	snprintf(t->ns, sizeof(t->ns), "%s", ns ? ns : KUBE_DEFAULT_NAMESPACE);
}

/* The first non-empty line of text into buf, trailing blanks dropped. */
static const char *first_line(const char *text, char *buf, size_t size)
{
	const char *p = text ? text : "";
	size_t n;

	while (*p == '\n' || *p == ' ' || *p == '\r')
		p++;
	n = strcspn(p, "\r\n");
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	snprintf(buf, size, "%.*s", (int)n, p);
	return buf;
}

/* klog's "E1127 12:14:59.933438   29841 memcache.go:265] ..." */
static bool klog_line(const char *p, size_t n)
{
	return n > 6 && strchr("IWEF", p[0]) && p[1] >= '0' && p[1] <= '9' && p[4] >= '0' &&
	       p[4] <= '9' && p[5] == ' ';
}

/* The line of kubectl's stderr that says what went wrong: the last one that
 * is neither a klog line (kubectl logs each retry before its verdict) nor a
 * warning; else the first line. Into buf, trailing blanks dropped. */
static const char *message_line(const char *text, char *buf, size_t size)
{
	const char *best = NULL, *p = text ? text : "";
	size_t best_n = 0;

	while (*p) {
		size_t n = strcspn(p, "\r\n");

		if (n && !klog_line(p, n) && strncmp(p, "Warning:", 8)) {
			best = p;
			best_n = n;
		}
		p += n;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	if (!best)
		return first_line(text, buf, size);
	while (best_n && (best[best_n - 1] == ' ' || best[best_n - 1] == '\t'))
		best_n--;
	snprintf(buf, size, "%.*s", (int)best_n, best);
	return buf;
}

int kube_target_pin(struct kube_target *t, struct cl_error *err)
{
	const char *args[] = { "config", "current-context", NULL };
	struct kube_target bare = *t;
	struct kube_result r;
	char line[256];
	int rc = -1;

	if (t->context[0])
		return 0;
	bare.ns[0] = '\0';
	if (kube_run(&bare, args, NULL, 5000, &r, err))
		return -1;
	first_line(r.out, line, sizeof(line));
	if (r.status != 0 || !line[0]) {
		char why[256];

		message_line(r.err, why, sizeof(why));
		cl_error_set(err, CL_EXIT_PRIVILEGE,
			     "no Kubernetes cluster: kubectl has no current context (%s); start a "
			     "cluster (kind create cluster, k3s, minikube start) or set "
			     "CHAOSLAB_KUBE_CONTEXT",
			     why[0] ? why : "kubectl config current-context printed nothing");
		goto out;
	}
	snprintf(t->context, sizeof(t->context), "%s", line);
	rc = 0;
out:
	kube_result_release(&r);
	return rc;
}

cJSON *kube_target_to_json(const struct kube_target *t)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kubeconfig", t->kubeconfig);
	cJSON_AddStringToObject(o, "context", t->context);
	cJSON_AddStringToObject(o, "namespace", t->ns);
	return o;
}

int kube_target_from_json(struct kube_target *t, const cJSON *j)
{
	const cJSON *kc = cJSON_GetObjectItemCaseSensitive(j, "kubeconfig");
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(j, "context");
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(j, "namespace");

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(j) || !cJSON_IsString(ctx) || !cJSON_IsString(ns))
		return -1;
	snprintf(t->kubeconfig, sizeof(t->kubeconfig), "%s",
		 cJSON_IsString(kc) ? kc->valuestring : "");
	snprintf(t->context, sizeof(t->context), "%s", ctx->valuestring);
	snprintf(t->ns, sizeof(t->ns), "%s", ns->valuestring);
	return 0;
}

/* ---- running kubectl ------------------------------------------------------------ */

void kube_result_release(struct kube_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static const char *kubectl_path(char *buf, size_t size)
{
	const char *env = getenv("CHAOSLAB_KUBECTL");

	if (env && env[0]) {
		snprintf(buf, size, "%s", env);
		return buf;
	}
	return feature_which("kubectl", buf, size) < 0 ? NULL : buf;
}

struct sink {
	char *buf;
	size_t len, cap;
};

/* Keep up to KUBE_OUT_MAX bytes; the rest is read and dropped. */
static void sink_add(struct sink *s, const char *data, size_t n)
{
	if (s->len + n > KUBE_OUT_MAX)
		n = KUBE_OUT_MAX - s->len;
	if (!n)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t ncap = s->cap ? s->cap : 16384;
		char *nb;

		while (ncap < s->len + n + 1)
			ncap *= 2;
		nb = realloc(s->buf, ncap);
		if (!nb)
			return;
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static char *sink_take(struct sink *s)
{
	char *b = s->buf ? s->buf : calloc(1, 1);

	s->buf = NULL;
	return b;
}

/* Fork/exec argv with input on stdin and both outputs captured; the child
 * gets its own process group, killed whole at the deadline. 0 with r filled,
 * or -1 with errno (ETIMEDOUT at the deadline). */
static int exec_capture(const char *const *argv, const char *input, int timeout_ms,
			struct kube_result *r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct sink so = { 0 }, se = { 0 };
	size_t in_len = input ? strlen(input) : 0, in_off = 0;
	double deadline = mono_now() + timeout_ms / 1000.0;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
	bool timed_out = false;
	int status = 0, saved = 0, rc = -1;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		saved = errno;
		goto out;
	}
	/* A kubectl that dies before reading its input must not kill us. */
	sigaction(SIGPIPE, &ign, &old_pipe);
	pid = fork();
	if (pid < 0) {
		saved = errno;
		sigaction(SIGPIPE, &old_pipe, NULL);
		goto out;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	in[0] = out[1] = errp[1] = -1;
	if (!in_len) {
		close(in[1]);
		in[1] = -1;
	} else {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd p[3];
		int np = 0, left = (int)((deadline - mono_now()) * 1000);

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (out[0] >= 0)
			p[np++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
		if (errp[0] >= 0)
			p[np++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		if (in[1] >= 0)
			p[np++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
		if (poll(p, (nfds_t)np, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < np; i++) {
			char chunk[16384];
			ssize_t n;

			if (!p[i].revents)
				continue;
			if (p[i].fd == in[1]) {
				n = write(in[1], input + in_off, in_len - in_off);
				if (n > 0)
					in_off += (size_t)n;
				if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
				    in_off >= in_len || (p[i].revents & (POLLERR | POLLHUP))) {
					close(in[1]);
					in[1] = -1;
				}
				continue;
			}
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				if (p[i].fd == out[0]) {
					close(out[0]);
					out[0] = -1;
				} else {
					close(errp[0]);
					errp[0] = -1;
				}
				continue;
			}
			sink_add(p[i].fd == out[0] ? &so : &se, chunk, (size_t)n);
		}
	}
	/* Outputs closed: give the process the rest of its time to exit. */
	while (!timed_out) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			goto reaped;
		if (w < 0 && errno == ECHILD) {
			/* Reaped by someone else: the pid may be reused, never signal it. */
			status = -1;
			goto reaped;
		}
		if (mono_now() >= deadline) {
			timed_out = true;
			break;
		}
		usleep(5000);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
reaped:
	sigaction(SIGPIPE, &old_pipe, NULL);
	if (timed_out) {
		saved = ETIMEDOUT;
		goto out;
	}
	r->out = sink_take(&so);
	r->err = sink_take(&se);
	if (status == -1)
		r->status = 255; /* reaped elsewhere: the status is unknown */
	else if (WIFEXITED(status))
		r->status = WEXITSTATUS(status);
	else
		r->status = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(so.buf);
	free(se.buf);
	if (rc)
		errno = saved;
	return rc;
}

/* The argument vector: kubectl, the target's flags, then args. */
static int build_argv(const struct kube_target *t, const char *kubectl, const char *request_timeout,
		      const char *const *args, const char **argv, char flags[3][1100])
{
	int n = 0;

	argv[n++] = kubectl;
	if (t->kubeconfig[0]) {
		snprintf(flags[0], sizeof(flags[0]), "--kubeconfig=%s", t->kubeconfig);
		argv[n++] = flags[0];
	}
	if (t->context[0]) {
		snprintf(flags[1], sizeof(flags[1]), "--context=%s", t->context);
		argv[n++] = flags[1];
	}
	if (t->ns[0]) {
		snprintf(flags[2], sizeof(flags[2]), "--namespace=%s", t->ns);
		argv[n++] = flags[2];
	}
	argv[n++] = request_timeout;
	for (size_t i = 0; args[i]; i++) {
		if (n >= KUBE_MAX_ARGS - 1)
			return -1;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return 0;
}

static void join_args(const char *const *args, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; args[i] && off + 1 < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "", args[i]);
}

static int run_with(const struct kube_target *t, const char *request_timeout,
		    const char *const *args, const char *input, int timeout_ms,
		    struct kube_result *r, struct cl_error *err)
{
	const char *argv[KUBE_MAX_ARGS];
	char flags[3][1100], path[512], cmd[256];

	memset(r, 0, sizeof(*r));
	if (!kubectl_path(path, sizeof(path)))
		return cl_error_set(
			err, CL_EXIT_PRIVILEGE,
			"kubectl not found on PATH: install it for the Kubernetes drills "
			"(k3s ships it; kind and minikube need it)");
	if (build_argv(t, path, request_timeout, args, argv, flags))
		return cl_error_set(err, CL_EXIT_USAGE, "too many kubectl arguments");
	if (exec_capture(argv, input, timeout_ms > 0 ? timeout_ms : KUBE_TIMEOUT_MS, r)) {
		int e = errno;

		join_args(args, cmd, sizeof(cmd));
		if (e == ETIMEDOUT)
			return cl_error_set(
				err, CL_EXIT_PRIVILEGE,
				"no Kubernetes cluster: 'kubectl %s' did not finish within "
				"%d s (is the API server up?)",
				cmd, (timeout_ms > 0 ? timeout_ms : KUBE_TIMEOUT_MS) / 1000);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to run kubectl (%s)", path);
	}
	if (r->status == 127 && !r->out[0] && !r->err[0]) {
		kube_result_release(r);
		return cl_error_set(err, CL_EXIT_PRIVILEGE, "unable to run kubectl (%s)", path);
	}
	return 0;
}

int kube_run(const struct kube_target *t, const char *const *args, const char *input,
	     int timeout_ms, struct kube_result *r, struct cl_error *err)
{
	return run_with(t, "--request-timeout=" KUBE_REQUEST_TIMEOUT, args, input, timeout_ms, r,
			err);
}

/* ---- errors ------------------------------------------------------------------------ */

static bool has(const char *text, const char *needle)
{
	return text && strstr(text, needle);
}

enum kube_failure kube_classify(const char *e)
{
	static const char *const no_cluster[] = {
		"The connection to the server",
		"Unable to connect to the server",
		"couldn't get current server API group list",
		"no configuration has been provided",
		"invalid configuration",
		"dial tcp",
		"connection refused",
		"no such host",
		"i/o timeout",
		"context deadline exceeded",
		"Client.Timeout exceeded",
		"TLS handshake timeout",
		"does not exist",
		"context was not found",
		"http: server gave HTTP response to HTTPS client",
		NULL,
	};

	if (has(e, "(Forbidden)") || has(e, " is forbidden: "))
		return KUBE_FAIL_FORBIDDEN;
	if (has(e, "(Unauthorized)") || has(e, "You must be logged in"))
		return KUBE_FAIL_UNAUTHORIZED;
	if (has(e, "(NotFound)"))
		return KUBE_FAIL_NOT_FOUND;
	if (has(e, "(AlreadyExists)"))
		return KUBE_FAIL_EXISTS;
	if (has(e, "(Conflict)"))
		return KUBE_FAIL_CONFLICT;
	if (has(e, "(Invalid)") || has(e, " is invalid: ") ||
	    has(e, "the server rejected our request") || has(e, "test failed"))
		return KUBE_FAIL_INVALID;
	for (size_t i = 0; no_cluster[i]; i++)
		if (has(e, no_cluster[i]) && !has(e, "Error from server ("))
			return KUBE_FAIL_NO_CLUSTER;
	return KUBE_FAIL_OTHER;
}

/* Copy the text between prefix and the next '"' (after start) into buf. */
static bool quoted_after(const char *start, const char *prefix, char *buf, size_t size)
{
	const char *p = start ? strstr(start, prefix) : NULL;

	if (!p)
		return false;
	p += strlen(prefix);
	snprintf(buf, size, "%.*s", (int)strcspn(p, "\""), p);
	return true;
}

/* The `kubectl auth can-i` command a Forbidden message corresponds to:
 * '... User "u" cannot patch resource "deployments/scale" in API group
 * "apps" in the namespace "kube-system"'. */
static bool forbidden_check(const char *text, const char *fallback_ns, char *buf, size_t size)
{
	const char *c = text ? strstr(text, " cannot ") : NULL;
	char verb[64], res[128], group[128] = "", ns[128] = "", sub[64] = "";
	char *slash;

	if (!c)
		return false;
	c += strlen(" cannot ");
	snprintf(verb, sizeof(verb), "%.*s", (int)strcspn(c, " "), c);
	if (!quoted_after(c, "resource \"", res, sizeof(res)))
		return false;
	quoted_after(c, "in API group \"", group, sizeof(group));
	if (!quoted_after(c, "in the namespace \"", ns, sizeof(ns)) && fallback_ns &&
	    !strstr(c, "at the cluster scope"))
		snprintf(ns, sizeof(ns), "%s", fallback_ns);
	slash = strchr(res, '/');
	if (slash) {
		snprintf(sub, sizeof(sub), "%s", slash + 1);
		*slash = '\0';
	}
	snprintf(buf, size, "kubectl auth can-i %s %s%s%s%s%s%s%s", verb, res, group[0] ? "." : "",
		 group, sub[0] ? " --subresource=" : "", sub, ns[0] ? " -n " : "", ns);
	return true;
}

enum kube_failure kube_fail(const struct kube_target *t, const char *what,
			    const struct kube_result *r, struct cl_error *err)
{
	enum kube_failure k = kube_classify(r->err);
	char line[512], check[400];

	message_line(r->err && r->err[0] ? r->err : r->out, line, sizeof(line));
	if (!line[0])
		snprintf(line, sizeof(line), "kubectl exited %d without a message", r->status);
	switch (k) {
	case KUBE_FAIL_NO_CLUSTER:
		cl_error_set(err, CL_EXIT_PRIVILEGE,
			     "no Kubernetes cluster: kubectl cannot reach the API server (%s)",
			     line);
		break;
	case KUBE_FAIL_UNAUTHORIZED:
		cl_error_set(err, CL_EXIT_PRIVILEGE,
			     "the API server does not accept kubectl's credentials (%s): check the "
			     "user of context %s",
			     line, t->context[0] ? t->context : "(current)");
		break;
	case KUBE_FAIL_FORBIDDEN:
		if (forbidden_check(r->err, t->ns, check, sizeof(check)))
			cl_error_set(err, CL_EXIT_PRIVILEGE,
				     "missing permission: `%s` says no (%s)", check, line);
		else
			cl_error_set(err, CL_EXIT_PRIVILEGE, "missing permission: %s", line);
		break;
	default:
		cl_error_set(err, CL_EXIT_USAGE, "%s: %s", what, line);
		break;
	}
	return k;
}

/* ---- typed helpers ---------------------------------------------------------------- */

static cJSON *parse_out(const struct kube_result *r, const char *what, struct cl_error *err)
{
	cJSON *j = cJSON_Parse(r->out);

	if (!j)
		cl_error_set(err, CL_EXIT_USAGE, "%s: kubectl printed something that is not JSON",
			     what);
	return j;
}

int kube_get(const struct kube_target *t, const char *resource, const char *name, cJSON **obj,
	     struct cl_error *err)
{
	const char *args[] = { "get", resource, name, "-o", "json", NULL };
	struct kube_result r;
	char what[256];
	int rc = -1;

	*obj = NULL;
	snprintf(what, sizeof(what), "kubectl get %s %s", resource, name);
	if (kube_run(t, args, NULL, 0, &r, err))
		return -1;
	if (r.status) {
		if (kube_classify(r.err) == KUBE_FAIL_NOT_FOUND)
			rc = 1;
		else
			kube_fail(t, what, &r, err);
		goto out;
	}
	*obj = parse_out(&r, what, err);
	rc = *obj ? 0 : -1;
out:
	kube_result_release(&r);
	return rc;
}

int kube_list(const struct kube_target *t, const char *resource, const char *selector,
	      const char *fields, cJSON **list, struct cl_error *err)
{
	const char *args[10];
	struct kube_result r;
	char what[256];
	int n = 0, rc = -1;

	*list = NULL;
	args[n++] = "get";
	args[n++] = resource;
	if (selector) {
		args[n++] = "-l";
		args[n++] = selector;
	}
	if (fields) {
		args[n++] = "--field-selector";
		args[n++] = fields;
	}
	args[n++] = "-o";
	args[n++] = "json";
	args[n] = NULL;
	snprintf(what, sizeof(what), "kubectl get %s", resource);
	if (kube_run(t, args, NULL, 0, &r, err))
		return -1;
	if (r.status) {
		kube_fail(t, what, &r, err);
		goto out;
	}
	*list = parse_out(&r, what, err);
	if (*list && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*list, "items"))) {
		cJSON_Delete(*list);
		*list = NULL;
		cl_error_set(err, CL_EXIT_USAGE, "%s: no items in kubectl's answer", what);
	}
	rc = *list ? 0 : -1;
out:
	kube_result_release(&r);
	return rc;
}

int kube_patch(const struct kube_target *t, const char *resource, const char *name,
	       const char *type, const char *patch, cJSON **result, enum kube_failure *why,
	       struct cl_error *err)
{
	char typearg[32];
	const char *args[] = { "patch", resource, name, typearg, "-p", patch, "-o", "json", NULL };
	struct kube_result r;
	char what[256];
	int rc = -1;

	if (result)
		*result = NULL;
	if (why)
		*why = KUBE_FAIL_OTHER;
	snprintf(typearg, sizeof(typearg), "--type=%s", type);
	snprintf(what, sizeof(what), "kubectl patch %s %s", resource, name);
	if (kube_run(t, args, NULL, 0, &r, err))
		return -1;
	if (r.status) {
		enum kube_failure k = kube_classify(r.err);

		if (why)
			*why = k;
		if (k == KUBE_FAIL_NOT_FOUND)
			rc = 1;
		else
			kube_fail(t, what, &r, err);
		goto out;
	}
	if (result) {
		*result = parse_out(&r, what, err);
		if (!*result)
			goto out;
	}
	rc = 0;
out:
	kube_result_release(&r);
	return rc;
}

int kube_create(const struct kube_target *t, const cJSON *obj, cJSON **created,
		struct cl_error *err)
{
	const char *args[] = { "create", "--save-config", "-f", "-", "-o", "json", NULL };
	struct kube_result r;
	char *text = cJSON_PrintUnformatted(obj);
	int rc = -1;

	*created = NULL;
	if (!text)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	if (kube_run(t, args, text, 0, &r, err))
		goto out_text;
	if (r.status) {
		kube_fail(t, "kubectl create", &r, err);
		goto out;
	}
	*created = parse_out(&r, "kubectl create", err);
	rc = *created ? 0 : -1;
out:
	kube_result_release(&r);
out_text:
	free(text);
	return rc;
}

int kube_get_raw(const struct kube_target *t, const char *api_path, cJSON **obj,
		 struct cl_error *err)
{
	const char *args[] = { "get", "--raw", api_path, NULL };
	struct kube_target bare = *t;
	struct kube_result r;
	int rc = -1;

	*obj = NULL;
	bare.ns[0] = '\0';
	if (kube_run(&bare, args, NULL, 0, &r, err))
		return -1;
	if (r.status) {
		if (kube_classify(r.err) == KUBE_FAIL_NOT_FOUND)
			rc = 1;
		else
			kube_fail(t, "kubectl get --raw", &r, err);
		goto out;
	}
	*obj = parse_out(&r, "kubectl get --raw", err);
	rc = *obj ? 0 : -1;
out:
	kube_result_release(&r);
	return rc;
}

int kube_delete_uid(const struct kube_target *t, const char *api_path, const char *uid,
		    struct cl_error *err)
{
	const char *args[] = { "delete", "--raw", api_path, "-f", "-", NULL };
	struct kube_target bare = *t;
	struct kube_result r;
	cJSON *opts = cJSON_CreateObject(), *pre;
	char *body = NULL;
	int rc = -1;

	bare.ns[0] = '\0';
	if (!opts)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	pre = cJSON_AddObjectToObject(opts, "preconditions");
	cJSON_AddStringToObject(pre, "uid", uid);
	cJSON_AddStringToObject(opts, "propagationPolicy", "Background");
	body = cJSON_PrintUnformatted(opts);
	if (!body) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out_opts;
	}
	if (kube_run(&bare, args, body, 0, &r, err))
		goto out_opts;
	if (r.status) {
		enum kube_failure k = kube_classify(r.err);

		/* Gone, or a precondition failed: someone else's object now. */
		if (k == KUBE_FAIL_NOT_FOUND || k == KUBE_FAIL_CONFLICT)
			rc = 1;
		else
			kube_fail(t, "kubectl delete --raw", &r, err);
		goto out;
	}
	rc = 0;
out:
	kube_result_release(&r);
out_opts:
	free(body);
	cJSON_Delete(opts);
	return rc;
}

int kube_can_i(const struct kube_target *t, const char *verb, const char *resource,
	       struct cl_error *err)
{
	char res[160], sub[64] = "", subarg[96], nsarg[96], line[256];
	const char *args[6];
	struct kube_result r;
	char *slash;
	int n = 0, rc = -1;

	snprintf(res, sizeof(res), "%s", resource);
	slash = strchr(res, '/');
	if (slash) {
		snprintf(sub, sizeof(sub), "%s", slash + 1);
		*slash = '\0';
	}
	args[n++] = "auth";
	args[n++] = "can-i";
	args[n++] = verb;
	args[n++] = res;
	if (sub[0]) {
		snprintf(subarg, sizeof(subarg), "--subresource=%s", sub);
		args[n++] = subarg;
	}
	args[n] = NULL;
	if (kube_run(t, args, NULL, 0, &r, err))
		return -1;
	snprintf(nsarg, sizeof(nsarg), "%s%s", t->ns[0] ? " -n " : "", t->ns);
	if (r.status == 0) {
		rc = 0;
	} else if (r.status == 1 && !strncmp(r.out, "no", 2)) {
		first_line(r.out, line, sizeof(line));
		cl_error_set(err, CL_EXIT_PRIVILEGE,
			     "missing permission: `kubectl auth can-i %s %s%s%s%s` says %s", verb,
			     res, sub[0] ? " --subresource=" : "", sub, nsarg, line);
	} else {
		char what[256];

		snprintf(what, sizeof(what), "kubectl auth can-i %s %s%s", verb, resource, nsarg);
		kube_fail(t, what, &r, err);
	}
	kube_result_release(&r);
	return rc;
}

/* ---- is there a cluster? ------------------------------------------------------------ */

struct reach_memo {
	char key[1300];
	int rc;
	char why[512];
};

static struct reach_memo reach_memo[8];
static size_t reach_n;

void kube_reachable_reset(void)
{
	reach_n = 0;
}

static int reachable_probe(const struct kube_target *t, char *why, size_t size)
{
	const char *args[] = { "version", "-o", "json", NULL };
	struct kube_target bare = *t;
	struct kube_result r;
	struct cl_error e;
	char path[512], line[384];
	cJSON *j = NULL;
	int rc = -1;

	if (!kubectl_path(path, sizeof(path))) {
		snprintf(why, size,
			 "kubectl not found on PATH (install it for the Kubernetes "
			 "drills: k3s ships it; kind and minikube need it)");
		return -1;
	}
	bare.ns[0] = '\0';
	cl_error_clear(&e);
	if (run_with(&bare, "--request-timeout=" KUBE_PROBE_REQUEST_TIMEOUT, args, NULL,
		     KUBE_PROBE_TIMEOUT_MS, &r, &e)) {
		snprintf(why, size, "%s", e.msg);
		return -1;
	}
	j = cJSON_Parse(r.out);
	if (r.status == 0 && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "serverVersion"))) {
		rc = 0;
		goto out;
	}
	message_line(r.err, line, sizeof(line));
	if (kube_classify(r.err) == KUBE_FAIL_FORBIDDEN ||
	    kube_classify(r.err) == KUBE_FAIL_UNAUTHORIZED) {
		kube_fail(t, "kubectl version", &r, &e);
		snprintf(why, size, "%s", e.msg);
	} else {
		snprintf(why, size,
			 "no Kubernetes cluster: kubectl cannot reach the API server (%s)",
			 line[0] ? line : "kubectl version printed no server version");
	}
out:
	cJSON_Delete(j);
	kube_result_release(&r);
	return rc;
}

int kube_reachable(const struct kube_target *t, char *why, size_t size)
{
	char key[sizeof(reach_memo[0].key)];
	struct reach_memo *m;

	snprintf(key, sizeof(key), "%s\n%s", t->kubeconfig, t->context);
	for (size_t i = 0; i < reach_n; i++) {
		if (!strcmp(reach_memo[i].key, key)) {
			if (size)
				snprintf(why, size, "%s", reach_memo[i].why);
			return reach_memo[i].rc;
		}
	}
	m = &reach_memo[reach_n < 8 ? reach_n++ : 7];
	snprintf(m->key, sizeof(m->key), "%s", key);
	m->why[0] = '\0';
	m->rc = reachable_probe(t, m->why, sizeof(m->why));
	if (size)
		snprintf(why, size, "%s", m->why);
	return m->rc;
}

int kube_supported(const struct params *params, char *why, size_t size)
{
	struct kube_target t;

	kube_target_init(&t, params);
	return kube_reachable(&t, why, size);
}

/* ---- objects -------------------------------------------------------------------------- */

struct kind_path {
	const char *api_version;
	const char *kind;
	const char *plural;
};

/* The namespaced kinds a drill manifest may create. */
static const struct kind_path kinds[] = {
	{ "v1", "Pod", "pods" },
	{ "v1", "Service", "services" },
	{ "v1", "ConfigMap", "configmaps" },
	{ "v1", "Secret", "secrets" },
	{ "v1", "PersistentVolumeClaim", "persistentvolumeclaims" },
	{ "v1", "ServiceAccount", "serviceaccounts" },
	{ "v1", "Endpoints", "endpoints" },
	{ "apps/v1", "Deployment", "deployments" },
	{ "apps/v1", "StatefulSet", "statefulsets" },
	{ "apps/v1", "DaemonSet", "daemonsets" },
	{ "apps/v1", "ReplicaSet", "replicasets" },
	{ "batch/v1", "Job", "jobs" },
	{ "batch/v1", "CronJob", "cronjobs" },
	{ "autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers" },
	{ "autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers" },
	{ "networking.k8s.io/v1", "NetworkPolicy", "networkpolicies" },
	{ "networking.k8s.io/v1", "Ingress", "ingresses" },
	{ "policy/v1", "PodDisruptionBudget", "poddisruptionbudgets" },
	{ "rbac.authorization.k8s.io/v1", "Role", "roles" },
	{ "rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings" },
	{ NULL, NULL, NULL },
};

static const struct kind_path *kind_find(const char *api_version, const char *kind)
{
	for (size_t i = 0; api_version && kind && kinds[i].kind; i++)
		if (!strcmp(kinds[i].api_version, api_version) && !strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return NULL;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

const char *kube_kind_resource(const char *api_version, const char *kind, char *buf, size_t size)
{
	const struct kind_path *k = kind_find(api_version, kind);
	const char *slash = api_version ? strchr(api_version, '/') : NULL;

	if (!k)
		return NULL;
	if (slash)
		snprintf(buf, size, "%s.%.*s", k->plural, (int)(slash - api_version), api_version);
	else
		snprintf(buf, size, "%s", k->plural);
	return buf;
}

const char *kube_api_path(const cJSON *obj, const char *ns, char *buf, size_t size)
{
	const char *av = str_at(obj, "apiVersion", NULL), *kind = str_at(obj, "kind", NULL);
	const char *name = str_at(obj, "metadata", "name");
	const char *ons = str_at(obj, "metadata", "namespace");
	const struct kind_path *k = kind_find(av, kind);

	if (!k || !name || !(ons || ns))
		return NULL;
	snprintf(buf, size, "/%s%s/namespaces/%s/%s/%s", strchr(av, '/') ? "apis/" : "api/", av,
		 ons ? ons : ns, k->plural, name);
	return buf;
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

const char *kube_label_value(const char *s, char *buf, size_t size)
{
	char tmp[256];
	unsigned long h = 5381;
	size_t n = 0;

	for (const char *q = s; *q; q++)
		h = h * 33 + (unsigned char)*q;
	while (*s && !alnum(*s))
		s++;
	for (; *s && n < sizeof(tmp) - 1; s++)
		tmp[n++] = alnum(*s) || *s == '-' || *s == '_' || *s == '.' ? *s : '_';
	tmp[n] = '\0';
	if (n > 63)
		snprintf(tmp + 54, sizeof(tmp) - 54, "-%08lx", h & 0xffffffffUL);
	n = strlen(tmp);
	while (n && !alnum(tmp[n - 1]))
		tmp[--n] = '\0';
	snprintf(buf, size, "%s", n ? tmp : "run");
	return buf;
}

bool kube_system_namespace(const char *ns)
{
	return ns && !strncmp(ns, "kube-", 5);
}

void kube_pointer_append(char *buf, size_t size, const char *token)
{
	size_t off = strlen(buf);

	if (off + 1 < size)
		buf[off++] = '/';
	for (const char *p = token; *p && off + 2 < size; p++) {
		if (*p == '~') {
			buf[off++] = '~';
			buf[off++] = '0';
		} else if (*p == '/') {
			buf[off++] = '~';
			buf[off++] = '1';
		} else {
			buf[off++] = *p;
		}
	}
	buf[off < size ? off : size - 1] = '\0';
}

double kube_time(const char *s)
{
	struct tm tm;
	const char *rest;
	double frac = 0;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	if (*rest == '.') {
		char *end;

		frac = strtod(rest, &end);
		rest = end;
	}
	if (*rest != 'Z')
		return -1;
	return (double)timegm(&tm) + frac;
}

/* ---- injectors ------------------------------------------------------------------------- */

int kube_inject_begin(struct inject_ctx *ctx, struct kube_target *t, struct cl_error *err)
{
	const struct params *p = ctx->params;
	bool allow = params_get(p, "allow_system_namespace") &&
		     params_bool(p, "allow_system_namespace", false);
	cJSON *j;

	kube_target_init(t, p);
	if (kube_system_namespace(t->ns) && !allow)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "namespace %s belongs to the cluster itself: the step must say "
				    "allow_system_namespace: true to change it",
				    t->ns);
	if (kube_target_pin(t, err))
		return -1;
	j = kube_target_to_json(t);
	if (!j)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "kube");
	cJSON_AddItemToObject(ctx->undo, "kube", j);
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "started_at");
	cJSON_AddNumberToObject(ctx->undo, "started_at", (double)time(NULL));
	return 0;
}

int kube_revert_target(const struct revert_ctx *ctx, struct kube_target *t)
{
	return kube_target_from_json(t, cJSON_GetObjectItemCaseSensitive(ctx->undo, "kube")) ? 1 :
											       0;
}

/* ---- verifier memo ------------------------------------------------------------------ */

struct kube_memo {
	bool have;
	double at;
	int rc;
	char obs[256];
	struct cl_error err;
	double first_check;
};

static struct kube_memo *memo_of(struct check_ctx *ctx)
{
	if (!ctx->state)
		ctx->state = calloc(1, sizeof(struct kube_memo));
	return ctx->state;
}

bool kube_memo_recall(struct check_ctx *ctx, int *rc, char *obs, size_t size, struct cl_error *err)
{
	struct kube_memo *m = memo_of(ctx);
	double now = ctx->now > 0 ? ctx->now : mono_now();

	if (!m)
		return false;
	if (!m->first_check)
		m->first_check = (double)time(NULL);
	if (!m->have || now - m->at >= KUBE_MEMO_SECONDS || now < m->at)
		return false;
	*rc = m->rc;
	snprintf(obs, size, "%s", m->obs);
	if (m->rc == CHECK_ERROR && err)
		*err = m->err;
	return true;
}

int kube_memo_store(struct check_ctx *ctx, int rc, const char *obs, const struct cl_error *err)
{
	struct kube_memo *m = memo_of(ctx);

	if (!m)
		return rc;
	m->have = true;
	m->at = ctx->now > 0 ? ctx->now : mono_now();
	m->rc = rc;
	snprintf(m->obs, sizeof(m->obs), "%s", obs ? obs : "");
	if (err)
		m->err = *err;
	else
		cl_error_clear(&m->err);
	return rc;
}

double kube_memo_first_check(struct check_ctx *ctx)
{
	struct kube_memo *m = memo_of(ctx);

	if (!m)
		return 0;
	if (!m->first_check)
		m->first_check = (double)time(NULL);
	return m->first_check;
}

void kube_memo_release(struct check_ctx *ctx)
{
	free(ctx->state);
	ctx->state = NULL;
}
