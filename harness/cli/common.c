#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_fail(const struct cl_error *err)
{
	char buf[1536];

	fprintf(stderr, "chaoslab: %s\n", cl_error_format(err, buf, sizeof(buf)));
	return err->code ? err->code : CL_EXIT_USAGE;
}

int cli_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chaoslab: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage);
	return CL_EXIT_USAGE;
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

bool cli_color(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && !(nc && *nc);
}
