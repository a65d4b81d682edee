//! Black-box tests of `entrypoint --retries N --retry-delay D` (docs/design.md
//! section 3): a failing COMMAND (a non-zero status, a signal, a timed-out
//! attempt) runs again, up to N more times, after D, 2D, 4D...; a TERM or INT
//! during an attempt or a delay is a cancellation, never retried; the marker
//! and the termination message are written once, after the last attempt, with
//! an `Attempts` entry; the results are the last attempt's; `--stdout-path`
//! and `--stderr-path` hold every attempt's output.
//!
//! Attempts are counted, not timed: each attempt of the test commands appends
//! a line to a file (`count`), and a command decides from that count whether
//! it fails. The only times checked are lower bounds (a delay is never shorter
//! than asked), which a slow machine cannot break. Every child is waited for
//! with a generous bound that kills it and fails the test instead of hanging.

use harness::{children, emulated, eventually, json, tool, Ran, TempDir};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 30.0;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Starts entrypoint with `args` in `dir`, stdin closed, output captured,
/// the signals the tests send at their default disposition.
fn start(dir: &Path, args: &[&str]) -> Child {
    let mut c = tool("entrypoint");
    c.args(args).current_dir(dir);
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls signal(2), which is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGPIPE] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

/// Waits for `child` for up to `LIMIT` (killing it after), and what it did.
fn finish(mut child: Child, what: &str) -> Ran {
    if !eventually(LIMIT, || child.try_wait().expect("try_wait").is_some()) {
        // SAFETY: kill(2) of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        if !eventually(2.0, || child.try_wait().expect("try_wait").is_some()) {
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("wait");
        panic!("{what}: still running after {LIMIT} s: {:?}", Ran::from(out));
    }
    child.wait_with_output().expect("output").into()
}

fn run(dir: &Path, args: &[&str]) -> Ran {
    finish(start(dir, args), "entrypoint")
}

#[track_caller]
fn assert_ran(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

fn send(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid this test started and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0, "kill({pid}, {sig})");
}

/// A step's directory: its post file `p`, termination message `t`, the
/// attempts' `count` file.
struct Step {
    dir: TempDir,
}

