/*
 * plate du: read every layer once, then stack them (du.h says how) to find what the final
 * image shows and what it hides.  A path's fate only depends on the layers above it, so
 * each path keeps three numbers — the last layer with an entry there, the last with a
 * whiteout there, the last that hides what is under it — and an entry of layer i is hidden
 * when one of them, at its path or (for the last) at an ancestor, is above i.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/cleanup.h"
#include "du/du.h"
#include "json/json.h"
#include "layer/layer.h"

struct node {
	char *path; /* relative, layer_path_clean() form */
	size_t layer;
	enum layer_entry_type type;
	uint64_t size;
	char hex[DIGEST_STRING_LEN + 1];
	bool hidden;
	enum du_waste_reason reason;
	size_t by;
};

struct pinfo {
	char *path;
	long last_entry; /* -1: none */
	long last_whiteout;
	long last_hides_below;
};

struct pmap {
	struct pinfo *v;
	size_t n, cap; /* cap a power of two, or 0 */
};

struct state {
	struct node *nodes;
	size_t n_nodes, cap_nodes;
	struct pmap map;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct pinfo *pmap_find(const struct pmap *m, const char *path)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = hash_str(path) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].path == NULL)
			return NULL;
		if (strcmp(m->v[i].path, path) == 0)
			return &m->v[i];
	}
}

static int pmap_grow(struct pmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct pinfo *v = calloc(cap, sizeof(*v));

	if (v == NULL)
		return -1;
	for (size_t k = 0; k < m->cap; k++) {
		size_t i;
		if (m->v[k].path == NULL)
			continue;
		for (i = hash_str(m->v[k].path) & (cap - 1); v[i].path != NULL;
		     i = (i + 1) & (cap - 1))
			;
		v[i] = m->v[k];
	}
	free(m->v);
	m->v = v;
	m->cap = cap;
	return 0;
}

static struct pinfo *pmap_get(struct pmap *m, const char *path)
{
	struct pinfo *p = pmap_find(m, path);
	size_t i;

	if (p != NULL)
		return p;
	if ((m->n + 1) * 2 > m->cap && pmap_grow(m) < 0)
		return NULL;
	for (i = hash_str(path) & (m->cap - 1); m->v[i].path != NULL; i = (i + 1) & (m->cap - 1))
		;
	if ((m->v[i].path = strdup(path)) == NULL)
		return NULL;
	m->v[i].last_entry = m->v[i].last_whiteout = m->v[i].last_hides_below = -1;
	m->n++;
	return &m->v[i];
}

static void state_release(struct state *st)
{
	for (size_t i = 0; i < st->n_nodes; i++)
		free(st->nodes[i].path);
	free(st->nodes);
	for (size_t i = 0; i < st->map.cap; i++)
		free(st->map.v[i].path);
	free(st->map.v);
}

static int mark(struct state *st, const char *path, size_t layer, enum layer_entry_type type,
		struct plate_error **err)
{
	struct pinfo *p = pmap_get(&st->map, path);

