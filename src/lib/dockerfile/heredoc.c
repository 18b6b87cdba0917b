/*
 * Finding here-document openers (`<<EOF`, `<<-'EOF'`, `3<<EOF`, `<< EOF`) in an instruction.
 *
 * BuildKit decides this with its shell-word lexer, not with a grammar of its own, so the
 * answer depends on that lexer's quirks; this file reproduces the part of it that matters
 * with no variables set and unset references kept as written:
 *   - the line is split into shell words keeping quotes and escapes; a line that does not
 *     lex (an unterminated quote, a bad `${`) has no heredocs at all;
 *   - `<<` (optionally `<<-`) swallows the blanks after it, so `<< EOF` is one word;
 *   - a word is an opener when it is digits, `<<`, an optional `-`, then text without `<`
 *     that lexes to exactly one word: that word is the name;
 *   - the body is expanded later unless some part of the name was quoted, which BuildKit
 *     detects by lexing the name with and without quote removal and comparing the number of
 *     quote characters (escaped quotes count the same both ways);
 *   - the escape character here is always `\`, whatever `# escape=` says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile_internal.h"

/* Bounds the lexer's recursion (`${a:-${b:-…}}`); deeper input simply does not lex. */
#define LEX_MAX_DEPTH 64

struct lexer {
	const char *p;
	size_t n;
	size_t i;
	bool raw_quotes;
	bool raw_escapes;
	unsigned depth;
	const char *error; /* why the text does not lex; NULL with errno set on ENOMEM */
};

struct words {
	struct buf word;
	bool in_word;
	char **v;
	size_t n;
	size_t alloc;
};

static void words_release(struct words *w)
{
	buf_release(&w->word);
	strv_free(w->v, w->n);
	w->v = NULL;
	w->n = w->alloc = 0;
}

static int words_push(struct words *w)
{
	char *s;

	if (w->n == w->alloc) {
		size_t alloc = w->alloc ? w->alloc * 2 : 8;
		char **v = realloc(w->v, alloc * sizeof(*v));

		if (v == NULL)
			return -1;
		w->v = v;
		w->alloc = alloc;
	}
	s = buf_detach(&w->word, NULL);
	if (s == NULL)
		return -1;
	w->v[w->n++] = s;
	w->in_word = false;
	return 0;
}

static int words_add_raw(struct words *w, const char *s, size_t len)
{
	w->in_word = true;
	return buf_add(&w->word, s, len);
}

/* One rune: blanks end a word that has text; a blank right after an empty quoted string
 * ('') does not, as in BuildKit. */
static int words_add_char(struct words *w, const char *s, size_t len)
{
	uint32_t r;

	utf8_decode_rune(s, len, &r);
	if (utf8_is_space(r)) {
		if (w->in_word && w->word.len != 0)
			return words_push(w);
		return 0;
	}
	return words_add_raw(w, s, len);
}

static int words_add_string(struct words *w, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t r;
		size_t k = utf8_decode_rune(s + i, len - i, &r);

		if (words_add_char(w, s + i, k) < 0)
			return -1;
		i += k;
	}
	return 0;
}

static int lex_fail(struct lexer *lx, const char *why)
{
	lx->error = why;
	return -1;
}

/* The rune at the cursor: -1 at the end.  Invalid bytes read as U+FFFD, as Go's scanner
 * reads them, and are written back as U+FFFD. */
static long lex_peek(const struct lexer *lx, size_t *width)
{
	uint32_t r;

	if (lx->i >= lx->n) {
		*width = 0;
		return -1;
	}
	*width = utf8_decode_rune(lx->p + lx->i, lx->n - lx->i, &r);
	return (long)r;
}

static long lex_next(struct lexer *lx)
{
	size_t w;
	long r = lex_peek(lx, &w);

	lx->i += w;
	return r;
}

static int add_rune(struct buf *b, long r)
{
	return dockerfile_buf_add_rune(b, (uint32_t)r);
}

static bool is_name_rune(long r)
{
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') ||
	       r == '_' || (r >= 0x80 && r != UTF8_RUNE_ERROR && !utf8_is_space((uint32_t)r));
}

/* A variable name after `$`: a run of digits, one special parameter, or letters, digits
 * and `_`.  Non-ASCII runes count as letters (Go's unicode.IsLetter, approximately). */
