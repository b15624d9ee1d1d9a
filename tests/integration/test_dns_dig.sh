#!/bin/bash
# The lab DNS server and the bad-resolver injector as clients see them,
# through the real dig (and getent, glibc's own resolver):
#  1. server faults: with SERVFAIL, NXDOMAIN and timeouts each set to 20%,
#     200 `dig @127.0.0.1 -p 18053` queries see each at its rate, within
#     4.5 standard deviations; after the drill no rule is left;
#  2. the lab's resolv.conf (needs the lab network): dead_resolver makes
#     `ip netns exec LAB dig` time out while the server answers directly;
#     broken_first makes getent stall, then succeed; giving up, and SIGKILL
#     of the harness + `chaoslab recover`, both put the file back byte for
#     byte (or remove it when there was none);
#  3. allow_host_resolver, inside a private mount namespace where a copy is
#     bind-mounted over /etc/resolv.conf (the real one is never at risk):
#     written in place, restored byte for byte, also after SIGKILL.
# The host's own /etc/resolv.conf is byte-identical at the end.
export CHAOSLAB_SCENARIOS="${TMPDIR:-/tmp}/chaoslab-dns-cat.$$/scenarios"
. "$(dirname "$0")/../e2e/lib.sh"
need_root
command -v dig >/dev/null || skip "dig is not installed (Debian: bind9-dnsutils)"

CAT=$(dirname "$CHAOSLAB_SCENARIOS")
NS="${CHAOSLAB_NETNS:-chaoslab}"
LAB_RESOLV="/etc/netns/$NS/resolv.conf"
RESOLV_BEFORE=$(sha256sum </etc/resolv.conf)
SAVED_LAB_RESOLV=
if [ -e "$LAB_RESOLV" ]; then
	SAVED_LAB_RESOLV="$CAT.lab-resolv"
	mkdir -p "$(dirname "$CAT")"
	cp -p "$LAB_RESOLV" "$SAVED_LAB_RESOLV"
fi
restore_lab_resolv() {
	if [ -n "$SAVED_LAB_RESOLV" ]; then
		mkdir -p "$(dirname "$LAB_RESOLV")" &&
			cp -p "$SAVED_LAB_RESOLV" "$LAB_RESOLV" && rm -f "$SAVED_LAB_RESOLV"
	fi
}
trap 'e2e_cleanup; restore_lab_resolv; rm -rf "$CAT"' EXIT
mkdir -p "$CAT/scenarios" "$CAT/runbooks"

# scenario ID LAB INJECT_STEPS SYMPTOM: a drill that holds its fault until
# given up (its fix criterion is never met in time).
scenario() {
	echo "# $1 (test)" >"$CAT/runbooks/$1.md"
	cat >"$CAT/scenarios/$1.yaml" <<EOF
id: $1
title: a DNS fault held for the test
day: 25
skills: [net.dns]
difficulty: 1
par_seconds: 60
time_limit_seconds: 600
symptom_timeout_seconds: 40
briefing: test
lab: $2
inject:
$3
symptoms:
  - type: dns-resolve
    with: $4
fixed_when:
  - type: dns-resolve
    with: {service: dns, name: never.lab.test}
solution: ["true"]
runbook: runbooks/$1.md
EOF
}

