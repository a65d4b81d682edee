//! The step's outcome, written before exit whatever happened: the marker (`P`
//! or `P.err`, holding the wrapper's status), then the termination message
//! (Tekton's JSON, merged with the entries someone else left in the file).

use rustix::fd::AsFd;
use rustix::io::Errno;
use stepkit::atomic;
use stepkit::clock;
use stepkit::mem::Buf;
use stepkit::path::{create_dirs, dirname, PathBuf};
use stepkit::say::{self, Line};
use stepkit::sys;

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
    /// message (with COMMAND's real status `exit_code`, the `reason` if there
    /// is one, and `note`, the line that explained a failure, if any); returns
    /// `status`.
    ///
    /// `reason` is `None` only for a failure that `--on-error continue` turned
    /// into success: like Tekton's entrypoint, the message then holds the real
    /// `ExitCode` and no `Reason`, which Tekton's controller reports as
    /// `Continued` with that exit code.
    pub fn finish(&self, status: u8, exit_code: u8, reason: Option<Reason>, note: Option<&Line>) -> u8 {
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
                Ok(marker) => {
                    let content = content.get(..=len).unwrap_or_default();
                    if let Err(e) = write_step_file(marker.as_bytes(), content, false) {
                        say::failed(TOOL, "cannot write", marker.as_bytes(), e);
                    }
                }
                Err(e) => say::failed(TOOL, "cannot write", p, e),
            }
        }
        if let Some(t) = self.termination_path {
            let mut json = Json::new();
            let ours =
                Entries { started_ms: self.started_ms, exit_code, reason, note: note.map(|l| l.body(TOOL)) };
            let kept = merge_existing(t, &mut json, &ours);
            if !kept {
                json = Json::new();
                json.message(&ours, None);
            }
            if let Err(e) = write_step_file(t, json.as_bytes(), true) {
                say::failed(TOOL, "cannot write", t, e);
            }
        }
        status
    }
}

/// Writes a marker or termination file atomically, creating its directory
/// when missing. Where it cannot be renamed over (`in_place`: the termination
/// message), it is rewritten in place: the kubelet bind-mounts
/// `terminationMessagePath` (EBUSY, EXDEV), and a non-root step cannot create
/// a file beside `/dev/termination-log` (EACCES, EPERM, EROFS) though it may
/// write that file itself.
fn write_step_file(path: &[u8], content: &[u8], in_place: bool) -> Result<(), Errno> {
    let mut result = atomic::write_file(path, content, 0o644);
    if result == Err(Errno::NOENT) {
        result = create_dirs(dirname(path)).and_then(|()| atomic::write_file(path, content, 0o644));
    }
    match result {
        Err(Errno::ACCESS | Errno::PERM | Errno::ROFS | Errno::BUSY | Errno::XDEV) if in_place => {
            overwrite(path, content)
        }
        other => other,
    }
}

/// Rewrites the existing file `path` with `content`: written from the start,
/// then cut to its length, so that a reader sees old or new bytes, never an
/// empty file.
fn overwrite(path: &[u8], content: &[u8]) -> Result<(), Errno> {
    use rustix::fs::{ftruncate, openat, Mode, OFlags, CWD};
    let p = PathBuf::new(path)?;
    let fd = openat(CWD, p.as_cstr(), OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())?;
    sys::write_all(fd.as_fd(), content)?;
    ftruncate(&fd, content.len() as u64)
}

/// Reads the termination file `path` as someone else left it and, if it holds
/// Tekton-style entries, puts those whose keys are not ours into `json`
/// followed by ours (Tekton merges the same way; Kubernetes tooling reads the
/// last entry of a key). Returns false when there was nothing to keep, or when
/// keeping it would pass the 4096-byte limit (said in one line).
fn merge_existing(path: &[u8], json: &mut Json, ours: &Entries<'_>) -> bool {
    let mut old = [0u8; MAX];
    let Some(old) = read_small(path, &mut old) else { return false };
    let mut foreign = 0;
    let keys = ours.keys();
    let ok = json_entries(old, |entry, key| {
        if keys.iter().all(|k| k.as_bytes() != key) {
            foreign += 1;
            json.raw(if foreign == 1 { b"[" } else { b"," });
            json.raw(entry);
        }
    });
    if !ok || foreign == 0 {
        return false;
    }
    if !json.message(ours, Some(foreign)) {
        Line::new(TOOL)
            .text("cannot keep the entries already in ")
            .quoted(path)
            .text(": the message would pass 4096 bytes")
            .emit();
        return false;
    }
    true
}

/// The whole content of the file at `path` if it is at most `buf.len()` bytes.
fn read_small<'b>(path: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let p = PathBuf::new(path).ok()?;
    let fd =
        openat(CWD, p.as_cstr(), OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty()).ok()?;
    let mut len = 0;
    loop {
        let rest = buf.get_mut(len..)?;
        if rest.is_empty() {
            return None;
        }
        match rustix::io::read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    buf.get(..len)
}

/// Calls `each(entry, key)` for every object of a JSON array of objects
/// (`entry`: the object's text, `key`: its `"key"` member's raw string
/// content); false when `text` is not such an array.
fn json_entries(text: &[u8], mut each: impl FnMut(&[u8], &[u8])) -> bool {
    let mut s = Scan { text, at: 0 };
    if !s.eat(b'[') {
        return false;
    }
    if s.eat(b']') {
        return s.end();
    }
    loop {
        let start = s.skip_ws();
        let Some(key) = s.object() else { return false };
        each(text.get(start..s.at).unwrap_or_default(), key);
        if s.eat(b']') {
            return s.end();
        }
        if !s.eat(b',') {
            return false;
        }
    }
}

