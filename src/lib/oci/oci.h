/*
 * oci/oci.h — OCI image model: references, and (below) manifests, indexes, configs.
 *
 * Purpose
 *   Pure models of what the OCI image and distribution specs define.  Parsing functions
 *   take a buffer and return a value or a plate_error; nothing here does I/O.
 *
 * Ownership
 *   Structs filled by *_parse() own their strings; release them with the matching
 *   *_release().  Returned char * are malloc'd and owned by the caller.
 *
 * Thread safety
 *   No shared state.
 */
#ifndef PLATE_OCI_H
#define PLATE_OCI_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* ---- image references ------------------------------------------------------------- */

/*
 * A normalised image reference, as docker resolves it:
 *   "golang:1.22-alpine"        -> docker.io / library/golang / tag 1.22-alpine
 *   "ghcr.io/o/r@sha256:…"      -> ghcr.io / o/r / digest
 *   "localhost:5000/x"          -> localhost:5000 / x / tag latest
 * A first component is a registry host when it contains '.' or ':', is "localhost", or has an
 * upper-case letter (docker's rule); hosts may be names, IPv4 or [IPv6] with a port.
 * "index.docker.io" becomes "docker.io".  Paths are lower-case components [a-z0-9]+ joined by
 * '.', '_', '__' or runs of '-'; tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; the normalised
 * "domain/path" is at most 255 bytes; a bare 64-hex string is refused (it looks like an ID).
 */