impl Step {
    fn new(tag: &str) -> Step {
        Step { dir: TempDir::new(tag) }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `--post-file DIR/p --termination-path DIR/t`, then `extra`, then
    /// `-- sh -c SCRIPT` (the script runs in DIR).
    fn args(&self, extra: &[&str], script: &str) -> Vec<String> {
        let mut v = vec![
            "--post-file".to_string(),
            s(&self.path("p")),
            "--termination-path".to_string(),
            s(&self.path("t")),
        ];
        v.extend(extra.iter().map(|a| a.to_string()));
        v.extend(["--".to_string(), "sh".to_string(), "-c".to_string(), script.to_string()]);
        v
    }

    fn run(&self, extra: &[&str], script: &str) -> Ran {
        let args = self.args(extra, script);
        run(self.dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn start(&self, extra: &[&str], script: &str) -> Child {
        let args = self.args(extra, script);
        start(self.dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// How many attempts ran (lines in `count`).
    fn attempts(&self) -> usize {
        fs::read_to_string(self.path("count")).map_or(0, |c| c.lines().count())
    }

    /// The markers: (`p`, `p.err`).
    fn markers(&self) -> (Option<String>, Option<String>) {
        (fs::read_to_string(self.path("p")).ok(), fs::read_to_string(self.path("p.err")).ok())
    }

    #[track_caller]
    fn assert_marker(&self, status: u8) {
        let want = if status == 0 { (Some("0\n".into()), None) } else { (None, Some(format!("{status}\n"))) };
        assert_eq!(self.markers(), want);
    }

    /// The termination message as (key, value, type), in order.
    fn message(&self) -> Vec<(String, String, String)> {
        entries(&self.path("t"))
    }

    /// Our entries of the message, StartedAt's value replaced by "T" (it is
    /// checked to be a timestamp), results left out.
    #[track_caller]
    fn ours(&self) -> Vec<(String, String)> {
        self.message()
            .into_iter()
            .filter(|(_, _, ty)| ty == "3")
            .map(|(k, v, _)| {
                if k == "StartedAt" {
                    assert!(v.len() == 24 && v.ends_with('Z') && v.as_bytes()[10] == b'T', "StartedAt {v:?}");
                    (k, "T".to_string())
                } else if k == "Message" {
                    // the whole line the wrapper printed: shown here without
                    // its `entrypoint: `, as the tests write the lines
                    let line = v.strip_prefix("entrypoint: ").unwrap_or_else(|| panic!("Message {v:?}"));
                    (k, line.to_string())
                } else {
                    (k, v)
                }
            })
            .collect()
    }
}

/// The termination message at `path`: (key, value, type) of every entry.
#[track_caller]
fn entries(path: &Path) -> Vec<(String, String, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.len() <= 4096, "{} bytes", text.len());
    let json::Value::Arr(items) = json::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}")) else {
        panic!("not an array: {text}")
    };
    items
        .into_iter()
        .map(|item| match item {
            json::Value::Obj(m) => {
                match <[(String, json::Value); 3]>::try_from(m) {
                    Ok(
                        [(k, json::Value::Str(key)), (v, json::Value::Str(value)), (t, json::Value::Num(ty))],
                    ) if k == "key" && v == "value" && t == "type" => (key, value, ty),
                    other => panic!("bad entry {other:?} in {text}"),
                }
            }
            other => panic!("bad entry {other:?} in {text}"),
        })
        .collect()
}

/// `[(k, v)...]` as owned pairs.
fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A script that counts its attempt, then fails (`exit 3`) until attempt `n`.
fn fails_until(n: usize) -> String {
    format!("echo x >> count; [ $(wc -l < count) -ge {n} ] || exit 3")
}

/// The usage line of entrypoint.
fn usage_line(msg: &str) -> String {
    format!("entrypoint: {msg} (try 'entrypoint --help')\n")
}

/// Blocks until the step's wrapper `pid` is between attempts: `n` attempts
/// have run, it has no child left, and it sleeps in `poll`.
fn wait_for_the_delay(st: &Step, pid: u32, n: usize) {
    let between = eventually(LIMIT, || {
        st.attempts() == n
            && children(pid).is_empty()
            && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
    });
    assert!(between, "the wrapper never waited after attempt {n} ({} attempts)", st.attempts());
}

// ---------------------------------------------------------------- statuses

#[test]
fn a_command_that_succeeds_on_its_third_attempt_succeeds_with_attempts_3() {
    let st = Step::new("rt-third");
    let r = st.run(&["--retries", "5", "--retry-delay", "10ms"], &fails_until(3));
    assert_ran(&r, 0, "", "");
    assert_eq!(st.attempts(), 3);
    st.assert_marker(0);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "0"), ("Reason", "Completed"), ("Attempts", "3")])
    );
}

#[test]
fn a_command_that_always_fails_runs_n_plus_1_times_and_ends_with_the_last_status() {
    let st = Step::new("rt-fail");
    // The status of each attempt is its number: the last one's is the step's.
    let script = "echo x >> count; exit $(wc -l < count)";
    let r = st.run(&["--retries=2", "--retry-delay=10ms"], script);
    assert_ran(&r, 3, "", "");
    assert_eq!(st.attempts(), 3);
    st.assert_marker(3);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "3"), ("Reason", "Error"), ("Attempts", "3")])
    );
}

