/*
 * Fuzz target: extract arbitrary bytes as a layer into <sandbox>/target, next to
 * <sandbox>/canary/keep, then prove that nothing outside the target changed (abort
 * otherwise) and remove the target.  The input size picks the options (whiteout mode,
 * openat2 or the fallback walk) so corpus files need no header.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layer/layer.h"
#include "unit/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *sandbox;
static int sandbox_fd = -1;

static void cleanup(void)
{
	if (sandbox != NULL)
		fsutil_remove(sandbox);
}

static void setup(void)
{
	sandbox = fsutil_mkdtemp("fuzz_layer_extract");
	if (sandbox == NULL || (sandbox_fd = open(sandbox, O_RDONLY | O_DIRECTORY)) < 0 ||
	    mkdirat(sandbox_fd, "canary", 0755) < 0 ||
	    fsutil_write_at(sandbox_fd, "canary/keep", "keep", 4, 0644) < 0) {
		perror("fuzz_layer_extract: sandbox");
		abort();
	}
	atexit(cleanup);
}

static void must_be_untouched(void)
{
	char buf[8];
	int fd;
	ssize_t n;

	if (fsutil_count(sandbox_fd, ".") != 2 || fsutil_count(sandbox_fd, "canary") != 1) {
		fprintf(stderr, "fuzz_layer_extract: something appeared outside the target\n");
		abort();
	}
	fd = openat(sandbox_fd, "canary/keep", O_RDONLY | O_NOFOLLOW);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	if (n != 4 || memcmp(buf, "keep", 4) != 0) {
		fprintf(stderr, "fuzz_layer_extract: the canary file changed\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct layer_extract_options o = { .devices = LAYER_DEVICES_SKIP };
	struct layer_extract_result res;
	struct plate_error *err = NULL;
	int in, target;

	if (sandbox == NULL)
		setup();
	if (size % 2)
		o.whiteouts = LAYER_WHITEOUT_APPLY;
	if (size % 4 >= 2)
		o.flags |= LAYER_EXTRACT_NO_OPENAT2;
	in = memfd_create("layer", MFD_CLOEXEC);
	if (in < 0 || (size > 0 && write(in, data, size) != (ssize_t)size) ||
	    lseek(in, 0, SEEK_SET) != 0 || mkdirat(sandbox_fd, "target", 0755) < 0 ||
	    (target = openat(sandbox_fd, "target", O_RDONLY | O_DIRECTORY)) < 0) {
		perror("fuzz_layer_extract: setup");
		abort();
	}
	layer_extract(in, target, &o, &res, &err);
	plate_error_free(err);
	close(in);
	close(target);
	must_be_untouched();
	fsutil_remove_at(sandbox_fd, "target");
	return 0;
}
