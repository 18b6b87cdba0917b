/*
 * check/check.h — findings: what the image doctor and the Dockerfile checks report.
 *
 * Purpose
 *   One representation for every finding plate reports about a Dockerfile, a build context
 *   or a built image, so `plate check`, `plate build` and `--format json` show them alike.
 *   A finding has a stable ID (BuildKit's rule names for Dockerfile checks, e.g.
 *   "StageNameCasing"; CamelCase names of the same style for the doctor, e.g. "RunsAsRoot"),
 *   a severity, where it is (a file and line, and/or a path inside the image), a one-line
 *   message and a one-line fix.
 *
 * Policy
 *   `# check=skip=ID,ID` (or `skip=all`) drops findings; `# check=error=true` and `--strict`
 *   raise warnings to errors.  check_report_apply_policy() does both; the caller decides the
 *   exit status from check_report_count() (DESIGN.md: 3 when an error remains).
 *
 * Rendering
 *   Text, one finding per two lines:
 *       Dockerfile:12: warning: image runs as root [RunsAsRoot]
 *           fix: add `USER 65534:65534` to the final stage
 *   the location being FILE:LINE, FILE, or `image:/path` when only an image path is known.
 *   JSON: {"findings":[{"id","severity","file","line","path","message","fix"}...],
 *          "summary":{"error":N,"warning":N,"info":N}} with absent fields left out.
 *
 * Ownership
 *   A report owns copies of every string added to it; release it with check_report_release().
 *   Parser results (struct check_elf, check_go_info, check_packages) own their strings;
 *   release them with the matching *_release().
 *
 * Also here (docs/internals/check.md)
 *   Pure, capped parsers of what images hold (ELF, Go build info, dpkg and apk databases);
 *   struct check_fs, the merged file tree of an image's layer snapshots (I/O, read-only);
 *   check_image(), the minimal-image doctor; check_sbom(), SPDX 2.3 JSON.  The library
 *   never prints; nothing reads the environment or the clock.
 */
#ifndef PLATE_CHECK_H
#define PLATE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/error.h"

enum check_severity {
	CHECK_INFO,
	CHECK_WARNING,
	CHECK_ERROR,
};

struct check_finding {
	char *id;
	enum check_severity severity;
	char *file;    /* NULL when the finding is about the image only */
	unsigned line; /* 1-based; 0 when no line applies */
	char *path;    /* a path inside the image, or NULL */
	char *message;
	char *fix;     /* NULL when there is no one-line fix */
};

struct check_report {
	struct check_finding *items;
	size_t n, alloc;
};

#define CHECK_REPORT_INIT { .items = NULL, .n = 0, .alloc = 0 }

const char *check_severity_name(enum check_severity s);

