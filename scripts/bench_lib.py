"""Shared helpers of the scripts/bench_*.py measurements (not run by itself).

- spawn(): posix_spawnp with stdin/stdout on /dev/null (or given descriptors),
  stderr inherited, so a failing tool still says why;
- bare_execs(): n sequential spawn+waitpid of `true`, the floor of every figure
  that runs commands;
- Inotify: a minimal inotify reader (ctypes) to see markers appear without
  polling and without depending on a waiter's exit;
- summary()/emit(): median and nearest-rank percentiles, printed as
  `key<TAB>value` lines for scripts/bench to collect.
"""

import atexit
import ctypes
import math
import os
import select
import signal
import statistics
import struct
import sys
import time

IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o4000
IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_Q_OVERFLOW = 0x4000

_libc = ctypes.CDLL(None, use_errno=True)


def die(msg):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {msg}")


_children = set()


def track(pid):
    """Remembers a child so that it is killed if this script ends before reaping it."""
    _children.add(pid)
    return pid


@atexit.register
def _kill_leftovers():
    # A child not yet reaped is still ours (its pid cannot be reused): kill it,
    # so that a failed measurement leaves no waiter behind.
    for pid in _children:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def spawn(argv, stdout=None, stdin=None, env=None):
    """Starts argv (PATH search); stdin and stdout default to /dev/null. Returns the pid."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull if stdin is None else stdin, 0),
            (os.POSIX_SPAWN_DUP2, devnull if stdout is None else stdout, 1),
        ]
        env = os.environ if env is None else env
        return track(os.posix_spawnp(argv[0], argv, env, file_actions=actions))
    finally:
        os.close(devnull)


def wait_ok(pid, what):
    """Reaps pid; dies unless it exited 0."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        die(f"{what} exited with {code}")


def bare_execs(n, argv=("true",)):
    """Nanoseconds taken by n sequential spawn+waitpid of argv."""
    argv = list(argv)
    t0 = time.monotonic_ns()
    for _ in range(n):
        wait_ok(spawn(argv), "true")
    return time.monotonic_ns() - t0


def percentile(samples, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(samples)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))]


def summary(samples):
    """(median, p10, p90, n); with fewer than 10 samples p10/p90 are min/max."""
    return (
        statistics.median(samples),
        percentile(samples, 10),
        percentile(samples, 90),
        len(samples),
    )


def emit(key, value):
    if isinstance(value, float):
        value = f"{value:.3f}"
    print(f"{key}\t{value}", flush=True)


def emit_summary(prefix, samples):
    med, lo, hi, n = summary(samples)
    emit(f"{prefix}.median", med)
    emit(f"{prefix}.p10", lo)
    emit(f"{prefix}.p90", hi)
    emit(f"{prefix}.n", n)


def has_inotify(pid):
    """True when the process holds an inotify descriptor."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def holds_open(pid, paths):
    """True when the process has every one of `paths` open (a wrapper watching
    its dependencies' lock pipes, `.P.lock`)."""
    want = set(paths)
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                want.discard(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except OSError:
        return False
    return not want


# The lock's name: DIR/.NAME.lock ("dot"), or DIR/NAME.lock ("suffix"), as the
# releases before the dot name (the baseline binaries of scripts/bench) made it.
LOCK_STYLE = "dot"


def lock_of(marker):
    """The liveness lock of the post file DIR/NAME: DIR/.NAME.lock (LOCK_STYLE)."""
    if LOCK_STYLE == "suffix":
        return marker + ".lock"
    d, name = os.path.split(marker)
    return os.path.join(d, "." + name + ".lock")


def hold_lock(marker):
    """Holds `marker`'s lock (DIR/.NAME.lock) as a step's wrapper does: a named
    pipe, open read-write and flock'ed, renamed into place. Returns the
    descriptor; its close is the wrapper's end."""
    import fcntl

    tmp = lock_of(marker) + ".tmp"
    os.mkfifo(tmp, 0o644)
    fd = os.open(tmp, os.O_RDWR | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(tmp, lock_of(marker))
    return fd


def take_inotify_instances(uid):
    """Takes every inotify instance `uid` may have (fs.inotify.max_user_instances),
    as on a node where that limit is used up, without touching the node-wide
    sysctl: a thread of this process switches to `uid` with the raw setresuid
    system call (its own credentials only) and creates instances until EMFILE.
    Returns the descriptors (kept open by the caller)."""
    import resource
    import threading

    limit = int(open("/proc/sys/fs/inotify/max_user_instances").read())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < limit + 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, limit + 4096), hard))
    got, err = [], []

    def taker():
        sys_setresuid = {"x86_64": 117, "aarch64": 147}[os.uname().machine]
        if _libc.syscall(sys_setresuid, uid, uid, 0) != 0:
            err.append(f"setresuid: {os.strerror(ctypes.get_errno())}")
            return
        while True:
            fd = _libc.inotify_init1(IN_CLOEXEC)
            if fd < 0:
                e = ctypes.get_errno()
                if e != 24:  # EMFILE
                    err.append(f"inotify_init1: {os.strerror(e)}")
                return
            got.append(fd)

    t = threading.Thread(target=taker)
    t.start()
    t.join()
    if err:
        die(err[0])
    return got


class Inotify:
    """Watches directories for names appearing (create or rename into them)."""

    def __init__(self, directory, mask=IN_CREATE | IN_MOVED_TO, more=()):
        self.fd = _libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if self.fd < 0:
            die(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.dirs = {}
        for dname in [directory, *more]:
            wd = _libc.inotify_add_watch(self.fd, os.fsencode(dname), mask)
            if wd < 0:
                die(f"inotify_add_watch {dname}: {os.strerror(ctypes.get_errno())}")
            self.dirs[wd] = dname

    def wait_for(self, names, timeout_s=120.0):
        """Blocks until every name in `names` has appeared; returns time.monotonic_ns()
        when the last one was read. The caller has made sure none exists yet.
        A name in a watched directory other than the first is "DIR/NAME"."""
        left = set(names)
        first = next(iter(self.dirs.values()))
        deadline = time.monotonic() + timeout_s
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                die(f"timed out waiting for {len(left)} markers (e.g. {sorted(left)[:3]})")
            p = select.poll()
            p.register(self.fd, select.POLLIN)
            if not p.poll(remaining * 1000):
                continue
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            now = time.monotonic_ns()
            off = 0
            while off < len(buf):
                wd, mask, _, length = struct.unpack_from("iIII", buf, off)
                name = buf[off + 16 : off + 16 + length].split(b"\0", 1)[0].decode()
                off += 16 + length
                if mask & IN_Q_OVERFLOW:
                    die("inotify queue overflow")
                where = self.dirs.get(wd, first)
                left.discard(name if where == first else os.path.join(where, name))
        return now

    def close(self):
        # Outside any timing: this close waits for an SRCU grace period.
        os.close(self.fd)
