//! The run phase: with COMMAND started in its own process group, sleep in one
//! `poll` until something happens: a signal (forwarded to the group, or
//! SIGCHLD: reap every child that ended, orphans included), the `--timeout`
//! or grace deadline, or a `--stop-when` path appearing.
//!
//! Stopping (timeout, `--stop-when`) sends TERM to the group, then KILL at the
//! end of the grace: to the whole group even when COMMAND itself has already
//! exited, so that nothing it started survives the step.

use rustix::fd::BorrowedFd;
use rustix::process::{getpgid, wait, Pid, WaitOptions};
use stepkit::cli::signals::ends_wait;
use stepkit::cli::status::Ended;
use stepkit::os::clock::{Duration, Instant};
use stepkit::os::process::{kill, kill_group};
use stepkit::os::signal::read_signal_from;
use stepkit::wait::engine::Engine;
use stepkit::wait::poll_set::{wait_any, Want};

use crate::relay::Relay;

/// Why COMMAND ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Cause {
    /// By itself (or from a forwarded signal).
    Exited,
    /// `--timeout` expired and it was stopped.
    TimedOut,
    /// A `--stop-when` path appeared and it was stopped.
    Stopped,
}

/// The limits of the run phase.
pub struct Limits {
    /// `--timeout`, from the command's start.
    pub timeout: Option<Duration>,
    /// From SIGTERM to SIGKILL when stopping.
    pub grace: Duration,
}

/// Supervises `child` until it ends, relaying its output through `relays`;
/// returns how, and why. `terminated` is set when a signal that ends a wait
/// (TERM, INT, HUP, QUIT: the pod is going) was passed on.
pub fn supervise(
    child: Pid,
    signals: BorrowedFd<'_>,
    limits: &Limits,
    mut stop: Option<&mut Engine<'static>>,
    relays: &mut [Option<Relay>],
    terminated: &mut bool,
) -> (Ended, Cause) {
    let mut cause = Cause::Exited;
    // How COMMAND ended, once it has (while stopping, the group may outlive it).
    let mut ended: Option<Ended> = None;
    // The next thing to do on the clock: stop at the timeout, then kill at the
    // end of the grace period.
    let mut deadline = limits.timeout.map(|t| Instant::now().after(t));
    let mut kill_at: Option<Instant> = None;
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    if stop.as_mut().is_some_and(|e| e.rescan().is_some()) {
        (cause, kill_at, deadline) = begin_stop(child, Cause::Stopped, limits.grace);
    }
    loop {
        let stopping = cause != Cause::Exited;
        let wake = if stopping { kill_at } else { deadline };
        // The signals, and the relays that wait for something.
        let mut extras = [(signals, Want::Read); 3];
        let mut n = 1;
        for want in relays.iter().flatten().filter_map(Relay::want) {
            if let Some(slot) = extras.get_mut(n) {
                *slot = want;
                n += 1;
            }
        }
        let extras = extras.get(..n).unwrap_or_default();
        // Until it is being stopped, the `--stop-when` paths are watched too.
        let (ready, stop_now) = match stop.as_mut() {
            Some(e) if !stopping => {
                let (ready, outcome) = e.sleep(extras, wake);
                (ready, outcome.is_some())
            }
            _ => (wait_any(extras, wake.map(|w| w.remaining(Instant::now()))), false),
        };
        let sig_ready = ready & 1 != 0;
        let mut bit = 2;
        for relay in relays.iter_mut().flatten().filter(|r| r.want().is_some()) {
            if ready & bit != 0 {
                relay.step();
            }
            bit <<= 1;
        }

        if sig_ready {
            while let Some((sig, sender)) = read_signal_from(signals) {
                // A SIGPIPE of the relay's own write to a log without reader
                // is not the command's business.
                if sender == me && sig == libc::SIGPIPE {
                    continue;
                }
                if sig != libc::SIGCHLD {
                    *terminated |= ends_wait(sig);
                    if ended.is_none() {
                        forward(child, sig);
                    } else {
                        let _ = kill_group(child, sig);
                    }
                    continue;
                }
                if let Some(how) = reap(child) {
                    ended = Some(how);
                }
                // Stopping: the rest of the group still gets its KILL at the
                // end of the grace, unless it is gone already.
                let group_left = stopping && kill_at.is_some() && kill_group(child, 0).is_ok();
                if let (Some(how), false) = (ended, group_left) {
                    return (how, cause);
                }
            }
        }
        if cause != Cause::Exited {
            if kill_at.is_some_and(|k| Instant::now() >= k) {
                let _ = kill_group(child, libc::SIGKILL);
                if ended.is_none() {
                    forward(child, libc::SIGKILL);
                }
                kill_at = None;
                if let Some(how) = ended {
                    // COMMAND ended before; the group is killed: done (the
                    // kernel delivers KILL before anything else runs in it).
                    reap_all();
                    return (how, cause);
                }
            }
            continue;
        }
        if stop_now {
            (cause, kill_at, deadline) = begin_stop(child, Cause::Stopped, limits.grace);
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            (cause, kill_at, deadline) = begin_stop(child, Cause::TimedOut, limits.grace);
        }
    }
}

/// Sends SIGTERM to the command and sets the SIGKILL deadline.
fn begin_stop(child: Pid, cause: Cause, grace: Duration) -> (Cause, Option<Instant>, Option<Instant>) {
    forward(child, libc::SIGTERM);
    (cause, Some(Instant::now().after(grace)), None)
}

/// Sends `sig` to the command's process group; also to the command itself
/// when it has left that group (setsid, setpgid).
pub fn forward(child: Pid, sig: i32) {
    let in_own_group = getpgid(Some(child)).is_ok_and(|g| g == child);
    let _ = kill_group(child, sig);
    if !in_own_group {
        let _ = kill(child, sig);
    }
}

/// Reaps every child that has ended (orphans re-parented to us included);
/// returns how `child` ended if it was among them.
pub fn reap(child: Pid) -> Option<Ended> {
    let mut main = None;
    while let Ok(Some((pid, status))) = wait(WaitOptions::NOHANG) {
        if pid == child {
            main = Ended::from_wait(status.as_raw());
        }
    }
    main
}

/// Reaps every child that has ended, while there is no command (the wait):
/// orphans re-parented to a subreaper or PID 1 do not stay zombies.
pub fn reap_all() {
    while let Ok(Some(_)) = wait(WaitOptions::NOHANG) {}
}
