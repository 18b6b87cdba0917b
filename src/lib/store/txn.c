/* Transactions: staging blobs, snapshots and cache entries in tmp/txn.*, and publishing
 * them (link, rename, fsync) followed by index.json under the exclusive lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/output.h"
#include "json/json.h"
#include "store/store_internal.h"

#define TXN_MAGIC 0x706c7478u
#define WRITER_MAGIC 0x706c7477u

enum txn_state {
	TXN_OPEN = 1 << 0,
	TXN_COMMITTED = 1 << 1,
	TXN_FAILED = 1 << 2,
};

enum writer_state {
	WRITER_OPEN = 1 << 0,
	WRITER_FINISHED = 1 << 1,
	WRITER_FAILED = 1 << 2,
};

enum op_kind {
	OP_TAG,
	OP_UNTAG,
	OP_REMOVE,
	OP_DROP_UNNAMED
};

struct txn_op {
	enum op_kind kind;
	char *name;		    /* TAG (may be NULL), UNTAG */
	char *digest;		    /* REMOVE, DROP_UNNAMED */
	struct oci_descriptor desc; /* TAG */
};

struct store_txn {
	unsigned magic;
	unsigned state;
	struct store *store;
	char *dirname; /* "tmp/txn.XXXXXX", relative to the root */
	int dirfd;     /* flock'ed while the transaction lives */
	int blobsfd;
	unsigned seq;
	struct txn_op *ops;
	size_t n_ops;
	struct oci_strings snapshots; /* diffIDs staged */
	struct oci_strings cache_keys;
	/* store_txn_writeback()'s syncfs, running on its own descriptor */
	pthread_t flusher;
	bool flushing;
	atomic_bool flushed;
	int flush_fd;
};

struct store_blob_writer {
	unsigned magic;
	unsigned state;
	struct store_txn *txn;
	int fd;
	char tmpname[32];
	struct digest hash;
	uint64_t written;
	char *expected;
	int64_t expected_size;
	/* What the caller hashed while writing to the fd itself (store_blob_writer_hashed). */
	char hashed[DIGEST_STRING_LEN + 1];
	uint64_t hashed_size;
};

static const char *txn_state_name(unsigned state)
{
	switch (state) {
	case TXN_OPEN:
		return "OPEN";
	case TXN_COMMITTED:
		return "COMMITTED";
	case TXN_FAILED:
		return "FAILED";
	default:
		return "UNKNOWN";
	}
}

static int txn_check(struct store_txn *t, const char *fn, struct plate_error **err)
{
	if (t == NULL || t->magic != TXN_MAGIC)
		return plate_err_new(err, EINVAL,
				     "internal error: '%s' called on a bad transaction", fn);
	if (t->state != TXN_OPEN)
		return plate_err_new(err, EINVAL, "internal error: '%s' called in state %s", fn,
				     txn_state_name(t->state));
	return 0;
}

/* Marks the transaction FAILED (rule: a write error poisons the handle) and returns -1. */
static int txn_fail(struct store_txn *t)
{
	t->state = TXN_FAILED;
	return -1;
}

int store_tmp_clean(struct store *s, uint64_t *removed, struct plate_error **err)
{
	int fd = openat(s->rootfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s/tmp'", s->root);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return plate_err_new(err, errno, "cannot read '%s/tmp'", s->root);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, "txn.", 4) == 0) {
			_cleanup_close_ int tfd =
				openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (tfd >= 0 && flock(tfd, LOCK_EX | LOCK_NB) < 0)
				continue; /* alive */
		}
		if (store_fs_rm_rf(dirfd(d), de->d_name, err) < 0)
			return plate_err_wrap(err, "cleaning '%s/tmp'", s->root);
		if (removed != NULL)
			(*removed)++;
	}
	return 0;
}

