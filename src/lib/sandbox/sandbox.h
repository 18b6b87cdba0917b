/*
 * sandbox/sandbox.h — run one command in an isolated root filesystem.
 *
 * Purpose
 *   Executes Dockerfile RUN steps and `plate run`.  The engine describes the run as plain
 *   data in a struct sandbox_spec (HOUSE_STYLE rule 15); sandbox_spec_validate() checks it
 *   without touching the system and sandbox_run() executes it:
 *     - new mount, pid, ipc, uts and cgroup namespaces, and a new network namespace
 *       unless network is SANDBOX_NET_HOST: with only `lo` up (NONE), or with `lo` and a
 *       user-mode NAT to the caller's network, the host's loopback excluded (PRIVATE);
 *     - the root is a plain directory or an overlay of read-only lower directories and one
 *       upper directory, which then holds exactly the changes the command made (the diff
 *       the engine turns into a layer);
 *     - /proc, /sys (read-only), a minimal /dev, and optional /etc/resolv.conf, /etc/hosts
 *       and /etc/hostname bound from files outside the root, so they never land in the
 *       upper directory;
 *     - uid, gid and supplementary groups, Docker's default capability set and default
 *       seccomp filter, a private session keyring, exec only of files beneath the root,
 *       nodev on every mount but the standard /dev nodes (unless `insecure`);
 *     - the command runs as pid 2 under a pid-1 reaper that forwards signals, reaps
 *       orphans and reports the exit status.
 *   docs/internals/sandbox.md describes the setup sequence and its quirks.
 *
 * Ownership
 *   A spec borrows every pointer it holds: strings and arrays must stay valid for the
 *   duration of sandbox_run().  Nothing in the spec is modified or freed by the sandbox.
 *   Mount point stubs the sandbox had to create in the root (a missing /proc, /etc, an
 *   /etc/resolv.conf mount target, a bind-mount target) are removed again after the run
 *   when they are still empty, so they are not mistaken for changes made by the command.
 *
 * Errors
 *   sandbox_spec_validate() names the first offending field.  sandbox_run() returns 0
 *   when the command ran, whatever its exit status (the status is the result, not an
 *   error), and -1 with *err when the sandbox could not be set up (the failing setup
 *   step and its errno, for example "sandbox: mount overlay on '…': No such device"),
 *   when the command could not be executed ("sandbox: exec 'gcc': No such file or
 *   directory"), when it was cancelled (ECANCELED) or timed out (ETIMEDOUT).
 *
 * Privilege
 *   sandbox_run() needs CAP_SYS_ADMIN (it is meant to run as root); without it the first
 *   failing namespace or mount call is reported as an error.  Where namespaces and mounts
 *   are refused (a default `docker run` container), SANDBOX_ISOLATION_CHROOT runs the
 *   command in a plain directory with chroot(2), which needs CAP_SYS_CHROOT only: no
 *   namespace, no mount; sandbox_isolation_detect() tells which one this process can use.
 *
 * Processes and signals
 *   sandbox_run() forks and waits for the sandbox's pid 1 and, with a PRIVATE network,
 *   kills the slirp4netns it starts for it by its pid when the run ends, on every path; a
 *   detached thread reaps that helper, so it may still be exiting when sandbox_run() returns.
 *   The caller must not reap children it did not create (no SIGCHLD handler calling
 *   waitpid(-1), no SIGCHLD set to SIG_IGN).
 *   When the calling thread dies, the kernel kills the sandbox and the network helper
 *   (PR_SET_PDEATHSIG).
 *   Cancellation: the caller's signal handler makes `cancel_fd` readable (self-pipe or
 *   eventfd); sandbox_run() then kills the whole sandbox and returns ECANCELED.
 *
 * Thread safety
 *   Independent runs may proceed in parallel from different threads.  The child side
 *   uses no allocation or locks, so forking from a multi-threaded engine is safe.
 */
#ifndef PLATE_SANDBOX_H
#define PLATE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/error.h"

/* The search path used to find argv[0] when the spec's env has no PATH (Docker's default). */
#define SANDBOX_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The hostname when the spec leaves it NULL. */
#define SANDBOX_DEFAULT_HOSTNAME "sandbox"

/* Caps that keep a spec from growing without bound: lower layers (Docker images stop at
 * 127, and the overlay mount options must fit in one page), mounts, env entries, argv
 * entries, supplementary groups. */
#define SANDBOX_MAX_LOWERDIRS 128
#define SANDBOX_MAX_MOUNTS 256
#define SANDBOX_MAX_ENV 4096
#define SANDBOX_MAX_ARGV 65536
#define SANDBOX_MAX_GROUPS 1024
#define SANDBOX_MAX_RESOLV_CONF (64 * 1024)
#define SANDBOX_MAX_NAMESERVERS 3 /* glibc's MAXNS: later nameserver lines are ignored */

