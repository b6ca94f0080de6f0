use lambda_perf_core::{Captured, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

trait Policy {
    fn redact(captured: Captured, value: Value) -> Option<Value>;
}

fn mask<T>(_: Captured, value: Value) -> Option<Value> {
    Some(value)
}

#[instrument_lambda(redact = P::redact)]
async fn by_policy<P: Policy>(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[instrument_lambda(redact = mask::<T>)]
async fn by_type<T>(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

fn main() {}
