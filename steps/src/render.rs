//! The Pod (or Job) that runs a checked steps file: what an expert would
//! write by hand (docs/steps.md). One function for each part:
//!
//! - [`copy_tools`]: the init container that copies the tools into the
//!   `tools` emptyDir, mounted read-only everywhere else; or, with
//!   `--tools-from image`, no init container and the tools' image itself as
//!   the `tools` volume ([`tools_volume`]);
//! - [`sidecar`], [`step`]: each command wrapped in `entrypoint` with the
//!   step files of [`wiring`], in a directory `/steps/NAME/` of its own
//!   ([`layout`]): its marker `out`, its termination message and its results
//!   are there, where no other container can forge them;
//! - [`join`]: the container that marks the end, when one is needed;
//! - [`volumes`], [`pod_spec`], then the [`pod`] or the [`job`] around it;
//! - requests sized for what can run at once ([`antichain`]), and with
//!   `--pod-resources` the pod's own requests ([`pod_resources`]).

use crate::antichain::max_weight_antichain;
use crate::cluster::{Settings, ToolsFrom};
use crate::dag::Dag;
use crate::document::{Entry, Node, Value};
use crate::layout::{dir, empty_dir, mount, Layout};
use crate::quantity::{self, Nanos};
use crate::stepsfile::{Amount, File, Problem, Program, Step, COPY_TOOLS, END, SIZED, TOOLS_DIR};
use crate::wiring::{wire, End, Wiring};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Job,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub kind: Kind,
    pub layout: Layout,
    /// `run:` scripts written with every `$` as `$$`, so that they reach the
    /// shell as written where `command` and `args` are expanded (`$(VAR)`,
    /// `$$`): the kubelet, podman 4.7+. Off for a player that does not expand.
    pub escape_dollars: bool,
    /// Native sidecars (1.29+), pod-level resources (1.34+), the tools from
    /// an image volume (1.36+): [`crate::cluster`].
    pub cluster: Settings,
}

/// The user the tools' own containers run as (distroless' "nonroot").
pub const OWN_UID: i128 = 65532;
/// The requests and limits of the tools' own containers (equal: they never
/// keep a pod from being Guaranteed).
const OWN_CPU: &str = "50m";
const OWN_MEMORY: &str = "16Mi";
/// Where the tools are in their image (`/bin/entrypoint`): under [`TOOLS_DIR`]
/// when the image is mounted there as an image volume. It is mounted whole:
/// `subPath` on an image volume needs Kubernetes 1.33 and containerd 2.2 (2.1
/// ignores it and mounts the image's root).
const TOOLS_IN_IMAGE: &str = "/bin";
/// The resources a pod can ask for as a whole (KEP 2837), as indices into `SIZED`.
const POD_LEVEL: [usize; 2] = [0, 1];
/// Where a `run:` script that starts with `#!` is written, in the step's own directory.
const SCRIPT_FILE: &str = "script";
/// Writes the script (`$1`) to the file (`$0`), then runs the interpreter
/// (`$2`...) on it, as the kernel runs a `#!` file.
const SCRIPT_LOADER: &str = "printf '%s' \"$1\" >\"$0\" && shift && exec \"$@\" \"$0\"";

fn s(text: impl Into<String>) -> Node {
    Node::str(text)
}

fn map(entries: Vec<(&str, Node)>) -> Node {
    Node::new(Value::Map(entries.into_iter().map(|(k, v)| entry(k, v)).collect()))
}

fn entry(key: &str, value: Node) -> Entry {
    Entry { key: key.to_string(), line: 0, value }
}

fn seq(items: Vec<Node>) -> Node {
    Node::new(Value::Seq(items))
}

fn strings(items: Vec<String>) -> Node {
    seq(items.into_iter().map(s).collect())
}

fn out(name: &str) -> String {
    format!("{}/out", dir(name))
}

fn termination(name: &str) -> String {
    format!("{}/termination", dir(name))
}

/// What every part of the rendering draws on.
struct Plan<'a> {
    f: &'a File,
    dag: &'a Dag,
    opts: Options,
    wiring: Wiring,
    /// The steps and finally steps, as the graph numbers them.
    steps: Vec<&'a Step>,
    requests: Vec<Vec<(usize, Nanos)>>,
    /// For each step: whether it waits for the sidecars' ready targets.
    waits_ready: Vec<bool>,
    /// The sidecars that have a ready target.
    ready: Vec<&'a Step>,
}

