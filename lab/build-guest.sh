#!/usr/bin/env bash
# Builds the lab's guest from Debian's packages only: the distribution kernel and an
# initramfs with busybox-static, nvme-cli, mke2fs and filefrag (and their libraries), the
# kernel's NVMe/TCP, ext4 and virtio-net modules, and the session script. Cached in lab/cache/ (rebuilt when the session
# script or this script changes).
#   lab/build-guest.sh SESSION_SCRIPT [PAYLOAD_DIR]   -> prints the kernel and initramfs paths
# CSD_LAB_KVER picks the kernel (default: the oldest installed, Debian 12's 6.1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
session=${1:?usage: build-guest.sh SESSION_SCRIPT [PAYLOAD_DIR]}
payload=${2:-}
cache="$here/cache"
kver=${CSD_LAB_KVER:-$(ls /lib/modules | sort -V | head -1)}
kernel=/boot/vmlinuz-$kver
stamp=$({ cat "$0" "$session"; [ -n "$payload" ] && cat "$payload"/*; } | sha256sum | cut -c1-16)-$kver
initrd="$cache/initramfs-$stamp.gz"

if [ -f "$initrd" ]; then
	echo "$kernel $initrd"
	exit 0
fi
[ -r "$kernel" ] || { echo "build-guest: $kernel is not readable" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,mnt,lib/modules,usr/share/udhcpc}
cp /bin/busybox "$root/bin/busybox"
# nvme-cli, mke2fs and filefrag, and the libraries they link, at the same paths
for exe in /usr/sbin/nvme /sbin/mke2fs /usr/sbin/filefrag ${CSD_EXE:-}; do
	cp "$exe" "$root/sbin/$(basename "$exe")"
	for lib in $(ldd "$exe" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
ln -s mke2fs "$root/sbin/mkfs.ext4"
# modules in load order, no duplicates
: >"$root/modules.order"
for m in virtio_pci virtio_net nvme-tcp ext4; do
	modprobe -S "$kver" --show-depends "$m" | awk '/^insmod/ {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
	mkdir -p "$root$(dirname "$ko")"
	case "$ko" in	# newer kernels ship xz-compressed modules; busybox insmod wants them plain
	*.xz) xz -dc "$ko" >"$root${ko%.xz}"; ko=${ko%.xz} ;;
	*) cp "$ko" "$root$ko" ;;
	esac
	echo "$ko" >>"$root/modules.order"
done
cp "$session" "$root/session.sh"
mkdir -p "$root/payload"
[ -n "$payload" ] && cp "$payload"/* "$root/payload/"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for ko in $(cat /modules.order); do insmod "$ko" 2>/dev/null; done
ip link set lo up; ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
echo "lab: guest up, kernel $(uname -r)"
sh /session.sh 2>&1
echo "lab: session done"
poweroff -f
INIT
chmod +x "$root/init" "$root/session.sh"
mkdir -p "$cache"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
mv "$initrd.tmp" "$initrd"
echo "$kernel $initrd"
