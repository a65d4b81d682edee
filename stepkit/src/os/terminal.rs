//! The terminal's foreground process group, handed to the command and taken
//! back as tini does (`ioctl(2)` `TIOCGPGRP`/`TIOCSPGRP`, `getpgrp(2)`).

use super::signal::SigSet;

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
pub(super) fn set_foreground(pgrp: libc::pid_t) {
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
