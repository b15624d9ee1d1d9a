# SIGKILL of the harness mid-drill, then `chaoslab recover`: no worker left,
# no zombie of ours left, journal gone, and a second recover does nothing.
. "$(dirname "$0")/lib.sh"
need_root
RUN_IDS=

for id in cpu-respawn zombie-parent; do
	drill_bg "$id"
	wait_state running 60
	run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
	RUN_IDS="$RUN_IDS $run"
	note "$id: SIGKILL the harness (run $run)"
	kill -KILL "$DRILL_PID"
	drill_wait
	[ -e "$CHAOSLAB_STATE/journal" ] || die "no journal after SIGKILL"
	"$CHAOSLAB_BIN" recover | tee "$E2E_TMP/recover" || die "recover failed"
	grep -q "recovered" "$E2E_TMP/recover" || die "recover did not report"
	sleep 0.5
	assert_clean
	left=$(ps -eo pid=,ppid=,stat=,comm= | awk '$3 ~ /^Z/' | grep -E 'zombied|reportd|cpuburn' || true)
	[ -z "$left" ] || die "zombies left: $left"
	"$CHAOSLAB_BIN" recover | grep -q "nothing to recover" || die "second recover was not a no-op"
	rm -f "$CHAOSLAB_RESULTS"/*.json
done
echo "PASS: SIGKILL + recover left nothing behind"
