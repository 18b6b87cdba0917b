/*
 * The Go-template subset of `docker ... --format` over jansson values (json.h).
 *
 * Parsing builds a tree of nodes (text, actions, if/with/range blocks) from the template;
 * executing walks it with "dot" bound to a JSON value.  Every construct outside the subset
 * is refused when parsing, with its line and column, so a template either runs as Go's
 * would on the same data or says what it cannot do.  Pure: no I/O, no globals.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "json/json.h"

/* Deeper nesting (blocks, parentheses) is refused: no real template comes close. */
#define MAX_NESTING 32

enum node_kind {
	NODE_TEXT,
	NODE_ACTION,
	NODE_IF,
	NODE_WITH,
	NODE_RANGE
};
enum arg_kind {
	ARG_DOT,
	ARG_FIELD,
	ARG_STRING,
	ARG_NUMBER,
	ARG_BOOL,
	ARG_FUNC,
	ARG_PIPE
};

struct pipe;

struct arg {
	enum arg_kind kind;
	size_t off;	  /* where it begins in the template */
	char *s;	  /* FIELD: the path "A.B" without the leading dot; STRING; FUNC name */
	long long number; /* NUMBER, BOOL */
	struct pipe *sub; /* PIPE: a parenthesised pipeline */
	struct arg *next;
};

struct command {
	struct arg *args; /* the operand, or a function and its arguments */
	size_t off;	  /* where it begins in the template */
	struct command *next;
};

struct pipe {
	struct command *cmds; /* joined by '|': each result is the last argument of the next */
};

struct node {
	enum node_kind kind;
	size_t off; /* where it begins in the template */
	char *text; /* TEXT */
	size_t len;
	struct pipe *pipe;	 /* ACTION, IF, WITH, RANGE */
	struct node *body, *alt; /* the block and its {{else}} part */
	struct node *next;
};

struct json_template {
	struct node *root;
	char *src; /* for the positions of errors while executing */
};

/* ---- freeing --------------------------------------------------------------------------- */

static void pipe_free(struct pipe *p);

static void args_free(struct arg *a)
{
	while (a != NULL) {
		struct arg *next = a->next;
		free(a->s);
		pipe_free(a->sub);
		free(a);
		a = next;
	}
}

static void pipe_free(struct pipe *p)
{
	if (p == NULL)
		return;
	for (struct command *c = p->cmds, *next; c != NULL; c = next) {
		next = c->next;
		args_free(c->args);
		free(c);
	}
	free(p);
}

static void nodes_free(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;
		free(n->text);
		pipe_free(n->pipe);
		nodes_free(n->body);
		nodes_free(n->alt);
		free(n);
		n = next;
	}
}

void json_template_free(struct json_template *t)
{
	if (t == NULL)
		return;
	nodes_free(t->root);
	free(t->src);
	free(t);
}

