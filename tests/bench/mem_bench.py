#!/usr/bin/env python3
"""How fast does memory-hog make N GiB resident, next to stress-ng --vm?

For each size N (GiB, default 1 and 2) and each repetition it starts, one
after the other in the same run:

  * a memory-hog worker: the real chaoslab binary re-executed with
    CHAOSLAB_WORKER=memory-hog, as a drill runs it (seccomp lockdown
    included), told to hold N GiB at once (no rate), with the guardrail's
    floor at 20% of MemAvailable as the injector would set it;
  * `stress-ng --vm 1 --vm-bytes NG --vm-keep`.

It polls VmRSS in /proc/PID/status (for stress-ng, of every process it
started: the vm worker is a child) every few milliseconds and records the
time from launching the tool until one process holds N GiB resident, then
stops the tool and waits for its memory to come back before the next run.

usage: tests/bench/mem_bench.py BUILD_DIR [--sizes 1,2] [--repeat 3]
Needs: BUILD_DIR/chaoslab, stress-ng (without it its column shows -).
Refuses sizes above half of MemAvailable.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

GIB = 1 << 30
POLL_S = 0.002
TIMEOUT_S = 120


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k == key:
                return int(v.split()[0]) * 1024
    raise KeyError(key)


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(root):
    """root and every process below it, from /proc/PID/stat ppid fields."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        parent[int(d)] = int(fields[1])
    out, todo = [root], [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


def wait_resident(proc, want, whole_tree):
    """Seconds from proc's launch (proc.t0) until one of its processes holds
    want bytes resident; None on timeout or exit."""
    pids = [proc.pid]
    last_scan = 0.0
    while True:
        now = time.monotonic()
        if now - proc.t0 > TIMEOUT_S or proc.poll() is not None:
            return None
        if whole_tree and now - last_scan > 0.05:
            pids = descendants(proc.pid)
            last_scan = now
        if any(rss_bytes(p) >= want for p in pids):
            return time.monotonic() - proc.t0
        time.sleep(POLL_S)


def stop(proc, before_avail):
    """Stop the tool and wait until MemAvailable is back near where it was."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and meminfo("MemAvailable") < before_avail - 128 * 2**20:
        time.sleep(0.1)


def run_hog(binary, n):
    avail = meminfo("MemAvailable")
    args = {"role": "hog", "target_bytes": n * GIB, "rate_bytes": 0,
            "floor_bytes": avail // 100 * 20}
    env = dict(os.environ, CHAOSLAB_WORKER="memory-hog",
               CHAOSLAB_WORKER_ARGS=json.dumps(args), CHAOSLAB_OWNER=f"bench:{os.getpid()}")
    env.pop("CHAOSLAB_PARENT", None)
    t0 = time.monotonic()
    proc = subprocess.Popen(["membench"], executable=binary, env=env, start_new_session=True)
    proc.t0 = t0
    t = wait_resident(proc, n * GIB, whole_tree=False)
    stop(proc, avail)
    return t


def run_stress(n):
    avail = meminfo("MemAvailable")
    t0 = time.monotonic()
    proc = subprocess.Popen(["stress-ng", "--vm", "1", "--vm-bytes", f"{n}G", "--vm-keep",
                             "--timeout", f"{TIMEOUT_S}s", "--quiet"],
                            start_new_session=True)
    proc.t0 = t0
    t = wait_resident(proc, n * GIB, whole_tree=True)
    stop(proc, avail)
    return t


def summary(ts):
    ok = [t for t in ts if t is not None]
    if not ok:
        return "-"
    s = f"{statistics.median(ok):.3f} s [{min(ok):.3f}-{max(ok):.3f}]"
    if len(ok) < len(ts):
        s += f" ({len(ts) - len(ok)} timed out)"
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--sizes", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    binary = os.path.join(a.build, "chaoslab")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{sys.argv[0]}: no chaoslab binary in '{a.build}'")
    have_stress = shutil.which("stress-ng") is not None
    sizes = [int(x) for x in a.sizes.split(",")]
    avail = meminfo("MemAvailable")
    for n in sizes:
        if n * GIB > avail // 2:
            sys.exit(f"{sys.argv[0]}: {n} GiB is more than half of MemAvailable "
                     f"({avail // 2**20} MiB): refusing")
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        thp = f.read().split("[")[1].split("]")[0]
    print(f"time to N GiB resident (VmRSS, polled every {POLL_S * 1000:.0f} ms), from launch; "
          f"{a.repeat} runs each, alternating; {os.cpu_count()} CPUs, "
          f"MemAvailable {avail // 2**20} MiB, THP {thp}")
    print(f"load average at start: {open('/proc/loadavg').read().split()[0]}")
    print()
    print(f"{'N':<6}| {'chaoslab memory-hog':<34}| {'stress-ng --vm 1 --vm-keep':<34}| ratio")
    print(f"{'':-<6}+{'':-<35}+{'':-<35}+------")
    for n in sizes:
        hog, stress = [], []
        for i in range(a.repeat):
            # Alternate who goes first: neither always meets a warm allocator.
            if i % 2 == 0:
                hog.append(run_hog(binary, n))
                stress.append(run_stress(n) if have_stress else None)
            else:
                stress.append(run_stress(n) if have_stress else None)
                hog.append(run_hog(binary, n))
        ok_h = [t for t in hog if t is not None]
        ok_s = [t for t in stress if t is not None]
        ratio = (f"{statistics.median(ok_s) / statistics.median(ok_h):.2f}x"
                 if ok_h and ok_s else "-")
        print(f"{str(n) + ' GiB':<6}| {summary(hog):<34}| {summary(stress):<34}| {ratio}")
    print()
    print("median [min-max] of the runs; ratio: stress-ng's median over memory-hog's "
          "(above 1: memory-hog is faster)")


if __name__ == "__main__":
    main()
