//! Memory without an allocator: buffers that make only what they use resident
//! (the wrapper's RSS is a budget, and large stack frames are probed page by
//! page), and lists whose length comes from the command line.
//!
//! - [`Buf`]: a fixed buffer on the stack, written front to back.
//! - [`SpillBuf`]: a few hundred bytes on the stack that move to a mapping when
//!   something longer is written (paths, message lines).
//! - [`Slab`]: a fixed-capacity list in an anonymous mapping.
//! - [`Mapping`]: the anonymous mapping itself (`mmap(2)`/`munmap(2)`).
//!
//! Every `unsafe` here is about memory these types own; each block says why it
//! is sound.

use core::mem::{size_of, MaybeUninit};
use rustix::io::Errno;

/// A fixed buffer whose bytes stay uninitialised until written, so that a large
/// buffer on the stack costs resident memory only for what is used. It is
/// written without gaps: bytes `..len()` are always initialised.
pub struct Buf<const N: usize> {
    bytes: [MaybeUninit<u8>; N],
    /// Bytes `..len` are written.
    len: usize,
}

impl<const N: usize> Buf<N> {
    /// An unwritten buffer.
    pub const fn new() -> Buf<N> {
        Buf { bytes: [const { MaybeUninit::uninit() }; N], len: 0 }
    }

    /// Writes `src` at `at` (at most `len()`, so that no gap is left); false
    /// (nothing written) if it does not fit.
    pub fn write(&mut self, at: usize, src: &[u8]) -> bool {
        if at > self.len {
            return false;
        }
        let Some(dst) = self.bytes.get_mut(at..at.saturating_add(src.len())) else { return false };
        for (d, s) in dst.iter_mut().zip(src) {
            d.write(*s);
        }
        self.len = self.len.max(at + src.len());
        true
    }

    /// Appends `src`; false (nothing written) if it does not fit.
    pub fn push(&mut self, src: &[u8]) -> bool {
        self.write(self.len, src)
    }

    /// Forgets what was written from `len` on.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The number of bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.len.min(N);
        // SAFETY: `write` keeps bytes ..len initialised (it never leaves a gap),
        // and len <= N.
        unsafe { core::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), len) }
    }
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Buf::new()
    }
}

/// An anonymous private mapping of `len` zeroed bytes, unmapped when dropped:
/// room for the rare long path without a large stack frame.
pub struct Mapping {
    ptr: core::ptr::NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` zeroed bytes (`mmap(2)`, anonymous and private).
    pub fn new(len: usize) -> Result<Mapping, Errno> {
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choice aliases nothing; it is unmapped only by `drop`.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                len.max(1),
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )?
        };
        let ptr = core::ptr::NonNull::new(ptr.cast::<u8>()).ok_or(Errno::NOMEM)?;
        Ok(Mapping { ptr, len })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes (zero-filled by the
        // kernel), alive until drop.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    /// Unmaps it (`munmap(2)`).
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: ptr/len describe the mapping made in `new`, used by no one else.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len.max(1)) };
    }
}

/// A fixed-capacity list of values in an anonymous mapping, for lists whose
/// length comes from the command line: pages that are never touched never
/// become resident. The values are dropped with the list (or by `clear`).
pub struct Slab<T: 'static> {
    map: Mapping,
    len: usize,
    _items: core::marker::PhantomData<T>,
}

impl<T: 'static> Slab<T> {
    /// Room for `cap` values.
    pub fn with_capacity(cap: usize) -> Result<Slab<T>, Errno> {
        let bytes = cap.checked_mul(size_of::<T>()).ok_or(Errno::NOMEM)?;
        Ok(Slab { map: Mapping::new(bytes)?, len: 0, _items: core::marker::PhantomData })
    }

    fn cap(&self) -> usize {
        self.map.bytes().len() / size_of::<T>().max(1)
    }

    /// Appends `v`; `ENOMEM` when full.
    pub fn push(&mut self, v: T) -> Result<(), Errno> {
        if self.len >= self.cap() {
            return Err(Errno::NOMEM);
        }
        // SAFETY: len < cap, so slot `len` lies inside the mapping, which is
        // page-aligned (enough for any T) and exclusively ours (&mut self).
        unsafe { self.map.bytes_mut().as_mut_ptr().cast::<T>().add(self.len).write(v) };
        self.len += 1;
        Ok(())
    }

    /// Removes (drops) every value; the room stays.
    pub fn clear(&mut self) {
        let items: *mut [T] = self.as_mut_slice();
        self.len = 0;
        if core::mem::needs_drop::<T>() {
            // SAFETY: `items` are the values written by `push`; with `len`
            // already 0 nothing can reach them again, so each drops once.
            unsafe { core::ptr::drop_in_place(items) };
        }
    }

    /// The values pushed so far.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` slots were written by `push`; the mapping is
        // aligned for T and lives as long as `self`.
        unsafe { core::slice::from_raw_parts(self.map.bytes().as_ptr().cast::<T>(), self.len) }
    }

    /// The values pushed so far, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.map.bytes_mut().as_mut_ptr().cast::<T>(), self.len) }
    }
}

