/*
 * Fuzz target: derive a list of layer entries from the input, write them with the layer
 * writer (compressor and epoch from the input too), read the layer back with the layer
 * reader and abort on any difference, and check that writing twice gives the same bytes.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layer/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 48

struct gen {
	struct layer_entry e;
	char path[128];
	char stored[160]; /* name as stored in the tar, for sorting */
	char target[128];
	const uint8_t *content;
	size_t content_len;
	struct layer_xattr xattrs[3];
	char xnames[3][16];
	uint8_t xvalues[3][8];
	int hardlink_pick;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned take(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_layer_roundtrip: %s ('%s')\n", what, path);
	abort();
}

static void make_name(struct input *in, char *out, size_t cap)
{
	size_t n = take(in) % 10 + 1;

	for (size_t i = 0; i < n && i + 1 < cap; i++) {
		unsigned c = take(in);
		out[i] = c == 0 || c == '/' ? 'a' + (char)(c % 26) : (char)c;
		out[i + 1] = '\0';
	}
	out[n < cap ? n : cap - 1] = '\0';
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || strncmp(out, ".wh.", 4) == 0)
		out[0] = 'w';
}

static int cmp_stored(const void *a, const void *b)
{
	return layer_path_compare(((const struct gen *)a)->stored, ((const struct gen *)b)->stored);
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct layer_xattr *)a)->name, ((const struct layer_xattr *)b)->name);
}

