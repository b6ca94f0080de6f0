//! `#[instrument_lambda]`: instrument an AWS Lambda handler with lambda-perf in one line.
//!
//! Use it through `lambda_perf_core::instrument_lambda` (re-exported under the default
//! `macros` feature, with these docs); the expansion calls only `lambda_perf_core`'s hidden
//! support module, so no other import is needed. See [`instrument_lambda`] for the options.

mod attr;
mod expand;
mod signature;

use proc_macro::TokenStream;

/// Instruments an `async fn` Lambda handler exactly as `PerfLayer` does: start
/// classification, the `ColdStart` line before the body runs, the handler subsegment with
/// the response or error, the metric flush on success, error and panic.
///
/// ```no_run
/// use lambda_perf_core::instrument_lambda;
/// use lambda_runtime::{Error, LambdaEvent, service_fn};
/// use serde_json::{Value, json};
///
/// #[instrument_lambda(service = "orders", namespace = "Shop")]
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(json!({ "received": event.payload }))
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     lambda_runtime::run(service_fn(handler)).await
/// }
/// ```
///
/// # Options
///
/// | option | meaning | default |
/// |---|---|---|
/// | `name = "checkout"` | the handler subsegment is `## checkout`; metadata keys `"checkout response"` | as `PerfLayer`: see below |
/// | `service = "orders"` | the `service` dimension and `Service` annotation | `POWERTOOLS_SERVICE_NAME` |
/// | `namespace = "Shop"` | the CloudWatch namespace | `POWERTOOLS_METRICS_NAMESPACE` |
/// | `capture_response = false` | no response metadata | `POWERTOOLS_TRACER_CAPTURE_RESPONSE` |
/// | `capture_error = false` | no error metadata, and no error message anywhere: the cause keeps the type only | `POWERTOOLS_TRACER_CAPTURE_ERROR` |
/// | `cold_start_metric = false` | no `ColdStart` line | `LAMBDA_PERF_COLD_START_METRIC` |
/// | `faas_trigger = "pubsub"` | the OpenTelemetry handler spans' `faas.trigger` (feature `opentelemetry`): `datasource`, `http`, `pubsub`, `timer` or `other` | `http` for a `lambda_http::Request` handler, else `other` |
/// | `redact = mask` | `fn mask(Captured, Value) -> Option<Value>` sees the response or error before it is captured: mask fields, or `None` to capture nothing (any path but one through the handler's own generic parameters, which is a compile error: `Self::mask` works; in a generic `impl`, the hook of the first instantiation called serves them all, as the handler's configuration is made once) | none |
/// | `crate = "perf"` | the path of lambda-perf-core, when the dependency is renamed or re-exported | `::lambda_perf_core` |
///
/// # The response
///
/// The response is captured as `PerfLayer` captures it: as JSON when its type is
/// `serde::Serialize` where the handler is written, as its status for a `lambda_http`
/// handler. Any other response — a stream, or in a generic handler a type parameter without a
/// `Serialize` bound (`async fn echo<T: Serialize>` is captured, `async fn echo<T>` is not) —
/// is left out of the trace with one warning; `capture_response = false` says that is meant.
///
/// # The handler subsegment's name
///
/// One rule for the macro and `PerfLayer`: the subsegment is `## <handler name>`, where the
/// handler name is the `name` option (`PerfLayerBuilder::handler_name` for the layer), else
/// `LAMBDA_PERF_HANDLER_NAME`, else the Lambda function's name
/// (`POWERTOOLS_METRICS_FUNCTION_NAME`, then `AWS_LAMBDA_FUNCTION_NAME`) if X-Ray accepts it as
/// a name, else `handler`. The Rust function's name plays no part: a function `orders-fn`
/// whose handler is `async fn handler` sends `## orders-fn`, with either face.
///
/// # The event argument
///
/// The handler is an `async fn` with one Lambda event argument: the one whose type is
/// spelled `LambdaEvent<T>` (or `Request`, for `lambda_http::Request` with lambda-perf-core's
/// `http` feature), or, whatever its type is called (an alias, a re-export under another
/// name), the one marked `#[event]`. A `LambdaEvent<T>` is taken before a `Request`, so an
/// argument of another type called `Request` (one of the function's own) is not taken for the
/// event. Other arguments, such as shared state borrowed by a closure, are kept as they are.
///
/// ```no_run
/// use lambda_perf_core::instrument_lambda;
/// use lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
///
/// type OrderEvent = LambdaEvent<Value>;
///
/// #[instrument_lambda]
/// async fn handler(table: &str, #[event] order: OrderEvent) -> Result<Value, Error> {
///     Ok(serde_json::json!({ "table": table, "order": order.payload }))
/// }
/// ```
///
/// # With `#[tracing::instrument]`
///
/// The event argument keeps its name, so `#[tracing::instrument(skip(event))]` stacks in
/// either order. Written above `#[instrument_lambda]`, the span is opened inside the
/// invocation: with `lambda_perf_core::xray::XRayLayer` installed it is a subsegment nested
/// in the handler's. Written below it, the span encloses the whole invocation. An event
/// taken apart by a pattern (`LambdaEvent { payload, context }: LambdaEvent<T>`) is the
/// exception: the expansion binds it to a name of its own, so `#[tracing::instrument]`
/// written below sees that name, not the pattern's (write it above, or bind the event whole).
///
/// ```no_run
/// use lambda_perf_core::instrument_lambda;
/// use lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
///
/// #[tracing::instrument(skip(event), fields(order = %event.payload["id"]))]
/// #[instrument_lambda]
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(event.payload)
/// }
/// ```
///
/// # Errors at compile time
///
/// A handler that is not an `async fn`, returns nothing or something other than a `Result`
/// (an alias of one, such as `anyhow::Result<T>`, is one), has no event argument, or has an
/// unknown or repeated option is a compile error that says so. So is a `name`, `service` or
/// `namespace` that would be refused at the first invocation (a namespace CloudWatch refuses,
/// `AWS/...` included; a service that is no printable ASCII; a name with a character X-Ray
/// refuses), rather than a warning then and the default in its place. So is a method of an
/// `#[async_trait]` impl, which that attribute has made a plain `fn` by the time this one sees
/// it: a trait's native `async fn` is instrumented, as is an inherent `async fn` the method
/// calls.
///
/// ```compile_fail
/// use lambda_perf_core::instrument_lambda;
/// use lambda_runtime::{Error, LambdaEvent};
///
/// #[instrument_lambda]
/// fn handler(event: LambdaEvent<()>) -> Result<(), Error> { // error: needs an `async fn`
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn instrument_lambda(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
