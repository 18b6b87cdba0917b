/*
 * The child side: pid 1 of the sandbox (set up, start the command, reap) and the command
 * process (credentials, descriptors, exec).
 *
 * Both run in a copy of the caller, which may have other threads holding malloc or stdio
 * locks, so nothing here allocates or prints: only system calls, fixed buffers and the
 * message pipe.  Credentials are changed with raw syscalls because glibc's setresuid()
 * and friends broadcast the change to all threads they believe exist, and in this copy
 * those threads do not.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"

/* Exit codes of pid 1 when it cannot even report (they are never the command's status:
 * the parent reads the status from the EXIT record). */
#define CHILD_SETUP_FAILED 125

/* The one way out of a child process (never of the caller). */
static _Noreturn void child_exit(int code)
{
	_exit(code); /* checksrc: allow (child process) */
}

pid_t sandbox_clone(unsigned long flags)
{
	/* A raw clone rather than glibc's clone() with a separate stack: the child stays on
	 * the stack the caller's tools (sanitizers, debuggers) already know.  The argument
	 * order differs on s390, where the stack pointer comes first. */
#if defined(__s390__) || defined(__CRIS__)
	return (pid_t)syscall(SYS_clone, 0UL, flags, NULL, NULL, 0UL);
#else
	return (pid_t)syscall(SYS_clone, flags, 0UL, NULL, NULL, 0UL);
#endif
}

