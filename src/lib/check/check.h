/*
 * check/check.h — the image doctor and the SBOM, and what they read.
 *
 * Contents (docs/internals/check.md)
 *   Pure, capped parsers of the installed-package databases (dpkg, apk); struct check_fs,
 *   the merged file tree of an image's layer snapshots (I/O, read-only), read through their
 *   indexes (layer/layer.h) with executables' facts from elf/elf.h; check_image(), the
 *   minimal-image doctor, whose findings go into a struct finding_report
 *   (finding/finding.h); check_sbom(), SPDX 2.3 JSON; and the same on stored images.  The
 *   library never prints; nothing reads the environment or the clock.
 */
#ifndef PLATE_CHECK_H
#define PLATE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/error.h"
#include "elf/elf.h"
#include "finding/finding.h"

/* ---- installed packages (pure: a buffer and its length, capped) --------------------- */

/*
 * Installed packages: dpkg's status file (var/lib/dpkg/status, deb822 stanzas; only those
 * whose Status says "installed") and apk's database (lib/apk/db/installed, "K:value" lines,
 * stanzas separated by blank lines).  Errors carry the line.
 */
#define CHECK_PKG_MAX_FILE (64u << 20)
#define CHECK_PKG_MAX_PACKAGES 200000

struct check_package {
	char *name, *version, *arch;
	char *source;	/* dpkg Source (without its version), apk origin, or NULL */
	char *license;	/* apk L:, or NULL */
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
	char *path;	/* the resolved path, "/"-rooted, no symlinks */
	struct stat st; /* lstat of the entry in the layer that provides it */
	size_t layer;	/* index of that layer */
	size_t min;	/* a directory: the lowest layer merged into it */
};

/* One layer of an image: its extracted tree, and the tree's index when there is one. */
struct check_fs_layer {
	const char *dir;
	const char *index;   /* a layer_index file, or NULL */
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
int check_fs_lookup(struct check_fs *fs, const char *path, bool follow, struct check_fs_entry *out,
		    struct plate_error **err);
void check_fs_entry_release(struct check_fs_entry *e);
/* Opens a found regular file read-only; *size is the open file's own size (the entry's stat
 * may come from an index): an entry that is not a regular file in its layer is an error. */
int check_fs_open_entry(struct check_fs *fs, const struct check_fs_entry *e, int *fd, off_t *size,
			struct plate_error **err);
/* The ELF facts of the regular file at path (not following a last symlink): 0 with *out
 * (owned by fs; NULL when the file is not a well-formed ELF file), 1 when path is missing
 * or not a regular file, -1 error (a file the index could not read is read now). */
int check_fs_facts(struct check_fs *fs, const char *path, const struct elf_facts **out,
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
	int64_t max_size;   /* bytes, or < 0 for no budget */
	int64_t image_size; /* compressed layers + config, compared with max_size */
	const char *file;   /* Dockerfile name for findings about instructions, or NULL */
};

/* Examines the image (config + merged tree) and adds findings to r.  Finding IDs:
 * MissingInterpreter, MissingLibrary, MissingCABundle, RunsAsRoot, UnknownUser,
 * NonNumericUser, MissingEntrypoint, NotExecutable, ShellFormWithoutShell,
 * MissingZoneinfo, ImageTooLarge (docs/internals/check.md). */
int check_image(struct check_fs *fs, const struct oci_config *config,
		const struct check_image_options *opts, struct finding_report *r,
		struct plate_error **err);

/* An SPDX 2.3 JSON document for the image (canonical JSON, deterministic): Go modules and
 * the Go toolchain of every Go binary, Debian and Alpine packages. name: the image's name;
 * id: its manifest digest (makes the document namespace); created: the image's creation
 * time (RFC 3339) or NULL for the epoch. */
int check_sbom(struct check_fs *fs, const char *name, const char *id, const char *created,
	       char **json, size_t *len, struct plate_error **err);

/* ---- stored images ------------------------------------------------------------------- */

struct store;
struct store_image;

/* The merged tree of a stored image's layer snapshots, read through their indexes (the
 * caller holds the store's lock, at least shared). */
int check_fs_open_image(struct store *s, const struct store_image *img, struct check_fs **out,
			struct plate_error **err);

struct check_stored_options {
	bool strict;		 /* warnings become errors (finding_report_apply_policy) */
	int64_t max_size;	 /* bytes, or < 0 for no budget */
	const char *const *skip; /* finding IDs to drop, "all", or NULL; NULL-terminated */
	/* Every layer from its index, which records the image's owners: a caller outside the
	 * rootless user namespace would see host ids in a walked tree.  A layer without a
	 * sound index fails (EAGAIN). */
	bool indexed_only;
};

/* The doctor on the stored image `name` for platform, under a shared store lock: its
 * findings added to r, the policy applied, sorted. */
int check_stored_image(struct store *s, const char *name, const char *platform,
		       const struct check_stored_options *o, struct finding_report *r,
		       struct plate_error **err);

/* check_sbom() of a stored image, named after its first name (familiar form), else ref. */
int check_sbom_image(struct store *s, const struct store_image *img, const char *ref, char **json,
		     size_t *len, struct plate_error **err);
/* The SBOM stored with img (check_sbom_attach()): 0 and *json, 1 when it has none, -1. */
int check_sbom_stored(struct store *s, const struct store_image *img, char **json, size_t *len,
		      struct plate_error **err);
/* Computes the SBOM of the stored image `digest` for platform and stores it with the image
 * as an OCI 1.1 referrer (docs/internals/check.md "SBOM"), in a transaction of its own. */
int check_sbom_attach(struct store *s, const char *digest, const char *platform,
		      struct plate_error **err);

#endif
