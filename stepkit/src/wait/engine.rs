//! The wait engine: waits, event-driven, until step files exist.
//!
//! The state of a dependency `P` (docs/protocol.md):
//! - `P` exists (with `nonempty`: a regular file of size > 0): done.
//! - else `P.err` exists: failed.
//! - else its lock `DIR/.NAME.lock` exists and nobody holds it (the step's
//!   wrapper holds it for its whole life), and still neither `P` nor `P.err`:
//!   the step died without a result, which counts as failed.
//! - else: not yet.
//!
//! How a change is learnt, so that a waiter wakes only for its own
//! dependencies however many steps share a directory (see `liveness`):
//! - A dependency whose wrapper has started (its lock pipe is held) is
//!   watched through that pipe alone: its hang-up is the wrapper's end, and
//!   the markers then say how it ended.
//! - A dependency that has not started yet (or whose markers come from a tool
//!   that takes no lock, as Tekton's) is watched with inotify on the directory
//!   that holds it (while that directory does not exist yet, its nearest
//!   existing ancestor, moving down as directories appear), the watch armed
//!   *before* the look, so that a file created in between is never missed.
//!   The inotify instance exists only while some dependency needs it: it is
//!   closed as soon as every dependency has started, long before the handoff
//!   (its last close waits for a kernel grace period).
//! - A safety re-check (`interval`) looks at everything again, for
//!   filesystems that deliver no events, and carries the wait when no inotify
//!   instance can be had (said once, in one line).
//!
//! The engine has no loop of its own that a caller cannot share: `wait` is the
//! plain loop (`waitfor`, `entrypoint --wait`), and `sleep` lets `entrypoint`
//! fold `--stop-when` into its own event loop.

use super::liveness::{self, Lock};
use super::poll_set::{self, PollSet, Want};
use crate::cli::say::Line;
use crate::cli::{signals, status};
use crate::files::path::{basename, dirname, is_dir};
use crate::os::clock::{Duration, Instant};
use crate::os::cstr::{PathBuf, PATH_MAX};
use crate::os::mem::Slab;
use crate::os::signal::read_signal;
use core::mem::MaybeUninit;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::fs::{statat, AtFlags, FileType, CWD};
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
    /// Its lock is free and neither `P` nor `P.err` is there.
    Died,
}

struct Dep {
    path: &'static [u8],
    state: State,
    /// The dependency's lock pipe, open for reading while its wrapper lives.
    lock: Option<OwnedFd>,
    /// Not a step file: this index of the engine's [`Others`].
    other: Option<usize>,
    /// A guard (`--while-alive P`): not waited for, but once its step has
    /// ended the wait fails if it is not over.
    guard: bool,
}

/// Dependencies that are not step files (`waitfor`'s network targets),
/// waited for by attempts. The engine polls the descriptor each one names and
/// moves it on; a caller that has none (`entrypoint`) links none of their code.
pub trait Others {
    /// The descriptor target `k` waits on now, and for what.
    fn poll_fd(&self, k: usize) -> Option<(BorrowedFd<'_>, Want)>;
    /// When target `k` must be moved on even without an event (its next
    /// attempt, or the end of this one); `None` once it has answered.
    fn due(&self, k: usize) -> Option<Instant>;
    /// Moves target `k` on (`ready`: its descriptor was ready); true once it
    /// has answered.
    fn advance(&mut self, k: usize, ready: bool) -> bool;
    /// Writes `'TARGET' (last: WHAT IT LAST ANSWERED)` into `line`.
    fn describe(&self, k: usize, line: &mut Line);
}

/// No other targets: the engine of a tool without them compiles their
/// handling away.
pub struct NoOthers;

impl Others for NoOthers {
    fn poll_fd(&self, _: usize) -> Option<(BorrowedFd<'_>, Want)> {
        None
    }
    fn due(&self, _: usize) -> Option<Instant> {
        None
    }
    fn advance(&mut self, _: usize, _: bool) -> bool {
        false
    }
    fn describe(&self, _: usize, _: &mut Line) {}
}

impl Dep {
    /// Pending and not watched through a lock: only a directory event (or
    /// the re-check) can tell of a change.
    fn needs_events(&self) -> bool {
        self.state == State::Pending && self.lock.is_none() && self.other.is_none()
    }

