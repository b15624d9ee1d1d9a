#include "drill/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drill/postmortem.h"

/* ---- small helpers --------------------------------------------------------------------- */

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

static const char *clk(double secs, char *buf, size_t size)
{
	return postmortem_clock(secs, buf, size);
}

/* Text for a Markdown table cell: one line, '|' escaped. */
static void md_cell(FILE *out, const char *s)
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

static void html(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

static const char *domain_name(const char *skill)
{
	static char buf[64];
	char dom[64];

	gaps_skill_domain(skill, dom, sizeof(dom));
	if (!strcmp(dom, "linux"))
		return "Linux";
	if (!strcmp(dom, "net"))
		return "network";
	if (!strcmp(dom, "k8s"))
		return "Kubernetes";
	if (!strcmp(dom, "ops"))
		return "operations";
	snprintf(buf, sizeof(buf), "%s", dom);
	return buf;
}

static double ratio(const struct attempt *a)
{
	if (strcmp(a->outcome, "fixed"))
		return 3;
	if (a->time_to_fix_seconds < 0 || a->par_seconds <= 0)
		return 1;
	return fmin(3, a->time_to_fix_seconds / a->par_seconds);
}

/* Is a better than b as "the best attempt": higher score, then fixed, then
 * newer. */
static bool better(const struct attempt *a, const struct attempt *b)
{
	if (!b)
		return true;
	if (a->score != b->score)
		return a->score > b->score;
	if (!strcmp(a->outcome, "fixed") != !strcmp(b->outcome, "fixed"))
		return !strcmp(a->outcome, "fixed");
	return a->when >= b->when;
}

static const struct attempt *best_of_scenario(const struct history *h, const char *id)
{
	const struct attempt *best = NULL;

	for (size_t i = 0; i < h->nattempts; i++) {
		const struct attempt *a = &h->attempts[i];
		if (a->counted && !strcmp(a->scenario, id) && better(a, best))
			best = a;
	}
	return best;
}

/* Scenario ids with a counted attempt, by curriculum day then id. */
struct practised {
	const char *id;
	int day;
};

static int practised_cmp(const void *x, const void *y)
{
	const struct practised *a = x, *b = y;

	if (a->day != b->day)
		return a->day - b->day;
	return strcmp(a->id, b->id);
}

static struct practised *practised_list(const struct history *h, bool counted_only, size_t *n)
{
	struct practised *p = calloc(h->nattempts + 1, sizeof(*p));

	*n = 0;
	if (!p)
		return NULL;
	for (size_t i = 0; i < h->nattempts; i++) {
		const struct attempt *a = &h->attempts[i];
		size_t k;
		if ((counted_only && !a->counted) || !a->scenario)
			continue;
		for (k = 0; k < *n && strcmp(p[k].id, a->scenario); k++)
			;
		if (k == *n) {
			p[k].id = a->scenario;
			p[k].day = a->day;
			(*n)++;
		}
	}
	qsort(p, *n, sizeof(*p), practised_cmp);
	return p;
}

/* ---- Markdown: what was built, what was simulated -------------------------------------- */

static void what_built(FILE *out, const struct report_input *in)
{
	const struct history *h = in->h;
	const struct catalog *c = in->c;
	const char *labs[32];
	size_t nlabs = 0, ndrills = 0;
	int dmin = 0, dmax = 0, counted = 0, fixed = 0, gave = 0, timed = 0, other = 0;
	int autopilot = 0, failed = 0;
	const char *first = NULL, *last = NULL;
	static const char *const dom_order[] = { "Linux", "network", "Kubernetes", "operations",
						  "other" };
	int doms[5] = { 0 };

	fprintf(out, "## What I built\n\n");
	for (size_t i = 0; i < c->count; i++) {
		const struct catalog_drill *d = &c->items[i];
		const char *dn = d->skills.n ? domain_name(d->skills.v[0]) : "other";
		size_t k;
		if (!dmin || d->day < dmin)
			dmin = d->day;
		if (d->day > dmax)
			dmax = d->day;
		for (k = 0; k < 4 && strcmp(dom_order[k], dn); k++)
			;
		doms[k]++;
		for (size_t l = 0; l < d->lab.n; l++) {
			size_t m;
			for (m = 0; m < nlabs && strcmp(labs[m], d->lab.v[l]); m++)
				;
			if (m == nlabs && nlabs < 32)
				labs[nlabs++] = d->lab.v[l];
		}
	}
	fprintf(out, "- **A fault-injection drill harness, chaoslab**, and a catalog of %zu drill%s, "
		     "each with a runbook",
		c->count, c->count == 1 ? "" : "s");
	if (c->count)
		fprintf(out, ", covering curriculum days %d-%d", dmin, dmax);
	for (size_t k = 0, m = 0; k < 5; k++)
		if (doms[k])
			fprintf(out, "%s%d %s", m++ ? ", " : ": ", doms[k], dom_order[k]);
	fprintf(out, ". Each drill breaks something real on purpose, proves the break landed, "
		     "times the fix, checks it, scores it and puts everything back.\n");
	if (nlabs) {
		/* Stable, readable order. */
		for (size_t i = 1; i < nlabs; i++)
			for (size_t j = i; j > 0 && strcmp(labs[j - 1], labs[j]) > 0; j--) {
				const char *t = labs[j];
				labs[j] = labs[j - 1];
				labs[j - 1] = t;
			}
		fprintf(out, "- **A lab the drills break and restore**:");
		for (size_t i = 0; i < nlabs; i++)
			fprintf(out, "%s %s", i ? "," : "", labs[i]);
		fprintf(out, ".\n");
	}
	for (size_t i = 0; i < h->nattempts; i++) {
		const struct attempt *a = &h->attempts[i];
		if (a->autopilot) {
			autopilot++;
			continue;
		}
		if (!a->counted) {
			failed++;
			continue;
		}
		counted++;
		if (!first)
			first = a->started_at;
		last = a->started_at;
		if (!strcmp(a->outcome, "fixed"))
			fixed++;
		else if (!strcmp(a->outcome, "gave_up"))
			gave++;
		else if (!strcmp(a->outcome, "timed_out"))
			timed++;
		else
			other++;
	}
	free(practised_list(h, true, &ndrills));
	fprintf(out, "- **Practice so far**: ");
	if (counted)
		fprintf(out, "%d counted attempt%s of %zu drill%s between %.10s and %.10s: %d fixed, "
			     "%d given up, %d timed out, %d aborted",
			counted, counted == 1 ? "" : "s", ndrills, ndrills == 1 ? "" : "s", first,
			last, fixed, gave, timed, other);
	else
		fprintf(out, "no counted attempt yet");
	fprintf(out, "; %d autopilot run%s (demos: the reference solution did the work, not "
		     "counted); %d run%s whose fault never landed or that failed (not counted); "
		     "%zu self-assessment%s; %zu daily drill%s; %zu mock interview%s.\n\n",
		autopilot, autopilot == 1 ? "" : "s", failed, failed == 1 ? "" : "s",
		h->nassessments, h->nassessments == 1 ? "" : "s", h->ndailies,
		h->ndailies == 1 ? "" : "s", h->nmocks, h->nmocks == 1 ? "" : "s");
}

static void failures(FILE *out, const struct report_input *in)
{
	const struct history *h = in->h;
	size_t n;
	struct practised *p = practised_list(h, false, &n);
	int missing = 0;

	fprintf(out, "## Failures simulated\n\n");
	if (!p || !n) {
		fprintf(out, "None yet: no drill has been run.\n\n");
		free(p);
		goto untried;
	}
	fprintf(out, "| drill | what broke | day | runs (counted) | best | latest |\n"
		     "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct attempt *best = best_of_scenario(h, p[i].id), *latest = NULL;
		const struct attempt *any = NULL;
		int runs = 0, counted = 0;
		for (size_t k = 0; k < h->nattempts; k++) {
			const struct attempt *a = &h->attempts[k];
			if (strcmp(a->scenario, p[i].id))
				continue;
			any = a;
			runs++;
			if (a->counted) {
				counted++;
				latest = a;
			}
		}
		fprintf(out, "| `%s` | ", p[i].id);
		md_cell(out, any->title);
		fprintf(out, " | %d | %d (%d) | ", p[i].day, runs, counted);
		if (best)
			fprintf(out, "%.0f, %s (%.10s)", best->score, best->outcome, best->started_at);
		else
			fprintf(out, "-");
		fprintf(out, " | ");
		if (latest)
			fprintf(out, "%.0f, %s (%.10s)", latest->score, latest->outcome,
				latest->started_at);
		else
			fprintf(out, "none counted (latest run: %s)",
				any->autopilot ? "autopilot" : any->outcome);
		fprintf(out, " |\n");
	}
	fprintf(out, "\n");
	free(p);
untried:
	for (size_t i = 0; i < in->c->count; i++) {
		const char *id = in->c->items[i].id;
		bool done = false;
		for (size_t k = 0; k < h->nattempts && !done; k++)
			done = h->attempts[k].counted && !strcmp(h->attempts[k].scenario, id);
		if (done)
			continue;
		fprintf(out, "%s`%s`", missing++ ? ", " : "Not practised yet: ", id);
	}
	if (missing)
		fprintf(out, ".\n\n");
}

/* ---- Markdown: how each was debugged --------------------------------------------------- */

static double confirmed_at(const struct attempt *a)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(a->doc, "events")) {
		const char *n = jstr(e, "event");
		if (n && !strcmp(n, "symptom_confirmed"))
			return jnum(e, "t", 0);
	}
	return -1;
}

