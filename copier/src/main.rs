//! copier: copies files (and the tools themselves) into a volume, atomically.
//!
//! ```text
//! copier [-r] [--mode MODE] SOURCE... DEST
//! ```
//!
//! - One SOURCE and a DEST that is not an existing directory (and does not end
//!   in `/`): copy to the file DEST. Otherwise copy each SOURCE into the
//!   directory DEST, which is created (with parents) if missing.
//! - Each file goes to a temporary file beside its destination, then is renamed
//!   over it: a re-run is idempotent, a reader never sees half a file, and a
//!   binary running in another container is replaced without "Text file busy".
//! - Mode bits come from the source, or from `--mode` (octal); either way a
//!   file with any execute bit also gets read and execute for everyone (steps
//!   may run under another uid than the init container).
//! - `-r` copies directories recursively, symlinks recreated (not followed);
//!   without it a directory SOURCE is an error. Fifos, sockets and devices are
//!   errors. Other SOURCEs are still copied after an error.
//!
//! Exit status: 0 when everything was copied, 125 otherwise (one line on stderr
//! per failure: `copier: cannot copy 'SRC': reason`).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks))]
// Safe code only: the process entry that `tool_main!` makes is allowed its
// `unsafe` there; everything else goes through stepkit's `os` layer.
#![deny(unsafe_code)]

use core::mem::MaybeUninit;
use rustix::fs::{mkdirat, openat, statat, AtFlags, FileType, Mode, OFlags, RawDir, CWD};
use rustix::io::Errno;
use stepkit::cli::args::{self, Item, Parser, UsageError};
use stepkit::cli::say::{self, Line};
use stepkit::cli::status;
use stepkit::files::copy::{copy_file_locked, kind_words, CopyError};
use stepkit::files::path::{basename, create_dirs, is_dir};
use stepkit::os::argv::Args;
use stepkit::os::cstr::PathBuf;

const TOOL: &str = "copier";
const VERSION: &str = concat!("copier ", env!("CARGO_PKG_VERSION"), "\n");

const USAGE: &str = "\
Usage: copier [-r] [--mode MODE] SOURCE... DEST