/* Adds a finding; file, path and fix may be NULL.  The message is printf-formatted. */
int check_report_add(struct check_report *r, const char *id, enum check_severity severity,
		     const char *file, unsigned line, const char *path, const char *fix,
		     struct plate_error **err, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

void check_report_release(struct check_report *r);

/* skip: IDs to drop (case-sensitive, as BuildKit), "all" drops every finding; NULL-terminated
 * or NULL.  errors_on_warnings raises every warning to an error. */
void check_report_apply_policy(struct check_report *r, const char *const *skip,
			       bool errors_on_warnings);

size_t check_report_count(const struct check_report *r, enum check_severity severity);

/* Stable order: file, line, path, id; findings with no file come last. */
void check_report_sort(struct check_report *r);

int check_report_render_text(const struct check_report *r, struct buf *out);
int check_report_render_json(const struct check_report *r, struct buf *out,
			     struct plate_error **err);

/* ---- parsers of what an image holds (pure: a buffer and its length, capped) ---------- */

/*
 * ELF (System V gABI; 32/64-bit, either byte order).  Reads the program headers (PT_INTERP,
 * PT_DYNAMIC, PT_LOAD), the dynamic section (DT_NEEDED, DT_RUNPATH, DT_RPATH, DT_FLAGS_1)
 * and, when section headers are present, where ".go.buildinfo" lies.  Only the pages
 * holding those are touched, so a caller may pass a whole mmap'd file cheaply.
 * check_elf_parse() returns 0 and fills *out, 1 when the buffer is not ELF, -1 when it
 * claims to be ELF but is malformed.
 */
#define CHECK_ELF_MAX_PHDRS 4096
#define CHECK_ELF_MAX_SHDRS 65535
#define CHECK_ELF_MAX_DYN 65536
#define CHECK_ELF_MAX_NEEDED 1024
#define CHECK_ELF_MAX_STRING 4096

enum check_elf_kind {
	CHECK_ELF_STATIC,     /* ET_EXEC, no interpreter, no dynamic section needing anything */
	CHECK_ELF_STATIC_PIE, /* ET_DYN without interpreter, DF_1_PIE, no DT_NEEDED */
	CHECK_ELF_DYNAMIC,    /* has PT_INTERP: the kernel runs the interpreter first */
	CHECK_ELF_SHARED,     /* a shared library (ET_DYN, no interpreter, not a PIE) */
	CHECK_ELF_OTHER,      /* relocatable, core, ... */
};

struct check_elf_load {
	uint64_t vaddr, memsz, offset, filesz;
	bool writable;
};

struct check_elf {
	bool is_64, big_endian;
	uint16_t type, machine;
	enum check_elf_kind kind;
	char *interp;   /* PT_INTERP, or NULL */
	char **needed;  /* DT_NEEDED in order */
	size_t n_needed;
	char *runpath;  /* DT_RUNPATH, or NULL */
	char *rpath;    /* DT_RPATH, or NULL */
	struct check_elf_load *loads;
	size_t n_loads;
	bool has_go_buildinfo; /* a ".go.buildinfo" section */
	uint64_t go_buildinfo_offset, go_buildinfo_size;
};

int check_elf_parse(const void *buf, size_t len, struct check_elf *out, struct plate_error **err);
void check_elf_release(struct check_elf *e);
/* File offset of virtual address vaddr (in a PT_LOAD's file part), or -1. */
int64_t check_elf_vaddr_offset(const struct check_elf *e, uint64_t vaddr);

/*
 * Go build information: the "\xff Go buildinf:" header Go's linker writes (in
 * ".go.buildinfo", or at the start of the first writable segment).  Both layouts are read:
 * Go >= 1.18 stores the version and module strings inline (uvarint length + bytes, flag
 * 0x2), older toolchains store pointers to Go string headers, resolved through the ELF
 * segments (elf may be NULL for a non-ELF buffer; then only the inline layout works).
 * The module text ("path", "mod", "dep", "=>", "build" lines) is parsed into *out.
 * Returns 0 found, 1 not a Go binary (no header), -1 malformed.
 */
#define CHECK_GO_MAX_DEPS 100000
#define CHECK_GO_MAX_INFO (16u << 20)

struct check_go_module {
	char *path, *version, *sum; /* sum may be NULL (main module, replaced modules) */
	char *replace_path, *replace_version, *replace_sum; /* "=>" line, or NULLs */
};

struct check_go_info {
	char *go_version;   /* "go1.19.8" */
	char *path;         /* the main package's import path, or NULL */
	struct check_go_module main; /* path NULL when built outside a module */
	struct check_go_module *deps;
	size_t n_deps;
	char **setting_keys, **setting_values; /* "build" lines, in order */
	size_t n_settings;
};

int check_go_buildinfo_parse(const void *buf, size_t len, const struct check_elf *elf,
			     struct check_go_info *out, struct plate_error **err);
/* Only the module text (what `go version -m` prints after the first line), added to *out,
 * which the caller zeroes first and releases afterwards, also on failure. */
int check_go_modinfo_parse(const char *text, size_t len, struct check_go_info *out,
			   struct plate_error **err);
void check_go_info_release(struct check_go_info *g);
/* The value of a "build" setting ("CGO_ENABLED"), or NULL. */
const char *check_go_setting(const struct check_go_info *g, const char *key);

/*
 * Installed packages: dpkg's status file (var/lib/dpkg/status, deb822 stanzas; only those
 * whose Status says "installed") and apk's database (lib/apk/db/installed, "K:value" lines,
 * stanzas separated by blank lines).  Errors carry the line.
 */
#define CHECK_PKG_MAX_FILE (64u << 20)
#define CHECK_PKG_MAX_PACKAGES 200000

struct check_package {
	char *name, *version, *arch;
	char *source;   /* dpkg Source (without its version), apk origin, or NULL */
	char *license;  /* apk L:, or NULL */
	char *homepage; /* dpkg Homepage, apk U:, or NULL */
};

struct check_packages {
	struct check_package *v;
	size_t n, alloc;
};

int check_dpkg_status_parse(const char *buf, size_t len, struct check_packages *out,
			    struct plate_error **err);
int check_apk_installed_parse(const char *buf, size_t len, struct check_packages *out,
			      struct plate_error **err);
void check_packages_release(struct check_packages *p);

/* ---- the snapshot index ---------------------------------------------------------------- */

/*
 * What the doctor knows about a regular executable without opening it again: the facts of
 * check_elf_parse() and whether check_go_buildinfo_parse() found build info.  Only for
 * well-formed ELF files; strings are owned by whatever handed the facts out.
 */
struct check_file_facts {
	enum check_elf_kind kind;
	const char *interp, *runpath, *rpath; /* or NULL */
	const char *const *needed;            /* DT_NEEDED in order */
	size_t n_needed;
	bool go;     /* Go build info was read */
	bool go_cgo; /* ... and says CGO_ENABLED=1 */
};

/*
 * A layer snapshot's index (docs/internals/check.md "The snapshot index"): every entry of
 * an extracted layer tree (name, type, mode, owner, size, link target, device, overlayfs
 * whiteout and opaque markers) and the ELF facts of its regular executables, written once
 * when the snapshot is made so that the doctor and the SBOM never walk the tree.
 * Binary, versioned (CHECK_INDEX_VERSION), checksummed (SHA-256 of the body), and bound to
 * the layer's diffID.  check_index_build() is deterministic: the same tree gives the same
 * bytes, so checking an index is rebuilding it and comparing.
 */
#define CHECK_INDEX_VERSION 1
#define CHECK_INDEX_MAX ((size_t)256 << 20)

struct check_index;

/* Walks the tree at dirfd (not following links) and serialises its index into out (at most
 * CHECK_INDEX_MAX bytes).  diff_id may be NULL (recorded as "").  entries (every entry
 * but the root) and bytes (sizes of regular files) may be NULL. */
int check_index_build(int dirfd, const char *diff_id, struct buf *out, uint64_t *entries,
		      uint64_t *bytes, struct plate_error **err);
/* Parses an index (outside input: bounds-checked, capped).  diff_id, when not NULL, must be
 * the one the index records.  -1 with *err for anything but a sound index of version
 * CHECK_INDEX_VERSION. */
int check_index_parse(const void *data, size_t len, const char *diff_id,
		      struct check_index **out, struct plate_error **err);
void check_index_free(struct check_index *ix);
/* Every entry but the root, and the bytes of regular files (as info.json counts them). */
void check_index_stats(const struct check_index *ix, uint64_t *entries, uint64_t *bytes);

/* ---- an image's merged file tree ------------------------------------------------------ */

/*
 * A read-only view of the tree an image's layers make once stacked: the extracted layer
 * snapshots (bottom first, overlayfs whiteouts kept: 0/0 character devices and the
 * opaque xattr) are consulted top-down as overlayfs would, without mounting anything.
 * Paths are image paths ("/usr/bin/app"); symbolic links are followed inside the image
 * root (an absolute target or ".." never leaves it), at most 40 per lookup.
 */
struct check_fs;

struct check_fs_entry {
	char *path;      /* the resolved path, "/"-rooted, no symlinks */
	struct stat st;  /* lstat of the entry in the layer that provides it */
	size_t layer;    /* index of that layer */
	size_t min;      /* a directory: the lowest layer merged into it */
};

/* One layer of an image: its extracted tree, and the tree's index when there is one. */
struct check_fs_layer {
	const char *dir;
	const char *index;   /* a check_index file, or NULL */
	const char *diff_id; /* what the index must name, or NULL */
};

/* An index that is missing, unreadable, of another version or damaged is not an error: that
 * layer's tree is read instead (the view is the same either way). */
int check_fs_open_layers(const struct check_fs_layer *layers, size_t n, struct check_fs **out,
			 struct plate_error **err);
/* The same without indexes. */
int check_fs_open(const char *const *layer_dirs, size_t n, struct check_fs **out,
		  struct plate_error **err);
/* How many layers were read from their index (the others were walked). */
size_t check_fs_indexed(const struct check_fs *fs);
void check_fs_free(struct check_fs *fs);
/* 0 found (*out filled; release with check_fs_entry_release), 1 missing, -1 error.
 * follow: whether a symlink as the last component is followed too. */
int check_fs_lookup(struct check_fs *fs, const char *path, bool follow,
		    struct check_fs_entry *out, struct plate_error **err);
void check_fs_entry_release(struct check_fs_entry *e);
/* Opens a found regular file read-only; *size is the open file's own size (the entry's stat
 * may come from an index): an entry that is not a regular file in its layer is an error. */
int check_fs_open_entry(struct check_fs *fs, const struct check_fs_entry *e, int *fd,
			off_t *size, struct plate_error **err);
/* The ELF facts of the regular file at path (not following a last symlink): 0 with *out
 * (owned by fs; NULL when the file is not a well-formed ELF file), 1 when path is missing
 * or not a regular file, -1 error (a file the index could not read is read now). */
int check_fs_facts(struct check_fs *fs, const char *path, const struct check_file_facts **out,
		   struct plate_error **err);
/* Reads at most max bytes from the start of a file (following symlinks); 1 when missing. */
int check_fs_read(struct check_fs *fs, const char *path, size_t max, char **data, size_t *len,
		  struct plate_error **err);
/* Calls fn for every visible entry under dir (depth first, names sorted); fn returns <0 to
 * stop with that error.  Directories are visited before their content. */
typedef int check_fs_walk_fn(void *data, const char *path, const struct stat *st, size_t layer,
			     struct plate_error **err);
int check_fs_walk(struct check_fs *fs, const char *dir, check_fs_walk_fn *fn, void *data,
		  struct plate_error **err);

/* ---- the doctor and the SBOM --------------------------------------------------------- */

struct oci_config;

struct check_image_options {
	int64_t max_size;    /* bytes, or < 0 for no budget */
	int64_t image_size;  /* compressed layers + config, compared with max_size */
	const char *file;    /* Dockerfile name for findings about instructions, or NULL */
};

/* Examines the image (config + merged tree) and adds findings to r.  Finding IDs:
 * MissingInterpreter, MissingLibrary, MissingCABundle, RunsAsRoot, UnknownUser,
 * NonNumericUser, MissingEntrypoint, NotExecutable, ShellFormWithoutShell,
 * MissingZoneinfo, ImageTooLarge (docs/internals/check.md). */
int check_image(struct check_fs *fs, const struct oci_config *config,
		const struct check_image_options *opts, struct check_report *r,
		struct plate_error **err);

/* An SPDX 2.3 JSON document for the image (canonical JSON, deterministic): Go modules and
 * the Go toolchain of every Go binary, Debian and Alpine packages. name: the image's name;
 * id: its manifest digest (makes the document namespace); created: the image's creation
 * time (RFC 3339) or NULL for the epoch. */
int check_sbom(struct check_fs *fs, const char *name, const char *id, const char *created,
	       char **json, size_t *len, struct plate_error **err);

#endif
