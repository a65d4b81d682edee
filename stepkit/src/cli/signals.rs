//! Which signals the tools take, and the one rule for signals during a wait.
//!
//! The tools block every signal they handle before anything else and read them
//! from a signalfd, so none is lost and none acts on its own (as PID 1 the
//! kernel's default actions would not apply anyway).
//!
//! During a wait (waitfor, `entrypoint --wait`, `--hold-until`), TERM, INT, HUP
//! and QUIT end it with 128+N: the signals with which a terminal, a shell, the
//! kubelet or Go's runtime end a program. Every other signal is read and
//! dropped: there is no command yet to pass it to. In the run phase entrypoint
//! forwards them all to the command.

use crate::os::signal::SigSet;
use core::ffi::c_int;

/// The signals the tools handle: all but those that report a fault of the
/// tool's own (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS). (musl also keeps its
/// three internal signals out of every set.) The terminal stop signals TTIN
/// and TTOU are taken like the others: tini ignores them so that they never
/// stop the wrapper, and blocked they never do either (the kernel does not
/// even send them for a terminal write or `tcsetpgrp` while they are
/// blocked); one sent by someone is dropped during a wait and forwarded to
/// the command while it runs, as every other signal is.
pub fn handled() -> SigSet {
    [libc::SIGFPE, libc::SIGILL, libc::SIGSEGV, libc::SIGBUS, libc::SIGABRT, libc::SIGTRAP, libc::SIGSYS]
        .into_iter()
        .fold(SigSet::all(), SigSet::without)
}

/// True when `sig`, arriving during a wait, ends it (with 128+N).
pub fn ends_wait(sig: c_int) -> bool {
    matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT)
}
