#include "drill/gaps.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the skill set --------------------------------------------------------------------- */

static struct gap *gap_find(struct gaps *g, const char *skill)
{
	for (size_t i = 0; i < g->count; i++)
		if (!strcmp(g->items[i].skill, skill))
			return &g->items[i];
	return NULL;
}

static int gap_add(struct gaps *g, const char *skill, size_t *cap)
{
	if (!skill || !skill[0] || gap_find(g, skill))
		return 0;
	if (g->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct gap *ni = realloc(g->items, ncap * sizeof(*ni));
		if (!ni)
			return -1;
		g->items = ni;
		*cap = ncap;
	}
	memset(&g->items[g->count], 0, sizeof(g->items[0]));
	snprintf(g->items[g->count].skill, sizeof(g->items[0].skill), "%s", skill);
	g->count++;
	return 0;
}

static int collect_skills(struct gaps *g, const struct history *h, const struct catalog *c)
{
	size_t cap = 0;
	const cJSON *it, *gr;

	for (size_t i = 0; i < c->count; i++)
		for (size_t k = 0; k < c->items[i].skills.n; k++)
			if (gap_add(g, c->items[i].skills.v[k], &cap))
				return -1;
	for (size_t i = 0; i < h->nattempts; i++)
		if (h->attempts[i].skills)
			cJSON_ArrayForEach(it, h->attempts[i].skills)
				if (cJSON_IsString(it) && gap_add(g, it->valuestring, &cap))
					return -1;
	for (size_t i = 0; i < h->nassessments; i++)
		cJSON_ArrayForEach(gr, h->assessments[i].grades)
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(gr, "skills"))
				if (cJSON_IsString(it) && gap_add(g, it->valuestring, &cap))
					return -1;
	return 0;
}

/* ---- weakness -------------------------------------------------------------------------- */

static double time_ratio(const struct attempt *a)
{
	if (strcmp(a->outcome, "fixed"))
		return 3;
	if (a->time_to_fix_seconds < 0 || a->par_seconds <= 0)
		return 1;
	return fmin(3, a->time_to_fix_seconds / a->par_seconds);
}

static void gap_measure(struct gap *g, const struct history *h, time_t now)
{
	double sw = 0, s = 0, r = 0, hi = 0, ow = 0, o = 0, worst = -1, w = 1, raw;

	for (size_t i = h->nattempts; i-- > 0;) {
		const struct attempt *a = &h->attempts[i];
		if (!attempt_has_skill(a, g->skill))
			continue;
		if (!a->counted) {
			if (a->autopilot)
				g->autopilot_runs++;
			else
				g->failed_runs++;
			continue;
		}
		g->attempts++;
		if (g->nrecent < GAPS_WINDOW)
			g->recent[g->nrecent++] = a;
	}
	g->over = -1;
	g->grade = -1;
	g->days_since = -1;
	for (size_t i = h->nassessments; i-- > 0;) {
		double grade = assessment_grade(&h->assessments[i], g->skill, NULL);
		if (grade >= 0) {
			g->grade = grade;
			g->assessment = &h->assessments[i];
			break;
		}
	}
	if (g->grade >= 0)
		g->terms.assess = 4 * (3 - g->grade);
	g->practised = g->nrecent > 0;
	if (!g->practised) {
		g->terms.score = GAPS_NEVER;
		raw = GAPS_NEVER + g->terms.assess;
		goto done;
	}
	for (size_t i = 0; i < g->nrecent; i++, w *= GAPS_DECAY) {
		const struct attempt *a = g->recent[i];
		sw += w;
		s += w * a->score;
		r += w * time_ratio(a);
		hi += w * a->hints;
		if (a->confidence) {
			/* Only a high rating (3..5) can be over-confident: saying
			 * "1" or "2" is owning up to a guess. */
			double over = a->confidence >= GAPS_CONFIDENT
					      ? fmax(0, 20.0 * a->confidence - a->score)
					      : 0;
			ow += w;
			o += w * over;
			if (over > worst) {
				worst = over;
				g->over_worst = a;
			}
		}
	}
	g->score = s / sw;
	g->time_ratio = r / sw;
	g->hints = hi / sw;
	if (ow > 0)
		g->over = o / ow;
	g->days_since = now > g->recent[0]->when ? (int)((now - g->recent[0]->when) / 86400) : 0;
	g->terms.score = 0.6 * (100 - g->score);
	g->terms.time = 5 * fmax(0, g->time_ratio - 1);
	g->terms.hints = fmin(10, 4 * g->hints);
	g->terms.over = g->over > 0 ? 0.2 * g->over : 0;
	g->terms.stale = fmin(10, 0.5 * fmax(0, g->days_since - 14));
	raw = g->terms.score + g->terms.time + g->terms.hints + g->terms.over + g->terms.assess +
	      g->terms.stale;
done:
	g->weakness = round(fmax(0, fmin(100, raw)) * 10) / 10;
}

