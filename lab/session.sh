# The lab session, run in the guest (busybox sh) against csd-target on the host (10.0.2.2).
# /payload holds: text.txt (generated, its count in expected.txt), count_alpha.bpf.o,
# copy.bin (a Memory Copy descriptor: NVM LBAs of the text), range.bin (the SLM range),
# stream.bin (the streaming range) and count_alpha_stdin (the baseline, static).
T="-t tcp -a 10.0.2.2 -s ${LAB_PORT:-4420}"
step() { echo "lab: == $*"; }
# completion DW0 of an nvme-cli passthrough ("... result: 0x2208 ..."), in decimal
dw0() { echo $(( 0x$(echo "$1" | sed -n 's/.*result: *0x\([0-9a-fA-F]*\).*/\1/p') )); }
# Bytes on the link of this controller's association, as csd-target counts them (its vendor
# log C2h, read through libcsd's Linux backend): in plus out, every PDU header included.
link_bytes() {
	csd stats --json --device /dev/nvme0 |
		sed -n 's/.*"association_bytes_in": \([0-9]*\), "association_bytes_out": \([0-9]*\).*/\1 \2/p' |
		{ read -r i o && echo $((i + o)) || echo "lab: link reading FAILED" >&2; }
}

step discover
nvme discover $T
step connect
nvme connect $T -n nqn.2026-01.io.csdlab:drive0
sleep 2
# what two back-to-back readings cost: subtracted from every step's difference
l0=$(link_bytes); l1=$(link_bytes); probe=$((l1 - l0))
echo "lab: one link reading costs $probe bytes"
step list
nvme list
ls /dev/nvme0* /dev/ng0* 2>&1
step id-ctrl
nvme id-ctrl /dev/nvme0 | grep -E '^(mn|sn|fr|nn|cntlid) '
step id-ns
nvme id-ns /dev/nvme0n1 | grep -E '^(nsze|flbas|lbaf  0) '
step dmesg
dmesg | grep -E 'nvme0: (new ctrl|block device)'

size=$(wc -c </payload/text.txt)
echo "lab: text bytes $size"
step write the text through the block layer
dd if=/payload/text.txt of=/dev/nvme0n1 bs=4096 conv=fsync 2>&1 | tail -1
echo 3 >/proc/sys/vm/drop_caches
step baseline: read it back through the block layer and count on the guest
l0=$(link_bytes)
echo "lab: baseline count $(dd if=/dev/nvme0n1 bs=65536 count=$((size / 65536)) 2>/dev/null | /payload/count_alpha_stdin)"
echo "lab: baseline bytes $(($(link_bytes) - l0 - probe))"

step offload through passthrough
l0=$(link_bytes)
psize=$(wc -c </payload/count_alpha.bpf.o)
nvme admin-passthru /dev/nvme0 --opcode=0x85 --namespace-id=3 --cdw10=$((2 | (0xc0 << 16))) \
	--cdw11=$psize --cdw14=$psize --cdw15=0 --data-len=$psize --input-file=/payload/count_alpha.bpf.o -w
nvme admin-passthru /dev/nvme0 --opcode=0x88 --namespace-id=3 --cdw10=$((2 | (1 << 16)))
nvme io-passthru /dev/ng0n2 --opcode=0x01 --namespace-id=2 --cdw12=$((2 << 8)) \
	--data-len=32 --input-file=/payload/copy.bin -w
r=$(nvme io-passthru /dev/ng0n3 --opcode=0x01 --namespace-id=3 --cdw2=2 --cdw3=1 \
	--data-len=32 --input-file=/payload/range.bin -w 2>&1)
echo "$r"
echo "lab: offload count $(dw0 "$r")"
echo "lab: offload bytes $(($(link_bytes) - l0 - probe))"
r=$(nvme io-passthru /dev/ng0n3 --opcode=0x81 --namespace-id=3 --cdw2=2 --cdw3=4 --cdw14=1 \
	--data-len=16 --input-file=/payload/stream.bin -w 2>&1)
echo "$r"
echo "lab: streaming count $(dw0 "$r")"
echo "lab: expected count $(cat /payload/expected.txt)"
step a file system on the NVM namespace, the text as a file, its extents
mkfs.ext4 -q -F /dev/nvme0n1
mkdir -p /mnt/fs && mount -t ext4 /dev/nvme0n1 /mnt/fs
cp /payload/text.txt /mnt/fs/text.txt
sync
filefrag -e /mnt/fs/text.txt >/tmp/extents.txt
cat /tmp/extents.txt
umount /mnt/fs
# one Memory Copy descriptor (format 2h: NVM LBA ranges, 32 bytes) per extent, in file order;
# filefrag counts file-system blocks, the namespace 512-byte LBAs
le() { v=$1; for i in $(seq 1 $2); do printf "\\$(printf %o $((v % 256)))"; v=$((v / 256)); done; }
: >/tmp/fs-copy.bin
n=0
per=$(( $(sed -n 's/.*blocks of \([0-9]*\) bytes.*/\1/p' /tmp/extents.txt) / 512 ))
# "   0:        0..    4095:      10241..     14336:   4096:": physical first and last blocks
for line in $(awk -F'[:. ]+' '/^ *[0-9]+:/ { print $5 "," $6 }' /tmp/extents.txt); do
	start=${line%,*}; last=${line#*,}
	le 1 4 >>/tmp/fs-copy.bin; le 0 4 >>/tmp/fs-copy.bin
	le $((start * per)) 8 >>/tmp/fs-copy.bin; le $(((last - start + 1) * per - 1)) 4 >>/tmp/fs-copy.bin
	le 0 12 >>/tmp/fs-copy.bin
	n=$((n + 1))
done
echo "lab: $n extents of $per LBAs per block"
# clear the drive's memory first: the count must come from the file's blocks
dd if=/dev/zero of=/tmp/zero bs=65536 count=16 2>/dev/null
for off in $(seq 0 1048576 $((size - 1))); do	# 1 MiB at a time: the drive's MDTS
	nvme io-passthru /dev/ng0n2 --opcode=0x05 --namespace-id=2 --cdw10=$off --cdw12=1048576 \
		--data-len=1048576 --input-file=/tmp/zero -w >/dev/null
done
nvme io-passthru /dev/ng0n2 --opcode=0x01 --namespace-id=2 --cdw12=$(((2 << 8) | (n - 1))) \
	--data-len=$((n * 32)) --input-file=/tmp/fs-copy.bin -w || echo "lab: memory copy FAILED"
r=$(nvme io-passthru /dev/ng0n3 --opcode=0x01 --namespace-id=3 --cdw2=2 --cdw3=1 \
	--data-len=32 --input-file=/payload/range.bin -w 2>&1)
echo "$r"
echo "lab: file offload count $(dw0 "$r")"

step libcsd through Linux passthrough: csd --device /dev/nvme0
csd id-ctrl --device /dev/nvme0 | head -2
csd list --device /dev/nvme0
csd program load --device /dev/nvme0 -s 4 /payload/count_alpha.bpf.o
csd program activate --device /dev/nvme0 -s 4
echo "lab: csd count $(csd exec --device /dev/nvme0 -s 4 --range 0:$size)"
csd stats --device /dev/nvme0 | grep -E 'drive|programs'

step disconnect
nvme disconnect -n nqn.2026-01.io.csdlab:drive0
