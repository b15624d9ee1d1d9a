#include "drill/history.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/support.h"
#include "core/doc.h"

/* ---- reading documents ----------------------------------------------------------------- */

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

/* jnum() for an int field: out of int's range (a hand-edited file) is def. */
static int jint(const cJSON *o, const char *key, int def)
{
	double v = jnum(o, key, def);
	return v >= -2147483648.0 && v < 2147483648.0 ? (int)v : def;
}

int history_parse_time(const char *iso, time_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, s, end = 0;

	if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &s, &end) != 6 ||
	    iso[end] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 ||
	    h < 0 || mi < 0 || s < 0)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*out = timegm(&tm);
	return 0;
}

static void attempt_fill(struct attempt *a, const struct result_entry *e)
{
	const cJSON *doc = e->doc;
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
	const cJSON *hints = cJSON_GetObjectItemCaseSensitive(doc, "hints_used");
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(doc, "score");
	const cJSON *skills = cJSON_GetObjectItemCaseSensitive(sc, "skills");
	const cJSON *h;
	double conf;

	memset(a, 0, sizeof(*a));
	a->doc = doc;
	a->path = e->path;
	a->run_id = jstr(doc, "run_id");
	a->started_at = jstr(doc, "started_at");
	a->outcome = jstr(doc, "outcome");
	a->root_cause = jstr(doc, "root_cause");
	if (a->root_cause && !a->root_cause[0])
		a->root_cause = NULL;
	a->scenario = jstr(sc, "id");
	a->title = jstr(sc, "title");
	if (!a->title)
		a->title = a->scenario;
	a->runbook = jstr(sc, "runbook");
	a->skills = cJSON_IsArray(skills) ? skills : NULL;
	a->day = jint(sc, "day", 0);
	a->difficulty = jint(sc, "difficulty", 0);
	a->par_seconds = jnum(sc, "par_seconds", 0);
	a->time_limit_seconds = jnum(sc, "time_limit_seconds", 0);
	a->elapsed_seconds = jnum(doc, "elapsed_seconds", -1);
	a->time_to_fix_seconds = jnum(doc, "time_to_fix_seconds", -1);
	a->score = cJSON_IsNumber(score) ? score->valuedouble : -1;
	if (cJSON_IsArray(hints)) {
		cJSON_ArrayForEach(h, hints) {
			a->hints++;
			int p = jint(h, "penalty", 0);
			/* a hint costs 0..100 (the scenario format's bounds) */
			a->hint_penalty += p < 0 ? 0 : p > 100 ? 100 : p;
		}
	}
	conf = jnum(doc, "confidence", 0);
	a->confidence = conf >= 1 && conf <= 5 ? (int)conf : 0;
	a->autopilot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "autopilot"));
	if (history_parse_time(a->started_at, &a->when))
		a->when = 0;
	a->counted = a->score >= 0 && !a->autopilot && a->outcome &&
		     strcmp(a->outcome, "injection_failed") && strcmp(a->outcome, "error");
}

/* Grow *arr (of elem bytes) by one zeroed slot; NULL when out of memory. */
static void *grow(void *arr, size_t *n, size_t elem)
{
	char *p = realloc(*(void **)arr, (*n + 1) * elem);

	if (!p)
		return NULL;
	*(void **)arr = p;
	memset(p + *n * elem, 0, elem);
	return p + (*n)++ * elem;
}

struct bad_relay {
	results_bad_fn fn;
	void *opaque;
	size_t count;
};

static void relay_bad(const char *path, const char *why, void *opaque)
{
	struct bad_relay *r = opaque;

	r->count++;
	if (r->fn)
		r->fn(path, why, r->opaque);
}

int history_load(const char *dir, struct history *h, results_bad_fn bad, void *opaque,
		 struct cl_error *err)
{
	struct bad_relay relay = { bad, opaque, 0 };

