/* zombie-count: number of zombie (state Z) processes, optionally under a parent.
 *
 * A zombie is a child that exited and was not yet reaped by its parent: it is
 * gone when the parent calls wait() or dies (then init, or a subreaper, reaps
 * it). Counting only the children of the injection's processes, or of
 * processes with a given name, keeps unrelated zombies on the box out of it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/proc.h"

static const struct param_spec zombie_count_params[] = {
	{ "min", PARAM_INT, false, NULL, 0, 1000000, NULL,
	  "met when there are at least this many zombies (give this or max)" },
	{ "max", PARAM_INT, false, NULL, 0, 1000000, NULL,
	  "met when there are at most this many zombies (give this or min)" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "count only children of this inject step's processes (not with parent_name)" },
	{ "parent_name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "count only children of processes with this name (comm; not with injection)" },
	{ NULL },
};

/* Distinct parents listed in the observation. */
#define LIST_PARENTS 4

static int zombie_count_validate(const struct params *p, char *msg, size_t size)
{
	bool min = params_isset(p, "min"), max = params_isset(p, "max");

	if (min == max) {
		snprintf(msg, size, min ? "min and max exclude each other: give one"
					: "give exactly one of min or max");
		return -1;
	}
	if (params_isset(p, "injection") && params_isset(p, "parent_name")) {
		snprintf(msg, size, "injection and parent_name exclude each other: give at most one");
		return -1;
	}
	return 0;
}

static int zombie_count_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

struct zombie_walk {
	const pid_t *parents;        /* NULL = every zombie counts */
	size_t nparents;
	long count;
	pid_t ppid[LIST_PARENTS];    /* distinct parents seen, first few */
	size_t nppid;
	bool more_ppids;
};

static int zombie_one(const struct proc_stat *st, void *arg)
{
	struct zombie_walk *w = arg;
	bool ours = !w->parents;
	size_t i;

	if (st->state != 'Z')
		return 0;
	for (i = 0; !ours && i < w->nparents; i++)
		ours = w->parents[i] == st->ppid;
	if (!ours)
		return 0;
	w->count++;
	for (i = 0; i < w->nppid; i++)
		if (w->ppid[i] == st->ppid)
			return 0;
	if (w->nppid < LIST_PARENTS)
		w->ppid[w->nppid++] = st->ppid;
	else
		w->more_ppids = true;
	return 0;
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* The processes whose zombie children count; *n = -1 when every zombie does. */
static int zombie_parents(struct check_ctx *ctx, pid_t **out, long *n, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *pname = params_str(ctx->params, "parent_name", NULL);
	struct proc_set set = { 0 };
	struct proc_stat *st = NULL;
	long total, got;
	int rc = -1;

	*out = NULL;
	*n = -1;
	if (!inj && !pname)
		return 0;
	if (pname) {
		snprintf(set.comm, sizeof(set.comm), "%s", pname);
	} else {
		const cJSON *undo;

		undo = check_injection(ctx, "zombie-count", inj, err);
		if (!undo)
			return -1;
		if (proc_set_from_undo(&set, undo))
			return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	}
	/* Count, then fetch: the set may grow in between, which only drops the
	 * newest few from this check. */
	total = proc_set_find(&set, NULL, 0);
	if (total < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to list /proc");
		goto out;
	}
	st = calloc((size_t)total + 1, sizeof(*st));
	*out = calloc((size_t)total + 1, sizeof(**out));
	if (!st || !*out) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	got = proc_set_find(&set, st, (size_t)total);
	if (got < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to list /proc");
		goto out;
	}
	if (got > total)
		got = total;
	for (long i = 0; i < got; i++)
		(*out)[i] = st[i].pid;
	*n = got;
	rc = 0;
out:
	if (rc) {
		free(*out);
		*out = NULL;
	}
	free(st);
	proc_set_release(&set);
	return rc;
}

static int zombie_count_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	bool want_min = params_isset(ctx->params, "min");
	long long limit = want_min ? params_int(ctx->params, "min", 0)
				   : params_int(ctx->params, "max", 0);
	struct zombie_walk w = { 0 };
	pid_t *parents = NULL;
	long nparents;
	size_t len;
	int rc = CHECK_ERROR;

	if (zombie_parents(ctx, &parents, &nparents, err)) {
		cl_error_prefix(err, "zombie-count");
		goto out;
	}
	if (nparents >= 0) {
		w.parents = parents;
		w.nparents = (size_t)nparents;
	}
	if (proc_walk(zombie_one, &w) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "zombie-count: unable to list /proc");
		goto out;
	}

	len = (size_t)snprintf(obs, size, "%ld zombie%s", w.count, w.count == 1 ? "" : "s");
	if (w.nppid) {
		qsort(w.ppid, w.nppid, sizeof(w.ppid[0]), pid_cmp);
		len += (size_t)snprintf(obs + len, len < size ? size - len : 0, " under pid%s",
					w.nppid > 1 ? "s" : "");
		for (size_t i = 0; i < w.nppid && len < size; i++)
			len += (size_t)snprintf(obs + len, size - len, " %d", (int)w.ppid[i]);
		if (w.more_ppids && len < size)
			snprintf(obs + len, size - len, " ...");
	} else if (nparents == 1) {
		snprintf(obs + len, len < size ? size - len : 0, " under pid %d", (int)parents[0]);
	} else if (nparents > 1) {
		snprintf(obs + len, len < size ? size - len : 0, " under %ld processes", nparents);
	} else if (nparents == 0) {
		const char *pname = params_str(ctx->params, "parent_name", NULL);

		if (pname)
			snprintf(obs + len, len < size ? size - len : 0, " (no process named %s)",
				 pname);
		else
			snprintf(obs + len, len < size ? size - len : 0,
				 " (no process of injection %s alive)",
				 params_str(ctx->params, "injection", "?"));
	}
	rc = want_min ? (w.count >= limit ? CHECK_MET : CHECK_NOT_MET)
		      : (w.count <= limit ? CHECK_MET : CHECK_NOT_MET);
out:
	free(parents);
	return rc;
}

const struct verifier zombie_count_verifier = {
	.name = "zombie-count",
	.summary = "number of zombie (state Z) processes, optionally under a parent",
	.params = zombie_count_params,
	.supported = zombie_count_supported,
	.validate = zombie_count_validate,
	.check = zombie_count_check,
};
