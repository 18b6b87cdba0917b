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

/* Whether a cleaned COPY source sends `path` (or a directory above it): -1 when not, else the
 * length of the part of `path` the source names (the whole path: the file itself; shorter: a
 * directory whose contents are copied, 0 for the root). */
static ssize_t covered_at(const char *src, const char *path)
{
	size_t n = strlen(src);

	if (strcmp(src, ".") == 0)
		return 0;
	if (strpbrk(src, "*?[") != NULL) {
		char buf[4096];
		size_t len = strlen(path);
		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, path, len + 1);
		/* The pattern may name the file or any directory above it. */
		for (;;) {
			char *slash;
			if (fnmatch(src, buf, FNM_PATHNAME) == 0)
				return (ssize_t)strlen(buf);
			slash = strrchr(buf, '/');
			if (slash == NULL)
				return -1;
			*slash = '\0';
		}
	}
	if (strncmp(path, src, n) == 0 && (path[n] == '\0' || path[n] == '/'))
		return (ssize_t)n;
	return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Context paths that usually hold credentials. */
static bool looks_secret(const char *path)
{
	static const char *const names[] = {
		"id_rsa",  "id_dsa",	       "id_ecdsa",  "id_ed25519", ".npmrc", ".netrc",
		".pypirc", ".git-credentials", ".htpasswd", ".dockercfg", ".git",   NULL
	};
	static const char *const exts[] = { ".pem", ".key", ".p12", ".pfx", NULL };
	static const char *const safe_env[] = { ".example", ".sample", ".template", ".dist", NULL };
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
	       strcmp(path, ".docker/config.json") == 0 || ends_with(path, "/.docker/config.json");
}

static bool is_source(const struct dockerfile_instruction *inst, size_t i)
{
	return i + 1 < inst->n_args && strncmp(inst->args[i], "<<", 2) != 0 &&
	       !is_remote(inst->args[i]);
}

/* Where a COPY or ADD puts one file, in the stage it writes to. */
struct place {
	char *path; /* absolute, cleaned */
	unsigned line;
	const struct dockerfile_instruction *inst;
	const char *arg; /* the source argument that sent it */
};

/* One stage's view while following a secret: where the file is in that stage's tree. */
struct stage_view {
	const char *name; /* `AS name`, or NULL */
	char *workdir;	  /* absolute; "/" until a WORKDIR (a base image's is not known) */
	struct place *places;
	size_t n_places;
};

static void views_release(struct stage_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].n_places; j++)
			free(v[i].places[j].path);
		free(v[i].places);
		free(v[i].workdir);
	}
	free(v);
}

/* `rel` made absolute against `dir` and cleaned; malloc'd or NULL. */
static char *abs_path(const char *dir, const char *rel)
{
	_cleanup_free_ char *joined = NULL, *clean = NULL;
	char *out;

	if (asprintf(&joined, "%s/%s", rel[0] == '/' ? "" : dir, rel) < 0)
		return NULL;
	if ((clean = lint_clean_source(joined)) == NULL)
		return NULL;
	if (asprintf(&out, "/%s", strcmp(clean, ".") == 0 ? "" : clean) < 0)
		return NULL;
	return out;
}

/* Where source `src` of `inst` puts `path` (both relative to the tree copied from, cleaned),
 * in a stage whose WORKDIR is `workdir`: 1 and *out set, 0 when it does not copy it. */
static int destination(const struct dockerfile_instruction *inst, const char *src, const char *path,
		       const char *workdir, char **out)
{
	const char *dest = inst->args[inst->n_args - 1];
	size_t dl = strlen(dest);
	ssize_t at = covered_at(src, path);
	_cleanup_free_ char *dir = NULL;

	*out = NULL;
	if (at < 0)
		return 0;
	if ((dir = abs_path(workdir, dest)) == NULL)
		return -1;
	if ((size_t)at < strlen(path)) {
		/* A directory: its contents go into the destination. */
		const char *rest = path + at + (at > 0);
		if (asprintf(out, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, rest) < 0)
			return -1;
	} else if (inst->n_args > 2 || (dl > 0 && dest[dl - 1] == '/') || strcmp(dest, ".") == 0) {
		const char *slash = strrchr(path, '/');
		if (asprintf(out, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir,
			     slash ? slash + 1 : path) < 0)
			return -1;
	} else {
		*out = steal_pointer(&dir);
	}
	return 1;
}

static int add_place(struct stage_view *v, char *path, const struct dockerfile_instruction *inst,
		     const char *arg, unsigned line)
{
	struct place *p = reallocarray(v->places, v->n_places + 1, sizeof(*p));

	if (p == NULL) {
		free(path);
		return -1;
	}
	v->places = p;
	v->places[v->n_places++] = (struct place){ path, line, inst, arg };
	return 0;
}

/* The stage `name` names among views[0, n) (by its index too for --from=): its index, or -1
 * (an image). */
