/*
 * Go string semantics the .dockerignore rules are defined in terms of: strings.TrimSpace
 * and filepath.Clean (utf8.DecodeRune is base/utf8.h).  Byte-exact, because BuildKit compares the cleaned
 * pattern text directly for its exact/prefix/suffix classes.
 */
#include <string.h>

#include "ignore/ignore_internal.h"

/* unicode.IsSpace: Latin-1 space characters plus the White_Space property above it. */
static bool is_space_rune(uint32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	default:
		return r >= 0x2000 && r <= 0x200A;
	}
}

/* Go utf8.DecodeLastRune: decodes from the nearest lead byte among the last four bytes, and
 * reports an invalid rune of width 1 unless that decoding ends exactly at the end. */
static uint32_t decode_last_rune(const char *s, size_t len, size_t *width)
{
	size_t start = len - 1, lim = len >= 4 ? len - 4 : 0;
	uint32_t r;

	*width = 1;
	if ((unsigned char)s[start] < 0x80)
		return (unsigned char)s[start];
	while (start > lim && ((unsigned char)s[start] & 0xC0) == 0x80)
		start--;
	r = ignore_decode_rune(s + start, len - start, width);
	if (start + *width != len) {
		*width = 1;
		return IGNORE_RUNE_ERROR;
	}
	return r;
}

void ignore_trim_space(const char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len, w;

	while (n > 0 && is_space_rune(ignore_decode_rune(p, n, &w))) {
		p += w;
		n -= w;
	}
	while (n > 0 && is_space_rune(decode_last_rune(p, n, &w)))
		n -= w;
	*s = p;
	*len = n;
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
		} else if (src[r] == '.' && src[r + 1] == '.' && (r + 2 == len || src[r + 2] == '/')) {
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

		if (n == 0 || (n == 1 && path[i] == '.') || (n == 2 && path[i] == '.' && path[i + 1] == '.'))
			return false;
		i = end + 1;
	}
	return true;
}
