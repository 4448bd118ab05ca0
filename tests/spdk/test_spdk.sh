#!/usr/bin/env bash
# csdlab and SPDK together (issue 18), TAP output:
#   the csd CLI session against csd-spdk-tgt (the drive inside SPDK's nvmf_tgt);
#   libcsd against stock nvmf_tgt with its defaults (C2HData SUCCESS, no CapsuleResp);
#   SPDK's host tools (spdk_nvme_identify, spdk_nvme_perf) against csd-target and csd-spdk-tgt;
#   SPDK's nvme_fuzz against both targets, bounded, each still serving afterwards.
# Arguments: csd-spdk-tgt's path (empty where this build has none: the sanitizer build, whose
# csd-target is still fuzzed and checked for leaks), SPDK's directory (empty when SPDK is not
# built: all is skipped) and the reason.
set -uo pipefail
spdk_tgt=${1:-}
spdk=${2:-}
reason=${3:-SPDK is not built (make spdk builds it once, then this runs)}
if [ ! -d "$spdk/build/bin" ]; then
	echo "1..0 # SKIP skipped: $reason"
	exit 0
fi
[ -x "$spdk_tgt" ] || spdk_tgt=
csd="$CSD_BUILD_ROOT/tools/csd"
target="$CSD_BUILD_ROOT/tools/csd-target"
prog="$CSD_BUILD_ROOT/programs/count_alpha.bpf.o"
fuzz_s=${CSD_SPDK_FUZZ_SECONDS:-20}
export LD_LIBRARY_PATH="$spdk/build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONPATH="$spdk/python:$CSD_SOURCE_ROOT/spdk/rpc${PYTHONPATH:+:$PYTHONPATH}"
rpc() { python3 "$spdk/scripts/rpc.py" --plugin csd_rpc "$@"; }
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
. "$CSD_SOURCE_ROOT/tests/tools/tap.sh"
tcheck() {	# check, where csd-spdk-tgt is built; a TAP skip with the reason where not
	if [ -n "$spdk_tgt" ]; then
		check "$@"
	else
		n=$((n + 1))
		echo "ok $n - $1 # SKIP $reason"
	fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# SPDK here: no hugepages; targets wait for events instead of polling, and take no core lock
# (make check runs other tests beside them on a 2-core machine)
spdk_args=(--no-huge -s 1024)
spdk_app_args=(--no-huge -s 1024 --disable-cpumask-locks)
spdk_tgt_args=("${spdk_app_args[@]}" --interrupt-mode)

wait_port() {	# wait_port PORT PID: the target listens
	for _ in $(seq 200); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

nqn=nqn.2026-01.io.csdlab:drive0
trid() { echo "trtype:tcp adrfam:IPv4 traddr:127.0.0.1 trsvcid:$1 subnqn:$2"; }

# csd-spdk-tgt, configured by a JSON config as SPDK users do
sport=$(free_port)
cat >"$tmp/csd-spdk-tgt.json" <<EOF
{ "subsystems": [
  { "subsystem": "nvmf", "config": [
    { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } } ] },
  { "subsystem": "csd", "config": [
    { "method": "csd_drive_create", "params": { "nqn": "$nqn",
      "backing_file": "$tmp/spdk-nvm.img", "size": 16777216, "slm_size": 67108864 } },
    { "method": "nvmf_subsystem_add_listener", "params": { "nqn": "$nqn",
      "listen_address": { "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1",
                          "trsvcid": "$sport" } } } ] } ] }
EOF
spid=
if [ -n "$spdk_tgt" ]; then
	"$spdk_tgt" "${spdk_tgt_args[@]}" -r "$tmp/csd-spdk.sock" --json "$tmp/csd-spdk-tgt.json" \
		>"$tmp/csd-spdk-tgt.log" 2>&1 &
	spid=$!
	pids+=("$spid")
fi
tcheck "csd-spdk-tgt starts from a JSON config and listens" wait_port "$sport" "$spid"
P="-p $sport"

tcheck "id-ctrl: the csdlab drive, with SPDK's controller ID" bash -c \
	"'$csd' id-ctrl $P | grep -q '^model      csdlab$'"
tcheck "list: nvm, memory and compute namespaces" bash -c \
	"'$csd' list $P --json | grep -q '\"set\": \"nvm\".*\"set\": \"memory\".*\"set\": \"compute\"'"
. "$CSD_SOURCE_ROOT/tests/tools/drive_session.sh"
drive_session_text
tcheck "write, flush, read back 2 MiB" roundtrip
tcheck "offload: load, activate, copy, execute, stream: the generator's count" offload
tcheck "another host does not see this host's program" bash -c \
	"'$csd' exec $P --hostnqn nqn.2014-08.org.nvmexpress:uuid:intruder -s 2 --range 0:4 2>&1 |
	 grep -q 'No Program'"
mem_roundtrip() {
	head -c 65536 /dev/urandom >"$tmp/m" && "$csd" mem write $P --offset 1M -i "$tmp/m" &&
	"$csd" mem read $P --offset 1M --length 64K -O "$tmp/m.back" && cmp "$tmp/m" "$tmp/m.back"
}
tcheck "memory write and read back 64 KiB" mem_roundtrip
tcheck "the same statuses: exec of an empty slot is No Program (0x196)" bash -c \
	"'$csd' exec $P -s 9 --range 0:4 2>&1 | grep -q 'No Program (NVMe status 0x196)'"
drive_get_counts() {
	rpc -s "$tmp/csd-spdk.sock" csd_drive_get | python3 -c 'import json, sys
d = json.load(sys.stdin)[0]
print(d)
sys.exit(not (d["nqn"] == sys.argv[1] and d["program_executions"] >= 3))' "$nqn"
}
tcheck "rpc.py --plugin csd_rpc csd_drive_get: the drive and its runs" drive_get_counts
tcheck "save_config writes the drive back as csd_drive_create" bash -c \
	"python3 '$spdk/scripts/rpc.py' -s '$tmp/csd-spdk.sock' save_config | grep -q '\"method\": \"csd_drive_create\"'"
second_drive() {	# a drive made at run time by RPC, served beside the first
	local port2
	port2=$(free_port) &&
	rpc -s "$tmp/csd-spdk.sock" csd_drive_create -n nqn.2026-01.io.csdlab:drive1 \
		-f "$tmp/drive1.img" -s 8M -m 16M -e interp >/dev/null &&
	rpc -s "$tmp/csd-spdk.sock" nvmf_subsystem_add_listener nqn.2026-01.io.csdlab:drive1 \
		-t tcp -a 127.0.0.1 -s "$port2" &&
	"$csd" list -p "$port2" -n nqn.2026-01.io.csdlab:drive1 | grep -q '^nsid 1  nvm      csi 0  8388608 bytes' &&
	! rpc -s "$tmp/csd-spdk.sock" csd_drive_create -n nqn.2026-01.io.csdlab:drive1 -f "$tmp/x.img" &&
	echo "$port2" >"$tmp/port2"
}
tcheck "csd_drive_create at run time: a second drive served beside it; the same NQN twice refused" second_drive
adopt_refused() {	# an ordinary SPDK subsystem with a bdev is not taken over by a drive
	rpc -s "$tmp/csd-spdk.sock" bdev_malloc_create -b M0 8 512 >/dev/null &&
	rpc -s "$tmp/csd-spdk.sock" nvmf_create_subsystem nqn.2026-01.io.csdlab:plain -a &&
	rpc -s "$tmp/csd-spdk.sock" nvmf_subsystem_add_ns nqn.2026-01.io.csdlab:plain M0 >/dev/null &&
	! rpc -s "$tmp/csd-spdk.sock" csd_drive_create -n nqn.2026-01.io.csdlab:plain -f "$tmp/p.img" \
		>"$tmp/why" 2>&1 && grep -q 'exists and has namespaces' "$tmp/why"
}
tcheck "csd_drive_create refuses the NQN of a subsystem with bdevs" adopt_refused
delete_drive() {	# delete the second drive while a host holds it: it goes, the first stays
	local port2 held
	port2=$(cat "$tmp/port2") &&
	{ "$csd" exec -p "$port2" -n nqn.2026-01.io.csdlab:drive1 -s 0 --range 0:4 >/dev/null 2>&1 & held=$!; } &&
	rpc -s "$tmp/csd-spdk.sock" csd_drive_delete nqn.2026-01.io.csdlab:drive1 &&
	{ wait $held; true; } &&
	! "$csd" list -p "$port2" -n nqn.2026-01.io.csdlab:drive1 --connect-timeout 2000 2>/dev/null &&
	! rpc -s "$tmp/csd-spdk.sock" csd_drive_get | grep -q drive1 &&
	"$csd" list $P | grep -q '^nsid 1  nvm'
}
tcheck "csd_drive_delete: the second drive and its subsystem go; the first drive still serves" delete_drive

# stock nvmf_tgt with a Malloc bdev: libcsd as a plain NVMe/TCP host
mport=$(free_port)
mnqn=nqn.2016-06.io.spdk:cnode1
cat >"$tmp/nvmf_tgt.json" <<EOF
{ "subsystems": [
  { "subsystem": "bdev", "config": [
    { "method": "bdev_malloc_create", "params": { "name": "Malloc0", "num_blocks": 32768,
      "block_size": 512 } } ] },
  { "subsystem": "nvmf", "config": [
    { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } },
    { "method": "nvmf_create_subsystem", "params": { "nqn": "$mnqn", "allow_any_host": true,
      "serial_number": "SPDK01" } },
    { "method": "nvmf_subsystem_add_ns", "params": { "nqn": "$mnqn",
      "namespace": { "bdev_name": "Malloc0" } } },
    { "method": "nvmf_subsystem_add_listener", "params": { "nqn": "$mnqn",
      "listen_address": { "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1",
                          "trsvcid": "$mport" } } } ] } ] }
