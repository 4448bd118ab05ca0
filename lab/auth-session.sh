# The authentication lab, run in the guest (busybox sh): the Linux host's DH-HMAC-CHAP against
# csd-target instances on the host (10.0.2.2), one line per attempt: connected or refused.
# /payload holds hostnqn, hostid, host.key, ctrl.key, wrong.key; LAB_PORT is the first target's port
# (sha256/ffdhe2048), LAB_PORT+1 prefers sha512/ffdhe8192, LAB_PORT+2 sha384/null; LAB_PORT+3
# has its secret replaced by new.key once the guest is connected (the host watches its log).
N=nqn.2026-01.io.csdlab:drive0
H=$(cat /payload/hostnqn) I=$(cat /payload/hostid)
K=$(cat /payload/host.key); C=$(cat /payload/ctrl.key); W=$(cat /payload/wrong.key)
K2=$(cat /payload/new.key)
# try NAME PORT [nvme connect options]: connect, prove it with Identify, disconnect
try() {
	name=$1 port=$2
	shift 2
	dmesg -c >/dev/null
	if nvme connect -t tcp -a 10.0.2.2 -s "$port" -n $N --hostnqn "$H" --hostid "$I" "$@" >/tmp/out 2>&1; then
		ctrl=$(ls /sys/class/nvme | tail -1)
		# the block device's number is the namespace head's, not always 1
		for i in 1 2 3 4 5 6 7 8 9 10; do
			disk=$(ls /dev/${ctrl}n* 2>/dev/null | head -1)
			[ -b "$disk" ] && break
			sleep 0.5
		done
		# Identify on the admin queue, a read on the I/O queue: both authenticated
		if nvme id-ctrl /dev/$ctrl 2>/dev/null | grep -q '^mn *: csdlab' &&
		   dd if="$disk" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
			echo "lab-auth: $name: connected ($ctrl)"
		else
			echo "lab-auth: $name: connected ($ctrl) but Identify or a read FAILED"
			ls /dev/nvme* 2>&1 | tr '\n' ' '
		fi
		nvme disconnect -n $N >/dev/null 2>&1
		sleep 1
	else
		echo "lab-auth: $name: refused ($(head -1 /tmp/out))"
	fi
	dmesg | grep -iE 'auth|qid|nvme' | sed "s/^\[[ 0-9.]*\] //; s/^/lab-auth: $name: dmesg: /" | head -4
}
echo "lab-auth: kernel $(uname -r), $(nvme version)"
try right $LAB_PORT --dhchap-secret "$K"
try wrong-secret $LAB_PORT --dhchap-secret "$W"
try no-secret $LAB_PORT
try bidirectional $LAB_PORT --dhchap-secret "$K" --dhchap-ctrl-secret "$C"
try wrong-ctrl-secret $LAB_PORT --dhchap-secret "$K" --dhchap-ctrl-secret "$W"
try sha512-ffdhe8192 $((LAB_PORT + 1)) --dhchap-secret "$K" --dhchap-ctrl-secret "$C"
try sha384-null $((LAB_PORT + 2)) --dhchap-secret "$K"

# secret rotation without a disconnect: connect with the old secret; the host replaces the
# target's (SIGHUP); the kernel re-authenticates every queue with the new one (sysfs)
dmesg -c >/dev/null
if nvme connect -t tcp -a 10.0.2.2 -s $((LAB_PORT + 3)) -n $N --hostnqn "$H" --hostid "$I" \
	--dhchap-secret "$K" >/tmp/out 2>&1; then
	ctrl=$(ls /sys/class/nvme | tail -1)
	sleep 5
	echo "$K2" >/sys/class/nvme/$ctrl/dhchap_secret
	sleep 5
	disk=$(ls /dev/${ctrl}n* 2>/dev/null | head -1)
	auths=$(dmesg | grep -c 'qid 0: authenticated with')
	if [ "$auths" = 2 ] && dd if="$disk" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
		echo "lab-auth: rotated: re-authenticated with the new secret, still connected"
	else
		echo "lab-auth: rotated: FAILED ($auths authentications)"
	fi
	dmesg | grep -iE 'auth' | sed "s/^\[[ 0-9.]*\] //; s/^/lab-auth: rotated: dmesg: /" | head -6
	nvme disconnect -n $N >/dev/null 2>&1
else
	echo "lab-auth: rotated: FAILED to connect ($(head -1 /tmp/out))"
fi
