/*
 * Unit tests for sandbox/: the pure spec validator, the generated /etc/hosts, and the
 * in-root path resolver (run in a temporary directory: it needs no privilege).  Running
 * sandboxes is tested by tests/integration/sandbox.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_internal.h"
#include "tap.h"

static const char *const argv_ok[] = { "/bin/sh", "-c", "true" };
static const char *const lowers_ok[] = { "/store/snapshots/b", "/store/snapshots/a" };
static const char *const env_ok[] = { "PATH=/usr/bin:/bin", "HOME=/root", "EMPTY=" };

static void base_spec(struct sandbox_spec *s)
{
	sandbox_spec_init(s);
	s->rootfs = "/var/lib/plate/rootfs";
	s->tmpdir = "/var/lib/plate/tmp";
	s->argv = argv_ok;
	s->n_argv = 3;
	s->env = env_ok;
	s->n_env = 3;
}

static void overlay_spec(struct sandbox_spec *s)
{
	base_spec(s);
	s->rootfs_mode = SANDBOX_ROOTFS_OVERLAY;
	s->rootfs = NULL;
	s->lowerdirs = lowers_ok;
	s->n_lowerdirs = 2;
	s->upperdir = "/store/tmp/step/upper";
	s->workdir = "/store/tmp/step/work";
}

/* Validates s; want_msg NULL means it must pass, otherwise the error message must
 * contain want_msg and carry want_errno. */
static void check(const char *name, const struct sandbox_spec *s, const char *want_msg,
		  int want_errno)
{
	_cleanup_error_ struct plate_error *err = NULL;
	int rc = sandbox_spec_validate(s, &err);

	if (want_msg == NULL) {
		if (!tap_ok(rc == 0 && err == NULL, "valid: %s", name))
			tap_diag("error: %s", err != NULL ? err->message : "(none)");
		return;
	}
	if (!tap_ok(rc == -1 && err != NULL && strstr(err->message, want_msg) != NULL &&
			    err->errno_value == want_errno,
		    "invalid: %s", name)) {
		tap_diag("want: %s (errno %d)", want_msg, want_errno);
		tap_diag("got:  %s (errno %d)", err != NULL ? err->message : "(no error)",
			 err != NULL ? err->errno_value : 0);
	}
}

static void test_defaults(void)
{
	struct sandbox_spec s;

	memset(&s, 0x5a, sizeof(s));
	sandbox_spec_init(&s);
	tap_ok(s.rootfs_mode == SANDBOX_ROOTFS_DIR && s.network == SANDBOX_NET_NONE &&
		       strcmp(s.cwd, "/") == 0 && s.uid == 0 && s.gid == 0,
	       "init: directory root, no network, root user, cwd /");
	tap_ok(s.stdin_fd == -1 && s.stdout_fd == -1 && s.stderr_fd == -1 && s.cancel_fd == -1,
	       "init: stdio to /dev/null, no cancel fd");
	tap_ok(s.argv == NULL && s.n_env == 0 && s.n_mounts == 0 && s.etc_files == 0 &&
		       s.timeout_ms == 0 && s.output == NULL && s.hostname == NULL,
	       "init: everything else empty");
	check("init alone has no argv", &s, "rootfs is missing", EINVAL);
}

