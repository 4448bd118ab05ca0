#!/usr/bin/env bash
# csd-target and the csd CLI over a real loopback link, as a user runs them; and the drive's
# data surviving a SIGKILL after a Flush. TAP output.
set -uo pipefail
csd="$CSD_BUILD_ROOT/tools/csd"
target="$CSD_BUILD_ROOT/tools/csd-target"
prog="$CSD_BUILD_ROOT/programs/count_alpha.bpf.o"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

starts=0
start_target() {	# start_target ARGS...: sets $pid and $port
	starts=$((starts + 1))
	rm -f "$tmp/target.out"	# the child truncates it later: the last target's port would be read
	"$target" -p 0 "$@" >"$tmp/target.out" 2>"$tmp/target.$starts.err" &
	pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/target.out" 2>/dev/null)
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	echo "# csd-target did not start"; cat "$tmp/target.$starts.err"
	return 1
}

start_target --file "$tmp/nvm.img" --size 16M --allow-unverified
P="-p $port"

check "id-ctrl names the drive" bash -c "'$csd' id-ctrl $P | grep -q '^model      csdlab$'"
check "list: nvm, memory and compute namespaces" bash -c \
	"'$csd' list $P --json | grep -q '\"set\": \"nvm\".*\"set\": \"memory\".*\"set\": \"compute\"'"
check "id-ns 2 is the memory namespace" bash -c "'$csd' id-ns $P -N 2 --json | grep -q '\"set\": \"memory\", \"bytes\": 67108864'"
check "id-ns of a namespace that does not exist" bash -c "! '$csd' id-ns $P -N 7 2>'$tmp/why' && grep -q 'namespace 7 is not active' '$tmp/why'"
check "discover lists the subsystem on this port" bash -c \
	"'$csd' discover $P | grep -q 'trsvcid $port  subnqn nqn.2026-01.io.csdlab:drive0'"

. "$CSD_SOURCE_ROOT/tests/tools/drive_session.sh"
drive_session_text
check "write, flush, read back 2 MiB" roundtrip
check "offload: load, activate, copy, execute, stream: the generator's count" offload
# numbers in hex as nvme-cli takes them: the vendor stats page (768 bytes, version 1 first)
check "log --lid 0xc0 --length 0x300 --raw: the stats page's bytes" bash -c \
	"'$csd' log $P --lid 0xc0 --length 0x300 --raw | head -1 | grep -q '^0*: 01 00 00 00'"
