//! What the handler returned, as trace metadata: the response, or the error's type and
//! message (not `{}` as Powertools records it).

use std::any::Any;
use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use crate::xray::short_type_name;

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
        serde_json::to_value(response).ok()
    }
}

impl<R> ResponseCapture<R> for NoResponseCapture {
    fn capture(_: &R) -> Option<Value> {
        None
    }
}

/// An error or panic, described for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub(crate) kind: String,
    pub(crate) message: String,
}

impl Failure {
    /// Describes a handler error. The runtime's own error types (`lambda_runtime::Error`,
    /// `Diagnostic`, strings, I/O errors) give their message; any other type its `Debug`.
    pub(crate) fn from_error<E: fmt::Debug + 'static>(error: &E) -> Self {
        let any: &dyn Any = error;
        let (kind, message) = if let Some(error) = any.downcast_ref::<lambda_runtime::Error>() {
            ("lambda_runtime::Error".to_owned(), error.to_string())
        } else if let Some(diagnostic) = any.downcast_ref::<lambda_runtime::Diagnostic>() {
            (
                diagnostic.error_type.clone(),
                diagnostic.error_message.clone(),
            )
        } else if let Some(message) = any.downcast_ref::<String>() {
            ("String".to_owned(), message.clone())
        } else if let Some(message) = any.downcast_ref::<&str>() {
            ("&str".to_owned(), (*message).to_owned())
        } else if let Some(error) = any.downcast_ref::<std::io::Error>() {
            ("std::io::Error".to_owned(), error.to_string())
        } else {
            return Self::from_debug(error);
        };
        Self { kind, message }
    }

    /// Describes an error by its `Debug`.
    pub(crate) fn from_debug<E: fmt::Debug + ?Sized>(error: &E) -> Self {
        Self {
            kind: short_type_name::<E>(),
            message: format!("{error:?}"),
        }
    }

    /// Describes an error by its type alone.
    pub(crate) fn from_type<E: ?Sized>() -> Self {
        Self {
            kind: short_type_name::<E>(),
            message: String::new(),
        }
    }

    /// The description of an error whose `Debug` (or a response whose `Serialize`) panicked.
    pub(crate) fn capture_panicked(panic: &(dyn Any + Send)) -> Self {
        Self {
            kind: "unknown".to_owned(),
            message: format!(
                "describing the result panicked: {}",
                crate::xray::panic_message(panic)
            ),
        }
    }

    pub(crate) fn from_panic(panic: &(dyn Any + Send)) -> Self {
        Self {
            kind: "panic".to_owned(),
            message: crate::xray::panic_message(panic),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        json!({ "type": self.kind, "message": self.message })
    }
}

/// `value`, or a marker with its size and a preview when its JSON exceeds `limit` bytes.
pub(crate) fn capped(value: Value, limit: usize) -> Value {
    let text = value.to_string();
    if text.len() <= limit {
        return value;
    }
    let cut = (0..=limit.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    json!({
        "lambda_perf_truncated": {
            "size_bytes": text.len(),
            "preview": &text[..cut],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct PaymentDeclined {
        #[allow(dead_code)] // shown by Debug only
        code: u32,
    }

    #[test]
    fn errors_keep_type_and_message() {
        let boxed: lambda_runtime::Error = "card expired".into();
        assert_eq!(
            Failure::from_error(&boxed),
            Failure {
                kind: "lambda_runtime::Error".into(),
                message: "card expired".into()
            }
        );
        let custom = PaymentDeclined { code: 51 };
        assert_eq!(
            Failure::from_error(&custom),
            Failure {
                kind: "PaymentDeclined".into(),
                message: "PaymentDeclined { code: 51 }".into()
            }
        );
        let diagnostic = lambda_runtime::Diagnostic {
            error_type: "Payment.Declined".into(),
            error_message: "no funds".into(),
        };
        assert_eq!(Failure::from_error(&diagnostic).kind, "Payment.Declined");
        assert_eq!(
            Failure::from_error(&"plain".to_owned()).to_value(),
            json!({ "type": "String", "message": "plain" })
        );
    }

    #[test]
    fn large_values_are_truncated_with_a_marker() {
        let small = json!({ "ok": true });
        assert_eq!(capped(small.clone(), 100), small);
        let large = json!({ "blob": "é".repeat(100) });
        let capped = capped(large, 50);
        let marker = &capped["lambda_perf_truncated"];
        assert_eq!(marker["size_bytes"], 211);
        let preview = marker["preview"].as_str().unwrap();
        assert!(preview.len() <= 50 && preview.starts_with("{\"blob\":\"é"));
    }
}
