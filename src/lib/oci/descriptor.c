/* Descriptors, platforms, and the string list and map types of the oci model. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "oci/model_internal.h"

static int nomem(struct plate_error **err)
{
	return plate_err_new(err, ENOMEM, "out of memory");
}

int oci_strings_add(struct oci_strings *s, const char *value, struct plate_error **err)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (v == NULL)
		return nomem(err);
	s->v = v;
	if ((v[s->n] = strdup(value)) == NULL)
		return nomem(err);
	s->n++;
	return 0;
}

int oci_strings_copy(struct oci_strings *dst, const struct oci_strings *src,
		     struct plate_error **err)
{
	struct oci_strings out = { 0 };

	for (size_t i = 0; i < src->n; i++) {
		if (oci_strings_add(&out, src->v[i], err) < 0) {
			oci_strings_release(&out);
			return -1;
		}
	}
	*dst = out;
	return 0;
}

void oci_strings_release(struct oci_strings *s)
{
	strv_free(s->v, s->n);
	s->v = NULL;
	s->n = 0;
}

/* Binary search; returns the index where key is or would go. */
static size_t map_find(const struct oci_map *m, const char *key, bool *found)
{
	size_t lo = 0, hi = m->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->keys[mid], key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int oci_map_set(struct oci_map *m, const char *key, const char *value, struct plate_error **err)
{
	_cleanup_free_ char *k = NULL, *v = strdup(value);
	char **keys, **values;
	bool found;
	size_t i = map_find(m, key, &found);

	if (v == NULL)
		return nomem(err);
	if (found) {
		free(m->values[i]);
		m->values[i] = steal_pointer(&v);
		return 0;
	}
	if ((k = strdup(key)) == NULL)
		return nomem(err);
	keys = realloc(m->keys, (m->n + 1) * sizeof(*keys));
	if (keys == NULL)
		return nomem(err);
	m->keys = keys;
	values = realloc(m->values, (m->n + 1) * sizeof(*values));
	if (values == NULL)
		return nomem(err);
	m->values = values;
	memmove(keys + i + 1, keys + i, (m->n - i) * sizeof(*keys));
	memmove(values + i + 1, values + i, (m->n - i) * sizeof(*values));
	keys[i] = steal_pointer(&k);
	values[i] = steal_pointer(&v);
	m->n++;
	return 0;
}

const char *oci_map_get(const struct oci_map *m, const char *key)
{
	bool found;
	size_t i = map_find(m, key, &found);

	return found ? m->values[i] : NULL;
}

void oci_map_del(struct oci_map *m, const char *key)
{
	bool found;
	size_t i = map_find(m, key, &found);

	if (!found)
		return;
	free(m->keys[i]);
	free(m->values[i]);
	memmove(m->keys + i, m->keys + i + 1, (m->n - i - 1) * sizeof(*m->keys));
	memmove(m->values + i, m->values + i + 1, (m->n - i - 1) * sizeof(*m->values));
	m->n--;
}

int oci_map_copy(struct oci_map *dst, const struct oci_map *src, struct plate_error **err)
{
	struct oci_map out = { 0 };

	for (size_t i = 0; i < src->n; i++) {
		if (oci_map_set(&out, src->keys[i], src->values[i], err) < 0) {
			oci_map_release(&out);
			return -1;
		}
	}
	*dst = out;
	return 0;
}

void oci_map_release(struct oci_map *m)
{
	strv_free(m->keys, m->n);
	strv_free(m->values, m->n);
	m->keys = m->values = NULL;
	m->n = 0;
}

void oci_platform_free(struct oci_platform *p)
{
	if (p == NULL)
		return;
	free(p->architecture);
	free(p->os);
	free(p->os_version);
	free(p->variant);
	oci_strings_release(&p->os_features);
	free(p);
}

void oci_descriptor_release(struct oci_descriptor *d)
{
	free(d->media_type);
	free(d->artifact_type);
	free(d->digest);
	oci_strings_release(&d->urls);
	oci_map_release(&d->annotations);
	free(d->data);
	oci_platform_free(d->platform);
	memset(d, 0, sizeof(*d));
}

static int dup_opt(char **dst, const char *src, struct plate_error **err)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		return nomem(err);
	return 0;
}

int oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src,
			struct plate_error **err)
{
	struct oci_descriptor d = { .size = src->size };

	if (dup_opt(&d.media_type, src->media_type, err) < 0 ||
	    dup_opt(&d.artifact_type, src->artifact_type, err) < 0 ||
	    dup_opt(&d.digest, src->digest, err) < 0 || dup_opt(&d.data, src->data, err) < 0 ||
	    oci_strings_copy(&d.urls, &src->urls, err) < 0 ||
	    oci_map_copy(&d.annotations, &src->annotations, err) < 0)
		goto fail;
	if (src->platform != NULL) {
		const struct oci_platform *p = src->platform;
		d.platform = calloc(1, sizeof(*d.platform));
		if (d.platform == NULL) {
			nomem(err);
			goto fail;
		}
		if (dup_opt(&d.platform->architecture, p->architecture, err) < 0 ||
		    dup_opt(&d.platform->os, p->os, err) < 0 ||
		    dup_opt(&d.platform->os_version, p->os_version, err) < 0 ||
		    dup_opt(&d.platform->variant, p->variant, err) < 0 ||
		    oci_strings_copy(&d.platform->os_features, &p->os_features, err) < 0)
			goto fail;
	}
	*dst = d;
	return 0;
fail:
	oci_descriptor_release(&d);
	return -1;
}

