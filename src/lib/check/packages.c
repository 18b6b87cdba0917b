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

/*
 * Both databases are stanzas of lines separated by blank lines; what a line means is the
 * format's.  line() fills cur from one non-blank line: 1 when the line belongs to a stanza,
 * 0 to pass it over (a dpkg comment), -1 with *err.  A stanza is kept when it is installed:
 * installed starts as `installed_default` and line() may change it.
 */
struct stanzas {
	const char *what; /* "dpkg status" */
	bool installed_default;
	bool installed;
	bool in_stanza;
	int (*line)(struct stanzas *st, struct check_package *cur, const char *p, size_t n,
		    unsigned lineno, struct plate_error **err);
};

static int read_stanzas(const char *buf, size_t len, struct stanzas *st, struct check_packages *out,
			struct plate_error **err)
{
	struct check_package cur = { 0 };
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;

	memset(out, 0, sizeof(*out));
	if (len > CHECK_PKG_MAX_FILE)
		return plate_err_new(err, EFBIG, "%s is larger than %u bytes", st->what,
				     CHECK_PKG_MAX_FILE);
	st->installed = st->installed_default;
	st->in_stanza = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		int r;

		lineno++;
		if (n == 0 || (n == 1 && p[0] == '\r')) {
			if (st->in_stanza && finish(out, &cur, st->installed, err) < 0)
				goto fail;
			st->installed = st->installed_default;
			st->in_stanza = false;
		} else if ((r = st->line(st, &cur, p, n, lineno, err)) < 0) {
			goto fail;
		} else if (r > 0) {
			st->in_stanza = true;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (st->in_stanza && finish(out, &cur, st->installed, err) < 0)
		goto fail;
	return 0;
fail:
	package_release(&cur);
	check_packages_release(out);
	return -1;
}

static int dpkg_line(struct stanzas *st, struct check_package *cur, const char *p, size_t n,
		     unsigned lineno, struct plate_error **err)
{
	const char *colon, *v;
	size_t fl, vl;

	if (p[0] == ' ' || p[0] == '\t') {
		if (!st->in_stanza)
			return plate_err_at(err, lineno, 1,
					    "dpkg status: continuation line outside a stanza");
		return 1;
	}
	if (p[0] == '#')
		return 0;
	colon = memchr(p, ':', n);
	if (colon == NULL || colon == p || memchr(p, '\0', n) != NULL)
		return plate_err_at(err, lineno, 1, "dpkg status: line is not 'Field: value'");
	fl = (size_t)(colon - p);
	vl = n - fl - 1;
	v = colon + 1;
	if (field_is(p, fl, "Package"))
		return set_field(&cur->name, v, vl, err) < 0 ? -1 : 1;
	if (field_is(p, fl, "Version"))
		return set_field(&cur->version, v, vl, err) < 0 ? -1 : 1;
	if (field_is(p, fl, "Architecture"))
		return set_field(&cur->arch, v, vl, err) < 0 ? -1 : 1;
	if (field_is(p, fl, "Homepage"))
		return set_field(&cur->homepage, v, vl, err) < 0 ? -1 : 1;
	if (field_is(p, fl, "Status"))
		st->installed = status_installed(v, vl);
	if (field_is(p, fl, "Source")) {
		/* "Source: name (version)" when the versions differ */
		const char *sp;
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		sp = memchr(v, ' ', vl);
		return set_field(&cur->source, v, sp ? (size_t)(sp - v) : vl, err) < 0 ? -1 : 1;
	}
	return 1;
}

int check_dpkg_status_parse(const char *buf, size_t len, struct check_packages *out,
			    struct plate_error **err)
{
	struct stanzas st = { .what = "dpkg status", .line = dpkg_line };

	return read_stanzas(buf, len, &st, out, err);
}

static int apk_line(struct stanzas *st, struct check_package *cur, const char *p, size_t n,
		    unsigned lineno, struct plate_error **err)
{
	char **slot;

	if (n < 2 || p[1] != ':' || memchr(p, '\0', n) != NULL)
		return plate_err_at(err, lineno, 1, "apk database: line is not 'K:value'");
	switch (p[0]) {
	case 'P':
		slot = &cur->name;
		break;
	case 'V':
		slot = &cur->version;
		break;
	case 'A':
		slot = &cur->arch;
		break;
	case 'L':
		slot = &cur->license;
		break;
	case 'o':
		slot = &cur->source;
		break;
	case 'U':
		slot = &cur->homepage;
		break;
	default:
		return 1;
	}
	return set_field(slot, p + 2, n - 2, err) < 0 ? -1 : 1;
}

int check_apk_installed_parse(const char *buf, size_t len, struct check_packages *out,
			      struct plate_error **err)
{
	struct stanzas st = { .what = "apk database", .installed_default = true, .line = apk_line };

	return read_stanzas(buf, len, &st, out, err);
}