/* The course of an attempt in one sentence, from its events. */
static void course(FILE *out, const struct attempt *a)
{
	double t0 = confirmed_at(a);
	const cJSON *e;
	char c[16];
	int steps = 0, crit = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(a->doc, "events")) {
		const char *n = jstr(e, "event"), *d = jstr(e, "detail");
		double t = jnum(e, "t", 0) - (t0 >= 0 ? t0 : 0);
		if (!n)
			continue;
		if (!strcmp(n, "symptom_confirmed")) {
			fprintf(out, "%ssymptom confirmed, clock started", steps++ ? "; " : "");
		} else if (!strcmp(n, "hint")) {
			fprintf(out, "%s%s at %s", steps++ ? "; " : "", d ? d : "hint",
				clk(t, c, sizeof(c)));
		} else if (!strcmp(n, "guard_violated")) {
			fprintf(out, "%sguard violated at %s (%s)", steps++ ? "; " : "",
				clk(t, c, sizeof(c)), d ? d : "");
		} else if (!strcmp(n, "criterion_met") && d && !strncmp(d, "fixed_when[", 11) &&
			   crit < 6) {
			crit++;
			fprintf(out, "%s%s at %s", steps++ ? "; " : "", d, clk(t, c, sizeof(c)));
		} else if (!strcmp(n, "fixed") || !strcmp(n, "gave_up") || !strcmp(n, "timed_out")) {
			fprintf(out, "%s%s at %s", steps++ ? "; " : "",
				!strcmp(n, "gave_up") ? "gave up" :
				!strcmp(n, "timed_out") ? "time limit" : "fix held",
				clk(t, c, sizeof(c)));
		}
	}
	if (!steps)
		fprintf(out, "no events recorded");
}

