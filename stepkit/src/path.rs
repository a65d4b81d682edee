//! Paths without an allocator: a NUL-terminated copy in a stack buffer, the
//! pure `dirname`/`basename` splits, and `mkdir -p`.

use crate::mem::SpillBuf;
use core::ffi::CStr;
use rustix::fs::{mkdirat, statat, AtFlags, FileType, Mode, CWD};
use rustix::io::Errno;

/// Longest path we build: PATH_MAX plus room for a suffix such as `.err`.
pub const CAP: usize = 4096 + 64;

/// A path (plus an optional suffix) as a C string.
pub struct PathBuf {
    /// The path, then a NUL at `len` (on the stack while short, see [`SpillBuf`]).
    buf: SpillBuf,
    len: usize,
}

impl PathBuf {
    /// An empty path, to be filled in place with [`PathBuf::push`].
    pub fn empty() -> PathBuf {
        let mut p = PathBuf { buf: SpillBuf::new(), len: 0 };
        p.buf.write(0, b"\0");
        p
    }

    /// `path` followed by `suffix`; `ENAMETOOLONG` if it does not fit, `EINVAL`
    /// for an embedded NUL (which no argv string can hold anyway).
    pub fn with_suffix(path: &[u8], suffix: &[u8]) -> Result<PathBuf, Errno> {
        PathBuf::concat(&[path, suffix])
    }

    /// The `parts` one after the other (errors as for [`PathBuf::with_suffix`]).
    pub fn concat(parts: &[&[u8]]) -> Result<PathBuf, Errno> {
        let mut p = PathBuf::empty();
        for part in parts {
            p.push(part)?;
        }
        Ok(p)
    }

    /// A copy of `path`.
    pub fn new(path: &[u8]) -> Result<PathBuf, Errno> {
        PathBuf::with_suffix(path, b"")
    }

    /// Appends bytes.
    pub fn push(&mut self, more: &[u8]) -> Result<(), Errno> {
        if has_byte(more, 0) {
            return Err(Errno::INVAL);
        }
        let end = self.len + more.len();
        // Keep one byte for the NUL.
        if end >= CAP || !self.buf.write(self.len, more) || !self.buf.write(end, b"\0") {
            return Err(Errno::NAMETOOLONG);
        }
        self.len = end;
        Ok(())
    }

    /// Cuts the path back to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        if len <= self.len && self.buf.write(len, b"\0") {
            self.len = len;
        }
    }

    /// The bytes, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.bytes().get(..self.len).unwrap_or_default()
    }

    /// The C string.
    pub fn as_cstr(&self) -> &CStr {
        // `push` rejects NUL bytes and always writes a NUL at `len`.
        let bytes = self.buf.bytes().get(..=self.len).unwrap_or(b"\0");
        crate::mem::c_str_until_nul(bytes).unwrap_or(c"")
    }
}

/// True when `s` holds the byte `b`: a plain loop, for the short strings of
/// paths and names (`contains` links a word-at-a-time memchr of 200 bytes).
#[allow(clippy::manual_contains)]
pub fn has_byte(s: &[u8], b: u8) -> bool {
    s.iter().any(|&c| c == b)
}

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
    let full = p.len;
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
    fn path_buffer() {
        let p = PathBuf::with_suffix(b"/steps/one", b".err").unwrap();
        assert_eq!(p.as_cstr().to_bytes(), b"/steps/one.err");
        assert_eq!(PathBuf::new(&[b'a'; CAP]).err(), Some(Errno::NAMETOOLONG));
        assert_eq!(PathBuf::new(b"a\0b").err(), Some(Errno::INVAL));
    }

    #[test]
    fn long_paths_move_off_the_stack() {
        let long = vec![b'x'; 3000];
        let mut p = PathBuf::new(b"/a/").unwrap();
        p.push(&long).unwrap();
        p.push(b".err").unwrap();
        assert_eq!(p.as_bytes().len(), 3 + 3000 + 4);
        assert_eq!(p.as_cstr().to_bytes(), p.as_bytes());
        p.truncate(3);
        assert_eq!(p.as_cstr().to_bytes(), b"/a/");
        assert_eq!(PathBuf::new(&vec![b'y'; 4200]).err(), Some(Errno::NAMETOOLONG));
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
