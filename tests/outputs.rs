//! Step outputs against the release binaries: results in the
//! termination message (`--results-dir`, Tekton's `-results`, step results
//! and `exitCode` under `-step_metadata_dir`), the command's output relayed
//! to the log and to `--stdout-path`/`--stderr-path` files, and
//! `--hold-until`. Exit statuses, stderr lines, markers and messages are
//! pinned exactly; nothing asserts speed.

use harness::{eventually, is_root, json, lock_held, skip, tool, tool_argv, TempDir};
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 60.0;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn with(p: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", p.display()))
}

/// What a finished wrapper did (its stdout is read and dropped).
#[derive(Debug)]
struct Out {
    code: i32,
    stderr: String,
}

/// Runs entrypoint with `args` in `dir` to completion (bounded).
fn ep(dir: &Path, args: &[String]) -> Out {
    let mut c = tool("entrypoint");
    c.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    finish(c.spawn().expect("spawn entrypoint"), "entrypoint")
}

fn finish(mut child: Child, what: &str) -> Out {
    // Read both pipes while waiting, so that a large output cannot block it.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let mut e = String::new();
    if let Some(p) = err.as_mut() {
        let _ = p.read_to_string(&mut e);
    }
    let ended = eventually(LIMIT, || child.try_wait().is_ok_and(|s| s.is_some()));
    if !ended {
        let _ = child.kill();
        panic!("{what}: still running after {LIMIT} s");
    }
    let status = child.wait().expect("wait");
    let _ = reader.join().expect("reader");
    Out { code: harness::status_code(status), stderr: e }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

/// The termination message's entries as (key, value, type).
fn entries(path: &Path) -> Vec<(String, String, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(text.len() <= 4096, "{} bytes", text.len());
    let json::Value::Arr(items) = json::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}")) else {
        panic!("not an array: {text}")
    };
    items
        .into_iter()
        .map(|item| {
            let json::Value::Obj(members) = item else { panic!("not an object: {text}") };
            let get = |k: &str| {
                members.iter().find(|(m, _)| m == k).map(|(_, v)| match v {
                    json::Value::Str(s) | json::Value::Num(s) => s.clone(),
                    other => panic!("{k}: {other:?} in {text}"),
                })
            };
            (get("key").expect("key"), get("value").expect("value"), get("type").expect("type"))
        })
        .collect()
}

/// The results (type 1 and 4) of a message, as a set.
fn results(path: &Path) -> BTreeSet<(String, String, String)> {
    entries(path).into_iter().filter(|(_, _, ty)| ty != "3").collect()
}

/// The value of key `k` (type 3) in a message.
fn fixed(path: &Path, k: &str) -> Option<String> {
    entries(path).into_iter().find(|(key, _, ty)| key == k && ty == "3").map(|(_, v, _)| v)
}

fn set(list: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    list.iter().map(|(k, v, t)| (k.to_string(), v.to_string(), t.to_string())).collect()
}

// ---------------------------------------------------------------- results

#[test]
fn results_dir_files_become_type_1_entries_taken_exactly() {
    let t = TempDir::new("out-res");
    let (p, tm, res) = (t.join("p"), t.join("t"), t.join("res"));
    // The directory exists before the command starts (the wrapper made it);
    // a directory in it is not a result.
    let script = r#"[ -d "$0" ] || exit 9
        printf 'sha256:abc' > "$0/digest"
        printf 'a "quoted"\nline\ttab \\ back' > "$0/text"
        : > "$0/empty"
        printf 'é€𝄞' > "$0/unicode"
        mkdir "$0/sub"; echo ignored > "$0/sub/inner""#;
    let args =
        words(&["--post-file", &s(&p), "--termination-path", &s(&tm), "--results-dir", &s(&res), "--"]);
    let r = ep(t.path(), &[args, words(&["sh", "-c", script, &s(&res)])].concat());
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert_eq!(
        results(&tm),
        set(&[
            ("digest", "sha256:abc", "1"),
            ("text", "a \"quoted\"\nline\ttab \\ back", "1"),
            ("empty", "", "1"),
            ("unicode", "é€𝄞", "1"),
        ])
    );
    assert_eq!(fixed(&tm, "Reason").as_deref(), Some("Completed"));
    // Our own entries first, the results follow them (docs/protocol.md).
    let keys: Vec<String> = entries(&tm).into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(&keys[..3], ["StartedAt", "ExitCode", "Reason"]);
    assert_eq!(fs::read_to_string(&p).expect("marker"), "0\n");
}