static void test_rootfs(void)
{
	static const char *const rel_lower[] = { "/ok", "snap/a" };
	static const char *many[SANDBOX_MAX_LOWERDIRS + 1];
	struct sandbox_spec s;

	base_spec(&s);
	check("directory root", &s, NULL, 0);
	overlay_spec(&s);
	check("overlay root", &s, NULL, 0);

	base_spec(&s);
	s.rootfs = "rootfs";
	check("relative rootfs", &s, "rootfs 'rootfs' is not an absolute path", EINVAL);
	base_spec(&s);
	s.rootfs = "/a/../etc";
	check("rootfs with ..", &s, "rootfs '/a/../etc' contains '..'", EINVAL);
	base_spec(&s);
	s.rootfs = "/a/..b/c../..";
	check("trailing .. component", &s, "contains '..'", EINVAL);
	base_spec(&s);
	s.rootfs = "/a/..b/c..";
	check("dots inside names are fine", &s, NULL, 0);
	base_spec(&s);
	s.rootfs = NULL;
	check("missing rootfs", &s, "rootfs is missing", EINVAL);
	base_spec(&s);
	s.upperdir = "/u";
	check("upperdir with a directory root", &s, "need an overlay root", EINVAL);
	base_spec(&s);
	s.rootfs_mode = (enum sandbox_rootfs_mode)9;
	check("unknown rootfs mode", &s, "unknown rootfs mode 9", EINVAL);

	overlay_spec(&s);
	s.rootfs = "/r";
	check("rootfs with an overlay root", &s, "rootfs '/r' given for an overlay root", EINVAL);
	overlay_spec(&s);
	s.n_lowerdirs = 0;
	check("overlay without lowerdir", &s, "an overlay root needs a lowerdir", EINVAL);
	overlay_spec(&s);
	s.lowerdirs = rel_lower;
	check("relative lowerdir", &s, "lowerdir 'snap/a' is not an absolute path", EINVAL);
	overlay_spec(&s);
	s.workdir = NULL;
	check("missing workdir", &s, "workdir is missing", EINVAL);
	overlay_spec(&s);
	s.workdir = s.upperdir;
	check("upperdir is workdir", &s, "upperdir and workdir are both", EINVAL);
	overlay_spec(&s);
	for (size_t i = 0; i <= SANDBOX_MAX_LOWERDIRS; i++)
		many[i] = "/l";
	s.lowerdirs = many;
	s.n_lowerdirs = SANDBOX_MAX_LOWERDIRS;
	check("lowerdirs at the cap", &s, NULL, 0);
	s.n_lowerdirs = SANDBOX_MAX_LOWERDIRS + 1;
	check("lowerdirs over the cap", &s, "too many lowerdirs", E2BIG);

	base_spec(&s);
	s.tmpdir = NULL;
	check("missing tmpdir", &s, "tmpdir is missing", EINVAL);
}

static void test_long_path(void)
{
	_cleanup_free_ char *p = malloc(PATH_MAX + 1);
	struct sandbox_spec s;

	memset(p, 'a', PATH_MAX);
	p[0] = '/';
	p[PATH_MAX] = '\0';
	base_spec(&s);
	s.rootfs = p;
	check("path of PATH_MAX bytes", &s, "is too long", ENAMETOOLONG);
	p[PATH_MAX - 1] = '\0';
	check("path of PATH_MAX - 1 bytes", &s, NULL, 0);
}

static void test_mounts(void)
{
	struct sandbox_mount m[2];
	struct sandbox_spec s;

	base_spec(&s);
	s.mounts = m;
	s.n_mounts = 2;
	m[0] = (struct sandbox_mount){ .type = SANDBOX_MOUNT_BIND,
				       .source = "/var/cache/go",
				       .target = "/root/.cache/go-build",
				       .flags = SANDBOX_MOUNT_READONLY };
	m[1] = (struct sandbox_mount){ .type = SANDBOX_MOUNT_TMPFS,
				       .target = "/tmp",
				       .tmpfs_size = 1 << 20 };
	check("bind and tmpfs", &s, NULL, 0);

	m[1].target = "tmp";
	check("relative target", &s, "mount target 'tmp' is not an absolute path", EINVAL);
	m[1].target = "/";
	check("target is the root", &s, "mount target '/' is the root", EINVAL);
	m[1].target = "//./";
	check("target is the root, spelled oddly", &s, "is the root", EINVAL);
	m[1].target = "/run/../etc";
	check("target with ..", &s, "mount target '/run/../etc' contains '..'", EINVAL);
	m[1].target = "/tmp";
	m[1].source = "/x";
	check("tmpfs with a source", &s, "tmpfs on '/tmp' has a source '/x'", EINVAL);
	m[1].source = NULL;
	m[0].source = NULL;
	check("bind without source", &s, "bind source is missing", EINVAL);
	m[0].source = "cache";
	check("relative bind source", &s, "bind source 'cache' is not an absolute path", EINVAL);
	m[0].source = "/var/cache";
	m[0].tmpfs_size = 5;
	check("bind with a size", &s, "has a tmpfs size", EINVAL);
	m[0].tmpfs_size = 0;
	m[0].flags = 1 << 7;
	check("unknown mount flags", &s, "unknown flags 0x80", EINVAL);
	m[0].flags = 0;
	m[0].type = (enum sandbox_mount_type)4;
	check("unknown mount type", &s, "unknown type 4", EINVAL);
	s.n_mounts = SANDBOX_MAX_MOUNTS + 1;
	check("too many mounts", &s, "too many mounts", E2BIG);
}

