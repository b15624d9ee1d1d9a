/* Tests of harness/drill/report.c and harness/drill/prom.c over the fixed
 * history of tests/data/history: the Markdown portfolio (stories drafted
 * from the best attempt of each kind, or saying there is none), the HTML
 * page (self-contained: no script, nothing fetched; inline SVG charts whose
 * coordinates stay inside their boxes), the Prometheus textfile checked by a
 * strict parser of the text exposition format (promtool is not at hand),
 * the crash-safe save and a mock interview's Markdown. Data is found
 * through $CHAOSLAB_SRC. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "drill/prom.h"
#include "drill/report.h"

static char results[1024];

struct loaded {
	struct history h;
	struct catalog c;
	struct gaps g;
	struct report_input in;
};

static void load(struct loaded *l, const char *dir)
{
	struct cl_error err;
	time_t now;

	assert_int_equal(history_parse_time("2024-06-01T00:00:00Z", &now), 0);
	assert_int_equal(history_load(dir, &l->h, NULL, NULL, &err), 0);
	assert_int_equal(catalog_load(&l->c, false, NULL, NULL, &err), 0);
	for (size_t i = 0; i < l->c.count; i++) {
		l->c.items[i].supported = strcmp(l->c.items[i].id, "k8s-probe") != 0;
		snprintf(l->c.items[i].why, sizeof(l->c.items[i].why), "%s",
			 l->c.items[i].supported ? "" : "no Kubernetes cluster");
	}
	assert_int_equal(gaps_compute(&l->h, &l->c, now, &l->g, &err), 0);
	l->in = (struct report_input){ &l->h, &l->c, &l->g, "results", now };
}

static void unload(struct loaded *l)
{
	gaps_release(&l->g);
	catalog_release(&l->c);
	history_release(&l->h);
}

static char *render(int (*fn)(FILE *, const struct report_input *), const struct report_input *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, in), 0);
	fclose(f);
	return buf;
}

static int prom_fn(FILE *f, const struct report_input *in)
{
	return prom_write(f, in->h, in->g, in->now);
}

static void has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("missing: <<%s>>\n---- in ----\n%s", want, text);
}

static void lacks(const char *text, const char *unwanted)
{
	if (strstr(text, unwanted))
		fail_msg("unexpected: <<%s>>", unwanted);
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* A scratch results directory holding the named fixture files (NULL-ended)
 * and, if extra is not NULL, one more document. */
static void scratch(char *dir, size_t size, const char *const *names, const char *extra)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, size, "%s/chaoslab-report-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; names && names[i]; i++) {
		char from[2048], to[2048], buf[65536];
		size_t n;
		FILE *in, *out;
		snprintf(from, sizeof(from), "%s/%s", results, names[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, names[i]);
		in = fopen(from, "r");
		out = fopen(to, "w");
		assert_non_null(in);
		assert_non_null(out);
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
		fclose(out);
	}
	if (extra) {
		char to[2048];
		FILE *out;
		snprintf(to, sizeof(to), "%s/extra.json", dir);
		out = fopen(to, "w");
		assert_non_null(out);
		fputs(extra, out);
		fclose(out);
	}
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char p[2048];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* ---- Markdown -------------------------------------------------------------------------- */

