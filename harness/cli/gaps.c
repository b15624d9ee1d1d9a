#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "drill/gaps.h"

static const char gaps_usage[] = "chaoslab gaps [--json] [--all] [--as-of DATE] [--results DIR]";

static void gaps_help(void)
{
	printf("usage: %s\n\n"
	       "Your five weakest skills, from the results history: per skill a\n"
	       "recency-weighted score over your latest attempts, time against par, hints\n"
	       "used, over-confidence (confidence high, score low), your self-assessments\n"
	       "(chaoslab assess) and how long ago you practised; skills of the catalog you\n"
	       "never practised rank too. Each comes with its evidence and the drill to do\n"
	       "next. Autopilot runs and runs whose fault never landed do not count.\n\n"
	       "  --json          the same as JSON (the formula's terms included)\n"
	       "  --all           every skill, not only the five weakest\n"
	       "  --as-of DATE    rank as if it were DATE (YYYY-MM-DD, 00:00 UTC, or\n"
	       "                  YYYY-MM-DDTHH:MM:SSZ): reproducible output\n"
	       "  --results DIR   the history ($CHAOSLAB_RESULTS, ./results)\n\n"
	       "The formula, with a worked example: docs/growth.md.\n",
	       gaps_usage);
}

static int parse_as_of(const char *arg, time_t *out)
{
	char iso[40];

	if (strlen(arg) == 10) {
		snprintf(iso, sizeof(iso), "%sT00:00:00Z", arg);
		return history_parse_time(iso, out);
	}
	return history_parse_time(arg, out);
}

static void print_gap(size_t rank, const struct gap *g)
{
	char ev[4096], *line, *save = NULL;

	printf("%zu. %s — weakness %.1f%s\n", rank, g->skill, g->weakness,
	       g->practised ? "" : " (never practised)");
	gap_describe(g, ev, sizeof(ev));
	for (line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("   %s\n", line);
	if (!g->next)
		printf("   next: no drill in the catalog practises %s\n", g->skill);
	else if (g->next->supported)
		printf("   next: chaoslab drill %s — %s\n", g->next->id, g->next_reason);
	else
		printf("   next: %s — does not run on this machine: %s\n", g->next->id, g->next->why);
}

int cmd_gaps(int argc, char **argv)
{
	const char *dir = NULL;
	bool json = false, all = false;
	time_t now = time(NULL);
	struct practice p;
	struct cl_error err;
	size_t limit;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			gaps_help();
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--all")) {
			all = true;
		} else if (!strcmp(a, "--results") || !strcmp(a, "--as-of")) {
			if (i + 1 >= argc)
				return cli_usage(gaps_usage, "gaps: %s needs a value", a);
			if (a[2] == 'r')
				dir = argv[++i];
			else if (parse_as_of(argv[++i], &now))
				return cli_usage(gaps_usage, "gaps: --as-of takes YYYY-MM-DD, got '%s'",
						 argv[i]);
		} else if (!strncmp(a, "--results=", 10)) {
			dir = a + 10;
		} else if (!strncmp(a, "--as-of=", 8)) {
			if (parse_as_of(a + 8, &now))
				return cli_usage(gaps_usage, "gaps: --as-of takes YYYY-MM-DD, got '%s'",
						 a + 8);
		} else {
			return cli_usage(gaps_usage, "gaps: unknown argument '%s'", a);
		}
	}
	cl_error_clear(&err);
	dir = results_dir(dir);
	if (practice_load(&p, dir, true, now, stderr, &err))
		return cli_fail(&err);
	limit = all ? p.gaps.count : GAPS_LIST;
	if (json) {
		cJSON *doc = gaps_json(&p.gaps, limit);
		char *text;
		cJSON_AddStringToObject(doc, "results", dir);
		text = doc ? cJSON_Print(doc) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(doc);
	} else {
		char asof[16];
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(asof, sizeof(asof), "%Y-%m-%d", &tm);
		printf("%s, as of %s (%d counted attempt%s in %s):\n\n",
		       all ? "Every skill, weakest first" : "The gaps list: your five weakest skills",
		       asof, p.gaps.counted, p.gaps.counted == 1 ? "" : "s", dir);
		for (size_t i = 0; i < p.gaps.count && i < limit; i++)
			print_gap(i + 1, &p.gaps.items[i]);
		if (!p.gaps.count)
			printf("(no skills: the catalog is empty and there is no history)\n");
	}
	practice_release(&p);
	return 0;
}
