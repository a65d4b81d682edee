//! steps: renders a short steps file into the Pod (or Job) that runs it.
//!
//! ```text
//! steps render [--kind pod|job] [-o yaml|json] [CLUSTER OPTIONS]
//!              [--layout subpath|volumes] [--scripts escaped|as-is] FILE
//! steps check [CLUSTER OPTIONS] FILE
//! steps graph [--format mermaid|dot] FILE
//! steps schema
//! steps status POD|job/NAME [-n NS] [--watch] [-o json] [--graph [--format mermaid|dot]]
//!
//! CLUSTER OPTIONS: --kubernetes X.Y, --native-sidecars[=BOOL],
//!                  --pod-resources[=BOOL], --tools-from copy|image
//! ```
//!
//! A host tool (it runs where kubectl runs), built with std; the format of the
//! file and every rule of rendering are docs/steps.md. The lifecycle:
//!
//! 1. Parse the command line ([`options`]); a usage error exits 125. Run as
//!    `kubectl-steps` (the kubectl plugin: `kubectl steps render ...`), the
//!    usage text and a usage error's hint name it `kubectl steps`, as the user
//!    types it; every message keeps the prefix `steps:` (the word the user
//!    typed after `kubectl`), so a problem is `steps: FILE:LINE: what` however
//!    it was run.
//! 2. Read FILE (`-`: standard input); an I/O error exits 125.
//! 3. Parse it into a tree that keeps every line ([`document`]).
//! 4. Read what `steps` itself reads ([`stepsfile`]) and build the graph
//!    ([`dag`]), collecting every problem with its line; if there is any,
//!    print each as `steps: FILE:LINE: what` and exit 1.
//! 5. The cluster's options are decided ([`cluster`]: the command line's
//!    over the file's, an explicit setting over a version's default), with
//!    their warnings. `check` ends there (0); `render` wires the steps
//!    ([`wiring`]), sizes the requests ([`antichain`]) and builds the Pod or
//!    Job ([`render`], [`layout`]); one too large to store is a problem (1),
//!    one too large for client-side apply a warning ([`objectsize`]); then it
//!    is written out ([`emit`]). `graph` draws the DAG ([`picture`]). The
//!    output is built whole, then written at once. Memory that cannot be had
//!    is one line and status 125 ([`memory`]).
//!
//! `status` reads no file: it reads a running pod through kubectl ([`status`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod antichain;
mod apirules;
mod cluster;
mod container_fields;
mod dag;
mod document;
mod emit;
mod layout;
mod memory;
mod objectsize;
mod options;
mod picture;
mod quantity;
mod render;
mod schema;
mod status;
mod stepsfile;
mod target;
mod wiring;

use options::{Command, Output, Parsed};
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE_ERROR: u8 = 125;
/// 128 + SIGPIPE: the reader of standard output went away.
const BROKEN_PIPE: u8 = 141;

