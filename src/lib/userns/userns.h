/*
 * userns/userns.h — rootless plate: a normal user's process becomes root of a user namespace
 * of its own, where it may mount (overlay, binds, tmpfs) and own files by many ids.
 *
 * Contract
 *   userns_enter() is called by the CLI before a command that needs it (one that mounts,
 *   or owns, reads or removes files of the image's ids; a build once it finds a step to
 *   run), while the process still has a single thread (the kernel refuses CLONE_NEWUSER
 *   otherwise).  The
 *   caller's uid and gid become 0 inside; ids 1..N are the user's subordinate ids from
 *   /etc/subuid and /etc/subgid, written by the setuid newuidmap/newgidmap.  Without
 *   subordinate ids or those tools, only id 0 is mapped (USERNS_MAPPING_SINGLE, with the
 *   reason), which a caller should tell the user about: a chown or USER to any other id
 *   then fails inside.  Every later namespace (the sandbox's mount, pid, network ones) is
 *   created inside this one, and files are stored with their in-container ids, which the
 *   kernel maps to the subordinate ids on disk: a layer read back has the same owners as
 *   root's build.
 *
 *   userns_nested() tells the rest of the library that it runs as root of a user namespace
 *   that is not the initial one (after userns_enter(), or under any other rootless
 *   runtime): overlayfs must then use user.overlay.* xattrs ("userxattr"), and device
 *   nodes cannot be made.
 *
 * Errors
 *   unshare refused: the message names the knob that disables unprivileged user namespaces
 *   on this host.  A failing newuidmap/newgidmap: its own words.  Bad lines of the subid
 *   files are skipped as the shadow tools do.
 */
#ifndef PLATE_USERNS_USERNS_H
#define PLATE_USERNS_USERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* A range of subordinate ids: start, count (a line "user:start:count"). */
struct userns_range {
	uint32_t start, count;
};

/* The kernel takes 340 lines in uid_map and gid_map (since 4.15; rootless needs 5.11 for
 * overlayfs anyway): the user's own id on the first, up to 339 subordinate ranges. */
#define USERNS_MAX_RANGES 339

enum userns_mapping {
	USERNS_MAPPING_SUBIDS, /* 0 = the user, 1.. = the subordinate ranges */
	USERNS_MAPPING_SINGLE, /* only 0 = the user */
};

struct userns_entry {
	enum userns_mapping mapping;
	uint64_t n_uids, n_gids; /* ids 0 .. n-1 are mapped inside */
	char reason[256];	 /* USERNS_MAPPING_SINGLE: why, and how to get more ids */
};

/* Enters a new user namespace as described above.  Returns 0 or -1 with *err set. */
int userns_enter(struct userns_entry *out, struct plate_error **err);

/* Reads the ranges that an /etc/subuid-style file gives the user by name or by number.
 * A missing file is no ranges.  Returns the number of ranges stored (at most max). */
int userns_read_ranges(const char *path, const char *name, uint32_t id, struct userns_range *ranges,
		       size_t max, struct plate_error **err);

/* Whether this process is in a user namespace other than the initial one (read once). */
bool userns_nested(void);

/* Why overlayfs answers EPERM in a user namespace, and what to do, into buf (one clause,
 * no final period): a kernel before 5.11 has no overlayfs there; a later one does, so a
 * security module's policy or the store's filesystem refuses it. */
void userns_overlay_refusal(char *buf, size_t size);

/* Whether setgroups(2) is denied in this process's user namespace (a one-id mapping). */
bool userns_setgroups_denied(void);

/* Whether gid exists in this process's user namespace (its gid_map covers it). */
bool userns_maps_gid(uint32_t gid);

#endif
