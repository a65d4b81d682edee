//! entrypoint: the step wrapper. Waits for the steps it depends on, runs the
//! command, forwards signals, reaps zombies, writes the step's marker and
//! termination message, and exits with the command's status.
//!
//! ```text
//! entrypoint [--wait PATH]... [--wait-nonempty] [--wait-timeout D] [--always]
//!            [--while-alive P]...
//!            [--post-file P] [--termination-path T] [--timeout D] [--grace D]
//!            [--on-error stop|continue] [--stop-when PATH]... [--results-dir DIR]
//!            [--stdout-path F] [--stderr-path F] [--hold-until PATH]...
//!            [--retries N] [--retry-delay D]
//!            -- COMMAND [ARG...]
//! entrypoint cp SOURCE DEST
//! ```
//!
//! Tekton's spelling is accepted too: `-post_file=P`, `-wait_file=A,B`,
//! `-wait_file_content`, `-termination_path=T`, `-timeout=D`,
//! `-on_error=continue|stopAndFail`, `-entrypoint=PROG -- ARGS...`,
//! `-results=A,B`, `-step_metadata_dir=D` (`-step_results`), `-stdout_path`,
//! `-stderr_path`; Tekton's flags that are not implemented are refused by name.
//!
//! Lifecycle (the order of `run`, each phase a function of its own):
//! 1. Block every signal it handles, so none is lost while it waits; become
//!    the child subreaper unless it is PID 1 already.
//! 2. Parse options. A usage error still leaves `P.err` (and the message)
//!    when a post file is given anywhere among the options.
//! 3. `hold_the_lock`: the liveness lock `DIR/.NAME.lock` of `P`, for its whole life (waiters
//!    tell a step that died from one that is still running).
//! 4. `wait_for_dependencies`: the `--wait` paths (the wait engine `waitfor` uses). A failed
//!    dependency skips the step (status 1, `Skipped`); TERM, INT, HUP or QUIT
//!    cancels it (128+N, `Cancelled`), other signals are dropped. With
//!    `--while-alive P`, COMMAND starts only while P's step lives: a wait
//!    not over when it ends, or, without `--wait` paths, a P already ended,
//!    skips the step (`Skipped`; `DependencyDied` if P's wrapper died).
//! 5. `start_command`: COMMAND in its own process group with an empty signal mask, given
//!    the terminal if stdin is ours; 127 not found, 126 not executable, 125
//!    when the child cannot be made (fork, pipe).
//! 6. `supervise_command`: forward signals to the group, reap every child, enforce
//!    `--timeout` (TERM, then KILL to the whole group after `--grace`; 124)
//!    and `--stop-when` (the same, counted as success); take the terminal back.
//!    Phases 5 and 6 are one `attempt`. With `--retries N`, an attempt that
//!    failed (a non-zero status or a signal, or timed out; not one that
//!    could not be run, 125 to 127, nor one cancelled by TERM, INT, HUP or
//!    QUIT) is followed by another, up to N more: `wait_to_retry` sleeps D,
//!    then 2D, 4D... (`--retry-delay`, 1s by default, each at most 5
//!    minutes) in `ppoll` on the signalfd, where TERM, INT, HUP or QUIT
//!    cancel the step (128+N, `Cancelled`); the result files are removed
//!    before the next attempt, so the results are the last attempt's.
//! 7. `outcome`: once, after the last attempt: the results read, marker `P`
//!    (status 0) or `P.err`, holding the status, then the termination message
//!    (Tekton's JSON; `StartedAt` is the first attempt's start, and with
//!    `--retries` an `Attempts` entry counts the attempts). `--on-error
//!    continue` applies to the last attempt's status.
//! 8. `--hold-until`: release the lock, wait for the paths (unless a TERM,
//!    INT, HUP or QUIT for the step came already), then exit with the status.
//!
//! Exit status: COMMAND's own; 128+N when killed by signal N; 1 skipped; 124
//! timed out; 125 usage or system error; 126/127 COMMAND not executable / not
//! found; 0 with `--on-error continue` (the real status goes into the message;
//! a timeout still fails).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks))]
// Safe code only: the process entry that `tool_main!` makes is allowed its
// `unsafe` there; everything else goes through stepkit's `os` layer.
#![deny(unsafe_code)]
// Failures travel as the `Line` that explains them (`Result<_, Line>`): a few
// hundred bytes, returned rarely, and there is no allocator to box them.
#![allow(clippy::result_large_err)]

