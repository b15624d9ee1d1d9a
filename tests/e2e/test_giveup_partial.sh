# Give-up path: partial credit is partial_max x (met weight / total weight).
# In cpu-respawn, killing only the burner child (the obvious wrong fix) does
# not help: the parent restarts it. Give up, check outcome and credit.
. "$(dirname "$0")/lib.sh"
need_root

drill_bg zombie-parent
wait_state running 60
"$CHAOSLAB_BIN" hint | tee "$E2E_TMP/hint"
grep -Eq 'opens in|no hint' "$E2E_TMP/hint" || die "an early hint was not refused: $(cat "$E2E_TMP/hint")"
note "the classic wrong fix: kill -9 the zombies themselves"
for p in $(ps -eo pid=,stat= | awk '$2 ~ /^Z/ {print $1}'); do kill -9 "$p" 2>/dev/null; done
sleep 1
ps -eo stat= | grep -q '^Z' || die "zombies vanished after kill -9: they should not"
"$CHAOSLAB_BIN" giveup
drill_wait
cat "$E2E_TMP/drill.out"
[ "$DRILL_RC" = 1 ] || die "exit $DRILL_RC, expected 1"
f=$(result_file)
[ "$(json "$f" 'd["outcome"]')" = gave_up ] || die "outcome is not gave_up"
score=$(json "$f" 'd["score"]')
[ "$score" -le 30 ] || die "partial credit $score above partial_max 30"
assert_clean
ps -eo stat= | grep -q '^Z' && note "(zombies of other processes exist on this machine)"
echo "PASS: gave up, partial credit $score"
