//! `steps schema`: the steps file as a JSON Schema (draft 2020-12), for
//! editors that complete and check YAML with one (yaml-language-server reads
//! `# yaml-language-server: $schema=steps.schema.json` at the top of a file)
//! and for validators.
//!
//! It says what `check` reads, from the same sources: [`OWN`] describes
//! `steps`' own keys (unit tests hold its keys to `stepsfile::TOP_KEYS` and to
//! `apirules::own_keys` of each kind of entry); the Container fields of every
//! step, finally step and sidecar (`apirules::keys`, those `steps` sets itself
//! refused as `check` refuses them) and the fields of `pod`, `job` and
//! `metadata` come with their Kubernetes types from the one generated source,
//! [`crate::container_fields`], as strict as the API server (no unknown fields).
//! The schema checks keys, types and the form of each value; what needs the
//! whole file (a cycle, an unknown need, a name twice, where a ready path can
//! be seen, a request above its limit) is `check`'s alone.
//!
//! Editors evaluate draft-07 whatever a schema declares, so the schema keeps
//! to keywords that mean the same in both: `if`/`then` rather than
//! `dependentRequired`, and no `$ref` beside a keyword that matters.

use crate::apirules;
use crate::container_fields::{
    CONTAINER, CONTAINER_FIELDS, JOB_SPEC, KUBERNETES, OBJECT_META, POD_SPEC, TYPES,
};
use crate::document::{self, Entry, Node, Value};
use crate::emit;
use crate::stepsfile::Role;

/// `steps`' own part of the schema, as YAML (its anchors and merge keys say
/// each thing once). `{VERSION}` and `{KUBERNETES}` are filled in; [`schema`]
/// adds the Kubernetes fields to `metadata`, `pod`, `job` and each kind of
/// entry, and the Kubernetes types to `$defs`.
const OWN: &str = r##"
$schema: https://json-schema.org/draft/2020-12/schema
title: steps file
description: >-
  A steps file of steps {VERSION}: the steps of a Pod (or a Job), in order or as
  a DAG, with finally steps and sidecars, that `steps render FILE` turns into
  the Pod that runs them. Container fields, pod, job and metadata have the
  types of Kubernetes {KUBERNETES}. `steps check FILE` checks what this schema
  cannot (cycles, unknown needs, duplicate names, ready paths, requests above
  limits).
type: object
required: [name, steps]
properties:
  name:
    description: >-
      The Pod's (or Job's) name: a DNS-1123 subdomain (up to 253 of a-z, 0-9,
      '-' and '.'; a letter or digit at each end and around each dot). Required.
    type: string
    maxLength: 253
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
  image:
    description: >-
      The default image of the steps, finally steps and sidecars (each may give
      its own). Without it every entry gives `image`.
    type: string
    pattern: &image '^\S+$'
  tools:
    description: >-
      The tools' image: copier, waitfor and entrypoint in /bin (default: this
      release's, localhost/ordered-steps:{VERSION}).
    type: string
    pattern: *image
  timeout:
    description: >-
      The Pod's activeDeadlineSeconds, as a duration: 30 (seconds), 1.5s, 10m,
      1h30m; more than 0.
    <<: &duration
      type: [string, number]
      pattern: '^(([0-9]+(\.[0-9]*)?|\.[0-9]+)|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$'
    exclusiveMinimum: 0
  hold:
    description: >-
      Whether finished steps hold (keep running, doing nothing) until the last
      step ends, so the Pod shows every step's container until the end
      (entrypoint --hold-until). Default true.
    type: boolean
  workspace:
    description: >-
      An absolute path where one emptyDir, shared read-write by every step,
      finally step and sidecar, is mounted: where steps hand files to each
      other. Not under /tools or /steps.
    type: string
    pattern: '^/(?!/*$)'
  metadata:
    description: >-
      Merged into the Pod's metadata (labels, annotations, namespace...). Its
      name, if given, is the file's name.
    type: [object, "null"]
    additionalProperties: false
    properties: {}
  pod:
    description: >-
      Merged into the Pod's spec (serviceAccountName, volumes,
      securityContext, nodeSelector, tolerations, initContainers...); the
      containers are the steps, finally steps and sidecars.
    type: [object, "null"]
    additionalProperties: false
    properties:
      containers:
        description: steps renders the containers; give them as steps, finally or sidecars.
        not: {}
      restartPolicy:
        description: Never (a step that ran is never run again); steps sets it.
        enum: [Never]
  steps:
    description: >-
      The steps, at least one. A step without needs runs after the step before
      it in the list; a failed step skips the steps that need it.
    type: array
    minItems: 1
    items: {$ref: '#/$defs/step'}
  finally:
    description: >-
      Steps that run after every step, whatever happened, each after the
      finally step before it.
    type: [array, "null"]
    items: {$ref: '#/$defs/finally'}
  sidecars:
    description: >-
      Containers that run beside the steps from the start, and are stopped
      when the steps and finally steps have ended.
    type: [array, "null"]
    items: {$ref: '#/$defs/sidecar'}
  job:
    description: >-
      Merged into the Job's spec (steps render --kind job); backoffLimit is 0
      unless given here (a failed DAG is not run again whole).
    type: [object, "null"]
    additionalProperties: false
    properties:
      template:
        description: steps renders the pod; give its spec as pod.
        not: {}
  kubernetes:
    description: >-
      The Kubernetes version the Pod is for, as a string ("1.36"; unquoted,
      YAML reads 1.30 as 1.3): turns on what that version runs by default
      (nativeSidecars from 1.29, podResources from 1.34, toolsFrom image from
      1.36). 1.25 or later. The command line's --kubernetes wins.
    type: string
    pattern: '^v?[0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,4})?$'
  nativeSidecars:
    description: >-
      Sidecars as initContainers with restartPolicy Always (Kubernetes 1.29+)
      instead of wrapped with entrypoint --stop-when. The command line's
      --native-sidecars wins.
    type: boolean
  podResources:
    description: >-
      The Pod's requests as pod-level resources (spec.resources; Kubernetes
      1.34+): what the widest set of steps that can run at once asks for. The
      command line's --pod-resources wins.
    type: boolean
  toolsFrom:
    description: >-
      copy (default): an init container copies the tools into an emptyDir;
      image: the tools' image mounted as an image volume (Kubernetes 1.36+;
      containerd 2.1+ or CRI-O), no init container. The command line's
      --tools-from wins.
    enum: [copy, image]
