/*
 * --cache-to type=registry|local: the entries of a build as a cache artifact (an OCI image
 * manifest with its own artifactType, the entries as its config, the layer blobs as its
 * layers; docs/internals/cache.md), pushed to a registry or written into an OCI layout
 * directory.  Blobs the destination already has are not sent: a registry is asked first
 * (HEAD), and a blob that lives in another repository of the same registry is mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/output.h"
#include "build/build_internal.h"

struct artifact {
	struct oci_descriptor *layers; /* borrowed strings (from the entries) */
	size_t n_layers;
	size_t *first; /* entry index of each layer's first use */
	char *config, *manifest;
	size_t config_len, manifest_len;
	char config_digest[DIGEST_STRING_LEN + 1];
	unsigned uploaded;
	uint64_t bytes;
};

static void artifact_release(struct artifact *a)
{
	free(a->layers);
	free(a->first);
	free(a->config);
	free(a->manifest);
}

static int artifact_make(const struct engine_cache_entry *v, size_t n, struct artifact *a,
			 struct plate_error **err)
{
	struct oci_manifest m = { .schema_version = 2,
				  .artifact_type = (char *)BUILD_CACHE_ARTIFACT_TYPE };

	a->layers = calloc(n + 1, sizeof(*a->layers));
	a->first = calloc(n + 1, sizeof(*a->first));
	if (a->layers == NULL || a->first == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		bool seen = v[i].blob[0] == '\0';
		for (size_t k = 0; !seen && k < a->n_layers; k++)
			seen = strcmp(a->layers[k].digest, v[i].blob) == 0;
		if (seen)
			continue;
		a->first[a->n_layers] = i;
		a->layers[a->n_layers++] =
			(struct oci_descriptor){ .media_type = (char *)v[i].media_type,
						 .digest = (char *)v[i].blob,
						 .size = v[i].size };
	}
	if (engine_cache_encode(v, n, a->layers, a->n_layers, &a->config, &a->config_len, err) <
		    0 ||
	    digest_buffer(a->config, a->config_len, a->config_digest, err) < 0)
		return -1;
	m.config = (struct oci_descriptor){ .media_type = (char *)BUILD_CACHE_CONFIG_TYPE,
					    .digest = a->config_digest,
					    .size = (int64_t)a->config_len };
	m.layers = a->layers;
	m.n_layers = a->n_layers;
	return oci_manifest_write(&m, OCI_FORMAT_OCI, &a->manifest, &a->manifest_len, err);
}

/* A layer blob as a file, opened on first read: from the store, or fetched from the cache
 * it was found in (a hit whose files this build never needed) into an anonymous file.  A
 * registry that has the blob, or mounts it, never causes the fetch. */
struct lazy_blob {
	struct store *store;
	struct build_cache *imports;
	const struct engine_cache_entry *x;
	bool remote;
	int fd;
};

static int lazy_open(struct lazy_blob *l, struct plate_error **err)
{
	int64_t size;
	int mfd;

	if (l->fd >= 0)
		return 0;
	if (!l->remote)
		return store_blob_open(l->store, l->x->blob, &l->fd, &size, err);
	if ((mfd = memfd_create("plate-cache-blob", MFD_CLOEXEC)) < 0)
		return plate_err_new(err, errno, "cannot create a temporary file");
	if (build_cache_fetch(l->imports, l->x->source, l->x->blob, l->x->size, mfd, err) < 0) {
		close(mfd);
		return -1;
	}
	l->fd = mfd;
	return 0;
}

static int lazy_read_at(void *data, uint64_t offset, void *buf, size_t len,
			struct plate_error **err)
{
	struct lazy_blob *l = data;
	size_t done = 0;

	if (lazy_open(l, err) < 0)
		return -1;
	while (done < len) {
		ssize_t got = pread(l->fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (got <= 0)
			return plate_err_new(err, got < 0 ? errno : EIO, "cannot read blob '%s'",
					     l->x->blob);
		done += (size_t)got;
	}
	return 0;
}

/* ---- registry ----------------------------------------------------------------------------- */

static int push_layer(struct registry_client *rc, const struct oci_reference *ref,
		      struct lazy_blob *l, struct artifact *a, struct plate_error **err)
{
	struct registry_source src = { .read_at = lazy_read_at,
				       .data = l,
				       .size = (uint64_t)l->x->size };
	enum registry_push_result how;
	const char *mount_from = NULL;

