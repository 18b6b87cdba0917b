/* Unit tests for the registry module's pure parts: header and JSON parsers, docker config,
 * endpoint rules, backoff arithmetic, and the credential-helper protocol. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"
#include "tap.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_www_authenticate(void)
{
	struct reg_challenges c = { 0 };
	struct plate_error *err = NULL;
	const struct reg_challenge *b;

	tap_ok(reg_parse_www_authenticate(S("Bearer "
					    "realm=\"https://auth.docker.io/"
					    "token\",service=\"registry.docker.io\","
					    "scope=\"repository:library/alpine:pull,push\""),
					  &c, &err) == 0,
	       "bearer challenge parses");
	tap_ok(c.n == 1, "one challenge");
	b = reg_challenges_find(&c, "bearer");
	tap_ok(b != NULL, "scheme lower-cased");
	if (b != NULL) {
		tap_streq(b->realm, "https://auth.docker.io/token", "realm");
		tap_streq(b->service, "registry.docker.io", "service");
		tap_streq(b->scope, "repository:library/alpine:pull,push", "scope keeps its comma");
	}
	reg_challenges_release(&c);

	tap_ok(reg_parse_www_authenticate(S("Basic realm=\"Registry Realm\", BEARER Realm=x , "
					    "Service=\"a\\\"b\", error=invalid_token"),
					  &c, &err) == 0,
	       "two challenges, token values, quoted-pair");
	tap_ok(c.n == 2, "two challenges found");
	if (c.n == 2) {
		tap_streq(c.v[0].scheme, "basic", "first is basic");
		tap_streq(c.v[0].realm, "Registry Realm", "basic realm");
		tap_streq(c.v[1].realm, "x", "token realm, parameter name case-insensitive");
		tap_streq(c.v[1].service, "a\"b", "quoted-pair unescaped");
		tap_streq(c.v[1].error, "invalid_token", "error parameter");
	}
	reg_challenges_release(&c);

	tap_ok(reg_parse_www_authenticate(S("Negotiate abc==, Basic realm=r"), &c, &err) == 0 &&
		       c.n == 2 && reg_challenges_find(&c, "basic") != NULL,
	       "token68 challenge skipped, next one kept");
	reg_challenges_release(&c);
	tap_ok(reg_parse_www_authenticate(S("  "), &c, &err) == 0 && c.n == 0, "empty value");
	reg_challenges_release(&c);

	tap_ok(reg_parse_www_authenticate(S("Bearer realm=\"abc"), &c, &err) < 0 && err &&
		       err->line == 1 && err->column == 18,
	       "unterminated quote located at the end (col %u)", err ? err->column : 0);
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_www_authenticate(S("Bearer realm=a, realm=b"), &c, &err) < 0 && err &&
		       err->column == 17 && strstr(err->message, "repeated"),
	       "repeated parameter refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_www_authenticate(S("Bearer realm=\"a\x01\""), &c, &err) < 0,
	       "control character in quoted string refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_www_authenticate(S("Bearer realm=a service=b"), &c, &err) < 0 && err &&
		       strstr(err->message, "','"),
	       "missing comma between parameters refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_www_authenticate(S("=x"), &c, &err) < 0 && err && err->column == 1,
	       "missing scheme refused at column 1");
	plate_error_free(err);
	err = NULL;
}

static void test_link(void)
{
	struct plate_error *err = NULL;
	char *next = NULL;

	tap_ok(reg_parse_link_next(S("</v2/a/tags/list?n=2&last=b>; rel=\"next\""), &next, &err) ==
		       1,
	       "link with rel=next");
	tap_streq(next, "/v2/a/tags/list?n=2&last=b", "link target");
	free(next);
	next = NULL;
	tap_ok(reg_parse_link_next(S("<https://x/p?a=1,2>; rel=prev, <https://x/q>;title=\"a;b\"; "
				     "REL=\"first NEXT\""),
				   &next, &err) == 1,
	       "second link, rel list, case-insensitive");
	tap_streq(next, "https://x/q", "second target");
	free(next);
	next = NULL;
	tap_ok(reg_parse_link_next(S("</a>; rel=prev"), &next, &err) == 0 && next == NULL,
	       "no next link");
	tap_ok(reg_parse_link_next(S("/a; rel=next"), &next, &err) < 0 && err && err->column == 1,
	       "missing '<' refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_link_next(S("</a b>; rel=next"), &next, &err) < 0,
	       "space in target refused");
	plate_error_free(err);
	err = NULL;
}

static void test_small_headers(void)
{
	struct plate_error *err = NULL;
	char d[DIGEST_STRING_LEN + 1];
	struct reg_content_range cr;
	uint64_t v;
	int64_t t;

	tap_ok(reg_parse_digest_header(S(" sha256:"
					 "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61"
					 "caaff8a "),
				       d, &err) == 0,
	       "digest header with spaces");
	tap_streq(d, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
		  "digest trimmed");
	tap_ok(reg_parse_digest_header(S("sha256:abc"), d, &err) < 0, "short digest refused");
	plate_error_free(err);
	err = NULL;

	tap_ok(reg_parse_content_range(S("bytes 500-1499/2048"), &cr, &err) == 0 &&
		       cr.start == 500 && cr.end == 1499 && cr.total == 2048 && !cr.unsatisfied,
	       "content-range with total");
	tap_ok(reg_parse_content_range(S("bytes 500-1499/*"), &cr, &err) == 0 &&
		       cr.total == UINT64_MAX,
	       "content-range with unknown total");
	tap_ok(reg_parse_content_range(S("bytes */2048"), &cr, &err) == 0 && cr.unsatisfied &&
		       cr.total == 2048,
	       "unsatisfied content-range");
	tap_ok(reg_parse_content_range(S("bytes 9-3/20"), &cr, &err) < 0, "inverted range refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_content_range(S("bytes 0-20/20"), &cr, &err) < 0,
	       "range past total refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_content_range(S("bytes 0-99999999999999999999/3"), &cr, &err) < 0,
	       "overflow refused");
	plate_error_free(err);
	err = NULL;

	tap_ok(reg_parse_upload_range(S("0-99"), &v, &err) == 0 && v == 99, "upload range");
	tap_ok(reg_parse_upload_range(S("bytes=0-5"), &v, &err) == 0 && v == 5, "bytes= tolerated");
	tap_ok(reg_parse_upload_range(S("1-5"), &v, &err) < 0, "upload range not from 0 refused");
	plate_error_free(err);
	err = NULL;

	tap_ok(reg_parse_uint(S(" 42 "), &v, &err) == 0 && v == 42, "uint");
	tap_ok(reg_parse_uint(S("42x"), &v, &err) < 0 && err && err->column == 3,
	       "trailing junk located");
	plate_error_free(err);
	err = NULL;

	tap_ok(reg_parse_http_date(S("Sun, 06 Nov 1994 08:49:37 GMT"), &t, &err) == 0 &&
		       t == 784111777,
	       "IMF-fixdate (RFC 9110 example)");
	tap_ok(reg_parse_http_date(S(" Thu, 29 Feb 2024 23:59:60 GMT "), &t, &err) == 0 &&
		       t == 1709251200,
	       "leap day, leap second, surrounding blanks");
	static const char *const bad_dates[] = {
		"Sun, 06 Nop 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 24:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",	 "Sun, 06 Nov 1994 08:49:37 GMTX",
	};
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		tap_ok(reg_parse_http_date(S(bad_dates[i]), &t, &err) < 0 && err != NULL &&
			       strcmp(err->message, "expected an IMF-fixdate") == 0,
		       "'%s' refused", bad_dates[i]);
		plate_error_free(err);
		err = NULL;
	}
	tap_ok(reg_parse_retry_after(S("120"), NULL, 0, &v, &err) == 0 && v == 120,
	       "retry-after seconds");
	tap_ok(reg_parse_retry_after(S("Sun, 06 Nov 1994 08:50:07 GMT"),
				     S("Sun, 06 Nov 1994 08:49:37 GMT"), &v, &err) == 0 &&
		       v == 30,
	       "retry-after date against the Date header");
	tap_ok(reg_parse_retry_after(S("soon"), NULL, 0, &v, &err) < 0, "bad retry-after refused");
	plate_error_free(err);
	err = NULL;
}

