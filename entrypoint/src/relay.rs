//! `--stdout-path F`, `--stderr-path F`: the command's output goes to the
//! container's log and to a file another step can read (Tekton's
//! `-stdout_path`).
//!
//! The command writes into a pipe; the wrapper reads it a page at a time,
//! writes each page to F at once (a regular file: it does not block for long)
//! and to the log when the log can take it (`poll` says so; a page is at most
//! `PIPE_BUF`, so a pipe that polls writable takes it whole). While the log
//! cannot take a page, the pipe is not read: the command blocks only where it
//! would have blocked writing to the log itself. A log whose reader went away
//! (EPIPE: SIGPIPE is blocked in the wrapper) is dropped and F still gets
//! everything. When the command has ended, what is left in the pipe goes to
//! both before the marker is written.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use stepkit::cli::say::{self, Line};
use stepkit::files::path::{create_dirs, dirname};
use stepkit::os::cstr::PathBuf;
use stepkit::os::io;
use stepkit::os::mem::Mapping;
use stepkit::wait::poll_set::{wait_any, Want};

use crate::TOOL;

/// A page: at most `PIPE_BUF`, so a pipe that polls writable takes it whole.
const PAGE: usize = 4096;

/// One relayed stream.
pub struct Relay {
    /// The read end of the command's pipe (non-blocking).
    pipe: OwnedFd,
    /// The wrapper's own stdout or stderr: the container's log.
    log: BorrowedFd<'static>,
    /// F, appended to (as Tekton opens it).
    file: OwnedFd,
    path: &'static [u8],
    /// One page, mapped only for a relay that exists: a buffer on the stack
    /// would be probed, so resident, in every run.
    page: Mapping,
    /// Bytes `sent..filled` of `page` are not in the log yet.
    sent: usize,
    filled: usize,
    /// The log's reader is gone: F alone gets the rest.
    log_gone: bool,
    /// F failed once (said in one line); the log still gets everything.
    file_failed: bool,
    /// The pipe has reached its end.
    done: bool,
}

impl Relay {
    /// Opens F (creating its directory) and the pipe for the stream whose
    /// log is the wrapper's descriptor `log_fd` (1 or 2); returns the relay
    /// and the write end, to become the command's descriptor `log_fd`.
    // Not inlined: its code is smaller in a frame of its own than in `main`'s.
    #[inline(never)]
    pub fn new(path: &'static [u8], log_fd: i32) -> Result<(Relay, OwnedFd), Line> {
        let cannot = |e| say::failure(TOOL, "cannot open", path, e);
        let file = match open_append(path) {
            Err(Errno::NOENT) => create_dirs(dirname(path)).and_then(|()| open_append(path)),
            other => other,
        }
        .map_err(cannot)?;
        let flags = rustix::pipe::PipeFlags::CLOEXEC;
        let (pipe, write_end) = rustix::pipe::pipe_with(flags).map_err(cannot)?;
        rustix::io::ioctl_fionbio(&pipe, true).map_err(cannot)?;
        let log = io::stdio(log_fd);
        let page = Mapping::new(PAGE).map_err(cannot)?;
        let relay = Relay {
            pipe,
            log,
            file,
            path,
            page,
            sent: 0,
            filled: 0,
            log_gone: false,
            file_failed: false,
            done: false,
        };
        Ok((relay, write_end))
    }

    /// What the relay waits for now: room in the log for the page it holds,
    /// or the command's next output; `None` once the pipe has ended.
    pub fn want(&self) -> Option<(BorrowedFd<'_>, Want)> {
        if self.sent < self.filled {
            Some((self.log, Want::Write))
        } else if self.done {
            None
        } else {
            Some((self.pipe.as_fd(), Want::Read))
        }
    }

    /// Does what [`Relay::want`] waited for, once it is ready.
    pub fn step(&mut self) {
        if self.sent < self.filled {
            self.send_to_log();
        } else {
            self.read();
        }
    }

    /// After the command has ended: what is in the pipe now goes to F and to
    /// the log (a process the command left behind may still hold the pipe:
    /// the relay does not wait for its end).
    pub fn drain(&mut self) {
        loop {
            while self.sent < self.filled && !self.log_gone {
                wait_any(&[(self.log, Want::Write)], None);
                self.send_to_log();
            }
            if self.done || !self.read() {
                return;
            }
        }
    }

    /// Reads a page from the pipe and writes it to F; false when there was
    /// nothing to read.
    fn read(&mut self) -> bool {
        let n = match rustix::io::read(&self.pipe, self.page.bytes_mut()) {
            Ok(0) => {
                self.done = true;
                return false;
            }
            Ok(n) => n,
            Err(Errno::INTR) => return true,
            Err(Errno::AGAIN) => return false,
            Err(_) => {
                self.done = true;
                return false;
            }
        };
        if let Err(e) = io::write_all(self.file.as_fd(), self.page.bytes().get(..n).unwrap_or_default()) {
            if !self.file_failed {
                say::failed(TOOL, "cannot write", self.path, e);
                self.file_failed = true;
            }
        }
        (self.sent, self.filled) = (0, if self.log_gone { 0 } else { n });
        true
    }

    /// Writes what it can of the page to the log.
    fn send_to_log(&mut self) {
        match rustix::io::write(self.log, self.page.bytes().get(self.sent..self.filled).unwrap_or_default()) {
            Ok(n) if n > 0 => self.sent += n,
            Err(Errno::INTR | Errno::AGAIN) => {}
            // EPIPE (no reader), or a log that fails or takes nothing: the
            // rest goes to F only.
            _ => (self.log_gone, self.sent) = (true, self.filled),
        }
    }
}

/// `open(2)` of F for appending, created 0644.
fn open_append(path: &[u8]) -> Result<OwnedFd, Errno> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let p = PathBuf::new(path)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::CLOEXEC;
    openat(CWD, p.as_cstr(), flags, Mode::from_raw_mode(0o644))
}
