/* What pull, push, login and build share to reach registries: --tls-ca, --insecure-registry,
 * --secure-registry (TLS on a loopback host, which is otherwise plain http), PLATE_REGISTRY_MIRRORS, the docker config file, and progress lines for transfers. */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli.h"

static int append(char **list, const char *item, struct plate_error **err)
{
	char *joined;

	if (asprintf(&joined, "%s%s%s", *list ? *list : "", *list ? "," : "", item) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	free(*list);
	*list = joined;
	return 1;
}

int cli_registry_opt(struct cli_registry *r, int c, const char *arg, struct plate_error **err)
{
	switch (c) {
	case CLI_OPT_TLS_CA:
		r->ca_file = arg;
		return 1;
	case CLI_OPT_INSECURE:
		return append(&r->insecure, arg, err);
	case CLI_OPT_SECURE:
		return append(&r->secure, arg, err);
	default:
		return 0;
	}
}

char *cli_docker_config_path(void)
{
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char *path = NULL;

	if (dir != NULL && dir[0] != '\0') {
		if (asprintf(&path, "%s/config.json", dir) < 0)
			return NULL;
	} else if (home != NULL && home[0] != '\0') {
		if (asprintf(&path, "%s/.docker/config.json", home) < 0)
			return NULL;
	}
	return path;
}

int cli_registry_setup(struct cli_registry *r, struct plate_error **err)
{
	_cleanup_free_ char *path = cli_docker_config_path(), *data = NULL;
	const char *mirrors = getenv("PLATE_REGISTRY_MIRRORS");
	size_t len;

	r->opts = (struct registry_options){
		.mirrors = mirrors && mirrors[0] ? mirrors : NULL,
		.insecure = r->insecure,
		.secure = r->secure,
		.ca_file = r->ca_file,
		/* as docker's Go TLS: these replace the system's roots */
		.system_ca_file = getenv("SSL_CERT_FILE"),
		.system_ca_dir = getenv("SSL_CERT_DIR"),
		.credential_helpers = true,
	};
	if (path == NULL || access(path, F_OK) < 0)
		return 0;
	if (cli_read_file(path, REGISTRY_DOCKER_CONFIG_MAX, &data, &len, err) < 0 ||
	    registry_docker_config_parse(data, len, &r->config, err) < 0)
		return plate_err_wrap(err, "docker config '%s'", path);
	r->opts.docker_config = &r->config;
	return 0;
}

void cli_registry_release(struct cli_registry *r)
{
	free(r->insecure);
	free(r->secure);
	registry_docker_config_release(&r->config);
	memset(r, 0, sizeof(*r));
}

int cli_transfer_begin(struct cli_ctx *ctx, const char *cmd, int argc, char **argv,
		       struct cli_transfer *t, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "platform", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_REGISTRY_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	t->o.platform = cli_host_platform();
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "q", longopts)) != -1) {
		int r = cli_registry_opt(&t->reg, c, optarg, err);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (c) {
		case 'P':
			t->o.platform = optarg;
			t->o.platform_given = true;
			break;
		case 'q':
			t->quiet = true;
			break;
		default:
			return cli_usage_error(ctx, err, "%s: bad option '%s'", cmd,
					       argv[optind - 1]);
		}
	}
	if (cli_registry_setup(&t->reg, err) < 0 || cli_open_store(ctx, &t->store, err) < 0)
		return -1;
	t->o.store = t->store;
	t->o.registry = &t->reg.opts;
	if (!t->quiet) {
		if (cli_transfer_view_new(&t->view, err) < 0)
			return -1;
		t->o.progress = cli_transfer_progress;
		t->o.progress_data = t->view;
	}
	return optind;
}

void cli_transfer_end(struct cli_transfer *t)
{
	transfer_result_release(&t->res);
	cli_transfer_view_free(t->view);
	store_free(t->store);
	cli_registry_release(&t->reg);
}
