#include "drill/postmortem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

const char *postmortem_clock(double secs, char *buf, size_t size)
{
	bool neg = secs < 0;
	long s = lround(fabs(secs));

	if (s >= 3600)
		snprintf(buf, size, "%s%ld:%02ld:%02ld", neg ? "-" : "", s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(buf, size, "%s%02ld:%02ld", neg ? "-" : "", s / 60, s % 60);
	return buf;
}

/* Text for a Markdown table cell: one line, '|' escaped. */
static void cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

/* Each line of text prefixed with prefix. */
static void prefixed(FILE *out, const char *prefix, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(out, "%s%.*s\n", n ? prefix : prefix[0] == '>' ? ">" : "", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

static const cJSON *find_event(const cJSON *events, const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, events) {
		const char *n = jstr(e, "event");
		if (n && !strcmp(n, name))
			return e;
	}
	return NULL;
}

/* The wall-clock time of run-relative t, "HH:MM:SS". */
static const char *wall(const struct attempt *a, double t, char *buf, size_t size)
{
	time_t w = a->when + (time_t)floor(t);
	struct tm tm;

	gmtime_r(&w, &tm);
	strftime(buf, size, "%H:%M:%S", &tm);
	return buf;
}

static char *runbook_of(const struct attempt *a, const struct catalog_drill *d, char *buf,
			size_t size)
{
	struct stat st;
	const char *cat = scenario_catalog_dir();
	const char *slash = strrchr(cat, '/');

	if (d)
		return d->runbook_path;
	if (!a->runbook)
		return NULL;
	/* The catalog root is the scenario directory's parent. */
	snprintf(buf, size, "%.*s/%s", slash ? (int)(slash - cat) : 1, slash ? cat : ".",
		 a->runbook);
	return stat(buf, &st) == 0 ? buf : NULL;
}

static void section_or(FILE *out, const char *runbook, const char *heading, const char *none)
{
	char *text = runbook ? runbook_section(runbook, heading) : NULL;

	if (text)
		fprintf(out, "%s\n", text);
	else
		fprintf(out, "%s\n", none);
	free(text);
}

static void header(FILE *out, const struct attempt *a, double confirmed, double fixed_t)
{
	char c1[16], c2[16];

	fprintf(out, "# Postmortem (draft): %s\n\n", a->title);
	fprintf(out, "| | |\n|---|---|\n");
	fprintf(out, "| Drill | `%s`", a->scenario);
	if (a->day)
		fprintf(out, " (curriculum day %d)", a->day);
	fprintf(out, ", run `%s` |\n", a->run_id);
	fprintf(out, "| Date | %.10s %.8s UTC |\n", a->started_at, a->started_at + 11);
	fprintf(out, "| Outcome | %s", a->outcome);
	if (fixed_t >= 0 && confirmed >= 0)
		fprintf(out, " after %s", postmortem_clock(fixed_t - confirmed, c1, sizeof(c1)));
	else if (a->elapsed_seconds >= 0)
		fprintf(out, " after %s", postmortem_clock(a->elapsed_seconds, c1, sizeof(c1)));
	if (a->par_seconds > 0)
		fprintf(out, " (par %s)", postmortem_clock(a->par_seconds, c2, sizeof(c2)));
	fprintf(out, "%s |\n", a->autopilot ? ", on autopilot" : "");
	if (a->score >= 0)
		fprintf(out, "| Score | %.0f/100 |\n", a->score);
	fprintf(out, "| Hints | %d", a->hints);
	if (a->hints)
		fprintf(out, " (-%d)", a->hint_penalty);
	fprintf(out, " |\n");
	if (a->confidence)
		fprintf(out, "| Confidence | %d/5 |\n", a->confidence);
	fprintf(out, "\n");
}

static void impact(FILE *out, const struct attempt *a, const struct catalog_drill *d,
		   double confirmed, double end)
{
	const cJSON *guards = cJSON_GetObjectItemCaseSensitive(a->doc, "guards"), *g;
	char w1[16], w2[16], c[16];
	int violated = 0, n = 0;

	fprintf(out, "## Impact\n\n");
	if (d && d->briefing[0]) {
		fprintf(out, "What was reported:\n\n");
		prefixed(out, "> ", d->briefing);
		fprintf(out, "\n");
	}
	if (confirmed < 0) {
		fprintf(out, "The fault never showed its symptom (%s): nothing was broken for long "
			     "enough to be debugged, and everything was reverted.\n\n",
			a->outcome);
	} else {
		fprintf(out, "Broken from %s UTC, when the symptom was confirmed, to %s UTC (%s",
			wall(a, confirmed, w1, sizeof(w1)), wall(a, end, w2, sizeof(w2)),
			postmortem_clock(end - confirmed, c, sizeof(c)));
		fprintf(out, "%s).\n\n", !strcmp(a->outcome, "fixed") ? ", fixed" :
					 !strcmp(a->outcome, "gave_up") ? ", given up" :
					 !strcmp(a->outcome, "timed_out") ? ", time limit reached" :
									    ", then reverted");
	}
	cJSON_ArrayForEach(g, guards) {
		n++;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "violated"))) {
			if (!violated++)
				fprintf(out, "Collateral damage:\n\n");
			fprintf(out, "- %s (-%.0f)\n", jstr(g, "message") ? jstr(g, "message") : "?",
				jnum(g, "penalty", 0));
		}
	}
	if (violated) {
		fprintf(out, "\n");
	} else if (n) {
		fprintf(out, "No collateral damage: none of these happened: ");
		int k = 0;
		cJSON_ArrayForEach(g, guards)
			fprintf(out, "%s%s", k++ ? "; " : "",
				jstr(g, "message") ? jstr(g, "message") : "?");
		fprintf(out, ".\n\n");
	}
}

