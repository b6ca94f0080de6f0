//! The process clock: moments on both clocks, and when this process started.

use std::sync::OnceLock;
use std::time::SystemTime;

#[cfg(unix)]
use crate::formats::time::clock_nanos;
use crate::formats::time::{MonotonicNanos, epoch_nanos};

/// A moment, on both clocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment {
    /// Monotonic, for durations.
    pub(crate) monotonic: MonotonicNanos,
    /// Wall clock, for the environment marker and ages across processes.
    pub(crate) wall: SystemTime,
}

impl Moment {
    pub(crate) fn now() -> Self {
        Self {
            monotonic: MonotonicNanos::now(),
            wall: SystemTime::now(),
        }
    }
}

/// The wall clock now, in nanoseconds since the Unix epoch: what
/// [`epoch_nanos`]`(SystemTime::now())` gives (the same clock, `CLOCK_REALTIME`), read without
/// the arithmetic of a `SystemTime` — an invocation reads it as it begins.
#[cfg(unix)]
pub(crate) fn wall_epoch_nanos() -> u64 {
    // Before 1970 (or were the clock unreadable, which it is not), std's reading of the same
    // clock: 0 before 1970, as `epoch_nanos` has it.
    clock_nanos(libc::CLOCK_REALTIME).unwrap_or_else(|| epoch_nanos(SystemTime::now()))
}

/// The wall clock now, in nanoseconds since the Unix epoch, where there is no
/// `clock_gettime` (a developer's Windows machine: Lambda runs Linux).
#[cfg(not(unix))]
pub(crate) fn wall_epoch_nanos() -> u64 {
    epoch_nanos(SystemTime::now())
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
        assert!(start.monotonic <= MonotonicNanos::now());
        assert!(start.wall <= SystemTime::now());
    }

    #[test]
    fn the_wall_clock_reads_as_epoch_nanos_of_system_time() {
        let before = epoch_nanos(SystemTime::now());
        let now = wall_epoch_nanos();
        let after = epoch_nanos(SystemTime::now());
        assert!(before <= now && now <= after, "{before} {now} {after}");
    }
}
