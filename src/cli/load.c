/* plate load [-i FILE|DIR] [-q] — an archive (stdin without -i) or an OCI layout directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_cmd_load(struct cli_ctx *ctx, int argc, char **argv, struct plate_error **err)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_load_result r = { 0 };
	const char *input = NULL;
	struct store *s = NULL;
	bool quiet = false;
	struct stat st;
	int c, fd = STDIN_FILENO, rc = -1;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "i:q", longopts)) != -1) {
		if (c == 'i')
			input = optarg;
		else if (c == 'q')
			quiet = true;
		else
			return cli_usage_error(ctx, err, "load: bad option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return cli_usage_error(ctx, err, "usage: plate load [-i FILE|DIR] [-q]");
	if (input == NULL && isatty(STDIN_FILENO))
		return cli_usage_error(ctx, err,
				       "load: no archive on standard input (use -i FILE)");
	if (cli_open_store(ctx, &s, err) < 0)
		return -1;
	if (input != NULL && stat(input, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (store_load_layout(s, input, &r, err) < 0)
			goto out;
	} else {
		if (input != NULL && (fd = open(input, O_RDONLY | O_CLOEXEC)) < 0) {
			plate_err_new(err, errno, "cannot open '%s'", input);
			goto out;
		}
		if (store_load(s, fd, &r, err) < 0) {
			if (input != NULL)
				plate_err_wrap(err, "'%s'", input);
			goto out;
		}
	}
	for (size_t i = 0; !quiet && i < r.names.n; i++)
		printf("Loaded image: %s\n", cli_safe(oci_familiar_name(r.names.v[i])));
	for (size_t i = 0; !quiet && i < r.untagged.n; i++)
		printf("Loaded image ID: %s\n", r.untagged.v[i]);
	rc = CLI_EXIT_OK;
out:
	if (input != NULL && fd >= 0)
		close(fd);
	store_load_result_release(&r);
	store_free(s);
	return rc;
}