static void test_urls(void)
{
	struct plate_error *err = NULL;
	char *u = NULL, *scheme = NULL, *hp = NULL;

#define LOC(base, loc, want, name)                                               \
	do {                                                                     \
		u = NULL;                                                        \
		tap_ok(reg_resolve_location(base, S(loc), &u, &err) == 0, name); \
		tap_streq(u, want, name " (value)");                             \
		free(u);                                                         \
	} while (0)
	LOC("http://h:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u1?_state=x",
	    "http://h:5000/v2/a/blobs/uploads/u1?_state=x", "absolute path");
	LOC("http://h:5000/v2/a/blobs/uploads/", "https://cdn.example/x", "https://cdn.example/x",
	    "absolute URL");
	LOC("https://h/v2/a/b?q=1", "//other/p", "https://other/p",
	    "network path keeps the scheme");
	LOC("https://h/v2/a/b?q=1", "c?d=2", "https://h/v2/a/c?d=2", "relative path");
	LOC("https://h", "x", "https://h/x", "relative path against an empty path");
#undef LOC
	tap_ok(reg_resolve_location("http://h/", S("ftp://x/y"), &u, &err) < 0,
	       "ftp location refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_resolve_location("http://h/", S("/a\r\nX: y"), &u, &err) < 0,
	       "header injection refused");
	plate_error_free(err);
	err = NULL;

	u = strdup("http://h/p");
	reg_url_add_query(&u, "digest", "sha256:x", &err);
	tap_streq(u, "http://h/p?digest=sha256:x", "query added with '?'");
	reg_url_add_query(&u, "a", "b", &err);
	tap_streq(u, "http://h/p?digest=sha256:x&a=b", "then with '&'");
	free(u);

	tap_ok(reg_url_origin("https://Auth.Example:8443/token?x", &scheme, &hp, &err) == 0,
	       "origin of a URL");
	tap_streq(scheme, "https", "scheme");
	tap_streq(hp, "auth.example:8443", "host lower-cased with port");
	free(scheme);
	free(hp);
}

