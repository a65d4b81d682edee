//! The API server's rules that a line of the file can be pointed at
//! (docs/steps.md), checked before any rendering: what it would refuse,
//! `check` refuses first, one line each.
//!
//! - the keys of a step, finally step or sidecar: `steps`' own and the
//!   Container fields of the newest API `steps` knows ([`container_fields`],
//!   generated), with a suggestion for a misspelling;
//! - `env` values that are not strings;
//! - volumes: duplicate names, mounts of undeclared volumes, mount paths twice
//!   in a container (after the runtime's normalising: `//a`, `/./a`, `/a/`);
//! - the pod's own init containers: names taken by the tools' or twice;
//! - `activeDeadlineSeconds` within 1 and 2^32 - 1;
//! - a sidecar's ready path where the steps that wait for it can see it.

use crate::container_fields::{CONTAINER_FIELDS, KUBERNETES};
use crate::document::{kind, Node, Value};
use crate::stepsfile::{is_own_volume, File, Problems, Role, Step, COPY_TOOLS, END, STEPS_DIR};

/// `steps`' own keys of a step, finally step or sidecar (`ready`: sidecars
/// only; `retries`, `retryDelay`: steps and finally steps only).
pub const OWN_KEYS: [&str; 8] =
    ["name", "needs", "run", "onError", "timeout", "ready", "retries", "retryDelay"];
/// The API's bound on `activeDeadlineSeconds`.
pub const MAX_DEADLINE: u64 = u32::MAX as u64;

/// Every rule of this module, over the whole file.
pub fn check(f: &File, p: &mut Problems) {
    for s in f.steps.iter().chain(&f.finally).chain(&f.sidecars) {
        unknown_keys(s, p);
        env_values(s, p);
    }
    let declared = declared_volumes(f, p);
    for s in f.steps.iter().chain(&f.finally).chain(&f.sidecars) {
        mounts(f, s, &declared, p);
    }
    init_containers(f, p);
    deadline(f, p);
    for side in &f.sidecars {
        ready_visible(f, side, p);
    }
}

/// The suggestion for a key that is not one: the same but for case, or the
/// nearest within two edits.
pub fn suggest<'a>(key: &str, known: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'a str> {
    if let Some(k) = known.clone().into_iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some(k);
    }
    let lower = key.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edits(&lower, &k.to_ascii_lowercase()), k))
        .filter(|&(d, k)| d <= 2 && d < k.len().min(key.len()))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance (Levenshtein with transpositions).
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i;
        }
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

fn what(s: &Step) -> String {
    format!("{} '{}'", s.role.noun(), s.name)
}

/// `steps`' own keys that a `role`'s entry takes: `needs` steps only, `ready`
/// sidecars only, `onError`, `retries` and `retryDelay` not sidecars (the
/// others are refused with the reason, [`crate::stepsfile`]).
pub fn own_keys(role: Role) -> impl Iterator<Item = &'static str> {
    OWN_KEYS.into_iter().filter(move |k| match role {
        Role::Step => *k != "ready",
        Role::Finally => !matches!(*k, "ready" | "needs"),
        Role::Sidecar => !matches!(*k, "needs" | "onError" | "retries" | "retryDelay"),
    })
}

/// Every key a `role`'s entry may have: its own ([`own_keys`]) and the
/// Container fields; `steps schema` lists the same.
pub fn keys(role: Role) -> impl Iterator<Item = &'static str> {
    own_keys(role).chain(CONTAINER_FIELDS)
}

/// A Container field that `steps` sets itself in a `role`'s container, and
/// to what: the file may not give it.
pub fn set_by_steps(role: Role, key: &str) -> Option<String> {
    match (role, key) {
        (_, "terminationMessagePath") => Some(format!("to {STEPS_DIR}/NAME/termination")),
        (Role::Sidecar, "restartPolicy") => Some("Always with --native-sidecars".to_string()),
        // The API server takes a container's restartPolicy on init containers only.
        (_, "restartPolicy") => {
            Some("the pod's Never; Kubernetes refuses it on a step's container".to_string())
        }
        _ => None,
    }
}

/// Keys that are neither `steps`' own nor a Container field.
fn unknown_keys(s: &Step, p: &mut Problems) {
    let known: Vec<&str> = keys(s.role).collect();
    for e in &s.fields {
        if known.contains(&e.key.as_str()) {
            continue;
        }
        let hint = match suggest(&e.key, known.iter().copied()) {
            Some(k) => format!("did you mean '{k}'?"),
            None => format!("neither steps' own nor a Container field of Kubernetes {KUBERNETES}"),
        };
        p.add(e.line, format!("{}: unknown key '{}' ({hint})", what(s), e.key));
    }
}

