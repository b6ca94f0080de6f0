//! [`ErrorDocument`]: the error body a function posts to `/invocation/{id}/error` or
//! `/init/error`.

use bytes::Bytes;
use serde_json::Value;

/// How much of an error body the harness keeps once its invocation is over (see
/// [`AnswerSummary`](crate::emulator::AnswerSummary)): a run of many failed invocations
/// holds this much of each at most.
pub const KEPT_ERROR_BYTES: usize = 64 * 1024;

/// `text` cut to at most `bytes` bytes on a character boundary, with `…` after a cut.
fn cut_to(text: &str, bytes: usize) -> String {
    if text.len() <= bytes {
        return text.to_owned();
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// An error document posted to `/invocation/{id}/error` or `/init/error`.
///
/// The body is parsed leniently: fields that are missing or of the wrong type are `None`,
/// and a body that is not JSON at all still yields a document with only [`raw`](Self::raw).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ErrorDocument {
    /// `errorType` from the body.
    pub error_type: Option<String>,
    /// `errorMessage` from the body.
    pub error_message: Option<String>,
    /// `stackTrace` from the body (non-string entries are rendered as JSON).
    pub stack_trace: Option<Vec<String>>,
    /// The body exactly as received (kept in an
    /// [`AnswerSummary`](crate::emulator::AnswerSummary): at most its first
    /// [`KEPT_ERROR_BYTES`]).
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

    /// The document as the harness keeps it once its invocation is over: its body copied
    /// into an allocation of its own (the body read from a request may be a slice of a much
    /// larger buffer, kept alive as long as the slice) and, past [`KEPT_ERROR_BYTES`], cut to
    /// its first [`KEPT_ERROR_BYTES`], its type and message likewise and its stack trace to
    /// the frames that fit.
    pub(crate) fn kept(&self) -> Self {
        if self.raw.len() <= KEPT_ERROR_BYTES {
            return Self {
                raw: Bytes::copy_from_slice(&self.raw),
                ..self.clone()
            };
        }
        let cut = |text: &String| cut_to(text, KEPT_ERROR_BYTES);
        let stack_trace = self.stack_trace.as_ref().map(|frames| {
            let mut room = KEPT_ERROR_BYTES;
            frames
                .iter()
                .take_while(|frame| {
                    let fits = frame.len() <= room;
                    room = room.saturating_sub(frame.len());
                    fits
                })
                .cloned()
                .collect()
        });
        Self {
            error_type: self.error_type.as_ref().map(cut),
            error_message: self.error_message.as_ref().map(cut),
            stack_trace,
            raw: Bytes::copy_from_slice(&self.raw[..KEPT_ERROR_BYTES]),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_runtime_shape() {
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
    fn tolerates_garbage() {
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
}
