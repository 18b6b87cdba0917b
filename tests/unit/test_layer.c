/*
 * Unit tests for layer/: path cleaning and order, writer states, round trips of a tree
 * holding every entry type through each compressor and both resolution methods,
 * determinism, readability by gzip/zcat/python/zstd, whiteout conversion both ways, and
 * the gzip decoder on multi-member, corrupt, truncated and trailing input.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "fsutil.h"
#include "layer/layer.h"
#include "layer/layer_internal.h"
#include "tap.h"

/* What this process may do (root, an unprivileged user, root in a user namespace). */
static bool can_mknod, can_chown, can_cap, can_trusted, can_whiteout;
static char *tmp;

/* ---- pure functions -------------------------------------------------------------------- */

struct clean_case {
	const char *in;
	unsigned flags;
	const char *want; /* NULL: an error containing `error` */
	const char *error;
};

#define SA LAYER_PATH_STRIP_ABSOLUTE
#define RD LAYER_PATH_RESOLVE_DOTDOT

static const struct clean_case clean_cases[] = {
	{ "a/b", 0, "a/b", NULL },
	{ "./a//b/", 0, "a/b", NULL },
	{ "a/./b/.", 0, "a/b", NULL },
	{ ".", 0, "", NULL },
	{ "./", 0, "", NULL },
	{ "/", SA, "", NULL },
	{ "/a", 0, NULL, "is absolute" },
	{ "/a", SA, "a", NULL },
	{ "//a///b", SA, "a/b", NULL },
	{ "a/../b", 0, NULL, "contains '..'" },
	{ "a/../b", RD, "b", NULL },
	{ "a/b/..", RD, "a", NULL },
	{ "a/b/../..", RD, "", NULL },
	{ "..", RD, NULL, "escapes the root" },
	{ "../a", RD, NULL, "escapes the root" },
	{ "a/../../b", RD, NULL, "escapes the root" },
	{ "/../etc/passwd", SA | RD, NULL, "escapes the root" },
	{ "/etc/passwd", SA | RD, "etc/passwd", NULL },
	{ "a/.../b", 0, "a/.../b", NULL },
	{ "..a/b..", 0, "..a/b..", NULL },
	{ "", 0, NULL, "empty path" },
	{ "caf\xc3\xa9/\xff", 0, "caf\xc3\xa9/\xff", NULL },
};

static void test_path_clean(void)
{
	char out[LAYER_MAX_PATH + 1];

	for (size_t i = 0; i < sizeof(clean_cases) / sizeof(clean_cases[0]); i++) {
		const struct clean_case *c = &clean_cases[i];
		_cleanup_error_ struct plate_error *err = NULL;
		int n = layer_path_clean(c->in, strlen(c->in), c->flags, out, sizeof(out), &err);
		if (c->want != NULL) {
			tap_ok(n == (int)strlen(c->want), "clean '%s' (flags %u) length", c->in,
			       c->flags);
			tap_streq(n >= 0 ? out : "(error)", c->want, "clean '%s' (flags %u)", c->in,
				  c->flags);
		} else {
			tap_ok(n < 0 && err != NULL && strstr(err->message, c->error) != NULL,
			       "clean '%s' (flags %u) fails with '%s' (got '%s')", c->in, c->flags,
			       c->error, err != NULL ? err->message : "success");
		}
	}

	/* NUL byte, over-long component, over-long path, small output buffer */
	_cleanup_error_ struct plate_error *err = NULL;
	tap_ok(layer_path_clean("a\0b", 3, 0, out, sizeof(out), &err) < 0 &&
		       strstr(err->message, "NUL") != NULL,
	       "a NUL byte is refused");
	plate_error_free(err);
	err = NULL;
	char longname[300];
	memset(longname, 'x', 256);
	longname[256] = '\0';
	tap_ok(layer_path_clean(longname, 256, 0, out, sizeof(out), &err) < 0 &&
		       err->errno_value == ENAMETOOLONG,
	       "a 256-byte component is refused");
	plate_error_free(err);
	err = NULL;
	longname[255] = '\0';
	tap_ok(layer_path_clean(longname, 255, 0, out, sizeof(out), NULL) == 255,
	       "a 255-byte component is accepted");
	_cleanup_free_ char *deep = malloc(6000);
	for (int i = 0; i < 3000; i++)
		memcpy(deep + 2 * i, "a/", 2);
	deep[5999] = '\0';
	tap_ok(layer_path_clean(deep, 5999, 0, out, sizeof(out), &err) < 0 &&
		       err->errno_value == ENAMETOOLONG,
	       "a path longer than LAYER_MAX_PATH is refused");
	plate_error_free(err);
	err = NULL;
	char small[4];
	tap_ok(layer_path_clean("abcd", 4, 0, small, sizeof(small), &err) < 0,
	       "a result longer than the output buffer is refused");
	tap_ok(layer_path_clean("abc", 3, 0, small, sizeof(small), NULL) == 3,
	       "a result that fits the output buffer exactly");
}

