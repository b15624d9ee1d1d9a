#!/usr/bin/env python3
"""What a chaoslab run may leave behind, and a check that it left none of it.

A snapshot is taken before a run and compared with the machine after the
run ended (reverted, or killed and recovered). Everything is read with the
system's own tools (ps, tc, ip, losetup, findmnt, free, df, du) or straight
from /proc and /sys, never through chaoslab. A leftover is one line of text
saying what and where; the goal is none.

Checked:
  processes   no live process carrying CHAOSLAB_OWNER of the run, or
              CHAOSLAB_PARENT naming one of its harnesses; nothing left in
              the drill's process tree (the caller is child subreaper, so
              every orphan of the tree is reparented to it, as to init)
  zombies     none whose parent is the caller, a harness or a process of
              the run; from a shell (no reaper of the caller's), no new
              zombie named like a worker of the scenario left to init
  network     no qdisc with chaoslab's handle c1ab: on a host interface or
              on the lab's veth; no veth clab-NETNS, no link whose alias
              names the run; no namespace NETNS (ip netns, /run/netns) and no
              /etc/netns/NETNS that was not there before
  storage     no loop device backed by a file in the state directory, no
              mount under it (or on /run/netns/NETNS), no chaoslab-* cgroup
              named after the run in any hierarchy (v1 and v2)
  lab files   every file of STATE/lab that existed before holds the same
              bytes (lab service logs excepted); no new file but the ones
              the lab creates at its first start (with first=True), never a
              temporary file (*.tmp, *.tmp.PID, *.chaoslab-tmp) or a pidfile
              naming a process that is gone; the host's /etc/resolv.conf
              unchanged (bytes, mode, symbolic link target)
  journal     no STATE/journal, no live owner in STATE/lock
  resources   MemAvailable (free) and free disk space (df) back within a
              tolerance; the state directory (du) no larger than a few logs

Usable as a module (snapshot(), check()) or from a shell:
  audit.py snapshot STATE NETNS >before.json
  audit.py check before.json STATE NETNS [--run RUN]... [--harness PID]...
                 [--names a,b] [--first]
exits 0 when clean, 1 with one leftover per line on stdout.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup"
QDISC_HANDLE = "c1ab:"
HOST_RESOLV = "/etc/resolv.conf"
TEMP_RE = re.compile(r"(\.tmp(\.\d+)?|\.chaoslab-tmp)$|^\..*\.tmp$")
LOG_RE = re.compile(r"\.log$")

# Tolerances; the box is shared with other builds and drills.
MEM_TOLERANCE_MIB = int(os.environ.get("CHAOSLAB_AUDIT_MEM_MIB", "768"))
DISK_TOLERANCE_MIB = int(os.environ.get("CHAOSLAB_AUDIT_DISK_MIB", "256"))
DU_TOLERANCE_KIB = int(os.environ.get("CHAOSLAB_AUDIT_DU_KIB", "4096"))


# Pids of the tools this module runs, so they are not taken for leftovers.
tool_pids = set()


def run(args):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    tool_pids.add(p.pid)
    out, _ = p.communicate()
    tool_pids.discard(p.pid)
    return out


def host_if_of(netns):
    """The host end of the lab veth for a lab called netns (names of 10
    characters or fewer: clab-NAME, as lab/network.h plans it)."""
    return "clab-" + netns


def processes():
    """pid -> {ppid, stat, comm} from ps (without the ps itself)."""
    out = {}
    p = subprocess.Popen(["ps", "-eo", "pid=,ppid=,stat=,comm="], stdout=subprocess.PIPE,
                         text=True)
    text, _ = p.communicate()
    for line in text.splitlines():
        f = line.split(None, 3)
        if len(f) < 3 or int(f[0]) == p.pid:
            continue
        out[int(f[0])] = {"ppid": int(f[1]), "stat": f[2], "comm": f[3] if len(f) > 3 else ""}
    return out


def environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    env = {}
    for kv in data.split(b"\0"):
        if b"=" in kv:
            k, v = kv.split(b"=", 1)
            if k.startswith(b"CHAOSLAB_"):
                env[k.decode(errors="replace")] = v.decode(errors="replace")
    return env


def owned_pids():
    """pid -> owner tag of every live process carrying CHAOSLAB_OWNER."""
    out = {}
    for pid, p in processes().items():
        if p["stat"].startswith("Z"):
            continue
        tag = environ(pid).get("CHAOSLAB_OWNER")
        if tag:
            out[pid] = tag
    return out


def mem_available_mib():
    for line in run(["free", "-m"]).splitlines():
        if line.startswith("Mem:"):
            return int(line.split()[6])
    return 0


def df_avail_mib(path):
    lines = run(["df", "--output=avail", "-m", path]).split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else 0


def du_kib(path, exclude=None):
    if not os.path.isdir(path):
        return 0
    args = ["du", "-sk", "-x"]
    if exclude:
        args.append("--exclude=" + exclude)
    out = run(args + [path]).split()
    return int(out[0]) if out and out[0].isdigit() else 0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def lab_tree(state):
    """relpath -> sha256 of each regular file, "dir" for each directory,
    "mount" for a mount point (not entered), under STATE/lab."""
    top = os.path.join(state, "lab")
    out = {}
    if not os.path.isdir(top):
        return out
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        for d in list(dirs):
            p = os.path.join(root, d)
            key = os.path.normpath(os.path.join(rel, d))
            if os.path.ismount(p):
                out[key] = "mount"
                dirs.remove(d)
            else:
                out[key] = "dir"
        for f in files:
            p = os.path.join(root, f)
            key = os.path.normpath(os.path.join(rel, f))
            try:
                out[key] = sha256(p) if os.path.isfile(p) and not os.path.islink(p) else "other"
            except OSError:
                out[key] = "unreadable"
    return out


def file_state(path):
    """Bytes, mode and link target of a file, for exact comparison."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    d = {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid}
    if os.path.islink(path):
        d["link"] = os.readlink(path)
    try:
        d["sha256"] = sha256(path)
    except OSError:
        d["sha256"] = None
    return d


