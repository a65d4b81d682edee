#!/usr/bin/env python3
"""Step handoff through a chain or a layered DAG of steps, all started at once.

Usage: bench_steps.py --kind entrypoint|poll --layers L --width W --trials N --dir DIR
                      [--entrypoint BIN] [--interval SECONDS] [--seed S]
                      [--layout shared|per-step] [--uid U [--take-inotify]]

The graph: L layers of W steps; every step of layer 0 waits for the marker
`go`; every step of a later layer waits for 1 to 3 distinct random steps of the
layer before it (with W = 1: a chain, each step waits for the one before).
Each step runs `true`, then its marker appears:
  entrypoint: `entrypoint --wait DEP... --post-file MARKER -- true`
  poll:       `sh -c 'for p in DEPS; do while [ ! -e "$p" ]; do sleep I; done; done;
               true; touch MARKER'` (in dash `true` is a builtin: touch is the
               step's one exec, as `true` is the wrapper's)

Layout: `shared` puts every marker in one directory (DIR/NAME); `per-step`
gives each step a directory of its own (DIR/NAME/out), made before the steps
start, as `steps` renders a pod.

`--uid U`: the steps run as uid U (setpriv), in directories U may write;
with `--take-inotify` this script first takes every inotify instance U may
have (fs.inotify.max_user_instances used up, as on a busy node), so no step
can get one.

Per trial, in a fresh directory on the given filesystem (tmpfs for the bench):
  1. every step is started, last layer first, and given time to settle (for
     entrypoint: until every lock `.MARKER.lock` exists and every step watches the
     lock pipes of its dependencies (it holds them open) or holds an inotify
     instance, at most 3 s, then 50 ms + 0.3 ms a step);
  2. t0 just before rename(".go.tmp", "go") (for entrypoint steps the go
     marker is a step's: this script holds `.go.lock` as a wrapper does and
     releases it right after the rename);
  3. t1 when inotify (this script's own watch on the directory, set up
     before the steps start) reports the last of the L*W markers: the waiters' own exits (and the
     inotify close they pay, see bench_wake.py) are not counted;
  4. every step is reaped (exit status 0 required); max(L*W, 100) sequential
     spawn+waitpid of `true`, run just before the trial and again just after,
     measure a bare exec (the mean of both runs), so that a drift in the
     machine's load shows in both the trial and its floor.

Prints `key<TAB>value` lines (times in microseconds):
  total.*          t1 - t0 (median, p10, p90, n)
  per_layer.*      (total - L * bare_exec) / L per trial: the cost a layer adds
                   beyond a bare exec (for a chain: the per-step handoff)
  bare_exec.*      one bare exec
  bare_all.median  L*W bare execs back to back (median bare exec x L*W)
  ratio.median     total / (L * bare_exec): over the critical path of bare execs
  wakeups_per_step.*  context switches of the steps' own processes (the
                   wrapper or the shell, not the commands they run) from go to
                   the last marker, per step: each is a wakeup
  no_inotify       the most steps in one trial that held no inotify descriptor
                   at the go marker (entrypoint only)
  on_pipes         the fewest steps in one trial that watched every dependency
                   through its lock pipe at the go marker (entrypoint only)
Never judges the numbers.
"""

import argparse
import os
import random
import resource
import shutil
import statistics
import time

import bench_lib
from bench_lib import (
    IN_CREATE,
    IN_MOVED_TO,
    Inotify,
    bare_execs,
    die,
    emit,
    emit_summary,
    has_inotify,
    hold_lock,
    holds_open,
    lock_of,
    spawn,
    take_inotify_instances,
)

POLL = 'for p in "$@"; do while [ ! -e "$p" ]; do sleep {i}; done; done; true; touch "$0"'


def graph(layers, width, rng):
    """[(name, [dep names])] in layer order."""
    steps = []
    prev = ["go"]
    for layer in range(layers):
        names = [f"s{layer}_{j}" for j in range(width)]
        for name in names:
            k = 1 if len(prev) == 1 else rng.randint(1, min(3, len(prev)))
            steps.append((name, rng.sample(prev, k)))
        prev = names
    return steps


def marker(a, d, name):
    """The marker path of step `name` (the go marker is always DIR/go)."""
    if a.layout == "per-step" and name != "go":
        return os.path.join(d, name, "out")
    return os.path.join(d, name)


def start(kind, a, d, steps):
    pids = []
    as_uid = ["setpriv", f"--reuid={a.uid}", f"--regid={a.uid}", "--clear-groups", "--"] if a.uid else []
    for name, deps in reversed(steps):
        if kind == "entrypoint":
            argv = as_uid + [a.entrypoint]
            for dep in deps:
                argv += ["--wait", marker(a, d, dep)]
            argv += ["--post-file", marker(a, d, name), "--", "true"]
        else:
            argv = as_uid + ["sh", "-c", POLL.format(i=a.interval), marker(a, d, name)]
            argv += [marker(a, d, dep) for dep in deps]
        pids.append(spawn(argv))
    pids.reverse()
    return pids