static void test_markdown_portfolio(void **state)
{
	struct loaded l;
	char *md;

	load(&l, results);
	md = render(report_markdown, &l.in);
	has(md, "# chaoslab portfolio\n\nGenerated 2024-06-01 00:00 UTC from the results in "
		"`results` (2 unreadable files skipped).\n");
	has(md, "a catalog of 6 drills, each with a runbook, covering curriculum days 1-27: 3 "
		"Linux, 2 network, 1 Kubernetes.");
	has(md, "**Practice so far**: 7 counted attempts of 4 drills between 2024-05-01 and "
		"2024-05-28: 5 fixed, 1 given up, 1 timed out, 0 aborted; 1 autopilot run");
	/* What was simulated, runs and counted runs per drill. */
	has(md, "| `dns-resolver` | Names stop resolving because of the wrong resolver | 7 | 2 (2) | "
		"65, fixed (2024-05-28) | 65, fixed (2024-05-28) |\n");
	has(md, "| `tls-expired` | HTTPS endpoint fails with an expired certificate | 26 | 2 (1) |");
	has(md, "| `oom-crashloop` | A container is OOM-killed in a loop | 27 | 2 (0) | - | none "
		"counted (latest run: error) |\n");
	has(md, "Not practised yet: `k8s-probe`, `oom-crashloop`.\n");
	/* How each was debugged: the best attempt and its events. */
	has(md, "### `proc-runaway`: Runaway process pegs the CPU (day 3)\n\nBest attempt, "
		"2024-05-01 (`20240501T090000Z-proc-runaway-a101`): fixed after 02:00 (par 03:00), 0 "
		"hints, score 100, confidence 4/5.\n");
	has(md, "How it went: symptom confirmed, clock started; hint 1 (penalty 5) at 01:15; hint 2 "
		"(penalty 10) at 02:15; fixed_when[0] process-absent: none alive at 12:00; fix held "
		"at 12:03.\n");
	has(md, "Attempts: 2024-05-10 0 (timed_out) -> 2024-05-28 65 (fixed).\n");

	/* The stories: DNS from the best DNS attempt; no OOM story (the runs
	 * never landed); cert rotation from the engineer's run, not the
	 * autopilot one. */
	has(md, "### 1. DNS incident\n\nDrafted from `dns-resolver` on 2024-05-28 (run "
		"`20240528T080000Z-dns-resolver-a109`, score 65).\n");
	has(md, "**Situation.** The api is up but clients say the name does not resolve.\n");
	has(md, "The root cause I found: resolv.conf pointed at a resolver that refuses lab.test.");
	has(md, "**Result.** Fixed after 12:00 against a par of 06:00, 2 hints, score 65/100. First "
		"attempt of this kind: 2024-05-10, timed_out, score 0; 2 in all.\n");
	has(md, "**What I would change.** Manage resolv.conf from one place.\n");
	has(md, "### 2. OOM / CrashLoop incident\n\nNo story yet: you have not done a drill of this "
		"kind yourself. Drills that would give you one: `chaoslab drill oom-crashloop` (day "
		"27).\n");
	has(md, "### 3. Certificate rotation incident\n\nDrafted from `tls-expired` on 2024-05-15 "
		"(run `20240515T120000Z-tls-expired-a106`, score 100).\n");
	has(md, "**What I would change.** Alert 14 days before expiry.\n");

	has(md, "## Gaps: the five weakest skills\n\n1. **k8s.crashloop**, weakness 66.0; never "
		"practised;");
	has(md, "3. **net.dns**, weakness 63.9;");
	has(md, "5. **k8s.probes**, weakness 60.0; never practised; next: `k8s-probe`, which does "
		"not run on this machine (no Kubernetes cluster).\n");
	lacks(md, "6. **");
	has(md, "| 2024-05-26 | skill linux.signals | 2 | 5.0/5 |\n| 2024-05-29 | day 27 | 2 | 1.5/5 "
		"|\n");
	has(md, "## Mock interviews\n\nNone yet (`chaoslab mock`).\n");
	free(md);
	unload(&l);
}

static void test_story_autopilot_only(void **state)
{
	static const char *const only[] = { "20240530T120000Z-tls-expired-a110.json", NULL };
	struct loaded l;
	char dir[1024], *md;

	scratch(dir, sizeof(dir), only, NULL);
	load(&l, dir);
	md = render(report_markdown, &l.in);
	has(md, "### 3. Certificate rotation incident\n\nNo story yet: you have not done a drill of "
		"this kind yourself (1 autopilot run: the reference solution fixed it, not you). "
		"Drills that would give you one: `chaoslab drill tls-expired` (day 26).\n");
	has(md, "## How each was debugged\n\nNothing to tell yet: no counted attempt");
	has(md, "| `tls-expired` | HTTPS endpoint fails with an expired certificate | 26 | 1 (0) | - "
		"| none counted (latest run: autopilot) |\n");
	free(md);
	unload(&l);
	remove_dir(dir);
}

/* ---- HTML ------------------------------------------------------------------------------ */

