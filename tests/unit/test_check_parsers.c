/*
 * The doctor's parsers: ELF (synthetic 32/64-bit images of both byte orders, and the
 * host's own /bin/true), Go build info (inline and pointer layouts, module text), dpkg
 * status and apk installed databases.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check/check.h"
#include "tap.h"

/* ---- a tiny ELF writer: one PT_LOAD covering the file, PT_INTERP, PT_DYNAMIC ---------- */

struct img {
	uint8_t b[4096];
	bool be, is64;
};

static void put(struct img *m, size_t off, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		m->b[off + i] = (uint8_t)(v >> (m->be ? 8 * (size - 1 - i) : 8 * i));
}

/* type: 2 ET_EXEC / 3 ET_DYN; interp may be NULL; needed: NULL-terminated; flags1: DT_FLAGS_1 */
static size_t make_elf(struct img *m, bool is64, bool be, unsigned type, const char *interp,
		       const char *const *needed, const char *runpath, uint64_t flags1)
{
	unsigned w = is64 ? 8 : 4, ehsize = is64 ? 64 : 52, phent = is64 ? 56 : 32;
	size_t ph = ehsize, nph = 3, str = 1024, dyn = 512, strpos = 1, ndyn = 0;
	uint64_t base = 0x400000;

	memset(m, 0, sizeof(*m));
	m->be = be;
	m->is64 = is64;
	memcpy(m->b, "\177ELF", 4);
	m->b[4] = is64 ? 2 : 1;
	m->b[5] = be ? 2 : 1;
	m->b[6] = 1;
	put(m, 16, type, 2);
	put(m, 18, is64 ? 62 : 8, 2);
	put(m, 24 + w, ph, w);
	put(m, 24 + 3 * w + 6, phent, 2);
	put(m, 24 + 3 * w + 8, nph, 2);
	/* the string table */
	size_t interp_off = 0;
	if (interp) {
		interp_off = str + strpos;
		strcpy((char *)m->b + interp_off, interp);
		strpos += strlen(interp) + 1;
	}
	for (size_t i = 0; needed && needed[i]; i++) {
		strcpy((char *)m->b + str + strpos, needed[i]);
		put(m, dyn + ndyn * 2 * w, 1, w);
		put(m, dyn + ndyn * 2 * w + w, strpos, w);
		ndyn++;
		strpos += strlen(needed[i]) + 1;
	}
	if (runpath) {
		strcpy((char *)m->b + str + strpos, runpath);
		put(m, dyn + ndyn * 2 * w, 29, w);
		put(m, dyn + ndyn * 2 * w + w, strpos, w);
		ndyn++;
		strpos += strlen(runpath) + 1;
	}
	if (flags1) {
		put(m, dyn + ndyn * 2 * w, 0x6ffffffb, w);
		put(m, dyn + ndyn * 2 * w + w, flags1, w);
		ndyn++;
	}
	put(m, dyn + ndyn * 2 * w, 5, w);
	put(m, dyn + ndyn * 2 * w + w, base + str, w);
	ndyn++;
	put(m, dyn + ndyn * 2 * w, 10, w);
	put(m, dyn + ndyn * 2 * w + w, strpos, w);
	ndyn++;
	ndyn++; /* DT_NULL */
	/* program headers: LOAD (whole file), INTERP or a NULL entry, DYNAMIC */
	for (size_t i = 0; i < nph; i++) {
		size_t p = ph + i * phent;
		unsigned ptype = i == 0 ? 1 : i == 1 ? (interp ? 3 : 0) : 2;
		uint64_t off = i == 0 ? 0 : i == 1 ? interp_off : dyn;
		uint64_t sz = i == 0   ? sizeof(m->b)
			      : i == 1 ? (interp ? strlen(interp) + 1 : 0)
				       : ndyn * 2 * w;
		put(m, p, ptype, 4);
		if (is64) {
			put(m, p + 4, 5, 4);
			put(m, p + 8, off, 8);
			put(m, p + 16, base + off, 8);
			put(m, p + 32, sz, 8);
			put(m, p + 40, sz, 8);
		} else {
			put(m, p + 4, off, 4);
			put(m, p + 8, base + off, 4);
			put(m, p + 16, sz, 4);
			put(m, p + 20, sz, 4);
			put(m, p + 24, 5, 4);
		}
	}
	return sizeof(m->b);
}

