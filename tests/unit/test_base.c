/* Unit tests for base/: the error contract and the capped buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "base/utf8.h"
#include "tap.h"

static int fails_with_enoent(struct plate_error **err)
{
	return plate_err_new(err, ENOENT, "cannot open '%s'", "go.mod");
}

static int wraps_twice(struct plate_error **err)
{
	if (fails_with_enoent(err) < 0) {
		plate_err_wrap(err, "COPY go.mod");
		return plate_err_wrap(err, "step %d/%d", 3, 9);
	}
	return 0;
}

static void test_error_chain(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *text = NULL;

	tap_ok(wraps_twice(&err) == -1, "failing call returns -1");
	tap_ok(err != NULL && err->errno_value == ENOENT, "innermost errno is kept");
	tap_ok(err != NULL && err->n_frames == 2, "two frames recorded");
	text = plate_error_format(err);
	tap_streq(text, "step 3/9: COPY go.mod: cannot open 'go.mod': No such file or directory",
		  "frames are printed outermost first");
}

static void test_error_location(void)
{
	_cleanup_error_ struct plate_error *err = NULL;

	plate_err_at(&err, 7, 12, "unknown flag '%s'", "--frm");
	tap_ok(err->line == 7 && err->column == 12 && err->errno_value == 0, "location recorded");
}

static void test_buf_cap(void)
{
	_cleanup_buf_ struct buf b = BUF_INIT(8);

	tap_ok(b.data != NULL && b.data[0] == '\0' && b.len == 0, "empty buffer is a valid string");
	tap_ok(buf_addstr(&b, "abcd") == 0 && buf_addf(&b, "%d", 123) == 0, "appends under the cap");
	tap_streq(b.data, "abcd123", "contents");
	errno = 0;
	tap_ok(buf_addstr(&b, "xy") == -1 && errno == E2BIG, "append past the cap fails with E2BIG");
	tap_streq(b.data, "abcd123", "failed append leaves the buffer unchanged");
	tap_ok(buf_addch(&b, 'z') == 0 && b.len == 8, "append up to the cap exactly");
	buf_truncate(&b, 2);
	tap_streq(b.data, "ab", "truncate");
	size_t len;
	_cleanup_free_ char *s = buf_detach(&b, &len);
	tap_ok(len == 2 && strcmp(s, "ab") == 0 && b.len == 0 && b.data[0] == '\0',
	       "detach hands out the string and empties the buffer");
}

static void test_steal(void)
{
	_cleanup_free_ char *p = strdup("x");
	char *q = steal_pointer(&p);

	tap_ok(p == NULL && q != NULL, "steal_pointer leaves NULL behind");
	free(q);
}

/* Go's utf8.DecodeRune answers, including the invalid cases it maps to one U+FFFD byte. */
static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		uint32_t rune;
		size_t width;
	} cases[] = {
		{ "a", 1, 'a', 1 },
		{ "\xC3\xA9", 2, 0xE9, 2 },
		{ "\xE2\x98\xBA", 3, 0x263A, 3 },
		{ "\xF0\x9F\x98\x80", 4, 0x1F600, 4 },
		{ "\xEF\xBF\xBD", 3, 0xFFFD, 3 },       /* a real U+FFFD: width 3 */
		{ "\xC0\x80", 2, UTF8_RUNE_ERROR, 1 },    /* overlong */
		{ "\xE0\x80\x80", 3, UTF8_RUNE_ERROR, 1 }, /* overlong */
		{ "\xED\xA0\x80", 3, UTF8_RUNE_ERROR, 1 }, /* surrogate */
		{ "\xF4\x90\x80\x80", 4, UTF8_RUNE_ERROR, 1 }, /* above U+10FFFF */
		{ "\xE2\x98", 2, UTF8_RUNE_ERROR, 1 },    /* truncated */
		{ "\x80", 1, UTF8_RUNE_ERROR, 1 },         /* lone continuation */
		{ "\xFF", 1, UTF8_RUNE_ERROR, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t r = 0;
		size_t w = utf8_decode_rune(cases[i].s, cases[i].len, &r);
		tap_ok(r == cases[i].rune && w == cases[i].width, "utf8 case %zu: U+%04X width %zu", i,
		       (unsigned)r, w);
	}
}

int main(void)
{
	test_error_chain();
	test_error_location();
	test_buf_cap();
	test_steal();
	test_utf8();
	return tap_done();
}
