#!/usr/bin/env bash
# plate check, plate sbom and the doctor after plate build: every finding has an image that
# triggers it and one that does not.  Images are made with `plate import` from small root
# filesystems holding binaries compiled here (gcc, go), and one with `plate build`.
. "$(dirname "$0")/lib.sh"
command -v gcc >/dev/null || tap_skip_all "gcc not installed"
command -v go >/dev/null || tap_skip_all "go not installed"
command -v jq >/dev/null || tap_skip_all "jq not installed"
[ -f /etc/ssl/certs/ca-certificates.crt ] || tap_skip_all "no host CA bundle to copy"
R=$T/root
p() { "$PLATE" --root "$R" "$@"; }
SRC=${PLATE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

# ---- binaries ----------------------------------------------------------------------------
B=$T/bin
mkdir -p "$B/gotls" "$B/gohello"
printf 'int main(void){return 0;}\n' >"$B/hello.c"
gcc -O2 -o "$B/dyn" "$B/hello.c" || tap_skip_all "gcc cannot link"
gcc -O2 -static -o "$B/static" "$B/hello.c" 2>/dev/null || cp "$B/dyn" "$B/static"
cat >"$B/gotls/main.go" <<'EOF'
package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Println(time.LoadLocation(os.Args[1]))
	}
	fmt.Println(tls.VersionTLS13)
}
EOF
printf 'module example.com/gotls\n\ngo 1.19\n' >"$B/gotls/go.mod"
cat >"$B/gohello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello") }
EOF
printf 'module example.com/gohello\n\ngo 1.19\n' >"$B/gohello/go.mod"
(cd "$B/gotls" && CGO_ENABLED=0 go build -o ../gotls.bin .) || tap_skip_all "go build failed"
(cd "$B/gohello" && CGO_ENABLED=0 go build -o ../gohello.bin .) || tap_skip_all "go build failed"
(cd "$SRC/examples/go-service" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$B/demo" .) ||
	tap_skip_all "go build of the example failed"

# img NAME ROOTFS-DIR [--change ...]: imports the directory as image NAME:t
img() {
	local name=$1 dir=$2
	shift 2
	tar -C "$dir" --numeric-owner -cf "$T/$name.tar" . &&
		p import "$@" "$T/$name.tar" "$name:t" >/dev/null
}
# ids NAME [check options]: the sorted finding IDs of plate check --format json
ids() {
	local name=$1
	shift
	p check --format json "$@" "$name:t" | jq -r '[.findings[].id] | unique | join(" ")'
}
has() { [[ " $(ids "$1") " == *" $2 "* ]]; }
hasnt() { local got; got=$(ids "$1") && [[ " $got " != *" $2 "* ]]; }

rootfs() { rm -rf "$T/rf-$1"; mkdir -p "$T/rf-$1"; echo "$T/rf-$1"; }
with_ca() { mkdir -p "$1/etc/ssl/certs"; cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"; }

# ---- the example service: no finding -------------------------------------------------------
d=$(rootfs demo)
with_ca "$d"
mkdir -p "$d/app"
cp "$B/demo" "$d/app/plate-demo"
img demo "$d" -c 'USER 65534:65534' -c 'EXPOSE 8080' -c 'ENTRYPOINT ["/app/plate-demo"]'
tap_check "the example service image has no finding" test "$(ids demo)" = ""
p check demo:t >"$T/out"
tap_check "plate check exits 0 and prints nothing for it" test $? = 0 -a ! -s "$T/out"

# ---- SBOM ---------------------------------------------------------------------------------
p sbom demo:t >"$T/sbom.json"
gover=$(go version -m "$B/demo" | head -1 | awk '{print $2}')
gomod=$(go version -m "$B/demo" | awk '$1 == "mod" {print $2}')
tap_check "sbom is SPDX 2.3" test "$(jq -r .spdxVersion "$T/sbom.json")" = SPDX-2.3
tap_check "sbom lists the Go version of the binary ($gover)" \
	test "$(jq -r '.packages[] | select(.name == "stdlib") | .versionInfo' "$T/sbom.json")" = "$gover"
tap_check "sbom lists the main module ($gomod)" \
	jq -e --arg m "$gomod" '[.packages[] | select(.name == $m)] | length == 1' "$T/sbom.json"
p sbom demo:t >"$T/sbom2.json"
tap_check "sbom output is deterministic" cmp -s "$T/sbom.json" "$T/sbom2.json"
d=$(rootfs pkgs)
mkdir -p "$d/var/lib/dpkg" "$d/lib/apk/db"
printf 'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n\n' >"$d/var/lib/dpkg/status"
printf 'P:musl\nV:1.2.4-r2\nA:x86_64\n\n' >"$d/lib/apk/db/installed"
img pkgs "$d"
tap_check "sbom lists Debian packages with a deb purl" bash -c \
	"'$PLATE' --root '$R' sbom pkgs:t | jq -e '.packages[] | select(.name == \"libc6\") | .externalRefs[0].referenceLocator == \"pkg:deb/debian/libc6@2.36-9?arch=amd64\"'"
tap_check "sbom lists Alpine packages" bash -c \
	"'$PLATE' --root '$R' sbom pkgs:t | jq -e '.packages[] | select(.name == \"musl\") | .versionInfo == \"1.2.4-r2\"'"

# ---- dynamic linking ------------------------------------------------------------------------
d=$(rootfs dyn)
cp "$B/dyn" "$d/app"
img dyn "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/app"]'
tap_check "MissingInterpreter: dynamic binary without its loader" has dyn MissingInterpreter
tap_check "MissingLibrary: dynamic binary without libc" has dyn MissingLibrary
p check dyn:t >/dev/null
tap_check "an error finding exits 3" test $? = 3
d=$(rootfs dynok)
cp "$B/dyn" "$d/app"
for f in $(ldd "$B/dyn" | grep -o '/[^ ]*'); do
	mkdir -p "$d$(dirname "$f")"
	cp -L "$f" "$d$f"
done
img dynok "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/app"]'
tap_check "no MissingInterpreter when the loader is there" hasnt dynok MissingInterpreter
tap_check "no MissingLibrary when libc is there" hasnt dynok MissingLibrary
d=$(rootfs static)
cp "$B/static" "$d/app"
img static "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/app"]'
tap_check "a static binary needs nothing" test "$(ids static)" = ""

