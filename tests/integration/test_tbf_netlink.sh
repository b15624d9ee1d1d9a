# The bandwidth injector's tbf, added, read back and deleted over netlink by
# the real chaoslab binary in a drill, checked from outside with iproute2's
# `tc qdisc show`:
#   1. a drill (autopilot) on a lab of its own: while it runs, tc sees
#      "tbf c1ab: root ... rate 1Mbit burst 32Kb lat 100ms" on the lab
#      veth's host end; the qdisc verifier's read-back shows in the drill's
#      output; the autopilot's `tc qdisc del` is the fix; afterwards no qdisc,
#      veth or namespace of ours is left.
#   2. SIGKILL of the harness while the tbf is in place, then
#      `chaoslab recover`: tc still sees the tbf after the kill (the revert
#      really is recover's), and none after recover; neither veth nor
#      namespace is left.
# Runs on a lab named cltbf<pid> ($CHAOSLAB_NETNS), never the real lab, never
# a host interface.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
command -v tc >/dev/null 2>&1 || skip "needs iproute2's tc"
command -v ip >/dev/null 2>&1 || skip "needs iproute2's ip"
"$CHAOSLAB_BIN" show injector lab-network >/dev/null 2>&1 || skip "this build has no lab-network injector"
"$CHAOSLAB_BIN" show injector bandwidth >/dev/null 2>&1 || die "this build has no bandwidth injector"

export CHAOSLAB_NETNS="cltbf$$"
host_if="clab-$CHAOSLAB_NETNS"
RUN_IDS=

cleanup_lab() {
	# Only if a failure left them: the lab-network revert normally does.
	ip link del "$host_if" 2>/dev/null
	ip netns del "$CHAOSLAB_NETNS" 2>/dev/null
	return 0
}
trap 'e2e_cleanup; cleanup_lab' EXIT

mkdir -p "$E2E_TMP/drills/runbooks" "$E2E_TMP/drills/scenarios"
cat >"$E2E_TMP/drills/runbooks/tbf-netlink.md" <<'EOF'
# Slow lab link (test drill)

A token bucket (tc tbf) squeezes the lab link. `tc qdisc show` finds it;
`tc qdisc del dev IF root` removes it.
EOF
cat >"$E2E_TMP/drills/scenarios/tbf-netlink.yaml" <<EOF
id: tbf-netlink
title: A token bucket squeezes the lab link
day: 10
skills: [net.tc]
difficulty: 1
par_seconds: 60
time_limit_seconds: 300
symptom_timeout_seconds: 20
stable_seconds: 1
briefing: |
  The lab link is slow. Find the qdisc and remove it.
lab: [network]
inject:
  - id: shaper
    type: bandwidth
    with: {rate: 1mbit, burst: 32kb, latency_ms: 100}
symptoms:
  - type: qdisc
    with: {injection: shaper, state: present}
fixed_when:
  - type: qdisc
    with: {injection: shaper, state: absent}
solution:
  - tc qdisc show dev $host_if
  - tc qdisc del dev $host_if root
runbook: runbooks/tbf-netlink.md
EOF
drill="$E2E_TMP/drills/scenarios/tbf-netlink.yaml"
"$CHAOSLAB_BIN" validate "$drill" >/dev/null || die "test drill does not validate: $("$CHAOSLAB_BIN" validate "$drill" 2>&1)"

# Wait up to $1 s for tc to show our tbf on the host end; its line in $TC_LINE.
wait_tbf() {
	local i=0
	while [ $i -lt $(($1 * 10)) ]; do
		TC_LINE=$(tc qdisc show dev "$host_if" 2>/dev/null | grep 'tbf c1ab: root' || true)
		[ -n "$TC_LINE" ] && return 0
		kill -0 "$DRILL_PID" 2>/dev/null || { cat "$E2E_TMP/drill.out"; die "drill exited before the tbf appeared"; }
		sleep 0.1
		i=$((i + 1))
	done
	cat "$E2E_TMP/drill.out"
	die "tc never showed tbf c1ab: on $host_if"
}

assert_lab_gone() {
	! ip link show "$host_if" >/dev/null 2>&1 || die "veth $host_if left behind"
	! ip netns list | grep -qw "$CHAOSLAB_NETNS" || die "namespace $CHAOSLAB_NETNS left behind"
	! tc qdisc show | grep -q 'c1ab:' || die "a qdisc of ours is left: $(tc qdisc show | grep 'c1ab:')"
}

note "1. drill with autopilot: tbf in place, read back, removed by the fix"
drill_bg --autopilot=3 "$drill"
wait_tbf 30
note "tc: $TC_LINE"
echo "$TC_LINE" | grep -q 'rate 1Mbit burst 32Kb lat 100ms' || die "tc shows other parameters: $TC_LINE"
# The lab end (inside the namespace) is untouched.
! ip netns exec "$CHAOSLAB_NETNS" tc qdisc show dev eth0 | grep -q tbf || die "tbf on the lab end too"
drill_wait
[ "$DRILL_RC" = 0 ] || { cat "$E2E_TMP/drill.out"; die "drill exited $DRILL_RC, not 0 (fixed)"; }
res=$(result_file)
[ -n "$res" ] || die "no result file"
# The qdisc verifier's read-back over netlink, as the symptom saw it.
sym=$(json "$res" '[c["observation"] for c in d["criteria"] if c["section"] == "symptoms"][0]')
note "symptom: $sym"
case "$sym" in
"tbf c1ab: rate 1Mbit burst 32Kb limit "*" on $host_if") ;;
*) die "the qdisc verifier read back '$sym'" ;;
esac
grep -q "no tbf qdisc of ours on $host_if (noqueue 0:)" "$E2E_TMP/drill.out" ||
	{ cat "$E2E_TMP/drill.out"; die "the fix was not observed as 'no tbf qdisc of ours'"; }
[ "$(json "$res" 'd["outcome"]')" = fixed ] || die "outcome $(json "$res" 'd["outcome"]'), not fixed"
RUN_IDS="$RUN_IDS $(json "$res" 'd["run_id"]')"
assert_lab_gone
assert_clean
rm -f "$CHAOSLAB_RESULTS"/*.json

note "2. SIGKILL with the tbf in place, then recover"
drill_bg "$drill"
wait_tbf 30
wait_state running 30
kill -KILL "$DRILL_PID"
drill_wait
sleep 0.3
tc qdisc show dev "$host_if" | grep -q 'tbf c1ab: root' || die "the tbf vanished with the harness: nothing left for recover to prove"
[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
"$CHAOSLAB_BIN" recover | tee "$E2E_TMP/recover" || die "recover failed"
grep -q 'deleted tbf c1ab: from' "$E2E_TMP/recover" || die "recover did not report deleting the tbf"
assert_lab_gone
assert_clean
"$CHAOSLAB_BIN" recover | grep -q "nothing to recover" || die "second recover was not a no-op"
echo "PASS: tbf over netlink: added, read back, deleted; SIGKILL + recover leaves no qdisc, veth or namespace"