#[test]
fn a_result_that_is_not_utf8_or_too_large_fails_the_step_and_says_which() {
    let t = TempDir::new("out-bad");
    for (name, script, line) in [
        ("bin", "printf 'ok\\377' > \"$0/bin\"", "result 'bin' is not UTF-8 text"),
        (
            "big",
            "head -c 5000 /dev/zero | tr '\\0' a > \"$0/big\"",
            "result 'big' does not fit in the termination message: 5185 bytes with it, over 4096",
        ),
        (
            "many",
            "for i in 1 2 3 4 5; do head -c 900 /dev/zero | tr '\\0' b > \"$0/r$i\"; done",
            "does not fit in the termination message",
        ),
    ] {
        let (p, tm, res) = (t.join(name), t.join(&format!("{name}.t")), t.join(&format!("{name}.res")));
        let args = words(&["--post-file", &s(&p), "--termination-path", &s(&tm), "--results-dir", &s(&res)]);
        let r = ep(t.path(), &[args, words(&["--", "sh", "-c", script, &s(&res)])].concat());
        assert_eq!(r.code, 125, "{name}: {r:?}");
        assert!(r.stderr.starts_with("entrypoint: result '") && r.stderr.contains(line), "{name}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{name}: {r:?}");
        assert_eq!(fs::read_to_string(with(&p, ".err")).expect("P.err"), "125\n", "{name}");
        assert!(!p.exists());
        assert!(results(&tm).is_empty(), "{name}: no result is kept");
        assert_eq!(fixed(&tm, "ExitCode").as_deref(), Some("125"));
        assert_eq!(fixed(&tm, "Reason").as_deref(), Some("Error"));
        assert_eq!(fixed(&tm, "Message").as_deref(), Some(r.stderr.trim_end()));
    }
}

#[test]
fn a_step_whose_command_did_not_run_reports_no_results() {
    // Files left in the results directory are not this run's results when the
    // step was skipped, or its command line refused.
    let t = TempDir::new("out-stale");
    let res = t.join("res");
    fs::create_dir(&res).expect("mkdir");
    fs::write(res.join("stale"), "old").expect("stale result");
    fs::write(t.join("dep.err"), "1\n").expect("a failed dependency");
    let (p, tm) = (t.join("p"), t.join("t"));
    let args = words(&["--wait", &s(&t.join("dep")), "--post-file", &s(&p), "--termination-path", &s(&tm)]);
    let r = ep(t.path(), &[args, words(&["--results-dir", &s(&res), "--", "true"])].concat());
    assert_eq!(r.code, 1, "{r:?}");
    assert!(results(&tm).is_empty(), "a skipped step reported results: {:?}", entries(&tm));
    assert_eq!(fixed(&tm, "Reason").as_deref(), Some("Skipped"));
    let args =
        words(&["--post-file", &s(&p), "--termination-path", &s(&tm), "--results-dir", &s(&res), "--bogus"]);
    let r = ep(t.path(), &[args, words(&["--", "true"])].concat());
    assert_eq!(r.code, 125, "{r:?}");
    assert!(results(&tm).is_empty(), "a refused command line reported results: {:?}", entries(&tm));
}