	memset(h, 0, sizeof(*h));
	if (results_read_all(dir, &h->list, relay_bad, &relay, err))
		return -1;
	h->unreadable = relay.count;
	for (size_t i = 0; i < h->list.count; i++) {
		const struct result_entry *e = &h->list.items[i];
		const char *kind = results_kind(e->doc);

		if (!strcmp(kind, RESULTS_KIND_DRILL)) {
			struct attempt *a = grow(&h->attempts, &h->nattempts, sizeof(*a));
			if (!a)
				goto oom;
			attempt_fill(a, e);
		} else if (!strcmp(kind, RESULTS_KIND_ASSESSMENT)) {
			struct assessment *a = grow(&h->assessments, &h->nassessments, sizeof(*a));
			if (!a)
				goto oom;
			a->doc = e->doc;
			a->run_id = jstr(e->doc, "run_id");
			a->started_at = jstr(e->doc, "started_at");
			a->grades = cJSON_GetObjectItemCaseSensitive(e->doc, "grades");
			if (history_parse_time(a->started_at, &a->when))
				a->when = 0;
		} else if (!strcmp(kind, RESULTS_KIND_DAILY)) {
			struct daily *d = grow(&h->dailies, &h->ndailies, sizeof(*d));
			if (!d)
				goto oom;
			d->doc = e->doc;
			d->run_id = jstr(e->doc, "run_id");
			d->started_at = jstr(e->doc, "started_at");
			d->date = jstr(e->doc, "date");
			d->scenario = jstr(e->doc, "scenario");
			d->drill_run = jstr(e->doc, "drill_run_id");
			if (history_parse_time(d->started_at, &d->when))
				d->when = 0;
		} else if (!strcmp(kind, RESULTS_KIND_MOCK)) {
			const cJSON **m = grow(&h->mocks, &h->nmocks, sizeof(*m));
			if (!m)
				goto oom;
			*m = e->doc;
		}
	}
	return 0;
oom:
	history_release(h);
	return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
}

void history_release(struct history *h)
{
	results_list_release(&h->list);
	free(h->attempts);
	free(h->assessments);
	free(h->dailies);
	free(h->mocks);
	memset(h, 0, sizeof(*h));
}

static bool array_has(const cJSON *arr, const char *s)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
			return true;
	return false;
}

void history_warn_skipped(const char *path, const char *why, void *opaque)
{
	fprintf(opaque ? opaque : stderr, "chaoslab: skipping '%s': %s\n", path, why);
}

bool attempt_has_skill(const struct attempt *a, const char *skill)
{
	return a->skills && array_has(a->skills, skill);
}

const struct attempt *history_find_attempt(const struct history *h, const char *run_id)
{
	const struct attempt *hit = NULL;
	size_t l = strlen(run_id);

	if (!l)
		return NULL;
	for (size_t i = 0; i < h->nattempts; i++)
		if (!strcmp(h->attempts[i].run_id, run_id))
			return &h->attempts[i];
	for (size_t i = 0; i < h->nattempts; i++) {
		if (strncmp(h->attempts[i].run_id, run_id, l))
			continue;
		if (hit)
			return NULL; /* ambiguous prefix */
		hit = &h->attempts[i];
	}
	return hit;
}

double assessment_grade(const struct assessment *a, const char *skill, int *n)
{
	const cJSON *g;
	double sum = 0;
	int k = 0;

	cJSON_ArrayForEach(g, a->grades) {
		if (!array_has(cJSON_GetObjectItemCaseSensitive(g, "skills"), skill))
			continue;
		sum += jnum(g, "grade", 0);
		k++;
	}
	if (n)
		*n = k;
	return k ? sum / k : -1;
}

/* ---- the catalog ----------------------------------------------------------------------- */

static int strv_copy(struct strv *dst, const struct strv *src)
{
	dst->v = calloc(src->n + 1, sizeof(*dst->v));
	dst->n = 0;
	if (!dst->v)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = strdup(src->v[i]);
		if (!dst->v[i])
			return -1;
		dst->n++;
	}
	return 0;
}

