/* The sandbox spec: defaults, the pure validator, the generated /etc/hosts. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "sandbox/sandbox.h"

void sandbox_spec_init(struct sandbox_spec *spec)
{
	*spec = (struct sandbox_spec){
		.rootfs_mode = SANDBOX_ROOTFS_DIR,
		.network = SANDBOX_NET_NONE,
		.cwd = "/",
		.stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = -1,
		.cancel_fd = -1,
	};
}

/* Absolute, at most PATH_MAX - 1 bytes, and no ".." component: a path that cannot climb
 * out of whatever it is resolved against, checked before any syscall sees it. */
static int check_path(const char *what, const char *path, struct plate_error **err)
{
	const char *p;

	if (path == NULL)
		return plate_err_new(err, EINVAL, "%s is missing", what);
	if (path[0] != '/')
		return plate_err_new(err, EINVAL, "%s '%s' is not an absolute path", what, path);
	if (strlen(path) >= PATH_MAX)
		return plate_err_new(err, ENAMETOOLONG, "%s '%.64s…' is too long", what, path);
	for (p = path; *p != '\0';) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return plate_err_new(err, EINVAL, "%s '%s' contains '..'", what, path);
		p += n;
	}
	return 0;
}

static bool is_root_path(const char *path)
{
	return strspn(path, "/.") == strlen(path);
}

/* Hostnames as sethostname(2) stores them (at most 64 bytes) restricted to the characters
 * of RFC 1123 labels plus '_', which Docker also accepts. */
static int check_hostname(const char *name, struct plate_error **err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return plate_err_new(err, EINVAL, "hostname '%s' must be 1 to 64 characters", name);
	if (name[0] == '-' || name[0] == '.')
		return plate_err_new(err, EINVAL, "hostname '%s' must start with a letter or digit",
				     name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return plate_err_new(err, EINVAL, "hostname '%s' contains '%c'", name, c);
	}
	return 0;
}

static int check_env(const struct sandbox_spec *spec, struct plate_error **err)
{
	if (spec->n_env > SANDBOX_MAX_ENV)
		return plate_err_new(err, E2BIG, "too many env entries (%zu, at most %d)",
				     spec->n_env, SANDBOX_MAX_ENV);
	if (spec->n_env > 0 && spec->env == NULL)
		return plate_err_new(err, EINVAL, "env is missing");
	for (size_t i = 0; i < spec->n_env; i++) {
		const char *e = spec->env[i];
		const char *eq;

		if (e == NULL)
			return plate_err_new(err, EINVAL, "env entry %zu is missing", i);
		eq = strchr(e, '=');
		if (eq == NULL)
			return plate_err_new(err, EINVAL, "env entry '%s' has no '='", e);
		if (eq == e)
			return plate_err_new(err, EINVAL, "env entry '%s' has an empty name", e);
		/* Duplicates would make "the env exactly as given" ambiguous: libc lookups take
		 * the first, shells the last.  The engine merges, so a duplicate is its bug. */
		for (size_t j = 0; j < i; j++) {
			if (strncmp(spec->env[j], e, (size_t)(eq - e) + 1) == 0)
				return plate_err_new(err, EINVAL, "env name '%.*s' appears twice",
						     (int)(eq - e), e);
		}
	}
	return 0;
}

static int check_rootfs(const struct sandbox_spec *spec, struct plate_error **err)
{
	switch (spec->rootfs_mode) {
	case SANDBOX_ROOTFS_DIR:
		if (spec->n_lowerdirs > 0 || spec->upperdir != NULL || spec->workdir != NULL)
			return plate_err_new(err, EINVAL,
					     "lowerdirs, upperdir and workdir need an overlay "
					     "root");
		return check_path("rootfs", spec->rootfs, err);
	case SANDBOX_ROOTFS_OVERLAY:
		if (spec->rootfs != NULL)
			return plate_err_new(err, EINVAL, "rootfs '%s' given for an overlay root",
					     spec->rootfs);
		if (spec->n_lowerdirs == 0 || spec->lowerdirs == NULL)
			return plate_err_new(err, EINVAL, "an overlay root needs a lowerdir");
		if (spec->n_lowerdirs > SANDBOX_MAX_LOWERDIRS)
			return plate_err_new(err, E2BIG, "too many lowerdirs (%zu, at most %d)",
					     spec->n_lowerdirs, SANDBOX_MAX_LOWERDIRS);
		for (size_t i = 0; i < spec->n_lowerdirs; i++) {
			if (check_path("lowerdir", spec->lowerdirs[i], err) < 0)
				return -1;
		}
		if (check_path("upperdir", spec->upperdir, err) < 0 ||
		    check_path("workdir", spec->workdir, err) < 0)
			return -1;
		if (strcmp(spec->upperdir, spec->workdir) == 0)
			return plate_err_new(err, EINVAL, "upperdir and workdir are both '%s'",
					     spec->upperdir);
		return 0;
	default:
		return plate_err_new(err, EINVAL, "unknown rootfs mode %d", (int)spec->rootfs_mode);
	}
}

