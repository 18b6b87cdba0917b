/* The store handle: opening and creating the layout, the lock, index.json, reading blobs
 * and resolving image names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "store/store_internal.h"

static const char *const layout_dirs[] = { "blobs", "blobs/sha256", "snapshots", "cache", "tmp" };

/* The directories whose modes keep other users out (see tighten_modes()): the root and
 * every directory of the layout, "trash" and "mounts" included when present. */
static const char *const private_dirs[] = { ".",     "blobs", "blobs/sha256",  "snapshots",
					    "cache", "tmp",   STORE_TRASH_DIR, "mounts" };

/* Creates path and its missing parents; the parents get the usual 0755 (they are not the
 * store's), path itself 0700. */
static int mkdir_p(const char *path, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(path);

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, c == '\0' ? 0700 : 0755) < 0 && errno != EEXIST)
			return plate_err_new(err, errno, "cannot create directory '%s'", copy);
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

int store_lock_take(struct store *s, int op, struct plate_error **err)
{
	int fd = openat(s->rootfd, STORE_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	/* A reader without write access to the store can still take a shared lock. */
	if (fd < 0 && op == LOCK_SH && (errno == EACCES || errno == EROFS))
		fd = openat(s->rootfd, STORE_LOCK_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open lock file '%s/%s'", s->root,
				     STORE_LOCK_FILE);
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		return plate_err_new(err, e, "cannot lock '%s/%s'", s->root, STORE_LOCK_FILE);
	}
	return fd;
}

void store_lock_drop(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only descriptor releases the flock */
}

