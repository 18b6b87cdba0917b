/*
 * Reads: manifests (spec "Pulling manifests", end-3), blobs (end-2) with digest verification
 * and Range resume, HEAD checks, and tag listing (end-8a/8b with Link pagination).
 * Reads go to the mirrors of the domain first (registry.h, Endpoints).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

#define MAX_ENDPOINTS 17
#define MAX_TAG_PAGES 1000

/* clang-format off */
static const char *const manifest_headers[] = {
	"Accept: " REGISTRY_MT_OCI_MANIFEST ", " REGISTRY_MT_OCI_INDEX ", " REGISTRY_MT_DOCKER_MANIFEST
	", " REGISTRY_MT_DOCKER_LIST,
	NULL
};
/* clang-format on */

void registry_manifest_release(struct registry_manifest *m)
{
	free(m->data);
	free(m->media_type);
	memset(m, 0, sizeof(*m));
}

char *reg_ref_string(const struct oci_reference *ref, bool with_version)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s%s%s%s%s", ref->domain, ref->path,
		     with_version && ref->tag ? ":" : "", with_version && ref->tag ? ref->tag : "",
		     with_version && ref->digest ? "@" : "",
		     with_version && ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}

int reg_check_ref(const struct oci_reference *ref, bool need_version, struct plate_error **err)
{
	if (ref == NULL || ref->domain == NULL || ref->path == NULL || ref->domain[0] == '\0' ||
	    ref->path[0] == '\0')
		return plate_err_new(err, EINVAL, "reference has no registry or repository");
	if (need_version && ref->tag == NULL && ref->digest == NULL)
		return plate_err_new(err, EINVAL, "reference has neither tag nor digest");
	if (ref->digest != NULL && !digest_is_valid(ref->digest))
		return plate_err_new(err, EINVAL, "bad digest '%s'", ref->digest);
	return 0;
}

/* Content-Type without parameters (spec: clients SHOULD ignore them). */
static char *media_type_of(const struct http_response *resp)
{
	size_t len;
	const char *v = http_header(resp, "content-type", &len);
	size_t n;

	if (v == NULL)
		return NULL;
	n = strcspn(v, ";");
	if (n > len)
		n = len;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n ? strndup(v, n) : NULL;
}

/* Checks the Docker-Content-Digest header, when there is a usable one, against want. */
static int check_digest_header(const struct http_response *resp, const char *want,
			       const struct reg_endpoint *ep, const char *what, const char *ref,
			       struct plate_error **err)
{
	char got[DIGEST_STRING_LEN + 1];
	size_t len;
	const char *h = http_header(resp, "docker-content-digest", &len);

	/* Other algorithms (sha512) cannot be compared here; the body check still applies. */
	if (h == NULL || reg_parse_digest_header(h, len, got, NULL) < 0)
		return 0;
	if (strcmp(got, want) != 0)
		return plate_err_new(err, EBADMSG,
				     "%s '%s' from '%s': Docker-Content-Digest '%s' does not match "
				     "'%s'",
				     what, ref, ep->base, got, want);
	return 0;
}

static bool generic_type(const char *mt)
{
	return mt == NULL || strcmp(mt, "application/json") == 0 || strcmp(mt, "text/plain") == 0 ||
	       strcmp(mt, "application/octet-stream") == 0;
}

static int manifest_at(struct registry_client *c, struct reg_endpoint *ep,
		       const struct oci_reference *ref, const char *ref_str,
		       struct registry_manifest *out, struct plate_error **err)
{
	_cleanup_free_ char *url = NULL, *ct = NULL, *doc_mt = NULL;
	struct reg_call call = { .action = "pull",
				 .what = "manifest",
				 .ref = ref_str,
				 .repo = ref->path,
				 .idempotent = true };
	struct http_response resp;
	struct registry_manifest m = { 0 };
	int rc = -1, r;

