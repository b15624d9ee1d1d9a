/* Tests of harness/core/results.c: the crash-safe writer (including a writer
 * SIGKILLed at random moments), the schema check, the reader that reports and
 * skips corrupt files, and lookups by run id. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/results.h"

static void scratch_new(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, size, "%s/chaoslab-results-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d))) {
		char sub[1024];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		remove_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A valid result document with events entries of padding (to make it
 * large); "events_count" lets a reader tell a whole document from a cut one. */
static cJSON *make_doc(const char *run_id, const char *started_at, int events)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *sc = cJSON_AddObjectToObject(doc, "scenario");
	cJSON *ev = cJSON_AddArrayToObject(doc, "events");

	cJSON_AddNumberToObject(doc, "schema", RESULTS_SCHEMA);
	cJSON_AddStringToObject(doc, "run_id", run_id);
	cJSON_AddStringToObject(sc, "id", "cpu-runaway");
	cJSON_AddStringToObject(sc, "title", "Runaway process pegs the CPU");
	cJSON_AddStringToObject(doc, "outcome", "fixed");
	cJSON_AddStringToObject(doc, "started_at", started_at);
	cJSON_AddNumberToObject(doc, "score", 87);
	for (int i = 0; i < events; i++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "t", i);
		cJSON_AddStringToObject(e, "what", "check cpu-busy not met: 97% over 3 s, "
						   "pid 4121 reportd at the top");
		cJSON_AddItemToArray(ev, e);
	}
	cJSON_AddNumberToObject(doc, "events_count", events);
	return doc;
}

static void test_results_dir(void **state)
{
	unsetenv("CHAOSLAB_RESULTS");
	assert_string_equal(results_dir(NULL), "results");
	assert_string_equal(results_dir(""), "results");
	setenv("CHAOSLAB_RESULTS", "/elsewhere", 1);
	assert_string_equal(results_dir(NULL), "/elsewhere");
	assert_string_equal(results_dir("mine"), "mine");
	unsetenv("CHAOSLAB_RESULTS");
}

static void test_round_trip(void **state)
{
	char dir[512], sub[700], out[1024], want[1024];
	struct result_list list;
	struct cl_error err;
	cJSON *doc = make_doc("2024-05-01T10-00-00-cpu", "2024-05-01T10:00:00Z", 3);
	DIR *d;
	struct dirent *de;
	int files = 0;

	scratch_new(dir, sizeof(dir));
	/* The results directory is created on first write. */
	snprintf(sub, sizeof(sub), "%s/results", dir);
	assert_int_equal(results_write(sub, "2024-05-01T10-00-00-cpu", doc, out, sizeof(out), &err),
			 0);
	snprintf(want, sizeof(want), "%s/2024-05-01T10-00-00-cpu.json", sub);
	assert_string_equal(out, want);

	/* Only the final file: no temp file left behind. */
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			files++;
	closedir(d);
	assert_int_equal(files, 1);

	assert_int_equal(results_read_all(sub, &list, NULL, NULL, &err), 0);
	assert_int_equal(list.count, 1);
	assert_string_equal(list.items[0].path, want);
	assert_true(cJSON_Compare(list.items[0].doc, doc, 1));
	results_list_release(&list);
	assert_int_equal(list.count, 0);

	/* Writing the same run again replaces it whole. */
	cJSON_ReplaceItemInObject(doc, "outcome", cJSON_CreateString("gave-up"));
	assert_int_equal(results_write(sub, "2024-05-01T10-00-00-cpu", doc, NULL, 0, &err), 0);
	assert_int_equal(results_read_all(sub, &list, NULL, NULL, &err), 0);
	assert_int_equal(list.count, 1);
	assert_true(cJSON_Compare(list.items[0].doc, doc, 1));
	results_list_release(&list);

	cJSON_Delete(doc);
	remove_tree(dir);
}

static void test_sorted_by_start(void **state)
{
	static const char *const starts[] = { "2024-05-03T00:00:00Z", "2024-05-01T00:00:00Z",
					      "2024-05-02T00:00:00Z" };
	char dir[512], id[16];
	struct result_list list;
	struct cl_error err;

	scratch_new(dir, sizeof(dir));
	for (int i = 0; i < 3; i++) {
		cJSON *doc;
		snprintf(id, sizeof(id), "r%d", i);
		doc = make_doc(id, starts[i], 0);
		assert_int_equal(results_write(dir, id, doc, NULL, 0, &err), 0);
		cJSON_Delete(doc);
	}
	assert_int_equal(results_read_all(dir, &list, NULL, NULL, &err), 0);
	assert_int_equal(list.count, 3);
	for (size_t i = 0; i + 1 < list.count; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(list.items[i].doc, "started_at");
		const cJSON *b =
			cJSON_GetObjectItemCaseSensitive(list.items[i + 1].doc, "started_at");
		assert_true(strcmp(a->valuestring, b->valuestring) < 0);
	}
	results_list_release(&list);
	remove_tree(dir);
}

