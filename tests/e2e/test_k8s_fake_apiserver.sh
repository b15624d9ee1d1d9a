#!/usr/bin/env bash
# The fake Kubernetes API server (tests/k8s/fake_apiserver.py) under the real
# kubectl: the test fixture every Kubernetes test relies on must behave like
# an API server where the drills look. Discovery and `kubectl api-resources`;
# apply of the demo manifests and `get all` (server-side Table printing);
# Services -> EndpointSlices and Endpoints following pod readiness and the
# selector; the three patch types (strategic merge keeps the other
# containers' fields, JSON merge replaces lists, JSON patch with a failing
# "test" changes nothing); the scale subresource with its precondition;
# rollout status (a watch), history and undo reusing the old ReplicaSet;
# describe with events; logs and --previous; a pod that cannot be scheduled,
# one whose command is missing, one OOMKilled, one with an unknown image;
# PVC Pending for a missing StorageClass and Bound through the default one;
# the HPA with and without CPU requests; `kubectl auth can-i` and a
# Forbidden answer; delete with a uid precondition; namespace deletion.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/k8s_lib.sh"
k8s_need
k8s_fake_start --speed 20
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect DESCRIPTION COMMAND...: the command must succeed.
expect() { local d=$1; shift; if "$@" >"$E2E_TMP/cmd.out" 2>&1; then ok "$d"; else bad "$d: $(head -c 600 "$E2E_TMP/cmd.out")"; fi; }
# eventually SECONDS DESCRIPTION COMMAND...: succeeds within SECONDS.
eventually() {
	local s=$1 d=$2 i; shift 2
	for i in $(seq $((s * 5))); do "$@" >"$E2E_TMP/cmd.out" 2>&1 && { ok "$d"; return; }; sleep 0.2; done
	bad "$d: $(head -c 600 "$E2E_TMP/cmd.out")"
}
N="-n prod-sim"
jp() { kubectl $N get "$1" -o jsonpath="$2"; }

# Discovery.
expect "api-resources lists what the drills use" sh -c \
	"kubectl api-resources | grep -E '^(deployments|endpointslices|horizontalpodautoscalers|persistentvolumeclaims) ' | wc -l | grep -qx 4"
expect "api-versions has apps/v1, autoscaling/v2, discovery.k8s.io/v1" sh -c \
	"kubectl api-versions | grep -c -E '^(apps/v1|autoscaling/v2|discovery.k8s.io/v1)$' | grep -qx 3"
expect "a kind-like node, CoreDNS and a default StorageClass" sh -c \
	"kubectl get nodes | grep -q ' Ready ' && kubectl -n kube-system get deploy coredns && kubectl get sc | grep -q '(default)'"

# The demo app.
k8s_demo_load
expect "get all shows the demo app with kubectl's columns" sh -c \
	"kubectl $N get all | grep -E '^NAME +READY +STATUS +RESTARTS +AGE' && kubectl $N get all | grep -Eq 'deployment.apps/api +2/2 +2 +2'"
expect "endpoints and endpointslices list both api pods" sh -c \
	"test \$(kubectl $N get endpoints api -o jsonpath='{.subsets[0].addresses[*].ip}' | wc -w) = 2 &&
	 test \$(kubectl $N get endpointslices -l kubernetes.io/service-name=api -o jsonpath='{.items[0].endpoints[*].addresses[0]}' | wc -w) = 2"
expect "the Service targets a named port" sh -c "kubectl $N get endpoints web -o jsonpath='{.subsets[0].ports[0].port}' | grep -qx 80"

# Patches.
expect "strategic merge patch merges containers by name" sh -c \
	"kubectl $N patch deploy web -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}' &&
	 test \"\$(kubectl $N get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')\" = nginx:1.27-alpine"
expect "JSON patch with a failing test is refused and changes nothing" sh -c \
	"! kubectl $N patch svc api --type=json -p '[{\"op\":\"test\",\"path\":\"/spec/selector/app\",\"value\":\"x\"},{\"op\":\"replace\",\"path\":\"/spec/selector/app\",\"value\":\"y\"}]' 2>/dev/null &&
	 test \"\$(kubectl $N get svc api -o jsonpath='{.spec.selector.app}')\" = api"
expect "JSON merge patch replaces a list" sh -c \
	"kubectl $N patch svc web --type=merge -p '{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":8080,\"targetPort\":\"http\"}]}}' &&
	 test \"\$(kubectl $N get svc web -o jsonpath='{.spec.ports[*].port}')\" = 8080 &&
	 kubectl $N patch svc web --type=merge -p '{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"}]}}'"

