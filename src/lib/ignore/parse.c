/*
 * .dockerignore bytes -> pattern list, following patternmatcher's ignorefile.ReadAll, which
 * reads the file with Go's bufio.Scanner (lines end at '\n', one '\r' before it is dropped,
 * the last line needs no '\n', a line of 64 KiB or more is an error).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"
#include "ignore/ignore_internal.h"

struct plist {
	char **v;
	size_t n, cap;
};

static int plist_add(struct plist *l, const char *s, size_t len, bool exception)
{
	char *p;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **grown = realloc(l->v, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		l->v = grown;
		l->cap = cap;
	}
	/* room for '!' and for Clean's "." of an all-dots input */
	p = malloc(len + 3);
	if (p == NULL)
		return -1;
	if (exception)
		p[0] = '!';
	if (len > 0) {
		char *c = p + exception;
		size_t clen = ignore_clean(s, len, c);

		/* patterns are relative to the context: "/a/b" is "a/b", but "/" stays */
		if (clen > 1 && c[0] == '/')
			memmove(c, c + 1, clen);
	} else {
		p[exception] = '\0';
	}
	l->v[l->n++] = p;
	return 0;
}

int ignore_file_parse(const char *buf, size_t len, char ***patterns, size_t *n,
		      struct plate_error **err)
{
	struct plist l = { 0 };
	size_t pos = 0;
	unsigned line = 0;

	while (pos < len) {
		const char *start = buf + pos, *nl = memchr(start, '\n', len - pos);
		size_t sl = nl ? (size_t)(nl - start) : len - pos;
		const char *s = start;
		bool exception;

		pos += sl + (nl != NULL);
		line++;
		if (sl > IGNORE_MAX_LINE) {
			plate_err_at(err, line, IGNORE_MAX_LINE + 1,
				     "line too long (more than %d bytes)", IGNORE_MAX_LINE);
			goto fail;
		}
		if (sl > 0 && s[sl - 1] == '\r')
			sl--;
		if (line == 1 && sl >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
			s += 3;
			sl -= 3;
		}
		/* a comment only when '#' is the very first character of the line */
		if (sl > 0 && s[0] == '#')
			continue;
		ignore_trim_space(&s, &sl);
		if (sl == 0)
			continue;
		exception = s[0] == '!';
		if (exception) {
			s++;
			sl--;
			ignore_trim_space(&s, &sl);
		}
		const char *nul = memchr(s, '\0', sl);
		if (nul != NULL) {
			/* a C string cannot hold it; a path can never contain it anyway */
			plate_err_at(err, line, (unsigned)(nul - start) + 1, "NUL byte in pattern");
			goto fail;
		}
		if (sl > IGNORE_MAX_PATTERN_LEN) {
			plate_err_at(err, line, (unsigned)(s - start) + 1,
				     "pattern too long (more than %d bytes)",
				     IGNORE_MAX_PATTERN_LEN);
			goto fail;
		}
		if (l.n == IGNORE_MAX_PATTERNS) {
			plate_err_at(err, line, 1, "too many patterns (more than %d)",
				     IGNORE_MAX_PATTERNS);
			goto fail;
		}
		if (plist_add(&l, s, sl, exception) < 0) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto fail;
		}
	}
	*patterns = l.v;
	*n = l.n;
	return 0;
fail:
	strv_free(l.v, l.n);
	return -1;
}
