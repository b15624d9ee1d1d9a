#!/bin/bash
# The lab network as iproute2, ss and curl see it, in a test-specific
# namespace (CHAOSLAB_NETNS=clit<pid>):
#   1. chaoslab lab up: `ip netns list` has it, `ip -n NS addr` and `ip addr`
#      show the /30 on both veth ends, `ip -n NS route` has no default route,
#      the lab cannot route anywhere but the host, ip_forward is unchanged;
#      lab status, lab shell (with an /etc/netns/NS file bound over /etc),
#      lab up again changes nothing.
#   2. chaoslab lab down, twice: the namespace and the veth are gone.
#   3. SIGKILL of `chaoslab lab up` at every netlink request, fsync, mount,
#      fork and rename it makes (strace fault injection; timed kills without
#      strace), then `chaoslab recover`: no veth, no namespace of ours left.
#   4. A drill with `lab: [network, demo-api]` on autopilot: demo-api runs in
#      the namespace (`ip netns identify`), listens there (`ss -ltn` inside)
#      and answers curl from the host at LAB_ADDR:18080; the drill is fixed
#      and afterwards nothing of it is left.
# The host's own interfaces, addresses and routes are compared before and
# after: the test never changes them.
set -u

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
note() { echo "-- $*"; }

[ -n "${CHAOSLAB_BIN:-}" ] || skip "CHAOSLAB_BIN is not set (run through ctest)"
[ -n "${CHAOSLAB_SRC:-}" ] || skip "CHAOSLAB_SRC is not set (run through ctest)"
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace and a veth pair)"
command -v ip >/dev/null || skip "iproute2's ip is not installed"
command -v ss >/dev/null || skip "ss (iproute2) is not installed"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
ip netns add "clprobe$$" 2>/dev/null || skip "cannot create a network namespace here"
ip netns del "clprobe$$"

B=$CHAOSLAB_BIN
NS="clit$$"
NS=${NS:0:10}
HOST_IF="clab-$NS"
TMP=$(mktemp -d /tmp/chaoslab-labnet.XXXXXX)
ETC_NETNS_MADE=
[ -d /etc/netns ] || ETC_NETNS_MADE=1
export CHAOSLAB_NETNS=$NS CHAOSLAB_STATE="$TMP/state" CHAOSLAB_RESULTS="$TMP/results" NO_COLOR=1
export CHAOSLAB_SCENARIOS="$CHAOSLAB_SRC/tests/e2e/catalog/scenarios"
DRILL_PID=

cleanup() {
	if [ -n "$DRILL_PID" ] && kill -0 "$DRILL_PID" 2>/dev/null; then
		kill -TERM "$DRILL_PID"
		wait "$DRILL_PID" 2>/dev/null
	fi
	"$B" recover >/dev/null 2>&1
	"$B" lab down >/dev/null 2>&1
	# Only this test's names.
	ip link del "$HOST_IF" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "/etc/netns/$NS" "$TMP"
	[ -z "$ETC_NETNS_MADE" ] || rmdir /etc/netns 2>/dev/null
}
trap cleanup EXIT

# The host's own interfaces (those there before we start, none of the lab's):
# their addresses and routes, and ip_forward.
HOST_IFS=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -v '^clab-')
host_snapshot() {
	local i
	{
		for i in $HOST_IFS; do
			ip -o addr show dev "$i" 2>&1 | awk '{$1=""; print}' | sed 's/valid_lft.*//'
			ip route show table all dev "$i" 2>&1
		done
		cat /proc/sys/net/ipv4/ip_forward
	} | sort
}
SNAP0=$(host_snapshot)
FWD0=$(cat /proc/sys/net/ipv4/ip_forward)

# (ip netns list complains about a namespace file nothing is mounted on yet.)
ns_listed() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; }

assert_gone() {
	! ns_listed || fail "$1: namespace $NS is still listed by ip netns list"
	! ip link show "$HOST_IF" >/dev/null 2>&1 || fail "$1: $HOST_IF still exists ($(ip -br link show "$HOST_IF"))"
	[ ! -e "/run/netns/$NS" ] || fail "$1: /run/netns/$NS is still there"
	[ ! -e "$CHAOSLAB_STATE/journal" ] || fail "$1: a journal is left: $(cat "$CHAOSLAB_STATE/journal")"
}

