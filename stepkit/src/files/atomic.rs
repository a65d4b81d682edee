//! Files that appear whole or not at all: the content goes into a temporary
//! file beside the destination (`.NAME.tmp`, created `O_EXCL|O_NOFOLLOW`, so a
//! symlink planted there is never followed), which is then renamed over it.
//! On any failure the temporary file is removed and the old destination stays.

use super::path::{dot_name, is_regular_nofollow};
use crate::cli::decimal;
use crate::os::cstr::PathBuf;
use crate::os::io::write_all;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{fchmod, mknodat, openat, unlinkat, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

/// Longest part of the destination's name kept in the temporary name, so that
/// `.NAME.tmpNN` stays within NAME_MAX (255).
const NAME_KEEP: usize = 240;

/// A temporary file that becomes `dest` on [`AtomicFile::commit`], and
/// disappears if dropped before.
///
/// It keeps the destination's name, not the temporary path: the path is
/// rebuilt in place when needed, so no 4 KiB buffer is carried or moved.
pub struct AtomicFile<'a> {
    fd: OwnedFd,
    dest: &'a [u8],
    n: u32,
    committed: bool,
}

/// Writes the `n`th temporary name for `dest` into `tmp`: `DIR/.NAME.tmp[n]`.
fn temp_name(tmp: &mut PathBuf, dest: &[u8], n: u32) -> Result<(), Errno> {
    *tmp = dot_name(dest, NAME_KEEP, b".tmp")?;
    if n > 0 {
        let mut digits = [0u8; 20];
        tmp.push(decimal::format(u64::from(n), &mut digits))?;
    }
    Ok(())
}

