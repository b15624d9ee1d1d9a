#include "core/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/registry.h"

struct journal {
	int fd;
	int dirfd;
	char dir[512];
	char run_id[128];
	long seq;
};

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int state_dir(char *buf, size_t size, bool create, struct cl_error *err)
{
	const char *env = getenv("CHAOSLAB_STATE");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		snprintf(buf, size, "%s", env);
	else if (geteuid() == 0)
		snprintf(buf, size, "/var/lib/chaoslab");
	else if (xdg && *xdg)
		snprintf(buf, size, "%s/chaoslab", xdg);
	else if (home && *home)
		snprintf(buf, size, "%s/.local/state/chaoslab", home);
	else
		return cl_error_set(err, CL_EXIT_USAGE,
				    "no state directory: set CHAOSLAB_STATE or HOME");
	if (create && mkdir_p(buf, 0700) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "unable to create state directory '%s'", buf);
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* ---- run lock ------------------------------------------------------------ */

static int read_small(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

int run_lock_acquire(const char *dir, struct run_lock *lk, bool *stale_owner,
		     struct cl_error *err)
{
	char path[600], buf[1024];
	struct proc_ident me, prev;
	cJSON *j = NULL;
	char *text;

	lk->fd = -1;
	if (stale_owner)
		*stale_owner = false;
	snprintf(path, sizeof(path), "%s/lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "unable to open '%s'", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		buf[0] = '\0';
		read_small(fd, buf, sizeof(buf));
		close(fd);
		if (e != EWOULDBLOCK)
			return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to lock '%s'", path);
		j = cJSON_Parse(buf);
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scenario");
		if (j && proc_ident_from_json(cJSON_GetObjectItemCaseSensitive(j, "owner"), &prev) == 0) {
			if (proc_ident_alive(&prev))
				cl_error_set(err, CL_EXIT_USAGE,
					     "a drill is already running (pid %d%s%s); wait for it or "
					     "run 'chaoslab giveup'",
					     (int)prev.pid, cJSON_IsString(sc) ? ", " : "",
					     cJSON_IsString(sc) ? sc->valuestring : "");
			else
				cl_error_set(err, CL_EXIT_USAGE,
					     "the run lock is held but its owner (pid %d) is gone; a "
					     "leftover process holds '%s': find it with 'fuser %s'",
					     (int)prev.pid, path, path);
		} else {
			cl_error_set(err, CL_EXIT_USAGE, "another chaoslab holds '%s'", path);
		}
		cJSON_Delete(j);
		return -1;
	}
	/* We hold the lock. If the file names a previous owner that is not us
	 * and is gone, that run died without cleaning up. */
	if (read_small(fd, buf, sizeof(buf)) == 0 && buf[0]) {
		j = cJSON_Parse(buf);
		if (j && proc_ident_from_json(cJSON_GetObjectItemCaseSensitive(j, "owner"), &prev) == 0 &&
		    !proc_ident_alive(&prev) && stale_owner)
			*stale_owner = true;
		cJSON_Delete(j);
		j = NULL;
	}
	if (proc_ident_of(getpid(), &me) < 0) {
		close(fd);
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read own /proc entry");
	}
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "owner", proc_ident_to_json(&me));
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text || ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0) {
		free(text);
		close(fd);
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to write '%s'", path);
	}
	free(text);
	lk->fd = fd;
	return 0;
}

int run_lock_describe(struct run_lock *lk, const char *run_id, const char *scenario)
{
	struct proc_ident me;
	cJSON *j;
	char *text;
	int rc = -1;

	if (lk->fd < 0 || proc_ident_of(getpid(), &me) < 0)
		return -1;
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "owner", proc_ident_to_json(&me));
	cJSON_AddStringToObject(j, "run_id", run_id);
	cJSON_AddStringToObject(j, "scenario", scenario);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (text && ftruncate(lk->fd, 0) == 0 && pwrite(lk->fd, text, strlen(text), 0) >= 0)
		rc = 0;
	free(text);
	return rc;
}

void run_lock_release(struct run_lock *lk)
{
	if (lk->fd >= 0) {
		/* Leave an empty file: no owner to be mistaken for a dead run. */
		if (ftruncate(lk->fd, 0) < 0) {
			/* nothing more to do: the flock still goes away below */
		}
		flock(lk->fd, LOCK_UN);
		close(lk->fd);
	}
	lk->fd = -1;
}

