/*
 * Platform strings ("os/arch[/variant]") as the OCI image index and BuildKit use them,
 * normalised like containerd's platforms.Parse + Normalize so that `--platform linux/x86_64`,
 * `--platform amd64` and `--platform linux/amd64` name the same thing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "oci/oci.h"

#define PLATFORM_MAX 256

const char *oci_platform_native(void)
{
#if defined(__x86_64__)
	return "linux/amd64";
#elif defined(__aarch64__)
	return "linux/arm64";
#elif defined(__arm__)
	return "linux/arm/v7";
#elif defined(__i386__)
	return "linux/386";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
	return "linux/ppc64le";
#elif defined(__s390x__)
	return "linux/s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "linux/riscv64";
#else
	return "linux/amd64";
#endif
}

/* The platforms a build may target: those Debian's qemu-user-static emulates and registries
 * publish images for.  Anything else is refused up front rather than failing in a RUN. */
/* clang-format off */
static const char *const known_platforms[] = {
	"linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/arm64", "linux/arm/v6",
	"linux/arm/v7", "linux/386",     "linux/ppc64le",  "linux/s390x", "linux/riscv64",
};
/* clang-format on */

static const char *native_arch(void)
{
	return strchr(oci_platform_native(), '/') + 1;
}

static bool valid_part(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-' || *s == '.'))
			return false;
	return true;
}

char *oci_platform_normalize(const char *platform, struct plate_error **err)
{
	_cleanup_free_ char *copy = NULL;
	char *parts[4] = { NULL, NULL, NULL, NULL }, *p, *out = NULL;
	const char *os, *arch, *variant;
	size_t n = 0;

	if (strlen(platform) > PLATFORM_MAX) {
		plate_err_new(err, 0, "invalid platform: longer than %d bytes", PLATFORM_MAX);
		return NULL;
	}
	copy = strdup(platform);
	if (copy == NULL) {
		plate_err_new(err, ENOMEM, "cannot normalise platform");
		return NULL;
	}
	for (p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (p = copy; n < 4; n++) {
		parts[n] = p;
		p = strchr(p, '/');
		if (p == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	/* containerd: a lone word is an OS (the host's architecture) or an architecture (linux). */
	if (n == 1 && p == NULL && strcmp(parts[0], "linux") == 0) {
		parts[1] = (char *)native_arch();
		n = 2;
	} else if (n == 1 && p == NULL && valid_part(parts[0])) {
		parts[1] = parts[0];
		parts[0] = "linux";
		n = 2;
	}
	if (n < 2 || n > 3 || p != NULL || !valid_part(parts[0]) || !valid_part(parts[1]) ||
	    (n == 3 && !valid_part(parts[2]))) {
		plate_err_new(err, 0, "invalid platform '%s': expected [os/]arch[/variant]",
			      platform);
		return NULL;
	}
	os = parts[0];
	arch = parts[1];
	variant = n == 3 ? parts[2] : "";

	/* containerd platforms.Normalize: architecture aliases and default variants. */
	if (strcmp(arch, "i386") == 0) {
		arch = "386";
		variant = "";
	} else if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "x86-64") == 0 ||
		   strcmp(arch, "amd64") == 0) {
		arch = "amd64";
		if (strcmp(variant, "v1") == 0)
			variant = "";
	} else if (strcmp(arch, "aarch64") == 0 || strcmp(arch, "arm64") == 0) {
		arch = "arm64";
		if (strcmp(variant, "8") == 0 || strcmp(variant, "v8") == 0 ||
		    strcmp(variant, "v8.0") == 0)
			variant = "";
	} else if (strcmp(arch, "armhf") == 0) {
		arch = "arm";
		variant = "v7";
	} else if (strcmp(arch, "armel") == 0) {
		arch = "arm";
		variant = "v6";
	} else if (strcmp(arch, "arm") == 0) {
		if (variant[0] == '\0' || strcmp(variant, "7") == 0)
			variant = "v7";
		else if (strcmp(variant, "5") == 0)
			variant = "v5";
		else if (strcmp(variant, "6") == 0)
			variant = "v6";
		else if (strcmp(variant, "8") == 0)
			variant = "v8";
	}
	if (asprintf(&out, "%s/%s%s%s", os, arch, variant[0] ? "/" : "", variant) < 0) {
		plate_err_new(err, ENOMEM, "cannot normalise platform");
		return NULL;
	}
	return out;
}

bool oci_platform_known(const char *normalized)
{
	for (size_t i = 0; i < sizeof(known_platforms) / sizeof(known_platforms[0]); i++)
		if (strcmp(known_platforms[i], normalized) == 0)
			return true;
	return false;
}

static int unknown(const char *given, struct plate_error **err)
{
	_cleanup_buf_ struct buf list = BUF_INIT(BUF_UNLIMITED);

	for (size_t i = 0; i < sizeof(known_platforms) / sizeof(known_platforms[0]); i++)
		if (buf_addf(&list, "%s%s", i > 0 ? ", " : "", known_platforms[i]) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
	return plate_err_new(err, 0, "unknown platform '%s': known platforms are %s", given,
			     list.data);
}

int oci_platforms_parse(const char *list, struct oci_strings *out, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL, *item;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		_cleanup_free_ char *norm = NULL;
		bool dup = false;

		while (*item == ' ')
			item++;
		if ((norm = oci_platform_normalize(item, err)) == NULL)
			goto fail;
		if (!oci_platform_known(norm)) {
			unknown(item, err);
			goto fail;
		}
		/* buildx builds a platform named twice once. */
		for (size_t i = 0; i < out->n && !dup; i++)
			dup = strcmp(out->v[i], norm) == 0;
		if (!dup && oci_strings_add(out, norm, err) < 0)
			goto fail;
	}
	if (out->n == 0) {
		plate_err_new(err, 0, "invalid platform list '%s': no platform", list);
		goto fail;
	}
	return 0;
fail:
	oci_strings_release(out);
	return -1;
}
