//! In-function performance instrumentation for AWS Lambda.
//!
//! Put `#[instrument_lambda]` on a handler (or wrap any tower service in [`PerfLayer`]) and
//! every invocation tells how it started (cold, warm, restarted, pre-warmed, restored), how
//! long init took, how long the environment sat idle, writes CloudWatch metrics in the Embedded
//! Metric Format and, when sampled, sends X-Ray subsegments — at the cost of one `write(2)`
//! and one `send(2)`.
//!
//! ```no_run
//! use lambda_perf_core::instrument_lambda;
//! use lambda_perf_core::metrics::{self, Unit};
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::{Value, json};
//!
//! #[instrument_lambda]
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     metrics::add_metric("OrdersPlaced", Unit::Count, 1.0);
//!     metrics::add_dimension("channel", "web");
//!     Ok(json!({ "received": event.payload }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_runtime::run(service_fn(handler)).await
//! }
//! ```
//!
//! With `POWERTOOLS_SERVICE_NAME=orders` and `POWERTOOLS_METRICS_NAMESPACE=Shop`, the first
//! invocation of a new execution environment writes two lines on stdout (wrapped here):
//!
//! ```text
//! {"_aws":{"Timestamp":1795410771965,"CloudWatchMetrics":[{"Namespace":"Shop",
//!   "Dimensions":[["function_name","service"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"},
//!   {"Name":"InitDuration","Unit":"Milliseconds"}]}]},"function_name":"orders-fn",
//!  "service":"orders","lambda_perf":{"start_kind":"cold","invocation":1,...},
//!  "ColdStart":[1.0],"InitDuration":[18.204]}
//! {"_aws":{"Timestamp":1795410771966,"CloudWatchMetrics":[{"Namespace":"Shop",
//!   "Dimensions":[["service","channel"]],"Metrics":[{"Name":"OrdersPlaced","Unit":"Count"}]}]},
//!  "service":"orders","channel":"web","lambda_perf":{"start_kind":"cold",...,
//!  "duration_ms":0.031,"deadline_headroom_ms":2998.1,"outcome":"success"},"OrdersPlaced":[1.0]}
//! ```
//!
//! # What is where
//!
//! - [`instrument_lambda`]: the attribute macro for `async fn` handlers, with its options.
//! - [`PerfLayer`] / [`PerfService`]: the tower middleware; [`PerfLayerBuilder`] overrides any
//!   setting of [`config`].
//! - [`StartKind`] and [`InvocationFacts`]: how the invocation started, its index in the
//!   process, the idle gap before it, the environment's age, the init duration, the deadline.
//! - [`metrics`]: CloudWatch EMF metrics, dimensions and metadata, validated to CloudWatch's
//!   limits.
//! - [`lazy`]: timed lazy clients and caches — what init code and lazily created clients cost.
//! - [`xray`]: the `## <handler name>` subsegment of sampled invocations, annotations,
//!   metadata, nested subsegments, errors, and [`xray::XRayLayer`] for `tracing` spans.
//!
//! # The handler subsegment's name
//!
//! One rule for [`PerfLayer`] and [`instrument_lambda`]: the subsegment is
//! `## <handler name>`, where the handler name is
//! [`handler_name`](PerfLayerBuilder::handler_name) (the macro's `name` option), else
//! `LAMBDA_PERF_HANDLER_NAME`, else the Lambda function's name
//! (`POWERTOOLS_METRICS_FUNCTION_NAME`, then `AWS_LAMBDA_FUNCTION_NAME`), else `handler`.
//! The response and error metadata keys follow it: `"<handler name> response"`.
//!
//! # Running locally
//!
//! `lambda-perf run -- target/debug/my-function` (crate `lambda-perf-local`) runs the
//! function under an embedded Runtime API and X-Ray daemon stand-in, as Lambda would, and
//! reports every invocation's start kind, durations, subsegments and metrics.
//!
//! Under `cargo lambda watch` the function runs as on Lambda, with two differences to know:
//! the emulator sends the deadline `600000` (not a time), so there is no
//! `deadline_headroom_ms` and [`InvocationFacts::remaining_time`] is `None`; and there is no
//! X-Ray daemon, so the first sampled invocation warns that it could not send a subsegment
//! (set `POWERTOOLS_TRACE_DISABLED=true` to turn tracing off locally).
//!
//! # Feature flags
//!
//! | feature | what | default |
//! |---|---|---|
//! | `macros` | `#[instrument_lambda]` | yes |
//! | `tracing` | [`xray::XRayLayer`]: `tracing` spans as nested subsegments | yes |
//! | `http` | `PerfLayer` and `#[instrument_lambda]` for `lambda_http::Request` handlers (axum routers, …); the response is captured as its status | no |
//!
//! # Failure policy
//!
//! Instrumentation never changes what the handler returns, never panics and never blocks on
//! I/O. Bad input gets a typed error from the `try_` functions and a one-time warning on
//! stderr from the plain ones; a broken environment (read-only temp dir, a failing stdout, an
//! unreachable X-Ray daemon) costs one warning. (A stdout closed before the process started
//! is invisible to Rust's standard library, which discards writes to it.)

/// The README's quick start compiles (and stays in step with the crate).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeQuickStart;

// The layers, from the bottom up; each imports only those below it (a test checks).
pub mod config;
mod formats;
mod invocation;
pub mod layer;
pub mod lazy;
pub mod metrics;
mod outputs;
mod setup;
mod snapstart;
mod spawn;
#[cfg(feature = "test-util")]
pub mod test_util;
mod warn;
pub mod xray;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

// The macro's own docs (options, naming rule, event argument) are inlined here.
#[cfg(feature = "macros")]
#[doc(inline)]
pub use lambda_perf_macros::instrument_lambda;

#[doc(inline)]
pub use crate::config::ConfigError;
pub use crate::invocation::facts::InvocationFacts;
pub use crate::invocation::{InitializationType, StartKind};
#[doc(inline)]
pub use crate::layer::{
    NoResponseCapture, PerfFuture, PerfLayer, PerfLayerBuilder, PerfService, ResponseCapture,
    SerializeResponse,
};
pub use crate::snapstart::SnapStartHook;
pub use crate::spawn::{InCurrentInvocation, InInvocation, spawn, spawn_blocking};
