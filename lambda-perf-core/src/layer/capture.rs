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

    /// Appends the response's compact JSON to `out` and returns `true`, or returns `false` to
    /// record nothing (leaving `out` as it was). This is what an invocation calls, with a
    /// buffer its trace reuses; the default writes what [`capture`](Self::capture) returns.
    /// Implement it to write the JSON without building a `Value` first (what
    /// [`SerializeResponse`] does): `out` must then hold valid JSON, as `serde_json` writes it.
    fn capture_json(response: &R, out: &mut Vec<u8>) -> bool {
        Self::capture(response).is_some_and(|value| serde_json::to_writer(out, &value).is_ok())
    }
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

    fn capture_json(response: &R, out: &mut Vec<u8>) -> bool {
        write_serialized(response, out)
    }
}

/// `response` as JSON. A `Serialize` that fails or panics leaves the response uncaptured: one
/// warning, and each one counted (`capture.response_not_serializable`).
pub(crate) fn serialized<R: Serialize + ?Sized>(response: &R) -> Option<Value> {
    panic::to_json(response).map_err(not_captured).ok()
}

/// Appends `response` as compact JSON to `out`; on failure (a `Serialize` that fails or
/// panics) leaves `out` as it was, warns once and counts, as [`serialized`] does.
pub(crate) fn write_serialized<R: Serialize + ?Sized>(response: &R, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    match panic::write_json(response, out) {
        Ok(()) => true,
        Err(message) => {
            out.truncate(start);
            not_captured(message);
            false
        }
    }
}

/// A response that could not be captured: one warning, and each one counted.
fn not_captured(message: String) {
    static NOT_CAPTURED: WarnOnce = WarnOnce::new();
    drops::count("capture.response_not_serializable");
    NOT_CAPTURED.warn(format_args!(
        "the handler's response could not be captured ({message}); \
         it is left out of the trace (counted in lambda_perf.dropped)"
    ));
}

impl<R> ResponseCapture<R> for NoResponseCapture {
    fn capture(_: &R) -> Option<Value> {
        None
    }
}
