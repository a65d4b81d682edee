//! entrypoint's command line: the native spelling and Tekton's.
//!
//! Tekton's entrypoint uses Go's flag package: one or two dashes, underscores,
//! `-name=value` or `-name value`, booleans as `-name` or `-name=true`. Both
//! spellings are matched by name, whatever the number of dashes.

use core::ffi::CStr;
use rustix::io::Errno;
use stepkit::args::{self, flag_value, Args, Item, Parser, UsageError};
use stepkit::duration::{self, Duration};
use stepkit::wait_engine::{self, Engine};

use crate::outcome::Step;

/// What to do when COMMAND fails.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum OnError {
    /// The step fails: `P.err`, COMMAND's status (Tekton's `stopAndFail`).
    Stop,
    /// The step counts as done: `P` holding 0, exit 0, the real status in the
    /// termination message.
    Continue,
}

/// The parsed command line.
pub struct Options {
    /// The `--wait` / `-wait_file` paths (comma lists split), if any.
    pub waits: Option<Engine<'static>>,
    /// `--wait-timeout D`.
    pub wait_timeout: Option<Duration>,
    /// `--timeout D` / `-timeout`, from the command's start.
    pub timeout: Option<Duration>,
    /// `--grace D`: from SIGTERM to SIGKILL.
    pub grace: Duration,
    /// `--on-error` / `-on_error`.
    pub on_error: OnError,
    /// The `--stop-when` paths, if any: one of them (or its `.err`) is enough.
    pub stop_when: Option<Engine<'static>>,
    /// `-entrypoint=PROG`: the program; the arguments follow `--`.
    pub program: Option<&'static CStr>,
    /// argv index where COMMAND's arguments start (argc if none).
    pub command: usize,
}

/// Adds `path` to the engine in `slot`, creating it on first use with room
/// for every path the command line can hold.
fn add_path(slot: &mut Option<Engine<'static>>, capacity: usize, path: &'static [u8]) -> Result<(), Errno> {
    let engine = match slot {
        Some(e) => e,
        None => slot.insert(Engine::new(crate::TOOL, capacity, wait_engine::Options::default())?),
    };
    engine.add(path)
}

/// The options, whatever their spelling.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Key {
    PostFile,
    TerminationPath,
    Wait,
    WaitFile,
    WaitNonempty,
    WaitTimeout,
    Always,
    Timeout,
    Grace,
    OnError,
    StopWhen,
    Program,
    Ignored,
    /// A Tekton flag this entrypoint does not implement (a switch if true).
    Unsupported(bool),
}

impl Key {
    fn takes_value(self) -> bool {
        !matches!(self, Key::WaitNonempty | Key::Always | Key::Unsupported(true))
    }
}

/// Native and Tekton names.
const NAMES: [(&[u8], Key); 33] = [
    (b"post-file", Key::PostFile),
    (b"post_file", Key::PostFile),
    (b"termination-path", Key::TerminationPath),
    (b"termination_path", Key::TerminationPath),
    (b"wait", Key::Wait),
    (b"wait_file", Key::WaitFile),
    (b"wait-nonempty", Key::WaitNonempty),
    (b"wait_file_content", Key::WaitNonempty),
    (b"wait-timeout", Key::WaitTimeout),
    (b"always", Key::Always),
    (b"timeout", Key::Timeout),
    (b"grace", Key::Grace),
    (b"on-error", Key::OnError),
    (b"on_error", Key::OnError),
    (b"stop-when", Key::StopWhen),
    (b"entrypoint", Key::Program),
    // Tekton passes it to every step; there is no step metadata here.
    (b"step_metadata_dir", Key::Ignored),
    // Tekton's flags that are not implemented: refused by name, never ignored.
    (b"results", Key::Unsupported(false)),
    (b"step_results", Key::Unsupported(false)),
    (b"stdout_path", Key::Unsupported(false)),
    (b"stderr_path", Key::Unsupported(false)),
    (b"when_expressions", Key::Unsupported(false)),
    (b"result_from", Key::Unsupported(false)),
    (b"spire_socket_path", Key::Unsupported(false)),
    (b"breakpoint_on_failure", Key::Unsupported(true)),
    (b"debug_before_step", Key::Unsupported(true)),
    (b"enable_spire", Key::Unsupported(true)),
    (b"compress_termination_message", Key::Unsupported(true)),
    (b"basic-docker", Key::Unsupported(false)),
    (b"docker-config", Key::Unsupported(false)),
    (b"docker-cfg", Key::Unsupported(false)),
    (b"basic-git", Key::Unsupported(false)),
    (b"ssh-git", Key::Unsupported(false)),
];

