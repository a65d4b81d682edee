//! The steps file: what `steps` itself reads from the tree (docs/design.md section
//! 7), checked as it is read. Every problem is collected with its line, so one
//! pass reports them all; what is not `steps`' own stays a tree, untouched.

use crate::apirules;
use crate::cluster::{self, Choices, Given, Origin, ToolsFrom};
use crate::document::{kind, Entry, Node, Value};
use crate::quantity::{self, Nanos};
use crate::target;

/// The tools' image of this release.
pub const DEFAULT_TOOLS: &str = concat!("localhost/ordered-steps:", env!("CARGO_PKG_VERSION"));
/// Where the tools are copied to and mounted, read-only, in every container.
pub const TOOLS_DIR: &str = "/tools";
/// Where each container's own directory is (`/steps/NAME/`).
pub const STEPS_DIR: &str = "/steps";
/// The name of the init container that copies the tools.
pub const COPY_TOOLS: &str = "copy-tools";
/// The name of the container that marks the end of the work, when one is needed.
pub const END: &str = "steps-end";
/// The one emptyDir that holds every step's directory (`--layout subpath`).
pub const STEPS_VOLUME: &str = "steps";
/// Each wrapped container's directory is an emptyDir named `step-NAME` (`--layout volumes`).
pub const VOLUME_PREFIX: &str = "step-";
/// The resources whose requests `steps` sizes (the others must equal their limits).
pub const SIZED: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];
/// The most `retries` a step may ask for: each waits up to 5 minutes (the
/// delay doubles from `retryDelay`), so 100 is about 8 hours of waiting; a
/// step that needs more is a loop of its own, not a retry.
pub const MAX_RETRIES: i128 = 100;

/// One problem: the line it is on and what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub line: usize,
    pub what: String,
}

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, line: usize, what: impl Into<String>) {
        self.0.push(Problem { line, what: what.into() });
    }

    /// In the order of the file, each once.
    pub fn sorted(mut self) -> Vec<Problem> {
        self.0.sort();
        self.0.dedup();
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Step,
    Finally,
    Sidecar,
}

impl Role {
    pub fn noun(self) -> &'static str {
        match self {
            Role::Step => "step",
            Role::Finally => "finally step",
            Role::Sidecar => "sidecar",
        }
    }
}

/// What the container runs.
#[derive(Debug, Clone)]
pub enum Program {
    /// `run:`, a script for `sh -c`.
    Run(String),
    /// `run:` starting with `#!`: that interpreter (and its one argument, as
    /// the kernel reads the line) runs the script.
    Interpreted { interpreter: Vec<String>, script: String },
    /// `command:` (its `args`, if any, stay among the container's fields).
    Command(Vec<String>),
}

/// A request and a limit of one resource, as written (or absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Amount {
    pub request: Option<Nanos>,
    pub limit: Option<Nanos>,
}