/* ---- next drill ------------------------------------------------------------------------ */

/* The latest counted score on drill id, or -1 when untried. */
static double latest_score(const struct history *h, const char *id, const struct attempt **at)
{
	for (size_t i = h->nattempts; i-- > 0;) {
		const struct attempt *a = &h->attempts[i];
		if (a->counted && a->scenario && !strcmp(a->scenario, id)) {
			if (at)
				*at = a;
			return a->score;
		}
	}
	return -1;
}

struct cand_ctx {
	const struct catalog *c;
	const double *prio;
};

static int cand_cmp(const void *x, const void *y, void *opaque)
{
	const struct cand_ctx *ctx = opaque;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	const struct catalog_drill *da = &ctx->c->items[a], *db = &ctx->c->items[b];
	double pa = ctx->prio[a], pb = ctx->prio[b];

	if (da->supported != db->supported)
		return da->supported ? -1 : 1;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (da->difficulty != db->difficulty)
		return da->difficulty - db->difficulty;
	if (da->day != db->day)
		return da->day - db->day;
	return strcmp(da->id, db->id);
}

static int gap_candidates(struct gap *g, const struct history *h, const struct catalog *c,
			  const double *prio)
{
	struct cand_ctx ctx = { c, prio };

	g->first_day = INT_MAX;
	g->cands = calloc(c->count + 1, sizeof(*g->cands));
	if (!g->cands)
		return -1;
	for (size_t i = 0; i < c->count; i++) {
		if (!catalog_drill_has_skill(&c->items[i], g->skill))
			continue;
		g->cands[g->ncands++] = i;
		if (c->items[i].day < g->first_day)
			g->first_day = c->items[i].day;
	}
	/* A skill only the history knows: its drills' recorded days. */
	for (size_t i = 0; g->first_day == INT_MAX && i < h->nattempts; i++)
		if (attempt_has_skill(&h->attempts[i], g->skill) && h->attempts[i].day > 0)
			g->first_day = h->attempts[i].day;
	qsort_r(g->cands, g->ncands, sizeof(*g->cands), cand_cmp, &ctx);
	g->next = g->ncands ? &c->items[g->cands[0]] : NULL;
	return 0;
}

void gap_cand_reason(const struct gaps *all, const struct gap *g, const struct catalog *c,
		     size_t idx, char *buf, size_t size)
{
	const struct catalog_drill *d = &c->items[idx];
	const struct attempt *a = NULL;
	double last = latest_score(all->history, d->id, &a);

	if (last < 0)
		snprintf(buf, size, "untried, difficulty %d (day %d)", d->difficulty, d->day);
	else if (last < GAPS_UNTRIED)
		snprintf(buf, size, "you scored %.0f on it on %.10s: do it again", last,
			 a->started_at);
	else
		snprintf(buf, size, "your weakest drill for %s (latest score %.0f on %.10s)",
			 g->skill, last, a->started_at);
}

/* ---- ranking --------------------------------------------------------------------------- */

static int gap_cmp(const void *x, const void *y)
{
	const struct gap *a = x, *b = y;

	if (a->weakness != b->weakness)
		return a->weakness > b->weakness ? -1 : 1;
	if (a->first_day != b->first_day)
		return a->first_day < b->first_day ? -1 : 1;
	return strcmp(a->skill, b->skill);
}

int gaps_compute(const struct history *h, const struct catalog *c, time_t now, struct gaps *out,
		 struct cl_error *err)
{
	double *prio = calloc(c->count + 1, sizeof(*prio));

	memset(out, 0, sizeof(*out));
	out->now = now;
	out->history = h;
	if (!prio || collect_skills(out, h, c))
		goto oom;
	for (size_t i = 0; i < c->count; i++) {
		double last = latest_score(h, c->items[i].id, NULL);
		prio[i] = last < 0 ? GAPS_UNTRIED : last;
	}
	for (size_t i = 0; i < h->nattempts; i++)
		out->counted += h->attempts[i].counted;
	for (size_t i = 0; i < out->count; i++) {
		struct gap *g = &out->items[i];
		gap_measure(g, h, now);
		if (gap_candidates(g, h, c, prio))
			goto oom;
	}
	if (out->count)
		qsort(out->items, out->count, sizeof(*out->items), gap_cmp);
	for (size_t i = 0; i < out->count; i++)
		if (out->items[i].next)
			gap_cand_reason(out, &out->items[i], c, out->items[i].cands[0],
					out->items[i].next_reason,
					sizeof(out->items[i].next_reason));
	free(prio);
	return 0;
oom:
	free(prio);
	gaps_release(out);
	return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
}

