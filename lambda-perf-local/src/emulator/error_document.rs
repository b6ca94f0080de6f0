//! [`ErrorDocument`]: the error body a function posts to `/invocation/{id}/error` or
//! `/init/error`.

use bytes::Bytes;
use serde_json::Value;

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

    /// The same document, its body copied into an allocation of its own: the body read from
    /// a request may be a slice of a much larger buffer, kept alive as long as the slice.
    pub(crate) fn compacted(&self) -> Self {
        Self {
            raw: Bytes::copy_from_slice(&self.raw),
            ..self.clone()
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
