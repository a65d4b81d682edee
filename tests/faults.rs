//! Fault injection against the release binaries: steps that die
//! (SIGKILL) while they run or wait, a copier killed mid-copy, full and
//! read-only filesystems, unreadable dependency directories, signal and zombie
//! storms, commands that close their output or leave their process group, and
//! hostile paths (spaces, newlines, bytes that are not UTF-8, ~4000 bytes).
//! Exit statuses, stderr lines (as bytes), markers and the termination message
//! (checked by a small hand-written JSON parser) are pinned exactly.
//!
//! Timing: no test asserts speed. Readiness is observed, never slept for: a
//! step is alive once its lock `.P.lock` is locked; a waiter waits once it sleeps in
//! `poll` (`/proc/PID/wchan`); a command is running once it has written a file.
//! Every child is waited for with a generous bound (`LIMIT`) that kills it and
//! fails the test instead of hanging. Root-only cases (mounts, namespaces,
//! another uid) record a skip (`harness::skip`) when not run as root, which
//! fails under CI=true; tools they need are installed (`harness::need`).

use harness::{
    emulated, emulator_limit, eventually, is_fifo, is_root, json, lock_held, mount_or_skip, need, skip,
    status_code, tool, tool_argv, Mount, TempDir,
};
use std::collections::BTreeSet;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 30.0;

/// A PATH without directories another uid may not search (which would make
/// a missing command "Permission denied", 126, as execvp has it).
const PLAIN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

// ---------------------------------------------------------------- helpers

/// What a finished process did, as raw bytes (paths in messages need not be
/// UTF-8).
#[derive(Debug)]
struct Raw {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// A child that is killed (and reaped) if the test ends before it does.
struct Proc(Option<Child>);

impl Proc {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    fn running(&mut self) -> bool {
        self.0.as_mut().is_some_and(|c| c.try_wait().expect("try_wait").is_none())
    }

    /// Waits up to `secs` for the exit and collects the output; kills the
    /// child and fails the test when it does not exit.
    fn finish(mut self, secs: f64, what: &str) -> Raw {
        let ok = eventually(secs, || !self.running());
        let mut child = self.0.take().expect("child");
        if !ok {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{what}: still running after {secs} s; stderr: {:?}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = child.wait_with_output().expect("wait_with_output");
        Raw { code: status_code(out.status), stdout: out.stdout, stderr: out.stderr }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Kills a whole process group when dropped (commands orphaned by a killed
/// wrapper run in their own group, whose id is their pid).
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill(2) on a process group this test created.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
}

/// Kills one process when dropped (an orphan a command left behind).
struct PidGuard(i32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill(2) on a process this test's command started.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(Some(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")))
}

/// Starts tool `name` with `args`.
fn start<I, S>(name: &str, args: I) -> Proc
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn(tool(name).args(args))
}

/// Runs `cmd` to completion (bounded by `LIMIT`).
fn run_cmd(cmd: &mut Command, what: &str) -> Raw {
    spawn(cmd).finish(LIMIT, what)
}

/// Runs tool `name` with `args` to completion (bounded by `LIMIT`).
fn run<I, S>(name: &str, args: I) -> Raw
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(tool(name).args(args), name)
}

#[track_caller]
fn assert_raw(r: &Raw, code: i32, stderr: &[u8]) {
    let lossy = |v: &[u8]| elide(&String::from_utf8_lossy(v));
    if (r.code, r.stdout.as_slice(), r.stderr.as_slice()) != (code, &b""[..], stderr) {
        panic!(
            "status {}, stdout {:?}, stderr\n  {:?}\nwanted status {code}, no stdout, stderr\n  {:?}",
            r.code,
            lossy(&r.stdout),
            lossy(&r.stderr),
            lossy(stderr),
        );
    }
}

/// `text` with runs of more than 12 equal characters shortened (the deep
/// paths), for readable failures.
fn elide(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|&&c| c == chars[i]).count();
        if run > 12 {
            out.push_str(&format!("{}…×{run}", chars[i]));
        } else {
            out.extend(&chars[i..i + run]);
        }
        i += run;
    }
    out
}

/// The argument list as OS strings.
fn argv<const N: usize>(list: [&dyn AsRef<OsStr>; N]) -> Vec<OsString> {
    list.iter().map(|x| x.as_ref().to_os_string()).collect()
}

