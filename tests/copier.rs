//! Black-box tests of copier (the tools' pages in docs/ "copier" and 4): the
//! command line, every copy form, modes, `-r`, atomic replacement (running
//! binaries, planted symlinks, stale temporary files, full and read-only
//! filesystems) and the exact diagnostics.

use harness::{is_root, mount_or_skip, run_tool, Ran, TempDir};
use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

const USAGE_HINT: &str = " (try 'copier --help')\n";

fn copier<I, S>(args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_tool("copier", args)
}

/// `path` as it appears in a message.
fn shown(p: &Path) -> String {
    p.display().to_string()
}

#[track_caller]
fn assert_ok(r: &Ran) {
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", ""),
        "copier should succeed silently: {r:?}"
    );
}

/// Exit 125, nothing on stdout, exactly `stderr` on stderr.
#[track_caller]
fn assert_fails(r: &Ran, stderr: &str) {
    assert_eq!(r.stderr, stderr, "stderr of {r:?}");
    assert_eq!(r.stdout, "", "stdout of {r:?}");
    assert_eq!(r.code, 125, "exit status of {r:?}");
}

/// `copier: cannot copy 'PATH': REASON\n`
fn cannot_copy(p: &Path, reason: &str) -> String {
    format!("copier: cannot copy '{}': {reason}\n", shown(p))
}

/// `copier: cannot write 'PATH': REASON\n`
fn cannot_write(p: &Path, reason: &str) -> String {
    format!("copier: cannot write '{}': {reason}\n", shown(p))
}

/// Deterministic, incompressible-looking content of `len` bytes.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn write(p: &Path, content: &[u8]) {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    std::fs::write(p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn write_mode(p: &Path, content: &[u8], mode: u32) {
    write(p, content);
    chmod(p, mode);
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Permission bits (with setuid, setgid, sticky) of `p`, not following a symlink.
fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display())).permissions().mode()
        & 0o7777
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn exists_nofollow(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn readlink(p: &Path) -> PathBuf {
    std::fs::read_link(p).unwrap_or_else(|e| panic!("readlink {}: {e}", p.display()))
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target.as_ref(), link)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
}

/// The names in directory `d`.
fn names(d: &Path) -> BTreeSet<String> {
    std::fs::read_dir(d)
        .unwrap_or_else(|e| panic!("readdir {}: {e}", d.display()))
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Every path under `root` (not following symlinks), relative to it.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("readdir {}: {e}", d.display())) {
            let e = e.expect("dir entry");
            let p = e.path();
            if e.file_type().expect("file type").is_dir() {
                todo.push(p.clone());
            }
            out.push(p.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    out.sort();
    out
}

/// Temporary files (`.NAME.tmp`, `.NAME.tmpN`) anywhere under `root`.
fn leftovers(root: &Path) -> Vec<PathBuf> {
    walk(root)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            n.starts_with('.') && n.contains(".tmp")
        })
        .collect()
}

#[track_caller]
fn assert_no_leftovers(root: &Path) {
    let left = leftovers(root);
    assert!(left.is_empty(), "temporary files left under {}: {left:?}", root.display());
}

/// Asserts that the trees `a` and `b` hold the same entries: same file
/// contents, same symlink targets, directories where directories are.
#[track_caller]
fn assert_same_tree(a: &Path, b: &Path) {
    let (wa, wb) = (walk(a), walk(b));
    assert_eq!(wa, wb, "entries of {} and {}", a.display(), b.display());
    for rel in wa {
        let (pa, pb) = (a.join(&rel), b.join(&rel));
        let (ma, mb) =
            (std::fs::symlink_metadata(&pa).expect("stat"), std::fs::symlink_metadata(&pb).expect("stat"));
        assert_eq!(
            ma.file_type().is_symlink(),
            mb.file_type().is_symlink(),
            "{}: symlink in one tree only",
            rel.display()
        );
        assert_eq!(ma.is_dir(), mb.is_dir(), "{}: directory in one tree only", rel.display());
        if ma.file_type().is_symlink() {
            assert_eq!(readlink(&pa), readlink(&pb), "{}: symlink target", rel.display());
        } else if ma.is_file() {
            assert!(mb.is_file(), "{}: regular file in one tree only", rel.display());
            assert!(read(&pa) == read(&pb), "{}: content differs", rel.display());
        }
    }
}

// ---------------------------------------------------------------- command line

#[test]
fn help_prints_usage_and_exits_0() {
    let r = copier(["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Usage: copier"), "{r:?}");
    assert!(r.stdout.ends_with('\n'), "{r:?}");
    assert_eq!(r.stderr, "");
    // Options before operands: --help wins over what follows.
    let r2 = copier(["--help", "no-such-source", "dest"]);
    assert_eq!((r2.code, &r2.stdout, r2.stderr.as_str()), (0, &r.stdout, ""));
}