/* Every "points" list of the polylines: numbers in pairs, inside w x h. */
static int check_polylines(const char *html, double w, double h)
{
	int n = 0;

	for (const char *p = strstr(html, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
		const char *pts = strstr(p, "points=\"");
		const char *end = pts ? strchr(pts + 8, '"') : NULL;
		int pairs = 0;
		assert_non_null(end);
		for (const char *q = pts + 8; q < end;) {
			char *e1, *e2;
			double x = strtod(q, &e1), y;
			assert_true(e1 > q && *e1 == ',');
			y = strtod(e1 + 1, &e2);
			assert_true(e2 > e1 + 1);
			assert_true(x >= 0 && x <= w && y >= 0 && y <= h);
			pairs++;
			q = e2;
			while (*q == ' ')
				q++;
		}
		assert_true(pairs >= 1);
		n++;
	}
	return n;
}

static void test_html_self_contained(void **state)
{
	const char *weird = "{\"schema\":1,\"run_id\":\"20240531T000000Z-proc-runaway-x\","
			    "\"started_at\":\"2024-05-31T00:00:00Z\",\"outcome\":\"fixed\","
			    "\"autopilot\":false,\"score\":80,\"time_to_fix_seconds\":100,"
			    "\"hints_used\":[],\"root_cause\":\"<script>alert('x')</script> & "
			    "\\\"more\\\"\",\"scenario\":{\"id\":\"proc-runaway\",\"title\":\"Runaway\","
			    "\"skills\":[\"linux.cpu\"],\"par_seconds\":180,\"day\":3}}";
	static const char *const all[] = {
		"20240501T090000Z-proc-runaway-a101.json", "20240502T100000Z-proc-zombies-a102.json",
		"20240510T080000Z-dns-resolver-a105.json", "20240515T120000Z-tls-expired-a106.json",
		"20240520T090000Z-proc-runaway-a107.json", "20240525T100000Z-proc-zombies-a108.json",
		"20240528T080000Z-dns-resolver-a109.json", "20240530T120000Z-tls-expired-a110.json",
		NULL
	};
	struct loaded l;
	char dir[1024], *html, *p;

	scratch(dir, sizeof(dir), all, weird);
	load(&l, dir);
	html = render(report_html, &l.in);
	assert_true(!strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 31));
	has(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		  "style-src 'unsafe-inline'\">");
	/* Nothing to run, nothing to fetch: no script, no src/href, no url(),
	 * and the only URL is the SVG namespace name. */
	lacks(html, "<script");
	lacks(html, " src=");
	lacks(html, "href=");
	lacks(html, "url(");
	lacks(html, "@import");
	for (p = strstr(html, "http"); p; p = strstr(p + 1, "http"))
		if (strncmp(p, "http://www.w3.org/2000/svg\"", 27) &&
		    strncmp(p, "http-equiv", 10))
			fail_msg("a URL in the page: %.60s", p);
	has(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;");

	assert_int_equal(count(html, "<svg "), 3);
	assert_int_equal(count(html, "</svg>"), 3);
	/* One line per practised skill, all inside the 960 x 340 box. */
	assert_int_equal(check_polylines(html, 960, 340), 6);
	assert_int_equal(count(html, "<g class=\"series\" data-skill=\""), 6);
	/* Eight counted attempts: a bar each in two charts. */
	assert_int_equal(count(html, "<rect class=\"bar\""), 16);
	has(html, "<line class=\"par\"");
	has(html, "<title>2024-05-10 dns-resolver: not fixed (timed_out)</title>");
	has(html, "<title>2024-05-28 dns-resolver: fixed in 12:00, 2.00x par</title>");
	has(html, "<title>2024-05-28 dns-resolver: 2 hints (-15)</title>");
	has(html, "8 counted attempts, 1 autopilot run (not charted)");
	for (p = strstr(html, "height=\""); p; p = strstr(p + 1, "height=\""))
		assert_true(strtod(p + 8, NULL) >= 0);
	free(html);
	unload(&l);
	remove_dir(dir);
}

static void test_html_empty_history(void **state)
{
	struct loaded l;
	char dir[1024], *html;

	scratch(dir, sizeof(dir), NULL, NULL);
	load(&l, dir);
	html = render(report_html, &l.in);
	assert_int_equal(count(html, "<svg "), 3);
	assert_int_equal(count(html, "no counted attempts yet"), 3);
	assert_int_equal(count(html, "<polyline"), 0);
	free(html);
	html = render(report_markdown, &l.in);
	has(html, "## Failures simulated\n\nNone yet: no drill has been run.\n");
	assert_int_equal(count(html, "No story yet"), 3);
	free(html);
	unload(&l);
	remove_dir(dir);
}

/* ---- the Prometheus text format -------------------------------------------------------- */

struct series {
	char name[128];
	char labels[512]; /* name=value pairs, sorted, unescaped */
};

struct exposition {
	struct series s[256];
	int ns;
	char fam[64][128];
	char type[64][16];
	bool help[64], typed[64], done[64];
	int nfam;
	int current;
};

static bool metric_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

static bool label_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_') || !strncmp(s, "__", 2))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static int family_of(struct exposition *x, const char *name, bool add)
{
	for (int i = 0; i < x->nfam; i++)
		if (!strcmp(x->fam[i], name))
			return i;
	if (!add)
		return -1;
	assert_true(x->nfam < 64);
	snprintf(x->fam[x->nfam], sizeof(x->fam[0]), "%s", name);
	return x->nfam++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse one sample line strictly; fills a series; returns the value. */
static double parse_sample(const char *line, struct series *out)
{
	const char *p = line;
	char *pairs[16], buf[512];
	int np = 0;
	double v;
	char *end;

	while (*p && *p != '{' && *p != ' ')
		p++;
	if (!metric_name(line, (size_t)(p - line)))
		fail_msg("bad metric name in '%s'", line);
	snprintf(out->name, sizeof(out->name), "%.*s", (int)(p - line), line);
	out->labels[0] = '\0';
	if (*p == '{') {
		p++;
		while (*p != '}') {
			const char *n0 = p;
			size_t bl = 0;
			while (*p && *p != '=')
				p++;
			if (!label_name(n0, (size_t)(p - n0)) || p[1] != '"')
				fail_msg("bad label in '%s'", line);
			bl = (size_t)snprintf(buf, sizeof(buf), "%.*s=", (int)(p - n0), n0);
			for (p += 2; *p != '"'; p++) {
				char c = *p;
				if (!c || c == '\n')
					fail_msg("unterminated label value in '%s'", line);
				if (c == '\\') {
					p++;
					if (*p == 'n')
						c = '\n';
					else if (*p == '\\' || *p == '"')
						c = *p;
					else
						fail_msg("bad escape in '%s'", line);
				}
				if (bl + 1 < sizeof(buf))
					buf[bl++] = c;
			}
			buf[bl] = '\0';
			for (int i = 0; i < np; i++)
				if (!strncmp(pairs[i], buf, strcspn(buf, "=") + 1))
					fail_msg("repeated label in '%s'", line);
			pairs[np++] = strdup(buf);
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				fail_msg("expected , or } in '%s'", line);
		}
		p++;
	}
	if (*p != ' ')
		fail_msg("no space before the value in '%s'", line);
	p++;
	if (!strcmp(p, "NaN") || !strcmp(p, "+Inf") || !strcmp(p, "-Inf"))
		v = 0;
	else {
		v = strtod(p, &end);
		if (end == p || (*end && *end != ' '))
			fail_msg("bad value in '%s'", line);
		if (*end == ' ') {
			strtoll(end + 1, &end, 10);
			if (*end)
				fail_msg("bad timestamp in '%s'", line);
		}
	}
	qsort(pairs, (size_t)np, sizeof(pairs[0]), cmp_str);
	for (int i = 0; i < np; i++) {
		size_t l = strlen(out->labels);
		snprintf(out->labels + l, sizeof(out->labels) - l, "%s%s", i ? "\x1f" : "", pairs[i]);
		free(pairs[i]);
	}
	return v;
}

/* The exposition-format rules, line by line. */
static void parse_exposition(const char *text, struct exposition *x)
{
	const char *p = text;
	static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };

	memset(x, 0, sizeof(*x));
	x->current = -1;
	assert_true(*text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	while (*p) {
		const char *nl = strchr(p, '\n');
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		p = nl + 1;
		if (!line[0])
			fail_msg("empty line in the exposition");
		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			char *name = line + 7, *rest = strchr(name, ' ');
			int f;
			if (!rest || !metric_name(name, (size_t)(rest - name)))
				fail_msg("bad comment line '%s'", line);
			*rest++ = '\0';
			f = family_of(x, name, true);
			if (x->done[f])
				fail_msg("family '%s' appears twice", name);
			if (line[2] == 'H') {
				if (x->help[f])
					fail_msg("two HELP lines for '%s'", name);
				x->help[f] = true;
				for (const char *c = rest; *c; c++)
					if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
						fail_msg("bad escape in HELP '%s'", line);
			} else {
				bool ok = false;
				if (x->typed[f])
					fail_msg("two TYPE lines for '%s'", name);
				x->typed[f] = true;
				for (size_t i = 0; i < 5; i++)
					ok = ok || !strcmp(rest, types[i]);
				if (!ok)
					fail_msg("bad type '%s'", rest);
				snprintf(x->type[f], sizeof(x->type[0]), "%s", rest);
				if (!strcmp(rest, "counter") &&
				    strcmp(name + strlen(name) - 6, "_total"))
					fail_msg("counter '%s' does not end in _total", name);
			}
			if (x->current >= 0 && x->current != f)
				x->done[x->current] = true;
			x->current = f;
			continue;
		}
		if (line[0] == '#')
			continue;
		assert_true(x->ns < 256);
		struct series *s = &x->s[x->ns];
		parse_sample(line, s);
		int f = family_of(x, s->name, false);
		if (f < 0 || !x->typed[f] || !x->help[f])
			fail_msg("sample before its HELP and TYPE: '%s'", line);
		if (x->done[f] || (x->current != f))
			fail_msg("family '%s' is not contiguous", s->name);
		for (int i = 0; i < x->ns; i++)
			if (!strcmp(x->s[i].name, s->name) && !strcmp(x->s[i].labels, s->labels))
				fail_msg("duplicate series '%s'", line);
		x->ns++;
	}
}

static const char *sample_value(const char *text, const char *series)
{
	static char buf[64];
	char want[512];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(text, want);
	if (!p)
		fail_msg("no sample %s", series);
	p += strlen(want);
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

static void test_prom_format(void **state)
{
	struct loaded l;
	struct exposition x;
	char *t;

	load(&l, results);
	t = render(prom_fn, &l.in);
	parse_exposition(t, &x);
	assert_int_equal(x.nfam, 10);
	assert_string_equal(sample_value(t, "chaoslab_drill_score{scenario=\"dns-resolver\","
					    "skill=\"net.dns\"}"),
			    "65");
	assert_string_equal(sample_value(t, "chaoslab_drill_score{scenario=\"proc-runaway\","
					    "skill=\"linux.cpu\"}"),
			    "90");
	/* The autopilot run (100) is not the latest counted one: 100 from
	 * the engineer's own. */
	assert_string_equal(sample_value(t, "chaoslab_drill_score{scenario=\"tls-expired\","
					    "skill=\"ops.cert-rotation\"}"),
			    "100");
	assert_string_equal(sample_value(t, "chaoslab_drill_hints_used{scenario=\"dns-resolver\"}"),
			    "2");
	assert_string_equal(sample_value(t, "chaoslab_drill_time_to_fix_seconds{scenario="
					    "\"proc-zombies\"}"),
			    "300");
	assert_string_equal(sample_value(t, "chaoslab_drill_attempts_total{scenario="
					    "\"tls-expired\"}"),
			    "1");
	assert_string_equal(sample_value(t, "chaoslab_drill_last_attempt_timestamp_seconds{"
					    "scenario=\"dns-resolver\"}"),
			    "1716883200");
	assert_string_equal(sample_value(t, "chaoslab_skill_weakness{skill=\"net.dns\"}"), "63.9");
	assert_string_equal(sample_value(t, "chaoslab_skill_gap_rank{skill=\"k8s.crashloop\"}"),
			    "1");
	lacks(t, "chaoslab_skill_gap_rank{skill=\"linux.signals\"}");
	assert_string_equal(sample_value(t, "chaoslab_results_unreadable_files"), "2");
	assert_string_equal(sample_value(t, "chaoslab_textfile_generated_timestamp_seconds"),
			    "1717200000");
	/* Never counted: no drill series for oom-crashloop. */
	lacks(t, "scenario=\"oom-crashloop\"");
	has(t, "# TYPE chaoslab_drill_attempts_total counter\n");
	free(t);
	unload(&l);
}

static void test_prom_escaping(void **state)
{
	const char *weird = "{\"schema\":1,\"run_id\":\"w\",\"started_at\":\"2024-05-31T00:00:00Z\","
			    "\"outcome\":\"fixed\",\"autopilot\":false,\"score\":70,\"hints_used\":[],"
			    "\"scenario\":{\"id\":\"we\\\"ird\",\"skills\":[\"a\\\\b\\nc\\\"d\","
			    "\"a\\\\b\\nc\\\"d\",\"plain\"],\"par_seconds\":60}}";
	struct loaded l;
	struct exposition x;
	char dir[1024], *t;
	bool found = false;

	scratch(dir, sizeof(dir), NULL, weird);
	load(&l, dir);
	t = render(prom_fn, &l.in);
	parse_exposition(t, &x);
	has(t, "chaoslab_drill_score{scenario=\"we\\\"ird\",skill=\"a\\\\b\\nc\\\"d\"} 70\n");
	/* The parser gives back what went in, and the repeated skill made one
	 * series, not two. */
	for (int i = 0; i < x.ns; i++)
		if (!strcmp(x.s[i].name, "chaoslab_drill_score") &&
		    !strcmp(x.s[i].labels, "scenario=we\"ird\x1fskill=a\\b\nc\"d"))
			found = !found;
	assert_true(found);
	free(t);
	unload(&l);
	remove_dir(dir);
}

/* ---- saving and mocks ------------------------------------------------------------------ */

static int hello(FILE *out, const void *arg)
{
	fprintf(out, "hello %s\n", (const char *)arg);
	return 0;
}

static void test_report_save(void **state)
{
	char dir[1024], path[1100], buf[64];
	struct cl_error err;
	struct dirent *de;
	DIR *d;
	FILE *f;
	int files = 0;

	scratch(dir, sizeof(dir), NULL, NULL);
	snprintf(path, sizeof(path), "%s/out.md", dir);
	assert_int_equal(report_save(path, hello, "world", &err), 0);
	assert_int_equal(report_save(path, hello, "again", &err), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "hello again\n");
	d = opendir(dir);
	while ((de = readdir(d)))
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1); /* no temp file left */
	snprintf(path, sizeof(path), "%s/missing/out.md", dir);
	cl_error_clear(&err);
	assert_int_equal(report_save(path, hello, "x", &err), -1);
	has(err.msg, "unable to create");
	remove_dir(dir);
}

static void test_mock_markdown(void **state)
{
	cJSON *m = cJSON_Parse(
		"{\"schema\":1,\"kind\":\"mock\",\"run_id\":\"20240601T100000Z-mock-1\","
		"\"started_at\":\"2024-06-01T10:00:00Z\",\"budget_seconds\":5400,"
		"\"used_seconds\":1234.5,\"autopilot\":false,\"score\":45,\"drills\":["
		"{\"domain\":\"linux\",\"status\":\"run\",\"scenario\":\"proc-zombies\","
		"\"outcome\":\"fixed\",\"score\":90,\"time_limit_seconds\":900,"
		"\"elapsed_seconds\":300},"
		"{\"domain\":\"net\",\"status\":\"skipped\",\"scenario\":\"dns-resolver\","
		"\"reason\":\"budget spent (10 s left, a drill needs 30)\",\"score\":0},"
		"{\"domain\":\"k8s\",\"status\":\"skipped\",\"reason\":\"no k8s drill runs here "
		"(a | b)\"}]}");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(report_mock_markdown(f, m), 0);
	fclose(f);
	has(buf, "### Mock interview, 2024-06-01 (`20240601T100000Z-mock-1`)\n\nBudget 1:30:00, "
		 "used 20:35. Combined score **45/100**");
	has(buf, "| linux | `proc-zombies` | fixed | 90 | 05:00 | 15:00 |\n");
	has(buf, "| net | `dns-resolver` | skipped: budget spent (10 s left, a drill needs 30) | - | "
		 "- | - |\n");
	has(buf, "| k8s | - | skipped: no k8s drill runs here (a \\| b) |");
	free(buf);
	cJSON_Delete(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_markdown_portfolio),
		cmocka_unit_test(test_story_autopilot_only),
		cmocka_unit_test(test_html_self_contained),
		cmocka_unit_test(test_html_empty_history),
		cmocka_unit_test(test_prom_format),
		cmocka_unit_test(test_prom_escaping),
		cmocka_unit_test(test_report_save),
		cmocka_unit_test(test_mock_markdown),
	};
	const char *src = getenv("CHAOSLAB_SRC");
	char scen[1024];

	if (!src || !*src) {
		fprintf(stderr, "test_report: skipped: CHAOSLAB_SRC is not set (ctest sets it)\n");
		return 77;
	}
	snprintf(results, sizeof(results), "%s/tests/data/history/results", src);
	snprintf(scen, sizeof(scen), "%s/tests/data/history/catalog/scenarios", src);
	setenv("CHAOSLAB_SCENARIOS", scen, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