patternProperties:
  '^x-':
    description: A place for YAML anchors (as in compose files); steps reads nothing here.
additionalProperties: false
if: {required: [image]}
else:
  description: Without a default image, every entry gives its own.
  properties:
    steps: {items: {required: [image]}}
    finally: {items: {required: [image]}}
    sidecars: {items: {required: [image]}}
$defs:
  step:
    description: >-
      A step: a container whose command runs once the steps it needs have
      succeeded. Besides steps' own keys, any Container field, kept as written.
    type: object
    required: [name]
    additionalProperties: false
    properties:
      name: &name
        description: >-
          The step's name, unique among steps, finally steps and sidecars: a
          DNS-1123 label of at most 58 characters (its directory is
          /steps/NAME/).
        type: string
        maxLength: 58
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
      needs:
        description: >-
          The steps that must succeed before this one runs: [] starts it at
          once; without needs it runs after the step before it in the list.
        type: array
        uniqueItems: true
        items: {type: string}
      run: &run
        description: >-
          A script for sh -c, reaching the shell byte for byte (steps writes
          each $ as $$ for the kubelet). One that starts with #! runs under
          that interpreter (an absolute path). Give run or command.
        type: string
      command: &command
        description: >-
          The command as a list (args may follow), as Kubernetes takes it:
          $(VAR) is expanded and $$ is $. steps never guesses an image's
          ENTRYPOINT: give run or command.
        type: array
        minItems: 1
        items: {type: string}
      image: &entryimage
        description: The container's image (default the file's image).
        type: string
        pattern: *image
      onError: &onError
        description: >-
          continue: a failure counts as success for the steps that need this
          one (the step still shows its status); stopAndFail (default): they
          are skipped. (stop is stopAndFail.)
        enum: [continue, stopAndFail, stop]
      timeout: &timeout
        description: >-
          How long the command may run (each attempt), as a duration: 30
          (seconds), 1.5s, 10m, 1h30m; more than 0.
        <<: *duration
        exclusiveMinimum: 0
      retries: &retries
        description: >-
          How many more times to run the command when it fails (0 to 100):
          entrypoint --retries.
        type: integer
        minimum: 0
        maximum: 100
      retryDelay: &retryDelay
        description: >-
          The wait before the first retry (default 1s), doubled before each
          next one, at most 5 minutes; a duration, 0 too. Needs retries.
        <<: *duration
        minimum: 0
    oneOf: &program
      - required: [run]
      - required: [command]
    allOf: &rules
      - if: {required: [run]}
        then:
          description: A run script takes no args (args goes with command).
          not: {required: [args]}
      - if: {required: [retryDelay]}
        then: {required: [retries]}
  finally:
    description: >-
      A finally step: runs after every step and after the finally step before
      it, whatever happened. Besides steps' own keys, any Container field.
    type: object
    required: [name]
    additionalProperties: false
    properties:
      name: *name
      run: *run
      command: *command
      image: *entryimage
      onError: *onError
      timeout: *timeout
      retries: *retries
      retryDelay: *retryDelay
    oneOf: *program
    allOf: *rules
  sidecar:
    description: >-
      A sidecar: starts with the Pod and is stopped when the steps and finally
      steps have ended; the steps wait for its ready target. Besides steps' own
      keys, any Container field.
    type: object
    required: [name]
    additionalProperties: false
    properties:
      name: *name
      run: *run
      command: *command
      image: *entryimage
      timeout: *timeout
      ready:
        description: >-
          What the steps wait for before they run: tcp://HOST:PORT,
          unix:///PATH, http://HOST[:PORT][/PATH], or an absolute path (a file
          the sidecar writes when ready, in its own /steps/NAME/, the workspace
          or a volume the steps mount at the same place).
        type: string
        pattern: '^(/|tcp://|unix://|http://)'
    oneOf: *program
    allOf: *rules
