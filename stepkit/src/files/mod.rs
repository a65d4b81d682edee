//! Files: paths and directories, files that appear whole or not at all, the
//! atomic copy of one file. Above `os` and `cli`.
#![deny(unsafe_code)]

pub mod atomic;
pub mod copy;
pub mod path;
