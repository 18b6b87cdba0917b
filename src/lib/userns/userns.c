/* Entering a user namespace as a normal user: subordinate ids through newuidmap/newgidmap,
 * or the user's own id alone. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "userns/userns.h"

/* The setuid helpers are the system's: found in a fixed path, never the caller's $PATH. */
static const char *const helper_dirs[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
					   "/usr/bin",	      "/sbin",		"/bin" };

#define SUBID_FILE_MAX (1 << 20)

int userns_read_ranges(const char *path, const char *name, uint32_t id, struct userns_range *ranges,
		       size_t max, struct plate_error **err)
{
	_cleanup_free_ char *data = NULL;
	char idstr[16];
	size_t len, n = 0;
	char *line, *next;

	if (file_read_at(AT_FDCWD, path, 0, SUBID_FILE_MAX, &data, &len, err) < 0) {
		if ((*err)->errno_value != ENOENT)
			return -1;
		plate_error_free(*err);
		*err = NULL;
		return 0;
	}
	snprintf(idstr, sizeof(idstr), "%" PRIu32, id);
	for (line = data; line != NULL && n < max; line = next) {
		char *colon, *end;
		unsigned long long start, count;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		colon = strchr(line, ':');
		if (colon == NULL || line[0] == '#')
			continue;
		*colon = '\0';
		if (strcmp(line, idstr) != 0 && (name == NULL || strcmp(line, name) != 0))
			continue;
		errno = 0;
		start = strtoull(colon + 1, &end, 10);
		if (errno != 0 || end == colon + 1 || *end != ':')
			continue;
		count = strtoull(end + 1, &end, 10);
		if (errno != 0 || (*end != '\0' && *end != '\r') || count == 0 ||
		    start > UINT32_MAX || count > UINT32_MAX - start)
			continue;
		ranges[n].start = (uint32_t)start;
		ranges[n].count = (uint32_t)count;
		n++;
	}
	return (int)n;
}