	url = reg_url(ep, ref->path, "manifests", ref->digest ? ref->digest : ref->tag);
	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	http_response_init(&resp);
	struct http_request req = { .method = "GET",
				    .url = url,
				    .headers = manifest_headers,
				    .body_max = c->opts.max_manifest_size,
				    .follow_redirects = true };
	if (reg_send(c, ep, &call, &req, &resp, err) < 0)
		goto out;
	if (resp.status != 200) {
		reg_status_error(ep, &call, &resp, err);
		goto out;
	}
	if (digest_buffer(resp.body.data, resp.body.len, m.digest, err) < 0)
		goto out;
	if (ref->digest != NULL && strcmp(m.digest, ref->digest) != 0) {
		plate_err_new(err, EBADMSG,
			      "manifest '%s' from '%s' does not match its digest (got '%s')",
			      ref_str, ep->base, m.digest);
		goto out;
	}
	if (check_digest_header(&resp, m.digest, ep, "manifest", ref_str, err) < 0)
		goto out;
	ct = media_type_of(&resp);
	r = reg_manifest_media_type(resp.body.data, resp.body.len, &doc_mt, err);
	if (r < 0) {
		plate_err_wrap(err, "manifest '%s' from '%s'", ref_str, ep->base);
		goto out;
	}
	/* spec: if the manifest has a mediaType, clients SHOULD reject a different Content-Type */
	if (doc_mt != NULL && !generic_type(ct) && strcmp(doc_mt, ct) != 0) {
		plate_err_new(err, EPROTO,
			      "manifest '%s' from '%s' has mediaType '%s' but was served as '%s'",
			      ref_str, ep->base, doc_mt, ct);
		goto out;
	}
	if (generic_type(ct) && doc_mt == NULL) {
		plate_err_new(err, EPROTO, "manifest '%s' from '%s' has no media type", ref_str,
			      ep->base);
		goto out;
	}
	m.media_type = generic_type(ct) ? steal_pointer(&doc_mt) : steal_pointer(&ct);
	m.data = buf_detach(&resp.body, &m.len);
	if (m.data == NULL) {
		registry_manifest_release(&m);
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	*out = m;
	rc = 0;
	goto done;
out:
	free(m.media_type);
done:
	http_response_release(&resp);
	return rc;
}

/* Runs call_expr on each endpoint for reads until one succeeds (returns at least found).  A
 * mirror's failure or absence (0 < found) moves on to the next endpoint, unless the content
 * itself was bad: EBADMSG never falls back silently. */
#define FOR_EACH_READ_ENDPOINT(c, ref, err, found, call_expr)                                     \
	do {                                                                                      \
		struct reg_endpoint *eps_[MAX_ENDPOINTS];                                         \
		size_t n_ = 0;                                                                    \
		if (reg_endpoints((c), (ref)->domain, true, eps_, MAX_ENDPOINTS, &n_, (err)) < 0) \
			return -1;                                                                \
		for (size_t i_ = 0; i_ < n_; i_++) {                                              \
			struct reg_endpoint *ep = eps_[i_];                                       \
			struct plate_error *e_ = NULL;                                            \
			int r_ = (call_expr);                                                     \
			if (r_ >= (found) || (r_ >= 0 && i_ + 1 == n_))                           \
				return r_;                                                        \
			if (r_ >= 0)                                                              \
				continue;                                                         \
			if (i_ + 1 == n_ || e_->errno_value == EBADMSG) {                         \
				*(err) = e_;                                                      \
				return -1;                                                        \
			}                                                                         \
			plate_error_free(e_);                                                     \
		}                                                                                 \
		return plate_err_new((err), ENOENT, "no endpoint for '%s'", (ref)->domain);       \
	} while (0)

int registry_get_manifest(struct registry_client *c, const struct oci_reference *ref,
			  struct registry_manifest *out, struct plate_error **err)
{
	_cleanup_free_ char *ref_str = NULL;

	if (reg_check_ref(ref, true, err) < 0)
		return -1;
	ref_str = reg_ref_string(ref, true);
	if (ref_str == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	FOR_EACH_READ_ENDPOINT(c, ref, err, 0, manifest_at(c, ep, ref, ref_str, out, &e_));
}

/* A HEAD request: 1 when the object is there (200), 0 when it is not (404), -1 with the
 * registry's error otherwise; resp keeps the answer's headers. */
static int send_head(struct registry_client *c, struct reg_endpoint *ep, struct reg_call *call,
		     const char *url, const char *const *headers, struct http_response *resp,
		     struct plate_error **err)
{
	struct http_request req = {
		.method = "HEAD", .url = url, .headers = headers, .follow_redirects = true
	};