static void test_process(void)
{
	static const char *const argv_empty0[] = { "" };
	static const char *const argv_null[] = { "sh", NULL };
	static const char *const env_noeq[] = { "A=1", "FOO" };
	static const char *const env_noname[] = { "=x" };
	static const char *const env_dup[] = { "A=1", "AB=2", "A=3" };
	static const char *const env_prefix[] = { "A=1", "AB=2" };
	static const gid_t groups_bad[] = { 10, (gid_t)-1 };
	static const gid_t groups_ok[] = { 10, 20 };
	struct sandbox_spec s;

	base_spec(&s);
	s.n_argv = 0;
	check("empty argv", &s, "argv is empty", EINVAL);
	base_spec(&s);
	s.argv = argv_empty0;
	s.n_argv = 1;
	check("empty argv[0]", &s, "argv[0] is empty", EINVAL);
	base_spec(&s);
	s.argv = argv_null;
	s.n_argv = 2;
	check("NULL in argv", &s, "argv[1] is missing", EINVAL);
	base_spec(&s);
	s.env = env_noeq;
	s.n_env = 2;
	check("env entry without =", &s, "env entry 'FOO' has no '='", EINVAL);
	base_spec(&s);
	s.env = env_noname;
	s.n_env = 1;
	check("env entry without name", &s, "env entry '=x' has an empty name", EINVAL);
	base_spec(&s);
	s.env = env_dup;
	s.n_env = 3;
	check("duplicate env name", &s, "env name 'A' appears twice", EINVAL);
	base_spec(&s);
	s.env = env_prefix;
	s.n_env = 2;
	check("env names sharing a prefix", &s, NULL, 0);
	base_spec(&s);
	s.n_env = 0;
	s.env = NULL;
	check("no env at all", &s, NULL, 0);
	base_spec(&s);
	s.n_env = SANDBOX_MAX_ENV + 1;
	check("too many env entries", &s, "too many env entries", E2BIG);

	base_spec(&s);
	s.cwd = "work";
	check("relative cwd", &s, "cwd 'work' is not an absolute path", EINVAL);
	base_spec(&s);
	s.cwd = "/src/..";
	check("cwd with ..", &s, "cwd '/src/..' contains '..'", EINVAL);
	base_spec(&s);
	s.cwd = NULL;
	check("missing cwd", &s, "cwd is missing", EINVAL);

	base_spec(&s);
	s.uid = 65534;
	s.gid = 65534;
	s.groups = groups_ok;
	s.n_groups = 2;
	check("nobody with groups", &s, NULL, 0);
	s.uid = (uid_t)-1;
	check("uid -1", &s, "uid or gid is -1", EINVAL);
	s.uid = 0;
	s.groups = groups_bad;
	check("group -1", &s, "group -1 is not a group", EINVAL);
	s.n_groups = SANDBOX_MAX_GROUPS + 1;
	check("too many groups", &s, "too many groups", E2BIG);

	base_spec(&s);
	s.stdout_fd = -2;
	check("descriptor below -1", &s, "a file descriptor is below -1", EBADF);
}

