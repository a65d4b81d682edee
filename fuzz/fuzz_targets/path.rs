//! stepkit::files::path::{dirname, basename} against dirname(1)/basename(1) as a
//! reference model, and PathBuf's bounds (NUL, length, suffix).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepkit::files::path::{basename, dirname};
use stepkit::os::cstr::{PathBuf, CAP};

fn trim(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p[end - 1] == b'/' {
        end -= 1;
    }
    &p[..end]
}

/// POSIX dirname, with `//` folded to `/` (the implementation-defined case).
fn model_dirname(p: &[u8]) -> &[u8] {
    if p.is_empty() {
        return b".";
    }
    let t = trim(p);
    if t == b"/" {
        return b"/";
    }
    match t.iter().rposition(|&c| c == b'/') {
        None => b".",
        Some(i) => {
            let d = trim(&t[..i]);
            if d.is_empty() || d == b"/" {
                b"/"
            } else {
                d
            }
        }
    }
}

fn model_basename(p: &[u8]) -> &[u8] {
    let t = trim(p);
    if t == b"/" {
        return t;
    }
    match t.iter().rposition(|&c| c == b'/') {
        None => t,
        Some(i) => &t[i + 1..],
    }
}

fuzz_target!(|data: &[u8]| {
    let d = dirname(data);
    let b = basename(data);
    assert_eq!(d, model_dirname(data), "dirname {:?}", String::from_utf8_lossy(data));
    assert_eq!(b, model_basename(data), "basename {:?}", String::from_utf8_lossy(data));
    // Shapes: a dirname never ends in '/' (but "/"), is never empty; a
    // basename has no '/' (but "/").
    assert!(!d.is_empty());
    assert!(d == b"/" || d.last() != Some(&b'/'));
    assert!(b == b"/" || !b.contains(&b'/'));
    // The watch directory of a dependency must be an ancestor of it (or ".").
    if d != b"." && d != b"/" {
        assert!(data.starts_with(d));
    }
    if !b.is_empty() && b != b"/" {
        assert!(trim(data).ends_with(b));
    }
    // dirname is idempotent on its fixed points.
    assert_eq!(dirname(b"/"), b"/");
    assert_eq!(dirname(b"."), b".");

    // PathBuf: the input split in two as path and suffix.
    let cut = data.first().map_or(0, |&c| usize::from(c)).min(data.len());
    let (path, suffix) = data.split_at(cut);
    match PathBuf::with_suffix(path, suffix) {
        Ok(p) => {
            assert!(!data.contains(&0));
            assert!(data.len() < CAP);
            assert_eq!(p.as_bytes(), data);
            assert_eq!(p.as_cstr().to_bytes(), data);
        }
        Err(e) => {
            assert!(data.contains(&0) || data.len() >= CAP, "{e:?} for {} bytes", data.len());
        }
    }
});
