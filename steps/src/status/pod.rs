//! The steps of a pod, read from the pod itself (`kubectl get pod -o json`):
//! no steps file is needed, so any pod `steps render` wrote (or one written
//! by hand with the same wrappers) can be shown.
//!
//! A container is a step when its command is `entrypoint` with a
//! `--post-file` (possibly behind `waitfor ... --`, the wait for a sidecar's
//! ready target). From the wrapper's arguments:
//!
//! - `--post-file=P`: the step's marker, by which the others know it;
//! - `--wait=P`: a dependency, the step whose marker is `P`;
//! - `--always`: a finally step (it runs whatever happened); the join
//!   container `steps-end` is one too, and is not shown;
//! - `--stop-when=P`, or an init container with `restartPolicy: Always`
//!   (a native sidecar): a sidecar;
//! - `--hold-until=P`: the step holds once done (its container runs on);
//! - `--results-dir=D`: made by the wrapper just before the command starts,
//!   so it tells a running step from a waiting one;
//! - `waitfor --while-alive=S TARGET... --`: the step waits for sidecar S's
//!   ready target (drawn on `--graph`).
//!
//! The container statuses come with it: waiting, running, or terminated with
//! the exit code and our termination message (`StartedAt`, `ExitCode`,
//! `Reason`, `Message`, results).

use super::time::parse_rfc3339;
use crate::document::{self, Node, Value};
use crate::stepsfile::END;

/// What a container is to the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Step,
    Finally,
    Sidecar,
    /// The join container (`steps-end`): waits for the last steps, marks the end.
    Join,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Step => "step",
            Kind::Finally => "finally",
            Kind::Sidecar => "sidecar",
            Kind::Join => "join",
        }
    }
}

/// A wrapped container, as its command line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wrapper {
    /// The directory of the tools in this container (`/tools`, `/tools/bin`, `/bin`).
    pub tools: String,
    pub post_file: String,
    pub waits: Vec<String>,
    pub always: bool,
    pub hold_until: Vec<String>,
    pub stop_when: Vec<String>,
    pub results_dir: Option<String>,
    /// `(sidecar's post file, ready target)`: the ready waits before the wrapper.
    pub ready: Vec<(String, String)>,
}

/// A container of the pod that runs a step (or a sidecar, or the join).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub kind: Kind,
    pub wrapper: Wrapper,
    pub container: Container,
}

/// A container's state, from the pod's status.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Container {
    /// No status yet.
    #[default]
    Unknown,
    /// Not started (`ContainerCreating`, `PodInitializing`, `ImagePullBackOff`...).
    Waiting {
        reason: Option<String>,
    },
    Running {
        started_ms: Option<u64>,
    },
    Terminated(Terminated),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terminated {
    pub exit_code: i64,
    /// The kubelet's reason (`Completed`, `Error`, `OOMKilled`, `StartError`).
    pub reason: Option<String>,
    /// Our termination message, if the container left one that parses.
    pub message: Option<Message>,
    /// A message was there (it may be cut by Kubernetes and not parse).
    pub had_message: bool,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
}

/// The termination message `entrypoint` writes (Tekton's array of entries).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub started_ms: Option<u64>,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    /// The line that explained a failure.
    pub text: Option<String>,
    pub attempts: Option<u32>,
    /// Results (type 1), in order.
    pub results: Vec<(String, String)>,
}

/// The pod, as far as `steps status` reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    pub name: String,
    pub namespace: Option<String>,
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// Why it failed (`DeadlineExceeded`, `Evicted`), with the API's message.
    pub reason: Option<String>,
    pub started_ms: Option<u64>,
    /// Steps, then finally steps, then sidecars, then the join, each in the pod's order.
    pub steps: Vec<Step>,
}

impl Pod {
    /// True once the pod has ended: nothing will change any more.
    pub fn ended(&self) -> bool {
        matches!(self.phase.as_str(), "Succeeded" | "Failed")
    }

    /// The index of the step whose post file is `path`.
    pub fn by_post_file(&self, path: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.wrapper.post_file == path)
    }

    /// The steps `i` waits for (`--wait`), by index.
    pub fn needs(&self, i: usize) -> Vec<usize> {
        self.steps[i].wrapper.waits.iter().filter_map(|w| self.by_post_file(w)).collect()
    }
}

