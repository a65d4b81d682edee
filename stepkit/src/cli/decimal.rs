//! Numbers in decimal, both ways, without `core::fmt` (which would cost
//! kilobytes): the digits of a status, a port, a count; a port or an option
//! of a configuration file read back.

/// Formats `n` in decimal into `buf`, returning the digits.
pub fn format(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// A decimal number of up to 9 digits (no sign, nothing else).
pub fn parse(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    text.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut b = [0u8; 20];
        assert_eq!(format(0, &mut b), b"0");
        assert_eq!(format(137, &mut b), b"137");
        assert_eq!(format(u64::MAX, &mut b), b"18446744073709551615");
    }

    #[test]
    fn parsed() {
        assert_eq!(parse(b"0"), Some(0));
        assert_eq!(parse(b"080"), Some(80));
        assert_eq!(parse(b"999999999"), Some(999_999_999));
        for bad in ["", "1234567890", "+1", "-1", "1 ", "0x1"] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }
}
