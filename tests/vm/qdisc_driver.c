/* A small driver for the qdisc injectors (netem, bandwidth) and the qdisc
 * verifier, linked with chaoslab_core so it runs the very code a drill runs:
 * parameters parsed and validated from JSON, supported(), apply() and
 * revert() through the descriptors, with the undo data kept in a file the
 * way the engine journals it. The VM test (tests/vm/) runs it inside a kernel
 * that has sch_netem; tests/bench/qdisc_bench.sh times it against tc.
 *
 *   qdisc_driver apply INJECTOR JSON UNDOFILE
 *	validate, supported() and apply(); the undo data goes to UNDOFILE
 *	(also after a failed apply, for revert). Exit 0, or 1 with the error.
 *   qdisc_driver revert INJECTOR UNDOFILE
 *	revert() from UNDOFILE; prints its report. Exit 0 or 1.
 *   qdisc_driver check JSON
 *	the qdisc verifier with these parameters; prints "met: OBS" or
 *	"not met: OBS". Exit 0 met, 1 not met, 2 error.
 *   qdisc_driver bench N INJECTOR JSON IFACE NETNS TCARGS...
 *	N rounds of apply + revert through the injector, N rounds of add +
 *	delete through sys/netlink.h on one connection, N rounds of
 *	`tc [-n NETNS] qdisc add dev IFACE root handle c1ab: TCARGS` + `tc [-n
 *	NETNS] qdisc del dev IFACE root` (NETNS "-": the caller's namespace);
 *	prints the median and 95th percentile of each and the ratios. The
 *	injector's parameters must name the same interface (the lab's end, or
 *	interface + netns). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/doc.h"
#include "core/registry.h"
#include "sys/features.h"
#include "sys/netlink.h"

#define RUN_ID "qdisc-driver"
#define STEP_ID "fault"
#define BENCH_MAX 100000

static int usage(void)
{
	fprintf(stderr, "usage: qdisc_driver apply INJECTOR JSON UNDOFILE\n"
			"       qdisc_driver revert INJECTOR UNDOFILE\n"
			"       qdisc_driver check JSON\n"
			"       qdisc_driver bench N INJECTOR JSON IFACE NETNS|- TCARGS...\n");
	return 2;
}

static int parse_params(struct params *p, const struct param_spec *spec, const char *json,
			struct cl_error *err)
{
	struct doc_node *doc = doc_parse_json("(args)", json, strlen(json), err);
	int rc;

	if (!doc)
		return -1;
	rc = params_from_doc(p, spec, doc, "(args)", NULL, "with", err);
	doc_free(doc);
	return rc;
}

static int write_undo(const char *path, const cJSON *undo)
{
	char *text = cJSON_PrintUnformatted(undo);
	FILE *f = fopen(path, "w");
	int rc = -1;

	if (f && text && fputs(text, f) >= 0 && fputc('\n', f) != EOF)
		rc = 0;
	if (f && fclose(f))
		rc = -1;
	free(text);
	return rc;
}

static cJSON *read_undo(const char *path)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return cJSON_Parse(buf);
}

static cJSON *fresh_undo(void)
{
	cJSON *undo = cJSON_CreateObject();

	cJSON_AddStringToObject(undo, "run", RUN_ID);
	cJSON_AddStringToObject(undo, "step", STEP_ID);
	return undo;
}

/* Validate and check support; 0, or -1 with the reason printed. */
static int prepare(const struct injector *in, struct params *p, const char *json)
{
	struct cl_error err;
	char msg[768];

	cl_error_clear(&err);
	if (parse_params(p, in->params, json, &err)) {
		fprintf(stderr, "qdisc_driver: %s\n", err.msg);
		return -1;
	}
	if (in->validate && in->validate(p, msg, sizeof(msg))) {
		fprintf(stderr, "qdisc_driver: %s: %s\n", in->name, msg);
		return -1;
	}
	if (in->supported(p, msg, sizeof(msg))) {
		fprintf(stderr, "qdisc_driver: %s is not supported here: %s\n", in->name, msg);
		return -1;
	}
	return 0;
}

static int do_apply(const struct injector *in, struct params *p, cJSON *undo, struct cl_error *err)
{
	struct inject_ctx ctx = { .run_id = RUN_ID,
				  .step_id = STEP_ID,
				  .state_dir = "/nonexistent",
				  .params = p,
				  .undo = undo };

	return in->apply(&ctx, err);
}