int run_lock_holder(const char *dir, struct proc_ident *who, char *run_id, size_t size)
{
	char path[600], buf[1024];
	int fd, rc = -1;
	cJSON *j;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read_small(fd, buf, sizeof(buf)) == 0 && (j = cJSON_Parse(buf))) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "run_id");
		if (proc_ident_from_json(cJSON_GetObjectItemCaseSensitive(j, "owner"), who) == 0 &&
		    proc_ident_alive(who)) {
			if (run_id)
				snprintf(run_id, size, "%s", cJSON_IsString(r) ? r->valuestring : "");
			rc = 0;
		}
		cJSON_Delete(j);
	}
	close(fd);
	return rc;
}

/* ---- journal writing ----------------------------------------------------- */

void journal_path(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/journal", dir);
}

int journal_write_line(int fd, const cJSON *rec, struct cl_error *err)
{
	char *text = cJSON_PrintUnformatted(rec);
	size_t len, off = 0;

	if (!text)
		return cl_error_set(err, CL_EXIT_REVERT, "out of memory");
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL: the buffer is len+1 long */
	len++;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(text);
			return cl_error_errno(err, CL_EXIT_REVERT, e, "unable to write the journal");
		}
		off += (size_t)n;
	}
	free(text);
	if (fdatasync(fd) < 0)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to fsync the journal");
	return 0;
}

struct journal *journal_begin(const char *dir, const char *run_id, const char *scenario,
			      struct cl_error *err)
{
	char path[600];
	struct journal *j = calloc(1, sizeof(*j));
	struct proc_ident me;
	cJSON *rec;

	if (!j) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	journal_path(dir, path, sizeof(path));
	j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		if (errno == EEXIST)
			cl_error_set(err, CL_EXIT_USAGE,
				     "a previous run's journal '%s' exists: run 'chaoslab recover'",
				     path);
		else
			cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "unable to create '%s'", path);
		free(j);
		return NULL;
	}
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	snprintf(j->run_id, sizeof(j->run_id), "%s", run_id);
	if (proc_ident_of(getpid(), &me) < 0)
		memset(&me, 0, sizeof(me)); /* no owner: recover will not wait for one */
	rec = cJSON_CreateObject();
	cJSON_AddNumberToObject(rec, "seq", (double)j->seq++);
	cJSON_AddStringToObject(rec, "rec", "begin");
	cJSON_AddStringToObject(rec, "run", run_id);
	cJSON_AddStringToObject(rec, "scenario", scenario);
	cJSON_AddItemToObject(rec, "owner", proc_ident_to_json(&me));
	int rc = journal_write_line(j->fd, rec, err);
	cJSON_Delete(rec);
	if (rc || fsync_dir(dir) < 0) {
		if (!rc)
			cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "unable to fsync '%s'", dir);
		close(j->fd);
		unlink(path);
		free(j);
		return NULL;
	}
	return j;
}

int journal_append(struct journal *j, const char *rec, const char *step, const char *type,
		   const cJSON *undo, struct cl_error *err)
{
	cJSON *r = cJSON_CreateObject();
	int rc;

	if (!r)
		return cl_error_set(err, CL_EXIT_REVERT, "out of memory");
	cJSON_AddNumberToObject(r, "seq", (double)j->seq++);
	cJSON_AddStringToObject(r, "rec", rec);
	if (step)
		cJSON_AddStringToObject(r, "step", step);
	if (type)
		cJSON_AddStringToObject(r, "type", type);
	if (undo)
		cJSON_AddItemToObject(r, "undo", cJSON_Duplicate(undo, 1));
	rc = journal_write_line(j->fd, r, err);
	cJSON_Delete(r);
	return rc;
}

int journal_finish(struct journal *j, struct cl_error *err)
{
	char path[600];
	int rc = 0;

	journal_path(j->dir, path, sizeof(path));
	close(j->fd);
	if (unlink(path) < 0 && errno != ENOENT)
		rc = cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to remove '%s'", path);
	else if (fsync_dir(j->dir) < 0)
		rc = cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to fsync '%s'", j->dir);
	free(j);
	return rc;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	close(j->fd);
	free(j);
}

