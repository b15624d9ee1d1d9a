#!/usr/bin/env bash
# End-to-end: every Kubernetes drill of the catalog on autopilot, against the
# fake API server (tests/k8s/fake_apiserver.py) driven by the real kubectl.
# The server starts with a kind-like cluster (a node, CoreDNS, a default
# StorageClass); the demo app is loaded with `kubectl apply -f
# manifests/demo/`. For each drill, `chaoslab drill ID --autopilot=2 --no-ask
# --plain` must exit 0 with outcome fixed, a confirmed symptom, a score of at
# least 90, no guard violated and its revert ok; afterwards the cluster, as
# kubectl shows it, must be what it was before the drill (same objects, same
# uids, specs, labels and ready endpoints; nothing carrying chaoslab's run
# label), with no journal and no process of the run left.
#
# Usage: test_k8s_autopilot.sh [SCENARIO_ID...] (default: every drill with a
# Kubernetes inject step).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/k8s_lib.sh"
k8s_need

RUN_IDS=${RUN_IDS:-}
ids=${*:-$(k8s_scenarios)}
[ -n "$ids" ] || die "no Kubernetes drills in $CHAOSLAB_SCENARIOS"
k8s_fake_start
k8s_demo_load
k8s_snapshot "$E2E_TMP/k8s/before.json"
note "cluster snapshot: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$E2E_TMP/k8s/before.json") entries"

passed=""
for id in $ids; do
	note "drill $id"
	results="$E2E_TMP/results/$id"
	mkdir -p "$results"
	CHAOSLAB_RESULTS=$results "$CHAOSLAB_BIN" drill "$id" --autopilot=2 --no-ask --plain \
		>"$E2E_TMP/$id.out" 2>&1
	rc=$?
	sed 's/^/    /' "$E2E_TMP/$id.out"
	[ $rc = 0 ] || die "drill $id exited $rc, expected 0 (fixed)"
	f=$(ls "$results"/*.json 2>/dev/null | head -1)
	[ -n "$f" ] || die "$id: no result written"
	[ "$(json "$f" 'd["outcome"]')" = fixed ] || die "$id: outcome is not fixed"
	score=$(json "$f" 'd["score"]')
	[ "$score" -ge 90 ] && [ "$score" -le 100 ] || die "$id: score $score outside 90..100"
	json "$f" '[e["event"] for e in d["events"]]' | grep -q symptom_confirmed ||
		die "$id: no symptom_confirmed event"
	[ "$(json "$f" 'd["revert"]["ok"]')" = True ] || die "$id: revert not ok"
	[ "$(json "$f" 'all(not g["violated"] for g in d["guards"])')" = True ] ||
		die "$id: a guard was violated by the reference solution"
	RUN_IDS="$RUN_IDS $(json "$f" 'd["run_id"]')"
	# Back to the state before the drill, as kubectl sees it.
	if ! k8s_settled "$E2E_TMP/k8s/before.json" 60; then
		k8s_compare "$E2E_TMP/k8s/before.json" "$E2E_TMP/k8s/now.json"
		die "$id: the cluster is not as it was before the drill"
	fi
	left=$(kubectl get deployments,services,configmaps,persistentvolumeclaims,pods,replicasets -A \
		-l chaoslab.io/run -o name 2>&1)
	[ -z "$left" ] || die "$id: objects with chaoslab's run label left: $left"
	assert_clean
	passed="$passed $id"
done
echo "PASS: fixed on autopilot and left the cluster as found:$passed"
