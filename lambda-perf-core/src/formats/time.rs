//! Times as the formats write them.

#[cfg(not(unix))]
use std::sync::OnceLock;
#[cfg(not(unix))]
use std::time::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use super::json::{MemberKey, WriteJson, push_millis_member};

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

/// A reading of the monotonic clock, in nanoseconds from an unspecified origin: the time
/// between two readings is an integer subtraction, without the arithmetic of an `Instant`.
/// On Unix it is the clock `Instant` reads: `CLOCK_MONOTONIC` (Linux), `CLOCK_UPTIME_RAW`
/// (Apple's systems).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MonotonicNanos(u64);

/// The clock `Instant` reads, for [`MonotonicNanos`].
#[cfg(all(unix, not(target_vendor = "apple")))]
const MONOTONIC_CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
#[cfg(target_vendor = "apple")]
const MONOTONIC_CLOCK: libc::clockid_t = libc::CLOCK_UPTIME_RAW;

impl MonotonicNanos {
    /// The monotonic clock now.
    #[cfg(unix)]
    pub(crate) fn now() -> Self {
        // It does not fail with this clock; were it to, as `Instant::now` does, it panics.
        let nanos = clock_nanos(MONOTONIC_CLOCK).expect("the monotonic clock cannot be read");
        Self(nanos)
    }

    /// The monotonic clock now, where there is no `clock_gettime`: nanoseconds since the
    /// anchor's `Instant`.
    #[cfg(not(unix))]
    pub(crate) fn now() -> Self {
        let (origin, at_origin) = anchor();
        Self(at_origin.0.saturating_add(nanos(origin.elapsed())))
    }

    /// The reading: nanoseconds from the clock's origin.
    pub(crate) const fn nanos(self) -> u64 {
        self.0
    }

    /// The reading `nanos` nanoseconds from the clock's origin.
    #[cfg(test)]
    pub(crate) const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds from `earlier` to this reading; 0 if `earlier` is not earlier.
    pub(crate) const fn nanos_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The time since this reading (zero if it is not in the past), as `Instant::elapsed`.
    pub(crate) fn elapsed(self) -> Duration {
        Duration::from_nanos(Self::now().nanos_since(self))
    }

    /// The reading `nanos` nanoseconds later (saturated).
    pub(crate) const fn plus_nanos(self, nanos: u64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// The reading `nanos` nanoseconds earlier (saturated at the clock's origin).
    #[cfg(test)]
    pub(crate) const fn minus_nanos(self, nanos: u64) -> Self {
        Self(self.0.saturating_sub(nanos))
    }
}

/// An `Instant` and the reading it stands for: where, without `clock_gettime`,
/// [`MonotonicNanos::now`] counts from. Far from 0, so that readings before it (the process
/// start, recorded first, less a margin in tests) are not saturated.
#[cfg(not(unix))]
fn anchor() -> (Instant, MonotonicNanos) {
    static ANCHOR: OnceLock<(Instant, MonotonicNanos)> = OnceLock::new();
    *ANCHOR.get_or_init(|| (Instant::now(), MonotonicNanos(1 << 62)))
}

/// Clock `clock` (a `clock_gettime` clock id) now, in nanoseconds from its origin; `None` if
/// it cannot be read, or reads before its origin.
#[cfg(unix)]
pub(crate) fn clock_nanos(clock: libc::clockid_t) -> Option<u64> {
    let mut now = std::mem::MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: clock_gettime writes a whole `timespec` through the pointer on success, and the
    // value is read only then.
    #[allow(unsafe_code)]
    let now = unsafe {
        if libc::clock_gettime(clock, now.as_mut_ptr()) != 0 {
            return None;
        }
        now.assume_init()
    };
    let seconds = u64::try_from(now.tv_sec).ok()?;
    // `tv_nsec` is below a second.
    let nanoseconds = u64::try_from(now.tv_nsec).unwrap_or(0);
    Some(
        seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(nanoseconds),
    )
}

/// A duration as EMF, traces and logs write it: fractional milliseconds with microsecond
/// precision (the number [`millis_f64`] gives), held as whole microseconds so that it is
/// written without the float formatter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Millis {
    micros: u64,
}

impl Millis {
    /// A duration of `nanos` nanoseconds (the monotonic clock's readings subtract to them):
    /// its whole microseconds, as [`micros`] takes them of the [`Duration`] of as many.
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

impl Millis {
    /// Appends `key` and the duration, as [`WriteJson`] writes it. Inlined: for the members
    /// every facts record writes (four of them), where a call cost a fifth of the member.
    #[inline(always)]
    pub(crate) fn write_member(self, out: &mut Vec<u8>, key: &MemberKey) {
        push_millis_member(out, key, self.micros);
    }

    /// [`Millis::write_member`] out of line: for what is written rarely (init's duration,
    /// kept written; the first request's wait).
    #[inline(never)]
    pub(crate) fn write_rare_member(self, out: &mut Vec<u8>, key: &MemberKey) {
        self.write_member(out, key);
    }
}

impl WriteJson for Millis {
    fn write_json(&self, out: &mut Vec<u8>) {
        self.write_rare_member(out, &MemberKey::NONE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn micros_are_saturated() {
        for duration in [
            Duration::ZERO,
            Duration::from_nanos(999),
            Duration::from_micros(12_345),
            Duration::new(18_446_744_073_709, 551_615_999),
            Duration::new(18_446_744_073_709, 551_616_000),
            Duration::MAX,
        ] {
            let expected = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
            assert_eq!(micros(duration), expected, "{duration:?}");
        }
    }

    #[test]
    fn millis_are_whole_microseconds_of_the_nanoseconds() {
        for nanos in [0, 999, 1_000, 12_345_678, 1_000_000_999, u64::MAX] {
            let duration = Duration::from_nanos(nanos);
            let expected = u64::try_from(duration.as_micros()).unwrap();
            assert_eq!(Millis::from_nanos(nanos), Millis::from_micros(expected));
            assert_eq!(micros(duration), expected, "{duration:?}");
        }
    }

    #[test]
    fn the_monotonic_clock_measures_what_instant_measures() {
        let (outer, began) = (Instant::now(), MonotonicNanos::now());
        std::thread::sleep(Duration::from_millis(2));
        let ended = MonotonicNanos::now();
        let elapsed = outer.elapsed();
        let measured = Duration::from_nanos(ended.nanos_since(began));
        assert!(measured >= Duration::from_millis(2), "{measured:?}");
        assert!(measured <= elapsed, "{measured:?} {elapsed:?}");
        assert_eq!(began.nanos_since(ended), 0);
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