mod options;
mod outcome;
mod relay;
mod supervise;

use options::{OnError, Options, Refused, MAX_RETRY_DELAY};
use outcome::{Reason, Step};
use relay::Relay;
use rustix::fd::AsRawFd;
use rustix::fd::{AsFd, OwnedFd};
use rustix::process::Pid;
use stepkit::cli::args::UsageError;
use stepkit::cli::say::{self, Line};
use stepkit::cli::signals;
use stepkit::cli::status::{self, Ended as Exit};
use stepkit::files::copy::{self, CopyError};
use stepkit::files::path::{create_dirs, dirname};
use stepkit::os::argv::Args;
use stepkit::os::clock::{self, Duration, Instant};
use stepkit::os::io;
use stepkit::os::process::{self, SpawnError};
use stepkit::os::signal::read_signal_from;
use stepkit::os::terminal::{owns_terminal, take_terminal};
use stepkit::wait::engine::{self, Engine, Outcome};
use stepkit::wait::liveness;
use stepkit::wait::poll_set::{wait_any, Want};
use supervise::{supervise, Cause, Limits};

pub(crate) const TOOL: &str = "entrypoint";
const VERSION: &str = concat!("entrypoint ", env!("CARGO_PKG_VERSION"), "\n");

const USAGE: &str = "\
Usage: entrypoint [OPTION]... -- COMMAND [ARG]...
       entrypoint cp SOURCE DEST
Runs COMMAND as a step, then writes P (or P.err) holding its status.
 --wait P  --wait-nonempty  --wait-timeout D  --always  --while-alive P
 --post-file P  --termination-path T  --results-dir D  --hold-until P
 --timeout D  --grace D (10s)  --on-error continue  --stop-when P
 --retries N  --retry-delay D (1s, doubled each time, at most 5m)
 --stdout-path F  --stderr-path F
Tekton: -post_file= -wait_file=A,B -wait_file_content -termination_path=
 -timeout= -on_error= -entrypoint=PROG -results=A,B -step_metadata_dir=
 -stdout_path= -stderr_path=
Exit: COMMAND's, 128+N signal, 1 skipped, 124 timeout, 125 usage/system,
126/127 cannot run. Durations: 30, 250ms, 1m30s, 0 for none.
";

stepkit::tool_main!(run);

fn run(mut args: Args) -> u8 {
    io::ensure_stdio();
    if args.get(1) == Some(b"cp") {
        return cp(&args);
    }

    // 1. Signals first: every one we handle is blocked and read from a signalfd.
    let handled = signals::handled();
    handled.block();
    let signals = handled.signalfd();
    let me = rustix::process::getpid();
    if !me.is_init() {
        let _ = rustix::process::set_child_subreaper(Some(me));
    }

    // 2. Options.
    let mut step = Step::new();
    let mut opts = Options::new(args.len());
    match options::parse(&args, &mut step, &mut opts, USAGE, VERSION) {
        Ok(true) => {}
        Ok(false) => return status::OK,
        // P and T are known wherever they are among the options.
        Err(Refused::Usage(e)) => {
            let line = say::usage_line(TOOL, e);
            line.emit();
            return step.finish(status::TOOL_FAILED, status::TOOL_FAILED, Some(Reason::Error), Some(&line));
        }
        Err(Refused::Path(path, e)) => return fail(&step, say::failure(TOOL, "cannot wait for", path, e)),
    }
    let signals = match signals {
        Ok(fd) => fd,
        Err(e) => return fail(&step, Line::new(TOOL).text("cannot create signalfd").reason(e)),
    };

    // 3.-7. The step itself, phase by phase; its outcome is written by the
    // phase that ends it.
    let mut lock = None;
    // A TERM (INT, HUP, QUIT) for the step: the pod is going, no hold after.
    let mut terminated = false;
    let status = match run_step(&mut args, &mut step, &mut opts, &signals, &mut lock, &mut terminated) {
        Ok(status) | Err(status) => status,
    };

    // 8. Hold: the step's result is known (the marker says it), so its lock
    // goes; the wrapper stays until every `--hold-until` path is finished.
    drop(lock);
    // Every path finished (done, failed or died), or TERM, INT, HUP or QUIT
    // (the rule of every wait): the step's status either way.
    if let (Some(engine), false) = (opts.hold_until.as_mut(), terminated) {
        let _ = wait(engine, None, &signals);
    }
    status
}

