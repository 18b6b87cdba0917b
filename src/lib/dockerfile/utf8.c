/*
 * The few Unicode facts the parser needs to split and print text the way BuildKit does.
 * BuildKit is Go: it decodes UTF-8 strictly (an invalid byte is U+FFFD of width 1) and uses
 * unicode.IsSpace in several splitting rules, so both are reproduced here.
 */
#include <errno.h>

#include "base/buf.h"
#include "dockerfile/dockerfile_internal.h"

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
	w = utf8_decode_rune(s, len, &r);
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
		w = utf8_decode_rune(s + b, *end - b, &r);
		if (b + w != *end)
			break; /* a stray byte: U+FFFD, not space */
		if (r == UTF8_RUNE_ERROR || !dockerfile_rune_is_space(r))
			break;
		*end = b;
	}
}

size_t dockerfile_utf8_encode(uint32_t r, char out[4])
{
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xC0 | (r >> 6));
		out[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xE0 | (r >> 12));
		out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		out[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	if (r > 0x10FFFF)
		return dockerfile_utf8_encode(UTF8_RUNE_ERROR, out);
	out[0] = (char)(0xF0 | (r >> 18));
	out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	out[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

int dockerfile_buf_add_rune(struct buf *b, uint32_t r)
{
	char enc[4];

	return buf_add(b, enc, dockerfile_utf8_encode(r, enc));
}