# Selector and readiness drive the endpoints.
kubectl $N patch svc api -p '{"spec":{"selector":{"app":"aip"}}}' >/dev/null
eventually 5 "a selector matching no pod empties the endpoints" sh -c "test -z \"\$(kubectl $N get endpoints api -o jsonpath='{.subsets}')\""
kubectl $N patch svc api -p '{"spec":{"selector":{"app":"api"}}}' >/dev/null
eventually 5 "the right selector brings them back" sh -c "test \$(kubectl $N get endpoints api -o jsonpath='{.subsets[0].addresses[*].ip}' | wc -w) = 2"

# Rollouts, scale, undo.
expect "rollout status waits for the rollout (a watch) and succeeds" kubectl $N rollout status deploy/web --timeout=30s
expect "scale with a wrong --current-replicas is refused" sh -c "! kubectl $N scale deploy web --replicas=3 --current-replicas=5"
expect "scale through the scale subresource" sh -c "kubectl $N scale deploy web --replicas=3 && kubectl $N rollout status deploy/web --timeout=30s && test \$(kubectl $N get pods -l app=web --no-headers | wc -l) = 3"
kubectl $N scale deploy web --replicas=2 >/dev/null
expect "rollout undo goes back to the previous template" sh -c \
	"kubectl $N rollout undo deploy/web && kubectl $N rollout status deploy/web --timeout=30s &&
	 test -z \"\$(kubectl $N get deploy web -o jsonpath='{.spec.template.spec.containers[0].env}')\""
expect "rollout history lists the revisions" sh -c "kubectl $N rollout history deploy/web | grep -q '^3 '"
expect "undo reused the first ReplicaSet" sh -c "test \$(kubectl $N get rs -l app=web --no-headers | awk '\$2 > 0' | wc -l) = 1"

# Pods that cannot run, and why.
kubectl $N patch deploy web -p '{"spec":{"template":{"spec":{"nodeSelector":{"disktype":"ssd"}}}}}' >/dev/null
eventually 10 "a nodeSelector no node has: Pending, FailedScheduling in describe" sh -c \
	"kubectl $N describe pods -l app=web | grep -q \"FailedScheduling.*didn't match Pod's node affinity/selector\""
kubectl $N rollout undo deploy/web >/dev/null
kubectl $N patch deploy api -p '{"spec":{"template":{"spec":{"containers":[{"name":"api","command":["/usr/local/bin/api-server"]}]}}}}' >/dev/null
eventually 15 "a command the image lacks: StartError, then CrashLoopBackOff" sh -c \
	"kubectl $N get pods -l app=api | grep -q CrashLoopBackOff && kubectl $N describe pods -l app=api | grep -q 'Reason: *StartError'"
kubectl $N rollout undo deploy/api >/dev/null
kubectl $N patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","readinessProbe":{"httpGet":{"path":"/healthz"}}}]}}}}' >/dev/null
eventually 10 "a readiness probe on a missing path: Running, not Ready, 404 in events and logs" sh -c \
	"kubectl $N describe pods -l app=web | grep -q 'Readiness probe failed: HTTP probe failed with statuscode: 404' &&
	 kubectl $N logs deploy/web --all-containers 2>/dev/null | grep -q 'GET /healthz HTTP/1.1\" 404' || kubectl $N logs -l app=web --tail=50 | grep -q 'GET /healthz HTTP/1.1\" 404'"
eventually 5 "the not-ready pod is a notReadyAddress" sh -c "kubectl $N get endpoints web -o jsonpath='{.subsets[0].notReadyAddresses[*].ip}' | grep -q ."
kubectl $N rollout undo deploy/web >/dev/null
expect "web rolls back" kubectl $N rollout status deploy/web --timeout=30s
kubectl apply -f "$CHAOSLAB_SRC/manifests/broken/oom-report-worker.yaml" >/dev/null
eventually 15 "150M under a 128Mi limit: OOMKilled, exit 137" sh -c \
	"kubectl $N describe pods -l app=report-worker | grep -q 'Reason: *OOMKilled' && kubectl $N describe pods -l app=report-worker | grep -q 'Exit Code: *137'"
