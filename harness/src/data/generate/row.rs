//! Renders one CSV row into a byte buffer without allocating: pre-quoted site text plus
//! hand-formatted numbers.

use super::sites::Site;
use super::values::{Param, Reading};

/// Appends the full row (13 quoted fields and a newline) for `reading` to `line`.
/// `stamp` is the file's `"YYYY-MM-DDTHH:00",` field with its trailing comma.
pub(crate) fn push_row(
    line: &mut Vec<u8>,
    site: &Site,
    stamp: &[u8],
    param: Param,
    reading: &Reading,
) {
    line.extend_from_slice(site.prefix.as_bytes());
    line.extend_from_slice(stamp);
    line.push(b'"');
    line.extend_from_slice(param.label().as_bytes());
    line.extend_from_slice(b"\",\"");
    push_tenths(line, reading.value);
    line.extend_from_slice(b"\",\"");
    line.extend_from_slice(param.unit().as_bytes());
    line.extend_from_slice(b"\",\"");
    push_tenths(line, reading.raw);
    line.extend_from_slice(b"\",\"");
    push_int(line, reading.aqi);
    line.extend_from_slice(b"\",\"");
    push_int(line, reading.category);
    line.extend_from_slice(b"\",");
    line.extend_from_slice(site.suffix.as_bytes());
}

/// Appends `tenths / 10` with exactly one decimal (`-999.0`, `-0.3`, `17.3`).
fn push_tenths(line: &mut Vec<u8>, tenths: i64) {
    if tenths < 0 {
        line.push(b'-');
    }
    let magnitude = tenths.unsigned_abs();
    push_digits(line, magnitude / 10);
    line.push(b'.');
    line.push(b'0' + (magnitude % 10) as u8);
}

/// Appends a decimal integer.
fn push_int(line: &mut Vec<u8>, value: i64) {
    if value < 0 {
        line.push(b'-');
    }
    push_digits(line, value.unsigned_abs());
}

/// Appends the decimal digits of `value`.
fn push_digits(line: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    line.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenths_text(value: i64) -> String {
        let mut line = Vec::new();
        push_tenths(&mut line, value);
        String::from_utf8(line).expect("ascii")
    }

    fn int_text(value: i64) -> String {
        let mut line = Vec::new();
        push_int(&mut line, value);
        String::from_utf8(line).expect("ascii")
    }

    #[test]
    fn numbers_format_like_the_feed() {
        assert_eq!(tenths_text(173), "17.3");
        assert_eq!(tenths_text(0), "0.0");
        assert_eq!(tenths_text(-3), "-0.3");
        assert_eq!(tenths_text(-9990), "-999.0");
        assert_eq!(tenths_text(99_999), "9999.9");
        assert_eq!(int_text(0), "0");
        assert_eq!(int_text(62), "62");
        assert_eq!(int_text(-999), "-999");
        assert_eq!(int_text(i64::MIN), "-9223372036854775808");
    }
}
