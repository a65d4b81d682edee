//! Processes: start a command (fork and exec along PATH), replace this
//! process with one, signal a process or a group, linger a sibling, and end
//! this process with SIGABRT (`clone(2)`, `execve(2)`, `kill(2)`,
//! `rt_sigaction(2)`). Less code than musl's `posix_spawn`, `execvp` and
//! `abort`, which the size budgets count.

use super::argv::Argv;
use super::cstr::{has_byte, PathBuf};
use super::signal::{sigprocmask, SigSet};
use super::terminal::set_foreground;
use core::ffi::c_int;
use rustix::fd::{OwnedFd, RawFd};
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
        _ => return Err(SpawnError::Setup(super::errno::last())),
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
        Err(super::errno::last())
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
    if has_byte(name, b'/') {
        return execve(file, cmd);
    }
    if name.len() > 255 {
        return Errno::NAMETOOLONG;
    }
    let path = super::argv::env(b"PATH").unwrap_or(b"/usr/local/bin:/bin:/usr/bin");
    let (mut last, mut denied) = (Errno::NOENT, false);
    // musl passes over a directory of PATH_MAX bytes or more.
    for dir in path.split(|&c| c == b':').filter(|d| d.len() < 4096) {
        let slash: &[u8] = if dir.is_empty() { b"" } else { b"/" };
        let mut full = PathBuf::empty();
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
    unsafe { libc::execve(path.as_ptr(), cmd.as_ptr().cast(), super::argv::environment().cast()) };
    super::errno::last()
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
        return Err(super::errno::last());
    }
    drop(until);
    Ok(hold)
}

#[cfg(test)]
mod tests {
    use super::*;

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