static int lex_name(struct lexer *lx, struct buf *name)
{
	size_t w;
	long r = lex_peek(lx, &w);

	if (r >= '0' && r <= '9') {
		while ((r = lex_peek(lx, &w)) >= '0' && r <= '9')
			if (add_rune(name, lex_next(lx)) < 0)
				return -1;
		return 0;
	}
	if (r > 0 && r < 0x80 && strchr("@*#?-$!", (int)r) != NULL)
		return add_rune(name, lex_next(lx));
	while ((r = lex_peek(lx, &w)) >= 0 && is_name_rune(r))
		if (add_rune(name, lex_next(lx)) < 0)
			return -1;
	return 0;
}

static int lex_stop_on(struct lexer *lx, long stop, bool raw_escapes, struct buf *res,
		       struct words *w);

/* `$name` and `${…}` with every variable unset: the reference is kept as written. */
static int lex_dollar(struct lexer *lx, struct buf *out)
{
	_cleanup_buf_ struct buf name = BUF_INIT(BUF_UNLIMITED);
	_cleanup_buf_ struct buf word = BUF_INIT(BUF_UNLIMITED);
	_cleanup_buf_ struct buf repl = BUF_INIT(BUF_UNLIMITED);
	size_t w;
	long ch, stop_err;
	bool raw;
	int rc;

	if (++lx->depth > LEX_MAX_DEPTH)
		return lex_fail(lx, "expansion nested too deeply");
	lex_next(lx); /* '$' */
	if (lex_peek(lx, &w) != '{') {
		if (lex_name(lx, &name) < 0 || buf_addch(out, '$') < 0 ||
		    buf_add(out, name.data, name.len) < 0)
			return -1;
		lx->depth--;
		return 0;
	}
	lex_next(lx);
	ch = lex_peek(lx, &w);
	if (ch < 0)
		return lex_fail(lx, "syntax error: missing '}'");
	if (ch == '{' || ch == '}' || ch == ':')
		return lex_fail(lx, "syntax error: bad substitution");
	if (lex_name(lx, &name) < 0 || buf_addstr(out, "${") < 0 ||
	    buf_add(out, name.data, name.len) < 0)
		return -1;
	ch = lex_next(lx);
	switch (ch) {
	case '}':
		rc = buf_addch(out, '}');
		break;
	case ':':
	case '+':
	case '-':
	case '?':
	case '#':
	case '%':
		if (add_rune(out, ch) < 0)
			return -1;
		if (ch == ':') {
			ch = lex_next(lx);
			/* Go appends string(rune(-1)), U+FFFD, for a missing character. */
			if (add_rune(out, ch < 0 ? (long)UTF8_RUNE_ERROR : ch) < 0)
				return -1;
		}
		raw = ch == '#' || ch == '%';
		if (lex_stop_on(lx, '}', raw, &word, NULL) < 0) {
			if (lx->error != NULL && lx->i >= lx->n)
				lx->error = "syntax error: missing '}'";
			return -1;
		}
		rc = buf_add(out, word.data, word.len) < 0 ? -1 : buf_addch(out, '}');
		break;
	case '/':
		if (lex_peek(lx, &w) == '/')
			lex_next(lx);
		stop_err = '/';
		if (lex_stop_on(lx, '/', true, &word, NULL) < 0 ||
		    (stop_err = '}', lex_stop_on(lx, '}', true, &repl, NULL) < 0)) {
			if (lx->error != NULL && lx->i >= lx->n)
				lx->error = stop_err == '/' ? "syntax error: missing '/' in ${}"
							    : "syntax error: missing '}'";
			return -1;
		}
		rc = (buf_addch(out, '/') < 0 || buf_add(out, word.data, word.len) < 0 ||
		      buf_addch(out, '/') < 0 || buf_add(out, repl.data, repl.len) < 0)
			     ? -1
			     : buf_addch(out, '}');
		break;
	default:
		return lex_fail(lx, "unsupported modifier in substitution");
	}
	lx->depth--;
	return rc;
}

static int lex_single_quote(struct lexer *lx, struct buf *out)
{
	long ch = lex_next(lx);

	if (lx->raw_quotes && add_rune(out, ch) < 0)
		return -1;
	for (;;) {
		ch = lex_next(lx);
		if (ch < 0)
			return lex_fail(lx, "unexpected end of statement while looking for "
					    "matching single-quote");
		if (ch == '\'' && !lx->raw_quotes)
			return 0;
		if (add_rune(out, ch) < 0)
			return -1;
		if (ch == '\'')
			return 0;
	}
}