	if (p == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	switch (type) {
	case LAYER_ENTRY_WHITEOUT:
		p->last_whiteout = p->last_hides_below = (long)layer;
		break;
	case LAYER_ENTRY_OPAQUE:
		p->last_hides_below = (long)layer;
		break;
	case LAYER_ENTRY_DIR:
		p->last_entry = (long)layer;
		break;
	case LAYER_ENTRY_FILE:
	case LAYER_ENTRY_SYMLINK:
	case LAYER_ENTRY_HARDLINK:
	case LAYER_ENTRY_CHAR:
	case LAYER_ENTRY_BLOCK:
	case LAYER_ENTRY_FIFO:
	default:
		/* A non-directory replaces a directory of a lower layer with all it held. */
		p->last_entry = p->last_hides_below = (long)layer;
		break;
	}
	return 0;
}

/* The content's identity for "same content": SHA-256 of the bytes, except that a hole of a
 * sparse entry is hashed as a marker and its length instead of as zeros, so that a 32 GiB
 * sparse file costs what its data costs.  A dense file hashes as plain SHA-256 of its
 * bytes; the same bytes stored sparse in one layer and dense in another count as different
 * (a rare case, against reading every hole). */
static int hash_content(struct layer_reader *r, unsigned long long size,
			char hex[DIGEST_STRING_LEN + 1], struct plate_error **err)
{
	static const char hole_marker[] = "\0plate-du-hole\0";
	unsigned long long pos = 0;
	struct digest d;
	int b;

	if (digest_init(&d, err) < 0)
		return -1;
	for (;;) {
		const void *block;
		size_t len;
		int64_t off;
		b = layer_reader_block(r, &block, &len, &off, err);
		if (b <= 0)
			break;
		if ((unsigned long long)off > pos) {
			unsigned long long hole = (unsigned long long)off - pos;
			digest_update(&d, hole_marker, sizeof(hole_marker));
			digest_update(&d, &hole, sizeof(hole));
		}
		digest_update(&d, block, len);
		pos = (unsigned long long)off + len;
	}
	if (b == 0 && size > pos) {
		unsigned long long hole = size - pos;
		digest_update(&d, hole_marker, sizeof(hole_marker));
		digest_update(&d, &hole, sizeof(hole));
	}
	digest_final(&d, hex);
	digest_release(&d);
	return b < 0 ? -1 : 0;
}

static int read_layer(struct state *st, const struct du_layer_input *in, size_t index,
		      struct du_layer *out, struct plate_error **err)
{
	struct layer_reader_options ro = { .expected_digest = in->digest };
	struct layer_reader *r = NULL;
	struct layer_result res;
	struct layer_entry e;
	int n, rc = -1;

