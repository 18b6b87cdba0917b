/*
 * SPDX 2.3 JSON (spdx-spec v2.3, clauses 6 document creation and 7 packages) of an image:
 * one package for the image, which CONTAINS one package per Go main module, Go toolchain
 * ("stdlib"), Go dependency, Debian and Alpine package.  Package URLs follow the purl
 * spec's golang, deb and apk types.  Everything derives from the image, walked in sorted
 * order, and the JSON is canonical, so the same image always gives the same bytes.
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
#include "json/json.h"

struct sbom {
	struct check_fs *fs;
	json_t *packages, *relationships;
	unsigned next_id;
	const char *distro; /* "debian" (dpkg) */
};

/* purl percent-encoding of a name or version component. */
static int purl_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_' || c == '~' || c == '/') {
			if (buf_addch(b, (char)c) < 0)
				return -1;
		} else if (buf_addf(b, "%%%02X", c) < 0) {
			return -1;
		}
	}
	return 0;
}

static int add_package(struct sbom *sb, const char *name, const char *version,
		       const char *purl_type, const char *purl_ns, const char *arch,
		       const char *source_info, const char *homepage, const char *license,
		       struct plate_error **err)
{
	_cleanup_buf_ struct buf purl = BUF_INIT(BUF_UNLIMITED);
	char id[64];
	json_t *p = json_object(), *refs = json_array(), *ref = json_object(), *rel = json_object();

	snprintf(id, sizeof(id), "SPDXRef-Package-%u", ++sb->next_id);
	if (buf_addf(&purl, "pkg:%s/", purl_type) < 0 ||
	    (purl_ns && buf_addf(&purl, "%s/", purl_ns) < 0) || purl_escape(&purl, name) < 0 ||
	    (version && version[0] &&
	     (buf_addch(&purl, '@') < 0 || purl_escape(&purl, version) < 0)) ||
	    (arch && arch[0] && buf_addf(&purl, "?arch=%s", arch) < 0))
		goto oom;
	if (!p || !refs || !ref || !rel || json_object_set_new(p, "name", json_string(name)) < 0 ||
	    json_object_set_new(p, "SPDXID", json_string(id)) < 0 ||
	    json_object_set_new(p, "versionInfo", json_string(version ? version : "")) < 0 ||
	    json_object_set_new(p, "downloadLocation",
				json_string(homepage && homepage[0] ? homepage : "NOASSERTION")) <
		    0 ||
	    json_object_set_new(p, "filesAnalyzed", json_false()) < 0 ||
	    json_object_set_new(p, "licenseDeclared",
				json_string(license && license[0] ? license : "NOASSERTION")) < 0 ||
	    (source_info && json_object_set_new(p, "sourceInfo", json_string(source_info)) < 0) ||
	    json_object_set_new(ref, "referenceCategory", json_string("PACKAGE-MANAGER")) < 0 ||
	    json_object_set_new(ref, "referenceType", json_string("purl")) < 0 ||
	    json_object_set_new(ref, "referenceLocator", json_string(purl.data)) < 0 ||
	    json_array_append(refs, ref) < 0 || json_object_set(p, "externalRefs", refs) < 0 ||
	    json_array_append(sb->packages, p) < 0 ||
	    json_object_set_new(rel, "spdxElementId", json_string("SPDXRef-Image")) < 0 ||
	    json_object_set_new(rel, "relationshipType", json_string("CONTAINS")) < 0 ||
	    json_object_set_new(rel, "relatedSpdxElement", json_string(id)) < 0 ||
	    json_array_append(sb->relationships, rel) < 0)
		goto oom;
	json_decref(p);
	json_decref(refs);
	json_decref(ref);
	json_decref(rel);
	return 0;
oom:
	json_decref(p);
	json_decref(refs);
	json_decref(ref);
	json_decref(rel);
	return plate_err_new(err, ENOMEM,
			     "cannot build the SBOM (out of memory or text not UTF-8)");
}

static int add_go_binary(struct sbom *sb, const char *path, const struct elf_go_info *g,
			 struct plate_error **err)
{
	_cleanup_free_ char *info = NULL;

	if (asprintf(&info, "Go build info of %s", path) < 0)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (g->main.path && add_package(sb, g->main.path, g->main.version, "golang", NULL, NULL,
					info, NULL, NULL, err) < 0)
		return -1;
	if (add_package(sb, "stdlib", g->go_version, "golang", NULL, NULL, info, NULL, NULL, err) <
	    0)
		return -1;
	for (size_t i = 0; i < g->n_deps; i++) {
		const struct elf_go_module *m = &g->deps[i];
		const char *p = m->replace_path ? m->replace_path : m->path;
		const char *v = m->replace_path ? m->replace_version : m->version;
		if (add_package(sb, p, v, "golang", NULL, NULL, info, NULL, NULL, err) < 0)
			return -1;
	}
	return 0;
}

static int walk_one(void *data, const char *path, const struct stat *st, size_t layer,
		    struct plate_error **err)
{
	struct sbom *sb = data;
	struct check_fs_entry e;
	_cleanup_close_ int fd = -1;
	struct elf elf;
	struct elf_go_info g;
	const struct elf_facts *f;
	void *m;
	off_t size;
	size_t len;
	int r, rc = 0;

