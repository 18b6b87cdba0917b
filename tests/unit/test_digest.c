/* Unit tests for digest/: known SHA-256 vectors, streaming equals one-shot, validation. */
#include <string.h>

#include "base/cleanup.h"
#include "digest/digest.h"
#include "tap.h"

int main(void)
{
	char out[DIGEST_STRING_LEN + 1];
	struct plate_error *err = NULL;
	struct digest d;

	tap_ok(digest_buffer("", 0, out, &err) == 0, "digest of empty input");
	tap_streq(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "sha256 of the empty string");
	/* The OCI empty descriptor blob "{}" (image-spec manifest.md). */
	digest_buffer("{}", 2, out, &err);
	tap_streq(out, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
		  "sha256 of the empty JSON object");

	tap_ok(digest_init(&d, &err) == 0, "init");
	digest_update(&d, "{", 1);
	digest_update(&d, "}", 1);
	tap_ok(d.bytes == 2, "byte count");
	digest_final(&d, out);
	tap_streq(out, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
		  "streaming equals one-shot");
	digest_update(&d, "", 0);
	digest_final(&d, out);
	tap_streq(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "final resets the context");
	digest_release(&d);

	tap_ok(digest_is_valid(
		       "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
	       "valid digest accepted");
	tap_ok(!digest_is_valid(
		       "sha256:44136FA355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
	       "upper-case hex refused");
	tap_ok(!digest_is_valid("sha256:44136f"), "short digest refused");
	tap_ok(!digest_is_valid("md5:d41d8cd98f00b204e9800998ecf8427e"), "other algorithm refused");
	tap_ok(!digest_is_valid(
		       "sha256:../../../../etc/passwd0000000000000000000000000000000000000"),
	       "path characters refused");
	return tap_done();
}
