/*
 * The libcurl boundary (HOUSE_STYLE rule 7): one easy handle per client, reset before every
 * exchange so no option leaks from one request into the next while the connection cache is
 * kept.  CURLcode, the error buffer and the HTTP status are turned into plain fields of
 * struct http_response here; nothing outside this file sees a curl type.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "registry/registry_internal.h"

struct reg_http {
	CURL *curl;
	char *user_agent;
	unsigned connect_timeout_s, stall_timeout_s;
};

int reg_http_new(const char *user_agent, unsigned connect_timeout_s, unsigned stall_timeout_s,
		 struct reg_http **out, struct plate_error **err)
{
	struct reg_http *h;

	if (reg_curl_load(err) < 0)
		return -1;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	h->curl = reg_curl.easy_init();
	h->user_agent = strdup(user_agent);
	if (h->curl == NULL || h->user_agent == NULL) {
		reg_http_free(h);
		return plate_err_new(err, ENOMEM, "cannot create a curl handle");
	}
	h->connect_timeout_s = connect_timeout_s;
	h->stall_timeout_s = stall_timeout_s;
	*out = h;
	return 0;
}

void reg_http_free(struct reg_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		reg_curl.easy_cleanup(h->curl);
	free(h->user_agent);
	free(h);
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->headers, REG_HEADER_BLOCK_MAX);
	buf_init(&r->body, REG_ERROR_BODY_MAX);
}

void http_response_release(struct http_response *r)
{
	buf_release(&r->headers);
	buf_release(&r->body);
	plate_error_free(r->sink_error);
	free(r->effective_url);
	memset(r, 0, sizeof(*r));
	buf_init(&r->headers, REG_HEADER_BLOCK_MAX);
	buf_init(&r->body, REG_ERROR_BODY_MAX);
}

const char *http_header(const struct http_response *r, const char *name, size_t *len)
{
	/* Repeated headers are joined at capture time, so the first match is the whole value. */
	size_t nl = strlen(name);
	const char *p = r->headers.data, *end = p + r->headers.len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && memcmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

char *http_header_dup(const struct http_response *r, const char *name)
{
	size_t len;
	const char *v = http_header(r, name, &len);

	return v ? strndup(v, len) : NULL;
}

struct transfer {
	const struct http_request *req;
	struct http_response *resp;
	uint64_t sent;
	struct plate_error *read_error;
	bool headers_overflow;
};

