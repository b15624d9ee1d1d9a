/* libFuzzer target for the result reader: what `chaoslab gaps`, `report`,
 * `daily` and `mock` read back from the results directory, where any file
 * may be cut short by a crash, edited by hand or left by another version.
 *
 * Each input is
 *   - parsed as JSON the way results_read_all() does, checked with
 *     results_check() and, when accepted, asked its kind;
 *   - written as a result file beside a known-good drill result in a
 *     directory of its own and read back with results_read_all(), then
 *     looked up with results_find() by its run id and by prefixes of it;
 *   - where the history reader is built (drill/history.h), loaded with
 *     history_load() and every record it makes looked at the way the
 *     growth commands do (skills, grades, times, lookups);
 *   - NUL-terminated, parsed as a result time (history_parse_time).
 * Beyond crashes and sanitizer reports it checks what the reader promises:
 * a document is either accepted (and then has the fields the readers use,
 * of the right types) or refused with a reason; every file read is either
 * listed or reported, never both, never neither; the list is sorted by
 * started_at. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/results.h"
#if __has_include("drill/history.h")
#include "drill/history.h"
#define HAVE_HISTORY 1
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char good[] =
	"{\"schema\":1,\"run_id\":\"20240501T090000Z-seed-a101\","
	"\"started_at\":\"2024-05-01T09:00:00Z\",\"outcome\":\"fixed\",\"score\":95,"
	"\"scenario\":{\"id\":\"seed\",\"skills\":[\"linux.cpu\"],\"day\":3,"
	"\"par_seconds\":300},\"hints_used\":[],\"confidence\":4}";

static char dir[64];
static char path_in[128];

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_results: %s\n", what);
		abort();
	}
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	check(f != NULL, "cannot create a file in the work directory");
	if (len)
		check(fwrite(data, 1, len, f) == len, "short write");
	fclose(f);
}

static void cleanup(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/seed.json", dir);
	unlink(p);
	unlink(path_in);
	rmdir(dir);
}

static void setup(void)
{
	char good_path[128];

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/fuzz_results.XXXXXX");
	check(mkdtemp(dir) != NULL, "mkdtemp failed");
	snprintf(good_path, sizeof(good_path), "%s/seed.json", dir);
	write_file(good_path, good, strlen(good));
	snprintf(path_in, sizeof(path_in), "%s/input.json", dir);
	atexit(cleanup);
}

/* A string member of an accepted document. */
static const char *str_of(const cJSON *doc, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(doc, key)->valuestring;
}

static size_t reported;

static void on_bad(const char *path, const char *why, void *opaque)
{
	check(path && path[0], "a file reported without its path");
	check(why && why[0], "a file reported without a reason");
	reported++;
}

/* An accepted document carries what the readers dereference. */
static void check_accepted(const cJSON *doc)
{
	const char *kind = results_kind(doc);

	check(kind && kind[0], "an accepted document without a kind");
	check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "run_id")),
	      "accepted without a string run_id");
	check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "started_at")),
	      "accepted without a string started_at");
	if (!strcmp(kind, RESULTS_KIND_DRILL)) {
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
		check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "outcome")),
		      "drill accepted without an outcome");
		check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sc, "id")),
		      "drill accepted without scenario.id");
	}
}

static void parse_path(const uint8_t *data, size_t size)
{
	char why[256] = "";
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size);

	if (!doc)
		return;
	if (results_check(doc, why, sizeof(why)) == 0)
		check_accepted(doc);
	else
		check(why[0] != '\0', "a refusal without a reason");
	cJSON_Delete(doc);
}

static void reader_path(const uint8_t *data, size_t size)
{
	struct result_list list;
	struct cl_error err;

	write_file(path_in, data, size);
	reported = 0;
	check(results_read_all(dir, &list, on_bad, NULL, &err) == 0, "results_read_all failed");
	check(list.count + reported == 2, "a file neither listed nor reported, or both");
	for (size_t i = 0; i < list.count; i++) {
		const cJSON *run;

		check_accepted(list.items[i].doc);
		if (i)
			check(strcmp(str_of(list.items[i - 1].doc, "started_at"),
				     str_of(list.items[i].doc, "started_at")) <= 0,
			      "the list is not sorted by started_at");
		run = cJSON_GetObjectItemCaseSensitive(list.items[i].doc, "run_id");
		/* Its own id finds a document with that id (run ids may repeat). */
		const struct result_entry *hit = results_find(&list, run->valuestring);
		if (run->valuestring[0]) {
			check(hit != NULL, "results_find misses an id in the list");
			check(!strcmp(str_of(hit->doc, "run_id"), run->valuestring),
			      "results_find returned another id");
		} else {
			check(hit == NULL, "results_find matched an empty id");
		}
		for (size_t l = 1; l < 4 && l < strlen(run->valuestring); l++) {
			char prefix[4];
			memcpy(prefix, run->valuestring, l);
			prefix[l] = '\0';
			results_find(&list, prefix);
		}
	}
	results_list_release(&list);
}

#ifdef HAVE_HISTORY
static void history_path(void)
{
	struct history h;
	struct cl_error err;
	time_t t;

	check(history_load(dir, &h, NULL, NULL, &err) == 0, "history_load failed");
	check(h.nattempts + h.nassessments + h.ndailies + h.nmocks == h.list.count,
	      "a listed document in no record");
	check(h.list.count + h.unreadable == 2, "history: a file neither read nor reported");
	for (size_t i = 0; i < h.nattempts; i++) {
		const struct attempt *a = &h.attempts[i];
		check(a->run_id && a->scenario && a->outcome, "an attempt without its strings");
		attempt_has_skill(a, "linux.cpu");
		history_find_attempt(&h, a->run_id);
		if (a->started_at)
			history_parse_time(a->started_at, &t);
	}
	for (size_t i = 0; i < h.nassessments; i++) {
		int n;
		assessment_grade(&h.assessments[i], "linux.cpu", &n);
		assessment_grade(&h.assessments[i], "", NULL);
	}
	history_find_attempt(&h, "2024");
	history_find_attempt(&h, "");
	history_release(&h);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	time_t t;

	setup();
	parse_path(data, size);
	reader_path(data, size);
#ifdef HAVE_HISTORY
	history_path();
	text = malloc(size + 1);
	check(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	history_parse_time(text, &t);
	free(text);
#else
	(void)text;
	(void)t;
#endif
	return 0;
}
