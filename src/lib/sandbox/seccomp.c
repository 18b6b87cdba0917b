/*
 * The default seccomp filter of RUN and `plate run`, built with libseccomp on the parent
 * side and handed to pid 1 as plain BPF (the child may not allocate, and libseccomp does).
 *
 * The rules are those Docker's default profile applies to a container holding Docker's
 * 14 default capabilities (moby profiles/seccomp/default.json): an allowlist, EPERM for
 * everything else, clone only without namespace flags, clone3 answered with ENOSYS so
 * that libc falls back to clone (whose flags a filter can see), personality only with
 * the harmless values, socket with any family but AF_VSOCK, and nothing that Docker
 * allows only with another capability (no mount, unshare, setns, keyctl, add_key,
 * request_key, bpf, perf_event_open, ...).  The same rules cover the architectures a
 * process of the native one can switch to: x86_64 with x86 and x32, aarch64 with arm.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/file.h"
#include "base/output.h"
#include "digest/digest.h"
#include "sandbox/sandbox_internal.h"

/* Allowed unconditionally, on every architecture that has them. */
/* clang-format off */
static const char *const allowed[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime", "clock_adjtime64",
	"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
	"clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
	"copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
	"fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64",
	"fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
	"fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
	"ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
	"getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
	"getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
	"getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
	"getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
	"getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
	"getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
	"_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
	"membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
	"mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
	"mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
	"msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
	"newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
	"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
	"poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
	"process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
	"pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
	"readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
	"recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
	"restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
	"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
	"sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
	"sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
	"statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
	"sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
	"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
	"timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
	"timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
	"uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes",
	"vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
};
/* clang-format on */

/* Allowed only on some architectures (Docker's "includes": {"arches": ...}). */
enum {
	ON_X86_64 = 1 << 0,
	ON_X86 = 1 << 1,
	ON_X32 = 1 << 2,
	ON_ARM = 1 << 3
};
static const struct {
	const char *name;
	unsigned arches;
} arch_allowed[] = {
	{ "arch_prctl", ON_X86_64 | ON_X32 },
	{ "modify_ldt", ON_X86_64 | ON_X86 | ON_X32 },
	{ "arm_fadvise64_64", ON_ARM },
	{ "arm_sync_file_range", ON_ARM },
	{ "sync_file_range2", ON_ARM },
	{ "breakpoint", ON_ARM },
	{ "cacheflush", ON_ARM },
	{ "set_tls", ON_ARM },
};

/* personality(2) values that change nothing a filter relies on: PER_LINUX, PER_LINUX32,
 * UNAME26, PER_LINUX32|UNAME26, and 0xffffffff (a query). */
static const unsigned long personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

/* CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET */
#define NAMESPACE_FLAGS 0x7E020000ULL
#define AF_VSOCK_FAMILY 40

struct arch {
	uint32_t token;
	unsigned mask;
};

#if defined(__x86_64__)
static const struct arch arches[] = { { SCMP_ARCH_X86_64, ON_X86_64 },
				      { SCMP_ARCH_X86, ON_X86 },
				      { SCMP_ARCH_X32, ON_X32 } };
#elif defined(__aarch64__)
static const struct arch arches[] = { { SCMP_ARCH_AARCH64, ON_ARM }, { SCMP_ARCH_ARM, ON_ARM } };
#else
static const struct arch arches[] = { { SCMP_ARCH_NATIVE, 0 } };
#endif

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx != NULL)
		seccomp_release(*ctx);
}
#define _cleanup_scmp_ __attribute__((cleanup(release_ctx)))

/* libseccomp returns -errno. */
static int scmp_err(struct plate_error **err, int rc, const char *what, const char *name)
{
	return plate_err_new(err, -rc, "seccomp: %s '%s'", what, name);
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		    const struct scmp_arg_cmp *cmp, struct plate_error **err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	/* A name no architecture of this libseccomp knows (a newer syscall) stays denied. */
	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	/* -EDOM, -EOPNOTSUPP: the syscall does not exist on this architecture. */
	if (rc < 0 && rc != -EDOM && rc != -EOPNOTSUPP)
		return scmp_err(err, rc, "add rule for", name);
	return 0;
}