#[test]
fn a_message_of_exactly_4096_bytes_is_kept_and_one_byte_more_fails_the_step() {
    // Our entries of a step that succeeded are 150 bytes; a result `r` of N
    // bytes adds 33 + N with the closing bracket: N = 3913 is 4096 bytes.
    let t = TempDir::new("out-exact");
    for (n, code) in [(3913, 0), (3914, 125)] {
        let (p, tm, res) = (t.join(&format!("p{n}")), t.join(&format!("t{n}")), t.join(&format!("res{n}")));
        let args = words(&["--post-file", &s(&p), "--termination-path", &s(&tm), "--results-dir", &s(&res)]);
        let script = format!("head -c {n} /dev/zero | tr '\\0' r > \"$0/r\"");
        let r = ep(t.path(), &[args, words(&["--", "sh", "-c", &script, &s(&res)])].concat());
        let size = fs::read(&tm).expect("message").len();
        if code == 0 {
            assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
            assert_eq!(size, 4096);
            assert_eq!(results(&tm), set(&[("r", &"r".repeat(n), "1")]));
        } else {
            let line = "entrypoint: result 'r' does not fit in the termination message: 4097 bytes with it, over 4096\n";
            assert_eq!((r.code, r.stderr.as_str()), (125, line), "{r:?}");
            assert!(results(&tm).is_empty());
            assert_eq!(fs::read_to_string(with(&p, ".err")).expect("P.err"), "125\n");
        }
    }
}

#[test]
fn a_result_beside_a_failure_that_explains_itself_is_kept_whole() {
    // A result that fits, then a failure with its Message (a timeout): both
    // are in the message, ours first.
    let t = TempDir::new("out-near");
    let (p, tm, res) = (t.join("p"), t.join("t"), t.join("res"));
    let args = words(&["--post-file", &s(&p), "--termination-path", &s(&tm), "--results-dir", &s(&res)]);
    let script = "head -c 3800 /dev/zero | tr '\\0' r > \"$0/r\"; exec sleep 60";
    let rest = words(&["--timeout", "300ms", "--", "sh", "-c", script, &s(&res)]);
    let r = ep(t.path(), &[args, rest].concat());
    assert_eq!((r.code, r.stderr.as_str()), (124, "entrypoint: timed out: stopped 'sh'\n"), "{r:?}");
    assert_eq!(results(&tm), set(&[("r", &"r".repeat(3800), "1")]));
    assert_eq!(fixed(&tm, "Reason").as_deref(), Some("TimeoutExceeded"));
    assert_eq!(fixed(&tm, "Message").as_deref(), Some("entrypoint: timed out: stopped 'sh'"));
    assert!(fs::read(&tm).expect("message").len() <= 4096);
}

