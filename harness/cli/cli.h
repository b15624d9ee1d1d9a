/* Subcommands. Each lives in harness/cli/<name>.c as
 *     int cmd_<name>(int argc, char **argv);
 * and returns the process exit code (enum cl_exit). To add a command: write
 * the file, declare it here, add a line to the table in harness/main.c.
 * argv[0] is the subcommand name; every command answers --help. */
#ifndef CHAOSLAB_CLI_H
#define CHAOSLAB_CLI_H

#include <stdbool.h>

#include "core/error.h"

int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_drill(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_hint(int argc, char **argv);
int cmd_giveup(int argc, char **argv);
int cmd_lab(int argc, char **argv);
int cmd_gaps(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_postmortem(int argc, char **argv);
int cmd_assess(int argc, char **argv);
int cmd_daily(int argc, char **argv);
int cmd_mock(int argc, char **argv);

/* Print an error once, as "chaoslab: file:line:col: path: msg", to stderr;
 * returns err->code (or CL_EXIT_USAGE if unset). */
int cli_fail(const struct cl_error *err);

/* Print a usage error ("chaoslab CMD: msg") plus the usage line; returns 2. */
int cli_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The options of every command that runs drills (drill, daily, mock):
 * --autopilot[=S], --no-ask, --plain, --results DIR. Takes argv[*i] (and
 * its value, advancing *i) into o and *plain: 1 when taken, 0 when not one
 * of them, -1 after printing a usage error ("CMD: ..." and usage). */
struct drill_opts;
int cli_drill_option(int argc, char **argv, int *i, struct drill_opts *o, bool *plain,
		     const char *cmd, const char *usage);

/* True if argv[i] is -h or --help. */
bool cli_is_help(const char *arg);

/* Colour on stdout: a TTY and NO_COLOR unset. */
bool cli_color(void);

#endif
