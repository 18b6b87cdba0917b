/*
 * The target stage as an image: the blobs of its layers (written from their snapshots
 * when the build cache had none), the config (created at the epoch, rootfs diffIDs, the
 * history of every step), the OCI manifest, and the names.  Then the outputs beyond the
 * store: an oci-archive or docker-archive, or the image's files in a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "layer/layer.h"
#include "sandbox/sandbox.h"
#include "engine/engine_internal.h"

static bool already_tagged(struct engine *e, const char *name, const char *digest)
{
	_cleanup_error_ struct plate_error *ignored = NULL;
	struct oci_index idx = { 0 };
	bool found = false;

	if (store_index_read(e->o.store, &idx, &ignored) < 0)
		return false;
	for (size_t i = 0; i < idx.n_manifests && !found; i++) {
		const char *n = oci_map_get(&idx.manifests[i].annotations, OCI_ANNOTATION_REF_NAME);
		found = strcmp(idx.manifests[i].digest, digest) == 0 &&
			(name == NULL ? true : (n != NULL && strcmp(n, name) == 0));
	}
	oci_index_release(&idx);
	return found;
}

int eng_image_commit(struct engine *e, struct eng_stage *st, struct engine_result *res,
		     struct plate_error **err)
{
	struct oci_config c = { 0 };
	struct oci_manifest m = { .schema_version = 2 };
	struct oci_descriptor desc = { 0 };
	_cleanup_free_ char *cjson = NULL, *mjson = NULL;
	char created[32], cdigest[DIGEST_STRING_LEN + 1], mdigest[DIGEST_STRING_LEN + 1];
	size_t clen, mlen;
	unsigned id = eng_new_id(e);
	double t0 = eng_now();
	struct engine_event ev = { .type = ENGINE_EVENT_STEP_START, .id = id,
				   .name = "exporting to image" };
	int r = -1;

	eng_emit(e, &ev);
	for (size_t i = 0; i < st->layers.n; i++)
		if (eng_layer_blob(e, &st->layers.v[i], err) < 0)
			goto out;
	if (oci_config_copy(&c, &st->config, err) < 0 || eng_time_string(e->o.epoch, created, err) < 0)
		goto out;
	free(c.created);
	if ((c.created = strdup(created)) == NULL)
		goto nomem;
	oci_strings_release(&c.diff_ids);
	for (size_t i = 0; i < st->layers.n; i++)
		if (oci_strings_add(&c.diff_ids, st->layers.v[i].diff_id, err) < 0)
			goto out;
	for (size_t i = 0; i < e->o.n_labels; i++) {
		const char *kv = e->o.labels[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *k = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
		if (k == NULL)
			goto nomem;
		if (oci_map_set(&c.labels, k, eq ? eq + 1 : "", err) < 0)
			goto out;
	}
	if (oci_config_write(&c, &cjson, &clen, err) < 0)
		goto out;
	m.layers = calloc(st->layers.n + 1, sizeof(*m.layers));
	if (m.layers == NULL)
		goto nomem;
	for (size_t i = 0; i < st->layers.n; i++)
		m.layers[i] = (struct oci_descriptor){ .media_type = st->layers.v[i].media_type,
						       .digest = st->layers.v[i].blob,
						       .size = st->layers.v[i].size };
	m.n_layers = st->layers.n;
	pthread_mutex_lock(&e->lock);
	r = store_txn_add_blob(e->txn, cjson, clen, cdigest, err);
	if (r == 0) {
		m.config = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_CONFIG,
						    .digest = cdigest, .size = (int64_t)clen };
		r = oci_manifest_write(&m, OCI_FORMAT_OCI, &mjson, &mlen, err);
	}
	if (r == 0)
		r = store_txn_add_blob(e->txn, mjson, mlen, mdigest, err);
	if (r == 0) {
		desc = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
						.digest = mdigest, .size = (int64_t)mlen };
		for (size_t i = 0; r == 0 && i < e->o.n_tags; i++)
			if (!already_tagged(e, e->o.tags[i], mdigest))
				r = store_txn_tag(e->txn, e->o.tags[i], &desc, err);
		if (r == 0 && e->o.n_tags == 0 && !already_tagged(e, NULL, mdigest))
			r = store_txn_tag(e->txn, NULL, &desc, err);
	}
	pthread_mutex_unlock(&e->lock);
	if (r < 0)
		goto out;
	memcpy(res->image_id, cdigest, sizeof(cdigest));
	memcpy(res->manifest_digest, mdigest, sizeof(mdigest));
	res->manifest_size = mlen;
	ev = (struct engine_event){ .type = ENGINE_EVENT_STEP_DONE, .id = id,
				    .name = "exporting to image", .seconds = eng_now() - t0 };
	eng_emit(e, &ev);
	goto out;
nomem:
	plate_err_new(err, ENOMEM, "out of memory");
	r = -1;
out:
	free(m.layers);
	oci_config_release(&c);
	if (r < 0)
		plate_err_wrap(err, "exporting to image");
	return r;
}

/* type=local: the image's files, layers applied in order. */
static int output_local(struct engine *e, struct eng_stage *st, struct plate_error **err)
{
	struct layer_extract_options xo = {
		.whiteouts = LAYER_WHITEOUT_APPLY,
		.devices = geteuid() == 0 ? LAYER_DEVICES_CREATE : LAYER_DEVICES_SKIP,
		.owners = LAYER_OWNER_AUTO,
		.flags = LAYER_EXTRACT_NO_XATTRS,
	};
	_cleanup_close_ int dir = -1;

	if (mkdir(e->o.output_dest, 0755) < 0 && errno != EEXIST)
		return plate_err_new(err, errno, "cannot create '%s'", e->o.output_dest);
	dir = open(e->o.output_dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return plate_err_new(err, errno, "cannot open '%s'", e->o.output_dest);
	for (size_t i = 0; i < st->layers.n; i++) {
		const struct eng_layer *l = &st->layers.v[i];
		struct layer_extract_result xr;
		_cleanup_close_ int fd = -1;
		int64_t size;

		xo.expected_diff_id = l->diff_id;
		if (store_blob_open(e->o.store, l->blob, &fd, &size, err) < 0 ||
		    layer_extract(fd, dir, &xo, &xr, err) < 0)
			return plate_err_wrap(err, "layer '%s'", l->diff_id);
	}
	return 0;
}

int eng_output(struct engine *e, struct engine_result *res, struct plate_error **err)
{
	const char *name = e->o.n_tags > 0 ? e->o.tags[0] : res->manifest_digest;
	enum store_archive_format format = STORE_ARCHIVE_OCI;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *tmp = NULL;
	int out_fd;

	switch (e->o.output) {
	case ENGINE_OUTPUT_STORE:
		return 0;
	case ENGINE_OUTPUT_LOCAL:
		return output_local(e, &e->stages[e->plan->target], err) < 0
			       ? plate_err_wrap(err, "--output type=local,dest=%s", e->o.output_dest)
			       : 0;
	case ENGINE_OUTPUT_DOCKER:
		format = STORE_ARCHIVE_DOCKER;
		break;
	case ENGINE_OUTPUT_OCI:
		break;
	default:
		return plate_err_new(err, EINVAL, "bad output type %d", (int)e->o.output);
	}
	if (strcmp(e->o.output_dest, "-") == 0) {
		out_fd = STDOUT_FILENO;
	} else {
		/* Written beside the destination and renamed: never a half archive. */
		if (asprintf(&tmp, "%s.tmp-%ld", e->o.output_dest, (long)getpid()) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return plate_err_new(err, errno, "cannot create '%s'", tmp);
		out_fd = fd;
	}
	if (store_save(e->o.store, &name, 1, NULL, format, out_fd, err) < 0) {
		if (tmp != NULL)
			unlink(tmp);
		return plate_err_wrap(err, "--output dest=%s", e->o.output_dest);
	}
	if (tmp != NULL && (fsync(fd) < 0 || rename(tmp, e->o.output_dest) < 0)) {
		int saved = errno;
		unlink(tmp);
		return plate_err_new(err, saved, "cannot write '%s'", e->o.output_dest);
	}
	return 0;
}

/* ---- plate run ------------------------------------------------------------------------------- */

struct run_prep {
	const char *cwd;
	const char *user;
	struct eng_user *resolved;
};

static int run_prepare_in_view(void *data, const int *fds, struct plate_error **err)
{
	struct run_prep *p = data;

	if (eng_mkdir_p(fds[0], p->cwd, 0, 0, NULL, err) < 0)
		return -1;
	return eng_user_resolve_root(fds[0], p->user ? p->user : "", true, p->resolved, err);
}

static int set_env(struct oci_strings *env, const char *kv, struct plate_error **err)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], kv, klen) == 0 && env->v[i][klen] == '=') {
			char *copy = strdup(kv);
			if (copy == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
			free(env->v[i]);
			env->v[i] = copy;
			return 0;
		}
	return oci_strings_add(env, kv, err);
}

