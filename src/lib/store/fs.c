/* File helpers of the store: removal, fsync, whole-file replacement, hashing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "base/output.h"
#include "store/store_internal.h"

/* Empties the directory fd (owned: closed here). */
static int rm_contents(int fd, const char *path, struct plate_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	/* A directory without write or search permission (a layer may hold one) cannot be
	 * emptied by a non-root owner; it is being deleted anyway. */
	fchmod(fd, 0700);
	d = fdopendir(fd);
	if (d == NULL) {
		int e = errno;
		close(fd);
		return plate_err_new(err, e, "cannot read directory '%s'", path);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM)
			return plate_err_new(err, errno, "cannot remove '%s/%s'", path, de->d_name);
		int sub = openat(dirfd(d), de->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return plate_err_new(err, errno, "cannot remove '%s/%s'", path, de->d_name);
		_cleanup_free_ char *subpath = NULL;
		if (asprintf(&subpath, "%s/%s", path, de->d_name) < 0) {
			close(sub);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		if (rm_contents(sub, subpath, err) < 0)
			return -1;
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return plate_err_new(err, errno, "cannot remove '%s'", subpath);
	}
	if (errno != 0)
		return plate_err_new(err, errno, "cannot read directory '%s'", path);
	return 0;
}

int store_fs_rm_rf(int dirfd, const char *path, struct plate_error **err)
{
	int fd;

	if (unlinkat(dirfd, path, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return plate_err_new(err, errno, "cannot remove '%s'", path);
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : plate_err_new(err, errno, "cannot remove '%s'", path);
	if (rm_contents(fd, path, err) < 0)
		return -1;
	if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return plate_err_new(err, errno, "cannot remove '%s'", path);
	return 0;
}

/*
 * FS_TOPDIR_FL (chattr +T) makes ext4 place each new subdirectory with its Orlov
 * allocator, spreading them over block groups with free space, instead of next to the
 * parent.  Why it matters here: everything a transaction writes lives below tmp/, and the
 * previous store or transaction was usually deleted just before, leaving the parent's
 * block groups full of freshly freed inodes.  On an ext4 without a journal the inode
 * allocator rejects each of those as recently_deleted() only after reading its inode-table
 * block, one candidate at a time: measured as 35-60% of `plate load` of a 461 MB layer
 * and a 2x spread between runs.  Other filesystems ignore the flag or refuse it
 * (ENOTTY, EOPNOTSUPP, EINVAL), and an unprivileged owner may not be allowed to set it
 * (EPERM): placement is only a hint, so every failure is ignored.
 */
void store_fs_spread_subdirs(int fd)
{
	int flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL) != 0)
		return;
	flags |= FS_TOPDIR_FL;
	(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

int store_fs_fsync_dir(int dirfd, const char *path, struct plate_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return plate_err_new(err, errno, "cannot sync directory '%s'", path);
	return 0;
}

int store_fs_read_file(int dirfd, const char *path, size_t max, char **data, size_t *len,
		       struct plate_error **err)
{
	return file_read_at(dirfd, path, FILE_READ_NOFOLLOW, max, data, len, err);
}

int store_fs_replace_file(int dirfd, const char *path, int tmpdirfd, const void *data, size_t len,
			  struct plate_error **err)
{
	char tmpname[64];
	int fd = -1;

	for (unsigned attempt = 0; fd < 0; attempt++) {
		snprintf(tmpname, sizeof(tmpname), "replace.%d.%u", (int)getpid(), attempt);
		fd = openat(tmpdirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && (errno != EEXIST || attempt > 1000))
			return plate_err_new(err, errno, "cannot create a temporary file for '%s'",
					     path);
	}
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlinkat(tmpdirfd, tmpname, 0);
		return plate_err_new(err, e, "cannot write '%s'", path);
	}
	close(fd);
	if (renameat(tmpdirfd, tmpname, dirfd, path) < 0) {
		int e = errno;
		unlinkat(tmpdirfd, tmpname, 0);
		return plate_err_new(err, e, "cannot replace '%s'", path);
	}
	/* Too late to undo: the new file is what readers see, only its durability is unknown
	 * (a rename back would be no more durable).  Say so rather than "cannot sync '.'". */
	if (fsync(dirfd) < 0)
		return plate_err_new(err, errno,
				     "'%s' replaced but not known to be on disk: cannot sync its "
				     "directory",
				     path);
	return 0;
}

int store_fs_hash_fd(int fd, char digest[DIGEST_STRING_LEN + 1], int64_t *size,
		     struct plate_error **err)
{
	static const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = malloc(chunk);
	struct digest d;
	off_t off = 0;
	ssize_t n;

	if (buf == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (digest_init(&d, err) < 0)
		return -1;
	while ((n = pread(fd, buf, chunk, off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			digest_release(&d);
			return plate_err_new(err, e, "cannot read blob");
		}
		digest_update(&d, buf, (size_t)n);
		off += n;
	}
	digest_final(&d, digest);
	digest_release(&d);
	if (size != NULL)
		*size = off;
	return 0;
}

int store_fs_copy(int src, int dst, struct plate_error **err)
{
	static const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = malloc(chunk);
	ssize_t n;

	if (buf == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	while ((n = read(src, buf, chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return plate_err_new(err, errno, "cannot read");
		}
		if (write_all(dst, buf, (size_t)n) < 0)
			return plate_err_new(err, errno, "cannot write");
	}
	return 0;
}

const char *store_digest_hex(const char *digest, struct plate_error **err)
{
	if (digest == NULL || digest_parse(digest, strlen(digest), err) < 0)
		return NULL;
	return digest + sizeof(DIGEST_ALGORITHM);
}

int store_fs_walk(int fd, store_fs_visit_fn visit, void *data, struct plate_error **err)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;

	if (d == NULL) {
		int e = errno;
		close(fd);
		return plate_err_new(err, e, "cannot read snapshot directory");
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return plate_err_new(err, errno, "cannot stat '%s'", de->d_name);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return plate_err_new(err, errno, "cannot open '%s'", de->d_name);
			if (store_fs_walk(sub, visit, data, err) < 0)
				return plate_err_wrap(err, "'%s'", de->d_name);
		}
		if (visit(dirfd(d), de->d_name, &st, data, err) < 0)
			return -1;
	}
	if (errno != 0)
		return plate_err_new(err, errno, "cannot read snapshot directory");
	return 0;
}

struct tree_stats {
	uint64_t *entries;
	uint64_t *bytes;
};

static int count_entry(int dirfd, const char *name, const struct stat *st, void *data,
		       struct plate_error **err)
{
	struct tree_stats *t = data;

	(*t->entries)++;
	if (S_ISREG(st->st_mode))
		*t->bytes += (uint64_t)st->st_size;
	return 0;
}

int store_fs_tree_stats(int dirfd, uint64_t *entries, uint64_t *bytes, struct plate_error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*entries = 0;
	*bytes = 0;
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open snapshot directory");
	return store_fs_walk(fd, count_entry, &(struct tree_stats){ entries, bytes }, err);
}
