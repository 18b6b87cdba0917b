/*
 * sandbox/sandbox_internal.h — what the parent side (run.c) hands the child side
 * (child.c, rootfs.c, resolve.c), and the messages that come back.
 *
 * The parent turns the spec into a struct sandbox_plan: every path, option string,
 * descriptor and argv/envp array the child needs, computed before the fork.  The child
 * runs in a copy of a possibly multi-threaded process, so it must not allocate, take
 * locks or call glibc's set*id wrappers (they signal the parent's other threads); it
 * only makes system calls and formats messages into fixed buffers.
 */
#if !defined(PLATE_BUILDING_LIB) && !defined(PLATE_TESTING)
#error "sandbox_internal.h is internal to the sandbox module"
#endif
#ifndef PLATE_SANDBOX_INTERNAL_H
#define PLATE_SANDBOX_INTERNAL_H

#include <limits.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

/* Child → parent records on the message pipe: a header, then `len` payload bytes. */
enum sandbox_msg_type {
	SANDBOX_MSG_ERROR = 1, /* value: errno; payload: what failed ("mount overlay on '…'") */
	SANDBOX_MSG_STUB = 2,  /* payload: kind byte (enum sandbox_stub_kind), then the path */
	SANDBOX_MSG_EXIT = 3,  /* value: the command's wait status as waitpid(2) returned it;
			* payload: its wall time in ns (uint64_t, CLOCK_MONOTONIC) */
};

struct sandbox_msg_header {
	uint32_t type;
	int32_t value;
	uint32_t len;
};

#define SANDBOX_MSG_MAX_PAYLOAD (PATH_MAX + 256)

/* A path the child created (or made overlayfs copy up) only to have a mount point, relative
 * to the root.  The parent removes it again after the run when it is still an empty file
 * or directory, so it does not show up in the upper directory as a change. */
enum sandbox_stub_kind {
	SANDBOX_STUB_FILE = 'f',   /* an empty file created as a mount target */
	SANDBOX_STUB_DIR = 'd',	   /* a directory created as a mount target or on the way to one */
	SANDBOX_STUB_COPYUP = 'c', /* a lower directory copied up into upperdir by the above */
};

/* Where the resolver reports stubs.  upperfd is the overlay's upper directory (O_PATH) to
 * detect copy-ups, or -1; root_dev is the root's st_dev: paths on other filesystems (the
 * /dev tmpfs, a bind mount) are not the root's and are never reported. */
struct sandbox_stub_sink {
	int upperfd;
	dev_t root_dev;
	void (*note)(void *data, enum sandbox_stub_kind kind, const char *path);
	void *data;
};

enum sandbox_resolve_flags {
	SANDBOX_RESOLVE_CREATE_DIR = 1 << 0, /* create what is missing, the last part a directory */
	SANDBOX_RESOLVE_CREATE_FILE = 1 << 1, /* create what is missing, the last part a file */
};

/* Resolves the absolute `path` inside the directory rootfd as if rootfd were "/": symlinks
 * are followed (absolute ones restart at rootfd) and ".." stops at the root, so the result
 * never leaves it.  Writes the symlink-free path relative to rootfd into out ("" for the
 * root itself).  Relies on nothing else changing the tree while it runs, which holds while
 * the sandbox is being set up.  Uses no heap: safe in the child.  Returns 0 or -errno. */
int sandbox_resolve(int rootfd, const char *path, unsigned flags, char *out, size_t out_size,
		    const struct sandbox_stub_sink *sink);

enum sandbox_etc_file {
	SANDBOX_ETC_FILE_RESOLV,
	SANDBOX_ETC_FILE_HOSTS,
	SANDBOX_ETC_FILE_HOSTNAME
};
#define SANDBOX_N_ETC_FILES 3

/* A seccomp filter as the kernel takes it, built by the parent (libseccomp allocates). */
struct sandbox_bpf {
	struct sock_filter *insns;
	unsigned short len;
};

/* Docker's default filter for a process with Docker's default capabilities (seccomp.c),
 * built on the first call and shared, read-only, by every later one.  cache (the first
 * call's counts): a file where the compiled filter is read from when it was made by this
 * very program and libseccomp, and written to otherwise; NULL: none.  Returns 0 with *out,
 * or -1 with *err. */
int sandbox_seccomp_filter(const char *cache, const struct sandbox_bpf **out,
			   struct plate_error **err);

