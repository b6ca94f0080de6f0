//! `#[instrument_lambda(crate = "...")]` in a crate that depends on lambda-perf-core under
//! another name, as a newcomer's crate would (`perf = { package = "lambda-perf-core", … }`):
//! no `lambda_perf_core` is in scope there, so the expansion builds only if every path it
//! writes goes through the option. The handler then runs in a test and records its
//! invocation.

mod support;

use support::standalone::Standalone;

const MANIFEST: &str = r#"
[package]
name = "renamed-dependency"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
perf = { package = "lambda-perf-core", path = "../lambda-perf/lambda-perf-core" }
lambda_runtime = { version = "1.5", default-features = false }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
serde_json = "1"
tracing = { version = "0.1", features = ["attributes"] }

[dev-dependencies]
perf = { package = "lambda-perf-core", path = "../lambda-perf/lambda-perf-core", features = ["test-util"] }
"#;

const MAIN: &str = r#"
use lambda_runtime::{Error, LambdaEvent, service_fn};
use perf::metrics::{self, Unit};
use serde_json::{Value, json};

type OrderEvent = LambdaEvent<Value>;

#[perf::instrument_lambda(crate = "perf", name = "orders")]
#[tracing::instrument(skip(event))]
async fn handler(#[event] event: OrderEvent) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    Ok(json!({ "order": event.payload["order"] }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf::test_util::{Recorder, event};

    #[tokio::test]
    async fn the_handler_records_its_invocation() {
        let recorder = Recorder::new();
        let response = recorder
            .run(service_fn(handler), event(json!({ "order": 7 })))
            .await
            .unwrap();
        assert_eq!(response, json!({ "order": 7 }));
        let lines = recorder.emf().lines();
        assert_eq!(lines.last().unwrap()["Orders"], json!([1.0]));
    }
}
"#;

#[test]
fn the_macro_builds_and_runs_with_lambda_perf_core_renamed() {
    let copy = Standalone::new(MANIFEST);
    copy.write("src/main.rs", MAIN);
    let output = copy.cargo(&["test"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("test tests::the_handler_records_its_invocation ... ok"),
        "{stdout}"
    );
}
