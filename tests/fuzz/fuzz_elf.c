/*
 * Fuzz target for the doctor's ELF reader and the Go build info reader behind it (outside
 * input: any file of any image).  Parsing never crashes; a success has as many DT_NEEDED
 * names as it says, each shorter than the cap.
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
	struct elf e;
	struct elf_go_info g;
	int r = elf_parse(data, size, &e, &err);

	if (r < 0) {
		if (err == NULL)
			abort();
		return 0;
	}
	if (r > 0)
		return 0;
	for (size_t i = 0; i < e.n_needed; i++)
		if (strlen(e.needed[i]) >= ELF_MAX_STRING)
			abort();
	if (elf_go_buildinfo_parse(data, size, &e, &g, &err) == 0)
		elf_go_info_release(&g);
	elf_release(&e);
	return 0;
}
