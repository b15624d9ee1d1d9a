#!/bin/bash
# Guardrail: one drill at a time per state directory. While a drill runs
# (disk-full: a lab volume, no port that other drills on the box use), a
# second `chaoslab drill` with the same state directory is refused (exit 2)
# naming the holder's pid and scenario, before it changes anything: no
# process of its own (ps), the first drill's journal untouched, no result;
# `chaoslab recover` is refused the same way (it must never revert a live
# run). The first drill goes on undisturbed and reverts cleanly.
. "$(dirname "$0")/../e2e/lib.sh"
need_root

drill_bg disk-full
wait_state running 60
first=$DRILL_PID
run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
RUN_IDS=$run
j0=$(sha256sum <"$CHAOSLAB_STATE/journal")

# Every process carrying an owner tag of a zombie-parent run, now.
zp_procs() {
	for p in /proc/[0-9]*; do
		{ tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q '^CHAOSLAB_OWNER=.*zombie-parent' &&
			echo "${p#/proc/}"
	done | sort
}
zp0=$(zp_procs)

out=$("$CHAOSLAB_BIN" drill zombie-parent --no-ask --plain 2>&1)
rc=$?
note "second drill: exit $rc: $out"
[ $rc = 2 ] || die "a second drill with the same state directory: exit $rc, expected 2"
echo "$out" | grep -q "a drill is already running (pid $first, disk-full)" ||
	die "the refusal does not name the holder (pid $first, disk-full): $out"
[ "$(zp_procs)" = "$zp0" ] || die "the refused drill started processes: $(zp_procs)"
[ "$(sha256sum <"$CHAOSLAB_STATE/journal")" = "$j0" ] || die "the first drill's journal changed"
[ -z "$(ls "$CHAOSLAB_RESULTS" 2>/dev/null)" ] || die "the refused drill wrote a result"

out=$("$CHAOSLAB_BIN" recover 2>&1)
rc=$?
note "recover during the drill: exit $rc: $out"
[ $rc = 2 ] || die "recover while a drill runs: exit $rc, expected 2"
echo "$out" | grep -q "pid $first" || die "recover's refusal does not name the holder: $out"
[ "$(sha256sum <"$CHAOSLAB_STATE/journal")" = "$j0" ] || die "recover touched the live journal"

kill -0 "$first" || die "the first drill died"
"$CHAOSLAB_BIN" status --json | grep -q '"state":"running"' || die "the first drill is no longer running"
findmnt "$(realpath "$CHAOSLAB_STATE")/lab/spool" >/dev/null || die "the first drill's lab volume is gone"

"$CHAOSLAB_BIN" giveup >/dev/null
drill_wait
[ "$DRILL_RC" = 1 ] || die "the first drill: exit $DRILL_RC after giving up, expected 1"
assert_clean
echo "PASS: a second drill and recover are refused while one runs, naming its pid; nothing changed"
