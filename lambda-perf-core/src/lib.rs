//! In-function performance instrumentation for AWS Lambda.
//!
//! Put `#[instrument_lambda]` on a handler (or wrap any tower service in [`PerfLayer`]) and
//! every invocation tells how it started (cold, warm, restarted, pre-warmed, restored), how
//! long init took, how long the environment sat idle, writes CloudWatch metrics in the Embedded
//! Metric Format and, when sampled, sends X-Ray subsegments: one `write(2)` for an
//! invocation's EMF lines and one `send(2)` for each subsegment, the floor its cost is
//! budgeted against (what it adds beside them is measured in `BENCHMARKS.md`).
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
//!     // Log lines that carry the invocation, and the X-Ray layer (see [`init`]).
//!     lambda_perf_core::init()?;
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
//! - [`init`] / [`InitBuilder`]: one call that installs the `tracing` subscriber — [`logs`],
//!   JSON log lines with Powertools Logger's keys that carry the invocation, and the X-Ray
//!   layer; [`InitBuilder::layer`] composes them into a registry of your own.
//! - [`spawn`](fn@spawn), [`spawn_blocking`], [`InCurrentInvocation`]: work moved off the handler's task
//!   that stays in its invocation (see [The current invocation](#the-current-invocation)).
//! - [`SnapStartHook`]: marks a SnapStart restore (see [Init](#init-as-lambda-means-it)).
//! - `test_util` (feature `test-util`): run a handler in a test and read what it recorded.
//!
//! # The current invocation
//!
//! Every instrumented handler call is one invocation: its start facts, its metric buffer, its
//! trace. Code reaches it through the calls of this crate — [`metrics::add_metric`],
//! [`xray::annotate`], [`xray::Subsegment`], the [`lazy`] clients,
//! [`InvocationFacts::current`] — and the invocation they reach is the one the running code
//! *carries*. The handler's own task carries it from the moment lambda-perf begins the
//! invocation until the handler's future completes (or is dropped). Several invocations at
//! once (Lambda Managed Instances, `run_concurrent`) each carry their own: nothing is shared
//! but the start classifier.
//!
//! | the work | carries the invocation? |
//! |---|---|
//! | code the handler awaits, `join!`, `select!` branches | yes: it runs on the handler's task |
//! | [`spawn(future)`](fn@spawn), a drop-in for `tokio::spawn` | yes |
//! | `tokio::spawn(future.in_current_invocation())`, see [`InCurrentInvocation`] | yes |
//! | `JoinSet::spawn(future.in_current_invocation())` | yes |
//! | [`spawn_blocking(f)`](spawn_blocking), a drop-in for `tokio::task::spawn_blocking` | yes |
//! | a future inside a `tracing` span created in the invocation (with [`xray::XRayLayer`]), whatever its level | yes, while the span is entered; a span no layer lets through (a `debug_span!` with logs at `INFO`) is not made and carries nothing |
//! | `tokio::spawn(future.instrument(tracing::Span::current()))` in the handler (with [`xray::XRayLayer`]) | yes: the handler runs inside its invocation's own span (`lambda_perf` `invocation`, no fields, no subsegment), not in one made before the invocation began, such as `lambda_runtime`'s |
//! | plain `tokio::spawn`, `std::thread::spawn` | no: calls fail with `NoInvocation` |
//!
//! Carried work stands where it was spawned: subsegments it opens nest under the subsegment
//! that was current at the spawn, so concurrent branches become siblings with their own
//! timings. A lazy client first created on carried work is charged to that invocation; one
//! created on work that carries none, after the process began serving, is reported as
//! background work and charged to no invocation.
//!
//! The handler's response does not wait for work it did not await. Once the invocation has
//! ended, its metrics are written and its trace is sent; a call from work that outlived it
//! fails with `InvocationEnded` (the plain forms warn once), and a subsegment still open is
//! closed with the invocation. Nothing is ever filed under a later invocation.
//!
//! An instrumented handler called inside another instrumentation (a [`PerfLayer`] around an
//! `#[instrument_lambda]` handler, a layer applied twice, a test's recorder) records nothing
//! of its own: the outermost records the invocation, once, with its own settings. Options
//! written on such a handler (`#[instrument_lambda(name = ..)]`) are not applied; the first
//! time, one warning says so.
//!
//! # Init, as Lambda means it
//!
//! Lambda's Init Duration runs from the start of the runtime process to the moment the
//! runtime first asks for work (`GET /runtime/invocation/next`). lambda_runtime offers no
//! hook at that moment, so lambda-perf marks the nearest one it sees: the instrumented
//! service being built ([`PerfLayer`] wrapping the handler, or the service cloned for
//! `run_concurrent`'s workers), which `lambda_runtime::run` does immediately before its first
//! request. A pre-warmed environment (provisioned concurrency, Managed Instances) then waits,
//! maybe for minutes, for its first invocation: that wait is a fact of its own,
//! [`InvocationFacts::first_request_wait`] (`first_request_wait_ms`), not init. A handler
//! given to `service_fn` under `#[instrument_lambda]` is not seen before its first call: its
//! init runs to that call, which on demand is the same moment, and its wait is unknown.
//!
//! After a SnapStart restore the process that runs is a clone of the one that was
//! snapshotted. The restore is marked by [`SnapStartHook`] when registered with the runtime,
//! or else by the first invocation of a `snap-start` process; from then on the environment's
//! age and init run from the restore, and subsegment ids are drawn under a fresh key from the
//! operating system, so that two clones of one snapshot never send the same ids.
//!
//! # The handler subsegment's name
//!
//! One rule for [`PerfLayer`] and [`instrument_lambda`]: the subsegment is
//! `## <handler name>`, where the handler name is
//! [`handler_name`](PerfLayerBuilder::handler_name) (the macro's `name` option), else
//! `LAMBDA_PERF_HANDLER_NAME`, else the Lambda function's name
//! (`POWERTOOLS_METRICS_FUNCTION_NAME`, then `AWS_LAMBDA_FUNCTION_NAME`) if X-Ray accepts it
//! as a name (else a warning), else `handler`.
//! The response and error metadata keys follow it: `"<handler name> response"`.
//!
//! # What is captured
//!
//! Of a sampled invocation, the handler subsegment keeps what the handler returned (nothing
//! for a response that serializes to `null`, such as `()` or `None`, as Powertools skips
//! `None`); nothing else of the handler's data is captured (the event never is). Each part can be turned off
//! for every handler of the process (environment), for one layer (builder) or for one
//! `#[instrument_lambda]` handler (option):
//!
//! | captured | where | default | environment | builder | macro |
//! |---|---|---|---|---|---|
//! | the response | metadata `"<handler> response"` | on | `POWERTOOLS_TRACER_CAPTURE_RESPONSE=false` | [`capture_response(false)`](PerfLayerBuilder::capture_response) | `capture_response = false` |
//! | the error's type and message | metadata `"<handler> error"`, and the message in every exception's cause (handler, nested subsegments, lazy clients, the timeout) | on | `POWERTOOLS_TRACER_CAPTURE_ERROR=false`: types only, no message anywhere | [`capture_error(false)`](PerfLayerBuilder::capture_error) | `capture_error = false` |
//! | both, through your hook | masks fields or keeps a capture out | none | — | [`redact(f)`](PerfLayerBuilder::redact) | `redact = f` |
//! | their size | larger ones become a `lambda_perf_truncated` marker with a preview | 16384 bytes | `LAMBDA_PERF_CAPTURE_LIMIT` | [`capture_limit`](PerfLayerBuilder::capture_limit) | — |
//!
//! All tracing stops with `POWERTOOLS_TRACE_DISABLED=true` (or
//! [`trace_disabled`](PerfLayerBuilder::trace_disabled)).
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
//! | `tracing` | [`init`] and [`logs`]: log lines carrying the invocation; [`xray::XRayLayer`]: `tracing` spans as nested subsegments | yes |
//! | `http` | `PerfLayer` and `#[instrument_lambda]` for `lambda_http::Request` handlers (axum routers, …); the response is captured as its status | no |
//! | `test-util` | `test_util`: a recorder that runs handlers in tests, captured EMF lines, collected subsegments | no |
//! | `opentelemetry` | the same trace as OpenTelemetry spans: `LAMBDA_PERF_TRACES=otlp` (OTLP/HTTP to a collector), `xray-otlp` (OTLP through the X-Ray daemon), any `SpanExporter` ([`TraceBackend`], [`PerfLayerBuilder::traces`]); metrics stay EMF | no |
//!
//! # Failure policy
//!
//! Instrumentation never changes what the handler returns, never panics and never blocks on
//! I/O. Bad input gets a typed error from the `try_` functions and a one-time warning on
//! stderr from the plain ones; a broken environment (read-only temp dir, a failing stdout, an
//! unreachable X-Ray daemon) costs one warning. (A stdout closed before the process started
//! is invisible to Rust's standard library, which discards writes to it.) One wait is
//! bounded rather than none: a line that a non-blocking stdout (or a writer given in code)
//! took part of before it would block waits at most 100 ms for the rest to be taken, so that
//! the output holds no cut line, invalid JSON; lines not begun are lost at once, and counted.
//!
// An item named above that a feature brings links to the feature flags when that feature is
// off, so the docs of every build resolve all their links.
#![cfg_attr(not(feature = "macros"), doc = "[`instrument_lambda`]: #feature-flags")]
#![cfg_attr(
    not(feature = "tracing"),
    doc = "[`init`]: #feature-flags\n\
           [`InitBuilder`]: #feature-flags\n\
           [`InitBuilder::layer`]: #feature-flags\n\
           [`logs`]: #feature-flags\n\
           [`xray::XRayLayer`]: #feature-flags"
)]

