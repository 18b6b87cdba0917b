/*
 * transfer_push(): a stored image to a registry.  Blobs first (config and layers, each
 * HEAD-checked by registry_push_blob()), then the manifest; for an index, each listed
 * manifest the store holds by digest, then the index under the tag.  The store's shared
 * lock is held throughout so that gc cannot remove a blob being sent.  A blob is mounted
 * from another repository of the destination registry when the image itself, or another
 * stored image holding that blob (a base pulled from there), is named in it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "transfer/transfer_internal.h"

struct blob_origin {
	char *digest;
	char *repo;
};

struct pusher {
	const struct transfer_options *o;
	struct registry_options reg; /* o's, with byte counts forwarded */
	struct registry_client *c;
	const struct oci_reference *dest;
	const char *mount_from; /* a repository of the same registry naming the image, or NULL */
	struct blob_origin
		*origins; /* other images' blobs in other repositories of dest's registry */
	size_t n_origins;
	struct transfer_result *res;
};

/* The store keeps no per-blob origin, but every image's names say where it was pulled from
 * or pushed to.  At most this many index.json entries are looked at. */
#define ORIGIN_SCAN_MAX 512

static void origins_free(struct pusher *p)
{
	for (size_t i = 0; i < p->n_origins; i++) {
		free(p->origins[i].digest);
		free(p->origins[i].repo);
	}
	free(p->origins);
}

