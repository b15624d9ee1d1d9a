#include <stdio.h>

#include "cli/cli.h"

/* Replaced by the full feature report (see harness/sys/features.h). */
int cmd_doctor(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "chaoslab: doctor is not built yet\n");
	return 2;
}
