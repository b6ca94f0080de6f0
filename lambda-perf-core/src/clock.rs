//! The process clock: when this process started, and conversions to epoch time.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The moment the process started, on both clocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcessStart {
    /// Monotonic start, for durations.
    pub(crate) instant: Instant,
    /// Wall-clock start, for the environment marker and cross-process ages.
    pub(crate) wall: SystemTime,
}

static PROCESS_START: OnceLock<ProcessStart> = OnceLock::new();

/// Runs before `main` (an ELF `.init_array` entry) and records the process start. It only reads
/// two clocks, which is safe before `main`; where constructors are not supported the start falls
/// back to the first use of this crate.
#[ctor::ctor(unsafe)]
fn record_process_start() {
    let _ = PROCESS_START.set(ProcessStart::now());
}

impl ProcessStart {
    fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// When this process started.
pub(crate) fn process_start() -> ProcessStart {
    *PROCESS_START.get_or_init(ProcessStart::now)
}

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
    fn process_start_is_recorded_before_main() {
        let start = process_start();
        assert!(start.instant <= Instant::now());
        assert!(start.wall <= SystemTime::now());
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