/// Reads the pod from `kubectl get pod -o json`'s output; `Err` says why it is
/// not a pod of steps.
pub fn read(json: &str) -> Result<Pod, String> {
    let root = parse(json)?;
    if root.get("kind").and_then(Node::as_str) != Some("Pod") {
        return Err("kubectl's output is not a Pod".to_string());
    }
    from_node(&root)
}

/// Reads the newest pod of Job `job` from `kubectl get pod -l job-name=JOB -o
/// json`'s output (a List; the Job of `steps render --kind job` has one pod,
/// `backoffLimit: 0`, unless its file says otherwise).
pub fn read_job(json: &str, job: &str) -> Result<Pod, String> {
    let root = parse(json)?;
    let items = root.get("items").and_then(Node::as_seq).unwrap_or_default();
    let created =
        |p: &Node| p.get("metadata").and_then(|m| m.get("creationTimestamp")).and_then(Node::scalar_text);
    // RFC 3339 in UTC, as the API writes it, sorts as text
    let newest =
        items.iter().max_by_key(|p| created(p)).ok_or_else(|| format!("job '{job}' has no pod (yet)"))?;
    from_node(newest)
}

fn parse(json: &str) -> Result<Node, String> {
    document::parse(json).map_err(|e| format!("kubectl's output is not JSON: line {}: {}", e.line, e.what))
}

fn from_node(root: &Node) -> Result<Pod, String> {
    let text = |n: Option<&Node>| n.and_then(Node::as_str).map(str::to_string);
    let meta = root.get("metadata");
    let name = text(meta.and_then(|m| m.get("name"))).unwrap_or_default();
    let status = root.get("status");
    let spec = root.get("spec");
    let list = |node: Option<&Node>, key: &str| {
        node.and_then(|n| n.get(key)).and_then(Node::as_seq).unwrap_or_default().to_vec()
    };
    let statuses: Vec<Node> =
        list(status, "initContainerStatuses").into_iter().chain(list(status, "containerStatuses")).collect();
    let mut found = Vec::new();
    for (init, c) in list(spec, "initContainers")
        .iter()
        .map(|c| (true, c))
        .chain(list(spec, "containers").iter().map(|c| (false, c)))
    {
        let Some(cname) = c.get("name").and_then(Node::as_str) else { continue };
        let argv: Vec<String> = ["command", "args"]
            .iter()
            .filter_map(|k| c.get(k).and_then(Node::as_seq))
            .flatten()
            .filter_map(Node::scalar_text)
            .collect();
        let Some(wrapper) = wrapper(&argv) else { continue };
        let native = init && c.get("restartPolicy").and_then(Node::as_str) == Some("Always");
        let kind = if cname == END && wrapper.always {
            Kind::Join
        } else if native || !wrapper.stop_when.is_empty() {
            Kind::Sidecar
        } else if wrapper.always {
            Kind::Finally
        } else {
            Kind::Step
        };
        let state = statuses
            .iter()
            .find(|s| s.get("name").and_then(Node::as_str) == Some(cname))
            .map(container)
            .unwrap_or_default();
        found.push(Step { name: cname.to_string(), kind, wrapper, container: state });
    }
    if !found.iter().any(|s| s.kind != Kind::Join) {
        return Err(format!(
            "pod '{name}' runs no step: no container's command is entrypoint with --post-file (was it rendered by steps render?)"
        ));
    }
    let order = [Kind::Step, Kind::Finally, Kind::Sidecar, Kind::Join];
    found.sort_by_key(|s| order.iter().position(|&k| k == s.kind));
    let reason =
        match (text(status.and_then(|s| s.get("reason"))), text(status.and_then(|s| s.get("message")))) {
            (Some(r), Some(m)) => Some(format!("{r}: {m}")),
            (r, m) => r.or(m),
        };
    Ok(Pod {
        name,
        namespace: text(meta.and_then(|m| m.get("namespace"))),
        phase: text(status.and_then(|s| s.get("phase"))).unwrap_or_else(|| "Unknown".to_string()),
        reason,
        started_ms: text(status.and_then(|s| s.get("startTime"))).and_then(|t| parse_rfc3339(&t)),
        steps: found,
    })
}

