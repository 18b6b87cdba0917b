/* Unit tests for base/: the error contract, the capped buffer, the capped read of outside
 * files and printable text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "base/file.h"
#include "base/printable.h"
#include "base/utf8.h"
#include "tap.h"

static int fails_with_enoent(struct plate_error **err)
{
	/* a failed open(): the errno is the cause, printed after the message */
	if (open("/nonexistent-plate-test/go.mod", O_RDONLY) < 0)
		return plate_err_new(err, errno, "cannot open '%s'", "go.mod");
	return 0;
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

/* An errno written as a constant is the error's kind: kept for callers, not printed. */
static void test_error_kind(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *text = NULL;

	plate_err_new(&err, ENOENT, "image '%s' not found", "x");
	tap_ok(err->errno_value == ENOENT && err->errno_is_kind, "a constant errno is a kind");
	text = plate_error_format(err);
	tap_streq(text, "image 'x' not found", "a kind is not printed after the message");
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
	tap_ok(buf_addstr(&b, "abcd") == 0 && buf_addf(&b, "%d", 123) == 0,
	       "appends under the cap");
	tap_streq(b.data, "abcd123", "contents");
	errno = 0;
	tap_ok(buf_addstr(&b, "xy") == -1 && errno == E2BIG,
	       "append past the cap fails with E2BIG");
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
		{ "\xEF\xBF\xBD", 3, 0xFFFD, 3 },	       /* a real U+FFFD: width 3 */
		{ "\xC0\x80", 2, UTF8_RUNE_ERROR, 1 },	       /* overlong */
		{ "\xE0\x80\x80", 3, UTF8_RUNE_ERROR, 1 },     /* overlong */
		{ "\xED\xA0\x80", 3, UTF8_RUNE_ERROR, 1 },     /* surrogate */
		{ "\xF4\x90\x80\x80", 4, UTF8_RUNE_ERROR, 1 }, /* above U+10FFFF */
		{ "\xE2\x98", 2, UTF8_RUNE_ERROR, 1 },	       /* truncated */
		{ "\x80", 1, UTF8_RUNE_ERROR, 1 },	       /* lone continuation */
		{ "\xFF", 1, UTF8_RUNE_ERROR, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t r = 0;
		size_t w = utf8_decode_rune(cases[i].s, cases[i].len, &r);
		tap_ok(r == cases[i].rune && w == cases[i].width, "utf8 case %zu: U+%04X width %zu",
		       i, (unsigned)r, w);
	}
}

/* "ok:<content>" or "error:<message> (errno)" for file_read_at(dir, name, flags, max). */
static char *read_result(int dir, const char *name, unsigned flags, size_t max)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *data = NULL;
	char *out = NULL;
	size_t len = 0;

	if (file_read_at(dir, name, flags, max, &data, &len, &err) < 0) {
		if (asprintf(&out, "error:%s (%d)", err->message, err->errno_value) < 0)
			out = NULL;
	} else if (asprintf(&out, "ok:%.*s", (int)len, data) < 0) {
		out = NULL;
	}
	return out;
}