check "log --lid 0xc0 decoded: the counters csd stats shows, by name; C2h and C1h too" bash -c \
	"[ \"\$('$csd' log $P --lid 0xc0 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"program_executions\"])')\" = \
	   \"\$('$csd' stats $P --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"drive\"][\"program_executions\"])')\" ] &&
	 '$csd' log $P --lid 0xc0 | grep -q '^program_executions  *[1-9]' &&
	 '$csd' log $P --lid 0xc2 --json | python3 -c 'import json, sys; assert json.load(sys.stdin)[\"association\"][\"bytes_in\"] > 0' &&
	 [ \"\$('$csd' log $P --lid 0xc1 --json)\" = '{\"reasons\": []}' ]"
# --json on every command: what it moved, as an object
jfield() {	# jfield EXPR: a value of the JSON object on stdin
	python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}
json_everywhere() {
	head -c 8192 /dev/urandom >"$tmp/j8k" &&
	[ "$("$csd" write $P --slba 8192 -i "$tmp/j8k" --json | jfield "d['wrote']['bytes']")" = 8192 ] &&
	[ "$("$csd" read $P --slba 8192 --blocks 16 -O "$tmp/j8b" --json | jfield "d['read']['blocks']")" = 16 ] &&
	cmp "$tmp/j8k" "$tmp/j8b" &&
	[ "$("$csd" flush $P --json | jfield "d['flushed']")" = True ] &&
	[ "$("$csd" mem write $P --offset 0 -i "$tmp/j8k" --json | jfield "d['write']['bytes']")" = 8192 ] &&
	[ "$("$csd" mem copy $P --dst 8192 --slba 8192 --blocks 16 --json | jfield "d['copy']['bytes']")" = 8192 ] &&
	[ "$("$csd" mem read $P --offset 8192 --length 8192 -O "$tmp/j8m" --json | jfield "d['read']['offset']")" = 8192 ] &&
	cmp "$tmp/j8k" "$tmp/j8m" &&
	rsid=$("$csd" mrs create $P --range 0:4096 --json | jfield "d['rsid']") && [ "$rsid" -gt 0 ] &&
	[ "$("$csd" mrs delete $P --rsid "$rsid" --json | jfield "d['deleted']")" = True ] &&
	[ "$("$csd" program load $P -s 9 "$prog" --json | jfield "d['state']")" = loaded ] &&
	[ "$("$csd" program activate $P -s 9 --json | jfield "d['state']")" = active ] &&
	[ "$("$csd" program deactivate $P -s 9 --json | jfield "d['state']")" = loaded ] &&
	[ "$("$csd" program unload $P -s 9 --json | jfield "d['state']")" = empty ] &&
	[ "$("$csd" verify "$prog" --json | jfield "d['verified']")" = True ] &&
	[ "$("$csd" gen -s 5 -r 20 -o "$tmp/g2m" 2M --json | jfield "d['alpha']")" = "$want" ] &&
	! "$csd" read $P --slba 8192 --blocks 16 --json >/dev/null 2>"$tmp/why" &&
	grep -q 'read --json needs -O FILE' "$tmp/why"
}
check "--json on write, read, flush, mem, mrs, program, verify and gen (read without -O refused)" json_everywhere
nvme_cli_names() {	# nvme-cli's option names: --block-count is 0's based there, and here
	local blocks
	"$csd" write --traddr 127.0.0.1 --trsvcid $port --start-block 8192 --data "$tmp/j8k" 2>/dev/null &&
	blocks=$("$csd" read --traddr 127.0.0.1 --trsvcid $port --start-block 8192 --block-count 15 \
		 --data "$tmp/n8b" --output-format json | jfield "d['read']['blocks']") &&
	[ "$blocks" = 16 ] && cmp "$tmp/j8k" "$tmp/n8b" &&
	"$csd" id-ns $P --namespace-id 1 --output-format normal | grep -q 'nvm' &&
	! "$csd" list $P --output-format xml 2>"$tmp/why" && grep -q "output-format 'xml'" "$tmp/why"
}
check "nvme-cli's names: --traddr --trsvcid --start-block --block-count (0's based) --data --namespace-id --output-format" nvme_cli_names
# errors that say what was wrong: a subsystem that is not there, memory that does not fit
check "a wrong subsystem NQN: named, and where to look" bash -c \
	"! '$csd' id-ctrl $P -n nqn.2026-01.io.csdlab:nobody 2>'$tmp/why' &&
	 grep -q 'no subsystem nqn.2026-01.io.csdlab:nobody at this address .*csd discover lists' '$tmp/why'"
head -c 65M /dev/zero >"$tmp/z65"
check "a memory write larger than the drive's memory: refused before anything moves, the size said" bash -c \
	"! '$csd' mem write $P --offset 0 -i '$tmp/z65' 2>'$tmp/why' &&
	 grep -q \"memory (SLM) is 67108864 bytes (64 MiB): 68157440 bytes at offset 0 do not fit; nothing moved\" '$tmp/why'"
rm -f "$tmp/z65"
check "csd stats: this host's count of the link and the target's for its association agree" bash -c \
	"'$csd' stats $P --json | python3 -c 'import json, sys; d = json.load(sys.stdin);
assert d[\"link\"][\"bytes_out\"] == d[\"target_link\"][\"association_bytes_in\"], d
assert d[\"link\"][\"bytes_in\"] == d[\"target_link\"][\"association_bytes_out\"], d'"
# decoded log pages, as nvme-cli's smart-log and error-log print them, and in JSON
smart() {	# smart FIELD: a field of the decoded SMART log, from its JSON
	"$csd" log $P --lid 2 --json | python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"
}
check "SMART log decoded: the 2 MiB written are at least 5 data units of 512,000 bytes" bash -c \
	"[ \"\$('$csd' log $P --lid 2 | sed -n 's/^data_units_written *\([0-9]*\) .*/\1/p')\" -ge 5 ]"
errors_before=$(smart num_err_log_entries)
"$csd" program activate $P -s 14 2>/dev/null	# an empty slot: No Program, from the drive
check "SMART log: a failed command is one more error log entry ($errors_before before)" \
	[ "$(smart num_err_log_entries)" = $((errors_before + 1)) ]
check "error log of a new controller: none, in text and JSON" bash -c \
	"'$csd' log $P --lid 1 | grep -q '^no errors logged$' &&
	 [ \"\$('$csd' log $P --lid 1 --json)\" = '{\"errors\": []}' ]"
check "log --raw: the bytes; a SMART length too short to decode: refused, said so" bash -c \
	"'$csd' log $P --lid 2 --raw | head -1 | grep -q '^000000: ' &&
	 ! '$csd' log $P --lid 2 --length 8 2>'$tmp/why' && grep -q 'too short to decode' '$tmp/why'"
# errors that say what to do next, and name what was wrong
check "load into an active slot: Program In Use, and to deactivate it first" bash -c \
	"! '$csd' program load $P -s 2 '$prog' 2>'$tmp/why' && grep -q 'Program In Use' '$tmp/why' &&
	 grep -q 'deactivate it first (csd program deactivate' '$tmp/why'"
check "slot 16: Invalid Program Index, and the slots there are" bash -c \
	"! '$csd' program load $P -s 16 '$prog' 2>'$tmp/why' && grep -q 'slots are 0 to 15' '$tmp/why'"
check "a missing program file is named; a text file is refused before anything is sent" bash -c \
	"! '$csd' program load $P -s 3 '$tmp/none.o' 2>'$tmp/why' &&
	 grep -q \"$tmp/none.o: No such file\" '$tmp/why' &&
	 printf 'not a program' >'$tmp/text.o' && ! '$csd' program load $P -s 3 '$tmp/text.o' 2>'$tmp/why' &&
	 grep -q 'neither an eBPF ELF object' '$tmp/why' && ! '$csd' program list $P | grep -q 'slot  3'"
check "memory write of 3893 bytes: refused, saying dwords" bash -c \
	"head -c 3893 /dev/zero >'$tmp/odd' && ! '$csd' mem write $P --offset 0 -i '$tmp/odd' 2>'$tmp/why' &&
	 grep -q 'whole dwords: .* 3893 bytes' '$tmp/why'"
check "program list shows slot 2 active" bash -c "'$csd' program list $P | grep -q 'slot  2  active'"
check "exec of an empty slot: No Program" bash -c \
	"'$csd' exec $P -s 9 --range 0:4 2>&1 | grep -q 'No Program (NVMe status 0x196)'"
check "another host does not see this host's program" bash -c \
	"'$csd' exec $P --hostnqn nqn.2014-08.org.nvmexpress:uuid:intruder -s 2 --range 0:4 2>&1 |
	 grep -q 'No Program (NVMe status 0x196)' && '$csd' exec $P -s 2 --range 0:4 >/dev/null"
printf '\xff\0\0\0\0\0\0\0\x95\0\0\0\0\0\0\0' >"$tmp/bad.bin"
check "activation refused, with the drive's reason" bash -c \
	"'$csd' program load $P -s 3 '$tmp/bad.bin' && ! '$csd' program activate $P -s 3 2>'$tmp/why'; \
	 grep -q 'Invalid Program Data' '$tmp/why' && grep -q 'the drive says: program 3 refused: instruction 0' '$tmp/why'"
features="$CSD_BUILD_ROOT/tests/runtime_features.bpf.o"
check "an object with several programs: refused without a name, taken with one" bash -c \
	"'$csd' program load $P -s 4 '$features' && ! '$csd' program activate $P -s 4 2>'$tmp/why' &&
	 grep -q 'several programs match' '$tmp/why' &&
	 '$csd' program load $P -s 4 '$features' --name read_past_end &&
	 '$csd' program activate $P -s 4 &&
	 '$csd' exec $P -s 4 --range 0:16 2>&1 | grep -q 'program 4 stopped: pc 1 (ldxb %r0, \[%r1+0\]): 1-byte read'"
check "stats count the program runs" bash -c "'$csd' stats $P --json | grep -q '\"program_executions\": 5'"
check "a bad option names itself" bash -c "'$csd' read $P --slba 0 --blocks zz 2>&1 | grep -q \"blocks 'zz'\""
check "no target: a clear error, and what to do" bash -c "'$csd' id-ctrl -p 1 2>&1 | grep -q 'cannot connect to 127.0.0.1:1' &&
	'$csd' id-ctrl -p 1 2>&1 | grep -q 'nothing listens there: start a drive (csd-target -p PORT)'"
check "a read past the namespace's end: refused before anything is read, the blocks there said" bash -c \
	"! '$csd' read $P --slba 32760 --blocks 16 -O '$tmp/past' 2>'$tmp/why' &&
	 grep -q \"16 blocks from LBA 32760 are past the end of the namespace's 32768 blocks (0-32767): nothing read\" '$tmp/why'"

# SIGKILL after a Flush: the data is on the file and comes back after a restart
kill -9 $pid; wait $pid 2>/dev/null; pid=
start_target --file "$tmp/nvm.img" --size 16M --allow-unverified
P="-p $port"
check "after SIGKILL and a restart, the flushed data reads back" bash -c \
	"'$csd' read $P --slba 0 --blocks 4096 -O '$tmp/again' && cmp '$tmp/text' '$tmp/again'"
kill -TERM $pid; wait $pid; status=$?; pid=
check "SIGTERM: a clean stop with the traffic printed" bash -c \
	"[ $status = 0 ] && grep -q 'csd-target: link:' '$tmp/target.2.err' &&
	 grep -q 'csd-target: stopped' '$tmp/target.2.err'"

# the NVM namespace in memory (--memory), as SPDK's Malloc bdev: the same session, nothing kept
start_target --memory --size 16M --allow-unverified
P="-p $port"
check "--memory: says where the data is; write, flush, read back; the offload's counts" bash -c \
	"grep -q 'NVM data in memory (lost when csd-target stops)' '$tmp/target.out' &&
	 $(declare -f roundtrip offload); csd='$csd' tmp='$tmp' P='$P' prog='$prog' want='$want';
	 roundtrip && offload"
kill -TERM $pid; wait $pid; pid=
start_target --memory --size 16M
P="-p $port"
check "--memory: a new csd-target starts empty (the first 2 MiB read back as zeroes)" bash -c \
	"'$csd' read $P --slba 0 --blocks 4096 -O '$tmp/empty' && cmp '$tmp/empty' <(head -c 2097152 /dev/zero)"
kill -TERM $pid; wait $pid; pid=

# bad values of csd-target's options: refused at start, naming the option and the value
bad_flag() {	# bad_flag "what the message says" ARGS...
	local says=$1
	shift
	! timeout 5 "$target" -p 0 "$@" >/dev/null 2>"$tmp/flag.err" && grep -qF -- "$says" "$tmp/flag.err"
}
printf '# hosts\nnqn.h1\n' >"$tmp/keys.short"
printf 'nqn.h1 DHHC-1:01:bm90LWEta2V5:\n' >"$tmp/keys.bad"
printf 'nqn.h1 DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR: dhgroup=ffdhe1000\n' \
	>"$tmp/keys.group"
for args in "--engine lisp|--engine 'lisp'" "--host-max-programs many|--host-max-programs 'many'" \
	    "--host-max-slm -1|--host-max-slm '-1'" "--slow-client-ms 5|--slow-client-ms '5': 100 to" \
	    "--dhchap-hash md5|--dhchap-hash 'md5'" "--dhchap-dhgroup ffdhe1024|--dhchap-dhgroup 'ffdhe1024'" \
	    "--dhchap-keys $tmp/nothing|$tmp/nothing: No such file" \
	    "--dhchap-keys $tmp/keys.short|keys.short:2: 'HOSTNQN SECRET [CTRL-SECRET] [hash=H] [dhgroup=G]' expected" \
	    "--dhchap-keys $tmp/keys.group|host nqn.h1: DH group 'ffdhe1000'" \
	    "--dhchap-keys $tmp/keys.bad|host nqn.h1: DHHC-1 secret: 12 base64 characters" \
	    "--port 70000|--port '70000'" "--lba-size 1000|--lba-size '1000'" \
	    "--busy-poll-us soon|--busy-poll-us 'soon'" \
	    "--memory --file $tmp/x.img|--memory and --file: the NVM data is in one or the other"; do
	check "csd-target ${args%%|*}: refused, the message names it" bad_flag "${args#*|}" ${args%%|*}
done

# DH-HMAC-CHAP with the CLI: secrets as nvme-cli makes them, the right one gets in
hostnqn=nqn.2014-08.org.nvmexpress:uuid:csdlab-cli-test
check "gen-dhchap-key: nvme-cli's key for the same secret and NQN" bash -c \
	"[ \"\$('$csd' gen-dhchap-key -m 1 -n nqn.test -s 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f)\" = \
	   DHHC-1:01:vb3shNpwt6PnRJ3wYKwspZpHfeAH17cXc1fDwlzRPrxJu191: ]"
if command -v nvme >/dev/null; then
	check "nvme-cli accepts csd's random keys (check-dhchap-key), each hash" bash -c \
		"for m in 0 1 2 3; do nvme check-dhchap-key -k \$('$csd' gen-dhchap-key -m \$m -n $hostnqn) | grep -q 'Key is valid' || exit 1; done"
	check "csd check-dhchap-key accepts nvme-cli's keys" bash -c \
		"'$csd' check-dhchap-key \$(nvme gen-dhchap-key -m 2 -n $hostnqn) | grep -q 'valid: 48-byte key, sha384'"
else
	echo "# skipped: nvme-cli is not installed (its keys are not cross-checked)"
fi
check "check-dhchap-key: a mistyped key is refused" bash -c \
	"! '$csd' check-dhchap-key DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS: 2>'$tmp/why' &&
	 grep -q 'CRC mismatch' '$tmp/why'"
key=$("$csd" gen-dhchap-key -m 1 -n $hostnqn)
ckey=$("$csd" gen-dhchap-key -m 3 -n nqn.2026-01.io.csdlab:drive0)
wrong=$("$csd" gen-dhchap-key -m 1 -n $hostnqn)
echo "$hostnqn $key $ckey" >"$tmp/keys"
chmod 600 "$tmp/keys"
start_target --size 16M --dhchap-keys "$tmp/keys" -v
A="-p $port --hostnqn $hostnqn"
check "dhchap: the right secret (and the controller's) gets in" bash -c \
	"'$csd' id-ctrl $A --dhchap-secret '$key' --dhchap-ctrl-secret '$ckey' | grep -q '^model      csdlab$'"
check "dhchap: a wrong secret is refused, and said so" bash -c \
	"! '$csd' id-ctrl $A --dhchap-secret '$wrong' 2>'$tmp/why' &&
	 grep -q 'refused authentication: authentication failed' '$tmp/why'"
check "dhchap: no secret is refused, and said so" bash -c \
	"! '$csd' id-ctrl $A 2>'$tmp/why' && grep -q 'requires authentication (DH-HMAC-CHAP)' '$tmp/why'"
check "dhchap: a host not in the keys file may not connect" bash -c \
	"! '$csd' id-ctrl -p $port --dhchap-secret '$key' 2>'$tmp/why' &&
	 grep -q 'the target does not allow host .* (Connect Invalid Host)' '$tmp/why'"
check "dhchap: the target logged the failure" grep -q 'authentication of .* failed' "$tmp/target.$starts.err"
# SIGHUP: the keys file read again, a new secret replaces the old; a broken file changes nothing
new=$("$csd" gen-dhchap-key -m 1 -n $hostnqn)
echo "$hostnqn $new" >"$tmp/keys"
kill -HUP $pid
for _ in $(seq 50); do grep -q 'SIGHUP: 1 host secrets' "$tmp/target.$starts.err" && break; sleep 0.05; done
check "SIGHUP: the new secret gets in" bash -c \
	"'$csd' id-ctrl $A --dhchap-secret '$new' | grep -q '^model      csdlab$'"
check "SIGHUP: the old secret no longer does" bash -c \
	"! '$csd' id-ctrl $A --dhchap-secret '$key' 2>'$tmp/why' && grep -q 'authentication failed' '$tmp/why'"
echo "$hostnqn DHHC-1:01:broken:" >"$tmp/keys"
kill -HUP $pid
for _ in $(seq 50); do grep -q 'keeping the host secrets in use' "$tmp/target.$starts.err" && break; sleep 0.05; done
check "SIGHUP with a broken file: named, and the secrets in use kept" bash -c \
	"grep -q 'host $hostnqn: DHHC-1 secret: 6 base64 characters' '$tmp/target.$starts.err' &&
	 '$csd' id-ctrl $A --dhchap-secret '$new' | grep -q '^model      csdlab$'"

kill $pid; wait $pid 2>/dev/null; pid=

# issue 17: an existing backing file is never shortened, and never silently resized
head -c 2M /dev/urandom >"$tmp/big.img"
cp "$tmp/big.img" "$tmp/big.orig"
start_target --file "$tmp/big.img"
check "a 2 MiB file without --size: a 2 MiB namespace" bash -c \
	"'$csd' id-ns -p $port -N 1 --json | grep -q '\"bytes\": 2097152'"
check "... whose last block is the file's" bash -c \
	"'$csd' read -p $port --slba 4095 --blocks 1 -O '$tmp/last' && cmp '$tmp/last' <(tail -c 512 '$tmp/big.orig')"
kill $pid; wait $pid 2>/dev/null; pid=
check "... and the file is as it was" cmp "$tmp/big.img" "$tmp/big.orig"
check "--size below the file's size is refused, saying so, the file untouched" bash -c \
	"! '$target' -p 0 --file '$tmp/big.img' --size 1M 2>'$tmp/why' &&
	 grep -q 'is 2097152 bytes, more than the namespace size 1048576: an existing backing file is never shortened' '$tmp/why' &&
	 cmp '$tmp/big.img' '$tmp/big.orig'"
head -c 32K /dev/urandom >"$tmp/small.img"
start_target --file "$tmp/small.img"
kill $pid; wait $pid 2>/dev/null; pid=
check "a 32 KiB file without --size stays 32 KiB" bash -c "[ \$(stat -c %s '$tmp/small.img') = 32768 ]"
start_target --file "$tmp/small.img" --size 4M
kill $pid; wait $pid 2>/dev/null; pid=
check "--size above it grows it, and the log says so" bash -c \
	"[ \$(stat -c %s '$tmp/small.img') = 4194304 ] &&
	 grep -q 'growing $tmp/small.img from 32768 to 4194304 bytes' '$tmp/target.$starts.err'"
# a target that cannot listen leaves no scratch file behind
start_target --size 1M
busy=$port
mkdir -p "$tmp/scratch"	# its own TMPDIR: other tests' targets come and go in /tmp
check "a target that cannot listen leaves no temporary backing file" bash -c \
	"! TMPDIR='$tmp/scratch' '$target' -p $busy --size 1M 2>'$tmp/why' &&
	 grep -q 'cannot listen' '$tmp/why' && [ -z \"\$(ls -A '$tmp/scratch')\" ]"
kill $pid; wait $pid 2>/dev/null; pid=

# issue 17: timeouts: a port that accepts and never answers, a closed port, a command that hangs
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$tmp/mute.port" &
mute=$!
for _ in $(seq 100); do [ -s "$tmp/mute.port" ] && break; sleep 0.05; done
check "a port that accepts and never answers: given up after the connect timeout, said so" bash -c \
	"t0=\$(date +%s%N); ! '$csd' list -p \$(cat '$tmp/mute.port') --connect-timeout 500 2>'$tmp/why' &&
	 [ \$(( (\$(date +%s%N) - t0) / 1000000 )) -lt 3000 ] &&
	 grep -q 'accepted the connection but sent no ICResp in 500 ms (the connect timeout)' '$tmp/why'"
kill $mute 2>/dev/null
check "nothing listening: refused at once, said so" bash -c \
	"! '$csd' list -p \$(cat '$tmp/mute.port') 2>'$tmp/why' && grep -q 'Connection refused' '$tmp/why'"
start_target --size 1M --allow-unverified
printf 'mov %%r0, 0\nloop:\njne %%r0, 1, loop\nexit\n' >"$tmp/spin.s"
"$csd" asm -o "$tmp/spin.bin" "$tmp/spin.s"
"$csd" program load -p $port -s 3 "$tmp/spin.bin" && "$csd" program activate -p $port -s 3
check "a command the drive never answers: given up after --timeout, said so" bash -c \
	"t0=\$(date +%s%N); ! '$csd' exec -p $port -s 3 --range 0:4 --timeout 700 2>'$tmp/why' &&
	 [ \$(( (\$(date +%s%N) - t0) / 1000000 )) -lt 5000 ] &&
	 grep -q 'no answer from the drive within the command timeout' '$tmp/why'"
kill $pid; wait $pid 2>/dev/null; pid=

# issue 17: csd write checks the range first, streams the file, and says what Ctrl-C left
start_target --file "$tmp/intr.img" --size 64M
head -c 1M /dev/urandom >"$tmp/first.bin"
head -c 65M /dev/urandom >"$tmp/toobig.bin"
"$csd" write -p $port --slba 0 -i "$tmp/first.bin" 2>/dev/null
check "a file larger than the namespace: refused before anything is written" bash -c \
	"! '$csd' write -p $port --slba 0 -i '$tmp/toobig.bin' 2>'$tmp/why' &&
	 grep -q 'its 133120 blocks from LBA 0 do not fit the namespace.s 131072 blocks (0-131071): nothing written' '$tmp/why' &&
	 '$csd' read -p $port --slba 0 --blocks 2048 -O '$tmp/back' && cmp '$tmp/back' '$tmp/first.bin'"
check "a write says what it wrote" bash -c \
	"'$csd' write -p $port --slba 8 -i '$tmp/first.bin' 2>'$tmp/why' &&
	 grep -q 'wrote 2048 blocks (1.0 MiB) at LBA 8 in' '$tmp/why'"
check "a read says what it read" bash -c \
	"'$csd' read -p $port --slba 8 --blocks 2048 -O '$tmp/back' 2>'$tmp/why' &&
	 grep -q 'read 2048 blocks (1.0 MiB) from LBA 8 in .* s, .* MB/s; on the link [0-9]* bytes to the drive, [0-9]* from it' '$tmp/why' &&
	 from=\$(sed -n 's/.* bytes to the drive, \\([0-9]*\\) from it/\\1/p' '$tmp/why') &&
	 [ \$from -ge 1048576 ] && [ \$from -lt 1200000 ]"
head -c 48M /dev/urandom >"$tmp/big.bin"
# ctrl_c_when PID TEST...: the target (started stopped) runs in 10 ms slices until TEST holds,
# then PID gets Ctrl-C while the target is stopped in the middle of its transfer, however fast
# the link is; then the target runs on.
ctrl_c_when() {
	local who=$1
	shift
	for _ in $(seq 1000); do
		kill -CONT $pid; sleep 0.01; kill -STOP $pid
		"$@" && break
	done
	kill -INT $who; sleep 0.3; kill -CONT $pid
}
# a write: Ctrl-C once the first block of the file is on the drive
kill -STOP $pid
"$csd" write -p $port --slba 0 -i "$tmp/big.bin" 2>"$tmp/intr" &
writer=$!
ctrl_c_when $writer cmp -s -n 512 "$tmp/intr.img" "$tmp/big.bin"
wait $writer
status=$?
acked=$(sed -n 's/.*interrupted: \([0-9]*\) of 98304 blocks written and acknowledged.*/\1/p' "$tmp/intr")
back=${acked:-0}
check "Ctrl-C during a write: exit 130, how many blocks were acknowledged (${acked:-?}), and they read back" bash -c \
	"[ $status = 130 ] && [ -n '$acked' ] && [ '$acked' -lt 98304 ] &&
	 { [ $back = 0 ] || { '$csd' read -p $port --slba 0 --blocks $back -O '$tmp/back' &&
	   cmp '$tmp/back' <(head -c \$(( $back * 512 )) '$tmp/big.bin'); }; }"
# the same for a read: Ctrl-C once the first data is out
kill -STOP $pid
"$csd" read -p $port --slba 0 --blocks 98304 -O "$tmp/rint" 2>"$tmp/rintr" &
reader=$!
ctrl_c_when $reader test -s "$tmp/rint"
wait $reader
rstatus=$?
rdone=$(sed -n 's/.*read interrupted: \([0-9]*\) of 98304 blocks read.*/\1/p' "$tmp/rintr")
check "Ctrl-C during a read: exit 130, what was read (${rdone:-?} blocks) written out and said" bash -c \
	"[ $rstatus = 130 ] && [ -n '$rdone' ] && [ '$rdone' -lt 98304 ] &&
	 [ \$(stat -c %s '$tmp/rint') = \$(( ${rdone:-0} * 512 )) ] &&
	 cmp '$tmp/rint' <(head -c \$(( ${rdone:-0} * 512 )) '$tmp/intr.img')"
kill $pid; wait $pid 2>/dev/null; pid=
rm -f "$tmp/toobig.bin" "$tmp/big.bin" "$tmp/intr.img" "$tmp/rint"

# issue 21: the drive named once in a configuration file (as nvme-cli has /etc/nvme)
start_target --size 1M --allow-host nqn.2014-08.org.nvmexpress:uuid:cfg-test
printf '# the test drive\nport %s   # its port\nhostnqn nqn.2014-08.org.nvmexpress:uuid:cfg-test\n' \
	"$port" >"$tmp/csd.conf"
check "a configuration file names the drive and the host: no connection options needed" bash -c \
	"CSD_CONFIG='$tmp/csd.conf' '$csd' id-ctrl | grep -q '^model      csdlab$'"
check "options on the command line override the file (another host NQN: refused by the allow list)" bash -c \
	"! CSD_CONFIG='$tmp/csd.conf' '$csd' id-ctrl --hostnqn nqn.2014-08.org.nvmexpress:uuid:other 2>/dev/null"
for i in $(seq 17); do echo "port $port"; done >"$tmp/long.conf"
check "a configuration file of more options than a connection has: refused, said so" bash -c \
	"! CSD_CONFIG='$tmp/long.conf' '$csd' id-ctrl 2>'$tmp/why' &&
	 grep -q 'long.conf:17: more than 16 options: a connection needs fewer' '$tmp/why'"
printf 'colour blue\n' >"$tmp/bad.conf"
check "a wrong line in the file: refused, naming the file, the line and what is allowed" bash -c \
	"! CSD_CONFIG='$tmp/bad.conf' '$csd' id-ctrl 2>'$tmp/why' &&
	 grep -q \"bad.conf:1: 'colour': expected one of addr, port\" '$tmp/why' &&
	 CSD_CONFIG='$tmp/bad.conf' '$csd' id-ctrl --help >/dev/null"
printf 'port %s\nhostnqn nqn.2014-08.org.nvmexpress:uuid:cfg-test\ndhchap-secret DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:\n' \
	"$port" >"$tmp/secret.conf"
chmod 644 "$tmp/secret.conf"
check "a secret in a file others may read: a warning that says chmod 600" bash -c \
	"CSD_CONFIG='$tmp/secret.conf' '$csd' id-ctrl >/dev/null 2>'$tmp/why';
	 grep -q 'holds a DH-HMAC-CHAP secret and others may read it (chmod 600' '$tmp/why'"
kill $pid; wait $pid 2>/dev/null; pid=

# issue 21: no block cap; a streaming offload over any range, its results combined as asked;
# memory copies larger than the drive takes in one command
start_target --size 320M --slm-size 320M
count48=$("$csd" gen -s 9 -r 20 -o "$tmp/t48" 48M)
"$csd" write -p $port --slba 0 -i "$tmp/t48" 2>/dev/null
"$csd" program load -p $port -s 2 "$prog" && "$csd" program activate -p $port -s 2
check "read of 98304 blocks (more than 65536) in one call: the same bytes" bash -c \
	"'$csd' read -p $port --slba 0 --blocks 98304 -O '$tmp/b48' && cmp '$tmp/b48' '$tmp/t48'"
check "a stream over 98304 blocks: the generator's count ($count48), on several engines and on one" bash -c \
	"[ \"\$('$csd' exec -p $port -s 2 --slba 0 --blocks 98304 --overlap 4)\" = $count48 ] &&
	 [ \"\$('$csd' exec -p $port -s 2 --slba 0 --blocks 98304 --overlap 4 --sequential)\" = $count48 ]"
combined() {	# combined OP [--sequential]: the windows' OP over 1 MiB windows, no overlap
	"$csd" exec -p $port -s 2 --slba 0 --blocks 98304 --window 1M --combine "$@"
}
min_max_mean() {
	local lo hi sum
	lo=$(combined min) && hi=$(combined max) && sum=$(combined sum) &&
	echo "# min $lo max $hi sum $sum" &&
	[ "$lo" -lt "$hi" ] && [ $((lo * 48)) -le "$sum" ] && [ "$sum" -le $((hi * 48)) ] &&
	[ "$(combined min --sequential)" = "$lo" ] && [ "$(combined max --sequential)" = "$hi" ]
}
check "--combine min and max: min <= the mean <= max, the same on one engine" min_max_mean
check "--combine avg: refused, named" bash -c \
	"! '$csd' exec -p $port -s 2 --slba 0 --blocks 8 --combine avg 2>'$tmp/why' &&
	 grep -q \"\-\-combine 'avg' is not a valid value\" '$tmp/why'"
head -c 1M "$tmp/t48" >"$tmp/t1"
"$csd" write -p $port --slba 600000 -i "$tmp/t1" 2>/dev/null	# past 256 MiB
check "mem copy of 300 MiB (the drive takes 256 MiB per command): split, all of it there" bash -c \
	"'$csd' mem copy -p $port --dst 0 --slba 0 --blocks 614400 &&
	 '$csd' mem read -p $port --offset 0 --length 48M -O '$tmp/m48' && cmp '$tmp/m48' '$tmp/t48' &&
	 '$csd' mem read -p $port --offset $((600000 * 512)) --length 1M -O '$tmp/m1' &&
	 cmp '$tmp/m1' '$tmp/t1'"
kill $pid; wait $pid 2>/dev/null; pid=
rm -f "$tmp/t48" "$tmp/b48" "$tmp/m48" "$tmp/t1" "$tmp/m1"

# issue 17: file descriptors used up: the target sheds and pauses instead of spinning
printf '#!/bin/bash\nulimit -n 48\nexec "%s" "$@"\n' "$target" >"$tmp/target-48fds"
chmod +x "$tmp/target-48fds"
target="$tmp/target-48fds" start_target --size 1M --max-connections 1000 --slow-client-ms 5000 -v
python3 -c 'import socket, sys, time
held = []
for _ in range(80):
    s = socket.socket(); s.connect(("127.0.0.1", int(sys.argv[1]))); held.append(s)
time.sleep(4)' $port &
flood=$!
# measure once the target has run out (on a loaded machine the 80 connects take a while)
for _ in $(seq 50); do
	grep -q 'out of file descriptors' "$tmp/target.$starts.err" && break
	sleep 0.1
done
sleep 0.3
cpu() { awk '{ print $14 + $15 }' /proc/$pid/stat; }
c0=$(cpu); sleep 1; c1=$(cpu)
check "out of descriptors under 80 connections: the target does not spin ($((c1 - c0)) ticks of 100 in 1 s)" \
	[ $((c1 - c0)) -lt 10 ]
wait $flood
check "... said so, and serves a new host once they are gone" bash -c \
	"grep -q 'out of file descriptors' '$tmp/target.$starts.err' &&
	 '$csd' id-ctrl -p $port | grep -q '^model      csdlab$'"
kill $pid; wait $pid 2>/dev/null; pid=

# when anything failed, what the target said helps most
[ "$failed" -eq 0 ] || tail -n 40 "$tmp"/target.*.err | sed 's/^/# target: /'
finish
