#include "drill/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/journal.h"
#include "cli/support.h"
#include "core/results.h"
#include "drill/control.h"
#include "drill/score.h"
#include "sys/features.h"
#include "sys/proc.h"
#include "sys/worker.h"

#define TICK_MS 200           /* poll period when no event arrives */
#define MAX_PIDFDS 64

enum state {
	S_PREFLIGHT,
	S_LAB,
	S_INJECT,
	S_CONFIRM,
	S_WATCH,
	S_REVERT,
	S_SCORE,
	S_ASSESS,
	S_RECORD,
	S_DONE,
};

/* One change the drill makes: a lab service or an inject step. */
struct change {
	char id[80];
	const struct injector *in;
	const struct params *params;
	struct params own;        /* lab services: parameters built here */
	cJSON *undo;
	bool journaled;           /* intent written: revert is owed */
	bool reverted;
	bool revert_failed;
	char report[256];
};

struct crit {
	const struct step *st;
	struct check_ctx ctx;
	int last;                 /* CHECK_* of the latest evaluation, -2 = never */
	char obs[256];
	double first_met;         /* run-relative seconds, < 0 = never */
	bool violated;            /* guards */
};

struct drill {
	const struct scenario *s;
	const struct drill_opts *o;
	FILE *out;
	char run_id[160];
	char dir[512];
	char started_at[32];
	struct run_lock lock;
	bool locked;
	struct journal *j;
	struct change *ch;
	size_t nch;
	struct crit *sym, *fix, *grd;
	struct check_env env;
	double mono0;             /* run start */
	double t0;                /* clock start (run-relative), < 0 = not started */
	double t_fixed;           /* run-relative, < 0 = not fixed */
	double t_end;
	double stable_since;
	cJSON *events;
	cJSON *hints_used;
	int hints_taken;
	int hint_penalty;
	int guard_penalty;
	const char *outcome;
	bool revert_ok;
	int ctl_fd;
	pid_t auto_pid;
	bool auto_done;
	int auto_status;
	int live_lines;
	double last_draw;
	struct score score;
	bool scored;
	int confidence;
	char root_cause[512];
	struct cl_error err;
	bool have_err;
	bool began;               /* the journal was started */
};

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	int saved = errno;

	got_signal = sig;
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], "s", 1) < 0) {
		/* the flag alone still ends the drill at the next tick */
	}
	errno = saved;
}

static double rel_now(const struct drill *d)
{
	return mono_now() - d->mono0;
}

static double clock_secs(const struct drill *d)
{
	return d->t0 < 0 ? 0 : rel_now(d) - d->t0;
}

