//! `steps status`'s command line.

use crate::picture::Format;
use stepkit::duration;

/// What `steps status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Graph(Format),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The pod's name; with `job`, the Job's (its newest pod is shown).
    pub pod: String,
    /// `job/NAME`: the pod of a Job (`steps render --kind job`).
    pub job: bool,
    pub namespace: Option<String>,
    pub watch: bool,
    /// The time between two looks with `--watch` (milliseconds).
    pub interval_ms: u64,
    pub output: Output,
}

/// Parses the arguments after `status`; `Err` is the usage error's message.
/// `Ok(None)`: `--help`.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut pods = Vec::new();
    let (mut namespace, mut watch, mut interval_ms) = (None, false, 1000);
    let (mut json, mut graph, mut format) = (false, false, None);
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            pods.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            pods.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ if (arg.starts_with("-n") || arg.starts_with("-o")) && arg.len() > 2 => {
                (&arg[..2], Some(arg[2..].to_string()))
            }
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args.get(i).cloned().ok_or_else(|| format!("{name} needs {what}"))?;
            i += 1;
            Ok(v)
        };
        match name {
            "--help" | "-h" => return Ok(None),
            "-n" | "--namespace" => namespace = Some(value("a namespace")?),
            "-w" | "--watch" => watch = true,
            "--interval" => {
                let text = value("a duration")?;
                let d = duration::parse(text.as_bytes())
                    .filter(|d| d.0 > 0)
                    .ok_or_else(|| format!("--interval: '{text}' is not a duration (like 1s or 500ms)"))?;
                interval_ms = d.as_millis_ceil();
            }
            "-o" | "--output" => {
                json = match value("table or json")?.as_str() {
                    "table" => false,
                    "json" => true,
                    other => return Err(format!("{name}: '{other}' is not table or json")),
                }
            }
            "--graph" => graph = true,
            "--format" => {
                format = Some(match value("mermaid or dot")?.as_str() {
                    "mermaid" => Format::Mermaid,
                    "dot" => Format::Dot,
                    other => return Err(format!("--format: '{other}' is not mermaid or dot")),
                })
            }
            _ => return Err(format!("unknown option '{name}' for status")),
        }
    }
    let output = match (json, graph, format) {
        (true, true, _) => return Err("status: -o json and --graph: one or the other".to_string()),
        (_, false, Some(_)) => return Err("status: --format goes with --graph".to_string()),
        (true, false, None) => Output::Json,
        (false, true, f) => Output::Graph(f.unwrap_or(Format::Mermaid)),
        (false, false, None) => Output::Table,
    };
    let (pod, job) = match pods.as_slice() {
        [pod] => match pod.split_once('/') {
            Some(("pod" | "pods", name)) => (name.to_string(), false),
            Some(("job" | "jobs" | "job.batch", name)) => (name.to_string(), true),
            Some(_) => return Err(format!("status: '{pod}' is not a POD or job/NAME")),
            None => (pod.clone(), false),
        },
        [] => return Err("status: no POD (the name of a pod steps render wrote)".to_string()),
        [_, extra, ..] => return Err(format!("status: one POD only ('{extra}' is a second)")),
    };
    if pod.is_empty() {
        return Err("status: no POD (the name of a pod steps render wrote)".to_string());
    }
    Ok(Some(Options { pod, job, namespace, watch, interval_ms, output }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Option<Options>, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    fn opts(pod: &str, f: impl FnOnce(&mut Options)) -> Result<Option<Options>, String> {
        let mut o = Options {
            pod: pod.into(),
            job: false,
            namespace: None,
            watch: false,
            interval_ms: 1000,
            output: Output::Table,
        };
        f(&mut o);
        Ok(Some(o))
    }

    #[test]
    fn every_spelling() {
        assert_eq!(p(&["build"]), opts("build", |_| {}));
        assert_eq!(p(&["pod/build"]), opts("build", |_| {}));
        let ns = |o: &mut Options| o.namespace = Some("ci".into());
        for args in [
            &["build", "-n", "ci"][..],
            &["-nci", "build"],
            &["--namespace=ci", "build"],
            &["--namespace", "ci", "build"],
        ] {
            assert_eq!(p(args), opts("build", ns), "{args:?}");
        }
        assert_eq!(
            p(&["-w", "build", "--interval", "250ms", "-o", "json"]),
            opts("build", |o| {
                o.watch = true;
                o.interval_ms = 250;
                o.output = Output::Json
            })
        );
        assert_eq!(p(&["build", "-ojson"]), opts("build", |o| o.output = Output::Json));
        assert_eq!(p(&["build", "-o", "table", "--watch"]), opts("build", |o| o.watch = true));
        assert_eq!(p(&["build", "--graph"]), opts("build", |o| o.output = Output::Graph(Format::Mermaid)));
        assert_eq!(
            p(&["--graph", "--format=dot", "build"]),
            opts("build", |o| o.output = Output::Graph(Format::Dot))
        );
        assert_eq!(p(&["--", "-odd"]), opts("-odd", |_| {}));
        assert_eq!(p(&["job/build"]), opts("build", |o| o.job = true));
        assert_eq!(
            p(&["jobs/build", "-n", "ci"]),
            opts("build", |o| {
                o.job = true;
                o.namespace = Some("ci".into())
            })
        );
        assert_eq!(p(&["build", "--help"]), Ok(None));
    }

    #[test]
    fn usage_errors() {
        let cases: [(&[&str], &str); 11] = [
            (&[], "status: no POD (the name of a pod steps render wrote)"),
            (&["a", "b"], "status: one POD only ('b' is a second)"),
            (&["a", "-n"], "-n needs a namespace"),
            (&["a", "-o", "yaml"], "-o: 'yaml' is not table or json"),
            (&["a", "--format", "dot"], "status: --format goes with --graph"),
            (&["a", "--graph", "-o", "json"], "status: -o json and --graph: one or the other"),
            (&["a", "--graph", "--format", "png"], "--format: 'png' is not mermaid or dot"),
            (&["a", "--interval", "0"], "--interval: '0' is not a duration (like 1s or 500ms)"),
            (&["a", "--kind", "job"], "unknown option '--kind' for status"),
            (&["deploy/a"], "status: 'deploy/a' is not a POD or job/NAME"),
            (&["job/"], "status: no POD (the name of a pod steps render wrote)"),
        ];
        for (args, msg) in cases {
            assert_eq!(p(args), Err(msg.to_string()), "{args:?}");
        }
    }
}