static void attempt_line(FILE *out, const struct attempt *a)
{
	char c1[16], c2[16];

	fprintf(out, "%s", a->outcome);
	if (!strcmp(a->outcome, "fixed") && a->time_to_fix_seconds >= 0)
		fprintf(out, " after %s", clk(a->time_to_fix_seconds, c1, sizeof(c1)));
	else if (a->elapsed_seconds >= 0)
		fprintf(out, " after %s", clk(a->elapsed_seconds, c1, sizeof(c1)));
	if (a->par_seconds > 0)
		fprintf(out, " (par %s)", clk(a->par_seconds, c2, sizeof(c2)));
	fprintf(out, ", %d hint%s, score %.0f", a->hints, a->hints == 1 ? "" : "s", a->score);
	if (a->confidence)
		fprintf(out, ", confidence %d/5", a->confidence);
}

static void debugged(FILE *out, const struct report_input *in)
{
	const struct history *h = in->h;
	size_t n;
	struct practised *p = practised_list(h, true, &n);

	fprintf(out, "## How each was debugged\n\n");
	if (!p || !n) {
		fprintf(out, "Nothing to tell yet: no counted attempt (autopilot runs are demos, "
			     "not debugging).\n\n");
		free(p);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct attempt *best = best_of_scenario(h, p[i].id);
		int k = 0;

		fprintf(out, "### `%s`: %s (day %d)\n\n", p[i].id, best->title, p[i].day);
		fprintf(out, "Best attempt, %.10s (`%s`): ", best->started_at, best->run_id);
		attempt_line(out, best);
		fprintf(out, ".\n\nHow it went: ");
		course(out, best);
		fprintf(out, ".\n\n");
		if (best->root_cause)
			fprintf(out, "Root cause, as I noted it: \"%s\".\n\n", best->root_cause);
		else
			fprintf(out, "No root cause was noted for this attempt.\n\n");
		fprintf(out, "Attempts: ");
		for (size_t j = 0; j < h->nattempts; j++) {
			const struct attempt *a = &h->attempts[j];
			if (!a->counted || strcmp(a->scenario, p[i].id))
				continue;
			fprintf(out, "%s%.10s %.0f (%s)", k++ ? " -> " : "", a->started_at, a->score,
				a->outcome);
		}
		fprintf(out, ".\n\n");
	}
	free(p);
}

/* ---- Markdown: interview stories ------------------------------------------------------- */

struct story_kind {
	const char *title;
	const char *const skills[4];
	const char *const ids[3];  /* substrings of drill ids */
};

static const struct story_kind story_kinds[] = {
	{ "DNS incident", { "net.dns", "k8s.dns", NULL }, { "dns", NULL } },
	{ "OOM / CrashLoop incident", { "linux.memory", "k8s.crashloop", NULL },
	  { "oom", "crashloop", NULL } },
	{ "Certificate rotation incident", { "net.tls", "ops.cert-rotation", NULL },
	  { "cert", "tls", NULL } },
};

static bool story_match(const struct story_kind *k, const char *id, bool (*has)(const void *,
										  const char *),
			const void *x)
{
	for (size_t i = 0; k->skills[i]; i++)
		if (has(x, k->skills[i]))
			return true;
	for (size_t i = 0; k->ids[i]; i++)
		if (id && strstr(id, k->ids[i]))
			return true;
	return false;
}

static bool attempt_has(const void *x, const char *s)
{
	return attempt_has_skill(x, s);
}

static bool drill_has(const void *x, const char *s)
{
	return catalog_drill_has_skill(x, s);
}

/* The first paragraph of text, on one line. */
static void first_paragraph(FILE *out, const char *text)
{
	bool space = false;

	for (const char *p = text; *p; p++) {
		if (p[0] == '\n' && p[1] == '\n')
			break;
		if (*p == '\n' || *p == ' ') {
			space = true;
			continue;
		}
		if (space)
			fputc(' ', out);
		space = false;
		fputc(*p, out);
	}
}

/* The first bullet (or line) of a runbook section. */
static void first_item(FILE *out, const char *text)
{
	const char *p = text;
	size_t n;

	while (*p == '*' || *p == '-' || *p == ' ')
		p++;
	n = strcspn(p, "\n");
	/* A bullet may wrap: take continuation lines (indented) too. */
	fprintf(out, "%.*s", (int)n, p);
	for (p += n; p[0] == '\n' && p[1] == ' ' && p[2] == ' ';) {
		p += 1;
		while (*p == ' ')
			p++;
		n = strcspn(p, "\n");
		fprintf(out, " %.*s", (int)n, p);
		p += n;
	}
}

