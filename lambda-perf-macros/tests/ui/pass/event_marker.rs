//! `#[event]` marks the event argument whatever its type is called: an alias, a
//! re-export under another name.
use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Context, Error};
use serde_json::{Value, json};

type OrderEvent = lambda_runtime::LambdaEvent<Value>;

#[instrument_lambda]
async fn handler(#[event] order: OrderEvent) -> Result<Value, Error> {
    Ok(order.payload)
}

/// The marker wins over a type spelled `LambdaEvent`/`Request` elsewhere in the signature.
#[instrument_lambda]
async fn marked_second(
    prefix: &str,
    #[event] order: OrderEvent,
) -> Result<String, Error> {
    Ok(format!("{prefix}{}", order.payload))
}

#[tokio::main]
async fn main() {
    let event = OrderEvent::new(json!({ "order": 7 }), Context::default());
    assert_eq!(handler(event).await.unwrap(), json!({ "order": 7 }));
    let event = OrderEvent::new(json!(1), Context::default());
    assert_eq!(marked_second("n=", event).await.unwrap(), "n=1");
}
