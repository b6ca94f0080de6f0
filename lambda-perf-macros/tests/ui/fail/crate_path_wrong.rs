use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};

// The expansion calls what `crate` names: a wrong path is an error there.
#[instrument_lambda(crate = "not_lambda_perf")]
async fn handler(_event: LambdaEvent<()>) -> Result<(), Error> {
    Ok(())
}

#[instrument_lambda(crate = "not a path")]
async fn unparsable(_event: LambdaEvent<()>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