static void story(FILE *out, const struct report_input *in, size_t idx)
{
	const struct story_kind *k = &story_kinds[idx];
	const struct history *h = in->h;
	const struct attempt *best = NULL, *first = NULL;
	int autopilot = 0, counted = 0;
	char c1[16], c2[16];

	for (size_t i = 0; i < h->nattempts; i++) {
		const struct attempt *a = &h->attempts[i];
		if (!story_match(k, a->scenario, attempt_has, a))
			continue;
		autopilot += a->autopilot;
		if (!a->counted)
			continue;
		counted++;
		if (!first)
			first = a;
		if (better(a, best))
			best = a;
	}
	fprintf(out, "### %zu. %s\n\n", idx + 1, k->title);
	if (!best) {
		int m = 0;
		fprintf(out, "No story yet: you have not done a drill of this kind yourself");
		if (autopilot)
			fprintf(out, " (%d autopilot run%s: the reference solution fixed %s, not you)",
				autopilot, autopilot == 1 ? "" : "s", autopilot == 1 ? "it" : "them");
		fprintf(out, ".");
		for (size_t i = 0; i < in->c->count; i++) {
			const struct catalog_drill *d = &in->c->items[i];
			if (!story_match(k, d->id, drill_has, d))
				continue;
			fprintf(out, "%s`chaoslab drill %s` (day %d%s)",
				m++ ? ", " : " Drills that would give you one: ", d->id, d->day,
				d->supported ? "" : ", does not run here");
		}
		fprintf(out, "%s\n\n", m ? "." : "");
		return;
	}
	const struct catalog_drill *d = catalog_find(in->c, best->scenario);
	char *prevention = d ? runbook_section(d->runbook_path, "Prevention") : NULL;

	fprintf(out, "Drafted from `%s` on %.10s (run `%s`, score %.0f).\n\n", best->scenario,
		best->started_at, best->run_id, best->score);
	fprintf(out, "**Situation.** ");
	if (d && d->briefing[0])
		first_paragraph(out, d->briefing);
	else
		fprintf(out, "%s.", best->title);
	fprintf(out, "\n\n**Task.** Find and fix it (%s) without collateral damage, within %s.\n\n",
		best->title, clk(best->par_seconds, c1, sizeof(c1)));
	fprintf(out, "**Action.** Timeline: ");
	course(out, best);
	fprintf(out, ". ");
	if (best->root_cause)
		fprintf(out, "The root cause I found: %s.", best->root_cause);
	else
		fprintf(out, "(Write the root cause here: none was noted during the drill.)");
	fprintf(out, "\n\n**Result.** ");
	if (!strcmp(best->outcome, "fixed"))
		fprintf(out, "Fixed after %s against a par of %s, %d hint%s, score %.0f/100.",
			clk(best->time_to_fix_seconds, c1, sizeof(c1)),
			clk(best->par_seconds, c2, sizeof(c2)), best->hints,
			best->hints == 1 ? "" : "s", best->score);
	else
		fprintf(out, "Not fixed (%s); score %.0f/100. Say what you would do next.",
			best->outcome, best->score);
	if (first && first != best)
		fprintf(out, " First attempt of this kind: %.10s, %s, score %.0f; %d in all.",
			first->started_at, first->outcome, first->score, counted);
	fprintf(out, "\n\n");
	if (prevention) {
		fprintf(out, "**What I would change.** ");
		first_item(out, prevention);
		fprintf(out, "\n\n");
	}
	free(prevention);
}

/* ---- Markdown: gaps, assessments, mocks ------------------------------------------------ */

static void gaps_md(FILE *out, const struct report_input *in)
{
	const struct gaps *g = in->g;

	fprintf(out, "## Gaps: the five weakest skills\n\n");
	if (!g->count) {
		fprintf(out, "No skills known yet.\n\n");
		return;
	}
	for (size_t i = 0; i < g->count && i < GAPS_LIST; i++) {
		const struct gap *p = &g->items[i];
		char ev[4096], *line, *save = NULL;
		fprintf(out, "%zu. **%s**, weakness %.1f", i + 1, p->skill, p->weakness);
		gap_describe(p, ev, sizeof(ev));
		for (line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			fprintf(out, "; %s", line);
		if (!p->next)
			fprintf(out, "; no drill in the catalog practises it");
		else if (p->next->supported)
			fprintf(out, "; next: `chaoslab drill %s`: %s", p->next->id, p->next_reason);
		else
			fprintf(out, "; next: `%s`, which does not run on this machine (%s)",
				p->next->id, p->next->why);
		fprintf(out, ".\n");
	}
	fprintf(out, "\nHow the weakness is computed: docs/growth.md.\n\n");
}

static void scope_text(FILE *out, const cJSON *doc)
{
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(doc, "scope");

	if (jstr(scope, "skill"))
		fprintf(out, "skill %s", jstr(scope, "skill"));
	else if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(scope, "day")))
		fprintf(out, "day %.0f", jnum(scope, "day", 0));
	else
		fprintf(out, "?");
}

