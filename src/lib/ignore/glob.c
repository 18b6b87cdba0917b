/*
 * Pattern syntax and matching, as moby/patternmatcher does it (facts from
 * ../shared/conformance/README.md section 3 and patternmatcher's compile step):
 *
 *  1. ignore_glob_check(): the syntax check patternmatcher.New runs through Go's
 *     filepath.Match(pattern, ".") — the pattern is cut into chunks at '*' outside
 *     brackets, and every chunk must be well formed (current Go checks them all even after
 *     a mismatch; Go 1.19 and older returned at the first chunk that did not match).
 *  2. ignore_glob_translate(): the classification (exact / prefix / suffix / regexp) and the
 *     regular expression patternmatcher builds, rune by rune as Go's text/scanner reads
 *     the pattern (a leading BOM skipped, invalid UTF-8 read as U+FFFD).
 *  3. ignore_prog_compile(): that expression parsed with Go RE2's rules (Perl flags: `.`
 *     does not match '\n', negated classes do, `^`/`$` anchor the whole text, POSIX
 *     `[:name:]` classes inside brackets), for the subset the translation can produce.
 *  4. A Thompson NFA over the compiled program: a bitset of states advanced one rune at a
 *     time, so a match costs O(len(path) * states) with no backtracking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"
#include "ignore/ignore_internal.h"

/* --- 1. Go filepath.Match syntax ------------------------------------------------------ */

/* One class bound (Go's getEsc): not '-' or ']' unescaped, valid UTF-8, and something must
 * follow it in the chunk. */
static int check_class_char(const char *c, size_t n, size_t *i)
{
	size_t w;

	if (*i >= n || c[*i] == '-' || c[*i] == ']')
		return -1;
	if (c[*i] == '\\' && ++*i >= n)
		return -1;
	if (ignore_decode_rune(c + *i, n - *i, &w) == IGNORE_RUNE_ERROR && w == 1)
		return -1;
	*i += w;
	return *i < n ? 0 : -1;
}

static int check_chunk(const char *c, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (c[i] == '[') {
			unsigned nrange = 0;

			if (++i < n && c[i] == '^')
				i++;
			for (;;) {
				if (i < n && c[i] == ']' && nrange > 0) {
					i++;
					break;
				}
				if (check_class_char(c, n, &i) < 0)
					return -1;
				if (c[i] == '-') {
					i++;
					if (check_class_char(c, n, &i) < 0)
						return -1;
				}
				nrange++;
			}
		} else if (c[i] == '\\') {
			/* escapes one byte; a trailing backslash is an error */
			if (i + 1 >= n)
				return -1;
			i += 2;
		} else {
			i++;
		}
	}
	return 0;
}

int ignore_glob_check(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start;
		bool inrange = false;

		while (i < len && p[i] == '*')
			i++;
		for (start = i; i < len; i++) {
			if (p[i] == '\\') {
				if (i + 1 < len)
					i++;
			} else if (p[i] == '[') {
				inrange = true;
			} else if (p[i] == ']') {
				inrange = false;
			} else if (p[i] == '*' && !inrange) {
				break;
			}
		}
		if (check_chunk(p + start, i - start) < 0)
			return -1;
	}
	return 0;
}

/* --- 2. patternmatcher's translation -------------------------------------------------- */

