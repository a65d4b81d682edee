//! The Pod (or Job) that runs a checked steps file: what an expert would
//! write by hand (DESIGN.md section 7).
//!
//! - one init container copies the tools into the `tools` emptyDir, mounted
//!   read-only everywhere else;
//! - each wrapped container has a directory `/steps/NAME/` of its own (an
//!   emptyDir `step-NAME`), mounted read-write in it and read-only in every
//!   step: its marker `out`, its termination message and its results are there,
//!   where no other container can forge them, and a waiter wakes only for the
//!   step it waits for;
//! - each command wrapped in `entrypoint` with the step files of [`wiring`];
//! - requests sized for what can run at once ([`antichain`]).

use crate::antichain::max_weight_antichain;
use crate::dag::Dag;
use crate::document::{Entry, Node, Value};
use crate::quantity::{self, Nanos};
use crate::stepsfile::{File, Program, Step, COPY_TOOLS, END, SIZED, STEPS_DIR, TOOLS_DIR, VOLUME_PREFIX};
use crate::wiring::wire;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Job,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub kind: Kind,
    /// Sidecars as `initContainers` with `restartPolicy: Always` (Kubernetes 1.29+).
    pub native_sidecars: bool,
}

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

fn dir(name: &str) -> String {
    format!("{STEPS_DIR}/{name}")
}

fn out(name: &str) -> String {
    format!("{STEPS_DIR}/{name}/out")
}

fn mount(name: &str, path: &str, read_only: bool) -> Node {
    let mut m = vec![("name", s(name)), ("mountPath", s(path))];
    if read_only {
        m.push(("readOnly", Node::new(Value::Bool(true))));
    }
    map(m)
}

