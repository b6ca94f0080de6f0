//! The process clock: moments on both clocks, and when this process started.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

/// A moment, on both clocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment {
    /// Monotonic, for durations.
    pub(crate) instant: Instant,
    /// Wall clock, for the environment marker and ages across processes.
    pub(crate) wall: SystemTime,
}

impl Moment {
    pub(crate) fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

static PROCESS_START: OnceLock<Moment> = OnceLock::new();

/// Runs before `main` (an ELF `.init_array` entry) and records the process start. It only reads
/// two clocks, which is safe before `main`; where constructors are not supported the start falls
/// back to the first use of this crate.
#[ctor::ctor(unsafe)]
fn record_process_start() {
    let _ = PROCESS_START.set(Moment::now());
}

/// When this process started.
pub(crate) fn process_start() -> Moment {
    *PROCESS_START.get_or_init(Moment::now)
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
}
