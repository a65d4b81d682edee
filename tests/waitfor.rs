//! Black-box tests of `waitfor` (docs/protocol.md and the tools' pages in docs/): they run the
//! release binary (`BIN_DIR`, through `RUNNER` if set) and pin exit statuses
//! and exact diagnostics.
//!
//! Timing: no test asserts speed. A process is known to be waiting when its
//! main thread sleeps in `poll` (`/proc/PID/wchan`): only then do tests create
//! markers, so that "it had not exited before" is meaningful. Tests that pass
//! `--interval 1h` check that an inotify event (not the safety re-check) woke
//! the waiter: without the event it would sleep for an hour, and the test fails
//! after the generous `LIMIT` instead.

use harness::{
    children, eventually, is_root, lock_held, no_inotify_line, run, runner, status_code, tool, tool_argv,
    Ran, TempDir,
};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 20.0;

// ---------------------------------------------------------------- helpers

/// Starts waitfor with `args`, stdin closed, stdout and stderr captured.
fn spawn<I, S>(args: I) -> Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    spawn_cmd(tool("waitfor").args(args))
}

fn spawn_cmd(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

/// True while the child has not exited.
fn running(child: &mut Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

/// Runs waitfor with `args` to completion, failing the test (instead of
/// hanging) when it is still running after `LIMIT`.
fn wf<I, S>(args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    finish(spawn(args), LIMIT, "waitfor")
}

/// `wf` for a prepared command (a cwd, say).
fn wf_cmd(cmd: &mut Command) -> Ran {
    finish(spawn_cmd(cmd), LIMIT, "waitfor")
}

/// Waits up to `secs` for the child to exit and collects its output; kills it
/// and fails the test when it does not.
fn finish(mut child: Child, secs: f64, what: &str) -> Ran {
    if !eventually(secs, || !running(&mut child)) {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!("{what}: still running after {secs} s; stderr: {:?}", String::from_utf8_lossy(&out.stderr));
    }
    child.wait_with_output().expect("wait_with_output").into()
}

/// The kernel function the main thread of `pid` sleeps in ("" if gone).
fn wchan(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// Blocks until `pid` sleeps in `poll`: it has armed its watches, looked at
/// every path, and processed every event so far. Setup, not a timing check.
fn wait_until_polling(pid: u32) {
    let ok = eventually(LIMIT, || wchan(pid).contains("poll"));
    assert!(ok, "pid {pid} never went to sleep in poll (wchan {:?})", wchan(pid));
}

/// Starts a waiter and returns it once it is waiting; it must not have exited.
fn start_waiting<I, S>(args: I) -> Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = spawn(args);
    wait_until_polling(c.id());
    assert!(running(&mut c), "waitfor exited before anything was created");
    c
}

/// Writes `content` to `path` atomically (temporary file, then rename), as a
/// step writes its marker.
fn put(path: &Path, content: &str) {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().expect("file name").to_string_lossy()));
    fs::write(&tmp, content).expect("write temp");
    fs::rename(&tmp, path).expect("rename");
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn assert_ran(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

fn usage_line(msg: &str) -> String {
    format!("waitfor: {msg} (try 'waitfor --help')\n")
}

/// A small xorshift generator: the tests depend on `libc` only.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let seed = (t ^ (u64::from(std::process::id()) << 32)) | 1;
        eprintln!("random seed {seed:#x}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn send(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid this test started and a valid signal number.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Opens (creating) `path` and takes an exclusive flock on it.
fn hold_lock(path: &Path) -> File {
    let f = OpenOptions::new().create(true).truncate(false).write(true).open(path).expect("open lock");
    // SAFETY: flock(2) on a descriptor this File owns.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock");
    f
}

/// `voluntary_ctxt_switches + nonvoluntary_ctxt_switches` of `pid`.
fn context_switches(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

// ---------------------------------------------------------------- waiting

#[test]
fn existing_path_exits_0_silently() {
    let t = TempDir::new("wf-exists");
    let p = t.join("P");
    fs::write(&p, "0\n").unwrap();
    assert_ran(&wf([&p]), 0, "", "");
    // An empty marker counts too (Tekton writes empty ones), and so does a directory.
    let e = t.join("empty");
    fs::write(&e, "").unwrap();
    assert_ran(&wf([&e, &t.path().to_path_buf()]), 0, "", "");
}

#[test]
fn path_created_later_wakes_the_waiter() {
    let t = TempDir::new("wf-later");
    let p = t.join("P");
    let c = start_waiting([&p]);
    let p2 = p.clone();
    thread::spawn(move || put(&p2, "0\n")).join().unwrap();
    assert_ran(&finish(c, LIMIT, "waiting for a marker"), 0, "", "");
}

#[test]
fn plain_create_and_rename_both_wake_on_events() {
    let t = TempDir::new("wf-events");
    // A file created in place (IN_CREATE / IN_CLOSE_WRITE).
    let p = t.join("created");
    let c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    fs::write(&p, "").unwrap();
    assert_ran(&finish(c, LIMIT, "plain create, --interval 1h"), 0, "", "");
    // A file renamed into place (IN_MOVED_TO).
    let p = t.join("renamed");
    let c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    put(&p, "0\n");
    assert_ran(&finish(c, LIMIT, "rename, --interval 1h"), 0, "", "");
}

#[test]
fn directories_that_do_not_exist_yet() {
    let t = TempDir::new("wf-mkdirp");
    let p = t.join("a/b/c/P");
    // --interval 1h: only events on the ancestors can bring it down to the file.
    let c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    let p2 = p.clone();
    thread::spawn(move || {
        fs::create_dir_all(p2.parent().unwrap()).unwrap();
        put(&p2, "0\n");
    })
    .join()
    .unwrap();
    assert_ran(&finish(c, LIMIT, "marker under new directories"), 0, "", "");
}

#[test]
fn directories_created_one_at_a_time() {
    let t = TempDir::new("wf-mkdir-slow");
    let p = t.join("a/b/c/P");
    let mut c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    for d in ["a", "a/b", "a/b/c"] {
        fs::create_dir(t.join(d)).unwrap();
        wait_until_polling(c.id());
        assert!(running(&mut c), "exited after creating {d} only");
    }
    put(&p, "0\n");
    assert_ran(&finish(c, LIMIT, "marker after directories one by one"), 0, "", "");
}

#[test]
fn directory_deleted_and_recreated_before_the_file() {
    let t = TempDir::new("wf-recreate");
    let d = t.join("steps");
    fs::create_dir(&d).unwrap();
    let p = d.join("P");
    let mut c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    fs::remove_dir(&d).unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c), "exited when the directory was removed");
    fs::create_dir(&d).unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c), "exited when the directory was re-created");
    put(&p, "0\n");
    assert_ran(&finish(c, LIMIT, "marker in a re-created directory"), 0, "", "");
}