EOF
"$spdk/build/bin/nvmf_tgt" "${spdk_tgt_args[@]}" -r "$tmp/nvmf.sock" --json "$tmp/nvmf_tgt.json" \
	>"$tmp/nvmf_tgt.log" 2>&1 &
mpid=$!
pids+=("$mpid")
check "stock nvmf_tgt starts" wait_port "$mport" "$mpid"
M="-p $mport -n $mnqn"
check "libcsd against stock nvmf_tgt: list (C2HData SUCCESS ends the command)" bash -c \
	"timeout 20 '$csd' list $M | grep -q '^nsid 1  nvm      csi 0  16777216 bytes'"
check "libcsd against stock nvmf_tgt: id-ctrl" bash -c \
	"timeout 20 '$csd' id-ctrl $M | grep -q '^model      SPDK bdev Controller'"
stock_roundtrip() {
	timeout 20 "$csd" write $M --slba 0 -i "$tmp/text" &&
	timeout 20 "$csd" read $M --slba 0 --blocks 4096 -O "$tmp/back2" && cmp "$tmp/text" "$tmp/back2"
}
check "libcsd against stock nvmf_tgt: write and read back 2 MiB" stock_roundtrip

# csd-target, for SPDK's host tools
tport=$(free_port)
"$target" -p "$tport" -s 16M --file "$tmp/target-nvm.img" >"$tmp/target.out" 2>"$tmp/target.err" &
tpid=$!
pids+=("$tpid")
check "csd-target starts" wait_port "$tport" "$tpid"

