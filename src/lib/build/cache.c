/*
 * --cache-from and --cache-to (docs/internals/cache.md): the build cache shared through a
 * registry, an OCI layout directory, or an image's inline cache.
 *
 * A cache is an OCI image manifest with artifactType BUILD_CACHE_ARTIFACT_TYPE, a config
 * of type BUILD_CACHE_CONFIG_TYPE holding the entries (engine_cache_encode()) and the layer
 * blobs as its layers, so a registry that already has a blob is not sent it again.  An
 * inline cache is the same entries in an image manifest's annotation, its blobs the image's
 * layers.  Importing reads manifests and the config only; blobs are fetched by the engine
 * when it needs a layer's files (build_cache_fetch).  A source that cannot be read is a
 * warning, never a failure: a cache only saves time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "base/output.h"
#include "build/build_internal.h"

#define SMALL_MAX ((size_t)16 << 20)

static const char *const labels[] = {
	[BUILD_CACHE_REGISTRY] = "registry",
	[BUILD_CACHE_LOCAL] = "local",
	[BUILD_CACHE_INLINE] = "inline",
};

void build_cache_release(struct build_cache *c)
{
	for (size_t i = 0; i < c->n_sources; i++)
		oci_reference_release(&c->sources[i].ref);
	free(c->sources);
	free(c->labels);
	free(c->entries);
	memset(c, 0, sizeof(*c));
}

/* ---- reading a source ---------------------------------------------------------------------- */

static int sink_buf(void *data, const void *p, size_t len, struct plate_error **err)
{
	return buf_add(data, p, len) < 0 ? plate_err_new(err, E2BIG, "document too large") : 0;
}

static int sink_buf_reset(void *data, struct plate_error **err)
{
	buf_reset(data);
	return 0;
}

static int registry_small_blob(struct registry_client *rc, const struct oci_reference *ref,
			       const struct oci_descriptor *d, struct buf *out,
			       struct plate_error **err)
{
	struct registry_sink sink = { .write = sink_buf, .reset = sink_buf_reset, .data = out };

	if (d->size < 0 || (uint64_t)d->size > SMALL_MAX)
		return plate_err_new(err, E2BIG, "config of %lld bytes", (long long)d->size);
	return registry_fetch_blob(rc, ref, d->digest, (uint64_t)d->size, SMALL_MAX, &sink, err);
}

