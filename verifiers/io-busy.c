/* io-busy: write rate (and utilisation) of a block device or of a process set,
 * over a window.
 *
 * A device is read from /proc/diskstats: sectors written (x 512 bytes) and
 * the time the device had I/O in flight (io_ticks, what iostat's %util is
 * made of). The device is named (`device: vda`), or is the loop device of an
 * inject step's lab volume (`injection: STEP, measure: volume`).
 *
 * A process set (the processes of an inject step, or those with a name) is
 * measured by write_bytes in /proc/PID/io, summed over the set: the bytes the
 * processes caused to be sent to storage, what pidstat -d and iotop show.
 * Processes coming and going are followed, so the count is cumulative over
 * the window even when a writer is restarted.
 *
 * Like cpu-busy, each check takes one sample; a max_ check is only met once
 * the whole window is covered (a fix has to hold), a min_ check as soon as a
 * window's worth, or at least one second, shows it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "lab/volume.h"
#include "sys/proc.h"
#include "sys/proccount.h"

static const char *const io_measures[] = { "processes", "volume", NULL };

static const struct param_spec io_busy_params[] = {
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "an inject step: its processes (measure: processes) or its lab volume's loop "
	  "device (measure: volume); give one of injection, name, device" },
	{ "measure", PARAM_ENUM, false, "processes", 0, 0, io_measures,
	  "with injection: its processes' write_bytes, or its lab volume's device" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL,
	  "processes with this name (comm): their summed write_bytes rate" },
	{ "device", PARAM_STRING, false, NULL, 1, 31, NULL,
	  "a block device as /proc/diskstats names it (vda, loop3)" },
	{ "min_mib_per_second", PARAM_NUMBER, false, NULL, 0, 1e6, NULL,
	  "met when at least this many MiB/s are written over the window (give exactly one bound)" },
	{ "max_mib_per_second", PARAM_NUMBER, false, NULL, 0, 1e6, NULL,
	  "met when at most this many MiB/s are written over the whole window" },
	{ "min_util_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "devices only: met when the device is busy at least this share of the window" },
	{ "max_util_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "devices only: met when the device is busy at most this share of the whole window" },
	{ "window_seconds", PARAM_NUMBER, false, "3", 0.5, 600, NULL,
	  "seconds to average over; a max_ bound must hold for all of it" },
	{ NULL },
};

static const char *const io_bounds[] = { "min_mib_per_second", "max_mib_per_second",
					 "min_util_percent", "max_util_percent", NULL };

#define COVER_SLACK(w) ((w)*0.05 < 0.1 ? (w)*0.05 : 0.1)
#define SAMPLE_MIN_GAP 0.1
#define MIN_CONFIRM_SECONDS 1.0
#define MIB 1048576.0

struct io_sample {
	double t;
	unsigned long long bytes;   /* cumulative bytes written */
	unsigned long long busy_ms; /* devices: cumulative io_ticks */
};

struct io_busy_state {
	struct io_sample *s;
	size_t len, cap;
	struct proc_counter procs; /* process sets only: their bytes written */
	char label[40];
};

static int io_busy_validate(const struct params *p, char *msg, size_t size)
{
	int nsrc =
		params_isset(p, "injection") + params_isset(p, "name") + params_isset(p, "device");
	int nb = 0;
	bool device_like;

	for (const char *const *b = io_bounds; *b; b++)
		nb += params_isset(p, *b);
	if (nsrc != 1) {
		snprintf(msg, size, "give exactly one of injection, name or device");
		return -1;
	}
	if (nb != 1) {
		snprintf(msg, size,
			 "give exactly one of min_mib_per_second, max_mib_per_second, "
			 "min_util_percent or max_util_percent");
		return -1;
	}
	if (params_get(p, "measure")->given && !params_isset(p, "injection")) {
		snprintf(msg, size, "measure only applies with injection");
		return -1;
	}
	device_like = params_isset(p, "device") ||
		      (params_isset(p, "injection") &&
		       !strcmp(params_str(p, "measure", "processes"), "volume"));
	if (!device_like &&
	    (params_isset(p, "min_util_percent") || params_isset(p, "max_util_percent"))) {
		snprintf(msg, size,
			 "utilisation bounds need a device (device, or injection with "
			 "measure: volume)");
		return -1;
	}
	return 0;
}

