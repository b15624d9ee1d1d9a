#!/bin/bash
# Every malformed scenario in tests/data/bad must be refused by
# `chaoslab validate` with exit status 2 and exactly the one stderr line its
# entry in tests/data/bad/EXPECTED gives:
#
#	<file name><TAB><stderr line>
#
# The test runs from inside tests/data/bad and passes bare file names, so the
# expected lines do not depend on where the tree lives.
#
# To add a case: write the file, run `chaoslab validate FILE` on it there,
# check that the message is one a user would find clear (fix the loader if
# not), and add the line to EXPECTED (kept sorted by file name).
set -u

: "${CHAOSLAB_BIN:?CHAOSLAB_BIN must name the chaoslab binary}"
: "${CHAOSLAB_SRC:?CHAOSLAB_SRC must name the source tree}"

dir="$CHAOSLAB_SRC/tests/data/bad"
manifest="$dir/EXPECTED"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

cd "$dir" || exit 1
if [ ! -f "$manifest" ]; then
	echo "FAIL: $manifest is missing"
	exit 1
fi

pass=0
fail=0
declare -A expected

while IFS=$'\t' read -r name line; do
	[ -z "$name" ] && continue
	if [ -n "${expected[$name]+set}" ]; then
		echo "FAIL: EXPECTED lists '$name' twice"
		fail=$((fail + 1))
	fi
	expected[$name]=$line
done <"$manifest"

# Files without an entry, and entries without a file.
for f in *; do
	[ "$f" = EXPECTED ] && continue
	if [ -z "${expected[$f]+set}" ]; then
		echo "FAIL: $f has no line in EXPECTED"
		fail=$((fail + 1))
	fi
done
for name in "${!expected[@]}"; do
	if [ ! -f "$name" ]; then
		echo "FAIL: EXPECTED names '$name', which is not in tests/data/bad"
		fail=$((fail + 1))
	fi
done

for name in $(printf '%s\n' "${!expected[@]}" | LC_ALL=C sort); do
	[ -f "$name" ] || continue
	"$CHAOSLAB_BIN" validate "$name" >"$tmp/out" 2>"$tmp/err"
	status=$?
	printf '%s\n' "${expected[$name]}" >"$tmp/want"
	ok=1
	if [ "$status" -ne 2 ]; then
		echo "FAIL: $name: exit status $status, expected 2"
		ok=0
	fi
	if ! cmp -s "$tmp/want" "$tmp/err"; then
		echo "FAIL: $name: stderr differs"
		echo "  expected: ${expected[$name]}"
		sed 's/^/  got:      /' "$tmp/err"
		ok=0
	fi
	if [ -s "$tmp/out" ]; then
		echo "FAIL: $name: unexpected output on stdout:"
		sed 's/^/  /' "$tmp/out"
		ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done

echo "validate bad files: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
