/*
 * registry/registry.h — an OCI distribution-spec client (pull, push, tags) over libcurl.
 *
 * Purpose
 *   Talks to container registries as the OCI distribution spec describes (spec.md in the
 *   conformance corpus): manifests by tag or digest, blobs streamed with SHA-256 checks and
 *   Range resume, pushes by monolithic PUT, chunked PATCH or cross-repository mount, tag
 *   listing with Link pagination.  Authentication: anonymous, Basic, and the Bearer token
 *   flow (401 -> WWW-Authenticate -> token endpoint -> retry), with tokens cached per scope.
 *   Credentials come from a caller callback and/or a parsed ~/.docker/config.json; running
 *   `docker-credential-<helper> get` is off unless the caller enables it.
 *   This is the only module that touches CURL handles (HOUSE_STYLE rule 7).
 *
 * Process setup
 *   None: libcurl is loaded and initialised (curl_global_init) on the first request, once
 *   per process, from whichever thread gets there first.
 *
 * Endpoints
 *   docker.io (and index.docker.io) is served by https://registry-1.docker.io.  localhost,
 *   127.0.0.0/8, ::1 and the hosts in options.insecure use plain http, unless the host is in
 *   options.secure or has a <certs_dir>/<host[:port]>/ directory (a local registry serving
 *   TLS); everything else uses https with the system CA bundle, plus options.ca_file and <certs_dir>/<host[:port]>/ca.crt
 *   (docker's /etc/docker/certs.d convention) when present.  Mirrors ("docker.io=http://
 *   127.0.0.1:5000,…") serve reads (manifests, blobs, tags) only, in the order given; the
 *   registry itself is tried after them only with options.mirror_fallback.  Writes always go
 *   to the registry named by the reference.  Credentials for a mirror are looked up under the
 *   mirror's host, never the upstream's (spec "Registry Proxying").
 *
 * Ownership
 *   Options strings are borrowed and must outlive the client; the client copies nothing it
 *   does not need.  Structs filled by functions here (struct registry_manifest,
 *   struct registry_docker_config, struct registry_credentials, tag vectors) are owned by the
 *   caller and released with the matching *_release() or *_free().
 *
 * Errors
 *   Every failure is a plate_error whose message names the reference and the registry and
 *   carries the HTTP status and the registry's JSON error code and message, e.g.
 *   "pull access denied for 'docker.io/library/x' at 'https://registry-1.docker.io': 401
 *   unauthorized: UNAUTHORIZED: authentication required".  errno_value tells callers what
 *   kind of failure it was:
 *     EACCES     401/403, or the token endpoint refused the credentials
 *     ENOENT     404 (manifest, blob or repository unknown) — recoverable, e.g. mirror miss
 *     EBADMSG    content does not match its digest (nothing may be published)
 *     E2BIG      content larger than the caller's cap
 *     ETIMEDOUT  connection or transfer stalled past options.stall_timeout_s
 *     EAGAIN     429/5xx still failing after options.max_attempts
 *     EPROTO     the registry broke the protocol (missing Location, bad header, ...)
 *     other      connection errors (ECONNREFUSED, EHOSTUNREACH, ...) and local I/O errors
 *
 * Retries
 *   429, 500, 502, 503, 504 and connection errors are retried with exponential backoff
 *   (options.backoff_ms doubling up to options.max_backoff_ms, Retry-After honoured up to the
 *   same cap) for at most options.max_attempts attempts.  A blob download cut off mid-way
 *   resumes with a Range request from the byte it reached; a registry that ignores Range
 *   makes the download start over (the sink is reset).
 *
 * Time
 *   The library reads no wall clock.  Token lifetimes and backoff use options.now_ms and
 *   options.sleep_ms when set (tests inject a fake clock), else CLOCK_MONOTONIC and
 *   nanosleep; neither value ever reaches an output.
 *
 * Thread safety
 *   A struct registry_client is used by one thread at a time (it owns one CURL easy handle
 *   and the token cache).  Build stages that pull in parallel use one client each.
 */
#ifndef PLATE_REGISTRY_H
#define PLATE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "digest/digest.h"
#include "oci/oci.h"

/* ---- credentials and ~/.docker/config.json ------------------------------------------ */

/* One registry login.  A username of "<token>" with identity_token set is docker's form for
 * an OAuth refresh token; registry_token is a bearer token sent as is. */
struct registry_credentials {
	char *username;
	char *password;
	char *identity_token;
	char *registry_token;
};

