/*
 * The snapshot index: built from hand-made layer trees (whiteout, opaque directory,
 * symlinks, a directory replaced by a file, an ELF executable, a script), it round-trips,
 * counts the tree as the store's info.json does, is deterministic, and gives the image
 * view exactly what walking the trees gives.  Damaged input (every flipped byte, every
 * truncation, re-checksummed mutations of the body, another version, another diffID) is
 * refused without a crash, and a layer whose index is bad or missing is walked instead.
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
#include "layer/layer.h"
#include "digest/digest.h"
#include "store/store_internal.h"
#include "fsutil.h"
#include "tap.h"

#define HEADER_LEN 48
#define DIFF_ID "sha256:0000000000000000000000000000000000000000000000000000000000000001"

static void copy_exe(const char *dir, const char *rel)
{
	char path[4096];
	size_t len;
	_cleanup_free_ char *data = tap_read_file("/proc/self/exe", &len);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (f && data) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
	chmod(path, 0755);
}

static int collect(void *data, const char *path, const struct stat *st, size_t layer,
		   struct plate_error **err)
{
	buf_addf(data, "%s %o %u:%u %lld %zu\n", path, (unsigned)st->st_mode, (unsigned)st->st_uid,
		 (unsigned)st->st_gid, S_ISREG(st->st_mode) ? (long long)st->st_size : 0LL, layer);
	return 0;
}

/* Everything a caller can see of a view: the walk, some lookups, the facts of two files. */
static char *describe(struct check_fs *fs)
{
	static const char *const paths[] = {
		"/",  "/etc/passwd",  "/d/a",	       "/o/x",		 "/o",
		"/r", "/lib/libz.so", "/usr/bin/tool", "/usr/bin/script"
	};
	struct buf b = BUF_INIT(BUF_UNLIMITED);
	struct plate_error *err = NULL;
	const struct elf_facts *f;

	check_fs_walk(fs, "/", collect, &b, &err);
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		struct check_fs_entry e;
		int r = check_fs_lookup(fs, paths[i], true, &e, &err);
		buf_addf(&b, "%s: %d %s %o %zu %zu\n", paths[i], r, r == 0 ? e.path : "-",
			 r == 0 ? (unsigned)e.st.st_mode : 0u, r == 0 ? e.layer : 0,
			 r == 0 ? e.min : 0);
		if (r == 0)
			check_fs_entry_release(&e);
	}
	for (const char *p = "/usr/bin/tool"; p;
	     p = strcmp(p, "/usr/bin/tool") ? NULL : "/usr/bin/script") {
		int r = check_fs_facts(fs, p, &f, &err);
		buf_addf(&b, "facts %s: %d %s kind=%d interp=%s needed=%zu go=%d\n", p, r,
			 f ? "elf" : "none", f ? (int)f->kind : -1,
			 f && f->interp ? f->interp : "-", f ? f->n_needed : 0, f ? f->go : 0);
	}
	if (err)
		buf_addf(&b, "error: %s\n", err->message);
	plate_error_free(err);
	return b.data;
}

static void rechecksum(unsigned char *p, size_t len)
{
	char d[DIGEST_STRING_LEN + 1];

	if (digest_buffer(p + HEADER_LEN, len - HEADER_LEN, d, NULL) < 0)
		return;
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		sscanf(d + 7 + 2 * i, "%2x", &v);
		p[16 + i] = (unsigned char)v;
	}
}

static bool write_all(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");
	bool ok = f && fwrite(data, 1, len, f) == len;

	if (f)
		fclose(f);
	return ok;
}

static int build(const char *dir, const char *diff_id, struct buf *out, uint64_t *entries,
		 uint64_t *bytes)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct plate_error *err = NULL;
	int r = layer_index_build(fd, diff_id, out, entries, bytes, &err);

	if (r < 0)
		tap_diag("build %s: %s", dir, err->message);
	plate_error_free(err);
	return r;
}

