/* Loading docker-archive and oci-archive streams, and OCI layout directories. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "json/json.h"
#include "layer/layer.h"
#include "store/store_internal.h"

/* An archive naming more files than this is not an image archive. */
#define LOAD_MAX_FILES 100000
#define LOAD_MAX_SYMLINK_HOPS 8
/* docker-archive's manifest.json and repositories, OCI's index.json. */
#define LOAD_MAX_JSON ((size_t)16 << 20)

enum file_kind {
	FILE_REGULAR,
	FILE_SYMLINK,
	FILE_HARDLINK
};

struct archive_file {
	char *path;
	enum file_kind kind;
	char *digest; /* FILE_REGULAR: staged blob */
	int64_t size;
	char *target; /* links: target as stored (hardlinks: cleaned path) */
};

struct archive {
	struct archive_file *files;
	size_t n;
};

static void archive_release(struct archive *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->files[i].path);
		free(a->files[i].digest);
		free(a->files[i].target);
	}
	free(a->files);
}

static int archive_add(struct archive *a, const struct archive_file *f, struct plate_error **err)
{
	struct archive_file *files;

	if (a->n >= LOAD_MAX_FILES)
		return plate_err_new(err, EFBIG, "archive has more than %d files", LOAD_MAX_FILES);
	files = realloc(a->files, (a->n + 1) * sizeof(*files));
	if (files == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	a->files = files;
	files[a->n++] = *f;
	return 0;
}

/* Joins a relative symlink target to the directory of the link and cleans it. */
static char *resolve_link(const char *link_path, const char *target)
{
	char joined[LAYER_MAX_PATH * 2 + 2], out[LAYER_MAX_PATH + 1];
	const char *slash = strrchr(link_path, '/');
	struct plate_error *err = NULL;
	int n;

	if (target[0] == '/')
		n = snprintf(joined, sizeof(joined), "%s", target);
	else
		n = snprintf(joined, sizeof(joined), "%.*s%s%s",
			     slash ? (int)(slash - link_path) : 0, link_path, slash ? "/" : "",
			     target);
	if (n < 0 || (size_t)n >= sizeof(joined) ||
	    layer_path_clean(joined, (size_t)n,
			     LAYER_PATH_STRIP_ABSOLUTE | LAYER_PATH_RESOLVE_DOTDOT, out,
			     sizeof(out), &err) < 0) {
		plate_error_free(err);
		return NULL;
	}
	return strdup(out);
}

/* The regular file a path of the archive names, following links inside the archive. */
static const struct archive_file *archive_find(const struct archive *a, const char *path,
					       struct plate_error **err)
{
	char clean[LAYER_MAX_PATH + 1];
	_cleanup_free_ char *cur = NULL;

	if (layer_path_clean(path, strlen(path), LAYER_PATH_STRIP_ABSOLUTE, clean, sizeof(clean),
			     err) < 0)
		return NULL;
	if ((cur = strdup(clean)) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		return NULL;
	}
	for (int hops = 0; hops <= LOAD_MAX_SYMLINK_HOPS; hops++) {
		const struct archive_file *f = NULL;
		/* A later entry of the same path replaces an earlier one, as tar extraction does. */
		for (size_t i = a->n; i-- > 0;)
			if (strcmp(a->files[i].path, cur) == 0) {
				f = &a->files[i];
				break;
			}
		if (f == NULL) {
			plate_err_new(err, ENOENT, "archive has no file '%s'", path);
			return NULL;
		}
		if (f->kind == FILE_REGULAR)
			return f;
		char *next = f->kind == FILE_HARDLINK ? strdup(f->target)
						      : resolve_link(f->path, f->target);
		if (next == NULL) {
			plate_err_new(err, EINVAL, "archive link '%s' points outside the archive",
				      f->path);
			return NULL;
		}
		free(cur);
		cur = next;
	}
	plate_err_new(err, ELOOP, "archive file '%s': too many links", path);
	return NULL;
}

/* "blobs/sha256/<hex>" names its own digest. */
static const char *layout_blob_digest(const char *path, char digest[DIGEST_STRING_LEN + 1])
{
	_cleanup_error_ struct plate_error *err = NULL;

	if (strncmp(path, "blobs/sha256/", 13) != 0 || strlen(path + 13) != DIGEST_HEX_LEN)
		return NULL;
	snprintf(digest, DIGEST_STRING_LEN + 1, "sha256:%s", path + 13);
	return digest_parse(digest, strlen(digest), &err) == 0 ? digest : NULL;
}

/* Streams one regular file of the archive into the transaction. */
static int stage_entry(struct store_txn *t, struct layer_reader *r, const struct layer_entry *e,
		       struct archive_file *f, struct plate_error **err)
{
	static const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = malloc(chunk);
	struct store_blob_writer *w = NULL;
	char name_digest[DIGEST_STRING_LEN + 1], digest[DIGEST_STRING_LEN + 1];
	const char *expected = layout_blob_digest(e->path, name_digest);
	ssize_t n;
	int rc = -1;

	if (buf == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (store_txn_blob_writer(t, expected, (int64_t)e->size, &w, err) < 0)
		return -1;
	while ((n = layer_reader_read(r, buf, chunk, err)) > 0)
		if (store_blob_writer_write(w, buf, (size_t)n, err) < 0)
			goto out;
	if (n < 0 || store_blob_writer_finish(w, digest, &f->size, err) < 0)
		goto out;
	if ((f->digest = strdup(digest)) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	store_blob_writer_free(w);
	if (rc < 0)
		plate_err_wrap(err, "archive file '%s'", e->path);
	return rc;
}

static int read_archive(struct store_txn *t, int fd, const struct layer_limits *store_limits,
			struct archive *a, struct plate_error **err)
{
	/* The archive holds every layer: its size is bounded by theirs, checked as each is
	 * extracted; its entries, expansion and trailing bytes are bounded here. */
	const struct layer_limits limits = { .max_entries = store_limits->max_entries,
					     .max_ratio = store_limits->max_ratio };
	const struct layer_reader_options ro = { .limits = &limits };
	struct layer_reader *r = NULL;
	struct layer_result result;
	struct layer_entry e;
	int n, rc = -1;

	if (layer_reader_new(fd, &ro, &r, err) < 0)
		return plate_err_wrap(err, "cannot read the archive");
	while ((n = layer_reader_next(r, &e, err)) > 0) {
		struct archive_file f = { 0 };

		if (e.type != LAYER_ENTRY_FILE && e.type != LAYER_ENTRY_SYMLINK &&
		    e.type != LAYER_ENTRY_HARDLINK)
			continue;
		if ((f.path = strdup(e.path)) == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		if (e.type == LAYER_ENTRY_FILE) {
			f.kind = FILE_REGULAR;
			if (stage_entry(t, r, &e, &f, err) < 0) {
				free(f.path);
				goto out;
			}
		} else {
			f.kind = e.type == LAYER_ENTRY_SYMLINK ? FILE_SYMLINK : FILE_HARDLINK;
			if ((f.target = strdup(e.link_target)) == NULL) {
				free(f.path);
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
		}
		if (archive_add(a, &f, err) < 0) {
			free(f.path);
			free(f.digest);
			free(f.target);
			goto out;
		}
	}
	if (n < 0 || layer_reader_finish(r, &result, err) < 0)
		goto out;
	rc = 0;
out:
	layer_reader_free(r);
	if (rc < 0)
		plate_err_wrap(err, "cannot read the archive");
	return rc;
}

static int read_staged(struct store_txn *t, const char *digest, size_t max, char **data,
		       size_t *len, struct plate_error **err)
{
	struct store_blob_source src = { .store = store_txn_store(t), .txn = t };
	struct oci_descriptor d = { .digest = (char *)digest, .media_type = (char *)"" };
	_cleanup_close_ int fd = -1;

	if (store_txn_staged_open(t, digest, &fd, &d.size) < 0)
		return plate_err_new(err, errno, "blob '%s' is not in the archive", digest);
	return store_source_read(&src, &d, max, data, len, err);
}

static int read_archive_json(struct store_txn *t, const struct archive *a, const char *path,
			     char **data, size_t *len, struct plate_error **err)
{
	const struct archive_file *f = archive_find(a, path, err);

	if (f == NULL || read_staged(t, f->digest, LOAD_MAX_JSON, data, len, err) < 0)
		return plate_err_wrap(err, "'%s'", path);
	return 0;
}

/* ---- naming --------------------------------------------------------------------------- */

/* The normalised reference for a name found in an archive, or NULL (and no error) when
 * the name is only a tag or otherwise not a full image name. */
/* NULL with errno EINVAL when name is no tag, ENOMEM when out of memory. */
static char *normalise_name(const char *name)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct oci_reference ref;
	char *full = NULL;

	errno = EINVAL;
	if (name == NULL || strpbrk(name, "/:") == NULL)
		return NULL;
	if (oci_reference_parse(name, strlen(name), &ref, &err) < 0) {
		errno = err->errno_value == ENOMEM ? ENOMEM : EINVAL;
		return NULL;
	}
	if (ref.tag != NULL && (full = oci_reference_format(&ref)) == NULL)
		errno = ENOMEM;
	oci_reference_release(&ref);
	return full;
}

/* ---- the images found ----------------------------------------------------------------- */

struct found {
	struct store_txn *txn;
};

static int require_blob(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	struct found *f = data;

	if (!store_txn_has_blob(f->txn, d->digest))
		return plate_err_new(err, ENOENT, "blob '%s' (%s) is not in the archive", d->digest,
				     d->media_type);
	return 0;
}

static int extract_layers(void *data, const struct oci_descriptor *desc,
			  const struct oci_manifest *m, const struct oci_config *c,
			  struct plate_error **err)
{
	struct found *f = data;

	if (c == NULL)
		return 0;
	if (c->diff_ids.n != m->n_layers)
		return plate_err_new(err, EINVAL,
				     "manifest '%s' has %zu layers but its config %zu diffIDs",
				     desc->digest, m->n_layers, c->diff_ids.n);
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct oci_media_type *t = oci_media_type_lookup(m->layers[i].media_type);
		if (t == NULL || t->kind != OCI_KIND_LAYER)
			return plate_err_new(err, EINVAL,
					     "layer '%s' has media type '%s', not a layer",
					     m->layers[i].digest, m->layers[i].media_type);
		if (store_txn_snapshot(f->txn, m->layers[i].digest, c->diff_ids.v[i], err) < 0)
			return -1;
	}
	return 0;
}

/* Checks and extracts an image (manifest or index) staged in t, then names it. */
static int add_image(struct store_txn *t, const struct oci_descriptor *root, const char *name,
		     struct store_load_result *out, struct plate_error **err)
{
	struct store_blob_source src = { .store = store_txn_store(t), .txn = t };
	struct store_walk_ops ops = { .blob = require_blob, .image = extract_layers };
	struct found f = { .txn = t };

	if (store_walk(&src, root, &ops, &f, err) < 0 ||
	    store_txn_tag_image(t, name, root, err) < 0)
		return plate_err_wrap(err, "image '%s'", name ? name : root->digest);
	if (name != NULL)
		return oci_strings_add(&out->names, name, err);
	return oci_strings_add(&out->untagged, root->digest, err);
}

static int load_oci_index(struct store_txn *t, const char *index_json, size_t len,
			  struct store_load_result *out, struct plate_error **err)
{
	struct oci_index idx;
	int r = 0;

	if (oci_index_parse(index_json, len, 0, &idx, err) < 0)
		return plate_err_wrap(err, "'index.json'");
	if (idx.n_manifests == 0)
		r = plate_err_new(err, EINVAL, "'index.json' lists no image");
	for (size_t i = 0; i < idx.n_manifests && r == 0; i++) {
		const struct oci_descriptor *d = &idx.manifests[i];
		_cleanup_free_ char *name =
			normalise_name(oci_map_get(&d->annotations, "io.containerd.image.name"));
		if (name == NULL && errno != ENOMEM)
			name = normalise_name(
				oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME));
		r = name == NULL && errno == ENOMEM ? plate_err_new(err, ENOMEM, "out of memory")
						    : add_image(t, d, name, out, err);
	}
	oci_index_release(&idx);
	return r;
}

/* ---- docker-archive ------------------------------------------------------------------- */

static const char *sniff_layer_type(struct store_txn *t, const char *digest)
{
	_cleanup_close_ int fd = -1;
	unsigned char magic[4] = { 0 };
	int64_t size;

	if (store_txn_staged_open(t, digest, &fd, &size) < 0 || pread(fd, magic, 4, 0) != 4)
		return OCI_MEDIA_TYPE_LAYER;
	if (magic[0] == 0x1f && magic[1] == 0x8b)
		return OCI_MEDIA_TYPE_LAYER_GZIP;
	if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
		return OCI_MEDIA_TYPE_LAYER_ZSTD;
	return OCI_MEDIA_TYPE_LAYER;
}

/* A config named "<hex>.json" (docker save before 25) names its own digest. */
static int check_config_name(const char *path, const char *digest, struct plate_error **err)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strlen(base) == DIGEST_HEX_LEN + 5 && strcmp(base + DIGEST_HEX_LEN, ".json") == 0 &&
	    strncmp(base, digest + 7, DIGEST_HEX_LEN) != 0)
		return plate_err_new(err, EILSEQ,
				     "config '%s' does not match its name: content hashes to '%s'",
				     path, digest);
	return 0;
}