# ---- CA bundle and time zones ---------------------------------------------------------------
d=$(rootfs noca)
cp "$B/gotls.bin" "$d/app"
img noca "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/app"]'
tap_check "MissingCABundle: Go binary with crypto/tls and no CA bundle" has noca MissingCABundle
tap_check "MissingZoneinfo: Go binary calling time.LoadLocation without zoneinfo" has noca MissingZoneinfo
tap_check "MissingZoneinfo is info only" test \
	"$(p check --format json noca:t | jq -r '.findings[] | select(.id == "MissingZoneinfo") | .severity')" = info
with_ca "$d"
mkdir -p "$d/usr/share/zoneinfo"
img withca "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/app"]'
tap_check "no MissingCABundle with /etc/ssl/certs/ca-certificates.crt" hasnt withca MissingCABundle
tap_check "no MissingZoneinfo with /usr/share/zoneinfo" hasnt withca MissingZoneinfo
d=$(rootfs hello)
cp "$B/gohello.bin" "$d/app"
img hello "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/app"]'
tap_check "a Go binary without crypto/tls needs no CA bundle" hasnt hello MissingCABundle

# ---- users --------------------------------------------------------------------------------
d=$(rootfs users)
cp "$B/static" "$d/app"
mkdir -p "$d/etc"
printf 'root:x:0:0::/root:/bin/false\napp:x:1000:1000::/:/bin/false\n' >"$d/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$d/etc/group"
img noroot "$d" -c 'ENTRYPOINT ["/app"]'
img root0 "$d" -c 'USER 0' -c 'ENTRYPOINT ["/app"]'
img named "$d" -c 'USER app' -c 'ENTRYPOINT ["/app"]'
img ghost "$d" -c 'USER ghost' -c 'ENTRYPOINT ["/app"]'
img numeric "$d" -c 'USER 65534:65534' -c 'ENTRYPOINT ["/app"]'
tap_check "RunsAsRoot without USER" has noroot RunsAsRoot
tap_check "RunsAsRoot with USER 0" has root0 RunsAsRoot
tap_check "no RunsAsRoot with USER 65534:65534" hasnt numeric RunsAsRoot
tap_check "NonNumericUser for USER app" has named NonNumericUser
tap_check "no NonNumericUser for a numeric USER" hasnt numeric NonNumericUser
tap_check "UnknownUser for a name missing from /etc/passwd" has ghost UnknownUser
tap_check "no UnknownUser for a name in /etc/passwd" hasnt named UnknownUser

