//! Diagnostics: every message is one line, built in a stack buffer and written
//! with one `write(2)`, so lines of concurrent steps never interleave.
//!
//! Format: `TOOL: what failed 'object': reason` (the reason is the system's text,
//! `strerror`), or for usage errors `TOOL: MESSAGE (try 'TOOL --help')`.

use super::args::UsageError;
use super::decimal;
use crate::os::io;
use crate::os::mem::{SpillBuf, SPILL_CAP};
use rustix::io::Errno;

/// Long enough for a 4096-byte path and the words around it.
const CAP: usize = SPILL_CAP;

/// A message line being built. Too long a line is cut, never split.
pub struct Line {
    /// Short lines stay on the stack, long ones move to a mapping.
    buf: SpillBuf,
    len: usize,
}

impl Line {
    /// A line that starts with `TOOL: `.
    #[inline(never)]
    pub fn new(tool: &str) -> Line {
        let mut line = Line { buf: SpillBuf::new(), len: 0 };
        line.push(tool.as_bytes());
        line.push(b": ");
        line
    }

    #[inline(never)]
    fn push(&mut self, bytes: &[u8]) {
        // Keep room for the final newline.
        let room = CAP - 1 - self.len;
        let n = bytes.len().min(room);
        if self.buf.write(self.len, bytes.get(..n).unwrap_or_default()) {
            self.len += n;
        }
    }

    /// Plain text.
    #[inline(never)]
    pub fn text(mut self, s: &str) -> Line {
        self.add_text(s);
        self
    }

    /// Plain text, in place.
    #[inline(never)]
    pub fn add_text(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    /// A quoted path, in place (see [`Line::quoted`]).
    #[inline(never)]
    pub fn add_quoted(&mut self, s: &[u8]) {
        self.push(b"'");
        self.add_bytes(s);
        self.push(b"'");
    }

    /// Raw bytes (an option name, say), control characters escaped.
    #[inline(never)]
    pub fn bytes(mut self, s: &[u8]) -> Line {
        self.add_bytes(s);
        self
    }

    /// Raw bytes, in place.
    pub fn add_bytes(&mut self, s: &[u8]) {
        for &c in s {
            if c < 0x20 || c == 0x7f {
                let hex = b"0123456789abcdef";
                let esc = [b'\\', b'x', hex[usize::from(c >> 4)], hex[usize::from(c & 15)]];
                self.push(&esc);
            } else {
                self.push(core::slice::from_ref(&c));
            }
        }
    }

    /// A path or command in single quotes (`'a b'`), control characters escaped
    /// so that a hostile name cannot break the line.
    #[inline(never)]
    pub fn quoted(mut self, s: &[u8]) -> Line {
        self.add_quoted(s);
        self
    }

    /// A number in decimal.
    pub fn num(mut self, n: u64) -> Line {
        let mut digits = [0u8; 20];
        let s = decimal::format(n, &mut digits);
        self.push(s);
        self
    }

    /// `: ` and the system's text for `e` (`error N` for one the table lacks).
    #[inline(never)]
    pub fn reason(mut self, e: Errno) -> Line {
        self.push(b": ");
        self.add_error(e);
        self
    }

    /// The system's text for `e` (`error N` for one the table lacks), in place.
    #[inline(never)]
    pub fn add_error(&mut self, e: Errno) {
        match error_text(e) {
            Some(text) => self.push(text),
            None => {
                self.push(b"error ");
                let mut digits = [0u8; 20];
                self.push(decimal::format(e.raw_os_error().unsigned_abs().into(), &mut digits));
            }
        }
    }

    /// The line so far (entrypoint's termination message keeps it whole as
    /// its `Message`).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.bytes().get(..self.len).unwrap_or_default()
    }

    /// The line without its `TOOL: ` prefix (`waitfor --status`'s lines).
    pub fn body(&self, tool: &str) -> &[u8] {
        self.as_bytes().get(tool.len() + 2..).unwrap_or_default()
    }

    /// Writes the line and a newline to stderr in one system call (`writev`).
    pub fn emit(&self) {
        io::write_line(io::stdio(2), self.as_bytes());
    }
}