	if (!S_ISREG(st->st_mode) || (st->st_mode & 0111) == 0 || st->st_size < 64)
		return 0;
	/* the index knows which executables are Go binaries: only those are read */
	r = check_fs_facts(sb->fs, path, &f, err);
	if (r != 0 || f == NULL || !f->go)
		return r < 0 ? -1 : 0;
	r = check_fs_lookup(sb->fs, path, false, &e, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = check_fs_open_entry(sb->fs, &e, &fd, &size, err);
	check_fs_entry_release(&e);
	if (r < 0)
		return -1;
	if (size < 64)
		return 0;
	len = (size_t)size;
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return plate_err_new(err, errno, "cannot map '%s'", path);
	r = elf_parse(m, len, &elf, err);
	if (r == 0) {
		r = elf_go_buildinfo_parse(m, len, &elf, &g, err);
		if (r == 0) {
			rc = add_go_binary(sb, path, &g, err);
			elf_go_info_release(&g);
		}
		elf_release(&elf);
	}
	if (r < 0) {
		/* a binary we cannot read is left out, not fatal */
		plate_error_free(*err);
		*err = NULL;
	}
	munmap(m, len);
	return rc;
}

static int add_packages(struct sbom *sb, const char *path, bool apk, struct plate_error **err)
{
	_cleanup_free_ char *text = NULL;
	struct check_packages pk;
	size_t len;
	int r = check_fs_read(sb->fs, path, CHECK_PKG_MAX_FILE, &text, &len, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if ((apk ? check_apk_installed_parse(text, len, &pk, err)
		 : check_dpkg_status_parse(text, len, &pk, err)) < 0)
		return plate_err_wrap(err, "'%s'", path);
	for (size_t i = 0; i < pk.n; i++) {
		const struct check_package *p = &pk.v[i];
		_cleanup_free_ char *info = NULL;
		if (asprintf(&info, "%s", path) < 0 ||
		    add_package(sb, p->name, p->version, apk ? "apk" : "deb",
				apk ? "alpine" : "debian", p->arch, info, p->homepage, p->license,
				err) < 0) {
			check_packages_release(&pk);
			return *err ? -1 : plate_err_new(err, ENOMEM, "out of memory");
		}
	}
	check_packages_release(&pk);
	return 0;
}

int check_sbom(struct check_fs *fs, const char *name, const char *id, const char *created,
	       char **json, size_t *len, struct plate_error **err)
{
	struct sbom sb = { .fs = fs, .packages = json_array(), .relationships = json_array() };
	json_t *doc = json_object(), *ci = json_object(), *creators = json_array(),
	       *image = json_object(), *describes = json_object();
	_cleanup_free_ char *ns = NULL;
	int rc = -1;

	*json = NULL;
	if (!sb.packages || !sb.relationships || !doc || !ci || !creators || !image || !describes ||
	    asprintf(&ns, "https://plate.invalid/spdx/%s", id) < 0)
		goto oom;
	if (json_object_set_new(image, "name", json_string(name)) < 0 ||
	    json_object_set_new(image, "SPDXID", json_string("SPDXRef-Image")) < 0 ||
	    json_object_set_new(image, "versionInfo", json_string(id)) < 0 ||
	    json_object_set_new(image, "downloadLocation", json_string("NOASSERTION")) < 0 ||
	    json_object_set_new(image, "filesAnalyzed", json_false()) < 0 ||
	    json_object_set_new(image, "primaryPackagePurpose", json_string("CONTAINER")) < 0 ||
	    json_array_append(sb.packages, image) < 0 ||
	    json_object_set_new(describes, "spdxElementId", json_string("SPDXRef-DOCUMENT")) < 0 ||
	    json_object_set_new(describes, "relationshipType", json_string("DESCRIBES")) < 0 ||
	    json_object_set_new(describes, "relatedSpdxElement", json_string("SPDXRef-Image")) <
		    0 ||
	    json_array_append(sb.relationships, describes) < 0)
		goto oom;
	if (check_fs_walk(fs, "/", walk_one, &sb, err) < 0 ||
	    add_packages(&sb, "/var/lib/dpkg/status", false, err) < 0 ||
	    add_packages(&sb, "/lib/apk/db/installed", true, err) < 0)
		goto out;
	if (json_array_append_new(creators, json_string("Tool: plate")) < 0 ||
	    json_object_set_new(ci, "created",
				json_string(created && created[0] ? created
								  : "1970-01-01T00:00:00Z")) < 0 ||
	    json_object_set(ci, "creators", creators) < 0 ||
	    json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3")) < 0 ||
	    json_object_set_new(doc, "dataLicense", json_string("CC0-1.0")) < 0 ||
	    json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT")) < 0 ||
	    json_object_set_new(doc, "name", json_string(name)) < 0 ||
	    json_object_set_new(doc, "documentNamespace", json_string(ns)) < 0 ||
	    json_object_set(doc, "creationInfo", ci) < 0 ||
	    json_object_set(doc, "packages", sb.packages) < 0 ||
	    json_object_set(doc, "relationships", sb.relationships) < 0)
		goto oom;
	if (json_canonical(doc, json, len, err) < 0)
		goto out;
	rc = 0;
	goto out;
oom:
	plate_err_new(err, ENOMEM, "cannot build the SBOM (out of memory or text not UTF-8)");
out:
	json_decref(doc);
	json_decref(ci);
	json_decref(creators);
	json_decref(image);
	json_decref(describes);
	json_decref(sb.packages);
	json_decref(sb.relationships);
	return rc;
}