static int lex_double_quote(struct lexer *lx, struct buf *out)
{
	long ch = lex_next(lx);
	size_t w;

	if (lx->raw_quotes && add_rune(out, ch) < 0)
		return -1;
	for (;;) {
		switch (lex_peek(lx, &w)) {
		case -1:
			return lex_fail(lx, "unexpected end of statement while looking for "
					    "matching double-quote");
		case '"':
			ch = lex_next(lx);
			return lx->raw_quotes ? add_rune(out, ch) : 0;
		case '$':
			if (lex_dollar(lx, out) < 0)
				return -1;
			continue;
		default:
			break;
		}
		ch = lex_next(lx);
		if (ch == '\\') {
			long peek;

			if (lx->raw_escapes && buf_addch(out, '\\') < 0)
				return -1;
			peek = lex_peek(lx, &w);
			if (peek < 0)
				continue;
			/* Only " $ and \ are escaped inside double quotes; other backslashes stay
			 * (and are written twice when escapes are kept raw, as BuildKit does). */
			if (peek == '"' || peek == '$' || peek == '\\')
				ch = lex_next(lx);
		}
		if (add_rune(out, ch) < 0)
			return -1;
	}
}

/* `<<`, `<<-`: the blanks that follow belong to the same word, so `<< EOF` stays one. */
static int lex_angle(struct lexer *lx, struct buf *out)
{
	size_t w;
	long ch;

	lex_next(lx);
	if (lex_peek(lx, &w) != '<')
		return buf_addch(out, '<');
	lex_next(lx);
	if (buf_addstr(out, "<<") < 0)
		return -1;
	if (lex_peek(lx, &w) == '-') {
		lex_next(lx);
		if (buf_addch(out, '-') < 0)
			return -1;
	}
	while ((ch = lex_peek(lx, &w)) == ' ' || ch == '\t') {
		lex_next(lx);
		if (add_rune(out, ch) < 0)
			return -1;
	}
	return 0;
}

/* BuildKit processStopOn: reads up to `stop` (-1: the end), appending the text to res and,
 * at the top level, the split words to w. */
static int lex_stop_on(struct lexer *lx, long stop, bool raw_escapes, struct buf *res,
		       struct words *w)
{
	bool saved = lx->raw_escapes;
	int rc = 0;
	size_t width;
	char enc[4];
	long ch;

	lx->raw_escapes = raw_escapes;
	while ((ch = lex_peek(lx, &width)) >= 0) {
		if (stop >= 0 && ch == stop) {
			lex_next(lx);
			goto out;
		}
		if (ch == '$' || ch == '\'' || ch == '"' || ch == '<') {
			_cleanup_buf_ struct buf tmp = BUF_INIT(BUF_UNLIMITED);

			if (ch == '$')
				rc = lex_dollar(lx, &tmp);
			else if (ch == '\'')
				rc = lex_single_quote(lx, &tmp);
			else if (ch == '"')
				rc = lex_double_quote(lx, &tmp);
			else
				rc = lex_angle(lx, &tmp);
			if (rc < 0 || buf_add(res, tmp.data, tmp.len) < 0)
				goto fail;
			if (w != NULL && (ch == '$' ? words_add_string(w, tmp.data, tmp.len)
						    : words_add_raw(w, tmp.data, tmp.len)) < 0)
				goto fail;
			continue;
		}
		lex_next(lx);
		if (ch == '\\') {
			if (lx->raw_escapes) {
				if ((w != NULL && words_add_raw(w, "\\", 1) < 0) ||
				    buf_addch(res, '\\') < 0)
					goto fail;
			}
			ch = lex_next(lx);
			if (ch < 0)
				break;
			if (w != NULL &&
			    words_add_raw(w, enc, dockerfile_utf8_encode((uint32_t)ch, enc)) < 0)
				goto fail;
		} else if (w != NULL) {
			if (words_add_char(w, enc, dockerfile_utf8_encode((uint32_t)ch, enc)) < 0)
				goto fail;
		}
		if (add_rune(res, ch) < 0)
			goto fail;
	}
	if (stop >= 0) {
		rc = lex_fail(lx, stop == '}' ? "unexpected end of statement while looking for "
						"matching }"
					      : "unexpected end of statement while looking for "
						"matching /");
		goto out;
	}
out:
	lx->raw_escapes = saved;
	return rc;
fail:
	lx->raw_escapes = saved;
	return -1;
}

/* BuildKit ProcessWords with no variables and unset references kept.  Returns 0 with the
 * words, or -1 with lx->error set (does not lex) or NULL (ENOMEM). */