static void test_json(void)
{
	struct plate_error *err = NULL;
	struct reg_token tok;
	char *s = NULL, **tags = NULL;
	size_t n = 0;

	tap_ok(reg_parse_token_response(S("{\"token\":\"abc\",\"expires_in\":300,"
					  "\"issued_at\":\"2024-01-02T03:04:05.123Z\"}"),
					&tok, &err) == 0,
	       "token response");
	tap_streq(tok.token, "abc", "token");
	tap_ok(tok.expires_in == 300, "expires_in");
	tap_ok(tok.issued_at == 1704164645, "issued_at (%lld)", (long long)tok.issued_at);
	reg_token_release(&tok);
	tap_ok(reg_parse_token_response(S("{\"access_token\":\"xyz\",\"issued_at\":"
					  "\"2024-01-02T05:04:05+02:00\",\"refresh_token\":\"r\"}"),
					&tok, &err) == 0 &&
		       strcmp(tok.token, "xyz") == 0 && tok.expires_in == 60 &&
		       tok.issued_at == 1704164645 && strcmp(tok.refresh_token, "r") == 0,
	       "access_token, default lifetime 60 s, offset applied");
	reg_token_release(&tok);
	tap_ok(reg_parse_token_response(S("{\"token\":\"\",\"access_token\":\"q\"}"), &tok, &err) ==
			       0 &&
		       strcmp(tok.token, "q") == 0,
	       "empty token falls back to access_token");
	reg_token_release(&tok);
	tap_ok(reg_parse_token_response(S("{\"expires_in\":3}"), &tok, &err) < 0,
	       "no token refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_token_response(S("{\"token\":\"a b\"}"), &tok, &err) < 0,
	       "token with a space refused (header injection)");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_token_response(S("{\"token\":\"a\",\"expires_in\":-1}"), &tok, &err) < 0,
	       "negative lifetime refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_token_response(S("{\"token\":\n  \"a\",}"), &tok, &err) < 0 && err &&
		       err->line == 2,
	       "syntax error located on line 2");
	plate_error_free(err);
	err = NULL;

	tap_ok(reg_parse_error_body(S("{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
				      "\"authentication "
				      "required\",\"detail\":[1]},{\"code\":\"DENIED\"}]}"),
				    &s) == 1,
	       "error body");
	tap_streq(s, "UNAUTHORIZED: authentication required; DENIED", "error summary");
	free(s);
	s = NULL;
	tap_ok(reg_parse_error_body(S("<html>nope</html>"), &s) == 0, "HTML is not an error body");
	tap_ok(reg_parse_error_body(S("{\"errors\":[{\"code\":\"X\",\"message\":\"a\\u001b[31m\"}]"
				      "}"),
				    &s) == 1 &&
		       strchr(s, 0x1b) == NULL,
	       "terminal escapes dropped from registry text");
	free(s);

	tap_ok(reg_parse_tags(S("{\"name\":\"a\",\"tags\":[\"v1\",\"v2\"]}"), &tags, &n, 10,
			      &err) == 0 &&
		       n == 2,
	       "tags");
	tap_ok(reg_parse_tags(S("{\"name\":\"a\",\"tags\":[\"v3\"]}"), &tags, &n, 10, &err) == 0 &&
		       n == 3 && strcmp(tags[2], "v3") == 0,
	       "second page appended");
	tap_ok(reg_parse_tags(S("{\"tags\":[\"a\",\"b\"]}"), &tags, &n, 4, &err) < 0 && err &&
		       err->errno_value == E2BIG,
	       "cap on tag count");
	plate_error_free(err);
	err = NULL;
	strv_free(tags, n);
	tags = NULL;
	n = 0;
	tap_ok(reg_parse_tags(S("{\"name\":\"a\",\"tags\":null}"), &tags, &n, 10, &err) == 0 &&
		       n == 0,
	       "null tags");
	tap_ok(reg_parse_tags(S("{\"tags\":[1]}"), &tags, &n, 10, &err) < 0,
	       "non-string tag refused");
	plate_error_free(err);
	err = NULL;
	strv_free(tags, n);

	tap_ok(reg_manifest_media_type(S("{\"mediaType\":\"x/y\"}"), &s, &err) == 1 &&
		       strcmp(s, "x/y") == 0,
	       "manifest mediaType");
	free(s);
	tap_ok(reg_manifest_media_type(S("{\"schemaVersion\":2}"), &s, &err) == 0,
	       "absent mediaType");
	tap_ok(reg_manifest_media_type(S("[]"), &s, &err) < 0, "array is not a manifest");
	plate_error_free(err);
	err = NULL;
}