static int load_docker_entry(struct store_txn *t, const struct archive *a, json_t *entry,
			     size_t index, struct store_load_result *out, struct plate_error **err)
{
	struct oci_manifest m = { .schema_version = 2 };
	struct oci_descriptor desc = { 0 };
	const struct archive_file *cf;
	_cleanup_free_ char *cjson = NULL, *mjson = NULL;
	const char *config_path = NULL;
	json_t *layers = NULL, *tags = NULL, *v;
	char where[48], mdigest[DIGEST_STRING_LEN + 1];
	struct oci_config c = { 0 };
	size_t len, i;
	int r = -1;

	snprintf(where, sizeof(where), "manifest.json[%zu]", index);
	if (json_get_string(entry, "Config", true, &config_path, where, err) < 0 ||
	    json_get_typed(entry, "Layers", JSON_ARRAY, true, &layers, where, err) < 0 ||
	    json_get_typed(entry, "RepoTags", JSON_ARRAY, false, &tags, where, err) < 0)
		return -1;
	if ((cf = archive_find(a, config_path, err)) == NULL ||
	    check_config_name(config_path, cf->digest, err) < 0 ||
	    read_staged(t, cf->digest, OCI_MAX_CONFIG_SIZE, &cjson, &len, err) < 0 ||
	    oci_config_parse(cjson, len, 0, &c, err) < 0) {
		plate_err_wrap(err, "%s config '%s'", where, config_path);
		goto out;
	}
	if (json_array_size(layers) != c.diff_ids.n) {
		plate_err_new(err, EINVAL, "%s lists %zu layers but its config has %zu diffIDs",
			      where, json_array_size(layers), c.diff_ids.n);
		goto out;
	}
	m.config.media_type = strdup(OCI_MEDIA_TYPE_CONFIG);
	m.config.digest = strdup(cf->digest);
	m.config.size = cf->size;
	m.layers = calloc(c.diff_ids.n + 1, sizeof(*m.layers));
	if (m.config.media_type == NULL || m.config.digest == NULL || m.layers == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(layers, i, v)
	{
		const struct archive_file *lf;
		struct oci_descriptor *l = &m.layers[i];

		if (!json_is_string(v)) {
			plate_err_new(err, EINVAL, "'%s.Layers[%zu]' is not a string", where, i);
			goto out;
		}
		if ((lf = archive_find(a, json_string_value(v), err)) == NULL)
			goto out;
		m.n_layers++;
		l->media_type = strdup(sniff_layer_type(t, lf->digest));
		l->digest = strdup(lf->digest);
		l->size = lf->size;
		if (l->media_type == NULL || l->digest == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		/* Extracting checks the layer against the config's diffID. */
		if (store_txn_snapshot(t, l->digest, c.diff_ids.v[i], err) < 0) {
			plate_err_wrap(err, "layer '%s'", json_string_value(v));
			goto out;
		}
	}
	if (oci_manifest_write(&m, OCI_FORMAT_OCI, &mjson, &len, err) < 0 ||
	    store_txn_add_blob(t, mjson, len, mdigest, err) < 0)
		goto out;
	desc.media_type = (char *)OCI_MEDIA_TYPE_MANIFEST;
	desc.digest = mdigest;
	desc.size = (int64_t)len;
	if (json_array_size(tags) == 0) {
		r = add_image(t, &desc, NULL, out, err);
		goto out;
	}
	json_array_foreach(tags, i, v)
	{
		_cleanup_free_ char *name = NULL;
		if (!json_is_string(v) || (name = normalise_name(json_string_value(v))) == NULL) {
			if (json_is_string(v) && errno == ENOMEM)
				plate_err_new(err, ENOMEM, "out of memory");
			else
				plate_err_new(err, EINVAL,
					      "'%s.RepoTags[%zu]' is not an image name", where, i);
			goto out;
		}
		if (add_image(t, &desc, name, out, err) < 0)
			goto out;
	}
	r = 0;
out:
	oci_manifest_release(&m);
	oci_config_release(&c);
	return r;
}

static int load_docker(struct store_txn *t, const struct archive *a, struct store_load_result *out,
		       struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	json_t *manifest = NULL, *entry;
	size_t len, i;
	int r = 0;

	if (read_archive_json(t, a, "manifest.json", &data, &len, err) < 0 ||
	    json_parse(data, len, LOAD_MAX_JSON, JSON_DEFAULT_MAX_DEPTH, &manifest, err) < 0)
		return plate_err_wrap(err, "docker archive");
	if (!json_is_array(manifest) || json_array_size(manifest) == 0) {
		json_decref(manifest);
		return plate_err_new(err, EINVAL, "docker archive: 'manifest.json' lists no image");
	}
	json_array_foreach(manifest, i, entry)
	{
		if (!json_is_object(entry)) {
			r = plate_err_new(err, EINVAL, "'manifest.json[%zu]' is not an object", i);
			break;
		}
		if ((r = load_docker_entry(t, a, entry, i, out, err)) < 0)
			break;
	}
	json_decref(manifest);
	return r;
}

static bool archive_has(const struct archive *a, const char *path)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->files[i].path, path) == 0)
			return true;
	return false;
}

