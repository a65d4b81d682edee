//! Black-box tests of waitfor (to be written).