/// `env: [{name: A, value: ...}]`: a value is a string, never a number or a boolean.
fn env_values(s: &Step, p: &mut Problems) {
    let Some(env) = s.fields.iter().find(|e| e.key == "env") else { return };
    for item in env.value.as_seq().unwrap_or_default() {
        let Some(value) = item.get("value") else { continue };
        if matches!(value.value, Value::Str(_) | Value::Null) {
            continue;
        }
        let name = item.get("name").and_then(Node::as_str).unwrap_or("?");
        p.add(
            value.line,
            format!(
                "{}: env '{name}': value must be a string: quote it (found {})",
                what(s),
                kind(&value.value)
            ),
        );
    }
}

/// The names of `pod.volumes`, each once (a second is a problem).
fn declared_volumes(f: &File, p: &mut Problems) -> Vec<String> {
    let mut names: Vec<(String, usize)> = Vec::new();
    let volumes =
        f.pod.iter().filter(|e| e.key == "volumes").flat_map(|e| e.value.as_seq().unwrap_or_default());
    for v in volumes {
        let Some(name) = v.get("name").and_then(Node::as_str) else { continue };
        match names.iter().find(|(n, _)| n == name) {
            Some((_, first)) => {
                p.add(v.line, format!("pod.volumes: duplicate name '{name}' (first at line {first})"))
            }
            None => names.push((name.to_string(), v.line)),
        }
    }
    names.into_iter().map(|(n, _)| n).collect()
}

/// A path as the runtime mounts it: `//a/./b/` is `/a/b`; `..` taken away lexically.
pub fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A step's own mounts: of declared volumes, each path once.
fn mounts(f: &File, s: &Step, declared: &[String], p: &mut Problems) {
    let Some(list) = s.fields.iter().find(|e| e.key == "volumeMounts").and_then(|e| e.value.as_seq()) else {
        return;
    };
    let mut seen: Vec<(String, usize)> = Vec::new();
    for m in list {
        if let Some(name) = m.get("name").and_then(Node::as_str) {
            // (the tools' own volumes have their problem already)
            if !declared.iter().any(|d| d == name) && !is_own_volume(f, name) {
                p.add(
                    m.line,
                    format!("{}: volumeMounts: no volume '{name}' (declare it in pod.volumes)", what(s)),
                );
            }
        }
        let Some(path) = m.get("mountPath").and_then(Node::as_str) else { continue };
        let norm = normalise(path);
        match seen.iter().find(|(n, _)| *n == norm) {
            Some((_, first)) => p.add(
                m.line,
                format!("{}: volumeMounts: '{path}' is mounted twice (first at line {first})", what(s)),
            ),
            None => seen.push((norm, m.line)),
        }
    }
}

/// The pod's own init containers: not named like the tools' containers, nor twice.
fn init_containers(f: &File, p: &mut Problems) {
    let list =
        f.pod.iter().filter(|e| e.key == "initContainers").flat_map(|e| e.value.as_seq().unwrap_or_default());
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for c in list {
        let Some(name) = c.get("name").and_then(Node::as_str) else { continue };
        if name == COPY_TOOLS || name == END {
            p.add(
                c.line,
                format!("pod.initContainers: '{name}' is the name of one of the tools' own containers"),
            );
        } else if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            p.add(c.line, format!("pod.initContainers: duplicate name '{name}' (first at line {first})"));
        } else {
            seen.push((name, c.line));
        }
    }
}

/// `pod.activeDeadlineSeconds`, as the file's `timeout` is checked where it is read.
fn deadline(f: &File, p: &mut Problems) {
    let Some(e) = f.pod.iter().find(|e| e.key == "activeDeadlineSeconds") else { return };
    let ok = matches!(e.value.value, Value::Int(n) if (1..=i128::from(MAX_DEADLINE)).contains(&n));
    if !ok {
        p.add(
            e.value.line,
            format!("pod.activeDeadlineSeconds: expected a whole number of seconds from 1 to {MAX_DEADLINE}"),
        );
    }
}

