/* cpu-burner: burn CPU in workers at a target load, optionally respawned by a parent.
 *
 * Plain mode: `workers` burner processes named `name`, each spawned by the
 * harness. Respawn mode: one parent worker named `name` forks the burners
 * (also named `name`) and forks a new one whenever one dies, so killing a
 * burner does not help: the fix is to stop the parent, whose burners die
 * with it (PR_SET_PDEATHSIG).
 *
 * A burner holds its load with a feedback loop on its own CPU time: every
 * 100 ms period it computes until its CPU time since the start of the
 * measurement reaches load × elapsed, then sleeps to the period's end. The
 * error carried from one period to the next is bounded to one period, so a
 * burner that was starved (a contended core) does not then burn flat out to
 * catch up.
 *
 * Undo data: {"owner": tag, "workers": [identity of each spawned worker]}. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/worker.h"

#define BURNER_MAX_WORKERS 64
#define BURNER_PERIOD_S 0.1
#define BURNER_REVERT_GRACE_MS 1000
/* A burner that dies sooner than this after its start is respawned only
 * after a pause, so a burner that cannot run does not become a fork loop. */
#define BURNER_RESPAWN_MIN_LIFE_S 1.0
#define BURNER_RESPAWN_PAUSE_NS 200000000L

static const struct param_spec cpu_burner_params[] = {
	{ "workers", PARAM_INT, false, "1", 1, BURNER_MAX_WORKERS, NULL,
	  "number of burner processes; each burns load_percent of one core" },
	{ "load_percent", PARAM_INT, false, "100", 1, 100, NULL,
	  "target load of each worker, percent of one core (held within a few points)" },
	{ "name", PARAM_STRING, false, "cpuburn", 0, 15, NULL,
	  "process name ps, top and pkill -x see (at most 15 characters)" },
	{ "nice", PARAM_INT, false, "0", -20, 19, NULL,
	  "nice value of the workers (below 0 needs CAP_SYS_NICE)" },
	{ "respawn", PARAM_BOOL, false, "false", 0, 0, NULL,
	  "a parent restarts a killed burner: the fix is to stop the parent" },
	{ "parent_name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "with respawn: the restarting parent's name (default: name), so killing the "
	  "burners by name does not stop it" },
	{ NULL },
};

/* ---- the worker bodies --------------------------------------------------- */

static double clock_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t,
			       .tv_nsec = (long)((t - (double)(time_t)t) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Some tens of microseconds of user-mode arithmetic between clock reads, so
 * the burn shows as user time like a real runaway loop. */
static void burn_a_little(void)
{
	static volatile double x = 1.0;

	for (int i = 0; i < 20000; i++)
		x = x * 1.0000001 + 1e-9;
}

/* Burn at load_percent of one core until killed. */
static void __attribute__((noreturn)) burner_loop(int load_percent)
{
	const double load = load_percent / 100.0;
	const double period = BURNER_PERIOD_S;
	double t_anchor, c_anchor, next;

	if (load_percent >= 100)
		for (;;)
			burn_a_little();

	t_anchor = next = clock_s(CLOCK_MONOTONIC);
	c_anchor = clock_s(CLOCK_THREAD_CPUTIME_ID);
	for (;;) {
		double c = clock_s(CLOCK_THREAD_CPUTIME_ID);
		double debt = load * (next - t_anchor) - (c - c_anchor);
		double want, now;

		/* More than a period off (starved, or stopped with SIGSTOP):
		 * start measuring afresh rather than chase the past. */
		if (debt > period || debt < -period) {
			t_anchor = next;
			c_anchor = c;
			debt = 0;
		}
		want = load * period + debt;
		next += period;
		while (clock_s(CLOCK_THREAD_CPUTIME_ID) - c < want &&
		       clock_s(CLOCK_MONOTONIC) < next)
			burn_a_little();
		sleep_until(next);
		now = clock_s(CLOCK_MONOTONIC);
		if (now > next + period)
			next = now;
	}
}

static int args_int(const cJSON *args, const char *key, int lo, int hi, int *out,
		    struct cl_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
		return cl_error_set(err, CL_EXIT_USAGE, "cpu-burner worker: %s must be %d..%d", key,
				    lo, hi);
	*out = (int)v->valuedouble;
	return 0;
}

/* Fork one burner under the parent (already locked down: the child inherits
 * the filter). -1 if fork failed. */
static pid_t burner_fork(int load_percent, const char *name)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* Die with the parent: stopping it is the fix. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(0);
	if (name)
		worker_set_title(name);
	burner_loop(load_percent);
}

/* Respawn mode: keep `workers` burners alive until killed. SIGTERM keeps its
 * default action, so `kill PID` is a fix. */
static int burner_parent(int workers, int load_percent, const char *burner_name)
{
	static const char *const extra[] = { "clone", "clone3", "fork",	 "set_robust_list",
					     "wait4", "waitid", "prctl", NULL };
	pid_t kids[BURNER_MAX_WORKERS];
	double born[BURNER_MAX_WORKERS];
	struct cl_error err;

	cl_error_clear(&err);
	if (worker_lockdown(extra, &err))
		return worker_exit_error(&err);
	for (int i = 0; i < workers; i++)
		kids[i] = -1;
	for (;;) {
		pid_t pid;

		for (int i = 0; i < workers; i++) {
			if (kids[i] < 0) {
				kids[i] = burner_fork(load_percent, burner_name);
				born[i] = clock_s(CLOCK_MONOTONIC);
			}
		}
		pid = waitpid(-1, NULL, 0);
		if (pid < 0) {
			/* ECHILD: every fork failed; try again in a while. */
			if (errno == ECHILD)
				sleep_until(clock_s(CLOCK_MONOTONIC) + 1.0);
			continue;
		}
		for (int i = 0; i < workers; i++) {
			if (kids[i] != pid)
				continue;
			if (clock_s(CLOCK_MONOTONIC) - born[i] < BURNER_RESPAWN_MIN_LIFE_S) {
				struct timespec ts = { 0, BURNER_RESPAWN_PAUSE_NS };

				nanosleep(&ts, NULL);
			}
			kids[i] = -1;
		}
	}
}