fn b(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A path as a diagnostic shows it: control characters as `\xNN`.
fn shown(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &c in p {
        if c < 0x20 || c == 0x7f {
            out.extend_from_slice(format!("\\x{c:02x}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}

/// `TOOL: step 'P' died without a result\n`
fn died(tool: &str, p: &Path) -> Vec<u8> {
    concat(&[tool.as_bytes(), b": step '", &shown(b(p)), b"' died without a result\n"])
}

/// `TOOL: step 'P' failed\n`
fn failed(tool: &str, p: &Path) -> Vec<u8> {
    concat(&[tool.as_bytes(), b": step '", &shown(b(p)), b"' failed\n"])
}

/// `TOOL: timed out waiting for 'P'\n`
fn timed_out(tool: &str, p: &Path) -> Vec<u8> {
    concat(&[tool.as_bytes(), b": timed out waiting for '", &shown(b(p)), b"'\n"])
}

/// `entrypoint: cannot write 'P': REASON\n`
fn cannot_write(p: &Path, reason: &str) -> Vec<u8> {
    concat(&[b"entrypoint: cannot write '", &shown(b(p)), b"': ", reason.as_bytes(), b"\n"])
}

/// `P` with `suffix` appended to its last component.
fn with(p: &Path, suffix: &str) -> PathBuf {
    let mut o = p.as_os_str().to_os_string();
    o.push(suffix);
    PathBuf::from(o)
}

#[track_caller]
fn assert_file(p: &Path, content: &str) {
    match fs::read(p) {
        Ok(c) => assert_eq!(String::from_utf8_lossy(&c), content, "content of {}", p.display()),
        Err(e) => panic!("{}: {e}", p.display()),
    }
}

#[track_caller]
fn assert_absent(p: &Path) {
    assert!(fs::symlink_metadata(p).is_err(), "{} should not exist", p.display());
}

/// The names in directory `d`.
fn names(d: &Path) -> BTreeSet<OsString> {
    fs::read_dir(d)
        .unwrap_or_else(|e| panic!("readdir {}: {e}", d.display()))
        .map(|e| e.expect("dir entry").file_name())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<OsString> {
    list.iter().map(OsString::from).collect()
}

/// Temporary files (`.NAME.tmp`, `.NAME.tmpN`) in directory `d`.
#[track_caller]
fn assert_no_temporaries(d: &Path) {
    let left: Vec<_> = names(d)
        .into_iter()
        .filter(|n| {
            let n = n.as_bytes();
            n.starts_with(b".") && n.windows(4).any(|w| w == b".tmp")
        })
        .collect();
    assert!(left.is_empty(), "temporary files in {}: {left:?}", d.display());
}

/// The kernel function the main thread of `pid` sleeps in ("" if gone).
fn wchan(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// Blocks until `p` sleeps in `poll` (its watches armed, everything looked at).
fn wait_until_polling(p: &mut Proc, what: &str) {
    let pid = p.id();
    let ok = eventually(LIMIT, || wchan(pid).contains("poll"));
    assert!(ok, "{what} never went to sleep in poll ({:?})", wchan(pid));
    assert!(p.running(), "{what} exited instead of waiting");
}

fn send(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid this test started and a valid signal number.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Waits for a file holding a pid (written by a command) and returns it.
fn read_pid(p: &Path) -> i32 {
    let mut pid = 0;
    let ok = eventually(LIMIT, || {
        pid = fs::read_to_string(p).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        pid > 0
    });
    assert!(ok, "{} never held a pid", p.display());
    pid
}

// ---------------------------------------------------------------- JSON

/// Reads a termination message, checks it is Tekton's shape (an array of
/// `{"key":K,"value":V,"type":3}`, at most 4096 bytes) and returns the pairs.
#[track_caller]
fn termination(p: &Path) -> Vec<(String, String)> {
    let raw = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(raw.len() <= 4096, "termination message of {} bytes", raw.len());
    let text = String::from_utf8_lossy(&raw).into_owned();
    let utf8 = std::str::from_utf8(&raw).unwrap_or_else(|e| panic!("not UTF-8 ({e}): {text}"));
    let v = json::parse(utf8).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"));
    let json::Value::Arr(entries) = v else { panic!("not an array: {text}") };
    entries
        .into_iter()
        .map(|e| match e {
            json::Value::Obj(f) => match <[(String, json::Value); 3]>::try_from(f) {
                Ok(
                    [(k, json::Value::Str(key)), (v, json::Value::Str(value)), (t, json::Value::Num(three))],
                ) if k == "key" && v == "value" && t == "type" && three == "3" => (key, value),
                Ok(other) => panic!("bad entry {other:?} in {text}"),
                Err(other) => panic!("bad entry {other:?} in {text}"),
            },
            other => panic!("entry {other:?} is not an object in {text}"),
        })
        .collect()
}

/// Checks the termination message at `p` of a step whose COMMAND started:
/// the keys in order (StartedAt first), ExitCode, Reason, and Message (None:
/// no Message entry).
#[track_caller]
fn assert_termination(p: &Path, code: u8, reason: &str, message: Option<&str>) {
    check_termination(p, true, code, reason, message);
}

/// The same for a step whose COMMAND never started (skipped, its wait timed
/// out): no StartedAt.
#[track_caller]
fn assert_unstarted_termination(p: &Path, code: u8, reason: &str, message: Option<&str>) {
    check_termination(p, false, code, reason, message);
}

#[track_caller]
fn check_termination(p: &Path, started: bool, code: u8, reason: &str, message: Option<&str>) {
    let mut pairs = termination(p);
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let mut want = vec!["StartedAt", "ExitCode", "Reason"];
    if message.is_some() {
        want.push("Message");
    }
    if !started {
        want.remove(0);
    }
    assert_eq!(keys, want, "keys of {pairs:?}");
    if started {
        let started = pairs.remove(0).1;
        assert!(
            started.len() == 24 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
            "StartedAt {started:?}"
        );
    }
    assert_eq!(pairs[0].1, code.to_string(), "ExitCode");
    assert_eq!(pairs[1].1, reason, "Reason");
    if let Some(m) = message {
        assert_eq!(pairs[2].1, m, "Message");
    }
}

/// What a message holding `bytes` reads as once decoded from JSON: each byte
/// that does not start a well-formed UTF-8 sequence is U+FFFD.
fn as_json_text(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    'outer: while i < bytes.len() {
        for n in (1..=4).rev() {
            if let Some(Ok(text)) = bytes.get(i..i + n).map(std::str::from_utf8) {
                if text.chars().count() == 1 {
                    out.push_str(text);
                    i += n;
                    continue 'outer;
                }
            }
        }
        out.push('\u{fffd}');
        i += 1;
    }
    out
}

/// The Message of a diagnostic line: the whole line the wrapper printed
/// (`entrypoint: ` and all) without its newline, as JSON text.
fn message_of(line: &[u8]) -> String {
    let body =
        line.strip_suffix(b"\n").filter(|l| l.starts_with(b"entrypoint: ")).expect("an entrypoint line");
    as_json_text(body)
}

// ---------------------------------------------------------------- mounts

/// Fills the filesystem under `dir` until it reports ENOSPC.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = File::create(dir.join("fill")).expect("create fill");
    let chunk = [0x5au8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("fill: {e}"),
        }
    }
    // Not a byte more, even for an empty file's data.
    assert_eq!(
        File::create(dir.join("probe"))
            .and_then(|mut p| p.write_all(b"x").and_then(|()| p.sync_all()))
            .map_err(|e| e.raw_os_error()),
        Err(Some(libc::ENOSPC)),
        "the filesystem is not full"
    );
    let _ = fs::remove_file(dir.join("probe"));
}

// ------------------------------------------------- liveness: killed steps

/// The dependents of step `a`: a waitfor, and a chain of three entrypoint
/// steps B (waits for A), C (waits for B), D (waits for C), all waiting.
struct Dependents {
    waitfor: Proc,
    chain: Vec<(Proc, PathBuf, PathBuf)>,
}

fn start_dependents(t: &TempDir, a: &Path) -> Dependents {
    let mut waitfor = start("waitfor", [a]);
    wait_until_polling(&mut waitfor, "waitfor A");
    let mut chain = Vec::new();
    let mut prev = a.to_path_buf();
    for name in ["B", "C", "D"] {
        let post = t.join(&format!("steps/{name}"));
        let term = t.join(&format!("term/{name}.json"));
        let mut p = start(
            "entrypoint",
            argv([
                &"--wait",
                &prev,
                &"--post-file",
                &post,
                &"--termination-path",
                &term,
                &"--",
                &"sh",
                &"-c",
                &"echo ran >> \"$0\"",
                &t.join("ran"),
            ]),
        );
        wait_until_polling(&mut p, name);
        chain.push((p, post.clone(), term));
        prev = post;
    }
    Dependents { waitfor, chain }
}

/// Kills `victim` (the wrapper of step `a`) and checks that every dependent
/// fails, the failure cascading down the chain with `.err` markers.
fn kill_and_check_cascade(t: &TempDir, a: &Path, mut victim: Proc, deps: Dependents) {
    assert!(victim.running(), "step A ended before it was killed");
    send(victim.id(), libc::SIGKILL);
    let r = victim.finish(LIMIT, "killed step A");
    assert_eq!(r.code, 128 + libc::SIGKILL, "{r:?}");

    let r = deps.waitfor.finish(LIMIT, "waitfor A after A died");
    assert_raw(&r, 1, &died("waitfor", a));

    let mut prev = a.to_path_buf();
    for (i, (p, post, term)) in deps.chain.into_iter().enumerate() {
        let r = p.finish(LIMIT, "a dependent of a dead step");
        if i == 0 {
            assert_raw(&r, 1, &died("entrypoint", &prev));
            assert_unstarted_termination(
                &term,
                1,
                "DependencyDied",
                Some(&message_of(&died("entrypoint", &prev))),
            );
        } else {
            assert_raw(&r, 1, &failed("entrypoint", &prev));
            assert_unstarted_termination(
                &term,
                1,
                "Skipped",
                Some(&message_of(&failed("entrypoint", &prev))),
            );
        }
        assert_file(&with(&post, ".err"), "1\n");
        assert_absent(&post);
        prev = post;
    }
    assert_absent(&t.join("ran"));
    // The dead step left no result, and its lock is free.
    assert_absent(a);
    assert_absent(&with(a, ".err"));
    assert!(!lock_held(&harness::lock_of(a)), "A.lock still held");
    assert_no_temporaries(&t.join("steps"));
}

#[test]
fn step_killed_while_its_command_runs_fails_its_dependents_down_the_chain() {
    let t = TempDir::new("faults-kill-run");
    let a_path = t.join("steps/A");
    let pid_file = t.join("cmd.pid");
    let victim = start(
        "entrypoint",
        argv([
            &"--post-file",
            &a_path,
            &"--",
            &"sh",
            &"-c",
            &"echo $$ > \"$0\"; exec sleep 60 </dev/null >/dev/null 2>&1",
            &pid_file,
        ]),
    );
    // The command outlives its killed wrapper (its own process group).
    let _group = GroupGuard(read_pid(&pid_file));
    assert!(eventually(LIMIT, || lock_held(&harness::lock_of(&a_path))), "A never held A.lock");
    let deps = start_dependents(&t, &a_path);
    kill_and_check_cascade(&t, &a_path, victim, deps);
}

#[test]
fn step_killed_while_it_waits_fails_its_dependents_down_the_chain() {
    let t = TempDir::new("faults-kill-wait");
    let a_path = t.join("steps/A");
    let mut victim = start(
        "entrypoint",
        argv([
            &"--wait",
            &t.join("never/X"),
            &"--post-file",
            &a_path,
            &"--",
            &"sh",
            &"-c",
            &"echo ran >> \"$0\"",
            &t.join("ran"),
        ]),
    );
    wait_until_polling(&mut victim, "step A");
    assert!(lock_held(&harness::lock_of(&a_path)), "A.lock not held");
    let deps = start_dependents(&t, &a_path);
    kill_and_check_cascade(&t, &a_path, victim, deps);
}

#[test]
fn step_that_never_started_is_still_waited_for() {
    let t = TempDir::new("faults-never");
    let a_path = t.join("steps/A");
    let b_path = t.join("steps/B");
    let term = t.join("B.json");
    // No A.lock: not started yet, which is not a death.
    let r = run("waitfor", argv([&"--timeout", &"300ms", &a_path]));
    assert_raw(&r, 124, &timed_out("waitfor", &a_path));
    let r = run(
        "entrypoint",
        argv([
            &"--wait",
            &a_path,
            &"--wait-timeout",
            &"300ms",
            &"--post-file",
            &b_path,
            &"--termination-path",
            &term,
            &"--",
            &"true",
        ]),
    );
    assert_raw(&r, 124, &timed_out("entrypoint", &a_path));
    assert_file(&with(&b_path, ".err"), "124\n");
    assert_unstarted_termination(
        &term,
        124,
        "TimeoutExceeded",
        Some(&message_of(&timed_out("entrypoint", &a_path))),
    );

    // Waiters without a limit keep waiting past several safety re-checks...
    let mut w = start("waitfor", argv([&"--interval", &"100ms", &a_path]));
    wait_until_polling(&mut w, "waitfor");
    let c_path = t.join("steps/C");
    let mut c = start("entrypoint", argv([&"--wait", &a_path, &"--post-file", &c_path, &"--", &"true"]));
    wait_until_polling(&mut c, "step C");
    std::thread::sleep(Duration::from_millis(1300));
    assert!(w.running() && c.running(), "a waiter gave up on A");
    // ...until the step starts late and succeeds.
    let r = run("entrypoint", argv([&"--post-file", &a_path, &"--", &"true"]));
    assert_raw(&r, 0, b"");
    assert_raw(&w.finish(LIMIT, "waitfor A"), 0, b"");
    assert_raw(&c.finish(LIMIT, "step C"), 0, b"");
    assert_file(&c_path, "0\n");
    assert_absent(&with(&c_path, ".err"));
}

#[test]
fn restarted_step_takes_the_lock_over_and_its_dependents_run() {
    let t = TempDir::new("faults-restart");
    let a_path = t.join("steps/A");
    let lock = harness::lock_of(&a_path);
    let pid_file = t.join("first.pid");
    let mut first = start(
        "entrypoint",
        argv([
            &"--post-file",
            &a_path,
            &"--",
            &"sh",
            &"-c",
            &"echo $$ > \"$0\"; exec sleep 60 </dev/null >/dev/null 2>&1",
            &pid_file,
        ]),
    );
    let group = GroupGuard(read_pid(&pid_file));
    assert!(eventually(LIMIT, || lock_held(&lock)), "A.lock never held");
    assert!(first.running());
    send(first.id(), libc::SIGKILL);
    let r = first.finish(LIMIT, "first A");
    assert_eq!(r.code, 128 + libc::SIGKILL);
    drop(group);
    // Now A is dead: a waiter says so at once.
    let r = run("waitfor", [&a_path]);
    assert_raw(&r, 1, &died("waitfor", &a_path));

    // The restart: same post file; it holds a fresh lock while it runs.
    let gate = t.join("gate");
    let mut second = start(
        "entrypoint",
        argv([
            &"--post-file",
            &a_path,
            &"--",
            &"sh",
            &"-c",
            &"while [ ! -e \"$0\" ]; do sleep 0.02; done",
            &gate,
        ]),
    );
    assert!(eventually(LIMIT, || lock_held(&lock)), "the restarted step never took A.lock");
    let mut w = start("waitfor", argv([&"--interval", &"100ms", &a_path]));
    wait_until_polling(&mut w, "waitfor A");
    let b_path = t.join("steps/B");
    let mut dep = start("entrypoint", argv([&"--wait", &a_path, &"--post-file", &b_path, &"--", &"true"]));
    wait_until_polling(&mut dep, "step B");
    std::thread::sleep(Duration::from_millis(1300));
    assert!(w.running() && dep.running() && second.running(), "a dependent took the restarted step for dead");
    fs::write(&gate, "").expect("gate");
    assert_raw(&second.finish(LIMIT, "restarted A"), 0, b"");
    assert_file(&a_path, "0\n");
    assert_raw(&w.finish(LIMIT, "waitfor A"), 0, b"");
    assert_raw(&dep.finish(LIMIT, "step B"), 0, b"");
    assert_file(&b_path, "0\n");
    assert_absent(&with(&b_path, ".err"));
    assert_absent(&with(&a_path, ".err"));
    assert_no_temporaries(&t.join("steps"));
}

// ------------------------------------------------- copier killed mid-copy

/// Appends `n` bytes of /dev/urandom to `p`.
fn append_random(p: &Path, n: u64) {
    let mut src = File::open("/dev/urandom").expect("urandom");
    let mut dst = fs::OpenOptions::new().create(true).append(true).open(p).expect("open source");
    let copied = std::io::copy(&mut (&mut src).take(n), &mut dst).expect("fill source");
    assert_eq!(copied, n);
}

#[track_caller]
fn assert_same_content(x: &Path, y: &Path) {
    let (mut fx, mut fy) = (File::open(x).expect("open"), File::open(y).expect("open"));
    let (mut bx, mut by) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let nx = fx.read(&mut bx).expect("read");
        let mut ny = 0;
        while ny < nx {
            match fy.read(&mut by[ny..nx]).expect("read") {
                0 => break,
                k => ny += k,
            }
        }
        assert_eq!(nx, ny, "{} and {} differ in length", x.display(), y.display());
        assert!(bx[..nx] == by[..nx], "content differs after byte {at}");
        if nx == 0 {
            return;
        }
        at += nx as u64;
    }
}

#[test]
fn copier_killed_mid_copy_keeps_the_old_file_and_the_next_run_cleans_up() {
    // copy_file_range moves the data in one system call, which SIGSTOP cannot
    // interrupt but SIGKILL can: the test watches the temporary file and kills
    // copier as soon as it holds data; if the copy won the race, it retries with
    // a larger source.
    let t = TempDir::new("faults-copier-kill");
    let src = t.join("src/big");
    let dest_dir = t.join("dest");
    fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
    fs::create_dir_all(&dest_dir).expect("mkdir");
    let dest = dest_dir.join("big");
    let tmp = dest_dir.join(".big.tmp");
    let mut size = 0u64;
    let mut caught = None;
    for (attempt, add) in [200u64 << 20, 200 << 20, 400 << 20].into_iter().enumerate() {
        append_random(&src, add);
        size += add;
        fs::write(&dest, "old\n").expect("old destination");
        let mut c = start("copier", [&src, &dest]);
        let mut killed = false;
        while c.running() {
            if fs::symlink_metadata(&tmp).is_ok_and(|m| m.len() > 0) {
                send(c.id(), libc::SIGKILL);
                killed = true;
                break;
            }
        }
        let r = c.finish(LIMIT, "copier");
        let partial = fs::symlink_metadata(&tmp).map_or(0, |m| m.len());
        if killed && r.code == 128 + libc::SIGKILL && partial > 0 {
            caught = Some((attempt, partial));
            break;
        }
        eprintln!(
            "copier finished {} MiB before it could be killed (status {}); retrying larger",
            size >> 20,
            r.code
        );
        let _ = fs::remove_file(&tmp);
    }
    let (attempt, partial) = caught.unwrap_or_else(|| {
        // The copy always won the race (a fast copy_file_range): kill it for
        // certain instead, with the file size limit, whose SIGXFSZ (uncaught by
        // copier) ends it once 1 MiB of the temporary file is written.
        let _ = fs::remove_file(&tmp);
        let mut cmd = tool("copier");
        cmd.args([&src, &dest]);
        // SAFETY: setrlimit is async-signal-safe; the closure touches no memory
        // shared with the parent.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit { rlim_cur: 1 << 20, rlim_max: 1 << 20 };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let r = run_cmd(&mut cmd, "copier under a 1 MiB file size limit");
        assert_eq!(r.code, 128 + libc::SIGXFSZ, "copier was not ended by SIGXFSZ: {r:?}");
        (3, fs::symlink_metadata(&tmp).map_or(0, |m| m.len()))
    });
    assert!(partial > 0, "nothing was written before the kill");
    eprintln!("killed copier on attempt {} with {partial} of {size} bytes in {}", attempt + 1, tmp.display());
    assert!(partial <= size);
    assert_file(&dest, "old\n");
    assert_eq!(names(&dest_dir), set(&["big", ".big.tmp"]));

    // The next run reclaims the stale temporary file and succeeds.
    let r = run("copier", [&src, &dest]);
    assert_raw(&r, 0, b"");
    assert_same_content(&src, &dest);
    assert_eq!(names(&dest_dir), set(&["big"]));
}

// ------------------------------------------------- full and read-only filesystems

#[test]
fn full_filesystem_markers_and_message_fail_cleanly_with_125() {
    // An outcome that cannot be written is the tool's failure (125, a system
    // call failed), whatever the command did: a 0 would tell Kubernetes the
    // step succeeded while its dependents find no marker.
    let test = "full_filesystem_markers_and_message_fail_cleanly_with_125";
    let t = TempDir::new("faults-enospc");
    let full = t.join("full");
    let Some(_m) = mount_or_skip(test, &full, "size=64k", false) else {
        return;
    };
    fill(&full);
    let ok_dir = t.join("ok");

    // Failure marker on the full filesystem: P.err cannot be written.
    let p = full.join("P");
    let r = run(
        "entrypoint",
        argv([&"--post-file", &p, &"--termination-path", &ok_dir.join("T1"), &"--", &"sh", &"-c", &"exit 3"]),
    );
    assert_raw(&r, 125, &cannot_write(&with(&p, ".err"), "No space left on device"));
    assert_termination(&ok_dir.join("T1"), 3, "Error", None);

    // Success marker: P cannot be written.
    let q = full.join("Q");
    let r = run("entrypoint", argv([&"--post-file", &q, &"--", &"true"]));
    assert_raw(&r, 125, &cannot_write(&q, "No space left on device"));

    // The termination message on the full filesystem, the marker elsewhere.
    let term = full.join("T");
    let r2 = ok_dir.join("R");
    let r = run(
        "entrypoint",
        argv([&"--post-file", &r2, &"--termination-path", &term, &"--", &"sh", &"-c", &"exit 4"]),
    );
    assert_raw(&r, 125, &cannot_write(&term, "No space left on device"));
    assert_file(&with(&r2, ".err"), "4\n");

    // Nothing half-written, no temporary file: only the filler and the locks.
    assert_eq!(names(&full), set(&["fill", ".P.lock", ".Q.lock"]));
    for lock in [".P.lock", ".Q.lock"] {
        assert!(is_fifo(&full.join(lock)), "{lock} is not the liveness pipe");
    }
}

#[test]
fn read_only_step_directory_fails_early_with_125() {
    let test = "read_only_step_directory_fails_early_with_125";
    let t = TempDir::new("faults-rofs");
    let dir = t.join("ro");
    let ran = t.join("ran");
    let p = dir.join("P");
    let reason;
    let _mount = if is_root() {
        reason = "Read-only file system";
        let Some(m) = mount_or_skip(test, &dir, "", true) else {
            return;
        };
        Some(m)
    } else {
        // Without root: a directory without write permission.
        reason = "Permission denied";
        fs::create_dir(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).expect("chmod");
        None
    };
    let r = run("entrypoint", argv([&"--post-file", &p, &"--", &"sh", &"-c", &"echo ran > \"$0\"", &ran]));
    // The lock cannot be created: the tool fails (125) before running the
    // command, and says so in one line; it tries to leave P.err, and does
    // not tell that failure twice.
    let want = concat(&[
        b"entrypoint: cannot create '",
        &shown(b(&harness::lock_of(&p))),
        b"': ",
        reason.as_bytes(),
        b"\n",
    ]);
    assert_raw(&r, 125, &want);
    assert_absent(&ran);
    assert_eq!(names(&dir), set(&[]));
    if !is_root() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn missing_step_directories_are_created_on_demand() {
    let t = TempDir::new("faults-mkdir");
    let p = t.join("a/b/c/P");
    let term = t.join("x/y/z/T");
    let r = run("entrypoint", argv([&"--post-file", &p, &"--termination-path", &term, &"--", &"true"]));
    assert_raw(&r, 0, b"");
    assert_file(&p, "0\n");
    assert_termination(&term, 0, "Completed", None);
    // A failing step in another missing directory: P.err there.
    let q = t.join("d/e/Q");
    let r = run("entrypoint", argv([&"--post-file", &q, &"--", &"sh", &"-c", &"exit 5"]));
    assert_raw(&r, 5, b"");
    assert_file(&with(&q, ".err"), "5\n");
    assert_no_temporaries(&t.join("a/b/c"));
    assert_no_temporaries(&t.join("d/e"));
}

/// A command that runs tool `name` as uid/gid 65534 (when root), or as is.
fn tool_as_nobody(name: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"]);
        c.args(tool_argv(name));
        c
    } else {
        tool(name)
    }
}

#[test]
fn dependency_in_an_unreadable_directory_cannot_be_observed_and_times_out() {
    // A dependency whose directory cannot be searched cannot be observed: not
    // done, not failed, not dead. The wait goes on until its limit (124).
    if is_root() {
        need("setpriv", "util-linux");
    }
    let t = TempDir::new("faults-eacces");
    let dep = t.join("dep");
    let public = t.join("public");
    fs::create_dir(&dep).expect("mkdir");
    fs::create_dir(&public).expect("mkdir");
    fs::set_permissions(&public, fs::Permissions::from_mode(0o777)).expect("chmod");
    // Both results are there, but out of sight.
    let done = dep.join("A");
    let bad = dep.join("B");
    fs::write(&done, "0\n").expect("write");
    fs::write(with(&bad, ".err"), "1\n").expect("write");
    fs::write(harness::lock_of(&bad), "").expect("write");
    let mode = if is_root() { 0o700 } else { 0o000 };
    fs::set_permissions(&dep, fs::Permissions::from_mode(mode)).expect("chmod");
    struct Restore(PathBuf);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
        }
    }
    let _restore = Restore(dep.clone());

    let r =
        run_cmd(tool_as_nobody("waitfor").args(argv([&"--timeout", &"500ms", &done])), "waitfor as nobody");
    assert_raw(&r, 124, &timed_out("waitfor", &done));

    let c = public.join("C");
    let term = public.join("T");
    let r = run_cmd(
        tool_as_nobody("entrypoint").args(argv([
            &"--wait",
            &bad,
            &"--wait-timeout",
            &"500ms",
            &"--post-file",
            &c,
            &"--termination-path",
            &term,
            &"--",
            &"true",
        ])),
        "entrypoint as nobody",
    );
    assert_raw(&r, 124, &timed_out("entrypoint", &bad));
    assert_file(&with(&c, ".err"), "124\n");
    assert_unstarted_termination(
        &term,
        124,
        "TimeoutExceeded",
        Some(&message_of(&timed_out("entrypoint", &bad))),
    );
}

// ------------------------------------------------- signal storm

#[test]
fn signal_storm_neither_kills_the_wrapper_nor_loses_the_status() {
    // The command notes each kind of signal it gets; the test lets it finish
    // only once all four have arrived (or fails after LIMIT): the wrapper reads
    // pending signals lowest number first, so during the storm WINCH (28)
    // waits behind HUP, USR1 and USR2 and is forwarded when the storm ends.
    // Releasing the command right after the storm would race with that.
    let t = TempDir::new("faults-storm");
    let p = t.join("P");
    let term = t.join("T");
    let (got, ready, go) = (t.join("got"), t.join("ready"), t.join("go"));
    let script = r#"
        exec 2>/dev/null  # sh reports each sleep the storm kills
        u1=0 u2=0 h=0 w=0
        note() { echo "$u1 $u2 $h $w" > "$got"; }
        got=$1
        trap 'u1=1; note' USR1; trap 'u2=1; note' USR2
        trap 'h=1; note' HUP; trap 'w=1; note' WINCH
        : > "$2"
        while [ ! -e "$3" ]; do sleep 0.05; done
        note
        exit 7
    "#;
    let mut ep = start(
        "entrypoint",
        argv([
            &"--post-file",
            &p,
            &"--termination-path",
            &term,
            &"--",
            &"sh",
            &"-c",
            &script,
            &"sh",
            &got,
            &ready,
            &go,
        ]),
    );
    assert!(eventually(LIMIT, || ready.exists()), "the command never set its traps");
    let pid = ep.id() as libc::pid_t;
    let signals = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP, libc::SIGWINCH];
    for i in 0..10_000 {
        // SAFETY: kill(2) on the wrapper this test started.
        let rc = unsafe { libc::kill(pid, signals[i % 4]) };
        assert_eq!(rc, 0, "signal {i}: the wrapper is gone");
    }
    assert!(ep.running(), "the wrapper died in the storm");
    let all = eventually(LIMIT, || fs::read_to_string(&got).is_ok_and(|g| g == "1 1 1 1\n"));
    assert!(
        all,
        "the command did not get every kind of signal: {:?} (USR1 USR2 HUP WINCH)",
        fs::read_to_string(&got).unwrap_or_default()
    );
    assert!(ep.running(), "the wrapper ended before its command");
    fs::write(&go, "").expect("go");
    let r = ep.finish(LIMIT, "entrypoint after the storm");
    assert_raw(&r, 7, b"");
    assert_file(&with(&p, ".err"), "7\n");
    assert_absent(&p);
    assert_file(&got, "1 1 1 1\n");
    assert_termination(&term, 7, "Error", None);
}

#[test]
fn signal_storm_while_waiting_neither_cancels_nor_kills_the_step() {
    // Only TERM, INT, HUP and QUIT end a wait; other signals are read and dropped.
    let t = TempDir::new("faults-storm-wait");
    let (dep, p, term) = (t.join("dep"), t.join("P"), t.join("T"));
    let ran = t.join("ran");
    let mut ep = start(
        "entrypoint",
        argv([
            &"--wait",
            &dep,
            &"--post-file",
            &p,
            &"--termination-path",
            &term,
            &"--",
            &"sh",
            &"-c",
            &"echo ran > \"$0\"; exit 7",
            &ran,
        ]),
    );
    wait_until_polling(&mut ep, "waiting step");
    let pid = ep.id() as libc::pid_t;
    let signals = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM, libc::SIGWINCH];
    for i in 0..10_000 {
        // SAFETY: kill(2) on the wrapper this test started.
        let rc = unsafe { libc::kill(pid, signals[i % 4]) };
        assert_eq!(rc, 0, "signal {i}: the wrapper is gone");
    }
    wait_until_polling(&mut ep, "step after the storm");
    assert_absent(&ran);
    assert_absent(&with(&p, ".err"));
    fs::write(&dep, "0\n").expect("dep");
    let r = ep.finish(LIMIT, "entrypoint after a storm while waiting");
    assert_raw(&r, 7, b"");
    assert_file(&ran, "ran\n");
    assert_file(&with(&p, ".err"), "7\n");
    assert_termination(&term, 7, "Error", None);
}

/// The state letter of `pid` in /proc (R, S, T, Z...; '?' if gone).
fn proc_state(pid: i32) -> char {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?')
}

#[test]
fn stop_and_continue_reach_the_command_not_the_wrapper() {
    // TSTP is forwarded like any other signal; a stopped command has not
    // ended (the wrapper waits on), and CONT lets it finish with its status.
    // The command forks nothing while stopped (a vfork parent whose child is
    // stopped shows as D, not T): it blocks opening a fifo.
    let t = TempDir::new("faults-tstp");
    let (p, pid_file, fifo) = (t.join("P"), t.join("pid"), t.join("fifo"));
    let c_fifo = CString::new(b(&fifo)).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0, "mkfifo");
    let mut ep = start(
        "entrypoint",
        argv([
            &"--post-file",
            &p,
            &"--",
            &"sh",
            &"-c",
            &"echo $$ > \"$0\"; read line < \"$1\"; exit 4",
            &pid_file,
            &fifo,
        ]),
    );
    let cmd = read_pid(&pid_file);
    send(ep.id(), libc::SIGTSTP);
    assert!(
        eventually(LIMIT, || proc_state(cmd) == 'T'),
        "the command was not stopped (state {})",
        proc_state(cmd)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(ep.running(), "the wrapper ended while its command was stopped");
    assert_ne!(proc_state(ep.id() as i32), 'T', "the wrapper itself stopped");
    assert_eq!(proc_state(cmd), 'T', "the command did not stay stopped");
    send(ep.id(), libc::SIGCONT);
    // Release the reader: a non-blocking open for writing succeeds once it
    // has the fifo open (ENXIO before).
    let mut writer = None;
    let opened = eventually(LIMIT, || {
        writer = fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo).ok();
        writer.is_some()
    });
    assert!(opened, "the command never opened its fifo after CONT");
    {
        use std::io::Write;
        writer.expect("writer").write_all(b"go\n").expect("write fifo");
    }
    let r = ep.finish(LIMIT, "entrypoint after TSTP, CONT");
    assert_raw(&r, 4, b"");
    assert_file(&with(&p, ".err"), "4\n");
}

