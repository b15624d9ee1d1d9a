#!/usr/bin/env bash
# Without a Kubernetes cluster: `chaoslab list` marks every Kubernetes drill
# unsupported with the reason ("no Kubernetes cluster: kubectl cannot reach
# the API server (...)"), in text and in --json; `chaoslab drill` stops in
# preflight with exit 3 and says so, changing nothing; without kubectl at all
# the reason says that instead. kubectl itself confirms there is no cluster.
set -uo pipefail

BIN=${CHAOSLAB_BIN:-build/chaoslab}
SRC=${CHAOSLAB_SRC:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

[ -x "$BIN" ] || { echo "FAIL: no chaoslab binary at $BIN (set CHAOSLAB_BIN)"; exit 1; }
export CHAOSLAB_SCENARIOS="$SRC/scenarios" CHAOSLAB_STATE="$tmp/state" CHAOSLAB_RESULTS="$tmp/results"
unset CHAOSLAB_KUBE_CONTEXT
k8s_ids=$(grep -lE '^ *type: (k8s-|broken-selector)' "$CHAOSLAB_SCENARIOS"/*.yaml | sed 's|.*/||; s|\.yaml$||')
[ -n "$k8s_ids" ] || { echo "FAIL: no Kubernetes drills in $CHAOSLAB_SCENARIOS"; exit 1; }

# A kubeconfig whose API server is a closed port on this machine.
cat >"$tmp/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster:
    server: https://127.0.0.1:1
users:
- name: u
  user: {token: x}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
KC
export KUBECONFIG="$tmp/kubeconfig" KUBECACHEDIR="$tmp/cache"

if command -v kubectl >/dev/null; then
	if kubectl version --request-timeout=3s >/dev/null 2>&1; then
		fail "kubectl reaches a server through $KUBECONFIG: the test premise is wrong"
	else
		pass "kubectl itself cannot reach a server"
	fi
	reason="no Kubernetes cluster: kubectl cannot reach the API server ("
else
	reason="kubectl not found on PATH"
fi

"$BIN" list >"$tmp/list" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] || fail "list exited $rc: $(cat "$tmp/err")"
for id in $k8s_ids; do
	line=$(grep "^$id " "$tmp/list")
	case $line in
	*" no: "*"$reason"*) pass "list: $id unsupported, with the reason" ;;
	*) fail "list: $id: '$line' does not say '$reason'" ;;
	esac
done
# Drills that need no cluster are not affected.
line=$(grep '^cpu-runaway ' "$tmp/list")
case $line in
"") fail "list: no cpu-runaway line" ;;
*Kubernetes* | *kubectl*) fail "list: cpu-runaway is blamed on the cluster: $line" ;;
*) pass "list: cpu-runaway does not depend on the cluster" ;;
esac

"$BIN" list --json >"$tmp/list.json" 2>>"$tmp/err" || fail "list --json failed"
python3 - "$tmp/list.json" "$reason" $k8s_ids <<'PY' && pass "list --json: supported false with the reason" || fail "list --json"
import json, sys
rows = {r.get("id"): r for r in json.load(open(sys.argv[1]))}
reason = sys.argv[2]
bad = [i for i in sys.argv[3:] if rows.get(i, {}).get("supported") is not False
       or reason not in rows.get(i, {}).get("reason", "")]
if bad:
    print("  wrong rows:", [rows.get(i) for i in bad])
    sys.exit(1)
PY

# The probe is run once per process, not once per drill.
start=$(date +%s%N)
"$BIN" list >/dev/null 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 8000 ] && pass "list takes ${ms} ms (one cluster probe)" || fail "list took ${ms} ms"

"$BIN" drill service-no-endpoints --no-ask --plain >"$tmp/drill" 2>&1
rc=$?
[ $rc = 3 ] && pass "drill exits 3 in preflight" || fail "drill exited $rc, want 3: $(cat "$tmp/drill")"
grep -q "cannot run here: .*$reason" "$tmp/drill" && pass "drill says why: $(grep -o 'no Kubernetes cluster[^(]*' "$tmp/drill" | head -1)" ||
	fail "drill output does not name the missing cluster: $(cat "$tmp/drill")"
[ ! -e "$CHAOSLAB_STATE/journal" ] && pass "no journal left" || fail "a journal was left"

# No kubectl at all: the reason says so.
mkdir -p "$tmp/emptybin"
PATH="$tmp/emptybin" "$BIN" list >"$tmp/list2" 2>&1
line=$(grep '^service-no-endpoints ' "$tmp/list2")
case $line in
*"no: "*"kubectl not found on PATH"*) pass "without kubectl: '${line##*no: }'" ;;
*) fail "without kubectl: '$line'" ;;
esac

if [ $fails -gt 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "PASS: no cluster is reported clearly"