impl Amount {
    /// What the API server makes of it: an unset request is its limit.
    pub fn weight(&self) -> Nanos {
        self.request.or(self.limit).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub role: Role,
    pub name: String,
    /// The line the step starts on.
    pub line: usize,
    /// The line of its `name`.
    pub name_line: usize,
    /// `needs`, each with its line; `None`: after the step before it.
    pub needs: Option<Vec<(String, usize)>>,
    pub program: Program,
    pub timeout: Option<String>,
    pub on_error_continue: bool,
    pub ready: Option<String>,
    /// The line of `ready`'s value.
    pub ready_line: usize,
    /// `retries` (more than 0) and `retryDelay` as written.
    pub retries: Option<u32>,
    pub retry_delay: Option<String>,
    /// `cpu`, `memory`, `ephemeral-storage`, as `SIZED`.
    pub resources: [Amount; 3],
    /// Every other key, in order: container fields, kept as written.
    pub fields: Vec<Entry>,
}

#[derive(Debug)]
pub struct File {
    pub name: String,
    pub image: Option<String>,
    pub tools: String,
    /// In seconds, rounded up.
    pub deadline: Option<u64>,
    pub hold: bool,
    pub workspace: Option<String>,
    pub metadata: Vec<Entry>,
    pub pod: Vec<Entry>,
    pub job: Vec<Entry>,
    pub steps: Vec<Step>,
    /// The line of `steps:` (where a problem of them all is told).
    pub steps_line: usize,
    pub finally: Vec<Step>,
    pub sidecars: Vec<Step>,
    /// `kubernetes`, `nativeSidecars`, `podResources`, `toolsFrom` ([`cluster`]).
    pub cluster: Choices,
}

/// The file's own keys (and `x-*`), as `steps schema` lists them too.
pub const TOP_KEYS: [&str; 16] = [
    "name",
    "image",
    "tools",
    "timeout",
    "hold",
    "workspace",
    "metadata",
    "pod",
    "steps",
    "finally",
    "sidecars",
    "job",
    "kubernetes",
    "nativeSidecars",
    "podResources",
    "toolsFrom",
];

/// Reads the file's tree. Problems are added to `p`; the result is meaningful
/// only when there are none.
pub fn read(root: &Node, p: &mut Problems) -> File {
    let mut f = File {
        name: String::new(),
        image: None,
        tools: DEFAULT_TOOLS.to_string(),
        deadline: None,
        hold: true,
        workspace: None,
        metadata: Vec::new(),
        pod: Vec::new(),
        job: Vec::new(),
        steps: Vec::new(),
        steps_line: root.line,
        finally: Vec::new(),
        sidecars: Vec::new(),
        cluster: Choices::default(),
    };
    let Some(top) = root.as_map() else {
        p.add(root.line, format!("expected a mapping (name:, steps:, ...), found {}", kind(&root.value)));
        return f;
    };
    for e in top {
        let v = &e.value;
        match e.key.as_str() {
            "name" => {
                if let Some(s) = string(v, "name", p) {
                    if !is_subdomain(&s) {
                        p.add(v.line, format!("invalid name '{s}': the pod's name is a DNS-1123 subdomain (up to 253 of a-z, 0-9, '-' and '.'; a letter or digit at each end and around each dot)"));
                    }
                    f.name = s;
                }
            }
            "image" => f.image = image(v, "image", p),
            "tools" => f.tools = image(v, "tools", p).unwrap_or_default(),
            "timeout" => {
                if let Some(ns) = duration(v, "timeout", p) {
                    let secs = ns.div_ceil(1_000_000_000);
                    if secs > apirules::MAX_DEADLINE {
                        p.add(
                            v.line,
                            format!(
                                "timeout: '{}' is {secs} s, more than the {} s (about 136 years) the API allows for activeDeadlineSeconds",
                                v.scalar_text().unwrap_or_default(),
                                apirules::MAX_DEADLINE
                            ),
                        );
                    }
                    f.deadline = Some(secs);
                }
            }
            "hold" => f.hold = switch(v, "hold", p).unwrap_or(true),
            "kubernetes" => f.cluster.kubernetes = kubernetes(v, p).map(|k| in_file(k, e.line)),
            "nativeSidecars" => f.cluster.native_sidecars = switch(v, &e.key, p).map(|b| in_file(b, e.line)),
            "podResources" => f.cluster.pod_resources = switch(v, &e.key, p).map(|b| in_file(b, e.line)),
            "toolsFrom" => f.cluster.tools_from = tools_from(v, p).map(|t| in_file(t, e.line)),
            "workspace" => f.workspace = workspace(v, p),
            "metadata" => f.metadata = mapping(v, "metadata", p),
            "pod" => f.pod = mapping(v, "pod", p),
            "job" => f.job = mapping(v, "job", p),
            "steps" | "finally" | "sidecars" => {
                let role = match e.key.as_str() {
                    "steps" => Role::Step,
                    "finally" => Role::Finally,
                    _ => Role::Sidecar,
                };
                let list = match &v.value {
                    Value::Seq(items) => items.iter().filter_map(|item| step(item, role, p)).collect(),
                    Value::Null => Vec::new(),
                    other => {
                        p.add(v.line, format!("{}: expected a list, found {}", e.key, kind(other)));
                        Vec::new()
                    }
                };
                match role {
                    Role::Step => {
                        f.steps = list;
                        f.steps_line = e.line;
                    }
                    Role::Finally => f.finally = list,
                    Role::Sidecar => f.sidecars = list,
                }
            }
            // a place for YAML anchors, as in docker compose files
            other if other.starts_with("x-") => {}
            other => match apirules::suggest(other, TOP_KEYS) {
                Some(k) => p.add(e.line, format!("unknown key '{other}' (did you mean '{k}'?)")),
                None => p.add(
                    e.line,
                    format!(
                        "unknown key '{other}' (the keys are {}, and x-* for anchors)",
                        TOP_KEYS.join(", ")
                    ),
                ),
            },
        }
    }
    if !top.iter().any(|e| e.key == "name") {
        p.add(root.line, "no 'name' (the pod's name)");
    }
    match top.iter().find(|e| e.key == "steps") {
        None => p.add(root.line, "no steps (steps: a list of at least one step)"),
        Some(e) if e.value.as_seq().is_some_and(<[Node]>::is_empty) || e.value.value == Value::Null => {
            p.add(e.line, "no steps (steps: a list of at least one step)")
        }
        Some(_) => {}
    }
    // (a top-level image that is there but bad is one problem already)
    if !top.iter().any(|e| e.key == "image") {
        for s in f.steps.iter().chain(&f.finally).chain(&f.sidecars) {
            // (a step without a name has its one problem already)
            if !s.name.is_empty() && !s.fields.iter().any(|e| e.key == "image") {
                p.add(
                    s.line,
                    format!("{} '{}': no image (give image: here or at the top)", s.role.noun(), s.name),
                );
            }
        }
    }
    check_pod(&f, p);
    check_mounts(&f, p);
    apirules::check(&f, p);
    f
}

/// A step, a finally step or a sidecar.
fn step(item: &Node, role: Role, p: &mut Problems) -> Option<Step> {
    let Some(map) = item.as_map() else {
        p.add(
            item.line,
            format!("a {}: expected a mapping (name:, run:, ...), found {}", role.noun(), kind(&item.value)),
        );
        return None;
    };
    let name_node = item.get("name");
    let name = name_node.and_then(|n| n.as_str()).unwrap_or_default().to_string();
    let what =
        if name.is_empty() { format!("a {}", role.noun()) } else { format!("{} '{name}'", role.noun()) };
    match name_node {
        None => p.add(item.line, format!("{what}: no name")),
        Some(n) if n.as_str().is_none() => p.add(
            n.line,
            format!("{what}: name: expected a string, found {}{}", kind(&n.value), quote_hint(&n.value)),
        ),
        Some(n) => {
            if label(&name, "a name", n.line, p) && name.len() > 63 - VOLUME_PREFIX.len() {
                p.add(
                    n.line,
                    format!(
                        "invalid name '{name}': at most {} characters (its directory's volume is {VOLUME_PREFIX}NAME)",
                        63 - VOLUME_PREFIX.len()
                    ),
                );
            }
        }
    }
    let mut s = Step {
        role,
        name,
        line: item.line,
        name_line: name_node.map_or(item.line, |n| n.line),
        needs: None,
        program: Program::Run(String::new()),
        timeout: None,
        on_error_continue: false,
        ready: None,
        ready_line: item.line,
        retries: None,
        retry_delay: None,
        resources: Default::default(),
        fields: Vec::new(),
    };
    let (mut run, mut command) = (None, None);
    for e in map {
        let v = &e.value;
        if let Some(how) = apirules::set_by_steps(role, &e.key) {
            p.add(e.line, format!("{what}: {} is set by steps ({how})", e.key));
            continue;
        }
        match e.key.as_str() {
            "name" => {}
            "needs" if role == Role::Sidecar => {
                p.add(e.line, format!("{what}: a sidecar has no needs (it starts with the pod)"))
            }
            "needs" if role == Role::Finally => p.add(
                e.line,
                format!("{what}: a finally step has no needs (each runs after every step, and after the finally step before it)"),
            ),
            "needs" => s.needs = Some(needs(v, &what, p)),
            "run" => {
                run = Some(e.line);
                if let Some(script) = string(v, &format!("{what}: run"), p) {
                    s.program = match interpreter(&script) {
                        None => Program::Run(script),
                        Some(Ok(interpreter)) => Program::Interpreted { interpreter, script },
                        Some(Err(why)) => {
                            p.add(v.line, format!("{what}: run: {why}"));
                            Program::Run(script)
                        }
                    };
                }
            }
            "command" => {
                command = Some(e.line);
                if let Some(argv) = strings(v, &format!("{what}: command"), p) {
                    if argv.is_empty() {
                        p.add(v.line, format!("{what}: command: empty"));
                    }
                    s.program = Program::Command(argv);
                }
            }
            "timeout" => {
                if duration(v, &format!("{what}: timeout"), p).is_some() {
                    s.timeout = v.scalar_text();
                }
            }
            "retries" | "retryDelay" if role == Role::Sidecar => p.add(
                e.line,
                format!("{what}: a sidecar has no {} (only steps and finally steps run again when they fail)", e.key),
            ),
            "retries" => s.retries = retries(v, &what, p),
            "retryDelay" => {
                if any_duration(v, &format!("{what}: retryDelay"), p).is_some() {
                    s.retry_delay = v.scalar_text();
                }
                if !map.iter().any(|e| e.key == "retries") {
                    p.add(e.line, format!("{what}: retryDelay without retries (give retries: N, the attempts after the first)"));
                }
            }
            "onError" if role == Role::Sidecar => {
                p.add(e.line, format!("{what}: a sidecar has no onError (nothing waits for its result)"))
            }
            "onError" => match v.as_str() {
                Some("continue") => s.on_error_continue = true,
                Some("stopAndFail" | "stop") => {}
                _ => p.add(
                    v.line,
                    format!(
                        "{what}: bad onError '{}' (continue or stopAndFail)",
                        v.scalar_text().unwrap_or_default()
                    ),
                ),
            },
            "ready" if role != Role::Sidecar => {
                p.add(e.line, format!("{what}: only a sidecar has ready (what the steps wait for)"))
            }
            "ready" => {
                s.ready_line = v.line;
                if let Some(t) = string(v, &format!("{what}: ready"), p) {
                    if let Err(why) = target::check_ready(&t) {
                        p.add(v.line, format!("{what}: bad ready target '{t}': {why}"));
                    }
                    s.ready = Some(t);
                }
            }
            "image" => {
                image(v, &format!("{what}: image"), p);
                s.fields.push(e.clone());
            }
            "resources" => {
                s.resources = resources(v, &what, p);
                s.fields.push(e.clone());
            }
            _ => s.fields.push(e.clone()),
        }
    }
    match (run, command) {
        (Some(_), Some(l)) => p.add(l, format!("{what}: both run and command (give one)")),
        (None, None) => p.add(item.line, format!("{what}: no run or command (give one)")),
        (Some(_), None) => {
            if let Some(a) = map.iter().find(|e| e.key == "args") {
                p.add(a.line, format!("{what}: args goes with command (a run script takes no args)"));
            }
        }
        (None, Some(_)) => {}
    }
    Some(s)
}

/// The interpreter a `run:` script names on its `#!` line, as the kernel
/// reads it: a path, then the rest of the line as one argument. `None`: no `#!`.
fn interpreter(script: &str) -> Option<Result<Vec<String>, String>> {
    let rest = script.strip_prefix("#!")?;
    let line = rest.split('\n').next().unwrap_or_default().trim_matches([' ', '\t', '\r']);
    let (path, arg) = match line.split_once([' ', '\t']) {
        Some((path, arg)) => (path, arg.trim_matches([' ', '\t'])),
        None => (line, ""),
    };
    if path.is_empty() {
        return Some(Err("'#!' names no interpreter (like #!/bin/bash)".to_string()));
    }
    if !path.starts_with('/') {
        return Some(Err(format!(
            "'#!{path}': the interpreter is an absolute path (like #!/usr/bin/env {path})"
        )));
    }
    let mut argv = vec![path.to_string()];
    if !arg.is_empty() {
        argv.push(arg.to_string());
    }
    Some(Ok(argv))
}

fn needs(v: &Node, what: &str, p: &mut Problems) -> Vec<(String, usize)> {
    let Some(items) = v.as_seq() else {
        p.add(v.line, format!("{what}: needs: expected a list of step names, found {}", kind(&v.value)));
        return Vec::new();
    };
    let mut out: Vec<(String, usize)> = Vec::new();
    for item in items {
        match item.as_str() {
            Some(n) if out.iter().any(|(m, _)| m == n) => {
                p.add(item.line, format!("{what}: '{n}' twice in needs"))
            }
            Some(n) => out.push((n.to_string(), item.line)),
            None => p.add(
                item.line,
                format!(
                    "{what}: needs: expected a step name, found {}{}",
                    kind(&item.value),
                    quote_hint(&item.value)
                ),
            ),
        }
    }
    out
}

fn resources(v: &Node, what: &str, p: &mut Problems) -> [Amount; 3] {
    let mut out = [Amount::default(); 3];
    let Some(map) = v.as_map() else {
        p.add(
            v.line,
            format!("{what}: resources: expected a mapping (requests:, limits:), found {}", kind(&v.value)),
        );
        return out;
    };
    for e in map {
        let is_request = match e.key.as_str() {
            "requests" => true,
            "limits" => false,
            _ => continue,
        };
        let Some(amounts) = e.value.as_map() else {
            p.add(
                e.value.line,
                format!("{what}: resources.{}: expected a mapping, found {}", e.key, kind(&e.value.value)),
            );
            continue;
        };
        for a in amounts {
            let text = match &a.value.value {
                Value::Str(_) | Value::Int(_) | Value::Float(_) => a.value.scalar_text().unwrap_or_default(),
                other => {
                    p.add(
                        a.value.line,
                        format!(
                            "{what}: resources.{}.{}: expected a quantity, found {}",
                            e.key,
                            a.key,
                            kind(other)
                        ),
                    );
                    continue;
                }
            };
            let Some(n) = quantity::parse(&text) else {
                p.add(
                    a.value.line,
                    format!(
                        "{what}: resources.{}.{}: bad quantity '{text}' (like 500m, 2, 128Mi, 1G)",
                        e.key, a.key
                    ),
                );
                continue;
            };
            let Some(i) = SIZED.iter().position(|r| *r == a.key) else { continue };
            if is_request {
                out[i].request = Some(n);
            } else {
                out[i].limit = Some(n);
            }
        }
    }
    // every resource, extended ones too: a request is never more than its limit
    let amounts = |key: &str| -> Vec<(String, Nanos)> {
        let list = map.iter().filter(|e| e.key == key).flat_map(|e| e.value.as_map().unwrap_or_default());
        list.filter_map(|a| Some((a.key.clone(), quantity::parse(&a.value.scalar_text()?)?))).collect()
    };
    let limits = amounts("limits");
    for (r, req) in amounts("requests") {
        if limits.iter().any(|(l, lim)| *l == r && req > *lim) {
            p.add(v.line, format!("{what}: the {r} request is more than its limit"));
        }
    }
    out
}

/// The pod-level map: what `steps` renders may not be given there too.
fn check_pod(f: &File, p: &mut Problems) {
    for e in &f.pod {
        let v = &e.value;
        match e.key.as_str() {
            "containers" => {
                p.add(e.line, "pod.containers: give the containers as steps, finally or sidecars")
            }
            "restartPolicy" if v.as_str() != Some("Never") => {
                p.add(v.line, "pod.restartPolicy: must be Never (a step that ran is never run again)")
            }
            "activeDeadlineSeconds" if f.deadline.is_some() => {
                p.add(e.line, "pod.activeDeadlineSeconds: the file's timeout sets it already (give one)")
            }
            "volumes" => match v.as_seq() {
                Some(vols) => {
                    for vol in vols {
                        match vol.get("name").and_then(Node::as_str) {
                            Some(n) if is_own_volume(f, n) => p.add(
                                vol.line,
                                format!("pod.volumes: '{n}' is the name of one of the tools' own volumes"),
                            ),
                            Some(_) => {}
                            None => p.add(vol.line, "pod.volumes: a volume without a name"),
                        }
                    }
                }
                None => p.add(v.line, format!("pod.volumes: expected a list, found {}", kind(&v.value))),
            },
            "initContainers" => match v.as_seq() {
                Some(list) => {
                    for c in list {
                        if c.get("name").and_then(Node::as_str).is_none() {
                            p.add(c.line, "pod.initContainers: a container without a name");
                        }
                    }
                }
                None => {
                    p.add(v.line, format!("pod.initContainers: expected a list, found {}", kind(&v.value)))
                }
            },
            _ => {}
        }
    }
    for e in &f.metadata {
        if e.key == "name" && e.value.as_str() != Some(f.name.as_str()) {
            p.add(e.line, "metadata.name: the file's name sets it (give one)");
        }
    }
    for e in &f.job {
        if e.key == "template" {
            p.add(e.line, "job.template: the pod is rendered from the steps (give pod: for its spec)");
        }
    }
}

/// `tools`, `workspace`, and `steps` or each wrapped container's `step-NAME` (by layout).
pub fn is_own_volume(f: &File, name: &str) -> bool {
    name == "tools"
        || (f.workspace.is_some() && name == "workspace")
        || name == STEPS_VOLUME
        || name.starts_with(VOLUME_PREFIX)
}

/// A step's own `volumeMounts` may not clash with the tools' own.
fn check_mounts(f: &File, p: &mut Problems) {
    for s in f.steps.iter().chain(&f.finally).chain(&f.sidecars) {
        let Some(mounts) = s.fields.iter().find(|e| e.key == "volumeMounts") else { continue };
        let what = format!("{} '{}'", s.role.noun(), s.name);
        let Some(list) = mounts.value.as_seq() else {
            p.add(
                mounts.value.line,
                format!("{what}: volumeMounts: expected a list, found {}", kind(&mounts.value.value)),
            );
            continue;
        };
        for m in list {
            if let Some(n) = m.get("name").and_then(Node::as_str) {
                if is_own_volume(f, n) {
                    p.add(m.line, format!("{what}: volumeMounts: '{n}' is one of the tools' own volumes"));
                }
            }
            let Some(written) = m.get("mountPath").and_then(Node::as_str) else { continue };
            if let Some(own) = clash(written) {
                p.add(m.line, format!("{what}: volumeMounts: '{written}' clashes with the tools' own {own}"));
            } else if f.workspace.as_deref() == Some(apirules::normalise(written).as_str()) {
                p.add(m.line, format!("{what}: volumeMounts: '{written}' is the workspace"));
            }
        }
    }
}

fn workspace(v: &Node, p: &mut Problems) -> Option<String> {
    let w = string(v, "workspace", p)?;
    let path = apirules::normalise(&w);
    if !w.starts_with('/') || path == "/" {
        p.add(v.line, format!("workspace: '{w}' is not an absolute path below / (like /workspace)"));
        return None;
    }
    if let Some(own) = clash(&w) {
        p.add(v.line, format!("workspace: '{w}' clashes with the tools' own {own}"));
        return None;
    }
    Some(path.to_string())
}

/// The tools' own directory (`/tools`, `/steps`) that a mount at `path` would
/// hide or be hidden by, if any (as the runtime normalises it: `//tools`).
fn clash(path: &str) -> Option<&'static str> {
    let path = apirules::normalise(path);
    let path = path.trim_end_matches('/');
    [TOOLS_DIR, STEPS_DIR].into_iter().find(|own| {
        path == *own || path.starts_with(&format!("{own}/")) || own.starts_with(&format!("{path}/"))
    })
}