void gaps_release(struct gaps *g)
{
	for (size_t i = 0; i < g->count; i++)
		free(g->items[i].cands);
	free(g->items);
	memset(g, 0, sizeof(*g));
}

/* ---- describing ------------------------------------------------------------------------ */

static void cat(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	if (off + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + off, size - off, fmt, ap);
	va_end(ap);
}

static double worst_over(const struct gap *g)
{
	return fmax(0, 20.0 * g->over_worst->confidence - g->over_worst->score);
}

void gap_describe(const struct gap *g, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!g->practised) {
		cat(buf, size, "never practised");
		if (g->autopilot_runs)
			cat(buf, size, "; %d autopilot run%s not counted (the reference solution did "
				       "the work)",
			    g->autopilot_runs, g->autopilot_runs == 1 ? "" : "s");
		if (g->failed_runs)
			cat(buf, size, "; %d run%s never got going (injection_failed or error)",
			    g->failed_runs, g->failed_runs == 1 ? "" : "s");
		cat(buf, size, "\n");
	} else {
		cat(buf, size, "last attempts:");
		for (size_t i = 0; i < g->nrecent; i++) {
			const struct attempt *a = g->recent[i];
			cat(buf, size, "%s %.10s %s %.0f (%s", i ? ";" : "", a->started_at,
			    a->scenario, a->score, a->outcome);
			if (a->hints)
				cat(buf, size, ", %d hint%s", a->hints, a->hints == 1 ? "" : "s");
			if (a->confidence)
				cat(buf, size, ", confidence %d/5", a->confidence);
			cat(buf, size, ")");
		}
		cat(buf, size, "\n");
		cat(buf, size,
		    "recency-weighted score %.1f over %zu of %d attempt%s; time %.2fx par; "
		    "%.1f hints an attempt; last practised %d day%s ago\n",
		    g->score, g->nrecent, g->attempts, g->attempts == 1 ? "" : "s", g->time_ratio,
		    g->hints, g->days_since, g->days_since == 1 ? "" : "s");
		if (g->over > 0 && g->over_worst && worst_over(g) > 0)
			cat(buf, size, "over-confident: said %d/5 and scored %.0f on %.10s %s\n",
			    g->over_worst->confidence, g->over_worst->score,
			    g->over_worst->started_at, g->over_worst->scenario);
	}
	if (g->assessment)
		cat(buf, size, "self-assessment: %.1f/5 on %.10s\n", g->grade,
		    g->assessment->started_at);
}

static cJSON *attempt_json(const struct attempt *a)
{
	cJSON *o = cJSON_CreateObject();
	char date[11];

	snprintf(date, sizeof(date), "%.10s", a->started_at);
	cJSON_AddStringToObject(o, "run_id", a->run_id);
	cJSON_AddStringToObject(o, "date", date);
	cJSON_AddStringToObject(o, "scenario", a->scenario);
	cJSON_AddNumberToObject(o, "score", a->score);
	cJSON_AddStringToObject(o, "outcome", a->outcome);
	cJSON_AddNumberToObject(o, "hints", a->hints);
	cJSON_AddNumberToObject(o, "time_ratio", round(time_ratio(a) * 100) / 100);
	if (a->confidence)
		cJSON_AddNumberToObject(o, "confidence", a->confidence);
	else
		cJSON_AddNullToObject(o, "confidence");
	return o;
}

static double r1(double x)
{
	return round(x * 10) / 10;
}

