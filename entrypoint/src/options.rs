//! entrypoint's command line: the native spelling and Tekton's.
//!
//! Tekton's entrypoint uses Go's flag package: one or two dashes, underscores,
//! `-name=value` or `-name value`, booleans as `-name` or `-name=true`. Both
//! spellings are matched by name, whatever the number of dashes.

use core::ffi::CStr;
use rustix::io::Errno;
use stepkit::cli::args::{self, flag_value, Item, Parser, UsageError};
use stepkit::cli::{decimal, duration};
use stepkit::os::argv::Args;
use stepkit::os::clock::Duration;
use stepkit::wait::engine::{self as wait_engine, Engine};

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

/// The longest wait between two attempts (the tools' pages in docs/).
pub const MAX_RETRY_DELAY: Duration = Duration::secs(300);

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
    /// `--retry-delay D`: the wait before the first retry (doubled before
    /// each next one, each at most [`MAX_RETRY_DELAY`]).
    pub retry_delay: Duration,
    /// `--on-error` / `-on_error`.
    pub on_error: OnError,
    /// The `--stop-when` paths, if any: one of them (or its `.err`) is enough.
    pub stop_when: Option<Engine<'static>>,
    /// `-entrypoint=PROG`: the program; the arguments follow `--`.
    pub program: Option<&'static CStr>,
    /// `--stdout-path F`: COMMAND's stdout goes to the log and to F.
    pub stdout_path: Option<&'static [u8]>,
    /// `--stderr-path F`: the same for stderr.
    pub stderr_path: Option<&'static [u8]>,
    /// The `--hold-until` paths, if any: the wrapper stays until all are finished.
    pub hold_until: Option<Engine<'static>>,
    /// argv index where COMMAND's arguments start (argc if none).
    pub command: usize,
}

impl Options {
    /// The defaults, for a command line of `argc` arguments.
    pub fn new(argc: usize) -> Options {
        Options {
            waits: None,
            wait_timeout: None,
            timeout: None,
            grace: Duration::secs(10),
            retry_delay: Duration::secs(1),
            on_error: OnError::Stop,
            stop_when: None,
            program: None,
            stdout_path: None,
            stderr_path: None,
            hold_until: None,
            command: argc,
        }
    }
}

/// Adds `path` to the engine in `slot`, creating it on first use with room
/// for every path the command line can hold.
fn add_path(slot: &mut Option<Engine<'static>>, capacity: usize, path: &'static [u8]) -> Result<(), Refused> {
    add_to(slot, capacity, path, false)
}

/// Adds the guard `post_file` (`--while-alive`) to the engine in `slot`,
/// created as by [`add_path`].
fn add_guard(
    slot: &mut Option<Engine<'static>>,
    capacity: usize,
    post_file: &'static [u8],
) -> Result<(), Refused> {
    add_to(slot, capacity, post_file, true)
}

fn add_to(
    slot: &mut Option<Engine<'static>>,
    capacity: usize,
    path: &'static [u8],
    guard: bool,
) -> Result<(), Refused> {
    let engine = match slot {
        Some(e) => e,
        None => match Engine::new(crate::TOOL, capacity, wait_engine::Options::default()) {
            Ok(e) => slot.insert(e),
            Err(e) => return Err(Refused::Path(path, e)),
        },
    };
    let added = if guard { engine.add_guard(path) } else { engine.add(path) };
    added.map_err(|e| Refused::Path(path, e))
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
    ResultsDir,
    Results,
    StepMetadataDir,
    /// `-step_results=A,B`: every file in `D/results` is read anyway.
    StepResults,
    StdoutPath,
    StderrPath,
    HoldUntil,
    /// `--while-alive P`: the wait fails once P's step has ended.
    WhileAlive,
    /// `--retries N`: a failing COMMAND runs again, up to N more times.
    Retries,
    /// `--retry-delay D`: the first wait between attempts.
    RetryDelay,
    /// A Tekton flag that is not implemented and takes a value.
    Unsupported,
    /// A Tekton switch that is not implemented (accepted as `=false`).
    UnsupportedSwitch,
}

impl Key {
    fn takes_value(self) -> bool {
        !matches!(self, Key::WaitNonempty | Key::Always | Key::UnsupportedSwitch)
    }
}