static int process_words(const char *text, size_t len, bool raw_quotes, bool raw_escapes,
			 struct words *w, const char **why)
{
	struct lexer lx = { .p = text, .n = len, .raw_quotes = raw_quotes };
	_cleanup_buf_ struct buf res = BUF_INIT(BUF_UNLIMITED);

	*w = (struct words){ .word = BUF_INIT(BUF_UNLIMITED) };
	if (lex_stop_on(&lx, -1, raw_escapes, &res, w) < 0 ||
	    (w->word.len > 0 && words_push(w) < 0)) {
		*why = lx.error;
		words_release(w);
		return -1;
	}
	return 0;
}

static size_t count_quotes(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\'' || *s == '"';
	return n;
}

static bool is_regex_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

int dockerfile_heredoc_parse_word(const char *word, size_t len, struct dockerfile_heredoc *out,
				  struct plate_error **err)
{
	struct words plain, raw;
	const char *why = NULL;
	size_t i = 0, digits;
	long fd = 0;
	bool chomp = false;

	while (i < len && word[i] >= '0' && word[i] <= '9') {
		fd = fd > 100000000 ? fd : fd * 10 + (word[i] - '0');
		i++;
	}
	digits = i;
	if (len - i < 2 || word[i] != '<' || word[i + 1] != '<')
		return 0;
	i += 2;
	if (i < len && word[i] == '-') {
		chomp = true;
		i++;
	}
	while (i < len && is_regex_space(word[i]))
		i++;
	if (i == len || memchr(word + i, '<', len - i) != NULL)
		return 0;
	if (process_words(word + i, len - i, false, false, &plain, &why) < 0)
		return why ? plate_err_new(err, 0, "heredoc '%.*s': %s", (int)len, word, why)
			   : plate_err_new(err, ENOMEM, "cannot parse heredoc");
	if (plain.n != 1) {
		words_release(&plain);
		return 0;
	}
	if (process_words(word + i, len - i, true, false, &raw, &why) < 0) {
		words_release(&plain);
		return why ? plate_err_new(err, 0, "heredoc '%.*s': %s", (int)len, word, why)
			   : plate_err_new(err, ENOMEM, "cannot parse heredoc");
	}
	if (raw.n != 1) {
		words_release(&plain);
		words_release(&raw);
		return plate_err_new(err, 0,
				     "internal lexing of heredoc produced inconsistent "
				     "results: '%.*s'",
				     (int)(len - i), word + i);
	}
	*out = (struct dockerfile_heredoc){
		.expand = count_quotes(plain.v[0]) == count_quotes(raw.v[0]),
		.chomp = chomp,
		.fd = digits > 0 ? (int)(fd > 2147483647 ? 2147483647 : fd) : 0,
	};
	out->name = steal_pointer(&plain.v[0]);
	words_release(&plain);
	words_release(&raw);
	return 1;
}

void dockerfile_heredoc_release(struct dockerfile_heredoc *heredoc)
{
	free(heredoc->name);
	free(heredoc->content);
	heredoc->name = heredoc->content = NULL;
}

int dockerfile_heredocs_from_line(const char *line, size_t len, struct dockerfile_heredoc **out,
				  size_t *n_out, struct plate_error **err)
{
	struct dockerfile_heredoc *docs = NULL;
	struct words w;
	const char *why = NULL;
	size_t n = 0, alloc = 0;

	*out = NULL;
	*n_out = 0;
	if (process_words(line, len, true, true, &w, &why) < 0)
		return why ? 0 : plate_err_new(err, ENOMEM, "cannot parse heredoc");
	for (size_t k = 0; k < w.n; k++) {
		struct dockerfile_heredoc h;
		int rc = dockerfile_heredoc_parse_word(w.v[k], strlen(w.v[k]), &h, err);

		if (rc < 0)
			goto fail;
		if (rc == 0)
			continue;
		if (n == alloc) {
			struct dockerfile_heredoc *grown;

			alloc = alloc ? alloc * 2 : 4;
			grown = realloc(docs, alloc * sizeof(*docs));
			if (grown == NULL) {
				dockerfile_heredoc_release(&h);
				plate_err_new(err, ENOMEM, "cannot parse heredoc");
				goto fail;
			}
			docs = grown;
		}
		docs[n++] = h;
	}
	words_release(&w);
	*out = docs;
	*n_out = n;
	return 0;
fail:
	words_release(&w);
	for (size_t k = 0; k < n; k++)
		dockerfile_heredoc_release(&docs[k]);
	free(docs);
	return -1;
}
