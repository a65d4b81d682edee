//! The command line (DESIGN.md sections 3 and 7), and its usage text.

use crate::layout::Layout;
use crate::picture::Format;
use crate::render::Kind;

pub const USAGE: &str = "\
usage: steps render [--kind pod|job] [-o yaml|json] [--native-sidecars]
                    [--layout subpath|volumes] [--scripts escaped|as-is] FILE
       steps check FILE
       steps graph [--format mermaid|dot] FILE
       steps help

Turns a steps file (YAML; - reads standard input) into the Pod or Job that
runs it with copier, waitfor and entrypoint. Options may come before or
after FILE.

  render             the Pod (or Job) on standard output
    --kind pod|job   a Pod (default), or a batch/v1 Job around it
    -o yaml|json     the output format (default yaml)
    --native-sidecars  sidecars as initContainers with restartPolicy: Always
                     (Kubernetes 1.29+) instead of wrapped with --stop-when
    --layout subpath|volumes  the step directories: one volume, each step's
                     own directory mounted over it with subPath (default); or
                     a volume per step (podman 4.3, which ignores subPath on
                     an emptyDir; grows with the square of the steps)
    --scripts escaped|as-is  run: scripts with every $ written as $$ (default:
                     the kubelet expands $(VAR) and $$ in command and args);
                     or as they are, for a player that does not (podman < 4.7)
  check              validate only: nothing on standard output
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Render {
    pub kind: Kind,
    pub output: Output,
    pub native_sidecars: bool,
    pub layout: Layout,
    pub escape_dollars: bool,
}

impl Default for Render {
    fn default() -> Render {
        Render {
            kind: Kind::Pod,
            output: Output::Yaml,
            native_sidecars: false,
            layout: Layout::Subpath,
            escape_dollars: true,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Render(Render),
    Check,
    Graph { format: Format },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run { command: Command, file: String },
    Help,
    Version,
}

/// Parses the arguments after the program name; `Err` is the usage error's
/// message. Options may come before or after FILE; `--` ends them.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let Some((word, rest)) = args.split_first() else {
        return Err("no command (render, check or graph)".to_string());
    };
    let mut command = match word.as_str() {
        "--help" | "-h" | "help" => return Ok(Parsed::Help),
        "--version" => return Ok(Parsed::Version),
        "render" => Command::Render(Render::default()),
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
            continue;
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
            ("--kind", Command::Render(r)) => {
                r.kind = match value("pod or job")?.as_str() {
                    "pod" => Kind::Pod,
                    "job" => Kind::Job,
                    other => return Err(format!("--kind: '{other}' is not pod or job")),
                }
            }
            ("-o" | "--output", Command::Render(r)) => {
                r.output = match value("yaml or json")?.as_str() {
                    "yaml" => Output::Yaml,
                    "json" => Output::Json,
                    other => return Err(format!("{name}: '{other}' is not yaml or json")),
                }
            }
            ("--native-sidecars", Command::Render(r)) if inline.is_none() => r.native_sidecars = true,
            ("--layout", Command::Render(r)) => {
                r.layout = match value("subpath or volumes")?.as_str() {
                    "subpath" => Layout::Subpath,
                    "volumes" => Layout::Volumes,
                    other => return Err(format!("--layout: '{other}' is not subpath or volumes")),
                }
            }
            ("--scripts", Command::Render(r)) => {
                r.escape_dollars = match value("escaped or as-is")?.as_str() {
                    "escaped" => true,
                    "as-is" => false,
                    other => return Err(format!("--scripts: '{other}' is not escaped or as-is")),
                }
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

    fn render(f: impl FnOnce(&mut Render)) -> Command {
        let mut r = Render::default();
        f(&mut r);
        Command::Render(r)
    }

    #[test]
    fn every_spelling() {
        assert_eq!(p(&["render", "f.yaml"]), run(render(|_| {}), "f.yaml"));
        let job_json = || {
            render(|r| {
                r.kind = Kind::Job;
                r.output = Output::Json
            })
        };
        assert_eq!(p(&["render", "--kind", "job", "-o", "json", "f"]), run(job_json(), "f"));
        assert_eq!(p(&["render", "--kind=job", "-ojson", "f"]), run(job_json(), "f"));
        assert_eq!(p(&["render", "--output=json", "--kind", "job", "--", "f"]), run(job_json(), "f"));
        // options after FILE too
        assert_eq!(p(&["render", "f", "--kind", "job", "-o", "json"]), run(job_json(), "f"));
        assert_eq!(p(&["render", "--native-sidecars", "-"]), run(render(|r| r.native_sidecars = true), "-"));
        assert_eq!(p(&["render", "--layout=volumes", "f"]), run(render(|r| r.layout = Layout::Volumes), "f"));
        assert_eq!(p(&["render", "f", "--scripts", "as-is"]), run(render(|r| r.escape_dollars = false), "f"));
        assert_eq!(p(&["check", "f"]), run(Command::Check, "f"));
        assert_eq!(p(&["graph", "--format", "dot", "f"]), run(Command::Graph { format: Format::Dot }, "f"));
        assert_eq!(p(&["graph", "f", "--format=dot"]), run(Command::Graph { format: Format::Dot }, "f"));
        assert_eq!(p(&["--help"]), Ok(Parsed::Help));
        assert_eq!(p(&["help"]), Ok(Parsed::Help));
        assert_eq!(p(&["render", "--help"]), Ok(Parsed::Help));
        assert_eq!(p(&["--version"]), Ok(Parsed::Version));
        // after --, a FILE that looks like an option
        assert_eq!(p(&["check", "--", "-f"]), run(Command::Check, "-f"));
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
        assert_eq!(
            p(&["render", "--layout", "flat", "f"]),
            Err("--layout: 'flat' is not subpath or volumes".into())
        );
        assert_eq!(
            p(&["render", "--scripts=raw", "f"]),
            Err("--scripts: 'raw' is not escaped or as-is".into())
        );
        assert_eq!(p(&["check", "--kind", "job", "f"]), Err("unknown option '--kind' for check".into()));
        assert_eq!(p(&["graph", "--format=png", "f"]), Err("--format: 'png' is not mermaid or dot".into()));
        assert_eq!(
            p(&["render", "f", "g", "--kind", "job"]),
            Err("render: one FILE only ('g' is a second)".into())
        );
        assert_eq!(p(&["-x"]), Err("unknown option '-x'".into()));
    }
}
