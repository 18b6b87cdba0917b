/*
 * ~/.docker/config.json: the parts a registry client needs ("auths", "credHelpers",
 * "credsStore"), and the JSON a docker-credential helper prints.  Pure: the caller reads
 * the file and passes its bytes.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "registry/registry_internal.h"

static inline void cleanup_jsonp(json_t **j)
{
	json_decref(*j);
}
#define _cleanup_json_ _cleanup_(cleanup_jsonp)

void registry_credentials_release(struct registry_credentials *c)
{
	/* Secrets are wiped before the memory goes back to the allocator. */
	char *fields[] = { c->username, c->password, c->identity_token, c->registry_token };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i] != NULL)
			explicit_bzero(fields[i], strlen(fields[i]));
		free(fields[i]);
	}
	memset(c, 0, sizeof(*c));
}

void registry_docker_config_release(struct registry_docker_config *cfg)
{
	for (size_t i = 0; i < cfg->n_auths; i++) {
		free(cfg->auths[i].host);
		registry_credentials_release(&cfg->auths[i].cred);
	}
	for (size_t i = 0; i < cfg->n_helpers; i++) {
		free(cfg->helpers[i].host);
		free(cfg->helpers[i].helper);
	}
	free(cfg->auths);
	free(cfg->helpers);
	free(cfg->creds_store);
	memset(cfg, 0, sizeof(*cfg));
}

char *reg_normalize_host(const char *s, size_t len)
{
	static const char *const hub[] = { "index.docker.io", "registry-1.docker.io", "docker.io",
					   "registry.hub.docker.com" };
	const char *end;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
		s += 7;
		len -= 7;
	} else if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
		s += 8;
		len -= 8;
	}
	end = memchr(s, '/', len);
	if (end != NULL)
		len = (size_t)(end - s);
	for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
		if (strlen(hub[i]) == len && strncasecmp(s, hub[i], len) == 0)
			return strdup("docker.io");
	char *d = strndup(s, len);
	for (size_t i = 0; d != NULL && i < len; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	return d;
}

const char *registry_credential_server_url(const char *host)
{
	return strcmp(host, "docker.io") == 0 ? "https://index.docker.io/v1/" : host;
}

static int dup_field(json_t *obj, const char *key, const char *where, char **out,
		     struct plate_error **err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return plate_err_new(err, EINVAL, "%s.'%s' is not a string", where, key);
	if (json_string_length(v) == 0)
		return 0;
	*out = strdup(json_string_value(v));
	return *out ? 0 : plate_err_new(err, ENOMEM, "out of memory");
}

static int parse_auth_entry(const char *key, json_t *entry, struct registry_docker_auth *a,
			    struct plate_error **err)
{
	_cleanup_free_ char *where = NULL;
	json_t *auth;

