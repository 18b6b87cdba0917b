/*
 * The image tree view over two hand-made layer snapshots: top layer wins, whiteouts and
 * opaque directories hide what is below, symlinks resolve inside the image root (absolute
 * targets and ".." included), loops are refused, the walk is sorted and merged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "check/check.h"
#include "fsutil.h"
#include "tap.h"

static int collect(void *data, const char *path, const struct stat *st, size_t layer,
		   struct plate_error **err)
{
	struct buf *b = data;

	buf_addf(b, "%s%s%s\n", path, S_ISDIR(st->st_mode) ? "/" : "",
		 S_ISLNK(st->st_mode) ? "@" : "");
	return 0;
}

static char *read_text(struct check_fs *fs, const char *path)
{
	char *data = NULL;
	size_t len;
	struct plate_error *err = NULL;

	if (check_fs_read(fs, path, 100, &data, &len, &err) != 0) {
		plate_error_free(err);
		return strdup("(missing)");
	}
	return data;
}

int main(void)
{
	_cleanup_free_ char *tmp = fsutil_mkdtemp("check-fs");
	char l0[2048], l1[2048], opq[4096];
	struct check_fs *fs = NULL;
	struct check_fs_entry e;
	struct plate_error *err = NULL;
	struct buf walk = BUF_INIT(BUF_UNLIMITED);

	if (tmp == NULL)
		tap_skip_all("no temp dir");
	if (geteuid() != 0)
		tap_skip_all("whiteouts (0/0 character devices) need root");
	snprintf(l0, sizeof(l0), "%s/l0", tmp);
	snprintf(l1, sizeof(l1), "%s/l1", tmp);
	mkdir(l0, 0755);
	mkdir(l1, 0755);
	fsutil_mkdir_in(l0, "etc");
	fsutil_write_in(l0, "etc/passwd", "root\n", 0644);
	fsutil_mkdir_in(l0, "d");
	fsutil_write_in(l0, "d/a", "a\n", 0644);
	fsutil_write_in(l0, "d/b", "b\n", 0644);
	fsutil_mkdir_in(l0, "o");
	fsutil_write_in(l0, "o/x", "x\n", 0644);
	fsutil_mkdir_in(l0, "usr");
	fsutil_mkdir_in(l0, "usr/lib");
	fsutil_write_in(l0, "usr/lib/libz.so", "z\n", 0644);
	fsutil_symlink_in(l0, "lib", "usr/lib");
	fsutil_symlink_in(l0, "esc", "../../../../../etc/passwd");
	fsutil_symlink_in(l0, "abs", "/etc/../etc/passwd");
	fsutil_symlink_in(l0, "phys", "/lib/../etc/passwd");
	fsutil_symlink_in(l0, "loop", "loop");
	fsutil_mkdir_in(l1, "etc");
	fsutil_write_in(l1, "etc/passwd", "app\n", 0644);
	fsutil_mkdir_in(l1, "d");
	{
		char wh[8192];
		snprintf(wh, sizeof(wh), "%s/d/a", l1);
		if (mknod(wh, S_IFCHR | 0, makedev(0, 0)) < 0)
			tap_diag("mknod: %s", strerror(errno));
	}
	fsutil_mkdir_in(l1, "o");
	fsutil_write_in(l1, "o/y", "y\n", 0644);
	snprintf(opq, sizeof(opq), "%s/o", l1);
	if (setxattr(opq, "trusted.overlay.opaque", "y", 1, 0) < 0 &&
	    setxattr(opq, "user.overlay.opaque", "y", 1, 0) < 0)
		tap_diag("opaque xattr: %s", strerror(errno));

	const char *layers[] = { l0, l1 };
	tap_ok(check_fs_open(layers, 2, &fs, &err) == 0, "two layers open");
	_cleanup_free_ char *passwd = read_text(fs, "/etc/passwd");
	tap_streq(passwd, "app\n", "the top layer's file wins");
	_cleanup_free_ char *a = read_text(fs, "/d/a"), *b = read_text(fs, "d/b");
	tap_streq(a, "(missing)", "a whiteout hides the lower file");
	tap_streq(b, "b\n", "the merged directory keeps the lower file");
	_cleanup_free_ char *x = read_text(fs, "/o/x"), *y = read_text(fs, "/o/y");
	tap_streq(x, "(missing)", "an opaque directory hides the lower content");
	tap_streq(y, "y\n", "an opaque directory keeps its own content");
	tap_ok(check_fs_lookup(fs, "/lib/libz.so", true, &e, &err) == 0,
	       "lookup through a symlink");
	tap_streq(e.path, "/usr/lib/libz.so", "  resolved path");
	check_fs_entry_release(&e);
	tap_ok(check_fs_lookup(fs, "/lib", false, &e, &err) == 0 && S_ISLNK(e.st.st_mode),
	       "the last symlink is kept when not following");
	check_fs_entry_release(&e);
	_cleanup_free_ char *esc = read_text(fs, "/esc"), *abs = read_text(fs, "/abs");
	tap_streq(esc, "app\n", "'..' in a link target stops at the image root");
	tap_streq(abs, "app\n", "an absolute link target is inside the image");
	_cleanup_free_ char *phys = read_text(fs, "/phys");
	tap_streq(phys, "(missing)", "'..' after a symlinked directory is taken physically");
	tap_ok(check_fs_lookup(fs, "/loop", true, &e, &err) < 0 && err && err->errno_value == ELOOP,
	       "a symlink loop is refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(check_fs_lookup(fs, "/etc/passwd/x", true, &e, &err) == 1,
	       "a file is not a directory");
	tap_ok(check_fs_walk(fs, "/", collect, &walk, &err) == 0, "walk succeeds");
	tap_streq(walk.data,
		  "/abs@\n/d/\n/d/b\n/esc@\n/etc/\n/etc/passwd\n/lib@\n/loop@\n/o/\n/o/y\n"
		  "/phys@\n/usr/\n/usr/lib/\n/usr/lib/libz.so\n",
		  "walk: merged, sorted, whiteouts and opaque content left out");
	buf_release(&walk);
	check_fs_free(fs);
	fsutil_remove_at(AT_FDCWD, tmp);
	return tap_done();
}