struct oci_reference {
	char *domain; /* "docker.io", "127.0.0.1:5000" */
	char *path;   /* "library/golang" */
	char *tag;    /* NULL only when a digest is given and no tag */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parses and normalises s (len bytes, need not be NUL-terminated; at most 4096) with docker.io
 * as the default domain, the library/ prefix for docker.io single-component names, and tag
 * "latest" when neither tag nor digest is given.  Refuses upper case in the repository, empty
 * components, bad tags and digests that digest_parse() refuses.  On success *out is filled
 * (owned by the caller, release with oci_reference_release()); on failure it is untouched. */
int oci_reference_parse(const char *s, size_t len, struct oci_reference *out,
			struct plate_error **err);
void oci_reference_release(struct oci_reference *ref);
/* "docker.io/library/golang:1.22-alpine", "…@sha256:…", or "…:tag@sha256:…"; malloc'd, NULL
 * on ENOMEM.  Parsing the result gives the same reference back. */
char *oci_reference_format(const struct oci_reference *ref);
/* The short form docker shows: "busybox:1" for "docker.io/library/busybox:1", "user/app"
 * for "docker.io/user/app"; other names as given.  A view into name. */
const char *oci_familiar_name(const char *name);

/* ---- image models (manifests, indexes, configs) ------------------------------------- */

/*
 * Media types, descriptors, manifests, indexes and configs, in both the OCI types and the
 * Docker schema2 types (read both; write OCI unless asked for docker).  Parsers take a
 * buffer and a length, refuse documents over their size cap, and check what the OCI JSON
 * schemas check (types, required fields, digest and media-type grammar, sizes >= 0), plus
 * what the Go decoders check (Env entries are KEY=VALUE, base64 data, registered digest
 * algorithms have the right length).  Writers produce canonical JSON (json/json.h).
 */

#include <stdint.h>

/* Registries refuse manifests over 4 MiB; configs with long histories can be larger. */
#define OCI_MAX_MANIFEST_SIZE ((size_t)4 << 20)
#define OCI_MAX_CONFIG_SIZE ((size_t)16 << 20)

#define OCI_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MEDIA_TYPE_EMPTY "application/vnd.oci.empty.v1+json"
#define OCI_MEDIA_TYPE_LAYOUT_HEADER "application/vnd.oci.layout.header.v1+json"
#define OCI_MEDIA_TYPE_DESCRIPTOR "application/vnd.oci.descriptor.v1+json"
#define DOCKER_MEDIA_TYPE_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_TYPE_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_TYPE_CONFIG "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_TYPE_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_TYPE_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* The annotation naming an image in an OCI layout's index.json (annotations.md). */
#define OCI_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
/* The empty descriptor blob (manifest.md "Guidance for an Empty Descriptor"). */
#define OCI_EMPTY_JSON_DIGEST \
	"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

enum oci_kind {
	OCI_KIND_UNKNOWN = 0,
	OCI_KIND_INDEX,
	OCI_KIND_MANIFEST,
	OCI_KIND_CONFIG,
	OCI_KIND_LAYER,
	OCI_KIND_EMPTY,
	OCI_KIND_DESCRIPTOR,
	OCI_KIND_LAYOUT_HEADER,
};

enum oci_compression {
	OCI_COMPRESSION_NONE = 0,
	OCI_COMPRESSION_GZIP,
	OCI_COMPRESSION_ZSTD,
};

enum oci_format {
	OCI_FORMAT_OCI = 0,
	OCI_FORMAT_DOCKER,
};

struct oci_media_type {
	const char *name;
	enum oci_kind kind;
	enum oci_compression compression;
	enum oci_format format;
	bool deprecated;       /* SHOULD NOT be produced */
	bool nondistributable; /* "foreign" layers */
};

/* The table entry for a known media type, or NULL. */
const struct oci_media_type *oci_media_type_lookup(const char *name);
/* The name of the known type with these properties in format, or NULL when that format has
 * none (docker has no zstd layers and no empty type). */
const char *oci_media_type_find(enum oci_kind kind, enum oci_compression compression,
				enum oci_format format);
/* The equivalent of a known type in format (NULL when there is none); an unknown type is
 * returned unchanged. */
const char *oci_media_type_convert(const char *name, enum oci_format format);
/* Whether name is a known tar layer type (one that unpacks to a snapshot); artifact
 * layers such as an SBOM blob are not. */
bool oci_media_type_is_layer(const char *name);
/* RFC 6838 type/subtype as the OCI schema's pattern has it (each side 1..127 characters). */
bool oci_media_type_is_valid(const char *s);
/* "<algorithm>:<encoded>" per descriptor.md; the registered algorithms sha256 and sha512
 * must be lower-case hex of the right length, others only follow the grammar. */
bool oci_digest_is_valid(const char *s);

/* A list of strings, and a string map kept sorted by key (keys unique). */
struct oci_strings {
	char **v;
	size_t n;
};
struct oci_map {
	char **keys;
	char **values;
	size_t n;
};

int oci_strings_add(struct oci_strings *s, const char *value, struct plate_error **err);
int oci_strings_copy(struct oci_strings *dst, const struct oci_strings *src,
		     struct plate_error **err);
void oci_strings_release(struct oci_strings *s);
/* Sets (copying both strings) or replaces a key. */
int oci_map_set(struct oci_map *m, const char *key, const char *value, struct plate_error **err);
const char *oci_map_get(const struct oci_map *m, const char *key);
void oci_map_del(struct oci_map *m, const char *key);
int oci_map_copy(struct oci_map *dst, const struct oci_map *src, struct plate_error **err);
void oci_map_release(struct oci_map *m);

struct oci_platform {
	char *architecture;
	char *os;
	char *os_version;
	char *variant;
	struct oci_strings os_features;
};

struct oci_descriptor {
	char *media_type;
	char *artifact_type;
	char *digest;
	int64_t size;
	struct oci_strings urls;
	struct oci_map annotations;
	char *data;		       /* base64 text, or NULL */
	struct oci_platform *platform; /* index entries only, or NULL */
};

struct oci_manifest {
	int schema_version;
	char *media_type; /* as read; NULL when the document has none */
	char *artifact_type;
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t n_layers;
	struct oci_descriptor *subject;
	struct oci_map annotations;
};

struct oci_index {
	int schema_version;
	char *media_type;
	char *artifact_type;
	struct oci_descriptor *manifests;
	size_t n_manifests;
	struct oci_descriptor *subject;
	struct oci_map annotations;
};

struct oci_history {
	char *created;
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
};

/* Docker's HEALTHCHECK (durations in nanoseconds, 0 = inherit). */
struct oci_healthcheck {
	struct oci_strings test;
	int64_t interval;
	int64_t timeout;
	int64_t start_period;
	int64_t start_interval;
	int64_t retries;
};

/* The image config (config.md), with the Docker extensions a build carries over
 * (Healthcheck, Shell, OnBuild).  Other unknown fields are not kept. */
struct oci_config {
	char *created;
	char *author;
	char *architecture;
	char *variant;
	char *os;
	char *os_version;
	struct oci_strings os_features;
	char *user;
	struct oci_strings exposed_ports; /* "80/tcp", kept as a sorted set */
	struct oci_strings env;
	struct oci_strings entrypoint;
	struct oci_strings cmd;
	struct oci_strings volumes; /* kept as a sorted set */
	char *working_dir;
	struct oci_map labels;
	char *stop_signal;
	bool args_escaped;
	struct oci_healthcheck *healthcheck;
	struct oci_strings shell;
	struct oci_strings on_build;
	struct oci_strings diff_ids;
	struct oci_history *history;
	size_t n_history;
};

enum oci_parse_flags {
	/* Also apply the JSON schema rules that real images break (a manifest has at least
	 * one layer): used to judge conformance, not to read images. */
	OCI_PARSE_STRICT = 1 << 0,
};

int oci_descriptor_parse(const char *buf, size_t len, unsigned flags, struct oci_descriptor *out,
			 struct plate_error **err);
int oci_manifest_parse(const char *buf, size_t len, unsigned flags, struct oci_manifest *out,
		       struct plate_error **err);
int oci_index_parse(const char *buf, size_t len, unsigned flags, struct oci_index *out,
		    struct plate_error **err);
int oci_config_parse(const char *buf, size_t len, unsigned flags, struct oci_config *out,
		     struct plate_error **err);
/* The oci-layout file: {"imageLayoutVersion": "1.0.0"}. */
int oci_layout_header_parse(const char *buf, size_t len, struct plate_error **err);
/* What a manifest-or-index document is, by its mediaType field or, when it has none, by
 * its shape ("manifests" → index, "config"+"layers" → manifest).  UNKNOWN when neither. */
enum oci_kind oci_document_kind(const char *buf, size_t len);

/* Canonical JSON; format picks the media types written for the document, its config and
 * its layers.  Fails when a layer type has no equivalent in format. */
int oci_manifest_write(const struct oci_manifest *m, enum oci_format format, char **out,
		       size_t *len, struct plate_error **err);
/* format picks the index's own media type; its entries keep theirs (the documents they
 * point at are not rewritten). */
int oci_index_write(const struct oci_index *idx, enum oci_format format, char **out, size_t *len,
		    struct plate_error **err);
int oci_config_write(const struct oci_config *c, char **out, size_t *len, struct plate_error **err);
/* {"imageLayoutVersion":"1.0.0"} */
const char *oci_layout_header(void);

int oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src,
			struct plate_error **err);