static int do_revert(const struct injector *in, const cJSON *undo, char *report, size_t size,
		     struct cl_error *err)
{
	struct revert_ctx ctx = {
		.run_id = RUN_ID, .step_id = STEP_ID, .state_dir = "/nonexistent", .undo = undo
	};
	int rc = in->revert(&ctx, err);

	snprintf(report, size, "%s", ctx.report);
	return rc;
}

static int cmd_apply(const struct injector *in, const char *json, const char *undo_path)
{
	struct params p = { 0 };
	struct cl_error err;
	cJSON *undo = fresh_undo();
	int rc = 1;

	cl_error_clear(&err);
	if (prepare(in, &p, json))
		goto out;
	if (do_apply(in, &p, undo, &err)) {
		fprintf(stderr, "qdisc_driver: apply: %s\n", err.msg);
		write_undo(undo_path, undo);
		goto out;
	}
	if (write_undo(undo_path, undo)) {
		fprintf(stderr, "qdisc_driver: unable to write %s\n", undo_path);
		goto out;
	}
	printf("applied %s\n", in->name);
	rc = 0;
out:
	params_release(&p);
	cJSON_Delete(undo);
	return rc;
}

static int cmd_revert(const struct injector *in, const char *undo_path)
{
	cJSON *undo = read_undo(undo_path);
	struct cl_error err;
	char report[256];
	int rc = 1;

	cl_error_clear(&err);
	if (!undo) {
		fprintf(stderr, "qdisc_driver: no undo data in %s\n", undo_path);
		return 1;
	}
	if (do_revert(in, undo, report, sizeof(report), &err))
		fprintf(stderr, "qdisc_driver: revert: %s\n", err.msg);
	else
		rc = 0;
	if (!rc)
		printf("reverted: %s\n", report[0] ? report : "(nothing to undo)");
	cJSON_Delete(undo);
	return rc;
}

static int cmd_check(const char *json)
{
	const struct verifier *v = verifier_find("qdisc");
	struct check_ctx ctx = { 0 };
	struct params p = { 0 };
	struct cl_error err;
	char obs[512] = "", msg[256];
	int r;

	cl_error_clear(&err);
	if (!v || parse_params(&p, v->params, json, &err)) {
		fprintf(stderr, "qdisc_driver: %s\n", v ? err.msg : "no qdisc verifier");
		return 2;
	}
	if (v->validate && v->validate(&p, msg, sizeof(msg))) {
		fprintf(stderr, "qdisc_driver: qdisc: %s\n", msg);
		params_release(&p);
		return 2;
	}
	ctx.params = &p;
	r = v->check(&ctx, obs, sizeof(obs), &err);
	params_release(&p);
	if (r == CHECK_ERROR) {
		fprintf(stderr, "qdisc_driver: check: %s\n", err.msg);
		return 2;
	}
	printf("%s: %s\n", r == CHECK_MET ? "met" : "not met", obs);
	return r == CHECK_MET ? 0 : 1;
}

/* ---- bench --------------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double median, p95, mean;
};

static struct stats stats_of(double *v, int n)
{
	struct stats s = { 0 };
	double sum = 0;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (int i = 0; i < n; i++)
		sum += v[i];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p95 = v[(int)((n - 1) * 0.95 + 0.5)];
	s.mean = sum / n;
	return s;
}

/* Run argv (tc) with output discarded; its exit status, -1 if it could not
 * run. */
