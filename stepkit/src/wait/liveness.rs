//! The liveness lock (docs/protocol.md): how a step's wrapper says
//! "alive", and how a waiter learns that it has ended without watching the
//! directory. The lock of the post file `DIR/NAME` is `DIR/.NAME.lock`: a dot
//! name, so that a user's `cat DIR/*` or `cat DIR/NAME*` never opens it (a
//! reader that opens the pipe blocks until the wrapper ends). Earlier
//! releases called it `P.lock`.
//!
//! The lock is a named pipe. The wrapper creates it at a temporary name, opens
//! it read-write (which never blocks and makes it a writer), takes an
//! exclusive `flock` on it and renames it into place, so it is never seen
//! unlocked while the wrapper lives; it keeps it open for its whole life. The
//! kernel drops the lock and the pipe's last write side together the moment
//! the wrapper exits or dies, after its marker is written. A waiter opens the
//! pipe for reading and polls it: `POLLHUP` is the wrapper's end, no directory
//! watch needed, no wakeup for other steps' files. Opened after the wrapper
//! has gone, a pipe never reports a hang-up (the kernel waits for a writer
//! first), so the waiter also tests the lock right after its open: free means
//! ended, and the markers say how.
//!
//! A regular file there, held with `flock` (as a script may take the lock),
//! counts too: held is alive (its release shows only as a directory event),
//! free is ended.

use crate::files::atomic::AtomicFile;
use crate::files::path::dot_name;
use crate::os::cstr::PathBuf;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{flock, fstat, openat, FileType, FlockOperation, Mode, OFlags, CWD};
use rustix::io::Errno;

/// The lock's path for the post file `post_file` (`DIR/NAME`):
/// `DIR/.NAME.lock`.
pub fn lock_path(post_file: &[u8]) -> Result<PathBuf, Errno> {
    dot_name(post_file, usize::MAX, b".lock")
}

/// Creates the lock for the post file `P`, held: the lock lasts as long as
/// the returned descriptor (close-on-exec) is open in this process.
pub fn hold(post_file: &[u8]) -> Result<OwnedFd, Errno> {
    let lock = lock_path(post_file)?;
    let file = AtomicFile::create_fifo(lock.as_bytes())?;
    flock(file.fd(), FlockOperation::NonBlockingLockExclusive)?;
    file.commit_keep(0o644)
}

/// What a waiter sees at the lock.
pub enum Lock {
    /// Nothing that can be a lock (none, a directory, a symlink, unreadable):
    /// as far as can be seen, the step has not started.
    Absent,
    /// Held: the wrapper lives. With the pipe open for reading, whose
    /// hang-up `poll` reports when the wrapper ends; `None` for a regular file.
    Held(Option<OwnedFd>),
    /// Not held: the wrapper has ended, or died.
    Free,
}

/// Looks at the lock of the step whose post file is `path`.
pub fn probe(path: &[u8]) -> Lock {
    let Ok(p) = lock_path(path) else {
        return Lock::Absent;
    };
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(fd) = openat(CWD, p.as_cstr(), flags, Mode::empty()) else {
        return Lock::Absent;
    };
    let kind = fstat(&fd).map(|st| FileType::from_raw_mode(st.st_mode));
    let pipe = match kind {
        Ok(FileType::Fifo) => true,
        Ok(FileType::RegularFile) => false,
        _ => return Lock::Absent,
    };
    if is_free(&fd) {
        return Lock::Free;
    }
    Lock::Held(if pipe { Some(fd) } else { None })
}

/// True when nobody holds the lock on `fd` (`flock(LOCK_SH | LOCK_NB)`; the
/// shared lock taken to find out lasts until `fd` is closed).
pub fn is_free(fd: impl AsFd) -> bool {
    flock(fd, FlockOperation::NonBlockingLockShared).is_ok()
}
