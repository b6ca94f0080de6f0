//! What is known about one invocation: how it started and where it stands.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::StartKind;
use super::facts_record::FactsRecord;
use super::outcome::Outcome;
use super::start_tracker::Start;
use crate::formats::time::{Millis, MonotonicNanos};

/// Deadlines before this (2001-09-09) are not epoch milliseconds: `cargo lambda watch`, for
/// one, sends `600000`. Such a deadline is ignored quietly.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_000_000_000_000;

/// `deadline_ms` (epoch milliseconds), unless it is implausible.
fn plausible_deadline(deadline_ms: u64) -> Option<u64> {
    (deadline_ms >= PLAUSIBLE_DEADLINE_MS).then_some(deadline_ms)
}

/// Time from `now` to `deadline`, zero once it has passed.
fn remaining(deadline: SystemTime, now: SystemTime) -> Duration {
    deadline.duration_since(now).unwrap_or(Duration::ZERO)
}

/// How an invocation ended, and when.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ending<'a> {
    pub(crate) outcome: &'a Outcome,
    /// Since it began, in nanoseconds.
    pub(crate) duration_nanos: u64,
    /// When, by the wall clock: nanoseconds since the Unix epoch.
    pub(crate) epoch_nanos: u64,
}

/// Facts about the current invocation, as [`PerfLayer`](crate::PerfLayer) classified it.
///
/// Read them inside a handler with [`InvocationFacts::current`]:
///
/// ```
/// use lambda_perf_core::{InvocationFacts, StartKind};
///
/// async fn handler() {
///     if let Some(facts) = InvocationFacts::current() {
///         if facts.start_kind() == StartKind::Cold {
///             // e.g. skip an optional cache warm-up on the cold path
///         }
///         let _budget = facts.remaining_time();
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct InvocationFacts {
    pub(crate) start: Start,
    pub(crate) request_id: String,
    /// The deadline, in epoch milliseconds, when plausible.
    deadline_ms: Option<u64>,
}

impl InvocationFacts {
    pub(crate) fn new(start: Start, request_id: String, deadline_ms: u64) -> Self {
        Self {
            start,
            request_id,
            deadline_ms: plausible_deadline(deadline_ms),
        }
    }

    /// The facts of another invocation, in place: the request id's memory is reused.
    pub(crate) fn renew(&mut self, start: Start, request_id: &str, deadline_ms: u64) {
        self.start = start;
        self.request_id.clear();
        self.request_id.push_str(request_id);
        self.deadline_ms = plausible_deadline(deadline_ms);
    }

    /// How this invocation started.
    #[must_use]
    pub fn start_kind(&self) -> StartKind {
        self.start.kind
    }

    /// Whether the caller waited for initialization (`cold` or `restart`).
    #[must_use]
    pub fn is_cold_start(&self) -> bool {
        self.start.kind.is_cold_start()
    }

    /// The position of this invocation in the process: 1 for the first.
    #[must_use]
    pub fn index(&self) -> u64 {
        self.start.index
    }

    /// Time since the latest end of an earlier invocation of this process: one invocation at
    /// a time (on demand), how long the environment sat idle; with invocations running at once
    /// (Managed Instances), others may have been running meanwhile. `None` while no
    /// invocation has ended yet (the first one, or invocations overlapping it).
    #[must_use]
    pub fn idle_gap(&self) -> Option<Duration> {
        self.start.idle_gap_nanos.map(Duration::from_nanos)
    }

    /// Age of the execution environment when this invocation began: since the first process
    /// of the environment started, which survives runtime restarts. After a SnapStart restore
    /// it runs from the restore (see
    /// [Init, as Lambda means it](crate#init-as-lambda-means-it)); where the environment
    /// marker cannot be used (a read-only temp dir), from this process's start.
    #[must_use]
    pub fn environment_age(&self) -> Duration {
        Duration::from_nanos(self.start.environment_age_nanos)
    }

    /// Init as Lambda means it, seen from inside the process: from process start to the
    /// runtime's first request for work (after a SnapStart restore, from the restore). The
    /// same on every invocation of the process. See
    /// [Init, as Lambda means it](crate#init-as-lambda-means-it) for how that moment is found.
    #[must_use]
    pub fn init_duration(&self) -> Duration {
        Duration::from_nanos(self.start.init_duration_nanos)
    }

    /// How long the environment waited, after init, for its first request: long in a
    /// pre-warmed environment (provisioned concurrency, Managed Instances), next to nothing
    /// on demand. `None` where lambda-perf did not see the runtime ask for work.
    #[must_use]
    pub fn first_request_wait(&self) -> Option<Duration> {
        self.start
            .first_request_wait_nanos
            .map(Duration::from_nanos)
    }