/* chroot isolation has no mount namespace to put a root, a mount or a file over the
 * image's, and no network namespace to make. */
static int check_isolation(const struct sandbox_spec *spec, struct plate_error **err)
{
	switch (spec->isolation) {
	case SANDBOX_ISOLATION_NAMESPACES:
		return 0;
	case SANDBOX_ISOLATION_CHROOT:
		if (spec->rootfs_mode != SANDBOX_ROOTFS_DIR)
			return plate_err_new(err, EINVAL,
					     "chroot isolation needs a directory root");
		if (spec->network != SANDBOX_NET_HOST)
			return plate_err_new(err, EINVAL,
					     "chroot isolation has no network namespace: the "
					     "network must be host");
		if (spec->n_mounts > 0 || spec->etc_files != 0)
			return plate_err_new(err, EINVAL, "chroot isolation mounts nothing");
		return 0;
	default:
		return plate_err_new(err, EINVAL, "unknown isolation %d", (int)spec->isolation);
	}
}

static int check_mount(const struct sandbox_mount *m, struct plate_error **err)
{
	if (check_path("mount target", m->target, err) < 0)
		return -1;
	if (is_root_path(m->target))
		return plate_err_new(err, EINVAL, "mount target '%s' is the root", m->target);
	if ((m->flags & ~(unsigned)SANDBOX_MOUNT_READONLY) != 0)
		return plate_err_new(err, EINVAL, "mount on '%s' has unknown flags 0x%x", m->target,
				     m->flags);
	switch (m->type) {
	case SANDBOX_MOUNT_BIND:
		if (m->tmpfs_size != 0)
			return plate_err_new(err, EINVAL, "bind mount on '%s' has a tmpfs size",
					     m->target);
		return check_path("bind source", m->source, err);
	case SANDBOX_MOUNT_TMPFS:
		if (m->source != NULL)
			return plate_err_new(err, EINVAL, "tmpfs on '%s' has a source '%s'",
					     m->target, m->source);
		return 0;
	default:
		return plate_err_new(err, EINVAL, "mount on '%s' has unknown type %d", m->target,
				     (int)m->type);
	}
}

static int check_process(const struct sandbox_spec *spec, struct plate_error **err)
{
	if (spec->n_argv == 0 || spec->argv == NULL)
		return plate_err_new(err, EINVAL, "argv is empty");
	if (spec->n_argv > SANDBOX_MAX_ARGV)
		return plate_err_new(err, E2BIG, "too many arguments (%zu, at most %d)",
				     spec->n_argv, SANDBOX_MAX_ARGV);
	for (size_t i = 0; i < spec->n_argv; i++) {
		if (spec->argv[i] == NULL)
			return plate_err_new(err, EINVAL, "argv[%zu] is missing", i);
	}
	if (spec->argv[0][0] == '\0')
		return plate_err_new(err, EINVAL, "argv[0] is empty");
	if (check_env(spec, err) < 0)
		return -1;
	if (check_path("cwd", spec->cwd, err) < 0)
		return -1;
	/* (uid_t)-1 means "leave unchanged" to setresuid(2), not a user. */
	if (spec->uid == (uid_t)-1 || spec->gid == (gid_t)-1)
		return plate_err_new(err, EINVAL, "uid or gid is -1");
	if (spec->n_groups > SANDBOX_MAX_GROUPS)
		return plate_err_new(err, E2BIG, "too many groups (%zu, at most %d)",
				     spec->n_groups, SANDBOX_MAX_GROUPS);
	if (spec->n_groups > 0 && spec->groups == NULL)
		return plate_err_new(err, EINVAL, "groups are missing");
	for (size_t i = 0; i < spec->n_groups; i++) {
		if (spec->groups[i] == (gid_t)-1)
			return plate_err_new(err, EINVAL, "group -1 is not a group");
	}
	if (spec->stdin_fd < -1 || spec->stdout_fd < -1 || spec->stderr_fd < -1 ||
	    spec->cancel_fd < -1)
		return plate_err_new(err, EBADF, "a file descriptor is below -1");
	return 0;
}

