//! What the tools show their caller: the option parser and the grammars of
//! the command line (durations, network targets), one-line diagnostics,
//! numbers in decimal, the exit statuses and the signals the tools take.
//! Above `os` only.
#![deny(unsafe_code)]

pub mod args;
pub mod decimal;
pub mod duration;
pub mod say;
pub mod signals;
pub mod status;
pub mod target;
