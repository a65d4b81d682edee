//! Harness for the black-box tests: they run the release binaries that ship.
//!
//! - `BIN_DIR`: the directory of binaries (default `dist/x86_64` of the
//!   workspace). `make test` points it at `dist/aarch64` too.
//! - `RUNNER`: a program to run them through (`qemu-aarch64-static`), if any.
//! - `BIN_ARCH`: `x86_64` or `aarch64`, for the few checks that depend on it.

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The directory holding the binaries under test.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/x86_64"),
    }
}

/// The path of tool `name` (copier, waitfor, entrypoint).
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.is_file(), "{} is missing: run `make` first", p.display());
    p
}

/// The runner (qemu-user) if the binaries are for another architecture.
pub fn runner() -> Option<String> {
    std::env::var("RUNNER").ok().filter(|r| !r.is_empty())
}

/// True when the binaries run under an emulator.
pub fn emulated() -> bool {
    runner().is_some()
}

/// A command that runs tool `name` (through the runner if there is one).
pub fn tool(name: &str) -> Command {
    match runner() {
        Some(r) => {
            let mut c = Command::new(r);
            c.arg(bin(name));
            c
        }
        None => Command::new(bin(name)),
    }
}

/// The argv prefix that runs tool `name`, for embedding in shell lines.
pub fn tool_argv(name: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(r) = runner() {
        v.push(r);
    }
    v.push(bin(name).display().to_string());
    v
}

/// What a finished command did.
#[derive(Debug)]
pub struct Ran {
    /// Exit code, or 128+N when killed by signal N (as a shell reports it).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            code: status_code(o.status),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Exit code, or 128+N for signal N.
pub fn status_code(s: std::process::ExitStatus) -> i32 {
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Runs `cmd` to completion with stdin closed.
pub fn run(cmd: &mut Command) -> Ran {
    cmd.stdin(Stdio::null()).output().expect("spawn").into()
}

/// Runs tool `name` with `args` to completion.
pub fn run_tool<I, S>(name: &str, args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(tool(name).args(args))
}

/// A scratch directory removed when dropped.
pub struct TempDir(PathBuf);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    /// A new empty directory under the system's temp dir.
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("bb-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir temp");
        TempDir(p)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records that `test` cannot run here, and why: it prints `SKIPPED: TEST:
/// REASON` and appends that line to the file `SKIP_LOG` names (`make test`
/// counts the lines and prints them in its summary). Under `CI=true` a skip is
/// a failure: this panics. The caller returns after it.
pub fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED: {test}: {reason}");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{line} (under CI=true a skipped test fails)");
    eprintln!("{line}");
    if let Some(log) = std::env::var_os("SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Records a check that this machine's emulator cannot make (qemu-user 7.2
/// refuses PR_SET_CHILD_SUBREAPER, say), where the test checks what it can
/// instead: printed as `NOT UNDER QEMU: TEST: WHAT`, and listed in `make
/// test`'s summary. Not a skip: the behaviour is checked on x86_64, and the
/// aarch64 code path by the test's other checks.
pub fn emulator_limit(test: &str, what: &str) {
    let line = format!("NOT UNDER QEMU: {test}: {what}");
    eprintln!("{line}");
    if let Some(log) = std::env::var_os("SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Makes sure command `cmd` exists: installs Debian package `pkg` through
/// `scripts/need` (as root), else panics. A test never skips for a tool that
/// can be installed.
pub fn need(cmd: &str, pkg: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/need");
    let ok = Command::new(script).arg(format!("{cmd}:{pkg}")).status().is_ok_and(|s| s.success());
    assert!(ok, "{cmd} is missing and could not be installed (Debian package {pkg})");
}

/// True when running as root (some tests mount tmpfs or use namespaces).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Polls `cond` every 5 ms for up to `secs` seconds. For waiting on a
/// background process's effect, never for asserting speed.
pub fn eventually(secs: f64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() > end {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A small JSON parser (RFC 8259), enough to validate termination messages.
/// Shared by the entrypoint and fault suites (termination messages).
pub mod json {
    #[derive(Debug, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        /// A number, as written.
        Num(String),
        Str(String),
        Arr(Vec<Value>),
        /// Members in document order.
        Obj(Vec<(String, Value)>),
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser { text, i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != text.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        text: &'a str,
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.i).copied()
        }

        fn bump(&mut self) -> Option<u8> {
            let c = self.peek()?;
            self.i += 1;
            Some(c)
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn err<T>(&self, what: &str) -> Result<T, String> {
            Err(format!("{what} at byte {}", self.i))
        }

        fn value(&mut self, depth: usize) -> Result<Value, String> {
            if depth > 64 {
                return self.err("too deep");
            }
            match self.peek() {
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Ok(Value::Arr(items));
                    }
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.bump() {
                            Some(b',') => {}
                            Some(b']') => return Ok(Value::Arr(items)),
                            _ => return self.err("expected ',' or ']'"),
                        }
                    }
                }
                Some(b'{') => {
                    self.i += 1;
                    let mut members = Vec::new();
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(Value::Obj(members));
                    }
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.ws();
                        if self.bump() != Some(b':') {
                            return self.err("expected ':'");
                        }
                        self.ws();
                        let v = self.value(depth + 1)?;
                        members.push((k, v));
                        self.ws();
                        match self.bump() {
                            Some(b',') => {}
                            Some(b'}') => return Ok(Value::Obj(members)),
                            _ => return self.err("expected ',' or '}'"),
                        }
                    }
                }
                Some(b'"') => self.string().map(Value::Str),
                Some(b't') => self.literal("true", Value::Bool(true)),
                Some(b'f') => self.literal("false", Value::Bool(false)),
                Some(b'n') => self.literal("null", Value::Null),
                Some(b'-' | b'0'..=b'9') => self.number(),
                _ => self.err("expected a value"),
            }
        }

        fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
            if self.text[self.i..].starts_with(word) {
                self.i += word.len();
                Ok(v)
            } else {
                self.err("bad literal")
            }
        }

        fn digits(&mut self) -> usize {
            let start = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            self.i - start
        }

        fn number(&mut self) -> Result<Value, String> {
            let start = self.i;
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            match self.peek() {
                Some(b'0') => self.i += 1,
                Some(b'1'..=b'9') => {
                    self.digits();
                }
                _ => return self.err("bad number"),
            }
            if self.peek() == Some(b'.') {
                self.i += 1;
                if self.digits() == 0 {
                    return self.err("bad fraction");
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.i += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.i += 1;
                }
                if self.digits() == 0 {
                    return self.err("bad exponent");
                }
            }
            Ok(Value::Num(self.text[start..self.i].to_string()))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let h = self.text.get(self.i..self.i + 4).unwrap_or("");
            if h.len() != 4 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return self.err("bad \\u escape");
            }
            self.i += 4;
            u32::from_str_radix(h, 16).map_err(|e| e.to_string())
        }

