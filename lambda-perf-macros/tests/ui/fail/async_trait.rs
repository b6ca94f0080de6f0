use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[async_trait::async_trait]
trait Handle {
    async fn call(&self, event: LambdaEvent<Value>) -> Result<Value, Error>;
}

struct Orders;

// `#[async_trait]` expands first: the method is no `async fn` by the time the macro sees it.
#[async_trait::async_trait]
impl Handle for Orders {
    #[instrument_lambda]
    async fn call(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        Ok(event.payload)
    }
}

fn main() {}
