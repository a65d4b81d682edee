//! Reading and writing whole things: the one write-all loop, the one
//! read-a-whole-file loop, one-`writev` lines, and the standard descriptors
//! (`write(2)`, `writev(2)`, `read(2)`, `openat(2)`).

use super::clock::Duration;
use rustix::fd::{BorrowedFd, RawFd};
use rustix::io::Errno;

/// Writes all of `bytes` to `fd` (`write(2)`), retrying after EINTR and
/// short writes: the one write-all loop of the tools.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads the file at `path` into `buf` until its end or until `buf` is full,
/// retrying after EINTR; returns the bytes read. Opened non-blocking, so a
/// FIFO in its place cannot hang the caller. The one read-a-whole-file loop
/// of the tools: a caller that needs the whole file checks `len < buf.len()`.
pub fn read_up_to(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let fd = openat(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty())?;
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) {
        match rustix::io::read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// One of the standard descriptors, borrowed (0, 1, 2 are open for the whole
/// run: [`ensure_stdio`] makes sure of it).
pub fn stdio(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: descriptors 0-2 stay open for the life of the process (opened on
    // /dev/null by `ensure_stdio` if they were closed); writing to one that
    // was closed anyway is an error at the system call level, not UB.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Writes `line` and a newline in one `writev(2)`, so that lines of concurrent
/// processes never interleave. Errors are dropped, as in [`write_all`].
pub fn write_line(fd: BorrowedFd<'_>, line: &[u8]) {
    let iov = [rustix::io::IoSlice::new(line), rustix::io::IoSlice::new(b"\n")];
    loop {
        match rustix::io::writev(fd, &iov) {
            Err(Errno::INTR) => {}
            _ => return,
        }
    }
}

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if not), so that a
/// file this process opens can never become its stderr.
pub fn ensure_stdio() {
    // One ppoll for the three: a closed number is reported as POLLNVAL.
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    if super::poll::poll(&mut fds, Some(Duration(0))).unwrap_or(0) == 0 {
        return;
    }
    for f in &fds {
        if f.revents & libc::POLLNVAL != 0 {
            // open returns the lowest free number, the closed one: keep it.
            if let Ok(null) =
                rustix::fs::open(c"/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty())
            {
                core::mem::forget(null);
            }
        }
    }
}
