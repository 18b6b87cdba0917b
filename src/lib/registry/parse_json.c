/*
 * Pure parsers for the JSON a registry client reads: token endpoint answers, error bodies,
 * tag lists, a manifest's mediaType, and base64 for Basic credentials.  Each caps its input
 * before jansson sees it; syntax errors carry jansson's line and column.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "registry/registry_internal.h"

static inline void cleanup_jsonp(json_t **j)
{
	json_decref(*j);
}
#define _cleanup_json_ _cleanup_(cleanup_jsonp)

/* jansson refuses NUL bytes inside strings by default and caps nesting depth (2048). */
static json_t *load(const char *s, size_t len, size_t max, const char *what,
		    struct plate_error **err)
{
	if (len > max) {
		plate_err_new(err, E2BIG, "%s too large (%zu bytes, at most %zu)", what, len, max);
		return NULL;
	}
	return json_load(s, len, JSON_REJECT_DUPLICATES, what, err);
}

static bool civil_valid(unsigned y, unsigned m, unsigned d)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] && !(m == 2 && d == 29 && !leap);
}

/* RFC 3339 date-time to seconds since the epoch (fractions ignored, offsets applied). */
static int parse_rfc3339(const char *s, int64_t *out)
{
	unsigned y, mo, d, h, mi, sec;
	int n = 0, off = 0;
	const char *p;
	int64_t yy, era, days;
	unsigned yoe, doy, doe;

	if (sscanf(s, "%4u-%2u-%2u%*1[Tt ]%2u:%2u:%2u%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	if (!civil_valid(y, mo, d) || h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + n;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		unsigned oh, om;
		int m = 0;
		if (sscanf(p + 1, "%2u:%2u%n", &oh, &om, &m) != 2 || m != 5 || oh > 23 || om > 59)
			return -1;
		off = (int)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	yy = (int64_t)y - (mo <= 2);
	era = yy / 400;
	yoe = (unsigned)(yy - era * 400);
	doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + (int64_t)doe - 719468;
	*out = days * 86400 + h * 3600 + mi * 60 + sec - off;
	return 0;
}

void reg_token_release(struct reg_token *t)
{
	free(t->token);
	free(t->refresh_token);
	t->token = t->refresh_token = NULL;
}

int reg_parse_token_response(const char *s, size_t len, struct reg_token *out,
			     struct plate_error **err)
{
	_cleanup_json_ json_t *j = load(s, len, REG_TOKEN_BODY_MAX, "token response", err);
	json_t *tok, *v;
	struct reg_token t = { .expires_in = 60, .issued_at = -1 };

	if (j == NULL)
		return -1;
	if (!json_is_object(j))
		return plate_err_new(err, EPROTO, "token response is not a JSON object");
	/* Docker's token spec names it "token"; OAuth2 servers say "access_token". */
	tok = json_object_get(j, "token");
	if (tok == NULL || (json_is_string(tok) && json_string_length(tok) == 0))
		tok = json_object_get(j, "access_token");
	if (tok == NULL)
		return plate_err_new(err, EPROTO,
				     "token response has no 'token' or 'access_token'");
	if (!json_is_string(tok) || json_string_length(tok) == 0)
		return plate_err_new(err, EPROTO,
				     "token response: 'token' is not a non-empty string");
	for (const char *c = json_string_value(tok); *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return plate_err_new(err, EPROTO,
					     "token response: token has a bad character");
	v = json_object_get(j, "expires_in");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return plate_err_new(err, EPROTO,
					     "token response: 'expires_in' is not a non-negative "
					     "integer");
		if (json_integer_value(v) > 0)
			t.expires_in = (uint64_t)json_integer_value(v);
	}
	v = json_object_get(j, "issued_at");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || parse_rfc3339(json_string_value(v), &t.issued_at) < 0)
			return plate_err_new(err, EPROTO,
					     "token response: 'issued_at' is not an RFC 3339 time");
	}
	v = json_object_get(j, "refresh_token");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return plate_err_new(err, EPROTO,
				     "token response: 'refresh_token' is not a string");
	t.token = strdup(json_string_value(tok));
	if (json_is_string(v))
		t.refresh_token = strdup(json_string_value(v));
	if (t.token == NULL || (json_is_string(v) && t.refresh_token == NULL)) {
		reg_token_release(&t);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	*out = t;
	return 0;
}

/* Keeps only printable characters so a registry's text cannot inject terminal controls. */
static void add_clean(struct buf *b, const char *s, size_t max)
{
	for (size_t i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_addch(b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
}

int reg_parse_error_body(const char *s, size_t len, char **summary)
{
	_cleanup_json_ json_t *j = NULL;
	_cleanup_buf_ struct buf b = BUF_INIT(1024);
	json_t *errors, *e;
	size_t i;

	struct plate_error *ignored = NULL;

	if (len == 0 || len > REG_ERROR_BODY_MAX)
		return 0;
	/* Not such a document is not an error: the caller reports the status alone. */
	j = json_load(s, len, 0, "error body", &ignored);
	plate_error_free(ignored);
	errors = json_object_get(j, "errors");
	if (!json_is_array(errors) || json_array_size(errors) == 0)
		return 0;
	json_array_foreach(errors, i, e)
	{
		json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message");
		if (i == 3)
			break;
		if (!json_is_string(code))
			continue;
		if (b.len > 0)
			buf_addstr(&b, "; ");
		add_clean(&b, json_string_value(code), 64);
		if (json_is_string(msg) && json_string_length(msg) > 0) {
			buf_addstr(&b, ": ");
			add_clean(&b, json_string_value(msg), 300);
		}
	}
	if (b.len == 0)
		return 0;
	*summary = buf_detach(&b, NULL);
	return *summary != NULL;
}

int reg_parse_tags(const char *s, size_t len, char ***tags, size_t *n, size_t max,
		   struct plate_error **err)
{
	_cleanup_json_ json_t *j = load(s, len, REG_TAGS_BODY_MAX, "tag list", err);
	json_t *arr, *t;
	size_t i, add;
	char **v;

	if (j == NULL)
		return -1;
	if (!json_is_object(j))
		return plate_err_new(err, EPROTO, "tag list is not a JSON object");
	arr = json_object_get(j, "tags");
	/* distribution answers "tags": null for a repository without tags */
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return plate_err_new(err, EPROTO, "tag list: 'tags' is not an array");
	add = json_array_size(arr);
	if (add > max || *n > max - add)
		return plate_err_new(err, E2BIG, "more than %zu tags", max);
	json_array_foreach(arr, i, t) if (!json_is_string(t)) return plate_err_new(
		err, EPROTO, "tag list: element %zu is not a string", i);
	v = realloc(*tags, (*n + add + 1) * sizeof(*v));
	if (v == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	*tags = v;
	json_array_foreach(arr, i, t)
	{
		v[*n] = strdup(json_string_value(t));
		if (v[*n] == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		v[++*n] = NULL;
	}
	return 0;
}

int reg_manifest_media_type(const char *s, size_t len, char **media_type, struct plate_error **err)
{
	_cleanup_json_ json_t *j = load(s, len, (size_t)-1, "manifest", err);
	json_t *mt;

	if (j == NULL)
		return -1;
	if (!json_is_object(j))
		return plate_err_new(err, EPROTO, "manifest is not a JSON object");
	mt = json_object_get(j, "mediaType");
	if (mt == NULL)
		return 0;
	if (!json_is_string(mt))
		return plate_err_new(err, EPROTO, "manifest 'mediaType' is not a string");
	*media_type = strdup(json_string_value(mt));
	if (*media_type == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 1;
}

/* ---- base64 (RFC 4648 section 4), by OpenSSL ---------------------------------------------- */

/* Padding is optional (docker's config.json "auth" is written both ways); characters
 * outside the alphabet, white space included, and non-canonical trailing bits are refused. */
int reg_base64_decode(const char *s, size_t len, char **out, size_t *out_len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	_cleanup_free_ char *padded = NULL, *d = NULL, *again = NULL;
	size_t pad = 0, full;
	int n;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0) || len > INT_MAX / 2)
		return errno = EINVAL, -1;
	for (size_t i = 0; i < len; i++)
		if (memchr(alphabet, s[i], sizeof(alphabet) - 1) == NULL)
			return errno = EINVAL, -1;
	full = (len + 3) / 4 * 4;
	padded = malloc(full + 1);
	again = malloc(full + 1);
	d = malloc(full / 4 * 3 + 1);
	if (padded == NULL || again == NULL || d == NULL)
		return errno = ENOMEM, -1;
	memcpy(padded, s, len);
	memset(padded + len, '=', full - len);
	/* EVP_DecodeBlock counts the bytes the padding stands for. */
	n = EVP_DecodeBlock((unsigned char *)d, (const unsigned char *)padded, (int)full);
	if (n < 0)
		return errno = EINVAL, -1;
	n -= (int)(full - len);
	/* Canonical: the bytes encode back to the same text. */
	EVP_EncodeBlock((unsigned char *)again, (const unsigned char *)d, n);
	if (memcmp(again, padded, full) != 0)
		return errno = EINVAL, -1;
	d[n] = '\0';
	*out_len = (size_t)n;
	*out = steal_pointer(&d);
	return 0;
}

char *reg_base64_encode(const void *data, size_t len)
{
	char *o;

	if (len > INT_MAX / 4 * 3) {
		errno = E2BIG;
		return NULL;
	}
	o = malloc((len + 2) / 3 * 4 + 1);
	if (o != NULL)
		EVP_EncodeBlock((unsigned char *)o, data, (int)len);
	return o;
}