identify_clean() {	# identify_clean PORT [NQN MODEL]: SPDK's identify, a clean shutdown at the end
	timeout 60 "$spdk/build/bin/spdk_nvme_identify" "${spdk_args[@]}" \
		-r "$(trid "$1" "${2:-$nqn}")" >"$tmp/identify.$1" 2>&1 || { cat "$tmp/identify.$1"; return 1; }
	grep -q "Model Number:                          ${3:-csdlab}" "$tmp/identify.$1" &&
	! grep -E 'get_feature\(0x0[2456]\) failed|Failed to read the CC register|\*ERROR\*' \
		"$tmp/identify.$1"
}
check "spdk_nvme_identify against csd-target: mandatory features, clean shutdown" \
	identify_clean "$tport"
tcheck "spdk_nvme_identify against csd-spdk-tgt: the same" identify_clean "$sport"

perf_runs() {	# perf_runs PORT [NQN]: spdk_nvme_perf with no host NQN (it sends none) does I/O
	timeout 60 "$spdk/build/bin/spdk_nvme_perf" "${spdk_args[@]}" -q 16 -o 4096 -w randrw \
		-M 50 -t 2 -r "$(trid "$1" "${2:-$nqn}")" >"$tmp/perf.$1" 2>&1 || { cat "$tmp/perf.$1"; return 1; }
	awk '/^Total/ { ok = $3 > 100 } END { exit !ok }' "$tmp/perf.$1" || { cat "$tmp/perf.$1"; return 1; }
}
check "spdk_nvme_perf 4 KiB random read/write against csd-target" perf_runs "$tport"
tcheck "spdk_nvme_perf 4 KiB random read/write against csd-spdk-tgt" perf_runs "$sport"
# the third column of the interoperability table (docs/spdk.md): SPDK's tools and its target
check "spdk_nvme_identify against stock nvmf_tgt" identify_clean "$mport" "$mnqn" 'SPDK bdev Controller'
check "spdk_nvme_perf against stock nvmf_tgt" perf_runs "$mport" "$mnqn"