	if (asprintf(&where, "auths.'%s'", key) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (!json_is_object(entry))
		return plate_err_new(err, EINVAL, "%s is not an object", where);
	a->host = reg_normalize_host(key, strlen(key));
	if (a->host == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (a->host[0] == '\0')
		return plate_err_new(err, EINVAL, "%s: empty registry name", where);
	auth = json_object_get(entry, "auth");
	if (auth != NULL && !json_is_null(auth)) {
		_cleanup_free_ char *plain = NULL;
		size_t plain_len;
		char *colon;

		if (!json_is_string(auth))
			return plate_err_new(err, EINVAL, "%s.'auth' is not a string", where);
		if (json_string_length(auth) > 0) {
			if (reg_base64_decode(json_string_value(auth), json_string_length(auth),
					      &plain, &plain_len) < 0)
				return errno == ENOMEM
					       ? plate_err_new(err, ENOMEM, "out of memory")
					       : plate_err_new(err, EINVAL,
							       "%s.'auth' is not valid base64",
							       where);
			colon = memchr(plain, ':', plain_len);
			if (colon == NULL || strlen(plain) != plain_len) {
				explicit_bzero(plain, plain_len);
				return plate_err_new(err, EINVAL,
						     "%s.'auth' does not decode to 'user:password'",
						     where);
			}
			a->cred.username = strndup(plain, (size_t)(colon - plain));
			a->cred.password = strdup(colon + 1);
			explicit_bzero(plain, plain_len);
			if (a->cred.username == NULL || a->cred.password == NULL)
				return plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	if (a->cred.username == NULL &&
	    (dup_field(entry, "username", where, &a->cred.username, err) < 0 ||
	     dup_field(entry, "password", where, &a->cred.password, err) < 0))
		return -1;
	if (dup_field(entry, "identitytoken", where, &a->cred.identity_token, err) < 0 ||
	    dup_field(entry, "registrytoken", where, &a->cred.registry_token, err) < 0)
		return -1;
	return 0;
}

/* A helper name becomes part of a program name: keep it to a safe alphabet. */
static bool helper_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

int registry_docker_config_parse(const char *data, size_t len, struct registry_docker_config *out,
				 struct plate_error **err)
{
	_cleanup_json_ json_t *j = NULL;
	struct registry_docker_config cfg = { 0 };
	json_t *auths, *helpers, *store, *v;
	const char *key;

	if (len > REGISTRY_DOCKER_CONFIG_MAX)
		return plate_err_new(err, E2BIG, "docker config too large (%zu bytes)", len);
	if ((j = json_load(data, len, JSON_REJECT_DUPLICATES, "invalid JSON", err)) == NULL)
		return -1;
	if (!json_is_object(j))
		return plate_err_at(err, 1, 1, "docker config is not a JSON object");

	auths = json_object_get(j, "auths");
	if (auths != NULL && !json_is_null(auths)) {
		if (!json_is_object(auths))
			return plate_err_new(err, EINVAL, "'auths' is not an object");
		cfg.auths = calloc(json_object_size(auths) + 1, sizeof(*cfg.auths));
		if (cfg.auths == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
		json_object_foreach(auths, key,
				    v) if (parse_auth_entry(key, v, &cfg.auths[cfg.n_auths++],
							    err) < 0) goto fail;
	}
	helpers = json_object_get(j, "credHelpers");
	if (helpers != NULL && !json_is_null(helpers)) {
		if (!json_is_object(helpers)) {
			plate_err_new(err, EINVAL, "'credHelpers' is not an object");
			goto fail;
		}
		cfg.helpers = calloc(json_object_size(helpers) + 1, sizeof(*cfg.helpers));
		if (cfg.helpers == NULL)
			goto oom;
		json_object_foreach(helpers, key, v)
		{
			struct registry_docker_helper *h = &cfg.helpers[cfg.n_helpers++];
			if (!json_is_string(v) || !helper_name_ok(json_string_value(v))) {
				plate_err_new(err, EINVAL, "credHelpers.'%s' is not a helper name",
					      key);
				goto fail;
			}
			h->host = reg_normalize_host(key, strlen(key));
			h->helper = strdup(json_string_value(v));
			if (h->host == NULL || h->helper == NULL)
				goto oom;
		}
	}
	store = json_object_get(j, "credsStore");
	if (store != NULL && !json_is_null(store)) {
		if (!json_is_string(store) ||
		    (json_string_length(store) > 0 && !helper_name_ok(json_string_value(store)))) {
			plate_err_new(err, EINVAL, "'credsStore' is not a helper name");
			goto fail;
		}
		if (json_string_length(store) > 0) {
			cfg.creds_store = strdup(json_string_value(store));
			if (cfg.creds_store == NULL)
				goto oom;
		}
	}
	*out = cfg;
	return 0;
oom:
	plate_err_new(err, ENOMEM, "out of memory");
fail:
	registry_docker_config_release(&cfg);
	return -1;
}

static int copy_cred(const struct registry_credentials *from, struct registry_credentials *to)
{
	const char *src[] = { from->username, from->password, from->identity_token,
			      from->registry_token };
	char **dst[] = { &to->username, &to->password, &to->identity_token, &to->registry_token };

	for (size_t i = 0; i < 4; i++) {
		if (src[i] == NULL)
			continue;
		*dst[i] = strdup(src[i]);
		if (*dst[i] == NULL) {
			registry_credentials_release(to);
			return -1;
		}
	}
	return 0;
}

static bool cred_empty(const struct registry_credentials *c)
{
	return c->username == NULL && c->password == NULL && c->identity_token == NULL &&
	       c->registry_token == NULL;
}

int registry_docker_config_lookup(const struct registry_docker_config *cfg, const char *host,
				  struct registry_credentials *cred, const char **helper,
				  struct plate_error **err)
{
	_cleanup_free_ char *key = reg_normalize_host(host, strlen(host));

	if (key == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_helpers; i++)
		if (strcmp(cfg->helpers[i].host, key) == 0) {
			*helper = cfg->helpers[i].helper;
			return 2;
		}
	for (size_t i = 0; i < cfg->n_auths; i++)
		if (strcmp(cfg->auths[i].host, key) == 0 && !cred_empty(&cfg->auths[i].cred)) {
			if (copy_cred(&cfg->auths[i].cred, cred) < 0)
				return plate_err_new(err, ENOMEM, "out of memory");
			return 1;
		}
	if (cfg->creds_store != NULL) {
		*helper = cfg->creds_store;
		return 2;
	}
	return 0;
}

int registry_credential_helper_parse(const char *data, size_t len,
				     struct registry_credentials *cred, struct plate_error **err)
{
	_cleanup_json_ json_t *j = NULL;
	struct registry_credentials c = { 0 };
	json_t *user, *secret;

	if (len > (64u << 10))
		return plate_err_new(err, E2BIG, "credential helper output too large");
	if ((j = json_load(data, len, JSON_REJECT_DUPLICATES, "invalid JSON", err)) == NULL)
		return -1;
	user = json_object_get(j, "Username");
	secret = json_object_get(j, "Secret");
	if (!json_is_string(secret) || json_string_length(secret) == 0)
		return plate_err_new(err, EINVAL, "credential helper output has no 'Secret'");
	if (user != NULL && !json_is_string(user))
		return plate_err_new(err, EINVAL, "credential helper 'Username' is not a string");
	/* docker's convention: Username "<token>" means Secret is an identity token. */
	if (user == NULL || strcmp(json_string_value(user), "<token>") == 0) {
		c.identity_token = strdup(json_string_value(secret));
		if (c.identity_token == NULL)
			return plate_err_new(err, ENOMEM, "out of memory");
	} else {
		c.username = strdup(json_string_value(user));
		c.password = strdup(json_string_value(secret));
		if (c.username == NULL || c.password == NULL) {
			registry_credentials_release(&c);
			return plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	*cred = c;
	return 0;
}

int registry_docker_config_edit(const char *data, size_t len, const char *host,
				const char *username, const char *password, char **out,
				size_t *out_len, struct plate_error **err)
{
	_cleanup_json_ json_t *j = NULL;
	_cleanup_free_ char *userpass = NULL, *b64 = NULL;
	const char *key = registry_credential_server_url(host), *k;
	json_t *auths, *v, *tmp;
	int removed = 0;

	if (len > REGISTRY_DOCKER_CONFIG_MAX)
		return plate_err_new(err, E2BIG, "docker config too large (%zu bytes)", len);
	if (len == 0 && (j = json_object()) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (len > 0 && (j = json_load(data, len, JSON_REJECT_DUPLICATES, "invalid docker config",
				      err)) == NULL)
		return -1;
	if (!json_is_object(j))
		return plate_err_new(err, EINVAL, "invalid docker config: not an object");
	auths = json_object_get(j, "auths");
	if (auths == NULL) {
		if (username == NULL)
			return 0;
		if (json_object_set_new(j, "auths", json_object()) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		auths = json_object_get(j, "auths");
	}
	if (!json_is_object(auths))
		return plate_err_new(err, EINVAL,
				     "invalid docker config: 'auths' is not an object");
	/* Every spelling of the host goes: "https://index.docker.io/v1/" and "docker.io". */
	json_object_foreach_safe(auths, tmp, k, v)
	{
		_cleanup_free_ char *norm = reg_normalize_host(k, strlen(k));
		if (norm != NULL && strcmp(norm, host) == 0) {
			json_object_del(auths, k);
			removed = 1;
		}
	}
	if (username != NULL) {
		if (asprintf(&userpass, "%s:%s", username, password ? password : "") < 0 ||
		    (b64 = reg_base64_encode(userpass, strlen(userpass))) == NULL ||
		    json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64)) < 0) {
			if (userpass != NULL)
				explicit_bzero(userpass, strlen(userpass));
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		explicit_bzero(userpass, strlen(userpass));
	} else if (!removed) {
		return 0;
	}
	*out = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (b64 != NULL)
		explicit_bzero(b64, strlen(b64));
	if (*out == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	*out_len = strlen(*out);
	return 1;
}
