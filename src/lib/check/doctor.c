/*
 * The minimal-image doctor (DESIGN.md "The minimal-image doctor"): what makes a small
 * image fail at run time rather than at build time.  One walk of the merged tree looks at
 * every executable regular file: ELF headers only (mmap'd, so only the header pages are
 * read).  Scanning a Go binary's bytes for what it uses (crypto/tls, time zones) is
 * expensive, so it happens only when the image lacks what that use needs.
 *
 * TLS in Go: the standard library's packages are not listed in build info, so a Go binary
 * is called TLS-capable when its bytes hold the symbol prefix "crypto/tls." (the runtime's
 * function table, kept even in stripped binaries, names every linked function).  Time
 * zones: the function "time.LoadLocation" (its name with the terminating NUL, so that
 * LoadLocationFromTZData, linked by every binary, does not count) is linked only when
 * called; "time/tzdata." marks a binary that embeds its own database.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "check/check.h"
#include "oci/oci.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PASSWD_MAX (4u << 20)
#define LDCONF_MAX (1u << 20)
#define MAX_LIB_DIRS 64

/* clang-format off */
static const char *const ca_files[] = {
	"/etc/ssl/certs/ca-certificates.crt",               /* Debian, Ubuntu, Alpine, Gentoo */
	"/etc/pki/tls/certs/ca-bundle.crt",                 /* Fedora, RHEL */
	"/etc/ssl/ca-bundle.pem",                           /* openSUSE */
	"/etc/pki/tls/cacert.pem",                          /* OpenELEC */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* CentOS, RHEL 7 */
	"/etc/ssl/cert.pem",                                /* Alpine, BSDs */
};
/* clang-format on */

/* clang-format off */
static const char *const default_lib_dirs[] = {
	"/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib",
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf",
	"/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu",
	"/lib/s390x-linux-gnu", "/usr/lib/s390x-linux-gnu",
	"/lib/powerpc64le-linux-gnu", "/usr/lib/powerpc64le-linux-gnu",
	"/lib/riscv64-linux-gnu", "/usr/lib/riscv64-linux-gnu",
};
/* clang-format on */

struct lib_cache_entry {
	char *name;
	bool found;
};

struct doctor {
	struct check_fs *fs;
	const struct oci_config *config;
	struct finding_report *r;
	struct oci_strings lib_dirs; /* ld.so.conf directories, then the defaults */
	struct lib_cache_entry *cache;
	size_t n_cache;
	struct oci_strings go_binaries;	 /* paths of Go executables */
	struct oci_strings ssl_binaries; /* dynamically linked to a TLS library */
	struct oci_strings targets;	 /* resolved ENTRYPOINT/CMD targets, checked on their own */
};

static const char *env_get(const struct oci_config *c, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = c->env.n; i-- > 0;)
		if (strncmp(c->env.v[i], key, kl) == 0 && c->env.v[i][kl] == '=')
			return c->env.v[i] + kl + 1;
	return NULL;
}

static bool exists(struct doctor *d, const char *path, bool want_dir, struct plate_error **err,
		   int *rc)
{
	struct check_fs_entry e;
	int r = check_fs_lookup(d->fs, path, true, &e, err);
	bool ok;

	if (r < 0) {
		*rc = -1;
		return false;
	}
	if (r > 0)
		return false;
	ok = want_dir ? S_ISDIR(e.st.st_mode) : S_ISREG(e.st.st_mode);
	check_fs_entry_release(&e);
	return ok;
}

/* ---- shared libraries --------------------------------------------------------------- */

static int add_lib_dirs_from(struct doctor *d, const char *text, size_t len, unsigned depth,
			     struct plate_error **err);

/* "include /etc/ld.so.conf.d/ *.conf" (without the space): the files of that directory with the suffix. */
struct include_walk {
	struct doctor *d;
	const char *dir, *suffix;
	unsigned depth;
};

