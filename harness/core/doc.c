#include "core/doc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Scenario files are small; a cap keeps a runaway file from eating memory. */
#define DOC_MAX_BYTES (4u << 20)
#define DOC_MAX_DEPTH 64
/* Far more than any scenario needs; keeps the duplicate-key check (linear
 * per key) from turning a big file into minutes of work. */
#define DOC_MAX_ITEMS 10000

static struct doc_node *node_new(enum doc_kind kind, struct cl_mark mark)
{
	struct doc_node *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->mark = mark;
	}
	return n;
}

void doc_free(struct doc_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->len; i++) {
		if (n->keys)
			free(n->keys[i]);
		if (n->items)
			doc_free(n->items[i]);
	}
	free(n->keys);
	free(n->key_marks);
	free(n->items);
	free(n->text);
	free(n);
}

/* Append an item (and, for maps, its key). Takes ownership of key and item,
 * also on failure. */
static int node_push(struct doc_node *n, char *key, struct cl_mark kmark, struct doc_node *item)
{
	struct doc_node **items = realloc(n->items, (n->len + 1) * sizeof(*items));

	if (!items)
		goto fail;
	n->items = items;
	if (n->kind == DOC_MAP) {
		char **keys = realloc(n->keys, (n->len + 1) * sizeof(*keys));
		if (!keys)
			goto fail;
		n->keys = keys;
		struct cl_mark *km = realloc(n->key_marks, (n->len + 1) * sizeof(*km));
		if (!km)
			goto fail;
		n->key_marks = km;
		n->keys[n->len] = key;
		n->key_marks[n->len] = kmark;
	}
	n->items[n->len++] = item;
	return 0;
fail:
	free(key);
	doc_free(item);
	return -1;
}

struct doc_node *doc_map_get(const struct doc_node *map, const char *key, size_t *idx)
{
	if (!map || map->kind != DOC_MAP)
		return NULL;
	for (size_t i = 0; i < map->len; i++) {
		if (strcmp(map->keys[i], key) == 0) {
			if (idx)
				*idx = i;
			return map->items[i];
		}
	}
	return NULL;
}

bool doc_is_null(const struct doc_node *n)
{
	if (!n || n->kind != DOC_SCALAR || n->style != DOC_PLAIN)
		return false;
	return !n->text[0] || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
	       !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

const char *doc_kind_name(const struct doc_node *n)
{
	const char *t, *end;

	if (!n)
		return "nothing";
	if (n->kind == DOC_MAP)
		return "mapping";
	if (n->kind == DOC_SEQ)
		return "sequence";
	if (n->style == DOC_QUOTED)
		return "string";
	if (doc_is_null(n))
		return "null";
	t = n->text;
	if (!strcmp(t, "true") || !strcmp(t, "false") || !strcmp(t, "True") ||
	    !strcmp(t, "False") || !strcmp(t, "TRUE") || !strcmp(t, "FALSE"))
		return "boolean";
	errno = 0;
	strtoll(t, (char **)&end, 10);
	if (*t && !*end && !errno)
		return "integer";
	strtod(t, (char **)&end);
	if (*t && !*end)
		return "number";
	return "string";
}

/* The key path of the node being read ("inject[0].with"), for messages. */
struct doc_path {
	char s[160];
	size_t len;
};

/* Append ".key" or "[i]"; returns the length to restore with path_pop. */
static size_t path_push(struct doc_path *p, const char *key, size_t index)
{
	size_t old = p->len;
	int n;

	if (key)
		n = snprintf(p->s + p->len, sizeof(p->s) - p->len, "%s%s", p->len ? "." : "", key);
	else
		n = snprintf(p->s + p->len, sizeof(p->s) - p->len, "[%zu]", index);
	if (n > 0)
		p->len = p->len + (size_t)n < sizeof(p->s) ? p->len + (size_t)n : sizeof(p->s) - 1;
	return old;
}

static void path_pop(struct doc_path *p, size_t old)
{
	p->len = old;
	p->s[old] = '\0';
}

/* Duplicate keys are legal for both parsers but always a mistake here. path
 * already names the key. */
static int check_duplicate_key(const char *file, const struct doc_node *map, const char *key,
			       struct cl_mark kmark, const struct doc_path *path,
			       struct cl_error *err)
{
	for (size_t i = 0; i < map->len; i++) {
		if (!strcmp(map->keys[i], key))
			return cl_error_at(err, file, &kmark, path->s,
					   "duplicate key '%s' (first at line %d)", key,
					   map->key_marks[i].line);
	}
	return 0;
}

/* ---- YAML ---------------------------------------------------------------- */

struct yaml_ctx {
	yaml_parser_t parser;
	const char *file;
	const char *text;
	size_t len;
	size_t nchars;		 /* characters in text, as libyaml counts them */
	struct cl_mark end_mark; /* just past the last character */
	struct cl_error *err;
	struct doc_path path;
};

/* libyaml's mark as ours. At the end of the input libyaml moves to a line of
 * its own even when the last line has no line break: such marks become the
 * real end of the text. */
static struct cl_mark ymark(const struct yaml_ctx *y, yaml_mark_t m)
{
	struct cl_mark mk = { (int)m.line + 1, (int)m.column + 1 };

	return m.index >= y->nchars ? y->end_mark : mk;
}

static struct cl_mark mark_of(const char *text, const char *at, const char *end);

/* libyaml's reader errors (bad UTF-8, control characters) carry a byte offset
 * instead of a mark, and its own wording does not say which byte. */
static int yaml_reader_error(struct yaml_ctx *y)
{
	size_t off = y->parser.problem_offset < y->len ? y->parser.problem_offset : y->len;
	struct cl_mark mk = mark_of(y->text, y->text + off, y->text + y->len);
	int v = y->parser.problem_value;

	if (v == 0 && off < y->len && y->text[off] == '\0')
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML syntax error: NUL byte in file");
	if (y->parser.problem && off < y->len &&
	    (strstr(y->parser.problem, "UTF-8") || strstr(y->parser.problem, "Unicode")))
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML syntax error: invalid UTF-8 (byte 0x%02x)",
				   (unsigned char)y->text[off]);
	if (y->parser.problem && strstr(y->parser.problem, "control characters"))
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML syntax error: control character 0x%02x is not allowed",
				   (unsigned)v);
	return cl_error_at(y->err, y->file, &mk, NULL, "YAML syntax error: %s",
			   y->parser.problem ? y->parser.problem : "unreadable input");
}

