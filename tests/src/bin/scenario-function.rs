//! A function behind `PerfLayer` whose event says how the handler ends:
//! `{"action":"ok"}`, `{"action":"error"}` or `{"action":"panic"}`. Each records the metric
//! `Attempts` first, so every ending must still flush it.

use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tower::ServiceBuilder;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Attempts", Unit::Count, 1.0);
    match event.payload["action"].as_str() {
        Some("error") => Err("the scenario asked for an error".into()),
        Some("panic") => panic!("the scenario asked for a panic"),
        _ => Ok(json!({ "done": event.payload["action"] })),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(
        ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service_fn(handler),
    )
    .await
}
