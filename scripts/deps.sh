#!/usr/bin/env bash
# Installs every Debian package plate needs to build, test and benchmark.
# Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config clang libclang-rt-14-dev llvm
  libarchive-dev libssl-dev libjansson-dev libcurl4-openssl-dev
  libzstd-dev zlib1g-dev libdeflate-dev libisal-dev libseccomp-dev
  # tests and judges
  jq git python3 zstd tar gzip skopeo umoci runc buildah docker-registry faketime
  busybox-static golang-go ca-certificates openssl apache2-utils
  # benchmarks
  hyperfine pigz time
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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
