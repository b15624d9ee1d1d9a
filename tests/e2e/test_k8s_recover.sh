#!/usr/bin/env bash
# End-to-end, Kubernetes drills when things go wrong, against the fake API
# server with the real kubectl:
#  - RBAC says no: the drill stops at the inject step with exit 3, names the
#    `kubectl auth can-i` check that failed, and changes nothing;
#  - the harness is killed with SIGKILL in the middle of a drill (the break
#    in place, as kubectl shows): `chaoslab recover` puts the cluster back
#    from the journal alone (a Service selector; objects a manifest created);
# and afterwards the cluster is what it was before (same objects and uids).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/k8s_lib.sh"
k8s_need
k8s_fake_start
k8s_demo_load
k8s_snapshot "$E2E_TMP/k8s/before.json"
selector() { kubectl -n prod-sim get svc api -o jsonpath='{.spec.selector.app}'; }

note "permission denied: patch services"
k8s_deny "patch:services:prod-sim"
"$CHAOSLAB_BIN" drill service-no-endpoints --no-ask --plain >"$E2E_TMP/deny.out" 2>&1
rc=$?
cat "$E2E_TMP/deny.out"
k8s_deny
[ $rc = 3 ] || die "drill exited $rc with patch denied, want 3"
grep -q 'missing permission: `kubectl auth can-i patch services -n prod-sim` says no' "$E2E_TMP/deny.out" ||
	die "the output does not name the kubectl auth can-i check"
[ "$(selector)" = api ] || die "the selector changed although patching was denied: $(selector)"
[ ! -e "$CHAOSLAB_STATE/journal" ] || die "journal left behind"
f=$(result_file)
[ -n "$f" ] && RUN_IDS="${RUN_IDS:-} $(json "$f" 'd["run_id"]')"

note "SIGKILL during service-no-endpoints, then recover"
drill_bg service-no-endpoints
wait_state running 60
[ "$(selector)" = aip ] || die "the break is not in place: selector app=$(selector)"
[ -z "$(kubectl -n prod-sim get endpoints api -o jsonpath='{.subsets}')" ] ||
	die "the api Service still has endpoints while broken"
kill -KILL "$DRILL_PID"
wait "$DRILL_PID" 2>/dev/null
DRILL_PID=
[ "$(selector)" = aip ] || die "something restored the selector before recover"
[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
"$CHAOSLAB_BIN" recover >"$E2E_TMP/recover.out" 2>&1 || { cat "$E2E_TMP/recover.out"; die "recover failed"; }
cat "$E2E_TMP/recover.out"
[ "$(selector)" = api ] || die "recover did not restore the selector: app=$(selector)"
[ ! -e "$CHAOSLAB_STATE/journal" ] || die "journal left after recover"

note "SIGKILL during pvc-pending, then recover"
drill_bg pvc-pending
wait_state running 90
kubectl -n prod-sim get pvc reports-data >/dev/null 2>&1 || die "the broken claim was not created"
kubectl -n prod-sim get deploy reports >/dev/null 2>&1 || die "the reports Deployment was not created"
kill -KILL "$DRILL_PID"
wait "$DRILL_PID" 2>/dev/null
DRILL_PID=
"$CHAOSLAB_BIN" recover >"$E2E_TMP/recover2.out" 2>&1 || { cat "$E2E_TMP/recover2.out"; die "recover failed"; }
cat "$E2E_TMP/recover2.out"
grep -q "deleted" "$E2E_TMP/recover2.out" || die "recover did not say what it deleted"

if ! k8s_settled "$E2E_TMP/k8s/before.json" 60; then
	k8s_compare "$E2E_TMP/k8s/before.json" "$E2E_TMP/k8s/now.json"
	die "the cluster is not as it was before"
fi
left=$(kubectl get deployments,services,persistentvolumeclaims,pods -A -l chaoslab.io/run -o name)
[ -z "$left" ] || die "objects with chaoslab's run label left: $left"
assert_clean
echo "PASS: denied permission named, SIGKILL recovered, cluster as found"
