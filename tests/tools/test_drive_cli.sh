#!/usr/bin/env bash
# csd-target and the csd CLI over a real loopback link, as a user runs them; and the drive's
# data surviving a SIGKILL after a Flush. TAP output.
set -uo pipefail
csd="$CSD_BUILD_ROOT/tools/csd"
target="$CSD_BUILD_ROOT/tools/csd-target"
prog="$CSD_BUILD_ROOT/programs/count_alpha.bpf.o"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

starts=0
start_target() {	# start_target ARGS...: sets $pid and $port
	starts=$((starts + 1))
	"$target" -p 0 "$@" >"$tmp/target.out" 2>"$tmp/target.$starts.err" &
	pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/target.out")
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	echo "# csd-target did not start"; cat "$tmp/target.$starts.err"
	return 1
}

start_target --file "$tmp/nvm.img" --size 16M --allow-unverified
P="-p $port"

check "id-ctrl names the drive" bash -c "'$csd' id-ctrl $P | grep -q '^model      csdlab$'"
check "list: nvm, memory and compute namespaces" bash -c \
	"'$csd' list $P --json | grep -q '\"set\": \"nvm\".*\"set\": \"memory\".*\"set\": \"compute\"'"
check "id-ns 2 is the memory namespace" bash -c "'$csd' id-ns $P -N 2 --json | grep -q '\"set\": \"memory\", \"bytes\": 67108864'"
check "id-ns of a namespace that does not exist" bash -c "! '$csd' id-ns $P -N 7 2>'$tmp/why' && grep -q 'namespace 7 is not active' '$tmp/why'"
check "discover lists the subsystem on this port" bash -c \
	"'$csd' discover $P | grep -q 'trsvcid $port  subnqn nqn.2026-01.io.csdlab:drive0'"

want=$("$csd" gen -s 5 -r 20 -o "$tmp/text" 2M)
roundtrip() {
	"$csd" write $P --slba 0 -i "$tmp/text" && "$csd" flush $P &&
	"$csd" read $P --slba 0 --blocks 4096 -O "$tmp/back" && cmp "$tmp/text" "$tmp/back"
}
check "write, flush, read back 2 MiB" roundtrip
offload() {
	local a b c
	"$csd" program load $P -s 2 "$prog" && "$csd" program activate $P -s 2 &&
	"$csd" mem copy $P --dst 0 --slba 0 --blocks 4096 &&
	a=$("$csd" exec $P -s 2 --range 0:2M) &&
	b=$("$csd" exec $P -s 2 --slba 0 --blocks 4096 --overlap 4 --window 256K) &&
	c=$("$csd" exec $P -s 0 --range 0:2M --p1 65) &&	# built-in count_byte of 'A'
	echo "generator $want, exec $a, stream $b, A bytes $c" &&
	[ "$a" = "$want" ] && [ "$b" = "$want" ] && [ "$c" -ge "$want" ]
}
check "offload: load, activate, copy, execute, stream: the generator's count" offload
check "program list shows slot 2 active" bash -c "'$csd' program list $P | grep -q 'slot  2  active'"
check "exec of an empty slot: No Program" bash -c \
	"'$csd' exec $P -s 9 --range 0:4 2>&1 | grep -q 'No Program (NVMe status 0x196)'"
check "another host does not see this host's program" bash -c \
	"'$csd' exec $P --hostnqn nqn.2014-08.org.nvmexpress:uuid:intruder -s 2 --range 0:4 2>&1 |
	 grep -q 'No Program (NVMe status 0x196)' && '$csd' exec $P -s 2 --range 0:4 >/dev/null"
printf '\xff\0\0\0\0\0\0\0\x95\0\0\0\0\0\0\0' >"$tmp/bad.bin"
check "activation refused, with the drive's reason" bash -c \
	"'$csd' program load $P -s 3 '$tmp/bad.bin' && ! '$csd' program activate $P -s 3 2>'$tmp/why'; \
	 grep -q 'Invalid Program Data' '$tmp/why' && grep -q 'the drive says: program 3 refused: instruction 0' '$tmp/why'"
features="$CSD_BUILD_ROOT/tests/runtime_features.bpf.o"
check "an object with several programs: refused without a name, taken with one" bash -c \
	"'$csd' program load $P -s 4 '$features' && ! '$csd' program activate $P -s 4 2>'$tmp/why' &&
	 grep -q 'several programs match' '$tmp/why' &&
	 '$csd' program load $P -s 4 '$features' --name read_past_end &&
	 '$csd' program activate $P -s 4 &&
	 '$csd' exec $P -s 4 --range 0:16 2>&1 | grep -q 'program 4 stopped: pc 1 (ldxb %r0, \[%r1+0\]): 1-byte read'"
check "stats count the program runs" bash -c "'$csd' stats $P --json | grep -q '\"program_executions\": 5'"
check "a bad option names itself" bash -c "'$csd' read $P --slba 0 --blocks zz 2>&1 | grep -q \"blocks 'zz'\""
check "no target: a clear error" bash -c "'$csd' id-ctrl -p 1 2>&1 | grep -q 'cannot connect to 127.0.0.1:1'"

# SIGKILL after a Flush: the data is on the file and comes back after a restart
kill -9 $pid; wait $pid 2>/dev/null; pid=
start_target --file "$tmp/nvm.img" --size 16M --allow-unverified
P="-p $port"
check "after SIGKILL and a restart, the flushed data reads back" bash -c \
	"'$csd' read $P --slba 0 --blocks 4096 -O '$tmp/again' && cmp '$tmp/text' '$tmp/again'"
kill -TERM $pid; wait $pid; status=$?; pid=
check "SIGTERM: a clean stop with the traffic printed" bash -c \
	"[ $status = 0 ] && grep -q 'csd-target: link:' '$tmp/target.2.err' &&
	 grep -q 'csd-target: stopped' '$tmp/target.2.err'"

# when anything failed, what the target said helps most
[ "$failed" -eq 0 ] || tail -n 40 "$tmp"/target.*.err | sed 's/^/# target: /'
finish