	if (reg_send(c, ep, call, &req, resp, err) < 0)
		return -1;
	if (resp->status == 404)
		return 0;
	if (resp->status != 200) {
		reg_status_error(ep, call, resp, err);
		return -1;
	}
	return 1;
}

/* The Content-Length of an answer, REGISTRY_SIZE_UNKNOWN without a valid one. */
static uint64_t content_length(const struct http_response *resp)
{
	uint64_t size = REGISTRY_SIZE_UNKNOWN;
	size_t len;
	const char *h = http_header(resp, "content-length", &len);

	if (h != NULL && reg_parse_uint(h, len, &size, NULL) < 0)
		size = REGISTRY_SIZE_UNKNOWN;
	return size;
}

static int head_manifest_at(struct registry_client *c, struct reg_endpoint *ep,
			    const struct oci_reference *ref, const char *ref_str,
			    char digest[DIGEST_STRING_LEN + 1], char **media_type, uint64_t *size,
			    struct plate_error **err)
{
	_cleanup_free_ char *url = NULL;
	struct reg_call call = { .action = "pull",
				 .what = "manifest",
				 .ref = ref_str,
				 .repo = ref->path,
				 .idempotent = true };
	struct http_response resp;
	size_t len;
	const char *h;
	int rc = -1;

	url = reg_url(ep, ref->path, "manifests", ref->digest ? ref->digest : ref->tag);
	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	http_response_init(&resp);
	if ((rc = send_head(c, ep, &call, url, manifest_headers, &resp, err)) <= 0)
		goto out;
	rc = -1;
	h = http_header(&resp, "docker-content-digest", &len);
	if (h == NULL || reg_parse_digest_header(h, len, digest, err) < 0) {
		if (h == NULL)
			plate_err_new(err, EPROTO,
				      "registry '%s' sent no Docker-Content-Digest for '%s'",
				      ep->base, ref_str);
		else
			plate_err_wrap(err, "Docker-Content-Digest from '%s'", ep->base);
		goto out;
	}
	if (ref->digest != NULL && strcmp(digest, ref->digest) != 0) {
		plate_err_new(err, EBADMSG,
			      "manifest '%s' from '%s': Docker-Content-Digest '%s' differs",
			      ref_str, ep->base, digest);
		goto out;
	}
	if (size != NULL)
		*size = content_length(&resp);
	if (media_type != NULL)
		*media_type = media_type_of(&resp);
	rc = 1;
out:
	http_response_release(&resp);
	return rc;
}

int registry_head_manifest(struct registry_client *c, const struct oci_reference *ref,
			   char digest[DIGEST_STRING_LEN + 1], char **media_type, uint64_t *size,
			   struct plate_error **err)
{
	_cleanup_free_ char *ref_str = NULL;