static size_t generate(struct input *in, struct gen *g, long long epoch)
{
	size_t n = 0, dirs[MAX_ENTRIES], n_dirs = 0;

	while (in->left > 0 && n < MAX_ENTRIES) {
		struct gen *x = &g[n];
		char name[16];
		memset(x, 0, sizeof(*x));
		x->e.type = (enum layer_entry_type)(take(in) % 9);
		make_name(in, name, sizeof(name));
		unsigned parent = take(in);
		if (n_dirs == 0 || parent % 3 == 0 ||
		    snprintf(x->path, sizeof(x->path), "%s/%s", g[dirs[parent % n_dirs]].path,
			     name) >= (int)sizeof(x->path))
			snprintf(x->path, sizeof(x->path), "%s", name);
		x->e.path = x->path;
		x->e.mode = (take(in) << 4 | take(in)) & 07777;
		x->e.uid = take(in) * 1000u + take(in);
		x->e.gid = (uid_t)take(in) << 24 | take(in);
		x->e.mtime = (long long)(int8_t)take(in) * 100000000LL + take(in);
		(void)epoch;
		switch (x->e.type) {
		case LAYER_ENTRY_FILE:
			x->content_len = take(in) % 64;
			if (x->content_len > in->left)
				x->content_len = in->left;
			x->content = in->p;
			in->p += x->content_len;
			in->left -= x->content_len;
			x->e.size = x->content_len;
			break;
		case LAYER_ENTRY_DIR:
			if (strlen(x->path) < 100)
				dirs[n_dirs++] = n;
			break;
		case LAYER_ENTRY_SYMLINK:
			make_name(in, x->target, 16);
			if (take(in) % 2)
				memcpy(x->target, "/abs/", 6), make_name(in, x->target + 5, 16);
			x->e.link_target = x->target;
			break;
		case LAYER_ENTRY_HARDLINK:
			x->hardlink_pick = (int)take(in);
			break;
		case LAYER_ENTRY_CHAR:
		case LAYER_ENTRY_BLOCK:
			x->e.dev_major = take(in) << 8 | take(in);
			x->e.dev_minor = take(in) << 12 | take(in);
			break;
		case LAYER_ENTRY_FIFO:
			break;
		case LAYER_ENTRY_WHITEOUT:
		case LAYER_ENTRY_OPAQUE:
			x->e.mode = 0;
			x->e.uid = x->e.gid = 0;
			x->e.mtime = 0;
			break;
		default:
			abort();
		}
		if (x->e.type != LAYER_ENTRY_WHITEOUT && x->e.type != LAYER_ENTRY_OPAQUE &&
		    x->e.type != LAYER_ENTRY_HARDLINK) {
			size_t nx = take(in) % 4;
			for (size_t i = 0; i < nx && i < 3; i++) {
				snprintf(x->xnames[i], sizeof(x->xnames[i]), "user.%c%zu",
					 'a' + take(in) % 3, i);
				x->xattrs[i].name = x->xnames[i];
				x->xattrs[i].size = take(in) % 8;
				for (size_t k = 0; k < x->xattrs[i].size; k++)
					x->xvalues[i][k] = (uint8_t)take(in);
				x->xattrs[i].value = x->xvalues[i];
			}
			x->e.xattrs = x->xattrs;
			x->e.n_xattrs = nx < 3 ? nx : 3;
		}
		/* the name as stored decides the order */
		if (x->e.type == LAYER_ENTRY_WHITEOUT) {
			const char *slash = strrchr(x->path, '/');
			if (slash != NULL)
				snprintf(x->stored, sizeof(x->stored), "%.*s/.wh.%s",
					 (int)(slash - x->path), x->path, slash + 1);
			else
				snprintf(x->stored, sizeof(x->stored), ".wh.%s", x->path);
		} else if (x->e.type == LAYER_ENTRY_OPAQUE) {
			snprintf(x->stored, sizeof(x->stored), "%s/.wh..wh..opq", x->path);
		} else {
			snprintf(x->stored, sizeof(x->stored), "%s", x->path);
		}
		n++;
	}
	qsort(g, n, sizeof(*g), cmp_stored);
	/* drop repeated names, then point hardlinks at earlier files (or make them files) */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && strcmp(g[m - 1].stored, g[i].stored) == 0)
			continue;
		if (m != i)
			g[m] = g[i];
		g[m].e.path = g[m].path;
		g[m].e.xattrs = g[m].xattrs;
		if (g[m].e.link_target != NULL)
			g[m].e.link_target = g[m].target;
		for (size_t k = 0; k < 3; k++)
			g[m].xattrs[k].name = g[m].xnames[k],
			g[m].xattrs[k].value = g[m].xvalues[k];
		m++;
	}
	for (size_t i = 0; i < m; i++) {
		if (g[i].e.type != LAYER_ENTRY_HARDLINK)
			continue;
		size_t files[MAX_ENTRIES], nf = 0;
		for (size_t k = 0; k < i; k++)
			if (g[k].e.type == LAYER_ENTRY_FILE)
				files[nf++] = k;
		if (nf == 0) {
			g[i].e.type = LAYER_ENTRY_FILE;
			g[i].e.size = 0;
			continue;
		}
		snprintf(g[i].target, sizeof(g[i].target), "%s",
			 g[files[g[i].hardlink_pick % nf]].path);
		g[i].e.link_target = g[i].target;
		g[i].e.mode &= 07777;
	}
	return m;
}

