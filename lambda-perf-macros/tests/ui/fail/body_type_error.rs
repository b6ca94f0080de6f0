use lambda_perf_core::instrument_lambda;
use lambda_runtime::LambdaEvent;

#[instrument_lambda]
async fn handler(_event: LambdaEvent<()>) -> Result<u32, String> {
    Ok("not a number")
}

fn main() {}
