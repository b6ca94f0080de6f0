//! The expansion is clean under the strictest lints users run (clippy in CI checks the
//! pedantic group on this file).

#![deny(warnings, clippy::pedantic)]

use lambda_perf_core::instrument_lambda;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// A plain handler.
///
/// # Errors
/// Never.
#[instrument_lambda]
pub async fn plain(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

/// With every option.
///
/// # Errors
/// When the payload is null.
#[instrument_lambda(
    name = "options",
    service = "orders",
    namespace = "Shop",
    capture_response = true,
    capture_error = true,
    cold_start_metric = true
)]
pub async fn options(event: LambdaEvent<Value>) -> Result<Value, String> {
    if event.payload.is_null() {
        return Err("null".to_owned());
    }
    Ok(event.payload)
}

/// Ends with an explicit `return`.
///
/// # Errors
/// Never.
#[instrument_lambda]
#[allow(clippy::needless_return)]
pub async fn explicit_return(event: LambdaEvent<u8>) -> Result<u8, Error> {
    return Ok(event.payload);
}

/// Ignores its event.
///
/// # Errors
/// Never.
#[instrument_lambda]
pub async fn ignores_the_event(_event: LambdaEvent<Value>) -> Result<(), Error> {
    Ok(())
}

/// Generic, with a where clause and a borrowed argument.
///
/// # Errors
/// Never.
#[instrument_lambda]
pub async fn generic<T>(prefix: &str, event: LambdaEvent<T>) -> Result<String, Error>
where
    T: serde::Serialize + Send,
{
    Ok(format!(
        "{prefix}{}",
        serde_json::to_string(&event.payload)?
    ))
}

/// Under `#[tracing::instrument]`, which names the event argument.
///
/// # Errors
/// Never.
#[instrument_lambda]
#[tracing::instrument(skip(event))]
pub async fn traced(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

/// Above `#[tracing::instrument]`.
///
/// # Errors
/// Never.
#[tracing::instrument(skip(event))]
#[instrument_lambda]
pub async fn traced_outside(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

/// A mutable event, marked explicitly, with lambda-perf-core named by `crate`.
///
/// # Errors
/// Never.
#[instrument_lambda(crate = "::lambda_perf_core")]
pub async fn marked(#[event] mut event: Order) -> Result<Value, Error> {
    event.payload["seen"] = Value::Bool(true);
    Ok(event.payload)
}

/// An event under another name.
pub type Order = LambdaEvent<Value>;

/// An event bound by a pattern.
///
/// # Errors
/// Never.
#[instrument_lambda]
pub async fn destructured(LambdaEvent { payload, .. }: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(payload)
}

/// An error type, for a handler that returns it boxed.
#[derive(Debug)]
pub struct OrderError;

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order error")
    }
}

impl std::error::Error for OrderError {}

/// Returns early with a value that coerces to the declared type, as in a plain `async fn`.
///
/// # Errors
/// When the payload is null.
#[instrument_lambda]
pub async fn early_return_coerced(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload.is_null() {
        return Err(Box::new(OrderError));
    }
    Ok(event.payload)
}

/// The same with an `impl Trait` response.
///
/// # Errors
/// When the payload is null.
#[instrument_lambda]
pub async fn early_return_opaque(
    event: LambdaEvent<Value>,
) -> Result<impl serde::Serialize, Error> {
    if event.payload.is_null() {
        return Err(Box::new(OrderError));
    }
    Ok(event.payload)
}

#[test]
fn instrumented_handlers_compile_without_warnings() {
    let _ = (early_return_coerced, early_return_opaque);
    let _ = (plain, options, explicit_return, ignores_the_event);
    let _ = (traced, traced_outside, marked, destructured);
    let _ = generic::<u8>;
}

/// A `lambda_http` handler whose response is a body alone, captured as its status.
///
/// # Errors
/// Never.
#[instrument_lambda]
pub async fn http_body(request: lambda_http::Request) -> Result<Value, lambda_http::Error> {
    Ok(Value::String(request.uri().path().to_owned()))
}
