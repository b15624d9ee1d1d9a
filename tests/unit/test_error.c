/* Tests of harness/core/error.c: setting errors, the one-line
 * "file:line:col: path: message" rendering, and did-you-mean. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

static const char *fmt(const struct cl_error *err)
{
	static char buf[2048];

	return cl_error_format(err, buf, sizeof(buf));
}

static void test_set_plain(void **state)
{
	struct cl_error err;

	assert_int_equal(cl_error_set(&err, CL_EXIT_PRIVILEGE, "needs %s", "root"), -1);
	assert_int_equal(err.code, CL_EXIT_PRIVILEGE);
	assert_int_equal(err.errnum, 0);
	assert_string_equal(err.file, "");
	assert_string_equal(fmt(&err), "needs root");
}

static void test_set_replaces_previous(void **state)
{
	struct cl_error err;

	cl_error_at(&err, "a.yaml", &(struct cl_mark){ 3, 4 }, "title", "old");
	cl_error_set(&err, CL_EXIT_USAGE, "new");
	assert_string_equal(fmt(&err), "new");
	assert_int_equal(err.mark.line, 0);
}

static void test_null_error_is_fine(void **state)
{
	assert_int_equal(cl_error_set(NULL, CL_EXIT_USAGE, "dropped"), -1);
	assert_int_equal(cl_error_errno(NULL, CL_EXIT_USAGE, ENOENT, "dropped"), -1);
	assert_int_equal(cl_error_at(NULL, "f", NULL, NULL, "dropped"), -1);
	cl_error_prefix(NULL, "x");
	cl_error_clear(NULL);
}

static void test_errno_appended(void **state)
{
	struct cl_error err;
	char want[256];

	cl_error_errno(&err, CL_EXIT_USAGE, ENOENT, "unable to open '%s'", "x.yaml");
	snprintf(want, sizeof(want), "unable to open 'x.yaml': %s", strerror(ENOENT));
	assert_string_equal(fmt(&err), want);
	assert_int_equal(err.errnum, ENOENT);

	cl_error_errno(&err, CL_EXIT_USAGE, 0, "no errno");
	assert_string_equal(fmt(&err), "no errno");
}

static void test_format_located(void **state)
{
	struct cl_error err;
	struct cl_mark mk = { 14, 38 };

	cl_error_at(&err, "drill.yaml", &mk, "inject[0].with.load_percent",
		    "must be %d..%d, got %d", 1, 100, 150);
	assert_int_equal(err.code, CL_EXIT_USAGE);
	assert_string_equal(
		fmt(&err),
		"drill.yaml:14:38: inject[0].with.load_percent: must be 1..100, got 150");
}

static void test_format_partial_location(void **state)
{
	struct cl_error err;
	struct cl_mark unknown = { 0, 0 };

	cl_error_at(&err, "drill.yaml", NULL, NULL, "file is empty");
	assert_string_equal(fmt(&err), "drill.yaml: file is empty");
	cl_error_at(&err, "drill.yaml", &unknown, "id", "bad");
	assert_string_equal(fmt(&err), "drill.yaml: id: bad");
	cl_error_at(&err, NULL, NULL, "--set burner.workers", "must be 1..64, got 0");
	assert_string_equal(fmt(&err), "--set burner.workers: must be 1..64, got 0");
	cl_error_at(&err, NULL, NULL, "", "%s", "");
	assert_string_equal(fmt(&err), "unknown error");
}

static void test_prefix_keeps_location(void **state)
{
	struct cl_error err;

	cl_error_at(&err, "a.json", &(struct cl_mark){ 2, 5 }, "day", "must be 1..120, got 0");
	cl_error_prefix(&err, "loading %s", "catalog");
	assert_string_equal(fmt(&err), "a.json:2:5: day: loading catalog: must be 1..120, got 0");
}

static void test_format_truncates(void **state)
{
	struct cl_error err;
	char small[12], none[1] = { 'x' };

	cl_error_at(&err, "scenario.yaml", &(struct cl_mark){ 1, 1 }, "id", "too long");
	memset(small, 'z', sizeof(small));
	cl_error_format(&err, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "scenario.ya", sizeof(small));
	cl_error_format(&err, none, 0);
	assert_int_equal(none[0], 'x');
	cl_error_format(&err, none, 1);
	assert_int_equal(none[0], '\0');
}

static void test_format_escapes_control_characters(void **state)
{
	struct cl_error err;

	/* A message quotes the user's text; it must stay on one line. */
	cl_error_at(&err, "a\nb.yaml", &(struct cl_mark){ 1, 2 }, "ti\ttle",
		    "unknown key 'x\ny\r\x1b'");
	assert_string_equal(fmt(&err), "a\\nb.yaml:1:2: ti\\ttle: unknown key 'x\\ny\\r\\x1b'");
}

