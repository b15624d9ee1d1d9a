# Time-limit path: a short-limit drill from the test catalog runs out; the
# outcome is timed_out, exit 1, everything reverted.
. "$(dirname "$0")/lib.sh"
need_root
export CHAOSLAB_SCENARIOS="$CHAOSLAB_SRC/tests/e2e/catalog/scenarios"

"$CHAOSLAB_BIN" drill short-limit --no-ask --plain >"$E2E_TMP/out" 2>&1
rc=$?
cat "$E2E_TMP/out"
[ $rc = 1 ] || die "exit $rc, expected 1 (not fixed)"
f=$(result_file)
[ "$(json "$f" 'd["outcome"]')" = timed_out ] || die "outcome is not timed_out"
el=$(json "$f" 'd["elapsed_seconds"]')
python3 -c "import sys; sys.exit(0 if 10 <= $el < 13 else 1)" || die "elapsed $el, expected about the 10 s limit"
assert_clean
echo "PASS: timed out after $el s"
