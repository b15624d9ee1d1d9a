#!/bin/bash
# run_fuzzer.sh FUZZER SEED_CORPUS DICT WORKDIR
#
# Run one libFuzzer target for $CHAOSLAB_FUZZ_SECONDS (default 60) on a fresh
# copy of SEED_CORPUS in WORKDIR/corpus, from inside WORKDIR, with the token
# dictionary DICT. WORKDIR also gets a copy of tests/data/runbooks, which the
# scenarios the loader fuzzer builds refer to. A crashing input is kept in
# WORKDIR/artifacts and named in the output; the full log is WORKDIR/fuzz.log.
# Exits non-zero when the fuzzer found anything.
set -u

fuzzer=$1
seeds=$2
dict=$3
work=$4
seconds=${CHAOSLAB_FUZZ_SECONDS:-60}
src=${CHAOSLAB_SRC:?CHAOSLAB_SRC must name the source tree}

case $seconds in
'' | *[!0-9]*)
	echo "CHAOSLAB_FUZZ_SECONDS must be a whole number of seconds, got '$seconds'"
	exit 2
	;;
esac

rm -rf "$work/corpus" "$work/runbooks"
mkdir -p "$work/corpus" "$work/artifacts" || exit 1
cp "$seeds"/* "$work/corpus/" || exit 1
cp -r "$src/tests/data/runbooks" "$work/runbooks" || exit 1
cd "$work" || exit 1

"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-dict="$dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
	corpus 2>&1 | tee fuzz.log | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
status=${PIPESTATUS[0]}

if [ "$status" -ne 0 ]; then
	echo "FAIL: $(basename "$fuzzer") exited $status; inputs in $work/artifacts:"
	ls -l "$work/artifacts"
	exit 1
fi
echo "$(basename "$fuzzer"): no crash in ${seconds}s; corpus now $(ls corpus | wc -l) inputs"
