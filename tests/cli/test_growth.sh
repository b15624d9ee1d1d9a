#!/usr/bin/env bash
# The growth commands from the outside: gaps, assess, postmortem, report,
# daily and mock.
#
# Over the fixed history of tests/data/history (its results and its small
# catalog):
#   * gaps --json --as-of gives the exact ranking of docs/growth.md (never
#     practised skills, a self-assessment, over-confidence), and the corrupt
#     files of the history are reported on stderr and skipped, never fatal;
#   * assess stores a self-assessment (its own document kind) that moves the
#     ranking; bad grades, a non-terminal without --grades and unknown skills
#     are usage errors;
#   * postmortem finds a run by id prefix and writes the draft (or --out);
#   * report writes the Markdown, the HTML and the Prometheus textfile, which
#     is checked against the text exposition format rules here and, when
#     python3-prometheus-client is installed, by its parser;
#   * daily --dry-run picks from the top gap and never repeats the drill of
#     the previous day's daily, and records nothing.
# As root, with real catalog drills on autopilot:
#   * daily runs the drill, records the daily (with the drill's run id), and
#     the next day will not pick it again;
#   * mock runs one drill per domain in one budget, caps each time limit by
#     what is left, skips a domain that cannot run here (Kubernetes, no
#     cluster) or that the budget no longer allows, writes one combined
#     result, and leaves nothing behind.
# Without root that second half is skipped (exit 77, after the first half
# passed).
set -uo pipefail

BIN=${CHAOSLAB_BIN:-build/chaoslab}
SRC=${CHAOSLAB_SRC:-.}
tmp=$(mktemp -d)
fails=0
skip_reason=""

