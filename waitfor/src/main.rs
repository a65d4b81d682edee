//! waitfor: waits, event-driven, until paths exist, then execs the rest of its argv.
//!
//! ```text
//! waitfor [--timeout D] [--interval D] [--nonempty] [--any] [--always]
//!         [--while-alive P]... PATH... [-- COMMAND [ARG...]]
//! waitfor --status PATH...
//! ```
//!
//! - Waits until every PATH exists (`--any`: one of them). `--nonempty`: a path
//!   counts only as a regular file of size > 0 (the downward-API "ready" file).
//! - `PATH.err` without `PATH` means that step failed: exit 1 without running
//!   COMMAND (`--always`: count it as done). So does a step whose wrapper died
//!   without a result (its lock `DIR/.NAME.lock` free, no marker). With `--any`, the wait
//!   fails only when every PATH failed.
//! - `--while-alive P` (repeatable): wait only while step P's wrapper is
//!   alive (or has not started yet): once P's step has ended (`P`, `P.err`,
//!   or its lock free: its wrapper died) and the PATHs are not all there,
//!   the wait fails as for a failed step: exit 1 without running COMMAND,
//!   `waitfor: step 'P' ended while waiting for 'PATH'` (`died` for a
//!   death). With `--always` it goes on to COMMAND. With guards the PATHs
//!   may be none (`waitfor --while-alive P -- -- COMMAND`: the first `--`
//!   ends the options, the second the empty PATH list): P is looked at once,
//!   and ended or died it fails the same way (`step 'P' ended`, `died
//!   without a result`); alive or not started yet, COMMAND runs.
//! - `--timeout D`: give up after D (exit 124); default (and 0): wait forever.
//! - `--interval D`: the safety re-check period for filesystems without
//!   inotify events (default 1s); the wait is otherwise event-driven.
//! - Then `exec` COMMAND (PATH search), or exit 0 without one.
//! - SIGTERM, SIGINT, SIGHUP or SIGQUIT during the wait: exit 128+N (also as
//!   PID 1, where the kernel would otherwise ignore them); other signals are
//!   read and dropped (the rule of `stepkit::cli::signals`, entrypoint's too).
//!
//! `--status PATH...` (the first argument; every argument after it is a PATH)
//! waits for nothing: it prints what each PATH's step files say now, one line
//! a PATH, `STATE\tSTATUS\tMTIME_MS\tPATH` (`query`), and exits 0 (`steps
//! status` asks it through `kubectl exec`).
//!
//! Exit status: 0 ready; 1 a dependency failed; 124 timed out; 125 usage or
//! system error; 126 COMMAND not executable; 127 COMMAND not found; 128+N
//! signal N; otherwise COMMAND's own (it replaces waitfor).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks))]
// Safe code only: the process entry that `tool_main!` makes is allowed its
// `unsafe` there; everything else goes through stepkit's `os` layer.
#![deny(unsafe_code)]

mod query;
mod resolve;
mod targets;

use rustix::fd::AsFd;
use rustix::io::Errno;
use stepkit::cli::args::{self, flag_value, Item, Parser, UsageError};
use stepkit::cli::say::{self, Line};
use stepkit::cli::{duration, signals, status, target};
use stepkit::os::argv::Args;
use stepkit::os::clock::{Duration, Instant};
use stepkit::os::cstr::PathBuf;
use stepkit::os::{io, process};
use stepkit::wait::engine::{self, Engine};
use targets::Targets;

const TOOL: &str = "waitfor";
const VERSION: &str = concat!("waitfor ", env!("CARGO_PKG_VERSION"), "\n");

