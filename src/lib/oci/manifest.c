/* Image manifests (manifest.md), image indexes (image-index.md) and the layout header
 * (image-layout.md), with their Docker schema2 counterparts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "oci/model_internal.h"

static int read_schema_version(const json_t *o, const char *what, int *out,
			       struct plate_error **err)
{
	int64_t v = 0;

	if (json_get_int(o, "schemaVersion", true, &v, what, err) < 0)
		return -1;
	if (v != 2)
		return plate_err_new(err, 0, "'%s.schemaVersion' is %lld, not 2", what,
				     (long long)v);
	*out = 2;
	return 0;
}

/* The document's own mediaType, when it has one, must say what the document is. */
static int read_own_media_type(const json_t *o, const char *what, enum oci_kind kind, char **out,
			       struct plate_error **err)
{
	const struct oci_media_type *t;

	if (oci_read_string(o, "mediaType", false, out, what, err) < 0)
		return -1;
	if (*out == NULL)
		return 0;
	t = oci_media_type_lookup(*out);
	if (t == NULL || t->kind != kind)
		return plate_err_new(err, 0, "'%s.mediaType' '%s' is not the media type of %s",
				     what, *out,
				     kind == OCI_KIND_INDEX ? "an index" : "a manifest");
	return 0;
}

static int read_artifact_type(const json_t *o, const char *what, char **out,
			      struct plate_error **err)
{
	if (oci_read_string(o, "artifactType", false, out, what, err) < 0)
		return -1;
	if (*out != NULL && !oci_media_type_is_valid(*out))
		return plate_err_new(err, 0, "'%s.artifactType' '%s' is not a valid media type",
				     what, *out);
	return 0;
}

