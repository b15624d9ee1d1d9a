/* cpu-busy: CPU use over a window, system-wide or of a process set.
 *
 * System-wide, use is busy time (everything but idle and iowait) over all
 * time of all CPUs in /proc/stat, so 100% means every CPU is saturated.
 * For a process set (the processes of an inject step, or those with a given
 * name) it is utime + stime from /proc/PID/stat summed over the set, as a
 * percent of one core: two burners at full speed show 200%.
 *
 * Each check takes one sample into a ring held in ctx->state and compares the
 * newest sample with the one a window earlier. A max_percent check is only
 * met once the whole window is covered: a fix has to hold. A min_percent
 * check is met as soon as a window's worth, or at least one second, shows it:
 * a symptom is confirmed quickly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "sys/proc.h"

static const struct param_spec cpu_busy_params[] = {
	{ "min_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when use over the window is at least this many percent (give this or max_percent)" },
	{ "max_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when use over the whole window is at most this many percent (give this or min_percent)" },
	{ "window_seconds", PARAM_NUMBER, false, "3", 0.5, 600, NULL,
	  "seconds to average over; a max_percent check must hold for all of it" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "only the processes of this inject step, in percent of one core summed (not with name)" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "only processes with this name (comm), in percent of one core summed (not with injection)" },
	{ NULL },
};

/* A window covers its span when the oldest sample used is at most this much
 * younger than the window asks: poll ticks never land exactly. */
#define COVER_SLACK(w) ((w) * 0.05 < 0.1 ? (w) * 0.05 : 0.1)
/* Samples closer together than this replace each other, which bounds the ring
 * at about ten samples a second of window. */
#define SAMPLE_MIN_GAP 0.1
/* A min_percent check may be met once this much is covered. */
#define MIN_CONFIRM_SECONDS 1.0

struct cpu_sample {
	double t;                    /* monotonic seconds */
	unsigned long long busy;     /* busy ticks: cumulative */
	unsigned long long total;    /* all ticks (system-wide only) */
};

/* A process seen at the previous sample: its ticks so far. */
struct cpu_proc {
	pid_t pid;
	unsigned long long start_time;
	unsigned long long ticks;
};

struct cpu_busy_state {
	struct cpu_sample *ring;     /* ring buffer of samples, oldest at head */
	size_t head, len, cap;
	/* Process sets only: the set at the previous sample and when it was
	 * taken, to turn per-process ticks into one cumulative count that
	 * survives processes coming and going. */
	struct cpu_proc *procs, *next;
	size_t nprocs, nnext, procs_cap;
	unsigned long long prev_boot_ticks;
	unsigned long long cum_ticks;
	bool have_prev;
	size_t live;                 /* processes in the set at the last sample */
	char label[32];              /* the set's name for the observation */
};

static int cpu_busy_validate(const struct params *p, char *msg, size_t size)
{
	bool min = params_isset(p, "min_percent"), max = params_isset(p, "max_percent");

	if (min == max) {
		snprintf(msg, size, min ? "min_percent and max_percent exclude each other: give one"
					: "give exactly one of min_percent or max_percent");
		return -1;
	}
	if (params_isset(p, "injection") && params_isset(p, "name")) {
		snprintf(msg, size, "injection and name exclude each other: give at most one");
		return -1;
	}
	return 0;
}

static int cpu_busy_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

static struct cpu_sample *ring_at(struct cpu_busy_state *s, size_t i)
{
	return &s->ring[(s->head + i) % s->cap];
}

static int ring_push(struct cpu_busy_state *s, const struct cpu_sample *x)
{
	if (s->len >= 2 && x->t - ring_at(s, s->len - 2)->t < SAMPLE_MIN_GAP) {
		*ring_at(s, s->len - 1) = *x;
		return 0;
	}
	if (s->len == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct cpu_sample *n = malloc(ncap * sizeof(*n));

		if (!n)
			return -1;
		for (size_t i = 0; i < s->len; i++)
			n[i] = *ring_at(s, i);
		free(s->ring);
		s->ring = n;
		s->head = 0;
		s->cap = ncap;
	}
	*ring_at(s, s->len) = *x;
	s->len++;
	return 0;
}

