#!/usr/bin/env python3
"""Wake latency: from the rename(2) that puts a marker in place to the waiter's exit.

Usage: bench_wake.py --trials N --dir DIR --waitfor BIN [--inotifywait BIN] [--entrypoint BIN]
                     [--old-waitfor BIN] [--old-entrypoint BIN]

For each trial and each waiter (in a shuffled order per trial):
  1. a fresh marker directory holds only the temporary file `.P.tmp`;
  2. the waiter is started and made sure to be waiting: `waitfor` and the
     shell loop get 50 ms (and must still be running), `inotifywait` is
     waited for until it prints "Watches established" on stderr;
  3. t0 = time.monotonic_ns() just before os.rename(".P.tmp", "P");
  4. t1 = time.monotonic_ns() just after waitpid() returns (exit status 0
     required).

The waiter's exit includes the kernel's release of its inotify descriptor,
which waits for an SRCU grace period (milliseconds). So also, per trial:
  - wake to command start: the waiter runs `echo` with its stdout on a pipe,
    t1 when the pipe turns readable: `waitfor P -- echo` (exec), `entrypoint
    --wait P -- echo` (fork+exec), the same with the binaries of the baseline
    release (`--old-*`: their inotify descriptor is closed on exec, so exec
    waits for the kernel's grace period), `waitfor P -- echo` where P's step
    holds its lock pipe `.P.lock` (the bench holds it, renames P into place, then
    releases it, as a wrapper's exit does: "lock"), `inotifywait -e moved_to
    DIR && exec echo` in sh, the shell loop ending in `exec echo`, and the
    floor: `echo` spawned directly, t0 just before posix_spawn;
  - inotify close: close(2) of a fresh inotify descriptor with one watch on
    DIR (and of one without a watch), timed around the close.

Prints one line per waiter, tab-separated: name, median_us, p99_us, trials
(names "cmd:..." for the command-start figure, "close:watch" and
"close:nowatch" for the close). p99 is the nearest-rank percentile (with 30
trials it is the maximum). Never judges the numbers.
"""

import argparse
import ctypes
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

from bench_lib import hold_lock, track

SETTLE_S = 0.05


def spawn_plain(argv):
    """Starts argv (stdin, stdout on /dev/null, stderr inherited); returns the pid."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
        ]
        return track(os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions))
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
        return track(proc.pid), proc

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


def start_cmd(argv_of):
    """A waiter that runs `echo` on a pipe; argv_of(marker) -> argv (None: the floor)."""

    def start(marker):
        r, w = os.pipe()
        argv = argv_of(marker)
        if argv is None:
            return r, w, None
        pid = spawn_plain_out(argv, w)
        time.sleep(SETTLE_S)
        if not still_running(pid):
            sys.exit(f"bench_wake: {argv[0]} exited before the marker appeared")
        return r, w, pid

    return start


def spawn_plain_out(argv, out):
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, out, 1)]
        return track(os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions))
    finally:
        os.close(devnull)


def trial_cmd(waiter, base):
    d = os.path.join(base, waiter.name.replace(" ", "_").replace(":", "_"))
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    tmp, marker = os.path.join(d, ".P.tmp"), os.path.join(d, "P")
    with open(tmp, "w") as f:
        f.write("0\n")
    lock = hold_lock(marker) if waiter.name.endswith("(lock)") else None
    r, w, pid = waiter.start(marker)
    t0 = time.monotonic_ns()
    if pid is None:
        pid = spawn_plain_out(["echo"], w)
    else:
        os.rename(tmp, marker)
        if lock is not None:
            os.close(lock)
    os.close(w)
    if os.read(r, 64) == b"":
        sys.exit(f"bench_wake: {waiter.name}: no output from echo")
    t1 = time.monotonic_ns()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_wake: {waiter.name} exited with {os.waitstatus_to_exitcode(status)}")
    waiter.samples.append((t1 - t0) / 1000.0)


def close_cost(base, trials):
    """Microseconds taken by close(2) of an inotify descriptor, with and without a watch."""
    libc = ctypes.CDLL(None, use_errno=True)
    out = {"close:watch": [], "close:nowatch": []}
    for _ in range(trials):
        for name in out:
            fd = libc.inotify_init1(os.O_CLOEXEC)
            if fd < 0:
                sys.exit("bench_wake: inotify_init1 failed")
            if name == "close:watch" and libc.inotify_add_watch(fd, os.fsencode(base), 0x180) < 0:
                sys.exit("bench_wake: inotify_add_watch failed")
            t0 = time.monotonic_ns()
            os.close(fd)
            out[name].append((time.monotonic_ns() - t0) / 1000.0)
    return out


def p99(samples):
    s = sorted(samples)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--waitfor", required=True)
    ap.add_argument("--inotifywait")
    ap.add_argument("--entrypoint")
    ap.add_argument("--old-waitfor")
    ap.add_argument("--old-entrypoint")
    a = ap.parse_args()

    waiters = [Waiter("waitfor", start_waitfor(a.waitfor))]
    if a.inotifywait:
        waiters.append(Waiter("inotifywait", start_inotifywait(a.inotifywait)))
    waiters.append(Waiter("poll loop", start_loop))

    loop_cmd = 'while [ ! -e "$1" ]; do sleep 0.1; done; exec echo'
    cmd_waiters = [Waiter("cmd:waitfor", start_cmd(lambda m: [a.waitfor, m, "--", "echo"]))]
    if a.entrypoint:
        cmd_waiters.append(
            Waiter("cmd:entrypoint", start_cmd(lambda m: [a.entrypoint, "--wait", m, "--", "echo"]))
        )
    cmd_waiters.append(Waiter("cmd:waitfor (lock)", start_cmd(lambda m: [a.waitfor, m, "--", "echo"])))
    if a.old_waitfor:
        cmd_waiters.append(Waiter("cmd:old waitfor", start_cmd(lambda m: [a.old_waitfor, m, "--", "echo"])))
    if a.old_entrypoint:
        cmd_waiters.append(
            Waiter("cmd:old entrypoint", start_cmd(lambda m: [a.old_entrypoint, "--wait", m, "--", "echo"]))
        )
    if a.inotifywait:
        inw_cmd = '"$0" -qq -e moved_to "${1%/*}" && exec echo'
        cmd_waiters.append(Waiter("cmd:inotifywait", start_cmd(lambda m: ["sh", "-c", inw_cmd, a.inotifywait, m])))
    cmd_waiters.append(Waiter("cmd:poll loop", start_cmd(lambda m: ["sh", "-c", loop_cmd, "sh", m])))
    cmd_waiters.append(Waiter("cmd:floor", start_cmd(lambda m: None)))

    rng = random.Random(1)
    order = [(w, trial) for w in waiters] + [(w, trial_cmd) for w in cmd_waiters]
    for _ in range(a.trials):
        rng.shuffle(order)
        for w, run in order:
            run(w, a.dir)

    for w in waiters + cmd_waiters:
        print(f"{w.name}\t{statistics.median(w.samples):.1f}\t{p99(w.samples):.1f}\t{len(w.samples)}")
    for name, samples in close_cost(a.dir, a.trials).items():
        print(f"{name}\t{statistics.median(samples):.1f}\t{p99(samples):.1f}\t{len(samples)}")


if __name__ == "__main__":
    main()
