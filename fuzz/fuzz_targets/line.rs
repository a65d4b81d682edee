//! stepkit::cli::say::Line: a diagnostic stays one line whatever the path holds
//! (control characters shown as \xNN), never grows past its buffer, and the
//! quoted bytes can be read back from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepkit::cli::say::Line;

/// Undoes the \xNN escapes of control characters (a literal backslash is not
/// escaped, so this is only exact when the input has none).
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && s.len() >= i + 4 && s[i + 1] == b'x' {
            let hex = std::str::from_utf8(&s[i + 2..i + 4]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                if v < 0x20 || v == 0x7f {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// The longest line (without its newline): measured, not copied from
/// stepkit, so that a change of the buffer size does not break the target.
fn max_line() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        let n = Line::new("t").bytes(&[b'a'; 1 << 16]).as_bytes().len();
        assert!(n >= 4096 + 64, "a line cannot hold a 4096-byte path ({n})");
        n
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the shape; the rest is the hostile path.
    let (shape, path) = data.split_first().map_or((0, data), |(&s, r)| (s, r));
    let tool = ["entrypoint", "waitfor", "copier"][usize::from(shape % 3)];
    let line = match shape % 3 {
        0 => Line::new(tool).text("cannot write ").quoted(path),
        1 => Line::new(tool).text("step ").quoted(path).text(" failed"),
        _ => Line::new(tool).bytes(path),
    };
    let bytes = line.as_bytes();
    let max = max_line();
    assert!(bytes.len() <= max, "line of {} bytes", bytes.len());
    assert!(
        !bytes.iter().any(|&c| c < 0x20 || c == 0x7f),
        "control character in a diagnostic"
    );
    let (prefix, body): (&[u8], &[u8]) = match shape % 3 {
        0 => (b"entrypoint: cannot write '", &bytes[26.min(bytes.len())..]),
        1 => (b"waitfor: step '", &bytes[15.min(bytes.len())..]),
        _ => (b"copier: ", &bytes[8..]),
    };
    assert!(bytes.starts_with(prefix));
    let escaped_len: usize = path.iter().map(|&c| if c < 0x20 || c == 0x7f { 4 } else { 1 }).sum();
    let whole = prefix.len() + escaped_len + match shape % 3 {
        0 => 1,
        1 => 8,
        _ => 0,
    };
    if whole <= max {
        // Not cut: the exact text.
        let want_tail: &[u8] = match shape % 3 {
            0 => b"'",
            1 => b"' failed",
            _ => b"",
        };
        assert!(bytes.ends_with(want_tail));
        let inner = &body[..body.len() - want_tail.len()];
        assert_eq!(inner.len(), escaped_len);
        if !path.contains(&b'\\') {
            assert_eq!(unescape(inner), path);
        }
    } else {
        // Cut, never split: the whole buffer used, a prefix of the full text.
        assert_eq!(bytes.len(), max);
        if !path.contains(&b'\\') {
            // Up to the last few bytes (an escape or the closing words may be
            // cut), the body is the path, or the path and then the words.
            let inner = unescape(body);
            let sure = &inner[..inner.len().saturating_sub(4)];
            assert!(path.starts_with(sure) || sure.starts_with(path));
        }
    }
    // The termination message's Message: the line without `TOOL: `.
    assert_eq!(line.body(tool), &bytes[tool.len() + 2..]);
});
