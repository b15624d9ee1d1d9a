/* memory-hog: hold memory resident, at once or as a slow leak, optionally in
 * a memory cgroup where the kernel OOM-kills it and a supervisor restarts it.
 *
 * The hog is a worker named `name` that maps anonymous memory in 64 MiB
 * regions and faults every page in (MADV_POPULATE_WRITE, or a write to each
 * page where the kernel lacks it), so RSS grows, not only the virtual size:
 * `mib` (or `percent_of_available` of MemAvailable) at once, or
 * `rate_mib_per_second` at a time, a leak. Once there it holds the memory
 * until killed.
 *
 * Guardrail: nothing may leave less than `keep_free_percent` of MemAvailable.
 * validate() and apply() refuse a size that would (apply before changing
 * anything), and the hog itself reads MemAvailable before every step it
 * grows and stops growing rather than cross that floor (a fixed number of
 * bytes, the share of MemAvailable when the step was applied), so whatever
 * else happens on the box meanwhile, the hog never drives it into the global
 * OOM killer.
 *
 * With `cgroup_limit_mib` the hog runs in a memory cgroup of its own
 * (sys/cgroup.h: v1 or v2, whichever carries the memory controller here),
 * limited to that, and joins it before it touches any memory (a hog alone
 * there then stops itself until apply() has seen it start, so an instant
 * OOM kill cannot pass for a failed start). When the hog
 * is set to grow past the limit the kernel's OOM killer kills it there
 * ("Memory cgroup out of memory" in dmesg, oom_kill counted in
 * memory.oom_control or memory.events). With `restart` a supervisor worker,
 * outside the cgroup, forks the hog and forks a new one after each death,
 * after a backoff that doubles up to backoff_max_seconds (reset when a hog
 * lived 10 s): the host side of CrashLoopBackOff + OOMKilled. The fixes are
 * raising the limit (memory.limit_in_bytes / memory.max) or stopping the
 * leak (the supervisor, and the hog with it).
 *
 * Undo data: {"owner": tag, "workers": [identity of the hog or supervisor],
 * "target_bytes": N, "floor_bytes": N, and with a cgroup "cgroup": {"path":
 * dir, "version": 1|2}}, the cgroup recorded before it is made. Revert stops
 * the workers (owner tag, journaled identities), then removes the cgroup if
 * it is provably ours (sys/cgroup.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include "sys/cgroup.h"
#include "sys/worker.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MIB (1ULL << 20)
#define HOG_REGION (64 * MIB)	/* one mmap */
#define HOG_STEP (16 * MIB)	/* MemAvailable is read before each */
#define HOG_TICK_S 0.1		/* growth period of a leak */
#define HOG_BLOCKED_PAUSE_S 1.0 /* re-check after the guard stopped growth */
#define HOG_RESET_AFTER_S 10.0	/* a hog that lived this long resets the backoff */
#define HOG_REVERT_GRACE_MS 1000
#define HOG_STOP_WAIT_MS 5000 /* for a hog to stop itself, 1 ms polls */
#define HOG_DEFAULT_NAME "memhog"

