/* Unit tests for store/: the transaction contract (states, digest checks, all-or-nothing
 * commits), snapshot writers, names, build-cache entries, pins and gc, and --change parsing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "store/store.h"
#include "tap.h"

static char root[256];

static int count_dir(const char *sub)
{
	char path[512];
	int n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *read_index(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/index.json", root);
	return tap_read_file(path, NULL);
}

/* Stages config + manifest for an image with no layers and returns its descriptor. */
static int stage_image(struct store_txn *t, const char *label, struct oci_descriptor *out,
		       struct plate_error **err)
{
	struct oci_config c = { 0 };
	struct oci_manifest m = { .schema_version = 2 };
	_cleanup_free_ char *cj = NULL, *mj = NULL;
	char cd[DIGEST_STRING_LEN + 1];
	static char md[DIGEST_STRING_LEN + 1];
	size_t cl, ml;
	int r = -1;

	c.os = strdup("linux");
	c.architecture = strdup("amd64");
	if (oci_map_set(&c.labels, "which", label, err) < 0 ||
	    oci_config_write(&c, &cj, &cl, err) < 0 || store_txn_add_blob(t, cj, cl, cd, err) < 0)
		goto out;
	m.config.media_type = (char *)OCI_MEDIA_TYPE_CONFIG;
	m.config.digest = cd;
	m.config.size = (int64_t)cl;
	if (oci_manifest_write(&m, OCI_FORMAT_OCI, &mj, &ml, err) < 0 ||
	    store_txn_add_blob(t, mj, ml, md, err) < 0)
		goto out;
	*out = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
					.digest = md,
					.size = (int64_t)ml };
	r = 0;
out:
	m.config = (struct oci_descriptor){ 0 };
	oci_config_release(&c);
	return r;
}

/* Commits an image whose one layer (the blob "data") has media type layer_type. */
static int commit_one_layer(struct store *s, const char *name, const char *layer_type,
			    struct plate_error **err)
{
	struct store_txn *t = NULL;
	struct oci_config c = { 0 };
	struct oci_descriptor layer = { .media_type = (char *)layer_type, .size = 4 };
	struct oci_manifest m = { .schema_version = 2, .layers = &layer, .n_layers = 1 };
	_cleanup_free_ char *cj = NULL, *mj = NULL;
	char cd[DIGEST_STRING_LEN + 1], ld[DIGEST_STRING_LEN + 1], md[DIGEST_STRING_LEN + 1];
	struct oci_descriptor d = { .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST, .digest = md };
	size_t cl, ml;
	int r = -1;

	c.os = strdup("linux");
	c.architecture = strdup("amd64");
	if (store_txn_begin(s, &t, err) < 0 || store_txn_add_blob(t, "data", 4, ld, err) < 0 ||
	    oci_strings_add(&c.diff_ids, ld, err) < 0 || oci_config_write(&c, &cj, &cl, err) < 0 ||
	    store_txn_add_blob(t, cj, cl, cd, err) < 0)
		goto out;
	m.config = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_CONFIG,
					    .digest = cd,
					    .size = (int64_t)cl };
	layer.digest = ld;
	if (oci_manifest_write(&m, OCI_FORMAT_OCI, &mj, &ml, err) < 0 ||
	    store_txn_add_blob(t, mj, ml, md, err) < 0)
		goto out;
	d.size = (int64_t)ml;
	r = store_txn_tag(t, name, &d, err) < 0 || store_txn_commit(t, err) < 0 ? -1 : 0;
out:
	store_txn_free(t);
	oci_config_release(&c);
	return r;
}

/* Commits name as an index of present (staged) and absent manifests: a partial index. */
static int commit_index(struct store *s, const char *name, bool with_present,
			struct plate_error **err)
{
	static char absent_digest[] =
		"sha256:0000000000000000000000000000000000000000000000000000000000000001";
	struct oci_platform amd = { .os = (char *)"linux", .architecture = (char *)"amd64" };
	struct oci_platform arm = { .os = (char *)"linux", .architecture = (char *)"arm64" };
	struct oci_descriptor m[2] = { { 0 } };
	struct oci_index idx = { .schema_version = 2, .manifests = m, .n_manifests = 2 };
	_cleanup_free_ char *json = NULL;
	char digest[DIGEST_STRING_LEN + 1];
	struct oci_descriptor top = { .media_type = (char *)OCI_MEDIA_TYPE_INDEX,
				      .digest = digest };
	struct store_txn *t = NULL;
	size_t len;
	int r = -1;

