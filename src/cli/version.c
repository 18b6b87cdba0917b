#include <stdio.h>

#include "cli.h"

#ifndef PLATE_VERSION
#define PLATE_VERSION "0.1.0-dev"
#endif

int cli_cmd_version(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	printf("plate %s\n", PLATE_VERSION);
	return CLI_EXIT_OK;
}