static const struct param_spec memory_hog_params[] = {
	{ "mib", PARAM_INT, false, NULL, 1, 1048576, NULL,
	  "memory to make resident, in MiB (give this or percent_of_available)" },
	{ "percent_of_available", PARAM_NUMBER, false, NULL, 0.1, 95, NULL,
	  "memory to make resident, in percent of MemAvailable when applied (give this or mib)" },
	{ "rate_mib_per_second", PARAM_NUMBER, false, "0", 0, 65536, NULL,
	  "grow at this rate, a slow leak; 0 = all at once" },
	{ "name", PARAM_STRING, false, HOG_DEFAULT_NAME, 0, 15, NULL,
	  "process name ps, top and pkill -x see (at most 15 characters)" },
	{ "keep_free_percent", PARAM_INT, false, "20", 5, 95, NULL,
	  "guardrail: refuse a size that would leave less than this share of MemAvailable, "
	  "and stop growing before crossing it" },
	{ "cgroup_limit_mib", PARAM_INT, false, NULL, 4, 1048576, NULL,
	  "run the hog in a memory cgroup of its own with this limit; past it the kernel "
	  "OOM-kills the hog" },
	{ "restart", PARAM_BOOL, false, "false", 0, 0, NULL,
	  "with cgroup_limit_mib: a supervisor outside the cgroup restarts the killed hog, "
	  "an OOM-kill loop" },
	{ "supervisor_name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "with restart: the supervisor's process name (default: name with -sup)" },
	{ "backoff_seconds", PARAM_NUMBER, false, "1", 0.1, 60, NULL,
	  "with restart: pause before restarting a killed hog; doubles after each quick death" },
	{ "backoff_max_seconds", PARAM_NUMBER, false, "4", 0.1, 300, NULL,
	  "with restart: longest pause before a restart" },
	{ NULL },
};

/* ---- /proc/meminfo ---------------------------------------------------------- */

/* The value of "KEY:   N kB" in meminfo text, in bytes; -1 when absent. */
static long long meminfo_field(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *line = text; line && *line;) {
		if (!strncmp(line, key, kl) && line[kl] == ':')
			return strtoll(line + kl + 1, NULL, 10) * 1024;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/* MemAvailable in bytes through an open /proc/meminfo (pread: no open after
 * lockdown); -1 when unreadable. */
static long long meminfo_available_fd(int fd)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return meminfo_field(buf, "MemAvailable");
}

static long long meminfo_available(void)
{
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	long long v;

	if (fd < 0)
		return -1;
	v = meminfo_available_fd(fd);
	close(fd);
	return v;
}

/* ---- the worker bodies -------------------------------------------------------- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct hog {
	unsigned long long target; /* bytes to hold */
	unsigned long long rate;   /* bytes per second; 0 = at once */
	unsigned long long floor;  /* MemAvailable may not drop below this */
	int meminfo_fd;
	char *region; /* the mapping being filled */
	size_t region_used;
	unsigned long long have; /* bytes made resident */
	size_t page;
};

/* Make len bytes at p resident: the kernel faults them in for writing in one
 * call where it can (5.14+), else one write per page does. Failing here
 * means the cgroup's OOM killer is on its way, or the kernel had no memory
 * for us: the writes make sure a charge that failed gets its OOM kill. */
static void hog_touch(char *p, size_t len, size_t page)
{
	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return;
	for (size_t off = 0; off < len; off += page)
		((volatile char *)p)[off] = 1;
}

/* Grow by len bytes (a multiple of the page size). -1 when no more address
 * space could be mapped. */
static int hog_grow(struct hog *h, size_t len)
{
	while (len) {
		size_t piece;

		if (!h->region || h->region_used == HOG_REGION) {
			void *m = mmap(NULL, HOG_REGION, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

			if (m == MAP_FAILED)
				return -1;
			/* The old region is never unmapped: this is a leak. */
			h->region = m;
			h->region_used = 0;
		}
		piece = HOG_REGION - h->region_used;
		if (piece > len)
			piece = len;
		hog_touch(h->region + h->region_used, piece, h->page);
		h->region_used += piece;
		h->have += piece;
		len -= piece;
	}
	return 0;
}

/* Grow to the target, at the rate, never past the floor; then hold until
 * killed. */
static void __attribute__((noreturn)) hog_run(struct hog *h)
{
	double last = mono_s(), credit = 0;

	for (;;) {
		bool blocked = false;
		double t = mono_s();

		if (h->have >= h->target)
			break;
		if (h->rate) {
			double cap = (double)(h->rate > h->page ? h->rate : h->page);

			credit += (double)h->rate * (t - last);
			/* A stalled hog (SIGSTOP, a busy box) does not then jump:
			 * at most a second's worth, or a page for a slow one. */
			if (credit > cap)
				credit = cap;
		} else {
			credit = (double)(h->target - h->have);
		}
		last = t;
		while (h->have < h->target && credit >= (double)h->page) {
			unsigned long long step = h->target - h->have;
			long long avail;

			if (step > HOG_STEP)
				step = HOG_STEP;
			if ((double)step > credit)
				step = (unsigned long long)credit / h->page * h->page;
			avail = meminfo_available_fd(h->meminfo_fd);
			if (avail >= 0 && (unsigned long long)avail < h->floor + step) {
				blocked = true;
				break;
			}
			if (hog_grow(h, (size_t)step) < 0) {
				blocked = true;
				break;
			}
			credit -= (double)step;
		}
		if (blocked) {
			credit = 0;
			sleep_s(HOG_BLOCKED_PAUSE_S);
			last = mono_s();
		} else if (h->have < h->target) {
			sleep_s(HOG_TICK_S);
		}
	}
	for (;;)
		sleep_s(3600);
}

static int args_bytes(const cJSON *args, const char *key, bool required, unsigned long long *out,
		      struct cl_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	if (!v && !required) {
		*out = 0;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9.0e15)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "memory-hog worker: %s must be a byte count", key);
	*out = (unsigned long long)v->valuedouble;
	return 0;
}

