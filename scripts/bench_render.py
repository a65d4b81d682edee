#!/usr/bin/env python3
"""`steps render` of chains of steps: the rendering's size and time, by layout.

Usage: bench_render.py --steps BIN --dir DIR --trials N [--sizes 10,100,1000]

For each size N, a steps file of N steps in a list (each `run: echo I`) is
rendered with `BIN render -o json --layout L FILE` for L = subpath (the
default: one `steps` volume, each step's directory mounted over it with
subPath, two mounts a step) and volumes (a volume a step, each mounted in every
step: the layout before, kept for podman 4.3), TRIALS times each.

Prints `key<TAB>value` lines:
  nN.L.bytes       the rendering as compact JSON, in bytes (as the API server
                   keeps it, and as steps measures it against its limits); for
                   a rendering steps refuses (above 1.5 MiB) the size its
                   message names
  nN.L.refused     1 when steps refused it (status 1), else 0
  nN.L.warned      1 when steps warned (above 256 KiB), else 0
  nN.L.time.*      the wall time of one render, the process included, in
                   microseconds (median, p10, p90, n)
Never judges the numbers.
"""

import argparse
import json
import os
import re
import subprocess
import time

from bench_lib import die, emit, emit_summary


def chain(n):
    lines = ["name: chain", "image: alpine", "steps:"]
    for i in range(n):
        lines += [f"  - name: s{i}", f"    run: echo {i}"]
    return "\n".join(lines) + "\n"


def render(binary, layout, path):
    t0 = time.perf_counter_ns()
    r = subprocess.run([binary, "render", "-o", "json", "--layout", layout, path], capture_output=True)
    return (time.perf_counter_ns() - t0) / 1000, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--sizes", default="10,100,1000")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    for n in [int(x) for x in a.sizes.split(",")]:
        path = os.path.join(a.dir, f"chain{n}.yaml")
        with open(path, "w") as f:
            f.write(chain(n))
        for layout in ("subpath", "volumes"):
            key = f"n{n}.{layout}"
            times = []
            r = None
            for _ in range(a.trials):
                us, r = render(a.steps, layout, path)
                times.append(us)
            err = r.stderr.decode()
            if r.returncode == 0:
                size = len(json.dumps(json.loads(r.stdout), separators=(",", ":")).encode())
            elif r.returncode == 1 and "of JSON (" in err:
                size = int(re.search(r"of JSON \((\d+) bytes\)", err).group(1))
            else:
                die(f"steps render --layout {layout} of {n} steps: status {r.returncode}: {err.strip()}")
            emit(f"{key}.bytes", size)
            emit(f"{key}.refused", int(r.returncode == 1))
            emit(f"{key}.warned", int("warning:" in err))
            emit_summary(f"{key}.time", times)


if __name__ == "__main__":
    main()
