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
    pub const ALL: [State; 7] =
        [State::Done, State::Running, State::Waiting, State::Failed, State::Skipped, State::Died, State::Unknown];
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
        let (row, f) = look(pod, i, files, memory);
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
            let sidecars = pod.steps[i].wrapper.ready.iter().filter_map(|(s, _)| pod.by_post_file(s)).filter_map(row_of);
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
            let (Some(s), Some(w)) = (pod.by_post_file(sidecar).and_then(row_of), row_of(i)) else { continue };
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
        results.filter(|f| f.state == FileState::Done).and_then(|f| f.mtime_ms).or_else(|| memory.get(d).copied())
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
        Container::Terminated(t) => terminated(&mut row, t, post.map(|f| (f.state, f.status)), marker_ms, !w.hold_until.is_empty()),
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
        _ if t.exit_code == 137 || t.reason.as_deref() == Some("OOMKilled") => {
            row.reason = Some(t.reason.clone().filter(|r| r != "Error").unwrap_or_else(|| "Killed".to_string()));
            Found::Is(State::Died)
        }
        _ => match t.exit_code {
            0 => Found::Is(State::Done),
            1 => Found::FailedWithOne,
            _ => Found::Is(State::Failed),
        },
    }
}
