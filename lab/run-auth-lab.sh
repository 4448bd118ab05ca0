#!/usr/bin/env bash
# make lab-auth: the Linux kernel's NVMe in-band authentication (DH-HMAC-CHAP) and nvme-cli's
# --dhchap-secret, in a QEMU guest with a kernel that has it (Debian's 6.12), against three
# csd-target instances that prefer different hashes and DH groups. Prints the session; the
# targets' logs are kept in lab/cache/last-auth-target*.log. A fourth target's secret is
# replaced while the guest is connected, and the guest re-authenticates with the new one.
#   lab/run-auth-lab.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
port=${CSD_LAB_PORT:-4440}
cache="$here/cache"
payload=$(mktemp -d)
pids=()
trap 'rm -rf "$payload"; for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done' EXIT
mkdir -p "$cache"

command -v qemu-system-x86_64 >/dev/null || { echo "lab: qemu-system-x86_64 is missing (make deps installs it)"; exit 77; }
kver=
for cfg in $(ls /boot/config-* 2>/dev/null | sort -V); do
	grep -q '^CONFIG_NVME_HOST_AUTH=y' "$cfg" && [ -r "/boot/vmlinuz-${cfg#/boot/config-}" ] &&
		[ -d "/lib/modules/${cfg#/boot/config-}" ] && kver=${cfg#/boot/config-}
done
[ -n "$kver" ] || { echo "lab: no kernel with NVMe in-band authentication (linux-image-6.12-amd64)"; exit 77; }

hostid=5a1e0c5d-1ab0-4c5d-8a7e-0000000c5d1a	# the kernel wants the NQN's UUID as the host id
hostnqn=nqn.2014-08.org.nvmexpress:uuid:$hostid
echo "$hostnqn" >"$payload/hostnqn"
echo "$hostid" >"$payload/hostid"
"$build/tools/csd" gen-dhchap-key -m 1 -n "$hostnqn" >"$payload/host.key"
"$build/tools/csd" gen-dhchap-key -m 3 -n nqn.2026-01.io.csdlab:drive0 >"$payload/ctrl.key"
"$build/tools/csd" gen-dhchap-key -m 1 -n "$hostnqn" >"$payload/wrong.key"
"$build/tools/csd" gen-dhchap-key -m 1 -n "$hostnqn" >"$payload/new.key"
keys=$(mktemp)
chmod 600 "$keys"
echo "$hostnqn $(cat "$payload/host.key") $(cat "$payload/ctrl.key")" >"$keys"
session="$payload/session.sh"
{ echo "LAB_PORT=$port"; cat "$here/auth-session.sh"; } >"$session"
read -r kernel initrd < <(CSD_LAB_KVER=$kver bash "$here/build-guest.sh" "$session" "$payload")

i=0
# The guest is emulated (TCG): on a loaded 2-core machine its ffdhe8192 step took longer than
# the target's 10 s for a step of a handshake (seen: "not authenticated in time"), which
# guards against slow clients, not what this lab tests: a minute here.
for prefs in "sha256 ffdhe2048" "sha512 ffdhe8192" "sha384 null"; do
	set -- $prefs
	"$build/tools/csd-target" --port $((port + i)) --size 16M --slm-size 4M --dhchap-keys "$keys" \
		--dhchap-hash "$1" --dhchap-dhgroup "$2" --slow-client-ms 60000 -v \
		>"$cache/last-auth-target$i.log" 2>&1 &
	pids+=($!)
	i=$((i + 1))
done
# a fourth, whose secret is replaced (SIGHUP) as soon as the guest has connected to it
rotkeys=$(mktemp)
chmod 600 "$rotkeys"
echo "$hostnqn $(cat "$payload/host.key")" >"$rotkeys"
"$build/tools/csd-target" --port $((port + 3)) --size 16M --slm-size 4M --dhchap-keys "$rotkeys" \
	-v >"$cache/last-auth-target3.log" 2>&1 &
rotpid=$!
pids+=($rotpid)
(
	for _ in $(seq 3000); do
		grep -q 'queue 1 of .* authenticated' "$cache/last-auth-target3.log" && break
		sleep 0.1
	done
	echo "$hostnqn $(cat "$payload/new.key")" >"$rotkeys"
	kill -HUP $rotpid
) >/dev/null 2>&1 &
pids+=($!)	# killed with the targets if the guest never got that far
sleep 0.5
rm -f "$keys"	# read at start
timeout 300 qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1G -nographic -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append 'console=ttyS0 panic=-1 quiet' \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0 </dev/null >"$cache/console-auth.log" 2>&1 || true
tr -d '\r' <"$cache/console-auth.log" | sed 's/^.*lab: guest up/lab: guest up/' |
	awk '/^lab: guest up/ { on = 1 } on' | tee "$cache/last-auth-session.log"
for p in "${pids[@]}"; do kill -INT $p 2>/dev/null || true; wait $p || true; done
pids=()
echo "lab: what the targets said about authentication:"
grep -h 'authentic\|SIGHUP' "$cache"/last-auth-target*.log || true
rm -f "$rotkeys"
