//! What set an invocation off, by the OpenTelemetry FaaS semantic conventions' names: the
//! handler span's `faas.trigger`.

use std::fmt;

/// The handler span's `faas.trigger`: what caused the invocation, among the OpenTelemetry
/// FaaS semantic conventions' well-known values (as `lambda_runtime`'s own
/// `OpenTelemetryFaasTrigger` names them).
///
/// Set with `PerfLayerBuilder::faas_trigger` (feature `opentelemetry`, whose spans carry it);
/// unset, it is [`Http`](Self::Http) for a `lambda_http` handler and [`Other`](Self::Other)
/// for any other, whose event lambda-perf does not read.
///
/// ```
/// use lambda_perf_core::FaasTrigger;
///
/// assert_eq!(FaasTrigger::PubSub.as_str(), "pubsub");
/// assert_eq!(FaasTrigger::Timer.to_string(), "timer");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaasTrigger {
    /// A data source operation: an object written to a bucket, a change in a database.
    Datasource,
    /// An inbound HTTP request.
    Http,
    /// A message sent to a messaging system: a queue, a topic, a stream.
    PubSub,
    /// A schedule.
    Timer,
    /// None of the others, or not known.
    Other,
}

impl FaasTrigger {
    /// The value as the handler span carries it: `datasource`, `http`, `pubsub`, `timer` or
    /// `other`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Datasource => "datasource",
            Self::Http => "http",
            Self::PubSub => "pubsub",
            Self::Timer => "timer",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for FaasTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
