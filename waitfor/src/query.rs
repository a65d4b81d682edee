//! `waitfor --status PATH...`: what each step file says now, without waiting
//! (`steps status` asks it through one `kubectl exec` for every step of a pod).
//!
//! One line a PATH on stdout, in the order given, `STATE\tSTATUS\tMTIME_MS\tPATH`:
//!
//! | STATE | when | STATUS | MTIME_MS |
//! |---|---|---|---|
//! | `done` | `PATH` exists (a directory too) | its first line (the wrapper's exit status), `-` if empty | `PATH`'s |
//! | `failed` | else `PATH.err` exists | its first line, `-` if empty | `PATH.err`'s |
//! | `alive` | else its lock `DIR/.NAME.lock` is held: the wrapper lives | `-` | `-` |
//! | `died` | else the lock is there and free: the wrapper died | `-` | `-` |
//! | `absent` | none of these | `-` | `-` |
//!
//! MTIME_MS is the marker's modification time in milliseconds since the
//! epoch. Nothing blocks: the lock is probed as the wait engine probes it
//! (opened non-blocking, `flock` tried), never read; the markers are read
//! non-blocking. The lock is looked at before the markers: a wrapper that
//! ends between the two looks wrote its marker before its lock went, so a
//! free lock and no marker after it is a death, never a race. A PATH is only
//! ever a file here (a network target is `absent`). Control characters in a
//! PATH or a marker are escaped (`\x09`), as in every line the tools print,
//! so a line always has its four fields.

use core::ffi::CStr;
use rustix::fs::{statat, AtFlags, CWD};
use stepkit::cli::decimal;
use stepkit::cli::say::Line;
use stepkit::os::cstr::PathBuf;
use stepkit::os::io;
use stepkit::wait::liveness::{self, Lock};

/// Prints the line of the step file `p` (the `TOOL: ` that starts every
/// `Line` is not printed).
#[inline(never)]
pub fn report(tool: &str, p: &CStr) {
    let path = p.to_bytes();
    let mut line = Line::new(tool);
    let lock = liveness::probe(path);
    let err = PathBuf::with_suffix(path, b".err");
    let found = marker(&mut line, "done\t", p)
        || err.as_ref().is_ok_and(|e| marker(&mut line, "failed\t", e.as_cstr()));
    if !found {
        line.add_text(match lock {
            Lock::Held(_) => "alive\t-\t-\t",
            Lock::Free => "died\t-\t-\t",
            Lock::Absent => "absent\t-\t-\t",
        });
    }
    line.add_bytes(path);
    io::write_line(io::stdio(1), line.body(tool));
}

/// If the marker `f` exists, writes `STATE\tSTATUS\tMTIME_MS\t` into `line`.
fn marker(line: &mut Line, state: &str, f: &CStr) -> bool {
    let Ok(st) = statat(CWD, f, AtFlags::empty()) else { return false };
    line.add_text(state);
    let content = crate::resolve::read_file(f);
    let content = content.as_ref().and_then(|(map, n)| map.bytes().get(..*n)).unwrap_or_default();
    let status = content.split(|&c| c == b'\n').next().unwrap_or_default();
    line.add_bytes(if status.is_empty() { b"-" } else { status });
    line.add_text("\t");
    // The field types differ between targets (u64 or i64 nanoseconds).
    #[allow(clippy::unnecessary_cast)]
    let ms = (st.st_mtime as u64) * 1000 + st.st_mtime_nsec as u64 / 1_000_000;
    let mut digits = [0u8; 20];
    line.add_bytes(decimal::format(ms, &mut digits));
    line.add_text("\t");
    true
}
