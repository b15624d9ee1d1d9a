/* zombie-forker: a parent that forks children which exit and are never reaped.
 *
 * One parent worker named `name` forks children that exit at once. It never
 * waits for them and leaves SIGCHLD at its default action (ignoring it
 * explicitly, SIG_IGN, would make the kernel reap them), so each stays a
 * zombie (state Z, `name <defunct>`) for as long as the parent lives. Killing
 * a zombie does nothing; the fix is to stop the parent, after which the
 * zombies' new parent (the harness, a subreaper, or init) reaps them.
 *
 * Either `count` zombies at once (default 5), or one every
 * 1/rate_per_second seconds up to `max`; then the parent sleeps until killed.
 *
 * Undo data: {"owner": tag, "workers": [identity of the parent]}. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/worker.h"

#define ZOMBIE_DEFAULT_COUNT 5
#define ZOMBIE_REVERT_GRACE_MS 1000
/* fork() may fail for a while when the pid or process limit is reached. */
#define ZOMBIE_FORK_TRIES 20
#define ZOMBIE_FORK_PAUSE_NS 50000000L

static const struct param_spec zombie_forker_params[] = {
	{ "count", PARAM_INT, false, NULL, 1, 10000, NULL,
	  "zombies to leave at once (default 5; exclusive with rate_per_second)" },
	{ "rate_per_second", PARAM_NUMBER, false, NULL, 0.1, 1000, NULL,
	  "leave zombies at this rate instead, up to max (exclusive with count)" },
	{ "max", PARAM_INT, false, "100", 1, 10000, NULL,
	  "with rate_per_second: stop at this many zombies" },
	{ "name", PARAM_STRING, false, "zombied", 0, 15, NULL,
	  "process name of the parent and its zombies (at most 15 characters)" },
	{ NULL },
};

/* ---- the worker body ------------------------------------------------------ */

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One child that exits at once and is never waited for. 0, or -1 when fork
 * kept failing. */
static int zombie_make(void)
{
	for (int tries = 0; tries < ZOMBIE_FORK_TRIES; tries++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			return 0;
		sleep_s(ZOMBIE_FORK_PAUSE_NS / 1e9);
	}
	return -1;
}

/* Worker body. args: {"count": N} or {"rate_per_second": R, "max": N}. */
static int zombie_forker_worker(const cJSON *args)
{
	static const char *const fork_syscalls[] = { "clone", "clone3", "fork", "set_robust_list",
						     NULL };
	const cJSON *count = cJSON_GetObjectItemCaseSensitive(args, "count");
	const cJSON *rate = cJSON_GetObjectItemCaseSensitive(args, "rate_per_second");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(args, "max");
	struct sigaction dfl;
	struct cl_error err;

	cl_error_clear(&err);
	/* SIG_DFL without SA_NOCLDWAIT: exited children stay zombies. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, NULL);

	if (cJSON_IsNumber(rate) && rate->valuedouble > 0) {
		int limit = cJSON_IsNumber(max) ? (int)max->valuedouble : 100;
		double gap = 1.0 / rate->valuedouble;

		if (worker_lockdown(fork_syscalls, &err))
			return worker_exit_error(&err);
		for (int made = 0; made < limit; made++) {
			if (zombie_make())
				break;
			sleep_s(gap);
		}
	} else {
		int n = cJSON_IsNumber(count) ? (int)count->valuedouble : ZOMBIE_DEFAULT_COUNT;

		for (int made = 0; made < n; made++)
			if (zombie_make())
				break;
		if (worker_lockdown(NULL, &err))
			return worker_exit_error(&err);
	}
	for (;;)
		sleep_s(3600);
}

/* ---- the injector ---------------------------------------------------------- */

static int zombie_forker_supported(const struct params *params, char *why, size_t size)
{
	return worker_supported(why, size);
}

static int zombie_forker_validate(const struct params *p, char *msg, size_t size)
{
	const struct param_value *count = params_get(p, "count");
	const struct param_value *rate = params_get(p, "rate_per_second");
	const struct param_value *max = params_get(p, "max");

	if (count && count->set && rate && rate->set) {
		snprintf(msg, size, "count and rate_per_second are exclusive: give one");
		return -1;
	}
	if (max && max->given && !(rate && rate->set)) {
		snprintf(msg, size, "max only applies with rate_per_second");
		return -1;
	}
	return 0;
}

static int zombie_forker_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	char owner[256];
	struct worker_spec spec = {
		.kind = "zombie-forker",
		.name = params_str(ctx->params, "name", "zombied"),
		.owner = owner,
	};
	cJSON *args = cJSON_CreateObject();
	struct proc_ident id;
	int rc = -1;

	if (!args)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "zombie-forker");
	if (params_isset(ctx->params, "rate_per_second")) {
		cJSON_AddNumberToObject(args, "rate_per_second",
					params_number(ctx->params, "rate_per_second", 1));
		cJSON_AddNumberToObject(args, "max", (double)params_int(ctx->params, "max", 100));
	} else {
		cJSON_AddNumberToObject(args, "count",
					(double)params_int(ctx->params, "count",
							   ZOMBIE_DEFAULT_COUNT));
	}
	spec.args = args;
	worker_owner_tag(owner, sizeof(owner), ctx->run_id, ctx->step_id);
	if (worker_undo_init(ctx->undo, owner, err) || inject_ctx_save(ctx, err))
		goto out;
	if (worker_spawn(&spec, &id, NULL, err)) {
		cl_error_prefix(err, "zombie-forker");
		goto out;
	}
	if (worker_undo_add(ctx->undo, &id, err) || inject_ctx_save(ctx, err))
		goto out;
	rc = 0;
out:
	cJSON_Delete(args);
	return rc;
}

/* Zombies whose parent is pid: they are released when it dies. */
static int zombies_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || proc_stat_read((pid_t)pid, &st) < 0)
			continue;
		if (st.ppid == parent && st.state == 'Z')
			n++;
	}
	closedir(d);
	return n;
}

static int zombie_forker_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(ctx->undo, "workers");
	const cJSON *known = cJSON_IsArray(w) ? w : NULL;
	const cJSON *it;
	char fallback[256];
	int killed = 0, zombies = 0;

	ctx->report[0] = '\0';
	/* Count before: once the parent is gone they are someone else's. */
	cJSON_ArrayForEach (it, known) {
		struct proc_ident id;

		if (proc_ident_from_json(it, &id) == 0 && proc_ident_alive(&id))
			zombies += zombies_of(id.pid);
	}
	worker_owner_tag(fallback, sizeof(fallback), ctx->run_id, ctx->step_id);
	if (worker_undo_kill(ctx->undo, ctx->run_id && ctx->step_id ? fallback : NULL,
			     ZOMBIE_REVERT_GRACE_MS, &killed, err)) {
		cl_error_prefix(err, "zombie-forker");
		return -1;
	}
	if (killed)
		snprintf(ctx->report, sizeof(ctx->report),
			 "stopped %d forker process%s, releasing %d zombie%s to their reaper",
			 killed, killed == 1 ? "" : "es", zombies, zombies == 1 ? "" : "s");
	return 0;
}

const struct injector zombie_forker_injector = {
	.name = "zombie-forker",
	.summary = "a parent that forks children which exit and are never reaped",
	.params = zombie_forker_params,
	.supported = zombie_forker_supported,
	.validate = zombie_forker_validate,
	.apply = zombie_forker_apply,
	.revert = zombie_forker_revert,
	.worker = zombie_forker_worker,
};