static void test_missing_directory_is_empty(void **state)
{
	char dir[512], missing[700];
	struct result_list list;
	struct cl_error err;

	scratch_new(dir, sizeof(dir));
	snprintf(missing, sizeof(missing), "%s/none", dir);
	assert_int_equal(results_read_all(missing, &list, NULL, NULL, &err), 0);
	assert_int_equal(list.count, 0);
	results_list_release(&list);
	remove_tree(dir);
}

static void check_rejects(const char *json, const char *why_part)
{
	cJSON *doc = cJSON_Parse(json);
	char why[256] = "";

	assert_non_null(doc);
	if (results_check(doc, why, sizeof(why)) != -1)
		fail_msg("accepted: %s", json);
	if (!strstr(why, why_part))
		fail_msg("'%s': why '%s' lacks '%s'", json, why, why_part);
	cJSON_Delete(doc);
}

static void test_schema_check(void **state)
{
	cJSON *doc = make_doc("r", "2024-05-01T00:00:00Z", 1);
	char why[256];

	assert_int_equal(results_check(doc, why, sizeof(why)), 0);
	cJSON_Delete(doc);

	check_rejects("[1,2]", "not a JSON object");
	check_rejects("{\"run_id\":\"r\"}", "no schema version");
	check_rejects("{\"schema\":\"1\"}", "no schema version");
	check_rejects("{\"schema\":2}", "schema version 2");
	check_rejects("{\"schema\":1.5}", "schema version");
	check_rejects("{\"schema\":1,\"scenario\":{\"id\":\"x\"},\"outcome\":\"fixed\","
		      "\"started_at\":\"t\"}",
		      "missing run_id");
	check_rejects("{\"schema\":1,\"run_id\":\"r\",\"scenario\":\"x\",\"outcome\":\"fixed\","
		      "\"started_at\":\"t\"}",
		      "missing run_id, scenario");
	check_rejects("{\"schema\":1,\"run_id\":\"r\",\"scenario\":{},\"outcome\":\"fixed\","
		      "\"started_at\":\"t\"}",
		      "scenario has no id");
	check_rejects("{\"schema\":1,\"run_id\":\"r\",\"scenario\":{\"id\":\"x\"},"
		      "\"outcome\":\"fixed\"}",
		      "started_at");
}

struct bad_seen {
	int count;
	char names[8][64];
	char whys[8][256];
};

static void collect_bad(const char *path, const char *why, void *opaque)
{
	struct bad_seen *b = opaque;
	const char *slash = strrchr(path, '/');

	if (b->count < 8) {
		snprintf(b->names[b->count], sizeof(b->names[0]), "%s", slash ? slash + 1 : path);
		snprintf(b->whys[b->count], sizeof(b->whys[0]), "%s", why);
	}
	b->count++;
}

static const char *bad_why(const struct bad_seen *b, const char *name)
{
	for (int i = 0; i < b->count && i < 8; i++)
		if (!strcmp(b->names[i], name))
			return b->whys[i];
	fail_msg("'%s' was not reported as bad", name);
	return NULL;
}

