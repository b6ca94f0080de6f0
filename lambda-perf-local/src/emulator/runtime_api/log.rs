//! What the Runtime API logged: every invocation it queued ([`LoggedInvocation`], at its
//! [`Stage`]), every init error ([`LoggedInitError`]) and everything that happened, in order
//! ([`ApiEvent`]).

use std::time::Instant;

use bytes::Bytes;

use crate::emulator::answer_summary::AnswerSummary;
use crate::emulator::error_document::ErrorDocument;

/// Where a logged invocation is in its life cycle.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Stage {
    /// Waiting for a `/next` call.
    Queued,
    /// Handed out by `/next`, waiting for `/response` or `/error`.
    InFlight,
    /// Finished with this answer: a response's length, not its body, which went to the
    /// caller of [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke) alone.
    Resolved(AnswerSummary),
    /// [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke) gave up waiting.
    TimedOut,
    /// The caller of `invoke` went away (its future was dropped) before the answer.
    Abandoned,
    /// The server was shut down before the answer.
    Shutdown,
}

/// One invocation as the Runtime API logged it (see
/// [`RuntimeApi::invocations`](crate::emulator::RuntimeApi::invocations)): what was sent, when,
/// and where it is now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoggedInvocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Trace-Id`, if sent.
    pub trace_header: Option<String>,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline_ms: u64,
    /// The event body.
    pub event: Bytes,
    /// When it was queued.
    pub queued_at: Instant,
    /// When `/next` handed it out.
    pub handed_out_at: Option<Instant>,
    /// When it left the queue or flight for good (resolved, timed out, abandoned).
    pub finished_at: Option<Instant>,
    /// When the runtime that answered it next asked for work (`GET /next`): where Lambda
    /// ends the invocation (its `Duration`, what it bills), after what the runtime does
    /// between its answer and that request, such as writing its telemetry. `None` until
    /// then, and for an invocation not answered.
    pub released_at: Option<Instant>,
    /// Where it is now.
    pub stage: Stage,
}

/// An init error as the Runtime API logged it: posted to `/runtime/init/error`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoggedInitError {
    /// When it was received.
    pub received_at: Instant,
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub error_type: Option<String>,
    /// The error body.
    pub error: ErrorDocument,
}

/// One thing that happened on the Runtime API.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiEvent {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: ApiEventKind,
}

/// What happened, for [`ApiEvent`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApiEventKind {
    /// An invocation was queued.
    Queued {
        /// Its request id.
        request_id: String,
    },
    /// `/next` handed an invocation out.
    HandedOut {
        /// Its request id.
        request_id: String,
    },
    /// `/response` resolved an invocation.
    Response {
        /// Its request id.
        request_id: String,
        /// The response body length.
        bytes: usize,
    },
    /// `/error` resolved an invocation.
    Error {
        /// Its request id.
        request_id: String,
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        error_type: Option<String>,
    },
    /// `/init/error` was posted.
    InitError {
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        error_type: Option<String>,
        /// How many pending invocations it failed.
        failed_invocations: usize,
    },
    /// `invoke` stopped waiting for an invocation.
    TimedOut {
        /// Its request id.
        request_id: String,
    },
    /// The caller of `invoke` went away before the answer.
    Abandoned {
        /// Its request id.
        request_id: String,
    },
    /// A request was answered with an error status.
    Rejected {
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// The status returned.
        status: u16,
        /// Why.
        reason: String,
    },
}
