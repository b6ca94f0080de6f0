//! One handler body, instrumented two ways: with `PerfLayer` (`TWIN_MODE=layer`) or with
//! `#[instrument_lambda]` (`TWIN_MODE=macro`). Both must write the same EMF lines and send
//! the same X-Ray documents, named by the same rule (neither is given a handler name).
//!
//! `TWIN_MODE=macro-traced` runs the macro under `#[tracing::instrument]` with `XRayLayer`
//! installed: the span is a subsegment between the handler's and `price`.
//!
//! `TWIN_MODE=macro-companion` and `layer-companion` run either face with `PerfRuntimeLayer`
//! around the runtime's whole invocation: the records are written after the response.
//!
//! `TWIN_MODE=macro-unbounded` runs the macro on a generic handler whose response type has no
//! `Serialize` bound: the macro cannot capture its response, and says so.
//!
//! The event `{"fail":true}` makes the handler return an error, `{"panic":true}` panic. Both faces pass what they
//! capture through the same redaction hook, `mask`, which marks a response as masked, and
//! name the same trigger, `pubsub` (the `faas.trigger` of their OpenTelemetry handler spans).

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray::{self, Subsegment, XRayLayer};
use lambda_perf_core::{Captured, FaasTrigger, PerfLayer, PerfRuntimeLayer, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tracing_subscriber::prelude::*;

async fn body(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("TwinCalls", Unit::Count, 1.0);
    metrics::add_dimension("channel", "web");
    xray::annotate("customer_tier", "gold");
    let price = Subsegment::new("price").instrument(async { 42 }).await;
    if event.payload["fail"] == true {
        return Err("twin failure".into());
    }
    if event.payload["panic"] == true {
        panic!("twin panic");
    }
    Ok(json!({ "price": price }))
}

/// The redaction hook of both faces; `TWIN_SLOW_REDACT_MS=n` makes it take n ms more, so
/// that when the records are written shows in the client's latency.
fn mask(captured: Captured, mut value: Value) -> Option<Value> {
    if let Some(ms) = std::env::var("TWIN_SLOW_REDACT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if captured == Captured::Response {
        value["masked"] = true.into();
    }
    Some(value)
}

#[instrument_lambda(redact = mask, faas_trigger = "pubsub")]
async fn instrumented(event: LambdaEvent<Value>) -> Result<Value, Error> {
    body(event).await
}

#[tracing::instrument(skip(event))]
#[instrument_lambda(redact = mask, faas_trigger = "pubsub")]
async fn traced(event: LambdaEvent<Value>) -> Result<Value, Error> {
    body(event).await
}

/// The same body under a generic handler whose response type has no `Serialize` bound where
/// the macro is written (`TWIN_MODE=macro-unbounded`, run as `unbounded::<Value>`).
#[instrument_lambda(redact = mask, faas_trigger = "pubsub")]
async fn unbounded<R: From<Value>>(event: LambdaEvent<Value>) -> Result<R, Error> {
    body(event).await.map(R::from)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    match std::env::var("TWIN_MODE").as_deref() {
        Ok("macro") => lambda_runtime::run(service_fn(instrumented)).await,
        Ok("macro-companion") => {
            Runtime::new(service_fn(instrumented))
                .layer(PerfRuntimeLayer::new())
                .run()
                .await
        }
        Ok("macro-unbounded") => lambda_runtime::run(service_fn(unbounded::<Value>)).await,
        Ok("macro-traced") => {
            tracing_subscriber::registry().with(XRayLayer::new()).init();
            lambda_runtime::run(service_fn(traced)).await
        }
        mode => {
            let layer = PerfLayer::builder()
                .redact(mask)
                .faas_trigger(FaasTrigger::PubSub)
                .build()?;
            let service = ServiceBuilder::new().layer(layer).service_fn(body);
            if mode == Ok("layer-companion") {
                Runtime::new(service)
                    .layer(PerfRuntimeLayer::new())
                    .run()
                    .await
            } else {
                lambda_runtime::run(service).await
            }
        }
    }
}
