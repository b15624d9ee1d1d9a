#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drill/gaps.h"

static const char assess_usage[] =
	"chaoslab assess (--skill SKILL | --day N) [--grades G,G,...] [--results DIR]";

static void assess_help(void)
{
	printf("usage: %s\n\n"
	       "A self-assessment without a drill: the quiz prompts of the drills (their\n"
	       "scenario files and the Quiz prompts section of their runbooks) for one skill\n"
	       "or one curriculum day, one at a time. Answer each out loud or on paper, see\n"
	       "the runbook's answer, and grade yourself 1 (no idea) .. 5 (could teach it);\n"
	       "s skips a prompt. The grades are stored in the results directory and feed\n"
	       "chaoslab gaps (a mean grade G adds 4 x (3 - G) to the skill's weakness).\n\n"
	       "  --skill SKILL  the prompts of every drill that practises SKILL\n"
	       "  --day N        the prompts of the drills of curriculum day N\n"
	       "  --grades LIST  the grades, in prompt order, without asking (scripts; needed\n"
	       "                 when standard input is not a terminal)\n"
	       "  --results DIR  where the assessment goes ($CHAOSLAB_RESULTS, ./results)\n",
	       assess_usage);
}

struct prompt {
	const char *text;          /* owned by the catalog or by extra */
	const char *scenarios[16];
	size_t nscenarios;
	struct strv skills;        /* not owned strings */
	char *answer;
	int grade;                 /* 0: skipped */
};

struct session {
	struct prompt *p;
	size_t n;
	struct strv extra;         /* prompts read from runbooks */
};

static bool strv_has(const struct strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

static int strv_push(struct strv *sv, const char *s)
{
	char **nv;

	if (strv_has(sv, s))
		return 0;
	nv = realloc(sv->v, (sv->n + 2) * sizeof(*nv));
	if (!nv)
		return -1;
	sv->v = nv;
	sv->v[sv->n++] = (char *)s;
	sv->v[sv->n] = NULL;
	return 0;
}

/* Add prompt text of drill d (skills: only for_skill, or all of d's). */
static int prompt_add(struct session *ss, const char *text, const struct catalog_drill *d,
		      const char *for_skill)
{
	struct prompt *p = NULL;

	for (size_t i = 0; i < ss->n && !p; i++)
		if (runbook_prompt_same(ss->p[i].text, text))
			p = &ss->p[i];
	if (!p) {
		struct prompt *np = realloc(ss->p, (ss->n + 1) * sizeof(*np));
		if (!np)
			return -1;
		ss->p = np;
		p = &ss->p[ss->n++];
		memset(p, 0, sizeof(*p));
		p->text = text;
	}
	bool seen = false;
	for (size_t i = 0; i < p->nscenarios && !seen; i++)
		seen = !strcmp(p->scenarios[i], d->id);
	if (!seen && p->nscenarios < 16)
		p->scenarios[p->nscenarios++] = d->id;
	if (!p->answer)
		p->answer = runbook_quiz_answer(d->runbook_path, text);
	if (for_skill)
		return strv_push(&p->skills, for_skill);
	for (size_t i = 0; i < d->skills.n; i++)
		if (strv_push(&p->skills, d->skills.v[i]))
			return -1;
	return 0;
}

static void session_release(struct session *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		free(ss->p[i].skills.v);
		free(ss->p[i].answer);
	}
	free(ss->p);
	history_strv_release(&ss->extra);
}

static int parse_grades(const char *list, struct session *ss)
{
	const char *p = list;
	size_t i = 0;

	while (*p) {
		char *end;
		long g = strtol(p, &end, 10);
		if (end == p || g < 1 || g > 5 || (*end && *end != ','))
			return cli_usage(assess_usage,
					 "assess: --grades takes grades 1..5 separated by commas, "
					 "got '%s'",
					 list);
		if (i < ss->n)
			ss->p[i].grade = (int)g;
		i++;
		p = *end ? end + 1 : end;
	}
	if (i != ss->n)
		return cli_usage(assess_usage, "assess: %zu prompt%s, %zu grade%s in --grades", ss->n,
				 ss->n == 1 ? "" : "s", i, i == 1 ? "" : "s");
	return 0;
}

static void print_answer(const struct prompt *p)
{
	const char *a = p->answer;

	if (!a) {
		printf("   (the runbook has no answer to this one)\n");
		return;
	}
	printf("   The runbook's answer:\n");
	while (*a) {
		size_t n = strcspn(a, "\n");
		printf("     %.*s\n", (int)n, a);
		a += n + (a[n] == '\n');
	}
}

/* Ask each prompt on the terminal. Returns how many were graded, or -1 at
 * end of input before any grade. */