int sandbox_spec_validate(const struct sandbox_spec *spec, struct plate_error **err)
{
	if (check_rootfs(spec, err) < 0)
		return -1;
	if (check_path("tmpdir", spec->tmpdir, err) < 0)
		return -1;
	if (spec->n_mounts > SANDBOX_MAX_MOUNTS)
		return plate_err_new(err, E2BIG, "too many mounts (%zu, at most %d)",
				     spec->n_mounts, SANDBOX_MAX_MOUNTS);
	if (spec->n_mounts > 0 && spec->mounts == NULL)
		return plate_err_new(err, EINVAL, "mounts are missing");
	for (size_t i = 0; i < spec->n_mounts; i++) {
		if (check_mount(&spec->mounts[i], err) < 0)
			return -1;
	}
	if (check_process(spec, err) < 0)
		return -1;
	if (spec->hostname != NULL && check_hostname(spec->hostname, err) < 0)
		return -1;
	switch (spec->network) {
	case SANDBOX_NET_NONE:
	case SANDBOX_NET_HOST:
		break;
	case SANDBOX_NET_PRIVATE:
		if (spec->net_helper != NULL && check_path("net_helper", spec->net_helper, err) < 0)
			return -1;
		break;
	default:
		return plate_err_new(err, EINVAL, "unknown network mode %d", (int)spec->network);
	}
	if (check_isolation(spec, err) < 0)
		return -1;
	if ((spec->etc_files &
	     ~(unsigned)(SANDBOX_ETC_RESOLV_CONF | SANDBOX_ETC_HOSTS | SANDBOX_ETC_HOSTNAME)) != 0)
		return plate_err_new(err, EINVAL, "unknown etc file flags 0x%x", spec->etc_files);
	if (spec->resolv_conf != NULL && strlen(spec->resolv_conf) > SANDBOX_MAX_RESOLV_CONF)
		return plate_err_new(err, E2BIG, "resolv.conf contents are too large");
	return 0;
}

/* "nameserver ADDR" with ADDR an IPv4 address outside 127.0.0.0/8: one the NAT reaches.
 * Anything else (IPv6, loopback, malformed) is left to the forwarder. */
static bool routable_ipv4(const char *addr, size_t len)
{
	unsigned parts = 0, value = 0, digits = 0, first = 0;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? addr[i] : '.';

		if (c >= '0' && c <= '9' && digits < 3) {
			value = value * 10 + (unsigned)(c - '0');
			digits++;
		} else if (c == '.' && digits > 0 && value <= 255 && parts < 4) {
			if (parts++ == 0)
				first = value;
			value = digits = 0;
		} else {
			return false;
		}
	}
	return parts == 4 && first != 127 && first != 0;
}

int sandbox_private_resolv_conf(const char *host, struct buf *out)
{
	unsigned servers = 1;

	if (buf_addf(out, "nameserver %s\n", SANDBOX_PRIVATE_DNS) < 0)
		return -1;
	for (const char *line = host != NULL ? host : ""; *line != '\0';) {
		size_t len = strcspn(line, "\n");
		const char *p = line + strspn(line, " \t");

		if (strncmp(p, "nameserver", 10) == 0 && (p[10] == ' ' || p[10] == '\t')) {
			const char *addr = p + 10 + strspn(p + 10, " \t");
			size_t alen = strcspn(addr, " \t\n#;");

			if (servers < SANDBOX_MAX_NAMESERVERS && routable_ipv4(addr, alen)) {
				if (buf_addf(out, "nameserver %.*s\n", (int)alen, addr) < 0)
					return -1;
				servers++;
			}
		} else if (buf_add(out, line, len) < 0 || buf_addch(out, '\n') < 0) {
			return -1;
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	return 0;
}

int sandbox_hosts_file(const char *hostname, struct buf *out)
{
	/* The shape BuildKit gives RUN steps: no container address to name, so the hostname
	 * resolves to loopback, which is also what `hostname -i` expects to find. */
	return buf_addf(out, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
			hostname != NULL ? hostname : SANDBOX_DEFAULT_HOSTNAME);
}