#[test]
fn tekton_results_are_read_by_name_and_a_missing_one_is_skipped() {
    // Tekton's -results=A,B reads /tekton/results/NAME: a private /tekton
    // (a mount namespace with a tmpfs there) keeps the machine's own.
    if !is_root() {
        return skip(
            "tekton_results_are_read_by_name_and_a_missing_one_is_skipped",
            "needs root for a mount",
        );
    }
    let t = TempDir::new("out-tekton");
    let (p, tm) = (t.join("p"), t.join("t"));
    let created = !Path::new("/tekton").exists();
    if created {
        fs::create_dir("/tekton").expect("mkdir /tekton (a mount point)");
    }
    let script = r#"mount -t tmpfs tmpfs /tekton || exit 99; shift; exec "$@""#;
    let mut c = Command::new("unshare");
    c.args(["--mount", "sh", "-c", script, "sh", "sh"]).args(tool_argv("entrypoint"));
    c.args([
        &format!("-post_file={}", s(&p)),
        &format!("-termination_path={}", s(&tm)),
        "-results=commit,missing,url",
        "-entrypoint=sh",
        "--",
        "-c",
        "printf 1f2e > /tekton/results/commit; printf https://x.example > /tekton/results/url; \
         printf no > /tekton/results/unnamed",
    ]);
    c.current_dir(t.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let r = finish(c.spawn().expect("unshare"), "entrypoint in a mount namespace");
    if created {
        let _ = fs::remove_dir("/tekton");
    }
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert_eq!(results(&tm), set(&[("commit", "1f2e", "1"), ("url", "https://x.example", "1")]));
}

#[test]
fn step_metadata_dir_gets_step_results_and_the_exit_code() {
    let t = TempDir::new("out-meta");
    for (name, script, code, file) in [
        ("ok", "printf v > \"$0/results/r\"", 0, "0"),
        ("three", "printf w > \"$0/results/r\"; exit 3", 3, "3"),
        ("killed", "printf x > \"$0/results/r\"; kill -KILL $$", 137, "137"),
    ] {
        let (p, tm, d) = (t.join(name), t.join(&format!("{name}.t")), t.join(&format!("{name}.meta")));
        let args = vec![
            format!("-post_file={}", s(&p)),
            format!("-termination_path={}", s(&tm)),
            format!("-step_metadata_dir={}", s(&d)),
            "-step_results=r".into(),
            "-entrypoint=sh".into(),
            "--".into(),
            "-c".into(),
            script.into(),
            s(&d),
        ];
        let r = ep(t.path(), &args);
        assert_eq!((r.code, r.stderr.as_str()), (code, ""), "{name}: {r:?}");
        assert_eq!(fs::read_to_string(d.join("exitCode")).expect("exitCode"), file, "{name}");
        let value = match name {
            "ok" => "v",
            "three" => "w",
            _ => "x",
        };
        assert_eq!(results(&tm), set(&[("r", value, "4")]), "{name}");
    }
    // A step that never ran its command writes no exit code.
    let (p, d) = (t.join("skipped"), t.join("skipped.meta"));
    fs::write(t.join("dep.err"), "1\n").expect("a failed dependency");
    let args = words(&[
        "--wait",
        &s(&t.join("dep")),
        "--post-file",
        &s(&p),
        &format!("-step_metadata_dir={}", s(&d)),
        "--",
        "true",
    ]);
    assert_eq!(ep(t.path(), &args).code, 1);
    assert!(!d.join("exitCode").exists());
}

// ---------------------------------------------------------------- output relays

/// A file of `len` pseudo-random bytes.
fn random_file(path: &Path, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(path, &data).expect("write");
    data
}

#[test]
fn both_streams_reach_the_log_and_their_files_whole() {
    let t = TempDir::new("out-tee");
    let src = t.join("src");
    let data = random_file(&src, 10_000_000);
    let (p, out, err) = (t.join("p"), t.join("logs/out"), t.join("logs/err"));
    let args = words(&["--post-file", &s(&p), "--stdout-path", &s(&out), "--stderr-path", &s(&err), "--"]);
    let script = "cat \"$0\"; cat \"$0\" >&2; cat \"$0\"";
    let mut c = tool("entrypoint");
    c.args(args).args(["sh", "-c", script, &s(&src)]).current_dir(t.path());
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut so = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        so.read_to_end(&mut v).expect("read stdout");
        v
    });
    let mut se = Vec::new();
    child.stderr.take().expect("stderr").read_to_end(&mut se).expect("read stderr");
    let status = child.wait().expect("wait");
    let log_out = reader.join().expect("reader");
    assert_eq!(harness::status_code(status), 0);
    let twice = [&data[..], &data[..]].concat();
    assert!(log_out == twice, "the log's stdout differs ({} bytes)", log_out.len());
    assert!(se == data, "the log's stderr differs ({} bytes)", se.len());
    assert!(fs::read(&out).expect("out") == twice, "the stdout file differs");
    assert!(fs::read(&err).expect("err") == data, "the stderr file differs");
    assert_eq!(fs::read_to_string(&p).expect("marker"), "0\n");
}

#[test]
fn output_in_flight_when_the_command_exits_is_in_the_file_before_the_marker() {
    // 60000 bytes fit in the pipe: the command has exited before the wrapper
    // has read them. The marker must not appear before the file is whole.
    let t = TempDir::new("out-flight");
    let (p, out) = (t.join("p"), t.join("out"));
    let args = words(&["--post-file", &s(&p), "--stdout-path", &s(&out), "--", "sh", "-c"]);
    let mut c = tool("entrypoint");
    c.args(args).arg("head -c 60000 /dev/zero; exit 4").current_dir(t.path());
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let marker = with(&p, ".err");
    assert!(eventually(LIMIT, || marker.exists()), "no marker");
    assert_eq!(
        fs::metadata(&out).expect("out").len(),
        60000,
        "the file was not whole when the marker appeared"
    );
    let mut log = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut log).expect("read");
    assert_eq!(log.len(), 60000);
    assert_eq!(harness::status_code(child.wait().expect("wait")), 4);
}

