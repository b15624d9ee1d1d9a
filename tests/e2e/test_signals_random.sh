#!/bin/bash
# SIGTERM, SIGINT (as Ctrl-C sends it: to the whole foreground process
# group) and SIGHUP at random moments of a drill: the harness reverts at once
# and exits 1 with outcome aborted, whatever state it was in (preflight, lab,
# inject, confirming the symptom, watching); a second, third and fourth
# signal while it reverts do not cut the revert short. After every run the
# audit (tests/torture/audit.py) finds nothing of the run left: no process,
# no zombie, no lab network, volume or cgroup, lab files byte-identical.
#
# The moments: uniformly over the first 1.5 s (the drills below reach their
# clock within it), and just after a journal record of the lab and inject
# phase (0..5 ms later: inside apply()). A signal that arrives in the first
# milliseconds, before the drill installed its handlers (arguments and the
# scenario file are being read, nothing has been changed), ends chaoslab as
# it ends any program; the test accepts that only when no journal was begun.
#
# CHAOSLAB_SIGNAL_RUNS sets the random-moment runs per drill and signal
# (default 2); CHAOSLAB_SIGNAL_SEED the seed.
. "$(dirname "$0")/lib.sh"
need_root

E2E_TMP=$E2E_TMP python3 - "$CHAOSLAB_SRC/tests/torture" <<'EOF'
import json, os, random, signal, subprocess, sys, time
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, sys.argv[1])
import audit, torture

BIN, TMP = os.environ["CHAOSLAB_BIN"], os.environ["E2E_TMP"]
RUNS = int(os.environ.get("CHAOSLAB_SIGNAL_RUNS", "2"))
SEED = int(os.environ.get("CHAOSLAB_SIGNAL_SEED", str(int(time.time()))))
rng = random.Random(SEED)
torture.become_subreaper()
netns = "cs%05d" % (os.getpid() % 100000)
base = dict(os.environ, CHAOSLAB_NETNS=netns)
listing = json.loads(subprocess.run([BIN, "list", "--json"], env=base, capture_output=True,
                                    text=True).stdout)
can = {d["id"] for d in listing if d.get("supported", True)}
drills = [d for d in ("cpu-runaway", "disk-full", "dns-wrong-resolver") if d in can]
if not drills:
    print("SKIP: none of the signal test's drills can run here")
    sys.exit(77)
print("seed %d" % SEED)
failures, counts = [], {"aborted": 0, "before handlers": 0}


def one(sid, env, state, sig, how, arg):
    """how: 'time' (arg seconds), 'record' (arg (rec, step), +0..5 ms) or
    'revert' (first signal once the clock runs, three more at revert-begin)."""
    names = torture.worker_names(sid)
    before = audit.snapshot(state, netns)
    out_path = os.path.join(os.path.dirname(state), "drill.out")
    results = env["CHAOSLAB_RESULTS"]
    for f in os.listdir(results) if os.path.isdir(results) else []:
        os.unlink(os.path.join(results, f))
    t0 = time.time()
    p = subprocess.Popen([BIN, "drill", sid, "--no-ask", "--plain"], env=env,
                         stdout=open(out_path, "w"), stderr=subprocess.STDOUT,
                         start_new_session=True)
    torture.popen_pids.add(p.pid)
    j = torture.Journal(state)
    sent = None
    at = "-"
    extra = False

    def send(s):
        # Ctrl-C reaches the whole foreground process group.
        if s == signal.SIGINT:
            os.killpg(p.pid, s)
        else:
            p.send_signal(s)

    while p.poll() is None:
        j.poll()
        now = time.time()
        if sent is None:
            fire = (how == "time" and now - t0 >= arg) or \
                (how == "record" and arg in j.records) or \
                (how == "revert" and "The clock is running" in open(out_path).read())
            if fire:
                if how == "record":
                    time.sleep(rng.uniform(0, 0.005))
                sent = time.time()
                j.poll()
                at = torture.phase_of(j.records, False)
                send(sig)
        elif how == "revert" and not extra and any(r[0] == "revert-begin" for r in j.records):
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                send(s)
            extra = True
        if now - t0 > 60:
            p.kill()
            break
        time.sleep(0.0005)
    rc = p.wait()
    torture.popen_pids.discard(p.pid)
    took = time.time() - (sent or t0)
    label = "%s SIG%s %s %s" % (sid, signal.Signals(sig).name[3:], how,
                               "%.3fs" % arg if how == "time" else arg or "")
    res = [json.load(open(os.path.join(results, f))) for f in os.listdir(results)] \
        if os.path.isdir(results) else []
    problems = []
    if rc == 2 and "already in use" in open(out_path).read():
        print("  %-55s blocked: a port of the lab is held by another program" % label[:55])
        return
    if rc == -sig and not j.records and not res:
        counts["before handlers"] += 1
        what = "ended by the signal before the handlers (nothing begun)"
    else:
        counts["aborted"] += 1
        what = "exit %d" % rc
        if rc != 1:
            problems.append("exit %d, expected 1" % rc)
        if not res or res[0].get("outcome") != "aborted":
            problems.append("outcome %s, expected aborted" % (res[0].get("outcome") if res else "none"))
        elif not res[0]["revert"]["ok"]:
            problems.append("revert not ok: %s" % res[0]["revert"])
        if took > 5:
            problems.append("took %.1f s from the signal to the exit" % took)
        if how == "revert" and not extra:
            problems.append("the revert was never seen starting")
    torture.settle()
    problems += audit.check(before, state, netns, [j.run_id], [p.pid], names,
                            exclude=torture.popen_pids)
    print("  %-50s at %-36s %-8s %s" % (label[:50], at[:36], what[:8],
                                         "ok" if not problems else "FAILED"))
    for line in problems:
        print("      " + line)
        failures.append(label + ": " + line)
    if problems:
        print(open(out_path).read()[-1200:])


for sid in drills:
    env = torture.drill_env(base, os.path.join(TMP, "sig-" + sid))
    state = env["CHAOSLAB_STATE"]
    clean = torture.drill_port_free(env, sid, state)
    if clean["rc"] != 1:
        failures.append("%s: the clean run exited %d" % (sid, clean["rc"]))
        print(clean["out"][-1200:])
        continue
    seq = [r for r in clean["records"] if r[0] in ("intent", "update", "applied")]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        for _ in range(RUNS):
            one(sid, env, state, sig, "time", rng.uniform(0, 1.5))
        if seq:
            one(sid, env, state, sig, "record", rng.choice(seq))
        one(sid, env, state, sig, "revert", None)

print("runs: %d aborted and reverted, %d ended before the handlers were installed" %
      (counts["aborted"], counts["before handlers"]))
if failures:
    print("FAIL: %d problem(s)" % len(failures))
    sys.exit(1)
print("PASS: every signal reverted at once, exit 1, nothing left behind")
EOF
