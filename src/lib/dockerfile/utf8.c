/*
 * The few Unicode facts the parser needs to split and print text the way BuildKit does.
 * BuildKit is Go: it decodes UTF-8 strictly (an invalid byte is U+FFFD of width 1) and uses
 * unicode.IsSpace in several splitting rules, so both are reproduced here.
 */
#include <errno.h>

#include "base/buf.h"
#include "dockerfile/dockerfile_internal.h"

size_t dockerfile_utf8_decode(const char *s, size_t len, uint32_t *rune)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xBF;
	uint32_t r;
	size_t need;

	if (p[0] < 0x80) {
		*rune = p[0];
		return 1;
	}
	/* Go's accept ranges: no overlong forms, no surrogates, nothing above U+10FFFF. */
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		need = 1;
		r = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		need = 2;
		r = p[0] & 0x0F;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		need = 3;
		r = p[0] & 0x07;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	} else {
		*rune = DOCKERFILE_RUNE_ERROR;
		return 1;
	}
	if (len < need + 1 || p[1] < lo || p[1] > hi) {
		*rune = DOCKERFILE_RUNE_ERROR;
		return 1;
	}
	r = (r << 6) | (p[1] & 0x3F);
	for (size_t i = 2; i <= need; i++) {
		if (p[i] < 0x80 || p[i] > 0xBF) {
			*rune = DOCKERFILE_RUNE_ERROR;
			return 1;
		}
		r = (r << 6) | (p[i] & 0x3F);
	}
	*rune = r;
	return need + 1;
}

bool dockerfile_rune_is_space(uint32_t r)
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

size_t dockerfile_space_len(const char *s, size_t len)
{
	uint32_t r;
	size_t w;

	if (len == 0)
		return 0;
	w = dockerfile_utf8_decode(s, len, &r);
	/* An invalid byte decodes to U+FFFD, which is not space. */
	return dockerfile_rune_is_space(r) ? w : 0;
}

bool dockerfile_is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

void dockerfile_trim_space(const char *s, size_t *start, size_t *end)
{
	size_t w;

	while (*start < *end && (w = dockerfile_space_len(s + *start, *end - *start)) > 0)
		*start += w;
	/* Backwards like Go's utf8.DecodeLastRune: the last rune starts at the nearest
	 * non-continuation byte; if it does not decode to exactly the end, it is one bad byte. */
	while (*end > *start) {
		size_t b = *end - 1, lim = *end - *start > 4 ? *end - 4 : *start;
		uint32_t r;

		while (b > lim && ((unsigned char)s[b] & 0xC0) == 0x80)
			b--;
		w = dockerfile_utf8_decode(s + b, *end - b, &r);
		if (b + w != *end)
			break; /* a stray byte: U+FFFD, not space */
		if (r == DOCKERFILE_RUNE_ERROR || !dockerfile_rune_is_space(r))
			break;
		*end = b;
	}
}

int dockerfile_buf_add_rune(struct buf *b, uint32_t r)
{
	char enc[4];
	size_t n;

	if (r < 0x80) {
		enc[0] = (char)r;
		n = 1;
	} else if (r < 0x800) {
		enc[0] = (char)(0xC0 | (r >> 6));
		enc[1] = (char)(0x80 | (r & 0x3F));
		n = 2;
	} else if (r < 0x10000) {
		enc[0] = (char)(0xE0 | (r >> 12));
		enc[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		enc[2] = (char)(0x80 | (r & 0x3F));
		n = 3;
	} else if (r <= 0x10FFFF) {
		enc[0] = (char)(0xF0 | (r >> 18));
		enc[1] = (char)(0x80 | ((r >> 12) & 0x3F));
		enc[2] = (char)(0x80 | ((r >> 6) & 0x3F));
		enc[3] = (char)(0x80 | (r & 0x3F));
		n = 4;
	} else {
		errno = EINVAL;
		return -1;
	}
	return buf_add(b, enc, n);
}
