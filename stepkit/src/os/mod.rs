//! The system-call layer, at the bottom: typed wrappers over the system
//! calls that rustix does not wrap (or wraps in more bytes than the budgets
//! allow), raw memory without an allocator, and the process's argument
//! vector. The only `unsafe` of the tools is here, each block with a
//! `// SAFETY:` line; every layer above is denied `unsafe_code`. Nothing here
//! imports from above.

pub mod argv;
pub mod clock;
pub mod cstr;
pub mod errno;
pub mod io;
pub mod mem;
pub mod poll;
pub mod process;
pub mod signal;
pub mod terminal;
