/* disk-free: free space of a file system, as df reports it.
 *
 * statvfs(2) on `path`, or on the lab volume of an inject step (its mount
 * point from the step's undo data). Free is what df calls Avail (f_bavail:
 * space an unprivileged writer can still use); percent free is
 * Avail / (Used + Avail), the complement of df's Use%. For an injection the
 * volume must still be mounted at its mount point, ours (loop device backed
 * by our image, or our tmpfs): a volume someone unmounted is not "free
 * again", and statvfs there would measure the host's file system instead. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "core/registry.h"
#include "lab/volume.h"

static const struct param_spec disk_free_params[] = {
	{ "path", PARAM_STRING, false, NULL, 1, 4096, NULL,
	  "any path on the file system to measure (give path or injection)" },
	{ "injection", PARAM_STRING, false, NULL, 0, 0, NULL,
	  "the lab volume of this inject step (a dd-writer step)" },
	{ "min_free_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at least this many percent are free (give exactly one bound)" },
	{ "max_free_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at most this many percent are free" },
	{ "min_free_mib", PARAM_NUMBER, false, NULL, 0, 1e9, NULL,
	  "met when at least this many MiB are free" },
	{ "max_free_mib", PARAM_NUMBER, false, NULL, 0, 1e9, NULL,
	  "met when at most this many MiB are free" },
	{ NULL },
};

static const char *const bounds[] = { "min_free_percent", "max_free_percent", "min_free_mib",
				      "max_free_mib", NULL };

static int disk_free_validate(const struct params *p, char *msg, size_t size)
{
	int nb = 0;

	for (const char *const *b = bounds; *b; b++)
		nb += params_isset(p, *b);
	if (nb != 1) {
		snprintf(msg, size,
			 "give exactly one of min_free_percent, max_free_percent, "
			 "min_free_mib or max_free_mib");
		return -1;
	}
	if (params_isset(p, "path") == params_isset(p, "injection")) {
		snprintf(msg, size, "give exactly one of path or injection");
		return -1;
	}
	return 0;
}

static int disk_free_supported(const struct params *p, char *why, size_t size)
{
	return 0;
}

/* The path to measure; for an injection, its volume's mount point once
 * proven mounted. 1 = ok, 0 = not mounted (obs filled), -1 = error. */
static int target(struct check_ctx *ctx, char *path, size_t psize, char *obs, size_t osize,
		  struct cl_error *err)
{
	const char *inj = params_str(ctx->params, "injection", NULL);
	const cJSON *undo;
	struct lab_volume v;

	if (!inj) {
		snprintf(path, psize, "%s", params_str(ctx->params, "path", "/"));
		return 1;
	}
	undo = check_injection(ctx, "disk-free", inj, err);
	if (!undo)
		return -1;
	if (lab_volume_from_undo(lab_volume_undo_of(undo), &v))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "disk-free: inject step '%s' has no lab "
				    "volume",
				    inj);
	if (!lab_volume_mounted(&v)) {
		snprintf(obs, osize, "the lab volume is not mounted at %s", v.mountpoint);
		return 0;
	}
	snprintf(path, psize, "%s", v.mountpoint);
	return 1;
}

static int disk_free_check(struct check_ctx *ctx, char *obs, size_t size, struct cl_error *err)
{
	char path[4096];
	struct statvfs sv;
	double avail_mib, used_mib, pct, limit = 0;
	const char *bound = NULL;
	bool met;
	int r;

	r = target(ctx, path, sizeof(path), obs, size, err);
	if (r <= 0)
		return r < 0 ? CHECK_ERROR : CHECK_NOT_MET;
	if (statvfs(path, &sv) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "disk-free: statvfs '%s'", path);
		return CHECK_ERROR;
	}
	avail_mib = (double)sv.f_bavail * (double)sv.f_frsize / 1048576.0;
	used_mib = (double)(sv.f_blocks - sv.f_bfree) * (double)sv.f_frsize / 1048576.0;
	pct = avail_mib + used_mib > 0 ? 100.0 * avail_mib / (avail_mib + used_mib) : 0.0;
	for (const char *const *b = bounds; *b; b++)
		if (params_isset(ctx->params, *b)) {
			bound = *b;
			limit = params_number(ctx->params, *b, 0);
		}
	if (!bound) {
		cl_error_set(err, CL_EXIT_USAGE, "disk-free: no bound given");
		return CHECK_ERROR;
	}
	if (!strcmp(bound, "min_free_percent"))
		met = pct >= limit;
	else if (!strcmp(bound, "max_free_percent"))
		met = pct <= limit;
	else if (!strcmp(bound, "min_free_mib"))
		met = avail_mib >= limit;
	else
		met = avail_mib <= limit;
	snprintf(obs, size, "%s: %.1f%% free (%.1f MiB of %.1f MiB)", path, pct, avail_mib,
		 avail_mib + used_mib);
	return met ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier disk_free_verifier = {
	.name = "disk-free",
	.summary = "free space of a file system (statvfs, as df shows it), of a path or an "
		   "injection's lab volume",
	.params = disk_free_params,
	.supported = disk_free_supported,
	.validate = disk_free_validate,
	.check = disk_free_check,
};
