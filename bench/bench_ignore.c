/*
 * bench_ignore — how fast .dockerignore matching decides a large build context.
 *
 * Builds, in memory and deterministically, a 100,000-path context shaped like a real
 * repository (.git objects, a deep node_modules, a Go vendor tree, sources, build output,
 * logs) listed in walk order (a directory before its entries), and a 50-line .dockerignore
 * of the usual kinds (names, "*.log", "**" + "/" + "*.tmp", directory globs, "!" exceptions).
 * Then it times, best of 5 runs (CLOCK_MONOTONIC):
 *   per-path   ignore_match() on every path;
 *   tree-walk  ignore_match_entry() on every path, each directory's state reused for its
 *              entries;
 *   walk+skip  the same, but a directory ignore_dir_skippable() allows is not descended.
 * All three must agree on what is excluded (the skipped paths count as excluded).
 *   build/bench/bench_ignore [PATHS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "ignore/ignore.h"

struct entry {
	char *path;
	unsigned depth; /* number of components */
	bool is_dir;
	size_t subtree_end; /* index just past the last descendant */
};

static struct entry *entries;
static size_t n_entries, max_entries;
static uint64_t rng = 0x2545F4914F6CDD1Du;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static bool full(void)
{
	return n_entries >= max_entries;
}

/* Appends parent/name; returns its index or (size_t)-1 when the context is full. */
static size_t add(size_t parent, const char *name, bool is_dir)
{
	struct entry *e;

	if (full())
		return (size_t)-1;
	e = &entries[n_entries];
	if (parent == (size_t)-1) {
		e->path = strdup(name);
		e->depth = 1;
	} else {
		if (asprintf(&e->path, "%s/%s", entries[parent].path, name) < 0)
			abort();
		e->depth = entries[parent].depth + 1;
	}
	e->is_dir = is_dir;
	e->subtree_end = n_entries + 1;
	return n_entries++;
}

static void close_dir(size_t dir)
{
	if (dir != (size_t)-1)
		entries[dir].subtree_end = n_entries;
}

static const char *const words[] = { "core",   "util",	   "http",   "parser", "client",
				     "server", "types",	   "config", "auth",   "cache",
				     "store",  "proto",	   "api",    "cli",    "log",
				     "test",   "internal", "common", "io",     "net" };

static const char *word(void)
{
	return words[rnd(sizeof(words) / sizeof(words[0]))];
}

static void gen_npm_package(size_t parent, int level)
{
	char name[64];
	size_t pkg, lib;

	snprintf(name, sizeof(name), "%s-%s%u", word(), word(), rnd(100));
	if ((pkg = add(parent, name, true)) == (size_t)-1)
		return;
	add(pkg, "package.json", false);
	add(pkg, "README.md", false);
	add(pkg, "LICENSE", false);
	add(pkg, "index.js", false);
	if ((lib = add(pkg, rnd(2) ? "lib" : "dist", true)) != (size_t)-1) {
		for (unsigned i = 0, n = 3 + rnd(12); i < n; i++) {
			snprintf(name, sizeof(name), "%s%u.%s", word(), i, rnd(4) ? "js" : "d.ts");
			add(lib, name, false);
		}
		close_dir(lib);
	}
	if (level < 2 && rnd(5) == 0) {
		size_t nested = add(pkg, "node_modules", true);
		for (unsigned i = 0, n = 1 + rnd(3); i < n && !full(); i++)
			gen_npm_package(nested, level + 1);
		close_dir(nested);
	}
	close_dir(pkg);
}

static void gen_git(size_t git)
{
	char name[64];

	add(git, "HEAD", false);
	add(git, "config", false);
	size_t refs = add(git, "refs", true);
	add(refs, "heads", true);
	close_dir(refs);
	size_t objects = add(git, "objects", true);
	for (unsigned d = 0; d < 256 && !full(); d++) {
		snprintf(name, sizeof(name), "%02x", d);
		size_t sub = add(objects, name, true);
		for (unsigned i = 0, n = 20 + rnd(40); i < n; i++) {
			snprintf(name, sizeof(name), "%08x%08x%08x%06x", rnd(~0u), rnd(~0u),
				 rnd(~0u), rnd(1u << 24));
			add(sub, name, false);
		}
		close_dir(sub);
	}
	close_dir(objects);
}