static int run(char *const *argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int cmd_bench(int n, const struct injector *in, const char *json, const char *ifname,
		     const char *netns, int ntc, char **tcargs)
{
	double *t_inj = calloc((size_t)n, sizeof(double)),
	       *t_nl = calloc((size_t)n, sizeof(double));
	double *t_tc = calloc((size_t)n, sizeof(double));
	char *add[64], *del[16], report[256];
	struct params p = { 0 };
	struct cl_error err;
	struct qdisc_target t;
	struct qdisc_where w;
	struct nlconn *c = NULL;
	struct stats si, sn, st;
	int a = 0, d = 0, rc = 1;
	const bool in_ns = strcmp(netns, "-") != 0;

	cl_error_clear(&err);
	if (!t_inj || !t_nl || !t_tc || ntc > 48 || prepare(in, &p, json))
		goto out;

	/* 1. The injector: what a drill's apply and revert cost. */
	for (int i = 0; i < n; i++) {
		cJSON *undo = fresh_undo();
		double t0 = now_ms();

		if (do_apply(in, &p, undo, &err) ||
		    do_revert(in, undo, report, sizeof(report), &err)) {
			fprintf(stderr, "qdisc_driver: bench round %d: %s\n", i, err.msg);
			cJSON_Delete(undo);
			goto out;
		}
		t_inj[i] = now_ms() - t0;
		cJSON_Delete(undo);
	}

	/* 2. The netlink layer alone, on one connection: the requests themselves. */
	w = (struct qdisc_where){ .interface = ifname,
				  .netns = in_ns ? netns : NULL,
				  .allow_host = true };
	if (qdisc_target_open(&w, &t, &c, &err)) {
		fprintf(stderr, "qdisc_driver: %s\n", err.msg);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct netem_opts no = { .delay_us = 100000, .limit = 15000 };
		struct tbf_opts to = { .rate = 125000, .burst = 32768, .latency_us = 100000 };
		double t0 = now_ms();
		int r = !strcmp(in->name, "netem") ?
				qdisc_netem_add(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, &no, &err) :
				qdisc_tbf_add(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, &to, &err);

		if (r || qdisc_delete_root(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, NULL, &err)) {
			fprintf(stderr, "qdisc_driver: bench netlink round %d: %s\n", i, err.msg);
			goto out;
		}
		t_nl[i] = now_ms() - t0;
	}

	/* 3. tc, as an engineer (or a script) would run it. */
	add[a++] = "tc";
	if (in_ns) {
		add[a++] = "-n";
		add[a++] = (char *)netns;
	}
	for (int i = 0; i < a; i++)
		del[d++] = add[i];
	add[a++] = "qdisc";
	add[a++] = "add";
	add[a++] = "dev";
	add[a++] = (char *)ifname;
	add[a++] = "root";
	add[a++] = "handle";
	add[a++] = "c1ab:";
	for (int i = 0; i < ntc; i++)
		add[a++] = tcargs[i];
	add[a] = NULL;
	del[d++] = "qdisc";
	del[d++] = "del";
	del[d++] = "dev";
	del[d++] = (char *)ifname;
	del[d++] = "root";
	del[d] = NULL;
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();

		if (run(add) || run(del)) {
			fprintf(stderr, "qdisc_driver: bench: tc failed in round %d\n", i);
			goto out;
		}
		t_tc[i] = now_ms() - t0;
	}

	si = stats_of(t_inj, n);
	sn = stats_of(t_nl, n);
	st = stats_of(t_tc, n);
	printf("bench %s n=%d (apply + revert, milliseconds)\n", in->name, n);
	printf("  chaoslab injector   median %8.3f  p95 %8.3f  mean %8.3f\n", si.median, si.p95,
	       si.mean);
	printf("  chaoslab netlink    median %8.3f  p95 %8.3f  mean %8.3f\n", sn.median, sn.p95,
	       sn.mean);
	printf("  tc add + tc del     median %8.3f  p95 %8.3f  mean %8.3f\n", st.median, st.p95,
	       st.mean);
	printf("  ratio tc/injector   median %.2f  p95 %.2f\n", st.median / si.median,
	       st.p95 / si.p95);
	printf("  ratio tc/netlink    median %.2f  p95 %.2f\n", st.median / sn.median,
	       st.p95 / sn.p95);
	rc = 0;
out:
	nlconn_close(c);
	params_release(&p);
	free(t_inj);
	free(t_nl);
	free(t_tc);
	return rc;
}

int main(int argc, char **argv)
{
	const struct injector *in;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "check"))
		return cmd_check(argv[2]);
	if (!strcmp(argv[1], "bench")) {
		int n = argc > 2 ? atoi(argv[2]) : 0;

		if (argc < 8 || n < 1 || n > BENCH_MAX || !(in = injector_find(argv[3])))
			return usage();
		return cmd_bench(n, in, argv[4], argv[5], argv[6], argc - 7, argv + 7);
	}
	in = injector_find(argv[2]);
	if (!in) {
		fprintf(stderr, "qdisc_driver: no injector '%s'\n", argv[2]);
		return 2;
	}
	if (!strcmp(argv[1], "apply") && argc == 5)
		return cmd_apply(in, argv[3], argv[4]);
	if (!strcmp(argv[1], "revert") && argc == 4)
		return cmd_revert(in, argv[3]);
	return usage();
}
