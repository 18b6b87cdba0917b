#include "base/utf8.h"

size_t utf8_decode_rune(const char *s, size_t len, uint32_t *rune)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	uint32_t r;
	size_t need;

	if (p[0] < 0x80) {
		*rune = p[0];
		return 1;
	}
	/* Go's accept ranges: E0 below A0 and F0 below 90 would be overlong, ED A0.. a
	 * surrogate, F4 90.. above U+10FFFF. */
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
		*rune = UTF8_RUNE_ERROR;
		return 1;
	}
	if (len < need + 1 || p[1] < lo || p[1] > hi) {
		*rune = UTF8_RUNE_ERROR;
		return 1;
	}
	r = (r << 6) | (p[1] & 0x3F);
	for (size_t i = 2; i <= need; i++) {
		if (p[i] < 0x80 || p[i] > 0xBF) {
			*rune = UTF8_RUNE_ERROR;
			return 1;
		}
		r = (r << 6) | (p[i] & 0x3F);
	}
	*rune = r;
	return need + 1;
}

bool utf8_is_space(uint32_t r)
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

size_t utf8_space_len(const char *s, size_t len)
{
	uint32_t r;
	size_t w;

	if (len == 0)
		return 0;
	w = utf8_decode_rune(s, len, &r);
	/* An invalid byte decodes to U+FFFD, which is not space. */
	return utf8_is_space(r) ? w : 0;
}

void utf8_trim_space(const char *s, size_t *start, size_t *end)
{
	size_t w;

	while (*start < *end && (w = utf8_space_len(s + *start, *end - *start)) > 0)
		*start += w;
	/* Backwards like Go's utf8.DecodeLastRune: the last rune starts at the nearest
	 * non-continuation byte; if it does not decode to exactly the end, it is one bad byte. */
	while (*end > *start) {
		size_t b = *end - 1, lim = *end - *start > 4 ? *end - 4 : *start;
		uint32_t r;

		while (b > lim && ((unsigned char)s[b] & 0xC0) == 0x80)
			b--;
		w = utf8_decode_rune(s + b, *end - b, &r);
		if (b + w != *end)
			break; /* a stray byte: U+FFFD, not space */
		if (r == UTF8_RUNE_ERROR || !utf8_is_space(r))
			break;
		*end = b;
	}
}