int store_load(struct store *s, int fd, struct store_load_result *out, struct plate_error **err)
{
	struct store_txn *t = NULL;
	struct archive a = { 0 };
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (store_txn_begin(s, &t, err) < 0 || read_archive(t, fd, &s->limits, &a, err) < 0)
		goto out;
	if (archive_has(&a, "oci-layout")) {
		_cleanup_free_ char *layout = NULL, *index = NULL;
		size_t len, ilen;
		if (read_archive_json(t, &a, "oci-layout", &layout, &len, err) < 0 ||
		    oci_layout_header_parse(layout, len, err) < 0 ||
		    read_archive_json(t, &a, "index.json", &index, &ilen, err) < 0 ||
		    load_oci_index(t, index, ilen, out, err) < 0) {
			plate_err_wrap(err, "OCI archive");
			goto out;
		}
	} else if (archive_has(&a, "manifest.json")) {
		if (load_docker(t, &a, out, err) < 0)
			goto out;
	} else {
		plate_err_new(err, EINVAL,
			      "not an image archive: it has neither 'oci-layout' nor "
			      "'manifest.json'");
		goto out;
	}
	r = store_txn_commit(t, err);
out:
	store_txn_free(t);
	archive_release(&a);
	if (r < 0)
		store_load_result_release(out);
	return r;
}