// ------------------------------------------------- zombie storm

/// The command of the zombie storms: leaves 1000 orphans (each a `sleep 0.2`
/// whose parent subshell exits at once), then counts, for up to ~3 s, the
/// zombies among the processes whose parent is the wrapper ($PPID; with
/// ANY=1, any process: in its own PID namespace), writes `ADOPTED ZOMBIES`
/// to $OUT (ADOPTED: the orphans it saw adopted by the wrapper right after
/// the storm), leaves one long orphan (its pid in $ORPHAN) and exits 5.
const ZOMBIE_STORM: &str = r#"
    exec </dev/null >/dev/null 2>&1
    i=0
    while [ $i -lt 1000 ]; do (sleep 0.2 &); i=$((i+1)); done
    count() {
        n=0
        for f in /proc/[0-9]*/stat; do
            read -r l < "$f" 2>/dev/null || continue
            [ "${l%% *}" = $$ ] && continue
            set -- ${l##*) }
            [ "$2" = "$PPID" ] || [ "$ANY" = 1 ] || continue
            case "$1" in $want) n=$((n+1));; esac
        done
        echo $n
    }
    want='[RSD]'; adopted=$(count)
    sleep 1
    want=Z; tries=0
    while z=$(count); [ "$z" != 0 ] && [ $tries -lt 20 ]; do sleep 0.1; tries=$((tries+1)); done
    echo "$adopted $z" > "$OUT"
    sleep 60 &
    echo $! > "$ORPHAN"
    exit 5
