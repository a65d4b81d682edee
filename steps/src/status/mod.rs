//! `steps status POD`: where a running pod is. With the hold, `kubectl get
//! pod` shows every container Running until the end; this shows each step's
//! state (waiting, running, done, failed, skipped, died), its exit status and
//! times.
//!
//! ```text
//! steps status POD|job/NAME [-n NS] [-w|--watch] [--interval D] [-o table|json]
//!              [--graph [--format mermaid|dot]]
//! ```
//!
//! The lifecycle of one look (`--watch`: one a second, until the pod, or
//! every one of its steps, has ended):
//!
//! 1. `kubectl get pod POD -o json` ([`kubectl`]; `$KUBECTL` names another
//!    kubectl; `job/NAME`: the newest pod labelled `job-name=NAME`). The steps, their dependencies and step files come from the
//!    wrappers' arguments in the pod itself ([`pod`]): no steps file needed.
//! 2. While a step's container runs, one `kubectl exec` of `waitfor --status`
//!    (the tools' own, in `/tools`) in one running step container reports every
//!    step's files at once ([`query`]). A pod that has ended needs none: its
//!    containers' termination messages say everything.
//! 3. The two are combined into each step's state ([`combine`]), then printed
//!    ([`view`]): a table, a JSON document, or the DAG coloured by state.
//!
//! Exit status: 0 when it could report, whatever the pod's state; 125 when
//! kubectl fails or the pod is not one of ours (one line, `steps: ...`). When
//! the step files cannot be read (`kubectl exec` refused, a pod rendered
//! before `waitfor` was always copied), one warning line says so and the
//! running steps are `unknown`.

pub mod cli;
mod combine;
mod kubectl;
mod pod;
mod query;
mod time;
mod view;

use cli::{Options, Output};
use combine::{Memory, View};
use kubectl::Target;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `steps status`: one look, or (`--watch`) one a second until the pod (or every step) has ended.
pub fn run(o: &Options) -> ExitCode {
    let terminal = std::io::stdout().is_terminal();
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    let colour = terminal && !no_colour;
    let mut memory = Memory::new();
    let mut warned = false;
    let mut files_seen: Option<query::Files> = None;
    let mut last: Option<(View, String)> = None;
    loop {
        let began = Instant::now();
        let view = match look(o, &mut memory, &mut files_seen, &mut warned) {
            Ok(v) => v,
            Err(line) => {
                crate::say(&line);
                return ExitCode::from(crate::USAGE_ERROR);
            }
        };
        let now = stepkit::os::clock::unix_millis();
        let text = match o.output {
            Output::Table => view::table(&view, now, colour),
            Output::Json => crate::emit::json(&view::json(&view)),
            Output::Graph(format) => view::graph(&view, format),
        };
        let shown = match (&last, o.watch) {
            (_, false) => text.clone(),
            // a terminal: the whole view again, in place
            (_, true) if terminal => format!("\x1b[H\x1b[2J{text}"),
            (None, true) => text.clone(),
            // otherwise only what changed, and the final view at the end
            (Some((before, _)), true) if o.output == Output::Table => {
                let mut changed = view::changes(before, &view, now);
                if over(&view) {
                    changed.push('\n');
                    changed.push_str(&text);
                }
                changed
            }
            (Some((_, before)), true) if *before == text => String::new(),
            (Some(_), true) => text.clone(),
        };
        if let Err(e) = write_out(&shown) {
            return crate::output_failed(&e);
        }
        if !o.watch || over(&view) {
            return ExitCode::SUCCESS;
        }
        last = Some((view, text));
        let interval = Duration::from_millis(o.interval_ms);
        std::thread::sleep(interval.saturating_sub(began.elapsed()));
    }
}

/// Whether a watch is over: the pod has ended, or every step and sidecar
/// has (done, failed, skipped or died). The second comes first on a real
/// node: a pod's containers end together when their steps hold, and the
/// runtime reports many exits at once one by one, so the pod's phase can lag
/// the work's end by minutes (docs/design.md, "Holding until the end").
fn over(v: &View) -> bool {
    use combine::State::{Died, Done, Failed, Skipped};
    v.ended || v.rows.iter().all(|r| matches!(r.state, Done | Failed | Skipped | Died))
}

fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// One look at the pod (of the Job): its status, and its step files while a step runs.
/// When the files cannot be read now but were before (`--watch`), the last
/// reading stands: on a real node the containers that hold end together and
/// are reported as ended a while later, so for a moment none answers an exec
/// though the pod still shows them running; a step's state never goes back.
fn look(
    o: &Options,
    memory: &mut Memory,
    files_seen: &mut Option<query::Files>,
    warned: &mut bool,
) -> Result<View, String> {
    let namespace = o.namespace.as_deref();
    let pod = if o.job {
        pod::read_job(&kubectl::get_job_pods(&o.pod, namespace)?, &o.pod)?
    } else {
        pod::read(&kubectl::get_pod(&Target { pod: &o.pod, namespace })?)?
    };
    let target = &Target { pod: &pod.name, namespace };
    let running = pod.steps.iter().any(|s| matches!(s.container, pod::Container::Running { .. }));
    let files = match running && !pod.ended() {
        false => None,
        true => match read_files(target, &pod) {
            Ok(files) => {
                *files_seen = Some(files.clone());
                Some(files)
            }
            Err(_) if files_seen.is_some() => files_seen.clone(),
            Err(why) => {
                if !std::mem::replace(warned, true) {
                    crate::say(&format!(
                        "warning: cannot read the step files of pod '{}' ({why}): the states of its running steps are unknown",
                        pod.name
                    ));
                }
                None
            }
        },
    };
    Ok(combine::combine(&pod, files.as_ref(), memory))
}

/// Every step's files, through `waitfor --status` in one running container
/// (a step's, which sees every step directory; else the join's or a
/// sidecar's); a second one is tried if the first fails (it may just have
/// ended). The last failure's reason when none answers.
fn read_files(target: &Target, pod: &pod::Pod) -> Result<query::Files, String> {
    let mut paths: Vec<&str> = Vec::new();
    for s in pod.steps.iter().filter(|s| s.kind != pod::Kind::Join) {
        paths.push(&s.wrapper.post_file);
        paths.extend(s.wrapper.results_dir.as_deref());
    }
    let preference = [pod::Kind::Step, pod::Kind::Finally, pod::Kind::Join, pod::Kind::Sidecar];
    let mut candidates: Vec<&pod::Step> =
        pod.steps.iter().filter(|s| matches!(s.container, pod::Container::Running { .. })).collect();
    candidates.sort_by_key(|s| preference.iter().position(|&k| k == s.kind));
    let mut why = String::new();
    for c in candidates.iter().take(2) {
        let waitfor = if c.wrapper.tools == "." {
            "waitfor".to_string()
        } else {
            format!("{}/waitfor", c.wrapper.tools)
        };
        match kubectl::status_files(target, &c.name, &waitfor, &paths).and_then(|out| query::parse(&out)) {
            Ok(files) => return Ok(files),
            Err(e) => why = e,
        }
    }
    Err(why)
}
