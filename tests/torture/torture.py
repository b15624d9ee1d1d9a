#!/usr/bin/env python3
"""Crash torture: SIGKILL the harness at random moments, recover, audit.

For every catalog drill this machine can run (`chaoslab list --json`), in a
state directory of its own:

  1. a clean run: `chaoslab drill ID --no-ask --plain`, given up through
     `chaoslab giveup` once the clock runs, so it goes through every state
     and reverts; its journal is followed record by record (the sequence the
     kill points are drawn from) and it is timed. Audited like the others:
     the lab may create its files in this run (first start), nothing else.
  2. N runs (CHAOSLAB_TORTURE_RUNS, default 4), each killed with SIGKILL at
     one kill point, the kinds taking turns:
       inject  just after a journal record of the lab and inject phase
               ("intent", "update", "applied") chosen at random from the
               clean run's sequence, plus nothing, 0..2, 0..5 or 0..50 ms
               (a step applies in 1 to 50 ms): the harness dies inside
               apply(), between a change and the record of the next one
       revert  likewise after a "revert-begin" or "reverted" record, plus
               nothing, 0..2 or 0..10 ms: the harness dies inside revert()
       random  a moment drawn uniformly over the clean run's whole length
       autopilot  the drill runs its reference solution (--autopilot=0)
               and is killed 0..3 s after its clock started: while the
               stand-in engineer's commands run, or while the fix is
               confirmed, or while it reverts
     then `chaoslab recover` (one time in four killed itself inside one of
     its reverts first), which must succeed, a second `chaoslab recover`
     (must find nothing), and the audit (audit.py): no process, zombie,
     qdisc, veth, namespace, loop device, mount, cgroup, journal of the run;
     lab files byte-identical to before; host resolver untouched; memory
     and disk back. A run the kill did not reach (the drill ended first)
     must have ended as it should (given up: exit 1; on autopilot: fixed,
     0, or 1 on a box too busy for the fix to hold) and is audited the
     same way.

Runs but the autopilot ones are given up rather than fixed: the reference
fix changes lab files on purpose (a rotated certificate, rules moved aside),
and the point is that whatever chaoslab changed is put back byte for byte.
After an autopilot run the lab files are not compared (they are the
engineer's now); everything else is.

This process is child subreaper (PR_SET_CHILD_SUBREAPER) and reaps what the
killed harness leaves, as init does on a real machine; anything still alive
in that tree after recover is a leftover.

Lab services listen on fixed ports (demo-api 127.0.0.1:18080): a run that
cannot start because another program holds the port is retried a few times,
then counted as blocked, not as a leftover.

Environment: CHAOSLAB_BIN, CHAOSLAB_SRC (from ctest); CHAOSLAB_TORTURE_RUNS
(kill runs per drill, default 4); CHAOSLAB_TORTURE_ONLY (comma-separated
drill ids); CHAOSLAB_TORTURE_BUDGET (seconds, default 540: no new run starts
after it, the report says what was cut); CHAOSLAB_TORTURE_SEED.
Exit 0 when every run left nothing behind, 1 otherwise.
"""
import collections
import ctypes
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit  # noqa: E402

BIN = os.environ["CHAOSLAB_BIN"]
SRC = os.environ["CHAOSLAB_SRC"]
RUNS = int(os.environ.get("CHAOSLAB_TORTURE_RUNS", "4"))
BUDGET = float(os.environ.get("CHAOSLAB_TORTURE_BUDGET", "540"))
ONLY = [s for s in os.environ.get("CHAOSLAB_TORTURE_ONLY", "").split(",") if s]
SEED = int(os.environ.get("CHAOSLAB_TORTURE_SEED", str(int(time.time()))))
KINDS = ["inject", "revert", "random", "autopilot"]
PR_SET_CHILD_SUBREAPER = 36
POLL = 0.001
RUN_TIMEOUT = 120
PORT_RETRIES = 4
PORT_WAIT = 90

rng = random.Random(SEED)
t_start = time.time()
popen_pids = set()


def log(msg):
    print(msg, flush=True)


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_orphans():
    """Reap exited orphans reparented to us (not our own subprocesses,
    whose status subprocess collects)."""
    me = os.getpid()
    for pid, p in audit.processes().items():
        if p["ppid"] == me and p["stat"].startswith("Z") and pid not in popen_pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def settle(timeout=5.0):
    """Wait until nothing but our own subprocesses is left in our tree
    (workers dying of PDEATHSIG, reaped as they go), up to timeout."""
    end = time.time() + timeout
    while True:
        reap_orphans()
        me = os.getpid()
        alive = [pid for pid, p in audit.processes().items()
                 if p["ppid"] == me and pid not in popen_pids]
        if not alive or time.time() >= end:
            return
        time.sleep(0.05)


