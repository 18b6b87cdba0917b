/*
 * Physical lines -> logical lines -> instructions, as BuildKit's parser.Parse reads them.
 *
 * Facts reproduced (Dockerfile reference; conformance/README.md section 1):
 *   - lines end at "\n"; trailing "\r" and "\n" are dropped; a UTF-8 BOM on line 1 is
 *     ignored;
 *   - parser directives (`# syntax=`, `# escape=`, `# check=`) count only before anything
 *     else: the first line that is not a directive (a comment, a blank line, an
 *     instruction) ends them; each may appear once;
 *   - the escape token at the end of a line, after optional blanks, joins the next line,
 *     unless it is itself escaped (`\\`); it and the blanks are removed, the text before it
 *     is kept; continuation lines keep their leading white space;
 *   - inside a continuation, comment lines are dropped and blank lines skipped with a
 *     warning;
 *   - RUN, COPY and ADD in shell form read here-document bodies from the following lines,
 *     in the order the openers appear, each up to a line equal to its name (after leading
 *     tabs for `<<-`).  Bodies are kept raw, line endings included.
 *
 * plate adds what BuildKit leaves to io limits: the caps of struct dockerfile_limits, and a
 * NUL byte is an error (strings here are C strings).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile_internal.h"

const struct dockerfile_limits dockerfile_default_limits = {
	.max_file = 8u << 20,
	.max_line = 1u << 20,
	.max_heredoc = 4u << 20,
	.max_instructions = 100000,
};

struct parser {
	const struct dockerfile_limits *limits;
	const char *data;
	size_t len;
	size_t pos;	 /* start of the next physical line */
	unsigned lineno; /* physical lines read so far */
	bool directives_done;
	bool seen_syntax, seen_escape, seen_check;
	struct dockerfile *df;
	size_t alloc_instructions;
	size_t alloc_warnings;
	struct buf logical;
	struct dockerfile_linemap map;
};

/* A physical line: text without its line ending, and the raw bytes with it. */
struct pline {
	const char *text;
	size_t len;
	size_t raw_len;
	unsigned column0; /* bytes dropped before text (a BOM) */
};

static bool next_line(struct parser *p, struct pline *l)
{
	const char *start = p->data + p->pos, *nl;
	size_t avail = p->len - p->pos;

	if (avail == 0)
		return false;
	nl = memchr(start, '\n', avail);
	l->raw_len = nl ? (size_t)(nl - start) + 1 : avail;
	l->text = start;
	l->len = l->raw_len;
	l->column0 = 0;
	while (l->len > 0 && (start[l->len - 1] == '\n' || start[l->len - 1] == '\r'))
		l->len--;
	if (p->lineno == 0 && l->len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
		l->text += 3;
		l->len -= 3;
		l->column0 = 3;
	}
	p->pos += l->raw_len;
	p->lineno++;
	return true;
}

static size_t leading_space(const char *s, size_t len)
{
	size_t i = 0, w;

	while (i < len && (w = utf8_space_len(s + i, len - i)) > 0)
		i += w;
	return i;
}

static bool is_comment(const char *s, size_t len)
{
	size_t i = leading_space(s, len);

	return i < len && s[i] == '#';
}

static bool is_re_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/*
 * A parser directive: `#`, blanks, then `name = value` with name [a-zA-Z][a-zA-Z0-9]* and
 * a non-empty value, blanks around `=` and after the value ignored.  Only syntax, escape
 * and check are directives; any other line ends the directive block.
 */
static int directive(struct parser *p, const char *s, size_t len, unsigned column,
		     struct plate_error **err)
{
	size_t i, name, name_len, v, v_end;
	char key[8];
	char **slot;