static int write_all(const struct gen *g, size_t n, const char *compression, long long epoch,
		     int fd, struct layer_result *res)
{
	struct layer_writer_options o = { .compression = compression, .epoch = epoch };
	struct layer_writer *w = NULL;
	struct plate_error *err = NULL;
	int r = -1;

	if (layer_writer_new(fd, &o, &w, &err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int a = g[i].e.type == LAYER_ENTRY_FILE
				? layer_writer_add_data(w, &g[i].e, g[i].content, g[i].content_len,
							&err)
				: layer_writer_add(w, &g[i].e, -1, &err);
		if (a < 0)
			goto out;
	}
	r = layer_writer_finish(w, res, &err);
out:
	if (err != NULL) {
		char *msg = plate_error_format(err);
		fprintf(stderr, "fuzz_layer_roundtrip: writer: %s\n", msg);
		free(msg);
		plate_error_free(err);
	}
	layer_writer_free(w);
	return r;
}

static void compare(const struct gen *g, size_t n, long long epoch, int fd)
{
	struct layer_reader *r = NULL;
	struct plate_error *err = NULL;
	struct layer_entry e;
	struct layer_result res;
	size_t i = 0;
	int k;

	if (layer_reader_new(fd, NULL, &r, &err) < 0)
		fail("reader_new", err ? err->message : "");
	while ((k = layer_reader_next(r, &e, &err)) > 0) {
		if (i >= n)
			fail("more entries read than written", e.path);
		const struct layer_entry *w = &g[i].e;
		long long mtime = w->mtime > epoch ? epoch : w->mtime;
		if (e.type != w->type || strcmp(e.path, w->path) != 0)
			fail("type or path differs", w->path);
		if (w->type != LAYER_ENTRY_WHITEOUT && w->type != LAYER_ENTRY_OPAQUE &&
		    (e.mode != w->mode || e.uid != w->uid || e.gid != w->gid || e.mtime != mtime))
			fail("metadata differs", w->path);
		if ((w->type == LAYER_ENTRY_SYMLINK || w->type == LAYER_ENTRY_HARDLINK) &&
		    strcmp(e.link_target, w->link_target) != 0)
			fail("link target differs", w->path);
		if ((w->type == LAYER_ENTRY_CHAR || w->type == LAYER_ENTRY_BLOCK) &&
		    (e.dev_major != w->dev_major || e.dev_minor != w->dev_minor))
			fail("device differs", w->path);
		if (w->type == LAYER_ENTRY_FILE) {
			uint8_t buf[128];
			ssize_t got = 0, part;
			while ((part = layer_reader_read(r, buf + got, sizeof(buf) - (size_t)got,
							 &err)) > 0)
				got += part;
			if (part < 0 || e.size != w->size || (size_t)got != g[i].content_len ||
			    (got > 0 && memcmp(buf, g[i].content, (size_t)got) != 0))
				fail("content differs", w->path);
		}
		if (w->type != LAYER_ENTRY_WHITEOUT && w->type != LAYER_ENTRY_OPAQUE &&
		    w->type != LAYER_ENTRY_HARDLINK) {
			struct layer_xattr want[3];
			if (w->n_xattrs > 0) {
				memcpy(want, w->xattrs, w->n_xattrs * sizeof(want[0]));
				qsort(want, w->n_xattrs, sizeof(want[0]), cmp_xattr);
			}
			if (e.n_xattrs != w->n_xattrs)
				fail("xattr count differs", w->path);
			for (size_t x = 0; x < e.n_xattrs; x++)
				if (strcmp(e.xattrs[x].name, want[x].name) != 0 ||
				    e.xattrs[x].size != want[x].size ||
				    (want[x].size > 0 &&
				     memcmp(e.xattrs[x].value, want[x].value, want[x].size) != 0))
					fail("xattr differs", w->path);
		}
		i++;
	}
	if (k < 0 || i != n || layer_reader_finish(r, &res, &err) < 0) {
		char *msg = err != NULL ? plate_error_format(err) : NULL;
		fprintf(stderr, "reader: %s (%zu of %zu entries)\n", msg ? msg : "", i, n);
		fail("reading back failed", "");
	}
	layer_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Mostly "none": under ASan, starting the compressors' threads costs ~100 ms, which
	 * would leave the tar logic a few runs per second. */
	static const char *const compressions[] = { "gzip", "zstd", "none", "none",
						    "none", "none", "none", "none" };
	static struct gen g[MAX_ENTRIES];
	struct input in = { data, size };
	struct layer_result a, b;
	const char *compression = compressions[take(&in) % 8];
	long long epoch = (long long)take(&in) << 28 | take(&in);
	size_t n = generate(&in, g, epoch);
	int fd = memfd_create("layer", MFD_CLOEXEC);
	int fd2 = memfd_create("layer2", MFD_CLOEXEC);

	if (fd < 0 || fd2 < 0)
		abort();
	if (write_all(g, n, compression, epoch, fd, &a) < 0 ||
	    write_all(g, n, compression, epoch, fd2, &b) < 0)
		fail("the writer refused generated entries", "");
	if (strcmp(a.digest, b.digest) != 0)
		fail("writing twice gave different bytes", "");
	lseek(fd, 0, SEEK_SET);
	compare(g, n, epoch, fd);
	close(fd);
	close(fd2);
	return 0;
}