expect "logs --previous of the killed container" sh -c "kubectl $N logs deploy/report-worker --previous | grep -q 'dispatching hogs'"
kubectl $N set resources deploy report-worker -c worker --limits=memory=256Mi >/dev/null
expect "with 256Mi it runs" kubectl $N rollout status deploy/report-worker --timeout=30s
expect "kubectl top shows its memory" sh -c "kubectl top pods $N -l app=report-worker --no-headers | grep -q '151Mi'"
kubectl $N delete deploy report-worker >/dev/null
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: typo, namespace: prod-sim}\nspec:\n  containers: [{name: c, image: "ngnix:1.27"}]\n' | kubectl apply -f - >/dev/null
eventually 10 "an image that does not exist: ErrImagePull then ImagePullBackOff" sh -c "kubectl $N get pod typo | grep -q ImagePullBackOff"
kubectl $N delete pod typo --wait=false >/dev/null

# Storage.
kubectl apply -f "$CHAOSLAB_SRC/manifests/broken/pvc-missing-storageclass.yaml" >/dev/null
eventually 10 "a claim for a missing class: Pending, ProvisioningFailed" sh -c \
	"kubectl $N get pvc reports-data | grep -q Pending && kubectl $N describe pvc reports-data | grep -q 'storageclass.storage.k8s.io \"fast-ssd\" not found'"
expect "storageClassName is immutable" sh -c "! kubectl $N patch pvc reports-data -p '{\"spec\":{\"storageClassName\":\"standard\"}}' 2>&1 | grep -q patched"
expect "replace --force without the class binds through the default one" sh -c \
	"kubectl $N get pvc reports-data -o yaml | sed '/storageClassName: fast-ssd/d' | kubectl replace --force -f - && kubectl $N rollout status deploy/reports --timeout=30s &&
	 kubectl $N get pvc reports-data | grep -q 'Bound .* standard'"
kubectl $N delete deploy reports >/dev/null
kubectl $N delete pvc reports-data >/dev/null
eventually 10 "the claim's volume goes with it" sh -c "test -z \"\$(kubectl get pv -o name)\""

# Autoscaling.
eventually 10 "the HPA computes utilization" sh -c "kubectl $N get hpa api | grep -q 'cpu: [0-9]*%/60%'"
kubectl $N patch deploy api --type=json -p '[{"op":"remove","path":"/spec/template/spec/containers/0/resources/requests/cpu"}]' >/dev/null
eventually 15 "without CPU requests: <unknown>, ScalingActive False" sh -c \
	"kubectl $N get hpa api | grep -q '<unknown>/60%' && kubectl $N describe hpa api | grep -q 'ScalingActive *False *FailedGetResourceMetric'"
kubectl $N set resources deploy api -c api --requests=cpu=50m >/dev/null
eventually 15 "requests back: ScalingActive True" sh -c "kubectl $N describe hpa api | grep -q 'ScalingActive *True'"

# Permissions and preconditions.
expect "can-i says yes" kubectl auth can-i patch services -n prod-sim
k8s_deny "patch:services:prod-sim"
expect "can-i says no once denied" sh -c "! kubectl auth can-i patch services -n prod-sim"
expect "and the server answers Forbidden" sh -c \
	"kubectl $N patch svc api -p '{}' 2>&1 | grep -q 'Error from server (Forbidden): services \"api\" is forbidden: User \"chaoslab-test\" cannot patch resource \"services\" in API group \"\" in the namespace \"prod-sim\"'"
k8s_deny
uid=$(kubectl $N get cm kube-root-ca.crt -o jsonpath='{.metadata.uid}')
expect "delete with a wrong uid precondition: Conflict" sh -c \
	"echo '{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"uid\":\"x\"}}' | kubectl delete --raw /api/v1/namespaces/prod-sim/configmaps/kube-root-ca.crt -f - 2>&1 | grep -q 'Precondition failed'"
expect "delete with the right one" sh -c \
	"echo '{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"uid\":\"$uid\"}}' | kubectl delete --raw /api/v1/namespaces/prod-sim/configmaps/kube-root-ca.crt -f - >/dev/null"
expect "deleting the namespace removes what it holds" sh -c \
	"kubectl delete ns prod-sim --timeout=30s && ! kubectl get ns prod-sim 2>/dev/null && test -z \"\$(kubectl get deploy,svc,pods -A -o name | grep prod-sim)\""

[ -s "$E2E_TMP/k8s/server.err" ] && { echo "server stderr:"; cat "$E2E_TMP/k8s/server.err"; bad "the fake API server wrote to stderr"; }
[ $fails = 0 ] || die "$fails check(s) of the fake API server failed"
echo "PASS: the fake API server behaves as the drills need"
