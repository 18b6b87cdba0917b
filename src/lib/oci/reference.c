/*
 * Image references, normalised the way the docker CLI and BuildKit do (the grammar of
 * distribution/reference, "docker.io" as the default registry):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]     host := domain-name | "[" IPv6 "]"
 *   domain-name:= label ( "." label )*  label := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( separator [a-z0-9]+ )*    separator := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * The first "/"-separated part is a registry only when it contains '.' or ':', is "localhost",
 * or has an upper-case letter (docker's splitDockerDomain rule), so "golang" and "library/golang"
 * both live on docker.io.  The normalised name (domain "/" path) is at most 255 bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "digest/digest.h"
#include "oci/oci.h"

#define REFERENCE_MAX_INPUT 4096
#define REFERENCE_NAME_MAX 255
#define REFERENCE_TAG_MAX 128
#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_REPO_PREFIX "library/"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_hex_or_colon(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':';
}

/* One domain-name label at *p (moved past it on success). */
static bool scan_label(const char **p, const char *end)
{
	const char *s = *p, *last_alnum = NULL;

	if (s >= end || !is_alnum(*s))
		return false;
	while (s < end && (is_alnum(*s) || *s == '-')) {
		if (*s != '-')
			last_alnum = s;
		s++;
	}
	/* A label may not end with '-': back off to its last alphanumeric. */
	*p = last_alnum + 1;
	return true;
}

static bool valid_domain(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	if (p < end && *p == '[') {
		const char *q = p + 1;
		while (q < end && is_hex_or_colon(*q))
			q++;
		if (q == p + 1 || q >= end || *q != ']')
			return false;
		p = q + 1;
	} else {
		if (!scan_label(&p, end))
			return false;
		while (p < end && *p == '.') {
			p++;
			if (!scan_label(&p, end))
				return false;
		}
	}
	if (p < end && *p == ':') {
		const char *digits = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == digits)
			return false;
	}
	return p == end;
}

/* One path component: runs of [a-z0-9] joined by ".", "_", "__" or "-"+. */
static bool valid_component(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	for (;;) {
		const char *run = p;
		while (p < end && is_lower_alnum(*p))
			p++;
		if (p == run)
			return false;
		if (p == end)
			return true;
		if (*p == '.') {
			p++;
		} else if (*p == '_') {
			p++;
			if (p < end && *p == '_')
				p++;
		} else if (*p == '-') {
			while (p < end && *p == '-')
				p++;
		} else {
			return false;
		}
	}
}

