//! The step's outcome, written before exit whatever happened: the marker (`P`
//! or `P.err`, holding the wrapper's status), then the termination message.

use rustix::io::Errno;
use stepkit::atomic;
use stepkit::clock;
use stepkit::path::{create_dirs, dirname, PathBuf};
use stepkit::say::{self, Line};
use stepkit::sys::Buf;

use crate::TOOL;

/// Why the step ended, as Tekton and Kubernetes tooling read it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Reason {
    /// COMMAND exited 0.
    Completed,
    /// COMMAND exited non-zero, could not be run, or the tool failed.
    Error,
    /// A dependency failed.
    Skipped,
    /// A dependency's wrapper died without a result.
    DependencyDied,
    /// `--timeout` or `--wait-timeout` expired.
    TimeoutExceeded,
    /// TERM or INT arrived while waiting.
    Cancelled,
    /// `--stop-when` stopped the command.
    Stopped,
    /// COMMAND was killed by a signal.
    Signaled,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Completed => "Completed",
            Reason::Error => "Error",
            Reason::Skipped => "Skipped",
            Reason::DependencyDied => "DependencyDied",
            Reason::TimeoutExceeded => "TimeoutExceeded",
            Reason::Cancelled => "Cancelled",
            Reason::Stopped => "Stopped",
            Reason::Signaled => "Signaled",
        }
    }
}

/// Where the outcome goes.
pub struct Step {
    /// `P`, if the step has a post file.
    pub post_file: Option<&'static [u8]>,
    /// The termination message path, if any.
    pub termination_path: Option<&'static [u8]>,
    /// When the step started (ms since the epoch).
    pub started_ms: u64,
}

impl Step {
    /// Writes the marker for wrapper status `status`, then the termination
    /// message (with COMMAND's real status `exit_code`, and `note`, the line
    /// that explained a failure, if any); returns `status`.
    pub fn finish(&self, status: u8, exit_code: u8, reason: Reason, note: Option<&Line>) -> u8 {
        if let Some(p) = self.post_file {
            let mut digits = [0u8; 20];
            let digits = say::fmt_u64(u64::from(status), &mut digits);
            let mut content = [0u8; 4];
            let len = digits.len().min(3);
            if let (Some(dst), Some(src)) = (content.get_mut(..len), digits.get(..len)) {
                dst.copy_from_slice(src);
            }
            if let Some(nl) = content.get_mut(len) {
                *nl = b'\n';
            }
            let suffix: &[u8] = if status == 0 { b"" } else { b".err" };
            match PathBuf::with_suffix(p, suffix) {
                Ok(marker) => write_step_file(marker.as_bytes(), content.get(..=len).unwrap_or_default()),
                Err(e) => say::failed(TOOL, "cannot write", p, e),
            }
        }
        if let Some(t) = self.termination_path {
            let mut json = Json::new();
            json.message(self.started_ms, exit_code, reason, note.map(|l| l.body(TOOL)));
            write_step_file(t, json.as_bytes());
        }
        status
    }
}

/// Writes a marker or termination file atomically, creating its directory
/// when missing. A file that is a mount point (Kubernetes bind-mounts the
/// termination message file) cannot be renamed over: it is rewritten in place.
fn write_step_file(path: &[u8], content: &[u8]) {
    let mut result = atomic::write_file(path, content, 0o644);
    if result == Err(Errno::NOENT) {
        result = create_dirs(dirname(path)).and_then(|()| atomic::write_file(path, content, 0o644));
    }
    if matches!(result, Err(Errno::BUSY | Errno::XDEV)) {
        result = overwrite(path, content);
    }
    if let Err(e) = result {
        say::failed(TOOL, "cannot write", path, e);
    }
}

fn overwrite(path: &[u8], content: &[u8]) -> Result<(), Errno> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let p = PathBuf::new(path)?;
    let flags = OFlags::WRONLY | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = openat(CWD, p.as_cstr(), flags, Mode::empty())?;
    match rustix::io::write(&fd, content) {
        Ok(n) if n == content.len() => Ok(()),
        Ok(_) => Err(Errno::NOSPC),
        Err(e) => Err(e),
    }
}

/// Kubernetes keeps at most 4096 bytes of a termination message.
const MAX: usize = 4096;

/// Tekton's termination message: a JSON array of `{"key","value","type":3}`.
pub struct Json {
    /// Bytes `..len` are written.
    buf: Buf<MAX>,
    len: usize,
}

impl Json {
    /// An empty message.
    pub fn new() -> Json {
        Json { buf: Buf::new(), len: 0 }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: bytes ..len are always written (see the field).
        unsafe { self.buf.prefix(self.len) }
    }

    fn raw(&mut self, s: &[u8]) -> bool {
        let fits = self.len + s.len() <= MAX && self.buf.write(self.len, s);
        if fits {
            self.len += s.len();
        }
        fits
    }