static void test_base64(void)
{
	char *d = NULL, *e;
	size_t n;

	e = reg_base64_encode("user:pa ss", 10);
	tap_streq(e, "dXNlcjpwYSBzcw==", "encode");
	tap_ok(reg_base64_decode(e, strlen(e), &d, &n) == 0 && n == 10 &&
		       memcmp(d, "user:pa ss", 10) == 0,
	       "decode round trip");
	free(d);
	free(e);
	tap_ok(reg_base64_decode(S("dXNlcjpwYSBzcw"), &d, &n) == 0 && n == 10, "padding optional");
	free(d);
	tap_ok(reg_base64_decode(S("dXNl*jpw"), &d, &n) < 0, "bad character refused");
	tap_ok(reg_base64_decode(S("dXNlc"), &d, &n) < 0, "bad length refused");
	tap_ok(reg_base64_decode(S("dXNlcjpwYSBzcx=="), &d, &n) < 0, "non-canonical bits refused");
	tap_ok(reg_base64_decode(S("dXNl cjpw"), &d, &n) < 0, "white space refused");
	tap_ok(reg_base64_decode(S("dX=l"), &d, &n) < 0, "padding inside refused");
	for (size_t len = 0; len <= 4; len++) {
		e = reg_base64_encode("a:b\xff", len);
		tap_ok(e != NULL && reg_base64_decode(e, strlen(e), &d, &n) == 0 && n == len &&
			       memcmp(d, "a:b\xff", len) == 0,
		       "%zu bytes round trip (%s)", len, e ? e : "?");
		free(d);
		free(e);
		d = NULL;
	}
}

