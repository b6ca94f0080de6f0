//! [`WallClock`]: the date and time of the monotonic instants a run records.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One instant of the run paired with the wall-clock time it happened at, so that any other
/// [`Instant`] of the run can be dated (log lines carry dates, the harness measures with
/// instants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    instant: Instant,
    time: SystemTime,
}

impl Default for WallClock {
    /// Now.
    fn default() -> Self {
        Self::now()
    }
}

impl WallClock {
    /// Pairs the current instant with the current time.
    pub fn now() -> Self {
        Self {
            instant: Instant::now(),
            time: SystemTime::now(),
        }
    }

    /// The wall-clock time of `instant`.
    pub fn at(&self, instant: Instant) -> SystemTime {
        if instant >= self.instant {
            self.time + instant.duration_since(self.instant)
        } else {
            self.time - self.instant.duration_since(instant)
        }
    }

    /// Milliseconds since the Unix epoch of `instant`, with microseconds.
    pub fn epoch_ms(&self, instant: Instant) -> f64 {
        self.at(instant)
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
            * 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_instants_before_and_after() {
        let clock = WallClock::now();
        let later = clock.instant + Duration::from_millis(1500);
        assert_eq!(
            clock.at(later).duration_since(clock.time).unwrap(),
            Duration::from_millis(1500)
        );
        if let Some(earlier) = clock.instant.checked_sub(Duration::from_millis(20)) {
            assert_eq!(
                clock.time.duration_since(clock.at(earlier)).unwrap(),
                Duration::from_millis(20)
            );
        }
        assert!((clock.epoch_ms(later) - clock.epoch_ms(clock.instant) - 1500.0).abs() < 1e-3);
    }
}
