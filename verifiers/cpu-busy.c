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
#include "sys/proccount.h"

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
struct cpu_busy_state {
	struct cpu_sample *ring;     /* ring buffer of samples, oldest at head */
	size_t head, len, cap;
	struct proc_counter procs;   /* process sets only: their busy ticks */
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

static long long cpu_ticks(const struct proc_stat *st)
{
	return (long long)(st->utime + st->stime);
}

static int take_set_sample(struct cpu_busy_state *s, const struct proc_set *set, double now,
			   struct cpu_sample *out, struct cl_error *err)
{
	if (proc_counter_sample(&s->procs, set, cpu_ticks))
		return errno == ENOMEM ? cl_error_set(err, CL_EXIT_USAGE, "cpu-busy: out of memory")
				       : cl_error_errno(err, CL_EXIT_USAGE, errno,
							"cpu-busy: unable to list /proc");
	*out = (struct cpu_sample){ .t = now, .busy = s->procs.total };
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
			snprintf(s->label, sizeof(s->label), "%s", s->procs.first_comm);
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
		snprintf(what, sizeof(what), "%s %zu proc%s", s->label, s->procs.live,
			 s->procs.live == 1 ? "" : "s");
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
	proc_counter_release(&s->procs);
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
