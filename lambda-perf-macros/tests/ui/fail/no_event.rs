use lambda_perf_core::instrument_lambda;

#[instrument_lambda]
async fn handler(payload: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(payload)
}

fn main() {}
