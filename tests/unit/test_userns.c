/* Unit tests for userns/: reading the subordinate id files as the shadow tools write them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "tap.h"
#include "userns/userns.h"

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/test_userns.XXXXXX");
	int fd = path ? mkstemp(path) : -1;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		tap_ok(false, "cannot write a temporary file");
		exit(1);
	}
	close(fd);
	return path;
}

static void test_ranges(void)
{
	struct plate_error *err = NULL;
	struct userns_range r[USERNS_MAX_RANGES];
	_cleanup_free_ char *path = write_temp("# a comment: alice:1:1\n"
					       "bob:100000:65536\n"
					       "alice:165536:65536\n"
					       "1000:300000:1000\r\n"
					       "alice:x:5\n"
					       "alice:5:0\n"
					       "alice:4294967295:2\n"
					       "alicex:1:1\n"
					       "alice:400000:10");
	int n = userns_read_ranges(path, "alice", 1000, r, USERNS_MAX_RANGES, &err);

	tap_ok(n == 3, "alice by name and by uid: 3 ranges (got %d)", n);
	tap_ok(n == 3 && r[0].start == 165536 && r[0].count == 65536 && r[1].start == 300000 &&
		       r[1].count == 1000 && r[2].start == 400000 && r[2].count == 10,
	       "in file order, a CRLF line and a line without newline read, bad ones skipped");
	n = userns_read_ranges(path, NULL, 1000, r, USERNS_MAX_RANGES, &err);
	tap_ok(n == 1 && r[0].start == 300000, "a user without a name: by uid only");
	n = userns_read_ranges(path, "alice", 1000, r, 2, &err);
	tap_ok(n == 2, "at most max ranges");
	unlink(path);
	free(path);
	path = write_temp("alice:100000:65536\nalice:200000:65536\nalice:300000:65536\n"
			  "alice:400000:65536\nalice:500000:65536\nalice:600000:65536\n");
	n = userns_read_ranges(path, "alice", 1000, r, USERNS_MAX_RANGES, &err);
	tap_ok(n == 6 && r[5].start == 600000, "six ranges: all six (got %d)", n);
	n = userns_read_ranges(path, "carol", 1001, r, USERNS_MAX_RANGES, &err);
	tap_ok(n == 0 && err == NULL, "a user without ranges: none, no error");
	unlink(path);
	n = userns_read_ranges(path, "alice", 1000, r, USERNS_MAX_RANGES, &err);
	tap_ok(n == 0 && err == NULL, "a missing file: no ranges, no error");
	n = userns_read_ranges("/", "alice", 1000, r, USERNS_MAX_RANGES, &err);
	tap_ok(n == -1 && err != NULL, "a directory in its place: an error");
	plate_error_free(err);
}

int main(void)
{
	test_ranges();
	return tap_done();
}
