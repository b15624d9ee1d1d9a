/* Starting tests/k8s/fake_apiserver.py from a cmocka test, for the unit tests
 * of the Kubernetes layer (tests/unit/test_kube*.c include this file).
 *
 * fake_k8s_start() runs `python3 $CHAOSLAB_SRC/tests/k8s/fake_apiserver.py
 * --kubeconfig DIR/kubeconfig --speed N [ARGS...]` in a temporary directory,
 * waits for its "ready PORT" line, and points this process's KUBECONFIG and
 * KUBECACHEDIR there, so the real kubectl (and through it the code under
 * test) talks to it. fake_k8s_sh() runs a shell command with that
 * environment (kubectl apply of the demo manifests, checks with kubectl
 * itself). fake_k8s_stop() ends the server and removes the directory.
 *
 * Static functions: each test file gets its own copy. */
#ifndef CHAOSLAB_TEST_FAKE_K8S_H
#define CHAOSLAB_TEST_FAKE_K8S_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct fake_k8s {
	pid_t pid;
	int port;
	char dir[256];
	char kubeconfig[320];
	char why[256]; /* why it could not start: the skip reason */
};

/* 0 when the tools are there: python3 and kubectl on PATH, CHAOSLAB_SRC set. */
static int fake_k8s_available(char *why, size_t size)
{
	if (!getenv("CHAOSLAB_SRC")) {
		snprintf(why, size, "CHAOSLAB_SRC is not set (run through ctest)");
		return -1;
	}
	if (system("command -v python3 >/dev/null 2>&1")) {
		snprintf(why, size, "python3 is needed for the fake API server");
		return -1;
	}
	if (system("command -v kubectl >/dev/null 2>&1")) {
		snprintf(why, size, "kubectl is needed (the tests drive the real kubectl)");
		return -1;
	}
	return 0;
}

/* Start a fake API server; extra is a NULL-terminated list of more
 * arguments (--deny ..., --no-seed) or NULL. 0, or -1 with f->why set. */
static int fake_k8s_start(struct fake_k8s *f, double speed, const char *const *extra)
{
	char script[512], speedarg[32], line[128];
	const char *argv[24];
	int pfd[2], n = 0;
	FILE *out;

	memset(f, 0, sizeof(*f));
	if (fake_k8s_available(f->why, sizeof(f->why)))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/chaoslab-k8s.XXXXXX");
	if (!mkdtemp(f->dir)) {
		snprintf(f->why, sizeof(f->why), "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(f->kubeconfig, sizeof(f->kubeconfig), "%s/kubeconfig", f->dir);
	snprintf(script, sizeof(script), "%s/tests/k8s/fake_apiserver.py", getenv("CHAOSLAB_SRC"));
	snprintf(speedarg, sizeof(speedarg), "%g", speed);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = "--kubeconfig";
	argv[n++] = f->kubeconfig;
	argv[n++] = "--speed";
	argv[n++] = speedarg;
	for (size_t i = 0; extra && extra[i] && n < 22; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe(pfd))
		return -1;
	f->pid = fork();
	if (f->pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		setpgid(0, 0);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	out = fdopen(pfd[0], "r");
	if (!out || !fgets(line, sizeof(line), out) || sscanf(line, "ready %d", &f->port) != 1) {
		snprintf(f->why, sizeof(f->why), "the fake API server did not start");
		if (out)
			fclose(out);
		if (f->pid > 0) {
			kill(f->pid, SIGKILL);
			waitpid(f->pid, NULL, 0);
		}
		f->pid = 0;
		return -1;
	}
	fclose(out);
	setenv("KUBECONFIG", f->kubeconfig, 1);
	{
		char cache[320];

		snprintf(cache, sizeof(cache), "%s/cache", f->dir);
		setenv("KUBECACHEDIR", cache, 1);
	}
	unsetenv("CHAOSLAB_KUBE_CONTEXT");
	return 0;
}

/* Run a shell command (printf-style) with the fake's environment; returns
 * its exit status. */
static int fake_k8s_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fake_k8s_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The demo app in prod-sim, rolled out. 0 or the failing command's status. */
static int fake_k8s_demo(void)
{
	return fake_k8s_sh(
		"kubectl apply -f \"$CHAOSLAB_SRC/manifests/demo/\" >/dev/null && "
		"kubectl -n prod-sim rollout status deployment/api --timeout=60s >/dev/null && "
		"kubectl -n prod-sim rollout status deployment/web --timeout=60s >/dev/null");
}

static void fake_k8s_stop(struct fake_k8s *f)
{
	if (f->pid > 0) {
		bool gone = false;

		kill(f->pid, SIGTERM);
		for (int i = 0; i < 100 && !gone; i++) {
			gone = waitpid(f->pid, NULL, WNOHANG) == f->pid;
			if (!gone)
				usleep(20000);
		}
		if (!gone) {
			kill(f->pid, SIGKILL);
			waitpid(f->pid, NULL, 0);
		}
		f->pid = 0;
	}
	if (f->dir[0]) {
		char cmd[320];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd)) {
			/* a leftover temporary directory is not a test failure */
		}
		f->dir[0] = '\0';
	}
}

#endif