int engine_run(const struct engine_run_options *o, int *status, struct plate_error **err)
{
	struct engine_options eo = { .store = o->store };
	struct engine *e = NULL;
	struct store_image *img = NULL;
	struct eng_layers layers = { 0 };
	struct oci_strings argv = { 0 }, env = { 0 };
	struct eng_user user = { 0 };
	struct sandbox_spec spec;
	struct sandbox_result result;
	_cleanup_free_ const char **lowers = NULL;
	_cleanup_free_ char *upper = NULL, *work = NULL, *vwork = NULL, *mnt = NULL;
	const struct oci_config *c;
	size_t n_lowers = 0;
	int r = -1;

	if (engine_new(&eo, &e, err) < 0)
		return -1;
	if (store_image_resolve(o->store, o->image, o->platform, &img, err) < 0 ||
	    store_txn_begin(o->store, &e->txn, err) < 0 ||
	    eng_scratch(e, "empty", &e->empty_dir, err) < 0 ||
	    eng_scratch(e, "empty", &e->empty_dir2, err) < 0 ||
	    eng_scratch(e, "sandbox", &e->sandbox_tmp, err) < 0 ||
	    eng_image_layers(e, img, &layers, err) < 0 ||
	    eng_scratch(e, "upper", &upper, err) < 0 || eng_scratch(e, "work", &work, err) < 0 ||
	    eng_scratch(e, "work", &vwork, err) < 0 || eng_scratch(e, "mnt", &mnt, err) < 0 ||
	    eng_layers_lowers(&layers, &lowers, &n_lowers, err) < 0)
		goto out;
	c = &img->config;
	if (n_lowers == 0) {
		lowers[0] = e->empty_dir;
		n_lowers = 1;
	}
	{
		struct run_prep p = { .cwd = o->workdir ? o->workdir
						       : c->working_dir ? c->working_dir : "/",
				      .user = o->user ? o->user : c->user, .resolved = &user };
		/* Its own workdir: a volatile overlay's cannot be mounted again. */
		struct eng_view v = { .lowers = lowers, .n_lowers = n_lowers, .upper = upper,
				      .work = vwork, .mountpoint = mnt };
		if (eng_view_run(e, &v, 1, run_prepare_in_view, &p, err) < 0)
			goto out;
	}
	if (o->entrypoint != NULL) {
		if (*o->entrypoint != '\0' && oci_strings_add(&argv, o->entrypoint, err) < 0)
			goto out;
	} else if (oci_strings_copy(&argv, &c->entrypoint, err) < 0) {
		goto out;
	}
	if (o->n_argv > 0) {
		for (size_t i = 0; i < o->n_argv; i++)
			if (oci_strings_add(&argv, o->argv[i], err) < 0)
				goto out;
	} else if (o->entrypoint == NULL) {
		/* docker: --entrypoint also clears the image's CMD. */
		for (size_t i = 0; i < c->cmd.n; i++)
			if (oci_strings_add(&argv, c->cmd.v[i], err) < 0)
				goto out;
	}
	if (argv.n == 0) {
		plate_err_new(err, EINVAL, "image '%s' has no command: give one after its name",
			      o->image);
		goto out;
	}
	if (oci_strings_copy(&env, &c->env, err) < 0)
		goto out;
	for (size_t i = 0; i < o->n_env; i++)
		if (set_env(&env, o->env[i], err) < 0)
			goto out;
	sandbox_spec_init(&spec);
	spec.rootfs_mode = SANDBOX_ROOTFS_OVERLAY;
	spec.lowerdirs = lowers;
	spec.n_lowerdirs = n_lowers;
	spec.upperdir = upper;
	spec.workdir = work;
	spec.tmpdir = e->sandbox_tmp;
	spec.argv = (const char *const *)argv.v;
	spec.n_argv = argv.n;
	spec.env = (const char *const *)env.v;
	spec.n_env = env.n;
	spec.cwd = o->workdir ? o->workdir : c->working_dir ? c->working_dir : "/";
	spec.uid = user.uid;
	spec.gid = user.gid;
	spec.groups = user.groups;
	spec.n_groups = user.n_groups;
	spec.hostname = o->hostname;
	spec.network = eng_sandbox_network(o->network);
	spec.etc_files = SANDBOX_ETC_RESOLV_CONF | SANDBOX_ETC_HOSTS | SANDBOX_ETC_HOSTNAME;
	spec.resolv_conf = o->resolv_conf;
	spec.stdin_fd = o->stdin_fd;
	spec.stdout_fd = o->stdout_fd;
	spec.stderr_fd = o->stderr_fd;
	spec.cancel_fd = o->cancel_fd;
	if (sandbox_run(&spec, &result, err) < 0)
		goto out;
	*status = result.status;
	r = 0;
out:
	oci_strings_release(&argv);
	oci_strings_release(&env);
	eng_user_release(&user);
	eng_layers_release(&layers);
	store_image_free(img);
	engine_free(e);
	return r;
}
