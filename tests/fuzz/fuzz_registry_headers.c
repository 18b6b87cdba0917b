/*
 * Fuzz target for the small header parsers and the mirror option: the first byte picks the
 * parser, the rest is the value.  Checks the invariants each parser promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const char *s = (const char *)data + 1;
	size_t len;
	char digest[DIGEST_STRING_LEN + 1];
	struct reg_content_range cr;
	struct reg_mirrors m = { 0 };
	uint64_t v;
	int64_t t;
	char *out = NULL;

	if (size == 0)
		return 0;
	len = size - 1;
	switch (data[0] % 8) {
	case 0:
		if (reg_parse_digest_header(s, len, digest, &err) == 0 && !digest_is_valid(digest))
			abort();
		break;
	case 1:
		if (reg_parse_content_range(s, len, &cr, &err) == 0 && !cr.unsatisfied &&
		    (cr.end < cr.start || (cr.total != UINT64_MAX && cr.end >= cr.total)))
			abort();
		break;
	case 2:
		reg_parse_upload_range(s, len, &v, &err);
		break;
	case 3:
		reg_parse_retry_after(s, len, "Sun, 06 Nov 1994 08:49:37 GMT", 29, &v, &err);
		break;
	case 4:
		reg_parse_http_date(s, len, &t, &err);
		break;
	case 5:
		if (reg_resolve_location("https://reg.example/v2/a/blobs/uploads/x?y=1", s, len,
					 &out, &err) == 0) {
			if (strncasecmp(out, "http", 4) != 0 || strpbrk(out, " \r\n\t") != NULL)
				abort();
			free(out);
		}
		break;
	case 6:
		if (reg_parse_mirrors(s, len, &m, &err) == 0) {
			for (size_t i = 0; i < m.n; i++)
				if (m.v[i].domain == NULL || m.v[i].url == NULL ||
				    m.v[i].url[0] == '\0')
					abort();
			reg_mirrors_release(&m);
		}
		break;
	default:
		if (reg_parse_uint(s, len, &v, &err) < 0 && err == NULL)
			abort();
		break;
	}
	return 0;
}