	m[1] = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
					.digest = absent_digest,
					.size = 100,
					.platform = &arm };
	if (store_txn_begin(s, &t, err) < 0)
		goto out;
	if (with_present) {
		if (stage_image(t, "partial", &m[0], err) < 0)
			goto out;
	} else {
		m[0] = m[1];
	}
	m[0].platform = &amd;
	if (oci_index_write(&idx, OCI_FORMAT_OCI, &json, &len, err) < 0 ||
	    store_txn_add_blob(t, json, len, digest, err) < 0)
		goto out;
	top.size = (int64_t)len;
	r = store_txn_tag(t, name, &top, err) < 0 || store_txn_commit(t, err) < 0 ? -1 : 0;
out:
	store_txn_free(t);
	return r;
}

/* An index with some manifests absent (a pull of some platforms) is a valid image; one with
 * none of them is not. */
static void test_partial_index(struct store *s)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct store_fsck_result fr = { 0 };
	struct store_image *img = NULL;

	tap_ok(commit_index(s, "docker.io/library/partial:1", true, &err) == 0,
	       "an index with one of its two manifests commits: %s", err ? err->message : "");
	tap_ok(store_fsck(s, &fr, &err) == 0 && fr.problems.n == 0 && fr.partial == 1,
	       "fsck accepts it and counts it: %s", fr.problems.n ? fr.problems.v[0] : "");
	store_fsck_result_release(&fr);
	tap_ok(store_image_resolve(s, "partial:1", "linux/amd64", &img, &err) == 0,
	       "the present platform resolves");
	tap_ok(img != NULL && store_index_partial(s, &img->root), "store_index_partial says so");
	store_image_free(img);
	img = NULL;
	tap_ok(store_image_resolve(s, "partial:1", "linux/arm64", &img, &err) < 0 &&
		       strstr(err->message, "plate pull --platform linux/arm64 partial:1") != NULL,
	       "the absent one names the pull that fetches it");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_image_resolve(s, "partial:1", NULL, &img, &err) == 0,
	       "no platform: the present one");
	store_image_free(img);
	tap_ok(commit_index(s, "docker.io/library/partial:2", false, &err) < 0 &&
		       strstr(err->message, "has none of its 2 manifests") != NULL,
	       "an index none of whose manifests is present is refused");
}

/* Only tar layer types need a snapshot; an artifact layer is a plain blob. */
static void test_artifact_layers(struct store *s)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct store_fsck_result fr = { 0 };

	tap_ok(commit_one_layer(s, "docker.io/library/art:1", "application/spdx+json", &err) == 0,
	       "an artifact layer needs no snapshot: %s", err ? err->message : "");
	tap_ok(store_fsck(s, &fr, &err) == 0 && fr.problems.n == 0, "fsck accepts it: %s",
	       fr.problems.n ? fr.problems.v[0] : "");
	store_fsck_result_release(&fr);
	tap_ok(commit_one_layer(s, "docker.io/library/art:2", OCI_MEDIA_TYPE_LAYER, &err) < 0 &&
		       strstr(err->message, "snapshot of layer") != NULL,
	       "a tar layer without its snapshot is refused");
}