void registry_credentials_release(struct registry_credentials *c);

struct registry_docker_auth {
	char *host; /* normalised: scheme and path dropped, Docker Hub aliases -> "docker.io" */
	struct registry_credentials cred;
};

struct registry_docker_helper {
	char *host;   /* normalised as above */
	char *helper; /* "pass" for docker-credential-pass */
};

struct registry_docker_config {
	struct registry_docker_auth *auths;
	size_t n_auths;
	struct registry_docker_helper *helpers; /* credHelpers */
	size_t n_helpers;
	char *creds_store; /* credsStore, or NULL */
};

#define REGISTRY_DOCKER_CONFIG_MAX (1u << 20)

/*
 * Parses the text of a docker config.json (pure).  "auths" entries may hold a base64 "auth"
 * ("user:password") or "username"/"password", plus "identitytoken" and "registrytoken";
 * entries with none of these (as docker writes when a credsStore is used) are kept empty.
 * JSON syntax errors carry line and column; semantic errors name the key.
 */
int registry_docker_config_parse(const char *data, size_t len, struct registry_docker_config *out,
				 struct plate_error **err);
void registry_docker_config_release(struct registry_docker_config *cfg);

/*
 * Where the credentials for host (a reference domain or a mirror's host[:port]) live:
 * credHelpers[host] first, then a non-empty auths[host] entry, then credsStore.
 * Returns 1 with *cred filled from auths, 2 with *helper pointing into cfg (run it with
 * registry_credential_helper_get()), or 0 when nothing is configured.
 */
int registry_docker_config_lookup(const struct registry_docker_config *cfg, const char *host,
				  struct registry_credentials *cred, const char **helper,
				  struct plate_error **err);

/*
 * Edits the text of a docker config.json (pure; len 0 starts from "{}"): removes every
 * "auths" entry of host (a normalised host: all its spellings go) and, when username is
 * not NULL, adds host's entry with "auth" = base64(username:password) under the key docker
 * uses.  Other keys are kept.  Returns 1 with *out (malloc'd, indented JSON) when something
 * changed, 0 when there was nothing to remove, -1 with *err on invalid JSON.
 */
int registry_docker_config_edit(const char *data, size_t len, const char *host,
				const char *username, const char *password, char **out,
				size_t *out_len, struct plate_error **err);

/* "docker.io" -> "https://index.docker.io/v1/" (the key docker's tools use), else host. */
const char *registry_credential_server_url(const char *host);

/*
 * Runs `docker-credential-<helper> get` (from dir when given, else $PATH), writes the server
 * URL on its stdin and parses {"Username","Secret"} from its standard output (at most 64 KiB, 30 s).
 * Returns 1 with *cred filled, 0 when the helper says it has no credentials, -1 on error.
 * This spawns a process: the client does it only with options.credential_helpers.
 */
int registry_credential_helper_get(const char *helper, const char *dir, const char *server_url,
				   struct registry_credentials *cred, struct plate_error **err);

/* `docker-credential-<helper> store`: the JSON {"ServerURL","Username","Secret"} on its
 * stdin (plate login).  0, or -1 when it fails. */
int registry_credential_helper_store(const char *helper, const char *dir, const char *server_url,
				     const char *username, const char *secret,
				     struct plate_error **err);
/* `docker-credential-<helper> erase`: the server URL on its stdin (plate logout).  1 erased,
 * 0 when the helper had no credentials, -1 on error. */
int registry_credential_helper_erase(const char *helper, const char *dir, const char *server_url,
				     struct plate_error **err);

/* The pure part: parses a helper's JSON answer. */
int registry_credential_helper_parse(const char *data, size_t len,
				     struct registry_credentials *cred, struct plate_error **err);

/* ---- the client ----------------------------------------------------------------------- */

struct registry_options {
	const char *mirrors;	    /* "docker.io=http://127.0.0.1:5000,…" or NULL */
	bool mirror_fallback;	    /* try the registry itself after its mirrors (reads) */
	const char *insecure;	    /* comma-separated host[:port] list served over plain http */
	const char *secure;	    /* host[:port] list that uses https even when local */
	const char *ca_file;	    /* extra PEM CA bundle trusted for every TLS registry */
	const char *system_ca_file; /* the roots instead of the system bundle (SSL_CERT_FILE) */
	const char *system_ca_dir;  /* hashed CA directory instead of the system's (SSL_CERT_DIR) */
	const char *certs_dir;	    /* NULL: "/etc/docker/certs.d"; "" disables the lookup */
	const char *user_agent;	    /* NULL: "plate" */