void history_strv_release(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static void drill_release(struct catalog_drill *d)
{
	free(d->id);
	free(d->title);
	free(d->file);
	free(d->runbook_path);
	free(d->briefing);
	history_strv_release(&d->skills);
	history_strv_release(&d->quiz);
	history_strv_release(&d->lab);
	history_strv_release(&d->solution);
	history_strv_release(&d->hints);
}

static int drill_fill(struct catalog_drill *d, const struct scenario *s)
{
	struct strv hints = { NULL, 0 };
	int rc;

	d->id = strdup(s->id);
	d->title = strdup(s->title);
	d->file = strdup(s->file);
	d->runbook_path = strdup(s->runbook_path);
	d->briefing = strdup(s->briefing ? s->briefing : "");
	d->day = s->day;
	d->difficulty = s->difficulty;
	d->par_seconds = s->par_seconds;
	d->time_limit_seconds = s->time_limit_seconds;
	if (!d->id || !d->title || !d->file || !d->runbook_path || !d->briefing ||
	    strv_copy(&d->skills, &s->skills) || strv_copy(&d->quiz, &s->quiz) ||
	    strv_copy(&d->lab, &s->lab) || strv_copy(&d->solution, &s->solution))
		return -1;
	hints.v = calloc(s->nhints + 1, sizeof(*hints.v));
	if (!hints.v)
		return -1;
	for (size_t i = 0; i < s->nhints; i++)
		hints.v[hints.n++] = s->hints[i].text;
	rc = strv_copy(&d->hints, &hints);
	free(hints.v);
	return rc;
}

int catalog_load(struct catalog *c, bool check_support, catalog_bad_fn bad, void *opaque,
		 struct cl_error *err)
{
	size_t n;
	char **files;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	files = scenario_catalog_list(&n, err);
	if (!files)
		return -1;
	c->items = calloc(n + 1, sizeof(*c->items));
	if (!c->items) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct cl_error e;
		struct scenario *s = scenario_load(files[i], &e);
		struct catalog_drill *d = &c->items[c->count];
		char msg[1536];

		if (!s) {
			c->invalid++;
			if (bad)
				bad(files[i], cl_error_format(&e, msg, sizeof(msg)), opaque);
			continue;
		}
		c->count++;
		if (drill_fill(d, s)) {
			scenario_free(s);
			cl_error_set(err, CL_EXIT_USAGE, "out of memory");
			goto out;
		}
		if (check_support) {
			d->supported = scenario_supported(s, d->why, sizeof(d->why)) == 0;
			if (d->supported)
				d->why[0] = '\0';
		} else {
			d->supported = true;
			snprintf(d->why, sizeof(d->why), "not checked");
		}
		scenario_free(s);
	}
	rc = 0;
out:
	if (rc)
		catalog_release(c);
	scenario_catalog_free(files);
	return rc;
}

void catalog_release(struct catalog *c)
{
	for (size_t i = 0; i < c->count; i++)
		drill_release(&c->items[i]);
	free(c->items);
	memset(c, 0, sizeof(*c));
}

const struct catalog_drill *catalog_find(const struct catalog *c, const char *id)
{
	for (size_t i = 0; i < c->count; i++)
		if (!strcmp(c->items[i].id, id))
			return &c->items[i];
	return NULL;
}

bool catalog_drill_has_skill(const struct catalog_drill *d, const char *skill)
{
	for (size_t i = 0; i < d->skills.n; i++)
		if (!strcmp(d->skills.v[i], skill))
			return true;
	return false;
}

/* ---- runbooks -------------------------------------------------------------------------- */

/* The next line of text at *pos (without its newline) into a malloc'd
 * string; NULL at the end. */
static char *next_line(const char *text, size_t len, size_t *pos)
{
	size_t start = *pos, end = start;
	char *line;

	if (start >= len)
		return NULL;
	while (end < len && text[end] != '\n')
		end++;
	*pos = end < len ? end + 1 : end;
	line = strndup(text + start, end - start);
	return line;
}

static bool is_fence(const char *line)
{
	while (*line == ' ')
		line++;
	return !strncmp(line, "```", 3) || !strncmp(line, "~~~", 3);
}

/* Heading level of a Markdown line (1 for "# x", 2 for "## x"), 0 if none. */
static int heading_level(const char *line)
{
	int n = 0;

	while (line[n] == '#')
		n++;
	return n && line[n] == ' ' ? n : 0;
}

static char *trim_dup(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return strndup(s, len);
}

/* The raw body of section "## heading" of the file's text: [*start, *end). */
static int find_section(const char *text, size_t len, const char *heading, size_t *start,
			size_t *end)
{
	size_t pos = 0, at;
	bool fence = false, in = false;
	char *line;

	for (at = pos; (line = next_line(text, len, &pos)); at = pos) {
		int lvl = fence ? 0 : heading_level(line);

		if (is_fence(line))
			fence = !fence;
		if (in && (lvl == 1 || lvl == 2)) {
			*end = at;
			free(line);
			return 0;
		}
		if (!in && lvl == 2) {
			const char *h = line + 3;
			size_t hl = strlen(h);
			while (hl && isspace((unsigned char)h[hl - 1]))
				hl--;
			if (hl == strlen(heading) && !strncasecmp(h, heading, hl)) {
				in = true;
				*start = pos;
			}
		}
		free(line);
	}
	if (!in)
		return -1;
	*end = len;
	return 0;
}

