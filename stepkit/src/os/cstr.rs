//! C strings for the kernel, without an allocator: a path (and a suffix)
//! copied into a NUL-terminated buffer, the C string at the start of some
//! bytes, and the one byte search of paths and names (plain loops: these are
//! short strings, and `contains` or `CStr::from_bytes_until_nul` link a
//! word-at-a-time memchr).

use super::mem::SpillBuf;
use core::ffi::CStr;
use rustix::io::Errno;

/// The kernel's longest path, its NUL included (`PATH_MAX`): a longer one
/// is `ENAMETOOLONG`.
pub const PATH_MAX: usize = 4096;

/// Longest path we build: [`PATH_MAX`] plus room for a suffix such as `.err`.
pub const CAP: usize = PATH_MAX + 64;

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
        c_str_until_nul(bytes).unwrap_or(c"")
    }
}

/// True when `s` holds the byte `b`: a plain loop, for the short strings of
/// paths and names (`contains` links a word-at-a-time memchr of 200 bytes).
#[allow(clippy::manual_contains)]
pub fn has_byte(s: &[u8], b: u8) -> bool {
    s.iter().any(|&c| c == b)
}

/// The C string at the start of `bytes`, up to its first NUL (found by a
/// plain loop: these are short paths; `CStr::from_bytes_until_nul` links a
/// word-at-a-time memchr), or `None` if there is none.
pub fn c_str_until_nul(bytes: &[u8]) -> Option<&CStr> {
    let end = bytes.iter().position(|&c| c == 0)?;
    let with_nul = bytes.get(..=end)?;
    // SAFETY: `with_nul` ends at the first NUL of `bytes`: it ends with a NUL
    // and holds no other.
    Some(unsafe { CStr::from_bytes_with_nul_unchecked(with_nul) })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
