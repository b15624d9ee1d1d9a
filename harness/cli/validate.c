#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/scenario.h"

static const char validate_usage[] = "chaoslab validate [--quiet] FILE...";

int cmd_validate(int argc, char **argv)
{
	bool quiet = false;
	int files = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s\n\nLoad and fully check each scenario file. Each error names\n"
			       "file:line:column and the key path. Exit 0 if all are valid, else 2.\n",
			       validate_usage);
			return 0;
		}
		if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = true;
			continue;
		}
	}
	for (int i = 1; i < argc; i++) {
		struct cl_error err;
		struct scenario *s;

		if (argv[i][0] == '-' && argv[i][1])
			continue;
		files++;
		s = scenario_load(argv[i], &err);
		if (!s) {
			cli_fail(&err);
			bad++;
			continue;
		}
		if (!quiet)
			printf("%s: ok (%s)\n", argv[i], s->id);
		scenario_free(s);
	}
	if (!files)
		return cli_usage(validate_usage, "validate: no files given");
	return bad ? CL_EXIT_USAGE : CL_EXIT_OK;
}
