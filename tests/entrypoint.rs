//! Black-box tests of `entrypoint` (docs/protocol.md and the tools' pages in docs/): they run the
//! release binary (`BIN_DIR`, through `RUNNER` if set) and pin exit statuses,
//! exact diagnostics, marker contents (`N\n`) and the termination message
//! (Tekton's JSON, checked by a small hand-written parser).
//!
//! Timing: no test asserts speed. Readiness is observed, never slept for: a
//! command writes a `ready` file once its traps are set; a waiting step has
//! created its lock `.P.lock` (which happens after its signals are blocked) and
//! sleeps in `poll` (`/proc/PID/wchan`). Every child is waited for with a
//! generous bound that kills it and fails the test instead of hanging.

use harness::{emulated, emulator_limit, eventually, is_root, skip, tool, tool_argv, Ran, TempDir};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 30.0;

// ---------------------------------------------------------------- helpers

/// `p` as a string argument.
fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A command that runs entrypoint with `args` in directory `dir`.
fn ep<I, S>(dir: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = tool("entrypoint");
    c.args(args).current_dir(dir);
    c
}

/// Starts `cmd` with stdin closed, stdout and stderr captured, and the
/// signals the tests send at their default disposition (a test run started
/// in the background of a shell would otherwise pass on ignored INT and QUIT).
fn spawn(cmd: &mut Command) -> Child {
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls signal(2) and rt_sigaction(2), which are async-signal-safe; the
    // kernel's sigaction record for SIG_DFL is all zeros.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTERM,
                libc::SIGUSR1,
                libc::SIGUSR2,
                libc::SIGALRM,
                libc::SIGPIPE,
                libc::SIGWINCH,
                40,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            // The test process (glibc) passes 32 and 33 on ignored, and glibc's
            // signal() refuses them: the kernel's rt_sigaction does not.
            for sig in [32, 33] {
                let dfl = [0u64; 4];
                libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), std::ptr::null::<u64>(), 8);
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

/// Runs any command to completion (bounded by `LIMIT`).
fn run_cmd(cmd: &mut Command) -> Ran {
    finish(spawn(cmd), LIMIT, "command")
}