/// Every option's names, native and Tekton's, each with its key: the one
/// table. The binary holds it as [`NAMES`] and [`KEYS`], which the compiler
/// makes from it.
const OPTIONS: [(&str, Key); 40] = {
    use Key::*;
    [
        ("post-file", PostFile),
        ("post_file", PostFile),
        ("termination-path", TerminationPath),
        ("termination_path", TerminationPath),
        ("wait", Wait),
        ("wait_file", WaitFile),
        ("wait-nonempty", WaitNonempty),
        ("wait_file_content", WaitNonempty),
        ("wait-timeout", WaitTimeout),
        ("always", Always),
        ("timeout", Timeout),
        ("grace", Grace),
        ("on-error", OnError),
        ("on_error", OnError),
        ("stop-when", StopWhen),
        ("entrypoint", Program),
        ("results-dir", ResultsDir),
        ("results", Results),
        ("step_metadata_dir", StepMetadataDir),
        ("step_results", StepResults),
        ("stdout-path", StdoutPath),
        ("stdout_path", StdoutPath),
        ("stderr-path", StderrPath),
        ("stderr_path", StderrPath),
        ("hold-until", HoldUntil),
        ("while-alive", WhileAlive),
        ("retries", Retries),
        ("retry-delay", RetryDelay),
        // Tekton's flags that are not implemented: refused by name, never ignored.
        ("when_expressions", Unsupported),
        ("result_from", Unsupported),
        ("spire_socket_path", Unsupported),
        ("basic-docker", Unsupported),
        ("docker-config", Unsupported),
        ("docker-cfg", Unsupported),
        ("basic-git", Unsupported),
        ("ssh-git", Unsupported),
        ("breakpoint_on_failure", UnsupportedSwitch),
        ("debug_before_step", UnsupportedSwitch),
        ("enable_spire", UnsupportedSwitch),
        ("compress_termination_message", UnsupportedSwitch),
    ]
};

/// The names of [`OPTIONS`], one space between them (one string: smaller
/// than a table of slices).
const NAMES: [u8; names_len(&OPTIONS)] = names(&OPTIONS);

/// The keys of [`OPTIONS`], in the order of [`NAMES`].
const KEYS: [Key; OPTIONS.len()] = keys(&OPTIONS);

/// The length of [`names`]' string.
const fn names_len(options: &[(&str, Key)]) -> usize {
    let (mut i, mut len) = (0, 0);
    while i < options.len() {
        len += options[i].0.len() + 1;
        i += 1;
    }
    len.saturating_sub(1)
}

/// The names of `options`, one space between them. Evaluated by the
/// compiler only: an index out of range here fails the build.
const fn names<const LEN: usize>(options: &[(&str, Key)]) -> [u8; LEN] {
    let mut out = [b' '; LEN];
    let (mut i, mut o) = (0, 0);
    while i < options.len() {
        let name = options[i].0.as_bytes();
        let mut k = 0;
        while k < name.len() {
            out[o] = name[k];
            (o, k) = (o + 1, k + 1);
        }
        (o, i) = (o + 1, i + 1);
    }
    out
}

/// The keys of `options`, in order.
const fn keys<const N: usize>(options: &[(&str, Key); N]) -> [Key; N] {
    let mut out = [Key::PostFile; N];
    let mut i = 0;
    while i < N {
        out[i] = options[i].1;
        i += 1;
    }
    out
}

fn lookup(name: &[u8]) -> Option<Key> {
    KEYS.get(args::word_index(&NAMES, name)?).copied()
}

/// Why the command line was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A usage error.
    Usage(UsageError),
    /// A path that cannot be waited for (too long; no memory for the list).
    Path(&'static [u8], Errno),
}

impl From<UsageError> for Refused {
    fn from(e: UsageError) -> Refused {
        Refused::Usage(e)
    }
}