#[test]
fn a_log_reader_that_goes_away_does_not_end_the_step_and_the_file_gets_everything() {
    // The log is a pipe whose reader is closed at once: SIGPIPE is blocked in
    // the wrapper, the write fails with EPIPE, and F still gets every byte.
    let t = TempDir::new("out-epipe");
    let (p, out) = (t.join("p"), t.join("out"));
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors of a new pipe.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the read end is ours and closed once, here.
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end is a descriptor this test owns.
    let log = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let mut c = tool("entrypoint");
    c.args(["--post-file", &s(&p), "--stdout-path", &s(&out), "--", "sh", "-c", "head -c 1000000 /dev/zero"]);
    c.current_dir(t.path()).stdin(Stdio::null()).stdout(Stdio::from(log)).stderr(Stdio::piped());
    // The command's own SIGPIPE stays at its default: it writes into the
    // wrapper's pipe, whose reader lives.
    // SAFETY: signal(2) is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    let r = finish(c.spawn().expect("spawn"), "entrypoint with its log gone");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    assert_eq!(fs::metadata(&out).expect("out").len(), 1_000_000);
    assert_eq!(fs::read_to_string(&p).expect("marker"), "0\n");
}

#[test]
fn a_stalled_log_reader_blocks_only_its_own_stream_and_loses_nothing() {
    // stdout's log is a pipe nobody reads yet; stderr's is read. The stdout
    // writer blocks (as it would writing to that log itself), but stderr's
    // 300000 bytes all reach their log meanwhile: one stream's slow reader
    // does not hold the other back. Then stdout's reader starts, and both
    // logs and both files get every byte before the marker.
    const N: usize = 300_000;
    let t = TempDir::new("out-stall");
    let (p, out, err) = (t.join("p"), t.join("out"), t.join("err"));
    let script = format!("head -c {N} /dev/zero & head -c {N} /dev/zero >&2; wait");
    let mut c = tool("entrypoint");
    c.args(["--post-file", &s(&p), "--stdout-path", &s(&out), "--stderr-path", &s(&err), "--", "sh", "-c"])
        .arg(&script)
        .current_dir(t.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut v = vec![0u8; N];
        let got = stderr.read_exact(&mut v).map(|()| v);
        let _ = tx.send(got);
        let mut rest = Vec::new();
        let _ = stderr.read_to_end(&mut rest);
        rest
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs_f64(LIMIT));
    let alive = child.try_wait().is_ok_and(|s| s.is_none());
    let Ok(Ok(bytes)) = got else {
        let _ = child.kill();
        panic!("stderr's log did not get its {N} bytes while stdout's reader stalled: {got:?}");
    };
    assert!(bytes.iter().all(|&b| b == 0));
    assert!(alive, "the step ended while its stdout log was unread");
    assert!(!p.exists(), "marker before stdout's log was read");
    let mut logged = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut logged).expect("read stdout");
    let status = child.wait().expect("wait");
    assert_eq!(harness::status_code(status), 0);
    assert_eq!(logged.len(), N, "stdout's log");
    assert_eq!(fs::metadata(&out).expect("out").len(), N as u64);
    assert_eq!(fs::metadata(&err).expect("err").len(), N as u64);
    assert_eq!(fs::read_to_string(&p).expect("marker"), "0\n");
}

#[test]
fn a_relay_file_that_cannot_be_opened_fails_the_step_before_the_command() {
    let t = TempDir::new("out-noopen");
    let (p, ran) = (t.join("p"), t.join("ran"));
    fs::write(t.join("file"), "").expect("a file where a directory should be");
    let out = t.join("file/out");
    let args = words(&["--post-file", &s(&p), "--stdout-path", &s(&out), "--", "sh", "-c", "echo ran > ran"]);
    let r = ep(t.path(), &args);
    assert_eq!(r.code, 125);
    assert_eq!(r.stderr, format!("entrypoint: cannot open '{}': Not a directory\n", s(&out)));
    assert_eq!(fs::read_to_string(with(&p, ".err")).expect("P.err"), "125\n");
    assert!(!ran.exists());
}

// ---------------------------------------------------------------- hold

/// Starts entrypoint in `dir`; returns once its marker (P or P.err) exists.
fn start_holding(dir: &Path, args: &[String], marker: &Path) -> Child {
    let mut c = tool("entrypoint");
    c.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = c.spawn().expect("spawn");
    assert!(eventually(LIMIT, || marker.exists()), "no marker {}", marker.display());
    child
}