"#;

/// Checks the zombie storm's outcome: status 5, P.err, no zombie left.
fn check_zombie_storm(r: &Raw, out: &Path, p: &Path, adopted_too: bool) {
    assert_raw(r, 5, b"");
    assert_file(&with(p, ".err"), "5\n");
    let text = fs::read_to_string(out).expect("the command's counts");
    let v: Vec<u32> = text.split_whitespace().map(|n| n.parse().expect("a count")).collect();
    assert_eq!(v.len(), 2, "{text:?}");
    assert_eq!(v[1], 0, "zombies left unreaped ({text:?})");
    if adopted_too {
        assert!(v[0] > 0, "no orphan was adopted by the wrapper ({text:?})");
    }
}

#[test]
fn zombie_storm_as_pid_1_reaps_every_orphan() {
    if !is_root() {
        return skip("zombie_storm_as_pid_1_reaps_every_orphan", "needs root for a PID namespace");
    }
    let t = TempDir::new("faults-zombies-pid1");
    let (p, out, orphan) = (t.join("P"), t.join("counts"), t.join("orphan"));
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .args(tool_argv("entrypoint"))
        .args(argv([&"--post-file", &p, &"--", &"sh", &"-c", &ZOMBIE_STORM]))
        .env("OUT", &out)
        .env("ORPHAN", &orphan)
        .env("ANY", "1");
    // The wrapper is PID 1 of the namespace: when it exits (right after the
    // command), the kernel ends the long orphan too.
    let r = run_cmd(&mut cmd, "entrypoint as PID 1");
    check_zombie_storm(&r, &out, &p, false);
}

