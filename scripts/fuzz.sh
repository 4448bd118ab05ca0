#!/usr/bin/env bash
# libFuzzer runs of the targets in fuzz/: builds them with clang (ASan+UBSan) in build-fuzz/,
# then runs each from its seed corpus (fuzz/corpus/<target>) for SECONDS, new inputs going
# to build-fuzz/corpus/, then the verifier's soundness fuzzer (fuzz/sound) for SECONDS * 500
# programs (SOUND_PROGRAMS=N to choose, SOUND_SEED=S for its first seed). TAP output; a crash
# fails and leaves its reproducer in build-fuzz/.
#   scripts/fuzz.sh [SECONDS]      (make fuzz: 300 each; make check: a short run)
set -uo pipefail
seconds=${1:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build-fuzz"

if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	echo "1..0 # SKIP skipped: clang's libFuzzer runtime (libclang-rt-dev) is not installed"
	exit 0
fi
if [ ! -f "$out/build.ninja" ]; then
	CC=clang meson setup "$out" "$root" -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false >"$out.setup.log" 2>&1 || { echo "Bail out! meson setup failed"; exit 1; }
fi
ninja -C "$out" fuzz/fuzz_asm fuzz/fuzz_elf fuzz/fuzz_vm fuzz/fuzz_device fuzz/fuzz_pdu \
	fuzz/sound/csd-soundness >"$out.build.log" 2>&1 ||
	{ echo "Bail out! the fuzz targets do not build"; tail -20 "$out.build.log" | sed 's/^/# /'; exit 1; }

n=0 failed=0
for t in asm elf vm device pdu; do
	n=$((n + 1))
	mkdir -p "$out/corpus/$t"
	log="$out/fuzz_$t.log"
	( cd "$out" && UBSAN_OPTIONS=halt_on_error=1 "$out/fuzz/fuzz_$t" -max_total_time="$seconds" \
		-rss_limit_mb=4096 -print_final_stats=1 "$out/corpus/$t" "$root/fuzz/corpus/$t" ) >"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $status -eq 0 ]; then
		echo "ok $n - fuzz_$t: ${runs:-?} executions in ${seconds} s, no crash"
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz_$t (exit $status)"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/# /'
	fi
done
# the verifier's soundness fuzzer, under ASan+UBSan: about 500 programs a second here
n=$((n + 1))
programs=${SOUND_PROGRAMS:-$((seconds * 500))}
log="$out/soundness.log"
mkdir -p "$out/sound-findings"
UBSAN_OPTIONS=halt_on_error=1 "$out/fuzz/sound/csd-soundness" -n "$programs" -s "${SOUND_SEED:-$RANDOM$RANDOM}" \
	-o "$out/sound-findings" >"$log" 2>&1
if [ $? -eq 0 ]; then
	echo "ok $n - csd-soundness: $(tail -1 "$log")"
else
	failed=$((failed + 1))
	echo "not ok $n - csd-soundness: $(tail -1 "$log") (findings in $out/sound-findings: keep them in fuzz/corpus/sound)"
	grep '^# UNSOUND' "$log" | head -5
fi
echo "1..$n"
[ $failed -eq 0 ]
