/*
 * Why a step was not cached.  A cache key is a hash: a miss cannot say which input moved.
 * So each build records, per name (the first tag, or the context and Dockerfile when
 * untagged), the inputs of every filesystem step — the instruction, the context files it
 * copied, the variables a RUN sees, USER, WORKDIR, the source stage or image, the parent
 * key — and a miss compares the step's inputs with those of the last build of that name.
 *
 * The record is one build-cache entry (docs/internals/engine.md, "Cache-miss
 * explanations"), read at the start of the build and replaced at its end; steps that did
 * not run this time keep their old record.  It is only an aid: a record that cannot be
 * read, written or allocated means a vaguer explanation, never a failed build.  Digests
 * are written without their "sha256:" prefix so gc does not take them for blobs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "engine/engine_internal.h"
#include "json/json.h"

/* A build-cache entry's limit (the store reads no larger one). */
#define EXPLAIN_MAX ((size_t)1 << 20)
/* Above this many entries a COPY records only the digest of its files, not the list. */
#define EXPLAIN_MAX_FILES 2000
/* Names listed in one explanation. */
#define EXPLAIN_NAMES 3

static const char *hex_of(const char *digest)
{
	return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}

int eng_explain_load(struct engine *e, struct plate_error **err)
{
	_cleanup_free_ char *seed = NULL, *json = NULL;
	_cleanup_error_ struct plate_error *bad = NULL;
	json_t *root = NULL;
	size_t len;
	int r;

	if (e->o.n_tags > 0) {
		const char *t = e->o.tags[0];
		if (strncmp(t, "docker.io/library/", 18) == 0)
			t += 18;
		e->explain_name = strdup(t);
		r = asprintf(&seed, "plate explain v1\ntag\n%s", e->o.tags[0]);
	} else {
		_cleanup_free_ char *real = realpath(e->o.context_dir, NULL);
		e->explain_name = strdup("this context");
		r = asprintf(&seed, "plate explain v1\ncontext\n%s\n%s",
			     real ? real : e->o.context_dir,
			     e->o.dockerfile_path ? e->o.dockerfile_path : "");
	}
	if (r < 0 || e->explain_name == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (digest_buffer(seed, strlen(seed), e->explain_key, err) < 0)
		return -1;
	if ((e->explain_new = json_object()) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	r = store_cache_get(e->o.store, e->explain_key, &json, &len, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (json_parse(json, len, EXPLAIN_MAX, 8, &root, &bad) < 0)
		return 0;
	if (json_is_object(json_object_get(root, "steps"))) {
		e->explain_old = json_incref(json_object_get(root, "steps"));
		json_object_update(e->explain_new, e->explain_old);
	}
	json_decref(root);
	return 0;
}

int eng_explain_save(struct engine *e, struct plate_error **err)
{
	_cleanup_free_ char *text = NULL;
	json_t *root;
	size_t len;
	int r;

	if (e->explain_new == NULL || e->explain_key[0] == '\0')
		return 0;
	/* Every step's inputs as the last build recorded them (a no-op rebuild): rewriting the
	 * same record would cost the commit a syncfs of the whole filesystem for nothing. */
	if (e->explain_old != NULL && json_equal(e->explain_new, e->explain_old))
		return 0;
	root = json_pack("{s:s, s:O}", "plate", "step inputs", "steps", e->explain_new);
	if (root == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	r = json_canonical(root, &text, &len, err);
	if (r == 0 && len > EXPLAIN_MAX) {
		/* Too large: keep the digests of the copied files, drop their lists. */
		const char *k;
		json_t *v;
		json_object_foreach(e->explain_new, k, v) json_object_del(v, "files");
		free(steal_pointer(&text));
		r = json_canonical(root, &text, &len, err);
	}
	json_decref(root);
	if (r < 0)
		return -1;
	if (len > EXPLAIN_MAX)
		return 0;
	return store_txn_cache_put(e->txn, e->explain_key, text, len, err);
}

void eng_explain_release(struct engine *e)
{
	json_decref(e->explain_old);
	json_decref(e->explain_new);
	free(e->explain_name);
}

/* ---- a step's inputs ---------------------------------------------------------------------- */

static void set_str(struct eng_step_ctx *c, const char *field, const char *value)
{
	if (c->inputs != NULL && value != NULL &&
	    json_object_set_new(c->inputs, field, json_string(value)) < 0) {
		json_decref(c->inputs);
		c->inputs = NULL;
	}
}

void eng_inputs_begin(struct eng_step_ctx *c)
{
	_cleanup_free_ char *text = eng_step_text(c->step);

	json_decref(c->inputs);
	c->inputs = json_object();
	set_str(c, "parent", hex_of(c->st->key));
	set_str(c, "text", text);
	set_str(c, "user", c->st->config.user);
	set_str(c, "workdir", c->st->config.working_dir);
}

void eng_inputs_set(struct eng_step_ctx *c, const char *field, const char *value)
{
	set_str(c, field, value ? hex_of(value) : NULL);
}

void eng_inputs_vars(struct eng_step_ctx *c)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < c->vars.n; i++)
		if (json_object_set_new(o, c->vars.names[i], json_string(c->vars.values[i])) < 0) {
			json_decref(o);
			o = NULL;
		}
	if (c->inputs != NULL && (o == NULL || json_object_set_new(c->inputs, "vars", o) < 0)) {
		json_decref(c->inputs);
		c->inputs = NULL;
	}
}

/* "0644 <hex>" — what of a file the key depends on (eng_selection_key without owners: a
 * context file's owner is not part of the key, and a rootless build that starts outside
 * its user namespace sees the user's files under the host's ids). */
static char *entry_text(const struct eng_entry *en)
{
	char *s = NULL;
	const char *what = "";

	if (S_ISREG(en->st.st_mode))
		what = en->hex;
	else if (S_ISLNK(en->st.st_mode))
		what = en->link ? en->link : "";
	if (asprintf(&s, "%o %s%s", (unsigned)en->st.st_mode, S_ISLNK(en->st.st_mode) ? "-> " : "",
		     what) < 0)
		return NULL;
	return s;
}

void eng_inputs_selection(struct eng_step_ctx *c, const struct eng_selection *sel)
{
	json_t *files = json_object();
	struct digest d = { 0 };
	size_t count = 0;
	bool ok = files != NULL && digest_init(&d, NULL) == 0;

	for (size_t i = 0; ok && i < sel->n; i++) {
		const struct eng_match *m = &sel->m[i];
		for (size_t j = 0; ok && j < m->n; j++) {
			_cleanup_free_ char *path = NULL, *v = entry_text(&m->entries[j]);
			const char *rel = m->entries[j].rel;
			if (*m->path == '\0')
				path = strdup(*rel ? rel : ".");
			else if (asprintf(&path, "%s%s%s", m->path, *rel ? "/" : "", rel) < 0)
				path = NULL;
			ok = path != NULL && v != NULL;
			if (!ok)
				break;
			eng_hash_field(&d, path);
			eng_hash_field(&d, v);
			if (++count <= EXPLAIN_MAX_FILES)
				ok = json_object_set_new(files, path, json_string(v)) == 0;
		}
	}
	if (ok && c->inputs != NULL) {
		char sum[DIGEST_STRING_LEN + 1];
		digest_final(&d, sum);
		set_str(c, "files_digest", hex_of(sum));
		if (count <= EXPLAIN_MAX_FILES && c->inputs != NULL)
			ok = json_object_set(c->inputs, "files", files) == 0;
	}
	if (!ok) {
		json_decref(c->inputs);
		c->inputs = NULL;
	}
	json_decref(files);
	digest_release(&d);
}

void eng_inputs_commit(struct eng_step_ctx *c)
{
	struct engine *e = c->e;
	_cleanup_free_ char *slot = NULL;

	if (c->inputs == NULL || asprintf(&slot, "%s/%zu", c->st->label, c->index) < 0)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->explain_new != NULL)
		json_object_set(e->explain_new, slot, c->inputs);
	pthread_mutex_unlock(&e->lock);
}

void eng_inputs_release(struct eng_step_ctx *c)
{
	json_decref(c->inputs);
	c->inputs = NULL;
}

/* ---- the explanation ------------------------------------------------------------------------ */

static bool is_build_arg(const struct engine *e, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < e->o.n_build_args; i++)
		if (strncmp(e->o.build_args[i], name, n) == 0 &&
		    (e->o.build_args[i][n] == '=' || e->o.build_args[i][n] == '\0'))
			return true;
	return false;
}