#[test]
fn a_command_killed_by_a_signal_is_retried() {
    let st = Step::new("rt-signaled");
    let script = "echo x >> count; [ $(wc -l < count) -ge 2 ] || kill -KILL $$";
    let r = st.run(&["--retries", "1", "--retry-delay", "0"], script);
    assert_ran(&r, 0, "", "");
    assert_eq!(st.attempts(), 2);
    st.assert_marker(0);
    // The other way round: the last attempt killed.
    let st = Step::new("rt-signaled-last");
    let r = st.run(&["--retries", "1", "--retry-delay", "0"], "echo x >> count; kill -KILL $$");
    assert_ran(&r, 137, "", "");
    assert_eq!(st.attempts(), 2);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "137"), ("Reason", "Signaled"), ("Attempts", "2")])
    );
}

#[test]
fn without_retries_or_with_0_the_message_has_no_attempts_entry() {
    for extra in
        [&[][..], &["--retries", "0"], &["--retries=0", "--retry-delay=5s"], &["--retry-delay", "1h"]]
    {
        let st = Step::new("rt-none");
        let r = st.run(extra, "echo x >> count; exit 4");
        assert_ran(&r, 4, "", "");
        assert_eq!(st.attempts(), 1, "{extra:?}");
        st.assert_marker(4);
        assert_eq!(st.ours(), kv(&[("StartedAt", "T"), ("ExitCode", "4"), ("Reason", "Error")]), "{extra:?}");
    }
}

#[test]
fn a_first_attempt_that_succeeds_has_attempts_1() {
    let st = Step::new("rt-first");
    let r = st.run(&["--retries", "3"], "echo x >> count; echo out");
    assert_ran(&r, 0, "out\n", "");
    assert_eq!(st.attempts(), 1);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "0"), ("Reason", "Completed"), ("Attempts", "1")])
    );
}

#[test]
fn on_error_continue_applies_to_the_last_attempt() {
    let st = Step::new("rt-continue");
    let r = st.run(
        &["--retries", "2", "--retry-delay", "10ms", "--on-error", "continue"],
        "echo x >> count; exit 5",
    );
    assert_ran(&r, 0, "", "");
    assert_eq!(st.attempts(), 3);
    st.assert_marker(0);
    // Tekton's "continued" shape: the real ExitCode, no Reason.
    assert_eq!(st.ours(), kv(&[("StartedAt", "T"), ("ExitCode", "5"), ("Attempts", "3")]));
    // A later attempt that succeeds is a plain success.
    let st = Step::new("rt-continue-ok");
    let r = st.run(&["--retries", "2", "--retry-delay", "10ms", "--on-error=continue"], &fails_until(2));
    assert_ran(&r, 0, "", "");
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "0"), ("Reason", "Completed"), ("Attempts", "2")])
    );
}

#[test]
fn a_command_that_cannot_be_run_is_not_retried() {
    // Nothing ran: the same PATH search gives the same answer.
    let st = Step::new("rt-127");
    let r = run(
        st.dir.path(),
        &[
            "--post-file",
            &s(&st.path("p")),
            "--termination-path",
            &s(&st.path("t")),
            "--retries",
            "3",
            "--",
            "no-such-cmd",
        ],
    );
    let line = "cannot run 'no-such-cmd': No such file or directory";
    assert_ran(&r, 127, "", &format!("entrypoint: {line}\n"));
    st.assert_marker(127);
    assert_eq!(
        st.ours(),
        kv(&[
            ("StartedAt", "T"),
            ("ExitCode", "127"),
            ("Reason", "Error"),
            ("Attempts", "1"),
            ("Message", line)
        ])
    );
}

#[test]
fn a_skipped_step_with_retries_has_neither_started_at_nor_attempts() {
    let st = Step::new("rt-skip");
    fs::write(st.path("dep.err"), "1\n").expect("a failed dependency");
    let r = st.run(&["--wait", &s(&st.path("dep")), "--retries", "3"], "echo x >> count");
    let line = format!("step '{}' failed", s(&st.path("dep")));
    assert_ran(&r, 1, "", &format!("entrypoint: {line}\n"));
    assert_eq!(st.attempts(), 0);
    st.assert_marker(1);
    assert_eq!(st.ours(), kv(&[("ExitCode", "1"), ("Reason", "Skipped"), ("Message", &line)]));
}

