#!/usr/bin/env python3
"""entrypoint --stdout-path beside plain tee: the cost of relaying a command's
output to the log and to a file.

Usage: bench_relay.py --entrypoint BIN --size-mb M --trials N --dir DIR

A file of M MiB (a random MiB repeated) is written to DIR first. Each case
prints it to its stdout, a pipe this script drains (the container's log),
and is timed from posix_spawn to waitpid of the wrapper:
- bare: `cat SRC` (the floor);
- entrypoint: `entrypoint -- cat SRC` (no relay);
- relay: `entrypoint --stdout-path DIR/out -- cat SRC`;
- tee: `sh -c 'cat SRC | tee DIR/out'` (GNU tee, the baseline).
The cases run in a shuffled order per trial; the file written is compared with
the source once per case that writes one.

Prints `key<TAB>value` lines, microseconds: CASE.{median,p10,p90,n}; then
bytes. Never judges the numbers.
"""

import argparse
import filecmp
import os
import random
import threading
import time

from bench_lib import die, emit, emit_summary, spawn


def make_source(path, mib):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def drain(fd, counted):
    n = 0
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            break
        n += len(b)
    counted.append(n)
    os.close(fd)


def run(argv, size):
    r, w = os.pipe()
    counted = []
    t = threading.Thread(target=drain, args=(r, counted))
    t.start()
    t0 = time.monotonic_ns()
    pid = spawn(argv, stdout=w)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    t1 = time.monotonic_ns()
    t.join()
    if os.waitstatus_to_exitcode(status) != 0:
        die(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    if counted != [size]:
        die(f"{' '.join(argv)}: the log got {counted} bytes, not {size}")
    return (t1 - t0) / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entrypoint", required=True)
    ap.add_argument("--size-mb", type=int, required=True)
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    src = os.path.join(a.dir, "src")
    out = os.path.join(a.dir, "out")
    make_source(src, a.size_mb)
    size = os.path.getsize(src)
    cases = {
        "bare": ["cat", src],
        "entrypoint": [a.entrypoint, "--", "cat", src],
        "relay": [a.entrypoint, "--stdout-path", out, "--", "cat", src],
        "tee": ["sh", "-c", f"cat '{src}' | tee '{out}'"],
    }
    times = {c: [] for c in cases}
    checked = set()
    for _ in range(a.trials):
        order = list(cases)
        random.shuffle(order)
        for c in order:
            if os.path.exists(out):
                os.unlink(out)
            times[c].append(run(cases[c], size))
            if c in ("relay", "tee") and c not in checked:
                if not filecmp.cmp(src, out, shallow=False):
                    die(f"{c}: the file differs from the source")
                checked.add(c)
    for c, v in times.items():
        emit_summary(c, v)
    emit("bytes", size)


if __name__ == "__main__":
    main()
