//! The process's argument vector as musl's C runtime hands it to `main`, and
//! its environment: the one place that reads their raw pointers. Everything
//! above it (the option parser, `cli::args`) is safe code.

use core::ffi::{c_char, c_int, CStr};

/// The process's argument vector. Strings are `'static`: argv lives as long as
/// the process and nothing in the tools writes to its strings.
#[derive(Clone, Copy)]
pub struct Args {
    argv: *const *const c_char,
    argc: usize,
}

impl Args {
    /// Wraps the `argc`/`argv` that the C runtime passes to `main`.
    ///
    /// # Safety
    /// `argv` must point to `argc` valid NUL-terminated strings followed by a null
    /// pointer, all alive and unchanged for the rest of the process.
    pub unsafe fn from_main(argc: c_int, argv: *const *const c_char) -> Args {
        Args { argv, argc: usize::try_from(argc).unwrap_or(0) }
    }

    /// Number of arguments, the program name included.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// True when there is not even a program name.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Argument `i` as a C string.
    pub fn get_cstr(&self, i: usize) -> Option<&'static CStr> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, and `from_main`'s contract makes argv[i] a valid
        // NUL-terminated string that lives for the rest of the process.
        unsafe { Some(CStr::from_ptr(*self.argv.add(i))) }
    }

    /// Argument `i` as bytes (without the NUL).
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        self.get_cstr(i).map(CStr::to_bytes)
    }

    /// The command vector `argv[i..]` (null-terminated), for exec and spawn;
    /// `None` when it would be empty.
    pub fn command(&self, i: usize) -> Option<Argv> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc; argv has argc + 1 entries, the last one null.
        Some(Argv(unsafe { self.argv.add(i) }))
    }

    /// Replaces slot `i` (a `--` the tool has consumed) with `prog`, so that
    /// `argv[i..]` becomes the command vector `prog ARGS...` without allocating.
    /// Returns false when `i` is out of range.
    pub fn replace_slot(&mut self, i: usize, prog: &'static CStr) -> bool {
        if i >= self.argc {
            return false;
        }
        // SAFETY: i < argc; the pointer array belongs to this process (the kernel
        // placed it on our stack) and is writable; `prog` outlives the process's
        // use of it.
        unsafe { *(self.argv as *mut *const c_char).add(i) = prog.as_ptr() };
        true
    }

    /// The C string that `tail` (a suffix of argv[i]) is, NUL included.
    pub fn tail_cstr(&self, i: usize, tail: &'static [u8]) -> Option<&'static CStr> {
        let bytes = self.get_cstr(i)?.to_bytes_with_nul();
        let tail_with_nul = bytes.get(bytes.len().checked_sub(tail.len() + 1)?..)?;
        // SAFETY: the end of a C string, its NUL included, is a C string: it
        // ends with that NUL and holds no other.
        Some(unsafe { CStr::from_bytes_with_nul_unchecked(tail_with_nul) })
    }
}

/// A non-empty, null-terminated vector of C strings that live for the rest of
/// the process: a command to exec or spawn. Only [`Args::command`] makes one.
#[derive(Clone, Copy)]
pub struct Argv(*const *const c_char);

impl Argv {
    /// The vector, for the C library.
    pub fn as_ptr(self) -> *const *const c_char {
        self.0
    }

    /// `argv[0]`, the program.
    pub fn program(self) -> &'static CStr {
        // SAFETY: an `Argv` is non-empty: its first pointer is an argv string,
        // valid and unchanged for the rest of the process.
        unsafe { CStr::from_ptr(*self.0) }
    }
}

extern "C" {
    /// The C runtime's environment: a null-terminated vector of `NAME=VALUE`.
    static environ: *const *const c_char;
}

/// The process's environment vector, for `execve(2)`.
pub fn environment() -> *const *const c_char {
    // SAFETY: the C runtime sets `environ` before `main`, and nothing in the
    // tools changes the environment.
    unsafe { environ }
}

/// The value of the environment variable `name` (`getenv(3)`).
pub fn env(name: &[u8]) -> Option<&'static [u8]> {
    let mut p = environment();
    while !p.is_null() {
        // SAFETY: `p` points into the null-terminated vector (the loop stops
        // at its null end), whose strings live for the rest of the process.
        let var = unsafe { (*p).as_ref().map(|s| CStr::from_ptr(s).to_bytes())? };
        if let Some(value) = var.strip_prefix(name).and_then(|v| v.strip_prefix(b"=")) {
            return Some(value);
        }
        // SAFETY: `*p` was not the null end, so `p + 1` is still in the vector.
        p = unsafe { p.add(1) };
    }
    None
}

/// An argument vector made of byte strings, as musl's C runtime would hand it
/// to `main`: for unit tests and fuzz targets (with std: stepkit's own
/// tests, or the feature `test-argv`, never in a shipped build). Each string ends at its first
/// NUL byte, if it holds one.
#[cfg(any(test, feature = "test-argv"))]
pub struct TestArgv {
    _strings: std::vec::Vec<std::ffi::CString>,
    ptrs: std::vec::Vec<*const c_char>,
}

#[cfg(any(test, feature = "test-argv"))]
impl TestArgv {
    /// The vector of `list`.
    pub fn new<S: AsRef<[u8]>>(list: impl IntoIterator<Item = S>) -> TestArgv {
        let strings: std::vec::Vec<std::ffi::CString> = list
            .into_iter()
            .map(|s| {
                let s = s.as_ref();
                let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
                std::ffi::CString::new(s.get(..end).unwrap_or_default()).unwrap_or_default()
            })
            .collect();
        let mut ptrs: std::vec::Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        TestArgv { _strings: strings, ptrs }
    }

    /// The vector as [`Args`] (mutable: [`Args::replace_slot`] writes to it).
    ///
    /// # Safety
    /// The `Args` and every string it hands out (as `'static`) must not be
    /// used once `self` is dropped.
    pub unsafe fn args(&mut self) -> Args {
        let argc = c_int::try_from(self.ptrs.len() - 1).unwrap_or(0);
        // SAFETY: `ptrs` holds argc pointers to the C strings `self` owns and
        // a null pointer; the caller keeps `self` alive while it uses them.
        unsafe { Args::from_main(argc, self.ptrs.as_mut_ptr().cast_const()) }
    }

    /// The vector as [`Args`], for the rest of the process (it is leaked, so
    /// the `'static` strings it hands out are that).
    pub fn leak(self) -> Args {
        let this: &'static mut TestArgv = std::boxed::Box::leak(std::boxed::Box::new(self));
        // SAFETY: leaked: `this` lives for the rest of the process.
        unsafe { this.args() }
    }
}
