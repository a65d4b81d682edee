//! `ppoll(2)` on a slice of libc `pollfd`s: rustix's `poll` takes its own
//! `PollFd` and `Timespec`, 144 bytes more for `ensure_stdio` alone.

use super::clock::Duration;
use rustix::io::Errno;

/// Sleeps until one of `fds` is ready or `timeout` passes (none: forever),
/// `ppoll(2)` with the signal mask left alone. Returns how many are ready.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> Result<usize, Errno> {
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
        return Err(super::errno::last());
    }
    Ok(n as usize)
}
