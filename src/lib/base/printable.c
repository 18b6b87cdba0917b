#include <stdbool.h>
#include <stdint.h>

#include "base/printable.h"
#include "base/utf8.h"

/* Unicode's directional formatting characters reorder what a terminal shows: a name holding
 * U+202E can display as another name ("Trojan Source", CVE-2021-42574). */
static bool is_bidi_control(uint32_t rune)
{
	return rune == 0x061c || rune == 0x200e || rune == 0x200f ||
	       (rune >= 0x202a && rune <= 0x202e) || (rune >= 0x2066 && rune <= 0x2069);
}

int printable_add(struct buf *out, const char *s, size_t len, size_t max, unsigned flags)
{
	size_t i = 0, chars = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		uint32_t rune;
		size_t w;
		int r;

		if (chars++ == max)
			return buf_addstr(out, "…");
		if (c == '\t' || (c == '\n' && (flags & PRINTABLE_KEEP_NEWLINE))) {
			r = buf_addch(out, (char)c);
			w = 1;
		} else if (c < 0x20 || c == 0x7f) {
			r = buf_addf(out, "\\x%02x", c);
			w = 1;
		} else if (c < 0x80) {
			r = buf_addch(out, (char)c);
			w = 1;
		} else {
			w = utf8_decode_rune(s + i, len - i, &rune);
			if (rune == UTF8_RUNE_ERROR && w == 1)
				r = buf_addf(out, "\\x%02x", c);
			else if ((rune >= 0x80 && rune <= 0x9f) || is_bidi_control(rune))
				r = buf_addf(out, "\\u%04x", (unsigned)rune);
			else
				r = buf_add(out, s + i, w);
		}
		if (r < 0)
			return -1;
		i += w;
	}
	return 0;
}

char *printable_dup(const char *s, size_t len, size_t max, unsigned flags)
{
	struct buf b = BUF_INIT(BUF_UNLIMITED);

	if (printable_add(&b, s, len, max, flags) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}
