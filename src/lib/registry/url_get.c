/*
 * registry_url_get(): a plain GET for the engine's ADD <url> (http and https only,
 * redirects followed, a size cap, TLS verified against the system's CA store), hashed while
 * written.  Here because this module is the only one that touches CURL; no registry auth,
 * mirrors or retries apply.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/output.h"
#include "registry/registry_internal.h"

struct sink {
	int fd;
	unsigned long long max;
	struct digest d;
	unsigned long long n;
	int error;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *data)
{
	struct sink *s = data;
	size_t len = size * nmemb;

	if (s->n + len > s->max) {
		s->error = EFBIG;
		return 0;
	}
	if (write_all(s->fd, p, len) < 0) {
		s->error = errno;
		return 0;
	}
	digest_update(&s->d, p, len);
	s->n += len;
	return len;
}

int registry_url_get(const char *url, int fd, uint64_t max, char digest_out[DIGEST_STRING_LEN + 1],
		     long long *mtime, struct plate_error **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sink s = { .fd = fd, .max = max };
	curl_off_t filetime = -1;
	long status = 0;
	struct reg_setopts so = { 0 };
	CURLcode rc;
	CURL *h;

	*mtime = -1;
	if (reg_curl_load(err) < 0 || digest_init(&s.d, err) < 0)
		return -1;
	h = reg_curl.easy_init();
	if (h == NULL) {
		digest_release(&s.d);
		return plate_err_new(err, ENOMEM, "cannot start a download");
	}
	so.curl = h;
	REG_SETOPT(&so, CURLOPT_URL, url);
	REG_SETOPT(&so, CURLOPT_PROTOCOLS_STR, "http,https");
	REG_SETOPT(&so, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	REG_SETOPT(&so, CURLOPT_FOLLOWLOCATION, 1L);
	REG_SETOPT(&so, CURLOPT_MAXREDIRS, 10L);
	REG_SETOPT(&so, CURLOPT_FAILONERROR, 1L);
	REG_SETOPT(&so, CURLOPT_FILETIME, 1L);
	REG_SETOPT(&so, CURLOPT_NOSIGNAL, 1L);
	REG_SETOPT(&so, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled transfer (under 1 byte/s for a minute) is an error, not a hang. */
	REG_SETOPT(&so, CURLOPT_LOW_SPEED_LIMIT, 1L);
	REG_SETOPT(&so, CURLOPT_LOW_SPEED_TIME, 60L);
	REG_SETOPT(&so, CURLOPT_ERRORBUFFER, errbuf);
	REG_SETOPT(&so, CURLOPT_WRITEFUNCTION, on_data);
	REG_SETOPT(&so, CURLOPT_WRITEDATA, &s);
	if (reg_setopts_done(&so, err) < 0) {
		reg_curl.easy_cleanup(h);
		digest_release(&s.d);
		return -1;
	}
	rc = reg_curl.easy_perform(h);
	reg_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	reg_curl.easy_getinfo(h, CURLINFO_FILETIME_T, &filetime);
	reg_curl.easy_cleanup(h);
	if (rc != CURLE_OK) {
		digest_release(&s.d);
		if (s.error != 0)
			return plate_err_new(err, s.error, "cannot download '%s'", url);
		if (rc == CURLE_HTTP_RETURNED_ERROR)
			return plate_err_new(err, 0, "cannot download '%s': HTTP status %ld", url,
					     status);
		return plate_err_new(err, 0, "cannot download '%s': %s", url,
				     errbuf[0] ? errbuf : reg_curl.easy_strerror(rc));
	}
	digest_final(&s.d, digest_out);
	digest_release(&s.d);
	if (filetime >= 0)
		*mtime = (long long)filetime;
	return 0;
}