int oci_config_copy(struct oci_config *dst, const struct oci_config *src, struct plate_error **err);
void oci_platform_free(struct oci_platform *p);
void oci_descriptor_release(struct oci_descriptor *d);
void oci_manifest_release(struct oci_manifest *m);
void oci_index_release(struct oci_index *idx);
void oci_config_release(struct oci_config *c);
void oci_history_release(struct oci_history *h);

/* ---- platform strings (platform.c) -------------------------------------------------- */

/* "linux/amd64", "linux/arm64" …: the platform this library was compiled for. */
const char *oci_platform_native(void);

/* Normalises "[os/]arch[/variant]" the way containerd does (x86_64 -> amd64, aarch64 ->
 * arm64, arm64/v8 -> arm64, armhf -> arm/v7, arm -> arm/v7, i386 -> 386; lower case; a lone
 * architecture is linux's, a lone "linux" the host's architecture).  Returns a malloc'd
 * string, or NULL with *err. */
char *oci_platform_normalize(const char *platform, struct plate_error **err);
/* Whether a normalised platform is one plate can build for. */
bool oci_platform_known(const char *normalized);
/* A comma list of platforms ("linux/amd64,linux/arm64"), each normalised and known, in the
 * order given, duplicates once, into the empty list *out; an unknown one is refused with
 * the list of known ones. */
int oci_platforms_parse(const char *list, struct oci_strings *out, struct plate_error **err);

#endif
