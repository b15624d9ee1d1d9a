#!/bin/bash
# Guardrail: a drill run without the privileges to revert everything it
# could change is refused before it changes anything. As the user nobody
# (setpriv, no capabilities), every catalog drill this box can run as root
# exits 3 with a refusal that lists each missing capability (CAP_SYS_ADMIN,
# CAP_NET_ADMIN, CAP_KILL) and says to run it as root; nothing is made: no
# state directory, no result, no process of that user (ps), no listener
# (ss). As root with one capability dropped from the bounding set, the
# refusal names exactly that one.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
uid=$(id -u nobody 2>/dev/null) || skip "no user nobody"
gid=$(id -g nobody)

home="$E2E_TMP/home"
mkdir -p "$home"
chmod 0777 "$E2E_TMP" "$home"
ids=$("$CHAOSLAB_BIN" list --json | python3 -c '
import json, sys
print(" ".join(d["id"] for d in json.load(sys.stdin) if d.get("supported", True)))')
[ -n "$ids" ] || skip "no catalog drill can run on this box"

as_nobody() {
	setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" \
		CHAOSLAB_SCENARIOS="$CHAOSLAB_SCENARIOS" CHAOSLAB_RESULTS="$home/results" \
		NO_COLOR=1 "$CHAOSLAB_BIN" "$@"
}
procs() { ps -o pid=,comm= -u "$uid" | sort; }
listeners() { ss -Hltnu | sort; }

p0=$(procs)
l0=$(listeners)
n=0
for id in $ids; do
	out=$(as_nobody drill "$id" --no-ask --plain --autopilot=1 2>&1 </dev/null)
	rc=$?
	[ $rc = 3 ] || die "$id as nobody: exit $rc, expected 3: $out"
	for cap in CAP_SYS_ADMIN CAP_NET_ADMIN CAP_KILL; do
		echo "$out" | grep -q "$cap (" || die "$id as nobody: the refusal does not list $cap: $out"
	done
	echo "$out" | grep -q "run it as root" || die "$id as nobody: the refusal does not say to run as root: $out"
	n=$((n + 1))
done
note "as nobody: $(echo "$out" | head -1)"
[ -z "$(ls -A "$home")" ] || die "files were made for nobody: $(find "$home" | tr '\n' ' ')"
[ "$(procs)" = "$p0" ] || die "processes of nobody appeared: $(procs)"
sleep 0.2
[ "$(listeners)" = "$l0" ] || note "listeners changed meanwhile (other programs on this box): $(diff <(echo "$l0") <(listeners) | tr '\n' ' ')"
ss -Hltne | grep -q " uid:$uid " && die "a listener of nobody exists"

# Root with one capability dropped: exactly that one is named.
for cap in net_admin sys_admin kill; do
	CAP=CAP_$(echo "$cap" | tr a-z A-Z)
	out=$(setpriv --inh-caps=-"$cap" --ambient-caps=-"$cap" --bounding-set=-"$cap" \
		"$CHAOSLAB_BIN" drill cpu-runaway --no-ask --plain 2>&1)
	rc=$?
	[ $rc = 3 ] || die "root without $CAP: exit $rc, expected 3: $out"
	echo "$out" | grep -q "missing $CAP (" || die "root without $CAP: not named: $out"
	[ "$(echo "$out" | grep -o 'CAP_[A-Z_]* (' | sort -u | wc -l)" = 1 ] ||
		die "root without $CAP: other capabilities named too: $out"
	[ ! -e "$CHAOSLAB_STATE" ] || die "root without $CAP: the state directory was made"
done
note "root without one capability: $(echo "$out" | head -1)"
echo "PASS: $n drill(s) refused for nobody (exit 3, missing capabilities listed), nothing changed"
