//! How a handler's response becomes trace metadata.

use serde::Serialize;
use serde_json::Value;

use crate::invocation::panic;
use crate::invocation::response_check::{self, not_captured};

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

    /// What an invocation calls: appends the response's compact JSON to a buffer its trace
    /// reuses and returns `true`, or returns `false` to record nothing. The text is copied
    /// into the trace as it is, so only lambda-perf's own captures write it directly (the
    /// buffer's type cannot be named elsewhere); any other writes what
    /// [`capture`](Self::capture) returns.
    #[doc(hidden)]
    fn write_json(response: &R, out: JsonText<'_>) -> bool {
        let start = out.0.len();
        let written = Self::capture(response)
            .is_some_and(|value| serde_json::to_writer(&mut *out.0, &value).is_ok());
        if !written {
            out.0.truncate(start);
        }
        written
    }
}

/// The buffer a capture writes its JSON to. Public in a private module: no code outside
/// lambda-perf can name it, so none can implement [`ResponseCapture::write_json`] and put
/// text that is not JSON into a trace. (What lambda-perf writes into it is checked: see
/// `invocation::response_check`.)
mod sealed {
    pub struct JsonText<'a>(pub(crate) &'a mut Vec<u8>);
}

pub(crate) use sealed::JsonText;

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

    fn write_json(response: &R, out: JsonText<'_>) -> bool {
        write_serialized(response, out.0)
    }
}

/// `response` as JSON. A `Serialize` that fails or panics leaves the response uncaptured: one
/// warning, and each one counted (`capture.response_not_serializable`).
pub(crate) fn serialized<R: Serialize + ?Sized>(response: &R) -> Option<Value> {
    panic::to_json(response).map_err(not_captured).ok()
}

/// Appends `response` as compact JSON to `out`; on failure (a `Serialize` that fails or
/// panics, or one that writes what is not JSON, such as a map key without its value: the text
/// goes into documents as it is) leaves `out` as it was, warns once and counts, as
/// [`serialized`] does. Under `PerfRuntimeLayer` the text is checked once the response is
/// posted instead, and left out and counted alike then (`invocation::response_check`).
pub(crate) fn write_serialized<R: Serialize + ?Sized>(response: &R, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    match response_check::write_response_json(response, out) {
        Ok(()) => true,
        Err(why) => {
            out.truncate(start);
            not_captured(why);
            false
        }
    }
}

impl<R> ResponseCapture<R> for NoResponseCapture {
    fn capture(_: &R) -> Option<Value> {
        None
    }
}