int main(void)
{
	_cleanup_free_ char *tmp = fsutil_mkdtemp("check-index");
	char l0[2048], l1[2048], i0[2048], i1[2048], opq[4096], wh[4096];
	struct buf ix0 = BUF_INIT(LAYER_INDEX_MAX), ix1 = BUF_INIT(LAYER_INDEX_MAX);
	struct buf again = BUF_INIT(LAYER_INDEX_MAX);
	struct layer_index *ix = NULL;
	struct check_fs *plain = NULL, *indexed = NULL;
	struct plate_error *err = NULL;
	uint64_t entries, bytes, want_entries, want_bytes;

	if (tmp == NULL)
		tap_skip_all("no temp dir");
	if (geteuid() != 0)
		tap_skip_all("whiteouts (0/0 character devices) need root");
	snprintf(l0, sizeof(l0), "%s/l0", tmp);
	snprintf(l1, sizeof(l1), "%s/l1", tmp);
	snprintf(i0, sizeof(i0), "%s/l0.index", tmp);
	snprintf(i1, sizeof(i1), "%s/l1.index", tmp);
	mkdir(l0, 0755);
	mkdir(l1, 0755);
	fsutil_mkdir_in(l0, "etc");
	fsutil_write_in(l0, "etc/passwd", "root\n", 0644);
	fsutil_mkdir_in(l0, "d");
	fsutil_write_in(l0, "d/a", "a\n", 0644);
	fsutil_write_in(l0, "d/b", "b\n", 0600);
	fsutil_mkdir_in(l0, "o");
	fsutil_write_in(l0, "o/x", "x\n", 0644);
	fsutil_mkdir_in(l0, "r");
	fsutil_write_in(l0, "r/z", "z\n", 0644);
	fsutil_mkdir_in(l0, "usr");
	fsutil_mkdir_in(l0, "usr/lib");
	fsutil_write_in(l0, "usr/lib/libz.so", "z\n", 0755);
	fsutil_symlink_in(l0, "lib", "usr/lib");
	fsutil_mkdir_in(l1, "etc");
	fsutil_write_in(l1, "etc/passwd", "app\n", 0644);
	fsutil_mkdir_in(l1, "d");
	snprintf(wh, sizeof(wh), "%s/d/a", l1);
	if (mknod(wh, S_IFCHR | 0, makedev(0, 0)) < 0)
		tap_diag("mknod: %s", strerror(errno));
	fsutil_mkdir_in(l1, "o");
	fsutil_write_in(l1, "o/y", "y\n", 0644);
	snprintf(opq, sizeof(opq), "%s/o", l1);
	if (setxattr(opq, "trusted.overlay.opaque", "y", 1, 0) < 0 &&
	    setxattr(opq, "user.overlay.opaque", "y", 1, 0) < 0)
		tap_diag("opaque xattr: %s", strerror(errno));
	fsutil_write_in(l1, "r", "now a file\n", 0644);
	fsutil_mkdir_in(l1, "usr");
	fsutil_mkdir_in(l1, "usr/bin");
	copy_exe(l1, "usr/bin/tool");
	fsutil_write_in(l1, "usr/bin/script", "#!/bin/sh\necho this is not an ELF file at all\n",
			0755);

	/* ---- building and round trip ---- */
	tap_ok(build(l0, NULL, &ix0, NULL, NULL) == 0 &&
		       build(l1, DIFF_ID, &ix1, &entries, &bytes) == 0,
	       "indexes build");
	{
		_cleanup_close_ int fd = open(l1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		store_fs_tree_stats(fd, &want_entries, &want_bytes, &err);
	}
	tap_ok(entries == want_entries && bytes == want_bytes,
	       "the build counts the tree as info.json does (%llu entries, %llu bytes)",
	       (unsigned long long)entries, (unsigned long long)bytes);
	tap_ok(build(l1, DIFF_ID, &again, NULL, NULL) == 0 && again.len == ix1.len &&
		       memcmp(again.data, ix1.data, ix1.len) == 0,
	       "the same tree gives the same bytes");
	tap_ok(layer_index_parse(ix1.data, ix1.len, DIFF_ID, &ix, &err) == 0, "the index parses");
	if (ix) {
		uint64_t e2, b2;
		layer_index_stats(ix, &e2, &b2);
		tap_ok(e2 == entries && b2 == bytes, "  and says what the build counted");
	} else {
		tap_ok(false, "  and says what the build counted (%s)", err ? err->message : "");
	}
	layer_index_free(ix);
	ix = NULL;
	tap_ok(layer_index_parse(ix1.data, ix1.len, NULL, &ix, &err) == 0,
	       "no diffID to check: parses");
	layer_index_free(ix);
	ix = NULL;

	/* ---- the view: indexed or walked, the same ---- */
	write_all(i0, ix0.data, ix0.len);
	write_all(i1, ix1.data, ix1.len);
	const char *dirs[] = { l0, l1 };
	struct check_fs_layer layers[] = { { l0, i0, NULL }, { l1, i1, DIFF_ID } };
	tap_ok(check_fs_open(dirs, 2, &plain, &err) == 0 && check_fs_indexed(plain) == 0,
	       "a view without indexes walks both layers");
	tap_ok(check_fs_open_layers(layers, 2, &indexed, &err) == 0 &&
		       check_fs_indexed(indexed) == 2,
	       "a view with indexes reads both");
	_cleanup_free_ char *want = plain ? describe(plain) : NULL;
	_cleanup_free_ char *got = indexed ? describe(indexed) : NULL;
	tap_streq(got, want, "the indexed view is the walked one");
	tap_ok(want && strstr(want, "facts /usr/bin/tool: 0 elf") != NULL &&
		       strstr(want, "facts /usr/bin/script: 0 none") != NULL,
	       "an ELF executable has facts, a script has none");
	tap_ok(want && strstr(want, "/r: 0 /r 100644 1 1\n") != NULL &&
		       strstr(want, "/r/z") == NULL,
	       "a file replacing a directory hides its content");
	check_fs_free(indexed);
	indexed = NULL;

	/* a bad, missing or foreign index: the layer is walked, the view is the same */
	unsigned char *bad = malloc(ix1.len);
	memcpy(bad, ix1.data, ix1.len);
	bad[ix1.len / 2] ^= 0x20;
	write_all(i1, bad, ix1.len);
	layers[0].index = "/nonexistent/index";
	tap_ok(check_fs_open_layers(layers, 2, &indexed, &err) == 0 &&
		       check_fs_indexed(indexed) == 0,
	       "damaged and missing indexes are not used");
	free(got);
	got = indexed ? describe(indexed) : NULL;
	tap_streq(got, want, "  and the view is the same");
	check_fs_free(indexed);
	indexed = NULL;
	write_all(i1, ix1.data, ix1.len);
	layers[1].diff_id =
		"sha256:0000000000000000000000000000000000000000000000000000000000000002";
	tap_ok(check_fs_open_layers(layers, 2, &indexed, &err) == 0 &&
		       check_fs_indexed(indexed) == 0,
	       "an index naming another layer is not used");
	check_fs_free(indexed);
	indexed = NULL;

	/* an index out of step with its tree: what is opened is checked, never trusted */
	layers[0].index = i0;
	layers[1].diff_id = DIFF_ID;
	{
		char fifo[4096];
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		snprintf(fifo, sizeof(fifo), "%s/etc/passwd", l1);
		unlink(fifo);
		mkfifo(fifo, 0644);
		tap_ok(check_fs_open_layers(layers, 2, &indexed, &err) == 0 &&
			       check_fs_indexed(indexed) == 2 &&
			       check_fs_read(indexed, "/etc/passwd", 4096, &text, &len, &err) < 0 &&
			       err && strstr(err->message, "not a regular file") != NULL,
		       "a FIFO where the index says file: an error, not a hang");
		plate_error_free(err);
		err = NULL;
		check_fs_free(indexed);
		indexed = NULL;
		unlink(fifo);
		fsutil_write_in(l1, "etc/passwd", "app\n", 0644);
	}
	check_fs_free(plain);

	/* ---- damaged input ---- */
	size_t accepted = 0, unexplained = 0;
	for (size_t i = 0; i < ix1.len; i++) {
		memcpy(bad, ix1.data, ix1.len);
		bad[i] ^= 0x01;
		if (layer_index_parse(bad, ix1.len, NULL, &ix, &err) == 0) {
			accepted++;
			layer_index_free(ix);
		}
		plate_error_free(err);
		err = NULL;
	}
	tap_ok(accepted == 0, "every flipped bit is caught (%zu of %zu accepted)", accepted,
	       ix1.len);
	accepted = 0;
	for (size_t n = 0; n < ix1.len; n++) {
		if (layer_index_parse(ix1.data, n, NULL, &ix, &err) == 0) {
			accepted++;
			layer_index_free(ix);
		}
		plate_error_free(err);
		err = NULL;
	}
	tap_ok(accepted == 0, "every truncation is refused");
	/* mutations with a valid checksum reach the body parser: refused or sound, no crash */
	for (size_t i = HEADER_LEN; i < ix1.len; i++) {
		static const unsigned char vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
		for (size_t v = 0; v < sizeof(vals); v++) {
			memcpy(bad, ix1.data, ix1.len);
			bad[i] = vals[v];
			rechecksum(bad, ix1.len);
			if (layer_index_parse(bad, ix1.len, NULL, &ix, &err) == 0) {
				uint64_t e2, b2;
				layer_index_stats(ix, &e2, &b2);
				layer_index_free(ix);
			} else if (err == NULL || strncmp(err->message, "index: ", 7) != 0) {
				unexplained++;
			}
			plate_error_free(err);
			err = NULL;
		}
	}
	tap_ok(unexplained == 0,
	       "re-checksummed mutations of the body: each refused with an error");
	memcpy(bad, ix1.data, ix1.len);
	bad[8] = 2;
	tap_ok(layer_index_parse(bad, ix1.len, NULL, &ix, &err) < 0 && err &&
		       strstr(err->message, "version 2") != NULL,
	       "another version is refused: %s", err ? err->message : "");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_index_parse(ix1.data, ix1.len,
				 "sha256:"
				 "0000000000000000000000000000000000000000000000000000000000000002",
				 &ix, &err) < 0 &&
		       err && strstr(err->message, "names") != NULL,
	       "an index of another layer is refused: %s", err ? err->message : "");
	plate_error_free(err);
	err = NULL;
	tap_ok(layer_index_parse("PLATEIDX", 8, NULL, &ix, &err) < 0, "a bare magic is refused");
	plate_error_free(err);
	err = NULL;

	free(bad);
	buf_release(&ix0);
	buf_release(&ix1);
	buf_release(&again);
	fsutil_remove_at(AT_FDCWD, tmp);
	return tap_done();
}
