//! stepkit::cli::duration::parse against a reference model of the grammar
//! (the tools' pages in docs/: a plain number is seconds; Go-style `1m30s`,
//! `1.5s`, `300ms`, `ns`, `us`/`µs`, `h`), computed exactly in u128.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepkit::cli::duration::parse;
use stepkit::os::clock::Duration;

const S: u128 = 1_000_000_000;

fn unit(u: &[u8]) -> Option<u128> {
    Some(match u {
        b"ns" => 1,
        b"us" | b"\xc2\xb5s" => 1_000,
        b"ms" => 1_000_000,
        b"s" => S,
        b"m" => 60 * S,
        b"h" => 3600 * S,
        _ => return None,
    })
}

/// What the text means: `None` when malformed; `Some((low, high, terms))`
/// brackets the exact value in ns (fractions of a nanosecond cut).
fn model(text: &[u8]) -> Option<(u128, u128, u32)> {
    let mut rest = text;
    let (mut low, mut high, mut terms) = (0u128, 0u128, 0u32);
    let cap = u128::from(u64::MAX) * 4;
    while !rest.is_empty() {
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (int, after) = rest.split_at(n);
        let (frac, after) = match after.split_first() {
            Some((b'.', t)) => {
                let k = t.iter().take_while(|c| c.is_ascii_digit()).count();
                t.split_at(k)
            }
            _ => (&[][..], after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let k = after
            .iter()
            .take_while(|c| !c.is_ascii_digit() && **c != b'.')
            .count();
        let (u, after) = after.split_at(k);
        let scale = if u.is_empty() {
            if terms > 0 || !after.is_empty() {
                return None;
            }
            S
        } else {
            unit(u)?
        };
        // Integer part, saturating far above u64::MAX.
        let mut whole: u128 = 0;
        for &d in int {
            whole = (whole * 10 + u128::from(d - b'0')).min(cap);
        }
        // Fraction: 20 digits are more than enough below 1 ns.
        let mut f: u128 = 0;
        let mut den: u128 = 1;
        for &d in frac.iter().take(20) {
            f = f * 10 + u128::from(d - b'0');
            den *= 10;
        }
        let part = (f * scale) / den;
        low = (low + (whole * scale).min(cap) + part).min(cap);
        high = (high + (whole * scale).min(cap) + part + 1).min(cap);
        terms += 1;
        rest = after;
    }
    if terms == 0 {
        return None;
    }
    Some((low, high, terms))
}

fuzz_target!(|data: &[u8]| {
    let got = parse(data);
    let want = model(data);
    match (got, want) {
        (None, None) => {}
        (Some(d), None) => panic!("accepted malformed {:?} as {d:?}", String::from_utf8_lossy(data)),
        (Some(Duration(ns)), Some((low, high, terms))) => {
            // Per-digit truncation may lose a few ns per term (m and h scales
            // are not powers of ten); it must never add.
            let ns = u128::from(ns);
            let slack = 16 * u128::from(terms);
            assert!(
                ns <= high && ns + slack >= low,
                "{:?}: got {ns}, exact in [{low}, {high})",
                String::from_utf8_lossy(data)
            );
        }
        (None, Some((low, _, terms))) => {
            // Refused only when too large for u64 nanoseconds.
            let slack = 16 * u128::from(terms);
            assert!(
                low + slack > u128::from(u64::MAX),
                "refused well-formed {:?} (about {low} ns)",
                String::from_utf8_lossy(data)
            );
        }
    }
    // A plain number of seconds below 2^32 is exact.
    if !data.is_empty() && data.len() <= 9 && data.iter().all(u8::is_ascii_digit) {
        let n: Option<u64> = std::str::from_utf8(data).ok().and_then(|t| t.parse().ok());
        assert_eq!(got, n.map(Duration::secs));
    }
    if let Some(d) = got {
        let _ = d.as_millis_ceil();
    }
});
