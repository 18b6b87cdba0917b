/* The media types of the OCI image spec (media-types.md) and their Docker schema2
 * equivalents (the compatibility matrix there, plus the uncompressed and foreign Docker
 * layer types that docker and containers/image also read and write). */
#include <string.h>

#include "oci/oci.h"

/* clang-format off */
static const struct oci_media_type media_types[] = {
	{ OCI_MEDIA_TYPE_INDEX, OCI_KIND_INDEX, OCI_COMPRESSION_NONE, OCI_FORMAT_OCI, false, false },
	{ OCI_MEDIA_TYPE_MANIFEST, OCI_KIND_MANIFEST, OCI_COMPRESSION_NONE, OCI_FORMAT_OCI, false,
	  false },
	{ OCI_MEDIA_TYPE_CONFIG, OCI_KIND_CONFIG, OCI_COMPRESSION_NONE, OCI_FORMAT_OCI, false,
	  false },
	{ OCI_MEDIA_TYPE_LAYER, OCI_KIND_LAYER, OCI_COMPRESSION_NONE, OCI_FORMAT_OCI, false, false },
	{ OCI_MEDIA_TYPE_LAYER_GZIP, OCI_KIND_LAYER, OCI_COMPRESSION_GZIP, OCI_FORMAT_OCI, false,
	  false },
	{ OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_KIND_LAYER, OCI_COMPRESSION_ZSTD, OCI_FORMAT_OCI, false,
	  false },
	{ OCI_MEDIA_TYPE_EMPTY, OCI_KIND_EMPTY, OCI_COMPRESSION_NONE, OCI_FORMAT_OCI, false, false },
	{ OCI_MEDIA_TYPE_DESCRIPTOR, OCI_KIND_DESCRIPTOR, OCI_COMPRESSION_NONE, OCI_FORMAT_OCI,
	  false, false },
	{ OCI_MEDIA_TYPE_LAYOUT_HEADER, OCI_KIND_LAYOUT_HEADER, OCI_COMPRESSION_NONE,
	  OCI_FORMAT_OCI, false, false },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", OCI_KIND_LAYER,
	  OCI_COMPRESSION_NONE, OCI_FORMAT_OCI, true, true },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCI_KIND_LAYER,
	  OCI_COMPRESSION_GZIP, OCI_FORMAT_OCI, true, true },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCI_KIND_LAYER,
	  OCI_COMPRESSION_ZSTD, OCI_FORMAT_OCI, true, true },
	{ DOCKER_MEDIA_TYPE_MANIFEST_LIST, OCI_KIND_INDEX, OCI_COMPRESSION_NONE, OCI_FORMAT_DOCKER,
	  false, false },
	{ DOCKER_MEDIA_TYPE_MANIFEST, OCI_KIND_MANIFEST, OCI_COMPRESSION_NONE, OCI_FORMAT_DOCKER,
	  false, false },
	{ DOCKER_MEDIA_TYPE_CONFIG, OCI_KIND_CONFIG, OCI_COMPRESSION_NONE, OCI_FORMAT_DOCKER, false,
	  false },
	{ DOCKER_MEDIA_TYPE_LAYER, OCI_KIND_LAYER, OCI_COMPRESSION_NONE, OCI_FORMAT_DOCKER, false,
	  false },
	{ DOCKER_MEDIA_TYPE_LAYER_GZIP, OCI_KIND_LAYER, OCI_COMPRESSION_GZIP, OCI_FORMAT_DOCKER,
	  false, false },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", OCI_KIND_LAYER,
	  OCI_COMPRESSION_GZIP, OCI_FORMAT_DOCKER, false, true },
};
/* clang-format on */

#define N_MEDIA_TYPES (sizeof(media_types) / sizeof(media_types[0]))

bool oci_media_type_is_layer(const char *name)
{
	const struct oci_media_type *t = name ? oci_media_type_lookup(name) : NULL;

	return t != NULL && t->kind == OCI_KIND_LAYER;
}

const struct oci_media_type *oci_media_type_lookup(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < N_MEDIA_TYPES; i++)
		if (strcmp(media_types[i].name, name) == 0)
			return &media_types[i];
	return NULL;
}

static const char *find(enum oci_kind kind, enum oci_compression compression,
			enum oci_format format, bool nondistributable)
{
	for (size_t i = 0; i < N_MEDIA_TYPES; i++) {
		const struct oci_media_type *t = &media_types[i];
		if (t->kind == kind && t->compression == compression && t->format == format &&
		    t->nondistributable == nondistributable)
			return t->name;
	}
	return NULL;
}

const char *oci_media_type_find(enum oci_kind kind, enum oci_compression compression,
				enum oci_format format)
{
	return find(kind, compression, format, false);
}

const char *oci_media_type_convert(const char *name, enum oci_format format)
{
	const struct oci_media_type *t = oci_media_type_lookup(name);

	if (t == NULL)
		return name;
	if (t->format == format)
		return t->name;
	return find(t->kind, t->compression, format, t->nondistributable);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* restricted-name-first / restricted-name-chars of RFC 6838 section 4.2, 1..127 long. */
static const char *restricted_name(const char *s)
{
	size_t n = 0;

	if (!is_alnum(*s))
		return NULL;
	while (s[n] != '\0' && (is_alnum(s[n]) || strchr("!#$&^_.+-", s[n]) != NULL))
		n++;
	return n <= 127 ? s + n : NULL;
}

bool oci_media_type_is_valid(const char *s)
{
	const char *p;

	if (s == NULL || (p = restricted_name(s)) == NULL || *p != '/')
		return false;
	p = restricted_name(p + 1);
	return p != NULL && *p == '\0';
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool oci_digest_is_valid(const char *s)
{
	static const struct {
		const char *name;
		size_t hex_len;
	} registered[] = { { "sha256", 64 }, { "sha512", 128 } };
	const char *colon, *p;
	size_t alg_len;

	if (s == NULL)
		return false;
	/* algorithm-component (algorithm-separator algorithm-component)* */
	for (p = s;;) {
		if (!is_lower_alnum(*p))
			return false;
		while (is_lower_alnum(*p))
			p++;
		if (*p == ':')
			break;
		if (strchr("+._-", *p) == NULL || *p == '\0')
			return false;
		p++;
	}
	colon = p;
	alg_len = (size_t)(colon - s);
	if (colon[1] == '\0')
		return false;
	for (p = colon + 1; *p != '\0'; p++)
		if (!is_alnum(*p) && strchr("=_-", *p) == NULL)
			return false;
	for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++) {
		if (strlen(registered[i].name) != alg_len ||
		    memcmp(registered[i].name, s, alg_len) != 0)
			continue;
		if (strlen(colon + 1) != registered[i].hex_len)
			return false;
		for (p = colon + 1; *p != '\0'; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return false;
	}
	return true;
}