static void test_corrupt_files_reported_and_skipped(void **state)
{
	char dir[512], sub[700];
	struct result_list list;
	struct bad_seen bad = { 0 };
	struct cl_error err;
	cJSON *doc = make_doc("good", "2024-05-01T00:00:00Z", 2);

	scratch_new(dir, sizeof(dir));
	assert_int_equal(results_write(dir, "good", doc, NULL, 0, &err), 0);
	cJSON_Delete(doc);
	write_text(dir, "notjson.json", "this is not { json");
	write_text(dir, "cut.json", "{\"schema\":1,\"run_id\":\"cut\",\"scenario\":{\"id\"");
	write_text(dir, "future.json", "{\"schema\":2,\"run_id\":\"f\"}");
	write_text(dir, "fields.json", "{\"schema\":1,\"run_id\":\"x\"}");
	write_text(dir, "empty.json", "");
	snprintf(sub, sizeof(sub), "%s/folder.json", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	/* Not results: temp files and other names are not even looked at. */
	write_text(dir, ".good.json.tmp.123", "{\"half");
	write_text(dir, "notes.txt", "hello");

	assert_int_equal(results_read_all(dir, &list, collect_bad, &bad, &err), 0);
	assert_int_equal(list.count, 1);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(list.items[0].doc, "run_id")->valuestring,
			    "good");
	results_list_release(&list);

	assert_int_equal(bad.count, 6);
	assert_non_null(strstr(bad_why(&bad, "notjson.json"), "not valid JSON"));
	assert_non_null(strstr(bad_why(&bad, "cut.json"), "not valid JSON"));
	assert_non_null(strstr(bad_why(&bad, "future.json"), "schema version 2"));
	assert_non_null(strstr(bad_why(&bad, "fields.json"), "missing"));
	assert_non_null(strstr(bad_why(&bad, "empty.json"), "not valid JSON"));
	assert_non_null(strstr(bad_why(&bad, "folder.json"), "not a regular file"));

	/* No callback: still skipped, still not fatal. */
	assert_int_equal(results_read_all(dir, &list, NULL, NULL, &err), 0);
	assert_int_equal(list.count, 1);
	results_list_release(&list);
	remove_tree(dir);
}

static const char *found_id(const struct result_list *list, const char *query)
{
	const struct result_entry *e = results_find(list, query);

	return e ? cJSON_GetObjectItemCaseSensitive(e->doc, "run_id")->valuestring : "(none)";
}

static void test_find_by_id_and_prefix(void **state)
{
	/* run-10 and run-11 start first, so a prefix scan meets them before the
	 * exact run-1. */
	static const struct {
		const char *id, *start;
	} runs[] = {
		{ "run-10", "2024-01-01T00:00:00Z" },
		{ "run-11", "2024-01-02T00:00:00Z" },
		{ "run-1", "2024-01-03T00:00:00Z" },
		{ "2024-06-01-dns-a1", "2024-06-01T00:00:00Z" },
		{ "2024-06-01-dns-b2", "2024-06-01T01:00:00Z" },
		{ "2024-07-09-tls", "2024-07-09T00:00:00Z" },
	};
	char dir[512];
	struct result_list list;
	struct cl_error err;

	scratch_new(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		cJSON *doc = make_doc(runs[i].id, runs[i].start, 0);
		assert_int_equal(results_write(dir, runs[i].id, doc, NULL, 0, &err), 0);
		cJSON_Delete(doc);
	}
	assert_int_equal(results_read_all(dir, &list, NULL, NULL, &err), 0);
	assert_int_equal(list.count, 6);

	assert_string_equal(found_id(&list, "run-1"), "run-1");
	assert_string_equal(found_id(&list, "run-10"), "run-10");
	assert_string_equal(found_id(&list, "2024-07"), "2024-07-09-tls");
	assert_string_equal(found_id(&list, "2024-06-01-dns-b"), "2024-06-01-dns-b2");
	assert_string_equal(found_id(&list, "2024-06-01-dns"), "(none)");
	assert_string_equal(found_id(&list, "run-"), "(none)");
	assert_string_equal(found_id(&list, "zzz"), "(none)");
	assert_string_equal(found_id(&list, ""), "(none)");
	results_list_release(&list);
	remove_tree(dir);
}

static void test_write_failures(void **state)
{
	char dir[512], file[700], path[1024];
	struct cl_error err;
	cJSON *doc = make_doc("r", "2024-05-01T00:00:00Z", 0);
	struct stat st;

	scratch_new(dir, sizeof(dir));
	/* The "directory" is a regular file: the temp file cannot be made. */
	snprintf(file, sizeof(file), "%s/plain", dir);
	write_text(dir, "plain", "x");
	cl_error_clear(&err);
	assert_int_equal(results_write(file, "r", doc, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "unable to create"));

	/* A run id is a file name, never a path. */
	static const char *const bad_ids[] = { "", "../escape", "a/b", ".hidden" };
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		cl_error_clear(&err);
		if (results_write(dir, bad_ids[i], doc, NULL, 0, &err) != -1)
			fail_msg("run id '%s' was accepted", bad_ids[i]);
		assert_non_null(strstr(err.msg, "run id"));
	}
	snprintf(path, sizeof(path), "%s/../escape.json", dir);
	assert_int_equal(stat(path, &st), -1);
	cJSON_Delete(doc);
	remove_tree(dir);
}

/* ---- a writer killed at random moments ------------------------------------ */

#define KILL_ROUNDS 50
#define KILL_IDS 6