# ---- ENTRYPOINT / CMD / HEALTHCHECK ---------------------------------------------------------
d=$(rootfs cmds)
cp "$B/static" "$d/app"
printf 'not a program\n' >"$d/data"
mkdir -p "$d/usr/local/bin"
ln -s /app "$d/usr/local/bin/app"
img missing "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/nope"]'
img viapath "$d" -c 'USER 1:1' -c 'ENV PATH=/usr/local/bin' -c 'CMD ["app"]'
img notexec "$d" -c 'USER 1:1' -c 'ENTRYPOINT ["/data"]'
img shellform "$d" -c 'USER 1:1' -c 'CMD /app'
tap_check "MissingEntrypoint for a program not in the image" has missing MissingEntrypoint
tap_check "no MissingEntrypoint for a program found through PATH and a symlink" hasnt viapath MissingEntrypoint
tap_check "NotExecutable for a file without x bits" has notexec NotExecutable
tap_check "no NotExecutable for a program" hasnt viapath NotExecutable
tap_check "ShellFormWithoutShell for shell-form CMD without /bin/sh" has shellform ShellFormWithoutShell
mkdir -p "$d/bin"
cp "$B/static" "$d/bin/sh"
img shellok "$d" -c 'USER 1:1' -c 'CMD /app'
tap_check "no ShellFormWithoutShell when /bin/sh exists" hasnt shellok ShellFormWithoutShell

# ---- size, policy -----------------------------------------------------------------------------
tap_check "ImageTooLarge over --max-size 1k" bash -c \
	"'$PLATE' --root '$R' check --max-size 1k static:t | grep -q ImageTooLarge; test \${PIPESTATUS[0]} = 3"
tap_check "no ImageTooLarge under --max-size 1GiB" hasnt static ImageTooLarge --max-size 1GiB
p check named:t >/dev/null
tap_check "warnings alone exit 0" test $? = 0
p check --strict named:t >/dev/null
tap_check "--strict makes warnings exit 3" test $? = 3
tap_check "--skip drops a finding" test "$(ids named --skip NonNumericUser)" = ""
p check "$T/missing-file" >/dev/null 2>&1
tap_check "a missing image fails" test $? = 1
printf 'FROM scratch AS Final\n' >"$T/Dockerfile"
out=$(p check "$T/Dockerfile" 2>&1)
tap_check "a Dockerfile argument runs the Dockerfile checks, not the doctor" \
	sh -c 'test $0 = 0 && case "$1" in *"[StageNameCasing]"*) exit 0;; esac; exit 1' $? "$out"

# ---- the doctor after plate build (HEALTHCHECK cannot be set by import) ----------------------
C=$T/ctx
mkdir -p "$C"
cp "$B/static" "$C/app"
printf 'FROM scratch\nCOPY app /app\nHEALTHCHECK CMD /app\nUSER 1:1\nENTRYPOINT ["/app"]\n' >"$C/Dockerfile"
p build --progress plain -t hc "$C" >"$T/build.out" 2>&1
tap_check "plate build still succeeds with findings" test $? = 0
tap_check "plate build prints the doctor's findings" grep -q 'ShellFormWithoutShell' "$T/build.out"
tap_check "ShellFormWithoutShell for shell-form HEALTHCHECK" bash -c "'$PLATE' --root '$R' check hc | grep -q ShellFormWithoutShell"
p build --progress plain --strict -t hc "$C" >"$T/build.out" 2>&1
tap_check "plate build --strict exits 3 on findings" test $? = 3
printf 'FROM scratch\nCOPY app /app\nUSER 1:1\nENTRYPOINT ["/app"]\n' >"$C/Dockerfile"
p build --progress plain --strict -t clean "$C" >"$T/build.out" 2>&1
tap_check "plate build --strict exits 0 without findings" test $? = 0
p build --progress plain --max-size 100 -t clean "$C" >"$T/build.out" 2>&1
tap_check "plate build --max-size exits 3 over budget" test $? = 3

tap_done
