//! System calls as typed wrappers, where rustix does not wrap them or where
//! its wrapper costs bytes the budgets do not have (measured, in the commits
//! that made each one): signal masks and signalfd, fork/exec, the terminal's
//! foreground group, kill with any signal number, abort, the clock, and
//! `ppoll` (rustix's `poll` takes its own `PollFd` and `Timespec`: 144 bytes
//! more for `ensure_stdio` alone). Each wrapper's doc line names its calls;
//! each `unsafe` block says why the call is sound. (The other modules
//! with `unsafe` are `mem`, memory without an allocator, and `argv`, the
//! process's argument vector.)

use crate::argv::Argv;
use core::ffi::c_int;
use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::io::Errno;
use rustix::process::Pid;

/// Ends the process with SIGABRT, as `abort(3)` does, in system calls: its
/// default action restored (an ignored SIGABRT is inherited across exec),
/// unblocked, then sent to this process (`rt_sigaction(2)`,
/// `rt_sigprocmask(2)`, `kill(2)`); `_exit(127)` if it still returns.
pub fn abort() -> ! {
    // The kernel's struct sigaction: SIG_DFL, no flags, no restorer, no mask.
    let default = [0u64; 4];
    // SAFETY: the kernel reads the action it is given (all zero: SIG_DFL)
    // and, with a null old-action pointer, writes nothing.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::SIGABRT,
            default.as_ptr(),
            core::ptr::null::<u64>(),
            8usize,
        )
    };
    sigprocmask(libc::SIG_UNBLOCK, &SigSet::empty().with(libc::SIGABRT), None);
    let _ = kill_raw(rustix::process::getpid().as_raw_nonzero().get(), libc::SIGABRT);
    // SAFETY: _exit ends the process at once.
    unsafe { libc::_exit(127) }
}

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
    if poll(&mut fds, Some(crate::duration::Duration(0))).unwrap_or(0) == 0 {
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

/// A set of signals as the kernel takes it: bit N-1 for signal N (1 to 64),
/// 8 bytes where the C library's `sigset_t` has 128, so that sets are passed
/// in registers and changed without calls.
#[derive(Clone, Copy)]
pub struct SigSet(u64);

/// musl keeps signals 32, 33 and 34 for itself (its `sigfillset` leaves them
/// out, its `sigaddset` refuses them): so do we.
const RESERVED: u64 = 0b111 << 31;

impl SigSet {
    /// No signal.
    pub fn empty() -> SigSet {
        SigSet(0)
    }

    /// Every signal the C library lets a program handle.
    pub fn all() -> SigSet {
        SigSet(!RESERVED)
    }

    /// The bit of signal `sig`; none when out of range or reserved.
    fn bit(sig: c_int) -> u64 {
        match sig {
            1..=64 => (1u64 << (sig - 1)) & !RESERVED,
            _ => 0,
        }
    }

    /// Adds signal `sig` (ignored when out of range).
    pub fn with(self, sig: c_int) -> SigSet {
        SigSet(self.0 | SigSet::bit(sig))
    }

    /// Removes signal `sig`.
    pub fn without(self, sig: c_int) -> SigSet {
        SigSet(self.0 & !SigSet::bit(sig))
    }

    /// Blocks these signals; returns the mask that was in force before.
    pub fn block(&self) -> SigSet {
        let mut old = SigSet::empty();
        sigprocmask(libc::SIG_BLOCK, self, Some(&mut old));
        old
    }

    /// Makes this set the signal mask.
    pub fn set_mask(&self) {
        sigprocmask(libc::SIG_SETMASK, self, None);
    }

    /// A non-blocking, close-on-exec signalfd(2) that reports these signals.
    pub fn signalfd(&self) -> Result<OwnedFd, Errno> {
        let flags = libc::SFD_NONBLOCK | libc::SFD_CLOEXEC;
        // SAFETY: the kernel reads the 8-byte mask it is given the size of;
        // -1 asks for a new descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_signalfd4, -1, &self.0 as *const u64, 8usize, flags) };
        if fd < 0 {
            return Err(Errno::from_raw_os_error(errno()));
        }
        // SAFETY: signalfd4 returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// `rt_sigprocmask(2)`: applies `set` to the signal mask as `how` says
/// (`SIG_BLOCK`, `SIG_SETMASK`), the mask in force before into `old`. A
/// system call made directly, so it is safe in a forked child too.
fn sigprocmask(how: c_int, set: &SigSet, old: Option<&mut SigSet>) {
    let old = old.map_or(core::ptr::null_mut(), |o| &mut o.0 as *mut u64);
    // SAFETY: `set` points to 8 readable bytes, `old` is null or 8 writable
    // ones, and 8 is the size the kernel takes; the process has one thread.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, how, &set.0 as *const u64, old, 8usize) };
}

/// The next pending signal from a signalfd, or `None` when there is none.
pub fn read_signal(fd: BorrowedFd<'_>) -> Option<c_int> {
    read_signal_from(fd).map(|(sig, _)| sig)
}

/// The next pending signal from a signalfd and the pid of its sender (0 for
/// the kernel; this process's own pid for a signal it caused itself, such as
/// the SIGPIPE of a write to a pipe without a reader).
pub fn read_signal_from(fd: BorrowedFd<'_>) -> Option<(c_int, u32)> {
    // A signalfd_siginfo record is 128 bytes: `u32 ssi_signo, i32 ssi_errno,
    // i32 ssi_code, u32 ssi_pid`, ...
    let mut rec = [0u8; 128];
    match rustix::io::read(fd, &mut rec) {
        Ok(128) => {}
        _ => return None,
    }
    let field = |at: usize| u32::from_ne_bytes([rec[at], rec[at + 1], rec[at + 2], rec[at + 3]]);
    Some((c_int::try_from(field(0)).ok()?, field(12)))
}

fn errno() -> c_int {
    // SAFETY: musl's __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Why a command was not started.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum SpawnError {
    /// The child could not be set up (pipe, fork): the tool failed (125).
    Setup(Errno),
    /// The command could not be executed (`execvp`'s error: 126 or 127).
    Exec(Errno),
}

/// Starts `argv[0]` (searched in PATH like `execvp`) with `argv`, in a new
/// process group of its own and with an empty signal mask (the wrapper blocks
/// signals; it never changes their dispositions, so there is nothing else to
/// restore). With `terminal`, the new group is made the foreground group of
/// the terminal on stdin (as tini's `isolate_child` does), so that the command
/// can read it without being stopped by SIGTTIN.
///
/// `pipe2(2)`, `clone(2)` (a fork), `setpgid(2)`, `tcsetpgrp(3)`,
/// `sigprocmask(2)`, `execve(2)` along PATH (see [`exec`]): a close-on-exec
/// pipe carries exec's errno back. Less code than musl's posix_spawn (or even
/// its fork), which the size budget counts.
/// `stdio[0]`, `stdio[1]`: descriptors to become the command's stdout and
/// stderr (`dup3(2)`; entrypoint's output relays), instead of the wrapper's.
pub fn spawn(cmd: Argv, terminal: bool, stdio: [Option<RawFd>; 2]) -> Result<Pid, SpawnError> {
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(SpawnError::Setup)?;
    let empty = SigSet::empty();
    let ttou = SigSet::empty().with(libc::SIGTTOU);
    // The process has a single thread, so the child may run any code; it runs
    // only system calls (setpgid, dup3, sigprocmask, TIOCSPGRP, execve,
    // write, _exit) on memory valid in its copy of our address space, and of
    // the C library only errno (its copy is this child's), not the cached
    // thread id that a plain clone leaves stale: `cmd` is a non-empty
    // null-terminated vector of C strings (an `Argv` guarantees it).
    // SAFETY: as just said; without CLONE_VM this is a fork, and null stack
    // and tid pointers are allowed.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) } as libc::pid_t;
    if pid == 0 {
        // SAFETY: see above; _exit never returns and skips atexit handlers.
        unsafe {
            let _ = rustix::process::setpgid(None, None);
            for (fd, to) in stdio.iter().zip([1, 2]) {
                if let Some(fd) = *fd {
                    // dup2: `fd` is a pipe's end, above the standard three.
                    libc::syscall(libc::SYS_dup3, fd, to, 0);
                }
            }
            if terminal {
                // A background group that changes the foreground group gets
                // SIGTTOU unless it blocks it; the mask is reset just below.
                sigprocmask(libc::SIG_BLOCK, &ttou, None);
                set_foreground(rustix::process::getpid().as_raw_nonzero().get());
            }
            empty.set_mask();
            let err = execvp(cmd).raw_os_error().to_ne_bytes();
            let _ = rustix::io::write(&wr, &err);
            libc::_exit(127)
        }
    }
    drop(wr);
    // fork failed (EAGAIN under a pids limit, ENOMEM): no child exists. A
    // negative number must never be taken for a pid: kill(-1) signals everyone.
    let child = match Pid::from_raw(pid.max(0)) {
        Some(child) if pid > 0 => child,
        _ => return Err(SpawnError::Setup(Errno::from_raw_os_error(errno()))),
    };
    // Also from this side, so that no signal can be sent to the group before it exists.
    let _ = rustix::process::setpgid(Some(child), Some(child));
    let mut err = [0u8; 4];
    match rustix::io::read(&rd, &mut err) {
        Ok(4) => {
            let _ = rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
            Err(SpawnError::Exec(Errno::from_raw_os_error(i32::from_ne_bytes(err))))
        }
        _ => Ok(child),
    }
}

/// True when stdin is a terminal whose foreground process group is this
/// process's group (`tcgetpgrp(3)`, `getpgrp(2)`): the command may then be
/// given the terminal.
pub fn owns_terminal() -> bool {
    let mut pgrp: libc::pid_t = -1;
    // SAFETY: TIOCGPGRP writes one pid_t to the pointer it is given; it fails
    // with ENOTTY when stdin is not a terminal, leaving -1, no group's number.
    unsafe { libc::syscall(libc::SYS_ioctl, 0, libc::TIOCGPGRP, &mut pgrp as *mut libc::pid_t) };
    pgrp == rustix::process::getpgrp().as_raw_nonzero().get()
}

/// Makes the process group `pgrp` the foreground group of the terminal on
/// stdin (`tcsetpgrp(3)`: `TIOCSPGRP`); a failure (no terminal) changes nothing.
fn set_foreground(pgrp: libc::pid_t) {
    // SAFETY: TIOCSPGRP reads one pid_t from the pointer it is given.
    unsafe { libc::syscall(libc::SYS_ioctl, 0, libc::TIOCSPGRP, &pgrp as *const libc::pid_t) };
}

/// Makes this process's group the foreground group of the terminal on stdin
/// again (`tcsetpgrp(3)`), with SIGTTOU blocked meanwhile (a background group
/// that does this is otherwise stopped).
pub fn take_terminal() {
    let old = SigSet::empty().with(libc::SIGTTOU).block();
    set_foreground(rustix::process::getpgrp().as_raw_nonzero().get());
    old.set_mask();
}

/// Sends signal `sig` (any number, real-time ones too: rustix's `kill` takes
/// only named signals) to the process `pid` (`kill(2)`). A `Pid` is positive,
/// so this can never become `kill(-1)` (every process) or `kill(0)`.
pub fn kill(pid: Pid, sig: c_int) -> Result<(), Errno> {
    kill_raw(pid.as_raw_nonzero().get(), sig)
}

/// Sends signal `sig` to the process group `pgid` (`kill(2)` with `-pgid`);
/// signal 0 only tells whether the group still has a member (`ESRCH` if not).
pub fn kill_group(pgid: Pid, sig: c_int) -> Result<(), Errno> {
    kill_raw(-pgid.as_raw_nonzero().get(), sig)
}

fn kill_raw(target: i32, sig: c_int) -> Result<(), Errno> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the
    // callers pass a positive pid or its negation, never 0 or -1.
    if unsafe { libc::kill(target, sig) } == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(errno()))
    }
}

