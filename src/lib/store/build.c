/* What the build engine needs from the store beyond images: scratch directories inside a
 * transaction (absolute paths), and the directories of RUN --mount=type=cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
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

int store_cache_mounts_prune(struct store *s, uint64_t *removed, struct plate_error **err)
{
	_cleanup_close_ int dfd = openat(s->rootfd, MOUNTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *ent;
	int r = 0;

	*removed = 0;
	if (dfd < 0)
		return errno == ENOENT ? 0
				       : plate_err_new(err, errno, "cannot open '%s/%s'", s->root,
						       MOUNTS_DIR);
	if ((d = fdopendir(dfd)) == NULL)
		return plate_err_new(err, errno, "cannot read '%s/%s'", s->root, MOUNTS_DIR);
	dfd = -1; /* owned by d */
	while (r == 0 && (errno = 0, ent = readdir(d)) != NULL) {
		_cleanup_close_ int fd = -1;
		if (ent->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* A build holds a lock on every cache mount it uses (shared or exclusive). */
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		if (store_fs_rm_rf(dirfd(d), ent->d_name, err) < 0)
			r = -1;
		else
			(*removed)++;
	}
	closedir(d);
	return r;
}
