# Sourced by the shell tests: `check "description" command...` prints one TAP line, with the
# command's output as comments when it fails; `finish` prints the plan and the exit status.
n=0
failed=0

check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>"$tmp/err"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		sed 's/^/# /' "$tmp/out" "$tmp/err" | head -20
		failed=$((failed + 1))
	fi
}

finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
