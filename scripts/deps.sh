#!/usr/bin/env bash
# Installs the Debian packages csdlab builds and tests with. Idempotent: it asks apt only for
# what is missing. As root it installs; otherwise it prints the exact apt-get line and stops.
# `deps.sh spdk` adds what building SPDK v25.09 against Debian's DPDK needs (scripts/spdk.sh).
set -euo pipefail

packages=(
	build-essential meson ninja-build pkg-config
	clang llvm libclang-rt-14-dev  # -target bpf for programs/; libFuzzer for fuzz/
	libelf-dev zlib1g-dev  # ELF loader
	libbpf-dev bpftool     # kernel-side programs and BPF_PROG_TEST_RUN cross-checks
	libnvme-dev libjson-c-dev libssl-dev  # <nvme/types.h> (its .pc needs json-c, openssl)
	libcmocka-dev          # unit tests
	gnuplot-nox            # charts of measured results
	linux-libc-dev
	qemu-system-x86 linux-image-amd64 busybox-static nvme-cli e2fsprogs kmod cpio xz-utils  # lab/
	linux-image-6.12-amd64  # lab/: a guest kernel with NVMe in-band authentication (DH-HMAC-CHAP)
)
if [ "${1:-}" = spdk ]; then
	packages+=(libdpdk-dev libnuma-dev uuid-dev libaio-dev libssl-dev libncurses-dev
		libcunit1-dev python3-pyelftools libfuse3-dev xz-utils patch)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "csdlab needs these Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