	if (p->directives_done)
		return 0;
	if (len == 0 || s[0] != '#') {
		p->directives_done = true;
		return 0;
	}
	i = 1 + leading_space(s + 1, len - 1);
	name = i;
	if (i >= len || !is_alpha(s[i])) {
		p->directives_done = true;
		return 0;
	}
	while (i < len && is_alnum(s[i]))
		i++;
	name_len = i - name;
	while (i < len && is_re_space(s[i]))
		i++;
	if (i >= len || s[i] != '=') {
		p->directives_done = true;
		return 0;
	}
	i++;
	if (i == len) {
		p->directives_done = true;
		return 0;
	}
	while (i < len && is_re_space(s[i]))
		i++;
	v = i;
	v_end = len;
	while (v_end > v && is_re_space(s[v_end - 1]))
		v_end--;
	if (v == len) {
		/* `=\s*(.+?)\s*$` needs one character: with only blanks left, it takes the last. */
		v = len - 1;
		v_end = len;
	}
	if (name_len >= sizeof(key)) {
		p->directives_done = true;
		return 0;
	}
	for (size_t k = 0; k < name_len; k++)
		key[k] = (char)(s[name + k] | 0x20);
	key[name_len] = '\0';
	if (strcmp(key, "syntax") == 0) {
		if (p->seen_syntax)
			goto repeated;
		p->seen_syntax = true;
		slot = &p->df->syntax;
	} else if (strcmp(key, "check") == 0) {
		if (p->seen_check)
			goto repeated;
		p->seen_check = true;
		slot = &p->df->check;
	} else if (strcmp(key, "escape") == 0) {
		if (p->seen_escape)
			goto repeated;
		p->seen_escape = true;
		if (v_end - v != 1 || (s[v] != '\\' && s[v] != '`'))
			return plate_err_at(err, p->lineno, column,
					    "invalid escape token '%.*s' does not match ` or \\",
					    (int)(v_end - v), s + v);
		p->df->escape = s[v];
		return 0;
	} else {
		p->directives_done = true;
		return 0;
	}
	*slot = strndup(s + v, v_end - v);
	if (*slot == NULL)
		return plate_err_new(err, ENOMEM, "cannot parse parser directive");
	return 0;
repeated:
	return plate_err_at(err, p->lineno, column, "only one '%s' parser directive can be used",
			    key);
}

/*
 * Removes a line-continuation escape token: the token after a character that is not the
 * token itself (or alone on the line), followed only by blanks.  Returns true and the new
 * length when the line continues.
 */
static bool trim_continuation(const char *s, size_t *len, char escape)
{
	size_t e = *len;

	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (e == 0 || s[e - 1] != escape)
		return false;
	if (e >= 2 && s[e - 2] == escape)
		return false;
	*len = e - 1;
	return true;
}

static int add_segment(struct parser *p, unsigned line, unsigned column, struct plate_error **err)
{
	struct dockerfile_linemap *m = &p->map;

	if (m->n == m->alloc) {
		size_t alloc = m->alloc ? m->alloc * 2 : 16;
		struct dockerfile_segment *segs = realloc(m->segs, alloc * sizeof(*segs));

		if (segs == NULL)
			return plate_err_new(err, ENOMEM, "cannot parse Dockerfile");
		m->segs = segs;
		m->alloc = alloc;
	}
	m->segs[m->n++] = (struct dockerfile_segment){ .offset = p->logical.len,
						       .line = line,
						       .column = column };
	return 0;
}

/* Appends a piece of a logical line that starts at (line, column). */
static int add_piece(struct parser *p, const char *s, size_t len, unsigned column,
		     struct plate_error **err)
{
	if (add_segment(p, p->lineno, column, err) < 0)
		return -1;
	if (buf_add(&p->logical, s, len) < 0) {
		size_t room = p->limits->max_line - p->logical.len;

		if (errno == E2BIG)
			return plate_err_at(err, p->lineno, column + (unsigned)room,
					    "line too long: an instruction may hold at most %zu "
					    "bytes",
					    p->limits->max_line);
		return plate_err_new(err, errno, "cannot parse Dockerfile");
	}
	return 0;
}

