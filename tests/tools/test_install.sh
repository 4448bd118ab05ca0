#!/usr/bin/env bash
# meson install as a user gets it (issue 21): the tools, the programs, csd-alpha, libcsd as a
# shared library with its headers and pkg-config file, man pages, shell completion, the
# systemd unit and its configuration; a program built against the installed libcsd with
# pkg-config talks to a drive; the library exports its API and nothing of the drive.
set -uo pipefail
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
root=$tmp/root
option() {	# option NAME: the build's value of a Meson option
	meson introspect "$CSD_BUILD_ROOT" --buildoptions 2>/dev/null |
		python3 -c "import json, sys; print([o['value'] for o in json.load(sys.stdin) if o['name'] == '$1'][0])"
}
prefix=$(option prefix)
sanitize=$(option b_sanitize)	# a sanitizer build's libcsd needs its runtime in the program too
san_flags=()
[ "$sanitize" != none ] && san_flags=(-fsanitize="$sanitize")

check "meson install into a staging directory" bash -c \
	"DESTDIR='$root' meson install -C '$CSD_BUILD_ROOT' --no-rebuild --quiet >'$tmp/install.log' 2>&1"
lib=$(dirname "$(find "$root" -name libcsd.so.0 | head -1)")
files() {
	local missing=0
	for f in bin/csd bin/csd-target bin/csd-alpha include/csd/csd.h include/csd/nvme_cs.h \
		 include/csd/link.h include/csd/program.h share/csdlab/programs/count_alpha.bpf.o \
		 share/csdlab/programs/grep_alpha.bpf.o share/man/man1/csd.1 share/man/man8/csd-target.8 \
		 share/bash-completion/completions/csd etc/csd/csd-target.conf \
		 lib/systemd/system/csd-target.service; do
		[ -e "$root$prefix/$f" ] || { echo "# missing: $prefix/$f"; missing=1; }
	done
	[ -n "$lib" ] && [ -e "$lib/libcsd.so" ] && [ -e "$lib/pkgconfig/libcsd.pc" ] && [ $missing = 0 ]
}
check "binaries, programs, headers, libcsd.so.0 and libcsd.pc, man pages, completion, the unit" files
exports() {
	local bad
	bad=$(nm -D --defined-only "$lib/libcsd.so.0" | awk '$2 ~ /[TDBR]/ {print $3}' | sed 's/@.*//' |
	      grep -v '^LIBCSD_0$' | grep -v '^csd_dev__\|^csd_strerror$\|^csd_nvme_status_str$\|^csd_tcp_pdu_name$')
	[ -z "$bad" ] || { echo "# exported beyond the API: $bad"; return 1; }
	nm -D --defined-only "$lib/libcsd.so.0" | grep -q 'csd_dev__connect@@LIBCSD_0' &&
	! nm -D "$lib/libcsd.so.0" | grep -q 'csd_ebpf\|csd_subsys\|csd_ctrl_' &&
	! ldd "$lib/libcsd.so.0" | grep -q 'libelf\|libbpf'
}
check "libcsd exports its API only (version LIBCSD_0), and nothing of the drive is in it" exports
cat >"$tmp/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <csd/csd.h>

int main(int argc, char **argv)
{
	CSD_OPTS(csd_connect_opts, o, .port = (uint16_t)atoi(argv[1]));
	unsigned char id[4096];
	struct csd_dev *dev;
	char err[256];

	if (argc != 2 || csd_dev__connect(&o, &dev, err, sizeof(err))) {
		fprintf(stderr, "hello: %s\n", argc == 2 ? err : "usage: hello PORT");
		return 1;
	}
	if (csd_dev__identify_ctrl(dev, id))
		return 1;
	printf("model %.6s\n", (const char *)id + 24);
	csd_dev__disconnect(dev);
	return 0;
}
C
build_hello() {
	PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$lib/pkgconfig" \
		cc -std=c11 -Wall -Wextra -Werror "${san_flags[@]}" -o "$tmp/hello" "$tmp/hello.c" \
		$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$lib/pkgconfig" pkg-config --cflags --libs libcsd)
}
check "a program built with pkg-config --cflags --libs libcsd" build_hello
# a drive program with a map, built against the installed <csd/program.h> alone
cat >"$tmp/bytes.bpf.c" <<'C'
#include <csd/program.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("csd")
__u64 distinct_bytes(const __u8 *data, __u64 len, __u64 p1)
{
	__u64 n = 0;

	for (__u64 i = 0; i < len; i++) {
		__u32 key = data[i];
		__u64 *v = bpf_map_lookup_elem(&seen, &key);

		if (v && !*v) {
			*v = 1;
			n++;
		}
	}
	return n + p1;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
C
drive_program() {
	printf 'abcabcxyz' >"$tmp/in"
	clang -O2 -g -target bpf -Wall -Werror -I"$root$prefix/include" \
		-I/usr/include/"$(gcc -dumpmachine)" -c "$tmp/bytes.bpf.c" -o "$tmp/bytes.bpf.o" &&
	[ "$("$root$prefix/bin/csd" run -q -V --p1 100 -i "$tmp/in" "$tmp/bytes.bpf.o")" = 106 ]
}
check "a drive program with a map, built with the installed <csd/program.h>, runs verified" \
	drive_program
# the unit's configuration, with the state directory and the port of this test
sed -e "s|/var/lib/csdlab|$tmp|" -e "s|^port .*|port 0|" "$root$prefix/etc/csd/csd-target.conf" >"$tmp/conf"
"$CSD_BUILD_ROOT/tools/csd-target" --config "$tmp/conf" >"$tmp/target.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/target.out")
	[ -n "$port" ] && break
	sleep 0.05
done
check "csd-target runs from the unit's configuration file" [ -n "${port:-}" ]
check "the program built against the installed libcsd talks to the drive" bash -c \
	"LD_LIBRARY_PATH='$lib' '$tmp/hello' ${port:-1} | grep -q '^model csdlab$'"
unit() {
	grep -q "^ExecStart=$prefix/bin/csd-target --config $prefix/etc/csd/csd-target.conf$" \
		"$root$prefix/lib/systemd/system/csd-target.service" &&
	grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$root$prefix/lib/systemd/system/csd-target.service"
}
check "the systemd unit starts csd-target with the installed configuration, reloads with SIGHUP" unit
man_pages() {
	command -v groff >/dev/null || { echo "# no groff: rendering not checked"; return 0; }
	for m in man1/csd.1 man8/csd-target.8; do
		groff -man -Tutf8 -ww -z "$root$prefix/share/man/$m" 2>"$tmp/groff" &&
			[ ! -s "$tmp/groff" ] || { cat "$tmp/groff"; return 1; }
	done
}
check "the man pages render without a warning" man_pages
completion() {
	bash -c "source '$root$prefix/share/bash-completion/completions/csd'
		 COMP_WORDS=(csd pro); COMP_CWORD=1; _csd; [ \"\${COMPREPLY[*]}\" = program ] &&
		 COMP_WORDS=(csd exec --combine m); COMP_CWORD=3; _csd; [ \"\${COMPREPLY[*]}\" = 'min max' ]"
}
check "bash completion: commands and option values" completion
finish
