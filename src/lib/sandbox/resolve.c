/*
 * Path resolution inside the sandbox root, before pivot_root.
 *
 * Mount targets come from the image ("/etc/resolv.conf" may be a symlink in it, "/proc"
 * may be missing or a symlink to "/"), and the setup runs with the host as its root, so a
 * plain path would let an image's absolute symlink point a mount or a stub file at the
 * host.  Each component is looked up without following symlinks and links are expanded by
 * hand relative to the sandbox root, like openat2(RESOLVE_IN_ROOT) but working on every
 * kernel and reporting what it creates.  Runs in the child: fixed buffers only.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"

/* The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
#define MAX_SYMLINKS 40

/* Reports the directories overlayfs will copy up into upperdir when something is created
 * under `parent` (relative to the root): each ancestor not yet present in upperdir. */
static void note_copy_ups(const struct sandbox_stub_sink *sink, char *parent)
{
	size_t len = strlen(parent);
	struct stat st;

	for (size_t i = 0; i <= len; i++) {
		if (parent[i] != '/' && parent[i] != '\0')
			continue;
		if (i == 0)
			break;
		parent[i] = '\0';
		if (fstatat(sink->upperfd, parent, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			sink->note(sink->data, SANDBOX_STUB_COPYUP, parent);
		if (i < len)
			parent[i] = '/';
	}
}

/* Creates the missing `rel` (its parent exists and is symlink-free) as a directory or an
 * empty file and reports it when it lies on the root's filesystem. */
static int make_stub(int rootfd, char *rel, size_t parent_len, bool dir,
		     const struct sandbox_stub_sink *sink)
{
	struct stat parent_st;
	bool ours;

	if (parent_len > 0)
		rel[parent_len] = '\0';
	if (fstatat(rootfd, parent_len > 0 ? rel : ".", &parent_st, 0) < 0)
		return -errno;
	ours = parent_st.st_dev == sink->root_dev;
	if (ours && sink->upperfd >= 0 && parent_len > 0)
		note_copy_ups(sink, rel);
	if (parent_len > 0)
		rel[parent_len] = '/';
	if (dir) {
		if (mkdirat(rootfd, rel, 0755) < 0)
			return -errno;
	} else {
		int fd = openat(rootfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	if (ours)
		sink->note(sink->data, dir ? SANDBOX_STUB_DIR : SANDBOX_STUB_FILE, rel);
	return 0;
}

/* Replaces pending with "link/rest-after-pos". */
static int splice_link(char *pending, size_t pos, const char *link)
{
	char merged[PATH_MAX];
	size_t llen = strlen(link), rlen = strlen(pending + pos);

	if (llen + 1 + rlen >= sizeof(merged))
		return -ENAMETOOLONG;
	memcpy(merged, link, llen);
	merged[llen] = '/';
	memcpy(merged + llen + 1, pending + pos, rlen + 1);
	memcpy(pending, merged, llen + 1 + rlen + 1);
	return 0;
}

int sandbox_resolve(int rootfd, const char *path, unsigned flags, char *out, size_t out_size,
		    const struct sandbox_stub_sink *sink)
{
	bool create = (flags & (SANDBOX_RESOLVE_CREATE_DIR | SANDBOX_RESOLVE_CREATE_FILE)) != 0;
	char pending[PATH_MAX], link[PATH_MAX];
	size_t pos = 0, olen = 0;
	unsigned links = 0;

	if (out_size == 0 || (create && sink == NULL))
		return -EINVAL;
	if (strlen(path) >= sizeof(pending))
		return -ENAMETOOLONG;
	memcpy(pending, path, strlen(path) + 1);
	out[0] = '\0';

	for (;;) {
		const char *comp;
		size_t clen, next, cand;
		struct stat st;
		bool last;

		while (pending[pos] == '/')
			pos++;
		if (pending[pos] == '\0')
			break;
		comp = pending + pos;
		clen = strcspn(comp, "/");
		next = pos + clen;
		last = pending[next + strspn(pending + next, "/")] == '\0';
		if (clen == 1 && comp[0] == '.') {
			pos = next;
			continue;
		}
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			/* ".." of the root is the root, as for a chroot. */
			while (olen > 0 && out[olen - 1] != '/')
				olen--;
			if (olen > 0)
				olen--;
			out[olen] = '\0';
			pos = next;
			continue;
		}

		cand = olen + (olen > 0 ? 1 : 0) + clen;
		if (cand >= out_size)
			return -ENAMETOOLONG;
		if (olen > 0)
			out[olen] = '/';
		memcpy(out + cand - clen, comp, clen);
		out[cand] = '\0';

		if (fstatat(rootfd, out, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int r;

			if (errno != ENOENT || !create)
				return -errno;
			r = make_stub(rootfd, out, olen,
				      !last || (flags & SANDBOX_RESOLVE_CREATE_DIR), sink);
			if (r < 0)
				return r;
			olen = cand;
			pos = next;
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;
			int r;

			if (++links > MAX_SYMLINKS)
				return -ELOOP;
			n = readlinkat(rootfd, out, link, sizeof(link) - 1);
			if (n < 0)
				return -errno;
			link[n] = '\0';
			r = splice_link(pending, next, link);
			if (r < 0)
				return r;
			pos = 0;
			if (link[0] == '/')
				olen = 0;
			out[olen] = '\0';
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		olen = cand;
		pos = next;
	}
	out[olen] = '\0';
	return 0;
}
