/*
 * Pure parsers for the HTTP response headers a registry client relies on.  Cursor style:
 * scanners take `const char **p` and the end, advance only on success, and errors report a
 * 1-based column into the header value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "digest/digest.h"
#include "registry/registry_internal.h"

static unsigned col(const char *start, const char *p)
{
	return (unsigned)(p - start) + 1;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void skip_ows(const char **p, const char *end)
{
	while (*p < end && is_ows(**p))
		(*p)++;
}

/* RFC 9110 section 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 section 11.2 token68 characters (without the trailing '='s). */
static bool is_token68_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("-._~+/", c) != NULL;
}

static bool scan_token(const char **p, const char *end, const char **tok, size_t *len)
{
	const char *q = *p;

	while (q < end && is_tchar((unsigned char)*q))
		q++;
	if (q == *p)
		return false;
	*tok = *p;
	*len = (size_t)(q - *p);
	*p = q;
	return true;
}

static char *dup_lower(const char *s, size_t len)
{
	char *d = strndup(s, len);

	for (size_t i = 0; d != NULL && i < len; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	return d;
}

/* quoted-string (RFC 9110 section 5.6.4) into a malloc'd, unescaped string.  Returns 0, or
 * -1 with *bad pointing at the offending byte (NULL for out of memory). */
static int scan_quoted(const char **p, const char *end, char **out, const char **bad)
{
	struct buf b = BUF_INIT(REG_HEADER_VALUE_MAX);
	const char *q = *p;

	*bad = q;
	if (q >= end || *q != '"')
		return -1;
	for (q++; q < end && *q != '"'; q++) {
		unsigned char c = (unsigned char)*q;
		if (c == '\\') {
			if (++q >= end)
				break;
			c = (unsigned char)*q;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			buf_release(&b);
			*bad = q;
			return -1;
		}
		if (buf_addch(&b, (char)c) < 0) {
			buf_release(&b);
			*bad = NULL;
			return -1;
		}
	}
	if (q >= end) {
		buf_release(&b);
		*bad = q;
		return -1;
	}
	*out = buf_detach(&b, NULL);
	if (*out == NULL) {
		*bad = NULL;
		return -1;
	}
	*p = q + 1;
	return 0;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

void reg_challenges_release(struct reg_challenges *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].scheme);
		free(c->v[i].realm);
		free(c->v[i].service);
		free(c->v[i].scope);
		free(c->v[i].error);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct reg_challenge *reg_challenges_find(const struct reg_challenges *c, const char *scheme)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].scheme, scheme) == 0)
			return &c->v[i];
	return NULL;
}

/* After a scheme: is the next item an auth-param (token BWS "=") rather than a new
 * challenge or a token68? */
static bool at_auth_param(const char *p, const char *end)
{
	const char *tok;
	size_t len;

	if (!scan_token(&p, end, &tok, &len))
		return false;
	skip_ows(&p, end);
	if (p >= end || *p != '=')
		return false;
	/* "abc==" or "abc=" followed by "," or the end is a token68, not a parameter. */
	p++;
	skip_ows(&p, end);
	return p < end && *p != ',' && *p != '=';
}