static void gen_go_tree(size_t parent, int level, const char *ext)
{
	char name[64];

	for (unsigned i = 0, n = 2 + rnd(6); i < n && !full(); i++) {
		snprintf(name, sizeof(name), "%s%s.%s", word(), rnd(4) ? "" : "_test", ext);
		add(parent, name, false);
	}
	if (rnd(6) == 0)
		add(parent, rnd(2) ? "debug.log" : "scratch.tmp", false);
	if (level < 4) {
		for (unsigned i = 0, n = rnd(4); i < n && !full(); i++) {
			size_t d = add(parent, rnd(10) ? word() : "testdata", true);
			gen_go_tree(d, level + 1, ext);
			close_dir(d);
		}
	}
}

static void generate(size_t count)
{
	char name[64];

	max_entries = count;
	entries = calloc(count, sizeof(*entries));
	static const char *const top[] = { "README.md",	  "Dockerfile", ".dockerignore",
					   ".gitignore",  "go.mod",	"go.sum",
					   "Makefile",	  ".env",	"server.pem",
					   "CHANGELOG.md" };
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		add((size_t)-1, top[i], false);

	size_t git = add((size_t)-1, ".git", true);
	max_entries = count * 15 / 100;
	gen_git(git);
	close_dir(git);

	max_entries = count * 30 / 100;
	size_t src = add((size_t)-1, "src", true);
	while (!full()) {
		size_t d = add(src, word(), true);
		gen_go_tree(d, 1, rnd(3) ? "go" : "c");
		close_dir(d);
	}
	close_dir(src);

	max_entries = count * 45 / 100;
	size_t vendor = add((size_t)-1, "vendor", true);
	add(vendor, "modules.txt", false);
	size_t gh = add(vendor, "github.com", true);
	while (!full()) {
		snprintf(name, sizeof(name), "%s%u", word(), rnd(50));
		size_t org = add(gh, name, true);
		gen_go_tree(org, 2, "go");
		close_dir(org);
	}
	close_dir(gh);
	close_dir(vendor);

	max_entries = count * 52 / 100;
	static const char *const misc[] = { "build", "dist", "logs", "tmp", "docs", "coverage" };
	for (size_t i = 0; i < sizeof(misc) / sizeof(misc[0]); i++) {
		size_t d = add((size_t)-1, misc[i], true);
		for (unsigned k = 0, n = 50 + rnd(200); k < n && !full(); k++) {
			static const char *const ext[] = {
				"log", "tmp", "md", "o", "html", "json"
			};
			snprintf(name, sizeof(name), "%s%u.%s", word(), k, ext[rnd(6)]);
			add(d, name, false);
		}
		close_dir(d);
	}

	max_entries = count;
	size_t nm = add((size_t)-1, "node_modules", true);
	add(nm, ".package-lock.json", false);
	while (!full())
		gen_npm_package(nm, 0);
	close_dir(nm);
}

/* A realistic .dockerignore: 50 lines. */
/* clang-format off */
static const char *const patterns[] = {
	".git",		  ".gitignore",	       ".dockerignore",	   "Dockerfile",	"**/*.tmp",
	"*.log",	  "logs",	       "**/*.log",	   "node_modules",	"!node_modules/keep-me",
	"vendor",	  "!vendor/modules.txt", "build",	   "dist",		"coverage",
	".env",		  ".env.*",	       "**/.DS_Store",	   "*.md",		"!README.md",
	"docs/**",	  "**/__pycache__",    "**/*.pyc",	   ".vscode",		".idea",
	"tmp/**",	  "*.swp",	       "**/*~",		   "secrets",		"*.pem",
	"*.key",	  "target",	       "out",		   "bin/",		".cache",
	"**/node_modules", ".github",	       ".circleci",	   "*.orig",		"*.rej",
	"src/**/testdata", "!src/**/testdata/keep", "**/*_test.go", "!src/core/*_test.go", "*.o",
	"src/*/debug.log", "**/*.swo",	       "npm-debug.log*",   "yarn-error.log",	"/.terraform",
};
/* clang-format on */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t run_per_path(const struct ignore *m)
{
	size_t excluded = 0;

	for (size_t i = 0; i < n_entries; i++)
		excluded += ignore_match(m, entries[i].path);
	return excluded;
}