def run_cli(env, *args, timeout=120):
    p = subprocess.Popen([BIN] + list(args), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    popen_pids.add(p.pid)
    try:
        out, _ = p.communicate(timeout=timeout)
    finally:
        popen_pids.discard(p.pid)
    return p.returncode, out


def wait_port_free(out):
    """After "port N ... already in use": wait (up to PORT_WAIT s) until
    nothing listens on it any more."""
    m = re.search(r"port (\d+)", out)
    if not m:
        time.sleep(5)
        return
    end = time.time() + PORT_WAIT
    while time.time() < end:
        if not audit.run(["ss", "-Hltn", "sport = :" + m.group(1)]).strip():
            return
        time.sleep(0.5)


def worker_names(scenario_id):
    """Process names the scenario's steps give their workers (for the
    zombie check), read from the scenario file without a YAML parser."""
    names = {"chaoslab", "demo-api", "dns", "tls"}
    for ext in ("yaml", "yml", "json"):
        path = os.path.join(SRC, "scenarios", scenario_id + "." + ext)
        if os.path.exists(path):
            text = open(path).read()
            for m in re.finditer(r'"?\b(?:name|parent_name|supervisor_name)"?\s*:\s*"?([A-Za-z0-9_.-]+)',
                                 text):
                names.add(m.group(1))
    return names


class Journal:
    """Follows STATE/journal as the harness appends to it."""

    def __init__(self, state):
        self.path = os.path.join(state, "journal")
        self.buf = b""
        self.records = []
        self.run_id = None
        self.inode = None
        self.off = 0

    def poll(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return
        if st.st_ino != self.inode:
            self.inode, self.off, self.buf = st.st_ino, 0, b""
        if st.st_size <= self.off:
            return
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            return
        self.off += len(data)
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("rec") == "begin":
                self.run_id = r.get("run")
            self.records.append((r.get("rec"), r.get("step")))


def recover_killed(env, state):
    """Run `chaoslab recover` and SIGKILL it just after it journals the
    start of a revert (0..5 ms later). True when it was killed so."""
    j = Journal(state)
    j.poll()
    start = len(j.records)
    p = subprocess.Popen([BIN, "recover"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    popen_pids.add(p.pid)
    target = rng.choice([1, 1, 2])  # its first or second revert
    killed = False
    seen = 0
    while p.poll() is None:
        n = len(j.records)
        j.poll()
        seen += sum(1 for r in j.records[max(n, start):] if r[0] == "revert-begin")
        if seen >= target:
            time.sleep(rng.uniform(0, 0.005))
            os.kill(p.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(POLL)
    p.wait()
    popen_pids.discard(p.pid)
    return killed and p.returncode == -signal.SIGKILL


def phase_of(records, journal_gone):
    """Where the harness was when it died, from the last record it wrote."""
    if not records:
        return "preflight"
    rec, step = records[-1]
    if rec in ("revert-begin", "reverted", "revert-failed"):
        return "revert (%s %s)" % (rec, step)
    if rec == "begin":
        return "lab (begin)"
    if journal_gone:
        return "finish (journal removed)"
    kind = "lab" if step and step.startswith("lab-") else "inject"
    if rec == "applied" and all(r[0] != "intent" or any(
            x == ("applied", r[1]) for x in records) for r in records):
        return "confirm/watch (all applied)"
    return "%s (%s %s)" % (kind, rec, step)


def drill(env, sid, state, kill=None):
    """One drill run. kill: None (clean run), ("record", rec, step, nth,
    delay), ("time", seconds) or ("autopilot", seconds after the clock
    started). Returns a dict describing the run."""
    out_path = os.path.join(os.path.dirname(state), "drill.out")
    out = open(out_path, "w")
    t0 = time.time()
    auto = kill is not None and kill[0] == "autopilot"
    p = subprocess.Popen([BIN, "drill", sid, "--no-ask", "--plain"] +
                         (["--autopilot=0"] if auto else []), env=env, stdout=out,
                         stderr=subprocess.STDOUT)
    popen_pids.add(p.pid)
    j = Journal(state)
    gave_up = auto  # the reference fix ends an autopilot run
    giveup_at = None
    kill_at = t0 + kill[1] if kill and kill[0] == "time" else None
    killed = None
    seen = collections.Counter()
    while p.poll() is None:
        now = time.time()
        n_before = len(j.records)
        j.poll()
        for rec, step in j.records[n_before:]:
            seen[(rec, step)] += 1
            if kill and kill[0] == "record" and kill_at is None and \
                    (rec, step) == (kill[1], kill[2]) and seen[(rec, step)] == kill[3]:
                kill_at = time.time() + kill[4]
        if kill_at is not None and now >= kill_at and killed is None:
            os.kill(p.pid, signal.SIGKILL)
            j.poll()
            killed = phase_of(j.records, not os.path.exists(j.path) and bool(j.records))
            break
        if auto and kill_at is None and "The clock is running" in open(out_path).read():
            kill_at = now + kill[1]
        if not gave_up:
            if giveup_at is None:
                try:
                    with open(out_path) as f:
                        if "The clock is running" in f.read():
                            giveup_at = now + rng.uniform(0, 0.5)
                except OSError:
                    pass
            elif now >= giveup_at:
                gave_up = True
                subprocess.Popen([BIN, "giveup"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        if now - t0 > RUN_TIMEOUT:
            os.kill(p.pid, signal.SIGKILL)
            killed = "timeout"
            break
        time.sleep(POLL)
    rc = p.wait()
    popen_pids.discard(p.pid)
    j.poll()
    out.close()
    text = open(out_path).read()
    return {"rc": rc, "killed": killed, "records": j.records, "run_id": j.run_id,
            "seconds": time.time() - t0, "out": text, "pid": p.pid,
            "port_busy": "already in use" in text}


def drill_env(base, directory):
    """base with a drill's own state and results directories, made under
    directory."""
    os.makedirs(directory)
    return dict(base, CHAOSLAB_STATE=os.path.join(directory, "state"),
                CHAOSLAB_RESULTS=os.path.join(directory, "results"))


def drill_port_free(env, sid, state, kill=None):
    """drill(), run again (PORT_RETRIES times at most) while another run
    holds the lab service's port; a run that was killed is never repeated."""
    for _ in range(PORT_RETRIES + 1):
        res = drill(env, sid, state, kill)
        if not res["port_busy"] or res["killed"]:
            break
        wait_port_free(res["out"])
    return res


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (drills change the machine)")
        return 77
    become_subreaper()
    env_base = dict(os.environ)
    env_base["CHAOSLAB_SCENARIOS"] = os.path.join(SRC, "scenarios")
    env_base["NO_COLOR"] = "1"
    # A lab network of our own name: other drills may run on this box.
    env_base["CHAOSLAB_NETNS"] = "ct%05d" % (os.getpid() % 100000)
    netns = env_base["CHAOSLAB_NETNS"]

    listing = json.loads(subprocess.run([BIN, "list", "--json"], env=env_base,
                                        capture_output=True, text=True).stdout)
    ids = [d["id"] for d in listing if d.get("supported", True)]
    skipped = [(d["id"], d.get("reason", "")) for d in listing if not d.get("supported", True)]
    if ONLY:
        ids = [i for i in ids if i in ONLY]
    if not ids:
        print("SKIP: no catalog drill can run on this machine")
        return 77
    log("torture: seed %d, %d drill(s) x (1 clean + %d killed) run(s), budget %ds, lab netns %s"
        % (SEED, len(ids), RUNS, BUDGET, netns))
    for sid, why in skipped:
        log("  not here: %s (%s)" % (sid, why[:100]))

    tmp = tempfile.mkdtemp(prefix="chaoslab-torture.")
    stats = collections.Counter()
    points = collections.Counter()
    leftovers = []
    failures = []
    blocked = []
    cut = []
    per = {}
    try:
        # Per drill: its state directory, clean-run sequence and length.
        for sid in ids:
            env = drill_env(env_base, os.path.join(tmp, sid))
            per[sid] = {"env": env, "state": env["CHAOSLAB_STATE"], "ready": False,
                        "names": worker_names(sid), "first": True}

        def one(sid, kind):
            s = per[sid]
            before = audit.snapshot(s["state"], netns)
            kill = None
            if kind == "inject" or kind == "revert":
                want = ("intent", "update", "applied") if kind == "inject" else \
                    ("revert-begin", "reverted")
                cands = [(i, r) for i, r in enumerate(s["seq"]) if r[0] in want]
                if cands:
                    i, r = rng.choice(cands)
                    nth = s["seq"][:i + 1].count(r)
                    # A step applies in 1 to 50 ms and reverts in a few:
                    # the delay spreads the kills over the step's own work.
                    if kind == "inject":
                        delay = rng.choice([0, rng.uniform(0, 0.002), rng.uniform(0, 0.005),
                                            rng.uniform(0, 0.05)])
                    else:
                        delay = rng.choice([0, 0, rng.uniform(0, 0.002), rng.uniform(0, 0.01)])
                    kill = ("record", r[0], r[1], nth, delay)
            if kind == "autopilot":
                kill = ("autopilot", rng.uniform(0, 3))
            elif kill is None:
                kill = ("time", rng.uniform(0, s["length"]))
            res = drill_port_free(s["env"], sid, s["state"], kill)
            return before, kill, res

        def finish(sid, kind, before, kill, res):
            """Recover when killed, audit; record what was found."""
            s = per[sid]
            label = "%s/%s" % (sid, kind)
            if kill and kill[0] == "record":
                label += " @%s %s #%d +%dms" % (kill[1], kill[2], kill[3], kill[4] * 1000)
            elif kill and kill[0] == "autopilot":
                label += " @clock+%.2fs" % kill[1]
            elif kill:
                label += " @%.2fs" % kill[1]
            stats["runs"] += 1
            if res["port_busy"] and not res["killed"]:
                blocked.append(label)
                stats["blocked"] += 1
            if res["killed"]:
                stats["killed"] += 1
                points[res["killed"].split(" (")[0]] += 1
                if res["records"]:
                    points["last record: " + res["records"][-1][0]] += 1
                # One kill in four: recover itself is killed too, inside
                # one of its reverts, and run again.
                if rng.random() < 0.25 and recover_killed(s["env"], s["state"]):
                    points["recover killed inside a revert"] += 1
                rc, out = run_cli(s["env"], "recover")
                if rc != 0:
                    failures.append("%s: recover exited %d after a kill at %s:\n%s" %
                                    (label, rc, res["killed"], out))
                rc2, out2 = run_cli(s["env"], "recover")
                if rc2 != 0 or "nothing to recover" not in out2:
                    failures.append("%s: second recover was not a no-op (%d): %s" %
                                    (label, rc2, out2.strip()))
                what = "killed at %s" % res["killed"]
            else:
                what = "ended by itself, exit %d" % res["rc"]
                # Gave up: 1. On autopilot: fixed (0), or 1 when the box
                # was too busy for the fix to hold in time.
                ok = (0, 1) if kind == "autopilot" else (1,)
                if res["rc"] not in ok and not res["port_busy"]:
                    failures.append("%s: exit %d, expected %s:\n%s" %
                                    (label, res["rc"], " or ".join(map(str, ok)),
                                     res["out"][-1500:]))
            settle()
            # The reference fix changes lab files on purpose (a rotated
            # certificate, rules moved aside): after an autopilot run they
            # are the engineer's, and the next run's baseline.
            left = audit.check(before, s["state"], netns, [res["run_id"]], [res["pid"]],
                               s["names"], first=s["first"] or kind == "autopilot",
                               engineer=kind == "autopilot", exclude=popen_pids)
            s["first"] = False
            if left:
                leftovers.append((label, what, left))
            log("  %-62s %-40s %s" % (label, what[:40],
                                       "clean" if not left else "%d LEFTOVER(S)" % len(left)))
            for line in left:
                log("      " + line)

        # Round 0: the clean runs; then rounds of kills, each drill a
        # different kind each round.
        for sid in ids:
            if time.time() - t_start > BUDGET:
                cut.append(sid + "/clean")
                continue
            s = per[sid]
            before = audit.snapshot(s["state"], netns)
            res = drill_port_free(s["env"], sid, s["state"])
            s["seq"] = res["records"]
            s["length"] = max(res["seconds"], 1.0)
            s["ready"] = not res["port_busy"] and res["rc"] == 1
            finish(sid, "clean", before, None, res)
        for rnd in range(RUNS):
            for k, sid in enumerate(ids):
                kind = KINDS[(rnd + k) % len(KINDS)]
                if not per[sid]["ready"]:
                    continue
                if time.time() - t_start > BUDGET:
                    cut.append("%s/%s" % (sid, kind))
                    continue
                before, kill, res = one(sid, kind)
                finish(sid, kind, before, kill, res)
    finally:
        settle(2)
        shutil.rmtree(tmp, ignore_errors=True)

    log("")
    log("torture summary (seed %d, %.0f s)" % (SEED, time.time() - t_start))
    log("  runs: %d (%d killed, %d ended by themselves, %d blocked by a busy port)" %
        (stats["runs"], stats["killed"], stats["runs"] - stats["killed"] - stats["blocked"],
         stats["blocked"]))
    log("  kill points:")
    for k, v in sorted(points.items()):
        log("    %-40s %d" % (k, v))
    if cut:
        log("  not run, over the %d s budget: %s" % (BUDGET, ", ".join(cut)))
    if blocked:
        log("  blocked (port held by another program): %s" % ", ".join(blocked))
    log("  runs with leftovers: %d" % len(leftovers))
    for label, what, left in leftovers:
        log("    %s (%s): %s" % (label, what, "; ".join(left)))
    for f in failures:
        log("  FAILED: " + f)
    if leftovers or failures:
        log("FAIL: %d run(s) left something behind, %d other failure(s)" %
            (len(leftovers), len(failures)))
        return 1
    log("PASS: %d run(s), nothing left behind" % stats["runs"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
