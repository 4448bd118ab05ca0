#!/usr/bin/env bash
# make lab: the Linux kernel's NVMe/TCP host and nvme-cli, in a QEMU guest built from Debian
# packages, against csd-target on this machine (CSD_LAB_TARGET=spdk: against csd-spdk-tgt,
# the drive inside SPDK's nvmf_tgt; CSD_LAB_TARGET=nvmf_tgt: stock nvmf_tgt with a Malloc
# bdev and a plain session; make spdk first for both). Prints the session; its log is kept in
# lab/cache/last-session.log and the target's in lab/cache/last-target.log.
#   lab/run-lab.sh [BUILD_DIR]      (CSD_LAB_SIZE=4M by default: TCG is slow)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
size=${CSD_LAB_SIZE:-4M}
port=${CSD_LAB_PORT:-4420}
cache="$here/cache"
payload=$(mktemp -d)
trap 'rm -rf "$payload"; [ -n "${tpid:-}" ] && kill $tpid 2>/dev/null || true' EXIT
mkdir -p "$cache"

for tool in qemu-system-x86_64 cpio gzip; do
	command -v $tool >/dev/null || { echo "lab: $tool is missing (make deps installs it)"; exit 77; }
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "lab: no kernel in /boot (linux-image-amd64)"; exit 77; }

# the payload: text with a known count, the program, the descriptors
"$build/tools/csd" gen -s 4 -r 10 -o "$payload/text.txt" "$size" >"$payload/expected.txt"
cp "$build/programs/count_alpha.bpf.o" "$payload/"
gcc -static -O2 -o "$payload/count_alpha_stdin" "$here/count_alpha_stdin.c"
bytes=$(stat -c %s "$payload/text.txt")
python3 - "$payload" "$bytes" <<'PY'
import struct, sys
d, n = sys.argv[1], int(sys.argv[2])
nlb = n // 512
open(f"{d}/copy.bin", "wb").write(struct.pack("<IIQI12s", 1, 0, 0, nlb - 1, b"\0" * 12))
open(f"{d}/range.bin", "wb").write(struct.pack("<IIQ16s", 2, n, 0, b"\0" * 16))
open(f"{d}/stream.bin", "wb").write(struct.pack("<QII", 0, nlb - 1, 0))
PY
session="$payload/session.sh"
session_src="$here/session.sh"
[ "${CSD_LAB_TARGET:-}" = nvmf_tgt ] && session_src="$here/stock-session.sh"
{ echo "LAB_PORT=$port"; cat "$session_src"; } >"$session"
read -r kernel initrd < <(CSD_EXE="$build/tools/csd" bash "$here/build-guest.sh" "$session" "$payload")

case ${CSD_LAB_TARGET:-csd-target} in
csd-target)
	"$build/tools/csd-target" --port "$port" --size 64M -v >"$cache/last-target.log" 2>&1 &
	tpid=$!
	sleep 0.5
	;;
spdk)
	[ -x "$build/spdk/csd-spdk-tgt" ] || {
		echo "lab: ${CSD_SPDK_SKIP_REASON:-no csd-spdk-tgt in this build (make spdk)}"; exit 77; }
	# the same drive and MDTS (1 MiB) as csd-target's, configured as SPDK users do
	cat >"$payload/csd-spdk-tgt.json" <<EOF
{ "subsystems": [
  { "subsystem": "nvmf", "config": [ { "method": "nvmf_create_transport",
    "params": { "trtype": "TCP", "max_io_size": 1048576, "io_unit_size": 131072 } } ] },
  { "subsystem": "csd", "config": [
    { "method": "csd_drive_create", "params": { "nqn": "nqn.2026-01.io.csdlab:drive0",
      "backing_file": "$payload/nvm.img", "size": 67108864 } },
    { "method": "nvmf_subsystem_add_listener", "params": { "nqn": "nqn.2026-01.io.csdlab:drive0",
      "listen_address": { "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1",
                          "trsvcid": "$port" } } } ] } ] }
EOF
	"$build/spdk/csd-spdk-tgt" --no-huge -s 1024 --disable-cpumask-locks --interrupt-mode \
		-r "$payload/rpc.sock" --json "$payload/csd-spdk-tgt.json" >"$cache/last-target.log" 2>&1 &
	tpid=$!
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	;;
nvmf_tgt)	# stock SPDK with a Malloc bdev: the Linux host against SPDK's own target
	spdk=$(bash "$here/../scripts/spdk.sh" --print-dir)
	[ -n "$spdk" ] || { echo "lab: SPDK is not built (make spdk)"; exit 77; }
	cat >"$payload/nvmf_tgt.json" <<EOF
{ "subsystems": [
  { "subsystem": "bdev", "config": [ { "method": "bdev_malloc_create",
    "params": { "name": "Malloc0", "num_blocks": 131072, "block_size": 512 } } ] },
  { "subsystem": "nvmf", "config": [
    { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } },
    { "method": "nvmf_create_subsystem", "params": { "nqn": "nqn.2016-06.io.spdk:cnode1",
      "allow_any_host": true, "serial_number": "SPDK01" } },
    { "method": "nvmf_subsystem_add_ns", "params": { "nqn": "nqn.2016-06.io.spdk:cnode1",
      "namespace": { "bdev_name": "Malloc0" } } },
    { "method": "nvmf_subsystem_add_listener", "params": { "nqn": "nqn.2016-06.io.spdk:cnode1",
      "listen_address": { "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1",
                          "trsvcid": "$port" } } } ] } ] }
EOF
	LD_LIBRARY_PATH="$spdk/build/lib" "$spdk/build/bin/nvmf_tgt" --no-huge -s 1024 \
		--disable-cpumask-locks --interrupt-mode -r "$payload/rpc.sock" --json "$payload/nvmf_tgt.json" \
		>"$cache/last-target.log" 2>&1 &
	tpid=$!
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	;;
*) echo "lab: CSD_LAB_TARGET is csd-target, spdk or nvmf_tgt"; exit 2 ;;
esac
accel=tcg
[ "${CSD_LAB_KVM:-0}" = 1 ] && [ -w /dev/kvm ] && accel=kvm	# KVM is not usable here: see lab-facts
timeout 300 qemu-system-x86_64 -accel $accel -cpu max -smp 1 -m 1G -nographic -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append 'console=ttyS0 panic=-1 quiet' \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0 </dev/null >"$cache/console.log" 2>&1 || true
# the console, from the guest's first word (the firmware's screen codes stripped)
tr -d '\r' <"$cache/console.log" | sed 's/^.*lab: guest up/lab: guest up/' |
	awk '/^lab: guest up/ { on = 1 } on' | tee "$cache/last-session.log"
kill -INT $tpid; wait $tpid || true; tpid=
echo "lab: what crossed the link, as csd-target counted it:"
grep -E 'csd-target: (link|  C2HData|  H2CData)' "$cache/last-target.log" || true
