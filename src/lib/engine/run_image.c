/*
 * `plate run`: an image's command in the sandbox over its layers, with a throw-away upper
 * directory.  The image's WORKDIR is created and its USER resolved through an overlay view
 * first, as for a RUN step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "sandbox/sandbox.h"
#include "engine/engine_internal.h"

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

/* `plate run` throws the command's changes away with an overlay, and its network is a
 * namespace of its own: where only chroot isolation is to be had (a default container),
 * one error saying so rather than the first refused mount. */
static int check_namespaces(struct plate_error **err)
{
	enum sandbox_isolation iso;

	if (sandbox_isolation_detect(&iso, err) < 0)
		return -1;
	if (iso != SANDBOX_ISOLATION_NAMESPACES)
		return plate_err_new(
			err, ENOTSUP,
			"plate run needs namespaces and mounts, which are refused here "
			"(a container's default seccomp profile or capabilities; builds "
			"use chroot isolation there): run it where plate can make "
			"namespaces (root on a host, or rootless)");
	return 0;
}

/* An image of another architecture runs under its emulator: missing, one clear error
 * before anything is mounted. */
static int run_platform_check(const struct store_image *img, struct plate_error **err)
{
	const struct oci_config *c = &img->config;
	_cleanup_free_ char *have = NULL;

	if (c->os == NULL || c->architecture == NULL)
		return 0;
	if (asprintf(&have, "%s/%s", c->os, c->architecture) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	return sandbox_emulator_check(have, oci_platform_native(), err);
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
	_cleanup_free_ char *platform = NULL;
	const struct oci_config *c;
	size_t n_lowers = 0;
	int r = -1;

	if (o->platform != NULL && (platform = oci_platform_normalize(o->platform, err)) == NULL)
		return -1;
	if (engine_new(&eo, &e, err) < 0)
		return -1;
	if (check_namespaces(err) < 0)
		goto out;
	if (store_image_resolve(o->store, o->image, platform, &img, err) < 0 ||
	    run_platform_check(img, err) < 0 || store_txn_begin(o->store, &e->txn, err) < 0 ||
	    eng_scratch(e, "empty", &e->empty_dir, err) < 0 ||
	    eng_scratch(e, "empty", &e->empty_dir2, err) < 0 ||
	    eng_scratch(e, "sandbox", &e->sandbox_tmp, err) < 0 ||
	    eng_image_layers(e, img, &layers, err) < 0 ||
	    eng_scratch(e, "upper", &upper, err) < 0 || eng_scratch(e, "work", &work, err) < 0 ||
	    eng_scratch(e, "work", &vwork, err) < 0 || eng_scratch(e, "mnt", &mnt, err) < 0 ||
	    eng_layers_lowers(NULL, &layers, &lowers, &n_lowers, err) < 0)
		goto out;
	c = &img->config;
	if (n_lowers == 0) {
		lowers[0] = e->empty_dir;
		n_lowers = 1;
	}
	{
		struct run_prep p = { .cwd = o->workdir	      ? o->workdir
					     : c->working_dir ? c->working_dir
							      : "/",
				      .user = o->user ? o->user : c->user,
				      .resolved = &user };
		/* Its own workdir: a volatile overlay's cannot be mounted again. */
		struct eng_view v = { .lowers = lowers,
				      .n_lowers = n_lowers,
				      .upper = upper,
				      .work = vwork,
				      .mountpoint = mnt };
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
		if (eng_env_set(&env, o->env[i], err) < 0)
			goto out;
	sandbox_spec_init(&spec);
	spec.rootfs_mode = SANDBOX_ROOTFS_OVERLAY;
	spec.lowerdirs = lowers;
	spec.n_lowerdirs = n_lowers;
	spec.upperdir = upper;
	spec.workdir = work;
	/* Nothing the command writes is kept: the unmount need not syncfs the store's
	 * filesystem for an upper directory about to be deleted. */
	spec.overlay_volatile = true;
	spec.tmpdir = e->sandbox_tmp;
	spec.seccomp_cache = e->seccomp_cache;
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
