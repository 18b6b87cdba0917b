/*
 * Fuzz target for engine_cache_decode(), the shared build cache's entries (a registry's or a
 * directory's bytes, docs/internals/cache.md), against a fixed list of manifest layers; what
 * decodes must encode and decode again to the same entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define D0 "sha256:7c013954dd20c2e4cc88ad0f378c8c4eebf17820d01fae270a325f73359d4df1"
#define D1 "sha256:dad7bba620b9dfb2a1b1cb30cf18f31e3bccf68ecf64fcba7238230d6fae38eb"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* clang-format off */
	struct oci_descriptor layers[] = {
		{ .media_type = (char *)OCI_MEDIA_TYPE_LAYER_GZIP, .digest = (char *)D0, .size = 78 },
		{ .media_type = (char *)OCI_MEDIA_TYPE_CONFIG, .digest = (char *)D1, .size = 9 },
	};
	/* clang-format on */
	struct engine_cache_entry *v = NULL, *w = NULL;
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *json = NULL;
	size_t n = 0, m = 0, len;

	if (engine_cache_decode((const char *)data, size, layers, 2, 3, &v, &n, &err) < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].source != 3 || (v[i].blob[0] != '\0' && strcmp(v[i].blob, D0) != 0))
			abort();
	if (engine_cache_encode(v, n, layers, 2, &json, &len, &err) < 0 ||
	    engine_cache_decode(json, len, layers, 2, 3, &w, &m, &err) < 0 || m != n ||
	    (n > 0 && memcmp(v, w, n * sizeof(*v)) != 0))
		abort();
	free(v);
	free(w);
	return 0;
}
