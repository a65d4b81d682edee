#!/usr/bin/env python3
"""bench_kube.py: pods of N steps on the real test node (tests/kube/node), side by side.

    scripts/bench_kube.py [--steps 3,10,30] [--runs 3] [--variants ours,init,poll,floor,...]

For each N and each variant, a pod of N steps (each `true`, the last one `echo end`)
is applied with `kubectl apply` and timed from just before that call to the last
step's end: the `end` line's time in `kubectl logs --timestamps` (containerd's own
clock, in ns, on this same machine). Variants:

  ours      `steps render` of the N steps: one init container copying the tools, each
            step wrapped in entrypoint, waiting for the one before (event-driven)
  init      the seed's first idea: the first N-1 steps as a chain of initContainers,
            the last as the pod's container
  poll      the seed's pod with Tekton's 1 s polling wait in each step: every step a
            container of a shared emptyDir, `while [ ! -e PREV ]; do sleep 1; done`
  floor     N containers that only `echo end`, unordered: the kubelet's own start of N
            containers, the floor under any ordering
  one       `steps render` of one step (`echo end`): with the copier init container
  one-image the same with `--tools-from image` (no init container: the tools' image is
            a volume)
  bare      one container `echo end`, no init container: `one` - `bare` is what the
            copier init container costs a pod's start, `one` - `one-image` what
            `--tools-from image` saves
  image     `steps render --tools-from image` of the N steps (no copier init container),
            when dist/steps has that option

Output: `key<TAB>value` lines, times in µs: NAME.median, NAME.p10, NAME.p90, NAME.n,
where NAME is N.VARIANT (`one`, `one-image`, `bare`: 1.one, 1.one-image, 1.bare). The variants' order rotates
from run to run, so a drift in the machine's load hits all alike. The node is started
if it is not up (and taken down afterwards, unless it was up already).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "kube"))
import kubelib  # noqa: E402

os.environ.setdefault("KUBE_NS", "steps-bench")
kubelib.NS = os.environ["KUBE_NS"]
from kubelib import IMAGE, NODE, Failure, apply, kubectl, log_times, render, wait_pod  # noqa: E402


def steps_file(name, n, extra=""):
    lines = [f"name: {name}", f"image: {IMAGE}", f"tools: {kubelib.TOOLS}", extra, "steps:"]
    for i in range(1, n + 1):
        lines.append(f"  - name: s{i}")
        lines.append('    run: "echo end"' if i == n else '    run: "true"')
    return "\n".join(l for l in lines if l) + "\n"


def container(name, script, mounts=""):
    return (f"    - name: {name}\n      image: {IMAGE}\n      imagePullPolicy: IfNotPresent\n"
            f"      command: [sh, -c, '{script}']\n{mounts}")


def pod(name, inits, containers, volumes=""):
    out = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n"
    if inits:
        out += "  initContainers:\n" + "".join(inits)
    out += "  containers:\n" + "".join(containers)
    return out + volumes


def manifest(variant, n):
    name = f"bench-{variant}-{n}"
    if variant == "ours":
        return name, render(steps_file(name, n))
    if variant == "image":
        return name, render(steps_file(name, n), "--tools-from", "image")
    if variant == "one":
        return name, render(steps_file(name, 1))
    if variant == "one-image":
        return name, render(steps_file(name, 1), "--tools-from", "image")
    if variant == "bare":
        return name, pod(name, [], [container("s1", "echo end")])
    if variant == "init":
        inits = [container(f"s{i}", "true") for i in range(1, n)]
        return name, pod(name, inits, [container(f"s{n}", "echo end")])
    if variant == "floor":
        return name, pod(name, [], [container(f"s{i}", "echo end") for i in range(1, n + 1)])
    if variant == "poll":
        m = "      volumeMounts: [{name: steps, mountPath: /steps}]\n"
        cs = []
        for i in range(1, n + 1):
            wait = "" if i == 1 else f"while [ ! -e /steps/s{i - 1} ]; do sleep 1; done; "
            last = "echo end" if i == n else "true"
            cs.append(container(f"s{i}", f"{wait}{last}; touch /steps/s{i}", m))
        return name, pod(name, [], cs, "  volumes: [{name: steps, emptyDir: {}}]\n")
    raise SystemExit(f"bench_kube: unknown variant {variant}")


def end_of(name, p, variant, n):
    """When the last step printed `end` (the latest, for `floor`), in s since the epoch."""
    conts = [f"s{i}" for i in range(1, n + 1)] if variant == "floor" else [f"s{n}"]
    times = []
    for c in conts:
        lines = [t for t, text in log_times(name, c) if text == "end"]
        if not lines:
            raise Failure(f"{name}: no 'end' in the log of {c}")
        times.append(lines[-1])
    return max(times)


def run_one(variant, n):
    name, text = manifest(variant, n)
    kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true", "--grace-period=1")
    t0 = time.time()
    apply(text)
    p = wait_pod(name, 300)
    if p["status"]["phase"] != "Succeeded":
        raise Failure(f"{name}: phase {p['status']['phase']}")
    t = end_of(name, p, variant, n)
    kubectl("delete", "pod", name, "--wait=false", "--grace-period=1")
    return (t - t0) * 1e6


def summary(xs):
    xs = sorted(xs)
    q = lambda f: xs[min(len(xs) - 1, int(f * (len(xs) - 1) + 0.5))]  # noqa: E731
    return {"median": statistics.median(xs), "p10": q(0.1), "p90": q(0.9), "n": len(xs)}


def has_tools_from_image():
    r = subprocess.run([str(kubelib.STEPS), "render", "--help"], capture_output=True, text=True)
    return "--tools-from" in r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="3,10,30")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variants", default="ours,init,poll,floor,image")
    ap.add_argument("--start-runs", type=int, default=5, help="runs of `one` and `bare`")
    a = ap.parse_args()
    variants = [v for v in a.variants.split(",") if v]
    if "image" in variants and not has_tools_from_image():
        variants.remove("image")
    was_up = subprocess.run([str(NODE), "status"], capture_output=True).returncode == 0
    up = subprocess.run([str(NODE), "up"], stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    if up.returncode != 0:
        print("bench_kube: the node did not come up", file=sys.stderr)
        return 1
    try:
        kubectl("delete", "namespace", kubelib.NS, "--ignore-not-found", "--wait=true", ns=False)
        kubectl("create", "namespace", kubelib.NS, ns=False)
        kubectl("wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "--timeout=60s")
        results = {}
        jobs = [(n, v) for n in [int(x) for x in a.steps.split(",")] for v in variants]
        for r in range(a.runs):
            order = jobs[r % len(jobs):] + jobs[:r % len(jobs)]
            for n, v in order:
                results.setdefault(f"{n}.{v}", []).append(run_one(v, n))
        starts = ["one", "bare"] + (["one-image"] if "image" in variants else [])
        for r in range(a.start_runs):
            for v in starts[r % len(starts):] + starts[:r % len(starts)]:
                results.setdefault(f"1.{v}", []).append(run_one(v, 1))
        for key, xs in sorted(results.items()):
            for k, val in summary(xs).items():
                print(f"{key}.{k}\t{val:.0f}")
    finally:
        kubectl("delete", "namespace", kubelib.NS, "--wait=false", check=False, ns=False)
        if not was_up:
            subprocess.run([str(NODE), "down"], stdout=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
