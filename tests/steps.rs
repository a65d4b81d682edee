//! Black-box tests of `steps` (docs/steps.md), the host tool, as built
//! (`dist/steps`, or `STEPS`): every problem with its exact line, usage and I/O
//! errors, every example rendered and validated strictly against the
//! Kubernetes API schema (`kubernetes-validate` in the venv `K8S_VENV`, for
//! `K8S_VERSION`: `make blackbox-steps` installs it), YAML and JSON equal as a
//! YAML 1.1 reader (PyYAML) sees them, the Job, fields passed through, requests
//! sized by the widest set of steps that can run at once, the wiring of holds,
//! sidecars and the join, the pictures, and the options for today's clusters
//! (`--kubernetes`, pod-level resources, the tools from an image volume,
//! retries, Pod Security "restricted"), each rendering validated against the
//! schema of every version it targets; the static builds of every
//! architecture (`dist/ARCH/steps`, `STEPS_ARCHS`; aarch64 under qemu-user)
//! and the kubectl plugin `kubectl-steps`; and `steps schema`, with which a
//! real validator (jsonschema in the venv) accepts every file `check`
//! accepts and refuses, for the same reason, what `check` refuses for its form.

use harness::json::{self, Value};
use harness::{run, Ran, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn steps_bin() -> PathBuf {
    let p = std::env::var_os("STEPS").map_or_else(|| root().join("dist/steps"), PathBuf::from);
    assert!(p.is_file(), "{} is missing: run `make` first", p.display());
    p
}

fn venv() -> PathBuf {
    let v = std::env::var_os("K8S_VENV").map_or_else(|| root().join("target/k8s-venv"), PathBuf::from);
    assert!(
        v.join("bin/kubernetes-validate").is_file(),
        "{}/bin/kubernetes-validate is missing: `make blackbox-steps` installs it",
        v.display()
    );
    v
}

fn k8s_version() -> String {
    std::env::var("K8S_VERSION").unwrap_or_else(|_| "1.33.0".to_string())
}

/// `steps ARGS` in `dir`.
fn steps_in(dir: &Path, args: &[&str]) -> Ran {
    run(Command::new(steps_bin()).current_dir(dir).args(args))
}

/// `steps ARGS` with `input` on standard input.
fn steps_stdin(args: &[&str], input: &str) -> Ran {
    use std::io::Write;
    let mut child = Command::new(steps_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn steps");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait").into()
}

/// Writes `text` as `build.yaml` in a new directory and runs `steps ARGS build.yaml` there.
fn on_file(text: &str, args: &[&str]) -> (TempDir, Ran) {
    let d = TempDir::new("steps");
    std::fs::write(d.join("build.yaml"), text).expect("write build.yaml");
    let mut all = args.to_vec();
    all.push("build.yaml");
    let r = steps_in(d.path(), &all);
    (d, r)
}

/// `steps check` exits 1, prints nothing on stdout, exactly these lines on stderr.
#[track_caller]
fn problems(text: &str, lines: &[&str]) {
    for cmd in [&["check"][..], &["render"], &["graph"]] {
        let (_d, r) = on_file(text, cmd);
        let want: String = lines.iter().map(|l| format!("steps: build.yaml:{l}\n")).collect();
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (1, "", want.as_str()), "steps {cmd:?}");
    }
}

#[track_caller]
fn usage_error(args: &[&str], msg: &str) {
    let r = steps_in(&root(), args);
    let want = format!("steps: {msg} (try 'steps --help')\n");
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (125, "", want.as_str()), "steps {args:?}");
}

#[track_caller]
fn ok(r: &Ran) -> &str {
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "steps failed: {r:?}");
    &r.stdout
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut at = v;
    for key in path {
        at = match at {
            Value::Obj(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no {key} in {at:?}")),
            Value::Arr(items) => {
                let i: usize = key.parse().unwrap_or_else(|_| panic!("{key}: not an index"));
                &items[i]
            }
            _ => panic!("no {key} in {at:?}"),
        };
    }
    at
}

fn has(v: &Value, key: &str) -> bool {
    matches!(v, Value::Obj(m) if m.iter().any(|(k, _)| k == key))
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Arr(items) => items,
        _ => panic!("not a list: {v:?}"),
    }
}

fn text(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        _ => panic!("not a string: {v:?}"),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    items(v).iter().map(text).collect()
}

/// The rendered object (JSON) of a steps file.
fn rendered(file: &str, args: &[&str]) -> Value {
    let mut all = vec!["render", "-o", "json"];
    all.extend_from_slice(args);
    let (_d, r) = on_file(file, &all);
    json::parse(ok(&r)).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// A container's mounts: `NAME PATH[ ro][ subPath=SUB]`.
fn mounts_of(c: &Value) -> Vec<String> {
    items(get(c, &["volumeMounts"]))
        .iter()
        .map(|m| {
            let mut t = format!("{} {}", text(get(m, &["name"])), text(get(m, &["mountPath"])));
            if has(m, "readOnly") && *get(m, &["readOnly"]) == Value::Bool(true) {
                t += " ro";
            }
            if has(m, "subPath") {
                t += &format!(" subPath={}", text(get(m, &["subPath"])));
            }
            t
        })
        .collect()
}

/// The container (or init container) named `name`.
fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    let spec = get(pod, &["spec"]);
    ["containers", "initContainers"]
        .iter()
        .filter(|k| has(spec, k))
        .flat_map(|k| items(get(spec, &[k])))
        .find(|c| text(get(c, &["name"])) == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn names(list: &Value) -> Vec<&str> {
    items(list).iter().map(|c| text(get(c, &["name"]))).collect()
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".steps.yaml"))
        .collect();
    v.sort();
    v
}

// --- problems, each with its line -------------------------------------------------

#[test]
fn every_problem_of_a_file_in_one_pass_with_its_line() {
    problems(
        "name: Build_1
image: alpine
timeout: 10x
steps:
  - name: fetch
    run: git clone x
  - name: fetch
    run: echo again
  - name: test
    needs: [fetch, lint2]
    run: make test
    command: [make, test]
  - name: lint
    onError: ignore
    timeout: 5d
sidecars:
  - name: db
    image: postgres
    command: [postgres]
    ready: tcp://db
",
        &[
            "1: invalid name 'Build_1': the pod's name is a DNS-1123 subdomain (up to 253 of a-z, 0-9, '-' and '.'; a letter or digit at each end and around each dot)",
            "3: timeout: bad duration '10x' (like 30, 1.5s, 10m, 1h30m)",
            "7: duplicate name 'fetch' (first at line 5)",
            "10: 'test' needs 'lint2': no such step",
            "12: step 'test': both run and command (give one)",
            "13: step 'lint': no run or command (give one)",
            "14: step 'lint': bad onError 'ignore' (continue or stopAndFail)",
            "15: step 'lint': timeout: bad duration '5d' (like 30, 1.5s, 10m, 1h30m)",
            "20: sidecar 'db': bad ready target 'tcp://db': no port (tcp://HOST:PORT)",
        ],
    );
}

#[test]
fn a_cycle_is_named_by_its_steps_on_a_line_of_a_step_on_it() {
    problems(
        "name: build
image: alpine
steps:
  - name: a
    needs: [c]
    run: a
  - name: b
    needs: [a]
    run: b
  - name: c
    needs: [b]
    run: c
",
        &["5: cycle: a -> b -> c -> a"],
    );
    // one edge of it from the list order
    problems(
        "name: build
image: alpine
steps:
  - name: a
    run: a
  - name: b
    needs: [c]
    run: b
  - name: c
    run: c
",
        &["7: cycle: b -> c -> b (c has no needs: it runs after b, the step before it)"],
    );
    problems(
        "name: build\nimage: alpine\nsteps:\n  - name: a\n    needs: [a]\n    run: a\n",
        &["5: cycle: a -> a"],
    );
    // two cycles, one line each
    problems(
        "name: build
image: alpine
steps:
  - {name: a, needs: [b], run: a}
  - {name: b, needs: [a], run: b}
  - {name: c, needs: [d], run: c}
  - {name: d, needs: [c], run: d}
",
        &["4: cycle: a -> b -> a", "6: cycle: c -> d -> c"],
    );
}

#[test]
fn one_problem_gives_one_line() {
    // a duplicate is not also a cycle, nor its needs unknown
    problems(
        "name: build
image: alpine
steps:
  - name: a
    run: a
  - name: a
    needs: [a, nope]
    run: again
",
        &["6: duplicate name 'a' (first at line 4)"],
    );
    // an unknown need is not also a cycle
    problems(
        "name: build\nimage: alpine\nsteps:\n  - {name: a, needs: [zz], run: a}\n  - {name: b, run: b}\n",
        &["4: 'a' needs 'zz': no such step"],
    );
}

#[test]
fn what_each_kind_of_entry_may_say() {
    problems(
        "name: build
image: alpine
steps:
  - name: a
    ready: tcp://127.0.0.1:80
    run: a
  - name: b
    needs: [report]
    run: b
  - name: c
    needs: [db]
    run: c
  - name: d
    run: d
    args: [x]
  - name: e
    command: [sleep, 5]
  - name: f
    command: sleep 5
  - name: g
    args: [x]
  - name: h
    command: []
  - name: i
    run: i
    needs: [b, b]
  - name: j
    run: j
    terminationMessagePath: /dev/termination-log
  - name: copy-tools
    run: k
  - name: Bad_Name
    run: l
  - name: a-very-long-name-that-does-not-fit-in-a-volume-name-with-prefix
    run: m
finally:
  - name: report
    needs: [a]
    run: r
sidecars:
  - name: db
    needs: [a]
    onError: continue
    restartPolicy: Always
    ready: https://db/health
    command: [postgres]
",
        &[
            "5: step 'a': only a sidecar has ready (what the steps wait for)",
            "8: 'b' needs 'report', a finally step: a step cannot wait for finally steps",
            "11: 'c' needs 'db', a sidecar: wait for it with the sidecar's ready:",
            "15: step 'd': args goes with command (a run script takes no args)",
            "17: step 'e': command: item 2 is a number: quote it ('5')",
            "19: step 'f': command: expected a list of strings, found a string",
            "20: step 'g': no run or command (give one)",
            "23: step 'h': command: empty",
            "26: step 'i': 'b' twice in needs",
            "29: step 'j': terminationMessagePath is set by steps (to /steps/NAME/termination)",
            "30: name 'copy-tools' is taken by one of the tools' own containers",
            "32: invalid name 'Bad_Name': a name is a DNS-1123 label (1 to 63 of a-z, 0-9, '-'; a letter or digit at each end)",
            "34: invalid name 'a-very-long-name-that-does-not-fit-in-a-volume-name-with-prefix': at most 58 characters (its directory's volume is step-NAME)",
            "38: finally step 'report': a finally step has no needs (each runs after every step, and after the finally step before it)",
            "42: sidecar 'db': a sidecar has no needs (it starts with the pod)",
            "43: sidecar 'db': a sidecar has no onError (nothing waits for its result)",
            "44: sidecar 'db': restartPolicy is set by steps (Always with --native-sidecars)",
            "45: sidecar 'db': bad ready target 'https://db/health': https: waitfor has no TLS (use http:// to a plain port, or tcp://)",
        ],
    );
}

#[test]
fn the_file_level_keys_and_what_steps_renders_itself() {
    problems(
        "name: build
stpes: []
timeout: 0s
hold: maybe
workspace: relative/dir
metadata: {name: other, labels: {a: b}}
pod:
  containers: []
  restartPolicy: OnFailure
  volumes:
    - {name: tools, emptyDir: {}}
    - {name: step-cache, emptyDir: {}}
    - {emptyDir: {}}
  initContainers:
    - {name: a, image: x}
job: {template: {}}
steps:
  - name: a
    run: a
    volumeMounts:
      - {name: tools, mountPath: /opt/tools}
      - {name: cache, mountPath: /steps/cache}
      - {name: cache2, mountPath: /}
    resources:
      requests: {cpu: lots, memory: 2Gi}
      limits: {memory: 1Gi}
",
        &[
            "2: unknown key 'stpes' (did you mean 'steps'?)",
            "3: timeout: '0s' is no time at all (give more than 0)",
            "4: hold: expected true or false, found a string",
            "5: workspace: 'relative/dir' is not an absolute path below / (like /workspace)",
            "6: metadata.name: the file's name sets it (give one)",
            "8: pod.containers: give the containers as steps, finally or sidecars",
            "9: pod.restartPolicy: must be Never (a step that ran is never run again)",
            "11: pod.volumes: 'tools' is the name of one of the tools' own volumes",
            "12: pod.volumes: 'step-cache' is the name of one of the tools' own volumes",
            "13: pod.volumes: a volume without a name",
            "16: job.template: the pod is rendered from the steps (give pod: for its spec)",
            "18: duplicate name 'a' (first at line 15)",
            "18: step 'a': no image (give image: here or at the top)",
            "21: step 'a': volumeMounts: 'tools' is one of the tools' own volumes",
            "22: step 'a': volumeMounts: '/steps/cache' clashes with the tools' own /steps",
            "22: step 'a': volumeMounts: no volume 'cache' (declare it in pod.volumes)",
            "23: step 'a': volumeMounts: '/' clashes with the tools' own /tools",
            "23: step 'a': volumeMounts: no volume 'cache2' (declare it in pod.volumes)",
            "25: step 'a': resources.requests.cpu: bad quantity 'lots' (like 500m, 2, 128Mi, 1G)",
            "25: step 'a': the memory request is more than its limit",
        ],
    );
}

#[test]
fn yaml_problems_have_lines_too() {
    problems(
        "name: build\nsteps:\n  - name: a\n    run: a\n    run: b\n",
        &["5: duplicate key 'run' (first at line 4)"],
    );
    problems("name: build\nsteps: [\n", &["3: while parsing a node, did not find expected node content"]);
    // Kubernetes reads YAML 1.1: a step named `on` is the boolean true there
    problems(
        "name: build\nimage: x\nsteps:\n  - name: on\n    run: a\n",
        &["4: a step: name: expected a string, found a boolean (quote it: Kubernetes reads YAML 1.1, where y, n, yes, no, on and off are booleans)"],
    );
    problems("name: build\n---\nname: again\n", &["2: a second YAML document: give one document per file"]);
    problems("- a\n- b\n", &["1: expected a mapping (name:, steps:, ...), found a list"]);
    problems("", &["1: expected a mapping (name:, steps:, ...), found nothing"]);
    problems(
        "name: build\nimage: alpine\nsteps:\n  - name: a\n    run: !shell echo\n",
        &["5: unsupported tag '!shell'"],
    );
    let d = TempDir::new("steps-utf8");
    std::fs::write(d.join("build.yaml"), b"name: build\nimage: x\nsteps:\n  - name: a\n    run: \"\xff\"\n")
        .expect("write");
    let r = steps_in(d.path(), &["check", "build.yaml"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "steps: build.yaml:5: not UTF-8 text\n"));
}

#[test]
fn a_duplicate_need_of_the_list_order_and_a_missing_name() {
    problems(
        "image: alpine\nsteps:\n  - run: a\n  - name: b\n",
        &["1: no 'name' (the pod's name)", "3: a step: no name", "4: step 'b': no run or command (give one)"],
    );
    problems(
        "name: build\nimage: alpine\nsteps: []\n",
        &["3: no steps (steps: a list of at least one step)"],
    );
}

// --- the command line ---------------------------------------------------------------

#[test]
fn usage_errors_exit_125_with_one_line() {
    usage_error(&[], "no command (render, check, graph, schema or status)");
    usage_error(&["build.yaml"], "unknown command 'build.yaml' (render, check, graph, schema or status)");
    usage_error(&["render"], "render: no FILE (a steps file, or - for standard input)");
    usage_error(&["render", "--kind", "deployment", "f"], "--kind: 'deployment' is not pod or job");
    usage_error(&["render", "-o", "toml", "f"], "-o: 'toml' is not yaml or json");
    usage_error(&["graph", "--format", "png", "f"], "--format: 'png' is not mermaid or dot");
    usage_error(&["check", "--kind", "job", "f"], "unknown option '--kind' for check");
    usage_error(&["graph", "--native-sidecars", "f"], "unknown option '--native-sidecars' for graph");
    usage_error(&["render", "--pod-resources=no", "f"], "--pod-resources: 'no' is not true or false");
    usage_error(&["check", "--tools-from", "registry", "f"], "--tools-from: 'registry' is not copy or image");
    usage_error(
        &["render", "--kubernetes", "1.24", "f"],
        "--kubernetes: 1.24 is older than 1.25, the oldest Kubernetes steps renders for",
    );
    usage_error(
        &["render", "--kubernetes=1.3x", "f"],
        "--kubernetes: '1.3x' is not a Kubernetes version (like 1.36)",
    );
    usage_error(&["check", "a", "b"], "check: one FILE only ('b' is a second)");
    usage_error(&["render", "--kind"], "--kind needs pod or job");
}

#[test]
fn io_errors_exit_125_and_name_the_file() {
    let d = TempDir::new("steps-io");
    let r = steps_in(d.path(), &["check", "missing.yaml"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (125, "", "steps: cannot read 'missing.yaml': No such file or directory\n")
    );
    let r = steps_in(d.path(), &["render", "."]);
    assert_eq!((r.code, r.stderr.as_str()), (125, "steps: cannot read '.': Is a directory\n"));
    // a closed standard output is an output error, not a crash
    let out = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let ex = root().join("examples/seed.steps.yaml");
    let child = Command::new(steps_bin())
        .args(["render".as_ref(), ex.as_os_str()])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let r: Ran = child.wait_with_output().expect("wait").into();
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (125, "steps: cannot write the output: No space left on device\n")
    );
}