impl<'a> AtomicFile<'a> {
    /// Creates the temporary file for `dest` (mode 0600 until commit).
    ///
    /// `reclaim_stale`: the caller holds the lock that writers of this
    /// directory take (see `copy`), so a regular file already at a temporary
    /// name was left by a writer that died, and is removed and reused. A symlink
    /// or anything else there is left alone and the next name is tried.
    pub fn create(dest: &'a [u8], reclaim_stale: bool) -> Result<AtomicFile<'a>, Errno> {
        AtomicFile::create_as(dest, reclaim_stale, false)
    }

    /// Creates the temporary as a named pipe (mode 0600 until commit), open
    /// read-write, which never blocks: the liveness lock (see `liveness`).
    pub fn create_fifo(dest: &'a [u8]) -> Result<AtomicFile<'a>, Errno> {
        AtomicFile::create_as(dest, false, true)
    }

    /// Tries the temporary names in turn, creating a regular file or a pipe.
    fn create_as(dest: &'a [u8], reclaim_stale: bool, fifo: bool) -> Result<AtomicFile<'a>, Errno> {
        let mut n = 0;
        let mut tmp = PathBuf::empty();
        while n < 100 {
            temp_name(&mut tmp, dest, n)?;
            match make_temp(tmp.as_cstr(), fifo) {
                Ok(fd) => return Ok(AtomicFile { fd, dest, n, committed: false }),
                Err(Errno::EXIST) => {
                    if reclaim_stale && is_regular_nofollow(tmp.as_cstr()) {
                        unlinkat(CWD, tmp.as_cstr(), AtFlags::empty())?;
                        continue;
                    }
                    n += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno::EXIST)
    }

    /// The temporary file, open for writing.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Gives the file its final `mode` and renames it to `dest`.
    pub fn commit(mut self, mode: u32) -> Result<(), Errno> {
        fchmod(&self.fd, Mode::from_raw_mode(mode))?;
        let mut tmp = PathBuf::empty();
        temp_name(&mut tmp, self.dest, self.n)?;
        let mut dest = PathBuf::empty();
        dest.push(self.dest)?;
        rustix::fs::renameat(CWD, tmp.as_cstr(), CWD, dest.as_cstr())?;
        self.committed = true;
        Ok(())
    }

    /// Like [`commit`](Self::commit), and keeps the file open (close-on-exec):
    /// for a lock file that must never be seen unlocked at its final name.
    pub fn commit_keep(self, mode: u32) -> Result<OwnedFd, Errno> {
        let fd = rustix::io::fcntl_dupfd_cloexec(&self.fd, 0)?;
        self.commit(mode)?;
        Ok(fd)
    }
}

impl Drop for AtomicFile<'_> {
    fn drop(&mut self) {
        let mut tmp = PathBuf::empty();
        if !self.committed && temp_name(&mut tmp, self.dest, self.n).is_ok() {
            let _ = unlinkat(CWD, tmp.as_cstr(), AtFlags::empty());
        }
    }
}

/// Creates and opens the temporary `tmp`: `EEXIST` when something is there.
fn make_temp(tmp: &core::ffi::CStr, fifo: bool) -> Result<OwnedFd, Errno> {
    let mode = Mode::from_raw_mode(0o600);
    if !fifo {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        return openat(CWD, tmp, flags, mode);
    }
    mknodat(CWD, tmp, FileType::Fifo, mode, 0)?;
    openat(CWD, tmp, OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).inspect_err(|_| {
        let _ = unlinkat(CWD, tmp, AtFlags::empty());
    })
}

/// Creates (or replaces) the symlink `dest` pointing to `target`, atomically.
pub fn symlink(target: &core::ffi::CStr, dest: &[u8]) -> Result<(), Errno> {
    // The destination's C string first: once the temporary exists, nothing
    // may fail before the rename (or the unlink) deals with it.
    let d = PathBuf::new(dest)?;
    let mut tmp = PathBuf::empty();
    for n in 0..100 {
        temp_name(&mut tmp, dest, n)?;
        match rustix::fs::symlinkat(target, CWD, tmp.as_cstr()) {
            Ok(()) => {
                return rustix::fs::renameat(CWD, tmp.as_cstr(), CWD, d.as_cstr()).inspect_err(|_| {
                    let _ = unlinkat(CWD, tmp.as_cstr(), AtFlags::empty());
                });
            }
            Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EXIST)
}

/// Writes `content` to `dest` atomically with `mode`.
pub fn write_file(dest: &[u8], content: &[u8], mode: u32) -> Result<(), Errno> {
    let file = AtomicFile::create(dest, false)?;
    write_all(file.fd(), content)?;
    file.commit(mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("stepkit-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_whole_file_with_mode_and_no_leftovers() {
        let d = dir("w");
        let dest = d.join("marker");
        write_file(dest.to_str().unwrap().as_bytes(), b"0\n", 0o644).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"0\n");
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o644);
        write_file(dest.to_str().unwrap().as_bytes(), b"1\n", 0o644).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"1\n");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn planted_symlink_is_not_followed() {
        let d = dir("s");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, d.join(".m.tmp")).unwrap();
        let dest = d.join("m");
        write_file(dest.to_str().unwrap().as_bytes(), b"x", 0o644).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&dest).unwrap(), b"x");
        assert!(std::fs::symlink_metadata(d.join(".m.tmp")).unwrap().file_type().is_symlink());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let d = dir("d");
        let dest = d.join("f");
        let f = AtomicFile::create(dest.to_str().unwrap().as_bytes(), false).unwrap();
        assert!(d.join(".f.tmp").exists());
        drop(f);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn stale_temporary_is_reclaimed_only_when_asked() {
        let d = dir("r");
        std::fs::write(d.join(".f.tmp"), b"stale").unwrap();
        let dest = d.join("f");
        let f = AtomicFile::create(dest.to_str().unwrap().as_bytes(), false).unwrap();
        assert!(d.join(".f.tmp1").exists());
        drop(f);
        let f = AtomicFile::create(dest.to_str().unwrap().as_bytes(), true).unwrap();
        assert!(!d.join(".f.tmp1").exists());
        drop(f);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(d).unwrap();
    }
}