static void test_transactions(struct store *s)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct store_blob_writer *w = NULL;
	struct store_txn *t = NULL;
	struct oci_descriptor d;
	char digest[DIGEST_STRING_LEN + 1];
	int64_t size;
	_cleanup_free_ char *before = read_index(), *after = NULL;

	tap_ok(store_txn_begin(s, &t, &err) == 0, "begin");
	tap_ok(count_dir("tmp") == 1, "a transaction has its own directory in tmp/");
	tap_ok(store_txn_blob_writer(t, OCI_EMPTY_JSON_DIGEST, 2, &w, &err) == 0, "blob writer");
	tap_ok(store_blob_writer_write(w, "{", 1, &err) == 0 &&
		       store_blob_writer_write(w, "}", 1, &err) == 0,
	       "written in pieces");
	tap_ok(store_blob_writer_finish(w, digest, &size, &err) == 0 && size == 2,
	       "digest verified");
	tap_streq(digest, OCI_EMPTY_JSON_DIGEST, "digest reported");
	tap_ok(store_blob_writer_write(w, "x", 1, &err) < 0 && strstr(err->message, "FINISHED"),
	       "write after finish is an internal error naming the state");
	plate_error_free(err);
	err = NULL;
	store_blob_writer_free(w);

	tap_ok(store_txn_blob_writer(t, OCI_EMPTY_JSON_DIGEST, 2, &w, &err) == 0, "second writer");
	store_blob_writer_write(w, "[]", 2, &err);
	tap_ok(store_blob_writer_finish(w, digest, &size, &err) < 0 &&
		       strstr(err->message, "does not match its digest") != NULL,
	       "lying content refused: %s", err ? err->message : "");
	plate_error_free(err);
	err = NULL;
	store_blob_writer_free(w);

	tap_ok(store_txn_blob_writer(t, NULL, 5, &w, &err) == 0, "writer with a size");
	store_blob_writer_write(w, "abc", 3, &err);
	tap_ok(store_blob_writer_finish(w, NULL, NULL, &err) < 0 &&
		       strstr(err->message, "expected 5"),
	       "short blob refused");
	plate_error_free(err);
	err = NULL;
	store_blob_writer_free(w);

	tap_ok(store_txn_blob_writer(t, NULL, -1, &w, &err) == 0, "writer used through its fd");
	tap_ok(write(store_blob_writer_fd(w), "{}", 2) == 2, "bytes written to the fd");
	tap_ok(store_blob_writer_finish(w, digest, NULL, &err) == 0 &&
		       strcmp(digest, OCI_EMPTY_JSON_DIGEST) == 0,
	       "fd-written blob hashed at finish");
	store_blob_writer_free(w);

	/* A name pointing at a manifest whose config was never staged: commit refuses. */
	struct oci_descriptor bogus = {
		.media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
		.digest =
			(char *)"sha256:"
				"0000000000000000000000000000000000000000000000000000000000000000",
		.size = 10
	};
	tap_ok(store_txn_tag(t, "docker.io/library/x:1", &bogus, &err) == 0, "tag staged");
	tap_ok(store_txn_commit(t, &err) < 0 && strstr(err->message, "is missing") != NULL,
	       "commit of an incomplete image refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_txn_tag(t, "docker.io/library/x:1", &bogus, &err) < 0 &&
		       strstr(err->message, "FAILED") != NULL,
	       "a failed transaction refuses further calls");
	plate_error_free(err);
	err = NULL;
	store_txn_free(t);
	after = read_index();
	tap_streq(after, before, "index.json unchanged by the failed commit");
	tap_ok(count_dir("blobs/sha256") == 0 && count_dir("tmp") == 0,
	       "nothing published, staging removed");

	/* Names: tag, untag, retag, untagged entries. */
	tap_ok(store_txn_begin(s, &t, &err) == 0 && stage_image(t, "one", &d, &err) == 0, "staged");
	tap_ok(store_txn_tag(t, "x", &d, &err) < 0, "names must be normalised");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_txn_tag(t, "docker.io/library/one:1", &d, &err) == 0 &&
		       store_txn_tag(t, "docker.io/library/one:2", &d, &err) == 0 &&
		       store_txn_commit(t, &err) == 0,
	       "two names committed");
	tap_ok(store_txn_commit(t, &err) < 0 && strstr(err->message, "COMMITTED"),
	       "commit twice is an internal error");
	plate_error_free(err);
	err = NULL;
	store_txn_free(t);
	tap_ok(count_dir("blobs/sha256") == 2, "config and manifest published");
	struct store_image *img = NULL;
	tap_ok(store_image_resolve(s, "one:2", NULL, &img, &err) == 0 && img->names.n == 2,
	       "resolved with both names");
	store_image_free(img);
	img = NULL;

	tap_ok(store_txn_begin(s, &t, &err) == 0 &&
		       store_txn_untag(t, "docker.io/library/nope:1", &err) == 0,
	       "untag of a missing name staged");
	tap_ok(store_txn_commit(t, &err) < 0 && err->errno_value == ENOENT, "refused at commit");
	plate_error_free(err);
	err = NULL;
	store_txn_free(t);

	tap_ok(store_txn_begin(s, &t, &err) == 0 &&
		       store_txn_untag(t, "docker.io/library/one:1", &err) == 0 &&
		       store_txn_commit(t, &err) == 0,
	       "untag");
	store_txn_free(t);
	tap_ok(store_image_resolve(s, "one:1", NULL, &img, &err) < 0 && err->errno_value == ENOENT,
	       "untagged name is gone");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_txn_begin(s, &t, &err) == 0 && stage_image(t, "two", &d, &err) == 0 &&
		       store_txn_tag(t, NULL, &d, &err) == 0 && store_txn_commit(t, &err) == 0,
	       "untagged image kept");
	store_txn_free(t);
	struct oci_index idx;
	tap_ok(store_index_read(s, &idx, &err) == 0 && idx.n_manifests == 2, "two entries");
	oci_index_release(&idx);
}

