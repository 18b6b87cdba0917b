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
