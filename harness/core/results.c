#include "core/results.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/doc.h"
#include "sys/tmpfile.h"

const char *results_dir(const char *opt)
{
	const char *env = getenv("CHAOSLAB_RESULTS");

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	return "results";
}

int results_write_text(const char *path, const char *text, size_t len, struct cl_error *err)
{
	char tmp[1024], dir[1024];
	const char *slash = strrchr(path, '/');
	int fd = -1, dfd = -1, rc = -1;
	size_t off = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", dir, slash ? slash + 1 : path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to write '%s'", tmp);
			goto fail_unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to fsync '%s'", tmp);
		goto fail_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to close '%s'", tmp);
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to rename '%s' to '%s'", tmp, path);
		goto fail_unlink;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to fsync directory '%s'", dir);
		goto out;
	}
	/* What writers killed half-way left here: their temp files. */
	tmpfile_sweep_dir(dir, ".");
	rc = 0;
	goto out;
fail_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int results_write(const char *dir, const char *run_id, const cJSON *doc, char *out, size_t size,
		  struct cl_error *err)
{
	char final[1024];
	char *text, *grown;
	size_t len;
	int rc;

	/* The run id names a file in dir: never a path, never a hidden (temp)
	 * name the reader would skip. */
	if (!run_id[0] || run_id[0] == '.' || strchr(run_id, '/'))
		return cl_error_set(err, CL_EXIT_USAGE, "invalid run id '%s' for a results file",
				    run_id);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return cl_error_errno(err, CL_EXIT_USAGE, errno,
				      "unable to create results directory '%s'", dir);
	snprintf(final, sizeof(final), "%s/%s.json", dir, run_id);
	text = cJSON_Print(doc);
	if (!text)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	len = strlen(text);
	/* The closing newline goes out with the text: one write loop. */
	grown = realloc(text, len + 2);
	if (!grown) {
		free(text);
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	}
	text = grown;
	text[len++] = '\n';
	text[len] = '\0';
	rc = results_write_text(final, text, len, err);
	if (!rc && out)
		snprintf(out, size, "%s", final);
	free(text);
	return rc;
}

void results_new_id(const char *label, time_t now, char *id, size_t idsize, char *iso,
		    size_t isosize)
{
	struct tm tm;
	unsigned rnd = 0;
	char stamp[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &rnd, sizeof(rnd)) != sizeof(rnd))
			rnd = (unsigned)getpid();
		close(fd);
	} else {
		rnd = (unsigned)getpid() ^ (unsigned)now;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(id, idsize, "%s-%s-%04x", stamp, label, rnd & 0xffff);
	if (iso)
		strftime(iso, isosize, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *results_kind(const cJSON *doc)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "kind");

	return cJSON_IsString(k) ? k->valuestring : RESULTS_KIND_DRILL;
}

static bool strings_only(const cJSON *arr)
{
	const cJSON *it;

	if (!cJSON_IsArray(arr))
		return false;
	cJSON_ArrayForEach(it, arr)
		if (!cJSON_IsString(it))
			return false;
	return true;
}

/* The documents the growth tools write (any kind but drill). */
static int check_other_kind(const cJSON *doc, const char *kind, char *why, size_t size)
{
	const cJSON *it;

	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "run_id")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "started_at"))) {
		snprintf(why, size, "%s: missing run_id or started_at", kind);
		return -1;
	}
	if (!strcmp(kind, RESULTS_KIND_ASSESSMENT)) {
		const cJSON *grades = cJSON_GetObjectItemCaseSensitive(doc, "grades");
		if (!strings_only(cJSON_GetObjectItemCaseSensitive(doc, "skills")) ||
		    !cJSON_IsArray(grades)) {
			snprintf(why, size, "assessment: missing skills or grades");
			return -1;
		}
		cJSON_ArrayForEach(it, grades) {
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(it, "grade");
			if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "prompt")) ||
			    !strings_only(cJSON_GetObjectItemCaseSensitive(it, "skills")) ||
			    !cJSON_IsNumber(g) || g->valuedouble < 1 || g->valuedouble > 5 ||
			    g->valuedouble != (double)(int)g->valuedouble) {
				snprintf(why, size,
					 "assessment: each grade needs a prompt, skills and a grade 1..5");
				return -1;
			}
		}
		return 0;
	}
	if (!strcmp(kind, RESULTS_KIND_DAILY)) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "date")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "scenario"))) {
			snprintf(why, size, "daily: missing date or scenario");
			return -1;
		}
		return 0;
	}
	if (!strcmp(kind, RESULTS_KIND_MOCK)) {
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "drills"))) {
			snprintf(why, size, "mock: missing drills");
			return -1;
		}
		return 0;
	}
	snprintf(why, size, "unknown document kind '%s'", kind);
	return -1;
}

