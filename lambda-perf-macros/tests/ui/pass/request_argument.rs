use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// The function's own type called `Request` (a request it sends on), before the event.
#[derive(Clone)]
struct Request {
    url: String,
}

#[instrument_lambda]
async fn handler(template: Request, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(serde_json::json!({ "url": template.url, "event": event.payload }))
}

fn main() {
    let template = Request {
        url: "https://example.com".into(),
    };
    let _service = service_fn(move |event| handler(template.clone(), event));
}