	if (layer_reader_new(in->fd, &ro, &r, err) < 0)
		goto out;
	while ((n = layer_reader_next(r, &e, err)) > 0) {
		struct node *nd;
		if (mark(st, e.path, index, e.type, err) < 0)
			goto out;
		if (e.type == LAYER_ENTRY_WHITEOUT || e.type == LAYER_ENTRY_OPAQUE ||
		    e.type == LAYER_ENTRY_DIR)
			continue;
		if (st->n_nodes >= DU_MAX_ENTRIES) {
			plate_err_new(err, EFBIG, "too large: more than %d entries",
				      DU_MAX_ENTRIES);
			goto out;
		}
		if (st->n_nodes == st->cap_nodes) {
			size_t cap = st->cap_nodes ? st->cap_nodes * 2 : 1024;
			struct node *v = realloc(st->nodes, cap * sizeof(*v));
			if (v == NULL) {
				plate_err_new(err, ENOMEM, "out of memory");
				goto out;
			}
			st->nodes = v;
			st->cap_nodes = cap;
		}
		nd = &st->nodes[st->n_nodes];
		memset(nd, 0, sizeof(*nd));
		nd->layer = index;
		nd->type = e.type;
		if ((nd->path = strdup(e.path)) == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		st->n_nodes++;
		out->files++;
		if (e.type == LAYER_ENTRY_FILE) {
			if (hash_content(r, e.size, nd->hex, err) < 0)
				goto out;
			nd->size = e.size;
			out->content_bytes += e.size;
		}
	}
	if (n < 0 || layer_reader_finish(r, &res, err) < 0)
		goto out;
	memcpy(out->diff_id, res.diff_id, sizeof(out->diff_id));
	out->uncompressed_size = res.uncompressed_size;
	rc = 0;
out:
	layer_reader_free(r);
	return rc;
}

/* Whether something above `layer` hides path (an entry there, or at an ancestor). */
static void judge(const struct state *st, struct node *nd)
{
	const struct pinfo *p = pmap_find(&st->map, nd->path);
	char *path = nd->path;
	long best = -1;

	if (p != NULL && p->last_entry > (long)nd->layer) {
		nd->hidden = true;
		nd->reason = DU_OVERWRITTEN;
		nd->by = (size_t)p->last_entry;
		return;
	}
	if (p != NULL && p->last_whiteout > (long)nd->layer)
		best = p->last_whiteout;
	/* Ancestors, the root ("") last. */
	for (size_t len = strlen(path); len > 0;) {
		const struct pinfo *a;
		char saved;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--; /* drop the '/' */
		saved = path[len];
		path[len] = '\0';
		a = pmap_find(&st->map, path);
		path[len] = saved;
		if (a != NULL && a->last_hides_below > (long)nd->layer &&
		    a->last_hides_below > best)
			best = a->last_hides_below;
	}
	if (best >= 0) {
		nd->hidden = true;
		nd->reason = DU_DELETED;
		nd->by = (size_t)best;
	}
}

static int cmp_size_desc(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;

	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return strcmp(x->path, y->path);
}

static int cmp_path_layer(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->layer < y->layer ? -1 : x->layer > y->layer;
}

static int cmp_dup(const void *a, const void *b)
{
	const struct du_duplicate *x = a, *y = b;

	if (x->wasted_bytes != y->wasted_bytes)
		return x->wasted_bytes < y->wasted_bytes ? 1 : -1;
	return strcmp(x->path, y->path);
}

static int file_set(struct du_file *f, const struct node *nd)
{
	if (asprintf(&f->path, "/%s", nd->path) < 0) {
		f->path = NULL;
		return -1;
	}
	f->layer = nd->layer;
	f->size = nd->size;
	return 0;
}

static size_t cut(size_t n, size_t top)
{
	return top == 0 || n < top ? n : top;
}

/* The lists, from the judged nodes. */
static int lists(struct state *st, const struct du_options *o, struct du_report *rep)
{
	_cleanup_free_ struct node **v = calloc(st->n_nodes + 1, sizeof(*v));
	size_t n = 0, top = o ? o->top : 0;

	if (v == NULL)
		return -1;
	/* The final image's largest files. */
	for (size_t i = 0; i < st->n_nodes; i++)
		if (st->nodes[i].type == LAYER_ENTRY_FILE && !st->nodes[i].hidden)
			v[n++] = &st->nodes[i];
	qsort(v, n, sizeof(*v), cmp_size_desc);
	rep->largest = calloc(cut(n, top) + 1, sizeof(*rep->largest));
	if (rep->largest == NULL)
		return -1;
	for (size_t i = 0; i < cut(n, top); i++, rep->n_largest++)
		if (file_set(&rep->largest[i], v[i]) < 0)
			return -1;
	/* Waste. */
	n = 0;
	for (size_t i = 0; i < st->n_nodes; i++)
		if (st->nodes[i].type == LAYER_ENTRY_FILE && st->nodes[i].hidden)
			v[n++] = &st->nodes[i];
	qsort(v, n, sizeof(*v), cmp_size_desc);
	rep->wasted = calloc(cut(n, top) + 1, sizeof(*rep->wasted));
	if (rep->wasted == NULL)
		return -1;
	for (size_t i = 0; i < cut(n, top); i++, rep->n_wasted++) {
		if (file_set(&rep->wasted[i].file, v[i]) < 0)
			return -1;
		rep->wasted[i].reason = v[i]->reason;
		rep->wasted[i].by_layer = v[i]->by;
	}
	/* Duplicates: a path that is a regular file in more than one layer. */
	n = 0;
	for (size_t i = 0; i < st->n_nodes; i++)
		if (st->nodes[i].type == LAYER_ENTRY_FILE)
			v[n++] = &st->nodes[i];
	qsort(v, n, sizeof(*v), cmp_path_layer);
	for (size_t i = 0, j; i < n; i = j) {
		struct du_duplicate *d;
		for (j = i + 1; j < n && strcmp(v[j]->path, v[i]->path) == 0; j++)
			;
		if (j - i < 2)
			continue;
		d = realloc(rep->duplicates, (rep->n_duplicates + 1) * sizeof(*d));
		if (d == NULL)
			return -1;
		rep->duplicates = d;
		d = &d[rep->n_duplicates++];
		memset(d, 0, sizeof(*d));
		d->layers = calloc(j - i, sizeof(*d->layers));
		d->sizes = calloc(j - i, sizeof(*d->sizes));
		if (d->layers == NULL || d->sizes == NULL ||
		    asprintf(&d->path, "/%s", v[i]->path) < 0) {
			d->path = NULL;
			return -1;
		}
		d->same_content = true;
		for (size_t k = i; k < j; k++) {
			d->layers[d->n_layers] = v[k]->layer;
			d->sizes[d->n_layers++] = v[k]->size;
			if (strcmp(v[k]->hex, v[i]->hex) != 0)
				d->same_content = false;
			if (v[k]->hidden)
				d->wasted_bytes += v[k]->size;
		}
	}
	rep->n_duplicates_total = rep->n_duplicates;
	if (rep->n_duplicates > 0)
		qsort(rep->duplicates, rep->n_duplicates, sizeof(*rep->duplicates), cmp_dup);
	while (top != 0 && rep->n_duplicates > top) {
		struct du_duplicate *d = &rep->duplicates[--rep->n_duplicates];
		free(d->path);
		free(d->layers);
		free(d->sizes);
	}
	return 0;
}

int du_layers(const struct du_layer_input *in, size_t n, const struct du_options *o,
	      struct du_report **out, struct plate_error **err)
{
	struct state st = { 0 };
	struct du_report *rep = calloc(1, sizeof(*rep));
	int rc = -1;

