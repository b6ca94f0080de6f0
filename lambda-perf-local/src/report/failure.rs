//! [`HarnessFailure`]: why the harness got no answer for an invocation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::emulator::HarnessError;

/// What kind of harness failure it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The invocation did not finish in time.
    Timeout,
    /// The function process exited while the invocation was in flight.
    ProcessExited,
    /// The kernel's OOM killer ended the function process: its memory size was too small.
    OutOfMemory,
    /// Anything else (I/O error, shutdown, an invocation that could not be queued…).
    Other,
}

/// The error type Lambda reports for an invocation whose runtime ran out of memory.
pub const OUT_OF_MEMORY_ERROR_TYPE: &str = "Runtime.OutOfMemory";
/// What Lambda says happened to that runtime.
pub const OUT_OF_MEMORY_MESSAGE: &str = "Runtime exited with error: signal: killed";

/// Why the harness got no answer for an invocation: a kind and the error's text.
///
/// Built from a [`HarnessError`] (`HarnessFailure::from(&error)`), or from its text alone
/// (`HarnessFailure::from(error.to_string())`, where a text starting with `timed out` is a
/// [`FailureKind::Timeout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessFailure {
    /// The kind.
    pub kind: FailureKind,
    /// The error's text.
    pub message: String,
}

impl HarnessFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An out-of-memory kill of the runtime during invocation `request_id`, in Lambda's
    /// words: `RequestId: <id> Error: Runtime exited with error: signal: killed`.
    pub fn out_of_memory(request_id: &str) -> Self {
        Self::new(
            FailureKind::OutOfMemory,
            format!("RequestId: {request_id} Error: {OUT_OF_MEMORY_MESSAGE}"),
        )
    }
}

impl fmt::Display for HarnessFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<&HarnessError> for HarnessFailure {
    fn from(error: &HarnessError) -> Self {
        let kind = match error {
            HarnessError::Timeout { .. } => FailureKind::Timeout,
            HarnessError::ProcessExited { .. } => FailureKind::ProcessExited,
            _ => FailureKind::Other,
        };
        Self::new(kind, error.to_string())
    }
}

impl From<HarnessError> for HarnessFailure {
    fn from(error: HarnessError) -> Self {
        Self::from(&error)
    }
}

impl From<String> for HarnessFailure {
    /// Classifies the text of a [`HarnessError`]: `timed out…` is a timeout, `function process
    /// exited…` a process exit, anything else [`FailureKind::Other`].
    fn from(message: String) -> Self {
        let kind = if message.starts_with("timed out") {
            FailureKind::Timeout
        } else if message.starts_with("function process exited") {
            FailureKind::ProcessExited
        } else {
            FailureKind::Other
        };
        Self { kind, message }
    }
}

impl From<&str> for HarnessFailure {
    fn from(message: &str) -> Self {
        Self::from(message.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors_and_their_text() {
        let timeout = HarnessError::Timeout {
            what: "invocation r to finish".into(),
            last_lines: vec![],
        };
        assert_eq!(HarnessFailure::from(&timeout).kind, FailureKind::Timeout);
        assert_eq!(
            HarnessFailure::from(timeout.to_string()).kind,
            FailureKind::Timeout
        );
        let exited = HarnessError::ProcessExited {
            status: None,
            last_lines: vec![],
        };
        assert_eq!(
            HarnessFailure::from(exited.to_string()).kind,
            FailureKind::ProcessExited
        );
        assert_eq!(
            HarnessFailure::from(HarnessError::Shutdown).kind,
            FailureKind::Other
        );
        assert_eq!(HarnessFailure::from("boom").to_string(), "boom");
    }
}