static int read_subject(const json_t *o, const char *what, struct oci_descriptor **out,
			struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;
	json_t *v = json_object_get(o, "subject");
	struct oci_descriptor *d;

	if (v == NULL || json_is_null(v))
		return 0;
	if (asprintf(&path, "%s.subject", what) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (oci_read_descriptor(v, path, d, err) < 0) {
		free(d);
		return -1;
	}
	*out = d;
	return 0;
}

static int read_descriptors(const json_t *o, const char *key, const char *what,
			    struct oci_descriptor **out, size_t *n, struct plate_error **err)
{
	json_t *arr = NULL, *v;
	size_t i;

	if (json_get_typed(o, key, JSON_ARRAY, true, &arr, what, err) < 0)
		return -1;
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (*out == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	json_array_foreach(arr, i, v)
	{
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s.%s[%zu]", what, key, i) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (oci_read_descriptor(v, path, &(*out)[i], err) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

int oci_manifest_parse(const char *buf, size_t len, unsigned flags, struct oci_manifest *out,
		       struct plate_error **err)
{
	struct oci_manifest m = { 0 };
	json_t *o = NULL, *config = NULL;
	int r = -1;

	if (oci_load_object(buf, len, OCI_MAX_MANIFEST_SIZE, "manifest", &o, err) < 0)
		return -1;
	if (read_schema_version(o, "manifest", &m.schema_version, err) < 0 ||
	    read_own_media_type(o, "manifest", OCI_KIND_MANIFEST, &m.media_type, err) < 0 ||
	    read_artifact_type(o, "manifest", &m.artifact_type, err) < 0 ||
	    json_get_typed(o, "config", JSON_OBJECT, true, &config, "manifest", err) < 0 ||
	    oci_read_descriptor(config, "manifest.config", &m.config, err) < 0 ||
	    read_descriptors(o, "layers", "manifest", &m.layers, &m.n_layers, err) < 0 ||
	    read_subject(o, "manifest", &m.subject, err) < 0 ||
	    oci_read_map(o, "annotations", &m.annotations, "manifest", err) < 0)
		goto out;
	if ((flags & OCI_PARSE_STRICT) && m.n_layers == 0) {
		plate_err_new(err, 0, "'manifest.layers' is empty");
		goto out;
	}
	*out = m;
	memset(&m, 0, sizeof(m));
	r = 0;
out:
	oci_manifest_release(&m);
	json_decref(o);
	return r;
}

int oci_index_parse(const char *buf, size_t len, unsigned flags, struct oci_index *out,
		    struct plate_error **err)
{
	struct oci_index idx = { 0 };
	json_t *o = NULL;
	int r = -1;

	if (oci_load_object(buf, len, OCI_MAX_MANIFEST_SIZE, "index", &o, err) < 0)
		return -1;
	if (read_schema_version(o, "index", &idx.schema_version, err) < 0 ||
	    read_own_media_type(o, "index", OCI_KIND_INDEX, &idx.media_type, err) < 0 ||
	    read_artifact_type(o, "index", &idx.artifact_type, err) < 0 ||
	    read_descriptors(o, "manifests", "index", &idx.manifests, &idx.n_manifests, err) < 0 ||
	    read_subject(o, "index", &idx.subject, err) < 0 ||
	    oci_read_map(o, "annotations", &idx.annotations, "index", err) < 0)
		goto out;
	*out = idx;
	memset(&idx, 0, sizeof(idx));
	r = 0;
out:
	oci_index_release(&idx);
	json_decref(o);
	return r;
}

int oci_layout_header_parse(const char *buf, size_t len, struct plate_error **err)
{
	const char *version = NULL;
	json_t *o;
	int r;

	if (oci_load_object(buf, len, 4096, "oci-layout", &o, err) < 0)
		return -1;
	r = json_get_string(o, "imageLayoutVersion", true, &version, "oci-layout", err);
	if (r == 0 && strcmp(version, "1.0.0") != 0)
		r = plate_err_new(err, 0, "unsupported image layout version '%s'", version);
	json_decref(o);
	return r;
}

const char *oci_layout_header(void)
{
	return "{\"imageLayoutVersion\":\"1.0.0\"}";
}

enum oci_kind oci_document_kind(const char *buf, size_t len)
{
	_cleanup_error_ struct plate_error *err = NULL;
	enum oci_kind kind = OCI_KIND_UNKNOWN;
	const struct oci_media_type *t;
	json_t *o, *mt;

	if (oci_load_object(buf, len, OCI_MAX_CONFIG_SIZE, "document", &o, &err) < 0)
		return OCI_KIND_UNKNOWN;
	mt = json_object_get(o, "mediaType");
	if (json_is_string(mt)) {
		t = oci_media_type_lookup(json_string_value(mt));
		if (t != NULL)
			kind = t->kind;
	} else if (json_is_array(json_object_get(o, "manifests"))) {
		kind = OCI_KIND_INDEX;
	} else if (json_is_object(json_object_get(o, "config")) &&
		   json_is_array(json_object_get(o, "layers"))) {
		kind = OCI_KIND_MANIFEST;
	}
	json_decref(o);
	return kind;
}

static int convert(const char *media_type, enum oci_format format, const char **out,
		   struct plate_error **err)
{
	*out = oci_media_type_convert(media_type, format);
	if (*out == NULL)
		return plate_err_new(err, 0, "media type '%s' has no %s equivalent", media_type,
				     format == OCI_FORMAT_DOCKER ? "docker" : "OCI");
	return 0;
}

static int put_descriptor(json_t *o, const char *key, const struct oci_descriptor *d,
			  enum oci_format format, struct plate_error **err)
{
	const char *mt;

	if (convert(d->media_type, format, &mt, err) < 0)
		return -1;
	if (json_object_set_new(o, key, oci_descriptor_json(d, mt)) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

/* format NULL: each descriptor keeps its own media type. */
static int put_descriptors(json_t *o, const char *key, const struct oci_descriptor *d, size_t n,
			   const enum oci_format *format, struct plate_error **err)
{
	json_t *arr = json_array();
	const char *mt = NULL;

	if (arr == NULL || json_object_set_new(o, key, arr) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (format == NULL)
			mt = d[i].media_type;
		else if (convert(d[i].media_type, *format, &mt, err) < 0)
			return -1;
		if (json_array_append_new(arr, oci_descriptor_json(&d[i], mt)) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	}
	return 0;
}

int oci_manifest_write(const struct oci_manifest *m, enum oci_format format, char **out,
		       size_t *len, struct plate_error **err)
{
	json_t *o = json_object();

	if (o == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (json_object_set_new(o, "schemaVersion", json_integer(2)) < 0 ||
	    oci_put_string(o, "mediaType",
			   oci_media_type_find(OCI_KIND_MANIFEST, OCI_COMPRESSION_NONE, format)) <
		    0 ||
	    oci_put_string(o, "artifactType", m->artifact_type) < 0 ||
	    oci_put_map(o, "annotations", &m->annotations) < 0) {
		json_decref(o);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (put_descriptor(o, "config", &m->config, format, err) < 0 ||
	    put_descriptors(o, "layers", m->layers, m->n_layers, &format, err) < 0 ||
	    (m->subject != NULL && put_descriptor(o, "subject", m->subject, format, err) < 0)) {
		json_decref(o);
		return plate_err_wrap(err, "cannot write manifest");
	}
	return oci_dump(o, out, len, err);
}

int oci_index_write(const struct oci_index *idx, enum oci_format format, char **out, size_t *len,
		    struct plate_error **err)
{
	json_t *o = json_object();

	if (o == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (json_object_set_new(o, "schemaVersion", json_integer(2)) < 0 ||
	    oci_put_string(o, "mediaType",
			   oci_media_type_find(OCI_KIND_INDEX, OCI_COMPRESSION_NONE, format)) < 0 ||
	    oci_put_string(o, "artifactType", idx->artifact_type) < 0 ||
	    oci_put_map(o, "annotations", &idx->annotations) < 0) {
		json_decref(o);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	/* The entries keep their own media types: the documents they point at are not
	 * rewritten, and a descriptor must say what its document is (an OCI index may list a
	 * Docker schema2 manifest; calling it an OCI manifest breaks every reader). */
	if (put_descriptors(o, "manifests", idx->manifests, idx->n_manifests, NULL, err) < 0 ||
	    (idx->subject != NULL && put_descriptor(o, "subject", idx->subject, format, err) < 0)) {
		json_decref(o);
		return plate_err_wrap(err, "cannot write index");
	}
	return oci_dump(o, out, len, err);
}

static void descriptors_free(struct oci_descriptor *d, size_t n)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		oci_descriptor_release(&d[i]);
	free(d);
}

static void subject_free(struct oci_descriptor *d)
{
	if (d == NULL)
		return;
	oci_descriptor_release(d);
	free(d);
}

void oci_manifest_release(struct oci_manifest *m)
{
	free(m->media_type);
	free(m->artifact_type);
	oci_descriptor_release(&m->config);
	descriptors_free(m->layers, m->n_layers);
	subject_free(m->subject);
	oci_map_release(&m->annotations);
	memset(m, 0, sizeof(*m));
}

void oci_index_release(struct oci_index *idx)
{
	free(idx->media_type);
	free(idx->artifact_type);
	descriptors_free(idx->manifests, idx->n_manifests);
	subject_free(idx->subject);
	oci_map_release(&idx->annotations);
	memset(idx, 0, sizeof(*idx));
}
