#!/usr/bin/env bash
# chaoslab doctor: the text report (grouped, one line per check, a summary
# line), --json (an array of {group, check, status, detail, remedy}, checked
# with jq or python3), the exit status (0, or 3 exactly when a required check
# is missing), and, as root, a capability dropped with setpriv making it 3.
set -uo pipefail

BIN=${CHAOSLAB_BIN:-build/chaoslab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
skipped=""

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

[ -x "$BIN" ] || { echo "FAIL: no chaoslab binary at $BIN (set CHAOSLAB_BIN)"; exit 1; }

"$BIN" doctor >"$tmp/text" 2>"$tmp/err"
rc=$?
cat "$tmp/text"
case $rc in
0 | 3) pass "doctor exit $rc" ;;
*) fail "doctor exit $rc, want 0 or 3"; cat "$tmp/err" ;;
esac
[ ! -s "$tmp/err" ] || fail "doctor wrote to stderr: $(head -3 "$tmp/err")"

for g in privileges kernel cgroups tools kubernetes; do
	grep -qx "$g:" "$tmp/text" || fail "no '$g:' group in the text report"
done
for c in user CAP_SYS_ADMIN CAP_NET_ADMIN netns veth seccomp sch_netem sch_tbf psi v1 v2 \
	tc dig openssl kubectl context; do
	grep -Eq "^  (ok|warn|missing) +$c  " "$tmp/text" || fail "no line for check '$c'"
done
nlines=$(grep -Ec '^  (ok|warn|missing) +[^ ]+  ' "$tmp/text")
other=$(grep -Ev '^  (ok|warn|missing) +[^ ]+  |^[a-z]+:$|^$' "$tmp/text" | grep -Ev '^[0-9]+ ok, ')
[ -z "$other" ] || fail "unexpected lines in the report: $other"
summary=$(tail -1 "$tmp/text")
if [[ $summary =~ ^([0-9]+)\ ok,\ ([0-9]+)\ warn,\ ([0-9]+)\ missing:\  ]]; then
	n_ok=${BASH_REMATCH[1]} n_warn=${BASH_REMATCH[2]} n_missing=${BASH_REMATCH[3]}
	[ $((n_ok + n_warn + n_missing)) -eq "$nlines" ] ||
		fail "summary counts $n_ok+$n_warn+$n_missing != $nlines check lines"
	[ "$(grep -Ec '^  missing ' "$tmp/text")" -eq "$n_missing" ] || fail "missing count"
else
	fail "last line is not a summary: '$summary'"
fi
if [ "$rc" -eq 3 ]; then
	grep -q '(exit 3)$' "$tmp/text" || fail "exit 3 but the summary does not say why"
fi
# Remedies hang off problems: an ok line never has one.
! grep -Eq '^  ok .*  -> ' "$tmp/text" || fail "an ok line carries a remedy"
grep -E '^  (warn|missing) ' "$tmp/text" | grep -v -- '  -> ' | grep -v 'context  *not checked' |
	sed 's/^/    (no remedy) /'

"$BIN" doctor --json >"$tmp/json" 2>"$tmp/err"
jrc=$?
if [ "$jrc" -eq "$rc" ]; then
	pass "doctor --json exit $jrc"
else
	fail "doctor --json exit $jrc, text gave $rc"
fi

if command -v jq >/dev/null 2>&1; then
	if jq -e '
		type == "array" and length > 0 and
		all(.[]; (has("group") and has("check") and has("status") and has("detail") and
			  has("remedy") and has("required")) and
			 (.status | IN("ok", "warn", "missing")) and
			 (.group | IN("privileges", "kernel", "cgroups", "tools", "kubernetes")) and
			 (.check | type == "string" and length > 0) and
			 (.detail | type == "string" and length > 0) and
			 (.remedy | type == "string"))' "$tmp/json" >/dev/null; then
		pass "doctor --json: every entry has group, check, status, detail, remedy (jq)"
	else
		fail "doctor --json: not an array of complete entries (jq)"
		head -20 "$tmp/json"
	fi
	n=$(jq length "$tmp/json")
	req_missing=$(jq -r '[.[] | select(.required and .status == "missing") | .check] | join(",")' "$tmp/json")
	json_missing=$(jq '[.[] | select(.status == "missing")] | length' "$tmp/json")
