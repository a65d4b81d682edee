//! Black-box tests of entrypoint (to be written).
