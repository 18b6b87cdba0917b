/*
 * The hostile layer corpus (tests/cases/hostile-layers/, made by
 * tests/hostile/make-hostile-layers.py): every case is extracted, with openat2 and with
 * the fallback walk, into <sandbox>/target next to <sandbox>/canary/keep.  Each must end
 * as cases.txt says (refused with an error naming the entry, or extracted), and nothing
 * outside the target may change: the sandbox still holds exactly target and canary, and
 * the canary exactly its one untouched file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "fsutil.h"
#include "layer/layer.h"
#include "tap.h"

static char *cases_dir;
static char *tmp;

static bool file_is(int dirfd, const char *path, const char *want)
{
	char buf[256];
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

/* Parses "overlay,diffid=...,digest=..." into opts (strings point into `options`). */
static void parse_options(char *options, struct layer_extract_options *o)
{
	for (char *tok = strtok(options, ","); tok != NULL; tok = strtok(NULL, ",")) {
		if (strcmp(tok, "apply") == 0)
			o->whiteouts = LAYER_WHITEOUT_APPLY;
		else if (strcmp(tok, "overlay") == 0)
			o->whiteouts = LAYER_WHITEOUT_OVERLAY;
		else if (strncmp(tok, "diffid=", 7) == 0)
			o->expected_diff_id = tok + 7;
		else if (strncmp(tok, "digest=", 7) == 0)
			o->expected_digest = tok + 7;
		else
			tap_diag("unknown option '%s'", tok);
	}
}

static void check_ok_detail(int target, const char *name, const char *how, char *detail)
{
	for (char *tok = strtok(detail, " "); tok != NULL; tok = strtok(NULL, " ")) {
		char *eq = strchr(tok, '=');
		if (eq != NULL) {
			*eq = '\0';
			tap_ok(file_is(target, tok, eq + 1), "%s (%s): '%s' holds '%s'", name, how,
			       tok, eq + 1);
		} else {
			tap_ok(faccessat(target, tok, F_OK, AT_SYMLINK_NOFOLLOW) == 0,
			       "%s (%s): '%s' exists", name, how, tok);
		}
	}
}

static void run_case(const char *name, const char *options_in, const char *expect,
		     const char *detail_in, bool use_openat2)
{
	const char *how = use_openat2 ? "openat2" : "fallback";
	char options[512], detail[1024], path[4096];
	struct layer_extract_options o = { 0 };
	struct layer_extract_result res;
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ char *msg = NULL;
	_cleanup_free_ char *sandbox = NULL;
	_cleanup_close_ int sfd = -1, target = -1, in = -1;
	int r;

	snprintf(options, sizeof(options), "%s", options_in);
	snprintf(detail, sizeof(detail), "%s", detail_in);
	parse_options(options, &o);
	if (!use_openat2)
		o.flags |= LAYER_EXTRACT_NO_OPENAT2;

	if (asprintf(&sandbox, "%s/%s.%s", tmp, name, how) < 0 || mkdir(sandbox, 0755) < 0 ||
	    (sfd = open(sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    mkdirat(sfd, "target", 0755) < 0 || mkdirat(sfd, "canary", 0755) < 0 ||
	    fsutil_write_at(sfd, "canary/keep", "keep", 4, 0644) < 0 ||
	    (target = openat(sfd, "target", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		tap_ok(false, "%s (%s): sandbox set up: %s", name, how, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", cases_dir, name);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (!tap_ok(in >= 0, "%s (%s): case file opens", name, how))
		return;

	r = layer_extract(in, target, &o, &res, &err);
	if (err != NULL)
		msg = plate_error_format(err);
	if (strcmp(expect, "refuse") == 0) {
		bool all = r < 0 && msg != NULL;
		for (char *tok = strtok(detail, "|"); all && tok != NULL; tok = strtok(NULL, "|"))
			if (strstr(msg, tok) == NULL)
				all = false;
		tap_ok(all, "%s (%s): refused: %s", name, how, msg != NULL ? msg : "(no error)");
		if (!all)
			tap_diag("wanted all of: %s", detail_in);
	} else {
		if (tap_ok(r == 0, "%s (%s): extracted%s%s", name, how, msg ? ": " : "",
			   msg ? msg : ""))
			check_ok_detail(target, name, how, detail);
	}

	/* nothing escaped */
	tap_ok(fsutil_count(sfd, ".") == 2 && fsutil_count(sfd, "canary") == 1 &&
		       file_is(sfd, "canary/keep", "keep"),
	       "%s (%s): nothing outside the target changed", name, how);
	fsutil_remove(sandbox);
}

int main(void)
{
	const char *src = getenv("PLATE_SRC");
	_cleanup_fclose_ FILE *manifest = NULL;
	char line[4096], path[4096];
	int cases = 0;

	if (asprintf(&cases_dir, "%s/tests/cases/hostile-layers", src != NULL ? src : ".") < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/cases.txt", cases_dir);
	manifest = fopen(path, "r");
	if (!tap_ok(manifest != NULL, "manifest '%s' opens", path))
		return tap_done();
	tmp = fsutil_mkdtemp("test_layer_hostile");
	if (tmp == NULL)
		tap_skip_all("cannot make a temp dir");
	while (fgets(line, sizeof(line), manifest) != NULL) {
		char *fields[4];
		char *p = line;
		int n = 0;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		while (n < 4 && (fields[n] = strsep(&p, "\t")) != NULL)
			n++;
		if (!tap_ok(n == 4, "manifest line has 4 fields: %s", line))
			continue;
		run_case(fields[0], fields[1], fields[2], fields[3], true);
		run_case(fields[0], fields[1], fields[2], fields[3], false);
		cases++;
	}
	tap_ok(cases >= 20, "%d hostile cases", cases);
	fsutil_remove(tmp);
	free(tmp);
	free(cases_dir);
	return tap_done();
}