/// The README's quick start compiles (and stays in step with the crate).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeQuickStart;

// The layers (ARCHITECTURE.md), from the bottom up: formats, invocation, outputs and config,
// setup, the facades (metrics, xray, lazy, spawn), the faces (layer, snapstart, __private,
// test_util). Each imports only from its own layer and those below (tests/layering.rs).
pub mod config;
mod drops;
mod first_and_latest;
mod formats;
mod invocation;
mod kept;
pub mod layer;
#[cfg(all(test, feature = "test-util"))]
mod layer_tests;
pub mod lazy;
#[cfg(feature = "tracing")]
pub mod logs;
pub mod metrics;
mod outputs;
mod setup;
mod snapstart;
mod spawn;
#[cfg(feature = "tracing")]
mod subscriber;
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
pub use crate::invocation::{Captured, InitializationType, StartKind};
#[doc(inline)]
pub use crate::layer::{
    NoResponseCapture, PerfFuture, PerfLayer, PerfLayerBuilder, PerfRuntimeFuture,
    PerfRuntimeLayer, PerfRuntimeService, PerfService, ResponseCapture, SerializeResponse,
};
pub use crate::snapstart::SnapStartHook;

// Where traces go; with the `opentelemetry` feature, the OpenTelemetry crates it is built
// on, at the versions it uses (a `SpanExporter` given to the builder must be of these).
pub use crate::config::TraceBackend;
pub use crate::formats::faas_trigger::FaasTrigger;
pub use crate::spawn::{InCurrentInvocation, InInvocation, spawn, spawn_blocking};
#[cfg(feature = "opentelemetry")]
pub use opentelemetry;
#[cfg(feature = "opentelemetry")]
pub use opentelemetry_sdk;

// One call that sets up logs and traces (feature `tracing`, on by default).
#[cfg(feature = "tracing")]
pub use crate::subscriber::{InitBuilder, InitError, init};
