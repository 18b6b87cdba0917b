/*
 * The sandbox's mount namespace, built by pid 1 before the command starts.
 *
 * Order: make every inherited mount private (nothing propagates back to the host), mount
 * the root (overlay, or the directory bound onto itself: pivot_root needs a mount point),
 * then /proc, /sys, /dev, the /etc files and the spec's mounts under it, and pivot_root
 * into it, detaching the host's tree.  All of it lives in the sandbox's own mount
 * namespace, which the kernel frees when its last process exits: a killed sandbox leaves
 * no mount behind on the host and needs no unmounting.
 *
 * Targets inside the root are resolved with sandbox_resolve() (symlinks stay inside the
 * root) and built as "<root>/<resolved>", which contains no symlink and so means the
 * same thing to mount(2).  Child side: no heap, failures go through sandbox_child_fail().
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"

struct root {
	const struct sandbox_plan *plan;
	int fd;
	struct sandbox_stub_sink sink;
};

static void note_stub(void *data, enum sandbox_stub_kind kind, const char *path)
{
	const struct sandbox_plan *plan = data;
	char payload[PATH_MAX + 1];
	size_t len = strlen(path);

	if (len >= PATH_MAX)
		return;
	payload[0] = (char)kind;
	memcpy(payload + 1, path, len);
	sandbox_child_send(plan->msg_fd, SANDBOX_MSG_STUB, 0, payload, len + 1);
}

static void join(const struct sandbox_plan *plan, char *out, const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);

	if (alen + 1 + blen >= PATH_MAX)
		sandbox_child_fail(plan, ENAMETOOLONG, "path '", a, "/", b, "'", NULL);
	memcpy(out, a, alen);
	out[alen] = '/';
	memcpy(out + alen + 1, b, blen + 1);
}

/* Resolves `target` (absolute, inside the root), creating it as a directory or an empty
 * file when missing, checks its type and writes "<root>/<resolved>" into host_path. */
static void mount_target(struct root *r, const char *target, bool dir, char *host_path)
{
	char rel[PATH_MAX];
	struct stat st;
	int res;

	res = sandbox_resolve(r->fd, target,
			      dir ? SANDBOX_RESOLVE_CREATE_DIR : SANDBOX_RESOLVE_CREATE_FILE, rel,
			      sizeof(rel), &r->sink);
	if (res < 0)
		sandbox_child_fail(r->plan, -res, "create mount point '", target, "'", NULL);
	if (fstatat(r->fd, rel[0] != '\0' ? rel : ".", &st, AT_SYMLINK_NOFOLLOW) < 0)
		sandbox_child_fail(r->plan, errno, "stat mount point '", target, "'", NULL);
	if (dir && !S_ISDIR(st.st_mode))
		sandbox_child_fail(r->plan, ENOTDIR, "mount point '", target, "'", NULL);
	if (!dir && S_ISDIR(st.st_mode))
		sandbox_child_fail(r->plan, EISDIR, "mount point '", target, "'", NULL);
	join(r->plan, host_path, r->plan->root, rel);
}

static void do_mount(const struct sandbox_plan *plan, const char *what, const char *source,
		     const char *target, const char *fstype, unsigned long flags, const char *data)
{
	if (mount(source, target, fstype, flags, data) < 0)
		sandbox_child_fail(plan, errno, what, " on '", target, "'", NULL);
}

/* Adds `add` (MS_RDONLY, MS_NODEV) to the flags of a bind mount.  The remount must repeat
 * the flags the mount already has (nosuid, nodev, noexec, atime): in a user namespace they
 * are locked and dropping one fails with EPERM. */
