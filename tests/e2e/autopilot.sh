# End-to-end: run one catalog drill on autopilot with real processes and
# check the symptom was confirmed, the fix detected, the score in range, and
# nothing left behind. Usage: autopilot.sh SCENARIO_ID
. "$(dirname "$0")/lib.sh"
id=${1:?scenario id}
need_root

# Kubernetes drills run against the fake API server (tests/k8s) with the
# real kubectl: no API server can be installed on the machines that run this.
if grep -Eq '^ *type: (k8s-|broken-selector)' "$CHAOSLAB_SCENARIOS/$id.yaml" 2>/dev/null; then
	. "$(dirname "$0")/k8s_lib.sh"
	k8s_fake_start
	k8s_demo_load
fi

# A drill this machine cannot run (a kernel feature, a cluster) is a skip
# with chaoslab's own reason, never a pass.
why=$("$CHAOSLAB_BIN" list --json | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d.get("id") == sys.argv[1] and not d.get("supported", True):
        print(d.get("reason", "not supported here"))
' "$id")
[ -z "$why" ] || skip "$id cannot run on this machine: $why"

"$CHAOSLAB_BIN" drill "$id" --autopilot=2 --no-ask --plain >"$E2E_TMP/out" 2>&1
rc=$?
cat "$E2E_TMP/out"
[ $rc = 0 ] || die "drill $id exited $rc, expected 0 (fixed)"
f=$(result_file)
[ -n "$f" ] || die "no result written"
[ "$(json "$f" 'd["outcome"]')" = fixed ] || die "outcome is not fixed"
score=$(json "$f" 'd["score"]')
[ "$score" -ge 90 ] && [ "$score" -le 100 ] || die "score $score outside 90..100 for an autopilot fix within par"
json "$f" '[e["event"] for e in d["events"]]' | grep -q symptom_confirmed || die "no symptom_confirmed event"
[ "$(json "$f" 'd["revert"]["ok"]')" = True ] || die "revert not ok"
[ "$(json "$f" 'all(not g["violated"] for g in d["guards"])')" = True ] || die "a guard was violated by the reference solution"
assert_clean
echo "PASS: $id fixed on autopilot, score $score"
