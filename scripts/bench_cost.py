#!/usr/bin/env python3
"""Wall time of short commands: per-run cost of a wrapper around `true`.

Usage: bench_cost.py --runs N [--rounds R] [--hyperfine BIN] --cmd NAME=ARGV...

ARGV is split on spaces (no quoting needed for these commands). With
--hyperfine, R rounds of `hyperfine -N` (no shell, output discarded) each run
every command N/R times after 5 warm-up runs, the order of the commands
rotating between rounds, so that a drift in the machine's load hits all of
them alike; the times of all rounds are pooled. Without it, this script's own
loop does the same: N rounds, each running every command once in a shuffled
order, timed from just before posix_spawn to just after waitpid.

Prints `key<TAB>value` lines, microseconds: NAME.{median,p10,p90,n}, and
`tool hyperfine|loop`. Never judges the numbers.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from bench_lib import die, emit, emit_summary, spawn


def with_hyperfine(binary, cmds, runs, rounds):
    times = {name: [] for name, _ in cmds}
    per_round = max(10, runs // rounds)
    for r in range(rounds):
        k = r % len(cmds)
        order = cmds[k:] + cmds[:k]
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            argv = [binary, "-N", "--style", "none", "--warmup", "5", "--runs", str(per_round)]
            argv += ["--export-json", out.name]
            for _, cmd in order:
                argv += ["--command-name", cmd, cmd]
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                sys.stderr.write(p.stderr)
                die("hyperfine failed")
            results = json.load(open(out.name))["results"]
        for (name, _), res in zip(order, results):
            if any(code != 0 for code in res.get("exit_codes", [])):
                die(f"{name} exited non-zero under hyperfine")
            times[name] += [t * 1e6 for t in res["times"]]
    return times


def with_loop(cmds, runs):
    times = {name: [] for name, _ in cmds}
    order = list(cmds)
    rng = random.Random(3)
    for _ in range(10):  # warm-up
        for _, cmd in order:
            os.waitpid(spawn(cmd.split()), 0)
    for _ in range(runs):
        rng.shuffle(order)
        for name, cmd in order:
            t0 = time.monotonic_ns()
            _, status = os.waitpid(spawn(cmd.split()), 0)
            t1 = time.monotonic_ns()
            if os.waitstatus_to_exitcode(status) != 0:
                die(f"{name} exited with {os.waitstatus_to_exitcode(status)}")
            times[name].append((t1 - t0) / 1000)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hyperfine")
    ap.add_argument("--cmd", action="append", required=True, help="NAME=ARGV")
    a = ap.parse_args()
    cmds = [c.split("=", 1) for c in a.cmd]
    if a.hyperfine:
        times = with_hyperfine(a.hyperfine, cmds, a.runs, a.rounds)
        emit("tool", "hyperfine")
    else:
        times = with_loop(cmds, a.runs)
        emit("tool", "loop")
    for name, _ in cmds:
        emit_summary(name, times[name])


if __name__ == "__main__":
    main()