Copies SOURCE to the file DEST, or each SOURCE into the directory DEST
(created with its parents when missing, or when DEST ends in '/').
Every file is written to a temporary file beside its destination and
renamed over it, so readers never see a partial file and a running
binary is replaced safely.

  -r, -R, --recursive  copy directories recursively (symlinks recreated)
  -m, --mode MODE      give copied files this octal MODE (default: the
                       source's); executables also get a+rx
      --help           show this help
      --version        show the version

Exit status: 0 all copied, 125 something failed (one line each).
";

stepkit::tool_main!(run);

/// What the command line asks for.
struct Options {
    recursive: bool,
    mode: Option<u32>,
    /// Index of the first operand in argv.
    first: usize,
    /// Device and inode of the directory a `-r` copy created or entered first,
    /// so that copying a directory into itself stops instead of recursing.
    top_dest: Option<(u64, u64)>,
}

/// Why something was not copied: printed, in one place, by [`Failure::print`].
struct Failure {
    /// `cannot copy`, `cannot write`, ...
    what: &'static str,
    /// Which path it concerns: the caller still holds it.
    on: Side,
    why: Why,
}

#[derive(Clone, Copy)]
enum Side {
    Source,
    Dest,
}

enum Why {
    /// A system call failed.
    Sys(Errno),
    /// The source is something copier does not copy.
    Words(&'static str),
}

impl Failure {
    /// `copier: WHAT 'PATH': WHY`, one line.
    #[inline(never)]
    fn print(&self, path: &[u8]) {
        let line = Line::new(TOOL).text(self.what).text(" ").quoted(path);
        match self.why {
            Why::Sys(e) => line.reason(e),
            Why::Words(w) => line.text(": ").text(w),
        }
        .emit();
    }

    /// The path it concerns, of the two being copied.
    fn path<'p>(&self, src: &'p [u8], dest: &'p [u8]) -> &'p [u8] {
        match self.on {
            Side::Source => src,
            Side::Dest => dest,
        }
    }
}

/// A failed system call on `on`'s path, for `map_err`.
fn sys(what: &'static str, on: Side) -> impl FnOnce(Errno) -> Failure {
    move |e| Failure { what, on, why: Why::Sys(e) }
}

/// Where failures go, with the path they concern: each one is printed, and
/// counted for the exit status.
type Report<'r> = &'r mut dyn FnMut(&Failure, &[u8]);

fn run(args: Args) -> u8 {
    stepkit::os::io::ensure_stdio();
    let mut opts = match parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => return status::OK,
        Err(e) => {
            say::usage(TOOL, e);
            return status::TOOL_FAILED;
        }
    };
    let last = args.len() - 1;
    let (Some(dest), true) = (args.get(last), last > opts.first) else {
        let msg = if last < opts.first { "missing source and destination" } else { "missing destination" };
        say::usage(TOOL, UsageError::Other(msg));
        return status::TOOL_FAILED;
    };
    let sources = opts.first..last;

    let mut failed = 0u32;
    let mut report = |f: &Failure, path: &[u8]| {
        f.print(path);
        failed += 1;
    };
    let into_dir =
        sources.len() > 1 || dest.ends_with(b"/") || PathBuf::new(dest).is_ok_and(|p| is_dir(p.as_cstr()));
    if into_dir {
        if let Err(e) = create_dirs(dest) {
            report(&sys("cannot create directory", Side::Dest)(e), dest);
            return status::TOOL_FAILED;
        }
        for src in sources.filter_map(|i| args.get(i)) {
            opts.top_dest = None;
            copy_into(src, dest, &mut opts, &mut report);
        }
    } else if let Some(src) = args.get(opts.first) {
        copy_to(src, dest, &mut opts, &mut report);
    }
    if failed == 0 {
        status::OK
    } else {
        status::TOOL_FAILED
    }
}

fn parse(args: &Args) -> Result<Option<Options>, UsageError> {
    let mut opts = Options { recursive: false, mode: None, first: args.len(), top_dest: None };
    let mut p = Parser::new(args, 1);
    while let Some(item) = p.next_item() {
        let (name, inline, raw) = match item {
            Item::Opt { name, inline, raw, .. } => (name, inline, raw),
            Item::Operand(i) | Item::End(i) => {
                opts.first = i;
                break;
            }
        };
        if args::answer_standard(name, inline, USAGE, VERSION) {
            return Ok(None);
        }
        // The options' names, in the order of the arms below.
        match (args::word_index(b"r R recursive m mode", name), inline) {
            (Some(0..=2), None) => opts.recursive = true,
            (Some(3..), _) => {
                let v = p.value(inline)?;
                opts.mode = Some(parse_mode(v).ok_or(UsageError::Invalid("mode", v))?);
            }
            _ => return Err(UsageError::Unknown(raw)),
        }
    }
    Ok(Some(opts))
}

/// An octal mode such as `755` or `0644`.
fn parse_mode(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 5 {
        return None;
    }
    let mut m: u32 = 0;
    for &c in text {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        m = m * 8 + u32::from(c - b'0');
    }
    (m <= 0o7777).then_some(m)
}

/// Copies `src` into the directory `dir`, under its own name.
fn copy_into(src: &[u8], dir: &[u8], opts: &mut Options, report: Report<'_>) {
    let target = PathBuf::new(dir).and_then(|mut t| {
        if !dir.ends_with(b"/") {
            t.push(b"/")?;
        }
        t.push(basename(src))?;
        Ok(t)
    });
    match target {
        Ok(t) => copy_to(src, t.as_bytes(), opts, report),
        Err(e) => report(&sys("cannot copy", Side::Source)(e), src),
    }
}

/// Copies `src` to the path `dest` (a file, a symlink, or with `-r` a tree).
fn copy_to(src: &[u8], dest: &[u8], opts: &mut Options, report: Report<'_>) {
    let (Ok(mut s), Ok(mut d)) = (PathBuf::new(src), PathBuf::new(dest)) else {
        return report(&sys("cannot copy", Side::Source)(Errno::NAMETOOLONG), src);
    };
    if let Err(f) = copy_entry(&mut s, &mut d, opts, report) {
        report(&f, f.path(s.as_bytes(), d.as_bytes()));
    }
}

/// Copies the entry at `src` to `dest`. Both buffers are extended and cut back
/// while walking a tree, so a deep tree costs no more than two path buffers.
/// A failure of this entry is returned; failures inside a tree are reported
/// as they happen, and the walk goes on.
fn copy_entry(
    src: &mut PathBuf,
    dest: &mut PathBuf,
    opts: &mut Options,
    report: Report<'_>,
) -> Result<(), Failure> {
    // Without -r, a symlink given on the command line is followed (as cp does);
    // with -r it is recreated as a symlink.
    let flags = if opts.recursive { AtFlags::SYMLINK_NOFOLLOW } else { AtFlags::empty() };
    let st = statat(CWD, src.as_cstr(), flags).map_err(sys("cannot copy", Side::Source))?;
    let kind = FileType::from_raw_mode(st.st_mode);
    let not_copied = |why| Err(Failure { what: "cannot copy", on: Side::Source, why: Why::Words(why) });
    match kind {
        FileType::Directory if opts.top_dest == Some((st.st_dev, st.st_ino)) => {
            not_copied("a directory into itself")
        }
        FileType::Directory if opts.recursive => copy_tree(src, dest, opts, report),
        FileType::Directory => not_copied("is a directory (use -r)"),
        FileType::Symlink => copy_symlink(src, dest),
        FileType::RegularFile => match copy_file_locked(src.as_cstr(), dest.as_bytes(), opts.mode) {
            Ok(()) => Ok(()),
            Err(CopyError::Source(e)) => Err(sys("cannot copy", Side::Source)(e)),
            // Replaced between the stat and the open.
            Err(CopyError::NotRegular(kind)) => not_copied(kind_words(kind)),
            Err(CopyError::Dest(e)) => Err(sys("cannot write", Side::Dest)(e)),
        },
        _ => not_copied(kind_words(kind)),
    }
}

#[inline(never)]
fn copy_symlink(src: &PathBuf, dest: &PathBuf) -> Result<(), Failure> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let (target, _) = rustix::fs::readlinkat_raw(CWD, src.as_cstr(), &mut buf)
        .map_err(sys("cannot read link", Side::Source))?;
    let target = PathBuf::new(target).map_err(sys("cannot read link", Side::Source))?;
    stepkit::files::atomic::symlink(target.as_cstr(), dest.as_bytes())
        .map_err(sys("cannot write", Side::Dest))
}