static int include_one(void *data, const char *path, const struct stat *st, size_t layer,
		       struct plate_error **err)
{
	struct include_walk *iw = data;
	_cleanup_free_ char *text = NULL;
	size_t len, pl = strlen(path), sl = strlen(iw->suffix), dl = strlen(iw->dir);
	const char *slash = strrchr(path, '/');

	if (!S_ISREG(st->st_mode) || (size_t)(slash - path) != dl || pl < sl ||
	    strcmp(path + pl - sl, iw->suffix) != 0)
		return 0;
	if (check_fs_read(iw->d->fs, path, LDCONF_MAX, &text, &len, err) < 0)
		return -1;
	return text ? add_lib_dirs_from(iw->d, text, len, iw->depth + 1, err) : 0;
}

static int add_lib_dirs_from(struct doctor *d, const char *text, size_t len, unsigned depth,
			     struct plate_error **err)
{
	_cleanup_free_ char *copy = strndup(text, len);
	char *save = NULL;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (depth > 4)
		return 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line += strspn(line, " \t");
		if (strncmp(line, "include", 7) == 0 && (line[7] == ' ' || line[7] == '\t')) {
			char *pat = line + 8 + strspn(line + 8, " \t"), *star, *slash;
			pat[strcspn(pat, " \t\r")] = '\0';
			star = strchr(pat, '*');
			slash = strrchr(pat, '/');
			if (star == NULL || slash == NULL || star < slash)
				continue;
			*slash = '\0';
			struct include_walk iw = {
				.d = d, .dir = pat, .suffix = star + 1, .depth = depth
			};
			if (check_fs_walk(d->fs, pat, include_one, &iw, err) < 0)
				return -1;
			continue;
		}
		line[strcspn(line, " \t\r")] = '\0';
		if (line[0] == '/' && d->lib_dirs.n < MAX_LIB_DIRS &&
		    oci_strings_add(&d->lib_dirs, line, err) < 0)
			return -1;
	}
	return 0;
}

static int load_lib_dirs(struct doctor *d, struct plate_error **err)
{
	_cleanup_free_ char *conf = NULL;
	size_t len;
	int r = check_fs_read(d->fs, "/etc/ld.so.conf", LDCONF_MAX, &conf, &len, err);

	if (r < 0 || (r == 0 && add_lib_dirs_from(d, conf, len, 0, err) < 0))
		return -1;
	for (size_t i = 0; i < sizeof(default_lib_dirs) / sizeof(*default_lib_dirs); i++)
		if (oci_strings_add(&d->lib_dirs, default_lib_dirs[i], err) < 0)
			return -1;
	return 0;
}

