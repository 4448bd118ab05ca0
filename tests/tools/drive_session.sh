# Sourced by the tests that run the csd CLI's session against a drive (csd-target in
# test_drive_cli.sh, csd-spdk-tgt in tests/spdk/test_spdk.sh): the same commands and the
# same exact outcomes, whichever target serves the drive. Uses $csd, $prog, $tmp and $P (the
# connection options); drive_session_text sets $want, the generator's count of "Alpha".
drive_session_text() {
	want=$("$csd" gen -s 5 -r 20 -o "$tmp/text" 2M)
}

# write 2 MiB, flush, read it back: the same bytes
roundtrip() {
	"$csd" write $P --slba 0 -i "$tmp/text" && "$csd" flush $P &&
	"$csd" read $P --slba 0 --blocks 4096 -O "$tmp/back" && cmp "$tmp/text" "$tmp/back"
}

# load and activate count_alpha, copy the text into memory, execute it over the range and as
# a stream, and the built-in count_byte: the generator's count
offload() {
	local a b c
	"$csd" program load $P -s 2 "$prog" && "$csd" program activate $P -s 2 &&
	"$csd" mem copy $P --dst 0 --slba 0 --blocks 4096 &&
	a=$("$csd" exec $P -s 2 --range 0:2M) &&
	b=$("$csd" exec $P -s 2 --slba 0 --blocks 4096 --overlap 4 --window 256K) &&
	c=$("$csd" exec $P -s 0 --range 0:2M --p1 65) &&	# built-in count_byte of 'A'
	echo "generator $want, exec $a, stream $b, A bytes $c" &&
	[ "$a" = "$want" ] && [ "$b" = "$want" ] && [ "$c" -ge "$want" ]
}