void sandbox_child_send(int fd, enum sandbox_msg_type type, int value, const char *payload,
			size_t len)
{
	char rec[sizeof(struct sandbox_msg_header) + SANDBOX_MSG_MAX_PAYLOAD];
	struct sandbox_msg_header h;
	size_t off = 0, total;

	if (len > SANDBOX_MSG_MAX_PAYLOAD)
		len = SANDBOX_MSG_MAX_PAYLOAD;
	h = (struct sandbox_msg_header){ .type = type, .value = value, .len = (uint32_t)len };
	memcpy(rec, &h, sizeof(h));
	if (len > 0)
		memcpy(rec + sizeof(h), payload, len);
	total = sizeof(h) + len;
	while (off < total) {
		ssize_t n = write(fd, rec + off, total - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

_Noreturn void sandbox_child_fail(const struct sandbox_plan *plan, int errnum, ...)
{
	char msg[SANDBOX_MSG_MAX_PAYLOAD];
	const char *piece;
	size_t len = 0;
	va_list ap;

	va_start(ap, errnum);
	while ((piece = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(piece);
		if (n > sizeof(msg) - len)
			n = sizeof(msg) - len;
		memcpy(msg + len, piece, n);
		len += n;
	}
	va_end(ap);
	sandbox_child_send(plan->msg_fd, SANDBOX_MSG_ERROR, errnum, msg, len);
	child_exit(CHILD_SETUP_FAILED);
}

/* Closes every descriptor except the sorted keep list, so pid 1 does not hold the
 * caller's files or another concurrent sandbox's pipes (which would delay its EOF). */
static void close_fds_except(const struct sandbox_plan *plan, const int *keep, size_t n)
{
	unsigned from = 3;

	for (size_t i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned)keep[i] : ~0U;

		if (i < n && keep[i] < (int)from)
			continue;
		if (to > from && close_range(from, to - 1, 0) < 0) {
			if (errno != ENOSYS)
				sandbox_child_fail(plan, errno, "close inherited descriptors",
						   NULL);
			/* Kernels before 5.9: no close_range(); close one by one. */
			for (unsigned fd = from; fd < to && fd < 65536; fd++)
				close((int)fd);
		}
		if (i < n)
			from = (unsigned)keep[i] + 1;
	}
}

static void bring_up_loopback(const struct sandbox_plan *plan)
{
	struct ifreq ifr;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		sandbox_child_fail(plan, errno, "create a socket to bring up 'lo'", NULL);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		sandbox_child_fail(plan, errno, "read flags of 'lo'", NULL);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		sandbox_child_fail(plan, errno, "bring up 'lo'", NULL);
	close(fd);
}

/* Blocks until slirp4netns has configured tap0 (it writes one byte on --ready-fd), so the
 * command never starts on a half-made network.  End of file means the helper exited
 * first; ENETDOWN tells the parent to add what the helper said. */
static void wait_for_network(const struct sandbox_plan *plan)
{
	char c;
	ssize_t n;

	while ((n = read(plan->net_ready_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		sandbox_child_fail(plan, ENETDOWN,
				   "the network helper exited before the network was up", NULL);
	close(plan->net_ready_fd);
}

/* Bounds pid 1 (and so the command) to Docker's default capabilities: dropped from the
 * bounding set so no exec can regain them, and from the effective, permitted, inheritable
 * and ambient sets.  A root command then gets exactly the default set on exec; a non-root
 * one gets none, because the kernel clears them when the uids change, and regains the
 * default set through a setuid-root file, as under Docker and BuildKit: no_new_privs is
 * not set, the seccomp filter is what bounds such a process. */
static void drop_capabilities(const struct sandbox_plan *plan)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	unsigned long long permitted;

	for (int cap = 0; cap < 64; cap++) {
		if (plan->caps & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL) /* past the kernel's last capability */
				break;
			sandbox_child_fail(plan, errno, "drop capabilities from the bounding set",
					   NULL);
		}
	}
	if (syscall(SYS_capget, &hdr, data) < 0)
		sandbox_child_fail(plan, errno, "read capabilities", NULL);
	/* Never ask for more than the caller has: capset() refuses to grow permitted. */
	permitted =
		(data[0].permitted | ((unsigned long long)data[1].permitted << 32)) & plan->caps;
	data[0].permitted = data[0].effective = (uint32_t)permitted;
	data[1].permitted = data[1].effective = (uint32_t)(permitted >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		sandbox_child_fail(plan, errno, "set capabilities", NULL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		sandbox_child_fail(plan, errno, "clear ambient capabilities", NULL);
}

/* A fresh anonymous session keyring: the caller's session keyring (and through it the
 * keys it possesses, such as the host user's keyring) is not the sandbox's.  The filter
 * denies keyctl() and add_key() afterwards, as Docker's does; this covers the insecure
 * mode, where the command keeps them. */
static void join_session_keyring(const struct sandbox_plan *plan)
{
	/* ENOSYS: no keys in this kernel; EPERM: an outer seccomp filter (plate in a
	 * container) denies keyctl to the caller, and so to every command as well. */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS &&
	    errno != EPERM)
		sandbox_child_fail(plan, errno, "join a new session keyring", NULL);
}

/* What /proc/1/cmdline shows.  Pid 1 is a copy of the caller, so it would show plate's own
 * command line (every --build-arg); the arguments and the environment are overwritten in
 * pid 1's copy of the memory the kernel reads them from.  PR_SET_MM could move the range
 * instead, but it takes CAP_SYS_RESOURCE, which plate's caller may lack. */
static void hide_command_line(const struct sandbox_plan *plan)
{
	static const char title[] = "sandbox-init";
	size_t n = sizeof(title) - 1 < plan->args_len ? sizeof(title) - 1 : 0;

	if (plan->args_len > 0) {
		memset(plan->args, 0, plan->args_len);
		memcpy(plan->args, title, n);
	}
	if (plan->envs_len > 0)
		memset(plan->envs, 0, plan->envs_len);
}

/* Until it execs, the command is a copy of plate: /proc/self/exe (and a "#!/proc/self/exe"
 * script or ELF interpreter) names the host's plate binary, which an exec would run inside
 * the sandbox.  Landlock allows exec only beneath the sandbox's root, a hierarchy the
 * host binary is not in whatever link leads to it.  A Landlock domain also refuses every
 * link or rename into another directory (EXDEV) unless a rule grants REFER, so the rule
 * grants it beneath the root too; Landlock ABI 1 (Linux 5.13-5.18) has no REFER right and
 * would break `ln`, `mv` and package managers, so there, as on kernels without Landlock,
 * the sandbox runs without this guard. */
static void restrict_exec(const struct sandbox_plan *plan)
{
	const __u64 access = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_REFER;
	struct landlock_ruleset_attr attr = { .handled_access_fs = access };
	struct landlock_path_beneath_attr beneath = { .allowed_access = access };
	int ruleset, root, abi;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 2)
		return;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		sandbox_child_fail(plan, errno, "create a landlock ruleset", NULL);
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		sandbox_child_fail(plan, errno, "open the new root", NULL);
	beneath.parent_fd = root;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) < 0)
		sandbox_child_fail(plan, errno, "allow exec beneath the root", NULL);
	/* Without no_new_privs this takes CAP_SYS_ADMIN, which pid 1 still has. */
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		sandbox_child_fail(plan, errno, "restrict exec to the root", NULL);
	close(root);
	close(ruleset);
}

/* Loaded while pid 1 still has CAP_SYS_ADMIN, so no no_new_privs is needed; the filter
 * allows what pid 1 does afterwards (capset, prctl, clone without namespaces, signalfd,
 * wait4). */
static void load_seccomp(const struct sandbox_plan *plan)
{
	struct sock_fprog prog = { .len = plan->seccomp->len, .filter = plan->seccomp->insns };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		sandbox_child_fail(plan, errno, "load the seccomp filter", NULL);
}

static void set_credentials(const struct sandbox_plan *plan)
{
	const struct sandbox_spec *spec = plan->spec;
	bool need_groups = !plan->no_setgroups;

	/* Rootless with one id, the kernel denies setgroups: a list holding nothing but the
	 * command's gid (the one gid there is) needs no call, any other cannot be had. */
	for (size_t i = 0; !need_groups && i < spec->n_groups; i++)
		need_groups = spec->groups[i] != spec->gid;
	if (need_groups && plan->no_setgroups)
		sandbox_child_fail(plan, EINVAL,
				   "set supplementary groups (a rootless namespace with one id "
				   "has gid 0 only)",
				   NULL);
	if (need_groups && syscall(SYS_setgroups, spec->n_groups, spec->groups) < 0)
		sandbox_child_fail(plan, errno, "set supplementary groups", NULL);
	if (syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid) < 0)
		sandbox_child_fail(plan, errno, "set gid", NULL);
	if (syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid) < 0)
		sandbox_child_fail(plan, errno, "set uid", NULL);
}

