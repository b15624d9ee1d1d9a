#!/bin/bash
# SIGKILL of the harness in the middle of each disk drill, then `chaoslab
# recover`: no loop device backed by our image (losetup -a), no mount under
# the state directory (/proc/mounts), no worker, no throttling cgroup, no
# image or mount point directory; a second recover does nothing.
. "$(dirname "$0")/../e2e/lib.sh"
need_root
RUN_IDS=

mkdir -p "$CHAOSLAB_STATE"
state=$(realpath "$CHAOSLAB_STATE")
for id in disk-slow-writer disk-full disk-full-deleted-file; do
	drill_bg "$id"
	wait_state running 90
	run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
	RUN_IDS="$RUN_IDS $run"
	grep -q " $state/lab/" /proc/mounts || die "$id: no lab volume mounted"
	note "$id: SIGKILL the harness (run $run)"
	kill -KILL "$DRILL_PID"
	drill_wait
	[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
	"$CHAOSLAB_BIN" recover | tee "$E2E_TMP/recover" || die "recover failed"
	grep -q "recovered" "$E2E_TMP/recover" || die "recover did not report"
	sleep 0.5
	assert_clean
	losetup -a | grep -q "$state/lab/" && die "$id: loop device left: $(losetup -a | grep "$state")"
	grep -q " $state/lab" /proc/mounts && die "$id: mount left: $(grep "$state" /proc/mounts)"
	[ -z "$(ls -A "$state/lab" 2>/dev/null)" ] || die "$id: files left: $(ls -A "$state/lab")"
	cgs=$(find /sys/fs/cgroup -maxdepth 2 -type d -name "chaoslab-$run-*" 2>/dev/null)
	[ -z "$cgs" ] || die "$id: cgroup left: $cgs"
	"$CHAOSLAB_BIN" recover | grep -q "nothing to recover" || die "second recover was not a no-op"
	rm -f "$CHAOSLAB_RESULTS"/*.json
done
echo "PASS: SIGKILL + recover left no loop device, mount, worker, cgroup or file"
