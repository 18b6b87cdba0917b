/*
 * ignore_load_for(): which file applies (BuildKit's <Dockerfile>.dockerignore before the
 * context's .dockerignore, never merged), and the I/O rules (regular files only, size cap,
 * symlinks resolved inside the directory they are read from).  Works in a temp dir under
 * $PLATE_TEST_TMP (or /tmp).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"
#include "tap.h"

static char root[4096];

static void put(const char *rel, const char *content, size_t len)
{
	char path[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(content, 1, len, f) != len)
		tap_ok(false, "write %s", path);
	if (f != NULL)
		fclose(f);
}

static void mkdir_rel(const char *rel)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkdir(path, 0755);
}

static int open_rel(const char *rel)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static const char *source_name(enum ignore_source s)
{
	switch (s) {
	case IGNORE_SOURCE_NONE:
		return "none";
	case IGNORE_SOURCE_DOCKERFILE:
		return "dockerfile";
	case IGNORE_SOURCE_CONTEXT:
		return "context";
	default:
		return "?";
	}
}

/* Loads and renders "source:pat|pat" or "error:message (errno)". */
static void expect_load(int ctx, int dfd, const char *df, const char *want, const char *why)
{
	char **pats = NULL;
	size_t n = 0;
	enum ignore_source src = IGNORE_SOURCE_NONE;
	_cleanup_error_ struct plate_error *err = NULL;
	struct buf got = BUF_INIT(BUF_UNLIMITED);

	if (ignore_load_for(ctx, dfd, df, &pats, &n, &src, &err) < 0) {
		_cleanup_free_ char *msg = plate_error_format(err);
		buf_addf(&got, "error:%s", msg);
	} else {
		buf_addf(&got, "%s:", source_name(src));
		for (size_t i = 0; i < n; i++)
			buf_addf(&got, "%s%s", i ? "|" : "", pats[i]);
	}
	tap_ok(strncmp(got.data, want, strlen(want)) == 0, "%s: got \"%s\", want \"%s\"", why,
	       got.data, want);
	strv_free(pats, n);
	buf_release(&got);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	const char *tmp = getenv("PLATE_TEST_TMP");
	int ctx, outer, bare;
	char abs[8192];

	snprintf(root, sizeof(root), "%s/ignore-load.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		tap_skip_all("cannot create a temp dir");

	mkdir_rel("ctx");
	mkdir_rel("ctx/docker");
	mkdir_rel("ctx/sub");
	mkdir_rel("bare");
	mkdir_rel("df");
	mkdir_rel("outside");
	put("ctx/.dockerignore", "# context\nctxpat\n!keep\n", 23);
	put("ctx/Dockerfile", "FROM scratch\n", 13);
	put("ctx/docker/build.Dockerfile", "FROM scratch\n", 13);
	put("ctx/docker/build.Dockerfile.dockerignore", "/dfpat/\n", 8);
	put("ctx/docker/empty.Dockerfile.dockerignore", "", 0);
	put("df/Dockerfile.dockerignore", "outer\n", 6);
	put("outside/secret", "leaked\n", 7);
	ctx = open_rel("ctx");
	outer = open_rel(".");
	bare = open_rel("bare");

	expect_load(ctx, ctx, "docker/build.Dockerfile", "dockerfile:dfpat",
		    "<Dockerfile>.dockerignore wins");
	expect_load(ctx, ctx, "Dockerfile", "context:ctxpat|!keep",
		    "falls back to the context file");
	expect_load(ctx, ctx, NULL, "context:ctxpat|!keep", "Dockerfile from stdin: context file");
	expect_load(ctx, ctx, "docker/empty.Dockerfile",
		    "dockerfile:", "an empty Dockerfile-specific file still wins");
	expect_load(ctx, ctx, "docker/missing.Dockerfile", "context:ctxpat",
		    "missing Dockerfile-specific file");
	expect_load(ctx, ctx, "nodir/Dockerfile", "context:ctxpat", "Dockerfile directory missing");
	expect_load(ctx, outer, "df/Dockerfile", "dockerfile:outer",
		    "Dockerfile outside the context");
	snprintf(abs, sizeof(abs), "%s/df/Dockerfile", root);
	expect_load(ctx, AT_FDCWD, abs, "dockerfile:outer",
		    "absolute Dockerfile path with AT_FDCWD");
	expect_load(bare, bare, "Dockerfile", "none:", "no ignore file at all");

	/* symlinks resolve inside the directory being read, as in BuildKit's transferred context */
	snprintf(abs, sizeof(abs), "%s/outside/secret", root);
	char link[8192];
	snprintf(link, sizeof(link), "%s/bare/.dockerignore", root);
	tap_ok(symlink(abs, link) == 0, "symlink to a file outside the context");
	expect_load(bare, bare, NULL, "none:", "an absolute symlink cannot leave the context");
	unlink(link);
	tap_ok(symlink("../../outside/secret", link) == 0, "relative symlink escaping the context");
	expect_load(bare, bare, NULL, "none:", "'..' stops at the context root");
	unlink(link);
	put("bare/real", "inside\n", 7);
	mkdir_rel("bare/sub");
	tap_ok(symlink("sub/../real", link) == 0, "symlink within the context");
	expect_load(bare, bare, NULL, "context:inside", "a symlink within the context is followed");
	unlink(link);

	/* refusals */
	mkdir_rel("bare/.dockerignore");
	expect_load(bare, bare, NULL, "error:'.dockerignore' is not a regular file",
		    "a directory is refused");
	rmdir(link);
	tap_ok(mkfifo(link, 0644) == 0, "make a FIFO");
	expect_load(bare, bare, NULL, "error:'.dockerignore' is not a regular file",
		    "a FIFO is refused without blocking");
	unlink(link);
	{
		size_t big = IGNORE_MAX_FILE + 1;
		char *data = malloc(big);
		memset(data, '\n', big);
		put("bare/.dockerignore", data, big);
		expect_load(bare, bare, NULL, "error:'.dockerignore' is larger than 1048576 bytes",
			    "the size cap");
		memset(data, 'a', IGNORE_MAX_LINE + 1);
		put("bare/.dockerignore", data, IGNORE_MAX_LINE + 1);
		expect_load(bare, bare, NULL, "error:.dockerignore:1:65536: line too long",
			    "parse errors name the file, line and column");
		free(data);
	}
	{
		char **pats = NULL;
		size_t n = 0;
		_cleanup_error_ struct plate_error *err = NULL;
		put("ctx/docker/bad.Dockerfile.dockerignore", "ok\n\na\0b\n", 8);
		/* located in the text, not in err->line, which the CLI would show as a line of
		 * the Dockerfile */
		tap_ok(ignore_load_for(ctx, ctx, "docker/bad.Dockerfile", &pats, &n, NULL, &err) <
				       0 &&
			       err->line == 0 &&
			       strncmp(err->message,
				       "docker/bad.Dockerfile.dockerignore:3:2: ", 40) == 0,
		       "parse errors name the ignore file's line and column, not the Dockerfile's");
	}

	close(ctx);
	close(outer);
	close(bare);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