/// (state, voluntary context switches) of process `pid`.
fn sleeping(pid: u32) -> Option<(char, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let state = status.lines().find_map(|l| l.strip_prefix("State:"))?.trim().chars().next()?;
    let switches =
        status.lines().find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?.trim().parse().ok()?;
    Some((state, switches))
}

fn has_inotify(pid: u32) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("inotify")))
}

fn ended(child: &mut Child) -> bool {
    child.try_wait().is_ok_and(|s| s.is_some())
}

#[test]
fn hold_until_keeps_the_step_alive_without_its_lock_until_the_path_is_done() {
    let t = TempDir::new("out-hold");
    let (p, last) = (t.join("p"), t.join("last"));
    // The last step has started (its wrapper holds last.lock and waits).
    let mut waiting_last = tool("entrypoint");
    waiting_last.args(["--wait", &s(&t.join("go")), "--post-file", &s(&last), "--", "true"]);
    let mut waiting_last = waiting_last.stdin(Stdio::null()).spawn().expect("the last step");
    assert!(eventually(LIMIT, || lock_held(&harness::lock_of(&last))), "the last step never started");
    let args = words(&["--post-file", &s(&p), "--hold-until", &s(&last), "--", "sh", "-c", "exit 3"]);
    let mut holder = start_holding(t.path(), &args, &with(&p, ".err"));
    // The result is known: the marker says it, and the lock is released.
    assert_eq!(fs::read_to_string(with(&p, ".err")).expect("marker"), "3\n");
    assert!(eventually(LIMIT, || !lock_held(&harness::lock_of(&p))), "the holding step keeps its lock");
    // It sleeps, without an inotify instance (its path's step has started).
    let pid = holder.id();
    assert!(eventually(LIMIT, || !has_inotify(pid)), "an inotify instance is held while holding");
    let before = sleeping(pid).expect("alive");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = sleeping(pid).expect("alive");
    assert_eq!(after.0, 'S', "not asleep");
    assert!(after.1 - before.1 <= 1, "woke {} times while holding", after.1 - before.1);
    assert!(!ended(&mut holder), "the hold ended early");
    // The last step finishes: the hold ends with the step's own status.
    fs::write(t.join("go"), "0\n").expect("go");
    let r = finish(holder, "the holding step");
    assert_eq!((r.code, r.stderr.as_str()), (3, ""), "{r:?}");
    assert!(eventually(LIMIT, || ended(&mut waiting_last)));
}

#[test]
fn a_hold_ends_on_the_paths_failure_on_a_died_step_and_on_term() {
    let t = TempDir::new("out-hold-ends");
    // Released by the path's .err.
    let (p, q) = (t.join("p1"), t.join("q1"));
    let holder =
        start_holding(t.path(), &words(&["--post-file", &s(&p), "--hold-until", &s(&q), "--", "true"]), &p);
    fs::write(with(&q, ".err"), "1\n").expect("q.err");
    let r = finish(holder, "hold released by .err");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    // Released by a step that died (SIGKILL) without a result.
    let (p, q) = (t.join("p2"), t.join("q2"));
    let mut dying = tool("entrypoint");
    dying.args(["--post-file", &s(&q), "--", "sleep", "600"]);
    let mut dying = dying.stdin(Stdio::null()).spawn().expect("the step that dies");
    assert!(eventually(LIMIT, || lock_held(&harness::lock_of(&q))));
    let holder = start_holding(
        t.path(),
        &words(&["--post-file", &s(&p), "--hold-until", &s(&q), "--", "sh", "-c", "exit 5"]),
        &with(&p, ".err"),
    );
    let _ = dying.kill();
    let _ = dying.wait();
    let r = finish(holder, "hold released by a died step");
    assert_eq!((r.code, r.stderr.as_str()), (5, ""), "{r:?}");
    // Ended by TERM (and INT): at once, with the step's status.
    for (i, sig) in [libc::SIGTERM, libc::SIGINT].into_iter().enumerate() {
        let (p, q) = (t.join(&format!("p3{i}")), t.join(&format!("never{i}")));
        let holder = start_holding(
            t.path(),
            &words(&["--post-file", &s(&p), "--hold-until", &s(&q), "--", "true"]),
            &p,
        );
        assert!(eventually(LIMIT, || fs::read_to_string(format!("/proc/{}/wchan", holder.id()))
            .is_ok_and(|w| w.contains("poll"))));
        // SAFETY: kill(2) on the wrapper this test started.
        assert_eq!(unsafe { libc::kill(holder.id() as i32, sig) }, 0);
        let r = finish(holder, "hold ended by a signal");
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    }
}

