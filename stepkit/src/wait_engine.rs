//! The wait engine: waits, event-driven, until step files exist.
//!
//! For each path `P` it watches the directory that holds `P` with inotify (or,
//! while that directory does not exist, its nearest existing ancestor, moving
//! down as directories appear), arming the watch *before* it looks, so that a
//! file created in between is never missed. It then sleeps in one `poll` until
//! an event, the deadline, or the safety re-check (`interval`, for filesystems
//! that deliver no events; also the whole mechanism when inotify cannot be had).
//!
//! The state of a dependency `P` (DESIGN.md section 2; README "Step files"):
//! - `P` exists (with `nonempty`: a regular file of size > 0): done.
//! - else `P.err` exists: failed.
//! - else `P.lock` exists and nobody holds its lock (the step's wrapper holds it
//!   for its whole life), and still neither `P` nor `P.err`: the step died
//!   without a result, which counts as failed.
//! - else: not yet.
//!
//! The engine has no loop of its own that a caller cannot share: `wait` is the
//! plain loop (`waitfor`, `entrypoint --wait`), and `poll_fd`/`handle_events`/
//! `rescan` let `entrypoint` fold `--stop-when` into its own event loop.

use crate::clock::Instant;
use crate::duration::Duration;
use crate::mem::Slab;
use crate::path::{basename, dirname, PathBuf};
use core::mem::MaybeUninit;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::fs::{flock, fstat, openat, statat, AtFlags, FileType, FlockOperation, Mode, OFlags, CWD};
use rustix::io::Errno;

/// What a dependency is known to be.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum State {
    /// Not there yet.
    Pending,
    /// `P` is there.
    Done,
    /// `P.err` is there (and `P` is not).
    Failed,
    /// `P.lock` is unlocked and neither `P` nor `P.err` is there.
    Died,
}

#[derive(Clone, Copy)]
struct Dep {
    path: &'static [u8],
    state: State,
}

/// How to wait.
#[derive(Clone, Copy)]
pub struct Options {
    /// One path is enough (default: all of them).
    pub any: bool,
    /// A path counts only as a regular file of size > 0.
    pub nonempty: bool,
    /// A failed (or died) dependency counts as done.
    pub always: bool,
    /// Safety re-check period.
    pub interval: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options { any: false, nonempty: false, always: false, interval: Duration::secs(1) }
    }
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    /// Every path (with `any`: one) is done.
    Ready,
    /// The dependency at this index failed (`P.err`).
    Failed(usize),
    /// The dependency at this index died without a result.
    Died(usize),
    /// The deadline passed; this index is one that was still pending.
    TimedOut(usize),
    /// The caller's descriptor became readable (a signal, for the tools).
    Interrupted,
}

/// Waits for a set of step files.
pub struct Engine {
    inotify: Option<OwnedFd>,
    deps: Slab<Dep>,
    opts: Options,
    next_recheck: Instant,
}

impl Engine {
    /// An engine for up to `capacity` paths. Without inotify (limits reached)
    /// it still works, by re-checking at the interval.
    pub fn new(capacity: usize, opts: Options) -> Result<Engine, Errno> {
        let inotify = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok();
        let deps = Slab::with_capacity(capacity)?;
        Ok(Engine { inotify, deps, opts, next_recheck: Instant::now() })
    }

    /// Changes how to wait (before waiting).
    pub fn set_options(&mut self, opts: Options) {
        self.opts = opts;
    }

    /// Adds a path to wait for.
    pub fn add(&mut self, path: &'static [u8]) -> Result<(), Errno> {
        self.deps.push(Dep { path, state: State::Pending })
    }

    /// The number of paths.
    pub fn len(&self) -> usize {
        self.deps.as_slice().len()
    }