static const char *const io_uring[] = { "io_uring_setup", "io_uring_enter", "io_uring_register" };

/* Syscalls newer than this libseccomp (numbers from 451 on are the same on every
 * architecture but x32, which adds its ABI bit) are answered with ENOSYS, as runc does for
 * syscalls newer than its profile: libc then falls back to the older call (glibc 2.39's
 * fchmodat(AT_SYMLINK_NOFOLLOW) tries fchmodat2 first), where EPERM would be a failure. */
#define FIRST_UNIFIED_NEW_SYSCALL 451
#define LAST_UNIFIED_NEW_SYSCALL 470
#define X32_SYSCALL_BIT 0x40000000

static int newer_than_libseccomp(scmp_filter_ctx ctx, const struct arch *a,
				 struct plate_error **err)
{
	uint32_t token = a->token == SCMP_ARCH_NATIVE ? seccomp_arch_native() : a->token;
	int rc;

	for (int nr = FIRST_UNIFIED_NEW_SYSCALL; nr <= LAST_UNIFIED_NEW_SYSCALL; nr++) {
		int arch_nr = token == SCMP_ARCH_X32 ? (nr | X32_SYSCALL_BIT) : nr;
		_cleanup_free_ char *known = seccomp_syscall_resolve_num_arch(token, arch_nr);
		if (known != NULL)
			continue;
		rc = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(ENOSYS), arch_nr, 0);
		/* -EFAULT: libseccomp cannot place a number it does not know on a compat
		 * architecture (x86, x32, arm under a 64-bit kernel); those keep EPERM. */
		if (rc < 0 && rc != -EDOM && rc != -EOPNOTSUPP && rc != -EFAULT)
			return plate_err_new(err, -rc, "seccomp: add a rule for syscall %d",
					     arch_nr);
	}
	return 0;
}

/* The rules for one architecture, in a context of its own (seccomp_merge() joins them, so
 * that architecture-specific syscalls stay specific). */
static int build_arch(const struct arch *a, scmp_filter_ctx *out, struct plate_error **err)
{
	_cleanup_scmp_ scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc;

	if (ctx == NULL)
		return plate_err_new(err, ENOMEM, "seccomp: out of memory");
	/* A binary tree of syscall numbers: on kernels without the filter cache (before
	 * 5.11) every syscall walks the filter. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
		return scmp_err(err, rc, "set attribute", "optimize");
	if (a->token != SCMP_ARCH_NATIVE && a->token != seccomp_arch_native()) {
		if ((rc = seccomp_arch_add(ctx, a->token)) < 0 ||
		    (rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE)) < 0)
			return scmp_err(err, rc, "add architecture", "");
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (add_rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL, err) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(arch_allowed) / sizeof(arch_allowed[0]); i++)
		if ((arch_allowed[i].arches & a->mask) &&
		    add_rule(ctx, SCMP_ACT_ALLOW, arch_allowed[i].name, 0, NULL, err) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(personalities) / sizeof(personalities[0]); i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, personalities[i]);
		if (add_rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &c, err) < 0)
			return -1;
	}
	{
		struct scmp_arg_cmp sock = SCMP_A0(SCMP_CMP_NE, AF_VSOCK_FAMILY);
		/* s390 passes the clone flags second. */
#if defined(__s390__)
		struct scmp_arg_cmp clone = SCMP_A1(SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0);
#else
		struct scmp_arg_cmp clone = SCMP_A0(SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0);
#endif
		if (add_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &sock, err) < 0 ||
		    add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &clone, err) < 0 ||
		    add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err) < 0)
			return -1;
	}
	/* io_uring runs its operations where no filter sees them (IORING_OP_SOCKET makes the
	 * AF_VSOCK sockets the socket rule refuses) and has been a steady source of kernel
	 * escalations: Docker's profile dropped it (Docker 25); ENOSYS lets libuv and tokio
	 * fall back to plain syscalls. */
	for (size_t i = 0; i < sizeof(io_uring) / sizeof(io_uring[0]); i++)
		if (add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), io_uring[i], 0, NULL, err) < 0)
			return -1;
	if (newer_than_libseccomp(ctx, a, err) < 0)
		return -1;
	*out = steal_pointer(&ctx);
	return 0;
}

