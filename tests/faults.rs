//! Fault injection: the tools under SIGKILL, ENOSPC, signal and zombie storms, hostile paths.
