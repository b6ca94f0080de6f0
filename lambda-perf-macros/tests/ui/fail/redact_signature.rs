use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};

fn not_a_redaction(value: String) -> String {
    value
}

#[instrument_lambda(redact = not_a_redaction)]
async fn handler(_event: LambdaEvent<()>) -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = handler;
}