	/* Asked for the credentials of host before the docker config is consulted.  Returns 1
	 * with *out filled, 0 for "none from me", -1 with *err. */
	int (*credentials)(void *data, const char *host, struct registry_credentials *out,
			   struct plate_error **err);
	void *credentials_data;
	const struct registry_docker_config *docker_config; /* borrowed, may be NULL */
	bool credential_helpers;	   /* allow running docker-credential-<helper> */
	const char *credential_helper_dir; /* look helpers up here instead of $PATH */

	unsigned max_attempts;	    /* per request, default 4 */
	unsigned backoff_ms;	    /* first backoff, default 500 */
	unsigned max_backoff_ms;    /* cap on backoff and on Retry-After, default 30000 */
	unsigned connect_timeout_s; /* default 30 */
	unsigned stall_timeout_s;   /* no byte moved for this long: timeout, default 60 */
	size_t max_manifest_size;   /* default 4 MiB (spec: registries accept at least 4 MB) */
	uint64_t chunk_size;	    /* push: PATCH chunks of this size when the blob is larger;
				      0 = one monolithic PUT */
	unsigned tags_page_size; /* tag listing: ask for pages of n tags (0: registry's choice) */

	/* Bytes of a blob moving, for progress displays: called by registry_fetch_blob() as
	 * bytes arrive and by registry_push_blob() as the body is read for sending, with the
	 * bytes so far (they go back down when a transfer starts over) and the blob's size (0
	 * when unknown).  Runs on the thread doing the transfer: must be thread-safe when
	 * clients of these options run in parallel.  May be NULL. */
	void (*blob_progress)(void *data, const char *digest, uint64_t done, uint64_t total);
	void *blob_progress_data;

	uint64_t (*now_ms)(void *data); /* monotonic milliseconds */
	void (*sleep_ms)(void *data, unsigned ms);
	void *clock_data;
};

struct registry_client;

int registry_client_new(const struct registry_options *opts, struct registry_client **out,
			struct plate_error **err);
void registry_client_free(struct registry_client *c);

/* Counters for tests and --debug output. */
struct registry_stats {
	unsigned requests;	 /* HTTP requests sent to registries (token requests excluded) */
	unsigned token_requests; /* requests sent to token endpoints */
	unsigned retries;	 /* attempts repeated after 429/5xx/connection errors */
	unsigned resumes;	 /* blob downloads continued with a Range request */
	unsigned restarts;	 /* blob downloads started over (Range ignored) */
};
void registry_client_stats(const struct registry_client *c, struct registry_stats *out);

/* GET /v2/ on the registry of domain, authenticating if challenged: checks that the
 * registry answers and that the configured credentials are accepted (for `plate login`). */
int registry_ping(struct registry_client *c, const char *domain, struct plate_error **err);

/* ---- pull ------------------------------------------------------------------------------ */

/* The media types sent in Accept when fetching manifests. */
#define REGISTRY_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REGISTRY_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define REGISTRY_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REGISTRY_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

struct registry_manifest {
	char *data; /* the exact bytes served, NUL-terminated */
	size_t len;
	char *media_type; /* Content-Type without parameters, or the document's mediaType */
	char digest[DIGEST_STRING_LEN + 1];
};

void registry_manifest_release(struct registry_manifest *m);

/*
 * Fetches the manifest of ref (its digest when it has one, else its tag).  By digest the
 * bytes must hash to that digest; by tag the digest is computed and must equal
 * Docker-Content-Digest when the registry sends it.  A mediaType field in the document
 * must agree with Content-Type.
 */
int registry_get_manifest(struct registry_client *c, const struct oci_reference *ref,
			  struct registry_manifest *out, struct plate_error **err);

/* HEAD of a manifest: returns 1 with digest/media type/size filled (media_type may be NULL),
 * 0 when the registry answers 404, -1 on error. */
int registry_head_manifest(struct registry_client *c, const struct oci_reference *ref,
			   char digest[DIGEST_STRING_LEN + 1], char **media_type, uint64_t *size,
			   struct plate_error **err);

/* HEAD of a blob in ref's repository: 1 present (*size set when not NULL), 0 absent, -1. */
int registry_head_blob(struct registry_client *c, const struct oci_reference *ref,
		       const char *digest, uint64_t *size, struct plate_error **err);

