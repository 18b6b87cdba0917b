/*
 * plate images [-a] [-q] [--no-trunc] [--digests] [--format FORMAT] [REPOSITORY[:TAG]]
 *
 * One row per name (and per untagged image), newest first, as docker lists them: SIZE is
 * the image unpacked (its files), CREATED how long ago.  REPOSITORY[:TAG] keeps the rows
 * whose repository (as shown, or fully qualified) and tag match, with shell patterns.
 * plate keeps no intermediate images: -a lists the same rows.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "cli.h"
#include "du/du.h"

struct images_opts {
	bool quiet;
	bool no_trunc;
	bool digests;
	const char *format;
	const char *filter;
};

struct row {
	json_t *item;
	time_t created;
	size_t order;
};

/* "docker.io/library/x:1" against a filter "x", "x:1", "x:*", "docker.io/library/x". */
static bool matches(const char *filter, const char *name)
{
	_cleanup_free_ char *f = strdup(filter);
	const char *colon = strrchr(name, ':'), *familiar = oci_familiar_name(name);
	char *fcolon = f ? strrchr(f, ':') : NULL, *ftag = NULL;
	_cleanup_free_ char *repo = NULL, *frepo = NULL;

	if (f == NULL || colon == NULL || strchr(colon, '/') != NULL)
		return false;
	if (fcolon != NULL && strchr(fcolon, '/') == NULL) {
		*fcolon = '\0';
		ftag = fcolon + 1;
	}
	repo = strndup(name, (size_t)(colon - name));
	colon = strrchr(familiar, ':');
	frepo = strndup(familiar, (size_t)(colon - familiar));
	if (repo == NULL || frepo == NULL)
		return false;
	if (fnmatch(f, repo, 0) != 0 && fnmatch(f, frepo, 0) != 0)
		return false;
	return ftag == NULL || fnmatch(ftag, strrchr(name, ':') + 1, 0) == 0;
}

/* The row of one index entry, as the fields --format sees: Repository, Tag, ID, Digest,
 * CreatedSince, CreatedAt, Size (docker's names); NULL for an entry that is no image. */
static json_t *image_row(struct store *s, const struct oci_descriptor *d,
			 const struct images_opts *o, time_t now, time_t *created)
{
	const char *name = oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME);
	_cleanup_error_ struct plate_error *e = NULL;
	struct store_image *img = NULL;
	char age[64], at[64], size[16], id[80];
	_cleanup_free_ char *repo = NULL;
	const char *tag = "<none>";
	uint64_t bytes = 0;
	json_t *row;

	if (oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT) != NULL)
		return NULL; /* a referrer (an SBOM), shown with its image by plate sbom */
	if (o->filter != NULL && (name == NULL || !matches(o->filter, name)))
		return NULL;
	if (store_image_resolve(s, d->digest, cli_host_platform(), &img, &e) < 0) {
		fprintf(stderr, "plate: warning: %s: %s\n", cli_safe(name ? name : d->digest),
			cli_safe(e->message));
		return NULL;
	}
	if (name != NULL) {
		const char *f = oci_familiar_name(name), *colon = strrchr(f, ':');
		if (colon != NULL && strchr(colon, '/') == NULL) {
			repo = strndup(f, (size_t)(colon - f));
			tag = colon + 1;
		}
	}
	/* Sizes of images whose snapshots are missing (a damaged store) fall back to the
	 * compressed layers: fsck says what is wrong. */
	if (store_image_unpacked_size(s, img, &bytes, &e) < 0) {
		bytes = 0;
		for (size_t j = 0; j < img->manifest.n_layers; j++)
			bytes += (uint64_t)img->manifest.layers[j].size;
	}
	if (cli_parse_time(img->config.created, created) < 0)
		*created = 0;
	cli_created_since(*created, now, age, sizeof(age));
	cli_created_at(*created, at, sizeof(at));
	du_human_size(bytes, size);
	snprintf(id, sizeof(id), "%.*s", o->no_trunc ? 71 : 12,
		 img->manifest.config.digest + (o->no_trunc ? 0 : 7));
	row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "Repository",
			repo ? repo : "<none>", "Tag", tag, "ID", id, "Digest", d->digest,
			"CreatedSince", age, "CreatedAt", at, "Size", size, "VirtualSize",
			(json_int_t)bytes);
	store_image_free(img);
	return row;
}

static int newest_first(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int list(struct store *s, const struct images_opts *o, struct cli_format *f,
		struct plate_error **err)
{
	struct oci_index idx = { 0 };
	struct row *rows = NULL;
	size_t n = 0;
	time_t now = time(NULL);
	int rc = -1;

	if (store_index_read(s, &idx, err) < 0)
		return -1;
	if ((rows = calloc(idx.n_manifests + 1, sizeof(*rows))) == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < idx.n_manifests; i++) {
		rows[n].item = image_row(s, &idx.manifests[i], o, now, &rows[n].created);
		rows[n].order = i;
		n += rows[n].item != NULL;
	}
	qsort(rows, n, sizeof(*rows), newest_first);
	for (size_t i = 0; i < n; i++)
		if (cli_format_row(f, rows[i].item, err) < 0)
			goto out;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		json_decref(rows[i].item);
	free(rows);
	oci_index_release(&idx);
	return rc;
}

int cli_cmd_images(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	/* clang-format off */
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-trunc", no_argument, NULL, 'T' },
		{ "digests", no_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	/* clang-format on */
	struct images_opts o = { 0 };
	struct cli_format f = { 0 };
	struct store *s = NULL;
	json_t *header = NULL;
	int c, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "aq", longopts)) != -1) {
		switch (c) {
		case 'a':
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'T':
			o.no_trunc = true;
			break;
		case 'D':
			o.digests = true;
			break;
		case 'F':
			o.format = optarg;
			break;
		default:
			return cli_usage_error(ctx, err, "images: unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind + 1 < argc)
		return cli_usage_error(ctx, err, "images takes at most one REPOSITORY[:TAG]");
	o.filter = optind < argc ? argv[optind] : NULL;
	if (cli_format_init(&f,
			    o.quiet	? "{{.ID}}"
			    : o.format	? o.format
			    : o.digests ? "table "
					  "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{."
					  "CreatedSince}}\t{{.Size}}"
					: "table",
			    "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
			    err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", "REPOSITORY",
			   "Tag", "TAG", "ID", "IMAGE ID", "Digest", "DIGEST", "CreatedSince",
			   "CREATED", "CreatedAt", "CREATED AT", "Size", "SIZE", "VirtualSize",
			   "SIZE");
	if (cli_open_store(ctx, &s, err) < 0 || list(s, &o, &f, err) < 0 ||
	    cli_format_end(&f, header, err) < 0)
		goto out;
	rc = CLI_EXIT_OK;
out:
	json_decref(header);
	cli_format_release(&f);
	store_free(s);
	return rc;
}
