#!/usr/bin/env bash
# The csd CLI and the bpf_conformance plugin, as a user runs them. TAP output.
# Needs CSD_BUILD_ROOT and CSD_SOURCE_ROOT (set by meson) and ../shared beside the repo.
set -uo pipefail
csd="$CSD_BUILD_ROOT/tools/csd"
plugin="$CSD_BUILD_ROOT/tools/csd-bpf-plugin"
prog="$CSD_BUILD_ROOT/programs/count_alpha.bpf.o"
suite="$CSD_SOURCE_ROOT/../shared/bpf-conformance"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

# the plugin protocol, fed by csd asm's hex output
plugin_result() {	# plugin_result FILE.data EXPECTED
	local mem
	mem=$(awk '/^-- mem/{m=1;next} /^--/{m=0} m' "$1" | tr '\n' ' ')
	local got
	if [ -n "$mem" ]; then
		got=$("$csd" asm "$1" | "$plugin" "$mem") || return 1
	else
		got=$("$csd" asm "$1" | "$plugin") || return 1
	fi
	echo "got $got expected $2"
	[ "$((got))" = "$(($2))" ]
}
check "plugin: ldxdw with input memory" plugin_result "$suite/tests/ldxdw.data" 0x8877665544332211
check "plugin: call_local" plugin_result "$suite/tests/call_local.data" 1
check "plugin: lock_cmpxchg" plugin_result "$suite/tests/lock_cmpxchg.data" 0
check "plugin: mem-len sees r2" plugin_result "$suite/tests/mem-len.data" 8

refused() {	# refused CMD...: fails with a message on stderr
	! "$@" 2>"$tmp/why" >/dev/null && [ -s "$tmp/why" ] && cat "$tmp/why"
}
check "plugin: reserved field refused" \
	refused bash -c "printf '04  10  00  00  01  00  00  00  95  00  00  00  00  00  00  00  ' | '$plugin'"
check "plugin: memory fault reported" \
	refused bash -c "printf '71  10  08  00  00  00  00  00  95  00  00  00  00  00  00  00  ' | '$plugin' '00  01'"
check "plugin: bad hex refused" refused bash -c "echo 'zz' | '$plugin'"

# csd gen agrees with grep, and csd run with csd gen
gen_matches_grep() {
	local want got
	want=$("$csd" gen -s 7 -r 20 -o "$tmp/text" 3M) || return 1
	got=$(grep -o Alpha "$tmp/text" | wc -l)
	echo "csd gen $want, grep $got"
	[ "$want" = "$got" ] && [ "$want" -gt 0 ] && echo "$want" >"$tmp/count"
}
check "csd gen: its count is grep -o Alpha | wc -l" gen_matches_grep
run_matches() {
	local got
	got=$("$csd" run -q -i "$tmp/text" "$prog") || return 1
	[ "$got" = "$(cat "$tmp/count")" ]
}
check "csd run: count_alpha over the file gives the same count" run_matches

# asm -o, disasm, and asm again: the same bytes
round_trip() {
	"$csd" asm -o "$tmp/p.bin" "$suite/tests/prime.data" &&
	"$csd" disasm "$tmp/p.bin" | sed 's/^ *[0-9]*: //' >"$tmp/p.s" &&
	"$csd" asm -o "$tmp/p2.bin" "$tmp/p.s" && cmp "$tmp/p.bin" "$tmp/p2.bin"
}
check "csd asm/disasm round trip of prime.data" round_trip

