//! One regular file copied atomically: `copier`'s unit of work (with the
//! directory lock), and what `entrypoint cp SOURCE DEST` does (without).
//!
//! Writers of a directory take an exclusive `flock` on it while they copy, so a
//! temporary file found there by a lock holder was left by a writer that died
//! (SIGKILL, OOM) and is reclaimed. Data moves with `copy_file_range`, else a
//! read/write loop, whichever the kernel and filesystems allow.

use super::atomic::AtomicFile;
use super::path::dirname;
use crate::os::cstr::PathBuf;
use crate::os::io::write_all;
use crate::os::mem::Mapping;
use core::ffi::CStr;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{flock, fstat, openat, FileType, FlockOperation, Mode, OFlags, CWD};
use rustix::io::Errno;

/// What went wrong, and on which side.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum CopyError {
    /// Opening or reading the source failed.
    Source(Errno),
    /// The source is not a regular file (a directory, a fifo, a device...).
    NotRegular(FileType),
    /// Creating or writing the destination failed.
    Dest(Errno),
}

/// What a file that is not copied is, in the words both copier and
/// `entrypoint cp` use: `cannot copy 'x': is a directory`.
pub fn kind_words(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "is a directory",
        FileType::Fifo => "is a fifo",
        FileType::Socket => "is a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "is a device",
        _ => "is not a regular file",
    }
}

/// The mode a copy gets: `--mode`'s (special bits too), or the source's
/// permission bits; either way a file with any execute bit also gets read and
/// execute for everyone (mode | 0555), so steps running under another uid can
/// run the tools (docs/copier.md).
pub fn dest_mode(source_mode: u32, explicit: Option<u32>) -> u32 {
    let m = explicit.map_or(source_mode & 0o777, |m| m & 0o7777);
    if m & 0o111 != 0 {
        m | 0o555
    } else {
        m
    }
}

/// Holds the writers' lock of a directory while it lives.
pub struct DirLock(#[allow(dead_code)] OwnedFd);

/// Takes the writers' lock of `dir` (blocking while another copier holds it).
pub fn lock_dir(dir: &[u8]) -> Result<DirLock, Errno> {
    let p = PathBuf::new(dir)?;
    let fd = openat(CWD, p.as_cstr(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    flock(&fd, FlockOperation::LockExclusive)?;
    Ok(DirLock(fd))
}

/// Opens `src` for reading and checks that it is a regular file; returns it
/// with its mode bits.
pub fn open_source(src: &CStr) -> Result<(OwnedFd, u32), CopyError> {
    let fd =
        openat(CWD, src, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK, Mode::empty())
            .map_err(CopyError::Source)?;
    let st = fstat(&fd).map_err(CopyError::Source)?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::RegularFile {
        return Err(CopyError::NotRegular(kind));
    }
    Ok((fd, st.st_mode))
}

/// Copies the regular file `src` to the file path `dest` atomically, holding
/// the writers' lock of its directory, so that a temporary file a killed
/// copier left there is reclaimed (copier: re-run into the same volume).
/// (Not inlined: its buffers must not sit in the frames of a tree walk.)
#[inline(never)]
pub fn copy_file_locked(src: &CStr, dest: &[u8], mode: Option<u32>) -> Result<(), CopyError> {
    let (input, src_mode) = open_source(src)?;
    // Without read permission on the directory (a drop box, mode 1733) there
    // is no lock to take: copy all the same, without reclaiming temporaries.
    let lock = match lock_dir(dirname(dest)) {
        Err(Errno::ACCESS) => None,
        other => Some(other.map_err(CopyError::Dest)?),
    };
    write_copy(input.as_fd(), src_mode, dest, mode, lock.is_some())
}

/// Copies the regular file `src` to the file path `dest` atomically, without
/// the lock: `entrypoint cp`, which Tekton runs once into a fresh volume.
pub fn copy_file(src: &CStr, dest: &[u8]) -> Result<(), CopyError> {
    let (input, src_mode) = open_source(src)?;
    write_copy(input.as_fd(), src_mode, dest, None, false)
}

fn write_copy(
    input: BorrowedFd<'_>,
    src_mode: u32,
    dest: &[u8],
    mode: Option<u32>,
    reclaim: bool,
) -> Result<(), CopyError> {
    let out = AtomicFile::create(dest, reclaim).map_err(CopyError::Dest)?;
    transfer(input, out.fd())?;
    out.commit(dest_mode(src_mode, mode)).map_err(CopyError::Dest)
}

/// The read/write buffer of [`transfer`]: cp's size.
const BUFFER: usize = 128 * 1024;

/// Moves all data from `input` to `output`, by the fastest way that works.
fn transfer(input: BorrowedFd<'_>, output: BorrowedFd<'_>) -> Result<(), CopyError> {
    // 1. copy_file_range: in-kernel, reflinks where the filesystem can.
    loop {
        match rustix::fs::copy_file_range(input, None, output, None, 1 << 30) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(Errno::XDEV | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::PERM) => break,
            Err(e) => return Err(CopyError::Dest(e)),
        }
    }
    // 2. read/write through a buffer (copy_file_range refuses some pairs of
    // filesystems; sendfile would add code for no case that this misses).
    // 128 KiB, as cp reads: a 16 KiB buffer made a 200 MiB copy to tmpfs
    // 13% slower than cp's (`make bench`). Mapped, not on the stack, so
    // that only a copy that takes this way makes it resident.
    let mut map = Mapping::new(BUFFER).map_err(CopyError::Dest)?;
    let buf = map.bytes_mut();
    loop {
        let n = match rustix::io::read(input, &mut *buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(CopyError::Source(e)),
        };
        write_all(output, buf.get(..n).unwrap_or_default()).map_err(CopyError::Dest)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(dest_mode(0o100755, None), 0o755);
        assert_eq!(dest_mode(0o100700, None), 0o755);
        assert_eq!(dest_mode(0o100100, None), 0o555);
        assert_eq!(dest_mode(0o100600, None), 0o600);
        assert_eq!(dest_mode(0o104755, None), 0o755);
        assert_eq!(dest_mode(0o100644, Some(0o700)), 0o755);
        assert_eq!(dest_mode(0o100755, Some(0o640)), 0o640);
        assert_eq!(dest_mode(0o100644, Some(0o4750)), 0o4755);
    }
}