fuzz_survives() {	# fuzz_survives PORT PID: nvme_fuzz for a while; the target still serves
	local out="$tmp/fuzz.$1"
	timeout $((fuzz_s + 60)) "$spdk/test/app/fuzz/nvme_fuzz/nvme_fuzz" "${spdk_app_args[@]}" \
		-r "$tmp/fuzz.$1.sock" -U -t "$fuzz_s" -S 1 -F "$(trid "$1" "$nqn")" -N -a >"$out" 2>&1
	local rc=$?
	[ "$rc" -ne 124 ] && kill -0 "$2" && "$csd" read -p "$1" --slba 0 --blocks 8 -O "$tmp/after" >/dev/null
}
check "nvme_fuzz ${fuzz_s} s against csd-target: no crash, no hang, still serving" \
	fuzz_survives "$tport" "$tpid"
tcheck "nvme_fuzz ${fuzz_s} s against csd-spdk-tgt: no crash, no hang, still serving" \
	fuzz_survives "$sport" "$spid"
for port in "$tport" "$sport"; do	# how much the fuzzer sent, for the log
	grep -hsE 'Total commands completed' "$tmp/fuzz.$port" | sed "s/^/# port $port: /"
done
no_leak() {	# csd-target ends on SIGTERM, and (in the sanitizer build) reports no leak
	kill -TERM "$tpid" && wait "$tpid" && ! grep -E 'LeakSanitizer|AddressSanitizer|runtime error' "$tmp/target.err"
}
check "csd-target, after the fuzzer, stops cleanly with nothing leaked or misused" no_leak

# the fuzzer wrote over the NVM data: write it again, and stop the target right after
tcheck "write 2 MiB again (no flush)" "$csd" write $P --slba 0 -i "$tmp/text"

stops_cleanly() {	# stops_cleanly PID: SIGTERM ends it within 20 s, exit 0
	kill -TERM "$1" && for _ in $(seq 200); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.1
	done
	return 1
}
tcheck "csd-spdk-tgt stops cleanly on SIGTERM" stops_cleanly "$spid"
tcheck "what was written is on the backing file after the stop" bash -c \
	"cmp -n 2097152 '$tmp/text' '$tmp/spdk-nvm.img'"
finish
