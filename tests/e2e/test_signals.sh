# SIGTERM, SIGINT and SIGHUP mid-drill: the harness reverts at once, the
# outcome is aborted, the exit code 1, nothing left behind.
. "$(dirname "$0")/lib.sh"
need_root

for sig in TERM INT HUP; do
	drill_bg cpu-runaway
	wait_state running 60
	t0=$(date +%s.%N)
	kill -$sig "$DRILL_PID"
	drill_wait
	t1=$(date +%s.%N)
	cat "$E2E_TMP/drill.out" | tail -5
	[ "$DRILL_RC" = 1 ] || die "SIG$sig: exit $DRILL_RC, expected 1"
	f=$(result_file)
	[ "$(json "$f" 'd["outcome"]')" = aborted ] || die "SIG$sig: outcome is not aborted"
	assert_clean
	python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 5 else 1)" || die "SIG$sig: revert took more than 5 s"
	rm -f "$CHAOSLAB_RESULTS"/*.json
	note "SIG$sig: aborted and reverted"
done
echo "PASS: signals revert and exit 1"