/* Creates what is missing of the layout, under the exclusive lock. */
static int create_layout(struct store *s, struct plate_error **err)
{
	_cleanup_close_ int tmpfd = -1;
	int lock;
	int r = -1;

	bool complete = faccessat(s->rootfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
			faccessat(s->rootfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0;

	for (size_t i = 0; i < sizeof(layout_dirs) / sizeof(layout_dirs[0]); i++) {
		if (mkdirat(s->rootfd, layout_dirs[i], 0700) == 0) {
			complete = false;
			/* A new snapshots/ has nothing a plate without trash/ could have
			 * half-deleted: its trash/ is made with it (store_trash_clean()). */
			if (strcmp(layout_dirs[i], "snapshots") == 0 &&
			    mkdirat(s->rootfd, STORE_TRASH_DIR, 0700) < 0 && errno != EEXIST)
				return plate_err_new(err, errno, "cannot create '%s/%s'", s->root,
						     STORE_TRASH_DIR);
		} else if (errno != EEXIST) {
			return plate_err_new(err, errno, "cannot create '%s/%s'", s->root,
					     layout_dirs[i]);
		}
	}
	tmpfd = openat(s->rootfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd < 0)
		return plate_err_new(err, errno, "cannot open '%s/tmp'", s->root);
	/* Transactions extract layers and build steps below tmp/: see fs.c.  Also for
	 * stores made before the flag was set. */
	store_fs_spread_subdirs(tmpfd);
	/* The usual case: nothing to create, no lock to wait for. */
	if (complete)
		return 0;
	if ((lock = store_lock_take(s, LOCK_EX, err)) < 0)
		return -1;
	if (faccessat(s->rootfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		const char *h = oci_layout_header();
		if (store_fs_replace_file(s->rootfd, "oci-layout", tmpfd, h, strlen(h), err) < 0)
			goto out;
	}
	if (faccessat(s->rootfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		struct oci_index empty = { .schema_version = 2 };
		if (store_index_replace(s, &empty, err) < 0)
			goto out;
	}
	r = 0;
out:
	store_lock_drop(lock);
	return r;
}

/*
 * Image files keep their modes and file capabilities in snapshots (a lowerdir must be the
 * image as it is), so a setuid-root binary of an image sits in snapshots/<hex>/fs.  What
 * keeps another local user from running it is that nothing below the root can be reached
 * by anyone but the owner: the root and the layout directories are 0700.  Stores made
 * before were 0755; each is tightened here.  Best effort: a user who may not change the
 * modes (not the owner, a read-only filesystem) still reads the store, and fsck reports
 * what is loose.
 */
static bool is_loose(struct store *s, size_t i, struct stat *st)
{
	if (fstatat(s->rootfd, private_dirs[i], st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	/* A sticky root is a shared directory (`--root /tmp`), not one made for the store:
	 * closing it would break its other users, and the 0700 layout directories inside
	 * keep the image files out of reach anyway. */
	if (i == 0 && (st->st_mode & S_ISVTX))
		return false;
	return S_ISDIR(st->st_mode) && (st->st_mode & 077) != 0;
}

static void tighten_modes(struct store *s)
{
	for (size_t i = 0; i < sizeof(private_dirs) / sizeof(private_dirs[0]); i++) {
		struct stat st;

		if (is_loose(s, i, &st))
			(void)fchmodat(s->rootfd, private_dirs[i], st.st_mode & 07700, 0);
	}
}

int store_mode_problems(struct store *s, struct oci_strings *out, struct plate_error **err)
{
	for (size_t i = 0; i < sizeof(private_dirs) / sizeof(private_dirs[0]); i++) {
		_cleanup_free_ char *msg = NULL;
		struct stat st;
		int r;

		if (!is_loose(s, i, &st))
			continue;
		if (i == 0)
			r = asprintf(&msg,
				     "store '%s' is mode %04o: other users can reach its "
				     "image files (setuid ones too); any other plate command run "
				     "by its owner makes it 0700",
				     s->root, st.st_mode & 07777);
		else
			r = asprintf(&msg,
				     "'%s/%s' is mode %04o: other users can reach what it "
				     "holds; any other plate command run by its owner makes it "
				     "0700",
				     s->root, private_dirs[i], st.st_mode & 07777);
		if (r < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (oci_strings_add(out, msg, err) < 0)
			return -1;
	}
	return 0;
}

int store_open(const char *root, unsigned flags, struct store **out, struct plate_error **err)
{
	_cleanup_free_ char *layout = NULL;
	struct store *s;
	size_t len;

	if (root == NULL || *root == '\0')
		return plate_err_new(err, EINVAL, "no store root given");
	if ((flags & STORE_OPEN_CREATE) && mkdir_p(root, err) < 0)
		return -1;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	s->shared_lock_fd = -1;
	s->limits = (struct layer_limits)LAYER_DEFAULT_LIMITS;
	s->root = strdup(root);
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root == NULL) {
		store_free(s);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (s->rootfd < 0) {
		plate_err_new(err, errno, "cannot open store '%s'", root);
		store_free(s);
		return -1;
	}
	if ((flags & STORE_OPEN_CREATE) && create_layout(s, err) < 0) {
		store_free(s);
		return plate_err_wrap(err, "store '%s'", root);
	}
	if (flags & STORE_OPEN_CREATE)
		tighten_modes(s);
	if (store_fs_read_file(s->rootfd, "oci-layout", 4096, &layout, &len, err) < 0 ||
	    oci_layout_header_parse(layout, len, err) < 0) {
		store_free(s);
		return plate_err_wrap(err, "'%s' is not a plate store", root);
	}
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_lock_drop(s->shared_lock_fd);
	if (s->rootfd >= 0)
		close(s->rootfd);
	free(s->root);
	free(s);
}

void store_set_layer_limits(struct store *s, const struct layer_limits *limits)
{
	s->limits = *limits;
}

const struct layer_limits *store_layer_limits(const struct store *s)
{
	return &s->limits;
}

const char *store_root(const struct store *s)
{
	return s->root;
}

int store_lock_shared(struct store *s, struct plate_error **err)
{
	if (s->shared_lock_fd >= 0)
		PLATE_BUG("store_lock_shared called twice");
	s->shared_lock_fd = store_lock_take(s, LOCK_SH, err);
	return s->shared_lock_fd < 0 ? -1 : 0;
}

void store_unlock_shared(struct store *s)
{
	store_lock_drop(s->shared_lock_fd);
	s->shared_lock_fd = -1;
}

/* ---- index.json ----------------------------------------------------------------------- */

int store_index_load(struct store *s, struct oci_index *out, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (store_fs_read_file(s->rootfd, "index.json", STORE_INDEX_MAX, &data, &len, err) < 0 ||
	    oci_index_parse(data, len, 0, out, err) < 0)
		return plate_err_wrap(err, "store index '%s/index.json'", s->root);
	return 0;
}

int store_index_read(struct store *s, struct oci_index *out, struct plate_error **err)
{
	return store_index_load(s, out, err);
}

int store_index_replace(struct store *s, const struct oci_index *idx, struct plate_error **err)
{
	_cleanup_close_ int tmpfd = openat(s->rootfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *json = NULL;
	size_t len;

	if (tmpfd < 0)
		return plate_err_new(err, errno, "cannot open '%s/tmp'", s->root);
	if (oci_index_write(idx, OCI_FORMAT_OCI, &json, &len, err) < 0)
		return -1;
	return store_fs_replace_file(s->rootfd, "index.json", tmpfd, json, len, err);
}

/* ---- blobs ---------------------------------------------------------------------------- */

static int blob_path(const char *digest, char path[DIGEST_STRING_LEN + 16],
		     struct plate_error **err)
{
	const char *hex = store_digest_hex(digest, err);

	if (hex == NULL)
		return -1;
	snprintf(path, DIGEST_STRING_LEN + 16, "blobs/sha256/%s", hex);
	return 0;
}

int store_blob_open(struct store *s, const char *digest, int *fd, int64_t *size,
		    struct plate_error **err)
{
	char path[DIGEST_STRING_LEN + 16];
	struct stat st;
	int f;

	if (blob_path(digest, path, err) < 0)
		return -1;
	f = openat(s->rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return plate_err_new(err, errno, "blob '%s'", digest);
	if (fstat(f, &st) < 0) {
		int e = errno;
		close(f);
		return plate_err_new(err, e, "blob '%s'", digest);
	}
	if (!S_ISREG(st.st_mode)) {
		close(f);
		return plate_err_new(err, EINVAL, "blob '%s' is not a regular file", digest);
	}
	*fd = f;
	if (size != NULL)
		*size = st.st_size;
	return 0;
}

bool store_blob_exists(struct store *s, const char *digest)
{
	_cleanup_error_ struct plate_error *err = NULL;
	char path[DIGEST_STRING_LEN + 16];

	return blob_path(digest, path, &err) == 0 &&
	       faccessat(s->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_blob_read(struct store *s, const char *digest, size_t max, char **data, size_t *len,
		    struct plate_error **err)
{
	char path[DIGEST_STRING_LEN + 16], actual[DIGEST_STRING_LEN + 1];
	_cleanup_free_ char *buf = NULL;
	size_t n;

	if (blob_path(digest, path, err) < 0 ||
	    store_fs_read_file(s->rootfd, path, max, &buf, &n, err) < 0 ||
	    digest_buffer(buf, n, actual, err) < 0)
		return plate_err_wrap(err, "blob '%s'", digest);
	if (strcmp(actual, digest) != 0)
		return plate_err_new(err, EIO, "blob '%s' is corrupt: its content hashes to '%s'",
				     digest, actual);
	*data = steal_pointer(&buf);
	*len = n;
	return 0;
}

char *store_snapshot_path(const struct store *s, const char *diff_id)
{
	const char *colon = strchr(diff_id, ':');
	char *path = NULL;

	if (asprintf(&path, "%s/snapshots/%s/fs", s->root, colon ? colon + 1 : diff_id) < 0)
		return NULL;
	return path;
}

char *store_snapshot_index_path(const struct store *s, const char *diff_id)
{
	const char *colon = strchr(diff_id, ':');
	char *path = NULL;

	if (asprintf(&path, "%s/snapshots/%s/" STORE_SNAPSHOT_INDEX, s->root,
		     colon ? colon + 1 : diff_id) < 0)
		return NULL;
	return path;
}

bool store_snapshot_exists(struct store *s, const char *diff_id)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const char *hex = store_digest_hex(diff_id, &err);
	char path[DIGEST_HEX_LEN + 32];

	if (hex == NULL)
		return false;
	snprintf(path, sizeof(path), "snapshots/%s/info.json", hex);
	return faccessat(s->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_cache_get(struct store *s, const char *key, char **json, size_t *len,
		    struct plate_error **err)
{
	const char *hex = store_digest_hex(key, err);
	char path[DIGEST_HEX_LEN + 16];

	if (hex == NULL)
		return plate_err_wrap(err, "cache key");
	snprintf(path, sizeof(path), "cache/%s.json", hex);
	if (faccessat(s->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 1;
	if (store_fs_read_file(s->rootfd, path, STORE_CACHE_ENTRY_MAX, json, len, err) < 0)
		return plate_err_wrap(err, "cache entry '%s'", key);
	return 0;
}

/* ---- resolving names ------------------------------------------------------------------ */

static bool is_hex_prefix(const char *s)
{
	size_t n = 0;

	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n > 0 && n <= DIGEST_HEX_LEN;
}

static bool digest_has_prefix(const char *digest, const char *prefix)
{
	if (strncmp(prefix, "sha256:", 7) == 0)
		return strncmp(digest, prefix, strlen(prefix)) == 0 &&
		       strlen(prefix) == DIGEST_STRING_LEN;
	return strncmp(digest + 7, prefix, strlen(prefix)) == 0;
}

/* "linux/amd64[/variant]" against a descriptor's platform, both normalised as containerd
 * does ("linux/arm64/v8" is an entry's "arm64"); NULL matches anything, and a wanted
 * platform without a variant any variant. */
static bool platform_matches(const char *want, const struct oci_platform *p)
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	_cleanup_free_ char *w = NULL, *have = NULL, *h = NULL;
	size_t n;

	if (want == NULL)
		return true;
	if (p == NULL || p->os == NULL || p->architecture == NULL ||
	    asprintf(&have, "%s/%s%s%s", p->os, p->architecture, p->variant ? "/" : "",
		     p->variant ? p->variant : "") < 0)
		return false;
	if ((w = oci_platform_normalize(want, &ignored)) == NULL ||
	    (h = oci_platform_normalize(have, &ignored)) == NULL)
		return false;
	if (strcmp(w, h) == 0)
		return true;
	n = strlen(w);
	return strchr(strchr(w, '/') + 1, '/') == NULL && strncmp(w, h, n) == 0 && h[n] == '/';
}

/* Reads a document blob whose descriptor we trust for size. */
static int read_doc(struct store *s, const struct oci_descriptor *d, size_t max, char **data,
		    size_t *len, struct plate_error **err)
{
	if (store_blob_read(s, d->digest, max, data, len, err) < 0)
		return -1;
	if ((int64_t)*len != d->size) {
		free(*data);
		*data = NULL;
		return plate_err_new(err, EIO, "blob '%s' has %zu bytes, its descriptor says %lld",
				     d->digest, *len, (long long)d->size);
	}
	return 0;
}

/* Follows an index to the manifest for platform (one level of nesting at most). */
static int pick_manifest(struct store *s, const struct oci_descriptor *root, const char *platform,
			 const char *name, struct oci_descriptor *out, struct plate_error **err)
{
	const struct oci_media_type *t = oci_media_type_lookup(root->media_type);
	bool absent = false;
	_cleanup_free_ char *data = NULL;
	struct oci_index idx;
	size_t len;
	int r = -1;

	if (t == NULL || t->kind != OCI_KIND_INDEX)
		return oci_descriptor_copy(out, root, err);
	if (read_doc(s, root, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_index_parse(data, len, 0, &idx, err) < 0)
		return -1;
	for (size_t i = 0; i < idx.n_manifests; i++) {
		const struct oci_media_type *mt =
			oci_media_type_lookup(idx.manifests[i].media_type);
		if (mt == NULL || mt->kind != OCI_KIND_MANIFEST ||
		    !platform_matches(platform, idx.manifests[i].platform))
			continue;
		/* A partial index (a pull of some platforms): an absent platform is named,
		 * and without a platform the first present one is taken. */
		if (!store_blob_exists(s, idx.manifests[i].digest)) {
			absent = true;
			continue;
		}
		r = oci_descriptor_copy(out, &idx.manifests[i], err);
		break;
	}
	if (r < 0 && *err == NULL && absent && platform != NULL)
		plate_err_new(err, ENOENT,
			      "platform '%s' was not pulled (plate pull --platform %s %s)",
			      platform, platform, name);
	else if (r < 0 && *err == NULL)
		plate_err_new(err, ENOENT, "index '%s' has no manifest for platform '%s'",
			      root->digest, platform ? platform : "any");
	oci_index_release(&idx);
	return r;
}

bool store_index_partial(struct store *s, const struct oci_descriptor *root)
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	_cleanup_free_ char *data = NULL;
	struct oci_index idx;
	bool partial = false;
	size_t len;

	if (read_doc(s, root, OCI_MAX_MANIFEST_SIZE, &data, &len, &ignored) < 0 ||
	    oci_index_parse(data, len, 0, &idx, &ignored) < 0)
		return false;
	for (size_t i = 0; i < idx.n_manifests && !partial; i++)
		partial = !store_blob_exists(s, idx.manifests[i].digest);
	oci_index_release(&idx);
	return partial;
}

static int load_image(struct store *s, const char *platform, const char *name,
		      struct store_image *img, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	const struct oci_media_type *t;
	size_t len;

	if (pick_manifest(s, &img->root, platform, name, &img->manifest_desc, err) < 0 ||
	    read_doc(s, &img->manifest_desc, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_manifest_parse(data, len, 0, &img->manifest, err) < 0)
		return -1;
	t = oci_media_type_lookup(img->manifest.config.media_type);
	if (t == NULL || t->kind != OCI_KIND_CONFIG)
		return plate_err_new(err, EINVAL,
				     "manifest '%s' is not an image (config type '%s')",
				     img->manifest_desc.digest, img->manifest.config.media_type);
	if (read_doc(s, &img->manifest.config, OCI_MAX_CONFIG_SIZE, &img->config_json,
		     &img->config_len, err) < 0 ||
	    oci_config_parse(img->config_json, img->config_len, 0, &img->config, err) < 0)
		return -1;
	return 0;
}

/* Finds the root entry for name; returns its index in idx or -1 with *err. */
static ssize_t find_root(struct store *s, const struct oci_index *idx, const char *name,
			 struct plate_error **err)
{
	_cleanup_error_ struct plate_error *ref_err = NULL;
	struct oci_reference ref;
	ssize_t found = -1;

	if (oci_reference_parse(name, strlen(name), &ref, &ref_err) < 0 &&
	    ref_err->errno_value == ENOMEM) {
		*err = steal_pointer(&ref_err);
		return -1;
	}
	if (ref_err == NULL) {
		_cleanup_free_ char *full = oci_reference_format(&ref);
		if (full == NULL) {
			oci_reference_release(&ref);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		for (size_t i = 0; full != NULL && i < idx->n_manifests && found < 0; i++) {
			const struct oci_descriptor *d = &idx->manifests[i];
			const char *n = oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME);
			if (ref.tag != NULL && n != NULL && strcmp(n, full) == 0)
				found = (ssize_t)i;
			else if (ref.tag == NULL && ref.digest != NULL &&
				 strcmp(d->digest, ref.digest) == 0)
				found = (ssize_t)i;
		}
		oci_reference_release(&ref);
		if (found >= 0)
			return found;
	}
	if (is_hex_prefix(name)) {
		const char *match = NULL;
		for (size_t i = 0; i < idx->n_manifests; i++) {
			const struct oci_descriptor *d = &idx->manifests[i];
			bool hit;
			if (oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT) != NULL)
				continue; /* a referrer is no image (its config is empty) */
			hit = digest_has_prefix(d->digest, name);
			if (!hit) {
				/* The image ID is the config digest (docker's convention). */
				struct store_image probe = { 0 };
				_cleanup_error_ struct plate_error *e = NULL;
				if (oci_descriptor_copy(&probe.root, d, &e) == 0 &&
				    load_image(s, NULL, NULL, &probe, &e) == 0)
					hit = digest_has_prefix(probe.manifest.config.digest, name);
				oci_descriptor_release(&probe.root);
				oci_descriptor_release(&probe.manifest_desc);
				oci_manifest_release(&probe.manifest);
				oci_config_release(&probe.config);
				free(probe.config_json);
				if (e != NULL && e->errno_value == ENOMEM) {
					*err = steal_pointer(&e);
					return -1;
				}
			}
			if (!hit)
				continue;
			if (match != NULL && strcmp(match, d->digest) != 0)
				return plate_err_new(err, EINVAL,
						     "image ID prefix '%s' is ambiguous", name);
			match = d->digest;
			found = (ssize_t)i;
		}
		if (found >= 0)
			return found;
	}
	return plate_err_new(err, ENOENT, "image '%s' not found", name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_image_resolve(struct store *s, const char *name, const char *platform,
			struct store_image **out, struct plate_error **err)
{
	struct store_image *img = calloc(1, sizeof(*img));
	struct oci_index idx = { 0 };
	int lock = -1, r = -1;
	ssize_t i;

	if (img == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (s->shared_lock_fd < 0 && (lock = store_lock_take(s, LOCK_SH, err)) < 0)
		goto out;
	if (store_index_load(s, &idx, err) < 0 || (i = find_root(s, &idx, name, err)) < 0 ||
	    oci_descriptor_copy(&img->root, &idx.manifests[i], err) < 0)
		goto out;
	for (size_t j = 0; j < idx.n_manifests; j++) {
		const char *n = oci_map_get(&idx.manifests[j].annotations, OCI_ANNOTATION_REF_NAME);
		if (n != NULL && strcmp(idx.manifests[j].digest, img->root.digest) == 0 &&
		    oci_strings_add(&img->names, n, err) < 0)
			goto out;
	}
	if (img->names.n > 1)
		qsort(img->names.v, img->names.n, sizeof(*img->names.v), cmp_str);
	if (load_image(s, platform, name, img, err) < 0) {
		plate_err_wrap(err, "image '%s'", name);
		goto out;
	}
	*out = steal_pointer(&img);
	r = 0;
out:
	store_lock_drop(lock);
	oci_index_release(&idx);
	store_image_free(img);
	return r;
}

void store_image_free(struct store_image *img)
{
	if (img == NULL)
		return;
	oci_descriptor_release(&img->root);
	oci_descriptor_release(&img->manifest_desc);
	oci_manifest_release(&img->manifest);
	oci_config_release(&img->config);
	free(img->config_json);
	oci_strings_release(&img->names);
	free(img);
}
