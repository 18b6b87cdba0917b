/*
 * Package databases.  dpkg's status file is deb822 (deb-control(5)): "Field: value"
 * lines, continuation lines starting with a space or tab, stanzas separated by blank
 * lines; a package is installed when the third word of Status is "installed".  apk's
 * installed database (apk-v2 "installed" format) is "K:value" lines, P name, V version,
 * A arch, L license, o origin, U url, stanzas separated by blank lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"

static void package_release(struct check_package *p)
{
	free(p->name);
	free(p->version);
	free(p->arch);
	free(p->source);
	free(p->license);
	free(p->homepage);
	memset(p, 0, sizeof(*p));
}

void check_packages_release(struct check_packages *p)
{
	for (size_t i = 0; i < p->n; i++)
		package_release(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int set_field(char **slot, const char *v, size_t n, struct plate_error **err)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		n--;
	free(*slot);
	*slot = strndup(v, n);
	return *slot ? 0 : plate_err_new(err, ENOMEM, "out of memory");
}

/* Keeps the stanza as a package when it names one (and, for dpkg, is installed). */
static int finish(struct check_packages *out, struct check_package *cur, bool keep,
		  struct plate_error **err)
{
	if (!keep || cur->name == NULL || cur->name[0] == '\0') {
		package_release(cur);
		return 0;
	}
	if (out->n >= CHECK_PKG_MAX_PACKAGES) {
		package_release(cur);
		return plate_err_new(err, EFBIG, "package database lists more than %u packages",
				     CHECK_PKG_MAX_PACKAGES);
	}
	if (out->n == out->alloc) {
		size_t want = out->alloc ? out->alloc * 2 : 64;
		struct check_package *v = reallocarray(out->v, want, sizeof(*v));
		if (v == NULL) {
			package_release(cur);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		out->v = v;
		out->alloc = want;
	}
	out->v[out->n++] = *cur;
	memset(cur, 0, sizeof(*cur));
	return 0;
}

static bool field_is(const char *line, size_t name_len, const char *name)
{
	return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/* "installed" as the third word of "want flag status". */
static bool status_installed(const char *v, size_t n)
{
	const char *end = v + n, *w = v;

	for (int word = 0; word < 2; word++) {
		while (w < end && (*w == ' ' || *w == '\t'))
			w++;
		while (w < end && *w != ' ' && *w != '\t')
			w++;
	}
	while (w < end && (*w == ' ' || *w == '\t'))
		w++;
	return (size_t)(end - w) >= 9 && strncmp(w, "installed", 9) == 0 &&
	       (end - w == 9 || w[9] == ' ' || w[9] == '\t' || w[9] == '\r');
}

int check_dpkg_status_parse(const char *buf, size_t len, struct check_packages *out,
			    struct plate_error **err)
{
	struct check_package cur = { 0 };
	const char *p = buf, *end = buf + len;
	bool installed = false, in_stanza = false;
	unsigned lineno = 0;

	memset(out, 0, sizeof(*out));
	if (len > CHECK_PKG_MAX_FILE)
		return plate_err_new(err, EFBIG, "dpkg status is larger than %u bytes",
				     CHECK_PKG_MAX_FILE);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *colon;
		size_t n = (size_t)(eol - p);

		lineno++;
		if (n == 0 || (n == 1 && p[0] == '\r')) {
			if (in_stanza && finish(out, &cur, installed, err) < 0)
				goto fail;
			installed = in_stanza = false;
		} else if (p[0] == ' ' || p[0] == '\t') {
			if (!in_stanza) {
				plate_err_at(err, lineno, 1, "dpkg status: continuation line outside a stanza");
				goto fail;
			}
		} else if (p[0] != '#') {
			colon = memchr(p, ':', n);
			if (colon == NULL || colon == p || memchr(p, '\0', n) != NULL) {
				plate_err_at(err, lineno, 1, "dpkg status: line is not 'Field: value'");
				goto fail;
			}
			size_t fl = (size_t)(colon - p), vl = n - fl - 1;
			const char *v = colon + 1;
			int r = 0;
			in_stanza = true;
			if (field_is(p, fl, "Package"))
				r = set_field(&cur.name, v, vl, err);
			else if (field_is(p, fl, "Version"))
				r = set_field(&cur.version, v, vl, err);
			else if (field_is(p, fl, "Architecture"))
				r = set_field(&cur.arch, v, vl, err);
			else if (field_is(p, fl, "Homepage"))
				r = set_field(&cur.homepage, v, vl, err);
			else if (field_is(p, fl, "Status"))
				installed = status_installed(v, vl);
			else if (field_is(p, fl, "Source")) {
				/* "Source: name (version)" when the versions differ */
				const char *s = v, *sp;
				size_t sl = vl;
				while (sl > 0 && (*s == ' ' || *s == '\t'))
					s++, sl--;
				sp = memchr(s, ' ', sl);
				r = set_field(&cur.source, s, sp ? (size_t)(sp - s) : sl, err);
			}
			if (r < 0)
				goto fail;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (in_stanza && finish(out, &cur, installed, err) < 0)
		goto fail;
	return 0;
fail:
	package_release(&cur);
	check_packages_release(out);
	return -1;
}

int check_apk_installed_parse(const char *buf, size_t len, struct check_packages *out,
			      struct plate_error **err)
{
	struct check_package cur = { 0 };
	const char *p = buf, *end = buf + len;
	bool in_stanza = false;
	unsigned lineno = 0;

	memset(out, 0, sizeof(*out));
	if (len > CHECK_PKG_MAX_FILE)
		return plate_err_new(err, EFBIG, "apk database is larger than %u bytes",
				     CHECK_PKG_MAX_FILE);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		int r = 0;

		lineno++;
		if (n == 0 || (n == 1 && p[0] == '\r')) {
			if (in_stanza && finish(out, &cur, true, err) < 0)
				goto fail;
			in_stanza = false;
		} else {
			if (n < 2 || p[1] != ':' || memchr(p, '\0', n) != NULL) {
				plate_err_at(err, lineno, 1, "apk database: line is not 'K:value'");
				goto fail;
			}
			in_stanza = true;
			switch (p[0]) {
			case 'P':
				r = set_field(&cur.name, p + 2, n - 2, err);
				break;
			case 'V':
				r = set_field(&cur.version, p + 2, n - 2, err);
				break;
			case 'A':
				r = set_field(&cur.arch, p + 2, n - 2, err);
				break;
			case 'L':
				r = set_field(&cur.license, p + 2, n - 2, err);
				break;
			case 'o':
				r = set_field(&cur.source, p + 2, n - 2, err);
				break;
			case 'U':
				r = set_field(&cur.homepage, p + 2, n - 2, err);
				break;
			default:
				break;
			}
			if (r < 0)
				goto fail;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (in_stanza && finish(out, &cur, true, err) < 0)
		goto fail;
	return 0;
fail:
	package_release(&cur);
	check_packages_release(out);
	return -1;
}
