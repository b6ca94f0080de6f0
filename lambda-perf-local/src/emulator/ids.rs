//! Random identifiers: request ids, hex strings and wall-clock helpers.
//!
//! These ids only need to look like the ones Lambda hands out; they are drawn from
//! [`fastrand`], which is not a cryptographic generator.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Returns `len` random lowercase hex digits.
pub(crate) fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let word = fastrand::u64(..);
        for shift in (0..16).rev() {
            if out.len() == len {
                break;
            }
            let nibble = ((word >> (shift * 4)) & 0xf) as u32;
            out.push(char::from_digit(nibble, 16).unwrap_or('0'));
        }
    }
    out
}

/// Returns a fresh request id shaped like a UUID v4 (`8-4-4-4-12` lowercase hex, version
/// nibble `4`, RFC 4122 variant), like the ids Lambda uses.
pub(crate) fn new_request_id() -> String {
    let mut bytes = fastrand::u128(..).to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Time since the Unix epoch, or zero if the clock is set before 1970.
pub(crate) fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Milliseconds since the Unix epoch for `time` (saturating).
pub(crate) fn epoch_millis(time: SystemTime) -> u64 {
    u64::try_from(since_epoch(time).as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch for `after` past `time`, saturating at `u64::MAX` when
/// that is past what `SystemTime` holds (a deadline of `Duration::MAX`: never).
pub(crate) fn epoch_millis_after(time: SystemTime, after: Duration) -> u64 {
    time.checked_add(after).map_or(u64::MAX, epoch_millis)
}

/// `(year, month, day)` of the UTC civil date containing `time`.
pub(crate) fn utc_date(time: SystemTime) -> (i64, u32, u32) {
    let days = i64::try_from(since_epoch(time).as_secs() / 86_400).unwrap_or(0);
    civil_from_days(days)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a proleptic Gregorian date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_looks_like_uuid_v4() {
        let id = new_request_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(!id.chars().any(|c| c.is_ascii_uppercase()));
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn random_hex_has_requested_length() {
        for len in [0, 1, 15, 16, 17, 24, 32] {
            let hex = random_hex(len);
            assert_eq!(hex.len(), len);
            assert!(
                hex.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(
            utc_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            (2000, 2, 29)
        );
    }
}