/* execvp() semantics with the search path from the spec's env rather than the caller's:
 * the first candidate that exists wins; EACCES is remembered while searching on. */
static void exec_command(const struct sandbox_plan *plan)
{
	const char *file = plan->argv[0];
	const char *p = plan->path;
	bool denied = false;
	char buf[PATH_MAX];

	if (strchr(file, '/') != NULL) {
		execve(file, plan->argv, plan->envp);
		sandbox_child_fail(plan, errno, "exec '", file, "'", NULL);
	}
	for (;;) {
		size_t dlen = strcspn(p, ":"), flen = strlen(file);

		if (dlen == 0) {
			/* An empty PATH entry means the current directory. */
			buf[0] = '.';
			dlen = 1;
		} else if (dlen < sizeof(buf)) {
			memcpy(buf, p, dlen);
		}
		if (dlen + 1 + flen < sizeof(buf)) {
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, plan->argv, plan->envp);
			if (errno == EACCES)
				denied = true;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
				sandbox_child_fail(plan, errno, "exec '", buf, "'", NULL);
		}
		p += strcspn(p, ":");
		if (*p == '\0')
			break;
		p++;
	}
	sandbox_child_fail(plan, denied ? EACCES : ENOENT, "exec '", file, "' (searched $PATH)",
			   NULL);
}

/* The command process: pid 2 of the sandbox. */
static _Noreturn void command_main(const struct sandbox_plan *plan, const int go[2])
{
	sigset_t none;
	char c;
	int keep[1] = { plan->msg_fd };

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Nothing runs in the sandbox before pid 1 has hidden its command line. */
	close(go[1]);
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
	close(go[0]);
	for (int i = 0; i < 3; i++) {
		if (dup2(plan->stdio[i], i) < 0)
			sandbox_child_fail(plan, errno, "set up standard descriptors", NULL);
	}
	/* The message pipe is close-on-exec: a successful exec closes it silently. */
	close_fds_except(plan, keep, 1);
	set_credentials(plan);
	/* Checked as the command's user, like the kernel will for every later access. */
	if (chdir(plan->spec->cwd) < 0) /* checksrc: allow (the child process only) */
		sandbox_child_fail(plan, errno, "cannot enter working directory '", plan->spec->cwd,
				   "'", NULL);
	exec_command(plan);
	child_exit(CHILD_SETUP_FAILED);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return CHILD_SETUP_FAILED;
}

/* Pid 1 after setup: forwards every signal it receives to the command and reaps every
 * process that ends (orphans are re-parented to pid 1).  When the command itself ends,
 * its status goes to the parent and pid 1 exits, which makes the kernel kill whatever is
 * left in the pid namespace. */
