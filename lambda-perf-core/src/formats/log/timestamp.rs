//! `timestamp`: RFC 3339 in UTC with milliseconds (`2026-11-23T05:16:18.886Z`), as Lambda's
//! own JSON log lines write it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (a clock before 1970 reads as the epoch).
pub(super) fn push_rfc3339_millis(out: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let of_day = seconds % 86_400;
    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, month, 2);
    out.push(b'-');
    push_digits(out, day, 2);
    out.push(b'T');
    push_digits(out, of_day / 3600, 2);
    out.push(b':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(b':');
    push_digits(out, of_day % 60, 2);
    out.push(b'.');
    push_digits(out, u64::from(since.subsec_millis()), 3);
    out.push(b'Z');
}

/// `value` in exactly `width` decimal digits (the lowest ones).
fn push_digits(out: &mut Vec<u8>, value: u64, width: u32) {
    for position in (0..width).rev() {
        let digit = value / 10u64.pow(position) % 10;
        out.push(b'0' + u8::try_from(digit).unwrap_or(0));
    }
}

/// Year, month and day of a day count since 1970-01-01 (the proleptic Gregorian calendar,
/// after Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn formatted(epoch_ms: u64) -> String {
        let mut out = Vec::new();
        push_rfc3339_millis(&mut out, UNIX_EPOCH + Duration::from_millis(epoch_ms));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(formatted(0), "1970-01-01T00:00:00.000Z");
        // Powertools' example line: 2026-11-23 05:16:18,886+0000.
        assert_eq!(formatted(1_795_410_978_886), "2026-11-23T05:16:18.886Z");
        assert_eq!(formatted(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(formatted(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(formatted(4_102_444_800_001), "2100-01-01T00:00:00.001Z");
    }

    #[test]
    fn every_day_for_four_centuries_follows_the_previous_one() {
        let mut previous = civil_from_days(0);
        for days in 1..146_097 {
            let (year, month, day) = civil_from_days(days);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(
                [next_day, next_month, next_year].contains(&(year, month, day)),
                "{previous:?} then {:?}",
                (year, month, day)
            );
            assert!((1..=12).contains(&month) && (1..=31).contains(&day));
            previous = (year, month, day);
        }
        assert_eq!(previous, (2369, 12, 31));
    }
}