static void test_docker_config(void)
{
	static const char cfg_text[] =
		"{\n"
		"  \"auths\": {\n"
		"    \"https://index.docker.io/v1/\": {\"auth\": \"aHViOnNlY3JldDpwYXJ0\"},\n"
		"    \"registry.example.com:5000\": {\"username\": \"u\", \"password\": \"p\"},\n"
		"    \"ghcr.io\": {\"identitytoken\": \"idt\"},\n"
		"    \"store.example\": {}\n"
		"  },\n"
		"  \"credHelpers\": {\"gcr.io\": \"gcloud\"},\n"
		"  \"credsStore\": \"desktop\"\n"
		"}\n";
	struct registry_docker_config cfg = { 0 };
	struct registry_credentials cred = { 0 };
	struct plate_error *err = NULL;
	const char *helper = NULL;

	tap_ok(registry_docker_config_parse(S(cfg_text), &cfg, &err) == 0, "docker config parses");
	tap_ok(cfg.n_auths == 4 && cfg.n_helpers == 1, "entries counted");
	tap_ok(registry_docker_config_lookup(&cfg, "docker.io", &cred, &helper, &err) == 1,
	       "docker.io found under the index URL");
	tap_streq(cred.username, "hub", "user from base64 auth");
	tap_streq(cred.password, "secret:part", "password keeps later colons");
	registry_credentials_release(&cred);
	tap_ok(registry_docker_config_lookup(&cfg, "registry.example.com:5000", &cred, &helper,
					     &err) == 1 &&
		       strcmp(cred.password, "p") == 0,
	       "username/password entry");
	registry_credentials_release(&cred);
	tap_ok(registry_docker_config_lookup(&cfg, "ghcr.io", &cred, &helper, &err) == 1 &&
		       strcmp(cred.identity_token, "idt") == 0 && cred.username == NULL,
	       "identity token");
	registry_credentials_release(&cred);
	tap_ok(registry_docker_config_lookup(&cfg, "gcr.io", &cred, &helper, &err) == 2 &&
		       strcmp(helper, "gcloud") == 0,
	       "credHelpers wins");
	tap_ok(registry_docker_config_lookup(&cfg, "store.example", &cred, &helper, &err) == 2 &&
		       strcmp(helper, "desktop") == 0,
	       "empty auths entry goes to credsStore");
	registry_docker_config_release(&cfg);

	tap_ok(registry_docker_config_parse(S("{\"auths\":{}}"), &cfg, &err) == 0 &&
		       registry_docker_config_lookup(&cfg, "quay.io", &cred, &helper, &err) == 0,
	       "nothing configured");
	registry_docker_config_release(&cfg);

	tap_ok(registry_docker_config_parse(S("{\n\"auths\": {\n  \"x\": {\"auth\": \"!!\"}}}"),
					    &cfg, &err) < 0 &&
		       err && strstr(err->message, "auths.'x'.'auth'"),
	       "bad base64 names the key");
	plate_error_free(err);
	err = NULL;
	tap_ok(registry_docker_config_parse(S("{\"auths\": {\"x\": {\"auth\": \"dXNlcg==\"}}}"),
					    &cfg, &err) < 0,
	       "auth without ':' refused");
	plate_error_free(err);
	err = NULL;
	tap_ok(registry_docker_config_parse(S("{\n  \"auths\": {\n    \"x\": 1,\n}"), &cfg, &err) <
			       0 &&
		       err && err->line == 4,
	       "syntax error located (line %u)", err ? err->line : 0);
	plate_error_free(err);
	err = NULL;
	tap_ok(registry_docker_config_parse(S("{\"credsStore\": \"../../bin/sh\"}"), &cfg, &err) <
		       0,
	       "helper name with a path refused");
	plate_error_free(err);
	err = NULL;

	tap_ok(registry_credential_helper_parse(S("{\"ServerURL\":\"x\",\"Username\":\"bob\","
						  "\"Secret\":\"pw\"}"),
						&cred, &err) == 0 &&
		       strcmp(cred.username, "bob") == 0 && strcmp(cred.password, "pw") == 0,
	       "helper answer");
	registry_credentials_release(&cred);
	tap_ok(registry_credential_helper_parse(S("{\"Username\":\"<token>\",\"Secret\":\"t\"}"),
						&cred, &err) == 0 &&
		       strcmp(cred.identity_token, "t") == 0,
	       "helper identity token");
	registry_credentials_release(&cred);
	tap_streq(registry_credential_server_url("docker.io"), "https://index.docker.io/v1/",
		  "docker hub server URL for helpers");
}

