/* Snapshots: a layer extracted once into snapshots/<hex>/fs, with info.json recording the
 * tree's shape so that fsck can tell a damaged snapshot from a sound one, and fs.index
 * listing the tree for the doctor (layer_index_build()). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/output.h"
#include "json/json.h"
#include "layer/layer.h"
#include "store/store_internal.h"
#include "userns/userns.h"

#define INFO_MAX 4096

/* Writes the tree's index beside it (dirfd/name/fs.index): one walk of the fresh tree,
 * whose pages are still hot, that also counts it for info.json.  Like info.json it is
 * published with the snapshot and synced by the commit's syncfs. */
static int write_index(int snapfd, int fsfd, const char *name, const char *diff_id,
		       uint64_t *entries, uint64_t *bytes, struct plate_error **err)
{
	_cleanup_buf_ struct buf ix = BUF_INIT(LAYER_INDEX_MAX);
	_cleanup_close_ int fd = -1;

	if (layer_index_build(fsfd, diff_id, &ix, entries, bytes, err) < 0)
		return plate_err_wrap(err, "cannot index snapshot '%s'", name);
	fd = openat(snapfd, STORE_SNAPSHOT_INDEX, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, ix.data, ix.len) < 0)
		return plate_err_new(err, errno, "cannot write '%s/%s'", name,
				     STORE_SNAPSHOT_INDEX);
	return 0;
}