/* Whether name is found in one of the ':'-separated dirs ($ORIGIN is the binary's dir). */
static int find_in_dirs(struct doctor *d, const char *dirs, const char *origin, const char *name,
			bool *found, struct plate_error **err)
{
	_cleanup_free_ char *copy = strdup(dirs);
	char *save = NULL;
	int rc = 0;

	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *dir = strtok_r(copy, ":", &save); dir && !*found;
	     dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *path = NULL;
		int n;
		if (strncmp(dir, "$ORIGIN", 7) == 0)
			n = asprintf(&path, "%s%s/%s", origin, dir + 7, name);
		else if (strncmp(dir, "${ORIGIN}", 9) == 0)
			n = asprintf(&path, "%s%s/%s", origin, dir + 9, name);
		else
			n = asprintf(&path, "%s/%s", dir, name);
		if (n < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		*found = exists(d, path, false, err, &rc);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int library_present(struct doctor *d, const struct elf_facts *e, const char *bin,
			   const char *name, bool *found, struct plate_error **err)
{
	_cleanup_free_ char *origin = strndup(bin, (size_t)(strrchr(bin, '/') - bin));
	const char *ld_path = env_get(d->config, "LD_LIBRARY_PATH");
	int rc = 0;

	*found = false;
	if (origin == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (strchr(name, '/') != NULL) {
		*found = exists(d, name, false, err, &rc);
		return rc;
	}
	if (e->rpath && !e->runpath && find_in_dirs(d, e->rpath, origin, name, found, err) < 0)
		return -1;
	if (!*found && ld_path && find_in_dirs(d, ld_path, origin, name, found, err) < 0)
		return -1;
	if (!*found && e->runpath && find_in_dirs(d, e->runpath, origin, name, found, err) < 0)
		return -1;
	if (*found)
		return 0;
	for (size_t i = 0; i < d->n_cache; i++)
		if (strcmp(d->cache[i].name, name) == 0) {
			*found = d->cache[i].found;
			return 0;
		}
	for (size_t i = 0; i < d->lib_dirs.n && !*found; i++) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", d->lib_dirs.v[i], name) < 0)
			return plate_err_new(err, ENOMEM, "out of memory");
		*found = exists(d, path, false, err, &rc);
		if (rc < 0)
			return -1;
	}
	struct lib_cache_entry *grown = reallocarray(d->cache, d->n_cache + 1, sizeof(*grown));
	if (grown == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	d->cache = grown;
	grown[d->n_cache].name = strdup(name);
	grown[d->n_cache].found = *found;
	if (grown[d->n_cache].name == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	d->n_cache++;
	return 0;
}

static bool is_tls_library(const char *name)
{
	return strncmp(name, "libssl.so", 9) == 0 || strncmp(name, "libgnutls.so", 12) == 0 ||
	       strncmp(name, "libcurl.so", 10) == 0 || strncmp(name, "libcurl-gnutls.so", 17) == 0;
}

struct mapped {
	void *p;
	size_t len;
};

static void unmap(struct mapped *m)
{
	if (m->p != NULL && m->p != MAP_FAILED)
		munmap(m->p, m->len);
	m->p = NULL;
}

static int map_file(struct doctor *d, const char *path, struct mapped *m, struct plate_error **err)
{
	struct check_fs_entry e;
	_cleanup_close_ int fd = -1;
	off_t size;
	int r = check_fs_lookup(d->fs, path, true, &e, err);

	m->p = NULL;
	m->len = 0;
	if (r != 0)
		return r;
	if (!S_ISREG(e.st.st_mode) || e.st.st_size == 0) {
		check_fs_entry_release(&e);
		return 1;
	}
	r = check_fs_open_entry(d->fs, &e, &fd, &size, err);
	check_fs_entry_release(&e);
	if (r < 0)
		return -1;
	if (size == 0)
		return 1;
	m->len = (size_t)size;
	m->p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m->p == MAP_FAILED) {
		m->p = NULL;
		return plate_err_new(err, errno, "cannot map '%s'", path);
	}
	return 0;
}

/* Checks one executable: ELF interpreter and libraries, Go build info, TLS libraries.
 * Its facts come from the layer's index: nothing is opened here. */
static int examine_binary(struct doctor *d, const char *path, bool target, struct plate_error **err)
{
	const struct elf_facts *f;
	enum finding_severity sev = target ? FINDING_ERROR : FINDING_WARNING;
	_cleanup_buf_ struct buf missing = BUF_INIT(BUF_UNLIMITED);
	bool tls = false;
	int r = check_fs_facts(d->fs, path, &f, err);

	if (r != 0 || f == NULL)
		return r < 0 ? -1 : 0;
	if (f->go && oci_strings_add(&d->go_binaries, path, err) < 0)
		return -1;
	if (f->kind == ELF_KIND_DYNAMIC) {
		const char *fix =
			f->go ? "build it statically (`CGO_ENABLED=0 go build`) or add the "
				"C library to the image"
			      : "link it statically or add its libraries to the image";
		int x = 0;
		if (!exists(d, f->interp, false, err, &x) && x == 0) {
			if (finding_report_add(d->r, "MissingInterpreter", sev, NULL, 0, path, fix,
					       err,
					       "'%s' is dynamically linked%s but its interpreter "
					       "'%s' is not in the image",
					       path, f->go_cgo ? " (CGO_ENABLED=1)" : "",
					       f->interp) < 0)
				return -1;
		}
		if (x < 0)
			return -1;
		for (size_t i = 0; i < f->n_needed; i++) {
			bool found;
			if (library_present(d, f, path, f->needed[i], &found, err) < 0)
				return -1;
			if (!found && (buf_addf(&missing, "%s'%s'", missing.len ? ", " : "",
						f->needed[i]) < 0))
				return plate_err_new(err, ENOMEM, "out of memory");
			tls = tls || is_tls_library(f->needed[i]);
		}
		if (missing.len &&
		    finding_report_add(d->r, "MissingLibrary", sev, NULL, 0, path, fix, err,
				       "'%s' needs %s, not in the image", path, missing.data) < 0)
			return -1;
	}
	if (tls && oci_strings_add(&d->ssl_binaries, path, err) < 0)
		return -1;
	return 0;
}

static bool is_target(const struct doctor *d, const char *path)
{
	for (size_t i = 0; i < d->targets.n; i++)
		if (strcmp(d->targets.v[i], path) == 0)
			return true;
	return false;
}

static int walk_one(void *data, const char *path, const struct stat *st, size_t layer,
		    struct plate_error **err)
{
	struct doctor *d = data;

	if (!S_ISREG(st->st_mode) || (st->st_mode & 0111) == 0 || st->st_size < 52 ||
	    is_target(d, path))
		return 0;
	return examine_binary(d, path, false, err);
}

/* ---- ENTRYPOINT, CMD, HEALTHCHECK --------------------------------------------------- */

static bool shell_form(const struct oci_strings *s)
{
	return s->n >= 2 && strcmp(s->v[0], "/bin/sh") == 0 && strcmp(s->v[1], "-c") == 0;
}

/* Resolves argv0 as the runtime does: a name with a slash is a path (relative to the
 * working directory), other names are searched in the config's PATH. */
static int resolve_command(struct doctor *d, const char *argv0, char **out,
			   struct check_fs_entry *entry, struct plate_error **err)
{
	const char *path = env_get(d->config, "PATH");
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;
	int r;

	*out = NULL;
	if (strchr(argv0, '/') != NULL) {
		const char *wd = d->config->working_dir && d->config->working_dir[0]
					 ? d->config->working_dir
					 : "/";
		if (asprintf(out, "%s%s%s", argv0[0] == '/' ? "" : wd, argv0[0] == '/' ? "" : "/",
			     argv0) < 0) {
			*out = NULL;
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		return check_fs_lookup(d->fs, *out, true, entry, err);
	}
	copy = strdup(path ? path : DEFAULT_PATH);
	if (copy == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		free(*out);
		if (asprintf(out, "%s/%s", dir, argv0) < 0) {
			*out = NULL;
			return plate_err_new(err, ENOMEM, "out of memory");
		}
		r = check_fs_lookup(d->fs, *out, true, entry, err);
		if (r <= 0)
			return r;
	}
	return 1;
}

/* The OCI architecture of an ELF e_machine, or NULL for one no platform of ours has. */
static const char *elf_arch(unsigned machine, bool is_64)
{
	switch (machine) {
	case 3:
		return "386";
	case 62:
		return "amd64";
	case 183:
		return "arm64";
	case 40:
		return "arm";
	case 21:
		return is_64 ? "ppc64le" : NULL;
	case 22:
		return is_64 ? "s390x" : NULL;
	case 243:
		return is_64 ? "riscv64" : NULL;
	default:
		return NULL;
	}
}

/* The program of an image built for one platform and holding another's binary (an arm64
 * ELF in an amd64 image: a COPY from the wrong stage, a GOARCH not passed) fails with "exec
 * format error" on the image's own machines.  The snapshot index has no machine field, so
 * the header is read from the tree; a tree that cannot be read (changed behind the index's
 * back, which fsck reports) gives no verdict rather than failing the doctor. */
static int check_architecture(struct doctor *d, const char *path, struct plate_error **err)
{
	_cleanup_error_ struct plate_error *unread = NULL;
	struct mapped m;
	const unsigned char *h;
	const char *arch, *want = d->config->architecture;

	if (want == NULL || map_file(d, path, &m, &unread) != 0)
		return 0;
	h = m.p;
	if (m.len < 20 || memcmp(h, "\177ELF", 4) != 0 || h[5] != 1 /* little-endian */) {
		unmap(&m);
		return 0;
	}
	arch = elf_arch((unsigned)(h[18] | h[19] << 8), h[4] == 2);
	unmap(&m);
	if (arch == NULL || strcmp(arch, want) == 0)
		return 0;
	return finding_report_add(d->r, "WrongArchitecture", FINDING_ERROR, NULL, 0, path,
				  "build it for the image's platform (in a cross-compiling stage: "
				  "`ARG TARGETARCH` and `GOARCH=$TARGETARCH`)",
				  err, "'%s' is a linux/%s binary in a %s/%s image", path, arch,
				  d->config->os ? d->config->os : "linux", want);
}

static int check_command(struct doctor *d, const char *what, const struct oci_strings *argv,
			 bool have_shell, struct plate_error **err)
{
	_cleanup_free_ char *path = NULL;
	struct check_fs_entry e;
	int r;

	if (argv->n == 0)
		return 0;
	if (shell_form(argv) && !have_shell)
		return finding_report_add(d->r, "ShellFormWithoutShell", FINDING_ERROR, NULL, 0,
					  NULL,
					  "use the exec form: JSON array syntax, e.g. [\"/app\"]",
					  err,
					  "shell-form %s needs /bin/sh, which is not in the image",
					  what);
	if (shell_form(argv))
		return 0;
	r = resolve_command(d, argv->v[0], &path, &e, err);
	if (r < 0)
		return -1;
	if (r > 0)
		return finding_report_add(d->r, "MissingEntrypoint", FINDING_ERROR, NULL, 0,
					  strchr(argv->v[0], '/') ? path : NULL,
					  "copy the program into the image or fix the path", err,
					  "%s program '%s' is not in the image", what, argv->v[0]);
	if (!S_ISREG(e.st.st_mode) || (e.st.st_mode & 0111) == 0) {
		r = finding_report_add(d->r, "NotExecutable", FINDING_ERROR, NULL, 0, e.path,
				       "make it executable: `COPY --chmod=755`", err,
				       "%s program '%s' is not an executable file", what, e.path);
		check_fs_entry_release(&e);
		return r;
	}
	if (!is_target(d, e.path) && oci_strings_add(&d->targets, e.path, err) < 0) {
		check_fs_entry_release(&e);
		return -1;
	}
	r = examine_binary(d, e.path, true, err);
	if (r == 0)
		r = check_architecture(d, e.path, err);
	check_fs_entry_release(&e);
	return r;
}

static int check_commands(struct doctor *d, struct plate_error **err)
{
	const struct oci_config *c = d->config;
	int rc = 0;
	bool shell = exists(d, "/bin/sh", false, err, &rc);

	if (rc < 0)
		return -1;
	if (c->entrypoint.n == 0 && c->cmd.n == 0)
		return finding_report_add(d->r, "MissingEntrypoint", FINDING_WARNING, NULL, 0, NULL,
					  "add ENTRYPOINT [\"/path/to/program\"]", err,
					  "the image has neither ENTRYPOINT nor CMD");
	if (check_command(d, "ENTRYPOINT", &c->entrypoint, shell, err) < 0)
		return -1;
	if (c->entrypoint.n == 0 && check_command(d, "CMD", &c->cmd, shell, err) < 0)
		return -1;
	if (c->entrypoint.n > 0 && shell_form(&c->cmd) && !shell &&
	    finding_report_add(d->r, "ShellFormWithoutShell", FINDING_ERROR, NULL, 0, NULL,
			       "use the exec form: JSON array syntax", err,
			       "shell-form CMD needs /bin/sh, which is not in the image") < 0)
		return -1;
	if (c->healthcheck && c->healthcheck->test.n > 0 &&
	    strcmp(c->healthcheck->test.v[0], "CMD-SHELL") == 0 && !shell &&
	    finding_report_add(d->r, "ShellFormWithoutShell", FINDING_ERROR, NULL, 0, NULL,
			       "use HEALTHCHECK CMD [\"/app\", \"-health\"]", err,
			       "shell-form HEALTHCHECK needs /bin/sh, which is not in the image") <
		    0)
		return -1;
	return 0;
}

/* ---- users -------------------------------------------------------------------------- */

static bool numeric(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Whether the name (n bytes) is the first field of a line of an /etc/passwd-like file. */
static bool has_entry(const char *file, size_t len, const char *name, size_t n)
{
	const char *p = file, *end = file + len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(end - p) > n && memcmp(p, name, n) == 0 && p[n] == ':')
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

static int check_user(struct doctor *d, struct plate_error **err)
{
	const char *u = d->config->user ? d->config->user : "";
	const char *colon = strchr(u, ':');
	size_t ul = colon ? (size_t)(colon - u) : strlen(u);
	const char *g = colon ? colon + 1 : NULL;
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	size_t plen = 0, glen = 0;

	if (ul == 0 || (ul == 4 && memcmp(u, "root", 4) == 0) ||
	    (numeric(u, ul) && strtoul(u, NULL, 10) == 0))
		return finding_report_add(d->r, "RunsAsRoot", FINDING_WARNING, NULL, 0, NULL,
					  "add `USER 65534:65534` (works without /etc/passwd, even "
					  "FROM scratch)",
					  err, "the image runs as root%s",
					  ul == 0 ? " (no USER)" : "");
	if (numeric(u, ul) && (g == NULL || numeric(g, strlen(g))))
		return 0;
	if (finding_report_add(d->r, "NonNumericUser", FINDING_WARNING, NULL, 0, NULL,
			       "use numeric ids, e.g. `USER 65534:65534`", err,
			       "USER '%s' is not numeric: Kubernetes runAsNonRoot cannot verify it",
			       u) < 0)
		return -1;
	if (check_fs_read(d->fs, "/etc/passwd", PASSWD_MAX, &passwd, &plen, err) < 0 ||
	    check_fs_read(d->fs, "/etc/group", PASSWD_MAX, &group, &glen, err) < 0)
		return -1;
	if (!numeric(u, ul) && !has_entry(passwd ? passwd : "", plen, u, ul) &&
	    finding_report_add(d->r, "UnknownUser", FINDING_ERROR, NULL, 0, "/etc/passwd",
			       "add the user to /etc/passwd or use a numeric `USER uid:gid`", err,
			       "USER '%.*s' is not in the image's /etc/passwd: the container will "
			       "not start",
			       (int)ul, u) < 0)
		return -1;
	if (g && !numeric(g, strlen(g)) && !has_entry(group ? group : "", glen, g, strlen(g)) &&
	    finding_report_add(d->r, "UnknownUser", FINDING_ERROR, NULL, 0, "/etc/group",
			       "add the group to /etc/group or use a numeric `USER uid:gid`", err,
			       "group '%s' is not in the image's /etc/group: the container will "
			       "not start",
			       g) < 0)
		return -1;
	return 0;
}

/* ---- CA bundle and time zones ------------------------------------------------------- */

static int has_ca_bundle(struct doctor *d, bool *yes, struct plate_error **err)
{
	const char *file = env_get(d->config, "SSL_CERT_FILE");
	int rc = 0;

	*yes = file && exists(d, file, false, err, &rc);
	for (size_t i = 0; !*yes && rc == 0 && i < sizeof(ca_files) / sizeof(*ca_files); i++)
		*yes = exists(d, ca_files[i], false, err, &rc);
	return rc;
}

static int binary_mentions(struct doctor *d, const char *path, const char *needle, size_t n,
			   bool *yes, struct plate_error **err)
{
	struct mapped m;
	int r = map_file(d, path, &m, err);

	*yes = false;
	if (r != 0)
		return r < 0 ? -1 : 0;
	*yes = memmem(m.p, m.len, needle, n) != NULL;
	unmap(&m);
	return 0;
}

static int check_tls_and_zones(struct doctor *d, struct plate_error **err)
{
	bool ca, zones;
	int rc = 0;

	if (has_ca_bundle(d, &ca, err) < 0)
		return -1;
	zones = env_get(d->config, "ZONEINFO") != NULL ||
		exists(d, "/usr/share/zoneinfo", true, err, &rc);
	if (rc < 0)
		return -1;
	for (size_t i = 0; !ca && i < d->ssl_binaries.n; i++)
		if (finding_report_add(
			    d->r, "MissingCABundle", FINDING_WARNING, NULL, 0, d->ssl_binaries.v[i],
			    "copy /etc/ssl/certs/ca-certificates.crt into the image", err,
			    "'%s' is linked to a TLS library but the image has no CA bundle",
			    d->ssl_binaries.v[i]) < 0)
			return -1;
	for (size_t i = 0; i < d->go_binaries.n; i++) {
		const char *bin = d->go_binaries.v[i];
		bool yes, embedded;
		if (!ca) {
			if (binary_mentions(d, bin, "crypto/tls.", 11, &yes, err) < 0)
				return -1;
			if (yes &&
			    finding_report_add(
				    d->r, "MissingCABundle", FINDING_WARNING, NULL, 0, bin,
				    "copy /etc/ssl/certs/ca-certificates.crt into the image", err,
				    "'%s' uses crypto/tls but the image has no CA bundle", bin) < 0)
				return -1;
		}
		/* info only, and a whole-binary scan: for the programs the image runs */
		if (!zones && is_target(d, bin)) {
			embedded = false;
			if (binary_mentions(d, bin, "time.LoadLocation", 18, &yes, err) < 0 ||
			    (yes &&
			     binary_mentions(d, bin, "time/tzdata.", 12, &embedded, err) < 0))
				return -1;
			if (yes && !embedded &&
			    finding_report_add(d->r, "MissingZoneinfo", FINDING_INFO, NULL, 0, bin,
					       "copy /usr/share/zoneinfo or `import _ "
					       "\"time/tzdata\"`",
					       err,
					       "'%s' loads time zones but the image has no "
					       "/usr/share/zoneinfo",
					       bin) < 0)
				return -1;
		}
	}
	return 0;
}

int check_image(struct check_fs *fs, const struct oci_config *config,
		const struct check_image_options *opts, struct finding_report *r,
		struct plate_error **err)
{
	struct doctor d = { .fs = fs, .config = config, .r = r };
	int rc = -1;

	if (load_lib_dirs(&d, err) < 0 || check_commands(&d, err) < 0 || check_user(&d, err) < 0 ||
	    check_fs_walk(fs, "/", walk_one, &d, err) < 0 || check_tls_and_zones(&d, err) < 0)
		goto out;
	if (opts && opts->max_size >= 0 && opts->image_size > opts->max_size &&
	    finding_report_add(r, "ImageTooLarge", FINDING_ERROR, NULL, 0, NULL,
			       "use a smaller base (scratch, distroless) or a multi-stage build",
			       err, "the image is %lld bytes, over the budget of %lld bytes",
			       (long long)opts->image_size, (long long)opts->max_size) < 0)
		goto out;
	rc = 0;
out:
	oci_strings_release(&d.lib_dirs);
	oci_strings_release(&d.go_binaries);
	oci_strings_release(&d.ssl_binaries);
	oci_strings_release(&d.targets);
	for (size_t i = 0; i < d.n_cache; i++)
		free(d.cache[i].name);
	free(d.cache);
	return rc;
}