static void write_helper(const char *dir, const char *name, const char *body)
{
	_cleanup_free_ char *path = NULL;
	FILE *f;

	if (asprintf(&path, "%s/docker-credential-%s", dir, name) < 0)
		return;
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

static void test_credential_helper(void)
{
	char dir[] = "/tmp/plate-credhelper-XXXXXX";
	struct registry_credentials cred = { 0 };
	struct plate_error *err = NULL;

	if (mkdtemp(dir) == NULL) {
		tap_ok(false, "mkdtemp");
		return;
	}
	write_helper(dir, "good",
		     "[ \"$1\" = get ] || exit 9\nread url\n"
		     "printf '{\"ServerURL\":\"%s\",\"Username\":\"u-%s\",\"Secret\":\"s\"}' "
		     "\"$url\" \"$url\"");
	write_helper(dir, "none",
		     "cat >/dev/null\necho 'credentials not found in native keychain'\nexit 1");
	write_helper(dir, "broken", "exit 3");
	tap_ok(registry_credential_helper_get("good", dir, "reg.example:5000", &cred, &err) == 1,
	       "helper run");
	tap_streq(cred.username, "u-reg.example:5000", "helper got the server URL on stdin");
	registry_credentials_release(&cred);
	tap_ok(registry_credential_helper_get("none", dir, "x", &cred, &err) == 0,
	       "helper without credentials");
	tap_ok(registry_credential_helper_get("broken", dir, "x", &cred, &err) < 0 && err &&
		       strstr(err->message, "exit status 3"),
	       "failing helper reported");
	plate_error_free(err);
	err = NULL;
	tap_ok(registry_credential_helper_get("missing", dir, "x", &cred, &err) < 0 && err &&
		       err->errno_value == ENOENT,
	       "missing helper reported");
	plate_error_free(err);
	static const char *const names[] = { "good", "none", "broken" };
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/docker-credential-%s", dir, names[i]) >= 0)
			unlink(p);
	}
	rmdir(dir);
}

