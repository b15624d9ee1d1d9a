# Shared helpers for the end-to-end drill tests. Source it; it sets up a
# private state and results directory and cleans up on exit.
set -u

: "${CHAOSLAB_BIN:?CHAOSLAB_BIN must point at the chaoslab binary}"
: "${CHAOSLAB_SRC:?CHAOSLAB_SRC must point at the source tree}"

skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*"; }

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (drills change the machine: run the suite as root)"
}

E2E_TMP=$(mktemp -d /tmp/chaoslab-e2e.XXXXXX)
export CHAOSLAB_STATE="$E2E_TMP/state"
export CHAOSLAB_RESULTS="$E2E_TMP/results"
export CHAOSLAB_SCENARIOS="${CHAOSLAB_SCENARIOS:-$CHAOSLAB_SRC/scenarios}"
export NO_COLOR=1

e2e_cleanup() {
	# Never leave a drill running behind a failed test.
	if [ -n "${DRILL_PID:-}" ] && kill -0 "$DRILL_PID" 2>/dev/null; then
		kill -TERM "$DRILL_PID" 2>/dev/null
		wait "$DRILL_PID" 2>/dev/null
	fi
	"$CHAOSLAB_BIN" recover >/dev/null 2>&1
	rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

# The only result file of this test run.
result_file() {
	ls "$CHAOSLAB_RESULTS"/*.json 2>/dev/null | head -1
}

# json FILE EXPR: evaluate a Python expression over the parsed document d.
json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Run ids of this test: from its result files, plus any in $RUN_IDS.
test_runs() {
	local f
	for f in "$CHAOSLAB_RESULTS"/*.json; do
		[ -e "$f" ] && json "$f" 'd["run_id"]'
	done
	for f in ${RUN_IDS:-}; do echo "$f"; done
}

# Pids of live (non-zombie) processes whose owner tag names run $1.
owned_pids() {
	local tag="CHAOSLAB_OWNER=$1:" p st
	for p in /proc/[0-9]*; do
		if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q "^$tag"; then
			st=$(awk '{print $3}' "$p/stat" 2>/dev/null)
			[ -n "$st" ] && [ "$st" != Z ] && echo "${p#/proc/}"
		fi
	done
}

# Assert the machine is clean of this test's runs: no process of ours, no
# journal.
assert_clean() {
	local left="" run
	for run in $(test_runs); do
		left="$left $(owned_pids "$run")"
	done
	left=$(echo $left)
	[ -z "$left" ] || die "processes of ours left behind: $left ($(ps -o pid,stat,comm -p $(echo $left | tr ' ' ,) 2>/dev/null | tail -n +2 | tr '\n' ';'))"
	[ ! -e "$CHAOSLAB_STATE/journal" ] || die "journal left behind: $(cat "$CHAOSLAB_STATE/journal")"
}

# Start a drill in the background; output goes to $E2E_TMP/drill.out.
drill_bg() {
	"$CHAOSLAB_BIN" drill --plain --no-ask "$@" >"$E2E_TMP/drill.out" 2>&1 &
	DRILL_PID=$!
}

# Wait until `chaoslab status` reports state $1 (default running), up to $2 s.
wait_state() {
	local want=${1:-running} limit=${2:-60} i=0
	while [ $i -lt $((limit * 5)) ]; do
		if "$CHAOSLAB_BIN" status --json 2>/dev/null | grep -q "\"state\":\"$want\""; then
			return 0
		fi
		kill -0 "$DRILL_PID" 2>/dev/null || { cat "$E2E_TMP/drill.out"; die "drill exited before reaching '$want'"; }
		sleep 0.2
		i=$((i + 1))
	done
	cat "$E2E_TMP/drill.out"
	die "drill did not reach state '$want' within ${limit}s"
}

drill_wait() {
	wait "$DRILL_PID"
	DRILL_RC=$?
	DRILL_PID=
	return 0
}