impl<'a> Plan<'a> {
    fn new(f: &'a File, dag: &'a Dag, opts: Options) -> Plan<'a> {
        let stop_sidecars = !f.sidecars.is_empty() && !opts.cluster.native_sidecars;
        let wiring = wire(dag, f.hold, stop_sidecars);
        let steps: Vec<&Step> = f.steps.iter().chain(&f.finally).collect();
        let requests = sized_requests(dag, &steps);
        let mut waits_ready = vec![false; steps.len()];
        for &i in &wiring.ready_waiters {
            waits_ready[i] = true;
        }
        let ready = f.sidecars.iter().filter(|c| c.ready.is_some()).collect();
        Plan { f, dag, opts, wiring, steps, requests, waits_ready, ready }
    }

    fn end_name(&self, end: End) -> &str {
        match end {
            End::Step(i) => &self.dag.names[i],
            End::Join => END,
        }
    }

    /// The directories every step can read: the steps', and the join's.
    fn step_dirs(&self) -> impl Iterator<Item = &str> {
        self.dag.names.iter().map(String::as_str).chain(self.wiring.join.then_some(END))
    }

    /// The path of a tool (`entrypoint`, `waitfor`) in the steps' containers.
    fn tool(&self, name: &str) -> String {
        match self.opts.cluster.tools_from {
            ToolsFrom::Copy => format!("{TOOLS_DIR}/{name}"),
            ToolsFrom::Image => format!("{TOOLS_DIR}{TOOLS_IN_IMAGE}/{name}"),
        }
    }

    /// A script as the kubelet must be given it to hand it on as written.
    fn literal(&self, text: &str) -> String {
        if self.opts.escape_dollars {
            text.replace('$', "$$")
        } else {
            text.to_string()
        }
    }
}

/// The rendered Pod or Job.
pub fn render(f: &File, dag: &Dag, opts: Options) -> Node {
    let plan = Plan::new(f, dag, opts);
    let spec = pod_spec(&plan);
    match opts.kind {
        Kind::Pod => pod(f, spec),
        Kind::Job => job(f, spec),
    }
}

/// The pod's spec: ours first, then the file's `pod:` map, the containers and volumes.
fn pod_spec(p: &Plan) -> Node {
    let f = p.f;
    let mut init = Vec::new();
    if p.opts.cluster.tools_from == ToolsFrom::Copy {
        init.push(copy_tools(p));
    }
    init.extend(user_init_containers(f).into_iter().cloned());
    let mut containers = Vec::new();
    for side in &f.sidecars {
        // native sidecars start after the pod's own init containers, as wrapped ones do
        if p.opts.cluster.native_sidecars {
            init.push(sidecar(p, side));
        } else {
            containers.push(sidecar(p, side));
        }
    }
    containers.extend(p.steps.iter().enumerate().map(|(i, st)| step(p, i, st)));
    if p.wiring.join {
        containers.push(join(p));
    }
    let mut volumes = volumes(p);
    volumes.extend(
        f.pod
            .iter()
            .filter(|e| e.key == "volumes")
            .flat_map(|e| e.value.as_seq().unwrap_or_default().iter().cloned()),
    );

    let mut spec = vec![entry("restartPolicy", s("Never"))];
    if let Some(secs) = f.deadline {
        spec.push(entry("activeDeadlineSeconds", Node::new(Value::Int(i128::from(secs)))));
    }
    if p.opts.cluster.pod_resources {
        spec.extend(pod_resources(f, &init, &containers).map(|r| entry("resources", r)));
    }
    spec.extend(
        f.pod
            .iter()
            .filter(|e| !matches!(e.key.as_str(), "restartPolicy" | "initContainers" | "volumes"))
            .cloned(),
    );
    if !init.is_empty() {
        spec.push(entry("initContainers", seq(init)));
    }
    spec.push(entry("containers", seq(containers)));
    spec.push(entry("volumes", seq(volumes)));
    Node::new(Value::Map(spec))
}

fn metadata(f: &File) -> Node {
    let mut metadata = vec![entry("name", s(&f.name))];
    metadata.extend(f.metadata.iter().filter(|e| e.key != "name").cloned());
    Node::new(Value::Map(metadata))
}