/// `TOOL: WHAT 'OBJECT': REASON`, the shape of nearly every failure.
#[inline(never)]
pub fn failure(tool: &str, what: &str, object: &[u8], e: Errno) -> Line {
    Line::new(tool).text(what).text(" ").quoted(object).reason(e)
}

/// Prints [`failure`]'s line.
#[inline(never)]
pub fn failed(tool: &str, what: &str, object: &[u8], e: Errno) {
    failure(tool, what, object, e).emit();
}

/// `TOOL: MESSAGE (try 'TOOL --help')` for a usage error.
pub fn usage(tool: &str, err: UsageError) {
    usage_line(tool, err).emit();
}

/// The line [`usage`] prints (entrypoint also keeps it as the message's
/// `Message`).
pub fn usage_line(tool: &str, err: UsageError) -> Line {
    let mut line = Line::new(tool);
    // Most lines are words, a name or value as typed (escaped), more words.
    let (before, typed, after): (&str, &[u8], &str) = match err {
        UsageError::MissingValue(name) => ("option '", name, "' needs a value"),
        UsageError::UnexpectedValue(name) => ("option '", name, "' takes no such value"),
        UsageError::Unknown(name) => ("unknown option '", name, "'"),
        UsageError::Unsupported(name) => ("unsupported Tekton option '", name, "'"),
        UsageError::Invalid(what, value) => {
            line.add_text("invalid ");
            line.add_text(what);
            (" '", value, "'")
        }
        UsageError::Target(target, why) => {
            line.add_text("invalid network target ");
            line.add_quoted(target);
            (": ", b"", why)
        }
        UsageError::Other(msg) => (msg, b"", ""),
    };
    line.add_text(before);
    line.add_bytes(typed);
    line.text(after).text(" (try '").text(tool).text(" --help')")
}

/// Prints `text` to stdout (for `--help` and `--version`).
pub fn print(text: &str) {
    let _ = io::write_all(io::stdio(1), text.as_bytes());
}

/// The errors the tools can meet, in musl's words (what `strerror` says), one
/// `ERRNO TEXT` line each: 1 KiB where musl's whole table is 2.2 KiB. Only
/// its compact form ([`ERRORS`]) is in the binary.
const ERROR_LINES: &[u8] = b"\
1 Operation not permitted\n\
2 No such file or directory\n\
3 No such process\n\
4 Interrupted system call\n\
5 I/O error\n\
6 No such device or address\n\
7 Argument list too long\n\
8 Exec format error\n\
9 Bad file descriptor\n\
10 No child process\n\
11 Resource temporarily unavailable\n\
12 Out of memory\n\
13 Permission denied\n\
14 Bad address\n\
16 Resource busy\n\
17 File exists\n\
18 Cross-device link\n\
19 No such device\n\
20 Not a directory\n\
21 Is a directory\n\
22 Invalid argument\n\
23 Too many open files in system\n\
24 No file descriptors available\n\
25 Not a tty\n\
26 Text file busy\n\
27 File too large\n\
28 No space left on device\n\
29 Invalid seek\n\
30 Read-only file system\n\
31 Too many links\n\
32 Broken pipe\n\
36 Filename too long\n\
38 Function not implemented\n\
39 Directory not empty\n\
40 Symbolic link loop\n\
75 Value too large for data type\n\
88 Not a socket\n\
95 Not supported\n\
97 Address family not supported by protocol\n\
98 Address in use\n\
99 Address not available\n\
100 Network is down\n\
101 Network unreachable\n\
103 Connection aborted\n\
104 Connection reset by peer\n\
107 Socket not connected\n\
110 Operation timed out\n\
111 Connection refused\n\
112 Host is down\n\
113 Host is unreachable\n\
122 Quota exceeded";

/// [`ERROR_LINES`] made at compile time into `TEXT` entries, each after one
/// byte 0x80 + its number (no number in the table reaches 128): smaller, and
/// read with one comparison a byte.
const ERRORS: [u8; compact_len(ERROR_LINES)] = compact(ERROR_LINES);

/// The length of [`compact`]'s table: every `N ` becomes one byte, every
/// newline goes.
const fn compact_len(lines: &[u8]) -> usize {
    let (mut i, mut len, mut at_start) = (0, 0, true);
    while i < lines.len() {
        let c = lines[i];
        if at_start && c.is_ascii_digit() {
            // Part of the number: counted once, as its tag byte.
        } else if at_start && c == b' ' {
            len += 1;
            at_start = false;
        } else if c == b'\n' {
            at_start = true;
        } else {
            len += 1;
        }
        i += 1;
    }
    len
}

