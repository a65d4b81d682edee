//! Waiting, at the top: the one blocking wait (`ppoll` on a set of
//! descriptors), the liveness lock of a step's wrapper, and the wait engine
//! that waits, event-driven, for step files and other targets. Above every
//! other layer.
#![deny(unsafe_code)]

pub mod engine;
pub mod liveness;
pub mod poll_set;