static const char *args_str(const cJSON *args, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static double args_seconds(const cJSON *args, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : fallback;
}

/* The hog's parameters from args, and /proc/meminfo opened for it. */
static int hog_setup(struct hog *h, const cJSON *args, struct cl_error *err)
{
	memset(h, 0, sizeof(*h));
	h->meminfo_fd = -1;
	h->page = (size_t)sysconf(_SC_PAGESIZE);
	if (args_bytes(args, "target_bytes", true, &h->target, err) ||
	    args_bytes(args, "rate_bytes", false, &h->rate, err) ||
	    args_bytes(args, "floor_bytes", false, &h->floor, err))
		return -1;
	h->target = (h->target + h->page - 1) / h->page * h->page;
	h->meminfo_fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (h->meminfo_fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno,
				      "memory-hog worker: unable to open /proc/meminfo");
	return 0;
}

/* Write "0" to an open cgroup.procs: the calling process joins that cgroup. */
static int join_cgroup_fd(int fd)
{
	ssize_t n;

	do
		n = write(fd, "0", 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* A hog the supervisor forked: die with the supervisor, take the name, join
 * the cgroup before touching memory, grow. Inherits the lockdown. */
static void __attribute__((noreturn))
hog_child(struct hog *h, pid_t parent, const char *name, int procs_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(0);
	worker_set_title(name);
	if (join_cgroup_fd(procs_fd) < 0)
		_exit(1);
	close(procs_fd);
	hog_run(h);
}

/* Restart mode: fork hogs into the cgroup, one at a time, forever. SIGTERM
 * keeps its default action: `kill PID` stops the loop (and the hog, which
 * dies with it). */
static int hog_supervisor(struct hog *h, const cJSON *args)
{
	static const char *const extra[] = { "clone",		"clone3",  "fork",
					     "set_robust_list", "wait4",   "waitid",
					     "prctl",		"pread64", NULL };
	const char *procs = args_str(args, "cgroup_procs");
	const char *name = args_str(args, "hog_name");
	double base = args_seconds(args, "backoff_seconds", 1.0);
	double max = args_seconds(args, "backoff_max_seconds", 4.0);
	double backoff = base;
	struct cl_error err;
	int procs_fd;

	cl_error_clear(&err);
	if (!procs || !name) {
		cl_error_set(&err, CL_EXIT_USAGE,
			     "memory-hog supervisor: cgroup_procs and hog_name are required");
		return worker_exit_error(&err);
	}
	/* Opened with our privileges now: the hogs write to it after the
	 * lockdown, and the kernel checks the opener's credentials. */
	procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (procs_fd < 0) {
		cl_error_errno(&err, CL_EXIT_USAGE, errno, "memory-hog supervisor: open '%s'",
			       procs);
		return worker_exit_error(&err);
	}
	if (worker_lockdown(extra, &err))
		return worker_exit_error(&err);
	for (;;) {
		pid_t parent = getpid(), kid = fork();
		double born = mono_s();

		if (kid == 0)
			hog_child(h, parent, name, procs_fd);
		if (kid > 0) {
			while (waitpid(kid, NULL, 0) < 0 && errno == EINTR)
				;
			if (mono_s() - born >= HOG_RESET_AFTER_S)
				backoff = base;
		}
		sleep_s(backoff);
		backoff = backoff * 2 > max ? max : backoff * 2;
	}
}

/* Worker body. args: {"role": "hog"|"supervisor", "target_bytes": N,
 * "rate_bytes": N, "floor_bytes": N, "cgroup_procs": PATH (the hog joins
 * that cgroup first), and for the supervisor "hog_name", "backoff_seconds",
 * "backoff_max_seconds"}. */
static int memory_hog_worker(const cJSON *args)
{
	static const char *const extra[] = { "pread64", "tgkill", NULL };
	const char *role = args_str(args, "role");
	const char *procs = args_str(args, "cgroup_procs");
	struct cl_error err;
	struct hog h;

	cl_error_clear(&err);
	if (hog_setup(&h, args, &err))
		return worker_exit_error(&err);
	if (role && !strcmp(role, "supervisor"))
		return hog_supervisor(&h, args);
	if (procs) {
		int fd = open(procs, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || join_cgroup_fd(fd) < 0) {
			cl_error_errno(&err, CL_EXIT_USAGE, errno,
				       "memory-hog worker: unable to join the cgroup ('%s')",
				       procs);
			return worker_exit_error(&err);
		}
		close(fd);
	}
	if (worker_lockdown(extra, &err))
		return worker_exit_error(&err);
	/* In a cgroup the kernel may kill this hog within milliseconds: wait
	 * until the harness has seen it start (it continues us). */
	if (procs)
		raise(SIGSTOP);
	hog_run(&h);
}

/* ---- the injector ------------------------------------------------------------- */

/* What a step will do, worked out from its parameters and MemAvailable now. */
struct hog_plan {
	unsigned long long avail;  /* MemAvailable, bytes */
	unsigned long long target; /* bytes to hold */
	unsigned long long floor;  /* keep_free_percent of avail */
	unsigned long long limit;  /* cgroup limit, bytes; 0 = no cgroup */
};

/* Names are what ps and pkill -x see: no '/' (exec would refuse it) and no
 * whitespace (pkill -x NAME could never match it). */
static bool name_ok(const char *name)
{
	return name && !strpbrk(name, "/ \t\n");
}

static void supervisor_name(const struct params *p, char *buf, size_t size)
{
	const char *given = params_str(p, "supervisor_name", NULL);

	if (given)
		snprintf(buf, size, "%s", given);
	else
		snprintf(buf, size, "%.11s-sup", params_str(p, "name", HOG_DEFAULT_NAME));
}

/* Checks that need no machine state. */
static int hog_check_params(const struct params *p, char *msg, size_t size)
{
	bool mib = params_isset(p, "mib"), pct = params_isset(p, "percent_of_available");
	bool restart = params_bool(p, "restart", false);
	long long keep = params_int(p, "keep_free_percent", 20);

	if (mib == pct) {
		snprintf(msg, size,
			 mib ? "mib and percent_of_available exclude each other: give one" :
			       "give exactly one of mib or percent_of_available");
		return -1;
	}
	if (pct && params_number(p, "percent_of_available", 0) + (double)keep > 100.0) {
		snprintf(msg, size,
			 "percent_of_available %g would leave less than keep_free_percent %lld of "
			 "MemAvailable: at most %lld may be taken",
			 params_number(p, "percent_of_available", 0), keep, 100 - keep);
		return -1;
	}
	if (!name_ok(params_str(p, "name", HOG_DEFAULT_NAME))) {
		snprintf(msg, size, "name must not contain '/' or whitespace");
		return -1;
	}
	if (params_isset(p, "supervisor_name") &&
	    !name_ok(params_str(p, "supervisor_name", NULL))) {
		snprintf(msg, size, "supervisor_name must not contain '/' or whitespace");
		return -1;
	}
	if (restart && !params_isset(p, "cgroup_limit_mib")) {
		snprintf(msg, size,
			 "restart needs cgroup_limit_mib: a hog is only OOM-killed, and "
			 "restarted, in a cgroup of its own");
		return -1;
	}
	for (size_t i = 0; i < 3; i++) {
		static const char *const needs_restart[] = { "supervisor_name", "backoff_seconds",
							     "backoff_max_seconds" };
		const struct param_value *v = params_get(p, needs_restart[i]);

		if (v && v->given && !restart) {
			snprintf(msg, size, "%s needs restart: true", needs_restart[i]);
			return -1;
		}
	}
	if (restart && mib && params_int(p, "mib", 0) <= params_int(p, "cgroup_limit_mib", 0)) {
		snprintf(msg, size,
			 "with restart, mib (%lld) must exceed cgroup_limit_mib (%lld): a hog "
			 "that fits its limit is never OOM-killed",
			 params_int(p, "mib", 0), params_int(p, "cgroup_limit_mib", 0));
		return -1;
	}
	if (restart &&
	    params_number(p, "backoff_seconds", 1) > params_number(p, "backoff_max_seconds", 4)) {
		snprintf(msg, size, "backoff_seconds must not exceed backoff_max_seconds");
		return -1;
	}
	return 0;
}

/* The plan against MemAvailable avail (bytes): -1 with msg when the
 * guardrail refuses it. */
static int hog_plan_for(const struct params *p, unsigned long long avail, struct hog_plan *plan,
			char *msg, size_t size)
{
	long long keep = params_int(p, "keep_free_percent", 20);
	unsigned long long allowed;

	memset(plan, 0, sizeof(*plan));
	plan->avail = avail;
	plan->floor = avail / 100 * (unsigned long long)keep;
	allowed = avail - plan->floor;
	if (params_isset(p, "mib"))
		plan->target = (unsigned long long)params_int(p, "mib", 0) * MIB;
	else
		plan->target =
			(unsigned long long)((double)avail *
					     params_number(p, "percent_of_available", 0) / 100.0);
	if (params_isset(p, "cgroup_limit_mib"))
		plan->limit = (unsigned long long)params_int(p, "cgroup_limit_mib", 0) * MIB;
	if (plan->target > allowed) {
		snprintf(msg, size,
			 "refusing %llu MiB: it would leave %llu of the %llu MiB available now, "
			 "less than keep_free_percent %lld (at most %llu MiB may be taken)",
			 plan->target / MIB,
			 (avail > plan->target ? avail - plan->target : 0) / MIB, avail / MIB, keep,
			 allowed / MIB);
		return -1;
	}
	if (params_bool(p, "restart", false) && plan->target <= plan->limit) {
		snprintf(msg, size,
			 "with restart the hog must outgrow cgroup_limit_mib %lld, but %llu MiB "
			 "(percent_of_available now) fits in it: it would never be OOM-killed",
			 params_int(p, "cgroup_limit_mib", 0), plan->target / MIB);
		return -1;
	}
	if (plan->target < MIB) {
		snprintf(msg, size, "less than 1 MiB to hold (%llu bytes)", plan->target);
		return -1;
	}
	return 0;
}

static int memory_hog_validate(const struct params *p, char *msg, size_t size)
{
	struct hog_plan plan;
	long long avail;

	if (hog_check_params(p, msg, size))
		return -1;
	/* The guardrail against this machine, when it can be read: apply()
	 * checks again, since memory comes and goes. */
	avail = meminfo_available();
	if (avail > 0 && hog_plan_for(p, (unsigned long long)avail, &plan, msg, size))
		return -1;
	return 0;
}

static int memory_hog_supported(const struct params *p, char *why, size_t size)
{
	enum cgroup_where v;
	char root[512];

	if (worker_supported(why, size))
		return -1;
	if (access("/proc/meminfo", R_OK) < 0) {
		snprintf(why, size, "needs /proc/meminfo (procfs is not mounted)");
		return -1;
	}
	if (!p || !params_isset(p, "cgroup_limit_mib"))
		return 0;
	return memcg_root_find(CGROUP_NOWHERE, &v, root, sizeof(root), why, size);
}

static int add_number(cJSON *undo, const char *key, double v, struct cl_error *err)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	if (!cJSON_AddNumberToObject(undo, key, v))
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "memory-hog: undo data");
	return 0;
}

/* Record the cgroup in the undo data and journal it, then make it. */
static int hog_make_cgroup(struct inject_ctx *ctx, const struct hog_plan *plan, struct memcg *cg,
			   struct cl_error *err)
{
	char root[512], why[512], name[256];
	cJSON *j;

	if (memcg_root_find(CGROUP_NOWHERE, &cg->version, root, sizeof(root), why, sizeof(why)))
		return cl_error_set(err, CL_EXIT_PRIVILEGE, "memory-hog: %s", why);
	if (memcg_name(name, sizeof(name), ctx->run_id, ctx->step_id) ||
	    (size_t)snprintf(cg->path, sizeof(cg->path), "%s/%s", root, name) >= sizeof(cg->path))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "memory-hog: cgroup name for run '%s' step "
				    "'%s' is too long",
				    ctx->run_id, ctx->step_id);
	j = memcg_to_json(cg);
	if (!j)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "memory-hog: undo data");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "cgroup");
	cJSON_AddItemToObject(ctx->undo, "cgroup", j);
	if (inject_ctx_save(ctx, err))
		return -1;
	if (memcg_create(cg, err) || memcg_limit_set(cg, plan->limit, err)) {
		cl_error_prefix(err, "memory-hog");
		return -1;
	}
	return 0;
}

