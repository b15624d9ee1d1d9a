#!/bin/bash
# Every scenario in tests/data/good must pass `chaoslab validate` with exit
# status 0, print "FILE: ok (ID)" and nothing on stderr; all of them at once
# too, since validate takes several files.
set -u

: "${CHAOSLAB_BIN:?CHAOSLAB_BIN must name the chaoslab binary}"
: "${CHAOSLAB_SRC:?CHAOSLAB_SRC must name the source tree}"

dir="$CHAOSLAB_SRC/tests/data/good"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

cd "$dir" || exit 1
pass=0
fail=0
files=()

check() {
	local what=$1 want_out=$2
	shift 2
	"$CHAOSLAB_BIN" validate "$@" >"$tmp/out" 2>"$tmp/err"
	local status=$?
	local ok=1

	if [ "$status" -ne 0 ]; then
		echo "FAIL: $what: exit status $status, expected 0"
		ok=0
	fi
	if [ -s "$tmp/err" ]; then
		echo "FAIL: $what: unexpected stderr:"
		sed 's/^/  /' "$tmp/err"
		ok=0
	fi
	if [ "$(cat "$tmp/out")" != "$want_out" ]; then
		echo "FAIL: $what: stdout differs"
		echo "  expected: $want_out"
		sed 's/^/  got:      /' "$tmp/out"
		ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
}

all_out=
for f in *.yaml *.json; do
	[ -f "$f" ] || continue
	id=${f%.*}
	files+=("$f")
	check "$f" "$f: ok ($id)" "$f"
	all_out+="$f: ok ($id)"$'\n'
done
if [ "${#files[@]}" -lt 2 ]; then
	echo "FAIL: expected good scenarios in $dir"
	exit 1
fi
check "all files at once" "${all_out%$'\n'}" "${files[@]}"
# --quiet prints nothing for valid files
check "--quiet" "" --quiet "${files[@]}"

echo "validate good files: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
