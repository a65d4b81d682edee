//! The PATH search of `entrypoint -- COMMAND` and `waitfor ... -- COMMAND`
//! (the tools' own, in stepkit::sys, that does what musl's `execvp` does):
//! every directory of PATH in turn, an empty one being the current directory,
//! past those where COMMAND is missing or not a directory, `Permission denied`
//! (126) when it was found only without the right to run it; a name with a
//! slash is run as it is; no PATH is `/usr/local/bin:/bin:/usr/bin`.

use harness::{bin, run, runner, Ran, TempDir};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// `dir/NAME`, a script that prints `ran $0`, with `mode`.
fn script(dir: &Path, name: &str, mode: u32) {
    fs::create_dir_all(dir).expect("dir");
    let p = dir.join(name);
    fs::write(&p, "#!/bin/sh\necho ran $0\n").expect("script");
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs `tool` on `command` with only PATH (or no variable at all) in its
/// environment, from `cwd`.
fn run_in(tool_name: &str, cwd: &Path, path: Option<&str>, command: &str) -> Ran {
    // The runner (qemu-user) is found with the test's PATH, not the tool's.
    let mut cmd = match runner() {
        Some(r) => {
            let dirs = std::env::var_os("PATH").unwrap_or_default();
            let found = std::env::split_paths(&dirs).map(|d| d.join(&r)).find(|p| p.is_file());
            let mut c = Command::new(found.unwrap_or_else(|| panic!("runner {r} not in PATH")));
            c.arg(bin(tool_name));
            c
        }
        None => Command::new(bin(tool_name)),
    };
    cmd.env_clear().current_dir(cwd);
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    match tool_name {
        "waitfor" => cmd.args([".", "--", command]),
        _ => cmd.args(["--", command]),
    };
    run(&mut cmd)
}

fn check(r: &Ran, code: i32, stdout: &str, stderr: &str) {
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (code, stdout, stderr), "{r:?}");
}

#[test]
fn path_search_as_execvp_does_it() {
    let t = TempDir::new("path-search");
    let (ok, denied, cwd) = (t.join("ok"), t.join("denied"), t.join("cwd"));
    script(&ok, "hello", 0o755);
    script(&denied, "hello", 0o644);
    script(&cwd, "hello", 0o755);
    script(&ok, "plain", 0o644);
    fs::write(t.join("file"), "").expect("file");
    let (ok_s, denied_s, file_s) = (ok.display(), denied.display(), t.join("file").display().to_string());
    for name in ["entrypoint", "waitfor"] {
        let cannot = |what: &str, why: &str| format!("{name}: cannot run '{what}': {why}\n");
        let ran_ok = format!("ran {ok_s}/hello\n");
        // Past a directory where it may not be run, and past a file.
        check(&run_in(name, &cwd, Some(&format!("{denied_s}:{ok_s}")), "hello"), 0, &ran_ok, "");
        check(&run_in(name, &cwd, Some(&format!("{file_s}:{ok_s}")), "hello"), 0, &ran_ok, "");
        // Found only where it may not be run: 126; else the last reason, 127.
        let r = run_in(name, &cwd, Some(&format!("{denied_s}:/nonexistent")), "hello");
        check(&r, 126, "", &cannot("hello", "Permission denied"));
        check(&run_in(name, &cwd, Some(&file_s), "hello"), 127, "", &cannot("hello", "Not a directory"));
        let r = run_in(name, &cwd, Some("/nonexistent"), "hello");
        check(&r, 127, "", &cannot("hello", "No such file or directory"));
        // An empty directory of PATH (or an empty PATH) is the current one.
        check(&run_in(name, &cwd, Some(&format!(":{ok_s}")), "hello"), 0, "ran hello\n", "");
        check(&run_in(name, &cwd, Some(""), "hello"), 0, "ran hello\n", "");
        // A name with a slash is not searched.
        check(&run_in(name, &cwd, Some(&ok_s.to_string()), "./hello"), 0, "ran ./hello\n", "");
        // Not executable, and empty.
        check(
            &run_in(name, &cwd, Some(&ok_s.to_string()), "plain"),
            126,
            "",
            &cannot("plain", "Permission denied"),
        );
        check(
            &run_in(name, &cwd, Some(&ok_s.to_string()), ""),
            127,
            "",
            &cannot("", "No such file or directory"),
        );
        // A name longer than NAME_MAX, and a directory longer than PATH_MAX (passed over).
        let long = "x".repeat(300);
        check(
            &run_in(name, &cwd, Some(&ok_s.to_string()), &long),
            126,
            "",
            &cannot(&long, "Filename too long"),
        );
        let huge = format!("/{}:{ok_s}", "d".repeat(5000));
        check(&run_in(name, &cwd, Some(&huge), "hello"), 0, &ran_ok, "");
        // No PATH at all: the default, which holds sh.
        let r = run_in(name, &cwd, None, "sh");
        assert_eq!(r.code, 0, "{r:?}");
    }
}
