/*
 * The facts of an executable as the snapshot index records them: its ELF headers and
 * whether it carries Go build info, read from a private mapping of the file (only the
 * pages the parsers touch are read).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "elf/elf.h"

int elf_facts_read(int fd, uint64_t size, struct elf *elf, bool *go, bool *go_cgo,
		   struct plate_error **err)
{
	unsigned char head[4];
	struct elf_go_info g;
	ssize_t got;
	void *m;
	int r;

	*go = *go_cgo = false;
	if (size < 16)
		return 1;
	got = pread(fd, head, sizeof(head), 0);
	if (got != (ssize_t)sizeof(head))
		return plate_err_new(err, got < 0 ? errno : EIO, "cannot read");
	if (memcmp(head, "\177ELF", 4) != 0)
		return 1;
	m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return plate_err_new(err, errno, "cannot map");
	r = elf_parse(m, (size_t)size, elf, err);
	if (r == 0) {
		_cleanup_error_ struct plate_error *ignored = NULL;
		if (elf_go_buildinfo_parse(m, (size_t)size, elf, &g, &ignored) == 0) {
			const char *cgo = elf_go_setting(&g, "CGO_ENABLED");
			*go = true;
			*go_cgo = cgo && strcmp(cgo, "1") == 0;
			elf_go_info_release(&g);
		}
	} else if (r < 0 && (*err)->errno_value == EINVAL) {
		/* malformed: the runtime's business, not the doctor's; anything else (ENOMEM)
		 * is reported, never recorded as "not ELF" */
		plate_error_free(*err);
		*err = NULL;
		r = 1;
	}
	munmap(m, (size_t)size);
	return r;
}
