/*
 * Go's strconv.Quote (see go_quote.h).
 */
#include <stdio.h>

#include "base/go_quote.h"
#include "base/utf8.h"

static const char lowerhex[] = "0123456789abcdef";

int go_quote(struct buf *out, const char *s, size_t len)
{
	if (buf_addch(out, '"') < 0)
		return -1;
	for (size_t i = 0; i < len;) {
		uint32_t r;
		size_t w = utf8_decode_rune(s + i, len - i, &r);
		char esc[12];
		int n = 0;

		if (w == 1 && r == UTF8_RUNE_ERROR) {
			/* An invalid byte is written as \xNN. */
			unsigned char b = (unsigned char)s[i];

			n = snprintf(esc, sizeof(esc), "\\x%c%c", lowerhex[b >> 4],
				     lowerhex[b & 15]);
		} else if (r == '"' || r == '\\') {
			n = snprintf(esc, sizeof(esc), "\\%c", (char)r);
		} else if (go_rune_printable(r)) {
			if (buf_add(out, s + i, w) < 0)
				return -1;
			i += w;
			continue;
		} else {
			switch (r) {
			case '\a':
				n = snprintf(esc, sizeof(esc), "\\a");
				break;
			case '\b':
				n = snprintf(esc, sizeof(esc), "\\b");
				break;
			case '\f':
				n = snprintf(esc, sizeof(esc), "\\f");
				break;
			case '\n':
				n = snprintf(esc, sizeof(esc), "\\n");
				break;
			case '\r':
				n = snprintf(esc, sizeof(esc), "\\r");
				break;
			case '\t':
				n = snprintf(esc, sizeof(esc), "\\t");
				break;
			case '\v':
				n = snprintf(esc, sizeof(esc), "\\v");
				break;
			default:
				if (r < ' ' || r == 0x7f)
					n = snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)r);
				else if (r < 0x10000)
					n = snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)r);
				else
					n = snprintf(esc, sizeof(esc), "\\U%08x", (unsigned)r);
				break;
			}
		}
		if (buf_add(out, esc, (size_t)n) < 0)
			return -1;
		i += w;
	}
	return buf_addch(out, '"');
}