fn running(child: &mut Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

/// Waits up to `secs` for `child` to exit and collects its output; kills it
/// and fails the test when it does not.
fn finish_output(mut child: Child, secs: f64, what: &str) -> Output {
    if !eventually(secs, || !running(&mut child)) {
        // TERM first, so that a wrapper takes its command down with it.
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        if !eventually(2.0, || !running(&mut child)) {
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("wait");
        panic!(
            "{what}: still running after {secs} s; stdout {:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.wait_with_output().expect("wait_with_output")
}

fn finish(child: Child, secs: f64, what: &str) -> Ran {
    finish_output(child, secs, what).into()
}

/// Process groups (negative) and processes that a failing test kills when
/// it unwinds, so that it leaves nothing running.
struct Cleanup(Vec<i32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for &pid in &self.0 {
                // SAFETY: kill(2) takes plain integers and touches no memory.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Runs entrypoint with `args` in `dir` to completion (bounded by `LIMIT`).
fn run_ep<I, S>(dir: &Path, args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    finish(spawn(&mut ep(dir, args)), LIMIT, "entrypoint")
}

#[track_caller]
fn assert_ran(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

fn read_opt(p: &Path) -> Option<String> {
    fs::read(p).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut o = p.as_os_str().to_os_string();
    o.push(suffix);
    PathBuf::from(o)
}

/// The markers of step `p` are exactly: `P` holding "0\n" for status 0,
/// `P.err` holding "N\n" otherwise (and never both).
#[track_caller]
fn assert_marker(p: &Path, status: u8) {
    let ok = read_opt(p);
    let err = read_opt(&with_suffix(p, ".err"));
    let want =
        if status == 0 { (Some("0\n".to_string()), None) } else { (None, Some(format!("{status}\n"))) };
    assert_eq!((ok, err), want, "markers of {} (P, P.err)", p.display());
}

/// Neither `P` nor `P.err`.
#[track_caller]
fn assert_no_marker(p: &Path) {
    let ok = read_opt(p);
    let err = read_opt(&with_suffix(p, ".err"));
    assert_eq!((ok, err), (None, None), "markers of {}", p.display());
}

fn wait_for_file(p: &Path) {
    assert!(eventually(LIMIT, || p.exists()), "{} never appeared", p.display());
}

/// Writes `content` to `path` atomically (temporary file, then rename), as a
/// step writes its marker.
fn put(path: &Path, content: &str) {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().expect("file name").to_string_lossy()));
    fs::write(&tmp, content).expect("write temp");
    fs::rename(&tmp, path).expect("rename");
}

fn send(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid this test started and a valid signal number.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// The kernel function the main thread of `pid` sleeps in ("" if gone).
fn wchan(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// Blocks until `pid` sleeps in `poll` (it has looked at every path).
fn wait_until_polling(pid: u32) {
    assert!(
        eventually(LIMIT, || wchan(pid).contains("poll")),
        "pid {pid} never slept in poll (wchan {:?})",
        wchan(pid)
    );
}

/// Starts a waiting step and returns it once it waits: its lock `.P.lock`
/// exists (its signals are blocked by then) and it sleeps in `poll`.
fn start_waiting(cmd: &mut Command, post_file: &Path) -> Child {
    let mut c = spawn(cmd);
    wait_for_file(&harness::lock_of(post_file));
    wait_until_polling(c.id());
    assert!(running(&mut c), "the step exited instead of waiting");
    c
}

/// (state, ppid) of process `pid` from /proc, if it exists.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Zombies whose parent is `parent`.
fn zombie_children(parent: u32) -> Vec<u32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if proc_stat(pid) == Some(('Z', parent)) {
            v.push(pid);
        }
    }
    v
}

fn read_pid(p: &Path) -> u32 {
    wait_for_file(p);
    let mut text = String::new();
    assert!(
        eventually(LIMIT, || {
            text = fs::read_to_string(p).unwrap_or_default();
            text.ends_with('\n')
        }),
        "{} holds no pid line",
        p.display()
    );
    text.trim().parse().expect("pid")
}

fn names(d: &Path) -> BTreeSet<String> {
    fs::read_dir(d)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The usage line of entrypoint.
fn usage_line(msg: &str) -> String {
    format!("entrypoint: {msg} (try 'entrypoint --help')\n")
}

// ---------------------------------------------------------------- JSON

use harness::json;

// ---------------------------------------------------------------- termination message

/// A termination message, checked and decoded.
#[derive(Debug)]
struct Message {
    /// None when COMMAND never started (a skip, a wait that ended the step, a
    /// usage error).
    started_at: Option<String>,
    exit_code: String,
    reason: String,
    message: Option<String>,
    raw: Vec<u8>,
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, a valid UTC time within a minute of now.
#[track_caller]
fn check_started_at(v: &str) {
    let b = v.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let ok_shape = b.len() == shape.len()
        && b.iter().zip(shape).all(|(&c, &want)| if want == b'd' { c.is_ascii_digit() } else { c == want });
    assert!(ok_shape, "StartedAt {v:?} is not YYYY-MM-DDTHH:MM:SS.mmmZ");
    let n = |r: std::ops::Range<usize>| v[r].parse::<i64>().expect("digits");
    let (y, mo, d, h, mi, sec, ms) = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19), n(20..23));
    assert!(
        (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && sec < 60,
        "StartedAt {v:?} is not a valid time"
    );
    let t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    let t_ms = t * 1000 + ms;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    assert!(
        (now - t_ms).abs() <= 60_000,
        "StartedAt {v:?} is not within a minute of now ({now} ms since the epoch)"
    );
}

/// Reads and validates the termination message at `path`: at most 4096
/// bytes of UTF-8, valid JSON, an array of `{"key","value","type":3}`
/// objects with the keys StartedAt (only when COMMAND started), ExitCode,
/// Reason (and Message), in that order.
#[track_caller]
fn read_message(path: &Path) -> Message {
    let raw = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(raw.len() <= 4096, "termination message is {} bytes", raw.len());
    let text = std::str::from_utf8(&raw)
        .unwrap_or_else(|e| panic!("termination message is not UTF-8 ({e}): {raw:?}"));
    let value = json::parse(text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"));
    let json::Value::Arr(items) = value else {
        panic!("not a JSON array: {text}");
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for item in items {
        let json::Value::Obj(members) = item else {
            panic!("an entry is not an object: {text}");
        };
        let mut key = None;
        let mut value = None;
        let mut ty = None;
        let mut seen = Vec::new();
        for (k, v) in members {
            seen.push(k.clone());
            match (k.as_str(), v) {
                ("key", json::Value::Str(s)) => key = Some(s),
                ("value", json::Value::Str(s)) => value = Some(s),
                ("type", json::Value::Num(n)) => ty = Some(n),
                (other, v) => panic!("unexpected member {other:?}: {v:?} in {text}"),
            }
        }
        assert_eq!(seen, ["key", "value", "type"], "members of an entry: {text}");
        assert_eq!(ty.as_deref(), Some("3"), "type of an entry: {text}");
        pairs.push((key.expect("key"), value.expect("value")));
    }
    let started_at = match pairs.first() {
        Some((k, v)) if k == "StartedAt" => {
            check_started_at(v);
            let v = v.clone();
            pairs.remove(0);
            Some(v)
        }
        _ => None,
    };
    // With `--on-error continue`, a failure has no Reason (Tekton's controller
    // then reports the step as "Continued" with the ExitCode): reason "".
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let has_reason = keys.get(1) == Some(&"Reason");
    assert!(
        [
            &["ExitCode", "Reason"][..],
            &["ExitCode", "Reason", "Message"],
            &["ExitCode"],
            &["ExitCode", "Message"]
        ]
        .contains(&keys.as_slice()),
        "keys {keys:?} in {text}"
    );
    let mut it = pairs.into_iter().map(|(_, v)| v);
    Message {
        started_at,
        exit_code: it.next().expect("ExitCode"),
        reason: if has_reason { it.next().expect("Reason") } else { String::new() },
        message: it.next(),
        raw,
    }
}

/// The termination message at `path` of a step whose COMMAND started: it has
/// StartedAt and says `code`, `reason` and exactly `message` (None: no
/// Message key).
#[track_caller]
fn assert_message(path: &Path, code: u8, reason: &str, message: Option<&str>) -> Message {
    let m = assert_outcome_message(path, code, reason, message);
    assert!(m.started_at.is_some(), "no StartedAt: {}", String::from_utf8_lossy(&m.raw));
    m
}

/// The same for a step whose COMMAND never started (skipped, a wait that
/// ended the step, a usage error): no StartedAt.
#[track_caller]
fn assert_unstarted_message(path: &Path, code: u8, reason: &str, message: Option<&str>) -> Message {
    let m = assert_outcome_message(path, code, reason, message);
    assert_eq!(
        m.started_at,
        None,
        "StartedAt of a step that never started: {}",
        String::from_utf8_lossy(&m.raw)
    );
    m
}

#[track_caller]
fn assert_outcome_message(path: &Path, code: u8, reason: &str, message: Option<&str>) -> Message {
    let m = read_message(path);
    // the Message is the whole line the wrapper printed, `entrypoint: ` and all
    let message = message.map(|line| format!("entrypoint: {line}"));
    assert_eq!(
        (m.exit_code.as_str(), m.reason.as_str(), m.message.as_deref()),
        (code.to_string().as_str(), reason, message.as_deref()),
        "termination message {}",
        String::from_utf8_lossy(&m.raw)
    );
    m
}

// ---------------------------------------------------------------- success and failure

#[test]
fn success_writes_p_holding_0_and_a_completed_message() {
    let t = TempDir::new("ep-ok");
    let (p, tm) = (t.join("p"), t.join("t"));
    let r = run_ep(
        t.path(),
        ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sh", "-c", "echo out; echo err >&2"],
    );
    assert_ran(&r, 0, "out\n", "err\n");
    assert_marker(&p, 0);
    let m = assert_message(&tm, 0, "Completed", None);
    // The exact bytes, as Tekton writes them.
    let want = format!(
        r#"[{{"key":"StartedAt","value":"{}","type":3}},{{"key":"ExitCode","value":"0","type":3}},{{"key":"Reason","value":"Completed","type":3}}]"#,
        m.started_at.expect("StartedAt")
    );
    assert_eq!(String::from_utf8_lossy(&m.raw), want);
    // Nothing else is left behind (no temporary file): the marker, the
    // liveness lock and the message.
    assert_eq!(names(t.path()), set(&["p", ".p.lock", "t"]));
}

#[test]
fn failure_writes_p_err_holding_the_status() {
    let t = TempDir::new("ep-fail");
    let (p, tm) = (t.join("p"), t.join("t"));
    let r =
        run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sh", "-c", "exit 3"]);
    assert_ran(&r, 3, "", "");
    assert_marker(&p, 3);
    assert_message(&tm, 3, "Error", None);
    assert_eq!(names(t.path()), set(&["p.err", ".p.lock", "t"]));
}

#[test]
fn without_post_file_nothing_is_written() {
    let t = TempDir::new("ep-bare");
    let r = run_ep(t.path(), ["--", "sh", "-c", "echo hi; exit 4"]);
    assert_ran(&r, 4, "hi\n", "");
    assert!(names(t.path()).is_empty(), "{:?}", names(t.path()));
    // No `--`: the first operand starts COMMAND.
    assert_ran(&run_ep(t.path(), ["echo", "--post-file", "x"]), 0, "--post-file x\n", "");
    assert!(names(t.path()).is_empty(), "{:?}", names(t.path()));
}

#[test]
fn missing_step_directories_are_created() {
    let t = TempDir::new("ep-mkdir");
    let p = t.join("steps/deeper/p");
    let tm = t.join("other/dir/t");
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "true"]);
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
    assert_message(&tm, 0, "Completed", None);
    let p = t.join("fresh/q");
    assert_ran(&run_ep(t.path(), ["--post-file", &s(&p), "--", "false"]), 1, "", "");
    assert_marker(&p, 1);
}

#[test]
fn all_256_exit_statuses_pass_through() {
    let t = TempDir::new("ep-256");
    let codes: Vec<u16> = (0..256).collect();
    for batch in codes.chunks(32) {
        let children: Vec<(u16, Child)> = batch
            .iter()
            .map(|&n| {
                let p = t.join(&format!("s{n}"));
                let tm = t.join(&format!("t{n}"));
                let c = spawn(&mut ep(
                    t.path(),
                    [
                        "--post-file".to_string(),
                        s(&p),
                        "--termination-path".into(),
                        s(&tm),
                        "--".into(),
                        "sh".into(),
                        "-c".into(),
                        format!("exit {n}"),
                    ],
                ));
                (n, c)
            })
            .collect();
        for (n, c) in children {
            let r = finish(c, LIMIT, &format!("exit {n}"));
            assert_ran(&r, i32::from(n), "", "");
            let n = n as u8;
            assert_marker(&t.join(&format!("s{n}")), n);
            let reason = if n == 0 { "Completed" } else { "Error" };
            assert_message(&t.join(&format!("t{n}")), n, reason, None);
        }
    }
}

/// The signals whose default action ends a process: 1-64 but those ignored
/// by default (CHLD, CONT, URG, WINCH) and those that stop it (STOP, TSTP,
/// TTIN, TTOU).
fn deadly_signals() -> Vec<i32> {
    (1..=64).filter(|n| ![17, 18, 23, 28, 19, 20, 21, 22].contains(n)).collect()
}

/// The signals entrypoint passes on to its command: every catchable one but
/// those that report a fault of its own (ILL, TRAP, ABRT, BUS, FPE, SEGV,
/// SYS), CHLD (it reaps) and musl's three internal signals (32-34). The
/// terminal stops TTIN and TTOU are among them: they never stop the wrapper.
fn forwarded_signals() -> Vec<i32> {
    let mut not = vec![9, 19, 4, 5, 6, 7, 8, 11, 31, 17, 32, 33, 34];
    if emulated() {
        // qemu-user gives the program host signal N >= 34 as N - 2 (it keeps
        // nothing of the host's 32-33): musl's own 32-34 are host 34-36 there.
        not.extend([35, 36]);
    }
    (1..=64).filter(|n| !not.contains(n)).collect()
}

/// The number the program under test sees for host signal `n`: itself, or
/// under qemu-user `n - 2` for the real-time signals (see above).
fn as_seen(n: i32) -> i32 {
    if emulated() && n >= 34 {
        n - 2
    } else {
        n
    }
}

#[test]
fn a_signalled_command_gives_128_plus_n_for_every_deadly_signal() {
    let t = TempDir::new("ep-sig");
    let children: Vec<_> = deadly_signals()
        .into_iter()
        .map(|n| {
            let p = t.join(&n.to_string());
            let tm = t.join(&format!("{n}.msg"));
            let script = format!("kill -{n} $$; sleep 5");
            let c = spawn(&mut ep(
                t.path(),
                ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sh", "-c", &script],
            ));
            (n, c)
        })
        .collect();
    assert_eq!(children.len(), 56);
    if emulated() {
        emulator_limit(
            "a_signalled_command_gives_128_plus_n",
            "real-time signals 34-64 are numbered 32-62 by qemu-user",
        );
    }
    for (n, c) in children {
        let code = 128 + as_seen(n) as u8;
        let r = finish(c, LIMIT, &format!("signal {n}"));
        assert_ran(&r, i32::from(code), "", "");
        assert_marker(&t.join(&n.to_string()), code);
        assert_message(&t.join(&format!("{n}.msg")), code, "Signaled", None);
    }
}

// ---------------------------------------------------------------- signals

/// A command that takes every signal it can by `sigwaitinfo`, writes each
/// number to `got` as it arrives, and exits 0 after TERM.
const SIGNAL_LOGGER: &str = r#"
import signal, sys
sigs = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
open("ready", "w").close()
while True:
    n = signal.sigwaitinfo(sigs).si_signo
    with open("got", "a") as f:
        f.write("%d\n" % n)
    if n == signal.SIGTERM:
        sys.exit(0)
"#;

#[test]
fn every_catchable_signal_is_forwarded_to_the_command() {
    harness::need("python3", "python3");
    let t = TempDir::new("ep-fwd");
    let p = t.join("p");
    let c = spawn(&mut ep(t.path(), ["--post-file", &s(&p), "--", "python3", "-c", SIGNAL_LOGGER]));
    let _cleanup = Cleanup(vec![c.id() as i32]);
    wait_for_file(&t.join("ready"));
    // One at a time (standard signals do not queue), TERM last.
    let mut sent = Vec::new();
    let mut order = forwarded_signals();
    order.retain(|&n| n != libc::SIGTERM);
    order.push(libc::SIGTERM);
    for n in order {
        send(c.id(), n);
        sent.push(n.to_string());
        let want = sent.join("\n") + "\n";
        let arrived = eventually(LIMIT, || read_opt(&t.join("got")).as_deref() == Some(want.as_str()));
        assert!(arrived, "signal {n} did not reach the command: got {:?}", read_opt(&t.join("got")));
    }
    assert_eq!(sent.len(), if emulated() { 49 } else { 51 });
    if emulated() {
        emulator_limit(
            "every_catchable_signal_is_forwarded_to_the_command",
            "host signals 35-36 are musl's own 33-34 under qemu-user",
        );
    }
    let r = finish(c, LIMIT, "the signal logger");
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
}

#[test]
fn term_reaches_a_grandchild_in_the_group() {
    let t = TempDir::new("ep-grand");
    let (p, tm) = (t.join("p"), t.join("t"));
    let mut c = spawn(&mut ep(
        t.path(),
        [
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "sleep 100 & echo $! > gc; echo > ready; wait",
        ],
    ));
    let gc = read_pid(&t.join("gc"));
    wait_for_file(&t.join("ready"));
    assert!(running(&mut c));
    send(c.id(), libc::SIGTERM);
    let r = finish(c, LIMIT, "TERM to the wrapper");
    assert_ran(&r, 143, "", "");
    assert_marker(&p, 143);
    assert_message(&tm, 143, "Signaled", None);
    let dead = eventually(LIMIT, || matches!(proc_stat(gc), None | Some(('Z', _))));
    if !dead {
        send(gc, libc::SIGKILL);
    }
    assert!(dead, "the grandchild {gc} survived the TERM");
}

#[test]
fn the_command_runs_in_its_own_group_with_default_signal_state() {
    let t = TempDir::new("ep-pgrp");
    // Field 5 of /proc/PID/stat is the process group.
    let r = run_ep(t.path(), ["--", "sh", "-c", "echo $$ $(cut -d' ' -f5 /proc/$$/stat)"]);
    assert_eq!(r.code, 0, "{r:?}");
    let f: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!(f.len(), 2, "{r:?}");
    assert_eq!(f[0], f[1], "COMMAND is not the leader of its own process group");
    // Signal mask and ignored signals: as for a plain child of this test
    // (read by the process itself: a shell blocks signals while it forks).
    let script = "exec grep -E '^Sig(Blk|Ign)' /proc/self/status";
    // Under qemu-user the emulator itself ignores signals of its own, which any
    // program it runs passes on: compare with waitfor there, which execs its
    // command untouched (same emulator, nothing of its own).
    let direct = if emulated() {
        let mut c = tool("waitfor");
        run_cmd(c.args(["/", "--", "sh", "-c", script]).current_dir(t.path()))
    } else {
        run_cmd(Command::new("sh").args(["-c", script]).current_dir(t.path()))
    };
    let wrapped = run_ep(t.path(), ["--", "sh", "-c", script]);
    assert_eq!(wrapped.code, 0, "{wrapped:?}");
    assert!(wrapped.stdout.starts_with("SigBlk:\t0000000000000000\n"), "{wrapped:?}");
    assert_eq!(wrapped.stdout, direct.stdout);
}

// ---------------------------------------------------------------- reaping

#[test]
fn orphans_are_reaped_as_subreaper() {
    let t = TempDir::new("ep-orphan");
    let p = t.join("p");
    // The subshell starts a daemon (an `sh` that waits for `go`) and exits:
    // the daemon is re-parented to the wrapper, its subreaper.
    let script = "echo $$ > main; \
                  ( sh -c 'while [ ! -e go ]; do sleep 0.02; done' & echo $! > orphan ); \
                  echo > ready; while [ ! -e finish ]; do sleep 0.02; done";
    let mut c = spawn(&mut ep(t.path(), ["--post-file", &s(&p), "--", "sh", "-c", script]));
    let me = c.id();
    let mut cleanup = Cleanup(vec![me as i32]);
    let main = read_pid(&t.join("main"));
    cleanup.0.push(-(main as i32));
    let orphan = read_pid(&t.join("orphan"));
    cleanup.0.push(orphan as i32);
    wait_for_file(&t.join("ready"));
    // `ready` comes after the subshell has exited: the orphan has its new
    // parent by then.
    let adopted = proc_stat(orphan).map(|(_, pp)| pp) == Some(me);
    if emulated() {
        // qemu-user 7.2 answers EINVAL to PR_SET_CHILD_SUBREAPER: the orphan
        // goes to init. Reaping orphans runs the same code as PID 1, which
        // `orphans_are_reaped_as_pid_1` checks under qemu too.
        assert!(!adopted, "qemu-user now passes PR_SET_CHILD_SUBREAPER on: drop this branch");
        emulator_limit("orphans_are_reaped_as_subreaper", "PR_SET_CHILD_SUBREAPER (qemu answers EINVAL)");
        fs::write(t.join("go"), "").expect("go");
        fs::write(t.join("finish"), "").expect("finish");
        let r = finish(c, LIMIT, "subreaper");
        assert_ran(&r, 0, "", "");
        return;
    }
    assert!(adopted, "the orphan {orphan} was not re-parented to the wrapper {me}: {:?}", proc_stat(orphan));
    fs::write(t.join("go"), "").expect("go");
    // The daemon exits while the main command still runs: it must be reaped.
    let reaped = eventually(LIMIT, || proc_stat(orphan).is_none() && zombie_children(me).is_empty());
    let zombies = zombie_children(me);
    assert!(running(&mut c), "the main command ended early");
    fs::write(t.join("finish"), "").expect("finish");
    let r = finish(c, LIMIT, "subreaper");
    assert!(
        reaped,
        "zombies left with the wrapper as parent: {zombies:?} (orphan {orphan}: {:?})",
        proc_stat(orphan)
    );
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
}

#[test]
fn orphans_are_reaped_as_pid_1() {
    if !is_root() {
        return skip("orphans_are_reaped_as_pid_1", "unshare --pid needs root");
    }
    let t = TempDir::new("ep-pid1");
    let (p, tm) = (t.join("p"), t.join("t"));
    // Inside the new PID namespace the wrapper is PID 1: the orphan is
    // re-parented to it, and once it exits it must not stay a zombie.
    let script = "[ $PPID = 1 ] || { echo \"the parent is $PPID, not 1\" >&2; exit 2; }
        ( sh -c 'while [ ! -e go ]; do sleep 0.02; done' & echo $! > orphan )
        o=$(cat orphan); i=0
        while [ \"$(cut -d' ' -f4 /proc/$o/stat)\" != 1 ]; do
          i=$((i+1)); [ $i -lt 1000 ] || { echo \"not adopted: $(cat /proc/$o/stat)\" >&2; exit 3; }
          sleep 0.02
        done
        touch go; i=0
        while [ -e /proc/$o ]; do
          i=$((i+1)); [ $i -lt 1000 ] || { echo \"zombie: $(cat /proc/$o/stat)\" >&2; exit 4; }
          sleep 0.02
        done
        echo reaped";
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .args(tool_argv("entrypoint"))
        .args(["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sh", "-c", script])
        .current_dir(t.path());
    let r = finish(spawn(&mut cmd), 60.0, "unshare entrypoint");
    assert_ran(&r, 0, "reaped\n", "");
    assert_marker(&p, 0);
    assert_message(&tm, 0, "Completed", None);
}

// ---------------------------------------------------------------- timeout

#[test]
fn timeout_kills_a_command_that_ignores_term() {
    let t = TempDir::new("ep-to-ign");
    let (p, tm) = (t.join("p"), t.join("t"));
    let r = run_ep(
        t.path(),
        [
            "--timeout",
            "300ms",
            "--grace",
            "300ms",
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep 30",
        ],
    );
    assert_ran(&r, 124, "", "entrypoint: timed out: stopped 'sh'\n");
    assert_marker(&p, 124);
    assert_message(&tm, 124, "TimeoutExceeded", Some("timed out: stopped 'sh'"));
}

#[test]
fn timeout_stops_a_command_that_obeys_term() {
    let t = TempDir::new("ep-to-obey");
    // Killed by the TERM.
    let (p, tm) = (t.join("p"), t.join("t"));
    let r = run_ep(
        t.path(),
        [
            "--timeout",
            "300ms",
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "sleep 30",
        ],
    );
    assert_ran(&r, 124, "", "entrypoint: timed out: stopped 'sh'\n");
    assert_marker(&p, 124);
    assert_message(&tm, 124, "TimeoutExceeded", Some("timed out: stopped 'sh'"));
    // Exits 0 on TERM: the step has timed out all the same.
    let (p, tm) = (t.join("q"), t.join("u"));
    let r = run_ep(
        t.path(),
        [
            "--timeout=0.3s",
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.05; done 2>/dev/null",
        ],
    );
    assert_ran(&r, 124, "", "entrypoint: timed out: stopped 'sh'\n");
    assert_marker(&p, 124);
    assert_message(&tm, 124, "TimeoutExceeded", Some("timed out: stopped 'sh'"));
    // A command that ends in time is not affected.
    let p = t.join("r");
    let r = run_ep(t.path(), ["--timeout", "1m", "--post-file", &s(&p), "--", "sh", "-c", "exit 5"]);
    assert_ran(&r, 5, "", "");
    assert_marker(&p, 5);
}

// ---------------------------------------------------------------- stop-when

#[test]
fn stop_when_path_appears() {
    let t = TempDir::new("ep-stop");
    // (file to create, script): P appears; P.err appears to a command that
    // ignores TERM (killed after the grace); the second of two paths appears
    // in directories that did not exist.
    let cases = [
        ("done", "echo > ready; sleep 30"),
        ("done.err", "trap '' TERM; echo > ready; sleep 30"),
        ("later/sub/other", "echo > ready; sleep 30"),
    ];
    for (i, (create, script)) in cases.iter().enumerate() {
        let d = t.join(&format!("case{i}"));
        fs::create_dir(&d).expect("mkdir");
        let (p, tm) = (d.join("p"), d.join("t"));
        let mut c = spawn(&mut ep(
            &d,
            [
                "--stop-when",
                &s(&d.join("done")),
                "--stop-when",
                &s(&d.join("later/sub/other")),
                "--grace",
                "300ms",
                "--post-file",
                &s(&p),
                "--termination-path",
                &s(&tm),
                "--",
                "sh",
                "-c",
                script,
            ],
        ));
        wait_for_file(&d.join("ready"));
        assert!(running(&mut c), "{create}: ended before the stop file");
        let target = d.join(create);
        fs::create_dir_all(target.parent().expect("parent")).expect("mkdir -p");
        put(&target, "0\n");
        let r = finish(c, LIMIT, create);
        assert_ran(&r, 0, "", "");
        assert_marker(&p, 0);
        assert_message(&tm, 0, "Stopped", None);
    }
}

#[test]
fn stop_when_path_exists_at_start() {
    let t = TempDir::new("ep-stop-pre");
    let (p, tm, done) = (t.join("p"), t.join("t"), t.join("done"));
    fs::write(&done, "").expect("done");
    let r = run_ep(
        t.path(),
        ["--stop-when", &s(&done), "--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sleep", "30"],
    );
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
    assert_message(&tm, 0, "Stopped", None);
    // A command that ends by itself first keeps its own outcome.
    let (p, tm) = (t.join("q"), t.join("u"));
    let r = run_ep(
        t.path(),
        [
            "--stop-when",
            &s(&t.join("never")),
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "exit 2",
        ],
    );
    assert_ran(&r, 2, "", "");
    assert_marker(&p, 2);
    assert_message(&tm, 2, "Error", None);
}

// ---------------------------------------------------------------- on-error

#[test]
fn on_error_continue_writes_p_and_exits_0() {
    let t = TempDir::new("ep-cont");
    let (p, tm) = (t.join("p"), t.join("t"));
    let r = run_ep(
        t.path(),
        [
            "--on-error",
            "continue",
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
    // Tekton's "continued" shape: the real ExitCode and no Reason.
    let m = assert_message(&tm, 3, "", None);
    let want = format!(
        r#"[{{"key":"StartedAt","value":"{}","type":3}},{{"key":"ExitCode","value":"3","type":3}}]"#,
        m.started_at.expect("StartedAt")
    );
    assert_eq!(String::from_utf8_lossy(&m.raw), want);
    // Killed by a signal: the same, the real status in the message.
    let (p, tm) = (t.join("q"), t.join("u"));
    let r = run_ep(
        t.path(),
        [
            "--on-error=continue",
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "kill -KILL $$",
        ],
    );
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
    assert_message(&tm, 137, "", None);
    // A command that cannot be run is a failing command too.
    let (p, tm) = (t.join("v"), t.join("w"));
    let r = run_ep(
        t.path(),
        ["-on_error=continue", "--post-file", &s(&p), "--termination-path", &s(&tm), "--", "no-such-cmd"],
    );
    assert_ran(&r, 0, "", "entrypoint: cannot run 'no-such-cmd': No such file or directory\n");
    assert_marker(&p, 0);
    assert_message(&tm, 127, "", Some("cannot run 'no-such-cmd': No such file or directory"));
    // --on-error stop is the default.
    let p = t.join("r");
    let r = run_ep(t.path(), ["--on-error", "stop", "--post-file", &s(&p), "--", "sh", "-c", "exit 3"]);
    assert_ran(&r, 3, "", "");
    assert_marker(&p, 3);
}

// ---------------------------------------------------------------- dependencies

#[test]
fn a_failed_dependency_skips_the_cascade_unless_always() {
    let t = TempDir::new("ep-skip");
    let (a, b, c, d) = (t.join("a"), t.join("b"), t.join("c"), t.join("d"));
    put(&with_suffix(&a, ".err"), "1\n");
    let tb = t.join("tb");
    let r = run_ep(
        t.path(),
        [
            "--wait",
            &s(&a),
            "--post-file",
            &s(&b),
            "--termination-path",
            &s(&tb),
            "--",
            "sh",
            "-c",
            "echo ran > ran-b",
        ],
    );
    let line = format!("step '{}' failed", s(&a));
    assert_ran(&r, 1, "", &format!("entrypoint: {line}\n"));
    assert_marker(&b, 1);
    assert_unstarted_message(&tb, 1, "Skipped", Some(&line));
    assert!(!t.join("ran-b").exists(), "a skipped step ran its command");
    // c waits on b: skipped too.
    let tc = t.join("tc");
    let r = run_ep(
        t.path(),
        [
            "--wait",
            &s(&b),
            "--post-file",
            &s(&c),
            "--termination-path",
            &s(&tc),
            "--",
            "sh",
            "-c",
            "echo ran > ran-c",
        ],
    );
    let line = format!("step '{}' failed", s(&b));
    assert_ran(&r, 1, "", &format!("entrypoint: {line}\n"));
    assert_marker(&c, 1);
    assert_unstarted_message(&tc, 1, "Skipped", Some(&line));
    assert!(!t.join("ran-c").exists(), "a skipped step ran its command");
    // --always runs regardless (a finally step).
    let td = t.join("td");
    let r = run_ep(
        t.path(),
        [
            "--always",
            "--wait",
            &s(&c),
            "--post-file",
            &s(&d),
            "--termination-path",
            &s(&td),
            "--",
            "sh",
            "-c",
            "echo ran > ran-d",
        ],
    );
    assert_ran(&r, 0, "", "");
    assert_marker(&d, 0);
    assert_message(&td, 0, "Completed", None);
    assert_eq!(read_opt(&t.join("ran-d")).as_deref(), Some("ran\n"));
}

#[test]
fn p_wins_over_p_err_and_empty_markers_count() {
    let t = TempDir::new("ep-both");
    let (a, e, b) = (t.join("a"), t.join("empty"), t.join("b"));
    put(&a, "0\n");
    put(&with_suffix(&a, ".err"), "1\n");
    put(&e, "");
    let r =
        run_ep(t.path(), ["--wait", &s(&a), "--wait", &s(&e), "--post-file", &s(&b), "--", "echo", "ran"]);
    assert_ran(&r, 0, "ran\n", "");
    assert_marker(&b, 0);
}

#[test]
fn a_dependency_with_a_free_lock_and_no_marker_died() {
    let t = TempDir::new("ep-died");
    let (a, b, tm) = (t.join("a"), t.join("b"), t.join("t"));
    fs::write(harness::lock_of(&a), "").expect("lock");
    let r = run_ep(
        t.path(),
        [
            "--wait",
            &s(&a),
            "--post-file",
            &s(&b),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "echo ran > ran",
        ],
    );
    let line = format!("step '{}' died without a result", s(&a));
    assert_ran(&r, 1, "", &format!("entrypoint: {line}\n"));
    assert_marker(&b, 1);
    assert_unstarted_message(&tm, 1, "DependencyDied", Some(&line));
    assert!(!t.join("ran").exists());
}

#[test]
fn a_killed_dependency_releases_its_waiter_with_a_failure() {
    let t = TempDir::new("ep-killed");
    let (a, b) = (t.join("a"), t.join("b"));
    let mut first =
        spawn(&mut ep(t.path(), ["--post-file", &s(&a), "--", "sh", "-c", "echo $$ > apid; exec sleep 30"]));
    let sleeper = read_pid(&t.join("apid"));
    let waiter =
        start_waiting(&mut ep(t.path(), ["--wait", &s(&a), "--post-file", &s(&b), "--", "true"]), &b);
    send(first.id(), libc::SIGKILL);
    let _ = first.wait();
    send(sleeper, libc::SIGKILL);
    let secs = if emulated() { 15.0 } else { 5.0 };
    let r = finish(waiter, secs, "the waiter of a killed step");
    assert_ran(&r, 1, "", &format!("entrypoint: step '{}' died without a result\n", s(&a)));
    assert_marker(&b, 1);
    assert_no_marker(&a);
}

/// The pending signals of `pid` (process-wide and its thread's), from /proc.
fn pending(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("ShdPnd:") || l.starts_with("SigPnd:"))
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap_or("0"), 16).ok())
        .fold(0, |a, b| a | b)
}

#[test]
fn signals_during_the_wait_follow_one_rule_in_both_tools() {
    // TERM, INT, HUP and QUIT end a wait with 128+N (entrypoint: P.err,
    // Reason Cancelled); every other signal it handles is read and dropped,
    // and the wait goes on. The same for waitfor and entrypoint.
    let t = TempDir::new("ep-waitsig");
    let mut sigs = forwarded_signals();
    sigs.push(libc::SIGCHLD);
    assert_eq!(sigs.len(), if emulated() { 50 } else { 52 });
    // Eight signals at a time: every waiter holds an inotify instance, and
    // 100 at once would take most of root's 128 (fs.inotify.max_user_instances),
    // so that anything else running as root could leave one without.
    for batch in sigs.chunks(8) {
        signals_during_the_wait_batch(&t, batch);
    }
}

fn signals_during_the_wait_batch(t: &TempDir, sigs: &[i32]) {
    let mut waiters = Vec::new();
    for &n in sigs {
        for tool_name in ["entrypoint", "waitfor"] {
            let d = t.join(&format!("{tool_name}-{n}"));
            fs::create_dir(&d).expect("mkdir");
            let (dep, p, tm, ran) = (d.join("dep"), d.join("p"), d.join("t"), d.join("ran"));
            let script = format!("echo ran > {}", s(&ran));
            let c = if tool_name == "entrypoint" {
                let args = ["--wait", &s(&dep), "--post-file", &s(&p), "--termination-path", &s(&tm), "--"];
                start_waiting(ep(&d, args).args(["sh", "-c", &script]), &p)
            } else {
                let mut c =
                    spawn(tool("waitfor").args([&s(&dep), "--", "sh", "-c", &script]).current_dir(&d));
                wait_until_polling(c.id());
                assert!(running(&mut c), "waitfor exited instead of waiting");
                c
            };
            waiters.push((n, tool_name, d, c));
        }
    }
    assert_eq!(waiters.len(), 2 * sigs.len());
    for (n, tool_name, _, c) in &waiters {
        send(c.id(), *n);
        if ![1, 2, 3, 15].contains(n) {
            let bit = 1u64 << (as_seen(*n) - 1);
            let read = eventually(LIMIT, || pending(c.id()) & bit == 0 && wchan(c.id()).contains("poll"));
            assert!(read, "{tool_name} never took signal {n} (pending {:x})", pending(c.id()));
        }
    }
    for (n, tool_name, d, c) in waiters {
        let what = format!("{tool_name} after signal {n}");
        if [1, 2, 3, 15].contains(&n) {
            let code = 128 + n as u8;
            let r = finish(c, LIMIT, &what);
            assert_ran(&r, i32::from(code), "", "");
            if tool_name == "entrypoint" {
                assert_marker(&d.join("p"), code);
                assert_unstarted_message(&d.join("t"), code, "Cancelled", None);
            }
            assert!(!d.join("ran").exists(), "{what}: a cancelled wait ran its command");
        } else {
            put(&d.join("dep"), "0\n");
            let r = finish(c, LIMIT, &what);
            assert_ran(&r, 0, "", "");
            assert_eq!(read_opt(&d.join("ran")).as_deref(), Some("ran\n"), "{what}");
        }
    }
}

#[test]
fn wait_timeout_gives_124() {
    let t = TempDir::new("ep-wto");
    let (never, p, tm) = (t.join("never"), t.join("p"), t.join("t"));
    let r = run_ep(
        t.path(),
        [
            "--wait-timeout",
            "300ms",
            "--wait",
            &s(&never),
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "echo ran > ran",
        ],
    );
    let line = format!("timed out waiting for '{}'", s(&never));
    assert_ran(&r, 124, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 124);
    assert_unstarted_message(&tm, 124, "TimeoutExceeded", Some(&line));
    assert!(!t.join("ran").exists());
}

#[test]
fn a_marker_that_appears_releases_the_waiter() {
    let t = TempDir::new("ep-release");
    let (a, b) = (t.join("steps/a"), t.join("steps/b"));
    // The step directory does not even exist yet.
    let c =
        start_waiting(&mut ep(t.path(), ["--wait", &s(&a), "--post-file", &s(&b), "--", "echo", "go"]), &b);
    put(&a, "0\n");
    let r = finish(c, LIMIT, "waiter");
    assert_ran(&r, 0, "go\n", "");
    assert_marker(&b, 0);
}

// ---------------------------------------------------------------- cannot run

#[test]
fn command_not_found_is_127_and_not_executable_is_126() {
    let t = TempDir::new("ep-exec");
    let (p, tm) = (t.join("p"), t.join("t"));
    let r =
        run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "no-such-cmd", "arg"]);
    let line = "cannot run 'no-such-cmd': No such file or directory";
    assert_ran(&r, 127, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 127);
    assert_message(&tm, 127, "Error", Some(line));

    let script = t.join("script");
    fs::write(&script, "#!/bin/sh\necho hi\n").expect("write");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).expect("chmod");
    let (p, tm) = (t.join("q"), t.join("u"));
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", &s(&script)]);
    let line = format!("cannot run '{}': Permission denied", s(&script));
    assert_ran(&r, 126, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 126);
    assert_message(&tm, 126, "Error", Some(&line));
}

// ---------------------------------------------------------------- usage

#[test]
fn usage_errors_exit_125_with_one_line() {
    let t = TempDir::new("ep-usage");
    let cases: [(&[&str], &str); 9] = [
        (&["--bogus", "--", "true"], "unknown option '--bogus'"),
        (&["-bogus_flag=1", "--", "true"], "unknown option '-bogus_flag=1'"),
        (&[], "missing COMMAND"),
        (&["--wait", "x"], "missing COMMAND"),
        (&["--timeout", "x", "--", "true"], "invalid duration 'x'"),
        (&["--grace=10q", "--", "true"], "invalid duration '10q'"),
        (&["--on-error", "maybe", "--", "true"], "invalid --on-error value 'maybe'"),
        (&["-on_error=maybe", "--", "true"], "invalid --on-error value 'maybe'"),
        (&["--post-file"], "option '--post-file' needs a value"),
    ];
    for (args, msg) in cases {
        let r = run_ep(t.path(), args);
        assert_ran(&r, 125, "", &usage_line(msg));
    }
    assert!(names(t.path()).is_empty(), "{:?}", names(t.path()));
}

#[test]
fn usage_error_after_the_post_file_leaves_p_err() {
    let t = TempDir::new("ep-usage-p");
    let cases: [(&str, &[&str], &str); 5] = [
        ("a", &["--bogus", "--", "true"], "unknown option '--bogus'"),
        ("b", &[], "missing COMMAND"),
        ("b2", &["--"], "missing COMMAND"),
        ("c", &["--timeout", "forever", "--", "true"], "invalid duration 'forever'"),
        ("d", &["-on_error=sometimes", "--", "true"], "invalid --on-error value 'sometimes'"),
    ];
    for (name, rest, msg) in cases {
        let p = t.join(name);
        let mut args = vec!["--post-file".to_string(), s(&p)];
        args.extend(rest.iter().map(|a| a.to_string()));
        let r = run_ep(t.path(), &args);
        assert_ran(&r, 125, "", &usage_line(msg));
        assert_marker(&p, 125);
    }
    // A post file anywhere on the command line is found, after the bad
    // option too (the tools' pages in docs/), in either spelling.
    let p = t.join("e");
    let r = run_ep(t.path(), ["--bogus", "--post-file", &s(&p), "--", "true"]);
    assert_ran(&r, 125, "", &usage_line("unknown option '--bogus'"));
    assert_marker(&p, 125);
    let (p, tm) = (t.join("f"), t.join("f.t"));
    let r = run_ep(
        t.path(),
        [
            "--timeout",
            "soon",
            &format!("-post_file={}", s(&p)),
            &format!("--termination-path={}", s(&tm)),
            "--",
            "true",
        ],
    );
    assert_ran(&r, 125, "", &usage_line("invalid duration 'soon'"));
    assert_marker(&p, 125);
    assert_unstarted_message(&tm, 125, "Error", Some("invalid duration 'soon' (try 'entrypoint --help')"));
    // After `--` they are COMMAND's: not a post file.
    let p = t.join("g");
    let r = run_ep(t.path(), ["--bogus", "--", "true", "--post-file", &s(&p)]);
    assert_ran(&r, 125, "", &usage_line("unknown option '--bogus'"));
    assert_no_marker(&p);
}

#[test]
fn usage_error_after_the_termination_path_writes_the_message() {
    // the tools' pages in docs/: the outcome (marker, then termination message) is
    // written whatever happened, usage errors included once it is known where.
    let t = TempDir::new("ep-usage-t");
    let (p, tm) = (t.join("p"), t.join("t"));
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--bogus", "--", "true"]);
    assert_ran(&r, 125, "", &usage_line("unknown option '--bogus'"));
    assert_marker(&p, 125);
    assert!(tm.exists(), "no termination message after a usage error");
    // The Message is the diagnostic without its `entrypoint: `.
    assert_unstarted_message(&tm, 125, "Error", Some("unknown option '--bogus' (try 'entrypoint --help')"));
}

#[test]
fn a_network_target_in_wait_is_a_usage_error_that_points_at_waitfor() {
    // `--wait` takes step files; a network target would be waited for as a
    // file of that name, forever.
    let t = TempDir::new("ep-wait-net");
    let p = t.join("p");
    for target in ["tcp://127.0.0.1:5432", "http://db:8080/healthz", "unix:///run/db.sock"] {
        let r = run_ep(t.path(), ["--post-file", &s(&p), "--wait", target, "--", "true"]);
        let msg = "--wait takes step files, not network targets: use waitfor TARGET -- entrypoint ...";
        assert_ran(&r, 125, "", &usage_line(msg));
        assert_marker(&p, 125);
    }
}

#[test]
fn help_and_version() {
    let t = TempDir::new("ep-help");
    let r = run_ep(t.path(), ["--help"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert!(r.stdout.starts_with("Usage: entrypoint"), "{r:?}");
    assert_ran(&run_ep(t.path(), ["--version"]), 0, "entrypoint 0.1.0\n", "");
    // After `--` they belong to COMMAND.
    assert_ran(
        &run_ep(t.path(), ["--", "printf", "%s\\n", "--help", "--version"]),
        0,
        "--help\n--version\n",
        "",
    );
    assert!(names(t.path()).is_empty());
}

// ---------------------------------------------------------------- descriptors

#[test]
fn no_descriptor_leaks_into_the_command() {
    let t = TempDir::new("ep-fds");
    let list = "ls /proc/$$/fd";
    let direct = run_cmd(Command::new("sh").args(["-c", list]).current_dir(t.path()));
    assert_eq!(direct.code, 0, "{direct:?}");
    let plain = run_ep(t.path(), ["--", "sh", "-c", list]);
    assert_ran(&plain, 0, &direct.stdout, "");
    // With every option that opens something: the lock, the wait engine, the
    // stop engine, timers.
    let dep = t.join("dep");
    put(&dep, "0\n");
    let full = run_ep(
        t.path(),
        [
            "--wait",
            &s(&dep),
            "--post-file",
            &s(&t.join("p")),
            "--termination-path",
            &s(&t.join("t")),
            "--stop-when",
            &s(&t.join("never")),
            "--timeout",
            "1m",
            "--",
            "sh",
            "-c",
            list,
        ],
    );
    assert_ran(&full, 0, &direct.stdout, "");
}

// ---------------------------------------------------------------- termination message

#[test]
fn termination_message_is_never_over_4096_bytes() {
    let t = TempDir::new("ep-4096");
    // A 4000-byte path of short components full of characters JSON escapes
    // (`"` and `\`): it does not exist, so the command cannot run.
    let mut name = String::from("/no-such-dir-for-entrypoint");
    while name.len() < 4000 {
        name.push('/');
        name.push_str(&"\"\\".repeat(50));
    }
    name.truncate(4000);
    let (p, tm) = (t.join("p"), t.join("t"));
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", &name]);
    let line = format!("cannot run '{name}': No such file or directory");
    assert_ran(&r, 127, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 127);
    let m = read_message(&tm);
    assert_eq!((m.exit_code.as_str(), m.reason.as_str()), ("127", "Error"));
    let text = m.message.expect("a Message");
    assert!(
        text.len() > 1000 && format!("entrypoint: {line}").starts_with(&text),
        "the Message is not a long prefix of the diagnostic: {text:?}"
    );
    assert!(m.raw.len() <= 4096);

    // A 4000-byte name with no slash: too long to look up (126, as
    // `timeout` and `env` answer); the Message is cut, the JSON stays valid.
    let name = "\"".repeat(4000);
    let (p, tm) = (t.join("q"), t.join("u"));
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", &name]);
    let line = format!("cannot run '{name}': Filename too long"); // musl's words
    assert_ran(&r, 126, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 126);
    let m = read_message(&tm);
    assert_eq!((m.exit_code.as_str(), m.reason.as_str()), ("126", "Error"));
    let text = m.message.expect("a Message");
    assert!(
        text.len() > 1000 && format!("entrypoint: {line}").starts_with(&text),
        "the Message is not a long prefix of the diagnostic: {text:?}"
    );
    assert!(m.raw.len() <= 4096 && m.raw.len() > 4000, "{} bytes", m.raw.len());
}

#[test]
fn hostile_command_name_is_escaped_in_the_message() {
    let t = TempDir::new("ep-hostile");
    let name = OsString::from_vec(b"x\ny\"z\\w\xff".to_vec());
    let (p, tm) = (t.join("p"), t.join("t"));
    let mut cmd = ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--"]);
    cmd.arg(&name);
    let out = finish_output(spawn(&mut cmd), LIMIT, "hostile name");
    // On stderr the control character is escaped, the rest is as it is.
    assert_eq!(
        out.stderr,
        b"entrypoint: cannot run 'x\\x0ay\"z\\w\xff': No such file or directory\n".to_vec(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(harness::status_code(out.status), 127);
    assert_marker(&p, 127);
    let m = assert_message(
        &tm,
        127,
        "Error",
        Some("cannot run 'x\\x0ay\"z\\w\u{fffd}': No such file or directory"),
    );
    let raw = String::from_utf8_lossy(&m.raw);
    assert!(
        raw.contains(r#""value":"entrypoint: cannot run 'x\\x0ay\"z\\w\ufffd': No such file or directory""#),
        "{raw}"
    );
}

// ---------------------------------------------------------------- Tekton

/// The seed pod's three steps, started in reverse order at once.
#[test]
fn tekton_seed_pod_command_lines() {
    let t = TempDir::new("ep-seed");
    let steps = t.join("ordered/steps");
    let post = |n: &str| format!("-post_file={}", s(&steps.join(n)));
    let term = format!("-termination_path={}", s(&steps.join("termintaion")));
    let specs = [
        ("one", None, "echo step one\necho hello world\n"),
        ("two", Some("one"), "echo step two\necho fizz buzz\n"),
        ("three", Some("two"), "echo step three\necho lorem ipsum\n"),
    ];
    let mut children = Vec::new();
    for (name, wait, script) in specs.iter().rev() {
        let mut args = Vec::new();
        if let Some(w) = wait {
            args.push(format!("-wait_file={}", s(&steps.join(w))));
        }
        args.extend([
            post(name),
            term.clone(),
            "-entrypoint=sh".into(),
            "--".into(),
            "-c".into(),
            script.to_string(),
        ]);
        children.push((*name, spawn(&mut ep(t.path(), &args))));
    }
    let want = [
        ("three", "step three\nlorem ipsum\n"),
        ("two", "step two\nfizz buzz\n"),
        ("one", "step one\nhello world\n"),
    ];
    for ((name, c), (wname, out)) in children.into_iter().zip(want) {
        assert_eq!(name, wname);
        let r = finish(c, LIMIT, name);
        assert_ran(&r, 0, out, "");
        assert_marker(&steps.join(name), 0);
    }
    assert_message(&steps.join("termintaion"), 0, "Completed", None);
}

#[test]
fn tekton_wait_file_list() {
    let t = TempDir::new("ep-tk-list");
    let (a, b, c) = (t.join("a"), t.join("b"), t.join("c"));
    put(&b, "");
    let arg = format!("-wait_file={},{}", s(&a), s(&b));
    let w = start_waiting(
        &mut ep(t.path(), [arg.as_str(), &format!("-post_file={}", s(&c)), "-entrypoint=echo", "--", "both"]),
        &c,
    );
    put(&a, "");
    assert_ran(&finish(w, LIMIT, "-wait_file=a,b"), 0, "both\n", "");
    assert_marker(&c, 0);
    // One of the list failed: skipped.
    let (x, y) = (t.join("x"), t.join("y"));
    put(&with_suffix(&x, ".err"), "2\n");
    let arg = format!("-wait_file={},{}", s(&b), s(&x));
    let r =
        run_ep(t.path(), [arg.as_str(), &format!("-post_file={}", s(&y)), "-entrypoint=echo", "--", "no"]);
    assert_ran(&r, 1, "", &format!("entrypoint: step '{}' failed\n", s(&x)));
    assert_marker(&y, 1);
}

#[test]
fn tekton_wait_file_content_waits_for_a_non_empty_file() {
    let t = TempDir::new("ep-tk-content");
    let (ready, p) = (t.join("ready"), t.join("p"));
    fs::write(&ready, "").expect("empty");
    let mut w = start_waiting(
        &mut ep(
            t.path(),
            [
                format!("-wait_file={}", s(&ready)).as_str(),
                "-wait_file_content",
                &format!("-post_file={}", s(&p)),
                "-entrypoint=echo",
                "--",
                "content",
            ],
        ),
        &p,
    );
    assert!(running(&mut w), "an empty file released -wait_file_content");
    fs::write(&ready, "go\n").expect("fill");
    assert_ran(&finish(w, LIMIT, "-wait_file_content"), 0, "content\n", "");
    assert_marker(&p, 0);
}

#[test]
fn tekton_on_error_timeout_and_step_metadata_dir() {
    let t = TempDir::new("ep-tk-flags");
    let run = |name: &str, flags: &[&str], script: &str| {
        let p = t.join(name);
        let mut args = vec![format!("-post_file={}", s(&p))];
        args.extend(flags.iter().map(|f| f.to_string()));
        args.extend(["-entrypoint=sh".into(), "--".into(), "-c".into(), script.to_string()]);
        (run_ep(t.path(), &args), p)
    };
    let (r, p) = run("cont", &["-on_error=continue"], "exit 7");
    assert_ran(&r, 0, "", "");
    assert_marker(&p, 0);
    let (r, p) = run("stop", &["-on_error=stopAndFail"], "exit 7");
    assert_ran(&r, 7, "", "");
    assert_marker(&p, 7);
    let (r, p) = run("meta", &["-step_metadata_dir=/x", "-timeout=1s"], "echo ok");
    assert_ran(&r, 0, "ok\n", "");
    assert_marker(&p, 0);
    let (r, p) = run("to", &["-timeout=1s"], "sleep 30");
    assert_ran(&r, 124, "", "entrypoint: timed out: stopped 'sh'\n");
    assert_marker(&p, 124);
    // The Go flag forms: a separate value, two dashes, an `=true` boolean.
    let q = t.join("go");
    let r = run_ep(
        t.path(),
        [
            "-post_file",
            &s(&q),
            "--termination_path",
            &s(&t.join("tm")),
            "-wait_file_content=true",
            "-entrypoint",
            "echo",
            "--",
            "go",
        ],
    );
    assert_ran(&r, 0, "go\n", "");
    assert_marker(&q, 0);
}

#[test]
fn cp_copies_the_tool_into_a_volume() {
    let t = TempDir::new("ep-cp");
    let bin = t.join("ordered/bin");
    fs::create_dir_all(&bin).expect("mkdir");
    let src = harness::bin("entrypoint");
    let dest = bin.join("entrypoint");
    assert_ran(&run_ep(t.path(), ["cp", &s(&src), &s(&dest)]), 0, "", "");
    assert_eq!(fs::read(&dest).expect("dest"), fs::read(&src).expect("src"));
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(mode(&dest), mode(&src));
    // The copy runs.
    let mut cmd = match harness::runner() {
        Some(r) => {
            let mut c = Command::new(r);
            c.arg(&dest);
            c
        }
        None => Command::new(&dest),
    };
    assert_ran(&run_cmd(cmd.arg("--version")), 0, "entrypoint 0.1.0\n", "");
    // A script with mode 0700 becomes 0755 (copier's rule) and runs.
    let script = t.join("s.sh");
    fs::write(&script, "#!/bin/sh\necho copied\n").expect("write");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).expect("chmod");
    let dest = bin.join("s.sh");
    assert_ran(&run_ep(t.path(), ["cp", &s(&script), &s(&dest)]), 0, "", "");
    assert_eq!(mode(&dest), 0o755);
    assert_ran(&run_cmd(&mut Command::new(&dest)), 0, "copied\n", "");
    // Errors.
    assert_ran(&run_ep(t.path(), ["cp", &s(&script)]), 125, "", &usage_line("cp needs SOURCE and DEST"));
    let missing = t.join("missing");
    assert_ran(
        &run_ep(t.path(), ["cp", &s(&missing), &s(&bin.join("m"))]),
        125,
        "",
        &format!("entrypoint: cannot copy '{}': No such file or directory\n", s(&missing)),
    );
}

// ---------------------------------------------------------------- chains

#[test]
fn a_chain_of_20_steps_started_in_reverse_runs_in_order() {
    let t = TempDir::new("ep-chain");
    let n = 20;
    let log = t.join("log");
    let mut children = Vec::new();
    for i in (1..=n).rev() {
        let mut args = Vec::new();
        if i > 1 {
            args.extend(["--wait".to_string(), s(&t.join(&format!("s{}", i - 1)))]);
        }
        args.extend([
            "--post-file".to_string(),
            s(&t.join(&format!("s{i}"))),
            "--".into(),
            "sh".into(),
            "-c".into(),
            format!("echo \"{i} $(cut -d' ' -f1 /proc/uptime)\" >> {}", s(&log)),
        ]);
        children.push((i, spawn(&mut ep(t.path(), &args))));
    }
    for (i, c) in children {
        let r = finish(c, 60.0, &format!("step {i}"));
        assert_ran(&r, 0, "", "");
    }
    for i in 1..=n {
        assert_marker(&t.join(&format!("s{i}")), 0);
    }
    let text = fs::read_to_string(&log).expect("log");
    let lines: Vec<(u32, f64)> = text
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').expect("two fields");
            (a.parse().expect("index"), b.parse().expect("uptime"))
        })
        .collect();
    let order: Vec<u32> = lines.iter().map(|l| l.0).collect();
    assert_eq!(order, (1..=n).collect::<Vec<_>>(), "log:\n{text}");
    assert!(lines.windows(2).all(|w| w[0].1 <= w[1].1), "uptimes out of order:\n{text}");
}

#[test]
fn timeout_counts_from_the_command_start_not_the_wait() {
    let t = TempDir::new("ep-to-start");
    let (a, p, tm) = (t.join("a"), t.join("p"), t.join("t"));
    let c = start_waiting(
        &mut ep(
            t.path(),
            [
                "--wait",
                &s(&a),
                "--timeout",
                "1500ms",
                "--post-file",
                &s(&p),
                "--termination-path",
                &s(&tm),
                "--",
                "echo",
                "ran",
            ],
        ),
        &p,
    );
    // Longer than the timeout: had it counted from the wait, it would expire.
    std::thread::sleep(std::time::Duration::from_millis(2000));
    put(&a, "0\n");
    let r = finish(c, LIMIT, "--timeout after a long wait");
    assert_ran(&r, 0, "ran\n", "");
    assert_marker(&p, 0);
    assert_message(&tm, 0, "Completed", None);
}

#[test]
fn termination_message_on_a_bind_mounted_file_is_rewritten_in_place() {
    // Kubernetes bind-mounts terminationMessagePath: it cannot be renamed over.
    if !is_root() {
        return skip(
            "termination_message_on_a_bind_mounted_file_is_rewritten_in_place",
            "mounting needs root",
        );
    }
    let t = TempDir::new("ep-tmount");
    let (p, tm) = (t.join("p"), t.join("t"));
    fs::write(&tm, "x".repeat(5000)).expect("write");
    let script = "mount --bind \"$1\" \"$1\" || exit 99; shift; exec \"$@\"";
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c", script, "sh", &s(&tm)])
        .args(tool_argv("entrypoint"))
        .args(["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sh", "-c", "exit 3"])
        .current_dir(t.path());
    let r = finish(spawn(&mut cmd), LIMIT, "unshare --mount");
    assert_ran(&r, 3, "", "");
    assert_marker(&p, 3);
    assert_message(&tm, 3, "Error", None);
    assert_eq!(names(t.path()), set(&["p.err", ".p.lock", "t"]));
}

#[test]
fn the_wrapper_exits_when_command_exits_not_its_descendants() {
    let t = TempDir::new("ep-bg");
    let p = t.join("p");
    let r = run_ep(
        t.path(),
        ["--post-file", &s(&p), "--", "sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $! > bg; exit 6"],
    );
    let bg = read_pid(&t.join("bg"));
    // SAFETY: kill(2) takes plain integers and touches no memory.
    unsafe { libc::kill(bg as libc::pid_t, libc::SIGKILL) };
    assert_ran(&r, 6, "", "");
    assert_marker(&p, 6);
}

#[test]
fn a_post_file_that_cannot_be_created_is_named_in_full() {
    let t = TempDir::new("ep-nolock");
    let file = t.join("file");
    fs::write(&file, "").expect("write");
    let (p, tm) = (file.join("p"), t.join("t"));
    let r = run_ep(
        t.path(),
        ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "sh", "-c", "echo ran > ran"],
    );
    let line = format!("cannot create '{}': Not a directory", s(&harness::lock_of(&p)));
    // One line: P.err is tried too, and its failure (the same cause) is not told twice.
    let want = format!("entrypoint: {line}\n");
    assert_ran(&r, 125, "", &want);
    assert_unstarted_message(&tm, 125, "Error", Some(&line));
    assert!(!t.join("ran").exists());
}

#[test]
fn a_lock_that_cannot_be_made_still_leaves_p_err_where_the_directory_takes_it() {
    let t = TempDir::new("ep-lockdir");
    let p = t.join("p");
    fs::create_dir(harness::lock_of(&p)).expect("mkdir .p.lock");
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--", "sh", "-c", "echo ran > ran"]);
    assert_ran(
        &r,
        125,
        "",
        &format!("entrypoint: cannot create '{}': Is a directory\n", s(&harness::lock_of(&p))),
    );
    assert_marker(&p, 125);
    assert!(!t.join("ran").exists());
}

#[test]
fn closed_stdio_does_not_capture_the_lock_or_the_signal_descriptor() {
    // Started with 0, 1 and 2 closed: the files the wrapper opens must not
    // take those numbers, or the command would write into them.
    let t = TempDir::new("ep-closed");
    let (p, tm) = (t.join("p"), t.join("t"));
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$@\" <&- >&- 2>&-", "sh"])
        .args(tool_argv("entrypoint"))
        .args([
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; echo done > done",
        ])
        .current_dir(t.path());
    let r = finish(spawn(&mut cmd), LIMIT, "closed stdio");
    assert_ran(&r, 0, "", "");
    assert_eq!(read_opt(&t.join("done")).as_deref(), Some("done\n"));
    assert_marker(&p, 0);
    assert!(harness::is_fifo(&harness::lock_of(&p)), ".p.lock is not the liveness pipe");
    assert_message(&tm, 0, "Completed", None);
}

// ---------------------------------------------------------------- hardening

/// A command line that runs `argv` as the unprivileged uid `uid` (setpriv).
fn as_uid(uid: u32, argv: &[String]) -> Command {
    harness::need("setpriv", "util-linux");
    let mut c = Command::new("setpriv");
    c.args(["--reuid", &uid.to_string(), "--regid", &uid.to_string(), "--clear-groups"]).args(argv);
    c
}

#[test]
fn fork_failure_is_125_with_p_err_and_signals_no_one() {
    // Under a process limit (a pod's pids.max, here RLIMIT_NPROC) fork fails
    // with EAGAIN. Before, the -1 was taken for the child's pid: kill(-1, sig)
    // signalled every process of the uid, and the wrapper waited forever.
    if !is_root() {
        return skip("fork_failure_is_125_with_p_err_and_signals_no_one", "needs root to run as another uid");
    }
    if emulated() {
        // qemu-user starts threads of its own, a varying number of them while
        // it starts: no process limit lets it start for certain and then fails
        // its fork for certain. The aarch64 build runs the same code.
        return emulator_limit(
            "fork_failure_is_125_with_p_err_and_signals_no_one",
            "a process limit that qemu-user's own threads fit in but the fork does not",
        );
    }
    harness::need("prlimit", "util-linux");
    let t = TempDir::new("ep-nproc");
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let (p, tm) = (t.join("p"), t.join("t"));
    const UID: u32 = 65531;
    // Another process of that uid lives, so that the uid's count is past the limit.
    let mut other = as_uid(UID, &["sleep".into(), "60".into()]).spawn().expect("sleep as the uid");
    let _cleanup = Cleanup(vec![other.id() as i32]);
    assert!(eventually(LIMIT, || uid_of(other.id()) == Some(UID)), "sleep never ran as uid {UID}");
    // The limit lets the wrapper exist and no more: the uid's tasks now and
    // the wrapper.
    let nproc = (tasks_of(UID) + 1).to_string();
    let mut argv = vec!["prlimit".to_string(), format!("--nproc={nproc}:{nproc}")];
    argv.extend(tool_argv("entrypoint"));
    argv.extend([
        "--post-file".into(),
        s(&p),
        "--termination-path".into(),
        s(&tm),
        "--".into(),
        "sh".into(),
        "-c".into(),
        "echo ran".into(),
    ]);
    let r = finish(spawn(as_uid(UID, &argv).current_dir(t.path())), LIMIT, "entrypoint at its process limit");
    let line = "cannot start 'sh': Resource temporarily unavailable";
    assert_ran(&r, 125, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 125);
    assert_message(&tm, 125, "Error", Some(line));
    assert!(running(&mut other), "the other process of the uid was signalled");
    let _ = other.kill();
}

/// A --wait path that can never appear (the kernel takes no path of 4096
/// bytes or more) is the tool's failure: 125, one line that names it, P.err.
#[test]
fn a_wait_path_that_cannot_be_waited_for_is_125_with_p_err() {
    let t = TempDir::new("ep-toolong");
    let (p, tm) = (t.join("p"), t.join("t"));
    let long = format!("{}/{}", s(t.path()), "d/".repeat(2100));
    let r = run_ep(
        t.path(),
        ["--wait", &long, "--post-file", &s(&p), "--termination-path", &s(&tm), "--", "echo", "ran"],
    );
    assert_ran(&r, 125, "", &format!("entrypoint: cannot wait for '{long}': Filename too long\n"));
    assert_marker(&p, 125);
    // The line is longer than the message can hold: its Message is cut.
    let m = read_opt(&tm).expect("termination message");
    assert!(m.contains(r#"{"key":"Reason","value":"Error","type":3}"#), "no Reason Error");
}

#[test]
fn a_path_list_that_cannot_be_allocated_is_125_with_p_err_even_when_p_comes_later() {
    if emulated() {
        // An address-space limit applies to qemu-user itself, not the program.
        return emulator_limit(
            "a_path_list_that_cannot_be_allocated_is_125_with_p_err_even_when_p_comes_later",
            "an address-space limit that the wrapper starts in but its path list does not fit",
        );
    }
    harness::need("prlimit", "util-linux");
    let t = TempDir::new("ep-nomem");
    let (dep, p, tm) = (t.join("dep"), t.join("p"), t.join("t"));
    // The smallest address space the wrapper starts in (below it, exec
    // itself fails) is too small for the mapping of its --wait list; the
    // post file and the termination path come after --wait on the line.
    let line = format!("cannot wait for '{}': Out of memory", s(&dep));
    let line = line.as_str();
    let mut seen = None;
    for kib in (64..=512).step_by(16) {
        let _ = fs::remove_file(with_suffix(&p, ".err"));
        let mut argv = vec![format!("--as={}", kib * 1024)];
        argv.extend(tool_argv("entrypoint"));
        argv.extend(
            ["--wait", &s(&dep), "--post-file", &s(&p), "--termination-path", &s(&tm), "--", "true"]
                .map(String::from),
        );
        let r = finish(spawn(Command::new("prlimit").args(&argv).current_dir(t.path())), LIMIT, "entrypoint");
        if r.stderr.starts_with("entrypoint: ") {
            seen = Some(r);
            break;
        }
    }
    let r = seen.expect("no address-space limit from 64 to 512 KiB let the wrapper start");
    assert_ran(&r, 125, "", &format!("entrypoint: {line}\n"));
    assert_marker(&p, 125);
    assert_unstarted_message(&tm, 125, "Error", Some(line));
}

/// The real uid of process `pid`.
fn uid_of(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// The live tasks (threads included; not zombies) whose real uid is `uid`:
/// what RLIMIT_NPROC counts.
fn tasks_of(uid: u32) -> usize {
    let mut n = 0;
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if uid_of(pid) == Some(uid) && !matches!(proc_stat(pid), Some(('Z', _))) {
            n += fs::read_dir(format!("/proc/{pid}/task")).map_or(1, |d| d.count());
        }
    }
    n
}

/// A pseudo-terminal pair: the master, and the path of the slave.
fn open_pty() -> (fs::File, PathBuf) {
    use std::os::unix::io::FromRawFd;
    // SAFETY: posix_openpt returns a new descriptor or -1; grantpt, unlockpt
    // and ptsname_r take that descriptor and a buffer of the given length.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::grantpt(m), 0, "grantpt");
        assert_eq!(libc::unlockpt(m), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0, "ptsname_r");
        let name = std::ffi::CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
        (fs::File::from_raw_fd(m), PathBuf::from(name))
    }
}

/// Reads from the pty master until `want` has been seen (or fails).
fn read_until(master: &mut fs::File, seen: &mut String, want: &str) {
    use std::io::Read;
    use std::os::unix::io::AsRawFd;
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(LIMIT);
    while !seen.contains(want) {
        assert!(std::time::Instant::now() < end, "never saw {want:?} on the terminal; saw {seen:?}");
        let mut pfd = libc::pollfd { fd: master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 512];
        match master.read(&mut buf) {
            Ok(0) | Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

#[test]
fn a_command_on_a_terminal_can_read_it_and_the_terminal_is_given_back() {
    // `kubectl run -it`, `podman run -it`: stdin is a terminal whose foreground
    // group is the wrapper's. The command (in a group of its own) must be given
    // the terminal, or its first read stops it (SIGTTIN); on exit the wrapper
    // takes it back, so that the shell that started it can read again.
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    let (mut master, slave) = open_pty();
    let t = TempDir::new("ep-tty");
    let tty = || fs::OpenOptions::new().read(true).write(true).open(&slave).expect("open the pty slave");
    let ep_words: Vec<String> = tool_argv("entrypoint").iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "{} --post-file {} -- sh -c 'read x; echo got:$x'; read y; echo back:$y",
        ep_words.join(" "),
        s(&t.join("p"))
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).stdin(tty()).stdout(tty()).stderr(tty()).current_dir(t.path());
    // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe; they make the
    // shell a session leader with the pty as its controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut c = cmd.spawn().expect("spawn the shell on the pty");
    let _cleanup = Cleanup(vec![-(c.id() as i32)]);
    let _ = master.as_raw_fd();
    let mut seen = String::new();
    master.write_all(b"hello\n").expect("type");
    read_until(&mut master, &mut seen, "got:hello");
    master.write_all(b"world\n").expect("type");
    read_until(&mut master, &mut seen, "back:world");
    assert!(eventually(LIMIT, || !running(&mut c)), "the shell did not end");
    assert_eq!(c.wait().expect("wait").code(), Some(0));
    assert_marker(&t.join("p"), 0);
}

#[test]
fn a_non_root_step_writes_the_message_into_a_file_in_a_directory_it_cannot_write() {
    // The kubelet's default /dev/termination-log: a 0666 file in root's /dev.
    if !is_root() {
        return skip(
            "a_non_root_step_writes_the_message_into_a_file_in_a_directory_it_cannot_write",
            "needs root to make a directory another uid cannot write",
        );
    }
    let t = TempDir::new("ep-devlog");
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let dev = t.join("dev");
    fs::create_dir(&dev).expect("mkdir");
    fs::set_permissions(&dev, fs::Permissions::from_mode(0o755)).expect("chmod");
    let tm = dev.join("termination-log");
    fs::write(&tm, "").expect("the log file");
    fs::set_permissions(&tm, fs::Permissions::from_mode(0o666)).expect("chmod");
    let p = t.join("p");
    let mut argv = tool_argv("entrypoint");
    argv.extend(["--post-file".into(), s(&p), "--termination-path".into(), s(&tm), "--".into()]);
    argv.extend(["sh".into(), "-c".into(), "exit 3".into()]);
    let r = finish(spawn(as_uid(65532, &argv).current_dir(t.path())), LIMIT, "a non-root step");
    assert_ran(&r, 3, "", "");
    assert_marker(&p, 3);
    assert_message(&tm, 3, "Error", None);
    assert_eq!(names(&dev), set(&["termination-log"]), "no temporary file is left");
    // A longer old content is cut to the new message.
    fs::write(&tm, "x".repeat(5000)).expect("refill");
    let r = finish(spawn(as_uid(65532, &argv).current_dir(t.path())), LIMIT, "again");
    assert_ran(&r, 3, "", "");
    assert_message(&tm, 3, "Error", None);
}

#[test]
fn tekton_timeout_fails_the_step_even_with_on_error_continue() {
    let t = TempDir::new("ep-to-cont");
    let (p, tm) = (t.join("p"), t.join("t"));
    let args = [
        "-on_error=continue",
        &format!("-post_file={}", s(&p)),
        &format!("-termination_path={}", s(&tm)),
        "-timeout=300ms",
        "-entrypoint=sleep",
        "--",
        "60",
    ];
    let r = run_ep(t.path(), args);
    assert_ran(&r, 124, "", "entrypoint: timed out: stopped 'sleep'\n");
    assert_marker(&p, 124);
    assert_message(&tm, 124, "TimeoutExceeded", Some("timed out: stopped 'sleep'"));
}

#[test]
fn tekton_flags_that_are_not_implemented_are_refused_by_name() {
    let t = TempDir::new("ep-unsup");
    let flags = [
        "-breakpoint_on_failure",
        "-debug_before_step",
        "-debug_before_step=true",
        "-enable_spire",
        "-compress_termination_message=true",
        "-when_expressions=[]",
        "-result_from=sidecar-logs",
        "-spire_socket_path=unix:///x",
        "-basic-docker=a=https://r",
        "-docker-config=a",
        "-docker-cfg=a",
        "-basic-git=a=https://g",
        "-ssh-git=a=g",
    ];
    for (i, flag) in flags.iter().enumerate() {
        let p = t.join(&i.to_string());
        let r = run_ep(t.path(), [&format!("-post_file={}", s(&p)), *flag, "-entrypoint=true", "--"]);
        assert_ran(&r, 125, "", &usage_line(&format!("unsupported Tekton option '{flag}'")));
        assert_marker(&p, 125);
    }
    // A switch set to false asks for nothing.
    let p = t.join("off");
    let args = [&format!("-post_file={}", s(&p)), "-breakpoint_on_failure=false", "-entrypoint=true", "--"];
    assert_ran(&run_ep(t.path(), args), 0, "", "");
    assert_marker(&p, 0);
}

#[test]
fn entries_already_in_the_termination_file_are_kept_and_ours_replace_theirs() {
    let t = TempDir::new("ep-merge");
    let (p, tm) = (t.join("p"), t.join("t"));
    let old = r#"[{"key":"digest","value":"sha256:abc","type":1},{"key":"Reason","value":"Old","type":3}]"#;
    fs::write(&tm, old).expect("old message");
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "true"]);
    assert_ran(&r, 0, "", "");
    let text = fs::read_to_string(&tm).expect("message");
    let json::Value::Arr(items) = json::parse(&text).expect("JSON") else { panic!("not an array: {text}") };
    let keys: Vec<String> = items
        .iter()
        .map(|i| match i {
            json::Value::Obj(m) => match &m[0] {
                (k, json::Value::Str(v)) if k == "key" => v.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys, ["digest", "StartedAt", "ExitCode", "Reason"], "{text}");
    assert!(text.starts_with(r#"[{"key":"digest","value":"sha256:abc","type":1},"#), "{text}");
    assert!(text.ends_with(r#"{"key":"Reason","value":"Completed","type":3}]"#), "{text}");
    // Something that is not Tekton's JSON is replaced.
    fs::write(&tm, "garbage").expect("garbage");
    let r = run_ep(t.path(), ["--post-file", &s(&p), "--termination-path", &s(&tm), "--", "true"]);
    assert_ran(&r, 0, "", "");
    assert_message(&tm, 0, "Completed", None);
}

#[test]
fn after_the_grace_the_whole_group_is_killed_even_when_the_command_exited() {
    // --timeout: TERM to the group; the command itself exits on it, but a
    // process it started ignores TERM. After the grace it gets KILL too.
    let t = TempDir::new("ep-grpkill");
    let (p, bg) = (t.join("p"), t.join("bg"));
    let script = "sh -c 'trap \"\" TERM; echo $$ > bg; while :; do sleep 0.05; done' & \
                  while [ ! -s bg ]; do sleep 0.02; done; echo > ready; while :; do sleep 0.05; done";
    let c = spawn(&mut ep(
        t.path(),
        ["--timeout", "1s", "--grace", "500ms", "--post-file", &s(&p), "--", "sh", "-c", script],
    ));
    let pid = read_pid(&bg);
    let _cleanup = Cleanup(vec![pid as i32]);
    let r = finish(c, LIMIT, "timed-out group");
    assert_ran(&r, 124, "", "entrypoint: timed out: stopped 'sh'\n");
    assert_marker(&p, 124);
    let gone = eventually(LIMIT, || matches!(proc_stat(pid), None | Some(('Z', _))));
    assert!(gone, "a process of the group survived the step: {:?}", proc_stat(pid));
}

#[test]
fn entrypoint_cp_and_copier_say_the_same_of_a_directory() {
    let t = TempDir::new("ep-cpdir");
    let dir = t.join("d");
    fs::create_dir(&dir).expect("mkdir");
    let r = run_ep(t.path(), ["cp", &s(&dir), &s(&t.join("x"))]);
    assert_ran(&r, 125, "", &format!("entrypoint: cannot copy '{}': is a directory\n", s(&dir)));
    let r = harness::run_tool("copier", [&dir, &t.join("x")]);
    assert_eq!(r.stderr, format!("copier: cannot copy '{}': is a directory (use -r)\n", s(&dir)));
}

#[test]
fn help_is_answered_the_same_way_by_all_three_tools() {
    for name in ["copier", "waitfor", "entrypoint"] {
        for spelling in ["--help", "-help", "-h"] {
            let r = harness::run_tool(name, [spelling]);
            assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{name} {spelling}: {r:?}");
            assert!(r.stdout.starts_with(&format!("Usage: {name}")), "{name} {spelling}: {r:?}");
        }
        let r = harness::run_tool(name, ["--version"]);
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, &*format!("{name} 0.1.0\n"), ""));
    }
}

// ---------------------------------------------------------------- the lock's dot name

/// A user's glob over a step's directory (`cat DIR/out*`, `cat DIR/*`, as a
/// finally step may run) never opens the lock of a live wrapper, a named pipe
/// that a reader would block on until the wrapper ends: the lock of
/// `DIR/out` is `DIR/.out.lock` (docs/protocol.md).
#[test]
fn a_glob_over_the_step_directory_does_not_block_on_a_live_wrappers_lock() {
    let t = TempDir::new("ep-glob");
    let d = t.join("steps/a");
    let (out, log) = (d.join("out"), d.join("out.log"));
    let script = "echo hi > \"$0\"; exec sleep 60";
    let step = spawn(&mut ep(t.path(), ["--post-file", &s(&out), "--", "sh", "-c", script, &s(&log)]));
    let lock = harness::lock_of(&out);
    let started = || harness::lock_held(&lock) && fs::read_to_string(&log).is_ok_and(|l| l == "hi\n");
    assert!(eventually(LIMIT, started), "the step never started");
    assert!(harness::is_fifo(&lock), "{} is not the liveness pipe", s(&lock));
    for glob in ["out*", "*"] {
        let cat = spawn(Command::new("sh").args(["-c", &format!("cat {}/{glob}", s(&d))]));
        assert_ran(&finish(cat, LIMIT, "cat"), 0, "hi\n", "");
    }
    send(step.id(), libc::SIGTERM);
    assert_ran(&finish(step, LIMIT, "entrypoint"), 143, "", "");
}