static void __attribute__((noreturn)) writer_loop(const char *dir, unsigned seed)
{
	struct cl_error err;
	char id[32], started[32];

	for (unsigned i = 0;; i++) {
		/* 1500..4500 events: 150..450 KB documents. */
		int events = 1500 + (int)((seed + i * 2654435761u) % 3000);
		cJSON *doc;
		snprintf(id, sizeof(id), "kill-%u", (seed + i) % KILL_IDS);
		snprintf(started, sizeof(started), "2024-05-01T00:%02u:%02uZ", (i / 60) % 60,
			 i % 60);
		doc = make_doc(id, started, events);
		if (results_write(dir, id, doc, NULL, 0, &err)) {
			fprintf(stderr, "writer: %s\n", err.msg);
			_exit(2);
		}
		cJSON_Delete(doc);
	}
}

/* Every name in dir is either a whole, valid result under its final name or
 * a dot-prefixed temp name; returns the number of each. */
static void check_results_dir(const char *dir, int *finals, int *temps)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*finals = *temps = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		unsigned k;
		int pid, end = 0;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (n[0] == '.') {
			if (sscanf(n, ".kill-%u.json.tmp.%d%n", &k, &pid, &end) != 2 ||
			    n[end] != '\0')
				fail_msg("unexpected hidden file '%s'", n);
			(*temps)++;
			continue;
		}
		if (sscanf(n, "kill-%u.json%n", &k, &end) != 1 || n[end] != '\0' ||
		    k >= KILL_IDS)
			fail_msg("unexpected file '%s'", n);

		char path[1024], id[32], why[256];
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		snprintf(id, sizeof(id), "kill-%u", k);
		FILE *f = fopen(path, "re");
		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		long size = ftell(f);
		rewind(f);
		char *text = malloc((size_t)size + 1);
		assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
		text[size] = '\0';
		fclose(f);
		cJSON *doc = cJSON_Parse(text);
		if (!doc)
			fail_msg("'%s' (%ld bytes) does not parse", n, size);
		if (results_check(doc, why, sizeof(why)))
			fail_msg("'%s': %s", n, why);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "run_id")->valuestring,
				    id);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "events")),
				 cJSON_GetObjectItemCaseSensitive(doc, "events_count")->valueint);
		cJSON_Delete(doc);
		free(text);
		(*finals)++;
	}
	closedir(d);
}

static void test_writer_killed_at_random(void **state)
{
	char dir[512];
	struct result_list list;
	struct bad_seen bad = { 0 };
	struct cl_error err;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int finals, temps, killed_mid_write = 0;

	print_message("seed %u\n", seed);
	srand(seed);
	scratch_new(dir, sizeof(dir));
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int status;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			writer_loop(dir, seed + (unsigned)round * 7919u);
		usleep((useconds_t)(rand() % 40000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("writer ended by itself (status 0x%x), seed %u", status, seed);
		check_results_dir(dir, &finals, &temps);
		killed_mid_write += temps > 0;
	}
	check_results_dir(dir, &finals, &temps);
	print_message("%d results, %d temp files left, %d rounds saw a temp file\n", finals,
		      temps, killed_mid_write);
	assert_true(finals > 0);

	/* The next write sweeps a dead writer's temp file, never a live one's
	 * (this process's: a write in progress). */
	char live[1024], path[1024];
	snprintf(live, sizeof(live), "%s/.kill-0.json.tmp.%d", dir, (int)getpid());
	FILE *lf = fopen(live, "we");
	assert_non_null(lf);
	fclose(lf);
	snprintf(path, sizeof(path), "%s/sweep.txt", dir);
	assert_int_equal(results_write_text(path, "x", 1, &err), 0);
	assert_int_equal(unlink(path), 0);
	check_results_dir(dir, &finals, &temps);
	assert_int_equal(temps, 1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(unlink(live), 0);

	/* The reader sees every final file and never a temp file. */
	assert_int_equal(results_read_all(dir, &list, collect_bad, &bad, &err), 0);
	assert_int_equal(bad.count, 0);
	assert_int_equal(list.count, (size_t)finals);
	results_list_release(&list);
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results_dir),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sorted_by_start),
		cmocka_unit_test(test_missing_directory_is_empty),
		cmocka_unit_test(test_schema_check),
		cmocka_unit_test(test_corrupt_files_reported_and_skipped),
		cmocka_unit_test(test_find_by_id_and_prefix),
		cmocka_unit_test(test_write_failures),
		cmocka_unit_test(test_writer_killed_at_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
