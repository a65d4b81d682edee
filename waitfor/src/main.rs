//! waitfor: waits, event-driven, until paths exist, then execs the rest of its argv.
//!
//! ```text
//! waitfor [--timeout D] [--interval D] [--nonempty] [--any] [--always] PATH... [-- COMMAND [ARG...]]
//! ```
//!
//! - Waits until every PATH exists (`--any`: one of them). `--nonempty`: a path
//!   counts only as a regular file of size > 0 (the downward-API "ready" file).
//! - `PATH.err` without `PATH` means that step failed: exit 1 without running
//!   COMMAND (`--always`: count it as done). So does a step whose wrapper died
//!   without a result (`PATH.lock` unlocked, no marker). With `--any`, the wait
//!   fails only when every PATH failed.
//! - `--timeout D`: give up after D (exit 124); default (and 0): wait forever.
//! - `--interval D`: the safety re-check period for filesystems without
//!   inotify events (default 1s); the wait is otherwise event-driven.
//! - Then `exec` COMMAND (PATH search), or exit 0 without one.
//! - SIGTERM, SIGINT, SIGHUP or SIGQUIT during the wait: exit 128+N (also as
//!   PID 1, where the kernel would otherwise ignore them); other signals are
//!   read and dropped (the rule of `stepkit::signals`, entrypoint's too).
//!
//! Exit status: 0 ready; 1 a dependency failed; 124 timed out; 125 usage or
//! system error; 126 COMMAND not executable; 127 COMMAND not found; 128+N
//! signal N; otherwise COMMAND's own (it replaces waitfor).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks))]

use rustix::fd::AsFd;
use stepkit::args::{self, flag_value, Args, Item, Parser, UsageError};
use stepkit::clock::Instant;
use stepkit::duration::{self, Duration};
use stepkit::say::{self, Line};
use stepkit::signals;
use stepkit::status;
use stepkit::sys;
use stepkit::wait_engine::{self, Engine, Outcome};

const TOOL: &str = "waitfor";
const VERSION: &str = concat!("waitfor ", env!("CARGO_PKG_VERSION"), "\n");

const USAGE: &str = "\
Usage: waitfor [OPTION]... PATH... [-- COMMAND [ARG]...]

Waits until every PATH exists, then runs COMMAND in its place (exec), or
exits 0 without one. A step that failed leaves PATH.err: then waitfor
exits 1 without running COMMAND.

      --timeout D   give up after D, exit 124 (default, or 0: wait forever)
      --interval D  safety re-check period (default 1s); the wait is
                    driven by inotify events
      --nonempty    a path counts only as a regular file with content
      --any         one PATH is enough (fails when every PATH failed)
      --always      a failed dependency counts as done (cleanup steps)
      --help        show this help
      --version     show the version

Durations: 30 (seconds), 250ms, 1.5s, 1m30s, 1h.
Exit status: 0 ready, 1 a dependency failed, 124 timed out, 125 usage or
system error, 126/127 COMMAND not executable/not found, 128+N signal N.
";

stepkit::tool_main!(run);

/// The command line, parsed.
struct Options {
    wait: wait_engine::Options,
    timeout: Option<Duration>,
    /// argv indices of the PATHs.
    paths: core::ops::Range<usize>,
    /// argv index of COMMAND, if one was given.
    command: Option<usize>,
}

fn run(args: Args) -> u8 {
    sys::ensure_stdio();
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

    // 2. Options.
    let opts = match parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => return status::OK,
        Err(e) => {
            say::usage(TOOL, e);
            return status::TOOL_FAILED;
        }
    };

    // 3. Wait.
    let mut engine = match Engine::new(opts.paths.len(), opts.wait) {
        Ok(e) => e,
        Err(e) => {
            Line::new(TOOL).text("cannot allocate the path list").reason(e).emit();
            return status::TOOL_FAILED;
        }
    };
    for i in opts.paths.clone() {
        if let Some(p) = args.get(i) {
            let _ = engine.add(p);
        }
    }
    let deadline = opts.timeout.map(|t| Instant::now().after(t));
    let outcome = loop {
        match engine.wait(deadline, Some(signals.as_fd())) {
            Outcome::Interrupted => {
                while let Some(sig) = sys::read_signal(signals.as_fd()) {
                    if signals::ends_wait(sig) {
                        return status::for_signal(sig);
                    }
                }
            }
            other => break other,
        }
    };
    wait_engine::report(TOOL, &engine, outcome);
    match outcome {
        Outcome::Ready | Outcome::Interrupted => {}
        Outcome::Failed(_) | Outcome::Died(_) => return status::SKIPPED,
        Outcome::TimedOut(_) => return status::TIMED_OUT,
    }

    // 4. Become COMMAND, with the signal mask we were given.
    let Some(cmd) = opts.command else {
        return status::OK;
    };
    drop(engine);
    drop(signals);
    old_mask.set_mask();
    let Some(argv) = args.command(cmd) else {
        return status::OK;
    };
    let err = sys::exec(argv);
    say::failed(TOOL, "cannot run", args.get(cmd).unwrap_or_default(), err);
    status::for_exec_error(err)
}

fn parse(args: &Args) -> Result<Option<Options>, UsageError> {
    let mut opts =
        Options { wait: wait_engine::Options::default(), timeout: None, paths: 0..0, command: None };
    let mut first = args.len();
    let mut p = Parser::new(args, 1);
    while let Some(item) = p.next_item() {
        match item {
            Item::Opt { name, inline, .. } if args::standard(name, inline).is_some() => {
                args::answer(args::standard(name, inline).unwrap_or(args::Standard::Help), USAGE, VERSION);
                return Ok(None);
            }
            Item::Opt { name: b"timeout", inline, .. } => opts.timeout = duration::limit(p.value(inline)?)?,
            Item::Opt { name: b"interval", inline, .. } => {
                let d = duration::option(p.value(inline)?)?;
                if d.0 == 0 {
                    return Err(UsageError::Other("--interval must be more than 0"));
                }
                opts.wait.interval = d;
            }
            Item::Opt { name: name @ b"nonempty", inline, .. } => {
                opts.wait.nonempty = flag_value(name, inline)?
            }
            Item::Opt { name: name @ b"any", inline, .. } => opts.wait.any = flag_value(name, inline)?,
            Item::Opt { name: name @ b"always", inline, .. } => opts.wait.always = flag_value(name, inline)?,
            Item::Opt { raw, .. } => return Err(UsageError::Unknown(raw)),
            Item::Operand(i) | Item::End(i) => first = i,
        }
    }
    // PATHs run up to the next `--`; COMMAND follows it.
    let mut end = first;
    while end < args.len() && args.get(end) != Some(b"--") {
        end += 1;
    }
    if end == first {
        return Err(UsageError::Other("missing PATH"));
    }
    opts.paths = first..end;
    if end + 1 < args.len() {
        opts.command = Some(end + 1);
    }
    Ok(Some(opts))
}
