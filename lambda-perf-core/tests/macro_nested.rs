//! `#[instrument_lambda]` inside an instrumentation around it (the test recorder, a
//! `PerfLayer`) stands aside entirely: its own configuration, which that invocation does not
//! use, is not read, so it warns about nothing.

#[path = "common/child_process.rs"]
mod child_process;

use lambda_perf_core::instrument_lambda;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[instrument_lambda]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

/// Set in the child process that runs the invocation.
const CHILD: &str = "LAMBDA_PERF_TEST_NESTED_CHILD";

#[test]
fn a_macro_handler_inside_the_recorder_warns_about_no_configuration_of_its_own() {
    if std::env::var_os(CHILD).is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let recorder = Recorder::new();
        let response = runtime
            .block_on(recorder.run(service_fn(handler), event(json!({ "id": 1 }))))
            .unwrap();
        assert_eq!(response, json!({ "id": 1 }));
        assert_eq!(recorder.xray().documents().len(), 1);
        return;
    }
    // The environment a developer's machine has: no Powertools variables. The recorder's
    // namespace and service are given in code.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_macro_handler_inside_the_recorder_warns_about_no_configuration_of_its_own",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env_remove("POWERTOOLS_METRICS_NAMESPACE")
        .env_remove("POWERTOOLS_SERVICE_NAME")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The child ran this test, not none (a renamed test would run nothing and exit 0).
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("lambda-perf: warning"), "{stderr}");
}

#[instrument_lambda(name = "orders", capture_response = false)]
async fn handler_with_options(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

/// Set in the child process that runs the invocations of `handler_with_options`.
const CHILD_WITH_OPTIONS: &str = "LAMBDA_PERF_TEST_NESTED_OPTIONS_CHILD";

/// Options written on a handler that the recorder around it records are not applied (the
/// recorder's settings are): the first time, one warning says so, naming them, rather than
/// leaving them silently unused.
#[test]
fn a_macro_handler_inside_the_recorder_warns_once_that_its_options_are_not_applied() {
    if child_process::is_child(CHILD_WITH_OPTIONS) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let recorder = Recorder::new();
        for id in 0..3 {
            let response = runtime
                .block_on(
                    recorder.run(service_fn(handler_with_options), event(json!({ "id": id }))),
                )
                .unwrap();
            assert_eq!(response, json!({ "id": id }));
        }
        // The recorder's settings: its handler name, the response captured.
        let document = recorder.xray().named("## handler").unwrap();
        assert!(
            document["metadata"]["test"]["handler response"].is_object(),
            "{document}"
        );
        return;
    }
    let (warnings, stderr) = child_process::warnings_of_child(
        "a_macro_handler_inside_the_recorder_warns_once_that_its_options_are_not_applied",
        CHILD_WITH_OPTIONS,
        "not applied",
    );
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("(name, capture_response)"),
        "{}",
        warnings[0]
    );
}
