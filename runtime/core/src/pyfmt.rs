//! Number formatting that matches Python's, so log lines read exactly as MMCV's do.

/// Python's `f"{v:.{digits}e}"`: at least two exponent digits and a sign (`4.000e-03`).
pub fn exp(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return python_special(v);
    }
    let s = format!("{v:.digits$e}");
    let (mantissa, exponent) = s.split_once('e').expect("exponent format has an e");
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Python's `f"{v:.{digits}f}"`.
pub fn fixed(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return python_special(v);
    }
    format!("{v:.digits$}")
}

fn python_special(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// Python's `repr(float)`: the shortest digits that read back exactly, positional for
/// exponents in [-4, 16), else `d.ddde±XX`.
pub fn repr(v: f64) -> String {
    if !v.is_finite() {
        return match (v.is_nan(), v > 0.0) {
            (true, _) => "NaN".into(),
            (false, true) => "Infinity".into(),
            (false, false) => "-Infinity".into(),
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits in scientific form.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("scientific format");
    let exp: i32 = exp.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `round(v, 5)`: both round the exact binary value half-to-even at 5 decimals.
pub fn round5(v: f64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    format!("{v:.5}").parse().unwrap_or(v)
}

/// Python's `str(datetime.timedelta(seconds=n))`: `H:MM:SS`, with `N day(s), ` in front.
pub fn timedelta(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let hms = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        d => format!("{d} days, {hms}"),
    }
}

/// The local time as `%Y%m%d_%H%M%S` (MMCV's run timestamp).
pub fn local_timestamp() -> String {
    chrono::Local::now().format("%Y%m%d_%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_formats() {
        assert_eq!(exp(0.004, 3), "4.000e-03");
        assert_eq!(exp(0.1, 3), "1.000e-01");
        assert_eq!(exp(12345.0, 3), "1.234e+04");
        assert_eq!(exp(0.0, 3), "0.000e+00");
        assert_eq!(fixed(0.4375, 3), "0.438");
        assert_eq!(fixed(0.14894, 4), "0.1489");
        assert_eq!(round5(0.148941234), 0.14894);
        assert_eq!(timedelta(3), "0:00:03");
        assert_eq!(repr(5e-5), "5e-05");
        assert_eq!(repr(0.0001), "0.0001");
        assert_eq!(repr(0.4375), "0.4375");
        assert_eq!(repr(2.0), "2.0");
        assert_eq!(repr(1e16), "1e+16");
        assert_eq!(repr(123456.789), "123456.789");
        assert_eq!(repr(-1.5e-7), "-1.5e-07");
        assert_eq!(timedelta(90061), "1 day, 1:01:01");
    }
}