finish_drill() { # LABEL: give up, wait, check the revert
	"$CHAOSLAB_BIN" giveup >/dev/null || die "$1: giveup failed"
	drill_wait
	f=$(result_file)
	[ -n "$f" ] || { cat "$E2E_TMP/drill.out"; die "$1: no result"; }
	[ "$(json "$f" 'd["revert"]["ok"]')" = True ] || die "$1: revert not ok"
	RUN_IDS="${RUN_IDS:-} $(json "$f" 'd["run_id"]')"
	rm -f "$CHAOSLAB_RESULTS"/*.json
	assert_clean
}

# ---- 1. server faults at their rates, seen by dig ------------------------------

scenario dig-rates "[dns]" "  - {id: sf, type: bad-resolver, with: {mode: servfail, probability: 0.2}}
  - {id: nx, type: bad-resolver, with: {mode: nxdomain, probability: 0.2}}
  - {id: to, type: bad-resolver, with: {mode: timeout, probability: 0.2}}" \
	"{service: dns, count: 40, timeout_ms: 500, max_success_percent: 80}"
drill_bg dig-rates
wait_state running 60
N=200
seq $N | xargs -P 20 -I{} dig +tries=1 +timeout=2 @127.0.0.1 -p 18053 api.lab.test 2>&1 |
	grep -oE 'status: [A-Z]+|timed out' | sort | uniq -c >"$E2E_TMP/rates"
cat "$E2E_TMP/rates"
count() { awk -v k="$1" '$0 ~ k { n = $1 } END { print n + 0 }' "$E2E_TMP/rates"; }
sf=$(count SERVFAIL)
nx=$(count NXDOMAIN)
to=$(count "timed out")
ok=$(count NOERROR)
[ $((sf + nx + to + ok)) = $N ] || die "dig saw $((sf + nx + to + ok)) outcomes for $N queries"
# Binomial, n = 200: p = 0.2 gives 40 +- 5.7, p = 0.4 gives 80 +- 6.9.
for pair in "SERVFAIL $sf 15 65" "NXDOMAIN $nx 15 65" "timeouts $to 15 65" "NOERROR $ok 49 111"; do
	set -- $pair
	[ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || die "$1: $2 of $N, outside $3..$4"
done
note "dig over $N queries: SERVFAIL $sf, NXDOMAIN $nx, timed out $to, NOERROR $ok (configured 20/20/20/40 %)"
grep -q '\[rule rules.d/sf.rule:1: servfail 0.20\]' "$CHAOSLAB_STATE/lab/dns/query.log" ||
	die "the query log names no servfail rule"
finish_drill dig-rates
left=$(ls "$CHAOSLAB_STATE/lab/dns/rules.d/" 2>/dev/null)
[ -z "$left" ] || die "rules left after the drill: $left"

# ---- 2. the lab's resolv.conf ----------------------------------------------------

net_ok=1
if ! ip netns add "clabprobe$$" 2>/dev/null; then
	net_ok=0
else
	ip netns del "clabprobe$$"
fi
if [ $net_ok = 1 ]; then
	rm -f "$LAB_RESOLV"
	rmdir "/etc/netns/$NS" /etc/netns 2>/dev/null

	scenario dig-dead "[network, dns]" "  - {id: resolver, type: bad-resolver, with: {mode: dead_resolver}}" \
		"{count: 5, timeout_ms: 1000, max_success_percent: 0}"
	drill_bg dig-dead
	wait_state running 60
	grep -q '^nameserver 10\.\|^nameserver 172\.' "$LAB_RESOLV" || die "dead_resolver: $(cat "$LAB_RESOLV")"
	ip netns exec "$NS" dig +tries=1 +timeout=1 api.lab.test >"$E2E_TMP/dig" 2>&1
	grep -q "timed out" "$E2E_TMP/dig" || die "dead_resolver: dig in the lab did not time out: $(cat "$E2E_TMP/dig")"
	addr=$(ip netns exec "$NS" dig +short @127.0.0.1 api.lab.test)
	[ -n "$addr" ] || die "dead_resolver: the lab DNS server did not answer directly"
	ip netns exec "$NS" getent hosts api.lab.test && die "dead_resolver: getent resolved the name"
	note "dead_resolver: dig in the lab timed out ($(grep -m1 'timed out' "$E2E_TMP/dig")), the server answers $addr directly"
	run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
	RUN_IDS="${RUN_IDS:-} $run"
	kill -KILL "$DRILL_PID"
	drill_wait
	"$CHAOSLAB_BIN" recover >"$E2E_TMP/recover" 2>&1 || { cat "$E2E_TMP/recover"; die "recover failed"; }
	[ ! -e "$LAB_RESOLV" ] || die "after recover $LAB_RESOLV is still there: $(cat "$LAB_RESOLV")"
	[ ! -e "/etc/netns/$NS" ] || die "after recover /etc/netns/$NS is still there"
	sleep 0.5
	assert_clean
	note "dead_resolver: SIGKILL + recover removed the lab resolv.conf it had created"

	# With an original file: restored byte for byte.
	mkdir -p "/etc/netns/$NS"
	printf '# the lab resolver, before the drill\nnameserver 127.0.0.1\noptions ndots:1\n' >"$LAB_RESOLV"
	chmod 0640 "$LAB_RESOLV"
	cp -p "$LAB_RESOLV" "$E2E_TMP/orig"
	scenario dig-first "[network, dns]" "  - {id: resolver, type: bad-resolver, with: {mode: broken_first, timeout_seconds: 1}}" \
		"{count: 5, timeout_ms: 3000, min_p95_ms: 900}"
	for how in giveup sigkill; do
		drill_bg dig-first
		wait_state running 60
		head -1 "$LAB_RESOLV" | grep -q '^nameserver 1' || die "broken_first: $(cat "$LAB_RESOLV")"
		grep -q '^nameserver 127.0.0.1$' "$LAB_RESOLV" || die "broken_first: the good nameserver is gone"
		t0=$(date +%s%N)
		ip netns exec "$NS" getent hosts api.lab.test >/dev/null || die "broken_first: getent failed"
		ms=$((($(date +%s%N) - t0) / 1000000))
		[ $ms -ge 900 ] || die "broken_first: getent took $ms ms, expected a stall of about 1 s"
		note "broken_first: getent stalled $ms ms, then resolved"
		if [ $how = giveup ]; then
			finish_drill dig-first
		else
			RUN_IDS="${RUN_IDS:-} $("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')"
			kill -KILL "$DRILL_PID"
			drill_wait
			"$CHAOSLAB_BIN" recover >/dev/null 2>&1 || die "recover failed"
			sleep 0.5
			assert_clean
		fi
		cmp -s "$LAB_RESOLV" "$E2E_TMP/orig" || die "$how: the lab resolv.conf was not restored byte for byte"
		[ "$(stat -c %a "$LAB_RESOLV")" = 640 ] || die "$how: the mode was not restored"
		note "broken_first, $how: the lab resolv.conf is back byte for byte"
	done
	rm -f "$LAB_RESOLV"
	rmdir "/etc/netns/$NS" /etc/netns 2>/dev/null
else
	note "SKIPPED part 2: no network namespaces here"
fi

# ---- 3. allow_host_resolver, on a bind-mounted copy ---------------------------------

command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
scenario host-dead "[dns]" "  - {id: resolver, type: bad-resolver, with: {mode: dead_resolver, allow_host_resolver: true}}" \
	"{count: 3, timeout_ms: 800, max_success_percent: 0}"
printf '# host resolver (a copy for the test)\nnameserver 127.0.0.1\nsearch example.test\n' >"$E2E_TMP/fake"
cp "$E2E_TMP/fake" "$E2E_TMP/fake.orig"
unshare --mount --propagation private bash -c '
	set -u
	mount --bind "$2/fake" /etc/resolv.conf || exit 3
	for how in giveup sigkill; do
		"$CHAOSLAB_BIN" drill --plain --no-ask host-dead >"$2/host.out" 2>&1 &
		pid=$!
		for i in $(seq 150); do
			"$CHAOSLAB_BIN" status --json 2>/dev/null | grep -q "\"state\":\"running\"" && break
			sleep 0.2
		done
		grep -q "^nameserver 192.0.2.53$" /etc/resolv.conf || { cat "$2/host.out"; echo "not written: $(cat /etc/resolv.conf)"; exit 4; }
		grep -q "^search example.test$" /etc/resolv.conf || exit 5
		if [ $how = giveup ]; then
			"$CHAOSLAB_BIN" giveup >/dev/null
			wait $pid
		else
			kill -KILL $pid
			wait $pid
			"$CHAOSLAB_BIN" recover >/dev/null || exit 6
		fi
		cmp -s /etc/resolv.conf "$2/fake.orig" || { echo "$how: not restored: $(cat /etc/resolv.conf)"; exit 7; }
	done
' host-test "$CHAOSLAB_SRC" "$E2E_TMP"
rc=$?
[ $rc = 0 ] || die "allow_host_resolver in a private mount namespace failed ($rc)"
cmp -s "$E2E_TMP/fake" "$E2E_TMP/fake.orig" || die "the bind-mounted copy was not restored"
note "allow_host_resolver: written in place on a bind-mounted resolv.conf, restored byte for byte (give up and SIGKILL + recover)"
for f in "$CHAOSLAB_RESULTS"/*.json; do
	[ -e "$f" ] && RUN_IDS="${RUN_IDS:-} $(json "$f" 'd["run_id"]')"
done
assert_clean

[ "$(sha256sum </etc/resolv.conf)" = "$RESOLV_BEFORE" ] || die "the host's /etc/resolv.conf changed"
echo "PASS: dig sees the configured SERVFAIL/NXDOMAIN/timeout rates; lab and host resolv.conf faults land and are restored byte for byte"
