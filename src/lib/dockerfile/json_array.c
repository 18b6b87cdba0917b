/*
 * The JSON (exec) form: `CMD ["a", "b"]`.
 *
 * BuildKit hands the text to Go's encoding/json, so plate reproduces what that decoder
 * accepts and produces:
 *   - the whole text is checked first: any syntax error (including nesting deeper than
 *     10000, Go's limit) means "not JSON" and the instruction falls back to shell form;
 *   - only then is a non-string element a hard error;
 *   - strings decode "\uXXXX" with surrogate pairs, a lone surrogate or an invalid UTF-8
 *     byte becomes U+FFFD, and a raw control character is a syntax error;
 *   - a number anywhere in the array that does not fit a float64 (Go decodes numbers into
 *     float64 and fails on overflow) makes the whole text "not JSON", even next to a
 *     non-string element.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "dockerfile/dockerfile_internal.h"

#define JSON_MAX_DEPTH 10000

struct jscan {
	const char *p;
	size_t n;
	size_t i;
	bool overflow; /* a number beyond float64 range was seen */
};

static void skip_ws(struct jscan *s)
{
	while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t' || s->p[s->i] == '\n' ||
			       s->p[s->i] == '\r'))
		s->i++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at p (n bytes available) as a code unit, or -1. */
