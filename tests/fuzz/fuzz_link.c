/*
 * Fuzz target for reg_parse_link_next(): a found target is non-empty and has no spaces or
 * control characters; a refusal carries a located message.
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
	_cleanup_free_ char *next = NULL, *resolved = NULL;
	int r = reg_parse_link_next((const char *)data, size, &next, &err);

	if (r < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		return 0;
	}
	if (r == 0)
		return 0;
	if (next[0] == '\0')
		abort();
	for (const char *p = next; *p; p++)
		if ((unsigned char)*p <= 0x20)
			abort();
	/* what the client does next with it */
	if (reg_resolve_location("http://127.0.0.1:5000/v2/a/tags/list", next, strlen(next),
				 &resolved, &err) == 0 &&
	    strncmp(resolved, "http", 4) != 0)
		abort();
	return 0;
}