/// A phase that ends the step early: its status, the outcome written.
type Ended<T> = Result<T, u8>;

/// Phases 3 to 7, in order; the step's status (`Err`: a phase ended it).
/// Phases 5 and 6 run once per attempt (`--retries`).
fn run_step(
    args: &mut Args,
    step: &mut Step,
    opts: &mut Options,
    signals: &OwnedFd,
    lock: &mut Option<OwnedFd>,
    terminated: &mut bool,
) -> Ended<u8> {
    *lock = hold_the_lock(step)?;
    wait_for_dependencies(step, opts, signals, terminated)?;
    let mut delay = opts.retry_delay;
    loop {
        let (ended, cause, name) = attempt(args, step, opts, signals, terminated)?;
        // A failure runs again while attempts are left, unless the step was
        // cancelled meanwhile (TERM, INT, HUP, QUIT).
        let again = step.attempts <= step.retries && !*terminated;
        if let Some(status) = outcome(step, opts.on_error, ended, cause, name, again) {
            return Ok(status);
        }
        wait_to_retry(step, delay.min(MAX_RETRY_DELAY), signals, terminated)?;
        delay = Duration(delay.0.saturating_mul(2));
        // The results are the last attempt's.
        step.results.clear().map_err(|line| fail(step, line))?;
    }
}

/// Phases 5 and 6, one attempt: COMMAND started, then supervised to its end.
#[inline(never)]
fn attempt(
    args: &mut Args,
    step: &mut Step,
    opts: &mut Options,
    signals: &OwnedFd,
    terminated: &mut bool,
) -> Ended<(Exit, Cause, &'static [u8])> {
    // COMMAND's stdout and stderr, relayed to `--stdout-path`/`--stderr-path`.
    let mut relays = [None, None];
    let command = start_command(args, step, opts, &mut relays)?;
    // The wait's descriptors go now, while COMMAND runs: the last close of
    // an inotify instance that had a watch waits for a kernel grace period.
    drop(opts.waits.take());
    let (ended, cause) = supervise_command(&command, opts, signals, &mut relays, terminated);
    Ok((ended, cause, command.name))
}

/// Phase 3, liveness: the step's lock, held for the wrapper's life (see
/// `stepkit::wait::liveness`); none without a post file.
fn hold_the_lock(step: &mut Step) -> Ended<Option<OwnedFd>> {
    let Some(post_file) = step.post_file else { return Ok(None) };
    match hold_lock(post_file) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) => {
            let lock = liveness::lock_path(post_file);
            let lock = lock.as_ref().map_or(post_file, |l| l.as_bytes());
            let line = say::failure(TOOL, "cannot create", lock, e);
            step.marker_told = true;
            Err(fail(step, line))
        }
    }
}

/// Phase 4: waits for the `--wait` paths, if any. A wait that ends the step (a
/// failed dependency, the deadline, a TERM) leaves no `StartedAt`: COMMAND
/// never started.
fn wait_for_dependencies(
    step: &mut Step,
    opts: &mut Options,
    signals: &OwnedFd,
    terminated: &mut bool,
) -> Ended<()> {
    let Some(engine) = opts.waits.as_mut() else { return Ok(()) };
    let deadline = opts.wait_timeout.map(|t| Instant::now().after(t));
    let waited = wait(engine, deadline, signals);
    if matches!(waited, Ok(o) if o.status() == status::OK) {
        return Ok(());
    }
    let outcome = waited.map_err(|sig| cancel(step, sig, terminated))?;
    let code = outcome.status();
    let mut note = Line::new(TOOL);
    if engine::report_into(&mut note, engine, outcome) {
        note.emit();
    }
    let reason = match outcome {
        Outcome::Died(_) | Outcome::GuardDied { .. } => Reason::DependencyDied,
        Outcome::TimedOut(_) => Reason::TimeoutExceeded,
        _ => Reason::Skipped,
    };
    Err(step.finish(code, code, Some(reason), Some(&note)))
}

