/*
 * Unit tests for du/: layers written by the layer writer into memory files, stacked by
 * du_layers(): opaque directories, a file replacing a directory, whiteouts of a parent,
 * overwrites with the same and with other content, hard links; and the human sizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "du/du.h"
#include "layer/layer.h"
#include "tap.h"

/* One entry of a test layer: 'D' dir, 'F' file of `size` bytes of `fill`, 'W' whiteout,
 * 'O' opaque, 'H' hard link to `target`. */
struct spec {
	char kind;
	const char *path;
	size_t size;
	char fill;
	const char *target;
};

static int make_layer(const struct spec *s, size_t n, char digest[DIGEST_STRING_LEN + 1],
		      uint64_t *size)
{
	struct layer_writer_options wo = { .compression = "gzip" };
	struct layer_writer *w = NULL;
	struct layer_result res;
	struct plate_error *err = NULL;
	int fd = memfd_create("layer", MFD_CLOEXEC);
	bool ok = fd >= 0 && layer_writer_new(fd, &wo, &w, &err) == 0;

	for (size_t i = 0; ok && i < n; i++) {
		struct layer_entry e = { .path = s[i].path, .mode = 0644 };
		switch (s[i].kind) {
		case 'D':
			e.type = LAYER_ENTRY_DIR;
			e.mode = 0755;
			ok = layer_writer_add(w, &e, -1, &err) == 0;
			break;
		case 'F': {
			char *data = malloc(s[i].size + 1);
			e.type = LAYER_ENTRY_FILE;
			ok = data != NULL;
			if (ok) {
				memset(data, s[i].fill, s[i].size);
				ok = layer_writer_add_data(w, &e, data, s[i].size, &err) == 0;
			}
			free(data);
			break;
		}
		case 'H':
			e.type = LAYER_ENTRY_HARDLINK;
			e.link_target = s[i].target;
			ok = layer_writer_add(w, &e, -1, &err) == 0;
			break;
		case 'W':
			ok = layer_writer_add_whiteout(w, s[i].path, &err) == 0;
			break;
		case 'O':
			ok = layer_writer_add_opaque(w, s[i].path, &err) == 0;
			break;
		default:
			ok = false;
		}
	}
	ok = ok && layer_writer_finish(w, &res, &err) == 0;
	if (!ok)
		tap_diag("make_layer: %s", err ? err->message : "?");
	plate_error_free(err);
	layer_writer_free(w);
	if (!ok || lseek(fd, 0, SEEK_SET) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(digest, res.digest, DIGEST_STRING_LEN + 1);
	*size = res.size;
	return fd;
}

/* clang-format off */
static const struct spec layer1[] = {
	{ 'D', "a", 0, 0, NULL },  { 'F', "a/x", 100, 'x', NULL }, { 'F', "a/y", 50, 'y', NULL },
	{ 'D', "b", 0, 0, NULL },  { 'F', "b/z", 30, 'z', NULL },  { 'F', "c", 10, 'c', NULL },
	{ 'D', "d", 0, 0, NULL },  { 'F', "d/e", 7, 'e', NULL },   { 'F', "keep", 3, 'k', NULL },
};
/* clang-format on */
/* a made opaque (a/x deleted, a/y written again, same bytes); b replaced by a file. */
static const struct spec layer2[] = {
	{ 'D', "a", 0, 0, NULL },
	{ 'O', "a", 0, 0, NULL },
	{ 'F', "a/y", 50, 'y', NULL },
	{ 'F', "b", 5, 'b', NULL },
};
/* d deleted with what it held; c rewritten with other bytes, and hard-linked. */
static const struct spec layer3[] = {
	{ 'W', "d", 0, 0, NULL }, /* ".wh.d" sorts first */
	{ 'F', "c", 12, 'C', NULL },
	{ 'H', "c2", 0, 0, "c" },
};

static void test_stack(void)
{
	const struct spec *specs[] = { layer1, layer2, layer3 };
	const size_t counts[] = { sizeof(layer1) / sizeof(layer1[0]),
				  sizeof(layer2) / sizeof(layer2[0]),
				  sizeof(layer3) / sizeof(layer3[0]) };
	char digests[3][DIGEST_STRING_LEN + 1];
	struct du_layer_input in[3];
	struct du_options o = { .top = 0 };
	struct du_report *r = NULL;
	struct plate_error *err = NULL;
	_cleanup_free_ char *json = NULL;
	size_t len;

	for (size_t i = 0; i < 3; i++) {
		in[i] = (struct du_layer_input){ .digest = digests[i], .created_by = "by" };
		in[i].fd = make_layer(specs[i], counts[i], digests[i], &in[i].size);
		if (in[i].fd < 0) {
			tap_ok(false, "layers written");
			return;
		}
	}
	tap_ok(du_layers(in, 3, &o, &r, &err) == 0, "du_layers");
	if (r == NULL) {
		tap_diag("%s", err ? err->message : "?");
		plate_error_free(err);
		return;
	}
	tap_ok(r->layers[0].wasted_files == 5 &&
		       r->layers[0].wasted_bytes == 100 + 50 + 30 + 10 + 7,
	       "layer 1 wastes a/x, a/y, b/z, c, d/e (%llu bytes)",
	       (unsigned long long)r->layers[0].wasted_bytes);
	tap_ok(r->layers[1].wasted_bytes == 0 && r->layers[2].wasted_bytes == 0,
	       "layers 2 and 3 waste nothing");
	tap_ok(r->layers[0].files == 6 && r->layers[2].files == 2,
	       "files per layer (no dirs, no whiteouts)");
	tap_ok(r->final_files == 4 && r->final_bytes == 50 + 5 + 12 + 3,
	       "final image: a/y, b, c, keep (%llu files)", (unsigned long long)r->final_files);
	tap_ok(r->n_largest == 4 && strcmp(r->largest[0].path, "/a/y") == 0 &&
		       r->largest[0].layer == 1 && strcmp(r->largest[1].path, "/c") == 0 &&
		       r->largest[1].layer == 2,
	       "largest: /a/y from layer 2, then /c from layer 3");
	tap_ok(r->n_wasted == 5, "five wasted files listed");
	for (size_t i = 0; i < r->n_wasted; i++) {
		const struct du_waste *w = &r->wasted[i];
		const char *p = w->file.path;
		if (strcmp(p, "/a/x") == 0)
			tap_ok(w->reason == DU_DELETED && w->by_layer == 1,
			       "/a/x: deleted by the opaque a");
		else if (strcmp(p, "/a/y") == 0)
			tap_ok(w->reason == DU_OVERWRITTEN && w->by_layer == 1,
			       "/a/y: overwritten");
		else if (strcmp(p, "/b/z") == 0)
			tap_ok(w->reason == DU_DELETED && w->by_layer == 1,
			       "/b/z: its parent became a file");
		else if (strcmp(p, "/c") == 0)
			tap_ok(w->reason == DU_OVERWRITTEN && w->by_layer == 2,
			       "/c: overwritten in layer 3");
		else if (strcmp(p, "/d/e") == 0)
			tap_ok(w->reason == DU_DELETED && w->by_layer == 2,
			       "/d/e: its parent whited out");
		else
			tap_ok(false, "unexpected waste '%s'", p);
	}
	tap_ok(r->n_duplicates == 2 && strcmp(r->duplicates[0].path, "/a/y") == 0 &&
		       r->duplicates[0].same_content && r->duplicates[0].wasted_bytes == 50 &&
		       strcmp(r->duplicates[1].path, "/c") == 0 && !r->duplicates[1].same_content &&
		       r->duplicates[1].n_layers == 2 && r->duplicates[1].layers[1] == 2,
	       "duplicates: /a/y (same bytes), /c (other bytes)");
	tap_ok(du_report_json(r, &json, &len, &err) == 0 &&
		       strstr(json, "\"total\":{\"content_bytes\":267,") != NULL &&
		       strstr(json, "\"reason\":\"deleted\"") != NULL,
	       "JSON report");
	du_report_free(r);
	r = NULL;

	/* --top 1, and a layer that is not what its digest says. */
	for (size_t i = 0; i < 3; i++)
		lseek(in[i].fd, 0, SEEK_SET);
	o.top = 1;
	tap_ok(du_layers(in, 3, &o, &r, &err) == 0 && r->n_largest == 1 && r->n_wasted == 1 &&
		       r->n_duplicates == 1 && r->n_duplicates_total == 2 && r->wasted_files == 5,
	       "top 1 cuts the lists, not the totals");
	du_report_free(r);
	r = NULL;
	for (size_t i = 0; i < 3; i++)
		lseek(in[i].fd, 0, SEEK_SET);
	in[1].digest = digests[0];
	tap_ok(du_layers(in, 3, &o, &r, &err) < 0 && err != NULL && err->n_frames == 1 &&
		       strstr(err->frames[0], "layer 2") != NULL,
	       "a layer with the wrong digest is an error naming it");
	plate_error_free(err);
	for (size_t i = 0; i < 3; i++)
		close(in[i].fd);
}

static void test_human(void)
{
	static const struct {
		uint64_t v;
		const char *want;
	} cases[] = {
		{ 0, "0B" },
		{ 999, "999B" },
		{ 1000, "1kB" },
		{ 1500, "1.5kB" },
		{ 100000, "100kB" },
		{ 105020, "105kB" },
		{ 12345678, "12.3MB" },
		{ 1386000, "1.39MB" },
		{ 2000000000000ULL, "2TB" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[16];
		du_human_size(cases[i].v, out);
		tap_ok(strcmp(out, cases[i].want) == 0, "%llu -> %s (got %s)",
		       (unsigned long long)cases[i].v, cases[i].want, out);
	}
}

int main(void)
{
	test_stack();
	test_human();
	return tap_done();
}