/// Replaces this process with `argv[0]` (PATH search, `execvp(3)`). Returns
/// only on failure, with the reason.
pub fn exec(cmd: Argv) -> Errno {
    execvp(cmd)
}

/// `execvp(3)` as musl does it, in less code: a name with a slash is run as
/// it is; else each directory of PATH (default `/usr/local/bin:/bin:/usr/bin`;
/// an empty one is the current directory) is tried in turn, past those where
/// it is missing (ENOENT, ENOTDIR) or not allowed (EACCES, which is then the
/// error if nothing runs); any other error stops the search.
fn execvp(cmd: Argv) -> Errno {
    let file = cmd.program();
    let name = file.to_bytes();
    if name.is_empty() {
        return Errno::NOENT;
    }
    if crate::path::has_byte(name, b'/') {
        return execve(file, cmd);
    }
    if name.len() > 255 {
        return Errno::NAMETOOLONG;
    }
    let path = crate::argv::env(b"PATH").unwrap_or(b"/usr/local/bin:/bin:/usr/bin");
    let (mut last, mut denied) = (Errno::NOENT, false);
    // musl passes over a directory of PATH_MAX bytes or more.
    for dir in path.split(|&c| c == b':').filter(|d| d.len() < 4096) {
        let slash: &[u8] = if dir.is_empty() { b"" } else { b"/" };
        let mut full = crate::path::PathBuf::empty();
        last = match [dir, slash, name].iter().try_for_each(|part| full.push(part)) {
            Ok(()) => execve(full.as_cstr(), cmd),
            Err(e) => e,
        };
        match last {
            Errno::ACCESS => denied = true,
            Errno::NOENT | Errno::NOTDIR => {}
            e => return e,
        }
    }
    if denied {
        Errno::ACCESS
    } else {
        last
    }
}

