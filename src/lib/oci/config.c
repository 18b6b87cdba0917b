/* Image configs (config.md) with the Docker extensions a build carries over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "json/json.h"
#include "oci/model_internal.h"

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* RFC 3339 date-time, which is what Go's time.Time accepts in JSON. */
static bool rfc3339_is_valid(const char *s)
{
	size_t n = strlen(s), i = 19;

	if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return false;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (s[i] == 'Z')
		return i + 1 == n;
	return (s[i] == '+' || s[i] == '-') && n - i == 6 && digits(s + i + 1, 2) &&
	       s[i + 3] == ':' && digits(s + i + 4, 2);
}

static int check_created(const char *created, const char *where, struct plate_error **err)
{
	if (created != NULL && !rfc3339_is_valid(created))
		return plate_err_new(err, 0, "'%s.created' '%s' is not an RFC 3339 time", where,
				     created);
	return 0;
}

static int read_healthcheck(const json_t *cfg, struct oci_healthcheck **out,
			    struct plate_error **err)
{
	const char *where = "config.config.Healthcheck";
	struct oci_healthcheck *h;
	json_t *v = NULL;

	if (json_get_typed(cfg, "Healthcheck", JSON_OBJECT, false, &v, "config.config", err) < 0)
		return -1;
	if (v == NULL)
		return 0;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	*out = h;
	if (oci_read_strings(v, "Test", &h->test, where, err) < 0 ||
	    json_get_int(v, "Interval", false, &h->interval, where, err) < 0 ||
	    json_get_int(v, "Timeout", false, &h->timeout, where, err) < 0 ||
	    json_get_int(v, "StartPeriod", false, &h->start_period, where, err) < 0 ||
	    json_get_int(v, "StartInterval", false, &h->start_interval, where, err) < 0 ||
	    json_get_int(v, "Retries", false, &h->retries, where, err) < 0)
		return -1;
	return 0;
}

static int read_exec_config(const json_t *o, struct oci_config *c, struct plate_error **err)
{
	const char *where = "config.config";
	json_t *cfg = NULL;

	if (json_get_typed(o, "config", JSON_OBJECT, false, &cfg, "config", err) < 0)
		return -1;
	if (cfg == NULL)
		return 0;
	if (oci_read_string(cfg, "User", false, &c->user, where, err) < 0 ||
	    oci_read_set(cfg, "ExposedPorts", &c->exposed_ports, where, err) < 0 ||
	    oci_read_strings(cfg, "Env", &c->env, where, err) < 0 ||
	    oci_read_strings(cfg, "Entrypoint", &c->entrypoint, where, err) < 0 ||
	    oci_read_strings(cfg, "Cmd", &c->cmd, where, err) < 0 ||
	    oci_read_set(cfg, "Volumes", &c->volumes, where, err) < 0 ||
	    oci_read_string(cfg, "WorkingDir", false, &c->working_dir, where, err) < 0 ||
	    oci_read_map(cfg, "Labels", &c->labels, where, err) < 0 ||
	    oci_read_string(cfg, "StopSignal", false, &c->stop_signal, where, err) < 0 ||
	    json_get_bool(cfg, "ArgsEscaped", false, &c->args_escaped, where, err) < 0 ||
	    read_healthcheck(cfg, &c->healthcheck, err) < 0 ||
	    oci_read_strings(cfg, "Shell", &c->shell, where, err) < 0 ||
	    oci_read_strings(cfg, "OnBuild", &c->on_build, where, err) < 0)
		return -1;
	for (size_t i = 0; i < c->env.n; i++) {
		const char *eq = strchr(c->env.v[i], '=');
		if (eq == NULL || eq == c->env.v[i])
			return plate_err_new(err, 0,
					     "'config.config.Env[%zu]' '%s' is not KEY=VALUE", i,
					     c->env.v[i]);
	}
	return 0;
}

