//! The command line (the tools' pages in docs/ and docs/steps.md), and its usage text.

use crate::cluster::{self, Choices, Given, Origin, ToolsFrom};
use crate::layout::Layout;
use crate::picture::Format;
use crate::render::Kind;

/// What the user types to run `steps`: its own name, or `kubectl steps` when
/// kubectl runs it as the plugin `kubectl-steps` (kubectl execs the plugin
/// with its path as argv[0]; a link of that name does the same).
pub fn program(argv0: Option<&std::ffi::OsStr>) -> &'static str {
    let name = argv0.and_then(|a| std::path::Path::new(a).file_name());
    if name.is_some_and(|n| n == "kubectl-steps") {
        "kubectl steps"
    } else {
        "steps"
    }
}

/// The usage text, with the program named as the user types it ([`program`]).
pub fn usage(program: &str) -> String {
    USAGE.replace("{PROG}", program).replace("{PAD}", &" ".repeat(program.len()))
}

const USAGE: &str = "\
usage: {PROG} render [--kind pod|job] [-o yaml|json] [CLUSTER OPTIONS]
       {PAD}        [--layout subpath|volumes] [--scripts escaped|as-is] FILE
       {PROG} check [CLUSTER OPTIONS] FILE
       {PROG} graph [--format mermaid|dot] FILE
       {PROG} schema
       {PROG} status POD|job/NAME [-n NS] [-w] [-o table|json] [--graph]
       {PROG} help

Turns a steps file (YAML; - reads standard input) into the Pod or Job that
runs it with copier, waitfor and entrypoint. Options may come before or
after FILE.

  render             the Pod (or Job) on standard output
    --kind pod|job   a Pod (default), or a batch/v1 Job around it
    -o yaml|json     the output format (default yaml)
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
  schema             the JSON Schema (draft 2020-12) of the steps file, for
                     editors: steps schema > steps.schema.json, then a first
                     line # yaml-language-server: $schema=steps.schema.json
  status POD         where a running pod of steps is (job/NAME: a Job's): each
                     step waiting, running, done, failed, skipped or died, its
                     exit status and times (UTC), read through kubectl
                     ($KUBECTL) and one kubectl exec of the pod's waitfor --status
    -n, --namespace NS  the pod's namespace (default: kubectl's)
    -w, --watch      look again every second (--interval D) until the pod
                     (or every step) has ended: redrawn on a terminal, else a
                     line a change and the final view
    -o table|json    a table (default), or a JSON document (docs/steps.md: steps status)
    --graph          the DAG coloured by state (--format mermaid|dot)

Cluster options (render, check; each also a key of the file; the command
line wins over the file, an explicit setting over a version's default):
  --kubernetes X.Y   turn on what Kubernetes X.Y runs by default (kubernetes:):
                     the three below, from 1.29, 1.34 and 1.36; without it the
                     rendering runs on every version from 1.25
  --native-sidecars[=true|false]  sidecars as initContainers with
                     restartPolicy: Always (nativeSidecars:; Kubernetes 1.29+)
                     instead of wrapped with --stop-when
  --pod-resources[=true|false]  the pod's requests as pod-level resources:
                     what can run at once (podResources:; Kubernetes 1.34+)
  --tools-from copy|image  the tools copied by an init container (default),
                     or mounted from their image as an image volume
                     (toolsFrom:; Kubernetes 1.36+, containerd 2.1+ or CRI-O)

Exit status: 0 done; 1 the file has problems (each one line on standard
error, FILE:LINE: what); 125 bad usage or an input/output error (status:
kubectl failed, or the pod runs no step).
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
    pub layout: Layout,
    pub escape_dollars: bool,
    pub cluster: Choices,
}

