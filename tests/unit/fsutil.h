/*
 * tests/unit/fsutil.h — small filesystem helpers shared by the layer tests and fuzzers:
 * private temp dirs and recursive removal that never follows symlinks.
 */
#ifndef PLATE_TESTS_FSUTIL_H
#define PLATE_TESTS_FSUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new private directory under $PLATE_TEST_TMP (or /tmp); malloc'd path or NULL. */
static inline char *fsutil_mkdtemp(const char *tag)
{
	const char *base = getenv("PLATE_TEST_TMP");
	char *path;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	mkdir(base, 0755);
	if (asprintf(&path, "%s/%s.XXXXXX", base, tag) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

/* Removes name in dirfd recursively without following symlinks; makes read-only
 * directories writable on the way.  0 or -1. */
static inline int fsutil_remove_at(int parent, const char *name)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d;
		struct dirent *de;
		if (fd < 0)
			return -1;
		fchmod(fd, 0700);
		d = fdopendir(fd);
		if (d == NULL) {
			close(fd);
			return -1;
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				fsutil_remove_at(dirfd(d), de->d_name);
		closedir(d);
		return unlinkat(parent, name, AT_REMOVEDIR);
	}
	return unlinkat(parent, name, 0);
}

static inline int fsutil_remove(const char *path)
{
	return fsutil_remove_at(AT_FDCWD, path);
}

/* Writes len bytes to path (relative to dirfd), creating it with mode. */
static inline int fsutil_write_at(int dirfd, const char *path, const void *data, size_t len,
				  mode_t mode)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	fchmod(fd, mode);
	return close(fd);
}

/* Number of entries in a directory (excluding . and ..), -1 on error. */
static inline int fsutil_count(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* For building test trees: write text to dir/rel with mode, mkdir dir/rel (0755), symlink
 * dir/rel -> target; 0 or -1. */
static inline int fsutil_write_in(const char *dir, const char *rel, const char *text, mode_t mode)
{
	char path[4096];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return chmod(path, mode) < 0 ? -1 : rc;
}

static inline int fsutil_mkdir_in(const char *dir, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return mkdir(path, 0755);
}

static inline int fsutil_symlink_in(const char *dir, const char *rel, const char *target)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (symlink(target, path) < 0) {
		fprintf(stderr, "# symlink %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

#endif