/* libyaml's mark.index counts characters after any byte order mark; the
 * byte offset of that character in the input (len if past the end). */
static size_t yaml_byte_offset(const struct yaml_ctx *y, size_t index)
{
	size_t off = 0;

	if (y->len >= 3 && !memcmp(y->text, "\xEF\xBB\xBF", 3))
		off = 3;
	while (index-- && off < y->len) {
		off++;
		while (off < y->len && ((unsigned char)y->text[off] & 0xC0) == 0x80)
			off++;
	}
	return off < y->len ? off : y->len;
}

static int yaml_next(struct yaml_ctx *y, yaml_event_t *ev)
{
	const char *problem, *hint = "";
	struct cl_mark mk, ck;
	size_t at;

	if (yaml_parser_parse(&y->parser, ev))
		return 0;
	if (y->parser.error == YAML_READER_ERROR)
		return yaml_reader_error(y);
	problem = y->parser.problem ? y->parser.problem : "invalid YAML";
	mk = ymark(y, y->parser.problem_mark);
	ck = ymark(y, y->parser.context_mark);
	at = yaml_byte_offset(y, y->parser.problem_mark.index);
	/* libyaml's wording for the two commonest slips does not name them. */
	if (!strcmp(problem, "found character that cannot start any token")) {
		char c = at < y->len ? y->text[at] : ' ';
		if (c == '\t')
			return cl_error_at(y->err, y->file, &mk, NULL,
					   "YAML syntax error: tab character; indent with spaces");
		if (c > ' ' && c < 0x7f)
			return cl_error_at(y->err, y->file, &mk, NULL,
					   "YAML syntax error: '%c' cannot start a plain value; "
					   "put the value in quotes",
					   c);
	}
	if (!strcmp(problem, "mapping values are not allowed in this context"))
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML syntax error: unexpected ':' (quote a value that holds "
				   "': ', or check the indentation)");
	if (!strcmp(problem, "did not find expected key") ||
	    !strcmp(problem, "did not find expected '-' indicator"))
		hint = " (check the indentation)";
	if (!y->parser.context)
		return cl_error_at(y->err, y->file, &mk, NULL, "YAML syntax error: %s%s", problem,
				   hint);
	/* The context ("while parsing a flow sequence") often starts far above the
	 * problem: say where. */
	if (ck.line != mk.line || ck.column != mk.column)
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML syntax error: %s%s %s started at line %d, column %d",
				   problem, hint, y->parser.context, ck.line, ck.column);
	return cl_error_at(y->err, y->file, &mk, NULL, "YAML syntax error: %s%s %s", problem, hint,
			   y->parser.context);
}

