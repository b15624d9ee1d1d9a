/* A parsed document: the common tree both scenario syntaxes (YAML through
 * libyaml, JSON through cJSON) are read into, with a source mark on every node
 * and every mapping key so later validation can point at the text. */
#ifndef CHAOSLAB_DOC_H
#define CHAOSLAB_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

enum doc_kind { DOC_SCALAR, DOC_MAP, DOC_SEQ };

/* How a scalar was written: a plain YAML scalar or JSON number/bool/null is
 * typed by its text; a quoted one is always a string. */
enum doc_style { DOC_PLAIN, DOC_QUOTED };

struct doc_node {
	enum doc_kind kind;
	enum doc_style style;     /* scalars only */
	struct cl_mark mark;
	char *text;               /* scalars: the value, NUL-terminated */
	size_t len;               /* map: pairs; seq: items */
	char **keys;              /* map only, len entries */
	struct cl_mark *key_marks;/* map only */
	struct doc_node **items;  /* map values or sequence items */
};

/* Parse YAML text (one document; anchors/aliases refused). On success returns
 * a tree owned by the caller (doc_free). On error returns NULL with err set to
 * file:line:column and libyaml's problem and context. file names the source
 * in messages only. */
struct doc_node *doc_parse_yaml(const char *file, const char *text, size_t len,
				struct cl_error *err);

/* Parse JSON text with cJSON; nodes get line:column from a position walk over
 * the (already validated) text. Syntax errors carry line:column too. */
struct doc_node *doc_parse_json(const char *file, const char *text, size_t len,
				struct cl_error *err);

/* Read a whole file and parse it by extension (.json → JSON, else YAML). */
struct doc_node *doc_load_file(const char *path, struct cl_error *err);

/* Free a tree (NULL is fine). */
void doc_free(struct doc_node *n);

/* Map lookup: value for key or NULL; *idx gets the pair index if non-NULL. */
struct doc_node *doc_map_get(const struct doc_node *map, const char *key, size_t *idx);

/* A scalar that means null (YAML ~, null, empty plain scalar; JSON null). */
bool doc_is_null(const struct doc_node *n);

/* Name of a node's kind for messages: "mapping", "sequence", "string",
 * "integer", "number", "boolean", "null". */
const char *doc_kind_name(const struct doc_node *n);

/* Read a file into a NUL-terminated malloc'd buffer; *len gets its size. */
char *doc_read_file(const char *path, size_t *len, struct cl_error *err);

#endif