/* Adds one header line, joining repeats of the same name with ", " (RFC 9110 5.3). */
static void capture_header(struct transfer *t, const char *line, size_t len)
{
	struct buf *h = &t->resp->headers;
	const char *colon = memchr(line, ':', len);
	_cleanup_buf_ struct buf name = BUF_INIT(256);
	const char *v, *end = line + len;
	size_t vlen;

	while (end > line &&
	       (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (colon == NULL || colon == line || colon >= end)
		return;
	for (const char *c = line; c < colon; c++)
		if (buf_addch(&name, (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c) < 0)
			return;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(end - v);
	/* a NUL or a bare CR inside a value would corrupt the line format */
	if (memchr(v, '\0', vlen) != NULL || memchr(v, '\n', vlen) != NULL)
		return;
	size_t existing;
	const char *old = http_header(t->resp, name.data, &existing);
	if (old != NULL) {
		/* insert ", value" at the end of the existing line */
		size_t at = (size_t)(old - h->data) + existing;
		size_t add = 2 + vlen;
		if (h->len + add > h->max || existing + add > REG_HEADER_VALUE_MAX ||
		    buf_grow(h, add) < 0) {
			t->headers_overflow = true;
			return;
		}
		memmove(h->data + at + add, h->data + at, h->len - at + 1);
		memcpy(h->data + at, ", ", 2);
		memcpy(h->data + at + 2, v, vlen);
		h->len += add;
		return;
	}
	if (buf_addf(h, "%s: %.*s\n", name.data, (int)vlen, v) < 0)
		t->headers_overflow = true;
}

static size_t header_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * n;

	/* Each status line starts a new header block (redirects, 100 Continue): keep only the
	 * final response's headers. */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', len);
		buf_reset(&t->resp->headers);
		buf_reset(&t->resp->body);
		t->resp->status = 0;
		if (sp != NULL && len - (size_t)(sp - data) > 3) {
			long st = 0;
			for (int i = 1; i <= 3 && sp[i] >= '0' && sp[i] <= '9'; i++)
				st = st * 10 + (sp[i] - '0');
			t->resp->status = st;
		}
		return len;
	}
	capture_header(t, data, len);
	return len;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	const struct http_request *req = t->req;
	struct http_response *resp = t->resp;
	size_t len = size * n;

	if (req->sink != NULL && resp->status >= 200 && resp->status < 300) {
		if (req->sink->write(req->sink->data, data, len, &resp->sink_error) < 0)
			return 0;
		resp->delivered += len;
		return len;
	}
	if (buf_add(&resp->body, data, len) < 0) {
		resp->too_large = true;
		return 0;
	}
	return len;
}

static size_t read_cb(char *out, size_t size, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	const struct http_request *req = t->req;
	uint64_t left = req->body_len - t->sent;
	size_t len = size * n;

	if (req->body == NULL)
		return 0;
	if (len > left)
		len = (size_t)left;
	if (len == 0)
		return 0;
	if (req->body->read_at(req->body->data, req->body_offset + t->sent, out, len,
			       &t->read_error) < 0)
		return CURL_READFUNC_ABORT;
	t->sent += len;
	return len;
}

/* Rewinding happens when curl must resend the body (a redirect, a retried connection). */
static int seek_cb(void *userdata, curl_off_t offset, int origin)
{
	struct transfer *t = userdata;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > t->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	t->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* curl's error enum is large and grows: map the codes that matter, everything else is EIO. */
static int errno_of(CURLcode rc)
{
	static const struct {
		CURLcode code;
		int errnum;
	} map[] = {
		{ CURLE_OPERATION_TIMEDOUT, ETIMEDOUT },
		{ CURLE_COULDNT_CONNECT, ECONNREFUSED },
		{ CURLE_COULDNT_RESOLVE_HOST, EHOSTUNREACH },
		{ CURLE_COULDNT_RESOLVE_PROXY, EHOSTUNREACH },
		{ CURLE_PEER_FAILED_VERIFICATION, EPROTO },
		{ CURLE_SSL_CONNECT_ERROR, EPROTO },
		{ CURLE_SSL_CACERT_BADFILE, EPROTO },
		{ CURLE_SSL_CERTPROBLEM, EPROTO },
		{ CURLE_RECV_ERROR, ECONNRESET },
		{ CURLE_SEND_ERROR, ECONNRESET },
		{ CURLE_PARTIAL_FILE, ECONNRESET },
		{ CURLE_GOT_NOTHING, ECONNRESET },
		{ CURLE_TOO_MANY_REDIRECTS, ELOOP },
		{ CURLE_OUT_OF_MEMORY, ENOMEM },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].code == rc)
			return map[i].errnum;
	return EIO;
}

int reg_http_perform(struct reg_http *h, const struct http_request *req, struct http_response *resp,
		     struct plate_error **err)
{
	struct transfer t = { .req = req, .resp = resp };
	struct curl_slist *hdrs = NULL, *grown;
	_cleanup_free_ char *auth = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = h->curl;
	struct reg_setopts so = { .curl = h->curl };
	CURLcode rc;
	char *eff = NULL;

	reg_curl.easy_reset(c);
	buf_reset(&resp->headers);
	buf_reset(&resp->body);
	resp->body.max = req->body_max ? req->body_max : REG_ERROR_BODY_MAX;
	resp->status = 0;
	resp->delivered = 0;
	resp->too_large = false;
	resp->curl_code = 0;
	resp->errno_value = 0;
	resp->curl_error[0] = '\0';

	for (const char *const *l = req->headers; l != NULL && *l != NULL; l++) {
		grown = reg_curl.slist_append(hdrs, *l);
		if (grown == NULL)
			goto oom;
		hdrs = grown;
	}
	if (req->authorization != NULL) {
		if (asprintf(&auth, "Authorization: %s", req->authorization) < 0)
			goto oom;
		grown = reg_curl.slist_append(hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		if (grown == NULL)
			goto oom;
		hdrs = grown;
	}
	/* 100-continue costs a round trip (or a 1 s wait) per upload for nothing. */
	grown = reg_curl.slist_append(hdrs, "Expect:");
	if (grown == NULL)
		goto oom;
	hdrs = grown;

	REG_SETOPT(&so, CURLOPT_URL, req->url);
	REG_SETOPT(&so, CURLOPT_HTTPHEADER, hdrs);
	REG_SETOPT(&so, CURLOPT_USERAGENT, h->user_agent);
	REG_SETOPT(&so, CURLOPT_ERRORBUFFER, errbuf);
	REG_SETOPT(&so, CURLOPT_NOSIGNAL, 1L);
	REG_SETOPT(&so, CURLOPT_PROTOCOLS_STR, "http,https");
	REG_SETOPT(&so, CURLOPT_CONNECTTIMEOUT, (long)h->connect_timeout_s);
	/* A stall, not a slow link, is the failure: less than 1 byte/s for the whole window. */
	REG_SETOPT(&so, CURLOPT_LOW_SPEED_LIMIT, 1L);
	REG_SETOPT(&so, CURLOPT_LOW_SPEED_TIME, (long)h->stall_timeout_s);
	REG_SETOPT(&so, CURLOPT_HEADERFUNCTION, header_cb);
	REG_SETOPT(&so, CURLOPT_HEADERDATA, &t);
	REG_SETOPT(&so, CURLOPT_WRITEFUNCTION, write_cb);
	REG_SETOPT(&so, CURLOPT_WRITEDATA, &t);
	if (req->follow_redirects) {
		/* Blob GETs are commonly redirected to object storage.  curl drops our
		 * Authorization header when the host changes (spec: MUST NOT forward it across
		 * hosts), and an https registry may not redirect us down to http. */
		REG_SETOPT(&so, CURLOPT_FOLLOWLOCATION, 1L);
		REG_SETOPT(&so, CURLOPT_MAXREDIRS, 5L);
		REG_SETOPT(&so, CURLOPT_REDIR_PROTOCOLS_STR,
			   strncmp(req->url, "https:", 6) == 0 ? "https" : "http,https");
	}
	if (req->tls != NULL && req->tls->ca_blob.len > 0) {
		struct curl_blob blob = { .data = req->tls->ca_blob.data,
					  .len = req->tls->ca_blob.len,
					  .flags = CURL_BLOB_NOCOPY };
		REG_SETOPT(&so, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (req->tls != NULL && req->tls->ca_dir != NULL)
		REG_SETOPT(&so, CURLOPT_CAPATH, req->tls->ca_dir);

	if (strcmp(req->method, "HEAD") == 0) {
		REG_SETOPT(&so, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") == 0) {
		REG_SETOPT(&so, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "POST") == 0 && req->body == NULL) {
		REG_SETOPT(&so, CURLOPT_POST, 1L);
		REG_SETOPT(&so, CURLOPT_POSTFIELDS, "");
		REG_SETOPT(&so, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	} else if (strcmp(req->method, "POST") == 0) {
		REG_SETOPT(&so, CURLOPT_POST, 1L);
		REG_SETOPT(&so, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		REG_SETOPT(&so, CURLOPT_READFUNCTION, read_cb);
		REG_SETOPT(&so, CURLOPT_READDATA, &t);
		REG_SETOPT(&so, CURLOPT_SEEKFUNCTION, seek_cb);
		REG_SETOPT(&so, CURLOPT_SEEKDATA, &t);
	} else if (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0) {
		REG_SETOPT(&so, CURLOPT_UPLOAD, 1L);
		REG_SETOPT(&so, CURLOPT_INFILESIZE_LARGE,
			   (curl_off_t)(req->body ? req->body_len : 0));
		if (req->body != NULL) {
			REG_SETOPT(&so, CURLOPT_READFUNCTION, read_cb);
			REG_SETOPT(&so, CURLOPT_READDATA, &t);
			REG_SETOPT(&so, CURLOPT_SEEKFUNCTION, seek_cb);
			REG_SETOPT(&so, CURLOPT_SEEKDATA, &t);
		} else {
			REG_SETOPT(&so, CURLOPT_READFUNCTION, read_cb);
			REG_SETOPT(&so, CURLOPT_READDATA, &t);
		}
		if (req->method[1] == 'A')
			REG_SETOPT(&so, CURLOPT_CUSTOMREQUEST, "PATCH");
	} else {
		REG_SETOPT(&so, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (reg_setopts_done(&so, err) < 0) {
		reg_curl.slist_free_all(hdrs);
		return -1;
	}

	rc = reg_curl.easy_perform(c);
	reg_curl.slist_free_all(hdrs);
	hdrs = NULL;
	/* errbuf is on this stack frame: libcurl must not keep the pointer. */
	REG_SETOPT(&so, CURLOPT_ERRORBUFFER, NULL);
	if (reg_setopts_done(&so, err) < 0)
		return -1;
	if (t.read_error != NULL) {
		/* the body source failed: a local error, not the registry's */
		*err = t.read_error;
		return -1;
	}
	if (resp->sink_error != NULL) {
		*err = steal_pointer(&resp->sink_error);
		return -1;
	}
	if (reg_curl.easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != NULL) {
		free(resp->effective_url);
		resp->effective_url = strdup(eff);
	}
	if (rc != CURLE_OK) {
		resp->curl_code = (int)rc;
		resp->errno_value = errno_of(rc);
		if (rc == CURLE_WRITE_ERROR && resp->too_large)
			resp->errno_value = E2BIG;
		snprintf(resp->curl_error, sizeof(resp->curl_error), "%s",
			 errbuf[0] ? errbuf : reg_curl.easy_strerror(rc));
		/* curl ends errbuf with a newline in some versions */
		size_t l = strlen(resp->curl_error);
		while (l > 0 &&
		       (resp->curl_error[l - 1] == '\n' || resp->curl_error[l - 1] == '\r'))
			resp->curl_error[--l] = '\0';
	}
	if (t.headers_overflow && rc == CURLE_OK) {
		resp->curl_code = (int)CURLE_WEIRD_SERVER_REPLY;
		resp->errno_value = EPROTO;
		snprintf(resp->curl_error, sizeof(resp->curl_error), "response headers too large");
	}
	return 0;
oom:
	reg_curl.slist_free_all(hdrs);
	return plate_err_new(err, ENOMEM, "out of memory");
}

/* ---- TLS trust ------------------------------------------------------------------------------ */

static int append_file(struct buf *b, const char *path, bool must_exist, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, path, 0, b->max, &data, &len, err) < 0) {
		if (!must_exist && (*err)->errno_value == ENOENT) {
			plate_error_free(steal_pointer(err));
			return 0;
		}
		return plate_err_wrap(err, "CA file");
	}
	if (buf_add(b, data, len) < 0 || buf_addch(b, '\n') < 0)
		return plate_err_new(err, errno, "CA file '%s'", path);
	return 1;
}

void reg_tls_release(struct reg_tls *t)
{
	free(t->hostport);
	t->hostport = NULL;
	buf_release(&t->ca_blob);
}

int reg_tls_init(struct reg_tls *t, const char *hostport, const struct registry_options *o,
		 struct plate_error **err)
{
	_cleanup_buf_ struct buf extra = BUF_INIT(16u << 20);
	_cleanup_free_ char *dir_ca = NULL;
	const char *roots = o->system_ca_file;
	curl_version_info_data *vi;
	int r = 0;

	if (reg_curl_load(err) < 0)
		return -1;
	vi = reg_curl.version_info(CURLVERSION_NOW);

	buf_init(&t->ca_blob, 64u << 20);
	t->ca_dir =
		o->system_ca_dir != NULL && o->system_ca_dir[0] != '\0' ? o->system_ca_dir : NULL;
	t->hostport = strdup(hostport);
	if (t->hostport == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (o->ca_file != NULL && o->ca_file[0] != '\0' &&
	    append_file(&extra, o->ca_file, true, err) < 0)
		return -1;
	if (o->certs_dir != NULL && o->certs_dir[0] != '\0') {
		/* docker: /etc/docker/certs.d/<host[:port]>/ca.crt extends the trusted roots */
		if (asprintf(&dir_ca, "%s/%s/ca.crt", o->certs_dir, hostport) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (append_file(&extra, dir_ca, false, err) < 0)
			return -1;
	}
	if (roots != NULL && roots[0] != '\0')
		r = append_file(&t->ca_blob, roots, true, err);
	else if (extra.len == 0)
		return 0;
	else if (vi != NULL && vi->cainfo != NULL)
		/* CURLOPT_CAINFO_BLOB replaces the default bundle file: the system roots first */
		r = append_file(&t->ca_blob, vi->cainfo, false, err);
	if (r < 0)
		return -1;
	if (buf_add(&t->ca_blob, extra.data, extra.len) < 0)
		return plate_err_new(err, errno, "CA bundle for '%s'", hostport);
	return 0;
}