struct sandbox_plan {
	const struct sandbox_spec *spec;
	const struct sandbox_bpf *seccomp; /* NULL: spec->insecure, no filter */
	const char *root;		   /* host path of the root mount point */
	bool overlay;			   /* mount spec->lowerdirs, upperdir and workdir on root */
	bool chroot;		 /* SANDBOX_ISOLATION_CHROOT: no namespace, chroot into root */
	unsigned long long caps; /* the command's capabilities (bounding set) */
	bool rootless;		 /* root of a user namespace not the host's: overlayfs "userxattr",
			   * pid 1 dumpable until the network helper has joined */
	bool tty_gid;		 /* gid 5 ("tty") exists: devpts gives it to new ptys */
	bool no_setgroups;	 /* rootless with one id: setgroups(2) is denied */
	int upper_fd;		 /* O_PATH upperdir for copy-up detection, or -1 */
	const char *hostname;
	const char *etc_sources[SANDBOX_N_ETC_FILES]; /* scratch files to bind, or NULL */
	const bool *mount_dirs; /* per spec mount: the target is a directory */
	char *const *argv;	/* NULL-terminated views of spec->argv and spec->env */
	char *const *envp;
	const char *path;    /* the search path for argv[0] */
	int msg_fd;	     /* write end of the message pipe */
	int alive_fd;	     /* read end of a pipe only the parent writes: hang-up = parent died */
	int net_ready_fd;    /* PRIVATE network: read end of slirp4netns's --ready-fd, else -1 */
	int stdio[3];	     /* descriptors >= 3 that become the command's 0, 1 and 2 */
	const int *keep_fds; /* sorted: every descriptor above the child needs during setup */
	size_t n_keep;
	/* The caller's argument and environment strings as the kernel shows them in
	 * /proc/PID/cmdline and environ (from /proc/self/stat), overwritten in pid 1. */
	char *args;
	size_t args_len;
	char *envs;
	size_t envs_len;
};

/* The PRIVATE network's helper (net.c, parent side).  slirp4netns needs the pid of a
 * process in the new network namespace, so it starts after the clone, while pid 1 sets up
 * the root; pid 1 waits for the byte it writes on `ready` before it starts the command. */
struct sandbox_net {
	char *helper; /* absolute path of slirp4netns */
	int ready[2]; /* [0] kept by pid 1, [1] handed to the helper as --ready-fd */
	int log_fd;   /* what the helper writes (<scratch>/net.log, unlinked) */
	int null_fd;  /* the helper's stdin */
	pid_t pid;    /* the running helper, or -1 */
	char ready_arg[32], target_arg[32];
	const char *argv[12];
};

void sandbox_net_init(struct sandbox_net *n);
/* Finds the helper and opens its pipe and log in the scratch directory.  0 or -1. */
int sandbox_net_prepare(struct sandbox_net *n, const struct sandbox_spec *spec, int scratch_fd,
			const char *scratch, struct plate_error **err);
/* Starts the helper for the network namespace of `target`, dying with the calling thread,
 * and closes the parent's copy of the ready pipe's write end.  0 or -1. */
int sandbox_net_start(struct sandbox_net *n, pid_t target, struct plate_error **err);
/* The helper's last line of output ("" when none), for an error message; malloc'd. */
char *sandbox_net_last_words(const struct sandbox_net *n);
/* Kills and reaps the helper when it runs, closes everything, frees the path. */
void sandbox_net_release(struct sandbox_net *n);

/* fork() semantics (the child continues on a copy of the caller's stack) with clone(2)
 * flags, and without glibc's fork handlers: returns 0 in the child, the pid in the
 * parent, -1 with errno on failure. */
pid_t sandbox_clone(unsigned long flags);

/* Pid 1 of the sandbox, in the child of sandbox_clone(): sets up the root, starts the
 * command and reaps until it exits. */
_Noreturn void sandbox_child_main(const struct sandbox_plan *plan);

/* Child-side helpers (child.c). */
void sandbox_child_send(int fd, enum sandbox_msg_type type, int value, const char *payload,
			size_t len);
/* Sends an error record made of the NULL-terminated string pieces and exits. */
_Noreturn void sandbox_child_fail(const struct sandbox_plan *plan, int errnum, ...)
	__attribute__((sentinel));
/* Mounts the root, /proc, /sys, /dev, /etc files and the spec's mounts, then pivots into
 * the root (rootfs.c).  Fails through sandbox_child_fail(). */
void sandbox_setup_root(const struct sandbox_plan *plan);
/* chroot isolation: the standard /dev nodes made in the root, then chroot into it. */
void sandbox_setup_chroot(const struct sandbox_plan *plan);

/* Docker's default capability set (moby oci/caps/defaults.go): chown, dac_override,
 * fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service, net_raw, sys_chroot,
 * mknod, audit_write, setfcap. */
#define SANDBOX_DEFAULT_CAPS 0xa80425fbULL
/* chroot isolation: without CAP_MKNOD (bit 27), since no nodev mount keeps a node the
 * command makes from opening on a host that has no device cgroup around plate, and
 * without CAP_SYS_CHROOT (bit 18), with which root walks out of a chroot (chroot into a
 * subdirectory, then ".." past the old root). */
#define SANDBOX_CHROOT_CAPS (SANDBOX_DEFAULT_CAPS & ~(1ULL << 27) & ~(1ULL << 18))

#endif
