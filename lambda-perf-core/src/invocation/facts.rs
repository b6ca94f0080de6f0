//! What is known about one invocation: how it started and where it stands.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::StartKind;
use super::outcome::Outcome;
use super::resources::ResourceUse;
use super::start_tracker::Start;
use crate::drops::Dropped;
use crate::formats::json::{
    Float, WriteJson, push_bool, push_key, push_plain_str, push_str, push_u64,
};
use crate::formats::time::Millis;

/// Deadlines before this (2001-09-09) are not epoch milliseconds: `cargo lambda watch`, for
/// one, sends `600000`. Such a deadline is ignored quietly.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_000_000_000_000;

/// The deadline of `deadline_ms` (epoch milliseconds), unless it is implausible.
fn plausible_deadline(deadline_ms: u64) -> Option<SystemTime> {
    (deadline_ms >= PLAUSIBLE_DEADLINE_MS).then(|| UNIX_EPOCH + Duration::from_millis(deadline_ms))
}

/// Time from `now` to `deadline`, zero once it has passed.
fn remaining(deadline: SystemTime, now: SystemTime) -> Duration {
    deadline.duration_since(now).unwrap_or(Duration::ZERO)
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
    pub(crate) deadline: Option<SystemTime>,
}

impl InvocationFacts {
    pub(crate) fn new(start: Start, request_id: String, deadline_ms: u64) -> Self {
        Self {
            start,
            request_id,
            deadline: plausible_deadline(deadline_ms),
        }
    }

    /// The facts of another invocation, in place: the request id's memory is reused.
    pub(crate) fn renew(&mut self, start: Start, request_id: &str, deadline_ms: u64) {
        self.start = start;
        self.request_id.clear();
        self.request_id.push_str(request_id);
        self.deadline = plausible_deadline(deadline_ms);
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

    /// Time since the latest end of an earlier invocation of this process (how long the
    /// environment sat idle); `None` while no invocation has ended yet (the first one, or
    /// invocations overlapping it under managed concurrency).
    #[must_use]
    pub fn idle_gap(&self) -> Option<Duration> {
        self.start.idle_gap
    }

    /// Age of the execution environment when this invocation began: since the first process
    /// of the environment started, which survives runtime restarts.
    #[must_use]
    pub fn environment_age(&self) -> Duration {
        self.start.environment_age
    }

    /// Init as Lambda means it, seen from inside the process: from process start to the
    /// runtime's first request for work (after a SnapStart restore, from the restore). The
    /// same on every invocation of the process. See
    /// [Init, as Lambda means it](crate#init-as-lambda-means-it) for how that moment is found.
    #[must_use]
    pub fn init_duration(&self) -> Duration {
        self.start.init_duration
    }

    /// How long the environment waited, after init, for its first request: long in a
    /// pre-warmed environment (provisioned concurrency, Managed Instances), next to nothing
    /// on demand. `None` where lambda-perf did not see the runtime ask for work.
    #[must_use]
    pub fn first_request_wait(&self) -> Option<Duration> {
        self.start.first_request_wait
    }

    /// The Lambda request id.
    #[must_use]
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When Lambda will stop the invocation; `None` if the runtime sent no usable deadline.
    #[must_use]
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// Time left before the deadline (zero once passed); `None` without a usable deadline.
    /// Read when the handler returns, this is the deadline headroom lambda-perf reports.
    #[must_use]
    pub fn remaining_time(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| remaining(deadline, SystemTime::now()))
    }

    /// When the invocation began.
    pub(crate) fn began(&self) -> Instant {
        self.start.began
    }

