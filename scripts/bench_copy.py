#!/usr/bin/env python3
"""copier beside cp: one large file, and a few small executables.

Usage: bench_copy.py --copier BIN --size-mb M --trials N --small-trials N2
                     --disk DIR --tmpfs DIR --tools FILE...

A file of M MiB (a random MiB repeated) is written to DIR (--disk) first.
Cases: that file, and the --tools files, each copied into an empty new
directory on the same filesystem as the source (DIR/dst) and into one on
tmpfs (--tmpfs/dst). Per trial and case, `copier SRC... DEST/` and
`cp SRC... DEST/` run in a shuffled order; each is timed from just before
posix_spawn to just after waitpid; the destination directory is removed and
made again, empty, before each run (not timed). The copies are compared with
the sources once per case and tool. Nothing is synced: the figures are page
cache copies, as in a pod's init container.

Prints `key<TAB>value` lines, microseconds: CASE.TOOL.{median,p10,p90,n} with
CASE in big_same, big_tmpfs, tools_same, tools_tmpfs and TOOL in copier, cp;
then big.bytes. Never judges the numbers.
"""

import argparse
import filecmp
import os
import random
import shutil
import time

from bench_lib import die, emit, emit_summary, spawn


def make_source(path, mib):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def run(argv):
    t0 = time.monotonic_ns()
    _, status = os.waitpid(spawn(argv), 0)
    t1 = time.monotonic_ns()
    if os.waitstatus_to_exitcode(status) != 0:
        die(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return (t1 - t0) / 1000


def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--copier", required=True)
    ap.add_argument("--size-mb", type=int, required=True)
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--small-trials", type=int, required=True)
    ap.add_argument("--disk", required=True)
    ap.add_argument("--tmpfs", required=True)
    ap.add_argument("--tools", nargs="+", required=True)
    a = ap.parse_args()

    os.makedirs(a.disk, exist_ok=True)
    os.makedirs(a.tmpfs, exist_ok=True)
    big = os.path.join(a.disk, "big.bin")
    make_source(big, a.size_mb)
    same, tmp = os.path.join(a.disk, "dst"), os.path.join(a.tmpfs, "dst")
    cases = [
        ("big_same", [big], same, a.trials),
        ("big_tmpfs", [big], tmp, a.trials),
        ("tools_same", a.tools, same, a.small_trials),
        ("tools_tmpfs", a.tools, tmp, a.small_trials),
    ]
    tools = {"copier": [a.copier], "cp": ["cp"]}
    rng = random.Random(5)
    for case, srcs, dest, trials in cases:
        times = {t: [] for t in tools}
        for k in range(trials):
            order = list(tools)
            rng.shuffle(order)
            for t in order:
                fresh(dest)
                times[t].append(run(tools[t] + srcs + [dest + "/"]))
                if k == 0:
                    for s in srcs:
                        out = os.path.join(dest, os.path.basename(s))
                        if not filecmp.cmp(s, out, shallow=False):
                            die(f"{t}: {out} differs from {s}")
        shutil.rmtree(dest, ignore_errors=True)
        for t in tools:
            emit_summary(f"{case}.{t}", times[t])
    emit("big.bytes", os.path.getsize(big))
    os.unlink(big)


if __name__ == "__main__":
    main()
