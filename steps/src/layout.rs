//! Where each container's own directory `/steps/NAME/` comes from: the
//! volumes and mounts of the step directories (docs/steps.md).
//!
//! - `subpath` (the default): one emptyDir `steps`, mounted read-only at
//!   `/steps` in every wrapped container, and the container's own directory
//!   mounted read-write over it with `subPath: NAME`. Two mounts a container:
//!   the rendering grows linearly with the steps.
//! - `volumes`: an emptyDir `step-NAME` for each directory, mounted read-write
//!   in its container and read-only in every other that reads it. Podman 4.3
//!   ignores `subPath` on an emptyDir, so the pod tests and `make demo` play
//!   this one; its size grows with the square of the steps.
//!
//! Either way a container can write its own directory only, and read the
//! others': no step can forge another's marker.

use crate::document::{Node, Value};
use crate::stepsfile::{STEPS_DIR, STEPS_VOLUME, VOLUME_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Subpath,
    Volumes,
}

/// `/steps/NAME`.
pub fn dir(name: &str) -> String {
    format!("{STEPS_DIR}/{name}")
}

/// A volume mount.
pub fn mount(volume: &str, path: &str, read_only: bool) -> Node {
    let mut m = vec![entry("name", Node::str(volume)), entry("mountPath", Node::str(path))];
    if read_only {
        m.push(entry("readOnly", Node::new(Value::Bool(true))));
    }
    Node::new(Value::Map(m))
}

fn entry(key: &str, value: Node) -> crate::document::Entry {
    crate::document::Entry { key: key.to_string(), line: 0, value }
}

/// An emptyDir volume.
pub fn empty_dir(name: &str) -> Node {
    Node::new(Value::Map(vec![
        entry("name", Node::str(name)),
        entry("emptyDir", Node::new(Value::Map(vec![]))),
    ]))
}

impl Layout {
    /// The mounts of the container whose own directory is `/steps/OWN`, that
    /// reads the directories `reads` (the `volumes` layout mounts those; in
    /// `subpath` every directory can be read).
    pub fn mounts<'a>(self, own: &str, reads: impl IntoIterator<Item = &'a str>) -> Vec<Node> {
        match self {
            Layout::Subpath => {
                let own_dir = Node::new(Value::Map(vec![
                    entry("name", Node::str(STEPS_VOLUME)),
                    entry("mountPath", Node::str(dir(own))),
                    entry("subPath", Node::str(own)),
                ]));
                vec![mount(STEPS_VOLUME, STEPS_DIR, true), own_dir]
            }
            Layout::Volumes => {
                let mut out = vec![mount(&format!("{VOLUME_PREFIX}{own}"), &dir(own), false)];
                out.extend(
                    reads
                        .into_iter()
                        .filter(|d| *d != own)
                        .map(|d| mount(&format!("{VOLUME_PREFIX}{d}"), &dir(d), true)),
                );
                out
            }
        }
    }

    /// The volume that is the directory `/steps/NAME` alone, in a layout that has one.
    pub fn volume_of(self, name: &str) -> Option<String> {
        match self {
            Layout::Subpath => None,
            Layout::Volumes => Some(format!("{VOLUME_PREFIX}{name}")),
        }
    }

    /// The volumes of the step directories `dirs`.
    pub fn volumes<'a>(self, dirs: impl IntoIterator<Item = &'a str>) -> Vec<Node> {
        match self {
            Layout::Subpath => vec![empty_dir(STEPS_VOLUME)],
            Layout::Volumes => dirs.into_iter().map(|d| empty_dir(&format!("{VOLUME_PREFIX}{d}"))).collect(),
        }
    }
}