fn pod(f: &File, spec: Node) -> Node {
    map(vec![("apiVersion", s("v1")), ("kind", s("Pod")), ("metadata", metadata(f)), ("spec", spec)])
}

/// A `batch/v1` Job around the pod: `backoffLimit: 0` unless the file's `job:`
/// says otherwise (a failed DAG is not re-run whole); labels and annotations
/// on the pod template too.
fn job(f: &File, spec: Node) -> Node {
    let mut job = Vec::new();
    if !f.job.iter().any(|e| e.key == "backoffLimit") {
        job.push(entry("backoffLimit", Node::new(Value::Int(0))));
    }
    job.extend(f.job.iter().cloned());
    let mut template = Vec::new();
    let carried: Vec<Entry> =
        f.metadata.iter().filter(|e| e.key == "labels" || e.key == "annotations").cloned().collect();
    if !carried.is_empty() {
        template.push(entry("metadata", Node::new(Value::Map(carried))));
    }
    template.push(entry("spec", spec));
    job.push(entry("template", Node::new(Value::Map(template))));
    map(vec![
        ("apiVersion", s("batch/v1")),
        ("kind", s("Job")),
        ("metadata", metadata(f)),
        ("spec", Node::new(Value::Map(job))),
    ])
}

/// The tools' volume, the step directories' ([`Layout`]), the workspace.
fn volumes(p: &Plan) -> Vec<Node> {
    let mut volumes = vec![tools_volume(p)];
    let sidecars = p.f.sidecars.iter().map(|c| c.name.as_str());
    volumes.extend(p.opts.layout.volumes(p.step_dirs().chain(sidecars)));
    if p.f.workspace.is_some() {
        volumes.push(empty_dir("workspace"));
    }
    volumes
}

/// The `tools` volume: an emptyDir the init container copies the tools into,
/// or the tools' image itself (read-only, as every image volume is).
fn tools_volume(p: &Plan) -> Node {
    match p.opts.cluster.tools_from {
        ToolsFrom::Copy => empty_dir("tools"),
        ToolsFrom::Image => map(vec![
            ("name", s("tools")),
            ("image", map(vec![("reference", s(&p.f.tools)), ("pullPolicy", s("IfNotPresent"))])),
        ]),
    }
}

/// The init container: copies the tools into the `tools` volume: the
/// wrapper, and waitfor, which the steps of a sidecar's ready target wait
/// with and which `steps status` runs in a step (`waitfor --status`) to
/// read every step's files at once.
fn copy_tools(p: &Plan) -> Node {
    let command = ["/bin/copier", "/bin/entrypoint", "/bin/waitfor"].map(String::from);
    let mut command = command.to_vec();
    command.push(format!("{TOOLS_DIR}/"));
    let mut mounts = vec![mount("tools", TOOLS_DIR, false)];
    if p.wiring.join {
        // Podman 4.3 (the player of `--layout volumes`) makes a volume its
        // first user's: mounted here first, the join's is the tools' user's.
        mounts.extend(p.opts.layout.volume_of(END).map(|v| mount(&v, &dir(END), false)));
    }
    Container {
        name: COPY_TOOLS.to_string(),
        image: s(&p.f.tools),
        command,
        restart_always: false,
        fields: own_fields(),
        termination: None,
        mounts,
    }
    .into_node()
}

/// The container that marks the end of the work when it is more than one
/// step's end: `entrypoint --always` on those markers (see [`wiring`]).
fn join(p: &Plan) -> Node {
    let mut command = vec!["/bin/entrypoint".to_string(), "--always".to_string()];
    command.extend(p.wiring.finish.iter().map(|&i| format!("--wait={}", out(&p.dag.names[i]))));
    command.push(format!("--post-file={}", out(END)));
    command.push(format!("--termination-path={}", termination(END)));
    // the command: nothing to do but end ("/" exists)
    command.extend(["--", "/bin/waitfor", "/"].map(String::from));
    Container {
        name: END.to_string(),
        image: s(&p.f.tools),
        command,
        restart_always: false,
        fields: own_fields(),
        termination: Some(termination(END)),
        mounts: p.opts.layout.mounts(END, p.step_dirs()),
    }
    .into_node()
}

