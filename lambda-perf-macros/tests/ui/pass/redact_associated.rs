//! A redaction hook named through `Self`, an associated function of the handler's type: the
//! expansion names it where `Self` is in scope.

use lambda_perf_core::{Captured, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

struct Api;

impl Api {
    fn mask(_: Captured, value: Value) -> Option<Value> {
        Some(value)
    }

    #[instrument_lambda(redact = Self::mask)]
    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        Ok(event.payload)
    }
}

fn main() {
    let _ = Api.handle(LambdaEvent::new(Value::Null, Default::default()));
}
