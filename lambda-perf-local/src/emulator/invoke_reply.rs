//! What came back: [`InvokeReply`], with the function's [`Answer`], whose errors are
//! [`ErrorDocument`]s.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::emulator::error::HarnessError;
use crate::emulator::error_document::ErrorDocument;

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
    InitError {
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        error_type: Option<String>,
        /// The error body.
        error: ErrorDocument,
    },
}

impl Answer {
    /// A short name for logs: `response`, `error` or `init-error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Response { .. } => "response",
            Self::Error { .. } => "error",
            Self::InitError { .. } => "init-error",
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
            Answer::InitError { error, .. } => Err(HarnessError::InitError(Box::new(error))),
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