#[test]
fn version_prints_name_and_version() {
    let r = copier(["--version"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "copier 0.1.0\n", ""));
}

#[test]
fn unknown_option_is_a_usage_error_and_copies_nothing() {
    let t = TempDir::new("copier-opt");
    let (src, dest) = (t.join("src"), t.join("dest"));
    write(&src, b"x");
    let r = copier([OsStr::new("--bogus"), src.as_os_str(), dest.as_os_str()]);
    assert_fails(&r, "copier: unknown option '--bogus' (try 'copier --help')\n");
    assert!(!exists_nofollow(&dest));
    let r = copier(["-x"]);
    assert_fails(&r, "copier: unknown option '-x' (try 'copier --help')\n");
}

#[test]
fn missing_operands_are_usage_errors() {
    let t = TempDir::new("copier-operands");
    let src = t.join("only");
    write(&src, b"x");
    assert_fails(
        &copier::<[&str; 0], &str>([]),
        &format!("copier: missing source and destination{USAGE_HINT}"),
    );
    assert_fails(&copier(["-r"]), &format!("copier: missing source and destination{USAGE_HINT}"));
    assert_fails(&copier(["--"]), &format!("copier: missing source and destination{USAGE_HINT}"));
    assert_fails(&copier([&src]), &format!("copier: missing destination{USAGE_HINT}"));
    assert_fails(
        &copier([OsStr::new("--mode"), OsStr::new("644"), src.as_os_str()]),
        &format!("copier: missing destination{USAGE_HINT}"),
    );
    assert_eq!(names(t.path()), set(&["only"]));
}

#[test]
fn invalid_mode_is_a_usage_error_and_copies_nothing() {
    let t = TempDir::new("copier-badmode");
    let (src, dest) = (t.join("src"), t.join("dest"));
    write(&src, b"x");
    for (args, shown_value) in [
        (vec!["--mode", "u+x"], "u+x"),
        (vec!["--mode=u+x"], "u+x"),
        (vec!["-m", "8"], "8"),
        (vec!["--mode", "77777"], "77777"),
        (vec!["--mode="], ""),
    ] {
        let mut argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        argv.extend([src.as_os_str(), dest.as_os_str()]);
        let r = copier(&argv);
        assert_fails(&r, &format!("copier: invalid mode '{shown_value}'{USAGE_HINT}"));
        assert!(!exists_nofollow(&dest), "{args:?} copied anyway");
    }
}