/* ---- OCI layout directories ----------------------------------------------------------- */

static int stage_layout_blob(struct store_txn *t, int dirfd, const struct oci_descriptor *d,
			     unsigned depth, struct plate_error **err);

static int stage_file(struct store_txn *t, int dirfd, const struct oci_descriptor *d,
		      struct plate_error **err)
{
	struct store_blob_writer *w = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	const char *hex = store_digest_hex(d->digest, err);
	char path[DIGEST_HEX_LEN + 16];
	int r = -1;

	if (hex == NULL)
		return -1;
	if (store_txn_has_blob(t, d->digest))
		return 0;
	snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
	/* Non-blocking, typed and sized before a byte is copied: a FIFO must not hang the load,
	 * a huge or sparse file must not be copied only to fail its digest. */
	fd = openat(dirfd, path, FILE_READ_OPEN_FLAGS | O_NOFOLLOW);
	if (fd < 0)
		return plate_err_new(err, errno, "blob '%s' (%s)", d->digest, d->media_type);
	if (fstat(fd, &st) < 0)
		return plate_err_new(err, errno, "blob '%s'", d->digest);
	if (!S_ISREG(st.st_mode))
		return plate_err_new(err, 0, "blob '%s' is not a regular file", d->digest);
	if (st.st_size != d->size)
		return plate_err_new(err, 0, "blob '%s' has %lld bytes, its descriptor says %lld",
				     d->digest, (long long)st.st_size, (long long)d->size);
	if (store_txn_blob_writer(t, d->digest, d->size, &w, err) < 0)
		return -1;
	if (store_fs_copy(fd, store_blob_writer_fd(w), err) == 0 &&
	    store_blob_writer_finish(w, NULL, NULL, err) == 0)
		r = 0;
	store_blob_writer_free(w);
	return r < 0 ? plate_err_wrap(err, "blob '%s'", d->digest) : 0;
}

