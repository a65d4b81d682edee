//! Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1G`, `2e3`), exactly,
//! in nano-units (10^-9 of the unit: the finest a quantity keeps).

/// A quantity in units of 10^-9 ("1" is 1_000_000_000, "500m" 500_000_000).
pub type Nanos = u128;

const NANO: u128 = 1_000_000_000;

/// Parses a non-negative quantity; `None` when malformed, negative or beyond
/// 2^80 units. Precision finer than 1n is rounded up, as Kubernetes does.
pub fn parse(text: &str) -> Option<Nanos> {
    let s = text.strip_prefix('+').unwrap_or(text);
    let num_len = s.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.').count();
    let (num, suffix) = s.split_at(num_len);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 36 {
        return None;
    }
    let mantissa: u128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    // value = mantissa * 10^-frac.len() * multiplier; as nanos: * num / den
    let (mut num, mut den): (u128, u128) = (NANO, 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?);
    match suffix {
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let k = 1 + "KMGTPE".find(suffix.chars().next()?)?;
            num = num.checked_mul(1u128 << (10 * k))?;
        }
        _ => {
            let exp: i32 = match suffix {
                "n" => -9,
                "u" => -6,
                "m" => -3,
                "" => 0,
                "k" => 3,
                "M" => 6,
                "G" => 9,
                "T" => 12,
                "P" => 15,
                "E" => 18,
                _ => {
                    let e = suffix.strip_prefix(['e', 'E'])?;
                    let e = e.strip_prefix('+').unwrap_or(e);
                    if e.is_empty() || !e.trim_start_matches('-').bytes().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    e.parse().ok().filter(|e: &i32| (-40..=40).contains(e))?
                }
            };
            if exp >= 0 {
                num = num.checked_mul(10u128.checked_pow(exp.unsigned_abs())?)?;
            } else {
                den = den.checked_mul(10u128.checked_pow(exp.unsigned_abs())?)?;
            }
        }
    }
    let value = mantissa.checked_mul(num)?.div_ceil(den);
    (value < (1u128 << 80) * NANO).then_some(value)
}

/// A quantity as Kubernetes would print it: the largest binary (memory) or
/// decimal suffix that divides it exactly, else plain, else `m`, `u`, `n`.
pub fn format(n: Nanos) -> String {
    if n == 0 {
        return "0".to_string();
    }
    if n % NANO == 0 {
        let units = n / NANO;
        for (i, suffix) in ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"].iter().enumerate() {
            let size = 1u128 << (10 * (6 - i));
            if units % size == 0 && units >= size {
                return format!("{}{suffix}", units / size);
            }
        }
        for (i, suffix) in ["E", "P", "T", "G", "M", "k"].iter().enumerate() {
            let size = 10u128.pow(3 * (6 - i as u32));
            if units % size == 0 && units >= size {
                return format!("{}{suffix}", units / size);
            }
        }
        return units.to_string();
    }
    for (div, suffix) in [(1_000_000, "m"), (1_000, "u"), (1, "n")] {
        if n % div == 0 {
            return format!("{}{suffix}", n / div);
        }
    }
    n.to_string()
}

/// CPU reads best in cores and millicores only (`1500m`, not `1500000u`).
pub fn format_cpu(n: Nanos) -> String {
    if n % NANO == 0 {
        (n / NANO).to_string()
    } else if n % 1_000_000 == 0 {
        format!("{}m", n / 1_000_000)
    } else {
        format(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("1"), Some(NANO));
        assert_eq!(parse("500m"), Some(NANO / 2));
        assert_eq!(parse("0.5"), Some(NANO / 2));
        assert_eq!(parse(".5"), Some(NANO / 2));
        assert_eq!(parse("1."), Some(NANO));
        assert_eq!(parse("+2"), Some(2 * NANO));
        assert_eq!(parse("128Mi"), Some(128 * (1 << 20) * NANO));
        assert_eq!(parse("1Ki"), Some(1024 * NANO));
        assert_eq!(parse("1.5Gi"), Some(1536 * (1 << 20) * NANO));
        assert_eq!(parse("1k"), Some(1000 * NANO));
        assert_eq!(parse("1M"), Some(1_000_000 * NANO));
        assert_eq!(parse("2e3"), Some(2000 * NANO));
        assert_eq!(parse("2E-3"), Some(2_000_000));
        assert_eq!(parse("129e6"), Some(129_000_000 * NANO));
        assert_eq!(parse("1n"), Some(1));
        assert_eq!(parse("1u"), Some(1000));
        assert_eq!(parse("0.1n"), Some(1), "rounded up");
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("1Ei"), Some((1u128 << 60) * NANO));
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for bad in ["", "-1", "m", "1.2.3", "1Q", "1 Gi", "1gi", "e3", "1e", "1e+", "0x10", "1KiB", "1e99"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1", "500m", "128Mi", "1Gi", "3k", "1500m", "7", "1n", "250u", "0", "1536Mi", "5G"] {
            let n = parse(s).unwrap();
            assert_eq!(parse(&format(n)), Some(n), "{s}");
        }
        assert_eq!(format(parse("1536Mi").unwrap()), "1536Mi");
        assert_eq!(format(parse("1024Mi").unwrap()), "1Gi");
        assert_eq!(format(parse("1000000").unwrap()), "1M");
        assert_eq!(format(parse("1234").unwrap()), "1234");
        assert_eq!(format_cpu(parse("1500m").unwrap()), "1500m");
        assert_eq!(format_cpu(parse("2000m").unwrap()), "2");
        assert_eq!(format_cpu(parse("1k").unwrap()), "1000");
    }
}