/// `execve(2)` of `path` with `cmd` and this process's environment; returns
/// only on failure, with the reason.
fn execve(path: &core::ffi::CStr, cmd: Argv) -> Errno {
    // SAFETY: `path` is a C string; `cmd` a non-empty null-terminated vector
    // of C strings (an `Argv` guarantees it), and so is the environment that
    // the C runtime set up; execve only returns on failure.
    unsafe { libc::execve(path.as_ptr(), cmd.as_ptr().cast(), crate::argv::environment().cast()) };
    Errno::from_raw_os_error(errno())
}

/// Which clock [`clock_gettime`] reads.
#[derive(Clone, Copy)]
pub enum ClockId {
    /// `CLOCK_MONOTONIC`.
    Monotonic,
    /// `CLOCK_REALTIME`.
    Realtime,
}

/// `clock_gettime(2)` as a plain system call: the tools read the clock a
/// handful of times per run, so the vDSO's lookup code (in musl or rustix) would
/// cost more bytes than it saves time.
pub fn clock_gettime(id: ClockId) -> libc::timespec {
    let clock = match id {
        ClockId::Monotonic => libc::CLOCK_MONOTONIC,
        ClockId::Realtime => libc::CLOCK_REALTIME,
    };
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer for the kernel's timespec (64-bit
    // time on both targets); both clocks exist on every Linux.
    unsafe { libc::syscall(libc::SYS_clock_gettime, clock, &mut ts as *mut libc::timespec) };
    ts
}