    /// The Lambda request id.
    #[must_use]
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When Lambda will stop the invocation; `None` if the runtime sent no usable deadline.
    #[must_use]
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline_ms
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
    }

    /// The deadline in nanoseconds since the Unix epoch, if usable.
    pub(crate) fn deadline_epoch_nanos(&self) -> Option<u64> {
        self.deadline_ms.map(|ms| ms.saturating_mul(1_000_000))
    }

    /// When the invocation began by the wall clock, in nanoseconds since the Unix epoch: its
    /// other wall-clock times are this plus a monotonic duration, in integers.
    pub(crate) fn began_epoch_nanos(&self) -> u64 {
        self.start.began_epoch_nanos
    }

    /// Time left before the deadline (zero once passed); `None` without a usable deadline.
    /// Read when the handler returns, this is the deadline headroom lambda-perf reports.
    #[must_use]
    pub fn remaining_time(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| remaining(deadline, SystemTime::now()))
    }

    /// When the invocation began.
    pub(crate) fn began(&self) -> MonotonicNanos {
        self.start.began
    }

    /// Nanoseconds from the invocation's beginning to `at`.
    pub(crate) fn since_began(&self, at: MonotonicNanos) -> u64 {
        at.nanos_since(self.start.began)
    }

    /// The invocation's end `duration_nanos` after it began (or the moment the watchdog found
    /// it still running), with `outcome`: its wall-clock time derived from when it began,
    /// without reading the wall clock again.
    pub(crate) fn ending<'a>(&self, outcome: &'a Outcome, duration_nanos: u64) -> Ending<'a> {
        Ending {
            outcome,
            duration_nanos,
            epoch_nanos: self.start.began_epoch_nanos.saturating_add(duration_nanos),
        }
    }

    /// Time since the invocation began.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.start.began.elapsed()
    }

    /// The `lambda_perf` facts of this invocation, as its records carry them; with how and
    /// when it ended once it has.
    pub(crate) fn record<'a>(&'a self, ended: Option<&Ending<'a>>) -> FactsRecord<'a> {
        let first = self.start.index == 1;
        // The headroom and the deadline check at the end, by the wall clock.
        let deadline =
            ended.and_then(|ended| Some((self.deadline_epoch_nanos()?, ended.epoch_nanos)));
        FactsRecord {
            start_kind: self.start.kind,
            invocation: self.start.index,
            request_id: &self.request_id,
            idle_gap_ms: self.start.idle_gap_nanos.map(Millis::from_nanos),
            environment_age_ms: Millis::from_nanos(self.start.environment_age_nanos),
            init_duration_ms: Some(Millis::from_nanos(self.start.init_duration_nanos)),
            first_request_wait_ms: self
                .start
                .first_request_wait_nanos
                .filter(|_| first)
                .map(Millis::from_nanos),
            duration_ms: ended.map(|ended| Millis::from_nanos(ended.duration_nanos)),
            deadline_headroom_ms: deadline
                .map(|(at, now)| Millis::from_nanos(at.saturating_sub(now))),
            outcome: ended.map(|ended| ended.outcome),
            cpu_time_ms: None,
            peak_rss_mb: None,
            cpu_ratio: None,
            cpu_allotment_used: None,
            past_deadline: deadline.and_then(|(at, now)| (now > at).then_some(true)),
            dropped: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::time::epoch_nanos;
    use crate::invocation::facts_record::tests::written;

    fn start(kind: StartKind, index: u64) -> Start {
        Start {
            kind,
            index,
            idle_gap_nanos: (index > 1).then_some(1_500_000),
            environment_age_nanos: 2_000_000_000,
            init_duration_nanos: 12_345_000,
            first_request_wait_nanos: Some(250_000),
            began: MonotonicNanos::now(),
            began_since_origin_nanos: 0,
            began_epoch_nanos: epoch_nanos(SystemTime::now()),
        }
    }

    #[test]
    fn implausible_deadlines_are_ignored() {
        let facts = InvocationFacts::new(start(StartKind::Cold, 1), "r".into(), 600_000);
        assert_eq!(facts.deadline(), None);
        assert_eq!(facts.remaining_time(), None);
        let soon = crate::formats::time::epoch_millis(SystemTime::now()) + 5_000;
        let facts = InvocationFacts::new(start(StartKind::Cold, 1), "r".into(), soon);
        let left = facts.remaining_time().unwrap();
        assert!(
            left > Duration::from_secs(3) && left <= Duration::from_secs(5),
            "{left:?}"
        );
    }

    #[test]
    fn record_serializes_what_is_known() {
        let facts = InvocationFacts::new(start(StartKind::Cold, 1), "req-1".into(), 0);
        assert_eq!(
            written(&facts.record(None)),
            r#"{"start_kind":"cold","invocation":1,"request_id":"req-1","environment_age_ms":2000.0,"init_duration_ms":12.345,"first_request_wait_ms":0.25}"#
        );
        let warm = InvocationFacts::new(start(StartKind::Warm, 2), "req-2".into(), 0);
        let outcome = Outcome::Error(None);
        let at = warm.start.began.plus_nanos(250_000);
        let ending = warm.ending(&outcome, warm.since_began(at));
        assert_eq!(
            written(&warm.record(Some(&ending))),
            r#"{"start_kind":"warm","invocation":2,"request_id":"req-2","idle_gap_ms":1.5,"environment_age_ms":2000.0,"init_duration_ms":12.345,"duration_ms":0.25,"outcome":"error"}"#
        );
    }
}
