#!/bin/bash
# Guardrail: the host's resolver configuration is never touched unless a
# step says allow_host_resolver: true.
#   1. dns-wrong-resolver (the lab's resolver points at a dead nameserver):
#      while it runs the lab's /etc/netns/NETNS/resolv.conf holds the dead
#      nameserver and the host's /etc/resolv.conf is byte for byte, inode
#      and mtime what it was; after it, too, and the lab's file is gone.
#   2. A client-mode step without a lab network and without the flag is
#      refused before anything changes (exit 2, the refusal names the flag).
#   3. With the flag, in a private mount namespace where a copy of
#      /etc/resolv.conf is bind-mounted over it (the box's real file is never
#      at stake): the copy holds the dead nameserver while the drill runs and
#      is byte-identical to before after it; the real file never changes.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
command -v unshare >/dev/null || skip "no unshare (util-linux)"
[ -e /etc/resolv.conf ] || skip "this box has no /etc/resolv.conf"

host_state() { stat -L -c '%i %Y %s' /etc/resolv.conf; sha256sum </etc/resolv.conf; }
h0=$(host_state)
export CHAOSLAB_NETNS=cgr$$
netns_conf=/etc/netns/$CHAOSLAB_NETNS/resolv.conf

# 1. The lab's resolver.
why=$("$CHAOSLAB_BIN" list --json | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d["id"] == "dns-wrong-resolver" and not d.get("supported", True):
        print(d.get("reason", "not supported"))')
if [ -n "$why" ]; then
	note "dns-wrong-resolver cannot run here ($why): part 1 not run"
else
	drill_bg dns-wrong-resolver
	wait_state running 60
	[ -f "$netns_conf" ] || die "no lab resolver file $netns_conf"
	grep -q '^nameserver' "$netns_conf" || die "$netns_conf has no nameserver"
	lab_ns=$(awk '$1 == "nameserver" {print $2; exit}' "$netns_conf")
	[ "$(host_state)" = "$h0" ] || die "the host's /etc/resolv.conf changed during the drill"
	note "running: the lab resolves through $lab_ns ($netns_conf); the host's file is untouched"
	"$CHAOSLAB_BIN" giveup >/dev/null
	drill_wait
	[ "$DRILL_RC" = 1 ] || die "dns-wrong-resolver: exit $DRILL_RC after giving up, expected 1"
	[ "$(host_state)" = "$h0" ] || die "the host's /etc/resolv.conf changed after the drill"
	[ ! -e "/etc/netns/$CHAOSLAB_NETNS" ] || die "/etc/netns/$CHAOSLAB_NETNS left behind"
	assert_clean
	rm -f "$CHAOSLAB_RESULTS"/*.json
fi

# 2 and 3: a test drill on the host's resolver.
cat="$E2E_TMP/catalog"
mkdir -p "$cat/scenarios" "$cat/runbooks"
export CHAOSLAB_SCENARIOS="$cat/scenarios"
cat >"$cat/scenarios/host-resolver.yaml" <<'EOF'
id: host-resolver
title: A dead nameserver in the host's resolv.conf
day: 7
skills: [net.dns]
difficulty: 1
par_seconds: 60
time_limit_seconds: 120
symptom_timeout_seconds: 15
stable_seconds: 1
briefing: |
  Test drill: the host's own resolver configuration.
inject:
  - id: resolver
    type: bad-resolver
    with: {mode: dead_resolver, allow_host_resolver: true}
symptoms:
  - type: dns-resolve
    with: {count: 1, timeout_ms: 300, max_success_percent: 0}
fixed_when:
  - type: dns-resolve
    with: {count: 1, timeout_ms: 300, min_success_percent: 100}
solution:
  - "true"
runbook: runbooks/host-resolver.md
EOF
echo "# host-resolver (test drill)" >"$cat/runbooks/host-resolver.md"

out=$("$CHAOSLAB_BIN" drill host-resolver --no-ask --plain --set resolver.allow_host_resolver=false 2>&1)
rc=$?
note "without the flag: exit $rc: $(echo "$out" | grep chaoslab: | tail -1)"
[ $rc = 2 ] || die "a host resolver change without allow_host_resolver: exit $rc, expected 2"
echo "$out" | grep -q "allow_host_resolver" || die "the refusal does not name allow_host_resolver: $out"
[ "$(host_state)" = "$h0" ] || die "the host's /etc/resolv.conf changed"
[ ! -e "$CHAOSLAB_STATE/journal" ] || die "journal left behind"
rm -f "$CHAOSLAB_RESULTS"/*.json

copy="$E2E_TMP/resolv.conf"
cp -p /etc/resolv.conf "$copy"
c0=$(sha256sum <"$copy")
unshare -m --propagation private sh -c \
	'mount --bind "$1" /etc/resolv.conf && exec "$2" drill host-resolver --no-ask --plain' \
	sh "$copy" "$CHAOSLAB_BIN" >"$E2E_TMP/drill.out" 2>&1 &
DRILL_PID=$!
wait_state running 30
grep -q '^nameserver 192.0.2.53' "$copy" || die "with the flag: the resolver file does not hold the dead nameserver: $(cat "$copy")"
[ "$(host_state)" = "$h0" ] || die "the real /etc/resolv.conf changed (the drill ran in its own mount namespace)"
note "with the flag: the bind-mounted copy now says $(grep -m1 nameserver "$copy")"
"$CHAOSLAB_BIN" giveup >/dev/null
drill_wait
cat "$E2E_TMP/drill.out" | tail -3
[ "$DRILL_RC" = 1 ] || die "with the flag: exit $DRILL_RC after giving up, expected 1"
[ "$(sha256sum <"$copy")" = "$c0" ] || die "the resolver file was not restored byte for byte: $(cat "$copy")"
[ "$(host_state)" = "$h0" ] || die "the real /etc/resolv.conf changed"
assert_clean
echo "PASS: the host's resolver is only changed with allow_host_resolver, and then restored byte for byte"