/*
 * Where a streamed blob goes.  write() receives the bytes in order; reset() is called when
 * a download has to start over (the registry ignored Range) and must discard everything
 * written so far; it may be NULL, in which case such a download fails.  Both return 0 or -1
 * with *err.  The bytes are not valid until registry_fetch_blob() returned 0: on failure the
 * caller discards what the sink holds.
 */
struct registry_sink {
	int (*write)(void *data, const void *buf, size_t len, struct plate_error **err);
	int (*reset)(void *data, struct plate_error **err);
	void *data;
};

/* A sink writing to fd at its current offset; reset truncates to where it started. */
struct registry_fd_sink {
	int fd;
	int64_t start; /* filled by registry_fd_sink_init */
};
int registry_fd_sink_init(struct registry_fd_sink *s, int fd, struct registry_sink *sink,
			  struct plate_error **err);

#define REGISTRY_SIZE_UNKNOWN UINT64_MAX

/*
 * Streams the blob `digest` of ref's repository into sink.  The bytes must hash to digest,
 * and their count must equal expected_size unless that is REGISTRY_SIZE_UNKNOWN; more than
 * max_size bytes (0: no cap besides expected_size) fails with E2BIG.
 */
int registry_fetch_blob(struct registry_client *c, const struct oci_reference *ref,
			const char *digest, uint64_t expected_size, uint64_t max_size,
			const struct registry_sink *sink, struct plate_error **err);

/* ---- push ------------------------------------------------------------------------------ */

/* Where pushed bytes come from: read_at() may be called for any range, several times (retries,
 * restarts), and must return exactly len bytes or -1 with *err. */
struct registry_source {
	int (*read_at)(void *data, uint64_t offset, void *buf, size_t len,
		       struct plate_error **err);
	void *data;
	uint64_t size;
};

/* Sources over a file descriptor (pread) or over memory (borrowed). */
struct registry_fd_source {
	int fd;
};
void registry_fd_source_init(struct registry_fd_source *s, int fd, uint64_t size,
			     struct registry_source *src);
struct registry_mem_source {
	const void *data;
};
void registry_mem_source_init(struct registry_mem_source *s, const void *data, size_t len,
			      struct registry_source *src);

enum registry_push_result {
	REGISTRY_BLOB_EXISTED, /* HEAD found it: nothing sent */
	REGISTRY_BLOB_MOUNTED, /* cross-repository mount accepted (201) */
	REGISTRY_BLOB_UPLOADED,
};

/*
 * Pushes one blob to ref's repository: HEAD first; then, when mount_from names another
 * repository of the same registry, POST ?mount=&from= (a 202 answer falls back to
 * uploading in the session it opened); then a monolithic PUT, or PATCH chunks of
 * options.chunk_size (at least the registry's OCI-Chunk-Min-Length) closed by PUT ?digest=.
 * A failed upload session is cancelled and the push starts over, at most max_attempts times.
 */
int registry_push_blob(struct registry_client *c, const struct oci_reference *ref,
		       const char *digest, const struct registry_source *src,
		       const char *mount_from, enum registry_push_result *result,
		       struct plate_error **err);

/*
 * PUTs a manifest under ref's tag (or its digest when it has no tag) with Content-Type
 * media_type, which must equal the document's mediaType field when it has one.  When ref has
 * a digest it must be the digest of data.  Writes the manifest digest to digest_out.
 */
int registry_push_manifest(struct registry_client *c, const struct oci_reference *ref,
			   const char *media_type, const void *data, size_t len,
			   char digest_out[DIGEST_STRING_LEN + 1], struct plate_error **err);

/* ---- plain downloads -------------------------------------------------------------------- */

/* GETs url (http or https; redirects followed; TLS against the system CA store) into fd at
 * its offset, hashing the bytes into digest_out; more than max bytes fails with EFBIG.
 * *mtime gets the Last-Modified time, or -1.  For ADD <url>: no registry auth, mirrors or
 * retries. */
int registry_url_get(const char *url, int fd, uint64_t max, char digest_out[DIGEST_STRING_LEN + 1],
		     long long *mtime, struct plate_error **err);

/* ---- discovery ------------------------------------------------------------------------- */

#define REGISTRY_MAX_TAGS 100000

/* All tags of ref's repository, following Link rel="next" pages.  *tags is a vector of *n
 * malloc'd strings (free with strv_free). */
int registry_list_tags(struct registry_client *c, const struct oci_reference *ref, char ***tags,
		       size_t *n, struct plate_error **err);

#endif