	if (reg_check_ref(ref, true, err) < 0)
		return -1;
	ref_str = reg_ref_string(ref, true);
	if (ref_str == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	FOR_EACH_READ_ENDPOINT(c, ref, err, 1,
			       head_manifest_at(c, ep, ref, ref_str, digest, media_type, size,
						&e_));
}

static int head_blob_at(struct registry_client *c, struct reg_endpoint *ep,
			const struct oci_reference *ref, const char *ref_str, const char *digest,
			bool push, uint64_t *size, struct plate_error **err)
{
	_cleanup_free_ char *url = reg_url(ep, ref->path, "blobs", digest);
	struct reg_call call = { .action = push ? "push" : "pull",
				 .what = "blob",
				 .ref = ref_str,
				 .repo = ref->path,
				 .push = push,
				 .idempotent = true };
	struct http_response resp;
	int rc;

	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	http_response_init(&resp);
	rc = send_head(c, ep, &call, url, NULL, &resp, err);
	if (rc > 0 && size != NULL)
		*size = content_length(&resp);
	http_response_release(&resp);
	return rc;
}

int reg_head_blob_push(struct registry_client *c, struct reg_endpoint *ep,
		       const struct oci_reference *ref, const char *ref_str, const char *digest,
		       uint64_t *size, struct plate_error **err)
{
	return head_blob_at(c, ep, ref, ref_str, digest, true, size, err);
}

int registry_head_blob(struct registry_client *c, const struct oci_reference *ref,
		       const char *digest, uint64_t *size, struct plate_error **err)
{
	_cleanup_free_ char *ref_str = NULL;

	if (reg_check_ref(ref, false, err) < 0)
		return -1;
	if (!digest_is_valid(digest))
		return plate_err_new(err, EINVAL, "bad digest '%s'", digest);
	if (asprintf(&ref_str, "%s/%s@%s", ref->domain, ref->path, digest) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	FOR_EACH_READ_ENDPOINT(c, ref, err, 1,
			       head_blob_at(c, ep, ref, ref_str, digest, false, size, &e_));
}

/* ---- blob download ------------------------------------------------------------------------- */

struct fetch {
	struct registry_client *c;
	const struct registry_sink *sink;
	const struct reg_endpoint *ep;
	const char *ref_str;
	const char *digest;
	struct digest d;
	uint64_t written;   /* bytes handed to the caller's sink so far */
	uint64_t requested; /* offset asked for with Range in the current request */
	uint64_t cap;	    /* most bytes acceptable */
	uint64_t total;	    /* the expected size, 0 when unknown (progress) */
	bool started;	    /* the current response has delivered its first byte */
	bool hashed_any;
	const struct http_response *resp;
};

/* First byte of a response: is it the continuation we asked for, or the whole blob again? */
static int fetch_begin(struct fetch *f, struct plate_error **err)
{
	const struct http_response *resp = f->resp;
	struct reg_content_range cr;
	size_t len;
	const char *h;

	if (check_digest_header(resp, f->digest, f->ep, "blob", f->ref_str, err) < 0)
		return -1;
	if (f->requested == 0)
		return 0;
	if (resp->status == 200) {
		/* the registry (or a redirect target) ignored Range: start over */
		if (f->sink->reset == NULL)
			return plate_err_new(err, ESPIPE,
					     "blob '%s': registry ignored Range and the sink "
					     "cannot restart",
					     f->ref_str);
		if (f->sink->reset(f->sink->data, err) < 0)
			return -1;
		digest_final(&f->d, (char[DIGEST_STRING_LEN + 1]){ 0 });
		f->written = 0;
		f->c->stats.restarts++;
		return 0;
	}
	h = http_header(resp, "content-range", &len);
	if (h == NULL || reg_parse_content_range(h, len, &cr, err) < 0 || cr.unsatisfied ||
	    cr.start != f->requested) {
		if (h == NULL || *err == NULL)
			plate_err_new(err, EPROTO,
				      "blob '%s' from '%s': 206 answer does not start at byte %llu",
				      f->ref_str, f->ep->base, (unsigned long long)f->requested);
		else
			plate_err_wrap(err, "blob '%s' from '%s': Content-Range", f->ref_str,
				       f->ep->base);
		return -1;
	}
	return 0;
}

static int fetch_write(void *data, const void *buf, size_t len, struct plate_error **err)
{
	struct fetch *f = data;

	if (!f->started) {
		f->started = true;
		if (fetch_begin(f, err) < 0)
			return -1;
	}
	if (len > f->cap - f->written)
		return plate_err_new(err, E2BIG, "blob '%s' from '%s' is larger than %llu bytes",
				     f->ref_str, f->ep->base, (unsigned long long)f->cap);
	digest_update(&f->d, buf, len);
	f->written += len;
	if (f->sink->write(f->sink->data, buf, len, err) < 0)
		return -1;
	if (f->c->opts.blob_progress != NULL)
		f->c->opts.blob_progress(f->c->opts.blob_progress_data, f->digest, f->written,
					 f->total);
	return 0;
}

static int fetch_at(struct registry_client *c, struct reg_endpoint *ep,
		    const struct oci_reference *ref, const char *ref_str, const char *digest,
		    uint64_t expected_size, uint64_t cap, const struct registry_sink *sink,
		    bool *touched, struct plate_error **err)
{
	_cleanup_free_ char *url = reg_url(ep, ref->path, "blobs", digest);
	struct reg_call call = { .action = "pull",
				 .what = "blob",
				 .ref = ref_str,
				 .repo = ref->path,
				 .idempotent = true };
	struct fetch f = { .c = c,
			   .sink = sink,
			   .ep = ep,
			   .ref_str = ref_str,
			   .digest = digest,
			   .cap = cap,
			   .total = expected_size == REGISTRY_SIZE_UNKNOWN ? 0 : expected_size };
	struct registry_sink wrap = { .write = fetch_write, .data = &f };
	struct http_response resp;
	char got[DIGEST_STRING_LEN + 1];
	unsigned resumes = 0;
	int rc = -1;

	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (digest_init(&f.d, err) < 0)
		return -1;
	http_response_init(&resp);
	f.resp = &resp;
	for (;;) {
		char range[64];
		const char *headers[] = { range, NULL };
		struct http_request req = {
			.method = "GET", .url = url, .sink = &wrap, .follow_redirects = true
		};

		snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)f.written);
		req.headers = f.written > 0 ? headers : NULL;
		f.requested = f.written;
		f.started = false;
		uint64_t before = f.written;
		int r = reg_send(c, ep, &call, &req, &resp, err);
		if (f.written > 0)
			*touched = true;
		if (r < 0) {
			/* Cut off after some bytes arrived: continue from there (spec "Resumable
			 * Pull"), within the same attempt budget as any other retry. */
			if (resp.curl_code != 0 && f.written > before &&
			    resumes + 1 < c->opts.max_attempts && (*err)->errno_value != E2BIG &&
			    (*err)->errno_value != EBADMSG) {
				plate_error_free(*err);
				*err = NULL;
				resumes++;
				c->stats.resumes++;
				reg_sleep_backoff(c, resumes, 0);
				continue;
			}
			goto out;
		}
		if (resp.status == 416 && f.written > 0 && f.written == expected_size)
			break; /* everything had arrived before the connection dropped */
		if (resp.status != 200 && resp.status != 206) {
			reg_status_error(ep, &call, &resp, err);
			goto out;
		}
		if (!f.started && (resp.status == 200 || f.written == 0)) {
			/* an empty body: still check the headers */
			f.started = true;
			if (fetch_begin(&f, err) < 0)
				goto out;
		}
		break;
	}
	if (expected_size != REGISTRY_SIZE_UNKNOWN && f.written != expected_size) {
		plate_err_new(err, EBADMSG, "blob '%s' from '%s' has %llu bytes, expected %llu",
			      ref_str, ep->base, (unsigned long long)f.written,
			      (unsigned long long)expected_size);
		goto out;
	}
	digest_final(&f.d, got);
	if (strcmp(got, digest) != 0) {
		plate_err_new(err, EBADMSG,
			      "blob '%s' from '%s' does not match its digest (got '%s')", ref_str,
			      ep->base, got);
		goto out;
	}
	rc = 0;
out:
	digest_release(&f.d);
	http_response_release(&resp);
	return rc;
}

int registry_fetch_blob(struct registry_client *c, const struct oci_reference *ref,
			const char *digest, uint64_t expected_size, uint64_t max_size,
			const struct registry_sink *sink, struct plate_error **err)
{
	_cleanup_free_ char *ref_str = NULL;
	struct reg_endpoint *eps[MAX_ENDPOINTS];
	size_t n = 0;
	uint64_t cap = UINT64_MAX;

	if (reg_check_ref(ref, false, err) < 0)
		return -1;
	if (!digest_is_valid(digest))
		return plate_err_new(err, EINVAL, "bad digest '%s'", digest);
	if (max_size != 0)
		cap = max_size;
	if (expected_size != REGISTRY_SIZE_UNKNOWN && expected_size < cap)
		cap = expected_size;
	if (asprintf(&ref_str, "%s/%s@%s", ref->domain, ref->path, digest) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (reg_endpoints(c, ref->domain, true, eps, MAX_ENDPOINTS, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct plate_error *e = NULL;
		bool touched = false;

		if (fetch_at(c, eps[i], ref, ref_str, digest, expected_size, cap, sink, &touched,
			     &e) == 0)
			return 0;
		/* Bad content is never papered over by another endpoint; nor can a next
		 * endpoint start after bytes that the sink cannot take back. */
		if (i + 1 == n || e->errno_value == EBADMSG || e->errno_value == E2BIG ||
		    (touched && (sink->reset == NULL || sink->reset(sink->data, NULL) < 0))) {
			*err = e;
			return -1;
		}
		plate_error_free(e);
	}
	return plate_err_new(err, ENOENT, "no endpoint for '%s'", ref->domain);
}

/* ---- tags ------------------------------------------------------------------------------------- */

static int tags_at(struct registry_client *c, struct reg_endpoint *ep,
		   const struct oci_reference *ref, const char *ref_str, char ***tags, size_t *n,
		   struct plate_error **err)
{
	_cleanup_free_ char *url = reg_url(ep, ref->path, "tags/list", NULL);
	struct reg_call call = { .action = "list tags of",
				 .what = "repository",
				 .ref = ref_str,
				 .repo = ref->path,
				 .idempotent = true };
	static const char *const headers[] = { "Accept: application/json", NULL };
	struct http_response resp;
	char **v = NULL;
	size_t count = 0;
	int rc = -1;

	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (c->opts.tags_page_size > 0) {
		char n_str[16];
		snprintf(n_str, sizeof(n_str), "%u", c->opts.tags_page_size);
		if (reg_url_add_query(&url, "n", n_str, err) < 0)
			return -1;
	}
	http_response_init(&resp);
	/* spec end-8b: follow Link rel="next" rather than counting on n results per page */
	for (unsigned page = 0;; page++) {
		struct http_request req = { .method = "GET",
					    .url = url,
					    .headers = headers,
					    .body_max = REG_TAGS_BODY_MAX,
					    .follow_redirects = true };
		_cleanup_free_ char *next = NULL;
		size_t len;
		const char *link;

		if (page == MAX_TAG_PAGES) {
			plate_err_new(err, E2BIG, "tag list of '%s' has more than %u pages",
				      ref_str, MAX_TAG_PAGES);
			goto out;
		}
		if (reg_send(c, ep, &call, &req, &resp, err) < 0)
			goto out;
		if (resp.status != 200) {
			reg_status_error(ep, &call, &resp, err);
			goto out;
		}
		if (reg_parse_tags(resp.body.data, resp.body.len, &v, &count, REGISTRY_MAX_TAGS,
				   err) < 0) {
			plate_err_wrap(err, "tags of '%s' from '%s'", ref_str, ep->base);
			goto out;
		}
		link = http_header(&resp, "link", &len);
		if (link == NULL)
			break;
		int r = reg_parse_link_next(link, len, &next, err);
		if (r < 0) {
			plate_err_wrap(err, "Link header from '%s'", ep->base);
			goto out;
		}
		if (r == 0)
			break;
		char *resolved = NULL;
		if (reg_resolve_location(resp.effective_url ? resp.effective_url : url, next,
					 strlen(next), &resolved, err) < 0)
			goto out;
		free(url);
		url = resolved;
	}
	*tags = v;
	*n = count;
	v = NULL;
	rc = 0;
out:
	strv_free(v, count);
	http_response_release(&resp);
	return rc;
}

int registry_list_tags(struct registry_client *c, const struct oci_reference *ref, char ***tags,
		       size_t *n, struct plate_error **err)
{
	_cleanup_free_ char *ref_str = NULL;

	if (reg_check_ref(ref, false, err) < 0)
		return -1;
	ref_str = reg_ref_string(ref, false);
	if (ref_str == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	FOR_EACH_READ_ENDPOINT(c, ref, err, 0, tags_at(c, ep, ref, ref_str, tags, n, &e_));
}
