use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// Doc comments and attributes stay on the function.
#[instrument_lambda]
#[allow(clippy::unused_async)]
pub async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

fn main() {
    let _service = service_fn(handler);
}
