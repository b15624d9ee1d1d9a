#!/usr/bin/env bash
# Generic CLI behaviour, for every command in `chaoslab --help`:
#   * `chaoslab CMD --help` (and -h) exits 0 with a usage line on stdout;
#   * `chaoslab CMD --no-such-option` exits 2;
#   * an unknown command exits 2, with a did-you-mean when it is a typo;
#   * --version / version print "chaoslab X.Y.Z" and exit 0;
#   * no arguments exits 2 with the usage on stderr; --help / help exit 0.
set -uo pipefail

BIN=${CHAOSLAB_BIN:-build/chaoslab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

# run ARGS...: sets rc, and the output in $tmp/out and $tmp/err.
run() {
	"$BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

expect_rc() { # WANT WHAT
	if [ "$rc" -eq "$1" ]; then
		pass "$2 (exit $rc)"
	else
		fail "$2: exit $rc, want $1"
		sed 's/^/    stdout: /' "$tmp/out" | head -5
		sed 's/^/    stderr: /' "$tmp/err" | head -5
	fi
}

[ -x "$BIN" ] || { echo "FAIL: no chaoslab binary at $BIN (set CHAOSLAB_BIN)"; exit 1; }

# --version and version
for v in --version version; do
	run "$v"
	expect_rc 0 "chaoslab $v"
	grep -Eqx 'chaoslab [0-9]+\.[0-9]+\.[0-9]+' "$tmp/out" ||
		fail "chaoslab $v printed '$(head -1 "$tmp/out")', want 'chaoslab X.Y.Z'"
done

# top-level help, and the command list it gives
for h in --help -h help; do
	run "$h"
	expect_rc 0 "chaoslab $h"
	grep -q '^usage: chaoslab' "$tmp/out" || fail "chaoslab $h: no usage line on stdout"
done
run --help
commands=$(sed -n '/^commands:/,/^$/p' "$tmp/out" | awk '/^  [a-z]/ { print $1 }')
[ -n "$commands" ] || fail "chaoslab --help lists no commands"
echo "commands: $(tr "\n" " " <<<"$commands")"

run
expect_rc 2 "chaoslab with no command"
grep -q '^usage: chaoslab' "$tmp/err" || fail "no command: usage not on stderr"

# every command answers --help and -h, and refuses an unknown option
for c in $commands; do
	for h in --help -h; do
		run "$c" "$h"
		expect_rc 0 "chaoslab $c $h"
		grep -q "^usage: chaoslab $c" "$tmp/out" ||
			fail "chaoslab $c $h: no 'usage: chaoslab $c' line on stdout"
		[ ! -s "$tmp/err" ] || fail "chaoslab $c $h wrote to stderr: $(head -1 "$tmp/err")"
	done
	run "$c" --no-such-option
	expect_rc 2 "chaoslab $c --no-such-option"
done

# unknown commands: typos get a suggestion, nonsense does not
run lsit
expect_rc 2 "chaoslab lsit"
grep -q "did you mean 'list'" "$tmp/err" || fail "chaoslab lsit: no did-you-mean 'list': $(cat "$tmp/err")"
for c in $commands; do
	[ ${#c} -ge 5 ] || continue
	typo="${c:0:1}${c:2:1}${c:1:1}${c:3}" # swap the 2nd and 3rd letters
	[ "$typo" = "$c" ] && continue # swapping equal letters makes no typo
	run "$typo"
	expect_rc 2 "chaoslab $typo"
	grep -q "did you mean '$c'" "$tmp/err" ||
		fail "chaoslab $typo: want did-you-mean '$c', got: $(cat "$tmp/err")"
done
run frobnicate-everything
expect_rc 2 "chaoslab frobnicate-everything"
grep -q "not a command" "$tmp/err" || fail "unknown command: message '$(cat "$tmp/err")'"
! grep -q "did you mean" "$tmp/err" || fail "nonsense got a suggestion: $(cat "$tmp/err")"

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all CLI checks passed"