static void ring_drop_oldest(struct cpu_busy_state *s, size_t n)
{
	s->head = (s->head + n) % (s->cap ? s->cap : 1);
	s->len -= n;
}

struct set_sample {
	struct cpu_busy_state *s;
	const struct proc_set *set;
	bool oom;
};

/* Add one process of the set to the next map and its ticks since the previous
 * sample to the cumulative count. */
static int set_sample_one(const struct proc_stat *st, void *arg)
{
	struct set_sample *ss = arg;
	struct cpu_busy_state *s = ss->s;
	unsigned long long ticks = st->utime + st->stime;

	if (st->state == 'Z' || st->state == 'X' || !proc_set_contains(ss->set, st))
		return 0;
	if (s->nnext == s->procs_cap) {
		size_t ncap = s->procs_cap ? s->procs_cap * 2 : 16;
		struct cpu_proc *a = realloc(s->procs, ncap * sizeof(*a));
		struct cpu_proc *b;

		if (!a) {
			ss->oom = true;
			return 1;
		}
		s->procs = a;
		b = realloc(s->next, ncap * sizeof(*b));
		if (!b) {
			ss->oom = true;
			return 1;
		}
		s->next = b;
		s->procs_cap = ncap;
	}
	s->next[s->nnext++] = (struct cpu_proc){ st->pid, st->start_time, ticks };
	if (!s->label[0])
		snprintf(s->label, sizeof(s->label), "%s", st->comm);
	if (!s->have_prev)
		return 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i].pid == st->pid && s->procs[i].start_time == st->start_time) {
			if (ticks > s->procs[i].ticks)
				s->cum_ticks += ticks - s->procs[i].ticks;
			return 0;
		}
	}
	/* New since the previous sample: all its time falls in the interval. A
	 * process older than that which only now joined the set (renamed) is
	 * taken as a baseline instead. */
	if (st->start_time >= s->prev_boot_ticks)
		s->cum_ticks += ticks;
	return 0;
}

static int take_set_sample(struct cpu_busy_state *s, const struct proc_set *set, double now,
			   struct cpu_sample *out, struct cl_error *err)
{
	struct set_sample ss = { .s = s, .set = set };
	unsigned long long boot = proc_boot_ticks();
	struct cpu_proc *tmp;

	s->nnext = 0;
	if (proc_walk(set_sample_one, &ss) < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "cpu-busy: unable to list /proc");
	if (ss.oom)
		return cl_error_set(err, CL_EXIT_USAGE, "cpu-busy: out of memory");
	tmp = s->procs;
	s->procs = s->next;
	s->next = tmp;
	s->nprocs = s->nnext;
	s->live = s->nnext;
	s->prev_boot_ticks = boot;
	s->have_prev = true;
	*out = (struct cpu_sample){ .t = now, .busy = s->cum_ticks };
	return 0;
}

/* Resolve injection or name into a process set. */
static int cpu_busy_set(struct check_ctx *ctx, struct proc_set *set, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const cJSON *undo;

	memset(set, 0, sizeof(*set));
	if (name) {
		snprintf(set->comm, sizeof(set->comm), "%s", name);
		return 0;
	}
	undo = check_injection(ctx, "cpu-busy", inj, err);
	if (!undo)
		return -1;
	if (proc_set_from_undo(set, undo))
		return cl_error_set(err, CL_EXIT_USAGE, "cpu-busy: out of memory");
	return 0;
}

