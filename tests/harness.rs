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