static size_t encode_rune(uint32_t r, char *out)
{
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xC0 | r >> 6);
		out[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xE0 | r >> 12);
		out[1] = (char)(0x80 | (r >> 6 & 0x3F));
		out[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | r >> 18);
	out[1] = (char)(0x80 | (r >> 12 & 0x3F));
	out[2] = (char)(0x80 | (r >> 6 & 0x3F));
	out[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

static int add_rune(struct buf *b, uint32_t r)
{
	char enc[4];

	return buf_add(b, enc, encode_rune(r, enc));
}

int ignore_glob_translate(const char *p, size_t len, enum ignore_kind *kind, struct buf *re)
{
	enum ignore_kind k = IGNORE_KIND_EXACT;
	size_t i = 0, w, start = re->len;
	int rc = buf_addch(re, '^');

	/* text/scanner drops a byte order mark at the very start */
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	for (unsigned step = 0; rc == 0 && i < len; step++) {
		uint32_t r = ignore_decode_rune(p + i, len - i, &w);

		i += w;
		if (r == '*' && i < len && p[i] == '*') {
			i++;
			if (i < len && p[i] == '/')
				i++;
			if (i < len) {
				rc = buf_addstr(re, "(.*/)?");
				k = IGNORE_KIND_REGEXP;
			} else if (k == IGNORE_KIND_EXACT) {
				k = IGNORE_KIND_PREFIX;
			} else {
				rc = buf_addstr(re, ".*");
				k = IGNORE_KIND_REGEXP;
			}
			/* patternmatcher's quirk: a pattern starting with "**" is a suffix match
			 * unless something after it makes it a regexp again */
			if (step == 0)
				k = IGNORE_KIND_SUFFIX;
		} else if (r == '*') {
			rc = buf_addstr(re, "[^/]*");
			k = IGNORE_KIND_REGEXP;
		} else if (r == '?') {
			rc = buf_addstr(re, "[^/]");
			k = IGNORE_KIND_REGEXP;
		} else if (r != 0 && r < 0x80 && strchr(".+()|{}$", (int)r) != NULL) {
			rc = buf_addch(re, '\\');
			if (rc == 0)
				rc = buf_addch(re, (char)r);
		} else if (r == '\\') {
			rc = buf_addch(re, '\\');
			if (rc == 0 && i < len) {
				r = ignore_decode_rune(p + i, len - i, &w);
				i += w;
				rc = add_rune(re, r);
				k = IGNORE_KIND_REGEXP;
			}
		} else if (r == '[' || r == ']') {
			rc = buf_addch(re, (char)r);
			k = IGNORE_KIND_REGEXP;
		} else {
			rc = add_rune(re, r);
		}
	}
	if (rc == 0)
		rc = buf_addch(re, '$');
	if (rc < 0)
		return -1;
	if (k != IGNORE_KIND_REGEXP)
		buf_truncate(re, start);
	*kind = k;
	return 0;
}

/* --- 3. Go RE2 parsing of the translated expression ----------------------------------- */

enum op {
	OP_SET,	  /* consume one rune in the set, go to next */
	OP_SPLIT, /* go to next and alt without consuming */
	OP_BEGIN, /* go to next at the start of the text */
	OP_END,	  /* go to next at the end of the text */
	OP_MATCH,
};

enum set_kind {
	SET_RUNE,      /* one rune */
	SET_NOT_SLASH, /* [^/] */
	SET_NOT_NL,    /* . */
	SET_CLASS,     /* ranges[arg .. arg + n) as (lo, hi) pairs, possibly negated */
};

enum quant {
	Q_ONE,
	Q_STAR,
	Q_OPT
};

enum atom_kind {
	A_SET,
	A_BEGIN,
	A_END,
	A_GROUP /* (.*\/) */
};

struct atom {
	enum atom_kind kind;
	enum quant q;
	enum set_kind set;
	bool negated;
	uint32_t arg, n;
};

struct inst {
	uint8_t op;
	uint8_t set;
	bool negated;
	uint32_t arg, n;
	uint32_t next, alt;
};

/* States are bits of a fixed stack bitset: the largest program a pattern of
 * IGNORE_MAX_PATTERN_LEN bytes can produce is 2 states per byte plus 3. */
#define MAX_STATES (2 * IGNORE_MAX_PATTERN_LEN + 64)
#define MAX_WORDS ((MAX_STATES + 63) / 64)

/* The single-word form of a program of at most 64 states: the transition of every state
 * on every ASCII character and the epsilon closure of every state, precomputed, so that a
 * step is a few AND/OR operations (see small_run()). */
struct small {
	uint64_t ascii[128];	     /* states whose set holds that character */
	uint64_t sets;		     /* all OP_SET states */
	uint64_t cl_mid[64];	     /* closure of each state, text before and after */
	uint64_t cl_end[64];	     /* ... at the end of the text */
	uint64_t init_mid, init_end; /* closure of state 0 at the start, text follows / empty */
	uint8_t next[64];	     /* successor of each OP_SET state */
};

struct ignore_prog {
	struct inst *inst;
	size_t n_inst;
	struct small *small; /* NULL when there are more than 64 states */
	uint32_t *ranges;    /* (lo, hi) pairs */
	char *prefix;	     /* bytes every match starts with */
	size_t prefix_len;
	char *suffix; /* bytes every match ends with */
	size_t suffix_len;
	int slashes;
};

struct compiler {
	const char *re;
	size_t len, i;
	const char *pattern;
	struct atom *atoms;
	size_t n_atoms;
	uint32_t *ranges;
	size_t n_ranges, cap_ranges; /* in uint32_t entries */
	struct plate_error **err;
};

static int comp_error(struct compiler *c, const char *what, const char *at, size_t at_len)
{
	if (at != NULL)
		return plate_err_new(c->err, 0, "%s \"%.*s\" in pattern \"%s\"", what, (int)at_len,
				     at, c->pattern);
	return plate_err_new(c->err, 0, "%s in pattern \"%s\"", what, c->pattern);
}

static int add_range(struct compiler *c, uint32_t lo, uint32_t hi)
{
	if (c->n_ranges + 2 > c->cap_ranges) {
		size_t cap = c->cap_ranges ? c->cap_ranges * 2 : 16;
		uint32_t *grown = realloc(c->ranges, cap * sizeof(*grown));

		if (grown == NULL)
			return plate_err_new(c->err, ENOMEM, "out of memory");
		c->ranges = grown;
		c->cap_ranges = cap;
	}
	c->ranges[c->n_ranges++] = lo;
	c->ranges[c->n_ranges++] = hi;
	return 0;
}

static uint32_t peek_rune(struct compiler *c, size_t *w)
{
	return ignore_decode_rune(c->re + c->i, c->len - c->i, w);
}

/* Go's parseEscape after a backslash, for the escapes that mean a literal: an ASCII
 * character that is not a letter or digit.  Everything else is either rejected by Go or
 * has a regexp meaning (\d, \b, \x41, \pL...) that a glob author cannot have intended;
 * plate refuses those rather than guess. */
static int parse_escape(struct compiler *c, uint32_t *out)
{
	size_t start = c->i, w;
	uint32_t r;

	c->i++; /* the backslash */
	if (c->i >= c->len)
		return comp_error(c, "trailing backslash", NULL, 0);
	r = peek_rune(c, &w);
	c->i += w;
	if (r < 0x80 && !(r >= '0' && r <= '9') && !(r >= 'a' && r <= 'z') &&
	    !(r >= 'A' && r <= 'Z')) {
		*out = r;
		return 0;
	}
	return comp_error(c, "unsupported escape", c->re + start, c->i - start);
}

/* Go's parseClassChar: one possibly escaped rune inside brackets. */
static int parse_class_char(struct compiler *c, uint32_t *out)
{
	size_t w;

	if (c->i >= c->len)
		return comp_error(c, "missing closing ]", NULL, 0);
	if (c->re[c->i] == '\\')
		return parse_escape(c, out);
	*out = peek_rune(c, &w);
	if (*out == IGNORE_RUNE_ERROR && w == 1)
		return comp_error(c, "invalid UTF-8", NULL, 0);
	c->i += w;
	return 0;
}

/* RE2's POSIX classes, as (lo, hi) byte pairs (all ASCII). */
static const struct posix_class {
	const char *name;
	const char *ranges;
	size_t len;
} posix_classes[] = {
#define POSIX(n, r)                 \
	{                           \
		n, r, sizeof(r) - 1 \
	}
	POSIX("alnum", "09AZaz"),
	POSIX("alpha", "AZaz"),
	POSIX("ascii", "\x00\x7f"),
	POSIX("blank", "\t\t  "),
	POSIX("cntrl", "\x00\x1f\x7f\x7f"),
	POSIX("digit", "09"),
	POSIX("graph", "!~"),
	POSIX("lower", "az"),
	POSIX("print", " ~"),
	POSIX("punct", "!/:@[`{~"),
	POSIX("space", "\t\r  "),
	POSIX("upper", "AZ"),
	POSIX("word", "09AZ__az"),
	POSIX("xdigit", "09AFaf"),
#undef POSIX
};

/* Go's parseNamedClass: "[:name:]" or "[:^name:]" at c->i.  Returns 1 when one was added,
 * 0 when the text is not a named class (then it is read as plain characters). */
static int parse_named_class(struct compiler *c)
{
	const char *t = c->re + c->i, *close;
	size_t tlen = c->len - c->i, name_len;
	const struct posix_class *pc = NULL;
	bool negated;

	if (tlen <= 2 || t[0] != '[' || t[1] != ':')
		return 0;
	/* Go searches the rest of the whole expression, not just this class */
	close = memmem(t + 2, tlen - 2, ":]", 2);
	if (close == NULL)
		return 0;
	name_len = (size_t)(close - (t + 2));
	negated = name_len > 0 && t[2] == '^';
	for (size_t k = 0; k < sizeof(posix_classes) / sizeof(posix_classes[0]); k++) {
		size_t nl = strlen(posix_classes[k].name);
		if (name_len == nl + negated &&
		    memcmp(t + 2 + negated, posix_classes[k].name, nl) == 0)
			pc = &posix_classes[k];
	}
	if (pc == NULL)
		return comp_error(c, "invalid character class range", t, name_len + 4);
	uint32_t from = 0;
	for (size_t k = 0; k < pc->len; k += 2) {
		uint32_t lo = (unsigned char)pc->ranges[k], hi = (unsigned char)pc->ranges[k + 1];
		if (!negated) {
			if (add_range(c, lo, hi) < 0)
				return -1;
		} else {
			if (lo > from && add_range(c, from, lo - 1) < 0)
				return -1;
			from = hi + 1;
		}
	}
	if (negated && add_range(c, from, 0x10FFFF) < 0)
		return -1;
	c->i += name_len + 4;
	return 1;
}

/* Go's parseClass, from the '[' at c->i. */
static int parse_class(struct compiler *c, struct atom *a)
{
	bool first = true;

	c->i++;
	a->kind = A_SET;
	a->set = SET_CLASS;
	a->negated = false;
	a->arg = (uint32_t)(c->n_ranges / 2); /* first (lo, hi) pair */
	if (c->i < c->len && c->re[c->i] == '^') {
		a->negated = true;
		c->i++;
	}
	/* ']' is a member when it comes first */
	while (c->i >= c->len || c->re[c->i] != ']' || first) {
		uint32_t lo, hi;
		size_t rng = c->i;
		int named;

		first = false;
		named = parse_named_class(c);
		if (named < 0)
			return -1;
		if (named > 0)
			continue;
		if (parse_class_char(c, &lo) < 0)
			return -1;
		hi = lo;
		/* "a-" before ']' means 'a' and '-' */
		if (c->len - c->i >= 2 && c->re[c->i] == '-' && c->re[c->i + 1] != ']') {
			c->i++;
			if (parse_class_char(c, &hi) < 0)
				return -1;
			if (hi < lo)
				return comp_error(c, "invalid character class range", c->re + rng,
						  c->i - rng);
		}
		if (add_range(c, lo, hi) < 0)
			return -1;
	}
	c->i++; /* ']' */
	a->n = (uint32_t)(c->n_ranges / 2) - a->arg;
	return 0;
}

static int parse_expression(struct compiler *c)
{
	while (c->i < c->len) {
		struct atom *a = &c->atoms[c->n_atoms];
		struct atom *prev = c->n_atoms ? &c->atoms[c->n_atoms - 1] : NULL;
		size_t w;
		uint32_t r = peek_rune(c, &w);

		memset(a, 0, sizeof(*a));
		switch (r) {
		case '*':
		case '?':
			/* the translation only puts these after a class, '.' or the group */
			if (prev == NULL || prev->kind == A_BEGIN || prev->kind == A_END ||
			    prev->q != Q_ONE)
				return comp_error(c, "unsupported repetition", NULL, 0);
			prev->q = r == '*' ? Q_STAR : Q_OPT;
			c->i++;
			continue;
		case '^':
			a->kind = A_BEGIN;
			c->i++;
			break;
		case '$':
			a->kind = A_END;
			c->i++;
			break;
		case '.':
			a->set = SET_NOT_NL;
			c->i++;
			break;
		case '[':
			if (c->len - c->i >= 4 && memcmp(c->re + c->i, "[^/]", 4) == 0) {
				a->set = SET_NOT_SLASH;
				c->i += 4;
			} else if (parse_class(c, a) < 0) {
				return -1;
			}
			break;
		case '(':
			/* the only group the translation writes is "(.*\/)?" for "**" */
			if (c->len - c->i < 5 || memcmp(c->re + c->i, "(.*/)", 5) != 0)
				return comp_error(c, "unsupported group", NULL, 0);
			a->kind = A_GROUP;
			c->i += 5;
			break;
		case '\\':
			if (parse_escape(c, &a->arg) < 0)
				return -1;
			break;
		case '+':
		case '|':
		case ')':
			return comp_error(c, "unsupported operator", c->re + c->i, 1);
		default:
			if (r == IGNORE_RUNE_ERROR && w == 1)
				return comp_error(c, "invalid UTF-8", NULL, 0);
			a->arg = r;
			c->i += w;
			break;
		}
		c->n_atoms++;
	}
	return 0;
}

static bool set_has(const struct inst *in, const uint32_t *ranges, uint32_t r)
{
	switch ((enum set_kind)in->set) {
	case SET_RUNE:
		return r == in->arg;
	case SET_NOT_SLASH:
		return r != '/';
	case SET_NOT_NL:
		return r != '\n';
	case SET_CLASS:
		for (uint32_t k = 0; k < in->n; k++)
			if (r >= ranges[2 * (in->arg + k)] && r <= ranges[2 * (in->arg + k) + 1])
				return !in->negated;
		return in->negated;
	default:
		return false;
	}
}

/* Appends one instruction; the caller has sized the array. */
static uint32_t emit(struct ignore_prog *g, enum op op, const struct atom *a, uint32_t next,
		     uint32_t alt)
{
	struct inst *in = &g->inst[g->n_inst];

	memset(in, 0, sizeof(*in));
	in->op = (uint8_t)op;
	if (a != NULL) {
		in->set = (uint8_t)a->set;
		in->negated = a->negated;
		in->arg = a->arg;
		in->n = a->n;
	}
	in->next = next;
	in->alt = alt;
	return (uint32_t)g->n_inst++;
}

/* Thompson construction with every epsilon edge pointing forward, so one ascending pass
 * computes a closure (see closure()). */
static int emit_program(struct compiler *c, struct ignore_prog *g)
{
	static const struct atom any_but_nl = { .kind = A_SET, .set = SET_NOT_NL };
	static const struct atom slash = { .kind = A_SET, .set = SET_RUNE, .arg = '/' };
	size_t need = 1;

	for (size_t k = 0; k < c->n_atoms; k++)
		need += c->atoms[k].kind == A_GROUP ? 4 : c->atoms[k].q == Q_ONE ? 1 : 2;
	if (need > MAX_STATES)
		return comp_error(c, "pattern too complex", NULL, 0);
	g->inst = calloc(need, sizeof(*g->inst));
	if (g->inst == NULL)
		return plate_err_new(c->err, ENOMEM, "out of memory");
	for (size_t k = 0; k < c->n_atoms; k++) {
		const struct atom *a = &c->atoms[k];
		uint32_t l = (uint32_t)g->n_inst;

		switch (a->kind) {
		case A_BEGIN:
		case A_END:
			if (a->q != Q_ONE)
				return comp_error(c, "unsupported repetition", NULL, 0);
			emit(g, a->kind == A_BEGIN ? OP_BEGIN : OP_END, NULL, l + 1, 0);
			break;
		case A_SET:
			if (a->q == Q_ONE) {
				emit(g, OP_SET, a, l + 1, 0);
			} else {
				emit(g, OP_SPLIT, NULL, l + 1, l + 2);
				emit(g, OP_SET, a, a->q == Q_STAR ? l : l + 2, 0);
			}
			break;
		case A_GROUP:
			if (a->q == Q_OPT) {
				/* l: skip the group or enter it; l+1: loop over ".*"; l+3: the '/' */
				emit(g, OP_SPLIT, NULL, l + 1, l + 4);
				emit(g, OP_SPLIT, NULL, l + 2, l + 3);
				emit(g, OP_SET, &any_but_nl, l + 1, 0);
				emit(g, OP_SET, &slash, l + 4, 0);
			} else if (a->q == Q_ONE) {
				emit(g, OP_SPLIT, NULL, l + 1, l + 2);
				emit(g, OP_SET, &any_but_nl, l, 0);
				emit(g, OP_SET, &slash, l + 3, 0);
			} else {
				return comp_error(c, "unsupported repetition", NULL, 0);
			}
			break;
		default:
			return comp_error(c, "unsupported expression", NULL, 0);
		}
	}
	emit(g, OP_MATCH, NULL, 0, 0);
	return 0;
}

static bool atom_is_literal(const struct atom *a)
{
	/* U+FFFD also matches any invalid byte, so it has no fixed encoding */
	return a->kind == A_SET && a->q == Q_ONE && a->set == SET_RUNE &&
	       a->arg != IGNORE_RUNE_ERROR;
}

/* Cheap necessary conditions checked before running the automaton: literal text at both
 * ends, and a fixed number of '/' (which lets callers test one ancestor instead of all). */
static int derive_filters(struct compiler *c, struct ignore_prog *g)
{
	size_t first = 0, last = c->n_atoms, k;
	char enc[4];
	struct buf b = BUF_INIT(BUF_UNLIMITED);
	int slashes = 0;

	while (first < last && c->atoms[first].kind == A_BEGIN)
		first++;
	for (k = first; k < last && atom_is_literal(&c->atoms[k]); k++)
		if (buf_add(&b, enc, encode_rune(c->atoms[k].arg, enc)) < 0)
			goto nomem;
	g->prefix_len = b.len;
	g->prefix = buf_detach(&b, NULL);
	if (g->prefix == NULL)
		goto nomem;

	while (last > first && c->atoms[last - 1].kind == A_END)
		last--;
	for (k = last; k > first && atom_is_literal(&c->atoms[k - 1]); k--)
		;
	for (; k < last; k++)
		if (buf_add(&b, enc, encode_rune(c->atoms[k].arg, enc)) < 0)
			goto nomem;
	g->suffix_len = b.len;
	g->suffix = buf_detach(&b, NULL);
	if (g->suffix == NULL)
		goto nomem;

	for (k = 0; k < c->n_atoms && slashes >= 0; k++) {
		const struct atom *a = &c->atoms[k];
		struct inst probe = {
			.set = (uint8_t)a->set, .negated = a->negated, .arg = a->arg, .n = a->n
		};

		if (a->kind == A_GROUP)
			slashes = -1;
		else if (a->kind != A_SET || !set_has(&probe, c->ranges, '/'))
			continue;
		else if (a->q == Q_ONE && a->set == SET_RUNE)
			slashes++;
		else
			slashes = -1;
	}
	g->slashes = slashes;
	return 0;
nomem:
	buf_release(&b);
	return plate_err_new(c->err, ENOMEM, "out of memory");
}

static int build_small(struct ignore_prog *g);

void ignore_prog_free(struct ignore_prog *g)
{
	if (g == NULL)
		return;
	free(g->inst);
	free(g->small);
	free(g->ranges);
	free(g->prefix);
	free(g->suffix);
	free(g);
}

int ignore_prog_compile(const char *re, size_t len, const char *pattern, struct ignore_prog **out,
			struct plate_error **err)
{
	struct compiler c = { .re = re, .len = len, .pattern = pattern, .err = err };
	struct ignore_prog *g;
	int rc = -1;

	g = calloc(1, sizeof(*g));
	c.atoms = calloc(len + 1, sizeof(*c.atoms));
	if (g == NULL || c.atoms == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	if (parse_expression(&c) < 0 || emit_program(&c, g) < 0 || derive_filters(&c, g) < 0)
		goto out;
	g->ranges = steal_pointer(&c.ranges);
	if (g->n_inst <= 64 && build_small(g) < 0) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	*out = steal_pointer(&g);
	rc = 0;
out:
	free(c.atoms);
	free(c.ranges);
	ignore_prog_free(g);
	return rc;
}

void ignore_prog_literals(const struct ignore_prog *g, const char **prefix, size_t *prefix_len,
			  const char **suffix, size_t *suffix_len)
{
	*prefix = g->prefix;
	*prefix_len = g->prefix_len;
	*suffix = g->suffix;
	*suffix_len = g->suffix_len;
}

int ignore_prog_slashes(const struct ignore_prog *g)
{
	return g->slashes;
}

/* --- 4. the automaton ------------------------------------------------------------------ */

struct states {
	uint64_t w[MAX_WORDS];
};

static size_t n_words(const struct ignore_prog *g)
{
	return (g->n_inst + 63) / 64;
}

static void add_state(struct states *s, uint32_t st)
{
	s->w[st / 64] |= (uint64_t)1 << (st % 64);
}

/* Follows the epsilon edges; all of them point to higher states, so states are visited in
 * ascending order and each new state is picked up later in the same pass. */
static void closure(const struct ignore_prog *g, struct states *s, bool at_begin, bool at_end)
{
	size_t nw = n_words(g);

	for (size_t wi = 0; wi < nw; wi++) {
		uint64_t pending = s->w[wi];

		while (pending != 0) {
			uint32_t st = (uint32_t)(wi * 64 + (size_t)__builtin_ctzll(pending));
			const struct inst *in = &g->inst[st];
			uint32_t to[2];
			int nto = 0;

			pending &= pending - 1;
			if (in->op == OP_SPLIT) {
				to[nto++] = in->next;
				to[nto++] = in->alt;
			} else if ((in->op == OP_BEGIN && at_begin) ||
				   (in->op == OP_END && at_end)) {
				to[nto++] = in->next;
			}
			for (int k = 0; k < nto; k++) {
				uint64_t bit = (uint64_t)1 << (to[k] % 64);
				if (s->w[to[k] / 64] & bit)
					continue;
				s->w[to[k] / 64] |= bit;
				if (to[k] / 64 == wi)
					pending |= bit;
			}
		}
	}
}

/* Consumes rune r: returns false when no state survives. */
static bool step(const struct ignore_prog *g, const struct states *cur, struct states *next,
		 uint32_t r)
{
	size_t nw = n_words(g);
	bool any = false;

	memset(next->w, 0, nw * sizeof(next->w[0]));
	for (size_t wi = 0; wi < nw; wi++) {
		for (uint64_t bits = cur->w[wi]; bits != 0; bits &= bits - 1) {
			const struct inst *in = &g->inst[wi * 64 + (size_t)__builtin_ctzll(bits)];
			if (in->op == OP_SET && set_has(in, g->ranges, r)) {
				add_state(next, in->next);
				any = true;
			}
		}
	}
	return any;
}

/* Runs the automaton over s[0..len); false when it died on the way. */
static bool run(const struct ignore_prog *g, const char *s, size_t len, struct states *cur,
		bool last_is_end)
{
	struct states other, *a = cur, *b = &other;
	size_t pos = 0, w;

	memset(a->w, 0, n_words(g) * sizeof(a->w[0]));
	add_state(a, 0);
	closure(g, a, true, last_is_end && len == 0);
	while (pos < len) {
		uint32_t r = ignore_decode_rune(s + pos, len - pos, &w);
		struct states *t;

		pos += w;
		if (!step(g, a, b, r))
			return false;
		closure(g, b, false, last_is_end && pos == len);
		t = a;
		a = b;
		b = t;
	}
	if (a != cur)
		memcpy(cur->w, a->w, n_words(g) * sizeof(a->w[0]));
	return true;
}

static int build_small(struct ignore_prog *g)
{
	struct small *k = calloc(1, sizeof(*k));
	struct states st;

	if (k == NULL)
		return -1;
	for (uint32_t s = 0; s < g->n_inst; s++) {
		const struct inst *in = &g->inst[s];

		for (int end = 0; end <= 1; end++) {
			memset(st.w, 0, sizeof(st.w[0]));
			add_state(&st, s);
			closure(g, &st, false, end);
			(end ? k->cl_end : k->cl_mid)[s] = st.w[0];
		}
		if (in->op != OP_SET)
			continue;
		k->sets |= (uint64_t)1 << s;
		k->next[s] = (uint8_t)in->next;
		for (uint32_t c = 0; c < 128; c++)
			if (set_has(in, g->ranges, c))
				k->ascii[c] |= (uint64_t)1 << s;
	}
	for (int end = 0; end <= 1; end++) {
		memset(st.w, 0, sizeof(st.w[0]));
		add_state(&st, 0);
		closure(g, &st, true, end);
		*(end ? &k->init_end : &k->init_mid) = st.w[0];
	}
	g->small = k;
	return 0;
}

/* run() for programs with a single-word form; returns the final states, 0 when none
 * survived. */
static uint64_t small_run(const struct ignore_prog *g, const char *s, size_t len, bool last_is_end)
{
	const struct small *k = g->small;
	uint64_t cur = last_is_end && len == 0 ? k->init_end : k->init_mid;
	size_t pos = 0, w = 1;

	while (pos < len) {
		unsigned char c = (unsigned char)s[pos];
		uint64_t hit = 0, next = 0;
		const uint64_t *cl;

		if (c < 0x80) {
			hit = cur & k->ascii[c];
			w = 1;
		} else {
			uint32_t r = ignore_decode_rune(s + pos, len - pos, &w);
			for (uint64_t b = cur & k->sets; b != 0; b &= b - 1)
				if (set_has(&g->inst[__builtin_ctzll(b)], g->ranges, r))
					hit |= b & -b;
		}
		pos += w;
		cl = last_is_end && pos == len ? k->cl_end : k->cl_mid;
		for (; hit != 0; hit &= hit - 1)
			next |= cl[k->next[__builtin_ctzll(hit)]];
		if (next == 0)
			return 0;
		cur = next;
	}
	return cur;
}

bool ignore_prog_match(const struct ignore_prog *g, const char *s, size_t len)
{
	struct states st;
	uint32_t m = (uint32_t)g->n_inst - 1;

	if (g->prefix_len > 0 && (len < g->prefix_len || memcmp(s, g->prefix, g->prefix_len) != 0))
		return false;
	if (g->suffix_len > 0 &&
	    (len < g->suffix_len || memcmp(s + len - g->suffix_len, g->suffix, g->suffix_len) != 0))
		return false;
	if (g->small != NULL)
		return (small_run(g, s, len, true) >> m) & 1;
	if (!run(g, s, len, &st, true))
		return false;
	return (st.w[m / 64] >> (m % 64)) & 1;
}

bool ignore_prog_match_below(const struct ignore_prog *g, const char *s, size_t len)
{
	struct states st, next;
	size_t n = len < g->prefix_len ? len : g->prefix_len;

	if (memcmp(s, g->prefix, n) != 0)
		return false;
	if (len < g->prefix_len && g->prefix[len] != '/')
		return false;
	if (g->small != NULL)
		return (small_run(g, s, len, false) & g->small->ascii['/']) != 0;
	if (!run(g, s, len, &st, false) || !step(g, &st, &next, '/'))
		return false;
	/* some consuming state is alive after "s/": text can follow */
	return true;
}
