#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/support.h"
#include "core/scenario.h"

static const char show_usage[] =
	"chaoslab show [--json] (ID | FILE | injector NAME | verifier NAME | types)";

static void spec_text(const struct param_spec *spec)
{
	char tb[256];

	if (!spec || !spec->name) {
		printf("    (no parameters)\n");
		return;
	}
	for (const struct param_spec *p = spec; p->name; p++) {
		printf("    %-22s %-10s", p->name, param_type_describe(p, tb, sizeof(tb)));
		if (p->min != 0 || p->max != 0)
			printf(" %g..%g", p->min, p->max);
		if (p->required)
			printf(" required");
		if (p->def)
			printf(" default %s", p->def);
		printf("\n        %s\n", p->help ? p->help : "");
	}
}

static cJSON *spec_json(const struct param_spec *spec)
{
	cJSON *arr = cJSON_CreateArray();
	char tb[256];

	for (const struct param_spec *p = spec; p && p->name; p++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "type", param_type_describe(p, tb, sizeof(tb)));
		cJSON_AddBoolToObject(o, "required", p->required);
		if (p->def)
			cJSON_AddStringToObject(o, "default", p->def);
		if (p->min != 0 || p->max != 0) {
			cJSON_AddNumberToObject(o, "min", p->min);
			cJSON_AddNumberToObject(o, "max", p->max);
		}
		cJSON_AddStringToObject(o, "help", p->help ? p->help : "");
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static int print_json(cJSON *o)
{
	char *t = cJSON_Print(o);
	if (t)
		printf("%s\n", t);
	free(t);
	cJSON_Delete(o);
	return 0;
}

static int show_types(bool json)
{
	const struct injector *in;
	const struct verifier *v;
	cJSON *o = json ? cJSON_CreateObject() : NULL;
	cJSON *ia = json ? cJSON_AddArrayToObject(o, "injectors") : NULL;
	cJSON *va = json ? cJSON_AddArrayToObject(o, "verifiers") : NULL;

	if (!json)
		printf("injectors:\n");
	for (size_t i = 0; (in = injector_at(i)); i++) {
		if (json) {
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "name", in->name);
			cJSON_AddStringToObject(x, "summary", in->summary);
			cJSON_AddItemToObject(x, "params", spec_json(in->params));
			cJSON_AddItemToArray(ia, x);
		} else {
			printf("  %-18s %s\n", in->name, in->summary);
		}
	}
	if (!json)
		printf("verifiers:\n");
	for (size_t i = 0; (v = verifier_at(i)); i++) {
		if (json) {
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "name", v->name);
			cJSON_AddStringToObject(x, "summary", v->summary);
			cJSON_AddItemToObject(x, "params", spec_json(v->params));
			cJSON_AddItemToArray(va, x);
		} else {
			printf("  %-18s %s\n", v->name, v->summary);
		}
	}
	return json ? print_json(o) : 0;
}

static void steps_text(const char *title, const struct step *st, size_t n)
{
	if (!n)
		return;
	printf("%s:\n", title);
	for (size_t i = 0; i < n; i++) {
		printf("  - %s%s%s", st[i].type, st[i].id ? " id=" : "", st[i].id ? st[i].id : "");
		for (size_t k = 0; k < st[i].params.count; k++) {
			const struct param_value *v = &st[i].params.values[k];
			if (!v->set)
				continue;
			if (v->s)
				printf(" %s=%s", v->spec->name, v->s);
			else if (v->spec->type == PARAM_BOOL)
				printf(" %s=%s", v->spec->name, v->b ? "true" : "false");
			else if (v->spec->type == PARAM_INT)
				printf(" %s=%lld", v->spec->name, v->i);
			else
				printf(" %s=%g", v->spec->name, v->d);
		}
		if (st[i].kind == STEP_FIXED_WHEN)
			printf(" (weight %g)", st[i].weight);
		if (st[i].kind == STEP_GUARD)
			printf(" (penalty %d: %s)", st[i].penalty, st[i].message);
		printf("\n");
	}
}

