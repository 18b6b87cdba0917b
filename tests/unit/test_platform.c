/* Platform strings: containerd's short forms, the known list, the comma list of --platform. */
#include <string.h>

#include "base/cleanup.h"
#include "oci/oci.h"
#include "tap.h"

static void test_short_forms(void)
{
	static const struct {
		const char *in, *want;
	} norm[] = {
		{ "amd64", "linux/amd64" },	     { "arm64", "linux/arm64" },
		{ "aarch64", "linux/arm64" },	     { "arm", "linux/arm/v7" },
		{ "LINUX/ARM64/V8", "linux/arm64" }, { "linux/arm64/8", "linux/arm64" },
	};
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *host = oci_platform_normalize("linux", &err);

	for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
		_cleanup_error_ struct plate_error *e = NULL;
		_cleanup_free_ char *got = oci_platform_normalize(norm[i].in, &e);
		tap_streq(got, norm[i].want, "'%s' normalises", norm[i].in);
	}
	tap_streq(host, oci_platform_native(), "a lone 'linux' is the host's architecture");
}

static void test_known(void)
{
	tap_ok(oci_platform_known("linux/amd64") && oci_platform_known("linux/arm64") &&
		       oci_platform_known("linux/arm/v7"),
	       "amd64, arm64, arm/v7 are known");
	tap_ok(!oci_platform_known("linux/arm64/v8") && !oci_platform_known("windows/amd64") &&
		       !oci_platform_known("linux/mips"),
	       "unnormalised, other OS, unsupported arch: unknown");
}

static void test_list(void)
{
	struct oci_strings l = { 0 };
	_cleanup_error_ struct plate_error *err = NULL;

	tap_ok(oci_platforms_parse("linux/amd64, linux/aarch64,linux/arm64/v8,linux/arm", &l,
				   &err) == 0 &&
		       l.n == 3 && strcmp(l.v[0], "linux/amd64") == 0 &&
		       strcmp(l.v[1], "linux/arm64") == 0 && strcmp(l.v[2], "linux/arm/v7") == 0,
	       "a comma list: normalised, in order, a platform named twice once");
	oci_strings_release(&l);

	tap_ok(oci_platforms_parse("linux/amd64,linux/mips", &l, &err) < 0 && l.n == 0 &&
		       err != NULL && strstr(err->message, "unknown platform 'linux/mips'") &&
		       strstr(err->message, "known platforms are linux/amd64, ") &&
		       strstr(err->message, "linux/arm64"),
	       "an unknown platform is refused with the known ones: %s",
	       err ? err->message : "(none)");
	plate_error_free(err);
	err = NULL;
	tap_ok(oci_platforms_parse("linux/amd64,", &l, &err) == 0 && l.n == 1,
	       "a trailing comma is ignored");
	oci_strings_release(&l);
	tap_ok(oci_platforms_parse(",", &l, &err) < 0 && err != NULL, "an empty list is refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(oci_platforms_parse("linux//arm64", &l, &err) < 0 && err != NULL &&
		       strstr(err->message, "invalid platform"),
	       "a malformed item is refused");
}

int main(void)
{
	test_short_forms();
	test_known();
	test_list();
	return tap_done();
}