static void remount_bind(const struct sandbox_plan *plan, const char *path, unsigned long add)
{
	static const struct {
		unsigned long st, ms;
	} keep[] = {
		{ ST_NOSUID, MS_NOSUID },	  { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC },	  { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
		{ ST_RDONLY, MS_RDONLY },
	};
	unsigned long flags = MS_REMOUNT | MS_BIND | add;
	struct statfs sfs;

	if (statfs(path, &sfs) < 0)
		sandbox_child_fail(plan, errno, "statfs '", path, "'", NULL);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		if ((unsigned long)sfs.f_flags & keep[i].st)
			flags |= keep[i].ms;
	}
	do_mount(plan, add & MS_RDONLY ? "remount read-only" : "remount nodev", NULL, path, NULL,
		 flags, NULL);
}

/* Docker's masked and read-only paths (moby oci/defaults.go): kernel interfaces that leak
 * host information or would let root in the sandbox change the host (/proc/sys is not
 * namespaced: kernel.core_pattern alone is a way out).  Missing ones are skipped. */
/* clang-format off */
static const char *const masked_proc[] = {
	"asound",     "acpi",	      "kcore",	     "keys", "latency_stats",
	"timer_list", "timer_stats", "sched_debug", "scsi",
};
/* clang-format on */
static const char *const masked_sys[] = { "firmware", "devices/virtual/powercap" };
static const char *const readonly_proc[] = { "bus", "fs", "irq", "sys", "sysrq-trigger" };

/* Hides each existing base/name: directories under an empty read-only tmpfs, files under
 * /dev/null (still the host's here, before pivot_root). */
static void mask(const struct sandbox_plan *plan, const char *base, const char *const *names,
		 size_t n)
{
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		join(plan, path, base, names[i]);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			do_mount(plan, "mask", "tmpfs", path, "tmpfs",
				 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
		else
			do_mount(plan, "mask", "/dev/null", path, NULL, MS_BIND, NULL);
	}
}