/// A cursor over JSON text: just enough to walk Tekton's entries.
struct Scan<'t> {
    text: &'t [u8],
    at: usize,
}

impl<'t> Scan<'t> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_ws(&mut self) -> usize {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
        self.at
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        let hit = self.peek() == Some(c);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn end(&mut self) -> bool {
        self.skip_ws() == self.text.len()
    }

    /// A string; returns its raw content (escapes left as they are).
    fn string(&mut self) -> Option<&'t [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
        let s = self.text.get(start..self.at);
        self.at += 1;
        s
    }

    /// Any value: a string, an object, an array, or a bare word (number,
    /// true, false, null).
    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object().map(drop),
            b'[' => {
                self.at += 1;
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    self.skip_ws();
                    self.value()?;
                    if self.eat(b']') {
                        return Some(());
                    }
                    self.eat(b',').then_some(())?;
                }
            }
            _ => {
                let start = self.at;
                while matches!(self.peek(), Some(b'0'..=b'9' | b'a'..=b'z' | b'-' | b'+' | b'.' | b'E')) {
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }

    /// An object; returns its `"key"` member's raw content (empty if none).
    fn object(&mut self) -> Option<&'t [u8]> {
        self.eat(b'{').then_some(())?;
        let mut key: &'t [u8] = b"";
        if self.eat(b'}') {
            return Some(key);
        }
        loop {
            let name = self.string()?;
            self.eat(b':').then_some(())?;
            self.skip_ws();
            if name == b"key" && self.peek() == Some(b'"') {
                key = self.string()?;
            } else {
                self.value()?;
            }
            if self.eat(b'}') {
                return Some(key);
            }
            self.eat(b',').then_some(())?;
        }
    }
}

/// Our entries of the message.
pub struct Entries<'n> {
    /// `StartedAt`, ms since the epoch.
    pub started_ms: u64,
    /// `ExitCode`: COMMAND's real status.
    pub exit_code: u8,
    /// `Reason`, except for a failure `--on-error continue` let pass.
    pub reason: Option<Reason>,
    /// `Message`: the line that explained a failure.
    pub note: Option<&'n [u8]>,
}

impl Entries<'_> {
    /// The keys we write (an older entry with one of them is replaced).
    fn keys(&self) -> [&'static str; 4] {
        ["StartedAt", "ExitCode", "Reason", "Message"]
    }
}

/// Kubernetes keeps at most 4096 bytes of a termination message.
const MAX: usize = 4096;

/// Tekton's termination message: a JSON array of `{"key","value","type":3}`.
pub struct Json {
    buf: Buf<MAX>,
    /// Something did not fit: the text is not to be used.
    overflow: bool,
}

impl Json {
    /// An empty message.
    pub fn new() -> Json {
        Json { buf: Buf::new(), overflow: false }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_bytes()
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    fn raw(&mut self, s: &[u8]) -> bool {
        self.overflow = self.overflow || !self.buf.push(s);
        !self.overflow
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
            if self.len() + piece.len() > limit || !self.raw(piece) {
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

    /// Our entries, closing the array: after `kept` entries already written
    /// (the array is opened here when there are none). False if it did not fit.
    pub fn message(&mut self, ours: &Entries<'_>, kept: Option<usize>) -> bool {
        let mut digits = [0u8; 20];
        self.raw(if kept.is_some() { b"," } else { b"[" });
        self.entry(true, "StartedAt", &clock::rfc3339_millis(ours.started_ms));
        self.entry(false, "ExitCode", say::fmt_u64(u64::from(ours.exit_code), &mut digits));
        if let Some(r) = ours.reason {
            self.entry(false, "Reason", r.as_str().as_bytes());
        }
        if let Some(n) = ours.note {
            self.entry(false, "Message", n);
        }
        self.raw(b"]") && !self.overflow
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

    fn ours(note: Option<&[u8]>) -> Entries<'_> {
        Entries { started_ms: 1_795_770_900_123, exit_code: 137, reason: Some(Reason::Signaled), note }
    }

    fn msg(note: Option<&[u8]>) -> String {
        let mut j = Json::new();
        assert!(j.message(&ours(note), None));
        String::from_utf8(j.as_bytes().to_vec()).unwrap()
    }

    fn merged(old: &str) -> (bool, String) {
        let d = std::env::temp_dir().join(format!("ep-merge-{}-{}", std::process::id(), old.len()));
        std::fs::write(&d, old).unwrap();
        let mut j = Json::new();
        let kept = merge_existing(d.to_str().unwrap().as_bytes(), &mut j, &ours(None));
        std::fs::remove_file(&d).unwrap();
        (kept, String::from_utf8(j.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn foreign_entries_are_kept_and_ours_replace_theirs() {
        let (kept, m) = merged(
            r#" [ {"key":"digest","value":"sha256:1","type":1} , {"key":"ExitCode","value":"3","type":3},{"key":"x","value":"a\"}b","resourceName":"r","type":1}]"#,
        );
        assert!(kept);
        assert_eq!(
            m,
            r#"[{"key":"digest","value":"sha256:1","type":1},{"key":"x","value":"a\"}b","resourceName":"r","type":1},{"key":"StartedAt","value":"2026-11-27T09:15:00.123Z","type":3},{"key":"ExitCode","value":"137","type":3},{"key":"Reason","value":"Signaled","type":3}]"#
        );
    }

    #[test]
    fn what_is_not_an_array_of_entries_is_not_kept() {
        for old in ["", "[]", "not json", "[{\"key\":1}", "{}", "[1,2]", "tknz:abc"] {
            assert!(!merged(old).0, "{old}");
        }
        let big = format!("[{{\"key\":\"k\",\"value\":\"{}\",\"type\":1}}]", "v".repeat(4000));
        assert!(!merged(&big).0, "would pass 4096 bytes");
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