cleanup() {
	CHAOSLAB_STATE="$tmp/state" "$BIN" recover >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

# run ARGS...: sets rc; output in $tmp/out and $tmp/err.
run() {
	"$BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

expect_rc() { # WANT WHAT
	if [ "$rc" -eq "$1" ]; then
		pass "$2 (exit $rc)"
	else
		fail "$2: exit $rc, want $1"
		sed 's/^/    stdout: /' "$tmp/out" | tail -8
		sed 's/^/    stderr: /' "$tmp/err" | tail -8
	fi
}

expect_out() { # FILE TEXT WHAT
	if grep -qF -- "$2" "$1"; then
		pass "$3"
	else
		fail "$3: '$2' not in $(basename "$1")"
		sed 's/^/    | /' "$1" | head -20
	fi
}

# json FILE EXPR: a Python expression over the document d.
json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

[ -x "$BIN" ] || { echo "FAIL: no chaoslab binary at $BIN (set CHAOSLAB_BIN)"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the JSON"; exit 77; }

export NO_COLOR=1
export CHAOSLAB_STATE="$tmp/state"
fix="$SRC/tests/data/history"
export CHAOSLAB_SCENARIOS="$fix/catalog/scenarios"
res="$tmp/res"
cp -r "$fix/results" "$res"

# ---- gaps -------------------------------------------------------------------------------

run gaps --json --all --as-of 2024-06-01 --results "$res"
expect_rc 0 "gaps --json over a history with corrupt files"
cp "$tmp/out" "$tmp/gaps.json"
got=$(json "$tmp/gaps.json" '" ".join("%s=%.1f" % (g["skill"], g["weakness"]) for g in d["gaps"])')
want="k8s.crashloop=66.0 linux.memory=66.0 net.dns=63.9 k8s.debugging=60.0 k8s.probes=60.0 linux.signals=28.3 linux.process=20.3 linux.cpu=4.7 net.tls=1.0 ops.cert-rotation=1.0"
if [ "$got" = "$want" ]; then
	pass "gaps ranking is exactly the documented one"
else
	fail "gaps ranking: got '$got', want '$want'"
fi
[ "$(json "$tmp/gaps.json" 'd["counted_attempts"]')" = 7 ] || fail "counted attempts is not 7"
[ "$(json "$tmp/gaps.json" '[g["terms"]["overconfidence"] for g in d["gaps"] if g["skill"]=="net.dns"][0]')" = 11.9 ] ||
	fail "net.dns over-confidence term is not 11.9"
[ "$(json "$tmp/gaps.json" '[g["next"]["scenario"] for g in d["gaps"]][:5]')" = "['oom-crashloop', 'oom-crashloop', 'dns-resolver', 'k8s-probe', 'k8s-probe']" ] ||
	fail "next drills of the top five: $(json "$tmp/gaps.json" '[g["next"]["scenario"] for g in d["gaps"]][:5]')"
expect_out "$tmp/err" "skipping '$res/broken.json': not valid JSON" "the corrupt file is reported"
expect_out "$tmp/err" "skipping '$res/future.json': schema version 2" "the future-schema file is reported"

run gaps --as-of 2024-06-01 --results "$res"
expect_rc 0 "gaps (text)"
expect_out "$tmp/out" "3. net.dns — weakness 63.9" "text: net.dns third"
expect_out "$tmp/out" "over-confident: said 5/5 and scored 0 on 2024-05-10 dns-resolver" "text: over-confidence evidence"
expect_out "$tmp/out" "next: chaoslab drill oom-crashloop — untried, difficulty 3 (day 27)" "text: next drill"
[ "$(grep -c '^[0-9]\. ' "$tmp/out")" = 5 ] || fail "text: not five gaps"

run gaps --json --results "$tmp/nothing-here"
expect_rc 0 "gaps over a missing results directory"
[ "$(json "$tmp/out" 'set(float(g["weakness"]) for g in d["gaps"])')" = "{60.0}" ] || fail "an empty history is not all 60"

run gaps --as-of yesterday
expect_rc 2 "gaps --as-of with a bad date"

# ---- assess -----------------------------------------------------------------------------

n0=$(ls "$res" | wc -l)
run assess --day 27 --grades 5,5 --results "$res"
expect_rc 0 "assess --day 27 --grades 5,5"
expect_out "$tmp/out" "[1/2] Why might OOMKilled happen even when node has free memory?" "assess shows the prompts"
[ "$(ls "$res" | wc -l)" = $((n0 + 1)) ] || fail "assess did not store one document"
a=$(ls -t "$res"/*assess*.json | head -1)
[ "$(json "$a" 'd["kind"], d["scope"], [g["grade"] for g in d["grades"]], sorted(d["skills"])')" = \
  "('assessment', {'day': 27}, [5, 5], ['k8s.crashloop', 'linux.memory'])" ] || fail "the stored assessment: $(cat "$a")"
run gaps --json --all --as-of 2024-06-01 --results "$res"
# Self-graded 5/5 now, never practised: 60 - 8.
ranked='[(g["skill"], float(g["weakness"])) for g in d["gaps"]]'
[ "$(json "$tmp/out" "$ranked[:4]")" = \
  "[('net.dns', 63.9), ('k8s.debugging', 60.0), ('k8s.probes', 60.0), ('k8s.crashloop', 52.0)]" ] ||
	fail "the assessment did not move the ranking: $(json "$tmp/out" "$ranked[:4]")"
rm -f "$a"

# On a terminal (a pty from script(1)): Enter shows the runbook's answer,
# then a grade; "x" is refused, "s" skips the second prompt.
if command -v script >/dev/null; then
	printf '\n4\n\nx\ns\n' | script -qec "'$BIN' assess --skill net.dns --results '$tmp/tty'" /dev/null >"$tmp/out" 2>&1
	rc=$?
	expect_rc 0 "assess on a terminal"
	expect_out "$tmp/out" "The runbook's answer:" "assess shows the runbook's answer"
	expect_out "$tmp/out" "please answer 1-5, or s" "assess refuses a bad grade"
	a=$(ls "$tmp/tty"/*assess*.json 2>/dev/null | head -1)
	if [ -n "$a" ]; then
		[ "$(json "$a" '[(g["prompt"], g["grade"]) for g in d["grades"]]')" = \
		  "[(\"What's a recursive resolver?\", 4)]" ] || fail "the terminal assessment: $(cat "$a")"
	else
		fail "assess on a terminal stored nothing"
	fi
else
	echo "note: script(1) not found; the interactive assess was not exercised"
fi

run assess --skill net.dns --grades 4 --results "$res"
expect_rc 2 "assess with too few grades"
expect_out "$tmp/err" "2 prompts, 1 grade in --grades" "assess says how many grades it needs"
run assess --skill net.dns --grades 4,9 --results "$res"
expect_rc 2 "assess with a grade out of 1..5"
run assess --skill net.dns --results "$res"
expect_rc 2 "assess without a terminal and without --grades"
expect_out "$tmp/err" "give the 2 grades with --grades" "assess asks for --grades"
run assess --skill net.dsn --grades 1,1 --results "$res"
expect_rc 2 "assess of an unknown skill"
expect_out "$tmp/err" "did you mean 'net.dns'?" "assess suggests the skill"
run assess --skill net.dns --day 7 --results "$res"
expect_rc 2 "assess with both --skill and --day"
[ "$(ls "$res" | wc -l)" = "$n0" ] || fail "a refused assess stored something"

# ---- postmortem -------------------------------------------------------------------------

run postmortem 20240528T080000Z-dns --results "$res"
expect_rc 0 "postmortem by run id prefix"
for s in "# Postmortem (draft): Names stop resolving because of the wrong resolver" "## Impact" \
	"## Timeline" "| 08:12:01 | 12:00 | criterion_met |" "## Root cause" \
	"> resolv.conf pointed at a resolver that refuses lab.test" "## Fix" "## Prevention" \
	"* Manage resolv.conf from one place."; do
	expect_out "$tmp/out" "$s" "postmortem: $s"
done
run postmortem 20240528T080000Z-dns-resolver-a109 --out "$tmp/pm.md" --results "$res"
expect_rc 0 "postmortem --out"
cmp -s "$tmp/pm.md" <("$BIN" postmortem 20240528T080000Z-dns --results "$res" 2>/dev/null) ||
	fail "postmortem --out differs from standard output"
run postmortem 20240529T180000Z-assess-b202 --results "$res"
expect_rc 2 "postmortem of an assessment"
expect_out "$tmp/err" "is not a drill run: its kind is assessment" "postmortem names the kind"
run postmortem 2024 --results "$res"
expect_rc 2 "postmortem of an ambiguous prefix"
run postmortem nosuchrun --results "$res"
expect_rc 2 "postmortem of an unknown run"

# ---- report -----------------------------------------------------------------------------

run report --md "$tmp/p.md" --html "$tmp/p.html" --prom "$tmp/p.prom" --results "$res"
expect_rc 0 "report --md --html --prom"
for f in p.md p.html p.prom; do
	[ -s "$tmp/$f" ] || fail "report did not write $f"
done
ls -a "$tmp" | grep -q '\.tmp\.' && fail "report left a temp file"
expect_out "$tmp/p.md" "### 1. DNS incident" "portfolio: the DNS story"
expect_out "$tmp/p.md" "No story yet: you have not done a drill of this kind yourself" "portfolio: honest about the OOM story"
expect_out "$tmp/p.md" "Drafted from \`tls-expired\` on 2024-05-15" "portfolio: the cert story"
expect_out "$tmp/p.html" "<polyline" "html: the score chart"
run report --results "$res"
expect_rc 0 "report to standard output"
expect_out "$tmp/out" "# chaoslab portfolio" "report prints the portfolio by default"

# The textfile, by the exposition format's rules.
if python3 - "$tmp/p.prom" >"$tmp/promcheck" 2>&1 <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final newline"
name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
value_re = re.compile(r"^(?:[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|NaN|[-+]Inf)$")
help_, type_, seen, done, current = {}, {}, set(), set(), None
for n, line in enumerate(text.split("\n")[:-1], 1):
    assert line, "line %d is empty" % n
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        kind, name, rest = line[2:6], *line[7:].split(" ", 1)
        assert name_re.match(name), "line %d: bad name %r" % (n, name)
        assert name not in done, "line %d: family %s is split" % (n, name)
        table = help_ if kind == "HELP" else type_
        assert name not in table, "line %d: second %s for %s" % (n, kind, name)
        table[name] = rest
        if kind == "TYPE":
            assert rest in ("counter", "gauge", "histogram", "summary", "untyped"), rest
            assert rest != "counter" or name.endswith("_total"), name
        if current and current != name:
            done.add(current)
        current = name
        continue
    m = re.match(r"([^ {]+)(\{(.*)\})? (\S+)( -?\d+)?$", line)
    assert m, "line %d: not a sample: %r" % (n, line)
    name, labels, value = m.group(1), m.group(3), m.group(4)
    assert name_re.match(name), "line %d: bad name" % n
    assert name in type_ and name in help_, "line %d: %s before its HELP/TYPE" % (n, name)
    assert name == current and name not in done, "line %d: %s not contiguous" % (n, name)
    pairs = []
    if labels is not None:
        pos = 0
        while pos < len(labels):
            lm = label_re.match(labels, pos)
            assert lm, "line %d: bad labels %r" % (n, labels)
            assert not lm.group(1).startswith("__"), "reserved label"
            pairs.append((lm.group(1), lm.group(2)))
            pos = lm.end()
            if pos < len(labels):
                assert labels[pos] == ",", "line %d: bad separator" % n
                pos += 1
        assert len({k for k, _ in pairs}) == len(pairs), "line %d: repeated label" % n
    assert value_re.match(value), "line %d: bad value %r" % (n, value)
    key = (name, tuple(sorted(pairs)))
    assert key not in seen, "line %d: duplicate series" % n
    seen.add(key)
print("%d families, %d series" % (len(type_), len(seen)))
EOF
then
	pass "prom textfile follows the exposition format ($(cat "$tmp/promcheck"))"
else
	fail "prom textfile: $(cat "$tmp/promcheck")"
fi
expect_out "$tmp/p.prom" 'chaoslab_drill_score{scenario="dns-resolver",skill="net.dns"} 65' "prom: the latest DNS score"
# The reference parser, when this machine has it (Debian: python3-prometheus-client).
promparser=""
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import prometheus_client.parser' 2>/dev/null; then
		promparser=$py
		break
	fi
done
if [ -n "$promparser" ]; then
	if "$promparser" - "$tmp/p.prom" >"$tmp/promparse" 2>&1 <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
s = {(x.name, tuple(sorted(x.labels.items()))): x.value for f in fams.values() for x in f.samples}
assert fams["chaoslab_drill_score"].type == "gauge"
assert fams["chaoslab_drill_attempts"].type == "counter"
assert s[("chaoslab_drill_score", (("scenario", "dns-resolver"), ("skill", "net.dns")))] == 65
assert s[("chaoslab_drill_attempts_total", (("scenario", "proc-runaway"),))] == 2
assert s[("chaoslab_results_unreadable_files", ())] == 2
print("%d families" % len(fams))
EOF
	then
		pass "prometheus_client parses the textfile ($(cat "$tmp/promparse"))"
	else
		fail "prometheus_client: $(tail -3 "$tmp/promparse")"
	fi
else
	echo "note: python3-prometheus-client not installed; the format rules above were checked"
fi

# ---- daily --dry-run --------------------------------------------------------------------

yesterday=$(date -d yesterday +%F)
today=$(date +%F)
cat >"$res/yesterday-daily.json" <<EOF
{"schema": 1, "kind": "daily", "run_id": "yesterday-daily", "started_at": "${yesterday}T06:00:00Z",
 "date": "$yesterday", "scenario": "dns-resolver", "drill_run_id": null, "outcome": "gave_up"}
EOF
n0=$(ls "$res" | wc -l)
run daily --dry-run --results "$res"
expect_rc 0 "daily --dry-run"
# net.dns tops the gaps today (its attempts have gone stale), but its drill
# was yesterday's daily: the next gap's drill instead.
expect_out "$tmp/out" "today's drill ($today): oom-crashloop" "daily skips yesterday's drill"
expect_out "$tmp/out" "not dns-resolver: it was the daily of $yesterday" "daily says why not"
rm "$res/yesterday-daily.json"
run daily --dry-run --results "$res"
expect_out "$tmp/out" "today's drill ($today): dns-resolver" "daily takes the top gap otherwise"
expect_out "$tmp/out" "why: gap #1 net.dns" "daily says why"
[ "$(ls "$res" | wc -l)" = $((n0 - 1)) ] || fail "daily --dry-run recorded something"

# ---- as root: real drills ---------------------------------------------------------------

# owned_pids RUN: live processes carrying run RUN's owner tag.
owned_pids() {
	local p st
	for p in /proc/[0-9]*; do
		if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q "^CHAOSLAB_OWNER=$1:"; then
			st=$(awk '{print $3}' "$p/stat" 2>/dev/null)
			[ -n "$st" ] && [ "$st" != Z ] && echo "${p#/proc/}"
		fi
	done
}

assert_clean() { # RESULTS_DIR
	local f run left
	for f in "$1"/*.json; do
		run=$(json "$f" 'd["run_id"]')
		left=$(owned_pids "$run")
		[ -z "$left" ] || fail "processes of $run left behind: $left"
	done
	[ ! -e "$CHAOSLAB_STATE/journal" ] || fail "a journal was left behind"
}

real_catalog() { # DIR ID...
	local dir=$1 id
	shift
	mkdir -p "$dir/scenarios" "$dir/runbooks"
	for id in "$@"; do
		cp "$SRC/scenarios/$id.yaml" "$dir/scenarios/"
		cp "$SRC/runbooks/$id.md" "$dir/runbooks/"
	done
}

# The lab's demo-api listens on 127.0.0.1:18080; another drill running on
# this box may hold it for a while. Wait for it (up to 5 minutes).
port_busy() {
	ss -ltnH 'sport = :18080' 2>/dev/null | grep -q .
}
wait_port() {
	local i=0
	while port_busy && [ $i -lt 300 ]; do
		sleep 1
		i=$((i + 1))
	done
	! port_busy
}

# run_drills WANT ARGS...: run (as `run`); when it does not exit WANT, or
# 127.0.0.1:18080 was taken by someone else's drill, wait for the port and
# try again, up to three times (other drills on this box use that port too).
# Each try gets a fresh results directory, RESULTS_BASE-N; the last is $rdir.
run_drills() {
	local want=$1 try
	shift
	for try in 1 2 3; do
		rdir="$RESULTS_BASE-$try"
		wait_port || { skip_reason="127.0.0.1:18080 stayed busy (another drill on this box)"; return 1; }
		run "$@" --results "$rdir"
		if [ "$rc" = "$want" ] && ! grep -qs "port 18080 on 127.0.0.1 is already in use" "$tmp/out" "$tmp/err"; then
			return 0
		fi
		echo "note: try $try exited $rc ($(grep -E '^outcome' "$tmp/out" | tr '\n' ' ')); 127.0.0.1:18080: $(ss -ltnpH 'sport = :18080' 2>/dev/null | grep -o 'users:.*' || echo free)"
	done
	return 0
}

root_daily() {
	real_catalog "$tmp/cat1" zombie-parent
	export CHAOSLAB_SCENARIOS="$tmp/cat1/scenarios"
	RESULTS_BASE="$tmp/r1"
	run_drills 0 daily --autopilot=2 --no-ask --plain || return 0
	r1=$rdir
	expect_rc 0 "daily runs today's drill (zombie-parent on autopilot)"
	d=$(ls "$r1"/*-daily-*.json 2>/dev/null | head -1)
	if [ -z "$d" ]; then
		fail "no daily record"
	else
		[ "$(json "$d" 'd["date"], d["scenario"], d["outcome"]')" = "('$today', 'zombie-parent', 'fixed')" ] ||
			fail "daily record: $(cat "$d")"
		drill=$(json "$d" 'd["drill_run_id"]')
		[ -f "$r1/$drill.json" ] || fail "the daily's drill run '$drill' has no result"
		[ "$(json "$r1/$drill.json" 'd["outcome"]')" = fixed ] || fail "the daily's drill was not fixed"
		assert_clean "$r1"
		# The next day: the only drill that runs here was the day before's.
		python3 - "$d" "$yesterday" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["date"] = sys.argv[2]
json.dump(d, open(sys.argv[1], "w"))
EOF
		run daily --dry-run --results "$r1"
		expect_rc 3 "daily with only yesterday's drill able to run"
		expect_out "$tmp/err" "the only drill that runs here is 'zombie-parent', the daily of $yesterday" "daily refuses to repeat it"
		real_catalog "$tmp/cat1" port-not-listening
		run daily --dry-run --results "$r1"
		expect_rc 0 "daily with a second drill"
		expect_out "$tmp/out" "today's drill ($today): port-not-listening" "daily picks the other drill"
	fi
}

root_mock() {
	real_catalog "$tmp/cat2" zombie-parent port-not-listening service-no-endpoints
	export CHAOSLAB_SCENARIOS="$tmp/cat2/scenarios"
	RESULTS_BASE="$tmp/r2"
	run_drills 0 mock --budget 2 --autopilot=2 --no-ask --plain || return 0
	r2=$rdir
	expect_rc 0 "mock: linux and network drills fixed on autopilot"
	m=$(ls "$r2"/*-mock-*.json 2>/dev/null | head -1)
	if [ -z "$m" ]; then
		fail "no mock result"
	else
		[ "$(json "$m" '[(x["domain"], x["status"], x.get("scenario"), x.get("outcome")) for x in d["drills"]]')" = \
		  "[('linux', 'run', 'zombie-parent', 'fixed'), ('net', 'run', 'port-not-listening', 'fixed'), ('k8s', 'skipped', None, None)]" ] ||
			fail "mock plan and outcomes: $(json "$m" 'd["drills"]')"
		[ "$(json "$m" 'all(x["time_limit_seconds"] <= 120 for x in d["drills"] if x["status"] == "run")')" = True ] ||
			fail "a mock drill's time limit exceeds the 2-minute budget"
		[ "$(json "$m" 'd["score"]')" = "$(json "$m" 'round(sum(x["score"] for x in d["drills"] if x["status"] == "run") / 2)')" ] ||
			fail "the combined score is not the mean of the two domains that ran"
		expect_out "$tmp/out" "| k8s | - | skipped: no k8s drill runs here (service-no-endpoints:" "mock says why Kubernetes was skipped"
		for run_id in $(json "$m" '" ".join(x["run_id"] for x in d["drills"] if "run_id" in x)'); do
			[ -f "$r2/$run_id.json" ] || fail "mock drill $run_id has no result"
		done
		assert_clean "$r2"
		run report --md "$tmp/mock.md" --results "$r2"
		expect_out "$tmp/mock.md" "### Mock interview, " "the report has the mock"
	fi
}

root_budget() {
	# A budget too small for two drills: the first is cut to what is left,
	# the second is skipped and counts 0.
	RESULTS_BASE="$tmp/r3"
	run_drills 1 mock --budget 1 --autopilot=80 --no-ask --plain || return 0
	r3=$rdir
	expect_rc 1 "mock with a one-minute budget"
	m=$(ls "$r3"/*-mock-*.json 2>/dev/null | head -1)
	if [ -n "$m" ]; then
		[ "$(json "$m" 'd["drills"][0]["time_limit_seconds"] <= 60, d["drills"][0]["outcome"]')" = "(True, 'timed_out')" ] ||
			fail "the first drill was not capped by the budget: $(json "$m" 'd["drills"][0]')"
		[ "$(json "$m" 'd["drills"][1]["status"], d["drills"][1]["reason"].startswith("budget spent"), d["drills"][1]["score"]')" = "('skipped', True, 0)" ] ||
			fail "the second drill was not skipped for the budget: $(json "$m" 'd["drills"][1]')"
		assert_clean "$r3"
	else
		fail "no mock result for the one-minute budget"
	fi
}

if [ "$(id -u)" != 0 ]; then
	skip_reason="daily and mock runs need root (they run real drills)"
else
	root_daily
	root_mock
	root_budget
fi

if [ "$fails" -gt 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
if [ -n "$skip_reason" ]; then
	echo "SKIP (after the rest passed): $skip_reason"
	exit 77
fi
echo "PASS"