static bool same_field(const json_t *a, const json_t *b, const char *field)
{
	const json_t *x = json_object_get(a, field), *y = json_object_get(b, field);

	/* json_equal() says two missing values differ. */
	return x == NULL ? y == NULL : y != NULL && json_equal(x, y);
}

/* The keys of two objects that differ, as "'a' changed, 'b' added and 3 more files". */
struct names {
	struct buf *b;
	size_t shown, more;
	bool *first;
};

/* Appends "<kind>'<name>' <verb>". */
static void name_add(struct names *nm, const char *kind, const char *name, const char *verb)
{
	if (nm->shown == EXPLAIN_NAMES) {
		nm->more++;
		return;
	}
	if (!*nm->first)
		buf_addstr(nm->b, ", ");
	*nm->first = false;
	buf_addf(nm->b, "%s'%s' %s", kind, name, verb);
	nm->shown++;
}

static void diff_objects(const struct engine *e, const json_t *prev, const json_t *cur, bool vars,
			 struct buf *b, bool *first)
{
	struct names nm = { .b = b, .first = first };
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)cur, k, v)
	{
		const json_t *old = json_object_get(prev, k);
		if (old != NULL && json_equal(old, v))
			continue;
		if (vars)
			name_add(&nm, is_build_arg(e, k) ? "build-arg " : "variable ", k,
				 old ? "changed" : "added");
		else
			name_add(&nm, "", k, old ? "changed" : "added");
	}
	json_object_foreach((json_t *)prev, k, v)
	{
		if (json_object_get(cur, k) != NULL)
			continue;
		name_add(&nm,
			 !vars		      ? ""
			 : is_build_arg(e, k) ? "build-arg "
					      : "variable ",
			 k, "removed");
	}
	if (nm.more > 0)
		buf_addf(b, " and %zu more %s", nm.more, vars ? "variables" : "files");
}

