//! `crate = "..."`: lambda-perf-core under another name, here a re-export.
mod observability {
    pub use lambda_perf_core as perf;
}

use lambda_runtime::{Error, LambdaEvent};
use observability::perf::instrument_lambda;

#[instrument_lambda(crate = "crate::observability::perf")]
async fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> {
    Ok(event.payload + 1)
}

#[instrument_lambda(crate = "::lambda_perf_core")]
async fn absolute(event: LambdaEvent<u32>) -> Result<u32, Error> {
    Ok(event.payload)
}

fn main() {
    let _ = (handler, absolute);
}
