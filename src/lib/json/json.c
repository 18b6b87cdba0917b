#include "json/json.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"

/* Finds the nesting depth of a JSON text without parsing it, so that jansson's own
 * recursion (2048 levels) is never the limit that decides.  Brackets inside strings do
 * not count.  Returns the position of the first bracket beyond max_depth, or len. */
static size_t depth_scan(const char *data, size_t len, unsigned max_depth)
{
	unsigned depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return i;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return len;
}

static void line_col(const char *data, size_t pos, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* jansson's lexer cannot survive a failed allocation (upstream issue 362, open in 2.14): it
 * drops a byte from a string, fails an assertion, or reads past the buffer.  So jansson gets
 * an allocator that never returns NULL: it stops the process the way PLATE_BUG does.  The
 * hook is process-wide in jansson; set once, before the first parse. */
static void *jansson_malloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		PLATE_BUG("out of memory inside jansson (%zu bytes)", n);
	return p;
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void set_hooks(void)
{
	json_set_alloc_funcs(jansson_malloc, free);
}

json_t *json_load(const char *data, size_t len, size_t flags, const char *what,
		  struct plate_error **err)
{
	json_error_t jerr;
	json_t *v;

	pthread_once(&hooks_once, set_hooks);
	v = json_loadb(data, len, flags, &jerr);
	if (v == NULL)
		plate_err_at(err, jerr.line > 0 ? (unsigned)jerr.line : 1,
			     jerr.column > 0 ? (unsigned)jerr.column : 1, "%s: %s", what,
			     jerr.text);
	return v;
}

int json_parse(const char *data, size_t len, size_t max_size, unsigned max_depth, json_t **out,
	       struct plate_error **err)
{
	size_t deep;
	json_t *v;

	if (len > max_size)
		return plate_err_new(err, EFBIG, "JSON document of %zu bytes is larger than %zu",
				     len, max_size);
	deep = depth_scan(data, len, max_depth);
	if (deep < len) {
		unsigned line, col;
		line_col(data, deep, &line, &col);
		return plate_err_at(err, line, col, "JSON nested deeper than %u levels", max_depth);
	}
	v = json_load(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, "invalid JSON", err);
	if (v == NULL)
		return -1;
	*out = v;
	return 0;
}

/* Go's encoding/json escapes these so documents can be embedded in HTML; docker and the
 * OCI tools are Go programs, so matching it keeps digests equal to theirs. */
static int add_go_escaped(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int r;

		if (c == '<')
			r = buf_addstr(b, "\\u003c");
		else if (c == '>')
			r = buf_addstr(b, "\\u003e");
		else if (c == '&')
			r = buf_addstr(b, "\\u0026");
		else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
			 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			r = buf_addstr(b, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
		} else
			r = buf_addch(b, (char)c);
		if (r < 0)
			return -1;
	}
	return 0;
}

int json_canonical(const json_t *v, char **out, size_t *len, struct plate_error **err)
{
	_cleanup_free_ char *raw = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);

	if (raw == NULL)
		return plate_err_new(err, ENOMEM, "cannot serialise JSON");
	if (add_go_escaped(&b, raw, strlen(raw)) < 0)
		return plate_err_new(err, errno, "cannot serialise JSON");
	*out = buf_detach(&b, len);
	if (*out == NULL)
		return plate_err_new(err, ENOMEM, "cannot serialise JSON");
	return 0;
}

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	default:
		return "a JSON value";
	}
}

/* Looks a key up; returns 1 when present and not null, 0 when absent (an error if
 * required), -1 on error. */
static int lookup(const json_t *obj, const char *key, bool required, json_t **v, const char *where,
		  struct plate_error **err)
{
	if (!json_is_object(obj))
		return plate_err_new(err, 0, "'%s' is not a JSON object", where);
	*v = json_object_get(obj, key);
	if (*v == NULL || json_is_null(*v)) {
		if (required)
			return plate_err_new(err, 0, "'%s' has no '%s' field", where, key);
		return 0;
	}
	return 1;
}

static int wrong_type(const json_t *v, const char *key, const char *want, const char *where,
		      struct plate_error **err)
{
	return plate_err_new(err, 0, "'%s.%s' is %s, not %s", where, key, type_name(json_typeof(v)),
			     want);
}

int json_get_string(const json_t *obj, const char *key, bool required, const char **out,
		    const char *where, struct plate_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, required, &v, where, err);

	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return wrong_type(v, key, "a string", where, err);
	*out = json_string_value(v);
	return 0;
}

int json_get_int(const json_t *obj, const char *key, bool required, int64_t *out, const char *where,
		 struct plate_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, required, &v, where, err);

	if (r <= 0)
		return r;
	if (!json_is_integer(v))
		return wrong_type(v, key, "an integer", where, err);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

int json_get_bool(const json_t *obj, const char *key, bool required, bool *out, const char *where,
		  struct plate_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, required, &v, where, err);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return wrong_type(v, key, "a boolean", where, err);
	*out = json_is_true(v);
	return 0;
}

int json_get_typed(const json_t *obj, const char *key, json_type type, bool required, json_t **out,
		   const char *where, struct plate_error **err)
{
	json_t *v = NULL;
	int r = lookup(obj, key, required, &v, where, err);

	if (r <= 0)
		return r;
	if (json_typeof(v) != type)
		return wrong_type(v, key, type_name(type), where, err);
	*out = v;
	return 0;
}
