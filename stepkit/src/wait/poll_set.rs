//! The one blocking wait of the tools: a set of descriptors and one `ppoll(2)`
//! that sleeps until one of them is ready or a timeout passes.
//!
//! The wait engine fills a set with what it waits on (the caller's signalfd,
//! its inotify instance while it needs one, the lock of every started
//! dependency, network sockets); `entrypoint` supervises its command with it.
//! Nothing else in the wrappers blocks; `copier`, which waits for nothing,
//! blocks in one other place: its `flock` on the directory it writes into,
//! while another copier holds it (`files::copy::lock_dir`).

use crate::os::clock::Duration;
use crate::os::mem::Slab;
use crate::os::poll::poll;
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;

/// What an entry waits for. A hang-up or an error is reported for all three.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Want {
    /// Data to read (a signalfd, inotify, a socket's answer).
    Read,
    /// Room to write (a socket whose connect has finished).
    Write,
    /// Only the hang-up: the write side of a pipe closed everywhere.
    HangUp,
}

/// A fixed-capacity set of descriptors to sleep on, refilled before each sleep.
pub struct PollSet {
    entries: Slab<libc::pollfd>,
}

fn events(want: Want) -> i16 {
    match want {
        Want::Read => libc::POLLIN,
        Want::Write => libc::POLLOUT,
        Want::HangUp => 0,
    }
}

impl PollSet {
    /// Room for `cap` descriptors.
    pub fn with_capacity(cap: usize) -> Result<PollSet, Errno> {
        Ok(PollSet { entries: Slab::with_capacity(cap)? })
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Adds `fd`; returns its index, or `None` when the set is full.
    pub fn push(&mut self, fd: BorrowedFd<'_>, want: Want) -> Option<usize> {
        let i = self.entries.as_slice().len();
        self.entries.push(libc::pollfd { fd: fd.as_raw_fd(), events: events(want), revents: 0 }).ok()?;
        Some(i)
    }

    /// Sleeps until an entry is ready or `timeout` passes (none: forever).
    /// An interrupted or failed poll counts as a timeout: callers look again.
    pub fn sleep(&mut self, timeout: Option<Duration>) {
        let entries = self.entries.as_mut_slice();
        entries.iter_mut().for_each(|e| e.revents = 0);
        let _ = poll(entries, timeout);
    }

    /// True when entry `i` was ready (readable, writable, hung up or failed).
    pub fn ready(&self, i: usize) -> bool {
        self.entries.as_slice().get(i).is_some_and(|e| e.revents != 0)
    }
}

/// The most descriptors a caller adds to a wait of its own ([`wait_any`],
/// and the extras of the wait engine's sleep): the signalfd and two relays.
pub const MAX_EXTRAS: usize = 3;

/// Sleeps until one of `fds` (at most [`MAX_EXTRAS`]) is ready or `timeout`
/// passes; bit `i` of the result is set when `fds[i]` is. A set on the
/// stack, without a mapping.
pub fn wait_any(fds: &[(BorrowedFd<'_>, Want)], timeout: Option<Duration>) -> u32 {
    let mut set = [libc::pollfd { fd: -1, events: 0, revents: 0 }; MAX_EXTRAS];
    for (slot, (fd, want)) in set.iter_mut().zip(fds) {
        *slot = libc::pollfd { fd: fd.as_raw_fd(), events: events(*want), revents: 0 };
    }
    let n = fds.len().min(MAX_EXTRAS);
    let _ = poll(set.get_mut(..n).unwrap_or_default(), timeout);
    set.iter().take(n).enumerate().filter(|(_, e)| e.revents != 0).fold(0, |bits, (i, _)| bits | 1 << i)
}