/* How the command is kept apart (docs/internals/sandbox.md "Isolation modes"). */
enum sandbox_isolation {
	SANDBOX_ISOLATION_NAMESPACES, /* the namespaces, mounts and pivot_root described above */
	/* chroot(2) into a DIR root, nothing else changes the view: no mount, pid, ipc, uts,
	 * cgroup or network namespace, no /proc, /sys or /etc files; /dev holds the standard
	 * nodes made with mknod.  The filter is loaded with no_new_privs, CAP_MKNOD is not
	 * given, leftovers of the command's process group are killed when it ends.  The spec
	 * must have a DIR root, the HOST network, no mounts and no etc files. */
	SANDBOX_ISOLATION_CHROOT,
};

enum sandbox_rootfs_mode {
	SANDBOX_ROOTFS_DIR,	/* `rootfs` is the root, changes are written into it */
	SANDBOX_ROOTFS_OVERLAY, /* overlay of `lowerdirs` with `upperdir`, mounted by the sandbox */
};

enum sandbox_network {
	SANDBOX_NET_NONE, /* a new network namespace with only the loopback interface, up */
	SANDBOX_NET_HOST, /* share the caller's network namespace */
	/* A new network namespace whose `tap0` (SANDBOX_PRIVATE_ADDR, gateway
	 * SANDBOX_PRIVATE_GATEWAY) slirp4netns connects to the caller's network through host
	 * sockets: outbound connections work, the host's 127.0.0.0/8 does not answer, and the
	 * DNS forwarder SANDBOX_PRIVATE_DNS relays to the caller's first nameserver. */
	SANDBOX_NET_PRIVATE,
};

/* The addresses slirp4netns gives the PRIVATE network (its defaults, 10.0.2.0/24). */
#define SANDBOX_PRIVATE_ADDR "10.0.2.100"
#define SANDBOX_PRIVATE_GATEWAY "10.0.2.2"
#define SANDBOX_PRIVATE_DNS "10.0.2.3"
/* The user-mode network helper, searched in SANDBOX_DEFAULT_PATH unless spec->net_helper. */
#define SANDBOX_NET_HELPER "slirp4netns"

enum sandbox_mount_type {
	SANDBOX_MOUNT_BIND,  /* bind a host file or directory (not recursive) */
	SANDBOX_MOUNT_TMPFS, /* a fresh tmpfs, nosuid and nodev */
};

enum sandbox_mount_flags {
	SANDBOX_MOUNT_READONLY = 1 << 0,
};

enum sandbox_etc_flags {
	SANDBOX_ETC_RESOLV_CONF = 1 << 0, /* /etc/resolv.conf with `resolv_conf` as contents */
	SANDBOX_ETC_HOSTS = 1 << 1,	  /* /etc/hosts: localhost and the hostname */
	SANDBOX_ETC_HOSTNAME = 1 << 2,	  /* /etc/hostname: the hostname and a newline */
};

struct sandbox_mount {
	enum sandbox_mount_type type;
	const char *source;	       /* BIND: absolute host path; TMPFS: NULL */
	const char *target;	       /* absolute path inside the root; created when missing */
	unsigned flags;		       /* enum sandbox_mount_flags */
	unsigned long long tmpfs_size; /* TMPFS: size in bytes, 0 for the kernel default */
};

/* Called from sandbox_run() with each chunk the command writes; fd is 1 or 2. */
typedef void sandbox_output_fn(void *data, int fd, const char *chunk, size_t len);

struct sandbox_spec {
	enum sandbox_isolation isolation;
	enum sandbox_rootfs_mode rootfs_mode;
	const char *rootfs; /* DIR: absolute path of the root directory */
	/* OVERLAY: absolute paths, top-most layer first (the order of overlayfs "lowerdir=");
	 * upperdir and workdir must be empty directories on one filesystem for a fresh diff. */
	const char *const *lowerdirs;
	size_t n_lowerdirs;
	const char *upperdir;
	const char *workdir;
	/* OVERLAY: mount it `volatile` when the kernel can, so that the unmount does not sync
	 * the upper directory's whole filesystem: for callers that sync once themselves.  The
	 * workdir cannot be used for another overlay mount afterwards. */
	bool overlay_volatile;

	/* An absolute host directory where the sandbox creates its private scratch directory
	 * (overlay mount point, /etc files) and removes it afterwards: $PLATE_ROOT/tmp. */
	const char *tmpdir;

	/* An absolute path where the compiled seccomp filter is kept between processes
	 * ($PLATE_ROOT/seccomp.bpf), trusted only when this program and libseccomp made it;
	 * NULL: compiled in every process (about 20 ms). */
	const char *seccomp_cache;