static int add_warning(struct parser *p, unsigned line, char *message, struct plate_error **err)
{
	struct dockerfile *df = p->df;

	if (message == NULL)
		return plate_err_new(err, ENOMEM, "cannot parse Dockerfile");
	if (df->n_warnings == p->alloc_warnings) {
		size_t alloc = p->alloc_warnings ? p->alloc_warnings * 2 : 4;
		struct dockerfile_warning *w = realloc(df->warnings, alloc * sizeof(*w));

		if (w == NULL) {
			free(message);
			return plate_err_new(err, ENOMEM, "cannot parse Dockerfile");
		}
		df->warnings = w;
		p->alloc_warnings = alloc;
	}
	df->warnings[df->n_warnings++] =
		(struct dockerfile_warning){ .line = line, .message = message };
	return 0;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Reads the bodies of the heredocs the instruction opened, from the following lines. */
static int read_heredocs(struct parser *p, struct dockerfile_instruction *inst,
			 struct plate_error **err)
{
	struct dockerfile_heredoc *docs = NULL;
	size_t n = 0;

	if (dockerfile_heredocs_from_line(p->logical.data, p->logical.len, &docs, &n, err) < 0) {
		if ((*err)->errno_value == 0) {
			(*err)->line = inst->start_line;
			(*err)->column = inst->column;
		}
		return -1;
	}
	inst->heredocs = docs;
	inst->n_heredocs = n;
	for (size_t k = 0; k < n; k++) {
		struct dockerfile_heredoc *h = &docs[k];
		_cleanup_buf_ struct buf body = BUF_INIT(p->limits->max_heredoc);
		size_t name_len = strlen(h->name);
		bool terminated = false;
		struct pline l;

		while (next_line(p, &l)) {
			const char *t = l.text;
			size_t tl = l.len;

			if (h->chomp)
				while (tl > 0 && *t == '\t') {
					t++;
					tl--;
				}
			if (tl == name_len && memcmp(t, h->name, tl) == 0) {
				terminated = true;
				break;
			}
			if (buf_add(&body, l.text - l.column0, l.raw_len) < 0) {
				if (errno == E2BIG)
					return plate_err_at(err, p->lineno, 1,
							    "heredoc '%s' too large: at most %zu "
							    "bytes",
							    h->name, p->limits->max_heredoc);
				return plate_err_new(err, errno, "cannot parse Dockerfile");
			}
		}
		if (!terminated)
			return plate_err_at(err, inst->start_line, inst->column,
					    "unterminated heredoc '%s'", h->name);
		h->content = buf_detach(&body, NULL);
		if (h->content == NULL)
			return plate_err_new(err, ENOMEM, "cannot parse Dockerfile");
	}
	return 0;
}

static int add_instruction(struct parser *p, struct dockerfile_instruction *inst,
			   struct plate_error **err)
{
	struct dockerfile *df = p->df;

	if (df->n_instructions == p->alloc_instructions) {
		size_t alloc = p->alloc_instructions ? p->alloc_instructions * 2 : 16;
		struct dockerfile_instruction *v = realloc(df->instructions, alloc * sizeof(*v));

		if (v == NULL)
			return plate_err_new(err, ENOMEM, "cannot parse Dockerfile");
		df->instructions = v;
		p->alloc_instructions = alloc;
	}
	df->instructions[df->n_instructions++] = *inst;
	*inst = (struct dockerfile_instruction){ 0 };
	return 0;
}

/* Reads one logical line whose first physical line is l; 0 when it held no instruction. */
static int logical_line(struct parser *p, struct pline *l, struct plate_error **err)
{
	_cleanup_(dockerfile_instruction_release) struct dockerfile_instruction inst = { 0 };
	size_t lead = leading_space(l->text, l->len), len = l->len - lead;
	const char *s = l->text + lead;
	struct dockerfile_line_ctx ctx = { .map = &p->map };
	unsigned start_line = p->lineno;
	bool cont, empty_cont = false;

	if (l->len > p->limits->max_line)
		return plate_err_at(err, p->lineno, (unsigned)p->limits->max_line + 1,
				    "line too long: a line may hold at most %zu bytes",
				    p->limits->max_line);
	if (directive(p, s, len, l->column0 + (unsigned)lead + 1, err) < 0)
		return -1;
	if (len > 0 && s[0] == '#')
		len = 0;
	cont = trim_continuation(s, &len, p->df->escape);
	if (!cont && len == 0)
		return 0;
	buf_reset(&p->logical);
	p->map.n = 0;
	if (add_piece(p, s, len, l->column0 + (unsigned)lead + 1, err) < 0)
		return -1;
	while (cont && next_line(p, l)) {
		if (l->len > p->limits->max_line)
			return plate_err_at(err, p->lineno, (unsigned)p->limits->max_line + 1,
					    "line too long: a line may hold at most %zu bytes",
					    p->limits->max_line);
		if (is_comment(l->text, l->len))
			continue;
		if (leading_space(l->text, l->len) == l->len) {
			empty_cont = true;
			continue;
		}
		len = l->len;
		cont = trim_continuation(l->text, &len, p->df->escape);
		if (add_piece(p, l->text, len, 1, err) < 0)
			return -1;
	}
	if (empty_cont &&
	    add_warning(p, p->lineno,
			format("empty continuation line found in '%s' (empty continuation lines "
			       "will become errors in a future release)",
			       p->logical.data),
			err) < 0)
		return -1;
	ctx.escape = p->df->escape;
	if (dockerfile_instruction_parse(p->logical.data, p->logical.len, 0, &ctx, &inst, err) < 0)
		return -1;
	/* BuildKit's StartLine is the first physical line, even when the keyword comes later. */
	inst.start_line = start_line;
	if (inst.sub != NULL)
		inst.sub->start_line = start_line;
	if (ctx.json_nul &&
	    add_warning(p, start_line,
			format("a JSON argument holds \\u0000: plate cuts the argument at the NUL"),
			err) < 0)
		return -1;
	if (p->df->n_instructions >= p->limits->max_instructions)
		return plate_err_at(err, inst.start_line, inst.column,
				    "too many instructions: at most %zu",
				    p->limits->max_instructions);
	if (dockerfile_instruction_takes_heredocs(&inst) &&
	    memmem(p->logical.data, p->logical.len, "<<", 2) != NULL &&
	    read_heredocs(p, &inst, err) < 0)
		return -1;
	inst.end_line = p->lineno;
	if (inst.sub != NULL)
		inst.sub->end_line = p->lineno;
	return add_instruction(p, &inst, err);
}

/* Line and column of a byte offset, for errors about the whole buffer. */
static void offset_location(const char *data, size_t offset, unsigned *line, unsigned *column)
{
	const char *p = data, *end = data + offset, *nl;

	*line = 1;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		(*line)++;
		p = nl + 1;
	}
	*column = (unsigned)(end - p) + 1;
}