int store_txn_begin(struct store *s, struct store_txn **out, struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;
	struct store_txn *t;
	int lock;

	if (asprintf(&path, "%s/tmp/txn.XXXXXX", s->root) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	t->magic = TXN_MAGIC;
	t->store = s;
	t->dirfd = t->blobsfd = -1;
	/* Under the exclusive lock so that no cleaner sees the directory before its flock. */
	if ((lock = store_lock_take(s, LOCK_EX, err)) < 0)
		goto fail;
	if (store_tmp_clean(s, NULL, err) < 0 || store_trash_clean(s, NULL, err) < 0) {
		store_lock_drop(lock);
		goto fail;
	}
	if (mkdtemp(path) == NULL) {
		plate_err_new(err, errno, "cannot create a transaction directory in '%s/tmp'",
			      s->root);
		store_lock_drop(lock);
		goto fail;
	}
	t->dirname = strdup(path + strlen(s->root) + 1);
	t->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0 || flock(t->dirfd, LOCK_EX) < 0 || t->dirname == NULL) {
		plate_err_new(err, errno ? errno : ENOMEM, "cannot open '%s'", path);
		rmdir(path);
		store_lock_drop(lock);
		goto fail;
	}
	store_lock_drop(lock);
	if (mkdirat(t->dirfd, "blobs", 0755) < 0 || mkdirat(t->dirfd, "cache", 0755) < 0 ||
	    (t->blobsfd = openat(t->dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		plate_err_new(err, errno, "cannot prepare '%s'", path);
		goto fail;
	}
	t->state = TXN_OPEN;
	*out = t;
	return 0;
fail:
	t->state = TXN_FAILED;
	store_txn_free(t);
	return -1;
}

static void *flush_thread(void *arg)
{
	struct store_txn *t = arg;

	(void)syncfs(t->flush_fd);
	atomic_store(&t->flushed, true);
	return NULL;
}

static void writeback_join(struct store_txn *t)
{
	if (!t->flushing)
		return;
	pthread_join(t->flusher, NULL);
	close(t->flush_fd);
	t->flushing = false;
}

void store_txn_writeback(struct store_txn *t)
{
	if (t->flushing && !atomic_load(&t->flushed))
		return;
	writeback_join(t);
	if ((t->flush_fd = fcntl(t->dirfd, F_DUPFD_CLOEXEC, 3)) < 0)
		return;
	atomic_store(&t->flushed, false);
	if (pthread_create(&t->flusher, NULL, flush_thread, t) != 0) {
		close(t->flush_fd);
		return;
	}
	t->flushing = true;
}

void store_txn_free(struct store_txn *t)
{
	if (t == NULL)
		return;
	writeback_join(t);
	if (t->dirname != NULL) {
		_cleanup_error_ struct plate_error *ignored = NULL;
		store_fs_rm_rf(t->store->rootfd, t->dirname, &ignored);
	}
	if (t->blobsfd >= 0)
		close(t->blobsfd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	for (size_t i = 0; i < t->n_ops; i++) {
		free(t->ops[i].name);
		free(t->ops[i].digest);
		oci_descriptor_release(&t->ops[i].desc);
	}
	free(t->ops);
	oci_strings_release(&t->snapshots);
	oci_strings_release(&t->cache_keys);
	free(t->dirname);
	t->magic = 0;
	free(t);
}

/* ---- blobs ---------------------------------------------------------------------------- */

int store_txn_staged_open(struct store_txn *t, const char *digest, int *fd, int64_t *size)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const char *hex = store_digest_hex(digest, &err);
	struct stat st;
	int f;

	if (hex == NULL) {
		errno = EINVAL;
		return -1;
	}
	f = openat(t->blobsfd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return -1;
	if (fstat(f, &st) < 0) {
		close(f);
		return -1;
	}
	*fd = f;
	if (size != NULL)
		*size = st.st_size;
	return 0;
}

bool store_txn_has_blob(struct store_txn *t, const char *digest)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const char *hex = store_digest_hex(digest, &err);

	if (hex == NULL)
		return false;
	return faccessat(t->blobsfd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       store_blob_exists(t->store, digest);
}

int store_txn_blob_open(struct store_txn *t, const char *digest, int *fd, int64_t *size,
			struct plate_error **err)
{
	if (txn_check(t, __func__, err) < 0)
		return -1;
	if (store_txn_staged_open(t, digest, fd, size) == 0)
		return 0;
	return store_blob_open(t->store, digest, fd, size, err);
}

int store_txn_blob_writer(struct store_txn *t, const char *expected_digest, int64_t expected_size,
			  struct store_blob_writer **out, struct plate_error **err)
{
	struct store_blob_writer *w;

	if (txn_check(t, __func__, err) < 0)
		return -1;
	if (expected_digest != NULL && store_digest_hex(expected_digest, err) == NULL)
		return -1;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	w->magic = WRITER_MAGIC;
	w->txn = t;
	w->expected_size = expected_size;
	w->fd = -1;
	snprintf(w->tmpname, sizeof(w->tmpname), "w.%u", t->seq++);
	if (expected_digest != NULL && (w->expected = strdup(expected_digest)) == NULL) {
		free(w);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	if (digest_init(&w->hash, err) < 0) {
		free(w->expected);
		free(w);
		return -1;
	}
	w->fd = openat(t->dirfd, w->tmpname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		plate_err_new(err, errno, "cannot create a blob in '%s/%s'", t->store->root,
			      t->dirname);
		w->state = WRITER_FAILED;
		store_blob_writer_free(w);
		return txn_fail(t);
	}
	w->state = WRITER_OPEN;
	*out = w;
	return 0;
}

static int writer_check(struct store_blob_writer *w, const char *fn, struct plate_error **err)
{
	if (w == NULL || w->magic != WRITER_MAGIC)
		return plate_err_new(err, EINVAL, "internal error: '%s' called on a bad writer",
				     fn);
	if (w->state != WRITER_OPEN)
		return plate_err_new(err, EINVAL, "internal error: '%s' called in state %s", fn,
				     w->state == WRITER_FINISHED ? "FINISHED" : "FAILED");
	return txn_check(w->txn, fn, err);
}

int store_blob_writer_write(struct store_blob_writer *w, const void *data, size_t len,
			    struct plate_error **err)
{
	if (writer_check(w, __func__, err) < 0)
		return -1;
	if (write_all(w->fd, data, len) < 0) {
		w->state = WRITER_FAILED;
		plate_err_new(err, errno, "cannot write a blob in '%s/%s'", w->txn->store->root,
			      w->txn->dirname);
		return txn_fail(w->txn);
	}
	digest_update(&w->hash, data, len);
	w->written += len;
	return 0;
}

int store_blob_writer_fd(struct store_blob_writer *w)
{
	return w != NULL && w->magic == WRITER_MAGIC && w->state == WRITER_OPEN ? w->fd : -1;
}

void store_blob_writer_hashed(struct store_blob_writer *w, const char *digest, uint64_t size)
{
	snprintf(w->hashed, sizeof(w->hashed), "%s", digest);
	w->hashed_size = size;
}

int store_blob_writer_finish(struct store_blob_writer *w, char digest_out[DIGEST_STRING_LEN + 1],
			     int64_t *size_out, struct plate_error **err)
{
	char digest[DIGEST_STRING_LEN + 1];
	struct stat st;
	int64_t size;

	if (writer_check(w, __func__, err) < 0)
		return -1;
	/* A data error (wrong digest or size) fails the writer, not the transaction: the
	 * caller reports it and aborts or goes on. */
	w->state = WRITER_FAILED;
	if (fstat(w->fd, &st) < 0)
		return plate_err_new(err, errno, "cannot stat a staged blob");
	if (w->hashed[0] != '\0' && (uint64_t)st.st_size == w->hashed_size) {
		memcpy(digest, w->hashed, sizeof(digest));
		size = st.st_size;
	} else if ((uint64_t)st.st_size == w->written) {
		digest_final(&w->hash, digest);
		size = st.st_size;
	} else if (store_fs_hash_fd(w->fd, digest, &size, err) < 0) {
		return txn_fail(w->txn);
	}
	if (w->expected != NULL && strcmp(digest, w->expected) != 0)
		return plate_err_new(err, EILSEQ,
				     "blob '%s' does not match its digest: content hashes to '%s'",
				     w->expected, digest);
	if (w->expected_size >= 0 && size != w->expected_size)
		return plate_err_new(err, EILSEQ, "blob '%s' has %lld bytes, expected %lld", digest,
				     (long long)size, (long long)w->expected_size);
	/* Not synced here: publish() syncs the filesystem once before anything staged
	 * becomes visible, cheaper than one fsync per file.  Writeback starts now, without
	 * waiting, so that the disk writes while the rest of the transaction (a layer's
	 * extraction) runs and the syncfs finds little left; advisory, errors ignored. */
	if (size >= 64 * 1024)
		(void)sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	/* renameat over an already staged copy of the same content is harmless. */
	if (renameat(w->txn->dirfd, w->tmpname, w->txn->blobsfd, digest + 7) < 0) {
		plate_err_new(err, errno, "cannot stage blob '%s'", digest);
		return txn_fail(w->txn);
	}
	w->tmpname[0] = '\0';
	w->state = WRITER_FINISHED;
	if (digest_out != NULL)
		memcpy(digest_out, digest, sizeof(digest));
	if (size_out != NULL)
		*size_out = size;
	return 0;
}

void store_blob_writer_free(struct store_blob_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmpname[0] != '\0' && w->txn->dirfd >= 0)
		unlinkat(w->txn->dirfd, w->tmpname, 0);
	digest_release(&w->hash);
	free(w->expected);
	w->magic = 0;
	free(w);
}

int store_txn_add_blob(struct store_txn *t, const void *data, size_t len,
		       char digest_out[DIGEST_STRING_LEN + 1], struct plate_error **err)
{
	struct store_blob_writer *w = NULL;
	int r;

	if (store_txn_blob_writer(t, NULL, -1, &w, err) < 0)
		return -1;
	r = store_blob_writer_write(w, data, len, err);
	if (r == 0)
		r = store_blob_writer_finish(w, digest_out, NULL, err);
	store_blob_writer_free(w);
	return r;
}

/* ---- snapshots, pins, names, cache ---------------------------------------------------- */

struct store *store_txn_store(struct store_txn *t)
{
	return t->store;
}

int store_txn_workdir(struct store_txn *t, const char *name, int *fd, char **out_path,
		      struct plate_error **err)
{
	char path[128];

	if (txn_check(t, __func__, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "work-%s", name);
	if (mkdirat(t->dirfd, path, 0755) < 0 ||
	    (*fd = openat(t->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		plate_err_new(err, errno, "cannot create '%s/%s/%s'", t->store->root, t->dirname,
			      path);
		return txn_fail(t);
	}
	if (asprintf(out_path, "%s/%s/%s", t->store->root, t->dirname, path) < 0) {
		close(*fd);
		*fd = -1;
		plate_err_new(err, ENOMEM, "out of memory");
		return txn_fail(t);
	}
	return 0;
}

bool store_txn_has_snapshot(struct store_txn *t, const char *diff_id)
{
	for (size_t i = 0; i < t->snapshots.n; i++)
		if (strcmp(t->snapshots.v[i], diff_id) == 0)
			return true;
	return false;
}

int store_txn_pin(struct store_txn *t, const char *digest, struct plate_error **err)
{
	_cleanup_close_ int fd = -1;
	char line[DIGEST_STRING_LEN + 2];
	int lock;

	if (txn_check(t, __func__, err) < 0 || store_digest_hex(digest, err) == NULL)
		return -1;
	/* Under the shared lock, so that a gc either ran before (then the caller sees the
	 * object missing) or runs after and sees the pin. */
	if ((lock = store_lock_take(t->store, LOCK_SH, err)) < 0)
		return -1;
	fd = openat(t->dirfd, "pins", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	snprintf(line, sizeof(line), "%s\n", digest);
	if (fd < 0 || write_all(fd, line, strlen(line)) < 0) {
		plate_err_new(err, errno, "cannot record a pin in '%s/%s'", t->store->root,
			      t->dirname);
		store_lock_drop(lock);
		return txn_fail(t);
	}
	store_lock_drop(lock);
	return 0;
}

#define SNAPW_MAGIC 0x706c7473u

struct store_snapshot_writer {
	unsigned magic;
	bool extracted; /* extract was called */
	bool sound;	/* and succeeded: committable */
	struct store_txn *txn;
	char *layer_digest;
	char *diff_id;
	char tmpname[32]; /* inside the transaction's directory until committed */
};

int store_txn_snapshot_writer(struct store_txn *t, const char *layer_digest, const char *diff_id,
			      struct store_snapshot_writer **out, struct plate_error **err)
{
	struct store_snapshot_writer *w;

	*out = NULL;
	if (txn_check(t, __func__, err) < 0 || store_digest_hex(diff_id, err) == NULL)
		return -1;
	if (!digest_is_valid(layer_digest))
		return plate_err_new(err, EINVAL, "bad digest '%s'", layer_digest);
	if (store_txn_has_snapshot(t, diff_id))
		return 0;
	if (store_snapshot_exists(t->store, diff_id)) {
		if (store_txn_pin(t, diff_id, err) < 0)
			return -1;
		if (store_snapshot_exists(t->store, diff_id))
			return 0;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->layer_digest = strdup(layer_digest)) == NULL ||
	    (w->diff_id = strdup(diff_id)) == NULL) {
		store_snapshot_writer_free(w);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	w->magic = SNAPW_MAGIC;
	w->txn = t;
	snprintf(w->tmpname, sizeof(w->tmpname), "snapw-%u", t->seq++);
	*out = w;
	return 0;
}

int store_snapshot_writer_extract(struct store_snapshot_writer *w, int fd, struct plate_error **err)
{
	if (w == NULL || w->magic != SNAPW_MAGIC || w->extracted)
		return plate_err_new(err, EINVAL, "internal error: '%s' called on a bad writer",
				     __func__);
	w->extracted = true;
	if (store_snapshot_make(w->txn->dirfd, w->tmpname, fd, w->layer_digest, w->diff_id,
				&w->txn->store->limits, err) < 0)
		return plate_err_wrap(err, "layer '%s'", w->layer_digest);
	w->sound = true;
	return 0;
}

int store_snapshot_writer_commit(struct store_snapshot_writer *w, struct plate_error **err)
{
	struct store_txn *t;
	const char *hex;
	char name[DIGEST_HEX_LEN + 8];

	if (w == NULL || w->magic != SNAPW_MAGIC || !w->sound)
		return plate_err_new(err, EINVAL,
				     "internal error: '%s' called on a writer not extracted",
				     __func__);
	t = w->txn;
	if (txn_check(t, __func__, err) < 0 || (hex = store_digest_hex(w->diff_id, err)) == NULL)
		return -1;
	/* Two layers of one diffID (the same tar compressed two ways) may race: one wins. */
	if (store_txn_has_snapshot(t, w->diff_id))
		return 0;
	snprintf(name, sizeof(name), "snap-%s", hex);
	if (renameat(t->dirfd, w->tmpname, t->dirfd, name) < 0) {
		plate_err_new(err, errno, "cannot stage the snapshot of '%s'", w->diff_id);
		return txn_fail(t);
	}
	w->tmpname[0] = '\0';
	if (oci_strings_add(&t->snapshots, w->diff_id, err) < 0)
		return txn_fail(t);
	return 0;
}

void store_snapshot_writer_free(struct store_snapshot_writer *w)
{
	if (w == NULL)
		return;
	if (w->txn != NULL && w->tmpname[0] != '\0') {
		_cleanup_error_ struct plate_error *ignored = NULL;
		store_fs_rm_rf(w->txn->dirfd, w->tmpname, &ignored);
	}
	free(w->layer_digest);
	free(w->diff_id);
	free(w);
}

int store_txn_snapshot(struct store_txn *t, const char *layer_digest, const char *diff_id,
		       struct plate_error **err)
{
	struct store_snapshot_writer *w = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (store_txn_snapshot_writer(t, layer_digest, diff_id, &w, err) < 0)
		return -1;
	if (w == NULL)
		return 0;
	if (store_txn_blob_open(t, layer_digest, &fd, NULL, err) < 0)
		r = plate_err_wrap(err, "layer '%s'", layer_digest);
	else
		r = store_snapshot_writer_extract(w, fd, err) < 0
			    ? -1
			    : store_snapshot_writer_commit(w, err);
	store_snapshot_writer_free(w);
	return r;
}

int store_txn_snapshot_adopt(struct store_txn *t, const char *diff_id, const char *path,
			     long long epoch, struct plate_error **err)
{
	const char *hex;
	char name[DIGEST_HEX_LEN + 8];

	if (txn_check(t, __func__, err) < 0 || (hex = store_digest_hex(diff_id, err)) == NULL)
		return -1;
	if (store_txn_has_snapshot(t, diff_id))
		return 0;
	if (store_snapshot_exists(t->store, diff_id) && store_txn_pin(t, diff_id, err) == 0 &&
	    store_snapshot_exists(t->store, diff_id))
		return 0;
	if (*err != NULL)
		return -1;
	snprintf(name, sizeof(name), "snap-%s", hex);
	if (store_snapshot_adopt(t->dirfd, name, path, diff_id, epoch, err) < 0) {
		_cleanup_error_ struct plate_error *ignored = NULL;
		store_fs_rm_rf(t->dirfd, name, &ignored);
		return plate_err_wrap(err, "snapshot '%s'", diff_id);
	}
	if (oci_strings_add(&t->snapshots, diff_id, err) < 0)
		return txn_fail(t);
	return 0;
}

static int add_op(struct store_txn *t, struct txn_op *op, struct plate_error **err)
{
	struct txn_op *ops = realloc(t->ops, (t->n_ops + 1) * sizeof(*ops));

	if (ops == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	t->ops = ops;
	ops[t->n_ops++] = *op;
	return 0;
}

/* Names in index.json are always the normalised form. */
static int check_name(const char *name, struct plate_error **err)
{
	struct oci_reference ref;
	_cleanup_free_ char *full = NULL;
	bool same;

	if (oci_reference_parse(name, strlen(name), &ref, err) < 0)
		return -1;
	full = oci_reference_format(&ref);
	same = full != NULL && strcmp(full, name) == 0 && ref.tag != NULL;
	oci_reference_release(&ref);
	if (full == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (!same)
		return plate_err_new(err, EINVAL, "internal error: '%s' is not a normalised tag",
				     name);
	return 0;
}

int store_txn_tag(struct store_txn *t, const char *name, const struct oci_descriptor *target,
		  struct plate_error **err)
{
	struct txn_op op = { .kind = OP_TAG };

	if (txn_check(t, __func__, err) < 0 || (name != NULL && check_name(name, err) < 0))
		return -1;
	if (name != NULL && (op.name = strdup(name)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (oci_descriptor_copy(&op.desc, target, err) < 0) {
		free(op.name);
		return -1;
	}
	oci_map_del(&op.desc.annotations, OCI_ANNOTATION_REF_NAME);
	if ((name != NULL &&
	     oci_map_set(&op.desc.annotations, OCI_ANNOTATION_REF_NAME, name, err) < 0) ||
	    add_op(t, &op, err) < 0) {
		free(op.name);
		oci_descriptor_release(&op.desc);
		return -1;
	}
	return 0;
}

int store_txn_untag(struct store_txn *t, const char *name, struct plate_error **err)
{
	struct txn_op op = { .kind = OP_UNTAG };

	if (txn_check(t, __func__, err) < 0)
		return -1;
	if ((op.name = strdup(name)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (add_op(t, &op, err) < 0) {
		free(op.name);
		return -1;
	}
	return 0;
}

int store_txn_remove(struct store_txn *t, const char *target_digest, struct plate_error **err)
{
	struct txn_op op = { .kind = OP_REMOVE };

	if (txn_check(t, __func__, err) < 0)
		return -1;
	if ((op.digest = strdup(target_digest)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (add_op(t, &op, err) < 0) {
		free(op.digest);
		return -1;
	}
	return 0;
}

int store_txn_drop_unnamed(struct store_txn *t, const char *digest, struct plate_error **err)
{
	struct txn_op op = { .kind = OP_DROP_UNNAMED };

	if (txn_check(t, __func__, err) < 0)
		return -1;
	if ((op.digest = strdup(digest)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (add_op(t, &op, err) < 0) {
		free(op.digest);
		return -1;
	}
	return 0;
}

int store_txn_cache_put(struct store_txn *t, const char *key, const char *json, size_t len,
			struct plate_error **err)
{
	char path[DIGEST_HEX_LEN + 16];
	_cleanup_close_ int fd = -1;
	json_t *v = NULL;
	const char *hex;

	if (txn_check(t, __func__, err) < 0 || (hex = store_digest_hex(key, err)) == NULL)
		return -1;
	if (json_parse(json, len, STORE_CACHE_ENTRY_MAX, JSON_DEFAULT_MAX_DEPTH, &v, err) < 0)
		return plate_err_wrap(err, "cache entry '%s'", key);
	json_decref(v);
	snprintf(path, sizeof(path), "cache/%s.json", hex);
	fd = openat(t->dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, json, len) < 0) {
		plate_err_new(err, errno, "cannot stage cache entry '%s'", key);
		return txn_fail(t);
	}
	return oci_strings_add(&t->cache_keys, key, err) < 0 ? txn_fail(t) : 0;
}

/* ---- commit --------------------------------------------------------------------------- */

static ssize_t find_entry(const struct oci_index *idx, const char *name, const char *digest,
			  size_t from)
{
	for (size_t i = from; i < idx->n_manifests; i++) {
		const struct oci_descriptor *d = &idx->manifests[i];
		const char *n = oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME);
		if (name != NULL && n != NULL && strcmp(n, name) == 0)
			return (ssize_t)i;
		if (digest != NULL && strcmp(d->digest, digest) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static void drop_entry(struct oci_index *idx, size_t i)
{
	oci_descriptor_release(&idx->manifests[i]);
	memmove(&idx->manifests[i], &idx->manifests[i + 1],
		(idx->n_manifests - i - 1) * sizeof(*idx->manifests));
	idx->n_manifests--;
}

/* A referrer (an entry with STORE_ANNOTATION_SUBJECT) leaves index.json with the last
 * entry of its subject, so gc then drops its blobs. */
static void drop_orphan_referrers(struct oci_index *idx)
{
	for (size_t i = 0; i < idx->n_manifests;) {
		const char *subject =
			oci_map_get(&idx->manifests[i].annotations, STORE_ANNOTATION_SUBJECT);
		bool alive = subject == NULL;
		for (size_t j = 0; !alive && j < idx->n_manifests; j++)
			alive = strcmp(idx->manifests[j].digest, subject) == 0 &&
				oci_map_get(&idx->manifests[j].annotations,
					    STORE_ANNOTATION_SUBJECT) == NULL;
		if (alive)
			i++;
		else
			drop_entry(idx, i);
	}
}

static bool same_annotation(const struct oci_descriptor *a, const struct oci_descriptor *b,
			    const char *key)
{
	const char *x = oci_map_get(&a->annotations, key), *y = oci_map_get(&b->annotations, key);

	return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static bool same_referrer(const struct oci_descriptor *a, const struct oci_descriptor *b)
{
	return same_annotation(a, b, STORE_ANNOTATION_SUBJECT) &&
	       same_annotation(a, b, STORE_ANNOTATION_FORM);
}

static int apply_op(struct oci_index *idx, const struct txn_op *op, struct plate_error **err)
{
	struct oci_descriptor *grown;
	ssize_t i;

	switch (op->kind) {
	case OP_UNTAG:
		if ((i = find_entry(idx, op->name, NULL, 0)) < 0)
			return plate_err_new(err, ENOENT, "image '%s' not found", op->name);
		drop_entry(idx, (size_t)i);
		return 0;
	case OP_REMOVE:
		if ((i = find_entry(idx, NULL, op->digest, 0)) < 0)
			return plate_err_new(err, ENOENT, "image '%s' not found", op->digest);
		while ((i = find_entry(idx, NULL, op->digest, 0)) >= 0)
			drop_entry(idx, (size_t)i);
		return 0;
	case OP_DROP_UNNAMED:
		for (size_t j = 0; j < idx->n_manifests;) {
			const struct oci_descriptor *d = &idx->manifests[j];
			if (strcmp(d->digest, op->digest) == 0 &&
			    oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME) == NULL &&
			    oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT) == NULL)
				drop_entry(idx, j);
			else
				j++;
		}
		return 0;
	case OP_TAG:
		if (op->name != NULL) {
			while ((i = find_entry(idx, op->name, NULL, 0)) >= 0)
				drop_entry(idx, (size_t)i);
			/* A name replaces the untagged entry of the same image (a referrer with
			 * that digest, such as another image's compressed form, stays). */
			for (size_t j = 0; j < idx->n_manifests;) {
				const struct oci_descriptor *d = &idx->manifests[j];
				if (strcmp(d->digest, op->desc.digest) == 0 &&
				    oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME) == NULL &&
				    oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT) == NULL)
					drop_entry(idx, j);
				else
					j++;
			}
		} else if (oci_map_get(&op->desc.annotations, STORE_ANNOTATION_SUBJECT) != NULL) {
			/* A referrer is kept once per subject, even when its document is also an
			 * image of its own (an image's compressed form that was pulled too). */
			for (size_t j = 0; j < idx->n_manifests; j++)
				if (strcmp(idx->manifests[j].digest, op->desc.digest) == 0 &&
				    same_referrer(&idx->manifests[j], &op->desc))
					return 0;
		} else if (find_entry(idx, NULL, op->desc.digest, 0) >= 0) {
			return 0; /* already kept, named or not */
		}
		grown = realloc(idx->manifests, (idx->n_manifests + 1) * sizeof(*grown));
		if (grown == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		idx->manifests = grown;
		if (oci_descriptor_copy(&grown[idx->n_manifests], &op->desc, err) < 0)
			return -1;
		idx->n_manifests++;
		return 0;
	default:
		PLATE_BUG("bad transaction op %d", (int)op->kind);
	}
}

struct publish {
	struct store_txn *txn;
	/* Walking an image index.json already names: what is missing was missing before
	 * (fsck reports it), so it does not block the commit; what is staged still goes in,
	 * which is how loading an archive again repairs a lost snapshot. */
	bool existing;
	struct oci_strings blobs;     /* staged blobs to link */
	struct oci_strings snapshots; /* staged snapshots to rename */
};

static bool strings_has(const struct oci_strings *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], v) == 0)
			return true;
	return false;
}

static int check_blob(void *data, const struct oci_descriptor *d, struct plate_error **err)
{
	struct publish *p = data;
	struct store_blob_source src = { .store = p->txn->store, .txn = p->txn };
	_cleanup_close_ int fd = -1;
	int64_t size;

	if (!store_source_has(&src, d->digest, d->size)) {
		if (p->existing)
			return 1;
		return plate_err_new(err, ENOENT, "blob '%s' (%s, %lld bytes) is missing",
				     d->digest, d->media_type, (long long)d->size);
	}
	if (store_txn_staged_open(p->txn, d->digest, &fd, &size) == 0 &&
	    !strings_has(&p->blobs, d->digest))
		return oci_strings_add(&p->blobs, d->digest, err);
	return 0;
}

static int check_image(void *data, const struct oci_descriptor *desc, const struct oci_manifest *m,
		       const struct oci_config *c, struct plate_error **err)
{
	struct publish *p = data;

	if (c == NULL)
		return 0;
	if (c->diff_ids.n != m->n_layers)
		return plate_err_new(err, EINVAL,
				     "manifest '%s' has %zu layers but its config %zu diffIDs",
				     desc->digest, m->n_layers, c->diff_ids.n);
	for (size_t i = 0; i < c->diff_ids.n; i++) {
		const char *id = c->diff_ids.v[i];
		if (store_txn_has_snapshot(p->txn, id)) {
			if (!strings_has(&p->snapshots, id) &&
			    oci_strings_add(&p->snapshots, id, err) < 0)
				return -1;
		} else if (oci_media_type_is_layer(m->layers[i].media_type) &&
			   !store_snapshot_exists(p->txn->store, id) && !p->existing) {
			return plate_err_new(err, ENOENT, "snapshot of layer '%s' is missing", id);
		}
	}
	return 0;
}

/* Every digest named in a cache entry is published if staged (the engine puts the blobs
 * and snapshots its entries refer to in the same transaction). */
static void collect_digests(json_t *v, struct oci_strings *out)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_string(v) && digest_is_valid(json_string_value(v))) {
		if (!strings_has(out, json_string_value(v))) {
			struct plate_error *ignored = NULL;
			oci_strings_add(out, json_string_value(v), &ignored);
			plate_error_free(ignored);
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, child) collect_digests(child, out);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child) collect_digests(child, out);
	}
}

int store_cache_digests(const char *json, size_t len, struct oci_strings *out,
			struct plate_error **err)
{
	json_t *v;

	if (json_parse(json, len, STORE_CACHE_ENTRY_MAX, JSON_DEFAULT_MAX_DEPTH, &v, err) < 0)
		return -1;
	collect_digests(v, out);
	json_decref(v);
	return 0;
}

static int plan_cache(struct store_txn *t, struct publish *p, struct plate_error **err)
{
	for (size_t i = 0; i < t->cache_keys.n; i++) {
		_cleanup_free_ char *json = NULL;
		struct oci_strings digests = { 0 };
		char path[DIGEST_HEX_LEN + 16];
		size_t len;

		snprintf(path, sizeof(path), "cache/%s.json", t->cache_keys.v[i] + 7);
		if (store_fs_read_file(t->dirfd, path, STORE_CACHE_ENTRY_MAX, &json, &len, err) <
			    0 ||
		    store_cache_digests(json, len, &digests, err) < 0)
			return -1;
		for (size_t j = 0; j < digests.n; j++) {
			const char *d = digests.v[j];
			_cleanup_close_ int fd = -1;
			int64_t size;
			if (store_txn_staged_open(t, d, &fd, &size) == 0 &&
			    !strings_has(&p->blobs, d) && oci_strings_add(&p->blobs, d, err) < 0)
				break;
			if (store_txn_has_snapshot(t, d) && !strings_has(&p->snapshots, d) &&
			    oci_strings_add(&p->snapshots, d, err) < 0)
				break;
		}
		oci_strings_release(&digests);
		if (*err != NULL)
			return -1;
	}
	return 0;
}

/* Moves each staged <fromfd>/<from_prefix><hex><suffix> to ROOT/<dir>/<hex><suffix>, by
 * link (blobs stay staged until the transaction is dropped) or rename, then fsyncs dir.
 * What is already published (same name, same content by construction) is left alone. */
static int publish_set(struct store_txn *t, const struct oci_strings *names, int fromfd,
		       const char *from_prefix, const char *dir, const char *suffix, bool link,
		       const char *what, struct plate_error **err)
{
	struct store *s = t->store;
	char from[DIGEST_HEX_LEN + 32], to[DIGEST_HEX_LEN + 32];

	for (size_t i = 0; i < names->n; i++) {
		const char *hex = names->v[i] + 7;
		snprintf(from, sizeof(from), "%s%s%s", from_prefix, hex, suffix);
		snprintf(to, sizeof(to), "%s/%s%s", dir, hex, suffix);
		if ((link ? linkat(fromfd, from, s->rootfd, to, 0)
			  : renameat(fromfd, from, s->rootfd, to)) < 0 &&
		    errno != EEXIST && errno != ENOTEMPTY)
			return plate_err_new(err, errno, "cannot publish %s '%s'", what,
					     names->v[i]);
	}
	return names->n > 0 ? store_fs_fsync_dir(s->rootfd, dir, err) : 0;
}

static int publish(struct store_txn *t, struct publish *p, struct plate_error **err)
{
	/* One syncfs for every staged blob, snapshot and cache entry (none of them was
	 * fsynced on its own) before any of them is linked into the store. */
	writeback_join(t);
	if ((p->snapshots.n > 0 || p->blobs.n > 0 || t->cache_keys.n > 0) && syncfs(t->dirfd) < 0)
		return plate_err_new(err, errno, "cannot sync the store's filesystem");
	if (publish_set(t, &p->blobs, t->blobsfd, "", "blobs/sha256", "", true, "blob", err) < 0 ||
	    publish_set(t, &p->snapshots, t->dirfd, "snap-", "snapshots", "", false, "snapshot",
			err) < 0)
		return -1;
	return publish_set(t, &t->cache_keys, t->dirfd, "cache/", "cache", ".json", false,
			   "cache entry", err);
}

int store_txn_commit(struct store_txn *t, struct plate_error **err)
{
	struct publish p = { .txn = t };
	struct store_walk_ops ops = { .blob = check_blob, .image = check_image };
	struct store_blob_source src;
	struct oci_index idx = { 0 };
	int lock = -1, r = -1;

	if (txn_check(t, __func__, err) < 0)
		return -1;
	src = (struct store_blob_source){ .store = t->store, .txn = t };
	if ((lock = store_lock_take(t->store, LOCK_EX, err)) < 0)
		goto out;
	if (store_index_load(t->store, &idx, err) < 0)
		goto out;
	for (size_t i = 0; i < t->n_ops; i++) {
		const struct txn_op *op = &t->ops[i];
		if (op->kind == OP_TAG) {
			p.existing = find_entry(&idx, NULL, op->desc.digest, 0) >= 0;
		}
		if (op->kind == OP_TAG && store_walk(&src, &op->desc, &ops, &p, err) < 0) {
			plate_err_wrap(err, "image '%s' is incomplete",
				       op->name ? op->name : op->desc.digest);
			goto out;
		}
		if (apply_op(&idx, op, err) < 0)
			goto out;
	}
	drop_orphan_referrers(&idx);
	if (plan_cache(t, &p, err) < 0 || publish(t, &p, err) < 0 ||
	    (t->n_ops > 0 && store_index_replace(t->store, &idx, err) < 0))
		goto out;
	t->state = TXN_COMMITTED;
	r = 0;
out:
	if (r < 0)
		t->state = TXN_FAILED;
	store_lock_drop(lock);
	oci_index_release(&idx);
	oci_strings_release(&p.blobs);
	oci_strings_release(&p.snapshots);
	return r;
}
