#!/usr/bin/env python3
"""Network wait latency: from a listener's listen() to the waiter's exit.

Usage: bench_net.py --trials N --waitfor BIN [--wait-for-it BIN] [--nc BIN] [--interval SECONDS]

For each trial and each waiter (in a shuffled order per trial): a free port on
127.0.0.1 is picked; the waiter is started, waiting for 127.0.0.1:PORT; after
0.3 s plus a random part of the interval (so that listen() falls anywhere in
the waiters' retry period), t0 = time.monotonic_ns() just before listen();
t1 = just after waitpid() returns (exit status 0 required).

Waiters: `waitfor --interval I tcp://127.0.0.1:PORT` (and with 1 s);
`wait-for-it -q -t 0 127.0.0.1:PORT` (a bash script around `nc -z`, which
retries every second); `while ! nc -z 127.0.0.1 PORT; do sleep I; done` in sh;
a `python3 -c` loop that connects every I seconds.

Prints one line per waiter, tab-separated: name, median_us, p90_us, trials.
Never judges the numbers.
"""

import argparse
import os
import random
import socket
import statistics
import sys
import time

from bench_lib import percentile, spawn

PY_LOOP = """
import socket, sys, time
while True:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(sys.argv[1]))); break
    except OSError:
        time.sleep(float(sys.argv[2]))
    finally:
        s.close()
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def trial(argv_of, interval, rng):
    port = free_port()
    pid = spawn(argv_of(port))
    time.sleep(0.3 + rng.random() * interval)
    if os.waitpid(pid, os.WNOHANG)[0] != 0:
        sys.exit(f"bench_net: {argv_of(port)[0]} ended before the listener")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    t0 = time.monotonic_ns()
    s.listen(16)
    _, status = os.waitpid(pid, 0)
    t1 = time.monotonic_ns()
    s.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_net: {argv_of(port)[0]} exited with {os.waitstatus_to_exitcode(status)}")
    return (t1 - t0) / 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--waitfor", required=True)
    ap.add_argument("--wait-for-it")
    ap.add_argument("--nc")
    ap.add_argument("--interval", type=float, default=0.1)
    a = ap.parse_args()
    i = a.interval
    waiters = {
        f"waitfor --interval {int(i * 1000)}ms": (lambda p: [a.waitfor, "--interval", f"{int(i * 1000)}ms", f"tcp://127.0.0.1:{p}"], i),
        "waitfor --interval 1s": (lambda p: [a.waitfor, f"tcp://127.0.0.1:{p}"], 1.0),
        "python3 connect loop": (lambda p: [sys.executable, "-c", PY_LOOP, str(p), str(i)], i),
    }
    if a.wait_for_it:
        waiters["wait-for-it"] = (lambda p: [a.wait_for_it, "-q", "-t", "0", f"127.0.0.1:{p}"], 1.0)
    if a.nc:
        loop = f'while ! "$0" -z 127.0.0.1 "$1"; do sleep {i}; done'
        waiters["nc -z loop"] = (lambda p: ["sh", "-c", loop, a.nc, str(p)], i)
    samples = {name: [] for name in waiters}
    rng = random.Random(3)
    order = list(waiters)
    for _ in range(a.trials):
        rng.shuffle(order)
        for name in order:
            argv_of, period = waiters[name]
            samples[name].append(trial(argv_of, period, rng))
    for name, s in samples.items():
        print(f"{name}\t{statistics.median(s):.1f}\t{percentile(s, 90):.1f}\t{len(s)}")


if __name__ == "__main__":
    main()