static void test_long_message_bounded(void **state)
{
	struct cl_error err;
	char big[4096];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cl_error_at(&err, big, &(struct cl_mark){ 1, 1 }, big, "%s", big);
	assert_int_equal(strlen(err.file), sizeof(err.file) - 1);
	assert_int_equal(strlen(err.path), sizeof(err.path) - 1);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_true(strlen(fmt(&err)) < 2048);
}

static const char *const keys[] = { "title",  "time_limit_seconds", "stable_seconds",
				    "skills", "symptoms",	    "day",
				    NULL };

static void test_did_you_mean_typos(void **state)
{
	assert_string_equal(cl_did_you_mean("titel", keys, (size_t)-1), "title");  /* swap */
	assert_string_equal(cl_did_you_mean("titl", keys, (size_t)-1), "title");   /* drop */
	assert_string_equal(cl_did_you_mean("tiitle", keys, (size_t)-1), "title"); /* add */
	assert_string_equal(cl_did_you_mean("dya", keys, (size_t)-1), "day");
	assert_string_equal(cl_did_you_mean("stable_second", keys, (size_t)-1), "stable_seconds");
	assert_string_equal(cl_did_you_mean("time_limit_secs", keys, (size_t)-1),
			    "time_limit_seconds");
	assert_string_equal(cl_did_you_mean("symtpoms", keys, (size_t)-1), "symptoms");
}

static void test_did_you_mean_refuses(void **state)
{
	/* exact matches are not typos */
	assert_null(cl_did_you_mean("title", keys, (size_t)-1));
	/* too far for the word's length: 1 edit up to 4 letters, 2 up to 8, else 3 */
	assert_null(cl_did_you_mean("author", keys, (size_t)-1));
	assert_null(cl_did_you_mean("dxx", keys, (size_t)-1));
	assert_null(cl_did_you_mean("sk", keys, (size_t)-1));
	assert_null(cl_did_you_mean("", keys, (size_t)-1));
	/* words too long to compare */
	char longw[80];
	memset(longw, 'a', sizeof(longw) - 1);
	longw[sizeof(longw) - 1] = '\0';
	assert_null(cl_did_you_mean(longw, keys, (size_t)-1));
	/* no candidates */
	assert_null(cl_did_you_mean("title", keys, 0));
	assert_null(cl_did_you_mean("title", (const char *const[]){ NULL }, (size_t)-1));
}

static void test_did_you_mean_budget(void **state)
{
	static const char *const w[] = { "abcd", "abcdefgh", "abcdefghijkl", NULL };

	assert_string_equal(cl_did_you_mean("abxd", w, (size_t)-1), "abcd");
	assert_null(cl_did_you_mean("axxd", w, (size_t)-1));
	assert_string_equal(cl_did_you_mean("abxxefgh", w, (size_t)-1), "abcdefgh");
	assert_null(cl_did_you_mean("axxxefgh", w, (size_t)-1));
	assert_string_equal(cl_did_you_mean("abxxxfghijkl", w, (size_t)-1), "abcdefghijkl");
	assert_null(cl_did_you_mean("axxxxfghijkl", w, (size_t)-1));
}

static void test_did_you_mean_bounded_and_closest(void **state)
{
	static const char *const w[] = { "workers", "worker", "markers", NULL };

	/* n bounds the list: "workers" is not looked at */
	assert_string_equal(cl_did_you_mean("workerz", w + 1, 2), "worker");
	/* the closest wins; on a tie, the first */
	assert_string_equal(cl_did_you_mean("workerz", w, (size_t)-1), "workers");
	assert_string_equal(cl_did_you_mean("workes", w, (size_t)-1), "workers");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_plain),
		cmocka_unit_test(test_set_replaces_previous),
		cmocka_unit_test(test_null_error_is_fine),
		cmocka_unit_test(test_errno_appended),
		cmocka_unit_test(test_format_located),
		cmocka_unit_test(test_format_partial_location),
		cmocka_unit_test(test_prefix_keeps_location),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_format_escapes_control_characters),
		cmocka_unit_test(test_long_message_bounded),
		cmocka_unit_test(test_did_you_mean_typos),
		cmocka_unit_test(test_did_you_mean_refuses),
		cmocka_unit_test(test_did_you_mean_budget),
		cmocka_unit_test(test_did_you_mean_bounded_and_closest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
