//! Black-box tests of `waitfor --status PATH...` (what `steps status` asks
//! through `kubectl exec`): one line a PATH, `STATE\tSTATUS\tMTIME_MS\tPATH`,
//! exit 0, never blocking. The step files come from real wrappers
//! (`entrypoint --post-file ...`): alive (waiting or running), finished,
//! failed, skipped, holding, and SIGKILLed. Every line is pinned exactly, the
//! times read back from the files themselves.

use harness::{children, eventually, lock_held, lock_of, run, tool, Ran, TempDir};
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::UNIX_EPOCH;

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 20.0;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `waitfor --status PATHS...`, bounded by `LIMIT` (it must never block).
fn status(paths: &[&Path]) -> Ran {
    let mut c = tool("waitfor");
    c.arg("--status").args(paths);
    let mut child =
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    if !eventually(LIMIT, || child.try_wait().expect("try_wait").is_some()) {
        let _ = child.kill();
        panic!("waitfor --status still running after {LIMIT} s: it blocked");
    }
    child.wait_with_output().expect("output").into()
}

fn assert_ran(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

/// The modification time of `p` in milliseconds since the epoch.
fn mtime_ms(p: &Path) -> u128 {
    let m = fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).modified().expect("mtime");
    m.duration_since(UNIX_EPOCH).expect("after the epoch").as_millis()
}

/// The line of a marker: `STATE\tSTATUS\tMTIME_MS\tPATH` (the time of `file`).
fn marker_line(state: &str, status: &str, file: &Path, path: &Path) -> String {
    format!("{state}\t{status}\t{}\t{}\n", mtime_ms(file), s(path))
}

/// A wrapper as `steps render` writes one: `entrypoint [ARGS] --post-file
/// DIR/NAME/out --results-dir DIR/NAME/results -- sh -c SCRIPT`.
fn wrapper(dir: &Path, name: &str, args: &[String], script: &str) -> Command {
    let mut c = tool("entrypoint");
    c.args(args)
        .arg(format!("--post-file={}", s(&dir.join(name).join("out"))))
        .arg(format!("--results-dir={}", s(&dir.join(name).join("results"))))
        .args(["--", "sh", "-c", script]);
    c
}

fn spawn(mut c: Command) -> Child {
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn")
}

