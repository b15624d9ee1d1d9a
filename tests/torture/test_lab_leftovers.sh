#!/bin/bash
# What a killed drill leaves in the lab directory, and what recover makes of
# it (the clean state docs/SAFETY.md describes). A drill's lab services and
# faults write files through temporary names (NAME.tmp.PID, renamed into
# place) and demo-api keeps a pidfile; the torture found both left behind
# when the harness died with its workers. Recreated exactly: the drill is
# killed with SIGKILL, temporary files of a dead writer are put where a cut
# write leaves them, and then `chaoslab recover` must leave
#   - no pidfile and no temporary file, in STATE/lab and below;
#   - demo-api.conf and the DNS zone byte-identical to before the run;
#   - a temporary file of a live process alone (a write in progress).
. "$CHAOSLAB_SRC/tests/e2e/lib.sh"
need_root

lab="$CHAOSLAB_STATE/lab"
dead_pid() {
	local p=$((RANDOM + 40000))
	while kill -0 "$p" 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}
sums() { (cd "$lab" && find . -type f ! -name '*.log' ! -name '*.pid' | sort | xargs -r sha256sum); }

for id in cpu-runaway dns-intermittent; do
	# A clean run first: the lab's own files exist from then on.
	drill_bg "$id"
	wait_state running 60
	"$CHAOSLAB_BIN" giveup >/dev/null
	drill_wait
	[ "$DRILL_RC" = 1 ] || die "$id: clean run exited $DRILL_RC, expected 1"
	[ ! -e "$lab/demo-api.pid" ] || die "$id: a clean revert left demo-api.pid"
	before=$(sums)

	drill_bg "$id"
	wait_state running 60
	kill -KILL "$DRILL_PID"
	drill_wait
	[ -e "$lab/demo-api.pid" ] || die "$id: no pidfile while the drill ran"
	d=$(dead_pid)
	planted="$lab/demo-api.conf.tmp.$d $lab/demo-api.pid.tmp.$d"
	if [ -d "$lab/dns" ]; then
		planted="$planted $lab/dns/rules.d/drops.rule.tmp.$d"
	fi
	for f in $planted; do echo "half" >"$f"; done
	live="$lab/demo-api.conf.tmp.$$" # this shell: a live writer
	echo "in progress" >"$live"

	"$CHAOSLAB_BIN" recover | tee "$E2E_TMP/recover" || die "$id: recover failed"
	for f in $planted; do
		[ ! -e "$f" ] || die "$id: $f left behind"
	done
	[ ! -e "$lab/demo-api.pid" ] || die "$id: demo-api.pid left behind"
	[ -e "$live" ] || die "$id: a temporary file of a live process was removed"
	rm -f "$live"
	left=$(find "$lab" -name '*.tmp*' -o -name '*.pid')
	[ -z "$left" ] || die "$id: left in the lab directory: $left"
	[ "$(sums)" = "$before" ] || die "$id: lab files changed: $(diff <(echo "$before") <(sums))"
	assert_clean
	rm -f "$CHAOSLAB_RESULTS"/*.json
	note "$id: pidfile and $(echo $planted | wc -w) temporary file(s) of a dead writer removed, lab files as before"
done
echo "PASS: recover leaves the lab directory clean: no pidfile, no half-written file"