#[global_allocator]
static ALLOCATOR: memory::OneLineWhenOut = memory::OneLineWhenOut;

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let program = options::program(argv.next().as_deref());
    // 1. The command line.
    let parsed = argv
        .map(|a| a.into_string().map_err(|a| format!("'{}' is not UTF-8 text", a.to_string_lossy())))
        .collect::<Result<Vec<String>, String>>()
        .and_then(|args| options::parse(&args));
    let (command, file) = match parsed {
        Ok(Parsed::Run { command, file }) => (command, file),
        Ok(Parsed::Help) => return print(&options::usage(program)),
        Ok(Parsed::Schema) => {
            return match schema::schema() {
                Ok(text) => print(&text),
                Err(why) => {
                    say(&why);
                    ExitCode::from(USAGE_ERROR)
                }
            }
        }
        Ok(Parsed::Version) => return print(&format!("steps {}\n", env!("CARGO_PKG_VERSION"))),
        // `steps status POD`: a pod's steps, read through kubectl ([`status`])
        Ok(Parsed::Status(o)) => return status::run(&o),
        Err(msg) => {
            say(&format!("{msg} (try '{program} --help')"));
            return ExitCode::from(USAGE_ERROR);
        }
    };
    // 2. The file.
    let shown = if file == "-" { "<stdin>".to_string() } else { file.clone() };
    let bytes = match read(&file) {
        Ok(b) => b,
        Err(e) => {
            say(&format!("cannot read '{shown}': {}", reason(&e)));
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line =
                1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return problems(&shown, &[stepsfile::Problem { line, what: "not UTF-8 text".to_string() }]);
        }
    };
    // 3. The tree.
    let root = match document::parse(&text) {
        Ok(r) => r,
        Err(e) => return problems(&shown, &[stepsfile::Problem { line: e.line, what: e.what }]),
    };
    // 4. What steps reads, and the graph: every problem in one pass.
    let mut p = stepsfile::Problems::default();
    let f = stepsfile::read(&root, &mut p);
    let taken = init_container_names(&f);
    let dag = dag::build(&f, &taken, &mut p);
    if !p.is_empty() {
        return problems(&shown, &p.sorted());
    }
    // 5. The cluster's options (the command line's over the file's), then what was asked for.
    let choices = command.cluster();
    let settings = cluster::resolve(&choices, &f.cluster);
    if !matches!(command, Command::Graph { .. }) {
        if let Some(problem) = render::pod_resources_given(&f, settings) {
            return problems(&shown, &[problem]);
        }
        for (line, what) in cluster::warnings(&choices, &f.cluster) {
            warn(&shown, line, &what);
        }
        if let Some((line, what)) = render::lost_guarantee(&f, &dag, settings) {
            warn(&shown, Some(line), &what);
        }
    }
    let output = match command {
        Command::Check { .. } => return ExitCode::SUCCESS,
        Command::Graph { format } => {
            let (text, edges) = picture::draw(&f, &dag, format);
            if format == picture::Format::Mermaid && edges > picture::MERMAID_MAX_EDGES {
                say(&format!(
                    "{shown}: warning: {edges} edges, more than Mermaid's default limit of {} (maxEdges): it draws none of them; --format dot draws any number",
                    picture::MERMAID_MAX_EDGES
                ));
            }
            text
        }
        Command::Render(r) => {
            let opts = render::Options {
                kind: r.kind,
                layout: r.layout,
                escape_dollars: r.escape_dollars,
                cluster: settings,
            };
            let tree = render::render(&f, &dag, opts);
            let kind = if r.kind == render::Kind::Job { "Job" } else { "Pod" };
            match objectsize::judge(emit::compact_json_len(&tree), kind) {
                objectsize::Verdict::Fits => {}
                objectsize::Verdict::TooLargeToApply(what) => warn(&shown, None, &what),
                objectsize::Verdict::TooLargeToStore(what) => {
                    return problems(&shown, &[stepsfile::Problem { line: f.steps_line, what }])
                }
            }
            match r.output {
                Output::Json => emit::json(&tree),
                Output::Yaml => {
                    let from = if file == "-" { "standard input".to_string() } else { file_name(&file) };
                    format!(
                        "# Rendered by steps {} from {from}: change that file, not this one.\n{}",
                        env!("CARGO_PKG_VERSION"),
                        emit::yaml(&tree)
                    )
                }
            }
        }
    };
    print(&output)
}

/// The names of the pod's own init containers (`pod.initContainers`), with their lines.
fn init_container_names(f: &stepsfile::File) -> Vec<(String, usize)> {
    f.pod
        .iter()
        .filter(|e| e.key == "initContainers")
        .flat_map(|e| e.value.as_seq().unwrap_or_default().iter())
        .filter_map(|c| c.get("name").and_then(|n| n.as_str().map(|s| (s.to_string(), n.line))))
        .collect()
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or(path.to_string(), |n| n.to_string_lossy().into_owned())
}

fn read(file: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(file)?.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// The system's reason, without Rust's " (os error N)".
fn reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// One line on standard error, in one write.
fn say(msg: &str) {
    let line = format!("steps: {msg}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A warning: one line, `FILE[:LINE]: warning: what`; nothing else changes.
fn warn(file: &str, line: Option<usize>, what: &str) {
    match line {
        Some(line) => say(&format!("{file}:{line}: warning: {what}")),
        None => say(&format!("{file}: warning: {what}")),
    }
}

fn problems(file: &str, list: &[stepsfile::Problem]) -> ExitCode {
    for p in list {
        say(&format!("{file}:{}: {}", p.line, p.what));
    }
    ExitCode::from(1)
}

fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output_failed(&e),
    }
}

/// Standard output could not be written. A reader that went away (`steps
/// render x | head`) ends `steps` quietly with 141, the status a shell shows
/// for a program that SIGPIPE ended (kubectl's, or cat's, under a closed
/// pipe); any other failure is one line and 125.
fn output_failed(e: &std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return ExitCode::from(BROKEN_PIPE);
    }
    say(&format!("cannot write the output: {}", reason(e)));
    ExitCode::from(USAGE_ERROR)
}