static void test_elf(void)
{
	static const char *const needed[] = { "libssl.so.3", "libc.so.6", NULL };
	struct img m;
	struct elf e;
	struct plate_error *err = NULL;

	for (int v = 0; v < 4; v++) {
		bool is64 = v & 1, be = v & 2;
		size_t n = make_elf(&m, is64, be, 2, "/lib/ld.so.1", needed, "$ORIGIN/../lib", 0);
		int r = elf_parse(m.b, n, &e, &err);
		tap_ok(r == 0, "%d-bit %s ELF parses", is64 ? 64 : 32,
		       be ? "big-endian" : "little-endian");
		if (r != 0) {
			tap_diag("%s", err ? err->message : "not elf");
			plate_error_free(err);
			err = NULL;
			continue;
		}
		tap_ok(e.kind == ELF_KIND_DYNAMIC && e.is_64 == is64 && e.big_endian == be,
		       "  dynamic, class and byte order");
		tap_streq(e.interp, "/lib/ld.so.1", "  PT_INTERP");
		tap_ok(e.n_needed == 2 && strcmp(e.needed[0], "libssl.so.3") == 0 &&
			       strcmp(e.needed[1], "libc.so.6") == 0,
		       "  DT_NEEDED in order");
		tap_streq(e.runpath, "$ORIGIN/../lib", "  DT_RUNPATH");
		elf_release(&e);
	}
	make_elf(&m, true, false, 2, NULL, NULL, NULL, 0);
	tap_ok(elf_parse(m.b, sizeof(m.b), &e, &err) == 0 && e.kind == ELF_KIND_STATIC &&
		       e.n_needed == 0 && e.interp == NULL,
	       "ET_EXEC without interpreter is static");
	elf_release(&e);
	make_elf(&m, true, false, 3, NULL, NULL, NULL, 0x08000000);
	tap_ok(elf_parse(m.b, sizeof(m.b), &e, &err) == 0 && e.kind == ELF_KIND_STATIC_PIE,
	       "ET_DYN with DF_1_PIE and no interpreter is static-pie");
	elf_release(&e);
	make_elf(&m, true, false, 3, NULL, needed + 1, NULL, 0);
	tap_ok(elf_parse(m.b, sizeof(m.b), &e, &err) == 0 && e.kind == ELF_KIND_SHARED,
	       "ET_DYN without PIE flag is a shared library");
	elf_release(&e);

	tap_ok(elf_parse("#!/bin/sh\n", 10, &e, &err) == 1, "a script is not ELF");
	make_elf(&m, true, false, 2, "/lib/ld.so.1", needed, NULL, 0);
	tap_ok(elf_parse(m.b, 200, &e, &err) < 0 && err != NULL, "truncated ELF is an error");
	plate_error_free(err);
	err = NULL;
	make_elf(&m, true, false, 2, NULL, needed, NULL, 0);
	memset(m.b + 1024, 'x', sizeof(m.b) - 1024); /* strings never terminated */
	tap_ok(elf_parse(m.b, sizeof(m.b), &e, &err) < 0, "unterminated DT_NEEDED is an error");
	plate_error_free(err);
	err = NULL;

	size_t len;
	_cleanup_free_ char *host = tap_read_file("/bin/true", &len);
	if (host && elf_parse(host, len, &e, &err) == 0) {
		tap_ok(e.kind == ELF_KIND_DYNAMIC && e.interp && e.n_needed >= 1,
		       "/bin/true: dynamic, interpreter '%s'", e.interp ? e.interp : "?");
		elf_release(&e);
	} else {
		tap_ok(false, "/bin/true parses");
	}
}

/* ---- Go build info ------------------------------------------------------------------ */

static const char modinfo[] = "0w\xaf\x0c\x92t\x08\x02"
			      "A\xe1\xc1\x07\xe6\xd6\x18\xe6"
			      "path\texample.com/app/cmd/app\n"
			      "mod\texample.com/app\t(devel)\t\n"
			      "dep\tgolang.org/x/net\tv0.17.0\th1:abc=\n"
			      "dep\tgithub.com/a/b\tv1.2.3\th1:def=\n"
			      "=>\t../b\t(devel)\t\n"
			      "build\t-ldflags=\"-s -w\"\n"
			      "build\tCGO_ENABLED=0\n"
			      "\xf9"
			      "2C1\x86\x18 r\x00\x82"
			      "B\x10"
			      "A\x16\xd8\xf2";

static void check_info(const struct elf_go_info *g, const char *what)
{
	tap_streq(g->go_version, "go1.21.4", "%s: Go version", what);
	tap_streq(g->path, "example.com/app/cmd/app", "%s: main package", what);
	tap_streq(g->main.path, "example.com/app", "%s: main module", what);
	tap_ok(g->n_deps == 2 && strcmp(g->deps[0].version, "v0.17.0") == 0 &&
		       strcmp(g->deps[0].sum, "h1:abc=") == 0,
	       "%s: deps with versions and sums", what);
	tap_ok(g->n_deps == 2 && g->deps[1].replace_path &&
		       strcmp(g->deps[1].replace_path, "../b") == 0,
	       "%s: replacement", what);
	tap_streq(elf_go_setting(g, "CGO_ENABLED"), "0", "%s: CGO_ENABLED", what);
	tap_streq(elf_go_setting(g, "-ldflags"), "-s -w", "%s: quoted setting", what);
}