#[test]
fn zombie_storm_as_subreaper_reaps_every_orphan() {
    let t = TempDir::new("faults-zombies-sub");
    let (p, out, orphan) = (t.join("P"), t.join("counts"), t.join("orphan"));
    let mut cmd = tool("entrypoint");
    cmd.args(argv([&"--post-file", &p, &"--", &"sh", &"-c", &ZOMBIE_STORM]))
        .env("OUT", &out)
        .env("ORPHAN", &orphan)
        .env("ANY", "0");
    let r = run_cmd(&mut cmd, "entrypoint as subreaper");
    // qemu-user refuses PR_SET_CHILD_SUBREAPER (EINVAL): there the orphans go
    // to init, and only "no zombie of ours is left" can be checked.
    let adoption = !emulated();
    if !adoption {
        emulator_limit(
            "zombie_storm_as_subreaper_reaps_every_orphan",
            "adoption of orphans as subreaper (checked as PID 1 by zombie_storm_as_pid_1_reaps_every_orphan)",
        );
    }
    // The wrapper exited with its command, while the long orphan lives on.
    let orphan_pid = read_pid(&orphan);
    let _guard = PidGuard(orphan_pid);
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(orphan_pid, 0) } == 0;
    assert!(alive, "the orphan did not outlive the wrapper");
    check_zombie_storm(&r, &out, &p, adoption);
}

