/*
 * registry/registry_internal.h — the registry module's cross-file internals: the pure header
 * and JSON parsers (unit-tested and fuzzed directly), endpoint resolution, the HTTP layer and
 * the client structure shared by client.c, pull.c and push.c.
 *
 * Every parser here takes (buffer, length), allocates only its result, performs no I/O and
 * reports errors with a 1-based column into the header value (line 1) or the JSON position.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "registry_internal.h is internal to src/lib/registry"
#endif
#ifndef PLATE_REGISTRY_INTERNAL_H
#define PLATE_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "registry/registry.h"

/* libcurl's entry points, resolved by reg_curl_load() (libcurl.c says why it is not linked).
 * Every path into libcurl (reg_http_new(), reg_tls_init(), registry_url_get()) calls
 * reg_curl_load() first; it is cheap after the first call and safe from any thread. */
struct reg_curl_api {
	bool ready;
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_reset)(CURL *curl);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
	void (*slist_free_all)(struct curl_slist *list);
	curl_version_info_data *(*version_info)(CURLversion age);
};
extern struct reg_curl_api reg_curl;
int reg_curl_load(struct plate_error **err);

/* curl_easy_setopt() with its result checked.  A block of settings runs through one
 * struct reg_setopts: the first option libcurl refuses is remembered and the later ones are
 * skipped, and reg_setopts_done() at the end of the block turns the refusal into an error
 * naming the option (a transfer with half its settings must not start). */
struct reg_setopts {
	CURL *curl;
	CURLcode rc;
	const char *failed;
};
#define REG_SETOPT(o, option, value)                                                            \
	do {                                                                                    \
		if ((o)->rc == CURLE_OK &&                                                      \
		    ((o)->rc = reg_curl.easy_setopt((o)->curl, (option), (value))) != CURLE_OK) \
			(o)->failed = #option;                                                  \
	} while (0)
int reg_setopts_done(const struct reg_setopts *o, struct plate_error **err);

/* Caps on what a registry may send us. */
#define REG_HEADER_VALUE_MAX 8192u	 /* one (combined) header value */
#define REG_HEADER_BLOCK_MAX (64u << 10) /* all headers of one response */
#define REG_ERROR_BODY_MAX (64u << 10)	 /* body of an error response */
#define REG_TOKEN_BODY_MAX (1u << 20)	 /* token endpoint answer */
#define REG_TAGS_BODY_MAX (8u << 20)	 /* one page of tags/list */
#define REG_MAX_CHALLENGES 16u
#define REG_MAX_PARAMS 32u
#define REG_URL_MAX 8192u

/* ---- WWW-Authenticate (RFC 9110 section 11.6.1) ---------------------------------------- */

struct reg_challenge {
	char *scheme; /* lower case: "bearer", "basic", ... */
	char *realm;  /* NULL when absent */
	char *service;
	char *scope;
	char *error; /* "invalid_token", "insufficient_scope" */
};

struct reg_challenges {
	struct reg_challenge *v;
	size_t n;
};

/* Parses one header value holding one or more challenges (several WWW-Authenticate headers
 * are joined with ", " before parsing, as RFC 9110 section 5.3 allows). */
int reg_parse_www_authenticate(const char *s, size_t len, struct reg_challenges *out,
			       struct plate_error **err);
void reg_challenges_release(struct reg_challenges *c);
const struct reg_challenge *reg_challenges_find(const struct reg_challenges *c, const char *scheme);

/* ---- other response headers ------------------------------------------------------------- */

/* Link (RFC 8288): the target of the first link whose rel contains "next".  Returns 1 with
 * *next (malloc'd, as written), 0 when there is none, -1 on a malformed header. */
int reg_parse_link_next(const char *s, size_t len, char **next, struct plate_error **err);

/* Docker-Content-Digest: one sha256 digest, optional surrounding whitespace. */
int reg_parse_digest_header(const char *s, size_t len, char out[DIGEST_STRING_LEN + 1],
			    struct plate_error **err);

/* Content-Range of a 206/416 answer: "bytes a-b/total", "bytes a-b/(star)", "bytes (star)/total". */
struct reg_content_range {
	bool unsatisfied;    /* the "bytes * /total" form */
	uint64_t start, end; /* inclusive */
	uint64_t total;	     /* UINT64_MAX when "*" */
};
int reg_parse_content_range(const char *s, size_t len, struct reg_content_range *out,
			    struct plate_error **err);

/* Range of an upload status ("0-<last byte>", spec end-13; "bytes=" prefix tolerated). */
int reg_parse_upload_range(const char *s, size_t len, uint64_t *last, struct plate_error **err);

/* Decimal Content-Length / OCI-Chunk-Min-Length style values. */
int reg_parse_uint(const char *s, size_t len, uint64_t *out, struct plate_error **err);

/* Retry-After: delta-seconds, or an HTTP-date measured against the response's Date header
 * (no clock is read; a date without a usable Date header gives 1 second). */
int reg_parse_retry_after(const char *s, size_t len, const char *date, size_t date_len,
			  uint64_t *seconds, struct plate_error **err);
