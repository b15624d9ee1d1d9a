#!/usr/bin/env python3
"""Recovery after a simulated reboot, and after pids were recycled.

For a set of drills covering every kind of change (processes, zombies, lab
files, the lab network and its resolver, the lab volume, a memory cgroup,
a qdisc), in a state directory of their own:

  1. a clean run (given up) so the lab's files exist, then a snapshot;
  2. the drill is started and, once its clock runs, the harness is killed
     with SIGKILL and so is every process of the run (a reboot leaves no
     process). With --reboot, what a reboot clears goes too: the lab's
     network namespace (and with it its veth and qdiscs), the volume's
     mount and loop device, the run's cgroups; and the journal gets another
     boot id in every process identity, as a journal written before a
     reboot has. Files on disk stay: the journal, lab files, the volume
     image, /etc/netns/NETNS.
  3. decoys: a process is started at every pid the journal names (the
     harness and each worker), through /proc/sys/kernel/ns_last_pid, with
     the worker's own name. They are not the run's processes: recover must
     not touch them (their pid matches, their boot id or start time does
     not, and they carry no owner tag).
  4. `chaoslab recover` must succeed; every decoy must still be alive;
     the audit (audit.py) must find nothing of the run, and the lab files
     as before.

Without --reboot the boot id stays and only the pids are recycled (the start
time is what tells them apart). Environment as torture.py.
Exit 0 when recover did its job every time, 1 otherwise.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit  # noqa: E402
import torture  # noqa: E402

DRILLS = ["cpu-respawn", "zombie-parent", "cert-expired", "backend-down", "dns-wrong-resolver",
          "disk-full", "oom-loop", "slow-link-bandwidth"]


def log(msg):
    print(msg, flush=True)


def journal_pids(text):
    """(pid, name hint) of every identity in the journal."""
    out = []
    for line in text.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("rec") == "begin" and isinstance(r.get("owner"), dict):
            out.append((int(r["owner"]["pid"]), "chaoslab"))
        undo = r.get("undo") or {}
        for key in ("workers", "supervisors"):
            for w in undo.get(key, []) if isinstance(undo.get(key), list) else []:
                if isinstance(w, dict) and "pid" in w:
                    out.append((int(w["pid"]), None))
    seen, uniq = set(), []
    for pid, hint in out:
        if pid not in seen:
            seen.add(pid)
            uniq.append((pid, hint))
    return uniq


def claim_pid(pid, exe, tries=50):
    """Start exe (a copy of sleep named like a worker) at exactly pid.
    Returns the Popen-less pid or None when another process took it."""
    for _ in range(tries):
        if os.path.exists("/proc/%d" % pid):
            return None
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        child = os.fork()
        if child == 0:
            try:
                os.setsid()
                os.execv(exe, [exe, "600"])
            finally:
                os._exit(127)
        if child == pid:
            torture.popen_pids.add(child)
            return child
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return None


def start_time(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def teardown_like_reboot(state, netns, run_id):
    """What a reboot clears: the namespace (veth and qdiscs with it), mounts
    and loop devices of the state directory, the run's cgroups."""
    subprocess.run(["ip", "netns", "del", netns], capture_output=True)
    real = os.path.realpath(state)
    for line in reversed(audit.run(["findmnt", "-rn", "-o", "TARGET"]).splitlines()):
        if line.startswith(real + "/"):
            subprocess.run(["umount", "-l", line], capture_output=True)
    loops = json.loads(audit.run(["losetup", "--list", "--json", "-O", "NAME,BACK-FILE"]) or "{}")
    for lo in loops.get("loopdevices", []):
        if (lo.get("back-file") or "").startswith(real + "/"):
            subprocess.run(["losetup", "-d", lo["name"]], capture_output=True)
    for cg in sorted(audit.cgroups(), key=len, reverse=True):
        if audit.sanitize(run_id) in os.path.basename(cg):
            for _ in range(50):
                try:
                    os.rmdir(cg)
                    break
                except OSError:
                    time.sleep(0.1)