/// A DNS-1123 subdomain: up to 253 characters, labels of a-z, 0-9 and '-'
/// joined by dots, a letter or digit at each end of each.
pub fn is_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric)
        })
}

/// A DNS-1123 label: 1 to 63 of a-z, 0-9 and '-', a letter or digit at each end.
pub fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn label(s: &str, what: &str, line: usize, p: &mut Problems) -> bool {
    if is_label(s) {
        return true;
    }
    p.add(
        line,
        format!("invalid name '{s}': {what} is a DNS-1123 label (1 to 63 of a-z, 0-9, '-'; a letter or digit at each end)"),
    );
    false
}

fn string(v: &Node, what: &str, p: &mut Problems) -> Option<String> {
    match &v.value {
        Value::Str(s) => Some(s.clone()),
        other => {
            p.add(v.line, format!("{what}: expected a string, found {}{}", kind(other), quote_hint(other)));
            None
        }
    }
}

/// Why a word came out as a boolean: Kubernetes reads YAML 1.1.
fn quote_hint(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => {
            " (quote it: Kubernetes reads YAML 1.1, where y, n, yes, no, on and off are booleans)"
        }
        _ => "",
    }
}

fn strings(v: &Node, what: &str, p: &mut Problems) -> Option<Vec<String>> {
    let Some(items) = v.as_seq() else {
        p.add(v.line, format!("{what}: expected a list of strings, found {}", kind(&v.value)));
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match &item.value {
            Value::Str(s) => out.push(s.clone()),
            other => {
                let hint = item.scalar_text().map(|t| format!(": quote it ('{t}')")).unwrap_or_default();
                p.add(item.line, format!("{what}: item {} is {}{hint}", i + 1, kind(other)));
                return None;
            }
        }
    }
    Some(out)
}

