#!/bin/bash
# The memory guardrail and the memory-hog parameter checks through the CLI:
# a drill or a scenario asking for more memory than keep_free_percent of
# MemAvailable allows is refused with a clear error (exit 2) before anything
# is applied: no lab service, no injection (so no worker and no cgroup), no
# journal, no result.
# MemAvailable is read from /proc/meminfo and the refusal compared with it.
. "$CHAOSLAB_SRC/tests/e2e/lib.sh"

avail=$(awk '$1 == "MemAvailable:" {print int($2 / 1024)}' /proc/meminfo)
[ -n "$avail" ] || skip "no MemAvailable in /proc/meminfo"

# refused WHAT EXPECT... -- ARGS: chaoslab ARGS must exit 2, print every
# EXPECT on stderr, and leave nothing behind.
refused() {
	local what=$1 rc
	shift
	local expect=()
	while [ "$1" != -- ]; do
		expect+=("$1")
		shift
	done
	shift
	"$CHAOSLAB_BIN" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	note "$what: exit $rc: $(cat "$E2E_TMP/err")"
	[ $rc = 2 ] || die "$what: exit status $rc, expected 2"
	for e in "${expect[@]}"; do
		grep -qF -- "$e" "$E2E_TMP/err" || die "$what: stderr does not say '$e'"
	done
	grep -qE "lab: |injected|autopilot" "$E2E_TMP/out" && die "$what: something started: $(cat "$E2E_TMP/out")"
	[ ! -e "$CHAOSLAB_STATE/journal" ] || die "$what: a journal was written"
	[ -z "$(ls "$CHAOSLAB_RESULTS" 2>/dev/null)" ] || die "$what: a result was written"
	return 0
}

huge=$((avail * 9 / 10))
allowed=$((avail - avail / 100 * 20))
refused "90% of MemAvailable" "refusing $huge MiB" "keep_free_percent 20" "MiB may be taken" -- \
	drill memory-leak --set "leak.mib=$huge" --autopilot=2 --no-ask --plain
# The number it says may be taken is 80% of MemAvailable, give or take what
# moved between the two reads.
said=$(grep -o 'at most [0-9]* MiB may be taken' "$E2E_TMP/err" | grep -o '[0-9]*')
[ $((said - allowed)) -le 64 ] && [ $((allowed - said)) -le 64 ] ||
	die "it says $said MiB may be taken; 80% of MemAvailable is $allowed"
refused "the default keep_free_percent can be raised" "keep_free_percent 95" -- \
	drill memory-leak --set "cache.mib=$((avail / 10))" --set cache.keep_free_percent=95 \
	--no-ask --plain
refused "a limit the hog fits in never OOM-kills it" \
	"with restart, mib (512) must exceed cgroup_limit_mib (1024)" -- \
	drill oom-loop --set thumbd.cgroup_limit_mib=1024 --no-ask --plain

# Scenario files: the error points at the file, the line and the step.
cat=$E2E_TMP/catalog
mkdir -p "$cat/scenarios" "$cat/runbooks"
cp "$CHAOSLAB_SRC/runbooks/memory-leak.md" "$CHAOSLAB_SRC/runbooks/oom-loop.md" "$cat/runbooks/"
sed 's/mib: 1280, rate_mib_per_second/percent_of_available: 85, rate_mib_per_second/' \
	"$CHAOSLAB_SRC/scenarios/memory-leak.yaml" >"$cat/scenarios/memory-leak.yaml"
grep -q 'percent_of_available: 85' "$cat/scenarios/memory-leak.yaml" || die "the scenario edit did not apply"
refused "percent_of_available 85" "memory-leak.yaml:" "inject[1].with" \
	"percent_of_available 85 would leave less than keep_free_percent 20" -- \
	validate "$cat/scenarios/memory-leak.yaml"
grep -v 'cgroup_limit_mib' "$CHAOSLAB_SRC/scenarios/oom-loop.yaml" >"$cat/scenarios/oom-loop.yaml"
refused "restart without a cgroup" "oom-loop.yaml:" "inject[0].with" "restart needs cgroup_limit_mib" -- \
	validate "$cat/scenarios/oom-loop.yaml"

echo "PASS: the guardrail and the parameter checks refuse with clear errors, nothing applied"
