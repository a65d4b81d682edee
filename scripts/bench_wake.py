#!/usr/bin/env python3
"""Wake latency: from the rename(2) that puts a marker in place to the waiter's exit.

Usage: bench_wake.py --trials N --dir DIR --waitfor BIN [--inotifywait BIN]

For each trial and each waiter (in a shuffled order per trial):
  1. a fresh marker directory holds only the temporary file `.P.tmp`;
  2. the waiter is started and made sure to be waiting: `waitfor` and the
     shell loop get 50 ms (and must still be running), `inotifywait` is
     waited for until it prints "Watches established" on stderr;
  3. t0 = time.monotonic_ns() just before os.rename(".P.tmp", "P");
  4. t1 = time.monotonic_ns() just after waitpid() returns (exit status 0
     required).

Prints one line per waiter, tab-separated: name, median_us, p99_us, trials.
p99 is the nearest-rank percentile (with 30 trials it is the maximum).
Never judges the numbers.
"""

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

SETTLE_S = 0.05


def spawn_plain(argv):
    """Starts argv (stdin, stdout on /dev/null, stderr inherited); returns the pid."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
        ]
        return os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    finally:
        os.close(devnull)


def still_running(pid):
    done, _ = os.waitpid(pid, os.WNOHANG)
    return done == 0


class Waiter:
    def __init__(self, name, start):
        self.name = name
        self.start = start  # (marker path) -> (pid, cleanup)
        self.samples = []


def start_waitfor(binary):
    def start(marker):
        pid = spawn_plain([binary, marker])
        time.sleep(SETTLE_S)
        if not still_running(pid):
            sys.exit(f"bench_wake: {binary} exited before the marker appeared")
        return pid, None

    return start


def start_loop(marker):
    script = 'while [ ! -e "$1" ]; do sleep 0.1; done'
    pid = spawn_plain(["sh", "-c", script, "sh", marker])
    time.sleep(SETTLE_S)
    if not still_running(pid):
        sys.exit("bench_wake: the shell loop exited before the marker appeared")
    return pid, None


def start_inotifywait(binary):
    def start(marker):
        proc = subprocess.Popen(
            [binary, "-e", "moved_to", "-e", "create", os.path.dirname(marker)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for line in proc.stderr:
            if b"Watches established" in line:
                break
        else:
            sys.exit("bench_wake: inotifywait ended before establishing its watch")
        return proc.pid, proc

    return start


def trial(waiter, base):
    d = os.path.join(base, waiter.name.replace(" ", "_"))
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    tmp, marker = os.path.join(d, ".P.tmp"), os.path.join(d, "P")
    with open(tmp, "w") as f:
        f.write("0\n")
    pid, proc = waiter.start(marker)
    t0 = time.monotonic_ns()
    os.rename(tmp, marker)
    _, status = os.waitpid(pid, 0)
    t1 = time.monotonic_ns()
    if proc is not None:
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_wake: {waiter.name} exited with {os.waitstatus_to_exitcode(status)}")
    waiter.samples.append((t1 - t0) / 1000.0)


def p99(samples):
    s = sorted(samples)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--waitfor", required=True)
    ap.add_argument("--inotifywait")
    a = ap.parse_args()

    waiters = [Waiter("waitfor", start_waitfor(a.waitfor))]
    if a.inotifywait:
        waiters.append(Waiter("inotifywait", start_inotifywait(a.inotifywait)))
    waiters.append(Waiter("poll loop", start_loop))

    rng = random.Random(1)
    order = list(waiters)
    for _ in range(a.trials):
        rng.shuffle(order)
        for w in order:
            trial(w, a.dir)

    for w in waiters:
        print(f"{w.name}\t{statistics.median(w.samples):.1f}\t{p99(w.samples):.1f}\t{len(w.samples)}")


if __name__ == "__main__":
    main()
