//! The command line (DESIGN.md sections 3 and 7), and its usage text.

use crate::picture::Format;
use crate::render::Kind;

pub const USAGE: &str = "\
usage: steps render [--kind pod|job] [-o yaml|json] [--native-sidecars] FILE
       steps check FILE
       steps graph [--format mermaid|dot] FILE

Turns a steps file (YAML; - reads standard input) into the Pod or Job that
runs it with copier, waitfor and entrypoint.

  render             the Pod (or Job) on standard output
    --kind pod|job   a Pod (default), or a batch/v1 Job around it
    -o yaml|json     the output format (default yaml)
    --native-sidecars  sidecars as initContainers with restartPolicy: Always
                     (Kubernetes 1.29+) instead of wrapped with --stop-when
  check              validate only: nothing on success
  graph              the DAG as Mermaid (default) or Graphviz DOT
    --format mermaid|dot

Exit status: 0 done; 1 the file has problems (each one line on standard
error, FILE:LINE: what); 125 bad usage or an input/output error.
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Yaml,
    Json,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Render { kind: Kind, output: Output, native_sidecars: bool },
    Check,
    Graph { format: Format },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run { command: Command, file: String },
    Help,
    Version,
}

/// Parses the arguments after the program name; `Err` is the usage error's message.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let Some((word, rest)) = args.split_first() else {
        return Err("no command (render, check or graph)".to_string());
    };
    let mut command = match word.as_str() {
        "--help" | "-h" => return Ok(Parsed::Help),
        "--version" => return Ok(Parsed::Version),
        "render" => Command::Render { kind: Kind::Pod, output: Output::Yaml, native_sidecars: false },
        "check" => Command::Check,
        "graph" => Command::Graph { format: Format::Mermaid },
        other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
        other => return Err(format!("unknown command '{other}' (render, check or graph)")),
    };
    let mut operands = Vec::new();
    let mut i = 0;
    while let Some(arg) = rest.get(i) {
        i += 1;
        if arg == "--" {
            operands.extend(rest[i..].iter().cloned());
            break;
        }
        if arg == "-" || !arg.starts_with('-') {
            operands.push(arg.clone());
            // options come before operands
            operands.extend(rest[i..].iter().cloned());
            break;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ if arg.starts_with("-o") && arg.len() > 2 => ("-o", Some(arg[2..].to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = rest.get(i).cloned().ok_or_else(|| format!("{name} needs {what}"))?;
            i += 1;
            Ok(v)
        };
        match (name, &mut command) {
            ("--help" | "-h", _) => return Ok(Parsed::Help),
            ("--version", _) => return Ok(Parsed::Version),
            ("--kind", Command::Render { kind, .. }) => {
                *kind = match value("pod or job")?.as_str() {
                    "pod" => Kind::Pod,
                    "job" => Kind::Job,
                    other => return Err(format!("--kind: '{other}' is not pod or job")),
                }
            }
            ("-o" | "--output", Command::Render { output, .. }) => {
                *output = match value("yaml or json")?.as_str() {
                    "yaml" => Output::Yaml,
                    "json" => Output::Json,
                    other => return Err(format!("{name}: '{other}' is not yaml or json")),
                }
            }
            ("--native-sidecars", Command::Render { native_sidecars, .. }) if inline.is_none() => {
                *native_sidecars = true
            }
            ("--format", Command::Graph { format }) => {
                *format = match value("mermaid or dot")?.as_str() {
                    "mermaid" => Format::Mermaid,
                    "dot" => Format::Dot,
                    other => return Err(format!("--format: '{other}' is not mermaid or dot")),
                }
            }
            _ => return Err(format!("unknown option '{name}' for {word}")),
        }
    }
    match operands.as_slice() {
        [file] => Ok(Parsed::Run { command, file: file.clone() }),
        [] => Err(format!("{word}: no FILE (a steps file, or - for standard input)")),
        [_, extra, ..] => Err(format!("{word}: one FILE only ('{extra}' is a second)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    fn run(command: Command, file: &str) -> Result<Parsed, String> {
        Ok(Parsed::Run { command, file: file.to_string() })
    }

    #[test]
    fn every_spelling() {
        let pod_yaml = Command::Render { kind: Kind::Pod, output: Output::Yaml, native_sidecars: false };
        let job_json = Command::Render { kind: Kind::Job, output: Output::Json, native_sidecars: false };
        assert_eq!(p(&["render", "f.yaml"]), run(pod_yaml, "f.yaml"));
        assert_eq!(p(&["render", "--kind", "job", "-o", "json", "f"]), run(job_json, "f"));
        let job_json = Command::Render { kind: Kind::Job, output: Output::Json, native_sidecars: false };
        assert_eq!(p(&["render", "--kind=job", "-ojson", "f"]), run(job_json, "f"));
        let job_json = Command::Render { kind: Kind::Job, output: Output::Json, native_sidecars: false };
        assert_eq!(p(&["render", "--output=json", "--kind", "job", "--", "f"]), run(job_json, "f"));
        let native = Command::Render { kind: Kind::Pod, output: Output::Yaml, native_sidecars: true };
        assert_eq!(p(&["render", "--native-sidecars", "-"]), run(native, "-"));
        assert_eq!(p(&["check", "f"]), run(Command::Check, "f"));
        assert_eq!(p(&["graph", "--format", "dot", "f"]), run(Command::Graph { format: Format::Dot }, "f"));
        assert_eq!(p(&["--help"]), Ok(Parsed::Help));
        assert_eq!(p(&["render", "--help"]), Ok(Parsed::Help));
        assert_eq!(p(&["--version"]), Ok(Parsed::Version));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(p(&[]), Err("no command (render, check or graph)".into()));
        assert_eq!(p(&["draw", "f"]), Err("unknown command 'draw' (render, check or graph)".into()));
        assert_eq!(p(&["render"]), Err("render: no FILE (a steps file, or - for standard input)".into()));
        assert_eq!(p(&["check", "a", "b"]), Err("check: one FILE only ('b' is a second)".into()));
        assert_eq!(p(&["render", "--kind"]), Err("--kind needs pod or job".into()));
        assert_eq!(
            p(&["render", "--kind", "deployment", "f"]),
            Err("--kind: 'deployment' is not pod or job".into())
        );
        assert_eq!(p(&["render", "-o", "xml", "f"]), Err("-o: 'xml' is not yaml or json".into()));
        assert_eq!(p(&["check", "--kind", "job", "f"]), Err("unknown option '--kind' for check".into()));
        assert_eq!(p(&["graph", "--format=png", "f"]), Err("--format: 'png' is not mermaid or dot".into()));
        assert_eq!(
            p(&["render", "f", "--kind", "job"]),
            Err("render: one FILE only ('--kind' is a second)".into())
        );
        assert_eq!(p(&["-x"]), Err("unknown option '-x'".into()));
    }
}