    /// Time since the invocation began.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.start.began.elapsed()
    }

    /// The `lambda_perf` facts of this invocation, as its records carry them; with how and
    /// when it ended once it has.
    pub(crate) fn record(&self, ended: Option<(&Outcome, Instant)>) -> FactsRecord<'_> {
        let first = self.start.index == 1;
        // One clock read for the headroom and the deadline check, only with a deadline.
        let deadline = ended.and(self.deadline).map(|at| (at, SystemTime::now()));
        FactsRecord {
            start_kind: self.start.kind.as_str(),
            invocation: self.start.index,
            request_id: &self.request_id,
            idle_gap_ms: self.start.idle_gap.map(Millis::of),
            environment_age_ms: Millis::of(self.start.environment_age),
            init_duration_ms: Some(Millis::of(self.start.init_duration)),
            first_request_wait_ms: self
                .start
                .first_request_wait
                .filter(|_| first)
                .map(Millis::of),
            duration_ms: ended
                .map(|(_, at)| Millis::of(at.saturating_duration_since(self.start.began))),
            deadline_headroom_ms: deadline.map(|(at, now)| Millis::of(remaining(at, now))),
            outcome: ended.map(|(outcome, _)| outcome.as_str()),
            cpu_time_ms: None,
            peak_rss_mb: None,
            cpu_ratio: None,
            cpu_allotment_used: None,
            past_deadline: deadline.and_then(|(at, now)| (now > at).then_some(true)),
            dropped: None,
        }
    }
}

/// The `lambda_perf` member of an EMF line. Durations are milliseconds with microsecond
/// precision.
#[derive(Debug, Serialize)]
pub(crate) struct FactsRecord<'a> {
    start_kind: &'static str,
    invocation: u64,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_gap_ms: Option<Millis>,
    environment_age_ms: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_duration_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_request_wait_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline_headroom_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    /// CPU time the process used during the invocation, in ms (when measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_time_ms: Option<f64>,
    /// The process's peak resident memory, in MB (when measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    peak_rss_mb: Option<f64>,
    /// CPU time over duration (when measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_ratio: Option<f64>,
    /// `cpu_ratio` over the vCPUs the memory size allots (when measured and the size is
    /// known): near 1, CPU-bound; near 0, waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_allotment_used: Option<f64>,
    /// Set when the invocation ended after its deadline (Lambda Managed Instances do not
    /// stop an invocation at its deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    past_deadline: Option<bool>,
    /// What lambda-perf dropped or trimmed since the previous record of this kind, per cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    dropped: Option<Dropped>,
}

/// The same JSON as the derived `Serialize`, written by hand: every invocation writes it.
impl WriteJson for FactsRecord<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        /// `,"key":value`, with `member` the literal `,"key":`.
        fn member(out: &mut Vec<u8>, member: &[u8], value: Option<impl WriteJson>) {
            if let Some(value) = value {
                out.extend_from_slice(member);
                value.write_json(out);
            }
        }
        out.extend_from_slice(b"{\"start_kind\":");
        push_plain_str(out, self.start_kind);
        out.extend_from_slice(b",\"invocation\":");
        push_u64(out, self.invocation);
        out.extend_from_slice(b",\"request_id\":");
        push_str(out, self.request_id);
        member(out, b",\"idle_gap_ms\":", self.idle_gap_ms);
        member(
            out,
            b",\"environment_age_ms\":",
            Some(self.environment_age_ms),
        );
        member(out, b",\"init_duration_ms\":", self.init_duration_ms);
        member(
            out,
            b",\"first_request_wait_ms\":",
            self.first_request_wait_ms,
        );
        member(out, b",\"duration_ms\":", self.duration_ms);
        member(
            out,
            b",\"deadline_headroom_ms\":",
            self.deadline_headroom_ms,
        );
        if let Some(outcome) = self.outcome {
            out.extend_from_slice(b",\"outcome\":");
            push_plain_str(out, outcome);
        }
        member(out, b",\"cpu_time_ms\":", self.cpu_time_ms.map(Float));
        member(out, b",\"peak_rss_mb\":", self.peak_rss_mb.map(Float));
        member(out, b",\"cpu_ratio\":", self.cpu_ratio.map(Float));
        member(
            out,
            b",\"cpu_allotment_used\":",
            self.cpu_allotment_used.map(Float),
        );
        if let Some(past) = self.past_deadline {
            out.extend_from_slice(b",\"past_deadline\":");
            push_bool(out, past);
        }
        if let Some(Dropped(counts)) = &self.dropped {
            out.extend_from_slice(b",\"dropped\":{");
            for (index, (cause, count)) in counts.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_key(out, cause);
                push_u64(out, *count);
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
}

