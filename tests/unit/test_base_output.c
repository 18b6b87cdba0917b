/* Unit tests for base/: the string vector, write_all and the file replacement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/output.h"
#include "base/strv.h"
#include "tap.h"

static void test_strv_growth(void)
{
	_cleanup_strv_ struct strv sv = STRV_INIT;
	size_t grown = 0, alloc = 0;
	bool terminated = true, ok = true;

	for (size_t i = 0; i < 200000 && ok; i++) {
		ok = strv_add(&sv, "a") == 0;
		if (sv.alloc != alloc) {
			grown++;
			alloc = sv.alloc;
		}
		terminated = terminated && sv.v[sv.n] == NULL;
	}
	tap_ok(ok && sv.n == 200000, "200000 pushes kept");
	tap_ok(grown <= 20, "the array grew %zu times for 200000 pushes (doubling)", grown);
	tap_ok(terminated, "NULL-terminated after every push");
}

static void test_strv_ownership(void)
{
	struct strv sv = STRV_INIT;
	char **v;
	size_t n = 99;

	tap_ok(strv_push(&sv, NULL) == -1 && errno == ENOMEM && sv.n == 0,
	       "a NULL string (a failed strdup) is ENOMEM and changes nothing");
	tap_ok(strv_push(&sv, strdup("x")) == 0 && strv_add(&sv, "y") == 0, "push and add");
	v = strv_detach(&sv, &n);
	tap_ok(n == 2 && strcmp(v[0], "x") == 0 && strcmp(v[1], "y") == 0 && v[2] == NULL,
	       "detach hands out the array and its length");
	tap_ok(sv.v == NULL && sv.n == 0 && sv.alloc == 0, "detach empties the vector");
	strv_free(v, n);
	v = strv_detach(&sv, &n);
	tap_ok(v == NULL && n == 0, "an empty vector detaches as NULL");
}

static void test_write_all(void)
{
	int p[2];
	char got[8] = { 0 };
	_cleanup_close_ int full = open("/dev/full", O_WRONLY | O_CLOEXEC);

	tap_ok(pipe(p) == 0, "pipe");
	tap_ok(write_all(p[1], "abcdef", 6) == 0 && read(p[0], got, sizeof(got)) == 6 &&
		       memcmp(got, "abcdef", 6) == 0,
	       "write_all writes everything");
	close(p[0]);
	close(p[1]);
	tap_ok(full < 0 || (write_all(full, "x", 1) == -1 && errno == ENOSPC),
	       "a failing write is reported with its errno");
}

static char *slurp(const char *path)
{
	size_t len;
	return tap_read_file(path, &len);
}

static void test_replace_file(void)
{
	char dir[] = "/tmp/plate-test-output.XXXXXX";
	_cleanup_free_ char *dest = NULL, *victim = NULL, *planted = NULL, *got = NULL,
			    *still = NULL;
	_cleanup_error_ struct plate_error *err = NULL, *err2 = NULL;
	struct replace_file rf = REPLACE_FILE_INIT;
	struct stat st;

	if (mkdtemp(dir) == NULL) {
		tap_ok(false, "mkdtemp");
		return;
	}
	if (asprintf(&dest, "%s/out.tar", dir) < 0 || asprintf(&victim, "%s/victim", dir) < 0 ||
	    asprintf(&planted, "%s/out.tar.tmp.%d", dir, (int)getpid()) < 0)
		return;
	FILE *f = fopen(victim, "w");
	fputs("precious", f);
	fclose(f);
	tap_ok(symlink(victim, planted) == 0, "a symlink planted at the old temp name");
	tap_ok(replace_file_open(&rf, dest, 0644, &err) == 0, "open");
	tap_ok(rf.fd >= 0 && write_all(rf.fd, "new", 3) == 0, "write");
	tap_ok(lstat(dest, &st) < 0 && errno == ENOENT, "the destination is absent until commit");
	tap_ok(replace_file_commit(&rf, &err) == 0, "commit");
	got = slurp(dest);
	still = slurp(victim);
	tap_streq(got, "new", "the destination holds the new content");
	tap_streq(still, "precious", "the symlink's target is untouched");
	tap_ok(rf.fd == -1 && rf.tmp == NULL, "the struct is released after commit");

	tap_ok(replace_file_open(&rf, dest, 0644, &err2) == 0, "open again");
	tap_ok(write_all(rf.fd, "half", 4) == 0, "write half");
	replace_file_abort(&rf);
	free(got);
	got = slurp(dest);
	tap_streq(got, "new", "abort keeps the old file");
	{
		_cleanup_free_ char *cmd = NULL;
		if (asprintf(&cmd, "test $(ls -A '%s' | wc -l) = 3", dir) > 0)
			tap_ok(system(cmd) == 0, "abort leaves no temporary file");
	}
	{
		_cleanup_error_ struct plate_error *e3 = NULL;
		_cleanup_free_ char *nodir = NULL;
		if (asprintf(&nodir, "%s/missing/out", dir) > 0)
			tap_ok(replace_file_open(&rf, nodir, 0644, &e3) < 0 && e3 != NULL &&
				       e3->errno_value == ENOENT,
			       "a missing directory is ENOENT");
	}
	unlink(dest);
	unlink(planted);
	unlink(victim);
	rmdir(dir);
}

int main(void)
{
	test_strv_growth();
	test_strv_ownership();
	test_write_all();
	test_replace_file();
	return tap_done();
}
