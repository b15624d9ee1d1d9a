#!/bin/bash
# SIGKILL of the harness in the middle of the memory drills, then
# `chaoslab recover`: no cgroup of the run left in any memory hierarchy, no
# worker (ps), and the memory the hogs held back in MemAvailable (free); a
# second recover has nothing to do. memory-leak holds ~600 MiB in two hogs;
# oom-loop leaves its cgroup behind when the harness dies (the workers die
# with it), which only recover removes.
. "$CHAOSLAB_SRC/tests/e2e/lib.sh"
need_root
command -v ps >/dev/null || skip "ps is not installed (procps)"
command -v free >/dev/null || skip "free is not installed (procps)"
RUN_IDS=

avail_mib() { free -m | awk '$1 == "Mem:" {print $7}'; }

# Resident KiB of this run's processes, summed (ps).
held_kib() {
	local pids
	pids=$(owned_pids "$1" | tr '\n' , | sed 's/,$//')
	[ -n "$pids" ] || { echo 0; return; }
	ps -o rss= -p "$pids" | awk '{s += $1} END {print s + 0}'
}

# Every memory-cgroup directory named for run $1, in any hierarchy mounted.
run_cgroups() {
	local m
	for m in $(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break } }
			fs == "cgroup" || fs == "cgroup2" { print $5 }' /proc/self/mountinfo); do
		ls -d "$m/chaoslab-$1-"* 2>/dev/null
	done
}

for id in memory-leak oom-loop; do
	drill_bg "$id"
	wait_state running 60
	run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
	RUN_IDS="$RUN_IDS $run"
	if [ "$id" = memory-leak ]; then
		# Let the leak grow a little past the symptom.
		for _ in $(seq 100); do
			[ "$(held_kib "$run")" -ge $((640 * 1024)) ] && break
			sleep 0.2
		done
	fi
	held=$(held_kib "$run")
	during=$(avail_mib)
	# The cgroup path as journaled (before it was made).
	cg=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    c = (rec.get("undo") or {}).get("cgroup")
    if c:
        print(c["path"])
' "$CHAOSLAB_STATE/journal" | tail -n1)
	note "$id: run $run holds $held KiB, $during MiB available; journaled cgroup: ${cg:-none}"
	if [ "$id" = oom-loop ]; then
		[ -n "$cg" ] || die "oom-loop journaled no cgroup"
		[ -d "$cg" ] || die "the journaled cgroup $cg does not exist"
	fi

	note "$id: SIGKILL the harness"
	kill -KILL "$DRILL_PID"
	drill_wait
	[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
	if [ -n "$cg" ]; then
		[ -d "$cg" ] || die "the cgroup vanished without recover: was it ours to remove?"
	fi
	"$CHAOSLAB_BIN" recover | tee "$E2E_TMP/recover" || die "recover failed"
	grep -q "recovered" "$E2E_TMP/recover" || die "recover did not report"
	if [ -n "$cg" ]; then
		grep -q "removed cgroup $cg" "$E2E_TMP/recover" || die "recover did not report removing $cg"
	fi
	sleep 0.5
	assert_clean
	left=$(run_cgroups "$run")
	[ -z "$left" ] || die "cgroups of run $run left: $left"
	for n in ingestd sesscache thumbd thumbd-runner; do
		for p in $(pgrep -x "$n"); do
			{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -q "^CHAOSLAB_OWNER=$run:" &&
				die "$n ($p) of run $run is still running"
		done
	done
	after=$(avail_mib)
	note "$id: available $during -> $after MiB after recover (held $((held / 1024)) MiB)"
	# What the hogs held came back (half of it at least: the box is shared
	# and MemAvailable moves with everything else on it).
	if [ "$held" -ge $((256 * 1024)) ] && [ $((after - during)) -lt $((held / 2048)) ]; then
		die "MemAvailable rose by $((after - during)) MiB only; the hogs held $((held / 1024)) MiB"
	fi
	"$CHAOSLAB_BIN" recover | grep -q "nothing to recover" || die "second recover was not a no-op"
	rm -f "$CHAOSLAB_RESULTS"/*.json
done
echo "PASS: SIGKILL + recover left no cgroup, worker or memory of ours"
