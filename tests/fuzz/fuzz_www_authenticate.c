/*
 * Fuzz target for reg_parse_www_authenticate(): any input either parses into challenges with
 * non-empty lower-case schemes, or fails with a message located inside the value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_challenges c = { 0 };
	_cleanup_error_ struct plate_error *err = NULL;

	if (reg_parse_www_authenticate((const char *)data, size, &c, &err) < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		if (err->line != 0 &&
		    (err->line != 1 || err->column == 0 || err->column > size + 1))
			abort();
		return 0;
	}
	if (c.n > REG_MAX_CHALLENGES)
		abort();
	for (size_t i = 0; i < c.n; i++) {
		if (c.v[i].scheme == NULL || c.v[i].scheme[0] == '\0')
			abort();
		for (const char *p = c.v[i].scheme; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
	}
	reg_challenges_release(&c);
	return 0;
}
