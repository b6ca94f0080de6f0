use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[instrument_lambda]
async fn echo<T>(event: LambdaEvent<T>) -> Result<T, Error>
where
    T: DeserializeOwned + Serialize + Send,
{
    Ok(event.payload)
}

#[instrument_lambda]
async fn opaque(event: LambdaEvent<u32>) -> Result<impl Serialize, Error> {
    Ok(vec![event.payload])
}

fn main() {
    let _ = echo::<String>;
    let _ = opaque;
}

/// Neither `Serialize` nor `Debug`: nothing to capture, the error is described by its type.
struct Opaque;

#[instrument_lambda]
async fn unusual_types(_event: LambdaEvent<()>) -> Result<Opaque, Opaque> {
    Ok(Opaque)
}

#[allow(dead_code)]
fn also_compiles() {
    let _ = unusual_types;
}
