/*
 * The help of every command, in one table: `plate CMD --help`, `plate help CMD`, the man
 * pages (`plate help --man CMD`, made by `make man`) and the bash and zsh completion
 * (`plate help --completion bash|zsh`) are all printed from it, so they cannot disagree.
 * main() also reads the options here to find -h/--help among a command's arguments without
 * mistaking an option's value for it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define OPT_END                            \
	{                                  \
		0, NULL, NULL, false, NULL \
	}

/* The registry options of pull, push, login and build (registry_opts.c). */
#define REGISTRY_OPTIONS                                                                        \
	{ 0, "tls-ca", "FILE", false,                                                           \
	  "trust the CA certificates in FILE besides the system's and SSL_CERT_FILE/_DIR" },    \
		{ 0, "insecure-registry", "HOST", false,                                        \
		  "talk plain HTTP to HOST (repeatable; loopback hosts already are)" },         \
	{                                                                                       \
		0, "secure-registry", "HOST", false, "talk TLS to a loopback HOST (repeatable)" \
	}

/* clang-format off */
static const struct cli_help_option global_options[] = {
	{ 0, "root", "DIR", false, "the store directory (default /var/lib/plate, for a normal "
				   "user ~/.local/share/plate; or PLATE_ROOT)" },
	{ 0, "debug", NULL, false, "print debugging information" },
	{ 0, "max-layer-size", "SIZE", false,
	  "refuse an incoming layer that unpacks to more than SIZE (default 16G, 0: no limit)" },
	{ 0, "max-layer-ratio", "N", false,
	  "refuse an incoming layer that unpacks to more than N times its size (default 100)" },
	{ 0, "max-layer-entries", "N", false,
	  "refuse an incoming layer of more than N files (default 1000000)" },
	{ 0, "version", NULL, false, "print the version" },
	OPT_END,
};
/* clang-format on */

static const struct cli_help_option no_options[] = { OPT_END };

/* clang-format off */
static const struct cli_help_option plan_options[] = {
	{ 'f', "file", "FILE", false,
	  "the Dockerfile (default CONTEXT/Dockerfile; - reads standard input)" },
	{ 0, "target", "STAGE", false, "plan the build of STAGE (default the last stage)" },
	{ 0, "build-arg", "NAME[=VALUE]", false,
	  "set a build argument (repeatable; without a value, from the environment)" },
	{ 0, "platform", "OS/ARCH[/VARIANT]", false, "the target platform (default this machine's)" },
	OPT_END,
};
/* clang-format on */

static const struct cli_help_option build_options[] = {
	{ 't', "tag", "REF", false, "name the image REF (repeatable)" },
	{ 'f', "file", "FILE", false,
	  "the Dockerfile (default CONTEXT/Dockerfile; - reads standard input)" },
	{ 0, "target", "STAGE", false, "build STAGE instead of the last stage" },
	{ 0, "build-arg", "NAME[=VALUE]", false,
	  "set a build argument (repeatable; without a value, from the environment)" },
	{ 0, "platform", "OS/ARCH[,...]", false,
	  "the target platforms (default this machine's); several: one image index" },
	{ 0, "no-cache", NULL, false, "run every step, reusing nothing from the build cache" },
	{ 0, "progress", "MODE", false, "auto, tty, plain, json or quiet (default auto)" },
	{ 'q', "quiet", NULL, false,
	  "print only the image ID, on standard output (standard error when -o ...,dest=- writes "
	  "an archive there)" },
	{ 'o', "output", "type=TYPE[,dest=PATH][,compression=C]", false,
	  "also write the image out: oci, docker, local, image or registry (several platforms: "
	  "oci holds the index, local one PATH/os_arch each, no docker); C: uncompressed "
	  "(default: a push compresses with gzip), gzip or zstd" },
	{ 0, "iidfile", "FILE", false, "write the image ID to FILE" },
	{ 0, "label", "KEY=VALUE", false, "add a label to the image (repeatable)" },
	{ 0, "network", "MODE", false, "RUN's network: default, none or host" },
	{ 0, "isolation", "MODE", false,
	  "auto, namespaces or chroot (where namespaces are refused; also PLATE_ISOLATION)" },
	{ 0, "allow", "ENTITLEMENT", false,
	  "grant network.host or security.insecure to RUN (repeatable)" },
	{ 0, "secret", "id=ID[,src=PATH|,env=VAR]", false,
	  "a secret for RUN --mount=type=secret (repeatable)" },
	{ 0, "pull", "WHEN", true,
	  "pull base images: missing (default), always (a bare --pull) or never" },
	{ 0, "push", NULL, false, "push every -t tag after the build" },
	{ 0, "sbom", NULL, false, "store an SPDX SBOM with the image (one per platform)" },
	{ 0, "check", NULL, false, "only run the Dockerfile checks, build nothing" },
	{ 0, "strict", NULL, false, "exit 3 when a check or the image doctor finds a warning" },
	{ 0, "max-size", "SIZE", false, "exit 3 when the image is larger than SIZE (50M, 1GiB)" },
	{ 0, "cache-to", "SPEC", false,
	  "share the build cache: type=registry,ref=REF[,mode=min|max], type=local,dest=DIR or "
	  "type=inline (repeatable)" },
	{ 0, "cache-from", "SPEC", false,
	  "reuse a shared build cache: type=registry,ref=REF, type=local,src=DIR, or an image "
	  "REF with an inline cache (repeatable, first hit wins)" },
	REGISTRY_OPTIONS,
	OPT_END,
};

