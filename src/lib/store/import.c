/* `plate import`: a rootfs tar becomes a one-layer image, written deterministically, with
 * Dockerfile-style --change instructions applied to its config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "json/json.h"
#include "layer/layer.h"
#include "store/store_internal.h"

/* A --change value is one instruction line; longer input is refused. */
#define CHANGE_MAX 65536

/* ---- --change (pure) ------------------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits s into words as the Dockerfile does for ENV/LABEL values: blanks separate words,
 * "..." and '...' quote, a backslash escapes the next character outside single quotes. */
static int split_words(const char *s, struct oci_strings *out, struct plate_error **err)
{
	_cleanup_buf_ struct buf word = BUF_INIT(CHANGE_MAX);
	bool in_word = false;
	char quote = 0;

	for (const char *p = s;; p++) {
		char c = *p;
		if (c == '\0' || (quote == 0 && is_blank(c))) {
			if (quote != 0)
				return plate_err_new(err, 0, "unterminated quote in '%s'", s);
			if (in_word && oci_strings_add(out, word.data, err) < 0)
				return -1;
			buf_reset(&word);
			in_word = false;
			if (c == '\0')
				return 0;
			continue;
		}
		in_word = true;
		if (quote == 0 && (c == '"' || c == '\'')) {
			quote = c;
			continue;
		}
		if (quote != 0 && c == quote) {
			quote = 0;
			continue;
		}
		if (c == '\\' && quote != '\'' && p[1] != '\0')
			c = *++p;
		if (buf_addch(&word, c) < 0)
			return plate_err_new(err, errno, "--change value too long");
	}
}

/* ["a", "b"] -> strings; returns 1 when s is not a JSON array of strings. */
static int json_form(const char *s, struct oci_strings *out, struct plate_error **err)
{
	json_t *v = NULL, *item;
	_cleanup_error_ struct plate_error *perr = NULL;
	size_t i;

	while (is_blank(*s))
		s++;
	if (*s != '[' || json_parse(s, strlen(s), CHANGE_MAX, 2, &v, &perr) < 0)
		return 1;
	if (!json_is_array(v)) {
		json_decref(v);
		return 1;
	}
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			json_decref(v);
			return plate_err_new(err, 0, "JSON form must hold strings only: '%s'", s);
		}
		if (oci_strings_add(out, json_string_value(item), err) < 0) {
			json_decref(v);
			return -1;
		}
	}
	json_decref(v);
	return 0;
}

/* JSON form, or shell form run by /bin/sh -c. */
static int command_form(const char *args, struct oci_strings *out, struct plate_error **err)
{
	struct oci_strings v = { 0 };
	int r = json_form(args, &v, err);

	if (r < 0) {
		oci_strings_release(&v);
		return -1;
	}
	if (r > 0 && (oci_strings_add(&v, "/bin/sh", err) < 0 ||
		      oci_strings_add(&v, "-c", err) < 0 || oci_strings_add(&v, args, err) < 0)) {
		oci_strings_release(&v);
		return -1;
	}
	oci_strings_release(out);
	*out = v;
	return 0;
}

static int set_env(struct oci_strings *env, const char *key, const char *value,
		   struct plate_error **err)
{
	_cleanup_free_ char *entry = NULL;
	size_t klen = strlen(key);

	if (asprintf(&entry, "%s=%s", key, value) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=') {
			free(env->v[i]);
			env->v[i] = steal_pointer(&entry);
			return 0;
		}
	}
	return oci_strings_add(env, entry, err);
}

static int set_add_sorted(struct oci_strings *set, const char *v, struct plate_error **err)
{
	size_t i = 0;

	while (i < set->n && strcmp(set->v[i], v) < 0)
		i++;
	if (i < set->n && strcmp(set->v[i], v) == 0)
		return 0;
	if (oci_strings_add(set, v, err) < 0)
		return -1;
	char *last = set->v[set->n - 1];
	memmove(&set->v[i + 1], &set->v[i], (set->n - 1 - i) * sizeof(char *));
	set->v[i] = last;
	return 0;
}

/* KEY=VALUE pairs, or the legacy "KEY VALUE" form (one pair, the rest of the line). */
static int key_values(const char *instr, const char *args, struct oci_strings *keys,
		      struct oci_strings *values, struct plate_error **err)
{
	struct oci_strings words = { 0 };
	int r = 0;

	if (split_words(args, &words, err) < 0) {
		oci_strings_release(&words);
		return -1;
	}
	if (words.n == 0) {
		r = plate_err_new(err, 0, "%s needs an argument", instr);
	} else if (strchr(words.v[0], '=') == NULL) {
		const char *rest = args;
		while (is_blank(*rest))
			rest++;
		rest += strcspn(rest, " \t");
		while (is_blank(*rest))
			rest++;
		if (*rest == '\0')
			r = plate_err_new(err, 0, "%s %s needs a value", instr, words.v[0]);
		else if (oci_strings_add(keys, words.v[0], err) < 0 ||
			 oci_strings_add(values, rest, err) < 0)
			r = -1;
	} else {
		for (size_t i = 0; i < words.n && r == 0; i++) {
			char *eq = strchr(words.v[i], '=');
			if (eq == NULL || eq == words.v[i]) {
				r = plate_err_new(err, 0, "%s '%s' is not KEY=VALUE", instr,
						  words.v[i]);
				break;
			}
			*eq = '\0';
			if (oci_strings_add(keys, words.v[i], err) < 0 ||
			    oci_strings_add(values, eq + 1, err) < 0)
				r = -1;
		}
	}
	oci_strings_release(&words);
	return r;
}