/// An image reference: a non-empty string without blanks.
fn image(v: &Node, what: &str, p: &mut Problems) -> Option<String> {
    let i = string(v, what, p)?;
    if i.is_empty() || i.contains(char::is_whitespace) {
        p.add(v.line, format!("{what}: '{i}' is not an image reference"));
        return None;
    }
    Some(i)
}

fn mapping(v: &Node, what: &str, p: &mut Problems) -> Vec<Entry> {
    match &v.value {
        Value::Map(m) => m.clone(),
        Value::Null => Vec::new(),
        other => {
            p.add(v.line, format!("{what}: expected a mapping, found {}", kind(other)));
            Vec::new()
        }
    }
}

/// A duration by the tools' own grammar (`30`, `1.5s`, `10m`, `1h30m`), more than 0.
fn duration(v: &Node, what: &str, p: &mut Problems) -> Option<u64> {
    match any_duration(v, what, p)? {
        0 => {
            let text = v.scalar_text().unwrap_or_default();
            p.add(v.line, format!("{what}: '{text}' is no time at all (give more than 0)"));
            None
        }
        ns => Some(ns),
    }
}

/// A duration by the tools' own grammar, 0 too, in nanoseconds.
fn any_duration(v: &Node, what: &str, p: &mut Problems) -> Option<u64> {
    let text = match &v.value {
        Value::Str(_) | Value::Int(_) | Value::Float(_) => v.scalar_text().unwrap_or_default(),
        other => {
            p.add(v.line, format!("{what}: expected a duration (30s, 10m, 1h30m), found {}", kind(other)));
            return None;
        }
    };
    match stepkit::duration::parse(text.as_bytes()) {
        Some(d) => Some(d.0),
        None => {
            p.add(v.line, format!("{what}: bad duration '{text}' (like 30, 1.5s, 10m, 1h30m)"));
            None
        }
    }
}