/// The fields of the tools' own containers: small explicit requests and
/// limits (a namespace's ResourceQuota admits them), and the Pod Security
/// "restricted" profile: no root, no privilege, no capability, the runtime's
/// seccomp profile, a read-only root.
fn own_fields() -> Vec<Entry> {
    let amounts = || map(vec![("cpu", s(OWN_CPU)), ("memory", s(OWN_MEMORY))]);
    let security = map(vec![
        ("runAsNonRoot", Node::new(Value::Bool(true))),
        ("runAsUser", Node::new(Value::Int(OWN_UID))),
        ("runAsGroup", Node::new(Value::Int(OWN_UID))),
        ("allowPrivilegeEscalation", Node::new(Value::Bool(false))),
        ("readOnlyRootFilesystem", Node::new(Value::Bool(true))),
        ("capabilities", map(vec![("drop", seq(vec![s("ALL")]))])),
        ("seccompProfile", map(vec![("type", s("RuntimeDefault"))])),
    ]);
    vec![
        entry("resources", map(vec![("requests", amounts()), ("limits", amounts())])),
        entry("securityContext", security),
    ]
}

/// A sidecar: stopped with `--stop-when` when the work is done, or native.
fn sidecar(p: &Plan, side: &Step) -> Node {
    let mut flags = Vec::new();
    let mut reads = Vec::new();
    if let Some(stop) = p.wiring.stop {
        flags.push(format!("--stop-when={}", out(p.end_name(stop))));
        reads.push(p.end_name(stop));
    }
    let wrap = Wrap { flags, ..Wrap::default() };
    let mut c = wrapped(p, side, wrap, reads, None);
    c.restart_always = p.opts.cluster.native_sidecars;
    c.into_node()
}

/// Step (or finally step) `i`: it waits for the steps before it and, when it
/// waits for none, for the sidecars' ready targets, while those sidecars live.
fn step(p: &Plan, i: usize, st: &Step) -> Node {
    let w = &p.wiring;
    let mut flags: Vec<String> =
        w.waits[i].iter().map(|&d| format!("--wait={}", out(&p.dag.names[d]))).collect();
    if w.always[i] {
        flags.push("--always".to_string());
    }
    let mut tail = vec![format!("--results-dir={}/results", dir(&st.name))];
    tail.extend(w.hold[i].iter().map(|&h| format!("--hold-until={}", out(p.end_name(h)))));
    let ready = if p.waits_ready[i] { p.ready.clone() } else { Vec::new() };
    // every step's directory, and the ready sidecars' it watches (taken only by `--layout volumes`)
    let watched: Vec<&str> = ready.iter().map(|c| c.name.as_str()).collect();
    let reads = p.step_dirs().chain(watched.iter().copied());
    let wrap = Wrap { ready, flags, tail };
    wrapped(p, st, wrap, reads, p.requests.get(i)).into_node()
}

/// How a command is wrapped: `waitfor` on the `ready` sidecars' targets first,
/// `flags` before the step's own files, `tail` after them.
#[derive(Default)]
struct Wrap<'a> {
    ready: Vec<&'a Step>,
    flags: Vec<String>,
    tail: Vec<String>,
}

/// A container as rendered: `steps`' own parts in a fixed order around the
/// fields the user wrote (or the tools' own).
struct Container {
    name: String,
    image: Node,
    command: Vec<String>,
    /// A native sidecar (`restartPolicy: Always`).
    restart_always: bool,
    fields: Vec<Entry>,
    termination: Option<String>,
    mounts: Vec<Node>,
}

impl Container {
    fn into_node(self) -> Node {
        let mut c = vec![
            entry("name", s(self.name)),
            entry("image", self.image),
            entry("command", strings(self.command)),
        ];
        if self.restart_always {
            c.push(entry("restartPolicy", s("Always")));
        }
        c.extend(self.fields);
        if let Some(t) = self.termination {
            c.push(entry("terminationMessagePath", s(t)));
        }
        c.push(entry("volumeMounts", seq(self.mounts)));
        Node::new(Value::Map(c))
    }
}