impl Default for Render {
    fn default() -> Render {
        Render {
            kind: Kind::Pod,
            output: Output::Yaml,
            layout: Layout::Subpath,
            escape_dollars: true,
            cluster: Choices::default(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Render(Render),
    Check { cluster: Choices },
    Graph { format: Format },
}

impl Command {
    /// The cluster options given (none for `graph`).
    pub fn cluster(&self) -> Choices {
        match self {
            Command::Render(r) => r.cluster,
            Command::Check { cluster } => *cluster,
            Command::Graph { .. } => Choices::default(),
        }
    }

    /// The cluster options, for the commands that take them.
    fn choices(&mut self) -> Option<&mut Choices> {
        match self {
            Command::Render(r) => Some(&mut r.cluster),
            Command::Check { cluster } => Some(cluster),
            Command::Graph { .. } => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run {
        command: Command,
        file: String,
    },
    Schema,
    /// `steps status`: no FILE, a pod.
    Status(crate::status::cli::Options),
    Help,
    Version,
}

/// Parses the arguments after the program name; `Err` is the usage error's
/// message. Options may come before or after FILE; `--` ends them.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let Some((word, rest)) = args.split_first() else {
        return Err("no command (render, check, graph, schema or status)".to_string());
    };
    let mut command = match word.as_str() {
        "--help" | "-h" | "help" => return Ok(Parsed::Help),
        "--version" => return Ok(Parsed::Version),
        "render" => Command::Render(Render::default()),
        "check" => Command::Check { cluster: Choices::default() },
        "graph" => Command::Graph { format: Format::Mermaid },
        "schema" => {
            return match rest {
                [] => Ok(Parsed::Schema),
                [h] if h == "--help" || h == "-h" => Ok(Parsed::Help),
                [extra, ..] => Err(format!("schema takes no FILE or option ('{extra}')")),
            }
        }
        "status" => return Ok(crate::status::cli::parse(rest)?.map_or(Parsed::Help, Parsed::Status)),
        other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
        other => return Err(format!("unknown command '{other}' (render, check, graph, schema or status)")),
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
        if let Some(choices) = command.choices() {
            if cluster_option(name, inline.as_deref(), &mut value, choices)? {
                continue;
            }
        }
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

fn given<T>(value: T) -> Option<Given<T>> {
    Some(Given { value, origin: Origin::CommandLine })
}

/// A cluster option (`--kubernetes`, `--native-sidecars`, `--pod-resources`,
/// `--tools-from`) into `choices`: `Ok(false)` when `name` is none of them.
fn cluster_option(
    name: &str,
    inline: Option<&str>,
    value: &mut dyn FnMut(&str) -> Result<String, String>,
    choices: &mut Choices,
) -> Result<bool, String> {
    // a switch takes no separate argument: `--pod-resources`, or `--pod-resources=false`
    let switch = || match inline {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!("{name}: '{other}' is not true or false")),
    };
    match name {
        "--kubernetes" => {
            let text = value("a version (like 1.36)")?;
            let v = cluster::parse_version(&text).map_err(|why| format!("{name}: {why}"))?;
            choices.kubernetes = given(v);
        }
        "--native-sidecars" => choices.native_sidecars = given(switch()?),
        "--pod-resources" => choices.pod_resources = given(switch()?),
        "--tools-from" => {
            choices.tools_from = given(match value("copy or image")?.as_str() {
                "copy" => ToolsFrom::Copy,
                "image" => ToolsFrom::Image,
                other => return Err(format!("{name}: '{other}' is not copy or image")),
            })
        }
        _ => return Ok(false),
    }
    Ok(true)
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
        assert_eq!(
            p(&["render", "--native-sidecars", "-"]),
            run(render(|r| r.cluster.native_sidecars = on(true)), "-")
        );
        assert_eq!(p(&["render", "--layout=volumes", "f"]), run(render(|r| r.layout = Layout::Volumes), "f"));
        assert_eq!(p(&["render", "f", "--scripts", "as-is"]), run(render(|r| r.escape_dollars = false), "f"));
        assert_eq!(p(&["check", "f"]), run(check(Choices::default()), "f"));
        assert_eq!(p(&["graph", "--format", "dot", "f"]), run(Command::Graph { format: Format::Dot }, "f"));
        assert_eq!(p(&["graph", "f", "--format=dot"]), run(Command::Graph { format: Format::Dot }, "f"));
        assert_eq!(p(&["--help"]), Ok(Parsed::Help));
        assert_eq!(p(&["help"]), Ok(Parsed::Help));
        assert_eq!(p(&["render", "--help"]), Ok(Parsed::Help));
        assert_eq!(p(&["--version"]), Ok(Parsed::Version));
        assert_eq!(p(&["schema"]), Ok(Parsed::Schema));
        assert_eq!(p(&["schema", "--help"]), Ok(Parsed::Help));
        // after --, a FILE that looks like an option
        assert_eq!(p(&["check", "--", "-f"]), run(check(Choices::default()), "-f"));
    }

    fn on<T>(value: T) -> Option<Given<T>> {
        Some(Given { value, origin: Origin::CommandLine })
    }

    fn check(cluster: Choices) -> Command {
        Command::Check { cluster }
    }

    #[test]
    fn cluster_options_for_render_and_check() {
        let all = Choices {
            kubernetes: on(cluster::Version { major: 1, minor: 34 }),
            native_sidecars: on(false),
            pod_resources: on(true),
            tools_from: on(ToolsFrom::Image),
        };
        let args =
            ["--kubernetes", "1.34", "--native-sidecars=false", "--pod-resources", "--tools-from", "image"];
        let mut with_render = vec!["render"];
        with_render.extend(args);
        with_render.push("f");
        assert_eq!(p(&with_render), run(render(|r| r.cluster = all), "f"));
        let mut with_check = vec!["check", "f"];
        with_check.extend(args);
        assert_eq!(p(&with_check), run(check(all), "f"));
        // a switch never takes the next word: f is the FILE
        assert_eq!(
            p(&["render", "--pod-resources", "f", "--kubernetes=v1.36.2", "--tools-from=copy"]),
            run(
                render(|r| {
                    r.cluster.pod_resources = on(true);
                    r.cluster.kubernetes = on(cluster::Version { major: 1, minor: 36 });
                    r.cluster.tools_from = on(ToolsFrom::Copy)
                }),
                "f"
            )
        );
        assert_eq!(
            p(&["render", "--pod-resources=true", "--native-sidecars=true", "f"]),
            run(
                render(|r| {
                    r.cluster.pod_resources = on(true);
                    r.cluster.native_sidecars = on(true)
                }),
                "f"
            )
        );
    }

    #[test]
    fn the_kubectl_plugin_is_named_as_kubectl_runs_it() {
        let name = |a: &str| program(Some(std::ffi::OsStr::new(a)));
        assert_eq!(name("steps"), "steps");
        assert_eq!(name("/usr/local/bin/steps"), "steps");
        assert_eq!(name("/home/u/.krew/bin/kubectl-steps"), "kubectl steps");
        assert_eq!(name("kubectl-steps"), "kubectl steps");
        assert_eq!(name("kubectl-steps-old"), "steps");
        assert_eq!(program(None), "steps");
        let text = usage("kubectl steps");
        assert!(text.starts_with(
            "usage: kubectl steps render [--kind pod|job] [-o yaml|json] [CLUSTER OPTIONS]\n                            [--layout"
        ));
        assert!(text.contains("\n       kubectl steps check [CLUSTER OPTIONS] FILE\n"));
        assert!(!usage("steps").contains('{'));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(p(&[]), Err("no command (render, check, graph, schema or status)".into()));
        assert_eq!(
            p(&["draw", "f"]),
            Err("unknown command 'draw' (render, check, graph, schema or status)".into())
        );
        assert_eq!(p(&["schema", "f.yaml"]), Err("schema takes no FILE or option ('f.yaml')".into()));
        assert_eq!(p(&["schema", "-o", "json"]), Err("schema takes no FILE or option ('-o')".into()));
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
        assert_eq!(
            p(&["graph", "--pod-resources", "f"]),
            Err("unknown option '--pod-resources' for graph".into())
        );
        assert_eq!(
            p(&["render", "--pod-resources=yes", "f"]),
            Err("--pod-resources: 'yes' is not true or false".into())
        );
        assert_eq!(
            p(&["check", "--native-sidecars=1", "f"]),
            Err("--native-sidecars: '1' is not true or false".into())
        );
        assert_eq!(
            p(&["render", "--tools-from", "oci", "f"]),
            Err("--tools-from: 'oci' is not copy or image".into())
        );
        assert_eq!(p(&["render", "--kubernetes"]), Err("--kubernetes needs a version (like 1.36)".into()));
        assert_eq!(
            p(&["render", "--kubernetes", "1.24", "f"]),
            Err("--kubernetes: 1.24 is older than 1.25, the oldest Kubernetes steps renders for".into())
        );
        assert_eq!(
            p(&["check", "--kubernetes=latest", "f"]),
            Err("--kubernetes: 'latest' is not a Kubernetes version (like 1.36)".into())
        );
        assert_eq!(p(&["graph", "--format=png", "f"]), Err("--format: 'png' is not mermaid or dot".into()));
        assert_eq!(
            p(&["render", "f", "g", "--kind", "job"]),
            Err("render: one FILE only ('g' is a second)".into())
        );
        assert_eq!(p(&["-x"]), Err("unknown option '-x'".into()));
    }
}