/* Walk order; stack[d] is the state of the directory at depth d (stack[0] the root). */
static size_t run_walk(const struct ignore *m, bool skip, size_t *visited)
{
	struct ignore_dir stack[64];
	size_t excluded = 0;

	*visited = 0;
	stack[0] = IGNORE_DIR_ROOT;
	for (size_t i = 0; i < n_entries;) {
		const struct entry *e = &entries[i];
		struct ignore_dir self;
		bool ex = ignore_match_entry(m, &stack[e->depth - 1], e->path, &self);

		(*visited)++;
		excluded += ex;
		if (e->is_dir) {
			stack[e->depth] = self;
			if (skip && ex && ignore_dir_skippable(m, &self, e->path)) {
				/* everything beneath is excluded without looking */
				excluded += e->subtree_end - i - 1;
				i = e->subtree_end;
				continue;
			}
		}
		i++;
	}
	return excluded;
}

int main(int argc, char **argv)
{
	size_t count = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t n_pat = sizeof(patterns) / sizeof(patterns[0]);
	struct ignore *m = NULL;
	struct plate_error *err = NULL;
	size_t ex[3] = { 0 }, visited = 0;
	double best[3] = { 1e9, 1e9, 1e9 };
	static const char *const names[] = { "per-path", "tree-walk", "walk+skip" };
	unsigned max_depth = 0;

	generate(count);
	for (size_t i = 0; i < n_entries; i++)
		if (entries[i].depth > max_depth)
			max_depth = entries[i].depth;
	/* through the file reader, as a build does ("/.terraform", "bin/" get normalised) */
	struct buf file = BUF_INIT(BUF_UNLIMITED);
	char **lines = NULL;
	size_t n_lines = 0;
	for (size_t i = 0; i < n_pat; i++)
		buf_addf(&file, "%s\n", patterns[i]);
	if (ignore_file_parse(file.data, file.len, &lines, &n_lines, &err) < 0 ||
	    ignore_new((const char *const *)lines, n_lines, &m, &err) < 0) {
		fprintf(stderr, "bench_ignore: %s\n", err->message);
		return 1;
	}
	buf_release(&file);
	strv_free(lines, n_lines);
	for (int round = 0; round < 5; round++) {
		for (int k = 0; k < 3; k++) {
			double t0 = now();
			size_t v = n_entries;
			ex[k] = k == 0 ? run_per_path(m) : run_walk(m, k == 2, &v);
			double dt = now() - t0;
			if (dt < best[k])
				best[k] = dt;
			if (k == 2)
				visited = v;
		}
	}
	printf("context: %zu paths (max depth %u), %zu patterns, %zu excluded\n", n_entries,
	       max_depth, n_pat, ex[0]);
	for (int k = 0; k < 3; k++)
		printf("%-10s %9.2f ms  %12.0f paths/s  %7.1f ns/path\n", names[k], best[k] * 1e3,
		       (double)n_entries / best[k], best[k] * 1e9 / (double)n_entries);
	printf("walk+skip visited %zu of %zu paths\n", visited, n_entries);
	if (ex[0] != ex[1] || ex[0] != ex[2]) {
		fprintf(stderr, "bench_ignore: APIs disagree (%zu, %zu, %zu excluded)\n", ex[0],
			ex[1], ex[2]);
		return 1;
	}
	ignore_free(m);
	for (size_t i = 0; i < n_entries; i++)
		free(entries[i].path);
	free(entries);
	return 0;
}
