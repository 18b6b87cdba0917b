/*
 * Path resolution inside an extraction root that can never leave it.
 *
 * Entry paths are already clean (no "..", not absolute), so the only way out of the
 * root would be a symlink met on the way, placed there by an earlier entry or by a lower
 * layer.  Both resolution methods refuse any symlink in a parent component, so they
 * agree on every input; openat2 additionally guards against concurrent renames.
 * Refusing (rather than following within the root, as RESOLVE_IN_ROOT alone would) is
 * deliberate: a legal layer never writes through a symlink — docker's and overlayfs's
 * layer semantics replace a path, they do not traverse it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/extract_internal.h"

void layer_root_init(struct layer_root *root, int fd, bool allow_openat2)
{
	memset(root, 0, sizeof(*root));
	root->fd = fd;
	root->use_openat2 = allow_openat2;
	root->cache_fd = -1;
	layer_root_invalidate(root);
}

/* The cached fd stays open (a caller may still hold it, borrowed) until the next lookup
 * replaces it; only the key is cleared.  No clean path starts with '/'. */
void layer_root_invalidate(struct layer_root *root)
{
	memcpy(root->cache_path, "/", 2);
}

void layer_root_release(struct layer_root *root)
{
	if (root->cache_fd >= 0)
		close(root->cache_fd);
	root->cache_fd = -1;
	layer_hashset_release(&root->created);
}

static int open_component_error(struct layer_root *root, int dirfd, const char *dir,
				const char *comp, int saved, struct plate_error **err)
{
	struct stat st;
	char q[LAYER_QUOTE_MAX];

	if ((saved == ENOTDIR || saved == ELOOP) &&
	    fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return plate_err_new(err, ELOOP, "parent '%s' is or goes through a symlink",
					     layer_quote(dir, strlen(dir), q));
		if (!S_ISDIR(st.st_mode))
			return plate_err_new(err, ENOTDIR, "parent '%s' is not a directory",
					     layer_quote(dir, strlen(dir), q));
	}
	return plate_err_new(err, saved, "cannot open parent '%s'",
			     layer_quote(dir, strlen(dir), q));
}

/* The component-by-component walk; creates missing directories when asked. */
static int walk(struct layer_root *root, const char *dir, bool create, int *out,
		struct plate_error **err)
{
	_cleanup_close_ int fd = openat(root->fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char comp[LAYER_MAX_NAME + 1];
	const char *p = dir;

	if (fd < 0)
		return plate_err_new(err, errno, "cannot open the extraction root");
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		int next;

		if (n == 0 || n > LAYER_MAX_NAME)
			PLATE_BUG("unclean path reached the walk");
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (!create)
				return 1;
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
				return plate_err_new(err, errno, "cannot create parent '%.*s'",
						     (int)(p - dir + n), dir);
			/* mkdirat honours the umask; a made-up parent gets exactly 0755 */
			_cleanup_close_ int made =
				openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (made >= 0)
				fchmod(made, 0755);
			if (layer_hashset_add(&root->created,
					      layer_hash(dir, (size_t)(p - dir) + n)) < 0)
				return plate_err_new(err, ENOMEM, "cannot record created paths");
			next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			char sub[LAYER_MAX_PATH + 1];
			int saved = errno;
			memcpy(sub, dir, (size_t)(p - dir) + n);
			sub[(p - dir) + n] = '\0';
			return open_component_error(root, fd, sub, comp, saved, err);
		}
		close(fd);
		fd = next;
		p += n;
		if (*p == '/')
			p++;
	}
	*out = steal_fd(&fd);
	return 0;
}

static int try_openat2(struct layer_root *root, const char *dir, int *out)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, root->fd, dir[0] != '\0' ? dir : ".", &how, sizeof(how));

	if (fd < 0) {
		/* ENOSYS: old kernel; EPERM: a seccomp filter that predates openat2. */
		if (errno == ENOSYS || errno == EPERM)
			root->use_openat2 = false;
		return -1;
	}
	*out = (int)fd;
	return 0;
}

int layer_root_open_dir(struct layer_root *root, const char *dir, bool create, bool owned, int *fd,
			struct plate_error **err)
{
	int got = -1, r;

	if (!owned && root->cache_fd >= 0 && strcmp(root->cache_path, dir) == 0) {
		*fd = root->cache_fd;
		return 0;
	}
	if (root->use_openat2 && try_openat2(root, dir, &got) < 0) {
		got = -1;
		/* Any failure (missing component, symlink, not a directory) is diagnosed and,
		 * for a missing one, repaired by the walk, which follows the same rules. */
	}
	if (got < 0) {
		r = walk(root, dir, create, &got, err);
		if (r != 0)
			return r;
	}
	if (owned) {
		*fd = got;
		return 0;
	}
	if (root->cache_fd >= 0)
		close(root->cache_fd);
	root->cache_fd = got;
	memcpy(root->cache_path, dir, strlen(dir) + 1);
	*fd = got;
	return 0;
}

static int remove_dir_contents(struct layer_root *root, int dfd, struct plate_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return plate_err_new(err, saved, "cannot read a directory to remove");
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (layer_remove_tree(root, dfd, de->d_name, err) < 0)
			return -1;
	}
	return 0;
}

int layer_remove_tree(struct layer_root *root, int pfd, const char *name, struct plate_error **err)
{
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return plate_err_new(err, errno, "cannot stat '%s'", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
			return plate_err_new(err, errno, "cannot remove '%s'", name);
		return 0;
	}
	/* A cached directory fd may be inside what goes away. */
	layer_root_invalidate(root);
	_cleanup_close_ int dfd =
		openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return plate_err_new(err, errno, "cannot open '%s' to remove it", name);
	if (remove_dir_contents(root, dfd, err) < 0)
		return -1;
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return plate_err_new(err, errno, "cannot remove directory '%s'", name);
	return 0;
}