static void assessments_md(FILE *out, const struct report_input *in)
{
	const struct history *h = in->h;

	fprintf(out, "## Self-assessments\n\n");
	if (!h->nassessments) {
		fprintf(out, "None yet (`chaoslab assess --skill SKILL` or `--day N`).\n\n");
		return;
	}
	fprintf(out, "| date | scope | prompts | mean grade |\n|---|---|---|---|\n");
	for (size_t i = 0; i < h->nassessments; i++) {
		const struct assessment *a = &h->assessments[i];
		const cJSON *g;
		double sum = 0;
		int n = 0;
		cJSON_ArrayForEach(g, a->grades) {
			sum += jnum(g, "grade", 0);
			n++;
		}
		fprintf(out, "| %.10s | ", a->started_at);
		scope_text(out, a->doc);
		fprintf(out, " | %d | %.1f/5 |\n", n, n ? sum / n : 0);
	}
	fprintf(out, "\n");
}

int report_mock_markdown(FILE *out, const cJSON *mock)
{
	const cJSON *drills = cJSON_GetObjectItemCaseSensitive(mock, "drills"), *d;
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(mock, "score");
	char c1[16], c2[16];

	fprintf(out, "### Mock interview, %.10s (`%s`)\n\n", jstr(mock, "started_at"),
		jstr(mock, "run_id"));
	fprintf(out, "Budget %s, used %s%s. ", clk(jnum(mock, "budget_seconds", 0), c1, sizeof(c1)),
		clk(jnum(mock, "used_seconds", 0), c2, sizeof(c2)),
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mock, "autopilot")) ? ", on autopilot"
										   : "");
	if (cJSON_IsNumber(score))
		fprintf(out, "Combined score **%.0f/100** (the mean over the domains that could "
			     "run here; one skipped for lack of time counts 0).\n\n",
			score->valuedouble);
	else
		fprintf(out, "No combined score: no drill was scored.\n\n");
	fprintf(out, "| domain | drill | outcome | score | time | limit given |\n"
		     "|---|---|---|---|---|---|\n");
	cJSON_ArrayForEach(d, drills) {
		const char *st = jstr(d, "status");
		fprintf(out, "| %s | ", jstr(d, "domain") ? jstr(d, "domain") : "?");
		if (jstr(d, "scenario"))
			fprintf(out, "`%s`", jstr(d, "scenario"));
		else
			fprintf(out, "-");
		if (st && !strcmp(st, "run")) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "score");
			fprintf(out, " | %s | ", jstr(d, "outcome") ? jstr(d, "outcome") : "?");
			if (cJSON_IsNumber(s))
				fprintf(out, "%.0f", s->valuedouble);
			else
				fprintf(out, "-");
			fprintf(out, " | %s | %s |\n",
				jnum(d, "elapsed_seconds", -1) >= 0
					? clk(jnum(d, "elapsed_seconds", 0), c1, sizeof(c1))
					: "-",
				clk(jnum(d, "time_limit_seconds", 0), c2, sizeof(c2)));
		} else {
			fprintf(out, " | skipped: ");
			md_cell(out, jstr(d, "reason"));
			fprintf(out, " | - | - | - |\n");
		}
	}
	fprintf(out, "\n");
	return ferror(out) ? -1 : 0;
}

int report_markdown(FILE *out, const struct report_input *in)
{
	char date[32];
	struct tm tm;

	gmtime_r(&in->now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(out, "# chaoslab portfolio\n\n");
	fprintf(out, "Generated %s from the results in `%s`", date, in->results_dir);
	if (in->h->unreadable)
		fprintf(out, " (%zu unreadable file%s skipped)", in->h->unreadable,
			in->h->unreadable == 1 ? "" : "s");
	fprintf(out, ".\n\n");
	what_built(out, in);
	failures(out, in);
	debugged(out, in);
	fprintf(out, "## Interview stories\n\n"
		     "Drafted from the best attempt of each kind; rewrite them in your own "
		     "words.\n\n");
	for (size_t i = 0; i < sizeof(story_kinds) / sizeof(story_kinds[0]); i++)
		story(out, in, i);
	gaps_md(out, in);
	assessments_md(out, in);
	fprintf(out, "## Mock interviews\n\n");
	if (!in->h->nmocks)
		fprintf(out, "None yet (`chaoslab mock`).\n\n");
	for (size_t i = 0; i < in->h->nmocks; i++)
		report_mock_markdown(out, in->h->mocks[i]);
	return ferror(out) ? -1 : 0;
}

/* ---- HTML and SVG charts --------------------------------------------------------------- */

#define CHART_W 960
#define PLOT_L 56
#define PLOT_T 20

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
				       "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22" };
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

/* The counted attempts, oldest first, the last max of them. */
static size_t counted_attempts(const struct history *h, const struct attempt **out, size_t max)
{
	size_t n = 0, total = 0;

	for (size_t i = 0; i < h->nattempts; i++)
		total += h->attempts[i].counted;
	for (size_t i = 0; i < h->nattempts; i++) {
		if (!h->attempts[i].counted)
			continue;
		if (total-- > max)
			continue;
		out[n++] = &h->attempts[i];
	}
	return n;
}

static void svg_open(FILE *out, int height, const char *label)
{
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"",
		CHART_W, height, CHART_W, height);
	html(out, label);
	fprintf(out, "\">\n");
}

static void svg_empty(FILE *out, int height, const char *label)
{
	svg_open(out, height, label);
	fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"empty\">no counted attempts yet</text>\n",
		CHART_W / 2 - 90, height / 2);
	fprintf(out, "</svg>\n");
}

