//! Times as the formats write them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 for a clock set before 1970).
pub(crate) fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// A duration as fractional milliseconds with microsecond precision, as EMF and logs show it.
pub(crate) fn millis_f64(duration: Duration) -> f64 {
    let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    micros as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_keep_microseconds() {
        assert_eq!(millis_f64(Duration::from_micros(12_345)), 12.345);
        assert_eq!(
            epoch_millis(UNIX_EPOCH + Duration::from_millis(1_700)),
            1_700
        );
    }
}