static void setup_proc_sys(struct root *r)
{
	const struct sandbox_plan *plan = r->plan;
	char proc[PATH_MAX], sys[PATH_MAX], path[PATH_MAX];
	struct stat st;

	mount_target(r, "/proc", true, proc);
	do_mount(plan, "mount proc", "proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_target(r, "/sys", true, sys);
	/* Only a user namespace that owns the network namespace may mount sysfs: rootless on
	 * the host's network, the host's /sys is bound instead, the view a new sysfs would
	 * give there (recursively: a user namespace may not bind a mount without the ones
	 * locked on it), read-only too. */
	if (plan->rootless && plan->spec->network == SANDBOX_NET_HOST) {
		do_mount(plan, "bind sysfs", "/sys", sys, NULL, MS_BIND | MS_REC, NULL);
		remount_bind(plan, sys, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	} else {
		do_mount(plan, "mount sysfs", "sysfs", sys, "sysfs",
			 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	}
	mask(plan, proc, masked_proc, sizeof(masked_proc) / sizeof(masked_proc[0]));
	mask(plan, sys, masked_sys, sizeof(masked_sys) / sizeof(masked_sys[0]));
	for (size_t i = 0; i < sizeof(readonly_proc) / sizeof(readonly_proc[0]); i++) {
		join(plan, path, proc, readonly_proc[i]);
		if (lstat(path, &st) < 0)
			continue;
		do_mount(plan, "bind", path, path, NULL, MS_BIND | MS_REC, NULL);
		remount_bind(plan, path, MS_RDONLY);
	}
}

/* A tmpfs /dev like Docker's: the harmless character devices bound from the host (a bind
 * works where mknod is not allowed, and keeps the host's major/minor numbers), a private
 * devpts instance, /dev/shm and the /proc/self/fd links.  The tmpfs itself is nodev (each
 * bound device is a mount of its own, with the host /dev's flags), so a node made with
 * mknod here does not open, as nowhere else in the sandbox but devpts. */
static void setup_dev(struct root *r)
{
	static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const struct {
		const char *name, *target;
	} links[] = {
		{ "fd", "/proc/self/fd" },	 { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, /* checksrc: allow (a link name) */
		{ "stderr", "/proc/self/fd/2" }, /* checksrc: allow (a link name) */
		{ "ptmx", "pts/ptmx" },
	};
	const struct sandbox_plan *plan = r->plan;
	char dev[PATH_MAX], path[PATH_MAX], host[32];
	struct stat st;
	int devfd;

	mount_target(r, "/dev", true, dev);
	do_mount(plan, "mount tmpfs", "tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME,
		 "mode=755,size=65536k");
	devfd = open(dev, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		sandbox_child_fail(plan, errno, "open '", dev, "'", NULL);
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		int fd = openat(devfd, devices[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

		if (fd < 0)
			sandbox_child_fail(plan, errno, "create '/dev/", devices[i], "'", NULL);
		close(fd);
		join(plan, path, dev, devices[i]);
		memcpy(host, "/dev/", 5);
		memcpy(host + 5, devices[i], strlen(devices[i]) + 1);
		/* A host /dev entry that was replaced by a regular file (a tool "atomically"
		 * renaming its output over /dev/full) must not become a writable host file. */
		if (stat(host, &st) < 0)
			sandbox_child_fail(plan, errno, "stat '", host, "'", NULL);
		if (!S_ISCHR(st.st_mode))
			sandbox_child_fail(plan, ENODEV, "host '", host, "' is not a device", NULL);
		if (mount(host, path, NULL, MS_BIND, NULL) < 0)
			sandbox_child_fail(plan, errno, "bind '", host, "' on '", path, "'", NULL);
	}
	if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0)
		sandbox_child_fail(plan, errno, "create directories in '", dev, "'", NULL);
	join(plan, path, dev, "pts");
	/* newinstance: the command's ptys are its own, not the host's; gid 5 is "tty", which a
	 * rootless namespace with one id does not have (the kernel refuses an unmapped gid). */
	do_mount(plan, "mount devpts", "devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		 plan->tty_gid ? "newinstance,ptmxmode=0666,mode=0620,gid=5"
			       : "newinstance,ptmxmode=0666,mode=0620");
	join(plan, path, dev, "shm");
	do_mount(plan, "mount tmpfs", "shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 "mode=1777,size=65536k");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (symlinkat(links[i].target, devfd, links[i].name) < 0)
			sandbox_child_fail(plan, errno, "create '/dev/", links[i].name, "'", NULL);
	}
	close(devfd);
}

static void setup_etc_files(struct root *r)
{
	static const char *const targets[SANDBOX_N_ETC_FILES] = {
		[SANDBOX_ETC_FILE_RESOLV] = "/etc/resolv.conf",
		[SANDBOX_ETC_FILE_HOSTS] = "/etc/hosts",
		[SANDBOX_ETC_FILE_HOSTNAME] = "/etc/hostname",
	};
	char path[PATH_MAX];

	for (int i = 0; i < SANDBOX_N_ETC_FILES; i++) {
		const char *source = r->plan->etc_sources[i];

		if (source == NULL)
			continue;
		mount_target(r, targets[i], false, path);
		if (mount(source, path, NULL, MS_BIND, NULL) < 0)
			sandbox_child_fail(r->plan, errno, "bind '", source, "' on '", targets[i],
					   "'", NULL);
	}
}

static void decimal(char *out, unsigned long long v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	out[n] = '\0';
}

static void fd_path(char *out, int fd)
{
	memcpy(out, "/proc/self/fd/", 14);
	decimal(out + 14, (unsigned long long)fd);
}

static void setup_spec_mounts(struct root *r)
{
	const struct sandbox_spec *spec = r->plan->spec;
	char path[PATH_MAX], options[64];

	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct sandbox_mount *m = &spec->mounts[i];

		mount_target(r, m->target, r->plan->mount_dirs[i], path);
		switch (m->type) {
		case SANDBOX_MOUNT_BIND:
			/* Not recursive: host mounts below the source stay out of reach.  nodev:
			 * a device node in a cache or context directory must not open. */
			if (mount(m->source, path, NULL, MS_BIND, NULL) < 0)
				sandbox_child_fail(r->plan, errno, "bind '", m->source, "' on '",
						   m->target, "'", NULL);
			remount_bind(r->plan, path,
				     MS_NODEV |
					     (m->flags & SANDBOX_MOUNT_READONLY ? MS_RDONLY : 0));
			break;
		case SANDBOX_MOUNT_TMPFS:
			memcpy(options, "mode=755", 9);
			if (m->tmpfs_size > 0) {
				memcpy(options + 8, ",size=", 6);
				decimal(options + 14, m->tmpfs_size);
			}
			if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options) < 0)
				sandbox_child_fail(r->plan, errno, "mount tmpfs on '", m->target,
						   "'", NULL);
			break;
		default:
			sandbox_child_fail(r->plan, EINVAL, "unknown mount type", NULL);
		}
		if (m->type == SANDBOX_MOUNT_TMPFS && (m->flags & SANDBOX_MOUNT_READONLY))
			remount_bind(r->plan, path, MS_RDONLY);
	}
}

struct opts {
	char data[4096]; /* the kernel copies mount(2) data as one page */
	size_t len;
};

static void opts_add(const struct sandbox_plan *plan, struct opts *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len + n >= sizeof(o->data))
		sandbox_child_fail(plan, E2BIG, "overlay options for the lowerdirs", NULL);
	memcpy(o->data + o->len, s, n + 1);
	o->len += n;
}

static void opts_add_dir(const struct sandbox_plan *plan, struct opts *o, const char *what,
			 const char *dir)
{
	char fdp[32];
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		sandbox_child_fail(plan, errno, "open ", what, " '", dir, "'", NULL);
	fd_path(fdp, fd);
	opts_add(plan, o, fdp);
}

/* The directories go in as /proc/self/fd/N: short whatever the store's paths are (the
 * options must fit in a page) and never in need of escaping ':' or ','.  They are opened
 * here, in the sandbox's namespace, because overlayfs refuses directories on mounts of
 * another namespace.  redirect_dir and metacopy off: the upper directory must hold only
 * plain files, directories and whiteouts, the one diff format a layer can carry; index=off
 * as Docker and containerd mount it.  The descriptors are closed by pid 1 later. */
static void mount_overlay(const struct sandbox_plan *plan)
{
	const struct sandbox_spec *spec = plan->spec;
	struct opts o = { .len = 0 };

	opts_add(plan, &o, "lowerdir=");
	for (size_t i = 0; i < spec->n_lowerdirs; i++) {
		if (i > 0)
			opts_add(plan, &o, ":");
		opts_add_dir(plan, &o, "lowerdir", spec->lowerdirs[i]);
	}
	opts_add(plan, &o, ",upperdir=");
	opts_add_dir(plan, &o, "upperdir", spec->upperdir);
	opts_add(plan, &o, ",workdir=");
	opts_add_dir(plan, &o, "workdir", spec->workdir);
	/* Root of a user namespace: overlayfs keeps its marks in user.overlay.* and then
	 * takes redirect_dir=nofollow, not off (which means "follow"); neither creates any. */
	if (plan->rootless)
		opts_add(plan, &o, ",userxattr,index=off,redirect_dir=nofollow,metacopy=off");
	else
		opts_add(plan, &o, ",index=off,redirect_dir=off,metacopy=off");
	/* volatile (Linux 5.10): the unmount at the end of the run does not syncfs the whole
	 * filesystem of the upper directory; the caller syncs once for all its steps.  A
	 * kernel without it gets the plain mount. */
	if (spec->overlay_volatile) {
		size_t len = o.len;
		opts_add(plan, &o, ",volatile");
		if (mount("overlay", plan->root, "overlay", MS_NODEV, o.data) == 0)
			return;
		if (errno != EINVAL)
			sandbox_child_fail(plan, errno, "mount overlay", " on '", plan->root, "'",
					   NULL);
		o.data[o.len = len] = '\0';
	}
	do_mount(plan, "mount overlay", "overlay", plan->root, "overlay", MS_NODEV, o.data);
}

static void pivot(const struct sandbox_plan *plan)
{
	/* pivot_root(".", ".") stacks the old root on top of the new one; detaching it then
	 * leaves only the new root, with no directory needed to park the old one in. */
	if (chdir(plan->root) < 0) /* checksrc: allow (the child process only) */
		sandbox_child_fail(plan, errno, "enter root '", plan->root, "'", NULL);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		sandbox_child_fail(plan, errno, "pivot_root into '", plan->root, "'", NULL);
	if (umount2(".", MNT_DETACH) < 0)
		sandbox_child_fail(plan, errno, "detach the host root", NULL);
	if (chdir("/") < 0) /* checksrc: allow (the child process only) */
		sandbox_child_fail(plan, errno, "enter the new root", NULL);
}

void sandbox_setup_root(const struct sandbox_plan *plan)
{
	struct root r = { .plan = plan, .fd = -1 };
	struct stat st;

	do_mount(plan, "make mounts private", NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	/* nodev, not nosuid: device nodes shipped in an image must not open (Docker's device
	 * cgroup denies them), setuid files in it must work (as with Docker and BuildKit). */
	if (plan->overlay) {
		mount_overlay(plan);
	} else {
		do_mount(plan, "bind root", plan->root, plan->root, NULL, MS_BIND | MS_REC, NULL);
		remount_bind(plan, plan->root, MS_NODEV);
	}
	r.fd = open(plan->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r.fd < 0 || fstat(r.fd, &st) < 0)
		sandbox_child_fail(plan, errno, "open root '", plan->root, "'", NULL);
	r.sink = (struct sandbox_stub_sink){
		.upperfd = plan->upper_fd,
		.root_dev = st.st_dev,
		.note = note_stub,
		.data = (void *)plan,
	};

	setup_proc_sys(&r);
	setup_dev(&r);
	setup_etc_files(&r);
	setup_spec_mounts(&r);
	close(r.fd);
	pivot(plan);
}

/* The copy the engine hands a chroot run is thrown away after it, and the engine leaves
 * /dev out of the diff: nothing made here needs removing. */
static void ignore_stub(void *data, enum sandbox_stub_kind kind, const char *path)
{
}

void sandbox_setup_chroot(const struct sandbox_plan *plan)
{
	/* The standard nodes, with the kernel's fixed numbers (devices.txt). */
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = { { "null", 1, 3 },	  { "zero", 1, 5 },    { "full", 1, 7 },
		      { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
	struct root r = { .plan = plan, .fd = -1 };
	char dev[PATH_MAX];
	struct stat st;
	int devfd;

	r.fd = open(plan->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r.fd < 0 || fstat(r.fd, &st) < 0)
		sandbox_child_fail(plan, errno, "open root '", plan->root, "'", NULL);
	r.sink = (struct sandbox_stub_sink){ .upperfd = -1,
					     .root_dev = st.st_dev,
					     .note = ignore_stub };
	mount_target(&r, "/dev", true, dev);
	devfd = open(dev, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		sandbox_child_fail(plan, errno, "open '", dev, "'", NULL);
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		/* Whatever the image has there is replaced, as the /dev tmpfs hides it. */
		if (unlinkat(devfd, nodes[i].name, 0) < 0 && errno != ENOENT && errno != EISDIR)
			sandbox_child_fail(plan, errno, "replace '/dev/", nodes[i].name, "'", NULL);
		if (mknodat(devfd, nodes[i].name, S_IFCHR | 0666,
			    makedev(nodes[i].major, nodes[i].minor)) < 0 ||
		    fchmodat(devfd, nodes[i].name, 0666, 0) < 0)
			sandbox_child_fail(plan, errno, "create '/dev/", nodes[i].name, "'", NULL);
	}
	close(devfd);
	close(r.fd);
	if (chroot(plan->root) < 0)
		sandbox_child_fail(plan, errno, "chroot into '", plan->root, "'", NULL);
	if (chdir("/") < 0) /* checksrc: allow (the child process only) */
		sandbox_child_fail(plan, errno, "enter the new root", NULL);
}
