#!/usr/bin/env bash
# The QEMU lab against stock SPDK nvmf_tgt (a Malloc bdev): the Linux kernel's NVMe/TCP host,
# nvme-cli and libcsd's Linux backend, as with any NVMe/TCP drive. The interoperability
# table's cell "Linux x stock nvmf_tgt" (docs/spdk.md). Skipped with the reason when QEMU, a
# kernel image or SPDK is missing.
. "$(dirname "$0")/run_session.sh"
CSD_LAB_TARGET=nvmf_tgt run_session run-lab.sh 4434
value() { sed -n "s/^lab: $1 count //p" "$log"; }
check "the guest booted and ran its session" grep -q '^lab: session done' "$log"
check "nvme discover: the subsystem in the discovery log" grep -q 'subnqn:  nqn.2016-06.io.spdk:cnode1' "$log"
check "nvme connect and list: the Malloc namespace as a block device" \
	grep -q '^/dev/nvme0n1 .*SPDK bdev Controller' "$log"
exp=$(value expected); base=$(value baseline)
echo "# expected $exp, baseline (block layer) $base"
check "write and read back through the block layer: the generator's count" [ -n "$exp" -a "$base" = "$exp" ]
check "libcsd's Linux backend: id-ctrl of the SPDK controller" grep -q '^model      SPDK bdev Controller' "$log"
finish
