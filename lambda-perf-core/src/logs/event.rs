//! The incoming event as a log line (`POWERTOOLS_LOGGER_LOG_EVENT`, off by default).

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::Value;

use crate::invocation::redaction::{self, Captured};
use crate::invocation::{current, panic};
use crate::warn::WarnOnce;

/// The target of the incoming event's line; its `event` field is written as JSON.
pub(crate) const EVENT_TARGET: &str = "lambda_perf::event";

/// Whether an event is the incoming event's line written by [`log_event`] — its target and
/// this module — whose `event` field is compact JSON already; a user's event with the same
/// target has its fields written as any other's.
pub(crate) fn is_incoming_event(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target() == EVENT_TARGET && metadata.module_path() == Some(module_path!())
}

/// Whether any log layer of the process logs the incoming event: set when one that does is
/// built. It spares the serialization when none does; each layer's filter still decides
/// whether it writes the line.
static LOG_EVENT: AtomicBool = AtomicBool::new(false);

static NOT_SERIALIZABLE: WarnOnce = WarnOnce::new();

/// Switches [`log_event`] on for the process.
pub(crate) fn enable() {
    LOG_EVENT.store(true, Ordering::Relaxed);
}

/// Logs the incoming event at `INFO` — message `Lambda invocation event`, the event as JSON
/// under the key `event`, as Powertools for TypeScript's Logger writes it, so that a query for
/// that message finds these lines too — when `POWERTOOLS_LOGGER_LOG_EVENT` is on (or
/// [`InitBuilder::log_event`](crate::InitBuilder::log_event) says so); otherwise does
/// nothing and costs one atomic load.
///
/// `#[instrument_lambda]` calls it for you when the event type is `Serialize`; behind
/// [`PerfLayer`](crate::PerfLayer), call it first thing in the handler, where the line
/// carries the invocation's keys:
///
/// ```
/// use lambda_perf_core::logs;
/// use lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     logs::log_event(&event.payload);
///     Ok(event.payload)
/// }
/// ```
///
/// An event that fails to serialize, or whose `Serialize` panics, costs one warning on stderr;
/// the handler carries on.
pub fn log_event<T: Serialize + ?Sized>(event: &T) {
    if !LOG_EVENT.load(Ordering::Relaxed) {
        return;
    }
    // The event's `Serialize` is user code: a panic there must not fail the invocation.
    match panic::to_json(event) {
        Ok(value) => {
            if let Some(value) = redact_incoming_event(value) {
                tracing::info!(target: EVENT_TARGET, event = %value, "Lambda invocation event");
            }
        }
        Err(error) => {
            NOT_SERIALIZABLE.warn(format_args!(
                "the incoming event could not be logged: it does not serialize ({error})"
            ));
        }
    }
}

/// The incoming event as the invocation's redaction hook
/// ([`PerfLayerBuilder::redact`](crate::PerfLayerBuilder::redact), the macro's `redact`)
/// leaves it, as [`Captured::Event`]; `None` when the hook keeps it out. Outside an
/// invocation there is no hook to ask, and the event is logged as it is.
fn redact_incoming_event(event: Value) -> Option<Value> {
    match current::with_invocation(|invocation| invocation.settings().redact.clone()) {
        Ok(Some(redactor)) => redaction::redact_with(&redactor, Captured::Event, event),
        _ => Some(event),
    }
}
