/* process-rss: resident memory of an injection's processes, or of those with
 * a name, against a bound.
 *
 * RSS is the memory a process has in RAM now (VmRSS in /proc/PID/status:
 * anonymous, file-backed and shared pages), which is what `ps -o rss` and
 * top's RES show, unlike VSZ, which counts address space that may never be
 * touched. The check sums it over the live processes of the set; with none
 * alive the sum is 0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/proc.h"

#define MIB (1024.0 * 1024.0)
/* Processes named in the observation, largest first. */
#define LIST_PROCS 3

static const struct param_spec process_rss_params[] = {
	{ "min_mib", PARAM_NUMBER, false, NULL, 0, 16777216, NULL,
	  "met when the processes hold at least this many MiB resident, summed (give this or "
	  "max_mib)" },
	{ "max_mib", PARAM_NUMBER, false, NULL, 0, 16777216, NULL,
	  "met when they hold at most this many MiB resident, summed" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "the processes of this inject step: its owner tag or journaled pids (give one of "
	  "injection, name, service)" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "processes with this name (comm, as pgrep -x matches it)" },
	{ "service", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "a lab service of this scenario, by its lab: name" },
	{ NULL },
};

static int process_rss_validate(const struct params *p, char *msg, size_t size)
{
	bool min = params_isset(p, "min_mib"), max = params_isset(p, "max_mib");
	int n = params_isset(p, "injection") + params_isset(p, "name") + params_isset(p, "service");

	if (min == max) {
		snprintf(msg, size,
			 min ? "min_mib and max_mib exclude each other: give one" :
			       "give exactly one of min_mib or max_mib");
		return -1;
	}
	if (n != 1) {
		snprintf(msg, size,
			 n ? "injection, name and service exclude each other: give one" :
			     "give exactly one of injection, name or service");
		return -1;
	}
	return 0;
}

static int process_rss_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

/* Resident bytes of pid: VmRSS from /proc/PID/status, else the resident
 * field of /proc/PID/statm. 0 for a process without memory (a kernel thread,
 * a zombie); -1 when it is gone. */
static long long rss_bytes(pid_t pid)
{
	char path[64], line[128];
	long long kb = -1, pages, resident;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb >= 0)
		return kb * 1024;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

/* The set the parameters name; -1 with err. */
static int rss_set(struct check_ctx *ctx, struct proc_set *set, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *svc = params_str(ctx->params, "service", NULL);
	const cJSON *undo;

	memset(set, 0, sizeof(*set));
	if (name) {
		snprintf(set->comm, sizeof(set->comm), "%s", name);
		return 0;
	}
	if (svc) {
		if (!ctx->env || !ctx->env->service_pid)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "service '%s' can only be looked up during a drill",
					    svc);
		set->pid = ctx->env->service_pid(ctx->env->opaque, svc);
		if (set->pid <= 0)
			set->pid = -1; /* not running: matches nothing */
		return 0;
	}
	undo = check_injection(ctx, "process-rss", inj, err);
	if (!undo)
		return -1;
	if (proc_set_from_undo(set, undo))
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	return 0;
}

struct rss_top {
	pid_t pid;
	char comm[16];
	long long bytes;
};

static int process_rss_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	bool want_min = params_isset(ctx->params, "min_mib");
	double bound = want_min ? params_number(ctx->params, "min_mib", 0) :
				  params_number(ctx->params, "max_mib", 0);
	struct rss_top top[LIST_PROCS];
	struct proc_stat *st = NULL;
	struct proc_set set;
	long long sum = 0;
	long n, alive = 0;
	size_t ntop = 0, len;
	int rc = CHECK_ERROR;

	if (rss_set(ctx, &set, err))
		goto out;
	/* Count, then fetch: the set may grow in between, which only leaves
	 * the newest out of this check. */
	n = proc_set_find(&set, NULL, 0);
	if (n >= 0) {
		st = calloc((size_t)n + 1, sizeof(*st));
		if (!st) {
			cl_error_set(err, CL_EXIT_USAGE, "out of memory");
			goto out;
		}
		n = proc_set_find(&set, st, (size_t)n + 1);
	}
	if (n < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to list /proc");
		goto out;
	}
	for (long i = 0; i < n; i++) {
		long long b = rss_bytes(st[i].pid);
		size_t at;

		if (b < 0)
			continue;
		alive++;
		sum += b;
		/* Keep the largest few, largest first. */
		for (at = ntop; at > 0 && top[at - 1].bytes < b; at--)
			if (at < LIST_PROCS)
				top[at] = top[at - 1];
		if (at < LIST_PROCS) {
			top[at].pid = st[i].pid;
			top[at].bytes = b;
			snprintf(top[at].comm, sizeof(top[at].comm), "%s", st[i].comm);
			if (ntop < LIST_PROCS)
				ntop++;
		}
	}
	if (!alive) {
		snprintf(obs, size, "no process alive (0 MiB resident)");
	} else {
		len = (size_t)snprintf(obs, size,
				       "%.0f MiB resident in %ld process%s:", (double)sum / MIB,
				       alive, alive == 1 ? "" : "es");
		for (size_t i = 0; i < ntop && len < size; i++)
			len += (size_t)snprintf(obs + len, size - len, "%s %s[%d] %.0f MiB",
						i ? "," : "", top[i].comm, (int)top[i].pid,
						(double)top[i].bytes / MIB);
		if ((size_t)alive > ntop && len < size)
			snprintf(obs + len, size - len, ", ...");
	}
	rc = want_min ? ((double)sum / MIB >= bound ? CHECK_MET : CHECK_NOT_MET) :
			((double)sum / MIB <= bound ? CHECK_MET : CHECK_NOT_MET);
out:
	if (rc == CHECK_ERROR)
		cl_error_prefix(err, "process-rss");
	free(st);
	proc_set_release(&set);
	return rc;
}

const struct verifier process_rss_verifier = {
	.name = "process-rss",
	.summary =
		"resident memory (VmRSS) of an injection's or a name's processes, against a bound",
	.params = process_rss_params,
	.supported = process_rss_supported,
	.validate = process_rss_validate,
	.check = process_rss_check,
};