cJSON *gaps_json(const struct gaps *g, size_t limit)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char asof[32];
	struct tm tm;

	if (!root)
		return NULL;
	gmtime_r(&g->now, &tm);
	strftime(asof, sizeof(asof), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(root, "as_of", asof);
	cJSON_AddNumberToObject(root, "counted_attempts", g->counted);
	cJSON_AddNumberToObject(root, "skills", (double)g->count);
	arr = cJSON_AddArrayToObject(root, "gaps");
	for (size_t i = 0; i < g->count && i < limit; i++) {
		const struct gap *p = &g->items[i];
		cJSON *o = cJSON_CreateObject(), *t, *ev, *rec;
		char buf[4096], *line, *save = NULL;

		cJSON_AddNumberToObject(o, "rank", (double)i + 1);
		cJSON_AddStringToObject(o, "skill", p->skill);
		cJSON_AddNumberToObject(o, "weakness", p->weakness);
		cJSON_AddBoolToObject(o, "practised", p->practised);
		cJSON_AddNumberToObject(o, "attempts", p->attempts);
		cJSON_AddNumberToObject(o, "autopilot_runs", p->autopilot_runs);
		cJSON_AddNumberToObject(o, "failed_runs", p->failed_runs);
		if (p->practised) {
			cJSON_AddNumberToObject(o, "score", r1(p->score));
			cJSON_AddNumberToObject(o, "time_ratio", round(p->time_ratio * 100) / 100);
			cJSON_AddNumberToObject(o, "hints_per_attempt", r1(p->hints));
			cJSON_AddNumberToObject(o, "days_since_practice", p->days_since);
		}
		if (p->over >= 0)
			cJSON_AddNumberToObject(o, "overconfidence", r1(p->over));
		else
			cJSON_AddNullToObject(o, "overconfidence");
		if (p->assessment) {
			cJSON *sa = cJSON_AddObjectToObject(o, "self_assessment");
			cJSON_AddNumberToObject(sa, "grade", r1(p->grade));
			cJSON_AddStringToObject(sa, "run_id", p->assessment->run_id);
			cJSON_AddStringToObject(sa, "started_at", p->assessment->started_at);
		} else {
			cJSON_AddNullToObject(o, "self_assessment");
		}
		t = cJSON_AddObjectToObject(o, "terms");
		cJSON_AddNumberToObject(t, "score", r1(p->terms.score));
		cJSON_AddNumberToObject(t, "time", r1(p->terms.time));
		cJSON_AddNumberToObject(t, "hints", r1(p->terms.hints));
		cJSON_AddNumberToObject(t, "overconfidence", r1(p->terms.over));
		cJSON_AddNumberToObject(t, "self_assessment", r1(p->terms.assess));
		cJSON_AddNumberToObject(t, "staleness", r1(p->terms.stale));
		rec = cJSON_AddArrayToObject(o, "recent");
		for (size_t k = 0; k < p->nrecent; k++)
			cJSON_AddItemToArray(rec, attempt_json(p->recent[k]));
		ev = cJSON_AddArrayToObject(o, "evidence");
		gap_describe(p, buf, sizeof(buf));
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			cJSON_AddItemToArray(ev, cJSON_CreateString(line));
		if (p->next) {
			cJSON *n = cJSON_AddObjectToObject(o, "next");
			cJSON_AddStringToObject(n, "scenario", p->next->id);
			cJSON_AddStringToObject(n, "title", p->next->title);
			cJSON_AddBoolToObject(n, "supported", p->next->supported);
			if (!p->next->supported)
				cJSON_AddStringToObject(n, "why_not", p->next->why);
			cJSON_AddStringToObject(n, "reason", p->next_reason);
		} else {
			cJSON_AddNullToObject(o, "next");
		}
		cJSON_AddItemToArray(arr, o);
	}
	return root;
}

void gaps_skill_domain(const char *skill, char *buf, size_t size)
{
	const char *dot = strchr(skill, '.');

	snprintf(buf, size, "%.*s", dot ? (int)(dot - skill) : (int)strlen(skill), skill);
}

int gaps_pick(const struct gaps *g, const struct catalog *c, const char *domain,
	      const char *const *exclude, size_t nexclude, struct gaps_pick *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < g->count; i++) {
		const struct gap *p = &g->items[i];
		char dom[64];

		gaps_skill_domain(p->skill, dom, sizeof(dom));
		if (domain && strcmp(dom, domain))
			continue;
		for (size_t k = 0; k < p->ncands; k++) {
			const struct catalog_drill *d = &c->items[p->cands[k]];
			bool skip = !d->supported;
			char why[256], primary[64] = "";

			/* A drill belongs to the domain of its first skill. */
			if (domain && d->skills.n)
				gaps_skill_domain(d->skills.v[0], primary, sizeof(primary));
			skip = skip || (domain && strcmp(primary, domain));
			for (size_t x = 0; !skip && x < nexclude; x++)
				skip = exclude[x] && !strcmp(exclude[x], d->id);
			if (skip)
				continue;
			out->gap = p;
			out->drill = d;
			out->drill_index = p->cands[k];
			gap_cand_reason(g, p, c, p->cands[k], why, sizeof(why));
			snprintf(out->reason, sizeof(out->reason),
				 "gap #%zu %s (weakness %.1f, %s); %s: %s", i + 1, p->skill,
				 p->weakness, p->practised ? "practised" : "never practised", d->id,
				 why);
			return 0;
		}
	}
	return -1;
}

int practice_load(struct practice *p, const char *results_dir, bool check_support, time_t now,
		  FILE *warn, struct cl_error *err)
{
	memset(p, 0, sizeof(*p));
	if (history_load(results_dir, &p->history, warn ? history_warn_skipped : NULL, warn, err))
		return -1;
	if (catalog_load(&p->catalog, check_support, warn ? history_warn_skipped : NULL, warn,
			 err) ||
	    gaps_compute(&p->history, &p->catalog, now, &p->gaps, err)) {
		practice_release(p);
		return -1;
	}
	return 0;
}

void practice_release(struct practice *p)
{
	gaps_release(&p->gaps);
	catalog_release(&p->catalog);
	history_release(&p->history);
}
