//! entrypoint's option parser (`entrypoint/src/options.rs`) over an arbitrary
//! argv (the input split at NUL bytes; argv[0] is the first piece): it never
//! panics, a command line it takes names COMMAND inside argv (or a program),
//! and every path of its waits is an argv word or a piece of one (a
//! `-wait_file` list is split at commas). After a refusal the parser reads
//! on to the end of the options (for the outcome paths), and terminates too.
//!
//! `options` and the `outcome` it fills live in the entrypoint binary crate,
//! which cannot be a dependency: they are compiled here from their own
//! source files (not copies), with the one item they take from their crate
//! root (`TOOL`), as the `json` target does.
#![no_main]
#![allow(dead_code)]

#[path = "../../entrypoint/src/outcome.rs"]
mod outcome;
#[path = "../../entrypoint/src/options.rs"]
mod options;

pub(crate) const TOOL: &str = "entrypoint";

use libfuzzer_sys::fuzz_target;
use stepkit::os::argv::TestArgv;

fuzz_target!(|data: &[u8]| {
    let words: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let mut argv = TestArgv::new(&words);
    // SAFETY: `argv` outlives everything the parser hands out: the options
    // and the step are dropped before it.
    let args = unsafe { argv.args() };
    let mut step = outcome::Step::new();
    let mut opts = options::Options::new(args.len());
    match options::parse(&args, &mut step, &mut opts, "", "") {
        Ok(true) => {
            assert!(opts.command <= args.len(), "COMMAND past argv");
            assert!(opts.program.is_some() || opts.command < args.len(), "no COMMAND");
            for engine in [&opts.waits, &opts.stop_when, &opts.hold_until].into_iter().flatten() {
                for i in 0..engine.len() {
                    let p = engine.path(i);
                    let inside = words.iter().any(|w| w.windows(p.len().max(1)).any(|x| x == p) || p.is_empty());
                    assert!(inside, "a wait path that is no part of argv");
                }
            }
        }
        Ok(false) | Err(_) => {}
    }
    drop(opts);
    drop(step);
    drop(argv);
});
