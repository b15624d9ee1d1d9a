#!/usr/bin/env python3
"""Drill-engine benchmarks, run as root:

  * fix-detection latency: the burner is killed -> the harness records the
    fix_when criterion as met (its event carries CLOCK_MONOTONIC), p50/p95
    over N trials; side by side with procps `pidwait`, a reference waiter
    started on the same process in the same trial.
  * harness CPU% and RSS while watching a drill (10 s sample).

usage: drill_bench.py CHAOSLAB_BIN [TRIALS]
"""
import json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

BIN = sys.argv[1]
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
HERE = os.path.dirname(os.path.abspath(__file__))
TMP = tempfile.mkdtemp(prefix="chaoslab-bench.")
ENV = dict(os.environ, CHAOSLAB_STATE=TMP + "/state", CHAOSLAB_RESULTS=TMP + "/results",
           CHAOSLAB_SCENARIOS=HERE + "/catalog/scenarios", NO_COLOR="1")


def status():
    r = subprocess.run([BIN, "status", "--json"], env=ENV, capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def wait_running(proc, limit=60):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        s = status()
        if s and s.get("state") == "running":
            return s
        if proc.poll() is not None:
            raise SystemExit("drill exited early: " + proc.stdout.read())
        time.sleep(0.1)
    raise SystemExit("drill never reached running")


def pids_named(name):
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def pct(v, q):
    v = sorted(v)
    k = (len(v) - 1) * q
    f = int(k)
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)


def one_trial(measure_cost=False):
    for f in os.listdir(ENV["CHAOSLAB_RESULTS"]) if os.path.isdir(ENV["CHAOSLAB_RESULTS"]) else []:
        os.unlink(os.path.join(ENV["CHAOSLAB_RESULTS"], f))
    p = subprocess.Popen([BIN, "drill", "bench-detect", "--no-ask", "--plain"], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_running(p)
    cost = None
    if measure_cost:
        tck = os.sysconf("SC_CLK_TCK")
        def cpu():
            f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])
        c0, t0 = cpu(), time.monotonic()
        time.sleep(10)
        c1, t1 = cpu(), time.monotonic()
        rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
        cost = (100.0 * (c1 - c0) / tck / (t1 - t0), int(rss) / 1024.0)
    target = pids_named("benchburn")
    if not target:
        raise SystemExit("no burner found")
    ref = subprocess.Popen(["pidwait", "-x", "benchburn"])
    time.sleep(0.3)  # let pidwait start watching
    t_kill = time.monotonic()
    for pid in target:
        os.kill(pid, signal.SIGKILL)
    ref.wait()
    t_ref = time.monotonic()
    p.wait(timeout=60)
    res = [f for f in os.listdir(ENV["CHAOSLAB_RESULTS"]) if f.endswith(".json")]
    doc = json.load(open(os.path.join(ENV["CHAOSLAB_RESULTS"], res[0])))
    met = [e for e in doc["events"] if e["event"] == "criterion_met"
           and e.get("detail", "").startswith("fixed_when[0]")]
    if not met:
        raise SystemExit("no criterion_met event for fixed_when[0]")
    return (met[0]["mono"] - t_kill) * 1000, (t_ref - t_kill) * 1000, cost


def main():
    if os.geteuid() != 0:
        print("SKIP: the drill benchmark needs root")
        return 77
    if not shutil.which("pidwait"):
        print("note: pidwait (procps) not found; reference column omitted")
    ours, ref = [], []
    _, _, cost = one_trial(measure_cost=True)
    for i in range(TRIALS):
        a, b, _ = one_trial()
        ours.append(a)
        ref.append(b)
    print(f"fix-detection latency over {TRIALS} trials (ms)")
    print(f"{'':18}{'p50':>8}{'p95':>8}{'max':>8}")
    print(f"{'chaoslab':18}{pct(ours, .5):8.1f}{pct(ours, .95):8.1f}{max(ours):8.1f}")
    print(f"{'pidwait (procps)':18}{pct(ref, .5):8.1f}{pct(ref, .95):8.1f}{max(ref):8.1f}")
    print(f"harness while watching: {cost[0]:.2f}% of one core, RSS {cost[1]:.1f} MiB")
    subprocess.run([BIN, "recover"], env=ENV, capture_output=True)
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