static struct doc_node *yaml_node(struct yaml_ctx *y, yaml_event_t *ev, int depth);

/* Anchors, aliases and tags change what a value means far from where it is
 * written; a scenario spells everything out. -1 with err set if ev has one. */
static int yaml_refuse_extras(struct yaml_ctx *y, const yaml_event_t *ev)
{
	static const char std[] = "tag:yaml.org,2002:";
	struct cl_mark mk = ymark(y, ev->start_mark);
	const yaml_char_t *anchor = NULL, *tag = NULL;
	bool implicit = true;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		anchor = ev->data.alias.anchor;
		break;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		implicit = ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		implicit = ev->data.sequence_start.implicit;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		implicit = ev->data.mapping_start.implicit;
		break;
	default:
		return 0;
	}
	if (ev->type == YAML_ALIAS_EVENT)
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML aliases (*%s) are not supported; write the value out",
				   anchor ? (const char *)anchor : "");
	if (anchor)
		return cl_error_at(y->err, y->file, &mk, NULL,
				   "YAML anchors (&%s) are not supported; write the value out",
				   (const char *)anchor);
	if (tag && !implicit) {
		const char *t = (const char *)tag;
		bool short_form = !strncmp(t, std, sizeof(std) - 1);
		return cl_error_at(y->err, y->file, &mk, NULL, "YAML tags (%s%s) are not supported",
				   short_form ? "!!" : "", short_form ? t + sizeof(std) - 1 : t);
	}
	return 0;
}

static struct doc_node *yaml_collection(struct yaml_ctx *y, yaml_event_t *start, int depth)
{
	bool is_map = start->type == YAML_MAPPING_START_EVENT;
	struct doc_node *n = node_new(is_map ? DOC_MAP : DOC_SEQ, ymark(y, start->start_mark));
	yaml_event_t ev;

	if (!n) {
		cl_error_set(y->err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	for (;;) {
		char *key = NULL;
		struct cl_mark kmark = { 0, 0 };

		if (yaml_next(y, &ev))
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return n;
		}
		if (n->len >= DOC_MAX_ITEMS) {
			struct cl_mark mk = ymark(y, ev.start_mark);
			cl_error_at(y->err, y->file, &mk, y->path.s, "more than %d entries in one %s",
				    DOC_MAX_ITEMS, is_map ? "mapping" : "sequence");
			yaml_event_delete(&ev);
			goto fail;
		}
		if (is_map) {
			kmark = ymark(y, ev.start_mark);
			if (yaml_refuse_extras(y, &ev)) {
				yaml_event_delete(&ev);
				goto fail;
			}
			if (ev.type != YAML_SCALAR_EVENT) {
				cl_error_at(y->err, y->file, &kmark, y->path.s,
					    "mapping keys must be strings, got a %s",
					    ev.type == YAML_MAPPING_START_EVENT ? "mapping" :
										  "sequence");
				yaml_event_delete(&ev);
				goto fail;
			}
			key = strdup((const char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			if (!key) {
				cl_error_set(y->err, CL_EXIT_USAGE, "out of memory");
				goto fail;
			}
		}
		size_t saved = path_push(&y->path, key, n->len);
		if (key && check_duplicate_key(y->file, n, key, kmark, &y->path, y->err)) {
			free(key);
			goto fail;
		}
		if (key && yaml_next(y, &ev)) {
			free(key);
			goto fail;
		}
		struct doc_node *item = yaml_node(y, &ev, depth + 1);
		path_pop(&y->path, saved);
		if (!item) {
			free(key);
			goto fail;
		}
		if (node_push(n, key, kmark, item)) {
			cl_error_set(y->err, CL_EXIT_USAGE, "out of memory");
			goto fail;
		}
	}
fail:
	doc_free(n);
	return NULL;
}

/* Consumes ev (always deleted). */
static struct doc_node *yaml_node(struct yaml_ctx *y, yaml_event_t *ev, int depth)
{
	struct doc_node *n = NULL;
	struct cl_mark mk = ymark(y, ev->start_mark);

	if (depth > DOC_MAX_DEPTH) {
		cl_error_at(y->err, y->file, &mk, NULL, "nesting deeper than %d levels",
			    DOC_MAX_DEPTH);
		goto out;
	}
	if (yaml_refuse_extras(y, ev))
		goto out;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(DOC_SCALAR, mk);
		if (n) {
			n->text = strndup((const char *)ev->data.scalar.value,
					  ev->data.scalar.length);
			n->style = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? DOC_PLAIN
										 : DOC_QUOTED;
			if (!n->text) {
				doc_free(n);
				n = NULL;
			}
		}
		if (!n)
			cl_error_set(y->err, CL_EXIT_USAGE, "out of memory");
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		n = yaml_collection(y, ev, depth);
		break;
	default:
		cl_error_at(y->err, y->file, &mk, NULL, "unexpected YAML event");
		break;
	}
out:
	yaml_event_delete(ev);
	return n;
}

/* True when text holds nothing but whitespace (and, for YAML, comments). */
static bool text_blank(const char *text, size_t len, bool comments)
{
	bool in_comment = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_comment) {
			in_comment = c != '\n';
			continue;
		}
		if (comments && c == '#') {
			in_comment = true;
			continue;
		}
		if (!strchr(" \t\r\n", c) || c == '\0')
			return false;
	}
	return true;
}