int results_check(const cJSON *doc, char *why, size_t size)
{
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(doc, "run_id");
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
	const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(doc, "outcome");
	const cJSON *started = cJSON_GetObjectItemCaseSensitive(doc, "started_at");

	if (!cJSON_IsObject(doc)) {
		snprintf(why, size, "not a JSON object");
		return -1;
	}
	if (!cJSON_IsNumber(schema)) {
		snprintf(why, size, "no schema version");
		return -1;
	}
	if (schema->valuedouble != (double)RESULTS_SCHEMA) {
		snprintf(why, size, "schema version %g, this chaoslab reads %d", schema->valuedouble,
			 RESULTS_SCHEMA);
		return -1;
	}
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	if (kind && !cJSON_IsString(kind)) {
		snprintf(why, size, "kind is not a string");
		return -1;
	}
	if (kind && strcmp(kind->valuestring, RESULTS_KIND_DRILL))
		return check_other_kind(doc, kind->valuestring, why, size);
	if (!cJSON_IsString(run) || !cJSON_IsObject(sc) || !cJSON_IsString(outcome) ||
	    !cJSON_IsString(started)) {
		snprintf(why, size, "missing run_id, scenario, outcome or started_at");
		return -1;
	}
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sc, "id"))) {
		snprintf(why, size, "scenario has no id");
		return -1;
	}
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct result_entry *x = a, *y = b;
	const cJSON *sx = cJSON_GetObjectItemCaseSensitive(x->doc, "started_at");
	const cJSON *sy = cJSON_GetObjectItemCaseSensitive(y->doc, "started_at");
	int c = strcmp(sx->valuestring, sy->valuestring);

	return c ? c : strcmp(x->path, y->path);
}

int results_read_all(const char *dir, struct result_list *out, results_bad_fn bad, void *opaque,
		     struct cl_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	memset(out, 0, sizeof(*out));
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open '%s'", dir);
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char path[1024], why[256];
		struct cl_error e;
		size_t len;
		char *text;
		cJSON *doc;

		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = doc_read_file(path, &len, &e);
		if (!text) {
			if (bad)
				bad(path, e.msg, opaque);
			continue;
		}
		doc = cJSON_ParseWithLength(text, len);
		free(text);
		if (!doc) {
			if (bad)
				bad(path, "not valid JSON", opaque);
			continue;
		}
		if (results_check(doc, why, sizeof(why))) {
			if (bad)
				bad(path, why, opaque);
			cJSON_Delete(doc);
			continue;
		}
		struct result_entry *ni = realloc(out->items, (out->count + 1) * sizeof(*ni));
		char *p = strdup(path);
		if (!ni || !p) {
			if (ni)
				out->items = ni;
			free(p);
			cJSON_Delete(doc);
			closedir(d);
			results_list_release(out);
			return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		}
		out->items = ni;
		out->items[out->count].path = p;
		out->items[out->count].doc = doc;
		out->count++;
	}
	closedir(d);
	if (out->count)
		qsort(out->items, out->count, sizeof(*out->items), by_start);
	return 0;
}

const struct result_entry *results_find(const struct result_list *list, const char *run_id)
{
	const struct result_entry *hit = NULL;
	size_t l = strlen(run_id);

	if (!l)
		return NULL;
	/* An exact id wins even when it is also a prefix of others ("run-1"
	 * of "run-10"), wherever it sorts. */
	for (size_t i = 0; i < list->count; i++) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(list->items[i].doc, "run_id");
		if (!strcmp(r->valuestring, run_id))
			return &list->items[i];
	}
	for (size_t i = 0; i < list->count; i++) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(list->items[i].doc, "run_id");
		if (!strncmp(r->valuestring, run_id, l)) {
			if (hit)
				return NULL; /* ambiguous prefix */
			hit = &list->items[i];
		}
	}
	return hit;
}

void results_list_release(struct result_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].path);
		cJSON_Delete(list->items[i].doc);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}
