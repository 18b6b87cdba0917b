/*
 * Go string semantics the .dockerignore rules are defined in terms of: strings.TrimSpace
 * and filepath.Clean (utf8.DecodeRune is base/utf8.h).  Byte-exact, because BuildKit compares the cleaned
 * pattern text directly for its exact/prefix/suffix classes.
 */
#include <string.h>

#include "base/utf8.h"
#include "ignore/ignore_internal.h"

void ignore_trim_space(const char **s, size_t *len)
{
	size_t start = 0, end = *len;

	utf8_trim_space(*s, &start, &end);
	*s += start;
	*len = end - start;
}

size_t ignore_clean(const char *src, size_t len, char *dst)
{
	bool rooted = len > 0 && src[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;

	if (rooted) {
		dst[w++] = '/';
		r = dotdot = 1;
	}
	while (r < len) {
		if (src[r] == '/') {
			r++;
		} else if (src[r] == '.' && (r + 1 == len || src[r + 1] == '/')) {
			r++;
		} else if (src[r] == '.' && src[r + 1] == '.' &&
			   (r + 2 == len || src[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				/* drop the last element written */
				w--;
				while (w > dotdot && dst[w] != '/')
					w--;
			} else if (!rooted) {
				/* a leading ".." of a relative path stays; "/.." is "/" */
				if (w > 0)
					dst[w++] = '/';
				dst[w++] = '.';
				dst[w++] = '.';
				dotdot = w;
			}
		} else {
			if (w != (rooted ? 1u : 0u))
				dst[w++] = '/';
			for (; r < len && src[r] != '/'; r++)
				dst[w++] = src[r];
		}
	}
	if (w == 0)
		dst[w++] = '.';
	dst[w] = '\0';
	return w;
}

bool ignore_is_clean_relative(const char *path, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return false;
	while (i <= len) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;
		size_t n = end - i;

		if (n == 0 || (n == 1 && path[i] == '.') ||
		    (n == 2 && path[i] == '.' && path[i + 1] == '.'))
			return false;
		i = end + 1;
	}
	return true;
}
