#!/bin/bash
# Crash torture (torture.py): every catalog drill this box can run, killed
# with SIGKILL at random moments (inside apply, inside revert, anywhere),
# then `chaoslab recover`, then an audit with the system's own tools that
# nothing of the run is left (audit.py). CHAOSLAB_TORTURE_RUNS kill runs per
# drill (default 4), CHAOSLAB_TORTURE_BUDGET seconds at most (default 540),
# CHAOSLAB_TORTURE_ONLY=id,id to narrow it, CHAOSLAB_TORTURE_SEED to replay.
: "${CHAOSLAB_BIN:?CHAOSLAB_BIN must point at the chaoslab binary}"
: "${CHAOSLAB_SRC:?CHAOSLAB_SRC must point at the source tree}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (drills change the machine)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
exec python3 "$(dirname "$0")/torture.py"
