#!/usr/bin/env bash
# The QEMU lab end to end: the Linux kernel's NVMe/TCP host and nvme-cli in a guest, against
# csd-target, or with the argument spdk against csd-spdk-tgt (the drive inside SPDK's
# nvmf_tgt). Skipped with the reason when QEMU, a kernel image or csd-spdk-tgt is missing.
. "$(dirname "$0")/run_session.sh"
if [ "${1:-}" = spdk ]; then
	CSD_LAB_TARGET=spdk run_session run-lab.sh 4432
else
	run_session run-lab.sh 4430
fi
value() { sed -n "s/^lab: $1 count //p" "$log"; }
check "the guest booted and ran its session" grep -q '^lab: session done' "$log"
check "nvme discover: the subsystem in the discovery log" grep -q 'subnqn:  nqn.2026-01.io.csdlab:drive0' "$log"
check "nvme connect: Linux made a controller" grep -q 'new ctrl: NQN "nqn.2026-01.io.csdlab:drive0"' "$log"
check "nvme list: the NVM namespace as a block device" grep -q '^/dev/nvme0n1 .*csdlab' "$log"
check "memory and compute namespaces: generic devices only (CSI 3 and 4)" bash -c \
	"grep -q 'block device for nsid 2 not supported (csi 3)' '$log' &&
	 grep -q 'block device for nsid 3 not supported (csi 4)' '$log' && grep -q '/dev/ng0n3' '$log'"
check "nvme id-ctrl: model csdlab, 3 namespaces" bash -c "grep -q '^mn *: csdlab' '$log' && grep -q '^nn *: 3' '$log'"
exp=$(value expected); base=$(value baseline); off=$(value offload); str=$(value streaming)
echo "# expected $exp, baseline (block layer) $base, offload (passthrough) $off, streaming $str"
check "baseline through the kernel's block layer: the generator's count" [ -n "$exp" -a "$base" = "$exp" ]
check "offload through passthrough (Load Program, activation, Memory Copy, Execute)" [ -n "$exp" -a "$off" = "$exp" ]
check "streaming Execute through passthrough" [ -n "$exp" -a "$str" = "$exp" ]
text=$(sed -n 's/^lab: text bytes //p' "$log")
bbytes=$(sed -n 's/^lab: baseline bytes //p' "$log"); obytes=$(sed -n 's/^lab: offload bytes //p' "$log")
echo "# link bytes, as the target counts them: text $text, baseline $bbytes, offload $obytes"
probe=$(sed -n 's/^lab: one link reading costs \([0-9]*\) bytes$/\1/p' "$log")
check "the link counter answers in the guest (one reading: ${probe:-?} bytes)" [ "${probe:-0}" -gt 0 ]
check "baseline link bytes (the target's count): the whole text crossed" \
	bash -c "[[ '$text' =~ ^[0-9]+\$ && '$bbytes' =~ ^[0-9]+\$ ]] && (( $bbytes >= $text ))"
check "offload link bytes: under 1% of the text (the program, descriptors, the count)" \
	bash -c "[[ '$text' =~ ^[0-9]+\$ && '$obytes' =~ ^[0-9]+\$ ]] && (( $obytes > 0 && $obytes * 100 < $text ))"
file=$(value "file offload")
check "ext4 file: extents from filefrag, Memory Copy of them, Execute: the same count" \
	[ -n "$exp" -a "$file" = "$exp" ]
csdc=$(value csd)
check "csd CLI through Linux passthrough (libcsd's Linux backend): the same count" \
	[ -n "$exp" -a "$csdc" = "$exp" ]
check "no step of the session failed" bash -c "! grep -q 'FAILED\|arithmetic syntax error' '$log'"
check "discard (Dataset Management from mkfs) accepted" bash -c "! grep -q 'DISCARD' '$log'"
finish
