//! Signals as the kernel takes them: sets of 64 bits, the signal mask,
//! signalfd and the records read from it (`rt_sigprocmask(2)`,
//! `signalfd4(2)`, `read(2)`).

use core::ffi::c_int;
use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::io::Errno;

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
            return Err(super::errno::last());
        }
        // SAFETY: signalfd4 returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// `rt_sigprocmask(2)`: applies `set` to the signal mask as `how` says
/// (`SIG_BLOCK`, `SIG_SETMASK`), the mask in force before into `old`. A
/// system call made directly, so it is safe in a forked child too.
pub(super) fn sigprocmask(how: c_int, set: &SigSet, old: Option<&mut SigSet>) {
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
}