struct doc_node *doc_parse_yaml(const char *file, const char *text, size_t len,
				struct cl_error *err)
{
	struct yaml_ctx y = { .file = file, .text = text, .len = len, .err = err };
	struct doc_node *root = NULL;
	yaml_event_t ev;
	bool got_doc = false;

	if (!yaml_parser_initialize(&y.parser)) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
	y.end_mark = mark_of(text, text + len, text + len);
	for (size_t i = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0; i < len; i++)
		y.nchars += ((unsigned char)text[i] & 0xC0) != 0x80;
	for (;;) {
		if (yaml_next(&y, &ev))
			goto fail;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&ev);
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (got_doc) {
				struct cl_mark mk = ymark(&y, ev.start_mark);
				cl_error_at(err, file, &mk, NULL,
					    "more than one YAML document; a scenario file holds one");
				yaml_event_delete(&ev);
				goto fail;
			}
			got_doc = true;
			yaml_event_delete(&ev);
			if (yaml_next(&y, &ev))
				goto fail;
			root = yaml_node(&y, &ev, 0);
			if (!root)
				goto fail;
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			if (!root) {
				struct cl_mark mk = { 1, 1 };
				cl_error_at(err, file, &mk, NULL,
					    text_blank(text, len, false) ?
						    "file is empty" :
						    "file holds only comments, no scenario");
				goto fail;
			}
			yaml_parser_delete(&y.parser);
			return root;
		default:
			yaml_event_delete(&ev);
			break;
		}
	}
fail:
	doc_free(root);
	yaml_parser_delete(&y.parser);
	return NULL;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Does the byte at p end a line? "\n", "\r\n" (at its "\n") and a lone "\r"
 * do, as libyaml counts them. */
static bool line_break_at(const char *p, const char *end)
{
	return *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] != '\n'));
}

/* The line and column of at in text (which ends at end). */
static struct cl_mark mark_of(const char *text, const char *at, const char *end)
{
	struct cl_mark mk = { 1, 1 };

