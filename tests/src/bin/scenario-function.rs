//! A function behind `PerfLayer` whose event says what the handler does, for the scenarios
//! the examples do not cover. Every event records the metric `Attempts` first, then:
//!
//! - `{"action":"ok"}`: responds `{"done":"ok"}`;
//! - `{"action":"error"}`: returns an error; `{"action":"panic"}`: panics;
//! - `{"action":"many"}`: records 150 metrics, 120 values of one of them, a high-resolution
//!   metric and metadata, so its metrics need several EMF lines;
//! - `"tag":"x"`: adds the dimension `tag=x`; `"sleep_ms":n`: sleeps first.
//!
//! It runs with `run_concurrent`, so `AWS_LAMBDA_MAX_CONCURRENCY` lets invocations overlap.

use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tower::ServiceBuilder;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    metrics::add_metric("Attempts", Unit::Count, 1.0);
    if let Some(tag) = payload["tag"].as_str() {
        metrics::add_dimension("tag", tag.to_owned());
    }
    if let Some(sleep_ms) = payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        metrics::add_metric("Attempts", Unit::Count, 1.0);
    }
    match payload["action"].as_str() {
        Some("error") => Err("the scenario asked for an error".into()),
        Some("panic") => panic!("the scenario asked for a panic"),
        Some("many") => {
            for i in 0..150 {
                metrics::add_metric(format!("Metric{i}"), Unit::Count, 1.0);
            }
            for i in 0..120 {
                metrics::add_metric("Metric0", Unit::Count, f64::from(i));
            }
            metrics::add_high_resolution_metric("Latency", Unit::Milliseconds, 1.5);
            metrics::add_metadata("detail", json!({ "nested": [1, 2, 3] }));
            Ok(json!({ "done": "many" }))
        }
        _ => Ok(json!({ "done": payload["action"] })),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run_concurrent(
        ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service_fn(handler),
    )
    .await
}