// ---------------------------------------------------------------- timeouts

#[test]
fn a_timed_out_attempt_is_retried() {
    let st = Step::new("rt-timeout");
    // The first attempt hangs and is stopped at its --timeout; the second ends.
    let script = "echo x >> count; [ $(wc -l < count) -ge 2 ] || exec sleep 60";
    let r =
        st.run(&["--timeout", "300ms", "--grace", "1s", "--retries", "1", "--retry-delay", "10ms"], script);
    // Only the last attempt's outcome is told.
    assert_ran(&r, 0, "", "");
    assert_eq!(st.attempts(), 2);
    st.assert_marker(0);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "0"), ("Reason", "Completed"), ("Attempts", "2")])
    );
}

#[test]
fn every_attempt_timed_out_is_124_told_once() {
    let st = Step::new("rt-timeout-all");
    let r =
        st.run(&["--timeout=200ms", "--retries=2", "--retry-delay=10ms"], "echo x >> count; exec sleep 60");
    let line = "timed out: stopped 'sh'";
    assert_ran(&r, 124, "", &format!("entrypoint: {line}\n"));
    assert_eq!(st.attempts(), 3);
    st.assert_marker(124);
    assert_eq!(
        st.ours(),
        kv(&[
            ("StartedAt", "T"),
            ("ExitCode", "124"),
            ("Reason", "TimeoutExceeded"),
            ("Attempts", "3"),
            ("Message", line)
        ])
    );
}

// ---------------------------------------------------------------- delays

#[test]
fn each_delay_is_at_least_twice_the_one_before() {
    // Lower bounds only: a slow machine makes the gaps longer, never shorter.
    let st = Step::new("rt-delays");
    let script = "date +%s%N >> count; exit 1";
    let r = st.run(&["--retries", "3", "--retry-delay", "150ms"], script);
    assert_ran(&r, 1, "", "");
    let times: Vec<u128> = fs::read_to_string(st.path("count"))
        .expect("count")
        .lines()
        .map(|l| l.trim().parse().expect("nanoseconds"))
        .collect();
    assert_eq!(times.len(), 4);
    for (i, want_ms) in [150u128, 300, 600].into_iter().enumerate() {
        let gap_ms = (times[i + 1] - times[i]) / 1_000_000;
        assert!(gap_ms >= want_ms, "delay {} was {gap_ms} ms, under {want_ms} ms: {times:?}", i + 1);
    }
}

#[test]
fn a_delay_sleeps_without_cpu_and_other_signals_do_not_end_it() {
    let st = Step::new("rt-idle");
    let c = st.start(&["--retries", "1", "--retry-delay", "1h"], "echo x >> count; exit 2");
    let pid = c.id();
    wait_for_the_delay(&st, pid, 1);
    let cpu = || {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let f: Vec<&str> = stat[stat.rfind(')').expect(")") + 2..].split_whitespace().collect();
        f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
    };
    let before = cpu();
    // Signals other than TERM, INT, HUP and QUIT are read and dropped.
    send(pid, libc::SIGUSR1);
    send(pid, libc::SIGWINCH);
    std::thread::sleep(Duration::from_millis(500));
    wait_for_the_delay(&st, pid, 1);
    if !emulated() {
        // Half a second asleep: no more than one tick of CPU.
        assert!(cpu() <= before + 1, "the wrapper used CPU while waiting: {before} -> {}", cpu());
    }
    send(pid, libc::SIGTERM);
    let r = finish(c, "entrypoint");
    assert_ran(&r, 143, "", "");
    assert_eq!(st.attempts(), 1);
}

// ---------------------------------------------------------------- cancellation