#[test]
fn a_reader_that_goes_away_ends_steps_quietly_with_141() {
    // `steps render big.yaml | head`: the output (over a pipe's 64 KiB, so
    // the write meets the closed pipe whenever the reader closes it) stops
    // with no line on standard error and 128 + SIGPIPE, as a shell shows for
    // kubectl or cat under a closed pipe
    let d = TempDir::new("steps-pipe");
    let mut file = String::from("name: big\nimage: busybox\nsteps:\n");
    for i in 0..200 {
        file.push_str(&format!("  - name: step-{i}\n    run: echo {i}\n"));
    }
    std::fs::write(d.path().join("big.yaml"), file).expect("write");
    let mut child = Command::new(steps_bin())
        .args(["render", "big.yaml"])
        .current_dir(d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let r: Ran = child.wait_with_output().expect("wait").into();
    assert_eq!((r.code, r.stderr.as_str()), (141, ""));
}

#[test]
fn help_and_version() {
    let r = steps_in(&root(), &["--help"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert!(
        r.stdout.starts_with("usage: steps render [--kind pod|job] [-o yaml|json] [CLUSTER OPTIONS]\n"),
        "{}",
        r.stdout
    );
    assert_eq!(steps_in(&root(), &["render", "--help"]).stdout, r.stdout);
    assert_eq!(steps_in(&root(), &["help"]).stdout, r.stdout);
    let r = steps_in(&root(), &["--version"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, format!("steps {}\n", env!("CARGO_PKG_VERSION")).as_str()));
}

#[test]
fn standard_input_is_a_file_too() {
    let file = std::fs::read_to_string(root().join("examples/seed.steps.yaml")).expect("seed");
    let from_stdin = steps_stdin(&["render", "-"], &file);
    let from_file = steps_in(&root().join("examples"), &["render", "seed.steps.yaml"]);
    let body = |s: &str| s.split_once('\n').map(|(_, b)| b.to_string()).unwrap_or_default();
    assert_eq!(body(ok(&from_stdin)), body(ok(&from_file)));
    assert!(from_stdin.stdout.starts_with("# Rendered by steps "), "{}", from_stdin.stdout);
    let r = steps_stdin(&["check", "-"], "name: x\nsteps: {}\n");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "steps: <stdin>:2: steps: expected a list, found a mapping\n")
    );
    assert_eq!(ok(&steps_stdin(&["check", "-"], &file)), "");
}

// --- the rendered pods --------------------------------------------------------------

/// Every example, as a Pod and a Job, in YAML and JSON, with sidecars wrapped
/// and native: strictly valid against the API schema.
#[test]
fn every_example_validates_strictly_against_the_kubernetes_schema() {
    let d = TempDir::new("steps-schema");
    let mut files = Vec::new();
    for ex in examples() {
        let base = ex.file_name().expect("name").to_string_lossy().replace(".steps.yaml", "");
        for (tag, args) in [
            ("pod.yaml", &["render"][..]),
            ("pod.json", &["render", "-o", "json"]),
            ("job.yaml", &["render", "--kind", "job"]),
            ("job.json", &["render", "--kind", "job", "-o", "json"]),
            ("native.yaml", &["render", "--native-sidecars"]),
            ("native-job.json", &["render", "--native-sidecars", "--kind=job", "-ojson"]),
            ("volumes.yaml", &["render", "--layout", "volumes", "--scripts", "as-is"]),
        ] {
            let mut all = args.to_vec();
            let path = ex.to_string_lossy().into_owned();
            all.push(&path);
            let r = steps_in(&root(), &all);
            let out = d.join(&format!("{base}.{tag}"));
            std::fs::write(&out, ok(&r)).expect("write");
            files.push(out);
        }
    }
    assert!(files.len() >= 8 * 7, "examples: {files:?}");
    let r = run(Command::new(venv().join("bin/kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", &k8s_version()])
        .args(&files));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""), "kubernetes-validate");
    // and the validator does reject what is not valid (the test can fail)
    let bad = d.join("bad.yaml");
    let pod = std::fs::read_to_string(&files[0]).expect("read");
    std::fs::write(&bad, pod.replacen("terminationMessagePath:", "terminationMessagePathh:", 1))
        .expect("write");
    let r = run(Command::new(venv().join("bin/kubernetes-validate"))
        .args(["--strict", "-k", &k8s_version()])
        .arg(&bad));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("'terminationMessagePathh' was unexpected"), "{r:?}");
}

/// The YAML and the JSON of every rendering are the same object for a YAML 1.1
/// reader (PyYAML, as kubectl reads YAML 1.1).
#[test]
fn yaml_and_json_outputs_are_equal() {
    let d = TempDir::new("steps-equal");
    let mut pairs = Vec::new();
    for ex in examples() {
        let path = ex.to_string_lossy().into_owned();
        for kind in ["pod", "job"] {
            let y = steps_in(&root(), &["render", "--kind", kind, &path]);
            let j = steps_in(&root(), &["render", "--kind", kind, "-o", "json", &path]);
            let n = pairs.len();
            let (yf, jf) = (d.join(&format!("{n}.yaml")), d.join(&format!("{n}.json")));
            std::fs::write(&yf, ok(&y)).expect("write");
            std::fs::write(&jf, ok(&j)).expect("write");
            pairs.push((yf, jf));
        }
    }
    let script = "import json, sys, yaml\n\
                  bad = [y for y, j in zip(sys.argv[1::2], sys.argv[2::2])\n\
                         if yaml.safe_load(open(y)) != json.load(open(j))]\n\
                  print(' '.join(bad)); sys.exit(1 if bad else 0)\n";
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.args(["-c", script]);
    for (y, j) in &pairs {
        cmd.arg(y).arg(j);
    }
    let r = run(&mut cmd);
    assert_eq!((r.code, r.stdout.trim(), r.stderr.as_str()), (0, "", ""), "YAML and JSON differ");
}

/// Every container field a step gives, known to the schema or newer than it,
/// comes out as written (as PyYAML reads both).
#[test]
fn container_fields_pass_through_exactly() {
    let file = r##"name: keep
image: alpine
steps:
  - name: a
    run: echo a
    image: busybox:1.36
    workingDir: /src
    env:
      - {name: QUOTED_YES, value: "yes"}
      - {name: OCTAL_TEXT, value: "0644"}
      - {name: MULTI, value: "line one\nline two\n"}
      - name: FROM_FIELD
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
    ports: [{containerPort: 8080, protocol: TCP}]
    resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]
    stdin: false
    lifecycle: {preStop: {exec: {command: [sh, -c, "sleep 1"]}}}
    volumeMounts:
      - {name: cache, mountPath: /cache, subPath: a}
pod:
  futureField:
    nested: [1, 2.5, true, null, {deep: "#not a comment", mode: 0644, big: 1_000}]
    "key with spaces": ~
    emoji: "🦀"
  volumes:
    - name: cache
      emptyDir: {sizeLimit: 1Gi}
"##;
    let d = TempDir::new("steps-keep");
    std::fs::write(d.join("in.yaml"), file).expect("write");
    let r = steps_in(d.path(), &["render", "-o", "json", "in.yaml"]);
    std::fs::write(d.join("out.json"), ok(&r)).expect("write");
    let r = steps_in(d.path(), &["render", "in.yaml"]);
    std::fs::write(d.join("out.yaml"), ok(&r)).expect("write");
    let script = "import json, sys, yaml\n\
                  src = yaml.safe_load(open('in.yaml'))['steps'][0]\n\
                  for out in (json.load(open('out.json')), yaml.safe_load(open('out.yaml'))):\n\
                  \x20   c = out['spec']['containers'][0]\n\
                  \x20   for k, v in src.items():\n\
                  \x20       if k in ('run', 'volumeMounts'): continue\n\
                  \x20       assert c[k] == v, (k, c[k], v)\n\
                  \x20   assert c['volumeMounts'][-1] == src['volumeMounts'][0], c['volumeMounts']\n\
                  \x20   assert out['spec']['volumes'][-1] == yaml.safe_load(open('in.yaml'))['pod']['volumes'][0]\n\
                  \x20   assert out['spec']['futureField']['nested'][4]['mode'] == 420\n\
                  \x20   assert 'env' not in out['spec']['initContainers'][0]\n\
                  print('ok')\n";
    let r = run(Command::new(venv().join("bin/python")).current_dir(d.path()).args(["-c", script]));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "ok\n", ""));
}

#[test]
fn the_seed_renders_as_an_expert_would_write_it() {
    let ex = std::fs::read_to_string(root().join("examples/seed.steps.yaml")).expect("seed");
    let pod = rendered(&ex, &[]);
    assert_eq!(text(get(&pod, &["apiVersion"])), "v1");
    assert_eq!(text(get(&pod, &["kind"])), "Pod");
    assert_eq!(text(get(&pod, &["metadata", "name"])), "seed");
    assert_eq!(text(get(&pod, &["spec", "restartPolicy"])), "Never");
    let init = get(&pod, &["spec", "initContainers"]);
    assert_eq!(names(init), ["copy-tools"]);
    // waitfor always: `steps status` runs `waitfor --status` in a step
    assert_eq!(
        strings(get(init, &["0", "command"])),
        ["/bin/copier", "/bin/entrypoint", "/bin/waitfor", "/tools/"]
    );
    assert_eq!(names(get(&pod, &["spec", "containers"])), ["one", "two", "three"]);
    let two = container(&pod, "two");
    assert_eq!(
        strings(get(two, &["command"])),
        [
            "/tools/entrypoint",
            "--wait=/steps/one/out",
            "--post-file=/steps/two/out",
            "--termination-path=/steps/two/termination",
            "--results-dir=/steps/two/results",
            "--hold-until=/steps/three/out",
            "--",
            "sh",
            "-c",
            "echo step two\necho fizz buzz\n",
        ]
    );
    assert_eq!(text(get(two, &["terminationMessagePath"])), "/steps/two/termination");
    // two mounts a step: every directory read-only, its own read-write over it
    assert_eq!(
        mounts_of(two),
        ["tools /tools ro", "steps /steps ro", "steps /steps/two subPath=two"].map(String::from)
    );
    // the last step holds nothing, and nobody adds to a container's env
    assert!(!strings(get(container(&pod, "three"), &["command"]))
        .iter()
        .any(|a| a.starts_with("--hold-until")));
    assert!(!has(two, "env"));
    assert_eq!(names(get(&pod, &["spec", "volumes"])), ["tools", "steps"]);
    // --layout volumes: a volume a step, each mounted read-only in every step
    let legacy = rendered(&ex, &["--layout", "volumes"]);
    assert_eq!(
        mounts_of(container(&legacy, "two")),
        ["tools /tools ro", "step-two /steps/two", "step-one /steps/one ro", "step-three /steps/three ro"]
            .map(String::from)
    );
    assert_eq!(names(get(&legacy, &["spec", "volumes"])), ["tools", "step-one", "step-two", "step-three"]);
    // hold: false
    let unheld = rendered(&ex.replace("steps:\n", "hold: false\nsteps:\n"), &[]);
    assert!(!strings(get(container(&unheld, "one"), &["command"]))
        .iter()
        .any(|a| a.starts_with("--hold-until")));
}

#[test]
fn a_job_around_the_same_pod() {
    let ex = std::fs::read_to_string(root().join("examples/tekton-compatible.steps.yaml")).expect("example");
    let pod = rendered(&ex, &[]);
    let job = rendered(&ex, &["--kind", "job"]);
    assert_eq!(text(get(&job, &["apiVersion"])), "batch/v1");
    assert_eq!(text(get(&job, &["kind"])), "Job");
    assert_eq!(get(&job, &["metadata"]), get(&pod, &["metadata"]));
    assert_eq!(get(&job, &["spec", "backoffLimit"]), &Value::Num("0".into()));
    assert_eq!(get(&job, &["spec", "template", "spec"]), get(&pod, &["spec"]));
    assert_eq!(get(&job, &["spec", "template", "metadata", "labels"]), get(&pod, &["metadata", "labels"]));
    // the file's job map is merged, and says otherwise
    let job =
        rendered(&format!("{ex}job: {{backoffLimit: 2, ttlSecondsAfterFinished: 60}}\n"), &["--kind=job"]);
    assert_eq!(get(&job, &["spec", "backoffLimit"]), &Value::Num("2".into()));
    assert_eq!(get(&job, &["spec", "ttlSecondsAfterFinished"]), &Value::Num("60".into()));
}

#[test]
fn timeouts_on_error_workspace_and_the_pod_map() {
    let pod = rendered(
        "name: t
image: alpine
timeout: 1m30s
workspace: /workspace/
metadata: {labels: {app: ci}, annotations: {a: b}}
pod: {serviceAccountName: ci, nodeSelector: {disk: ssd}}
steps:
  - {name: a, run: a, timeout: 10m, onError: continue}
  - {name: b, run: b, timeout: 2.5}
",
        &[],
    );
    assert_eq!(get(&pod, &["spec", "activeDeadlineSeconds"]), &Value::Num("90".into()));
    assert_eq!(text(get(&pod, &["spec", "serviceAccountName"])), "ci");
    assert_eq!(text(get(&pod, &["spec", "nodeSelector", "disk"])), "ssd");
    assert_eq!(text(get(&pod, &["metadata", "labels", "app"])), "ci");
    let a = strings(get(container(&pod, "a"), &["command"]));
    assert!(a.contains(&"--timeout=10m") && a.contains(&"--on-error=continue"), "{a:?}");
    assert!(strings(get(container(&pod, "b"), &["command"])).contains(&"--timeout=2.5"));
    for c in ["a", "b"] {
        let last = items(get(container(&pod, c), &["volumeMounts"])).last().expect("mounts");
        assert_eq!(
            (text(get(last, &["name"])), text(get(last, &["mountPath"]))),
            ("workspace", "/workspace")
        );
    }
    assert_eq!(names(get(&pod, &["spec", "volumes"])).last(), Some(&"workspace"));
}

// --- wiring: holds, finally, sidecars, the join ----------------------------------------