/// Parses the command line (after `entrypoint`) into `o`; false when
/// `--help` or `--version` was answered. The post file and termination path go into
/// `step` as soon as they are read. After a refusal the options are still
/// read to their end (and only the first refusal is returned), so that the
/// post file and the termination path are known wherever they are among the
/// options (the tools' pages in docs/: the outcome is written when a post file is
/// given anywhere on the command line; after `--` or COMMAND, the words are
/// COMMAND's), and the steps that wait on this one get `P.err`.
// Not inlined: its code is smaller in a frame of its own than in `main`'s.
#[inline(never)]
pub fn parse(
    args: &Args,
    step: &mut Step,
    o: &mut Options,
    usage: &str,
    version: &str,
) -> Result<bool, Refused> {
    // Every argument could be a path, and each comma could split one more.
    let capacity = (0..args.len())
        .map(|i| 1 + args.get(i).unwrap_or_default().iter().filter(|&&c| c == b',').count())
        .sum();
    let mut wait = wait_engine::Options::default();
    let mut refused = None;
    let mut p = Parser::new(args, 1);
    while let Some(item) = p.next_item() {
        let (name, inline) = match item {
            Item::Opt { name, inline, .. } => (name, inline),
            Item::Operand(i) | Item::End(i) => {
                o.command = i;
                break;
            }
        };
        if refused.is_none() && args::answer_standard(name, inline, usage, version) {
            return Ok(false);
        }
        if let Err(e) = option(&mut p, item, step, o, &mut wait, capacity) {
            refused.get_or_insert(e);
        }
    }
    if let Some(e) = refused {
        return Err(e);
    }
    if let Some(e) = o.waits.as_mut() {
        e.set_options(wait);
    }
    if let Some(e) = o.stop_when.as_mut() {
        e.set_options(wait_engine::Options { any: true, always: true, ..wait_engine::Options::default() });
    }
    if let Some(e) = o.hold_until.as_mut() {
        // Held until every path is finished, however it ended.
        e.set_options(wait_engine::Options { always: true, ..wait_engine::Options::default() });
    }
    if o.program.is_none() && o.command >= args.len() {
        return Err(UsageError::Other("missing COMMAND").into());
    }
    Ok(true)
}