#[test]
fn directory_replaced_by_rename() {
    let t = TempDir::new("wf-dir-rename");
    let d = t.join("steps");
    fs::create_dir(&d).unwrap();
    let p = d.join("P");
    let mut c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    fs::rename(&d, t.join("old")).unwrap();
    let new = t.join("new");
    fs::create_dir(&new).unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c));
    fs::rename(&new, &d).unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c));
    put(&p, "0\n");
    assert_ran(&finish(c, LIMIT, "marker in a directory renamed into place"), 0, "", "");
}

#[test]
fn relative_path_under_the_cwd() {
    let t = TempDir::new("wf-relative");
    let mut c = spawn_cmd(tool("waitfor").current_dir(t.path()).args(["--interval", "1h", "steps/P"]));
    wait_until_polling(c.id());
    assert!(running(&mut c));
    fs::create_dir(t.join("steps")).unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c));
    put(&t.join("steps/P"), "0\n");
    assert_ran(&finish(c, LIMIT, "relative path"), 0, "", "");
    // A bare name in the cwd.
    let mut c = spawn_cmd(tool("waitfor").current_dir(t.path()).args(["--interval", "1h", "Q"]));
    wait_until_polling(c.id());
    assert!(running(&mut c));
    put(&t.join("Q"), "0\n");
    assert_ran(&finish(c, LIMIT, "bare relative name"), 0, "", "");
}

#[test]
fn thousand_paths_in_random_order_all_of() {
    let t = TempDir::new("wf-thousand");
    let d = t.join("steps");
    fs::create_dir(&d).unwrap();
    let paths: Vec<PathBuf> = (0..1000).map(|i| d.join(format!("step-{i:04}"))).collect();
    let mut c = start_waiting(&paths);
    let mut order = paths.clone();
    let mut rng = Rng::seeded();
    rng.shuffle(&mut order);
    let last = order.pop().unwrap();
    let creator = thread::spawn(move || {
        let mut rng = Rng(rng.next() | 1);
        for p in &order {
            if rng.below(4) == 0 {
                put(p, "0\n");
            } else {
                fs::write(p, "").unwrap();
            }
            if rng.below(50) == 0 {
                thread::sleep(Duration::from_millis(2));
            }
        }
    });
    creator.join().unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c), "exited with 999 of 1000 paths present (missing {})", last.display());
    put(&last, "0\n");
    assert_ran(&finish(c, LIMIT, "1000 paths"), 0, "", "");
}