def settle(kind, a, d, steps, pids):
    """Returns (steps without inotify, steps watching every dependency's pipe)."""
    n = len(steps)
    if kind == "entrypoint":
        locks = [lock_of(marker(a, d, name)) for name, _ in steps]
        deadline = time.monotonic() + 30 + n * 0.01
        while not all(os.path.exists(p) for p in locks):
            if time.monotonic() > deadline:
                die("the steps did not all create their lock in time")
            time.sleep(0.01)

        def dep_locks(deps):
            return [lock_of(marker(a, d, dep)) for dep in deps]

        # Each step watches its started dependencies through their pipes, or
        # has an inotify instance; where neither (no instance, and a release
        # that predates the lock pipes), the re-check carries it: 3 s at most.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if all(has_inotify(pid) or holds_open(pid, dep_locks(deps))
                   for pid, (_, deps) in zip(pids, steps)):
                break
            time.sleep(0.02)
        time.sleep(0.05 + 0.0003 * n)
        no_inotify = sum(1 for pid in pids if not has_inotify(pid))
        on_pipes = sum(1 for pid, (_, deps) in zip(pids, steps) if holds_open(pid, dep_locks(deps)))
        return no_inotify, on_pipes
    time.sleep(0.1 + 0.003 * n)
    return 0, 0


def trial(kind, a, steps, d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    dirs = []
    if a.layout == "per-step":
        for name, _ in steps:
            dirs.append(os.path.join(d, name))
            os.mkdir(dirs[-1])
    if a.uid:
        for x in [d, *dirs]:
            os.chmod(x, 0o777)
    go_tmp, go = os.path.join(d, ".go.tmp"), os.path.join(d, "go")
    with open(go_tmp, "w") as f:
        f.write("0\n")
    # The go marker is a step's: this script holds its lock pipe, as the
    # first step's wrapper would, and releases it right after the marker.
    go_lock = hold_lock(go) if kind == "entrypoint" else None
    # The watch first: it must not be refused for want of inotify instances.
    # (The locks renamed in meanwhile are not markers: wait_for skips them.)
    mask = IN_MOVED_TO if kind == "entrypoint" else IN_CREATE
    watch = Inotify(d, mask, more=dirs)
    pids = start(kind, a, d, steps)
    no_inotify, on_pipes = settle(kind, a, d, steps, pids)
    for pid in pids:
        if os.waitpid(pid, os.WNOHANG)[0] != 0:
            die(f"a {kind} step ended before the go marker appeared")
    switches0 = sum(switches(pid) for pid in pids)
    t0 = time.monotonic_ns()
    os.rename(go_tmp, go)
    if go_lock is not None:
        os.close(go_lock)
    names = [name if a.layout == "shared" else os.path.join(d, name, "out") for name, _ in steps]
    t1 = watch.wait_for(names)
    # Read before reaping: an exited step keeps its counters until reaped.
    for pid in pids:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    woken = sum(switches(pid) for pid in pids) - switches0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            die(f"a {kind} step exited with {os.waitstatus_to_exitcode(status)}")
    watch.close()
    shutil.rmtree(d, ignore_errors=True)
    return t1 - t0, no_inotify, on_pipes, woken


def switches(pid):
    """Context switches (voluntary + nonvoluntary) of a step's own process so far."""
    n = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["entrypoint", "poll"], required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--width", type=int, default=1)
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--entrypoint")
    ap.add_argument("--interval", default="0.1")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--layout", choices=["shared", "per-step"], default="shared")
    ap.add_argument("--uid", type=int, default=0)
    ap.add_argument("--take-inotify", action="store_true")
    ap.add_argument("--lock-name", choices=["dot", "suffix"], default="dot",
                    help="the binaries' lock name: DIR/.NAME.lock, or NAME.lock (releases before the dot name)")
    a = ap.parse_args()
    bench_lib.LOCK_STYLE = a.lock_name
    taken = take_inotify_instances(a.uid) if a.take_inotify and a.uid else []
    if a.kind == "entrypoint" and not a.entrypoint:
        die("--kind entrypoint needs --entrypoint BIN")

    steps = graph(a.layers, a.width, random.Random(a.seed))
    n = len(steps)
    n_bare = max(n, 100)
    totals, per_layer, bare, ratios, wakeups, worst, fewest = [], [], [], [], [], 0, None
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY and soft < n + 1000:
        resource.setrlimit(resource.RLIMIT_NPROC, (hard if hard == resource.RLIM_INFINITY else max(soft, hard), hard))
    for k in range(a.trials):
        before = bare_execs(n_bare)
        total_ns, no_inotify, on_pipes, woken = trial(a.kind, a, steps, os.path.join(a.dir, f"{a.kind}-{k}"))
        fewest = on_pipes if fewest is None else min(fewest, on_pipes)
        exec_ns = (before + bare_execs(n_bare)) / 2 / n_bare
        totals.append(total_ns / 1000)
        bare.append(exec_ns / 1000)
        per_layer.append((total_ns - a.layers * exec_ns) / a.layers / 1000)
        ratios.append(total_ns / (a.layers * exec_ns))
        worst = max(worst, no_inotify)
        wakeups.append(woken / n)
    emit_summary("total", totals)
    emit_summary("per_layer", per_layer)
    emit_summary("bare_exec", bare)
    emit("bare_all.median", statistics.median(bare) * n)
    emit_summary("ratio", ratios)
    emit_summary("wakeups_per_step", wakeups)
    emit("no_inotify", worst)
    emit("on_pipes", fewest or 0)
    emit("took_inotify", len(taken))
    emit("steps", n)


if __name__ == "__main__":
    main()
