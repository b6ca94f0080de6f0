//! [`InvokeRequest`]: what you send, one event for the function with the headers `/next` will
//! hand it.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::emulator::ids::{epoch_millis, epoch_millis_after, new_request_id};
use crate::emulator::trace_header::TraceHeader;

/// How long a function gets by default: `Lambda-Runtime-Deadline-Ms` is now + 30 s.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(30);

/// When the invocation times out, as sent in `Lambda-Runtime-Deadline-Ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// This long after the invocation is queued by [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke).
    In(Duration),
    /// An absolute instant.
    At(SystemTime),
    /// A raw `Lambda-Runtime-Deadline-Ms` value sent as is (e.g. `600000`).
    RawMillis(u64),
    /// This long after `/next` hands the invocation out, as Lambda counts a function's
    /// timeout: from the start of the invocation, so that neither a cold start's init nor a
    /// wait in the queue eats into it. [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke)
    /// waits at least until that deadline (plus the grace period) once it is handed out, and
    /// until the deadline counted from queueing (plus the grace period) for the hand-out,
    /// except while the attached process is still in its init (it has been handed nothing
    /// yet): that wait has no limit of its own, so race it against the init's (as
    /// `lambda-perf run` does with its init timeout).
    AfterHandOut(Duration),
}

impl Default for Deadline {
    fn default() -> Self {
        Self::In(DEFAULT_FUNCTION_TIMEOUT)
    }
}

impl Deadline {
    /// The `Lambda-Runtime-Deadline-Ms` value for an invocation queued at `queued_at`;
    /// `u64::MAX` for one too far to be a time (`Duration::MAX`).
    pub fn to_epoch_millis(self, queued_at: SystemTime) -> u64 {
        match self {
            // Until it is handed out, counted from queueing.
            Self::In(after) | Self::AfterHandOut(after) => epoch_millis_after(queued_at, after),
            Self::At(at) => epoch_millis(at),
            Self::RawMillis(ms) => ms,
        }
    }
}

/// The `Lambda-Runtime-Trace-Id` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceSetting {
    /// Generate a fresh, well-formed header per invocation with this sampling decision.
    Generate {
        /// Whether to send `Sampled=1` (otherwise `Sampled=0`).
        sampled: bool,
    },
    /// Send this exact string.
    Raw(String),
    /// Send no trace header at all.
    Omit,
}

impl Default for TraceSetting {
    fn default() -> Self {
        Self::Generate { sampled: true }
    }
}

/// What you send: one invocation to queue on a [`RuntimeApi`](crate::emulator::RuntimeApi), built
/// builder-style.
///
/// Every field has a Lambda-like default: a fresh UUID-v4-shaped request id, a deadline 30 s
/// after queueing, a fresh sampled trace header, and the ARN of the function the API's process
/// was spawned with.
///
/// ```
/// use lambda_perf_local::emulator::InvokeRequest;
/// use std::time::Duration;
///
/// let invocation = InvokeRequest::json(serde_json::json!({"name": "world"}))
///     .with_request_id("req-1")
///     .with_deadline_in(Duration::from_secs(3))
///     .with_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
/// assert_eq!(invocation.request_id(), Some("req-1"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    event: Bytes,
    request_id: Option<String>,
    deadline: Deadline,
    trace: TraceSetting,
    function_arn: Option<String>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
    timeout: Option<Duration>,
}

impl InvokeRequest {
    /// An invocation whose event body is exactly `event`.
    pub fn new(event: impl Into<Bytes>) -> Self {
        Self {
            event: event.into(),
            ..Self::default()
        }
    }

    /// An invocation whose event body is `event` serialized as compact JSON.
    pub fn json(event: serde_json::Value) -> Self {
        Self::new(event.to_string())
    }