/* A hog alone in its cgroup stops itself once it is in (SIGSTOP) so that it
 * cannot be OOM-killed before worker_spawn() has seen it start: wait for
 * that, then let it grow. It is our unreaped child: the pid is its own. */
static void hog_continue(pid_t pid)
{
	for (int i = 0; i < HOG_STOP_WAIT_MS; i++) {
		struct proc_stat st;

		if (proc_stat_read(pid, &st) < 0 || st.state == 'T' || st.state == 'Z')
			break;
		sleep_s(0.001);
	}
	kill(pid, SIGCONT);
}

static int memory_hog_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const bool restart = params_bool(ctx->params, "restart", false);
	char owner[256], sup_name[16], procs[600], msg[320];
	struct hog_plan plan;
	struct memcg cg = { 0 };
	struct worker_spec spec = {
		.kind = "memory-hog",
		.name = params_str(ctx->params, "name", HOG_DEFAULT_NAME),
		.owner = owner,
	};
	struct proc_ident id;
	cJSON *args = NULL;
	long long avail;
	int rc = -1;

	/* Nothing is changed before the guardrail has passed. */
	if (hog_check_params(ctx->params, msg, sizeof(msg)))
		return cl_error_set(err, CL_EXIT_USAGE, "memory-hog: %s", msg);
	avail = meminfo_available();
	if (avail <= 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno ? errno : EINVAL,
				      "memory-hog: unable to read MemAvailable from /proc/meminfo");
	if (hog_plan_for(ctx->params, (unsigned long long)avail, &plan, msg, sizeof(msg)))
		return cl_error_set(err, CL_EXIT_USAGE, "memory-hog: %s", msg);

	worker_owner_tag(owner, sizeof(owner), ctx->run_id, ctx->step_id);
	if (worker_undo_init(ctx->undo, owner, err) ||
	    add_number(ctx->undo, "target_bytes", (double)plan.target, err) ||
	    add_number(ctx->undo, "floor_bytes", (double)plan.floor, err) ||
	    inject_ctx_save(ctx, err))
		return -1;
	if (plan.limit && hog_make_cgroup(ctx, &plan, &cg, err))
		return -1;

	args = cJSON_CreateObject();
	if (!args)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "memory-hog");
	cJSON_AddStringToObject(args, "role", restart ? "supervisor" : "hog");
	cJSON_AddNumberToObject(args, "target_bytes", (double)plan.target);
	cJSON_AddNumberToObject(args, "rate_bytes",
				params_number(ctx->params, "rate_mib_per_second", 0) * (double)MIB);
	cJSON_AddNumberToObject(args, "floor_bytes", (double)plan.floor);
	if (plan.limit) {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg.path);
		cJSON_AddStringToObject(args, "cgroup_procs", procs);
	}
	if (restart) {
		supervisor_name(ctx->params, sup_name, sizeof(sup_name));
		cJSON_AddStringToObject(args, "hog_name", spec.name);
		cJSON_AddNumberToObject(args, "backoff_seconds",
					params_number(ctx->params, "backoff_seconds", 1));
		cJSON_AddNumberToObject(args, "backoff_max_seconds",
					params_number(ctx->params, "backoff_max_seconds", 4));
		spec.name = sup_name;
	}
	spec.args = args;
	if (worker_spawn(&spec, &id, NULL, err)) {
		cl_error_prefix(err, "memory-hog");
		goto out;
	}
	if (worker_undo_add(ctx->undo, &id, err) || inject_ctx_save(ctx, err))
		goto out;
	if (plan.limit && !restart)
		hog_continue(id.pid);
	rc = 0;