#[test]
fn a_diamond_with_a_sidecar_ends_on_one_path() {
    let pod = rendered(
        "name: w
image: alpine
steps:
  - {name: a, run: a}
  - {name: b, needs: [a], run: b}
  - {name: c, needs: [a], run: c}
  - {name: d, needs: [b, c], run: d}
sidecars:
  - {name: db, command: [postgres], ready: tcp://127.0.0.1:5432}
",
        &[],
    );
    assert_eq!(names(get(&pod, &["spec", "containers"])), ["db", "a", "b", "c", "d", "steps-end"]);
    assert_eq!(
        strings(get(container(&pod, "db"), &["command"]))[..4],
        [
            "/tools/entrypoint",
            "--stop-when=/steps/steps-end/out",
            "--post-file=/steps/db/out",
            "--termination-path=/steps/db/termination"
        ]
    );
    // d may be skipped as soon as b fails while c still runs: the end is b, c and d
    assert_eq!(
        strings(get(container(&pod, "steps-end"), &["command"])),
        [
            "/bin/entrypoint",
            "--always",
            "--wait=/steps/b/out",
            "--wait=/steps/c/out",
            "--wait=/steps/d/out",
            "--post-file=/steps/steps-end/out",
            "--termination-path=/steps/steps-end/termination",
            "--",
            "/bin/waitfor",
            "/"
        ]
    );
    for s in ["a", "b", "c", "d"] {
        let cmd = strings(get(container(&pod, s), &["command"]));
        assert!(cmd.contains(&"--hold-until=/steps/steps-end/out"), "{s}: {cmd:?}");
    }
    // the step that waits for no step waits for the sidecar first, while it lives
    assert_eq!(
        strings(get(container(&pod, "a"), &["command"]))[..8],
        [
            "/tools/waitfor",
            "--always",
            "--while-alive=/steps/db/out",
            "tcp://127.0.0.1:5432",
            "--",
            "/tools/entrypoint",
            "--while-alive=/steps/db/out",
            "--post-file=/steps/a/out"
        ]
    );
    assert_eq!(
        strings(get(&pod, &["spec", "initContainers", "0", "command"])),
        ["/bin/copier", "/bin/entrypoint", "/bin/waitfor", "/tools/"]
    );
    // native sidecars: no --stop-when, no join, restartPolicy Always, after the pod's init containers
    let native = rendered(
        "name: w
image: alpine
pod: {initContainers: [{name: setup, image: alpine, command: [true]}]}
steps:
  - {name: a, run: a}
  - {name: b, needs: [], run: b}
sidecars:
  - {name: db, command: [postgres]}
",
        &["--native-sidecars"],
    );
    assert_eq!(names(get(&native, &["spec", "initContainers"])), ["copy-tools", "setup", "db"]);
    // a and b both end the work, and hold: on one marker, the join's
    assert_eq!(names(get(&native, &["spec", "containers"])), ["a", "b", "steps-end"]);
    let db = container(&native, "db");
    assert_eq!(text(get(db, &["restartPolicy"])), "Always");
    assert!(!strings(get(db, &["command"])).iter().any(|a| a.starts_with("--stop-when")));
    assert_eq!(strings(get(container(&native, "a"), &["command"]))[4], "--hold-until=/steps/steps-end/out");
}

#[test]
fn finally_steps_run_regardless_after_the_end_of_the_steps() {
    let pod = rendered(
        "name: f
image: alpine
steps:
  - {name: a, run: a}
  - {name: b, needs: [a], run: b}
  - {name: c, needs: [a], run: c}
finally:
  - {name: report, run: r}
  - {name: notify, run: notify}
sidecars:
  - {name: proxy, command: [proxy]}
",
        &[],
    );
    let cmd = |c: &str| {
        strings(get(container(&pod, c), &["command"])).iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    // b and c: either may still run when the other failed
    assert_eq!(cmd("report")[1..4], ["--wait=/steps/b/out", "--wait=/steps/c/out", "--always"]);
    // each finally step after the one before it: the last one ends the work
    assert_eq!(cmd("notify")[1..3], ["--wait=/steps/report/out", "--always"]);
    assert_eq!(cmd("proxy")[1], "--stop-when=/steps/notify/out");
    assert_eq!(names(get(&pod, &["spec", "containers"])), ["proxy", "a", "b", "c", "report", "notify"]);
}

// --- requests ---------------------------------------------------------------------

/// The requests of each container, as written in the output.
fn requests(pod: &Value, resource: &str) -> Vec<(String, Option<String>)> {
    items(get(pod, &["spec", "containers"]))
        .iter()
        .map(|c| {
            let name = text(get(c, &["name"])).to_string();
            let r = has(c, "resources")
                .then(|| get(c, &["resources"]))
                .filter(|r| has(r, "requests") && has(get(r, &["requests"]), resource))
                .map(|r| text(get(r, &["requests", resource])).to_string());
            (name, r)
        })
        .collect()
}

#[test]
fn requests_are_sized_for_what_runs_at_once_where_greedy_guesses_fail() {
    // a -> b; c alone. By levels {a, c} = 2 cores; the answer is {b, c} = 4 cores.
    // Scaled by 4/5: the pod asks 4 cores, the relative weights stay.
    let pod = rendered(
        "name: r
image: alpine
steps:
  - {name: a, run: a, resources: {requests: {cpu: '1'}}}
  - {name: b, run: b, resources: {requests: {cpu: '3'}, limits: {cpu: '4'}}}
  - {name: c, needs: [], run: c, resources: {requests: {cpu: 1000m}}}
sidecars:
  - {name: db, command: [db], resources: {requests: {cpu: 500m}}}
",
        &[],
    );
    assert_eq!(
        requests(&pod, "cpu"),
        [
            ("db".to_string(), Some("500m".to_string())),
            ("a".to_string(), Some("800m".to_string())),
            ("b".to_string(), Some("2400m".to_string())),
            ("c".to_string(), Some("800m".to_string())),
            // the join (b and c end the work, and there is a sidecar to stop): its own small request
            ("steps-end".to_string(), Some("50m".to_string())),
        ]
    );
    assert_eq!(text(get(container(&pod, "b"), &["resources", "limits", "cpu"])), "4");
    // p, q -> m: the heaviest first takes m (5); the answer is {p, q} = 6.
    // Memory given by limits only counts as the limit, and gets a request.
    let pod = rendered(
        "name: r
image: alpine
steps:
  - {name: p, run: p, resources: {limits: {memory: 3Gi}}}
  - {name: q, needs: [], run: q, resources: {requests: {memory: 3Gi}}}
  - {name: m, needs: [p, q], run: m, resources: {requests: {memory: 5Gi}, limits: {memory: 6Gi}}}
",
        &[],
    );
    // 6/11 of each, in bytes, the remainder to the largest fraction: 6 GiB in all
    let got = requests(&pod, "memory");
    assert_eq!(
        got,
        [
            ("p".to_string(), Some("1757032076".to_string())),
            ("q".to_string(), Some("1757032075".to_string())),
            ("m".to_string(), Some("2928386793".to_string())),
            // p, q and m all end the work (m may be skipped while p runs): the join marks it
            ("steps-end".to_string(), Some("16Mi".to_string())),
        ]
    );
    let total: u64 =
        got[..3].iter().map(|(_, r)| r.as_deref().unwrap_or("0").parse::<u64>().unwrap_or(0)).sum();
    assert_eq!(total, 6 << 30);
    assert_eq!(text(get(container(&pod, "p"), &["resources", "limits", "memory"])), "3Gi");
    // a plain list: nothing can run at once, the largest step is the answer, and
    // requests that already add up to it are left as written
    let pod = rendered(
        "name: r\nimage: alpine\nsteps:\n  - {name: a, run: a, resources: {requests: {cpu: 250m}}}\n  - {name: b, run: b}\n",
        &[],
    );
    assert_eq!(requests(&pod, "cpu")[0].1.as_deref(), Some("250m"));
    // other resources (extended ones must equal their limits) are kept as written
    let pod = rendered(
        "name: r
image: alpine
steps:
  - {name: a, run: a, resources: {limits: {nvidia.com/gpu: 1}}}
  - {name: b, run: b, resources: {limits: {nvidia.com/gpu: 1}}}
",
        &[],
    );
    assert!(!has(get(container(&pod, "a"), &["resources"]), "requests"));
}

// --- pictures ---------------------------------------------------------------------

const PICTURED: &str = "name: pic
image: alpine
steps:
  - {name: fetch, run: f}
  - {name: test, run: t}
  - {name: lint, needs: [fetch], run: l}
  - {name: publish, needs: [test, lint], run: p}
finally:
  - {name: report, run: r}
sidecars:
  - {name: db, command: [db], ready: tcp://127.0.0.1:5432}
";

#[test]
fn graph_as_mermaid() {
    let (_d, r) = on_file(PICTURED, &["graph"]);
    assert_eq!(
        ok(&r),
        "flowchart TD
  s_fetch[\"fetch\"]
  s_test[\"test\"]
  s_lint[\"lint\"]
  s_publish[\"publish\"]
  subgraph finally_steps [\"finally\"]
    s_report[\"report\"]
  end
  subgraph sidecar_containers [\"sidecars\"]
    s_db([\"db\"])
  end
  s_fetch --> s_test
  s_fetch --> s_lint
  s_test --> s_publish
  s_lint --> s_publish
  s_test -.-> s_report
  s_lint -.-> s_report
  s_publish -.-> s_report
  s_db -.->|\"ready: tcp://127.0.0.1:5432\"| s_fetch
"
    );
}

#[test]
fn graph_as_dot() {
    let (_d, r) = on_file(PICTURED, &["graph", "--format", "dot"]);
    assert_eq!(
        ok(&r),
        "digraph \"pic\" {
  node [shape=box, style=rounded];
  \"fetch\";
  \"test\";
  \"lint\";
  \"publish\";
  subgraph cluster_finally {
    label=\"finally\";
    style=dashed;
    \"report\";
  }
  subgraph cluster_sidecars {
    label=\"sidecars\";
    style=dotted;
    \"db\" [shape=cylinder, style=solid];
  }
  \"fetch\" -> \"test\";
  \"fetch\" -> \"lint\";
  \"test\" -> \"publish\";
  \"lint\" -> \"publish\";
  \"test\" -> \"report\" [style=dashed];
  \"lint\" -> \"report\" [style=dashed];
  \"publish\" -> \"report\" [style=dashed];
  \"db\" -> \"fetch\" [style=dotted, label=\"ready: tcp://127.0.0.1:5432\"];
}
"
    );
}

// --- the README and docs/steps.md keep true ------------------------------------------

/// The code block after `heading` in the README (or, not there, in
/// docs/steps.md) that starts with `fence`.
fn readme_block(heading: &str, fence: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let steps = std::fs::read_to_string(root().join("docs/steps.md")).expect("docs/steps.md");
    let text = if readme.contains(heading) { &readme } else { &steps };
    let after =
        text.split_once(heading).unwrap_or_else(|| panic!("README and docs/steps.md have no {heading}")).1;
    let body = after.split_once(fence).unwrap_or_else(|| panic!("no {fence} after {heading}")).1;
    body.split_once("```\n").unwrap_or_else(|| panic!("unclosed block after {heading}")).0.to_string()
}

#[test]
fn the_readme_shows_what_steps_renders() {
    let seed = readme_block("## The rendered pod", "```yaml\n");
    let r = steps_in(&root().join("examples"), &["render", "seed.steps.yaml"]);
    assert_eq!(ok(&r), seed, "README's rendering of the seed differs from steps' own");
    // the quick start: its file renders, to as many lines as it says
    let hello = readme_block("## Quick start", "```yaml\n");
    let (_d, r) = on_file(&hello, &["render"]);
    let commands = readme_block("Then:", "```sh\n");
    let lines = ok(&r).lines().count();
    assert!(commands.contains(&format!("# the whole Pod: {lines} lines")), "{commands}");
    assert_eq!(hello.lines().count(), 10, "the quick start's file");
    // the reference of the file's keys is a file steps takes
    let reference = readme_block("## The file", "```yaml\n");
    let (_d, r) = on_file(&reference, &["check"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{reference}");
}

/// Strings that YAML readers take for something else, or cannot hold raw, come
/// out of the YAML writer so that PyYAML (YAML 1.1) reads them back exactly.
#[test]
fn awkward_strings_survive_a_yaml_1_1_reader() {
    let awkward = [
        "",
        " ",
        "yes",
        "No",
        "ON",
        "y",
        "n",
        "~",
        "null",
        "true",
        "0644",
        "08",
        "1e3",
        "1_000",
        "12:30",
        "2001-12-14",
        ".inf",
        "-.5",
        "+1",
        "-",
        "--",
        "--post-file=/steps/a/out",
        "a: b",
        "a:b",
        "a #b",
        "#x",
        "[x]",
        "{x}",
        "x, y",
        "*x",
        "&x",
        "!x",
        "|x",
        ">x",
        "%x",
        "@x",
        "`x",
        "'x",
        "\"x",
        "trailing ",
        " leading",
        "a  b",
        "tab\there",
        "bell\u{7}",
        "del\u{7f}",
        "nel\u{85}",
        "ls\u{2028}",
        "bom\u{feff}",
        "é",
        "日本",
        "🦀",
        "back\\slash",
        "<<",
        "=",
        "?x",
        "line\n",
        "two\nlines",
        "keep\n\n\n",
        "\nleading newline",
        "  indented\nsecond",
        "blank\n  \nline",
        "crlf\r\nline",
        "a:\n",
        "echo \"$x\" | tr a b\nexit 3\n",
    ];
    let esc = |s: &str| -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    };
    let env: Vec<String> = awkward
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{{\"name\": \"V{i}\", \"value\": {}}}", esc(s)))
        .collect();
    let keys: Vec<String> =
        awkward.iter().enumerate().map(|(i, s)| format!("{}: {}", esc(&format!("{s}{i}")), esc(s))).collect();
    let input = format!(
        "{{\"name\": \"awk\", \"image\": \"i\", \"steps\": [{{\"name\": \"a\", \"run\": {}, \"env\": [{}]}}], \"pod\": {{\"futureField\": {{{}}}}}}}\n",
        esc(awkward[awkward.len() - 1]),
        env.join(", "),
        keys.join(", ")
    );
    let d = TempDir::new("steps-awkward");
    std::fs::write(d.join("in.json"), &input).expect("write");
    let y = steps_in(d.path(), &["render", "in.json"]);
    std::fs::write(d.join("out.yaml"), ok(&y)).expect("write");
    let j = steps_in(d.path(), &["render", "-o", "json", "in.json"]);
    std::fs::write(d.join("out.json"), ok(&j)).expect("write");
    let script = "import json, yaml\n\
                  src = json.load(open('in.json'))['steps'][0]\n\
                  pod = json.load(open('in.json'))['pod']\n\
                  for out in (yaml.safe_load(open('out.yaml')), json.load(open('out.json'))):\n\
                  \x20   c = out['spec']['containers'][0]\n\
                  \x20   assert c['env'] == src['env'], [(a, b) for a, b in zip(c['env'], src['env']) if a != b]\n\
                  \x20   assert out['spec']['futureField'] == pod['futureField']\n\
                  \x20   assert c['command'][-1].replace('$$', '$') == src['run'], c['command'][-1]\n\
                  print('ok')\n";
    let r = run(Command::new(venv().join("bin/python")).current_dir(d.path()).args(["-c", script]));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "ok\n", ""));
}

/// Graphviz itself reads every example's picture.
#[test]
fn every_example_draws_with_graphviz() {
    let d = TempDir::new("steps-dot");
    for ex in examples() {
        let path = ex.to_string_lossy().into_owned();
        let r = steps_in(&root(), &["graph", "--format", "dot", &path]);
        let dot = d.join("g.dot");
        std::fs::write(&dot, ok(&r)).expect("write");
        let g: Ran = Command::new("dot")
            .arg("-Tsvg")
            .arg(&dot)
            .output()
            .unwrap_or_else(|e| panic!("dot: {e} (`make blackbox-steps` installs graphviz)"))
            .into();
        assert_eq!((g.code, g.stderr.as_str()), (0, ""), "dot -Tsvg {path}");
        assert!(g.stdout.contains("<svg"), "{path}");
    }
}

#[test]
fn the_readme_shows_what_steps_draws() {
    let picture = readme_block("## Pictures", "```mermaid\n");
    let r = steps_in(&root().join("examples"), &["graph", "finally.steps.yaml"]);
    assert_eq!(ok(&r), picture);
}

/// The same for random strings of the awkward characters (a fixed seed).
#[test]
fn random_strings_survive_a_yaml_1_1_reader() {
    let d = TempDir::new("steps-random");
    let make = "import json, random\n\
                random.seed(7)\n\
                alphabet = list('ayno  :#--\\n\\n\\t\"\\'01.e\\\\{}[],&*!|>%@`~?<=') + ['\\u00e9', '\\u0085', '\\u2028', '\\r', '\\u007f', '\\ufeff']\n\
                word = lambda: ''.join(random.choice(alphabet) for _ in range(random.randrange(10)))\n\
                env = [{'name': 'V%d' % i, 'value': word()} for i in range(3000)]\n\
                field = {word() + str(i): word() for i in range(3000)}\n\
                json.dump({'name': 'rnd', 'image': 'i', 'steps': [{'name': 'a', 'run': word() + 'x', 'env': env}], 'pod': {'futureField': field}}, open('in.json', 'w'))\n";
    let r = run(Command::new(venv().join("bin/python")).current_dir(d.path()).args(["-c", make]));
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "generating the input");
    let y = steps_in(d.path(), &["render", "in.json"]);
    std::fs::write(d.join("out.yaml"), ok(&y)).expect("write");
    let check = "import json, yaml\n\
                 src = json.load(open('in.json'))['steps'][0]\n\
                 out = yaml.safe_load(open('out.yaml'))\n\
                 c = out['spec']['containers'][0]\n\
                 bad = [(a, b) for a, b in zip(c['env'], src['env']) if a != b]\n\
                 assert not bad, bad[:5]\n\
                 assert out['spec']['futureField'] == json.load(open('in.json'))['pod']['futureField']\n\
                 print('ok')\n";
    let r = run(Command::new(venv().join("bin/python")).current_dir(d.path()).args(["-c", check]));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "ok\n", ""));
}

#[test]
fn a_ready_target_in_the_sidecars_own_directory_is_mounted_where_it_is_waited_for() {
    // With --layout volumes, the steps that wait for a sidecar's ready file (or
    // unix socket) in /steps/SIDECAR/ mount that directory, read-only: else they
    // would wait forever. (With subPath, /steps holds every directory.)
    for ready in ["/steps/db/ready", "unix:///steps/db/db.sock"] {
        let file = format!(
            "name: side\nimage: busybox\nsidecars:\n  - name: db\n    ready: {ready}\n    run: sleep 100\n\
             steps:\n  - name: a\n    run: echo a\n  - name: b\n    run: echo b\n"
        );
        let pod = rendered(&file, &["--layout=volumes"]);
        let a = container(&pod, "a");
        let mounts = mounts_of(a);
        assert!(mounts.contains(&"step-db /steps/db ro".to_string()), "{ready}: {mounts:?}");
        // b waits for a, not for the sidecar: it needs no such mount.
        let b = container(&pod, "b");
        assert!(
            !items(get(b, &["volumeMounts"])).iter().any(|m| text(get(m, &["name"])) == "step-db"),
            "{ready}"
        );
    }
}

// --- what a real cluster does to a rendered pod ---------------------------

/// The kubelet's expansion of `command` and `args` (Kubernetes'
/// third_party/forked/golang/expansion): `$$` is `$`, `$(NAME)` the value of a
/// declared variable, anything else as it is.
const KUBELET_EXPAND: &str = r#"def expand(s, env):
    out, i = [], 0
    while i < len(s):
        if s[i] == '$' and i + 1 < len(s):
            n = s[i + 1]
            if n == '$':
                out.append('$'); i += 2; continue
            if n == '(':
                j = s.find(')', i + 2)
                if j >= 0:
                    name = s[i + 2:j]
                    out.append(env[name] if name in env else '$(' + name + ')'); i = j + 1; continue
                out.append('$('); i += 2; continue
            out.append('$' + n); i += 2; continue
        out.append(s[i]); i += 1
    return ''.join(out)
"#;

#[test]
fn run_scripts_reach_the_shell_byte_for_byte() {
    let file = "name: dollars
image: alpine
steps:
  - name: a
    env: [{name: VAR, value: expanded}]
    run: |
      echo \"pid $$, var $(VAR), $$(VAR), ${HOME}, $1 $\"
      kill $$
  - name: b
    env: [{name: VAR, value: expanded}]
    command: [sh, -c, 'echo $(VAR) $$HOME']
    args: ['$(VAR)']
";
    let d = TempDir::new("steps-dollars");
    std::fs::write(d.join("in.yaml"), file).expect("write");
    let r = steps_in(d.path(), &["render", "-o", "json", "in.yaml"]);
    std::fs::write(d.join("out.json"), ok(&r)).expect("write");
    let script = format!(
        "import json, yaml\n{KUBELET_EXPAND}\
         src = yaml.safe_load(open('in.yaml'))['steps']\n\
         out = json.load(open('out.json'))['spec']['containers']\n\
         a, b = out[0], out[1]\n\
         env = {{'VAR': 'expanded'}}\n\
         assert a['command'][-1] == src[0]['run'].replace('$', '$$'), a['command'][-1]\n\
         assert expand(a['command'][-1], env) == src[0]['run']\n\
         assert b['command'][-3:] == src[1]['command'] and b['args'] == src[1]['args'], b\n\
         print('ok')\n"
    );
    let r = run(Command::new(venv().join("bin/python")).current_dir(d.path()).args(["-c", &script]));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "ok\n", ""));
    // for a player that does not expand (podman 4.3): as written
    let pod = rendered(file, &["--scripts", "as-is"]);
    let a = strings(get(container(&pod, "a"), &["command"]));
    assert_eq!(a.last().copied(), Some("echo \"pid $$, var $(VAR), $$(VAR), ${HOME}, $1 $\"\nkill $$\n"));
}

#[test]
fn a_script_that_starts_with_a_hash_bang_runs_under_its_interpreter() {
    let file = "name: bang
image: alpine
steps:
  - name: a
    run: |
      #!/bin/sh -eu
      echo \"as $0, $#: ${1-none}\"
";
    let pod = rendered(file, &[]);
    let cmd = strings(get(container(&pod, "a"), &["command"]));
    let tail: Vec<&str> = cmd.iter().skip_while(|a| **a != "--").skip(1).copied().collect();
    assert_eq!(
        tail,
        [
            "sh",
            "-c",
            "printf '%s' \"$$1\" >\"$$0\" && shift && exec \"$$@\" \"$$0\"",
            "/steps/a/script",
            "#!/bin/sh -eu\necho \"as $$0, $$#: $${1-none}\"\n",
            "/bin/sh",
            "-eu",
        ]
    );
    // run as the kubelet hands it on, with the script file in a directory here
    let d = TempDir::new("steps-bang");
    let file_path = d.join("script").to_string_lossy().into_owned();
    let argv: Vec<String> = tail
        .iter()
        .map(|a| if *a == "/steps/a/script" { file_path.clone() } else { a.replace("$$", "$") })
        .collect();
    let r = run(Command::new(&argv[0]).args(&argv[1..]));
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, format!("as {file_path}, 0: none\n").as_str(), "")
    );
    problems(
        "name: bang\nimage: alpine\nsteps:\n  - name: a\n    run: \"#!python3\\nprint(1)\"\n",
        &["5: step 'a': run: '#!python3': the interpreter is an absolute path (like #!/usr/bin/env python3)"],
    );
}

const READY: &str = "name: ready
image: alpine
sidecars:
  - name: db
    command: [db]
    ready: tcp://127.0.0.1:5432
  - name: cache
    command: [cache]
    ready: /steps/cache/up
  - name: log
    command: [log]
steps:
  - {name: a, run: a}
  - {name: b, run: b}
  - {name: c, needs: [], run: c}
finally:
  - {name: report, run: r}
";

#[test]
fn a_wait_for_a_ready_target_fails_once_its_sidecar_has_ended() {
    let pod = rendered(READY, &[]);
    let cmd = |c: &str| {
        strings(get(container(&pod, c), &["command"])).iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    // the steps that wait for no step wait for the ready targets while their sidecars live;
    // waitfor goes on (--always) so that entrypoint, seeing the sidecar ended, marks the step
    // skipped, and the skip cascades
    for s in ["a", "c"] {
        assert_eq!(
            cmd(s)[..11],
            [
                "/tools/waitfor",
                "--always",
                "--while-alive=/steps/db/out",
                "--while-alive=/steps/cache/out",
                "tcp://127.0.0.1:5432",
                "/steps/cache/up",
                "--",
                "/tools/entrypoint",
                "--while-alive=/steps/db/out",
                "--while-alive=/steps/cache/out",
                &format!("--post-file=/steps/{s}/out"),
            ],
            "{s}"
        );
    }
    assert_eq!(cmd("b")[..2], ["/tools/entrypoint", "--wait=/steps/a/out"]);
    // the finally step still runs whatever happened
    assert_eq!(
        cmd("report")[..4],
        ["/tools/entrypoint", "--wait=/steps/b/out", "--wait=/steps/c/out", "--always"]
    );
    // with --layout volumes the waiters mount the ready sidecars' directories (post files, locks)
    let legacy = rendered(READY, &["--layout", "volumes"]);
    let a = mounts_of(container(&legacy, "a"));
    for m in ["step-db /steps/db ro", "step-cache /steps/cache ro"] {
        assert!(a.contains(&m.to_string()), "{a:?}");
    }
    assert!(!a.iter().any(|m| m.starts_with("step-log")), "{a:?}");
    // native sidecars too
    let native = rendered(READY, &["--native-sidecars"]);
    assert!(strings(get(container(&native, "a"), &["command"])).contains(&"--while-alive=/steps/db/out"));
}

#[test]
fn a_ready_path_must_be_where_the_steps_can_see_it() {
    let file = |ready: &str, mounts: &str| {
        format!(
            "name: r
image: alpine
workspace: /work
pod: {{volumes: [{{name: shared, emptyDir: {{}}}}]}}
sidecars:
  - name: db
    command: [db]
    ready: {ready}
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  - name: other
    command: [o]
steps:
  - name: a
    run: a
{mounts}  - name: b
    run: b
"
        )
    };
    let both = "    volumeMounts: [{name: shared, mountPath: /shared/}]\n";
    for ready in [
        "/steps/db/ready",
        "unix:///steps/db/s.sock",
        "/work/db.ready",
        "/shared/up",
        "unix:///shared/./s.sock",
    ] {
        let (_d, r) = on_file(&file(ready, both), &["check"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{ready}");
    }
    for (ready, mounts) in [
        ("/tmp/ready", both),
        ("unix:///var/run/db.sock", both),
        ("/steps/other/ready", both),
        ("/steps/db", both),
        ("/tools/x", both),
        ("/shared/up", ""),
    ] {
        let text = file(ready, mounts);
        let line = text.lines().position(|l| l.contains("ready:")).map_or(0, |i| i + 1);
        problems(
            &text,
            &[&format!("{line}: sidecar 'db': ready: '{ready}' is where only the sidecar sees it (give a path in /steps/db/, the workspace, or a volume mounted in the sidecar and in the steps that wait for it)")],
        );
    }
    // a target that does not parse is one problem, its own, not also a place
    let text = file("unix://", both);
    let line = text.lines().position(|l| l.contains("ready:")).map_or(0, |i| i + 1);
    problems(
        &text,
        &[&format!("{line}: sidecar 'db': bad ready target 'unix://': no socket path (unix:///PATH)")],
    );
}

#[test]
fn check_knows_the_api_servers_rules() {
    problems(
        "name: api
image: alpine
timeout: 1193047h
pod:
  activeDeadlineSeconds: 0
  volumes:
    - {name: cache, emptyDir: {}}
    - {name: cache, emptyDir: {}}
  initContainers:
    - {name: copy-tools, image: x}
    - {name: setup, image: x}
    - {name: setup, image: x}
steps:
  - name: a
    timout: 5m
    onerror: continue
    Run: echo
    run: echo
    env:
      - {name: ANSWER, value: yes}
      - {name: MODE, value: 0755}
      - {name: FINE, value: '0755'}
    volumeMounts:
      - {name: cache, mountPath: /cache}
      - {name: cache, mountPath: /cache/}
      - {name: nowhere, mountPath: /nowhere}
      - {name: cache, mountPath: //tools}
      - {name: cache, mountPath: /./steps}
    resources:
      requests: {nvidia.com/gpu: 2}
      limits: {nvidia.com/gpu: 1}
finally:
  - name: f
    needs: [a]
    run: f
",
        &[
            "3: timeout: '1193047h' is 4294969200 s, more than the 4294967295 s (about 136 years) the API allows for activeDeadlineSeconds",
            "5: pod.activeDeadlineSeconds: expected a whole number of seconds from 1 to 4294967295",
            "5: pod.activeDeadlineSeconds: the file's timeout sets it already (give one)",
            "8: pod.volumes: duplicate name 'cache' (first at line 7)",
            "10: pod.initContainers: 'copy-tools' is the name of one of the tools' own containers",
            "12: pod.initContainers: duplicate name 'setup' (first at line 11)",
            "15: step 'a': unknown key 'timout' (did you mean 'timeout'?)",
            "16: step 'a': unknown key 'onerror' (did you mean 'onError'?)",
            "17: step 'a': unknown key 'Run' (did you mean 'run'?)",
            "20: step 'a': env 'ANSWER': value must be a string: quote it (found a boolean)",
            "21: step 'a': env 'MODE': value must be a string: quote it (found a number)",
            "25: step 'a': volumeMounts: '/cache/' is mounted twice (first at line 24)",
            "26: step 'a': volumeMounts: no volume 'nowhere' (declare it in pod.volumes)",
            "27: step 'a': volumeMounts: '//tools' clashes with the tools' own /tools",
            "28: step 'a': volumeMounts: '/./steps' clashes with the tools' own /steps",
            "30: step 'a': the nvidia.com/gpu request is more than its limit",
            "34: finally step 'f': a finally step has no needs (each runs after every step, and after the finally step before it)",
        ],
    );
}

#[test]
fn smaller_things_a_user_notices() {
    // the second of two duplicates is the one told, whichever list comes first
    problems(
        "name: x\nimage: i\nsidecars:\n  - {name: a, command: [a]}\nsteps:\n  - {name: a, run: a}\n",
        &["6: duplicate name 'a' (first at line 4)"],
    );
    // a tab used as indentation, on its own line
    problems(
        "name: x\nimage: i\nsteps:\n  - name: a\n    run: a\n\t- name: b\n",
        &["6: a tab used as indentation (YAML indents with spaces)"],
    );
    // the pod's name is a DNS-1123 subdomain
    let (_d, r) = on_file("name: ci.build-1\nimage: i\nsteps: [{name: a, run: a}]\n", &["check"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    problems(
        &format!("name: {}\nimage: i\nsteps: [{{name: a, run: a}}]\n", "a".repeat(254)),
        &[&format!("1: invalid name '{}': the pod's name is a DNS-1123 subdomain (up to 253 of a-z, 0-9, '-' and '.'; a letter or digit at each end and around each dot)", "a".repeat(254))],
    );
    // a trailing ---, and x- keys holding anchors
    let text = "name: x\nx-defaults: &d {image: busybox}\nsteps:\n  - {<<: *d, name: a, run: a}\n---\n";
    let pod = rendered(text, &[]);
    assert_eq!(text_of(get(container(&pod, "a"), &["image"])), "busybox");
    // options after FILE
    let (_d, r) = on_file("name: x\nimage: i\nsteps: [{name: a, run: a}]\n", &["render"]);
    let d = TempDir::new("steps-after");
    std::fs::write(d.join("f.yaml"), "name: x\nimage: i\nsteps: [{name: a, run: a}]\n").expect("write");
    let after = steps_in(d.path(), &["render", "f.yaml", "--kind", "job"]);
    assert!(ok(&after).contains("kind: Job\n"));
    assert!(ok(&r).contains("kind: Pod\n"));
}

fn text_of(v: &Value) -> &str {
    text(v)
}

/// A chain of `n` steps.
fn chain(n: usize) -> String {
    let mut f = String::from("name: chain\nimage: alpine\nsteps:\n");
    for i in 0..n {
        f += &format!("  - name: s{i}\n    run: echo {i}\n");
    }
    f
}

#[test]
fn the_rendering_grows_linearly_and_says_when_it_is_too_large() {
    let d = TempDir::new("steps-size");
    for n in [100, 1000] {
        std::fs::write(d.join(&format!("c{n}.yaml")), chain(n)).expect("write");
    }
    let start = std::time::Instant::now();
    let big = steps_in(d.path(), &["render", "-o", "json", "c1000.yaml"]);
    let took = start.elapsed();
    let small = steps_in(d.path(), &["render", "-o", "json", "c100.yaml"]);
    assert!(took < std::time::Duration::from_secs(1), "1000 steps took {took:?}");
    // past 256 KiB: a warning that names server-side apply, with the compact size
    std::fs::write(d.join("big.json"), &big.stdout).expect("write");
    let size = run(Command::new(venv().join("bin/python")).current_dir(d.path()).args([
        "-c",
        "import json; print(len(json.dumps(json.load(open('big.json')), separators=(',', ':')).encode()))",
    ]));
    let bytes: usize = size.stdout.trim().parse().expect("a size");
    assert_eq!(
        (big.code, big.stderr.clone()),
        (0, format!("steps: c1000.yaml: warning: the Pod is {} KiB of JSON ({bytes} bytes), more than the 256 KiB that client-side kubectl apply can keep in its last-applied annotation: apply it with kubectl apply --server-side (or kubectl create)\n", bytes.div_ceil(1024)))
    );
    assert_eq!((small.code, small.stderr.as_str()), (0, ""));
    let ratio = big.stdout.len() as f64 / small.stdout.len() as f64;
    assert!(ratio < 10.5, "1000 steps are {ratio} times 100 steps: not linear");
    // past 1.5 MiB (the volume-per-step layout grows with the square): refused, a problem of the file
    let r = steps_in(d.path(), &["render", "--layout", "volumes", "c1000.yaml"]);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    let (head, tail) = r.stderr.split_once(" of JSON (").expect(&r.stderr);
    assert!(head.starts_with("steps: c1000.yaml:3: the Pod is ") && head.ends_with(" MiB"), "{}", r.stderr);
    assert!(tail.ends_with(" bytes), more than the 1.5 MiB the API server can store (etcd's limit): split the steps into several pods\n"), "{}", r.stderr);
    let n: usize = tail.split_once(' ').map(|(n, _)| n).unwrap_or_default().parse().expect("bytes");
    assert!(n > 1536 * 1024, "{n}");
}

#[test]
fn a_rendering_without_memory_says_so_in_one_line() {
    let d = TempDir::new("steps-oom");
    std::fs::write(d.join("c.yaml"), chain(1000)).expect("write");
    let r = run(Command::new("prlimit")
        .current_dir(d.path())
        .arg("--as=200000000")
        .arg(steps_bin())
        .args(["render", "--layout", "volumes", "c.yaml"]));
    assert_eq!((r.code, r.stdout.as_str()), (125, ""), "{r:?}");
    assert!(
        r.stderr.starts_with("steps: out of memory (")
            && r.stderr.ends_with(" bytes more could not be had)\n"),
        "{:?}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1);
}

#[test]
fn the_tools_own_containers_are_restricted_and_sized() {
    let ready = rendered(READY, &[]);
    let diamond = rendered(
        "name: d\nimage: i\nsteps:\n  - {name: a, run: a}\n  - {name: b, needs: [a], run: b}\n  - {name: c, needs: [a], run: c}\n",
        &[],
    );
    // --layout volumes (podman 4.3, which gives a volume to the first container that
    // mounts it): the init container mounts the join's volume first, for the tools' user
    let legacy = rendered(
        "name: d\nimage: i\nsteps:\n  - {name: a, run: a}\n  - {name: b, needs: [a], run: b}\n  - {name: c, needs: [a], run: c}\n",
        &["--layout", "volumes"],
    );
    assert_eq!(
        mounts_of(container(&legacy, "copy-tools")),
        ["tools /tools", "step-steps-end /steps/steps-end"]
    );
    assert_eq!(mounts_of(container(&diamond, "copy-tools")), ["tools /tools"]);
    for c in [container(&ready, "copy-tools"), container(&diamond, "steps-end")] {
        for (k, v) in [
            ("runAsNonRoot", Value::Bool(true)),
            ("runAsUser", Value::Num("65532".into())),
            ("allowPrivilegeEscalation", Value::Bool(false)),
            ("readOnlyRootFilesystem", Value::Bool(true)),
        ] {
            assert_eq!(get(c, &["securityContext", k]), &v, "{k}");
        }
        assert_eq!(strings(get(c, &["securityContext", "capabilities", "drop"])), ["ALL"]);
        assert_eq!(text(get(c, &["securityContext", "seccompProfile", "type"])), "RuntimeDefault");
        for kind in ["requests", "limits"] {
            assert_eq!(text(get(c, &["resources", kind, "cpu"])), "50m");
            assert_eq!(text(get(c, &["resources", kind, "memory"])), "16Mi");
        }
    }
}

#[test]
fn requests_equal_to_limits_cannot_stay_guaranteed_when_sized() {
    let file = "name: g
image: alpine
steps:
  - name: a
    run: a
    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}
  - name: b
    run: b
    resources: {limits: {cpu: 3, memory: 1Gi}}
  - name: c
    needs: []
    run: c
    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}
";
    let warning = "steps: build.yaml:6: warning: step 'a': its requests equal its limits, as a Guaranteed pod's do, but are sized for what runs at once (cpu 800m): the pod is Burstable; --pod-resources (Kubernetes 1.34+) makes it Guaranteed\n";
    for cmd in ["check", "render"] {
        let (_d, r) = on_file(file, &[cmd]);
        assert_eq!((r.code, r.stderr.as_str()), (0, warning), "{cmd}");
    }
}

#[test]
fn a_picture_past_mermaids_limit_says_so() {
    let (_d, r) = on_file(&chain(502), &["graph"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, "steps: build.yaml: warning: 501 edges, more than Mermaid's default limit of 500 (maxEdges): it draws none of them; --format dot draws any number\n")
    );
    let (_d, r) = on_file(&chain(502), &["graph", "--format", "dot"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
}

/// The container fields `steps` knows are the newest schema's, as the script makes them.
#[test]
fn the_container_fields_are_generated_from_the_newest_schema() {
    let r = run(Command::new(root().join("scripts/container_fields")).arg("--check").arg(venv()));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
}

// --- options for today's clusters ----------------------------------------

/// `kubernetes-validate --strict` of `files` against the schema of `version`.
#[track_caller]
fn validate_strictly(version: &str, files: &[PathBuf]) {
    let r = run(Command::new(venv().join("bin/kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", version])
        .args(files));
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", ""),
        "kubernetes-validate -k {version}"
    );
}

/// Renders `file` with `args`, all of it as it comes out (status, stdout, stderr).
fn render_all(file: &str, args: &[&str]) -> Ran {
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    on_file(file, &all).1
}

/// The first warning and the rendering of a steps file that warns.
fn rendered_with_warning(file: &str, args: &[&str]) -> (Value, String) {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let r = render_all(file, &all);
    assert_eq!(r.code, 0, "{r:?}");
    (json::parse(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout)), r.stderr)
}

const SIDECAR_AND_STEPS: &str = "name: today
image: alpine
sidecars:
  - {name: db, command: [db], ready: tcp://127.0.0.1:5432}
steps:
  - {name: a, run: a, resources: {requests: {cpu: 100m}}}
  - {name: b, run: b}
";

/// What each option changed: (native sidecars, pod-level resources, tools from the image).
fn options_seen(pod: &Value) -> (bool, bool, bool) {
    let spec = get(pod, &["spec"]);
    let native = has(spec, "initContainers") && names(get(spec, &["initContainers"])).contains(&"db");
    let image = has(get(spec, &["volumes", "0"]), "image");
    (native, has(spec, "resources"), image)
}

#[test]
fn a_kubernetes_version_turns_on_what_it_runs_by_default() {
    let default = render_all(SIDECAR_AND_STEPS, &[]);
    for (version, seen) in [
        ("1.25", (false, false, false)),
        ("1.28", (false, false, false)),
        ("1.29", (true, false, false)),
        ("1.33", (true, false, false)),
        ("1.34", (true, true, false)),
        ("1.35", (true, true, false)),
        ("1.36", (true, true, true)),
        ("v1.37.2", (true, true, true)),
        ("1.99", (true, true, true)),
        ("2.0", (true, true, true)),
    ] {
        assert_eq!(options_seen(&rendered(SIDECAR_AND_STEPS, &["--kubernetes", version])), seen, "{version}");
        // the same from the file's key
        let file = SIDECAR_AND_STEPS
            .replace("image: alpine\n", &format!("image: alpine\nkubernetes: \"{version}\"\n"));
        assert_eq!(options_seen(&rendered(&file, &[])), seen, "kubernetes: {version}");
    }
    // below what runs the options, the rendering is exactly today's
    assert_eq!(ok(&render_all(SIDECAR_AND_STEPS, &["--kubernetes", "1.28"])), ok(&default));
    // an explicit setting wins over the version's default, the command line over the file
    let file = SIDECAR_AND_STEPS
        .replace("image: alpine\n", "image: alpine\nkubernetes: \"1.37\"\ntoolsFrom: copy\n");
    assert_eq!(options_seen(&rendered(&file, &[])), (true, true, false));
    assert_eq!(options_seen(&rendered(&file, &["--kubernetes", "1.40"])), (true, true, false));
    assert_eq!(options_seen(&rendered(&file, &["--tools-from", "image"])), (true, true, true));
    assert_eq!(
        options_seen(&rendered(&file, &["--native-sidecars=false", "--pod-resources=false"])),
        (false, false, false)
    );
    assert_eq!(options_seen(&rendered(&file, &["--kubernetes", "1.30"])), (true, false, false));
    let file = SIDECAR_AND_STEPS.replace(
        "image: alpine\n",
        "image: alpine\nnativeSidecars: true\npodResources: true\ntoolsFrom: image\n",
    );
    assert_eq!(options_seen(&rendered(&file, &[])), (true, true, true));
    // (rendered as asked, with a warning for each the stated version does not run by default)
    let (pod, warned) = rendered_with_warning(&file, &["--kubernetes", "1.25"]);
    assert_eq!(options_seen(&pod), (true, true, true));
    assert_eq!(
        warned,
        "steps: build.yaml:3: warning: nativeSidecars: Kubernetes 1.25 runs sidecar containers only with the SidecarContainers feature gate on (on by default from 1.29)
steps: build.yaml:4: warning: podResources: Kubernetes 1.25 runs pod-level resources only with the PodLevelResources feature gate on (on by default from 1.34)
steps: build.yaml:5: warning: toolsFrom: Kubernetes 1.25 runs image volumes only with the ImageVolume feature gate on (on by default from 1.35)
"
    );
    // each option on its own
    assert_eq!(options_seen(&rendered(SIDECAR_AND_STEPS, &["--native-sidecars"])), (true, false, false));
    assert_eq!(options_seen(&rendered(SIDECAR_AND_STEPS, &["--pod-resources"])), (false, true, false));
    assert_eq!(options_seen(&rendered(SIDECAR_AND_STEPS, &["--tools-from=image"])), (false, false, true));
}

#[test]
fn an_option_a_stated_version_does_not_run_by_default_warns() {
    let file = SIDECAR_AND_STEPS.replace(
        "image: alpine\n",
        "image: alpine\nkubernetes: \"1.33\"\npodResources: true\nnativeSidecars: true\n",
    );
    let want = "steps: build.yaml:4: warning: podResources: Kubernetes 1.33 runs pod-level resources only with the PodLevelResources feature gate on (on by default from 1.34)\n";
    for cmd in ["check", "render"] {
        let (_d, r) = on_file(&file, &[cmd]);
        assert_eq!((r.code, r.stderr.as_str()), (0, want), "{cmd}");
    }
    let (pod, warned) = rendered_with_warning(&file, &["--tools-from", "image"]);
    assert_eq!(options_seen(&pod), (true, true, true), "rendered as asked");
    assert_eq!(
        warned,
        format!("{want}steps: build.yaml: warning: --tools-from image: Kubernetes 1.33 runs image volumes only with the ImageVolume feature gate on (on by default from 1.35)\n")
    );
    let (_d, r) = on_file(SIDECAR_AND_STEPS, &["check", "--kubernetes", "1.27", "--native-sidecars"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, "steps: build.yaml: warning: --native-sidecars: Kubernetes 1.27 runs sidecar containers only with the SidecarContainers feature gate on (on by default from 1.29)\n")
    );
}

#[test]
fn the_cluster_keys_of_the_file_are_checked() {
    problems(
        "name: k
image: alpine
kubernetes: 1.30
nativeSidecars: sometimes
podResources: 1
toolsFrom: registry
steps:
  - {name: a, run: a}
",
        &[
            "3: kubernetes: expected a version as a string, found a number (quote it: \"1.30\"; unquoted, YAML reads 1.30 as the number 1.3)",
            "4: nativeSidecars: expected true or false, found a string",
            "5: podResources: expected true or false, found a number",
            "6: toolsFrom: 'registry' is not copy or image",
        ],
    );
    // a version without a trailing zero is shown as written
    problems(
        "name: k\nimage: alpine\nkubernetes: 1.29\nsteps:\n  - {name: a, run: a}\n",
        &["3: kubernetes: expected a version as a string, found a number (quote it: \"1.29\"; unquoted, YAML reads 1.30 as the number 1.3)"],
    );
    problems(
        "name: k\nimage: alpine\nkubernetes: \"1.24\"\nsteps: [{name: a, run: a}]\n",
        &["3: kubernetes: 1.24 is older than 1.25, the oldest Kubernetes steps renders for"],
    );
    problems(
        "name: k\nimage: alpine\nkubernetes: latest\nsteps: [{name: a, run: a}]\n",
        &["3: kubernetes: 'latest' is not a Kubernetes version (like 1.36)"],
    );
    problems(
        "name: k\nimage: alpine\nkubernetes: [1, 36]\nsteps: [{name: a, run: a}]\n",
        &["3: kubernetes: expected a version as a string, found a list"],
    );
    problems(
        "name: k\nimage: alpine\ntoolsfrom: image\nsteps: [{name: a, run: a}]\n",
        &["3: unknown key 'toolsfrom' (did you mean 'toolsFrom'?)"],
    );
}

// --- retries ------------------------------------------------------------------------

#[test]
fn retries_of_a_step_are_the_wrappers_own() {
    let pod = rendered(
        "name: r
image: alpine
steps:
  - {name: fetch, run: wget x, retries: 3, retryDelay: 2s, timeout: 30s}
  - {name: build, run: make, retries: 2}
  - {name: test, run: t, retries: 0, retryDelay: 5s}
finally:
  - {name: report, run: r, retries: 1, retryDelay: 1m30s, onError: continue}
",
        &[],
    );
    let flags = |name: &str| -> Vec<String> {
        strings(get(container(&pod, name), &["command"]))
            .into_iter()
            .take_while(|a| *a != "--")
            .filter(|a| a.starts_with("--timeout") || a.starts_with("--on-error") || a.starts_with("--retr"))
            .map(String::from)
            .collect()
    };
    assert_eq!(flags("fetch"), ["--timeout=30s", "--retries=3", "--retry-delay=2s"]);
    assert_eq!(flags("build"), ["--retries=2"], "the wrapper's default delay (1 s)");
    assert!(flags("test").is_empty(), "retries: 0 is no retry");
    assert_eq!(flags("report"), ["--on-error=continue", "--retries=1", "--retry-delay=1m30s"]);
    // retries and retryDelay are steps' own keys, never container fields
    for name in ["fetch", "build", "test", "report"] {
        let c = container(&pod, name);
        assert!(!has(c, "retries") && !has(c, "retryDelay"), "{name}");
    }
    // the exact place in the wrapper's arguments
    assert_eq!(
        strings(get(container(&pod, "fetch"), &["command"]))[..6],
        [
            "/tools/entrypoint",
            "--timeout=30s",
            "--retries=3",
            "--retry-delay=2s",
            "--post-file=/steps/fetch/out",
            "--termination-path=/steps/fetch/termination"
        ]
    );
}

#[test]
fn retries_are_checked() {
    problems(
        "name: r
image: alpine
steps:
  - name: a
    run: a
    retries: -1
  - name: b
    run: b
    retries: 101
  - name: c
    run: c
    retries: \"3\"
  - name: d
    run: d
    retries: 1
    retryDelay: 1d
  - name: e
    run: e
    retryDelay: 5s
  - name: f
    run: f
    retrys: 3
sidecars:
  - name: db
    command: [db]
    retries: 2
    retryDelay: 1s
",
        &[
            "6: step 'a': retries: -1 is not from 0 to 100",
            "9: step 'b': retries: 101 is not from 0 to 100",
            "12: step 'c': retries: expected a whole number from 0 to 100, found a string",
            "16: step 'd': retryDelay: bad duration '1d' (like 30, 1.5s, 10m, 1h30m)",
            "19: step 'e': retryDelay without retries (give retries: N, the attempts after the first)",
            "22: step 'f': unknown key 'retrys' (did you mean 'retries'?)",
            "26: sidecar 'db': a sidecar has no retries (only steps and finally steps run again when they fail)",
            "27: sidecar 'db': a sidecar has no retryDelay (only steps and finally steps run again when they fail)",
        ],
    );
    // the bounds themselves, and a delay of 0 (again at once)
    let pod =
        rendered("name: r\nimage: alpine\nsteps:\n  - {name: a, run: a, retries: 100, retryDelay: 0}\n", &[]);
    let cmd = strings(get(container(&pod, "a"), &["command"]));
    assert_eq!(cmd[1..3], ["--retries=100", "--retry-delay=0"]);
}

// --- the tools from an image volume ------------------------------------------------

#[test]
fn the_tools_from_an_image_volume_need_no_init_container() {
    let pod = rendered(READY, &["--tools-from", "image"]);
    let spec = get(&pod, &["spec"]);
    assert!(!has(spec, "initContainers"), "no copy-tools: {spec:?}");
    assert_eq!(
        get(spec, &["volumes", "0"]),
        &json::parse(r#"{"name":"tools","image":{"reference":"localhost/ordered-steps:0.1.0","pullPolicy":"IfNotPresent"}}"#)
            .expect("json")
    );
    // the image's root is mounted: its /bin/entrypoint is /tools/bin/entrypoint
    let a = strings(get(container(&pod, "a"), &["command"]));
    assert_eq!(a[0], "/tools/bin/waitfor");
    assert!(a.contains(&"/tools/bin/entrypoint"), "{a:?}");
    for name in ["db", "a", "b", "c", "report"] {
        let c = container(&pod, name);
        assert_eq!(mounts_of(c)[0], "tools /tools ro", "{name}");
        let cmd = strings(get(c, &["command"]));
        assert!(cmd[0].starts_with("/tools/bin/"), "{name}: {cmd:?}");
        assert!(!cmd.iter().any(|a| a.starts_with("/tools/entrypoint") || a.starts_with("/tools/waitfor")));
    }
    // the join runs from the tools' image itself, as before
    let diamond = rendered(
        "name: d\nimage: i\nsteps:\n  - {name: a, run: a}\n  - {name: b, needs: [a], run: b}\n  - {name: c, needs: [a], run: c}\n",
        &["--tools-from", "image"],
    );
    let join = container(&diamond, "steps-end");
    assert_eq!(strings(get(join, &["command"]))[..2], ["/bin/entrypoint", "--always"]);
    assert_eq!(text(get(join, &["image"])), "localhost/ordered-steps:0.1.0");
    assert!(!mounts_of(join).iter().any(|m| m.starts_with("tools ")));
    // the pod's own init containers and native sidecars stay init containers
    let pod = rendered(
        &format!("{READY}pod:\n  initContainers:\n    - {{name: setup, image: busybox, command: [true]}}\n"),
        &["--tools-from", "image", "--native-sidecars"],
    );
    assert_eq!(names(get(&pod, &["spec", "initContainers"])), ["setup", "db", "cache", "log"]);
    // the tools' image named by the file
    let pod = rendered(
        &SEED_LIKE.replace("name: s\n", "name: s\ntools: registry.example/steps@sha256:0123\n"),
        &["--tools-from=image"],
    );
    assert_eq!(
        text(get(&pod, &["spec", "volumes", "0", "image", "reference"])),
        "registry.example/steps@sha256:0123"
    );
}

const SEED_LIKE: &str =
    "name: s\nimage: alpine\nsteps:\n  - {name: one, run: echo one}\n  - {name: two, run: echo two}\n";

// --- pod-level resources -----------------------------------------------------------

/// `spec.resources` as (requests, limits), each `cpu=Q memory=Q`.
fn pod_level(pod: &Value) -> Option<(String, String)> {
    let spec = get(pod, &["spec"]);
    if !has(spec, "resources") {
        return None;
    }
    let r = get(spec, &["resources"]);
    let list = |kind: &str| -> String {
        if !has(r, kind) {
            return String::new();
        }
        match get(r, &[kind]) {
            Value::Obj(m) => m.iter().map(|(k, v)| format!("{k}={}", text(v))).collect::<Vec<_>>().join(" "),
            other => panic!("{kind}: {other:?}"),
        }
    };
    Some((list("requests"), list("limits")))
}

#[test]
fn pod_level_resources_ask_for_what_runs_at_once_where_greedy_guesses_fail() {
    // a -> b; c alone: {b, c} = 4 cores (levels guess {a, c} = 2); the sidecar's
    // 500m as written; the join's own 50m
    let file = "name: r
image: alpine
steps:
  - {name: a, run: a, resources: {requests: {cpu: '1'}}}
  - {name: b, run: b, resources: {requests: {cpu: '3'}, limits: {cpu: '4'}}}
  - {name: c, needs: [], run: c, resources: {requests: {cpu: 1000m}}}
sidecars:
  - {name: db, command: [db], resources: {requests: {cpu: 500m}}}
";
    let pod = rendered(file, &["--pod-resources"]);
    assert_eq!(pod_level(&pod), Some(("cpu=4550m memory=16Mi".to_string(), String::new())));
    // the containers ask as without it: together no more than the pod
    assert_eq!(requests(&pod, "cpu"), requests(&rendered(file, &[]), "cpu"));
    assert!(!has(get(&pod, &["spec"]), "resources") || !has(get(&pod, &["spec", "resources"]), "limits"));
    assert_eq!(pod_level(&rendered(file, &[])), None, "off by default");
    // p, q -> m: heaviest first takes m (5 GiB); the answer is {p, q} = 6 GiB
    let pod = rendered(
        "name: r
image: alpine
steps:
  - {name: p, run: p, resources: {limits: {memory: 3Gi}}}
  - {name: q, needs: [], run: q, resources: {requests: {memory: 3Gi}}}
  - {name: m, needs: [p, q], run: m, resources: {requests: {memory: 5Gi}, limits: {memory: 6Gi}}}
",
        &["--kubernetes", "1.34"],
    );
    assert_eq!(pod_level(&pod), Some(("cpu=50m memory=6160Mi".to_string(), String::new())));
    // ephemeral storage and extended resources are not pod-level: sized or kept per container
    let pod = rendered(
        "name: r
image: alpine
steps:
  - {name: a, run: a, resources: {requests: {ephemeral-storage: 1Gi}, limits: {nvidia.com/gpu: 1}}}
  - {name: b, run: b, resources: {requests: {ephemeral-storage: 1Gi}, limits: {nvidia.com/gpu: 1}}}
",
        &["--pod-resources"],
    );
    assert_eq!(pod_level(&pod), Some(("cpu=50m memory=16Mi".to_string(), String::new())));
    let gpu = |n: &str| match get(container(&pod, n), &["resources", "limits", "nvidia.com/gpu"]) {
        Value::Num(q) | Value::Str(q) => q.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!((gpu("a"), gpu("b")), ("1".to_string(), "1".to_string()));
    let storage: Vec<_> = requests(&pod, "ephemeral-storage").into_iter().filter_map(|(_, r)| r).collect();
    assert_eq!(storage, ["512Mi", "512Mi"]);
    // a pod that asks for nothing (no init container either): no spec.resources
    let pod = rendered(
        "name: r\nimage: alpine\nsteps:\n  - {name: a, run: a}\n",
        &["--pod-resources", "--tools-from=image"],
    );
    assert_eq!(pod_level(&pod), None);
}

#[test]
fn init_containers_and_native_sidecars_count_as_kubernetes_counts_them() {
    // KEP 753: the most of (an init container plus the native sidecars before
    // it) and (the containers plus every native sidecar)
    let file = "name: r
image: alpine
pod:
  initContainers:
    - {name: big, image: busybox, command: [true], resources: {requests: {cpu: '8', memory: 64Mi}}}
sidecars:
  - {name: db, command: [db], resources: {requests: {cpu: 500m, memory: 1Gi}}}
steps:
  - {name: a, run: a, resources: {requests: {cpu: '1', memory: 1Gi}}}
  - {name: b, run: b, resources: {requests: {cpu: '2', memory: 2Gi}}}
";
    // the init container's 8 cores; memory: 1Gi + 2Gi (the chain's largest) + the join's 16Mi... none: a list ends with b
    assert_eq!(
        pod_level(&rendered(file, &["--pod-resources"])),
        Some(("cpu=8 memory=3Gi".to_string(), String::new()))
    );
    assert_eq!(
        pod_level(&rendered(file, &["--pod-resources", "--native-sidecars"])),
        Some(("cpu=8 memory=3Gi".to_string(), String::new()))
    );
    let small = file.replace("cpu: '8'", "cpu: 100m");
    assert_eq!(
        pod_level(&rendered(&small, &["--pod-resources", "--native-sidecars"])),
        Some(("cpu=2500m memory=3Gi".to_string(), String::new()))
    );
}

/// A file whose every container asks requests equal to limits (b by its limits alone).
const GUARANTEED: &str = "name: g
image: alpine
steps:
  - name: a
    run: a
    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}
  - name: b
    run: b
    resources: {limits: {cpu: 3, memory: 1Gi}}
  - name: c
    needs: []
    run: c
    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}
";

#[test]
fn requests_equal_to_limits_everywhere_make_a_guaranteed_pod() {
    for args in [&["--pod-resources"][..], &["--kubernetes", "1.34"], &["--kubernetes=1.37"]] {
        let (pod, warned) = rendered_with_warning(GUARANTEED, args);
        assert_eq!(warned, "", "{args:?}: no warning");
        // {b, c}: 4 cores, {a, c} or {b, c}: 2 GiB, and the join's 50m and 16Mi;
        // limits equal to requests: Guaranteed (a pod with spec.resources is
        // Guaranteed only on its own requests and limits)
        let both = "cpu=4050m memory=2064Mi".to_string();
        assert_eq!(pod_level(&pod), Some((both.clone(), both)), "{args:?}");
        // every container's limit as written, none above the pod's
        for (name, cpu) in [("a", "1"), ("b", "3"), ("c", "1"), ("steps-end", "50m")] {
            let c = container(&pod, name);
            let limit = match get(c, &["resources", "limits", "cpu"]) {
                Value::Num(n) | Value::Str(n) => n.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(limit, cpu, "{name}");
        }
    }
    // one container that is not: no pod-level limits, no warning either (the
    // pod could not be Guaranteed)
    let burstable = GUARANTEED.replace("limits: {cpu: 3, memory: 1Gi}", "limits: {cpu: 3}");
    assert_eq!(
        pod_level(&rendered(&burstable, &["--pod-resources"])),
        Some(("cpu=4050m memory=2064Mi".to_string(), String::new()))
    );
    let (_d, r) = on_file(&burstable, &["check"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    // a sidecar without limits, or the pod's own init container, counts too
    for extra in [
        "sidecars:\n  - {name: db, command: [db]}\n",
        "pod:\n  initContainers:\n    - {name: i, image: x, command: [x], resources: {limits: {cpu: 1}}}\n",
    ] {
        let pod = rendered(&format!("{GUARANTEED}{extra}"), &["--pod-resources"]);
        let (_, limits) = pod_level(&pod).expect("resources");
        assert_eq!(limits, "", "{extra}");
    }
    // with a sidecar that is Guaranteed too, it is in the pod's requests and limits
    let pod = rendered(
        &format!("{GUARANTEED}sidecars:\n  - {{name: db, command: [db], resources: {{limits: {{cpu: 250m, memory: 256Mi}}}}}}\n"),
        &["--pod-resources"],
    );
    let both = "cpu=4300m memory=2320Mi".to_string();
    assert_eq!(pod_level(&pod), Some((both.clone(), both)));
    // the check warning names --pod-resources, and is gone with it (or with the file's key)
    let (_d, r) = on_file(GUARANTEED, &["check", "--pod-resources"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let (_d, r) = on_file(&GUARANTEED.replace("steps:\n", "podResources: true\nsteps:\n"), &["check"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let (_d, r) = on_file(
        &GUARANTEED.replace("steps:\n", "podResources: true\nsteps:\n"),
        &["check", "--pod-resources=false"],
    );
    assert!(r.stderr.ends_with("--pod-resources (Kubernetes 1.34+) makes it Guaranteed\n"), "{r:?}");
}

#[test]
fn the_requests_example_is_a_guaranteed_pod() {
    let ex = std::fs::read_to_string(root().join("examples/requests.steps.yaml")).expect("example");
    let both = "cpu=300m memory=96Mi".to_string();
    let (pod, warned) = rendered_with_warning(&ex, &[]);
    assert_eq!((pod_level(&pod), warned.as_str()), (Some((both.clone(), both)), ""));
    // the containers' requests add up to the pod's; their limits as written
    let cpu: Vec<_> =
        requests(&pod, "cpu").into_iter().map(|(n, r)| format!("{n}={}", r.unwrap_or_default())).collect();
    assert_eq!(cpu, ["fetch=55m", "lint=54m", "build=164m", "report=27m"]);
    let memory: Vec<_> = requests(&pod, "memory").into_iter().filter_map(|(_, r)| r).collect();
    assert_eq!(memory, ["24Mi", "24Mi", "40Mi", "8Mi"]);
    // without pod-level resources: the same containers, a Burstable pod, a warning
    let (pod, warned) = rendered_with_warning(&ex, &["--pod-resources=false"]);
    assert_eq!(pod_level(&pod), None);
    assert_eq!(
        warned,
        "steps: build.yaml:20: warning: step 'fetch': its requests equal its limits, as a Guaranteed pod's do, but are sized for what runs at once (cpu 55m): the pod is Burstable; --pod-resources (Kubernetes 1.34+) makes it Guaranteed\n"
    );
}

#[test]
fn pod_resources_of_the_file_and_of_steps_are_one_too_many() {
    let file = format!("{SEED_LIKE}pod:\n  resources: {{requests: {{cpu: '1'}}}}\n");
    for args in [&["--pod-resources"][..], &["--kubernetes", "1.36"]] {
        for cmd in ["check", "render"] {
            let mut all = vec![cmd];
            all.extend_from_slice(args);
            let (_d, r) = on_file(&file, &all);
            assert_eq!(
                (r.code, r.stdout.as_str(), r.stderr.as_str()),
                (1, "", "steps: build.yaml:7: pod.resources: steps sets them with pod-level resources on (remove them, or set podResources: false)\n"),
                "{all:?}"
            );
        }
    }
    // without pod-level resources of steps' own, they are the file's, as written
    let pod = rendered(&file, &[]);
    assert_eq!(pod_level(&pod), Some(("cpu=1".to_string(), String::new())));
}

// --- Pod Security "restricted" ------------------------------------------------------

/// The value at `path`, if there.
fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut at = v;
    for k in path {
        match at {
            Value::Obj(m) => at = &m.iter().find(|(key, _)| key == k)?.1,
            _ => return None,
        }
    }
    Some(at)
}

/// What the Pod Security "restricted" profile (pod-security-admission,
/// latest: baseline's controls and restricted's) refuses in a pod spec, one
/// line a rule broken: the rules a rendering can break (sysctls, AppArmor and
/// SELinux options, procMount must then be absent).
fn restricted_violations(spec: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let yes = Value::Bool(true);
    let root = Value::Num("0".into());
    let pod_sc = |path: &[&str]| field(spec, &[&["securityContext"], path].concat());
    for k in ["hostNetwork", "hostPID", "hostIPC"] {
        if field(spec, &[k]) == Some(&yes) {
            bad.push(format!("host namespaces ({k})"));
        }
    }
    for k in ["sysctls", "seLinuxOptions", "appArmorProfile"] {
        if pod_sc(&[k]).is_some() {
            bad.push(format!("pod securityContext.{k}"));
        }
    }
    let allowed = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "image",
    ];
    for v in field(spec, &["volumes"]).map(items).unwrap_or_default() {
        let Value::Obj(m) = v else { continue };
        for (k, _) in m.iter().filter(|(k, _)| k != "name") {
            if !allowed.contains(&k.as_str()) {
                bad.push(format!("volume '{}' of type {k}", text(get(v, &["name"]))));
            }
        }
    }
    let good_seccomp =
        |v: Option<&Value>| matches!(v, Some(Value::Str(t)) if t == "RuntimeDefault" || t == "Localhost");
    let pod_non_root = pod_sc(&["runAsNonRoot"]) == Some(&yes);
    let pod_seccomp = good_seccomp(pod_sc(&["seccompProfile", "type"]));
    if pod_sc(&["runAsUser"]) == Some(&root) {
        bad.push("pod runAsUser=0".to_string());
    }
    let lists = ["initContainers", "containers"].into_iter().filter_map(|k| field(spec, &[k]));
    for c in lists.flat_map(items) {
        let name = text(get(c, &["name"]));
        let sc = |path: &[&str]| field(c, &[&["securityContext"], path].concat());
        if sc(&["privileged"]) == Some(&yes) {
            bad.push(format!("{name}: privileged"));
        }
        if sc(&["allowPrivilegeEscalation"]) != Some(&Value::Bool(false)) {
            bad.push(format!("{name}: allowPrivilegeEscalation != false"));
        }
        match sc(&["runAsNonRoot"]) {
            Some(v) if *v == yes => {}
            None if pod_non_root => {}
            _ => bad.push(format!("{name}: runAsNonRoot != true")),
        }
        if sc(&["runAsUser"]) == Some(&root) {
            bad.push(format!("{name}: runAsUser=0"));
        }
        let seccomp = sc(&["seccompProfile", "type"]);
        if (seccomp.is_some() && !good_seccomp(seccomp)) || (seccomp.is_none() && !pod_seccomp) {
            bad.push(format!("{name}: seccompProfile"));
        }
        if !sc(&["capabilities", "drop"]).map(strings).unwrap_or_default().contains(&"ALL") {
            bad.push(format!("{name}: capabilities.drop lacks ALL"));
        }
        if sc(&["capabilities", "add"])
            .map(strings)
            .unwrap_or_default()
            .iter()
            .any(|a| *a != "NET_BIND_SERVICE")
        {
            bad.push(format!("{name}: capabilities.add"));
        }
        for k in ["seLinuxOptions", "appArmorProfile", "procMount"] {
            if sc(&[k]).is_some() {
                bad.push(format!("{name}: securityContext.{k}"));
            }
        }
        let ports = field(c, &["ports"]).map(items).unwrap_or_default();
        if ports.iter().any(|p| field(p, &["hostPort"]).is_some_and(|h| *h != root)) {
            bad.push(format!("{name}: hostPort"));
        }
    }
    bad
}

#[test]
fn the_nonroot_example_meets_the_restricted_profile_in_every_rendering() {
    let ex = std::fs::read_to_string(root().join("examples/nonroot.steps.yaml")).expect("example");
    for args in [
        &[][..],
        &["--native-sidecars"],
        &["--pod-resources"],
        &["--tools-from", "image"],
        &["--kubernetes", "1.37"],
        &["--layout", "volumes"],
        &["--kind", "job"],
    ] {
        let out = rendered(&ex, args);
        let spec = if has(get(&out, &["spec"]), "template") {
            get(&out, &["spec", "template", "spec"])
        } else {
            get(&out, &["spec"])
        };
        assert_eq!(restricted_violations(spec), Vec::<String>::new(), "{args:?}");
    }
    // the rules mean something: the seed's own steps set no securityContext
    let seed = std::fs::read_to_string(root().join("examples/seed.steps.yaml")).expect("seed");
    let pod = rendered(&seed, &[]);
    assert_eq!(
        restricted_violations(get(&pod, &["spec"]))[..4],
        [
            "one: allowPrivilegeEscalation != false",
            "one: runAsNonRoot != true",
            "one: seccompProfile",
            "one: capabilities.drop lacks ALL"
        ]
    );
    // and the tools' own containers meet it on their own
    let pod = rendered(&seed, &[]);
    let spec = get(&pod, &["spec"]);
    let own_only = restricted_violations(spec)
        .into_iter()
        .filter(|v| v.starts_with("copy-tools") || v.starts_with("steps-end"))
        .collect::<Vec<_>>();
    assert_eq!(own_only, Vec::<String>::new());
    let diamond = rendered(
        "name: d\nimage: i\nsteps:\n  - {name: a, run: a}\n  - {name: b, needs: [a], run: b}\n  - {name: c, needs: [a], run: c}\n",
        &[],
    );
    let own_only = restricted_violations(get(&diamond, &["spec"]))
        .into_iter()
        .filter(|v| v.starts_with("copy-tools") || v.starts_with("steps-end"))
        .collect::<Vec<_>>();
    assert_eq!(own_only, Vec::<String>::new());
}

// --- every new rendering, strictly valid for the versions it targets ----------------

/// Every example rendered for each Kubernetes version from 1.25 to the newest
/// the validator bundles (1.37), with `--kubernetes` (what that version runs
/// by default), validated against that version's schema (a file that asks for
/// an option of a later version is validated from that version on); and the
/// options set on their own against the first version that runs them by default.
#[test]
fn every_rendering_validates_for_the_versions_it_targets() {
    let d = TempDir::new("steps-versions");
    let mut jobs: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let mut write = |version: &str, tag: &str, text: &str| {
        let path = d.join(&format!("{version}-{tag}"));
        std::fs::write(&path, text).expect("write");
        match jobs.iter_mut().find(|(v, _)| v == version) {
            Some((_, files)) => files.push(path),
            None => jobs.push((version.to_string(), vec![path])),
        }
    };
    let files: Vec<(String, String)> = examples()
        .iter()
        .map(|ex| {
            let base = ex.file_name().expect("name").to_string_lossy().replace(".steps.yaml", "");
            (base, std::fs::read_to_string(ex).expect("example"))
        })
        .chain([
            ("guaranteed".to_string(), GUARANTEED.to_string()),
            ("sidecar-and-steps".to_string(), SIDECAR_AND_STEPS.to_string()),
        ])
        .collect();
    for minor in 25..=37 {
        let version = format!("1.{minor}.0");
        let k = format!("1.{minor}");
        for (base, text) in &files {
            for (tag, args) in [
                ("pod.yaml", vec!["--kubernetes", k.as_str()]),
                ("job.json", vec!["--kubernetes", k.as_str(), "--kind", "job", "-o", "json"]),
            ] {
                let r = render_all(text, &args);
                assert_eq!(r.code, 0, "{base} {args:?}: {r:?}");
                // a file that asks for an option this version does not run (podResources:
                // true below 1.34) does not target it: steps says so, and it is not valid there
                if r.stderr.contains("feature gate on") {
                    assert!(base == "requests" && minor < 34, "{base} {k}: {}", r.stderr);
                    continue;
                }
                write(&version, &format!("{base}.{tag}"), &r.stdout);
            }
        }
    }
    for (version, args) in [
        ("1.29.0", &["--native-sidecars"][..]),
        ("1.34.0", &["--pod-resources"]),
        ("1.35.0", &["--tools-from", "image"]),
        ("1.36.0", &["--tools-from", "image", "--layout", "volumes", "--scripts", "as-is"]),
        ("1.37.0", &["--pod-resources", "--tools-from", "image", "--native-sidecars", "--kind", "job"]),
    ] {
        for (base, text) in &files {
            if base == "requests" && version < "1.34" {
                continue; // (podResources: true: a 1.34+ file)
            }
            let r = render_all(text, args);
            assert_eq!(r.code, 0, "{base} {args:?}: {r:?}");
            write(version, &format!("{base}.{}.yaml", args.join("_").replace('-', "")), &r.stdout);
        }
    }
    for (version, files) in &jobs {
        validate_strictly(version, files);
    }
}

// --- install anywhere ------------------------------------------------------

/// The directory `steps` was built into (`dist/`): the static builds are
/// `ARCH/steps` there, the kubectl plugin `kubectl-steps`.
fn dist() -> PathBuf {
    steps_bin().parent().expect("the directory of STEPS").to_path_buf()
}

/// The architectures built (`STEPS_ARCHS`, as make's ARCHS; default both).
fn built_archs() -> Vec<String> {
    std::env::var("STEPS_ARCHS")
        .unwrap_or_else(|_| "x86_64 aarch64".to_string())
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `dist/ARCH/steps` for each architecture: a static executable (`file` says
/// so) that runs here, the other architecture's under qemu-user
/// (`qemu-ARCH-static`), and renders what the host's `steps` renders.
#[test]
fn the_static_builds_run_anywhere() {
    let seed = root().join("examples/seed.steps.yaml");
    let want = ok(&steps_in(&root(), &["render", "-o", "json", &seed.to_string_lossy()])).to_string();
    let archs = built_archs();
    assert!(!archs.is_empty(), "STEPS_ARCHS names no architecture");
    for arch in archs {
        let bin = dist().join(&arch).join("steps");
        assert!(bin.is_file(), "{} is missing: run make", bin.display());
        let r = run(Command::new("file").arg("-b").arg(&bin));
        let machine = if arch == "aarch64" { "ARM aarch64" } else { "x86-64" };
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.starts_with(&format!("ELF 64-bit LSB executable, {machine},"))
                && r.stdout.contains(", statically linked,"),
            "file {}: {}",
            bin.display(),
            r.stdout
        );
        let command = || {
            if arch == std::env::consts::ARCH {
                Command::new(&bin)
            } else {
                let mut c = Command::new(format!("qemu-{arch}-static"));
                c.arg(&bin);
                c
            }
        };
        let r = run(command().arg("--version"));
        let version = format!("steps {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, version.as_str(), ""), "{arch}");
        let r = run(command().args(["render", "-o", "json"]).arg(&seed));
        assert_eq!(ok(&r), want, "{arch}: its rendering of the seed differs from the host's");
    }
}

/// `kubectl-steps`, found on PATH as kubectl finds its plugins: the same
/// program as `steps` (its output byte for byte), named `kubectl steps` in its
/// usage and in a usage error's hint; a problem keeps the prefix `steps:`.
#[test]
fn the_kubectl_plugin_is_steps_named_as_typed() {
    let plugin = dist().join("kubectl-steps");
    assert!(plugin.is_file(), "{} is missing: run make", plugin.display());
    assert!(
        std::fs::read(&plugin).expect("kubectl-steps") == std::fs::read(steps_bin()).expect("steps"),
        "kubectl-steps is not steps"
    );
    let path = std::env::join_paths(
        std::iter::once(dist()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let plugin_in = |dir: &Path, args: &[&str]| -> Ran {
        run(Command::new("kubectl-steps").env("PATH", &path).current_dir(dir).args(args))
    };
    let examples = root().join("examples");
    // the same rendering, warnings and problems
    for args in [&["render", "seed.steps.yaml"][..], &["render", "--kind=job", "-ojson", "dag.steps.yaml"]] {
        let (as_plugin, as_steps) = (plugin_in(&examples, args), steps_in(&examples, args));
        assert_eq!(ok(&as_plugin), ok(&as_steps), "{args:?}");
    }
    let d = TempDir::new("steps-plugin");
    std::fs::write(
        d.join("build.yaml"),
        "name: x\nimage: alpine\nsteps:\n  - name: a\n    run: a\n    timout: 5\n",
    )
    .expect("write");
    let r = plugin_in(d.path(), &["check", "build.yaml"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "steps: build.yaml:6: step 'a': unknown key 'timout' (did you mean 'timeout'?)\n")
    );
    // named as the user types it
    let help = plugin_in(&root(), &["--help"]);
    let usage = ok(&help);
    assert!(
        usage.starts_with(
            "usage: kubectl steps render [--kind pod|job] [-o yaml|json] [CLUSTER OPTIONS]\n\
             \x20                           [--layout subpath|volumes] [--scripts escaped|as-is] FILE\n\
             \x20      kubectl steps check [CLUSTER OPTIONS] FILE\n"
        ),
        "{usage}"
    );
    let own = steps_in(&root(), &["--help"]);
    let (usage_rest, own_rest) =
        (usage.split_once("\n\n").expect("usage").1, own.stdout.split_once("\n\n").expect("usage").1);
    assert_eq!(usage_rest, own_rest, "the help after the usage lines is steps' own");
    let r = plugin_in(&root(), &["draw", "f"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (
            125,
            "",
            "steps: unknown command 'draw' (render, check, graph, schema or status) (try 'kubectl steps --help')\n"
        )
    );
    let r = plugin_in(&root(), &["--version"]);
    let version = format!("steps {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!((r.code, r.stdout.as_str()), (0, version.as_str()));
    let r = plugin_in(d.path(), &["check", "missing.yaml"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (125, "steps: cannot read 'missing.yaml': No such file or directory\n")
    );
}

/// An argument that is not UTF-8 is a usage error, not a crash.
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let r = run(Command::new(steps_bin()).args(["check".as_ref(), std::ffi::OsStr::from_bytes(b"a\xffb")]));
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (125, "", "steps: 'a\u{fffd}b' is not UTF-8 text (try 'steps --help')\n")
    );
}

// --- editor support: steps schema -----------------------------------------

/// Checks YAML files against a JSON Schema with jsonschema (draft 2020-12) in
/// the venv, reading them with PyYAML (YAML 1.1, as steps and Kubernetes
/// read them): one line `FILE: /PATH: message` per error, exit 1 if any. The
/// schema itself is checked against the draft's meta-schema first, and a
/// file whose verdict differs under draft-07 (what editors evaluate) is told.
const VALIDATE: &str = r#"
import json, sys, yaml
from jsonschema import Draft202012Validator, Draft7Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
new, old = Draft202012Validator(schema), Draft7Validator(schema)
bad = 0
for path in sys.argv[2:]:
    doc = yaml.safe_load(open(path))
    errors = sorted(new.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    for e in errors:
        print(f"{path}: /{'/'.join(str(p) for p in e.absolute_path)}: {e.message}")
    if bool(errors) != (not old.is_valid(doc)):
        print(f"{path}: draft-07 says otherwise")
    bad += bool(errors) or not old.is_valid(doc)
sys.exit(1 if bad else 0)
"#;

/// `steps schema`, written as `steps.schema.json` in `dir`.
fn schema_in(dir: &Path) -> PathBuf {
    let r = steps_in(dir, &["schema"]);
    let path = dir.join("steps.schema.json");
    std::fs::write(&path, ok(&r)).expect("write the schema");
    path
}

/// The validator's verdict on `files` (in `dir`, named relative to it).
fn validate(dir: &Path, files: &[&str]) -> Ran {
    let schema = schema_in(dir);
    run(Command::new(venv().join("bin/python"))
        .current_dir(dir)
        .args(["-c", VALIDATE])
        .arg(&schema)
        .args(files))
}

#[test]
fn the_schema_is_json_schema_2020_12_and_takes_no_arguments() {
    let r = steps_in(&root(), &["schema"]);
    assert!(
        ok(&r).starts_with("{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n  \"title\": \"steps file\",\n"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    let parsed = json::parse(&r.stdout).expect("the schema is JSON");
    let required: Vec<&str> = strings(get(&parsed, &["required"]));
    assert_eq!(required, ["name", "steps"]);
    // the same whoever runs it
    let plugin = run(Command::new(dist().join("kubectl-steps")).arg("schema"));
    assert_eq!(ok(&plugin), r.stdout);
    usage_error(&["schema", "build.yaml"], "schema takes no FILE or option ('build.yaml')");
    usage_error(&["schema", "--kind", "job"], "schema takes no FILE or option ('--kind')");
    usage_error(&["frob"], "unknown command 'frob' (render, check, graph, schema or status)");
}

/// Every example, the README's reference of the file, and files that use what
/// `check` accepts at its edges: valid, under draft 2020-12 and draft-07 alike.
#[test]
fn every_file_check_accepts_is_valid_against_the_schema() {
    let d = TempDir::new("steps-schema-ok");
    let mut files: Vec<String> = Vec::new();
    for ex in examples() {
        let name = ex.file_name().expect("name").to_string_lossy().into_owned();
        std::fs::copy(&ex, d.join(&name)).expect("copy");
        files.push(name);
    }
    let edges = [
        ("reference.yaml", readme_block("## The file", "```yaml\n")),
        ("editor.yaml", readme_block("## Editors", "```yaml\n")),
        (
            "edges.yaml",
            "x-base: &base {image: alpine, env: [{name: A, value: 'yes'}, {name: B, value: }]}\n\
             name: edges.example\n\
             hold: yes\n\
             kubernetes: v1.36.2\n\
             timeout: 1.5\n\
             metadata:\n\
             finally:\n\
             workspace: /work/\n\
             pod: {serviceAccountName: ci, restartPolicy: Never, volumes: [{name: cache, emptyDir: {}}]}\n\
             job: {backoffLimit: 1}\n\
             steps:\n\
             \x20 - <<: *base\n\
             \x20   name: a\n\
             \x20   needs: []\n\
             \x20   command: [make]\n\
             \x20   args: [test]\n\
             \x20   onError: stop\n\
             \x20   retries: 0\n\
             \x20   retryDelay: 0\n\
             \x20   timeout: \"90\"\n\
             \x20   volumeMounts: [{name: cache, mountPath: /cache}]\n\
             \x20 - {name: b, image: alpine, run: '#!/bin/sh\\necho $HOME', resources: {requests: {cpu: 1}, limits: {cpu: 1}}}\n\
             sidecars:\n\
             \x20 - {name: db, image: postgres, command: [postgres], ready: 'tcp://127.0.0.1:5432', ports: [{containerPort: 5432}]}\n"
                .to_string(),
        ),
    ];
    // the README's editor file names the schema as `steps schema > steps.schema.json` writes it
    assert!(edges[1].1.starts_with("# yaml-language-server: $schema=steps.schema.json\n"), "{}", edges[1].1);
    assert_eq!(readme_block("## Editors", "```sh\n"), "steps schema > steps.schema.json\n");
    for (name, text) in &edges {
        std::fs::write(d.join(name), text).expect("write");
        files.push(name.to_string());
    }
    for f in &files {
        let r = steps_in(d.path(), &["check", f]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "steps check {f}");
    }
    assert!(files.len() >= 11 + 3, "{files:?}");
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    let r = validate(d.path(), &names);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""), "the validator");
}

/// A file `check` refuses for its keys, types or forms, the validator refuses
/// too, each for the same reason: an unknown key, a wrong type, a missing
/// `steps`, and every other rule a schema can say.
#[test]
fn what_check_refuses_for_its_form_the_schema_refuses() {
    const H: &str = "name: x\nimage: alpine\n";
    let one = "steps: [{name: a, run: a}]\n";
    #[rustfmt::skip]
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("unknown-key", format!("{H}steps:\n  - name: a\n    run: a\n    timout: 5\n"),
         "6: step 'a': unknown key 'timout' (did you mean 'timeout'?)",
         "/steps/0: Additional properties are not allowed ('timout' was unexpected)"),
        ("unknown-top", format!("{H}label: {{a: b}}\n{one}"),
         "3: unknown key 'label' (the keys are name, image, tools, timeout, hold, workspace, metadata, pod, steps, finally, sidecars, job, kubernetes, nativeSidecars, podResources, toolsFrom, and x-* for anchors)",
         "/: 'label' does not match any of the regexes: '^x-'"),
        ("wrong-type", format!("{H}steps:\n  - name: a\n    run: [a]\n"),
         "5: step 'a': run: expected a string, found a list",
         "/steps/0/run: ['a'] is not of type 'string'"),
        ("hold-string", format!("{H}hold: \"yes\"\n{one}"),
         "3: hold: expected true or false, found a string",
         "/hold: 'yes' is not of type 'boolean'"),
        ("no-steps", H.to_string(),
         "1: no steps (steps: a list of at least one step)",
         "/: 'steps' is a required property"),
        ("empty-steps", format!("{H}steps: []\n"),
         "3: no steps (steps: a list of at least one step)",
         "/steps: [] should be non-empty"),
        ("both", format!("{H}steps:\n  - name: a\n    run: a\n    command: [a]\n"),
         "6: step 'a': both run and command (give one)",
         "/steps/0: {'name': 'a', 'run': 'a', 'command': ['a']} is valid under each of {'required': ['command']}, {'required': ['run']}"),
        ("neither", format!("{H}steps:\n  - name: a\n    env: []\n"),
         "4: step 'a': no run or command (give one)",
         "/steps/0: {'name': 'a', 'env': []} is not valid under any of the given schemas"),
        ("args-with-run", format!("{H}steps:\n  - name: a\n    run: a\n    args: [b]\n"),
         "6: step 'a': args goes with command (a run script takes no args)",
         "/steps/0: {'name': 'a', 'run': 'a', 'args': ['b']} should not be valid under {'required': ['args']}"),
        ("no-image", "name: x\nsteps:\n  - name: a\n    run: a\n".to_string(),
         "3: step 'a': no image (give image: here or at the top)",
         "/steps/0: 'image' is a required property"),
        ("image-blank", format!("name: x\nimage: alpine 3\n{one}"),
         "2: image: 'alpine 3' is not an image reference",
         "/image: 'alpine 3' does not match '^\\\\S+$'"),
        ("env-number", format!("{H}steps:\n  - name: a\n    run: a\n    env: [{{name: A, value: 1}}]\n"),
         "6: step 'a': env 'A': value must be a string: quote it (found a number)",
         "/steps/0/env/0/value: 1 is not of type 'string', 'null'"),
        ("termination", format!("{H}steps:\n  - name: a\n    run: a\n    terminationMessagePath: /t\n"),
         "6: step 'a': terminationMessagePath is set by steps (to /steps/NAME/termination)",
         "/steps/0/terminationMessagePath: '/t' should not be valid under {}"),
        ("step-restart", format!("{H}steps:\n  - name: a\n    run: a\n    restartPolicy: Always\n"),
         "6: step 'a': restartPolicy is set by steps (the pod's Never; Kubernetes refuses it on a step's container)",
         "/steps/0/restartPolicy: 'Always' should not be valid under {}"),
        ("sidecar-restart", format!("{H}{one}sidecars:\n  - name: s\n    run: s\n    restartPolicy: Always\n"),
         "7: sidecar 's': restartPolicy is set by steps (Always with --native-sidecars)",
         "/sidecars/0/restartPolicy: 'Always' should not be valid under {}"),
        ("sidecar-needs", format!("{H}{one}sidecars:\n  - name: s\n    run: s\n    needs: [a]\n"),
         "7: sidecar 's': a sidecar has no needs (it starts with the pod)",
         "/sidecars/0: Additional properties are not allowed ('needs' was unexpected)"),
        ("finally-needs", format!("{H}{one}finally:\n  - name: f\n    run: f\n    needs: [a]\n"),
         "7: finally step 'f': a finally step has no needs (each runs after every step, and after the finally step before it)",
         "/finally/0: Additional properties are not allowed ('needs' was unexpected)"),
        ("step-ready", format!("{H}steps:\n  - name: a\n    run: a\n    ready: /steps/a/ok\n"),
         "6: step 'a': only a sidecar has ready (what the steps wait for)",
         "/steps/0: Additional properties are not allowed ('ready' was unexpected)"),
        ("on-error", format!("{H}steps:\n  - name: a\n    run: a\n    onError: ignore\n"),
         "6: step 'a': bad onError 'ignore' (continue or stopAndFail)",
         "/steps/0/onError: 'ignore' is not one of ['continue', 'stopAndFail', 'stop']"),
        ("bad-name", format!("{H}steps:\n  - name: Build\n    run: a\n"),
         "4: invalid name 'Build': a name is a DNS-1123 label (1 to 63 of a-z, 0-9, '-'; a letter or digit at each end)",
         "/steps/0/name: 'Build' does not match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"),
        ("kubernetes-number", format!("{H}kubernetes: 1.30\n{one}"),
         "3: kubernetes: expected a version as a string, found a number (quote it: \"1.30\"; unquoted, YAML reads 1.30 as the number 1.3)",
         "/kubernetes: 1.3 is not of type 'string'"),
        ("tools-from", format!("{H}toolsFrom: oci\n{one}"),
         "3: toolsFrom: 'oci' is not copy or image",
         "/toolsFrom: 'oci' is not one of ['copy', 'image']"),
        ("retry-delay", format!("{H}steps:\n  - name: a\n    run: a\n    retryDelay: 5s\n"),
         "6: step 'a': retryDelay without retries (give retries: N, the attempts after the first)",
         "/steps/0: 'retries' is a required property"),
        ("retries-101", format!("{H}steps:\n  - name: a\n    run: a\n    retries: 101\n"),
         "6: step 'a': retries: 101 is not from 0 to 100",
         "/steps/0/retries: 101 is greater than the maximum of 100"),
        ("timeout-1d", format!("{H}steps:\n  - name: a\n    run: a\n    timeout: 1d\n"),
         "6: step 'a': timeout: bad duration '1d' (like 30, 1.5s, 10m, 1h30m)",
         "/steps/0/timeout: '1d' does not match '^(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)|(([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$'"),
        ("pod-containers", format!("{H}pod:\n  containers: []\n{one}"),
         "4: pod.containers: give the containers as steps, finally or sidecars",
         "/pod/containers: [] should not be valid under {}"),
        ("pod-restart", format!("{H}pod:\n  restartPolicy: OnFailure\n{one}"),
         "4: pod.restartPolicy: must be Never (a step that ran is never run again)",
         "/pod/restartPolicy: 'OnFailure' is not one of ['Never']"),
        ("job-template", format!("{H}job:\n  template: {{}}\n{one}"),
         "4: job.template: the pod is rendered from the steps (give pod: for its spec)",
         "/job/template: {} should not be valid under {}"),
        ("workspace", format!("{H}workspace: work\n{one}"),
         "3: workspace: 'work' is not an absolute path below / (like /workspace)",
         "/workspace: 'work' does not match '^/(?!/*$)'"),
        ("command-empty", format!("{H}steps:\n  - name: a\n    command: []\n"),
         "5: step 'a': command: empty",
         "/steps/0/command: [] should be non-empty"),
        ("needs-twice", format!("{H}steps:\n  - name: a\n    run: a\n  - name: b\n    run: b\n    needs: [a, a]\n"),
         "8: step 'b': 'a' twice in needs",
         "/steps/1/needs: ['a', 'a'] has non-unique elements"),
    ];
    let d = TempDir::new("steps-schema-bad");
    for (name, text, problem, error) in &cases {
        let file = format!("{name}.yaml");
        std::fs::write(d.join(&file), text).expect("write");
        let r = steps_in(d.path(), &["check", &file]);
        let want = format!("steps: {file}:{problem}\n");
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (1, "", want.as_str()),
            "steps check {file}"
        );
        let r = validate(d.path(), &[&file]);
        let want = format!("{file}: {error}\n");
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (1, want.as_str(), ""),
            "the validator on {file}"
        );
    }
}

/// The schema is stricter than `check` where `check` leaves the API server
/// to judge: inside `pod`, `job`, `metadata` and the container fields, an
/// unknown field or a wrong type is an error of the schema too.
#[test]
fn the_schema_checks_the_kubernetes_types_inside() {
    let d = TempDir::new("steps-schema-types");
    std::fs::write(
        d.join("types.yaml"),
        "name: x\nimage: alpine\npod: {serviceAccountNme: ci}\nmetadata: {labels: {n: 1}}\nsteps:\n  - name: a\n    run: a\n    securityContext: {runAsUser: root}\n",
    )
    .expect("write");
    let r = steps_in(d.path(), &["check", "types.yaml"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "check leaves these to the API server");
    let r = validate(d.path(), &["types.yaml"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            1,
            "types.yaml: /metadata/labels/n: 1 is not of type 'string', 'null'\n\
             types.yaml: /pod: Additional properties are not allowed ('serviceAccountNme' was unexpected)\n\
             types.yaml: /steps/0/securityContext/runAsUser: 'root' is not of type 'integer', 'null'\n"
        )
    );
}

// --- steps status: a pod's steps through a fake kubectl --------------------------------

/// `steps status` against canned pods: the spec of each is a real rendering
/// (`steps render -o json`), its status as the kubelet writes one, and a fake
/// kubectl (`KUBECTL`) prints them for `get pod` (the Nth call, the Nth pod)
/// and answers `exec ... -- WAITFOR --status PATH...` by running the real
/// `waitfor --status` on a step directory that real wrappers made
/// (`entrypoint --post-file ...`: alive, finished, failed, skipped, SIGKILLed).
mod status {
    use super::*;
    use std::time::UNIX_EPOCH;

    const FAKE_KUBECTL: &str = r#"#!/bin/sh
# A fake kubectl: `get pod` prints $FAKE/pod.N.json for its Nth call (the
# last one after that); `exec ... -- WAITFOR --status PATH...` runs the real
# waitfor --status ($WAITFOR) on $FAKE/root/PATH. Every call is logged.
printf '%s\n' "$*" >>"$FAKE/calls"
case $1 in
get)
  [ -f "$FAKE/get-fails" ] && { echo 'E1207 memcache.go:265] "Unhandled Error"' >&2; cat "$FAKE/get-fails" >&2; exit 1; }
  n=$(($(cat "$FAKE/gets" 2>/dev/null || echo 0) + 1))
  echo $n >"$FAKE/gets"
  f=$FAKE/pod.$n.json
  [ -f "$f" ] || f=$(ls "$FAKE"/pod.*.json | sort -t. -k2 -n | tail -1)
  # a selector (a Job's pods): a List of the pod
  case " $* " in
  *" -l "*) printf '{"apiVersion":"v1","kind":"List","items":['; cat "$f"; printf ']}\n' ;;
  *) cat "$f" ;;
  esac ;;
exec)
  [ -f "$FAKE/exec-fails" ] && { cat "$FAKE/exec-fails" >&2; exit 1; }
  while [ "$1" != -- ]; do shift; done
  shift 2
  [ "$1" = --status ] || exit 2
  shift
  for p; do set -- "$@" "$FAKE/root$p"; shift; done
  "$WAITFOR" --status "$@" | sed "s|$FAKE/root||" ;;
*) echo "fake kubectl: $1?" >&2; exit 1 ;;
esac
"#;

    /// Every kind of step and state: a DAG, a finally step, a sidecar with a ready target.
    const BUILD: &str = "name: build
image: alpine
tools: localhost/ordered-steps:test
steps:
  - name: fetch
    run: git clone x
  - name: test
    needs: [fetch]
    run: make test
  - name: lint
    needs: [fetch]
    run: make lint
  - name: publish
    needs: [test, lint]
    run: ./publish
  - name: oom
    needs: [fetch]
    run: ./big
finally:
  - name: report
    run: ./report
sidecars:
  - name: db
    command: [postgres]
    ready: tcp://127.0.0.1:5432
";

    /// A fake cluster: the fake kubectl, its pods, the step directory under `root/steps`.
    struct Cluster {
        dir: TempDir,
        /// Wrappers (and their commands) killed at the end.
        procs: Vec<std::process::Child>,
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            for p in &mut self.procs {
                let orphans = harness::children(p.id());
                let _ = p.kill();
                let _ = p.wait();
                for pid in orphans {
                    // SAFETY: kill(2) of a command one of this test's wrappers started.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
            }
        }
    }

    impl Cluster {
        fn new(pods: &[String]) -> Cluster {
            let dir = TempDir::new("status");
            let kubectl = dir.join("kubectl");
            std::fs::write(&kubectl, FAKE_KUBECTL).expect("write kubectl");
            std::fs::set_permissions(&kubectl, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("chmod");
            for (i, pod) in pods.iter().enumerate() {
                std::fs::write(dir.join(&format!("pod.{}.json", i + 1)), pod).expect("write pod");
            }
            std::fs::create_dir_all(dir.join("root/steps")).expect("mkdir");
            Cluster { dir, procs: Vec::new() }
        }

        /// `/steps/PATH` of the pod, on this machine.
        fn path(&self, p: &str) -> PathBuf {
            self.dir.join(&format!("root/steps/{p}"))
        }

        /// A wrapper of step `name` as rendered (post file, results directory), with `args` first.
        fn wrapper(&self, name: &str, args: &[String], script: &str) -> Command {
            let mut c = harness::tool("entrypoint");
            c.args(args)
                .arg(format!("--post-file={}", self.path(&format!("{name}/out")).display()))
                .arg(format!("--results-dir={}", self.path(&format!("{name}/results")).display()))
                .args(["--", "sh", "-c", script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        }

        /// Runs a wrapper to its end; its status.
        fn finish(&self, name: &str, args: &[String], script: &str) -> i32 {
            run(&mut self.wrapper(name, args, script)).code
        }

        /// Starts a wrapper and returns once it holds its lock.
        fn start(&mut self, name: &str, args: &[String], script: &str) {
            let child = self.wrapper(name, args, script).spawn().expect("spawn entrypoint");
            self.procs.push(child);
            let lock = harness::lock_of(&self.path(&format!("{name}/out")));
            assert!(harness::eventually(20.0, || harness::lock_held(&lock)), "{name} never took its lock");
        }

        /// The step files of the running pod, made by real wrappers: fetch
        /// done, test running, lint failed (2), publish skipped, oom's
        /// wrapper SIGKILLed, report (finally) waiting, db (sidecar) running.
        fn run_build(&mut self) {
            assert_eq!(self.finish("fetch", &[], "true"), 0);
            self.start("test", &[], "exec sleep 600");
            assert!(harness::eventually(20.0, || self.path("test/results").is_dir()));
            assert_eq!(self.finish("lint", &[], "exit 2"), 2);
            let lint = format!("--wait={}", self.path("lint/out").display());
            assert_eq!(self.finish("publish", &[lint], "true"), 1);
            self.start("oom", &[], "exec sleep 600");
            let oom = self.procs.pop().expect("oom");
            let orphans = harness::children(oom.id());
            let mut oom = oom;
            oom.kill().expect("SIGKILL oom's wrapper");
            let _ = oom.wait();
            for pid in orphans {
                // SAFETY: kill(2) of the command oom's wrapper started.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            let never = format!("--wait={}", self.path("never/out").display());
            self.start("report", &["--always".to_string(), never], "true");
            let mut db = harness::tool("entrypoint");
            db.arg(format!("--post-file={}", self.path("db/out").display()))
                .args(["--", "sleep", "600"])
                .stdin(Stdio::null());
            self.procs.push(db.spawn().expect("spawn db"));
            let lock = harness::lock_of(&self.path("db/out"));
            assert!(harness::eventually(20.0, || harness::lock_held(&lock)), "db never took its lock");
        }

        fn status(&self, args: &[&str]) -> Ran {
            let mut c = Command::new(steps_bin());
            c.arg("status").args(args);
            c.env("KUBECTL", self.dir.join("kubectl"))
                .env("FAKE", self.dir.path())
                .env("WAITFOR", harness::bin("waitfor"))
                .env_remove("NO_COLOR");
            run(&mut c)
        }

        fn calls(&self) -> Vec<String> {
            let text = std::fs::read_to_string(self.dir.join("calls")).unwrap_or_default();
            text.lines().map(str::to_string).collect()
        }

        /// Starts the fake's pods again from the first.
        fn rewind(&self) {
            let _ = std::fs::remove_file(self.dir.join("gets"));
            let _ = std::fs::remove_file(self.dir.join("calls"));
        }
    }

    fn quote(s: &str) -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    /// Our termination message: `(key, value, type)` entries as entrypoint writes them.
    fn message(entries: &[(&str, &str, u8)]) -> String {
        let e: Vec<String> = entries
            .iter()
            .map(|(k, v, t)| format!("{{\"key\":{},\"value\":{},\"type\":{t}}}", quote(k), quote(v)))
            .collect();
        format!("[{}]", e.join(","))
    }

    fn outcome(started: &str, code: i64, reason: Option<&str>) -> String {
        let code = code.to_string();
        let mut e = vec![("StartedAt", started, 3), ("ExitCode", code.as_str(), 3)];
        e.extend(reason.map(|r| ("Reason", r, 3)));
        message(&e)
    }

    const RUNNING: &str = r#"{"running":{"startedAt":"2026-12-07T13:40:00Z"}}"#;

    fn terminated(code: i64, reason: &str, message: Option<&str>, finished: &str) -> String {
        let message = message.map(|m| format!(",\"message\":{}", quote(m))).unwrap_or_default();
        format!(
            r#"{{"terminated":{{"exitCode":{code},"reason":"{reason}"{message},"startedAt":"2026-12-07T13:40:00Z","finishedAt":"{finished}","containerID":"containerd://0123"}}}}"#
        )
    }

    /// The pod `steps render -o json` makes of `file`, in namespace ci, with
    /// `phase` and each container's state (JSON), as `kubectl get pod -o json` shows it.
    fn pod(file: &str, phase: &str, states: &[(&str, String)]) -> String {
        let (_d, r) = on_file(file, &["render", "-o", "json"]);
        let spec = ok(&r).to_string();
        let name = text(get(&json::parse(&spec).expect("json"), &["metadata", "name"])).to_string();
        let spec = spec.replacen(
            &format!("\"name\": \"{name}\""),
            &format!("\"name\": \"{name}\",\n    \"namespace\": \"ci\",\n    \"uid\": \"5f0c1d2e\""),
            1,
        );
        let statuses: Vec<String> = states
            .iter()
            .map(|(c, state)| {
                format!(
                    r#"{{"name":"{c}","state":{state},"ready":{},"restartCount":0,"image":"alpine","imageID":"","started":{}}}"#,
                    phase == "Running",
                    state.contains("running")
                )
            })
            .collect();
        let status = format!(
            r#""status":{{"phase":"{phase}","startTime":"2026-12-07T13:39:58Z","initContainerStatuses":[{{"name":"copy-tools","state":{},"ready":true,"restartCount":0,"image":"t","imageID":""}}],"containerStatuses":[{}]}}"#,
            terminated(0, "Completed", None, "2026-12-07T13:39:59Z"),
            statuses.join(",")
        );
        let body = spec.trim_end().strip_suffix('}').expect("an object");
        format!("{body},\n  {status}\n}}\n")
    }

    /// The pod of BUILD while it runs: every container running (held), but oom's, ended with 137.
    fn running_pod() -> String {
        let mut states: Vec<(&str, String)> = ["db", "fetch", "test", "lint", "publish", "report"]
            .iter()
            .map(|c| (*c, RUNNING.to_string()))
            .collect();
        states.push(("oom", terminated(137, "Error", None, "2026-12-07T13:40:05Z")));
        pod(BUILD, "Running", &states)
    }

    /// The pod of BUILD once it has ended.
    fn ended_pod() -> String {
        let digest = message(&[
            ("commit", "abc123", 1),
            ("StartedAt", "2026-12-07T13:40:00.200Z", 3),
            ("ExitCode", "0", 3),
            ("Reason", "Completed", 3),
        ]);
        let skipped = message(&[
            ("StartedAt", "2026-12-07T13:40:03.000Z", 3),
            ("ExitCode", "1", 3),
            ("Reason", "Skipped", 3),
            ("Message", "entrypoint: step '/steps/lint/out' failed", 3),
        ]);
        let end = "2026-12-07T13:41:40Z";
        let states = vec![
            (
                "db",
                terminated(
                    0,
                    "Completed",
                    Some(&outcome("2026-12-07T13:40:00.100Z", 0, Some("Stopped"))),
                    end,
                ),
            ),
            ("fetch", terminated(0, "Completed", Some(&digest), end)),
            (
                "test",
                terminated(
                    0,
                    "Completed",
                    Some(&outcome("2026-12-07T13:40:01.300Z", 0, Some("Completed"))),
                    end,
                ),
            ),
            (
                "lint",
                terminated(2, "Error", Some(&outcome("2026-12-07T13:40:01.310Z", 2, Some("Error"))), end),
            ),
            ("publish", terminated(1, "Error", Some(&skipped), end)),
            ("oom", terminated(137, "OOMKilled", None, "2026-12-07T13:40:05Z")),
            (
                "report",
                terminated(
                    0,
                    "Completed",
                    Some(&outcome("2026-12-07T13:41:39.000Z", 0, Some("Completed"))),
                    end,
                ),
            ),
        ];
        pod(BUILD, "Failed", &states)
    }

    /// Milliseconds since the epoch as RFC 3339 (`...T13:40:00.123Z`).
    fn rfc3339(ms: u128) -> String {
        let (secs, milli) = ((ms / 1000) as i64, ms % 1000);
        let z = secs.div_euclid(86400) + 719_468;
        let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let sod = secs.rem_euclid(86400);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", sod / 3600, sod / 60 % 60, sod % 60)
    }

    fn mtime(p: &Path) -> u128 {
        let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        m.modified().expect("mtime").duration_since(UNIX_EPOCH).expect("epoch").as_millis()
    }

    /// A table's lines with every run of blanks made one (the columns' widths aside).
    fn collapsed(table: &str) -> Vec<String> {
        table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
    }

    /// `(name, state, exitCode, startedAt, startedAtExact, endedAt)` of each step of a JSON view.
    fn steps_of(doc: &Value) -> Vec<(String, String, String, String, bool, String)> {
        let show = |v: &Value| match v {
            Value::Str(s) => s.clone(),
            Value::Num(n) => n.clone(),
            Value::Null => "-".to_string(),
            other => format!("{other:?}"),
        };
        items(get(doc, &["steps"]))
            .iter()
            .map(|s| {
                (
                    show(get(s, &["name"])),
                    show(get(s, &["state"])),
                    show(get(s, &["exitCode"])),
                    show(get(s, &["startedAt"])),
                    *get(s, &["startedAtExact"]) == Value::Bool(true),
                    show(get(s, &["endedAt"])),
                )
            })
            .collect()
    }

    #[test]
    fn a_running_pod_is_read_through_one_exec_of_waitfor_status() {
        let mut c = Cluster::new(&[running_pod()]);
        c.run_build();
        let r = c.status(&["build", "-n", "ci"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        let paths: Vec<String> = ["fetch", "test", "lint", "publish", "oom", "report"]
            .iter()
            .flat_map(|s| [format!("/steps/{s}/out"), format!("/steps/{s}/results")])
            .chain(["/steps/db/out".to_string()])
            .collect();
        assert_eq!(
            c.calls(),
            [
                "get pod build -n ci -o json".to_string(),
                format!("exec build -n ci -c fetch -- /tools/waitfor --status {}", paths.join(" ")),
            ]
        );
        let at = |p: &str| mtime(&c.path(p));
        let clock = |p: &str| rfc3339(at(p))[11..23].to_string();
        let lines = collapsed(&r.stdout);
        assert_eq!(
            lines[0],
            "pod build (namespace ci): Running, started 2026-12-07 13:39:58 UTC; 1 done, 2 running, 1 waiting, 1 failed, 1 skipped, 1 died"
        );
        assert_eq!(lines[1], "STEP STATE EXIT STARTED ENDED DURATION NOTE");
        let took = |a: &str, b: &str| {
            let ms = at(b) - at(a);
            if ms < 1000 {
                format!("{ms}ms")
            } else {
                format!("{}.{:02}", ms / 1000, ms % 1000 / 10)
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
                    + "s"
            }
        };
        assert_eq!(
            lines[2],
            format!(
                "fetch done 0 {}* {} {}",
                clock("fetch/results"),
                clock("fetch/out"),
                took("fetch/results", "fetch/out")
            )
        );
        assert!(lines[3].starts_with(&format!("test running {}* ", clock("test/results"))), "{}", lines[3]);
        assert_eq!(
            lines[4],
            format!(
                "lint failed 2 {}* {} {}",
                clock("lint/results"),
                clock("lint/out.err"),
                took("lint/results", "lint/out.err")
            )
        );
        assert_eq!(lines[5], format!("publish skipped 1 {} Skipped", clock("publish/out.err")));
        assert_eq!(
            lines[6],
            format!("oom died 137 {}* its wrapper was killed: no result", clock("oom/results"))
        );
        assert_eq!(lines[7], "report (finally) waiting");
        assert!(lines[8].starts_with("db (sidecar) running 13:40:00.000 "), "{}", lines[8]);
        assert_eq!(lines[9], "* the time of the step's results directory: its command started then at the latest (later if it wrote a result there)");
        assert_eq!(lines.len(), 10, "{}", r.stdout);

        // the same as JSON
        c.rewind();
        let r = c.status(&["build", "-n", "ci", "-o", "json"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        let doc = json::parse(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
        let t = |p: &str| rfc3339(at(p));
        let row = |n: &str, s: &str, e: &str, st: String, exact: bool, end: String| {
            (n.to_string(), s.to_string(), e.to_string(), st, exact, end)
        };
        let none = || "-".to_string();
        assert_eq!(
            steps_of(&doc),
            [
                row("fetch", "done", "0", t("fetch/results"), false, t("fetch/out")),
                row("test", "running", "-", t("test/results"), false, none()),
                row("lint", "failed", "2", t("lint/results"), false, t("lint/out.err")),
                row("publish", "skipped", "1", none(), false, t("publish/out.err")),
                row("oom", "died", "137", t("oom/results"), false, none()),
                row("report", "waiting", "-", none(), false, none()),
                row("db", "running", "-", "2026-12-07T13:40:00.000Z".to_string(), true, none()),
            ]
        );
        assert_eq!(*get(&doc, &["stepFilesRead"]), Value::Bool(true));
        assert_eq!(strings(get(&doc, &["steps", "3", "needs"])), ["test", "lint"]);
        assert_eq!(text(get(&doc, &["steps", "5", "kind"])), "finally");
        assert_eq!(text(get(&doc, &["steps", "6", "kind"])), "sidecar");
    }

    #[test]
    fn an_ended_pod_is_read_from_its_messages_alone() {
        let c = Cluster::new(&[ended_pod()]);
        let r = c.status(&["build"]);
        let want = "\
pod build (namespace ci): Failed, started 2026-12-07 13:39:58 UTC; 4 done, 1 failed, 1 skipped, 1 died
STEP              STATE    EXIT  STARTED       ENDED         DURATION  NOTE
fetch             done     0     13:40:00.200
test              done     0     13:40:01.300
lint              failed   2     13:40:01.310                          Error
publish           skipped  1     13:40:03.000                          Skipped: entrypoint: step '/steps/lint/out' failed
oom               died     137                                         OOMKilled: its wrapper was killed: no result
report (finally)  done     0     13:41:39.000  13:41:40.000  1s
db (sidecar)      done     0     13:40:00.100  13:41:40.000  1m39s     Stopped
";
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, want, ""));
        // no exec: an ended pod's files cannot be read, and need not be
        assert_eq!(c.calls(), ["get pod build -o json"]);
        c.rewind();
        let r = c.status(&["build", "-o", "json"]);
        let doc = json::parse(ok(&r)).expect("json");
        assert_eq!(*get(&doc, &["ended"]), Value::Bool(true));
        assert_eq!(*get(&doc, &["stepFilesRead"]), Value::Null);
        assert_eq!(text(get(&doc, &["steps", "0", "results", "commit"])), "abc123");
        assert_eq!(text(get(&doc, &["steps", "0", "startedAt"])), "2026-12-07T13:40:00.200Z");
        assert_eq!(*get(&doc, &["steps", "0", "startedAtExact"]), Value::Bool(true));
        assert_eq!(text(get(&doc, &["steps", "3", "message"])), "entrypoint: step '/steps/lint/out' failed");
        assert_eq!(*get(&doc, &["steps", "6", "durationMs"]), Value::Num("99900".into()));
    }

    #[test]
    fn the_pod_of_a_job() {
        let named = |p: String| p.replacen("\"name\": \"build\"", "\"name\": \"build-x7k2p\"", 1);
        let mut c = Cluster::new(&[named(running_pod()), named(ended_pod())]);
        c.run_build();
        let r = c.status(&["job/build", "-n", "ci"]);
        assert!(ok(&r).starts_with("pod build-x7k2p (namespace ci): Running"), "{}", r.stdout);
        let calls = c.calls();
        assert_eq!(calls[0], "get pod -l job-name=build -n ci -o json");
        assert!(
            calls[1].starts_with("exec build-x7k2p -n ci -c fetch -- /tools/waitfor --status "),
            "{calls:?}"
        );
        let r = c.status(&["job/build", "-n", "ci"]);
        assert!(ok(&r).starts_with("pod build-x7k2p (namespace ci): Failed"), "{}", r.stdout);
        // no pod yet
        let empty = Cluster::new(&[r#"{"apiVersion":"v1","kind":"List","items":[]}"#.to_string()]);
        std::fs::rename(empty.dir.join("pod.1.json"), empty.dir.join("list.json")).expect("rename");
        std::fs::write(empty.dir.join("kubectl"), "#!/bin/sh\ncat \"$FAKE/list.json\"\n").expect("write");
        let r = empty.status(&["job/build"]);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (125, "", "steps: job 'build' has no pod (yet)\n")
        );
    }

    #[test]
    fn the_tools_from_an_image_volume_answer_too() {
        let states: Vec<(&str, String)> = ["db", "fetch", "test", "lint", "publish", "oom", "report"]
            .iter()
            .map(|c| (*c, RUNNING.to_string()))
            .collect();
        let file = format!("{BUILD}toolsFrom: image\n");
        let mut c = Cluster::new(&[pod(&file, "Running", &states)]);
        c.run_build();
        let r = c.status(&["build"]);
        assert_eq!(r.code, 0, "{r:?}");
        let calls = c.calls();
        assert!(
            calls[1].starts_with("exec build -c fetch -- /tools/bin/waitfor --status /steps/fetch/out "),
            "{calls:?}"
        );
    }

    #[test]
    fn watch_ends_when_the_pod_has_ended() {
        let mut c = Cluster::new(&[running_pod(), running_pod(), ended_pod()]);
        c.run_build();
        let r = c.status(&["build", "--watch", "--interval", "100ms"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        let calls: Vec<&str> =
            c.calls().iter().map(|l| if l.starts_with("exec") { "exec" } else { "get" }).collect();
        assert_eq!(calls, ["get", "exec", "get", "exec", "get"]);
        // the first view, a line a change (none between the two running looks), the final view
        let (first, rest) = r.stdout.split_once("\n* the time").expect("the first table");
        assert!(first.starts_with("pod build (namespace ci): Running"), "{first}");
        let changes: Vec<&str> = rest.lines().skip(1).take_while(|l| !l.is_empty()).collect();
        let words: Vec<String> =
            changes.iter().map(|l| l.split_once(' ').expect("a time").1.to_string()).collect();
        assert_eq!(
            words,
            [
                "pod build: Running -> Failed",
                "test: running -> done, exit 0",
                "report (finally): waiting -> done, exit 0",
                "db (sidecar): running -> done, exit 0 (Stopped)",
            ]
        );
        let last = r.stdout.rsplit_once("\n\n").expect("the final view").1;
        assert!(last.starts_with("pod build (namespace ci): Failed"), "{last}");
        // the ends the earlier looks saw are kept once the files are gone
        let fetch = collapsed(last)[2].clone();
        let ended = rfc3339(mtime(&c.path("fetch/out")));
        assert!(fetch.starts_with(&format!("fetch done 0 13:40:00.200 {} ", &ended[11..23])), "{fetch}");
        // as JSON: a document each time the view changes, the final one last
        c.rewind();
        let r = c.status(&["build", "--watch", "--interval", "100ms", "-o", "json"]);
        assert_eq!(r.code, 0, "{r:?}");
        let docs: Vec<&str> = r.stdout.split_inclusive("\n}\n").collect();
        assert_eq!(docs.len(), 2, "{}", r.stdout);
        assert_eq!(*get(&json::parse(docs[1]).expect("json"), &["phase"]), Value::Str("Failed".into()));
    }

    #[test]
    fn watch_ends_when_every_step_has_ended_though_the_pod_still_runs() {
        let pair =
            "name: pair\nimage: alpine\nsteps:\n  - name: a\n    run: echo a\n  - name: b\n    run: exit 4\n";
        let running = [("a", RUNNING.to_string()), ("b", RUNNING.to_string())];
        let c = Cluster::new(&[pod(pair, "Running", &running)]);
        assert_eq!(c.finish("a", &[], "true"), 0);
        assert_eq!(c.finish("b", &[format!("--wait={}", c.path("a/out").display())], "exit 4"), 4);
        let r = c.status(&["pair", "-w", "--interval", "100ms"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
        // one look: the steps' files say they have all ended (containers still holding)
        assert_eq!(c.calls().len(), 2, "{:?}", c.calls());
        let lines = collapsed(&r.stdout);
        assert_eq!(
            lines[0],
            "pod pair (namespace ci): Running, started 2026-12-07 13:39:58 UTC; 1 done, 1 failed"
        );
        assert!(lines[3].starts_with("b failed 4 "), "{}", r.stdout);
    }

    #[test]
    fn the_graph_coloured_by_state() {
        let mut c = Cluster::new(&[running_pod()]);
        c.run_build();
        let r = c.status(&["build", "--graph"]);
        let m = ok(&r);
        // the DAG as steps graph draws it, then the states' classes
        let (_d, g) = on_file(BUILD, &["graph"]);
        assert!(m.starts_with(ok(&g)), "{m}");
        for line in [
            "  class s_fetch done",
            "  class s_test,s_db running",
            "  class s_report waiting",
            "  class s_lint failed",
            "  class s_publish skipped",
            "  class s_oom died",
            "  classDef died fill:#ecd9ff,stroke:#8250df,color:#1f2328",
        ] {
            assert!(m.lines().any(|l| l == line), "no {line:?} in {m}");
        }
        c.rewind();
        let r = c.status(&["build", "--graph", "--format", "dot"]);
        let d = ok(&r);
        assert!(d.contains("  \"oom\" [style=\"rounded,filled\", fillcolor=\"#ecd9ff\", color=\"#8250df\", tooltip=\"died\"];\n"), "{d}");
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dot");
        use std::io::Write;
        dot.stdin.take().expect("stdin").write_all(d.as_bytes()).expect("write");
        let out = dot.wait_with_output().expect("dot");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "dot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn unreadable_step_files_leave_the_running_steps_unknown() {
        let mut c = Cluster::new(&[running_pod()]);
        c.run_build();
        let refusal = "Error from server (Forbidden): pods \"build\" is forbidden: User \"dev\" cannot create resource \"pods/exec\"";
        std::fs::write(c.dir.join("exec-fails"), refusal).expect("write");
        let r = c.status(&["build", "-o", "json"]);
        let want = format!(
            "steps: warning: cannot read the step files of pod 'build' ({} exec build -c test: {refusal}): the states of its running steps are unknown\n",
            c.dir.join("kubectl").display()
        );
        assert_eq!((r.code, r.stderr.as_str()), (0, want.as_str()), "{r:?}");
        let doc = json::parse(&r.stdout).expect("json");
        let states: Vec<(String, String)> = steps_of(&doc).into_iter().map(|s| (s.0, s.1)).collect();
        let want: Vec<(String, String)> = [
            ("fetch", "unknown"),
            ("test", "unknown"),
            ("lint", "unknown"),
            ("publish", "unknown"),
            ("oom", "died"),
            ("report", "unknown"),
            ("db", "unknown"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(states, want);
        assert_eq!(*get(&doc, &["stepFilesRead"]), Value::Bool(false));
        // a second container is tried before giving up
        assert_eq!(c.calls().iter().filter(|l| l.starts_with("exec")).count(), 2, "{:?}", c.calls());
    }

    #[test]
    fn kubectl_failures_and_pods_that_are_not_ours_exit_125_with_one_line() {
        let c = Cluster::new(&[ended_pod()]);
        std::fs::write(c.dir.join("get-fails"), "Error from server (NotFound): pods \"nope\" not found\n")
            .expect("write");
        let r = c.status(&["nope"]);
        let kubectl = c.dir.join("kubectl").display().to_string();
        let want =
            format!("steps: {kubectl} get pod nope: Error from server (NotFound): pods \"nope\" not found\n");
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (125, "", want.as_str()));
        // no kubectl at all
        let mut cmd = Command::new(steps_bin());
        cmd.args(["status", "build"]).env("KUBECTL", c.dir.join("no-such-kubectl"));
        let r = run(&mut cmd);
        let want = format!(
            "steps: cannot run '{}': No such file or directory\n",
            c.dir.join("no-such-kubectl").display()
        );
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (125, "", want.as_str()));
        // a pod that runs no step
        let plain = Cluster::new(&[r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"nginx","image":"nginx"}]},"status":{"phase":"Running"}}"#.to_string()]);
        let r = plain.status(&["web"]);
        let want = "steps: pod 'web' runs no step: no container's command is entrypoint with --post-file (was it rendered by steps render?)\n";
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (125, "", want));
        // usage
        usage_error(&["status"], "status: no POD (the name of a pod steps render wrote)");
        usage_error(
            &["status", "build", "--graph", "-o", "json"],
            "status: -o json and --graph: one or the other",
        );
    }
}
