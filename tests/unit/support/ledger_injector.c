/* test-ledger: see ledger_injector.h. */
#include "support/ledger_injector.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void (*ledger_hook)(const char *where);

static const struct param_spec ledger_params[] = {
	{ NULL },
};

void ledger_marker_path(const char *dir, const char *step, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.applied", dir, step);
}

void ledger_file_path(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/ledger", dir);
}

static void ledger_temp_path(const char *dir, const char *step, const char *run, char *buf,
			     size_t size)
{
	snprintf(buf, size, "%s/.%s.applied.%s", dir, step, run);
}

cJSON *ledger_undo_new(const char *run_id, const char *step, const char *dir)
{
	cJSON *u = cJSON_CreateObject();

	cJSON_AddStringToObject(u, "run", run_id);
	cJSON_AddStringToObject(u, "step", step);
	cJSON_AddStringToObject(u, "dir", dir);
	return u;
}

static const char *undo_str(const cJSON *undo, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(undo, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int write_all_sync(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return fsync(fd);
}

static int ledger_append(const char *dir, const char *verb, const char *step,
			 struct cl_error *err)
{
	char path[1024], line[256];
	int fd, rc;

	ledger_file_path(dir, path, sizeof(path));
	snprintf(line, sizeof(line), "%s %s\n", verb, step);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to open '%s'", path);
	rc = write_all_sync(fd, line, strlen(line));
	if (rc < 0)
		cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to write '%s'", path);
	close(fd);
	return rc;
}

static int ledger_supported(const struct params *params, char *why, size_t size)
{
	return 0;
}

static int ledger_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *dir = undo_str(ctx->undo, "dir");
	char marker[1024], tmp[1024];
	int fd, rc = -1;

	if (!dir)
		return cl_error_set(err, CL_EXIT_USAGE, "test-ledger: undo data has no dir");
	ledger_marker_path(dir, ctx->step_id, marker, sizeof(marker));
	ledger_temp_path(dir, ctx->step_id, ctx->run_id, tmp, sizeof(tmp));
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "marker");
	cJSON_AddStringToObject(ctx->undo, "marker", marker);
	if (inject_ctx_save(ctx, err))
		return -1;
	if (ledger_hook)
		ledger_hook("apply:saved");
	if (ledger_append(dir, "apply", ctx->step_id, err))
		return -1;
	if (ledger_hook)
		ledger_hook("apply:logged");

	/* The temp name carries the run id, so revert can claim a leftover. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
	if (write_all_sync(fd, ctx->run_id, strlen(ctx->run_id)) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to write '%s'", tmp);
		goto out;
	}
	/* link() fails with EEXIST where rename() would clobber another run's
	 * marker. */
	if (link(tmp, marker) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", marker);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	unlink(tmp);
	return rc;
}

/* 1 when path holds exactly run, 0 when it holds something else, -1 when it
 * cannot be read (errno set; ENOENT = no marker). */
static int marker_is_ours(const char *path, const char *run)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return strcmp(buf, run) == 0;
}

static int ledger_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const char *dir = undo_str(ctx->undo, "dir");
	const char *run = undo_str(ctx->undo, "run");
	char marker[1024], tmp[1024], knob[1024];
	struct stat st;
	int ours;

	if (!run)
		run = ctx->run_id;
	/* An intent without our undo data: apply never ran. */
	if (!dir || !run)
		return 0;
	snprintf(knob, sizeof(knob), "%s/%s.fail-revert", dir, ctx->step_id);
	if (stat(knob, &st) == 0)
		return cl_error_set(err, CL_EXIT_REVERT, "test-ledger: revert of '%s' refused",
				    ctx->step_id);
	ledger_temp_path(dir, ctx->step_id, run, tmp, sizeof(tmp));
	if (unlink(tmp) < 0 && errno != ENOENT)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to remove '%s'", tmp);
	ledger_marker_path(dir, ctx->step_id, marker, sizeof(marker));
	ours = marker_is_ours(marker, run);
	if (ours < 0 && errno == ENOENT)
		return 0;
	if (ours < 0)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to read '%s'", marker);
	if (!ours)
		return 0; /* another run's marker: not ours to remove */
	if (unlink(marker) < 0)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to remove '%s'", marker);
	if (ledger_append(dir, "revert", ctx->step_id, err))
		return -1;
	snprintf(ctx->report, sizeof(ctx->report), "removed '%s'", marker);
	return 0;
}

const struct injector ledger_injector = {
	.name = LEDGER_INJECTOR_NAME,
	.summary = "test only: a marker file per step and a ledger of applies and reverts",
	.params = ledger_params,
	.supported = ledger_supported,
	.apply = ledger_apply,
	.revert = ledger_revert,
};

static const struct injector *const ledger_injectors[] = {
	&ledger_injector,
	NULL,
};

void ledger_injector_register(void)
{
	registry_set_test_injectors(ledger_injectors);
}
