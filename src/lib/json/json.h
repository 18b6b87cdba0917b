/*
 * json/json.h — capped JSON parsing and canonical JSON writing over jansson.
 *
 * Purpose
 *   Every JSON document plate reads comes from outside (archives, registries, the store)
 *   and is parsed here with a size cap and a nesting cap, duplicate keys refused.  Every
 *   JSON document plate writes (manifests, configs, index.json) is written here in one
 *   canonical form, so that the same model always gives the same bytes and digest:
 *   object keys sorted by byte value, no whitespace, and the escaping Go's encoding/json
 *   applies (`<` `>` `&` U+2028 U+2029 as \u escapes), which is what docker, BuildKit,
 *   containerd and the OCI tools produce.
 *
 * Ownership
 *   json_parse() hands out a new reference (json_decref() it); json_canonical() a malloc'd
 *   NUL-terminated string.  The field getters return views into the borrowed object.
 *
 * Errors
 *   Parse errors carry line and column.  Getter errors name the field by the `where`
 *   path the caller gives ("config.Env[2]").
 *
 * Thread safety
 *   No shared state (jansson objects must not be shared between threads while mutated).
 */
#ifndef PLATE_JSON_H
#define PLATE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Nesting deeper than this is refused: OCI documents are at most ~6 levels deep. */
#define JSON_DEFAULT_MAX_DEPTH 64

/* json_loadb() with flags; a syntax error is located and reads "what: jansson's text".
 * Uncapped: callers cap len.  Every JSON parse goes through here: it first gives jansson an
 * allocator that aborts instead of failing (its parser cannot recover from a failed
 * allocation; docs/internals/errors.md "Out of memory"). */
json_t *json_load(const char *data, size_t len, size_t flags, const char *what,
		  struct plate_error **err);

/* Parses exactly one JSON value (any type) from data[0..len).  Refuses documents larger
 * than max_size, nested deeper than max_depth, with duplicate object keys, NUL bytes in
 * strings, or trailing garbage. */
int json_parse(const char *data, size_t len, size_t max_size, unsigned max_depth, json_t **out,
	       struct plate_error **err);

/* Writes v in canonical form (see above) into a malloc'd string; *len gets its length. */
int json_canonical(const json_t *v, char **out, size_t *len, struct plate_error **err);

/* Field getters on an object.  A missing (or null) field is an error when required, and
 * otherwise leaves *out untouched and returns 0.  A present field of the wrong type is
 * always an error naming `where` (e.g. "manifest") and the key. */
int json_get_string(const json_t *obj, const char *key, bool required, const char **out,
		    const char *where, struct plate_error **err);
int json_get_int(const json_t *obj, const char *key, bool required, int64_t *out, const char *where,
		 struct plate_error **err);
int json_get_bool(const json_t *obj, const char *key, bool required, bool *out, const char *where,
		  struct plate_error **err);
/* The value must be an object or array (json_typeof == type); null counts as missing. */
int json_get_typed(const json_t *obj, const char *key, json_type type, bool required, json_t **out,
		   const char *where, struct plate_error **err);

/* ---- templates (template.c) ----------------------------------------------------------------
 * The Go-template subset of docker's --format, over a JSON value ("dot"):
 *   text and {{actions}}, with {{- and -}} trimming, and comments (a slash-star pair inside the braces)
 *   operands: . .Field.Path "string" `raw` 42 true false (pipeline)
 *   pipelines: a function and its arguments, or an operand; "|" passes a result on as the
 *   last argument of the next function
 *   functions: json, index (list positions, map keys), len, join LIST SEP, split S SEP,
 *   upper, lower, truncate S N
 *   blocks: {{if}} / {{else if}} / {{else}} / {{end}}, {{with}}, {{range}} (over a list, or a
 *   map's values in key order)
 * Refused with "template:LINE:COL: ..." when parsing: variables ($x, :=), define, template,
 * block, break, continue, other escapes.  Values print as Go's %v does (lists [a b], maps
 * map[k:v]); a field the value lacks is null and prints nothing (docker's structs print
 * their zero value).  Pure: no I/O; execution output is bounded by out's cap (EFBIG). */
struct buf;
struct json_template;
int json_template_parse(const char *text, size_t len, struct json_template **out,
			struct plate_error **err);
/* Appends the template's output for dot (borrowed) to out. */
int json_template_execute(const struct json_template *t, json_t *dot, struct buf *out,
			  struct plate_error **err);
void json_template_free(struct json_template *t);

#endif
