/*
 * oci/model_internal.h — JSON <-> model helpers shared by the oci model's files.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "oci/model_internal.h is internal to the oci module"
#endif
#ifndef PLATE_OCI_MODEL_INTERNAL_H
#define PLATE_OCI_MODEL_INTERNAL_H

#include <jansson.h>

#include "oci/oci.h"

/* Each reader takes the parent object, the key, and `where` (the parent's path in error
 * messages); a missing or null field leaves the output empty. */
int oci_read_string(const json_t *obj, const char *key, bool required, char **out,
		    const char *where, struct plate_error **err);
int oci_read_strings(const json_t *obj, const char *key, struct oci_strings *out, const char *where,
		     struct plate_error **err);
/* An object used as a set ({"80/tcp": {}}): the keys, sorted. */
int oci_read_set(const json_t *obj, const char *key, struct oci_strings *out, const char *where,
		 struct plate_error **err);
int oci_read_map(const json_t *obj, const char *key, struct oci_map *out, const char *where,
		 struct plate_error **err);
int oci_read_descriptor(const json_t *v, const char *where, struct oci_descriptor *out,
			struct plate_error **err);

/* Writers add the field only when it is non-empty (Go's omitempty); -1 means ENOMEM. */
int oci_put_string(json_t *obj, const char *key, const char *value);
int oci_put_strings(json_t *obj, const char *key, const struct oci_strings *s);
int oci_put_set(json_t *obj, const char *key, const struct oci_strings *s);
int oci_put_map(json_t *obj, const char *key, const struct oci_map *m);
/* media_type overrides d->media_type when not NULL. */
json_t *oci_descriptor_json(const struct oci_descriptor *d, const char *media_type);

/* Parses buf as one JSON object with the oci caps; names the document in errors. */
int oci_load_object(const char *buf, size_t len, size_t max, const char *what, json_t **out,
		    struct plate_error **err);
/* Serialises and releases v. */
int oci_dump(json_t *v, char **out, size_t *len, struct plate_error **err);

#endif
