//! What `steps status` prints: the table, the JSON document, the picture
//! coloured by state, and (`--watch` without a terminal) a line a change.

use super::combine::{Row, State, View};
use super::pod::Kind;
use super::time::{clock, date_time, duration, rfc3339};
use crate::dag::{Dag, Dep};
use crate::document::{Entry, Node, Value};
use crate::picture::{self, Format};
use std::fmt::Write;

/// The footnote of a start that is the results directory's time.
pub const AT_THE_LATEST: &str =
    "* the time of the step's results directory: its command started then at the latest (later if it wrote a result there)";

/// The ANSI colour of a state (`None`: the terminal's own).
fn colour(s: State) -> Option<&'static str> {
    match s {
        State::Done => Some("32"),
        State::Running => Some("36"),
        State::Waiting | State::Unknown => None,
        State::Failed => Some("31"),
        State::Skipped => Some("33"),
        State::Died => Some("1;35"),
    }
}

/// The name as shown: finally steps and sidecars marked.
fn shown_name(r: &Row) -> String {
    match r.kind {
        Kind::Step | Kind::Join => r.name.clone(),
        Kind::Finally => format!("{} (finally)", r.name),
        Kind::Sidecar => format!("{} (sidecar)", r.name),
    }
}

/// `2 done, 1 running, 3 waiting`: the states that occur, in a fixed order.
pub fn summary(v: &View) -> String {
    let counts: Vec<String> = State::ALL
        .iter()
        .map(|&s| (s, v.rows.iter().filter(|r| r.state == s).count()))
        .filter(|&(_, n)| n > 0)
        .map(|(s, n)| format!("{n} {}", s.word()))
        .collect();
    counts.join(", ")
}

/// The header line: the pod, its phase, when it started, the states' counts.
pub fn header(v: &View) -> String {
    let mut h = format!("pod {}", v.pod);
    if let Some(ns) = &v.namespace {
        let _ = write!(h, " (namespace {ns})");
    }
    let _ = write!(h, ": {}", v.phase);
    if let Some(r) = &v.reason {
        let _ = write!(h, " ({r})");
    }
    if let Some(t) = v.started_ms {
        let _ = write!(h, ", started {} UTC", date_time(t));
    }
    let _ = write!(h, "; {}", summary(v));
    h
}

/// What the NOTE column says: the reason, the line that explained it, attempts.
fn note(r: &Row) -> String {
    let mut parts = Vec::new();
    if let Some(reason) = &r.reason {
        parts.push(reason.clone());
    }
    if let Some(m) = &r.message {
        parts.push(m.clone());
    }
    if let Some(n) = r.attempts.filter(|&n| n > 1) {
        parts.push(format!("{n} attempts"));
    }
    if r.state == State::Unknown {
        parts.push("its step files could not be read".to_string());
    }
    parts.join(": ")
}