/// Kills a wrapper with SIGKILL, and the command it left behind.
fn kill_wrapper(mut w: Child) {
    let orphans = children(w.id());
    w.kill().expect("SIGKILL the wrapper");
    let _ = w.wait();
    for pid in orphans {
        // SAFETY: kill(2) of the command this test's wrapper started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}

#[test]
fn finished_failed_and_skipped_steps_give_their_status_and_time() {
    let t = TempDir::new("wfs-ended");
    let d = t.path();
    let (a, b, c) = (d.join("a/out"), d.join("b/out"), d.join("c/out"));
    let digest = format!("echo sha256:1 > {}", s(&d.join("a/results/digest")));
    assert_eq!(run(&mut wrapper(d, "a", &[], &digest)).code, 0);
    assert_eq!(run(&mut wrapper(d, "b", &[], "exit 3")).code, 3);
    // c waits for b, which failed: c is skipped (its wrapper writes 1)
    assert_eq!(run(&mut wrapper(d, "c", &[format!("--wait={}", s(&b))], "true")).code, 1);
    let err = |p: &Path| p.with_file_name("out.err");
    let results = d.join("a/results");
    let r = status(&[&a, &results, &b, &c]);
    let want = [
        marker_line("done", "0", &a, &a),
        marker_line("done", "-", &results, &results),
        marker_line("failed", "3", &err(&b), &b),
        marker_line("failed", "1", &err(&c), &c),
    ]
    .concat();
    assert_ran(&r, 0, &want, "");
}

#[test]
fn live_wrappers_are_alive_and_a_running_one_has_its_results_directory() {
    let t = TempDir::new("wfs-alive");
    let d = t.path();
    let never = d.join("never/out");
    // one waits (for a step that never comes), one runs its command
    let waiting = spawn(wrapper(d, "w", &[format!("--wait={}", s(&never))], "true"));
    let running = spawn(wrapper(d, "r", &[], "exec sleep 60"));
    let (w, r) = (d.join("w/out"), d.join("r/out"));
    assert!(eventually(LIMIT, || lock_held(&lock_of(&w)) && lock_held(&lock_of(&r))), "no locks");
    let results = d.join("r/results");
    assert!(eventually(LIMIT, || results.is_dir()), "the running step has no results directory");
    let out = status(&[&w, &d.join("w/results"), &r, &results, &never]);
    let want = format!(
        "alive\t-\t-\t{}\nabsent\t-\t-\t{}\nalive\t-\t-\t{}\n{}absent\t-\t-\t{}\n",
        s(&w),
        s(&d.join("w/results")),
        s(&r),
        marker_line("done", "-", &results, &results),
        s(&never)
    );
    assert_ran(&out, 0, &want, "");
    kill_wrapper(waiting);
    kill_wrapper(running);
}

#[test]
fn a_sigkilled_wrapper_died() {
    let t = TempDir::new("wfs-died");
    let d = t.path();
    let w = spawn(wrapper(d, "k", &[], "exec sleep 60"));
    let k = d.join("k/out");
    assert!(eventually(LIMIT, || lock_held(&lock_of(&k))), "the wrapper never took its lock");
    kill_wrapper(w);
    assert_ran(&status(&[&k]), 0, &format!("died\t-\t-\t{}\n", s(&k)), "");
}

#[test]
fn a_holding_wrapper_is_done_once_its_marker_is_written() {
    let t = TempDir::new("wfs-hold");
    let d = t.path();
    let end = d.join("end/out");
    let w = spawn(wrapper(d, "h", &[format!("--hold-until={}", s(&end))], "true"));
    let h = d.join("h/out");
    assert!(eventually(LIMIT, || h.exists()), "no marker");
    // the wrapper lives on (it holds), but its lock is gone: its result is known
    assert!(eventually(LIMIT, || !lock_held(&lock_of(&h))), "the holding wrapper kept its lock");
    assert_ran(&status(&[&h]), 0, &marker_line("done", "0", &h, &h), "");
    fs::create_dir_all(end.parent().expect("dir")).expect("mkdir");
    fs::write(&end, "0\n").expect("end");
    let mut w = w;
    assert!(eventually(LIMIT, || w.try_wait().expect("try_wait").is_some()), "the hold did not end");
}

#[test]
fn markers_of_other_tools_and_odd_paths() {
    let t = TempDir::new("wfs-odd");
    let d = t.path();
    // Tekton's empty marker; a marker and its .err (the marker wins); a
    // stale lock (died); a FIFO in a marker's place is read without blocking;
    // a path with a tab and a newline keeps its line whole.
    let empty = d.join("empty");
    fs::write(&empty, "").unwrap();
    let both = d.join("both");
    fs::write(&both, "0\n").unwrap();
    fs::write(d.join("both.err"), "1\n").unwrap();
    let stale = d.join("stale");
    fs::write(lock_of(&stale), "").unwrap();
    let fifo = d.join("fifo");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let odd = d.join("a\tb\nc");
    let r = status(&[&empty, &both, &stale, &fifo, &odd]);
    let want = [
        marker_line("done", "-", &empty, &empty),
        marker_line("done", "0", &both, &both),
        format!("died\t-\t-\t{}\n", s(&stale)),
        marker_line("done", "-", &fifo, &fifo),
        format!("absent\t-\t-\t{}\n", s(d).to_string() + "/a\\x09b\\x0ac"),
    ]
    .concat();
    assert_ran(&r, 0, &want, "");
}

#[test]
fn usage_and_help() {
    // --status is the first argument, followed by at least one PATH
    let r = run(tool("waitfor").arg("--status"));
    assert_ran(&r, 125, "", "waitfor: unknown option '--status' (try 'waitfor --help')\n");
    let r = run(tool("waitfor").arg("--help"));
    assert!(r.stdout.contains("waitfor --status PATH..."), "{r:?}");
    // after --status, every argument is a PATH
    let r = status(&[Path::new("--timeout"), Path::new("--")]);
    assert_ran(&r, 0, "absent\t-\t-\t--timeout\nabsent\t-\t-\t--\n", "");
}
