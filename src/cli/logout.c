/* plate logout REGISTRY: erases the registry's login from the credential helper the docker
 * config names for it (credHelpers, credsStore) and removes its entry from the config file. */
#include <stdio.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "cli.h"

int cli_cmd_logout(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct cli_registry reg = { 0 };
	_cleanup_free_ char *host = NULL;
	const char *helper;
	int r, erased = 0, rc = -1, i = cli_operands(ctx, "logout", argc, argv, err);

	if (i < 0)
		return -1;
	if (argc - i != 1)
		return cli_usage_error(ctx, err, "logout takes one REGISTRY");
	if ((host = cli_registry_host(argv[i])) == NULL || host[0] == '\0')
		return cli_usage_error(ctx, err, "logout: invalid registry '%s'", argv[i]);
	if (cli_registry_setup(&reg, err) < 0)
		goto out;
	helper = cli_login_helper(&reg.config, host);
	if (helper != NULL &&
	    (erased = registry_credential_helper_erase(helper, NULL,
						       registry_credential_server_url(host), err)) <
		    0)
		goto out;
	if ((r = cli_docker_config_update(host, NULL, NULL, err)) < 0)
		goto out;
	if (r == 0 && erased == 0)
		fprintf(stderr, "not logged in to %s\n", host);
	else
		printf("removed login credentials for %s\n", host);
	rc = CLI_EXIT_OK;
out:
	cli_registry_release(&reg);
	return rc;
}