static void timeline(FILE *out, const struct attempt *a, double confirmed)
{
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(a->doc, "events"), *e;
	char w[16], c[16];

	fprintf(out, "## Timeline\n\n");
	if (!cJSON_GetArraySize(events)) {
		fprintf(out, "The result holds no events.\n\n");
		return;
	}
	fprintf(out, "Times in UTC; the clock column counts from the confirmed symptom.\n\n");
	fprintf(out, "| time | clock | event | detail |\n|---|---|---|---|\n");
	cJSON_ArrayForEach(e, events) {
		double t = jnum(e, "t", 0);
		fprintf(out, "| %s | %s | %s | ", wall(a, t, w, sizeof(w)),
			confirmed >= 0 ? postmortem_clock(t - confirmed, c, sizeof(c)) : "",
			jstr(e, "event") ? jstr(e, "event") : "?");
		cell(out, jstr(e, "detail"));
		fprintf(out, " |\n");
	}
	fprintf(out, "\n");
}

static void root_cause(FILE *out, const struct attempt *a, const char *runbook)
{
	char *ref = runbook ? runbook_section(runbook, "Root cause") : NULL;

	fprintf(out, "## Root cause\n\n");
	if (a->root_cause) {
		fprintf(out, "As noted at the end of the drill:\n\n");
		prefixed(out, "> ", a->root_cause);
	} else {
		fprintf(out, "_Not written during the drill: write it here, in one or two "
			     "sentences: the mechanism, not the symptom._\n");
	}
	if (ref) {
		fprintf(out, "\nThe runbook's account, to compare with:\n\n");
		prefixed(out, "> ", ref);
	}
	fprintf(out, "\n");
	free(ref);
}

static void fix(FILE *out, const struct attempt *a, const struct catalog_drill *d,
		const char *runbook)
{
	const cJSON *crit = cJSON_GetObjectItemCaseSensitive(a->doc, "criteria"), *c;
	bool fixed = !strcmp(a->outcome, "fixed");
	char *ref = runbook ? runbook_section(runbook, "Fix") : NULL;

	fprintf(out, "## Fix\n\n");
	if (a->autopilot && d && d->solution.n) {
		fprintf(out, "On autopilot: the reference solution did the work:\n\n```sh\n");
		for (size_t i = 0; i < d->solution.n; i++)
			fprintf(out, "%s\n", d->solution.v[i]);
		fprintf(out, "```\n\n");
	}
	fprintf(out, "%s\n\n", fixed ? "What the harness checked when it counted the fix:"
				     : "Not fixed. Where the checks stood at the end:");
	cJSON_ArrayForEach(c, crit) {
		const char *sec = jstr(c, "section");
		if (!sec || strcmp(sec, "fixed_when"))
			continue;
		fprintf(out, "- [%s] %s %s: %s\n",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "met")) ? "x" : " ",
			jstr(c, "path") ? jstr(c, "path") : "?", jstr(c, "type") ? jstr(c, "type") : "?",
			jstr(c, "observation") ? jstr(c, "observation") : "");
	}
	if (ref) {
		fprintf(out, "\nThe runbook's fix:\n\n%s\n", ref);
	}
	fprintf(out, "\n");
	free(ref);
}

