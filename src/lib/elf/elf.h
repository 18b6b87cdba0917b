/*
 * elf/elf.h — what an executable says about itself: ELF headers and Go build info.
 *
 * Purpose
 *   The facts the image doctor, the SBOM and the snapshot index need from the executables
 *   of an image: the program interpreter, DT_NEEDED libraries and search paths, and the Go
 *   build information (toolchain, modules, build settings) a Go binary carries.
 *
 * Contract
 *   The parsers are pure functions over (buffer, length) with caps (ELF_MAX_*,
 *   ELF_GO_MAX_*), fuzzed by tests/fuzz/fuzz_elf.c and fuzz_gobuildinfo.c.  Results own
 *   their strings; release them with the matching *_release().  elf_facts_read() is the
 *   one function doing I/O: it maps an open file.  Depends on base only, so the layer
 *   module (the snapshot index) and the doctor (check/) can both use it.
 *   docs/internals/check.md "Parsers".
 */
#ifndef PLATE_ELF_H
#define PLATE_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * ELF (System V gABI; 32/64-bit, either byte order).  Reads the program headers (PT_INTERP,
 * PT_DYNAMIC, PT_LOAD), the dynamic section (DT_NEEDED, DT_RUNPATH, DT_RPATH, DT_FLAGS_1)
 * and, when section headers are present, where ".go.buildinfo" lies.  Only the pages
 * holding those are touched, so a caller may pass a whole mmap'd file cheaply.
 * elf_parse() returns 0 and fills *out, 1 when the buffer is not ELF, -1 when it
 * claims to be ELF but is malformed.
 */
#define ELF_MAX_PHDRS 4096
#define ELF_MAX_SHDRS 65535
#define ELF_MAX_DYN 65536
#define ELF_MAX_NEEDED 1024
#define ELF_MAX_STRING 4096

enum elf_kind {
	ELF_KIND_STATIC,     /* ET_EXEC, no interpreter, no dynamic section needing anything */
	ELF_KIND_STATIC_PIE, /* ET_DYN without interpreter, DF_1_PIE, no DT_NEEDED */
	ELF_KIND_DYNAMIC,    /* has PT_INTERP: the kernel runs the interpreter first */
	ELF_KIND_SHARED,     /* a shared library (ET_DYN, no interpreter, not a PIE) */
	ELF_KIND_OTHER,	     /* relocatable, core, ... */
};

struct elf_load {
	uint64_t vaddr, memsz, offset, filesz;
	bool writable;
};

struct elf {
	bool is_64, big_endian;
	uint16_t type, machine;
	enum elf_kind kind;
	char *interp;  /* PT_INTERP, or NULL */
	char **needed; /* DT_NEEDED in order */
	size_t n_needed;
	char *runpath; /* DT_RUNPATH, or NULL */
	char *rpath;   /* DT_RPATH, or NULL */
	struct elf_load *loads;
	size_t n_loads;
	bool has_go_buildinfo; /* a ".go.buildinfo" section */
	uint64_t go_buildinfo_offset, go_buildinfo_size;
};

int elf_parse(const void *buf, size_t len, struct elf *out, struct plate_error **err);
void elf_release(struct elf *e);
/* File offset of virtual address vaddr (in a PT_LOAD's file part), or -1. */
int64_t elf_vaddr_offset(const struct elf *e, uint64_t vaddr);

/*
 * Go build information: the "\xff Go buildinf:" header Go's linker writes (in
 * ".go.buildinfo", or at the start of the first writable segment).  Both layouts are read:
 * Go >= 1.18 stores the version and module strings inline (uvarint length + bytes, flag
 * 0x2), older toolchains store pointers to Go string headers, resolved through the ELF
 * segments (elf may be NULL for a non-ELF buffer; then only the inline layout works).
 * The module text ("path", "mod", "dep", "=>", "build" lines) is parsed into *out.
 * Returns 0 found, 1 not a Go binary (no header), -1 malformed.
 */
#define ELF_GO_MAX_DEPS 100000
#define ELF_GO_MAX_INFO (16u << 20)

struct elf_go_module {
	char *path, *version, *sum; /* sum may be NULL (main module, replaced modules) */
	char *replace_path, *replace_version, *replace_sum; /* "=>" line, or NULLs */
};

struct elf_go_info {
	char *go_version;	   /* "go1.19.8" */
	char *path;		   /* the main package's import path, or NULL */
	struct elf_go_module main; /* path NULL when built outside a module */
	struct elf_go_module *deps;
	size_t n_deps;
	char **setting_keys, **setting_values; /* "build" lines, in order */
	size_t n_settings;
};

int elf_go_buildinfo_parse(const void *buf, size_t len, const struct elf *elf,
			   struct elf_go_info *out, struct plate_error **err);
/* Only the module text (what `go version -m` prints after the first line), added to *out,
 * which the caller zeroes first and releases afterwards, also on failure. */
int elf_go_modinfo_parse(const char *text, size_t len, struct elf_go_info *out,
			 struct plate_error **err);
void elf_go_info_release(struct elf_go_info *g);
/* The value of a "build" setting ("CGO_ENABLED"), or NULL. */
const char *elf_go_setting(const struct elf_go_info *g, const char *key);

/*
 * What the doctor knows about a regular executable without opening it again: the facts of
 * elf_parse() and whether elf_go_buildinfo_parse() found build info.  Only for
 * well-formed ELF files; strings are owned by whatever handed the facts out.
 */
struct elf_facts {
	enum elf_kind kind;
	const char *interp, *runpath, *rpath; /* or NULL */
	const char *const *needed;	      /* DT_NEEDED in order */
	size_t n_needed;
	bool go;     /* Go build info was read */
	bool go_cgo; /* ... and says CGO_ENABLED=1 */
};
/* Reads the facts of an open regular file of size bytes: 0 with *elf (release it) and the
 * Go flags, 1 when it is not a well-formed ELF file, -1 when it cannot be read. */
int elf_facts_read(int fd, uint64_t size, struct elf *elf, bool *go, bool *go_cgo,
		   struct plate_error **err);

#endif
