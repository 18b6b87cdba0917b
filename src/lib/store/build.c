/* What the build engine needs from the store beyond images: scratch directories inside a
 * transaction (absolute paths), and the directories of RUN --mount=type=cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "store/store_internal.h"

#define MOUNTS_DIR "mounts"

int store_txn_scratch_dir(struct store_txn *t, const char *name, char **path,
			  struct plate_error **err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *p = NULL;

	if (store_txn_workdir(t, name, &fd, &p, err) < 0)
		return -1;
	/* Mount options and sandbox specs want absolute paths, whatever --root was. */
	if (p[0] != '/') {
		char *abs = realpath(p, NULL);
		if (abs == NULL)
			return plate_err_new(err, errno, "cannot resolve '%s'", p);
		free(p);
		p = abs;
	}
	*path = steal_pointer(&p);
	return 0;
}

int store_cache_mount_dir(struct store *s, const char *id, char **path, struct plate_error **err)
{
	char hex[DIGEST_STRING_LEN + 1];

	if (digest_buffer(id, strlen(id), hex, err) < 0)
		return -1;
	if (mkdirat(s->rootfd, MOUNTS_DIR, 0700) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s/%s'", s->root, MOUNTS_DIR);
	if (asprintf(path, "%s/%s/%s", s->root, MOUNTS_DIR, hex + 7) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (mkdir(*path, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		free(steal_pointer(path));
		return plate_err_new(err, e, "cannot create cache mount directory for '%s'", id);
	}
	return 0;
}