void eng_explain_miss(struct eng_step_ctx *c, const char *key)
{
	struct engine *e = c->e;
	_cleanup_buf_ struct buf b = BUF_INIT(BUF_UNLIMITED);
	_cleanup_free_ char *slot = NULL;
	const json_t *prev = NULL, *cur = c->inputs;
	struct engine_event ev = { .type = ENGINE_EVENT_STEP_MISS, .id = c->id, .name = c->name };
	bool first = true;

	if (c->id == 0)
		return;
	set_str(c, "key", hex_of(key));
	cur = c->inputs;
	if (e->o.no_cache) {
		ev.message = "--no-cache";
		eng_emit(e, &ev);
		return;
	}
	if (e->explain_old == NULL) {
		buf_addf(&b, "no previous build of %s", e->explain_name);
		goto emit;
	}
	if (asprintf(&slot, "%s/%zu", c->st->label, c->index) >= 0)
		prev = json_object_get(e->explain_old, slot);
	if (prev == NULL || cur == NULL) {
		buf_addf(&b, "this step is new since the last build of %s", e->explain_name);
		goto emit;
	}
	if (!same_field(prev, cur, "text")) {
		buf_addstr(&b, "the instruction changed");
		first = false;
	}
	if (json_object_get(prev, "files") != NULL && json_object_get(cur, "files") != NULL)
		diff_objects(e, json_object_get(prev, "files"), json_object_get(cur, "files"),
			     false, &b, &first);
	/* The names are known when both builds listed them; else only that they changed. */
	if ((json_object_get(prev, "files") == NULL || json_object_get(cur, "files") == NULL) &&
	    !same_field(prev, cur, "files_digest")) {
		buf_addstr(&b, first ? "the copied files changed" : ", the copied files changed");
		first = false;
	}
	diff_objects(e, json_object_get(prev, "vars"), json_object_get(cur, "vars"), true, &b,
		     &first);
	if (!same_field(prev, cur, "user")) {
		buf_addstr(&b, first ? "USER changed" : ", USER changed");
		first = false;
	}
	if (!same_field(prev, cur, "workdir")) {
		buf_addstr(&b, first ? "WORKDIR changed" : ", WORKDIR changed");
		first = false;
	}
	if (!same_field(prev, cur, "source")) {
		const char *what = json_string_value(json_object_get(cur, "source_name"));
		buf_addf(&b, "%s%s changed", first ? "" : ", ", what ? what : "the source");
		first = false;
	}
	if (first && !same_field(prev, cur, "parent")) {
		buf_addstr(&b, "the previous step changed");
		first = false;
	}
	if (first) {
		const char *old = json_string_value(json_object_get(prev, "key"));
		buf_addstr(&b, old != NULL && strcmp(old, hex_of(key)) == 0
				       ? "its cache entry is gone (pruned)"
				       : "other inputs changed");
	}
	buf_addf(&b, " since the last build of %s", e->explain_name);
emit:
	ev.message = b.data;
	eng_emit(e, &ev);
}
