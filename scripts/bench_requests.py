#!/usr/bin/env python3
"""What a wide DAG of steps asks the scheduler for: `steps render` with and
without `--pod-resources`, beside Kubernetes' plain sum and Tekton's even
split, computed from renderings (no cluster, no timing).

Usage: bench_requests.py --steps BIN --dir DIR [--widths 10,50]

The DAG of width W: `fetch` (500m CPU, 512Mi), then W `build-I` after it
(1 CPU, 2Gi each), each `test-I` after its build (500m, 1Gi), `publish` after
every test (250m, 256Mi); every step asks requests equal to its limits, as a
Guaranteed pod's containers must. Its N = 2W + 2 steps never all run at once:
at most W (the builds, or builds and tests of other lanes) do.

For each width, four pods' requests, and the QoS class Kubernetes gives each
(KEP 2837's rules: with `spec.resources`, the pod's own requests and limits
decide; without, every container's):
  sum      the same containers with every step's request as written (what
           Kubernetes adds up: a pod's request is the sum of its containers')
  tekton   the steps as one Tekton Task whose task-level request is split
           evenly over the steps (TEP-0104: requests and limits divided by N):
           to give every step what the largest asks, the task asks N times it
  sized    `steps render`: the containers' requests sized so that they add up
           to what can run at once (the maximum-weight antichain), plus the
           tools' own containers
  pod      `steps render --pod-resources`: the same total as the pod's own
           `spec.resources`, limits equal to requests

Prints `key<TAB>value` lines: wW.KIND.cpu (millicores), wW.KIND.memory
(MiB), wW.KIND.qos, and wW.steps (N). Never judges the numbers.
"""

import argparse
import json
import os
import re
import subprocess

from bench_lib import die, emit

# (cpu in millicores, memory in MiB) of each kind of step
FETCH, BUILD, TEST, PUBLISH = (500, 512), (1000, 2048), (500, 1024), (250, 256)


def dag(width):
    def step(name, needs, amount):
        q = f"{{cpu: {amount[0]}m, memory: {amount[1]}Mi}}"
        n = "" if needs is None else f", needs: [{', '.join(needs)}]"
        return f"  - {{name: {name}, run: 'true'{n}, resources: {{requests: {q}, limits: {q}}}}}"

    lines = ["name: wide", "image: alpine", "steps:", step("fetch", None, FETCH)]
    lines += [step(f"build-{i}", ["fetch"], BUILD) for i in range(width)]
    lines += [step(f"test-{i}", [f"build-{i}"], TEST) for i in range(width)]
    lines.append(step("publish", [f"test-{i}" for i in range(width)], PUBLISH))
    written = {"fetch": FETCH, "publish": PUBLISH}
    written.update({f"build-{i}": BUILD for i in range(width)})
    written.update({f"test-{i}": TEST for i in range(width)})
    return "\n".join(lines) + "\n", written


UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "m": 1e-3}


def quantity(q):
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(q))
    if not m or m.group(2) not in UNITS:
        die(f"quantity {q!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def amounts(c, resource):
    """(request, limit) of a container, the request defaulting to the limit."""
    r = c.get("resources", {})
    limit = r.get("limits", {}).get(resource)
    request = r.get("requests", {}).get(resource, limit)
    return (quantity(request) if request is not None else 0.0, quantity(limit) if limit is not None else None)


def effective(spec, resource, override=None):
    """KEP 753: the most of an init container (with the native sidecars before
    it) and the containers with every native sidecar; `override` replaces the
    request of the containers it names."""
    def req(c):
        if override and c["name"] in override:
            return override[c["name"]]
        return amounts(c, resource)[0]

    sidecars, most = 0.0, 0.0
    for c in spec.get("initContainers", []):
        if c.get("restartPolicy") == "Always":
            sidecars += req(c)
        else:
            most = max(most, sidecars + req(c))
    return max(most, sidecars + sum(req(c) for c in spec["containers"]))


def qos(spec):
    """KEP 2837's QoS class (Guaranteed or Burstable, for these pods)."""
    if "resources" in spec:
        r = spec["resources"]
        same = all(r.get("limits", {}).get(k) is not None
                   and quantity(r["requests"][k]) == quantity(r["limits"][k]) for k in ("cpu", "memory"))
        return "Guaranteed" if same else "Burstable"
    for c in spec.get("initContainers", []) + spec["containers"]:
        for k in ("cpu", "memory"):
            req, lim = amounts(c, k)
            if lim is None or req != lim:
                return "Burstable"
    return "Guaranteed"


def render(binary, path, *args):
    r = subprocess.run([binary, "render", "-o", "json", *args, path], capture_output=True)
    if r.returncode != 0:
        die(f"steps render {' '.join(args)}: status {r.returncode}: {r.stderr.decode().strip()}")
    return json.loads(r.stdout)["spec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--widths", default="10,50")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    for width in [int(x) for x in a.widths.split(",")]:
        text, written = dag(width)
        path = os.path.join(a.dir, f"wide{width}.yaml")
        with open(path, "w") as f:
            f.write(text)
        sized = render(a.steps, path)
        pod = render(a.steps, path, "--pod-resources")
        n = len(written)
        key = f"w{width}"
        emit(f"{key}.steps", n)
        for i, resource in enumerate(("cpu", "memory")):
            scale = 1000 if resource == "cpu" else 1 / 1024**2
            as_written = {name: amount[i] / 1000 if resource == "cpu" else amount[i] * 1024**2
                          for name, amount in written.items()}
            largest = max(as_written.values())
            figures = {
                "sum": effective(sized, resource, as_written),
                "tekton": n * largest,
                "sized": effective(sized, resource),
                "pod": quantity(pod["resources"]["requests"][resource]),
            }
            for kind, value in figures.items():
                emit(f"{key}.{kind}.{resource}", round(value * scale))
        # as written, every container asks requests equal to limits; Tekton
        # divides a task's requests and limits alike, so equal stays equal
        emit(f"{key}.sum.qos", "Guaranteed")
        emit(f"{key}.tekton.qos", "Guaranteed")
        emit(f"{key}.sized.qos", qos(sized))
        emit(f"{key}.pod.qos", qos(pod))


if __name__ == "__main__":
    main()
