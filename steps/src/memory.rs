//! Memory that cannot be had is one line on standard error and status 125
//! (as any failure of the system), not Rust's abort: the global allocator is
//! the system's, with that one difference.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;

pub struct OneLineWhenOut;

// SAFETY: every call is passed to `System` unchanged, with its contract; a
// null result ends the process instead of being returned.
unsafe impl GlobalAlloc for OneLineWhenOut {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller keeps `GlobalAlloc::alloc`'s contract, which is System's.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator, that is from System, with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory(new_size);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from System, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// `steps: out of memory (N bytes more could not be had)`, in one write and
/// without allocating, then exit 125.
fn out_of_memory(size: usize) -> ! {
    let mut line = [0u8; 96];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        for &b in bytes {
            if let Some(slot) = line.get_mut(at) {
                *slot = b;
                at += 1;
            }
        }
    };
    put(b"steps: out of memory (");
    let mut digits = [0u8; 20];
    let mut n = size;
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    put(digits.get(i..).unwrap_or_default());
    put(b" bytes more could not be had)\n");
    let _ = std::io::stderr().write_all(line.get(..at).unwrap_or_default());
    std::process::exit(125)
}
