/*
 * Shell-word expansion for ARG/ENV substitution ("Environment replacement" in the Dockerfile
 * reference), with the observable behaviour of BuildKit's shell lexer
 * (frontend/dockerfile/shell): the conformance tables in shell-expansion/ are its tests.
 *
 * Facts carried over from BuildKit, each of which a Dockerfile can observe:
 *   - quotes are removed ('...' literal, "..." expands $ and honours the escape character
 *     before `"`, `$` and itself only); an escape at the very end of the word is dropped;
 *   - names are a run of letters, digits and `_` (Unicode letters and decimal digits), a run
 *     of digits (positional parameters, never set), or one of `@*#?-$!0`; `$` followed by
 *     anything else is a literal `$`;
 *   - in `${v#p}`, `${v%p}` and `${v/p/r}` the pattern and replacement are read keeping the
 *     escape characters ("raw escapes"), then the pattern is read as a glob where `*` is any
 *     run of characters, `?` one character, `\*` `\?` `\\` the literal character, `\}` and
 *     `\/` the literal `}` and `/`, any other `\x` an error, and every other character
 *     literal -- `[` included: BuildKit has no bracket expressions.  `*` and `?` never match
 *     a newline (they become Go regexp `.`);
 *   - `#`/`%` take the shortest match, `##`/`%%` the longest; `%` works on the reversed
 *     value and pattern, pairing each `\` with the character after it;
 *   - `${v//p/r}` replaces like Go's Regexp.ReplaceAllString: an empty match right after a
 *     previous match is not replaced, and `$0`, `${0}` in r stand for the matched text, `$$`
 *     for `$`, any other `$name` for nothing.  `${v/p/r}` inserts r literally;
 *   - with DOCKERFILE_EXPAND_SKIP_UNSET an unset variable's whole reference is kept as
 *     written (after expanding what is nested in it), even with an unknown modifier.
 *
 * Deviations: bytes that are not valid UTF-8 pass through unchanged and match only
 * themselves (Go would turn each into U+FFFD); a NUL byte in the word is an error, since the
 * results are C strings.
 *
 * Bounds: the word, the output and every intermediate string are capped at
 * EXPAND_MAX_BYTES and `${` nesting at EXPAND_MAX_DEPTH.  Work is bounded too, since a
 * word like `${E:+$BIG}${E:+$BIG}...` expands (then drops) every nested word: bytes copied
 * and variables scanned are charged to EXPAND_WORK_BUDGET, and pattern matching runs a Pike
 * VM (one pass over the text per search, no backtracking) under EXPAND_MATCH_BUDGET steps.
 */
#include "dockerfile/dockerfile.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/utf8.h"

#define EXPAND_MAX_BYTES ((size_t)1 << 20)
#define EXPAND_MAX_DEPTH 64
#define EXPAND_MATCH_BUDGET ((uint64_t)1 << 26)
#define EXPAND_WORK_BUDGET ((uint64_t)1 << 28)
/* Longest piece of input quoted back in an error message. */
#define QUOTE_MAX 64

#define RUNE_EOF (-1)
/* A byte that does not start a valid UTF-8 sequence decodes to RUNE_BAD + byte. */
#define RUNE_BAD 0x110000

struct unicode_range {
	uint32_t lo, hi;
};

#include "unicode_ranges.inc"