	for (const char *p = text; p < at; p++) {
		if (line_break_at(p, end)) {
			mk.line++;
			mk.column = 1;
		} else if (((unsigned char)*p & 0xC0) != 0x80) {
			mk.column++; /* count characters, not UTF-8 continuation bytes */
		}
	}
	return mk;
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if it is not
 * one (stray continuation byte, overlong form, surrogate, past U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* A strict JSON (RFC 8259) checker run before cJSON. cJSON accepts text JSON
 * does not (leading zeros, "1.", raw control characters in strings) and only
 * knows roughly where it stopped; this says what is wrong and where. Text it
 * passes is well-formed UTF-8 JSON nested at most DOC_MAX_DEPTH deep, which
 * cJSON parses and the mark walk below can rely on. */
struct jscan {
	const char *text, *p, *end;
	const char *file;
	struct cl_error *err;
	int depth;
	const char *open[DOC_MAX_DEPTH + 1]; /* the '{' or '[' of each level */
};

static int js_fail(struct jscan *s, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int js_fail(struct jscan *s, const char *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct cl_mark mk = mark_of(s->text, at, s->end);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cl_error_at(s->err, s->file, &mk, NULL, "JSON syntax error: %s", msg);
}

static bool js_delim(char c)
{
	return strchr(" \t\r\n,:[]{}\"", c) != NULL;
}

/* The token at p for messages: a quoted string, one punctuation character, or
 * a run of other characters; at most about 20 bytes. */
static const char *js_token(const struct jscan *s, const char *p, char *buf, size_t size)
{
	size_t n = 0, max = size - 1 < 20 ? size - 1 : 20;

	if (p >= s->end)
		return "end of file";
	if (*p == '"') {
		n = 1;
		while (p + n < s->end && n < max && p[n] != '"' && p[n] != '\n')
			n++;
		if (p + n < s->end && n < max && p[n] == '"')
			n++;
	} else if (js_delim(*p)) {
		n = 1;
	} else {
		while (p + n < s->end && n < max && !js_delim(p[n]))
			n++;
	}
	/* never cut a UTF-8 sequence in two */
	while (n > 1 && p + n < s->end && ((unsigned char)p[n] & 0xC0) == 0x80)
		n--;
	buf[0] = '\'';
	memcpy(buf + 1, p, n);
	buf[n + 1] = '\'';
	buf[n + 2] = '\0';
	return buf;
}

static void js_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool js_hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return false;
	}
	*out = v;
	return true;
}

static int js_string(struct jscan *s)
{
	const char *start = s->p++;

	for (;;) {
		if (s->p >= s->end)
			return js_fail(s, start, "string not closed before the end of the file");
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c == '\n' || c == '\r')
			return js_fail(s, s->p,
				       "line break inside a string (write it as \\n, "
				       "or is a closing '\"' missing?)");
		if (c == '\t')
			return js_fail(s, s->p, "tab inside a string (write it as \\t)");
		if (c < 0x20)
			return js_fail(s, s->p, "control character 0x%02x inside a string", c);
		if (c != '\\') {
			s->p++;
			continue;
		}
		const char *esc = s->p;
		unsigned u, lo;
		if (s->end - esc < 2)
			return js_fail(s, start, "string not closed before the end of the file");
		if (strchr("\"\\/bfnrt", esc[1]) && esc[1]) {
			s->p += 2;
			continue;
		}
		if (esc[1] != 'u' && esc[1] > ' ' && esc[1] < 0x7f)
			return js_fail(s, esc, "invalid escape '\\%c' in a string", esc[1]);
		if (esc[1] != 'u')
			return js_fail(s, esc, "invalid escape: '\\' followed by byte 0x%02x",
				       (unsigned char)esc[1]);
		if (!js_hex4(esc + 2, s->end, &u))
			return js_fail(s, esc, "invalid escape: \\u takes four hex digits");
		s->p = esc + 6;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return js_fail(s, esc, "invalid escape: unpaired UTF-16 surrogate \\u%04x",
				       u);
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
			    !js_hex4(s->p + 2, s->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
				return js_fail(s, esc,
					       "invalid escape: unpaired UTF-16 surrogate \\u%04x",
					       u);
			s->p += 6;
		}
	}
}

/* cJSON reads a number through a 64-byte buffer. */
#define JS_MAX_NUMBER 63

static int js_number(struct jscan *s)
{
	const char *start = s->p, *p = s->p;
	char tok[32];

	if (p < s->end && *p == '-')
		p++;
	if (p < s->end && *p == '0') {
		p++;
	} else if (p < s->end && *p >= '1' && *p <= '9') {
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		goto bad;
	}
	if (p < s->end && *p == '.') {
		p++;
		if (p >= s->end || !(*p >= '0' && *p <= '9'))
			goto bad;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || !(*p >= '0' && *p <= '9'))
			goto bad;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && !js_delim(*p))
		goto bad;
	if (p - start > JS_MAX_NUMBER)
		return js_fail(s, start, "number longer than %d characters", JS_MAX_NUMBER);
	s->p = p;
	return 0;
bad:
	return js_fail(s, start, "invalid number %s", js_token(s, start, tok, sizeof(tok)));
}