void dockerfile_free(struct dockerfile *df)
{
	if (df == NULL)
		return;
	for (size_t k = 0; k < df->n_instructions; k++)
		dockerfile_instruction_release(&df->instructions[k]);
	free(df->instructions);
	for (size_t k = 0; k < df->n_warnings; k++)
		free(df->warnings[k].message);
	free(df->warnings);
	free(df->syntax);
	free(df->check);
	free(df);
}

static void cleanup_dockerfilep(struct dockerfile **df)
{
	dockerfile_free(*df);
}

int dockerfile_parse(const char *data, size_t len, const struct dockerfile_limits *limits,
		     struct dockerfile **out, struct plate_error **err)
{
	_cleanup_(cleanup_dockerfilep) struct dockerfile *df = calloc(1, sizeof(*df));
	struct parser p = { .limits = limits ? limits : &dockerfile_default_limits,
			    .data = data,
			    .len = len };
	const char *nul;
	struct pline l;
	unsigned line, column;
	int rc = 0;

	if (df == NULL)
		return plate_err_new(err, ENOMEM, "cannot parse Dockerfile");
	df->escape = '\\';
	p.df = df;
	if (len > p.limits->max_file) {
		offset_location(data, p.limits->max_file, &line, &column);
		return plate_err_at(err, line, column, "Dockerfile too large: at most %zu bytes",
				    p.limits->max_file);
	}
	nul = len > 0 ? memchr(data, '\0', len) : NULL;
	if (nul != NULL) {
		offset_location(data, (size_t)(nul - data), &line, &column);
		return plate_err_at(err, line, column, "unexpected NUL byte");
	}
	buf_init(&p.logical, p.limits->max_line);
	while (rc == 0 && next_line(&p, &l))
		rc = logical_line(&p, &l, err);
	buf_release(&p.logical);
	free(p.map.segs);
	if (rc < 0)
		return -1;
	if (df->n_instructions == 0)
		return plate_err_at(err, p.lineno ? p.lineno : 1, 1, "file with no instructions");
	*out = steal_pointer(&df);
	return 0;
}
