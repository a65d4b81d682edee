//! The C library's `errno`, read right after a system call made through
//! `libc` (rustix returns its errors as values; raw calls do not).

use rustix::io::Errno;

/// The error of the system call just made (`errno(3)`).
pub fn last() -> Errno {
    // SAFETY: musl's __errno_location returns this thread's errno slot.
    Errno::from_raw_os_error(unsafe { *libc::__errno_location() })
}
