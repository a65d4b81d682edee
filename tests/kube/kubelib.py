"""kubelib: what the Kubernetes suite (tests/kube/run) and its benchmark
(scripts/bench_kube.py) share: kubectl on the test node, rendering with dist/steps,
waiting for pods, reading their status, termination messages, logs, and the step
directories on the node's disk.
"""
import datetime
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "tests" / "kube" / "node"
STEPS = Path(os.environ.get("STEPS", ROOT / "dist" / "steps"))
STATE = Path(os.environ.get("KUBE_STATE", "/var/tmp/steps-kube"))
NS = os.environ.get("KUBE_NS", "steps-e2e")
IMAGE = "localhost/steps-busybox:test"
TOOLS = "localhost/ordered-steps:test"
WORK = Path(tempfile.mkdtemp(prefix="kube."))


def say(*a):
    print("kube:", *a, flush=True)


# --- the node and kubectl ------------------------------------------------------------

def kubectl(*args, input=None, check=True, timeout=180, ns=True):
    cmd = [str(NODE), "kubectl"] + (["-n", NS] if ns else []) + [str(a) for a in args]
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise Failure(f"kubectl {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Failure(Exception):
    pass


def render(source, *opts):
    """steps render [OPTS] FILE|text: the manifest text (a source with a newline is a steps file's text)."""
    if "\n" in str(source):
        path = WORK / "case.steps.yaml"
        path.write_text(source)
    else:
        path = ROOT / source
    r = subprocess.run([str(STEPS), "render", *opts, str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"steps render {' '.join(opts)} {source if len(str(source)) < 80 else '(text)'}: exit {r.returncode}: {r.stderr.strip()}")
    # A rendering may name the namespace `default` (from the file's metadata): this run's own.
    out = re.sub(r"(?m)^(  namespace: )default$", r"\g<1>" + NS, r.stdout)
    return re.sub(r'("namespace": )"default"', r'\1"' + NS + '"', out)


def apply(manifest, *extra):
    return kubectl("apply", *extra, "-f", "-", input=manifest)


def get(kind, name):
    return json.loads(kubectl("get", kind, name, "-o", "json").stdout)


def pod_name(manifest):
    m = re.search(r"(?m)^metadata:\n(?:  .*\n)*?  name: (\S+)", manifest)
    if not m:
        m = re.search(r'"name": "([^"]+)"', manifest)
    return m.group(1)


def wait_pod(name, timeout=180, phases=("Succeeded", "Failed")):
    """Polls until the pod's phase is one of PHASES; returns the pod."""
    end = time.time() + timeout
    p = None
    while time.time() < end:
        r = kubectl("get", "pod", name, "-o", "json", check=False)
        if r.returncode == 0:
            p = json.loads(r.stdout)
            if p.get("status", {}).get("phase") in phases:
                return p
        time.sleep(0.5)
    raise Failure(f"pod {name} not {'/'.join(phases)} within {timeout} s: phase "
                  f"{(p or {}).get('status', {}).get('phase')}\n{describe(name)}")


def describe(name):
    r = kubectl("describe", "pod", name, check=False)
    return "\n".join("     | " + l for l in r.stdout.splitlines()[-25:])


def statuses(p):
    """Container name -> status, init containers included."""
    s = p.get("status", {})
    return {c["name"]: c for c in s.get("initContainerStatuses", []) + s.get("containerStatuses", [])}


def terminated(p, c):
    st = statuses(p).get(c, {}).get("state", {})
    if "terminated" not in st:
        raise Failure(f"container {c} is not terminated: {json.dumps(st)}")
    return st["terminated"]


def message(p, c):
    """Our termination message of container C, as {key: value} (results included)."""
    t = terminated(p, c)
    raw = t.get("message", "")
    try:
        entries = json.loads(raw)
    except ValueError:
        raise Failure(f"{c}: termination message is not JSON: {raw!r}")
    return {e["key"]: e["value"] for e in entries}


def logs(pod, c):
    return kubectl("logs", pod, "-c", c, check=False).stdout


class Snapshots:
    """Copies of the pods' step directories, taken from the node's disk while the pods run.

    The kubelet removes a pod's emptyDir volumes once the pod has ended, so a thread
    copies the regular files of every watched pod's volumes (content and mtime) every
    0.1 s until the pod is gone or its volumes are; the markers and termination files
    are written before the wrappers exit, which is seconds before that teardown. The
    liveness locks (FIFOs) are never opened.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}   # (uid, volume-relative path) -> (bytes, mtime_ns)
        self.watched = set()
        threading.Thread(target=self.loop, daemon=True).start()

    def base(self, uid):
        return STATE / "kubelet" / "pods" / uid / "volumes" / "kubernetes.io~empty-dir"

    def watch(self, uid):
        with self.lock:
            self.watched.add(uid)

    def loop(self):
        while True:
            with self.lock:
                uids = list(self.watched)
            for uid in uids:
                base = self.base(uid)
                if not base.parent.parent.exists():
                    with self.lock:
                        self.watched.discard(uid)
                    continue
                # The kubelet's own termination message files (pods/UID/containers/NAME/ID),
                # bind-mounted at each container's terminationMessagePath.
                for dirpath, dirnames, filenames in os.walk(base.parent.parent / "containers"):
                    for f in filenames:
                        path = Path(dirpath) / f
                        try:
                            st = path.lstat()
                            data = path.read_bytes()
                        except OSError:
                            continue
                        with self.lock:
                            self.files[(uid, f"containers/{path.parent.name}")] = (data, st.st_mtime_ns)
                for dirpath, dirnames, filenames in os.walk(base):
                    for f in filenames:
                        path = Path(dirpath) / f
                        try:
                            st = path.lstat()
                            if not (st.st_mode & 0o170000 == 0o100000):
                                continue
                            key = (uid, str(path.relative_to(base)))
                            old = self.files.get(key)
                            if old and old[1] == st.st_mtime_ns and len(old[0]) == st.st_size:
                                continue
                            data = path.read_bytes()
                            with self.lock:
                                self.files[key] = (data, st.st_mtime_ns)
                        except OSError:
                            pass
            time.sleep(0.1)

    def get(self, uid, step, name):
        """STEP's file NAME; `termination`: the message file the kubelet mounted there."""
        with self.lock:
            rels = [f"steps/{step}/{name}", f"step-{step}/{name}"]
            if name == "termination":
                rels.insert(0, f"containers/{step}")
            for rel in rels:
                if (uid, rel) in self.files:
                    return self.files[(uid, rel)]
        return None


SNAP = None


def snapshots():
    """Starts the one Snapshots thread (once)."""
    global SNAP
    if SNAP is None:
        SNAP = Snapshots()
    return SNAP


def watch_uid(name, timeout=60):
    """Starts copying pod NAME's step directories as soon as it has a uid."""
    end = time.time() + timeout
    while time.time() < end:
        r = kubectl("get", "pod", name, "-o", "jsonpath={.metadata.uid}", check=False)
        if r.returncode == 0 and r.stdout:
            snapshots().watch(r.stdout)
            return r.stdout
        time.sleep(0.1)
    raise Failure(f"pod {name} has no uid within {timeout} s")


def read(p, step, name):
    """A file of a step's directory (from the snapshots), or None."""
    got = snapshots().get(p["metadata"]["uid"], step, name)
    return got[0].decode() if got else None


def started_ms(p, c):
    v = message(p, c)["StartedAt"]
    t = datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() * 1000


def marker_ms(p, step, name="out"):
    """When a step's marker appeared (its mtime), in ms since the epoch."""
    got = snapshots().get(p["metadata"]["uid"], step, name)
    if not got:
        raise Failure(f"{step}: no {name} in its directory")
    return got[1] // 1_000_000


def uptime_of(p, step, what, log="log"):
    """The /proc/uptime a step wrote into its own log: `start T`, `end T`."""
    text = read(p, step, log) or ""
    for line in text.splitlines():
        w = line.split()
        if len(w) == 2 and w[0] == what:
            return float(w[1])
    raise Failure(f"{step}: no '{what}' in its log: {text!r}")


def delete_all():
    kubectl("delete", "pods,jobs", "--all", "--wait=true", "--grace-period=1", "--timeout=120s", check=False)


def log_times(pod, c):
    """[(datetime seconds since the epoch, line)] of `kubectl logs --timestamps POD -c C`:
    containerd's own time of each line, in ns."""
    out = []
    for line in kubectl("logs", pod, "-c", c, "--timestamps", check=False).stdout.splitlines():
        ts, _, text = line.partition(" ")
        m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", ts)
        if not m:
            continue
        base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        frac = int((m.group(2) or "0").ljust(9, "0")[:9])
        out.append((base.timestamp() + frac / 1e9, text))
    return out
