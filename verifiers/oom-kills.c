/* oom-kills: OOM kills in a memory cgroup: a count reached, or none lately.
 *
 * The kernel counts every process its OOM killer kills in a cgroup (and the
 * cgroup's descendants) in the "oom_kill" line of memory.oom_control (v1)
 * or memory.events (v2). The cgroup is an inject step's (its undo data
 * records "cgroup": {"path", "version"}, as memory-hog writes it), or a
 * directory given by path.
 *
 * Two modes. `min`: met once at least that many kills were counted: the
 * symptom of an OOM-kill loop. `window_seconds`: met once no new kill was
 * counted for that long and, with `stable` (the default), the cgroup's
 * processes stayed the same too (same pids, same start times): a
 * supervisor's restart after a kill counts as not stable, so a window that
 * falls into a restart backoff is not mistaken for a fix. The window starts
 * at the first check. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/cgroup.h"
#include "sys/proc.h"

#define MAX_MEMBERS 1024

static const struct param_spec oom_kills_params[] = {
	{ "min", PARAM_INT, false, NULL, 1, 1000000, NULL,
	  "met once at least this many OOM kills were counted in the cgroup (give this or "
	  "window_seconds)" },
	{ "window_seconds", PARAM_NUMBER, false, NULL, 1, 3600, NULL,
	  "met once no new OOM kill was counted for this many seconds" },
	{ "stable", PARAM_BOOL, false, "true", 0, 0, NULL,
	  "with window_seconds: the cgroup's processes must not change either (no restart)" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "the cgroup this inject step made (give this or cgroup)" },
	{ "cgroup", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a memory cgroup directory, e.g. /sys/fs/cgroup/memory/NAME or /sys/fs/cgroup/NAME" },
	{ NULL },
};

struct oom_state {
	bool init;
	unsigned long long kills; /* at the last change */
	uint64_t members;	  /* fingerprint of the processes in the cgroup */
	long nmembers;
	double since;	    /* monotonic seconds of the last change */
	bool last_was_kill; /* what that change was */
};

static int oom_kills_validate(const struct params *p, char *msg, size_t size)
{
	bool min = params_isset(p, "min"), win = params_isset(p, "window_seconds");
	bool inj = params_isset(p, "injection"), cg = params_isset(p, "cgroup");
	const struct param_value *stable = params_get(p, "stable");

	if (min == win) {
		snprintf(msg, size,
			 min ? "min and window_seconds exclude each other: give one" :
			       "give exactly one of min or window_seconds");
		return -1;
	}
	if (inj == cg) {
		snprintf(msg, size,
			 inj ? "injection and cgroup exclude each other: give one" :
			       "give exactly one of injection or cgroup");
		return -1;
	}
	if (stable && stable->given && !win) {
		snprintf(msg, size, "stable only applies with window_seconds");
		return -1;
	}
	if (cg && params_str(p, "cgroup", "")[0] != '/') {
		snprintf(msg, size, "cgroup must be an absolute path");
		return -1;
	}
	return 0;
}

static int oom_kills_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

/* The cgroup the parameters name. */
static int oom_cgroup(struct check_ctx *ctx, struct memcg *cg, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const cJSON *undo;

	if (!inj) {
		const char *path = params_str(ctx->params, "cgroup", "");

		memset(cg, 0, sizeof(*cg));
		if (strlen(path) >= sizeof(cg->path))
			return cl_error_set(err, CL_EXIT_USAGE, "cgroup path is too long");
		snprintf(cg->path, sizeof(cg->path), "%s", path);
		cg->version = memcg_fs_version(path);
		if (cg->version == CGROUP_NOWHERE)
			return cl_error_set(err, CL_EXIT_USAGE, "'%s' is not a cgroup directory",
					    path);
		return 0;
	}
	undo = check_injection(ctx, "oom-kills", inj, err);
	if (!undo)
		return -1;
	if (memcg_from_json(cJSON_GetObjectItemCaseSensitive(undo, "cgroup"), cg))
		return cl_error_set(err, CL_EXIT_USAGE, "inject step '%s' made no memory cgroup",
				    inj);
	return 0;
}

/* An order-independent fingerprint of the processes in the cgroup: pid and
 * start time of each, so a restart under a recycled pid still shows. */
