# plate — one plain Makefile.
#
#   make                 build ./plate
#   make check           build and run every test (unit, conformance, fuzz replay, integration)
#   make check SANITIZE=1   the same in an ASan+UBSan build (build-asan/)
#   make check-rootless  the integration tests again as a normal user with subordinate ids
#                        (run as root: it makes the user; docs/internals/testing.md)
#   make fuzz            libFuzzer binaries (clang) in build-fuzz/
#   make check-headers   every public header compiles on its own
#   make install PREFIX=/usr/local DESTDIR=   the binary, the man pages, bash and zsh
#                        completion (make uninstall removes them)
#
# Sources are found by convention, so adding a module or a test needs no edit here:
#   src/lib/<module>/*.c   -> libplate.a       src/cli/*.c          -> plate
#   tests/unit/test_*.c    -> one TAP program  tests/integration/*.sh -> TAP scripts
#   tests/fuzz/fuzz_*.c    -> replay program (corpus in tests/fuzz/corpus/<name>/)
#   bench/*.c              -> build/bench/<name> (make bench)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build
SAN_FLAGS :=
endif

CC ?= cc
# libcurl and libarchive are compiled against but not linked: src/lib/registry/libcurl.c and
# src/lib/layer/libarchive.c open them on first use.
PKGS := libcrypto jansson libzstd libdeflate libisal libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl libarchive 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wformat-nonliteral -Wswitch-enum -Wswitch-default -Wno-unused-parameter \
	-Wvla -Wpointer-arith -Wundef
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu17 $(WARNINGS) $(CFLAGS) $(SAN_FLAGS) -D_GNU_SOURCE -Isrc/lib $(PKG_CFLAGS) \
	-MMD -MP
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread

LIB_SRCS := $(sort $(wildcard src/lib/*/*.c))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
TEST_SUPPORT := tests/unit/tap.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(wildcard tests/helpers/*.c))

.SECONDARY:

.PHONY: all check check-rootless test-binaries fuzz check-headers clean format bench install uninstall

all: $(BUILD)/plate $(BUILD)/doc.stamp
ifeq ($(BUILD),build)
all: plate
plate: $(BUILD)/plate
	ln -sf $(BUILD)/plate plate
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DPLATE_BUILDING_LIB -c $< -o $@

$(BUILD)/obj/src/cli/%.o: src/cli/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DPLATE_TESTING -Itests -c $< -o $@

$(BUILD)/libplate.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/plate: $(CLI_OBJS) $(BUILD)/libplate.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJS) $(BUILD)/libplate.a $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/obj/tests/unit/tap.o $(BUILD)/libplate.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/obj/tests/unit/tap.o $(BUILD)/libplate.a $(LIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(BUILD)/libplate.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/obj/tests/fuzz/replay_main.o $(BUILD)/libplate.a $(LIBS)

# The probe goes alone into test roots and FROM scratch images: static, no libplate, and no
# sanitizer (ASan cannot link -static).
$(BUILD)/helpers/probe: tests/helpers/probe.c
	@mkdir -p $(@D)
	$(CC) -std=gnu17 $(WARNINGS) $(CFLAGS) -D_GNU_SOURCE -static -o $@ $<

$(BUILD)/helpers/%: $(BUILD)/obj/tests/helpers/%.o $(BUILD)/libplate.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libplate.a $(LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libplate.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libplate.a $(LIBS)

# The man pages and completion scripts are printed by plate itself from its help table
# (src/cli/help.c), one page per command that `plate help` lists.
$(BUILD)/doc.stamp: $(BUILD)/plate
	rm -rf $(BUILD)/man $(BUILD)/completion
	mkdir -p $(BUILD)/man $(BUILD)/completion
	$(BUILD)/plate help --man >$(BUILD)/man/plate.1
	set -e; for c in $$($(BUILD)/plate help | awk '/^commands:/ { f = 1; next } \
			f && /^  [a-z]/ { print $$1 }'); do \
		$(BUILD)/plate help --man $$c >$(BUILD)/man/plate-$$c.1; \
	done
	$(BUILD)/plate help --completion bash >$(BUILD)/completion/plate
	$(BUILD)/plate help --completion zsh >$(BUILD)/completion/_plate
	touch $@

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions

install: $(BUILD)/plate $(BUILD)/doc.stamp
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(BUILD)/plate $(DESTDIR)$(BINDIR)/plate
	install -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(BUILD)/completion/plate $(DESTDIR)$(BASHCOMPDIR)/plate
	install -m 644 $(BUILD)/completion/_plate $(DESTDIR)$(ZSHCOMPDIR)/_plate

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/plate $(DESTDIR)$(MANDIR)/man1/plate.1 \
		$(DESTDIR)$(MANDIR)/man1/plate-*.1 $(DESTDIR)$(BASHCOMPDIR)/plate \
		$(DESTDIR)$(ZSHCOMPDIR)/_plate

# Benchmarks are run by hand (bench/README.md), never timed in tests.
bench: $(BUILD)/plate $(BENCH_BINS)

test-binaries: $(BUILD)/plate $(UNIT_BINS) $(FUZZ_BINS) $(HELPER_BINS)

check: test-binaries
	BUILD=$(BUILD) tests/run.sh

check-rootless: test-binaries
	BUILD=$(BUILD) tests/run.sh --rootless

# libFuzzer builds: the same fuzz sources linked with -fsanitize=fuzzer instead of replay_main.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=gnu17 -g -O1 -D_GNU_SOURCE -DPLATE_BUILDING_LIB -DPLATE_TESTING -Isrc/lib -Itests \
	$(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_TARGETS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

# The library is compiled once for every target (objects in parallel with -j).
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libplate-fuzz.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_BUILD)/libplate-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_BUILD)/libplate-fuzz.a -o $@ $(LIBS)

fuzz: $(FUZZ_TARGETS)

check-headers:
	set -e; for h in $$(find src/lib -name '*.h' ! -name '*_internal.h'); do \
		echo "#include \"$${h#src/lib/}\"" | $(CC) -std=gnu17 $(WARNINGS) -D_GNU_SOURCE -Isrc/lib \
			$(PKG_CFLAGS) -x c -fsyntax-only -; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz plate

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
