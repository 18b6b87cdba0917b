/* Helpers shared by the commands that work on the store: where it is, the host platform,
 * how names are shown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"
#include "userns/userns.h"

int cli_user_store_path(char **out, struct plate_error **err)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(out, "%s/plate", xdg) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else if (home != NULL && home[0] == '/') {
		if (asprintf(out, "%s/.local/share/plate", home) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else {
		return plate_err_new(err, 0, "no store root: set --root, PLATE_ROOT or HOME");
	}
	return 0;
}

/* --root, then $PLATE_ROOT (main puts either in ctx->root, or the user's store when it
 * enters a user namespace), then /var/lib/plate for the host's root and the user's store
 * for everyone else (root of a user namespace made by someone else, `unshare -r` included). */
static int open_store(struct cli_ctx *ctx, unsigned flags, struct store **out,
		      struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (ctx->root != NULL && ctx->root[0] != '\0')
		return store_open(ctx->root, flags, out, err);
	if (geteuid() == 0 && !userns_nested())
		return store_open("/var/lib/plate", flags, out, err);
	if (cli_user_store_path(&path, err) < 0)
		return -1;
	return store_open(path, flags, out, err);
}

int cli_open_store_as_found(struct cli_ctx *ctx, struct store **out, struct plate_error **err)
{
	return open_store(ctx, 0, out, err);
}

int cli_open_store(struct cli_ctx *ctx, struct store **out, struct plate_error **err)
{
	if (open_store(ctx, STORE_OPEN_CREATE, out, err) < 0)
		return -1;
	store_set_layer_limits(*out, &ctx->limits);
	return 0;
}

const char *cli_host_platform(void)
{
	static const struct {
		const char *machine, *platform;
	} map[] = {
		{ "x86_64", "linux/amd64" },  { "aarch64", "linux/arm64" },
		{ "armv7l", "linux/arm/v7" }, { "armv6l", "linux/arm/v6" },
		{ "i686", "linux/386" },      { "ppc64le", "linux/ppc64le" },
		{ "s390x", "linux/s390x" },   { "riscv64", "linux/riscv64" },
	};
	struct utsname u;

	if (uname(&u) == 0)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(u.machine, map[i].machine) == 0)
				return map[i].platform;
	return "linux/amd64";
}

int cli_normalise_name(const char *name, bool need_tag, char **out, struct plate_error **err)
{
	struct oci_reference ref;

	if (oci_reference_parse(name, strlen(name), &ref, err) < 0)
		return plate_err_wrap(err, "invalid image name '%s'", name);
	if (need_tag && ref.digest != NULL) {
		oci_reference_release(&ref);
		return plate_err_new(err, 0, "'%s': a digest cannot be a tag", name);
	}
	*out = oci_reference_format(&ref);
	oci_reference_release(&ref);
	return *out == NULL ? plate_err_new(err, ENOMEM, "out of memory") : 0;
}
