//! ISO 8601 timestamps as CloudWatch tools print them: `2025-01-02T03:04:05.678000+00:00`
//! (`aws logs tail`), `2025-01-02T03:04:05` (its short format), `2025-01-02T03:04:05.678Z`
//! (Lambda's JSON log records). Read into and written from milliseconds since the epoch.

/// Days from 1970-01-01 to `year-month-day` (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `(year, month, day)` of a day count from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    part.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| part.parse().ok())?
}

/// Milliseconds since the epoch of an ISO 8601 date and time (`T` or a space between them,
/// optional fraction, `Z`, `±HH:MM` or no offset for UTC); `None` when `text` is not one.
///
/// ```
/// use lambda_perf_local::logs::parse_timestamp;
/// assert_eq!(parse_timestamp("1970-01-01T00:00:01.5Z"), Some(1500.0));
/// assert_eq!(parse_timestamp("2025-01-02T03:04:05.678000+00:00"), Some(1_735_787_045_678.0));
/// assert_eq!(parse_timestamp("2025-01-02T04:04:05.678+01:00"), Some(1_735_787_045_678.0));
/// assert_eq!(parse_timestamp("START"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let year = digits(text, 0..4)?;
    let month = digits(text, 5..7)?;
    let day = digits(text, 8..10)?;
    let hour = digits(text, 11..13)?;
    let minute = digits(text, 14..16)?;
    let second = digits(text, 17..19)?;
    let bytes = text.as_bytes();
    if bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction_ms = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let fraction: f64 = format!("0.{}", &after_dot[..len]).parse().ok()?;
        fraction_ms = fraction * 1000.0;
        rest = &after_dot[len..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let offset = rest[1..].replace(':', "");
            if offset.len() != 4 {
                return None;
            }
            let hours = digits(&offset, 0..2)?;
            let minutes = digits(&offset, 2..4)?;
            sign * (hours * 60 + minutes)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds as f64 * 1000.0 + fraction_ms)
}

/// `aws logs tail`'s timestamp of `epoch_ms`: `2025-01-02T03:04:05.678000+00:00`
/// (microseconds, UTC).
///
/// ```
/// use lambda_perf_local::logs::format_timestamp;
/// assert_eq!(format_timestamp(1_735_787_045_678.25), "2025-01-02T03:04:05.678250+00:00");
/// ```
pub fn format_timestamp(epoch_ms: f64) -> String {
    let micros = (epoch_ms * 1000.0).round() as i64;
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}+00:00",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_edges() {
        for ms in [
            0.0,
            951_782_400_000.0,
            1_735_787_045_678.0,
            4_102_444_800_123.0,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms), "{ms}");
        }
        // 2000-02-29 (a leap day) and a short-format timestamp.
        assert_eq!(
            parse_timestamp("2000-02-29 00:00:00"),
            Some(951_782_400_000.0)
        );
        assert_eq!(
            parse_timestamp("2025-01-02T03:04:05"),
            Some(1_735_787_045_000.0)
        );
        assert_eq!(
            parse_timestamp("2025-01-01T22:04:05.5-05:00"),
            Some(1_735_787_045_500.0)
        );
        for bad in [
            "",
            "2025-13-02T03:04:05Z",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05+1",
            "2025/01/02/[$LATEST]abc",
            "2025-01-02T03:04:05 trailing",
            "２０２５-01-02T03:04:05Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
