//! The clocks: spans of time, monotonic instants for deadlines, and
//! wall-clock time as RFC 3339 UTC timestamps with milliseconds for the
//! termination message (`clock_gettime(2)`).

/// A span of time in nanoseconds.
#[derive(Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
pub struct Duration(pub u64);

impl Duration {
    /// Whole seconds.
    pub const fn secs(s: u64) -> Duration {
        Duration(s * 1_000_000_000)
    }

    /// Milliseconds, rounded up so that a short non-zero wait never becomes zero.
    pub fn as_millis_ceil(self) -> u64 {
        self.0.div_ceil(1_000_000)
    }
}

/// Nanoseconds on the monotonic clock.
#[derive(Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
pub struct Instant(u64);

impl Instant {
    /// Now (`clock_gettime(CLOCK_MONOTONIC)`).
    pub fn now() -> Instant {
        let t = clock_gettime(ClockId::Monotonic);
        Instant((t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64))
    }

    /// This instant plus `d`.
    pub fn after(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// Nanoseconds since an unspecified start (for ids that need only vary).
    pub fn nanos(self) -> u64 {
        self.0
    }

    /// Time from now until this instant (zero if past).
    pub fn remaining(self, now: Instant) -> Duration {
        Duration(self.0.saturating_sub(now.0))
    }
}

/// Wall-clock time in milliseconds since the epoch (`CLOCK_REALTIME`).
pub fn unix_millis() -> u64 {
    let t = clock_gettime(ClockId::Realtime);
    (t.tv_sec.max(0) as u64) * 1000 + (t.tv_nsec as u64) / 1_000_000
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `ms` since the epoch.
pub fn rfc3339_millis(ms: u64) -> [u8; 24] {
    let secs = ms / 1000;
    let (y, mo, d) = civil_from_days((secs / 86400) as i64);
    let sod = secs % 86400;
    let fields: [(u64, usize); 7] = [
        (y as u64, 4),
        (u64::from(mo), 2),
        (u64::from(d), 2),
        (sod / 3600, 2),
        (sod / 60 % 60, 2),
        (sod % 60, 2),
        (ms % 1000, 3),
    ];
    let seps = [b'-', b'-', b'T', b':', b':', b'.', b'Z'];
    let mut out = [0u8; 24];
    let mut i = 0;
    for ((value, width), sep) in fields.iter().zip(seps) {
        let mut v = *value;
        for k in (0..*width).rev() {
            if let Some(slot) = out.get_mut(i + k) {
                *slot = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
        i += width;
        if let Some(slot) = out.get_mut(i) {
            *slot = sep;
        }
        i += 1;
    }
    out
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Which clock [`clock_gettime`] reads.
#[derive(Clone, Copy)]
enum ClockId {
    /// `CLOCK_MONOTONIC`.
    Monotonic,
    /// `CLOCK_REALTIME`.
    Realtime,
}

/// `clock_gettime(2)` as a plain system call: the tools read the clock a
/// handful of times per run, so the vDSO's lookup code (in musl or rustix) would
/// cost more bytes than it saves time.
fn clock_gettime(id: ClockId) -> libc::timespec {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64) -> String {
        String::from_utf8(rfc3339_millis(ms).to_vec()).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(s(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(s(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(s(1_795_770_900_123), "2026-11-27T09:15:00.123Z");
        assert_eq!(s(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn deadlines() {
        let t = Instant(5);
        assert_eq!(t.after(Duration(10)).remaining(Instant(7)), Duration(8));
        assert_eq!(t.remaining(Instant(9)), Duration(0));
    }
}