/* Records the tree's shape beside it (dirfd/name/info.json), after its index. */
static int write_info(int snapfd, int fsfd, const char *name, const char *layer_digest,
		      const char *diff_id, struct plate_error **err)
{
	_cleanup_close_ int infofd = -1;
	_cleanup_free_ char *info = NULL;
	uint64_t entries, bytes;
	int n;

	if (write_index(snapfd, fsfd, name, diff_id, &entries, &bytes, err) < 0)
		return -1;
	n = asprintf(&info, "{\"bytes\":%llu,\"diff_id\":\"%s\",%s%s%s\"entries\":%llu}\n",
		     (unsigned long long)bytes, diff_id, layer_digest ? "\"digest\":\"" : "",
		     layer_digest ? layer_digest : "", layer_digest ? "\"," : "",
		     (unsigned long long)entries);
	if (n < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	infofd = openat(snapfd, "info.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (infofd < 0 || write_all(infofd, info, (size_t)n) < 0)
		return plate_err_new(err, errno, "cannot write '%s/info.json'", name);
	return 0;
}

int store_snapshot_make(int dirfd, const char *name, int layer_fd, const char *layer_digest,
			const char *diff_id, const struct layer_limits *limits,
			struct plate_error **err)
{
	bool host_root = geteuid() == 0 && !userns_nested();
	struct layer_extract_options opts = {
		.expected_diff_id = diff_id,
		.expected_digest = layer_digest,
		.limits = limits,
		.whiteouts = LAYER_WHITEOUT_OVERLAY,
		/* Only root of the initial user namespace can make device nodes and overlay's
		 * trusted.* xattrs; root of a rootless namespace still owns files by any id. */
		.devices = host_root ? LAYER_DEVICES_CREATE : LAYER_DEVICES_SKIP,
		.owners = LAYER_OWNER_AUTO,
		.flags = host_root ? 0 : LAYER_EXTRACT_USER_XATTR,
	};
	struct layer_extract_result result;
	_cleanup_close_ int snapfd = -1, fsfd = -1;

	if (mkdirat(dirfd, name, 0755) < 0 ||
	    (snapfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    mkdirat(snapfd, "fs", 0755) < 0 ||
	    (fsfd = openat(snapfd, "fs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return plate_err_new(err, errno, "cannot create snapshot directory '%s'", name);
	if (layer_extract(layer_fd, fsfd, &opts, &result, err) < 0)
		return -1;
	return write_info(snapfd, fsfd, name, layer_digest, diff_id, err);
}

/* mtime := min(whole seconds of mtime, epoch), for store_fs_walk(). */
static int clamp_entry(int dirfd, const char *name, const struct stat *st, void *data,
		       struct plate_error **err)
{
	time_t epoch = (time_t) * (const long long *)data;
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = st->st_mtim.tv_sec < epoch ? st->st_mtim.tv_sec : epoch },
	};

	if (st->st_mtim.tv_nsec == 0 && st->st_mtim.tv_sec <= epoch)
		return 0;
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return plate_err_new(err, errno, "cannot set the time of '%s'", name);
	return 0;
}

int store_snapshot_adopt(int dirfd, const char *name, const char *src, const char *diff_id,
			 long long epoch, struct plate_error **err)
{
	_cleanup_close_ int snapfd = -1, fsfd = -1;

	if (mkdirat(dirfd, name, 0755) < 0 ||
	    (snapfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return plate_err_new(err, errno, "cannot create snapshot directory '%s'", name);
	if (renameat(AT_FDCWD, src, snapfd, "fs") < 0)
		return plate_err_new(err, errno, "cannot move '%s' into the store", src);
	if ((fsfd = openat(snapfd, "fs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return plate_err_new(err, errno, "cannot open snapshot directory '%s'", name);
	if (epoch >= 0) {
		int walkfd = openat(snapfd, "fs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (walkfd < 0)
			return plate_err_new(err, errno, "cannot open snapshot directory '%s'",
					     name);
		if (store_fs_walk(walkfd, clamp_entry, &epoch, err) < 0)
			return -1;
	}
	return write_info(snapfd, fsfd, name, NULL, diff_id, err);
}

int store_snapshot_check(struct store *s, const char *diff_id, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_close_ int fsfd = -1;
	const char *hex = store_digest_hex(diff_id, err), *recorded = NULL;
	char path[DIGEST_HEX_LEN + 32];
	int64_t want_entries = -1, want_bytes = -1;
	uint64_t entries, bytes;
	json_t *info = NULL;
	size_t len;
	int r = -1;

	if (hex == NULL)
		return -1;
	snprintf(path, sizeof(path), "snapshots/%s/info.json", hex);
	if (store_fs_read_file(s->rootfd, path, INFO_MAX, &data, &len, err) < 0 ||
	    json_parse(data, len, INFO_MAX, 4, &info, err) < 0 ||
	    json_get_string(info, "diff_id", true, &recorded, "info.json", err) < 0 ||
	    json_get_int(info, "entries", true, &want_entries, "info.json", err) < 0 ||
	    json_get_int(info, "bytes", true, &want_bytes, "info.json", err) < 0)
		goto out;
	if (strcmp(recorded, diff_id) != 0) {
		plate_err_new(err, 0, "info.json names '%s'", recorded);
		goto out;
	}
	snprintf(path, sizeof(path), "snapshots/%s/fs", hex);
	fsfd = openat(s->rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fsfd < 0) {
		plate_err_new(err, errno, "cannot open '%s'", path);
		goto out;
	}
	if (store_fs_tree_stats(fsfd, &entries, &bytes, err) < 0)
		goto out;
	if ((int64_t)entries != want_entries || (int64_t)bytes != want_bytes) {
		plate_err_new(err, 0,
			      "tree has %llu entries and %llu bytes, it was made with %lld and "
			      "%lld",
			      (unsigned long long)entries, (unsigned long long)bytes,
			      (long long)want_entries, (long long)want_bytes);
		goto out;
	}
	r = 0;
out:
	json_decref(info);
	return r;
}

/* The snapshot's index file, read and parsed (*data keeps its bytes). */
static int read_snapshot_index(struct store *s, const char *diff_id, const char *hex, char **data,
			       size_t *len, struct layer_index **ix, struct plate_error **err)
{
	char path[DIGEST_HEX_LEN + 32];

	snprintf(path, sizeof(path), "snapshots/%s/%s", hex, STORE_SNAPSHOT_INDEX);
	if (faccessat(s->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return plate_err_new(err, ENOENT, "%s is missing", STORE_SNAPSHOT_INDEX);
	if (store_fs_read_file(s->rootfd, path, LAYER_INDEX_MAX, data, len, err) < 0 ||
	    layer_index_parse(*data, *len, diff_id, ix, err) < 0)
		return -1;
	return 0;
}

int store_snapshot_index_check(struct store *s, const char *diff_id, struct plate_error **err)
{
	_cleanup_buf_ struct buf want = BUF_INIT(LAYER_INDEX_MAX);
	_cleanup_free_ char *data = NULL;
	_cleanup_close_ int fsfd = -1;
	const char *hex = store_digest_hex(diff_id, err);
	char path[DIGEST_HEX_LEN + 32];
	struct layer_index *ix = NULL;
	size_t len;

	if (hex == NULL || read_snapshot_index(s, diff_id, hex, &data, &len, &ix, err) < 0)
		return -1;
	layer_index_free(ix);
	snprintf(path, sizeof(path), "snapshots/%s/fs", hex);
	fsfd = openat(s->rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fsfd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", path);
	if (layer_index_build(fsfd, diff_id, &want, NULL, NULL, err) < 0)
		return -1;
	if (want.len != len || memcmp(want.data, data, len) != 0)
		return plate_err_new(err, 0, "%s does not match the tree", STORE_SNAPSHOT_INDEX);
	return 0;
}

int store_layer_unpacked_size(struct store *s, const char *diff_id, uint64_t *bytes,
			      struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	const char *hex = store_digest_hex(diff_id, err);
	struct layer_index *ix = NULL;
	size_t len;

	if (hex == NULL || read_snapshot_index(s, diff_id, hex, &data, &len, &ix, err) < 0)
		return -1;
	*bytes = ix->bytes;
	layer_index_free(ix);
	return 0;
}

int store_image_unpacked_size(struct store *s, const struct store_image *img, uint64_t *bytes,
			      struct plate_error **err)
{
	*bytes = 0;
	for (size_t i = 0; i < img->config.diff_ids.n; i++) {
		uint64_t n;
		if (store_layer_unpacked_size(s, img->config.diff_ids.v[i], &n, err) < 0)
			return -1;
		*bytes += n;
	}
	return 0;
}
