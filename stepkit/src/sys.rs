//! The thin unsafe layer: typed wrappers over the C library calls that rustix
//! does not wrap (signal masks, signalfd, posix_spawn, exec, strerror, abort) and
//! over anonymous memory. Everything above this module is safe code.

use crate::args::Argv;
use core::ffi::{c_int, CStr};
use core::mem::{size_of, MaybeUninit};
use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::io::Errno;

/// Ends the process with SIGABRT (`abort(3)`).
pub fn abort() -> ! {
    // SAFETY: abort(3) takes no arguments and never returns.
    unsafe { libc::abort() }
}

/// The system's text for an error number (`strerror(3)`, musl's wording).
pub fn strerror(e: Errno) -> &'static [u8] {
    // SAFETY: musl's strerror returns a pointer to a static, NUL-terminated
    // string for every input, and never writes to it afterwards.
    unsafe { CStr::from_ptr(libc::strerror(e.raw_os_error())).to_bytes() }
}

/// Writes all of `bytes` to `fd`, retrying after EINTR and short writes.
/// Errors are dropped: this is the path that reports errors.
pub fn write_all(fd: RawFd, mut bytes: &[u8]) {
    // SAFETY: the descriptor is only borrowed for the duration of the writes;
    // writing to a closed or foreign descriptor number is an error, not UB, at
    // the system call level.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// Writes `line` and a newline in one `writev(2)`, so that lines of concurrent
/// processes never interleave. Errors are dropped, as in [`write_all`].
pub fn write_line(fd: RawFd, line: &[u8]) {
    // SAFETY: borrowed for this call only (see write_all).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let iov = [rustix::io::IoSlice::new(line), rustix::io::IoSlice::new(b"\n")];
    loop {
        match rustix::io::writev(fd, &iov) {
            Err(Errno::INTR) => {}
            _ => return,
        }
    }
}

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if not), so that a
/// file this process opens can never become its stderr.
pub fn ensure_stdio() {
    use rustix::event::{poll, PollFd, PollFlags};
    // SAFETY: borrowed for the poll only; poll reports a closed number as
    // POLLNVAL instead of using it.
    let std = unsafe { [0, 1, 2].map(|raw| BorrowedFd::borrow_raw(raw)) };
    let mut fds = std.each_ref().map(|fd| PollFd::new(fd, PollFlags::empty()));
    let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
    if poll(&mut fds, Some(&zero)).unwrap_or(0) == 0 {
        return;
    }
    for f in &fds {
        if f.revents().contains(PollFlags::NVAL) {
            // open returns the lowest free number, the closed one: keep it.
            if let Ok(null) =
                rustix::fs::open(c"/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty())
            {
                core::mem::forget(null);
            }
        }
    }
}

/// A set of signals (`sigset_t`).
#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    /// No signal.
    pub fn empty() -> SigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the whole set it is given.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            SigSet(set.assume_init())
        }
    }

    /// Every signal the C library lets a program handle.
    pub fn all() -> SigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises the whole set it is given (musl leaves
        // out the signals it reserves for itself).
        unsafe {
            libc::sigfillset(set.as_mut_ptr());
            SigSet(set.assume_init())
        }
    }

    /// Adds signal `sig` (ignored when out of range).
    pub fn with(mut self, sig: c_int) -> SigSet {
        // SAFETY: self.0 is an initialised set; sigaddset checks `sig`'s range.
        unsafe { libc::sigaddset(&mut self.0, sig) };
        self
    }

    /// Removes signal `sig`.
    pub fn without(mut self, sig: c_int) -> SigSet {
        // SAFETY: self.0 is an initialised set; sigdelset checks `sig`'s range.
        unsafe { libc::sigdelset(&mut self.0, sig) };
        self
    }

    /// Blocks these signals; returns the mask that was in force before.
    pub fn block(&self) -> SigSet {
        let mut old = SigSet::empty();
        // SAFETY: both pointers are valid sigset_t values; the process has one thread.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &self.0, &mut old.0) };
        old
    }

    /// Makes this set the signal mask.
    pub fn set_mask(&self) {
        // SAFETY: a valid sigset_t; a null old-mask pointer is allowed.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.0, core::ptr::null_mut()) };
    }

    /// A non-blocking, close-on-exec signalfd(2) that reports these signals.
    pub fn signalfd(&self) -> Result<OwnedFd, Errno> {
        // SAFETY: a valid sigset_t; -1 asks for a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &self.0, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(Errno::from_raw_os_error(errno()));
        }
        // SAFETY: signalfd returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// The next pending signal from a signalfd, or `None` when there is none.
pub fn read_signal(fd: BorrowedFd<'_>) -> Option<c_int> {
    // A signalfd_siginfo record is 128 bytes and starts with `u32 ssi_signo`.
    let mut rec = [0u8; 128];
    match rustix::io::read(fd, &mut rec) {
        Ok(128) => {}
        _ => return None,
    }
    let signo = u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
    c_int::try_from(signo).ok()
}