impl<T: 'static> Drop for Slab<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Bytes a [`SpillBuf`] keeps on the stack.
const SPILL_SMALL: usize = 256;
/// Bytes a [`SpillBuf`] can hold: a 4096-byte path and words around it.
pub const SPILL_CAP: usize = 4096 + 512;

/// A buffer of up to [`SPILL_CAP`] bytes that starts in a few hundred bytes on
/// the stack and moves to a [`Mapping`] only when something longer is written:
/// paths and message lines are short nearly always.
pub struct SpillBuf {
    small: Buf<SPILL_SMALL>,
    big: Option<Mapping>,
    /// Bytes `..written` are written (in `big` if it exists).
    written: usize,
}

impl SpillBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        SpillBuf { small: Buf::new(), big: None, written: 0 }
    }

    /// Writes `src` at `at` (at most the written length so far, so no gap is
    /// left); false if it would pass the capacity or no memory could be mapped.
    pub fn write(&mut self, at: usize, src: &[u8]) -> bool {
        let end = at.saturating_add(src.len());
        if at > self.written || end > SPILL_CAP {
            return false;
        }
        if self.big.is_none() && end > SPILL_SMALL {
            let Ok(mut big) = Mapping::new(SPILL_CAP) else { return false };
            if let Some(dst) = big.bytes_mut().get_mut(..self.written) {
                dst.copy_from_slice(self.bytes());
            }
            self.big = Some(big);
        }
        let ok = match self.big.as_mut() {
            Some(big) => big.bytes_mut().get_mut(at..end).map(|dst| dst.copy_from_slice(src)).is_some(),
            None => self.small.write(at, src),
        };
        if ok {
            self.written = self.written.max(end);
        }
        ok
    }

    /// Everything written so far.
    pub fn bytes(&self) -> &[u8] {
        match self.big.as_ref() {
            Some(big) => big.bytes().get(..self.written).unwrap_or_default(),
            None => self.small.as_bytes().get(..self.written).unwrap_or_default(),
        }
    }
}

impl Default for SpillBuf {
    fn default() -> Self {
        SpillBuf::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_is_written_without_gaps() {
        let mut b = Buf::<8>::new();
        assert!(!b.write(1, b"x"), "a gap");
        assert!(b.push(b"abc"));
        assert!(b.write(1, b"Z"));
        assert_eq!(b.as_bytes(), b"aZc");
        assert!(!b.push(b"123456"), "too long");
        assert!(b.push(b"12345"));
        assert_eq!(b.as_bytes(), b"aZc12345");
    }

    #[test]
    fn spill_moves_to_a_mapping() {
        let mut s = SpillBuf::new();
        assert!(s.write(0, b"head"));
        let long = [b'x'; 1000];
        assert!(s.write(4, &long));
        assert_eq!(s.bytes().len(), 1004);
        assert_eq!(s.bytes().get(..4), Some(&b"head"[..]));
        assert!(!s.write(2000, b"gap"));
    }

    #[test]
    fn slab() {
        let mut s = Slab::<u32>::with_capacity(2).unwrap();
        s.push(1).unwrap();
        s.push(2).unwrap();
        assert_eq!(s.push(3), Err(Errno::NOMEM));
        assert_eq!(s.as_slice(), [1, 2]);
        s.clear();
        assert!(s.as_slice().is_empty());
    }
}
