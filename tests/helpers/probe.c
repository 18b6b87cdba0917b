/*
 * probe — a static multi-call program that reports what a sandboxed command sees
 * (HOUSE_STYLE rule 18).  Copied alone into test roots and `FROM scratch` test images, so
 * tests need no distribution base image.  Linked -static, without libplate.
 *
 *   probe CMD [ARGS] [, CMD [ARGS]]...     (or invoked through a link named CMD)
 *
 *   hostname            the hostname
 *   id                  "uid=U gid=G groups=A,B" (supplementary groups, ascending)
 *   cwd                 the working directory
 *   env                 each environment entry on its own line, in order
 *   mounts              "MOUNTPOINT FSTYPE" per line from /proc/self/mountinfo
 *   mode PATH           permission bits of PATH (lstat), as "%04o"
 *   type PATH           file|dir|symlink|fifo|socket|char MAJ:MIN|block MAJ:MIN
 *   owner PATH          "UID:GID" (lstat)
 *   readlink PATH       the link target
 *   exists PATH         prints "yes" (exit 0) or "no" (exit 1)
 *   cat PATH            the file's contents
 *   head PATH N         the first N bytes of PATH in hex
 *   write PATH TEXT     creates or truncates PATH with TEXT (mode 0644)
 *   rm PATH             unlinks PATH (rmdir for a directory)
 *   mkdir PATH          creates a directory (mode 0755)
 *   rename OLD NEW      rename(2)
 *   ls DIR              entry names, sorted, one per line
 *   caps                "CapEff=…" and "CapBnd=…" from /proc/self/status
 *   nonewprivs          the NoNewPrivs value from /proc/self/status
 *   seccomp             the Seccomp value from /proc/self/status (0 none, 2 filter)
 *   euid                geteuid()
 *   unshare             unshare(CLONE_NEWUSER), then unshare(CLONE_NEWNS): "ok" or fails
 *   chroot DIR          chroot(DIR) (the first step of walking out of a chroot): "ok" or fails
 *   mknod PATH MAJ MIN  creates a character device node (mode 0666)
 *   open PATH           opens PATH read-write (read-only for a directory): "opened"
 *   exec PATH ARGS...   execv(PATH, [PATH, ARGS...]) (the rest of the line is its argv)
 *   addkey RING DESC DATA  add_key("user", DESC, DATA) to RING (@s, @u, @us): its id
 *   readkey ID          the payload of key ID (KEYCTL_READ)
 *   findkey RING DESC   searches RING for the user key DESC: its id, or fails
 *   delkey ID           invalidates key ID
 *   pid | ppid          getpid() | getppid()
 *   netdevs             network interface names from /proc/net/dev, one per line
 *   connect ADDR PORT   TCP connect to an IPv4 address (1 s timeout): "connected" (exit 0)
 *                       or "failed: <error>" (exit 1)
 *   http ADDR PORT PATH GET http://ADDR:PORT/PATH (HTTP/1.0, 3 s timeout): the body
 *   abstract NAME       connect to the abstract UNIX stream socket "@NAME": "connected"
 *                       (exit 0) or "failed: <error>" (exit 1)
 *   sniff SECONDS TEXT  an AF_PACKET socket on every interface for SECONDS: "packets=N
 *                       marked=M", M the packets whose bytes contain TEXT
 *   orphan              makes an orphan that exits, then prints "reaped" once pid 1
 *                       reaped it or "zombie" if it stays a zombie
 *   exit N              exits with status N
 *   signal N            kills itself with signal N
 *   sleep N             sleeps N seconds (fractions allowed)
 *   started             CLOCK_REALTIME in nanoseconds as read first thing in main(): when
 *                       the process began running its own code (bench/bench_inner.sh's
 *                       start latency of `plate run` and `docker run`)
 *
 * Exit status: that of the last command; 2 for usage errors, 1 when a command fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static struct timespec started;

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "probe: %s '%s': %s\n", what, arg, strerror(errno));
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return (x > y) - (x < y);
}

static int cmd_id(void)
{
	gid_t groups[1024];
	int n = getgroups(1024, groups);

	if (n < 0)
		return fail("getgroups", "");
	qsort(groups, (size_t)n, sizeof(gid_t), cmp_gid);
	printf("uid=%u gid=%u groups=", (unsigned)getuid(), (unsigned)getgid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i > 0 ? "," : "", (unsigned)groups[i]);
	putchar('\n');
	return 0;
}

/* mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
static int cmd_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];

	if (f == NULL)
		return fail("open", "/proc/self/mountinfo");
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[8], *save = NULL, *dash = strstr(line, " - ");
		int n = 0;

		if (dash == NULL)
			continue;
		for (char *t = strtok_r(line, " ", &save); t != NULL && n < 5;
		     t = strtok_r(NULL, " ", &save))
			fields[n++] = t;
		if (n < 5)
			continue;
		fields[5] = strtok_r(dash + 3, " ", &save);
		if (fields[5] != NULL)
			printf("%s %s\n", fields[4], fields[5]);
	}
	fclose(f);
	return 0;
}

static int cmd_type(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return fail("lstat", path);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		puts("file");
		break;
	case S_IFDIR:
		puts("dir");
		break;
	case S_IFLNK:
		puts("symlink");
		break;
	case S_IFIFO:
		puts("fifo");
		break;
	case S_IFSOCK:
		puts("socket");
		break;
	case S_IFCHR:
		printf("char %u:%u\n", major(st.st_rdev), minor(st.st_rdev));
		break;
	case S_IFBLK:
		printf("block %u:%u\n", major(st.st_rdev), minor(st.st_rdev));
		break;
	default:
		puts("unknown");
		break;
	}
	return 0;
}

static int cmd_cat(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("open", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return n < 0 ? fail("read", path) : 0;
}

static int cmd_head(const char *path, const char *count)
{
	unsigned char buf[4096];
	size_t want = strtoul(count, NULL, 10), got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", path);
	if (want > sizeof(buf))
		want = sizeof(buf);
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	for (size_t i = 0; i < got; i++)
		printf("%02x", buf[i]);
	putchar('\n');
	return got == want ? 0 : 1;
}

static int cmd_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t len = strlen(text);

	if (fd < 0)
		return fail("open", path);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return fail("write", path);
	}
	return close(fd) < 0 ? fail("close", path) : 0;
}

static int cmd_ls(const char *path)
{
	DIR *d = opendir(path);
	char *names[4096];
	size_t n = 0;
	struct dirent *e;

	if (d == NULL)
		return fail("opendir", path);
	while ((e = readdir(d)) != NULL && n < 4096) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		puts(names[i]);
		free(names[i]);
	}
	return 0;
}

/* Prints the value of "KEY:\t..." lines of /proc/self/status for each key in keys. */
static int status_fields(const char *const *keys, size_t n, bool with_name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[512];

	if (f == NULL)
		return fail("open", "/proc/self/status");
	while (fgets(line, sizeof(line), f) != NULL) {
		for (size_t i = 0; i < n; i++) {
			size_t k = strlen(keys[i]);
			if (strncmp(line, keys[i], k) == 0 && line[k] == ':') {
				char *v = line + k + 1;
				v += strspn(v, " \t");
				if (with_name)
					printf("%s=%s", keys[i], v);
				else
					fputs(v, stdout);
			}
		}
	}
	fclose(f);
	return 0;
}