#[test]
fn any_one_path_is_enough() {
    let t = TempDir::new("wf-any");
    let (a, b) = (t.join("A"), t.join("B"));
    let c = start_waiting([OsString::from("--any"), a.clone().into(), b.clone().into()]);
    put(&b, "0\n");
    assert_ran(&finish(c, LIMIT, "--any"), 0, "", "");
    assert!(!a.exists());
    // Without --any the same wait needs both.
    let mut c = start_waiting([&a, &b]);
    assert!(running(&mut c));
    put(&a, "0\n");
    assert_ran(&finish(c, LIMIT, "all of A B"), 0, "", "");
}

#[test]
fn nonempty_waits_for_content() {
    let t = TempDir::new("wf-nonempty");
    let p = t.join("ready");
    fs::write(&p, "").unwrap();
    let mut c =
        start_waiting([OsString::from("--nonempty"), "--interval".into(), "1h".into(), p.clone().into()]);
    // Touching the empty file again is not content.
    OpenOptions::new().append(true).open(&p).unwrap();
    wait_until_polling(c.id());
    assert!(running(&mut c), "--nonempty exited while the file was empty");
    let mut f = OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(b"true").unwrap();
    f.flush().unwrap();
    assert_ran(&finish(c, LIMIT, "--nonempty after an append"), 0, "", "");
    drop(f);
    // A file with content already there.
    assert_ran(&wf([OsString::from("--nonempty"), p.into()]), 0, "", "");
    // A directory is not a file with content.
    let r = wf([OsString::from("--nonempty"), "--timeout".into(), "200ms".into(), t.path().into()]);
    assert_ran(&r, 124, "", &format!("waitfor: timed out waiting for '{}'\n", s(t.path())));
}

// ---------------------------------------------------------------- failed steps

#[test]
fn err_marker_fails_without_running_the_command() {
    let t = TempDir::new("wf-err");
    let p = t.join("P");
    fs::write(t.join("P.err"), "1\n").unwrap();
    let ran = t.join("ran");
    let r = wf_cmd(tool("waitfor").args([&s(&p), "--", "touch", &s(&ran)]));
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' failed\n", s(&p)));
    assert!(!ran.exists(), "COMMAND ran after a failed dependency");
    // The path as given, relative.
    fs::create_dir(t.join("steps")).unwrap();
    fs::write(t.join("steps/one.err"), "").unwrap();
    let r = wf_cmd(tool("waitfor").current_dir(t.path()).arg("./steps/one"));
    assert_ran(&r, 1, "", "waitfor: step './steps/one' failed\n");
}

#[test]
fn err_marker_appearing_later_fails() {
    let t = TempDir::new("wf-err-later");
    let p = t.join("P");
    let c = start_waiting([OsString::from("--interval"), "1h".into(), p.clone().into()]);
    put(&t.join("P.err"), "137\n");
    assert_ran(&finish(c, LIMIT, "P.err later"), 1, "", &format!("waitfor: step '{}' failed\n", s(&p)));
}

#[test]
fn err_marker_with_always_runs_the_command() {
    let t = TempDir::new("wf-always");
    let p = t.join("P");
    fs::write(t.join("P.err"), "1\n").unwrap();
    let r = wf_cmd(tool("waitfor").args(["--always", &s(&p), "--", "sh", "-c", "echo cleanup"]));
    assert_ran(&r, 0, "cleanup\n", "");
    assert_ran(&wf(["--always", &s(&p)]), 0, "", "");
}

#[test]
fn both_markers_the_success_wins() {
    let t = TempDir::new("wf-both");
    let p = t.join("P");
    fs::write(&p, "0\n").unwrap();
    fs::write(t.join("P.err"), "1\n").unwrap();
    assert_ran(&wf([&p]), 0, "", "");
    let r = wf_cmd(tool("waitfor").args([&s(&p), "--", "echo", "ran"]));
    assert_ran(&r, 0, "ran\n", "");
}

#[test]
fn all_of_fails_fast_on_one_failed_dependency() {
    let t = TempDir::new("wf-failfast");
    let (a, b) = (t.join("A"), t.join("B"));
    fs::write(t.join("B.err"), "1\n").unwrap();
    // A is still pending: failing B is enough to give up.
    let r = wf([&a, &b]);
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' failed\n", s(&b)));
}

