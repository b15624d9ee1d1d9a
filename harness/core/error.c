#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl_error_clear(struct cl_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static void vset(struct cl_error *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int cl_error_set(struct cl_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	cl_error_clear(err);
	err->code = code;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

int cl_error_errno(struct cl_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (!err)
		return -1;
	cl_error_clear(err);
	err->code = code;
	err->errnum = errnum;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	if (errnum && len < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
	return -1;
}

int cl_error_at(struct cl_error *err, const char *file, const struct cl_mark *mark,
		const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	cl_error_clear(err);
	err->code = CL_EXIT_USAGE;
	if (file)
		snprintf(err->file, sizeof(err->file), "%s", file);
	if (mark)
		err->mark = *mark;
	if (path)
		snprintf(err->path, sizeof(err->path), "%s", path);
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

void cl_error_prefix(struct cl_error *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", pre, old);
}

/* Append s to buf at *off, control characters escaped (a message quotes the
 * user's text, and must stay one line). Always NUL-terminates. */
static void append_escaped(char *buf, size_t size, size_t *off, const char *s)
{
	char esc[8];

	for (; *s && *off + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;
		const char *out = esc;

		if (c == '\n')
			out = "\\n";
		else if (c == '\t')
			out = "\\t";
		else if (c == '\r')
			out = "\\r";
		else if (c < 0x20 || c == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		size_t n = strlen(out);
		if (*off + n >= size)
			break;
		memcpy(buf + *off, out, n);
		*off += n;
	}
	buf[*off] = '\0';
}

const char *cl_error_format(const struct cl_error *err, char *buf, size_t size)
{
	size_t off = 0;
	char line[48];

	if (!size)
		return buf;
	buf[0] = '\0';
	if (err->file[0]) {
		append_escaped(buf, size, &off, err->file);
		if (err->mark.line > 0) {
			snprintf(line, sizeof(line), ":%d:%d", err->mark.line, err->mark.column);
			append_escaped(buf, size, &off, line);
		}
		append_escaped(buf, size, &off, ": ");
	}
	if (err->path[0]) {
		append_escaped(buf, size, &off, err->path);
		append_escaped(buf, size, &off, ": ");
	}
	append_escaped(buf, size, &off, err->msg[0] ? err->msg : "unknown error");
	return buf;
}

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), bounded to short words. */
static size_t osa_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[64][64];

	if (la >= 63 || lb >= 63)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *cl_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t wl = strlen(word);
	/* A typo budget that grows with the word: 1 for short words, up to 3. */
	size_t budget = wl <= 4 ? 1 : wl <= 8 ? 2 : 3;

	for (size_t i = 0; i < n && candidates[i]; i++) {
		size_t dist = osa_distance(word, candidates[i]);
		if (dist < best_d) {
			best_d = dist;
			best = candidates[i];
		}
	}
	return best && best_d > 0 && best_d <= budget ? best : NULL;
}