/// The base name of a path.
fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory of a path (`.` for none).
fn dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// The wrapper that `argv` runs, if it runs one with a post file:
/// `[waitfor OPTIONS... TARGET... --] entrypoint OPTIONS... -- COMMAND`.
pub fn wrapper(argv: &[String]) -> Option<Wrapper> {
    let mut rest = argv;
    let mut ready_alive = Vec::new();
    let mut ready_targets = Vec::new();
    if base(rest.first()?) == "waitfor" {
        // waitfor's options (values given with = or as the next word), its targets, `--`
        let mut i = 1;
        while let Some(a) = rest.get(i) {
            i += 1;
            if a == "--" {
                break;
            }
            match option(a) {
                Some(("--while-alive", v)) => ready_alive.push(value(v, rest, &mut i)),
                Some(("--timeout" | "--interval", v)) => {
                    value(v, rest, &mut i);
                }
                Some(_) => {}
                None => ready_targets.push(a.clone()),
            }
        }
        rest = rest.get(i..)?;
    }
    let program = rest.first()?;
    if base(program) != "entrypoint" {
        return None;
    }
    let mut w = Wrapper { tools: dir(program).to_string(), ..Wrapper::default() };
    let mut i = 1;
    while let Some(a) = rest.get(i) {
        i += 1;
        if a == "--" {
            break;
        }
        let Some((name, inline)) = option(a) else { break };
        match name {
            "--always" => w.always = inline.is_none_or(|v| v != "false"),
            "--wait-nonempty" => {}
            "--post-file" => w.post_file = value(inline, rest, &mut i),
            "--wait" => w.waits.push(value(inline, rest, &mut i)),
            "--hold-until" => w.hold_until.push(value(inline, rest, &mut i)),
            "--stop-when" => w.stop_when.push(value(inline, rest, &mut i)),
            "--results-dir" => w.results_dir = Some(value(inline, rest, &mut i)),
            // every other option of entrypoint takes a value
            _ => {
                value(inline, rest, &mut i);
            }
        }
    }
    if w.post_file.is_empty() {
        return None;
    }
    // waitfor's --while-alive and its targets, in the order rendered: one target each
    w.ready = ready_alive.into_iter().zip(ready_targets).collect();
    Some(w)
}

/// `--name=value` or `--name`: the name and the inline value.
fn option(arg: &str) -> Option<(&str, Option<&str>)> {
    if !arg.starts_with("--") || arg == "--" {
        return None;
    }
    Some(match arg.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (arg, None),
    })
}

/// An option's value: inline, or the next word.
fn value(inline: Option<&str>, argv: &[String], i: &mut usize) -> String {
    if let Some(v) = inline {
        return v.to_string();
    }
    let v = argv.get(*i).cloned().unwrap_or_default();
    *i += 1;
    v
}

/// A container status (`containerStatuses[]`).
fn container(s: &Node) -> Container {
    let Some(state) = s.get("state") else { return Container::Unknown };
    let time = |n: &Node, k: &str| n.get(k).and_then(Node::as_str).and_then(parse_rfc3339);
    if let Some(w) = state.get("waiting") {
        return Container::Waiting { reason: w.get("reason").and_then(Node::as_str).map(str::to_string) };
    }
    if let Some(r) = state.get("running") {
        return Container::Running { started_ms: time(r, "startedAt") };
    }
    let Some(t) = state.get("terminated") else { return Container::Unknown };
    let raw = t.get("message").and_then(Node::as_str).unwrap_or_default();
    Container::Terminated(Terminated {
        exit_code: match t.get("exitCode").map(|n| &n.value) {
            Some(Value::Int(i)) => i64::try_from(*i).unwrap_or(-1),
            _ => -1,
        },
        reason: t.get("reason").and_then(Node::as_str).map(str::to_string),
        message: message(raw),
        had_message: !raw.trim().is_empty(),
        started_ms: time(t, "startedAt"),
        finished_ms: time(t, "finishedAt"),
    })
}