fn lookup(name: &[u8]) -> Option<Key> {
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, k)| k)
}

/// Why the command line was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A usage error.
    Usage(UsageError),
    /// No memory for the path lists.
    System(Errno),
}

impl From<UsageError> for Refused {
    fn from(e: UsageError) -> Refused {
        Refused::Usage(e)
    }
}

/// Parses the command line (after `entrypoint`); `None` when `--help` or
/// `--version` was answered. The post file and termination path go into
/// `step` as soon as they are read, so that a usage error after them still
/// leaves `P.err` and a termination message for the steps that wait on this one.
pub fn parse(args: &Args, step: &mut Step, usage: &str, version: &str) -> Result<Option<Options>, Refused> {
    let mut o = Options {
        waits: None,
        wait_timeout: None,
        timeout: None,
        grace: Duration::secs(10),
        on_error: OnError::Stop,
        stop_when: None,
        program: None,
        command: args.len(),
    };
    // Every argument could be a path, and each comma could split one more.
    let capacity = (0..args.len())
        .map(|i| 1 + args.get(i).unwrap_or_default().iter().filter(|&&c| c == b',').count())
        .sum();
    let mut wait = wait_engine::Options::default();
    let mut p = Parser::new(args, 1);
    while let Some(item) = p.next_item() {
        let (name, inline, raw) = match item {
            Item::Opt { name, inline, raw, .. } => (name, inline, raw),
            Item::Operand(i) | Item::End(i) => {
                o.command = i;
                break;
            }
        };
        if let Some(which) = args::standard(name, inline) {
            args::answer(which, usage, version);
            return Ok(None);
        }
        let key = lookup(name).ok_or(UsageError::Unknown(raw))?;
        if let Key::Unsupported(switch) = key {
            // A switch set to false asks for nothing.
            if !(switch && flag_value(name, inline) == Ok(false)) {
                return Err(UsageError::Unsupported(raw).into());
            }
            continue;
        }
        if !key.takes_value() {
            let on = flag_value(name, inline)?;
            match key {
                Key::WaitNonempty => wait.nonempty = on,
                _ => wait.always = on,
            }
            continue;
        }
        if key == Key::Program {
            o.program = Some(p.value_cstr(inline)?);
            continue;
        }
        let v = p.value(inline)?;
        let added = match key {
            Key::PostFile => {
                step.post_file = Some(v);
                Ok(())
            }
            Key::TerminationPath => {
                step.termination_path = Some(v);
                Ok(())
            }
            Key::Wait => add_path(&mut o.waits, capacity, v),
            Key::WaitFile => v
                .split(|&c| c == b',')
                .filter(|s| !s.is_empty())
                .try_for_each(|path| add_path(&mut o.waits, capacity, path)),
            Key::StopWhen => add_path(&mut o.stop_when, capacity, v),
            Key::WaitTimeout => {
                o.wait_timeout = duration::limit(v)?;
                Ok(())
            }
            Key::Timeout => {
                o.timeout = duration::limit(v)?;
                Ok(())
            }
            Key::Grace => {
                o.grace = duration::option(v)?;
                Ok(())
            }
            Key::OnError => {
                o.on_error = match v {
                    b"stop" | b"stopAndFail" => OnError::Stop,
                    b"continue" => OnError::Continue,
                    _ => return Err(UsageError::Invalid("--on-error value", v).into()),
                };
                Ok(())
            }
            _ => Ok(()),
        };
        added.map_err(Refused::System)?;
    }
    if let Some(e) = o.waits.as_mut() {
        e.set_options(wait);
    }
    if let Some(e) = o.stop_when.as_mut() {
        e.set_options(wait_engine::Options { any: true, always: true, ..wait_engine::Options::default() });
    }
    if o.program.is_none() && o.command >= args.len() {
        return Err(UsageError::Other("missing COMMAND").into());
    }
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn args(list: &[&str]) -> Args {
        let owned: Vec<CString> = list.iter().map(|s| CString::new(*s).unwrap()).collect();
        let mut ptrs: Vec<*const core::ffi::c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        let _ = Box::leak(owned.into_boxed_slice());
        let ptrs = Box::leak(ptrs.into_boxed_slice());
        // SAFETY: the vector and its strings are leaked: valid for the rest of the test.
        unsafe { Args::from_main(list.len() as i32, ptrs.as_ptr()) }
    }

    fn step() -> Step {
        Step { post_file: None, termination_path: None, started_ms: 0 }
    }

    fn opts(list: &[&str]) -> (Options, Step) {
        let mut st = step();
        match parse(&args(list), &mut st, "", "") {
            Ok(Some(o)) => (o, st),
            _ => panic!("parse failed: {list:?}"),
        }
    }

    fn paths(e: &Option<Engine<'static>>) -> Vec<String> {
        let e = e.as_ref().unwrap();
        (0..e.len()).map(|i| String::from_utf8_lossy(e.path(i)).into_owned()).collect()
    }

    #[test]
    fn native_spelling() {
        let list = [
            "entrypoint",
            "--wait",
            "/s/a",
            "--wait=/s/b",
            "--post-file",
            "/s/c",
            "--termination-path=/t",
            "--timeout",
            "1m",
            "--grace",
            "2s",
            "--on-error",
            "continue",
            "--stop-when",
            "/s/z",
            "--always",
            "--wait-nonempty",
            "--",
            "sh",
            "-c",
            "x",
        ];
        let (o, st) = opts(&list);
        assert_eq!(st.post_file, Some(&b"/s/c"[..]));
        assert_eq!(st.termination_path, Some(&b"/t"[..]));
        assert_eq!(o.timeout, Some(Duration::secs(60)));
        assert_eq!(o.grace, Duration::secs(2));
        assert_eq!(o.on_error, OnError::Continue);
        assert_eq!(o.command, 18);
        assert_eq!(paths(&o.waits), ["/s/a", "/s/b"]);
        assert_eq!(paths(&o.stop_when), ["/s/z"]);
    }

    #[test]
    fn tekton_spelling() {
        let list = [
            "entrypoint",
            "-wait_file=/s/a,/s/b",
            "-post_file=/s/c",
            "-termination_path=/t",
            "-wait_file_content",
            "-on_error=stopAndFail",
            "-timeout=0s",
            "-entrypoint=sh",
            "--",
            "-c",
            "echo hi",
        ];
        let (o, st) = opts(&list);
        assert_eq!(st.post_file, Some(&b"/s/c"[..]));
        assert_eq!(paths(&o.waits), ["/s/a", "/s/b"]);
        assert_eq!(o.timeout, None);
        assert_eq!(o.on_error, OnError::Stop);
        assert_eq!(o.program.map(|p| p.to_bytes()), Some(&b"sh"[..]));
        assert_eq!(o.command, 9);
    }

    #[test]
    fn command_without_double_dash() {
        let (o, _) = opts(&["entrypoint", "--post-file", "/p", "true"]);
        assert_eq!(o.command, 3);
    }

    #[test]
    fn errors() {
        let bad = |list: &[&str]| match parse(&args(list), &mut step(), "", "") {
            Err(Refused::Usage(e)) => Some(e),
            _ => None,
        };
        assert_eq!(bad(&["e", "--post-file", "/p"]), Some(UsageError::Other("missing COMMAND")));
        assert_eq!(bad(&["e", "--bogus", "--", "x"]), Some(UsageError::Unknown(b"--bogus")));
        assert_eq!(bad(&["e", "--timeout", "x", "--", "x"]), Some(UsageError::Invalid("duration", b"x")));
        assert_eq!(
            bad(&["e", "-on_error=maybe", "--", "x"]),
            Some(UsageError::Invalid("--on-error value", b"maybe"))
        );
        assert_eq!(bad(&["e", "--post-file"]), Some(UsageError::MissingValue(b"--post-file")));
    }

    #[test]
    fn post_file_found_before_a_bad_option() {
        let a = args(&["e", "-post_file=/s/x", "--bogus", "--", "true"]);
        let mut st = step();
        assert!(parse(&a, &mut st, "", "").is_err());
        assert_eq!(st.post_file, Some(&b"/s/x"[..]));
    }
}