static void event(struct drill *d, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void event(struct drill *d, const char *name, const char *fmt, ...)
{
	cJSON *e = cJSON_CreateObject();
	char detail[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	cJSON_AddNumberToObject(e, "t", round(rel_now(d) * 1000) / 1000);
	cJSON_AddNumberToObject(e, "mono", mono_now());
	cJSON_AddStringToObject(e, "event", name);
	if (detail[0])
		cJSON_AddStringToObject(e, "detail", detail);
	cJSON_AddItemToArray(d->events, e);
}

static void fail(struct drill *d, const struct cl_error *e)
{
	if (!d->have_err && e) {
		d->err = *e;
		d->have_err = true;
	}
}

static const char *col(const struct drill *d, const char *code)
{
	return d->o->color ? code : "";
}

static void mmss(char *buf, size_t size, double secs)
{
	int s = secs < 0 ? 0 : (int)secs;
	snprintf(buf, size, "%02d:%02d", s / 60, s % 60);
}

/* ---- lookups verifiers make ------------------------------------------------ */

static struct change *change_find(struct drill *d, const char *id)
{
	for (size_t i = 0; i < d->nch; i++)
		if (!strcmp(d->ch[i].id, id))
			return &d->ch[i];
	return NULL;
}

static const cJSON *env_injection(void *opaque, const char *step_id)
{
	struct change *c = change_find(opaque, step_id);
	return c ? c->undo : NULL;
}

static pid_t env_service_pid(void *opaque, const char *name)
{
	char id[96];
	struct change *c;
	struct proc_ident pi;

	snprintf(id, sizeof(id), "lab-%s", name);
	c = change_find(opaque, id);
	if (!c || !c->undo)
		return -1;
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(c->undo, "workers");
	const cJSON *first = cJSON_IsArray(w) ? cJSON_GetArrayItem(w, 0) : NULL;
	if (!first || proc_ident_from_json(first, &pi) || !proc_ident_alive(&pi) ||
	    proc_is_zombie(pi.pid))
		return -1;
	return pi.pid;
}

static int env_service_addr(void *opaque, const char *name, char *host, size_t size, int *port)
{
	char id[96];
	struct change *c;

	if (env_service_pid(opaque, name) < 0)
		return -1;
	snprintf(id, sizeof(id), "lab-%s", name);
	c = change_find(opaque, id);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(c->undo, "address");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(c->undo, "port");
	if (!cJSON_IsNumber(p))
		return -1;
	snprintf(host, size, "%s", cJSON_IsString(a) ? a->valuestring : "127.0.0.1");
	*port = p->valueint;
	return 0;
}

/* ---- criteria ---------------------------------------------------------------- */

static void crit_init(struct drill *d, struct crit *c, const struct step *st)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->ctx.params = &st->params;
	c->ctx.env = &d->env;
	c->last = -2;
	c->first_met = -1;
	snprintf(c->obs, sizeof(c->obs), "not checked yet");
}

static void crit_release(struct crit *c)
{
	if (c->st && c->st->verifier->release)
		c->st->verifier->release(&c->ctx);
	c->ctx.state = NULL;
}

/* Evaluate one criterion; returns CHECK_MET or CHECK_NOT_MET (an error counts
 * as not met, with the error as the observation). */
static int crit_eval(struct drill *d, struct crit *c)
{
	struct cl_error e;
	char obs[256] = "";
	int r;

	cl_error_clear(&e);
	c->ctx.now = mono_now();
	r = c->st->verifier->check(&c->ctx, obs, sizeof(obs), &e);
	if (r == CHECK_ERROR) {
		char m[1024];
		snprintf(c->obs, sizeof(c->obs), "error: %s", cl_error_format(&e, m, sizeof(m)));
		r = CHECK_NOT_MET;
	} else {
		snprintf(c->obs, sizeof(c->obs), "%s", obs);
	}
	if (r == CHECK_MET && c->first_met < 0)
		c->first_met = rel_now(d);
	if (r != c->last && c->last != -2 && !d->o->live && d->t0 >= 0) {
		char t[16];
		mmss(t, sizeof(t), clock_secs(d));
		fprintf(d->out, "[%s] %s %s: %s — %s\n", t, c->st->path, c->st->type,
			r == CHECK_MET ? "met" : "not met", c->obs);
		fflush(d->out);
	}
	if (r != c->last && d->t0 >= 0)
		event(d, r == CHECK_MET ? "criterion_met" : "criterion_unmet", "%s %s: %s",
		      c->st->path, c->st->type, c->obs);
	c->last = r;
	return r;
}

/* ---- changes (lab services and inject steps) ------------------------------------ */

static int change_apply(struct drill *d, struct change *c, struct cl_error *err)
{
	struct inject_ctx ctx = {
		.run_id = d->run_id, .step_id = c->id, .state_dir = d->dir,
		.params = c->params, .journal = d->j,
	};
	char tag[256];

	worker_owner_tag(tag, sizeof(tag), d->run_id, c->id);
	c->undo = cJSON_CreateObject();
	if (!c->undo)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	cJSON_AddStringToObject(c->undo, "run", d->run_id);
	cJSON_AddStringToObject(c->undo, "step", c->id);
	cJSON_AddStringToObject(c->undo, "owner", tag);
	/* Write-ahead: the intent reaches the disk before the change starts. */
	if (journal_append(d->j, "intent", c->id, c->in->name, c->undo, err))
		return -1;
	c->journaled = true;
	ctx.undo = c->undo;
	if (c->in->apply(&ctx, err) < 0) {
		event(d, "inject_failed", "%s (%s): %s", c->id, c->in->name, err->msg);
		return -1;
	}
	if (journal_append(d->j, "applied", c->id, c->in->name, c->undo, err))
		return -1;
	event(d, "injected", "%s (%s)", c->id, c->in->name);
	return 0;
}

static void change_revert(struct drill *d, struct change *c)
{
	struct revert_ctx rc = { .run_id = d->run_id, .step_id = c->id, .state_dir = d->dir,
				 .undo = c->undo };
	struct cl_error e;

	if (!c->journaled || c->reverted)
		return;
	cl_error_clear(&e);
	journal_append(d->j, "revert-begin", c->id, c->in->name, NULL, NULL);
	if (c->in->revert(&rc, &e) < 0) {
		char m[1024];
		c->revert_failed = true;
		snprintf(c->report, sizeof(c->report), "revert failed: %s",
			 cl_error_format(&e, m, sizeof(m)));
		journal_append(d->j, "revert-failed", c->id, c->in->name, NULL, NULL);
		event(d, "revert_failed", "%s: %s", c->id, c->report);
		return;
	}
	c->reverted = true;
	snprintf(c->report, sizeof(c->report), "%s", rc.report[0] ? rc.report : "nothing left");
	journal_append(d->j, "reverted", c->id, c->in->name, NULL, NULL);
	event(d, "reverted", "%s: %s", c->id, c->report);
}

/* The pidfds of every process the changes journaled, so a death wakes the
 * watch loop at once rather than at the next tick. */
static size_t collect_pidfds(struct drill *d, int *fds, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nch && n < cap; i++) {
		const cJSON *w = d->ch[i].undo ? cJSON_GetObjectItemCaseSensitive(d->ch[i].undo, "workers")
					       : NULL;
		const cJSON *it;
		cJSON_ArrayForEach(it, w)
		{
			struct proc_ident pi;
			if (n >= cap || proc_ident_from_json(it, &pi))
				continue;
			int fd = (int)syscall(SYS_pidfd_open, pi.pid, 0);
			if (fd < 0)
				continue;
			/* The pid could have been recycled between the journal and now. */
			if (!proc_ident_alive(&pi)) {
				close(fd);
				continue;
			}
			fds[n++] = fd;
		}
	}
	return n;
}

/* ---- live display ------------------------------------------------------------------ */

static void crit_line(struct drill *d, const struct crit *c, bool guard)
{
	bool ok = guard ? !c->violated : c->last == CHECK_MET;
	fprintf(d->out, "\033[K  %s%s%s %-14s %-15s %s\n",
		col(d, ok ? "\033[32m" : "\033[31m"), ok ? "ok " : guard ? "!! " : "-- ",
		col(d, "\033[0m"), c->st->path, c->st->type, guard && c->violated ? c->st->message : c->obs);
}

static int hints_available(const struct drill *d)
{
	int n = 0;
	for (size_t i = (size_t)d->hints_taken; i < d->s->nhints; i++)
		if (clock_secs(d) >= d->s->hints[i].after_seconds)
			n++;
	return n;
}