    /// True when there is no path to wait for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The path at `i`.
    pub fn path(&self, i: usize) -> &'static [u8] {
        self.deps.as_slice().get(i).map_or(b"", |d| d.path)
    }

    /// True when inotify is in use (false: polling at the interval).
    pub fn has_events(&self) -> bool {
        self.inotify.is_some()
    }

    /// The descriptor to poll for events, if inotify is in use.
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|fd| fd.as_fd())
    }

    /// When the next safety re-check is due.
    pub fn next_recheck(&self) -> Instant {
        self.next_recheck
    }

    /// Arms a watch for every pending path, then looks at each; returns the
    /// outcome if the wait is over. This is the first check and the safety re-check.
    pub fn rescan(&mut self) -> Option<Outcome> {
        let opts = self.opts;
        let mut last_dir: &[u8] = b"\0";
        for dep in self.deps.as_mut_slice() {
            if dep.state != State::Pending {
                continue;
            }
            let dir = dirname(dep.path);
            if dir != last_dir {
                if let Some(fd) = self.inotify.as_ref() {
                    arm(fd.as_fd(), dir, opts.nonempty);
                }
                last_dir = dir;
            }
            dep.state = look(dep.path, opts.nonempty);
        }
        self.next_recheck = Instant::now().after(opts.interval);
        self.verdict()
    }

    /// Reads the pending inotify events and looks again at the paths they may
    /// concern; returns the outcome if the wait is over.
    pub fn handle_events(&mut self) -> Option<Outcome> {
        let Some(fd) = self.inotify.as_ref() else {
            return self.verdict();
        };
        let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
        let mut reader = inotify::Reader::new(fd.as_fd(), &mut buf);
        let mut full = false;
        let nonempty = self.opts.nonempty;
        loop {
            match reader.next() {
                Ok(ev) => {
                    let flags = ev.events();
                    let structural = ReadFlags::QUEUE_OVERFLOW
                        | ReadFlags::IGNORED
                        | ReadFlags::DELETE_SELF
                        | ReadFlags::MOVE_SELF;
                    let name = ev.file_name().map_or(&b""[..], |n| n.to_bytes());
                    // A new directory may be on a path; kubelet's atomic writer
                    // (downward API, ConfigMaps) publishes by renaming `..data`.
                    if flags.intersects(structural)
                        || flags.contains(ReadFlags::ISDIR)
                        || name.starts_with(b"..")
                    {
                        full = true;
                    } else if !name.is_empty() {
                        for dep in self.deps.as_mut_slice() {
                            if dep.state == State::Pending && concerns(name, basename(dep.path)) {
                                dep.state = look(dep.path, nonempty);
                            }
                        }
                    }
                }
                Err(Errno::INTR) => continue,
                Err(_) => break,
            }
            if reader.is_buffer_empty() {
                break;
            }
        }
        if full {
            return self.rescan();
        }
        self.verdict()
    }

    /// Whether the wait is over, from the states known now.
    pub fn verdict(&self) -> Option<Outcome> {
        let always = self.opts.always;
        let mut pending = None;
        let mut any_done = false;
        let mut first_bad = None;
        for (i, dep) in self.deps.as_slice().iter().enumerate() {
            match dep.state {
                State::Done => any_done = true,
                State::Pending => {
                    pending.get_or_insert(i);
                }
                State::Failed | State::Died if always => any_done = true,
                State::Failed => {
                    first_bad.get_or_insert(Outcome::Failed(i));
                }
                State::Died => {
                    first_bad.get_or_insert(Outcome::Died(i));
                }
            }
        }
        if self.opts.any {
            if any_done {
                return Some(Outcome::Ready);
            }
            // Every path failed: nothing left to wait for.
            return if pending.is_none() { first_bad.or(Some(Outcome::Ready)) } else { None };
        }
        if first_bad.is_some() {
            return first_bad;
        }
        if pending.is_none() {
            Some(Outcome::Ready)
        } else {
            None
        }
    }

    /// The plain wait loop: until the outcome, the `deadline`, or until `extra`
    /// (a signalfd) is readable.
    pub fn wait(&mut self, deadline: Option<Instant>, extra: Option<BorrowedFd<'_>>) -> Outcome {
        if let Some(o) = self.rescan() {
            return o;
        }
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return self.rescan().unwrap_or_else(|| self.timed_out());
            }
            let mut wake = self.next_recheck;
            if let Some(d) = deadline {
                wake = wake.min(d);
            }
            let [sig, ev] = wait_readable([extra, self.poll_fd()], Some(wake.remaining(now)));
            if sig {
                return Outcome::Interrupted;
            }
            if ev {
                if let Some(o) = self.handle_events() {
                    return o;
                }
            }
            if Instant::now() >= self.next_recheck {
                if let Some(o) = self.rescan() {
                    return o;
                }
            }
        }
    }

    fn timed_out(&self) -> Outcome {
        let i = self.deps.as_slice().iter().position(|d| d.state == State::Pending);
        Outcome::TimedOut(i.unwrap_or(0))
    }
}

/// Says why a wait ended without success, one line: the same words for
/// `waitfor` and `entrypoint`. Nothing is said for `Ready` and `Interrupted`.
pub fn report(tool: &str, engine: &Engine, outcome: Outcome) {
    let mut line = crate::say::Line::new(tool);
    if report_into(&mut line, engine, outcome) {
        line.emit();
    }
}

/// Words the line [`report`] prints into `line` (which holds `TOOL: `);
/// returns false when there is nothing to say.
pub fn report_into(line: &mut crate::say::Line, engine: &Engine, outcome: Outcome) -> bool {
    let (before, i, after) = match outcome {
        Outcome::Failed(i) => ("step ", i, " failed"),
        Outcome::Died(i) => ("step ", i, " died without a result"),
        Outcome::TimedOut(i) => ("timed out waiting for ", i, ""),
        Outcome::Ready | Outcome::Interrupted => return false,
    };
    line.add_text(before);
    line.add_quoted(engine.path(i));
    line.add_text(after);
    true
}