/* A local layout's blob, read whole and checked against its digest. */
static int local_blob(const char *dir, const char *digest, size_t max, char **data, size_t *len,
		      struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;
	char got[DIGEST_STRING_LEN + 1];

	if (!digest_is_valid(digest))
		return plate_err_new(err, EINVAL, "bad digest '%s'", digest);
	if (asprintf(&path, "%s/blobs/sha256/%s", dir, digest + 7) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (file_read_at(AT_FDCWD, path, FILE_READ_NOFOLLOW, max, data, len, err) < 0)
		return -1;
	if (digest_buffer(*data, *len, got, err) < 0 || strcmp(got, digest) != 0) {
		free(steal_pointer(data));
		return plate_err_new(err, EBADMSG, "blob '%s' does not match its digest", digest);
	}
	return 0;
}

/* The manifest of a local layout tagged `tag` (org.opencontainers.image.ref.name). */
static int local_manifest(const char *dir, const char *tag, struct buf *out,
			  struct plate_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL, *doc = NULL;
	struct oci_index idx = { 0 };
	const char *digest = NULL;
	size_t len;
	int r = -1;

	if (asprintf(&path, "%s/index.json", dir) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (file_read_at(AT_FDCWD, path, FILE_READ_NOFOLLOW, SMALL_MAX, &text, &len, err) < 0 ||
	    oci_index_parse(text, len, 0, &idx, err) < 0)
		return -1;
	for (size_t i = 0; i < idx.n_manifests && digest == NULL; i++) {
		const char *n = oci_map_get(&idx.manifests[i].annotations, OCI_ANNOTATION_REF_NAME);
		if (n != NULL && strcmp(n, tag) == 0)
			digest = idx.manifests[i].digest;
	}
	if (digest == NULL)
		plate_err_new(err, ENOENT, "no cache tagged '%s' in '%s'", tag, dir);
	else if (local_blob(dir, digest, OCI_MAX_MANIFEST_SIZE, &doc, &len, err) == 0)
		r = buf_add(out, doc, len) < 0 ? plate_err_new(err, E2BIG, "manifest too large")
					       : 0;
	oci_index_release(&idx);
	return r;
}

/* The entries a manifest carries: its config (a cache artifact), or its annotation (an
 * image with an inline cache). */
static int manifest_entries(struct build_cache *c, const struct build_cache_spec *spec,
			    struct registry_client *rc, const struct buf *mtext, unsigned source,
			    struct engine_cache_entry **v, size_t *n, struct plate_error **err)
{
	struct oci_manifest m = { 0 };
	_cleanup_buf_ struct buf cfg = BUF_INIT(SMALL_MAX);
	_cleanup_free_ char *local = NULL;
	const char *doc;
	size_t len = 0;
	int r = -1;

	if (oci_manifest_parse(mtext->data, mtext->len, 0, &m, err) < 0)
		return -1;
	if (spec->type == BUILD_CACHE_INLINE) {
		doc = oci_map_get(&m.annotations, ENGINE_CACHE_ANNOTATION);
		if (doc == NULL) {
			plate_err_new(err, ENOENT, "the image has no inline cache");
			goto out;
		}
		len = strlen(doc);
	} else {
		if (m.config.media_type == NULL ||
		    strcmp(m.config.media_type, BUILD_CACHE_CONFIG_TYPE) != 0) {
			plate_err_new(err, EPROTONOSUPPORT, "not a plate build cache (config '%s')",
				      m.config.media_type ? m.config.media_type : "");
			goto out;
		}
		if (spec->type == BUILD_CACHE_REGISTRY
			    ? registry_small_blob(rc, &c->sources[source].ref, &m.config, &cfg, err)
			    : local_blob(spec->dir, m.config.digest, SMALL_MAX, &local, &len, err))
			goto out;
		doc = local != NULL ? local : cfg.data;
		len = local != NULL ? len : cfg.len;
	}
	r = engine_cache_decode(doc, len, m.layers, m.n_layers, source, v, n, err);
out:
	oci_manifest_release(&m);
	return r;
}

/* The inline caches of an index's images (a multi-platform image): each platform's manifest
 * carries its own entries, its layers in the same repository; the entries of all of them,
 * in the index's order (a key that does not depend on the platform is in each, the same).
 * An image without an inline cache adds nothing; an index none of whose images has one is
 * not a cache. */
static int index_entries(struct build_cache *c, const struct build_cache_spec *spec,
			 struct registry_client *rc, const struct registry_manifest *index,
			 unsigned source, struct engine_cache_entry **v, size_t *n,
			 struct plate_error **err)
{
	struct oci_reference ref = c->sources[source].ref;
	struct oci_index idx = { 0 };
	int r = -1;

	*v = NULL;
	*n = 0;
	if (oci_index_parse(index->data, index->len, 0, &idx, err) < 0)
		return -1;
	ref.tag = NULL;
	for (size_t i = 0; i < idx.n_manifests; i++) {
		_cleanup_buf_ struct buf mtext = BUF_INIT(OCI_MAX_MANIFEST_SIZE);
		_cleanup_error_ struct plate_error *none = NULL;
		struct registry_manifest rm = { 0 };
		struct engine_cache_entry *one = NULL, *grown;
		size_t k = 0;
		int got;

		if (strcmp(idx.manifests[i].media_type, OCI_MEDIA_TYPE_MANIFEST) != 0)
			continue;
		ref.digest = idx.manifests[i].digest;
		if (registry_get_manifest(rc, &ref, &rm, err) < 0)
			goto out;
		got = buf_add(&mtext, rm.data, rm.len);
		registry_manifest_release(&rm);
		if (got < 0) {
			plate_err_new(err, E2BIG, "manifest too large");
			goto out;
		}
		if (manifest_entries(c, spec, rc, &mtext, source, &one, &k, &none) < 0) {
			if (none->errno_value != ENOENT) {
				*err = steal_pointer(&none);
				goto out;
			}
			continue;
		}
		grown = realloc(*v, (*n + k + 1) * sizeof(*grown));
		if (grown == NULL) {
			free(one);
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		memcpy(grown + *n, one, k * sizeof(*one));
		free(one);
		*v = grown;
		*n += k;
	}
	r = *v != NULL ? 0
		       : plate_err_new(err, ENOENT, "no image of the index has an inline cache");
out:
	if (r < 0)
		free(steal_pointer(v));
	oci_index_release(&idx);
	return r;
}

static int read_source(struct build_cache *c, const struct build_cache_spec *spec,
		       const struct registry_options *ro, unsigned source,
		       struct engine_cache_entry **v, size_t *n, struct plate_error **err)
{
	struct cache_source *s = &c->sources[source];
	struct registry_client *rc = NULL;
	struct registry_manifest rm = { 0 };
	_cleanup_buf_ struct buf mtext = BUF_INIT(OCI_MAX_MANIFEST_SIZE);
	int r = -1;

	s->spec = spec;
	if (spec->type == BUILD_CACHE_LOCAL) {
		if (local_manifest(spec->dir, spec->tag ? spec->tag : "latest", &mtext, err) < 0)
			return -1;
		return manifest_entries(c, spec, NULL, &mtext, source, v, n, err);
	}
	if (oci_reference_parse(spec->ref, strlen(spec->ref), &s->ref, err) < 0 ||
	    registry_client_new(ro, &rc, err) < 0)
		return -1;
	if (registry_get_manifest(rc, &s->ref, &rm, err) < 0)
		goto out;
	if (spec->type == BUILD_CACHE_INLINE && strcmp(rm.media_type, OCI_MEDIA_TYPE_INDEX) == 0) {
		r = index_entries(c, spec, rc, &rm, source, v, n, err);
		goto out;
	}
	if (strcmp(rm.media_type, OCI_MEDIA_TYPE_MANIFEST) != 0) {
		plate_err_new(err, EPROTONOSUPPORT, "'%s' is a '%s', not an OCI manifest",
			      spec->ref, rm.media_type);
		goto out;
	}
	if (buf_add(&mtext, rm.data, rm.len) < 0) {
		plate_err_new(err, E2BIG, "manifest too large");
		goto out;
	}
	r = manifest_entries(c, spec, rc, &mtext, source, v, n, err);
out:
	registry_manifest_release(&rm);
	registry_client_free(rc);
	return r;
}

static int append_entries(struct build_cache *c, struct engine_cache_entry *v, size_t n,
			  struct plate_error **err)
{
	struct engine_cache_entry *grown = realloc(c->entries, (c->n + n + 1) * sizeof(*grown));

	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	memcpy(grown + c->n, v, n * sizeof(*v));
	c->entries = grown;
	c->n += n;
	return 0;
}

int build_cache_import(struct build_cache *c, const struct build_cache_spec *specs, size_t n,
		       const struct registry_options *ro, build_cache_warn_fn *warn, void *data,
		       struct plate_error **err)
{
	c->sources = calloc(n + 1, sizeof(*c->sources));
	c->labels = calloc(n + 1, sizeof(*c->labels));
	if (c->sources == NULL || c->labels == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	c->n_sources = n;
	for (size_t i = 0; i < n; i++) {
		_cleanup_error_ struct plate_error *why = NULL;
		struct engine_cache_entry *v = NULL;
		size_t k = 0;
		int r;

		c->labels[i] = labels[specs[i].type];
		if (read_source(c, &specs[i], ro, (unsigned)i, &v, &k, &why) < 0) {
			warn(data, build_cache_spec_name(&specs[i]), why);
			continue;
		}
		r = append_entries(c, v, k, err);
		free(v);
		if (r < 0)
			return -1;
	}
	return 0;
}

const char *build_cache_drop(struct build_cache *c, unsigned source, const char *bad_blob)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++) {
		const struct engine_cache_entry *x = &c->entries[i];
		bool drop = x->source == source &&
			    (bad_blob[0] != '\0' || (!x->empty && x->blob[0] == '\0'));
		if (!drop)
			c->entries[k++] = *x;
	}
	c->n = k;
	return source < c->n_sources ? build_cache_spec_name(c->sources[source].spec) : "?";
}

/* ---- blobs for the engine --------------------------------------------------------------- */

static int copy_fd(int in, int out, int64_t size, struct plate_error **err)
{
	char b[65536];
	int64_t total = 0;
	ssize_t got;

	while ((got = read(in, b, sizeof(b))) > 0) {
		total += got;
		if (total > size)
			return plate_err_new(err, EBADMSG, "blob larger than its descriptor says");
		if (write_all(out, b, (size_t)got) < 0)
			return plate_err_new(err, errno, "cannot write a blob");
	}
	return got < 0 ? plate_err_new(err, errno, "cannot read a blob") : 0;
}

int build_cache_fetch(void *data, unsigned source, const char *digest, int64_t size, int fd,
		      struct plate_error **err)
{
	struct build_cache *c = data;
	const struct cache_source *s = &c->sources[source];
	struct registry_client *rc = NULL;
	struct registry_fd_sink fs;
	struct registry_sink sink;
	int r;

	if (s->spec->type == BUILD_CACHE_LOCAL) {
		_cleanup_free_ char *path = NULL;
		_cleanup_close_ int in = -1;
		if (!digest_is_valid(digest) ||
		    asprintf(&path, "%s/blobs/sha256/%s", s->spec->dir, digest + 7) < 0)
			return plate_err_new(err, EINVAL, "bad blob '%s'", digest);
		if ((in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
			return plate_err_new(err, errno, "cannot open '%s'", path);
		return copy_fd(in, fd, size, err);
	}
	if (registry_client_new(c->registry, &rc, err) < 0)
		return -1;
	r = registry_fd_sink_init(&fs, fd, &sink, err);
	if (r == 0)
		r = registry_fetch_blob(rc, &s->ref, digest, (uint64_t)size, 0, &sink, err);
	registry_client_free(rc);
	return r;
}

const char *build_cache_spec_name(const struct build_cache_spec *s)
{
	return s->type == BUILD_CACHE_LOCAL ? s->dir : s->ref;
}