static int stage_layout_blob(struct store_txn *t, int dirfd, const struct oci_descriptor *d,
			     unsigned depth, struct plate_error **err)
{
	const struct oci_media_type *mt = oci_media_type_lookup(d->media_type);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = 0;

	if (depth > 8)
		return plate_err_new(err, ELOOP, "index '%s' nests too deep", d->digest);
	if (stage_file(t, dirfd, d, err) < 0)
		return -1;
	if (mt == NULL || (mt->kind != OCI_KIND_INDEX && mt->kind != OCI_KIND_MANIFEST))
		return 0;
	/* Staged now, or already in the store (stage_file skips those). */
	struct store_blob_source src = { .store = store_txn_store(t), .txn = t };
	if (store_source_read(&src, d, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0)
		return -1;
	if (mt->kind == OCI_KIND_INDEX) {
		struct oci_index idx;
		if (oci_index_parse(data, len, 0, &idx, err) < 0)
			return plate_err_wrap(err, "index '%s'", d->digest);
		for (size_t i = 0; i < idx.n_manifests && r == 0; i++)
			r = stage_layout_blob(t, dirfd, &idx.manifests[i], depth + 1, err);
		oci_index_release(&idx);
		return r;
	}
	struct oci_manifest m;
	if (oci_manifest_parse(data, len, 0, &m, err) < 0)
		return plate_err_wrap(err, "manifest '%s'", d->digest);
	r = stage_file(t, dirfd, &m.config, err);
	for (size_t i = 0; i < m.n_layers && r == 0; i++)
		r = stage_file(t, dirfd, &m.layers[i], err);
	oci_manifest_release(&m);
	return r;
}

int store_load_layout(struct store *s, const char *dir, struct store_load_result *out,
		      struct plate_error **err)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *layout = NULL, *index = NULL;
	struct store_txn *t = NULL;
	struct oci_index idx = { 0 };
	size_t len, ilen;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (dirfd < 0)
		return plate_err_new(err, errno, "cannot open OCI layout '%s'", dir);
	if (store_fs_read_file(dirfd, "oci-layout", 4096, &layout, &len, err) < 0 ||
	    oci_layout_header_parse(layout, len, err) < 0 ||
	    store_fs_read_file(dirfd, "index.json", LOAD_MAX_JSON, &index, &ilen, err) < 0 ||
	    oci_index_parse(index, ilen, 0, &idx, err) < 0)
		return plate_err_wrap(err, "OCI layout '%s'", dir);
	if (store_txn_begin(s, &t, err) < 0)
		goto out;
	for (size_t i = 0; i < idx.n_manifests; i++)
		if (stage_layout_blob(t, dirfd, &idx.manifests[i], 0, err) < 0) {
			plate_err_wrap(err, "OCI layout '%s'", dir);
			goto out;
		}
	if (load_oci_index(t, index, ilen, out, err) < 0) {
		plate_err_wrap(err, "OCI layout '%s'", dir);
		goto out;
	}
	r = store_txn_commit(t, err);
out:
	store_txn_free(t);
	oci_index_release(&idx);
	if (r < 0)
		store_load_result_release(out);
	return r;
}

void store_load_result_release(struct store_load_result *r)
{
	oci_strings_release(&r->names);
	oci_strings_release(&r->untagged);
}