# ---- 1. up ----------------------------------------------------------------------
note "lab up ($NS)"
"$B" lab up >"$TMP/up" 2>&1 || { cat "$TMP/up"; fail "lab up exited $?"; }
cat "$TMP/up"
ns_listed || fail "ip netns list does not show $NS: $(ip netns list)"
LAB_CIDR=$(ip -n "$NS" -o -4 addr show dev eth0 | awk '{print $4}')
HOST_CIDR=$(ip -o -4 addr show dev "$HOST_IF" | awk '{print $4}')
[ -n "$LAB_CIDR" ] || fail "ip -n $NS addr shows no IPv4 address on eth0"
[ -n "$HOST_CIDR" ] || fail "ip addr shows no IPv4 address on $HOST_IF"
LAB_ADDR=${LAB_CIDR%/*}
HOST_ADDR=${HOST_CIDR%/*}
[ "${LAB_CIDR#*/}" = 30 ] && [ "${HOST_CIDR#*/}" = 30 ] || fail "not a /30: $HOST_CIDR, $LAB_CIDR"
python3 -c 'import ipaddress,sys; a,b=(ipaddress.ip_interface(x) for x in sys.argv[1:]); sys.exit(a.network!=b.network)' \
	"$HOST_CIDR" "$LAB_CIDR" || fail "$HOST_CIDR and $LAB_CIDR are not in the same /30"
note "host $HOST_IF $HOST_CIDR <-> $NS eth0 $LAB_CIDR"
ip -d link show "$HOST_IF" | grep -q "veth" || fail "$HOST_IF is not a veth: $(ip -d link show "$HOST_IF")"
ip link show "$HOST_IF" | grep -q "state UP\|,UP" || fail "$HOST_IF is not up"
ip link show "$HOST_IF" | grep -q "alias chaoslab:" || fail "$HOST_IF has no chaoslab owner alias"
ip -n "$NS" link show lo | grep -q "UP" || fail "lo is not up in $NS"
ip -n "$NS" link show lo | grep -q "alias chaoslab:" || fail "lo in $NS has no owner alias"
routes=$(ip -n "$NS" route show)
echo "$routes" | grep -q "^default" && fail "the lab has a default route: $routes"
[ "$(echo "$routes" | grep -c .)" = 1 ] || fail "the lab has routes other than its /30: $routes"
ip -n "$NS" -6 route show | grep -q "^default" && fail "the lab has an IPv6 default route"
ip netns exec "$NS" ip route get 192.0.2.1 >/dev/null 2>&1 && fail "the lab can route to 192.0.2.1"
ip netns exec "$NS" ip route get 1.1.1.1 >/dev/null 2>&1 && fail "the lab can route to 1.1.1.1"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$FWD0" ] || fail "ip_forward changed"

# status, as text and JSON
"$B" lab status >"$TMP/status" || { cat "$TMP/status"; fail "lab status exited $? with the lab up"; }
grep -q "$HOST_IF" "$TMP/status" && grep -q "$LAB_ADDR" "$TMP/status" || { cat "$TMP/status"; fail "lab status does not show the lab"; }
grep -q "manual lab" "$TMP/status" || fail "lab status does not say it is the manual lab"
"$B" lab status --json >"$TMP/status.json" || fail "lab status --json failed"
python3 - "$TMP/status.json" "$LAB_ADDR" "$HOST_IF" <<'EOF' || fail "lab status --json is wrong: $(cat "$TMP/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state"] == "up" and d["lab_addr"] == sys.argv[2] and d["host_if"] == sys.argv[3]
assert d["default_route"] is False and d["prefix"] == 30
assert any(q["where"] == "lab" and q["dev"] == "eth0" for q in d["qdiscs"])
EOF

# shell: a command inside the namespace, /etc/netns/NS bound over /etc
mkdir -p "/etc/netns/$NS"
echo "127.0.0.1 chaoslab-lab-marker-$NS" >"/etc/netns/$NS/hosts"
inside=$("$B" lab shell -- ip -o -4 addr show dev eth0) || fail "lab shell -- ip failed"
echo "$inside" | grep -q "$LAB_CIDR" || fail "lab shell does not run inside $NS: $inside"
"$B" lab shell -- grep -q "chaoslab-lab-marker-$NS" /etc/hosts || fail "lab shell does not see /etc/netns/$NS/hosts as /etc/hosts"
grep -q "chaoslab-lab-marker-$NS" /etc/hosts && fail "the bind mount leaked to the host's /etc/hosts"
prompt=$(echo 'echo "P=$PS1"' | SHELL=/bin/bash "$B" lab shell 2>/dev/null | grep '^P=')
echo "$prompt" | grep -q "(chaoslab-lab)" || fail "the lab shell's prompt does not show (chaoslab-lab): $prompt"
rm -rf "/etc/netns/$NS"

# up again: nothing changes
"$B" lab up >"$TMP/up2" 2>&1 || fail "lab up with the lab up exited $?"
grep -q "up already" "$TMP/up2" || fail "lab up again did not say 'up already': $(cat "$TMP/up2")"
[ "$(ip -n "$NS" -o -4 addr show dev eth0 | awk '{print $4}')" = "$LAB_CIDR" ] || fail "lab up again changed the address"

# a drill that needs the lab network refuses to take over the manual lab
"$B" drill lab-network --autopilot=2 --no-ask --plain \
	--results "$TMP/refused" >"$TMP/refused.out" 2>&1 </dev/null
rc=$?
[ $rc != 0 ] || fail "a drill ran while the manual lab held its namespace"
grep -q "the manual lab holds it" "$TMP/refused.out" || { cat "$TMP/refused.out"; fail "the drill did not say the manual lab is in the way"; }
[ "$(ip -n "$NS" -o -4 addr show dev eth0 | awk '{print $4}')" = "$LAB_CIDR" ] || fail "the refused drill changed the manual lab"
"$B" lab status >/dev/null || fail "the manual lab is not up after the refused drill"

# ---- 2. down, twice -------------------------------------------------------------
note "lab down, twice"
"$B" lab down || fail "lab down exited $?"
assert_gone "after lab down"
"$B" lab down >"$TMP/down2" || fail "second lab down exited $?"
grep -q "nothing to do" "$TMP/down2" || fail "second lab down was not a no-op: $(cat "$TMP/down2")"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$FWD0" ] || fail "ip_forward changed"

# ---- 3. SIGKILL mid lab up, then recover ------------------------------------------
# After each kill: recover (a journal) or lab down (a finished lab): nothing left.
left_behind=0
kill_then_recover() {
	local what=$1
	if ns_listed || ip link show "$HOST_IF" >/dev/null 2>&1 || [ -e "/run/netns/$NS" ]; then
		left_behind=$((left_behind + 1))
	fi
	"$B" recover >"$TMP/recover" 2>&1 || { cat "$TMP/recover"; fail "$what: recover exited $?"; }
	if [ -e "$CHAOSLAB_STATE/lab.json" ]; then
		"$B" lab down >/dev/null 2>&1 || fail "$what: lab down after the kill failed"
	fi
	assert_gone "$what, then recover"
}
kills=0
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
	note "SIGKILL at each system call of interest (strace fault injection)"
	for sc in mount clone sendmsg fsync fdatasync rename; do
		for n in $(seq 1 16); do
			# (LeakSanitizer cannot run under ptrace: off for a sanitizer build.)
			rc=$( (ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
				strace -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$n" \
				"$B" lab up >/dev/null 2>&1; echo $?) 2>/dev/null)
			if [ $rc = 0 ]; then
				# It got past the n-th call: no more of this kind.
				"$B" lab down >/dev/null 2>&1 || fail "lab down after a complete lab up failed"
				assert_gone "lab up that completed ($sc #$n)"
				break
			fi
			[ $rc = 137 ] || fail "lab up under strace ($sc #$n) exited $rc, not killed"
			kills=$((kills + 1))
			kill_then_recover "SIGKILL at $sc #$n"
		done
	done
else
	note "no usable strace: SIGKILL after timed delays instead"
	for d in 0 0.002 0.004 0.006 0.008 0.01 0.012 0.015 0.02 0.03 0.05; do
		{
			"$B" lab up >/dev/null 2>&1 &
			p=$!
			sleep "$d"
			kill -KILL $p 2>/dev/null && kills=$((kills + 1))
			wait $p
		} 2>/dev/null
		kill_then_recover "SIGKILL after ${d}s"
	done
fi
note "$kills kills, $left_behind of them left lab objects that recover removed"
[ $kills -gt 0 ] || fail "no lab up was killed"
[ $left_behind -gt 0 ] || fail "no kill landed after the lab's first object was made: the test did not test recovery"

# ---- 4. a drill with the lab network ----------------------------------------------
note "drill lab-network on autopilot"
"$B" drill lab-network --autopilot=6 --no-ask --plain >"$TMP/drill.out" 2>&1 &
DRILL_PID=$!
api=
for _ in $(seq 1 100); do
	for p in $(pgrep -x demo-api); do
		[ "$(ip netns identify "$p" 2>/dev/null)" = "$NS" ] && api=$p
	done
	[ -n "$api" ] && "$B" status --json 2>/dev/null | grep -q '"state":"running"' && break
	kill -0 "$DRILL_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$api" ] || { cat "$TMP/drill.out"; fail "no demo-api running in namespace $NS during the drill"; }
LAB_ADDR=$(ip -n "$NS" -o -4 addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
note "demo-api pid $api in $NS, lab address $LAB_ADDR"
ip netns exec "$NS" ss -ltnp | grep -q "0.0.0.0:18080 .*demo-api" ||
	fail "ss inside $NS does not show demo-api on 0.0.0.0:18080: $(ip netns exec "$NS" ss -ltnp)"
body=$(curl -sS -m 5 "http://$LAB_ADDR:18080/health") || fail "curl http://$LAB_ADDR:18080/health failed"
[ "$body" = ok ] || fail "demo-api in the lab answered '$body'"
wait "$DRILL_PID"
rc=$?
DRILL_PID=
cat "$TMP/drill.out"
[ $rc = 0 ] || fail "the drill exited $rc, expected 0 (fixed)"
f=$(ls "$CHAOSLAB_RESULTS"/*.json | head -1)
python3 - "$f" <<'EOF' || fail "the drill's result is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["outcome"] == "fixed", d["outcome"]
assert d["score"] >= 90, d["score"]
assert d["revert"]["ok"] is True
steps = {s["step"]: s for s in d["revert"]["steps"]}
assert steps["lab-network"]["reverted"] and "namespace" in steps["lab-network"]["report"], steps
EOF
run=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$f")
sleep 0.3
assert_gone "after the drill"
for p in /proc/[0-9]*; do
	if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q "^CHAOSLAB_OWNER=$run:"; then
		[ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] || fail "process ${p#/proc/} of the drill is left"
	fi
done
kill -0 "$api" 2>/dev/null && [ "$(ip netns identify "$api" 2>/dev/null)" = "$NS" ] && fail "demo-api $api is still running"

# ---- 5. SIGKILL of the drill, then recover ----------------------------------------
note "SIGKILL of a drill with the lab network, then recover"
rm -f "$CHAOSLAB_RESULTS"/*.json
"$B" drill lab-network --autopilot=60 --no-ask --plain >"$TMP/drill2.out" 2>&1 &
DRILL_PID=$!
for _ in $(seq 1 100); do
	"$B" status --json 2>/dev/null | grep -q '"state":"running"' && break
	kill -0 "$DRILL_PID" 2>/dev/null || { cat "$TMP/drill2.out"; fail "the drill ended early"; }
	sleep 0.1
done
run=$("$B" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
ns_listed || fail "no lab namespace while the drill runs"
kill -KILL "$DRILL_PID"
wait "$DRILL_PID" 2>/dev/null
DRILL_PID=
# The harness is gone; its workers die with it (PR_SET_PDEATHSIG).
sleep 0.3
ns_listed || fail "the lab namespace vanished without recover: nothing left to test"
[ -e "$CHAOSLAB_STATE/journal" ] || fail "no journal after SIGKILL"
"$B" recover >"$TMP/recover" || { cat "$TMP/recover"; fail "recover exited $?"; }
cat "$TMP/recover"
grep -q "lab-network" "$TMP/recover" || fail "recover did not revert the lab-network step"
assert_gone "SIGKILL of the drill, then recover"
"$B" recover | grep -q "nothing to recover" || fail "a second recover was not a no-op"

# ---- the host, untouched --------------------------------------------------------------
SNAP1=$(host_snapshot)
[ "$SNAP0" = "$SNAP1" ] || { diff <(echo "$SNAP0") <(echo "$SNAP1"); fail "the host's addresses, routes or ip_forward changed"; }
echo "PASS: lab network up/down/status/shell, SIGKILL + recover, a drill inside it; the host untouched"