/// Sleeps in one `poll(2)` until one of the descriptors is readable or the
/// timeout (none: forever) passes; says which are readable. The one blocking
/// wait of the tools.
pub fn wait_readable(fds: [Option<BorrowedFd<'_>>; 2], timeout: Option<Duration>) -> [bool; 2] {
    let ts = timeout.map(crate::clock::timespec);
    let mut ready = [false; 2];
    let [first, second] = fds;
    match (first, second) {
        (Some(a), Some(b)) => {
            let mut p = [PollFd::new(&a, PollFlags::IN), PollFd::new(&b, PollFlags::IN)];
            if poll(&mut p, ts.as_ref()).is_ok() {
                ready = [readable(&p[0]), readable(&p[1])];
            }
        }
        (Some(a), None) | (None, Some(a)) => {
            let mut p = [PollFd::new(&a, PollFlags::IN)];
            if poll(&mut p, ts.as_ref()).is_ok() {
                let r = readable(&p[0]);
                ready = if first.is_some() { [r, false] } else { [false, r] };
            }
        }
        (None, None) => {
            let mut none: [PollFd<'_>; 0] = [];
            let _ = poll(&mut none, ts.as_ref());
        }
    }
    ready
}

fn readable(p: &PollFd<'_>) -> bool {
    p.revents().intersects(PollFlags::IN | PollFlags::ERR | PollFlags::HUP)
}

/// True when an event on entry `name` may change the state of a path whose
/// last component is `base`: `base`, `base.err` or `base.lock`.
fn concerns(name: &[u8], base: &[u8]) -> bool {
    match name.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest == b".err" || rest == b".lock",
        None => false,
    }
}

/// Watches `dir`, or its nearest existing ancestor; if a deeper directory
/// appeared while arming, arms again lower down.
fn arm(inotify_fd: BorrowedFd<'_>, dir: &[u8], nonempty: bool) {
    let mut mask = WatchFlags::CREATE
        | WatchFlags::MOVED_TO
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF
        | WatchFlags::ONLYDIR;
    if nonempty {
        mask |= WatchFlags::MODIFY;
    }
    let mut target = dir;
    for _ in 0..64 {
        let Ok(p) = PathBuf::new(target) else { return };
        match inotify::add_watch(inotify_fd, p.as_cstr(), mask) {
            Ok(_) => {
                if target.len() >= dir.len() {
                    return;
                }
                // Armed on an ancestor: if the next directory down exists by
                // now, its creation event may have been missed; go down.
                let next = child_toward(target, dir);
                match PathBuf::new(next) {
                    Ok(n) if crate::path::is_dir(n.as_cstr()) => target = dir,
                    _ => return,
                }
            }
            Err(Errno::NOENT | Errno::NOTDIR | Errno::ACCESS) if target != b"/" && target != b"." => {
                target = dirname(target);
            }
            // Out of watches or another failure: the safety re-check covers it.
            Err(_) => return,
        }
    }
}

/// The prefix of `full` that is one component longer than its ancestor `anc`.
fn child_toward<'a>(anc: &[u8], full: &'a [u8]) -> &'a [u8] {
    let start = match anc {
        b"." => 0,
        b"/" => 1,
        _ => anc.len() + 1,
    };
    let rest = full.get(start..).unwrap_or_default();
    let end = rest.iter().position(|&c| c == b'/').map_or(full.len(), |i| start + i);
    full.get(..end).unwrap_or(full)
}

/// The state of one path, from the file system.
pub fn look(path: &[u8], nonempty: bool) -> State {
    if present(path, b"", nonempty) {
        return State::Done;
    }
    if present(path, b".err", false) {
        return State::Failed;
    }
    if lock_is_free(path) {
        // Locked after the step died, or just after it wrote its marker.
        if present(path, b"", nonempty) {
            return State::Done;
        }
        if present(path, b".err", false) {
            return State::Failed;
        }
        return State::Died;
    }
    State::Pending
}

fn present(path: &[u8], suffix: &[u8], nonempty: bool) -> bool {
    let Ok(p) = PathBuf::with_suffix(path, suffix) else {
        return false;
    };
    match statat(CWD, p.as_cstr(), AtFlags::empty()) {
        Ok(st) if nonempty => FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_size > 0,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// True when `P.lock` exists and no process holds its lock.
fn lock_is_free(path: &[u8]) -> bool {
    let Ok(p) = PathBuf::with_suffix(path, b".lock") else {
        return false;
    };
    let Ok(fd) = openat(
        CWD,
        p.as_cstr(),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    ) else {
        return false;
    };
    let regular = fstat(&fd).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile);
    regular && flock(&fd, FlockOperation::NonBlockingLockShared).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        assert!(concerns(b"one", b"one"));
        assert!(concerns(b"one.err", b"one"));
        assert!(concerns(b"one.lock", b"one"));
        assert!(!concerns(b"one.tmp", b"one"));
        assert!(!concerns(b".one.tmp", b"one"));
        assert!(!concerns(b"on", b"one"));
    }

    #[test]
    fn next_directory_down() {
        assert_eq!(child_toward(b"/a", b"/a/b/c"), b"/a/b");
        assert_eq!(child_toward(b"/", b"/a/b"), b"/a");
        assert_eq!(child_toward(b".", b"a/b"), b"a");
        assert_eq!(child_toward(b"/a/b", b"/a/b/c"), b"/a/b/c");
    }
}