static int origin_add(struct pusher *p, const char *digest, const char *repo)
{
	struct blob_origin *v = realloc(p->origins, (p->n_origins + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	p->origins = v;
	v[p->n_origins].digest = strdup(digest);
	v[p->n_origins].repo = strdup(repo);
	if (v[p->n_origins].digest == NULL || v[p->n_origins].repo == NULL) {
		free(v[p->n_origins].digest);
		free(v[p->n_origins].repo);
		return -1;
	}
	p->n_origins++;
	return 0;
}

/* Records the blobs of every stored image (a manifest, not an index) named in another
 * repository of dest's registry, e.g. the base a built image was made FROM: those can be
 * mounted instead of uploaded.  Best effort: an entry that cannot be read is skipped, as
 * a mount is only a shortcut (a registry that cannot mount answers with an upload). */
static void find_blob_origins(struct pusher *p)
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	struct oci_index idx;

	if (store_index_read(p->o->store, &idx, &ignored) < 0)
		return;
	for (size_t i = 0; i < idx.n_manifests && i < ORIGIN_SCAN_MAX; i++) {
		const struct oci_descriptor *e = &idx.manifests[i];
		const char *name = oci_map_get(&e->annotations, OCI_ANNOTATION_REF_NAME);
		const struct oci_media_type *t = oci_media_type_lookup(e->media_type);
		_cleanup_free_ char *data = NULL;
		struct oci_reference ref;
		struct oci_manifest m;
		size_t len;
		int r = 0;

		if (name == NULL || t == NULL || t->kind != OCI_KIND_MANIFEST ||
		    oci_reference_parse(name, strlen(name), &ref, &ignored) < 0) {
			plate_error_free(ignored);
			ignored = NULL;
			continue;
		}
		if (strcmp(ref.domain, p->dest->domain) == 0 &&
		    strcmp(ref.path, p->dest->path) != 0 &&
		    store_blob_read(p->o->store, e->digest, OCI_MAX_MANIFEST_SIZE, &data, &len,
				    &ignored) == 0 &&
		    oci_manifest_parse(data, len, 0, &m, &ignored) == 0) {
			r = origin_add(p, m.config.digest, ref.path);
			for (size_t j = 0; j < m.n_layers && r == 0; j++)
				r = origin_add(p, m.layers[j].digest, ref.path);
			oci_manifest_release(&m);
		}
		plate_error_free(ignored);
		ignored = NULL;
		oci_reference_release(&ref);
		if (r < 0)
			break;
	}
	oci_index_release(&idx);
}

/* Where to mount d from: the image's own other repository, else one holding that blob. */
static const char *mount_source(const struct pusher *p, const char *digest)
{
	if (p->mount_from != NULL)
		return p->mount_from;
	for (size_t i = 0; i < p->n_origins; i++)
		if (strcmp(p->origins[i].digest, digest) == 0)
			return p->origins[i].repo;
	return NULL;
}

static const char *result_name(enum registry_push_result r)
{
	switch (r) {
	case REGISTRY_BLOB_EXISTED:
		return "exists";
	case REGISTRY_BLOB_MOUNTED:
		return "mounted";
	case REGISTRY_BLOB_UPLOADED:
		return "uploaded";
	default:
		return "?";
	}
}

static int push_blob(struct pusher *p, const struct oci_descriptor *d, struct plate_error **err)
{
	_cleanup_close_ int fd = -1;
	struct registry_fd_source fs;
	struct registry_source src;
	enum registry_push_result result;
	int64_t size;

	if (store_blob_open(p->o->store, d->digest, &fd, &size, err) < 0)
		return -1;
	registry_fd_source_init(&fs, fd, (uint64_t)size, &src);
	if (registry_push_blob(p->c, p->dest, d->digest, &src, mount_source(p, d->digest), &result,
			       err) < 0)
		return plate_err_wrap(err, "blob '%s'", d->digest);
	p->res->blobs++;
	if (result != REGISTRY_BLOB_EXISTED) {
		p->res->transferred++;
		if (result == REGISTRY_BLOB_UPLOADED)
			p->res->bytes += (uint64_t)size;
	}
	if (p->o->progress) {
		struct transfer_event ev = { .type = TRANSFER_EVENT_BLOB_DONE,
					     .digest = d->digest,
					     .size = (uint64_t)size,
					     .how = result_name(result) };
		p->o->progress(p->o->progress_data, &ev);
	}
	return 0;
}

/* Pushes the blobs of the manifest d, then the manifest under ref (tag or digest). */
static int push_manifest(struct pusher *p, const struct oci_descriptor *d,
			 const struct oci_reference *ref, char digest[DIGEST_STRING_LEN + 1],
			 struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	struct oci_manifest m;
	size_t len;
	int r = -1;

	if (store_blob_read(p->o->store, d->digest, OCI_MAX_MANIFEST_SIZE, &data, &len, err) < 0 ||
	    oci_manifest_parse(data, len, 0, &m, err) < 0)
		return -1;
	if (push_blob(p, &m.config, err) < 0)
		goto out;
	for (size_t i = 0; i < m.n_layers; i++)
		if (push_blob(p, &m.layers[i], err) < 0)
			goto out;
	if (p->o->progress) {
		struct transfer_event ev = { .type = TRANSFER_EVENT_MANIFEST,
					     .digest = d->digest,
					     .size = len };
		p->o->progress(p->o->progress_data, &ev);
	}
	r = registry_push_manifest(p->c, ref, d->media_type, data, len, digest, err);
out:
	oci_manifest_release(&m);
	return r;
}

static int push_index(struct pusher *p, const struct oci_descriptor *root,
		      char digest[DIGEST_STRING_LEN + 1], struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	struct oci_index idx;
	size_t len, absent = 0;
	int r = 0;

	if (store_blob_read(p->o->store, root->digest, OCI_MAX_MANIFEST_SIZE, &data, &len, err) <
		    0 ||
	    oci_index_parse(data, len, 0, &idx, err) < 0)
		return -1;
	for (size_t i = 0; i < idx.n_manifests; i++)
		if (!store_blob_exists(p->o->store, idx.manifests[i].digest))
			absent++;
	/* An index pulled one platform at a time lists manifests the store never got, and
	 * a registry refuses an index whose manifests it lacks. */
	if (absent > 0)
		r = plate_err_new(err, ENOENT,
				  "the store holds %zu of the %zu platforms of its index: push "
				  "one of them with --platform P",
				  idx.n_manifests - absent, idx.n_manifests);
	for (size_t i = 0; i < idx.n_manifests && r == 0; i++) {
		const struct oci_descriptor *d = &idx.manifests[i];
		struct oci_reference by_digest = { .domain = p->dest->domain,
						   .path = p->dest->path,
						   .digest = d->digest };
		char ignored[DIGEST_STRING_LEN + 1];

		r = push_manifest(p, d, &by_digest, ignored, err);
	}
	oci_index_release(&idx);
	if (r == 0)
		r = registry_push_manifest(p->c, p->dest, root->media_type, data, len, digest, err);
	return r;
}

/* A repository on dest's registry that also names the image: its blobs can be mounted. */
static const char *find_mount_source(const struct store_image *img,
				     const struct oci_reference *dest, struct oci_reference *tmp)
{
	for (size_t i = 0; i < img->names.n; i++) {
		_cleanup_error_ struct plate_error *ignored = NULL;
		if (oci_reference_parse(img->names.v[i], strlen(img->names.v[i]), tmp, &ignored) <
		    0)
			continue;
		if (strcmp(tmp->domain, dest->domain) == 0 && strcmp(tmp->path, dest->path) != 0)
			return tmp->path;
		oci_reference_release(tmp);
	}
	return NULL;
}

int transfer_push(const struct transfer_options *o, const char *name, const char *reference,
		  struct transfer_result *out, struct plate_error **err)
{
	struct transfer_result res = { 0 };
	struct oci_reference dest = { 0 }, mount = { 0 };
	struct oci_descriptor original = { 0 }, child = { 0 };
	const struct oci_descriptor *root;
	struct store_image *img = NULL;
	struct pusher p = { .o = o, .dest = &dest, .res = &res };
	const struct oci_media_type *t;
	bool locked = false;
	int r = -1;

	if (reference == NULL)
		reference = name;
	if (oci_reference_parse(reference, strlen(reference), &dest, err) < 0)
		return plate_err_wrap(err, "invalid image name '%s'", reference);
	if ((res.name = oci_reference_format(&dest)) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	/* Before the shared lock: compressing commits a transaction. */
	if (store_image_compress(o->store, name, o->platform, err) < 0 ||
	    store_lock_shared(o->store, err) < 0)
		goto out;
	locked = true;
	transfer_registry_options(o, &p.reg);
	if (store_image_resolve(o->store, name, o->platform, &img, err) < 0 ||
	    registry_client_new(&p.reg, &p.c, err) < 0)
		goto out;
	p.mount_from = find_mount_source(img, &dest, &mount);
	if (p.mount_from == NULL)
		find_blob_origins(&p);
	/* A Docker manifest goes out as it came in (same digest), not as its OCI twin. */
	if ((r = store_image_original(o->store, img, &original, err)) < 0)
		goto out;
	/* Uncompressed layers go out compressed (store_image_compress). */
	if (r == 1 && (r = store_image_outgoing(o->store, img, &original, err)) < 0)
		goto out;
	root = r == 0 ? &original : &img->root;
	t = oci_media_type_lookup(root->media_type);
	/* --platform of a partial index: that platform alone, as a single-platform image. */
	if (t != NULL && t->kind == OCI_KIND_INDEX && o->platform_given &&
	    store_index_partial(o->store, root)) {
		if (root == &img->root)
			r = push_manifest(&p, &img->manifest_desc, &dest, res.digest, err);
		else if ((r = store_outgoing_child(o->store, &img->root, root, &img->manifest_desc,
						   &child, err)) == 0)
			r = push_manifest(&p, &child, &dest, res.digest, err);
	} else if (t != NULL && t->kind == OCI_KIND_INDEX)
		r = push_index(&p, root, res.digest, err);
	else
		r = push_manifest(&p, root, &dest, res.digest, err);
	if (r < 0)
		goto out;
	*out = res;
	memset(&res, 0, sizeof(res));
out:
	if (r < 0)
		plate_err_wrap(err, "push '%s'", res.name ? res.name : reference);
	if (locked)
		store_unlock_shared(o->store);
	registry_client_free(p.c);
	origins_free(&p);
	store_image_free(img);
	oci_reference_release(&mount);
	oci_reference_release(&dest);
	oci_descriptor_release(&original);
	oci_descriptor_release(&child);
	transfer_result_release(&res);
	return r;
}