"##;

/// The kinds of entry and their definitions in `$defs`.
const ENTRIES: [(&str, Role); 3] =
    [("step", Role::Step), ("finally", Role::Finally), ("sidecar", Role::Sidecar)];
/// The file's keys that take the fields of a Kubernetes type.
const OBJECTS: [(&str, &str); 3] = [("metadata", OBJECT_META), ("pod", POD_SPEC), ("job", JOB_SPEC)];

/// The schema as JSON. `Err` says which built-in part does not parse (a
/// bug: the unit tests parse both).
pub fn schema() -> Result<String, String> {
    let own = OWN.replace("{VERSION}", env!("CARGO_PKG_VERSION")).replace("{KUBERNETES}", KUBERNETES);
    let mut root = part(&own, "steps' own part")?;
    let types = part(TYPES, "the Kubernetes types")?;
    let types = types.as_map().unwrap_or_default();
    for (key, type_name) in OBJECTS {
        if let Some(props) = at(&mut root, &["properties", key, "properties"]) {
            add_fields(props, fields_of(types, type_name).iter().map(|e| (e.key.as_str(), e.value.clone())));
        }
    }
    let container = fields_of(types, CONTAINER);
    for (def, role) in ENTRIES {
        if let Some(props) = at(&mut root, &["$defs", def, "properties"]) {
            add_fields(props, entry_fields(role, container));
        }
    }
    if let Some(Node { value: Value::Map(defs), .. }) = at(&mut root, &["$defs"]) {
        defs.extend(types.iter().cloned());
    }
    // the definitions last, where a reader looks for them
    if let Value::Map(entries) = &mut root.value {
        entries.sort_by_key(|e| e.key == "$defs");
    }
    Ok(emit::json(&root))
}

/// A built-in part of the schema, parsed.
fn part(text: &str, what: &str) -> Result<Node, String> {
    document::parse(text)
        .map_err(|e| format!("{what} of the schema does not parse: line {}: {}", e.line, e.what))
}

/// The node at `path` of mappings.
fn at<'a>(node: &'a mut Node, path: &[&str]) -> Option<&'a mut Node> {
    let Some((key, rest)) = path.split_first() else { return Some(node) };
    let Value::Map(entries) = &mut node.value else { return None };
    let entry = entries.iter_mut().find(|e| e.key == *key)?;
    at(&mut entry.value, rest)
}

/// The properties of the Kubernetes type `name`.
fn fields_of<'a>(types: &'a [Entry], name: &str) -> &'a [Entry] {
    let def = types.iter().find(|e| e.key == name).map(|e| &e.value);
    def.and_then(|d| d.get("properties")).and_then(Node::as_map).unwrap_or_default()
}

