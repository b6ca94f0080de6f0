//! The redaction hook: what the handler returned, seen before it is captured.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

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
}

/// A redaction hook: the value to capture instead, or `None` to capture nothing.
#[derive(Clone)]
pub(crate) struct Redactor(pub(crate) Arc<dyn Fn(Captured, Value) -> Option<Value> + Send + Sync>);

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor(..)")
    }
}
