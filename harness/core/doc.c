#include "core/doc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Scenario files are small; a cap keeps a runaway file from eating memory. */
#define DOC_MAX_BYTES (4u << 20)
#define DOC_MAX_DEPTH 64

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

/* Duplicate keys are legal for both parsers but always a mistake here. */
static int check_duplicate_key(const char *file, const struct doc_node *map, const char *key,
			       struct cl_mark kmark, struct cl_error *err)
{
	for (size_t i = 0; i < map->len; i++) {
		if (!strcmp(map->keys[i], key))
			return cl_error_at(err, file, &kmark, NULL,
					   "duplicate key '%s' (first at line %d)", key,
					   map->key_marks[i].line);
	}
	return 0;
}

/* ---- YAML ---------------------------------------------------------------- */

struct yaml_ctx {
	yaml_parser_t parser;
	const char *file;
	struct cl_error *err;
};

static struct cl_mark ymark(yaml_mark_t m)
{
	struct cl_mark mk = { (int)m.line + 1, (int)m.column + 1 };
	return mk;
}

static int yaml_next(struct yaml_ctx *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->parser, ev))
		return 0;
	struct cl_mark mk = ymark(y->parser.problem_mark);
	if (y->parser.context)
		return cl_error_at(y->err, y->file, &mk, NULL, "YAML syntax error: %s %s",
				   y->parser.problem ? y->parser.problem : "invalid YAML",
				   y->parser.context);
	return cl_error_at(y->err, y->file, &mk, NULL, "YAML syntax error: %s",
			   y->parser.problem ? y->parser.problem : "invalid YAML");
}

static struct doc_node *yaml_node(struct yaml_ctx *y, yaml_event_t *ev, int depth);

static struct doc_node *yaml_collection(struct yaml_ctx *y, yaml_event_t *start, int depth)
{
	bool is_map = start->type == YAML_MAPPING_START_EVENT;
	struct doc_node *n = node_new(is_map ? DOC_MAP : DOC_SEQ, ymark(start->start_mark));
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
		if (is_map) {
			kmark = ymark(ev.start_mark);
			if (ev.type != YAML_SCALAR_EVENT) {
				cl_error_at(y->err, y->file, &kmark, NULL,
					    "mapping keys must be plain strings");
				yaml_event_delete(&ev);
				goto fail;
			}
			key = strdup((const char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			if (!key || check_duplicate_key(y->file, n, key, kmark, y->err)) {
				if (!key)
					cl_error_set(y->err, CL_EXIT_USAGE, "out of memory");
				free(key);
				goto fail;
			}
			if (yaml_next(y, &ev)) {
				free(key);
				goto fail;
			}
		}
		struct doc_node *item = yaml_node(y, &ev, depth + 1);
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
	struct cl_mark mk = ymark(ev->start_mark);

	if (depth > DOC_MAX_DEPTH) {
		cl_error_at(y->err, y->file, &mk, NULL, "nesting deeper than %d levels",
			    DOC_MAX_DEPTH);
		goto out;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor) {
			cl_error_at(y->err, y->file, &mk, NULL,
				    "anchors and aliases are not supported");
			goto out;
		}
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
		if ((ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
		    (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor)) {
			cl_error_at(y->err, y->file, &mk, NULL,
				    "anchors and aliases are not supported");
			goto out;
		}
		n = yaml_collection(y, ev, depth);
		break;
	case YAML_ALIAS_EVENT:
		cl_error_at(y->err, y->file, &mk, NULL, "anchors and aliases are not supported");
		break;
	default:
		cl_error_at(y->err, y->file, &mk, NULL, "unexpected YAML event");
		break;
	}
out:
	yaml_event_delete(ev);
	return n;
}

struct doc_node *doc_parse_yaml(const char *file, const char *text, size_t len,
				struct cl_error *err)
{
	struct yaml_ctx y = { .file = file, .err = err };
	struct doc_node *root = NULL;
	yaml_event_t ev;
	bool got_doc = false;

	if (!yaml_parser_initialize(&y.parser)) {
		cl_error_set(err, CL_EXIT_USAGE, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
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
				struct cl_mark mk = ymark(ev.start_mark);
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
				cl_error_at(err, file, &mk, NULL, "file is empty");
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

/* A cursor over text already validated by cJSON: it only needs to find where
 * each value and key starts, in document order, to give nodes their marks. */
struct cursor {
	const char *p, *end;
	int line, col;
};

static void cur_adv(struct cursor *c)
{
	if (c->p >= c->end)
		return;
	if (*c->p == '\n') {
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
				  struct cl_error *err)
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
			if (*c->p == ',') {
				cur_adv(c);
				cur_ws(c);
			}
			if (obj) {
				kmark.line = c->line;
				kmark.column = c->col;
				cur_skip_string(c);
				cur_ws(c);
				cur_adv(c); /* : */
				if (check_duplicate_key(file, n, ch->string, kmark, err)) {
					doc_free(n);
					return NULL;
				}
				key = strdup(ch->string);
				if (!key) {
					doc_free(n);
					goto oom;
				}
			}
			struct doc_node *item = json_node(file, ch, c, depth + 1, err);
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

static struct cl_mark mark_of(const char *text, const char *at)
{
	struct cl_mark mk = { 1, 1 };

	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			mk.line++;
			mk.column = 1;
		} else if (((unsigned char)*p & 0xC0) != 0x80) {
			mk.column++;
		}
	}
	return mk;
}

struct doc_node *doc_parse_json(const char *file, const char *text, size_t len,
				struct cl_error *err)
{
	const char *end = NULL;
	cJSON *j;
	struct doc_node *root;
	struct cursor c = { text, text + len, 1, 1 };

	if (memchr(text, '\0', len)) {
		struct cl_mark mk = mark_of(text, memchr(text, '\0', len));
		cl_error_at(err, file, &mk, NULL, "JSON syntax error: NUL byte in file");
		return NULL;
	}
	j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!j) {
		const char *at = end ? end : cJSON_GetErrorPtr();
		if (!at || at < text || at > text + len)
			at = text + len;
		struct cl_mark mk = mark_of(text, at);
		if (at >= text + len)
			cl_error_at(err, file, &mk, NULL, "JSON syntax error: unexpected end of file");
		else
			cl_error_at(err, file, &mk, NULL, "JSON syntax error near '%.12s'", at);
		return NULL;
	}
	/* cJSON stops after the first value; anything but whitespace after it is
	 * an error too. */
	for (const char *p = end; p && p < text + len; p++) {
		if (!strchr(" \t\r\n", *p)) {
			struct cl_mark mk = mark_of(text, p);
			cl_error_at(err, file, &mk, NULL,
				    "JSON syntax error: text after the top-level value");
			cJSON_Delete(j);
			return NULL;
		}
	}
	root = json_node(file, j, &c, 0, err);
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