static void date_of(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d", &tm);
}

/* Score over time, one line per practised skill. */
static void chart_scores(FILE *out, const struct report_input *in)
{
	const struct history *h = in->h;
	const int height = 340, pw = CHART_W - PLOT_L - 220, ph = height - PLOT_T - 44;
	time_t tmin = 0, tmax = 0;
	size_t nskills = 0;
	const char *skills[NPALETTE];
	bool any = false;

	for (size_t i = 0; i < h->nattempts; i++) {
		const struct attempt *a = &h->attempts[i];
		if (!a->counted)
			continue;
		if (!any || a->when < tmin)
			tmin = a->when;
		if (!any || a->when > tmax)
			tmax = a->when;
		any = true;
	}
	if (!any) {
		svg_empty(out, height, "Score over time per skill");
		return;
	}
	/* The practised skills, by name; as many as there are colours. */
	for (size_t i = 0; i < in->g->count; i++) {
		const struct gap *g = &in->g->items[i];
		size_t j;
		if (!g->practised)
			continue;
		if (nskills == NPALETTE && strcmp(g->skill, skills[NPALETTE - 1]) > 0)
			continue;
		j = nskills < NPALETTE ? nskills++ : NPALETTE - 1;
		skills[j] = g->skill;
		for (; j > 0 && strcmp(skills[j - 1], skills[j]) > 0; j--) {
			const char *t = skills[j];
			skills[j] = skills[j - 1];
			skills[j - 1] = t;
		}
	}
	if (tmax == tmin) {
		tmin -= 43200;
		tmax += 43200;
	}
	/* Inset by the largest marker, clear of the axis. */
#define SX(t) (PLOT_L + 16 + (double)((t) - tmin) / (double)(tmax - tmin) * (pw - 32))
#define SY(s) (PLOT_T + (100.0 - (s)) / 100.0 * ph)
	svg_open(out, height, "Score over time per skill");
	for (int v = 0; v <= 100; v += 25) {
		fprintf(out,
			"<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			"<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n",
			PLOT_L, SY(v), PLOT_L + pw, SY(v), PLOT_L - 6, SY(v) + 4, v);
	}
	for (int k = 0; k <= 4; k++) {
		time_t t = tmin + (time_t)((double)(tmax - tmin) * k / 4);
		char d[16];
		date_of(t, d, sizeof(d));
		fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			SX(t), PLOT_T + ph + 18, d);
	}
	fprintf(out, "<path class=\"axis\" d=\"M%d %d V%d H%d\"/>\n", PLOT_L, PLOT_T, PLOT_T + ph,
		PLOT_L + pw);
	fprintf(out, "<text class=\"label\" x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" "
		     "text-anchor=\"middle\">score</text>\n",
		PLOT_T + ph / 2, PLOT_T + ph / 2);
	for (size_t k = 0; k < nskills; k++) {
		int np = 0;
		fprintf(out, "<g class=\"series\" data-skill=\"");
		html(out, skills[k]);
		fprintf(out, "\">\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"",
			palette[k]);
		for (size_t i = 0; i < h->nattempts; i++) {
			const struct attempt *a = &h->attempts[i];
			if (a->counted && attempt_has_skill(a, skills[k]))
				fprintf(out, "%s%.1f,%.1f", np++ ? " " : "", SX(a->when), SY(a->score));
		}
		fprintf(out, "\"/>\n</g>\n<rect x=\"%d\" y=\"%zu\" width=\"14\" height=\"14\" "
			     "fill=\"%s\"/><text class=\"legend\" x=\"%d\" y=\"%zu\">",
			PLOT_L + pw + 24, PLOT_T + k * 22, palette[k], PLOT_L + pw + 44,
			PLOT_T + k * 22 + 12);
		html(out, skills[k]);
		fprintf(out, "</text>\n");
	}
	/* The markers over all the lines. Where one attempt puts several
	 * skills on the same spot, the earlier series' marker is bigger, so the
	 * coinciding points show as rings. */
	fprintf(out, "<g class=\"points\">\n");
	for (size_t k = 0; k < nskills; k++) {
		for (size_t i = 0; i < h->nattempts; i++) {
			const struct attempt *a = &h->attempts[i];
			int later = 0;
			if (!a->counted || !attempt_has_skill(a, skills[k]))
				continue;
			for (size_t j = k + 1; j < nskills; j++)
				later += attempt_has_skill(a, skills[j]);
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"><title>",
				SX(a->when), SY(a->score), 4 + 2.5 * later, palette[k]);
			html(out, skills[k]);
			fprintf(out, ": %.0f on %.10s (", a->score, a->started_at);
			html(out, a->scenario);
			fprintf(out, ", %s)</title></circle>\n", a->outcome);
		}
	}
	fprintf(out, "</g>\n");
#undef SX
#undef SY
	fprintf(out, "</svg>\n");
}