/// Sleeps until one of `fds` is ready or `timeout` passes (none: forever),
/// `ppoll(2)` with the signal mask left alone. Returns how many are ready.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<crate::duration::Duration>) -> Result<usize, Errno> {
    const NS: u64 = 1_000_000_000;
    let mut ts = timeout.map(|d| libc::timespec { tv_sec: (d.0 / NS) as _, tv_nsec: (d.0 % NS) as _ });
    let tsp = ts.as_mut().map_or(core::ptr::null_mut(), |t| t as *mut libc::timespec);
    // SAFETY: pointer and length are one live pollfd slice (revents written in
    // bounds); `tsp` is null or our live timespec; a null mask keeps the mask.
    let n = unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            tsp,
            core::ptr::null::<u64>(),
            8usize,
        )
    };
    if n < 0 {
        return Err(Errno::from_raw_os_error(errno()));
    }
    Ok(n as usize)
}

/// Starts a process that lingers as this process's sibling (`clone(2)` with
/// `CLONE_PARENT`: its parent is our parent, so it is never a child that a
/// program we exec would inherit), holding copies of our descriptors but
/// stdin, stdout and stderr, until the pipe read end `until` reaches end of
/// file, that is until the write end `hold` (returned to the caller) is
/// closed everywhere; then it exits, and the kernel releases its copies there.
/// The kernel refuses this to the init of a PID namespace (EINVAL).
pub fn linger_sibling(until: OwnedFd, hold: OwnedFd) -> Result<OwnedFd, Errno> {
    // SAFETY: without CLONE_VM this is a fork: the child gets a copy of this
    // single-threaded process and makes only async-signal-safe calls (close,
    // read, _exit) before it exits; null stack and tid pointers are allowed.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_PARENT | libc::SIGCHLD, 0, 0, 0, 0) };
    if pid == 0 {
        drop(hold);
        for fd in 0..3 {
            // SAFETY: closes this child's own copies of the standard
            // descriptors, which nothing in the child uses afterwards.
            unsafe { libc::close(fd) };
        }
        let mut byte = [0u8; 1];
        while matches!(rustix::io::read(&until, &mut byte), Ok(1..) | Err(Errno::INTR)) {}
        // SAFETY: _exit ends the child at once, without atexit handlers.
        unsafe { libc::_exit(0) }
    }
    if pid < 0 {
        return Err(Errno::from_raw_os_error(errno()));
    }
    drop(until);
    Ok(hold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_sets_are_musls() {
        // musl's sigfillset on a 64-bit target, its three signals left out.
        assert_eq!(SigSet::all().0, 0xffff_fffc_7fff_ffff);
        assert_eq!(SigSet::empty().with(libc::SIGTERM).0, 1 << (libc::SIGTERM - 1));
        assert_eq!(SigSet::empty().with(64).0, 1 << 63);
        for refused in [0, 32, 33, 34, 65, -1] {
            assert_eq!(SigSet::empty().with(refused).0, 0, "{refused}");
        }
        assert_eq!(SigSet::all().without(libc::SIGINT).with(libc::SIGINT).0, SigSet::all().0);
    }

    #[test]
    fn abort_ends_with_sigabrt_even_when_it_was_ignored_or_blocked() {
        for how in ["default", "ignored", "blocked"] {
            // SAFETY: the child makes only system calls before it ends.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork");
            if pid == 0 {
                match how {
                    // SAFETY: plain signal-disposition call on this child.
                    "ignored" => unsafe {
                        libc::signal(libc::SIGABRT, libc::SIG_IGN);
                    },
                    "blocked" => {
                        SigSet::empty().with(libc::SIGABRT).block();
                    }
                    _ => {}
                }
                abort();
            }
            let mut status = 0;
            // SAFETY: waits for the child this test made.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(
                libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
                "{how}: {status:#x}"
            );
        }
    }
}
