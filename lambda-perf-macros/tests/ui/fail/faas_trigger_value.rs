use lambda_perf_core::instrument_lambda;
use lambda_runtime::LambdaEvent;

#[instrument_lambda(faas_trigger = "cron")]
async fn handler(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

fn main() {}
