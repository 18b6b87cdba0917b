/*
 * Fuzz target for registry_docker_config_parse() and lookups in what it returns, and for the
 * credential-helper answer parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "docker.io", "ghcr.io", "127.0.0.1:5000", "x" };
	struct registry_docker_config cfg = { 0 };
	struct registry_credentials cred = { 0 };
	_cleanup_error_ struct plate_error *err = NULL;

	if (registry_credential_helper_parse((const char *)data, size, &cred, &err) == 0)
		registry_credentials_release(&cred);
	plate_error_free(err);
	err = NULL;
	if (registry_docker_config_parse((const char *)data, size, &cfg, &err) < 0) {
		if (err == NULL || err->message == NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		const char *helper = NULL;
		int r = registry_docker_config_lookup(&cfg, hosts[i], &cred, &helper, &err);
		if (r == 2 && (helper == NULL || strchr(helper, '/') != NULL))
			abort();
		if (r == 1)
			registry_credentials_release(&cred);
	}
	registry_docker_config_release(&cfg);
	return 0;
}
