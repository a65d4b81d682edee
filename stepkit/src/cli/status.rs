//! Exit statuses (docs/protocol.md, exit status) and the one mapping from a child's wait
//! status to the status a wrapper exits with.

/// Success (or `--on-error continue`).
pub const OK: u8 = 0;
/// A dependency failed, so the step was skipped.
pub const SKIPPED: u8 = 1;
/// Timed out (`--timeout`, `--wait-timeout`).
pub const TIMED_OUT: u8 = 124;
/// The tool itself failed: bad usage, or a system call failed.
pub const TOOL_FAILED: u8 = 125;
/// COMMAND found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// COMMAND not found.
pub const NOT_FOUND: u8 = 127;

/// How a child ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Ended {
    /// `exit(code)`.
    Exited(u8),
    /// Killed by signal number N.
    Signaled(u8),
}

impl Ended {
    /// From the kernel's raw wait status (`None` for stop/continue reports).
    pub fn from_wait(raw: i32) -> Option<Ended> {
        let low = raw & 0x7f;
        if low == 0 {
            return Some(Ended::Exited(((raw >> 8) & 0xff) as u8));
        }
        // Stopped (0x7f in the low bits) and continued (0xffff) are not endings.
        if low != 0x7f && raw != 0xffff {
            return Some(Ended::Signaled(low as u8));
        }
        None
    }

    /// The wrapper's status for it: the code itself, or 128+N for signal N
    /// (as shells and `timeout` report it).
    pub fn status(self) -> u8 {
        match self {
            Ended::Exited(code) => code,
            Ended::Signaled(sig) => for_signal(i32::from(sig)),
        }
    }
}

/// The status for signal `sig`: 128+N, as shells and `timeout` report a
/// command killed by it, and as the tools exit when a signal ends their wait.
pub fn for_signal(sig: i32) -> u8 {
    128u8.saturating_add(u8::try_from(sig).unwrap_or(u8::MAX))
}

/// The status for a command that could not be started: 127 when it does not
/// exist, 126 otherwise (found but not executable), like a POSIX shell.
pub fn for_exec_error(e: rustix::io::Errno) -> u8 {
    if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::NOTDIR {
        NOT_FOUND
    } else {
        CANNOT_EXECUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(Ended::from_wait(0), Some(Ended::Exited(0)));
        assert_eq!(Ended::from_wait(3 << 8), Some(Ended::Exited(3)));
        assert_eq!(Ended::from_wait(255 << 8).map(Ended::status), Some(255));
        assert_eq!(Ended::from_wait(9).map(Ended::status), Some(137));
        assert_eq!(Ended::from_wait(15).map(Ended::status), Some(143));
        assert_eq!(Ended::from_wait(0x137f), None);
        assert_eq!(Ended::from_wait(0xffff), None);
        assert_eq!(Ended::from_wait(0x80 | 11).map(Ended::status), Some(139));
        assert_eq!(for_exec_error(rustix::io::Errno::NOENT), 127);
        assert_eq!(for_exec_error(rustix::io::Errno::ACCESS), 126);
        assert_eq!(for_exec_error(rustix::io::Errno::NOEXEC), 126);
    }
}