#[test]
fn term_or_int_during_a_delay_cancels_the_step() {
    for (sig, code) in [(libc::SIGTERM, 143u8), (libc::SIGINT, 130)] {
        let st = Step::new("rt-cancel-delay");
        let c = st.start(&["--retries", "5", "--retry-delay", "1h"], "echo x >> count; exit 2");
        wait_for_the_delay(&st, c.id(), 1);
        send(c.id(), sig);
        let r = finish(c, "entrypoint");
        assert_ran(&r, i32::from(code), "", "");
        assert_eq!(st.attempts(), 1, "no attempt after the cancellation");
        st.assert_marker(code);
        let code = code.to_string();
        assert_eq!(
            st.ours(),
            kv(&[("StartedAt", "T"), ("ExitCode", &code), ("Reason", "Cancelled"), ("Attempts", "1")])
        );
    }
}

#[test]
fn term_during_an_attempt_is_never_retried() {
    // The command dies of the TERM passed on to it: 143, as without retries.
    let st = Step::new("rt-cancel-run");
    let c =
        st.start(&["--retries", "5", "--retry-delay", "10ms"], "echo x >> count; : > ready; exec sleep 60");
    assert!(eventually(LIMIT, || st.path("ready").exists()), "the command never started");
    send(c.id(), libc::SIGTERM);
    let r = finish(c, "entrypoint");
    assert_ran(&r, 143, "", "");
    assert_eq!(st.attempts(), 1);
    st.assert_marker(143);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "143"), ("Reason", "Signaled"), ("Attempts", "1")])
    );
    // A command that takes the TERM and fails: not retried either.
    let st = Step::new("rt-cancel-trap");
    let script = "echo x >> count; trap 'exit 7' TERM; : > ready; sleep 60 & wait";
    let c = st.start(&["--retries", "5", "--retry-delay", "10ms"], script);
    assert!(eventually(LIMIT, || st.path("ready").exists()), "the command never started");
    send(c.id(), libc::SIGTERM);
    let r = finish(c, "entrypoint");
    assert_ran(&r, 7, "", "");
    assert_eq!(st.attempts(), 1);
    st.assert_marker(7);
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "7"), ("Reason", "Error"), ("Attempts", "1")])
    );
}

// ---------------------------------------------------------------- outputs

#[test]
fn the_results_are_the_last_attempts() {
    let st = Step::new("rt-results");
    let (res, meta) = (st.path("res"), st.path("meta"));
    // Attempt 1 writes a, b and the step result s, and fails; attempt 2
    // writes a only, and succeeds: b and s are gone.
    let script = r#"n=$(echo x >> count; wc -l < count); echo $n > "$0/a";
        if [ $n -eq 1 ]; then echo $n > "$0/b"; echo $n > "$1/results/s"; exit 1; fi"#;
    let mut args = st.args(
        &[
            "--results-dir",
            &s(&res),
            &format!("-step_metadata_dir={}", s(&meta)),
            "--retries",
            "2",
            "--retry-delay",
            "10ms",
        ],
        script,
    );
    args.extend([s(&res), s(&meta)]);
    let r = run(st.dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ran(&r, 0, "", "");
    assert_eq!(st.attempts(), 2);
    let results: Vec<_> = st.message().into_iter().filter(|(_, _, ty)| ty != "3").collect();
    assert_eq!(results, [("a".to_string(), "2\n".to_string(), "1".to_string())]);
    assert_eq!(fs::read_to_string(meta.join("exitCode")).expect("exitCode"), "0");
    assert_eq!(
        st.ours(),
        kv(&[("StartedAt", "T"), ("ExitCode", "0"), ("Reason", "Completed"), ("Attempts", "2")])
    );
}

#[test]
fn stdout_and_stderr_paths_hold_every_attempts_output() {
    let st = Step::new("rt-logs");
    let (out, err) = (st.path("logs/out"), st.path("logs/err"));
    let script = "n=$(echo x >> count; wc -l < count); echo out $n; echo err $n >&2; [ $n -ge 3 ]";
    let r = st.run(
        &["--stdout-path", &s(&out), "--stderr-path", &s(&err), "--retries", "4", "--retry-delay", "10ms"],
        script,
    );
    // The container's log gets it all too.
    assert_ran(&r, 0, "out 1\nout 2\nout 3\n", "err 1\nerr 2\nerr 3\n");
    assert_eq!(fs::read_to_string(&out).expect("out"), "out 1\nout 2\nout 3\n");
    assert_eq!(fs::read_to_string(&err).expect("err"), "err 1\nerr 2\nerr 3\n");
}

/// The names renamed or created into `dir` while `f` runs, in order
/// (inotify: `IN_MOVED_TO`, `IN_CREATE`), temporary dot names left out.
fn arrivals(dir: &Path, f: impl FnOnce()) -> Vec<String> {
    // SAFETY: inotify_init1 takes flags only.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    assert!(fd >= 0, "inotify_init1: {}", std::io::Error::last_os_error());
    let path = std::ffi::CString::new(s(dir)).expect("path");
    // SAFETY: a valid descriptor and NUL-terminated path.
    let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_MOVED_TO | libc::IN_CREATE) };
    assert!(wd >= 0, "inotify_add_watch: {}", std::io::Error::last_os_error());
    f();
    let mut names = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut at = 0;
        while at + 16 <= n as usize {
            let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().expect("len")) as usize;
            let name = &buf[at + 16..at + 16 + len];
            let name = String::from_utf8_lossy(name).trim_end_matches('\0').to_string();
            if !name.starts_with('.') {
                names.push(name);
            }
            at += 16 + len;
        }
    }
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(fd) };
    names
}

