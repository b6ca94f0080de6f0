use lambda_perf_core::instrument_lambda;
use lambda_runtime::Error;

type OrderEvent = lambda_runtime::LambdaEvent<serde_json::Value>;

// Two arguments marked.
#[instrument_lambda]
async fn twice(#[event] a: OrderEvent, #[event] b: OrderEvent) -> Result<(), Error> {
    let _ = (a, b);
    Ok(())
}

// The marker takes no arguments.
#[instrument_lambda]
async fn with_arguments(#[event(payload)] a: OrderEvent) -> Result<(), Error> {
    let _ = a;
    Ok(())
}

// A marked argument that is no Lambda event.
#[instrument_lambda]
async fn not_an_event(#[event] a: u32) -> Result<(), Error> {
    let _ = a;
    Ok(())
}

fn main() {}
