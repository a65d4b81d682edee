//! stepkit: the mechanism that `copier`, `waitfor` and `entrypoint` share, once.
//!
//! - [`argv`]: the process's argument vector as musl's C runtime hands it over.
//! - [`args`]: the option parser.
//! - [`say`]: one-line, one-`write` diagnostics `TOOL: what failed: reason`.
//! - [`signals`]: the signals the tools handle, and the rule for a wait.
//! - [`status`]: the exit statuses of DESIGN.md section 4 and the one mapping of a
//!   child's wait status to ours.
//! - [`duration`]: `2`, `250ms`, `1.5s`, `1m30s`, `1h`.
//! - [`path`]: NUL-terminated path buffers (no allocator) and directory creation.
//! - [`atomic`]: files that appear whole or not at all (temp file, then `rename`).
//! - [`copy`]: one file copied atomically (copier, and `entrypoint cp`).
//! - [`clock`]: monotonic deadlines and RFC 3339 timestamps.
//! - [`wait_engine`]: the event-driven wait for step files.
//! - [`liveness`]: the liveness lock `P.lock`, held by a wrapper, watched by waiters.
//! - [`poll_set`]: the one blocking wait, `ppoll` on a set of descriptors.
//! - [`net`], [`resolve`]: `waitfor`'s network targets and name resolution.
//! - [`mem`]: memory without an allocator (stack buffers that spill to a
//!   mapping, lists in anonymous mappings).
//! - [`sys`]: the thin layer of typed wrappers over the system calls rustix does
//!   not wrap (signal masks, signalfd, fork/exec, the terminal, kill, the clock).
//!
//! `unsafe` lives in three thin layers only, each block with a `// SAFETY:`
//! line: `sys` (system calls), `mem` (raw memory) and `argv` (argv's pointers);
//! plus the process entry in [`tool_main!`].
//!
//! No allocator: paths are built in stack buffers, and the one list whose length
//! depends on the command line (the wait engine's paths) lives in an anonymous
//! mapping sized to it, so only the pages it uses become resident.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks))]

pub mod args;
pub mod argv;
pub mod atomic;
pub mod clock;
pub mod copy;
pub mod duration;
pub mod liveness;
pub mod mem;
pub mod net;
pub mod path;
pub mod poll_set;
pub mod resolve;
pub mod say;
pub mod signals;
pub mod status;
pub mod sys;
pub mod wait_engine;

// A no_std binary on musl does not link musl's C library by itself: ask for it.
#[cfg(all(target_env = "musl", not(test)))]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
extern "C" {}

/// Defines the process entry (`main`, called by musl's C runtime) and the panic
/// handler of a tool binary. `$run` is `fn(stepkit::args::Args) -> u8`.
///
/// The panic handler aborts: tool code has no panicking paths, and a panic that
/// escaped review must not unwind through C.
#[macro_export]
macro_rules! tool_main {
    ($run:path) => {
        #[cfg(not(test))]
        #[no_mangle]
        extern "C" fn main(
            argc: core::ffi::c_int,
            argv: *const *const core::ffi::c_char,
        ) -> core::ffi::c_int {
            // SAFETY: musl's C runtime calls `main` once with the process's own
            // argc/argv, which stay valid and unchanged for the process lifetime.
            let args = unsafe { $crate::args::Args::from_main(argc, argv) };
            core::ffi::c_int::from($run(args))
        }

        // Objects of compiler_builtins built for unwinding name this symbol;
        // with panic = "abort" nothing ever calls it.
        #[cfg(not(test))]
        #[no_mangle]
        extern "C" fn rust_eh_personality() {}

        // Unit tests build the crate without `main`: keep `$run` reachable.
        #[cfg(test)]
        const _: fn($crate::args::Args) -> u8 = $run;

        #[cfg(not(test))]
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            $crate::sys::abort()
        }
    };
}