/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") to seconds since the epoch. */
int reg_parse_http_date(const char *s, size_t len, int64_t *epoch, struct plate_error **err);

/* Resolves a Location value against the URL of the request that returned it (RFC 3986
 * section 5.2 for the absolute, network-path and absolute-path forms; a relative path
 * replaces the last segment).  Refuses control characters, spaces and non-http(s) schemes. */
int reg_resolve_location(const char *base, const char *loc, size_t len, char **out,
			 struct plate_error **err);

/* Appends "key=value" to url with '?' or '&'; value must already be URL-safe. */
int reg_url_add_query(char **url, const char *key, const char *value, struct plate_error **err);

/* Splits "scheme://host[:port]/…" into its scheme and authority (malloc'd). */
int reg_url_origin(const char *url, char **scheme, char **hostport, struct plate_error **err);

/* ---- JSON documents --------------------------------------------------------------------- */

struct reg_token {
	char *token;	     /* "token", else "access_token" */
	uint64_t expires_in; /* seconds; 60 when absent (docker token spec) */
	int64_t issued_at;   /* seconds since the epoch, -1 when absent */
	char *refresh_token; /* NULL when absent */
};
int reg_parse_token_response(const char *s, size_t len, struct reg_token *out,
			     struct plate_error **err);
void reg_token_release(struct reg_token *t);

/* {"errors":[{"code","message","detail"}]} (spec "Error Codes") -> "CODE: message[; …]".
 * Returns 1 with *summary, 0 when the body is not such a document. */
int reg_parse_error_body(const char *s, size_t len, char **summary);

/* {"name": …, "tags": [...]}: appends the tags to *tags and *n, refusing more than max in all. */
int reg_parse_tags(const char *s, size_t len, char ***tags, size_t *n, size_t max,
		   struct plate_error **err);

/* The top-level "mediaType" of a manifest: 1 with *media_type, 0 when absent, -1 when the
 * document is not a JSON object or the field is not a string. */
int reg_manifest_media_type(const char *s, size_t len, char **media_type, struct plate_error **err);

/* RFC 4648 base64 (padding optional on decode).  Decoded data is NUL-terminated.  Decoding
 * fails with errno EINVAL for text that is not base64, ENOMEM when out of memory. */
int reg_base64_decode(const char *s, size_t len, char **out, size_t *out_len);
char *reg_base64_encode(const void *data, size_t len);

/* ---- endpoints --------------------------------------------------------------------------- */

struct reg_mirror {
	char *domain; /* "docker.io" */
	char *url;    /* "http://127.0.0.1:5000", no trailing slash */
};

struct reg_mirrors {
	struct reg_mirror *v;
	size_t n;
};

/* "domain=url,domain=url" (spaces around items allowed, empty string = none).  A url
 * without a scheme gets http for local/insecure hosts decided later, so the scheme is kept
 * as written; paths other than "/" are refused.  Errors carry the column. */
int reg_parse_mirrors(const char *s, size_t len, struct reg_mirrors *out, struct plate_error **err);
void reg_mirrors_release(struct reg_mirrors *m);

/* localhost, 127.0.0.0/8 and ::1, with or without a port. */
bool reg_host_is_local(const char *hostport);
/* hostport appears in the comma-separated list (entries match host:port or the bare host). */
bool reg_host_in_list(const char *list, const char *hostport);
/* The docker config key form of s: no scheme, no path, Docker Hub aliases -> "docker.io". */
char *reg_normalize_host(const char *s, size_t len);
/* The host that serves a reference domain: docker.io -> registry-1.docker.io. */
const char *reg_domain_host(const char *domain);

/* ---- HTTP layer (http.c) ------------------------------------------------------------------ */

struct reg_tls {
	char *hostport;
	struct buf ca_blob; /* system bundle + extra CAs; empty: curl's defaults */
	const char *ca_dir; /* CURLOPT_CAPATH instead of curl's default, or NULL (borrowed) */
};

struct http_request {
	const char *method;
	const char *url;
	const char *const *headers;	    /* NULL-terminated extra "Name: value" lines */
	const char *authorization;	    /* value of the Authorization header, or NULL */
	const struct registry_source *body; /* NULL: no request body */
	uint64_t body_offset, body_len;	    /* the slice of body sent */
	const struct registry_sink *sink;   /* 2xx bodies go here when set ... */
	size_t body_max;		    /* ... else into response.body, capped */
	bool follow_redirects;
	const struct reg_tls *tls;
};

struct http_response {
	long status;
	struct buf headers; /* "name: value\n" lines of the final response, names lower case */
	struct buf body;    /* error bodies, and success bodies when there is no sink */
	uint64_t delivered; /* bytes given to the sink */
	bool too_large;	    /* body went over body_max */
	int curl_code;	    /* CURLcode, 0 for a complete exchange */
	int errno_value;    /* errno that best describes curl_code */
	char curl_error[256];
	struct plate_error *sink_error; /* the sink's own failure, if any */
	char *effective_url;
};

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);
/* Header value (combined with ", " when repeated), or NULL; *len set.  Name is lower case. */
const char *http_header(const struct http_response *r, const char *name, size_t *len);
/* A malloc'd copy of the header value, or NULL. */
char *http_header_dup(const struct http_response *r, const char *name);