impl FactsRecord<'_> {
    /// The facts, with what the process used during the invocation.
    pub(crate) fn with_resources(mut self, resources: Option<ResourceUse>) -> Self {
        if let Some(resources) = resources {
            self.cpu_time_ms = Some(resources.cpu_time_ms);
            self.peak_rss_mb = Some(resources.peak_rss_mb);
            self.cpu_ratio = Some(resources.cpu_ratio);
            self.cpu_allotment_used = resources.cpu_allotment_used;
        }
        self
    }

    /// The facts without init's duration (which a record repeats only on the first
    /// invocation).
    pub(crate) fn without_init_duration(mut self) -> Self {
        self.init_duration_ms = None;
        self
    }

    /// The facts, with the drops since the previous record of this kind.
    pub(crate) fn with_dropped(mut self, dropped: Option<Dropped>) -> Self {
        self.dropped = dropped;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(record: &FactsRecord<'_>) -> String {
        let mut out = Vec::new();
        record.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn any_millis() -> impl Strategy<Value = Option<Millis>> {
        prop_oneof![
            Just(None),
            (0u64..10_000_000_000).prop_map(|micros| Some(Millis::from_micros(micros))),
            any::<u64>().prop_map(|micros| Some(Millis::from_micros(micros))),
        ]
    }

    fn any_float() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            Just(None),
            (0u64..10_000_000).prop_map(|n| Some(n as f64 / 7.0)),
            any::<f64>().prop_map(Some)
        ]
    }

    prop_compose! {
        fn any_record()(
            request_id in any::<String>(),
            invocation in any::<u64>(),
            idle_gap_ms in any_millis(),
            environment_age_micros in any::<u64>(),
            init_duration_ms in any_millis(),
            first_request_wait_ms in any_millis(),
            duration_ms in any_millis(),
            deadline_headroom_ms in any_millis(),
            ended in any::<bool>(),
            resources in (any_float(), any_float(), any_float(), any_float()),
            past_deadline in proptest::option::of(any::<bool>()),
            dropped in proptest::option::of(proptest::collection::vec(
                (prop_oneof![Just("emf.a"), Just("xray.\"quoted\"")], any::<u64>()), 0..3)),
        ) -> (String, FactsRecord<'static>) {
            let record = FactsRecord {
                start_kind: "warm",
                invocation,
                request_id: "",
                idle_gap_ms,
                environment_age_ms: Millis::from_micros(environment_age_micros),
                init_duration_ms,
                first_request_wait_ms,
                duration_ms,
                deadline_headroom_ms,
                outcome: ended.then_some("success"),
                cpu_time_ms: resources.0,
                peak_rss_mb: resources.1,
                cpu_ratio: resources.2,
                cpu_allotment_used: resources.3,
                past_deadline,
                dropped: dropped.map(Dropped),
            };
            (request_id, record)
        }
    }

    proptest! {
        #[test]
        fn written_by_hand_as_serde_writes_it((request_id, record) in any_record()) {
            let record = FactsRecord { request_id: &request_id, ..record };
            prop_assert_eq!(written(&record), serde_json::to_string(&record).unwrap());
        }
    }

    fn start(kind: StartKind, index: u64) -> Start {
        Start {
            kind,
            index,
            idle_gap: (index > 1).then(|| Duration::from_micros(1_500)),
            environment_age: Duration::from_millis(2_000),
            init_duration: Duration::from_micros(12_345),
            first_request_wait: Some(Duration::from_micros(250)),
            began: Instant::now(),
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
        let at = warm.start.began + Duration::from_micros(250);
        assert_eq!(
            written(&warm.record(Some((&outcome, at)))),
            r#"{"start_kind":"warm","invocation":2,"request_id":"req-2","idle_gap_ms":1.5,"environment_age_ms":2000.0,"init_duration_ms":12.345,"duration_ms":0.25,"outcome":"error"}"#
        );
    }
}
