//! Each step's state, from what the pod's status says of its container and
//! what its step files say (`waitfor --status`), as one view.
//!
//! | container | step files | state |
//! |---|---|---|
//! | terminated, our message | (not needed) | `Reason`: `Completed`, `Stopped`, none (`--on-error continue`): done; `Error`, `Signaled`, `TimeoutExceeded`: failed; `Skipped`, `DependencyDied`, `Cancelled`: skipped |
//! | terminated, no message | the marker if known, else exit 137 or `OOMKilled`: died; 0: done; 1: as a failed 1 below; else failed | |
//! | running | `P`: done (held); `P.err`: failed, or skipped when it holds 1 and a step it needs failed, was skipped or died (the only way a wrapper writes 1 without running its command); alive: running once its results directory exists (the wrapper makes it right before the command starts), else waiting; died: died; absent: waiting (its wrapper has not started, or waits for a sidecar's ready target) | |
//! | running | not read (`kubectl exec` failed) | unknown |
//! | not started | | waiting; skipped once the pod has ended |
//!
//! `Cancelled` (TERM or INT while the wrapper waited: the pod was deleted or
//! ran past its deadline) counts as skipped: the command never ran, which is
//! what skipped tells; the exit status (143) and the reason say why.
//!
//! Times: `StartedAt` of the message is exact (the command's start). While the
//! container runs, the start is the results directory's time, which is the
//! command's start at the latest (later when the command has written a result
//! into it): shown as such. The end is the marker's time; once the pod has
//! ended the files cannot be read, so the end of a step that held is known
//! only if an earlier look saw its marker (`--watch` remembers), and that of
//! a step that did not hold is its container's end.

use super::pod::{Container, Kind, Pod, Terminated};
use super::query::{FileState, Files};
use std::collections::HashMap;

/// A step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Its wrapper waits for its dependencies (or has not started).
    Waiting,
    /// Its command runs.
    Running,
    Done,
    Failed,
    /// A dependency failed, was skipped or died (or the pod went): the command never ran.
    Skipped,
    /// Its wrapper was killed (SIGKILL, OOM) and left no result.
    Died,
    /// Its container runs, but its step files could not be read.
    Unknown,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Skipped => "skipped",
            State::Died => "died",
            State::Unknown => "unknown",
        }
    }

    /// Every state, in the order of a summary.
    pub const ALL: [State; 7] = [
        State::Done,
        State::Running,
        State::Waiting,
        State::Failed,
        State::Skipped,
        State::Died,
        State::Unknown,
    ];
}

/// One step as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub kind: Kind,
    /// The steps it waits for (indices of rows).
    pub needs: Vec<usize>,
    pub state: State,
    pub exit_code: Option<i64>,
    /// Why, in a word: the message's `Reason`, the kubelet's, `Continued`.
    pub reason: Option<String>,
    /// The line that explained a failure (the message's `Message`).
    pub message: Option<String>,
    pub started_ms: Option<u64>,
    /// False: `started_ms` is the results directory's time, the start at the latest.
    pub started_exact: bool,
    pub ended_ms: Option<u64>,
    pub attempts: Option<u32>,
    pub results: Vec<(String, String)>,
}

/// The pod and its steps, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub pod: String,
    pub namespace: Option<String>,
    pub phase: String,
    pub reason: Option<String>,
    pub started_ms: Option<u64>,
    pub ended: bool,
    /// Whether the step files were read: `None` when there was no need (no
    /// step container runs), `Some(false)` when `kubectl exec` failed.
    pub files_read: Option<bool>,
    /// Steps, finally steps, sidecars (the join is not shown).
    pub rows: Vec<Row>,
    /// `(sidecar's row, ready target, rows of the steps that wait for it)`.
    pub ready: Vec<(usize, String, Vec<usize>)>,
}

/// What earlier looks saw (`--watch`): the times of the markers and of the
/// results directories, by path, for when the files can no longer be read.
pub type Memory = HashMap<String, u64>;

/// A step's state before the skip rule: a failed wrapper that wrote 1 may
/// have been skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Is(State),
    FailedWithOne,
}

