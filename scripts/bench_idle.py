#!/usr/bin/env python3
"""Idle cost of a waiter: its wakeups while the path it waits for does not appear.

Usage: bench_idle.py --seconds S --dir DIR --waitfor BIN [--entrypoint BIN] [--interval I]

Started side by side, each waiting for its own path in DIR:
  waitfor     `waitfor DIR/w`
  entrypoint  `entrypoint --wait DIR/e --post-file DIR/e.done -- true`
  poll loop   `sh -c 'while [ ! -e DIR/p ]; do sleep I; done'` (I = 1)
After 1.5 s to settle, the counters are read, then again S seconds later; then
the paths are created and every waiter must exit 0.

A wakeup is counted as a context switch: voluntary_ctxt_switches +
nonvoluntary_ctxt_switches of /proc/PID/status (each time a task is switched
out it is later woken to run again). For the loop that is the shell's own
switches plus those of every `sleep` it starts: the shell's children are
listed every 20 ms (each lives about I seconds, so none is missed) and each
child's counters are read while it sleeps (its last reading counts: the one
switch after it is woken, into exit, is not seen, and neither is the fork
itself). The processes the shell started in the window are counted too.

Prints `key<TAB>value` lines: NAME.switches, NAME.per_s, loop.shell,
loop.children, loop.children_switches, seconds. Never judges the numbers.
"""

import argparse
import os
import time

from bench_lib import die, emit, spawn, wait_ok


def switches(pid):
    n = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
    return n


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--waitfor", required=True)
    ap.add_argument("--entrypoint")
    ap.add_argument("--interval", default="1")
    a = ap.parse_args()
    d = a.dir
    os.makedirs(d, exist_ok=True)

    pids = {"waitfor": spawn([a.waitfor, os.path.join(d, "w")])}
    if a.entrypoint:
        pids["entrypoint"] = spawn(
            [a.entrypoint, "--wait", os.path.join(d, "e"), "--post-file", os.path.join(d, "e.done"), "--", "true"]
        )
    script = f'while [ ! -e "$1" ]; do sleep {a.interval}; done'
    pids["loop"] = spawn(["sh", "-c", script, "sh", os.path.join(d, "p")])
    time.sleep(1.5)
    for name, pid in pids.items():
        if os.waitpid(pid, os.WNOHANG)[0] != 0:
            die(f"{name} ended before its path appeared")

    start = {name: switches(pid) for name, pid in pids.items()}
    before = set(children(pids["loop"]))
    seen = {}  # child pid -> last switch count
    t0 = time.monotonic()
    end = t0 + a.seconds
    while time.monotonic() < end:
        for kid in children(pids["loop"]):
            if kid in before:
                continue
            try:
                seen[kid] = switches(kid)
            except OSError:
                pass
        time.sleep(0.02)
    stop = {name: switches(pid) for name, pid in pids.items()}
    elapsed = time.monotonic() - t0

    for path in ("w", "e", "p"):
        open(os.path.join(d, path), "w").close()
    for name, pid in pids.items():
        wait_ok(pid, name)

    for name in pids:
        if name == "loop":
            continue
        n = stop[name] - start[name]
        emit(f"{name}.switches", n)
        emit(f"{name}.per_s", n / elapsed)
    shell = stop["loop"] - start["loop"]
    kids = sum(seen.values())
    emit("loop.shell", shell)
    emit("loop.children", len(seen))
    emit("loop.children_switches", kids)
    emit("loop.switches", shell + kids)
    emit("loop.per_s", (shell + kids) / elapsed)
    emit("seconds", elapsed)


if __name__ == "__main__":
    main()
