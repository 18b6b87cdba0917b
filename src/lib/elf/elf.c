/*
 * ELF reading for the doctor (System V gABI, "ELF-64 Object File Format" for the 64-bit
 * layout).  Every offset and count read from the file is checked against the buffer
 * before use; only the headers, the dynamic section, its string table and the section
 * name table are touched.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "elf/elf.h"

#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PF_W 2
#define DT_NULL 0
#define DT_NEEDED 1
#define DT_STRTAB 5
#define DT_STRSZ 10
#define DT_RPATH 15
#define DT_RUNPATH 29
#define DT_FLAGS_1 0x6ffffffb
#define DF_1_PIE 0x08000000
#define ET_EXEC 2
#define ET_DYN 3

struct rd {
	const uint8_t *p;
	size_t len;
	bool be, is64;
};

static uint64_t get(const struct rd *r, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++) {
		unsigned shift = r->be ? 8 * (size - 1 - i) : 8 * i;
		v |= (uint64_t)r->p[off + i] << shift;
	}
	return v;
}

static bool in_range(const struct rd *r, uint64_t off, uint64_t size)
{
	return off <= r->len && size <= r->len - off;
}

/* A NUL-terminated string at off, at most ELF_MAX_STRING long, inside [.., limit). */
static int get_string(const struct rd *r, uint64_t off, uint64_t limit, const char *what,
		      char **out, struct plate_error **err)
{
	const uint8_t *nul;
	uint64_t max;

	if (limit > r->len)
		limit = r->len;
	if (off >= limit)
		return plate_err_new(err, EINVAL, "elf: %s lies outside the file", what);
	max = limit - off;
	if (max > ELF_MAX_STRING)
		max = ELF_MAX_STRING;
	nul = memchr(r->p + off, 0, (size_t)max);
	if (nul == NULL)
		return plate_err_new(err, EINVAL, "elf: %s is not terminated", what);
	*out = strndup((const char *)r->p + off, (size_t)(nul - (r->p + off)));
	return *out ? 0 : plate_err_new(err, ENOMEM, "out of memory");
}

void elf_release(struct elf *e)
{
	free(e->interp);
	strv_free(e->needed, e->n_needed);
	free(e->runpath);
	free(e->rpath);
	free(e->loads);
	memset(e, 0, sizeof(*e));
}

int64_t elf_vaddr_offset(const struct elf *e, uint64_t vaddr)
{
	for (size_t i = 0; i < e->n_loads; i++) {
		const struct elf_load *l = &e->loads[i];
		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->filesz &&
		    l->offset + (vaddr - l->vaddr) <= INT64_MAX)
			return (int64_t)(l->offset + (vaddr - l->vaddr));
	}
	return -1;
}

static int read_dynamic(const struct rd *r, struct elf *e, uint64_t off, uint64_t size, bool *pie,
			struct plate_error **err)
{
	unsigned word = r->is64 ? 8 : 4, ent = 2 * word;
	uint64_t n = size / ent, strtab = 0, strsz = 0, runpath = 0, rpath = 0;
	bool have_strtab = false, have_runpath = false, have_rpath = false;
	uint64_t *needed = NULL;
	size_t n_needed = 0;
	int64_t str_off;
	int rc = -1;

