//! One handler body, instrumented two ways: with `PerfLayer` (`TWIN_MODE=layer`) or with
//! `#[instrument_lambda]` (`TWIN_MODE=macro`). Both must write the same EMF lines and send
//! the same X-Ray documents.
//!
//! The event `{"fail":true}` makes the handler return an error.

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray::{self, Subsegment};
use lambda_perf_core::{PerfLayer, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::ServiceBuilder;

async fn body(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("TwinCalls", Unit::Count, 1.0);
    metrics::add_dimension("channel", "web");
    xray::annotate("customer_tier", "gold");
    let price = Subsegment::new("price").instrument(async { 42 }).await;
    if event.payload["fail"] == true {
        return Err("twin failure".into());
    }
    Ok(json!({ "price": price }))
}

#[instrument_lambda(name = "twin")]
async fn instrumented(event: LambdaEvent<Value>) -> Result<Value, Error> {
    body(event).await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("TWIN_MODE").as_deref() == Ok("macro") {
        lambda_runtime::run(service_fn(instrumented)).await
    } else {
        let layer = PerfLayer::builder().handler_name("twin").build()?;
        lambda_runtime::run(ServiceBuilder::new().layer(layer).service_fn(body)).await
    }
}