static void test_endpoints(void)
{
	struct reg_mirrors m = { 0 };
	struct plate_error *err = NULL;
	char *h;

	tap_ok(reg_host_is_local("localhost") && reg_host_is_local("localhost:5000") &&
		       reg_host_is_local("127.0.0.1:5000") && reg_host_is_local("127.45.6.7") &&
		       reg_host_is_local("[::1]:5000") && reg_host_is_local("::1"),
	       "loopback hosts are local");
	tap_ok(!reg_host_is_local("128.0.0.1") && !reg_host_is_local("localhost.example.com") &&
		       !reg_host_is_local("127.0.0.1.nip.io") &&
		       !reg_host_is_local("127.0.0.256") && !reg_host_is_local("docker.io"),
	       "look-alikes are not local");
	tap_ok(reg_host_in_list("a.example, reg.internal:5000", "reg.internal:5000") &&
		       reg_host_in_list("a.example,reg.internal", "reg.internal:5000") &&
		       !reg_host_in_list("reg.internal:5000", "reg.internal:6000") &&
		       !reg_host_in_list(NULL, "x"),
	       "insecure list matches host:port or host");
	tap_streq(reg_domain_host("docker.io"), "registry-1.docker.io", "docker.io API host");
	tap_streq(reg_domain_host("ghcr.io"), "ghcr.io", "other hosts unchanged");
	h = reg_normalize_host(S("https://Index.Docker.IO/v1/"));
	tap_streq(h, "docker.io", "hub alias normalised");
	free(h);
	h = reg_normalize_host(S("http://Reg.Example:5000/v2/"));
	tap_streq(h, "reg.example:5000", "scheme and path dropped, lower case");
	free(h);

	tap_ok(reg_parse_mirrors(S("docker.io=http://127.0.0.1:5000, ghcr.io=https://m.example/ ,"
				   "quay.io=mirror.local:81,,"),
				 &m, &err) == 0 &&
		       m.n == 3,
	       "mirror list");
	if (m.n == 3) {
		tap_streq(m.v[0].domain, "docker.io", "mirror domain");
		tap_streq(m.v[0].url, "http://127.0.0.1:5000", "mirror url");
		tap_streq(m.v[1].url, "https://m.example", "trailing slash dropped");
		tap_streq(m.v[2].url, "mirror.local:81", "scheme-less url kept as written");
	}
	reg_mirrors_release(&m);
	tap_ok(reg_parse_mirrors(S("docker.io=http://x,ghcr.io"), &m, &err) < 0 && err &&
		       err->column == 20,
	       "item without '=' located (col %u)", err ? err->column : 0);
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_mirrors(S("docker.io=http://x/path"), &m, &err) < 0 && err &&
		       err->column == 19,
	       "mirror path refused (col %u)", err ? err->column : 0);
	plate_error_free(err);
	err = NULL;
	tap_ok(reg_parse_mirrors(S("docker.io=http://"), &m, &err) < 0,
	       "mirror without host refused");
	plate_error_free(err);
}

static unsigned slept[16], n_slept;

static void fake_sleep(void *data, unsigned ms)
{
	(void)data;
	if (n_slept < 16)
		slept[n_slept++] = ms;
}

static void test_backoff(void)
{
	struct registry_options o = { .backoff_ms = 100,
				      .max_backoff_ms = 1000,
				      .sleep_ms = fake_sleep };
	struct registry_client *c = NULL;
	struct plate_error *err = NULL;

	tap_ok(registry_client_new(&o, &c, &err) == 0, "client without network I/O");
	reg_sleep_backoff(c, 1, 0);
	reg_sleep_backoff(c, 2, 0);
	reg_sleep_backoff(c, 3, 0);
	reg_sleep_backoff(c, 9, 0);
	tap_ok(slept[0] == 100 && slept[1] == 200 && slept[2] == 400 && slept[3] == 1000,
	       "exponential backoff capped (%u %u %u %u)", slept[0], slept[1], slept[2], slept[3]);
	n_slept = 0;
	/* Retry-After honoured when longer than the backoff, within the cap */
	{
		struct registry_options o2 = o;
		struct registry_client *c2 = NULL;
		o2.max_backoff_ms = 5000;
		registry_client_new(&o2, &c2, &err);
		reg_sleep_backoff(c2, 1, 3);
		reg_sleep_backoff(c2, 1, 60);
		reg_sleep_backoff(c2, 1, (uint64_t)1 << 40);
		tap_ok(slept[0] == 3000 && slept[1] == 5000 && slept[2] == 5000,
		       "Retry-After honoured and capped (%u %u %u)", slept[0], slept[1], slept[2]);
		registry_client_free(c2);
	}
	registry_client_free(c);

	{
		/* endpoint choice only: no request is sent */
		struct registry_options o3 = { .mirrors = "docker.io=http://127.0.0.1:5000,"
							  "docker.io=mirror.example:81",
					       .insecure = "reg.internal",
					       .secure = "127.0.0.1:6000",
					       .certs_dir = "" };
		struct registry_client *c3 = NULL;
		struct reg_endpoint *eps[4];
		size_t n = 0;

		registry_client_new(&o3, &c3, &err);
		tap_ok(reg_endpoints(c3, "docker.io", true, eps, 4, &n, &err) == 0 && n == 2 &&
			       strcmp(eps[0]->base, "http://127.0.0.1:5000") == 0 &&
			       strcmp(eps[1]->base, "https://mirror.example:81") == 0 &&
			       eps[1]->mirror &&
			       strcmp(eps[1]->cred_host, "mirror.example:81") == 0,
		       "reads go to the mirrors in order, credentials keyed by the mirror host");
		tap_ok(reg_endpoints(c3, "docker.io", false, eps, 4, &n, &err) == 0 && n == 1 &&
			       strcmp(eps[0]->base, "https://registry-1.docker.io") == 0 &&
			       strcmp(eps[0]->cred_host, "docker.io") == 0,
		       "writes go to Docker Hub itself");
		tap_ok(reg_endpoints(c3, "localhost:5000", false, eps, 4, &n, &err) == 0 &&
			       strcmp(eps[0]->base, "http://localhost:5000") == 0,
		       "localhost over http");
		tap_ok(reg_endpoints(c3, "127.0.0.1:6000", false, eps, 4, &n, &err) == 0 &&
			       strcmp(eps[0]->base, "https://127.0.0.1:6000") == 0,
		       "a local host listed as secure uses https");
		tap_ok(reg_endpoints(c3, "reg.internal:5000", false, eps, 4, &n, &err) == 0 &&
			       strcmp(eps[0]->base, "http://reg.internal:5000") == 0,
		       "an insecure host uses http");
		tap_ok(reg_endpoints(c3, "ghcr.io", true, eps, 4, &n, &err) == 0 && n == 1 &&
			       strcmp(eps[0]->base, "https://ghcr.io") == 0,
		       "other registries over https, no mirror");
		registry_client_free(c3);
		o3.mirror_fallback = true;
		registry_client_new(&o3, &c3, &err);
		tap_ok(reg_endpoints(c3, "docker.io", true, eps, 4, &n, &err) == 0 && n == 3 &&
			       strcmp(eps[2]->base, "https://registry-1.docker.io") == 0,
		       "mirror_fallback adds the registry after its mirrors");
		registry_client_free(c3);
	}

	o.mirrors = "docker.io=";
	tap_ok(registry_client_new(&o, &c, &err) < 0 && err && strstr(err->message, "no host"),
	       "bad mirror option refused at creation");
	plate_error_free(err);
}