	if (rep == NULL || (rep->layers = calloc(n + 1, sizeof(*rep->layers))) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	rep->n_layers = n;
	for (size_t i = 0; i < n; i++) {
		struct du_layer *l = &rep->layers[i];
		snprintf(l->digest, sizeof(l->digest), "%s", in[i].digest ? in[i].digest : "");
		l->size = in[i].size;
		if (in[i].created_by != NULL &&
		    (l->created_by = strdup(in[i].created_by)) == NULL) {
			plate_err_new(err, ENOMEM, "out of memory");
			goto out;
		}
		if (read_layer(&st, &in[i], i, l, err) < 0) {
			plate_err_wrap(err, "layer %zu '%s'", i + 1, l->digest);
			goto out;
		}
		rep->size += l->size;
		rep->uncompressed_size += l->uncompressed_size;
		rep->content_bytes += l->content_bytes;
	}
	for (size_t i = 0; i < st.n_nodes; i++) {
		struct node *nd = &st.nodes[i];
		judge(&st, nd);
		if (nd->type != LAYER_ENTRY_FILE)
			continue;
		if (nd->hidden) {
			rep->layers[nd->layer].wasted_files++;
			rep->layers[nd->layer].wasted_bytes += nd->size;
			rep->wasted_files++;
			rep->wasted_bytes += nd->size;
		} else {
			rep->final_files++;
			rep->final_bytes += nd->size;
		}
	}
	if (lists(&st, o, rep) < 0) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	*out = steal_pointer(&rep);
	rc = 0;
out:
	state_release(&st);
	du_report_free(rep);
	return rc;
}

int du_image(struct store *s, const struct store_image *img, const struct du_options *o,
	     struct du_report **out, struct plate_error **err)
{
	size_t n = img->manifest.n_layers, h = 0;
	_cleanup_free_ struct du_layer_input *in = calloc(n + 1, sizeof(*in));
	int rc = -1;

