#!/bin/bash
# The oom-loop drill's OOM-kill loop, observed on this machine's memory cgroup
# (v1 here, v2 where that is what the box has) with tools nobody here wrote:
# a real `chaoslab drill oom-loop` runs in the background; ps and
# /proc/PID/cgroup show thumbd inside a cgroup of this run and its
# supervisor thumbd-runner outside it; the kernel's own oom_kill count grows
# (cat), dmesg names the cgroup and the killed pids (where dmesg is
# readable), and new thumbd pids keep appearing under the same supervisor.
# Then the fix the autopilot does not use: stop the leak (the supervisor).
# The drill must end fixed, and the revert leave no cgroup and no process.
. "$CHAOSLAB_SRC/tests/e2e/lib.sh"
need_root
for t in pgrep ps; do
	command -v $t >/dev/null || skip "$t is not installed (procps)"
done
RUN_IDS=

# pid of this run's live process named $2 (run $1), or nothing.
run_pid() {
	local p
	for p in $(owned_pids "$1"); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ] && echo "$p"
	done
}

# The cgroup path of pid $1 in the hierarchy that has the memory controller:
# "v1 PATH" or "v2 PATH".
memcg_of() {
	local line
	line=$(grep -E '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' "/proc/$1/cgroup" 2>/dev/null)
	if [ -n "$line" ]; then
		echo "v1 ${line#*:*:}"
	else
		line=$(grep '^0::' "/proc/$1/cgroup" 2>/dev/null)
		echo "v2 ${line#0::}"
	fi
}

drill_bg oom-loop
wait_state running 60
run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
RUN_IDS=$run
note "run $run"

sup=$(run_pid "$run" thumbd-runner)
[ -n "$sup" ] || die "no thumbd-runner of run $run"
# Seen with the real ps, under the names the scenario gave.
[ "$(ps -o comm= -p "$sup")" = thumbd-runner ] || die "ps does not show $sup as thumbd-runner"

# Each thumbd lives a second or two: catch one whole (cgroup and parent
# read while it is alive).
hog=
for _ in $(seq 100); do
	hog=$(run_pid "$run" thumbd | head -n1)
	if [ -n "$hog" ]; then
		read -r ver cg <<<"$(memcg_of "$hog")"
		ppid=$(ps -o ppid= -p "$hog" | tr -d ' ')
		[ -n "$cg" ] && [ "$cg" != / ] && [ -n "$ppid" ] && break
	fi
	hog=
	sleep 0.1
done
[ -n "$hog" ] || die "no thumbd of run $run in a cgroup within 10 s"
[ "$ppid" = "$sup" ] || die "thumbd $hog is not a child of thumbd-runner $sup (ppid $ppid)"
want="/chaoslab-$run-thumbd"
[ "$cg" = "$want" ] || die "thumbd is in cgroup '$cg', expected '$want'"
read -r sver scg <<<"$(memcg_of "$sup")"
[ "$scg" != "$cg" ] || die "the supervisor is inside the hog's cgroup"
# Mount point of the hierarchy: mountinfo's 5th field, where the file system
# type (after " - ") is cgroup with memory among its options, or cgroup2.
mount_of() {
	awk -v want="$1" '{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); opts = $(i + 3); break } }
		want == "v1" && fs == "cgroup" && opts ~ /(^|,)memory(,|$)/ { print $5; exit }
		want == "v2" && fs == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}
if [ "$ver" = v1 ]; then
	dir=$(mount_of v1)$cg
	kills_file=memory.oom_control
	limit=$(cat "$dir/memory.limit_in_bytes")
else
	dir=$(mount_of v2)$cg
	kills_file=memory.events
	limit=$(cat "$dir/memory.max")
fi
note "thumbd $hog in cgroup $ver $dir (limit $limit), supervisor $sup outside it"
[ "$limit" = 201326592 ] || die "limit is $limit, expected 192 MiB"

kills() { awk '$1 == "oom_kill" {print $2}' "$dir/$kills_file"; }
k1=$(kills)
declare -A seen=()
for _ in $(seq 50); do # 10 s of 0.2 s samples
	for p in $(run_pid "$run" thumbd); do
		seen[$p]=1
		pp=$(ps -o ppid= -p "$p" | tr -d ' ')
		[ -z "$pp" ] || [ "$pp" = "$sup" ] || die "thumbd $p has parent $pp, not the supervisor $sup"
	done
	sleep 0.2
done
k2=$(kills)
note "oom_kill in $kills_file: $k1 -> $k2 over 10 s; thumbd pids seen: ${!seen[*]}"
[ "$k2" -gt "$k1" ] || die "the kernel's oom_kill count did not grow ($k1 -> $k2)"
[ "${#seen[@]}" -ge 2 ] || die "only ${#seen[@]} thumbd pid(s) in 10 s: nothing restarts it"
[ "$(run_pid "$run" thumbd-runner)" = "$sup" ] || die "the supervisor changed"

if dmesg >/dev/null 2>&1; then
	n=$(dmesg | grep -c "oom_memcg=$cg,")
	[ "$n" -ge "$k2" ] || die "dmesg shows $n OOM kills in $cg, the cgroup counted $k2"
	dmesg | grep "Memory cgroup out of memory: Killed process [0-9]* (thumbd)" | tail -n 2
else
	note "dmesg is not readable here: the kernel's count above stands for it"
fi

note "the fix the autopilot does not use: stop the supervisor"
kill -TERM "$sup"
for _ in $(seq 300); do
	kill -0 "$DRILL_PID" 2>/dev/null || break
	sleep 0.2
done
kill -0 "$DRILL_PID" 2>/dev/null && { cat "$E2E_TMP/drill.out"; die "the drill did not end within 60 s of the fix"; }
drill_wait
cat "$E2E_TMP/drill.out"
[ "$DRILL_RC" = 0 ] || die "drill exited $DRILL_RC, expected 0 (fixed)"
f=$(result_file)
[ "$(json "$f" 'd["outcome"]')" = fixed ] || die "outcome is not fixed"
[ ! -e "$dir" ] || die "cgroup $dir left behind"
assert_clean
echo "PASS: OOM-kill loop seen in cgroup $ver ($k2 kills, ${#seen[@]} thumbd pids); stopping the supervisor fixed it; nothing left"