elif command -v python3 >/dev/null 2>&1 && python3 -m json.tool "$tmp/json" >/dev/null; then
	pass "doctor --json parses (python3 -m json.tool)"
	out=$(python3 - "$tmp/json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert isinstance(doc, list) and doc, "not a non-empty array"
for e in doc:
    for k in ("group", "check", "status", "detail", "remedy", "required"):
        assert k in e, "entry without %s: %r" % (k, e)
    assert e["status"] in ("ok", "warn", "missing"), e
    assert e["group"] in ("privileges", "kernel", "cgroups", "tools", "kubernetes"), e
print(len(doc))
print(",".join(e["check"] for e in doc if e["required"] and e["status"] == "missing"))
print(sum(e["status"] == "missing" for e in doc))
PY
	) || fail "doctor --json: entries incomplete (python3)"
	n=$(sed -n 1p <<<"$out") req_missing=$(sed -n 2p <<<"$out") json_missing=$(sed -n 3p <<<"$out")
else
	skipped="neither jq nor python3 to check the JSON"
	n=$nlines req_missing="" json_missing=${n_missing:-0}
fi
[ "${n:-0}" -eq "$nlines" ] || fail "JSON has $n entries, the text $nlines lines"
[ "${json_missing:-0}" -eq "${n_missing:-0}" ] || fail "JSON and text disagree on missing"
if [ -z "$skipped" ]; then
	if [ -n "$req_missing" ]; then
		if [ "$rc" -eq 3 ]; then
			pass "required missing ($req_missing): exit 3"
		else
			fail "required checks missing ($req_missing) but exit $rc"
		fi
	else
		if [ "$rc" -eq 0 ]; then
			pass "nothing required missing: exit 0"
		else
			fail "nothing required missing but exit $rc"
		fi
	fi
fi

if "$BIN" doctor --help >"$tmp/out" 2>&1 && grep -q '^usage: chaoslab doctor' "$tmp/out"; then
	pass "doctor --help"
else
	fail "doctor --help"
fi
"$BIN" doctor --bogus >/dev/null 2>&1
brc=$?
if [ $brc -eq 2 ]; then
	pass "doctor --bogus: exit 2"
else
	fail "doctor --bogus: exit $brc, want 2"
fi

# As root: without CAP_NET_ADMIN the drills cannot run, and doctor says so.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
	grep -q "^  ok  *CAP_NET_ADMIN " "$tmp/text"; then
	setpriv --inh-caps=-net_admin --ambient-caps=-net_admin --bounding-set=-net_admin \
		"$BIN" doctor >"$tmp/dropped" 2>&1
	drc=$?
	if [ "$drc" -eq 3 ]; then
		pass "doctor without CAP_NET_ADMIN: exit 3"
	else
		fail "doctor without CAP_NET_ADMIN: exit $drc, want 3"
	fi
	grep -Eq '^  missing +CAP_NET_ADMIN  .*-> ' "$tmp/dropped" ||
		fail "CAP_NET_ADMIN not reported missing with a remedy: $(grep CAP_NET_ADMIN "$tmp/dropped")"
	grep -q 'missing CAP_NET_ADMIN (exit 3)$' "$tmp/dropped" || fail "summary: $(tail -1 "$tmp/dropped")"
else
	echo "note: not root with CAP_NET_ADMIN and setpriv: the dropped-capability case is not run"
fi

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
if [ -n "$skipped" ]; then
	echo "SKIP: $skipped"
	exit 77
fi
echo "all doctor checks passed"
