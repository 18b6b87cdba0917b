/*
 * Fuzz target for the JSON a registry client reads: token answers, error bodies, tag lists
 * and a manifest's mediaType.  A parsed token is never empty and has no whitespace or
 * control characters (it goes into an Authorization header).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct reg_token tok;
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *summary = NULL, *mt = NULL;
	char **tags = NULL;
	size_t n = 0;

	if (reg_parse_token_response(s, size, &tok, &err) == 0) {
		if (tok.token == NULL || tok.token[0] == '\0' ||
		    strpbrk(tok.token, " \t\r\n") != NULL)
			abort();
		reg_token_release(&tok);
	}
	plate_error_free(err);
	err = NULL;
	if (reg_parse_error_body(s, size, &summary) == 1)
		for (const char *p = summary; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
	reg_parse_tags(s, size, &tags, &n, 1000, &err);
	if (n > 1000)
		abort();
	strv_free(tags, n);
	plate_error_free(err);
	err = NULL;
	reg_manifest_media_type(s, size, &mt, &err);
	return 0;
}