/// The compact table of `lines` (`N TEXT` lines, N below 128). Evaluated
/// by the compiler only: an index out of range here fails the build.
const fn compact<const LEN: usize>(lines: &[u8]) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    let (mut i, mut o, mut n, mut at_start) = (0, 0, 0u8, true);
    while i < lines.len() {
        let c = lines[i];
        if at_start && c.is_ascii_digit() {
            n = n * 10 + (c - b'0');
        } else if at_start && c == b' ' {
            assert!(n < 128, "an error number of 128 or more");
            out[o] = 0x80 | n;
            o += 1;
            (n, at_start) = (0, false);
        } else if c == b'\n' {
            at_start = true;
        } else {
            out[o] = c;
            o += 1;
        }
        i += 1;
    }
    out
}

/// The text for error `e`, if the table has it.
pub fn error_text(e: Errno) -> Option<&'static [u8]> {
    let tag = u8::try_from(e.raw_os_error()).ok().filter(|&n| n < 128)? | 0x80;
    let start = ERRORS.iter().position(|&c| c == tag)? + 1;
    let text = ERRORS.get(start..)?;
    text.get(..text.iter().position(|&c| c >= 0x80).unwrap_or(text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_are_musls() {
        assert_eq!(error_text(Errno::NOENT), Some(&b"No such file or directory"[..]));
        assert_eq!(error_text(Errno::AGAIN), Some(&b"Resource temporarily unavailable"[..]));
        assert_eq!(error_text(Errno::DQUOT), Some(&b"Quota exceeded"[..]));
        for missing in [15, 33, 121, 127, 128, 133, 255, 1000] {
            assert_eq!(error_text(Errno::from_raw_os_error(missing)), None, "{missing}");
        }
        let l = Line::new("t").reason(Errno::from_raw_os_error(133));
        assert_eq!(l.as_bytes(), b"t: : error 133");
        // Every line is `N TEXT`, in increasing order.
        let mut last = 0;
        for line in ERROR_LINES.split(|&c| c == b'\n') {
            let (n, text) = std::str::from_utf8(line).unwrap().split_once(' ').unwrap();
            let n: u32 = n.parse().unwrap();
            assert!(n > last && !text.is_empty(), "{n}");
            last = n;
            let e = Errno::from_raw_os_error(n as i32);
            assert_eq!(error_text(e), Some(text.as_bytes()), "{n}");
        }
    }

    #[test]
    fn usage_lines() {
        let line = |e| String::from_utf8(usage_line("t", e).as_bytes().to_vec()).unwrap();
        let help = " (try 't --help')";
        for (e, want) in [
            (UsageError::MissingValue(b"--wait"), "t: option '--wait' needs a value"),
            (UsageError::UnexpectedValue(b"--any=x"), "t: option '--any=x' takes no such value"),
            (UsageError::Unknown(b"--bo\ngus"), "t: unknown option '--bo\\x0agus'"),
            (UsageError::Unsupported(b"-enable_spire"), "t: unsupported Tekton option '-enable_spire'"),
            (UsageError::Invalid("duration", b"soon"), "t: invalid duration 'soon'"),
            (UsageError::Target(b"tcp://db", "no port"), "t: invalid network target 'tcp://db': no port"),
            (UsageError::Other("missing PATH"), "t: missing PATH"),
        ] {
            assert_eq!(line(e), format!("{want}{help}"));
        }
    }

    #[test]
    fn quoting_escapes_control_characters() {
        let l = Line::new("copier").text("cannot open").text(" ").quoted(b"a\nb\x7f c");
        assert_eq!(l.as_bytes(), b"copier: cannot open 'a\\x0ab\\x7f c'");
    }

    #[test]
    fn overlong_lines_are_cut_with_room_for_the_newline() {
        let big = [b'a'; 10000];
        let l = Line::new("t").bytes(&big);
        assert_eq!(l.as_bytes().len(), CAP - 1);
        assert_eq!(l.body("t").len(), CAP - 4);
    }
}
