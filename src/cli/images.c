/* plate images [-q] [--no-trunc] [--digests] */
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
};

/* "3 days ago" from an RFC 3339 time, as docker shows it. */
static void format_age(const char *created, char *out, size_t size)
{
	struct tm tm = { 0 };
	const char *rest;
	double age;

	if (created == NULL || (rest = strptime(created, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL) {
		snprintf(out, size, "N/A");
		return;
	}
	age = difftime(time(NULL), timegm(&tm));
	static const struct {
		double secs;
		const char *unit;
	} units[] = { { 365.25 * 86400, "year" }, { 30 * 86400, "month" }, { 7 * 86400, "week" },
		      { 86400, "day" },          { 3600, "hour" },        { 60, "minute" },
		      { 1, "second" } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		long n = (long)(age / units[i].secs);
		if (n >= 1 || i + 1 == sizeof(units) / sizeof(units[0])) {
			if (n < 1)
				snprintf(out, size, "Less than a second ago");
			else
				snprintf(out, size, "%ld %s%s ago", n, units[i].unit, n == 1 ? "" : "s");
			return;
		}
	}
}

/* One line of the listing (the ID alone with -q); an image that cannot be read is a
 * warning. */
static void print_image(struct store *s, const struct oci_descriptor *d,
			const struct images_opts *o)
{
	const char *name = oci_map_get(&d->annotations, OCI_ANNOTATION_REF_NAME);
	_cleanup_error_ struct plate_error *e = NULL;
	struct store_image *img = NULL;
	char age[64], size[32], repo[512], tag[256];
	const char *id;
	int64_t total;

	if (oci_map_get(&d->annotations, STORE_ANNOTATION_SUBJECT) != NULL)
		return; /* a referrer (an SBOM), shown with its image by plate sbom */
	if (store_image_resolve(s, d->digest, cli_host_platform(), &img, &e) < 0) {
		fprintf(stderr, "plate: warning: %s: %s\n", cli_safe(name ? name : d->digest),
			cli_safe(e->message));
		return;
	}
	id = img->manifest.config.digest + (o->no_trunc ? 0 : 7);
	if (o->quiet) {
		printf("%.*s\n", o->no_trunc ? (int)strlen(id) : 12, id);
		store_image_free(img);
		return;
	}
	snprintf(repo, sizeof(repo), "<none>");
	snprintf(tag, sizeof(tag), "<none>");
	if (name != NULL) {
		const char *f = oci_familiar_name(name), *colon = strrchr(f, ':');
		if (colon != NULL && strchr(colon, '/') == NULL) {
			snprintf(repo, sizeof(repo), "%.*s", (int)(colon - f), f);
			snprintf(tag, sizeof(tag), "%s", colon + 1);
		}
	}
	total = img->manifest.config.size;
	for (size_t j = 0; j < img->manifest.n_layers; j++)
		total += img->manifest.layers[j].size;
	format_age(img->config.created, age, sizeof(age));
	du_human_size(total, size);
	printf("%-40s %-20s ", cli_safe(repo), cli_safe(tag));
	if (o->digests)
		printf("%-71s ", d->digest);
	printf("%-*.*s %-20s %s\n", o->no_trunc ? 71 : 12, o->no_trunc ? 71 : 12, id, age, size);
	store_image_free(img);
}

int cli_cmd_images(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-trunc", no_argument, NULL, 'T' },
		{ "digests", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct images_opts o = { 0 };
	struct store *s = NULL;
	struct oci_index idx = { 0 };
	int c, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "q", longopts)) != -1) {
		switch (c) {
		case 'q':
			o.quiet = true;
			break;
		case 'T':
			o.no_trunc = true;
			break;
		case 'D':
			o.digests = true;
			break;
		default:
			return cli_usage_error(ctx, err, "images: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(ctx, err, "images takes no arguments");
	if (cli_open_store(ctx, &s, err) < 0 || store_index_read(s, &idx, err) < 0)
		goto out;
	if (!o.quiet) {
		printf("%-40s %-20s ", "REPOSITORY", "TAG");
		if (o.digests)
			printf("%-71s ", "DIGEST");
		printf("%-*s %-20s %s\n", o.no_trunc ? 71 : 12, "IMAGE ID", "CREATED", "SIZE");
	}
	for (size_t i = 0; i < idx.n_manifests; i++)
		print_image(s, &idx.manifests[i], &o);
	rc = CLI_EXIT_OK;
out:
	oci_index_release(&idx);
	store_free(s);
	return rc;
}
