use lambda_perf_core::instrument_lambda;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

// A forgotten `Result`: told so at the return type.
#[instrument_lambda]
async fn handler(event: LambdaEvent<Value>) -> Value {
    event.payload
}

fn main() {}