/// A step, finally step or sidecar: its fields as written, its command
/// wrapped; `reads` are the step directories it reads besides its own.
fn wrapped<'a>(
    p: &Plan,
    c: &Step,
    wrap: Wrap,
    reads: impl IntoIterator<Item = &'a str>,
    requests: Option<&Vec<(usize, Nanos)>>,
) -> Container {
    let image = c.fields.iter().find(|e| e.key == "image").map(|e| e.value.clone());
    let image = image.unwrap_or_else(|| s(p.f.image.as_deref().unwrap_or_default()));
    let mut fields = Vec::new();
    let mut user_mounts = Vec::new();
    for e in &c.fields {
        match e.key.as_str() {
            "image" => {}
            "volumeMounts" => user_mounts.extend(e.value.as_seq().unwrap_or_default().iter().cloned()),
            "resources" => fields.push(entry("resources", with_requests(&e.value, requests))),
            _ => fields.push(e.clone()),
        }
    }
    let mut mounts = vec![mount("tools", TOOLS_DIR, true)];
    mounts.extend(p.opts.layout.mounts(&c.name, reads));
    if let Some(w) = &p.f.workspace {
        mounts.push(mount("workspace", w, false));
    }
    mounts.extend(user_mounts);
    Container {
        name: c.name.clone(),
        image,
        command: wrapped_command(p, c, wrap),
        restart_always: false,
        fields,
        termination: Some(termination(&c.name)),
        mounts,
    }
}

/// `[waitfor --always --while-alive=P... TARGET... --] entrypoint
/// [--while-alive=P...] FLAGS... --post-file=... TAIL... -- PROGRAM`. A ready
/// wait whose sidecar ends first fails (`--while-alive`); waitfor goes on
/// (`--always`) so that the wrapper records the step as skipped (its own
/// `--while-alive`), and the skip cascades as any failure does.
fn wrapped_command(p: &Plan, c: &Step, wrap: Wrap) -> Vec<String> {
    let Wrap { ready, flags, tail } = wrap;
    let alive: Vec<String> = ready.iter().map(|r| format!("--while-alive={}", out(&r.name))).collect();
    let mut command = Vec::new();
    if !ready.is_empty() {
        command.push(p.tool("waitfor"));
        command.push("--always".to_string());
        command.extend(alive.iter().cloned());
        command.extend(ready.iter().filter_map(|r| r.ready.clone()));
        command.push("--".to_string());
    }
    command.push(p.tool("entrypoint"));
    command.extend(alive);
    command.extend(flags);
    if let Some(t) = &c.timeout {
        command.push(format!("--timeout={t}"));
    }
    if c.on_error_continue {
        command.push("--on-error=continue".to_string());
    }
    if let Some(n) = c.retries {
        command.push(format!("--retries={n}"));
        if let Some(d) = &c.retry_delay {
            command.push(format!("--retry-delay={d}"));
        }
    }
    command.push(format!("--post-file={}", out(&c.name)));
    command.push(format!("--termination-path={}", termination(&c.name)));
    command.extend(tail);
    command.push("--".to_string());
    command.extend(program(p, c));
    command
}

/// What the wrapper runs: `command:` as written (the kubelet's own rules
/// apply to it); a `run:` script for `sh -c`, or, when it starts with `#!`,
/// written to the step's directory and run by that interpreter.
fn program(p: &Plan, c: &Step) -> Vec<String> {
    match &c.program {
        Program::Command(argv) => argv.clone(),
        Program::Run(script) => vec!["sh".to_string(), "-c".to_string(), p.literal(script)],
        Program::Interpreted { interpreter, script } => {
            let mut argv = vec![
                "sh".to_string(),
                "-c".to_string(),
                p.literal(SCRIPT_LOADER),
                format!("{}/{SCRIPT_FILE}", dir(&c.name)),
                p.literal(script),
            ];
            argv.extend(interpreter.iter().map(|a| p.literal(a)));
            argv
        }
    }
}

/// When every container of the pod asks requests equal to its limits for CPU
/// and memory (a Guaranteed pod's containers do) and the sizing lowers a
/// step's, without pod-level resources: that step's line and what it means.
pub fn lost_guarantee(f: &File, dag: &Dag, cluster: Settings) -> Option<(usize, String)> {
    if cluster.pod_resources || !all_guaranteed(f) {
        return None;
    }
    let steps: Vec<&Step> = f.steps.iter().chain(&f.finally).collect();
    let sized = sized_requests(dag, &steps);
    steps.iter().zip(&sized).find_map(|(st, changes)| {
        let &(k, n) = changes.iter().find(|(k, _)| POD_LEVEL.contains(k))?;
        let line = st.fields.iter().find(|e| e.key == "resources").map_or(st.line, |e| e.line);
        Some((
            line,
            format!(
                "{} '{}': its requests equal its limits, as a Guaranteed pod's do, but are sized for what runs at once ({} {}): the pod is Burstable; --pod-resources (Kubernetes 1.34+) makes it Guaranteed",
                st.role.noun(),
                st.name,
                SIZED[k],
                amount_text(k, n)
            ),
        ))
    })
}

