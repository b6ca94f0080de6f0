//! The redaction hook: what the handler returned, seen before it is captured.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::panic;
use crate::drops;
use crate::warn::WarnOnce;

/// What is about to be captured as trace metadata, for a redaction hook
/// ([`PerfLayerBuilder::redact`](crate::PerfLayerBuilder::redact), the macro's `redact`
/// option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Captured {
    /// The handler's response, as `"<handler> response"`.
    Response,
    /// The handler's error, `{"type": …, "message": …}`, as `"<handler> error"` and as the
    /// handler subsegment's cause (which keeps the returned `message`, or none).
    Error,
    /// The incoming event, before it is logged (`POWERTOOLS_LOGGER_LOG_EVENT`,
    /// [`logs::log_event`]).
    ///
    #[cfg_attr(
        feature = "tracing",
        doc = "[`logs::log_event`]: crate::logs::log_event"
    )]
    #[cfg_attr(
        not(feature = "tracing"),
        doc = "[`logs::log_event`]: crate#feature-flags"
    )]
    Event,
}

/// A redaction hook: the value to capture instead, or `None` to capture nothing.
#[derive(Clone)]
pub(crate) struct Redactor(pub(crate) Arc<dyn Fn(Captured, Value) -> Option<Value> + Send + Sync>);

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor(..)")
    }
}

/// `value` as `redactor` leaves it. A hook that panics captures nothing, and is counted, the
/// first time with a warning.
pub(crate) fn redact_with(redactor: &Redactor, kind: Captured, value: Value) -> Option<Value> {
    static PANICKED: WarnOnce = WarnOnce::new();
    panic::catch(|| (redactor.0)(kind, value)).unwrap_or_else(|_| {
        drops::count("capture.redaction_panicked");
        PANICKED.warn(
            "the redaction hook panicked; what it was given is neither captured nor logged \
             (counted in lambda_perf.dropped as capture.redaction_panicked)",
        );
        None
    })
}