/// `retries`: a whole number from 0 to [`MAX_RETRIES`]; `None` for 0 (no retry).
fn retries(v: &Node, what: &str, p: &mut Problems) -> Option<u32> {
    match v.value {
        Value::Int(n) if (0..=MAX_RETRIES).contains(&n) => u32::try_from(n).ok().filter(|&n| n > 0),
        Value::Int(n) => {
            p.add(v.line, format!("{what}: retries: {n} is not from 0 to {MAX_RETRIES}"));
            None
        }
        ref other => {
            p.add(
                v.line,
                format!(
                    "{what}: retries: expected a whole number from 0 to {MAX_RETRIES}, found {}",
                    kind(other)
                ),
            );
            None
        }
    }
}

/// `true` or `false`.
fn switch(v: &Node, what: &str, p: &mut Problems) -> Option<bool> {
    match v.value {
        Value::Bool(b) => Some(b),
        _ => {
            p.add(v.line, format!("{what}: expected true or false, found {}", kind(&v.value)));
            None
        }
    }
}

/// A choice of the file's, at `line`.
fn in_file<T>(value: T, line: usize) -> Given<T> {
    Given { value, origin: Origin::File(line) }
}

/// `kubernetes: "1.36"`: a string, as YAML reads `1.30` as the number 1.3.
fn kubernetes(v: &Node, p: &mut Problems) -> Option<cluster::Version> {
    let Value::Str(text) = &v.value else {
        let hint = match &v.value {
            Value::Int(_) | Value::Float(_) => {
                // The number lost a trailing zero when it was written with
                // one (1.30 is read as 1.3, and Kubernetes 1.3 is long gone).
                let mut text = v.scalar_text().unwrap_or_default();
                if matches!(v.value, Value::Float(_))
                    && text.split_once('.').is_some_and(|(_, minor)| minor.len() == 1)
                {
                    text.push('0');
                }
                format!(" (quote it: \"{text}\"; unquoted, YAML reads 1.30 as the number 1.3)")
            }
            _ => String::new(),
        };
        p.add(v.line, format!("kubernetes: expected a version as a string, found {}{hint}", kind(&v.value)));
        return None;
    };
    match cluster::parse_version(text) {
        Ok(version) => Some(version),
        Err(why) => {
            p.add(v.line, format!("kubernetes: {why}"));
            None
        }
    }
}

