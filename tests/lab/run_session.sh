# Sourced by the lab tests: run_session SCRIPT PORT runs lab/SCRIPT against this build into
# $log, or prints the TAP skip (QEMU or the kernel missing: exit 77) and exits.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/../tools/tap.sh"
log="$tmp/session.txt"

run_session() {
	CSD_LAB_PORT=$2 bash "$CSD_SOURCE_ROOT/lab/$1" "$CSD_BUILD_ROOT" >"$log" 2>&1
	if [ $? = 77 ]; then
		echo "1..0 # SKIP skipped: $(tail -1 "$log")"
		exit 0
	fi
}