// ------------------------------------------------- hostile commands

#[test]
fn command_that_closes_or_redirects_its_output_still_gets_its_status() {
    let t = TempDir::new("faults-closed");
    for (i, script) in [
        "exec >&- 2>&-; exit 9",
        "exec <&- >&- 2>&-; sleep 0.1; exit 9",
        "exec >/dev/null 2>&1; echo lost; exit 9",
    ]
    .into_iter()
    .enumerate()
    {
        let p = t.join(&format!("P{i}"));
        let term = t.join(&format!("T{i}"));
        let r = run(
            "entrypoint",
            argv([&"--post-file", &p, &"--termination-path", &term, &"--", &"sh", &"-c", &script]),
        );
        assert_raw(&r, 9, b"");
        assert_file(&with(&p, ".err"), "9\n");
        assert_termination(&term, 9, "Error", None);
    }
}

#[test]
fn wrapper_started_with_stdio_closed_keeps_its_files_apart() {
    // With 0, 1 and 2 closed, the lock or a marker could take descriptor 2 and
    // receive the diagnostics: they must not.
    let t = TempDir::new("faults-no-stdio");
    let p = t.join("P");
    let term = t.join("T");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$@\" <&- >&- 2>&-", "sh"]).args(tool_argv("entrypoint")).args(argv([
        &"--post-file",
        &p,
        &"--termination-path",
        &term,
        &"--",
        &"no-such-command-here",
    ]));
    let r = run_cmd(cmd.env("PATH", PLAIN_PATH), "entrypoint without stdio");
    assert_raw(&r, 127, b"");
    assert_file(&with(&p, ".err"), "127\n");
    assert!(is_fifo(&harness::lock_of(&p)), ".P.lock is not the liveness pipe");
    assert_termination(
        &term,
        127,
        "Error",
        Some("entrypoint: cannot run 'no-such-command-here': No such file or directory"),
    );
}

