#!/usr/bin/env bash
# The Alpha experiment end to end on 16 MiB: csd-target started by bench/alpha (with the
# argument spdk: csd-spdk-tgt, the drive inside SPDK's nvmf_tgt), the baseline and both
# offloads; exact counts (alpha itself fails on any mismatch between the three counts, the
# generator's, and between the two ends' byte counts), and the link bytes of each query.
set -uo pipefail
target=()
if [ "${1:-}" = spdk ]; then
	if [ -z "${2:-}" ]; then
		echo "1..0 # SKIP skipped: ${3:-SPDK is not built (make spdk)}"
		exit 0
	fi
	target=(--target spdk)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../tools/tap.sh"

run() {
	cd "$tmp" && "$CSD_BUILD_ROOT/bench/alpha" "${target[@]}" --size 16M --seed 3 --rate 20 \
		--window 1M --out "$tmp/results" >"$tmp/table.txt"
}
check "alpha on 16 MiB: all counts equal the generator's, both ends agree" run
json="$tmp/results/latest.json"
get() {	# get PYTHON_EXPRESSION_ON_d: a value from latest.json
	python3 -c "import json; d = json.load(open('$json')); print($1)" 2>/dev/null
}
exp=$(get "d['expected_count']")
c0=$(get "d['queries'][0]['count']"); c1=$(get "d['queries'][1]['count']"); c2=$(get "d['queries'][2]['count']")
base_in=$(get "d['queries'][0]['drive_to_host']")
win_out=$(get "d['queries'][1]['host_to_drive']"); win_in=$(get "d['queries'][1]['drive_to_host']")
stream=$(get "d['queries'][2]['host_to_drive'] + d['queries'][2]['drive_to_host']")
moved=$(get "d['queries'][2]['moved_inside']")
g_host=$(get "d['queries'][3]['count']"); g_drive=$(get "d['queries'][4]['count']")
g_in=$(get "d['queries'][4]['drive_to_host']")
echo "# generator $exp; counts $c0 $c1 $c2; baseline in $base_in; windows $win_out/$win_in; stream $stream"
check "the three counts are the generator's" [ -n "$exp" -a "$exp" = "$c0" -a "$exp" = "$c1" -a "$exp" = "$c2" ]
check "baseline: at least the file crossed the link" [ "${base_in:-0}" -ge 16777216 ]
check "host-driven offload: under 8 KiB each way" [ "${win_out:-99999}" -lt 8192 -a "${win_in:-99999}" -lt 8192 ]
check "streaming offload: under 1 KiB in all" [ "${stream:-99999}" -lt 1024 ]
check "inside the drive the file moved instead" [ "${moved:-0}" -ge 16777216 ]
check "grep: the drive returned the host's matching lines, less than the file" \
	[ -n "$g_host" -a "$g_host" = "$g_drive" -a "${g_host:-0}" -gt 0 -a "${g_in:-99999999}" -lt 16777216 ]
check "three rounds: each query's median time between its fastest and slowest" \
	[ "$(get "all(q['runs'] == 3 and q['seconds_min'] <= q['seconds'] <= q['seconds_max'] for q in d['queries'])")" = True ]
check "the transfer alone and loopback TCP, measured in the same run" \
	[ "$(get "d['transfer']['read_only_mb_s'] > 0 and d['transfer']['loopback_tcp_mb_s'] > 0")" = True ]
check "the table says what share of loopback TCP the transfer took" \
	grep -q '% of what loopback TCP carried in this run' "$tmp/table.txt"
check "the transfer: 7 pairs in turns, the median ratio between the fastest and slowest pair's" \
	[ "$(get "d['transfer']['pairs'] == 7 and d['transfer']['ratio_min'] <= d['transfer']['ratio'] <= d['transfer']['ratio_max'] and d['transfer']['host_cpu_seconds'] > 0")" = True ]
transfer_only() {
	cd "$tmp" && "$CSD_BUILD_ROOT/bench/alpha" "${target[@]}" --size 8M --transfer-only \
		--out "$tmp/transfer" >"$tmp/transfer.txt" &&
	[ "$(wc -l <"$tmp/transfer.txt")" = 2 ] && grep -q '^transfer: reading 8 MB over NVMe/TCP' "$tmp/transfer.txt" &&
	grep -q "^transfer: CPU time of one NVMe/TCP pass (medians): the host's reading thread [0-9.]* s, the target [0-9.]* s" "$tmp/transfer.txt"
}
check "--transfer-only: no queries, only the transfer's lines (rate, CPU time)" transfer_only
direct() {
	cd "$tmp" && "$CSD_BUILD_ROOT/bench/alpha" "${target[@]}" --size 8M --direct --out "$tmp/direct" >"$tmp/direct.txt" &&
	grep -q 'generated straight into the backing file' "$tmp/direct.txt"
}
check "--direct: generated into the backing file, the same checks pass" direct
check "--engines 1: one engine thread, the same exact counts" bash -c \
	"cd '$tmp' && '$CSD_BUILD_ROOT/bench/alpha' ${target[*]:-} --size 8M --direct --engines 1 \
	 --out '$tmp/one' >/dev/null"
check "--repeat 21: refused" bash -c \
	"! '$CSD_BUILD_ROOT/bench/alpha' --repeat 21 2>'$tmp/why' && grep -q 'repeat up to' '$tmp/why'"
check "--engines 0: refused" bash -c \
	"! '$CSD_BUILD_ROOT/bench/alpha' --engines 0 2>'$tmp/why' && grep -q \"'0' is not a valid value\" '$tmp/why'"
check "a table, a JSON file and a chart" bash -c \
	"grep -q 'offload (drive streams)' '$tmp/table.txt' && ls '$tmp'/results/*.json | grep -qv latest &&
	 { ! command -v gnuplot >/dev/null || ls '$tmp'/results/*.png >/dev/null; }"
finish