/* Say why the text at p cannot start a value. */
static int js_not_value(struct jscan *s, const char *p)
{
	char tok[32];
	unsigned char c;

	if (p >= s->end) {
		if (!s->depth)
			return js_fail(s, p, "file is empty");
		return js_fail(s, p, "unexpected end of file");
	}
	c = (unsigned char)*p;
	if (c == '\'')
		return js_fail(s, p, "strings take double quotes (\"), not single quotes");
	if (c == '/')
		return js_fail(s, p, "comments are not allowed in JSON");
	if (c < 0x20 || c == 0x7f)
		return js_fail(s, p, "control character 0x%02x is not allowed here", c);
	js_token(s, p, tok, sizeof(tok));
	if ((c == '}' || c == ']') && s->depth &&
	    *s->open[s->depth - 1] != (c == '}' ? '{' : '[')) {
		struct cl_mark om = mark_of(s->text, s->open[s->depth - 1], s->end);
		return js_fail(s, p,
			       "expected a value, got '%c' (the '%c' at line %d, column %d "
			       "is not closed)",
			       c, *s->open[s->depth - 1], om.line, om.column);
	}
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
		static const char *const literals[] = { "true", "false", "null", NULL };
		char word[24];
		size_t n = strlen(tok) - 2;
		const char *dym;

		memcpy(word, tok + 1, n);
		word[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if (word[i] >= 'A' && word[i] <= 'Z')
				word[i] = (char)(word[i] - 'A' + 'a');
		dym = cl_did_you_mean(word, literals, (size_t)-1);
		if (!strcmp(word, "true") || !strcmp(word, "false") || !strcmp(word, "null"))
			dym = word;
		if (dym)
			return js_fail(s, p, "expected a value, got %s (did you mean '%s'?)", tok,
				       dym);
		return js_fail(s, p, "expected a value, got %s (strings take double quotes)", tok);
	}
	return js_fail(s, p, "expected a value, got %s", tok);
}

/* Where the missing text should go: right after the last non-blank byte. */
static const char *js_eof_at(const struct jscan *s)
{
	const char *p = s->end;

	while (p > s->text && strchr(" \t\r\n", p[-1]))
		p--;
	return p;
}

static int js_unclosed(struct jscan *s)
{
	const char *open = s->open[s->depth - 1];
	struct cl_mark om = mark_of(s->text, open, s->end);

	return js_fail(s, js_eof_at(s),
		       "unexpected end of file: the '%c' at line %d, column %d is not closed",
		       *open, om.line, om.column);
}

static int js_value(struct jscan *s)
{
	const char *at = s->p;

	if (s->depth > DOC_MAX_DEPTH)
		return js_fail(s, at, "nesting deeper than %d levels", DOC_MAX_DEPTH);
	if (at < s->end && *at == '"')
		return js_string(s);
	if (at < s->end && (*at == '-' || (*at >= '0' && *at <= '9')))
		return js_number(s);
	if (s->end - at >= 4 && (!strncmp(at, "true", 4) || !strncmp(at, "null", 4)) &&
	    (s->end - at == 4 || js_delim(at[4]))) {
		s->p += 4;
		return 0;
	}
	if (s->end - at >= 5 && !strncmp(at, "false", 5) && (s->end - at == 5 || js_delim(at[5]))) {
		s->p += 5;
		return 0;
	}
	return js_not_value(s, at);
}

/* After a value inside the innermost container: its ',' or its closer, else
 * say what went wrong. */
static int js_after_value(struct jscan *s, char close)
{
	const char *open = s->open[s->depth - 1];
	struct cl_mark om = mark_of(s->text, open, s->end);
	char tok[32], c = *s->p;

	if (c == '}' || c == ']')
		return js_fail(s, s->p,
			       "expected ',' or '%c', got '%c' (the '%c' at line %d, column %d "
			       "is not closed)",
			       close, c, *open, om.line, om.column);
	if (c == '/')
		return js_fail(s, s->p, "comments are not allowed in JSON");
	if (c == '"' || c == '{' || c == '[' || c == '-' || (c >= '0' && c <= '9') ||
	    (c >= 'a' && c <= 'z'))
		return js_fail(s, s->p, "expected ',' or '%c', got %s (a comma missing?)", close,
			       js_token(s, s->p, tok, sizeof(tok)));
	return js_fail(s, s->p, "expected ',' or '%c', got %s", close,
		       js_token(s, s->p, tok, sizeof(tok)));
}