static void test_host_settings(void)
{
	static const struct {
		const char *name;
		const char *want; /* NULL: valid */
	} hostnames[] = {
		{ "builder", NULL },
		{ "my-host.example_1", NULL },
		{ "0123456789012345678901234567890123456789012345678901234567890123", NULL },
		{ "", "must be 1 to 64 characters" },
		{ "01234567890123456789012345678901234567890123456789012345678901234",
		  "must be 1 to 64 characters" },
		{ "-x", "must start with a letter or digit" },
		{ "a b", "contains ' '" },
		{ "a/b", "contains '/'" },
	};
	struct sandbox_spec s;

	for (size_t i = 0; i < sizeof(hostnames) / sizeof(hostnames[0]); i++) {
		base_spec(&s);
		s.hostname = hostnames[i].name;
		check(hostnames[i].name, &s, hostnames[i].want, hostnames[i].want ? EINVAL : 0);
	}
	base_spec(&s);
	s.network = (enum sandbox_network)7;
	check("unknown network mode", &s, "unknown network mode 7", EINVAL);
	base_spec(&s);
	s.network = SANDBOX_NET_HOST;
	s.etc_files = SANDBOX_ETC_RESOLV_CONF | SANDBOX_ETC_HOSTS | SANDBOX_ETC_HOSTNAME;
	s.resolv_conf = "nameserver 10.0.0.1\n";
	check("host network with all /etc files", &s, NULL, 0);
	s.etc_files = 1 << 5;
	check("unknown etc flag", &s, "unknown etc file flags 0x20", EINVAL);
	base_spec(&s);
	s.network = SANDBOX_NET_PRIVATE;
	check("private network, helper searched", &s, NULL, 0);
	s.net_helper = "bin/slirp4netns";
	check("private network, relative helper", &s,
	      "net_helper 'bin/slirp4netns' is not an absolute path", EINVAL);
}