static int build(struct sandbox_bpf *out, struct plate_error **err)
{
	_cleanup_scmp_ scmp_filter_ctx ctx = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ struct sock_filter *insns = NULL;
	struct stat st;
	int rc;

	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		scmp_filter_ctx one = NULL;

		if (build_arch(&arches[i], &one, err) < 0)
			return -1;
		if (ctx == NULL) {
			ctx = one;
		} else if ((rc = seccomp_merge(ctx, one)) < 0) {
			seccomp_release(one);
			return scmp_err(err, rc, "merge architecture", "");
		}
	}
	/* libseccomp 2.5 exports BPF to a descriptor only. */
	fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return plate_err_new(err, errno, "seccomp: create a memfd");
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0)
		return scmp_err(err, rc, "export", "bpf");
	if (fstat(fd, &st) < 0)
		return plate_err_new(err, errno, "seccomp: stat the exported filter");
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return plate_err_new(err, EINVAL, "seccomp: exported filter of %lld bytes",
				     (long long)st.st_size);
	insns = malloc((size_t)st.st_size);
	if (insns == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	if (pread(fd, insns, (size_t)st.st_size, 0) != (ssize_t)st.st_size)
		return plate_err_new(err, errno, "seccomp: read the exported filter");
	out->insns = steal_pointer(&insns);
	out->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	return 0;
}

/* ---- the compiled filter kept between processes ------------------------------------------
 *
 * A file in the store: the header "plate seccomp filter 1\nkey KEY\nsha256:HEX\n\n", then
 * the instructions.  KEY names every input of the compilation: this program's GNU build
 * ID (the rule tables and the code that applies them), the libseccomp it runs with, the
 * kernel's seccomp API level as libseccomp sees it, and the native architecture.  A file
 * whose key, length or digest differs, or that another user could have written, is
 * compiled again and replaced. */

#define CACHE_MAGIC "plate seccomp filter 1\n"
#define CACHE_MAX (1024 + BPF_MAXINSNS * sizeof(struct sock_filter))

struct build_id {
	char hex[2 * 64 + 1];
};

/* dl_iterate_phdr() visits the program itself first: its PT_NOTE segments' build ID. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
	struct build_id *id = data;

	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			size_t name = (n->n_namesz + 3) & ~(size_t)3,
			       desc = (n->n_descsz + 3) & ~(size_t)3;
			const unsigned char *d = (const unsigned char *)(p + sizeof(*n) + name);

			if ((size_t)(end - p) - sizeof(*n) < name + desc)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(p + sizeof(*n), "GNU", 4) == 0 && n->n_descsz > 0 &&
			    n->n_descsz <= 64) {
				for (ElfW(Word) k = 0; k < n->n_descsz; k++)
					snprintf(id->hex + 2 * k, 3, "%02x", d[k]);
				return 1;
			}
			p += sizeof(*n) + name + desc;
		}
	}
	return 1;
}

/* The cache key into key (size n); false when the program has no build ID to key on. */
static bool cache_key(char *key, size_t n)
{
	struct build_id id = { .hex = "" };
	const struct scmp_version *v = seccomp_version();

	dl_iterate_phdr(find_build_id, &id);
	if (id.hex[0] == '\0' || v == NULL)
		return false;
	snprintf(key, n, "build-id %s libseccomp %u.%u.%u api %u arch %u", id.hex, v->major,
		 v->minor, v->micro, seccomp_api_get(), seccomp_arch_native());
	return true;
}

/* The header a file of this key and these instructions starts with, into hdr. */
static int cache_header(struct buf *hdr, const char *key, const struct sock_filter *insns,
			size_t len, struct plate_error **err)
{
	char digest[DIGEST_STRING_LEN + 1];

	if (digest_buffer(insns, len * sizeof(*insns), digest, err) < 0)
		return -1;
	if (buf_addf(hdr, CACHE_MAGIC "key %s\n%s\n\n", key, digest) < 0)
		return plate_err_new(err, errno, "seccomp: out of memory");
	return 0;
}

/* The filter from the cache file into *out: 0, or -1 when it is absent or not to be
 * trusted (*err says why). */