/// The Container fields of a `role`'s entry, each with its Kubernetes type,
/// or refused (`not: {}`) with the reason where `steps` sets it itself.
fn entry_fields(role: Role, container: &[Entry]) -> Vec<(&'static str, Node)> {
    apirules::keys(role)
        .filter(|k| CONTAINER_FIELDS.contains(k))
        .filter_map(|k| {
            if let Some(how) = apirules::set_by_steps(role, k) {
                let refused = vec![
                    entry("description", Node::str(format!("steps sets it ({how})."))),
                    entry("not", Node::new(Value::Map(Vec::new()))),
                ];
                return Some((k, Node::new(Value::Map(refused))));
            }
            container.iter().find(|e| e.key == k).map(|e| (k, e.value.clone()))
        })
        .collect()
}

/// Adds each field to the mapping `props` but those it has (steps' own
/// description of a field wins).
fn add_fields<'a>(props: &mut Node, fields: impl IntoIterator<Item = (&'a str, Node)>) {
    let Value::Map(entries) = &mut props.value else { return };
    for (key, schema) in fields {
        if !entries.iter().any(|e| e.key == key) {
            entries.push(entry(key, schema));
        }
    }
}

fn entry(key: &str, value: Node) -> Entry {
    Entry { key: key.to_string(), line: 0, value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stepsfile;

    fn built() -> Node {
        document::parse(&schema().unwrap()).unwrap()
    }

    fn keys(node: &Node, path: &[&str]) -> Vec<String> {
        let mut at = node;
        for key in path {
            at = at.get(key).unwrap_or_else(|| panic!("no {key}"));
        }
        at.as_map().unwrap().iter().map(|e| e.key.clone()).collect()
    }

    #[test]
    fn both_parts_parse() {
        part(OWN, "own").unwrap();
        part(TYPES, "types").unwrap();
    }

    /// The file's keys in the schema are those `check` reads.
    #[test]
    fn the_top_level_keys_are_checks() {
        let s = built();
        assert_eq!(keys(&s, &["properties"]), stepsfile::TOP_KEYS);
        assert_eq!(keys(&s, &["patternProperties"]), ["^x-"]);
        assert_eq!(s.get("additionalProperties").map(|n| &n.value), Some(&Value::Bool(false)));
    }

    /// Each kind of entry has its own keys, as `check` takes them, then every
    /// Container field (those steps sets refused), nothing else.
    #[test]
    fn each_kind_of_entry_has_checks_keys() {
        let s = built();
        for (def, role) in ENTRIES {
            let props = keys(&s, &["$defs", def, "properties"]);
            let own: Vec<&str> =
                props.iter().map(String::as_str).filter(|k| !CONTAINER_FIELDS.contains(k)).collect();
            let checks: Vec<&str> =
                apirules::own_keys(role).filter(|k| !CONTAINER_FIELDS.contains(k)).collect();
            assert_eq!(own, checks, "{def}");
            for field in CONTAINER_FIELDS {
                assert!(props.iter().any(|k| k == field), "{def}: {field}");
            }
            let entry = s.get("$defs").and_then(|d| d.get(def)).and_then(|d| d.get("properties")).unwrap();
            let refused: Vec<&str> = props
                .iter()
                .map(String::as_str)
                .filter(|k| entry.get(k).and_then(|f| f.get("not")).is_some())
                .collect();
            let want: Vec<&str> = CONTAINER_FIELDS
                .iter()
                .copied()
                .filter(|k| apirules::set_by_steps(role, k).is_some())
                .collect();
            assert_eq!(refused, want, "{def}");
        }
    }

    /// `pod`, `job` and `metadata` take their Kubernetes type's fields; what
    /// `steps` renders itself is refused.
    #[test]
    fn pod_job_and_metadata_take_the_kubernetes_fields() {
        let s = built();
        let pod = keys(&s, &["properties", "pod", "properties"]);
        assert_eq!(pod[..2], ["containers", "restartPolicy"]);
        assert!(
            pod.iter().any(|k| k == "serviceAccountName") && pod.iter().any(|k| k == "volumes"),
            "{pod:?}"
        );
        let job = keys(&s, &["properties", "job", "properties"]);
        assert!(job.iter().any(|k| k == "backoffLimit"), "{job:?}");
        let meta = keys(&s, &["properties", "metadata", "properties"]);
        assert!(meta.iter().any(|k| k == "labels"), "{meta:?}");
        // every reference resolves to a definition
        let defs = keys(&s, &["$defs"]);
        let text = schema().unwrap();
        for r in text.split("\"$ref\": \"#/$defs/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(defs.iter().any(|d| d == name), "{name}");
        }
    }
}
