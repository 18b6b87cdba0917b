/* plate logout REGISTRY: removes the registry's entry from the docker config file. */
#include <stdio.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "cli.h"

int cli_cmd_logout(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	_cleanup_free_ char *host = NULL;
	int r, i = cli_operands(ctx, "logout", argc, argv, err);

	if (i < 0)
		return -1;
	if (argc - i != 1)
		return cli_usage_error(ctx, err, "usage: plate logout REGISTRY");
	if ((host = cli_registry_host(argv[i])) == NULL || host[0] == '\0')
		return cli_usage_error(ctx, err, "logout: invalid registry '%s'", argv[i]);
	if ((r = cli_docker_config_update(host, NULL, NULL, err)) < 0)
		return -1;
	if (r == 0)
		fprintf(stderr, "not logged in to %s\n", host);
	else
		printf("removed login credentials for %s\n", host);
	return CLI_EXIT_OK;
}