out:
	cJSON_Delete(args);
	return rc;
}

/* The cgroup name this undo data's run and step give ("" when it names
 * neither): the proof that a journaled cgroup is the one this step made. */
static void expected_cgroup_name(const struct revert_ctx *ctx, char *buf, size_t size)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(ctx->undo, "run");
	const cJSON *step = cJSON_GetObjectItemCaseSensitive(ctx->undo, "step");
	const char *r = cJSON_IsString(run) ? run->valuestring : ctx->run_id;
	const char *s = cJSON_IsString(step) ? step->valuestring : ctx->step_id;

	buf[0] = '\0';
	if (r && s && r[0] && s[0])
		memcg_name(buf, size, r, s);
}

static int memory_hog_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *cgj = cJSON_GetObjectItemCaseSensitive(ctx->undo, "cgroup");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(ctx->undo, "owner");
	char fallback[256], expected[256], why[512], kills_text[64] = "";
	const char *owner;
	struct memcg cg;
	unsigned long long kills;
	bool removed = false;
	int killed = 0, killed_in = 0, migrated = 0;
	size_t len;

	ctx->report[0] = '\0';
	worker_owner_tag(fallback, sizeof(fallback), ctx->run_id, ctx->step_id);
	owner = cJSON_IsString(o) ? o->valuestring : ctx->run_id && ctx->step_id ? fallback : NULL;
	/* The supervisor first (with everything else of ours), so nothing
	 * restarts a hog while the cgroup goes. */
	if (worker_undo_kill(ctx->undo, owner, HOG_REVERT_GRACE_MS, &killed, err)) {
		cl_error_prefix(err, "memory-hog");
		return -1;
	}
	if (cgj) {
		struct cl_error e;

		if (memcg_from_json(cgj, &cg))
			return cl_error_set(err, CL_EXIT_REVERT,
					    "memory-hog: the journaled cgroup is not a path and "
					    "version; left alone");
		expected_cgroup_name(ctx, expected, sizeof(expected));
		cl_error_clear(&e);
		/* For the report: how many times the kernel killed in it. */
		if (memcg_check_ours(&cg, expected, why, sizeof(why)) == 0 &&
		    memcg_oom_kills(&cg, &kills, &e) == 0)
			snprintf(kills_text, sizeof(kills_text), " after %llu OOM kill%s", kills,
				 kills == 1 ? "" : "s");
		if (memcg_remove(&cg, expected, owner, &killed_in, &migrated, &removed, err)) {
			cl_error_prefix(err, "memory-hog");
			return -1;
		}
		killed += killed_in;
	}
	len = 0;
	if (killed)
		len += (size_t)snprintf(ctx->report, sizeof(ctx->report), "stopped %d worker%s",
					killed, killed == 1 ? "" : "s");
	if (removed && len < sizeof(ctx->report))
		len += (size_t)snprintf(ctx->report + len, sizeof(ctx->report) - len,
					"%sremoved cgroup %s%s", len ? ", " : "", cg.path,
					kills_text);
	if (migrated && len < sizeof(ctx->report))
		snprintf(ctx->report + len, sizeof(ctx->report) - len,
			 "%smoved %d process%s not ours out of it", len ? ", " : "", migrated,
			 migrated == 1 ? "" : "es");
	return 0;
}

const struct injector memory_hog_injector = {
	.name = "memory-hog",
	.summary = "hold memory resident, at once or as a slow leak, optionally OOM-killed and "
		   "restarted in a memory cgroup",
	.params = memory_hog_params,
	.supported = memory_hog_supported,
	.validate = memory_hog_validate,
	.apply = memory_hog_apply,
	.revert = memory_hog_revert,
	.worker = memory_hog_worker,
};