static int replace_str(char **field, const char *value, struct plate_error **err)
{
	char *v = strdup(value);

	if (v == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	free(*field);
	*field = v;
	return 0;
}

int store_config_apply_change(struct oci_config *c, const char *change, struct plate_error **err)
{
	_cleanup_free_ char *instr = NULL;
	struct oci_strings keys = { 0 }, values = { 0 }, words = { 0 };
	const char *p = change, *args;
	size_t n;
	int r = 0;

	if (strlen(change) > CHANGE_MAX)
		return plate_err_new(err, 0, "--change value too long");
	while (is_blank(*p))
		p++;
	n = strcspn(p, " \t");
	if (n == 0)
		return plate_err_new(err, 0, "empty --change");
	if ((instr = strndup(p, n)) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *q = instr; *q != '\0'; q++)
		if (*q >= 'a' && *q <= 'z')
			*q = (char)(*q - 'a' + 'A');
	args = p + n;
	while (is_blank(*args))
		args++;
	n = strlen(args);
	while (n > 0 && (is_blank(args[n - 1]) || args[n - 1] == '\n' || args[n - 1] == '\r'))
		n--;
	_cleanup_free_ char *rest = strndup(args, n);
	if (rest == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");

	if (strcmp(instr, "ENV") == 0 || strcmp(instr, "LABEL") == 0) {
		r = key_values(instr, rest, &keys, &values, err);
		for (size_t i = 0; r == 0 && i < keys.n; i++)
			r = strcmp(instr, "ENV") == 0
				    ? set_env(&c->env, keys.v[i], values.v[i], err)
				    : oci_map_set(&c->labels, keys.v[i], values.v[i], err);
	} else if (strcmp(instr, "CMD") == 0) {
		r = command_form(rest, &c->cmd, err);
	} else if (strcmp(instr, "ENTRYPOINT") == 0) {
		r = command_form(rest, &c->entrypoint, err);
	} else if (strcmp(instr, "WORKDIR") == 0 || strcmp(instr, "USER") == 0 ||
		   strcmp(instr, "STOPSIGNAL") == 0) {
		if (*rest == '\0')
			r = plate_err_new(err, 0, "%s needs an argument", instr);
		else
			r = replace_str(strcmp(instr, "WORKDIR") == 0 ? &c->working_dir
					: strcmp(instr, "USER") == 0  ? &c->user
								      : &c->stop_signal,
					rest, err);
	} else if (strcmp(instr, "EXPOSE") == 0 || strcmp(instr, "VOLUME") == 0) {
		bool expose = strcmp(instr, "EXPOSE") == 0;
		int jr = expose ? 1 : json_form(rest, &words, err);
		if (jr > 0)
			jr = split_words(rest, &words, err);
		r = jr;
		if (r == 0 && words.n == 0)
			r = plate_err_new(err, 0, "%s needs an argument", instr);
		for (size_t i = 0; r == 0 && i < words.n; i++) {
			_cleanup_free_ char *port = NULL;
			const char *v = words.v[i];
			if (expose && strchr(v, '/') == NULL) {
				if (asprintf(&port, "%s/tcp", v) < 0) {
					port = NULL;
					r = plate_err_new(err, ENOMEM, "out of memory");
					break;
				}
				v = port;
			}
			r = set_add_sorted(expose ? &c->exposed_ports : &c->volumes, v, err);
		}
	} else {
		r = plate_err_new(err, 0, "unsupported --change instruction '%s'", instr);
	}
	oci_strings_release(&keys);
	oci_strings_release(&values);
	oci_strings_release(&words);
	if (r < 0)
		plate_err_wrap(err, "--change '%s'", change);
	return r;
}

/* ---- import --------------------------------------------------------------------------- */

static int created_time(long long epoch, char out[32], struct plate_error **err)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (epoch < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return plate_err_new(err, EINVAL, "bad epoch %lld", epoch);
	return 0;
}

/* Writes the tree in workfd as a deterministic gzip layer blob. */
static int write_layer(struct store_txn *t, int workfd, long long epoch, struct layer_result *res,
		       struct plate_error **err)
{
	struct layer_writer_options wopts = { .compression = "gzip", .epoch = epoch };
	struct store_blob_writer *bw = NULL;
	struct layer_writer *lw = NULL;
	char digest[DIGEST_STRING_LEN + 1];
	int r = -1;

	if (store_txn_blob_writer(t, NULL, -1, &bw, err) < 0)
		return -1;
	if (layer_writer_new(store_blob_writer_fd(bw), &wopts, &lw, err) < 0 ||
	    layer_writer_add_tree(lw, workfd, "", 0, err) < 0 ||
	    layer_writer_finish(lw, res, err) < 0 ||
	    store_blob_writer_finish(bw, digest, NULL, err) < 0)
		goto out;
	if (strcmp(digest, res->digest) != 0) {
		plate_err_new(err, EIO, "layer written as '%s' but stored as '%s'", res->digest,
			      digest);
		goto out;
	}
	r = 0;
out:
	layer_writer_free(lw);
	store_blob_writer_free(bw);
	return r;
}

static int build_config(const struct store_import_options *o, const struct layer_result *res,
			struct oci_config *c, struct plate_error **err)
{
	char created[32];

	if (created_time(o->epoch, created, err) < 0)
		return -1;
	c->created = strdup(created);
	c->os = strdup(o->os ? o->os : "linux");
	c->architecture = strdup(o->architecture ? o->architecture : "amd64");
	c->variant = o->variant ? strdup(o->variant) : NULL;
	c->history = calloc(1, sizeof(*c->history));
	if (c->created == NULL || c->os == NULL || c->architecture == NULL || c->history == NULL ||
	    (o->variant != NULL && c->variant == NULL))
		return plate_err_new(err, ENOMEM, "out of memory");
	c->n_history = 1;
	c->history[0].created = strdup(created);
	c->history[0].created_by = strdup("plate import");
	c->history[0].comment = o->comment ? strdup(o->comment) : NULL;
	if (c->history[0].created == NULL || c->history[0].created_by == NULL ||
	    (o->comment != NULL && c->history[0].comment == NULL))
		return plate_err_new(err, ENOMEM, "out of memory");
	if (oci_strings_add(&c->diff_ids, res->diff_id, err) < 0)
		return -1;
	for (size_t i = 0; i < o->n_changes; i++)
		if (store_config_apply_change(c, o->changes[i], err) < 0)
			return -1;
	return 0;
}

int store_import(struct store *s, int fd, const struct store_import_options *opts,
		 char manifest_digest_out[DIGEST_STRING_LEN + 1], struct plate_error **err)
{
	struct layer_extract_options xopts = {
		.limits = &s->limits,
		.whiteouts = LAYER_WHITEOUT_APPLY,
		.devices = geteuid() == 0 ? LAYER_DEVICES_CREATE : LAYER_DEVICES_SKIP,
		.owners = LAYER_OWNER_AUTO,
	};
	struct layer_extract_result xres;
	struct layer_result res;
	struct oci_config c = { 0 };
	struct oci_manifest m = { .schema_version = 2 };
	struct oci_descriptor desc = { 0 };
	_cleanup_free_ char *cjson = NULL, *mjson = NULL, *workpath = NULL;
	char cdigest[DIGEST_STRING_LEN + 1], mdigest[DIGEST_STRING_LEN + 1];
	struct store_txn *t = NULL;
	int workfd = -1, r = -1;
	size_t clen, mlen;

	if (store_txn_begin(s, &t, err) < 0)
		return -1;
	if (store_txn_workdir(t, "import", &workfd, &workpath, err) < 0)
		goto out;
	if (layer_extract(fd, workfd, &xopts, &xres, err) < 0) {
		plate_err_wrap(err, "cannot read the root filesystem archive");
		goto out;
	}
	/* The tree the layer was written from becomes its snapshot: no second extraction. */
	if (write_layer(t, workfd, opts->epoch, &res, err) < 0 ||
	    store_txn_snapshot_adopt(t, res.diff_id, workpath, opts->epoch, err) < 0 ||
	    build_config(opts, &res, &c, err) < 0 || oci_config_write(&c, &cjson, &clen, err) < 0 ||
	    store_txn_add_blob(t, cjson, clen, cdigest, err) < 0)
		goto out;
	m.config = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_CONFIG,
					    .digest = cdigest,
					    .size = (int64_t)clen };
	desc = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_LAYER_GZIP,
					.digest = res.digest,
					.size = (int64_t)res.size };
	m.layers = &desc;
	m.n_layers = 1;
	if (oci_manifest_write(&m, OCI_FORMAT_OCI, &mjson, &mlen, err) < 0 ||
	    store_txn_add_blob(t, mjson, mlen, mdigest, err) < 0)
		goto out;
	desc = (struct oci_descriptor){ .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST,
					.digest = mdigest,
					.size = (int64_t)mlen };
	if (store_txn_tag(t, opts->name, &desc, err) < 0 || store_txn_commit(t, err) < 0)
		goto out;
	if (manifest_digest_out != NULL)
		memcpy(manifest_digest_out, mdigest, sizeof(mdigest));
	r = 0;
out:
	if (workfd >= 0)
		close(workfd);
	store_txn_free(t);
	oci_config_release(&c);
	return r;
}
