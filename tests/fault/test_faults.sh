#!/usr/bin/env bash
# Fault injection against csd-target: the backing file's writes failing (EIO), the disk full
# (ENOSPC: a real 2 MiB tmpfs as root, and the shim otherwise), and SIGKILL at a random point
# of a write load. In every case the drive answers with the right NVMe status, keeps serving,
# and every write it acknowledged (FUA) reads back the same after a restart. TAP output.
# $1: the fault shim (libcsd_fault.so, see fault_io.c).
set -uo pipefail
csd="$CSD_BUILD_ROOT/tools/csd"
target="$CSD_BUILD_ROOT/tools/csd-target"
shim=$1
tmp=$(mktemp -d)
pid=
mounted=
cleanup() {
	[ -n "$pid" ] && kill -9 $pid 2>/dev/null
	[ -n "$mounted" ] && umount "$tmp/small" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$CSD_SOURCE_ROOT/tests/tools/tap.sh"
# an ASan-built target refuses a preload that comes before its runtime; that is fine here
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

start_target() {	# start_target [env ...] -- ARGS...: sets $pid and $P
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	: >"$tmp/target.out"
	env "${envs[@]}" "$target" -p 0 "$@" >"$tmp/target.out" 2>>"$tmp/target.err" &
	pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/target.out")
		[ -n "$port" ] && P="-p $port" && return 0
		sleep 0.05
	done
	echo "# csd-target did not start"; cat "$tmp/target.err"
	return 1
}
stop_target() { kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=; }
after_restart() {	# after_restart FILE K...: SIGKILL, restart on FILE, every chunk K reads back
	local file=$1 ok
	shift
	stop_target
	start_target -- --file "$file" --size 16M || return 1
	read_back "$@"
	ok=$?
	stop_target
	return $ok
}

# chunk K: BLOCKS 512-byte blocks of generated text (seed K), written at LBA K*BLOCKS
blocks=128
chunk() { [ -f "$tmp/c$blocks.$1" ] || "$csd" gen -s "$1" -o "$tmp/c$blocks.$1" $((blocks * 512)) >/dev/null; }
write_chunk() { chunk "$1" && "$csd" write $P --slba $(($1 * blocks)) -i "$tmp/c$blocks.$1" --fua; }
read_back() {	# read_back K...: every chunk reads back as written
	for k in "$@"; do
		"$csd" read $P --slba $((k * blocks)) --blocks $blocks -O "$tmp/r$k" &&
			cmp -s "$tmp/c$blocks.$k" "$tmp/r$k" || { echo "# chunk $k differs"; return 1; }
	done
}

# --- failing writes (EIO) ---------------------------------------------------------------
ctl="$tmp/fault"
start_target LD_PRELOAD="$shim" CSD_FAULT_CTL="$ctl" -- --file "$tmp/nvm.img" --size 16M
check "EIO: a write before the fault is acknowledged" write_chunk 0
echo EIO >"$ctl"
check "EIO: the failing write gets Write Fault" bash -c \
	"! '$csd' write $P --slba 128 -i '$tmp/c128.0' --fua 2>'$tmp/why' && grep -q 'Write Fault' '$tmp/why' &&
	 grep -q 'NVMe status 0x280' '$tmp/why'"
echo "EIO sync" >"$ctl"
check "EIO: a Flush that cannot sync gets Write Fault" bash -c \
	"! '$csd' flush $P 2>'$tmp/why' && grep -q 'Write Fault' '$tmp/why'"
check "EIO: reads go on meanwhile" read_back 0
rm -f "$ctl"
check "EIO: writes work again once the disk does" write_chunk 2
# issue 17: a disk slow to flush (fdatasync takes 1.5 s): a Flush waits, other reads do not
echo slow >"$ctl"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
slow_flush() {
	local t0 t1 t2
	t0=$(ms)
	"$csd" flush $P --hostnqn nqn.2014-08.org.nvmexpress:uuid:flusher &
	local flusher=$!
	sleep 0.3
	t1=$(ms)
	"$csd" read $P --slba 0 --blocks 1 -O /dev/null || return 1
	t2=$(ms)
	wait $flusher || return 1
	echo "# a read while another host's Flush waited 1.5 s for the disk: $((t2 - t1)) ms (the flush: $(( $(ms) - t0 )) ms)"
	[ $((t2 - t1)) -lt 700 ]
}
check "slow disk: another host's read does not wait for a Flush" slow_flush
rm -f "$ctl"
stop_target
start_target -- --file "$tmp/nvm.img" --size 16M
check "EIO: after a SIGKILL and restart, every acknowledged write is there" read_back 0 2
stop_target

# --- disk full (ENOSPC) -----------------------------------------------------------------
full_disk() {	# full_disk FILE [env...]: write chunks until one fails; all acked ones stay
	local file=$1 acked=() k
	shift
	start_target "$@" -- --file "$file" --size 16M || return 1
	for k in $(seq 0 99); do
		write_chunk $k 2>"$tmp/why" || break
		acked+=($k)
	done
	echo "# disk full: ${#acked[@]} chunks of $((blocks / 2)) KiB acknowledged before it" >>"$tmp/summary"
	grep -q 'Capacity Exceeded' "$tmp/why" || { echo "# last error: $(cat "$tmp/why")"; return 1; }
	[ ${#acked[@]} -ge 1 ] && [ ${#acked[@]} -lt 100 ] || return 1
	"$csd" id-ctrl $P >/dev/null || return 1	# still serving
	read_back "${acked[@]}" || return 1
	after_restart "$file" "${acked[@]}"
}
if [ "$(id -u)" = 0 ] && mkdir -p "$tmp/small" && mount -t tmpfs -o size=2m tmpfs "$tmp/small" 2>/dev/null; then
	mounted=1
	check "disk full (a real 2 MiB tmpfs): Capacity Exceeded, acknowledged data kept" \
		full_disk "$tmp/small/nvm.img"
else
	n=$((n + 1))
	echo "ok $n - disk full on a real tmpfs # SKIP skipped: needs root to mount one"
fi
# the shim's ENOSPC after 20 chunks: the same answer without a small disk
full_disk_shim() {
	local acked=() k
	start_target LD_PRELOAD="$shim" CSD_FAULT_CTL="$ctl" -- --file "$tmp/nospc.img" --size 16M || return 1
	for k in $(seq 0 39); do
		[ $k = 20 ] && echo ENOSPC >"$ctl"
		write_chunk $k 2>"$tmp/why" || break
		acked+=($k)
	done
	rm -f "$ctl"
	[ ${#acked[@]} = 20 ] && grep -q 'Capacity Exceeded' "$tmp/why" && grep -q 'NVMe status 0x081' "$tmp/why" ||
		{ echo "# acked ${#acked[@]}: $(cat "$tmp/why")"; return 1; }
	after_restart "$tmp/nospc.img" "${acked[@]}"
}
check "disk full (the shim's ENOSPC): Capacity Exceeded, the 20 acknowledged chunks kept" full_disk_shim

# --- SIGKILL under a write load -----------------------------------------------------------
kill_under_load() {
	local acked=() k delay
	RANDOM=$1
	delay=$(printf '0.%03d' $((300 + RANDOM % 700)))
	rm -f "$tmp/load.img"
	for k in $(seq 0 599); do chunk $k; done
	start_target -- --file "$tmp/load.img" --size 16M || return 1
	( sleep "$delay"; kill -9 $pid ) &
	for k in $(seq 0 599); do
		write_chunk $k 2>/dev/null || break
		acked+=($k)
	done
	wait
	wait $pid 2>/dev/null; pid=
	echo "# SIGKILL seed $1: killed after ${delay} s, ${#acked[@]} writes acknowledged, all read back checked" >>"$tmp/summary"
	[ ${#acked[@]} -ge 1 ] && [ ${#acked[@]} -lt 600 ] || return 1
	after_restart "$tmp/load.img" "${acked[@]}"
}
blocks=32	# 16 KiB chunks, 600 of them: more than a second of writes
for seed in 1 2 3; do
	check "SIGKILL at a random point of a write load (seed $seed): every acknowledged write survives" \
		kill_under_load $seed
done
cat "$tmp/summary" 2>/dev/null
finish
