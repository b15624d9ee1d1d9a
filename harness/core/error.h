/* Errors: library code never prints. It fills a struct cl_error and returns -1;
 * the CLI prints the error once with cl_error_format().
 *
 * An error may carry a source location (file:line:column) and a key path
 * ("inject[0].with.load_percent") so a problem found long after parsing still
 * points at the text that caused it. */
#ifndef CHAOSLAB_ERROR_H
#define CHAOSLAB_ERROR_H

#include <stddef.h>

/* Exit codes, documented in README and docs/chaoslab.1. */
enum cl_exit {
	CL_EXIT_OK = 0,          /* fixed / ok */
	CL_EXIT_NOT_FIXED = 1,   /* drill ended without a fix */
	CL_EXIT_USAGE = 2,       /* usage or scenario error */
	CL_EXIT_PRIVILEGE = 3,   /* missing privilege or kernel feature */
	CL_EXIT_NO_SYMPTOM = 4,  /* injection did not produce the symptom */
	CL_EXIT_REVERT = 5,      /* revert failed: run `chaoslab recover` */
};

/* A position in a source file; line and column are 1-based, 0 = unknown. */
struct cl_mark {
	int line;
	int column;
};

struct cl_error {
	int code;           /* an enum cl_exit value, CL_EXIT_USAGE by default */
	int errnum;         /* errno at the failure, 0 if none */
	char file[256];     /* source file or "" */
	struct cl_mark mark;
	char path[160];     /* key path or "" */
	char msg[768];      /* lower case, no full stop */
};

/* Clear an error to "no error". */
void cl_error_clear(struct cl_error *err);

/* Set a plain message; returns -1 so callers can `return cl_error_set(...)`.
 * err may be NULL (the message is then dropped). */
int cl_error_set(struct cl_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like cl_error_set, with errno appended as ": strerror(errnum)". */
int cl_error_errno(struct cl_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Set a message located in a file at a key path. file, mark and path may be
 * NULL. */
int cl_error_at(struct cl_error *err, const char *file, const struct cl_mark *mark,
		const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Prefix the existing message with "prefix: " (keeps location). */
void cl_error_prefix(struct cl_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Render as "file:line:col: path: msg" into buf (always NUL-terminated). */
const char *cl_error_format(const struct cl_error *err, char *buf, size_t size);

/* Damerau-Levenshtein-based suggestion: the candidate closest to word if it is
 * close enough to be a plausible typo, else NULL. candidates is NULL-terminated
 * or bounded by n (n = (size_t)-1 means NULL-terminated). */
const char *cl_did_you_mean(const char *word, const char *const *candidates, size_t n);

#endif
