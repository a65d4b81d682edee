//! Black-box tests of `--while-alive P` (waitfor and entrypoint's wait
//! phase; docs/steps.md, "Ready targets"): a wait for a sidecar's ready
//! target fails the moment the sidecar's wrapper has ended without it, as a
//! failed dependency does. Real processes: the sidecar is an `entrypoint`
//! wrapper, its death a SIGKILL. Every waiter runs with `--interval 1h`, so
//! only events (a directory watch before the sidecar starts, its lock pipe
//! after) can end its wait within the test's bound. With guards alone (no
//! TARGET, no `--wait` path) P is looked at once: the command starts only
//! while P's step lives.

use harness::{children, eventually, free_port, lock_held, lock_of, tool, Ran, TempDir};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 20.0;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

/// Waits for `child` for up to `secs` (killing it after), and what it did.
fn finish(mut child: Child, secs: f64, what: &str) -> Ran {
    if !eventually(secs, || child.try_wait().expect("try_wait").is_some()) {
        let _ = child.kill();
        panic!("{what} did not end within {secs} s");
    }
    child.wait_with_output().expect("output").into()
}

fn assert_ran(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

/// A waitfor that waits for `target` while the sidecar `db` lives, then
/// runs `echo ran`; returned once it sleeps in poll.
fn waiter(db: &Path, target: &str, extra: &[&str]) -> Child {
    let mut c = tool("waitfor");
    c.args(["--interval", "1h"]).args(extra).args(["--while-alive", &s(db), target, "--", "echo", "ran"]);
    let c = spawn(&mut c);
    thread::sleep(Duration::from_millis(300));
    c
}

/// The sidecar's wrapper, as `steps` renders it: `entrypoint --post-file
/// DIR/db/out --stop-when END -- sh -c SCRIPT`.
fn sidecar(db: &Path, end: &Path, script: &str) -> Child {
    spawn(tool("entrypoint").args(["--post-file", &s(db), "--stop-when", &s(end), "--", "sh", "-c", script]))
}

#[test]
fn a_sidecar_that_exits_at_start_fails_the_wait_at_once() {
    let t = TempDir::new("wa-exit");
    let (db, end) = (t.join("db/out"), t.join("end"));
    let target = format!("tcp://127.0.0.1:{}", free_port());
    // The waiter starts first: the sidecar has no lock yet (a directory watch).
    let w = waiter(&db, &target, &[]);
    assert_ran(&finish(sidecar(&db, &end, "exit 1"), LIMIT, "sidecar"), 1, "", "");
    let want =
        format!("waitfor: step '{}' ended while waiting for '{target}' (last: Connection refused)\n", s(&db));
    assert_ran(&finish(w, LIMIT, "waitfor"), 1, "", &want);
}

#[test]
fn a_sidecar_whose_wrapper_is_killed_fails_the_wait_as_a_death() {
    let t = TempDir::new("wa-kill");
    let (db, end) = (t.join("db/out"), t.join("end"));
    let target = format!("tcp://127.0.0.1:{}", free_port());
    let mut side = sidecar(&db, &end, "exec sleep 60");
    assert!(eventually(LIMIT, || lock_held(&lock_of(&db))), "the sidecar never took its lock");
    // The sidecar has started: the waiter watches its lock pipe alone.
    let w = waiter(&db, &target, &[]);
    let grandchildren = children(side.id());
    side.kill().expect("SIGKILL the wrapper");
    let _ = side.wait();
    for pid in grandchildren {
        // SAFETY: kill(2) of the wrapper's command, an orphan now.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    let want =
        format!("waitfor: step '{}' died while waiting for '{target}' (last: Connection refused)\n", s(&db));
    assert_ran(&finish(w, LIMIT, "waitfor"), 1, "", &want);
}

#[test]
fn a_live_sidecar_whose_port_opens_lets_the_command_run() {
    let t = TempDir::new("wa-up");
    let (db, end) = (t.join("db/out"), t.join("end"));
    let port = free_port();
    let target = format!("tcp://127.0.0.1:{port}");
    let side = sidecar(&db, &end, "exec sleep 60");
    assert!(eventually(LIMIT, || lock_held(&lock_of(&db))), "the sidecar never took its lock");
    let mut c = tool("waitfor");
    c.args(["--interval", "100ms", "--while-alive", &s(&db), &target, "--", "echo", "ran"]);
    let w = spawn(&mut c);
    thread::sleep(Duration::from_millis(300));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    assert_ran(&finish(w, LIMIT, "waitfor"), 0, "ran\n", "");
    drop(listener);
    std::fs::write(&end, "").expect("end");
    assert_ran(&finish(side, LIMIT, "sidecar"), 0, "", "");
}

#[test]
fn with_always_the_command_runs_once_the_sidecar_has_ended() {
    let t = TempDir::new("wa-always");
    let (db, end) = (t.join("db/out"), t.join("end"));
    let target = format!("tcp://127.0.0.1:{}", free_port());
    let w = waiter(&db, &target, &["--always"]);
    assert_ran(&finish(sidecar(&db, &end, "exit 1"), LIMIT, "sidecar"), 1, "", "");
    assert_ran(&finish(w, LIMIT, "waitfor"), 0, "ran\n", "");
}

/// entrypoint's wait phase (waitfor's code): the step is skipped, P.err,
/// status 1, Reason `Skipped` (`DependencyDied` when the sidecar's wrapper
/// was killed), and the line is the message.
#[test]
fn entrypoint_skips_its_step_when_the_sidecar_ends_without_its_ready_file() {
    for killed in [false, true] {
        let t = TempDir::new("wa-ep");
        let (db, end, ready) = (t.join("db/out"), t.join("end"), t.join("db/ready"));
        let (p, tm) = (t.join("a/out"), t.join("a/termination"));
        let mut side = sidecar(&db, &end, "exec sleep 60");
        assert!(eventually(LIMIT, || lock_held(&lock_of(&db))), "the sidecar never took its lock");
        let step = spawn(tool("entrypoint").args([
            "--wait",
            &s(&ready),
            "--while-alive",
            &s(&db),
            "--post-file",
            &s(&p),
            "--termination-path",
            &s(&tm),
            "--",
            "echo",
            "ran",
        ]));
        assert!(eventually(LIMIT, || lock_held(&lock_of(&p))), "the step never started waiting");
        thread::sleep(Duration::from_millis(200));
        let grandchildren = children(side.id());
        if killed {
            side.kill().expect("SIGKILL the wrapper");
            for pid in &grandchildren {
                // SAFETY: kill(2) of the wrapper's command, an orphan now.
                unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
            }
        } else {
            for pid in &grandchildren {
                // SAFETY: kill(2) of the sidecar's command: it exits 137.
                unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        let _ = side.wait();
        let (verb, reason) = if killed { ("died", "DependencyDied") } else { ("ended", "Skipped") };
        let line = format!("step '{}' {verb} while waiting for '{}'", s(&db), s(&ready));
        assert_ran(&finish(step, LIMIT, "entrypoint"), 1, "", &format!("entrypoint: {line}\n"));
        assert_eq!(std::fs::read_to_string(t.join("a/out.err")).expect("P.err"), "1\n");
        let msg = std::fs::read_to_string(&tm).expect("termination message");
        assert!(msg.contains(&format!(r#"{{"key":"Reason","value":"{reason}","type":3}}"#)), "{msg}");
        let json_line = line.replace('\\', "\\\\").replace('"', "\\\"");
        assert!(
            msg.contains(&format!(r#"{{"key":"Message","value":"entrypoint: {json_line}","type":3}}"#)),
            "{msg}"
        );
    }
}

// ------------------------------------------------- guards alone (no path)
//
// `--while-alive P` with no TARGET (waitfor) or no `--wait` path (entrypoint):
// the command starts only while step P is alive. P is looked at once: ended
// (`P`, `P.err`) or died (its lock free), the wait fails as for a failed
// dependency; alive or not started yet, the command runs at once.

/// How the sidecar `db` is left for a guard-only wait.
#[derive(Clone, Copy, Debug)]
enum Db {
    /// Its wrapper ran `exit 1`: `db/out.err`.
    Failed,
    /// Its wrapper ran `exit 0`: `db/out`.
    Done,
    /// Its wrapper was SIGKILLed: the lock is free, no marker.
    Killed,
    /// Its wrapper holds its lock (running `sleep 60`); returned to be ended.
    Alive,
    /// Nothing yet: not started.
    NotStarted,
}

/// Puts the sidecar `db` (post file `db`) in state `how`; a live one is returned.
fn prepare(db: &Path, end: &Path, how: Db) -> Option<Child> {
    let script = match how {
        Db::Failed => "exit 1",
        Db::Done => "exit 0",
        Db::Killed | Db::Alive => "exec sleep 60",
        Db::NotStarted => return None,
    };
    let mut side = sidecar(db, end, script);
    match how {
        Db::Failed | Db::Done => {
            let code = if matches!(how, Db::Failed) { 1 } else { 0 };
            assert_ran(&finish(side, LIMIT, "sidecar"), code, "", "");
            None
        }
        _ => {
            // Its command has exec'd `sleep` (before that, the forked child
            // still shares the wrapper's lock, and would hold it a moment more).
            let is_sleep = |pid: &u32| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            };
            let started = eventually(LIMIT, || children(side.id()).iter().any(is_sleep));
            assert!(started && lock_held(&lock_of(db)), "the sidecar's command never started");
            if matches!(how, Db::Alive) {
                return Some(side);
            }
            let grandchildren = children(side.id());
            side.kill().expect("SIGKILL the wrapper");
            let _ = side.wait();
            for pid in grandchildren {
                // SAFETY: kill(2) of the wrapper's command, an orphan now.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            None
        }
    }
}

/// Ends a live sidecar through its `--stop-when` path.
fn stop(side: Option<Child>, end: &Path) {
    if let Some(side) = side {
        std::fs::write(end, "").expect("end");
        assert_ran(&finish(side, LIMIT, "sidecar"), 0, "", "");
    }
}

/// The wait's line for a guard whose step has ended (`None`: it has not).
fn ended_line(db: &Path, how: Db) -> Option<String> {
    match how {
        Db::Failed | Db::Done => Some(format!("step '{}' ended", s(db))),
        Db::Killed => Some(format!("step '{}' died without a result", s(db))),
        Db::Alive | Db::NotStarted => None,
    }
}

const EVERY_STATE: [Db; 5] = [Db::Failed, Db::Done, Db::Killed, Db::Alive, Db::NotStarted];

#[test]
fn entrypoint_with_a_guard_and_no_wait_runs_only_while_the_guarded_step_is_alive() {
    for how in EVERY_STATE {
        let t = TempDir::new("wa-ep-alone");
        let (db, end) = (t.join("db/out"), t.join("end"));
        let (p, tm, ran) = (t.join("a/out"), t.join("a/termination"), t.join("ran"));
        let side = prepare(&db, &end, how);
        let step = spawn(tool("entrypoint").args([
            &format!("--while-alive={}", s(&db)),
            &format!("--post-file={}", s(&p)),
            &format!("--termination-path={}", s(&tm)),
            "--",
            "sh",
            "-c",
            &format!("echo ran; : > {}", s(&ran)),
        ]));
        let r = finish(step, LIMIT, "entrypoint");
        let msg = std::fs::read_to_string(&tm).expect("termination message");
        match ended_line(&db, how) {
            Some(line) => {
                assert_ran(&r, 1, "", &format!("entrypoint: {line}\n"));
                assert_eq!(std::fs::read_to_string(t.join("a/out.err")).expect("P.err"), "1\n", "{how:?}");
                assert!(!p.exists() && !ran.exists(), "{how:?}: the command ran");
                let reason = if matches!(how, Db::Killed) { "DependencyDied" } else { "Skipped" };
                // Never started: no StartedAt.
                let want = format!(
                    r#"[{{"key":"ExitCode","value":"1","type":3}},{{"key":"Reason","value":"{reason}","type":3}},{{"key":"Message","value":"entrypoint: {line}","type":3}}]"#
                );
                assert_eq!(msg, want, "{how:?}");
            }
            None => {
                assert_ran(&r, 0, "ran\n", "");
                assert_eq!(std::fs::read_to_string(&p).expect("P"), "0\n", "{how:?}");
                assert!(msg.contains(r#"{"key":"Reason","value":"Completed","type":3}"#), "{how:?}: {msg}");
            }
        }
        stop(side, &end);
    }
}

#[test]
fn entrypoint_with_a_guard_no_wait_and_always_runs_whatever_the_guarded_step_did() {
    for how in [Db::Failed, Db::Killed] {
        let t = TempDir::new("wa-ep-alone-always");
        let (db, end, p) = (t.join("db/out"), t.join("end"), t.join("a/out"));
        prepare(&db, &end, how);
        let r = finish(
            spawn(tool("entrypoint").args([
                "--always",
                "--while-alive",
                &s(&db),
                "--post-file",
                &s(&p),
                "--",
                "echo",
                "ran",
            ])),
            LIMIT,
            "entrypoint",
        );
        assert_ran(&r, 0, "ran\n", "");
        assert_eq!(std::fs::read_to_string(&p).expect("P"), "0\n", "{how:?}");
    }
}

#[test]
fn waitfor_with_a_guard_and_no_target_runs_only_while_the_guarded_step_is_alive() {
    for how in EVERY_STATE {
        let t = TempDir::new("wa-wf-alone");
        let (db, end) = (t.join("db/out"), t.join("end"));
        let side = prepare(&db, &end, how);
        let guard = format!("--while-alive={}", s(&db));
        // No COMMAND: the exit status says it.
        let alone = finish(spawn(tool("waitfor").arg(&guard)), LIMIT, "waitfor");
        // With one: the first `--` ends the options, the second the (empty) TARGETs.
        let chained =
            finish(spawn(tool("waitfor").args([&guard, "--", "--", "echo", "ran"])), LIMIT, "waitfor");
        match ended_line(&db, how) {
            Some(line) => {
                let want = format!("waitfor: {line}\n");
                assert_ran(&alone, 1, "", &want);
                assert_ran(&chained, 1, "", &want);
            }
            None => {
                assert_ran(&alone, 0, "", "");
                assert_ran(&chained, 0, "ran\n", "");
            }
        }
        let always = finish(
            spawn(tool("waitfor").args(["--always", &guard, "--", "--", "echo", "ran"])),
            LIMIT,
            "waitfor --always",
        );
        assert_ran(&always, 0, "ran\n", "");
        stop(side, &end);
    }
}

#[test]
fn waitfor_without_a_target_or_a_guard_is_a_usage_error() {
    for args in [&[][..], &["--", "--", "echo", "ran"], &["--always"]] {
        let r = finish(spawn(tool("waitfor").args(args)), LIMIT, "waitfor");
        assert_ran(&r, 125, "", "waitfor: missing PATH (try 'waitfor --help')\n");
    }
}

/// The rendering of a step that waits for a sidecar's ready target, played
/// with real wrappers: `waitfor --always --while-alive=P TARGET -- entrypoint
/// --while-alive=P --post-file=... -- CMD`. The sidecar exits at start:
/// waitfor hands over (`--always`), and entrypoint, with no `--wait`, records
/// the step as skipped, so that the skip cascades.
#[test]
fn the_rendered_ready_wait_records_the_step_as_skipped_when_the_sidecar_ends() {
    let t = TempDir::new("wa-rendered");
    let (db, end) = (t.join("db/out"), t.join("end"));
    let (p, tm) = (t.join("a/out"), t.join("a/termination"));
    let target = format!("tcp://127.0.0.1:{}", free_port());
    let guard = format!("--while-alive={}", s(&db));
    let mut c = tool("waitfor");
    c.args(["--interval", "1h", "--always", &guard, &target, "--"]);
    c.args(harness::tool_argv("entrypoint"));
    c.args([&guard, &format!("--post-file={}", s(&p)), &format!("--termination-path={}", s(&tm))]);
    c.args(["--", "echo", "ran"]);
    let step = spawn(&mut c);
    thread::sleep(Duration::from_millis(300));
    assert_ran(&finish(sidecar(&db, &end, "exit 1"), LIMIT, "sidecar"), 1, "", "");
    let line = format!("step '{}' ended", s(&db));
    assert_ran(&finish(step, LIMIT, "the step"), 1, "", &format!("entrypoint: {line}\n"));
    assert_eq!(std::fs::read_to_string(t.join("a/out.err")).expect("P.err"), "1\n");
    let msg = std::fs::read_to_string(&tm).expect("termination message");
    assert!(msg.contains(r#"{"key":"Reason","value":"Skipped","type":3}"#), "{msg}");
}