/* clang-format off */
static const struct cli_help_option images_options[] = {
	{ 'a', "all", NULL, false, "every image (plate keeps no intermediate images: the same list)" },
	{ 'q', "quiet", NULL, false, "print only the image IDs" },
	{ 0, "no-trunc", NULL, false, "print whole image IDs" },
	{ 0, "digests", NULL, false, "print the digests too" },
	{ 0, "format", "TEMPLATE", false,
	  "a Go template per image ({{.Repository}}, {{.Tag}}, {{.ID}}, {{.Size}}...), "
	  "'table TEMPLATE' or 'json'" },
	OPT_END,
};
/* clang-format on */

/* clang-format off */
static const struct cli_help_option inspect_options[] = {
	{ 'f', "format", "TEMPLATE", false, "a Go template per image ({{.Id}}, {{json .Config}}...)" },
	OPT_END,
};
/* clang-format on */

/* clang-format off */
static const struct cli_help_option history_options[] = {
	{ 'H', "human", "BOOL", true, "sizes and dates for people (default true; -H=false: bytes)" },
	{ 'q', "quiet", NULL, false, "print only the layer IDs" },
	{ 0, "no-trunc", NULL, false, "print whole commands" },
	{ 0, "format", "TEMPLATE", false,
	  "a Go template per step ({{.ID}}, {{.CreatedBy}}, {{.Size}}...), 'table TEMPLATE' or 'json'" },
	OPT_END,
};
/* clang-format on */

static const struct cli_help_option rmi_options[] = {
	{ 'f', "force", NULL, false, "remove an image even when other names share its ID" },
	OPT_END,
};

static const struct cli_help_option prune_options[] = {
	{ 'a', "all", NULL, false, "also remove the build cache and cache mounts" },
	{ 0, "mounts", NULL, false, "remove the RUN --mount=type=cache directories no build uses" },
	OPT_END,
};

static const struct cli_help_option save_options[] = {
	{ 'o', "output", "FILE", false, "write to FILE (default standard output)" },
	{ 0, "format", "FORMAT", false, "docker (default) or oci" },
	OPT_END,
};

static const struct cli_help_option load_options[] = {
	{ 'i', "input", "FILE|DIR", false,
	  "read the archive or OCI layout from FILE|DIR (default standard input)" },
	{ 'q', "quiet", NULL, false, "print nothing but errors" },
	OPT_END,
};

/* clang-format off */
static const struct cli_help_option import_options[] = {
	{ 'c', "change", "INSTRUCTION", false,
	  "apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, ... (repeatable)" },
	{ 'm', "message", "MESSAGE", false, "the history comment" },
	{ 0, "platform", "OS/ARCH[/VARIANT]", false, "the image's platform (default this machine's)" },
	OPT_END,
};
/* clang-format on */

static const struct cli_help_option run_options[] = {
	{ 0, "rm", NULL, false, "accepted for docker compatibility: nothing is kept anyway" },
	{ 'i', "interactive", NULL, false, "keep standard input open" },
	{ 't', "tty", NULL, false, "accepted for docker compatibility" },
	{ 'e', "env", "KEY=VALUE", false, "set an environment variable (repeatable)" },
	{ 0, "network", "MODE", false, "default (private, outbound only), none or host" },
	{ 0, "entrypoint", "CMD", false, "run CMD instead of the image's entrypoint" },
	{ 'u', "user", "USER[:GROUP]", false, "run as USER instead of the image's user" },
	{ 'w', "workdir", "DIR", false, "run in DIR instead of the image's working directory" },
	{ 0, "hostname", "NAME", false, "the container's host name" },
	{ 0, "platform", "OS/ARCH[/VARIANT]", false,
	  "the platform of an index to run (default this machine's; another one under QEMU)" },
	OPT_END,
};