	const struct sandbox_mount *mounts; /* applied in order, after /proc, /dev and /etc files */
	size_t n_mounts;

	const char *const *argv; /* argv[0] is searched in the env's PATH when it has no '/' */
	size_t n_argv;
	const char *const *env; /* "KEY=VALUE", passed exactly as given */
	size_t n_env;
	const char *cwd; /* must exist in the root: the engine creates WORKDIR, not the sandbox */

	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups, replacing the caller's */
	size_t n_groups;

	const char *hostname; /* NULL: SANDBOX_DEFAULT_HOSTNAME */
	enum sandbox_network network;
	const char *net_helper; /* PRIVATE: absolute path of slirp4netns; NULL: searched */
	unsigned etc_files;	/* enum sandbox_etc_flags */
	/* Contents for SANDBOX_ETC_RESOLV_CONF, normally the caller's own; NULL: an empty file.
	 * With a PRIVATE network its nameservers are rewritten (sandbox_private_resolv_conf). */
	const char *resolv_conf;

	/* The command's descriptors 0, 1 and 2: the caller's descriptors, or -1 for /dev/null.
	 * When `output` is set, 1 and 2 go to pipes read by sandbox_run() instead. */
	int stdin_fd;
	int stdout_fd;
	int stderr_fd;
	sandbox_output_fn *output;
	void *output_data;

	/* BuildKit's security.insecure (`RUN --security=insecure`): no seccomp filter, no exec
	 * restriction, every capability the caller has.  Namespaces, masks, the private
	 * keyring and nodev stay. */
	bool insecure;

	int cancel_fd;	     /* -1, or a descriptor that becomes readable to cancel the run */
	unsigned timeout_ms; /* 0: no timeout */
};

struct sandbox_result {
	int status;	/* bash style: the exit code, or 128 + signal when killed by a signal */
	int signal;	/* the signal that killed the command, 0 when it exited */
	double seconds; /* wall time of the command alone, from its fork by pid 1 to its exit
			 * (the sandbox's own setup and teardown are not included) */
};

/* Fills a spec with the defaults: directory root, no network, uid and gid 0, cwd "/",
 * stdio to /dev/null, no cancel fd, no timeout.  Every other field is empty. */
void sandbox_spec_init(struct sandbox_spec *spec);

/* Pure check of a spec: enum values, absolute paths without ".." components, a non-empty
 * argv, "KEY=VALUE" env entries with distinct keys, a valid hostname, caps.  Returns 0,
 * or -1 with *err naming the first problem. */
int sandbox_spec_validate(const struct sandbox_spec *spec, struct plate_error **err);

/* Validates and runs the spec, waits for the command and fills *result (which must not be
 * NULL; untouched on failure).  Returns 0 when the command ran (any status), -1 with *err
 * otherwise (see Errors above). */
int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *result,
		struct plate_error **err);

/* Which isolation this process can give a run, tried in a short-lived child: NAMESPACES
 * when it can create the sandbox's namespaces and make its mounts private, else CHROOT
 * when it can chroot(2).  Neither: -1 with *err naming both refusals and the fix. */
int sandbox_isolation_detect(enum sandbox_isolation *out, struct plate_error **err);

/* Whether a process that makes a user namespace of its own could give a run NAMESPACES
 * isolation there (a rootless plate before it enters one): the same trial, in a child that
 * is also in a new user namespace. */
bool sandbox_isolation_userns(void);

/* "namespaces" or "chroot". */
const char *sandbox_isolation_name(enum sandbox_isolation isolation);

/* The /etc/resolv.conf of a PRIVATE network made from the caller's: every line but the
 * nameservers kept, SANDBOX_PRIVATE_DNS as the first nameserver (it relays to the caller's
 * first one, loopback resolvers such as 127.0.0.53 included), then the caller's IPv4
 * nameservers outside 127.0.0.0/8, which the NAT reaches directly, up to three in all.
 * Pure; appends to out; -1 with errno on failure. */
int sandbox_private_resolv_conf(const char *host, struct buf *out);

/* The /etc/hosts the sandbox writes for SANDBOX_ETC_HOSTS: localhost (IPv4 and IPv6)
 * followed by the hostname on the IPv4 line.  Appends to out; -1 with errno on failure. */
int sandbox_hosts_file(const char *hostname, struct buf *out);

/* Whether a command built for platform ("os/arch[/variant]") runs in the sandbox on a
 * machine of platform native: the same architecture, i386 on x86-64, or another one with a
 * QEMU handler registered in binfmt_misc with the fix-binary flag (emulation.c).  0, or -1
 * with *err (ENOEXEC) saying what is missing and how to fix it. */
int sandbox_emulator_check(const char *platform, const char *native, struct plate_error **err);

#endif