#[test]
fn any_fails_only_when_every_path_failed() {
    let t = TempDir::new("wf-any-fail");
    let (a, b) = (t.join("A"), t.join("B"));
    fs::write(t.join("A.err"), "1\n").unwrap();
    // A failed, B pending: keep waiting.
    let c = start_waiting([OsString::from("--any"), a.clone().into(), b.clone().into()]);
    put(&b, "0\n");
    assert_ran(&finish(c, LIMIT, "--any with one failed"), 0, "", "");
    // Every path failed.
    fs::remove_file(&b).unwrap();
    fs::write(t.join("B.err"), "1\n").unwrap();
    let r = wf([OsString::from("--any"), a.clone().into(), b.clone().into()]);
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' failed\n", s(&a)));
    // ... and with --always that counts as done.
    let r = wf([OsString::from("--any"), "--always".into(), a.into(), b.into()]);
    assert_ran(&r, 0, "", "");
}

#[test]
fn any_fails_when_the_last_pending_path_fails_later() {
    let t = TempDir::new("wf-any-fail-later");
    let (a, b) = (t.join("A"), t.join("B"));
    fs::write(t.join("A.err"), "1\n").unwrap();
    let c = start_waiting([
        OsString::from("--any"),
        "--interval".into(),
        "1h".into(),
        a.clone().into(),
        b.clone().into(),
    ]);
    put(&t.join("B.err"), "1\n");
    assert_ran(
        &finish(c, LIMIT, "--any, last one fails"),
        1,
        "",
        &format!("waitfor: step '{}' failed\n", s(&a)),
    );
}

// ---------------------------------------------------------------- died steps (.P.lock)

#[test]
fn unlocked_lock_without_result_is_a_dead_step() {
    let t = TempDir::new("wf-died");
    let p = t.join("P");
    fs::write(t.join(".P.lock"), "").unwrap();
    let r = wf_cmd(tool("waitfor").args([&s(&p), "--", "echo", "ran"]));
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' died without a result\n", s(&p)));
    // --always: counts as done.
    let r = wf_cmd(tool("waitfor").args(["--always", &s(&p), "--", "echo", "ran"]));
    assert_ran(&r, 0, "ran\n", "");
    // A result beside the stale lock decides.
    fs::write(t.join("P.err"), "1\n").unwrap();
    assert_ran(&wf([&p]), 1, "", &format!("waitfor: step '{}' failed\n", s(&p)));
    fs::write(&p, "0\n").unwrap();
    assert_ran(&wf([&p]), 0, "", "");
}

#[test]
fn lock_that_is_not_a_regular_file_is_not_a_death() {
    let t = TempDir::new("wf-lockdir");
    let p = t.join("P");
    fs::create_dir(t.join(".P.lock")).unwrap();
    let r = wf_cmd(tool("waitfor").args(["--timeout", "300ms", &s(&p)]));
    assert_ran(&r, 124, "", &format!("waitfor: timed out waiting for '{}'\n", s(&p)));
}

#[test]
fn held_lock_keeps_waiting_until_the_result() {
    let t = TempDir::new("wf-held");
    let p = t.join("P");
    let lock = hold_lock(&t.join(".P.lock"));
    let mut c = start_waiting([OsString::from("--interval"), "100ms".into(), p.clone().into()]);
    // Several safety re-checks pass while the lock is held.
    thread::sleep(Duration::from_millis(500));
    assert!(running(&mut c), "exited while the step held its lock");
    put(&p, "0\n");
    drop(lock);
    assert_ran(&finish(c, LIMIT, "held lock, then P"), 0, "", "");
}

#[test]
fn lock_released_without_result_is_a_dead_step() {
    let t = TempDir::new("wf-release");
    let p = t.join("P");
    let lock = hold_lock(&t.join(".P.lock"));
    let mut c = start_waiting([&p]);
    assert!(running(&mut c));
    drop(lock);
    let r = finish(c, 5.0, "lock released without a result (5 s limit)");
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' died without a result\n", s(&p)));
}

