use lambda_perf_core::instrument_lambda;
use lambda_runtime::LambdaEvent;

type Result<T> = std::result::Result<T, lambda_runtime::Error>;

#[derive(Debug)]
struct OrderError;

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order error")
    }
}

impl std::error::Error for OrderError {}

#[instrument_lambda]
async fn handler(event: LambdaEvent<u32>) -> Result<u32> {
    if event.payload == 0 {
        return Err(OrderError.into());
    }
    let doubled: u32 = "2".parse::<u32>()? * event.payload;
    Ok(doubled)
}

#[instrument_lambda]
async fn custom_error(LambdaEvent { payload, .. }: LambdaEvent<u32>) -> std::result::Result<u32, String> {
    Ok(payload)
}

fn main() {
    let _ = handler;
    let _ = custom_error;
}