# bad input: clear messages, the right exit codes
exit_code() {	# exit_code CODE MESSAGE CMD...
	local want=$1 msg=$2; shift 2
	"$@" >/dev/null 2>"$tmp/why"
	local got=$?
	cat "$tmp/why"
	[ "$got" = "$want" ] && grep -qF -- "$msg" "$tmp/why"
}
check "csd: unknown command" exit_code 2 "unknown command 'frobnicate'" "$csd" frobnicate
check "csd run: bad size" exit_code 2 "--gen '0'" "$csd" run --gen 0 "$prog"
check "csd run: missing program file" exit_code 1 "No such file" "$csd" run "$tmp/nope.o"
check "csd run: unknown program name" exit_code 1 "no program named 'nope'" "$csd" run -p nope "$prog"
printf 'mov %%r0, 1\nbogus\n' >"$tmp/bad.s"
check "csd asm: error names the line" exit_code 1 "line 2: unknown mnemonic 'bogus'" "$csd" asm "$tmp/bad.s"
printf 'lddw %%r1, 0x10\nldxb %%r0, [%%r1+0]\nexit\n' >"$tmp/fault.s"
check "csd run: a fault names pc and address" exit_code 1 "pc 2 (ldxb %r0, [%r1+0]): 1-byte read at 0x10" "$csd" run "$tmp/fault.s"
check "csd run: budget (interpreter)" exit_code 1 "instruction budget of 1000 used up" "$csd" run -e interp -b 1000 --gen 1M "$prog"
check "csd run: budget (JIT)" exit_code 1 "budget of 1000 loop iterations and calls used up" "$csd" run -e jit -b 1000 --gen 1M "$prog"
check "csd run --verify: the JIT runs the proven program unchecked" bash -c \
	"'$csd' run -V -e jit --gen 1M '$prog' | grep -qF 'engine: JIT, verified (sandboxed: no checks)'"
check "csd run --verify: a refusal names pc and reason" exit_code 1 "refused: pc 2 (ldxb %r0, [%r1+0])" "$csd" run -V "$tmp/fault.s"

# parameters and repeated runs: r3 = p1 (a CSV column), r4 = p2
run_params() {
	printf 'id,qty,price\n1,10,1.00\n2,20,2.00\n3,30,3.00\n' >"$tmp/p.csv"
	printf 'mov %%r0, %%r3\nadd %%r0, %%r4\nexit\n' >"$tmp/p.s"
	[ "$("$csd" run -q --p1 1 "$CSD_BUILD_ROOT/programs/corpus/csv_column_sum.bpf.o" \
		-i "$tmp/p.csv")" = 60 ] &&
	[ "$("$csd" run -q --p1 2 "$CSD_BUILD_ROOT/programs/corpus/csv_column_sum.bpf.o" \
		-i "$tmp/p.csv")" = 600 ] &&
	[ "$("$csd" run -q --p1 0x10 --p2 5 "$tmp/p.s")" = 21 ]
}
check "csd run --p1/--p2: the program's r3 and r4" run_params
check "csd run --repeat: the first run and the warm runs' rate" bash -c \
	"'$csd' run -V --repeat 4 --gen 1M '$prog' | grep -qE '^warm: 3 more runs, median [0-9.]+ s \\([0-9.]+ MB/s\\), best'"
check "csd run: --repeat 0 refused" exit_code 2 "--repeat '0': 1 to 1000 expected" "$csd" run --repeat 0 "$prog"
check "csd run: --p1 not a number" exit_code 2 "--p1 'x' is not a number" "$csd" run --p1 x "$prog"

# every command's --help answers before it would connect to a drive (none runs here), and
# --version
help_offline() {
	local c out
	for c in discover list id-ctrl id-ns read write flush program mrs exec mem log stats asm \
		disasm verify run gen-dhchap-key check-dhchap-key gen; do
		out=$(timeout 5 "$csd" $c --help 2>&1) || { echo "$c --help: exit $?: $out"; return 1; }
		case "$out" in usage:*) ;; *) echo "$c --help: $out"; return 1 ;; esac
	done
	out=$(timeout 5 "$csd" mem read --help 2>&1) && [ "${out#usage:}" != "$out" ]
}
check "every command's --help answers offline, exit 0" help_offline
check "csd --version and csd-target --version name the release" bash -c \
	"'$csd' --version | grep -qx 'csd [0-9.]* (csdlab)' &&
	 '$CSD_BUILD_ROOT/tools/csd-target' --version | grep -qx 'csd-target [0-9.]* (csdlab)'"
# sizes: decimal, 0x-hex, binary suffixes; never octal; a bare 0x refused
sizes() {
	"$csd" gen -o "$tmp/s1" 0x1000 >/dev/null && [ "$(stat -c %s "$tmp/s1")" = 4096 ] &&
	"$csd" gen -o "$tmp/s2" 010 >/dev/null && [ "$(stat -c %s "$tmp/s2")" = 10 ] &&
	"$csd" gen -o "$tmp/s3" 0x2K >/dev/null && [ "$(stat -c %s "$tmp/s3")" = 2048 ] &&
	! "$csd" gen -o "$tmp/s4" 0x 2>/dev/null
}
check "sizes in decimal, hex (0x1000) and with suffixes; 010 is ten; 0x alone refused" sizes
finish