def etc_netns(netns):
    d = os.path.join("/etc/netns", netns)
    if not os.path.isdir(d):
        return None
    return {f: sha256(os.path.join(d, f)) for f in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, f))}


def cgroups():
    """Every chaoslab-* directory in the cgroup hierarchies (v1 and v2)."""
    out = []
    if not os.path.isdir(CGROUP_ROOT):
        return out
    for root, dirs, _ in os.walk(CGROUP_ROOT):
        depth = root[len(CGROUP_ROOT):].count("/")
        for d in dirs:
            if d.startswith("chaoslab-"):
                out.append(os.path.join(root, d))
        if depth >= 3:
            dirs[:] = []
    return sorted(out)


def sanitize(s):
    return re.sub(r"[^A-Za-z0-9._-]", "_", s)


def snapshot(state, netns):
    procs = processes()
    return {
        "lab": lab_tree(state),
        "etc_netns": etc_netns(netns),
        "host_resolv": file_state(HOST_RESOLV),
        "mem": mem_available_mib(),
        "disk": df_avail_mib(state if os.path.isdir(state) else os.path.dirname(state)),
        "du": du_kib(state),
        "zombies": sorted(p for p, v in procs.items() if v["stat"].startswith("Z")),
        "cgroups": cgroups(),
        "time": time.time(),
    }


