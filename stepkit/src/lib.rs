//! stepkit: the mechanism that `copier`, `waitfor` and `entrypoint` share, once,
//! in four layers, each a folder, the lowest first. A layer imports only from
//! the layers below it (the unit test `layers_import_only_downward` reads the
//! sources and checks it), and every layer above `os` is denied `unsafe_code`.
//!
//! - [`os`]: the system-call layer, the only `unsafe`: [`os::argv`] (argv and
//!   the environment), [`os::mem`] (memory without an allocator),
//!   [`os::cstr`] (paths as C strings), [`os::io`] (whole writes and reads,
//!   the standard descriptors), [`os::signal`] (signal sets, the mask,
//!   signalfd), [`os::process`] (spawn, exec, kill, abort),
//!   [`os::terminal`] (the foreground group), [`os::poll`] (`ppoll`),
//!   [`os::clock`] (durations, instants, timestamps), [`os::errno`].
//! - [`cli`]: what a caller sees: [`cli::args`] (the option parser),
//!   [`cli::duration`] and [`cli::target`] (the grammars of durations and
//!   network targets), [`cli::say`] (one-line, one-`write` diagnostics),
//!   [`cli::decimal`], [`cli::status`] (the exit statuses of docs/design.md
//!   section 4), [`cli::signals`] (which signals, and the rule for a wait).
//! - [`files`]: [`files::path`] (`dirname`, `basename`, `mkdir -p`),
//!   [`files::atomic`] (temp file, then `rename`), [`files::copy`].
//! - [`wait`]: [`wait::poll_set`] (the one blocking wait),
//!   [`wait::liveness`] (the liveness lock of a step's wrapper),
//!   [`wait::engine`] (the event-driven wait for step files).
//!
//! No allocator: paths are built in stack buffers, and the one list whose length
//! depends on the command line (the wait engine's paths) lives in an anonymous
//! mapping sized to it, so only the pages it uses become resident.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks))]

// `os::argv::TestArgv` (feature `test-argv`: unit tests, fuzz targets, and
// `clippy --all-features`, never a shipped build) is made with std.
#[cfg(all(feature = "test-argv", not(test)))]
extern crate std;

pub mod cli;
pub mod files;
pub mod os;
pub mod wait;

/// The duration grammar, also at the path the host tool `steps` names it by.
pub use cli::duration;

// A no_std binary on musl does not link musl's C library by itself: ask for it.
#[cfg(all(target_env = "musl", not(test)))]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
extern "C" {}

#[macro_export]
macro_rules! tool_main {
    ($run:path) => {
        #[cfg(not(test))]
        #[allow(unsafe_code)]
        #[no_mangle]
        extern "C" fn main(
            argc: core::ffi::c_int,
            argv: *const *const core::ffi::c_char,
        ) -> core::ffi::c_int {
            // SAFETY: musl's C runtime calls `main` once with the process's own
            // argc/argv, which stay valid and unchanged for the process lifetime.
            let args = unsafe { $crate::os::argv::Args::from_main(argc, argv) };
            core::ffi::c_int::from($run(args))
        }

        // Objects of compiler_builtins built for unwinding name this symbol;
        // with panic = "abort" nothing ever calls it.
        #[cfg(not(test))]
        #[allow(unsafe_code)]
        #[no_mangle]
        extern "C" fn rust_eh_personality() {}

        // Unit tests build the crate without `main`: keep `$run` reachable.
        #[cfg(test)]
        const _: fn($crate::os::argv::Args) -> u8 = $run;

        $crate::__panic_handler!();
    };
}

/// The panic handler of a tool binary (see [`tool_main!`]): it aborts.
#[cfg(not(feature = "test-argv"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __panic_handler {
    () => {
        #[cfg(not(test))]
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            $crate::os::process::abort()
        }
    };
}

/// With the feature `test-argv` stepkit links std, whose panic handler it is.
#[cfg(feature = "test-argv")]
#[doc(hidden)]
#[macro_export]
macro_rules! __panic_handler {
    () => {};
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The layers, lowest first.
    const LAYERS: [&str; 4] = ["os", "cli", "files", "wait"];

    /// Every `crate::LAYER` a source file of a layer names (in code, `use`
    /// lines and doc links alike) is that layer or one below it; no file
    /// reaches up through `super::super`; every layer above `os` denies
    /// `unsafe_code`, and no `unsafe` is written outside `os`.
    #[test]
    fn layers_import_only_downward() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for (rank, layer) in LAYERS.iter().enumerate() {
            let mut files = 0;
            for entry in std::fs::read_dir(src.join(layer)).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                files += 1;
                let name = path.display();
                assert!(!text.contains("super::super"), "{name} reaches up with super::super");
                assert!(!text.contains("crate::{"), "{name}: name the layer in each import");
                for (at, _) in text.match_indices("crate::") {
                    let rest = &text[at + "crate::".len()..];
                    let word: String =
                        rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    let Some(to) = LAYERS.iter().position(|l| *l == word) else {
                        panic!("{name} names crate::{word}, which is no layer");
                    };
                    assert!(to <= rank, "{name} imports from {word}, a layer above {layer}");
                }
                if rank > 0 {
                    let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
                    assert!(code.clone().all(|l| !l.contains("unsafe ")), "{name} has unsafe code above os");
                }
            }
            assert!(files > 1, "{layer} is empty");
            let module = std::fs::read_to_string(src.join(layer).join("mod.rs")).unwrap();
            assert_eq!(module.contains("#![deny(unsafe_code)]"), rank > 0, "{layer}/mod.rs and unsafe_code");
        }
        // Nothing but the layers and this file at the top.
        for entry in std::fs::read_dir(&src).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(name == "lib.rs" || LAYERS.contains(&name.as_str()), "src/{name} is in no layer");
        }
    }
}
