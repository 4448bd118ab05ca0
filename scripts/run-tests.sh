#!/usr/bin/env bash
# Runs every test of one build directory and ends with the line "N passed, N failed, N skipped",
# counting each TAP case. Exits non-zero when anything failed.
set -uo pipefail
build=${1:-build}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
meson test -C "$build" --print-errorlogs --num-processes 2 >"$build/meson-test.out" 2>&1
status=$?
grep -E '^ *[0-9]+/[0-9]+ ' "$build/meson-test.out"
[ $status -eq 0 ] || sed -n '/^--- /,$p' "$build/meson-test.out" | head -200
python3 "$(dirname "$0")/test-summary.py" "$build/meson-logs/testlog.json"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