    /// Looks at the file system; true when the dependency was watched through
    /// its lock and now needs directory events (its lock went away).
    fn look(&mut self, nonempty: bool) -> bool {
        // A guard's step has ended once its marker is there, whatever it holds.
        let nonempty = nonempty && !self.guard;
        let watched = self.lock.is_some();
        if present(self.path, b"", nonempty) {
            self.state = State::Done;
        } else if present(self.path, b".err", false) {
            self.state = State::Failed;
        } else if self.lock.as_ref().is_some_and(|fd| !liveness::is_free(fd)) {
            return false;
        } else {
            // Not watched yet, or its wrapper just ended: the lock at the path
            // now (a restarted step renames a new one over the old).
            self.lock = None;
            match liveness::probe(self.path) {
                Lock::Absent => {}
                Lock::Held(pipe) => self.lock = pipe,
                Lock::Free => self.state = ended(self.path, nonempty),
            }
        }
        if self.state != State::Pending {
            self.lock = None;
        }
        watched && self.needs_events()
    }
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
    /// The step of the guard at `guard` ended (`P` or `P.err`) while the
    /// dependency at `waiting` was not there yet (`waiting == guard`: there
    /// is no path, only guards, and this one's step had ended at the look).
    GuardEnded { guard: usize, waiting: usize },
    /// The step of the guard at `guard` died while the dependency at
    /// `waiting` was not there yet (`waiting == guard`: as for `GuardEnded`).
    GuardDied { guard: usize, waiting: usize },
    /// The deadline passed; this index is one that was still pending.
    TimedOut(usize),
    /// The caller's descriptor became readable (a signal, for the tools).
    Interrupted,
}

impl Outcome {
    /// The exit status of a wait that ended so (docs/protocol.md, exit status): 0 when
    /// ready, 1 when a dependency failed or died, 124 on the deadline.
    pub fn status(self) -> u8 {
        match self {
            Outcome::Ready | Outcome::Interrupted => status::OK,
            Outcome::Failed(_) | Outcome::Died(_) => status::SKIPPED,
            Outcome::GuardEnded { .. } | Outcome::GuardDied { .. } => status::SKIPPED,
            Outcome::TimedOut(_) => status::TIMED_OUT,
        }
    }
}

/// Waits for a set of step files (and other targets).
pub struct Engine<'a, O: Others = NoOthers> {
    tool: &'static str,
    others: Option<&'a mut O>,
    deps: Slab<Dep>,
    polls: PollSet,
    /// The inotify instance, while some dependency needs directory events.
    inotify: Option<OwnedFd>,
    /// A dependency needs events but its directory may not be watched yet.
    rearm: bool,
    /// The line saying that no inotify instance could be had was printed.
    told: bool,
    opts: Options,
    next_recheck: Instant,
}