static const struct cli_help_option transfer_options[] = {
	{ 0, "platform", "OS/ARCH[/VARIANT][,...]", false,
	  "pull: the platforms of an index to fetch, kept beside those pulled before; push: the "
	  "one platform of an index pulled partly (default this machine's)" },
	{ 'q', "quiet", NULL, false, "print no progress" },
	REGISTRY_OPTIONS,
	OPT_END,
};

/* clang-format off */
static const struct cli_help_option login_options[] = {
	{ 'u', "username", "USER", false, "the user name (asked on a terminal when missing)" },
	{ 'p', "password", "PASSWORD", false, "the password (visible to other users: prefer "
					      "--password-stdin)" },
	{ 0, "password-stdin", NULL, false, "read the password from standard input" },
	REGISTRY_OPTIONS,
	OPT_END,
};
/* clang-format on */

static const struct cli_help_option check_options[] = {
	{ 0, "strict", NULL, false, "exit 3 on any warning, not only on errors" },
	{ 0, "format", "FORMAT", false, "text (default) or json" },
	{ 'f', "file", "DOCKERFILE", false, "check this Dockerfile (the Dockerfile checks)" },
	{ 0, "build-arg", "NAME=VALUE", false, "a build argument for the Dockerfile checks" },
	{ 0, "max-size", "SIZE", false, "image: an error when larger than SIZE (50M, 1GiB)" },
	{ 0, "skip", "ID,...", false, "image: skip these checks" },
	{ 0, "platform", "OS/ARCH[/VARIANT]", false, "image: the platform of an index to check" },
	OPT_END,
};

static const struct cli_help_option du_options[] = {
	{ 0, "format", "FORMAT", false, "text (default) or json (exact byte counts)" },
	{ 0, "top", "N", false, "keep the N largest entries of each list (default 10, 0: all)" },
	{ 0, "platform", "OS/ARCH[/VARIANT]", false,
	  "the platform of an index to measure (default this machine's)" },
	OPT_END,
};

static const struct cli_help_option sbom_options[] = {
	{ 0, "platform", "OS/ARCH[/VARIANT]", false, "the platform of an index to describe" },
	OPT_END,
};

static const struct cli_help_option help_options[] = {
	{ 0, "man", NULL, false, "print the manual page of COMMAND (of plate without one)" },
	{ 0, "completion", "SHELL", false, "print the completion script for bash or zsh" },
	OPT_END,
};