static int io_busy_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

/* write_bytes of /proc/PID/io; -1 when unreadable (gone, or not allowed). */
static long long proc_write_bytes(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Sectors written and io_ticks of dev in /proc/diskstats. 0, or -1 with
 * errno ENOENT when the device is not listed. */
static int diskstats_read(const char *dev, unsigned long long *bytes, unsigned long long *busy_ms)
{
	FILE *f = fopen("/proc/diskstats", "re");
	char line[512], name[64];
	int rc = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long v[11];

		if (sscanf(line,
			   "%u %u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &maj, &min, name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
			   &v[8], &v[9], &v[10]) < 13 ||
		    strcmp(name, dev))
			continue;
		*bytes = v[6] * 512ULL; /* sectors written */
		*busy_ms = v[9];	/* io_ticks */
		rc = 0;
		break;
	}
	fclose(f);
	if (rc)
		errno = ENOENT;
	return rc;
}

static long long write_bytes(const struct proc_stat *st)
{
	return proc_write_bytes(st->pid);
}

static int sample_set(struct io_busy_state *s, const struct proc_set *set, double now,
		      struct io_sample *out, struct cl_error *err)
{
	if (proc_counter_sample(&s->procs, set, write_bytes))
		return errno == ENOMEM ? cl_error_set(err, CL_EXIT_USAGE, "io-busy: out of memory")
				       : cl_error_errno(err, CL_EXIT_USAGE, errno,
							"io-busy: unable to list /proc");
	*out = (struct io_sample){ .t = now, .bytes = s->procs.total };
	return 0;
}

/* Where to measure: a device name into dev, or a process set. */
static int io_source(struct check_ctx *ctx, char *dev, size_t dsize, struct proc_set *set,
		     struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *device = params_str(ctx->params, "device", NULL);
	const cJSON *undo;

	dev[0] = '\0';
	memset(set, 0, sizeof(*set));
	if (device) {
		snprintf(dev, dsize, "%s", device);
		return 0;
	}
	if (name) {
		snprintf(set->comm, sizeof(set->comm), "%s", name);
		return 0;
	}
	undo = check_injection(ctx, "io-busy", inj, err);
	if (!undo)
		return -1;
	if (!strcmp(params_str(ctx->params, "measure", "processes"), "volume")) {
		struct lab_volume v;

		if (lab_volume_from_undo(lab_volume_undo_of(undo), &v))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "io-busy: inject step '%s' has no lab volume", inj);
		if (lab_volume_disk_name(&v, dev, dsize))
			return cl_error_set(
				err, CL_EXIT_USAGE,
				"io-busy: the lab volume of '%s' has no block device "
				"(%s): measure its processes instead",
				inj, v.backend == LAB_VOLUME_TMPFS ? "tmpfs" : "no loop device");
		return 0;
	}
	if (proc_set_from_undo(set, undo))
		return cl_error_set(err, CL_EXIT_USAGE, "io-busy: out of memory");
	return 0;
}

static int push(struct io_busy_state *s, const struct io_sample *x)
{
	if (s->len >= 2 && x->t - s->s[s->len - 2].t < SAMPLE_MIN_GAP) {
		s->s[s->len - 1] = *x;
		return 0;
	}
	if (s->len == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct io_sample *n = realloc(s->s, ncap * sizeof(*n));

		if (!n)
			return -1;
		s->s = n;
		s->cap = ncap;
	}
	s->s[s->len++] = *x;
	return 0;
}

