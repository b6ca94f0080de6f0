//! The wall clock at an invocation's beginning, from the monotonic reading the invocation
//! takes anyway: that reading plus the difference between the two clocks, which is read
//! again at most every [`REREAD_AFTER_NANOS`] and at every start that is not warm.
//!
//! Reading `CLOCK_REALTIME` costs as much as reading the monotonic clock (tens of nanoseconds
//! through the vDSO, a good part of what an invocation adds), and the difference between the
//! two clocks changes only as NTP slews the wall clock (at most 500 ppm through the kernel's
//! frequency adjustment: under 5 µs over that period, below the millisecond of an EMF
//! timestamp and the agreement between X-Ray's hosts) or steps it (seen at the next reread).
//! A restored snapshot or a new process rereads it at once.

use std::sync::atomic::{AtomicU64, Ordering};

use super::clock::wall_epoch_nanos;
use crate::formats::time::MonotonicNanos;

/// How long a difference between the clocks is used before it is read again.
pub(crate) const REREAD_AFTER_NANOS: u64 = 10_000_000;

/// The difference between the clocks as last read, and until when it is used.
pub(crate) struct WallClock {
    /// The wall clock's reading less the monotonic clock's, in wrapping arithmetic.
    offset: AtomicU64,
    /// The monotonic reading from which it is read again (0: read it now).
    reread_at: AtomicU64,
}

/// The process's: both clocks are the process's.
static PROCESS: WallClock = WallClock::new();

/// The wall clock, in nanoseconds since the Unix epoch, at monotonic reading `at` (taken just
/// now); `reread` reads the difference between the clocks again whatever its age.
#[inline]
pub(crate) fn epoch_nanos_at(at: MonotonicNanos, reread: bool) -> u64 {
    PROCESS.epoch_nanos_at(at, reread, wall_epoch_nanos)
}

impl WallClock {
    pub(crate) const fn new() -> Self {
        Self {
            offset: AtomicU64::new(0),
            reread_at: AtomicU64::new(0),
        }
    }

    /// [`epoch_nanos_at`], with `read_wall` reading the wall clock (0: before 1970, never
    /// kept). Threads may reread at once: each keeps a difference read just now, and a pair
    /// of one's offset and another's time is as good as either.
    #[inline]
    pub(crate) fn epoch_nanos_at(
        &self,
        at: MonotonicNanos,
        reread: bool,
        read_wall: impl FnOnce() -> u64,
    ) -> u64 {
        let monotonic = at.nanos();
        if !reread && monotonic < self.reread_at.load(Ordering::Relaxed) {
            return monotonic.wrapping_add(self.offset.load(Ordering::Relaxed));
        }
        self.reread(monotonic, read_wall())
    }

    /// Keeps the difference between `wall` and `monotonic`, read together.
    #[cold]
    fn reread(&self, monotonic: u64, wall: u64) -> u64 {
        if wall == 0 {
            // Before 1970: no difference to keep (the next invocation reads the clock again).
            self.reread_at.store(0, Ordering::Relaxed);
            return 0;
        }
        // The offset before its deadline: a thread that sees the new deadline with the old
        // offset uses one read at most a period ago.
        self.offset
            .store(wall.wrapping_sub(monotonic), Ordering::Relaxed);
        self.reread_at.store(
            monotonic.saturating_add(REREAD_AFTER_NANOS),
            Ordering::Relaxed,
        );
        wall
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// The wall clock of these tests: `wall` at monotonic `at`, counting its reads.
    struct FakeWall {
        reads: Cell<u32>,
    }

    impl FakeWall {
        fn read(&self, wall: u64) -> impl FnOnce() -> u64 + '_ {
            move || {
                self.reads.set(self.reads.get() + 1);
                wall
            }
        }
    }

    const AT: MonotonicNanos = MonotonicNanos::from_nanos(5_000_000_000);
    const WALL: u64 = 1_795_410_771_965_123_456;

    #[test]
    fn the_difference_is_read_once_per_period_and_added_to_the_monotonic_reading() {
        let clock = WallClock::new();
        let wall = FakeWall {
            reads: Cell::new(0),
        };
        assert_eq!(clock.epoch_nanos_at(AT, false, wall.read(WALL)), WALL);
        assert_eq!(
            wall.reads.get(),
            1,
            "the first reading reads the wall clock"
        );
        // Within the period: the monotonic time since, added to the wall reading.
        for later in [1, 1_000, REREAD_AFTER_NANOS - 1] {
            let got = clock.epoch_nanos_at(AT.plus_nanos(later), false, wall.read(0));
            assert_eq!(got, WALL + later);
        }
        assert_eq!(wall.reads.get(), 1, "no reading within the period");
        // At the period's end, read again: a stepped wall clock is taken as it is.
        let stepped = WALL + 3_600_000_000_000;
        let at = AT.plus_nanos(REREAD_AFTER_NANOS);
        assert_eq!(clock.epoch_nanos_at(at, false, wall.read(stepped)), stepped);
        assert_eq!(wall.reads.get(), 2);
        assert_eq!(
            clock.epoch_nanos_at(at.plus_nanos(7), false, wall.read(0)),
            stepped + 7
        );
        assert_eq!(wall.reads.get(), 2);
    }

    #[test]
    fn a_start_that_is_not_warm_reads_the_wall_clock_again() {
        let clock = WallClock::new();
        let wall = FakeWall {
            reads: Cell::new(0),
        };
        clock.epoch_nanos_at(AT, false, wall.read(WALL));
        // A restored snapshot: the monotonic clock barely moved, the wall clock did.
        let restored = WALL + 86_400_000_000_000;
        let at = AT.plus_nanos(10);
        assert_eq!(
            clock.epoch_nanos_at(at, true, wall.read(restored)),
            restored
        );
        assert_eq!(wall.reads.get(), 2);
        assert_eq!(
            clock.epoch_nanos_at(at.plus_nanos(5), false, wall.read(0)),
            restored + 5
        );
    }

    #[test]
    fn a_wall_clock_before_1970_is_never_kept() {
        let clock = WallClock::new();
        let wall = FakeWall {
            reads: Cell::new(0),
        };
        assert_eq!(clock.epoch_nanos_at(AT, false, wall.read(0)), 0);
        assert_eq!(
            clock.epoch_nanos_at(AT.plus_nanos(1), false, wall.read(0)),
            0
        );
        assert_eq!(wall.reads.get(), 2, "read again each time");
        assert_eq!(
            clock.epoch_nanos_at(AT.plus_nanos(2), false, wall.read(WALL)),
            WALL
        );
    }

    #[test]
    fn the_process_clock_agrees_with_the_wall_clock() {
        // Monotonic and wall clocks both move on between the readings: allow for that, and
        // for NTP's slew over one period.
        let before = wall_epoch_nanos();
        let at = epoch_nanos_at(MonotonicNanos::now(), false);
        let after = wall_epoch_nanos();
        let slack = 1_000_000;
        assert!(
            before.saturating_sub(slack) <= at && at <= after + slack,
            "{before} {at} {after}"
        );
        let reread = epoch_nanos_at(MonotonicNanos::now(), true);
        assert!(after <= reread && reread <= wall_epoch_nanos());
    }
}
