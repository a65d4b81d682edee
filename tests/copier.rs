//! Black-box tests of copier (to be written).