/// A ready path (a file, or a `unix://` socket) must be where the steps that
/// wait for it see what the sidecar sees: in the sidecar's own directory, the
/// workspace, or a volume mounted at the same place in the sidecar and in
/// every step that waits for it (the steps that wait for no step).
fn ready_visible(f: &File, side: &Step, p: &mut Problems) {
    let Some(target) = side.ready.as_deref() else { return };
    if crate::target::check_ready(target).is_err() {
        return; // its one problem is the target's own, said where it is read
    }
    let written = match target.strip_prefix("unix://") {
        Some(path) => path,
        None if target.starts_with('/') => target,
        None => return,
    };
    let path = normalise(written);
    let inside = |dir: &str| path.starts_with(&format!("{}/", normalise(dir)));
    let own = format!("{STEPS_DIR}/{}", side.name);
    if inside(&own) || f.workspace.as_deref().is_some_and(inside) {
        return;
    }
    let shared = user_mounts(side).into_iter().filter(|m| inside(&m.1)).any(|m| {
        let waiters = f.steps.iter().enumerate().filter(|(i, s)| waits_for_no_step(*i, s));
        waiters.into_iter().all(|(_, s)| user_mounts(s).contains(&m))
    });
    if !shared {
        let line = side.ready_line;
        p.add(
            line,
            format!(
                "{}: ready: '{target}' is where only the sidecar sees it (give a path in {own}/, the workspace, or a volume mounted in the sidecar and in the steps that wait for it)",
                what(side)
            ),
        );
    }
}

/// The steps that wait for the sidecars' ready targets: those that wait for no step.
fn waits_for_no_step(i: usize, s: &Step) -> bool {
    match &s.needs {
        Some(needs) => needs.is_empty(),
        None => i == 0,
    }
}

/// A container's own mounts: (volume, normalised mount path, subPath).
fn user_mounts(s: &Step) -> Vec<(String, String, String)> {
    let list = s
        .fields
        .iter()
        .filter(|e| e.key == "volumeMounts")
        .flat_map(|e| e.value.as_seq().unwrap_or_default());
    list.filter_map(|m| {
        let name = m.get("name")?.as_str()?.to_string();
        let path = normalise(m.get("mountPath")?.as_str()?);
        let sub = m.get("subPath").and_then(Node::as_str).unwrap_or_default().to_string();
        Some((name, path, sub))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `own_keys` says a role takes is what reading the file accepts.
    #[test]
    fn own_keys_are_what_each_role_takes() {
        let value = |k: &str| match k {
            "needs" => "[]",
            "onError" => "continue",
            "timeout" | "retryDelay" => "5s",
            "ready" => "tcp://127.0.0.1:80",
            "retries" => "1",
            _ => "x",
        };
        for (role, list) in [(Role::Step, "steps"), (Role::Finally, "finally"), (Role::Sidecar, "sidecars")] {
            for key in OWN_KEYS.iter().filter(|k| !matches!(**k, "name" | "run")) {
                let other = if role == Role::Step { "finally" } else { "steps" };
                // (retryDelay goes with retries)
                let also = if *key == "retryDelay" { ", retries: 1" } else { "" };
                let text = format!(
                    "name: x\nimage: i\n{other}: [{{name: s, run: s}}]\n{list}:\n  - {{name: a, run: a, {key}: {}{also}}}\n",
                    value(key)
                );
                let mut p = Problems::default();
                crate::stepsfile::read(&crate::document::parse(&text).unwrap(), &mut p);
                let refused = p.sorted().iter().any(|x| x.line == 5);
                assert_eq!(refused, !own_keys(role).any(|k| k == *key), "{list}: {key}");
            }
        }
    }

    #[test]
    fn suggestions() {
        let known = ["name", "needs", "run", "onError", "timeout", "env", "resources", "image"];
        assert_eq!(suggest("timout", known), Some("timeout"));
        assert_eq!(suggest("onerror", known), Some("onError"));
        assert_eq!(suggest("Run", known), Some("run"));
        assert_eq!(suggest("imgae", known), Some("image"));
        assert_eq!(suggest("resource", known), Some("resources"));
        assert_eq!(suggest("xyz", known), None);
        assert_eq!(suggest("ab", known), None);
    }

    #[test]
    fn paths_as_the_runtime_mounts_them() {
        for (a, b) in
            [("//tools", "/tools"), ("/./steps", "/steps"), ("/a/b/", "/a/b"), ("/a/../b", "/b"), ("/", "/")]
        {
            assert_eq!(normalise(a), b, "{a}");
        }
    }
}
