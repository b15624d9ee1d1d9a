/* memory-available: MemAvailable from /proc/meminfo against a bound.
 *
 * MemAvailable is the kernel's estimate of how much memory could be given to
 * new work without swapping: free memory plus the page cache and reclaimable
 * slab it could drop. It is what `free` shows as "available", and the number
 * to watch, not "free": Linux keeps otherwise idle memory busy as cache.
 * Bounds are in MiB, or in percent of MemTotal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

#define MIB (1024.0 * 1024.0)

static const struct param_spec memory_available_params[] = {
	{ "min_mib", PARAM_INT, false, NULL, 0, 16777216, NULL,
	  "met when at least this many MiB are available (give one of the four bounds)" },
	{ "max_mib", PARAM_INT, false, NULL, 0, 16777216, NULL,
	  "met when at most this many MiB are available" },
	{ "min_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at least this share of MemTotal is available" },
	{ "max_percent", PARAM_NUMBER, false, NULL, 0, 100, NULL,
	  "met when at most this share of MemTotal is available" },
	{ NULL },
};

static const char *const bounds[] = { "min_mib", "max_mib", "min_percent", "max_percent", NULL };

static int memory_available_validate(const struct params *p, char *msg, size_t size)
{
	int n = 0;

	for (const char *const *b = bounds; *b; b++)
		n += params_isset(p, *b);
	if (n == 1)
		return 0;
	snprintf(msg, size,
		 n ? "min_mib, max_mib, min_percent and max_percent exclude each "
		     "other: give one" :
		     "give exactly one of min_mib, max_mib, min_percent or max_percent");
	return -1;
}

static int memory_available_supported(const struct params *p, char *why, size_t size)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	bool have = false;

	if (!f) {
		snprintf(why, size, "needs /proc/meminfo: %s", strerror(errno));
		return -1;
	}
	while (!have && fgets(line, sizeof(line), f))
		have = !strncmp(line, "MemAvailable:", 13);
	fclose(f);
	if (!have) {
		snprintf(why, size, "/proc/meminfo has no MemAvailable (it needs Linux 3.14)");
		return -1;
	}
	return 0;
}

/* MemTotal and MemAvailable in bytes. 0, or -1 with err. */
static int meminfo_read(unsigned long long *total, unsigned long long *avail, struct cl_error *err)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	int found = 0;

	if (!f)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read /proc/meminfo");
	while (found != 3 && fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			*total = kb * 1024;
			found |= 1;
		} else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*avail = kb * 1024;
			found |= 2;
		}
	}
	fclose(f);
	if (found != 3)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "/proc/meminfo lacks MemTotal or MemAvailable");
	return 0;
}

static int memory_available_check(struct check_ctx *ctx, char *obs, size_t size,
				  struct cl_error *err)
{
	unsigned long long total = 0, avail = 0;
	double mib, pct;
	bool met;

	if (meminfo_read(&total, &avail, err)) {
		cl_error_prefix(err, "memory-available");
		return CHECK_ERROR;
	}
	mib = (double)avail / MIB;
	pct = total ? 100.0 * (double)avail / (double)total : 0;
	if (params_isset(ctx->params, "min_mib"))
		met = mib >= (double)params_int(ctx->params, "min_mib", 0);
	else if (params_isset(ctx->params, "max_mib"))
		met = mib <= (double)params_int(ctx->params, "max_mib", 0);
	else if (params_isset(ctx->params, "min_percent"))
		met = pct >= params_number(ctx->params, "min_percent", 0);
	else
		met = pct <= params_number(ctx->params, "max_percent", 100);
	snprintf(obs, size, "%.0f MiB available, %.0f%% of %.0f MiB", mib, pct,
		 (double)total / MIB);
	return met ? CHECK_MET : CHECK_NOT_MET;
}

const struct verifier memory_available_verifier = {
	.name = "memory-available",
	.summary =
		"MemAvailable from /proc/meminfo, in MiB or percent of MemTotal, against a bound",
	.params = memory_available_params,
	.supported = memory_available_supported,
	.validate = memory_available_validate,
	.check = memory_available_check,
};
