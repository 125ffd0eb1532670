//! Time, as the runtime reads and writes it: Unix seconds from the system
//! clock, and RFC 3339 text. At the bottom of the module graph: it imports
//! nothing of the crate.
//!
//! Hand-rolled: these are the one date format we read and write, not worth a
//! date crate's size in every function.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds; 0 for a clock before 1970.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// `2026-11-30T02:08:25Z` from Unix seconds (UTC, proleptic Gregorian).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// RFC 3339 (`2026-12-07T04:40:00.000Z`, `...+02:00`) to unix seconds,
/// fractional seconds truncated. Hand-rolled: it is the one date format we
/// read, not worth a date crate.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let year = number(bytes.get(0..4)?)?;
    let month = number(bytes.get(5..7)?)?;
    let day = number(bytes.get(8..10)?)?;
    let hour = number(bytes.get(11..13)?)?;
    let minute = number(bytes.get(14..16)?)?;
    let second = number(bytes.get(17..19)?)?;
    // `YYYY-MM-DD`, then `T` (or `t`, or a space, as Postgres writes it),
    // then `hh:mm:ss`.
    let separators = (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16]);
    if !matches!(separators, (b'-', b'-', b'T' | b't' | b' ', b':', b':')) {
        return None;
    }
    let mut rest = bytes.get(19..)?;
    if let Some((b'.', fraction)) = rest.split_first() {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = fraction.get(digits..)?;
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), offset @ ..] => {
            let (hours, minutes) = match offset {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (number(&[*h1, *h2])?, number(&[*m1, *m2])?)
                }
                [h1, h2] => (number(&[*h1, *h2])?, 0),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    // A leap second (60) is accepted and lands on the next second.
    if day < 1 || day > month_days || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of the one in `jwt::rfc3339`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A run of ASCII digits as a number; `None` for anything else.
fn number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0, |acc, digit| acc * 10 + i64::from(digit - b'0')),
    )
}

/// The last second of year 9999 (`9999-12-31T23:59:59Z`).
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Seconds since 1970 of a NumericDate in 1970..=9999 (fractions dropped),
/// or `None` outside it. Every date read from a credential goes through it.
pub fn numeric_date_secs(value: f64) -> Option<i64> {
    // `MAX_NUMERIC_DATE` is exact as an f64 (below 2^53).
    (value.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&value))
        .then(|| value.floor() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_005_394;

    fn iso_ms(secs: i64) -> String {
        rfc3339(secs).replace('Z', ".000Z")
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_005_394), "2026-11-30T02:23:14Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn rfc3339_parses_what_better_auth_sends() {
        for secs in [0, 951_782_400, 1_796_005_394, NOW, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs), "{secs}");
            assert_eq!(parse_rfc3339(&iso_ms(secs)), Some(secs), "{secs}");
        }
        assert_eq!(
            parse_rfc3339("2026-12-07T04:40:00.000Z"),
            Some(1_796_618_400)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07T06:40:00.999999+02:00"),
            Some(1_796_618_400)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07T00:10:00-04:30"),
            Some(1_796_618_400)
        );
        assert_eq!(parse_rfc3339("2026-12-07 04:40:00+00"), Some(1_796_618_400));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
        for bad in [
            "",
            "2026-12-07",
            "2026-12-07T04:40:00",
            "2026-12-07T04:40:00.Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-07T24:00:00Z",
            "2026-12-07T04:40:00+24:00",
            "2026/12/07T04:40:00Z",
            "2026-12-07T04:40:00Zjunk",
            "+026-12-07T04:40:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }
}
