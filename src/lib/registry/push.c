/*
 * Writes: blob uploads (spec "Pushing blobs": POST then PUT, chunked PATCH with 416 recovery
 * through GET of the session, cross-repository mount end-11) and manifest PUT (end-7a).
 * Writes never go to mirrors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

struct upload {
	struct registry_client *c;
	struct reg_endpoint *ep;
	const struct reg_call *call;
	const char *digest;
	const struct registry_source *src;
	char *location;	    /* current session URL */
	uint64_t min_chunk; /* OCI-Chunk-Min-Length */
};

/* Reads Location from resp, resolved against the URL that answered. */
static int take_location(struct upload *u, const struct http_response *resp, const char *req_url,
			 struct plate_error **err)
{
	size_t len;
	const char *loc = http_header(resp, "location", &len);
	char *resolved = NULL;

	if (loc == NULL)
		return plate_err_new(err, EPROTO,
				     "registry '%s' sent no Location for the upload of '%s'",
				     u->ep->base, u->call->ref);
	if (reg_resolve_location(resp->effective_url ? resp->effective_url : req_url, loc, len,
				 &resolved, err) < 0)
		return plate_err_wrap(err, "Location from '%s'", u->ep->base);
	free(u->location);
	u->location = resolved;
	return 0;
}

/* Best effort (spec: clients SHOULD cancel abandoned sessions and ignore failures). */
static void cancel_session(struct upload *u)
{
	struct http_response resp;
	struct plate_error *e = NULL;
	struct reg_call call = *u->call;

	if (u->location == NULL)
		return;
	call.idempotent = false;
	http_response_init(&resp);
	struct http_request req = { .method = "DELETE", .url = u->location };
	reg_send(u->c, u->ep, &call, &req, &resp, &e);
	plate_error_free(e);
	http_response_release(&resp);
	free(u->location);
	u->location = NULL;
}

/* Checks the answer that completes an upload: 201 and, when sent, the right digest. */
static int check_created(struct upload *u, const struct http_response *resp,
			 struct plate_error **err)
{
	char got[DIGEST_STRING_LEN + 1];
	size_t len;
	const char *h;

	if (resp->status != 201)
		return reg_status_error(u->ep, u->call, resp, err);
	h = http_header(resp, "docker-content-digest", &len);
	if (h != NULL && reg_parse_digest_header(h, len, got, NULL) == 0 &&
	    strcmp(got, u->digest) != 0)
		return plate_err_new(err, EBADMSG, "registry '%s' stored '%s' as '%s'", u->ep->base,
				     u->digest, got);
	return 0;
}

/* GET of the session (end-13): where the registry is, after a 416 or a lost connection. */
static int session_status(struct upload *u, uint64_t *next, struct plate_error **err)
{
	struct http_response resp;
	struct reg_call call = *u->call;
	size_t len;
	const char *h;
	uint64_t last;
	int rc = -1;

	call.idempotent = true;
	http_response_init(&resp);
	struct http_request req = { .method = "GET", .url = u->location };
	if (reg_send(u->c, u->ep, &call, &req, &resp, err) < 0)
		goto out;
	if (resp.status != 204) {
		reg_status_error(u->ep, &call, &resp, err);
		goto out;
	}
	h = http_header(&resp, "range", &len);
	if (h == NULL) {
		*next = 0;
	} else {
		if (reg_parse_upload_range(h, len, &last, err) < 0) {
			plate_err_wrap(err, "upload status from '%s'", u->ep->base);
			goto out;
		}
		/* "0-0" is also what distribution reports for an empty session. */
		*next = last == 0 ? 0 : last + 1;
	}
	if (http_header(&resp, "location", &len) != NULL &&
	    take_location(u, &resp, u->location, err) < 0)
		goto out;
	rc = 0;
out:
	http_response_release(&resp);
	return rc;
}

