/* Unit tests for oci/reference.c: docker's normalisation rules, one table row per case. */
#include <string.h>

#include "base/cleanup.h"
#include "oci/oci.h"
#include "tap.h"

#define D64 "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

/* want == NULL means the reference must be refused; then err_has names a word of the error. */
static const struct {
	const char *in;
	const char *want;
	const char *err_has;
} cases[] = {
	/* docker.io default domain and the library/ prefix */
	{ "golang", "docker.io/library/golang:latest", NULL },
	{ "golang:1.22-alpine", "docker.io/library/golang:1.22-alpine", NULL },
	{ "library/golang", "docker.io/library/golang:latest", NULL },
	{ "docker.io/golang", "docker.io/library/golang:latest", NULL },
	{ "docker.io/library/golang:1.22", "docker.io/library/golang:1.22", NULL },
	{ "index.docker.io/golang", "docker.io/library/golang:latest", NULL },
	{ "index.docker.io/user/app:v1", "docker.io/user/app:v1", NULL },
	{ "tonistiigi/xx:1.6.1", "docker.io/tonistiigi/xx:1.6.1", NULL },
	{ "a/b/c/d", "docker.io/a/b/c/d:latest", NULL },
	/* other registries, ports, localhost, IPv4 and IPv6 hosts */
	{ "gcr.io/distroless/static:nonroot", "gcr.io/distroless/static:nonroot", NULL },
	{ "ghcr.io/o/r", "ghcr.io/o/r:latest", NULL },
	{ "quay.io/minio/mc:RELEASE.2024-01-01T00-00-00Z",
	  "quay.io/minio/mc:RELEASE.2024-01-01T00-00-00Z", NULL },
	{ "localhost/x", "localhost/x:latest", NULL },
	{ "localhost:5000/x", "localhost:5000/x:latest", NULL },
	{ "127.0.0.1:5000/team/app:1", "127.0.0.1:5000/team/app:1", NULL },
	{ "[::1]:5000/app", "[::1]:5000/app:latest", NULL },
	{ "Registry.Example.COM/app", "Registry.Example.COM/app:latest", NULL },
	{ "localhost:5000", "docker.io/library/localhost:5000", NULL },
	{ "my-registry.local:443/a-b/c__d/e.f/g---h:tag_1.2-x",
	  "my-registry.local:443/a-b/c__d/e.f/g---h:tag_1.2-x", NULL },
	/* digests */
	{ "gcr.io/distroless/static@" D64, "gcr.io/distroless/static@" D64, NULL },
	{ "alpine:3.20@" D64, "docker.io/library/alpine:3.20@" D64, NULL },
	{ "alpine@" D64, "docker.io/library/alpine@" D64, NULL },
	/* tags */
	{ "alpine:_x", "docker.io/library/alpine:_x", NULL },
	{ "alpine:A.b-C", "docker.io/library/alpine:A.b-C", NULL },
	/* errors */
	{ "", NULL, "component" },
	{ "Golang", NULL, "lowercase" },
	{ "docker.io/Library/golang", NULL, "lowercase" },
	{ "golang:", NULL, "tag" },
	{ "golang:.x", NULL, "tag" },
	{ "golang:-x", NULL, "tag" },
	{ "golang:a b", NULL, "tag" },
	{ "golang:"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  NULL, "tag" },
	{ "alpine@sha256:abc", NULL, "digest" },
	{ "alpine@md5:d41d8cd98f00b204e9800998ecf8427e", NULL, "digest" },
	{ "alpine@", NULL, "digest" },
	{ "a//b", NULL, "repository" },
	{ "a/", NULL, "repository" },
	{ "/a", NULL, "repository" },
	{ "a..b", NULL, "repository" },
	{ "a_-b", NULL, "repository" },
	{ "a___b", NULL, "repository" },
	{ "-a", NULL, "repository" },
	{ "a-", NULL, "repository" },
	{ ":tag", NULL, "repository" },
	{ "example.com:/x", NULL, "registry" },
	{ "example-.com/x", NULL, "registry" },
	{ "exa_mple.com/x", NULL, "registry" },
	{ "[::1/x", NULL, "registry" },
	{ "a b", NULL, "repository" },
	{ "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", NULL, "hexadecimal" },
	{ "x/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  NULL, "255" },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oci_reference ref = { 0 };
		_cleanup_error_ struct plate_error *err = NULL;
		int rc = oci_reference_parse(cases[i].in, strlen(cases[i].in), &ref, &err);

		if (cases[i].want != NULL) {
			_cleanup_free_ char *got = rc == 0 ? oci_reference_format(&ref) : NULL;
			if (rc < 0)
				tap_diag("error: %s", err->message);
			tap_streq(got, cases[i].want, "'%s' normalises", cases[i].in);
		} else {
			bool named = rc < 0 && strstr(err->message, cases[i].err_has) != NULL;
			if (rc == 0)
				tap_diag("accepted as '%s/%s'", ref.domain, ref.path);
			else if (!named)
				tap_diag("error: %s", err->message);
			tap_ok(rc < 0 && named, "'%.40s' is refused (%s)", cases[i].in,
			       cases[i].err_has);
		}
		oci_reference_release(&ref);
	}

	/* Field split, and the 255-byte limit counts the normalised name. */
	{
		struct oci_reference ref = { 0 };
		_cleanup_error_ struct plate_error *err = NULL;
		const char *s = "localhost:5000/a/b:t@" D64;

		tap_ok(oci_reference_parse(s, strlen(s), &ref, &err) == 0,
		       "parse with tag and digest");
		tap_streq(ref.domain, "localhost:5000", "domain field");
		tap_streq(ref.path, "a/b", "path field");
		tap_streq(ref.tag, "t", "tag field");
		tap_streq(ref.digest, D64, "digest field");
		oci_reference_release(&ref);
		oci_reference_release(&ref);
		tap_ok(ref.domain == NULL, "release is idempotent");
	}
	{
		/* Not NUL-terminated at len: only len bytes count. */
		struct oci_reference ref = { 0 };
		_cleanup_error_ struct plate_error *err = NULL;
		_cleanup_free_ char *got = NULL;

		tap_ok(oci_reference_parse("alpine:3 trailing", 8, &ref, &err) == 0,
		       "length-bounded input");
		got = oci_reference_format(&ref);
		tap_streq(got, "docker.io/library/alpine:3", "only len bytes are read");
		oci_reference_release(&ref);
	}
	{
		struct oci_reference ref = { 0 };
		_cleanup_error_ struct plate_error *err = NULL;

		tap_ok(oci_reference_parse("alp\0ine", 7, &ref, &err) < 0, "NUL byte refused");
	}
	{
		/* Boundaries: a 128-byte tag and a 255-byte normalised name are accepted. */
		char tag[7 + 128 + 1] = "golang:", name[255 - 10 + 1];
		struct oci_reference ref = { 0 };
		_cleanup_error_ struct plate_error *err = NULL;

		memset(tag + 7, 't', 128);
		tag[7 + 128] = '\0';
		tap_ok(oci_reference_parse(tag, strlen(tag), &ref, &err) == 0,
		       "128-byte tag accepted");
		oci_reference_release(&ref);
		/* "docker.io/" + "x/" + 243 bytes = 255 */
		memcpy(name, "x/", 2);
		memset(name + 2, 'n', sizeof(name) - 3);
		name[sizeof(name) - 1] = '\0';
		tap_ok(oci_reference_parse(name, strlen(name), &ref, &err) == 0,
		       "255-byte normalised name accepted");
		oci_reference_release(&ref);
	}
	return tap_done();
}
