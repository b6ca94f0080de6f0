use lambda_perf_core::{Captured, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

fn mask(captured: Captured, mut value: Value) -> Option<Value> {
    if captured == Captured::Response {
        value["card"] = "****".into();
    }
    Some(value)
}

mod policies {
    pub fn nothing(_: lambda_perf_core::Captured, _: serde_json::Value) -> Option<serde_json::Value> {
        None
    }
}

#[instrument_lambda(redact = mask)]
async fn masked(_event: LambdaEvent<()>) -> Result<Value, Error> {
    Ok(serde_json::json!({ "card": "4111" }))
}

#[instrument_lambda(redact = policies::nothing, capture_error = false)]
async fn silent(_event: LambdaEvent<()>) -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = (masked, silent);
}