/// Whether every container the file gives (steps, finally steps, sidecars,
/// the pod's own init containers) asks requests equal to its limits for CPU
/// and memory, an unset request counting as its limit. The tools' own do.
fn all_guaranteed(f: &File) -> bool {
    let equal = |a: &Amount| a.limit.is_some() && a.request.is_none_or(|r| Some(r) == a.limit);
    let steps = f.steps.iter().chain(&f.finally).chain(&f.sidecars);
    let init = user_init_containers(f);
    steps.into_iter().all(|st| POD_LEVEL.iter().all(|&k| equal(&st.resources[k])))
        && init.iter().all(|c| POD_LEVEL.iter().all(|&k| equal(&amount(c, SIZED[k]))))
}

/// The pod's own init containers, as written in `pod.initContainers`.
fn user_init_containers(f: &File) -> Vec<&Node> {
    let lists = f.pod.iter().filter(|e| e.key == "initContainers");
    lists.flat_map(|e| e.value.as_seq().unwrap_or_default().iter()).collect()
}

/// A container's request and limit of `resource`, as written in its node
/// (a quantity that does not parse counts as absent: `check` told it).
fn amount(c: &Node, resource: &str) -> Amount {
    let of = |kind: &str| {
        let q = c.get("resources")?.get(kind)?.get(resource)?.scalar_text()?;
        quantity::parse(&q)
    };
    Amount { request: of("requests"), limit: of("limits") }
}

/// `spec.resources` of a pod that asks for its CPU and memory as a whole
/// (pod-level resources, KEP 2837, Kubernetes 1.34+): the requests are what
/// its containers, as rendered, ask for in all (the sizing has made that what
/// can run at once), so that no container asks past the pod; when every
/// container asks requests equal to limits, limits equal to those requests,
/// which makes the pod Guaranteed (a pod with `spec.resources` is Guaranteed
/// only when its own requests equal its own limits; without them 1.36+
/// defaults its limits to the sum of the containers'). `None` when the pod
/// asks for nothing.
fn pod_resources(f: &File, init: &[Node], containers: &[Node]) -> Option<Node> {
    let requests: Vec<(&str, Node)> = POD_LEVEL
        .iter()
        .map(|&k| (k, effective_request(init, containers, SIZED[k])))
        .filter(|&(_, n)| n > 0)
        .map(|(k, n)| (SIZED[k], s(amount_text(k, n))))
        .collect();
    if requests.is_empty() {
        return None;
    }
    let mut resources = vec![("requests", map(requests.clone()))];
    if all_guaranteed(f) {
        resources.push(("limits", map(requests)));
    }
    Some(map(resources))
}

/// What a pod asks for of `resource` (the rule of KEP 753): the most any
/// init container asks while the native sidecars before it run, or what the
/// containers and all native sidecars ask together. An unset request counts
/// as its limit.
fn effective_request(init: &[Node], containers: &[Node], resource: &str) -> Nanos {
    let weight = |c: &Node| amount(c, resource).weight();
    let (mut sidecars, mut most) = (0, 0);
    for c in init {
        if c.get("restartPolicy").and_then(Node::as_str) == Some("Always") {
            sidecars += weight(c);
        } else {
            most = most.max(sidecars + weight(c));
        }
    }
    most.max(sidecars + containers.iter().map(weight).sum::<Nanos>())
}

/// A quantity of `SIZED[k]`, as Kubernetes writes it.
fn amount_text(k: usize, n: Nanos) -> String {
    if SIZED[k] == "cpu" {
        quantity::format_cpu(n)
    } else {
        quantity::format(n)
    }
}

/// With pod-level resources on, the pod's resources are `steps`' own: one the
/// file gives in `pod:` is a problem.
pub fn pod_resources_given(f: &File, cluster: Settings) -> Option<Problem> {
    let e = f.pod.iter().find(|e| e.key == "resources").filter(|_| cluster.pod_resources)?;
    Some(Problem {
        line: e.line,
        what: "pod.resources: steps sets them with pod-level resources on (remove them, or set podResources: false)"
            .to_string(),
    })
}