	if (!in_range(r, off, size))
		return plate_err_new(err, EINVAL, "elf: dynamic section lies outside the file");
	if (n > ELF_MAX_DYN)
		return plate_err_new(err, EINVAL, "elf: dynamic section has too many entries");
	needed = calloc(n ? n : 1, sizeof(*needed));
	if (needed == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t tag = get(r, off + i * ent, word),
			 val = get(r, off + i * ent + word, word);
		if (tag == DT_NULL)
			break;
		switch (tag) {
		case DT_NEEDED:
			if (n_needed >= ELF_MAX_NEEDED) {
				plate_err_new(err, EINVAL, "elf: too many DT_NEEDED entries");
				goto out;
			}
			needed[n_needed++] = val;
			break;
		case DT_STRTAB:
			strtab = val;
			have_strtab = true;
			break;
		case DT_STRSZ:
			strsz = val;
			break;
		case DT_RUNPATH:
			runpath = val;
			have_runpath = true;
			break;
		case DT_RPATH:
			rpath = val;
			have_rpath = true;
			break;
		case DT_FLAGS_1:
			*pie = (val & DF_1_PIE) != 0;
			break;
		default:
			break;
		}
	}
	if (n_needed == 0 && !have_runpath && !have_rpath) {
		rc = 0;
		goto out;
	}
	str_off = have_strtab ? elf_vaddr_offset(e, strtab) : -1;
	if (str_off < 0) {
		plate_err_new(err, EINVAL, "elf: dynamic string table lies outside the file");
		goto out;
	}
	uint64_t limit = (uint64_t)str_off + strsz;
	if (strsz == 0 || limit < (uint64_t)str_off)
		limit = r->len;
	e->needed = calloc(n_needed ? n_needed : 1, sizeof(char *));
	if (e->needed == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_needed; i++) {
		if (needed[i] > UINT64_MAX - (uint64_t)str_off ||
		    get_string(r, (uint64_t)str_off + needed[i], limit, "DT_NEEDED", &e->needed[i],
			       err) < 0)
			goto bad;
		e->n_needed++;
	}
	if (have_runpath &&
	    (runpath > UINT64_MAX - (uint64_t)str_off ||
	     get_string(r, (uint64_t)str_off + runpath, limit, "DT_RUNPATH", &e->runpath, err) < 0))
		goto bad;
	if (have_rpath &&
	    (rpath > UINT64_MAX - (uint64_t)str_off ||
	     get_string(r, (uint64_t)str_off + rpath, limit, "DT_RPATH", &e->rpath, err) < 0))
		goto bad;
	rc = 0;
	goto out;
bad:
	if (*err == NULL)
		plate_err_new(err, EINVAL, "elf: dynamic string lies outside the file");
out:
	free(needed);
	return rc;
}

static void find_go_section(const struct rd *r, struct elf *e, uint64_t shoff, uint64_t shentsize,
			    uint64_t shnum, uint64_t shstrndx)
{
	unsigned word = r->is64 ? 8 : 4;
	uint64_t names, names_size, base;
	static const char want[] = ".go.buildinfo";

	if (shoff == 0 || shnum == 0 || shnum > ELF_MAX_SHDRS || shstrndx >= shnum ||
	    shentsize < (r->is64 ? 64u : 40u) || !in_range(r, shoff, shnum * shentsize))
		return;
	/* sh_offset and sh_size follow sh_name, sh_type (4 bytes each), sh_flags, sh_addr */
	base = shoff + shstrndx * shentsize;
	names = get(r, base + 8 + 2 * (uint64_t)word, word);
	names_size = get(r, base + 8 + 3 * (uint64_t)word, word);
	if (!in_range(r, names, names_size))
		return;
	for (uint64_t i = 0; i < shnum; i++) {
		uint64_t sh = shoff + i * shentsize, name = get(r, sh, 4);
		if (name >= names_size || names_size - name < sizeof(want) ||
		    memcmp(r->p + names + name, want, sizeof(want)) != 0)
			continue;
		e->go_buildinfo_offset = get(r, sh + 8 + 2 * (uint64_t)word, word);
		e->go_buildinfo_size = get(r, sh + 8 + 3 * (uint64_t)word, word);
		e->has_go_buildinfo = in_range(r, e->go_buildinfo_offset, e->go_buildinfo_size);
		return;
	}
}

