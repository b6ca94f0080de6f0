//! Times as the formats write them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use super::json::{WriteJson, push_millis};

/// Milliseconds since the Unix epoch (0 for a clock set before 1970).
pub(crate) fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// Nanoseconds since the Unix epoch (0 for a clock set before 1970; saturated in 2554): what
/// an invocation's wall-clock times are derived from in integer arithmetic, the same values as
/// `SystemTime` arithmetic gives for clocks between those years.
pub(crate) fn epoch_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, nanos)
}

/// A duration in whole nanoseconds (saturated in 584 years).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A duration in whole microseconds (saturated), in 64-bit arithmetic.
pub(crate) fn micros(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(duration.subsec_micros()))
}

/// A duration as fractional milliseconds with microsecond precision, as EMF and logs show it.
pub(crate) fn millis_f64(duration: Duration) -> f64 {
    micros(duration) as f64 / 1000.0
}

/// A duration as EMF, traces and logs write it: fractional milliseconds with microsecond
/// precision (the number [`millis_f64`] gives), held as whole microseconds so that it is
/// written without the float formatter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Millis {
    micros: u64,
}

impl Millis {
    pub(crate) fn of(duration: Duration) -> Self {
        Self {
            micros: micros(duration),
        }
    }

    /// Nanoseconds, as [`Millis::of`] takes the [`Duration`] of as many.
    pub(crate) const fn from_nanos(nanos: u64) -> Self {
        Self {
            micros: nanos / 1_000,
        }
    }

    #[cfg(test)]
    pub(crate) const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    pub(crate) fn as_f64(self) -> f64 {
        self.micros as f64 / 1000.0
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

impl WriteJson for Millis {
    fn write_json(&self, out: &mut Vec<u8>) {
        push_millis(out, self.micros);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_are_microseconds_saturated() {
        for duration in [
            Duration::ZERO,
            Duration::from_nanos(999),
            Duration::from_micros(12_345),
            Duration::new(18_446_744_073_709, 551_615_999),
            Duration::new(18_446_744_073_709, 551_616_000),
            Duration::MAX,
        ] {
            let expected = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
            assert_eq!(
                Millis::of(duration),
                Millis::from_micros(expected),
                "{duration:?}"
            );
        }
    }

    #[test]
    fn millis_keep_microseconds() {
        assert_eq!(millis_f64(Duration::from_micros(12_345)), 12.345);
        assert_eq!(
            epoch_millis(UNIX_EPOCH + Duration::from_millis(1_700)),
            1_700
        );
    }
}