/// Our termination message, if `raw` is one (a JSON array of `{key, value,
/// type}`, as `entrypoint` and Tekton write it); `None` when it is not
/// (empty, cut by Kubernetes, or someone else's text).
pub fn message(raw: &str) -> Option<Message> {
    let root = document::parse(raw).ok()?;
    let entries = root.as_seq()?;
    let mut m = Message::default();
    let mut ours = false;
    for e in entries {
        let (Some(key), Some(value)) =
            (e.get("key").and_then(Node::as_str), e.get("value").and_then(Node::scalar_text))
        else {
            continue;
        };
        let kind = e.get("type").and_then(Node::scalar_text);
        match (key, kind.as_deref()) {
            ("StartedAt", _) => {
                m.started_ms = parse_rfc3339(&value);
                ours = true;
            }
            ("ExitCode", _) => {
                m.exit_code = value.parse().ok();
                ours = true;
            }
            ("Reason", _) => m.reason = Some(value),
            ("Message", _) => m.text = Some(value),
            ("Attempts", _) => m.attempts = value.parse().ok(),
            (_, Some("1")) => m.results.push((key.to_string(), value)),
            _ => {}
        }
    }
    ours.then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_rendered_wrapper_is_read_from_its_arguments() {
        let w = wrapper(&argv(&[
            "/tools/waitfor",
            "--always",
            "--while-alive=/steps/db/out",
            "tcp://127.0.0.1:5432",
            "--",
            "/tools/entrypoint",
            "--while-alive=/steps/db/out",
            "--wait=/steps/a/out",
            "--wait=/steps/b/out",
            "--timeout=10m",
            "--post-file=/steps/c/out",
            "--termination-path=/steps/c/termination",
            "--results-dir=/steps/c/results",
            "--hold-until=/steps/steps-end/out",
            "--",
            "sh",
            "-c",
            "--post-file=/not/this",
        ]))
        .unwrap();
        assert_eq!(
            w,
            Wrapper {
                tools: "/tools".into(),
                post_file: "/steps/c/out".into(),
                waits: vec!["/steps/a/out".into(), "/steps/b/out".into()],
                always: false,
                hold_until: vec!["/steps/steps-end/out".into()],
                stop_when: vec![],
                results_dir: Some("/steps/c/results".into()),
                ready: vec![("/steps/db/out".into(), "tcp://127.0.0.1:5432".into())],
            }
        );
        // hand-written: values as separate words, an image volume's path
        let w = wrapper(&argv(&[
            "/tools/bin/entrypoint",
            "--always",
            "--wait",
            "/steps/a",
            "--post-file",
            "/steps/b",
            "--stop-when",
            "/steps/z",
            "--",
            "true",
        ]))
        .unwrap();
        assert_eq!((w.tools.as_str(), w.post_file.as_str(), w.always), ("/tools/bin", "/steps/b", true));
        assert_eq!((w.waits, w.stop_when), (vec!["/steps/a".to_string()], vec!["/steps/z".to_string()]));
        // not ours: no post file, another program, Tekton's spelling
        for other in [
            &["/tools/entrypoint", "--", "true"][..],
            &["sh", "-c", "/tools/entrypoint --post-file=/x -- true"],
            &["/ko-app/entrypoint", "-post_file=/tekton/run/0/out", "-entrypoint=sh", "--"],
            &["/tools/waitfor", "tcp://db:5432", "--", "/bin/app"],
            &[],
        ] {
            assert_eq!(wrapper(&argv(other)), None, "{other:?}");
        }
    }

    #[test]
    fn termination_messages() {
        let m = message(
            r#"[{"key":"digest","value":"sha256:1","type":1},{"key":"StartedAt","value":"2026-11-27T09:15:00.123Z","type":3},{"key":"ExitCode","value":"137","type":3},{"key":"Reason","value":"Signaled","type":3},{"key":"Message","value":"entrypoint: timed out: stopped 'sh'","type":3},{"key":"Attempts","value":"3","type":3}]"#,
        )
        .unwrap();
        assert_eq!(
            m,
            Message {
                started_ms: Some(1_795_770_900_123),
                exit_code: Some(137),
                reason: Some("Signaled".into()),
                text: Some("entrypoint: timed out: stopped 'sh'".into()),
                attempts: Some(3),
                results: vec![("digest".into(), "sha256:1".into())],
            }
        );
        // cut by Kubernetes, empty, someone else's
        for raw in [
            r#"[{"key":"StartedAt","value":"2026-11-27T0"#,
            "",
            "OOM",
            "[]",
            r#"[{"key":"x","value":"y","type":1}]"#,
        ] {
            assert_eq!(message(raw), None, "{raw}");
        }
    }
}