static ssize_t stage_named(const struct stage_view *views, size_t n, const char *name,
			   bool by_index)
{
	char *end;
	unsigned long idx = strtoul(name, &end, 10);

	if (by_index && *name != '\0' && *end == '\0')
		return idx < n ? (ssize_t)idx : -1;
	for (size_t i = n; i-- > 0;)
		if (views[i].name && strcasecmp(views[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Follows context file `path` through the stages: into a stage by COPY or ADD from the
 * context, from stage to stage by FROM <stage> and COPY --from=<stage> (the `plate du` view
 * of `COPY . /src` in a builder then `COPY --from=builder /src /app`). *views gets one view
 * per stage; the last is the image's. */
static int follow(const struct dockerfile *df, const char *path, struct stage_view **views,
		  size_t *n_views)
{
	struct stage_view *v = NULL, *cur = NULL;
	size_t n = 0;

	*views = NULL;
	*n_views = 0;
	for (size_t i = 0; i < df->n_instructions; i++) {
		const struct dockerfile_instruction *inst = &df->instructions[i];
		const char *from = NULL;
		ssize_t base;
		if (strcmp(inst->keyword, "from") == 0) {
			struct stage_view *nv = reallocarray(v, n + 1, sizeof(*v));
			if (nv == NULL)
				goto oom;
			v = nv;
			cur = &v[n];
			*cur = (struct stage_view){ .name = inst->n_args >= 3 ? inst->args[2]
									      : NULL };
			base = inst->n_args ? stage_named(v, n, inst->args[0], false) : -1;
			n++;
			if ((cur->workdir = strdup(base >= 0 ? v[base].workdir : "/")) == NULL)
				goto oom;
			for (size_t j = 0; base >= 0 && j < v[base].n_places; j++) {
				const struct place *pl = &v[base].places[j];
				char *copy = strdup(pl->path);
				if (copy == NULL ||
				    add_place(cur, copy, pl->inst, pl->arg, pl->line) < 0)
					goto oom;
			}
			continue;
		}
		if (cur == NULL)
			continue;
		if (strcmp(inst->keyword, "workdir") == 0 && inst->n_args == 1) {
			char *wd = abs_path(cur->workdir, inst->args[0]);
			if (wd == NULL)
				goto oom;
			free(cur->workdir);
			cur->workdir = wd;
			continue;
		}
		if ((strcmp(inst->keyword, "copy") != 0 && strcmp(inst->keyword, "add") != 0) ||
		    inst->n_args < 2)
			continue;
		from = lint_flag(inst, "from");
		base = from ? stage_named(v, n - 1, from, true) : -1;
		if (from != NULL && base < 0)
			continue;
		for (size_t a = 0; a + 1 < inst->n_args; a++) {
			_cleanup_free_ char *src = NULL;
			if (!is_source(inst, a))
				continue;
			if ((src = lint_clean_source(inst->args[a])) == NULL)
				goto oom;
			if (from == NULL) {
				char *to;
				int r = destination(inst, src, path, cur->workdir, &to);
				if (r < 0 || (r > 0 && add_place(cur, to, inst, inst->args[a],
								 inst->start_line) < 0))
					goto oom;
				continue;
			}
			for (size_t j = 0; j < v[base].n_places; j++) {
				char *to;
				int r = destination(inst, src, v[base].places[j].path + 1,
						    cur->workdir, &to);
				if (r < 0 || (r > 0 && add_place(cur, to, inst, inst->args[a],
								 inst->start_line) < 0))
					goto oom;
			}
		}
	}
	*views = v;
	*n_views = n;
	return 0;
oom:
	views_release(v, n);
	return -1;
}

static int secret_in_context(struct lint_run *run)
{
	const struct dockerfile *df = run->df;
	const struct lint_options *opt = run->opt;
	size_t found = 0;

	if (opt->context == NULL || df->n_instructions == 0)
		return 0;
	for (size_t c = 0; c < opt->n_context && found < MAX_SECRET_FINDINGS; c++) {
		const char *path = opt->context[c];
		struct stage_view *views;
		size_t n_views;
		const struct place *pl;
		const char *from;
		_cleanup_free_ char *fix = NULL;
		int r;
		if (!looks_secret(path) || (opt->ignore && ignore_match(opt->ignore, path)))
			continue;
		if (follow(df, path, &views, &n_views) < 0)
			return oom(run);
		if (n_views == 0 || views[n_views - 1].n_places == 0) {
			views_release(views, n_views);
			continue;
		}
		found++;
		pl = &views[n_views - 1].places[0];
		from = lint_flag(pl->inst, "from");
		if (asprintf(&fix, "add '%s' to .dockerignore", path) < 0) {
			views_release(views, n_views);
			return oom(run);
		}
		if (from != NULL)
			r = lint_emit(run, "SecretInContext", pl->line, fix,
				      "'%s' looks like a secret and reaches the image as '%s' "
				      "through "
				      "COPY --from=%s '%s': .dockerignore does not exclude it",
				      path, pl->path, from, pl->arg);
		else
			r = lint_emit(run, "SecretInContext", pl->line, fix,
				      "'%s' looks like a secret and reaches the image through %s "
				      "'%s': "
				      ".dockerignore does not exclude it",
				      path, strcmp(pl->inst->keyword, "add") == 0 ? "ADD" : "COPY",
				      pl->arg);
		views_release(views, n_views);
		if (r < 0)
			return -1;
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
				      "Attempting to %s file \"%s\" that is excluded by "
				      ".dockerignore",
				      strcmp(inst->keyword, "add") == 0 ? "Add" : "Copy", src) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- DependencyDownloadAfterCopyAll ------------------------------------------------------ */

struct downloader {
	const char *command; /* words as they appear in a RUN, single spaces */
	unsigned eco;	     /* commands of one ecosystem share a bit */
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
		const char *s = i < inst->n_args ? inst->args[i]
				: i - inst->n_args < inst->n_heredocs
					? inst->heredocs[i - inst->n_args].content
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
			if (lint_emit(run, "DependencyDownloadAfterCopyAll", inst->start_line,
				      dl->fix,
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
