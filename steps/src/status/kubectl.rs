//! `kubectl`, the one way `steps` talks to a cluster (it has no client library
//! of its own, as kubectl plugins do): `$KUBECTL` names the program (default
//! `kubectl` on the PATH), and everything kubectl reads (its kubeconfig, its
//! context, `KUBECONFIG`) applies.

use std::ffi::OsString;
use std::process::{Command, Stdio};

/// The kubectl to run: `$KUBECTL`, else `kubectl`.
pub fn program() -> OsString {
    std::env::var_os("KUBECTL").filter(|k| !k.is_empty()).unwrap_or_else(|| OsString::from("kubectl"))
}

/// Where the pod is: its name and namespace (none: kubectl's current one).
pub struct Target<'a> {
    pub pod: &'a str,
    pub namespace: Option<&'a str>,
}

impl Target<'_> {
    fn namespace_args(&self) -> Vec<&str> {
        self.namespace.map(|ns| vec!["-n", ns]).unwrap_or_default()
    }
}

/// `kubectl get pod POD [-n NS] -o json`: its output, or the line that says
/// why not.
pub fn get_pod(t: &Target) -> Result<String, String> {
    let mut args = vec!["get", "pod", t.pod];
    args.extend(t.namespace_args());
    args.extend(["-o", "json"]);
    run(&args, &format!("get pod {}", t.pod))
}

/// `kubectl get pod -l job-name=JOB [-n NS] -o json`: the pods of a Job (a
/// List), or the line that says why not. (`job-name` is the label every
/// Kubernetes version sets; 1.27+ sets `batch.kubernetes.io/job-name` too.)
pub fn get_job_pods(job: &str, namespace: Option<&str>) -> Result<String, String> {
    let selector = format!("job-name={job}");
    let mut args = vec!["get", "pod", "-l", &selector];
    args.extend(namespace.map(|ns| ["-n", ns]).into_iter().flatten());
    args.extend(["-o", "json"]);
    run(&args, &format!("get pod -l {selector}"))
}

/// `kubectl exec POD [-n NS] -c CONTAINER -- WAITFOR --status PATH...`.
pub fn status_files(t: &Target, container: &str, waitfor: &str, paths: &[&str]) -> Result<String, String> {
    let mut args = vec!["exec", t.pod];
    args.extend(t.namespace_args());
    args.extend(["-c", container, "--", waitfor, "--status"]);
    args.extend(paths);
    run(&args, &format!("exec {} -c {container}", t.pod))
}

/// Runs kubectl with `args`: its standard output, or one line: what failed
/// (`kubectl WHAT`) and kubectl's last line on standard error (its verdict,
/// after any log lines of its client library).
fn run(args: &[&str], what: &str) -> Result<String, String> {
    let kubectl = program();
    let shown = format!("{} {what}", kubectl.to_string_lossy());
    let out = Command::new(&kubectl).args(args).stdin(Stdio::null()).output().map_err(|e| {
        let hint =
            if std::env::var_os("KUBECTL").is_some() { "" } else { " (KUBECTL names another kubectl)" };
        format!("cannot run '{}': {}{hint}", kubectl.to_string_lossy(), crate::reason(&e))
    })?;
    if out.status.success() {
        return String::from_utf8(out.stdout).map_err(|_| format!("{shown}: its output is not UTF-8"));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = stderr.lines().map(str::trim).rfind(|l| !l.is_empty());
    Err(match (said, out.status.code()) {
        (Some(line), _) => format!("{shown}: {line}"),
        (None, Some(code)) => format!("{shown}: exit status {code}"),
        (None, None) => format!("{shown}: killed by a signal"),
    })
}