static int show_scenario(const char *name, bool json)
{
	char path[1024], why[512] = "";
	struct cl_error err;
	struct scenario *s;

	if (scenario_resolve(name, path, sizeof(path), &err))
		return cli_fail(&err);
	s = scenario_load(path, &err);
	if (!s)
		return cli_fail(&err);
	bool ok = scenario_supported(s, why, sizeof(why)) == 0;
	if (json) {
		cJSON *o = cJSON_CreateObject(), *a;
		cJSON_AddStringToObject(o, "id", s->id);
		cJSON_AddStringToObject(o, "title", s->title);
		cJSON_AddNumberToObject(o, "day", s->day);
		cJSON_AddNumberToObject(o, "difficulty", s->difficulty);
		cJSON_AddNumberToObject(o, "par_seconds", s->par_seconds);
		cJSON_AddNumberToObject(o, "time_limit_seconds", s->time_limit_seconds);
		a = cJSON_AddArrayToObject(o, "skills");
		for (size_t i = 0; i < s->skills.n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(s->skills.v[i]));
		cJSON_AddStringToObject(o, "briefing", s->briefing);
		cJSON_AddStringToObject(o, "runbook", s->runbook_path);
		a = cJSON_AddArrayToObject(o, "quiz");
		for (size_t i = 0; i < s->quiz.n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(s->quiz.v[i]));
		cJSON_AddBoolToObject(o, "supported", ok);
		if (!ok)
			cJSON_AddStringToObject(o, "reason", why);
		scenario_free(s);
		return print_json(o);
	}
	printf("%s — %s\n", s->id, s->title);
	printf("day %d, difficulty %d/5, par %ds, limit %ds\n", s->day, s->difficulty,
	       s->par_seconds, s->time_limit_seconds);
	printf("skills:");
	for (size_t i = 0; i < s->skills.n; i++)
		printf(" %s", s->skills.v[i]);
	printf("\nruns here: %s%s\n\nbriefing:\n  %s\n", ok ? "yes" : "no: ", ok ? "" : why,
	       s->briefing);
	steps_text("inject", s->inject, s->ninject);
	steps_text("symptoms", s->symptoms, s->nsymptoms);
	steps_text("fixed when", s->fixed_when, s->nfixed_when);
	steps_text("guards", s->guards, s->nguards);
	printf("hints: %zu\nrunbook: %s\n", s->nhints, s->runbook_path);
	scenario_free(s);
	return 0;
}

int cmd_show(int argc, char **argv)
{
	bool json = false;
	const char *args[3];
	int na = 0;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s\n\nA drill's briefing, steps and parameters; or an injector's or\n"
			       "verifier's parameter table; or every type ('types').\n",
			       show_usage);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-') {
			return cli_usage(show_usage, "show: unknown option '%s'", argv[i]);
		} else if (na < 3) {
			args[na++] = argv[i];
		}
	}
	if (na == 1 && !strcmp(args[0], "types"))
		return show_types(json);
	if (na == 2 && (!strcmp(args[0], "injector") || !strcmp(args[0], "verifier"))) {
		bool inj = args[0][0] == 'i';
		const struct injector *in = inj ? injector_find(args[1]) : NULL;
		const struct verifier *v = inj ? NULL : verifier_find(args[1]);
		if (!in && !v) {
			const char *names[128];
			if (inj)
				injector_names(names, 128);
			else
				verifier_names(names, 128);
			const char *dym = cl_did_you_mean(args[1], names, (size_t)-1);
			fprintf(stderr, "chaoslab: unknown %s '%s'%s%s%s\n", args[0], args[1],
				dym ? " (did you mean '" : "", dym ? dym : "", dym ? "'?)" : "");
			return CL_EXIT_USAGE;
		}
		const char *name = in ? in->name : v->name;
		const char *summary = in ? in->summary : v->summary;
		const struct param_spec *spec = in ? in->params : v->params;
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", name);
			cJSON_AddStringToObject(o, "summary", summary);
			cJSON_AddItemToObject(o, "params", spec_json(spec));
			return print_json(o);
		}
		printf("%s %s — %s\nparameters:\n", args[0], name, summary);
		spec_text(spec);
		return 0;
	}
	if (na != 1)
		return cli_usage(show_usage, "show: expected one drill id or file");
	return show_scenario(args[0], json);
}