static void test_path_compare(void)
{
	static const char *const sorted[] = { "a",   "a/b", "a/b/c", "a/c",	"a-b",
					      "a.b", "a0",  "b",     "\xc3\xa9" };
	size_t n = sizeof(sorted) / sizeof(sorted[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = layer_path_compare(sorted[i], sorted[j]);
			bool good = i < j ? c < 0 : i > j ? c > 0 : c == 0;
			if (!good)
				tap_ok(false, "compare('%s', '%s') = %d", sorted[i], sorted[j], c);
		}
	tap_ok(true, "layer order: a directory's subtree sorts before its longer siblings");
	tap_ok(layer_compression_is_known("gzip") && layer_compression_is_known("zstd") &&
		       layer_compression_is_known("none") && !layer_compression_is_known("lz4") &&
		       !layer_compression_is_known(NULL),
	       "compressor table");
	tap_streq(layer_compression_media_type("gzip"),
		  "application/vnd.oci.image.layer.v1.tar+gzip", "gzip media type");
	tap_streq(layer_compression_media_type("zstd"),
		  "application/vnd.oci.image.layer.v1.tar+zstd", "zstd media type");
	tap_streq(layer_compression_media_type("none"), "application/vnd.oci.image.layer.v1.tar",
		  "uncompressed media type");
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int open_tmp_file(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static char *tmp_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", tmp, name) < 0)
		abort();
	return p;
}

/* Makes a fresh empty directory tmp/<name> and returns an fd on it. */
static int fresh_dir(const char *name)
{
	_cleanup_free_ char *p = tmp_path(name);

	fsutil_remove(p);
	if (mkdir(p, 0755) < 0)
		return -1;
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int write_layer(int dirfd, const char *file, const char *compression, long long epoch,
		       unsigned threads, unsigned tree_flags, struct layer_result *res)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct layer_writer_options o = { .compression = compression,
					  .epoch = epoch,
					  .threads = threads };
	struct layer_writer *w = NULL;
	_cleanup_close_ int fd = open_tmp_file(file);
	int r = -1;

	if (fd < 0 || layer_writer_new(fd, &o, &w, &err) < 0 ||
	    layer_writer_add_tree(w, dirfd, "", tree_flags, &err) < 0 ||
	    layer_writer_finish(w, res, &err) < 0) {
		_cleanup_free_ char *msg = err != NULL ? plate_error_format(err) : NULL;
		tap_diag("write_layer %s: %s", file, msg != NULL ? msg : strerror(errno));
		goto out;
	}
	r = 0;
out:
	layer_writer_free(w);
	return r;
}

static int extract_layer(const char *file, int target, const struct layer_extract_options *o,
			 struct layer_extract_result *res, char **error)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *p = tmp_path(file);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (layer_extract(fd, target, o, res, &err) < 0) {
		char *msg = plate_error_format(err);
		if (error != NULL)
			*error = msg;
		else {
			tap_diag("extract %s: %s", file, msg);
			free(msg);
		}
		return -1;
	}
	return 0;
}

/* ---- the sample tree ------------------------------------------------------------------- */

/* vfs_cap_data revision 2, effective, CAP_NET_BIND_SERVICE (10) permitted */
static const unsigned char cap_v2[20] = { 0x01, 0, 0, 0x02, 0x00, 0x04 };

static void probe_privileges(void)
{
	_cleanup_free_ char *p = tmp_path("probe");
	_cleanup_close_ int fd = -1;

	can_mknod = mknod(p, S_IFCHR | 0600, makedev(1, 3)) == 0;
	unlink(p);
	can_whiteout = mknod(p, S_IFCHR, makedev(0, 0)) == 0;
	unlink(p);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	can_chown = fd >= 0 && fchown(fd, 1000, 1001) == 0;
	can_cap = fd >= 0 && fsetxattr(fd, "security.capability", cap_v2, sizeof(cap_v2), 0) == 0;
	can_trusted = fd >= 0 && fsetxattr(fd, "trusted.probe", "1", 1, 0) == 0;
	unlink(p);
	tap_diag("privileges: mknod %d, whiteout %d, chown %d, capability %d, trusted xattrs %d",
		 can_mknod, can_whiteout, can_chown, can_cap, can_trusted);
}

static void must(bool ok, const char *what)
{
	if (!ok) {
		tap_ok(false, "building the sample tree: %s: %s", what, strerror(errno));
		exit(tap_done());
	}
}

static void set_mtime(int dfd, const char *name, long long t)
{
	struct timespec ts[2] = { { .tv_sec = t }, { .tv_sec = t } };

	must(utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) == 0, name);
}

static void make_tree(int d, long long mtime)
{
	static const char value[] = { 'v', 0, 'a', 'l' };
	char name[400];
	size_t big_len = 3 * 1024 * 1024 + 123;
	_cleanup_free_ char *big = malloc(big_len);

	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)((i * 2654435761u) >> 13);
	must(mkdirat(d, "dir", 0755) == 0, "dir");
	must(fsutil_write_at(d, "dir/small", "hello\n", 6, 0644) == 0, "dir/small");
	must(fsutil_write_at(d, "dir/empty", "", 0, 0600) == 0, "dir/empty");
	must(fsutil_write_at(d, "dir/suid", "#!/bin/sh\n", 10, 04755) == 0, "dir/suid");
	must(fsutil_write_at(d, "big", big, big_len, 0644) == 0, "big");
	must(mkdirat(d, "ro", 0755) == 0 && fsutil_write_at(d, "ro/inside", "x", 1, 0444) == 0,
	     "ro");
	must(mkdirat(d, "sticky", 0755) == 0 && fchmodat(d, "sticky", 01777, 0) == 0, "sticky");
	must(symlinkat("dir/small", d, "rel-link") == 0, "rel-link");
	must(symlinkat("/etc/passwd", d, "abs-link") == 0, "abs-link");
	must(symlinkat("nowhere/x", d, "dangle") == 0, "dangle");
	must(linkat(d, "dir/small", d, "hard", 0) == 0, "hard");
	must(mkfifoat(d, "fifo", 0640) == 0, "fifo");
	memset(name, 'n', 200);
	name[200] = '\0';
	must(fsutil_write_at(d, name, "long name", 9, 0644) == 0, "long name");
	must(mkdirat(d, "deep", 0755) == 0, "deep");
	snprintf(name, sizeof(name), "deep/%0120d", 0);
	must(mkdirat(d, name, 0755) == 0, "deep/0...");
	snprintf(name, sizeof(name), "deep/%0120d/%0100d", 0, 1);
	must(fsutil_write_at(d, name, "deep", 4, 0644) == 0, "deep file");
	memset(name, 't', 300);
	name[300] = '\0';
	must(symlinkat(name, d, "long-target") == 0, "long-target");
	must(fsutil_write_at(d, "caf\xc3\xa9", "utf-8", 5, 0644) == 0, "utf-8 name");
	must(fsutil_write_at(d, "raw\xff\xfe", "raw", 3, 0644) == 0, "raw name");
	_cleanup_close_ int small = openat(d, "dir/small", O_RDONLY);
	must(fsetxattr(small, "user.test", value, sizeof(value), 0) == 0, "user xattr");
	_cleanup_close_ int dirfd = openat(d, "dir", O_RDONLY | O_DIRECTORY);
	must(fsetxattr(dirfd, "user.dir", "d", 1, 0) == 0, "dir xattr");
	if (can_cap) {
		_cleanup_close_ int bfd = openat(d, "big", O_RDONLY);
		must(fsetxattr(bfd, "security.capability", cap_v2, sizeof(cap_v2), 0) == 0,
		     "capability");
	}
	if (can_mknod) {
		must(mknodat(d, "chr", S_IFCHR | 0600, makedev(1, 3)) == 0, "chr");
		must(mknodat(d, "blk", S_IFBLK | 0600, makedev(7, 0)) == 0, "blk");
	}
	if (can_chown) {
		must(fchownat(d, "dir/small", 1000, 1001, 0) == 0, "chown");
		must(fchownat(d, "rel-link", 42, 43, AT_SYMLINK_NOFOLLOW) == 0, "lchown");
		must(fchownat(d, "ro", 7, 8, 0) == 0, "chown dir");
	}
	/* mtimes: deep ones first, then directories (creating entries changes them) */
	static const char *const files[] = { "dir/small",   "dir/empty",   "dir/suid",
					     "big",	    "ro/inside",   "rel-link",
					     "abs-link",    "dangle",	   "fifo",
					     "long-target", "caf\xc3\xa9", "raw\xff\xfe" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		set_mtime(d, files[i], mtime + (long long)i);
	if (can_mknod) {
		set_mtime(d, "chr", mtime);
		set_mtime(d, "blk", mtime);
	}
	memset(name, 'n', 200);
	name[200] = '\0';
	set_mtime(d, name, mtime);
	snprintf(name, sizeof(name), "deep/%0120d/%0100d", 0, 1);
	set_mtime(d, name, 12345);
	snprintf(name, sizeof(name), "deep/%0120d", 0);
	set_mtime(d, name, 23456);
	set_mtime(d, "deep", mtime);
	set_mtime(d, "dir", mtime);
	set_mtime(d, "sticky", mtime);
	must(fchmodat(d, "ro", 0555, 0) == 0, "ro mode");
	set_mtime(d, "ro", 100);
}

