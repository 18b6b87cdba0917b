#!/usr/bin/env bash
# Installs every Debian package plate needs to build, test and benchmark.
# Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config clang clang-format libclang-rt-14-dev llvm
  libarchive-dev libssl-dev libjansson-dev libcurl4-openssl-dev
  libzstd-dev libdeflate-dev libisal-dev libseccomp-dev
  # tests and judges
  jq git python3 zstd tar gzip skopeo umoci runc buildah docker-registry faketime
  docker.io xz-utils bzip2
  # platform_pullers: podman pulls each platform of a multi-platform push
  podman
  # store_safety: strace's fault injection kills rmi/prune at the Nth call; setpriv, setcap
  strace libcap2-bin util-linux
  busybox-static golang-go ca-certificates openssl apache2-utils
  # RUN's default network (slirp4netns); the network tests' remote test host (ip netns, veth)
  slirp4netns iproute2 curl
  # build_copy_reflink: a store on XFS (reflinks) beside one on ext4 (filefrag, mkfs.ext4)
  xfsprogs e2fsprogs
  # rootless builds: newuidmap/newgidmap map a user's subordinate ids (rootless.sh makes its
  # users with useradd, from passwd)
  uidmap passwd
  # the man pages and completion: groff checks the pages, man -l renders them, zsh loads _plate
  groff-base man-db zsh
  # plate's own image: scripts/make-c-builder-base.sh copies gcc, make, pkgconf and the -dev
  # packages above from this machine into the builder base (unpriv_container.sh)
  pkgconf
  # benchmarks
  hyperfine pigz time
  # multi-platform builds: RUN of a foreign architecture under QEMU (scripts/binfmt.sh
  # registers it), arm64 busybox for the emulated base (below)
  qemu-user-static
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # docker.io would start the system's dockerd: a policy-rc.d refusing every start keeps
  # it stopped (the differential test starts its own), removed again if we made it.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d &&
      made_policy=1
  fi
  rc=0
  apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || exit "$rc"
fi

# The arm64 busybox-static package that tests/integration/platform.sh and the platform bench
# import as an arm64 base (scripts/make-busybox-base.sh), kept in apt's archive so that they
# run offline: apt's multiarch download, as root.
if [ "$(id -u)" -eq 0 ] && ! ls /var/cache/apt/archives/busybox-static_*_arm64.deb >/dev/null 2>&1; then
  dpkg --print-foreign-architectures | grep -qx arm64 ||
    { dpkg --add-architecture arm64 && apt-get update -qq; }
  (cd /var/cache/apt/archives && apt-get download -qq busybox-static:arm64)
fi