static void draw(struct drill *d, bool force)
{
	char t[16], par[16];

	if (!d->o->live || (!force && rel_now(d) - d->last_draw < 1.0))
		return;
	d->last_draw = rel_now(d);
	if (d->live_lines)
		fprintf(d->out, "\033[%dA", d->live_lines);
	mmss(t, sizeof(t), clock_secs(d));
	mmss(par, sizeof(par), d->s->par_seconds);
	fprintf(d->out, "\033[K%s%s%s  par %s  %s\n", col(d, "\033[1m"), t, col(d, "\033[0m"), par,
		d->s->id);
	for (size_t i = 0; i < d->s->nfixed_when; i++)
		crit_line(d, &d->fix[i], false);
	for (size_t i = 0; i < d->s->nguards; i++)
		crit_line(d, &d->grd[i], true);
	int avail = hints_available(d);
	fprintf(d->out, "\033[K  hints: %d taken, %d available now%s\n", d->hints_taken, avail,
		avail ? " (chaoslab hint)" : "");
	d->live_lines = 2 + (int)d->s->nfixed_when + (int)d->s->nguards;
	fflush(d->out);
}

/* ---- the control socket ---------------------------------------------------------------- */

static cJSON *crit_json(const struct crit *c, bool guard)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "path", c->st->path);
	cJSON_AddStringToObject(o, "type", c->st->type);
	if (guard) {
		cJSON_AddBoolToObject(o, "violated", c->violated);
		cJSON_AddStringToObject(o, "message", c->st->message);
		cJSON_AddNumberToObject(o, "penalty", c->st->penalty);
	} else {
		cJSON_AddBoolToObject(o, "met", c->last == CHECK_MET);
		if (c->st->kind == STEP_FIXED_WHEN)
			cJSON_AddNumberToObject(o, "weight", c->st->weight);
	}
	cJSON_AddStringToObject(o, "observation", c->obs);
	return o;
}

