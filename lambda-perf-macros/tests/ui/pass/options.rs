use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};

#[instrument_lambda(
    name = "checkout",
    service = "orders",
    namespace = "Shop",
    capture_response = false,
    capture_error = true,
    cold_start_metric = false,
    faas_trigger = "timer",
)]
async fn handler(_event: LambdaEvent<()>) -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = handler;
}
