/*
 * Finding and reading the ignore file of a build (the module's only I/O).
 *
 * BuildKit's Dockerfile frontend (frontend/dockerui) first asks the Dockerfile's own
 * directory for "<name>.dockerignore", then the context for ".dockerignore"; both reads
 * happen inside the transferred directory, so a symlink resolves within it.  plate opens
 * with openat2(RESOLVE_IN_ROOT) for the same effect; where openat2 is unavailable it
 * refuses to follow a symlink at all rather than let one leave the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "ignore/ignore.h"

#define FLAGS FILE_READ_OPEN_FLAGS

/* Opens name (one component, or a relative path) inside the directory root. */
static int open_in_root(int root, const char *name)
{
	struct open_how how = {
		.flags = FLAGS,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, name, &how, sizeof(how));

	/* ENOSYS: kernel before 5.6; EPERM: seccomp profiles that predate openat2 */
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = openat(root, name, FLAGS | O_NOFOLLOW);
	return fd;
}

static bool is_absent(int e)
{
	return e == ENOENT || e == ENOTDIR;
}

/* 1 and the parsed patterns when root/name exists, 0 when it does not, -1 on error. */
static int try_file(int root, const char *name, const char *shown, char ***patterns, size_t *n,
		    struct plate_error **err)
{
	_cleanup_close_ int fd = open_in_root(root, name);
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (fd < 0 && is_absent(errno))
		return 0;
	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", shown);
	if (file_read_fd(fd, shown, 0, IGNORE_MAX_FILE, &data, &len, err) < 0)
		return -1;
	if (ignore_file_parse(data, len, patterns, n, err) < 0) {
		/* The location is in this file, not in the Dockerfile a caller may be showing:
		 * it goes into the text, and the error is no longer located. */
		_cleanup_error_ struct plate_error *inner = steal_pointer(err);
		if (inner->line == 0)
			return plate_err_new(err, inner->errno_value, "%s: %s", shown,
					     inner->message);
		return plate_err_new(err, inner->errno_value, "%s:%u:%u: %s", shown, inner->line,
				     inner->column ? inner->column : 1, inner->message);
	}
	return 1;
}

int ignore_load_for(int context_dirfd, int dockerfile_dirfd, const char *dockerfile_path,
		    char ***patterns, size_t *n, enum ignore_source *source,
		    struct plate_error **err)
{
	enum ignore_source dummy;
	int rc;

	if (source == NULL)
		source = &dummy;
	if (dockerfile_path != NULL) {
		const char *slash = strrchr(dockerfile_path, '/');
		_cleanup_free_ char *dir = NULL, *shown = NULL, *name = NULL;
		_cleanup_close_ int dfd = -1;

		if (asprintf(&shown, "%s.dockerignore", dockerfile_path) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (slash == NULL)
			dir = strdup(".");
		else if (slash == dockerfile_path)
			dir = strdup("/");
		else
			dir = strndup(dockerfile_path, (size_t)(slash - dockerfile_path));
		if (dir == NULL ||
		    asprintf(&name, "%s.dockerignore", slash ? slash + 1 : dockerfile_path) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		/* the Dockerfile's directory is the root its ignore file is resolved in */
		dfd = openat(dockerfile_dirfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 && !is_absent(errno))
			return plate_err_new(err, errno, "cannot open '%s'", dir);
		if (dfd >= 0) {
			rc = try_file(dfd, name, shown, patterns, n, err);
			if (rc < 0)
				return -1;
			if (rc > 0) {
				*source = IGNORE_SOURCE_DOCKERFILE;
				return 0;
			}
		}
	}
	rc = try_file(context_dirfd, ".dockerignore", ".dockerignore", patterns, n, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		*patterns = NULL;
		*n = 0;
		*source = IGNORE_SOURCE_NONE;
		return 0;
	}
	*source = IGNORE_SOURCE_CONTEXT;
	return 0;
}