/* "LINE:COL" (from 1) of offset off in src. */
static void line_col(const char *src, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (src[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* ---- parsing --------------------------------------------------------------------------- */

struct parser {
	const char *src, *end, *cur;
	const char *action_end; /* the "}}" (or " -}}") of the action being read */
	unsigned depth;
	struct plate_error **err;
};

static int fail_at(struct parser *p, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_at(struct parser *p, const char *at, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	unsigned line, col;
	va_list ap;

	line_col(p->src, (size_t)(at - p->src), &line, &col);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return plate_err_new(p->err, 0, "template:%u:%u: %s", line, col,
			     msg ? msg : "out of memory");
}

static void skip_space(struct parser *p)
{
	while (p->cur < p->action_end && isspace((unsigned char)*p->cur))
		p->cur++;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* A word of identifier characters at the cursor (may be empty). */
static size_t word_len(const struct parser *p)
{
	size_t n = 0;

	while (p->cur + n < p->action_end && ident_char(p->cur[n]))
		n++;
	return n;
}

static bool at_word(const struct parser *p, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(p->action_end - p->cur) >= n && memcmp(p->cur, w, n) == 0 &&
	       (p->cur + n == p->action_end || !ident_char(p->cur[n]));
}

static struct pipe *parse_pipe(struct parser *p, bool in_parens);

/* A Go string literal: "..." with \n \t \\ \" \r escapes, or `raw`. */
static int parse_string(struct parser *p, char **out)
{
	const char *start = p->cur;
	char quote = *p->cur++;
	struct buf b;

	buf_init(&b, 1 << 20);
	while (p->cur < p->action_end && *p->cur != quote) {
		char c = *p->cur++;
		if (quote == '"' && c == '\\') {
			if (p->cur >= p->action_end)
				break;
			switch (c = *p->cur++) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case '\\':
			case '"':
				break;
			default:
				buf_release(&b);
				return fail_at(p, p->cur - 2,
					       "unsupported escape '\\%c' in a string", c);
			}
		} else if (quote == '"' && c == '\n') {
			break;
		}
		if (buf_addch(&b, c) < 0) {
			buf_release(&b);
			return fail_at(p, start, "string too long");
		}
	}
	if (p->cur >= p->action_end || *p->cur != quote) {
		buf_release(&b);
		return fail_at(p, start, "unterminated string");
	}
	p->cur++;
	*out = buf_detach(&b, NULL);
	return 0;
}

static void args_cleanup(struct arg **a)
{
	args_free(*a);
}

static int parse_arg(struct parser *p, struct arg **out)
{
	__attribute__((cleanup(args_cleanup))) struct arg *a = calloc(1, sizeof(*a));
	const char *start = p->cur;
	size_t n;

	if (a == NULL)
		return plate_err_new(p->err, ENOMEM, "out of memory");
	a->off = (size_t)(start - p->src);
	if (*p->cur == '.') {
		const char *s = ++p->cur;
		/* .A.B.C: a chain of field names */
		while (p->cur < p->action_end && (ident_char(*p->cur) || *p->cur == '.')) {
			if (*p->cur == '.' && (p->cur[-1] == '.' || p->cur + 1 == p->action_end ||
					       !ident_char(p->cur[1])))
				return fail_at(p, p->cur, "bad field name");
			p->cur++;
		}
		if (p->cur == s) {
			a->kind = ARG_DOT;
		} else {
			if (!isalpha((unsigned char)*s) && *s != '_')
				return fail_at(p, start, "bad field name");
			a->kind = ARG_FIELD;
			if ((a->s = strndup(s, (size_t)(p->cur - s))) == NULL)
				return plate_err_new(p->err, ENOMEM, "out of memory");
		}
	} else if (*p->cur == '"' || *p->cur == '`') {
		a->kind = ARG_STRING;
		if (parse_string(p, &a->s) < 0)
			return -1;
	} else if (isdigit((unsigned char)*p->cur) ||
		   (*p->cur == '-' && p->cur + 1 < p->action_end &&
		    isdigit((unsigned char)p->cur[1]))) {
		char *end;
		errno = 0;
		a->kind = ARG_NUMBER;
		a->number = strtoll(p->cur, &end, 10);
		if (errno != 0 || end > p->action_end ||
		    (end < p->action_end && (ident_char(*end) || *end == '.')))
			return fail_at(p, start, "only decimal integers are supported");
		p->cur = end;
	} else if (*p->cur == '(') {
		if (++p->depth > MAX_NESTING)
			return fail_at(p, start, "nested too deeply");
		p->cur++;
		a->kind = ARG_PIPE;
		if ((a->sub = parse_pipe(p, true)) == NULL)
			return -1;
		p->depth--;
		if (p->cur >= p->action_end || *p->cur != ')')
			return fail_at(p, start, "unclosed '('");
		p->cur++;
	} else if (*p->cur == '$') {
		return fail_at(p, start, "variables ($) are not supported");
	} else if ((n = word_len(p)) > 0 && isalpha((unsigned char)*p->cur)) {
		if (at_word(p, "true") || at_word(p, "false")) {
			a->kind = ARG_BOOL;
			a->number = at_word(p, "true");
		} else {
			a->kind = ARG_FUNC;
			if ((a->s = strndup(p->cur, n)) == NULL)
				return plate_err_new(p->err, ENOMEM, "out of memory");
		}
		p->cur += n;
	} else {
		return fail_at(p, start, "unexpected '%c'", *start);
	}
	*out = steal_pointer(&a);
	return 0;
}

/* Commands joined by '|', up to the action's end (or the ')' of a parenthesised one). */
static struct pipe *parse_pipe(struct parser *p, bool in_parens)
{
	struct pipe *pipe = calloc(1, sizeof(*pipe));
	struct command **tail = &pipe->cmds;

	if (pipe == NULL) {
		plate_err_new(p->err, ENOMEM, "out of memory");
		return NULL;
	}
	for (;;) {
		struct command *c = calloc(1, sizeof(*c));
		struct arg **atail;

		if (c == NULL) {
			plate_err_new(p->err, ENOMEM, "out of memory");
			goto fail;
		}
		*tail = c;
		tail = &c->next;
		atail = &c->args;
		skip_space(p);
		c->off = (size_t)(p->cur - p->src);
		while (skip_space(p), p->cur < p->action_end && *p->cur != '|' && *p->cur != ')') {
			if (p->cur[0] == ':' || (p->cur[0] == '='))
				goto unsupported;
			if (parse_arg(p, atail) < 0)
				goto fail;
			atail = &(*atail)->next;
			/* Operands are separated by spaces or end at '|', ')' or the action's end. */
			if (p->cur < p->action_end && !isspace((unsigned char)*p->cur) &&
			    *p->cur != '|' && *p->cur != ')') {
				fail_at(p, p->cur, "unexpected '%c'", *p->cur);
				goto fail;
			}
		}
		if (c->args == NULL) {
			fail_at(p, p->cur, "missing value");
			goto fail;
		}
		if (p->cur < p->action_end && *p->cur == '|') {
			p->cur++;
			continue;
		}
		if (p->cur < p->action_end && *p->cur == ')' && !in_parens) {
			fail_at(p, p->cur, "unexpected ')'");
			goto fail;
		}
		return pipe;
	}
unsupported:
	fail_at(p, p->cur, "variables (:= and =) are not supported");
fail:
	pipe_free(pipe);
	return NULL;
}

/* What ended a list of nodes. */
enum stop {
	STOP_EOF,
	STOP_END,
	STOP_ELSE,
	STOP_ELSE_IF
};

static int parse_list(struct parser *p, struct node **out, enum stop *stop, const char **stop_at);

/* Finds the end of the action that opens at p->cur ("{{"): sets action_end and returns the
 * position after "}}", honouring the " -}}" trim marker; quoted "}}" do not end it. */
static const char *action_close(struct parser *p, bool *trim_right)
{
	char quote = 0;

	for (const char *c = p->cur; c + 1 < p->end; c++) {
		if (quote != 0) {
			if (*c == '\\' && quote == '"')
				c++;
			else if (*c == quote)
				quote = 0;
		} else if (*c == '"' || *c == '`') {
			quote = *c;
		} else if (c[0] == '}' && c[1] == '}') {
			*trim_right =
				c - 2 >= p->cur && c[-1] == '-' && isspace((unsigned char)c[-2]);
			p->action_end = *trim_right ? c - 2 : c;
			return c + 2;
		}
	}
	return NULL;
}

static const char *skip_trailing_space(const char *c, const char *end)
{
	while (c < end && isspace((unsigned char)*c))
		c++;
	return c;
}

static int parse_block(struct parser *p, struct node *n, const char *open);

/* Nodes up to the end of the template, or up to an {{end}} / {{else}} (stop says which and
 * stop_at where). */
static int parse_list(struct parser *p, struct node **out, enum stop *stop, const char **stop_at)
{
	struct node **tail = out;

	*stop = STOP_EOF;
	while (p->cur < p->end) {
		const char *open = memmem(p->cur, (size_t)(p->end - p->cur), "{{", 2), *after;
		const char *text_end = open ? open : p->end;
		bool trim_left, trim_right = false;
		struct node *n;

		trim_left = open != NULL && open + 3 < p->end && open[2] == '-' &&
			    isspace((unsigned char)open[3]);
		if (trim_left)
			while (text_end > p->cur && isspace((unsigned char)text_end[-1]))
				text_end--;
		if (text_end > p->cur) {
			if ((n = calloc(1, sizeof(*n))) == NULL ||
			    (n->text = strndup(p->cur, (size_t)(text_end - p->cur))) == NULL) {
				free(n);
				return plate_err_new(p->err, ENOMEM, "out of memory");
			}
			n->kind = NODE_TEXT;
			n->len = (size_t)(text_end - p->cur);
			*tail = n;
			tail = &n->next;
		}
		if (open == NULL) {
			p->cur = p->end;
			break;
		}
		p->cur = open + (trim_left ? 3 : 2);
		if ((after = action_close(p, &trim_right)) == NULL)
			return fail_at(p, open, "unclosed action (no '}}')");
		skip_space(p);
		if (p->action_end - p->cur >= 2 && memcmp(p->cur, "/*", 2) == 0) {
			/* A comment: slash-star ... star-slash within the braces */
			if (p->action_end - p->cur < 4 || memcmp(p->action_end - 2, "*/", 2) != 0)
				return fail_at(p, open, "unclosed comment");
		} else if (at_word(p, "end") || at_word(p, "else")) {
			bool is_end = at_word(p, "end");
			*stop_at = open;
			p->cur += is_end ? 3 : 4;
			skip_space(p);
			if (!is_end && at_word(p, "if")) {
				p->cur += 2;
				*stop = STOP_ELSE_IF;
				return 0; /* the caller parses the condition */
			}
			if (p->cur != p->action_end)
				return fail_at(p, p->cur, "unexpected '%c' after end or else",
					       *p->cur);
			*stop = is_end ? STOP_END : STOP_ELSE;
			p->cur = trim_right ? skip_trailing_space(after, p->end) : after;
			return 0;
		} else {
			static const char *const unsupported[] = { "define", "template", "block",
								   "break", "continue" };
			if ((n = calloc(1, sizeof(*n))) == NULL)
				return plate_err_new(p->err, ENOMEM, "out of memory");
			*tail = n;
			tail = &n->next;
			n->off = (size_t)(open - p->src);
			for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
				if (at_word(p, unsupported[i]))
					return fail_at(p, p->cur, "'%s' is not supported",
						       unsupported[i]);
			if (at_word(p, "if") || at_word(p, "with") || at_word(p, "range")) {
				n->kind = at_word(p, "if")     ? NODE_IF
					  : at_word(p, "with") ? NODE_WITH
							       : NODE_RANGE;
				p->cur += n->kind == NODE_IF ? 2 : n->kind == NODE_WITH ? 4 : 5;
				if (parse_block(p, n, open) < 0)
					return -1;
				continue;
			}
			n->kind = NODE_ACTION;
			if ((n->pipe = parse_pipe(p, false)) == NULL)
				return -1;
		}
		p->cur = trim_right ? skip_trailing_space(after, p->end) : after;
	}
	return 0;
}

/* The rest of {{if|with|range PIPE}}: its condition, body, {{else}} or {{else if}} part and
 * {{end}}.  An {{else if C}} becomes an if node in the else part that shares the {{end}}. */
static int parse_block(struct parser *p, struct node *n, const char *open)
{
	bool trim_right = false;
	const char *stop_at = NULL, *after;
	enum stop stop;

	if (++p->depth > MAX_NESTING)
		return fail_at(p, open, "nested too deeply");
	/* Re-find the action's close from the condition on: action_close() starts at cur. */
	if ((after = action_close(p, &trim_right)) == NULL)
		return fail_at(p, open, "unclosed action (no '}}')");
	if ((n->pipe = parse_pipe(p, false)) == NULL)
		return -1;
	p->cur = trim_right ? skip_trailing_space(after, p->end) : after;
	if (parse_list(p, &n->body, &stop, &stop_at) < 0)
		return -1;
	if (stop == STOP_ELSE_IF) {
		if ((n->alt = calloc(1, sizeof(*n->alt))) == NULL)
			return plate_err_new(p->err, ENOMEM, "out of memory");
		n->alt->kind = NODE_IF;
		n->alt->off = (size_t)(stop_at - p->src);
		if (parse_block(p, n->alt, stop_at) < 0)
			return -1;
		stop = STOP_END;
	} else if (stop == STOP_ELSE) {
		if (parse_list(p, &n->alt, &stop, &stop_at) < 0)
			return -1;
		if (stop == STOP_ELSE || stop == STOP_ELSE_IF)
			return fail_at(p, stop_at, "a second else");
	}
	if (stop != STOP_END)
		return fail_at(p, open, "no {{end}} for this block");
	p->depth--;
	return 0;
}

int json_template_parse(const char *text, size_t len, struct json_template **out,
			struct plate_error **err)
{
	struct parser p = { .src = text, .end = text + len, .cur = text, .err = err };
	struct json_template *t = calloc(1, sizeof(*t));
	const char *stop_at = NULL;
	enum stop stop;

	if (t == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (memchr(text, '\0', len) != NULL) {
		free(t);
		return plate_err_new(err, 0, "template: a NUL byte in the template");
	}
	if ((t->src = strndup(text, len)) == NULL) {
		free(t);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (parse_list(&p, &t->root, &stop, &stop_at) < 0) {
		json_template_free(t);
		return -1;
	}
	if (stop != STOP_EOF) {
		fail_at(&p, stop_at, "unexpected {{%s}}", stop == STOP_END ? "end" : "else");
		json_template_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* ---- executing ------------------------------------------------------------------------- */

struct exec {
	const char *src;
	struct buf *out;
	struct plate_error **err;
};

static int exec_fail(struct exec *x, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int exec_fail(struct exec *x, size_t off, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	unsigned line, col;
	va_list ap;

	line_col(x->src, off, &line, &col);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return plate_err_new(x->err, 0, "template:%u:%u: %s", line, col,
			     msg ? msg : "out of memory");
}

/* Go's truth: false, 0, "", nil and empty collections are false. */
static bool truth(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	case JSON_FALSE:
	case JSON_NULL:
		return false;
	default:
		return false;
	}
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys in byte order (Go prints and ranges over maps sorted). */
static const char **sorted_keys(const json_t *o, size_t *n)
{
	const char **keys = calloc(json_object_size(o) + 1, sizeof(*keys));
	const char *k;
	json_t *v;

	*n = 0;
	if (keys == NULL)
		return NULL;
	json_object_foreach((json_t *)o, k, v) keys[(*n)++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_keys);
	return keys;
}

/* v as Go's fmt prints it with %v: strings bare, slices [a b], maps map[k:v]; null (a
 * field the document does not have) prints nothing. */
static int print_value(struct buf *b, const json_t *v)
{
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return buf_add(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return buf_addf(b, "%g", json_real_value(v));
	case JSON_TRUE:
		return buf_addstr(b, "true");
	case JSON_FALSE:
		return buf_addstr(b, "false");
	case JSON_NULL:
		return 0;
	case JSON_ARRAY:
		if (buf_addch(b, '[') < 0)
			return -1;
		for (size_t i = 0; i < json_array_size(v); i++)
			if ((i > 0 && buf_addch(b, ' ') < 0) ||
			    print_value(b, json_array_get(v, i)) < 0)
				return -1;
		return buf_addch(b, ']');
	case JSON_OBJECT: {
		_cleanup_free_ const char **keys = sorted_keys(v, &n);
		if (keys == NULL || buf_addstr(b, "map[") < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((i > 0 && buf_addch(b, ' ') < 0) || buf_addf(b, "%s:", keys[i]) < 0 ||
			    print_value(b, json_object_get(v, keys[i])) < 0)
				return -1;
		return buf_addch(b, ']');
	}
	default:
		return 0;
	}
}

static json_t *eval_pipe(struct exec *x, const struct pipe *p, json_t *dot);

/* An operand's value (a new reference), or NULL with *err set. */
static json_t *eval_arg(struct exec *x, const struct arg *a, json_t *dot)
{
	switch (a->kind) {
	case ARG_DOT:
		return json_incref(dot);
	case ARG_FIELD: {
		json_t *v = dot;
		const char *s = a->s;
		while (*s != '\0') {
			size_t n = strcspn(s, ".");
			_cleanup_free_ char *name = strndup(s, n);
			if (name == NULL) {
				plate_err_new(x->err, ENOMEM, "out of memory");
				return NULL;
			}
			if (json_is_object(v)) {
				v = json_object_get(v, name);
			} else if (!json_is_null(v) && v != NULL) {
				exec_fail(x, a->off, "can't evaluate field %s: not an object",
					  name);
				return NULL;
			}
			s += n + (s[n] == '.');
		}
		return v != NULL ? json_incref(v) : json_null();
	}
	case ARG_STRING:
		return json_string_nocheck(a->s);
	case ARG_NUMBER:
		return json_integer(a->number);
	case ARG_BOOL:
		return json_boolean(a->number);
	case ARG_PIPE:
		return eval_pipe(x, a->sub, dot);
	case ARG_FUNC:
	default:
		exec_fail(x, a->off, "%s is a function, not a value", a->s);
		return NULL;
	}
}

static const char *need_string(struct exec *x, const struct arg *f, json_t *v)
{
	if (!json_is_string(v)) {
		exec_fail(x, f->off, "%s: the argument is not a string", f->s);
		return NULL;
	}
	return json_string_value(v);
}

/* The functions docker adds to Go's (json, join, split, upper, lower, truncate) and Go's own
 * index and len.  argv holds n evaluated arguments. */
static json_t *call(struct exec *x, const struct arg *f, json_t **argv, size_t n)
{
	static const struct {
		const char *name;
		size_t min, max;
	} table[] = {
		{ "json", 1, 1 },  { "index", 1, 64 }, { "len", 1, 1 },	  { "join", 2, 2 },
		{ "split", 2, 2 }, { "upper", 1, 1 },  { "lower", 1, 1 }, { "truncate", 2, 2 }
	};
	const char *name = f->s, *s;
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]) && strcmp(table[i].name, name) != 0; i++)
		;
	if (i == sizeof(table) / sizeof(table[0])) {
		exec_fail(x, f->off,
			  "function \"%s\" is not supported (json, index, len, join, split, upper, "
			  "lower, truncate)",
			  name);
		return NULL;
	}
	if (n < table[i].min || n > table[i].max) {
		exec_fail(x, f->off, "wrong number of arguments for %s", name);
		return NULL;
	}
	if (strcmp(name, "json") == 0) {
		_cleanup_free_ char *text =
			json_dumps(argv[0], JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		if (text == NULL)
			exec_fail(x, f->off, "json: the value is not valid UTF-8");
		return text ? json_string_nocheck(text) : NULL;
	}
	if (strcmp(name, "index") == 0) {
		json_t *v = argv[0];
		for (size_t k = 1; k < n; k++) {
			if (json_is_array(v) && json_is_integer(argv[k])) {
				json_int_t at = json_integer_value(argv[k]);
				if (at < 0 || (size_t)at >= json_array_size(v)) {
					char num[32];
					snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, at);
					exec_fail(x, f->off, "index: index %s out of range", num);
					return NULL;
				}
				v = json_array_get(v, (size_t)at);
			} else if (json_is_object(v) && json_is_string(argv[k])) {
				v = json_object_get(v, json_string_value(argv[k]));
				if (v == NULL)
					return json_null();
			} else if (json_is_null(v)) {
				return json_null();
			} else {
				exec_fail(x, f->off, "%s: can't index this value with that key",
					  name);
				return NULL;
			}
		}
		return json_incref(v);
	}
	if (strcmp(name, "len") == 0) {
		json_t *v = argv[0];
		if (json_is_array(v))
			return json_integer((json_int_t)json_array_size(v));
		if (json_is_object(v))
			return json_integer((json_int_t)json_object_size(v));
		if (json_is_string(v))
			return json_integer((json_int_t)json_string_length(v));
		exec_fail(x, f->off, "%s of a value that has no length", name);
		return NULL;
	}
	if (strcmp(name, "join") == 0) {
		struct buf b;
		json_t *r;
		if ((s = need_string(x, f, argv[1])) == NULL)
			return NULL;
		if (!json_is_array(argv[0]) && !json_is_null(argv[0])) {
			exec_fail(x, f->off, "%s: the first argument is not a list", name);
			return NULL;
		}
		buf_init(&b, x->out->max);
		for (size_t k = 0; k < json_array_size(argv[0]); k++)
			if ((k > 0 && buf_addstr(&b, s) < 0) ||
			    print_value(&b, json_array_get(argv[0], k)) < 0) {
				buf_release(&b);
				plate_err_new(x->err, EFBIG, "template output too large");
				return NULL;
			}
		r = json_stringn_nocheck(b.data, b.len);
		buf_release(&b);
		return r;
	}
	if (strcmp(name, "split") == 0) {
		const char *sep = need_string(x, f, argv[1]);
		json_t *a;
		if (sep == NULL || (s = need_string(x, f, argv[0])) == NULL)
			return NULL;
		if ((a = json_array()) == NULL)
			return NULL;
		for (;;) {
			const char *hit = *sep ? strstr(s, sep) : (*s ? s + 1 : NULL);
			if (hit == NULL || (*sep == '\0' && *s == '\0')) {
				if (*sep != '\0' || *s != '\0')
					json_array_append_new(a, json_string_nocheck(s));
				return a;
			}
			json_array_append_new(a, json_stringn_nocheck(s, (size_t)(hit - s)));
			s = hit + strlen(sep);
		}
	}
	if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0) {
		_cleanup_free_ char *copy = NULL;
		if ((s = need_string(x, f, argv[0])) == NULL || (copy = strdup(s)) == NULL)
			return NULL;
		for (char *c = copy; *c != '\0'; c++)
			*c = (char)(name[0] == 'u' ? toupper((unsigned char)*c)
						   : tolower((unsigned char)*c));
		return json_string_nocheck(copy);
	}
	/* truncate S N: the first N bytes of S */
	if ((s = need_string(x, f, argv[0])) == NULL)
		return NULL;
	if (!json_is_integer(argv[1]) || json_integer_value(argv[1]) < 0) {
		exec_fail(x, f->off, "%s: the length is not a number", name);
		return NULL;
	}
	return json_stringn_nocheck(s, strnlen(s, (size_t)json_integer_value(argv[1])));
}

/* One command: a function call (with the previous command's result as its last argument),
 * or an operand. */
static json_t *eval_command(struct exec *x, const struct command *c, json_t *dot, json_t *piped)
{
	json_t *argv[66] = { 0 }, *r = NULL;
	size_t n = 0;

	if (c->args->kind != ARG_FUNC) {
		if (c->args->next != NULL || piped != NULL) {
			exec_fail(x, c->off, "can't give an argument to a non-function");
			return NULL;
		}
		return eval_arg(x, c->args, dot);
	}
	for (const struct arg *a = c->args->next; a != NULL; a = a->next) {
		if (n >= 64) {
			exec_fail(x, a->off, "too many arguments");
			goto out;
		}
		if ((argv[n++] = eval_arg(x, a, dot)) == NULL)
			goto out;
	}
	if (piped != NULL)
		argv[n++] = json_incref(piped);
	r = call(x, c->args, argv, n);
	if (r == NULL && *x->err == NULL)
		plate_err_new(x->err, ENOMEM, "out of memory");
out:
	for (size_t i = 0; i < n; i++)
		json_decref(argv[i]);
	return r;
}

static json_t *eval_pipe(struct exec *x, const struct pipe *p, json_t *dot)
{
	json_t *v = NULL;

	for (const struct command *c = p->cmds; c != NULL; c = c->next) {
		json_t *next = eval_command(x, c, dot, v);
		json_decref(v);
		if ((v = next) == NULL)
			return NULL;
	}
	return v;
}

static int exec_list(struct exec *x, const struct node *n, json_t *dot);

static int exec_node(struct exec *x, const struct node *n, json_t *dot)
{
	json_t *v;
	int rc = 0;

	if (n->kind == NODE_TEXT)
		return buf_add(x->out, n->text, n->len) < 0
			       ? plate_err_new(x->err, EFBIG, "template output too large")
			       : 0;
	if ((v = eval_pipe(x, n->pipe, dot)) == NULL)
		return -1;
	switch (n->kind) {
	case NODE_ACTION:
		if (print_value(x->out, v) < 0)
			rc = plate_err_new(x->err, EFBIG, "template output too large");
		break;
	case NODE_IF:
		rc = exec_list(x, truth(v) ? n->body : n->alt, dot);
		break;
	case NODE_WITH:
		rc = truth(v) ? exec_list(x, n->body, v) : exec_list(x, n->alt, dot);
		break;
	case NODE_RANGE:
		if (!truth(v)) {
			rc = exec_list(x, n->alt, dot);
		} else if (json_is_array(v)) {
			for (size_t i = 0; rc == 0 && i < json_array_size(v); i++)
				rc = exec_list(x, n->body, json_array_get(v, i));
		} else if (json_is_object(v)) {
			size_t k;
			_cleanup_free_ const char **keys = sorted_keys(v, &k);
			if (keys == NULL)
				rc = plate_err_new(x->err, ENOMEM, "out of memory");
			for (size_t i = 0; rc == 0 && i < k; i++)
				rc = exec_list(x, n->body, json_object_get(v, keys[i]));
		} else {
			rc = exec_fail(x, n->off, "range over a value that is not a list or map");
		}
		break;
	case NODE_TEXT:
	default:
		break;
	}
	json_decref(v);
	return rc;
}

static int exec_list(struct exec *x, const struct node *n, json_t *dot)
{
	for (; n != NULL; n = n->next)
		if (exec_node(x, n, dot) < 0)
			return -1;
	return 0;
}

int json_template_execute(const struct json_template *t, json_t *dot, struct buf *out,
			  struct plate_error **err)
{
	struct exec x = { .src = t->src, .out = out, .err = err };

	return exec_list(&x, t->root, dot);
}