/// The rendered Pod or Job.
pub fn render(f: &File, dag: &Dag, opts: Options) -> Node {
    let stop_sidecars = !f.sidecars.is_empty() && !opts.native_sidecars;
    let w = wire(dag, f.hold, stop_sidecars);
    let steps: Vec<&Step> = f.steps.iter().chain(&f.finally).collect();
    let requests = sized_requests(dag, &steps);
    // every step's directory, read-only, for every step (and the join)
    let mut step_dirs: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
    if w.join {
        step_dirs.push(END.to_string());
    }
    let ready: Vec<String> = f.sidecars.iter().filter_map(|c| c.ready.clone()).collect();
    let name_of = |t: Option<usize>| t.map_or(END, |i| dag.names[i].as_str()).to_string();

    let mut containers = Vec::new();
    let mut init = vec![copy_tools(f, !ready.is_empty())];
    // native sidecars start after the pod's own init containers, as wrapped ones do
    let mut native = Vec::new();
    for side in &f.sidecars {
        let mut flags = Vec::new();
        if let Some(stop) = w.stop {
            flags.push(format!("--stop-when={}", out(&name_of(stop))));
        }
        let mut mounts = vec![mount(&format!("{VOLUME_PREFIX}{}", side.name), &dir(&side.name), false)];
        if let Some(stop) = w.stop {
            let n = name_of(stop);
            mounts.push(mount(&format!("{VOLUME_PREFIX}{n}"), &dir(&n), true));
        }
        let mut c = container(f, side, Wrap { flags, ..Wrap::default() }, mounts, None);
        if opts.native_sidecars {
            // after name, image and command
            c.insert(3, entry("restartPolicy", s("Always")));
            native.push(Node::new(Value::Map(c)));
        } else {
            containers.push(Node::new(Value::Map(c)));
        }
    }
    for (i, step) in steps.iter().enumerate() {
        let mut flags: Vec<String> =
            w.waits[i].iter().map(|&d| format!("--wait={}", out(&dag.names[d]))).collect();
        if w.always[i] {
            flags.push("--always".to_string());
        }
        let mut tail = vec![format!("--results-dir={}/results", dir(&step.name))];
        tail.extend(w.hold[i].iter().map(|&h| format!("--hold-until={}", out(&name_of(h)))));
        let waits_ready = w.ready_waiters.contains(&i);
        let waitfor = if waits_ready { ready.clone() } else { Vec::new() };
        let mut mounts: Vec<Node> = step_dirs
            .iter()
            .map(|d| mount(&format!("{VOLUME_PREFIX}{d}"), &dir(d), *d != step.name))
            .collect();
        // A ready target in a sidecar's own directory (a file, a unix socket)
        // must be visible to the steps that wait for it: read-only.
        for side in f.sidecars.iter().filter(|_| waits_ready) {
            let own = dir(&side.name);
            let inside = |t: &str| t.strip_prefix("unix://").unwrap_or(t).starts_with(&format!("{own}/"));
            if side.ready.as_deref().is_some_and(inside) {
                mounts.push(mount(&format!("{VOLUME_PREFIX}{}", side.name), &own, true));
            }
        }
        let c = container(f, step, Wrap { waitfor, flags, tail }, mounts, requests.get(i));
        containers.push(Node::new(Value::Map(c)));
    }
    if w.join {
        let waits = w.finish.iter().map(|&i| format!("--wait={}", out(&dag.names[i])));
        let mut command = vec!["/bin/entrypoint".to_string(), "--always".to_string()];
        command.extend(waits);
        command.push(format!("--post-file={}", out(END)));
        command.push(format!("--termination-path={}/termination", dir(END)));
        // the command: nothing to do but end ("/" exists)
        command.extend(["--", "/bin/waitfor", "/"].map(String::from));
        let mounts =
            step_dirs.iter().map(|d| mount(&format!("{VOLUME_PREFIX}{d}"), &dir(d), d != END)).collect();
        containers.push(map(vec![
            ("name", s(END)),
            ("image", s(&f.tools)),
            ("command", seq(command.into_iter().map(s).collect())),
            ("securityContext", own_security()),
            ("terminationMessagePath", s(format!("{}/termination", dir(END)))),
            ("volumeMounts", seq(mounts)),
        ]));
    }

    let mut volumes = vec![map(vec![("name", s("tools")), ("emptyDir", map(vec![]))])];
    for n in step_dirs.iter().chain(f.sidecars.iter().map(|c| &c.name)) {
        volumes.push(map(vec![("name", s(format!("{VOLUME_PREFIX}{n}"))), ("emptyDir", map(vec![]))]));
    }
    if f.workspace.is_some() {
        volumes.push(map(vec![("name", s("workspace")), ("emptyDir", map(vec![]))]));
    }

    let mut spec = vec![entry("restartPolicy", s("Never"))];
    if let Some(secs) = f.deadline {
        spec.push(entry("activeDeadlineSeconds", Node::new(Value::Int(i128::from(secs)))));
    }
    for e in &f.pod {
        match e.key.as_str() {
            "restartPolicy" => {}
            "initContainers" => init.extend(e.value.as_seq().unwrap_or_default().iter().cloned()),
            "volumes" => volumes.extend(e.value.as_seq().unwrap_or_default().iter().cloned()),
            _ => spec.push(e.clone()),
        }
    }
    init.append(&mut native);
    spec.push(entry("initContainers", seq(init)));
    spec.push(entry("containers", seq(containers)));
    spec.push(entry("volumes", seq(volumes)));
    let spec = Node::new(Value::Map(spec));

    let mut metadata = vec![entry("name", s(&f.name))];
    metadata.extend(f.metadata.iter().filter(|e| e.key != "name").cloned());
    match opts.kind {
        Kind::Pod => map(vec![
            ("apiVersion", s("v1")),
            ("kind", s("Pod")),
            ("metadata", Node::new(Value::Map(metadata))),
            ("spec", spec),
        ]),
        Kind::Job => {
            let mut job = Vec::new();
            if !f.job.iter().any(|e| e.key == "backoffLimit") {
                // a failed DAG is not re-run whole
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
                ("metadata", Node::new(Value::Map(metadata))),
                ("spec", Node::new(Value::Map(job))),
            ])
        }
    }
}

