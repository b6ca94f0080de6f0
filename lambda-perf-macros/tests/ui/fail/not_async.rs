use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};

#[instrument_lambda]
fn handler(_event: LambdaEvent<()>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