/* ---- reading -------------------------------------------------------------------------- */

int oci_load_object(const char *buf, size_t len, size_t max, const char *what, json_t **out,
		    struct plate_error **err)
{
	json_t *v;

	if (json_parse(buf, len, max, JSON_DEFAULT_MAX_DEPTH, &v, err) < 0)
		return plate_err_wrap(err, "%s", what);
	if (!json_is_object(v)) {
		json_decref(v);
		return plate_err_new(err, 0, "%s is not a JSON object", what);
	}
	*out = v;
	return 0;
}

int oci_read_string(const json_t *obj, const char *key, bool required, char **out,
		    const char *where, struct plate_error **err)
{
	const char *s = NULL;

	if (json_get_string(obj, key, required, &s, where, err) < 0)
		return -1;
	return dup_opt(out, s, err);
}

int oci_read_strings(const json_t *obj, const char *key, struct oci_strings *out, const char *where,
		     struct plate_error **err)
{
	json_t *arr = NULL, *v;
	size_t i;

	if (json_get_typed(obj, key, JSON_ARRAY, false, &arr, where, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			return plate_err_new(err, 0, "'%s.%s[%zu]' is not a string", where, key, i);
		if (oci_strings_add(out, json_string_value(v), err) < 0)
			return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int oci_read_set(const json_t *obj, const char *key, struct oci_strings *out, const char *where,
		 struct plate_error **err)
{
	json_t *o = NULL, *v;
	const char *k;

	if (json_get_typed(obj, key, JSON_OBJECT, false, &o, where, err) < 0)
		return -1;
	if (o == NULL)
		return 0;
	json_object_foreach(o, k, v)
	{
		if (!json_is_object(v))
			return plate_err_new(err, 0, "'%s.%s' entry '%s' is not an object", where,
					     key, k);
		if (oci_strings_add(out, k, err) < 0)
			return -1;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

int oci_read_map(const json_t *obj, const char *key, struct oci_map *out, const char *where,
		 struct plate_error **err)
{
	json_t *o = NULL, *v;
	const char *k;

	if (json_get_typed(obj, key, JSON_OBJECT, false, &o, where, err) < 0)
		return -1;
	if (o == NULL)
		return 0;
	json_object_foreach(o, k, v)
	{
		if (*k == '\0')
			return plate_err_new(err, 0, "'%s.%s' has an empty key", where, key);
		if (!json_is_string(v))
			return plate_err_new(err, 0, "'%s.%s' value of '%s' is not a string", where,
					     key, k);
		if (oci_map_set(out, k, json_string_value(v), err) < 0)
			return -1;
	}
	return 0;
}

/* RFC 4648 standard alphabet with padding, as Go's encoding/json decodes []byte. */
static bool base64_is_valid(const char *s)
{
	size_t len = strlen(s), pad = 0;

	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

/* An absolute URI: scheme ":" then no blanks or control characters (RFC 3986). */
static bool uri_is_valid(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':' || p[1] == '\0')
		return false;
	for (p++; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("\"<>\\^`{|}", *p) != NULL)
			return false;
	return true;
}

static int read_platform(const json_t *obj, const char *where, struct oci_platform **out,
			 struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;
	struct oci_platform *p;
	json_t *v = NULL;

	if (json_get_typed(obj, "platform", JSON_OBJECT, false, &v, where, err) < 0)
		return -1;
	if (v == NULL)
		return 0;
	if (asprintf(&path, "%s.platform", where) < 0)
		return nomem(err);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return nomem(err);
	if (oci_read_string(v, "architecture", true, &p->architecture, path, err) < 0 ||
	    oci_read_string(v, "os", true, &p->os, path, err) < 0 ||
	    oci_read_string(v, "os.version", false, &p->os_version, path, err) < 0 ||
	    oci_read_string(v, "variant", false, &p->variant, path, err) < 0 ||
	    oci_read_strings(v, "os.features", &p->os_features, path, err) < 0) {
		oci_platform_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int oci_read_descriptor(const json_t *v, const char *where, struct oci_descriptor *out,
			struct plate_error **err)
{
	struct oci_descriptor d = { 0 };

	if (!json_is_object(v))
		return plate_err_new(err, 0, "'%s' is not a descriptor object", where);
	if (oci_read_string(v, "mediaType", true, &d.media_type, where, err) < 0 ||
	    oci_read_string(v, "artifactType", false, &d.artifact_type, where, err) < 0 ||
	    oci_read_string(v, "digest", true, &d.digest, where, err) < 0 ||
	    json_get_int(v, "size", true, &d.size, where, err) < 0 ||
	    oci_read_strings(v, "urls", &d.urls, where, err) < 0 ||
	    oci_read_map(v, "annotations", &d.annotations, where, err) < 0 ||
	    oci_read_string(v, "data", false, &d.data, where, err) < 0 ||
	    read_platform(v, where, &d.platform, err) < 0)
		goto fail;
	if (!oci_media_type_is_valid(d.media_type)) {
		plate_err_new(err, 0, "'%s.mediaType' '%s' is not a valid media type", where,
			      d.media_type);
		goto fail;
	}
	if (d.artifact_type != NULL && !oci_media_type_is_valid(d.artifact_type)) {
		plate_err_new(err, 0, "'%s.artifactType' '%s' is not a valid media type", where,
			      d.artifact_type);
		goto fail;
	}
	if (!oci_digest_is_valid(d.digest)) {
		plate_err_new(err, 0, "'%s.digest' '%s' is not a valid digest", where, d.digest);
		goto fail;
	}
	if (d.size < 0) {
		plate_err_new(err, 0, "'%s.size' is negative", where);
		goto fail;
	}
	for (size_t i = 0; i < d.urls.n; i++) {
		if (!uri_is_valid(d.urls.v[i])) {
			plate_err_new(err, 0, "'%s.urls[%zu]' '%s' is not a URL", where, i,
				      d.urls.v[i]);
			goto fail;
		}
	}
	if (d.data != NULL && !base64_is_valid(d.data)) {
		plate_err_new(err, 0, "'%s.data' is not valid base64", where);
		goto fail;
	}
	*out = d;
	return 0;
fail:
	oci_descriptor_release(&d);
	return -1;
}

int oci_descriptor_parse(const char *buf, size_t len, unsigned flags, struct oci_descriptor *out,
			 struct plate_error **err)
{
	json_t *v;
	int r;

	if (oci_load_object(buf, len, OCI_MAX_MANIFEST_SIZE, "descriptor", &v, err) < 0)
		return -1;
	r = oci_read_descriptor(v, "descriptor", out, err);
	json_decref(v);
	return r;
}

/* ---- writing -------------------------------------------------------------------------- */

int oci_put_string(json_t *obj, const char *key, const char *value)
{
	if (value == NULL || *value == '\0')
		return 0;
	return json_object_set_new(obj, key, json_string(value));
}

static json_t *strings_json(const struct oci_strings *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < s->n; i++) {
		if (json_array_append_new(a, json_string(s->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int oci_put_strings(json_t *obj, const char *key, const struct oci_strings *s)
{
	if (s->n == 0)
		return 0;
	return json_object_set_new(obj, key, strings_json(s));
}

int oci_put_set(json_t *obj, const char *key, const struct oci_strings *s)
{
	json_t *o;

	if (s->n == 0)
		return 0;
	if ((o = json_object()) == NULL)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		if (json_object_set_new(o, s->v[i], json_object()) < 0) {
			json_decref(o);
			return -1;
		}
	}
	return json_object_set_new(obj, key, o);
}

int oci_put_map(json_t *obj, const char *key, const struct oci_map *m)
{
	json_t *o;

	if (m->n == 0)
		return 0;
	if ((o = json_object()) == NULL)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		if (json_object_set_new(o, m->keys[i], json_string(m->values[i])) < 0) {
			json_decref(o);
			return -1;
		}
	}
	return json_object_set_new(obj, key, o);
}

json_t *oci_descriptor_json(const struct oci_descriptor *d, const char *media_type)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (oci_put_string(o, "mediaType", media_type ? media_type : d->media_type) < 0 ||
	    oci_put_string(o, "artifactType", d->artifact_type) < 0 ||
	    oci_put_string(o, "digest", d->digest) < 0 ||
	    json_object_set_new(o, "size", json_integer(d->size)) < 0 ||
	    oci_put_strings(o, "urls", &d->urls) < 0 ||
	    oci_put_map(o, "annotations", &d->annotations) < 0 ||
	    oci_put_string(o, "data", d->data) < 0)
		goto fail;
	if (d->platform != NULL) {
		const struct oci_platform *p = d->platform;
		json_t *po = json_object();
		if (po == NULL || json_object_set_new(o, "platform", po) < 0 ||
		    oci_put_string(po, "architecture", p->architecture) < 0 ||
		    oci_put_string(po, "os", p->os) < 0 ||
		    oci_put_string(po, "os.version", p->os_version) < 0 ||
		    oci_put_string(po, "variant", p->variant) < 0 ||
		    oci_put_strings(po, "os.features", &p->os_features) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

int oci_dump(json_t *v, char **out, size_t *len, struct plate_error **err)
{
	int r;

	if (v == NULL)
		return nomem(err);
	r = json_canonical(v, out, len, err);
	json_decref(v);
	return r;
}