static char *status_json(struct drill *d, const char *state)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *text;

	cJSON_AddStringToObject(o, "run_id", d->run_id);
	cJSON_AddStringToObject(o, "scenario", d->s->id);
	cJSON_AddStringToObject(o, "title", d->s->title);
	cJSON_AddStringToObject(o, "state", state);
	cJSON_AddNumberToObject(o, "elapsed_seconds", round(clock_secs(d) * 10) / 10);
	cJSON_AddNumberToObject(o, "par_seconds", d->s->par_seconds);
	cJSON_AddNumberToObject(o, "time_limit_seconds", d->s->time_limit_seconds);
	a = cJSON_AddArrayToObject(o, "fixed_when");
	for (size_t i = 0; i < d->s->nfixed_when; i++)
		cJSON_AddItemToArray(a, crit_json(&d->fix[i], false));
	a = cJSON_AddArrayToObject(o, "guards");
	for (size_t i = 0; i < d->s->nguards; i++)
		cJSON_AddItemToArray(a, crit_json(&d->grd[i], true));
	cJSON_AddNumberToObject(o, "hints_taken", d->hints_taken);
	cJSON_AddNumberToObject(o, "hints_left", (double)(d->s->nhints - (size_t)d->hints_taken));
	cJSON_AddNumberToObject(o, "hints_available", hints_available(d));
	if ((size_t)d->hints_taken < d->s->nhints) {
		double wait = d->s->hints[d->hints_taken].after_seconds - clock_secs(d);
		cJSON_AddNumberToObject(o, "next_hint_in_seconds", wait > 0 ? ceil(wait) : 0);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static char *take_hint(struct drill *d)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	if ((size_t)d->hints_taken >= d->s->nhints) {
		cJSON_AddStringToObject(o, "error", d->s->nhints ? "no hints left" : "this drill has no hints");
	} else {
		const struct hint *h = &d->s->hints[d->hints_taken];
		double wait = h->after_seconds - clock_secs(d);
		if (d->t0 < 0) {
			cJSON_AddStringToObject(o, "error", "the clock has not started yet");
		} else if (wait > 0) {
			char m[96];
			snprintf(m, sizeof(m), "the next hint opens in %.0f s", ceil(wait));
			cJSON_AddStringToObject(o, "error", m);
		} else {
			cJSON *u = cJSON_CreateObject();
			d->hints_taken++;
			d->hint_penalty += h->penalty;
			cJSON_AddNumberToObject(u, "index", d->hints_taken);
			cJSON_AddNumberToObject(u, "at_seconds", round(clock_secs(d) * 10) / 10);
			cJSON_AddNumberToObject(u, "penalty", h->penalty);
			cJSON_AddItemToArray(d->hints_used, u);
			event(d, "hint", "hint %d (penalty %d)", d->hints_taken, h->penalty);
			cJSON_AddNumberToObject(o, "hint", d->hints_taken);
			cJSON_AddNumberToObject(o, "of", (double)d->s->nhints);
			cJSON_AddNumberToObject(o, "penalty", h->penalty);
			cJSON_AddStringToObject(o, "text", h->text);
			if (!d->o->live) {
				fprintf(d->out, "hint %d: %s (-%d)\n", d->hints_taken, h->text, h->penalty);
				fflush(d->out);
			}
		}
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* Serve pending control requests. Returns true when the engineer gave up. */
static bool serve_control(struct drill *d, const char *state)
{
	bool giveup = false;
	char req[128];
	int c;

	while (d->ctl_fd >= 0 && (c = control_accept(d->ctl_fd, req, sizeof(req))) >= 0) {
		char *reply = NULL;
		if (!strcmp(req, "status")) {
			reply = status_json(d, state);
		} else if (!strcmp(req, "hint")) {
			reply = take_hint(d);
		} else if (!strcmp(req, "giveup")) {
			reply = strdup("{\"ok\":true}");
			giveup = true;
		} else {
			reply = strdup("{\"error\":\"unknown request\"}");
		}
		control_reply(c, reply ? reply : "{}");
		free(reply);
	}
	return giveup;
}

/* ---- autopilot ---------------------------------------------------------------------- */

static void autopilot_start(struct drill *d)
{
	size_t len = 1;
	char *script;

	for (size_t i = 0; i < d->s->solution.n; i++)
		len += strlen(d->s->solution.v[i]) + 1;
	script = calloc(1, len);
	if (!script)
		return;
	fprintf(d->out, "autopilot: running the reference solution as the engineer would:\n");
	for (size_t i = 0; i < d->s->solution.n; i++) {
		strcat(script, d->s->solution.v[i]);
		strcat(script, "\n");
		fprintf(d->out, "  $ %s\n", d->s->solution.v[i]);
	}
	fflush(d->out);
	event(d, "autopilot", "running %zu solution line(s)", d->s->solution.n);
	pid_t harness = getpid();
	d->auto_pid = fork();
	if (d->auto_pid == 0) {
		/* The stand-in engineer dies with the harness: a drill killed
		 * with SIGKILL must not leave its reference fix running against
		 * the lab that recover puts back. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != harness)
			_exit(127);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setpgid(0, 0);
		/* Solutions find lab files under the state directory, as an
		 * engineer who exported it would. */
		setenv("CHAOSLAB_STATE", d->dir, 1);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	free(script);
	if (d->auto_pid < 0)
		d->auto_pid = 0;
}

/* Reap every exited child without blocking: orphans reparented to us (we
 * are child subreaper, e.g. a killed forker's zombies) and the autopilot
 * shell, whose status is kept. */
static void reap_children(struct drill *d)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == d->auto_pid && !d->auto_done) {
			d->auto_done = true;
			d->auto_status = st;
			event(d, "autopilot_done", "exit status %d",
			      WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
}

static void autopilot_stop(struct drill *d)
{
	if (d->auto_pid > 0 && !d->auto_done) {
		kill(-d->auto_pid, SIGKILL);
		kill(d->auto_pid, SIGKILL);
		waitpid(d->auto_pid, NULL, 0);
		d->auto_done = true;
	}
}

/* ---- states ---------------------------------------------------------------------------- */

static void make_run_id(struct drill *d)
{
	time_t now = time(NULL);
	struct tm tm;
	unsigned rnd = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &rnd, sizeof(rnd)) != sizeof(rnd))
			rnd = (unsigned)getpid();
		close(fd);
	}
	gmtime_r(&now, &tm);
	strftime(d->started_at, sizeof(d->started_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(d->run_id, sizeof(d->run_id), "%s-%s-%04x", stamp, d->s->id, rnd & 0xffff);
}

/* The capabilities every drill needs (feature_caps[], required) that this
 * process lacks, listed in buf with what each is for. Returns how many. */
static int caps_missing(char *buf, size_t size)
{
	int n = 0;

	buf[0] = '\0';
	for (const struct feature_cap *c = feature_caps; c->name; c++) {
		size_t off = strlen(buf);

		if (!c->required || feature_cap_effective(c->cap))
			continue;
		snprintf(buf + off, size - off, "%s%s (%s)", n ? ", " : "", c->name, c->used_for);
		n++;
	}
	return n;
}

static enum state st_preflight(struct drill *d)
{
	struct cl_error e;
	struct recover_report rep;
	char why[512];
	bool stale = false;

	cl_error_clear(&e);
	/* Before anything is touched, the state directory included: a drill
	 * that could not revert everything must not start. */
	if (caps_missing(why, sizeof(why))) {
		cl_error_set(&e, CL_EXIT_PRIVILEGE,
			     "'%s' needs privileges this process lacks: missing %s; run it as root "
			     "(sudo chaoslab drill %s); 'chaoslab doctor' lists every check",
			     d->s->id, why, d->s->id);
		goto fail;
	}
	if (scenario_supported(d->s, why, sizeof(why))) {
		cl_error_set(&e, CL_EXIT_PRIVILEGE, "'%s' cannot run here: %s", d->s->id, why);
		goto fail;
	}
	if (state_dir(d->dir, sizeof(d->dir), true, &e))
		goto fail;
	if (run_lock_acquire(d->dir, &d->lock, &stale, &e))
		goto fail;
	d->locked = true;
	/* A dead run's journal is recovered before anything new is changed. */
	if (journal_recover(d->dir, &rep, &e)) {
		cl_error_prefix(&e, "a previous run could not be recovered");
		goto fail;
	}
	if (rep.found) {
		fprintf(d->out, "recovered a previous run (%s) first:\n%s", rep.run_id, rep.text);
		fflush(d->out);
	}
	make_run_id(d);
	run_lock_describe(&d->lock, d->run_id, d->s->id);
	if (worker_become_subreaper() < 0) {
		cl_error_errno(&e, CL_EXIT_PRIVILEGE, errno, "unable to become child subreaper");
		goto fail;
	}
	d->ctl_fd = control_listen(d->dir, &e);
	if (d->ctl_fd < 0)
		goto fail;
	d->j = journal_begin(d->dir, d->run_id, d->s->id, &e);
	if (!d->j)
		goto fail;
	d->began = true;
	event(d, "preflight_ok", "run %s", d->run_id);
	return S_LAB;
fail:
	fail(d, &e);
	d->outcome = "error";
	return S_DONE;
}

static bool interrupted(struct drill *d)
{
	if (!got_signal)
		return false;
	if (strcmp(d->outcome, "aborted")) {
		event(d, "signal", "%s", strsignal(got_signal));
		d->outcome = "aborted";
	}
	return true;
}

/* A step failed while a signal asked the drill to stop: Ctrl-C reaches
 * the whole foreground process group, a worker still starting in it
 * included. The drill was aborted, not broken: outcome aborted (exit 1),
 * the failure kept as the result's error. */
static bool aborted_meanwhile(struct drill *d, const struct change *c, struct cl_error *e)
{
	if (!interrupted(d))
		return false;
	cl_error_prefix(e, "step '%s' (%s) failed as the drill stopped on a signal", c->id,
			c->in->name);
	fail(d, e);
	return true;
}

static enum state st_lab(struct drill *d)
{
	struct cl_error e;

	for (size_t i = 0; i < d->nch; i++) {
		struct change *c = &d->ch[i];
		if (strncmp(c->id, "lab-", 4))
			continue;
		if (interrupted(d))
			return S_REVERT;
		cl_error_clear(&e);
		if (change_apply(d, c, &e)) {
			if (aborted_meanwhile(d, c, &e))
				return S_REVERT;
			if (!strcmp(c->id, "lab-network"))
				cl_error_prefix(&e, "the lab network did not come up");
			else
				cl_error_prefix(&e, "lab service '%s' did not start", c->id + 4);
			fail(d, &e);
			d->outcome = "error";
			return S_REVERT;
		}
		fprintf(d->out, "lab: %s is up\n", c->id + 4);
		fflush(d->out);
	}
	return S_INJECT;
}

static enum state st_inject(struct drill *d)
{
	struct cl_error e;

	for (size_t i = 0; i < d->nch; i++) {
		struct change *c = &d->ch[i];
		if (!strncmp(c->id, "lab-", 4))
			continue;
		if (interrupted(d))
			return S_REVERT;
		cl_error_clear(&e);
		if (change_apply(d, c, &e)) {
			if (aborted_meanwhile(d, c, &e))
				return S_REVERT;
			cl_error_prefix(&e, "inject step '%s' (%s) failed", c->id, c->in->name);
			fail(d, &e);
			d->outcome = "error";
			return S_REVERT;
		}
	}
	fprintf(d->out, "injected %zu fault(s); confirming the symptom...\n", d->s->ninject);
	fflush(d->out);
	return S_CONFIRM;
}

static enum state st_confirm(struct drill *d)
{
	double deadline = rel_now(d) + d->s->symptom_timeout_seconds;

	for (;;) {
		bool all = true;
		for (size_t i = 0; i < d->s->nsymptoms; i++)
			all = crit_eval(d, &d->sym[i]) == CHECK_MET && all;
		if (all)
			break;
		if (rel_now(d) >= deadline) {
			struct cl_error e;
			char buf[512] = "";
			for (size_t i = 0; i < d->s->nsymptoms; i++) {
				if (d->sym[i].last == CHECK_MET)
					continue;
				size_t off = strlen(buf);
				snprintf(buf + off, sizeof(buf) - off, "%s%s %s (%s)", off ? "; " : "",
					 d->sym[i].st->path, d->sym[i].st->type, d->sym[i].obs);
			}
			cl_error_set(&e, CL_EXIT_NO_SYMPTOM,
				     "the injection did not produce the symptom within %d s: %s",
				     d->s->symptom_timeout_seconds, buf);
			fail(d, &e);
			event(d, "symptom_timeout", "%s", buf);
			d->outcome = "injection_failed";
			return S_REVERT;
		}
		serve_control(d, "confirming");
		struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
		poll(&p, 1, TICK_MS);
		if (interrupted(d))
			return S_REVERT;
	}
	d->t0 = rel_now(d);
	event(d, "symptom_confirmed", "clock started");
	fprintf(d->out, "\n%s%s%s — %s\n", col(d, "\033[1m"), d->s->id, col(d, "\033[0m"),
		d->s->title);
	fprintf(d->out, "%s\n", d->s->briefing);
	fprintf(d->out, "par %d s, time limit %d s. The clock is running. From another terminal:\n"
			"  chaoslab status | chaoslab hint | chaoslab giveup\n\n",
		d->s->par_seconds, d->s->time_limit_seconds);
	fflush(d->out);
	return S_WATCH;
}

static enum state st_watch(struct drill *d)
{
	int pidfds[MAX_PIDFDS];
	size_t npid = collect_pidfds(d, pidfds, MAX_PIDFDS);
	bool auto_pending = d->o->autopilot_delay >= 0;
	enum state next = S_REVERT;

	d->stable_since = -1;
	for (;;) {
		double now = rel_now(d);
		bool all = true;

		if (auto_pending && now - d->t0 >= d->o->autopilot_delay) {
			auto_pending = false;
			autopilot_start(d);
		}
		reap_children(d);

		for (size_t i = 0; i < d->s->nguards; i++) {
			struct crit *g = &d->grd[i];
			if (crit_eval(d, g) != CHECK_MET && !g->violated) {
				g->violated = true;
				d->guard_penalty += g->st->penalty;
				event(d, "guard_violated", "%s: %s (-%d)", g->st->path, g->st->message,
				      g->st->penalty);
				fprintf(d->out, "guard: %s (-%d)\n", g->st->message, g->st->penalty);
				fflush(d->out);
			}
		}
		for (size_t i = 0; i < d->s->nfixed_when; i++)
			all = crit_eval(d, &d->fix[i]) == CHECK_MET && all;
		if (all) {
			if (d->stable_since < 0)
				d->stable_since = now;
			if (now - d->stable_since >= d->s->stable_seconds) {
				d->t_fixed = d->stable_since;
				d->outcome = "fixed";
				event(d, "fixed", "all fixed_when criteria held for %d s",
				      d->s->stable_seconds);
				break;
			}
		} else {
			d->stable_since = -1;
		}
		if (now - d->t0 >= d->s->time_limit_seconds) {
			d->outcome = "timed_out";
			event(d, "timed_out", "time limit %d s", d->s->time_limit_seconds);
			break;
		}
		if (serve_control(d, "running")) {
			d->outcome = "gave_up";
			event(d, "gave_up", NULL);
			break;
		}
		if (interrupted(d))
			break;
		draw(d, false);

		struct pollfd p[MAX_PIDFDS + 2];
		size_t np = 0;
		p[np++] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = d->ctl_fd, .events = POLLIN };
		for (size_t i = 0; i < npid; i++)
			if (pidfds[i] >= 0)
				p[np++] = (struct pollfd){ .fd = pidfds[i], .events = POLLIN };
		int timeout = TICK_MS;
		/* While the fix is held, wake exactly when stable_seconds is reached. */
		if (d->stable_since >= 0) {
			double left = d->stable_since + d->s->stable_seconds - now;
			if (left * 1000 < timeout)
				timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		if (poll(p, np, timeout) > 0) {
			for (size_t i = 2; i < np; i++) {
				if (!(p[i].revents & (POLLIN | POLLHUP)))
					continue;
				/* A worker died: drop its pidfd, re-check at once. */
				for (size_t k = 0; k < npid; k++)
					if (pidfds[k] == p[i].fd) {
						close(pidfds[k]);
						pidfds[k] = -1;
					}
			}
			if (p[0].revents & POLLIN) {
				char drain[16];
				if (read(sig_pipe[0], drain, sizeof(drain)) < 0) {
					/* interrupted() reads the flag anyway */
				}
			}
		}
	}
	d->t_end = rel_now(d);
	draw(d, true);
	for (size_t i = 0; i < npid; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	return next;
}

static enum state st_revert(struct drill *d)
{
	if (d->t_end <= 0)
		d->t_end = rel_now(d);
	autopilot_stop(d);
	d->revert_ok = true;
	for (size_t i = d->nch; i-- > 0;) {
		change_revert(d, &d->ch[i]);
		if (d->ch[i].revert_failed)
			d->revert_ok = false;
	}
	reap_children(d);
	if (d->revert_ok) {
		struct cl_error e;
		if (d->j && journal_finish(d->j, &e)) {
			fail(d, &e);
			d->revert_ok = false;
		}
		d->j = NULL;
		fprintf(d->out, "reverted: everything chaoslab changed is undone\n");
	} else {
		struct cl_error e;
		cl_error_set(&e, CL_EXIT_REVERT,
			     "some changes could not be reverted; run 'chaoslab recover'");
		fail(d, &e);
		journal_close(d->j);
		d->j = NULL;
	}
	fflush(d->out);
	if (!strcmp(d->outcome, "error") || !strcmp(d->outcome, "injection_failed"))
		return S_RECORD;
	return S_SCORE;
}

static enum state st_score(struct drill *d)
{
	struct score_input in = { 0 };

	in.fixed = !strcmp(d->outcome, "fixed");
	in.seconds = (in.fixed ? d->t_fixed : d->t_end) - d->t0;
	in.hint_penalty = d->hint_penalty;
	in.guard_penalty = d->guard_penalty;
	for (size_t i = 0; i < d->s->nfixed_when; i++) {
		in.total_weight += d->fix[i].st->weight;
		if (d->fix[i].last == CHECK_MET)
			in.met_weight += d->fix[i].st->weight;
	}
	d->score = score_compute(&d->s->scoring, d->s->par_seconds, &in);
	d->scored = true;
	return S_ASSESS;
}

static void read_line(char *buf, size_t size)
{
	buf[0] = '\0';
	if (!fgets(buf, (int)size, stdin))
		buf[0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
}

static enum state st_assess(struct drill *d)
{
	char line[512];

	d->confidence = 0;
	if (d->o->no_ask || !isatty(STDIN_FILENO) || got_signal)
		return S_RECORD;
	for (;;) {
		fprintf(d->out, "How sure are you of your diagnosis and fix? 1 (guess) .. 5 (certain): ");
		fflush(d->out);
		read_line(line, sizeof(line));
		if (!line[0] || (line[0] >= '1' && line[0] <= '5' && !line[1]))
			break;
		fprintf(d->out, "please answer 1-5, or press enter to skip\n");
	}
	d->confidence = line[0] ? line[0] - '0' : 0;
	fprintf(d->out, "Root cause in one line (enter to skip): ");
	fflush(d->out);
	read_line(d->root_cause, sizeof(d->root_cause));
	return S_RECORD;
}

static cJSON *strv_json(const struct strv *sv)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < sv->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(sv->v[i]));
	return a;
}

static cJSON *result_doc(struct drill *d)
{
	cJSON *o = cJSON_CreateObject(), *sc, *a;
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	char ended[32];

	gmtime_r(&now, &tm);
	strftime(ended, sizeof(ended), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddNumberToObject(o, "schema", RESULTS_SCHEMA);
	cJSON_AddStringToObject(o, "run_id", d->run_id);
	cJSON_AddStringToObject(o, "chaoslab_version", CHAOSLAB_VERSION);
	cJSON_AddStringToObject(o, "kernel", uname(&u) == 0 ? u.release : "unknown");
	cJSON_AddStringToObject(o, "started_at", d->started_at);
	cJSON_AddStringToObject(o, "ended_at", ended);
	sc = cJSON_AddObjectToObject(o, "scenario");
	cJSON_AddStringToObject(sc, "id", d->s->id);
	cJSON_AddStringToObject(sc, "title", d->s->title);
	cJSON_AddNumberToObject(sc, "day", d->s->day);
	cJSON_AddItemToObject(sc, "skills", strv_json(&d->s->skills));
	cJSON_AddNumberToObject(sc, "difficulty", d->s->difficulty);
	cJSON_AddNumberToObject(sc, "par_seconds", d->s->par_seconds);
	cJSON_AddNumberToObject(sc, "time_limit_seconds", d->s->time_limit_seconds);
	cJSON_AddStringToObject(sc, "runbook", d->s->runbook);
	cJSON_AddStringToObject(o, "outcome", d->outcome);
	cJSON_AddBoolToObject(o, "autopilot", d->o->autopilot_delay >= 0);
	a = cJSON_AddArrayToObject(o, "overrides");
	for (size_t i = 0; i < d->o->nsets; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(d->o->sets[i]));
	if (d->t0 >= 0) {
		cJSON_AddNumberToObject(o, "elapsed_seconds", round((d->t_end - d->t0) * 1000) / 1000);
		if (d->t_fixed >= 0)
			cJSON_AddNumberToObject(o, "time_to_fix_seconds",
						round((d->t_fixed - d->t0) * 1000) / 1000);
	}
	if (d->scored) {
		cJSON *b;
		cJSON_AddNumberToObject(o, "score", d->score.total);
		b = cJSON_AddObjectToObject(o, "breakdown");
		cJSON_AddNumberToObject(b, "base", round(d->score.base * 10) / 10);
		cJSON_AddNumberToObject(b, "time_penalty", round(d->score.time_penalty * 10) / 10);
		cJSON_AddNumberToObject(b, "hint_penalty", d->score.hint_penalty);
		cJSON_AddNumberToObject(b, "guard_penalty", d->score.guard_penalty);
	} else {
		cJSON_AddNullToObject(o, "score");
	}
	a = cJSON_AddArrayToObject(o, "criteria");
	for (size_t i = 0; i < d->s->nsymptoms; i++) {
		cJSON *c = crit_json(&d->sym[i], false);
		cJSON_AddStringToObject(c, "section", "symptoms");
		cJSON_AddItemToArray(a, c);
	}
	for (size_t i = 0; i < d->s->nfixed_when; i++) {
		cJSON *c = crit_json(&d->fix[i], false);
		cJSON_AddStringToObject(c, "section", "fixed_when");
		cJSON_AddItemToArray(a, c);
	}
	a = cJSON_AddArrayToObject(o, "guards");
	for (size_t i = 0; i < d->s->nguards; i++)
		cJSON_AddItemToArray(a, crit_json(&d->grd[i], true));
	cJSON_AddItemToObject(o, "hints_used", cJSON_Duplicate(d->hints_used, 1));
	if (d->confidence)
		cJSON_AddNumberToObject(o, "confidence", d->confidence);
	else
		cJSON_AddNullToObject(o, "confidence");
	if (d->root_cause[0])
		cJSON_AddStringToObject(o, "root_cause", d->root_cause);
	else
		cJSON_AddNullToObject(o, "root_cause");
	cJSON *rv = cJSON_AddObjectToObject(o, "revert");
	cJSON_AddBoolToObject(rv, "ok", d->revert_ok);
	a = cJSON_AddArrayToObject(rv, "steps");
	for (size_t i = d->nch; i-- > 0;) {
		if (!d->ch[i].journaled)
			continue;
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "step", d->ch[i].id);
		cJSON_AddStringToObject(x, "type", d->ch[i].in->name);
		cJSON_AddBoolToObject(x, "reverted", d->ch[i].reverted);
		cJSON_AddStringToObject(x, "report", d->ch[i].report);
		cJSON_AddItemToArray(a, x);
	}
	if (d->have_err) {
		char m[1536];
		cJSON_AddStringToObject(o, "error", cl_error_format(&d->err, m, sizeof(m)));
	}
	cJSON_AddItemToObject(o, "events", cJSON_Duplicate(d->events, 1));
	return o;
}

static enum state st_record(struct drill *d, struct drill_outcome *out)
{
	const char *dir = results_dir(d->o->results_dir);
	struct cl_error e;
	cJSON *doc = result_doc(d);

	if (results_write(dir, d->run_id, doc, out->result_path, sizeof(out->result_path), &e)) {
		char m[1536];
		fprintf(stderr, "chaoslab: %s\n", cl_error_format(&e, m, sizeof(m)));
		out->result_path[0] = '\0';
	}
	cJSON_Delete(doc);
	return S_DONE;
}

static void summary(struct drill *d, const struct drill_outcome *out)
{
	char t[16];

	if (!d->began)
		return; /* preflight failed: the CLI prints the error, nothing ran */
	fprintf(d->out, "\noutcome: %s", d->outcome);
	if (d->t0 >= 0) {
		mmss(t, sizeof(t), (d->t_fixed >= 0 ? d->t_fixed : d->t_end) - d->t0);
		fprintf(d->out, " after %s (par %d s)", t, d->s->par_seconds);
	}
	fprintf(d->out, "\n");
	if (d->scored)
		fprintf(d->out,
			"score: %s%d/100%s  (base %.0f, time -%.0f, hints -%d, guards -%d)\n",
			col(d, "\033[1m"), d->score.total, col(d, "\033[0m"), d->score.base,
			d->score.time_penalty, d->score.hint_penalty, d->score.guard_penalty);
	for (size_t i = 0; i < d->s->nguards; i++)
		if (d->grd[i].violated)
			fprintf(d->out, "guard violated: %s (-%d)\n", d->grd[i].st->message,
				d->grd[i].st->penalty);
	if (out->result_path[0])
		fprintf(d->out, "result: %s\n", out->result_path);
	fprintf(d->out, "runbook: %s\n", d->s->runbook_path);
	if (d->s->quiz.n) {
		fprintf(d->out, "quiz:\n");
		for (size_t i = 0; i < d->s->quiz.n; i++)
			fprintf(d->out, "  - %s\n", d->s->quiz.v[i]);
	}
	fflush(d->out);
}

/* ---- setup and the transitions -------------------------------------------------------- */

/* A change with parameters given as YAML text (lab steps the engine adds). */
static int change_from_text(struct drill *d, struct change *c, const char *id,
			    const struct injector *in, const char *yaml, struct cl_error *err)
{
	struct doc_node *doc = doc_parse_yaml("(lab)", yaml, strlen(yaml), err);
	int rc;

	if (!doc)
		return -1;
	rc = params_from_doc(&c->own, in->params, doc, d->s->file, NULL, "lab", err);
	doc_free(doc);
	if (rc)
		return -1;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->in = in;
	c->params = &c->own;
	return 0;
}

/* The changes in the order they are applied: the lab network (if the
 * scenario's lab: lists `network`), then the lab services (inside the lab
 * network when there is one), then the inject steps. Reverted in reverse. */
static int build_changes(struct drill *d, struct cl_error *err)
{
	const struct injector *svc = injector_find("lab-service");
	const struct injector *net = injector_find("lab-network");
	bool with_net = false;
	char text[256], id[96];

	d->nch = 0;
	d->ch = calloc(d->s->lab.n + d->s->ninject + 1, sizeof(*d->ch));
	if (!d->ch)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	for (size_t i = 0; i < d->s->lab.n; i++)
		with_net = with_net || !strcmp(d->s->lab.v[i], "network");
	if (with_net) {
		if (!net)
			return cl_error_set(err, CL_EXIT_USAGE, "this build has no lab-network injector");
		if (change_from_text(d, &d->ch[d->nch], "lab-network", net, "{}", err))
			return -1;
		d->nch++;
	}
	for (size_t i = 0; i < d->s->lab.n; i++) {
		if (!strcmp(d->s->lab.v[i], "network"))
			continue;
		if (!svc)
			return cl_error_set(err, CL_EXIT_USAGE, "this build has no lab-service injector");
		snprintf(text, sizeof(text), "service: %s\n%s", d->s->lab.v[i],
			 with_net ? "netns: true\n" : "");
		snprintf(id, sizeof(id), "lab-%s", d->s->lab.v[i]);
		if (change_from_text(d, &d->ch[d->nch], id, svc, text, err))
			return -1;
		d->nch++;
	}
	for (size_t i = 0; i < d->s->ninject; i++) {
		struct change *c = &d->ch[d->nch++];
		snprintf(c->id, sizeof(c->id), "%s", d->s->inject[i].id);
		c->in = d->s->inject[i].injector;
		c->params = &d->s->inject[i].params;
	}
	return 0;
}

static void drill_release(struct drill *d)
{
	for (size_t i = 0; i < d->s->nsymptoms; i++)
		crit_release(&d->sym[i]);
	for (size_t i = 0; i < d->s->nfixed_when; i++)
		crit_release(&d->fix[i]);
	for (size_t i = 0; i < d->s->nguards; i++)
		crit_release(&d->grd[i]);
	free(d->sym);
	free(d->fix);
	free(d->grd);
	for (size_t i = 0; i < d->nch; i++) {
		cJSON_Delete(d->ch[i].undo);
		params_release(&d->ch[i].own);
	}
	free(d->ch);
	cJSON_Delete(d->events);
	cJSON_Delete(d->hints_used);
	if (d->ctl_fd >= 0)
		control_close(d->dir, d->ctl_fd);
	if (d->j)
		journal_close(d->j);
	if (d->locked)
		run_lock_release(&d->lock);
}

static int install_signals(struct sigaction *old)
{
	struct sigaction sa;
	int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void restore_signals(struct sigaction *old)
{
	int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
}

int drill_run(const struct scenario *s, const struct drill_opts *opts, struct drill_outcome *out,
	      struct cl_error *err)
{
	struct drill d = { 0 };
	struct sigaction old[3];
	enum state st = S_PREFLIGHT;

	memset(out, 0, sizeof(*out));
	out->score = -1;
	d.s = s;
	d.o = opts;
	d.out = opts->out ? opts->out : stdout;
	d.mono0 = mono_now();
	d.t0 = d.t_fixed = -1;
	d.ctl_fd = -1;
	d.outcome = "error";
	d.events = cJSON_CreateArray();
	d.hints_used = cJSON_CreateArray();
	d.sym = calloc(s->nsymptoms + 1, sizeof(*d.sym));
	d.fix = calloc(s->nfixed_when + 1, sizeof(*d.fix));
	d.grd = calloc(s->nguards + 1, sizeof(*d.grd));
	d.env = (struct check_env){ env_injection, env_service_pid, env_service_addr, &d };
	got_signal = 0;
	if (!d.events || !d.hints_used || !d.sym || !d.fix || !d.grd ||
	    build_changes(&d, err) || install_signals(old)) {
		if (!err->msg[0])
			cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		drill_release(&d);
		out->outcome = "error";
		out->exit_code = err->code ? err->code : CL_EXIT_USAGE;
		return -1;
	}
	for (size_t i = 0; i < s->nsymptoms; i++)
		crit_init(&d, &d.sym[i], &s->symptoms[i]);
	for (size_t i = 0; i < s->nfixed_when; i++)
		crit_init(&d, &d.fix[i], &s->fixed_when[i]);
	for (size_t i = 0; i < s->nguards; i++)
		crit_init(&d, &d.grd[i], &s->guards[i]);

	while (st != S_DONE) {
		switch (st) {
		case S_PREFLIGHT: st = st_preflight(&d); break;
		case S_LAB:       st = st_lab(&d); break;
		case S_INJECT:    st = st_inject(&d); break;
		case S_CONFIRM:   st = st_confirm(&d); break;
		case S_WATCH:     st = st_watch(&d); break;
		case S_REVERT:    st = st_revert(&d); break;
		case S_SCORE:     st = st_score(&d); break;
		case S_ASSESS:    st = st_assess(&d); break;
		case S_RECORD:    st = st_record(&d, out); break;
		case S_DONE:      break;
		}
	}
	summary(&d, out);

	out->outcome = d.outcome;
	out->score = d.scored ? d.score.total : -1;
	bool owed = false;
	for (size_t i = 0; i < d.nch; i++)
		owed = owed || d.ch[i].journaled;
	if (owed && !d.revert_ok)
		out->exit_code = CL_EXIT_REVERT;
	else if (!strcmp(d.outcome, "fixed"))
		out->exit_code = CL_EXIT_OK;
	else if (!strcmp(d.outcome, "injection_failed"))
		out->exit_code = CL_EXIT_NO_SYMPTOM;
	else if (!strcmp(d.outcome, "error"))
		out->exit_code = d.have_err && d.err.code ? d.err.code : CL_EXIT_USAGE;
	else
		out->exit_code = CL_EXIT_NOT_FIXED;
	if (d.have_err)
		*err = d.err;
	restore_signals(old);
	drill_release(&d);
	return out->exit_code == CL_EXIT_OK ? 0 : -1;
}