/* Bars over the counted attempts: time against par, or hints used. */
static void chart_bars(FILE *out, const struct report_input *in, bool hints)
{
	const struct attempt *at[40];
	size_t n = counted_attempts(in->h, at, 40);
	const int height = 360, pw = CHART_W - PLOT_L - 220, ph = height - PLOT_T - 110;
	const char *label = hints ? "Hints used per attempt" : "Time to fix against par per attempt";
	double ymax = 3.2;
	double slot, bw;

	if (!n) {
		svg_empty(out, height, label);
		return;
	}
	if (hints) {
		ymax = 3;
		for (size_t i = 0; i < n; i++)
			if (at[i]->hints > ymax)
				ymax = at[i]->hints;
	}
	slot = (double)pw / (double)n;
	bw = fmin(36, slot * 0.7);
#define SY(v) (PLOT_T + (1.0 - (v) / ymax) * ph)
	svg_open(out, height, label);
	if (hints) {
		for (int v = 0; v <= (int)ymax; v++)
			fprintf(out,
				"<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
				"<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n",
				PLOT_L, SY(v), PLOT_L + pw, SY(v), PLOT_L - 6, SY(v) + 4, v);
	} else {
		static const double marks[] = { 0, 1, 2, 3 };
		for (size_t k = 0; k < 4; k++)
			fprintf(out,
				"<line class=\"%s\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
				"<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%gx</text>\n",
				marks[k] == 1 ? "par" : "grid", PLOT_L, SY(marks[k]), PLOT_L + pw,
				SY(marks[k]), PLOT_L - 6, SY(marks[k]) + 4, marks[k]);
		fprintf(out, "<text class=\"legend\" x=\"%d\" y=\"%.1f\">par</text>\n",
			PLOT_L + pw + 8, SY(1) + 4);
		fprintf(out, "<text class=\"legend\" x=\"%d\" y=\"%.1f\">3x par: full time "
			     "penalty</text>\n",
			PLOT_L + pw + 8, SY(3) + 4);
	}
	fprintf(out, "<path class=\"axis\" d=\"M%d %d V%d H%d\"/>\n", PLOT_L, PLOT_T, PLOT_T + ph,
		PLOT_L + pw);
	for (size_t i = 0; i < n; i++) {
		const struct attempt *a = at[i];
		double v = hints ? a->hints : ratio(a);
		double x = PLOT_L + slot * ((double)i + 0.5) - bw / 2;
		const char *fill = hints ? "#6a51a3" :
				   strcmp(a->outcome, "fixed") ? "#c0392b" :
				   v <= 1 ? "#2a9d55" : "#e0a030";
		char c[16];

		fprintf(out, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			     "fill=\"%s\"><title>%.10s ",
			x, SY(v), bw, SY(0) - SY(v), fill, a->started_at);
		html(out, a->scenario);
		if (hints)
			fprintf(out, ": %d hint%s (-%d)", a->hints, a->hints == 1 ? "" : "s",
				a->hint_penalty);
		else if (!strcmp(a->outcome, "fixed"))
			fprintf(out, ": fixed in %s, %.2fx par", clk(a->time_to_fix_seconds, c, sizeof(c)),
				v);
		else
			fprintf(out, ": not fixed (%s)", a->outcome);
		fprintf(out, "</title></rect>\n");
		if (hints)
			fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
				     "text-anchor=\"middle\">%d</text>\n",
				x + bw / 2, SY(v) - 4, a->hints);
		fprintf(out, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\" text-anchor=\"end\" "
			     "transform=\"rotate(-40 %.1f %d)\">%.5s ",
			x + bw / 2, PLOT_T + ph + 14, x + bw / 2, PLOT_T + ph + 14,
			a->started_at + 5);
		html(out, a->scenario);
		fprintf(out, "</text>\n");
	}
	if (!hints) {
		static const struct {
			const char *fill, *text;
		} keys[] = { { "#2a9d55", "fixed within par" },
			     { "#e0a030", "fixed, over par" },
			     { "#c0392b", "not fixed" } };
		for (size_t k = 0; k < 3; k++)
			fprintf(out, "<rect x=\"%d\" y=\"%.1f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
				     "<text class=\"legend\" x=\"%d\" y=\"%.1f\">%s</text>\n",
				PLOT_L + pw + 24, SY(2.2) + (double)k * 22, keys[k].fill,
				PLOT_L + pw + 44, SY(2.2) + (double)k * 22 + 12, keys[k].text);
	}
#undef SY
	fprintf(out, "</svg>\n");
}

static const char css[] =
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
	"max-width:1000px;color:#222;background:#fff}"
	"h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;"
	"border-bottom:1px solid #ddd;padding-bottom:4px}"
	"p.meta{color:#666;margin:0 0 12px}"
	"table{border-collapse:collapse;width:100%;font-size:13px}"
	"th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}"
	"th{background:#f4f4f4}"
	"svg{display:block;max-width:100%;height:auto;background:#fcfcfc;border:1px solid #eee}"
	"svg .grid{stroke:#e3e3e3;stroke-width:1}"
	"svg .par{stroke:#333;stroke-width:1.5;stroke-dasharray:6 4}"
	"svg .axis{stroke:#555;stroke-width:1.2;fill:none}"
	"svg text{font-family:system-ui,sans-serif;fill:#333}"
	"svg .tick{font-size:11px}svg .xlabel{font-size:10px}svg .legend{font-size:12px}"
	"svg .label{font-size:12px}svg .empty{font-size:16px;fill:#888}"
	".auto{color:#888}";

