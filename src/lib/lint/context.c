/*
 * Checks that need the build context: plate's SecretInContext and
 * DependencyDownloadAfterCopyAll, and BuildKit's experimental CopyIgnoredFile.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "lint/lint_internal.h"

/* Most SecretInContext findings for one Dockerfile: a context full of keys needs one fix. */
#define MAX_SECRET_FINDINGS 20

static int oom(struct lint_run *run)
{
	return plate_err_new(run->err, ENOMEM, "out of memory while checking the build context");
}

static bool is_remote(const char *src)
{
	return strstr(src, "://") != NULL || strncmp(src, "git@", 4) == 0;
}

bool lint_copies_context(const struct dockerfile_instruction *inst)
{
	bool add = strcmp(inst->keyword, "add") == 0;

	if ((!add && strcmp(inst->keyword, "copy") != 0) || inst->n_args < 2)
		return false;
	return lint_flag(inst, "from") == NULL;
}

char *lint_clean_source(const char *src)
{
	struct buf out = BUF_INIT(BUF_UNLIMITED);
	const char *p = src;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *last = out.len ? memrchr(out.data, '/', out.len) : NULL;
			buf_truncate(&out, last ? (size_t)(last - out.data) : 0);
		} else if ((out.len && buf_addch(&out, '/') < 0) || buf_add(&out, p, n) < 0) {
			buf_release(&out);
			return NULL;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (out.len == 0 && buf_addch(&out, '.') < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

/* Whether a cleaned COPY source sends context path `path` (or a directory above it). */
static bool covers(const char *src, const char *path)
{
	size_t n = strlen(src);

	if (strcmp(src, ".") == 0)
		return true;
	if (strpbrk(src, "*?[") != NULL) {
		char buf[4096];
		size_t len = strlen(path);
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, path, len + 1);
		/* The pattern may name the file or any directory above it. */
		for (;;) {
			char *slash;
			if (fnmatch(src, buf, FNM_PATHNAME) == 0)
				return true;
			slash = strrchr(buf, '/');
			if (slash == NULL)
				return false;
			*slash = '\0';
		}
	}
	return strncmp(path, src, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Context paths that usually hold credentials. */
static bool looks_secret(const char *path)
{
	static const char *const names[] = { "id_rsa",  "id_dsa",	   "id_ecdsa",
					     "id_ed25519", ".npmrc",	   ".netrc",
					     ".pypirc",	   ".git-credentials", ".htpasswd",
					     ".dockercfg", ".git",	   NULL };
	static const char *const exts[] = { ".pem", ".key", ".p12", ".pfx", NULL };
	static const char *const safe_env[] = { ".example", ".sample", ".template", ".dist",
						NULL };
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	for (size_t i = 0; names[i]; i++)
		if (strcmp(base, names[i]) == 0)
			return true;
	for (size_t i = 0; exts[i]; i++)
		if (ends_with(base, exts[i]) && strlen(base) > strlen(exts[i]))
			return true;
	if (strcmp(base, ".env") == 0 || strncmp(base, ".env.", 5) == 0) {
		for (size_t i = 0; safe_env[i]; i++)
			if (ends_with(base, safe_env[i]))
				return false;
		return true;
	}
	return strcmp(path, ".aws/credentials") == 0 || ends_with(path, "/.aws/credentials") ||
	       strcmp(path, ".docker/config.json") == 0 ||
	       ends_with(path, "/.docker/config.json");
}

/* The stages of the image: the last stage and the stages it is built FROM, by name. */
static int image_stages(const struct dockerfile *df, bool *in_image)
{
	size_t n = df->n_instructions;
	ssize_t cur = -1;

	for (size_t i = 0; i < n; i++) {
		in_image[i] = false;
		if (strcmp(df->instructions[i].keyword, "from") == 0)
			cur = (ssize_t)i;
	}
	while (cur >= 0) {
		const struct dockerfile_instruction *from = &df->instructions[cur];
		const char *base = from->n_args ? from->args[0] : "";
		ssize_t next = -1;
		for (size_t i = (size_t)cur; i < n; i++) {
			if (i > (size_t)cur && strcmp(df->instructions[i].keyword, "from") == 0)
				break;
			in_image[i] = true;
		}
		for (ssize_t i = cur - 1; i >= 0; i--) {
			const struct dockerfile_instruction *f = &df->instructions[i];
			if (strcmp(f->keyword, "from") == 0 && f->n_args >= 3 &&
			    strcasecmp(f->args[2], base) == 0) {
				next = i;
				break;
			}
		}
		if (next >= 0 && in_image[next])
			break;
		cur = next;
	}
	return 0;
}

static bool is_source(const struct dockerfile_instruction *inst, size_t i)
{
	return i + 1 < inst->n_args && strncmp(inst->args[i], "<<", 2) != 0 &&
	       !is_remote(inst->args[i]);
}

static int secret_in_context(struct lint_run *run)
{
	const struct dockerfile *df = run->df;
	const struct lint_options *opt = run->opt;
	_cleanup_free_ bool *in_image = NULL;
	size_t found = 0;

	if (opt->context == NULL || df->n_instructions == 0)
		return 0;
	in_image = calloc(df->n_instructions, sizeof(*in_image));
	if (in_image == NULL)
		return oom(run);
	image_stages(df, in_image);
	for (size_t c = 0; c < opt->n_context && found < MAX_SECRET_FINDINGS; c++) {
		const char *path = opt->context[c];
		bool hit = false;
		if (!looks_secret(path) || (opt->ignore && ignore_match(opt->ignore, path)))
			continue;
		for (size_t i = 0; i < df->n_instructions && !hit; i++) {
			const struct dockerfile_instruction *inst = &df->instructions[i];
			if (!in_image[i] || !lint_copies_context(inst))
				continue;
			for (size_t a = 0; a + 1 < inst->n_args && !hit; a++) {
				_cleanup_free_ char *src = NULL;
				if (!is_source(inst, a))
					continue;
				src = lint_clean_source(inst->args[a]);
				if (src == NULL)
					return oom(run);
				if (!covers(src, path))
					continue;
				hit = true;
				found++;
				{
					_cleanup_free_ char *fix = NULL;
					if (asprintf(&fix, "add '%s' to .dockerignore", path) < 0)
						return oom(run);
					if (lint_emit(run, "SecretInContext", inst->start_line, fix,
						      "'%s' looks like a secret and reaches the image "
						      "through %s '%s': .dockerignore does not exclude it",
						      path, strcmp(inst->keyword, "add") == 0 ? "ADD"
											      : "COPY",
						      inst->args[a]) < 0)
						return -1;
				}
			}
		}
	}
	return 0;
}

static int copy_ignored(struct lint_run *run)
{
	const struct dockerfile *df = run->df;

	if (run->opt->ignore == NULL)
		return 0;
	for (size_t i = 0; i < df->n_instructions; i++) {
		const struct dockerfile_instruction *inst = &df->instructions[i];
		if (!lint_copies_context(inst))
			continue;
		for (size_t a = 0; a + 1 < inst->n_args; a++) {
			_cleanup_free_ char *src = NULL;
			if (!is_source(inst, a))
				continue;
			src = lint_clean_source(inst->args[a]);
			if (src == NULL)
				return oom(run);
			if (strcmp(src, ".") == 0 || !ignore_match(run->opt->ignore, src))
				continue;
			if (lint_emit(run, "CopyIgnoredFile", inst->start_line,
				      "remove the source or stop excluding it in .dockerignore",
				      "Attempting to %s file \"%s\" that is excluded by .dockerignore",
				      strcmp(inst->keyword, "add") == 0 ? "Add" : "Copy", src) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- DependencyDownloadAfterCopyAll ------------------------------------------------------ */

struct downloader {
	const char *command; /* words as they appear in a RUN, single spaces */
	unsigned eco;        /* commands of one ecosystem share a bit */
	const char *fix;
};

static const struct downloader downloaders[] = {
	{ "go mod download", 1u << 0,
	  "COPY go.mod go.sum first, run `go mod download`, then `COPY . .`" },
	{ "npm ci", 1u << 1,
	  "COPY package.json package-lock.json first, run `npm ci`, then `COPY . .`" },
	{ "npm install", 1u << 1,
	  "COPY package.json package-lock.json first, run `npm install`, then `COPY . .`" },
	{ "yarn install", 1u << 2, "COPY package.json yarn.lock first, install, then `COPY . .`" },
	{ "pnpm install", 1u << 3,
	  "COPY package.json pnpm-lock.yaml first, install, then `COPY . .`" },
	{ "pip install -r", 1u << 4,
	  "COPY the requirements file first, run `pip install -r`, then `COPY . .`" },
	{ "pip3 install -r", 1u << 4,
	  "COPY the requirements file first, run `pip install -r`, then `COPY . .`" },
	{ "poetry install", 1u << 5,
	  "COPY pyproject.toml poetry.lock first, install, then `COPY . .`" },
	{ "bundle install", 1u << 6,
	  "COPY Gemfile Gemfile.lock first, run `bundle install`, then `COPY . .`" },
	{ "cargo fetch", 1u << 7,
	  "COPY Cargo.toml Cargo.lock first, run `cargo fetch`, then `COPY . .`" },
	{ "cargo build", 1u << 7,
	  "COPY Cargo.toml Cargo.lock first, run `cargo fetch`, then `COPY . .`" },
	{ "composer install", 1u << 8,
	  "COPY composer.json composer.lock first, install, then `COPY . .`" },
	{ "mvn dependency:go-offline", 1u << 9,
	  "COPY pom.xml first, run `mvn dependency:go-offline`, then `COPY . .`" },
	{ "dotnet restore", 1u << 10,
	  "COPY the project files first, run `dotnet restore`, then `COPY . .`" },
	{ "apt-get install", 1u << 11, "install system packages before `COPY . .`" },
	{ "apk add", 1u << 12, "install system packages before `COPY . .`" },
	{ "dnf install", 1u << 13, "install system packages before `COPY . .`" },
	{ "yum install", 1u << 13, "install system packages before `COPY . .`" },
};

static bool boundary(char c)
{
	return c == '\0' || c == ' ' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' ||
	       c == '`' || c == '"' || c == '\'';
}

/* Finds `cmd` in normalised text as whole words. */
static bool mentions(const char *text, const char *cmd)
{
	size_t n = strlen(cmd);

	for (const char *p = strstr(text, cmd); p; p = strstr(p + 1, cmd))
		if ((p == text || boundary(p[-1])) && boundary(p[n]))
			return true;
	return false;
}

/* The command text of a RUN with white space collapsed, heredoc bodies included. */
static int run_text(const struct dockerfile_instruction *inst, struct buf *out)
{
	bool space = true;

	for (size_t i = 0; i <= inst->n_args + inst->n_heredocs; i++) {
		const char *s = i < inst->n_args		? inst->args[i]
				: i - inst->n_args < inst->n_heredocs ? inst->heredocs[i - inst->n_args].content
								      : NULL;
		for (; s && *s; s++) {
			bool ws = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\\';
			if (ws && space)
				continue;
			if (buf_addch(out, ws ? ' ' : *s) < 0)
				return -1;
			space = ws;
		}
		if (!space && buf_addch(out, ' ') < 0)
			return -1;
		space = true;
	}
	return 0;
}

static bool cache_mount(const struct dockerfile_instruction *inst)
{
	for (size_t i = 0; i < inst->n_flags; i++)
		if (strncmp(inst->flags[i], "--mount=", 8) == 0 &&
		    strstr(inst->flags[i], "type=cache") != NULL)
			return true;
	return false;
}

static bool copies_all(const struct dockerfile_instruction *inst)
{
	if (!lint_copies_context(inst))
		return false;
	for (size_t a = 0; a + 1 < inst->n_args; a++) {
		_cleanup_free_ char *src = NULL;
		if (!is_source(inst, a))
			continue;
		src = lint_clean_source(inst->args[a]);
		if (src && strcmp(src, ".") == 0)
			return true;
	}
	return false;
}

static int download_after_copy(struct lint_run *run)
{
	const struct dockerfile *df = run->df;
	unsigned copy_line = 0, seen = 0, reported = 0;

	for (size_t i = 0; i < df->n_instructions; i++) {
		const struct dockerfile_instruction *inst = &df->instructions[i];
		_cleanup_buf_ struct buf text = BUF_INIT(BUF_UNLIMITED);

		if (strcmp(inst->keyword, "from") == 0) {
			copy_line = seen = reported = 0;
			continue;
		}
		if (copy_line == 0 && copies_all(inst)) {
			copy_line = inst->start_line;
			continue;
		}
		if (strcmp(inst->keyword, "run") != 0)
			continue;
		if (run_text(inst, &text) < 0)
			return oom(run);
		for (size_t d = 0; d < sizeof(downloaders) / sizeof(downloaders[0]); d++) {
			const struct downloader *dl = &downloaders[d];
			if (!mentions(text.data, dl->command))
				continue;
			if (copy_line == 0 || (seen & dl->eco)) {
				seen |= dl->eco;
				continue;
			}
			if ((reported & dl->eco) || cache_mount(inst))
				continue;
			reported |= dl->eco;
			if (lint_emit(run, "DependencyDownloadAfterCopyAll", inst->start_line, dl->fix,
				      "`%s` runs after `COPY . .` (line %u): any change in the "
				      "context repeats the download",
				      dl->command, copy_line) < 0)
				return -1;
		}
	}
	return 0;
}

int lint_context_checks(struct lint_run *run)
{
	if (secret_in_context(run) < 0 || copy_ignored(run) < 0 || download_after_copy(run) < 0)
		return -1;
	return 0;
}