/// `resources` with the sized requests put in (the rest as written).
fn with_requests(resources: &Node, sized: Option<&Vec<(usize, Nanos)>>) -> Node {
    let Some(sized) = sized.filter(|v| !v.is_empty()) else { return resources.clone() };
    let mut r = resources.clone();
    let Value::Map(entries) = &mut r.value else { return r };
    if !entries.iter().any(|e| e.key == "requests") {
        let at = entries.iter().position(|e| e.key == "limits").unwrap_or(entries.len());
        entries.insert(at, entry("requests", map(vec![])));
    }
    for e in entries.iter_mut() {
        if e.key != "requests" {
            continue;
        }
        let Value::Map(req) = &mut e.value.value else { continue };
        for &(k, n) in sized {
            let text = amount_text(k, n);
            match req.iter_mut().find(|x| x.key == SIZED[k]) {
                Some(x) => x.value = Node { line: x.value.line, value: Value::Str(text) },
                None => req.push(entry(SIZED[k], s(text))),
            }
        }
    }
    r
}

/// For each step: the requests to set (resource index into `SIZED`, amount),
/// so that the pod's total for each resource is what its widest set of steps
/// that can run at once asks for (plus the sidecars, as written). The steps'
/// requests are scaled by one factor, so that their relative weights (CPU
/// shares) stay as written; none exceeds its limit, as none grows.
fn sized_requests(dag: &Dag, steps: &[&Step]) -> Vec<Vec<(usize, Nanos)>> {
    let mut out = vec![Vec::new(); steps.len()];
    let edges = dag.order_edges();
    for (k, resource) in SIZED.iter().enumerate() {
        let weights: Vec<Nanos> = steps.iter().map(|s| s.resources[k].weight()).collect();
        let total: Nanos = weights.iter().sum();
        let (widest, _) = max_weight_antichain(&weights, &edges);
        if widest >= total {
            continue;
        }
        // whole units where every weight is whole (memory in bytes), else milli
        let unit: Nanos = if *resource != "cpu" && weights.iter().all(|w| w % 1_000_000_000 == 0) {
            1_000_000_000
        } else if weights.iter().all(|w| w % 1_000_000 == 0) {
            1_000_000
        } else {
            1
        };
        let scaled = scale(&weights.iter().map(|w| w / unit).collect::<Vec<_>>(), widest / unit);
        for (i, (&w, r)) in weights.iter().zip(scaled).enumerate() {
            let r = r * unit;
            let amount = steps[i].resources[k];
            // an unset request is its limit: leave it so when that is the answer
            let unchanged = amount.request == Some(r) || (amount.request.is_none() && r == w);
            if w > 0 && !unchanged {
                out[i].push((k, r));
            }
        }
    }
    out
}

/// `w` scaled to sum to `target` (≤ its sum): floors, then one more unit for
/// the largest remainders (never above a weight).
fn scale(w: &[u128], target: u128) -> Vec<u128> {
    let total: u128 = w.iter().sum();
    if total == 0 {
        return w.to_vec();
    }
    let mut r: Vec<u128> = w.iter().map(|&x| x * target / total).collect();
    let mut left = target - r.iter().sum::<u128>();
    let mut by_remainder: Vec<usize> = (0..w.len()).collect();
    by_remainder.sort_by_key(|&i| (std::cmp::Reverse(w[i] * target % total), i));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        if r[i] < w[i] {
            r[i] += 1;
            left -= 1;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_the_sum_and_the_limits() {
        assert_eq!(scale(&[1000, 1000, 1000], 2000), [667, 667, 666]);
        assert_eq!(scale(&[500, 0, 1500], 1500), [375, 0, 1125]);
        assert_eq!(scale(&[3, 3, 3], 3), [1, 1, 1]);
        assert_eq!(scale(&[1, 1, 1], 2), [1, 1, 0]);
        for (w, t) in [(vec![7u128, 1, 1, 9], 9u128), (vec![5, 5], 5), (vec![1, 2, 3, 4, 5], 6)] {
            let r = scale(&w, t);
            assert_eq!(r.iter().sum::<u128>(), t);
            assert!(r.iter().zip(&w).all(|(a, b)| a <= b));
        }
    }
}
