//! `#[instrument_lambda]` above `#[tracing::instrument]`: the span that `tracing` opens runs
//! around the invocation, and `skip(event)` still finds the event argument by its name.
use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};

#[instrument_lambda]
#[tracing::instrument(skip(event), fields(order = %event.payload["order"]))]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "order": event.payload["order"] }))
}

/// A `mut` event argument keeps its name too.
#[instrument_lambda]
#[tracing::instrument(skip(event))]
async fn mutable(mut event: LambdaEvent<Value>) -> Result<Value, Error> {
    event.payload["seen"] = json!(true);
    Ok(event.payload)
}

#[tokio::main]
async fn main() {
    let event = LambdaEvent::new(json!({ "order": 7 }), Context::default());
    assert_eq!(handler(event).await.unwrap(), json!({ "order": 7 }));
    let event = LambdaEvent::new(json!({}), Context::default());
    assert_eq!(mutable(event).await.unwrap(), json!({ "seen": true }));
}