/// The init container: copies the tools (waitfor too when the steps wait for
/// a sidecar) into the `tools` volume.
fn copy_tools(f: &File, waitfor: bool) -> Node {
    let mut command = vec![s("/bin/copier"), s("/bin/entrypoint")];
    if waitfor {
        command.push(s("/bin/waitfor"));
    }
    command.push(s(format!("{TOOLS_DIR}/")));
    map(vec![
        ("name", s(COPY_TOOLS)),
        ("image", s(&f.tools)),
        ("command", seq(command)),
        ("securityContext", own_security()),
        ("volumeMounts", seq(vec![mount("tools", TOOLS_DIR, false)])),
    ])
}

/// The tools' own containers need no privilege, no capability, no writable root.
fn own_security() -> Node {
    map(vec![
        ("allowPrivilegeEscalation", Node::new(Value::Bool(false))),
        ("readOnlyRootFilesystem", Node::new(Value::Bool(true))),
        ("capabilities", map(vec![("drop", seq(vec![s("ALL")]))])),
    ])
}

/// How a command is wrapped: `waitfor TARGET... --` first (the sidecars'
/// ready targets), `flags` before the step's own files, `tail` after them.
#[derive(Default)]
struct Wrap {
    waitfor: Vec<String>,
    flags: Vec<String>,
    tail: Vec<String>,
}

/// A step, finally step or sidecar: its fields as written, its command wrapped.
fn container(
    f: &File,
    c: &Step,
    wrap: Wrap,
    mut mounts: Vec<Node>,
    requests: Option<&Vec<(usize, Nanos)>>,
) -> Vec<Entry> {
    let Wrap { waitfor, flags, tail } = wrap;
    let mut command = Vec::new();
    if !waitfor.is_empty() {
        command.push(format!("{TOOLS_DIR}/waitfor"));
        command.extend(waitfor);
        command.push("--".to_string());
    }
    command.push(format!("{TOOLS_DIR}/entrypoint"));
    command.extend(flags);
    if let Some(t) = &c.timeout {
        command.push(format!("--timeout={t}"));
    }
    if c.on_error_continue {
        command.push("--on-error=continue".to_string());
    }
    command.push(format!("--post-file={}", out(&c.name)));
    command.push(format!("--termination-path={}/termination", dir(&c.name)));
    command.extend(tail);
    command.push("--".to_string());
    match &c.program {
        Program::Run(script) => command.extend(["sh".to_string(), "-c".to_string(), script.clone()]),
        Program::Command(argv) => command.extend(argv.iter().cloned()),
    }

    let mut fields = vec![entry("name", s(&c.name))];
    let image = c.fields.iter().find(|e| e.key == "image").map(|e| e.value.clone());
    fields.push(entry("image", image.unwrap_or_else(|| s(f.image.as_deref().unwrap_or_default()))));
    fields.push(entry("command", seq(command.into_iter().map(s).collect())));
    let mut user_mounts = Vec::new();
    for e in &c.fields {
        match e.key.as_str() {
            "image" => {}
            "volumeMounts" => user_mounts.extend(e.value.as_seq().unwrap_or_default().iter().cloned()),
            "resources" => fields.push(entry("resources", with_requests(&e.value, requests))),
            _ => fields.push(e.clone()),
        }
    }
    fields.push(entry("terminationMessagePath", s(format!("{}/termination", dir(&c.name)))));
    let mut all = vec![mount("tools", TOOLS_DIR, true)];
    all.append(&mut mounts);
    if let Some(w) = &f.workspace {
        all.push(mount("workspace", w, false));
    }
    all.extend(user_mounts);
    fields.push(entry("volumeMounts", seq(all)));
    fields
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
            let text = if SIZED[k] == "cpu" { quantity::format_cpu(n) } else { quantity::format(n) };
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
