#include "drill/prom.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void prom_label_value(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample with one or two labels (l2 may be NULL). */
static void sample(FILE *out, const char *name, const char *l1, const char *v1, const char *l2,
		   const char *v2, double value)
{
	fprintf(out, "%s", name);
	if (l1) {
		fprintf(out, "{%s=\"", l1);
		prom_label_value(out, v1);
		fputc('"', out);
		if (l2) {
			fprintf(out, ",%s=\"", l2);
			prom_label_value(out, v2);
			fputc('"', out);
		}
		fputc('}', out);
	}
	fprintf(out, " %.10g\n", value);
}

/* Per scenario with a counted attempt: the latest one and how many. */
struct latest {
	const struct attempt *a;
	int count;
};

static int by_scenario(const void *x, const void *y)
{
	const struct latest *a = x, *b = y;
	return strcmp(a->a->scenario, b->a->scenario);
}

static struct latest *latest_per_scenario(const struct history *h, size_t *n)
{
	struct latest *l = calloc(h->nattempts + 1, sizeof(*l));

	*n = 0;
	if (!l)
		return NULL;
	for (size_t i = 0; i < h->nattempts; i++) {
		const struct attempt *a = &h->attempts[i];
		size_t k;
		if (!a->counted || !a->scenario)
			continue;
		for (k = 0; k < *n && strcmp(l[k].a->scenario, a->scenario); k++)
			;
		if (k == *n)
			(*n)++;
		l[k].a = a; /* oldest first: the last one seen is the latest */
		l[k].count++;
	}
	qsort(l, *n, sizeof(*l), by_scenario);
	return l;
}

/* Whether item's string comes earlier in arr too: a series only once. */
static bool seen_before(const cJSON *arr, const cJSON *item)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		if (it == item)
			return false;
		if (cJSON_IsString(it) && !strcmp(it->valuestring, item->valuestring))
			return true;
	}
	return false;
}

static int by_skill(const void *x, const void *y)
{
	return strcmp((*(const struct gap *const *)x)->skill, (*(const struct gap *const *)y)->skill);
}

int prom_write(FILE *out, const struct history *h, const struct gaps *g, time_t now)
{
	size_t n;
	struct latest *l = latest_per_scenario(h, &n);
	const struct gap **sk = calloc(g->count + 1, sizeof(*sk));
	const cJSON *s;

	if (!l || !sk) {
		free(l);
		free(sk);
		return -1;
	}
	family(out, "chaoslab_drill_score", "gauge",
	       "Score (0-100) of the latest counted attempt of each drill, once per skill it "
	       "practises.");
	for (size_t i = 0; i < n; i++)
		if (l[i].a->skills)
			cJSON_ArrayForEach(s, l[i].a->skills)
				if (cJSON_IsString(s) && !seen_before(l[i].a->skills, s))
					sample(out, "chaoslab_drill_score", "scenario",
					       l[i].a->scenario, "skill", s->valuestring,
					       l[i].a->score);
	family(out, "chaoslab_drill_hints_used", "gauge",
	       "Hints taken in the latest counted attempt of each drill.");
	for (size_t i = 0; i < n; i++)
		sample(out, "chaoslab_drill_hints_used", "scenario", l[i].a->scenario, NULL, NULL,
		       l[i].a->hints);
	family(out, "chaoslab_drill_time_to_fix_seconds", "gauge",
	       "Seconds from the confirmed symptom to the fix, latest counted attempt, when it "
	       "was fixed.");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].a->outcome, "fixed") && l[i].a->time_to_fix_seconds >= 0)
			sample(out, "chaoslab_drill_time_to_fix_seconds", "scenario",
			       l[i].a->scenario, NULL, NULL, l[i].a->time_to_fix_seconds);
	family(out, "chaoslab_drill_par_seconds", "gauge",
	       "Par of each drill: full marks when fixed within it.");
	for (size_t i = 0; i < n; i++)
		if (l[i].a->par_seconds > 0)
			sample(out, "chaoslab_drill_par_seconds", "scenario", l[i].a->scenario, NULL,
			       NULL, l[i].a->par_seconds);
	family(out, "chaoslab_drill_last_attempt_timestamp_seconds", "gauge",
	       "Unix time the latest counted attempt of each drill started.");
	for (size_t i = 0; i < n; i++)
		sample(out, "chaoslab_drill_last_attempt_timestamp_seconds", "scenario",
		       l[i].a->scenario, NULL, NULL, (double)l[i].a->when);
	family(out, "chaoslab_drill_attempts_total", "counter",
	       "Counted attempts of each drill (not autopilot, the fault landed).");
	for (size_t i = 0; i < n; i++)
		sample(out, "chaoslab_drill_attempts_total", "scenario", l[i].a->scenario, NULL,
		       NULL, l[i].count);

	for (size_t i = 0; i < g->count; i++)
		sk[i] = &g->items[i];
	qsort(sk, g->count, sizeof(*sk), by_skill);
	family(out, "chaoslab_skill_weakness", "gauge",
	       "Weakness of each skill, 0 (strong) to 100 (weak): the gaps formula.");
	for (size_t i = 0; i < g->count; i++)
		sample(out, "chaoslab_skill_weakness", "skill", sk[i]->skill, NULL, NULL,
		       sk[i]->weakness);
	family(out, "chaoslab_skill_gap_rank", "gauge",
	       "Rank (1 = weakest) of the skills on the gaps list.");
	for (size_t i = 0; i < g->count; i++) {
		size_t rank = (size_t)(sk[i] - g->items) + 1;
		if (rank <= GAPS_LIST)
			sample(out, "chaoslab_skill_gap_rank", "skill", sk[i]->skill, NULL, NULL,
			       (double)rank);
	}
	family(out, "chaoslab_results_unreadable_files", "gauge",
	       "Files in the results directory that could not be read and were skipped.");
	sample(out, "chaoslab_results_unreadable_files", NULL, NULL, NULL, NULL,
	       (double)h->unreadable);
	family(out, "chaoslab_textfile_generated_timestamp_seconds", "gauge",
	       "Unix time this file was written.");
	sample(out, "chaoslab_textfile_generated_timestamp_seconds", NULL, NULL, NULL, NULL,
	       (double)now);
	free(l);
	free(sk);
	return ferror(out) ? -1 : 0;
}