/// The table: a header line, then a row a step (steps, finally steps,
/// sidecars), times in UTC; `now_ms` for how long a running step has run;
/// `colour` for ANSI colours.
pub fn table(v: &View, now_ms: u64, colour_on: bool) -> String {
    let head = ["STEP", "STATE", "EXIT", "STARTED", "ENDED", "DURATION", "NOTE"];
    let mut cells: Vec<[String; 7]> = Vec::new();
    for r in &v.rows {
        let started = r.started_ms.map(|t| format!("{}{}", clock(t), if r.started_exact { "" } else { "*" }));
        let until = r.ended_ms.or((r.state == State::Running).then_some(now_ms));
        let took = match (r.started_ms, until) {
            (Some(a), Some(b)) if b >= a => duration(b - a),
            _ => String::new(),
        };
        cells.push([
            shown_name(r),
            r.state.word().to_string(),
            r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            started.unwrap_or_default(),
            r.ended_ms.map(clock).unwrap_or_default(),
            took,
            note(r),
        ]);
    }
    let mut widths = head.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = header(v);
    out.push('\n');
    let line = |out: &mut String, row: &[String; 7], state: Option<State>| {
        let mut text = String::new();
        for (k, c) in row.iter().enumerate() {
            if k == row.len() - 1 {
                text.push_str(c);
                break;
            }
            let pad = widths[k] - c.chars().count() + 2;
            match (k, state.and_then(colour).filter(|_| colour_on)) {
                (1, Some(code)) => {
                    let _ = write!(text, "\x1b[{code}m{c}\x1b[0m");
                }
                _ => text.push_str(c),
            }
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &head.map(str::to_string), None);
    for (r, row) in v.rows.iter().zip(&cells) {
        line(&mut out, row, Some(r.state));
    }
    if v.rows.iter().any(|r| r.started_ms.is_some() && !r.started_exact) {
        out.push_str(AT_THE_LATEST);
        out.push('\n');
    }
    out
}

/// A line for each step whose state or exit status changed since `before`
/// (and for the pod's phase): `HH:MM:SS.mmm STEP: OLD -> NEW[, exit N]`.
pub fn changes(before: &View, after: &View, now_ms: u64) -> String {
    let mut out = String::new();
    let at = clock(now_ms);
    if before.phase != after.phase {
        let _ = writeln!(out, "{at} pod {}: {} -> {}", after.pod, before.phase, after.phase);
    }
    for r in &after.rows {
        let old = before.rows.iter().find(|o| o.name == r.name);
        if old.is_some_and(|o| o.state == r.state && o.exit_code == r.exit_code) {
            continue;
        }
        let from = old.map_or("-", |o| o.state.word());
        let _ = write!(out, "{at} {}: {from} -> {}", shown_name(r), r.state.word());
        if let Some(c) = r.exit_code.filter(|_| r.state != State::Running && r.state != State::Waiting) {
            let _ = write!(out, ", exit {c}");
        }
        if let Some(reason) = &r.reason {
            let _ = write!(out, " ({reason})");
        }
        out.push('\n');
    }
    out
}

fn s(text: impl Into<String>) -> Node {
    Node::str(text)
}

fn map(entries: Vec<(&str, Node)>) -> Node {
    Node::new(Value::Map(entries.into_iter().map(|(k, v)| Entry { key: k.to_string(), line: 0, value: v }).collect()))
}

fn opt(v: Option<Node>) -> Node {
    v.unwrap_or_else(|| Node::new(Value::Null))
}

fn int(i: impl Into<i128>) -> Node {
    Node::new(Value::Int(i.into()))
}

/// The view as a JSON document (its shape is in `steps status --help` and the README).
pub fn json(v: &View) -> Node {
    let steps = v
        .rows
        .iter()
        .map(|r| {
            let took = match (r.started_ms, r.ended_ms) {
                (Some(a), Some(b)) if b >= a => Some(int(b - a)),
                _ => None,
            };
            map(vec![
                ("name", s(&r.name)),
                ("kind", s(r.kind.word())),
                ("needs", Node::new(Value::Seq(r.needs.iter().map(|&n| s(&v.rows[n].name)).collect()))),
                ("state", s(r.state.word())),
                ("exitCode", opt(r.exit_code.map(int))),
                ("reason", opt(r.reason.as_ref().map(s))),
                ("message", opt(r.message.as_ref().map(s))),
                ("startedAt", opt(r.started_ms.map(|t| s(rfc3339(t))))),
                ("startedAtExact", Node::new(Value::Bool(r.started_exact))),
                ("endedAt", opt(r.ended_ms.map(|t| s(rfc3339(t))))),
                ("durationMs", opt(took)),
                ("attempts", opt(r.attempts.map(int))),
                (
                    "results",
                    Node::new(Value::Map(
                        r.results
                            .iter()
                            .map(|(k, val)| Entry { key: k.clone(), line: 0, value: s(val) })
                            .collect(),
                    )),
                ),
            ])
        })
        .collect();
    map(vec![
        ("pod", s(&v.pod)),
        ("namespace", opt(v.namespace.as_ref().map(s))),
        ("phase", s(&v.phase)),
        ("reason", opt(v.reason.as_ref().map(s))),
        ("startedAt", opt(v.started_ms.map(|t| s(rfc3339(t))))),
        ("ended", Node::new(Value::Bool(v.ended))),
        ("stepFilesRead", opt(v.files_read.map(|b| Node::new(Value::Bool(b))))),
        ("steps", Node::new(Value::Seq(steps))),
    ])
}

/// Fill and stroke of each state in the pictures.
fn palette(s: State) -> (&'static str, &'static str) {
    match s {
        State::Done => ("#d3f4d8", "#1a7f37"),
        State::Running => ("#cfe6ff", "#0969da"),
        State::Waiting => ("#f0f0f0", "#8c959f"),
        State::Failed => ("#ffd8d6", "#cf222e"),
        State::Skipped => ("#fff1c2", "#9a6700"),
        State::Died => ("#ecd9ff", "#8250df"),
        State::Unknown => ("#ffffff", "#57606a"),
    }
}

/// The DAG as `steps graph` draws it, each step coloured by its state
/// (Mermaid `classDef`s named after the states, or DOT fill colours).
pub fn graph(v: &View, format: Format) -> String {
    // the picture's graph: steps, then finally steps (the rows' order)
    let nodes: Vec<&Row> = v.rows.iter().filter(|r| r.kind != Kind::Sidecar).collect();
    let main = nodes.iter().filter(|r| r.kind == Kind::Step).count();
    let dag = Dag {
        main,
        names: nodes.iter().map(|r| r.name.clone()).collect(),
        lines: vec![0; nodes.len()],
        deps: nodes
            .iter()
            .map(|r| r.needs.iter().filter(|&&n| n < nodes.len()).map(|&on| Dep { on, line: 0, implicit: false }).collect())
            .collect(),
    };
    let sidecars: Vec<(&str, Option<&str>)> = v
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == Kind::Sidecar)
        .map(|(i, r)| (r.name.as_str(), v.ready.iter().find(|(s, _, _)| *s == i).map(|(_, t, _)| t.as_str())))
        .collect();
    let (mut text, _) = picture::draw_graph(&v.pod, &dag, &sidecars, format);
    match format {
        Format::Mermaid => {
            for state in State::ALL {
                let names: Vec<String> =
                    v.rows.iter().filter(|r| r.state == state).map(|r| picture::id(&r.name)).collect();
                if names.is_empty() {
                    continue;
                }
                let (fill, stroke) = palette(state);
                let _ = writeln!(text, "  classDef {} fill:{fill},stroke:{stroke},color:#1f2328", state.word());
                let _ = writeln!(text, "  class {} {}", names.join(","), state.word());
            }
        }
        Format::Dot => {
            // node attributes given again after the graph's own: they add to them
            let end = text.rfind('}').unwrap_or(text.len());
            let mut nodes = String::new();
            for r in &v.rows {
                let (fill, stroke) = palette(r.state);
                let style = if r.kind == Kind::Sidecar { "filled" } else { "rounded,filled" };
                let _ = writeln!(
                    nodes,
                    "  {} [style=\"{style}\", fillcolor=\"{fill}\", color=\"{stroke}\", tooltip=\"{}\"];",
                    picture::dot_text(&r.name),
                    r.state.word()
                );
            }
            text.insert_str(end, &nodes);
        }
    }
    text
}
