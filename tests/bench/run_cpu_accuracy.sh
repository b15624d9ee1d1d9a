#!/bin/bash
# How closely does cpu-burner hold its target load, next to stress-ng
# --cpu-load? For each target (25, 50, 75 % of one core) it runs one
# cpu-burner worker (the real chaoslab binary re-executed as a worker, as a
# drill runs it), then `stress-ng --cpu 1 --cpu-load N`, one after the other,
# and samples each burning process's utime+stime from /proc/PID/stat once a
# second for SECONDS seconds (after a 1 s warm-up). It prints, per target and
# per tool, the load over the whole window and the mean absolute error of the
# one-second loads, in percentage points.
#
# usage: tests/bench/run_cpu_accuracy.sh BUILD_DIR [SECONDS]
# Needs: BUILD_DIR/chaoslab, stress-ng (a missing stress-ng leaves its
# column empty). Pins both tools to the last CPU with taskset when present.
set -u

usage() { echo "usage: $0 BUILD_DIR [SECONDS]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$1
SECONDS_WINDOW=${2:-10}
BIN="$BUILD/chaoslab"
[ -x "$BIN" ] || { echo "$0: no chaoslab binary in '$BUILD'" >&2; exit 2; }
TARGETS="25 50 75"
TCK=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)
PIN=()
if command -v taskset >/dev/null; then
	PIN=(taskset -c "$((NCPU - 1))")
fi
HAVE_STRESS=1
command -v stress-ng >/dev/null || HAVE_STRESS=0

ticks_of() { # utime+stime of pid; comm may hold spaces, so cut after ')'
	local s
	s=$(<"/proc/$1/stat") || return 1
	s=${s##*) }
	set -- $s
	echo $((${12} + ${13}))
}

now() { # monotonic-ish seconds with fractions
	local up
	read -r up _ </proc/uptime
	echo "$up"
}

cpu_busy_idle() { # "BUSY IDLE" ticks of the CPU the tools are pinned to (all CPUs if not)
	local want=cpu
	[ ${#PIN[@]} -gt 0 ] && want="cpu$((NCPU - 1))"
	awk -v w="$want" '$1 == w { idle = $5 + $6; busy = 0
		for (i = 2; i <= 9; i++) busy += $i
		print busy - idle, idle }' /proc/stat
}

# measure PID TARGET: prints "LOAD10 MAE OTHERS" (percent, percentage
# points, percent of the measured CPU(s) busy with other processes)
measure() {
	local pid=$1 target=$2 i t0 c0 t c b0 i0 b1 i1 samples=""
	sleep 1
	read -r b0 i0 <<<"$(cpu_busy_idle)"
	t0=$(now)
	c0=$(ticks_of "$pid") || return 1
	local tprev=$t0 cprev=$c0
	for ((i = 0; i < SECONDS_WINDOW; i++)); do
		sleep 1
		t=$(now)
		c=$(ticks_of "$pid") || return 1
		samples+="$tprev $cprev $t $c"$'\n'
		tprev=$t
		cprev=$c
	done
	read -r b1 i1 <<<"$(cpu_busy_idle)"
	awk -v tck="$TCK" -v target="$target" -v t0="$t0" -v c0="$c0" -v t1="$t" -v c1="$c" \
		-v busy=$((b1 - b0)) -v idle=$((i1 - i0)) '
		NF == 4 && $3 > $1 {
			load = 100 * ($4 - $2) / tck / ($3 - $1)
			err = load - target
			sum += (err < 0 ? -err : err)
			n++
		}
		END {
			# Others: the measured CPU(s) busy share minus ours.
			others = busy + idle > 0 ? 100 * (busy - (c1 - c0)) / (busy + idle) : 0
			printf "%.1f %.2f %.0f\n", 100 * (c1 - c0) / tck / (t1 - t0), n ? sum / n : -1,
				others < 0 ? 0 : others
		}' <<<"$samples"
}

run_burner() { # TARGET -> "LOAD10 MAE"
	local target=$1 pid out
	CHAOSLAB_WORKER=cpu-burner \
	CHAOSLAB_WORKER_ARGS="{\"load_percent\": $target}" \
	CHAOSLAB_OWNER="bench:$$" \
		"${PIN[@]}" bash -c 'exec -a clbench "$0"' "$BIN" &
	pid=$!
	out=$(measure "$pid" "$target")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$out"
}

run_stress() { # TARGET -> "LOAD10 MAE"
	local target=$1 parent child="" out i
	"${PIN[@]}" stress-ng --cpu 1 --cpu-load "$target" --timeout $((SECONDS_WINDOW + 5))s \
		--quiet &
	parent=$!
	for ((i = 0; i < 50; i++)); do
		sleep 0.1
		child=$(pgrep -P "$parent" | head -n1)
		[ -n "$child" ] && break
	done
	if [ -z "$child" ]; then
		kill "$parent" 2>/dev/null
		wait "$parent" 2>/dev/null
		echo "- - -"
		return
	fi
	out=$(measure "$child" "$target")
	kill "$parent" 2>/dev/null
	wait "$parent" 2>/dev/null
	echo "$out"
}

echo "cpu accuracy: 1 process per tool, ${SECONDS_WINDOW} s window after 1 s warm-up," \
	"1 s samples, CLK_TCK=$TCK, ${NCPU} CPUs${PIN:+, pinned to CPU $((NCPU - 1))}"
read -r la _ </proc/loadavg
echo "load average at start: $la"
printf '\n%-7s | %-32s | %-32s\n' "" "chaoslab cpu-burner" "stress-ng --cpu-load"
printf '%-7s | %-9s %-11s %-10s | %-9s %-11s %-10s\n' "target" "load" "MAE(1s)" "others" \
	"load" "MAE(1s)" "others"
printf -- '--------+----------------------------------+---------------------------------\n'
for target in $TARGETS; do
	read -r bl bm bo <<<"$(run_burner "$target")"
	if [ "$HAVE_STRESS" = 1 ]; then
		read -r sl sm so <<<"$(run_stress "$target")"
	else
		sl="-" sm="-" so="-"
	fi
	printf '%-7s | %-9s %-11s %-10s | %-9s %-11s %-10s\n' "$target%" "$bl%" "${bm}pp" \
		"$bo%" "$sl%" "${sm}pp" "$so%"
done
echo
echo "load: mean over the window; MAE(1s): mean absolute error of the one-second loads" \
	"against the target; others: the share of the measured CPU busy with other processes"