	if (in == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		in[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		const struct oci_descriptor *d = &img->manifest.layers[i];
		int64_t size;
		while (h < img->config.n_history && img->config.history[h].empty_layer)
			h++;
		if (h < img->config.n_history)
			in[i].created_by = img->config.history[h++].created_by;
		in[i].digest = d->digest;
		if (store_blob_open(s, d->digest, &in[i].fd, &size, err) < 0)
			goto out;
		in[i].size = (uint64_t)size;
	}
	rc = du_layers(in, n, o, out, err);
out:
	for (size_t i = 0; i < n; i++)
		if (in[i].fd >= 0)
			close(in[i].fd);
	return rc;
}

void du_report_free(struct du_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_layers; i++)
		free(r->layers[i].created_by);
	free(r->layers);
	for (size_t i = 0; i < r->n_largest; i++)
		free(r->largest[i].path);
	free(r->largest);
	for (size_t i = 0; i < r->n_wasted; i++)
		free(r->wasted[i].file.path);
	free(r->wasted);
	for (size_t i = 0; i < r->n_duplicates; i++) {
		free(r->duplicates[i].path);
		free(r->duplicates[i].layers);
		free(r->duplicates[i].sizes);
	}
	free(r->duplicates);
	free(r);
}

void du_human_size(uint64_t bytes, char out[16])
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(out, 16, "%.3g%s", v, units[u]);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static json_t *file_json(const struct du_file *f)
{
	/* Layers are numbered from 1, as in the text output and `plate history`. */
	return json_pack("{s:s, s:I, s:I}", "path", f->path, "size", (json_int_t)f->size, "layer",
			 (json_int_t)(f->layer + 1));
}

static int build_json(const struct du_report *r, json_t *root)
{
	json_t *layers = json_array(), *largest = json_array(), *dups = json_array(),
	       *wasted = json_array(), *total;
	int bad = 0;

	if (layers == NULL || largest == NULL || dups == NULL || wasted == NULL) {
		json_decref(layers);
		json_decref(largest);
		json_decref(dups);
		json_decref(wasted);
		return -1;
	}
	bad |= json_object_set_new(root, "layers", layers);
	bad |= json_object_set_new(root, "largest", largest);
	bad |= json_object_set_new(root, "duplicates", dups);
	bad |= json_object_set_new(root, "wasted", wasted);
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct du_layer *l = &r->layers[i];
		json_t *o =
			json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "index",
				  (json_int_t)(i + 1), "digest", l->digest, "diff_id", l->diff_id,
				  "size", (json_int_t)l->size, "uncompressed_size",
				  (json_int_t)l->uncompressed_size, "files", (json_int_t)l->files,
				  "content_bytes", (json_int_t)l->content_bytes, "wasted_files",
				  (json_int_t)l->wasted_files, "wasted_bytes",
				  (json_int_t)l->wasted_bytes);
		if (o != NULL && l->created_by != NULL)
			bad |= json_object_set_new(o, "created_by", json_string(l->created_by));
		bad |= json_array_append_new(layers, o);
	}
	for (size_t i = 0; i < r->n_largest; i++)
		bad |= json_array_append_new(largest, file_json(&r->largest[i]));
	for (size_t i = 0; i < r->n_wasted; i++) {
		const struct du_waste *w = &r->wasted[i];
		json_t *o = file_json(&w->file);
		if (o != NULL)
			bad |= json_object_set_new(o, "reason",
						   json_string(w->reason == DU_OVERWRITTEN
								       ? "overwritten"
								       : "deleted")) |
			       json_object_set_new(o, "by_layer",
						   json_integer((json_int_t)(w->by_layer + 1)));
		bad |= json_array_append_new(wasted, o);
	}
	for (size_t i = 0; i < r->n_duplicates; i++) {
		const struct du_duplicate *d = &r->duplicates[i];
		json_t *ls = json_array(), *ss = json_array();
		if (ls == NULL || ss == NULL) {
			json_decref(ls);
			json_decref(ss);
			return -1;
		}
		for (size_t k = 0; k < d->n_layers; k++)
			bad |= json_array_append_new(ls,
						     json_integer((json_int_t)(d->layers[k] + 1))) |
			       json_array_append_new(ss, json_integer((json_int_t)d->sizes[k]));
		bad |= json_array_append_new(dups,
					     json_pack("{s:s, s:o, s:o, s:b, s:I}", "path", d->path,
						       "layers", ls, "sizes", ss, "same_content",
						       d->same_content, "wasted_bytes",
						       (json_int_t)d->wasted_bytes));
	}
	total = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "size", (json_int_t)r->size,
			  "uncompressed_size", (json_int_t)r->uncompressed_size, "content_bytes",
			  (json_int_t)r->content_bytes, "wasted_bytes", (json_int_t)r->wasted_bytes,
			  "wasted_files", (json_int_t)r->wasted_files, "final_files",
			  (json_int_t)r->final_files, "final_bytes", (json_int_t)r->final_bytes,
			  "duplicates", (json_int_t)r->n_duplicates_total);
	bad |= json_object_set_new(root, "total", total);
	return bad ? -1 : 0;
}

int du_report_json(const struct du_report *r, char **out, size_t *len, struct plate_error **err)
{
	json_t *root = json_object();
	int rc;

	if (root == NULL || build_json(r, root) < 0) {
		json_decref(root);
		return plate_err_new(err, ENOMEM, "out of memory");
	}
	rc = json_canonical(root, out, len, err);
	json_decref(root);
	return rc;
}
