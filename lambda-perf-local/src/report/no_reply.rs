//! [`NoReply`]: why an invocation of a run got no reply.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::emulator::HarnessError;

/// Why there was no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoReplyKind {
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

/// Why an invocation of a run got no reply: a kind and the error's text. The run records it
/// in place of the [`InvokeReply`](crate::emulator::InvokeReply), and the report shows it as
/// the invocation's status: `timeout`, `exit-error`, `out-of-memory` (the function's
/// failures, as on Lambda) or `harness-error`.
///
/// Built from a [`HarnessError`] (`NoReply::from(&error)`), or from its text alone
/// (`NoReply::from(error.to_string())`, where a text starting with `timed out` is a
/// [`NoReplyKind::Timeout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoReply {
    /// The kind.
    pub kind: NoReplyKind,
    /// The error's text.
    pub message: String,
}

impl NoReply {
    /// No reply, for `kind`, with `message`.
    pub fn new(kind: NoReplyKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An out-of-memory kill of the runtime during invocation `request_id`, in Lambda's
    /// words: `RequestId: <id> Error: Runtime exited with error: signal: killed`.
    pub fn out_of_memory(request_id: &str) -> Self {
        Self::new(
            NoReplyKind::OutOfMemory,
            format!("RequestId: {request_id} Error: {OUT_OF_MEMORY_MESSAGE}"),
        )
    }
}

impl fmt::Display for NoReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<&HarnessError> for NoReply {
    fn from(error: &HarnessError) -> Self {
        let kind = match error {
            HarnessError::Timeout { .. } => NoReplyKind::Timeout,
            HarnessError::ProcessExited { .. } => NoReplyKind::ProcessExited,
            _ => NoReplyKind::Other,
        };
        Self::new(kind, error.to_string())
    }
}

impl From<HarnessError> for NoReply {
    fn from(error: HarnessError) -> Self {
        Self::from(&error)
    }
}

impl From<String> for NoReply {
    /// Classifies the text of a [`HarnessError`]: `timed out…` is a timeout, `function process
    /// exited…` a process exit, anything else [`NoReplyKind::Other`].
    fn from(message: String) -> Self {
        let kind = if message.starts_with("timed out") {
            NoReplyKind::Timeout
        } else if message.starts_with("function process exited") {
            NoReplyKind::ProcessExited
        } else {
            NoReplyKind::Other
        };
        Self { kind, message }
    }
}

impl From<&str> for NoReply {
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
        assert_eq!(NoReply::from(&timeout).kind, NoReplyKind::Timeout);
        assert_eq!(
            NoReply::from(timeout.to_string()).kind,
            NoReplyKind::Timeout
        );
        let exited = HarnessError::ProcessExited {
            status: None,
            last_lines: vec![],
        };
        assert_eq!(
            NoReply::from(exited.to_string()).kind,
            NoReplyKind::ProcessExited
        );
        assert_eq!(
            NoReply::from(HarnessError::Shutdown).kind,
            NoReplyKind::Other
        );
        assert_eq!(NoReply::from("boom").to_string(), "boom");
    }
}