int elf_parse(const void *buf, size_t len, struct elf *out, struct plate_error **err)
{
	struct rd r = { .p = buf, .len = len };
	struct elf e = { 0 };
	uint64_t phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx;
	uint64_t dyn_off = 0, dyn_size = 0;
	bool have_dyn = false, pie = false;
	unsigned word;

	memset(out, 0, sizeof(*out));
	if (len < 16 || memcmp(buf, "\177ELF", 4) != 0)
		return 1;
	if (r.p[4] != 1 && r.p[4] != 2)
		return plate_err_new(err, EINVAL, "elf: unknown class %u", r.p[4]);
	if (r.p[5] != 1 && r.p[5] != 2)
		return plate_err_new(err, EINVAL, "elf: unknown data encoding %u", r.p[5]);
	r.is64 = r.p[4] == 2;
	r.be = r.p[5] == 2;
	word = r.is64 ? 8 : 4;
	if (len < (r.is64 ? 64u : 52u))
		return plate_err_new(err, EINVAL, "elf: header is truncated");
	e.is_64 = r.is64;
	e.big_endian = r.be;
	e.type = (uint16_t)get(&r, 16, 2);
	e.machine = (uint16_t)get(&r, 18, 2);
	phoff = get(&r, 24 + word, word);
	shoff = get(&r, 24 + 2 * word, word);
	phentsize = get(&r, 24 + 3 * word + 6, 2);
	phnum = get(&r, 24 + 3 * word + 8, 2);
	shentsize = get(&r, 24 + 3 * word + 10, 2);
	shnum = get(&r, 24 + 3 * word + 12, 2);
	shstrndx = get(&r, 24 + 3 * word + 14, 2);
	if (phnum > ELF_MAX_PHDRS)
		return plate_err_new(err, EINVAL, "elf: too many program headers");
	if (phnum > 0 &&
	    (phentsize < (r.is64 ? 56u : 32u) || !in_range(&r, phoff, phnum * phentsize)))
		return plate_err_new(err, EINVAL, "elf: program headers lie outside the file");
	e.loads = calloc(phnum ? phnum : 1, sizeof(*e.loads));
	if (e.loads == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	for (uint64_t i = 0; i < phnum; i++) {
		uint64_t ph = phoff + i * phentsize, type = get(&r, ph, 4), flags, off, vaddr,
			 filesz, memsz;
		if (r.is64) {
			flags = get(&r, ph + 4, 4);
			off = get(&r, ph + 8, 8);
			vaddr = get(&r, ph + 16, 8);
			filesz = get(&r, ph + 32, 8);
			memsz = get(&r, ph + 40, 8);
		} else {
			off = get(&r, ph + 4, 4);
			vaddr = get(&r, ph + 8, 4);
			filesz = get(&r, ph + 16, 4);
			memsz = get(&r, ph + 20, 4);
			flags = get(&r, ph + 24, 4);
		}
		if (type == PT_LOAD) {
			e.loads[e.n_loads++] = (struct elf_load){
				.vaddr = vaddr,
				.memsz = memsz,
				.offset = off,
				.filesz = filesz,
				.writable = (flags & PF_W) != 0,
			};
		} else if (type == PT_INTERP && e.interp == NULL) {
			if (!in_range(&r, off, filesz) ||
			    get_string(&r, off, off + filesz, "PT_INTERP", &e.interp, err) < 0) {
				if (*err == NULL)
					plate_err_new(err, EINVAL,
						      "elf: PT_INTERP lies outside the file");
				goto fail;
			}
		} else if (type == PT_DYNAMIC && !have_dyn) {
			have_dyn = true;
			dyn_off = off;
			dyn_size = filesz;
		}
	}
	if (have_dyn && read_dynamic(&r, &e, dyn_off, dyn_size, &pie, err) < 0)
		goto fail;
	find_go_section(&r, &e, shoff, shentsize, shnum, shstrndx);
	if (e.interp != NULL)
		e.kind = ELF_KIND_DYNAMIC;
	else if (e.type == ET_EXEC)
		e.kind = ELF_KIND_STATIC;
	else if (e.type == ET_DYN && pie && e.n_needed == 0)
		e.kind = ELF_KIND_STATIC_PIE;
	else if (e.type == ET_DYN)
		e.kind = ELF_KIND_SHARED;
	else
		e.kind = ELF_KIND_OTHER;
	*out = e;
	return 0;
fail:
	elf_release(&e);
	return -1;
}