static char *read_text(const char *path, size_t *len)
{
	struct cl_error e;

	if (!path)
		return NULL;
	return doc_read_file(path, len, &e);
}

char *runbook_section(const char *path, const char *heading)
{
	size_t len, start, end;
	char *text = read_text(path, &len), *out = NULL;

	if (!text)
		return NULL;
	if (!find_section(text, len, heading, &start, &end))
		out = trim_dup(text + start, end - start);
	free(text);
	if (out && !out[0]) {
		free(out);
		out = NULL;
	}
	return out;
}

/* "**prompt**" on a line of its own: the prompt, malloc'd; else NULL. */
static char *bold_line(const char *line)
{
	size_t l;

	while (*line == ' ')
		line++;
	l = strlen(line);
	while (l && isspace((unsigned char)line[l - 1]))
		l--;
	if (l < 5 || strncmp(line, "**", 2) || strncmp(line + l - 2, "**", 2))
		return NULL;
	return trim_dup(line + 2, l - 4);
}

/* Letters and digits only, lower case: how prompts are compared. */
static void squash(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++)
		if (isalnum((unsigned char)*s))
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

bool runbook_prompt_same(const char *a, const char *b)
{
	char x[512], y[512];

	squash(a, x, sizeof(x));
	squash(b, y, sizeof(y));
	return x[0] && !strcmp(x, y);
}

/* Walk the quiz section: fn(prompt, answer) for each prompt. */
static int quiz_walk(const char *path, int (*fn)(const char *prompt, const char *answer, void *),
		     void *opaque)
{
	size_t len, start, end, pos;
	char *text = read_text(path, &len), *line, *prompt = NULL;
	size_t ans_start = 0;
	int rc = 0;

	if (!text)
		return 0;
	if (find_section(text, len, "Quiz prompts", &start, &end)) {
		free(text);
		return 0;
	}
	pos = start;
	for (size_t at = pos; !rc && pos < end && (line = next_line(text, end, &pos)); at = pos) {
		char *p = bold_line(line);
		free(line);
		if (!p)
			continue;
		if (prompt) {
			char *ans = trim_dup(text + ans_start, at - ans_start);
			rc = ans ? fn(prompt, ans, opaque) : -1;
			free(ans);
			free(prompt);
		}
		prompt = p;
		ans_start = pos;
	}
	if (prompt && !rc) {
		char *ans = trim_dup(text + ans_start, end - ans_start);
		rc = ans ? fn(prompt, ans, opaque) : -1;
		free(ans);
	}
	free(prompt);
	free(text);
	return rc;
}

struct answer_find {
	char want[512];
	char *found;
};

static int answer_match(const char *prompt, const char *answer, void *opaque)
{
	struct answer_find *f = opaque;
	char got[512];

	squash(prompt, got, sizeof(got));
	if (f->found || strcmp(got, f->want))
		return 0;
	f->found = strdup(answer);
	return 0;
}

char *runbook_quiz_answer(const char *path, const char *prompt)
{
	struct answer_find f = { .found = NULL };

	squash(prompt, f.want, sizeof(f.want));
	if (!f.want[0])
		return NULL;
	quiz_walk(path, answer_match, &f);
	if (f.found && !f.found[0]) {
		free(f.found);
		return NULL;
	}
	return f.found;
}

static int prompt_add(const char *prompt, const char *answer, void *opaque)
{
	struct strv *out = opaque;
	char **nv = realloc(out->v, (out->n + 2) * sizeof(*nv));

	if (!nv)
		return -1;
	out->v = nv;
	out->v[out->n] = strdup(prompt);
	if (!out->v[out->n])
		return -1;
	out->v[++out->n] = NULL;
	return 0;
}

int runbook_quiz_prompts(const char *path, struct strv *out)
{
	return quiz_walk(path, prompt_add, out);
}