/// (pid, state) of every process whose parent is `parent`, found by each
/// process's own `stat` (zombies and all threads' children included).
fn children_with_state(parent: u32) -> Vec<(u32, char)> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else { continue };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if f.next().and_then(|pp| pp.parse::<u32>().ok()) == Some(parent) {
            v.push((pid, state));
        }
    }
    v
}

#[test]
fn a_step_ended_by_term_before_its_hold_does_not_hold() {
    // The kubelet's TERM while the step waits or runs ends the container: a
    // second signal (and the grace period's KILL) must not be needed.
    let t = TempDir::new("out-nohold");
    let never = t.join("never");
    // While it waits: cancelled, 143, no hold.
    let p = t.join("waiting");
    let args =
        words(&["--wait", &s(&never), "--post-file", &s(&p), "--hold-until", &s(&never), "--", "true"]);
    let mut c = tool("entrypoint");
    c.args(&args).current_dir(t.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = c.spawn().expect("spawn");
    assert!(eventually(LIMIT, || lock_held(&harness::lock_of(&p))), "the step never started waiting");
    assert!(eventually(LIMIT, || fs::read_to_string(format!("/proc/{}/wchan", child.id()))
        .is_ok_and(|w| w.contains("poll"))));
    // SAFETY: kill(2) on the wrapper this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let r = finish(child, "TERM while waiting, with --hold-until");
    assert_eq!((r.code, r.stderr.as_str()), (143, ""), "{r:?}");
    // While its command runs: the command gets TERM and dies of it; no hold.
    let (p, started) = (t.join("running"), t.join("started"));
    let args = words(&["--post-file", &s(&p), "--hold-until", &s(&never), "--", "sh", "-c"]);
    let mut c = tool("entrypoint");
    c.args(&args).arg("touch \"$0\"; exec sleep 60").arg(&started);
    c.current_dir(t.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = c.spawn().expect("spawn");
    assert!(eventually(LIMIT, || started.exists()), "the command never started");
    // SAFETY: kill(2) on the wrapper this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let r = finish(child, "TERM while running, with --hold-until");
    assert_eq!((r.code, r.stderr.as_str()), (143, ""), "{r:?}");
    assert_eq!(fs::read_to_string(with(&p, ".err")).expect("marker"), "143\n");
}

#[test]
fn a_holding_pid_1_reaps_what_its_command_left_behind() {
    // As PID 1 (a PID namespace), an orphan of the command that exits while
    // the wrapper holds is reaped, not left a zombie.
    if !is_root() {
        return skip("a_holding_pid_1_reaps_what_its_command_left_behind", "unshare --pid needs root");
    }
    let t = TempDir::new("out-hold-pid1");
    let (p, q) = (t.join("p"), t.join("q"));
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc"]).args(tool_argv("entrypoint"));
    c.args(["--post-file", &s(&p), "--hold-until", &s(&q), "--", "sh", "-c", "(sleep 1 &); exit 0"]);
    c.current_dir(t.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = c.spawn().expect("unshare");
    assert!(eventually(LIMIT, || p.exists()), "no marker");
    // The wrapper is unshare's child; the orphan (sleep) is the wrapper's.
    let mut wrapper = 0;
    assert!(eventually(LIMIT, || {
        wrapper = children_with_state(child.id()).first().map_or(0, |c| c.0);
        wrapper != 0 && !children_with_state(wrapper).is_empty()
    }));
    // It ends during the hold and is reaped.
    let reaped = eventually(LIMIT, || children_with_state(wrapper).is_empty());
    let left = children_with_state(wrapper);
    fs::write(&q, "0\n").expect("q");
    let r = finish(child, "holding PID 1");
    assert!(reaped, "left unreaped while holding: {left:?}");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
}
