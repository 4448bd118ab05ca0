#!/usr/bin/env bash
# The authentication lab: the Linux host's DH-HMAC-CHAP (a 6.12 guest kernel, nvme-cli's
# --dhchap-secret) against csd-target. Skipped with the reason when QEMU or such a kernel is
# missing.
. "$(dirname "$0")/run_session.sh"
run_session run-auth-lab.sh 4450
has() { grep -q "^lab-auth: $1" "$log"; }
check "the guest booted and ran its session" grep -q '^lab: session done' "$log"
check "right secret: Linux connects, Identify and a read work" has "right: connected"
check "right secret: hash hmac(sha256), DH group ffdhe2048 (the target's choice)" \
	has "right: dmesg: nvme nvme0: qid 0: authenticated with hash hmac(sha256) dhgroup ffdhe2048"
check "wrong secret: refused (the kernel: key rejected)" has "wrong-secret: refused (.*Key was rejected"
check "no secret: refused (the kernel: no key)" has "no-secret: refused (.*Required key not available"
check "bidirectional: the controller proves its secret to Linux" \
	bash -c "grep -q '^lab-auth: bidirectional: connected' '$log' &&
		 grep -q '^lab-auth: bidirectional: dmesg: .*controller authenticated' '$log'"
check "wrong controller secret: Linux refuses the controller" \
	bash -c "grep -q '^lab-auth: wrong-ctrl-secret: refused' '$log' &&
		 grep -q '^lab-auth: wrong-ctrl-secret: dmesg: .*controller authentication failed' '$log'"
check "sha512 with ffdhe8192, bidirectional" \
	has "sha512-ffdhe8192: dmesg: nvme nvme0: qid 0: authenticated with hash hmac(sha512) dhgroup ffdhe8192"
check "sha384 without DH (null group)" \
	has "sha384-null: dmesg: nvme nvme0: qid 0: authenticated with hash hmac(sha384) dhgroup null"
check "secret rotation: SIGHUP on the target, the new secret in sysfs: Linux re-authenticates" \
	has "rotated: re-authenticated with the new secret, still connected"
check "the target logged exactly the two failures" \
	[ "$(grep -c 'authentication of .* failed' "$log")" = 2 ]
check "no step of the session failed" bash -c "! grep -q 'FAILED' '$log'"
finish
