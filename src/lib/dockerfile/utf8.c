/*
 * The few Unicode facts the parser needs to split and print text the way BuildKit does.
 * BuildKit is Go: it decodes UTF-8 strictly (an invalid byte is U+FFFD of width 1) and uses
 * unicode.IsSpace in several splitting rules, so both are reproduced here.
 */
#include <errno.h>

#include "base/buf.h"
#include "dockerfile/dockerfile_internal.h"

bool dockerfile_is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
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
