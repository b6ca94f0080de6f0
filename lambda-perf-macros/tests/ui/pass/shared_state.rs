use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

struct AppState {
    greeting: String,
}

#[instrument_lambda]
async fn handler(state: &AppState, event: LambdaEvent<Value>) -> Result<String, Error> {
    Ok(format!("{} {}", state.greeting, event.payload))
}

struct Api;

impl Api {
    #[instrument_lambda(name = "method")]
    async fn handle(&self, mut event: LambdaEvent<Value>) -> Result<Value, Error> {
        event.payload["seen"] = true.into();
        Ok(event.payload)
    }
}

fn main() {
    let state = AppState {
        greeting: "hello".into(),
    };
    let state = &state;
    let _service = service_fn(move |event| handler(state, event));
    let _ = Api.handle(LambdaEvent::new(Value::Null, Default::default()));
}