struct reg_http;
int reg_http_new(const char *user_agent, unsigned connect_timeout_s, unsigned stall_timeout_s,
		 struct reg_http **out, struct plate_error **err);
void reg_http_free(struct reg_http *h);
/* Performs one exchange.  Transport failures are reported in resp (curl_code) and return 0;
 * -1 only for local failures (allocation, the sink). */
int reg_http_perform(struct reg_http *h, const struct http_request *req, struct http_response *resp,
		     struct plate_error **err);

/* Builds the CA blob for hostport: the system bundle (o->system_ca_file, else curl's) plus
 * o->ca_file and o->certs_dir/hostport/ca.crt when either exists or a system_ca_file is given
 * (left empty otherwise: curl's defaults); ca_dir is o->system_ca_dir. */
int reg_tls_init(struct reg_tls *t, const char *hostport, const struct registry_options *o,
		 struct plate_error **err);
void reg_tls_release(struct reg_tls *t);

/* ---- the client (client.c) ----------------------------------------------------------------- */

enum reg_auth_kind {
	REG_AUTH_NONE, /* no challenge seen yet, or anonymous access works */
	REG_AUTH_BASIC,
	REG_AUTH_BEARER,
};

struct reg_token_entry {
	char *key; /* realm \n service \n scopes */
	char *token;
	uint64_t expires_ms;
	uint64_t used; /* for eviction */
};

/* One base URL the client talks to: a registry or a mirror. */
struct reg_endpoint {
	char *base;	 /* "https://registry-1.docker.io" */
	char *hostport;	 /* "registry-1.docker.io", "127.0.0.1:5000" */
	char *cred_host; /* key for credentials: the reference domain, or the mirror's host */
	bool mirror;
	struct reg_tls tls;
	bool cred_looked_up;
	bool has_cred;
	struct registry_credentials cred;
	enum reg_auth_kind auth;
	char *realm, *service; /* from the last Bearer challenge */
};

#define REG_MAX_TOKENS 64u

struct registry_client {
	struct registry_options opts;
	struct reg_mirrors mirrors;
	struct reg_http *http;
	struct reg_endpoint **endpoints;
	size_t n_endpoints;
	struct reg_token_entry tokens[REG_MAX_TOKENS];
	size_t n_tokens;
	uint64_t token_clock;
	struct registry_stats stats;
};

/* What a request is for: used for scopes and error messages. */
struct reg_call {
	const char *action;	/* "pull" / "push": "pull access denied for …" */
	const char *what;	/* "manifest", "blob", "tags", … for 404 messages */
	const char *ref;	/* "docker.io/library/x:tag" as shown to the user */
	const char *repo;	/* repository path for the scope, NULL for /v2/ */
	bool push;		/* scope pull,push */
	const char *mount_from; /* extra scope repository:<from>:pull */
	bool idempotent;	/* safe to repeat after a connection error or 5xx */
};

/* Endpoints to try for domain, in order (mirrors first for reads). */
int reg_endpoints(struct registry_client *c, const char *domain, bool read,
		  struct reg_endpoint **eps, size_t max, size_t *n, struct plate_error **err);

/* Sends req to ep with authentication, retries and backoff.  Returns 0 with resp holding
 * the final answer (any status), or -1 on transport failure after retries (with *err). */
int reg_send(struct registry_client *c, struct reg_endpoint *ep, const struct reg_call *call,
	     struct http_request *req, struct http_response *resp, struct plate_error **err);

/* Turns a non-success answer into the error described in registry.h. */
int reg_status_error(const struct reg_endpoint *ep, const struct reg_call *call,
		     const struct http_response *resp, struct plate_error **err);

/* Turns a transport failure into an error naming the registry. */
int reg_transport_error(const struct reg_endpoint *ep, const struct reg_call *call,
			const struct http_response *resp, struct plate_error **err);

void reg_sleep_backoff(struct registry_client *c, unsigned attempt, uint64_t retry_after_s);
uint64_t reg_now_ms(struct registry_client *c);

/* "docker.io/library/x:tag@sha256:…" (with_version) or "docker.io/library/x". */
char *reg_ref_string(const struct oci_reference *ref, bool with_version);
/* Refuses a reference without domain or path (or without tag and digest when need_version). */
int reg_check_ref(const struct oci_reference *ref, bool need_version, struct plate_error **err);
/* HEAD of a blob with push scope (push.c checks existence before uploading). */
int reg_head_blob_push(struct registry_client *c, struct reg_endpoint *ep,
		       const struct oci_reference *ref, const char *ref_str, const char *digest,
		       uint64_t *size, struct plate_error **err);

/* "https://host/v2/<repo>/<kind>/<ref>" */
char *reg_url(const struct reg_endpoint *ep, const char *repo, const char *kind, const char *ref);

#endif
