# A wrong fix: the engineer kills demo-api (the service that must survive)
# instead of the burner. The guard trips and is penalised; the drill is then
# given up and scores partial credit minus the guard penalty.
. "$(dirname "$0")/lib.sh"
need_root

drill_bg cpu-runaway
wait_state running 60
run=$("$CHAOSLAB_BIN" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
api=$(owned_pids "$run" | while read -r p; do [ "$(cat /proc/$p/comm)" = demo-api ] && echo "$p"; done)
[ -n "$api" ] || die "no demo-api of run $run to kill"
note "killing demo-api (pid $api) instead of the culprit"
kill -KILL $api
sleep 1.5
"$CHAOSLAB_BIN" status | tee "$E2E_TMP/status"
grep -q VIOLATED "$E2E_TMP/status" || die "status does not show the violated guard"
"$CHAOSLAB_BIN" giveup || die "giveup failed"
drill_wait
cat "$E2E_TMP/drill.out"
[ "$DRILL_RC" = 1 ] || die "exit $DRILL_RC, expected 1 (not fixed)"
f=$(result_file)
[ "$(json "$f" 'd["outcome"]')" = gave_up ] || die "outcome is not gave_up"
[ "$(json "$f" 'any(g["violated"] for g in d["guards"])')" = True ] || die "guard not recorded as violated"
gp=$(json "$f" 'd["breakdown"]["guard_penalty"]')
[ "$gp" -ge 40 ] || die "guard penalty $gp, expected at least 40"
[ "$(json "$f" 'd["score"]')" = 0 ] || die "score should clamp to 0 (partial credit minus 40)"
assert_clean
echo "PASS: wrong fix penalised ($gp points), outcome gave_up"
