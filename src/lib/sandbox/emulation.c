/*
 * Whether a command of another architecture can run in the sandbox: through a binfmt_misc
 * handler (QEMU's user-mode emulator as Debian's qemu-user-static registers it).  The
 * handler must carry the fix-binary flag (F): the kernel then opened the emulator when it
 * was registered, so an exec inside the sandbox's root, which holds no emulator, still
 * finds it.  A foreign binary under qemu-user makes the host's own system calls (qemu
 * translates them), so the sandbox's native seccomp filter applies unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "sandbox/sandbox.h"

#define BINFMT_DIR "/proc/sys/fs/binfmt_misc"

/* QEMU's name for the machine of an OCI architecture; NULL for one it does not emulate. */
static const char *qemu_machine(const char *arch)
{
	/* clang-format off */
	static const char *const map[][2] = {
		{ "amd64", "x86_64" }, { "arm64", "aarch64" }, { "arm", "arm" },
		{ "386", "i386" },     { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
		{ "riscv64", "riscv64" },
	};
	/* clang-format on */

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], arch) == 0)
			return map[i][1];
	return NULL;
}

/* The architecture part of "os/arch[/variant]" into buf. */
static void arch_of(const char *platform, char *buf, size_t size)
{
	const char *a = strchr(platform, '/');
	size_t n;

	a = a ? a + 1 : platform;
	n = strcspn(a, "/");
	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), a);
}

/* Reads a binfmt_misc entry: enabled, whose interpreter names qemu-<machine> or
 * <machine>-binfmt (Debian's wrapper), and its flags. */
static bool entry_matches(int dirfd, const char *name, const char *machine, bool *fix_binary)
{
	char text[4096], want_q[64], want_d[64];
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	bool enabled = false, ours = false;
	char *save = NULL;

	if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) <= 0)
		return false;
	text[n] = '\0';
	snprintf(want_q, sizeof(want_q), "qemu-%s", machine);
	snprintf(want_d, sizeof(want_d), "/%s-binfmt", machine);
	*fix_binary = false;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "enabled") == 0)
			enabled = true;
		else if (strncmp(line, "interpreter ", 12) == 0) {
			const char *q = strstr(line, want_q);
			/* qemu-arm must not match qemu-armeb. */
			ours = (q != NULL &&
				(q[strlen(want_q)] == '\0' || q[strlen(want_q)] == '-')) ||
			       strstr(line, want_d) != NULL;
		} else if (strncmp(line, "flags: ", 7) == 0)
			*fix_binary = strchr(line + 7, 'F') != NULL;
	}
	return enabled && ours;
}

int sandbox_emulator_check(const char *platform, const char *native, struct plate_error **err)
{
	char arch[32], native_arch[32];
	const char *machine;
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;
	bool without_f = false;

	arch_of(platform, arch, sizeof(arch));
	arch_of(native, native_arch, sizeof(native_arch));
	/* Same architecture (any variant), and i386 on x86-64 through the kernel's compat
	 * mode, run natively. */
	if (strcmp(arch, native_arch) == 0 ||
	    (strcmp(arch, "386") == 0 && strcmp(native_arch, "amd64") == 0))
		return 0;
	machine = qemu_machine(arch);
	if (machine == NULL)
		return plate_err_new(err, ENOEXEC, "no emulator for %s: QEMU does not emulate '%s'",
				     platform, arch);
	dir = opendir(BINFMT_DIR);
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		bool f;
		if (de->d_name[0] == '.' || strcmp(de->d_name, "register") == 0 ||
		    strcmp(de->d_name, "status") == 0)
			continue;
		if (!entry_matches(dirfd(dir), de->d_name, machine, &f))
			continue;
		if (f)
			return 0;
		without_f = true;
	}
	if (without_f)
		return plate_err_new(err, ENOEXEC,
				     "the emulator for %s is registered without the fix-binary "
				     "flag "
				     "(F), so the sandbox cannot reach it: register qemu-%s again "
				     "with flags F (scripts/binfmt.sh)",
				     platform, machine);
	return plate_err_new(err, ENOEXEC,
			     "no emulator for %s registered in " BINFMT_DIR ": install "
			     "qemu-user-static and register qemu-%s with the fix-binary flag "
			     "(scripts/binfmt.sh), or build only for %s",
			     platform, machine, native);
}
