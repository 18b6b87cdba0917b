/*
 * plate history [-H|--human[=false]] [-q] [--no-trunc] [--format FORMAT] REF
 *
 * The image's history, newest first, as docker prints it: the image ID on the top entry
 * (<missing> below), CREATED how long ago, CREATED BY cut to 45 characters, SIZE of the
 * layer the entry made (its files, unpacked), human (7.34MB) unless -H=false, which
 * prints bytes and RFC 3339 dates.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "cli.h"
#include "du/du.h"

struct history_opts {
	bool human, quiet, no_trunc;
	const char *format;
};

/* The fields --format sees: ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment. */
static json_t *entry_json(const struct store_image *img, size_t k, uint64_t size,
			  const struct history_opts *o, time_t now)
{
	const struct oci_history *h = &img->config.history[k];
	const char *by = h->created_by ? h->created_by : "";
	_cleanup_free_ char *cut = NULL;
	char id[80], age[64], at[64], bytes[32], rfc3339[32];
	time_t created;

	if (k + 1 == img->config.n_history)
		snprintf(id, sizeof(id), "%.*s", o->no_trunc ? 71 : 12,
			 img->manifest.config.digest + (o->no_trunc ? 0 : 7));
	else
		snprintf(id, sizeof(id), "<missing>");
	struct tm tm;

	if (cli_parse_time(h->created, &created) == 0 && gmtime_r(&created, &tm) != NULL) {
		cli_created_since(created, now, age, sizeof(age));
		cli_created_at(created, at, sizeof(at));
		strftime(rfc3339, sizeof(rfc3339), "%Y-%m-%dT%H:%M:%SZ", &tm);
	} else {
		snprintf(age, sizeof(age), "N/A");
		snprintf(at, sizeof(at), "N/A");
		snprintf(rfc3339, sizeof(rfc3339), "N/A");
	}
	if (o->human)
		du_human_size(size, bytes);
	else
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)size);
	if (!o->no_trunc && strlen(by) > 45 && asprintf(&cut, "%.42s...", by) < 0)
		cut = NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", id, "CreatedSince",
			 o->human ? age : rfc3339, "CreatedAt", at, "CreatedBy", cut ? cut : by,
			 "Size", bytes, "Comment", h->comment ? h->comment : "");
}

static int parse_bool(const char *v, bool *out)
{
	if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/* 0, or the exit code of a usage error (err set). */
static int parse_history_args(struct cli_ctx *ctx, int argc, char **argv, struct history_opts *o,
			      struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "no-trunc", no_argument, NULL, 'T' },
		{ "human", optional_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "qH::", longopts)) != -1) {
		const char *v = optarg && optarg[0] == '=' ? optarg + 1 : optarg;
		if (c == 'T')
			o->no_trunc = true;
		else if (c == 'q')
			o->quiet = true;
		else if (c == 'F')
			o->format = optarg;
		/* -H=false as docker spells it; -Hfalse and --human=false too */
		else if (c == 'H' && parse_bool(v, &o->human) < 0)
			return cli_usage_error(ctx, err,
					       "history: --human takes true or false, not '%s'",
					       optarg);
		else if (c != 'H')
			return cli_bad_option(ctx, "history", argv, err);
	}
	if (optind + 1 != argc)
		return cli_usage_error(ctx, err,
				       "usage: plate history [-H=true|false] [-q] "
				       "[--no-trunc] [--format FORMAT] REF");
	return 0;
}

int cli_cmd_history(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	struct history_opts o = { .human = true };
	struct store_image *img = NULL;
	struct cli_format f = { 0 };
	struct store *s = NULL;
	json_t *header = NULL;
	time_t now = time(NULL);
	const char *format;
	size_t layer;
	int rc;

	if ((rc = parse_history_args(ctx, argc, argv, &o, err)) != 0)
		return rc;
	rc = -1;
	format = o.quiet ? "{{.ID}}" : o.format ? o.format : "table";
	if (cli_format_init(&f, format,
			    "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
			    err) < 0) {
		ctx->error_exit = CLI_EXIT_USAGE;
		goto out;
	}
	if (cli_open_store(ctx, &s, err) < 0 ||
	    store_image_resolve(s, argv[optind], cli_host_platform(), &img, err) < 0)
		goto out;
	/* Newest first; each non-empty history entry owns the next layer from the top. */
	layer = img->manifest.n_layers;
	for (size_t k = img->config.n_history; k-- > 0;) {
		const struct oci_history *h = &img->config.history[k];
		uint64_t size = 0;
		json_t *row;
		int r;

		if (!h->empty_layer && layer > 0 && layer <= img->config.diff_ids.n &&
		    store_layer_unpacked_size(s, img->config.diff_ids.v[--layer], &size, err) < 0)
			goto out;
		row = entry_json(img, k, size, &o, now);
		r = cli_format_row(&f, row, err);
		json_decref(row);
		if (r < 0)
			goto out;
	}
	header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "IMAGE", "CreatedSince",
			   "CREATED", "CreatedAt", "CREATED AT", "CreatedBy", "CREATED BY", "Size",
			   "SIZE", "Comment", "COMMENT");
	if (cli_format_end(&f, header, err) < 0)
		goto out;
	rc = CLI_EXIT_OK;
out:
	json_decref(header);
	cli_format_release(&f);
	store_image_free(img);
	store_free(s);
	return rc;
}
