//! How a handler's response becomes trace metadata.

use serde::Serialize;
use serde_json::Value;

use crate::drops;
use crate::invocation::panic;
use crate::warn::WarnOnce;

/// How a response becomes `"<handler> response"` metadata. `PerfLayer` uses
/// [`SerializeResponse`] unless told otherwise with
/// [`PerfLayer::without_response_capture`](crate::PerfLayer::without_response_capture).
#[diagnostic::on_unimplemented(
    message = "the handler's response `{R}` cannot be captured as trace metadata",
    note = "responses are captured with serde::Serialize; for other responses (streams, http) use `PerfLayer::from_env().without_response_capture()`"
)]
pub trait ResponseCapture<R> {
    /// The response as JSON, or `None` to record nothing.
    fn capture(response: &R) -> Option<Value>;
}

/// Captures any `Serialize` response.
#[derive(Clone, Copy, Debug, Default)]
pub struct SerializeResponse;

/// Captures nothing: for responses that are not `Serialize`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResponseCapture;

impl<R: Serialize> ResponseCapture<R> for SerializeResponse {
    fn capture(response: &R) -> Option<Value> {
        serialized(response)
    }
}

/// `response` as JSON. A `Serialize` that fails or panics leaves the response uncaptured: one
/// warning, and each one counted (`capture.response_not_serializable`).
pub(crate) fn serialized<R: Serialize + ?Sized>(response: &R) -> Option<Value> {
    static NOT_CAPTURED: WarnOnce = WarnOnce::new();
    panic::to_json(response)
        .map_err(|message| {
            drops::count("capture.response_not_serializable");
            NOT_CAPTURED.warn(format_args!(
                "the handler's response could not be captured ({message}); \
                 it is left out of the trace (counted in lambda_perf.dropped)"
            ));
        })
        .ok()
}

impl<R> ResponseCapture<R> for NoResponseCapture {
    fn capture(_: &R) -> Option<Value> {
        None
    }
}
