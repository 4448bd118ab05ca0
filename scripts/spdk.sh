#!/usr/bin/env bash
# Builds SPDK v25.09 once per machine, with csdlab's patches (spdk/patches/), into a cache
# outside the repo, and prints the directory it built. Idempotent: a finished build is found by
# the hash of its source and patches and never rebuilt.
#
#   scripts/spdk.sh                 build if needed, print the SPDK directory
#   scripts/spdk.sh --print-dir     print the directory of a finished build, or nothing
#
# Source: SPDK_SRC=DIR (an SPDK v25.09 tree, for example a git clone of the tag), else
# ../shared/spdk/spdk-v25.09.tar.xz beside the repo (SPDK_TARBALL=FILE to name another), else
# a clone of the tag from GitHub (submodules are not needed).
# Cache: $CSDLAB_CACHE, else $XDG_CACHE_HOME/csdlab, else ~/.cache/csdlab.
# Debian packages: `scripts/deps.sh spdk`. See docs/spdk.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${CSDLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/csdlab}
tarball=${SPDK_TARBALL:-$root/../shared/spdk/spdk-v25.09.tar.xz}
patches=("$root"/spdk/patches/*.patch)

source_id() {
	if [ -n "${SPDK_SRC:-}" ]; then
		(cd "$SPDK_SRC" 2>/dev/null && { git rev-parse HEAD 2>/dev/null || cat VERSION; })
	else
		sha256sum <"$tarball" | cut -c1-64
	fi
}

if [ -z "${SPDK_SRC:-}" ] && [ ! -f "$tarball" ]; then
	# no archive beside the repo: a clone of the tag, where there is network
	clone=$cache/spdk-v25.09-src
	if [ ! -f "$clone/VERSION" ] && [ "${1:-}" != --print-dir ]; then
		echo "spdk.sh: $tarball is missing: cloning SPDK v25.09 into $clone" >&2
		rm -rf "$clone" && mkdir -p "$cache" &&
		git clone -q --depth 1 --branch v25.09 https://github.com/spdk/spdk "$clone" || {
			echo "spdk.sh: no SPDK source: $tarball is missing, SPDK_SRC is not set and" \
				"the clone failed" >&2
			exit 1
		}
	fi
	SPDK_SRC=$clone
fi
key=$({ source_id; cat "${patches[@]}"; } | sha256sum | cut -c1-12)
dir=$cache/spdk-v25.09-$key

if [ "${1:-}" = --print-dir ]; then
	[ -f "$dir/.csdlab-built" ] && echo "$dir"
	exit 0
fi
if [ -f "$dir/.csdlab-built" ]; then
	echo "$dir"
	exit 0
fi

bash "$root/scripts/deps.sh" spdk >&2
mkdir -p "$cache"
# SPDK's pkg-config files name the directory it was built in: build it where it stays, and
# call it built only at the end. Older builds (other sources or patches) go.
for old in "$cache"/spdk-v25.09-*; do
	[ "$old" = "$dir" ] || [ "$old" = "$cache/spdk-v25.09-src" ] || rm -rf "$old"
done
work=$dir
rm -rf "$work"
mkdir -p "$work"
log=$work/build.log
echo "spdk.sh: building SPDK into $dir (log: $log; a few minutes)" >&2

build() {	# each step must work: the first failure ends the build
	if [ -n "${SPDK_SRC:-}" ]; then
		cp -a "$SPDK_SRC"/. "$work"/ || return 1
	else
		tar -xJf "$tarball" -C "$work" --strip-components=1 || return 1
	fi
	for p in "${patches[@]}"; do
		echo "== $(basename "$p")"
		patch -d "$work" -p1 --forward <"$p" || return 1
	done
	cd "$work" &&
	./configure --with-dpdk --without-crypto --without-vhost --without-virtio \
		--without-nvme-cuse --without-fsdev --without-idxd --without-vfio-user \
		--disable-tests --disable-unit-tests --disable-examples &&
	make -j"$(nproc)" &&
	# SPDK's NVMe-oF fuzzer, used by csdlab's tests against both targets
	make -j"$(nproc)" -C test/app/fuzz/nvme_fuzz
}
build >"$log" 2>&1 || {
	echo "spdk.sh: the SPDK build failed; the first errors and the last lines of $log:" >&2
	grep -m 5 -E 'error:|Error [0-9]' "$log" >&2
	tail -n 15 "$log" >&2
	exit 1
}
touch "$dir/.csdlab-built"
echo "$dir"
