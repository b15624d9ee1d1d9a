# Kubernetes helpers for the end-to-end tests: a fake API server
# (tests/k8s/fake_apiserver.py) that the real kubectl, and chaoslab through
# it, talk to. Source it after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/k8s_lib.sh"
#   k8s_fake_start            # exports KUBECONFIG (with a current context)
#   k8s_demo_load             # kubectl apply -f manifests/demo/, rolled out
#   k8s_snapshot FILE         # the objects a drill must leave as they were
#
# The server is stopped, and its directory removed, on exit.

k8s_need() {
	command -v python3 >/dev/null || skip "python3 is needed for the fake Kubernetes API server"
	command -v kubectl >/dev/null || skip "kubectl is needed (the tests drive the real kubectl)"
}

K8S_PID=
k8s_fake_stop() {
	if [ -n "$K8S_PID" ] && kill -0 "$K8S_PID" 2>/dev/null; then
		kill -TERM "$K8S_PID" 2>/dev/null
		wait "$K8S_PID" 2>/dev/null
	fi
	K8S_PID=
}

# Run the drill cleanup first (it may still revert through the server),
# then stop the server.
trap 'e2e_cleanup; k8s_fake_stop' EXIT

# k8s_fake_start [SERVER ARGS...]: start the server (speed 10 unless
# --speed is given) and point kubectl at it.
k8s_fake_start() {
	local dir="$E2E_TMP/k8s" i port
	k8s_need
	mkdir -p "$dir"
	case " $* " in *" --speed "*) ;; *) set -- --speed 10 "$@" ;; esac
	python3 "$CHAOSLAB_SRC/tests/k8s/fake_apiserver.py" --kubeconfig "$dir/kubeconfig" \
		--log "$dir/requests.log" "$@" >"$dir/ready" 2>"$dir/server.err" &
	K8S_PID=$!
	for i in $(seq 100); do
		port=$(awk '$1 == "ready" {print $2}' "$dir/ready" 2>/dev/null)
		[ -n "$port" ] && break
		kill -0 "$K8S_PID" 2>/dev/null || { cat "$dir/server.err"; die "the fake API server exited"; }
		sleep 0.1
	done
	[ -n "$port" ] || die "the fake API server did not start within 10 s"
	K8S_PORT=$port
	export KUBECONFIG="$dir/kubeconfig" KUBECACHEDIR="$dir/cache"
	unset CHAOSLAB_KUBE_CONTEXT
	kubectl version >/dev/null 2>&1 || die "kubectl cannot talk to the fake API server"
}

# The demo app, rolled out.
k8s_demo_load() {
	kubectl apply -f "$CHAOSLAB_SRC/manifests/demo/" >/dev/null || die "kubectl apply of the demo app failed"
	kubectl -n prod-sim rollout status deployment/api --timeout=60s >/dev/null &&
		kubectl -n prod-sim rollout status deployment/web --timeout=60s >/dev/null ||
		die "the demo app did not roll out"
}

# k8s_deny RULE...: verbs the test user may no longer use ('[]' for none).
k8s_deny() {
	local rules
	rules=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@")
	curl -sf -XPOST -d "$rules" "http://127.0.0.1:$K8S_PORT/_fake/deny" >/dev/null ||
		die "could not set the fake API server's deny rules"
}

# k8s_snapshot FILE: what a drill must leave as it found it, as kubectl sees
# it: every Deployment, Service, ConfigMap, PVC, HPA, ServiceAccount of
# prod-sim and kube-system (spec, labels, annotations and uid: recreating an
# object counts as a change), the PersistentVolumes and StorageClasses, and
# the ready addresses behind each Service. Controller-owned churn (pods,
# ReplicaSets, events, revision numbers) is left out.
k8s_snapshot() {
	local out=$1 ns
	{
		for ns in prod-sim kube-system; do
			kubectl -n "$ns" get deployments,services,configmaps,persistentvolumeclaims,horizontalpodautoscalers,serviceaccounts -o json
			kubectl -n "$ns" get endpointslices -o json
		done
		kubectl get persistentvolumes,storageclasses -o json
	} | python3 -c '
import json, sys
dec = json.JSONDecoder()
text = sys.stdin.read()
pos, objs = 0, []
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    doc, pos = dec.raw_decode(text, pos)
    objs += doc.get("items", [doc])
VOLATILE_ANN = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration",
                "endpoints.kubernetes.io/last-change-trigger-time")
out = {}
for o in objs:
    m = o["metadata"]
    key = "%s %s/%s" % (o["kind"], m.get("namespace", ""), m["name"])
    if o["kind"] == "EndpointSlice":
        svc = m.get("labels", {}).get("kubernetes.io/service-name", "?")
        ready = sorted(a for e in (o.get("endpoints") or [])
                       if (e.get("conditions") or {}).get("ready") is not False
                       for a in e.get("addresses", []))
        out.setdefault("ready addresses of service %s/%s" % (m.get("namespace"), svc), []).extend(ready)
        continue
    ann = {k: v for k, v in (m.get("annotations") or {}).items() if k not in VOLATILE_ANN}
    body = {k: v for k, v in o.items() if k not in ("metadata", "status")}
    out[key] = {"uid": m.get("uid"), "labels": m.get("labels", {}), "annotations": ann, "body": body}
for k in list(out):
    if k.startswith("ready addresses"):
        out[k] = len(out[k])
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
' "$out" || die "could not take a snapshot of the cluster"
}

# k8s_compare BEFORE AFTER: print the differences; status 1 when there are some.
k8s_compare() {
	python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = 0
for k in sorted(set(a) | set(b)):
    if k not in b:
        print("  gone:    %s" % k); bad = 1
    elif k not in a:
        print("  new:     %s" % k); bad = 1
    elif a[k] != b[k]:
        print("  changed: %s" % k)
        print("    before: %s" % json.dumps(a[k], sort_keys=True)[:600])
        print("    after:  %s" % json.dumps(b[k], sort_keys=True)[:600])
        bad = 1
sys.exit(bad)
' "$1" "$2"
}

# k8s_settled BEFORE [SECONDS]: wait until a snapshot equals BEFORE (deleted
# objects finish going away, rollouts finish); 0 when it does.
k8s_settled() {
	local before=$1 limit=${2:-30} i
	for i in $(seq $((limit * 2))); do
		k8s_snapshot "$E2E_TMP/k8s/now.json"
		k8s_compare "$before" "$E2E_TMP/k8s/now.json" >/dev/null && return 0
		sleep 0.5
	done
	return 1
}

# Kubernetes drills of the catalog: scenarios with a Kubernetes inject step.
k8s_scenarios() {
	grep -lE '^ *type: (k8s-|broken-selector)' "$CHAOSLAB_SCENARIOS"/*.yaml 2>/dev/null |
		sed 's|.*/||; s|\.yaml$||' | sort
}
