/*
 * The target stage as an image: the blobs of its layers (written from their snapshots
 * when the build cache had none), the config (created at the epoch, rootfs diffIDs, the
 * history of every step), the OCI manifest, and the names.  Then the outputs beyond the
 * store: an oci-archive or docker-archive, or the image's files in a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/output.h"
#include "layer/layer.h"
#include "engine/engine_internal.h"

static bool already_tagged(struct engine *e, const char *name, const char *digest)
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	struct oci_index idx = { 0 };
	bool found = false;

	if (store_index_read(e->o.store, &idx, &ignored) < 0)
		return false;
	for (size_t i = 0; i < idx.n_manifests && !found; i++) {
		const char *n = oci_map_get(&idx.manifests[i].annotations, OCI_ANNOTATION_REF_NAME);
		found = strcmp(idx.manifests[i].digest, digest) == 0 &&
			(name == NULL ? true : (n != NULL && strcmp(n, name) == 0));
	}
	oci_index_release(&idx);
	return found;
}

/* --cache-to type=inline: the entries in the manifest, their blobs the image's layers
 * (BuildKit keeps its inline cache in the config; an annotation leaves the config, and so
 * the image ID, the same as without). */
static int inline_cache(struct engine *e, struct oci_manifest *m, struct plate_error **err)
{
	_cleanup_free_ char *json = NULL;
	size_t len;

	if (engine_cache_encode(e->exports, e->n_exports, m->layers, m->n_layers, &json, &len,
				err) < 0)
		return -1;
	return oci_map_set(&m->annotations, ENGINE_CACHE_ANNOTATION, json, err);
}

int eng_image_commit(struct engine *e, struct eng_stage *st, struct engine_result *res,
		     struct plate_error **err)
{
	struct oci_config c = { 0 };
	struct oci_manifest m = { .schema_version = 2 };
	struct oci_descriptor desc = { 0 };
	_cleanup_free_ char *cjson = NULL, *mjson = NULL;
	char created[32], cdigest[DIGEST_STRING_LEN + 1], mdigest[DIGEST_STRING_LEN + 1];
	size_t clen, mlen;
	unsigned id = eng_new_id(e);
	double t0 = eng_now();
	_cleanup_free_ char *name = NULL;
	struct engine_event ev = { .type = ENGINE_EVENT_STEP_START, .id = id };
	int r = -1;

	/* In a group, the platform's ("[linux/arm64] exporting to image"). */
	if (e->o.group != NULL ? asprintf(&name, "[%s] exporting to image", e->o.platform) < 0
			       : (name = strdup("exporting to image")) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	ev.name = name;
	eng_emit(e, &ev);
	for (size_t i = 0; i < st->layers.n; i++)
		if (eng_layer_blob(e, &st->layers.v[i], err) < 0)
			goto out;
	if ((e->o.cache_export != ENGINE_CACHE_EXPORT_NONE || e->o.cache_inline) &&
	    eng_shared_export(e, st, err) < 0)
		goto out;
	if (oci_config_copy(&c, &st->config, err) < 0 ||
	    eng_time_string(e->o.epoch, created, err) < 0)
		goto out;
	free(c.created);
	if ((c.created = strdup(created)) == NULL)
		goto nomem;
	oci_strings_release(&c.diff_ids);
	for (size_t i = 0; i < st->layers.n; i++)
		if (oci_strings_add(&c.diff_ids, st->layers.v[i].diff_id, err) < 0)
			goto out;
	for (size_t i = 0; i < e->o.n_labels; i++) {
		const char *kv = e->o.labels[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *k = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
		if (k == NULL)
			goto nomem;
		if (oci_map_set(&c.labels, k, eq ? eq + 1 : "", err) < 0)
			goto out;
	}
	if (oci_config_write(&c, &cjson, &clen, err) < 0)
		goto out;
	m.layers = calloc(st->layers.n + 1, sizeof(*m.layers));
	if (m.layers == NULL)
		goto nomem;
	for (size_t i = 0; i < st->layers.n; i++)
		m.layers[i] = (struct oci_descriptor){ .media_type = st->layers.v[i].media_type,
						       .digest = st->layers.v[i].blob,
						       .size = st->layers.v[i].size };
	m.n_layers = st->layers.n;
	if (e->o.cache_inline && inline_cache(e, &m, err) < 0)
		goto out;
	pthread_mutex_lock(&e->lock);
	r = store_txn_add_blob(e->txn, cjson, clen, cdigest, err);
	if (r == 0) {
		m.config = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_CONFIG,
						    .digest = cdigest,
						    .size = (int64_t)clen };
		r = oci_manifest_write(&m, OCI_FORMAT_OCI, &mjson, &mlen, err);
	}
	if (r == 0)
		r = store_txn_add_blob(e->txn, mjson, mlen, mdigest, err);
	if (r == 0) {
		desc = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
						.digest = mdigest,
						.size = (int64_t)mlen };
		for (size_t i = 0; r == 0 && i < e->o.n_tags; i++)
			if (!already_tagged(e, e->o.tags[i], mdigest))
				r = store_txn_tag(e->txn, e->o.tags[i], &desc, err);
		if (r == 0 && e->o.n_tags == 0 && !already_tagged(e, NULL, mdigest))
			r = store_txn_tag(e->txn, NULL, &desc, err);
	}
	pthread_mutex_unlock(&e->lock);
	if (r < 0)
		goto out;
	memcpy(res->image_id, cdigest, sizeof(cdigest));
	memcpy(res->manifest_digest, mdigest, sizeof(mdigest));
	res->manifest_size = mlen;
	ev = (struct engine_event){
		.type = ENGINE_EVENT_STEP_DONE, .id = id, .name = name, .seconds = eng_now() - t0
	};
	eng_emit(e, &ev);
	goto out;
nomem:
	plate_err_new(err, ENOMEM, "out of memory");
	r = -1;
out:
	free(m.layers);
	oci_map_release(&m.annotations);
	oci_config_release(&c);
	if (r < 0)
		plate_err_wrap(err, "exporting to image");
	return r;
}