static long hex4(const char *p, size_t n)
{
	long v = 0;

	if (n < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(p[k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static bool scan_string(struct jscan *s)
{
	s->i++; /* opening quote */
	while (s->i < s->n) {
		unsigned char c = (unsigned char)s->p[s->i];

		if (c == '"') {
			s->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			s->i++;
			continue;
		}
		if (++s->i >= s->n)
			return false;
		switch (s->p[s->i]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			s->i++;
			break;
		case 'u':
			if (hex4(s->p + s->i + 1, s->n - s->i - 1) < 0)
				return false;
			s->i += 5;
			break;
		default:
			return false;
		}
	}
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool scan_digits(struct jscan *s)
{
	size_t from = s->i;

	while (s->i < s->n && is_digit(s->p[s->i]))
		s->i++;
	return s->i > from;
}

static bool scan_number_syntax(struct jscan *s)
{
	if (s->p[s->i] == '-')
		s->i++;
	if (s->i >= s->n)
		return false;
	if (s->p[s->i] == '0')
		s->i++;
	else if (!scan_digits(s))
		return false;
	if (s->i < s->n && s->p[s->i] == '.') {
		s->i++;
		if (!scan_digits(s))
			return false;
	}
	if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
		s->i++;
		if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-'))
			s->i++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

/* 2^1024 - 2^970: the halfway point between the largest float64 and 2^1024.  Go's
 * ParseFloat rounds to nearest-even, so a magnitude at or above this is out of range. */
static const char float64_limit[] =
	"17976931348623158079372897140530341507993413271003782693617377898044496829276475094"
	"66490179775872070963302864166928879109465555478519404026306574886715058206819089020"
	"00708383676273854845817711531764475730270069855571366959622842914819860834936475292"
	"719074168444365510704342711559699508093042880177904174497792";

/* Whether the JSON number token p[0..n) overflows a float64: with its digits written as
 * 0.D x 10^E (D without leading zeros), compare E and D with the limit's. */
static bool number_overflows(const char *p, size_t n)
{
	const size_t limit_digits = sizeof(float64_limit) - 1;
	const char *d[2] = { NULL, NULL };
	size_t dn[2] = { 0, 0 }, i = 0, lead = 0;
	long long exp10 = 0, e = 0;
	bool neg_exp = false;

	if (i < n && p[i] == '-')
		i++;
	d[0] = p + i;
	while (i < n && is_digit(p[i]))
		i++, dn[0]++;
	if (i < n && p[i] == '.') {
		d[1] = p + ++i;
		while (i < n && is_digit(p[i]))
			i++, dn[1]++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			neg_exp = p[i++] == '-';
		for (; i < n; i++)
			if (e < 1000000000)
				e = e * 10 + (p[i] - '0');
	}
	exp10 = (long long)dn[0] + (neg_exp ? -e : e);
	/* Skip leading zeros over both parts. */
	for (int part = 0; part < 2; part++) {
		while (dn[part] > 0 && *d[part] == '0') {
			d[part]++;
			dn[part]--;
			exp10--;
			lead++;
		}
		if (dn[part] > 0)
			break;
	}
	if (dn[0] == 0 && dn[1] == 0)
		return false; /* zero */
	if (exp10 != (long long)limit_digits)
		return exp10 > (long long)limit_digits;
	for (size_t k = 0, total = dn[0] + dn[1]; k < total || k < limit_digits; k++) {
		char c = k < dn[0] ? d[0][k] : k < total ? d[1][k - dn[0]] : '0';
		char l = k < limit_digits ? float64_limit[k] : '0';

		if (c != l)
			return c > l;
	}
	return true;
}

static bool scan_number(struct jscan *s)
{
	size_t from = s->i;

	if (!scan_number_syntax(s))
		return false;
	if (number_overflows(s->p + from, s->i - from))
		s->overflow = true;
	return true;
}

static bool scan_literal(struct jscan *s, const char *word)
{
	size_t l = strlen(word);

	if (s->n - s->i < l || memcmp(s->p + s->i, word, l) != 0)
		return false;
	s->i += l;
	return true;
}

/* Scans one value at s->i, with `depth` containers already open.  Iterative, so hostile
 * nesting costs a bounded stack. */
static bool scan_value(struct jscan *s, size_t depth)
{
	char stack[JSON_MAX_DEPTH + 1];
	size_t top = 0;

value:
	skip_ws(s);
	if (s->i >= s->n)
		return false;
	switch (s->p[s->i]) {
	case '[':
	case '{':
		if (depth + top + 1 > JSON_MAX_DEPTH)
			return false;
		stack[top++] = s->p[s->i++];
		skip_ws(s);
		if (s->i < s->n && s->p[s->i] == (stack[top - 1] == '[' ? ']' : '}')) {
			s->i++;
			top--;
			goto after;
		}
		if (stack[top - 1] == '[')
			goto value;
		goto key;
	case '"':
		if (!scan_string(s))
			return false;
		goto after;
	case 't':
		if (!scan_literal(s, "true"))
			return false;
		goto after;
	case 'f':
		if (!scan_literal(s, "false"))
			return false;
		goto after;
	case 'n':
		if (!scan_literal(s, "null"))
			return false;
		goto after;
	default:
		if (s->p[s->i] != '-' && !is_digit(s->p[s->i]))
			return false;
		if (!scan_number(s))
			return false;
		goto after;
	}
key:
	skip_ws(s);
	if (s->i >= s->n || s->p[s->i] != '"' || !scan_string(s))
		return false;
	skip_ws(s);
	if (s->i >= s->n || s->p[s->i] != ':')
		return false;
	s->i++;
	goto value;
after:
	if (top == 0)
		return true;
	skip_ws(s);
	if (s->i >= s->n)
		return false;
	if (s->p[s->i] == ',') {
		s->i++;
		if (stack[top - 1] == '[')
			goto value;
		goto key;
	}
	if (s->p[s->i] == (stack[top - 1] == '[' ? ']' : '}')) {
		s->i++;
		top--;
		goto after;
	}
	return false;
}

/* Decodes the validated string literal at p (opening quote included) into out. */
static int decode_string(const char *p, size_t n, struct buf *out)
{
	size_t i = 1;

	while (i < n && p[i] != '"') {
		unsigned char c = (unsigned char)p[i];
		uint32_t r;
		long u;
		int rc = 0;

		if (c == '\\') {
			char e = p[i + 1];

			i += 2;
			switch (e) {
			case 'b':
				rc = buf_addch(out, '\b');
				break;
			case 'f':
				rc = buf_addch(out, '\f');
				break;
			case 'n':
				rc = buf_addch(out, '\n');
				break;
			case 'r':
				rc = buf_addch(out, '\r');
				break;
			case 't':
				rc = buf_addch(out, '\t');
				break;
			case 'u':
				u = hex4(p + i, n - i);
				i += 4;
				if (u >= 0xD800 && u < 0xE000) {
					long lo = -1;

					if (i + 1 < n && p[i] == '\\' && p[i + 1] == 'u')
						lo = hex4(p + i + 2, n - i - 2);
					if (u < 0xDC00 && lo >= 0xDC00 && lo < 0xE000) {
						u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					} else {
						u = UTF8_RUNE_ERROR;
					}
				}
				rc = dockerfile_buf_add_rune(out, (uint32_t)u);
				break;
			default: /* '"', '\\', '/' */
				rc = buf_addch(out, e);
				break;
			}
		} else if (c < 0x80) {
			rc = buf_addch(out, (char)c);
			i++;
		} else {
			size_t w = utf8_decode_rune(p + i, n - i, &r);

			if (r == UTF8_RUNE_ERROR && w == 1)
				rc = dockerfile_buf_add_rune(out, r);
			else
				rc = buf_add(out, p + i, w);
			i += w;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

int dockerfile_json_array_parse(const char *text, size_t len, char ***args, size_t **lens,
				size_t *n_args, struct plate_error **err)
{
	struct jscan s = { .p = text, .n = len, .i = 0 };
	size_t n = 0, alloc = 0, *starts = NULL, sp;
	_cleanup_free_ size_t *start_list = NULL;
	_cleanup_free_ size_t *len_list = NULL;
	char **out = NULL;
	bool all_strings = true;
	size_t w;

	while (s.i < s.n && (w = utf8_space_len(s.p + s.i, s.n - s.i)) > 0)
		s.i += w;
	if (s.i >= s.n || s.p[s.i] != '[')
		return 0;
	s.i++;
	skip_ws(&s);
	if (s.i < s.n && s.p[s.i] == ']') {
		s.i++;
	} else {
		for (;;) {
			skip_ws(&s);
			sp = s.i;
			if (sp < s.n && s.p[sp] != '"')
				all_strings = false;
			if (!scan_value(&s, 1))
				return 0;
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 8;
				starts = realloc(start_list, alloc * sizeof(*starts));
				if (starts == NULL)
					return plate_err_new(err, ENOMEM,
							     "cannot parse JSON array");
				start_list = starts;
			}
			start_list[n++] = sp;
			skip_ws(&s);
			if (s.i < s.n && s.p[s.i] == ',') {
				s.i++;
				continue;
			}
			if (s.i < s.n && s.p[s.i] == ']') {
				s.i++;
				break;
			}
			return 0;
		}
	}
	skip_ws(&s);
	if (s.i != s.n || s.overflow)
		return 0;
	if (!all_strings)
		return plate_err_new(err, 0,
				     "when using JSON array syntax, arrays must be comprised of "
				     "strings only");

	out = calloc(n + 1, sizeof(*out));
	len_list = calloc(n + 1, sizeof(*len_list));
	if (out == NULL || len_list == NULL) {
		free(out);
		return plate_err_new(err, ENOMEM, "cannot parse JSON array");
	}
	for (size_t k = 0; k < n; k++) {
		struct buf b = BUF_INIT(BUF_UNLIMITED);

		if (decode_string(text + start_list[k], len - start_list[k], &b) < 0 ||
		    (out[k] = buf_detach(&b, &len_list[k])) == NULL) {
			buf_release(&b);
			strv_free(out, k);
			return plate_err_new(err, ENOMEM, "cannot parse JSON array");
		}
	}
	*args = out;
	*n_args = n;
	if (lens != NULL)
		*lens = steal_pointer(&len_list);
	return 1;
}

int dockerfile_parse_json_array(const char *text, size_t len, char ***args, size_t *n_args,
				struct plate_error **err)
{
	return dockerfile_json_array_parse(text, len, args, NULL, n_args, err);
}