static int js_check(struct jscan *s)
{
	enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } state = WANT_VALUE;
	char tok[32];

	for (;;) {
		js_ws(s);
		if (s->p >= s->end && s->depth)
			return js_unclosed(s);
		switch (state) {
		case WANT_VALUE:
			if (s->p < s->end && (*s->p == '{' || *s->p == '[')) {
				const char *at = s->p;
				if (s->depth > DOC_MAX_DEPTH)
					return js_fail(s, at, "nesting deeper than %d levels",
						       DOC_MAX_DEPTH);
				s->open[s->depth++] = at;
				s->p++;
				js_ws(s);
				if (s->p < s->end && *s->p == (*at == '{' ? '}' : ']')) {
					s->p++;
					s->depth--;
					state = AFTER_VALUE;
				} else {
					state = *at == '{' ? WANT_KEY : WANT_VALUE;
				}
				break;
			}
			if (js_value(s))
				return -1;
			state = AFTER_VALUE;
			break;
		case WANT_KEY:
			if (*s->p == '\'')
				return js_fail(s, s->p,
					       "keys take double quotes (\"), not single quotes");
			if (*s->p == '/')
				return js_fail(s, s->p, "comments are not allowed in JSON");
			if (*s->p != '"')
				return js_fail(s, s->p, "expected a key in double quotes, got %s",
					       js_token(s, s->p, tok, sizeof(tok)));
			if (js_string(s))
				return -1;
			js_ws(s);
			if (s->p >= s->end)
				return js_unclosed(s);
			if (*s->p != ':')
				return js_fail(s, s->p, "expected ':' after the key, got %s",
					       js_token(s, s->p, tok, sizeof(tok)));
			s->p++;
			state = WANT_VALUE;
			break;
		case AFTER_VALUE: {
			if (!s->depth) {
				if (s->p < s->end)
					return js_fail(
						s, s->p,
						"unexpected %s after the end of the top-level value",
						js_token(s, s->p, tok, sizeof(tok)));
				return 0;
			}
			char open = *s->open[s->depth - 1];
			char close = open == '{' ? '}' : ']';
			if (*s->p == close) {
				s->p++;
				s->depth--;
				break;
			}
			if (*s->p != ',')
				return js_after_value(s, close);
			const char *comma = s->p++;
			js_ws(s);
			if (s->p < s->end && *s->p == close)
				return js_fail(s, comma, "trailing comma before '%c'", close);
			state = open == '{' ? WANT_KEY : WANT_VALUE;
			break;
		}
		}
	}
}

static int json_syntax_check(const char *file, const char *text, size_t len, struct cl_error *err)
{
	struct jscan *s = calloc(1, sizeof(*s));
	const char *nul = memchr(text, '\0', len);
	int rc;

	if (!s)
		return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	s->text = text;
	s->p = text;
	s->end = text + len;
	s->file = file;
	s->err = err;
	if (text_blank(text, len, false)) {
		struct cl_mark mk = { 1, 1 };
		rc = cl_error_at(err, file, &mk, NULL, "file is empty");
		goto out;
	}
	if (nul) {
		rc = js_fail(s, nul, "NUL byte in file");
		goto out;
	}
	for (const char *p = text; p < s->end;) {
		size_t n = utf8_seq((const unsigned char *)p, (const unsigned char *)s->end);
		if (!n) {
			rc = js_fail(s, p, "invalid UTF-8 (byte 0x%02x)", (unsigned char)*p);
			goto out;
		}
		p += n;
	}
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		s->p += 3; /* a byte order mark, which cJSON skips too */
	rc = js_check(s);
out:
	free(s);
	return rc;
}

/* A cursor over text the checker above passed: it only needs to find where
 * each value and key starts, in document order, to give nodes their marks. */
struct cursor {
	const char *p, *end;
	int line, col;
};

static void cur_adv(struct cursor *c)
{
	if (c->p >= c->end)
		return;
	if (line_break_at(c->p, c->end)) {
		c->line++;
		c->col = 1;
	} else if (((unsigned char)*c->p & 0xC0) != 0x80) {
		c->col++; /* count characters, not UTF-8 continuation bytes */
	}
	c->p++;
}

static void cur_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		cur_adv(c);
}

static void cur_skip_string(struct cursor *c)
{
	cur_adv(c); /* opening quote */
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\')
			cur_adv(c);
		cur_adv(c);
	}
	cur_adv(c);
}

static void cur_skip_literal(struct cursor *c)
{
	while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
		cur_adv(c);
}

static struct doc_node *json_node(const char *file, const cJSON *j, struct cursor *c, int depth,
				  struct doc_path *path, struct cl_error *err)
{
	struct doc_node *n;
	struct cl_mark mk;

