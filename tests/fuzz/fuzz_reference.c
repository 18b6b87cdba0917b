/*
 * Fuzz target for oci_reference_parse(): any input is parsed; an accepted reference must
 * format to a string that parses again to the same normalised reference (normalisation is
 * idempotent), and a refused one must carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_reference ref = { 0 }, again = { 0 };
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *text = NULL, *text2 = NULL;

	if (oci_reference_parse((const char *)data, size, &ref, &err) < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		return 0;
	}
	text = oci_reference_format(&ref);
	if (text == NULL)
		abort();
	if (oci_reference_parse(text, strlen(text), &again, &err) < 0)
		abort();
	text2 = oci_reference_format(&again);
	if (text2 == NULL || strcmp(text, text2) != 0)
		abort();
	oci_reference_release(&ref);
	oci_reference_release(&again);
	return 0;
}
