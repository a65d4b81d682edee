//! Times as `steps status` reads and shows them: RFC 3339 timestamps (the
//! termination message's `StartedAt` with milliseconds, the API's times in
//! whole seconds) to milliseconds since the epoch and back (the tools' own
//! writer, `stepkit::os::clock`), and durations as people read them.

use stepkit::os::clock::rfc3339_millis;

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
pub fn parse_rfc3339(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = t.get(from..from + len)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // milliseconds: the first three digits, padded
        let digits: String = t[start..i].chars().chain("000".chars()).take(3).collect();
        ms = digits.parse::<i64>().ok()?;
    }
    let offset = match &t[i..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':' =>
        {
            let minutes = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if zone.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset * 60;
    u64::try_from(secs * 1000 + ms).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`, the inverse of the tools' `civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(ms: u64) -> String {
    String::from_utf8_lossy(&rfc3339_millis(ms)).into_owned()
}

/// `HH:MM:SS.mmm` (UTC).
pub fn clock(ms: u64) -> String {
    rfc3339(ms)[11..23].to_string()
}

/// `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn date_time(ms: u64) -> String {
    let t = rfc3339(ms);
    format!("{} {}", &t[..10], &t[11..19])
}

/// A duration as people read it: `850ms`, `1.25s`, `59.9s`, `2m05s`, `1h02m05s`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => {
            // hundredths, truncated, without trailing zeros
            let text = format!("{}.{:02}", ms / 1000, ms % 1000 / 10);
            format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
        }
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h{:02}m{:02}s", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_both_ways() {
        assert_eq!(parse_rfc3339("2026-11-27T09:15:00.123Z"), Some(1_795_770_900_123));
        assert_eq!(parse_rfc3339("2026-11-27T09:15:00Z"), Some(1_795_770_900_000));
        assert_eq!(parse_rfc3339("2026-11-27T10:15:00.1+01:00"), Some(1_795_770_900_100));
        assert_eq!(parse_rfc3339("2026-11-27T09:15:00.123456789Z"), Some(1_795_770_900_123));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        for bad in [
            "",
            "2026-11-27",
            "2026-11-27T09:15:00",
            "2026-13-27T09:15:00Z",
            "2026-11-27T09:15:00.Z",
            "x026-11-27T09:15:00Z",
            "2026-11-27T09:15:00+0100",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for ms in [0, 951_782_400_000, 1_795_770_900_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        }
        assert_eq!(clock(1_795_770_900_123), "09:15:00.123");
        assert_eq!(date_time(1_795_770_900_123), "2026-11-27 09:15:00");
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0ms"),
            (850, "850ms"),
            (1000, "1s"),
            (1250, "1.25s"),
            (1205, "1.2s"),
            (59_999, "59.99s"),
            (60_000, "1m00s"),
            (125_400, "2m05s"),
            (3_725_000, "1h02m05s"),
        ];
        for (ms, text) in cases {
            assert_eq!(duration(ms), text, "{ms}");
        }
    }
}
