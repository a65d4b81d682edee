//! Black-box tests of the wait engine at scale and without inotify
//! (docs/protocol.md, docs/design.md's budgets): the release binaries,
//! real steps, real locks.
//!
//! What they pin, as deterministic quantities (never wall-clock time):
//! - a step whose dependencies have all started holds no inotify instance and
//!   holds each dependency's lock pipe (`.P.lock`) open instead (`/proc/PID/fd`,
//!   `/proc/PID/fdinfo`), waiting or running;
//! - the end of a started dependency reaches a waiter through that pipe alone:
//!   `waitfor --interval 1h` wakes at once (only the hang-up can wake it);
//! - with every inotify instance of the steps' uid taken, a chain hands off
//!   through the pipes, and each step says so in one line;
//! - wakeups per step in a 500-step chain in one directory (context switches
//!   of the wrappers from the go marker to their exit, read while they live);
//! - `waitfor P -- CMD` leaves CMD no child to inherit.

use harness::{children, emulated, eventually, is_root, no_inotify_line, tool_argv, TempDir};
use std::fs;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Generous bound for anything that should happen "soon" (qemu is slow).
const LIMIT: f64 = 60.0;

// ---------------------------------------------------------------- helpers

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn with(p: &Path, suffix: &str) -> PathBuf {
    let mut o = p.as_os_str().to_os_string();
    o.push(suffix);
    PathBuf::from(o)
}