#[test]
fn command_in_another_session_still_gets_its_status() {
    need("setsid", "util-linux");
    let t = TempDir::new("faults-setsid");
    let p = t.join("P");
    let term = t.join("T");
    // The command leads its own group, so setsid(1) forks: -w waits and passes
    // the status of the process in the new session on.
    let r = run(
        "entrypoint",
        argv([
            &"--post-file",
            &p,
            &"--termination-path",
            &term,
            &"--",
            &"sh",
            &"-c",
            &"exec setsid -w sh -c 'exit 9'",
        ]),
    );
    assert_raw(&r, 9, b"");
    assert_file(&with(&p, ".err"), "9\n");
    assert_termination(&term, 9, "Error", None);
}

#[test]
fn command_that_leaves_its_process_group_still_gets_signals_and_its_status() {
    need("perl", "perl-base");
    let t = TempDir::new("faults-setpgrp");
    let p = t.join("P");
    let ready = t.join("ready");
    // Joins the group of its parent's parent (this test's group), then exits 9
    // on SIGTERM: the wrapper must send TERM to the command itself.
    let script = r#"
        my $pg = getpgrp(getppid());
        setpgrp(0, $pg) or die "setpgrp: $!";
        $SIG{TERM} = sub { exit 9 };
        open(my $f, ">", $ARGV[0]) or die; close($f);
        sleep 1 while 1;
    "#;
    let mut ep = start("entrypoint", argv([&"--post-file", &p, &"--", &"perl", &"-e", &script, &ready]));
    assert!(eventually(LIMIT, || ready.exists()), "the command never got going");
    assert!(ep.running());
    send(ep.id(), libc::SIGTERM);
    let r = ep.finish(LIMIT, "entrypoint with a command out of its group");
    assert_raw(&r, 9, b"");
    assert_file(&with(&p, ".err"), "9\n");
}

#[test]
fn stale_and_planted_files_at_step_names_neither_break_nor_leak() {
    // What a wrapper killed while writing leaves (a regular `.P.tmp`), and
    // symlinks planted at the temporary, lock and marker names: the step's
    // files are written all the same and no symlink is followed.
    let t = TempDir::new("faults-planted");
    let steps = t.join("steps");
    fs::create_dir(&steps).expect("mkdir");
    let victim = t.join("victim");
    fs::write(&victim, "keep\n").expect("victim");
    let p = steps.join("P");
    fs::write(steps.join(".P.tmp"), "stale").expect("stale");
    for name in ["..P.lock.tmp", ".T.tmp", ".P.lock", "T"] {
        std::os::unix::fs::symlink(&victim, steps.join(name)).expect("symlink");
    }
    std::os::unix::fs::symlink(&victim, &p).expect("symlink");
    let term = steps.join("T");
    let r = run("entrypoint", argv([&"--post-file", &p, &"--termination-path", &term, &"--", &"true"]));
    assert_raw(&r, 0, b"");
    assert_file(&victim, "keep\n");
    for f in [&p, &term] {
        let m = fs::symlink_metadata(f).expect("stat");
        assert!(m.file_type().is_file(), "{} is not a regular file", f.display());
    }
    assert!(is_fifo(&harness::lock_of(&p)), ".P.lock is not the liveness pipe");
    assert_file(&p, "0\n");
    assert_termination(&term, 0, "Completed", None);
    // Only what was planted at the temporary names is left, untouched.
    assert_eq!(names(&steps), set(&[".P.tmp", "..P.lock.tmp", ".T.tmp", "P", ".P.lock", "T"]));
    assert_file(&steps.join(".P.tmp"), "stale");
    assert!(fs::symlink_metadata(steps.join(".T.tmp")).expect("stat").file_type().is_symlink());
}

#[test]
fn bind_mounted_termination_file_is_rewritten_in_place() {
    // Kubernetes bind-mounts the terminationMessagePath file: rename over it
    // fails (EBUSY), so the message is written into it.
    if !is_root() {
        return skip("bind_mounted_termination_file_is_rewritten_in_place", "mounting needs root");
    }
    let t = TempDir::new("faults-bind");
    let host = t.join("host-file");
    fs::write(&host, "x".repeat(5000)).expect("host file");
    let dir = t.join("dir");
    fs::create_dir(&dir).expect("mkdir");
    let term = dir.join("termination-log");
    fs::write(&term, "").expect("mount point");
    let (src, dst) = (CString::new(b(&host)).expect("path"), CString::new(b(&term)).expect("path"));
    // SAFETY: valid NUL-terminated strings that outlive the call.
    let rc =
        unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) };
    assert_eq!(rc, 0, "bind-mount the termination file as root: {}", std::io::Error::last_os_error());
    let _m = Mount(dst);
    let p = t.join("P");
    let r = run(
        "entrypoint",
        argv([&"--post-file", &p, &"--termination-path", &term, &"--", &"sh", &"-c", &"exit 6"]),
    );
    assert_raw(&r, 6, b"");
    // The old, longer content is gone (truncated), the file is the same one.
    assert_termination(&term, 6, "Error", None);
    assert_termination(&host, 6, "Error", None);
    assert_eq!(names(&dir), set(&["termination-log"]));
}

// ------------------------------------------------- hostile paths

/// A directory name with a space, a newline, a tab, DEL, UTF-8 and bytes
/// that are not UTF-8.
fn hostile_name() -> OsString {
    OsString::from_vec(b"we ird\nname\t\x7f-\xc3\xa9-\xff\xfe".to_vec())
}