/// COMMAND, started.
struct Command {
    child: Pid,
    /// Its name, for messages.
    name: &'static [u8],
    /// It was given the terminal, to be taken back when it ends.
    terminal: bool,
}

/// Phase 5: starts COMMAND in its own process group with an empty signal mask,
/// its results directories made first, its output relayed, given the
/// terminal if stdin is ours.
fn start_command(
    args: &mut Args,
    step: &mut Step,
    opts: &Options,
    relays: &mut [Option<Relay>; 2],
) -> Ended<Command> {
    let mut command = opts.command;
    if let Some(prog) = opts.program {
        // `-entrypoint=PROG -- ARGS`: PROG takes the slot just before ARGS.
        command -= 1;
        args.replace_slot(command, prog);
    }
    let name = args.get(command).unwrap_or_default();
    step.results.create_dirs().map_err(|line| fail(step, line))?;
    let mut ends = [None, None];
    let streams = [(opts.stdout_path, 1), (opts.stderr_path, 2)];
    for ((relay, end), (path, fd)) in relays.iter_mut().zip(&mut ends).zip(streams) {
        if let Some(path) = path {
            let (r, write_end) = Relay::new(path, fd).map_err(|line| fail(step, line))?;
            (*relay, *end) = (Some(r), Some(write_end));
        }
    }
    let stdio = ends.each_ref().map(|w: &Option<OwnedFd>| w.as_ref().map(AsRawFd::as_raw_fd));
    // A command on a terminal gets it (as tini does), or its first read stops it.
    let terminal = owns_terminal();
    // `StartedAt` is the first attempt's start.
    if step.attempts == 0 {
        step.started_ms = clock::unix_millis();
    }
    let spawned = match args.command(command) {
        Some(argv) => process::spawn(argv, terminal, stdio),
        None => Err(SpawnError::Exec(rustix::io::Errno::NOENT)),
    };
    // The command has its ends of the pipes; the wrapper keeps the others.
    drop(ends);
    step.attempts += 1;
    match spawned {
        Ok(child) => Ok(Command { child, name, terminal }),
        Err(SpawnError::Setup(e)) => Err(fail(step, say::failure(TOOL, "cannot start", name, e))),
        Err(SpawnError::Exec(e)) => {
            let code = status::for_exec_error(e);
            let line = say::failure(TOOL, "cannot run", name, e);
            line.emit();
            Err(finish_command(step, opts.on_error, code, Reason::Error, Some(&line)))
        }
    }
}

/// Phase 6: supervises COMMAND until it ends (see `supervise`), its output relayed
/// to the end, then takes the terminal back if it was ours.
fn supervise_command(
    command: &Command,
    opts: &mut Options,
    signals: &OwnedFd,
    relays: &mut [Option<Relay>; 2],
    terminated: &mut bool,
) -> (Exit, Cause) {
    let limits = Limits { timeout: opts.timeout, grace: opts.grace };
    let stop = opts.stop_when.as_mut();
    let how = supervise(command.child, signals.as_fd(), &limits, stop, relays, terminated);
    // F is complete before the marker appears.
    relays.iter_mut().flatten().for_each(Relay::drain);
    if command.terminal {
        take_terminal();
    }
    how
}

/// Phase 7: the outcome of an attempt of COMMAND: `None` when it failed
/// (a timeout too) and is to run `again`; else the status, `Reason`, the
/// marker and the message (a timed-out step fails, `--on-error continue` or
/// not: Tekton checks the deadline first).
fn outcome(
    step: &Step,
    on_error: OnError,
    ended: Exit,
    cause: Cause,
    name: &[u8],
    again: bool,
) -> Option<u8> {
    let (code, reason) = match (cause, ended) {
        (Cause::TimedOut, _) => (status::TIMED_OUT, Reason::TimeoutExceeded),
        (Cause::Stopped, _) => (status::OK, Reason::Stopped),
        (Cause::Exited, Exit::Exited(0)) => (0, Reason::Completed),
        (Cause::Exited, Exit::Exited(_)) => (ended.status(), Reason::Error),
        (Cause::Exited, Exit::Signaled(_)) => (ended.status(), Reason::Signaled),
    };
    if code != 0 && again {
        return None;
    }
    if cause == Cause::TimedOut {
        let line = Line::new(TOOL).text("timed out: stopped ").quoted(name);
        line.emit();
        return Some(step.finish(code, code, Some(reason), Some(&line)));
    }
    Some(finish_command(step, on_error, code, reason, None))
}

