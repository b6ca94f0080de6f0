//! [`HarnessError`]: why a call on the emulator failed.

use std::fmt;
use std::io;
use std::process::ExitStatus;

use bytes::Bytes;

use crate::emulator::error_document::ErrorDocument;

/// Why a call on the emulator failed: [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke),
/// [`FunctionProcess::invoke`](crate::emulator::FunctionProcess::invoke) and its `wait_for_*`,
/// [`XRayCollector::wait_for`](crate::emulator::XRayCollector::wait_for), or
/// [`InvokeReply::into_json`](crate::emulator::InvokeReply::into_json) when the function did
/// not answer with a response.
///
/// Variants that concern the function process carry its last output lines, so a failing test
/// shows why the function misbehaved.
#[derive(Debug)]
#[non_exhaustive]
pub enum HarnessError {
    /// Something did not happen in time.
    Timeout {
        /// What was being waited for.
        what: String,
        /// The function's last output lines, if known.
        last_lines: Vec<String>,
    },
    /// The function process exited while something was still expected from it.
    ProcessExited {
        /// Its exit status, if it could be collected.
        status: Option<ExitStatus>,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// An I/O error (spawning, signalling or waiting on the process).
    Io(io::Error),
    /// The function reported an initialization error (`/init/error`).
    InitError(Box<ErrorDocument>),
    /// The function reported an invocation error (`/invocation/{id}/error`).
    FunctionError {
        /// The request id of the failed invocation.
        request_id: String,
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        error_type: Option<String>,
        /// The error body.
        error: Box<ErrorDocument>,
    },
    /// The function responded, but not with what was expected (e.g. not JSON).
    InvalidResponse {
        /// The request id.
        request_id: String,
        /// What was wrong.
        message: String,
        /// The body as received.
        body: Bytes,
    },
    /// The invocation could not be queued (e.g. a header value with a newline, or a request
    /// id that is already pending).
    InvalidInvocation(String),
    /// The Runtime API server was shut down before the invocation finished.
    Shutdown,
}

impl HarnessError {
    /// The function's last output lines carried by this error (empty if none).
    pub fn last_lines(&self) -> &[String] {
        match self {
            Self::Timeout { last_lines, .. } | Self::ProcessExited { last_lines, .. } => last_lines,
            _ => &[],
        }
    }

    /// Replaces the carried output lines (for variants that carry them) with `lines`.
    pub(crate) fn with_last_lines(mut self, lines: Vec<String>) -> Self {
        if let Self::Timeout { last_lines, .. } | Self::ProcessExited { last_lines, .. } = &mut self
        {
            *last_lines = lines;
        }
        self
    }
}

fn write_lines(f: &mut fmt::Formatter<'_>, lines: &[String]) -> fmt::Result {
    if lines.is_empty() {
        return Ok(());
    }
    f.write_str("; last output lines:")?;
    for line in lines {
        write!(f, "\n  {line}")?;
    }
    Ok(())
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { what, last_lines } => {
                write!(f, "timed out waiting for {what}")?;
                write_lines(f, last_lines)
            }
            Self::ProcessExited { status, last_lines } => {
                match status {
                    Some(status) => write!(f, "function process exited ({status})")?,
                    None => f.write_str("function process exited (status unknown)")?,
                }
                write_lines(f, last_lines)
            }
            Self::Io(err) => write!(f, "I/O error: {err}"),
            Self::InitError(report) => write!(f, "function init error: {report}"),
            Self::FunctionError {
                request_id,
                error_type,
                error,
            } => {
                write!(f, "invocation {request_id} failed")?;
                if let Some(kind) = error_type {
                    write!(f, " ({kind})")?;
                }
                write!(f, ": {error}")
            }
            Self::InvalidResponse {
                request_id,
                message,
                body,
            } => write!(
                f,
                "invalid response to invocation {request_id}: {message}; body: {}",
                String::from_utf8_lossy(body)
            ),
            Self::InvalidInvocation(message) => write!(f, "invalid invocation: {message}"),
            Self::Shutdown => f.write_str("the Runtime API server was shut down"),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for HarnessError {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_last_lines() {
        let err = HarnessError::Timeout {
            what: "3 EMF lines".into(),
            last_lines: vec!["stderr: boom".into()],
        };
        assert_eq!(
            err.to_string(),
            "timed out waiting for 3 EMF lines; last output lines:\n  stderr: boom"
        );
        let err = err.with_last_lines(vec![]);
        assert!(err.last_lines().is_empty());
        assert_eq!(err.to_string(), "timed out waiting for 3 EMF lines");
        let io = HarnessError::from(io::Error::other("x"));
        assert!(std::error::Error::source(&io).is_some());
    }
}
