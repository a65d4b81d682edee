//! Black-box checks of the build: size budget and static linking (to be written).