def one(sid, reboot, env, state, netns, tmp):
    names = torture.worker_names(sid)
    problems = []
    before = audit.snapshot(state, netns)
    out_path = os.path.join(os.path.dirname(state), "drill.out")
    p = subprocess.Popen([torture.BIN, "drill", sid, "--no-ask", "--plain"], env=env,
                         stdout=open(out_path, "w"), stderr=subprocess.STDOUT)
    torture.popen_pids.add(p.pid)
    end = time.time() + 60
    while time.time() < end and p.poll() is None:
        if "The clock is running" in open(out_path).read():
            break
        time.sleep(0.05)
    text = open(os.path.join(state, "journal")).read() if p.poll() is None else ""
    if not text:
        p.kill()
        p.wait()
        return ["the drill did not reach its clock: " + open(out_path).read()[-800:]], 0, ""
    run_id = re.search(r'"run":"([^"]+)"', text).group(1)
    # The machine goes down: the harness and every process of the run.
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    torture.popen_pids.discard(p.pid)
    for _ in range(50):
        owned = [pid for pid, tag in audit.owned_pids().items() if tag.startswith(run_id + ":")]
        if not owned:
            break
        for pid in owned:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    torture.settle()
    jpath = os.path.join(state, "journal")
    text = open(jpath).read()
    if reboot:
        teardown_like_reboot(state, netns, run_id)
        other = str(uuid.uuid4())
        text = re.sub(r'"boot_id":"[0-9a-f-]+"', '"boot_id":"%s"' % other, text)
        with open(jpath, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    # Decoys at every pid the journal names.
    decoys = {}
    workers = sorted(names - {"chaoslab", "demo-api", "dns", "tls"}) or ["demo-api"]
    for pid, hint in journal_pids(text):
        exe = os.path.join(tmp, (hint or workers[0])[:15])
        if not os.path.exists(exe):
            shutil.copy("/bin/sleep", exe)
        got = claim_pid(pid, exe)
        if got:
            decoys[got] = start_time(got)
    rc, out = torture.run_cli(env, "recover")
    if rc != 0:
        problems.append("recover exited %d:\n%s" % (rc, out))
    for pid, st in decoys.items():
        if start_time(pid) != st:
            problems.append("recover killed decoy pid %d (a recycled pid of the journal)" % pid)
    torture.settle()
    left = audit.check(before, state, netns, [run_id], [p.pid], names,
                       exclude=set(decoys) | torture.popen_pids)
    problems.extend(left)
    for pid in decoys:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        torture.popen_pids.discard(pid)
    return problems, len(decoys), out


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (drills change the machine)")
        return 77
    if not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        print("SKIP: /proc/sys/kernel/ns_last_pid is not writable: pids cannot be recycled "
              "on purpose here")
        return 77
    reboot = "--reboot" in sys.argv[1:]
    torture.become_subreaper()
    env_base = dict(os.environ, CHAOSLAB_SCENARIOS=os.path.join(torture.SRC, "scenarios"),
                    NO_COLOR="1", CHAOSLAB_NETNS="cr%05d" % (os.getpid() % 100000))
    netns = env_base["CHAOSLAB_NETNS"]
    listing = json.loads(subprocess.run([torture.BIN, "list", "--json"], env=env_base,
                                        capture_output=True, text=True).stdout)
    can = {d["id"] for d in listing if d.get("supported", True)}
    ids = [i for i in DRILLS if i in can and (not torture.ONLY or i in torture.ONLY)]
    if not ids:
        print("SKIP: none of %s can run on this machine" % ", ".join(DRILLS))
        return 77
    tmp = tempfile.mkdtemp(prefix="chaoslab-reboot.")
    failed = 0
    total_decoys = 0
    log("%s: %s" % ("simulated reboot" if reboot else "recycled pids, same boot", ", ".join(ids)))
    try:
        for sid in ids:
            env = torture.drill_env(env_base, os.path.join(tmp, sid))
            state = env["CHAOSLAB_STATE"]
            res = torture.drill_port_free(env, sid, state)
            if res["rc"] != 1:
                log("  %-22s clean run exited %d, expected 1:\n%s" % (sid, res["rc"], res["out"][-800:]))
                failed += 1
                continue
            problems, ndecoys, out = one(sid, reboot, env, state, netns, tmp)
            total_decoys += ndecoys
            if problems:
                failed += 1
                log("  %-22s FAILED (%d decoy(s)):" % (sid, ndecoys))
                for line in problems:
                    log("      " + line)
            else:
                log("  %-22s recovered, %d decoy(s) untouched, nothing left" % (sid, ndecoys))
            for line in out.strip().splitlines():
                log("        | " + line)
    finally:
        torture.settle(2)
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        log("FAIL: %d of %d drill(s)" % (failed, len(ids)))
        return 1
    log("PASS: %d drill(s) recovered, %d decoy process(es) at recycled pids untouched" %
        (len(ids), total_decoys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