static int cache_load(const char *path, const char *key, struct sandbox_bpf *out,
		      struct plate_error **err)
{
	_cleanup_close_ int fd = open(path, FILE_READ_OPEN_FLAGS | O_NOFOLLOW);
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ struct sock_filter *insns = NULL;
	_cleanup_buf_ struct buf hdr = BUF_INIT(1024);
	const char *body;
	struct stat st;
	size_t len, n;

	if (fd < 0)
		return plate_err_new(err, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0)
		return plate_err_new(err, errno, "cannot stat '%s'", path);
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return plate_err_new(err, EPERM, "'%s' could have been written by another user",
				     path);
	if (file_read_fd(fd, path, 0, CACHE_MAX, &data, &len, err) < 0)
		return -1;
	body = memmem(data, len, "\n\n", 2);
	if (body == NULL)
		return plate_err_new(err, EINVAL, "'%s' has no header", path);
	body += 2;
	n = (len - (size_t)(body - data)) / sizeof(*insns);
	if (n == 0 || n > BPF_MAXINSNS || (len - (size_t)(body - data)) % sizeof(*insns) != 0)
		return plate_err_new(err, EINVAL, "'%s' holds no whole filter", path);
	if ((insns = malloc(n * sizeof(*insns))) == NULL)
		return plate_err_new(err, ENOMEM, "out of memory");
	memcpy(insns, body, n * sizeof(*insns));
	if (cache_header(&hdr, key, insns, n, err) < 0)
		return -1;
	if (hdr.len != (size_t)(body - data) || memcmp(hdr.data, data, hdr.len) != 0)
		return plate_err_new(err, EINVAL, "'%s' is for other inputs or damaged", path);
	out->insns = steal_pointer(&insns);
	out->len = (unsigned short)n;
	return 0;
}

static int cache_save(const char *path, const char *key, const struct sandbox_bpf *bpf,
		      struct plate_error **err)
{
	_cleanup_buf_ struct buf hdr = BUF_INIT(1024);
	struct replace_file rf = REPLACE_FILE_INIT;

	if (cache_header(&hdr, key, bpf->insns, bpf->len, err) < 0 ||
	    replace_file_open(&rf, path, 0600, err) < 0)
		return -1;
	if (write_all(rf.fd, hdr.data, hdr.len) < 0 ||
	    write_all(rf.fd, bpf->insns, bpf->len * sizeof(*bpf->insns)) < 0) {
		replace_file_abort(&rf);
		return plate_err_new(err, errno, "cannot write '%s'", path);
	}
	return replace_file_commit(&rf, err);
}

/* The filter is a constant of the program, but libseccomp takes about 20 ms to compute it:
 * too much to repeat for every RUN or `plate run`.  It is built once per process, on first
 * use, and never changes or is freed afterwards; with a cache file, once per program and
 * libseccomp. */
static struct {
	pthread_mutex_t lock;
	bool done;
	struct sandbox_bpf bpf;
	int errnum;
	char message[256];
} filter = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void build_once(const char *cache)
{
	_cleanup_error_ struct plate_error *e = NULL, *ignored = NULL;
	char key[512];
	bool keyed = cache != NULL && cache_key(key, sizeof(key));

	if (keyed && cache_load(cache, key, &filter.bpf, &ignored) == 0)
		return;
	if (build(&filter.bpf, &e) < 0) {
		filter.errnum = e->errno_value != 0 ? e->errno_value : EINVAL;
		snprintf(filter.message, sizeof(filter.message), "%s", e->message);
		return;
	}
	/* A store that cannot take the file (read-only, full) only costs the next process
	 * the compilation. */
	plate_error_free(steal_pointer(&ignored));
	if (keyed)
		cache_save(cache, key, &filter.bpf, &ignored);
}

int sandbox_seccomp_filter(const char *cache, const struct sandbox_bpf **out,
			   struct plate_error **err)
{
	pthread_mutex_lock(&filter.lock);
	if (!filter.done) {
		build_once(cache);
		filter.done = true;
	}
	pthread_mutex_unlock(&filter.lock);
	if (filter.errnum != 0)
		return plate_err_new(err, filter.errnum, "%s", filter.message);
	*out = &filter.bpf;
	return 0;
}