const USAGE: &str = "\
Usage: waitfor [OPTION]... TARGET... [-- COMMAND [ARG]...]
       waitfor --status PATH...  (the steps' states now, no wait)
Waits until every TARGET is there, then execs COMMAND (or exits 0).
TARGET: a PATH (PATH.err: that step failed, exit 1), tcp://HOST:PORT,
unix:///PATH, http://HOST[:PORT][/PATH] (a 2xx/3xx answer).
  --timeout D   give up after D, exit 124
  --interval D  re-check and retry period (1s)
  --while-alive P  fail (1) once step P has ended (P, P.err,
                or its wrapper died) and TARGETs are not all there;
                no TARGET: if it has ended now (-- -- COMMAND)
  --nonempty    a PATH counts only with content
  --any         one TARGET is enough
  --always      a failed step counts as done
Exit: 0 ready, 1 a step failed, 124 timed out, 125 usage/system,
126/127 cannot run, 128+N signal N. Durations: 30, 250ms, 1m30s.
";

stepkit::tool_main!(run);

/// The command line, parsed.
struct Options {
    wait: engine::Options,
    timeout: Option<Duration>,
    /// argv indices of the PATHs.
    paths: core::ops::Range<usize>,
    /// argv index of COMMAND, if one was given.
    command: Option<usize>,
}

fn run(args: Args) -> u8 {
    io::ensure_stdio();
    // `--status PATH...`: the step files' states now, a line each (`query`).
    if args.get(1).unwrap_or_default() == b"--status" && args.len() > 2 {
        (2..args.len()).filter_map(|i| args.get_cstr(i)).for_each(|p| query::report(TOOL, p));
        return status::OK;
    }
    // 1. Take the signals before anything else, as a signalfd (none is lost,
    // none acts on its own, also as PID 1).
    let handled = signals::handled();
    let old_mask = handled.block();
    let signals = match handled.signalfd() {
        Ok(fd) => fd,
        Err(e) => {
            Line::new(TOOL).text("cannot create signalfd").reason(e).emit();
            return status::TOOL_FAILED;
        }
    };

    // 2. Options; the `--while-alive` guards go into the engine at once
    // (every argument could be a path).
    let mut engine = match Engine::new(TOOL, args.len(), engine::Options::default()) {
        Ok(e) => e,
        Err(e) => return cannot_allocate(e),
    };
    let opts = match parse(&args, &mut engine) {
        Ok(Some(o)) => o,
        Ok(None) => return status::OK,
        Err(Refused::Usage(e)) => {
            say::usage(TOOL, e);
            return status::TOOL_FAILED;
        }
        Err(Refused::Path(p, e)) => return cannot_wait_for(p, e),
    };
    engine.set_options(opts.wait);

    // 3. Wait, for files and network targets alike.
    let mut targets = match Targets::new(opts.paths.len(), opts.wait.interval) {
        Ok(t) => t,
        Err(e) => return cannot_allocate(e),
    };
    for p in opts.paths.clone().filter_map(|i| args.get(i)) {
        let added = match target::parse(p) {
            Ok(Some(spec)) => targets.add(p, spec).and_then(|k| engine.add_other(p, k)),
            _ => {
                hint_if_host_port(p);
                engine.add(p)
            }
        };
        // A path left out would let COMMAND run before it is there.
        if let Err(e) = added {
            return cannot_wait_for(p, e);
        }
    }
    engine.set_others(&mut targets);
    let deadline = opts.timeout.map(|t| Instant::now().after(t));
    let outcome = match engine.wait_signalled(deadline, signals.as_fd(), |_| {}) {
        Ok(outcome) => outcome,
        Err(sig) => return status::for_signal(sig),
    };
    engine::report(TOOL, &engine, outcome);
    if outcome.status() != status::OK {
        return outcome.status();
    }

    // 4. Become COMMAND, with the signal mask we were given.
    let Some(cmd) = opts.command else {
        return status::OK;
    };
    let _until_exec = engine.take_events().map(release_after_exec);
    drop(engine);
    drop(signals);
    old_mask.set_mask();
    let Some(argv) = args.command(cmd) else {
        return status::OK;
    };
    let err = process::exec(argv);
    say::failed(TOOL, "cannot run", args.get(cmd).unwrap_or_default(), err);
    status::for_exec_error(err)
}

/// `waitfor: cannot allocate the path list: REASON`, 125.
fn cannot_allocate(e: Errno) -> u8 {
    Line::new(TOOL).text("cannot allocate the path list").reason(e).emit();
    status::TOOL_FAILED
}

/// `waitfor: cannot wait for 'P': REASON`, 125: a path left out of the wait
/// would let COMMAND run before it is there.
fn cannot_wait_for(p: &[u8], e: Errno) -> u8 {
    say::failed(TOOL, "cannot wait for", p, e);
    status::TOOL_FAILED
}

/// Why the command line was not taken.
enum Refused {
    /// A usage error.
    Usage(UsageError),
    /// A `--while-alive` path that cannot be waited on, and why.
    Path(&'static [u8], Errno),
}

impl From<UsageError> for Refused {
    fn from(e: UsageError) -> Refused {
        Refused::Usage(e)
    }
}

/// Exec closes the inotify descriptor (close-on-exec), and the last close of
/// one that has had a watch waits for a kernel grace period (~15 ms) before
/// COMMAND could run. A sibling process (never COMMAND's child) holds a copy
/// until the exec is done and pays that wait instead; our own close is then
/// not the last. Returns what must stay open until the exec (the sibling's
/// pipe); where no sibling can be had (as PID 1), the wait is paid here.
fn release_after_exec(events: rustix::fd::OwnedFd) -> Option<rustix::fd::OwnedFd> {
    let (until, hold) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
    let hold = process::linger_sibling(until, hold).ok()?;
    drop(events);
    Some(hold)
}

/// `HOST:PORT` that is no file is most likely a network target without its
/// scheme: say so once (the tools' pages in docs/), then wait for the file.
fn hint_if_host_port(p: &'static [u8]) {
    let exists = PathBuf::new(p).is_ok_and(|c| rustix::fs::lstat(c.as_cstr()).is_ok());
    if target::looks_like_host_port(p) && !exists {
        let line = Line::new(TOOL).text("waiting for the file ").quoted(p);
        line.text(" (a network target is tcp://").bytes(p).text(")").emit();
    }
}

fn parse(args: &Args, engine: &mut Engine<'_, Targets>) -> Result<Option<Options>, Refused> {
    let mut opts = Options { wait: engine::Options::default(), timeout: None, paths: 0..0, command: None };
    let mut first = args.len();
    let mut p = Parser::new(args, 1);
    while let Some(item) = p.next_item() {
        let (name, inline, raw) = match item {
            Item::Opt { name, inline, raw, .. } => (name, inline, raw),
            Item::Operand(i) | Item::End(i) => {
                first = i;
                break;
            }
        };
        if args::answer_standard(name, inline, USAGE, VERSION) {
            return Ok(None);
        }
        // The options' names, in the order of the arms below.
        match args::word_index(b"timeout interval while-alive nonempty any always", name) {
            Some(0) => opts.timeout = duration::limit(p.value(inline)?)?,
            Some(1) => {
                let d = duration::option(p.value(inline)?)?;
                if d.0 == 0 {
                    return Err(UsageError::Other("--interval must be more than 0").into());
                }
                opts.wait.interval = d;
            }
            Some(2) => {
                let post_file = p.value(inline)?;
                engine.add_guard(post_file).map_err(|e| Refused::Path(post_file, e))?;
            }
            Some(3) => opts.wait.nonempty = flag_value(name, inline)?,
            Some(4) => opts.wait.any = flag_value(name, inline)?,
            Some(_) => opts.wait.always = flag_value(name, inline)?,
            None => return Err(UsageError::Unknown(raw).into()),
        }
    }
    // PATHs run up to the next `--`; COMMAND follows it.
    let mut end = first;
    while end < args.len() && args.get(end) != Some(b"--") {
        end += 1;
    }
    // Guards alone need no PATH: the wait is then a look at their steps.
    if end == first && engine.is_empty() {
        return Err(UsageError::Other("missing PATH").into());
    }
    opts.paths = first..end;
    for p in opts.paths.clone().filter_map(|i| args.get(i)) {
        target::parse(p).map_err(|why| UsageError::Target(p, why.words()))?;
    }
    if end + 1 < args.len() {
        opts.command = Some(end + 1);
    }
    Ok(Some(opts))
}
