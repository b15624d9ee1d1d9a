#!/usr/bin/env python3
"""A fake Kubernetes API server for chaoslab's tests.

No real API server can run where chaoslab's tests run, so the tests start this
one and point the real kubectl at it through a kubeconfig it writes. It speaks
plain HTTP on 127.0.0.1 and serves what kubectl needs for the commands the
drills and their solutions use: discovery (/version, /api, /apis, the group
versions), get/list/watch (label and field selectors, server-side Table
printing), create, update, delete (preconditions, propagation, finalizers),
the three patch types (JSON patch, JSON merge patch, strategic merge patch for
the built-in fields that use it), the scale and log subresources, and
SelfSubjectAccessReview for `kubectl auth can-i`.

Behind the API a small "cluster" runs, in one thread, the controllers whose
effects the drills observe, with the semantics of the real ones (simplified):

  deployment     ReplicaSets per pod-template hash, rolling update with
                 maxSurge/maxUnavailable, Recreate, revisions (rollout undo),
                 status and conditions as `kubectl rollout status` reads them
  replicaset     pods to match replicas, not-ready pods deleted first
  scheduler      nodeSelector, resource requests against allocatable, PVCs
                 (unbound immediate claims, WaitForFirstConsumer) ->
                 FailedScheduling events
  kubelet        containers run a model of their image: an executable that is
                 not in the image fails to start (StartError), a process may
                 exit, serve HTTP on its ports (probes get the status codes the
                 real program answers), or need more memory than its limit
                 (OOMKilled); restarts with CrashLoopBackOff back-off, unknown
                 images give ErrImagePull/ImagePullBackOff
  endpoints      Endpoints and EndpointSlices from the Service selector, pod
                 IPs and readiness
  persistentvolume  dynamic provisioning through the StorageClass, Bound /
                 Pending, ProvisioningFailed for a class that does not exist
  horizontal-pod-autoscaler  autoscaling/v2 status; missing CPU requests give
                 ScalingActive=False / FailedGetResourceMetric
  garbage collector  owner references, background deletion

Time can run faster than real time (--speed): back-off, probe periods, pulls
and sync periods are divided by it; timestamps stay wall-clock.

The JSON shapes follow the Kubernetes API reference. It is a test fixture:
one process, state in memory, no authentication (any token is accepted).

  fake_apiserver.py --kubeconfig FILE [--port N] [--speed X] [--seed kind]
                    [--deny VERB:RESOURCE[:NAMESPACE]]... [--log FILE]

It prints "ready PORT" on stdout once it listens. Extra endpoints for tests:
GET /_fake/state (every object), POST /_fake/deny (JSON list of
"verb:resource[:namespace]" rules, replacing the current ones).
"""

import argparse
import copy
import hashlib
import http.server
import json
import math
import os
import random
import re
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.2",
    "gitCommit": "67a30c0adcf52bd3f56ff0893ce19966be12991f",
    "gitTreeState": "clean",
    "buildDate": "2025-02-12T21:19:47Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

NODE_NAME = "chaoslab-control-plane"
SPEED = 1.0


def sim(seconds):
    """Cluster seconds to real seconds."""
    return seconds / SPEED


def now():
    return time.time()


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now() if t is None else t))


def micro(t=None):
    t = now() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def parse_time(s):
    if not s:
        return None
    try:
        base = s[:19]
        frac = 0.0
        m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", s)
        if m and m.group(1):
            frac = float(m.group(1))
        return time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - time.timezone + frac
    except ValueError:
        return None


def human_age(seconds):
    """kubectl's duration.HumanDuration."""
    s = int(max(seconds, 0))
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = m // 60
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        d = h // 24
        return "%dd%dh" % (d, h % 24) if h % 24 else "%dd" % d
    return "%dd" % (h // 24)


# The alphabet Kubernetes uses for generated name suffixes and template hashes.
ALNUM = "bcdfghjklmnpqrstvwxz2456789"


def rand_suffix(n=5):
    return "".join(random.choice(ALNUM) for _ in range(n))


def safe_hash(obj):
    """A pod-template hash the way the deployment controller makes one: the
    fnv-32a sum of the template, its decimal digits mapped through the safe
    alphabet (rand.SafeEncodeString)."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(ALNUM[ord(ch) % len(ALNUM)] for ch in "%d" % h)


def drop_nulls(v):
    """What decoding into the Go types and encoding again does to a client's
    object: null members are unset fields, and unset fields are omitted."""
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def deep_eq(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# ---- quantities -----------------------------------------------------------

SUFFIX = {
    "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4,
    "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3, "": 1, "n": 1e-9, "u": 1e-6,
}


def quantity(q):
    """A resource.Quantity as a number (cpu in cores, memory in bytes)."""
    if q is None:
        return None
    if isinstance(q, (int, float)):
        return float(q)
    m = re.match(r"^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|m|n|u|)$", str(q).strip())
    if not m:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    return float(m.group(1)) * SUFFIX[m.group(2)]


def stress_bytes(text):
    """stress's --vm-bytes: B, K, M, G suffixes (powers of 1024)."""
    m = re.match(r"^(\d+)([bBkKmMgG]?)$", text or "")
    if not m:
        return 256 * 1024 ** 2
    mult = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]
    return int(m.group(1)) * mult


# ---- the resource table --------------------------------------------------

class Res:
    def __init__(self, group, version, kind, plural, namespaced, short=(), verbs=None,
                 categories=(), singular=None, subresources=()):
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
        self.short = list(short)
        self.verbs = verbs or ["create", "delete", "deletecollection", "get", "list", "patch",
                               "update", "watch"]
        self.categories = list(categories)
        self.singular = singular or kind.lower()
        self.subresources = subresources

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def group_resource(self):
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural


RO = ["get", "list", "watch"]
RESOURCES = [
    Res("", "v1", "Namespace", "namespaces", False, ["ns"], subresources=(("status", "Namespace"),)),
    Res("", "v1", "Node", "nodes", False, ["no"], subresources=(("status", "Node"),)),
    Res("", "v1", "Pod", "pods", True, ["po"], categories=["all"],
        subresources=(("log", "Pod"), ("status", "Pod"), ("exec", "PodExecOptions"))),
    Res("", "v1", "Service", "services", True, ["svc"], categories=["all"],
        subresources=(("status", "Service"),)),
    Res("", "v1", "Endpoints", "endpoints", True, ["ep"], singular="endpoints"),
    Res("", "v1", "Event", "events", True, ["ev"]),
    Res("", "v1", "ConfigMap", "configmaps", True, ["cm"]),
    Res("", "v1", "Secret", "secrets", True),
    Res("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"]),
    Res("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ["pvc"],
        subresources=(("status", "PersistentVolumeClaim"),)),
    Res("", "v1", "PersistentVolume", "persistentvolumes", False, ["pv"],
        subresources=(("status", "PersistentVolume"),)),
    Res("apps", "v1", "Deployment", "deployments", True, ["deploy"], categories=["all"],
        subresources=(("scale", "Scale"), ("status", "Deployment"))),
    Res("apps", "v1", "ReplicaSet", "replicasets", True, ["rs"], categories=["all"],
        subresources=(("scale", "Scale"), ("status", "ReplicaSet"))),
    Res("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ["hpa"],
        categories=["all"], subresources=(("status", "HorizontalPodAutoscaler"),)),
    Res("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ["hpa"],
        categories=["all"], subresources=(("status", "HorizontalPodAutoscaler"),)),
    Res("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    Res("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ["sc"]),
    Res("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
        False, verbs=["create"]),
    Res("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=RO, singular=""),
    Res("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=RO, singular=""),
]

# Groups in the order discovery lists them, with their versions (preferred first).
GROUPS = []
for _r in RESOURCES:
    if _r.group and _r.group not in [g for g, _ in GROUPS]:
        GROUPS.append((_r.group, []))
    for _g, _vs in GROUPS:
        if _g == _r.group and _r.version not in _vs:
            _vs.append(_r.version)


def find_res(group, version, plural):
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def store_key(res):
    """Objects are stored once per group and resource, whatever the version."""
    return (res.group, res.plural)


# ---- errors ---------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            st["details"] = self.details
        return st


def not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res.group_resource, name),
                    {"name": name, "group": res.group, "kind": res.plural})


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res.group_resource, name),
                    {"name": name, "group": res.group, "kind": res.plural})


def conflict(res, name, why):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (res.group_resource, name, why),
                    {"name": name, "group": res.group, "kind": res.plural})


def invalid(kind, name, causes, group=""):
    """causes: [(field, message)]"""
    text = "; ".join("%s: %s" % c for c in causes)
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, text),
                    {"name": name, "group": group, "kind": kind,
                     "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f}
                                for f, m in causes]})


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


# ---- selectors -------------------------------------------------------------