static void test_go(void)
{
	struct plate_error *err = NULL;
	struct elf_go_info g;
	uint8_t buf[1024] = { 0 };
	size_t n = 0, ml = sizeof(modinfo) - 1;

	/* inline (Go >= 1.18) */
	memcpy(buf, "\xff Go buildinf:", 14);
	buf[14] = 8;
	buf[15] = 2;
	n = 32;
	buf[n++] = 8;
	memcpy(buf + n, "go1.21.4", 8);
	n += 8;
	buf[n++] = (uint8_t)(0x80 | (ml & 0x7f));
	buf[n++] = (uint8_t)(ml >> 7);
	memcpy(buf + n, modinfo, ml);
	n += ml;
	tap_ok(elf_go_buildinfo_parse(buf, n, NULL, &g, &err) == 0, "inline build info parses");
	check_info(&g, "inline");
	elf_go_info_release(&g);
	tap_ok(elf_go_buildinfo_parse(buf, 60, NULL, &g, &err) < 0,
	       "truncated build info is an error");
	plate_error_free(err);
	err = NULL;

	/* pointer layout (Go < 1.18), 32-bit big-endian, resolved through a PT_LOAD */
	struct img m;
	struct elf e;
	make_elf(&m, false, true, 2, NULL, NULL, NULL, 0);
	uint64_t base = 0x400000;
	size_t bi = 2048, hdr_v = 2200, hdr_m = 2208, sv = 2300, sm = 2400;
	memcpy(m.b + bi, "\xff Go buildinf:", 14);
	m.b[bi + 14] = 4;
	m.b[bi + 15] = 1;
	put(&m, bi + 16, base + hdr_v, 4);
	put(&m, bi + 20, base + hdr_m, 4);
	put(&m, hdr_v, base + sv, 4);
	put(&m, hdr_v + 4, 8, 4);
	put(&m, hdr_m, base + sm, 4);
	put(&m, hdr_m + 4, ml, 4);
	memcpy(m.b + sv, "go1.21.4", 8);
	memcpy(m.b + sm, modinfo, ml);
	tap_ok(elf_parse(m.b, sizeof(m.b), &e, &err) == 0, "ELF for pointer build info");
	/* the synthetic PT_LOAD is not writable: point the search at the section instead */
	e.has_go_buildinfo = true;
	e.go_buildinfo_offset = bi;
	e.go_buildinfo_size = 32;
	tap_ok(elf_go_buildinfo_parse(m.b, sizeof(m.b), &e, &g, &err) == 0,
	       "pointer build info parses");
	check_info(&g, "pointer");
	elf_go_info_release(&g);
	elf_release(&e);

	tap_ok(elf_go_buildinfo_parse("no go here", 10, NULL, &g, &err) == 1, "not a Go binary");
	tap_ok(elf_go_modinfo_parse("=>\tx\tv1\n", 8, &g, &err) < 0 && err && err->line == 1,
	       "'=>' without a module: error at line 1");
	elf_go_info_release(&g);
	plate_error_free(err);
}

/* ---- package databases -------------------------------------------------------------- */

static void test_packages(void)
{
	static const char dpkg[] = "Package: libc6\n"
				   "Status: install ok installed\n"
				   "Architecture: amd64\n"
				   "Source: glibc (2.36-9)\n"
				   "Version: 2.36-9+deb12u4\n"
				   "Description: GNU C Library\n"
				   " continuation line\n"
				   "Homepage: https://www.gnu.org/software/libc/\n"
				   "\n"
				   "Package: gone\n"
				   "Status: deinstall ok config-files\n"
				   "Version: 1\n"
				   "\n"
				   "Package: tzdata\n"
				   "Status: install ok installed\n"
				   "Version: 2024a-0+deb12u1\n"
				   "Architecture: all\n";
	static const char apk[] = "C:Q1x=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\n"
				  "P:busybox\nV:1.36.1-r5\nA:x86_64\nU:https://busybox.net/\n";
	struct check_packages p;
	struct plate_error *err = NULL;

	tap_ok(check_dpkg_status_parse(dpkg, sizeof(dpkg) - 1, &p, &err) == 0,
	       "dpkg status parses");
	tap_ok(p.n == 2, "only installed packages are kept (%zu)", p.n);
	if (p.n == 2) {
		tap_streq(p.v[0].version, "2.36-9+deb12u4", "dpkg version");
		tap_streq(p.v[0].source, "glibc", "dpkg source without its version");
		tap_streq(p.v[0].arch, "amd64", "dpkg architecture");
		tap_streq(p.v[1].name, "tzdata", "last stanza without a blank line");
	}
	check_packages_release(&p);
	tap_ok(check_dpkg_status_parse("Package: x\nbroken\n", 18, &p, &err) < 0 && err &&
		       err->line == 2,
	       "dpkg: a line without a colon is an error at its line");
	plate_error_free(err);
	err = NULL;

	tap_ok(check_apk_installed_parse(apk, sizeof(apk) - 1, &p, &err) == 0 && p.n == 2,
	       "apk database parses");
	if (p.n == 2) {
		tap_streq(p.v[0].license, "MIT", "apk license");
		tap_streq(p.v[1].homepage, "https://busybox.net/", "apk url");
	}
	check_packages_release(&p);
	tap_ok(check_apk_installed_parse("P:x\nnot a line\n", 15, &p, &err) < 0 && err &&
		       err->line == 2,
	       "apk: a malformed line is an error at its line");
	plate_error_free(err);
}

int main(void)
{
	test_elf();
	test_go();
	test_packages();
	return tap_done();
}