static void lessons(FILE *out, const struct attempt *a, const struct catalog_drill *d)
{
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(a->doc, "hints_used"), *h;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(a->doc, "breakdown");
	double tp = jnum(b, "time_penalty", 0);

	fprintf(out, "## What to practise\n\n");
	if (!strcmp(a->outcome, "fixed") && a->time_to_fix_seconds >= 0 && a->par_seconds > 0)
		fprintf(out, "- Time: %.1fx par%s.\n", a->time_to_fix_seconds / a->par_seconds,
			tp > 0 ? "" : ", no time penalty");
	if (tp > 0)
		fprintf(out, "- The clock cost %.0f points.\n", tp);
	if (a->hints) {
		fprintf(out, "- %d hint%s taken (-%d):\n", a->hints, a->hints == 1 ? "" : "s",
			a->hint_penalty);
		cJSON_ArrayForEach(h, used) {
			int idx = (int)jnum(h, "index", 0);
			fprintf(out, "  %d. at %.0f s", idx, jnum(h, "at_seconds", 0));
			if (d && idx >= 1 && (size_t)idx <= d->hints.n)
				fprintf(out, ": %s", d->hints.v[idx - 1]);
			fprintf(out, "\n");
		}
	} else {
		fprintf(out, "- No hints taken.\n");
	}
	if (a->confidence && a->score >= 0) {
		double gap = 20.0 * a->confidence - a->score;
		if (a->confidence >= 3 && gap > 0)
			fprintf(out, "- Confidence %d/5 against a score of %.0f: over-confident by "
				     "%.0f points. What did you take for granted?\n",
				a->confidence, a->score, gap);
		else
			fprintf(out, "- Confidence %d/5 against a score of %.0f: well calibrated.\n",
				a->confidence, a->score);
	} else if (!a->autopilot) {
		fprintf(out, "- Confidence was not rated.\n");
	}
	fprintf(out, "\n");
}

int postmortem_write(FILE *out, const struct attempt *a, const struct catalog_drill *d)
{
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(a->doc, "events"), *e;
	char rbuf[1024], c[16], c2[16];
	const char *runbook = runbook_of(a, d, rbuf, sizeof(rbuf));
	double confirmed = -1, fixed_t = -1, end = 0;

	e = find_event(events, "symptom_confirmed");
	if (e)
		confirmed = jnum(e, "t", 0);
	e = find_event(events, "fixed");
	if (e && confirmed >= 0 && a->time_to_fix_seconds >= 0)
		fixed_t = confirmed + a->time_to_fix_seconds;
	cJSON_ArrayForEach(e, events) {
		const char *n = jstr(e, "event");
		if (n && (!strcmp(n, "fixed") || !strcmp(n, "gave_up") || !strcmp(n, "timed_out") ||
			  !strcmp(n, "signal")))
			end = jnum(e, "t", 0);
	}
	if (fixed_t >= 0)
		end = fixed_t;
	if (confirmed >= 0 && end < confirmed)
		end = confirmed + (a->elapsed_seconds > 0 ? a->elapsed_seconds : 0);

	header(out, a, confirmed, fixed_t);
	fprintf(out, "## Summary\n\n");
	if (confirmed >= 0)
		fprintf(out, "%s. The symptom was confirmed at %s into the run; the drill ended %s "
			     "after %s%s.\n\n",
			a->title, postmortem_clock(confirmed, c, sizeof(c)),
			!strcmp(a->outcome, "fixed") ? "fixed" : a->outcome,
			postmortem_clock(end - confirmed, c2, sizeof(c2)),
			a->autopilot ? " (the reference solution ran on autopilot)" : "");
	else
		fprintf(out, "%s. The fault never produced its symptom (%s); there was nothing to "
			     "debug.\n\n",
			a->title, a->outcome);
	impact(out, a, d, confirmed, end);
	timeline(out, a, confirmed);
	root_cause(out, a, runbook);
	fix(out, a, d, runbook);
	fprintf(out, "## Prevention\n\n");
	section_or(out, runbook, "Prevention",
		   "_The runbook has no Prevention section: what would stop this happening again, "
		   "and what would have caught it sooner?_");
	fprintf(out, "\n");
	lessons(out, a, d);
	if (runbook)
		fprintf(out, "Runbook: `%s`\n", runbook);
	return ferror(out) ? -1 : 0;
}
