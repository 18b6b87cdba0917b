/*
 * Which URL serves a reference domain: Docker Hub's API host, plain http for loopback and
 * insecure registries, and the mirror list given as "domain=url,…".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

const char *reg_domain_host(const char *domain)
{
	/* docker.io is a name, not a server: its distribution API lives on registry-1. */
	if (strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0)
		return "registry-1.docker.io";
	return domain;
}

/* Splits host[:port] / [v6]:port into the host part (without brackets). */
static void host_part(const char *hostport, const char **h, size_t *len)
{
	if (hostport[0] == '[') {
		const char *e = strchr(hostport, ']');
		*h = hostport + 1;
		*len = e ? (size_t)(e - hostport - 1) : strlen(hostport + 1);
		return;
	}
	*h = hostport;
	*len = strcspn(hostport, ":");
	/* a bare IPv6 address (more than one ':') has no port */
	if (strchr(hostport + *len + (hostport[*len] ? 1 : 0), ':') != NULL)
		*len = strlen(hostport);
}

static bool is_loopback_v4(const char *h, size_t len)
{
	unsigned parts = 0, v = 0, digits = 0;
	bool first_is_127 = false;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || h[i] == '.') {
			if (digits == 0 || v > 255)
				return false;
			if (parts == 0)
				first_is_127 = v == 127;
			parts++;
			v = digits = 0;
		} else if (h[i] >= '0' && h[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(h[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return parts == 4 && first_is_127;
}

bool reg_host_is_local(const char *hostport)
{
	const char *h;
	size_t len;

	host_part(hostport, &h, &len);
	if (len == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	if ((len == 3 && strncmp(h, "::1", 3) == 0) ||
	    (len == 15 && strncmp(h, "0:0:0:0:0:0:0:1", 15) == 0))
		return true;
	return is_loopback_v4(h, len);
}

bool reg_host_in_list(const char *list, const char *hostport)
{
	const char *h, *p = list;
	size_t hl, n = strlen(hostport);

	if (list == NULL)
		return false;
	host_part(hostport, &h, &hl);
	while (*p) {
		const char *item = p, *e;
		size_t il;
		p += strcspn(p, ",");
		e = p;
		if (*p == ',')
			p++;
		while (item < e && (*item == ' ' || *item == '\t'))
			item++;
		while (e > item && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		il = (size_t)(e - item);
		if ((il == n && strncasecmp(item, hostport, n) == 0) ||
		    (il == hl && strncasecmp(item, h, hl) == 0))
			return true;
	}
	return false;
}

void reg_mirrors_release(struct reg_mirrors *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].domain);
		free(m->v[i].url);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
}

static int parse_one_mirror(const char *s, const char *item, const char *end, struct reg_mirror *m,
			    struct plate_error **err)
{
	const char *eq = memchr(item, '=', (size_t)(end - item)), *u, *h, *he;
	size_t sl = 0;

	if (eq == NULL || eq == item)
		return plate_err_at(err, 1, (unsigned)(item - s) + 1,
				    "expected 'domain=url' in mirror list");
	for (const char *c = item; c < eq; c++)
		if (!host_char(*c))
			return plate_err_at(err, 1, (unsigned)(c - s) + 1,
					    "bad character in domain");
	u = eq + 1;
	if (end - u >= 7 && strncasecmp(u, "http://", 7) == 0)
		sl = 7;
	else if (end - u >= 8 && strncasecmp(u, "https://", 8) == 0)
		sl = 8;
	h = u + sl;
	he = h;
	while (he < end && host_char(*he))
		he++;
	if (he == h)
		return plate_err_at(err, 1, (unsigned)(h - s) + 1, "mirror URL has no host");
	if (he < end && !(*he == '/' && he + 1 == end))
		return plate_err_at(err, 1, (unsigned)(he - s) + 1,
				    "mirror URL must be scheme://host[:port]");
	m->domain = reg_normalize_host(item, (size_t)(eq - item));
	if (sl == 0) {
		/* no scheme: decided like a registry of that host would be (see client.c) */
		if (asprintf(&m->url, "%.*s", (int)(he - h), h) < 0)
			m->url = NULL;
	} else {
		m->url = strndup(u, (size_t)(he - u));
	}
	if (m->domain == NULL || m->url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *c = m->url; *c && *c != ':'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return 0;
}

int reg_parse_mirrors(const char *s, size_t len, struct reg_mirrors *out, struct plate_error **err)
{
	struct reg_mirrors res = { 0 };
	const char *p = s, *end = s + len;

	if (len > REG_HEADER_VALUE_MAX)
		return plate_err_new(err, E2BIG, "mirror list too long");
	while (p < end) {
		const char *item = p, *e;
		struct reg_mirror *v;

		while (p < end && *p != ',')
			p++;
		e = p;
		if (p < end)
			p++;
		while (item < e && (*item == ' ' || *item == '\t'))
			item++;
		while (e > item && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (item == e)
			continue;
		if (res.n == 64) {
			reg_mirrors_release(&res);
			return plate_err_at(err, 1, (unsigned)(item - s) + 1, "too many mirrors");
		}
		v = realloc(res.v, (res.n + 1) * sizeof(*v));
		if (v == NULL) {
			reg_mirrors_release(&res);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		res.v = v;
		memset(&res.v[res.n], 0, sizeof(res.v[0]));
		if (parse_one_mirror(s, item, e, &res.v[res.n++], err) < 0) {
			reg_mirrors_release(&res);
			return -1;
		}
	}
	*out = res;
	return 0;
}