/// Copies the directory `src` to `dest` (created if missing, with the
/// source's mode plus read and search for everyone), entry by entry.
fn copy_tree(
    src: &mut PathBuf,
    dest: &mut PathBuf,
    opts: &mut Options,
    report: Report<'_>,
) -> Result<(), Failure> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = openat(CWD, src.as_cstr(), flags, Mode::empty()).map_err(sys("cannot copy", Side::Source))?;
    make_dir_like(&dir, dest).map_err(sys("cannot create directory", Side::Dest))?;
    if opts.top_dest.is_none() {
        opts.top_dest = statat(CWD, dest.as_cstr(), AtFlags::empty()).ok().map(|st| (st.st_dev, st.st_ino));
    }
    let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = RawDir::new(&dir, &mut buf);
    let (src_len, dest_len) = (src.as_bytes().len(), dest.as_bytes().len());
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                src.truncate(src_len);
                return Err(sys("cannot read directory", Side::Source)(e));
            }
        };
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        match push_name(src, name).and_then(|()| push_name(dest, name)) {
            Ok(()) => {
                if let Err(f) = copy_entry(src, dest, opts, report) {
                    report(&f, f.path(src.as_bytes(), dest.as_bytes()));
                }
            }
            Err(e) => report(&sys("cannot copy", Side::Source)(e), src.as_bytes()),
        }
        src.truncate(src_len);
        dest.truncate(dest_len);
    }
    Ok(())
}

fn push_name(p: &mut PathBuf, name: &[u8]) -> Result<(), Errno> {
    if !p.as_bytes().ends_with(b"/") {
        p.push(b"/")?;
    }
    p.push(name)
}

/// Makes `dest` a directory if it is not one: mode of `src_dir` | 0555.
#[inline(never)]
fn make_dir_like(src_dir: &rustix::fd::OwnedFd, dest: &PathBuf) -> Result<(), Errno> {
    if is_dir(dest.as_cstr()) {
        return Ok(());
    }
    let mode = rustix::fs::fstat(src_dir).map_or(0o755, |st| (st.st_mode & 0o777) | 0o555);
    mkdirat(CWD, dest.as_cstr(), Mode::from_raw_mode(0o700))?;
    rustix::fs::chmodat(CWD, dest.as_cstr(), Mode::from_raw_mode(mode), AtFlags::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode(b"755"), Some(0o755));
        assert_eq!(parse_mode(b"0644"), Some(0o644));
        assert_eq!(parse_mode(b"4755"), Some(0o4755));
        assert_eq!(parse_mode(b"8"), None);
        assert_eq!(parse_mode(b""), None);
        assert_eq!(parse_mode(b"u+x"), None);
        assert_eq!(parse_mode(b"77777"), None);
    }
}