fn errno() -> c_int {
    // SAFETY: musl's __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

extern "C" {
    /// musl's `_Fork` (since 1.2.3): fork without running atfork handlers,
    /// which this single-threaded program has none of (less code than `fork`).
    fn _Fork() -> libc::pid_t;
}

/// Starts `argv[0]` (searched in PATH like `execvp`) with `argv`, in a new
/// process group of its own and with an empty signal mask (the wrapper blocks
/// signals; it never changes their dispositions, so there is nothing else to
/// restore). Returns the child's pid, or the reason its exec failed.
///
/// fork + exec with a close-on-exec pipe that carries exec's errno back: less
/// code than musl's posix_spawn, which the size budget counts.
pub fn spawn(cmd: Argv) -> Result<rustix::process::Pid, Errno> {
    let argv = cmd.as_ptr();
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let empty = SigSet::empty();
    // The process has a single thread, so the child may run any code; it runs
    // only async-signal-safe calls (setpgid, sigprocmask, execvp, write, _exit)
    // on memory valid in its copy of our address space: `argv` is a non-empty
    // null-terminated vector of C strings (an `Argv` guarantees it), `empty`
    // an initialised sigset.
    // SAFETY: as just said; _Fork has no other precondition.
    let pid = unsafe { _Fork() };
    if pid == 0 {
        // SAFETY: see above; _exit never returns and skips atexit handlers.
        unsafe {
            libc::setpgid(0, 0);
            libc::sigprocmask(libc::SIG_SETMASK, &empty.0, core::ptr::null_mut());
            libc::execvp(*argv, argv.cast());
            let err = errno().to_ne_bytes();
            libc::write(rustix::fd::AsRawFd::as_raw_fd(&wr), err.as_ptr().cast(), 4);
            libc::_exit(127)
        }
    }
    drop(wr);
    let child = rustix::process::Pid::from_raw(pid).ok_or_else(|| Errno::from_raw_os_error(errno()))?;
    // Also from this side, so that no signal can be sent to the group before it exists.
    let _ = rustix::process::setpgid(Some(child), Some(child));
    let mut err = [0u8; 4];
    match rustix::io::read(&rd, &mut err) {
        Ok(4) => {
            let _ = rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty());
            Err(Errno::from_raw_os_error(i32::from_ne_bytes(err)))
        }
        _ => Ok(child),
    }
}

/// Sends signal `sig` to process `pid` (a negative `pid`: to that process
/// group), `kill(2)`. rustix's kill takes only named signals; a wrapper must
/// forward real-time signals too.
pub fn kill(pid: i32, sig: c_int) -> Result<(), Errno> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(errno()))
    }
}

/// Replaces this process with `argv[0]` (PATH search, `execvp(3)`). Returns
/// only on failure, with the reason.
pub fn exec(cmd: Argv) -> Errno {
    let argv = cmd.as_ptr();
    // SAFETY: `argv` is a non-empty null-terminated vector of C strings (an
    // `Argv` guarantees it); execvp only returns on failure.
    unsafe { libc::execvp(*argv, argv.cast()) };
    Errno::from_raw_os_error(errno())
}

/// A fixed-capacity list of values in an anonymous mapping, for lists whose
/// length comes from the command line: pages that are never touched never
/// become resident. The values are dropped with the list.
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

impl<T: 'static> Slab<T> {
    /// Drops every value; the room stays.
    pub fn clear(&mut self) {
        let items: *mut [T] = self.as_mut_slice();
        self.len = 0;
        if core::mem::needs_drop::<T>() {
            // SAFETY: `items` are the values written by `push`; with `len`
            // already 0 nothing can reach them again, so each drops once.
            unsafe { core::ptr::drop_in_place(items) };
        }
    }
}

impl<T: 'static> Drop for Slab<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Which clock [`clock_gettime`] reads.
#[derive(Clone, Copy)]
pub enum ClockId {
    /// `CLOCK_MONOTONIC`.
    Monotonic,
    /// `CLOCK_REALTIME`.
    Realtime,
}

/// `clock_gettime(2)` as a plain system call: the tools read the clock a
/// handful of times per run, so the vDSO's lookup code (in musl or rustix) would
/// cost more bytes than it saves time.
pub fn clock_gettime(id: ClockId) -> libc::timespec {
    let clock = match id {
        ClockId::Monotonic => libc::CLOCK_MONOTONIC,
        ClockId::Realtime => libc::CLOCK_REALTIME,
    };
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer for the kernel's timespec (64-bit
    // time on both targets); both clocks exist on every Linux.
    unsafe { libc::syscall(libc::SYS_clock_gettime, clock, &mut ts as *mut libc::timespec) };
    ts
}