static int cpu_busy_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	struct cpu_busy_state *s = ctx->state;
	bool per_set = params_isset(ctx->params, "injection") || params_isset(ctx->params, "name");
	bool want_min = params_isset(ctx->params, "min_percent");
	double limit = want_min ? params_number(ctx->params, "min_percent", 0)
				: params_number(ctx->params, "max_percent", 100);
	double window = params_number(ctx->params, "window_seconds", 3);
	double now = ctx->now > 0 ? ctx->now : mono_now();
	struct cpu_sample x, *base, *last;
	struct proc_set set;
	double span, pct;
	bool covered = false, met;
	char what[64];

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return cl_error_set(err, CL_EXIT_USAGE, "cpu-busy: out of memory");
		ctx->state = s;
	}
	if (per_set) {
		int rc;

		if (cpu_busy_set(ctx, &set, err))
			return CHECK_ERROR;
		s->label[0] = '\0';
		if (set.comm[0])
			snprintf(s->label, sizeof(s->label), "%s", set.comm);
		rc = take_set_sample(s, &set, now, &x, err);
		proc_set_release(&set);
		if (rc)
			return CHECK_ERROR;
		if (!s->label[0])
			snprintf(s->label, sizeof(s->label), "%s",
				 params_str(ctx->params, "injection", "?"));
	} else {
		struct proc_cpu_times ct;

		if (proc_cpu_times_read(&ct))
			return cl_error_errno(err, CL_EXIT_USAGE, errno,
					      "cpu-busy: unable to read '/proc/stat'");
		x = (struct cpu_sample){ .t = now, .busy = ct.busy, .total = ct.total };
	}
	if (s->len && now < ring_at(s, s->len - 1)->t) {
		/* Time went backwards (a test reusing state): start over. */
		s->len = 0;
	}
	if (ring_push(s, &x))
		return cl_error_set(err, CL_EXIT_USAGE, "cpu-busy: out of memory");

	/* The base is the newest sample at least a window old; everything
	 * before it is no longer needed. */
	for (size_t i = s->len; i-- > 0;) {
		if (ring_at(s, i)->t <= now - window + COVER_SLACK(window)) {
			ring_drop_oldest(s, i);
			covered = true;
			break;
		}
	}
	base = ring_at(s, 0);
	last = ring_at(s, s->len - 1);
	span = last->t - base->t;

	if (per_set)
		snprintf(what, sizeof(what), "%s %zu proc%s", s->label, s->live,
			 s->live == 1 ? "" : "s");
	else
		snprintf(what, sizeof(what), "cpu");
	if (span <= 0) {
		snprintf(obs, size, "%s: first sample, measuring over %.1f s", what, window);
		return CHECK_NOT_MET;
	}
	if (per_set) {
		pct = (double)(last->busy - base->busy) / (double)proc_clk_tck() / span * 100.0;
	} else {
		unsigned long long dt = last->total - base->total;

		pct = dt ? (double)(last->busy - base->busy) / (double)dt * 100.0 : 0.0;
	}
	if (covered)
		snprintf(obs, size, "%s %.0f%% over %.1f s", what, pct, span);
	else
		snprintf(obs, size, "%s %.0f%% over %.1f s (window %.1f s)", what, pct, span,
			 window);
	if (want_min)
		met = (covered || span >= (window < MIN_CONFIRM_SECONDS ? window
									 : MIN_CONFIRM_SECONDS)) &&
		      pct >= limit;
	else
		met = covered && pct <= limit;
	return met ? CHECK_MET : CHECK_NOT_MET;
}

static void cpu_busy_release(struct check_ctx *ctx)
{
	struct cpu_busy_state *s = ctx->state;

	if (!s)
		return;
	free(s->ring);
	free(s->procs);
	free(s->next);
	free(s);
	ctx->state = NULL;
}

const struct verifier cpu_busy_verifier = {
	.name = "cpu-busy",
	.summary = "CPU use over a window, system-wide or of a process set",
	.params = cpu_busy_params,
	.supported = cpu_busy_supported,
	.validate = cpu_busy_validate,
	.check = cpu_busy_check,
	.release = cpu_busy_release,
};