static int io_busy_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	struct io_busy_state *s = ctx->state;
	double window = params_number(ctx->params, "window_seconds", 3);
	double now = ctx->now > 0 ? ctx->now : mono_now();
	const char *bound = NULL;
	double limit = 0, span, mibs, util = 0;
	bool covered = false, met, device;
	struct io_sample x, *base, *last;
	struct proc_set set;
	char dev[64], what[80];

	for (const char *const *b = io_bounds; *b; b++)
		if (params_isset(ctx->params, *b)) {
			bound = *b;
			limit = params_number(ctx->params, *b, 0);
		}
	if (!bound) {
		cl_error_set(err, CL_EXIT_USAGE, "io-busy: no bound given");
		return CHECK_ERROR;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			cl_error_set(err, CL_EXIT_USAGE, "io-busy: out of memory");
			return CHECK_ERROR;
		}
		ctx->state = s;
	}
	if (io_source(ctx, dev, sizeof(dev), &set, err))
		return CHECK_ERROR;
	device = dev[0] != '\0';
	if (device) {
		x.t = now;
		if (diskstats_read(dev, &x.bytes, &x.busy_ms)) {
			cl_error_errno(err, CL_EXIT_USAGE, errno,
				       "io-busy: device '%s' in /proc/diskstats", dev);
			return CHECK_ERROR;
		}
		snprintf(what, sizeof(what), "%s", dev);
	} else {
		int rc;

		s->label[0] = '\0';
		if (set.comm[0])
			snprintf(s->label, sizeof(s->label), "%s", set.comm);
		rc = sample_set(s, &set, now, &x, err);
		proc_set_release(&set);
		if (rc)
			return CHECK_ERROR;
		if (!s->label[0])
			snprintf(s->label, sizeof(s->label), "%s", s->procs.first_comm);
		if (!s->label[0])
			snprintf(s->label, sizeof(s->label), "%s",
				 params_str(ctx->params, "injection", "?"));
		snprintf(what, sizeof(what), "%s %zu proc%s", s->label, s->procs.live,
			 s->procs.live == 1 ? "" : "s");
	}
	/* A counter that went backwards (a device re-created under the same
	 * name, time reset by a test): start over. */
	if (s->len && (now < s->s[s->len - 1].t || x.bytes < s->s[s->len - 1].bytes))
		s->len = 0;
	if (push(s, &x)) {
		cl_error_set(err, CL_EXIT_USAGE, "io-busy: out of memory");
		return CHECK_ERROR;
	}
	/* Base: the newest sample at least a window old. */
	for (size_t i = s->len; i-- > 0;) {
		if (s->s[i].t <= now - window + COVER_SLACK(window)) {
			memmove(s->s, s->s + i, (s->len - i) * sizeof(*s->s));
			s->len -= i;
			covered = true;
			break;
		}
	}
	base = &s->s[0];
	last = &s->s[s->len - 1];
	span = last->t - base->t;
	if (span <= 0) {
		snprintf(obs, size, "%s: first sample, measuring over %.1f s", what, window);
		return CHECK_NOT_MET;
	}
	mibs = (double)(last->bytes - base->bytes) / MIB / span;
	if (device) {
		util = 100.0 * (double)(last->busy_ms - base->busy_ms) / (span * 1000.0);
		if (util > 100.0)
			util = 100.0;
		snprintf(obs, size, "%s: %.1f MiB/s written, %.0f%% busy over %.1f s%s", what, mibs,
			 util, span, covered ? "" : " (window not yet covered)");
	} else {
		snprintf(obs, size, "%s: %.1f MiB/s written over %.1f s%s", what, mibs, span,
			 covered ? "" : " (window not yet covered)");
	}
	if (!strncmp(bound, "min_", 4)) {
		double v = strstr(bound, "util") ? util : mibs;

		met = (covered ||
		       span >= (window < MIN_CONFIRM_SECONDS ? window : MIN_CONFIRM_SECONDS)) &&
		      v >= limit;
	} else {
		double v = strstr(bound, "util") ? util : mibs;

		met = covered && v <= limit;
	}
	return met ? CHECK_MET : CHECK_NOT_MET;
}

static void io_busy_release(struct check_ctx *ctx)
{
	struct io_busy_state *s = ctx->state;

	if (!s)
		return;
	free(s->s);
	proc_counter_release(&s->procs);
	free(s);
	ctx->state = NULL;
}

const struct verifier io_busy_verifier = {
	.name = "io-busy",
	.summary = "write rate and utilisation of a block device (/proc/diskstats) or of a "
		   "process set (/proc/PID/io) over a window",
	.params = io_busy_params,
	.supported = io_busy_supported,
	.validate = io_busy_validate,
	.check = io_busy_check,
	.release = io_busy_release,
};
