//! Kubernetes quantities (`500m`, `1Gi`, `1e3`), compared and bounded by value.

use serde_json::Value;

/// A Kubernetes quantity in nano-units, exactly; `None` if `s` is not one.
pub fn parse(s: &str) -> Option<i128> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
        || fraction.len() > 9
    {
        return None;
    }
    let nanos: i128 = format!("{whole}{fraction:0<9}").parse().ok()?;
    let (base, exp): (i128, u32) = match suffix {
        "" => (10, 0),
        "n" => return Some(sign(negative, nanos / 1_000_000_000)),
        "u" => return Some(sign(negative, nanos / 1_000_000)),
        "m" => return Some(sign(negative, nanos / 1_000)),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (1024, 1),
        "Mi" => (1024, 2),
        "Gi" => (1024, 3),
        "Ti" => (1024, 4),
        "Pi" => (1024, 5),
        "Ei" => (1024, 6),
        _ => return exponent(number, suffix, negative),
    };
    Some(sign(negative, nanos.checked_mul(base.checked_pow(exp)?)?))
}

/// `1e3`, `2E-1`: decimal exponents.
fn exponent(number: &str, suffix: &str, negative: bool) -> Option<i128> {
    let exp: i32 = suffix.strip_prefix(['e', 'E'])?.parse().ok()?;
    let value = parse(number)?;
    let scaled = if exp >= 0 {
        value.checked_mul(10i128.checked_pow(exp as u32)?)?
    } else {
        value / 10i128.checked_pow(exp.unsigned_abs())?
    };
    Some(sign(negative, scaled))
}

fn sign(negative: bool, v: i128) -> i128 {
    if negative { -v } else { v }
}

/// A quantity given as a JSON string or integer (as the API server accepts both).
pub fn parse_value(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => parse(s),
        Value::Number(n) => n.as_i64().map(|i| i128::from(i) * 1_000_000_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(parse("1Gi"), parse("1024Mi"));
        assert_eq!(parse("500m"), parse("0.5"));
        assert_eq!(parse("1k"), parse("1e3"));
        assert_eq!(parse("2"), Some(2_000_000_000));
        assert_ne!(parse("1G"), parse("1Gi"));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("-Xms1g"), None);
        assert_eq!(parse(""), None);
    }
}