static _Noreturn void reap(const struct sandbox_plan *plan, int sfd, pid_t command,
			   const struct timespec *started)
{
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(sfd, &si, sizeof(si));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			sandbox_child_fail(plan, n < 0 ? errno : EIO, "read signals in pid 1",
					   NULL);
		if (si.ssi_signo != SIGCHLD) {
			kill(command, (int)si.ssi_signo);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == command) {
				struct timespec now;
				uint64_t ns;
				clock_gettime(CLOCK_MONOTONIC, &now);
				ns = (uint64_t)(now.tv_sec - started->tv_sec) * 1000000000u +
				     (uint64_t)now.tv_nsec - (uint64_t)started->tv_nsec;
				sandbox_child_send(plan->msg_fd, SANDBOX_MSG_EXIT, status,
						   (const char *)&ns, sizeof(ns));
				/* No pid namespace to end with pid 1: what the command left
				 * in its process group goes now (pid 1 too, its status is
				 * sent). */
				if (plan->chroot)
					kill(0, SIGKILL);
				child_exit(exit_code(status));
			}
		}
	}
}

_Noreturn void sandbox_child_main(const struct sandbox_plan *plan)
{
	struct pollfd alive = { .fd = plan->alive_fd, .events = POLLIN };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t all;
	struct timespec started;
	pid_t command;
	int sfd, go[2];

	/* Die with the caller; the pipe check closes the race with a caller that died before
	 * the prctl (only the caller holds the write end, so a hang-up means it is gone). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		sandbox_child_fail(plan, errno, "set the parent death signal", NULL);
	if (poll(&alive, 1, 0) != 0)
		child_exit(CHILD_SETUP_FAILED);
	close_fds_except(plan, plan->keep_fds, plan->n_keep);

	/* The caller may ignore SIGPIPE or others; ignored dispositions survive exec, and
	 * Docker starts commands with all signals at their defaults. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	/* A new session: a Ctrl-C on the caller's terminal reaches the caller only, which
	 * decides whether to cancel, instead of hitting the command directly. */
	setsid();
	/* Not dumpable: the command cannot ptrace pid 1 or open /proc/1/fd (the message pipe)
	 * even as root, since it lacks CAP_SYS_PTRACE.  Rootless, not yet: that also gives
	 * /proc/1/ns to the host's root, and slirp4netns, the user's, must open the
	 * network namespace first; the command does not exist before the network is up. */
	if (!plan->rootless)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NAME, "sandbox-init", 0, 0, 0);
	umask(022); /* checksrc: allow (the child process only; Docker's RUN umask) */

	if (plan->chroot) {
		/* Orphans of the command come to pid 1 to be reaped, as in a pid namespace. */
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
			sandbox_child_fail(plan, errno, "become a subreaper", NULL);
		sandbox_setup_chroot(plan);
	} else {
		if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
			sandbox_child_fail(plan, errno, "set hostname '", plan->hostname, "'",
					   NULL);
		if (plan->spec->network != SANDBOX_NET_HOST)
			bring_up_loopback(plan);
		sandbox_setup_root(plan);
	}
	join_session_keyring(plan);
	/* Insecure (BuildKit's security.insecure): the caller's capabilities, no filter. */
	if (!plan->spec->insecure) {
		/* chroot isolation runs where CAP_SYS_ADMIN is missing (a container): the
		 * kernel then takes a Landlock domain and a filter only under no_new_privs,
		 * so setuid files raise nothing there. */
		if (plan->chroot && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			sandbox_child_fail(plan, errno, "set no_new_privs", NULL);
		restrict_exec(plan);
		load_seccomp(plan);
		drop_capabilities(plan);
	}
	if (plan->net_ready_fd >= 0)
		wait_for_network(plan);
	if (plan->rootless)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0)
		sandbox_child_fail(plan, errno, "create a signalfd in pid 1", NULL);
	/* The command waits for EOF on this pipe: pid 1 hides its command line only once the
	 * command has its own copy of the strings it needs (the spec may point into them). */
	if (pipe2(go, O_CLOEXEC) < 0)
		sandbox_child_fail(plan, errno, "create a pipe in pid 1", NULL);
	clock_gettime(CLOCK_MONOTONIC, &started);
	command = sandbox_clone(SIGCHLD);
	if (command < 0)
		sandbox_child_fail(plan, errno, "start the command", NULL);
	if (command == 0)
		command_main(plan, go);
	hide_command_line(plan);
	{
		int keep[2] = { plan->msg_fd < sfd ? plan->msg_fd : sfd,
				plan->msg_fd < sfd ? sfd : plan->msg_fd };
		close_fds_except(plan, keep, 2);
	}
	/* The caller's standard descriptors (a terminal, a log file): the command has its own.
	 * (A caller started with one of them closed may have given its number to a pipe.) */
	for (int fd = 0; fd < 3; fd++)
		if (fd != plan->msg_fd && fd != sfd)
			close(fd);
	reap(plan, sfd, command, &started);
}