/// A command running tool `name` with `args`, as `uid` (setpriv) if given.
fn command(name: &str, uid: Option<u32>, args: &[String]) -> Command {
    let mut argv = tool_argv(name);
    argv.extend(args.iter().cloned());
    let mut c = match uid {
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.args([format!("--reuid={u}"), format!("--regid={u}"), "--clear-groups".into(), "--".into()]);
            c.args(&argv);
            c
        }
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// A process of the test, ended when dropped (a failed test leaves none):
/// SIGTERM first, which a wrapper forwards to its command's group, then SIGKILL.
struct Proc(Option<Child>);

impl Proc {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Closes its stdin (ends a `cat` command).
    fn close_stdin(&mut self) {
        if let Some(c) = self.0.as_mut() {
            drop(c.stdin.take());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let Some(mut c) = self.0.take() else { return };
        if c.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: kill(2) of a child of this test that has not been reaped.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        if !eventually(5.0, || c.try_wait().ok().flatten().is_some()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(mut c: Command) -> Proc {
    Proc(Some(c.spawn().expect("spawn")))
}

/// The kernel function the main thread of `pid` sleeps in ("" if gone).
fn wchan(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

fn wait_until_polling(pid: u32, what: &str) {
    assert!(
        eventually(LIMIT, || wchan(pid).contains("poll")),
        "{what} never slept in poll ({:?})",
        wchan(pid)
    );
}

/// What the descriptors of `pid` point to.
fn fd_targets(pid: u32) -> Vec<String> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten().filter_map(|e| fs::read_link(e.path()).ok()).map(|p| s(&p)).collect()
}

/// True when `pid` holds an inotify instance (its fdinfo says so).
fn has_inotify(pid: u32) -> bool {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return false;
    };
    dir.flatten().any(|e| fs::read_to_string(e.path()).unwrap_or_default().contains("inotify"))
}

/// True when `pid` holds `lock` open and no inotify instance: it watches that
/// dependency through its pipe alone.
fn watches_through(pid: u32, lock: &Path) -> bool {
    let want = s(lock);
    fd_targets(pid).contains(&want) && !has_inotify(pid)
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

/// Waits until `pid` (a child of this process) has exited, without reaping
/// it, so that its counters can still be read.
fn wait_exited_unreaped(pid: u32) {
    // SAFETY: waitid(2) on a child of this process with a zeroed siginfo
    // that it fills; WNOWAIT leaves the child to be reaped later.
    let rc = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
    };
    assert_eq!(rc, 0, "waitid {pid}: {}", std::io::Error::last_os_error());
}

/// Reaps `c` and returns its status and stderr; fails the test if it is still
/// running after `LIMIT`.
fn finish(mut p: Proc, what: &str) -> (i32, String) {
    let c = p.0.as_mut().expect("a process");
    if !eventually(LIMIT, || c.try_wait().expect("try_wait").is_some()) {
        panic!("{what}: still running after {LIMIT} s");
    }
    let out = p.0.take().expect("a process").wait_with_output().expect("wait");
    (harness::status_code(out.status), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Writes `content` to `path` atomically, as a step (or Tekton) writes a marker.
fn put(path: &Path, content: &str) {
    let tmp = with(&path.with_file_name(format!(".{}", path.file_name().unwrap().to_string_lossy())), ".tmp");
    fs::write(&tmp, content).expect("write temp");
    fs::rename(&tmp, path).expect("rename");
}

/// A step's liveness lock held by this test, as a wrapper holds it: a named
/// pipe at `.P.lock`, open read-write and flock'ed, renamed into place.
struct HeldLock(Option<fs::File>);

impl HeldLock {
    fn new(post_file: &Path) -> HeldLock {
        let tmp = with(&harness::lock_of(post_file), ".tmp-test");
        let c = std::ffi::CString::new(s(&tmp)).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        let f = fs::OpenOptions::new().read(true).write(true).open(&tmp).expect("open fifo");
        // SAFETY: flock(2) on a descriptor this File owns.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0, "flock");
        fs::rename(&tmp, harness::lock_of(post_file)).expect("rename lock");
        HeldLock(Some(f))
    }

    /// The wrapper's end (or `--hold-until`'s early release): the kernel
    /// drops the lock and the pipe's write side.
    fn release(&mut self) {
        self.0 = None;
    }
}

/// Every inotify instance that `uid` may have, taken by this process: a step
/// run as `uid` then gets none, as on a node where `fs.inotify.max_user_instances`
/// is used up (root containers without a user namespace share root's count
/// with kubelet and every daemon set). The node-wide sysctl is left alone, so
/// that no other process on the machine is disturbed; closed when dropped.
struct TakenInotify {
    _fds: Vec<OwnedFd>,
}

impl TakenInotify {
    fn all_of(uid: u32) -> TakenInotify {
        assert!(
            is_root(),
            "this test needs root: it runs steps as uid {uid} and takes that uid's inotify instances"
        );
        let max: usize = fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
            .expect("max_user_instances")
            .trim()
            .parse()
            .expect("a number");
        raise_nofile(max + 256);
        let taker = std::thread::spawn(move || {
            // The raw system call changes this thread's credentials only (libc's
            // setresuid would change every thread's): instances are counted
            // against the effective uid of the caller.
            // SAFETY: setresuid(2) with plain integers; this thread ends after.
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, 0) };
            assert_eq!(rc, 0, "setresuid: {}", std::io::Error::last_os_error());
            let mut fds = Vec::new();
            loop {
                // SAFETY: inotify_init1(2) returns a new descriptor or -1.
                let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
                if fd < 0 {
                    let e = std::io::Error::last_os_error();
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "inotify_init1: {e}");
                    break;
                }
                // SAFETY: a new descriptor that nothing else owns.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                assert!(fds.len() <= max, "more than max_user_instances ({max}) instances");
            }
            fds
        });
        let fds = taker.join().expect("taker thread");
        eprintln!("took {} inotify instances of uid {uid} (max_user_instances {max})", fds.len());
        TakenInotify { _fds: fds }
    }
}

fn raise_nofile(want: usize) {
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        if (r.rlim_cur as usize) < want {
            r.rlim_cur = r.rlim_max.min(want.max(r.rlim_cur as usize) as libc::rlim_t);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// A directory every uid may write (the steps run as another uid).
fn open_dir(t: &TempDir, name: &str) -> PathBuf {
    let d = t.join(name);
    fs::create_dir_all(&d).expect("mkdir");
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).expect("chmod");
    d
}

fn args(list: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<String> {
    list.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect()
}

// ---------------------------------------------------------------- the lock pipe

#[test]
fn a_started_dependency_ends_through_its_lock_pipe_alone() {
    // --interval 1h: only the pipe's hang-up can wake the waiter in time.
    // What the step leaves before its lock goes: P, P.err, or nothing.
    for (left, code, said) in [("P", 0, ""), ("P.err", 1, "failed"), ("", 1, "died without a result")] {
        let t = TempDir::new("eng-pipe");
        let p = t.join("P");
        let mut lock = HeldLock::new(&p);
        let w = spawn(command("waitfor", None, &args(&[&"--interval", &"1h", &p])));
        wait_until_polling(w.id(), "waitfor");
        assert!(watches_through(w.id(), &harness::lock_of(&p)), "waitfor does not watch .P.lock alone");
        if !left.is_empty() {
            put(&t.join(left), if code == 0 { "0\n" } else { "1\n" });
        }
        // The holder stays alive, as a wrapper with `--hold-until` does after
        // its marker: the release itself is the end, and the markers say how.
        lock.release();
        let want =
            if said.is_empty() { String::new() } else { format!("waitfor: step '{}' {said}\n", s(&p)) };
        assert_eq!(finish(w, "waitfor on a released lock pipe"), (code, want), "left {left:?}");
    }
}

#[test]
fn a_killed_wrapper_fails_its_waiters_at_once_without_events() {
    let t = TempDir::new("eng-kill");
    let a = t.join("A");
    let pid_file = t.join("cmd.pid");
    let script = "echo $$ > \"$0\"; exec sleep 60";
    let mut victim =
        command("entrypoint", None, &args(&[&"--post-file", &a, &"--", &"sh", &"-c", &script, &pid_file]));
    // Its command lives on after it: nothing of ours may wait for its stderr.
    victim.stderr(Stdio::null());
    let victim = spawn(victim);
    assert!(eventually(LIMIT, || harness::lock_held(&harness::lock_of(&a))), "A never held A.lock");
    // The command outlives its killed wrapper (its own process group): end it.
    struct Group(i32);
    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: kill(2) of the process group of the command this test started.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
    assert!(eventually(LIMIT, || fs::read_to_string(&pid_file).is_ok_and(|t| t.ends_with('\n'))));
    let _group = Group(fs::read_to_string(&pid_file).expect("pid").trim().parse().expect("pid"));
    let w = spawn(command("waitfor", None, &args(&[&"--interval", &"1h", &a, &"--", &"true"])));
    let b = t.join("B");
    let dep = spawn(command("entrypoint", None, &args(&[&"--wait", &a, &"--post-file", &b, &"--", &"true"])));
    for (pid, what) in [(w.id(), "waitfor"), (dep.id(), "step B")] {
        wait_until_polling(pid, what);
        assert!(watches_through(pid, &harness::lock_of(&a)), "{what} does not watch A.lock alone");
    }
    // SAFETY: kill(2) of a child of this test.
    unsafe { libc::kill(victim.id() as i32, libc::SIGKILL) };
    let _ = finish(victim, "the killed wrapper");
    let died = |tool: &str| format!("{tool}: step '{}' died without a result\n", s(&a));
    assert_eq!(finish(w, "waitfor A"), (1, died("waitfor")));
    assert_eq!(finish(dep, "step B"), (1, died("entrypoint")));
    assert_eq!(fs::read_to_string(with(&b, ".err")).expect("B.err"), "1\n");
}

#[test]
fn steps_hold_no_inotify_once_their_dependencies_have_started() {
    let t = TempDir::new("eng-noino");
    let (a, b, c, tk) = (t.join("A"), t.join("B"), t.join("C"), t.join("T"));
    let gate = t.join("gate");
    let hold = format!("touch \"$0.running\"; while [ ! -e '{}' ]; do sleep 0.01; done", s(&gate));
    // A runs until its stdin closes.
    let mut ca = command("entrypoint", None, &args(&[&"--post-file", &a, &"--", &"cat"]));
    ca.stdin(Stdio::piped());
    let mut a_step = spawn(ca);
    assert!(eventually(LIMIT, || harness::lock_held(&harness::lock_of(&a))), "A never held A.lock");
    // B waits for A (started): no instance while it waits, none while it runs.
    let b_step = spawn(command(
        "entrypoint",
        None,
        &args(&[&"--wait", &a, &"--post-file", &b, &"--", &"sh", &"-c", &hold, &b]),
    ));
    // C waits for T, a marker written by a tool that takes no lock (Tekton's):
    // it needs events while it waits, and drops them once its command runs.
    let c_step = spawn(command(
        "entrypoint",
        None,
        &args(&[&"--wait", &tk, &"--post-file", &c, &"--", &"sh", &"-c", &hold, &c]),
    ));
    // A sidecar stopped by A's end: it watches A's pipe, no instance.
    let side = spawn(command(
        "entrypoint",
        None,
        &args(&[&"--stop-when", &a, &"--grace", &"5s", &"--", &"sleep", &"60"]),
    ));
    wait_until_polling(b_step.id(), "step B");
    wait_until_polling(c_step.id(), "step C");
    assert!(watches_through(b_step.id(), &harness::lock_of(&a)), "waiting B holds inotify or not A.lock");
    assert!(has_inotify(c_step.id()), "C waits for a lockless marker without inotify");
    assert!(
        eventually(LIMIT, || watches_through(side.id(), &harness::lock_of(&a))),
        "the sidecar holds inotify"
    );

    a_step.close_stdin();
    put(&tk, "");
    assert!(eventually(LIMIT, || with(&b, ".running").exists()), "B's command never ran");
    assert!(eventually(LIMIT, || with(&c, ".running").exists()), "C's command never ran");
    assert!(!has_inotify(b_step.id()), "running B holds an inotify instance");
    assert!(eventually(LIMIT, || !has_inotify(c_step.id())), "running C still holds an inotify instance");
    fs::write(&gate, "").expect("gate");
    assert_eq!(finish(a_step, "A"), (0, String::new()));
    assert_eq!(finish(b_step, "B"), (0, String::new()));
    assert_eq!(finish(c_step, "C"), (0, String::new()));
    assert_eq!(finish(side, "sidecar"), (0, String::new()));
}

// ---------------------------------------------------------------- no inotify at all

#[test]
fn chain_with_every_inotify_instance_taken_hands_off_through_the_locks() {
    const UID: u32 = 64_311;
    const STEPS: usize = 30;
    let taken = TakenInotify::all_of(UID);
    let t = TempDir::new("eng-exhausted");
    let d = open_dir(&t, "steps");
    let post = |i: usize| d.join(format!("s{i}"));
    // Started last first, each once the one before has looked (it sleeps in
    // poll), so that every waiting step first sees its dependency not started
    // (it would need inotify, and says it has none).
    // steps[k] is step k + 1.
    let mut steps = Vec::new();
    for i in (1..STEPS).rev() {
        let c = spawn(command(
            "entrypoint",
            Some(UID),
            &args(&[&"--wait", &post(i - 1), &"--post-file", &post(i), &"--", &"true"]),
        ));
        wait_until_polling(c.id(), &format!("step {i}"));
        steps.push(c);
    }
    steps.reverse();
    let mut first = command("entrypoint", Some(UID), &args(&[&"--post-file", &post(0), &"--", &"cat"]));
    first.stdin(Stdio::piped());
    let mut first = spawn(first);
    // Each step finds its dependency started at its re-check, and from then
    // on watches that dependency's pipe alone.
    for (k, c) in steps.iter().enumerate() {
        let ok = eventually(LIMIT, || watches_through(c.id(), &harness::lock_of(&post(k))));
        assert!(ok, "step {} does not watch s{k}.lock (fds {:?})", k + 1, fd_targets(c.id()));
    }
    let before: Vec<u64> = steps.iter().map(|c| context_switches(c.id())).collect();
    let t0 = Instant::now();
    first.close_stdin();
    let mut woken = 0;
    for (c, b) in steps.iter().zip(&before) {
        wait_exited_unreaped(c.id());
        woken += context_switches(c.id()) - b;
    }
    let took = t0.elapsed();
    assert_eq!(finish(first, "step 0"), (0, String::new()));
    for (k, c) in steps.into_iter().enumerate() {
        let (code, err) = finish(c, &format!("step {}", k + 1));
        assert_eq!((code, err), (0, no_inotify_line("entrypoint")), "step {}", k + 1);
        assert_eq!(fs::read_to_string(post(k + 1)).expect("marker"), "0\n");
    }
    drop(taken);
    let per_step = woken as f64 / (STEPS - 1) as f64;
    eprintln!("{STEPS}-step chain without inotify: {took:?} from release to the last exit, {per_step:.1} wakeups a step");
    if emulated() {
        harness::emulator_limit(
            "chain_with_every_inotify_instance_taken_hands_off_through_the_locks",
            "wakeups a step (the emulator's own threads switch too)",
        );
    } else {
        // A handoff by the 1 s re-check would add a wakeup a second to every
        // step still waiting; the pipes wake each step for its own dependency.
        assert!(per_step <= 10.0, "{per_step:.1} wakeups a step");
    }
}

#[test]
fn waitfor_says_once_that_it_has_no_inotify_and_still_sees_a_step_start() {
    const UID: u32 = 64_312;
    let taken = TakenInotify::all_of(UID);
    let t = TempDir::new("eng-notice");
    let d = open_dir(&t, "steps");
    let a = d.join("A");
    let w = spawn(command("waitfor", Some(UID), &args(&[&"--interval", &"100ms", &a])));
    wait_until_polling(w.id(), "waitfor");
    assert!(!has_inotify(w.id()));
    // The step starts late: the re-check finds its lock, then its pipe tells.
    let mut ca = command("entrypoint", Some(UID), &args(&[&"--post-file", &a, &"--", &"cat"]));
    ca.stdin(Stdio::piped());
    let mut step = spawn(ca);
    assert!(
        eventually(LIMIT, || watches_through(w.id(), &harness::lock_of(&a))),
        "waitfor never watched A.lock"
    );
    step.close_stdin();
    assert_eq!(finish(step, "A"), (0, String::new()));
    assert_eq!(finish(w, "waitfor"), (0, no_inotify_line("waitfor")));
    drop(taken);
}

// ---------------------------------------------------------------- scale

/// A chain of `n` steps in one directory, all started at once (last first),
/// released by a lockless `go` marker; returns the wakeups per step from go
/// to each wrapper's exit.
fn chain_wakeups(n: usize) -> f64 {
    raise_nofile(2 * n + 256);
    let t = TempDir::new("eng-chain");
    let d = t.join("steps");
    fs::create_dir(&d).expect("mkdir");
    let go = d.join("go");
    let post = |i: usize| d.join(format!("s{i}"));
    let dep = |i: usize| if i == 0 { go.clone() } else { post(i - 1) };
    let mut steps = Vec::new();
    for i in (0..n).rev() {
        let mut c = command(
            "entrypoint",
            None,
            &args(&[&"--wait", &dep(i), &"--post-file", &post(i), &"--", &"true"]),
        );
        c.stderr(Stdio::null());
        steps.push((i, spawn(c)));
    }
    steps.reverse();
    // Settled: every step but the first watches its dependency's pipe alone.
    for (i, c) in &steps {
        if *i == 0 {
            wait_until_polling(c.id(), "step 0");
            continue;
        }
        let ok = eventually(LIMIT, || watches_through(c.id(), &harness::lock_of(&dep(*i))));
        assert!(ok, "step {i} does not watch s{}.lock alone", i - 1);
        wait_until_polling(c.id(), &format!("step {i}"));
    }
    let before: Vec<u64> = steps.iter().map(|(_, c)| context_switches(c.id())).collect();
    put(&go, "");
    let mut woken = 0;
    for ((_, c), b) in steps.iter().zip(&before) {
        wait_exited_unreaped(c.id());
        woken += context_switches(c.id()) - b;
    }
    for (i, c) in steps {
        assert_eq!(finish(c, &format!("step {i}")).0, 0, "step {i}");
    }
    assert_eq!(fs::read_to_string(post(n - 1)).expect("last marker"), "0\n");
    woken as f64 / n as f64
}

#[test]
fn wakeups_per_step_do_not_grow_with_the_steps_in_one_directory() {
    // Under qemu fewer steps (each is an emulator of its own), and the
    // emulator's own threads add switches: the count is printed, not judged.
    let sizes: &[usize] = if emulated() { &[20, 60] } else { &[50, 500] };
    let mut seen = Vec::new();
    for &n in sizes {
        let per_step = chain_wakeups(n);
        eprintln!("{n}-step chain in one directory: {per_step:.1} wakeups a step");
        seen.push((n, per_step));
    }
    if emulated() {
        harness::emulator_limit(
            "wakeups_per_step_do_not_grow_with_the_steps_in_one_directory",
            "wakeups a step (the emulator's own threads switch too; 20 and 60 steps)",
        );
    } else {
        for (n, per_step) in seen {
            // docs/design.md, budgets: independent of the number of steps, <= 10.
            assert!(per_step <= 10.0, "{n}-step chain: {per_step:.1} wakeups a step");
        }
    }
}

// ---------------------------------------------------------------- waitfor's exec

#[test]
fn waitfor_leaves_its_command_no_child_and_no_stray_process() {
    let t = TempDir::new("eng-exec");
    let p = t.join("P");
    let out = t.join("out");
    // COMMAND records its own children the moment it runs.
    let script = "read -r c < /proc/$$/task/$$/children; echo \"[$c]\" > \"$0\"";
    let mut c = command("waitfor", None, &args(&[&p, &"--", &"sh", &"-c", &script, &out]));
    c.stdout(Stdio::piped());
    let w = spawn(c);
    let pid = w.id();
    wait_until_polling(pid, "waitfor");
    assert!(has_inotify(pid), "a lockless marker is waited for with inotify");
    put(&p, "");
    let (code, err) = finish(w, "waitfor P -- sh");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(fs::read_to_string(&out).expect("out"), "[]\n", "COMMAND inherited a child");
    // The sibling that paid the last inotify close is ours (this test is
    // waitfor's parent), not COMMAND's, and it ends: reap it.
    let me = std::process::id();
    let cmdline_p = s(&p);
    let strays = || -> Vec<u32> {
        children(me)
            .into_iter()
            .filter(|&k| {
                let cmd = fs::read(format!("/proc/{k}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmd).split('\0').any(|a| a == cmdline_p)
            })
            .collect()
    };
    let mut reaped = 0;
    let ok = eventually(LIMIT, || {
        for k in strays() {
            let stat = fs::read_to_string(format!("/proc/{k}/stat")).unwrap_or_default();
            if stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')) {
                // SAFETY: waitpid(2) on a child of this process that has exited.
                unsafe { libc::waitpid(k as i32, std::ptr::null_mut(), 0) };
                reaped += 1;
            }
        }
        strays().is_empty()
    });
    assert!(ok, "a process of waitfor's is still alive: {:?}", strays());
    assert!(reaped <= 1, "more than one sibling");
}

#[test]
fn waitfor_as_pid_1_leaves_its_command_no_child() {
    assert!(is_root(), "this test needs root for a PID namespace (unshare --pid)");
    let t = TempDir::new("eng-exec-pid1");
    let p = t.join("P");
    let out = t.join("out");
    let script = "read -r c < /proc/$$/task/$$/children; echo \"$$ [$c]\" > \"$0\"";
    let mut argv = vec!["--pid".to_string(), "--fork".into(), "--kill-child".into(), "--mount-proc".into()];
    argv.extend(tool_argv("waitfor"));
    argv.extend(args(&[&p, &"--", &"sh", &"-c", &script, &out]));
    let mut c = Command::new("unshare");
    c.args(&argv).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let w = spawn(c);
    let inner = {
        let mut k = 0;
        assert!(eventually(LIMIT, || {
            k = children(w.id()).first().copied().unwrap_or(0);
            k != 0 && wchan(k).contains("poll")
        }));
        k
    };
    assert!(has_inotify(inner));
    put(&p, "");
    assert_eq!(finish(w, "unshare waitfor"), (0, String::new()));
    assert_eq!(fs::read_to_string(&out).expect("out"), "1 []\n", "COMMAND (PID 1) inherited a child");
}

#[test]
fn lock_pipe_mode_lets_other_uids_watch_it() {
    // The steps of a pod may run as other uids: .P.lock is readable by all.
    let t = TempDir::new("eng-mode");
    let a = t.join("A");
    let mut ca = command("entrypoint", None, &args(&[&"--post-file", &a, &"--", &"cat"]));
    ca.stdin(Stdio::piped());
    let mut step = spawn(ca);
    assert!(eventually(LIMIT, || harness::lock_held(&harness::lock_of(&a))));
    let meta = fs::symlink_metadata(harness::lock_of(&a)).expect("stat");
    assert!(harness::is_fifo(&harness::lock_of(&a)));
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    step.close_stdin();
    assert_eq!(finish(step, "A"), (0, String::new()));
}
