use lambda_perf_core::instrument_lambda;
use lambda_runtime::LambdaEvent;

// Values lambda-perf-core would refuse at the first invocation, falling back to its defaults:
// refused where they are written.

#[instrument_lambda(namespace = "AWS/Lambda")]
async fn reserved_namespace(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

#[instrument_lambda(namespace = "orders;prod")]
async fn namespace_character(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

#[instrument_lambda(service = "")]
async fn blank_service(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

#[instrument_lambda(service = "commandes-é")]
async fn service_not_ascii(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

#[instrument_lambda(name = "checkout!")]
async fn name_character(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

#[instrument_lambda(name = "   ")]
async fn blank_name(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

// Accepted: a name in other letters than ASCII's, a namespace and a service with spaces.
#[instrument_lambda(name = "commande réglée", service = "orders eu", namespace = "Shop/EU prod")]
async fn accepted(_event: LambdaEvent<()>) -> Result<(), String> {
    Ok(())
}

fn main() {}
