/*
 * layer/extract_internal.h — resolving paths inside an extraction root (safe.c) for
 * extract.c, and for the tests of the fallback walk.
 */
#ifndef PLATE_LAYER_EXTRACT_INTERNAL_H
#define PLATE_LAYER_EXTRACT_INTERNAL_H

#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "extract_internal.h is private to the layer module"
#endif

#include "layer/layer_internal.h"

/*
 * An extraction root.  Directories below it are opened without ever following a
 * symlink: openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) when
 * the kernel has it, else one openat(O_NOFOLLOW | O_DIRECTORY) per component.  The
 * directory of the previous lookup is cached, since consecutive tar entries usually
 * share it.
 */
struct layer_root {
	int fd; /* borrowed */
	bool use_openat2;
	char cache_path[LAYER_MAX_PATH + 1];
	int cache_fd; /* -1: empty */
	/* every path this extraction created, parents made on the way included */
	struct layer_hashset created;
};

void layer_root_init(struct layer_root *root, int fd, bool allow_openat2);
void layer_root_release(struct layer_root *root);
/* Forgets the cached directory (after anything that may remove a directory); an fd
 * already handed out stays valid until the next layer_root_open_dir(). */
void layer_root_invalidate(struct layer_root *root);

/*
 * Opens directory dir (a cleaned relative path, "" for the root) as an O_PATH fd.
 * Missing components are created (mode 0755) when create is set.  Returns 0 and sets
 * *fd — owned by the root's cache, valid until the next call, unless `owned` is set in
 * which case the caller closes it — or 1 when a component is missing and create is not
 * set, or -1 when a component is a symlink or not a directory, or on any error.
 */
int layer_root_open_dir(struct layer_root *root, const char *dir, bool create, bool owned, int *fd,
			struct plate_error **err);

/* Removes name in directory pfd, recursively for directories, never following symlinks.
 * A missing name is not an error. */
int layer_remove_tree(struct layer_root *root, int pfd, const char *name, struct plate_error **err);

#endif