/* clang-format off */
static const struct cli_help helps[] = {
	{ "plate", "a daemonless OCI image builder", "[GLOBAL OPTIONS] COMMAND [ARGS...]",
	  "plate builds OCI images from Dockerfiles without a daemon: one binary and one store "
	  "directory. Each command has a page of its own, plate-COMMAND(1), and answers --help.\n"
	  "Exit status: 0 ok, 1 failure, 2 usage or parse error, 3 a check failed.",
	  CLI_OPERAND_NONE, false, global_options },
	{ "parse", "print the parsed Dockerfile (BuildKit AST dump)", "FILE",
	  "Prints the parse tree of the Dockerfile FILE in the dump format of BuildKit's parser "
	  "tests, one (keyword ...) line per instruction. Warnings go to standard error.",
	  CLI_OPERAND_FILE, false, no_options },
	{ "plan", "print the build plan of a Dockerfile as JSON", "[OPTIONS] CONTEXT",
	  "Parses the Dockerfile, resolves ARGs, build arguments and stage dependencies, prunes "
	  "the stages the target does not need and prints the plan as JSON.",
	  CLI_OPERAND_DIR, false, plan_options },
	{ "version", "print the version", "", "Prints the version of plate.", CLI_OPERAND_NONE,
	  false, no_options },
	{ "images", "list the images in the store", "[OPTIONS] [REPOSITORY[:TAG]]",
	  "Lists the images in the store with their names, IDs, dates and sizes.",
	  CLI_OPERAND_NONE, false, images_options },
	{ "inspect", "show images as JSON", "[OPTIONS] REF...",
	  "Prints the configuration and layers of each image REF as a JSON array.",
	  CLI_OPERAND_IMAGE, false, inspect_options },
	{ "history", "show the history of an image", "[OPTIONS] REF",
	  "Prints the history of the image REF, newest step first, with the size of each layer.",
	  CLI_OPERAND_IMAGE, false, history_options },
	{ "tag", "give an image another name", "SRC DST",
	  "Gives the image SRC the name DST as well.", CLI_OPERAND_IMAGE, false, no_options },
	{ "rmi", "remove images", "[OPTIONS] REF...",
	  "Removes the names REF from the store; what no name uses any more goes with plate prune.",
	  CLI_OPERAND_IMAGE, false, rmi_options },
	{ "prune", "remove unreferenced blobs, snapshots and cache", "[OPTIONS]",
	  "Removes the blobs and unpacked snapshots no image uses.", CLI_OPERAND_NONE, false,
	  prune_options },
	{ "save", "write images to a docker or OCI archive", "[OPTIONS] REF...",
	  "Writes the images REF to a docker-archive (docker load reads it) or an OCI archive.",
	  CLI_OPERAND_IMAGE, false, save_options },
	{ "load", "load images from an archive or OCI layout", "[OPTIONS]",
	  "Loads the images of a docker-archive (docker save), an OCI archive or an OCI layout "
	  "directory into the store.",
	  CLI_OPERAND_NONE, false, load_options },
	{ "import", "make an image from a root filesystem tarball", "[OPTIONS] FILE|- [REF]",
	  "Makes a one-layer image from the tarball FILE (- reads standard input), named REF.",
	  CLI_OPERAND_FILE, false, import_options },
	{ "fsck", "verify the store", "",
	  "Checks every blob's digest, every reference and the store's permissions, and reports "
	  "what it finds.",
	  CLI_OPERAND_NONE, false, no_options },
	{ "build", "build an image from a Dockerfile", "[OPTIONS] CONTEXT",
	  "Builds the Dockerfile into an OCI image in the store. Base images missing from the store "
	  "are pulled (--pull). Every step has a cache key: unchanged steps are reused. RUN runs "
	  "in a sandbox with a private network. Layers are reproducible: file times are clamped "
	  "to SOURCE_DATE_EPOCH. The image doctor runs on the result (see plate-check(1)).",
	  CLI_OPERAND_DIR, false, build_options },
	{ "run", "run a command in an image", "[OPTIONS] REF [COMMAND [ARG...]]",
	  "Runs the image's entrypoint and command (or COMMAND) in the sandbox over its layers; "
	  "changes are thrown away. Exits with the command's status. Options end at REF.",
	  CLI_OPERAND_IMAGE, true, run_options },
	{ "pull", "pull an image from a registry", "[OPTIONS] REF",
	  "Fetches the image REF from its registry into the store. PLATE_REGISTRY_MIRRORS "
	  "(docker.io=http://127.0.0.1:5000,...) serves reads from mirrors; credentials come "
	  "from the docker config (DOCKER_CONFIG).",
	  CLI_OPERAND_IMAGE, false, transfer_options },
	{ "push", "push an image to a registry", "[OPTIONS] REF [DEST]",
	  "Sends the stored image REF to its registry, or to DEST.", CLI_OPERAND_IMAGE, false,
	  transfer_options },
	{ "login", "log in to a registry", "[OPTIONS] REGISTRY",
	  "Checks the credentials against REGISTRY (on a terminal, asks for the user name and the "
	  "password that -u and -p do not give, the password without echo), then stores them: "
	  "with the credential helper "
	  "the docker config names (credsStore, credHelpers), else in the config file itself "
	  "(DOCKER_CONFIG/config.json, default ~/.docker/config.json, mode 0600), with a warning.",
	  CLI_OPERAND_NONE, false, login_options },
	{ "logout", "log out from a registry", "REGISTRY",
	  "Removes the credentials of REGISTRY from the docker config or its credential helper.",
	  CLI_OPERAND_NONE, false, no_options },
	{ "check", "check an image (the doctor) or a Dockerfile (build checks)",
	  "[OPTIONS] REF | [OPTIONS] [-f] DOCKERFILE [CONTEXT]",
	  "With an image REF: the minimal-image doctor, what makes an image fail at run time "
	  "(missing loader or libraries, no CA bundle, running as root, a missing entrypoint, ...). "
	  "With a Dockerfile (an operand naming a file, or -f): BuildKit's build checks and plate's "
	  "context checks. Exit 3 when an error finding remains.",
	  CLI_OPERAND_IMAGE, false, check_options },
	{ "du", "show where the bytes of an image go, and what is wasted", "[OPTIONS] REF",
	  "Shows per layer the compressed and unpacked size, the files it wastes (deleted or "
	  "overwritten later), the largest and the duplicated files.",
	  CLI_OPERAND_IMAGE, false, du_options },
	{ "sbom", "write an SPDX 2.3 SBOM of an image", "[OPTIONS] REF",
	  "Writes an SPDX 2.3 JSON SBOM of the image REF on standard output: Go modules, Debian "
	  "and Alpine packages.",
	  CLI_OPERAND_IMAGE, false, sbom_options },
	{ "help", "show the help of plate or of a command", "[OPTIONS] [COMMAND]",
	  "Prints the help of COMMAND, or the list of commands.", CLI_OPERAND_COMMAND, false,
	  help_options },
};
/* clang-format on */