	if (l->remote && l->imports->sources[l->x->source].spec->type != BUILD_CACHE_LOCAL) {
		const struct oci_reference *from = &l->imports->sources[l->x->source].ref;
		if (strcmp(from->domain, ref->domain) == 0 && strcmp(from->path, ref->path) != 0)
			mount_from = from->path;
	}
	if (registry_push_blob(rc, ref, l->x->blob, &src, mount_from, &how, err) < 0)
		return -1;
	if (how == REGISTRY_BLOB_UPLOADED) {
		a->uploaded++;
		a->bytes += (uint64_t)l->x->size;
	}
	return 0;
}

static int push_registry(const struct build_cache_spec *spec, const struct registry_options *ro,
			 struct lazy_blob *blobs, struct artifact *a, struct plate_error **err)
{
	struct oci_reference ref = { 0 };
	struct registry_client *rc = NULL;
	struct registry_mem_source ms;
	struct registry_source src;
	enum registry_push_result how;
	char digest[DIGEST_STRING_LEN + 1];
	int r = -1;

	if (oci_reference_parse(spec->ref, strlen(spec->ref), &ref, err) < 0)
		return -1;
	if (registry_client_new(ro, &rc, err) < 0)
		goto out;
	for (size_t i = 0; i < a->n_layers; i++)
		if (push_layer(rc, &ref, &blobs[i], a, err) < 0)
			goto out;
	registry_mem_source_init(&ms, a->config, a->config_len, &src);
	if (registry_push_blob(rc, &ref, a->config_digest, &src, NULL, &how, err) < 0 ||
	    registry_push_manifest(rc, &ref, OCI_MEDIA_TYPE_MANIFEST, a->manifest, a->manifest_len,
				   digest, err) < 0)
		goto out;
	a->uploaded += (how == REGISTRY_BLOB_UPLOADED) + 1;
	a->bytes += (how == REGISTRY_BLOB_UPLOADED ? a->config_len : 0) + a->manifest_len;
	r = 0;
out:
	registry_client_free(rc);
	oci_reference_release(&ref);
	return r;
}

/* ---- OCI layout directory ------------------------------------------------------------------ */

static int write_file(const char *path, const void *data, size_t len, struct plate_error **err)
{
	struct replace_file rf = REPLACE_FILE_INIT;

	if (replace_file_open(&rf, path, 0644, err) < 0)
		return -1;
	if (write_all(rf.fd, data, len) < 0) {
		plate_err_new(err, errno, "cannot write '%s'", path);
		replace_file_abort(&rf);
		return -1;
	}
	return replace_file_commit(&rf, err);
}

static int blob_path(const char *dir, const char *digest, char **path, struct plate_error **err)
{
	if (asprintf(path, "%s/blobs/sha256/%s", dir, digest + 7) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

/* A blob the directory lacks, written whole (temporary file, fsync, rename). */
static int put_blob(const char *dir, const char *digest, struct lazy_blob *l, const void *data,
		    size_t len, struct artifact *a, struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;
	struct replace_file rf = REPLACE_FILE_INIT;
	char b[65536];
	uint64_t off = 0, size = l != NULL ? (uint64_t)l->x->size : len;

	if (blob_path(dir, digest, &path, err) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	if (replace_file_open(&rf, path, 0644, err) < 0)
		return -1;
	while (off < size) {
		size_t k = size - off < sizeof(b) ? (size_t)(size - off) : sizeof(b);
		const void *p = data != NULL ? (const char *)data + off : b;
		if ((l != NULL && lazy_read_at(l, off, b, k, err) < 0) ||
		    (write_all(rf.fd, p, k) < 0 &&
		     plate_err_new(err, errno, "cannot write '%s'", path) < 0)) {
			replace_file_abort(&rf);
			return -1;
		}
		off += k;
	}
	a->uploaded++;
	a->bytes += size;
	return replace_file_commit(&rf, err);
}

/* index.json with the manifest under tag, replacing the entry of that tag. */
static int put_index(const char *dir, const char *tag, const struct artifact *a,
		     struct plate_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL, *out = NULL;
	struct oci_index idx = { .schema_version = 2 };
	struct oci_descriptor d = { .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
				    .artifact_type = (char *)BUILD_CACHE_ARTIFACT_TYPE };
	struct oci_descriptor *grown;
	char mdigest[DIGEST_STRING_LEN + 1];
	size_t len, k = 0;
	int r = -1;

	if (asprintf(&path, "%s/index.json", dir) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (file_read_at(AT_FDCWD, path, FILE_READ_NOFOLLOW, (size_t)16 << 20, &text, &len, err) ==
		    0 &&
	    oci_index_parse(text, len, 0, &idx, err) < 0)
		return plate_err_wrap(err, "'%s'", path);
	if (text == NULL) {
		plate_error_free(*err);
		*err = NULL;
	}
	for (size_t i = 0; i < idx.n_manifests; i++) {
		const char *n = oci_map_get(&idx.manifests[i].annotations, OCI_ANNOTATION_REF_NAME);
		if (n != NULL && strcmp(n, tag) == 0)
			oci_descriptor_release(&idx.manifests[i]);
		else
			idx.manifests[k++] = idx.manifests[i];
	}
	idx.n_manifests = k;
	if (digest_buffer(a->manifest, a->manifest_len, mdigest, err) < 0)
		goto out;
	d.digest = mdigest;
	d.size = (int64_t)a->manifest_len;
	grown = realloc(idx.manifests, (idx.n_manifests + 1) * sizeof(*grown));
	if (grown == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	idx.manifests = grown;
	if (oci_map_set(&d.annotations, OCI_ANNOTATION_REF_NAME, tag, err) < 0 ||
	    oci_descriptor_copy(&grown[idx.n_manifests], &d, err) < 0)
		goto out;
	idx.n_manifests++;
	if (oci_index_write(&idx, OCI_FORMAT_OCI, &out, &len, err) < 0 ||
	    write_file(path, out, len, err) < 0)
		goto out;
	r = 0;
out:
	oci_map_release(&d.annotations);
	oci_index_release(&idx);
	return r;
}

static int mkdir_one(const char *path, struct plate_error **err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s'", path);
	return 0;
}

static int write_local(const struct build_cache_spec *spec, struct lazy_blob *blobs,
		       struct artifact *a, struct plate_error **err)
{
	_cleanup_free_ char *blobs_dir = NULL, *sha = NULL, *layout = NULL;
	char mdigest[DIGEST_STRING_LEN + 1];

	if (asprintf(&blobs_dir, "%s/blobs", spec->dir) < 0 ||
	    asprintf(&sha, "%s/blobs/sha256", spec->dir) < 0 ||
	    asprintf(&layout, "%s/oci-layout", spec->dir) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (mkdir_one(spec->dir, err) < 0 || mkdir_one(blobs_dir, err) < 0 ||
	    mkdir_one(sha, err) < 0 ||
	    write_file(layout, oci_layout_header(), strlen(oci_layout_header()), err) < 0)
		return -1;
	for (size_t i = 0; i < a->n_layers; i++)
		if (put_blob(spec->dir, a->layers[i].digest, &blobs[i], NULL, 0, a, err) < 0)
			return -1;
	if (digest_buffer(a->manifest, a->manifest_len, mdigest, err) < 0 ||
	    put_blob(spec->dir, a->config_digest, NULL, a->config, a->config_len, a, err) < 0 ||
	    put_blob(spec->dir, mdigest, NULL, a->manifest, a->manifest_len, a, err) < 0)
		return -1;
	return put_index(spec->dir, spec->tag ? spec->tag : "latest", a, err);
}

int build_cache_export(const struct build_cache_spec *spec, struct store *store,
		       const struct registry_options *ro, struct build_cache *imports,
		       const struct engine_cache_entry *v, const bool *remote, size_t n,
		       unsigned *uploaded, uint64_t *bytes, struct plate_error **err)
{
	struct artifact a = { 0 };
	struct lazy_blob *blobs = NULL;
	int r = -1;

	if (artifact_make(v, n, &a, err) < 0)
		goto out;
	if ((blobs = calloc(a.n_layers + 1, sizeof(*blobs))) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < a.n_layers; i++)
		blobs[i] = (struct lazy_blob){ .store = store,
					       .imports = imports,
					       .x = &v[a.first[i]],
					       .remote = remote[a.first[i]],
					       .fd = -1 };
	r = spec->type == BUILD_CACHE_LOCAL ? write_local(spec, blobs, &a, err)
					    : push_registry(spec, ro, blobs, &a, err);
	*uploaded = a.uploaded;
	*bytes = a.bytes;
out:
	for (size_t i = 0; blobs != NULL && i < a.n_layers; i++)
		if (blobs[i].fd >= 0)
			close(blobs[i].fd);
	free(blobs);
	artifact_release(&a);
	if (r < 0)
		plate_err_wrap(err, "cache to '%s'", build_cache_spec_name(spec));
	return r;
}
