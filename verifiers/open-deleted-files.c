/* open-deleted-files: processes holding files that have been deleted.
 *
 * What `lsof +L1` shows: an open file whose last name was removed keeps its
 * blocks until the last descriptor on it is closed, so df counts the space
 * as used while du, which walks names, does not. For each process (all of
 * them, those of an inject step, or those with a name) every /proc/PID/fd/N
 * link ending in " (deleted)" is a candidate; stat(2) through the link gives
 * the file itself. Regular files only (memfd and other anonymous files are
 * left out), each (device, inode) counted once however many descriptors hold
 * it, and sized by the blocks it holds (st_blocks), which is what df misses.
 * `volume` narrows it to files on an inject step's lab volume. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/registry.h"
#include "lab/volume.h"
#include "sys/proc.h"

static const struct param_spec open_deleted_params[] = {
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "only processes of this inject step (at most one of injection, name; neither = any "
	  "process)" },
	{ "name", PARAM_STRING, false, NULL, 0, 15, NULL, "only processes with this name (comm)" },
	{ "volume", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "only files on the lab volume of this inject step" },
	{ "min_mib", PARAM_NUMBER, false, NULL, 0, 1e9, NULL,
	  "met when deleted files of at least this many MiB in all are held open (give min_mib "
	  "or max_mib)" },
	{ "max_mib", PARAM_NUMBER, false, NULL, 0, 1e9, NULL,
	  "met when deleted files held open come to at most this many MiB" },
	{ NULL },
};

#define MIB 1048576.0

struct held {
	dev_t dev;
	ino_t ino;
};

struct odf_walk {
	const struct proc_set *set; /* NULL = every process */
	dev_t only_dev;		    /* 0 = any device */
	struct held *seen;
	size_t nseen, cap;
	unsigned long long bytes;
	size_t files;
	/* the biggest file, for the observation */
	unsigned long long top_bytes;
	pid_t top_pid;
	char top_comm[16];
	char top_path[160];
	bool oom;
};

static int open_deleted_validate(const struct params *p, char *msg, size_t size)
{
	if (params_isset(p, "injection") && params_isset(p, "name")) {
		snprintf(msg, size, "injection and name exclude each other: give at most one");
		return -1;
	}
	if (params_isset(p, "min_mib") == params_isset(p, "max_mib")) {
		snprintf(msg, size, "give exactly one of min_mib or max_mib");
		return -1;
	}
	return 0;
}

static int open_deleted_supported(const struct params *p, char *why, size_t size)
{
	if (!proc_available()) {
		snprintf(why, size, "needs /proc (procfs is not mounted)");
		return -1;
	}
	return 0;
}

static bool seen_before(struct odf_walk *w, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == dev && w->seen[i].ino == ino)
			return true;
	if (w->nseen == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 16;
		struct held *n = realloc(w->seen, ncap * sizeof(*n));

		if (!n) {
			w->oom = true;
			return true;
		}
		w->seen = n;
		w->cap = ncap;
	}
	w->seen[w->nseen++] = (struct held){ dev, ino };
	return false;
}

static int scan_process(const struct proc_stat *ps, void *arg)
{
	static const char suffix[] = " (deleted)";
	struct odf_walk *w = arg;
	char dpath[64];
	struct dirent *de;
	DIR *d;

	if (ps->state == 'Z' || ps->state == 'X' || (w->set && !proc_set_contains(w->set, ps)))
		return 0;
	snprintf(dpath, sizeof(dpath), "/proc/%d/fd", (int)ps->pid);
	d = opendir(dpath);
	if (!d)
		return 0; /* gone, or a kernel thread */
	while ((de = readdir(d))) {
		char link[96], target[4096];
		struct stat st;
		ssize_t n;
		size_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(link, sizeof(link), "%s/%s", dpath, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		len = (size_t)n;
		if (target[0] != '/' || len <= sizeof(suffix) - 1 ||
		    strcmp(target + len - (sizeof(suffix) - 1), suffix) ||
		    !strncmp(target, "/memfd:", 7))
			continue;
		if (stat(link, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink > 0)
			continue;
		if (w->only_dev && st.st_dev != w->only_dev)
			continue;
		if (seen_before(w, st.st_dev, st.st_ino))
			continue;
		w->files++;
		w->bytes += (unsigned long long)st.st_blocks * 512ULL;
		if ((unsigned long long)st.st_blocks * 512ULL >= w->top_bytes) {
			w->top_bytes = (unsigned long long)st.st_blocks * 512ULL;
			w->top_pid = ps->pid;
			snprintf(w->top_comm, sizeof(w->top_comm), "%s", ps->comm);
			snprintf(w->top_path, sizeof(w->top_path), "%s", target);
		}
	}
	closedir(d);
	return w->oom ? 1 : 0;
}

static int open_deleted_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const char *name = params_str(ctx->params, "name", NULL);
	const char *vol = params_str(ctx->params, "volume", NULL);
	bool want_min = params_isset(ctx->params, "min_mib");
	double limit = params_number(ctx->params, want_min ? "min_mib" : "max_mib", 0);
	struct odf_walk w = { 0 };
	struct proc_set set = { 0 };
	double mib;
	int rc = CHECK_ERROR;
	bool met;

	if (inj) {
		const cJSON *undo = check_injection(ctx, "open-deleted-files", inj, err);

		if (!undo)
			goto out;
		if (proc_set_from_undo(&set, undo)) {
			cl_error_set(err, CL_EXIT_USAGE, "open-deleted-files: out of memory");
			goto out;
		}
		w.set = &set;
	} else if (name) {
		snprintf(set.comm, sizeof(set.comm), "%s", name);
		w.set = &set;
	}
	if (vol) {
		const cJSON *undo = check_injection(ctx, "open-deleted-files", vol, err);
		struct lab_volume v;

		if (!undo)
			goto out;
		if (lab_volume_from_undo(lab_volume_undo_of(undo), &v) || !v.dev) {
			cl_error_set(
				err, CL_EXIT_USAGE,
				"open-deleted-files: inject step '%s' has no mounted lab volume",
				vol);
			goto out;
		}
		w.only_dev = v.dev;
	}
	if (proc_walk(scan_process, &w) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno,
			       "open-deleted-files: unable to list /proc");
		goto out;
	}
	if (w.oom) {
		cl_error_set(err, CL_EXIT_USAGE, "open-deleted-files: out of memory");
		goto out;
	}
	mib = (double)w.bytes / MIB;
	if (!w.files)
		snprintf(obs, size, "no deleted file held open");
	else
		snprintf(obs, size,
			 "%zu deleted file%s held open, %.1f MiB; biggest: %s[%d] %.1f MiB %s",
			 w.files, w.files == 1 ? "" : "s", mib, w.top_comm, (int)w.top_pid,
			 (double)w.top_bytes / MIB, w.top_path);
	met = want_min ? mib >= limit : mib <= limit;
	rc = met ? CHECK_MET : CHECK_NOT_MET;
out:
	proc_set_release(&set);
	free(w.seen);
	return rc;
}

const struct verifier open_deleted_files_verifier = {
	.name = "open-deleted-files",
	.summary = "processes hold deleted files (what lsof +L1 lists) of at least or at most "
		   "N MiB",
	.params = open_deleted_params,
	.supported = open_deleted_supported,
	.validate = open_deleted_validate,
	.check = open_deleted_check,
};
