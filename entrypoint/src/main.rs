#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
use stepkit::args::Args;
stepkit::tool_main!(run);
fn run(_args: Args) -> u8 {
    stepkit::say::print("entrypoint 0.1.0\n");
    0
}