static void test_file_read(void)
{
	char dir[] = "/tmp/test_base.XXXXXX", fifo[64];
	int dfd, fd;

	if (mkdtemp(dir) == NULL || (dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0) {
		tap_ok(false, "temp dir");
		return;
	}
	fd = openat(dfd, "f", O_WRONLY | O_CREAT, 0644);
	tap_ok(fd >= 0 && write(fd, "hello", 5) == 5 && close(fd) == 0, "make a file");
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	tap_ok(mkfifo(fifo, 0644) == 0, "make a FIFO");
	tap_ok(symlinkat("f", dfd, "link") == 0, "make a symlink");
	tap_ok(mkdirat(dfd, "d", 0755) == 0, "make a directory");

	struct {
		const char *name;
		unsigned flags;
		size_t max;
		const char *want;
	} cases[] = {
		{ "f", 0, 100, "ok:hello" },
		{ "f", 0, 5, "ok:hello" },
		{ "f", 0, 4, "error:'f' is larger than 4 bytes (27)" },
		{ "fifo", 0, 100, "error:'fifo' is not a regular file (0)" },
		/* a stream is accepted, and opened without blocking: no writer is EOF */
		{ "fifo", FILE_READ_STREAM, 100, "ok:" },
		{ "d", 0, 100, "error:'d' is not a regular file (0)" },
		{ "link", 0, 100, "ok:hello" },
		{ "link", FILE_READ_NOFOLLOW, 100, "error:cannot open 'link' (40)" },
		{ "missing", 0, 100, "error:cannot open 'missing' (2)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *got =
			read_result(dfd, cases[i].name, cases[i].flags, cases[i].max);
		tap_streq(got, cases[i].want, "file_read_at '%s' flags %u max %zu", cases[i].name,
			  cases[i].flags, cases[i].max);
	}
	/* /dev/zero is endless: the cap ends it */
	{
		_cleanup_free_ char *got =
			read_result(AT_FDCWD, "/dev/zero", FILE_READ_STREAM, 70000);
		tap_streq(got, "error:'/dev/zero' is larger than 70000 bytes (27)",
			  "an endless stream stops at the cap");
	}
	unlinkat(dfd, "f", 0);
	unlinkat(dfd, "fifo", 0);
	unlinkat(dfd, "link", 0);
	unlinkat(dfd, "d", AT_REMOVEDIR);
	close(dfd);
	rmdir(dir);
}

static void test_printable(void)
{
	struct {
		const char *in;
		size_t len, max;
		unsigned flags;
		const char *want;
	} cases[] = {
		{ "plain text", 10, 100, 0, "plain text" },
		{ "tab\tkept", 8, 100, 0, "tab\tkept" },
		{ "a\nb", 3, 100, 0, "a\\x0ab" },
		{ "a\nb", 3, 100, PRINTABLE_KEEP_NEWLINE, "a\nb" },
		{ "\033]0;title\a\033[2J", 14, 100, 0, "\\x1b]0;title\\x07\\x1b[2J" },
		{ "del\177", 4, 100, 0, "del\\x7f" },
		{ "nul\0x", 5, 100, 0, "nul\\x00x" },
		/* C1 CSI (U+009B) as UTF-8, and a raw 0x9b byte (invalid UTF-8) */
		{ "\xc2\x9b"
		  "2J",
		  4, 100, 0, "\\u009b2J" },
		{ "\x9b"
		  "2J",
		  3, 100, 0, "\\x9b2J" },
		/* RIGHT-TO-LEFT OVERRIDE, FIRST STRONG ISOLATE, ARABIC LETTER MARK; ZWJ is kept */
		{ "a\xe2\x80\xae"
		  "b",
		  5, 100, 0, "a\\u202eb" },
		{ "\xe2\x81\xa8x", 4, 100, 0, "\\u2068x" },
		{ "\xd8\x9c", 2, 100, 0, "\\u061c" },
		{ "\xe2\x80\x8d", 3, 100, 0, "\xe2\x80\x8d" },
		{ "caf\xc3\xa9 \xe2\x80\xa6", 9, 100, 0, "caf\xc3\xa9 \xe2\x80\xa6" },
		{ "abcdef", 6, 3, 0, "abc…" },
		{ "abc", 3, 3, 0, "abc" },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9", 6, 2, 0, "\xc3\xa9\xc3\xa9…" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *got =
			printable_dup(cases[i].in, cases[i].len, cases[i].max, cases[i].flags);
		tap_streq(got, cases[i].want, "printable case %zu", i);
	}
}

int main(void)
{
	test_error_chain();
	test_error_kind();
	test_error_location();
	test_buf_cap();
	test_steal();
	test_utf8();
	test_file_read();
	test_printable();
	return tap_done();
}
