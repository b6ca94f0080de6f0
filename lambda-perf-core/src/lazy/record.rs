//! What one initialization of a client recorded, and where it goes.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::StartKind;
use crate::clock::millis_f64;
use crate::invocation::with_current;
use crate::metrics::dimension::Dimension;
use crate::metrics::set::MetricSet;
use crate::metrics::{Resolution, Unit, flush};

/// When an initialization ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Phase {
    /// Before the first invocation (eagerly, with `init_now`, or at any use outside a handler).
    Init,
    /// Lazily, inside an invocation, which waited for it.
    Invocation,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Init => "init",
            Self::Invocation => "invocation",
        })
    }
}

/// One initialization: its name, duration, phase, the start kind of the invocation it ran in,
/// and whether it succeeded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InitRecord {
    /// The client's name.
    pub client: &'static str,
    /// How long the initializer took.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// When it ran.
    pub phase: Phase,
    /// The start kind of the invocation it ran in; `None` at init.
    pub start_kind: Option<StartKind>,
    /// `None` on success, the error's message on failure.
    pub error: Option<String>,
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(millis_f64(*duration))
}

/// Records made at init, waiting for the first invocation.
static PENDING: Mutex<Vec<InitRecord>> = Mutex::new(Vec::new());
static HAS_PENDING: AtomicBool = AtomicBool::new(false);

/// Takes the records made at init (cheap when there are none).
pub(crate) fn take_pending() -> Vec<InitRecord> {
    // Every invocation asks: a plain load keeps the common answer free of a write.
    if !HAS_PENDING.load(Ordering::Acquire) || !HAS_PENDING.swap(false, Ordering::AcqRel) {
        return Vec::new();
    }
    std::mem::take(
        &mut *PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// The name of the subsegment around an initialization.
fn subsegment_name(client: &str) -> String {
    format!("## init {client}")
}

/// Records an initialization that ran from `started` until now. Called inside the
/// `## init <client>` subsegment when in an invocation, so the trace data lands there.
fn finish(client: &'static str, started: Instant, error: Option<String>) {
    let duration = started.elapsed();
    let in_invocation = with_current(|invocation| {
        let record = InitRecord {
            client,
            duration,
            phase: Phase::Invocation,
            start_kind: Some(invocation.facts.start_kind()),
            error: error.clone(),
        };
        if let Some(trace) = &mut invocation.trace {
            if let Ok(value) = serde_json::to_value(&record) {
                trace.add_metadata(None, "lambda_perf".into(), "client_init".into(), value);
            }
            if let Some(message) = &error {
                trace.record_error(None, "ClientInitError", message);
            }
        }
        let config = &invocation.config;
        if !config.metrics_disabled && error.is_none() {
            let facts = config
                .invocation_facts
                .then(|| invocation.facts.record(None));
            write_duration_line(config, client, duration, facts.as_ref());
        }
    })
    .is_ok();
    if !in_invocation {
        PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(InitRecord {
                client,
                duration,
                phase: Phase::Init,
                start_kind: None,
                error,
            });
        HAS_PENDING.store(true, Ordering::Release);
    }
}

/// `ClientInitDuration` for one client, in its own line with the dimensions `service` and
/// `client` and the invocation's facts (its request id, start kind, …).
fn write_duration_line(
    config: &crate::layer::PerfConfig,
    client: &'static str,
    duration: Duration,
    facts: Option<&crate::facts::FactsRecord<'_>>,
) {
    let dimensions = [
        Dimension::new("service", config.service.clone()),
        Dimension::new("client", client),
    ];
    let mut set = MetricSet::default();
    let metric = set.add_metric(
        &dimensions,
        "ClientInitDuration".into(),
        Unit::Milliseconds,
        Resolution::Standard,
        millis_f64(duration),
    );
    if metric.is_ok() {
        flush::write_set(&config.writer, &config.namespace, &dimensions, &set, facts);
    }
}

/// Runs `init` timed, inside a `## init <client>` subsegment when in a recorded invocation,
/// and records it.
pub(crate) fn timed<T>(client: &'static str, init: impl FnOnce() -> T) -> T {
    crate::xray::Subsegment::new(subsegment_name(client)).in_scope(|| {
        let started = Instant::now();
        let value = init();
        finish(client, started, None);
        value
    })
}

/// Runs and awaits `init` timed, inside a `## init <client>` subsegment when in a recorded
/// invocation, and records it; an `Err` is recorded as a failure.
pub(crate) async fn timed_async<T, E, F>(
    client: &'static str,
    init: impl FnOnce() -> F,
) -> Result<T, E>
where
    E: fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    let timed = async move {
        let started = Instant::now();
        let result = init().await;
        finish(
            client,
            started,
            result.as_ref().err().map(ToString::to_string),
        );
        result
    };
    crate::xray::Subsegment::new(subsegment_name(client))
        .instrument(timed)
        .await
}

/// Counts a use of cache `name` in the current invocation.
pub(crate) fn count_cache(name: &'static str, hit: bool) {
    let _ = with_current(|invocation| invocation.count_cache(name, hit));
}

/// The init records as metadata values for the first invocation's handler subsegment.
pub(crate) fn metadata(records: &[InitRecord]) -> serde_json::Value {
    json!(records)
}