/// `toolsFrom: copy` or `image`.
fn tools_from(v: &Node, p: &mut Problems) -> Option<ToolsFrom> {
    match v.as_str() {
        Some("copy") => Some(ToolsFrom::Copy),
        Some("image") => Some(ToolsFrom::Image),
        _ => {
            let found = v.scalar_text().map_or_else(|| kind(&v.value).to_string(), |t| format!("'{t}'"));
            p.add(v.line, format!("toolsFrom: {found} is not copy or image"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;

    fn problems(text: &str) -> Vec<(usize, String)> {
        let mut p = Problems::default();
        read(&parse(text).unwrap(), &mut p);
        p.sorted().into_iter().map(|x| (x.line, x.what)).collect()
    }

    #[test]
    fn the_pods_name_is_a_dns_subdomain() {
        for good in ["a", "build.v2", "ci-1.example.org", "a.".repeat(126).trim_end_matches('.')] {
            assert!(is_subdomain(good), "{good}");
        }
        for bad in ["", "A", "a..b", ".a", "a.", "a_b", "-a.b", "a.b-", &"a".repeat(254)] {
            assert!(!is_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn interpreters_of_scripts() {
        assert_eq!(interpreter("echo hi"), None);
        assert_eq!(interpreter("#!/bin/bash\nset -e\n"), Some(Ok(vec!["/bin/bash".to_string()])));
        assert_eq!(
            interpreter("#! /usr/bin/env  python3 -u \r\nprint(1)"),
            Some(Ok(vec!["/usr/bin/env".to_string(), "python3 -u".to_string()]))
        );
        assert_eq!(
            interpreter("#!\necho"),
            Some(Err("'#!' names no interpreter (like #!/bin/bash)".to_string()))
        );
        assert_eq!(
            interpreter("#!python3\n"),
            Some(Err(
                "'#!python3': the interpreter is an absolute path (like #!/usr/bin/env python3)".to_string()
            ))
        );
    }

    #[test]
    fn names_are_dns_labels() {
        for good in ["a", "build", "run-2", "0day", "a-b-c", &"x".repeat(63)] {
            assert!(is_label(good), "{good}");
        }
        for bad in ["", "A", "a_b", "-a", "a-", "a.b", "é", "a b", &"x".repeat(64)] {
            assert!(!is_label(bad), "{bad}");
        }
    }

    #[test]
    fn durations_by_the_tools_grammar() {
        let f = |t: &str| {
            let mut p = Problems::default();
            let file = read(
                &parse(&format!("name: x\nimage: i\ntimeout: {t}\nsteps: [{{name: a, run: a}}]\n")).unwrap(),
                &mut p,
            );
            (file.deadline, p.sorted().into_iter().map(|x| x.what).collect::<Vec<_>>())
        };
        assert_eq!(f("30"), (Some(30), vec![]));
        assert_eq!(f("1.5"), (Some(2), vec![]), "rounded up to whole seconds");
        assert_eq!(f("1m30s"), (Some(90), vec![]));
        assert_eq!(f("250ms"), (Some(1), vec![]));
        assert_eq!(f("2h"), (Some(7200), vec![]));
        assert_eq!(f("0").1, ["timeout: '0' is no time at all (give more than 0)"]);
        assert_eq!(f("1d").1, ["timeout: bad duration '1d' (like 30, 1.5s, 10m, 1h30m)"]);
        assert_eq!(f("-5").1, ["timeout: bad duration '-5' (like 30, 1.5s, 10m, 1h30m)"]);
        assert_eq!(f("[1]").1, ["timeout: expected a duration (30s, 10m, 1h30m), found a list"]);
    }

    #[test]
    fn steps_own_keys_and_container_fields() {
        let mut p = Problems::default();
        let f = read(
            &parse("name: x\nimage: i\nsteps:\n  - name: a\n    run: a\n    env: [{name: A, value: b}]\n    stdin: true\n")
                .unwrap(),
            &mut p,
        );
        assert!(p.is_empty());
        let keys: Vec<&str> = f.steps[0].fields.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["env", "stdin"]);
        assert_eq!(
            problems("name: x\nimage: i\nsteps:\n  - name: a\n    run: a\n    timout: 5\n    args_like: 1\n"),
            [
                (6, "step 'a': unknown key 'timout' (did you mean 'timeout'?)".to_string()),
                (7, "step 'a': unknown key 'args_like' (neither steps' own nor a Container field of Kubernetes 1.37)".to_string())
            ]
        );
        assert_eq!(
            problems("name: x\nimage: ''\nsteps: [{name: a, run: a}]\n"),
            [(2, "image: '' is not an image reference".to_string())]
        );
    }
}