/// The view of `pod`, with the step files' states `files` if they were read.
pub fn combine(pod: &Pod, files: Option<&Files>, memory: &mut Memory) -> View {
    let shown: Vec<usize> = (0..pod.steps.len()).filter(|&i| pod.steps[i].kind != Kind::Join).collect();
    let row_of = |i: usize| shown.iter().position(|&s| s == i);
    // remember every time the files tell
    if let Some(files) = files {
        for (path, f) in files {
            if let (Some(ms), FileState::Done | FileState::Failed) = (f.mtime_ms, f.state) {
                memory.insert(path.clone(), ms);
            }
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut found = Vec::new();
    for &i in &shown {
        let (mut row, mut f) = look(pod, i, files, memory);
        // A native sidecar (no --stop-when) is stopped by the kubelet's TERM once
        // the steps have ended: its wrapper's 143 is its normal end.
        let step = &pod.steps[i];
        let native = step.kind == Kind::Sidecar && step.wrapper.stop_when.is_empty();
        if native && f == Found::Is(State::Failed) && row.exit_code == Some(143) {
            (f, row.reason) = (Found::Is(State::Done), Some("Stopped".to_string()));
        }
        rows.push(Row { needs: pod.needs(i).into_iter().filter_map(row_of).collect(), ..row });
        found.push(f);
    }
    // The skip rule, in dependency order (memoised; a cycle counts as no failure).
    let causes = skip_causes(pod, &shown);
    let mut resolved: Vec<Option<State>> = vec![None; rows.len()];
    let mut visiting = vec![false; rows.len()];
    for r in 0..rows.len() {
        resolve(r, &found, &causes, &mut resolved, &mut visiting);
    }
    for (row, state) in rows.iter_mut().zip(resolved) {
        row.state = state.unwrap_or(State::Failed);
        if row.state == State::Skipped && row.reason.is_none() {
            row.reason = Some("Skipped".to_string());
        }
    }
    let files_read = match files {
        Some(_) => Some(true),
        None if rows.iter().any(|r| r.state == State::Unknown) => Some(false),
        None => None,
    };
    let ready = ready(pod, &shown);
    View {
        pod: pod.name.clone(),
        namespace: pod.namespace.clone(),
        phase: pod.phase.clone(),
        reason: pod.reason.clone(),
        started_ms: pod.started_ms,
        ended: pod.ended(),
        files_read,
        rows,
        ready,
    }
}

/// For each shown row: the rows whose failure (or, for a sidecar whose ready
/// target the step waits for, whose end) skips it.
fn skip_causes(pod: &Pod, shown: &[usize]) -> Vec<Vec<(usize, bool)>> {
    let row_of = |i: usize| shown.iter().position(|&s| s == i);
    shown
        .iter()
        .map(|&i| {
            let needs = pod.needs(i).into_iter().filter_map(row_of).map(|r| (r, false));
            let sidecars =
                pod.steps[i].wrapper.ready.iter().filter_map(|(s, _)| pod.by_post_file(s)).filter_map(row_of);
            needs.chain(sidecars.map(|r| (r, true))).collect()
        })
        .collect()
}

fn resolve(
    r: usize,
    found: &[Found],
    causes: &[Vec<(usize, bool)>],
    resolved: &mut [Option<State>],
    visiting: &mut [bool],
) -> State {
    if let Some(s) = resolved[r] {
        return s;
    }
    let state = match found[r] {
        Found::Is(s) => s,
        Found::FailedWithOne if visiting[r] => State::Failed,
        Found::FailedWithOne => {
            visiting[r] = true;
            let skipped = causes[r].iter().any(|&(c, sidecar)| {
                let s = resolve(c, found, causes, resolved, visiting);
                // a step waits for a sidecar's ready target only while the sidecar lives
                matches!(s, State::Failed | State::Skipped | State::Died) || (sidecar && s == State::Done)
            });
            visiting[r] = false;
            if skipped {
                State::Skipped
            } else {
                State::Failed
            }
        }
    };
    resolved[r] = Some(state);
    state
}

/// The ready targets and who waits for them.
fn ready(pod: &Pod, shown: &[usize]) -> Vec<(usize, String, Vec<usize>)> {
    let row_of = |i: usize| shown.iter().position(|&s| s == i);
    let mut out: Vec<(usize, String, Vec<usize>)> = Vec::new();
    for &i in shown {
        for (sidecar, target) in &pod.steps[i].wrapper.ready {
            let (Some(s), Some(w)) = (pod.by_post_file(sidecar).and_then(row_of), row_of(i)) else {
                continue;
            };
            match out.iter_mut().find(|(r, t, _)| *r == s && t == target) {
                Some((_, _, waiters)) => waiters.push(w),
                None => out.push((s, target.clone(), vec![w])),
            }
        }
    }
    out
}

/// Step `i` as its container and its files show it.
fn look(pod: &Pod, i: usize, files: Option<&Files>, memory: &Memory) -> (Row, Found) {
    let step = &pod.steps[i];
    let w = &step.wrapper;
    let post = files.and_then(|f| f.get(&w.post_file));
    let results = w.results_dir.as_ref().and_then(|d| files.and_then(|f| f.get(d)));
    let results_ms = w.results_dir.as_ref().and_then(|d| {
        results
            .filter(|f| f.state == FileState::Done)
            .and_then(|f| f.mtime_ms)
            .or_else(|| memory.get(d).copied())
    });
    let marker_ms = memory.get(&w.post_file).copied();
    let mut row = Row {
        name: step.name.clone(),
        kind: step.kind,
        needs: Vec::new(),
        state: State::Waiting,
        exit_code: None,
        reason: None,
        message: None,
        started_ms: results_ms,
        started_exact: false,
        ended_ms: None,
        attempts: None,
        results: Vec::new(),
    };
    let found = match &step.container {
        Container::Terminated(t) => {
            terminated(&mut row, t, post.map(|f| (f.state, f.status)), marker_ms, !w.hold_until.is_empty())
        }
        // A sidecar's command starts with its container (it waits for nothing).
        // Its directory may not be mounted where the files are read (`--layout
        // volumes` mounts it only in the steps that wait for its ready target):
        // absent there, it runs all the same.
        Container::Running { started_ms }
            if step.kind == Kind::Sidecar
                && post.is_some_and(|f| matches!(f.state, FileState::Alive | FileState::Absent)) =>
        {
            (row.started_ms, row.started_exact) = (*started_ms, true);
            Found::Is(State::Running)
        }
        Container::Running { .. } => match post {
            Some(f) => match f.state {
                FileState::Done => {
                    (row.exit_code, row.ended_ms) = (Some(f.status.unwrap_or(0)), marker_ms);
                    Found::Is(State::Done)
                }
                FileState::Failed => {
                    (row.exit_code, row.ended_ms) = (f.status, marker_ms);
                    one_or_failed(f.status, w.always)
                }
                FileState::Alive => {
                    let started = match &w.results_dir {
                        Some(_) => results_ms.is_some(),
                        // no results directory to tell (a hand-written pod, a
                        // sidecar): running once its wait is over
                        None => pod.needs(i).iter().all(|&d| {
                            let dep = files.and_then(|f| f.get(&pod.steps[d].wrapper.post_file));
                            dep.is_some_and(|f| match f.state {
                                FileState::Done => true,
                                FileState::Failed | FileState::Died => w.always,
                                FileState::Alive | FileState::Absent => false,
                            })
                        }),
                    };
                    if started {
                        Found::Is(State::Running)
                    } else {
                        row.started_ms = None;
                        Found::Is(State::Waiting)
                    }
                }
                FileState::Died => Found::Is(State::Died),
                FileState::Absent => {
                    row.started_ms = None;
                    Found::Is(State::Waiting)
                }
            },
            None => {
                row.started_ms = None;
                Found::Is(State::Unknown)
            }
        },
        // not started (yet): once the pod has ended, never
        Container::Waiting { reason } => not_started(&mut row, reason.as_deref(), pod.ended()),
        Container::Unknown => not_started(&mut row, None, pod.ended()),
    };
    (row, found)
}

/// A container that has not started: waiting, or skipped once the pod has ended.
fn not_started(row: &mut Row, reason: Option<&str>, pod_ended: bool) -> Found {
    row.started_ms = None;
    row.reason = reason.map(str::to_string);
    if pod_ended {
        row.reason = Some(reason.map_or_else(|| "NotStarted".to_string(), |r| format!("NotStarted ({r})")));
        return Found::Is(State::Skipped);
    }
    Found::Is(State::Waiting)
}

/// A marker of failure: skipped if it holds 1 (or nothing) and the step could skip.
fn one_or_failed(status: Option<i64>, always: bool) -> Found {
    match status {
        Some(1) | None if !always => Found::FailedWithOne,
        _ => Found::Is(State::Failed),
    }
}

/// A terminated container: its message says how the step ended; without one,
/// its marker (if it was seen), else its exit code.
fn terminated(
    row: &mut Row,
    t: &Terminated,
    marker: Option<(FileState, Option<i64>)>,
    marker_ms: Option<u64>,
    held: bool,
) -> Found {
    // a step that held ended long before its container; one that did not, with it
    row.ended_ms = marker_ms.or(if held { None } else { t.finished_ms });
    if let Some(m) = &t.message {
        row.started_ms = m.started_ms.or(row.started_ms);
        row.started_exact = m.started_ms.is_some();
        row.exit_code = m.exit_code.or(Some(t.exit_code));
        row.message.clone_from(&m.text);
        row.attempts = m.attempts;
        row.results.clone_from(&m.results);
        let (state, reason) = match m.reason.as_deref() {
            Some("Completed") => (State::Done, None),
            Some("Stopped") => (State::Done, Some("Stopped")),
            None if m.exit_code.unwrap_or(0) != 0 => (State::Done, Some("Continued")),
            None => (State::Done, None),
            Some("Error" | "Signaled" | "TimeoutExceeded") => (State::Failed, m.reason.as_deref()),
            Some("Skipped" | "DependencyDied" | "Cancelled") => (State::Skipped, m.reason.as_deref()),
            Some(_) if row.exit_code == Some(0) => (State::Done, m.reason.as_deref()),
            Some(_) => (State::Failed, m.reason.as_deref()),
        };
        row.reason = reason.map(str::to_string);
        return Found::Is(state);
    }
    row.exit_code = Some(t.exit_code);
    row.reason.clone_from(&t.reason);
    // the kubelet says `Error` of any non-zero exit: no news
    let oom = t.reason.as_deref() == Some("OOMKilled");
    if !oom && row.reason.as_deref() == Some("Error") {
        row.reason = None;
    }
    match marker {
        Some((FileState::Done, _)) => Found::Is(State::Done),
        Some((FileState::Failed, status)) => one_or_failed(status.or(Some(t.exit_code)), false),
        Some((FileState::Died, _)) => Found::Is(State::Died),
        // a message was written but cut by Kubernetes: the wrapper did not die
        _ if t.had_message => match t.exit_code {
            0 => Found::Is(State::Done),
            1 => Found::FailedWithOne,
            _ => Found::Is(State::Failed),
        },
        _ if t.exit_code == 137 || oom => Found::Is(State::Died),
        _ => match t.exit_code {
            0 => Found::Is(State::Done),
            1 => Found::FailedWithOne,
            _ => Found::Is(State::Failed),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::pod::{Message, Step, Wrapper};
    use super::super::query;
    use super::*;

    fn out(name: &str) -> String {
        format!("/steps/{name}/out")
    }

    /// A step as `steps render` wraps it: holding until `end`, its results directory.
    fn step(name: &str, kind: Kind, waits: &[&str], container: Container) -> Step {
        let sidecar = kind == Kind::Sidecar;
        Step {
            name: name.to_string(),
            kind,
            wrapper: Wrapper {
                tools: "/tools".into(),
                post_file: out(name),
                waits: waits.iter().map(|w| out(w)).collect(),
                always: kind == Kind::Finally,
                hold_until: if sidecar { vec![] } else { vec![out("end")] },
                stop_when: if sidecar { vec![out("end")] } else { vec![] },
                results_dir: (!sidecar).then(|| format!("/steps/{name}/results")),
                ready: vec![],
            },
            container,
        }
    }

    fn pod(phase: &str, steps: Vec<Step>) -> Pod {
        Pod {
            name: "build".into(),
            namespace: None,
            phase: phase.into(),
            reason: None,
            started_ms: None,
            steps,
        }
    }

    fn running() -> Container {
        Container::Running { started_ms: Some(1000) }
    }

    fn ended(exit_code: i64, reason: &str, message: Option<Message>) -> Container {
        Container::Terminated(Terminated {
            exit_code,
            reason: Some(reason.into()),
            had_message: message.is_some(),
            message,
            started_ms: Some(1000),
            finished_ms: Some(9000),
        })
    }

    fn msg(exit: i64, reason: Option<&str>) -> Option<Message> {
        Some(Message {
            started_ms: Some(2000),
            exit_code: Some(exit),
            reason: reason.map(str::to_string),
            ..Message::default()
        })
    }

    fn states(v: &View) -> Vec<(&str, State, Option<i64>, Option<&str>)> {
        v.rows.iter().map(|r| (r.name.as_str(), r.state, r.exit_code, r.reason.as_deref())).collect()
    }

    #[test]
    fn a_running_pod_from_its_step_files() {
        let mut p = pod(
            "Running",
            vec![
                step("fetch", Kind::Step, &[], running()),
                step("test", Kind::Step, &["fetch"], running()),
                step("lint", Kind::Step, &["fetch"], running()),
                step("publish", Kind::Step, &["test", "lint"], running()),
                step("oom", Kind::Step, &["fetch"], ended(137, "OOMKilled", None)),
                step("next", Kind::Step, &["test"], running()),
                step("report", Kind::Finally, &["publish", "oom"], running()),
                step("db", Kind::Sidecar, &[], running()),
            ],
        );
        p.steps[1].wrapper.ready = vec![(out("db"), "tcp://127.0.0.1:5432".into())];
        let files = query::parse(
            "done\t0\t5000\t/steps/fetch/out\n\
             done\t-\t4000\t/steps/fetch/results\n\
             alive\t-\t-\t/steps/test/out\n\
             done\t-\t5001\t/steps/test/results\n\
             failed\t2\t5100\t/steps/lint/out\n\
             done\t-\t5002\t/steps/lint/results\n\
             failed\t1\t5101\t/steps/publish/out\n\
             absent\t-\t-\t/steps/publish/results\n\
             died\t-\t-\t/steps/oom/out\n\
             done\t-\t5003\t/steps/oom/results\n\
             alive\t-\t-\t/steps/next/out\n\
             absent\t-\t-\t/steps/next/results\n\
             alive\t-\t-\t/steps/report/out\n\
             absent\t-\t-\t/steps/report/results\n\
             absent\t-\t-\t/steps/db/out\n",
        )
        .unwrap();
        let mut memory = Memory::new();
        let v = combine(&p, Some(&files), &mut memory);
        assert_eq!(
            states(&v),
            [
                ("fetch", State::Done, Some(0), None),
                ("test", State::Running, None, None),
                ("lint", State::Failed, Some(2), None),
                ("publish", State::Skipped, Some(1), Some("Skipped")),
                ("oom", State::Died, Some(137), Some("OOMKilled")),
                ("next", State::Waiting, None, None),
                ("report", State::Waiting, None, None),
                ("db", State::Running, None, None),
            ]
        );
        let times: Vec<_> = v.rows.iter().map(|r| (r.started_ms, r.started_exact, r.ended_ms)).collect();
        assert_eq!(
            times,
            [
                (Some(4000), false, Some(5000)),
                (Some(5001), false, None),
                (Some(5002), false, Some(5100)),
                (None, false, Some(5101)),
                (Some(5003), false, None),
                (None, false, None),
                (None, false, None),
                (Some(1000), true, None),
            ]
        );
        assert_eq!(v.rows[3].needs, [1, 2]);
        assert_eq!(v.ready, [(7, "tcp://127.0.0.1:5432".to_string(), vec![1])]);
        assert_eq!(v.files_read, Some(true));
        // the markers' and results directories' times are remembered
        assert_eq!(memory.get("/steps/lint/out"), Some(&5100));
        assert_eq!(memory.get("/steps/fetch/results"), Some(&4000));
    }

    #[test]
    fn a_failed_one_is_skipped_only_when_a_step_it_needs_failed() {
        let files = |lines: &str| query::parse(lines).unwrap();
        let p = pod(
            "Running",
            vec![
                step("a", Kind::Step, &[], running()),
                step("b", Kind::Step, &["a"], running()),
                step("c", Kind::Step, &["b"], running()),
                step("own", Kind::Step, &[], running()),
                step("fin", Kind::Finally, &["c"], running()),
            ],
        );
        let f = files(
            "failed\t3\t1\t/steps/a/out\nfailed\t1\t2\t/steps/b/out\nfailed\t-\t3\t/steps/c/out\n\
             failed\t1\t4\t/steps/own/out\nfailed\t1\t5\t/steps/fin/out\n",
        );
        let v = combine(&p, Some(&f), &mut Memory::new());
        let got: Vec<State> = v.rows.iter().map(|r| r.state).collect();
        // a failed; b and c skipped down the chain; own's command exited 1; a finally step never skips
        assert_eq!(got, [State::Failed, State::Skipped, State::Skipped, State::Failed, State::Failed]);
        // a step that waits for a sidecar's ready target is skipped once the sidecar has ended
        let mut p = pod(
            "Running",
            vec![step("app", Kind::Step, &[], running()), step("db", Kind::Sidecar, &[], running())],
        );
        p.steps[0].wrapper.ready = vec![(out("db"), "tcp://db:5432".into())];
        let f = files("failed\t1\t1\t/steps/app/out\ndone\t0\t1\t/steps/db/out\n");
        let v = combine(&p, Some(&f), &mut Memory::new());
        assert_eq!(states(&v)[0], ("app", State::Skipped, Some(1), Some("Skipped")));
    }

    #[test]
    fn ended_containers_from_their_messages() {
        let mut cut = Terminated { exit_code: 1, had_message: true, ..Terminated::default() };
        let p = pod(
            "Failed",
            vec![
                step("ok", Kind::Step, &[], ended(0, "Completed", msg(0, Some("Completed")))),
                step("bad", Kind::Step, &[], ended(3, "Error", msg(3, Some("Error")))),
                step("slow", Kind::Step, &[], ended(124, "Error", msg(124, Some("TimeoutExceeded")))),
                step("sig", Kind::Step, &[], ended(137, "Error", msg(137, Some("Signaled")))),
                step("skip", Kind::Step, &["bad"], ended(1, "Error", msg(1, Some("Skipped")))),
                step("dd", Kind::Step, &[], ended(1, "Error", msg(1, Some("DependencyDied")))),
                step("gone", Kind::Step, &[], ended(143, "Error", msg(143, Some("Cancelled")))),
                step("cont", Kind::Step, &[], ended(0, "Completed", msg(3, None))),
                step("cut", Kind::Step, &["bad"], Container::Terminated(cut.clone())),
                step("killed", Kind::Step, &[], ended(137, "Error", None)),
                step("oom", Kind::Step, &[], ended(137, "OOMKilled", None)),
                step("start", Kind::Step, &[], ended(128, "StartError", None)),
                step("never", Kind::Step, &[], Container::Waiting { reason: Some("PodInitializing".into()) }),
                step("db", Kind::Sidecar, &[], ended(0, "Completed", msg(0, Some("Stopped")))),
                step("native", Kind::Sidecar, &[], ended(143, "Error", msg(143, Some("Signaled")))),
            ],
        );
        let mut p = p;
        p.steps[14].wrapper.stop_when.clear();
        let v = combine(&p, None, &mut Memory::new());
        assert_eq!(
            states(&v),
            [
                ("ok", State::Done, Some(0), None),
                ("bad", State::Failed, Some(3), Some("Error")),
                ("slow", State::Failed, Some(124), Some("TimeoutExceeded")),
                ("sig", State::Failed, Some(137), Some("Signaled")),
                ("skip", State::Skipped, Some(1), Some("Skipped")),
                ("dd", State::Skipped, Some(1), Some("DependencyDied")),
                ("gone", State::Skipped, Some(143), Some("Cancelled")),
                ("cont", State::Done, Some(3), Some("Continued")),
                ("cut", State::Skipped, Some(1), Some("Skipped")),
                ("killed", State::Died, Some(137), None),
                ("oom", State::Died, Some(137), Some("OOMKilled")),
                ("start", State::Failed, Some(128), Some("StartError")),
                ("never", State::Skipped, None, Some("NotStarted (PodInitializing)")),
                ("db", State::Done, Some(0), Some("Stopped")),
                // a native sidecar's end: the kubelet's TERM
                ("native", State::Done, Some(143), Some("Stopped")),
            ]
        );
        assert_eq!(v.files_read, None);
        // StartedAt is exact; a step that held has no end without an earlier look...
        assert_eq!(
            (v.rows[0].started_ms, v.rows[0].started_exact, v.rows[0].ended_ms),
            (Some(2000), true, None)
        );
        // ...one that did not hold ended with its container
        assert_eq!(v.rows[13].ended_ms, Some(9000));
        let mut memory = Memory::from([(out("ok"), 2500)]);
        let v = combine(&p, None, &mut memory);
        assert_eq!(v.rows[0].ended_ms, Some(2500));
        // a cut message with exit 2 is a failure, never a death
        cut.exit_code = 2;
        let p = pod("Failed", vec![step("cut", Kind::Step, &[], Container::Terminated(cut))]);
        assert_eq!(states(&combine(&p, None, &mut Memory::new()))[0].1, State::Failed);
    }

    #[test]
    fn containers_not_started_and_step_files_not_read() {
        let p = pod(
            "Pending",
            vec![
                step("a", Kind::Step, &[], Container::Waiting { reason: Some("ImagePullBackOff".into()) }),
                step("b", Kind::Step, &["a"], Container::Unknown),
            ],
        );
        let v = combine(&p, None, &mut Memory::new());
        assert_eq!(
            states(&v),
            [("a", State::Waiting, None, Some("ImagePullBackOff")), ("b", State::Waiting, None, None)]
        );
        assert_eq!(v.files_read, None);
        let p = pod("Running", vec![step("a", Kind::Step, &[], running())]);
        let v = combine(&p, None, &mut Memory::new());
        assert_eq!(states(&v), [("a", State::Unknown, None, None)]);
        assert_eq!(v.files_read, Some(false));
    }

    #[test]
    fn without_a_results_directory_a_step_runs_once_its_wait_is_over() {
        let mut p = pod(
            "Running",
            vec![
                step("a", Kind::Step, &[], running()),
                step("b", Kind::Step, &["a"], running()),
                step("c", Kind::Finally, &["b"], running()),
            ],
        );
        for s in &mut p.steps {
            s.wrapper.results_dir = None;
        }
        let f = query::parse(
            "failed\t3\t1\t/steps/a/out\nalive\t-\t-\t/steps/b/out\nalive\t-\t-\t/steps/c/out\n",
        )
        .unwrap();
        let v = combine(&p, Some(&f), &mut Memory::new());
        let got: Vec<State> = v.rows.iter().map(|r| r.state).collect();
        assert_eq!(got, [State::Failed, State::Waiting, State::Waiting]);
        let f =
            query::parse("done\t0\t1\t/steps/a/out\nfailed\t2\t2\t/steps/b/out\nalive\t-\t-\t/steps/c/out\n")
                .unwrap();
        let v = combine(&p, Some(&f), &mut Memory::new());
        let got: Vec<State> = v.rows.iter().map(|r| r.state).collect();
        assert_eq!(got, [State::Done, State::Failed, State::Running]);
    }
}
