/* Removal through trash/: what gc takes out of snapshots/ leaves it with one rename, so a
 * snapshot is either whole in snapshots/ or gone from it, whenever the remover is killed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "store/store_internal.h"

int store_trash_move(struct store *s, int dirfd, const char *name, struct plate_error **err)
{
	_cleanup_close_ int trashfd =
		openat(s->rootfd, STORE_TRASH_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (trashfd < 0)
		return plate_err_new(err, errno, "cannot open '%s/%s'", s->root, STORE_TRASH_DIR);
	/* trash/ is emptied under the same exclusive lock before anything is moved into it,
	 * so a name already there is debris of the same entry: it goes first. */
	if (store_fs_rm_rf(trashfd, name, err) < 0)
		return -1;
	if (renameat(dirfd, name, trashfd, name) < 0)
		return errno == ENOENT ? 0
				       : plate_err_new(err, errno, "cannot move '%s' to '%s/%s'",
						       name, s->root, STORE_TRASH_DIR);
	return 0;
}

static bool is_hex64(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/*
 * A store without trash/ was written by a plate that deleted snapshots in place, file by
 * file: killed during its gc, it left a snapshots/<hex> with info.json still there and part
 * of fs/ gone, which a later load would have taken for the layer.  Each snapshot is
 * checked once against its info.json (entry count and byte total: any deleted file shows)
 * and removed when it does not match; trash/ is made only once all are sound, so an
 * interrupted check is done again by the next writer.
 */
static int check_old_snapshots(struct store *s, uint64_t *removed, struct plate_error **err)
{
	int fd = openat(s->rootfd, "snapshots", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s/snapshots'", s->root);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return plate_err_new(err, errno, "cannot read '%s/snapshots'", s->root);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		_cleanup_error_ struct plate_error *bad = NULL;
		char diff_id[DIGEST_STRING_LEN + 1];

		if (!is_hex64(de->d_name))
			continue; /* not a snapshot: fsck names it */
		snprintf(diff_id, sizeof(diff_id), "sha256:%.64s", de->d_name);
		/* Only what the check proves missing or different goes; a tree it cannot
		 * read (EACCES below a 0000 directory of a rootless store, EIO) was not
		 * half-deleted by a gc and stays for fsck to report. */
		if (store_snapshot_check(s, diff_id, &bad) == 0 ||
		    (bad->errno_value != 0 && bad->errno_value != ENOENT &&
		     bad->errno_value != ENOTDIR && bad->errno_value != EFBIG &&
		     bad->errno_value != EINVAL))
			continue;
		if (store_fs_rm_rf(dirfd(d), de->d_name, err) < 0)
			return plate_err_wrap(err, "removing the damaged snapshot '%s'", diff_id);
		if (removed != NULL)
			(*removed)++;
	}
	if (errno != 0)
		return plate_err_new(err, errno, "cannot read '%s/snapshots'", s->root);
	if (store_fs_fsync_dir(s->rootfd, "snapshots", err) < 0)
		return -1;
	if (mkdirat(s->rootfd, STORE_TRASH_DIR, 0700) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s/%s'", s->root, STORE_TRASH_DIR);
	return store_fs_fsync_dir(s->rootfd, ".", err);
}

int store_trash_clean(struct store *s, uint64_t *removed, struct plate_error **err)
{
	int fd = openat(s->rootfd, STORE_TRASH_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	bool synced = false;

	if (fd < 0 && errno == ENOENT)
		return check_old_snapshots(s, removed, err);
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s/%s'", s->root, STORE_TRASH_DIR);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return plate_err_new(err, errno, "cannot read '%s/%s'", s->root, STORE_TRASH_DIR);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* A gc killed between its rename and its fsyncs left this entry: the rename
		 * must be on disk before any deletion, or a power loss could undo the rename
		 * and keep the deletions (a half-deleted snapshot back under snapshots/). */
		if (!synced && (store_fs_fsync_dir(s->rootfd, "snapshots", err) < 0 ||
				store_fs_fsync_dir(s->rootfd, STORE_TRASH_DIR, err) < 0))
			return -1;
		synced = true;
		if (store_fs_rm_rf(dirfd(d), de->d_name, err) < 0)
			return plate_err_wrap(err, "emptying '%s/%s'", s->root, STORE_TRASH_DIR);
		if (removed != NULL)
			(*removed)++;
	}
	if (errno != 0)
		return plate_err_new(err, errno, "cannot read '%s/%s'", s->root, STORE_TRASH_DIR);
	return 0;
}
