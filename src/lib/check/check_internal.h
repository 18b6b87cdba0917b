/*
 * check/check_internal.h — the snapshot index as the image view (fs.c) reads it after
 * check_index_parse() (index.c).
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "check/check_internal.h is internal to the check module"
#endif
#ifndef PLATE_CHECK_INTERNAL_H
#define PLATE_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "check/check.h"

#define CHECK_NODE_WHITEOUT 0x01u /* an overlayfs whiteout (0/0 character device) */
#define CHECK_NODE_OPAQUE 0x02u   /* a directory with the overlay opaque xattr */
#define CHECK_NODE_ELF 0x04u      /* a regular executable with ELF facts */
#define CHECK_NODE_UNREAD 0x08u   /* a regular executable the index could not read */
#define CHECK_NODE_FLAGS 0x0fu

/* Nodes are in breadth-first order: node 0 is the root and a directory's children are
 * nodes[first_child .. first_child + n_children), sorted by name (strcmp). */
struct check_index_node {
	const char *name;   /* "" for the root */
	const char *target; /* a symbolic link's target, else NULL */
	uint32_t mode, uid, gid, flags;
	uint64_t size, rdev;
	uint32_t first_child, n_children;
	int32_t facts; /* index into check_index.facts, or -1 */
};

struct check_index {
	struct check_index_node *nodes;
	size_t n;
	struct check_file_facts *facts;
	size_t n_facts;
	const char **needed;
	char *arena;
	uint64_t bytes;
};

/* Reads the facts of an open regular file of size bytes: 0 with *elf (release it) and the
 * Go flags, 1 when it is not a well-formed ELF file, -1 when it cannot be read. */
int check_facts_read(int fd, uint64_t size, struct check_elf *elf, bool *go, bool *go_cgo,
		     struct plate_error **err);

#endif