const struct cli_help *cli_help_find(const char *name)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, name) == 0)
			return &helps[i];
	return NULL;
}

static const struct cli_help_option *find_long(const struct cli_help *h, const char *word,
					       size_t len)
{
	for (const struct cli_help_option *o = h->options; o->name != NULL; o++)
		if (strlen(o->name) == len && strncmp(o->name, word, len) == 0)
			return o;
	return NULL;
}

static const struct cli_help_option *find_short(const struct cli_help *h, char c)
{
	for (const struct cli_help_option *o = h->options; o->name != NULL; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

bool cli_help_wanted(const struct cli_help *h, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_help_option *o;

		if (strcmp(a, "--") == 0)
			return false;
		if (strcmp(a, "--help") == 0)
			return true;
		if (a[0] != '-' || a[1] == '\0') {
			if (h->options_first)
				return false;
			continue;
		}
		if (a[1] == '-') {
			size_t len = strcspn(a + 2, "=");
			o = find_long(h, a + 2, len);
			if (o != NULL && o->arg != NULL && !o->optional_arg && a[2 + len] == '\0')
				i++;
			continue;
		}
		/* a cluster of short options: -qh, or -tNAME, whose value ends the word */
		for (const char *c = a + 1; *c != '\0'; c++) {
			if (*c == 'h')
				return true;
			if ((o = find_short(h, *c)) != NULL && o->arg != NULL) {
				if (c[1] == '\0')
					i++;
				break;
			}
		}
	}
	return false;
}

/* text cut into lines of at most 79 columns at spaces, its own newlines kept; the first
 * line starts at column `used`, the others are indented by `indent` */
static void print_wrapped(const char *text, size_t used, size_t indent, FILE *out)
{
	const char *p = text;
	size_t width = 79 - used;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n"), cut;

		while (len > width) {
			for (cut = width; cut > 0 && p[cut] != ' '; cut--)
				;
			if (cut == 0)
				break;
			fprintf(out, "%.*s\n%*s", (int)cut, p, (int)indent, "");
			p += cut + 1;
			len -= cut + 1;
			width = 79 - indent;
		}
		fprintf(out, "%.*s\n", (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
		width = 79;
	}
}

/* "-t, --tag REF", "    --pull[=WHEN]" */
static void option_words(const struct cli_help_option *o, char *out, size_t size)
{
	char s[8] = "    ";

	if (o->short_name != 0)
		snprintf(s, sizeof(s), "-%c, ", o->short_name);
	snprintf(out, size, "%s--%s%s%s%s", s, o->name,
		 o->arg == NULL	   ? ""
		 : o->optional_arg ? "[="
				   : " ",
		 o->arg ? o->arg : "", o->arg != NULL && o->optional_arg ? "]" : "");
}

void cli_help_print(const struct cli_ctx *ctx, const struct cli_help *h, FILE *out)
{
	static const struct cli_help_option help_opt = { 'h', "help", NULL, false,
							 "print this help" };
	bool top = strcmp(h->name, "plate") == 0;
	char words[96];

	fprintf(out, "usage: plate%s%s%s%s\n\n", top ? "" : " ", top ? "" : h->name,
		h->operands[0] != '\0' ? " " : "", h->operands);
	print_wrapped(h->description, 0, 0, out);
	fprintf(out, "\n%s:\n", top ? "global options" : "options");
	for (const struct cli_help_option *o = h->options; o->name != NULL; o++) {
		option_words(o, words, sizeof(words));
		if (strlen(words) > 30)
			fprintf(out, "  %s\n%33s", words, "");
		else
			fprintf(out, "  %-30s ", words);
		print_wrapped(o->text, 33, 33, out);
	}
	option_words(&help_opt, words, sizeof(words));
	fprintf(out, "  %-30s %s\n", words, help_opt.text);
	if (!top || ctx->commands == NULL)
		return;
	fputs("\ncommands:\n", out);
	for (const char *const *c = ctx->commands; *c != NULL; c++) {
		const struct cli_help *ch = cli_help_find(*c);
		fprintf(out, "  %-10s %s\n", *c, ch != NULL ? ch->summary : "");
	}
	fputs("\n'plate COMMAND --help' or 'plate help COMMAND' shows a command's options.\n", out);
}