impl<'a, O: Others> Engine<'a, O> {
    /// An engine for up to `capacity` paths; `tool` names it in the one line
    /// it may print (no inotify instance to be had).
    pub fn new(tool: &'static str, capacity: usize, opts: Options) -> Result<Engine<'a, O>, Errno> {
        let deps = Slab::with_capacity(capacity)?;
        // The caller's descriptors, inotify, and one lock (or socket) per dependency.
        let polls = PollSet::with_capacity(capacity.saturating_add(1 + poll_set::MAX_EXTRAS))?;
        let next_recheck = Instant::now();
        let others = None;
        Ok(Engine { tool, others, deps, polls, inotify: None, rearm: false, told: false, opts, next_recheck })
    }

    /// Changes how to wait (before waiting).
    pub fn set_options(&mut self, opts: Options) {
        self.opts = opts;
    }

    /// Adds a path to wait for; `ENAMETOOLONG` for one that the kernel
    /// refuses (it could never appear), `ENOMEM` when the list is full.
    pub fn add(&mut self, path: &'static [u8]) -> Result<(), Errno> {
        self.push(path, false)
    }

    /// Adds a guard, the post file `P` of a step (`--while-alive P`): the
    /// wait goes on only while that step has not ended. Once it has (`P`,
    /// `P.err`, or its lock free), a wait that is not over fails as for a
    /// failed dependency (with `always`, it is over). An engine with guards
    /// and no path looks once: a guard's step that has ended by then fails
    /// the wait the same way, else the wait is over (a step not started yet
    /// is not waited for). A guard is watched as a
    /// dependency is: through its lock pipe once its step has started, with
    /// a directory watch before. Errors as for [`Engine::add`].
    pub fn add_guard(&mut self, post_file: &'static [u8]) -> Result<(), Errno> {
        self.push(post_file, true)
    }

    fn push(&mut self, path: &'static [u8], guard: bool) -> Result<(), Errno> {
        if path.len() >= PATH_MAX {
            return Err(Errno::NAMETOOLONG);
        }
        self.deps.push(Dep { path, state: State::Pending, lock: None, other: None, guard })
    }

    /// Gives the engine the targets that are not step files.
    pub fn set_others(&mut self, others: &'a mut O) {
        self.others = Some(others);
    }

    /// Adds target `k` of the others, known as `label` (its operand).
    pub fn add_other(&mut self, label: &'static [u8], k: usize) -> Result<(), Errno> {
        self.deps.push(Dep { path: label, state: State::Pending, lock: None, other: Some(k), guard: false })
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

    /// When the next safety re-check is due.
    pub fn next_recheck(&self) -> Instant {
        self.next_recheck
    }

    /// Hands over the inotify instance, if the engine still has one (for a
    /// caller that must not pay its last close before an exec).
    pub fn take_events(&mut self) -> Option<OwnedFd> {
        self.inotify.take()
    }

    /// Looks at every pending path (arming watches first where an instance
    /// is in use); returns the outcome if the wait is over. This is the first
    /// check and the safety re-check.
    pub fn rescan(&mut self) -> Option<Outcome> {
        self.arm();
        let nonempty = self.opts.nonempty;
        for dep in self.deps.as_mut_slice().iter_mut().filter(|d| d.state == State::Pending) {
            let answered = match (dep.other, self.others.as_deref_mut()) {
                (None, _) => {
                    self.rearm |= dep.look(nonempty);
                    false
                }
                (Some(k), Some(o)) => o.advance(k, false),
                _ => false,
            };
            if answered {
                dep.state = State::Done;
            }
        }
        self.sync_events();
        self.next_recheck = Instant::now().after(self.opts.interval);
        self.verdict()
    }

    /// Sleeps until something may have changed: one of the caller's `extras`
    /// (its signalfd, entrypoint's output relays; at most
    /// [`poll_set::MAX_EXTRAS`](poll_set::MAX_EXTRAS)) is ready, a
    /// watched lock hangs up, a directory event, the re-check, or `wake`.
    /// Returns which extras are ready (bit `i` for `extras[i]`), and the
    /// outcome if the wait is over.
    pub fn sleep(
        &mut self,
        extras: &[(BorrowedFd<'_>, Want)],
        wake: Option<Instant>,
    ) -> (u32, Option<Outcome>) {
        self.polls.clear();
        for &(fd, want) in extras {
            let _ = self.polls.push(fd, want);
        }
        let events = self.inotify.as_ref().and_then(|fd| self.polls.push(fd.as_fd(), Want::Read));
        let mut wake = wake.map_or(self.next_recheck, |w| w.min(self.next_recheck));
        for dep in self.deps.as_slice().iter().filter(|d| d.state == State::Pending) {
            let watched = match (dep.other, self.others.as_deref()) {
                (None, _) => dep.lock.as_ref().map(|fd| (fd.as_fd(), Want::HangUp)),
                (Some(k), Some(o)) => {
                    wake = o.due(k).map_or(wake, |d| d.min(wake));
                    o.poll_fd(k)
                }
                _ => None,
            };
            if let Some((fd, want)) = watched {
                let _ = self.polls.push(fd, want);
            }
        }
        self.polls.sleep(Some(wake.remaining(Instant::now())));

        // The same order as above: each watched dependency, its entry.
        let nonempty = self.opts.nonempty;
        let now = Instant::now();
        let mut slot = extras.len() + usize::from(events.is_some());
        for dep in self.deps.as_mut_slice().iter_mut().filter(|d| d.state == State::Pending) {
            match (dep.other, self.others.as_deref_mut()) {
                (None, _) if dep.lock.is_some() => {
                    if self.polls.ready(slot) {
                        // Hung up: the wrapper ended (the lock is free by now).
                        self.rearm |= dep.look(nonempty);
                    }
                    slot += 1;
                }
                (Some(k), Some(o)) => {
                    let polled = o.poll_fd(k).is_some();
                    let ready = polled && self.polls.ready(slot);
                    slot += usize::from(polled);
                    if (ready || o.due(k).is_some_and(|d| now >= d)) && o.advance(k, ready) {
                        dep.state = State::Done;
                    }
                }
                _ => {}
            }
        }
        let mut full = false;
        if events.is_some_and(|i| self.polls.ready(i)) {
            full = self.read_events();
        }
        if full || Instant::now() >= self.next_recheck {
            let _ = self.rescan();
        } else {
            self.sync_events();
        }
        if self.deps.as_slice().iter().any(|d| d.guard && d.state != State::Pending) {
            // A guard's step has ended: a file it wrote just before (its ready
            // file) may not have told its event yet. Look before the verdict.
            for dep in self
                .deps
                .as_mut_slice()
                .iter_mut()
                .filter(|d| d.state == State::Pending && d.other.is_none() && !d.guard)
            {
                self.rearm |= dep.look(nonempty);
            }
        }
        let ready = (0..extras.len()).filter(|&i| self.polls.ready(i)).fold(0, |bits, i| bits | 1 << i);
        (ready, self.verdict())
    }

    /// Reads the pending inotify events and looks again at the paths they may
    /// concern; true when a full rescan is needed (a directory appeared or
    /// went, the queue overflowed, the kubelet swapped `..data`).
    fn read_events(&mut self) -> bool {
        let Some(fd) = self.inotify.as_ref() else {
            return false;
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
                            if dep.state == State::Pending
                                && dep.other.is_none()
                                && concerns(name, basename(dep.path))
                            {
                                self.rearm |= dep.look(nonempty);
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
        full
    }

    /// Opens an inotify instance when some dependency needs directory events
    /// (watching, then looking again at those), and closes it as soon as none
    /// does. Without an instance, says so once; the re-check carries on.
    fn sync_events(&mut self) {
        loop {
            let deps = self.deps.as_slice();
            if !deps.iter().any(Dep::needs_events) {
                // Every dependency has started: no more events. (Once all have
                // ended, the caller disposes of the instance, after the handoff.)
                if deps.iter().any(|d| d.state == State::Pending) {
                    self.inotify = None;
                }
                return;
            }
            if self.inotify.is_some() && !self.rearm {
                return;
            }
            if self.inotify.is_none() {
                match inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK) {
                    Ok(fd) => self.inotify = Some(fd),
                    Err(e) => return self.tell_no_events(e),
                }
            }
            self.rearm = false;
            self.arm();
            let nonempty = self.opts.nonempty;
            for dep in self.deps.as_mut_slice().iter_mut().filter(|d| d.needs_events()) {
                self.rearm |= dep.look(nonempty);
            }
        }
    }

    /// Watches the directory of every dependency that needs events.
    fn arm(&mut self) {
        let Some(fd) = self.inotify.as_ref() else {
            return;
        };
        let mut last_dir: &[u8] = b"\0";
        for dep in self.deps.as_slice().iter().filter(|d| d.needs_events()) {
            let dir = dirname(dep.path);
            if dir != last_dir {
                arm(fd.as_fd(), dir, self.opts.nonempty);
                last_dir = dir;
            }
        }
    }

    /// The one line for a wait without inotify (docs/protocol.md).
    fn tell_no_events(&mut self, e: Errno) {
        if core::mem::replace(&mut self.told, true) {
            return;
        }
        Line::new(self.tool)
            .text("no inotify instance")
            .reason(e)
            .text("; unstarted steps are seen at each re-check only (raise it: sysctl -w fs.inotify.max_user_instances=1024)")
            .emit();
    }

    /// Whether the wait is over, from the states known now.
    pub fn verdict(&self) -> Option<Outcome> {
        let always = self.opts.always;
        let mut pending = None;
        let mut any_done = false;
        let mut first_bad = None;
        let mut guard_ended = None;
        let mut paths = false;
        for (i, dep) in self.deps.as_slice().iter().enumerate() {
            if dep.guard {
                if dep.state != State::Pending {
                    guard_ended.get_or_insert((i, dep.state == State::Died));
                }
                continue;
            }
            paths = true;
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
        if !paths {
            // Guards alone: nothing to wait for but their steps being alive,
            // looked at once. An ended one is as a path never there (itself).
            pending = guard_ended.map(|(guard, _)| guard);
        }
        let over = if self.opts.any {
            match (any_done, pending) {
                (true, _) => Some(Outcome::Ready),
                // Every path failed: nothing left to wait for.
                (false, None) => first_bad.or(Some(Outcome::Ready)),
                (false, Some(_)) => None,
            }
        } else if first_bad.is_some() {
            first_bad
        } else if pending.is_none() {
            Some(Outcome::Ready)
        } else {
            None
        };
        // Not over, and a guard's step has ended: it never will be.
        match (over, pending, guard_ended) {
            (None, Some(_), Some(_)) if always => Some(Outcome::Ready),
            (None, Some(waiting), Some((guard, false))) => Some(Outcome::GuardEnded { guard, waiting }),
            (None, Some(waiting), Some((guard, true))) => Some(Outcome::GuardDied { guard, waiting }),
            _ => over,
        }
    }

    /// The tools' wait: until the outcome or the `deadline`, reading the
    /// blocked signals from `signals` (a signalfd) meanwhile; a signal that
    /// ends a wait ([`signals::ends_wait`]) returns `Err` with its
    /// number, every other one goes to `other` (entrypoint reaps on SIGCHLD)
    /// and is dropped.
    pub fn wait_signalled(
        &mut self,
        deadline: Option<Instant>,
        signals: BorrowedFd<'_>,
        mut other: impl FnMut(i32),
    ) -> Result<Outcome, i32> {
        loop {
            match self.wait(deadline, Some(signals)) {
                Outcome::Interrupted => {
                    while let Some(sig) = read_signal(signals) {
                        if signals::ends_wait(sig) {
                            return Err(sig);
                        }
                        other(sig);
                    }
                }
                done => return Ok(done),
            }
        }
    }

    /// The plain wait loop: until the outcome, the `deadline`, or until `extra`
    /// (a signalfd) is readable.
    pub fn wait(&mut self, deadline: Option<Instant>, extra: Option<BorrowedFd<'_>>) -> Outcome {
        if let Some(o) = self.rescan() {
            return o;
        }
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return self.rescan().unwrap_or_else(|| self.timed_out());
            }
            let extras = extra.map(|fd| (fd, Want::Read));
            match self.sleep(extras.as_slice(), deadline) {
                (0, Some(o)) => return o,
                (0, None) => {}
                _ => return Outcome::Interrupted,
            }
        }
    }

    fn timed_out(&self) -> Outcome {
        let i = self.deps.as_slice().iter().position(|d| d.state == State::Pending && !d.guard);
        Outcome::TimedOut(i.unwrap_or(0))
    }
}

/// Says why a wait ended without success, one line: the same words for
/// `waitfor` and `entrypoint`. Nothing is said for `Ready` and `Interrupted`.
pub fn report<O: Others>(tool: &str, engine: &Engine<'_, O>, outcome: Outcome) {
    let mut line = Line::new(tool);
    if report_into(&mut line, engine, outcome) {
        line.emit();
    }
}

/// Words the line [`report`] prints into `line` (which holds `TOOL: `);
/// returns false when there is nothing to say.
pub fn report_into<O: Others>(line: &mut Line, engine: &Engine<'_, O>, outcome: Outcome) -> bool {
    let (before, i, after) = match outcome {
        Outcome::Failed(i) => ("step ", i, " failed"),
        Outcome::Died(i) => ("step ", i, " died without a result"),
        Outcome::TimedOut(i) => ("timed out waiting for ", i, ""),
        // Guards alone (no path): the guard's step has ended.
        Outcome::GuardEnded { guard, waiting } if guard == waiting => ("step ", guard, " ended"),
        Outcome::GuardDied { guard, waiting } if guard == waiting => {
            ("step ", guard, " died without a result")
        }
        Outcome::GuardEnded { guard, waiting } | Outcome::GuardDied { guard, waiting } => {
            let died = matches!(outcome, Outcome::GuardDied { .. });
            line.add_text("step ");
            line.add_quoted(engine.path(guard));
            (if died { " died while waiting for " } else { " ended while waiting for " }, waiting, "")
        }
        Outcome::Ready | Outcome::Interrupted => return false,
    };
    line.add_text(before);
    match (engine.deps.as_slice().get(i).and_then(|d| d.other), engine.others.as_deref()) {
        (Some(k), Some(o)) => o.describe(k, line),
        _ => line.add_quoted(engine.path(i)),
    }
    line.add_text(after);
    true
}

/// True when an event on entry `name` may change the state of a path whose
/// last component is `base`: `base`, `base.err` or its lock `.base.lock`.
#[inline(never)]
fn concerns(name: &[u8], base: &[u8]) -> bool {
    match name.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest == b".err",
        None => matches!(name.strip_prefix(b".").and_then(|n| n.strip_prefix(base)), Some(b".lock")),
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
                    Ok(n) if is_dir(n.as_cstr()) => target = dir,
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

/// How a step whose lock is free ended: it wrote its marker just before its
/// wrapper exited, or it died without one.
fn ended(path: &[u8], nonempty: bool) -> State {
    if present(path, b"", nonempty) {
        State::Done
    } else if present(path, b".err", false) {
        State::Failed
    } else {
        State::Died
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        assert!(concerns(b"one", b"one"));
        assert!(concerns(b"one.err", b"one"));
        assert!(concerns(b".one.lock", b"one"));
        assert!(!concerns(b"one.lock", b"one"));
        assert!(!concerns(b".one.lock.tmp", b"one"));
        assert!(!concerns(b"..one.lock.tmp", b"one"));
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