/// Between two attempts: sleeps `delay` in `ppoll` on the signalfd, which
/// alone can wake it. SIGCHLD reaps what the last attempt left behind; TERM,
/// INT, HUP or QUIT cancel the step (128+N, `Cancelled`, the outcome
/// written); other signals are dropped (the rule of every wait). The
/// signals already pending are read first, and at the end of the delay too,
/// so that one sent as an attempt ended, or with no delay at all, still
/// cancels the step instead of reaching the next attempt.
fn wait_to_retry(step: &Step, delay: Duration, signals: &OwnedFd, terminated: &mut bool) -> Ended<()> {
    let end = Instant::now().after(delay);
    loop {
        while let Some((sig, _)) = read_signal_from(signals.as_fd()) {
            if signals::ends_wait(sig) {
                return Err(cancel(step, sig, terminated));
            }
            if sig == libc::SIGCHLD {
                supervise::reap_all();
            }
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        wait_any(&[(signals.as_fd(), Want::Read)], Some(end.remaining(now)));
    }
}

/// A TERM, INT, HUP or QUIT (`sig`) while no attempt runs: the step is
/// cancelled (128+N, `Cancelled`), and does not hold.
fn cancel(step: &Step, sig: i32, terminated: &mut bool) -> u8 {
    *terminated = true;
    let code = status::for_signal(sig);
    step.finish(code, code, Some(Reason::Cancelled), None)
}

/// Waits with `engine` (the engine's one wait with signals); SIGCHLD reaps
/// meanwhile (orphans re-parented to us do not stay zombies).
fn wait(engine: &mut Engine<'static>, deadline: Option<Instant>, signals: &OwnedFd) -> Result<Outcome, i32> {
    engine.wait_signalled(deadline, signals.as_fd(), |sig| {
        if sig == libc::SIGCHLD {
            supervise::reap_all();
        }
    })
}

/// Records how COMMAND ended: with `--on-error continue`, a failure is a
/// success that keeps the real status in the message (Tekton's "continued").
fn finish_command(step: &Step, on_error: OnError, code: u8, reason: Reason, note: Option<&Line>) -> u8 {
    match on_error {
        OnError::Continue if code != 0 => step.finish(status::OK, code, None, note),
        _ => step.finish(code, code, Some(reason), note),
    }
}

/// Prints `line`, then records the tool's own failure (125) as the outcome.
fn fail(step: &Step, line: Line) -> u8 {
    line.emit();
    step.finish(status::TOOL_FAILED, status::TOOL_FAILED, Some(Reason::Error), Some(&line))
}

/// Creates the lock of `P`, held (see `stepkit::wait::liveness`), creating the step
/// directory if needed; the lock lasts as long as the returned descriptor,
/// which is close-on-exec.
fn hold_lock(post_file: &'static [u8]) -> Result<OwnedFd, rustix::io::Errno> {
    match liveness::hold(post_file) {
        Err(rustix::io::Errno::NOENT) => {
            create_dirs(dirname(post_file))?;
            liveness::hold(post_file)
        }
        other => other,
    }
}

/// `entrypoint cp SOURCE DEST`: Tekton's init-container idiom, copier's
/// single-file copy.
fn cp(args: &Args) -> u8 {
    let (Some(src), Some(dest), None) = (args.get_cstr(2), args.get(3), args.get(4)) else {
        say::usage(TOOL, UsageError::Other("cp needs SOURCE and DEST"));
        return status::TOOL_FAILED;
    };
    match copy::copy_file(src, dest) {
        Ok(()) => status::OK,
        Err(CopyError::Dest(e)) => {
            say::failed(TOOL, "cannot write", dest, e);
            status::TOOL_FAILED
        }
        Err(CopyError::Source(e)) => {
            say::failed(TOOL, "cannot copy", src.to_bytes(), e);
            status::TOOL_FAILED
        }
        Err(CopyError::NotRegular(kind)) => {
            let words = copy::kind_words(kind);
            Line::new(TOOL).text("cannot copy ").quoted(src.to_bytes()).text(": ").text(words).emit();
            status::TOOL_FAILED
        }
    }
}