static bool find_helper(const char *name, char *out, size_t size)
{
	for (size_t i = 0; i < sizeof(helper_dirs) / sizeof(helper_dirs[0]); i++) {
		snprintf(out, size, "%s/%s", helper_dirs[i], name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/* "newuidmap PID 0 ID 1 1 START COUNT ..." */
static char **map_argv(const char *tool, pid_t pid, uint32_t id, const struct userns_range *r,
		       size_t n)
{
	char **argv = calloc(3 + 3 * (n + 1) + 1, sizeof(*argv));
	size_t a = 0;
	uint64_t inside = 1;
	bool ok = argv != NULL;

	if (!ok)
		return NULL;
	ok = (argv[a++] = strdup(tool)) != NULL && asprintf(&argv[a++], "%d", (int)pid) >= 0 &&
	     (argv[a++] = strdup("0")) != NULL && asprintf(&argv[a++], "%" PRIu32, id) >= 0 &&
	     (argv[a++] = strdup("1")) != NULL;
	/* ids inside end below 2^32 - 1 (the kernel's invalid id): ranges past it stay out */
	for (size_t i = 0; ok && i < n && inside + r[i].count <= UINT32_MAX; i++) {
		ok = asprintf(&argv[a++], "%" PRIu64, inside) >= 0 &&
		     asprintf(&argv[a++], "%" PRIu32, r[i].start) >= 0 &&
		     asprintf(&argv[a++], "%" PRIu32, r[i].count) >= 0;
		inside += r[i].count;
	}
	if (!ok) {
		for (size_t i = 0; i < a; i++)
			free(argv[i]);
		free(argv);
		return NULL;
	}
	return argv;
}

static void free_argv(char **argv)
{
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* Starts argv, its output into fd; returns its pid or -1. */
static pid_t start_tool(char **argv, int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (dup2(fd, 1) >= 0 && dup2(fd, 2) >= 0)
			execv(argv[0], argv);
		dprintf(fd, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127); /* checksrc: allow (the forked tool only) */
	}
	return pid;
}

/* The wait status of a started tool, or -1. */
static int wait_tool(pid_t pid)
{
	int status;

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* A seccomp filter on this process ("Seccomp: 2" in /proc/self/status): in a container
 * under Docker's or containerd's default profile, which refuses unshare(CLONE_NEWUSER)
 * to a process without CAP_SYS_ADMIN whatever the sysctls say. */
static bool under_seccomp(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "\nSeccomp:\t2\n") != NULL;
}

/* Why unshare(CLONE_NEWUSER) was refused, from the knobs that refuse it. */
static int unshare_error(int errnum, struct plate_error **err)
{
	static const struct {
		const char *path, *bad, *fix;
	} knobs[] = {
		{ "/proc/sys/kernel/unprivileged_userns_clone", "0",
		  "sysctl kernel.unprivileged_userns_clone=1" },
		{ "/proc/sys/user/max_user_namespaces", "0",
		  "sysctl user.max_user_namespaces=15000" },
		{ "/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
		  "sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile "
		  "allowing userns for plate" },
	};

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char v[32] = "";
		int fd = open(knobs[i].path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, v, sizeof(v) - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n > 0 && strncmp(v, knobs[i].bad, strlen(knobs[i].bad)) == 0 &&
		    (v[strlen(knobs[i].bad)] == '\n' || v[strlen(knobs[i].bad)] == '\0'))
			return plate_err_new(err, errnum,
					     "rootless: cannot create a user namespace: %s is %s; "
					     "as root: %s (or run plate as root)",
					     knobs[i].path, knobs[i].bad, knobs[i].fix);
	}
	if (under_seccomp())
		return plate_err_new(err, errnum,
				     "rootless: cannot create a user namespace: a seccomp filter "
				     "refuses it (a container's default profile); a non-root user "
				     "there cannot record the image's file owners: run the "
				     "container "
				     "as root (docker run --user 0, or runAsUser: 0), where plate "
				     "builds with chroot isolation and the default capabilities");
	return plate_err_new(err, errnum,
			     "rootless: cannot create a user namespace (unprivileged user "
			     "namespaces are disabled here, or plate runs in a thread or "
			     "container that forbids them; run plate as root)");
}

static int write_file(const char *path, const char *text, struct plate_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return plate_err_new(err, errno, "rootless: cannot write '%s'", path);
	return 0;
}

static int enter_single(uid_t uid, gid_t gid, struct userns_entry *out, struct plate_error **err)
{
	char map[64];

	if (unshare(CLONE_NEWUSER) < 0)
		return unshare_error(errno, err);
	/* The kernel lets a process map its own gid only after giving up setgroups. */
	if (write_file("/proc/self/setgroups", "deny", err) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map, err) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	if (write_file("/proc/self/gid_map", map, err) < 0)
		return -1;
	out->mapping = USERNS_MAPPING_SINGLE;
	out->n_uids = out->n_gids = 1;
	return 0;
}

/* The helper is forked before the unshare: newuidmap is setuid root, and a setuid exec from
 * inside the new namespace, which has no mapping yet, would not be one. */
static int enter_mapped(char **uidmap, char **gidmap, struct plate_error **err)
{
	int go[2] = { -1, -1 }, out[2] = { -1, -1 }, status, r = -1, unshare_errno = 0;
	char msg[512] = "";
	ssize_t n = 0, got;
	pid_t helper;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		plate_err_new(err, errno, "rootless: cannot make a pipe");
		goto out;
	}
	helper = fork();
	if (helper < 0) {
		plate_err_new(err, errno, "rootless: cannot fork");
		goto out;
	}
	if (helper == 0) {
		char c;
		int code = 0;

		close(go[1]);
		close(out[0]);
		if (read(go[0], &c, 1) != 1) {
			code = 1; /* the unshare failed: nothing to map */
		} else {
			/* The two maps are independent: both tools at once, one exec's wait less. */
			pid_t u = start_tool(uidmap, out[1]), g = start_tool(gidmap, out[1]);
			int su = wait_tool(u), sg = wait_tool(g);

			code = su != 0 ? 2 : sg != 0 ? 3 : 0;
		}
		_exit(code); /* checksrc: allow (the forked helper only) */
	}
	close(go[0]);
	go[0] = -1;
	close(out[1]);
	out[1] = -1;
	if (unshare(CLONE_NEWUSER) < 0)
		unshare_errno = errno;
	else if (write(go[1], "g", 1) != 1)
		unshare_errno = errno;
	close(go[1]);
	go[1] = -1;
	while ((got = read(out[0], msg + n, sizeof(msg) - 1 - (size_t)n)) > 0 ||
	       (got < 0 && errno == EINTR))
		n += got > 0 ? got : 0;
	msg[n] = '\0';
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	while (waitpid(helper, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (unshare_errno != 0) {
		unshare_error(unshare_errno, err);
		goto out;
	}
	if (status != 0) {
		plate_err_new(err, 0, "rootless: %s failed%s%s",
			      WIFEXITED(status) && WEXITSTATUS(status) == 3 ? gidmap[0] : uidmap[0],
			      msg[0] ? ": " : "", msg);
		goto out;
	}
	r = 0;
out:
	for (size_t i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return r;
}

int userns_enter(struct userns_entry *out, struct plate_error **err)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	struct userns_range uids[USERNS_MAX_RANGES], gids[USERNS_MAX_RANGES];
	char newuidmap[64], newgidmap[64], pwbuf[4096];
	struct passwd pw, *pwp = NULL;
	const char *name;
	char **uidmap = NULL, **gidmap = NULL;
	int n_u, n_g, r = -1;

	memset(out, 0, sizeof(*out));
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0)
		pwp = NULL;
	name = pwp != NULL ? pwp->pw_name : NULL;
	n_u = userns_read_ranges("/etc/subuid", name, uid, uids, USERNS_MAX_RANGES, err);
	if (n_u < 0)
		return -1;
	n_g = userns_read_ranges("/etc/subgid", name, uid, gids, USERNS_MAX_RANGES, err);
	if (n_g < 0)
		return -1;
	if (n_u == 0 || n_g == 0) {
		snprintf(out->reason, sizeof(out->reason),
			 "no subordinate %s for %s%s%u in %s: add a range (as root: usermod "
			 "--add-subuids 100000-165535 --add-subgids 100000-165535 %s)",
			 n_u == 0 ? "uids" : "gids", name ? name : "", name ? "/" : "uid ",
			 (unsigned)uid, n_u == 0 ? "/etc/subuid" : "/etc/subgid",
			 name ? name : "USER");
		return enter_single(uid, gid, out, err);
	}
	if (!find_helper("newuidmap", newuidmap, sizeof(newuidmap)) ||
	    !find_helper("newgidmap", newgidmap, sizeof(newgidmap))) {
		snprintf(out->reason, sizeof(out->reason),
			 "newuidmap/newgidmap not found: install them (Debian: apt-get install "
			 "uidmap) to use the subordinate ids of /etc/subuid and /etc/subgid");
		return enter_single(uid, gid, out, err);
	}
	uidmap = map_argv(newuidmap, getpid(), uid, uids, (size_t)n_u);
	gidmap = map_argv(newgidmap, getpid(), gid, gids, (size_t)n_g);
	if (uidmap == NULL || gidmap == NULL) {
		plate_err_new(err, ENOMEM, "out of memory");
		goto out;
	}
	if (enter_mapped(uidmap, gidmap, err) < 0)
		goto out;
	out->mapping = USERNS_MAPPING_SUBIDS;
	out->n_uids = out->n_gids = 1;
	for (int i = 0; i < n_u; i++)
		out->n_uids += uids[i].count;
	for (int i = 0; i < n_g; i++)
		out->n_gids += gids[i].count;
	r = 0;
out:
	free_argv(uidmap);
	free_argv(gidmap);
	return r;
}

/* The initial namespace maps every id to itself: "0 0 4294967295". */
static bool nested;
static pthread_once_t nested_once = PTHREAD_ONCE_INIT;

static void read_nested(void)
{
	char buf[128] = "";
	unsigned long long a = 0, b = 0, c = 0;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	nested = n > 0 && !(sscanf(buf, "%llu %llu %llu", &a, &b, &c) == 3 && a == 0 && b == 0 &&
			    c == 4294967295ULL);
}

bool userns_nested(void)
{
	pthread_once(&nested_once, read_nested);
	return nested;
}

void userns_overlay_refusal(char *buf, size_t size)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	if (sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
	    (major < 5 || (major == 5 && minor < 11)))
		snprintf(buf, size,
			 "overlayfs there needs Linux 5.11 or later, this kernel is %s: run plate "
			 "as root or on a newer kernel",
			 u.release);
	else
		snprintf(buf, size,
			 "Linux %s allows it, so a security module's policy or the store's "
			 "filesystem refuses it here: run plate as root, or put the store (--root) "
			 "on a local filesystem such as ext4 or xfs",
			 u.release);
}

bool userns_maps_gid(uint32_t gid)
{
	char buf[4096];
	int fd = open("/proc/self/gid_map", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	const char *line = buf;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	while (line != NULL && *line != '\0') {
		unsigned long long inside, outside, count;

		if (sscanf(line, "%llu %llu %llu", &inside, &outside, &count) == 3 &&
		    gid >= inside && gid - inside < count)
			return true;
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return false;
}

bool userns_setgroups_denied(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 && strncmp(buf, "deny", 4) == 0;
}