static int ask(struct session *ss)
{
	char line[64];
	int graded = 0;

	for (size_t i = 0; i < ss->n; i++) {
		struct prompt *p = &ss->p[i];
		printf("\n[%zu/%zu] %s\n", i + 1, ss->n, p->text);
		printf("   Answer it out loud or on paper, then press Enter to see the runbook's "
		       "answer. ");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return graded ? graded : -1;
		print_answer(p);
		for (;;) {
			printf("   Grade yourself 1 (no idea) .. 5 (could teach it), s to skip: ");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				return graded ? graded : -1;
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] >= '1' && line[0] <= '5' && !line[1]) {
				p->grade = line[0] - '0';
				graded++;
				break;
			}
			if (!strcmp(line, "s"))
				break;
			printf("   please answer 1-5, or s\n");
		}
	}
	return graded;
}

static cJSON *assessment_doc(const struct session *ss, const char *skill, int day, const char *id,
			     const char *started)
{
	cJSON *o = cJSON_CreateObject(), *scope, *grades, *skills;
	struct strv all = { NULL, 0 };
	double sum = 0;
	int n = 0;

	cJSON_AddNumberToObject(o, "schema", RESULTS_SCHEMA);
	cJSON_AddStringToObject(o, "kind", RESULTS_KIND_ASSESSMENT);
	cJSON_AddStringToObject(o, "run_id", id);
	cJSON_AddStringToObject(o, "chaoslab_version", CHAOSLAB_VERSION);
	cJSON_AddStringToObject(o, "started_at", started);
	scope = cJSON_AddObjectToObject(o, "scope");
	if (skill)
		cJSON_AddStringToObject(scope, "skill", skill);
	else
		cJSON_AddNumberToObject(scope, "day", day);
	skills = cJSON_AddArrayToObject(o, "skills");
	grades = cJSON_AddArrayToObject(o, "grades");
	for (size_t i = 0; i < ss->n; i++) {
		const struct prompt *p = &ss->p[i];
		cJSON *g, *a;
		if (!p->grade)
			continue;
		g = cJSON_CreateObject();
		cJSON_AddStringToObject(g, "prompt", p->text);
		a = cJSON_AddArrayToObject(g, "scenarios");
		for (size_t k = 0; k < p->nscenarios; k++)
			cJSON_AddItemToArray(a, cJSON_CreateString(p->scenarios[k]));
		a = cJSON_AddArrayToObject(g, "skills");
		for (size_t k = 0; k < p->skills.n; k++) {
			cJSON_AddItemToArray(a, cJSON_CreateString(p->skills.v[k]));
			strv_push(&all, p->skills.v[k]);
		}
		cJSON_AddNumberToObject(g, "grade", p->grade);
		cJSON_AddItemToArray(grades, g);
		sum += p->grade;
		n++;
	}
	for (size_t k = 0; k < all.n; k++)
		cJSON_AddItemToArray(skills, cJSON_CreateString(all.v[k]));
	free(all.v);
	cJSON_AddNumberToObject(o, "mean", n ? (double)(long)(sum / n * 100 + 0.5) / 100 : 0);
	return o;
}

/* Collect the prompts of the drills in scope. */
static int collect(struct session *ss, const struct catalog *c, const char *skill, int day)
{
	for (size_t i = 0; i < c->count; i++) {
		const struct catalog_drill *d = &c->items[i];
		size_t before = ss->extra.n;
		if (skill ? !catalog_drill_has_skill(d, skill) : d->day != day)
			continue;
		for (size_t q = 0; q < d->quiz.n; q++)
			if (prompt_add(ss, d->quiz.v[q], d, skill))
				return -1;
		if (runbook_quiz_prompts(d->runbook_path, &ss->extra))
			return -1;
		for (size_t q = before; q < ss->extra.n; q++)
			if (prompt_add(ss, ss->extra.v[q], d, skill))
				return -1;
	}
	return 0;
}

/* The skill named on the command line must be one the catalog knows. */
static int check_skill(const struct catalog *c, const char *skill)
{
	const char *names[512];
	size_t n = 0;

	for (size_t i = 0; i < c->count; i++)
		for (size_t k = 0; k < c->items[i].skills.n; k++) {
			bool dup = false;
			if (!strcmp(c->items[i].skills.v[k], skill))
				return 0;
			for (size_t j = 0; j < n && !dup; j++)
				dup = !strcmp(names[j], c->items[i].skills.v[k]);
			if (!dup && n < 511)
				names[n++] = c->items[i].skills.v[k];
		}
	names[n] = NULL;
	const char *dym = cl_did_you_mean(skill, names, n);
	if (dym)
		fprintf(stderr, "chaoslab: no drill in the catalog practises '%s' (did you mean "
				"'%s'?)\n",
			skill, dym);
	else
		fprintf(stderr, "chaoslab: no drill in the catalog practises '%s' (chaoslab list "
				"shows the skills)\n",
			skill);
	return CL_EXIT_USAGE;
}

