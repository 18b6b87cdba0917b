/*
 * The client: endpoints, credentials, the authentication schemes, the token cache, and
 * reg_send(), the one loop every registry request goes through (authenticate, send, answer
 * a 401 challenge, back off and retry 429/5xx and connection failures).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/cleanup.h"
#include "registry/registry_internal.h"

static uint64_t default_now_ms(void *data)
{
	struct timespec ts;

	(void)data;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void default_sleep_ms(void *data, unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	(void)data;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t reg_now_ms(struct registry_client *c)
{
	return c->opts.now_ms(c->opts.clock_data);
}

void reg_sleep_backoff(struct registry_client *c, unsigned attempt, uint64_t retry_after_s)
{
	uint64_t ms = c->opts.backoff_ms;

	for (unsigned i = 1; i < attempt && ms < c->opts.max_backoff_ms; i++)
		ms *= 2;
	/* Retry-After (RFC 9110 10.2.3) wins when longer, within the same cap. */
	if (retry_after_s > 0 && retry_after_s < UINT32_MAX / 1000 && retry_after_s * 1000 > ms)
		ms = retry_after_s * 1000;
	else if (retry_after_s >= UINT32_MAX / 1000)
		ms = c->opts.max_backoff_ms;
	if (ms > c->opts.max_backoff_ms)
		ms = c->opts.max_backoff_ms;
	c->opts.sleep_ms(c->opts.clock_data, (unsigned)ms);
}

