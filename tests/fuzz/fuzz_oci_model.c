/*
 * Fuzz target for the JSON and OCI model parsers: any input goes through json_parse and
 * every oci_*_parse(); an accepted document must write out canonically and read back to
 * the same bytes (write(parse(write(doc))) == write(doc)), and a refused one must carry a
 * message.  The input is also applied as a --change instruction to an empty config.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "oci/oci.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refused(struct plate_error **err)
{
	if (*err == NULL || (*err)->message == NULL)
		abort();
	plate_error_free(*err);
	*err = NULL;
}

static void same_or_die(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct plate_error *err = NULL;
	_cleanup_free_ char *text = NULL;
	char *a = NULL, *b = NULL;
	size_t alen, blen;
	json_t *v = NULL;

	if (json_parse(buf, size, 1 << 20, JSON_DEFAULT_MAX_DEPTH, &v, &err) == 0) {
		if (json_canonical(v, &a, &alen, &err) < 0)
			abort();
		json_decref(v);
		if (json_parse(a, alen, 1 << 21, JSON_DEFAULT_MAX_DEPTH, &v, &err) < 0 ||
		    json_canonical(v, &b, &blen, &err) < 0)
			abort();
		same_or_die(a, alen, b, blen);
		json_decref(v);
		free(a);
		free(b);
		a = b = NULL;
	} else {
		refused(&err);
	}

	struct oci_manifest m, m2;
	if (oci_manifest_parse(buf, size, 0, &m, &err) == 0) {
		if (oci_manifest_write(&m, OCI_FORMAT_OCI, &a, &alen, &err) == 0) {
			if (oci_manifest_parse(a, alen, 0, &m2, &err) < 0 ||
			    oci_manifest_write(&m2, OCI_FORMAT_OCI, &b, &blen, &err) < 0)
				abort();
			same_or_die(a, alen, b, blen);
			oci_manifest_release(&m2);
		} else {
			refused(&err); /* a layer type with no OCI equivalent */
		}
		oci_manifest_release(&m);
	} else {
		refused(&err);
	}
	free(a);
	free(b);
	a = b = NULL;

	struct oci_index idx, idx2;
	if (oci_index_parse(buf, size, 0, &idx, &err) == 0) {
		if (oci_index_write(&idx, OCI_FORMAT_OCI, &a, &alen, &err) == 0) {
			if (oci_index_parse(a, alen, 0, &idx2, &err) < 0 ||
			    oci_index_write(&idx2, OCI_FORMAT_OCI, &b, &blen, &err) < 0)
				abort();
			same_or_die(a, alen, b, blen);
			oci_index_release(&idx2);
		} else {
			refused(&err);
		}
		oci_index_release(&idx);
	} else {
		refused(&err);
	}
	free(a);
	free(b);
	a = b = NULL;

	struct oci_config c, c2, copy;
	if (oci_config_parse(buf, size, 0, &c, &err) == 0) {
		if (oci_config_write(&c, &a, &alen, &err) < 0 ||
		    oci_config_parse(a, alen, 0, &c2, &err) < 0 ||
		    oci_config_write(&c2, &b, &blen, &err) < 0)
			abort();
		same_or_die(a, alen, b, blen);
		if (oci_config_copy(&copy, &c, &err) < 0)
			abort();
		oci_config_release(&copy);
		oci_config_release(&c2);
		oci_config_release(&c);
	} else {
		refused(&err);
	}
	free(a);
	free(b);

	struct oci_descriptor d;
	if (oci_descriptor_parse(buf, size, OCI_PARSE_STRICT, &d, &err) == 0)
		oci_descriptor_release(&d);
	else
		refused(&err);
	if (oci_layout_header_parse(buf, size, &err) < 0)
		refused(&err);
	(void)oci_document_kind(buf, size);

	text = strndup(buf, size);
	if (text != NULL) {
		struct oci_config empty = { 0 };
		if (store_config_apply_change(&empty, text, &err) < 0)
			refused(&err);
		oci_config_release(&empty);
	}
	return 0;
}
