/* Garbage collection and the consistency check. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "store/store_internal.h"

/* A set of digests: appended, then sorted once and searched. */
struct set {
	struct oci_strings s;
	bool sorted;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int set_add(struct set *set, const char *v, struct plate_error **err)
{
	set->sorted = false;
	return oci_strings_add(&set->s, v, err);
}

static bool set_has(struct set *set, const char *v)
{
	if (!set->sorted) {
		if (set->s.n > 1)
			qsort(set->s.v, set->s.n, sizeof(*set->s.v), cmp_str);
		set->sorted = true;
	}
	return set->s.n > 0 && bsearch(&v, set->s.v, set->s.n, sizeof(*set->s.v), cmp_str) != NULL;
}

static bool is_hex64(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == DIGEST_HEX_LEN;
}

/* Calls fn for every entry name of ROOT/dir ("." and ".." skipped). */
static int each_entry(struct store *s, const char *dir,
		      int (*fn)(void *data, int dirfd, const char *name, struct plate_error **err),
		      void *data, struct plate_error **err)
{
	int fd = openat(s->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s/%s'", s->root, dir);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return plate_err_new(err, errno, "cannot read '%s/%s'", s->root, dir);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fn(data, dirfd(d), de->d_name, err) < 0)
			return -1;
	}
	if (errno != 0)
		return plate_err_new(err, errno, "cannot read '%s/%s'", s->root, dir);
	return 0;
}

/* ---- gc --------------------------------------------------------------------------------- */

struct gc {
	struct store *store;
	unsigned flags;
	struct set live;
	struct store_gc_result *result;
};

static int mark_blob(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	struct gc *gc = data;

	return set_add(&gc->live, d->digest, err);
}

static int mark_image(void *data, const struct oci_descriptor *desc, const struct oci_manifest *m,
		      const struct oci_config *c, struct plate_error **err)
{
	struct gc *gc = data;

	for (size_t i = 0; c != NULL && i < c->diff_ids.n; i++)
		if (set_add(&gc->live, c->diff_ids.v[i], err) < 0)
			return -1;
	return 0;
}

static int gc_cache_entry(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct gc *gc = data;
	_cleanup_free_ char *json = NULL;
	struct oci_strings digests = { 0 };
	_cleanup_error_ struct plate_error *bad = NULL;
	bool keep = !(gc->flags & STORE_GC_ALL_CACHE);
	size_t len;

	if (keep &&
	    (store_fs_read_file(dirfd, name, STORE_CACHE_ENTRY_MAX, &json, &len, &bad) < 0 ||
	     store_cache_digests(json, len, &digests, &bad) < 0))
		keep = false;
	for (size_t i = 0; keep && i < digests.n; i++)
		keep = store_blob_exists(gc->store, digests.v[i]) ||
		       store_snapshot_exists(gc->store, digests.v[i]);
	for (size_t i = 0; keep && i < digests.n; i++)
		if (set_add(&gc->live, digests.v[i], err) < 0) {
			oci_strings_release(&digests);
			return -1;
		}
	oci_strings_release(&digests);
	if (keep)
		return 0;
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return plate_err_new(err, errno, "cannot remove cache entry '%s'", name);
	gc->result->cache_entries++;
	return 0;
}

static int gc_pins(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct gc *gc = data;
	_cleanup_free_ char *pins = NULL, *path = NULL;
	char *line, *save = NULL;
	size_t len;

	if (strncmp(name, "txn.", 4) != 0 || asprintf(&path, "%s/pins", name) < 0)
		return 0;
	if (faccessat(dirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (store_fs_read_file(dirfd, path, (size_t)64 << 20, &pins, &len, err) < 0)
		return -1;
	for (line = strtok_r(pins, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (set_add(&gc->live, line, err) < 0)
			return -1;
	return 0;
}

static int gc_blob(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct gc *gc = data;
	char digest[DIGEST_STRING_LEN + 1];
	struct stat st;

	if (is_hex64(name)) {
		snprintf(digest, sizeof(digest), "sha256:%s", name);
		if (set_has(&gc->live, digest))
			return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : plate_err_new(err, errno, "blob '%s'", name);
	if (store_fs_rm_rf(dirfd, name, err) < 0)
		return -1;
	gc->result->blobs++;
	gc->result->blob_bytes += (uint64_t)st.st_size;
	return 0;
}

static int gc_snapshot(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct gc *gc = data;
	char digest[DIGEST_STRING_LEN + 1];

	if (is_hex64(name)) {
		snprintf(digest, sizeof(digest), "sha256:%s", name);
		if (set_has(&gc->live, digest))
			return 0;
	}
	if (store_trash_move(gc->store, dirfd, name, err) < 0)
		return -1;
	gc->result->snapshots++;
	return 0;
}

int store_gc(struct store *s, unsigned flags, struct store_gc_result *out, struct plate_error **err)
{
	struct store_blob_source src = { .store = s };
	struct store_walk_ops ops = { .blob = mark_blob, .image = mark_image };
	struct gc gc = { .store = s, .flags = flags, .result = out };
	struct oci_index idx = { 0 };
	int lock, r = -1;

	memset(out, 0, sizeof(*out));
	if ((lock = store_lock_take(s, LOCK_EX, err)) < 0)
		return -1;
	if (store_tmp_clean(s, &out->tmp_entries, err) < 0 ||
	    store_trash_clean(s, &out->tmp_entries, err) < 0 || store_index_load(s, &idx, err) < 0)
		goto out;
	for (size_t i = 0; i < idx.n_manifests; i++) {
		if (store_walk(&src, &idx.manifests[i], &ops, &gc, err) < 0) {
			plate_err_wrap(err, "cannot collect garbage (run 'plate fsck')");
			goto out;
		}
	}
	if (each_entry(s, "cache", gc_cache_entry, &gc, err) < 0 ||
	    each_entry(s, "tmp", gc_pins, &gc, err) < 0 ||
	    each_entry(s, "blobs/sha256", gc_blob, &gc, err) < 0 ||
	    each_entry(s, "snapshots", gc_snapshot, &gc, err) < 0 ||
	    store_fs_fsync_dir(s->rootfd, "blobs/sha256", err) < 0)
		goto out;
	/* The renames reach the disk before any file of the trees they moved is deleted: a
	 * filesystem without a journal orders nothing by itself. */
	if (gc.result->snapshots > 0 && (store_fs_fsync_dir(s->rootfd, "snapshots", err) < 0 ||
					 store_fs_fsync_dir(s->rootfd, STORE_TRASH_DIR, err) < 0 ||
					 store_trash_clean(s, NULL, err) < 0))
		goto out;
	r = 0;
out:
	store_lock_drop(lock);
	oci_index_release(&idx);
	oci_strings_release(&gc.live.s);
	return r;
}

/* ---- fsck ------------------------------------------------------------------------------- */

struct fsck {
	struct store *store;
	struct store_fsck_result *result;
	struct set corrupt;    /* blobs whose content does not match their name */
	struct set referenced; /* blobs and snapshots reachable */
	struct set checked;    /* snapshots already judged */
	const char *image;     /* the index entry being walked, for messages */
};

static void problem(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fsck *f, const char *fmt, ...)
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	oci_strings_add(&f->result->problems, msg ? msg : "out of memory", &ignored);
}

static int fsck_blob_file(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct fsck *f = data;
	char digest[DIGEST_STRING_LEN + 1], actual[DIGEST_STRING_LEN + 1];
	_cleanup_close_ int fd = -1;
	_cleanup_error_ struct plate_error *e = NULL;
	struct stat st;

	if (!is_hex64(name)) {
		problem(f, "blobs/sha256/%s: not a sha256 digest name", name);
		return 0;
	}
	snprintf(digest, sizeof(digest), "sha256:%s", name);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		problem(f, "blob '%s': not a readable regular file", digest);
		return set_add(&f->corrupt, digest, err);
	}
	if (store_fs_hash_fd(fd, actual, NULL, &e) < 0) {
		problem(f, "blob '%s': %s", digest, e->message);
		return set_add(&f->corrupt, digest, err);
	}
	f->result->blobs++;
	if (strcmp(actual, digest) != 0) {
		problem(f, "blob '%s' is corrupt: its content hashes to '%s'", digest, actual);
		return set_add(&f->corrupt, digest, err);
	}
	return 0;
}

static int fsck_ref_blob(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	struct fsck *f = data;
	struct store_blob_source src = { .store = f->store };

	if (set_add(&f->referenced, d->digest, err) < 0)
		return -1;
	if (!store_source_has(&src, d->digest, -1)) {
		problem(f, "image '%s': blob '%s' (%s) is missing", f->image, d->digest,
			d->media_type);
		return 1;
	}
	if (!store_source_has(&src, d->digest, d->size)) {
		problem(f, "image '%s': blob '%s' does not have the %lld bytes its descriptor says",
			f->image, d->digest, (long long)d->size);
		return 1;
	}
	return set_has(&f->corrupt, d->digest) ? 1 : 0;
}

/* A layer blob present and sound, so that a snapshot can be compared with it. */
static bool layer_checkable(struct fsck *f, const struct oci_descriptor *l)
{
	struct store_blob_source src = { .store = f->store };

	return !set_has(&f->corrupt, l->digest) && store_source_has(&src, l->digest, l->size);
}

static int fsck_image(void *data, const struct oci_descriptor *desc, const struct oci_manifest *m,
		      const struct oci_config *c, struct plate_error **err)
{
	struct fsck *f = data;

	if (c == NULL)
		return 0;
	if (c->diff_ids.n != m->n_layers)
		problem(f, "image '%s': manifest '%s' has %zu layers but its config %zu diffIDs",
			f->image, desc->digest, m->n_layers, c->diff_ids.n);
	for (size_t i = 0; i < c->diff_ids.n; i++) {
		_cleanup_error_ struct plate_error *e = NULL;
		const char *id = c->diff_ids.v[i];

		if (i < m->n_layers && !oci_media_type_is_layer(m->layers[i].media_type))
			continue;
		if (set_has(&f->checked, id))
			continue;
		if (set_add(&f->checked, id, err) < 0 || set_add(&f->referenced, id, err) < 0)
			return -1;
		f->result->snapshots++;
		if (!store_snapshot_exists(f->store, id))
			problem(f, "image '%s': snapshot of layer '%s' is missing", f->image, id);
		else if (store_snapshot_check(f->store, id, &e) < 0 ||
			 (i < m->n_layers && layer_checkable(f, &m->layers[i]) &&
			  store_snapshot_verify(f->store, id, m->layers[i].digest, &e) < 0))
			problem(f, "snapshot '%s' is damaged: %s", id, e->message);
		else if (store_snapshot_index_check(f->store, id, &e) < 0)
			problem(f, "snapshot '%s' has a bad index: %s", id, e->message);
	}
	return 0;
}

static void fsck_walk_problem(void *data, const char *message)
{
	struct fsck *f = data;

	problem(f, "image '%s': %s", f->image, message);
}

static int fsck_unreferenced_blob(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct fsck *f = data;
	char digest[DIGEST_STRING_LEN + 1];

	snprintf(digest, sizeof(digest), "sha256:%.64s", name);
	if (!set_has(&f->referenced, digest))
		f->result->unreferenced++;
	return 0;
}

static int fsck_snapshot_dir(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct fsck *f = data;
	char digest[DIGEST_STRING_LEN + 1];
	_cleanup_error_ struct plate_error *e = NULL;

	if (!is_hex64(name)) {
		problem(f, "snapshots/%s: not a sha256 diffID name", name);
		return 0;
	}
	snprintf(digest, sizeof(digest), "sha256:%s", name);
	if (set_has(&f->referenced, digest))
		return 0;
	f->result->unreferenced++;
	/* Reused as it is by the next load, pull or build that needs this layer: it must be
	 * as whole as a referenced one (no blob names the layer it came from, so the check
	 * is against its info.json and fs.index). */
	f->result->snapshots++;
	if (store_snapshot_check(f->store, digest, &e) < 0)
		problem(f, "unreferenced snapshot '%s' is damaged: %s", digest, e->message);
	else if (store_snapshot_index_check(f->store, digest, &e) < 0)
		problem(f, "unreferenced snapshot '%s' has a bad index: %s", digest, e->message);
	return 0;
}

/* What an interrupted gc or transaction left: the next writer's or gc's to delete, never
 * read by anyone, so counted rather than reported. */
static int fsck_leftover(void *data, int dirfd, const char *name, struct plate_error **err)
{
	struct fsck *f = data;

	if (strncmp(name, "txn.", 4) == 0) {
		_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
			return 0; /* a live transaction */
	}
	f->result->leftovers++;
	return 0;
}

static void fsck_partial(void *data, const struct oci_descriptor *index, size_t absent)
{
	(void)index;
	(void)absent;
	((struct fsck *)data)->result->partial++;
}

int store_fsck(struct store *s, struct store_fsck_result *out, struct plate_error **err)
{
	struct store_blob_source src = { .store = s };
	struct store_walk_ops ops = { .blob = fsck_ref_blob,
				      .image = fsck_image,
				      .problem = fsck_walk_problem,
				      .partial = fsck_partial };
	struct fsck f = { .store = s, .result = out };
	_cleanup_error_ struct plate_error *e = NULL;
	struct oci_index idx = { 0 };
	int lock, r = -1;

	memset(out, 0, sizeof(*out));
	if ((lock = store_lock_take(s, LOCK_SH, err)) < 0)
		return -1;
	if (store_mode_problems(s, &out->problems, err) < 0 ||
	    each_entry(s, "blobs/sha256", fsck_blob_file, &f, err) < 0)
		goto out;
	if (store_index_load(s, &idx, &e) < 0) {
		problem(&f, "index.json: %s", e->message);
		r = 0;
		goto out;
	}
	for (size_t i = 0; i < idx.n_manifests; i++) {
		const struct oci_descriptor *d = &idx.manifests[i];
		const char *name = oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME);
		struct oci_reference ref;

		f.image = name ? name : d->digest;
		out->images++;
		if (name != NULL) {
			_cleanup_error_ struct plate_error *re = NULL;
			if (oci_reference_parse(name, strlen(name), &ref, &re) < 0) {
				problem(&f, "image '%s': name is not a valid reference: %s", name,
					re->message);
			} else {
				_cleanup_free_ char *full = oci_reference_format(&ref);
				if (full == NULL || strcmp(full, name) != 0)
					problem(&f, "image '%s': name is not normalised ('%s')",
						name, full ? full : "?");
				oci_reference_release(&ref);
			}
		}
		if (store_walk(&src, d, &ops, &f, err) < 0)
			goto out;
	}
	if (each_entry(s, "blobs/sha256", fsck_unreferenced_blob, &f, err) < 0 ||
	    each_entry(s, "snapshots", fsck_snapshot_dir, &f, err) < 0 ||
	    each_entry(s, "tmp", fsck_leftover, &f, err) < 0)
		goto out;
	if (faccessat(s->rootfd, STORE_TRASH_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    each_entry(s, STORE_TRASH_DIR, fsck_leftover, &f, err) < 0)
		goto out;
	r = 0;
out:
	store_lock_drop(lock);
	oci_index_release(&idx);
	oci_strings_release(&f.corrupt.s);
	oci_strings_release(&f.referenced.s);
	oci_strings_release(&f.checked.s);
	if (r < 0)
		store_fsck_result_release(out);
	return r;
}

void store_fsck_result_release(struct store_fsck_result *r)
{
	oci_strings_release(&r->problems);
}