#[test]
fn the_marker_and_the_message_are_written_once_after_the_last_attempt() {
    for (script, marker) in [(fails_until(3), "p"), ("echo x >> count; exit 6".to_string(), "p.err")] {
        let st = Step::new("rt-once");
        let mut status = 0;
        let seen = arrivals(st.dir.path(), || {
            let r = st.run(&["--retries", "2", "--retry-delay", "10ms"], &script);
            status = r.code;
        });
        assert_eq!(st.attempts(), 3);
        // Each attempt adds to `count`; the marker and the message appear once,
        // after the last (the marker first: docs/protocol.md).
        assert_eq!(seen, ["count", marker, "t"], "status {status}");
    }
}

// ---------------------------------------------------------------- usage

#[test]
fn bad_retries_or_delays_are_usage_errors_that_still_leave_p_err() {
    for (extra, msg) in [
        (&["--retries", "x"][..], "invalid --retries value 'x'"),
        (&["--retries", "-1"], "invalid --retries value '-1'"),
        (&["--retries=1.5"], "invalid --retries value '1.5'"),
        (&["--retries", ""], "invalid --retries value ''"),
        (&["--retries", "1000000000"], "invalid --retries value '1000000000'"),
        (&["--retry-delay", "soon"], "invalid duration 'soon'"),
        (&["--retries", "2", "--retry-delay=-1s"], "invalid duration '-1s'"),
    ] {
        let st = Step::new("rt-usage");
        let r = st.run(extra, "echo x >> count");
        assert_ran(&r, 125, "", &usage_line(msg));
        assert_eq!(st.attempts(), 0, "{extra:?}");
        st.assert_marker(125);
        assert_eq!(
            st.ours(),
            kv(&[
                ("ExitCode", "125"),
                ("Reason", "Error"),
                ("Message", usage_line(msg).trim_end().trim_start_matches("entrypoint: "))
            ])
        );
    }
    // The option last, without its value.
    let st = Step::new("rt-usage-missing");
    let r = run(st.dir.path(), &["--post-file", &s(&st.path("p")), "--retries"]);
    assert_ran(&r, 125, "", &usage_line("option '--retries' needs a value"));
    st.assert_marker(125);
}

#[test]
fn the_largest_count_is_taken() {
    let st = Step::new("rt-largest");
    let r = st.run(&["--retries", "999999999", "--retry-delay", "0"], &fails_until(2));
    assert_ran(&r, 0, "", "");
    assert_eq!(st.attempts(), 2);
}
