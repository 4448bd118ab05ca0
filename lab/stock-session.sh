# The lab session against stock SPDK nvmf_tgt (a Malloc bdev), run in the guest: the Linux
# host and nvme-cli as with any NVMe/TCP target, and libcsd's Linux backend beside them.
T="-t tcp -a 10.0.2.2 -s ${LAB_PORT:-4420}"
step() { echo "lab: == $*"; }
step discover
nvme discover $T
step connect
nvme connect $T -n nqn.2016-06.io.spdk:cnode1
sleep 2
step list
nvme list
step id-ctrl
nvme id-ctrl /dev/nvme0 | grep -E '^(mn|sn|nn) '
size=$(wc -c </payload/text.txt)
step write the text through the block layer
dd if=/payload/text.txt of=/dev/nvme0n1 bs=4096 conv=fsync 2>&1 | tail -1
echo 3 >/proc/sys/vm/drop_caches
step read it back and count on the guest
echo "lab: baseline count $(dd if=/dev/nvme0n1 bs=65536 count=$((size / 65536)) 2>/dev/null | /payload/count_alpha_stdin)"
echo "lab: expected count $(cat /payload/expected.txt)"
step libcsd through Linux passthrough
csd id-ctrl --device /dev/nvme0 | head -1
step disconnect
nvme disconnect -n nqn.2016-06.io.spdk:cnode1