#[test]
fn hostile_paths_make_correct_markers_lines_and_json() {
    let t = TempDir::new("faults-hostile");
    let dir = t.path().join(hostile_name());
    let dep = dir.join(OsString::from_vec(b"dep \n\x01\xff".to_vec()));
    let p = dir.join(OsString::from_vec(b"post \n\xfe".to_vec()));
    let term = dir.join(OsString::from_vec(b"term\n\xfd/T \x1b".to_vec()));

    // A step that succeeds, then its dependents, through hostile names.
    let r = run("entrypoint", argv([&"--post-file", &dep, &"--", &"true"]));
    assert_raw(&r, 0, b"");
    assert_file(&dep, "0\n");
    assert_raw(&run("waitfor", [&dep]), 0, b"");
    let r = run(
        "entrypoint",
        argv([
            &"--wait",
            &dep,
            &"--post-file",
            &p,
            &"--termination-path",
            &term,
            &"--",
            &"sh",
            &"-c",
            &"exit 3",
        ]),
    );
    assert_raw(&r, 3, b"");
    assert_file(&with(&p, ".err"), "3\n");
    assert_termination(&term, 3, "Error", None);

    // A failed dependency: the line escapes control characters and passes
    // other bytes on; the Message is the same text as JSON.
    fs::remove_file(&dep).expect("rm");
    fs::write(with(&dep, ".err"), "2\n").expect("write");
    let r = run(
        "entrypoint",
        argv([&"--wait", &dep, &"--post-file", &p, &"--termination-path", &term, &"--", &"true"]),
    );
    let line = failed("entrypoint", &dep);
    assert_raw(&r, 1, &line);
    assert_eq!(line.iter().filter(|&&c| c == b'\n').count(), 1);
    assert_file(&with(&p, ".err"), "1\n");
    let message = message_of(&line);
    assert!(message.contains("\\x0a") && message.contains('\u{fffd}') && message.contains('é'));
    assert_unstarted_termination(&term, 1, "Skipped", Some(&message));
    let r = run("waitfor", [&dep]);
    assert_raw(&r, 1, &failed("waitfor", &dep));

    // A command that cannot be found, named with every kind of byte.
    let cmd = OsString::from_vec(b"no such\n\"cmd\\\x02\xff\xc3\xa9".to_vec());
    let r = run_cmd(
        tool("entrypoint").env("PATH", PLAIN_PATH).args(argv([
            &"--post-file",
            &p,
            &"--termination-path",
            &term,
            &"--",
            &cmd,
        ])),
        "entrypoint",
    );
    let line =
        concat(&[b"entrypoint: cannot run '", &shown(cmd.as_bytes()), b"': No such file or directory\n"]);
    assert_raw(&r, 127, &line);
    assert_file(&with(&p, ".err"), "127\n");
    let message = message_of(&line);
    assert_eq!(
        message,
        "entrypoint: cannot run 'no such\\x0a\"cmd\\\\x02\u{fffd}é': No such file or directory"
    );
    assert_termination(&term, 127, "Error", Some(&message));
    // The raw file holds the escapes JSON needs: \" \\ and \ufffd.
    let raw = fs::read(&term).expect("read");
    let raw = String::from_utf8(raw).expect("the message is UTF-8");
    assert!(raw.contains(r#"no such\\x0a\"cmd\\\\x02\ufffdé'"#), "escaping in {raw}");
    assert_no_temporaries(&dir);
}

/// A path of `len - 101` to `len - 1` bytes under `root`, ending in `leaf`:
/// 100-byte directory names.
fn deep_path(root: &Path, len: usize, leaf: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    let mut i = 0;
    while b(&p).len() + 101 + leaf.len() + 1 < len {
        p.push(format!("{i:02}{}", "d".repeat(98)));
        i += 1;
    }
    p.join(leaf)
}

#[test]
fn paths_of_4000_bytes_work_for_markers_waits_and_messages() {
    let t = TempDir::new("faults-deep");
    let p = deep_path(&t.join("a"), 4000, "P");
    let term = deep_path(&t.join("b"), 4000, "T");
    let q = deep_path(&t.join("c"), 4000, "Q");
    assert!(b(&p).len() > 3800 && b(&p).len() <= 4000, "{}", b(&p).len());

    // A waiter whose directories do not exist yet (20 levels down).
    let mut w = start("waitfor", [&p]);
    wait_until_polling(&mut w, "waitfor on a deep path");
    let r = run("entrypoint", argv([&"--post-file", &p, &"--termination-path", &term, &"--", &"true"]));
    assert_raw(&r, 0, b"");
    assert_file(&p, "0\n");
    assert_termination(&term, 0, "Completed", None);
    assert_raw(&w.finish(LIMIT, "waitfor on a deep path"), 0, b"");

    let r = run(
        "entrypoint",
        argv([
            &"--wait",
            &p,
            &"--post-file",
            &q,
            &"--termination-path",
            &term,
            &"--",
            &"sh",
            &"-c",
            &"exit 3",
        ]),
    );
    assert_raw(&r, 3, b"");
    assert_file(&with(&q, ".err"), "3\n");

    // A failed dependency named by a deep path: one line, and a Message cut
    // to keep the termination message within 4096 bytes, still valid JSON.
    let r = run(
        "entrypoint",
        argv([&"--wait", &q, &"--post-file", &with(&p, "2"), &"--termination-path", &term, &"--", &"true"]),
    );
    let line = failed("entrypoint", &q);
    assert_raw(&r, 1, &line);
    let pairs = termination(&term);
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    // Skipped: COMMAND never started, so no StartedAt.
    assert_eq!(keys, ["ExitCode", "Reason", "Message"]);
    assert_eq!((pairs[0].1.as_str(), pairs[1].1.as_str()), ("1", "Skipped"));
    let full = message_of(&line);
    assert!(
        full.starts_with(&pairs[2].1) && pairs[2].1.len() > 3500,
        "Message {} bytes of {}",
        pairs[2].1.len(),
        full.len()
    );
    assert_no_temporaries(p.parent().expect("parent"));
}

#[test]
fn path_too_long_for_the_lock_fails_early_with_125() {
    let t = TempDir::new("faults-toolong");
    // P itself fits in PATH_MAX (4096 with its NUL), .P.lock does not.
    let dir = deep_path(t.path(), 4000, "x").parent().expect("parent").to_path_buf();
    let name_len = 4093 - b(&dir).len() - 1;
    assert!((1..=250).contains(&name_len), "{name_len}");
    let p = dir.join("p".repeat(name_len));
    assert_eq!(b(&p).len(), 4093);
    fs::create_dir_all(&dir).expect("mkdir");
    let ran = t.join("ran");
    let r = run("entrypoint", argv([&"--post-file", &p, &"--", &"sh", &"-c", &"echo ran > \"$0\"", &ran]));
    let want = concat(&[
        b"entrypoint: cannot create '",
        &shown(b(&harness::lock_of(&p))),
        b"': Filename too long\n",
    ]);
    assert_raw(&r, 125, &want);
    assert_absent(&ran);
}