	cur_ws(c);
	mk.line = c->line;
	mk.column = c->col;
	if (depth > DOC_MAX_DEPTH) {
		cl_error_at(err, file, &mk, NULL, "nesting deeper than %d levels", DOC_MAX_DEPTH);
		return NULL;
	}
	if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
		bool obj = cJSON_IsObject(j);
		n = node_new(obj ? DOC_MAP : DOC_SEQ, mk);
		if (!n)
			goto oom;
		cur_adv(c); /* { or [ */
		for (const cJSON *ch = j->child; ch; ch = ch->next) {
			char *key = NULL;
			struct cl_mark kmark = { 0, 0 };

			cur_ws(c);
			if (c->p < c->end && *c->p == ',') {
				cur_adv(c);
				cur_ws(c);
			}
			if (n->len >= DOC_MAX_ITEMS) {
				struct cl_mark at = { c->line, c->col };
				cl_error_at(err, file, &at, path->s, "more than %d entries in one %s",
					    DOC_MAX_ITEMS, obj ? "mapping" : "sequence");
				doc_free(n);
				return NULL;
			}
			size_t saved = path_push(path, obj ? ch->string : NULL, n->len);
			if (obj) {
				kmark.line = c->line;
				kmark.column = c->col;
				cur_skip_string(c);
				cur_ws(c);
				cur_adv(c); /* : */
				if (check_duplicate_key(file, n, ch->string, kmark, path, err)) {
					doc_free(n);
					return NULL;
				}
				key = strdup(ch->string);
				if (!key) {
					doc_free(n);
					goto oom;
				}
			}
			struct doc_node *item = json_node(file, ch, c, depth + 1, path, err);
			path_pop(path, saved);
			if (!item) {
				free(key);
				doc_free(n);
				return NULL;
			}
			if (node_push(n, key, kmark, item)) {
				doc_free(n);
				goto oom;
			}
		}
		cur_ws(c);
		cur_adv(c); /* } or ] */
		return n;
	}
	n = node_new(DOC_SCALAR, mk);
	if (!n)
		goto oom;
	if (cJSON_IsString(j)) {
		n->style = DOC_QUOTED;
		n->text = strdup(j->valuestring);
		cur_skip_string(c);
	} else {
		const char *start = c->p;
		cur_skip_literal(c);
		n->style = DOC_PLAIN;
		n->text = strndup(start, (size_t)(c->p - start));
	}
	if (!n->text) {
		doc_free(n);
		goto oom;
	}
	return n;
oom:
	cl_error_set(err, CL_EXIT_USAGE, "out of memory");
	return NULL;
}

struct doc_node *doc_parse_json(const char *file, const char *text, size_t len,
				struct cl_error *err)
{
	const char *end = NULL;
	cJSON *j;
	struct doc_node *root;
	struct cursor c = { text, text + len, 1, 1 };
	struct doc_path path = { .len = 0 };

	if (json_syntax_check(file, text, len, err))
		return NULL;
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		c.p += 3; /* the mark stays 1:1: editors do not show a BOM */
	j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!j) {
		/* The checker passed it, so cJSON has a limit the checker does
		 * not know about. */
		const char *at = end && end >= text && end <= text + len ? end : text;
		struct cl_mark mk = mark_of(text, at, text + len);
		cl_error_at(err, file, &mk, NULL, "JSON syntax error: cJSON cannot parse this");
		return NULL;
	}
	root = json_node(file, j, &c, 0, &path, err);
	cJSON_Delete(j);
	return root;
}

char *doc_read_file(const char *path, size_t *len, struct cl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t off = 0;

	if (fd < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to stat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		cl_error_set(err, CL_EXIT_USAGE, "'%s' is not a regular file", path);
		goto fail;
	}
	if ((size_t)st.st_size > DOC_MAX_BYTES) {
		cl_error_set(err, CL_EXIT_USAGE, "'%s' is larger than %u bytes", path, DOC_MAX_BYTES);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to read '%s'", path);
			goto fail;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	buf[off] = '\0';
	*len = off;
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

struct doc_node *doc_load_file(const char *path, struct cl_error *err)
{
	size_t len = 0;
	char *text = doc_read_file(path, &len, err);
	struct doc_node *root;
	size_t pl = strlen(path);

	if (!text)
		return NULL;
	if (pl > 5 && !strcmp(path + pl - 5, ".json"))
		root = doc_parse_json(path, text, len, err);
	else
		root = doc_parse_yaml(path, text, len, err);
	free(text);
	return root;
}
