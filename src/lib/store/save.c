/* Writing images out as oci-archive or docker-archive tar streams. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "layer/layer.h"
#include "store/store_internal.h"

struct blob_list {
	struct oci_strings digests;
	int64_t *sizes;
	const char *partial; /* an index the walk found some of whose manifests absent */
};

static bool list_has(const struct blob_list *l, const char *digest)
{
	for (size_t i = 0; i < l->digests.n; i++)
		if (strcmp(l->digests.v[i], digest) == 0)
			return true;
	return false;
}

static int list_add(struct blob_list *l, const char *digest, int64_t size, struct plate_error **err)
{
	int64_t *sizes;

	if (list_has(l, digest))
		return 0;
	sizes = realloc(l->sizes, (l->digests.n + 1) * sizeof(*sizes));
	if (sizes == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	l->sizes = sizes;
	sizes[l->digests.n] = size;
	return oci_strings_add(&l->digests, digest, err);
}

static void list_release(struct blob_list *l)
{
	oci_strings_release(&l->digests);
	free(l->sizes);
}

static int collect_blob(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	return list_add(data, d->digest, d->size, err);
}

/* "docker.io/library/busybox:1" -> "busybox:1", as docker writes RepoTags. */
static const char *familiar(const char *name)
{
	if (strncmp(name, "docker.io/library/", 18) == 0 && strchr(name + 18, '/') == NULL)
		return name + 18;
	if (strncmp(name, "docker.io/", 10) == 0)
		return name + 10;
	return name;
}

static int add_dir(struct layer_writer *w, const char *path, struct plate_error **err)
{
	struct layer_entry e = { .type = LAYER_ENTRY_DIR, .path = path, .mode = 0755 };

	return layer_writer_add(w, &e, -1, err);
}

static int add_data(struct layer_writer *w, const char *path, const char *data, size_t len,
		    struct plate_error **err)
{
	struct layer_entry e = { .type = LAYER_ENTRY_FILE, .path = path, .mode = 0644 };

	return layer_writer_add_data(w, &e, data, len, err);
}

static int cmp_hex(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* blobs/, blobs/sha256/ and every blob, in layer order. */
static int add_blobs(struct store *s, struct layer_writer *w, struct blob_list *blobs,
		     struct plate_error **err)
{
	_cleanup_free_ char **sorted = calloc(blobs->digests.n + 1, sizeof(char *));

	if (sorted == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	memcpy(sorted, blobs->digests.v, blobs->digests.n * sizeof(char *));
	qsort(sorted, blobs->digests.n, sizeof(char *), cmp_hex);
	if (add_dir(w, "blobs", err) < 0 || add_dir(w, "blobs/sha256", err) < 0)
		return -1;
	for (size_t i = 0; i < blobs->digests.n; i++) {
		char path[DIGEST_HEX_LEN + 16];
		_cleanup_close_ int fd = -1;
		int64_t size;

		snprintf(path, sizeof(path), "blobs/sha256/%s", sorted[i] + 7);
		if (store_blob_open(s, sorted[i], &fd, &size, err) < 0)
			return -1;
		struct layer_entry e = { .type = LAYER_ENTRY_FILE,
					 .path = path,
					 .mode = 0644,
					 .size = (unsigned long long)size };
		if (layer_writer_add(w, &e, fd, err) < 0)
			return plate_err_wrap(err, "blob '%s'", sorted[i]);
	}
	return 0;
}

struct saved {
	struct store_image *img;
	const char *name; /* the name asked for, when it is a reference of img */
};

static int write_oci(struct store *s, struct layer_writer *w, struct saved *imgs, size_t n,
		     struct blob_list *blobs, struct plate_error **err)
{
	struct oci_index idx = { .schema_version = 2 };
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r = -1;

	idx.manifests = calloc(n + 1, sizeof(*idx.manifests));
	if (idx.manifests == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct oci_descriptor *d = &idx.manifests[idx.n_manifests];
		if (oci_descriptor_copy(d, &imgs[i].img->root, err) < 0)
			goto out;
		idx.n_manifests++;
		oci_map_del(&d->annotations, OCI_ANNOTATION_REF_NAME);
		if (imgs[i].name != NULL &&
		    oci_map_set(&d->annotations, OCI_ANNOTATION_REF_NAME, imgs[i].name, err) < 0)
			goto out;
	}
	if (oci_index_write(&idx, OCI_FORMAT_OCI, &json, &len, err) < 0 ||
	    add_blobs(s, w, blobs, err) < 0 || add_data(w, "index.json", json, len, err) < 0 ||
	    add_data(w, "oci-layout", oci_layout_header(), strlen(oci_layout_header()), err) < 0)
		goto out;
	r = 0;
out:
	oci_index_release(&idx);
	return r;
}

static int write_docker(struct store *s, struct layer_writer *w, struct saved *imgs, size_t n,
			struct blob_list *blobs, struct plate_error **err)
{
	json_t *manifest = json_array();
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r = -1;

	if (manifest == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct store_image *img = imgs[i].img;
		json_t *entry = json_object(), *layers = json_array(), *tags = json_array();
		char path[DIGEST_HEX_LEN + 16];

		if (json_array_append_new(manifest, entry) < 0 ||
		    json_object_set_new(entry, "Layers", layers) < 0 ||
		    json_object_set_new(entry, "RepoTags", tags) < 0)
			goto nomem;
		snprintf(path, sizeof(path), "blobs/sha256/%s", img->manifest.config.digest + 7);
		if (json_object_set_new(entry, "Config", json_string(path)) < 0)
			goto nomem;
		for (size_t j = 0; j < img->manifest.n_layers; j++) {
			snprintf(path, sizeof(path), "blobs/sha256/%s",
				 img->manifest.layers[j].digest + 7);
			if (json_array_append_new(layers, json_string(path)) < 0)
				goto nomem;
		}
		if (imgs[i].name != NULL &&
		    json_array_append_new(tags, json_string(familiar(imgs[i].name))) < 0)
			goto nomem;
	}
	if (json_canonical(manifest, &json, &len, err) < 0 || add_blobs(s, w, blobs, err) < 0 ||
	    add_data(w, "manifest.json", json, len, err) < 0)
		goto out;
	r = 0;
	goto out;
nomem:
	plate_err_new(err, ENOMEM, "out of memory");
out:
	json_decref(manifest);
	return r;
}

static void note_partial(void *data, const struct oci_descriptor *index, size_t absent)
{
	(void)absent;
	((struct blob_list *)data)->partial = index->digest;
}

int store_save(struct store *s, const char *const *names, size_t n_names, const char *platform,
	       enum store_archive_format format, int fd, struct plate_error **err)
{
	struct layer_writer_options wopts = { .compression = "none", .epoch = 0 };
	struct store_blob_source src = { .store = s };
	struct store_walk_ops ops = { .blob = collect_blob, .partial = note_partial };
	struct saved *imgs = calloc(n_names + 1, sizeof(*imgs));
	struct layer_writer *w = NULL;
	struct layer_result result;
	struct blob_list blobs = { 0 };
	bool locked = false;
	size_t n = 0;
	int r = -1;

	if (imgs == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (s->shared_lock_fd < 0) {
		if (store_lock_shared(s, err) < 0)
			goto out;
		locked = true;
	}
	for (size_t i = 0; i < n_names; i++) {
		struct saved *sv = &imgs[n];
		if (store_image_resolve(s, names[i], platform, &sv->img, err) < 0)
			goto out;
		n++;
		for (size_t j = 0; j < sv->img->names.n; j++) {
			_cleanup_error_ struct plate_error *e = NULL;
			struct oci_reference ref;
			if (oci_reference_parse(names[i], strlen(names[i]), &ref, &e) < 0)
				break;
			_cleanup_free_ char *full = oci_reference_format(&ref);
			oci_reference_release(&ref);
			if (full != NULL && strcmp(full, sv->img->names.v[j]) == 0)
				sv->name = sv->img->names.v[j];
		}
		/* docker-archive holds manifests only: an index is saved as the chosen one. */
		const struct oci_descriptor *root =
			format == STORE_ARCHIVE_DOCKER ? &sv->img->manifest_desc : &sv->img->root;
		if (format == STORE_ARCHIVE_DOCKER) {
			if (list_add(&blobs, sv->img->manifest.config.digest,
				     sv->img->manifest.config.size, err) < 0)
				goto out;
			for (size_t j = 0; j < sv->img->manifest.n_layers; j++)
				if (list_add(&blobs, sv->img->manifest.layers[j].digest,
					     sv->img->manifest.layers[j].size, err) < 0)
					goto out;
		} else if (store_walk(&src, root, &ops, &blobs, err) < 0) {
			plate_err_wrap(err, "image '%s'", names[i]);
			goto out;
		} else if (blobs.partial != NULL) {
			/* An OCI archive of the registry's index would list manifests it does
			 * not hold, which no reader accepts. */
			plate_err_new(err, ENOENT,
				      "image '%s' holds only some platforms of its index (pulled "
				      "one at a time): save it with --format docker (this "
				      "machine's platform) or pull the others first (plate pull "
				      "--platform P %s)",
				      names[i], names[i]);
			goto out;
		}
	}
	if (layer_writer_new(fd, &wopts, &w, err) < 0)
		goto out;
	if (format == STORE_ARCHIVE_DOCKER)
		r = write_docker(s, w, imgs, n, &blobs, err);
	else
		r = write_oci(s, w, imgs, n, &blobs, err);
	if (r == 0)
		r = layer_writer_finish(w, &result, err);
out:
	layer_writer_free(w);
	if (locked)
		store_unlock_shared(s);
	for (size_t i = 0; i < n; i++)
		store_image_free(imgs[i].img);
	free(imgs);
	list_release(&blobs);
	return r;
}