def parse_label_selector(text):
    """A label selector string into [(key, op, values)]."""
    reqs = []
    if not text:
        return reqs
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$", p)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), m.group(2), vals))
        elif p.startswith("!"):
            reqs.append((p[1:].strip(), "!", []))
        elif "!=" in p:
            k, v = p.split("!=", 1)
            reqs.append((k.strip(), "!=", [v.strip()]))
        elif "==" in p:
            k, v = p.split("==", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif "=" in p:
            k, v = p.split("=", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        else:
            reqs.append((p, "exists", []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        has = k in labels
        v = labels.get(k)
        if op == "=" and (not has or v != vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


def selector_from_label_selector(sel):
    """A metav1.LabelSelector (matchLabels/matchExpressions) into requirements."""
    reqs = []
    if not sel:
        return None
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "=", [v]))
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(e.get("operator"))
        if op:
            reqs.append((e.get("key"), op, e.get("values") or []))
    return reqs


def selector_string(sel):
    if not sel:
        return "<none>"
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        parts.append("%s %s (%s)" % (e.get("key"), e.get("operator", "").lower(),
                                     ",".join(e.get("values") or [])))
    return ",".join(parts) if parts else "<none>"


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    if cur is None:
        return ""
    return str(cur) if not isinstance(cur, bool) else ("true" if cur else "false")


def parse_field_selector(text):
    reqs = []
    if not text:
        return reqs
    for p in text.split(","):
        p = p.strip()
        if not p:
            continue
        if "!=" in p:
            k, v = p.split("!=", 1)
            reqs.append((k.strip(), "!=", v.strip()))
        elif "==" in p:
            k, v = p.split("==", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif "=" in p:
            k, v = p.split("=", 1)
            reqs.append((k.strip(), "=", v.strip()))
        else:
            raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, p))
    return reqs


def fields_match(reqs, obj):
    for k, op, v in reqs:
        got = field_value(obj, k)
        if op == "=" and got != v:
            return False
        if op == "!=" and got == v:
            return False
    return True


# ---- patches ---------------------------------------------------------------

def ptr_unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def ptr_split(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError("JSON pointer must start with a slash: %s" % path)
    return [ptr_unescape(t) for t in path[1:].split("/")]


def ptr_parent(doc, toks, op, path):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise ValueError("%s operation does not apply: doc is missing path: \"%s\": "
                                 "missing value" % (op, path))
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise ValueError("%s operation does not apply: doc is missing path: \"%s\": "
                                 "missing value" % (op, path))
        else:
            raise ValueError("%s operation does not apply: doc is missing path: \"%s\": "
                             "missing value" % (op, path))
    return cur


def ptr_get(doc, path):
    cur = doc
    for t in ptr_split(path):
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise KeyError(path)
        else:
            raise KeyError(path)
    return cur


def json_patch(doc, ops):
    """RFC 6902."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for o in ops:
        op = o.get("op")
        path = o.get("path")
        if path is None:
            raise ValueError("Unexpected kind: %s" % op)
        toks = ptr_split(path)
        if op == "test":
            try:
                got = ptr_get(doc, path)
            except KeyError:
                raise ValueError("testing value %s failed: test failed" % path)
            if not deep_eq(got, o.get("value")):
                raise ValueError("testing value %s failed: test failed" % path)
            continue
        if op in ("move", "copy"):
            try:
                val = copy.deepcopy(ptr_get(doc, o.get("from", "")))
            except KeyError:
                raise ValueError("%s operation does not apply: doc is missing from path: %s"
                                 % (op, o.get("from")))
            if op == "move":
                doc = json_patch(doc, [{"op": "remove", "path": o["from"]}])
            doc = json_patch(doc, [{"op": "add", "path": path, "value": val}])
            continue
        if not toks:
            if op in ("add", "replace"):
                doc = copy.deepcopy(o.get("value"))
                continue
            raise ValueError("%s operation does not apply: root" % op)
        parent = ptr_parent(doc, toks, op, path)
        last = toks[-1]
        if op == "add":
            if isinstance(parent, dict):
                parent[last] = copy.deepcopy(o.get("value"))
            elif isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(o.get("value")))
                else:
                    i = int(last)
                    if i < 0 or i > len(parent):
                        raise ValueError("add operation does not apply: index out of bounds")
                    parent.insert(i, copy.deepcopy(o.get("value")))
            else:
                raise ValueError("add operation does not apply: doc is missing path: \"%s\": "
                                 "missing value" % path)
        elif op in ("remove", "replace"):
            if isinstance(parent, dict):
                if last not in parent:
                    raise ValueError("%s operation does not apply: doc is missing key: %s: "
                                     "missing value" % (op, path))
                if op == "remove":
                    del parent[last]
                else:
                    parent[last] = copy.deepcopy(o.get("value"))
            elif isinstance(parent, list):
                try:
                    i = int(last)
                    parent[i]
                except (ValueError, IndexError):
                    raise ValueError("%s operation does not apply: doc is missing key: %s: "
                                     "missing value" % (op, path))
                if op == "remove":
                    parent.pop(i)
                else:
                    parent[i] = copy.deepcopy(o.get("value"))
            else:
                raise ValueError("%s operation does not apply: doc is missing path: %s"
                                 % (op, path))
        else:
            raise ValueError("Unexpected kind: %s" % op)
    return doc


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def smp_list_info(path):
    """patchStrategy and patchMergeKey of the list at this field path (map keys
    only), as the built-in types declare them. ("replace", None) otherwise."""
    last = path[-1]
    in_container = any(p in ("containers", "initContainers", "ephemeralContainers") for p in path[:-1])
    if last in ("containers", "initContainers", "ephemeralContainers"):
        return "merge", "name"
    if last == "env" and in_container:
        return "merge", "name"
    if last == "volumeMounts" and in_container:
        return "merge", "mountPath"
    if last == "volumeDevices" and in_container:
        return "merge", "devicePath"
    if last == "ports" and in_container:
        return "merge", "containerPort"
    if last == "ports" and path[-2:] == ("spec", "ports") and len(path) == 2:
        return "merge", "port"
    if last in ("volumes", "imagePullSecrets") and path[-2] == "spec":
        return "merge", "name"
    if last == "finalizers" and path[-2] == "metadata":
        return "merge", None
    if last == "ownerReferences":
        return "merge", "uid"
    if last == "conditions":
        return "merge", "type"
    if last == "hostAliases":
        return "merge", "ip"
    if last == "topologySpreadConstraints":
        return "merge", "topologyKey"
    return "replace", None


def smp_strip(v):
    if isinstance(v, dict):
        return {k: smp_strip(x) for k, x in v.items()
                if not k.startswith("$") and x is not None}
    if isinstance(v, list):
        return [smp_strip(x) for x in v]
    return v


def smp_apply(orig, patch, path=()):
    """Strategic merge patch of a map: merges maps, merges lists that declare a
    merge key, and honours $patch (replace, delete, merge), $retainKeys,
    $setElementOrder/ and $deleteFromPrimitiveList/. Returns None when the map
    is deleted."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return smp_strip(patch)
    if directive == "delete":
        return None
    result = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    order = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            order[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in (v or [])]
            continue
        if v is None:
            result.pop(k, None)
            continue
        sub = path + (k,)
        if isinstance(v, dict):
            r = smp_apply(result.get(k), v, sub)
            if r is None:
                result.pop(k, None)
            else:
                result[k] = r
        elif isinstance(v, list):
            result[k] = smp_list(result.get(k), v, sub)
        else:
            result[k] = v
    for field, want in order.items():
        strategy, key = smp_list_info(path + (field,))
        if not isinstance(result.get(field), list) or strategy != "merge":
            continue
        if key is None:
            rank = {json.dumps(x): i for i, x in enumerate(want)}
            result[field].sort(key=lambda x: rank.get(json.dumps(x), len(rank)))
        else:
            rank = {w.get(key): i for i, w in enumerate(want) if isinstance(w, dict)}
            result[field].sort(key=lambda x: rank.get(x.get(key) if isinstance(x, dict) else None,
                                                      len(rank)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def smp_list(orig, patch, path):
    strategy, key = smp_list_info(path)
    replace_all = any(isinstance(x, dict) and x.get("$patch") == "replace" and len(x) == 1
                      for x in patch)
    items = [x for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace"
                                      and len(x) == 1)]
    if strategy != "merge" or replace_all or not isinstance(orig, list):
        return [smp_strip(x) for x in items
                if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    out = copy.deepcopy(orig)
    if key is None:
        for x in items:
            if x not in out:
                out.append(x)
        return out
    for item in items:
        if not isinstance(item, dict):
            continue
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(smp_strip(item))
        else:
            merged = smp_apply(out[idx], item, path)
            if merged is None:
                out.pop(idx)
            else:
                out[idx] = merged
    return out


# ---- defaulting and validation ----------------------------------------------

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def image_tag(image):
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return None
    return last.split(":", 1)[1] if ":" in last else "latest"


def default_probe(p):
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("scheme", "HTTP")
        p["httpGet"].setdefault("path", "/")


def default_container(c):
    img = c.get("image", "")
    c.setdefault("imagePullPolicy", "Always" if image_tag(img) == "latest" else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        default_probe(c.get(k))
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("fieldRef")
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        default_container(c)
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            v["configMap"].setdefault("defaultMode", 420)
        if "secret" in v:
            v["secret"].setdefault("defaultMode", 420)
        if "emptyDir" in v and v["emptyDir"] is None:
            v["emptyDir"] = {}


def default_pod(pod):
    spec = pod.setdefault("spec", {})
    default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tol = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tol):
            tol.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                        "tolerationSeconds": 300})
    # Pod defaulting copies limits into unset requests (pods only, not templates).
    for c in spec.get("containers") or []:
        res = c.setdefault("resources", {})
        for k, v in (res.get("limits") or {}).items():
            res.setdefault("requests", {}).setdefault(k, v)


def default_object(res, obj):
    kind = res.kind
    spec = obj.get("spec")
    if kind == "Pod":
        default_pod(obj)
    elif kind in ("Deployment", "ReplicaSet"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            st = spec.setdefault("strategy", {})
            st.setdefault("type", "RollingUpdate")
            if st["type"] == "RollingUpdate":
                ru = st.setdefault("rollingUpdate", {})
                ru.setdefault("maxSurge", "25%")
                ru.setdefault("maxUnavailable", "25%")
        else:
            spec.pop("revisionHistoryLimit", None)
        default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    elif kind == "PersistentVolumeClaim":
        spec = obj.setdefault("spec", {})
        spec.setdefault("volumeMode", "Filesystem")
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"].get("name")
    elif kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif kind == "HorizontalPodAutoscaler":
        spec = obj.setdefault("spec", {})
        spec.setdefault("minReplicas", 1)
        b = spec.setdefault("behavior", {})
        b.setdefault("scaleUp", {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                              {"type": "Percent", "value": 100, "periodSeconds": 15}],
                                 "selectPolicy": "Max", "stabilizationWindowSeconds": 0})
        b.setdefault("scaleDown", {"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                                   "selectPolicy": "Max", "stabilizationWindowSeconds": 300})
    elif kind == "ServiceAccount":
        pass
    return obj


def validate_resources(c, path, errs):
    res = c.get("resources") or {}
    for sect in ("requests", "limits"):
        for k, v in (res.get(sect) or {}).items():
            try:
                quantity(v)
            except ValueError as e:
                errs.append(("%s.resources.%s[%s]" % (path, sect, k), 'Invalid value: "%s": %s' % (v, e)))
    for k, v in (res.get("requests") or {}).items():
        lim = (res.get("limits") or {}).get(k)
        try:
            if lim is not None and quantity(v) > quantity(lim):
                errs.append(("%s.resources.requests" % path,
                             'Invalid value: "%s": must be less than or equal to %s limit of %s'
                             % (v, k, lim)))
        except ValueError:
            pass


def validate_pod_spec(spec, path, errs):
    cs = spec.get("containers")
    if not cs:
        errs.append(("%s.containers" % path, "Required value"))
        return
    names = set()
    for i, c in enumerate(cs):
        p = "%s.containers[%d]" % (path, i)
        if not c.get("name"):
            errs.append(("%s.name" % p, "Required value"))
        elif not DNS1123_LABEL.match(c["name"]):
            errs.append(("%s.name" % p, 'Invalid value: "%s": a lowercase RFC 1123 label must '
                         "consist of lower case alphanumeric characters or '-'" % c["name"]))
        elif c["name"] in names:
            errs.append(("%s.name" % p, 'Duplicate value: "%s"' % c["name"]))
        names.add(c.get("name"))
        if not c.get("image"):
            errs.append(("%s.image" % p, "Required value"))
        validate_resources(c, p, errs)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            pr = c.get(probe)
            if isinstance(pr, dict) and probe != "readinessProbe" and pr.get("successThreshold", 1) != 1:
                errs.append(("%s.%s.successThreshold" % (p, probe), "Invalid value: %s: must be 1"
                             % pr.get("successThreshold")))


def validate_object(res, obj, old=None):
    """Returns [] or a list of (field, message)."""
    errs = []
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    if not name:
        errs.append(("metadata.name", "Required value: name or generateName is required"))
    elif not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
        errs.append(("metadata.name", 'Invalid value: "%s": a lowercase RFC 1123 subdomain must '
                     "consist of lower case alphanumeric characters, '-' or '.', and must start "
                     "and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                     % name))
    for k, v in (meta.get("labels") or {}).items():
        if not isinstance(v, str) or len(v) > 63 or (v and not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", v)):
            errs.append(("metadata.labels", 'Invalid value: "%s": a valid label must be an empty '
                         "string or consist of alphanumeric characters, '-', '_' or '.', and must "
                         "start and end with an alphanumeric character" % v))
    kind = res.kind
    spec = obj.get("spec") or {}
    if kind == "Pod":
        validate_pod_spec(spec, "spec", errs)
    elif kind in ("Deployment", "ReplicaSet"):
        sel = spec.get("selector")
        tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            errs.append(("spec.selector", "Required value"))
        elif not labels_match(selector_from_label_selector(sel), tmpl_labels):
            errs.append(("spec.template.metadata.labels",
                         "Invalid value: %s: `selector` does not match template `labels`"
                         % json.dumps(tmpl_labels, sort_keys=True)))
        if old is not None and not deep_eq(old.get("spec", {}).get("selector"), sel):
            errs.append(("spec.selector", "Invalid value: %s: field is immutable"
                         % json.dumps(sel, sort_keys=True)))
        if spec.get("replicas", 0) < 0:
            errs.append(("spec.replicas", "Invalid value: %d: must be greater than or equal to 0"
                         % spec["replicas"]))
        validate_pod_spec((spec.get("template") or {}).get("spec") or {}, "spec.template.spec", errs)
    elif kind == "Service":
        for i, p in enumerate(spec.get("ports") or []):
            if not isinstance(p.get("port"), int):
                errs.append(("spec.ports[%d].port" % i, "Required value"))
        if old is not None:
            oip = (old.get("spec") or {}).get("clusterIP")
            if spec.get("clusterIP") not in (None, "", oip):
                errs.append(("spec.clusterIPs[0]", 'Invalid value: []string{"%s"}: may not change '
                             "once set" % spec.get("clusterIP")))
    elif kind == "PersistentVolumeClaim":
        if not spec.get("accessModes"):
            errs.append(("spec.accessModes", "Required value: at least 1 access mode is required"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            errs.append(("spec.resources[storage]", "Required value"))
        if old is not None:
            a = copy.deepcopy(old.get("spec") or {})
            b = copy.deepcopy(spec)
            for x in (a, b):
                x.pop("resources", None)
                x.pop("volumeName", None) if not (old.get("spec") or {}).get("volumeName") else None
            if not deep_eq(a, b):
                errs.append(("spec", "Forbidden: spec is immutable after creation except "
                             "resources.requests and volumeAttributesClassName for bound claims"))
    elif kind == "HorizontalPodAutoscaler":
        if not spec.get("scaleTargetRef"):
            errs.append(("spec.scaleTargetRef", "Required value"))
        if spec.get("maxReplicas", 0) < spec.get("minReplicas", 1):
            errs.append(("spec.maxReplicas", "Invalid value: %s: must be greater than or equal "
                         "to `minReplicas`" % spec.get("maxReplicas")))
    return errs


GENERATION_KINDS = ("Deployment", "ReplicaSet", "HorizontalPodAutoscaler")


def spec_part(obj):
    """What bumps metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


# ---- HPA v1 <-> v2 ------------------------------------------------------------

def hpa_v2_to_v1(o):
    o = copy.deepcopy(o)
    o["apiVersion"] = "autoscaling/v1"
    spec = o.get("spec", {})
    for m in spec.pop("metrics", None) or []:
        t = ((m.get("resource") or {}).get("target") or {})
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu" \
                and "averageUtilization" in t:
            spec["targetCPUUtilizationPercentage"] = t["averageUtilization"]
    spec.pop("behavior", None)
    st = o.get("status", {})
    for m in st.pop("currentMetrics", None) or []:
        cur = ((m or {}).get("resource") or {}).get("current") or {}
        if "averageUtilization" in cur:
            st["currentCPUUtilizationPercentage"] = cur["averageUtilization"]
    st.pop("conditions", None)
    return o


def hpa_v1_to_v2(o):
    o = copy.deepcopy(o)
    o["apiVersion"] = "autoscaling/v2"
    spec = o.setdefault("spec", {})
    pct = spec.pop("targetCPUUtilizationPercentage", None)
    if pct is not None:
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": pct}}}]
    o.pop("status", None)
    return o


# ---- the container runtime model ------------------------------------------------
#
# A container runs a model of its image: the files it has (so an executable
# that is not there fails to start the way runc reports it), and what the
# program does with its arguments: serve HTTP on ports (probes get the status
# the real program answers), exit, or allocate memory.

PATH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
BUSYBOX = ["/bin/" + x for x in ("sh", "ash", "sleep", "echo", "cat", "true", "false", "ls",
                                 "wget", "nslookup", "env", "ps", "kill", "busybox")]

IMAGES = {
    "registry.k8s.io/e2e-test-images/agnhost": {
        "tags": ["2.39", "2.40", "2.43", "2.45", "2.47", "2.48", "2.50", "2.51", "2.52", "2.53"],
        "entrypoint": ["/agnhost"], "cmd": [], "size": 56234511,
        "files": ["/agnhost"] + BUSYBOX,
    },
    "docker.io/library/nginx": {
        "tags": ["1.25", "1.25-alpine", "1.26", "1.26-alpine", "1.27", "1.27-alpine", "1.27.3",
                 "1.27.3-alpine", "1.27.4-alpine", "alpine", "stable", "stable-alpine", "latest"],
        "entrypoint": ["/docker-entrypoint.sh"], "cmd": ["nginx", "-g", "daemon off;"],
        "size": 20499383,
        "files": ["/docker-entrypoint.sh", "/usr/sbin/nginx", "/usr/bin/curl"] + BUSYBOX,
    },
    "docker.io/library/busybox": {
        "tags": ["1.36", "1.36.1", "1.37", "1.37.0", "stable", "latest"],
        "entrypoint": [], "cmd": ["sh"], "size": 2166802, "files": BUSYBOX,
    },
    "docker.io/polinux/stress": {
        "tags": ["1.0.4", "latest"], "entrypoint": [], "cmd": ["stress", "--help"],
        "size": 4041201, "files": ["/usr/local/bin/stress"] + BUSYBOX,
    },
    "registry.k8s.io/coredns/coredns": {
        "tags": ["v1.11.1", "v1.11.3", "v1.12.0"], "entrypoint": ["/coredns"], "cmd": [],
        "size": 18562039, "files": ["/coredns"],
    },
}

AGNHOST_COMMANDS = ["audit-proxy", "connect", "crd-conversion-webhook", "dns-server-list",
                    "dns-suffix", "entrypoint-tester", "etc-hosts", "fake-gitserver", "guestbook",
                    "inclusterclient", "liveness", "logs-generator", "mounttest", "net", "netexec",
                    "nettest", "no-snat-test", "no-snat-test-proxy", "pause", "porter",
                    "port-forward-tester", "resource-consumer-controller", "serve-hostname",
                    "test-webserver", "webhook"]


def normalize_image(image):
    """'nginx:1.27' -> ('docker.io/library/nginx', '1.27')."""
    ref = image
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = "latest"
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        ref = "docker.io/library/" + ref
    elif "." not in first and ":" not in first and first != "localhost":
        ref = "docker.io/" + ref
    return ref, (digest or tag)


def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def go_log_time(t=None):
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(now() if t is None else t))


class Proc:
    """What one run of a container does."""

    def __init__(self):
        self.start_error = None   # message: the container never starts
        self.exit_after = None    # cluster seconds after start, None = runs on
        self.exit_code = 0
        self.exit_logs = []
        self.logs = []
        self.http = {}            # port -> handler(path) -> (status, access-log bytes)
        self.tcp = set()
        self.mem = 4 << 20
        self.cpu_m = 1
        self.term_code = 137
        self.server = ""


def flag_value(args, name, default=None):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def model_process(image, container):
    """A Proc for container (its image already resolved and pulled)."""
    repo, _tag = normalize_image(image)
    im = IMAGES[repo]
    command, args = container.get("command"), container.get("args")
    if command:
        argv = list(command) + list(args or [])
    else:
        argv = list(im["entrypoint"]) + list(args if args is not None else im["cmd"])
    p = Proc()
    if not argv:
        p.start_error = ("failed to create containerd task: failed to create shim task: OCI "
                         "runtime create failed: runc create failed: unable to start container "
                         "process: error during container init: no command specified: unknown")
        return p
    exe = argv[0]
    files = im["files"]
    path = None
    if "/" in exe:
        if exe in files:
            path = exe
    else:
        for d in PATH_DIRS:
            if d + "/" + exe in files:
                path = d + "/" + exe
                break
    if path is None:
        why = ('stat %s: no such file or directory' % exe) if "/" in exe else \
            "executable file not found in $PATH"
        p.start_error = ("failed to create containerd task: failed to create shim task: OCI "
                         "runtime create failed: runc create failed: unable to start container "
                         'process: error during container init: exec: "%s": %s: unknown' % (exe, why))
        return p
    base = path.rsplit("/", 1)[-1]
    rest = argv[1:]
    if base == "docker-entrypoint.sh":
        p.logs += ["/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to "
                   "perform configuration",
                   "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
                   "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
                   "/docker-entrypoint.sh: Configuration complete; ready for start up"]
        if not rest:
            p.exit_after = 0
            return p
        base = rest[0].rsplit("/", 1)[-1]
        rest = rest[1:]
    if base == "nginx":
        t = go_log_time()
        p.logs += ['%s [notice] 1#1: using the "epoll" event method' % t,
                   "%s [notice] 1#1: nginx/1.27.3" % t,
                   "%s [notice] 1#1: start worker processes" % t]
        p.server = "nginx"

        def nginx(path_):
            return (200, 615) if path_ in ("/", "/index.html", "/50x.html") else (404, 153)
        p.http[80] = nginx
        p.tcp.add(80)
        p.mem, p.cpu_m, p.term_code = 5 << 20, 0, 0
    elif base == "agnhost":
        sub = rest[0] if rest else ""
        if not sub or sub.startswith("-"):
            p.logs += ["Usage:", "  app [command]", "", "Use \"app [command] --help\" for more "
                       "information about a command."]
            p.exit_after = 0.1
            return p
        if sub not in AGNHOST_COMMANDS:
            close = [c for c in AGNHOST_COMMANDS if levenshtein(c, sub) <= 2]
            p.logs.append('Error: unknown command "%s" for "app"' % sub)
            if close:
                p.logs += ["", "Did you mean this?"] + ["\t" + c for c in close]
            p.logs += ["", "Run 'app --help' for usage."]
            # agnhost ignores the error cobra returns: the exit status is 0.
            p.exit_after, p.exit_code = 0.1, 0
            return p
        known = {"netexec": ["--http-port", "--udp-port", "--sctp-port", "--tls-cert-file",
                             "--tls-private-key-file", "--http-override", "--udp-listen-addresses"],
                 "serve-hostname": ["--port", "--tcp", "--udp", "--http", "--close"],
                 "pause": []}.get(sub)
        for a in rest[1:]:
            if known is not None and a.startswith("--") and a.split("=", 1)[0] not in known \
                    and not a.startswith("--v") and not a.startswith("--logtostderr"):
                p.logs += ["Error: unknown flag: %s" % a.split("=", 1)[0],
                           "Usage:", "  app %s [flags]" % sub]
                p.exit_after, p.exit_code = 0.1, 0
                return p
        if sub == "netexec":
            try:
                hp = int(flag_value(rest, "--http-port", "8080"))
                up = int(flag_value(rest, "--udp-port", "8081"))
            except ValueError:
                p.logs.append('Error: invalid argument for "--http-port" flag')
                p.exit_after = 0.1
                return p
            t = go_log_time()
            p.logs.append("%s Started HTTP server on port %d" % (t, hp))
            if up != -1:
                p.logs.append("%s Started UDP server on port  %d" % (t, up))

            def netexec(path_, udp=up):
                if path_ == "/healthz":
                    return (200 if udp != -1 else 412), 0
                return 200, 40
            p.http[hp] = netexec
            p.tcp.add(hp)
            p.server = "netexec"
            p.mem, p.cpu_m, p.term_code = 9 << 20, 1, 2
        elif sub == "serve-hostname":
            port = int(flag_value(rest, "--port", "9376"))
            p.http[port] = lambda path_: (200, 20)
            p.tcp.add(port)
            p.mem, p.cpu_m, p.term_code = 6 << 20, 0, 2
        elif sub == "pause":
            p.logs.append("Paused")
            p.mem, p.cpu_m, p.term_code = 1 << 20, 0, 0
        else:
            p.mem, p.cpu_m = 8 << 20, 1
    elif base == "stress":
        vm = int(flag_value(rest, "--vm", flag_value(rest, "-m", "0")) or 0)
        cpu = int(flag_value(rest, "--cpu", flag_value(rest, "-c", "0")) or 0)
        vmb = stress_bytes(flag_value(rest, "--vm-bytes", "256M"))
        timeout = flag_value(rest, "--timeout", flag_value(rest, "-t"))
        if "--help" in rest or (not vm and not cpu):
            p.logs += ["`stress' imposes certain types of compute stress on your system", "",
                       "Usage: stress [OPTION [ARG]] ..."]
            p.exit_after, p.exit_code = 0.1, 1 if "--help" not in rest else 0
            return p
        p.logs.append("stress: info: [1] dispatching hogs: %d cpu, 0 io, %d vm, 0 hdd" % (cpu, vm))
        p.mem = vm * vmb + (1 << 20)
        # A vm hog with --vm-hang 0 allocates once and then sleeps for ever.
        hang = flag_value(rest, "--vm-hang")
        p.cpu_m = 1000 * cpu + (0 if hang == "0" else 1000 * vm)
        if timeout:
            secs = int(re.sub(r"[^0-9]", "", timeout) or "0")
            p.exit_after = secs
            p.exit_logs.append("stress: info: [1] successful run completed in %ds" % secs)
        p.term_code = 143
    elif base == "coredns":
        p.logs += [".:53", "[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc4"
                   "90481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f5"
                   "2594972691cd6ff41be96639138a43908", "CoreDNS-1.11.3",
                   "linux/amd64, go1.21.11, a6338e9"]
        for port, handler in ((8080, lambda path_: (200 if path_ == "/health" else 404, 2)),
                              (8181, lambda path_: (200 if path_ == "/ready" else 404, 2)),
                              (9153, lambda path_: (200 if path_ == "/metrics" else 404, 2))):
            p.http[port] = handler
            p.tcp.add(port)
        p.tcp.add(53)
        p.mem, p.cpu_m, p.term_code = 15 << 20, 2, 0
    elif base in ("sh", "ash", "bash"):
        script = flag_value(rest, "-c", "")
        m = re.search(r"\bexit\s+(\d+)", script or "")
        s = re.search(r"\bsleep\s+(\d+|infinity)", script or "")
        for e in re.findall(r"\becho\s+\"?([^\";&|]*)", script or ""):
            p.logs.append(e.strip())
        if s and s.group(1) != "infinity":
            p.exit_after = int(s.group(1))
        elif not s:
            p.exit_after = 0.1
        if m:
            p.exit_code = int(m.group(1))
        p.mem, p.cpu_m = 1 << 20, 0
    elif base == "sleep":
        arg = rest[0] if rest else ""
        if arg != "infinity":
            try:
                p.exit_after = float(arg)
            except ValueError:
                p.logs.append("sleep: invalid number '%s'" % arg)
                p.exit_after, p.exit_code = 0.1, 1
        p.mem, p.cpu_m, p.term_code = 256 << 10, 0, 143
    elif base in ("true", "false"):
        p.exit_after, p.exit_code = 0.05, (0 if base == "true" else 1)
    else:
        p.mem, p.cpu_m = 2 << 20, 0
    return p


def duration_text(secs):
    """Go's time.Duration String() for whole seconds: 10s, 1m20s, 5m0s."""
    secs = int(secs)
    if secs < 60:
        return "%ds" % secs
    return "%dm%ds" % (secs // 60, secs % 60)


# ---- the cluster: store, API operations, controllers ------------------------------

def R(kind):
    """The stored (preferred) resource of a kind."""
    return {"Namespace": RESOURCES[0], "Node": RESOURCES[1], "Pod": RESOURCES[2],
            "Service": RESOURCES[3], "Endpoints": RESOURCES[4], "Event": RESOURCES[5],
            "ConfigMap": RESOURCES[6], "Secret": RESOURCES[7], "ServiceAccount": RESOURCES[8],
            "PersistentVolumeClaim": RESOURCES[9], "PersistentVolume": RESOURCES[10],
            "Deployment": RESOURCES[11], "ReplicaSet": RESOURCES[12],
            "HorizontalPodAutoscaler": RESOURCES[13], "EndpointSlice": RESOURCES[15],
            "StorageClass": RESOURCES[16]}[kind]


def meta(o):
    return o.setdefault("metadata", {})


def owner_ref(o, controller=True):
    return {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def controller_uid(o):
    for r in o["metadata"].get("ownerReferences") or []:
        if r.get("controller"):
            return r.get("uid")
    return None


def pod_ready(p):
    for c in (p.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pod_active(p):
    return not p["metadata"].get("deletionTimestamp") and \
        (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def resolve_int_or_percent(v, total, round_up):
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.endswith("%"):
        x = total * int(v[:-1]) / 100.0
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def pod_requests(pod):
    cpu = mem = 0.0
    for c in pod["spec"].get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity(req.get("cpu")) or 0
        mem += quantity(req.get("memory")) or 0
    return cpu, mem


def qos_class(spec):
    any_set = False
    guaranteed = True
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for k in ("cpu", "memory"):
            if k not in lim or (k in req and quantity(req[k]) != quantity(lim[k])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Cluster:
    def __init__(self, deny=None):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 100
        self.objs = {}
        self.log = []
        self.log_floor = 0
        self.deny = list(deny or [])
        self.rt = {}
        self.images_present = set()
        self.next_ip = 1
        self.next_svc_ip = 10
        self.events_by_key = {}
        self.sched_next = {}
        self.pv_next = {}
        self.hpa_next = {}
        self.hpa_low = {}
        self.progress = {}
        self.slice_names = {}
        self.stopped = False

    # ---- the store --------------------------------------------------------

    def _table(self, res):
        return self.objs.setdefault(store_key(res), {})

    def _put(self, res, obj, etype=None):
        m = obj["metadata"]
        key = (m.get("namespace", ""), m["name"])
        table = self._table(res)
        if etype is None:
            etype = "MODIFIED" if key in table else "ADDED"
        self.rv += 1
        m["resourceVersion"] = str(self.rv)
        table[key] = obj
        self.log.append((self.rv, store_key(res), etype, obj))
        if len(self.log) > 20000:
            self.log_floor = self.log[4999][0]
            del self.log[:5000]
        self.cond.notify_all()
        return obj

    def _remove(self, res, obj):
        m = obj["metadata"]
        table = self._table(res)
        key = (m.get("namespace", ""), m["name"])
        if key not in table:
            return
        del table[key]
        gone = copy.deepcopy(obj)
        self.rv += 1
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, store_key(res), "DELETED", gone))
        self.cond.notify_all()
        if res.kind == "Pod":
            self.rt.pop(m.get("uid"), None)

    def _get(self, res, ns, name):
        return self._table(res).get((ns or "" if res.namespaced else "", name))

    def _list(self, res, ns=None):
        items = [o for (n, _), o in self._table(res).items() if ns is None or n == ns]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items

    # ---- events -----------------------------------------------------------

    def event(self, obj, etype, reason, message, component, fieldpath=None, host=True):
        m = obj["metadata"]
        ns = m.get("namespace") or "default"
        key = (m.get("uid"), reason, message, component, fieldpath)
        t = now()
        name = self.events_by_key.get(key)
        ev = self._get(R("Event"), ns, name) if name else None
        if ev is not None:
            ev = copy.deepcopy(ev)
            ev["count"] = ev.get("count", 1) + 1
            ev["lastTimestamp"] = rfc3339(t)
            self._put(R("Event"), ev)
            return
        name = "%s.%x" % (m["name"], int(t * 1e9) + random.randint(0, 999))
        inv = {"kind": obj.get("kind"), "namespace": m.get("namespace"), "name": m["name"],
               "uid": m.get("uid"), "apiVersion": obj.get("apiVersion"),
               "resourceVersion": m.get("resourceVersion")}
        if not m.get("namespace"):
            del inv["namespace"]
        if fieldpath:
            inv["fieldPath"] = fieldpath
        src = {"component": component}
        if host and component == "kubelet":
            src["host"] = NODE_NAME
        ev = {"kind": "Event", "apiVersion": "v1",
              "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()),
                           "creationTimestamp": rfc3339(t)},
              "involvedObject": inv, "reason": reason, "message": message, "source": src,
              "firstTimestamp": rfc3339(t), "lastTimestamp": rfc3339(t), "count": 1,
              "type": etype, "eventTime": None, "reportingComponent": component,
              "reportingInstance": NODE_NAME if component == "kubelet" else ""}
        self._put(R("Event"), ev, "ADDED")
        self.events_by_key[key] = name

    # ---- API operations (called with the lock held) -------------------------

    def check_ns(self, res, ns, creating=False):
        if not res.namespaced:
            return
        n = self._get(R("Namespace"), "", ns)
        if n is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if creating and n["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", "%s \"%s\" is forbidden: unable to create new content "
                           "in namespace %s because it is being terminated" % (res.plural, "", ns))

    def api_get(self, res, ns, name):
        o = self._get(res, ns, name)
        if o is None:
            raise not_found(res, name)
        return o

    def api_list(self, res, ns, lsel, fsel):
        lreq = parse_label_selector(lsel)
        freq = parse_field_selector(fsel)
        return [o for o in self._list(res, ns)
                if labels_match(lreq, o["metadata"].get("labels")) and fields_match(freq, o)]

    def admit(self, res, obj, old=None):
        """Admission and defaulting on create (old None) and update."""
        kind = res.kind
        m = obj["metadata"]
        if kind == "PersistentVolumeClaim" and old is None:
            spec = obj.setdefault("spec", {})
            if "storageClassName" not in spec or spec["storageClassName"] is None:
                for sc in self._list(R("StorageClass")):
                    if (sc["metadata"].get("annotations") or {}).get(
                            "storageclass.kubernetes.io/is-default-class") == "true":
                        spec["storageClassName"] = sc["metadata"]["name"]
            fin = m.setdefault("finalizers", [])
            if "kubernetes.io/pvc-protection" not in fin:
                fin.append("kubernetes.io/pvc-protection")
            obj["status"] = {"phase": "Pending"}
        if kind == "PersistentVolume" and old is None:
            fin = m.setdefault("finalizers", [])
            if "kubernetes.io/pv-protection" not in fin:
                fin.append("kubernetes.io/pv-protection")
        if kind == "Service":
            spec = obj.setdefault("spec", {})
            if old is not None:
                spec.setdefault("clusterIP", old["spec"].get("clusterIP"))
                spec.setdefault("clusterIPs", old["spec"].get("clusterIPs"))
                if spec.get("clusterIP") == "":
                    spec["clusterIP"] = old["spec"].get("clusterIP")
            elif spec.get("clusterIP") in (None, ""):
                self.next_svc_ip += 1
                ip = "10.96.%d.%d" % (self.next_svc_ip // 250, self.next_svc_ip % 250 + 1)
                spec["clusterIP"] = ip
            if not spec.get("clusterIPs") or spec["clusterIPs"][0] != spec["clusterIP"]:
                spec["clusterIPs"] = [spec["clusterIP"]]
            if spec.get("type") == "NodePort":
                for i, p in enumerate(spec.get("ports") or []):
                    p.setdefault("nodePort", 30000 + (abs(hash((m["name"], i))) % 2767))
            if old is None:
                obj["status"] = {"loadBalancer": {}}
        if kind == "Pod" and old is None:
            obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
        if kind == "Namespace" and old is None:
            obj["status"] = {"phase": "Active"}

    def api_create(self, res, ns, body, dry=False):
        if not isinstance(body, dict):
            raise bad_request("Object 'Kind' is missing in the body")
        obj = {k: (drop_nulls(v) if k != "status" else copy.deepcopy(v)) for k, v in body.items()}
        if res.kind == "HorizontalPodAutoscaler" and res.version == "v1":
            obj = hpa_v1_to_v2(obj)
            res = R("HorizontalPodAutoscaler")
        if obj.get("kind") and obj["kind"] != res.kind:
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (obj.get("apiVersion"), res.api_version))
        obj["kind"] = res.kind
        obj["apiVersion"] = res.api_version
        m = meta(obj)
        if res.namespaced:
            if m.get("namespace") and m["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            m["namespace"] = ns
            self.check_ns(res, ns, creating=True)
        else:
            m.pop("namespace", None)
        if not m.get("name") and m.get("generateName"):
            m["name"] = m["generateName"] + rand_suffix()
        if self._get(res, ns, m.get("name", "")) is not None:
            raise already_exists(res, m["name"])
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "managedFields", "selfLink"):
            m.pop(k, None)
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = rfc3339()
        if res.kind in GENERATION_KINDS:
            m["generation"] = 1
        if res.kind not in ("Event",):
            obj.pop("status", None)
        default_object(res, obj)
        self.admit(res, obj)
        errs = validate_object(res, obj)
        if errs:
            raise invalid(res.kind, m.get("name", ""), errs, res.group)
        if dry:
            return obj
        return self._put(res, obj, "ADDED")

    def _commit_update(self, res, old, new, dry=False):
        new = {k: (drop_nulls(v) if k != "status" else v) for k, v in new.items()}
        meta(new)
        m, om = new["metadata"], old["metadata"]
        for k in ("uid", "creationTimestamp", "namespace", "deletionTimestamp",
                  "deletionGracePeriodSeconds"):
            if k in om:
                m[k] = om[k]
            else:
                m.pop(k, None)
        m.pop("managedFields", None)
        new["kind"], new["apiVersion"] = old["kind"], old["apiVersion"]
        default_object(res, new)
        self.admit(res, new, old)
        errs = validate_object(res, new, old)
        if errs:
            raise invalid(res.kind, m.get("name", ""), errs, res.group)
        if res.kind in GENERATION_KINDS:
            gen = om.get("generation", 1)
            m["generation"] = gen + 1 if not deep_eq(spec_part(old), spec_part(new)) else gen
        m["resourceVersion"] = om.get("resourceVersion")
        if deep_eq(old, new):
            return old
        if dry:
            return new
        if m.get("deletionTimestamp") and not m.get("finalizers") and res.kind != "Pod":
            self._remove(res, new)
            return new
        return self._put(res, new, "MODIFIED")

    def api_update(self, res, ns, name, body, sub=None, dry=False):
        old = self.api_get(res, ns, name)
        if not isinstance(body, dict):
            raise bad_request("Object 'Kind' is missing in the body")
        if sub == "scale":
            return self.scale_update(res, old, body, dry)
        new = copy.deepcopy(body)
        if res.kind == "HorizontalPodAutoscaler" and res.version == "v1":
            new = hpa_v1_to_v2(new)
            res = R("HorizontalPodAutoscaler")
        bm = meta(new)
        if bm.get("name") and bm["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (bm["name"], name))
        bm["name"] = name
        rv = bm.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res, name, "the object has been modified; please apply your changes "
                           "to the latest version and try again")
        if sub == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status", {})
            new = merged
        elif res.kind not in ("Event", "ConfigMap", "Secret", "Namespace", "ServiceAccount",
                              "StorageClass"):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        return self._commit_update(res, old, new, dry)

    def scale_object(self, res, obj):
        sel = obj["spec"].get("selector")
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": obj["metadata"]["name"],
                             "namespace": obj["metadata"]["namespace"],
                             "uid": obj["metadata"]["uid"],
                             "resourceVersion": obj["metadata"]["resourceVersion"],
                             "creationTimestamp": obj["metadata"]["creationTimestamp"]},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join("%s=%s" % kv for kv in sorted(
                               ((sel or {}).get("matchLabels") or {}).items()))}}

    def scale_update(self, res, old, scale, dry):
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res, old["metadata"]["name"], "the object has been modified; please "
                           "apply your changes to the latest version and try again")
        # autoscaling/v1 ScaleSpec omits replicas when it is 0.
        n = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(n, int) or n < 0:
            raise invalid("Scale", old["metadata"]["name"],
                          [("spec.replicas", "Invalid value: %s: must be greater than or equal "
                            "to 0" % n)], "autoscaling")
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = n
        out = self._commit_update(res, old, new, dry)
        return self.scale_object(res, out)

    def api_patch(self, res, ns, name, ctype, raw, sub=None, dry=False):
        old = self.api_get(res, ns, name)
        try:
            patch = json.loads(raw.decode() or "null")
        except ValueError as e:
            raise bad_request("error decoding patch: %s" % e)
        ctype = (ctype or "").split(";")[0].strip()
        v1 = res.kind == "HorizontalPodAutoscaler" and res.version == "v1"
        if sub == "scale":
            base = self.scale_object(res, old)
        elif v1:
            base = hpa_v2_to_v1(old)
        elif sub == "status":
            base = old
        else:
            base = old
        try:
            if ctype == "application/json-patch+json":
                new = json_patch(base, patch)
            elif ctype == "application/merge-patch+json":
                new = merge_patch(base, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if not isinstance(patch, dict):
                    raise bad_request("error decoding patch: json: cannot unmarshal into a map")
                new = smp_apply(base, patch)
            elif ctype == "application/apply-patch+yaml":
                raise ApiError(415, "UnsupportedMediaType", "server-side apply is not "
                               "implemented by this test API server")
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                               "unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml, "
                               "application/strategic-merge-patch+json")
        except ValueError as e:
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in "
                           "our request", {"causes": [{"reason": "UnexpectedServerResponse",
                                                       "message": str(e)}]})
        if not isinstance(new, dict):
            raise bad_request("the patch did not produce an object")
        if sub == "scale":
            return self.scale_update(res, old, new, dry)
        if v1:
            new = hpa_v1_to_v2(new)
            new["status"] = copy.deepcopy(old.get("status", {}))
            res = R("HorizontalPodAutoscaler")
        meta(new)["name"] = name
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res, name, "the object has been modified; please apply your changes "
                           "to the latest version and try again")
        if sub != "status" and res.kind not in ("Event", "ConfigMap", "Secret", "Namespace",
                                                "ServiceAccount", "StorageClass"):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        return self._commit_update(res, old, new, dry)

    def api_delete(self, res, ns, name, opts, dry=False):
        old = self.api_get(res, ns, name)
        opts = opts or {}
        pre = opts.get("preconditions") or {}
        m = old["metadata"]
        if pre.get("uid") and pre["uid"] != m.get("uid"):
            raise conflict(res, name, "Precondition failed: UID in precondition: %s, UID in "
                           "object meta: %s" % (pre["uid"], m.get("uid")))
        if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
            raise conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, "
                           "ResourceVersion in object meta: %s"
                           % (pre["resourceVersion"], m.get("resourceVersion")))
        if dry:
            return old
        policy = opts.get("propagationPolicy") or ("Orphan" if opts.get("orphanDependents")
                                                   else "Background")
        if policy == "Orphan":
            for r in RESOURCES:
                if r.group in ("metrics.k8s.io", "authorization.k8s.io") or r.version == "v1" \
                        and r.group == "autoscaling":
                    continue
                for o in self._list(r):
                    refs = o["metadata"].get("ownerReferences") or []
                    if any(x.get("uid") == m.get("uid") for x in refs):
                        o2 = copy.deepcopy(o)
                        o2["metadata"]["ownerReferences"] = [x for x in refs
                                                             if x.get("uid") != m.get("uid")]
                        if not o2["metadata"]["ownerReferences"]:
                            del o2["metadata"]["ownerReferences"]
                        self._put(r, o2)
        if res.kind == "Namespace":
            if m.get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = rfc3339()
            new["status"] = {"phase": "Terminating"}
            return self._put(res, new)
        if res.kind == "Pod":
            grace = opts.get("gracePeriodSeconds")
            if grace is None:
                grace = old["spec"].get("terminationGracePeriodSeconds", 30)
            if m.get("deletionTimestamp"):
                if grace == 0:
                    self._remove(res, old)
                return old
            if grace == 0 or not old["spec"].get("nodeName"):
                if m.get("finalizers"):
                    new = copy.deepcopy(old)
                    new["metadata"]["deletionTimestamp"] = rfc3339()
                    return self._put(res, new)
                self._remove(res, old)
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = rfc3339(now() + grace)
            new["metadata"]["deletionGracePeriodSeconds"] = grace
            return self._put(res, new)
        if m.get("finalizers"):
            if m.get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            return self._put(res, new)
        self._remove(res, old)
        return old

    def access_review(self, body):
        attrs = ((body or {}).get("spec") or {}).get("resourceAttributes") or {}
        verb = attrs.get("verb", "")
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource += "/" + attrs["subresource"]
        allowed = not self.denied(verb, resource, attrs.get("namespace", ""))
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": body.get("spec", {}),
               "status": {"allowed": allowed}}
        if not allowed:
            out["status"]["reason"] = "denied by the test API server's --deny rules"
        return out

    def denied(self, verb, resource, ns):
        for rule in self.deny:
            parts = rule.split(":")
            rv, rr = parts[0], parts[1] if len(parts) > 1 else "*"
            rn = parts[2] if len(parts) > 2 else "*"
            if rv in ("*", verb) and rr in ("*", resource) and rn in ("*", ns or ""):
                return True
        return False


class FakeCluster(Cluster):
    """The controllers. tick() runs them all once, with the lock held."""

    def tick(self):
        self.c_namespaces()
        self.c_gc()
        self.c_deployments()
        self.c_replicasets()
        self.c_pvc_protection()
        self.c_persistentvolumes()
        self.c_scheduler()
        self.c_kubelet()
        self.c_endpoints()
        self.c_hpa()

    # ---- namespaces and garbage collection ------------------------------------

    def c_namespaces(self):
        for n in self._list(R("Namespace")):
            if not n["metadata"].get("deletionTimestamp"):
                continue
            name = n["metadata"]["name"]
            left = 0
            for r in RESOURCES:
                if not r.namespaced or r.group in ("metrics.k8s.io",) or \
                        (r.group == "autoscaling" and r.version == "v1"):
                    continue
                for o in self._list(r, name):
                    left += 1
                    if r.kind == "Pod":
                        self.api_delete(r, name, o["metadata"]["name"], {"gracePeriodSeconds": 0})
                    elif r.kind == "PersistentVolumeClaim" and o["metadata"].get("finalizers"):
                        o2 = copy.deepcopy(o)
                        o2["metadata"]["finalizers"] = []
                        o2["metadata"].setdefault("deletionTimestamp", rfc3339())
                        self._remove(r, o2)
                    else:
                        self._remove(r, o)
            if not left:
                self._remove(R("Namespace"), n)

    def c_gc(self):
        uids = set()
        for r in RESOURCES:
            if r.group in ("metrics.k8s.io", "authorization.k8s.io") or \
                    (r.group == "autoscaling" and r.version == "v1"):
                continue
            for o in self._list(r):
                uids.add(o["metadata"].get("uid"))
        for r in RESOURCES:
            if r.group in ("metrics.k8s.io", "authorization.k8s.io") or \
                    (r.group == "autoscaling" and r.version == "v1"):
                continue
            for o in self._list(r):
                refs = o["metadata"].get("ownerReferences") or []
                if refs and not any(x.get("uid") in uids for x in refs):
                    if r.kind == "Pod":
                        if not o["metadata"].get("deletionTimestamp"):
                            self.api_delete(r, o["metadata"]["namespace"], o["metadata"]["name"], {})
                    else:
                        try:
                            self.api_delete(r, o["metadata"].get("namespace", ""),
                                            o["metadata"]["name"], {})
                        except ApiError:
                            pass

    # ---- deployments ------------------------------------------------------------

    def scale_rs(self, d, rs, n):
        cur = rs["spec"].get("replicas", 0)
        if cur == n:
            return rs
        rs2 = copy.deepcopy(rs)
        rs2["spec"]["replicas"] = n
        ann = rs2["metadata"].setdefault("annotations", {})
        ann["deployment.kubernetes.io/desired-replicas"] = str(d["spec"].get("replicas", 1))
        rs2["metadata"]["generation"] = rs2["metadata"].get("generation", 1) + 1
        self._put(R("ReplicaSet"), rs2)
        self.event(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d"
                   % ("up" if n > cur else "down", rs["metadata"]["name"], cur, n),
                   "deployment-controller")
        self.progress[d["metadata"]["uid"]] = now()
        return rs2

    def c_deployments(self):
        for d in self._list(R("Deployment")):
            if d["metadata"].get("deletionTimestamp"):
                continue
            self.sync_deployment(d)

    def sync_deployment(self, d):
        ns, uid = d["metadata"]["namespace"], d["metadata"]["uid"]
        spec = d["spec"]
        replicas = spec.get("replicas", 1)
        rss = [rs for rs in self._list(R("ReplicaSet"), ns) if controller_uid(rs) == uid]

        def rev(rs):
            try:
                return int((rs["metadata"].get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision", "0"))
            except ValueError:
                return 0

        tmpl = copy.deepcopy(spec.get("template") or {})
        h = safe_hash(tmpl)

        def same_template(rs):
            t = copy.deepcopy(rs["spec"].get("template") or {})
            (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
            return deep_eq(t, tmpl)

        new = next((rs for rs in rss if same_template(rs)), None)
        maxrev = max([rev(rs) for rs in rss] or [0])
        surge = unavail = 0
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate":
            ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
            surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
            unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
            if surge == 0 and unavail == 0:
                unavail = 1
        olds = [rs for rs in rss if rs is not new]
        if not spec.get("paused"):
            if new is None:
                name = "%s-%s" % (d["metadata"]["name"], h)
                if self._get(R("ReplicaSet"), ns, name) is not None:
                    name = "%s-%s" % (d["metadata"]["name"], safe_hash([tmpl, rand_suffix()]))
                labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
                labels["pod-template-hash"] = h
                rtmpl = copy.deepcopy(tmpl)
                rtmpl.setdefault("metadata", {})["labels"] = labels
                sel = copy.deepcopy(spec.get("selector") or {})
                sel.setdefault("matchLabels", {})["pod-template-hash"] = h
                active_old = any(rs["spec"].get("replicas", 0) > 0 for rs in olds)
                start = 0 if active_old else replicas
                if active_old and strategy == "RollingUpdate":
                    total = sum(rs["spec"].get("replicas", 0) for rs in olds)
                    start = max(0, min(replicas + surge - total, replicas))
                rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": name, "namespace": ns, "labels": labels,
                                   "annotations": {
                                       "deployment.kubernetes.io/desired-replicas": str(replicas),
                                       "deployment.kubernetes.io/max-replicas": str(replicas + surge),
                                       "deployment.kubernetes.io/revision": str(maxrev + 1)},
                                   "ownerReferences": [owner_ref(d)]},
                      "spec": {"replicas": start, "selector": sel, "template": rtmpl,
                               "minReadySeconds": spec.get("minReadySeconds", 0)}}
                new = self.api_create(R("ReplicaSet"), ns, rs)
                if start:
                    self.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 "
                               "to %d" % (name, start), "deployment-controller")
                self.progress[uid] = now()
            elif rev(new) < maxrev or (rev(new) == maxrev and any(rev(o) == maxrev for o in olds)):
                new2 = copy.deepcopy(new)
                new2["metadata"].setdefault("annotations", {})[
                    "deployment.kubernetes.io/revision"] = str(maxrev + 1)
                new = self._put(R("ReplicaSet"), new2)
                self.progress[uid] = now()
            if strategy == "Recreate":
                for i, rs in enumerate(olds):
                    if rs["spec"].get("replicas", 0):
                        olds[i] = self.scale_rs(d, rs, 0)
                old_pods = [p for p in self._list(R("Pod"), ns)
                            if controller_uid(p) in [o["metadata"]["uid"] for o in olds]]
                if not old_pods:
                    new = self.scale_rs(d, new, replicas)
            elif not any(rs["spec"].get("replicas", 0) for rs in olds):
                new = self.scale_rs(d, new, replicas)
            else:
                total = sum(rs["spec"].get("replicas", 0) for rs in olds + [new])
                cur = new["spec"].get("replicas", 0)
                if cur < replicas:
                    up = min(replicas + surge - total, replicas - cur)
                    if up > 0:
                        new = self.scale_rs(d, new, cur + up)
                elif cur > replicas:
                    new = self.scale_rs(d, new, replicas)
                total = sum(rs["spec"].get("replicas", 0) for rs in olds + [new])
                min_avail = replicas - unavail
                new_unavail = new["spec"].get("replicas", 0) - \
                    (new.get("status") or {}).get("availableReplicas", 0)
                max_down = total - min_avail - new_unavail
                if max_down > 0:
                    olds.sort(key=lambda r: r["metadata"]["creationTimestamp"])
                    for i, rs in enumerate(olds):
                        if max_down <= 0:
                            break
                        n = rs["spec"].get("replicas", 0)
                        bad = n - (rs.get("status") or {}).get("availableReplicas", 0)
                        if bad <= 0:
                            continue
                        dn = min(max_down, bad)
                        olds[i] = self.scale_rs(d, rs, n - dn)
                        max_down -= dn
                    avail = sum((rs.get("status") or {}).get("availableReplicas", 0)
                                for rs in olds + [new])
                    can = avail - min_avail
                    for i, rs in enumerate(olds):
                        if can <= 0:
                            break
                        n = rs["spec"].get("replicas", 0)
                        dn = min(n, can)
                        if dn > 0:
                            olds[i] = self.scale_rs(d, rs, n - dn)
                            can -= dn
            # History: keep revisionHistoryLimit old ReplicaSets without replicas.
            limit = spec.get("revisionHistoryLimit", 10)
            idle = sorted([rs for rs in olds if not rs["spec"].get("replicas")
                           and not (rs.get("status") or {}).get("replicas")], key=rev)
            for rs in idle[:max(0, len(idle) - limit)]:
                self._remove(R("ReplicaSet"), rs)
        self.deployment_status(d, new, [o for o in olds if self._get(R("ReplicaSet"), ns, o["metadata"]["name"])],
                               replicas, unavail, rev(new) if new else 0)

    def deployment_status(self, d, new, olds, replicas, unavail, revision):
        d = self._get(R("Deployment"), d["metadata"]["namespace"], d["metadata"]["name"])
        uid = d["metadata"]["uid"]
        rss = [r for r in [new] + olds if r is not None]
        rss = [self._get(R("ReplicaSet"), r["metadata"]["namespace"], r["metadata"]["name"]) or r
               for r in rss]
        st = lambda r, k: (r.get("status") or {}).get(k, 0)
        newr = rss[0] if new is not None else None
        total = sum(st(r, "replicas") for r in rss)
        updated = st(newr, "replicas") if newr else 0
        ready = sum(st(r, "readyReplicas") for r in rss)
        available = sum(st(r, "availableReplicas") for r in rss)
        old_pods = sum(st(r, "replicas") for r in rss[1:])
        t = now()
        prev = d.get("status") or {}
        conds = {c["type"]: c for c in prev.get("conditions") or []}

        def cond(ctype, status, reason, message, progress=False):
            c = conds.get(ctype)
            ts = rfc3339(t)
            if c and c.get("status") == status and c.get("reason") == reason and \
                    c.get("message") == message and not progress:
                return c
            return {"type": ctype, "status": status,
                    "lastUpdateTime": ts if not c or c.get("reason") != reason or
                    c.get("message") != message or progress else c.get("lastUpdateTime", ts),
                    "lastTransitionTime": c.get("lastTransitionTime", ts)
                    if c and c.get("status") == status else ts,
                    "reason": reason, "message": message}

        key = (updated, ready, available, total)
        if getattr(self, "_dep_seen", None) is None:
            self._dep_seen = {}
        moved = self._dep_seen.get(uid) != key
        if moved:
            self._dep_seen[uid] = key
            self.progress[uid] = t
        min_avail = replicas - unavail
        out = []
        if available >= min_avail:
            out.append(cond("Available", "True", "MinimumReplicasAvailable",
                            "Deployment has minimum availability."))
        else:
            out.append(cond("Available", "False", "MinimumReplicasUnavailable",
                            "Deployment does not have minimum availability."))
        rsname = newr["metadata"]["name"] if newr else ""
        complete = newr is not None and updated == replicas and available >= replicas \
            and old_pods == 0 and total == replicas
        deadline = d["spec"].get("progressDeadlineSeconds", 600)
        pc = conds.get("Progressing")
        if complete:
            out.append(cond("Progressing", "True", "NewReplicaSetAvailable",
                            'ReplicaSet "%s" has successfully progressed.' % rsname))
        elif pc and pc.get("reason") == "ProgressDeadlineExceeded" and not moved:
            out.append(pc)
        elif t - self.progress.get(uid, t) > sim(deadline):
            out.append(cond("Progressing", "False", "ProgressDeadlineExceeded",
                            'ReplicaSet "%s" has timed out progressing.' % rsname))
        else:
            out.append(cond("Progressing", "True", "ReplicaSetUpdated",
                            'ReplicaSet "%s" is progressing.' % rsname, progress=moved))
        # Keep the order Kubernetes writes them in: Available, then Progressing.
        status = {"observedGeneration": d["metadata"].get("generation", 1),
                  "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
                  "availableReplicas": available,
                  "unavailableReplicas": max(replicas - available, 0) if total or replicas else 0,
                  "conditions": out}
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                  "unavailableReplicas"):
            if not status[k]:
                del status[k]
        ann = d["metadata"].get("annotations") or {}
        want_rev = str(revision) if revision else None
        if deep_eq(prev, status) and (want_rev is None or
                                      ann.get("deployment.kubernetes.io/revision") == want_rev):
            return
        d2 = copy.deepcopy(d)
        d2["status"] = status
        if want_rev:
            d2["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = want_rev
        self._put(R("Deployment"), d2)

    # ---- replicasets ------------------------------------------------------------

    def c_replicasets(self):
        pods_by_owner = {}
        for p in self._list(R("Pod")):
            pods_by_owner.setdefault(controller_uid(p), []).append(p)
        for rs in self._list(R("ReplicaSet")):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            ns, uid = rs["metadata"]["namespace"], rs["metadata"]["uid"]
            pods = [p for p in pods_by_owner.get(uid, []) if pod_active(p)]
            want = rs["spec"].get("replicas", 1)
            if len(pods) < want:
                for _ in range(want - len(pods)):
                    tmpl = rs["spec"].get("template") or {}
                    tm = tmpl.get("metadata") or {}
                    pod = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"generateName": rs["metadata"]["name"] + "-",
                                        "namespace": ns,
                                        "labels": copy.deepcopy(tm.get("labels") or {}),
                                        "ownerReferences": [owner_ref(rs)]},
                           "spec": copy.deepcopy(tmpl.get("spec") or {})}
                    if tm.get("annotations"):
                        pod["metadata"]["annotations"] = copy.deepcopy(tm["annotations"])
                    try:
                        p = self.api_create(R("Pod"), ns, pod)
                    except ApiError as e:
                        self.event(rs, "Warning", "FailedCreate", "Error creating: %s" % e.message,
                                   "replicaset-controller")
                        break
                    pods.append(p)
                    self.event(rs, "Normal", "SuccessfulCreate", "Created pod: %s"
                               % p["metadata"]["name"], "replicaset-controller")
            elif len(pods) > want:
                def rank(p):
                    st = p.get("status") or {}
                    restarts = sum(c.get("restartCount", 0) for c in st.get("containerStatuses") or [])
                    return (bool(p["spec"].get("nodeName")),
                            {"Pending": 0, "Unknown": 1}.get(st.get("phase"), 2),
                            pod_ready(p), -restarts,
                            "" if not p["metadata"].get("creationTimestamp") else
                            "~" + p["metadata"]["creationTimestamp"])
                pods.sort(key=rank)
                # newest first among equals: reverse the timestamp order
                victims = sorted(pods, key=lambda p: (rank(p)[:4], -(parse_time(
                    p["metadata"]["creationTimestamp"]) or 0)))[:len(pods) - want]
                for p in victims:
                    self.api_delete(R("Pod"), ns, p["metadata"]["name"], {})
                    self.event(rs, "Normal", "SuccessfulDelete", "Deleted pod: %s"
                               % p["metadata"]["name"], "replicaset-controller")
                pods = [p for p in pods if p not in victims]
            ready = sum(1 for p in pods if pod_ready(p))
            status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                      "readyReplicas": ready, "availableReplicas": ready,
                      "observedGeneration": rs["metadata"].get("generation", 1)}
            for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
                if not status[k]:
                    del status[k]
            if not deep_eq(rs.get("status"), status):
                rs2 = copy.deepcopy(self._get(R("ReplicaSet"), ns, rs["metadata"]["name"]))
                rs2["status"] = status
                self._put(R("ReplicaSet"), rs2)

    # ---- storage ------------------------------------------------------------------

    def c_pvc_protection(self):
        for pvc in self._list(R("PersistentVolumeClaim")):
            m = pvc["metadata"]
            if not m.get("deletionTimestamp") or \
                    "kubernetes.io/pvc-protection" not in (m.get("finalizers") or []):
                continue
            used = False
            for p in self._list(R("Pod"), m["namespace"]):
                if not p["spec"].get("nodeName") or \
                        (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                for v in p["spec"].get("volumes") or []:
                    if (v.get("persistentVolumeClaim") or {}).get("claimName") == m["name"]:
                        used = True
            if not used:
                p2 = copy.deepcopy(pvc)
                p2["metadata"]["finalizers"] = [f for f in m["finalizers"]
                                                if f != "kubernetes.io/pvc-protection"]
                if not p2["metadata"]["finalizers"]:
                    self._remove(R("PersistentVolumeClaim"), p2)
                else:
                    self._put(R("PersistentVolumeClaim"), p2)

    def c_persistentvolumes(self):
        t = now()
        for pv in self._list(R("PersistentVolume")):
            ref = pv["spec"].get("claimRef") or {}
            if not ref:
                continue
            pvc = self._get(R("PersistentVolumeClaim"), ref.get("namespace"), ref.get("name"))
            if pvc is None or pvc["metadata"]["uid"] != ref.get("uid"):
                if pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
                    p2 = copy.deepcopy(pv)
                    p2["metadata"]["finalizers"] = []
                    self._remove(R("PersistentVolume"), p2)
                elif (pv.get("status") or {}).get("phase") != "Released":
                    p2 = copy.deepcopy(pv)
                    p2["status"] = {"phase": "Released", "lastPhaseTransitionTime": rfc3339(t)}
                    self._put(R("PersistentVolume"), p2)
        for pvc in self._list(R("PersistentVolumeClaim")):
            m = pvc["metadata"]
            if m.get("deletionTimestamp") or pvc["spec"].get("volumeName"):
                continue
            uid = m["uid"]
            if t < self.pv_next.get(uid, 0):
                continue
            self.pv_next[uid] = t + sim(15)
            scn = pvc["spec"].get("storageClassName")
            if not scn:
                self.event(pvc, "Normal", "FailedBinding", "no persistent volumes available for "
                           "this claim and no storage class is set", "persistentvolume-controller")
                continue
            sc = self._get(R("StorageClass"), "", scn)
            if sc is None:
                self.event(pvc, "Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io '
                           '"%s" not found' % scn, "persistentvolume-controller")
                continue
            ann = m.get("annotations") or {}
            if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and \
                    "volume.kubernetes.io/selected-node" not in ann:
                self.event(pvc, "Normal", "WaitForFirstConsumer", "waiting for first consumer to "
                           "be created before binding", "persistentvolume-controller")
                continue
            self.provision(pvc, sc)
            self.pv_next[uid] = t + sim(0.5)

    def provision(self, pvc, sc):
        m = pvc["metadata"]
        prov = sc.get("provisioner", "")
        ann = dict(m.get("annotations") or {})
        if "volume.kubernetes.io/storage-provisioner" not in ann:
            self.event(pvc, "Normal", "ExternalProvisioning", "Waiting for a volume to be created "
                       'either by the external provisioner "%s" or manually by the system '
                       "administrator. If volume creation is delayed, please verify that the "
                       "provisioner is running and correctly registered." % prov,
                       "persistentvolume-controller")
            self.event(pvc, "Normal", "Provisioning", 'External provisioner is provisioning '
                       'volume for claim "%s/%s"' % (m["namespace"], m["name"]),
                       "%s_local-path-provisioner-7577fdbbfb-x5tzd_%s" % (prov, m["uid"][:8]))
            p2 = copy.deepcopy(pvc)
            a2 = p2["metadata"].setdefault("annotations", {})
            a2["volume.beta.kubernetes.io/storage-provisioner"] = prov
            a2["volume.kubernetes.io/storage-provisioner"] = prov
            self._put(R("PersistentVolumeClaim"), p2)
            return
        name = "pvc-" + m["uid"]
        size = pvc["spec"]["resources"]["requests"]["storage"]
        node = ann.get("volume.kubernetes.io/selected-node", NODE_NAME)
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": name, "annotations": {
                  "pv.kubernetes.io/provisioned-by": prov,
                  "local.path.provisioner/selected-node": node}},
              "spec": {"capacity": {"storage": size},
                       "accessModes": copy.deepcopy(pvc["spec"]["accessModes"]),
                       "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                    "name": m["name"], "namespace": m["namespace"],
                                    "uid": m["uid"], "resourceVersion": m["resourceVersion"]},
                       "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                       "storageClassName": sc["metadata"]["name"],
                       "volumeMode": pvc["spec"].get("volumeMode", "Filesystem"),
                       "hostPath": {"path": "/var/local-path-provisioner/%s_%s_%s"
                                    % (name, m["namespace"], m["name"]), "type": "DirectoryOrCreate"},
                       "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                           {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}
        pv = self.api_create(R("PersistentVolume"), "", pv)
        pv2 = copy.deepcopy(pv)
        pv2["status"] = {"phase": "Bound", "lastPhaseTransitionTime": rfc3339()}
        self._put(R("PersistentVolume"), pv2)
        p2 = copy.deepcopy(self._get(R("PersistentVolumeClaim"), m["namespace"], m["name"]))
        p2["spec"]["volumeName"] = name
        a2 = p2["metadata"].setdefault("annotations", {})
        a2["pv.kubernetes.io/bind-completed"] = "yes"
        a2["pv.kubernetes.io/bound-by-controller"] = "yes"
        p2["status"] = {"phase": "Bound", "accessModes": copy.deepcopy(pvc["spec"]["accessModes"]),
                        "capacity": {"storage": size}}
        self._put(R("PersistentVolumeClaim"), p2)
        self.event(pvc, "Normal", "ProvisioningSucceeded", "Successfully provisioned volume %s"
                   % name, "%s_local-path-provisioner-7577fdbbfb-x5tzd_%s" % (prov, m["uid"][:8]))

    # ---- the scheduler ------------------------------------------------------------

    def node(self):
        return self._get(R("Node"), "", NODE_NAME)

    def fits(self, pod):
        """(True, None), ("wait", None) or (False, message)."""
        ns = pod["metadata"]["namespace"]
        spec = pod["spec"]
        tail_pref = "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        for v in spec.get("volumes") or []:
            cn = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if not cn:
                continue
            pvc = self._get(R("PersistentVolumeClaim"), ns, cn)
            if pvc is None:
                return False, '0/1 nodes are available: persistentvolumeclaim "%s" not found. %s' \
                    % (cn, tail_pref)
            if pvc["metadata"].get("deletionTimestamp"):
                return False, '0/1 nodes are available: persistentvolumeclaim "%s" is being ' \
                    'deleted. %s' % (cn, tail_pref)
            if pvc["spec"].get("volumeName"):
                continue
            sc = self._get(R("StorageClass"), "", pvc["spec"].get("storageClassName") or "")
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                ann = pvc["metadata"].get("annotations") or {}
                if "volume.kubernetes.io/selected-node" not in ann:
                    p2 = copy.deepcopy(pvc)
                    p2["metadata"].setdefault("annotations", {})[
                        "volume.kubernetes.io/selected-node"] = NODE_NAME
                    self._put(R("PersistentVolumeClaim"), p2)
                    self.pv_next[p2["metadata"]["uid"]] = 0
                return "wait", None
            return False, "0/1 nodes are available: pod has unbound immediate " \
                "PersistentVolumeClaims. %s" % tail_pref
        node = self.node()
        if node is None:
            return False, "no nodes available to schedule pods"
        nl = node["metadata"].get("labels") or {}
        reasons = []
        for k, v in (spec.get("nodeSelector") or {}).items():
            if nl.get(k) != v:
                reasons.append("1 node(s) didn't match Pod's node affinity/selector")
                break
        aff = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
               .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
        terms = aff.get("nodeSelectorTerms") or []
        if terms and not reasons:
            ok_any = False
            for term in terms:
                reqs = selector_from_label_selector({"matchExpressions": term.get("matchExpressions")})
                if labels_match(reqs or [], nl):
                    ok_any = True
            if not ok_any:
                reasons.append("1 node(s) didn't match Pod's node affinity/selector")
        if node["spec"].get("unschedulable"):
            reasons.append("1 node(s) were unschedulable")
        for taint in node["spec"].get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not any(
                    t.get("key") == taint.get("key") or (t.get("operator") == "Exists" and not t.get("key"))
                    for t in spec.get("tolerations") or []):
                reasons.append("1 node(s) had untolerated taint {%s: %s}"
                               % (taint.get("key"), taint.get("value", "")))
                break
        if reasons:
            return False, "0/1 nodes are available: %s. %s" % (", ".join(reasons), tail_pref)
        alloc = node["status"]["allocatable"]
        cpu_free = quantity(alloc["cpu"])
        mem_free = quantity(alloc["memory"])
        for p in self._list(R("Pod")):
            if p["spec"].get("nodeName") == NODE_NAME and \
                    (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                c, mm = pod_requests(p)
                cpu_free -= c
                mem_free -= mm
        c, mm = pod_requests(pod)
        if c > cpu_free + 1e-9:
            reasons.append("1 Insufficient cpu")
        if mm > mem_free:
            reasons.append("1 Insufficient memory")
        if reasons:
            return False, "0/1 nodes are available: %s. preemption: 0/1 nodes are available: 1 " \
                "No preemption victims found for incoming pod." % ", ".join(reasons)
        return True, None

    def c_scheduler(self):
        t = now()
        for pod in self._list(R("Pod")):
            m = pod["metadata"]
            if pod["spec"].get("nodeName") or m.get("deletionTimestamp"):
                continue
            if t < self.sched_next.get(m["uid"], 0):
                continue
            ok, msg = self.fits(pod)
            if ok == "wait":
                self.sched_next[m["uid"]] = t + sim(0.5)
                continue
            p2 = copy.deepcopy(pod)
            st = p2.setdefault("status", {})
            conds = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
            if ok:
                p2["spec"]["nodeName"] = NODE_NAME
                conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                              "lastTransitionTime": rfc3339(t)})
                st["conditions"] = conds
                self._put(R("Pod"), p2)
                self.event(p2, "Normal", "Scheduled", "Successfully assigned %s/%s to %s"
                           % (m["namespace"], m["name"], NODE_NAME), "default-scheduler")
                self.sched_next.pop(m["uid"], None)
            else:
                old = next((c for c in st.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
                conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                              "lastTransitionTime": old["lastTransitionTime"] if old and
                              old.get("status") == "False" else rfc3339(t),
                              "reason": "Unschedulable", "message": msg})
                st["conditions"] = conds
                if not deep_eq(pod.get("status"), st):
                    self._put(R("Pod"), p2)
                self.event(pod, "Warning", "FailedScheduling", msg, "default-scheduler")
                self.sched_next[m["uid"]] = t + sim(10)

    # ---- the kubelet ----------------------------------------------------------------

    def c_kubelet(self):
        t = now()
        live = set()
        for pod in self._list(R("Pod")):
            if pod["spec"].get("nodeName") != NODE_NAME:
                continue
            uid = pod["metadata"]["uid"]
            live.add(uid)
            rt = self.rt.get(uid)
            if rt is None:
                self.next_ip = self.next_ip % 250 + 1
                rt = {"ip": "10.244.0.%d" % (self.next_ip + 1), "start": t, "containers": {},
                      "killing": None}
                for c in pod["spec"].get("containers") or []:
                    rt["containers"][c["name"]] = {
                        "state": "creating", "until": t + sim(0.5), "restarts": 0,
                        "failures": 0, "pull_failures": 0, "ready": False, "started_ok": False,
                        "term": None, "last_term": None, "logs": [], "prev_logs": [],
                        "probe": {}, "id": None, "proc": None, "image_id": ""}
                self.rt[uid] = rt
            if pod["metadata"].get("deletionTimestamp"):
                self.kill_pod(pod, rt, t)
                continue
            for c in pod["spec"].get("containers") or []:
                cs = rt["containers"].get(c["name"])
                if cs is not None:
                    self.step_container(pod, rt, c, cs, t)
            self.pod_status(pod, rt, t)
        for uid in list(self.rt):
            if uid not in live:
                del self.rt[uid]

    def kill_pod(self, pod, rt, t):
        if rt["killing"] is None:
            rt["killing"] = t
            for c in pod["spec"].get("containers") or []:
                cs = rt["containers"].get(c["name"])
                if cs and cs["state"] == "running":
                    self.event(pod, "Normal", "Killing", "Stopping container %s" % c["name"],
                               "kubelet", "spec.containers{%s}" % c["name"])
        grace = pod["metadata"].get("deletionGracePeriodSeconds", 30)
        if t - rt["killing"] >= sim(min(grace, 1.0)):
            self._remove(R("Pod"), pod)

    def fieldpath(self, c):
        return "spec.containers{%s}" % c["name"]

    def step_container(self, pod, rt, c, cs, t):
        st = cs["state"]
        if st in ("creating", "pulling") and t >= cs["until"]:
            image = c.get("image", "")
            repo, tag = normalize_image(image)
            model = IMAGES.get(repo)
            known = model is not None and (tag in model["tags"] or tag.startswith("sha256:"))
            present = image in self.images_present
            policy = c.get("imagePullPolicy", "IfNotPresent")
            if st == "creating":
                if policy == "Never" and not present:
                    cs["state"] = "stuck"
                    cs["waiting"] = ("ErrImageNeverPull", 'Container image "%s" is not present '
                                     "with pull policy of Never" % image)
                    self.event(pod, "Warning", "ErrImageNeverPull", cs["waiting"][1], "kubelet",
                               self.fieldpath(c))
                    return
                if policy == "Always" or not present:
                    self.event(pod, "Normal", "Pulling", 'Pulling image "%s"' % image, "kubelet",
                               self.fieldpath(c))
                    cs["state"] = "pulling"
                    cs["until"] = t + sim(1.2 if not present else 0.4)
                    return
                self.event(pod, "Normal", "Pulled", 'Container image "%s" already present on '
                           "machine" % image, "kubelet", self.fieldpath(c))
            else:
                if not known:
                    ref = "%s:%s" % (repo, tag)
                    if model is None:
                        why = ('failed to pull and unpack image "%s": failed to resolve reference '
                               '"%s": pull access denied, repository does not exist or may require '
                               "authorization: server message: insufficient_scope: authorization "
                               "failed" % (ref, ref))
                        code = "Unknown"
                    else:
                        why = ('failed to pull and unpack image "%s": failed to resolve reference '
                               '"%s": %s: not found' % (ref, ref, ref))
                        code = "NotFound"
                    msg = 'Failed to pull image "%s": rpc error: code = %s desc = %s' % (image, code, why)
                    self.event(pod, "Warning", "Failed", msg, "kubelet", self.fieldpath(c))
                    self.event(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet",
                               self.fieldpath(c))
                    cs["pull_failures"] += 1
                    cs["state"] = "pull_backoff"
                    cs["waiting"] = ("ErrImagePull", msg[len('Failed to pull image "%s": ' % image):])
                    cs["pull_msg"] = 'Back-off pulling image "%s"' % image
                    cs["switch"] = t + sim(1.0)
                    cs["until"] = t + sim(min(10 * 2 ** (cs["pull_failures"] - 1), 300))
                    return
                self.images_present.add(image)
                self.event(pod, "Normal", "Pulled", 'Successfully pulled image "%s" in 1.204s '
                           "(1.204s including waiting). Image size: %d bytes." % (image, model["size"]),
                           "kubelet", self.fieldpath(c))
            digest = hashlib.sha256(("%s:%s" % (repo, tag)).encode()).hexdigest()
            cs["image_id"] = "%s@sha256:%s" % (repo, digest)
            self.start_container(pod, rt, c, cs, t)
            return
        if st == "pull_backoff":
            if cs["waiting"][0] == "ErrImagePull" and t >= cs.get("switch", 0):
                cs["waiting"] = ("ImagePullBackOff", cs["pull_msg"])
                self.event(pod, "Normal", "BackOff", cs["pull_msg"], "kubelet", self.fieldpath(c))
                self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet",
                           self.fieldpath(c))
            if t >= cs["until"]:
                cs["state"] = "creating"
                cs["until"] = t
            return
        if st == "running":
            self.step_running(pod, rt, c, cs, t)
            return
        if st == "exited" and t >= cs["until"]:
            policy = pod["spec"].get("restartPolicy", "Always")
            code = cs["term"]["exitCode"]
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                cs["state"] = "done"
                return
            if cs["failures"] <= 1:
                self.restart_container(pod, rt, c, cs, t)
                return
            back = min(10 * 2 ** (cs["failures"] - 2), 300)
            cs["state"] = "backoff"
            cs["until"] = t + sim(back)
            cs["backoff_text"] = duration_text(back)
            m = pod["metadata"]
            self.event(pod, "Warning", "BackOff", "Back-off restarting failed container %s in pod "
                       "%s_%s(%s)" % (c["name"], m["name"], m["namespace"], m["uid"]), "kubelet",
                       self.fieldpath(c))
            return
        if st == "backoff" and t >= cs["until"]:
            self.restart_container(pod, rt, c, cs, t)

    def restart_container(self, pod, rt, c, cs, t):
        cs["restarts"] += 1
        cs["last_term"] = cs["term"]
        cs["term"] = None
        cs["prev_logs"] = cs["logs"]
        cs["logs"] = []
        self.event(pod, "Normal", "Pulled", 'Container image "%s" already present on machine'
                   % c.get("image"), "kubelet", self.fieldpath(c))
        self.start_container(pod, rt, c, cs, t)

    def start_container(self, pod, rt, c, cs, t):
        proc = model_process(c.get("image", ""), c)
        cs["proc"] = proc
        cs["id"] = uuid.uuid4().hex + uuid.uuid4().hex
        cs["probe"] = {}
        cs["ready"] = False
        cs["started_ok"] = False
        self.event(pod, "Normal", "Created", "Created container %s" % c["name"], "kubelet",
                   self.fieldpath(c))
        if proc.start_error:
            self.event(pod, "Warning", "Failed", "Error: %s" % proc.start_error, "kubelet",
                       self.fieldpath(c))
            cs["started_at"] = None
            self.terminate(cs, "StartError", 128, t, proc.start_error)
            return
        self.event(pod, "Normal", "Started", "Started container %s" % c["name"], "kubelet",
                   self.fieldpath(c))
        cs["state"] = "running"
        cs["started_at"] = t
        cs["logs"] = [(t, line) for line in proc.logs]
        lim = ((c.get("resources") or {}).get("limits") or {}).get("memory")
        cs["oom_at"] = t + sim(1.5) if lim and proc.mem > quantity(lim) else None
        cs["exit_at"] = t + sim(proc.exit_after) if proc.exit_after is not None else None
        if not c.get("startupProbe"):
            cs["started_ok"] = True

    def terminate(self, cs, reason, code, t, message=None):
        started = cs.get("started_at")
        cs["term"] = {"containerID": "containerd://" + cs["id"], "exitCode": code, "reason": reason,
                      "startedAt": rfc3339(started) if started else "1970-01-01T00:00:00Z",
                      "finishedAt": rfc3339(t)}
        if message:
            cs["term"]["message"] = message
        if started and t - started >= sim(600):
            cs["failures"] = 0
        cs["failures"] += 1
        cs["state"] = "exited"
        cs["until"] = t + sim(1.0)
        cs["ready"] = False

    def step_running(self, pod, rt, c, cs, t):
        proc = cs["proc"]
        if cs.get("oom_at") and t >= cs["oom_at"]:
            self.terminate(cs, "OOMKilled", 137, t)
            return
        if cs.get("exit_at") and t >= cs["exit_at"]:
            cs["logs"] += [(t, line) for line in proc.exit_logs]
            code = proc.exit_code
            self.terminate(cs, "Completed" if code == 0 else "Error", code, t)
            return
        for kind in ("startup", "liveness", "readiness"):
            probe = c.get(kind + "Probe")
            if not isinstance(probe, dict):
                continue
            if kind != "startup" and not cs["started_ok"]:
                continue
            if kind == "startup" and cs["started_ok"]:
                continue
            ps = cs["probe"].setdefault(kind, {"next": cs["started_at"] + sim(
                probe.get("initialDelaySeconds", 0)), "ok": 0, "fail": 0})
            if t < ps["next"]:
                continue
            ps["next"] = t + sim(probe.get("periodSeconds", 10))
            ok, msg = self.run_probe(pod, rt, c, cs, probe, t)
            label = {"startup": "Startup", "liveness": "Liveness", "readiness": "Readiness"}[kind]
            if ok:
                ps["ok"] += 1
                ps["fail"] = 0
                if kind == "readiness" and ps["ok"] >= probe.get("successThreshold", 1):
                    cs["ready"] = True
                if kind == "startup":
                    cs["started_ok"] = True
                continue
            ps["fail"] += 1
            ps["ok"] = 0
            self.event(pod, "Warning", "Unhealthy", "%s probe failed: %s" % (label, msg), "kubelet",
                       self.fieldpath(c))
            if ps["fail"] < probe.get("failureThreshold", 3):
                continue
            if kind == "readiness":
                cs["ready"] = False
                continue
            self.event(pod, "Normal", "Killing", "Container %s failed %s probe, will be restarted"
                       % (c["name"], kind), "kubelet", self.fieldpath(c))
            code = proc.term_code
            self.terminate(cs, "Completed" if code == 0 else "Error", code, t)
            return
        if not isinstance(c.get("readinessProbe"), dict) and cs["started_ok"]:
            cs["ready"] = True

    def resolve_port(self, port, c):
        if isinstance(port, int):
            return port
        for p in c.get("ports") or []:
            if p.get("name") == port:
                return p.get("containerPort")
        try:
            return int(port)
        except (TypeError, ValueError):
            return None

    def run_probe(self, pod, rt, c, cs, probe, t):
        proc = cs["proc"]
        ip = rt["ip"]
        if isinstance(probe.get("httpGet"), dict):
            h = probe["httpGet"]
            port = self.resolve_port(h.get("port"), c)
            path = h.get("path") or "/"
            url = "%s://%s:%s%s" % (h.get("scheme", "HTTP").lower(), ip, port, path)
            if port is None:
                return False, 'Get "%s": invalid port %s' % (url, h.get("port"))
            if port not in proc.http:
                return False, 'Get "%s": dial tcp %s:%d: connect: connection refused' % (url, ip, port)
            code, size = proc.http[port](path.split("?", 1)[0])
            if proc.server == "nginx":
                stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
                cs["logs"].append((t, '10.244.0.1 - - [%s] "GET %s HTTP/1.1" %d %d "-" '
                                   '"kube-probe/1.32" "-"' % (stamp, path, code, size)))
                if code == 404:
                    cs["logs"].append((t, '%s [error] 29#29: *%d open() "/usr/share/nginx/html%s" '
                                       "failed (2: No such file or directory), client: 10.244.0.1, "
                                       'server: localhost, request: "GET %s HTTP/1.1", host: '
                                       '"%s:%d"' % (go_log_time(t), len(cs["logs"]), path, path, ip, port)))
            elif proc.server == "netexec":
                cs["logs"].append((t, "%s GET %s" % (go_log_time(t), path.split("?", 1)[0])))
            del cs["logs"][:-2000]
            if 200 <= code < 400:
                return True, None
            return False, "HTTP probe failed with statuscode: %d" % code
        if isinstance(probe.get("tcpSocket"), dict):
            port = self.resolve_port(probe["tcpSocket"].get("port"), c)
            if port in proc.tcp:
                return True, None
            return False, "dial tcp %s:%s: connect: connection refused" % (ip, port)
        if isinstance(probe.get("grpc"), dict):
            port = probe["grpc"].get("port")
            if port in proc.tcp:
                return True, None
            return False, 'timeout: failed to connect service "%s:%s" within 1s' % (ip, port)
        if isinstance(probe.get("exec"), dict):
            cmd = probe["exec"].get("command") or [""]
            repo, _ = normalize_image(c.get("image", ""))
            files = IMAGES.get(repo, {}).get("files", [])
            exe = cmd[0]
            found = exe in files if "/" in exe else any(d + "/" + exe in files for d in PATH_DIRS)
            if found:
                return True, None
            return False, ('rpc error: code = Unknown desc = failed to exec in container: failed '
                           'to start exec: OCI runtime exec failed: exec failed: unable to start '
                           'container process: exec: "%s": executable file not found in $PATH: '
                           "unknown" % exe)
        return True, None

    def container_status(self, c, cs):
        st = cs["state"]
        m = {"creating": {"waiting": {"reason": "ContainerCreating"}},
             "pulling": {"waiting": {"reason": "ContainerCreating"}}}
        if st in m:
            state = m[st]
        elif st in ("pull_backoff", "stuck"):
            state = {"waiting": {"reason": cs["waiting"][0], "message": cs["waiting"][1]}}
        elif st == "running":
            state = {"running": {"startedAt": rfc3339(cs["started_at"])}}
        elif st in ("exited", "done"):
            state = {"terminated": cs["term"]}
        else:
            state = {"waiting": {"reason": "CrashLoopBackOff", "message": cs.get("backoff_msg", "")}}
        out = {"name": c["name"], "state": state,
               "lastState": {"terminated": cs["last_term"]} if cs["last_term"] else {},
               "ready": bool(cs["ready"] and st == "running"), "restartCount": cs["restarts"],
               "image": c.get("image", ""), "imageID": cs["image_id"],
               "started": st == "running" and cs["started_ok"]}
        if cs["id"]:
            out["containerID"] = "containerd://" + cs["id"]
        return out

    def pod_status(self, pod, rt, t):
        m = pod["metadata"]
        statuses = []
        for c in pod["spec"].get("containers") or []:
            cs = rt["containers"].get(c["name"])
            if cs["state"] == "backoff":
                cs["backoff_msg"] = "back-off %s restarting failed container=%s pod=%s_%s(%s)" % (
                    cs.get("backoff_text", "10s"), c["name"], m["name"], m["namespace"], m["uid"])
            statuses.append(self.container_status(c, cs))
        waiting = running = stopped = succeeded = 0
        for s in statuses:
            if "running" in s["state"]:
                running += 1
            elif "terminated" in s["state"]:
                stopped += 1
                if s["state"]["terminated"]["exitCode"] == 0:
                    succeeded += 1
            elif s["lastState"].get("terminated"):
                stopped += 1
            else:
                waiting += 1
        policy = pod["spec"].get("restartPolicy", "Always")
        if waiting:
            phase = "Pending"
        elif running:
            phase = "Running"
        elif stopped == len(statuses) and policy == "Always":
            phase = "Running"
        elif stopped == len(statuses):
            phase = "Succeeded" if succeeded == stopped and all(
                "terminated" in s["state"] for s in statuses) else (
                "Failed" if all("terminated" in s["state"] for s in statuses) else "Running")
        else:
            phase = "Pending"
        all_ready = bool(statuses) and all(s["ready"] for s in statuses)
        unready = [s["name"] for s in statuses if not s["ready"]]
        prev = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
        ts = rfc3339(t)

        def cond(ctype, ok, reason=None, message=None):
            status = "True" if ok else "False"
            old = prev.get(ctype)
            c = {"type": ctype, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": old["lastTransitionTime"] if old and
                 old.get("status") == status else ts}
            if not ok and reason:
                c["reason"] = reason
                c["message"] = message
            return c
        conds = [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                 cond("Ready", all_ready, "ContainersNotReady",
                      "containers with unready status: [%s]" % " ".join(unready)),
                 cond("ContainersReady", all_ready, "ContainersNotReady",
                      "containers with unready status: [%s]" % " ".join(unready)),
                 prev.get("PodScheduled") or cond("PodScheduled", True)]
        old = pod.get("status") or {}
        status = {"phase": phase, "conditions": conds, "hostIP": "172.18.0.2",
                  "hostIPs": [{"ip": "172.18.0.2"}], "podIP": rt["ip"], "podIPs": [{"ip": rt["ip"]}],
                  "startTime": old.get("startTime") or rfc3339(rt["start"]),
                  "containerStatuses": statuses,
                  "qosClass": old.get("qosClass") or qos_class(pod["spec"])}
        if not deep_eq(old, status):
            p2 = copy.deepcopy(pod)
            p2["status"] = status
            self._put(R("Pod"), p2)

    def pod_logs(self, pod, container, previous):
        rt = self.rt.get(pod["metadata"]["uid"])
        cs = rt["containers"].get(container) if rt else None
        if cs is None:
            return None
        if previous:
            if not cs["last_term"]:
                return None
            return cs["prev_logs"]
        return cs["logs"]

    # ---- endpoints -------------------------------------------------------------------

    def c_endpoints(self):
        pods_by_ns = {}
        for p in self._list(R("Pod")):
            pods_by_ns.setdefault(p["metadata"]["namespace"], []).append(p)
        services = {}
        for svc in self._list(R("Service")):
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            services[(ns, name)] = svc
            sel = svc["spec"].get("selector")
            if not sel:
                continue
            reqs = [(k, "=", [v]) for k, v in sorted(sel.items())]
            ready, notready, slice_eps = [], [], []
            ports_seen = None
            for p in pods_by_ns.get(ns, []):
                if not labels_match(reqs, p["metadata"].get("labels")):
                    continue
                ip = (p.get("status") or {}).get("podIP")
                if not ip:
                    continue
                terminating = bool(p["metadata"].get("deletionTimestamp"))
                ports = []
                for sp in svc["spec"].get("ports") or []:
                    tp = sp.get("targetPort", sp.get("port"))
                    if isinstance(tp, str):
                        tp = next((cp.get("containerPort") for c in p["spec"]["containers"]
                                   for cp in c.get("ports") or [] if cp.get("name") == tp), None)
                    if tp is not None:
                        port = {"port": tp, "protocol": sp.get("protocol", "TCP")}
                        if sp.get("name"):
                            port["name"] = sp["name"]
                        ports.append(port)
                if not ports:
                    continue
                ports_seen = ports
                addr = {"ip": ip, "nodeName": p["spec"].get("nodeName"),
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                                      "uid": p["metadata"]["uid"]}}
                rd = pod_ready(p) and not terminating
                if not terminating:
                    (ready if rd else notready).append(addr)
                slice_eps.append({"addresses": [ip],
                                  "conditions": {"ready": rd, "serving": pod_ready(p),
                                                 "terminating": terminating},
                                  "nodeName": p["spec"].get("nodeName"),
                                  "targetRef": addr["targetRef"]})
            ready.sort(key=lambda a: a["ip"])
            notready.sort(key=lambda a: a["ip"])
            subsets = []
            if ready or notready:
                sub = {}
                if ready:
                    sub["addresses"] = ready
                if notready:
                    sub["notReadyAddresses"] = notready
                sub["ports"] = ports_seen
                subsets.append(sub)
            ep = self._get(R("Endpoints"), ns, name)
            labels = dict(svc["metadata"].get("labels") or {})
            if ep is None:
                ep = {"apiVersion": "v1", "kind": "Endpoints",
                      "metadata": {"name": name, "namespace": ns, "labels": labels,
                                   "annotations": {"endpoints.kubernetes.io/last-change-trigger-time":
                                                   rfc3339()}}}
                if subsets:
                    ep["subsets"] = subsets
                self.api_create(R("Endpoints"), ns, ep)
            elif not deep_eq(ep.get("subsets") or [], subsets):
                e2 = copy.deepcopy(ep)
                if subsets:
                    e2["subsets"] = subsets
                else:
                    e2.pop("subsets", None)
                e2["metadata"].setdefault("annotations", {})[
                    "endpoints.kubernetes.io/last-change-trigger-time"] = rfc3339()
                self._put(R("Endpoints"), e2)
            # EndpointSlice: one per Service here.
            slice_eps.sort(key=lambda e: e["addresses"][0])
            sports = [dict(p) for p in (ports_seen or [])]
            for sp in sports:
                sp.setdefault("name", "")
            if not sports:
                sports = [{"name": sp.get("name", ""), "port": None,
                           "protocol": sp.get("protocol", "TCP")} for sp in []]
            sname = self.slice_names.get(svc["metadata"]["uid"])
            es = self._get(R("EndpointSlice"), ns, sname) if sname else None
            body = {"endpoints": slice_eps or None, "ports": sports or None}
            if es is None:
                sname = "%s-%s" % (name, rand_suffix())
                self.slice_names[svc["metadata"]["uid"]] = sname
                sl = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": sname, "namespace": ns, "generateName": name + "-",
                                   "labels": dict(labels, **{
                                       "kubernetes.io/service-name": name,
                                       "endpointslice.kubernetes.io/managed-by":
                                       "endpointslice-controller.k8s.io"}),
                                   "annotations": {"endpoints.kubernetes.io/last-change-trigger-time":
                                                   rfc3339()},
                                   "ownerReferences": [owner_ref(svc)]},
                      "addressType": "IPv4"}
                sl.update(body)
                self.api_create(R("EndpointSlice"), ns, sl)
            elif es.get("endpoints") != body["endpoints"] or es.get("ports") != body["ports"]:
                s2 = copy.deepcopy(es)
                s2.update(body)
                s2["metadata"].setdefault("annotations", {})[
                    "endpoints.kubernetes.io/last-change-trigger-time"] = rfc3339()
                self._put(R("EndpointSlice"), s2)
        for ep in self._list(R("Endpoints")):
            key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
            svc = services.get(key)
            if svc is None or (svc["spec"].get("selector") and False):
                if svc is None and (ep["metadata"].get("annotations") or {}).get(
                        "endpoints.kubernetes.io/last-change-trigger-time"):
                    self._remove(R("Endpoints"), ep)

    # ---- the horizontal pod autoscaler -------------------------------------------------

    def usage(self, pod):
        """{container: (cpu cores, memory bytes)} of a running pod, None if no metrics."""
        rt = self.rt.get(pod["metadata"]["uid"])
        if not rt:
            return None
        out = {}
        for name, cs in rt["containers"].items():
            if cs["state"] == "running" and cs["proc"]:
                out[name] = (cs["proc"].cpu_m / 1000.0, cs["proc"].mem)
        return out or None

    def c_hpa(self):
        t = now()
        for hpa in self._list(R("HorizontalPodAutoscaler")):
            uid = hpa["metadata"]["uid"]
            if t < self.hpa_next.get(uid, 0):
                continue
            self.hpa_next[uid] = t + sim(15)
            self.sync_hpa(hpa, t)

    def sync_hpa(self, hpa, t):
        ns = hpa["metadata"]["namespace"]
        spec = hpa["spec"]
        ref = spec.get("scaleTargetRef") or {}
        prev = hpa.get("status") or {}
        pconds = {c["type"]: c for c in prev.get("conditions") or []}
        ts = rfc3339(t)

        def cond(ctype, ok, reason, message):
            status = "True" if ok else "False"
            old = pconds.get(ctype)
            return {"type": ctype, "status": status,
                    "lastTransitionTime": old["lastTransitionTime"] if old and
                    old.get("status") == status else ts, "reason": reason, "message": message}

        target = None
        if ref.get("kind") == "Deployment":
            target = self._get(R("Deployment"), ns, ref.get("name"))
        status = {"currentReplicas": prev.get("currentReplicas", 0),
                  "desiredReplicas": prev.get("desiredReplicas", 0)}
        if prev.get("lastScaleTime"):
            status["lastScaleTime"] = prev["lastScaleTime"]
        if target is None:
            msg = 'the HPA controller was unable to get the target\'s current scale: %s "%s" not found' \
                % ("deployments.apps" if ref.get("kind") == "Deployment" else ref.get("kind", "").lower(),
                   ref.get("name"))
            self.event(hpa, "Warning", "FailedGetScale", msg.split(": ", 1)[1],
                       "horizontal-pod-autoscaler")
            status["conditions"] = [cond("AbleToScale", False, "FailedGetScale", msg)]
            self.write_hpa_status(hpa, status)
            return
        current = target["spec"].get("replicas", 1)
        status["currentReplicas"] = (target.get("status") or {}).get("replicas", current)
        reqs = selector_from_label_selector(target["spec"].get("selector"))
        pods = [p for p in self._list(R("Pod"), ns)
                if labels_match(reqs, p["metadata"].get("labels")) and pod_active(p)
                and (p.get("status") or {}).get("phase") == "Running"]
        errors = []
        metrics = []
        ratios = []
        for mt in spec.get("metrics") or []:
            res = mt.get("resource") or {}
            if mt.get("type") != "Resource" or res.get("name") not in ("cpu", "memory"):
                errors.append("unable to get external metric: only Resource metrics are served here")
                continue
            rname = res["name"]
            tgt = res.get("target") or {}
            total_req = total_use = 0.0
            missing = None
            counted = 0
            for p in pods:
                use = self.usage(p)
                if use is None:
                    continue
                for c in p["spec"]["containers"]:
                    r = ((c.get("resources") or {}).get("requests") or {}).get(rname)
                    if r is None and tgt.get("type") == "Utilization":
                        missing = 'missing request for %s in container "%s" of Pod "%s"' % (
                            rname, c["name"], p["metadata"]["name"])
                        break
                    total_req += quantity(r) if r is not None else 0
                    total_use += use.get(c["name"], (0, 0))[0 if rname == "cpu" else 1]
                if missing:
                    break
                counted += 1
            if missing:
                errors.append("failed to get %s resource metric value: failed to get %s "
                              "utilization: %s" % (rname, rname, missing))
                self.event(hpa, "Warning", "FailedGetResourceMetric", "failed to get %s "
                           "utilization: %s" % (rname, missing), "horizontal-pod-autoscaler")
                continue
            if not counted:
                errors.append("failed to get %s resource metric value: failed to get %s "
                              "utilization: did not receive metrics for targeted pods (pods might "
                              "be unready)" % (rname, rname))
                self.event(hpa, "Warning", "FailedGetResourceMetric", "failed to get %s "
                           "utilization: did not receive metrics for targeted pods (pods might be "
                           "unready)" % rname, "horizontal-pod-autoscaler")
                continue
            if tgt.get("type") == "Utilization":
                util = int(round(100.0 * total_use / total_req)) if total_req else 0
                avg = total_use / counted
                cur = {"averageUtilization": util,
                       "averageValue": "%dm" % round(avg * 1000) if rname == "cpu"
                       else "%dKi" % (avg // 1024)}
                ratios.append(util / float(tgt.get("averageUtilization") or 100))
            else:
                avg = total_use / counted
                cur = {"averageValue": "%dm" % round(avg * 1000) if rname == "cpu"
                       else "%dKi" % (avg // 1024)}
                ratios.append(avg / (quantity(tgt.get("averageValue")) or 1))
            metrics.append({"type": "Resource", "resource": {"name": rname, "current": cur}})
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
        if errors and not metrics:
            first = errors[0]
            self.event(hpa, "Warning", "FailedComputeMetricsReplicas", "invalid metrics (%d invalid "
                       "out of %d), first error is: %s" % (len(errors), len(spec.get("metrics") or []),
                                                           first), "horizontal-pod-autoscaler")
            status["desiredReplicas"] = prev.get("desiredReplicas", current) or current
            status["currentMetrics"] = None
            status["conditions"] = [
                cond("AbleToScale", True, "SucceededGetScale",
                     "the HPA controller was able to get the target's current scale"),
                cond("ScalingActive", False, "FailedGetResourceMetric",
                     "the HPA was unable to compute the replica count: %s" % first)]
            self.write_hpa_status(hpa, status)
            return
        ratio = max(ratios) if ratios else 1.0
        desired = current if abs(ratio - 1.0) <= 0.1 else int(math.ceil(ratio * len(pods or [1])))
        limited = None
        if desired < lo:
            desired, limited = lo, ("TooFewReplicas", "the desired replica count is less than the "
                                    "minimum replica count")
        elif desired > hi:
            desired, limited = hi, ("TooManyReplicas", "the desired replica count is more than "
                                    "the maximum replica count")
        uid = hpa["metadata"]["uid"]
        if desired < current:
            since = self.hpa_low.setdefault(uid, t)
            window = ((spec.get("behavior") or {}).get("scaleDown") or {}).get(
                "stabilizationWindowSeconds", 300)
            if t - since < sim(window):
                desired = current
        else:
            self.hpa_low.pop(uid, None)
        able = cond("AbleToScale", True, "ReadyForNewScale", "recommended size matches current size")
        if desired != current:
            t2 = copy.deepcopy(target)
            t2["spec"]["replicas"] = desired
            self._commit_update(R("Deployment"), target, t2)
            reason = "All metrics below target" if desired < current else \
                "cpu resource utilization (percentage of request) above target"
            self.event(hpa, "Normal", "SuccessfulRescale", "New size: %d; reason: %s"
                       % (desired, reason), "horizontal-pod-autoscaler")
            status["lastScaleTime"] = ts
            able = cond("AbleToScale", True, "SucceededRescale",
                        "the HPA controller was able to update the target scale to %d" % desired)
        status["desiredReplicas"] = desired
        status["currentMetrics"] = metrics
        status["conditions"] = [
            able,
            cond("ScalingActive", True, "ValidMetricFound", "the HPA was able to successfully "
                 "calculate a replica count from cpu resource utilization (percentage of request)"),
            cond("ScalingLimited", bool(limited), limited[0] if limited else "DesiredWithinRange",
                 limited[1] if limited else "the desired count is within the acceptable range")]
        self.write_hpa_status(hpa, status)

    def write_hpa_status(self, hpa, status):
        if status.get("currentMetrics") is None:
            status.pop("currentMetrics", None)
        if deep_eq(hpa.get("status"), status):
            return
        h2 = copy.deepcopy(hpa)
        h2["status"] = status
        self._put(R("HorizontalPodAutoscaler"), h2)

    def pod_metrics(self, pod):
        use = self.usage(pod)
        if use is None:
            return None
        m = pod["metadata"]
        return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": m["name"], "namespace": m["namespace"],
                             "creationTimestamp": rfc3339(), "labels": m.get("labels") or {}},
                "timestamp": rfc3339(), "window": "15.01s",
                "containers": [{"name": n, "usage": {"cpu": "%dn" % int(cpu * 1e9),
                                                     "memory": "%dKi" % (mem // 1024)}}
                               for n, (cpu, mem) in sorted(use.items())]}


# ---- server-side printing (meta.k8s.io/v1 Table) --------------------------------------

def col(name, typ="string", fmt="", prio=0, desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}


def age(o):
    t = parse_time(o["metadata"].get("creationTimestamp"))
    return human_age(now() - t) if t else "<unknown>"


def join3(items, more_fmt=" + %d more..."):
    if not items:
        return "<none>"
    s = ",".join(items[:3])
    if len(items) > 3:
        s += more_fmt % (len(items) - 3)
    return s


def containers_images(spec):
    cs = (spec or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def pod_row(p):
    st = p.get("status") or {}
    spec = p.get("spec") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    for c in st.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    restarts = 0
    ready = 0
    last = None
    has_running = False
    for cs in reversed(st.get("containerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        lt = (cs.get("lastState") or {}).get("terminated")
        if lt and lt.get("finishedAt"):
            f = parse_time(lt["finishedAt"])
            last = f if last is None or (f and f > last) else last
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = "Signal:%d" % term["signal"] if term.get("signal") else \
                "ExitCode:%d" % term.get("exitCode", 0)
        elif cs.get("ready") and "running" in state:
            has_running = True
            ready += 1
    if reason == "Completed" and has_running:
        reason = "Running" if pod_ready(p) else "NotReady"
    if p["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    rs = "%d" % restarts
    if restarts and last:
        rs += " (%s ago)" % human_age(now() - last)
    return [p["metadata"]["name"], "%d/%d" % (ready, len(spec.get("containers") or [])), reason,
            rs, age(p), st.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>",
            "<none>"]


def svc_ports(spec):
    out = []
    for p in spec.get("ports") or []:
        if p.get("nodePort"):
            out.append("%d:%d/%s" % (p["port"], p["nodePort"], p.get("protocol", "TCP")))
        else:
            out.append("%d/%s" % (p["port"], p.get("protocol", "TCP")))
    return ",".join(out) or "<none>"


def hpa_targets(h):
    spec, st = h.get("spec") or {}, h.get("status") or {}
    cur = {((m.get("resource") or {}).get("name")): (m.get("resource") or {}).get("current") or {}
           for m in st.get("currentMetrics") or [] if m and m.get("type") == "Resource"}
    parts = []
    for m in spec.get("metrics") or []:
        res = m.get("resource") or {}
        tgt = res.get("target") or {}
        c = cur.get(res.get("name"))
        if tgt.get("type") == "Utilization":
            have = "%d%%" % c["averageUtilization"] if c and "averageUtilization" in c else "<unknown>"
            parts.append("%s: %s/%d%%" % (res.get("name"), have, tgt.get("averageUtilization", 0)))
        else:
            have = c.get("averageValue") if c else "<unknown>"
            parts.append("%s: %s/%s" % (res.get("name"), have, tgt.get("averageValue")))
    return ", ".join(parts) or "<none>"


def access_modes(modes):
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def event_row(e):
    inv = e.get("involvedObject") or {}
    last = e.get("lastTimestamp") or e.get("eventTime")
    t = parse_time(last)
    first = parse_time(e.get("firstTimestamp"))
    src = (e.get("source") or {}).get("component", "")
    if (e.get("source") or {}).get("host"):
        src += ", " + e["source"]["host"]
    return [human_age(now() - t) if t else "<unknown>", e.get("type", ""), e.get("reason", ""),
            "%s/%s" % ((inv.get("kind") or "").lower(), inv.get("name", "")),
            inv.get("fieldPath", ""), src, e.get("message", ""),
            human_age(now() - first) if first else "<unknown>", e.get("count", 1),
            e["metadata"]["name"]]


TABLES = {
    "Pod": ([col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts", "string"),
             col("Age"), col("IP", prio=1), col("Node", prio=1), col("Nominated Node", prio=1),
             col("Readiness Gates", prio=1)], pod_row),
    "Deployment": ([col("Name", fmt="name"), col("Ready"), col("Up-to-date", "integer"),
                    col("Available", "integer"), col("Age"), col("Containers", prio=1),
                    col("Images", prio=1), col("Selector", prio=1)],
                   lambda d: [d["metadata"]["name"], "%d/%d" % ((d.get("status") or {}).get(
                       "readyReplicas", 0), d["spec"].get("replicas", 1)),
                       (d.get("status") or {}).get("updatedReplicas", 0),
                       (d.get("status") or {}).get("availableReplicas", 0), age(d)] +
                   list(containers_images(d["spec"].get("template", {}).get("spec"))) +
                   [selector_string(d["spec"].get("selector"))]),
    "ReplicaSet": ([col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"),
                    col("Ready", "integer"), col("Age"), col("Containers", prio=1),
                    col("Images", prio=1), col("Selector", prio=1)],
                   lambda r: [r["metadata"]["name"], r["spec"].get("replicas", 0),
                              (r.get("status") or {}).get("replicas", 0),
                              (r.get("status") or {}).get("readyReplicas", 0), age(r)] +
                   list(containers_images(r["spec"].get("template", {}).get("spec"))) +
                   [selector_string(r["spec"].get("selector"))]),
    "Service": ([col("Name", fmt="name"), col("Type"), col("Cluster-IP"), col("External-IP"),
                 col("Port(s)"), col("Age"), col("Selector", prio=1)],
                lambda s: [s["metadata"]["name"], s["spec"].get("type", "ClusterIP"),
                           s["spec"].get("clusterIP") or "<none>", "<none>", svc_ports(s["spec"]),
                           age(s), ",".join("%s=%s" % kv for kv in sorted(
                               (s["spec"].get("selector") or {}).items())) or "<none>"]),
    "Endpoints": ([col("Name", fmt="name"), col("Endpoints"), col("Age")],
                  lambda e: [e["metadata"]["name"], join3(
                      ["%s:%d" % (a["ip"], p["port"]) for s in e.get("subsets") or []
                       for a in s.get("addresses") or [] for p in s.get("ports") or []]), age(e)]),
    "EndpointSlice": ([col("Name", fmt="name"), col("AddressType"), col("Ports"),
                       col("Endpoints"), col("Age")],
                      lambda e: [e["metadata"]["name"], e.get("addressType", ""),
                                 ",".join(str(p.get("port")) for p in e.get("ports") or [])
                                 or "<unset>",
                                 join3([a for ep in e.get("endpoints") or []
                                        for a in ep.get("addresses") or []]).replace(
                                     "<none>", "<unset>"), age(e)]),
    "Event": ([col("Last Seen"), col("Type"), col("Reason"), col("Object"),
               col("Subobject", prio=1), col("Source", prio=1), col("Message"),
               col("First Seen", prio=1), col("Count", "integer", prio=1),
               col("Name", fmt="name", prio=1)], event_row),
    "PersistentVolumeClaim": ([col("Name", fmt="name"), col("Status"), col("Volume"),
                               col("Capacity"), col("Access Modes"), col("StorageClass"),
                               col("VolumeAttributesClass"), col("Age"),
                               col("VolumeMode", prio=1)],
                              lambda c: [c["metadata"]["name"],
                                         "Terminating" if c["metadata"].get("deletionTimestamp")
                                         else (c.get("status") or {}).get("phase", "Pending"),
                                         c["spec"].get("volumeName", ""),
                                         ((c.get("status") or {}).get("capacity") or {}).get(
                                             "storage", ""),
                                         access_modes((c.get("status") or {}).get("accessModes")),
                                         c["spec"].get("storageClassName") or "<unset>",
                                         "<unset>", age(c), c["spec"].get("volumeMode", "")]),
    "PersistentVolume": ([col("Name", fmt="name"), col("Capacity"), col("Access Modes"),
                          col("Reclaim Policy"), col("Status"), col("Claim"),
                          col("StorageClass"), col("VolumeAttributesClass"), col("Reason"),
                          col("Age"), col("VolumeMode", prio=1)],
                         lambda v: [v["metadata"]["name"],
                                    (v["spec"].get("capacity") or {}).get("storage", ""),
                                    access_modes(v["spec"].get("accessModes")),
                                    v["spec"].get("persistentVolumeReclaimPolicy", ""),
                                    (v.get("status") or {}).get("phase", ""),
                                    "%s/%s" % ((v["spec"].get("claimRef") or {}).get("namespace", ""),
                                               (v["spec"].get("claimRef") or {}).get("name", ""))
                                    if v["spec"].get("claimRef") else "",
                                    v["spec"].get("storageClassName", ""), "<unset>", "", age(v),
                                    v["spec"].get("volumeMode", "")]),
    "HorizontalPodAutoscaler": ([col("Name", fmt="name"), col("Reference"), col("Targets"),
                                 col("MinPods", "integer"), col("MaxPods", "integer"),
                                 col("Replicas", "integer"), col("Age")],
                                lambda h: [h["metadata"]["name"], "%s/%s" % (
                                    (h["spec"].get("scaleTargetRef") or {}).get("kind", ""),
                                    (h["spec"].get("scaleTargetRef") or {}).get("name", "")),
                                    hpa_targets(h), h["spec"].get("minReplicas", 1),
                                    h["spec"].get("maxReplicas", 0),
                                    (h.get("status") or {}).get("currentReplicas", 0), age(h)]),
    "Node": ([col("Name", fmt="name"), col("Status"), col("Roles"), col("Age"), col("Version"),
              col("Internal-IP", prio=1), col("External-IP", prio=1), col("OS-Image", prio=1),
              col("Kernel-Version", prio=1), col("Container-Runtime", prio=1)],
             lambda n: [n["metadata"]["name"],
                        ("Ready" if any(c.get("type") == "Ready" and c.get("status") == "True"
                                        for c in (n.get("status") or {}).get("conditions") or [])
                         else "NotReady") + (",SchedulingDisabled" if n["spec"].get("unschedulable")
                                             else ""),
                        ",".join(sorted(k.split("/", 1)[1] for k in n["metadata"].get("labels", {})
                                        if k.startswith("node-role.kubernetes.io/"))) or "<none>",
                        age(n), n["status"]["nodeInfo"]["kubeletVersion"], "172.18.0.2", "<none>",
                        n["status"]["nodeInfo"]["osImage"], n["status"]["nodeInfo"]["kernelVersion"],
                        n["status"]["nodeInfo"]["containerRuntimeVersion"]]),
    "Namespace": ([col("Name", fmt="name"), col("Status"), col("Age")],
                  lambda n: [n["metadata"]["name"], (n.get("status") or {}).get("phase", "Active"),
                             age(n)]),
    "ConfigMap": ([col("Name", fmt="name"), col("Data", "integer"), col("Age")],
                  lambda c: [c["metadata"]["name"], len(c.get("data") or {}) +
                             len(c.get("binaryData") or {}), age(c)]),
    "Secret": ([col("Name", fmt="name"), col("Type"), col("Data", "integer"), col("Age")],
               lambda s: [s["metadata"]["name"], s.get("type", "Opaque"), len(s.get("data") or {}),
                          age(s)]),
    "StorageClass": ([col("Name", fmt="name"), col("Provisioner"), col("ReclaimPolicy"),
                      col("VolumeBindingMode"), col("AllowVolumeExpansion"), col("Age")],
                     lambda s: [s["metadata"]["name"] + (" (default)" if (s["metadata"].get(
                         "annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
                         == "true" else ""), s.get("provisioner", ""), s.get("reclaimPolicy", ""),
                         s.get("volumeBindingMode", ""), str(bool(s.get("allowVolumeExpansion"))).lower(),
                         age(s)]),
}


def to_table(kind, items, rv, with_columns=True):
    cols, row = TABLES.get(kind, ([col("Name", fmt="name"), col("Age")],
                                  lambda o: [o["metadata"]["name"], age(o)]))
    t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
         "rows": [{"cells": row(o), "object": o} for o in items]}
    t["columnDefinitions"] = cols if with_columns else None
    if not with_columns:
        del t["columnDefinitions"]
    return t


# ---- HTTP -------------------------------------------------------------------------------

SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
             "log": ["get"], "exec": ["create", "get"]}


def discovery_resources(group, version):
    out = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
             "kind": r.kind, "verbs": r.verbs}
        if r.short:
            e["shortNames"] = r.short
        if r.categories:
            e["categories"] = r.categories
        out.append(e)
        for sub, kind in r.subresources:
            s = {"name": "%s/%s" % (r.plural, sub), "singularName": "", "namespaced": r.namespaced,
                 "kind": kind, "verbs": SUB_VERBS[sub]}
            if sub == "scale":
                s["group"], s["version"] = "autoscaling", "v1"
            out.append(s)
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster = None
    logfile = None
    user = "chaoslab-test"

    def log_message(self, fmt, *args):
        if self.logfile:
            self.logfile.write("%s %s\n" % (rfc3339(), fmt % args))
            self.logfile.flush()

    def send_body(self, code, data, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, code, obj, ctype="application/json"):
        self.send_body(code, json.dumps(obj).encode(), ctype)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().strip() or b"0", 16)
                if n == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        try:
            self.route(method)
        except ApiError as e:
            self.send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug here must not look like a cluster answer
            import traceback
            traceback.print_exc(file=sys.stderr)
            try:
                self.send_json(500, ApiError(500, "InternalError", "internal error in the test "
                                             "API server: %s" % e).status())
            except OSError:
                pass

    def wants_table(self):
        acc = self.headers.get("Accept", "")
        first = acc.split(",")[0]
        return "as=Table" in first

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        path = u.path.rstrip("/") or "/"
        c = self.cluster
        if path == "/version":
            return self.send_json(200, SERVER_VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send_body(200, b"ok", "text/plain; charset=utf-8")
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "%s:%d" % self.server.server_address}]})
        if path == "/apis":
            groups = []
            for g, vs in GROUPS:
                groups.append({"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v),
                                                        "version": v} for v in vs],
                               "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]),
                                                    "version": vs[0]}})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path.startswith("/_fake/"):
            return self.fake_control(method, path, q)
        if path.startswith("/openapi/v3"):
            return self.openapi_v3(path)
        segs = [s for s in path.split("/") if s]
        if not segs or segs[0] not in ("api", "apis"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if segs[0] == "api":
            if len(segs) < 2:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, version, rest = "", segs[1], segs[2:]
        else:
            if len(segs) == 2:
                for g, vs in GROUPS:
                    if g == segs[1]:
                        return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": g,
                                                    "versions": [{"groupVersion": "%s/%s" % (g, v),
                                                                  "version": v} for v in vs],
                                                    "preferredVersion": {
                                                        "groupVersion": "%s/%s" % (g, vs[0]),
                                                        "version": vs[0]}})
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if len(segs) < 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, version, rest = segs[1], segs[2], segs[3:]
        if not rest:
            rl = discovery_resources(group, version)
            if not rl:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": "%s/%s" % (group, version) if group
                                        else version, "resources": rl})
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and find_res(group, version, rest[2]):
            ns = rest[1]
            rest = rest[2:]
        res = find_res(group, version, rest[0])
        if res is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if res.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not res.namespaced and ns is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry = q.get("dryRun") == "All"
        watch = q.get("watch") in ("true", "1")
        verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[method]
        if res.kind == "SelfSubjectAccessReview":
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                               "the requested resource")
            raw = self.read_body()
            if "protobuf" in self.headers.get("Content-Type", ""):
                body = ssar_from_protobuf(raw)
            else:
                body = json.loads(raw or b"{}")
            with c.lock:
                return self.send_json(201, c.access_review(body))
        resource_name = res.plural + ("/" + sub if sub else "")
        with c.lock:
            if c.denied(verb, resource_name, ns or ""):
                who = '%s "%s"' % (res.group_resource, name) if name else res.group_resource
                where = ('in the namespace "%s"' % ns) if ns else "at the cluster scope"
                raise ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource "%s" '
                               'in API group "%s" %s' % (who, self.user, verb, resource_name,
                                                         res.group, where),
                               {"name": name or "", "group": res.group, "kind": res.plural})
        if res.group == "metrics.k8s.io":
            return self.metrics(res, ns, name, q)
        if method == "GET" and watch:
            return self.watch(res, ns, q)
        if sub == "log":
            return self.logs(res, ns, name, q)
        if sub == "exec":
            raise bad_request("exec is not supported by this test API server: it runs no "
                              "containers")
        if sub not in (None, "status", "scale") or (sub == "scale" and res.kind not in
                                                    ("Deployment", "ReplicaSet")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET":
            with c.lock:
                if name:
                    o = c.api_get(res, ns, name)
                    if sub == "scale":
                        return self.send_json(200, c.scale_object(res, o))
                    if res.version == "v1" and res.kind == "HorizontalPodAutoscaler":
                        o = hpa_v2_to_v1(o)
                    if self.wants_table():
                        return self.send_json(200, to_table(res.kind, [o], o["metadata"]["resourceVersion"]))
                    return self.send_json(200, o)
                items = c.api_list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
                if res.version == "v1" and res.kind == "HorizontalPodAutoscaler":
                    items = [hpa_v2_to_v1(o) for o in items]
                if self.wants_table():
                    return self.send_json(200, to_table(res.kind, items, str(c.rv)))
                return self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                                            "metadata": {"resourceVersion": str(c.rv)},
                                            "items": items})
        body_raw = self.read_body()
        if "protobuf" in self.headers.get("Content-Type", ""):
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                           "format - this test API server reads JSON request bodies only (kubectl "
                           "create SUBCOMMAND sends protobuf: use kubectl create -f or apply)")
        if method == "POST":
            if name:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                               "the requested resource")
            try:
                body = json.loads(body_raw or b"null")
            except ValueError as e:
                raise bad_request("error decoding body: %s" % e)
            with c.lock:
                o = c.api_create(res, ns, body, dry)
                if res.version == "v1" and res.kind == "HorizontalPodAutoscaler":
                    o = hpa_v2_to_v1(o)
                return self.send_json(201, o)
        if method == "PUT":
            try:
                body = json.loads(body_raw or b"null")
            except ValueError as e:
                raise bad_request("error decoding body: %s" % e)
            with c.lock:
                o = c.api_update(res, ns, name, body, sub, dry)
                if res.version == "v1" and res.kind == "HorizontalPodAutoscaler" and sub != "scale":
                    o = hpa_v2_to_v1(o)
                return self.send_json(200, o)
        if method == "PATCH":
            with c.lock:
                o = c.api_patch(res, ns, name, self.headers.get("Content-Type"), body_raw, sub, dry)
                if res.version == "v1" and res.kind == "HorizontalPodAutoscaler" and sub != "scale":
                    o = hpa_v2_to_v1(o)
                return self.send_json(200, o)
        if method == "DELETE":
            opts = {}
            if body_raw.strip():
                try:
                    opts = json.loads(body_raw)
                except ValueError as e:
                    raise bad_request("error decoding DeleteOptions: %s" % e)
            for k in ("gracePeriodSeconds",):
                if k in q:
                    opts[k] = int(q[k])
            if "propagationPolicy" in q:
                opts["propagationPolicy"] = q["propagationPolicy"]
            with c.lock:
                if name:
                    o = c.api_delete(res, ns, name, opts, dry)
                    return self.send_json(200, o)
                items = c.api_list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
                for o in items:
                    c.api_delete(res, ns or o["metadata"].get("namespace", ""),
                                 o["metadata"]["name"], opts, dry)
                return self.send_json(200, {"kind": res.kind + "List",
                                            "apiVersion": res.api_version,
                                            "metadata": {"resourceVersion": str(c.rv)},
                                            "items": items})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                       "requested resource")

    def metrics(self, res, ns, name, q):
        c = self.cluster
        with c.lock:
            if res.kind == "PodMetrics":
                pods = [c.api_get(R("Pod"), ns, name)] if name else \
                    c.api_list(R("Pod"), ns, q.get("labelSelector"), q.get("fieldSelector"))
                items = [m for m in (c.pod_metrics(p) for p in pods) if m]
                if name:
                    if not items:
                        raise ApiError(404, "NotFound", 'podmetrics.metrics.k8s.io "%s/%s" not found'
                                       % (ns, name))
                    return self.send_json(200, items[0])
                return self.send_json(200, {"kind": "PodMetricsList",
                                            "apiVersion": "metrics.k8s.io/v1beta1",
                                            "metadata": {}, "items": items})
            cpu = mem = 0.0
            for p in c._list(R("Pod")):
                for cu, mu in (c.usage(p) or {}).values():
                    cpu += cu
                    mem += mu
            node = {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                    "metadata": {"name": NODE_NAME, "creationTimestamp": rfc3339(),
                                 "labels": c.node()["metadata"]["labels"]},
                    "timestamp": rfc3339(), "window": "20.05s",
                    "usage": {"cpu": "%dn" % int((cpu + 0.1) * 1e9),
                              "memory": "%dKi" % ((mem + (600 << 20)) // 1024)}}
            if name:
                return self.send_json(200, node)
            return self.send_json(200, {"kind": "NodeMetricsList",
                                        "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
                                        "items": [node]})

    def logs(self, res, ns, name, q):
        c = self.cluster
        with c.lock:
            pod = c.api_get(res, ns, name)
            names = [x["name"] for x in pod["spec"].get("containers") or []]
            cname = q.get("container")
            if not cname:
                if len(names) != 1:
                    raise bad_request("a container name must be specified for pod %s, choose one "
                                      "of: [%s]" % (name, " ".join(names)))
                cname = names[0]
            if cname not in names:
                raise bad_request('container %s is not valid for pod %s' % (cname, name))
            previous = q.get("previous") in ("true", "1")
            lines = c.pod_logs(pod, cname, previous)
            if lines is None:
                if previous:
                    raise bad_request('previous terminated container "%s" in pod "%s" not found'
                                      % (cname, name))
                reason = "ContainerCreating"
                for s in (pod.get("status") or {}).get("containerStatuses") or []:
                    if s["name"] == cname and (s.get("state") or {}).get("waiting"):
                        reason = s["state"]["waiting"].get("reason", reason)
                raise bad_request('container "%s" in pod "%s" is waiting to start: %s'
                                  % (cname, name, reason))
            lines = list(lines)
        tail = q.get("tailLines")
        if tail:
            lines = lines[-int(tail):] if int(tail) else []
        stamps = q.get("timestamps") in ("true", "1")
        text = "".join(("%s %s\n" % (micro(t)[:-1] + "000Z", l)) if stamps else l + "\n"
                       for t, l in lines)
        self.send_body(200, text.encode(), "text/plain")

    def client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False

    def watch(self, res, ns, q):
        c = self.cluster
        table = self.wants_table()
        lreq = parse_label_selector(q.get("labelSelector"))
        freq = parse_field_selector(q.get("fieldSelector"))
        timeout = int(q.get("timeoutSeconds") or 1800)
        skey = store_key(res)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        first = [True]

        def match(o):
            m = o["metadata"]
            if ns is not None and m.get("namespace") != ns:
                return False
            return labels_match(lreq, m.get("labels")) and fields_match(freq, o)

        def send(etype, o):
            if res.version == "v1" and res.kind == "HorizontalPodAutoscaler":
                o = hpa_v2_to_v1(o)
            obj = to_table(res.kind, [o], o["metadata"]["resourceVersion"], first[0]) if table else o
            first[0] = False
            data = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        rv = q.get("resourceVersion")
        with c.lock:
            if rv in (None, "", "0"):
                pos = c.rv
                initial = [o for o in c._list(res, ns) if match(o)]
            else:
                pos = int(rv)
                initial = []
                if pos < c.log_floor:
                    gone = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": "too old resource version: %d (%d)"
                            % (pos, c.log_floor), "reason": "Expired", "code": 410}
                    data = json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
                    return
        try:
            for o in initial:
                send("ADDED", o)
            self.wfile.flush()
            deadline = now() + timeout
            while now() < deadline and not c.stopped:
                with c.lock:
                    idx = bisect_right_rv(c.log, pos)
                    batch = [e for e in c.log[idx:] if e[1] == skey]
                    if c.log:
                        pos = max(pos, c.log[-1][0])
                    if not batch:
                        c.cond.wait(0.5)
                for _rv, _k, etype, o in batch:
                    if match(o):
                        send(etype, o)
                if batch:
                    self.wfile.flush()
                elif self.client_gone():
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def openapi_v3(self, path):
        """Just enough OpenAPI v3 for kubectl to see that every kind accepts the
        fieldValidation parameter (so it validates server-side and does not
        want a schema of its own). No schemas: `kubectl explain` is not served."""
        gvs = []
        for r in RESOURCES:
            gv = ("api/%s" % r.version) if not r.group else ("apis/%s/%s" % (r.group, r.version))
            if gv not in gvs:
                gvs.append(gv)
        if path == "/openapi/v3":
            return self.send_json(200, {"paths": {gv: {"serverRelativeURL": "/openapi/v3/%s?hash=%s"
                                                       % (gv, hashlib.sha1(gv.encode()).hexdigest()[:16].upper())}
                                                  for gv in gvs}})
        gv = path[len("/openapi/v3/"):]
        if gv not in gvs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        paths = {}
        for r in RESOURCES:
            rgv = ("api/%s" % r.version) if not r.group else ("apis/%s/%s" % (r.group, r.version))
            if rgv != gv or "patch" not in r.verbs:
                continue
            url = "/%s/%s%s/{name}" % (gv, "namespaces/{namespace}/" if r.namespaced else "", r.plural)
            paths[url] = {"patch": {
                "operationId": "patch%s" % r.kind,
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version,
                                                     "kind": r.kind},
                "parameters": [{"name": p, "in": "query", "schema": {"type": "string",
                                                                      "uniqueItems": True}}
                               for p in ("dryRun", "fieldManager", "fieldValidation", "force")],
                "responses": {"200": {"description": "OK"}}}}
        return self.send_json(200, {"openapi": "3.0.0", "info": {"title": "Kubernetes",
                                                                  "version": SERVER_VERSION["gitVersion"]},
                                    "paths": paths, "components": {"schemas": {}}})

    def fake_control(self, method, path, q):
        c = self.cluster
        if path == "/_fake/state":
            with c.lock:
                return self.send_json(200, {"%s/%s" % k: list(v.values()) for k, v in c.objs.items()})
        if path == "/_fake/deny" and method == "POST":
            rules = json.loads(self.read_body() or b"[]")
            with c.lock:
                c.deny = list(rules)
            return self.send_json(200, {"deny": rules})
        raise ApiError(404, "NotFound", "no such control endpoint")


def pb_fields(data):
    """Protocol buffer wire format: {field number: [values]} (varints as
    ints, length-delimited fields as bytes)."""
    out = {}
    i = 0

    def varint():
        nonlocal i
        shift = val = 0
        while True:
            b = data[i]
            i += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return val
    while i < len(data):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            v = varint()
        elif wt == 2:
            n = varint()
            v = data[i:i + n]
            i += n
        elif wt == 1:
            v = data[i:i + 8]
            i += 8
        elif wt == 5:
            v = data[i:i + 4]
            i += 4
        else:
            raise bad_request("unsupported protobuf wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def ssar_from_protobuf(raw):
    """kubectl auth can-i posts its SelfSubjectAccessReview as protobuf: the
    "k8s\\0" envelope (runtime.Unknown), whose raw field holds the review."""
    if not raw.startswith(b"k8s\x00"):
        raise bad_request("not a Kubernetes protobuf envelope")
    unknown = pb_fields(raw[4:])
    review = pb_fields(unknown.get(2, [b""])[0])
    spec = pb_fields(review.get(2, [b""])[0])
    out = {"spec": {}}
    if 1 in spec:
        ra = pb_fields(spec[1][0])
        names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                 6: "subresource", 7: "name"}
        out["spec"]["resourceAttributes"] = {names[k]: v[0].decode() for k, v in ra.items()
                                             if k in names}
    if 2 in spec:
        na = pb_fields(spec[2][0])
        out["spec"]["nonResourceAttributes"] = {"path": na.get(1, [b""])[0].decode(),
                                                "verb": na.get(2, [b""])[0].decode()}
    return out


def bisect_right_rv(log, rv):
    lo, hi = 0, len(log)
    while lo < hi:
        mid = (lo + hi) // 2
        if log[mid][0] <= rv:
            lo = mid + 1
        else:
            hi = mid
    return lo


# ---- the seeded cluster (what a fresh kind cluster has) ------------------------------------

COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


def seed(c):
    t = rfc3339()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage"):
        c.api_create(R("Namespace"), "", {"metadata": {"name": ns}})
    node = {"metadata": {"name": NODE_NAME, "labels": {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": NODE_NAME,
        "kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                 "providerID": "kind://docker/chaoslab/" + NODE_NAME}}
    n = c.api_create(R("Node"), "", node)
    n = copy.deepcopy(n)
    n["status"] = {
        "capacity": {"cpu": "4", "memory": "8131452Ki", "pods": "110",
                     "ephemeral-storage": "102626232Ki", "hugepages-2Mi": "0"},
        "allocatable": {"cpu": "4", "memory": "8131452Ki", "pods": "110",
                        "ephemeral-storage": "102626232Ki", "hugepages-2Mi": "0"},
        "conditions": [
            {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": t,
             "lastTransitionTime": t, "reason": "KubeletHasSufficientMemory",
             "message": "kubelet has sufficient memory available"},
            {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": t,
             "lastTransitionTime": t, "reason": "KubeletHasNoDiskPressure",
             "message": "kubelet has no disk pressure"},
            {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": t,
             "lastTransitionTime": t, "reason": "KubeletHasSufficientPID",
             "message": "kubelet has sufficient PID available"},
            {"type": "Ready", "status": "True", "lastHeartbeatTime": t, "lastTransitionTime": t,
             "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
        "addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                      {"type": "Hostname", "address": NODE_NAME}],
        "nodeInfo": {"machineID": "0d8e4a1f6c6d4a5e9a0b1c2d3e4f5a6b", "systemUUID": "5e0c",
                     "bootID": "b1c2", "kernelVersion": "6.1.0-28-amd64",
                     "osImage": "Debian GNU/Linux 12 (bookworm)",
                     "containerRuntimeVersion": "containerd://1.7.24",
                     "kubeletVersion": SERVER_VERSION["gitVersion"],
                     "kubeProxyVersion": SERVER_VERSION["gitVersion"],
                     "operatingSystem": "linux", "architecture": "amd64"}}
    c._put(R("Node"), n)
    c.api_create(R("StorageClass"), "", {
        "metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer"})
    c.api_create(R("Service"), "default", {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                      "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                      "targetPort": 6443}]}})
    c.api_create(R("Endpoints"), "default", {
        "metadata": {"name": "kubernetes", "labels": {
            "endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": "172.18.0.2"}],
                     "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]})
    c.api_create(R("ConfigMap"), "kube-system", {"metadata": {"name": "coredns"},
                                                 "data": {"Corefile": COREFILE}})
    probe = lambda path, port, delay: {"httpGet": {"path": path, "port": port, "scheme": "HTTP"},
                                       "initialDelaySeconds": delay}
    c.api_create(R("Deployment"), "kube-system", {
        "metadata": {"name": "coredns", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {
                     "priorityClassName": "system-cluster-critical",
                     "serviceAccountName": "coredns", "dnsPolicy": "Default",
                     "nodeSelector": {"kubernetes.io/os": "linux"},
                     "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                     {"key": "node-role.kubernetes.io/control-plane",
                                      "effect": "NoSchedule"}],
                     "volumes": [{"name": "config-volume", "configMap": {
                         "name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                     "containers": [{
                         "name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.3",
                         "args": ["-conf", "/etc/coredns/Corefile"],
                         "resources": {"limits": {"memory": "170Mi"},
                                       "requests": {"cpu": "100m", "memory": "70Mi"}},
                         "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns",
                                           "readOnly": True}],
                         "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                   {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                   {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                         "livenessProbe": dict(probe("/health", 8080, 60), timeoutSeconds=5,
                                               successThreshold=1, failureThreshold=5),
                         "readinessProbe": dict(probe("/ready", 8181, 0), timeoutSeconds=1,
                                                periodSeconds=10)}]}}}})
    c.api_create(R("Service"), "kube-system", {
        "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns",
                                                    "kubernetes.io/cluster-service": "true",
                                                    "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP",
                            "targetPort": 9153}]}})
    c.images_present.add("registry.k8s.io/coredns/coredns:v1.11.3")


def c_serviceaccounts(c):
    for n in c._list(R("Namespace")):
        name = n["metadata"]["name"]
        if n["metadata"].get("deletionTimestamp"):
            continue
        if c._get(R("ServiceAccount"), name, "default") is None:
            c.api_create(R("ServiceAccount"), name, {"metadata": {"name": "default"}})
        if name == "kube-system" and c._get(R("ServiceAccount"), name, "coredns") is None:
            c.api_create(R("ServiceAccount"), name, {"metadata": {"name": "coredns"}})
        if c._get(R("ConfigMap"), name, "kube-root-ca.crt") is None:
            c.api_create(R("ConfigMap"), name, {
                "metadata": {"name": "kube-root-ca.crt", "annotations": {
                    "kubernetes.io/description": "Contains a CA bundle that can be used to verify "
                    "the kube-apiserver when using internal endpoints such as the internal "
                    "service IP or kubernetes.default.svc. No other usage is guaranteed across "
                    "distributions of Kubernetes clusters."}},
                "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBg"
                         "kqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJlcm5ldGVz\n-----END CERTIFICATE-----\n"}})


def write_kubeconfig(path, port, context):
    text = """apiVersion: v1
kind: Config
clusters:
- name: %(ctx)s
  cluster:
    server: http://127.0.0.1:%(port)d
users:
- name: chaoslab-test
  user:
    token: chaoslab-test-token
contexts:
- name: %(ctx)s
  context:
    cluster: %(ctx)s
    user: chaoslab-test
current-context: %(ctx)s
preferences: {}
""" % {"ctx": context, "port": port}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    global SPEED
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--kubeconfig", required=True, help="write a kubeconfig for this server here")
    ap.add_argument("--context", default="chaoslab-fake", help="its context (and cluster) name")
    ap.add_argument("--speed", type=float, default=1.0,
                    help="cluster time runs this many times faster than real time")
    ap.add_argument("--deny", action="append", default=[],
                    help="VERB:RESOURCE[:NAMESPACE] the test user may not do ('*' matches any)")
    ap.add_argument("--log", help="append one line per request to this file")
    ap.add_argument("--no-seed", action="store_true", help="start without the kind-like objects")
    args = ap.parse_args()
    SPEED = max(args.speed, 0.01)
    random.seed()
    cluster = FakeCluster(args.deny)
    with cluster.lock:
        if not args.no_seed:
            seed(cluster)
        c_serviceaccounts(cluster)
    Handler.cluster = cluster
    if args.log:
        Handler.logfile = open(args.log, "a")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    write_kubeconfig(args.kubeconfig, port, args.context)

    def run_controllers():
        while not cluster.stopped:
            with cluster.lock:
                try:
                    cluster.tick()
                    c_serviceaccounts(cluster)
                except Exception:
                    import traceback
                    traceback.print_exc(file=sys.stderr)
            time.sleep(0.05)

    threading.Thread(target=run_controllers, daemon=True).start()

    def stop(signum, frame):
        cluster.stopped = True
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready %d" % port, flush=True)
    httpd.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