/* After storing: where the assessed skills now stand. */
static void show_standing(const char *dir, const struct session *ss)
{
	struct practice p;
	struct cl_error err;

	if (practice_load(&p, dir, false, time(NULL), NULL, &err))
		return;
	printf("where these skills stand now (chaoslab gaps):\n");
	for (size_t i = 0; i < p.gaps.count; i++) {
		const struct gap *g = &p.gaps.items[i];
		bool mine = false;
		for (size_t k = 0; k < ss->n && !mine; k++)
			mine = ss->p[k].grade && strv_has(&ss->p[k].skills, g->skill);
		if (mine)
			printf("  %-22s weakness %5.1f, rank %zu of %zu\n", g->skill, g->weakness, i + 1,
			       p.gaps.count);
	}
	practice_release(&p);
}

int cmd_assess(int argc, char **argv)
{
	const char *skill = NULL, *grades = NULL, *dir = NULL;
	int day = 0, rc = 0, graded = 0;
	struct catalog c;
	struct session ss = { 0 };
	struct cl_error err;
	char id[160], started[32], path[1024];
	cJSON *doc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			assess_help();
			return 0;
		} else if (!strcmp(a, "--skill") || !strcmp(a, "--day") || !strcmp(a, "--grades") ||
			   !strcmp(a, "--results")) {
			const char *v;
			if (i + 1 >= argc || !argv[i + 1][0])
				return cli_usage(assess_usage, "assess: %s needs a value", a);
			v = argv[++i];
			if (a[2] == 's') {
				skill = v;
			} else if (a[2] == 'g') {
				grades = v;
			} else if (a[2] == 'r') {
				dir = v;
			} else {
				char *end;
				long d = strtol(v, &end, 10);
				if (*end || d < 1 || d > 365)
					return cli_usage(assess_usage,
							 "assess: --day takes a curriculum day, got '%s'",
							 v);
				day = (int)d;
			}
		} else {
			return cli_usage(assess_usage, "assess: unknown argument '%s'", a);
		}
	}
	if (!skill == !day)
		return cli_usage(assess_usage, "assess: give one of --skill SKILL or --day N");
	cl_error_clear(&err);
	if (catalog_load(&c, false, history_warn_skipped, stderr, &err))
		return cli_fail(&err);
	if (skill && (rc = check_skill(&c, skill)))
		goto out;
	if (collect(&ss, &c, skill, day)) {
		cl_error_set(&err, CL_EXIT_USAGE, "out of memory");
		rc = cli_fail(&err);
		goto out;
	}
	if (!ss.n) {
		if (skill)
			fprintf(stderr, "chaoslab: the drills for '%s' have no quiz prompts\n", skill);
		else
			fprintf(stderr, "chaoslab: no drill of curriculum day %d in the catalog has "
					"quiz prompts\n",
				day);
		rc = CL_EXIT_USAGE;
		goto out;
	}
	if (skill)
		printf("Self-assessment of %s: %zu prompt%s.\n", skill, ss.n, ss.n == 1 ? "" : "s");
	else
		printf("Self-assessment of curriculum day %d: %zu prompt%s.\n", day, ss.n,
		       ss.n == 1 ? "" : "s");
	if (grades) {
		if ((rc = parse_grades(grades, &ss)))
			goto out;
		for (size_t i = 0; i < ss.n; i++)
			printf("\n[%zu/%zu] %s\n   graded %d/5\n", i + 1, ss.n, ss.p[i].text,
			       ss.p[i].grade);
		graded = (int)ss.n;
	} else if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "chaoslab: standard input is not a terminal: give the %zu grade%s "
				"with --grades\n",
			ss.n, ss.n == 1 ? "" : "s");
		rc = CL_EXIT_USAGE;
		goto out;
	} else if ((graded = ask(&ss)) <= 0) {
		printf("\nnothing graded, nothing stored\n");
		goto out;
	}
	results_new_id("assess", time(NULL), id, sizeof(id), started, sizeof(started));
	doc = assessment_doc(&ss, skill, day, id, started);
	if (!doc || results_write(results_dir(dir), id, doc, path, sizeof(path), &err)) {
		if (!doc)
			cl_error_set(&err, CL_EXIT_USAGE, "out of memory");
		rc = cli_fail(&err);
	} else {
		printf("\n%d prompt%s graded, mean %.1f/5; stored: %s\n", graded,
		       graded == 1 ? "" : "s",
		       cJSON_GetObjectItemCaseSensitive(doc, "mean")->valuedouble, path);
		show_standing(results_dir(dir), &ss);
	}
	cJSON_Delete(doc);
out:
	session_release(&ss);
	catalog_release(&c);
	return rc;
}