static bool in_ranges(const struct unicode_range *r, size_t n, int32_t c)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uint32_t)c < r[mid].lo)
			hi = mid;
		else if ((uint32_t)c > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static bool is_letter(int32_t c)
{
	return c >= 0 && c < RUNE_BAD &&
	       in_ranges(unicode_letters, sizeof(unicode_letters) / sizeof(unicode_letters[0]), c);
}

static bool is_digit(int32_t c)
{
	return c >= 0 && c < RUNE_BAD &&
	       in_ranges(unicode_digits, sizeof(unicode_digits) / sizeof(unicode_digits[0]), c);
}

/* One character of s[0..len) (len > 0), decoded as Go does (base/utf8.h); a byte that
 * starts no valid sequence is RUNE_BAD + byte, so it can be copied back unchanged. */
static int32_t utf8_decode(const char *s, size_t len, size_t *width)
{
	uint32_t r;

	*width = utf8_decode_rune(s, len, &r);
	if (r == UTF8_RUNE_ERROR && *width == 1)
		return RUNE_BAD + (unsigned char)s[0];
	return (int32_t)r;
}

/* ---------------------------------------------------------------------------------------
 * Glob patterns, compiled to a tiny program and run by a Pike VM with leftmost-first
 * (Perl/Go) priorities, so `*` can be greedy or lazy exactly like BuildKit's `.*`/`.*?`.
 */

enum inst_op {
	OP_CHAR,  /* one character equal to c, then x */
	OP_ANY,	  /* one character other than '\n', then x */
	OP_SPLIT, /* try x, then (lower priority) y */
	OP_MATCH,
};

struct inst {
	enum inst_op op;
	int32_t c;
	uint32_t x, y;
};

struct prog {
	struct inst *insts;
	size_t n;
};

struct thread {
	uint32_t pc;
	size_t start;
};

struct vm {
	const struct prog *prog;
	struct thread *clist, *nlist;
	size_t nc, nn;
	uint32_t *mark; /* generation in which a pc was last added to a list */
	uint32_t gen;
	uint32_t *stack;
	uint64_t *budget;
};

struct lexer {
	const char *s;
	size_t len, pos;
	char escape;
	unsigned flags;
	const struct dockerfile_vars *vars;
	struct dockerfile_vars *unset; /* records names looked up but not set, or NULL */
	unsigned depth;
	uint64_t budget; /* pattern-matching steps left */
	uint64_t work;	 /* bytes to copy or names to compare left */
	struct plate_error **err;
};

static void prog_release(struct prog *p)
{
	free(p->insts);
	p->insts = NULL;
	p->n = 0;
}

static int oom(struct lexer *lx)
{
	return plate_err_new(lx->err, ENOMEM, "out of memory while expanding a word");
}

static int charge(struct lexer *lx, uint64_t units)
{
	if (units > lx->work)
		return plate_err_new(lx->err, E2BIG, "expansion exceeds its work limit");
	lx->work -= units;
	return 0;
}

static int buf_error(struct lexer *lx)
{
	if (errno == E2BIG)
		return plate_err_new(lx->err, E2BIG, "expanded word longer than %zu bytes",
				     EXPAND_MAX_BYTES);
	return oom(lx);
}

static int emit(struct lexer *lx, struct buf *out, const char *s, size_t n)
{
	if (charge(lx, n) < 0)
		return -1;
	if (buf_add(out, s, n) < 0)
		return buf_error(lx);
	return 0;
}

/* BuildKit reads `${v%p}` as a prefix match of the reversed pattern against the reversed
 * value; reversing keeps each `\` before the character it preceded ("a\*c" -> "c\*a"). */
static int pattern_reverse(struct lexer *lx, const char *pat, size_t len, struct buf *out)
{
	_cleanup_free_ size_t *starts = NULL;
	_cleanup_free_ size_t *order = NULL;
	size_t n = 0, w;

	starts = calloc(len + 1, sizeof(*starts));
	order = calloc(len + 1, sizeof(*order));
	if (starts == NULL || order == NULL)
		return oom(lx);
	for (size_t i = 0; i < len; i += w) {
		utf8_decode(pat + i, len - i, &w);
		starts[n++] = i;
	}
	starts[n] = len;
	for (size_t i = 0; i < n;) {
		size_t at = n - 1 - i;

		if (pat[starts[i]] == '\\' && i != n - 1) {
			order[at - 1] = i;
			order[at] = i + 1;
			i += 2;
		} else {
			order[at] = i;
			i++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t u = order[i];

		if (emit(lx, out, pat + starts[u], starts[u + 1] - starts[u]) < 0)
			return -1;
	}
	return 0;
}

static int pattern_compile(struct lexer *lx, const char *pat, size_t len, bool greedy,
			   struct prog *out)
{
	struct inst *insts;
	size_t n = 0, w;

	if (charge(lx, len) < 0)
		return -1;
	/* At most two instructions per pattern byte, plus OP_MATCH. */
	insts = calloc(2 * len + 1, sizeof(*insts));
	if (insts == NULL)
		return oom(lx);
	for (size_t i = 0; i < len; i += w) {
		int32_t c = utf8_decode(pat + i, len - i, &w);

		switch (c) {
		case '*':
			insts[n] = (struct inst){ .op = OP_SPLIT,
						  .x = greedy ? n + 1 : n + 2,
						  .y = greedy ? n + 2 : n + 1 };
			insts[n + 1] = (struct inst){ .op = OP_ANY, .x = n };
			n += 2;
			continue;
		case '?':
			insts[n] = (struct inst){ .op = OP_ANY, .x = n + 1 };
			n++;
			continue;
		case '\\':
			/* `\}` and `\/` are how `}` and `/` are written inside `${...}`: the
			 * backslash goes, the character stays literal. */
			if (i + 1 < len && (pat[i + 1] == '}' || pat[i + 1] == '/'))
				continue;
			if (i + 1 >= len) {
				free(insts);
				return plate_err_new(lx->err, 0,
						     "invalid pattern \"%.*s\" in substitution: "
						     "\"\\\" at the end",
						     (int)(len < QUOTE_MAX ? len : QUOTE_MAX), pat);
			}
			i += w;
			c = utf8_decode(pat + i, len - i, &w);
			if (c != '*' && c != '?' && c != '\\') {
				free(insts);
				return plate_err_new(lx->err, 0,
						     "invalid pattern \"%.*s\" in substitution: "
						     "invalid escape \"\\%.*s\"",
						     (int)(len < QUOTE_MAX ? len : QUOTE_MAX), pat,
						     (int)w, pat + i);
			}
			break;
		default:
			break;
		}
		insts[n] = (struct inst){ .op = OP_CHAR, .c = c, .x = n + 1 };
		n++;
	}
	insts[n++] = (struct inst){ .op = OP_MATCH };
	out->insts = insts;
	out->n = n;
	return 0;
}

static void vm_release(struct vm *vm)
{
	free(vm->clist);
	free(vm->nlist);
	free(vm->mark);
	free(vm->stack);
}

static int vm_init(struct lexer *lx, struct vm *vm, const struct prog *prog)
{
	/* mark[] starts zeroed, so generations start at 1. */
	*vm = (struct vm){ .prog = prog, .budget = &lx->budget, .gen = 1 };
	vm->clist = calloc(prog->n, sizeof(*vm->clist));
	vm->nlist = calloc(prog->n, sizeof(*vm->nlist));
	vm->mark = calloc(prog->n, sizeof(*vm->mark));
	vm->stack = calloc(2 * prog->n + 2, sizeof(*vm->stack));
	if (vm->clist == NULL || vm->nlist == NULL || vm->mark == NULL || vm->stack == NULL) {
		vm_release(vm);
		return oom(lx);
	}
	return 0;
}

/* Adds pc and what it leads to without consuming input, in priority order. */
static bool vm_add(struct vm *vm, struct thread *list, size_t *n, uint32_t gen, uint32_t pc,
		   size_t start)
{
	size_t sp = 0;

	vm->stack[sp++] = pc;
	while (sp > 0) {
		const struct inst *in;

		pc = vm->stack[--sp];
		if (vm->mark[pc] == gen)
			continue;
		if (*vm->budget == 0)
			return false;
		--*vm->budget;
		vm->mark[pc] = gen;
		in = &vm->prog->insts[pc];
		if (in->op == OP_SPLIT) {
			vm->stack[sp++] = in->y;
			vm->stack[sp++] = in->x;
		} else {
			list[(*n)++] = (struct thread){ .pc = pc, .start = start };
		}
	}
	return true;
}

/* Leftmost-first search of s[from..len) (anchored: only at from).  Returns 1 with the
 * match in [*ms, *me), 0 for no match, -1 when the step budget is spent. */
static int vm_search(struct vm *vm, const char *s, size_t len, size_t from, bool anchored,
		     size_t *ms, size_t *me)
{
	bool matched = false;

	vm->nc = 0;
	for (size_t pos = from;;) {
		size_t w = 0;
		int32_t c = pos < len ? utf8_decode(s + pos, len - pos, &w) : RUNE_EOF;

		if (vm->nc == 0 && (matched || (anchored && pos != from)))
			break;
		if (!matched && (!anchored || pos == from))
			if (!vm_add(vm, vm->clist, &vm->nc, vm->gen, 0, pos))
				return -1;
		vm->nn = 0;
		vm->gen++;
		for (size_t i = 0; i < vm->nc; i++) {
			const struct thread *t = &vm->clist[i];
			const struct inst *in = &vm->prog->insts[t->pc];
			bool take = false;

			switch (in->op) {
			case OP_MATCH:
				matched = true;
				*ms = t->start;
				*me = pos;
				i = vm->nc; /* lower-priority threads are cut off */
				continue;
			case OP_CHAR:
				take = c == in->c;
				break;
			case OP_ANY:
				take = c != RUNE_EOF && c != '\n';
				break;
			case OP_SPLIT:
				break;
			default:
				break;
			}
			if (take && !vm_add(vm, vm->nlist, &vm->nn, vm->gen, in->x, t->start))
				return -1;
		}
		struct thread *tmp = vm->clist;
		vm->clist = vm->nlist;
		vm->nlist = tmp;
		vm->nc = vm->nn;
		if (c == RUNE_EOF)
			break;
		pos += w;
	}
	return matched ? 1 : 0;
}

static int budget_error(struct lexer *lx)
{
	return plate_err_new(lx->err, E2BIG,
			     "pattern matching in substitution exceeds its work limit");
}

/* Anchored match of the pattern at the start of value; *cut is the matched length, or 0. */
static int pattern_match_prefix(struct lexer *lx, const char *pat, size_t plen, bool greedy,
				const char *value, size_t vlen, size_t *cut)
{
	struct prog prog = { 0 };
	struct vm vm;
	size_t ms = 0, me = 0;
	int r;

	*cut = 0;
	if (pattern_compile(lx, pat, plen, greedy, &prog) < 0)
		return -1;
	if (vm_init(lx, &vm, &prog) < 0) {
		prog_release(&prog);
		return -1;
	}
	r = vm_search(&vm, value, vlen, 0, true, &ms, &me);
	vm_release(&vm);
	prog_release(&prog);
	if (r < 0)
		return budget_error(lx);
	if (r > 0)
		*cut = me;
	return 0;
}

/* Reverses a string character by character (each UTF-8 sequence keeps its byte order). */
static int string_reverse(struct lexer *lx, const char *s, size_t len, struct buf *out)
{
	size_t w;

	if (charge(lx, len) < 0)
		return -1;
	if (buf_grow(out, len) < 0)
		return buf_error(lx);
	out->len = len;
	out->data[len] = '\0';
	for (size_t i = 0; i < len; i += w) {
		utf8_decode(s + i, len - i, &w);
		memcpy(out->data + len - i - w, s + i, w);
	}
	return 0;
}

/* ${v#p} ${v##p} ${v%p} ${v%%p} */
static int expand_trim(struct lexer *lx, char op, const char *pat, size_t plen, const char *value,
		       struct buf *out)
{
	size_t vlen = strlen(value), cut;
	bool greedy = false;

	if (plen > 0 && pat[0] == op) {
		greedy = true;
		pat++;
		plen--;
	}
	if (op == '#') {
		if (pattern_match_prefix(lx, pat, plen, greedy, value, vlen, &cut) < 0)
			return -1;
		return emit(lx, out, value + cut, vlen - cut);
	}

	_cleanup_buf_ struct buf rpat = BUF_INIT(EXPAND_MAX_BYTES);
	_cleanup_buf_ struct buf rval = BUF_INIT(EXPAND_MAX_BYTES);

	if (pattern_reverse(lx, pat, plen, &rpat) < 0 || string_reverse(lx, value, vlen, &rval) < 0)
		return -1;
	if (pattern_match_prefix(lx, rpat.data, rpat.len, greedy, rval.data, rval.len, &cut) < 0)
		return -1;
	return emit(lx, out, value, vlen - cut);
}

/* Go's Regexp.Expand on a template, for a regexp whose only group is the whole match. */
static int replacement_expand(struct lexer *lx, const char *repl, size_t rlen, const char *match,
			      size_t mlen, struct buf *out)
{
	for (size_t i = 0; i < rlen;) {
		const char *dollar = memchr(repl + i, '$', rlen - i);
		size_t at = dollar ? (size_t)(dollar - repl) : rlen, j, name, name_len, w;
		bool brace = false;

		if (emit(lx, out, repl + i, at - i) < 0)
			return -1;
		if (at == rlen)
			break;
		j = at + 1;
		if (j < rlen && repl[j] == '$') {
			if (emit(lx, out, "$", 1) < 0)
				return -1;
			i = j + 1;
			continue;
		}
		if (j < rlen && repl[j] == '{') {
			brace = true;
			j++;
		}
		name = j;
		while (j < rlen) {
			int32_t c = utf8_decode(repl + j, rlen - j, &w);

			if (!is_letter(c) && !is_digit(c) && c != '_')
				break;
			j += w;
		}
		name_len = j - name;
		if (name_len == 0 || (brace && (j >= rlen || repl[j] != '}'))) {
			/* Not a reference: the `$` is literal text. */
			if (emit(lx, out, "$", 1) < 0)
				return -1;
			i = at + 1;
			continue;
		}
		if (brace)
			j++;
		/* Only group 0 exists; "00" or a name refers to nothing. */
		if (name_len == 1 && repl[name] == '0' && emit(lx, out, match, mlen) < 0)
			return -1;
		i = j;
	}
	return 0;
}

/* ${v/p/r} and ${v//p/r}: the pattern's `*` is greedy and the match unanchored. */
static int expand_replace(struct lexer *lx, bool all, const char *pat, size_t plen,
			  const char *repl, size_t rlen, const char *value, struct buf *out)
{
	size_t vlen = strlen(value), last_end = 0, search = 0, ms = 0, me = 0;
	struct prog prog = { 0 };
	struct vm vm;
	int ret = -1, r;

	if (pattern_compile(lx, pat, plen, true, &prog) < 0)
		return -1;
	if (vm_init(lx, &vm, &prog) < 0) {
		prog_release(&prog);
		return -1;
	}
	if (!all) {
		r = vm_search(&vm, value, vlen, 0, false, &ms, &me);
		if (r < 0) {
			budget_error(lx);
			goto out;
		}
		if (r == 0)
			ms = me = vlen;
		if (emit(lx, out, value, ms) < 0 || (r > 0 && emit(lx, out, repl, rlen) < 0) ||
		    emit(lx, out, value + me, vlen - me) < 0)
			goto out;
		ret = 0;
		goto out;
	}
	/* Regexp.ReplaceAllString's walk: always advance by at least one character, and skip
	 * an empty match that touches the previous match. */
	while (search <= vlen) {
		size_t w = 0;

		r = vm_search(&vm, value, vlen, search, false, &ms, &me);
		if (r < 0) {
			budget_error(lx);
			goto out;
		}
		if (r == 0)
			break;
		if (emit(lx, out, value + last_end, ms - last_end) < 0)
			goto out;
		if ((me > last_end || ms == 0) &&
		    replacement_expand(lx, repl, rlen, value + ms, me - ms, out) < 0)
			goto out;
		last_end = me;
		if (search < vlen)
			utf8_decode(value + search, vlen - search, &w);
		if (search + w > me)
			search += w;
		else if (search + 1 > me)
			search++;
		else
			search = me;
	}
	if (emit(lx, out, value + last_end, vlen - last_end) < 0)
		goto out;
	ret = 0;
out:
	vm_release(&vm);
	prog_release(&prog);
	return ret;
}

/* ---------------------------------------------------------------------------------------
 * The word lexer.
 */

/* Word splitting state (BuildKit's ProcessWords): unquoted whitespace that comes from the
 * text or from a variable's value ends a word; quoted and escaped text never does. */
struct words {
	struct buf word;
	bool in_word;
	struct strv list;
};

static int words_push(struct lexer *lx, struct words *ws)
{
	if (strv_push(&ws->list, buf_detach(&ws->word, NULL)) < 0)
		return oom(lx);
	ws->in_word = false;
	return 0;
}

static int words_add_raw(struct lexer *lx, struct words *ws, const char *s, size_t n)
{
	if (ws == NULL)
		return 0;
	ws->in_word = true;
	if (buf_add(&ws->word, s, n) < 0)
		return buf_error(lx);
	return 0;
}

static int words_add_char(struct lexer *lx, struct words *ws, int32_t c, const char *s, size_t n)
{
	if (ws == NULL)
		return 0;
	if (c < 0 || !utf8_is_space((uint32_t)c))
		return words_add_raw(lx, ws, s, n);
	if (ws->in_word && ws->word.len > 0)
		return words_push(lx, ws);
	return 0;
}

static int words_add_split(struct lexer *lx, struct words *ws, const char *s, size_t n)
{
	size_t w;

	if (ws == NULL)
		return 0;
	for (size_t i = 0; i < n; i += w) {
		int32_t c = utf8_decode(s + i, n - i, &w);

		if (words_add_char(lx, ws, c, s + i, w) < 0)
			return -1;
	}
	return 0;
}

static int32_t peek(const struct lexer *lx, size_t *width)
{
	*width = 0;
	if (lx->pos >= lx->len)
		return RUNE_EOF;
	return utf8_decode(lx->s + lx->pos, lx->len - lx->pos, width);
}

static bool is_special_param(int32_t c)
{
	switch (c) {
	case '@':
	case '*':
	case '#':
	case '?':
	case '-':
	case '$':
	case '!':
	case '0':
		return true;
	default:
		return false;
	}
}

/* A parameter name: digits (positional), one special character, or letters, digits and
 * `_`.  Returns it as a slice of the input; empty when none is there. */
static void lex_name(struct lexer *lx, const char **name, size_t *name_len)
{
	size_t start = lx->pos, w;
	int32_t c = peek(lx, &w);

	*name = lx->s + start;
	if (is_digit(c)) {
		while (is_digit(c)) {
			lx->pos += w;
			c = peek(lx, &w);
		}
	} else if (is_special_param(c)) {
		lx->pos += w;
	} else {
		while (is_letter(c) || is_digit(c) || c == '_') {
			lx->pos += w;
			c = peek(lx, &w);
		}
	}
	*name_len = lx->pos - start;
}

static int lex_until(struct lexer *lx, int32_t stop, bool raw_escapes, struct buf *out,
		     struct words *ws);

static int lex_single_quote(struct lexer *lx, struct buf *out)
{
	bool raw = lx->flags & DOCKERFILE_EXPAND_RAW_QUOTES;
	size_t start;

	if (raw && emit(lx, out, "'", 1) < 0)
		return -1;
	start = ++lx->pos;
	while (lx->pos < lx->len && lx->s[lx->pos] != '\'')
		lx->pos++;
	if (lx->pos >= lx->len)
		return plate_err_new(lx->err, 0, "unterminated single-quoted string");
	if (emit(lx, out, lx->s + start, lx->pos - start) < 0)
		return -1;
	lx->pos++;
	if (raw && emit(lx, out, "'", 1) < 0)
		return -1;
	return 0;
}

static int lex_dollar(struct lexer *lx, struct buf *out);

/* Inside "...": `$` expands, and the escape character escapes only `"`, `$` and itself;
 * before anything else it stays (and is doubled in raw-escape mode, as in BuildKit). */
static int lex_double_quote(struct lexer *lx, bool raw_escapes, struct buf *out)
{
	bool raw = lx->flags & DOCKERFILE_EXPAND_RAW_QUOTES;

	if (raw && emit(lx, out, "\"", 1) < 0)
		return -1;
	lx->pos++;
	for (;;) {
		size_t w;
		int32_t c = peek(lx, &w);
		const char *at = lx->s + lx->pos;

		if (c == RUNE_EOF)
			return plate_err_new(lx->err, 0, "unterminated double-quoted string");
		if (c == '"') {
			lx->pos++;
			return raw ? emit(lx, out, "\"", 1) : 0;
		}
		if (c == '$') {
			if (lex_dollar(lx, out) < 0)
				return -1;
			continue;
		}
		lx->pos += w;
		if (c == lx->escape) {
			int32_t next;
			size_t nw;

			if (raw_escapes && emit(lx, out, at, w) < 0)
				return -1;
			next = peek(lx, &nw);
			if (next == RUNE_EOF)
				continue;
			if (next == '"' || next == '$' || next == lx->escape) {
				at = lx->s + lx->pos;
				w = nw;
				lx->pos += nw;
			}
		}
		if (emit(lx, out, at, w) < 0)
			return -1;
	}
}

/* Returns 0 with *value (NULL when unset), or -1 when the work budget is spent: a lookup
 * scans the whole set. */
static int lookup(struct lexer *lx, const char *name, size_t len, const char **value)
{
	*value = NULL;
	if (lx->vars == NULL && lx->unset == NULL)
		return 0;
	if (lx->vars != NULL && charge(lx, lx->vars->n) < 0)
		return -1;
	if (lx->vars != NULL)
		*value = dockerfile_vars_get(lx->vars, name, len);
	if (*value == NULL && lx->unset != NULL && len > 0) {
		if (charge(lx, lx->unset->n) < 0)
			return -1;
		if (dockerfile_vars_get(lx->unset, name, len) != NULL)
			return 0;
		_cleanup_free_ char *copy = strndup(name, len);
		if (copy == NULL || dockerfile_vars_set(lx->unset, copy, "") < 0)
			return oom(lx);
	}
	return 0;
}

static int quote_len(size_t n)
{
	return (int)(n < QUOTE_MAX ? n : QUOTE_MAX);
}

/* The `${` form after the name: modifier, word, and what to do with the value. */
static int lex_braced(struct lexer *lx, const char *name, size_t name_len, struct buf *out)
{
	bool skip_unset = lx->flags & DOCKERFILE_EXPAND_SKIP_UNSET;
	const char *chs = lx->s + lx->pos, *value;
	bool null_is_unset = false;
	size_t w;
	int32_t c = peek(lx, &w);

	lx->pos += w;
	if (c == '}') {
		if (lookup(lx, name, name_len, &value) < 0)
			return -1;
		if (value == NULL && skip_unset)
			return emit(lx, out, name - 2, name_len + 3);
		return value == NULL ? 0 : emit(lx, out, value, strlen(value));
	}
	if (c == ':') {
		null_is_unset = true;
		c = peek(lx, &w);
		lx->pos += w;
	}
	if (c == RUNE_EOF)
		return plate_err_new(lx->err, 0, "missing \"}\" after \"${%.*s\"",
				     quote_len(name_len), name);
	size_t chs_len = (size_t)(lx->s + lx->pos - chs);

	if (c == '/' && !null_is_unset) {
		_cleanup_buf_ struct buf pat = BUF_INIT(EXPAND_MAX_BYTES);
		_cleanup_buf_ struct buf repl = BUF_INIT(EXPAND_MAX_BYTES);
		bool all = false;

		if (lx->pos < lx->len && lx->s[lx->pos] == '/') {
			all = true;
			lx->pos++;
		}
		if (lex_until(lx, '/', true, &pat, NULL) < 0 ||
		    lex_until(lx, '}', true, &repl, NULL) < 0)
			return -1;
		if (lookup(lx, name, name_len, &value) < 0)
			return -1;
		if (value == NULL && skip_unset) {
			/* BuildKit writes a single `/` back, even for `//`. */
			if (emit(lx, out, name - 2, name_len + 2) < 0 ||
			    emit(lx, out, "/", 1) < 0 || emit(lx, out, pat.data, pat.len) < 0 ||
			    emit(lx, out, "/", 1) < 0 || emit(lx, out, repl.data, repl.len) < 0 ||
			    emit(lx, out, "}", 1) < 0)
				return -1;
			return 0;
		}
		return expand_replace(lx, all, pat.data, pat.len, repl.data, repl.len,
				      value ? value : "", out);
	}
	if (!null_is_unset && c != '+' && c != '-' && c != '?' && c != '#' && c != '%')
		return plate_err_new(lx->err, 0, "unsupported modifier \"%.*s\" in \"${%.*s\"",
				     (int)chs_len, chs, quote_len(name_len), name);
	if (null_is_unset && (c == '#' || c == '%'))
		return plate_err_new(lx->err, 0, "unsupported modifier \"%.*s\" in \"${%.*s\"",
				     (int)chs_len, chs, quote_len(name_len), name);

	_cleanup_buf_ struct buf word = BUF_INIT(EXPAND_MAX_BYTES);

	if (lex_until(lx, '}', c == '#' || c == '%', &word, NULL) < 0)
		return -1;
	if (lookup(lx, name, name_len, &value) < 0)
		return -1;
	if (value == NULL && skip_unset) {
		if (emit(lx, out, name - 2, name_len + 2) < 0 || emit(lx, out, chs, chs_len) < 0 ||
		    emit(lx, out, word.data, word.len) < 0 || emit(lx, out, "}", 1) < 0)
			return -1;
		return 0;
	}
	bool empty = value == NULL || (null_is_unset && value[0] == '\0');

	switch (c) {
	case '-':
		return empty ? emit(lx, out, word.data, word.len)
			     : emit(lx, out, value, strlen(value));
	case '+':
		return empty ? 0 : emit(lx, out, word.data, word.len);
	case '?':
		if (!empty)
			return emit(lx, out, value, strlen(value));
		if (word.len > 0)
			return plate_err_new(lx->err, 0, "%.*s: %s", (int)name_len, name,
					     word.data);
		return plate_err_new(lx->err, 0, "variable \"%.*s\" is not allowed to be %s",
				     (int)name_len, name, value == NULL ? "unset" : "empty");
	case '#':
	case '%':
		return expand_trim(lx, (char)c, word.data, word.len, value ? value : "", out);
	default:
		return plate_err_new(lx->err, 0, "unsupported modifier \"%.*s\" in \"${%.*s\"",
				     (int)chs_len, chs, quote_len(name_len), name);
	}
}

static int lex_dollar(struct lexer *lx, struct buf *out)
{
	bool skip_unset = lx->flags & DOCKERFILE_EXPAND_SKIP_UNSET;
	const char *name, *value;
	size_t name_len;
	int ret;

	lx->pos++;
	if (lx->pos >= lx->len || lx->s[lx->pos] != '{') {
		lex_name(lx, &name, &name_len);
		if (name_len == 0)
			return emit(lx, out, "$", 1);
		if (lookup(lx, name, name_len, &value) < 0)
			return -1;
		if (value == NULL && skip_unset)
			return emit(lx, out, name - 1, name_len + 1);
		return value == NULL ? 0 : emit(lx, out, value, strlen(value));
	}
	lx->pos++;
	if (lx->pos >= lx->len)
		return plate_err_new(lx->err, 0, "missing \"}\" after \"${\"");
	switch (lx->s[lx->pos]) {
	case '{':
	case '}':
	case ':':
		return plate_err_new(lx->err, 0, "bad substitution \"${%c\"", lx->s[lx->pos]);
	default:
		break;
	}
	if (lx->depth >= EXPAND_MAX_DEPTH)
		return plate_err_new(lx->err, 0, "substitutions nested more than %d deep",
				     EXPAND_MAX_DEPTH);
	lx->depth++;
	lex_name(lx, &name, &name_len);
	ret = lex_braced(lx, name, name_len, out);
	lx->depth--;
	return ret;
}

/* Reads up to the unquoted, unescaped stop character (consumed) or the end of the word
 * (stop == RUNE_EOF), appending the expansion to out and, when ws is given, to the words. */
static int lex_until(struct lexer *lx, int32_t stop, bool raw_escapes, struct buf *out,
		     struct words *ws)
{
	for (;;) {
		size_t w;
		int32_t c = peek(lx, &w);
		const char *at = lx->s + lx->pos;

		if (c == RUNE_EOF)
			break;
		if (c == stop) {
			lx->pos += w;
			return 0;
		}
		if (c == '$' || c == '\'' || c == '"') {
			_cleanup_buf_ struct buf tmp = BUF_INIT(EXPAND_MAX_BYTES);
			int r = c == '$'    ? lex_dollar(lx, &tmp)
				: c == '\'' ? lex_single_quote(lx, &tmp)
					    : lex_double_quote(lx, raw_escapes, &tmp);

			if (r < 0 || emit(lx, out, tmp.data, tmp.len) < 0)
				return -1;
			r = c == '$' ? words_add_split(lx, ws, tmp.data, tmp.len)
				     : words_add_raw(lx, ws, tmp.data, tmp.len);
			if (r < 0)
				return -1;
			continue;
		}
		lx->pos += w;
		if (c != lx->escape) {
			if (words_add_char(lx, ws, c, at, w) < 0 || emit(lx, out, at, w) < 0)
				return -1;
			continue;
		}
		if (raw_escapes && (words_add_raw(lx, ws, at, w) < 0 || emit(lx, out, at, w) < 0))
			return -1;
		/* An escape at the end of the word is dropped. */
		c = peek(lx, &w);
		if (c == RUNE_EOF)
			break;
		at = lx->s + lx->pos;
		lx->pos += w;
		if (words_add_raw(lx, ws, at, w) < 0 || emit(lx, out, at, w) < 0)
			return -1;
	}
	if (stop == RUNE_EOF)
		return 0;
	return plate_err_new(lx->err, 0, "missing \"%c\" in substitution", (char)stop);
}

static int lexer_init(struct lexer *lx, const char *s, size_t len, char escape,
		      const struct dockerfile_vars *vars, unsigned flags, struct plate_error **err)
{
	*lx = (struct lexer){ .s = s,
			      .len = len,
			      .escape = escape,
			      .flags = flags,
			      .vars = vars,
			      .budget = EXPAND_MATCH_BUDGET,
			      .work = EXPAND_WORK_BUDGET,
			      .err = err };
	if (len > EXPAND_MAX_BYTES)
		return plate_err_new(err, E2BIG, "word longer than %zu bytes", EXPAND_MAX_BYTES);
	/* Results are C strings: a NUL would silently cut them short. */
	if (memchr(s, '\0', len) != NULL)
		return plate_err_new(err, EINVAL, "word contains a NUL byte");
	return 0;
}

int dockerfile_expand_word(const char *word, size_t len, char escape,
			   const struct dockerfile_vars *vars, unsigned flags, char **out,
			   struct plate_error **err)
{
	_cleanup_buf_ struct buf result = BUF_INIT(EXPAND_MAX_BYTES);
	struct lexer lx;
	char *s;

	if (lexer_init(&lx, word, len, escape, vars, flags, err) < 0 ||
	    lex_until(&lx, RUNE_EOF, false, &result, NULL) < 0)
		return -1;
	s = buf_detach(&result, NULL);
	if (s == NULL)
		return plate_err_new(err, ENOMEM, "out of memory while expanding a word");
	*out = s;
	return 0;
}

int dockerfile_expand_words(const char *text, size_t len, char escape,
			    const struct dockerfile_vars *vars, unsigned flags, char ***words,
			    size_t *n_words, struct plate_error **err)
{
	_cleanup_buf_ struct buf result = BUF_INIT(EXPAND_MAX_BYTES);
	struct words ws = { .word = BUF_INIT(EXPAND_MAX_BYTES), .list = STRV_INIT };
	struct lexer lx;

	if (lexer_init(&lx, text, len, escape, vars, flags, err) < 0)
		return -1;
	if (lex_until(&lx, RUNE_EOF, false, &result, &ws) < 0 ||
	    (ws.word.len > 0 && words_push(&lx, &ws) < 0))
		goto fail;
	if (ws.list.v == NULL) {
		ws.list.v = calloc(1, sizeof(*ws.list.v));
		if (ws.list.v == NULL) {
			oom(&lx);
			goto fail;
		}
	}
	*words = strv_detach(&ws.list, n_words);
	buf_release(&ws.word);
	return 0;
fail:
	strv_release(&ws.list);
	buf_release(&ws.word);
	return -1;
}

int dockerfile_expand_unset(const char *word, size_t len, char escape,
			    const struct dockerfile_vars *vars, struct dockerfile_vars *unset,
			    struct plate_error **err)
{
	_cleanup_buf_ struct buf result = BUF_INIT(EXPAND_MAX_BYTES);
	struct lexer lx;

	if (lexer_init(&lx, word, len, escape, vars, 0, err) < 0)
		return -1;
	lx.unset = unset;
	return lex_until(&lx, RUNE_EOF, false, &result, NULL) < 0 ? -1 : 0;
}
