//! `#[tracing::instrument]` above `#[instrument_lambda]`: the invocation runs around the
//! span (which becomes a nested subsegment under `XRayLayer`), and `skip(event)` still finds
//! the event argument by its name.
use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};

#[tracing::instrument(skip(event))]
#[instrument_lambda]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "order": event.payload["order"] }))
}

#[tokio::main]
async fn main() {
    let event = LambdaEvent::new(json!({ "order": 7 }), Context::default());
    assert_eq!(handler(event).await.unwrap(), json!({ "order": 7 }));
}