    /// An invocation whose event body is `event` serialized with serde.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(
        event: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::new(serde_json::to_vec(event)?))
    }

    /// Sets the request id (`Lambda-Runtime-Aws-Request-Id`).
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the deadline to `after` past the moment the invocation is queued (past what a
    /// time holds, such as `Duration::MAX`, it is sent as `u64::MAX`).
    pub fn with_deadline_in(self, after: Duration) -> Self {
        self.with_deadline(Deadline::In(after))
    }

    /// Sets the deadline to `after` past the moment `/next` hands the invocation out, as
    /// Lambda counts a function's timeout (see [`Deadline::AfterHandOut`]).
    pub fn with_deadline_after_hand_out(self, after: Duration) -> Self {
        self.with_deadline(Deadline::AfterHandOut(after))
    }

    /// Sends this raw `Lambda-Runtime-Deadline-Ms` value unchanged.
    pub fn with_deadline_ms(self, millis: u64) -> Self {
        self.with_deadline(Deadline::RawMillis(millis))
    }

    /// Sends this exact `Lambda-Runtime-Trace-Id` value.
    pub fn with_trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace = TraceSetting::Raw(header.into());
        self
    }

    /// Sets how the trace header is chosen.
    pub fn with_trace(mut self, trace: TraceSetting) -> Self {
        self.trace = trace;
        self
    }

    /// Generates a fresh trace header with `Sampled=0`.
    pub fn unsampled(self) -> Self {
        self.with_trace(TraceSetting::Generate { sampled: false })
    }

    /// Sends no `Lambda-Runtime-Trace-Id` header.
    pub fn without_trace_header(self) -> Self {
        self.with_trace(TraceSetting::Omit)
    }

    /// Sets `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn with_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.function_arn = Some(arn.into());
        self
    }

    /// Sets `Lambda-Runtime-Client-Context` (sent only when set; the Rust runtime expects JSON).
    pub fn with_client_context(mut self, client_context: impl Into<String>) -> Self {
        self.client_context = Some(client_context.into());
        self
    }

    /// Sets `Lambda-Runtime-Cognito-Identity` (sent only when set; the Rust runtime expects JSON).
    pub fn with_cognito_identity(mut self, identity: impl Into<String>) -> Self {
        self.cognito_identity = Some(identity.into());
        self
    }

    /// How long [`RuntimeApi::invoke`](crate::emulator::RuntimeApi::invoke) waits for the answer.
    /// Default: until the deadline plus the API's grace period.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The event body.
    pub fn event(&self) -> &Bytes {
        &self.event
    }

    /// The request id, if one was set explicitly.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The deadline setting.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The trace header setting.
    pub fn trace(&self) -> &TraceSetting {
        &self.trace
    }

    /// The function ARN, if one was set explicitly.
    pub fn function_arn(&self) -> Option<&str> {
        self.function_arn.as_deref()
    }

    /// The client context, if set.
    pub fn client_context(&self) -> Option<&str> {
        self.client_context.as_deref()
    }

    /// The Cognito identity, if set.
    pub fn cognito_identity(&self) -> Option<&str> {
        self.cognito_identity.as_deref()
    }

    /// The explicit harness timeout, if set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Fills in every default, as done when the invocation is queued at `queued_at`.
    pub(crate) fn prepare(self, queued_at: SystemTime, default_arn: &str) -> PreparedRequest {
        let trace_header = match self.trace {
            TraceSetting::Generate { sampled } => {
                Some(TraceHeader::generate_at(queued_at, sampled).to_string())
            }
            TraceSetting::Raw(raw) => Some(raw),
            TraceSetting::Omit => None,
        };
        PreparedRequest {
            request_id: self.request_id.unwrap_or_else(new_request_id),
            deadline_ms: self.deadline.to_epoch_millis(queued_at),
            deadline_after_hand_out: match self.deadline {
                Deadline::AfterHandOut(after) => Some(after),
                _ => None,
            },
            trace_header,
            function_arn: self.function_arn.unwrap_or_else(|| default_arn.to_owned()),
            client_context: self.client_context,
            cognito_identity: self.cognito_identity,
            event: self.event,
        }
    }
}

impl From<serde_json::Value> for InvokeRequest {
    fn from(event: serde_json::Value) -> Self {
        Self::json(event)
    }
}

/// An invocation with every default resolved: exactly what `/next` sends.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    pub(crate) request_id: String,
    pub(crate) deadline_ms: u64,
    /// Set the deadline this long after the hand-out, when `/next` hands it out.
    pub(crate) deadline_after_hand_out: Option<Duration>,
    pub(crate) trace_header: Option<String>,
    pub(crate) function_arn: String,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    pub(crate) event: Bytes,
}

impl PreparedRequest {
    /// The Lambda headers `/next` sends for this invocation, in order (lowercase names).
    pub(crate) fn header_pairs(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("lambda-runtime-aws-request-id", self.request_id.clone()),
            ("lambda-runtime-deadline-ms", self.deadline_ms.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                self.function_arn.clone(),
            ),
        ];
        if let Some(trace) = &self.trace_header {
            headers.push(("lambda-runtime-trace-id", trace.clone()));
        }
        if let Some(context) = &self.client_context {
            headers.push(("lambda-runtime-client-context", context.clone()));
        }
        if let Some(identity) = &self.cognito_identity {
            headers.push(("lambda-runtime-cognito-identity", identity.clone()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn defaults_are_lambda_like() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let prepared = InvokeRequest::new("{}").prepare(now, "arn:x");
        assert_eq!(prepared.request_id.len(), 36);
        assert_eq!(prepared.deadline_ms, 1_700_000_030_000);
        assert_eq!(prepared.function_arn, "arn:x");
        let trace = TraceHeader::parse(prepared.trace_header.as_deref().unwrap_or_default())
            .expect("generated trace header parses");
        assert!(trace.is_well_formed() && trace.sampled);
        assert!(trace.root.starts_with("1-6553f100-"));
        let names: Vec<_> = prepared.header_pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "lambda-runtime-aws-request-id",
                "lambda-runtime-deadline-ms",
                "lambda-runtime-invoked-function-arn",
                "lambda-runtime-trace-id"
            ]
        );
    }

    #[test]
    fn a_deadline_past_what_a_time_holds_is_the_latest_one_sent() {
        let now = SystemTime::now();
        for deadline in [
            Deadline::In(Duration::MAX),
            Deadline::AfterHandOut(Duration::MAX),
        ] {
            assert_eq!(deadline.to_epoch_millis(now), u64::MAX, "{deadline:?}");
        }
    }

    #[test]
    fn overrides_are_sent_verbatim() {
        let prepared = InvokeRequest::json(serde_json::json!({"a": 1}))
            .with_request_id("id-1")
            .with_deadline_ms(600_000)
            .with_trace_header("anything")
            .with_function_arn("arn:y")
            .with_client_context("{}")
            .with_cognito_identity("{\"cognitoIdentityId\":\"x\"}")
            .prepare(SystemTime::now(), "arn:x");
        assert_eq!(prepared.event, Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(prepared.request_id, "id-1");
        assert_eq!(prepared.deadline_ms, 600_000);
        assert_eq!(prepared.trace_header.as_deref(), Some("anything"));
        assert_eq!(prepared.function_arn, "arn:y");
        assert_eq!(prepared.header_pairs().len(), 6);
        let omitted = InvokeRequest::default()
            .without_trace_header()
            .prepare(SystemTime::now(), "arn:x");
        assert_eq!(omitted.trace_header, None);
        let unsampled = InvokeRequest::default()
            .unsampled()
            .prepare(SystemTime::now(), "arn:x");
        assert!(
            unsampled
                .trace_header
                .is_some_and(|t| t.ends_with("Sampled=0"))
        );
    }
}