/* ---- reading and recovery ------------------------------------------------ */

void journal_view_release(struct journal_view *v)
{
	for (size_t i = 0; i < v->nsteps; i++)
		cJSON_Delete(v->steps[i].undo);
	free(v->steps);
	memset(v, 0, sizeof(*v));
}

static struct journal_step *view_step(struct journal_view *v, const char *step, const char *type,
				      bool create)
{
	for (size_t i = 0; i < v->nsteps; i++)
		if (!strcmp(v->steps[i].step, step))
			return &v->steps[i];
	if (!create)
		return NULL;
	struct journal_step *ns = realloc(v->steps, (v->nsteps + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	v->steps = ns;
	memset(&ns[v->nsteps], 0, sizeof(*ns));
	snprintf(ns[v->nsteps].step, sizeof(ns[v->nsteps].step), "%s", step);
	snprintf(ns[v->nsteps].type, sizeof(ns[v->nsteps].type), "%s", type ? type : "");
	return &ns[v->nsteps++];
}

int journal_read(const char *path, struct journal_view *v, struct cl_error *err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(v, 0, sizeof(*v));
	if (!f)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to open '%s'", path);
	while ((n = getline(&line, &cap, f)) > 0) {
		cJSON *r;
		/* A record without its newline was torn by a crash mid-write. */
		if (line[n - 1] != '\n' || !(r = cJSON_Parse(line))) {
			v->torn++;
			continue;
		}
		const cJSON *rec = cJSON_GetObjectItemCaseSensitive(r, "rec");
		const cJSON *step = cJSON_GetObjectItemCaseSensitive(r, "step");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(r, "type");
		const cJSON *undo = cJSON_GetObjectItemCaseSensitive(r, "undo");
		if (!cJSON_IsString(rec)) {
			v->torn++;
		} else if (!strcmp(rec->valuestring, "begin")) {
			const cJSON *run = cJSON_GetObjectItemCaseSensitive(r, "run");
			const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "scenario");
			if (cJSON_IsString(run))
				snprintf(v->run_id, sizeof(v->run_id), "%s", run->valuestring);
			if (cJSON_IsString(sc))
				snprintf(v->scenario, sizeof(v->scenario), "%s", sc->valuestring);
			proc_ident_from_json(cJSON_GetObjectItemCaseSensitive(r, "owner"), &v->owner);
		} else if (cJSON_IsString(step)) {
			const char *rs = rec->valuestring;
			bool intent = !strcmp(rs, "intent");
			struct journal_step *st = view_step(v, step->valuestring,
							    cJSON_IsString(type) ? type->valuestring : NULL,
							    intent);
			/* Dropping an intent would leave its change unreverted. */
			if (!st && intent) {
				cJSON_Delete(r);
				free(line);
				fclose(f);
				journal_view_release(v);
				return cl_error_set(err, CL_EXIT_REVERT, "out of memory reading '%s'",
						    path);
			}
			if (st) {
				if ((intent || !strcmp(rs, "update")) && cJSON_IsObject(undo)) {
					cJSON_Delete(st->undo);
					st->undo = cJSON_Duplicate(undo, 1);
				}
				if (intent) {
					/* A re-applied step starts over. */
					st->applied = st->reverted = st->revert_failed = false;
				} else if (!strcmp(rs, "applied")) {
					st->applied = true;
				} else if (!strcmp(rs, "reverted")) {
					st->reverted = true;
					st->revert_failed = false;
				} else if (!strcmp(rs, "revert-failed")) {
					st->revert_failed = true;
				}
			}
		}
		cJSON_Delete(r);
	}
	free(line);
	fclose(f);
	return 0;
}

static void report_add(struct recover_report *rep, const char *fmt, const char *a, const char *b,
		       const char *c)
{
	size_t off = strlen(rep->text);

	if (off < sizeof(rep->text))
		snprintf(rep->text + off, sizeof(rep->text) - off, fmt, a, b, c);
}

/* Cut a torn last record (bytes after the last newline) off the journal, so
 * the records appended next start on a line of their own instead of being
 * glued to the torn one and lost with it. The torn record's action never ran:
 * the protocol acts only once a record's fsync returned. */
static int drop_torn_tail(int fd)
{
	char buf[4096];
	struct stat st;
	off_t end, keep = 0;

	if (fstat(fd, &st) < 0)
		return -1;
	for (end = st.st_size; end > 0 && !keep;) {
		size_t n = end > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)end;
		off_t from = end - (off_t)n;
		if (pread(fd, buf, n, from) != (ssize_t)n)
			return -1;
		for (size_t i = n; i-- > 0;)
			if (buf[i] == '\n') {
				keep = from + (off_t)i + 1;
				break;
			}
		end = from;
	}
	if (keep == st.st_size)
		return 0;
	if (ftruncate(fd, keep) < 0 || fdatasync(fd) < 0)
		return -1;
	return 0;
}