static void test_cache_pins_gc(struct store *s)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *json = NULL, *got = NULL;
	struct store_gc_result gc;
	struct store_txn *t = NULL, *pinner = NULL;
	char blob[DIGEST_STRING_LEN + 1], key[DIGEST_STRING_LEN + 1], lone[DIGEST_STRING_LEN + 1];
	size_t len;

	digest_buffer("key", 3, key, &err);
	tap_ok(store_txn_begin(s, &t, &err) == 0 &&
		       store_txn_add_blob(t, "cached", 6, blob, &err) == 0,
	       "cache blob staged");
	if (asprintf(&json, "{\"layer\":{\"digest\":\"%s\"}}", blob) < 0)
		return;
	tap_ok(store_txn_cache_put(t, key, json, strlen(json), &err) == 0, "cache entry staged");
	tap_ok(store_txn_cache_put(t, key, "{", 1, &err) < 0, "invalid cache JSON refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_txn_commit(t, &err) == 0, "committed");
	store_txn_free(t);
	tap_ok(store_cache_get(s, key, &got, &len, &err) == 0 && strcmp(got, json) == 0,
	       "cache entry read");
	tap_ok(store_blob_exists(s, blob), "blob named by a cache entry published");

	/* A blob only a live transaction's pin keeps. */
	tap_ok(store_txn_begin(s, &t, &err) == 0 &&
		       store_txn_add_blob(t, "lone", 4, lone, &err) == 0,
	       "lone blob staged");
	/* Publish it unreferenced: tag then untag in one transaction leaves it in blobs/. */
	struct oci_descriptor d = { .media_type = (char *)"application/octet-stream",
				    .digest = lone,
				    .size = 4 };
	tap_ok(store_txn_tag(t, "docker.io/library/lone:1", &d, &err) == 0 &&
		       store_txn_untag(t, "docker.io/library/lone:1", &err) == 0 &&
		       store_txn_commit(t, &err) == 0,
	       "published without a name");
	store_txn_free(t);
	tap_ok(store_txn_begin(s, &pinner, &err) == 0 && store_txn_pin(pinner, lone, &err) == 0,
	       "pinned");
	tap_ok(store_gc(s, 0, &gc, &err) == 0 && store_blob_exists(s, lone) &&
		       store_blob_exists(s, blob),
	       "gc keeps pinned and cache-named blobs");
	store_txn_free(pinner);
	tap_ok(store_gc(s, 0, &gc, &err) == 0 && !store_blob_exists(s, lone) && gc.blobs == 1,
	       "gc removes it once the pin is gone");
	tap_ok(store_gc(s, STORE_GC_ALL_CACHE, &gc, &err) == 0 && gc.cache_entries == 1 &&
		       !store_blob_exists(s, blob),
	       "gc --all drops the cache and what only it kept");
	free(got);
	got = NULL;
	tap_ok(store_cache_get(s, key, &got, &len, &err) == 1, "cache entry gone");

	/* A crashed process's transaction directory is collected. */
	char path[512];
	snprintf(path, sizeof(path), "%s/tmp/txn.crashed", root);
	mkdir(path, 0755);
	tap_ok(store_gc(s, 0, &gc, &err) == 0 && gc.tmp_entries == 1 && count_dir("tmp") == 0,
	       "stale transaction directory removed");

	struct store_fsck_result fr;
	tap_ok(store_fsck(s, &fr, &err) == 0 && fr.problems.n == 0, "fsck clean (%zu problems)",
	       fr.problems.n);
	for (size_t i = 0; i < fr.problems.n; i++)
		tap_diag("%s", fr.problems.v[i]);
	store_fsck_result_release(&fr);
}

