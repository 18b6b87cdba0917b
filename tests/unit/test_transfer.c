/* Unit tests for the pure parts behind pull/push/login: platform selection in an index and
 * the docker config edit that login and logout make. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry.h"
#include "tap.h"
#include "transfer/transfer_internal.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *pick(const struct oci_index *idx, const char *platform)
{
	_cleanup_error_ struct plate_error *err = NULL;
	const struct oci_descriptor *d;

	if (transfer_pick_platform(idx, platform, &d, &err) < 0)
		return err->errno_value == ENOENT ? "none" : "error";
	return d->digest + 71 - 4;
}

static void test_platform(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct oci_index idx;
#define D(x)        \
	"\"sha256:" \
	"000000000000000000000000000000000000000000000000000000000000" x "\""
	static const char json[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":["
		"{\"mediaType\":\"application/"
		"vnd.oci.image.manifest.v1+json\",\"size\":1,\"digest\":" D(
			"aaaa") ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
				"{\"mediaType\":\"application/"
				"vnd.oci.image.manifest.v1+json\",\"size\":1,\"digest\":" D(
					"bbbb") ",\"platform\":{\"os\":\"linux\",\"architecture\":"
						"\"arm\",\"variant\":\"v6\"}},"
						"{\"mediaType\":\"application/"
						"vnd.oci.image.manifest.v1+json\",\"size\":1,"
						"\"digest\":" D(
							"cccc") ",\"platform\":{\"os\":\"linux\","
								"\"architecture\":\"arm\","
								"\"variant\":\"v7\"}},"
								"{\"mediaType\":\"application/"
								"vnd.oci.image.manifest.v1+json\","
								"\"size\":1,\"digest\":" D(
									"dddd") ",\"platform\":{"
										"\"os\":\"linux\","
										"\"architecture\":"
										"\"arm64\"}},"
										"{\"mediaType\":"
										"\"application/"
										"vnd.oci.image."
										"manifest.v1+"
										"json\",\"size\":1,"
										"\"digest\":" D(
											"eeee") ","
												"\""
												"pl"
												"at"
												"fo"
												"rm"
												"\""
												":{"
												"\""
												"os"
												"\""
												":"
												"\""
												"un"
												"kn"
												"ow"
												"n"
												"\""
												","
												"\""
												"ar"
												"ch"
												"it"
												"ec"
												"tu"
												"re"
												"\""
												":"
												"\""
												"un"
												"kn"
												"ow"
												"n"
												"\""
												"}}"
												"]"
												"}";

	if (!tap_ok(oci_index_parse(S(json), 0, &idx, &err) == 0, "test index parses"))
		return;
	tap_streq(pick(&idx, "linux/amd64"), "aaaa", "linux/amd64");
	tap_streq(pick(&idx, NULL), "aaaa", "no platform: linux/amd64");
	tap_streq(pick(&idx, "linux/arm/v7"), "cccc", "variant chosen");
	tap_streq(pick(&idx, "linux/arm"), "bbbb",
		  "no variant asked: the first of the architecture");
	tap_streq(pick(&idx, "linux/arm64/v8"), "dddd", "arm64/v8 matches arm64 without variant");
	tap_streq(pick(&idx, "linux/s390x"), "none", "absent platform: ENOENT");
	tap_streq(pick(&idx, "linux"), "error", "malformed platform refused");
	oci_index_release(&idx);
}

static int edit(const char *in, const char *host, const char *user, const char *pw, char **out)
{
	_cleanup_error_ struct plate_error *err = NULL;
	size_t len;

	*out = NULL;
	return registry_docker_config_edit(in, in ? strlen(in) : 0, host, user, pw, out, &len,
					   &err);
}

static void test_config_edit(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	struct registry_docker_config cfg = { 0 };
	struct registry_credentials cred = { 0 };
	const char *helper = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	tap_ok(edit(NULL, "docker.io", "u", "p:w", &a) == 1 && a != NULL,
	       "login into an empty config");
	tap_ok(a && strstr(a, "\"https://index.docker.io/v1/\"") != NULL,
	       "Docker Hub under docker's key");
	tap_ok(a && registry_docker_config_parse(a, strlen(a), &cfg, &err) == 0 &&
		       registry_docker_config_lookup(&cfg, "docker.io", &cred, &helper, &err) ==
			       1 &&
		       strcmp(cred.username, "u") == 0 && strcmp(cred.password, "p:w") == 0,
	       "the written entry reads back");
	registry_credentials_release(&cred);
	registry_docker_config_release(&cfg);
	tap_ok(edit("{\"credsStore\":\"x\",\"auths\":{\"docker.io\":{\"auth\":\"eDp5\"},"
		    "\"other:5000\":{\"auth\":\"eDp5\"}}}",
		    "docker.io", "v", "w", &b) == 1 &&
		       strstr(b, "\"docker.io\"") == NULL && strstr(b, "other:5000") != NULL &&
		       strstr(b, "credsStore") != NULL,
	       "every spelling of the host replaced, other keys kept");
	tap_ok(edit(b, "docker.io", NULL, NULL, &c) == 1 && strstr(c, "index.docker.io") == NULL &&
		       strstr(c, "other:5000") != NULL,
	       "logout removes the entry");
	tap_ok(edit(c, "docker.io", NULL, NULL, &d) == 0 && d == NULL,
	       "logout twice: nothing to do");
	tap_ok(edit("[1]", "x", "u", "p", &d) < 0, "a config that is not an object is refused");
	tap_ok(edit("{\"auths\":", "x", "u", "p", &d) < 0, "invalid JSON is refused");
}

int main(void)
{
	test_platform();
	test_config_edit();
	return tap_done();
}
