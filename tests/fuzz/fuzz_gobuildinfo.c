/*
 * Fuzz target for Go build info read from a buffer that is not ELF (the inline layout
 * searched by its header) and for the module text on its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "elf/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct elf_go_info g;
	int r = elf_go_buildinfo_parse(data, size, NULL, &g, &err);

	if (r == 0) {
		if (g.go_version == NULL)
			abort();
		elf_go_info_release(&g);
	}
	plate_error_free(err);
	err = NULL;
	memset(&g, 0, sizeof(g));
	if (elf_go_modinfo_parse((const char *)data, size, &g, &err) < 0 && err == NULL)
		abort();
	elf_go_info_release(&g);
	return 0;
}