/* Worker body. args: {"role": "burner"|"parent", "load_percent": N,
 * "workers": N (parent only)}. */
static int cpu_burner_worker(const cJSON *args)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(args, "role");
	struct cl_error err;
	int load, workers = 1;

	cl_error_clear(&err);
	if (args_int(args, "load_percent", 1, 100, &load, &err))
		return worker_exit_error(&err);
	if (cJSON_IsString(role) && !strcmp(role->valuestring, "parent")) {
		if (args_int(args, "workers", 1, BURNER_MAX_WORKERS, &workers, &err))
			return worker_exit_error(&err);
		const cJSON *bn = cJSON_GetObjectItemCaseSensitive(args, "burner_name");
		return burner_parent(workers, load, cJSON_IsString(bn) ? bn->valuestring : NULL);
	}
	if (worker_lockdown(NULL, &err))
		return worker_exit_error(&err);
	burner_loop(load);
}

/* ---- the injector --------------------------------------------------------- */

/* Names are what ps and pkill -x see: no '/' (exec would refuse it) and no
 * whitespace (pkill -x NAME could never match it). */
static int name_ok(const char *name)
{
	return name && !strpbrk(name, "/ \t\n");
}

static int cpu_burner_validate(const struct params *params, char *msg, size_t size)
{
	const char *pname = params_str(params, "parent_name", NULL);

	if (!name_ok(params_str(params, "name", "cpuburn"))) {
		snprintf(msg, size, "name must not contain '/' or whitespace");
		return -1;
	}
	if (pname && !name_ok(pname)) {
		snprintf(msg, size, "parent_name must not contain '/' or whitespace");
		return -1;
	}
	if (pname && !params_bool(params, "respawn", false)) {
		snprintf(msg, size, "parent_name needs respawn: true");
		return -1;
	}
	return 0;
}

static int cpu_burner_supported(const struct params *params, char *why, size_t size)
{
	return worker_supported(why, size);
}

static int cpu_burner_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const int workers = (int)params_int(ctx->params, "workers", 1);
	const int load = (int)params_int(ctx->params, "load_percent", 100);
	const bool respawn = params_bool(ctx->params, "respawn", false);
	char owner[256];
	struct worker_spec spec = {
		.kind = "cpu-burner",
		.name = params_str(ctx->params, "name", "cpuburn"),
		.owner = owner,
		.nice = (int)params_int(ctx->params, "nice", 0),
	};
	cJSON *args = cJSON_CreateObject();
	int rc = -1;

	if (!args)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "cpu-burner");
	worker_owner_tag(owner, sizeof(owner), ctx->run_id, ctx->step_id);
	/* Every process started below carries the tag: journal it first. */
	if (worker_undo_init(ctx->undo, owner, err) || inject_ctx_save(ctx, err))
		goto out;
	cJSON_AddStringToObject(args, "role", respawn ? "parent" : "burner");
	cJSON_AddNumberToObject(args, "load_percent", load);
	if (respawn) {
		const char *pname = params_str(ctx->params, "parent_name", NULL);
		cJSON_AddNumberToObject(args, "workers", workers);
		if (pname && strcmp(pname, spec.name)) {
			cJSON_AddStringToObject(args, "burner_name", spec.name);
			spec.name = pname;
		}
	}
	spec.args = args;
	for (int i = 0; i < (respawn ? 1 : workers); i++) {
		struct proc_ident id;

		if (worker_spawn(&spec, &id, NULL, err)) {
			cl_error_prefix(err, "cpu-burner");
			goto out;
		}
		if (worker_undo_add(ctx->undo, &id, err) || inject_ctx_save(ctx, err))
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(args);
	return rc;
}

static int cpu_burner_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	char fallback[256];
	int killed = 0;

	ctx->report[0] = '\0';
	worker_owner_tag(fallback, sizeof(fallback), ctx->run_id, ctx->step_id);
	if (worker_undo_kill(ctx->undo, ctx->run_id && ctx->step_id ? fallback : NULL,
			     BURNER_REVERT_GRACE_MS, &killed, err)) {
		cl_error_prefix(err, "cpu-burner");
		return -1;
	}
	if (killed)
		snprintf(ctx->report, sizeof(ctx->report), "stopped %d worker%s", killed,
			 killed == 1 ? "" : "s");
	return 0;
}

const struct injector cpu_burner_injector = {
	.name = "cpu-burner",
	.summary = "burn CPU in workers at a target load, optionally respawned by a parent",
	.params = cpu_burner_params,
	.supported = cpu_burner_supported,
	.validate = cpu_burner_validate,
	.apply = cpu_burner_apply,
	.revert = cpu_burner_revert,
	.worker = cpu_burner_worker,
};