/* ---- tree comparison ------------------------------------------------------------------- */

static int differences;

static void differ(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void differ(const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (differences++ < 10)
		tap_diag("'%s': %s", path, msg);
}

static size_t list_xattrs(int dfd, const char *name, char *buf, size_t cap)
{
	char proc[4200];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	n = llistxattr(proc, buf, cap);
	return n < 0 ? 0 : (size_t)n;
}

static void compare_xattrs(int sd, int dd, const char *name, const char *path)
{
	char names[4096], proc_s[4200], proc_d[4200];
	size_t n = list_xattrs(sd, name, names, sizeof(names));
	char dnames[4096];
	size_t dn = list_xattrs(dd, name, dnames, sizeof(dnames));
	size_t count_s = 0, count_d = 0;

	snprintf(proc_s, sizeof(proc_s), "/proc/self/fd/%d/%s", sd, name);
	snprintf(proc_d, sizeof(proc_d), "/proc/self/fd/%d/%s", dd, name);
	for (char *x = names; x < names + n; x += strlen(x) + 1) {
		char a[256], b[256];
		if (strcmp(x, "security.selinux") == 0)
			continue;
		count_s++;
		ssize_t la = lgetxattr(proc_s, x, a, sizeof(a));
		ssize_t lb = lgetxattr(proc_d, x, b, sizeof(b));
		if (la != lb || la < 0 || memcmp(a, b, (size_t)la) != 0)
			differ(path, "xattr '%s' differs (%zd vs %zd bytes)", x, la, lb);
	}
	for (char *x = dnames; x < dnames + dn; x += strlen(x) + 1)
		if (strcmp(x, "security.selinux") != 0)
			count_d++;
	if (count_s != count_d)
		differ(path, "%zu xattrs vs %zu", count_s, count_d);
}

static bool same_content(int sd, int dd, const char *name)
{
	_cleanup_close_ int a = openat(sd, name, O_RDONLY | O_NOFOLLOW);
	_cleanup_close_ int b = openat(dd, name, O_RDONLY | O_NOFOLLOW);
	char x[65536], y[65536];

	if (a < 0 || b < 0)
		return false;
	for (;;) {
		ssize_t n = read(a, x, sizeof(x)), m = read(b, y, sizeof(y));
		if (n != m || n < 0)
			return false;
		if (n == 0)
			return true;
		if (memcmp(x, y, (size_t)n) != 0)
			return false;
	}
}

/* Compares src and dst (directory fds) recursively; mtimes expected clamped to epoch. */
static void compare_dirs(int sd, int dd, const char *prefix, long long epoch, bool owners)
{
	DIR *d = fdopendir(dup(sd));
	struct dirent *de;

	if (d == NULL) {
		differ(prefix, "cannot list");
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat s, t;
		char path[8192];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s", prefix, de->d_name);
		if (fstatat(sd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (fstatat(dd, de->d_name, &t, AT_SYMLINK_NOFOLLOW) < 0) {
			differ(path, "missing");
			continue;
		}
		if ((s.st_mode & S_IFMT) != (t.st_mode & S_IFMT)) {
			differ(path, "type %o vs %o", s.st_mode & S_IFMT, t.st_mode & S_IFMT);
			continue;
		}
		if (!S_ISLNK(s.st_mode) && (s.st_mode & 07777) != (t.st_mode & 07777))
			differ(path, "mode %o vs %o", s.st_mode & 07777, t.st_mode & 07777);
		if (owners && (s.st_uid != t.st_uid || s.st_gid != t.st_gid))
			differ(path, "owner %u:%u vs %u:%u", s.st_uid, s.st_gid, t.st_uid,
			       t.st_gid);
		long long want = s.st_mtim.tv_sec > epoch ? epoch : s.st_mtim.tv_sec;
		if (t.st_mtim.tv_sec != want)
			differ(path, "mtime %lld, want %lld", (long long)t.st_mtim.tv_sec, want);
		if (S_ISREG(s.st_mode)) {
			if (s.st_size != t.st_size || !same_content(sd, dd, de->d_name))
				differ(path, "content differs");
			if (s.st_nlink != t.st_nlink)
				differ(path, "%lu links vs %lu", (unsigned long)s.st_nlink,
				       (unsigned long)t.st_nlink);
		}
		if (S_ISLNK(s.st_mode)) {
			char a[4097], b[4097];
			ssize_t la = readlinkat(sd, de->d_name, a, sizeof(a));
			ssize_t lb = readlinkat(dd, de->d_name, b, sizeof(b));
			if (la != lb || la < 0 || memcmp(a, b, (size_t)la) != 0)
				differ(path, "symlink target differs");
		}
		if ((S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) && s.st_rdev != t.st_rdev)
			differ(path, "device number differs");
		if (!S_ISFIFO(s.st_mode))
			compare_xattrs(sd, dd, de->d_name, path);
		if (S_ISDIR(s.st_mode)) {
			int a = openat(sd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			int b = openat(dd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			char sub[8200];
			snprintf(sub, sizeof(sub), "%s/", path);
			if (a >= 0 && b >= 0)
				compare_dirs(a, b, sub, epoch, owners);
			else
				differ(path, "cannot open");
			if (a >= 0)
				close(a);
			if (b >= 0)
				close(b);
		}
	}
	closedir(d);
	int ns = fsutil_count(sd, "."), nd = fsutil_count(dd, ".");
	if (ns != nd)
		differ(prefix[0] ? prefix : "/", "%d entries vs %d", ns, nd);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_writer_states(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct layer_writer_options o = { .compression = "none", .epoch = 0 };
	struct layer_writer *w = NULL;
	struct layer_result res;
	struct layer_entry f = { .type = LAYER_ENTRY_FILE, .path = "b", .mode = 0644 };
	struct layer_entry early = { .type = LAYER_ENTRY_FILE, .path = "a", .mode = 0644 };
	struct layer_entry bad = { .type = LAYER_ENTRY_FILE, .path = "./x", .mode = 0644 };
	_cleanup_close_ int fd = open_tmp_file("states.tar");

	o.compression = "lzma";
	tap_ok(layer_writer_new(fd, &o, &w, &err) < 0 &&
		       strstr(err->message, "unknown compression"),
	       "an unknown compressor is refused");
	plate_error_free(err);
	err = NULL;
	o.compression = "none";
	tap_ok(layer_writer_new(fd, &o, &w, &err) == 0, "writer created");
	tap_ok(layer_writer_add_data(w, &f, "x", 1, &err) == 0, "add 'b'");
	tap_ok(layer_writer_add_data(w, &early, "x", 1, &err) < 0 &&
		       strstr(err->message, "out of order") != NULL,
	       "an entry out of order is refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_writer_add_data(w, &f, "x", 1, &err) < 0, "a repeated entry is refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_writer_add_data(w, &bad, "x", 1, &err) < 0 &&
		       strstr(err->message, "clean form") != NULL,
	       "an unclean path is refused");
	plate_error_free(err);
	err = NULL;
	struct layer_entry wh = { .type = LAYER_ENTRY_FILE, .path = "c/.wh.x", .mode = 0644 };
	tap_ok(layer_writer_add_data(w, &wh, "", 0, &err) < 0 &&
		       strstr(err->message, "reserved for whiteouts") != NULL,
	       "a file named like a whiteout is refused");
	plate_error_free(err);
	err = NULL;
	struct layer_entry hl = { .type = LAYER_ENTRY_HARDLINK, .path = "d", .link_target = "zz" };
	tap_ok(layer_writer_add(w, &hl, -1, &err) < 0 && strstr(err->message, "earlier file"),
	       "a hardlink to an unknown file is refused");
	plate_error_free(err);
	err = NULL;
	struct layer_entry c = { .type = LAYER_ENTRY_FILE, .path = "c", .mode = 0644 };
	tap_ok(layer_writer_add_data(w, &c, "ok", 2, &err) == 0,
	       "argument errors leave the writer usable");
	tap_ok(layer_writer_finish(w, &res, &err) == 0 && res.entries == 2, "finish");
	tap_ok(layer_writer_add_data(w, &f, "x", 1, &err) < 0 &&
		       strstr(err->message,
			      "INTERNAL ERROR: 'layer_writer_add_data' called in state CLOSED"),
	       "add after finish is an internal error naming the state");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_writer_finish(w, &res, &err) < 0, "finish twice fails");
	plate_error_free(err);
	err = NULL;
	layer_writer_free(w);
	w = NULL;

	/* A write error poisons the writer. */
	_cleanup_close_ int ro = open("/dev/null", O_RDONLY);
	tap_ok(layer_writer_new(ro, &o, &w, &err) == 0, "writer on a read-only fd");
	tap_ok(layer_writer_add_data(w, &early, "x", 1, &err) < 0 && err->errno_value == EBADF,
	       "the first write fails with the fd's errno");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_writer_add_data(w, &f, "x", 1, &err) < 0 &&
		       strstr(err->message, "unusable") != NULL,
	       "every later call fails");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_writer_finish(w, &res, &err) < 0, "finish of a broken writer fails");
	plate_error_free(err);
	err = NULL;
	layer_writer_free(w);
	tap_ok(layer_writer_finish(NULL, &res, &err) < 0 &&
		       strstr(err->message, "invalid layer writer"),
	       "a NULL handle is caught");
}

static void test_empty_layer(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct layer_writer_options o = { .epoch = 0 };
	struct layer_writer *w = NULL;
	struct layer_reader *r = NULL;
	struct layer_result res, back;
	struct layer_entry e;
	_cleanup_close_ int fd = open_tmp_file("empty.tgz");

	tap_ok(layer_writer_new(fd, &o, &w, &err) == 0 && layer_writer_finish(w, &res, &err) == 0,
	       "an empty layer can be written");
	layer_writer_free(w);
	tap_ok(res.uncompressed_size == 1024, "an empty tar is the 1024-byte end marker (%llu)",
	       res.uncompressed_size);
	/* the diffID of 1024 zero bytes, as docker's empty layer */
	tap_streq(res.diff_id,
		  "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
		  "empty layer diffID");
	lseek(fd, 0, SEEK_SET);
	struct layer_reader_options ro = { .expected_diff_id = res.diff_id,
					   .expected_digest = res.digest };
	tap_ok(layer_reader_new(fd, &ro, &r, &err) == 0 && layer_reader_next(r, &e, &err) == 0 &&
		       layer_reader_finish(r, &back, &err) == 0,
	       "an empty layer reads back with matching digests");
	tap_ok(layer_reader_next(r, &e, &err) < 0 && strstr(err->message, "state DONE") != NULL,
	       "next after finish is an internal error");
	layer_reader_free(r);
}

static void test_round_trip(const char *compression)
{
	_cleanup_close_ int src = fresh_dir("rt-src");
	_cleanup_close_ int dst = -1;
	struct layer_result res, res2;
	struct layer_extract_result xr;
	struct layer_extract_options xo = { .devices = LAYER_DEVICES_CREATE };
	char file[64];
	const long long epoch = 1700000000;

	snprintf(file, sizeof(file), "rt.%s", compression);
	make_tree(src, 1600000000);
	set_mtime(src, "dir/empty", 1800000000); /* above the epoch: clamped */
	if (!tap_ok(write_layer(src, file, compression, epoch, 2, 0, &res) == 0,
		    "%s: the sample tree is written", compression))
		return;
	tap_streq(res.compression, compression, "%s: result names the compressor", compression);

	for (int method = 0; method < 2; method++) {
		const char *how = method == 0 ? "openat2" : "fallback walk";
		xo.flags = method == 0 ? 0 : LAYER_EXTRACT_NO_OPENAT2;
		xo.expected_diff_id = res.diff_id;
		xo.expected_digest = res.digest;
		dst = fresh_dir("rt-dst");
		if (!tap_ok(extract_layer(file, dst, &xo, &xr, NULL) == 0, "%s/%s: extracted",
			    compression, how))
			continue;
		tap_streq(xr.layer.diff_id, res.diff_id, "%s/%s: diffID", compression, how);
		tap_streq(xr.layer.digest, res.digest, "%s/%s: digest", compression, how);
		tap_ok(xr.layer.entries == res.entries && xr.layer.size == res.size &&
			       xr.layer.uncompressed_size == res.uncompressed_size,
		       "%s/%s: sizes and counts match", compression, how);
		differences = 0;
		compare_dirs(src, dst, "", epoch, true);
		tap_ok(differences == 0,
		       "%s/%s: the extracted tree equals the source (%d differences)", compression,
		       how, differences);
		if (method == 0 && strcmp(compression, "gzip") == 0) {
			/* the comparison itself can fail */
			fchmodat(dst, "dir/small", 0600, 0);
			fsutil_write_at(dst, "big", "x", 1, 0644);
			differences = 0;
			compare_dirs(src, dst, "", epoch, true);
			tap_ok(differences >= 2, "the tree comparison notices changed files");
		}
		close(dst);
		dst = -1;
	}

	/* the extracted tree written again gives the same layer */
	dst = fresh_dir("rt-dst");
	extract_layer(file, dst, &xo, &xr, NULL);
	tap_ok(write_layer(dst, "rt.again", compression, epoch, 2, 0, &res2) == 0 &&
		       strcmp(res.diff_id, res2.diff_id) == 0 &&
		       strcmp(res.digest, res2.digest) == 0,
	       "%s: re-packing the extraction reproduces the layer", compression);

	/* the reader sees sorted, clean entries */
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *p = tmp_path(file);
	_cleanup_close_ int fd = open(p, O_RDONLY);
	struct layer_reader *r = NULL;
	struct layer_entry e;
	char last[LAYER_MAX_PATH + 1] = "";
	unsigned long long n = 0, bytes = 0;
	bool sorted = true, saw_hardlink = false, saw_xattr = false;
	int k;
	if (layer_reader_new(fd, NULL, &r, &err) == 0) {
		while ((k = layer_reader_next(r, &e, &err)) > 0) {
			if (n++ > 0 && layer_path_compare(last, e.path) >= 0)
				sorted = false;
			snprintf(last, sizeof(last), "%s", e.path);
			if (e.type == LAYER_ENTRY_HARDLINK)
				saw_hardlink = strcmp(e.link_target, "dir/small") == 0 &&
					       strcmp(e.path, "hard") == 0;
			if (strcmp(e.path, "dir/small") == 0 && e.n_xattrs == 1 &&
			    e.xattrs[0].size == 4 && memcmp(e.xattrs[0].value, "v\0al", 4) == 0)
				saw_xattr = true;
			if (e.type == LAYER_ENTRY_FILE) {
				char buf[70000];
				ssize_t got;
				while ((got = layer_reader_read(r, buf, sizeof(buf), &err)) > 0)
					bytes += (unsigned long long)got;
			}
		}
		tap_ok(k == 0 && layer_reader_finish(r, &res2, &err) == 0,
		       "%s: reader reads to the end", compression);
	}
	layer_reader_free(r);
	tap_ok(sorted && n == res.entries, "%s: %llu entries, in layer order", compression, n);
	tap_ok(saw_hardlink, "%s: the second link is a hardlink entry to the first", compression);
	tap_ok(saw_xattr, "%s: binary xattr value read back", compression);
	tap_ok(bytes == 3 * 1024 * 1024 + 123 + 6 + 10 + 9 + 4 + 5 + 3 + 1,
	       "%s: all file content read (%llu bytes)", compression, bytes);
}

static bool run_out(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	if (p == NULL)
		return false;
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '-'))
		out[--n] = '\0';
	return pclose(p) == 0;
}

static void test_determinism_and_tools(void)
{
	_cleanup_close_ int a = fresh_dir("det-a");
	_cleanup_close_ int b = fresh_dir("det-b");
	struct layer_result ra, rb, r1, r3;
	char cmd[8192], out[256];
	const long long epoch = 1000000;

	make_tree(a, 2000000);
	make_tree(b, 3000000); /* every mtime above the epoch: all clamp to it */
	tap_ok(write_layer(a, "det-a.tgz", "gzip", epoch, 2, 0, &ra) == 0 &&
		       write_layer(b, "det-b.tgz", "gzip", epoch, 2, 0, &rb) == 0,
	       "two trees written");
	tap_streq(ra.digest, rb.digest,
		  "gzip: different mtimes above the epoch give the same digest");
	tap_streq(ra.diff_id, rb.diff_id, "gzip: and the same diffID");
	tap_ok(write_layer(a, "det-1.tgz", "gzip", epoch, 1, 0, &r1) == 0 &&
		       write_layer(a, "det-3.tgz", "gzip", epoch, 3, 0, &r3) == 0 &&
		       strcmp(r1.digest, ra.digest) == 0 && strcmp(r3.digest, ra.digest) == 0,
	       "gzip: 1, 2 or 3 threads give the same bytes");
	tap_ok(write_layer(a, "det-e.tgz", "gzip", epoch + 1, 2, 0, &r1) == 0 &&
		       strcmp(r1.diff_id, ra.diff_id) != 0,
	       "a different epoch gives a different diffID");

	/* gzip header: RFC 1952 2.3, FLG 0 (no name), MTIME 0 */
	unsigned char h[10];
	_cleanup_free_ char *pa = tmp_path("det-a.tgz");
	_cleanup_close_ int fd = open(pa, O_RDONLY);
	tap_ok(read(fd, h, 10) == 10 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8 && h[3] == 0 &&
		       h[4] == 0 && h[5] == 0 && h[6] == 0 && h[7] == 0,
	       "gzip header has no name and a zero mtime");

	snprintf(cmd, sizeof(cmd), "gzip -t '%s' 2>&1", pa);
	tap_ok(run_out(cmd, out, sizeof(out)), "gzip -t accepts the multi-member stream");
	snprintf(cmd, sizeof(cmd), "zcat '%s' | sha256sum", pa);
	tap_ok(run_out(cmd, out, sizeof(out)) && strcmp(out, ra.diff_id + 7) == 0,
	       "zcat output hashes to the diffID");
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import gzip,hashlib,sys,zlib\n"
		 "d=open(sys.argv[1],\"rb\").read()\nn=0\n"
		 "while d:\n o=zlib.decompressobj(31); o.decompress(d); d=o.unused_data; n+=1\n"
		 "print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest(), n)' '%s'",
		 pa);
	bool py = run_out(cmd, out, sizeof(out));
	tap_ok(py && strncmp(out, ra.diff_id + 7, 64) == 0, "python's gzip reads it to the diffID");
	tap_ok(py && atoi(out + 65) >= 4, "the stream has one member per MiB (%s members)",
	       py ? out + 65 : "?");

	struct layer_result za, zb, z1;
	tap_ok(write_layer(a, "det-a.zst", "zstd", epoch, 2, 0, &za) == 0 &&
		       write_layer(b, "det-b.zst", "zstd", epoch, 2, 0, &zb) == 0 &&
		       write_layer(a, "det-1.zst", "zstd", epoch, 1, 0, &z1) == 0,
	       "zstd layers written");
	tap_streq(za.digest, zb.digest, "zstd: clamped mtimes give the same digest");
	tap_streq(z1.digest, za.digest, "zstd: 1 or 2 workers give the same bytes");
	tap_streq(za.diff_id, ra.diff_id, "zstd and gzip layers share the diffID");
	_cleanup_free_ char *pz = tmp_path("det-a.zst");
	snprintf(cmd, sizeof(cmd), "zstd -q -dc '%s' | sha256sum", pz);
	tap_ok(run_out(cmd, out, sizeof(out)) && strcmp(out, za.diff_id + 7) == 0,
	       "zstd -dc output hashes to the diffID");
	snprintf(cmd, sizeof(cmd), "tar -tf '%s' >/dev/null 2>&1 && zcat '%s' | tar -t >/dev/null",
		 pa, pa);
	tap_ok(system(cmd) == 0, "GNU tar lists the layer");
}