/// A fixed buffer whose bytes are left uninitialised until written, so that a
/// large buffer on the stack costs resident memory only for what is used (the
/// wrapper's RSS is a budget). Reads see only the written prefix.
pub struct Buf<const N: usize> {
    bytes: [MaybeUninit<u8>; N],
}

impl<const N: usize> Buf<N> {
    /// An unwritten buffer.
    pub const fn new() -> Buf<N> {
        Buf { bytes: [const { MaybeUninit::uninit() }; N] }
    }

    /// Writes `src` at `at`; false (nothing written) if it does not fit.
    pub fn write(&mut self, at: usize, src: &[u8]) -> bool {
        let Some(dst) = self.bytes.get_mut(at..at.saturating_add(src.len())) else { return false };
        for (d, s) in dst.iter_mut().zip(src) {
            d.write(*s);
        }
        true
    }

    /// The first `len` bytes.
    ///
    /// # Safety
    /// All of them must have been written with [`Buf::write`].
    pub unsafe fn prefix(&self, len: usize) -> &[u8] {
        let len = len.min(N);
        // SAFETY: len <= N, and the caller guarantees these bytes were written.
        unsafe { core::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), len) }
    }
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Buf::new()
    }
}

/// An anonymous private mapping of `len` zeroed bytes, unmapped when dropped:
/// room for the rare long path without a large stack frame (large frames are
/// probed page by page, which makes them resident).
pub struct Mapping {
    ptr: core::ptr::NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes (`mmap(2)`).
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
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: ptr/len describe the mapping made in `new`, used by no one else.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len.max(1)) };
    }
}

/// Bytes a [`SpillBuf`] keeps on the stack.
const SPILL_SMALL: usize = 256;
/// Bytes a [`SpillBuf`] can hold: a 4096-byte path and words around it.
pub const SPILL_CAP: usize = 4096 + 512;

/// A buffer of up to [`SPILL_CAP`] bytes that starts in a few hundred bytes on
/// the stack and moves to a [`Mapping`] only when something longer is written:
/// paths and message lines are short nearly always, and a large stack frame
/// would be probed page by page (made resident) on every run.
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
            // SAFETY: bytes ..written of `small` were written while `big` was None.
            None => unsafe { self.small.prefix(self.written) },
        }
    }
}

impl Default for SpillBuf {
    fn default() -> Self {
        SpillBuf::new()
    }
}

/// Sleeps until one of `fds` is ready or `timeout` passes (none: forever),
/// `ppoll(2)` with the signal mask left alone. Returns how many are ready.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<crate::duration::Duration>) -> Result<usize, Errno> {
    const NS: u64 = 1_000_000_000;
    let ts = timeout.map(|d| libc::timespec { tv_sec: (d.0 / NS) as _, tv_nsec: (d.0 % NS) as _ });
    let tsp = ts.as_ref().map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: pointer and length come from one live slice of pollfd records,
    // which the kernel reads and writes (revents) within bounds; `tsp` is null
    // or points to a live timespec; a null mask pointer keeps the mask.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, tsp, core::ptr::null()) };
    if n < 0 {
        return Err(Errno::from_raw_os_error(errno()));
    }
    Ok(n as usize)
}

/// Starts a process that lingers as this process's sibling (`clone(2)` with
/// `CLONE_PARENT`: its parent is our parent, so it is never a child that a
/// program we exec would inherit), holding copies of our descriptors but
/// stdin, stdout and stderr, until the pipe read end `until` reaches end of
/// file, that is until the write end `hold` (returned to the caller) is
/// closed everywhere; then it exits, and the kernel releases its copies there.
/// The kernel refuses this to the init of a PID namespace (EINVAL).
pub fn linger_sibling(until: OwnedFd, hold: OwnedFd) -> Result<OwnedFd, Errno> {
    // SAFETY: without CLONE_VM this is a fork: the child gets a copy of this
    // single-threaded process and makes only async-signal-safe calls (close,
    // read, _exit) before it exits; null stack and tid pointers are allowed.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_PARENT | libc::SIGCHLD, 0, 0, 0, 0) };
    if pid == 0 {
        drop(hold);
        for fd in 0..3 {
            // SAFETY: closes this child's own copies of the standard
            // descriptors, which nothing in the child uses afterwards.
            unsafe { libc::close(fd) };
        }
        let mut byte = [0u8; 1];
        while matches!(rustix::io::read(&until, &mut byte), Ok(1..) | Err(Errno::INTR)) {}
        // SAFETY: _exit ends the child at once, without atexit handlers.
        unsafe { libc::_exit(0) }
    }
    if pid < 0 {
        return Err(Errno::from_raw_os_error(errno()));
    }
    drop(until);
    Ok(hold)
}