static int parse_param(const char *start, const char **p, const char *end, struct reg_challenge *ch,
		       unsigned *n_params, struct plate_error **err)
{
	const char *name, *bad;
	size_t name_len;
	char *value = NULL, **slot = NULL;

	if (!scan_token(p, end, &name, &name_len))
		return plate_err_at(err, 1, col(start, *p), "expected a parameter name");
	skip_ows(p, end);
	if (*p >= end || **p != '=')
		return plate_err_at(err, 1, col(start, *p), "expected '=' after '%.*s'",
				    (int)name_len, name);
	(*p)++;
	skip_ows(p, end);
	if (*p < end && **p == '"') {
		if (scan_quoted(p, end, &value, &bad) < 0) {
			if (bad == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			return plate_err_at(err, 1, col(start, bad), "bad quoted string");
		}
	} else {
		const char *tok;
		size_t len;
		if (!scan_token(p, end, &tok, &len))
			return plate_err_at(err, 1, col(start, *p), "expected a value for '%.*s'",
					    (int)name_len, name);
		value = strndup(tok, len);
		if (value == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (++*n_params > REG_MAX_PARAMS) {
		free(value);
		return plate_err_at(err, 1, col(start, name), "too many parameters");
	}
	if (name_is(name, name_len, "realm"))
		slot = &ch->realm;
	else if (name_is(name, name_len, "service"))
		slot = &ch->service;
	else if (name_is(name, name_len, "scope"))
		slot = &ch->scope;
	else if (name_is(name, name_len, "error"))
		slot = &ch->error;
	if (slot == NULL) {
		free(value);
		return 0;
	}
	/* RFC 9110 section 11.2: each parameter name occurs at most once per challenge. */
	if (*slot != NULL) {
		free(value);
		return plate_err_at(err, 1, col(start, name), "parameter '%.*s' repeated",
				    (int)name_len, name);
	}
	*slot = value;
	return 0;
}

int reg_parse_www_authenticate(const char *s, size_t len, struct reg_challenges *out,
			       struct plate_error **err)
{
	const char *p = s, *end = s + len;
	struct reg_challenges res = { 0 };

	if (len > REG_HEADER_VALUE_MAX)
		return plate_err_new(err, E2BIG, "WWW-Authenticate header too large (%zu bytes)",
				     len);
	for (;;) {
		const char *tok;
		size_t tok_len;
		unsigned n_params = 0;
		struct reg_challenge *ch;

		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p >= end)
			break;
		if (!scan_token(&p, end, &tok, &tok_len)) {
			plate_err_at(err, 1, col(s, p), "expected an authentication scheme");
			goto fail;
		}
		if (res.n == REG_MAX_CHALLENGES) {
			plate_err_at(err, 1, col(s, tok), "too many challenges");
			goto fail;
		}
		ch = realloc(res.v, (res.n + 1) * sizeof(*ch));
		if (ch == NULL)
			goto oom;
		res.v = ch;
		ch = &res.v[res.n++];
		memset(ch, 0, sizeof(*ch));
		ch->scheme = dup_lower(tok, tok_len);
		if (ch->scheme == NULL)
			goto oom;
		if (p < end && !is_ows(*p) && *p != ',') {
			plate_err_at(err, 1, col(s, p), "unexpected character after scheme '%s'",
				     ch->scheme);
			goto fail;
		}
		skip_ows(&p, end);
		if (p < end && *p != ',' && !at_auth_param(p, end)) {
			/* token68 (e.g. Negotiate): skipped, we only use parameters. */
			const char *t = p;
			while (p < end && is_token68_char((unsigned char)*p))
				p++;
			while (p < end && *p == '=')
				p++;
			if (p == t) {
				plate_err_at(err, 1, col(s, p), "unexpected character");
				goto fail;
			}
			skip_ows(&p, end);
			if (p < end && *p != ',') {
				plate_err_at(err, 1, col(s, p), "expected ',' after token68");
				goto fail;
			}
			continue;
		}
		for (;;) {
			if (p >= end)
				break;
			if (*p == ',') {
				const char *q = p;
				while (q < end && (is_ows(*q) || *q == ','))
					q++;
				if (q >= end || !at_auth_param(q, end))
					break; /* next challenge, or the end */
				p = q;
			}
			if (parse_param(s, &p, end, ch, &n_params, err) < 0)
				goto fail;
			skip_ows(&p, end);
			if (p < end && *p != ',') {
				plate_err_at(err, 1, col(s, p), "expected ',' between parameters");
				goto fail;
			}
		}
	}
	*out = res;
	return 0;
oom:
	plate_err_new(err, ENOMEM, "out of memory");
fail:
	reg_challenges_release(&res);
	return -1;
}

/* ---- Link ------------------------------------------------------------------------------------ */

static bool rel_has_next(const char *v, size_t len)
{
	/* rel is a space-separated list of relation types, compared case-insensitively. */
	const char *p = v, *end = v + len;

	while (p < end) {
		const char *w;
		while (p < end && is_ows(*p))
			p++;
		w = p;
		while (p < end && !is_ows(*p))
			p++;
		if (name_is(w, (size_t)(p - w), "next"))
			return true;
	}
	return false;
}

int reg_parse_link_next(const char *s, size_t len, char **next, struct plate_error **err)
{
	const char *p = s, *end = s + len;

	if (len > REG_HEADER_VALUE_MAX)
		return plate_err_new(err, E2BIG, "Link header too large (%zu bytes)", len);
	for (;;) {
		const char *target, *target_end;
		bool is_next = false;

		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p >= end)
			return 0;
		if (*p != '<')
			return plate_err_at(err, 1, col(s, p), "expected '<' to open a link");
		target = ++p;
		while (p < end && *p != '>') {
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				return plate_err_at(err, 1, col(s, p),
						    "bad character in link target");
			p++;
		}
		if (p >= end)
			return plate_err_at(err, 1, col(s, p), "unterminated link target");
		target_end = p++;
		for (;;) {
			const char *name, *bad;
			size_t name_len;
			_cleanup_free_ char *value = NULL;

			skip_ows(&p, end);
			if (p >= end || *p == ',')
				break;
			if (*p != ';')
				return plate_err_at(err, 1, col(s, p), "expected ';' or ','");
			p++;
			skip_ows(&p, end);
			if (!scan_token(&p, end, &name, &name_len))
				return plate_err_at(err, 1, col(s, p), "expected a link parameter");
			skip_ows(&p, end);
			if (p < end && *p == '=') {
				p++;
				skip_ows(&p, end);
				if (p < end && *p == '"') {
					if (scan_quoted(&p, end, &value, &bad) < 0)
						return bad ? plate_err_at(err, 1, col(s, bad),
									  "bad quoted string")
							   : plate_err_new(err, ENOMEM,
									   "out of memory");
				} else {
					const char *tok;
					size_t tok_len;
					if (!scan_token(&p, end, &tok, &tok_len))
						return plate_err_at(err, 1, col(s, p),
								    "expected a parameter value");
					value = strndup(tok, tok_len);
					if (value == NULL)
						return plate_err_new(err, ENOMEM, "out of memory");
				}
			}
			if (value != NULL && name_is(name, name_len, "rel") &&
			    rel_has_next(value, strlen(value)))
				is_next = true;
		}
		if (is_next) {
			if (target_end == target)
				return plate_err_at(err, 1, col(s, target), "empty link target");
			*next = strndup(target, (size_t)(target_end - target));
			if (*next == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			return 1;
		}
	}
}

/* ---- small values ----------------------------------------------------------------------------- */

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_ows(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_ows((*s)[*len - 1]))
		(*len)--;
}

int reg_parse_digest_header(const char *s, size_t len, char out[DIGEST_STRING_LEN + 1],
			    struct plate_error **err)
{
	const char *start = s;
	_cleanup_error_ struct plate_error *inner = NULL;

	trim(&s, &len);
	if (len == 0)
		return plate_err_at(err, 1, col(start, s), "empty digest");
	if (digest_parse(s, len, &inner) < 0)
		return plate_err_at(err, 1, col(start, s), "bad digest '%.*s': %s",
				    (int)(len > 80 ? 80 : len), s, inner->message);
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* Scans decimal digits into a uint64 without overflow. */
static bool scan_u64(const char **p, const char *end, uint64_t *out)
{
	const char *q = *p;
	uint64_t v = 0;

	if (q >= end || *q < '0' || *q > '9')
		return false;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		unsigned d = (unsigned)(*q - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	*p = q;
	return true;
}

int reg_parse_uint(const char *s, size_t len, uint64_t *out, struct plate_error **err)
{
	const char *start = s, *p, *end;
	uint64_t v;

	trim(&s, &len);
	p = s;
	end = s + len;
	if (!scan_u64(&p, end, &v))
		return plate_err_at(err, 1, col(start, p), "expected a non-negative integer");
	if (p != end)
		return plate_err_at(err, 1, col(start, p), "trailing characters after number");
	*out = v;
	return 0;
}

int reg_parse_content_range(const char *s, size_t len, struct reg_content_range *out,
			    struct plate_error **err)
{
	const char *start = s, *p, *end;
	struct reg_content_range r = { .total = UINT64_MAX };

	trim(&s, &len);
	p = s;
	end = s + len;
	if (len < 6 || strncasecmp(p, "bytes ", 6) != 0)
		return plate_err_at(err, 1, col(start, p), "expected 'bytes '");
	p += 6;
	skip_ows(&p, end);
	if (p < end && *p == '*') {
		r.unsatisfied = true;
		p++;
	} else {
		if (!scan_u64(&p, end, &r.start))
			return plate_err_at(err, 1, col(start, p), "expected the first byte");
		if (p >= end || *p != '-')
			return plate_err_at(err, 1, col(start, p), "expected '-'");
		p++;
		if (!scan_u64(&p, end, &r.end))
			return plate_err_at(err, 1, col(start, p), "expected the last byte");
		if (r.end < r.start)
			return plate_err_at(err, 1, col(start, p), "range ends before it starts");
	}
	if (p >= end || *p != '/')
		return plate_err_at(err, 1, col(start, p), "expected '/'");
	p++;
	if (p < end && *p == '*' && !r.unsatisfied) {
		p++;
	} else {
		if (!scan_u64(&p, end, &r.total))
			return plate_err_at(err, 1, col(start, p), "expected the complete length");
		if (!r.unsatisfied && r.end >= r.total)
			return plate_err_at(err, 1, col(start, p),
					    "range beyond the complete length");
	}
	if (p != end)
		return plate_err_at(err, 1, col(start, p), "trailing characters");
	*out = r;
	return 0;
}

int reg_parse_upload_range(const char *s, size_t len, uint64_t *last, struct plate_error **err)
{
	const char *start = s, *p, *end;
	uint64_t first, v;

	trim(&s, &len);
	p = s;
	end = s + len;
	if (len >= 6 && strncasecmp(p, "bytes=", 6) == 0)
		p += 6;
	if (!scan_u64(&p, end, &first) || first != 0)
		return plate_err_at(err, 1, col(start, p), "upload range must start at 0");
	if (p >= end || *p != '-')
		return plate_err_at(err, 1, col(start, p), "expected '-'");
	p++;
	if (!scan_u64(&p, end, &v))
		return plate_err_at(err, 1, col(start, p), "expected the last byte");
	if (p != end)
		return plate_err_at(err, 1, col(start, p), "trailing characters");
	*last = v;
	return 0;
}

/* ---- dates and Retry-After ---------------------------------------------------------------------- */

int reg_parse_http_date(const char *s, size_t len, int64_t *epoch, struct plate_error **err)
{
	const char *start = s, *rest;
	struct tm tm = { 0 };
	char text[30];

	trim(&s, &len);
	/* IMF-fixdate only (RFC 9110 section 5.6.7); the obsolete forms are not produced by
	 * registries.  plate never calls setlocale(), so strptime() reads English names; the
	 * fixed length keeps out what it would also take (full names, one-digit fields). */
	if (len != sizeof(text) - 1)
		return plate_err_at(err, 1, col(start, s), "expected an IMF-fixdate");
	memcpy(text, s, len);
	text[len] = '\0';
	rest = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (rest == NULL || *rest != '\0')
		return plate_err_at(err, 1, col(start, s), "expected an IMF-fixdate");
	*epoch = timegm(&tm);
	return 0;
}

int reg_parse_retry_after(const char *s, size_t len, const char *date, size_t date_len,
			  uint64_t *seconds, struct plate_error **err)
{
	const char *t = s;
	size_t tl = len;
	int64_t when, now;

	trim(&t, &tl);
	if (tl > 0 && t[0] >= '0' && t[0] <= '9')
		return reg_parse_uint(s, len, seconds, err);
	if (reg_parse_http_date(s, len, &when, err) < 0)
		return -1;
	if (date == NULL || reg_parse_http_date(date, date_len, &now, NULL) < 0) {
		*seconds = 1;
		return 0;
	}
	*seconds = when > now ? (uint64_t)(when - now) : 0;
	return 0;
}

/* ---- URLs --------------------------------------------------------------------------------------- */

static bool has_http_scheme(const char *s, size_t len, size_t *scheme_len)
{
	if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
		*scheme_len = 7;
		return true;
	}
	if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
		*scheme_len = 8;
		return true;
	}
	return false;
}

int reg_url_origin(const char *url, char **scheme, char **hostport, struct plate_error **err)
{
	size_t len = strlen(url), sl;
	const char *h, *e;

	if (!has_http_scheme(url, len, &sl))
		return plate_err_new(err, EINVAL, "'%s' is not an http or https URL", url);
	h = url + sl;
	e = h + strcspn(h, "/?#");
	if (e == h)
		return plate_err_new(err, EINVAL, "URL '%s' has no host", url);
	*scheme = dup_lower(url, sl - 3);
	*hostport = dup_lower(h, (size_t)(e - h));
	if (*scheme == NULL || *hostport == NULL) {
		free(*scheme);
		free(*hostport);
		*scheme = *hostport = NULL;
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* Length of the first path segment (up to '/', '?' or '#'): where a scheme's ':' would be. */
static size_t first_segment(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[n] != '/' && s[n] != '?' && s[n] != '#')
		n++;
	return n;
}

int reg_resolve_location(const char *base, const char *loc, size_t len, char **out,
			 struct plate_error **err)
{
	const char *start = loc;
	size_t sl, base_len = strlen(base), keep;
	const char *authority, *path;
	struct buf b = BUF_INIT(REG_URL_MAX);

	trim(&loc, &len);
	if (len == 0)
		return plate_err_at(err, 1, 1, "empty Location");
	if (len > REG_URL_MAX)
		return plate_err_new(err, E2BIG, "Location too long (%zu bytes)", len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)loc[i] <= 0x20 || loc[i] == 0x7f)
			return plate_err_at(err, 1, col(start, loc + i),
					    "bad character in Location");
	if (has_http_scheme(loc, len, &sl)) {
		if (len == sl)
			return plate_err_at(err, 1, col(start, loc), "Location has no host");
		keep = 0;
	} else if (memchr(loc, ':', first_segment(loc, len)) != NULL) {
		/* a scheme other than http(s): "ftp:", "file:", "javascript:" */
		return plate_err_at(err, 1, col(start, loc), "Location has an unsupported scheme");
	} else {
		if (!has_http_scheme(base, base_len, &sl))
			return plate_err_new(err, EINVAL, "'%s' is not an http or https URL", base);
		authority = base + sl;
		path = authority + strcspn(authority, "/?#");
		if (len >= 2 && loc[0] == '/' && loc[1] == '/')
			keep = sl - 2; /* network-path reference: keep "https:" */
		else if (loc[0] == '/')
			keep = (size_t)(path - base);
		else {
			/* relative path: drop the query and the last segment of base */
			const char *q = path + strcspn(path, "?#"), *slash = NULL;
			for (const char *x = path; x < q; x++)
				if (*x == '/')
					slash = x;
			keep = slash ? (size_t)(slash + 1 - base) : (size_t)(path - base);
			if (slash == NULL && buf_add(&b, base, keep) == 0 &&
			    buf_addch(&b, '/') == 0)
				keep = 0;
		}
		if (keep > 0 && buf_add(&b, base, keep) < 0)
			goto too_long;
	}
	if (buf_add(&b, loc, len) < 0)
		goto too_long;
	/* one spelling of the scheme, so later "https:" prefix checks cannot be fooled */
	for (size_t i = 0; i < b.len && b.data[i] != ':'; i++)
		if (b.data[i] >= 'A' && b.data[i] <= 'Z')
			b.data[i] = (char)(b.data[i] - 'A' + 'a');
	*out = buf_detach(&b, NULL);
	if (*out == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
too_long:
	buf_release(&b);
	return plate_err_new(err, E2BIG, "resolved Location too long");
}

int reg_url_add_query(char **url, const char *key, const char *value, struct plate_error **err)
{
	char *n;
	const char *sep = strchr(*url, '?') ? "&" : "?";
	size_t l = strlen(*url);

	/* Query-less URL ending in '?' or '&' needs no separator. */
	if (l > 0 && ((*url)[l - 1] == '?' || (*url)[l - 1] == '&'))
		sep = "";
	if (asprintf(&n, "%s%s%s=%s", *url, sep, key, value) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	free(*url);
	*url = n;
	return 0;
}