int registry_client_new(const struct registry_options *opts, struct registry_client **out,
			struct plate_error **err)
{
	struct registry_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	c->opts = *opts;
	if (c->opts.certs_dir == NULL)
		c->opts.certs_dir = "/etc/docker/certs.d";
	if (c->opts.user_agent == NULL)
		c->opts.user_agent = "plate";
	if (c->opts.max_attempts == 0)
		c->opts.max_attempts = 4;
	if (c->opts.backoff_ms == 0)
		c->opts.backoff_ms = 500;
	if (c->opts.max_backoff_ms == 0)
		c->opts.max_backoff_ms = 30000;
	if (c->opts.connect_timeout_s == 0)
		c->opts.connect_timeout_s = 30;
	if (c->opts.stall_timeout_s == 0)
		c->opts.stall_timeout_s = 60;
	if (c->opts.max_manifest_size == 0)
		c->opts.max_manifest_size = 4u << 20;
	if (c->opts.now_ms == NULL)
		c->opts.now_ms = default_now_ms;
	if (c->opts.sleep_ms == NULL)
		c->opts.sleep_ms = default_sleep_ms;
	if (opts->mirrors != NULL &&
	    reg_parse_mirrors(opts->mirrors, strlen(opts->mirrors), &c->mirrors, err) < 0) {
		plate_err_wrap(err, "registry mirrors '%s'", opts->mirrors);
		free(c);
		return -1;
	}
	if (reg_http_new(c->opts.user_agent, c->opts.connect_timeout_s, c->opts.stall_timeout_s,
			 &c->http, err) < 0) {
		reg_mirrors_release(&c->mirrors);
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void endpoint_free(struct reg_endpoint *ep)
{
	free(ep->base);
	free(ep->hostport);
	free(ep->cred_host);
	free(ep->realm);
	free(ep->service);
	reg_tls_release(&ep->tls);
	registry_credentials_release(&ep->cred);
	free(ep);
}

static void token_entry_clear(struct reg_token_entry *t)
{
	free(t->key);
	if (t->token != NULL)
		explicit_bzero(t->token, strlen(t->token));
	free(t->token);
	memset(t, 0, sizeof(*t));
}

void registry_client_free(struct registry_client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_endpoints; i++)
		endpoint_free(c->endpoints[i]);
	free(c->endpoints);
	for (size_t i = 0; i < c->n_tokens; i++)
		token_entry_clear(&c->tokens[i]);
	reg_mirrors_release(&c->mirrors);
	reg_http_free(c->http);
	free(c);
}

void registry_client_stats(const struct registry_client *c, struct registry_stats *out)
{
	*out = c->stats;
}

/* ---- endpoints ------------------------------------------------------------------------------- */

static bool plain_http(const struct registry_client *c, const char *hostport)
{
	_cleanup_free_ char *dir = NULL;
	struct stat st;

	if (reg_host_in_list(c->opts.secure, hostport))
		return false;
	if (reg_host_in_list(c->opts.insecure, hostport))
		return true;
	if (!reg_host_is_local(hostport))
		return false;
	/* docker's convention: a certs.d entry says the registry on this host speaks TLS */
	if (c->opts.certs_dir[0] != '\0' &&
	    asprintf(&dir, "%s/%s", c->opts.certs_dir, hostport) >= 0 && stat(dir, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return false;
	return true;
}

static struct reg_endpoint *endpoint_get(struct registry_client *c, const char *scheme,
					 const char *hostport, const char *cred_host, bool mirror,
					 struct plate_error **err)
{
	_cleanup_free_ char *base = NULL;
	struct reg_endpoint *ep, **grown;

	if (asprintf(&base, "%s://%s", scheme, hostport) < 0) {
		plate_err_new(err, ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < c->n_endpoints; i++)
		if (strcmp(c->endpoints[i]->base, base) == 0 &&
		    strcmp(c->endpoints[i]->cred_host, cred_host) == 0)
			return c->endpoints[i];
	ep = calloc(1, sizeof(*ep));
	grown = realloc(c->endpoints, (c->n_endpoints + 1) * sizeof(*grown));
	if (ep == NULL || grown == NULL) {
		free(ep);
		if (grown != NULL)
			c->endpoints = grown;
		plate_err_new(err, ENOMEM, "out of memory");
		return NULL;
	}
	c->endpoints = grown;
	ep->base = steal_pointer(&base);
	ep->hostport = strdup(hostport);
	ep->cred_host = strdup(cred_host);
	ep->mirror = mirror;
	buf_init(&ep->tls.ca_blob, 0);
	if (ep->hostport == NULL || ep->cred_host == NULL) {
		endpoint_free(ep);
		plate_err_new(err, ENOMEM, "out of memory");
		return NULL;
	}
	if (strcmp(scheme, "https") == 0 && reg_tls_init(&ep->tls, hostport, &c->opts, err) < 0) {
		endpoint_free(ep);
		return NULL;
	}
	c->endpoints[c->n_endpoints++] = ep;
	return ep;
}

int reg_endpoints(struct registry_client *c, const char *domain, bool read,
		  struct reg_endpoint **eps, size_t max, size_t *n, struct plate_error **err)
{
	_cleanup_free_ char *norm = reg_normalize_host(domain, strlen(domain));
	const char *host;

	if (norm == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	*n = 0;
	for (size_t i = 0; read && i < c->mirrors.n && *n + 1 < max; i++) {
		const struct reg_mirror *m = &c->mirrors.v[i];
		const char *url = m->url, *hp;
		const char *scheme;

		if (strcmp(m->domain, norm) != 0)
			continue;
		if (strncmp(url, "http://", 7) == 0) {
			scheme = "http";
			hp = url + 7;
		} else if (strncmp(url, "https://", 8) == 0) {
			scheme = "https";
			hp = url + 8;
		} else {
			hp = url;
			scheme = plain_http(c, hp) ? "http" : "https";
		}
		_cleanup_free_ char *hostport = strndup(hp, strcspn(hp, "/"));
		if (hostport == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		eps[*n] = endpoint_get(c, scheme, hostport, hostport, true, err);
		if (eps[*n] == NULL)
			return -1;
		(*n)++;
	}
	if (*n > 0 && !c->opts.mirror_fallback)
		return 0;
	host = reg_domain_host(norm);
	eps[*n] = endpoint_get(c, plain_http(c, host) || plain_http(c, domain) ? "http" : "https",
			       host, norm, false, err);
	if (eps[*n] == NULL)
		return -1;
	(*n)++;
	return 0;
}

char *reg_url(const struct reg_endpoint *ep, const char *repo, const char *kind, const char *ref)
{
	char *u = NULL;

	if (asprintf(&u, "%s/v2/%s%s%s%s%s", ep->base, repo ? repo : "", repo ? "/" : "",
		     kind ? kind : "", ref && *ref ? "/" : "", ref ? ref : "") < 0)
		return NULL;
	return u;
}

/* ---- credentials ------------------------------------------------------------------------------- */

static int endpoint_credentials(struct registry_client *c, struct reg_endpoint *ep,
				struct plate_error **err)
{
	const char *helper = NULL;
	int r = 0;

	if (ep->cred_looked_up)
		return 0;
	if (c->opts.credentials != NULL) {
		r = c->opts.credentials(c->opts.credentials_data, ep->cred_host, &ep->cred, err);
		if (r < 0)
			return plate_err_wrap(err, "credentials for '%s'", ep->cred_host);
	}
	if (r == 0 && c->opts.docker_config != NULL) {
		r = registry_docker_config_lookup(c->opts.docker_config, ep->cred_host, &ep->cred,
						  &helper, err);
		if (r < 0)
			return -1;
		if (r == 2) {
			r = 0;
			if (c->opts.credential_helpers) {
				r = registry_credential_helper_get(helper,
								   c->opts.credential_helper_dir,
								   registry_credential_server_url(
									   ep->cred_host),
								   &ep->cred, err);
				if (r < 0)
					return plate_err_wrap(err, "credentials for '%s'",
							      ep->cred_host);
			}
		}
	}
	ep->has_cred = r == 1;
	ep->cred_looked_up = true;
	return 0;
}

static bool has_password(const struct reg_endpoint *ep)
{
	return ep->has_cred && ep->cred.username != NULL && ep->cred.password != NULL;
}

/* ---- bearer tokens (docker token spec, as distribution implements it) --------------------------- */

static void add_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			buf_addch(b, (char)ch);
		} else {
			buf_addch(b, '%');
			buf_addch(b, hex[ch >> 4]);
			buf_addch(b, hex[ch & 15]);
		}
	}
}

/* The scopes a request needs, space-separated: repository:<repo>:pull[,push], plus
 * repository:<from>:pull for a mount, plus whatever the challenge asked for. */
static int scopes_for(const struct reg_call *call, const char *challenge_scope, struct buf *out)
{
	if (call->repo != NULL)
		buf_addf(out, "repository:%s:%s", call->repo, call->push ? "pull,push" : "pull");
	if (call->mount_from != NULL)
		buf_addf(out, "%srepository:%s:pull", out->len ? " " : "", call->mount_from);
	if (challenge_scope != NULL && challenge_scope[0] != '\0' &&
	    strstr(out->data, challenge_scope) == NULL)
		buf_addf(out, "%s%s", out->len ? " " : "", challenge_scope);
	return out->len < out->max ? 0 : -1;
}

static struct reg_token_entry *token_find(struct registry_client *c, const char *key)
{
	for (size_t i = 0; i < c->n_tokens; i++)
		if (strcmp(c->tokens[i].key, key) == 0)
			return &c->tokens[i];
	return NULL;
}

static void token_drop(struct registry_client *c, const char *key)
{
	struct reg_token_entry *t = token_find(c, key);

	if (t == NULL)
		return;
	token_entry_clear(t);
	*t = c->tokens[--c->n_tokens];
	memset(&c->tokens[c->n_tokens], 0, sizeof(c->tokens[0]));
}

static int token_store(struct registry_client *c, char *key, char *token, uint64_t expires_in_s)
{
	struct reg_token_entry *t = token_find(c, key);
	uint64_t life_ms = expires_in_s * 1000, margin = life_ms / 10;

	/* Refresh a little before the server's deadline: a tenth of the lifetime, at most 10 s. */
	if (margin > 10000)
		margin = 10000;
	if (t == NULL && c->n_tokens == REG_MAX_TOKENS) {
		size_t lru = 0;
		for (size_t i = 1; i < c->n_tokens; i++)
			if (c->tokens[i].used < c->tokens[lru].used)
				lru = i;
		token_entry_clear(&c->tokens[lru]);
		t = &c->tokens[lru];
	} else if (t == NULL) {
		t = &c->tokens[c->n_tokens++];
	} else {
		token_entry_clear(t);
	}
	t->key = key;
	t->token = token;
	t->expires_ms = reg_now_ms(c) + life_ms - margin;
	t->used = ++c->token_clock;
	return 0;
}

struct token_request {
	const char *realm, *service, *scopes;
};

static int fetch_token(struct registry_client *c, struct reg_endpoint *ep,
		       const struct reg_call *call, const struct token_request *tr,
		       struct reg_token *tok, struct plate_error **err)
{
	_cleanup_buf_ struct buf url = BUF_INIT(REG_URL_MAX);
	_cleanup_buf_ struct buf form = BUF_INIT(REG_URL_MAX * 2);
	_cleanup_free_ char *basic = NULL, *authz = NULL, *scheme = NULL, *hostport = NULL;
	struct http_response resp;
	struct reg_tls tls = { 0 };
	struct registry_mem_source ms;
	struct registry_source src;
	static const char *const form_headers[] = {
		"Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL
	};
	static const char *const get_headers[] = { "Accept: application/json", NULL };
	struct http_request req = { .follow_redirects = true, .body_max = REG_TOKEN_BODY_MAX };
	const char *sp;
	int rc = -1;

	if (reg_url_origin(tr->realm, &scheme, &hostport, err) < 0)
		return plate_err_wrap(err, "token realm");
	buf_init(&tls.ca_blob, 0);
	if (strcmp(scheme, "https") == 0 && reg_tls_init(&tls, hostport, &c->opts, err) < 0) {
		reg_tls_release(&tls);
		return -1;
	}
	http_response_init(&resp);
	buf_addstr(&url, tr->realm);
	if (ep->has_cred && ep->cred.identity_token != NULL) {
		/* OAuth2 refresh-token grant, as docker login stores identity tokens. */
		buf_addstr(&form, "grant_type=refresh_token&client_id=plate&refresh_token=");
		add_escaped(&form, ep->cred.identity_token);
		if (tr->service != NULL) {
			buf_addstr(&form, "&service=");
			add_escaped(&form, tr->service);
		}
		if (tr->scopes[0] != '\0') {
			buf_addstr(&form, "&scope=");
			add_escaped(&form, tr->scopes);
		}
		if (form.len >= form.max) {
			plate_err_new(err, E2BIG, "token request too large");
			goto out;
		}
		registry_mem_source_init(&ms, form.data, form.len, &src);
		req.method = "POST";
		req.body = &src;
		req.body_len = form.len;
		req.headers = form_headers;
	} else {
		bool first = strchr(tr->realm, '?') == NULL;
		if (tr->service != NULL) {
			buf_addstr(&url, first ? "?service=" : "&service=");
			add_escaped(&url, tr->service);
			first = false;
		}
		/* one scope parameter per scope (docker token spec) */
		for (const char *s = tr->scopes; *s; s = sp) {
			_cleanup_free_ char *one = NULL;
			sp = s + strcspn(s, " ");
			one = strndup(s, (size_t)(sp - s));
			if (one == NULL)
				goto oom;
			buf_addstr(&url, first ? "?scope=" : "&scope=");
			add_escaped(&url, one);
			first = false;
			while (*sp == ' ')
				sp++;
		}
		req.method = "GET";
		req.headers = get_headers;
		if (has_password(ep)) {
			_cleanup_free_ char *pair = NULL;
			if (asprintf(&pair, "%s:%s", ep->cred.username, ep->cred.password) < 0)
				goto oom;
			basic = reg_base64_encode(pair, strlen(pair));
			explicit_bzero(pair, strlen(pair));
			if (basic == NULL || asprintf(&authz, "Basic %s", basic) < 0)
				goto oom;
			req.authorization = authz;
		}
	}
	if (url.len >= url.max) {
		plate_err_new(err, E2BIG, "token request URL too long");
		goto out;
	}
	req.url = url.data;
	req.tls = &tls;
	for (unsigned attempt = 1;; attempt++) {
		c->stats.token_requests++;
		if (reg_http_perform(c->http, &req, &resp, err) < 0)
			goto out;
		bool retry = resp.curl_code != 0 || resp.status == 429 || resp.status == 500 ||
			     resp.status == 502 || resp.status == 503 || resp.status == 504;
		if (!retry || attempt >= c->opts.max_attempts)
			break;
		c->stats.retries++;
		reg_sleep_backoff(c, attempt, 0);
	}
	if (resp.curl_code != 0) {
		plate_err_new(err, resp.errno_value, "cannot reach token server '%s' for '%s': %s",
			      tr->realm, call->ref, resp.curl_error);
		goto out;
	}
	if (resp.status != 200) {
		_cleanup_free_ char *summary = NULL;
		reg_parse_error_body(resp.body.data, resp.body.len, &summary);
		plate_err_new(err, resp.status == 401 || resp.status == 403 ? EACCES : EPROTO,
			      "%s access denied for '%s': token server '%s' answered %ld%s%s%s",
			      call->action, call->ref, tr->realm, resp.status,
			      resp.status == 401 ? " unauthorized" : "", summary ? ": " : "",
			      summary ? summary : (has_password(ep) ? "" : " (no credentials)"));
		goto out;
	}
	if (reg_parse_token_response(resp.body.data, resp.body.len, tok, err) < 0) {
		plate_err_wrap(err, "token server '%s'", tr->realm);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	plate_err_new(err, ENOMEM, "out of memory");
out:
	if (authz != NULL)
		explicit_bzero(authz, strlen(authz));
	if (basic != NULL)
		explicit_bzero(basic, strlen(basic));
	if (form.len > 0)
		explicit_bzero(form.data, form.len);
	http_response_release(&resp);
	reg_tls_release(&tls);
	return rc;
}

/* ---- authentication schemes (HOUSE_STYLE rule 12: one small table) ----------------------------- */

/* What a scheme produces for one request: the Authorization value (NULL: none), and for
 * bearer the cache key of the token used, so that a 401 can invalidate exactly that one. */
struct auth_out {
	char *value;
	char *token_key;
	bool fresh; /* the token was fetched for this request, not taken from the cache */
};

struct reg_auth_scheme {
	int (*authorize)(struct registry_client *c, struct reg_endpoint *ep,
			 const struct reg_call *call, const char *challenge_scope,
			 struct auth_out *out, struct plate_error **err);
};

static int authorize_anonymous(struct registry_client *c, struct reg_endpoint *ep,
			       const struct reg_call *call, const char *challenge_scope,
			       struct auth_out *out, struct plate_error **err)
{
	return 0;
}

static int authorize_basic(struct registry_client *c, struct reg_endpoint *ep,
			   const struct reg_call *call, const char *challenge_scope,
			   struct auth_out *out, struct plate_error **err)
{
	_cleanup_free_ char *pair = NULL, *b64 = NULL;

	if (endpoint_credentials(c, ep, err) < 0)
		return -1;
	if (!has_password(ep))
		return 0;
	if (asprintf(&pair, "%s:%s", ep->cred.username, ep->cred.password) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	b64 = reg_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	if (b64 == NULL || asprintf(&out->value, "Basic %s", b64) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	explicit_bzero(b64, strlen(b64));
	return 0;
}

static int authorize_bearer(struct registry_client *c, struct reg_endpoint *ep,
			    const struct reg_call *call, const char *challenge_scope,
			    struct auth_out *out, struct plate_error **err)
{
	_cleanup_buf_ struct buf scopes = BUF_INIT(4096);
	_cleanup_free_ char *key = NULL;
	struct reg_token_entry *t;
	struct reg_token tok = { 0 };

	if (endpoint_credentials(c, ep, err) < 0)
		return -1;
	if (ep->has_cred && ep->cred.registry_token != NULL)
		return asprintf(&out->value, "Bearer %s", ep->cred.registry_token) < 0
			       ? plate_err_new(err, ENOMEM, "out of memory")
			       : 0;
	if (scopes_for(call, challenge_scope, &scopes) < 0)
		return plate_err_new(err, E2BIG, "token scope too long");
	if (asprintf(&key, "%s\n%s\n%s", ep->realm, ep->service ? ep->service : "", scopes.data) <
	    0)
		return plate_err_new(err, ENOMEM, "out of memory");
	t = token_find(c, key);
	if (t != NULL && reg_now_ms(c) < t->expires_ms) {
		t->used = ++c->token_clock;
	} else {
		struct token_request tr = { ep->realm, ep->service, scopes.data };
		_cleanup_free_ char *stored_key = strdup(key);
		if (stored_key == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		if (fetch_token(c, ep, call, &tr, &tok, err) < 0)
			return -1;
		token_store(c, steal_pointer(&stored_key), steal_pointer(&tok.token),
			    tok.expires_in);
		reg_token_release(&tok);
		t = token_find(c, key);
		out->fresh = true;
	}
	if (asprintf(&out->value, "Bearer %s", t->token) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	out->token_key = steal_pointer(&key);
	return 0;
}

static const struct reg_auth_scheme auth_schemes[] = {
	[REG_AUTH_NONE] = { authorize_anonymous },
	[REG_AUTH_BASIC] = { authorize_basic },
	[REG_AUTH_BEARER] = { authorize_bearer },
};

static int authorization(struct registry_client *c, struct reg_endpoint *ep,
			 const struct reg_call *call, const char *challenge_scope, char **value,
			 char **token_key, bool *fresh, struct plate_error **err)
{
	struct auth_out out = { 0 };
	size_t k = (size_t)ep->auth;

	if (k >= sizeof(auth_schemes) / sizeof(auth_schemes[0]))
		PLATE_BUG("bad auth kind %zu", k);
	if (auth_schemes[k].authorize(c, ep, call, challenge_scope, &out, err) < 0) {
		free(out.value);
		free(out.token_key);
		return -1;
	}
	*value = out.value;
	*token_key = out.token_key;
	*fresh = out.fresh;
	return 0;
}

/* Learns from a 401.  Returns 1 when repeating the request can succeed, 0 when not. */
static int on_challenge(struct registry_client *c, struct reg_endpoint *ep,
			const struct http_response *resp, const char *used_token_key,
			bool sent_basic, char **challenge_scope, struct plate_error **err)
{
	struct reg_challenges chs = { 0 };
	const struct reg_challenge *bearer, *basic;
	_cleanup_error_ struct plate_error *perr = NULL;
	size_t len;
	const char *h = http_header(resp, "www-authenticate", &len);
	int rc = 0;

	if (h == NULL || reg_parse_www_authenticate(h, len, &chs, &perr) < 0)
		return 0; /* reported as the 401 itself */
	bearer = reg_challenges_find(&chs, "bearer");
	basic = reg_challenges_find(&chs, "basic");
	if (bearer != NULL && bearer->realm != NULL) {
		if (used_token_key != NULL)
			token_drop(c, used_token_key);
		if (ep->realm == NULL || strcmp(ep->realm, bearer->realm) != 0 ||
		    (bearer->service != NULL &&
		     (ep->service == NULL || strcmp(ep->service, bearer->service) != 0))) {
			free(ep->realm);
			free(ep->service);
			ep->realm = strdup(bearer->realm);
			ep->service = bearer->service ? strdup(bearer->service) : NULL;
			if (ep->realm == NULL || (bearer->service != NULL && ep->service == NULL)) {
				rc = plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
		}
		ep->auth = REG_AUTH_BEARER;
		free(*challenge_scope);
		*challenge_scope = bearer->scope ? strdup(bearer->scope) : NULL;
		rc = 1;
	} else if (basic != NULL && !sent_basic) {
		if (endpoint_credentials(c, ep, err) < 0) {
			rc = -1;
			goto out;
		}
		ep->auth = REG_AUTH_BASIC;
		rc = has_password(ep) ? 1 : 0;
	}
out:
	reg_challenges_release(&chs);
	return rc;
}

static bool retryable_status(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static bool retryable_transport(int errno_value)
{
	/* A certificate or protocol failure will not heal by itself, nor a host name that does
	 * not resolve (offline, or a typo): one attempt, then the error. */
	return errno_value != EPROTO && errno_value != E2BIG && errno_value != ELOOP &&
	       errno_value != ENOMEM && errno_value != EHOSTUNREACH;
}

int reg_send(struct registry_client *c, struct reg_endpoint *ep, const struct reg_call *call,
	     struct http_request *req, struct http_response *resp, struct plate_error **err)
{
	_cleanup_free_ char *challenge_scope = NULL;
	unsigned attempt = 1, auth_rounds = 0, fresh_rejected = 0;

	req->tls = &ep->tls;
	for (;;) {
		_cleanup_free_ char *authz = NULL, *token_key = NULL;
		uint64_t retry_after = 0;
		bool fresh = false;

		if (authorization(c, ep, call, challenge_scope, &authz, &token_key, &fresh, err) <
		    0)
			return -1;
		req->authorization = authz;
		c->stats.requests++;
		int r = reg_http_perform(c->http, req, resp, err);
		req->authorization = NULL;
		if (authz != NULL)
			explicit_bzero(authz, strlen(authz));
		if (r < 0)
			return -1;
		if (resp->curl_code != 0) {
			if (call->idempotent && resp->delivered == 0 &&
			    retryable_transport(resp->errno_value) &&
			    attempt < c->opts.max_attempts) {
				c->stats.retries++;
				reg_sleep_backoff(c, attempt++, 0);
				continue;
			}
			return reg_transport_error(ep, call, resp, err);
		}
		/* A cached token may have expired or been revoked: drop it and ask again.  A token
		 * fetched just now that is refused gets one more chance (the scope in the new
		 * challenge may differ), then the 401 stands. */
		if (fresh && resp->status == 401)
			fresh_rejected++;
		if (resp->status == 401 && auth_rounds < 4 && fresh_rejected < 2) {
			r = on_challenge(c, ep, resp, token_key,
					 authz != NULL && ep->auth == REG_AUTH_BASIC,
					 &challenge_scope, err);
			if (r < 0)
				return -1;
			if (r > 0) {
				auth_rounds++;
				continue;
			}
			return 0;
		}
		if (retryable_status(resp->status) && (call->idempotent || resp->status == 429) &&
		    attempt < c->opts.max_attempts) {
			size_t len, dlen;
			const char *ra = http_header(resp, "retry-after", &len);
			const char *date = http_header(resp, "date", &dlen);
			if (ra != NULL && reg_parse_retry_after(ra, len, date, date ? dlen : 0,
								&retry_after, NULL) < 0)
				retry_after = 0;
			c->stats.retries++;
			reg_sleep_backoff(c, attempt++, retry_after);
			continue;
		}
		return 0;
	}
}

/* ---- errors ---------------------------------------------------------------------------------- */

static const char *reason(long status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not found";
	case 405:
		return "method not allowed";
	case 413:
		return "payload too large";
	case 416:
		return "range not satisfiable";
	case 429:
		return "too many requests";
	case 500:
		return "internal server error";
	case 502:
		return "bad gateway";
	case 503:
		return "service unavailable";
	case 504:
		return "gateway timeout";
	default:
		return status >= 500 ? "server error" : "unexpected status";
	}
}

/* The registry's own words: its JSON error summary, else the first line of a text body. */
static char *body_summary(const struct http_response *resp)
{
	char *s = NULL;
	struct buf b = BUF_INIT(201);

	if (reg_parse_error_body(resp->body.data, resp->body.len, &s) == 1)
		return s;
	for (size_t i = 0; i < resp->body.len && b.len < 200; i++) {
		unsigned char ch = (unsigned char)resp->body.data[i];
		if (ch == '\n' || ch == '\r') {
			if (b.len > 0)
				break;
			continue;
		}
		if (ch == '<') /* an HTML error page says nothing useful */
			break;
		buf_addch(&b, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
	}
	if (b.len == 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* Go's and nginx's answers to plain HTTP sent to their TLS port. */
static bool tls_port_answer(const struct http_response *resp)
{
	static const char *const says[] = { "HTTP request to an HTTPS server",
					    "plain HTTP request was sent to HTTPS port" };

	for (size_t i = 0; i < sizeof(says) / sizeof(says[0]); i++)
		if (memmem(resp->body.data, resp->body.len, says[i], strlen(says[i])) != NULL)
			return true;
	return false;
}

/* host[:port] of an endpoint's base URL, for the hints */
static const char *base_host(const struct reg_endpoint *ep)
{
	const char *h = strstr(ep->base, "://");

	return h != NULL ? h + 3 : ep->base;
}

int reg_status_error(const struct reg_endpoint *ep, const struct reg_call *call,
		     const struct http_response *resp, struct plate_error **err)
{
	_cleanup_free_ char *summary = body_summary(resp);
	const char *sep = summary ? ": " : "";
	const char *sum = summary ? summary : "";
	long st = resp->status;

	if (st == 401 || st == 403)
		return plate_err_new(err, EACCES, "%s access denied for '%s' at '%s': %ld %s%s%s%s",
				     call->action, call->ref, ep->base, st, reason(st), sep, sum,
				     ep->cred_looked_up && !ep->has_cred
					     ? " (no credentials configured)"
					     : "");
	if (st == 404)
		return plate_err_new(err, ENOENT, "%s '%s' not found at '%s': 404 not found%s%s",
				     call->what, call->ref, ep->base, sep, sum);
	if (retryable_status(st))
		return plate_err_new(err, EAGAIN, "registry '%s' failed %s '%s': %ld %s%s%s",
				     ep->base, call->action, call->ref, st, reason(st), sep, sum);
	if (st == 400 && strncmp(ep->base, "http:", 5) == 0 && tls_port_answer(resp))
		return plate_err_new(err, EPROTO,
				     "registry '%s' speaks TLS, not plain HTTP (%s '%s'): use "
				     "--secure-registry %s, and trust its certificate with "
				     "--tls-ca "
				     "FILE, SSL_CERT_FILE or /etc/docker/certs.d/%s/ca.crt",
				     ep->base, call->action, call->ref, base_host(ep),
				     base_host(ep));
	return plate_err_new(err, EPROTO, "registry '%s' refused %s '%s': %ld %s%s%s", ep->base,
			     call->action, call->ref, st, reason(st), sep, sum);
}

int reg_transport_error(const struct reg_endpoint *ep, const struct reg_call *call,
			const struct http_response *resp, struct plate_error **err)
{
	bool https = strncmp(ep->base, "https:", 6) == 0;

	if (resp->errno_value == ETIMEDOUT)
		return plate_err_new(err, ETIMEDOUT, "registry '%s' timed out (%s '%s'): %s",
				     ep->base, call->action, call->ref, resp->curl_error);
	if (resp->errno_value == E2BIG)
		return plate_err_new(err, E2BIG, "%s '%s' from '%s' is too large", call->what,
				     call->ref, ep->base);
	/* OpenSSL reads a plain HTTP answer as a TLS record of a wrong version */
	if (https && resp->errno_value == EPROTO &&
	    strstr(resp->curl_error, "wrong version number"))
		return plate_err_new(err, EPROTO,
				     "registry '%s' does not speak TLS (%s '%s'): for plain HTTP "
				     "use "
				     "--insecure-registry %s",
				     ep->base, call->action, call->ref, base_host(ep));
	if (https && resp->errno_value == EPROTO && strstr(resp->curl_error, "certificate"))
		return plate_err_new(err, EPROTO,
				     "cannot %s '%s' at '%s': %s; trust the registry's CA with "
				     "--tls-ca FILE, SSL_CERT_FILE/SSL_CERT_DIR or "
				     "/etc/docker/certs.d/%s/ca.crt",
				     call->action, call->ref, ep->base, resp->curl_error,
				     base_host(ep));
	/* the errno is curl's error class, which curl's own message says better */
	return plate_err_new_kind(err, resp->errno_value, true, "cannot %s '%s' at '%s': %s",
				  call->action, call->ref, ep->base, resp->curl_error);
}

/* ---- ping ------------------------------------------------------------------------------------- */

int registry_ping(struct registry_client *c, const char *domain, struct plate_error **err)
{
	struct reg_endpoint *ep;
	size_t n;
	struct http_response resp;
	struct reg_call call = {
		.action = "log in to", .what = "registry", .ref = domain, .idempotent = true
	};
	_cleanup_free_ char *url = NULL;
	int rc = -1;

	if (reg_endpoints(c, domain, false, &ep, 1, &n, err) < 0)
		return -1;
	url = reg_url(ep, NULL, NULL, NULL);
	if (url == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	/* A login must prove the credentials: look them up before the first request so that a
	 * registry answering /v2/ anonymously still sees them through its challenge. */
	if (endpoint_credentials(c, ep, err) < 0)
		return -1;
	http_response_init(&resp);
	struct http_request req = { .method = "GET", .url = url, .follow_redirects = true };
	if (reg_send(c, ep, &call, &req, &resp, err) < 0)
		goto out;
	if (resp.status != 200) {
		reg_status_error(ep, &call, &resp, err);
		goto out;
	}
	rc = 0;
out:
	http_response_release(&resp);
	return rc;
}