    /// Appends `s` as JSON string content, escaped, cut to leave `reserve`
    /// bytes free. Bytes that are not UTF-8 become U+FFFD.
    fn escaped(&mut self, s: &[u8], reserve: usize) {
        let limit = MAX.saturating_sub(reserve);
        let mut i = 0;
        while let Some(&c) = s.get(i) {
            let mut esc = [b'\\', c, 0, 0, 0, 0];
            let (piece, used): (&[u8], usize) = match c {
                b'"' | b'\\' => (&esc[..2], 1),
                b'\n' => (b"\\n", 1),
                b'\t' => (b"\\t", 1),
                0..=0x1f | 0x7f => {
                    let hex = b"0123456789abcdef";
                    esc = [b'\\', b'u', b'0', b'0', hex[usize::from(c >> 4)], hex[usize::from(c & 15)]];
                    (&esc, 1)
                }
                0x20..=0x7e => (core::slice::from_ref(&c), 1),
                _ => match utf8_len(s.get(i..).unwrap_or_default()) {
                    0 => (b"\\ufffd", 1),
                    n => (s.get(i..i + n).unwrap_or_default(), n),
                },
            };
            if self.len + piece.len() > limit || !self.raw(piece) {
                return;
            }
            i += used;
        }
    }

    fn entry(&mut self, first: bool, key: &str, value: &[u8]) {
        if !first {
            self.raw(b",");
        }
        self.raw(b"{\"key\":\"");
        self.raw(key.as_bytes());
        self.raw(b"\",\"value\":\"");
        self.escaped(value, TAIL.len() + 2);
        self.raw(TAIL);
    }

    /// The whole message.
    pub fn message(&mut self, started_ms: u64, exit_code: u8, reason: Reason, note: Option<&[u8]>) {
        let mut digits = [0u8; 20];
        self.raw(b"[");
        self.entry(true, "StartedAt", &clock::rfc3339_millis(started_ms));
        self.entry(false, "ExitCode", say::fmt_u64(u64::from(exit_code), &mut digits));
        self.entry(false, "Reason", reason.as_str().as_bytes());
        if let Some(n) = note {
            self.entry(false, "Message", n);
        }
        self.raw(b"]");
    }
}

const TAIL: &[u8] = b"\",\"type\":3}";

/// The length of the well-formed UTF-8 sequence at the start of `s` (which
/// starts with a byte >= 0x80), or 0 if it is not one.
fn utf8_len(s: &[u8]) -> usize {
    // The second byte's range depends on the first (no overlong forms, no
    // surrogates, nothing past U+10FFFF); later bytes are 0x80..=0xbf.
    let (n, lo, hi) = match s.first() {
        Some(0xc2..=0xdf) => (2, 0x80, 0xbf),
        Some(0xe0) => (3, 0xa0, 0xbf),
        Some(0xed) => (3, 0x80, 0x9f),
        Some(0xe1..=0xef) => (3, 0x80, 0xbf),
        Some(0xf0) => (4, 0x90, 0xbf),
        Some(0xf4) => (4, 0x80, 0x8f),
        Some(0xf1..=0xf3) => (4, 0x80, 0xbf),
        _ => return 0,
    };
    let second_ok = s.get(1).is_some_and(|b| (lo..=hi).contains(b));
    let rest_ok = (2..n).all(|k| s.get(k).is_some_and(|b| (0x80..=0xbf).contains(b)));
    if second_ok && rest_ok {
        n
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(note: Option<&[u8]>) -> String {
        let mut j = Json::new();
        j.message(1_795_770_900_123, 137, Reason::Signaled, note);
        String::from_utf8(j.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn tekton_shape() {
        assert_eq!(
            msg(None),
            r#"[{"key":"StartedAt","value":"2026-11-27T09:15:00.123Z","type":3},{"key":"ExitCode","value":"137","type":3},{"key":"Reason","value":"Signaled","type":3}]"#
        );
    }

    #[test]
    fn escaping() {
        let m = msg(Some(b"a\"b\\c\nd\x01e\xffz \xc3\xa9"));
        assert!(m.ends_with(r#"{"key":"Message","value":"a\"b\\c\nd\u0001e\ufffdz é","type":3}]"#), "{m}");
    }

    #[test]
    fn utf8_sequences() {
        for ok in ["é", "€", "𝄞", "\u{10ffff}"] {
            assert_eq!(utf8_len(ok.as_bytes()), ok.len(), "{ok}");
        }
        for bad in [&b"\xc0\x80"[..], b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc3", b"\xff"]
        {
            assert_eq!(utf8_len(bad), 0, "{bad:?}");
        }
    }

    #[test]
    fn never_longer_than_4096() {
        let long = vec![b'"'; 10_000];
        let m = msg(Some(&long));
        assert!(m.len() <= 4096, "{}", m.len());
        // Cut between escapes, never inside one.
        assert!(m.ends_with(r#"\"","type":3}]"#), "{}", &m[m.len() - 40..]);
    }
}