/// The option `item`, its value read from `p` if it takes one.
#[inline(never)]
fn option(
    p: &mut Parser<'_>,
    item: Item,
    step: &mut Step,
    o: &mut Options,
    wait: &mut wait_engine::Options,
    capacity: usize,
) -> Result<(), Refused> {
    let Item::Opt { name, inline, raw, .. } = item else { return Ok(()) };
    let key = lookup(name).ok_or(UsageError::Unknown(raw))?;
    if matches!(key, Key::Unsupported | Key::UnsupportedSwitch) {
        // A switch set to false asks for nothing.
        if key == Key::UnsupportedSwitch && flag_value(name, inline) == Ok(false) {
            return Ok(());
        }
        if key == Key::Unsupported {
            // Its value is no option of ours (nor COMMAND).
            let _ = p.value(inline);
        }
        return Err(UsageError::Unsupported(raw).into());
    }
    if !key.takes_value() {
        let on = flag_value(name, inline)?;
        match key {
            Key::WaitNonempty => wait.nonempty = on,
            _ => wait.always = on,
        }
        return Ok(());
    }
    if key == Key::Program {
        o.program = Some(p.value_cstr(inline)?);
        return Ok(());
    }
    let v = p.value(inline)?;
    match key {
        Key::PostFile => step.post_file = Some(v),
        Key::TerminationPath => step.termination_path = Some(v),
        Key::ResultsDir => step.results.dir = Some(v),
        Key::Results => step.results.names = Some(v),
        Key::StepMetadataDir => step.results.metadata = Some(v),
        Key::Wait | Key::WaitFile if v.windows(3).any(|w| w == b"://") => {
            return Err(UsageError::Other(
                "--wait takes step files, not network targets: use waitfor TARGET -- entrypoint ...",
            )
            .into())
        }
        Key::Wait => add_path(&mut o.waits, capacity, v)?,
        Key::WaitFile => {
            for path in v.split(|&c| c == b',').filter(|s| !s.is_empty()) {
                add_path(&mut o.waits, capacity, path)?;
            }
        }
        Key::StopWhen => add_path(&mut o.stop_when, capacity, v)?,
        Key::HoldUntil => add_path(&mut o.hold_until, capacity, v)?,
        Key::WhileAlive => add_guard(&mut o.waits, capacity, v)?,
        Key::StdoutPath => o.stdout_path = Some(v),
        Key::StderrPath => o.stderr_path = Some(v),
        Key::WaitTimeout => o.wait_timeout = duration::limit(v)?,
        Key::Timeout => o.timeout = duration::limit(v)?,
        Key::Grace => o.grace = duration::option(v)?,
        // Any count of up to 9 digits (`decimal::parse`, as the tools read numbers).
        Key::Retries => step.retries = decimal::parse(v).ok_or(UsageError::Invalid("--retries value", v))?,
        Key::RetryDelay => o.retry_delay = duration::option(v)?,
        Key::OnError => {
            o.on_error = match args::word_index(b"stop stopAndFail continue", v) {
                Some(0 | 1) => OnError::Stop,
                Some(_) => OnError::Continue,
                None => return Err(UsageError::Invalid("--on-error value", v).into()),
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        stepkit::os::argv::TestArgv::new(list).leak()
    }

    fn step() -> Step {
        Step::new()
    }

    fn opts(list: &[&str]) -> (Options, Step) {
        let mut st = step();
        let a = args(list);
        let mut o = Options::new(a.len());
        match parse(&a, &mut st, &mut o, "", "") {
            Ok(true) => (o, st),
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
    fn retries() {
        let (o, st) = opts(&["entrypoint", "--retries", "3", "--retry-delay=250ms", "--", "x"]);
        assert_eq!((st.retries, o.retry_delay), (3, Duration(250_000_000)));
        let (o, st) = opts(&["entrypoint", "--retries=999999999", "--retry-delay", "0", "--", "x"]);
        assert_eq!((st.retries, o.retry_delay), (999_999_999, Duration(0)));
        // The defaults: no retry, 1 s.
        let (o, st) = opts(&["entrypoint", "--", "x"]);
        assert_eq!((st.retries, o.retry_delay), (0, Duration::secs(1)));
    }

    #[test]
    fn command_without_double_dash() {
        let (o, _) = opts(&["entrypoint", "--post-file", "/p", "true"]);
        assert_eq!(o.command, 3);
    }

    #[test]
    fn errors() {
        let bad = |list: &[&str]| match parse(&args(list), &mut step(), &mut Options::new(list.len()), "", "")
        {
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
        for n in ["", "x", "-1", "+1", "1.5", "1000000000", " 1"] {
            let list = ["e", "--retries", n, "--", "x"];
            let value = Box::leak(n.to_string().into_boxed_str()).as_bytes();
            assert_eq!(bad(&list), Some(UsageError::Invalid("--retries value", value)), "{n:?}");
        }
        assert_eq!(
            bad(&["e", "--retry-delay", "1x", "--", "x"]),
            Some(UsageError::Invalid("duration", b"1x"))
        );
    }

    #[test]
    fn every_name_finds_its_key() {
        for (name, key) in OPTIONS {
            assert_eq!(lookup(name.as_bytes()), Some(key), "{name}");
        }
        assert_eq!(NAMES.split(|&c| c == b' ').count(), KEYS.len());
        for unknown in ["post", "help", "h", "version", "", "post-file post_file"] {
            assert_eq!(lookup(unknown.as_bytes()), None, "{unknown}");
        }
    }

    #[test]
    fn after_a_refusal_the_outcome_paths_are_still_read() {
        for list in [
            &["e", "--bogus", "--post-file=/s/p", "--termination-path", "/t", "--", "true"][..],
            // An unsupported Tekton flag's value is not taken for COMMAND.
            &["e", "-when_expressions", "x", "-post_file", "/s/p", "-termination_path=/t", "--", "true"],
            // No --help after a refusal; the first refusal is the one told.
            &[
                "e",
                "--timeout",
                "soon",
                "--help",
                "--grace=x",
                "--post-file",
                "/s/p",
                "--termination-path=/t",
                "true",
            ],
            &["e", "--wait", "tcp://db:5432", "--post-file", "/s/p", "--termination-path=/t", "--post-file"],
        ] {
            let a = args(list);
            let mut st = step();
            let refused = parse(&a, &mut st, &mut Options::new(a.len()), "", "");
            assert!(matches!(refused, Err(Refused::Usage(_))), "{list:?}: {refused:?}");
            assert_eq!(
                (st.post_file, st.termination_path),
                (Some(&b"/s/p"[..]), Some(&b"/t"[..])),
                "{list:?}"
            );
        }
        let a = args(&["e", "--timeout", "soon", "--help", "--grace=x", "--", "true"]);
        let refused = parse(&a, &mut step(), &mut Options::new(a.len()), "", "");
        assert_eq!(refused, Err(Refused::Usage(UsageError::Invalid("duration", b"soon"))));
    }

    #[test]
    fn post_file_found_before_a_bad_option() {
        let a = args(&["e", "-post_file=/s/x", "--bogus", "--", "true"]);
        let mut st = step();
        assert!(parse(&a, &mut st, &mut Options::new(a.len()), "", "").is_err());
        assert_eq!(st.post_file, Some(&b"/s/x"[..]));
    }
}