/* type=local: the image's files, layers applied in order. */
static int output_local(struct engine *e, struct eng_stage *st, struct plate_error **err)
{
	struct layer_extract_options xo = {
		.whiteouts = LAYER_WHITEOUT_APPLY,
		.devices = geteuid() == 0 ? LAYER_DEVICES_CREATE : LAYER_DEVICES_SKIP,
		.owners = LAYER_OWNER_AUTO,
		.flags = LAYER_EXTRACT_NO_XATTRS,
	};
	_cleanup_close_ int dir = -1;

	if (mkdir(e->o.output_dest, 0755) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s'", e->o.output_dest);
	dir = open(e->o.output_dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return plate_err_new(err, errno, "cannot open '%s'", e->o.output_dest);
	for (size_t i = 0; i < st->layers.n; i++) {
		const struct eng_layer *l = &st->layers.v[i];
		struct layer_extract_result xr;
		_cleanup_close_ int fd = -1;
		int64_t size;

		xo.expected_diff_id = l->diff_id;
		if (store_blob_open(e->o.store, l->blob, &fd, &size, err) < 0 ||
		    layer_extract(fd, dir, &xo, &xr, err) < 0)
			return plate_err_wrap(err, "layer '%s'", l->diff_id);
	}
	return 0;
}

int engine_output_archive(struct store *s, const char *name, enum engine_output_type type,
			  const char *dest, struct plate_error **err)
{
	struct replace_file rf = REPLACE_FILE_INIT;
	int out_fd;

	if (strcmp(dest, "-") == 0) {
		out_fd = STDOUT_FILENO;
	} else {
		/* Replaced whole: never a half archive. */
		if (replace_file_open(&rf, dest, 0644, err) < 0)
			return plate_err_wrap(err, "--output dest=%s", dest);
		out_fd = rf.fd;
	}
	if (store_save(s, &name, 1, NULL,
		       type == ENGINE_OUTPUT_DOCKER ? STORE_ARCHIVE_DOCKER : STORE_ARCHIVE_OCI,
		       out_fd, err) < 0 ||
	    (rf.fd >= 0 && replace_file_commit(&rf, err) < 0)) {
		replace_file_abort(&rf);
		return plate_err_wrap(err, "--output dest=%s", dest);
	}
	return 0;
}

int eng_output(struct engine *e, struct engine_result *res, struct plate_error **err)
{
	switch (e->o.output) {
	case ENGINE_OUTPUT_STORE:
		return 0;
	case ENGINE_OUTPUT_LOCAL:
		return output_local(e, &e->stages[e->plan->target], err) < 0
			       ? plate_err_wrap(err, "--output type=local,dest=%s",
						e->o.output_dest)
			       : 0;
	case ENGINE_OUTPUT_DOCKER:
	case ENGINE_OUTPUT_OCI:
		return engine_output_archive(e->o.store,
					     e->o.n_tags > 0 ? e->o.tags[0] : res->manifest_digest,
					     e->o.output, e->o.output_dest, err);
	default:
		return plate_err_new(err, EINVAL, "bad output type %d", (int)e->o.output);
	}
}