int journal_recover(const char *dir, struct recover_report *rep, struct cl_error *err)
{
	char path[600];
	struct journal_view v;
	struct journal j = { .fd = -1 };
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	journal_path(dir, path, sizeof(path));
	if (access(path, F_OK) != 0) {
		if (errno == ENOENT)
			return 0;
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to access '%s'", path);
	}
	if (journal_read(path, &v, err))
		return -1;
	if (v.owner.pid && proc_ident_alive(&v.owner) && v.owner.pid != getpid()) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "the run in '%s' is still alive (pid %d): not recovering", path,
			     (int)v.owner.pid);
		journal_view_release(&v);
		return -1;
	}
	rep->found = true;
	rep->torn = (size_t)v.torn;
	snprintf(rep->run_id, sizeof(rep->run_id), "%s", v.run_id);
	snprintf(rep->scenario, sizeof(rep->scenario), "%s", v.scenario);
	j.fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (j.fd < 0) {
		rc = cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to open '%s'", path);
		goto out;
	}
	if (drop_torn_tail(j.fd) < 0) {
		rc = cl_error_errno(err, CL_EXIT_REVERT, errno,
				    "unable to cut the torn last record off '%s'", path);
		goto out;
	}
	snprintf(j.dir, sizeof(j.dir), "%s", dir);
	j.seq = 1000000; /* recover's records sort after the dead run's */

	for (size_t k = v.nsteps; k-- > 0;) {
		struct journal_step *st = &v.steps[k];
		const struct injector *in = injector_find(st->type);
		struct revert_ctx rc_ctx = { .run_id = v.run_id, .step_id = st->step,
					     .state_dir = dir, .undo = st->undo };
		struct cl_error e;

		if (st->reverted)
			continue;
		if (!in) {
			report_add(rep, "  %s (%s): no such injector in this build, left as is\n",
				   st->step, st->type, "");
			rep->failed++;
			continue;
		}
		cl_error_clear(&e);
		if (journal_append(&j, "revert-begin", st->step, st->type, NULL, err)) {
			rc = -1;
			goto out;
		}
		if (in->revert(&rc_ctx, &e) < 0) {
			char msg[1024];
			rep->failed++;
			report_add(rep, "  %s (%s): revert failed: %s\n", st->step, st->type,
				   cl_error_format(&e, msg, sizeof(msg)));
			journal_append(&j, "revert-failed", st->step, st->type, NULL, NULL);
			continue;
		}
		rep->reverted++;
		report_add(rep, "  %s (%s): %s\n", st->step, st->type,
			   rc_ctx.report[0] ? rc_ctx.report : "nothing of ours was left");
		if (journal_append(&j, "reverted", st->step, st->type, NULL, err)) {
			rc = -1;
			goto out;
		}
	}
	if (rep->failed) {
		rc = cl_error_set(err, CL_EXIT_REVERT,
				  "%zu step(s) of run %s could not be reverted; the journal is kept "
				  "in '%s'",
				  rep->failed, v.run_id, path);
		goto out;
	}
	close(j.fd);
	j.fd = -1;
	if (unlink(path) < 0 && errno != ENOENT)
		rc = cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to remove '%s'", path);
	else
		fsync_dir(dir);
out:
	if (j.fd >= 0)
		close(j.fd);
	journal_view_release(&v);
	return rc;
}

int inject_ctx_save(struct inject_ctx *ctx, struct cl_error *err)
{
	if (!ctx->journal)
		return 0;
	return journal_append(ctx->journal, "update", ctx->step_id, NULL, ctx->undo, err);
}