static bool valid_path(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	for (;;) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash ? slash : end;
		if (!valid_component(p, (size_t)(stop - p)))
			return false;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

static bool valid_tag(const char *s, size_t len)
{
	if (len == 0 || len > REFERENCE_TAG_MAX || !is_word(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static bool is_64_hex(const char *s, size_t len)
{
	if (len != DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool has_upper(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* docker's splitDockerDomain: is the text before the first '/' a registry host? */
static bool looks_like_domain(const char *s, size_t len)
{
	if (memchr(s, '.', len) != NULL || memchr(s, ':', len) != NULL)
		return true;
	if (len == strlen("localhost") && memcmp(s, "localhost", len) == 0)
		return true;
	return has_upper(s, len);
}

int oci_reference_parse(const char *s, size_t len, struct oci_reference *out,
			struct plate_error **err)
{
	const char *at, *name_end, *slash, *path, *colon, *last_slash;
	size_t domain_len, path_len, remote_len;
	bool add_library = false;
	_cleanup_free_ char *domain = NULL, *full_path = NULL, *tag = NULL, *digest = NULL;

	if (len == 0)
		return plate_err_new(err, 0,
				     "invalid reference format: repository name must have at "
				     "least one component");
	if (len > REFERENCE_MAX_INPUT)
		return plate_err_new(err, 0, "invalid reference format: reference is too long");
	if (memchr(s, '\0', len) != NULL)
		return plate_err_new(err, 0,
				     "invalid reference format: reference contains a NUL byte");
	if (is_64_hex(s, len))
		return plate_err_new(err, 0,
				     "invalid repository name '%.*s', cannot specify 64-byte "
				     "hexadecimal "
				     "strings",
				     (int)len, s);

	at = memchr(s, '@', len);
	name_end = at ? at : s + len;
	if (at != NULL) {
		struct plate_error *derr = NULL;
		size_t dlen = (size_t)(s + len - (at + 1));
		if (digest_parse(at + 1, dlen, &derr) < 0) {
			plate_error_free(derr);
			return plate_err_new(err, 0,
					     "invalid reference format: invalid digest '%.*s'",
					     (int)dlen, at + 1);
		}
		digest = strndup(at + 1, dlen);
		if (digest == NULL)
			return plate_err_new(err, ENOMEM, "cannot parse reference");
	}

	slash = memchr(s, '/', (size_t)(name_end - s));
	if (slash != NULL && looks_like_domain(s, (size_t)(slash - s))) {
		domain_len = (size_t)(slash - s);
		path = slash + 1;
	} else {
		domain_len = 0;
		path = s;
	}

	/* A tag is the text after the last ':' that follows the last '/'. */
	last_slash = NULL;
	for (const char *p = path; p < name_end; p++)
		if (*p == '/')
			last_slash = p;
	colon = memrchr(last_slash ? last_slash : path, ':',
			(size_t)(name_end - (last_slash ? last_slash : path)));
	path_len = (size_t)((colon ? colon : name_end) - path);
	if (colon != NULL) {
		size_t tlen = (size_t)(name_end - (colon + 1));
		if (!valid_tag(colon + 1, tlen))
			return plate_err_new(err, 0, "invalid reference format: invalid tag '%.*s'",
					     (int)tlen, colon + 1);
		tag = strndup(colon + 1, tlen);
		if (tag == NULL)
			return plate_err_new(err, ENOMEM, "cannot parse reference");
	}

	/* docker checks case on the text up to the first ':' after the domain. */
	{
		const char *first_colon = memchr(path, ':', (size_t)(name_end - path));
		remote_len = (size_t)((first_colon ? first_colon : name_end) - path);
	}
	if (has_upper(path, remote_len))
		return plate_err_new(err, 0,
				     "invalid reference format: repository name '%.*s' must be "
				     "lowercase",
				     (int)remote_len, path);
	if (domain_len > 0 && !valid_domain(s, domain_len))
		return plate_err_new(err, 0, "invalid reference format: invalid registry '%.*s'",
				     (int)domain_len, s);
	if (path_len == 0 || !valid_path(path, path_len))
		return plate_err_new(err, 0,
				     "invalid reference format: invalid repository name '%.*s'",
				     (int)path_len, path);

	if (domain_len == 0 || (domain_len == strlen(LEGACY_DEFAULT_DOMAIN) &&
				memcmp(s, LEGACY_DEFAULT_DOMAIN, domain_len) == 0))
		domain = strdup(DEFAULT_DOMAIN);
	else
		domain = strndup(s, domain_len);
	if (domain == NULL)
		return plate_err_new(err, ENOMEM, "cannot parse reference");
	add_library = strcmp(domain, DEFAULT_DOMAIN) == 0 && memchr(path, '/', path_len) == NULL;
	if (asprintf(&full_path, "%s%.*s", add_library ? OFFICIAL_REPO_PREFIX : "", (int)path_len,
		     path) < 0) {
		full_path = NULL;
		return plate_err_new(err, ENOMEM, "cannot parse reference");
	}
	if (strlen(domain) + 1 + strlen(full_path) > REFERENCE_NAME_MAX)
		return plate_err_new(err, 0,
				     "invalid reference format: repository name must not be more "
				     "than "
				     "%d characters",
				     REFERENCE_NAME_MAX);
	if (tag == NULL && digest == NULL) {
		tag = strdup("latest");
		if (tag == NULL)
			return plate_err_new(err, ENOMEM, "cannot parse reference");
	}

	out->domain = steal_pointer(&domain);
	out->path = steal_pointer(&full_path);
	out->tag = steal_pointer(&tag);
	out->digest = steal_pointer(&digest);
	return 0;
}

void oci_reference_release(struct oci_reference *ref)
{
	if (ref == NULL)
		return;
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	ref->domain = ref->path = ref->tag = ref->digest = NULL;
}

char *oci_reference_format(const struct oci_reference *ref)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "",
		     ref->tag ? ref->tag : "", ref->digest ? "@" : "",
		     ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}

const char *oci_familiar_name(const char *name)
{
	if (strncmp(name, "docker.io/library/", 18) == 0 && strchr(name + 18, '/') == NULL)
		return name + 18;
	if (strncmp(name, "docker.io/", 10) == 0)
		return name + 10;
	return name;
}
