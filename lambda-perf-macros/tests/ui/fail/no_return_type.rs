use lambda_perf_core::instrument_lambda;
use lambda_runtime::LambdaEvent;

#[instrument_lambda]
async fn handler(event: LambdaEvent<()>) {
    let _ = event;
}

fn main() {}
