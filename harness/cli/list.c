#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/support.h"
#include "core/scenario.h"

static const char list_usage[] = "chaoslab list [--json]";

int cmd_list(int argc, char **argv)
{
	bool json = false;
	struct cl_error err;
	size_t n;
	char **files;
	cJSON *arr = NULL;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s\n\nThe drill catalog (%s): id, curriculum day, skills,\n"
			       "difficulty, and whether it runs on this machine or why not.\n",
			       list_usage, scenario_catalog_dir());
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			return cli_usage(list_usage, "list: unknown option '%s'", argv[i]);
		}
	}
	files = scenario_catalog_list(&n, &err);
	if (!files)
		return cli_fail(&err);
	if (json)
		arr = cJSON_CreateArray();
	else
		printf("%-26s %4s %-4s %-36s %s\n", "ID", "DAY", "DIFF", "SKILLS", "HERE");
	for (size_t i = 0; i < n; i++) {
		char why[512] = "", skills[256] = "", msg[1536];
		struct scenario *s = scenario_load(files[i], &err);

		if (!s) {
			rc = CL_EXIT_USAGE;
			if (json) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "file", files[i]);
				cJSON_AddStringToObject(o, "error", cl_error_format(&err, msg, sizeof(msg)));
				cJSON_AddItemToArray(arr, o);
			} else {
				printf("%-26s invalid: %s\n", "?", cl_error_format(&err, msg, sizeof(msg)));
			}
			continue;
		}
		bool ok = scenario_supported(s, why, sizeof(why)) == 0;
		for (size_t k = 0; k < s->skills.n; k++) {
			size_t off = strlen(skills);
			snprintf(skills + off, sizeof(skills) - off, "%s%s", k ? "," : "", s->skills.v[k]);
		}
		if (json) {
			cJSON *o = cJSON_CreateObject(), *sk = cJSON_CreateArray();
			cJSON_AddStringToObject(o, "id", s->id);
			cJSON_AddStringToObject(o, "title", s->title);
			cJSON_AddNumberToObject(o, "day", s->day);
			for (size_t k = 0; k < s->skills.n; k++)
				cJSON_AddItemToArray(sk, cJSON_CreateString(s->skills.v[k]));
			cJSON_AddItemToObject(o, "skills", sk);
			cJSON_AddNumberToObject(o, "difficulty", s->difficulty);
			cJSON_AddNumberToObject(o, "par_seconds", s->par_seconds);
			cJSON_AddBoolToObject(o, "supported", ok);
			if (!ok)
				cJSON_AddStringToObject(o, "reason", why);
			cJSON_AddStringToObject(o, "file", files[i]);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("%-26s %4d %-4d %-36s %s%s\n", s->id, s->day, s->difficulty, skills,
			       ok ? "yes" : "no: ", ok ? "" : why);
		}
		scenario_free(s);
	}
	if (json) {
		char *t = cJSON_Print(arr);
		if (t)
			printf("%s\n", t);
		free(t);
		cJSON_Delete(arr);
	} else if (!n) {
		printf("(no scenarios in %s)\n", scenario_catalog_dir());
	}
	scenario_catalog_free(files);
	return rc;
}