static void test_private_resolv_conf(void)
{
	static const struct {
		const char *name, *host, *want;
	} cases[] = {
		{ "no host file: the forwarder only", NULL, "nameserver 10.0.2.3\n" },
		{ "a loopback resolver is reached through the forwarder",
		  "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
		  "nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch lan\n" },
		{ "routable IPv4 resolvers follow the forwarder, three in all",
		  "# comment\nnameserver 192.0.2.1\n\tnameserver\t192.0.2.2 # second\n"
		  "nameserver 192.0.2.3\n",
		  "nameserver 10.0.2.3\n# comment\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n" },
		{ "IPv6, zero and malformed addresses are dropped",
		  "nameserver ::1\nnameserver 2001:db8::1\nnameserver 0.0.0.0\nnameserver 1.2.3\n"
		  "nameserver 1.2.3.4.5\nnameserver 256.1.1.1\nnameserver 1.2.3.4x\nnameservers "
		  "1.1.1.1",
		  "nameserver 10.0.2.3\nnameservers 1.1.1.1\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_buf_ struct buf b = BUF_INIT(4096);

		tap_ok(sandbox_private_resolv_conf(cases[i].host, &b) == 0, "%s: generated",
		       cases[i].name);
		tap_streq(b.data, cases[i].want, "%s", cases[i].name);
	}
}

static void test_hosts_file(void)
{
	_cleanup_buf_ struct buf b = BUF_INIT(4096);
	_cleanup_buf_ struct buf d = BUF_INIT(4096);

	tap_ok(sandbox_hosts_file("builder", &b) == 0, "hosts file generated");
	tap_streq(b.data,
		  "127.0.0.1\tlocalhost builder\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		  "hosts file names localhost and the hostname");
	sandbox_hosts_file(NULL, &d);
	tap_ok(strstr(d.data, "localhost " SANDBOX_DEFAULT_HOSTNAME "\n") != NULL,
	       "hosts file uses the default hostname");
}

/* --- resolver ---------------------------------------------------------------------- */

struct notes {
	char text[4096];
};

static void collect(void *data, enum sandbox_stub_kind kind, const char *path)
{
	struct notes *n = data;
	size_t len = strlen(n->text);

	snprintf(n->text + len, sizeof(n->text) - len, "%c %s;", (char)kind, path);
}

static char *test_dir(void)
{
	const char *base = getenv("PLATE_TEST_TMP");
	char *dir = NULL;

	if (asprintf(&dir, "%s/test_sandbox.XXXXXX", base != NULL ? base : "/tmp") < 0)
		return NULL;
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return NULL;
	}
	return dir;
}

static int mkfile(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	return close(fd);
}

/* Resolves path in rootfd and returns "result|notes" or "-ERRNO-NAME|notes". */
static const char *resolve(int rootfd, int upperfd, const char *path, unsigned flags)
{
	static char result[8192];
	struct notes n = { .text = "" };
	struct sandbox_stub_sink sink = { .upperfd = upperfd, .note = collect, .data = &n };
	char out[PATH_MAX];
	struct stat st;
	int rc;

	fstat(rootfd, &st);
	sink.root_dev = st.st_dev;
	rc = sandbox_resolve(rootfd, path, flags, out, sizeof(out), &sink);
	if (rc < 0)
		snprintf(result, sizeof(result), "-%s|%s", strerrorname_np(-rc), n.text);
	else
		snprintf(result, sizeof(result), "%s|%s", out, n.text);
	return result;
}

static void test_resolve(void)
{
	_cleanup_free_ char *dir = test_dir();
	_cleanup_free_ char *cmd = NULL;
	_cleanup_free_ char *host_victim = NULL;
	_cleanup_close_ int base = -1;
	_cleanup_close_ int root = -1;
	_cleanup_close_ int upper = -1;
	struct stat st;
	bool setup;

	if (!tap_ok(dir != NULL, "resolver: temporary directory"))
		return;
	base = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* A host path that an escaping resolution of the root's "/hostdir" -> "/tmp" link would
	 * create. */
	if (asprintf(&host_victim, "plate-sandbox-victim-%d", (int)getpid()) < 0)
		host_victim = NULL;
	setup = base >= 0 && mkdirat(base, "root", 0755) == 0 &&
		mkdirat(base, "upper", 0755) == 0 &&
		(root = openat(base, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0 &&
		(upper = openat(base, "upper", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0 &&
		mkdirat(root, "etc", 0755) == 0 && mkfile(root, "etc/passwd") == 0 &&
		mkfile(root, "file") == 0 &&
		symlinkat("../run/resolv.conf", root, "etc/resolv.conf") == 0 &&
		symlinkat("/etc", root, "abs") == 0 && symlinkat("../../../..", root, "up") == 0 &&
		symlinkat("/tmp", root, "hostdir") == 0 && symlinkat("loop2", root, "loop1") == 0 &&
		symlinkat("loop1", root, "loop2") == 0 && symlinkat("file", root, "tofile") == 0;
	if (!tap_ok(setup, "resolver: test tree"))
		return;

	tap_streq(resolve(root, -1, "/", 0), "|", "root resolves to the empty path");
	tap_streq(resolve(root, -1, "/./etc/../etc//passwd", 0), "etc/passwd|",
		  ". and .. are lexical");
	tap_streq(resolve(root, -1, "/../../etc", 0), "etc|", ".. stops at the root");
	tap_streq(resolve(root, -1, "/abs/passwd", 0), "etc/passwd|",
		  "absolute symlink restarts at the root");
	tap_streq(resolve(root, -1, "/up/etc", 0), "etc|", "relative symlink cannot climb out");
	tap_streq(resolve(root, -1, "/tofile", 0), "file|", "final symlink is followed");
	tap_streq(resolve(root, -1, "/nope/x", 0), "-ENOENT|", "missing component without create");
	tap_streq(resolve(root, -1, "/file/x", SANDBOX_RESOLVE_CREATE_DIR), "-ENOTDIR|",
		  "file in the middle of a path");
	tap_streq(resolve(root, -1, "/loop1", 0), "-ELOOP|", "symlink loop");

	if (host_victim != NULL) {
		char path[256], want[512], host[256];

		snprintf(path, sizeof(path), "/hostdir/%s", host_victim);
		snprintf(want, sizeof(want), "tmp/%s|d tmp;f tmp/%s;", host_victim, host_victim);
		snprintf(host, sizeof(host), "/tmp/%s", host_victim);
		tap_streq(resolve(root, -1, path, SANDBOX_RESOLVE_CREATE_FILE), want,
			  "symlink to a host path is taken inside the root");
		tap_ok(lstat(host, &st) < 0 && errno == ENOENT,
		       "nothing was created outside the root");
		tap_ok(fstatat(root, "hostdir", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			       S_ISLNK(st.st_mode),
		       "the root's symlink is left alone");
	}

	tap_streq(resolve(root, -1, "/etc/resolv.conf", SANDBOX_RESOLVE_CREATE_FILE),
		  "run/resolv.conf|d run;f run/resolv.conf;",
		  "dangling symlink target created as stubs inside the root");
	tap_ok(fstatat(root, "run/resolv.conf", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		       S_ISREG(st.st_mode),
	       "stub file exists");
	tap_streq(resolve(root, -1, "/etc/resolv.conf", SANDBOX_RESOLVE_CREATE_FILE),
		  "run/resolv.conf|", "existing target: nothing created");
	tap_streq(resolve(root, -1, "/a/b/c", SANDBOX_RESOLVE_CREATE_DIR),
		  "a/b/c|d a;d a/b;d a/b/c;", "missing directories created in order");
	tap_ok(fstatat(root, "a/b/c", &st, 0) == 0 && S_ISDIR(st.st_mode) &&
		       (st.st_mode & 07777) == 0755,
	       "stub directory mode 0755");

	/* Overlay: creating under a directory that only a lower layer has makes overlayfs copy
	 * it up; the resolver reports it so the parent can remove it again if still empty. */
	tap_streq(resolve(root, upper, "/etc/hosts", SANDBOX_RESOLVE_CREATE_FILE),
		  "etc/hosts|c etc;f etc/hosts;", "copy-up of the parent is reported");
	mkdirat(upper, "etc", 0755);
	tap_streq(resolve(root, upper, "/etc/hostname", SANDBOX_RESOLVE_CREATE_FILE),
		  "etc/hostname|f etc/hostname;", "parent already in upper: no copy-up");

	{
		struct notes n = { .text = "" };
		struct sandbox_stub_sink sink = { .upperfd = -1, .note = collect, .data = &n };
		char out[PATH_MAX];

		fstat(root, &st);
		sink.root_dev = st.st_dev + 1;
		tap_ok(sandbox_resolve(root, "/other/x", SANDBOX_RESOLVE_CREATE_FILE, out,
				       sizeof(out), &sink) == 0 &&
			       n.text[0] == '\0',
		       "stubs on another filesystem are not reported");
		tap_ok(sandbox_resolve(root, "/x", SANDBOX_RESOLVE_CREATE_FILE, out, sizeof(out),
				       NULL) == -EINVAL,
		       "create without a sink is refused");
		tap_ok(sandbox_resolve(root, "/etc/passwd", 0, out, 5, NULL) == -ENAMETOOLONG,
		       "result longer than the buffer");
	}

	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0 && system(cmd) != 0)
		tap_diag("could not remove %s", dir);
}

/* chroot isolation: a directory root, the caller's network, no mounts, no /etc files. */
static void test_isolation(void)
{
	static const struct sandbox_mount m = { .type = SANDBOX_MOUNT_TMPFS, .target = "/t" };
	struct sandbox_spec s;

	base_spec(&s);
	s.isolation = SANDBOX_ISOLATION_CHROOT;
	s.network = SANDBOX_NET_HOST;
	check("chroot: directory root, host network", &s, NULL, 0);
	overlay_spec(&s);
	s.isolation = SANDBOX_ISOLATION_CHROOT;
	s.network = SANDBOX_NET_HOST;
	check("chroot: overlay root", &s, "chroot isolation needs a directory root", EINVAL);
	base_spec(&s);
	s.isolation = SANDBOX_ISOLATION_CHROOT;
	check("chroot: network none", &s, "no network namespace: the network must be host", EINVAL);
	s.network = SANDBOX_NET_PRIVATE;
	check("chroot: private network", &s, "no network namespace", EINVAL);
	s.network = SANDBOX_NET_HOST;
	s.mounts = &m;
	s.n_mounts = 1;
	check("chroot: a mount", &s, "chroot isolation mounts nothing", EINVAL);
	s.n_mounts = 0;
	s.etc_files = SANDBOX_ETC_HOSTS;
	check("chroot: /etc files", &s, "chroot isolation mounts nothing", EINVAL);
	base_spec(&s);
	s.isolation = (enum sandbox_isolation)7;
	check("unknown isolation", &s, "unknown isolation 7", EINVAL);
	tap_ok(strcmp(sandbox_isolation_name(SANDBOX_ISOLATION_NAMESPACES), "namespaces") == 0 &&
		       strcmp(sandbox_isolation_name(SANDBOX_ISOLATION_CHROOT), "chroot") == 0,
	       "isolation names");
}

int main(void)
{
	test_defaults();
	test_rootfs();
	test_isolation();
	test_long_path();
	test_mounts();
	test_process();
	test_host_settings();
	test_hosts_file();
	test_private_resolv_conf();
	test_resolve();
	return tap_done();
}