/* Several processes commit names at once; every name survives. */
static void test_concurrent_commits(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct oci_index idx;
	struct store *s;
	int status, ok = 0;

	for (int i = 0; i < 4; i++) {
		if (fork() == 0) {
			struct plate_error *e = NULL;
			struct store *cs = NULL;
			for (int j = 0; j < 5; j++) {
				struct store_txn *t = NULL;
				struct oci_descriptor d;
				char name[64], label[32];
				snprintf(name, sizeof(name), "docker.io/library/c%d:%d", i, j);
				snprintf(label, sizeof(label), "%d-%d", i, j);
				if (store_open(root, 0, &cs, &e) < 0 ||
				    store_txn_begin(cs, &t, &e) < 0 ||
				    stage_image(t, label, &d, &e) < 0 ||
				    store_txn_tag(t, name, &d, &e) < 0 ||
				    store_txn_commit(t, &e) < 0)
					_exit(1);
				store_txn_free(t);
				store_free(cs);
				cs = NULL;
			}
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	tap_ok(ok == 4, "4 processes committed 5 names each");
	tap_ok(store_open(root, 0, &s, &err) == 0 && store_index_read(s, &idx, &err) == 0,
	       "index read");
	size_t named = 0;
	for (size_t i = 0; i < idx.n_manifests; i++)
		if (strncmp(oci_map_get(&idx.manifests[i].annotations, OCI_ANNOTATION_REF_NAME)
				    ?: "",
			    "docker.io/library/c", 19) == 0)
			named++;
	tap_ok(named == 20, "no name lost (%zu)", named);
	oci_index_release(&idx);
	store_free(s);
}

static void test_changes(void)
{
	static const struct {
		const char *change;
		const char *want; /* the config's "config" object after applying, or NULL = error */
	} cases[] = {
		{ "ENV A=1 B=\"two words\" C='x y' D=a\\ b",
		  "{\"Env\":[\"A=1\",\"B=two words\",\"C=x y\",\"D=a b\"]}" },
		{ "ENV LEGACY value with spaces", "{\"Env\":[\"LEGACY=value with spaces\"]}" },
		{ "env lower=case", "{\"Env\":[\"lower=case\"]}" },
		{ "CMD [\"/app\", \"--flag\"]", "{\"Cmd\":[\"/app\",\"--flag\"]}" },
		{ "CMD echo hi", "{\"Cmd\":[\"/bin/sh\",\"-c\",\"echo hi\"]}" },
		{ "ENTRYPOINT [\"/bin/tini\"]", "{\"Entrypoint\":[\"/bin/tini\"]}" },
		{ "WORKDIR /srv", "{\"WorkingDir\":\"/srv\"}" },
		{ "USER 65534:65534", "{\"User\":\"65534:65534\"}" },
		{ "EXPOSE 80 53/udp", "{\"ExposedPorts\":{\"53/udp\":{},\"80/tcp\":{}}}" },
		{ "VOLUME [\"/data\"]", "{\"Volumes\":{\"/data\":{}}}" },
		{ "LABEL a=b", "{\"Labels\":{\"a\":\"b\"}}" },
		{ "STOPSIGNAL SIGTERM", "{\"StopSignal\":\"SIGTERM\"}" },
		{ "CMD [1]", NULL },
		{ "ENV", NULL },
		{ "ENV =x", NULL },
		{ "ENV A=\"open", NULL },
		{ "RUN rm -rf /", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_free_ char *out = NULL, *cfg = NULL;
		struct oci_config c = { .os = strdup("linux"), .architecture = strdup("amd64") };
		json_t *v = NULL;
		size_t len;
		int r = store_config_apply_change(&c, cases[i].change, &err);

		if (cases[i].want == NULL) {
			tap_ok(r < 0, "'%s' refused%s%s", cases[i].change, err ? ": " : "",
			       err ? err->message : "");
		} else if (tap_ok(r == 0, "'%s' applied", cases[i].change) &&
			   oci_config_write(&c, &out, &len, &err) == 0 &&
			   json_parse(out, len, len, 8, &v, &err) == 0) {
			json_canonical(json_object_get(v, "config"), &cfg, &len, &err);
			tap_streq(cfg, cases[i].want, "'%s' result", cases[i].change);
		}
		json_decref(v);
		oci_config_release(&c);
	}
	/* ENV replaces an existing key in place. */
	_cleanup_error_ struct plate_error *err = NULL;
	struct oci_config c = { 0 };
	store_config_apply_change(&c, "ENV A=1 B=2", &err);
	store_config_apply_change(&c, "ENV A=3", &err);
	tap_ok(c.env.n == 2 && strcmp(c.env.v[0], "A=3") == 0, "ENV replaces a key in place");
	oci_config_release(&c);
}

/* Extracts len bytes of data through a pipe (all of them fit in its buffer). */
static int extract_piped(struct store_snapshot_writer *w, const char *data, size_t len,
			 struct plate_error **err)
{
	int fds[2], r;

	if (pipe(fds) < 0)
		return plate_err_new(err, errno, "pipe");
	if (write(fds[1], data, len) != (ssize_t)len) {
		close(fds[0]);
		close(fds[1]);
		return plate_err_new(err, errno, "write");
	}
	close(fds[1]);
	r = store_snapshot_writer_extract(w, fds[0], err);
	close(fds[0]);
	return r;
}

/* Snapshot writers: extraction from a pipe, the digest checked, a cut-short stream
 * refused, two writers of one diffID (the first commit wins), the other's tree removed. */
static void test_snapshot_writers(struct store *s)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *tar = NULL;
	struct store_snapshot_writer *w1 = NULL, *w2 = NULL, *w3 = NULL, *bad = NULL;
	struct store_txn *t = NULL;
	char cmd[1400], path[600], d[DIGEST_STRING_LEN + 1];
	size_t len = 0;

	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/lt' && echo hi >'%s/lt/f' && tar -C '%s/lt' -cf '%s/lt.tar' f", root,
		 root, root, root);
	snprintf(path, sizeof(path), "%s/lt.tar", root);
	if (system(cmd) != 0 || (tar = tap_read_file(path, &len)) == NULL ||
	    digest_buffer(tar, len, d, &err) < 0) {
		tap_ok(false, "cannot make a test layer");
		return;
	}
	tap_ok(store_txn_begin(s, &t, &err) == 0 &&
		       store_txn_snapshot_writer(t, d, d, &w1, &err) == 0 && w1 != NULL &&
		       store_txn_snapshot_writer(t, d, d, &w2, &err) == 0 && w2 != NULL &&
		       store_txn_snapshot_writer(t,
						 "sha256:"
						 "0000000000000000000000000000000000000000000000000"
						 "000000000000000",
						 d, &bad, &err) == 0 &&
		       bad != NULL,
	       "snapshot writers prepared: %s", err ? err->message : "");
	tap_ok(extract_piped(w1, tar, len, &err) == 0, "a layer extracted from a pipe: %s",
	       err ? err->message : "");
	tap_ok(extract_piped(bad, tar, len, &err) < 0 && strstr(err->message, "digest") != NULL,
	       "the layer digest is checked: %s", err ? err->message : "");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_snapshot_writer_commit(bad, &err) < 0,
	       "a failed extraction cannot be committed");
	plate_error_free(err);
	err = NULL;
	tap_ok(extract_piped(w2, tar, len, &err) == 0 &&
		       store_snapshot_writer_commit(w1, &err) == 0 &&
		       store_snapshot_writer_commit(w2, &err) == 0,
	       "two writers of one diffID both commit: %s", err ? err->message : "");
	tap_ok(store_txn_snapshot_writer(t, d, d, &w3, &err) == 0 && w3 == NULL,
	       "a staged snapshot needs no writer");
	store_snapshot_writer_free(w1);
	store_snapshot_writer_free(w2);
	store_snapshot_writer_free(bad);
	snprintf(cmd, sizeof(cmd),
		 "test $(ls -d '%s'/tmp/txn.*/snapw-* 2>/dev/null | wc -l) = 0 && "
		 "test -f '%s'/tmp/txn.*/snap-%s/fs/f",
		 root, root, d + 7);
	tap_ok(system(cmd) == 0, "the loser's and the failed tree are removed, the winner staged");
	store_txn_free(t);
}

int main(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const char *tmp = getenv("PLATE_TEST_TMP");
	struct store *s = NULL;
	char cmd[600];

	snprintf(root, sizeof(root), "%s/test_store.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		tap_skip_all("cannot make a temporary directory");
	tap_ok(store_open(root, 0, &s, &err) < 0, "an empty directory is not a store");
	plate_error_free(err);
	err = NULL;
	tap_ok(store_open(root, STORE_OPEN_CREATE, &s, &err) == 0, "store created");
	tap_ok(count_dir("blobs/sha256") == 0 && count_dir("snapshots") == 0, "layout made");
	test_transactions(s);
	test_cache_pins_gc(s);
	test_artifact_layers(s);
	test_partial_index(s);
	test_snapshot_writers(s);
	store_free(s);
	test_concurrent_commits();
	test_changes();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", root);
	return tap_done();
}
