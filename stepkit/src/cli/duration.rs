//! Durations on the command line: a plain number is seconds (`2`, `0.5`); with
//! units, Go's syntax (`250ms`, `1.5s`, `1m30s`, `1h`, also `ns`, `us`).

use super::args::UsageError;
use crate::os::clock::Duration;

const NS_PER_S: u64 = 1_000_000_000;

/// The value of a duration option (`--grace 5s`); a usage error if malformed.
pub fn option(text: &'static [u8]) -> Result<Duration, UsageError> {
    parse(text).ok_or(UsageError::Invalid("duration", text))
}

/// The value of a time-limit option (`--timeout`): 0 means no limit, as for
/// `timeout(1)` and Tekton.
pub fn limit(text: &'static [u8]) -> Result<Option<Duration>, UsageError> {
    option(text).map(|d| Some(d).filter(|d| d.0 > 0))
}

fn unit_ns(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"ns" => 1,
        b"us" | b"\xc2\xb5s" => 1_000,
        b"ms" => 1_000_000,
        b"s" => NS_PER_S,
        b"m" => 60 * NS_PER_S,
        b"h" => 3600 * NS_PER_S,
        _ => return None,
    })
}

/// Parses a duration; `None` when it is malformed, negative or absurdly large.
pub fn parse(text: &[u8]) -> Option<Duration> {
    let mut rest = text;
    let mut total: u64 = 0;
    let mut terms = 0;
    while !rest.is_empty() {
        // A number: digits, optionally a fraction.
        let int_len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.split_first() {
            Some((b'.', tail)) => {
                let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
                tail.split_at(n)
            }
            _ => (&[][..], after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        // A unit, unless this is the whole text (a plain number of seconds).
        let unit_len = after.iter().take_while(|c| !c.is_ascii_digit() && **c != b'.').count();
        let (unit, after) = after.split_at(unit_len);
        let scale = if unit.is_empty() {
            if terms > 0 || !after.is_empty() {
                return None;
            }
            NS_PER_S
        } else {
            unit_ns(unit)?
        };
        total = total.checked_add(number_ns(int, frac, scale)?)?;
        terms += 1;
        rest = after;
    }
    if terms == 0 {
        return None;
    }
    Some(Duration(total))
}

fn number_ns(int: &[u8], frac: &[u8], scale: u64) -> Option<u64> {
    let mut whole: u64 = 0;
    for &d in int {
        whole = whole.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    let mut value = whole.checked_mul(scale)?;
    let mut place = scale;
    for &d in frac.iter().take(30) {
        place /= 10;
        value = value.checked_add(u64::from(d - b'0') * place)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: &str) -> Option<u64> {
        parse(t.as_bytes()).map(|d| d.0 / 1_000_000)
    }

    #[test]
    fn every_form() {
        assert_eq!(ms("2"), Some(2000));
        assert_eq!(ms("0"), Some(0));
        assert_eq!(ms("0.25"), Some(250));
        assert_eq!(ms("250ms"), Some(250));
        assert_eq!(ms("1.5s"), Some(1500));
        assert_eq!(ms("1m30s"), Some(90_000));
        assert_eq!(ms("1h"), Some(3_600_000));
        assert_eq!(ms("2h45m"), Some(9_900_000));
        assert_eq!(ms(".5s"), Some(500));
        assert_eq!(parse(b"1500us"), Some(Duration(1_500_000)));
        assert_eq!(parse("3µs".as_bytes()), Some(Duration(3_000)));
        assert_eq!(parse(b"7ns"), Some(Duration(7)));
    }

    #[test]
    fn bad_forms() {
        for bad in ["", "s", "-1", "1x", "1.2.3", "1m30", "abc", "1 s", ".", "5d", "99999999999999h"] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn millis_round_up() {
        assert_eq!(Duration(1).as_millis_ceil(), 1);
        assert_eq!(Duration(2_000_000).as_millis_ceil(), 2);
    }
}
