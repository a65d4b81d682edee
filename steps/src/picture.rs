//! `steps graph`: the DAG as Mermaid (renders in GitHub Markdown) or Graphviz
//! DOT. Edges point the way the work flows (`a --> b`: b runs after a); finally
//! steps and sidecars are drawn in boxes of their own, the finally steps' edges
//! dashed (they run whatever happened), a sidecar's ready target on a dotted
//! edge to the steps that wait for it.

use crate::dag::Dag;
use crate::stepsfile::File;
use crate::wiring::wire;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Mermaid,
    Dot,
}

/// What the picture shows: `(from, to, dashed)` between steps, and each
/// sidecar with the steps that wait for its ready target.
struct Picture<'a> {
    steps: Vec<&'a str>,
    finally: Vec<&'a str>,
    edges: Vec<(usize, usize, bool)>,
    sidecars: Vec<(&'a str, Option<&'a str>)>,
    ready_waiters: Vec<usize>,
}

fn picture<'a>(sidecars: &[(&'a str, Option<&'a str>)], dag: &'a Dag) -> Picture<'a> {
    let w = wire(dag, false, false);
    let mut edges = Vec::new();
    for (i, waits) in w.waits.iter().enumerate() {
        for &d in waits {
            edges.push((d, i, dag.is_finally(i)));
        }
    }
    Picture {
        steps: dag.names[..dag.main].iter().map(String::as_str).collect(),
        finally: dag.names[dag.main..].iter().map(String::as_str).collect(),
        edges,
        sidecars: sidecars.to_vec(),
        ready_waiters: w.ready_waiters,
    }
}

/// Mermaid's default `maxEdges`: beyond it, it draws nothing (GitHub too).
pub const MERMAID_MAX_EDGES: usize = 500;

/// The picture, and how many edges it has.
pub fn draw(f: &File, dag: &Dag, format: Format) -> (String, usize) {
    let sidecars: Vec<(&str, Option<&str>)> =
        f.sidecars.iter().map(|s| (s.name.as_str(), s.ready.as_deref())).collect();
    draw_graph(&f.name, dag, &sidecars, format)
}

/// The picture of a graph that is not a file's (`steps status` reads it from
/// a pod): `sidecars` with their ready targets; and how many edges it has.
pub fn draw_graph(
    title: &str,
    dag: &Dag,
    sidecars: &[(&str, Option<&str>)],
    format: Format,
) -> (String, usize) {
    let p = picture(sidecars, dag);
    let ready = p.sidecars.iter().filter(|(_, t)| t.is_some()).count();
    let edges = p.edges.len() + ready * p.ready_waiters.len();
    let text = match format {
        Format::Mermaid => mermaid(&p, dag),
        Format::Dot => dot(&p, title, dag),
    };
    (text, edges)
}

/// Mermaid ids get a prefix: `end`, `graph` and the like are keywords there.
pub fn id(name: &str) -> String {
    format!("s_{}", name.replace('-', "_"))
}

fn mermaid_text(t: &str) -> String {
    t.replace('"', "#quot;")
}

fn mermaid(p: &Picture, dag: &Dag) -> String {
    let mut o = String::from("flowchart TD\n");
    for name in &p.steps {
        let _ = writeln!(o, "  {}[\"{name}\"]", id(name));
    }
    if !p.finally.is_empty() {
        o.push_str("  subgraph finally_steps [\"finally\"]\n");
        for name in &p.finally {
            let _ = writeln!(o, "    {}[\"{name}\"]", id(name));
        }
        o.push_str("  end\n");
    }
    if !p.sidecars.is_empty() {
        o.push_str("  subgraph sidecar_containers [\"sidecars\"]\n");
        for (name, _) in &p.sidecars {
            let _ = writeln!(o, "    {}([\"{name}\"])", id(name));
        }
        o.push_str("  end\n");
    }
    for &(a, b, dashed) in &p.edges {
        let arrow = if dashed { "-.->" } else { "-->" };
        let _ = writeln!(o, "  {} {arrow} {}", id(&dag.names[a]), id(&dag.names[b]));
    }
    for (name, ready) in &p.sidecars {
        if let Some(t) = ready {
            for &w in &p.ready_waiters {
                let _ =
                    writeln!(o, "  {} -.->|\"ready: {}\"| {}", id(name), mermaid_text(t), id(&dag.names[w]));
            }
        }
    }
    o
}

pub fn dot_text(t: &str) -> String {
    format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot(p: &Picture, title: &str, dag: &Dag) -> String {
    let mut o = format!("digraph {} {{\n  node [shape=box, style=rounded];\n", dot_text(title));
    for name in &p.steps {
        let _ = writeln!(o, "  {};", dot_text(name));
    }
    if !p.finally.is_empty() {
        o.push_str("  subgraph cluster_finally {\n    label=\"finally\";\n    style=dashed;\n");
        for name in &p.finally {
            let _ = writeln!(o, "    {};", dot_text(name));
        }
        o.push_str("  }\n");
    }
    if !p.sidecars.is_empty() {
        o.push_str("  subgraph cluster_sidecars {\n    label=\"sidecars\";\n    style=dotted;\n");
        for (name, _) in &p.sidecars {
            let _ = writeln!(o, "    {} [shape=cylinder, style=solid];", dot_text(name));
        }
        o.push_str("  }\n");
    }
    for &(a, b, dashed) in &p.edges {
        let style = if dashed { " [style=dashed]" } else { "" };
        let _ = writeln!(o, "  {} -> {}{style};", dot_text(&dag.names[a]), dot_text(&dag.names[b]));
    }
    for (name, ready) in &p.sidecars {
        if let Some(t) = ready {
            for &w in &p.ready_waiters {
                let _ = writeln!(
                    o,
                    "  {} -> {} [style=dotted, label={}];",
                    dot_text(name),
                    dot_text(&dag.names[w]),
                    dot_text(&format!("ready: {t}"))
                );
            }
        }
    }
    o.push_str("}\n");
    o
}