/* Returns 0 done, 1 when the session failed in a way a fresh session may fix, -1 error. */
static int upload_monolithic(struct upload *u, struct plate_error **err)
{
	_cleanup_free_ char *url = strdup(u->location);
	static const char *const headers[] = { "Content-Type: application/octet-stream", NULL };
	struct http_response resp;
	int rc = -1;

	if (url == NULL || reg_url_add_query(&url, "digest", u->digest, err) < 0)
		return url ? -1 : plate_err_new(err, ENOMEM, "out of memory");
	http_response_init(&resp);
	struct http_request req = { .method = "PUT",
				    .url = url,
				    .headers = headers,
				    .body = u->src,
				    .body_len = u->src->size };
	if (reg_send(u->c, u->ep, u->call, &req, &resp, err) < 0) {
		rc = resp.curl_code != 0 ? 1 : -1;
		goto out;
	}
	if (resp.status >= 500 || resp.status == 429) {
		reg_status_error(u->ep, u->call, &resp, err);
		rc = 1;
		goto out;
	}
	rc = check_created(u, &resp, err);
out:
	http_response_release(&resp);
	return rc;
}

static int upload_chunked(struct upload *u, uint64_t chunk, struct plate_error **err)
{
	static const char *const put_headers[] = { "Content-Length: 0", NULL };
	struct http_response resp;
	uint64_t off = 0, size = u->src->size;
	unsigned recoveries = 0;
	int rc = -1;

	if (chunk < u->min_chunk)
		chunk = u->min_chunk;
	http_response_init(&resp);
	while (off < size) {
		uint64_t n = size - off < chunk ? size - off : chunk;
		char range[80];
		const char *headers[] = { "Content-Type: application/octet-stream", range, NULL };
		_cleanup_free_ char *url = strdup(u->location);

		if (url == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		/* spec: Content-Range is "<start>-<end>", inclusive, no "bytes " unit */
		snprintf(range, sizeof(range), "Content-Range: %" PRIu64 "-%" PRIu64, off,
			 off + n - 1);
		struct http_request req = { .method = "PATCH",
					    .url = url,
					    .headers = headers,
					    .body = u->src,
					    .body_offset = off,
					    .body_len = n };
		int r = reg_send(u->c, u->ep, u->call, &req, &resp, err);
		if (r == 0 && resp.status == 202) {
			if (take_location(u, &resp, url, err) < 0)
				goto out;
			off += n;
			continue;
		}
		if (r < 0 && resp.curl_code == 0)
			goto out;
		/* 416, a lost connection or a 5xx: ask the session where it is and go on from
		 * there (spec end-13), a bounded number of times. */
		if ((r < 0 || resp.status == 416 || resp.status >= 500) &&
		    recoveries + 1 < u->c->opts.max_attempts) {
			uint64_t next;
			plate_error_free(*err);
			*err = NULL;
			recoveries++;
			u->c->stats.retries++;
			reg_sleep_backoff(u->c, recoveries, 0);
			if (session_status(u, &next, err) < 0) {
				rc = 1;
				goto out;
			}
			if (next > size) {
				plate_err_new(err, EPROTO,
					      "registry '%s' claims %" PRIu64 " of %" PRIu64
					      " bytes",
					      u->ep->base, next, size);
				goto out;
			}
			off = next;
			continue;
		}
		if (r == 0)
			reg_status_error(u->ep, u->call, &resp, err);
		rc = r < 0 || resp.status >= 500 ? 1 : -1;
		goto out;
	}
	{
		_cleanup_free_ char *url = strdup(u->location);
		if (url == NULL || reg_url_add_query(&url, "digest", u->digest, err) < 0) {
			if (url == NULL)
				plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		struct http_request req = { .method = "PUT", .url = url, .headers = put_headers };
		if (reg_send(u->c, u->ep, u->call, &req, &resp, err) < 0) {
			rc = 1;
			goto out;
		}
		rc = check_created(u, &resp, err);
	}
out:
	http_response_release(&resp);
	return rc;
}

/* POST to open a session (or mount).  Returns 2 when mounted, 0 with u->location set, -1. */
static int open_session(struct upload *u, const char *mount_from, struct plate_error **err)
{
	_cleanup_free_ char *url = reg_url(u->ep, u->call->repo, "blobs/uploads/", NULL);
	struct http_response resp;
	size_t len;
	const char *h;
	int rc = -1;

	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (mount_from != NULL && (reg_url_add_query(&url, "mount", u->digest, err) < 0 ||
				   reg_url_add_query(&url, "from", mount_from, err) < 0))
		return -1;
	http_response_init(&resp);
	struct http_request req = { .method = "POST", .url = url };
	if (reg_send(u->c, u->ep, u->call, &req, &resp, err) < 0)
		goto out;
	if (mount_from != NULL && resp.status == 201) {
		rc = check_created(u, &resp, err) < 0 ? -1 : 2;
		goto out;
	}
	/* 202: a new session, also the spec's answer when a mount is not possible */
	if (resp.status != 202) {
		reg_status_error(u->ep, u->call, &resp, err);
		goto out;
	}
	if (take_location(u, &resp, url, err) < 0)
		goto out;
	u->min_chunk = 0;
	h = http_header(&resp, "oci-chunk-min-length", &len);
	if (h != NULL)
		reg_parse_uint(h, len, &u->min_chunk, NULL);
	rc = 0;
out:
	http_response_release(&resp);
	return rc;
}

static bool repo_name_ok(const char *s)
{
	/* only what the spec's <name> grammar uses, so it can go into a query unescaped */
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-' || *s == '/'))
			return false;
	return true;
}

/* The body as sent: the caller's source, reporting how far the reads have come. */
struct counted_source {
	struct registry_client *c;
	const struct registry_source *src;
	const char *digest;
};

static int counted_read_at(void *data, uint64_t offset, void *buf, size_t len,
			   struct plate_error **err)
{
	struct counted_source *cs = data;

	if (cs->src->read_at(cs->src->data, offset, buf, len, err) < 0)
		return -1;
	cs->c->opts.blob_progress(cs->c->opts.blob_progress_data, cs->digest, offset + len,
				  cs->src->size);
	return 0;
}

int registry_push_blob(struct registry_client *c, const struct oci_reference *ref,
		       const char *digest, const struct registry_source *src,
		       const char *mount_from, enum registry_push_result *result,
		       struct plate_error **err)
{
	struct counted_source cs = { .c = c, .src = src, .digest = digest };
	struct registry_source counted = { .read_at = counted_read_at,
					   .data = &cs,
					   .size = src->size };
	_cleanup_free_ char *ref_str = NULL;
	struct reg_endpoint *ep;
	size_t n;
	uint64_t have;
	int r;

	if (reg_check_ref(ref, false, err) < 0)
		return -1;
	if (!digest_is_valid(digest))
		return plate_err_new(err, EINVAL, "bad digest '%s'", digest);
	if (mount_from != NULL && (!repo_name_ok(mount_from) || strcmp(mount_from, ref->path) == 0))
		mount_from = NULL;
	if (asprintf(&ref_str, "%s/%s@%s", ref->domain, ref->path, digest) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (reg_endpoints(c, ref->domain, false, &ep, 1, &n, err) < 0)
		return -1;
	struct reg_call call = { .action = "push",
				 .what = "blob",
				 .ref = ref_str,
				 .repo = ref->path,
				 .push = true,
				 .mount_from = mount_from,
				 .idempotent = true };
	struct upload u = { .c = c,
			    .ep = ep,
			    .call = &call,
			    .digest = digest,
			    .src = c->opts.blob_progress ? &counted : src };

	r = reg_head_blob_push(c, ep, ref, ref_str, digest, &have, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		*result = REGISTRY_BLOB_EXISTED;
		return 0;
	}
	for (unsigned attempt = 1;; attempt++) {
		r = open_session(&u, mount_from, err);
		if (r == 2) {
			*result = REGISTRY_BLOB_MOUNTED;
			return 0;
		}
		if (r < 0)
			return -1;
		/* a body PUT or PATCH is not repeated blindly: the session may hold part of it */
		call.idempotent = false;
		if (c->opts.chunk_size == 0 || src->size <= c->opts.chunk_size)
			r = upload_monolithic(&u, err);
		else
			r = upload_chunked(&u, c->opts.chunk_size, err);
		call.idempotent = true;
		if (r == 0) {
			free(u.location);
			*result = REGISTRY_BLOB_UPLOADED;
			return 0;
		}
		cancel_session(&u);
		if (r < 0 || attempt >= c->opts.max_attempts)
			return -1;
		plate_error_free(*err);
		*err = NULL;
		c->stats.retries++;
		reg_sleep_backoff(c, attempt, 0);
		mount_from = NULL; /* the mount was answered with 202 already */
	}
}

int registry_push_manifest(struct registry_client *c, const struct oci_reference *ref,
			   const char *media_type, const void *data, size_t len,
			   char digest_out[DIGEST_STRING_LEN + 1], struct plate_error **err)
{
	_cleanup_free_ char *ref_str = NULL, *url = NULL, *doc_mt = NULL, *ct = NULL;
	char digest[DIGEST_STRING_LEN + 1], got[DIGEST_STRING_LEN + 1];
	struct reg_endpoint *ep;
	struct http_response resp;
	struct registry_mem_source ms;
	struct registry_source src;
	size_t n, hl;
	const char *h;
	int r, rc = -1;

	if (reg_check_ref(ref, true, err) < 0)
		return -1;
	if (media_type == NULL || media_type[0] == '\0' || strpbrk(media_type, "\r\n") != NULL)
		return plate_err_new(err, EINVAL, "bad manifest media type");
	if (digest_buffer(data, len, digest, err) < 0)
		return -1;
	if (ref->digest != NULL && strcmp(ref->digest, digest) != 0)
		return plate_err_new(err, EINVAL, "manifest digest is '%s', not '%s'", digest,
				     ref->digest);
	r = reg_manifest_media_type(data, len, &doc_mt, err);
	if (r < 0)
		return plate_err_wrap(err, "manifest to push");
	/* spec: with a mediaType field, Content-Type MUST be that value */
	if (r == 1 && strcmp(doc_mt, media_type) != 0)
		return plate_err_new(err, EINVAL,
				     "manifest has mediaType '%s' but is pushed as '%s'", doc_mt,
				     media_type);
	ref_str = reg_ref_string(ref, true);
	if (ref_str == NULL || asprintf(&ct, "Content-Type: %s", media_type) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (reg_endpoints(c, ref->domain, false, &ep, 1, &n, err) < 0)
		return -1;
	url = reg_url(ep, ref->path, "manifests", ref->tag ? ref->tag : digest);
	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	const char *headers[] = { ct, NULL };
	struct reg_call call = { .action = "push",
				 .what = "manifest",
				 .ref = ref_str,
				 .repo = ref->path,
				 .push = true,
				 .idempotent = true };
	registry_mem_source_init(&ms, data, len, &src);
	http_response_init(&resp);
	struct http_request req = {
		.method = "PUT", .url = url, .headers = headers, .body = &src, .body_len = len
	};
	if (reg_send(c, ep, &call, &req, &resp, err) < 0)
		goto out;
	if (resp.status != 201) {
		reg_status_error(ep, &call, &resp, err);
		goto out;
	}
	h = http_header(&resp, "docker-content-digest", &hl);
	if (h != NULL && reg_parse_digest_header(h, hl, got, NULL) == 0 &&
	    strcmp(got, digest) != 0) {
		plate_err_new(err, EBADMSG, "registry '%s' stored manifest '%s' as '%s', not '%s'",
			      ep->base, ref_str, got, digest);
		goto out;
	}
	memcpy(digest_out, digest, sizeof(digest));
	rc = 0;
out:
	http_response_release(&resp);
	return rc;
}
