/* What the build engine needs from the store beyond images: scratch directories inside a
 * transaction, trees published as snapshots without re-extracting a blob, and the
 * directories of RUN --mount=type=cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "store/store_internal.h"

#define MOUNTS_DIR "mounts"

/* The absolute path of an open directory: the transaction's directory name is private to
 * txn.c, its descriptor is all a scratch directory comes with. */
static char *fd_path(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || target[0] != '/')
		return NULL;
	target[n] = '\0';
	return strdup(target);
}

int store_txn_scratch_dir(struct store_txn *t, const char *name, char **path,
			  struct plate_error **err)
{
	_cleanup_close_ int fd = -1;

	if (store_txn_workdir(t, name, &fd, err) < 0)
		return -1;
	if ((*path = fd_path(fd)) == NULL)
		return plate_err_new(err, errno ? errno : ENOMEM,
				     "cannot find the path of scratch directory '%s'", name);
	return 0;
}

static int write_info(int snapfd, const char *diff_id, struct plate_error **err)
{
	_cleanup_close_ int fsfd = -1, infofd = -1;
	_cleanup_free_ char *info = NULL;
	uint64_t entries, bytes;
	int n;

	fsfd = openat(snapfd, "fs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fsfd < 0)
		return plate_err_new(err, errno, "cannot open snapshot tree of '%s'", diff_id);
	if (store_fs_tree_stats(fsfd, &entries, &bytes, err) < 0)
		return -1;
	/* The same record store_snapshot_make() writes, without a blob digest: the blob of a
	 * built layer is written later, if an image ever needs it. */
	n = asprintf(&info, "{\"bytes\":%llu,\"diff_id\":\"%s\",\"entries\":%llu}\n",
		     (unsigned long long)bytes, diff_id, (unsigned long long)entries);
	if (n < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	infofd = openat(snapfd, "info.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (infofd < 0 || store_fs_write_all(infofd, info, (size_t)n) < 0 || fsync(infofd) < 0)
		return plate_err_new(err, errno, "cannot write info.json of snapshot '%s'", diff_id);
	return 0;
}

int store_txn_snapshot_publish(struct store_txn *t, const char *const *dirs,
			       const char *const *diff_ids, size_t n, struct plate_error **err)
{
	struct store *s = store_txn_store(t);
	_cleanup_close_ int snapsfd = -1;
	bool synced = false;

	snapsfd = openat(s->rootfd, "snapshots", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (snapsfd < 0)
		return plate_err_new(err, errno, "cannot open '%s/snapshots'", s->root);
	for (size_t i = 0; i < n; i++) {
		const char *hex = store_digest_hex(diff_ids[i], err);
		_cleanup_free_ char *holder = NULL, *fs = NULL;
		_cleanup_close_ int holderfd = -1;

		if (hex == NULL)
			return -1;
		/* Pinned first: a gc that starts after this sees the pin, one that started
		 * before holds the lock the pin waits for. */
		if (store_txn_pin(t, diff_ids[i], err) < 0)
			return -1;
		if (store_snapshot_exists(s, diff_ids[i]))
			continue;
		if (!synced) {
			/* The trees were written through overlayfs and plain writes: make them
			 * durable before any name points at them. */
			if (syncfs(snapsfd) < 0)
				return plate_err_new(err, errno, "cannot sync the store's filesystem");
			synced = true;
		}
		if (asprintf(&holder, "%s.snap", dirs[i]) < 0 || asprintf(&fs, "%s.snap/fs", dirs[i]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (mkdir(holder, 0755) < 0 || rename(dirs[i], fs) < 0 ||
		    (holderfd = open(holder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return plate_err_new(err, errno, "cannot prepare snapshot '%s'", diff_ids[i]);
		if (write_info(holderfd, diff_ids[i], err) < 0)
			return -1;
		if (renameat(AT_FDCWD, holder, snapsfd, hex) < 0 && errno != EEXIST &&
		    errno != ENOTEMPTY)
			return plate_err_new(err, errno, "cannot publish snapshot '%s'", diff_ids[i]);
	}
	if (synced && fsync(snapsfd) < 0)
		return plate_err_new(err, errno, "cannot sync '%s/snapshots'", s->root);
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
