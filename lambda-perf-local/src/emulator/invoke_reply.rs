//! What came back: [`InvokeReply`], with the function's [`Answer`], whose errors are
//! [`ErrorDocument`]s.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::emulator::error::HarnessError;

/// An error document posted to `/invocation/{id}/error` or `/init/error`.
///
/// The body is parsed leniently: fields that are missing or of the wrong type are `None`,
/// and a body that is not JSON at all still yields a report with only [`raw`](Self::raw).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ErrorDocument {
    /// `errorType` from the body.
    pub error_type: Option<String>,
    /// `errorMessage` from the body.
    pub error_message: Option<String>,
    /// `stackTrace` from the body (non-string entries are rendered as JSON).
    pub stack_trace: Option<Vec<String>>,
    /// The body exactly as received.
    pub raw: Bytes,
}

impl ErrorDocument {
    /// Parses an error body.
    pub fn from_body(raw: Bytes) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
        let object = parsed.as_ref().and_then(Value::as_object);
        let string_field = |name: &str| {
            object
                .and_then(|o| o.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let stack_trace = object
            .and_then(|o| o.get("stackTrace"))
            .and_then(Value::as_array)
            .map(|frames| {
                frames
                    .iter()
                    .map(|frame| match frame {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            });
        Self {
            error_type: string_field("errorType"),
            error_message: string_field("errorMessage"),
            stack_trace,
            raw,
        }
    }

    /// The raw body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.raw).ok()
    }
}

impl std::fmt::Display for ErrorDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.error_type, &self.error_message) {
            (Some(kind), Some(message)) => write!(f, "{kind}: {message}"),
            (Some(kind), None) => f.write_str(kind),
            (None, Some(message)) => f.write_str(message),
            (None, None) => write!(f, "{}", String::from_utf8_lossy(&self.raw)),
        }
    }
}

/// What the function answered: its response, its invocation error, or the init error of its
/// process.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// The function posted to `/invocation/{id}/response`.
    Response {
        /// The response body exactly as received.
        body: Bytes,
    },
    /// The function posted to `/invocation/{id}/error`.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        error_type: Option<String>,
        /// The error body.
        error: ErrorDocument,
    },
    /// The function process posted to `/init/error` before handling this invocation.
    InitError(ErrorDocument),
}

impl Answer {
    /// A short name for logs: `response`, `error` or `init-error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Response { .. } => "response",
            Self::Error { .. } => "error",
            Self::InitError(_) => "init-error",
        }
    }
}

/// What came back from one [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke): the
/// headers that were sent, when the invocation was queued, handed out and answered, and the
/// function's [`Answer`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InvokeReply {
    /// The request id sent in `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The `Lambda-Runtime-Trace-Id` sent, if any.
    pub trace_header: Option<String>,
    /// The `Lambda-Runtime-Deadline-Ms` sent.
    pub deadline_ms: u64,
    /// When the invocation was queued.
    pub queued_at: Instant,
    /// When `/next` handed it to the function (`None` if it never was, e.g. after an init
    /// error).
    pub handed_out_at: Option<Instant>,
    /// When the answer arrived.
    pub resolved_at: Instant,
    /// What the function answered.
    pub answer: Answer,
}

impl InvokeReply {
    /// Time from hand-out by `/next` to the answer (`None` if never handed out).
    pub fn duration(&self) -> Option<Duration> {
        self.handed_out_at
            .map(|at| self.resolved_at.saturating_duration_since(at))
    }

    /// The response body, if the function responded successfully.
    pub fn response_body(&self) -> Option<&Bytes> {
        match &self.answer {
            Answer::Response { body } => Some(body),
            _ => None,
        }
    }

    /// The response body, or the function / init error as a [`HarnessError`].
    pub fn into_response(self) -> Result<Bytes, HarnessError> {
        match self.answer {
            Answer::Response { body } => Ok(body),
            Answer::Error { error_type, error } => Err(HarnessError::FunctionError {
                request_id: self.request_id,
                error_type,
                error: Box::new(error),
            }),
            Answer::InitError(report) => Err(HarnessError::InitError(Box::new(report))),
        }
    }

    /// The response body parsed as JSON, or the function / init error / parse error as a
    /// [`HarnessError`].
    pub fn into_json(self) -> Result<Value, HarnessError> {
        let request_id = self.request_id.clone();
        let body = self.into_response()?;
        serde_json::from_slice(&body).map_err(|err| HarnessError::InvalidResponse {
            request_id,
            message: err.to_string(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_report_parses_the_runtime_shape() {
        let report = ErrorDocument::from_body(Bytes::from_static(
            br#"{"errorType":"MyError","errorMessage":"boom","stackTrace":["a",1]}"#,
        ));
        assert_eq!(report.error_type.as_deref(), Some("MyError"));
        assert_eq!(report.error_message.as_deref(), Some("boom"));
        assert_eq!(
            report.stack_trace,
            Some(vec!["a".to_owned(), "1".to_owned()])
        );
        assert_eq!(report.to_string(), "MyError: boom");
        assert!(report.body_json().is_some());
    }

    #[test]
    fn error_report_tolerates_garbage() {
        for body in [
            &b"not json"[..],
            b"[1,2]",
            b"{\"errorType\":5}",
            b"",
            b"\xff\xfe",
        ] {
            let report = ErrorDocument::from_body(Bytes::copy_from_slice(body));
            assert_eq!(report.error_type, None);
            assert_eq!(report.error_message, None);
            assert_eq!(report.stack_trace, None);
            assert_eq!(&report.raw[..], body);
        }
    }

    #[test]
    fn into_json_maps_answers() {
        let now = Instant::now();
        let result = |answer| InvokeReply {
            request_id: "r".into(),
            trace_header: None,
            deadline_ms: 0,
            queued_at: now,
            handed_out_at: Some(now),
            resolved_at: now,
            answer,
        };
        let ok = result(Answer::Response {
            body: Bytes::from_static(b"{\"x\":1}"),
        });
        assert_eq!(ok.duration(), Some(Duration::ZERO));
        assert_eq!(ok.into_json().expect("json"), serde_json::json!({"x": 1}));
        let bad = result(Answer::Response {
            body: Bytes::from_static(b"nope"),
        });
        assert!(matches!(
            bad.into_json(),
            Err(HarnessError::InvalidResponse { .. })
        ));
        let failed = result(Answer::Error {
            error_type: Some("Unhandled".into()),
            error: ErrorDocument::from_body(Bytes::new()),
        });
        assert!(matches!(
            failed.into_response(),
            Err(HarnessError::FunctionError { .. })
        ));
    }
}