#[test]
fn lock_holder_killed_is_a_dead_step() {
    harness::need("flock", "util-linux");
    let help = Command::new("flock").arg("--help").output();
    assert!(
        help.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--no-fork")),
        "flock(1) has no --no-fork: util-linux 2.38 or later is needed"
    );
    let t = TempDir::new("wf-holder");
    let p = t.join("P");
    let lock = t.join(".P.lock");
    // The holder: flock(1) takes the lock, then becomes `cat` (no fork), so
    // killing this one process is the step's death.
    let mut holder = Command::new("flock")
        .args(["--no-fork", "-x", &s(&lock), "cat"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("flock");
    assert!(eventually(LIMIT, || lock_held(&lock)), "flock(1) never took the lock");
    let mut c = start_waiting([&p]);
    assert!(running(&mut c));
    send(holder.id(), libc::SIGKILL);
    holder.wait().unwrap();
    let r = finish(c, 5.0, "lock holder killed (5 s limit)");
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' died without a result\n", s(&p)));
}

#[test]
fn lock_holder_exits_normally_without_result() {
    harness::need("flock", "util-linux");
    let t = TempDir::new("wf-holder-exit");
    let p = t.join("P");
    let lock = t.join(".P.lock");
    // `flock .P.lock cat`: forks cat, which shares the lock until it ends.
    let mut holder =
        Command::new("flock").args([&s(&lock), "cat"]).stdin(Stdio::piped()).spawn().expect("flock");
    assert!(eventually(LIMIT, || lock_held(&lock)), "flock(1) never took the lock");
    let mut c = start_waiting([&p]);
    thread::sleep(Duration::from_millis(300));
    assert!(running(&mut c), "exited while the lock was held");
    drop(holder.stdin.take());
    holder.wait().unwrap();
    let r = finish(c, 5.0, "holder exited (5 s limit)");
    assert_ran(&r, 1, "", &format!("waitfor: step '{}' died without a result\n", s(&p)));
}

// ---------------------------------------------------------------- timeout, durations, usage

#[test]
fn timeout_exits_124_naming_a_pending_path() {
    let t = TempDir::new("wf-timeout");
    let (a, b) = (t.join("A"), t.join("B"));
    fs::write(&a, "0\n").unwrap();
    let start = Instant::now();
    let r = wf_cmd(tool("waitfor").args(["--timeout", "300ms", &s(&a), &s(&b)]));
    let took = start.elapsed();
    assert_ran(&r, 124, "", &format!("waitfor: timed out waiting for '{}'\n", s(&b)));
    assert!(took >= Duration::from_millis(300), "gave up before the timeout: {took:?}");
    // A timeout of 0 disables it, as with timeout(1): wait forever.
    assert_ran(&wf([OsString::from("--timeout"), "0".into(), a.into()]), 0, "", "");
    for zero in ["--timeout=0", "--timeout=0s"] {
        let mut c =
            start_waiting([OsString::from(zero), "--interval".into(), "100ms".into(), b.clone().into()]);
        thread::sleep(Duration::from_millis(300));
        assert!(running(&mut c), "{zero} gave up");
        put(&b, "0\n");
        assert_ran(&finish(c, LIMIT, zero), 0, "", "");
        fs::remove_file(&b).unwrap();
    }
}

#[test]
fn every_duration_form_is_accepted() {
    let t = TempDir::new("wf-durations");
    let p = s(&t.join("P"));
    fs::write(&p, "").unwrap();
    for d in ["2", "0.5", "250ms", "1.5s", "1m30s", "1h", "100us", "2h45m", ".5s", "7ns"] {
        for args in [
            vec!["--timeout".to_string(), d.to_string(), p.clone()],
            vec![format!("--timeout={d}"), p.clone()],
            vec!["--interval".to_string(), d.to_string(), p.clone()],
            vec![format!("--interval={d}"), "--timeout".to_string(), d.to_string(), p.clone()],
        ] {
            let r = wf(&args);
            assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{args:?}: {r:?}");
        }
    }
}

#[test]
fn bad_durations_are_usage_errors() {
    let t = TempDir::new("wf-baddur");
    let p = s(&t.join("P"));
    fs::write(&p, "").unwrap();
    for d in ["5x", "-1", "", "1m30", "abc", "1.2.3", "5d", "99999999999999h"] {
        for opt in ["--timeout", "--interval"] {
            let want = usage_line(&format!("invalid duration '{d}'"));
            assert_ran(&wf([opt, d, &p]), 125, "", &want);
            assert_ran(&wf([&format!("{opt}={d}"), &p]), 125, "", &want);
        }
    }
}

#[test]
fn zero_interval_is_a_usage_error() {
    let t = TempDir::new("wf-interval0");
    let p = s(&t.join("P"));
    fs::write(&p, "").unwrap();
    let want = usage_line("--interval must be more than 0");
    for d in ["0", "0s", "0ms", "0.0"] {
        assert_ran(&wf(["--interval", d, &p]), 125, "", &want);
        assert_ran(&wf([&format!("--interval={d}"), &p]), 125, "", &want);
    }
}

#[test]
fn usage_errors() {
    let missing = usage_line("missing PATH");
    assert_ran(&wf([""; 0]), 125, "", &missing);
    assert_ran(&wf(["--any", "--timeout", "1s"]), 125, "", &missing);
    assert_ran(&wf(["--"]), 125, "", &missing);
    assert_ran(&wf(["--", "--", "true"]), 125, "", &missing);
    assert_ran(&wf(["--bogus", "/"]), 125, "", &usage_line("unknown option '--bogus'"));
    assert_ran(&wf(["-x", "/"]), 125, "", &usage_line("unknown option '-x'"));
    // An option without its value.
    for opt in ["--timeout", "--interval"] {
        let want = usage_line(&format!("option '{opt}' needs a value"));
        assert_ran(&wf([opt]), 125, "", &want);
    }
}

/// A path that cannot be waited for is the tool's failure (125), one line
/// that names it, never a wait without it: a path left out of the list would
/// let COMMAND run before it is there. The kernel takes no path of 4096
/// bytes or more, so such a path can never appear.
#[test]
fn path_that_cannot_be_waited_for_fails_without_running_the_command() {
    let t = TempDir::new("wf-toolong");
    let long = format!("{}/{}", s(t.path()), "d/".repeat(2100));
    let done = t.join("done");
    put(&done, "0\n");
    for list in [vec![s(&done), long.clone()], vec![long.clone(), s(&done)]] {
        let mut argv = list;
        argv.extend(["--", "echo", "ran"].map(String::from));
        let want = format!("waitfor: cannot wait for '{long}': Filename too long\n");
        assert_ran(&wf(&argv), 125, "", &want);
    }
    // One byte shorter than the kernel's limit: waited for, as any path.
    let longest = format!("/{}", "x".repeat(4094));
    assert_ran(
        &wf(["--timeout", "100ms", &longest]),
        124,
        "",
        &format!("waitfor: timed out waiting for '{longest}'\n"),
    );
}

#[test]
fn help_and_version() {
    let r = wf(["--help"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert!(r.stdout.starts_with("Usage: waitfor "), "{r:?}");
    for word in ["--timeout", "--interval", "--nonempty", "--any", "--always", "124"] {
        assert!(r.stdout.contains(word), "--help does not mention {word}");
    }
    assert_ran(&wf(["--version"]), 0, "waitfor 0.1.0\n", "");
}

// ---------------------------------------------------------------- exec

#[test]
fn command_replaces_the_process() {
    let t = TempDir::new("wf-exec");
    let p = s(&t.join("P"));
    fs::write(&p, "0\n").unwrap();
    let c = spawn([&p, "--", "sh", "-c", "echo $$"]);
    let pid = c.id();
    let r = finish(c, LIMIT, "exec");
    assert_ran(&r, 0, &format!("{pid}\n"), "");
}

#[test]
fn command_status_passes_through() {
    let t = TempDir::new("wf-status");
    let p = s(&t.join("P"));
    fs::write(&p, "0\n").unwrap();
    assert_ran(&wf([&p, "--", "sh", "-c", "exit 7"]), 7, "", "");
    assert_ran(&wf([&p, "--", "sh", "-c", "echo oops >&2; exit 255"]), 255, "", "oops\n");
    // Killed by a signal: the waitfor process itself dies of it.
    let r = wf([&p, "--", "sh", "-c", "kill -KILL $$"]);
    assert_ran(&r, 137, "", "");
    // No COMMAND after `--`: exit 0.
    assert_ran(&wf([&p, "--"]), 0, "", "");
}

#[test]
fn command_arguments_are_passed_untouched() {
    let t = TempDir::new("wf-argv");
    let p = s(&t.join("P"));
    fs::write(&p, "0\n").unwrap();
    let r = wf([&p, "--", "sh", "-c", "printf '%s|' \"$0\" \"$@\"", "zero", "--", "--help", "", "a b"]);
    assert_ran(&r, 0, "zero|--|--help||a b|", "");
}

#[test]
fn command_after_waiting_gets_a_clean_signal_state() {
    let t = TempDir::new("wf-sigmask");
    let p = s(&t.join("P"));
    // The mask: waitfor blocks TERM, INT, HUP and QUIT while it waits and must
    // unblock them before exec. Dispositions: nothing ignored that was not
    // (not under qemu-user, which keeps some host real-time signals for itself).
    // COMMAND is grep itself: a shell in between would reset the mask.
    let pattern = if runner().is_some() { "^SigBlk" } else { "^(SigBlk|SigIgn)" };
    let grep = ["grep", "-E", pattern, "/proc/self/status"];
    let baseline = run(Command::new("grep").args(&grep[1..]));
    assert!(baseline.stdout.starts_with("SigBlk:"), "{baseline:?}");
    let c = start_waiting([p.as_str(), "--"].iter().chain(&grep));
    put(Path::new(&p), "0\n");
    let r = finish(c, LIMIT, "exec after a wait");
    assert_ran(&r, 0, &baseline.stdout, "");
}

#[test]
fn command_cannot_be_executed_126() {
    let t = TempDir::new("wf-126");
    let p = s(&t.join("P"));
    fs::write(&p, "0\n").unwrap();
    let r = wf([&p, "--", "/etc/passwd"]);
    assert_ran(&r, 126, "", "waitfor: cannot run '/etc/passwd': Permission denied\n");
}

#[test]
fn command_not_found_127() {
    let t = TempDir::new("wf-127");
    let p = s(&t.join("P"));
    fs::write(&p, "0\n").unwrap();
    let r = wf([&p, "--", "no-such-cmd", "arg"]);
    assert_ran(&r, 127, "", "waitfor: cannot run 'no-such-cmd': No such file or directory\n");
    let missing = s(&t.join("nope"));
    let r = wf([&p, "--", &missing]);
    assert_ran(&r, 127, "", &format!("waitfor: cannot run '{missing}': No such file or directory\n"));
}

#[test]
fn no_descriptor_leaks_into_the_command() {
    let t = TempDir::new("wf-fds");
    let p = s(&t.join("P"));
    let script = "ls /proc/self/fd";
    let baseline = run(Command::new("sh").args(["-c", script]));
    assert_eq!(baseline.code, 0);
    // After a real wait (inotify and signalfd were open), and with P there at once.
    let c = start_waiting([&p, "--", "sh", "-c", script]);
    put(Path::new(&p), "0\n");
    let r = finish(c, LIMIT, "fds after a wait");
    assert_ran(&r, 0, &baseline.stdout, "");
    assert_ran(&wf([&p, "--", "sh", "-c", script]), 0, &baseline.stdout, "");
    // And with a stale lock file looked at (opened, flocked) on the way.
    let q = s(&t.join("Q"));
    fs::write(t.join("Q.err"), "1\n").unwrap();
    fs::write(t.join(".Q.lock"), "").unwrap();
    let r = wf(["--always", &q, &p, "--", "sh", "-c", script]);
    assert_ran(&r, 0, &baseline.stdout, "");
    if baseline.stdout != "0\n1\n2\n3\n" {
        eprintln!("note: the test process itself passes descriptors on: {:?}", baseline.stdout);
    }
}

// ---------------------------------------------------------------- signals

fn signal_while_waiting(sig: libc::c_int, code: i32) {
    let t = TempDir::new("wf-signal");
    let p = t.join("P");
    let c = start_waiting([&p]);
    send(c.id(), sig);
    assert_ran(&finish(c, LIMIT, "signal while waiting"), code, "", "");
}

#[test]
fn sigterm_while_waiting_143() {
    signal_while_waiting(libc::SIGTERM, 143);
}

#[test]
fn sigint_while_waiting_130() {
    signal_while_waiting(libc::SIGINT, 130);
}

#[test]
fn sighup_and_sigquit_while_waiting() {
    signal_while_waiting(libc::SIGHUP, 129);
    signal_while_waiting(libc::SIGQUIT, 131);
}

#[test]
fn sigterm_as_pid_1_of_a_pid_namespace() {
    if !is_root() {
        return harness::skip("sigterm_as_pid_1_of_a_pid_namespace", "needs root for a PID namespace");
    }
    harness::need("unshare", "util-linux");
    let t = TempDir::new("wf-pid1");
    let p = t.join("P");
    let mut argv = tool_argv("waitfor");
    argv.push(s(&p));
    let mut c = spawn_cmd(Command::new("unshare").args(["--pid", "--fork", "--kill-child"]).args(&argv));
    let mut inner = 0;
    assert!(
        eventually(LIMIT, || {
            inner = children(c.id()).first().copied().unwrap_or(0);
            inner != 0
        }),
        "unshare never forked"
    );
    wait_until_polling(inner);
    let status = fs::read_to_string(format!("/proc/{inner}/status")).unwrap_or_default();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap_or_default().to_string();
    assert!(nspid.ends_with("\t1"), "not PID 1 of its namespace: {nspid:?}");
    assert!(running(&mut c));
    send(inner, libc::SIGTERM);
    let r = finish(c, LIMIT, "SIGTERM to PID 1");
    assert_ran(&r, 143, "", "");
}

// ---------------------------------------------------------------- resources

#[test]
fn idle_waiter_sleeps() {
    if runner().is_some() {
        return harness::emulator_limit(
            "idle_waiter_sleeps",
            "a wakeup count: the emulator's own threads add context switches",
        );
    }
    let t = TempDir::new("wf-idle");
    let mut c = start_waiting([t.join("P")]);
    let before = context_switches(c.id());
    thread::sleep(Duration::from_secs(3));
    let after = context_switches(c.id());
    assert!(running(&mut c));
    let _ = c.kill();
    let _ = c.wait();
    eprintln!("context switches in 3 s idle: {}", after - before);
    assert!(after - before <= 5, "an idle waiter woke {} times in 3 s (interval 1 s)", after - before);
}

#[test]
fn works_without_inotify_by_polling() {
    let t = TempDir::new("wf-noinotify");
    let p = t.join("P");
    let mut argv: Vec<String> = tool_argv("waitfor");
    argv.extend(["--interval".into(), "100ms".into(), s(&p)]);
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    // A child user namespace has its own inotify instance limit: set it to 0.
    let script = format!("echo 0 > /proc/sys/user/max_inotify_instances && exec {}", quoted.join(" "));
    harness::need("unshare", "util-linux");
    let probe = {
        run(Command::new("unshare").args([
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_inotify_instances",
        ]))
    };
    let mut c = if probe.code == 0 {
        eprintln!("inotify disabled with max_inotify_instances = 0 in a child user namespace");
        spawn_cmd(Command::new("unshare").args(["--user", "--map-root-user", "sh", "-c", &script]))
    } else if runner().is_none() {
        harness::need("prlimit", "util-linux");
        // Fallback: descriptors 0-2 and the signalfd leave none for inotify_init.
        eprintln!("user namespace route unavailable ({}), using prlimit --nofile=4", probe.stderr.trim());
        spawn_cmd(Command::new("prlimit").arg("--nofile=4:4").args(&argv))
    } else {
        panic!("cannot take inotify away under the emulator: {}", probe.stderr.trim());
    };
    let pid = c.id();
    wait_until_polling(pid);
    assert!(running(&mut c));
    // Really without inotify: none of its descriptors is an inotify instance.
    for e in fs::read_dir(format!("/proc/{pid}/fdinfo")).unwrap().flatten() {
        let info = fs::read_to_string(e.path()).unwrap_or_default();
        assert!(!info.contains("inotify"), "waitfor has an inotify descriptor: {info}");
    }
    put(&p, "0\n");
    // It said so, once: the limit and the sysctl that raises it.
    assert_ran(&finish(c, LIMIT, "polling without inotify"), 0, "", &no_inotify_line("waitfor"));
}

// ---------------------------------------------------------------- Kubernetes volume updates

/// The kubelet's AtomicWriter (configMap, secret, downwardAPI volumes) shows
/// `ready` as a symlink `ready -> ..data/ready`, `..data -> ..TIMESTAMP`, and
/// updates by writing a new `..TIMESTAMP` directory and renaming a new `..data`
/// symlink over the old one. The events happen in the directory that holds the
/// path (on a tmpfs), so the wait should be event-driven, as docs/protocol.md
/// promises, not left to the safety re-check.
#[test]
fn nonempty_downward_api_update_wakes_on_events() {
    let t = TempDir::new("wf-downward");
    let vol = t.join("podinfo");
    fs::create_dir_all(vol.join("..t1")).unwrap();
    fs::write(vol.join("..t1/ready"), "").unwrap();
    std::os::unix::fs::symlink("..t1", vol.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/ready", vol.join("ready")).unwrap();
    let ready = vol.join("ready");
    let mut c =
        start_waiting([OsString::from("--nonempty"), "--interval".into(), "1h".into(), ready.clone().into()]);
    assert!(running(&mut c));
    fs::create_dir(vol.join("..t2")).unwrap();
    fs::write(vol.join("..t2/ready"), "true").unwrap();
    std::os::unix::fs::symlink("..t2", vol.join("..data_tmp")).unwrap();
    // Everything so far is a new directory and a new name beside `ready`.
    wait_until_polling(c.id());
    assert!(running(&mut c), "exited before the update was published");
    fs::rename(vol.join("..data_tmp"), vol.join("..data")).unwrap();
    fs::remove_dir_all(vol.join("..t1")).unwrap();
    assert_eq!(fs::read_to_string(&ready).unwrap(), "true");
    let r = finish(c, 5.0, "downward-API update with --interval 1h (only an event can wake it)");
    assert_ran(&r, 0, "", "");
}

#[test]
fn exit_status_of_a_killed_waiter_is_reported_as_signal() {
    // Sanity check of the harness mapping the other tests rely on.
    let t = TempDir::new("wf-kill");
    let c = start_waiting([t.join("P")]);
    send(c.id(), libc::SIGKILL);
    let out = c.wait_with_output().unwrap();
    assert_eq!(status_code(out.status), 137);
}
