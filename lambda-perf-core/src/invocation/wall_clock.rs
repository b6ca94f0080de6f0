//! The wall clock at an invocation's beginning, from the monotonic reading the invocation
//! takes anyway: that reading plus the difference between the two clocks, which is read
//! again at most every [`REREAD_AFTER_NANOS`] and at every start that is not warm.
//!
//! Reading `CLOCK_REALTIME` costs as much as reading the monotonic clock (tens of nanoseconds
//! through the vDSO, a good part of what an invocation adds). On Linux the difference between
//! the two clocks does not change as NTP slews the wall clock (`CLOCK_MONOTONIC` is slewed
//! alike); it changes when the wall clock is stepped (`clock_settime`, chrony's `makestep`, a
//! leap second that is not smeared) or the machine resumes from a suspend, and such a change
//! is seen at the next reread, at most [`REREAD_AFTER_NANOS`] of the monotonic clock later.
//! (On Apple's systems the monotonic clock is not slewed: the difference drifts by at most
//! 500 ppm, under 5 µs over that period.) A new process, or a restored snapshot, rereads at
//! once.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::formats::time::MonotonicNanos;

/// How long a difference between the clocks is used before it is read again.
const REREAD_AFTER_NANOS: u64 = 10_000_000;

/// The difference between the clocks as last read, and until when it is used.
#[derive(Debug)]
pub(crate) struct WallClock {
    /// The wall clock's reading less the monotonic clock's, in wrapping arithmetic.
    offset: AtomicU64,
    /// The monotonic reading from which it is read again (0: read it now). Stored after the
    /// offset it goes with (release) and loaded before it (acquire): a thread that sees a
    /// deadline sees its offset, or a later one.
    reread_at: AtomicU64,
}

/// The process's: both clocks are the process's.
pub(crate) fn process() -> &'static WallClock {
    static PROCESS: WallClock = WallClock::new();
    &PROCESS
}

impl WallClock {
    pub(crate) const fn new() -> Self {
        Self {
            offset: AtomicU64::new(0),
            reread_at: AtomicU64::new(0),
        }
    }

    /// The wall clock, in nanoseconds since the Unix epoch, at monotonic reading `at` (taken
    /// just now); `reread` reads the difference between the clocks again whatever its age,
    /// with `read_wall` ([`wall_epoch_nanos`](super::clock::wall_epoch_nanos); 0: before
    /// 1970, never kept). Threads may reread at once: each keeps a difference read just now,
    /// and one's offset with another's deadline is as good as either.
    #[inline]
    pub(crate) fn epoch_nanos_at(
        &self,
        at: MonotonicNanos,
        reread: bool,
        read_wall: impl FnOnce() -> u64,
    ) -> u64 {
        let monotonic = at.nanos();
        if !reread && monotonic < self.reread_at.load(Ordering::Acquire) {
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
        // The offset before its deadline, which publishes it (see `reread_at`).
        self.offset
            .store(wall.wrapping_sub(monotonic), Ordering::Relaxed);
        self.reread_at.store(
            monotonic.saturating_add(REREAD_AFTER_NANOS),
            Ordering::Release,
        );
        wall
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::invocation::clock::wall_epoch_nanos;

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
        // A kept difference, then a clock set before 1970: that difference is dropped too.
        assert_eq!(
            clock.epoch_nanos_at(AT.plus_nanos(3), true, wall.read(0)),
            0
        );
        assert_eq!(
            clock.epoch_nanos_at(AT.plus_nanos(4), false, wall.read(WALL + 4)),
            WALL + 4
        );
        assert_eq!(
            wall.reads.get(),
            5,
            "read again after the clock read before 1970"
        );
    }

    #[test]
    fn a_thread_that_sees_a_deadline_sees_its_offset() {
        // Another thread rereads while this one reads: whatever this one finds is a reading
        // of the wall clock, never the offset's initial 0 added to a monotonic reading.
        let clock = WallClock::new();
        std::thread::scope(|scope| {
            scope.spawn(|| clock.epoch_nanos_at(AT, true, || WALL));
            for later in 0..10_000 {
                let got = clock.epoch_nanos_at(AT.plus_nanos(later), false, || WALL + later);
                assert!(got >= WALL, "{got}");
            }
        });
    }

    #[test]
    fn the_process_clock_agrees_with_the_wall_clock() {
        // The clocks move on between the readings, and another test of the process (under
        // `cargo test`) may have read the difference a period ago: a millisecond allows for
        // both.
        let clock = process();
        let before = wall_epoch_nanos();
        let at = clock.epoch_nanos_at(MonotonicNanos::now(), false, wall_epoch_nanos);
        let after = wall_epoch_nanos();
        let slack = 1_000_000;
        assert!(
            before.saturating_sub(slack) <= at && at <= after + slack,
            "{before} {at} {after}"
        );
        let reread = clock.epoch_nanos_at(MonotonicNanos::now(), true, wall_epoch_nanos);
        assert!(after <= reread && reread <= wall_epoch_nanos());
    }
}