static void html_gaps(FILE *out, const struct report_input *in)
{
	const struct gaps *g = in->g;

	fprintf(out, "<h2>Gaps: the five weakest skills</h2>\n<table>\n<tr><th>#</th><th>skill</th>"
		     "<th>weakness</th><th>evidence</th><th>next drill</th></tr>\n");
	for (size_t i = 0; i < g->count && i < GAPS_LIST; i++) {
		const struct gap *p = &g->items[i];
		char ev[4096], *line, *save = NULL;
		fprintf(out, "<tr><td>%zu</td><td>", i + 1);
		html(out, p->skill);
		fprintf(out, "</td><td>%.1f</td><td>", p->weakness);
		gap_describe(p, ev, sizeof(ev));
		for (line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			html(out, line);
			fprintf(out, "<br>");
		}
		fprintf(out, "</td><td>");
		if (p->next) {
			html(out, p->next->id);
			fprintf(out, ": ");
			html(out, p->next->supported ? p->next_reason : p->next->why);
			if (!p->next->supported)
				fprintf(out, " (does not run here)");
		} else {
			fprintf(out, "none in the catalog");
		}
		fprintf(out, "</td></tr>\n");
	}
	fprintf(out, "</table>\n");
}

static void html_attempts(FILE *out, const struct report_input *in)
{
	const struct history *h = in->h;
	char c[16];

	fprintf(out, "<h2>Every run</h2>\n<table>\n<tr><th>date</th><th>drill</th><th>outcome</th>"
		     "<th>score</th><th>time / par</th><th>hints</th><th>confidence</th>"
		     "<th>root cause noted</th></tr>\n");
	for (size_t i = h->nattempts; i-- > 0;) {
		const struct attempt *a = &h->attempts[i];
		fprintf(out, "<tr%s><td>%.10s</td><td>", a->counted ? "" : " class=\"auto\"",
			a->started_at);
		html(out, a->scenario);
		fprintf(out, "</td><td>");
		html(out, a->outcome);
		if (a->autopilot)
			fprintf(out, " (autopilot, not counted)");
		else if (!a->counted)
			fprintf(out, " (not counted)");
		fprintf(out, "</td><td>");
		if (a->score >= 0)
			fprintf(out, "%.0f", a->score);
		fprintf(out, "</td><td>");
		if (!strcmp(a->outcome, "fixed") && a->time_to_fix_seconds >= 0 && a->par_seconds > 0)
			fprintf(out, "%s / %.0f s", clk(a->time_to_fix_seconds, c, sizeof(c)),
				a->par_seconds);
		fprintf(out, "</td><td>%d</td><td>", a->hints);
		if (a->confidence)
			fprintf(out, "%d/5", a->confidence);
		fprintf(out, "</td><td>");
		html(out, a->root_cause);
		fprintf(out, "</td></tr>\n");
	}
	fprintf(out, "</table>\n");
}

int report_html(FILE *out, const struct report_input *in)
{
	char date[32];
	struct tm tm;
	int counted = 0, autopilot = 0;

	for (size_t i = 0; i < in->h->nattempts; i++) {
		counted += in->h->attempts[i].counted;
		autopilot += in->h->attempts[i].autopilot;
	}
	gmtime_r(&in->now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		     "style-src 'unsafe-inline'\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		     "<title>chaoslab progress report</title>\n<style>%s</style>\n</head>\n<body>\n",
		css);
	fprintf(out, "<h1>chaoslab progress report</h1>\n<p class=\"meta\">Generated %s from ",
		date);
	html(out, in->results_dir);
	fprintf(out, ": %d counted attempt%s, %d autopilot run%s (not charted), %zu "
		     "self-assessment%s, %zu mock interview%s",
		counted, counted == 1 ? "" : "s", autopilot, autopilot == 1 ? "" : "s",
		in->h->nassessments, in->h->nassessments == 1 ? "" : "s", in->h->nmocks,
		in->h->nmocks == 1 ? "" : "s");
	if (in->h->unreadable)
		fprintf(out, "; %zu unreadable file%s skipped", in->h->unreadable,
			in->h->unreadable == 1 ? "" : "s");
	fprintf(out, ".</p>\n");
	fprintf(out, "<h2>Score over time, per skill</h2>\n");
	chart_scores(out, in);
	size_t practised = 0;
	for (size_t i = 0; i < in->g->count; i++)
		practised += in->g->items[i].practised;
	if (practised > NPALETTE)
		fprintf(out, "<p class=\"meta\">The first %zu of %zu practised skills by name; "
			     "every run is in the table below.</p>\n",
			(size_t)NPALETTE, practised);
	fprintf(out, "<h2>Time to fix against par</h2>\n");
	chart_bars(out, in, false);
	fprintf(out, "<h2>Hints used</h2>\n");
	chart_bars(out, in, true);
	html_gaps(out, in);
	html_attempts(out, in);
	fprintf(out, "<p class=\"meta\">The debugging notes, interview stories and mock interviews "
		     "are in the Markdown portfolio (chaoslab report --md FILE).</p>\n"
		     "</body>\n</html>\n");
	return ferror(out) ? -1 : 0;
}

/* ---- saving ---------------------------------------------------------------------------- */

int report_save(const char *path, report_render_fn fn, const void *arg, struct cl_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to render '%s'", path);
	rc = fn(f, arg);
	if (fclose(f) || rc) {
		free(buf);
		return cl_error_set(err, CL_EXIT_USAGE, "unable to render '%s': out of memory", path);
	}
	rc = results_write_text(path, buf, len, err);
	free(buf);
	return rc;
}
