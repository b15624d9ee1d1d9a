#!/bin/bash
# Guardrail: traffic shaping (bandwidth's tbf, netem) acts on the lab's veth
# only. A step naming a host interface is refused before anything changes
# unless it says allow_host_interface: true: the interface's qdiscs (tc) are
# what they were, no journal is left, the refusal names the flag. With the
# flag, on a veth pair made for the test (a host interface nobody uses), the
# qdisc with chaoslab's handle c1ab: is there while the drill runs and gone
# after it. netem is checked the same way where the kernel has sch_netem.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
command -v tc >/dev/null || skip "no tc (iproute2)"

cat="$E2E_TMP/catalog"
mkdir -p "$cat/scenarios" "$cat/runbooks"
export CHAOSLAB_SCENARIOS="$cat/scenarios"
for type in bandwidth netem; do
	if [ $type = bandwidth ]; then with="rate: 1mbit"; else with="delay_ms: 100"; fi
	cat >"$cat/scenarios/host-$type.yaml" <<EOF
id: host-$type
title: $type on a host interface
day: 10
skills: [net.tc]
difficulty: 1
par_seconds: 60
time_limit_seconds: 120
symptom_timeout_seconds: 10
stable_seconds: 1
briefing: |
  Test drill: $type on an interface outside the lab.
inject:
  - id: shaper
    type: $type
    with: {$with, interface: lo}
symptoms:
  - type: qdisc
    with: {injection: shaper, state: present}
fixed_when:
  - type: qdisc
    with: {injection: shaper, state: absent}
solution:
  - "true"
runbook: runbooks/host-$type.md
EOF
	echo "# host-$type (test drill)" >"$cat/runbooks/host-$type.md"
done

# A veth pair of the test's own: a host interface whose traffic nobody needs.
ta=ctg$$a tb=ctg$$b
ip link add "$ta" type veth peer name "$tb" || skip "cannot create a veth pair"
trap 'ip link del "$ta" 2>/dev/null; e2e_cleanup' EXIT
ip link set "$ta" up
ip link set "$tb" up

default_if=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
ifaces="lo $ta ${default_if:-}"

for type in bandwidth netem; do
	why=$("$CHAOSLAB_BIN" list --json | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d["id"] == sys.argv[1] and not d.get("supported", True):
        print(d.get("reason", "not supported"))' "host-$type")
	if [ -n "$why" ]; then
		note "$type: not on this machine ($why); its host-interface check is the one bandwidth uses (sys/netlink.c)"
		continue
	fi
	for ifc in $ifaces; do
		q0=$(tc qdisc show dev "$ifc")
		out=$("$CHAOSLAB_BIN" drill "host-$type" --no-ask --plain --set "shaper.interface=$ifc" 2>&1)
		rc=$?
		q1=$(tc qdisc show dev "$ifc")
		note "$type on $ifc without the flag: exit $rc: $(echo "$out" | grep chaoslab: | tail -1)"
		[ $rc = 2 ] || die "$type on host interface $ifc: exit $rc, expected 2 (refused)"
		echo "$out" | grep -q "refusing to touch host interface $ifc: set allow_host_interface: true" ||
			die "$type on $ifc: the refusal does not name allow_host_interface: $out"
		[ "$q0" = "$q1" ] || die "$type on $ifc: qdiscs changed: '$q0' -> '$q1'"
		echo "$q1" | grep -q "c1ab:" && die "$type on $ifc: a c1ab: qdisc is there"
		[ ! -e "$CHAOSLAB_STATE/journal" ] || die "journal left behind"
	done

	# With the flag, on the test's own veth: applied, then reverted.
	q0=$(tc qdisc show dev "$ta")
	drill_bg "host-$type" --set "shaper.interface=$ta" --set shaper.allow_host_interface=true
	wait_state running 30
	tc qdisc show dev "$ta" | grep -q "c1ab: root" || die "$type with the flag: no c1ab: root qdisc on $ta: $(tc qdisc show dev "$ta")"
	"$CHAOSLAB_BIN" giveup >/dev/null
	drill_wait
	[ "$DRILL_RC" = 1 ] || die "$type with the flag: exit $DRILL_RC after giving up, expected 1"
	[ "$(tc qdisc show dev "$ta")" = "$q0" ] || die "$type: $ta not restored: $(tc qdisc show dev "$ta")"
	assert_clean
	rm -f "$CHAOSLAB_RESULTS"/*.json
	note "$type with allow_host_interface on $ta: applied, then reverted to '$q0'"
done
echo "PASS: host interfaces are only shaped with allow_host_interface, and then restored"
