//! One call that sets everything up: [`init`] installs the `tracing` subscriber a Lambda
//! function wants — structured log lines carrying the invocation ([`logs`](crate::logs)) and
//! [`XRayLayer`](crate::xray::XRayLayer) for spans — configured by the variables Lambda and
//! Powertools users already set.

mod builder;
mod error;
#[cfg(test)]
mod tests;
mod xray_interest;

pub use self::builder::InitBuilder;
pub use self::error::InitError;

/// Installs lambda-perf's `tracing` subscriber for the process: JSON log lines on stdout with
/// Powertools Logger's keys (see [`logs`](crate::logs)), and the X-Ray layer, so that spans
/// opened in an invocation become its subsegments. That one layer feeds every trace backend:
/// with the `opentelemetry` feature and `LAMBDA_PERF_TRACES=otlp` or `xray-otlp`
/// ([`TraceBackend`](crate::TraceBackend)) the same spans are exported as OpenTelemetry
/// spans, with no other layer to install. Call it first thing in `main`, before the runtime
/// starts; it reads the environment and costs microseconds.
///
/// ```no_run
/// use lambda_perf_core::PerfLayer;
/// use lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
/// use tower::ServiceBuilder;
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     tracing::info!(order = 7, "order placed"); // a line with the invocation's keys
///     Ok(event.payload)
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     lambda_perf_core::init()?;
///     tracing::info!("init done"); // a line without invocation keys
///     lambda_runtime::run(ServiceBuilder::new().layer(PerfLayer::from_env()).service_fn(handler))
///         .await
/// }
/// ```
///
/// [`InitBuilder`] overrides any setting in code. To keep a subscriber of your own (another
/// layer, an exporter), add lambda-perf's layers to it with [`InitBuilder::layer`] instead
/// of calling `init`.
///
/// # With lambda_runtime's own tracing
///
/// `lambda_runtime::tracing::init_default_subscriber()` installs a global subscriber too;
/// call one or the other, not both (there is one global subscriber per process, and the
/// second call gets [`InitError::AlreadySet`]). `init` honours the same
/// `AWS_LAMBDA_LOG_LEVEL`, but not `AWS_LAMBDA_LOG_FORMAT`, which Lambda sets to `Text` on
/// every function left at its default log format: the lines are JSON unless
/// `LAMBDA_PERF_LOG_FORMAT` says `Text` (see [`config`](crate::config)). The runtime's own events and its
/// `Lambda runtime invoke` span are `lambda_runtime`'s, held at `WARN` like every transport
/// crate's; the request id and trace id they carry are on every line as
/// `function_request_id` and `xray_trace_id` anyway, on the runtime's own lines about a
/// handler that failed (the error it logs, `user handler panicked`) too.
///
/// # Errors
///
/// [`InitError::AlreadySet`] if a global subscriber was installed before. The environment's
/// bad values cost a warning each and fall back to their defaults; they are no error.
pub fn init() -> Result<(), InitError> {
    InitBuilder::from_env().init()
}