/* The checked setopt against the real libcurl: a URL over libcurl's 8 MB input limit is
 * refused, the refusal names the option, and the options after it are not applied. */
static void test_setopt_checked(void)
{
	_cleanup_error_ struct plate_error *err = NULL;
	size_t n = 9u << 20;
	char *url = malloc(n + 1);
	struct reg_setopts so = { 0 };
	int rc;

	if (reg_curl_load(&err) < 0 || url == NULL || (so.curl = reg_curl.easy_init()) == NULL) {
		tap_ok(false, "libcurl loads: %s", err ? err->message : "out of memory");
		free(url);
		return;
	}
	memcpy(url, "http://127.0.0.1/", 17);
	memset(url + 17, 'a', n - 17);
	url[n] = '\0';
	REG_SETOPT(&so, CURLOPT_NOSIGNAL, 1L);
	TAP_OK(reg_setopts_done(&so, &err) == 0, "an accepted option is no error");
	REG_SETOPT(&so, CURLOPT_URL, url);
	REG_SETOPT(&so, CURLOPT_MAXREDIRS, 3L);
	rc = reg_setopts_done(&so, &err);
	TAP_OK(rc < 0 && err->errno_value == EINVAL &&
		       strstr(err->message, "libcurl refused CURLOPT_URL: ") == err->message,
	       "a refused option is an error naming it (%s)", err ? err->message : "none");
	TAP_OK(so.rc != CURLE_OK && strcmp(so.failed, "CURLOPT_URL") == 0,
	       "the first refusal is kept");
	reg_curl.easy_cleanup(so.curl);
	free(url);
}

int main(void)
{
	test_www_authenticate();
	test_link();
	test_small_headers();
	test_urls();
	test_json();
	test_base64();
	test_docker_config();
	test_credential_helper();
	test_endpoints();
	test_backoff();
	test_setopt_checked();
	return tap_done();
}
