//! Paths: the pure `dirname`/`basename` splits, what is at a path, and
//! `mkdir -p`. (A path as the kernel takes it, NUL-terminated, is
//! [`PathBuf`], in `os::cstr`.)

use crate::os::cstr::PathBuf;
use core::ffi::CStr;
use rustix::fs::{mkdirat, statat, AtFlags, FileType, Mode, CWD};
use rustix::io::Errno;

fn trim_trailing_slashes(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p.get(end - 1) == Some(&b'/') {
        end -= 1;
    }
    p.get(..end).unwrap_or(p)
}

/// The directory part of a path, as `dirname(1)` prints it: `a/b` → `a`,
/// `b` → `.`, `/b` → `/`, `a/b/` → `a`.
pub fn dirname(p: &[u8]) -> &[u8] {
    let p = trim_trailing_slashes(p);
    match p.iter().rposition(|&c| c == b'/') {
        None => b".",
        Some(i) => {
            let d = trim_trailing_slashes(p.get(..i).unwrap_or_default());
            if d.is_empty() {
                b"/"
            } else {
                d
            }
        }
    }
}

/// The last component of a path: `a/b` → `b`, `a/b/` → `b`, `/` → `/`.
pub fn basename(p: &[u8]) -> &[u8] {
    let p = trim_trailing_slashes(p);
    if p == b"/" {
        return p;
    }
    match p.iter().rposition(|&c| c == b'/') {
        None => p,
        Some(i) => p.get(i + 1..).unwrap_or_default(),
    }
}

/// The hidden name beside the file `path` (`DIR/NAME`, or `NAME`):
/// `DIR/.NAME` and `suffix`, NAME cut to its first `keep` bytes. The names of
/// a file's temporaries (`.NAME.tmp`) and of a step's lock (`.NAME.lock`): a
/// user's `cat DIR/*` or `NAME*` never opens them.
pub fn dot_name(path: &[u8], keep: usize, suffix: &[u8]) -> Result<PathBuf, Errno> {
    let (dir, base) = path.split_at(path.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1));
    PathBuf::concat(&[dir, b".", base.get(..base.len().min(keep)).unwrap_or(base), suffix])
}

/// True when `path` names an existing directory (following symlinks).
pub fn is_dir(path: &CStr) -> bool {
    matches!(statat(CWD, path, AtFlags::empty()), Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

/// True when `path` names a regular file itself (a symlink is not followed).
pub fn is_regular_nofollow(path: &CStr) -> bool {
    matches!(statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW),
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
}

/// `mkdir -p`: creates `dir` and any missing parents (mode 0777 less the umask).
pub fn create_dirs(dir: &[u8]) -> Result<(), Errno> {
    let mut p = PathBuf::new(dir)?;
    if is_dir(p.as_cstr()) {
        return Ok(());
    }
    let full = p.as_bytes().len();
    // Create each prefix that ends before a slash, then the whole path.
    let mut i = 1;
    while i <= full {
        let at_boundary = i == full || dir.get(i) == Some(&b'/');
        if at_boundary && dir.get(i - 1) != Some(&b'/') {
            p.truncate(i);
            match mkdirat(CWD, p.as_cstr(), Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
            // Restore the rest of the path after the NUL we wrote.
            p = PathBuf::new(dir)?;
        }
        i += 1;
    }
    if is_dir(p.as_cstr()) {
        Ok(())
    } else {
        Err(Errno::NOTDIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_and_base() {
        assert_eq!(dirname(b"a/b"), b"a");
        assert_eq!(dirname(b"b"), b".");
        assert_eq!(dirname(b"/b"), b"/");
        assert_eq!(dirname(b"/"), b"/");
        assert_eq!(dirname(b"a/b/"), b"a");
        assert_eq!(dirname(b"/x//y"), b"/x");
        assert_eq!(basename(b"a/b"), b"b");
        assert_eq!(basename(b"a/b//"), b"b");
        assert_eq!(basename(b"b"), b"b");
        assert_eq!(basename(b"/"), b"/");
    }

    #[test]
    fn mkdir_p() {
        let base = std::env::temp_dir().join(format!("stepkit-mkdir-{}", std::process::id()));
        let deep = base.join("x/y//z/");
        create_dirs(deep.to_str().unwrap().as_bytes()).unwrap();
        assert!(base.join("x/y/z").is_dir());
        create_dirs(deep.to_str().unwrap().as_bytes()).unwrap();
        std::fs::write(base.join("f"), b"").unwrap();
        let under_file = base.join("f/g");
        assert_eq!(create_dirs(under_file.to_str().unwrap().as_bytes()), Err(Errno::NOTDIR));
        std::fs::remove_dir_all(base).unwrap();
    }
}
