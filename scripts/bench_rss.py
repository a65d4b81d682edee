#!/usr/bin/env python3
"""Resident memory of a wrapper process while its command runs.

Usage: bench_rss.py --trials N [--seconds S] --wrapper NAME=ARGV0 ...

Per trial, every wrapper is started at once as `ARGV0 -- sleep S` (S = 2).
Once its child has exec'd `sleep` (its /proc comm says so), and again at
S/2 after the start, VmRSS (and RssAnon, RssFile) of the wrapper's own pid are
read from /proc/PID/status (and the [stack] mapping's Rss from
/proc/PID/smaps); the larger reading counts. The wrappers must exit 0.

Prints `key<TAB>value` lines, sizes in KiB: NAME.rss.{median,p10,p90,n},
NAME.anon.median, NAME.file.median, NAME.stack.median (the resident part of
the [stack] mapping, from /proc/PID/smaps; it is part of anon). Never judges the numbers.
"""

import argparse
import os
import time

from bench_lib import die, emit, emit_summary, spawn, summary


def status_kib(pid):
    out = {"Stack": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    # The resident part of the main thread's stack mapping.
    with open(f"/proc/{pid}/smaps") as f:
        in_stack = False
        for line in f:
            if "-" in line.split(" ", 1)[0]:
                in_stack = line.rstrip().endswith("[stack]")
            elif in_stack and line.startswith("Rss:"):
                out["Stack"] = int(line.split()[1])
    return out


def child_runs_sleep(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        for kid in kids:
            with open(f"/proc/{kid}/comm") as f:
                if f.read().strip() == "sleep":
                    return True
    except OSError:
        pass
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--wrapper", action="append", required=True, help="NAME=PATH")
    a = ap.parse_args()
    wrappers = [w.split("=", 1) for w in a.wrapper]

    samples = {name: {"VmRSS": [], "RssAnon": [], "RssFile": [], "Stack": []} for name, _ in wrappers}
    sleep_arg = f"{a.seconds:g}"
    for _ in range(a.trials):
        started = time.monotonic()
        pids = {name: spawn([path, "--", "sleep", sleep_arg]) for name, path in wrappers}
        best = {name: None for name, _ in wrappers}

        def read(name, pid):
            s = status_kib(pid)
            if best[name] is None or s["VmRSS"] > best[name]["VmRSS"]:
                best[name] = s

        pending = dict(pids)
        while pending:
            if time.monotonic() - started > a.seconds * 0.9:
                die(f"{', '.join(pending)}: no 'sleep' child seen in time")
            for name, pid in list(pending.items()):
                if child_runs_sleep(pid):
                    read(name, pid)
                    del pending[name]
            time.sleep(0.005)
        time.sleep(max(0.0, started + a.seconds / 2 - time.monotonic()))
        for name, pid in pids.items():
            read(name, pid)
        for name, pid in pids.items():
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                die(f"{name} -- sleep exited with {os.waitstatus_to_exitcode(status)}")
            for key in samples[name]:
                samples[name][key].append(best[name].get(key, 0))
    for name, _ in wrappers:
        emit_summary(f"{name}.rss", samples[name]["VmRSS"])
        emit(f"{name}.anon.median", summary(samples[name]["RssAnon"])[0])
        emit(f"{name}.file.median", summary(samples[name]["RssFile"])[0])
        emit(f"{name}.stack.median", summary(samples[name]["Stack"])[0])


if __name__ == "__main__":
    main()
