use std::future::Future;
use std::pin::Pin;

use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

// A plain `fn` that returns a boxed future, written by hand: told to write `async fn`, not
// that `#[async_trait]` made it.
#[instrument_lambda]
fn handler(
    event: LambdaEvent<Value>,
) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>> {
    Box::pin(async move { Ok(event.payload) })
}

fn main() {}