static uint64_t members_fingerprint(const pid_t *pids, long n)
{
	uint64_t fp = 0;

	for (long i = 0; i < n && i < MAX_MEMBERS; i++) {
		struct proc_stat st;
		uint64_t x = (uint64_t)pids[i];

		if (proc_stat_read(pids[i], &st) == 0)
			x ^= (uint64_t)st.start_time << 24;
		/* splitmix64 finaliser: a sum of mixed values ignores order. */
		x += 0x9e3779b97f4a7c15ULL;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		fp += x ^ (x >> 31);
	}
	return fp;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

static int oom_kills_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	struct oom_state *s = ctx->state;
	bool stable = params_bool(ctx->params, "stable", true);
	char lim_text[32] = "?", use_text[32] = "?";
	unsigned long long kills = 0, limit, usage;
	pid_t *pids = NULL;
	struct memcg cg;
	struct cl_error e;
	long n;
	int rc = CHECK_ERROR;

	if (oom_cgroup(ctx, &cg, err))
		goto out;
	pids = calloc(MAX_MEMBERS, sizeof(*pids));
	if (!pids) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	cl_error_clear(&e);
	if (memcg_oom_kills(&cg, &kills, &e)) {
		/* Removed (after the processes in it were stopped): no more
		 * kills can happen in it. */
		if (e.errnum != ENOENT || params_isset(ctx->params, "min")) {
			*err = e;
			goto out;
		}
		n = 0;
		kills = s ? s->kills : 0;
	} else {
		n = memcg_procs(&cg, pids, MAX_MEMBERS, &e);
		if (n < 0)
			n = 0;
		if (memcg_limit_get(&cg, &limit, &e) == 0)
			memcg_bytes_text(limit, lim_text, sizeof(lim_text));
		if (memcg_usage(&cg, &usage, &e) == 0)
			memcg_bytes_text(usage, use_text, sizeof(use_text));
	}

	if (params_isset(ctx->params, "min")) {
		long long want = params_int(ctx->params, "min", 1);

		snprintf(obs, size, "%llu OOM kill%s in %s (limit %s, %s in use, %ld process%s)",
			 kills, kills == 1 ? "" : "s", base_name(cg.path), lim_text, use_text, n,
			 n == 1 ? "" : "es");
		rc = kills >= (unsigned long long)want ? CHECK_MET : CHECK_NOT_MET;
		goto out;
	}

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			cl_error_set(err, CL_EXIT_USAGE, "out of memory");
			goto out;
		}
		ctx->state = s;
	}
	{
		uint64_t fp = members_fingerprint(pids, n);
		double window = params_number(ctx->params, "window_seconds", 10);
		double quiet;

		if (!s->init) {
			s->init = true;
			s->kills = kills;
			s->members = fp;
			s->nmembers = n;
			s->since = ctx->now;
		} else if (kills != s->kills || (stable && fp != s->members)) {
			s->last_was_kill = kills != s->kills;
			s->kills = kills;
			s->members = fp;
			s->nmembers = n;
			s->since = ctx->now;
		}
		quiet = ctx->now - s->since;
		if (quiet >= window) {
			snprintf(
				obs, size,
				"no new OOM kill%s for %.0f s (%llu in all), %ld process%s, limit %s",
				stable ? " or restart" : "", quiet, kills, n, n == 1 ? "" : "es",
				lim_text);
			rc = CHECK_MET;
		} else {
			snprintf(obs, size,
				 "%s %.1f s ago (%llu OOM kill%s in all), limit %s, %s in use",
				 s->last_was_kill ? "last OOM kill" : "watching, last change",
				 quiet, kills, kills == 1 ? "" : "s", lim_text, use_text);
			rc = CHECK_NOT_MET;
		}
	}
out:
	if (rc == CHECK_ERROR)
		cl_error_prefix(err, "oom-kills");
	free(pids);
	return rc;
}

static void oom_kills_release(struct check_ctx *ctx)
{
	free(ctx->state);
	ctx->state = NULL;
}

const struct verifier oom_kills_verifier = {
	.name = "oom-kills",
	.summary = "OOM kills counted in a memory cgroup: at least N, or none for a window",
	.params = oom_kills_params,
	.supported = oom_kills_supported,
	.validate = oom_kills_validate,
	.check = oom_kills_check,
	.release = oom_kills_release,
};
