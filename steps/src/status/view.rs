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
    match r.state {
        State::Unknown => parts.push("its step files could not be read".to_string()),
        State::Died if r.message.is_none() => parts.push("its wrapper was killed: no result".to_string()),
        _ => {}
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
    Node::new(Value::Map(
        entries.into_iter().map(|(k, v)| Entry { key: k.to_string(), line: 0, value: v }).collect(),
    ))
}

fn opt(v: Option<Node>) -> Node {
    v.unwrap_or_else(|| Node::new(Value::Null))
}

fn int(i: impl Into<i128>) -> Node {
    Node::new(Value::Int(i.into()))
}

/// The view as a JSON document (its shape is in docs/steps.md).
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
            .map(|r| {
                r.needs
                    .iter()
                    .filter(|&&n| n < nodes.len())
                    .map(|&on| Dep { on, line: 0, implicit: false })
                    .collect()
            })
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
                let _ =
                    writeln!(text, "  classDef {} fill:{fill},stroke:{stroke},color:#1f2328", state.word());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, kind: Kind, state: State) -> Row {
        Row {
            name: name.into(),
            kind,
            needs: vec![],
            state,
            exit_code: None,
            reason: None,
            message: None,
            started_ms: None,
            started_exact: false,
            ended_ms: None,
            attempts: None,
            results: vec![],
        }
    }

    /// 2026-11-27T09:15:00.000Z, and `s` seconds after.
    fn at(s: f64) -> u64 {
        (1_795_770_900_000 + (s * 1000.0) as i64) as u64
    }

    fn view() -> View {
        let mut fetch = row("fetch", Kind::Step, State::Done);
        (fetch.exit_code, fetch.started_ms, fetch.started_exact, fetch.ended_ms) =
            (Some(0), Some(at(1.0)), true, Some(at(2.25)));
        fetch.results = vec![("commit".into(), "abc123".into())];
        let mut test = row("test", Kind::Step, State::Running);
        (test.needs, test.started_ms) = (vec![0], Some(at(2.5)));
        let mut lint = row("lint", Kind::Step, State::Failed);
        (lint.needs, lint.exit_code, lint.reason) = (vec![0], Some(2), Some("Error".into()));
        (lint.started_ms, lint.started_exact, lint.ended_ms) = (Some(at(2.3)), true, Some(at(4.0)));
        lint.message = Some("entrypoint: cannot run 'mak': No such file or directory".into());
        let mut publish = row("publish", Kind::Step, State::Skipped);
        (publish.needs, publish.exit_code, publish.reason, publish.ended_ms) =
            (vec![1, 2], Some(1), Some("Skipped".into()), Some(at(4.0)));
        let mut report = row("report", Kind::Finally, State::Waiting);
        report.needs = vec![1, 2, 3];
        let mut db = row("db", Kind::Sidecar, State::Running);
        (db.started_ms, db.started_exact) = (Some(at(0.0)), true);
        View {
            pod: "build".into(),
            namespace: Some("ci".into()),
            phase: "Running".into(),
            reason: None,
            started_ms: Some(at(-2.0)),
            ended: false,
            files_read: Some(true),
            rows: vec![fetch, test, lint, publish, report, db],
            ready: vec![(5, "tcp://127.0.0.1:5432".into(), vec![0])],
        }
    }

    #[test]
    fn the_table() {
        let want = "\
pod build (namespace ci): Running, started 2026-11-27 09:14:58 UTC; 1 done, 2 running, 1 waiting, 1 failed, 1 skipped
STEP              STATE    EXIT  STARTED        ENDED         DURATION  NOTE
fetch             done     0     09:15:01.000   09:15:02.250  1.25s
test              running        09:15:02.500*                12.5s
lint              failed   2     09:15:02.300   09:15:04.000  1.7s      Error: entrypoint: cannot run 'mak': No such file or directory
publish           skipped  1                    09:15:04.000            Skipped
report (finally)  waiting
db (sidecar)      running        09:15:00.000                 15s
* the time of the step's results directory: its command started then at the latest (later if it wrote a result there)
";
        assert_eq!(table(&view(), at(15.0), false), want);
        let coloured = table(&view(), at(15.0), true);
        assert!(coloured.contains("fetch             \x1b[32mdone\x1b[0m     0"), "{coloured}");
        assert!(coloured.contains("report (finally)  waiting\n"), "{coloured}");
        assert!(coloured.contains("\x1b[31mfailed\x1b[0m   2"), "{coloured}");
    }

    #[test]
    fn the_json_document() {
        let text = crate::emit::json(&json(&view()));
        let doc = crate::document::parse(&text).unwrap();
        let steps = doc.get("steps").and_then(Node::as_seq).unwrap();
        assert_eq!(steps.len(), 6);
        let field = |i: usize, k: &str| steps[i].get(k).unwrap().value.clone();
        assert_eq!(field(0, "durationMs"), Value::Int(1250));
        assert_eq!(field(1, "startedAtExact"), Value::Bool(false));
        assert_eq!(field(1, "startedAt"), Value::Str("2026-11-27T09:15:02.500Z".into()));
        assert_eq!(field(1, "endedAt"), Value::Null);
        assert_eq!(field(4, "kind"), Value::Str("finally".into()));
        assert_eq!(field(5, "kind"), Value::Str("sidecar".into()));
        // the whole first entry, as written
        assert!(text.starts_with(
            "{\n  \"pod\": \"build\",\n  \"namespace\": \"ci\",\n  \"phase\": \"Running\",\n  \"reason\": null,\n  \"startedAt\": \"2026-11-27T09:14:58.000Z\",\n  \"ended\": false,\n  \"stepFilesRead\": true,\n  \"steps\": [\n    {\n      \"name\": \"fetch\",\n      \"kind\": \"step\",\n      \"needs\": [],\n      \"state\": \"done\",\n      \"exitCode\": 0,\n      \"reason\": null,\n      \"message\": null,\n      \"startedAt\": \"2026-11-27T09:15:01.000Z\",\n      \"startedAtExact\": true,\n      \"endedAt\": \"2026-11-27T09:15:02.250Z\",\n      \"durationMs\": 1250,\n      \"attempts\": null,\n      \"results\": {\n        \"commit\": \"abc123\"\n      }\n    },\n"
        ), "{text}");
        assert!(text.contains("\"needs\": [\n        \"test\",\n        \"lint\"\n      ],"), "{text}");
    }

    #[test]
    fn lines_of_changes() {
        let before = view();
        let mut after = view();
        after.rows[1].state = State::Done;
        after.rows[1].exit_code = Some(0);
        after.rows[4].state = State::Running;
        after.phase = "Succeeded".into();
        assert_eq!(
            changes(&before, &after, at(20.0)),
            "09:15:20.000 pod build: Running -> Succeeded\n09:15:20.000 test: running -> done, exit 0\n09:15:20.000 report (finally): waiting -> running\n"
        );
        assert_eq!(changes(&before, &before, at(20.0)), "");
    }

    #[test]
    fn pictures_coloured_by_state() {
        let m = graph(&view(), Format::Mermaid);
        assert!(m.starts_with("flowchart TD\n  s_fetch[\"fetch\"]\n"), "{m}");
        assert!(m.contains("  s_fetch --> s_test\n  s_fetch --> s_lint\n  s_test --> s_publish\n  s_lint --> s_publish\n  s_test -.-> s_report\n  s_lint -.-> s_report\n  s_publish -.-> s_report\n"), "{m}");
        assert!(m.contains("  s_db -.->|\"ready: tcp://127.0.0.1:5432\"| s_fetch\n"), "{m}");
        let classes = [
            "  classDef done fill:#d3f4d8,stroke:#1a7f37,color:#1f2328",
            "  class s_fetch done",
            "  classDef running fill:#cfe6ff,stroke:#0969da,color:#1f2328",
            "  class s_test,s_db running",
            "  classDef waiting fill:#f0f0f0,stroke:#8c959f,color:#1f2328",
            "  class s_report waiting",
            "  classDef failed fill:#ffd8d6,stroke:#cf222e,color:#1f2328",
            "  class s_lint failed",
            "  classDef skipped fill:#fff1c2,stroke:#9a6700,color:#1f2328",
            "  class s_publish skipped",
            "",
        ];
        assert!(m.ends_with(&classes.join("\n")), "{m}");
        let d = graph(&view(), Format::Dot);
        assert!(d.starts_with("digraph \"build\" {\n"), "{d}");
        assert!(d.ends_with(
            "  \"db\" [style=\"filled\", fillcolor=\"#cfe6ff\", color=\"#0969da\", tooltip=\"running\"];\n}\n"
        ), "{d}");
        assert!(d.contains("  \"lint\" [style=\"rounded,filled\", fillcolor=\"#ffd8d6\", color=\"#cf222e\", tooltip=\"failed\"];\n"), "{d}");
    }
}