def check(before, state, netns, runs=(), harnesses=(), names=(), first=False,
          engineer=False, tree_root=None, exclude=()):
    """Leftovers of the runs named in runs (run ids; may be empty when the
    harness died before it began its journal), as a list of lines.
    harnesses: pids of the killed or finished chaoslab processes. names:
    process names the scenario gives its workers. first: the lab may have
    created its files (the first run in this state directory). engineer:
    the run's reference fix (autopilot) may have changed lab files, which
    are then not compared with before (temporary files and pidfiles still
    count). tree_root:
    the pid that reaps the drill's orphans (default: this process);
    exclude: pids of it that are not the drill's."""
    left = []
    runs = [r for r in runs if r]
    harnesses = set(int(h) for h in harnesses)
    tree_root = os.getpid() if tree_root is None else tree_root
    procs = processes()
    ours = set()

    # -- processes --
    for pid, p in sorted(procs.items()):
        if pid == os.getpid() or pid in exclude or pid in tool_pids:
            continue
        env = environ(pid)
        tag = env.get("CHAOSLAB_OWNER", "")
        parent = env.get("CHAOSLAB_PARENT", "")
        zombie = p["stat"].startswith("Z")
        why = None
        if any(tag.startswith(r + ":") for r in runs):
            why = "carries CHAOSLAB_OWNER=" + tag
        elif parent.isdigit() and int(parent) in harnesses:
            why = "a worker of harness pid " + parent
        elif p["ppid"] == tree_root and not zombie:
            why = "left in the drill's process tree"
        if why:
            ours.add(pid)
            if not zombie:
                left.append("process %d (%s, %s) %s" % (pid, p["comm"], p["stat"], why))
    for pid, p in sorted(procs.items()):
        if not p["stat"].startswith("Z"):
            continue
        if p["ppid"] == tree_root or p["ppid"] in harnesses or p["ppid"] in ours:
            left.append("zombie %d (%s) under pid %d" % (pid, p["comm"], p["ppid"]))
        elif tree_root < 0 and p["ppid"] == 1 and pid not in before["zombies"] and \
                p["comm"] in names:
            # Without a reaper of our own the drill's orphans go to init.
            left.append("zombie %d (%s) reparented to pid %d" % (pid, p["comm"], p["ppid"]))

    # -- network --
    host_if = host_if_of(netns)
    try:
        qdiscs = json.loads(run(["tc", "-j", "qdisc", "show"]) or "[]")
    except ValueError:
        qdiscs = []
    for q in qdiscs:
        dev = q.get("dev", "")
        if q.get("handle", "").startswith(QDISC_HANDLE) and \
                (dev == host_if or not dev.startswith("clab-")):
            left.append("qdisc %s %s on %s" % (q.get("kind"), q.get("handle"), dev))
    try:
        links = json.loads(run(["ip", "-j", "-d", "link", "show"]) or "[]")
    except ValueError:
        links = []
    for link in links:
        alias = link.get("ifalias") or ""
        if link.get("ifname") == host_if or any(r in alias for r in runs):
            left.append("link %s (alias %r)" % (link.get("ifname"), alias))
    if netns in run(["ip", "netns", "list"]).split():
        left.append("network namespace %s (ip netns list)" % netns)
    if os.path.lexists(os.path.join("/run/netns", netns)):
        left.append("/run/netns/%s exists" % netns)
    en = etc_netns(netns)
    if en is not None and before["etc_netns"] is None:
        left.append("/etc/netns/%s left behind (%s)" % (netns, ", ".join(en) or "empty"))
    elif en != before["etc_netns"]:
        left.append("/etc/netns/%s changed: %s -> %s" % (netns, before["etc_netns"], en))

    # -- storage --
    real_state = os.path.realpath(state)
    try:
        loops = json.loads(run(["losetup", "--list", "--json", "-O", "NAME,BACK-FILE"]) or "{}")
    except ValueError:
        loops = {}
    for lo in loops.get("loopdevices", []):
        back = (lo.get("back-file") or "").replace(" (deleted)", "")
        if back.startswith(real_state + "/"):
            left.append("loop device %s backed by %s" % (lo.get("name"), back))
    for line in run(["findmnt", "-rn", "-o", "TARGET,SOURCE"]).splitlines():
        target = line.split(" ")[0].encode().decode("unicode_escape")
        if target.startswith(real_state + "/") or target == os.path.join("/run/netns", netns):
            left.append("mount %s" % line)
    for cg in cgroups():
        base = os.path.basename(cg)
        if any(sanitize(r) in base for r in runs):
            left.append("cgroup %s" % cg)

    # -- lab files --
    after = lab_tree(state)
    b = before["lab"]
    for rel, h in sorted(b.items()):
        if LOG_RE.search(rel) or rel.endswith(".pid") or h == "dir" or engineer:
            continue
        if rel not in after:
            left.append("lab file %s is gone" % rel)
        elif after[rel] != h:
            left.append("lab file %s changed (%s -> %s)" % (rel, h[:12], after[rel][:12]))
    for rel, h in sorted(after.items()):
        name = os.path.basename(rel)
        if h == "mount":
            left.append("mount point %s in STATE/lab" % rel)
        elif TEMP_RE.search(name):
            left.append("half-written temporary file STATE/lab/%s" % rel)
        elif rel.endswith(".pid"):
            try:
                pid = int(open(os.path.join(state, "lab", rel)).read().split()[0])
            except (OSError, ValueError, IndexError):
                pid = 0
            if pid <= 0 or not os.path.exists("/proc/%d" % pid):
                left.append("pidfile STATE/lab/%s names pid %d, which is gone" % (rel, pid))
            else:
                left.append("pidfile STATE/lab/%s names live pid %d" % (rel, pid))
        elif rel not in b and not first and not LOG_RE.search(rel):
            left.append("new %s STATE/lab/%s" % ("directory" if h == "dir" else "file", rel))
    if file_state(HOST_RESOLV) != before["host_resolv"]:
        left.append("the host's %s changed" % HOST_RESOLV)

    # -- journal and lock --
    if os.path.exists(os.path.join(state, "journal")):
        left.append("journal left in %s" % state)
    try:
        lock = json.load(open(os.path.join(state, "lock")))
        pid = lock.get("owner", {}).get("pid", 0)
        if pid and os.path.exists("/proc/%d" % pid) and pid not in harnesses:
            left.append("the run lock names live pid %d" % pid)
    except (OSError, ValueError, AttributeError):
        pass

    # -- resources (a few tries: memory is handed back asynchronously) --
    for tries in range(10):
        mem = mem_available_mib()
        disk = df_avail_mib(state)
        du = du_kib(state)
        res = []
        if before["mem"] - mem > MEM_TOLERANCE_MIB:
            res.append("MemAvailable %d MiB, %d MiB below before (tolerance %d)" %
                       (mem, before["mem"] - mem, MEM_TOLERANCE_MIB))
        if before["disk"] - disk > DISK_TOLERANCE_MIB:
            res.append("free disk %d MiB, %d MiB below before (tolerance %d)" %
                       (disk, before["disk"] - disk, DISK_TOLERANCE_MIB))
        if du - before["du"] > DU_TOLERANCE_KIB:
            res.append("state directory grew by %d KiB (tolerance %d)" %
                       (du - before["du"], DU_TOLERANCE_KIB))
        if not res:
            break
        time.sleep(0.5)
    left.extend(res)
    return left


def main(argv):
    if len(argv) >= 3 and argv[0] == "snapshot":
        json.dump(snapshot(argv[1], argv[2]), sys.stdout)
        return 0
    if len(argv) >= 4 and argv[0] == "check":
        before = json.load(open(argv[1]))
        runs, harnesses, names, first = [], [], [], False
        i = 4
        while i < len(argv):
            a = argv[i]
            if a == "--run" and i + 1 < len(argv):
                runs.append(argv[i + 1])
                i += 1
            elif a == "--harness" and i + 1 < len(argv):
                harnesses.append(int(argv[i + 1]))
                i += 1
            elif a == "--names" and i + 1 < len(argv):
                names.extend(n for n in argv[i + 1].split(",") if n)
                i += 1
            elif a == "--first":
                first = True
            else:
                print("audit.py: unknown argument %r" % a, file=sys.stderr)
                return 2
            i += 1
        # From a shell the tree is the calling shell's, which reaps nothing
        # of the drill's: only the ownership checks apply.
        left = check(before, argv[2], argv[3], runs, harnesses, names, first,
                     tree_root=-1)
        for line in left:
            print(line)
        return 1 if left else 0
    print(__doc__.split("\n\n")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
