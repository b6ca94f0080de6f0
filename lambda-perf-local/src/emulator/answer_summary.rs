//! [`AnswerSummary`]: what the harness keeps of an [`Answer`] once its invocation is over.

use crate::emulator::error_document::ErrorDocument;
use crate::emulator::invoke_reply::Answer;

/// An [`Answer`] as the Runtime API's log and a run's record keep it: a response's length
/// instead of its body, and error documents whole up to
/// [`KEPT_ERROR_BYTES`](crate::emulator::KEPT_ERROR_BYTES) (past that, cut to it). The body
/// itself goes to the caller of
/// [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke) alone, so that a run of many
/// invocations, or of large responses, does not hold every body until it ends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnswerSummary {
    /// The function posted to `/invocation/{id}/response`.
    Response {
        /// The response body's length in bytes.
        bytes: usize,
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

impl AnswerSummary {
    /// A short name for logs: `response`, `error` or `init-error`, as [`Answer::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Response { .. } => "response",
            Self::Error { .. } => "error",
            Self::InitError { .. } => "init-error",
        }
    }
}

impl From<&Answer> for AnswerSummary {
    /// The summary of `answer`. An error document is copied out of the buffer its body was
    /// read into, which may be far larger than the body, and cut to
    /// [`KEPT_ERROR_BYTES`](crate::emulator::KEPT_ERROR_BYTES).
    fn from(answer: &Answer) -> Self {
        match answer {
            Answer::Response { body } => Self::Response { bytes: body.len() },
            Answer::Error { error_type, error } => Self::Error {
                error_type: error_type.clone(),
                error: error.kept(),
            },
            Answer::InitError { error_type, error } => Self::InitError {
                error_type: error_type.clone(),
                error: error.kept(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::emulator::KEPT_ERROR_BYTES;

    #[test]
    fn a_response_is_kept_as_its_length() {
        let answer = Answer::Response {
            body: Bytes::from(vec![b'x'; 6 * 1024 * 1024]),
        };
        assert_eq!(
            AnswerSummary::from(&answer),
            AnswerSummary::Response {
                bytes: 6 * 1024 * 1024
            }
        );
    }

    #[test]
    fn an_error_is_kept_whole_out_of_its_read_buffer() {
        let buffer = Bytes::from(vec![b' '; 64 * 1024]);
        let body = br#"{"errorType":"E","errorMessage":"boom"}"#;
        let mut read = buffer.to_vec();
        read[..body.len()].copy_from_slice(body);
        let read = Bytes::from(read).slice(..body.len());
        let answer = Answer::Error {
            error_type: Some("Unhandled".into()),
            error: ErrorDocument::from_body(read.clone()),
        };
        let AnswerSummary::Error { error_type, error } = AnswerSummary::from(&answer) else {
            panic!("not an error");
        };
        assert_eq!(error_type.as_deref(), Some("Unhandled"));
        assert_eq!(error, ErrorDocument::from_body(read.clone()));
        assert_ne!(error.raw.as_ptr(), read.as_ptr());
    }

    #[test]
    fn a_large_error_is_kept_cut_to_its_bound() {
        let message = "é".repeat(KEPT_ERROR_BYTES);
        let frames: Vec<String> = (0..10_000).map(|i| format!("frame {i:>20}")).collect();
        let body = serde_json::json!({
            "errorType": "Big",
            "errorMessage": message,
            "stackTrace": frames,
        });
        let answer = Answer::Error {
            error_type: None,
            error: ErrorDocument::from_body(Bytes::from(body.to_string())),
        };
        let AnswerSummary::Error { error, .. } = AnswerSummary::from(&answer) else {
            panic!("not an error");
        };
        assert_eq!(error.raw.len(), KEPT_ERROR_BYTES);
        assert_eq!(error.error_type.as_deref(), Some("Big"));
        let kept = error.error_message.unwrap();
        assert!(
            kept.len() <= KEPT_ERROR_BYTES + '…'.len_utf8(),
            "{}",
            kept.len()
        );
        assert!(kept.starts_with("éé") && kept.ends_with('…'));
        let frames = error.stack_trace.unwrap();
        assert!(!frames.is_empty());
        assert!(frames.iter().map(String::len).sum::<usize>() <= KEPT_ERROR_BYTES);
    }
}