static int cmd_netdevs(void)
{
	FILE *f = fopen("/proc/net/dev", "r");
	char line[512];
	int n = 0;

	if (f == NULL)
		return fail("open", "/proc/net/dev");
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		char *name = line + strspn(line, " ");

		/* The first two lines are headers without a "name:" field. */
		if (n++ < 2 || colon == NULL)
			continue;
		*colon = '\0';
		puts(name);
	}
	fclose(f);
	return 0;
}

/* ---- network attacks: what the host's network leaks into the sandbox ---- */

/* A connected TCP socket to addr:port within timeout_ms, or -1 with errno. */
static int tcp_connect(const char *addr, const char *port, int timeout_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, e = 0;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		goto connected;
	if (errno != EINPROGRESS)
		goto fail;
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e != 0) {
		errno = e != 0 ? e : errno;
		goto fail;
	}
connected:
	fcntl(fd, F_SETFL, 0);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int cmd_connect(const char *addr, const char *port)
{
	int fd = tcp_connect(addr, port, 1000);

	if (fd < 0) {
		printf("failed: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	puts("connected");
	return 0;
}

static int cmd_http(const char *addr, const char *port, const char *path)
{
	static char resp[1 << 20];
	struct timeval tv = { .tv_sec = 3 };
	size_t got = 0;
	ssize_t n;
	char *body;
	int fd = tcp_connect(addr, port, 3000);

	if (fd < 0)
		return fail("connect", addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	dprintf(fd, "GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr);
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	resp[got] = '\0';
	body = strstr(resp, "\r\n\r\n");
	if (strncmp(resp, "HTTP/1.", 7) != 0 || strncmp(resp + 8, " 200", 4) != 0 || body == NULL) {
		fprintf(stderr, "probe: http: unexpected response '%.40s'\n", resp);
		return 1;
	}
	fputs(body + 4, stdout);
	return 0;
}

static int cmd_abstract(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd;

	if (len + 1 > sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return fail("abstract", name);
	}
	memcpy(sun.sun_path + 1, name, len); /* sun_path[0] == '\0': the abstract namespace */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket", "AF_UNIX");
	if (connect(fd, (struct sockaddr *)&sun,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0) {
		printf("failed: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	puts("connected");
	return 0;
}

static int cmd_sniff(const char *seconds, const char *marker)
{
	static unsigned char frame[65536];
	struct timespec now, end;
	size_t mlen = strlen(marker);
	unsigned long packets = 0, marked = 0;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return fail("socket", "AF_PACKET");
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(seconds);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, frame, sizeof(frame), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		packets++;
		if (mlen > 0 && memmem(frame, (size_t)n, marker, mlen) != NULL)
			marked++;
	}
	close(fd);
	printf("packets=%lu marked=%lu\n", packets, marked);
	return 0;
}

static int cmd_orphan(void)
{
	int p[2];
	pid_t child, grandchild = 0;
	char path[64];
	struct stat st;

	if (pipe(p) < 0)
		return fail("pipe", "");
	child = fork();
	if (child < 0)
		return fail("fork", "");
	if (child == 0) {
		pid_t g = fork();
		if (g == 0) {
			usleep(50000);
			_exit(0);
		}
		if (write(p[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
		return fail("read", "pipe");
	waitpid(child, NULL, 0);
	/* The grandchild is now pid 1's; once it exits only pid 1 can reap it. */
	snprintf(path, sizeof(path), "/proc/%d", (int)grandchild);
	for (int i = 0; i < 200; i++) {
		if (stat(path, &st) < 0) {
			puts("reaped");
			return 0;
		}
		usleep(10000);
	}
	puts("zombie");
	return 1;
}

/* Keyring names as keyctl(1) spells them; the values of <linux/keyctl.h>. */
static long keyring_id(const char *name)
{
	if (strcmp(name, "@s") == 0)
		return -3; /* KEY_SPEC_SESSION_KEYRING */
	if (strcmp(name, "@u") == 0)
		return -4; /* KEY_SPEC_USER_KEYRING */
	if (strcmp(name, "@us") == 0)
		return -5; /* KEY_SPEC_USER_SESSION_KEYRING */
	return strtol(name, NULL, 10);
}

enum {
	KEYCTL_SEARCH_ = 10,
	KEYCTL_READ_ = 11,
	KEYCTL_INVALIDATE_ = 21
};

static int cmd_key(int argc, char **argv)
{
	const char *cmd = argv[0];
	char buf[4096];
	long r;

	if (strcmp(cmd, "addkey") == 0 && argc == 4) {
		r = syscall(SYS_add_key, "user", argv[2], argv[3], strlen(argv[3]),
			    keyring_id(argv[1]));
	} else if (strcmp(cmd, "readkey") == 0 && argc == 2) {
		r = syscall(SYS_keyctl, KEYCTL_READ_, strtol(argv[1], NULL, 10), buf,
			    sizeof(buf) - 1);
		if (r >= 0) {
			buf[r < (long)sizeof(buf) ? r : (long)sizeof(buf) - 1] = '\0';
			puts(buf);
			return 0;
		}
	} else if (strcmp(cmd, "findkey") == 0 && argc == 3) {
		r = syscall(SYS_keyctl, KEYCTL_SEARCH_, keyring_id(argv[1]), "user", argv[2], 0);
	} else if (strcmp(cmd, "delkey") == 0 && argc == 2) {
		r = syscall(SYS_keyctl, KEYCTL_INVALIDATE_, strtol(argv[1], NULL, 10));
		if (r == 0)
			return 0;
	} else {
		fprintf(stderr, "probe: wrong arguments for '%s'\n", cmd);
		return 2;
	}
	if (r < 0)
		return fail(cmd, argv[1]);
	printf("%ld\n", r);
	return 0;
}

static int cmd_sleep(const char *arg)
{
	double s = strtod(arg, NULL);
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

/* Runs one command of argc arguments (argv[0] is its name). */
static int run(int argc, char **argv)
{
	const char *cmd = argv[0];
	struct stat st;
	char buf[PATH_MAX];

#define NEED(n)                                                                          \
	do {                                                                             \
		if (argc != (n) + 1) {                                                   \
			fprintf(stderr, "probe: '%s' takes %d argument(s)\n", cmd, (n)); \
			return 2;                                                        \
		}                                                                        \
	} while (0)

	if (strcmp(cmd, "hostname") == 0) {
		NEED(0);
		if (gethostname(buf, sizeof(buf)) < 0)
			return fail("gethostname", "");
		puts(buf);
		return 0;
	}
	if (strcmp(cmd, "id") == 0) {
		NEED(0);
		return cmd_id();
	}
	if (strcmp(cmd, "cwd") == 0) {
		NEED(0);
		if (getcwd(buf, sizeof(buf)) == NULL)
			return fail("getcwd", "");
		puts(buf);
		return 0;
	}
	if (strcmp(cmd, "env") == 0) {
		NEED(0);
		for (char **e = environ; *e != NULL; e++)
			puts(*e);
		return 0;
	}
	if (strcmp(cmd, "mounts") == 0) {
		NEED(0);
		return cmd_mounts();
	}
	if (strcmp(cmd, "mode") == 0) {
		NEED(1);
		if (lstat(argv[1], &st) < 0)
			return fail("lstat", argv[1]);
		printf("%04o\n", (unsigned)(st.st_mode & 07777));
		return 0;
	}
	if (strcmp(cmd, "type") == 0) {
		NEED(1);
		return cmd_type(argv[1]);
	}
	if (strcmp(cmd, "owner") == 0) {
		NEED(1);
		if (lstat(argv[1], &st) < 0)
			return fail("lstat", argv[1]);
		printf("%u:%u\n", (unsigned)st.st_uid, (unsigned)st.st_gid);
		return 0;
	}
	if (strcmp(cmd, "readlink") == 0) {
		ssize_t n;
		NEED(1);
		n = readlink(argv[1], buf, sizeof(buf) - 1);
		if (n < 0)
			return fail("readlink", argv[1]);
		buf[n] = '\0';
		puts(buf);
		return 0;
	}
	if (strcmp(cmd, "exists") == 0) {
		NEED(1);
		bool yes = lstat(argv[1], &st) == 0;
		puts(yes ? "yes" : "no");
		return yes ? 0 : 1;
	}
	if (strcmp(cmd, "cat") == 0) {
		NEED(1);
		return cmd_cat(argv[1]);
	}
	if (strcmp(cmd, "head") == 0) {
		NEED(2);
		return cmd_head(argv[1], argv[2]);
	}
	if (strcmp(cmd, "write") == 0) {
		NEED(2);
		return cmd_write(argv[1], argv[2]);
	}
	if (strcmp(cmd, "rm") == 0) {
		NEED(1);
		if (lstat(argv[1], &st) == 0 && S_ISDIR(st.st_mode))
			return rmdir(argv[1]) < 0 ? fail("rmdir", argv[1]) : 0;
		return unlink(argv[1]) < 0 ? fail("unlink", argv[1]) : 0;
	}
	if (strcmp(cmd, "mkdir") == 0) {
		NEED(1);
		return mkdir(argv[1], 0755) < 0 ? fail("mkdir", argv[1]) : 0;
	}
	if (strcmp(cmd, "rename") == 0) {
		NEED(2);
		return rename(argv[1], argv[2]) < 0 ? fail("rename", argv[1]) : 0;
	}
	if (strcmp(cmd, "ls") == 0) {
		NEED(1);
		return cmd_ls(argv[1]);
	}
	if (strcmp(cmd, "caps") == 0) {
		static const char *const keys[] = { "CapEff", "CapBnd" };
		NEED(0);
		return status_fields(keys, 2, true);
	}
	if (strcmp(cmd, "nonewprivs") == 0) {
		static const char *const keys[] = { "NoNewPrivs" };
		NEED(0);
		return status_fields(keys, 1, false);
	}
	if (strcmp(cmd, "seccomp") == 0) {
		static const char *const keys[] = { "Seccomp" };
		NEED(0);
		return status_fields(keys, 1, false);
	}
	if (strcmp(cmd, "syscall") == 0) {
		long r;
		NEED(1);
		/* A syscall by number with zero arguments: what the filter answers. */
		r = syscall(strtol(argv[1], NULL, 10), 0, 0, 0, 0, 0, 0);
		if (r < 0)
			return fail("syscall", argv[1]);
		printf("%ld\n", r);
		return 0;
	}
	if (strcmp(cmd, "euid") == 0) {
		NEED(0);
		printf("%u\n", (unsigned)geteuid());
		return 0;
	}
	if (strcmp(cmd, "unshare") == 0) {
		NEED(0);
		if (unshare(CLONE_NEWUSER) < 0)
			return fail("unshare", "CLONE_NEWUSER");
		if (unshare(CLONE_NEWNS) < 0)
			return fail("unshare", "CLONE_NEWNS");
		puts("ok");
		return 0;
	}
	if (strcmp(cmd, "chroot") == 0) {
		NEED(1);
		if (chroot(argv[1]) < 0)
			return fail("chroot", argv[1]);
		puts("ok");
		return 0;
	}
	if (strcmp(cmd, "mknod") == 0) {
		NEED(3);
		if (mknod(argv[1], S_IFCHR | 0666,
			  makedev(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10))) < 0)
			return fail("mknod", argv[1]);
		return 0;
	}
	if (strcmp(cmd, "open") == 0) {
		int fd;
		NEED(1);
		fd = open(argv[1], O_RDWR);
		if (fd < 0 && errno == EISDIR)
			fd = open(argv[1], O_RDONLY);
		if (fd < 0)
			return fail("open", argv[1]);
		close(fd);
		puts("opened");
		return 0;
	}
	if (strcmp(cmd, "exec") == 0) {
		if (argc < 2) {
			fprintf(stderr, "probe: 'exec' takes a path\n");
			return 2;
		}
		fflush(stdout);
		execv(argv[1], argv + 1);
		return fail("exec", argv[1]);
	}
	if (strcmp(cmd, "addkey") == 0 || strcmp(cmd, "readkey") == 0 ||
	    strcmp(cmd, "findkey") == 0 || strcmp(cmd, "delkey") == 0)
		return cmd_key(argc, argv);
	if (strcmp(cmd, "pid") == 0 || strcmp(cmd, "ppid") == 0) {
		NEED(0);
		printf("%d\n", (int)(cmd[0] == 'p' && cmd[1] == 'p' ? getppid() : getpid()));
		return 0;
	}
	if (strcmp(cmd, "netdevs") == 0) {
		NEED(0);
		return cmd_netdevs();
	}
	if (strcmp(cmd, "connect") == 0) {
		NEED(2);
		return cmd_connect(argv[1], argv[2]);
	}
	if (strcmp(cmd, "http") == 0) {
		NEED(3);
		return cmd_http(argv[1], argv[2], argv[3]);
	}
	if (strcmp(cmd, "abstract") == 0) {
		NEED(1);
		return cmd_abstract(argv[1]);
	}
	if (strcmp(cmd, "sniff") == 0) {
		NEED(2);
		return cmd_sniff(argv[1], argv[2]);
	}
	if (strcmp(cmd, "orphan") == 0) {
		NEED(0);
		return cmd_orphan();
	}
	if (strcmp(cmd, "exit") == 0) {
		NEED(1);
		fflush(stdout);
		exit(atoi(argv[1]));
	}
	if (strcmp(cmd, "signal") == 0) {
		NEED(1);
		fflush(stdout);
		signal(atoi(argv[1]), SIG_DFL);
		kill(getpid(), atoi(argv[1]));
		pause();
		return 1;
	}
	if (strcmp(cmd, "sleep") == 0) {
		NEED(1);
		return cmd_sleep(argv[1]);
	}
	if (strcmp(cmd, "started") == 0) {
		NEED(0);
		printf("%lld%09ld\n", (long long)started.tv_sec, started.tv_nsec);
		return 0;
	}
	fprintf(stderr, "probe: unknown command '%s'\n", cmd);
	return 2;
#undef NEED
}

int main(int argc, char **argv)
{
	const char *base;
	int status = 0;

	clock_gettime(CLOCK_REALTIME, &started);
	base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "probe") != 0) {
		/* Called through a link named after the command. */
		return run(argc, argv);
	}
	if (argc < 2) {
		fprintf(stderr, "usage: probe CMD [ARGS] [, CMD [ARGS]]...\n");
		return 2;
	}
	for (int start = 1; start < argc;) {
		int end = start;

		while (end < argc && strcmp(argv[end], ",") != 0)
			end++;
		if (end == start) {
			fprintf(stderr, "probe: empty command\n");
			return 2;
		}
		argv[end < argc ? end : argc] = NULL;
		status = run(end - start, argv + start);
		fflush(stdout);
		start = end + 1;
	}
	return status;
}