static int read_rootfs(const json_t *o, struct oci_config *c, struct plate_error **err)
{
	const char *type = NULL;
	json_t *rootfs = NULL, *diff_ids = NULL;

	if (json_get_typed(o, "rootfs", JSON_OBJECT, true, &rootfs, "config", err) < 0 ||
	    json_get_string(rootfs, "type", true, &type, "config.rootfs", err) < 0)
		return -1;
	if (strcmp(type, "layers") != 0)
		return plate_err_new(err, 0, "'config.rootfs.type' is '%s', not 'layers'", type);
	if (json_get_typed(rootfs, "diff_ids", JSON_ARRAY, true, &diff_ids, "config.rootfs", err) <
		    0 ||
	    oci_read_strings(rootfs, "diff_ids", &c->diff_ids, "config.rootfs", err) < 0)
		return -1;
	for (size_t i = 0; i < c->diff_ids.n; i++)
		if (!oci_digest_is_valid(c->diff_ids.v[i]))
			return plate_err_new(err, 0,
					     "'config.rootfs.diff_ids[%zu]' '%s' is not a valid "
					     "digest",
					     i, c->diff_ids.v[i]);
	return 0;
}

static int read_history(const json_t *o, struct oci_config *c, struct plate_error **err)
{
	json_t *arr = NULL, *v;
	size_t i;

	if (json_get_typed(o, "history", JSON_ARRAY, false, &arr, "config", err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	c->history = calloc(json_array_size(arr) + 1, sizeof(*c->history));
	if (c->history == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	json_array_foreach(arr, i, v)
	{
		struct oci_history *h = &c->history[i];
		char where[48];

		snprintf(where, sizeof(where), "config.history[%zu]", i);
		c->n_history++;
		if (!json_is_object(v))
			return plate_err_new(err, 0, "'%s' is not an object", where);
		if (oci_read_string(v, "created", false, &h->created, where, err) < 0 ||
		    oci_read_string(v, "created_by", false, &h->created_by, where, err) < 0 ||
		    oci_read_string(v, "author", false, &h->author, where, err) < 0 ||
		    oci_read_string(v, "comment", false, &h->comment, where, err) < 0 ||
		    json_get_bool(v, "empty_layer", false, &h->empty_layer, where, err) < 0 ||
		    check_created(h->created, where, err) < 0)
			return -1;
	}
	return 0;
}

int oci_config_parse(const char *buf, size_t len, unsigned flags, struct oci_config *out,
		     struct plate_error **err)
{
	struct oci_config c = { 0 };
	json_t *o = NULL;
	int r = -1;

	if (oci_load_object(buf, len, OCI_MAX_CONFIG_SIZE, "config", &o, err) < 0)
		return -1;
	if (oci_read_string(o, "created", false, &c.created, "config", err) < 0 ||
	    check_created(c.created, "config", err) < 0 ||
	    oci_read_string(o, "author", false, &c.author, "config", err) < 0 ||
	    oci_read_string(o, "architecture", true, &c.architecture, "config", err) < 0 ||
	    oci_read_string(o, "variant", false, &c.variant, "config", err) < 0 ||
	    oci_read_string(o, "os", true, &c.os, "config", err) < 0 ||
	    oci_read_string(o, "os.version", false, &c.os_version, "config", err) < 0 ||
	    oci_read_strings(o, "os.features", &c.os_features, "config", err) < 0 ||
	    read_exec_config(o, &c, err) < 0 || read_rootfs(o, &c, err) < 0 ||
	    read_history(o, &c, err) < 0)
		goto out;
	*out = c;
	memset(&c, 0, sizeof(c));
	r = 0;
out:
	oci_config_release(&c);
	json_decref(o);
	return r;
}

static int put_int(json_t *o, const char *key, int64_t v)
{
	return v == 0 ? 0 : json_object_set_new(o, key, json_integer(v));
}

static json_t *exec_config_json(const struct oci_config *c)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (oci_put_string(o, "User", c->user) < 0 ||
	    oci_put_set(o, "ExposedPorts", &c->exposed_ports) < 0 ||
	    oci_put_strings(o, "Env", &c->env) < 0 ||
	    oci_put_strings(o, "Entrypoint", &c->entrypoint) < 0 ||
	    oci_put_strings(o, "Cmd", &c->cmd) < 0 || oci_put_set(o, "Volumes", &c->volumes) < 0 ||
	    oci_put_string(o, "WorkingDir", c->working_dir) < 0 ||
	    oci_put_map(o, "Labels", &c->labels) < 0 ||
	    oci_put_string(o, "StopSignal", c->stop_signal) < 0 ||
	    (c->args_escaped && json_object_set_new(o, "ArgsEscaped", json_true()) < 0) ||
	    oci_put_strings(o, "Shell", &c->shell) < 0 ||
	    oci_put_strings(o, "OnBuild", &c->on_build) < 0)
		goto fail;
	if (c->healthcheck != NULL) {
		const struct oci_healthcheck *h = c->healthcheck;
		json_t *ho = json_object();
		if (ho == NULL || json_object_set_new(o, "Healthcheck", ho) < 0 ||
		    oci_put_strings(ho, "Test", &h->test) < 0 ||
		    put_int(ho, "Interval", h->interval) < 0 ||
		    put_int(ho, "Timeout", h->timeout) < 0 ||
		    put_int(ho, "StartPeriod", h->start_period) < 0 ||
		    put_int(ho, "StartInterval", h->start_interval) < 0 ||
		    put_int(ho, "Retries", h->retries) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

int oci_config_write(const struct oci_config *c, char **out, size_t *len, struct plate_error **err)
{
	json_t *o = json_object(), *rootfs = json_object(), *diff_ids = json_array(), *history;

	/* jansson's *_new setters take the reference even when they fail. */
	if (o == NULL || json_object_set_new(o, "rootfs", rootfs) < 0 ||
	    json_object_set_new(rootfs, "diff_ids", diff_ids) < 0 ||
	    json_object_set_new(rootfs, "type", json_string("layers")) < 0 ||
	    oci_put_string(o, "created", c->created) < 0 ||
	    oci_put_string(o, "author", c->author) < 0 ||
	    oci_put_string(o, "architecture", c->architecture) < 0 ||
	    oci_put_string(o, "variant", c->variant) < 0 || oci_put_string(o, "os", c->os) < 0 ||
	    oci_put_string(o, "os.version", c->os_version) < 0 ||
	    oci_put_strings(o, "os.features", &c->os_features) < 0 ||
	    json_object_set_new(o, "config", exec_config_json(c)) < 0)
		goto nomem;
	for (size_t i = 0; i < c->diff_ids.n; i++)
		if (json_array_append_new(diff_ids, json_string(c->diff_ids.v[i])) < 0)
			goto nomem;
	if (c->n_history > 0) {
		history = json_array();
		if (json_object_set_new(o, "history", history) < 0)
			goto nomem;
		for (size_t i = 0; i < c->n_history; i++) {
			const struct oci_history *h = &c->history[i];
			json_t *ho = json_object();
			if (json_array_append_new(history, ho) < 0 ||
			    oci_put_string(ho, "created", h->created) < 0 ||
			    oci_put_string(ho, "created_by", h->created_by) < 0 ||
			    oci_put_string(ho, "author", h->author) < 0 ||
			    oci_put_string(ho, "comment", h->comment) < 0 ||
			    (h->empty_layer &&
			     json_object_set_new(ho, "empty_layer", json_true()) < 0))
				goto nomem;
		}
	}
	return oci_dump(o, out, len, err);
nomem:
	if (o == NULL) {
		json_decref(rootfs);
		json_decref(diff_ids);
	}
	json_decref(o);
	return plate_err_new(err, ENOMEM, "out of memory");
}

static int dup_opt(char **dst, const char *src, struct plate_error **err)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	return 0;
}

int oci_config_copy(struct oci_config *dst, const struct oci_config *src, struct plate_error **err)
{
	struct oci_config c = { .args_escaped = src->args_escaped };

	if (dup_opt(&c.created, src->created, err) < 0 ||
	    dup_opt(&c.author, src->author, err) < 0 ||
	    dup_opt(&c.architecture, src->architecture, err) < 0 ||
	    dup_opt(&c.variant, src->variant, err) < 0 || dup_opt(&c.os, src->os, err) < 0 ||
	    dup_opt(&c.os_version, src->os_version, err) < 0 ||
	    oci_strings_copy(&c.os_features, &src->os_features, err) < 0 ||
	    dup_opt(&c.user, src->user, err) < 0 ||
	    oci_strings_copy(&c.exposed_ports, &src->exposed_ports, err) < 0 ||
	    oci_strings_copy(&c.env, &src->env, err) < 0 ||
	    oci_strings_copy(&c.entrypoint, &src->entrypoint, err) < 0 ||
	    oci_strings_copy(&c.cmd, &src->cmd, err) < 0 ||
	    oci_strings_copy(&c.volumes, &src->volumes, err) < 0 ||
	    dup_opt(&c.working_dir, src->working_dir, err) < 0 ||
	    oci_map_copy(&c.labels, &src->labels, err) < 0 ||
	    dup_opt(&c.stop_signal, src->stop_signal, err) < 0 ||
	    oci_strings_copy(&c.shell, &src->shell, err) < 0 ||
	    oci_strings_copy(&c.on_build, &src->on_build, err) < 0 ||
	    oci_strings_copy(&c.diff_ids, &src->diff_ids, err) < 0)
		goto fail;
	if (src->healthcheck != NULL) {
		c.healthcheck = calloc(1, sizeof(*c.healthcheck));
		if (c.healthcheck == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto fail;
		}
		*c.healthcheck = *src->healthcheck;
		c.healthcheck->test = (struct oci_strings){ 0 };
		if (oci_strings_copy(&c.healthcheck->test, &src->healthcheck->test, err) < 0)
			goto fail;
	}
	if (src->n_history > 0) {
		c.history = calloc(src->n_history, sizeof(*c.history));
		if (c.history == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < src->n_history; i++) {
			const struct oci_history *h = &src->history[i];
			c.n_history++;
			c.history[i].empty_layer = h->empty_layer;
			if (dup_opt(&c.history[i].created, h->created, err) < 0 ||
			    dup_opt(&c.history[i].created_by, h->created_by, err) < 0 ||
			    dup_opt(&c.history[i].author, h->author, err) < 0 ||
			    dup_opt(&c.history[i].comment, h->comment, err) < 0)
				goto fail;
		}
	}
	*dst = c;
	return 0;
fail:
	oci_config_release(&c);
	return -1;
}

void oci_history_release(struct oci_history *h)
{
	free(h->created);
	free(h->created_by);
	free(h->author);
	free(h->comment);
	memset(h, 0, sizeof(*h));
}

void oci_config_release(struct oci_config *c)
{
	free(c->created);
	free(c->author);
	free(c->architecture);
	free(c->variant);
	free(c->os);
	free(c->os_version);
	oci_strings_release(&c->os_features);
	free(c->user);
	oci_strings_release(&c->exposed_ports);
	oci_strings_release(&c->env);
	oci_strings_release(&c->entrypoint);
	oci_strings_release(&c->cmd);
	oci_strings_release(&c->volumes);
	free(c->working_dir);
	oci_map_release(&c->labels);
	free(c->stop_signal);
	if (c->healthcheck != NULL) {
		oci_strings_release(&c->healthcheck->test);
		free(c->healthcheck);
	}
	oci_strings_release(&c->shell);
	oci_strings_release(&c->on_build);
	oci_strings_release(&c->diff_ids);
	for (size_t i = 0; i < c->n_history; i++)
		oci_history_release(&c->history[i]);
	free(c->history);
	memset(c, 0, sizeof(*c));
}