        fn string(&mut self) -> Result<String, String> {
            if self.bump() != Some(b'"') {
                return self.err("expected a string");
            }
            let mut out = String::new();
            loop {
                let Some(c) = self.bump() else {
                    return self.err("unterminated string");
                };
                match c {
                    b'"' => return Ok(out),
                    b'\\' => {
                        let ch = match self.bump() {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'b') => '\u{8}',
                            Some(b'f') => '\u{c}',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'u') => {
                                let hi = self.hex4()?;
                                let code = if (0xd800..0xdc00).contains(&hi) {
                                    if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                                        return self.err("lone high surrogate");
                                    }
                                    let lo = self.hex4()?;
                                    if !(0xdc00..0xe000).contains(&lo) {
                                        return self.err("bad low surrogate");
                                    }
                                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                                } else if (0xdc00..0xe000).contains(&hi) {
                                    return self.err("lone low surrogate");
                                } else {
                                    hi
                                };
                                match char::from_u32(code) {
                                    Some(ch) => ch,
                                    None => return self.err("bad code point"),
                                }
                            }
                            _ => return self.err("bad escape"),
                        };
                        out.push(ch);
                    }
                    0..=0x1f => return self.err("raw control character in a string"),
                    0x20..=0x7f => out.push(char::from(c)),
                    _ => {
                        // A multi-byte UTF-8 sequence (the text is a &str).
                        let ch = self.text[self.i - 1..].chars().next().expect("char");
                        out.push(ch);
                        self.i += ch.len_utf8() - 1;
                    }
                }
            }
        }
    }

    #[test]
    fn parser_self_check() {
        use Value::*;
        assert_eq!(
            parse(r#" [{"a":"x\"\\\n\u00e9\ud83d\ude00","b":-1.5e3},true,null] "#),
            Ok(Arr(vec![
                Obj(vec![
                    ("a".into(), Str("x\"\\\n\u{e9}\u{1f600}".into())),
                    ("b".into(), Num("-1.5e3".into())),
                ]),
                Bool(true),
                Null,
            ]))
        );
        for bad in ["[", "[1,]", "{\"a\" 1}", "\"a\nb\"", "\"\\x\"", "\"\\ud800\"", "01", "[1] x", "\"abc"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}

/// The pids of the children of `pid` (of its main thread), as the kernel lists them.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A tmpfs mounted for one test, unmounted when dropped (also on panic).
/// The field is the mount point: `Mount(path)` adopts a mount made by hand (a bind mount).
pub struct Mount(pub std::ffi::CString);

impl Mount {
    /// Mounts a tmpfs on `dir` with `options` (`size=64k`), read-only if `ro`.
    pub fn tmpfs(dir: &Path, options: &str, ro: bool) -> std::io::Result<Mount> {
        let target = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()))
            .expect("no NUL in path");
        let data = std::ffi::CString::new(options).expect("no NUL in options");
        let flags = if ro { libc::MS_RDONLY } else { 0 };
        // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(c"tmpfs".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), flags, data.as_ptr().cast())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mount(target))
    }

    /// Makes the mount read-only. A file just written there may still be open
    /// for a moment in a child that another test thread forked before its exec
    /// closed the descriptor (EBUSY): that is retried, for up to 10 s.
    pub fn remount_ro(&self) {
        let mut tries = 0;
        loop {
            // SAFETY: valid NUL-terminated strings; a remount ignores source and type.
            let rc = unsafe {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    self.0.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_REMOUNT | libc::MS_RDONLY,
                    std::ptr::null(),
                )
            };
            let e = std::io::Error::last_os_error();
            if rc == 0 {
                return;
            }
            tries += 1;
            assert!(
                e.raw_os_error() == Some(libc::EBUSY) && tries < 1000,
                "remount read-only: {e} (after {tries} tries)"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // SAFETY: a valid NUL-terminated path; a failed unmount is retried lazily.
        unsafe {
            if libc::umount2(self.0.as_ptr(), 0) != 0 {
                libc::umount2(self.0.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// Mounts a tmpfs for a root-only test, or records the skip (see [`skip`]);
/// as root, a mount that fails is a failure.
pub fn mount_or_skip(test: &str, dir: &Path, options: &str, ro: bool) -> Option<Mount> {
    if !is_root() {
        skip(test, "needs root to mount a tmpfs");
        return None;
    }
    std::fs::create_dir_all(dir).expect("mkdir mount point");
    Some(
        Mount::tmpfs(dir, options, ro)
            .unwrap_or_else(|e| panic!("{test}: cannot mount a tmpfs as root: {e}")),
    )
}

/// The liveness lock of the post file `DIR/NAME`: `DIR/.NAME.lock` (docs/design.md
/// section 2: a dot name, which a user's `cat DIR/*` never opens).
pub fn lock_of(post_file: &Path) -> PathBuf {
    let name = post_file.file_name().expect("a post file has a name").to_string_lossy();
    post_file.with_file_name(format!(".{name}.lock"))
}

/// True when another open file description holds a lock on `path`, the
/// liveness lock `.NAME.lock` (a named pipe: opened without blocking, so that a
/// pipe whose wrapper has gone cannot hang the test).
pub fn lock_held(path: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let Ok(f) = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path) else {
        return false;
    };
    // SAFETY: flock(2) on a descriptor this File owns; closing it drops the lock.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}

/// True when `path` is a named pipe (what a wrapper's lock is).
pub fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// The one line a waiter prints when it can get no inotify instance
/// (docs/protocol.md), for `tool` (waitfor, entrypoint). The kernel says
/// EMFILE both for `fs.inotify.max_user_instances` and for the descriptor limit.
pub fn no_inotify_line(tool: &str) -> String {
    format!(
        "{tool}: no inotify instance: No file descriptors available; unstarted steps are seen at each \
         re-check only (raise it: sysctl -w fs.inotify.max_user_instances=1024)\n"
    )
}

/// A TCP port on 127.0.0.1 that nothing listens on right now, below the
/// kernel's ephemeral range (32768 and up): a port that binding port 0 hands
/// out (another test's listener, at the same moment) is never this one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port =
            20000 + ((std::process::id() as u16).wrapping_mul(97).wrapping_add(n.wrapping_mul(13)) % 12000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