static void test_overlay_whiteouts(void)
{
	struct layer_result res;
	struct layer_extract_result xr;
	char value[8];

	/* trusted.* needs CAP_SYS_ADMIN; overlayfs' "userxattr" mode uses user.* instead */
	const char *opaque = can_trusted ? "trusted.overlay.opaque" : "user.overlay.opaque";
	const char *origin = can_trusted ? "trusted.overlay.origin" : "user.overlay.origin";
	unsigned user_flag = can_trusted ? 0 : LAYER_EXTRACT_USER_XATTR;

	if (!can_whiteout) {
		tap_diag("overlay whiteout tests need mknod of 0/0 devices (Linux >= 5.8)");
		return;
	}
	/* an overlayfs upper dir: a deleted file, an opaque directory, a new file */
	_cleanup_close_ int up = fresh_dir("upper");
	tap_ok(mknodat(up, "gone", S_IFCHR, makedev(0, 0)) == 0 && mkdirat(up, "opq", 0755) == 0 &&
		       fsutil_write_at(up, "opq/new", "new", 3, 0644) == 0 &&
		       mkdirat(up, "kept", 0755) == 0 &&
		       mknodat(up, "kept/old", S_IFCHR, makedev(0, 0)) == 0,
	       "upper dir made");
	_cleanup_close_ int ofd = openat(up, "opq", O_RDONLY | O_DIRECTORY);
	tap_ok(fsetxattr(ofd, opaque, "y", 1, 0) == 0 && fsetxattr(ofd, origin, "xx", 2, 0) == 0,
	       "%s set", opaque);
	tap_ok(write_layer(up, "upper.tgz", "gzip", 0, 2, LAYER_TREE_OVERLAY, &res) == 0,
	       "the upper dir is written with LAYER_TREE_OVERLAY");

	/* what the tar holds */
	_cleanup_free_ char *pu = tmp_path("upper.tgz");
	char cmd[4200], out[512];
	snprintf(cmd, sizeof(cmd), "tar -tzf '%s' | tr '\\n' ' '", pu);
	tap_ok(run_out(cmd, out, sizeof(out)), "tar lists the layer");
	tap_streq(out, ".wh.gone kept/ kept/.wh.old opq/ opq/.wh..wh..opq opq/new",
		  "OCI whiteouts in layer order");
	snprintf(cmd, sizeof(cmd), "zcat '%s' | grep -ac overlay", pu);
	tap_ok(run_out(cmd, out, sizeof(out)) == false, "no overlay xattr is recorded");

	/* OVERLAY mode: back to overlayfs whiteouts */
	_cleanup_close_ int ov = fresh_dir("as-overlay");
	struct stat st;
	struct layer_extract_options xo = { .flags = user_flag };
	tap_ok(extract_layer("upper.tgz", ov, &xo, &xr, NULL) == 0, "extracted in OVERLAY mode");
	tap_ok(fstatat(ov, "gone", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
		       st.st_rdev == makedev(0, 0),
	       "'gone' is a 0/0 character device again");
	tap_ok(fstatat(ov, "kept/old", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode),
	       "'kept/old' too");
	_cleanup_close_ int o2 = openat(ov, "opq", O_RDONLY | O_DIRECTORY);
	tap_ok(fgetxattr(o2, opaque, value, sizeof(value)) == 1 && value[0] == 'y',
	       "'opq' has %s=y", opaque);
	tap_ok(fgetxattr(o2, origin, value, sizeof(value)) < 0, "no other overlay xattr");
	_cleanup_close_ int ov2 = fresh_dir("as-overlay-user");
	xo.flags = LAYER_EXTRACT_USER_XATTR;
	tap_ok(extract_layer("upper.tgz", ov2, &xo, &xr, NULL) == 0, "extracted with user xattrs");
	_cleanup_close_ int o3 = openat(ov2, "opq", O_RDONLY | O_DIRECTORY);
	tap_ok(fgetxattr(o3, "user.overlay.opaque", value, sizeof(value)) == 1,
	       "'opq' has user.overlay.opaque=y");
	struct layer_result again;
	tap_ok(write_layer(ov, "upper2.tgz", "gzip", 0, 2, LAYER_TREE_OVERLAY, &again) == 0 &&
		       strcmp(again.diff_id, res.diff_id) == 0,
	       "the OVERLAY extraction converts back to the same layer");

	/* APPLY mode onto a lower rootfs */
	_cleanup_close_ int root = fresh_dir("as-apply");
	tap_ok(fsutil_write_at(root, "gone", "lower", 5, 0644) == 0 &&
		       mkdirat(root, "opq", 0755) == 0 &&
		       fsutil_write_at(root, "opq/old", "lower", 5, 0644) == 0 &&
		       mkdirat(root, "opq/sub", 0755) == 0 &&
		       fsutil_write_at(root, "opq/sub/x", "x", 1, 0644) == 0 &&
		       mkdirat(root, "kept", 0755) == 0 &&
		       fsutil_write_at(root, "kept/old", "lower", 5, 0644) == 0 &&
		       fsutil_write_at(root, "kept/other", "lower", 5, 0644) == 0,
	       "lower rootfs made");
	xo.flags = user_flag;
	xo.whiteouts = LAYER_WHITEOUT_APPLY;
	tap_ok(extract_layer("upper.tgz", root, &xo, &xr, NULL) == 0, "applied onto the rootfs");
	tap_ok(faccessat(root, "gone", F_OK, AT_SYMLINK_NOFOLLOW) < 0, "'gone' is deleted");
	tap_ok(faccessat(root, "kept/old", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		       faccessat(root, "kept/other", F_OK, AT_SYMLINK_NOFOLLOW) == 0,
	       "'kept/old' is deleted, 'kept/other' stays");
	tap_ok(fsutil_count(root, "opq") == 1 && faccessat(root, "opq/new", F_OK, 0) == 0,
	       "the opaque dir holds only what the layer brought");
}

static void test_digest_mismatch(void)
{
	_cleanup_close_ int src = fresh_dir("mm-src");
	_cleanup_close_ int dst = fresh_dir("mm-dst");
	struct layer_result res;
	struct layer_extract_result xr;
	struct layer_extract_options xo = { 0 };
	char *msg = NULL;

	fsutil_write_at(src, "f", "content", 7, 0644);
	write_layer(src, "mm.tgz", "gzip", 0, 2, 0, &res);
	xo.expected_diff_id =
		"sha256:0000000000000000000000000000000000000000000000000000000000000000";
	tap_ok(extract_layer("mm.tgz", dst, &xo, &xr, &msg) < 0 && strstr(msg, "diffID mismatch"),
	       "a wrong diffID fails the extraction (%s)", msg ? msg : "");
	free(msg);
	msg = NULL;
	xo.expected_diff_id = res.diff_id;
	xo.expected_digest = res.diff_id; /* the digest of the compressed blob differs */
	tap_ok(extract_layer("mm.tgz", dst, &xo, &xr, &msg) < 0 && strstr(msg, "digest mismatch"),
	       "a wrong digest fails the extraction");
	free(msg);
	msg = NULL;
	xo.expected_digest = "sha256:XYZ";
	tap_ok(extract_layer("mm.tgz", dst, &xo, &xr, &msg) < 0 &&
		       strstr(msg, "not a sha256 digest"),
	       "a malformed expected digest is refused");
	free(msg);
}

static void test_add_tree_prefix(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_close_ int src = fresh_dir("pfx-src");
	struct layer_writer_options o = { .compression = "none" };
	struct layer_writer *w = NULL;
	struct layer_result res;
	_cleanup_close_ int fd = open_tmp_file("pfx.tar");
	struct layer_entry app = { .type = LAYER_ENTRY_DIR, .path = "app", .mode = 0755 };
	struct layer_entry z = { .type = LAYER_ENTRY_FILE, .path = "zz", .mode = 0644 };

	fsutil_write_at(src, "main", "bin", 3, 0755);
	layer_writer_new(fd, &o, &w, &err);
	tap_ok(layer_writer_add(w, &app, -1, &err) == 0 &&
		       layer_writer_add_tree(w, src, "app/bin",
					     LAYER_TREE_WITH_ROOT | LAYER_TREE_ROOT_OWNER,
					     &err) == 0 &&
		       layer_writer_add_data(w, &z, "z", 1, &err) == 0 &&
		       layer_writer_finish(w, &res, &err) == 0 && res.entries == 4,
	       "a tree under a prefix between single entries");
	layer_writer_free(w);
	_cleanup_free_ char *p = tmp_path("pfx.tar");
	char cmd[4200], out[256];
	snprintf(cmd, sizeof(cmd), "tar -tvf '%s' | awk '{print $2, $6}' | tr '\\n' ' '", p);
	run_out(cmd, out, sizeof(out));
	tap_streq(out, "0/0 app/ 0/0 app/bin/ 0/0 app/bin/main 0/0 zz", "paths and owners");
}

/* ---- the gzip decoder ------------------------------------------------------------------ */

/* Decodes in[0..len) feeding at most `step` bytes per call into an output buffer of
 * out_cap bytes, as the reader's producer does; *out (malloc'd) gets the bytes decoded,
 * the message of a failure goes to msg.  Returns 0 or -1. */
static int gz_decode_all(const unsigned char *in, size_t len, size_t step, size_t out_cap,
			 unsigned char **out, size_t *out_len, char *msg, size_t msg_cap)
{
	struct layer_decoder *d = NULL;
	struct plate_error *err = NULL;
	_cleanup_free_ unsigned char *block = malloc(out_cap);
	size_t pos = 0, total = 0;
	int rc = -1;

	*out = NULL;
	*out_len = 0;
	msg[0] = '\0';
	if (block == NULL || layer_gzip_decoder_new(&d, &err) < 0)
		goto out;
	for (;;) {
		const unsigned char *p = in + pos;
		size_t avail = len - pos < step ? len - pos : step, left = avail, produced = 0;
		if (d->ops->decode(d, &p, &left, block, out_cap, &produced, &err) < 0)
			goto out;
		pos += avail - left;
		if (produced > 0) {
			unsigned char *grown = realloc(*out, total + produced);
			if (grown == NULL)
				goto out;
			memcpy(grown + total, block, produced);
			*out = grown;
			total += produced;
			continue;
		}
		if (avail - left > 0)
			continue;
		if (pos < len) {
			snprintf(msg, msg_cap, "no progress at %zu", pos);
			goto out;
		}
		if (d->ops->finish(d, &err) < 0)
			goto out;
		break;
	}
	*out_len = total;
	rc = 0;
out:
	if (err != NULL) {
		_cleanup_free_ char *text = plate_error_format(err);
		snprintf(msg, msg_cap, "%s", text != NULL ? text : "out of memory");
	}
	plate_error_free(err);
	if (d != NULL)
		d->ops->free(d);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* Appends one gzip member of data to buf at *len. */
static void gz_member(unsigned char *buf, size_t *len, size_t cap, const unsigned char *data,
		      size_t n)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);

	*len += libdeflate_gzip_compress(c, data, n, buf + *len, cap - *len);
	libdeflate_free_compressor(c);
}

static void test_gzip_decoder(void)
{
	enum {
		PART = 70000,
		CAP = 4 * PART
	};
	_cleanup_free_ unsigned char *plain = malloc(2 * PART);
	_cleanup_free_ unsigned char *gz = malloc(CAP);
	_cleanup_free_ unsigned char *bad = malloc(CAP + 16);
	unsigned char *out;
	size_t len = 0, out_len, m1_end, m2_end;
	char msg[512];
	uint32_t x = 1;

	/* Compressible but not trivial: a text-like stream with a pseudo-random walk. */
	for (size_t i = 0; i < 2 * PART; i++) {
		x = x * 1103515245u + 12345u;
		plain[i] = (unsigned char)("abcdefgh \n"[(x >> 16) % 10]);
	}
	gz_member(gz, &len, CAP, plain, PART);
	m1_end = len;
	gz_member(gz, &len, CAP, plain, 0); /* an empty member is still a member */
	gz_member(gz, &len, CAP, plain + PART, PART);
	m2_end = len;

	static const size_t steps[] = { 1, 7, 4096, SIZE_MAX };
	static const size_t caps[] = { 1, 1000, 256 * 1024 };
	bool all = true;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (size_t j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
			if (steps[i] == 1 && caps[j] == 1)
				continue; /* 140 000 calls for nothing new */
			bool ok = gz_decode_all(gz, len, steps[i], caps[j], &out, &out_len, msg,
						sizeof(msg)) == 0 &&
				  out_len == 2 * PART && memcmp(out, plain, 2 * PART) == 0;
			if (!ok)
				tap_diag("step %zu, out %zu: %s", steps[i], caps[j], msg);
			all = all && ok;
			free(out);
		}
	tap_ok(all, "gzip: three members (one empty) decode whole in any input and output split");

	/* RFC 1952 2.3.1: the trailer is CRC32 then ISIZE, little-endian. */
	memcpy(bad, gz, len);
	bad[m2_end - 8] ^= 0x01;
	tap_ok(gz_decode_all(bad, len, 4096, 256 * 1024, &out, &out_len, msg, sizeof(msg)) < 0 &&
		       strstr(msg, "gzip: corrupt data in member 3") && strstr(msg, "crc") &&
		       gz_decode_all(bad, len, 1, 256 * 1024, &out, &out_len, msg, sizeof(msg)) <
			       0 &&
		       strstr(msg, "gzip: corrupt data in member 3") && strstr(msg, "crc"),
	       "gzip: a wrong CRC in the last member's trailer is refused (any input split)");
	memcpy(bad, gz, len);
	bad[m1_end - 4] ^= 0x01;
	tap_ok(gz_decode_all(bad, len, 1, 256 * 1024, &out, &out_len, msg, sizeof(msg)) < 0 &&
		       strstr(msg, "gzip: corrupt data in member 1"),
	       "gzip: a wrong ISIZE in the first member is refused (input byte by byte)");
	memcpy(bad, gz, len);
	bad[m1_end / 2] ^= 0x55;
	tap_ok(gz_decode_all(bad, len, 4096, 256 * 1024, &out, &out_len, msg, sizeof(msg)) < 0 &&
		       strstr(msg, "gzip: corrupt data in member 1"),
	       "gzip: a damaged deflate stream is refused");

	bool trunc = true;
	static const size_t cuts[] = { 5, 100, 1, 4 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		bool ok = gz_decode_all(gz, len - cuts[i], 4096, 256 * 1024, &out, &out_len, msg,
					sizeof(msg)) < 0 &&
			  strstr(msg, "gzip: truncated stream (member 3 incomplete)") != NULL;
		if (!ok)
			tap_diag("cut %zu: %s", cuts[i], msg);
		trunc = trunc && ok;
	}
	tap_ok(trunc, "gzip: a member cut in its data or its trailer is a truncated stream");

	memcpy(bad, gz, len);
	memcpy(bad + len, "garbage!", 8);
	tap_ok(gz_decode_all(bad, len + 8, 4096, 256 * 1024, &out, &out_len, msg, sizeof(msg)) <
			       0 &&
		       strstr(msg, "gzip: data after member 3 is not a gzip member"),
	       "gzip: trailing garbage is refused");
	memcpy(bad + len,
	       "\x1f"
	       "x",
	       2);
	tap_ok(gz_decode_all(bad, len + 2, 1, 256 * 1024, &out, &out_len, msg, sizeof(msg)) < 0 &&
		       strstr(msg, "gzip: data after member 3 is not a gzip member"),
	       "gzip: trailing garbage is refused at its first wrong byte, byte by byte");
	bad[len] = 0x1f;
	tap_ok(gz_decode_all(bad, len + 1, 4096, 256 * 1024, &out, &out_len, msg, sizeof(msg)) <
			       0 &&
		       strstr(msg, "gzip: truncated stream (member 4 incomplete)"),
	       "gzip: one byte of a next member is a truncated member");
	tap_ok(gz_decode_all(gz, 0, 4096, 256 * 1024, &out, &out_len, msg, sizeof(msg)) < 0 &&
		       strstr(msg, "gzip: empty stream"),
	       "gzip: no member at all is refused");
}

/* Limits on incoming layers (layer.h): each refusal, and the same layers without limits. */
static void test_limits(void)
{
	_cleanup_close_ int src = fresh_dir("lim-src");
	_cleanup_close_ int bomb = fresh_dir("lim-bomb");
	struct layer_limits l = LAYER_DEFAULT_LIMITS;
	struct layer_extract_options xo = { .limits = &l };
	struct layer_extract_result xr;
	struct layer_result res;
	char name[16], *msg = NULL;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		fsutil_write_at(src, name, "0123456789", i == 0 ? 10 : 1, 0644);
	}
	must(write_layer(src, "lim.tar", "none", 0, 1, 0, &res) == 0, "write lim.tar");

#define REFUSED(file, want, why)                                                                  \
	do {                                                                                      \
		_cleanup_close_ int d = fresh_dir("lim-dst");                                     \
		int r = extract_layer(file, d, &xo, &xr, &msg);                                   \
		tap_ok(r < 0 && strstr(msg, want) != NULL, why " (%s)", msg ? msg : "extracted"); \
		free(msg);                                                                        \
		msg = NULL;                                                                       \
	} while (0)
#define ACCEPTED(file, why)                                               \
	do {                                                              \
		_cleanup_close_ int d = fresh_dir("lim-dst");             \
		tap_ok(extract_layer(file, d, &xo, &xr, NULL) == 0, why); \
	} while (0)

	ACCEPTED("lim.tar", "a small layer is within the default limits");
	l.max_entries = 3;
	REFUSED("lim.tar", "layer has more than 3 entries", "the entry count");
	l.max_entries = 5;
	ACCEPTED("lim.tar", "as many entries as the limit");
	/* (the sum of file sizes, holes included, is the sparse case of hostile_inputs.sh: here
	 * the stream is always the larger) */
	l.max_size = 2000;
	REFUSED("lim.tar", "layer expands to more than 2000 bytes", "the tar stream's size");

	/* 72 MiB of zeros: gzip makes it ~72 KiB, a ratio of about 1000 */
	{
		_cleanup_close_ int fd =
			openat(bomb, "zeros", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		must(fd >= 0 && ftruncate(fd, 72 << 20) == 0, "make a 72 MiB sparse file");
	}
	must(write_layer(bomb, "bomb.tgz", "gzip", 0, 2, 0, &res) == 0, "write bomb.tgz");
	l = (struct layer_limits)LAYER_DEFAULT_LIMITS;
	REFUSED("bomb.tgz", "times its compressed size", "a gzip bomb, by its ratio");
	l.max_ratio = 0;
	ACCEPTED("bomb.tgz", "the same layer with no ratio limit");

	/* 2 MiB of zeros after the end-of-archive marker */
	{
		_cleanup_free_ char *p = tmp_path("lim.tar");
		FILE *f = fopen(p, "a");
		static const char zeros[1 << 16];
		for (int i = 0; i < 32 && f != NULL; i++)
			fwrite(zeros, 1, sizeof(zeros), f);
		must(f != NULL && fclose(f) == 0, "pad lim.tar");
	}
	l = (struct layer_limits)LAYER_DEFAULT_LIMITS;
	REFUSED("lim.tar", "follow the end of the archive", "padding past LAYER_MAX_TRAILING");
	xo.limits = NULL;
	ACCEPTED("lim.tar", "the same padding when no limits are given (a stored blob)");
#undef REFUSED
#undef ACCEPTED
}

int main(void)
{
	tmp = fsutil_mkdtemp("test_layer");
	if (tmp == NULL)
		tap_skip_all("cannot make a temp dir");
	probe_privileges();
	test_path_clean();
	test_path_compare();
	test_writer_states();
	test_empty_layer();
	test_round_trip("gzip");
	test_round_trip("zstd");
	test_round_trip("none");
	test_determinism_and_tools();
	test_overlay_whiteouts();
	test_digest_mismatch();
	test_add_tree_prefix();
	test_gzip_decoder();
	test_limits();
	fsutil_remove(tmp);
	free(tmp);
	return tap_done();
}
