//! `#[instrument_lambda]`: instrument an AWS Lambda handler with lambda-perf in one line.
//!
//! Use it through `lambda_perf_core::instrument_lambda` (re-exported under the default
//! `macros` feature); the expansion calls only `lambda_perf_core`'s hidden support module, so
//! no other import is needed.
//!
//! ```no_run
//! use lambda_perf_core::instrument_lambda;
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::{Value, json};
//!
//! #[instrument_lambda(service = "orders", namespace = "Shop")]
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(json!({ "received": event.payload }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_runtime::run(service_fn(handler)).await
//! }
//! ```
//!
//! The handler is then instrumented exactly as if it were wrapped in `PerfLayer`: start
//! classification, the `ColdStart` line before the body runs, the `## <fn name>` subsegment
//! with the response or error, the metric flush on success, error and panic.
//!
//! # Options
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `name = "checkout"` | the subsegment is `## checkout`; metadata keys `"checkout response"` | the function's name |
//! | `service = "orders"` | the `service` dimension and `Service` annotation | `POWERTOOLS_SERVICE_NAME` |
//! | `namespace = "Shop"` | the CloudWatch namespace | `POWERTOOLS_METRICS_NAMESPACE` |
//! | `capture_response = false` | no response metadata | `POWERTOOLS_TRACER_CAPTURE_RESPONSE` |
//! | `capture_error = false` | no error metadata (fault and cause stay) | `POWERTOOLS_TRACER_CAPTURE_ERROR` |
//! | `cold_start_metric = false` | no `ColdStart` line | `LAMBDA_PERF_COLD_START_METRIC` |
//!
//! The handler must be an `async fn` with a `LambdaEvent<T>` argument (or a
//! `lambda_http::Request` one, with lambda-perf-core's `http` feature); other arguments, such
//! as shared state borrowed by a closure, are kept as they are.
//!
//! ```compile_fail
//! use lambda_perf_core::instrument_lambda;
//! use lambda_runtime::{Error, LambdaEvent};
//!
//! #[instrument_lambda]
//! fn handler(event: LambdaEvent<()>) -> Result<(), Error> { // error: needs an `async fn`
//!     Ok(())
//! }
//! ```

mod attr;
mod expand;
mod signature;

use proc_macro::TokenStream;

/// Instruments an `async fn` Lambda handler; see the [crate docs](crate).
#[proc_macro_attribute]
pub fn instrument_lambda(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