#[test]
fn mode_without_value_is_a_usage_error() {
    let r = copier(["--mode"]);
    assert_eq!((r.code, r.stdout.as_str()), (125, ""), "{r:?}");
    assert!(r.stderr.starts_with("copier: ") && r.stderr.ends_with(USAGE_HINT), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
}

#[test]
fn double_dash_ends_options() {
    let t = TempDir::new("copier-dashdash");
    write(&t.join("-r"), b"dash file");
    let r = harness::run(harness::tool("copier").current_dir(t.path()).args(["--", "-r", "out/"]));
    assert_ok(&r);
    assert_eq!(read(&t.join("out/-r")), b"dash file");
}

// ------------------------------------------------------------------ copy forms

#[test]
fn one_file_to_a_new_file_path() {
    let t = TempDir::new("copier-file");
    for (name, len) in [("empty", 0usize), ("small", 13), ("odd", 16384 * 3 + 7), ("big", 1 << 20)] {
        let src = t.join(&format!("src/{name}"));
        let dest = t.join(&format!("dst/{name}.copy"));
        let content = pattern(len, len as u64);
        write_mode(&src, &content, 0o644);
        std::fs::create_dir_all(t.join("dst")).expect("mkdir");
        assert_ok(&copier([&src, &dest]));
        assert!(read(&dest) == content, "{name}: content differs");
        assert_eq!(mode(&dest), 0o644, "{name}");
    }
    assert_eq!(names(&t.join("dst")), set(&["empty.copy", "small.copy", "odd.copy", "big.copy"]));
}

#[test]
fn one_file_replaces_an_existing_file_atomically() {
    let t = TempDir::new("copier-replace");
    let (src, dest, link) = (t.join("src"), t.join("dest"), t.join("hardlink-to-old"));
    write_mode(&src, b"new content\n", 0o640);
    write_mode(&dest, b"old content, longer than the new one\n", 0o777);
    std::fs::hard_link(&dest, &link).expect("hard link");
    let old_ino = std::fs::metadata(&dest).expect("stat").ino();
    assert_ok(&copier([&src, &dest]));
    assert_eq!(read(&dest), b"new content\n");
    assert_eq!(mode(&dest), 0o640, "the mode comes from the source");
    // Renamed over, not rewritten in place: the old inode keeps the old data.
    assert_ne!(std::fs::metadata(&dest).expect("stat").ino(), old_ino);
    assert_eq!(read(&link), b"old content, longer than the new one\n");
    assert_eq!(names(t.path()), set(&["src", "dest", "hardlink-to-old"]));
}

#[test]
fn one_file_into_an_existing_directory() {
    let t = TempDir::new("copier-intodir");
    let (src, dir) = (t.join("a/tool.sh"), t.join("bin"));
    write_mode(&src, b"#!/bin/sh\necho hi\n", 0o755);
    std::fs::create_dir(&dir).expect("mkdir");
    assert_ok(&copier([&src, &dir]));
    assert_eq!(read(&dir.join("tool.sh")), b"#!/bin/sh\necho hi\n");
    assert_eq!(names(&dir), set(&["tool.sh"]));
    // A symlink to a directory counts as the directory.
    let via = t.join("bin-link");
    symlink(&dir, &via);
    write(&src, b"v2");
    assert_ok(&copier([&src, &via]));
    assert!(is_symlink(&via));
    assert_eq!(read(&dir.join("tool.sh")), b"v2");
}

#[test]
fn one_file_into_a_path_ending_in_slash_is_created_with_parents() {
    let t = TempDir::new("copier-slash");
    let src = t.join("file");
    write(&src, b"content");
    let dest = format!("{}/x/y/z/", shown(t.path()));
    assert_ok(&copier([src.as_os_str(), OsStr::new(&dest)]));
    assert!(t.join("x/y/z").is_dir());
    assert_eq!(read(&t.join("x/y/z/file")), b"content");
    assert_eq!(names(&t.join("x/y/z")), set(&["file"]));
}

#[test]
fn several_sources_into_a_directory_created_with_parents() {
    let t = TempDir::new("copier-many");
    let srcs: Vec<PathBuf> = ["one", "two", "three"].iter().map(|n| t.join(&format!("src/{n}"))).collect();
    for (i, s) in srcs.iter().enumerate() {
        write(s, &pattern(1000 + i * 4097, i as u64));
    }
    let dest = t.join("p/q/r");
    let mut argv: Vec<&OsStr> = srcs.iter().map(|s| s.as_os_str()).collect();
    argv.push(dest.as_os_str());
    assert_ok(&copier(&argv));
    assert_eq!(names(&dest), set(&["one", "two", "three"]));
    for s in &srcs {
        assert!(read(&dest.join(s.file_name().expect("name"))) == read(s));
    }
}

#[test]
fn several_sources_into_an_existing_file_fail() {
    let t = TempDir::new("copier-notdir");
    let (a, b, dest) = (t.join("a"), t.join("b"), t.join("dest"));
    write(&a, b"a");
    write(&b, b"b");
    write(&dest, b"keep");
    let r = copier([&a, &b, &dest]);
    assert_fails(&r, &format!("copier: cannot create directory '{}': Not a directory\n", shown(&dest)));
    assert_eq!(read(&dest), b"keep");
}

#[test]
fn file_in_a_missing_directory_fails() {
    let t = TempDir::new("copier-nodir");
    let src = t.join("src");
    write(&src, b"x");
    let dest = t.join("missing/dest");
    assert_fails(&copier([&src, &dest]), &cannot_write(&dest, "No such file or directory"));
    assert!(!exists_nofollow(&t.join("missing")));
}

#[test]
fn symlink_source_without_r_is_followed() {
    let t = TempDir::new("copier-follow");
    let (target, link, dest) = (t.join("target"), t.join("link"), t.join("dest"));
    write_mode(&target, b"through the link", 0o600);
    symlink("target", &link);
    assert_ok(&copier([&link, &dest]));
    assert!(!is_symlink(&dest));
    assert_eq!(read(&dest), b"through the link");
    assert_eq!(mode(&dest), 0o600);
}

// ----------------------------------------------------------------------- modes

#[test]
fn modes_come_from_the_source_and_executables_get_read_and_execute_for_all() {
    let t = TempDir::new("copier-modes");
    let out = t.join("out");
    for (src_mode, want) in [
        (0o644, 0o644),
        (0o600, 0o600),
        (0o640, 0o640),
        (0o444, 0o444),
        (0o700, 0o755),
        (0o750, 0o755),
        (0o500, 0o555),
        (0o510, 0o555),
        (0o711, 0o755),
        (0o744, 0o755),
        (0o777, 0o777),
    ]
    .into_iter()
    // Execute only: the owner cannot even read it, unless root.
    .chain(is_root().then_some((0o100, 0o555)))
    {
        let src = t.join(&format!("src/m{src_mode:o}"));
        write_mode(&src, b"#!/bin/sh\n", src_mode);
        assert_ok(&copier([src.as_os_str(), OsStr::new(&format!("{}/", shown(&out)))]));
        let dest = out.join(src.file_name().expect("name"));
        assert_eq!(mode(&dest), want, "source mode {src_mode:o}: got {:o}", mode(&dest));
    }
}

#[test]
fn mode_option_sets_the_mode_and_an_executable_one_is_runnable_by_all() {
    // `--mode` replaces the source's bits; as for those, any execute bit also
    // gives read and execute to everyone (mode | 0555)
    let t = TempDir::new("copier-modeopt");
    let src = t.join("exe");
    write_mode(&src, b"\x7fELF", 0o700);
    for (args, want) in [
        (vec!["--mode", "600"], 0o600),
        (vec!["--mode=0644"], 0o644),
        (vec!["-m", "640"], 0o640),
        (vec!["-m=700"], 0o755),
        (vec!["--mode", "4755"], 0o4755),
        (vec!["--mode", "4700"], 0o4755),
        (vec!["--mode", "100"], 0o555),
        (vec!["--mode", "0"], 0o000),
    ] {
        let dest = t.join(&format!("dest-{}", args.join("")));
        let mut argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        argv.extend([src.as_os_str(), dest.as_os_str()]);
        assert_ok(&copier(&argv));
        assert_eq!(mode(&dest), want, "{args:?}: got {:o}", mode(&dest));
        if want & 0o400 != 0 || is_root() {
            assert_eq!(read(&dest), b"\x7fELF");
        }
    }
}

// ---------------------------------------------------------------------- -r

/// A source tree: nested directories, an executable, relative, absolute,
/// dangling and directory symlinks.
fn make_tree(root: &Path) {
    write_mode(&root.join("top.txt"), b"top\n", 0o644);
    write_mode(&root.join("a/one.txt"), &pattern(5000, 1), 0o600);
    write_mode(&root.join("a/b/c/deep.txt"), b"deep\n", 0o644);
    write_mode(&root.join("a/b/run.sh"), b"#!/bin/sh\n", 0o700);
    std::fs::create_dir_all(root.join("empty")).expect("mkdir");
    symlink("b/c/deep.txt", &root.join("a/rel-link"));
    symlink("/nonexistent/absolute", &root.join("a/abs-link"));
    symlink("../nowhere", &root.join("a/b/dangling"));
    symlink("a/b", &root.join("dir-link"));
    chmod(&root.join("a/b"), 0o700);
}

#[test]
fn recursive_copy_recreates_the_tree_and_its_symlinks() {
    let t = TempDir::new("copier-tree");
    let src = t.join("src");
    make_tree(&src);
    let dest = t.join("out/copy");
    std::fs::create_dir_all(t.join("out")).expect("mkdir");
    assert_ok(&copier([OsStr::new("-r"), src.as_os_str(), dest.as_os_str()]));
    assert_same_tree(&src, &dest);
    assert!(is_symlink(&dest.join("a/rel-link")));
    assert_eq!(readlink(&dest.join("a/rel-link")), Path::new("b/c/deep.txt"));
    assert_eq!(read(&dest.join("a/rel-link")), b"deep\n", "the relative link resolves in the copy");
    assert_eq!(readlink(&dest.join("a/abs-link")), Path::new("/nonexistent/absolute"));
    assert_eq!(readlink(&dest.join("a/b/dangling")), Path::new("../nowhere"));
    // The directory symlink is not followed: no copy of a/b under dir-link.
    assert!(is_symlink(&dest.join("dir-link")));
    assert_eq!(readlink(&dest.join("dir-link")), Path::new("a/b"));
    // Modes: files as for a single copy, directories get read and search for all.
    assert_eq!(mode(&dest.join("a/one.txt")), 0o600);
    assert_eq!(mode(&dest.join("a/b/run.sh")), 0o755);
    assert_eq!(mode(&dest.join("a/b")), 0o755);
    assert_no_leftovers(&t.join("out"));
}

#[test]
fn recursive_spellings_and_copy_into_an_existing_directory() {
    let t = TempDir::new("copier-rspell");
    let src = t.join("tree");
    make_tree(&src);
    for (i, flag) in ["-r", "-R", "--recursive"].iter().enumerate() {
        let out = t.join(&format!("out{i}"));
        std::fs::create_dir(&out).expect("mkdir");
        assert_ok(&copier([OsStr::new(flag), src.as_os_str(), out.as_os_str()]));
        assert_eq!(names(&out), set(&["tree"]), "{flag}");
        assert_same_tree(&src, &out.join("tree"));
    }
    // A trailing slash on the source names the same directory.
    let out = t.join("slash/");
    let src_slash = format!("{}/", shown(&src));
    assert_ok(&copier([OsStr::new("-r"), OsStr::new(&src_slash), out.as_os_str()]));
    assert_same_tree(&src, &t.join("slash/tree"));
}

#[test]
fn recursive_copy_recreates_a_symlink_given_as_source() {
    let t = TempDir::new("copier-rlink");
    write(&t.join("target"), b"t");
    let link = t.join("link");
    symlink("target", &link);
    let dest = t.join("dest");
    assert_ok(&copier([OsStr::new("-r"), link.as_os_str(), dest.as_os_str()]));
    assert!(is_symlink(&dest));
    assert_eq!(readlink(&dest), Path::new("target"));
}

#[test]
fn recursive_copy_with_mode_sets_files_only() {
    let t = TempDir::new("copier-rmode");
    let src = t.join("src");
    make_tree(&src);
    let dest = t.join("dest");
    assert_ok(&copier([
        OsStr::new("-r"),
        OsStr::new("--mode"),
        OsStr::new("640"),
        src.as_os_str(),
        dest.as_os_str(),
    ]));
    assert_eq!(mode(&dest.join("a/b/run.sh")), 0o640);
    assert_eq!(mode(&dest.join("top.txt")), 0o640);
    assert_eq!(mode(&dest.join("a/b")), 0o755, "directories stay searchable");
    assert_eq!(read(&dest.join("a/b/c/deep.txt")), b"deep\n");
}

#[test]
fn directory_without_r_is_an_error_and_other_sources_are_still_copied() {
    let t = TempDir::new("copier-dir");
    let (dir, f1, f2) = (t.join("adir"), t.join("f1"), t.join("f2"));
    write(&dir.join("inner"), b"i");
    write(&f1, b"1");
    write(&f2, b"2");
    let out = t.join("out");
    let r = copier([&f1, &dir, &f2, &out]);
    assert_fails(&r, &format!("copier: cannot copy '{}': is a directory (use -r)\n", shown(&dir)));
    assert_eq!(names(&out), set(&["f1", "f2"]));
    assert_eq!(read(&out.join("f2")), b"2");
    // The single-source form says the same.
    let r = copier([&dir, &t.join("x")]);
    assert_fails(&r, &format!("copier: cannot copy '{}': is a directory (use -r)\n", shown(&dir)));
    assert!(!exists_nofollow(&t.join("x")));
}

#[test]
fn rerun_is_idempotent_and_leaves_no_temporary_files() {
    let t = TempDir::new("copier-rerun");
    let src = t.join("src");
    make_tree(&src);
    let file = t.join("single");
    write_mode(&file, &pattern(70000, 9), 0o700);
    let out = t.join("out");
    // The file form copies to DEST, so the parent of DEST must exist (as for cp).
    std::fs::create_dir(&out).expect("mkdir");
    for round in 0..3 {
        // The tree goes into the existing directory OUT (as OUT/src): a re-run
        // of `-r SRC OUT/tree` would nest, as with cp, once OUT/tree exists.
        assert_ok(&copier([OsStr::new("-r"), src.as_os_str(), out.as_os_str()]));
        assert_ok(&copier([file.as_os_str(), out.join("single").as_os_str()]));
        assert_ok(&copier([file.as_os_str(), out.join("bin/").as_os_str()]));
        assert_same_tree(&src, &out.join("src"));
        assert!(read(&out.join("single")) == read(&file), "round {round}");
        assert!(read(&out.join("bin/single")) == read(&file), "round {round}");
        assert_eq!(mode(&out.join("single")), 0o755);
        assert_eq!(names(&out), set(&["src", "single", "bin"]), "round {round}");
        assert_no_leftovers(&out);
    }
}

#[test]
fn deep_tree_is_copied() {
    // 300 levels: the paths stay far below PATH_MAX, so this is an ordinary tree.
    let t = TempDir::new("copier-deep");
    let mut rel = PathBuf::from("src");
    for _ in 0..300 {
        rel.push("d");
    }
    let bottom = t.path().join(&rel);
    write(&bottom.join("leaf"), b"leaf\n");
    symlink("leaf", &bottom.join("leaf-link"));
    let r = copier([OsStr::new("-r"), t.join("src").as_os_str(), t.join("dest").as_os_str()]);
    assert_ok(&r);
    let copied = t.join("dest").join(rel.strip_prefix("src").expect("prefix"));
    assert_eq!(read(&copied.join("leaf")), b"leaf\n");
    assert_eq!(readlink(&copied.join("leaf-link")), Path::new("leaf"));
}

#[test]
fn recursive_copy_into_itself_fails_without_recursing_forever() {
    let t = TempDir::new("copier-itself");
    write(&t.join("r/f"), b"f");
    std::fs::create_dir_all(t.join("r/s")).expect("mkdir");
    let r = harness::run(harness::tool("copier").current_dir(t.path()).args(["-r", "r", "r/s"]));
    assert_eq!(r.code, 125, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(!r.stderr.is_empty(), "{r:?}");
    for line in r.stderr.lines() {
        assert!(line.starts_with("copier: "), "not a copier diagnostic: {line:?}");
    }
    assert!(
        !exists_nofollow(&t.join("r/s/r/s/r")),
        "copier recursed into its own copy: {}",
        walk(t.path()).len()
    );
    assert_eq!(read(&t.join("r/f")), b"f");
}

// -------------------------------------------------------- special and missing

#[test]
fn missing_source_is_reported_and_the_others_are_copied() {
    let t = TempDir::new("copier-missing");
    let (missing, good, out) = (t.join("no such file"), t.join("good"), t.join("out"));
    write(&good, b"g");
    assert_fails(&copier([&missing, &t.join("dest")]), &cannot_copy(&missing, "No such file or directory"));
    assert!(!exists_nofollow(&t.join("dest")));
    assert_fails(&copier([&missing, &good, &out]), &cannot_copy(&missing, "No such file or directory"));
    assert_eq!(names(&out), set(&["good"]));
}

#[test]
fn fifo_is_an_error() {
    let t = TempDir::new("copier-fifo");
    let fifo = t.join("fifo");
    let c = CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    assert_fails(&copier([&fifo, &t.join("dest")]), &cannot_copy(&fifo, "is a fifo"));
    assert!(!exists_nofollow(&t.join("dest")));
    assert_no_leftovers(t.path());
}

#[test]
fn fifo_inside_a_tree_fails_that_entry_only() {
    let t = TempDir::new("copier-rfifo");
    let src = t.join("src");
    write(&src.join("a"), b"a");
    write(&src.join("sub/b"), b"b");
    let fifo = src.join("sub/fifo");
    let c = CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let dest = t.join("dest");
    assert_fails(
        &copier([OsStr::new("-r"), src.as_os_str(), dest.as_os_str()]),
        &cannot_copy(&fifo, "is a fifo"),
    );
    assert_eq!(read(&dest.join("a")), b"a");
    assert_eq!(read(&dest.join("sub/b")), b"b");
    assert_eq!(names(&dest.join("sub")), set(&["b"]));
}

#[test]
fn device_is_an_error() {
    let t = TempDir::new("copier-dev");
    let dev = Path::new("/dev/null");
    assert_fails(&copier([dev, &t.join("dest")]), &cannot_copy(dev, "is a device"));
    assert!(!exists_nofollow(&t.join("dest")));
}

#[test]
fn socket_is_an_error() {
    let t = TempDir::new("copier-sock");
    let sock = t.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    assert_fails(&copier([&sock, &t.join("dest")]), &cannot_copy(&sock, "is a socket"));
    assert!(!exists_nofollow(&t.join("dest")));
}

#[test]
fn control_characters_in_a_name_stay_on_one_line() {
    let t = TempDir::new("copier-ctl");
    let bad = t.join("bad\nname");
    let r = copier([&bad, &t.join("dest")]);
    assert_fails(
        &r,
        &format!("copier: cannot copy '{}/bad\\x0aname': No such file or directory\n", shown(t.path())),
    );
}

// -------------------------------------------------- atomic replacement cases

#[test]
fn running_binary_is_replaced_without_text_file_busy() {
    let t = TempDir::new("copier-busy");
    let (sleep, other) = (Path::new("/bin/sleep"), Path::new("/bin/true"));
    let dest = t.join("bin/prog");
    std::fs::create_dir(t.join("bin")).expect("mkdir");
    // Installed by copier itself: no writable descriptor of it is left in this
    // (multi-threaded) test process to make the exec fail with ETXTBSY.
    assert_ok(&copier([sleep, &dest]));
    let mut child = std::process::Command::new(&dest)
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("start the copied sleep");
    let r = copier([other, &dest]);
    let still_running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill();
    let status = child.wait().expect("wait");
    assert_ok(&r);
    assert!(still_running, "the running program ended when its file was replaced");
    assert_eq!(harness::status_code(status), 128 + libc::SIGKILL, "it ran until killed");
    assert!(read(&dest) == read(other), "DEST does not hold the new binary");
    assert_eq!(mode(&dest), 0o755);
    assert_no_leftovers(t.path());
    let ran = harness::run(&mut std::process::Command::new(&dest));
    assert_eq!(ran.code, 0, "the new binary runs: {ran:?}");
}

#[test]
fn tools_copy_themselves_into_a_bin_dir_and_run_from_there() {
    let t = TempDir::new("copier-self");
    let bin = t.join("shared/bin");
    let tools: Vec<PathBuf> = ["copier", "waitfor", "entrypoint"].iter().map(|n| harness::bin(n)).collect();
    let mut argv: Vec<&OsStr> = tools.iter().map(|p| p.as_os_str()).collect();
    argv.push(bin.as_os_str());
    assert_ok(&copier(&argv));
    assert_eq!(names(&bin), set(&["copier", "waitfor", "entrypoint"]));
    for tool in &tools {
        let copy = bin.join(tool.file_name().expect("name"));
        assert!(read(&copy) == read(tool), "{} differs", copy.display());
        assert_eq!(mode(&copy) & 0o555, 0o555, "{}: {:o}", copy.display(), mode(&copy));
    }
    let copied = |args: &[&OsStr]| {
        let mut c = match harness::runner() {
            Some(r) => {
                let mut c = std::process::Command::new(r);
                c.arg(bin.join("copier"));
                c
            }
            None => std::process::Command::new(bin.join("copier")),
        };
        harness::run(c.args(args))
    };
    let r = copied(&[OsStr::new("--version")]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "copier 0.1.0\n", ""));
    // The copied copier refreshes the bin dir, itself included, while it runs.
    assert_ok(&copied(&argv));
    assert_eq!(names(&bin), set(&["copier", "waitfor", "entrypoint"]));
    assert!(read(&bin.join("copier")) == read(&tools[0]));
}

#[test]
fn planted_symlink_at_the_temporary_name_is_not_followed() {
    let t = TempDir::new("copier-plant");
    let d = t.join("vol");
    let (victim, src, dest) = (d.join("victim"), t.join("src"), d.join("dest"));
    write_mode(&victim, b"victim content", 0o600);
    write_mode(&src, b"new", 0o644);
    symlink(&victim, &d.join(".dest.tmp"));
    // A dangling one must not be created through either.
    let (dest2, created) = (d.join("dest2"), d.join("created-through-link"));
    symlink(&created, &d.join(".dest2.tmp"));
    assert_ok(&copier([&src, &dest]));
    assert_ok(&copier([&src, &dest2]));
    assert_eq!(read(&victim), b"victim content");
    assert_eq!(mode(&victim), 0o600);
    assert_eq!(read(&dest), b"new");
    assert_eq!(read(&dest2), b"new");
    assert!(!is_symlink(&dest) && !is_symlink(&dest2));
    assert!(!exists_nofollow(&created), "a dangling planted symlink was followed");
    assert!(is_symlink(&d.join(".dest.tmp")) && is_symlink(&d.join(".dest2.tmp")));
    assert_eq!(readlink(&d.join(".dest.tmp")), victim);
    assert_eq!(readlink(&d.join(".dest2.tmp")), created);
    assert_eq!(names(&d), set(&["victim", "dest", "dest2", ".dest.tmp", ".dest2.tmp"]));
}

#[test]
fn stale_temporary_file_is_reclaimed() {
    let t = TempDir::new("copier-stale");
    let d = t.join("vol");
    let (src, dest) = (t.join("src"), d.join("dest"));
    write_mode(&src, b"fresh", 0o755);
    write_mode(&d.join(".dest.tmp"), b"half a file from a killed copier", 0o600);
    write(&dest, b"old");
    assert_ok(&copier([&src, &dest]));
    assert_eq!(read(&dest), b"fresh");
    assert_eq!(mode(&dest), 0o755);
    assert_eq!(names(&d), set(&["dest"]));
    // The same in the into-directory form, with no old destination.
    write(&d.join(".src.tmp"), b"stale");
    assert_ok(&copier([&src, &d]));
    assert_eq!(read(&d.join("src")), b"fresh");
    assert_eq!(names(&d), set(&["dest", "src"]));
}

#[test]
fn concurrent_copies_to_one_destination_all_succeed() {
    let t = TempDir::new("copier-race");
    let dest = t.join("vol/dest");
    std::fs::create_dir_all(t.join("vol")).expect("mkdir");
    let sources: Vec<(PathBuf, Vec<u8>)> = (0..6)
        .map(|i| {
            let p = t.join(&format!("src{i}"));
            let c = pattern(300_000 + i * 1000, i as u64 + 100);
            write(&p, &c);
            (p, c)
        })
        .collect();
    let children: Vec<_> = sources
        .iter()
        .map(|(p, _)| {
            harness::tool("copier")
                .args([p, &dest])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn copier")
        })
        .collect();
    for c in children {
        let r: Ran = c.wait_with_output().expect("wait").into();
        assert_ok(&r);
    }
    let got = read(&dest);
    assert!(sources.iter().any(|(_, c)| *c == got), "dest is not one whole source");
    assert_eq!(names(&t.join("vol")), set(&["dest"]));
}

#[test]
fn paths_with_spaces() {
    let t = TempDir::new("copier-spaces");
    let src = t.join("my src dir/a file.txt");
    write(&src, b"spaced");
    let dest = t.join("dest dir/sub dir/");
    assert_ok(&copier([&src, &dest]));
    assert_eq!(read(&t.join("dest dir/sub dir/a file.txt")), b"spaced");
    let tree = t.join("tree copy");
    assert_ok(&copier([OsStr::new("-r"), t.join("my src dir").as_os_str(), tree.as_os_str()]));
    assert_eq!(read(&tree.join("a file.txt")), b"spaced");
    let missing = t.join("not here.txt");
    assert_fails(&copier([&missing, &dest]), &cannot_copy(&missing, "No such file or directory"));
}

#[test]
fn longest_names_are_copied() {
    let t = TempDir::new("copier-long");
    // NAME_MAX bytes; two names that share their first 240 bytes.
    let a = format!("{}a{}", "n".repeat(240), "x".repeat(14));
    let b = format!("{}b{}", "n".repeat(240), "x".repeat(14));
    assert_eq!(a.len(), 255);
    let (pa, pb) = (t.join(&format!("src/{a}")), t.join(&format!("src/{b}")));
    write(&pa, b"first");
    write(&pb, b"second");
    let out = t.join("out");
    assert_ok(&copier([&pa, &pb, &out]));
    assert_eq!(read(&out.join(&a)), b"first");
    assert_eq!(read(&out.join(&b)), b"second");
    assert_ok(&copier([&pa, &pb, &out]));
    assert_eq!(names(&out), set(&[a.as_str(), b.as_str()]));
}

// ------------------------------------------------- failing filesystems

#[test]
fn full_filesystem_keeps_the_old_destination() {
    let t = TempDir::new("copier-enospc");
    let mnt = t.join("small");
    let Some(_mount) = mount_or_skip("full_filesystem_keeps_the_old_destination", &mnt, "size=64k", false)
    else {
        return;
    };
    let (src, dest) = (t.join("big"), mnt.join("dest"));
    write(&src, &pattern(1 << 20, 7));
    write(&dest, b"old content\n");
    let r = copier([&src, &dest]);
    assert_fails(&r, &cannot_write(&dest, "No space left on device"));
    assert_eq!(read(&dest), b"old content\n");
    assert_eq!(names(&mnt), set(&["dest"]), "temporary file left behind");
    // The into-directory form: nothing appears.
    let r = copier([&src, &mnt]);
    assert_fails(&r, &cannot_write(&mnt.join("big"), "No space left on device"));
    assert_eq!(names(&mnt), set(&["dest"]), "temporary file left behind");
}

#[test]
fn read_only_destination_fails_and_keeps_the_old_file() {
    let t = TempDir::new("copier-rofs");
    let src = t.join("src");
    write(&src, b"new");
    let dir = t.join("ro");
    if is_root() {
        let Some(mount) =
            mount_or_skip("read_only_destination_fails_and_keeps_the_old_file", &dir, "size=1m", false)
        else {
            return;
        };
        write(&dir.join("dest"), b"old");
        mount.remount_ro();
        let dest = dir.join("dest");
        assert_fails(&copier([&src, &dest]), &cannot_write(&dest, "Read-only file system"));
        assert_eq!(read(&dest), b"old");
        assert_fails(&copier([&src, &dir]), &cannot_write(&dir.join("src"), "Read-only file system"));
        assert_eq!(names(&dir), set(&["dest"]));
        drop(mount);
        // A tmpfs mounted read-only from the start.
        let Some(_m) = mount_or_skip("read_only_destination_fails_and_keeps_the_old_file", &dir, "", true)
        else {
            return;
        };
        let dest = dir.join("new");
        assert_fails(&copier([&src, &dest]), &cannot_write(&dest, "Read-only file system"));
    } else {
        std::fs::create_dir(&dir).expect("mkdir");
        write(&dir.join("dest"), b"old");
        chmod(&dir, 0o555);
        let dest = dir.join("dest");
        let r = copier([&src, &dest]);
        chmod(&dir, 0o755);
        assert_fails(&r, &cannot_write(&dest, "Permission denied"));
        assert_eq!(read(&dest), b"old");
        assert_eq!(names(&dir), set(&["dest"]));
    }
}

#[test]
fn write_only_directory_is_a_valid_destination() {
    // A drop-box directory (write and search, no read), as `cp` handles it.
    let t = TempDir::new("copier-wonly");
    let src = t.join("src");
    write_mode(&src, b"dropped", 0o644);
    let dir = t.join("drop");
    std::fs::create_dir(&dir).expect("mkdir");
    let mut cmd = harness::tool("copier");
    cmd.args([&src, &dir.join("f")]);
    if is_root() {
        // Root reads any directory: run as nobody.
        use std::os::unix::process::CommandExt;
        chmod(&dir, 0o1733);
        cmd.uid(65534).gid(65534);
    } else {
        chmod(&dir, 0o333);
    }
    let r = harness::run(&mut cmd);
    chmod(&dir, 0o755);
    assert_ok(&r);
    assert_eq!(read(&dir.join("f")), b"dropped");
    assert_eq!(names(&dir), set(&["f"]));
}
