//! The process clock: moments on both clocks, and when this process started.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use crate::formats::time::epoch_nanos;

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

/// The wall clock now, in nanoseconds since the Unix epoch: what
/// [`epoch_nanos`]`(SystemTime::now())` gives (the same clock, `CLOCK_REALTIME`), read without
/// the arithmetic of a `SystemTime` — an invocation reads it as it begins.
#[cfg(unix)]
pub(crate) fn wall_epoch_nanos() -> u64 {
    let mut now = std::mem::MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: clock_gettime writes a whole `timespec` through the pointer on success, and the
    // value is read only then.
    #[allow(unsafe_code)]
    let now = unsafe {
        // It does not fail with a valid pointer and this clock; were it to, this is std's
        // reading of the same clock (which panics then, as anything that reads the time would).
        if libc::clock_gettime(libc::CLOCK_REALTIME, now.as_mut_ptr()) != 0 {
            return epoch_nanos(SystemTime::now());
        }
        now.assume_init()
    };
    // Before 1970: 0, as `epoch_nanos` has it (`tv_nsec` is below a second).
    let Ok(seconds) = u64::try_from(now.tv_sec) else {
        return 0;
    };
    let nanoseconds = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(nanoseconds)
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
        assert!(start.instant <= Instant::now());
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
