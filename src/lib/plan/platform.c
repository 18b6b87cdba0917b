/*
 * Platform strings ("os/arch[/variant]") as the OCI image index and BuildKit use them,
 * normalised like containerd's platforms.Normalize so that `--platform linux/x86_64` and
 * `--platform linux/amd64` name the same thing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "plan/plan.h"

#define PLATFORM_MAX 256

const char *plan_native_platform(void)
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

static bool valid_part(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		      *s == '.'))
			return false;
	return true;
}

char *plan_platform_normalize(const char *platform, struct plate_error **err)
{
	_cleanup_free_ char *copy = NULL;
	char *parts[4] = { NULL, NULL, NULL, NULL }, *p, *out = NULL;
	const char *os, *arch, *variant;
	size_t n = 0;

	if (strlen(platform) > PLATFORM_MAX)
		return plate_err_new(err, 0, "invalid platform: too long"), NULL;
	copy = strdup(platform);
	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "cannot normalise platform"), NULL;
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
	if (n < 2 || n > 3 || p != NULL || !valid_part(parts[0]) || !valid_part(parts[1]) ||
	    (n == 3 && !valid_part(parts[2])))
		return plate_err_new(err, 0,
				     "invalid platform '%s': expected os/arch[/variant]", platform),
		       NULL;
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
		else if (strcmp(variant, "5") == 0 || strcmp(variant, "6") == 0 ||
			 strcmp(variant, "8") == 0)
			variant = strcmp(variant, "5") == 0 ? "v5" :
				  strcmp(variant, "6") == 0 ? "v6" : "v8";
	}
	if (asprintf(&out, "%s/%s%s%s", os, arch, variant[0] ? "/" : "", variant) < 0)
		return plate_err_new(err, ENOMEM, "cannot normalise platform"), NULL;
	return out;
}
