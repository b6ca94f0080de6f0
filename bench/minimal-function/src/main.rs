//! The smallest useful Lambda function: one handler answering `{"ok":true}`. With the feature
//! `perf` it runs behind `PerfLayer` and records one metric and one annotation per invocation;
//! with `otel`, lambda-perf-core is built with its `opentelemetry` feature too. `bench/run`
//! compares the three builds' stripped release size and their init.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    #[cfg(feature = "perf")]
    {
        use lambda_perf_core::metrics::{self, Unit};
        metrics::add_metric("Orders", Unit::Count, 1.0);
        lambda_perf_core::xray::annotate("tier", "gold");
    }
    Ok(json!({ "ok": true }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    #[cfg(not(feature = "perf"))]
    {
        lambda_runtime::run(service_fn(handler)).await
    }
    #[cfg(feature = "perf")]
    {
        let service = tower::ServiceBuilder::new()
            .layer(lambda_perf_core::PerfLayer::from_env())
            .service(service_fn(handler));
        lambda_runtime::run(service).await
    }
}
